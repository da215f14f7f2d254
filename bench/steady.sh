#!/usr/bin/env bash
# Small files at steady state: ROUNDS backups (default 10) of COUNT new 4 KiB files
# (default 2000) with R=2, one after another on one cluster, each by a new client; for
# each, the rate and the CPU each element spent a file (ms; /proc for the manager and
# servers, bash's time for the client).
#
#   bench/steady.sh
#   ROUNDS=5 COUNT=500 bench/steady.sh
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-10}
COUNT=${COUNT:-2000}
start_cluster
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
names=(manager s1 s2 s3 s4)
for r in $(seq 1 "$ROUNDS"); do
  mkdir -p "$WORK/client/r$r"
  for i in $(seq 1 "$COUNT"); do head -c 4096 /dev/urandom >"$WORK/client/r$r/f$i"; done
  before=()
  for p in "${pids[@]}"; do before+=("$(ticks "$p")"); done
  a=$(now)
  # (bash's time: the client's user and system CPU, its JVM being the launcher's child)
  TIMEFORMAT='%U %S'
  { time JAVA_OPTS="${JAVA_OPTS:-} -Xmx128m" bin/backup --role=client --manager "127.0.0.1:$PORT" \
      --root "$WORK/client" backup "r$r" --replicas 2 >/dev/null 2>"$WORK/client.err"; } 2>"$WORK/client-cpu"
  b=$(now)
  line=$(printf 'backup %d: %.0f files/s; CPU ms a file:' "$r" "$(calc "$COUNT / ($b - $a)")")
  total=0
  for k in 0 1 2 3 4; do
    ms=$(calc "($(ticks "${pids[$k]}") - ${before[$k]}) * 1000 / $hz / $COUNT")
    total=$(calc "$total + $ms")
    line+=$(printf ' %s %.2f' "${names[$k]}" "$ms")
  done
  client_ms=$(awk -v n="$COUNT" '{print ($1 + $2) * 1000 / n}' "$WORK/client-cpu")
  line+=$(printf ' client %.2f; all %.2f' "$client_ms" "$(calc "$total + $client_ms")")
  echo "$line"
done
