#!/usr/bin/env bash
# Speed and memory benchmark. Starts a manager and four servers from target/backup.jar
# (each with its own root under a temporary folder), measures each figure beside this
# machine's own limit in the same run, prints one line per figure, and stops everything.
#
#   bench/run.sh            all figures
#   SIZE_MB=256 bench/run.sh   a smaller large file (default 1024)
#   SKIP_LARGE=1 SKIP_MEMORY=1 SMALL_COUNT=500 bench/run.sh   small files only
#   TLS=1 bench/run.sh      every connection over TLS (throwaway certificates)
SIZE_MB=${SIZE_MB:-1024}
SMALL_COUNT=${SMALL_COUNT:-2000}
BIG_MB=${BIG_MB:-4096}
source "$(dirname "$0")/lib.sh"

[[ "${TLS:-}" == 1 ]] && echo "tls: on (every connection; certificates from bin/tls-certs)"
t0=$(now)
start_cluster
t1=$(now)
printf 'start: manager and 4 servers ready in %.1f s (target <= 15 s)\n' "$(secs "$t0" "$t1")"

# ---- large file: 2 x cp + sync versus a backup with R=2 (all copies forced to disk) ----
if [[ "${SKIP_LARGE:-}" != 1 ]]; then
head -c $((SIZE_MB << 20)) /dev/urandom >"$WORK/client/big.bin"
mkdir -p "$WORK/cp"
sync
a=$(now)
cp "$WORK/client/big.bin" "$WORK/cp/a"
cp "$WORK/client/big.bin" "$WORK/cp/b"
sync
b=$(now)
rm -rf "$WORK/cp"
sync
cp_s=$(secs "$a" "$b")
a=$(now)
client backup big.bin --replicas 2 >/dev/null
b=$(now)
bk_s=$(secs "$a" "$b")
printf 'large backup: %d MiB R=2 in %.2f s (%.0f MB/s); 2 x cp + sync %.2f s; ratio %.2f (target >= 0.8)\n' \
  "$SIZE_MB" "$bk_s" "$(calc "$SIZE_MB * 1.048576 / $bk_s")" "$cp_s" "$(calc "$cp_s / $bk_s")"
# The same file again, untouched: known unchanged from the client's record of its checksum
# (the file is not read), beside reading and hashing it as the client would without one.
a=$(now)
out=$(client backup big.bin --replicas 2)
[[ "$out" == *"unchanged big.bin"* ]] || { echo "big.bin not found unchanged" >&2; exit 1; }
b=$(now)
a2=$(now)
BACKUP_CACHE_DIR=off client backup big.bin --replicas 2 >/dev/null
b2=$(now)
printf 'unchanged large file: backed up again in %.2f s (from its record); %.2f s reading it\n' \
  "$(secs "$a" "$b")" "$(secs "$a2" "$b2")"
# The restore's own limit on this disk: one cp of the file and a sync (a restore, too,
# forces the file to disk before it is in place).
mkdir -p "$WORK/cp"
sync
a=$(now)
cp "$WORK/client/big.bin" "$WORK/cp/a"
sync
b=$(now)
rm -rf "$WORK/cp" "$WORK/client/big.bin"
sync
cp1_s=$(secs "$a" "$b")
a=$(now)
client restore big.bin >/dev/null
b=$(now)
rs_s=$(secs "$a" "$b")
printf 'large restore: %d MiB in %.2f s: %.0f MB/s (target >= 650 MB/s); cp + sync %.2f s (%.0f MB/s), ratio %.2f\n' \
  "$SIZE_MB" "$rs_s" "$(calc "$SIZE_MB * 1.048576 / $rs_s")" "$cp1_s" "$(calc "$SIZE_MB * 1.048576 / $cp1_s")" \
  "$(calc "$cp1_s / $rs_s")"
rm -f "$WORK/client/big.bin"
client delete big.bin >/dev/null
fi

# ---- small files: one backup of a folder of 4 KiB files versus the durable-file limit / R ----
# The disk's limit is probed right before and right after (it drifts on a shared machine)
# and averaged. The backup runs twice, of two folders: first on the cluster as it started
# (its JVMs still compiling), then again on the same, now warm, cluster (servers live long).
for d in small small2; do
  mkdir -p "$WORK/client/$d"
  for i in $(seq 1 "$SMALL_COUNT"); do head -c 4096 /dev/urandom >"$WORK/client/$d/f$i"; done
done
probe() {
  java -cp "$JAR" dev.backup.tools.DurableWriteProbe "$WORK/probe" "$SMALL_COUNT" 4096
  rm -rf "$WORK/probe"
}
small_backup() {
  local a b
  a=$(now)
  client backup "$1" --replicas 2 >/dev/null
  b=$(now)
  calc "$SMALL_COUNT / $(secs "$a" "$b")"
}
limit1=$(probe)
rate=$(small_backup small)
rate2=$(small_backup small2)
limit2=$(probe)
limit=$(calc "($limit1 + $limit2) / 2")
printf 'small files: %d x 4 KiB R=2 at %.0f files/s (fresh cluster), %.0f files/s (warm); durable-file limit %.0f files/s (%.0f before, %.0f after), / R = %.0f; ratio %.2f fresh, %.2f warm (target >= 0.8)\n' \
  "$SMALL_COUNT" "$rate" "$rate2" "$limit" "$limit1" "$limit2" "$(calc "$limit / 2")" "$(calc "$rate / ($limit / 2)")" \
  "$(calc "$rate2 / ($limit / 2)")"
a=$(now)
client backup small small2 --replicas 2 >/dev/null
b=$(now)
a2=$(now)
BACKUP_CACHE_DIR=off client backup small small2 --replicas 2 >/dev/null
b2=$(now)
printf 'unchanged small files: %d backed up again in %.2f s (from their records); %.2f s reading them\n' \
  "$((2 * SMALL_COUNT))" "$(secs "$a" "$b")" "$(secs "$a2" "$b2")"
rm -rf "$WORK/client/small" "$WORK/client/small2"
client delete small small2 >/dev/null

# ---- memory: -Xmx128m servers and client, a BIG_MB file backed up and restored ----
if [[ "${SKIP_MEMORY:-}" != 1 ]]; then
  head -c $((BIG_MB << 20)) /dev/zero >"$WORK/client/huge.bin"
  java -Xmx128m -jar "$JAR" --role=client --manager "127.0.0.1:$PORT" --root "$WORK/client" backup huge.bin >/dev/null &
  cpid=$!
  crss=0
  while kill -0 "$cpid" 2>/dev/null; do r=$(peak_rss_kb "$cpid"); (( r > crss )) && crss=$r; sleep 0.2; done
  wait "$cpid"
  rm "$WORK/client/huge.bin"
  java -Xmx128m -jar "$JAR" --role=client --manager "127.0.0.1:$PORT" --root "$WORK/client" restore huge.bin >/dev/null &
  cpid=$!
  rrss=0
  while kill -0 "$cpid" 2>/dev/null; do r=$(peak_rss_kb "$cpid"); (( r > rrss )) && rrss=$r; sleep 0.2; done
  wait "$cpid"
  cmp -s <(head -c $((BIG_MB << 20)) /dev/zero) "$WORK/client/huge.bin" || { echo "restored file differs" >&2; exit 1; }
  srss=0
  for p in "${server_pids[@]}"; do r=$(peak_rss_kb "$p"); (( r > srss )) && srss=$r; done
  printf 'memory: %d MiB file, -Xmx128m: peak RSS client backup %d MiB, client restore %d MiB, largest server %d MiB\n' \
    "$BIG_MB" $((crss / 1024)) $((rrss / 1024)) $((srss / 1024))
fi
