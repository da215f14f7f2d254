# Shared by the benchmark scripts: starts a manager and four servers from
# target/backup.jar (each with its own root under a temporary folder, its own ports and
# its own cluster name) and stops everything on exit. Source it; then call start_cluster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
JAR="$PWD/target/backup.jar"
[[ -f "$JAR" ]] || mvn -B -q package -DskipTests
WORK=$(mktemp -d "${TMPDIR:-/tmp}/backup-bench.XXXXXX")
PORT=$((20000 + RANDOM % 20000))
CPORT=$((PORT + 100))
NAME="bench-$$"
# TLS=1: every connection of every element (and of the client) over TLS, with a
# throwaway CA and certificate made by bin/tls-certs; the elements take them from the
# environment.
if [[ "${TLS:-}" == 1 ]]; then
  bin/tls-certs "$WORK/tls" IP:127.0.0.1 >/dev/null
  export BACKUP_TLS=true BACKUP_TLS_CERT="$WORK/tls/backup.pem" BACKUP_TLS_KEY="$WORK/tls/backup.key" \
    BACKUP_TLS_CA="$WORK/tls/ca.pem"
fi
pids=()
server_pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n "${KEEP_LOGS:-}" ]]; then
    rm -rf "$KEEP_LOGS" && cp -r "$WORK/logs" "$KEEP_LOGS" && echo "logs kept in $KEEP_LOGS" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
secs() { calc "$2 - $1"; }
common=(--cluster-name "$NAME" --cluster-port "$CPORT" --members "127.0.0.1:$CPORT")
# Every element through the launcher users get (bin/backup: a class-data archive per role,
# kept in target/cds, written by the first run of a role and used by the next ones).
export BACKUP_JAR="$JAR" BACKUP_CDS_DIR="$PWD/target/cds"
# (The client's records of its files' checksums go with the rest of the run. A file is
# recorded only if left alone a while before its read, a minute by default; the bench's
# files are made seconds before, so it waits 1 s, as if they had been there for days.)
export BACKUP_CACHE_DIR="$WORK/cache" BACKUP_CACHE_SETTLE_SECONDS=1
# (launch for elements in the background: the subshell execs the launcher, which execs
# java, so $! is the JVM's process id, to stop it and read its memory.)
launch() { JAVA_OPTS="${JAVA_OPTS:-} $1" exec bin/backup "${@:2}"; }
client() { JAVA_OPTS="${JAVA_OPTS:-} -Xmx128m" bin/backup --role=client --manager "127.0.0.1:$PORT" --root "$WORK/client" "$@"; }
peak_rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
alive_servers() { client status --json 2>/dev/null | grep -c '"alive" : true' || true; }

# Starts the manager and servers 1-4 and waits until all four are alive in status.
start_cluster() {
  mkdir -p "$WORK/client" "$WORK/logs"
  (launch -Xmx256m --role=manager "${common[@]}" --port "$PORT" --root "$WORK/manager") \
    >"$WORK/logs/manager.log" 2>&1 &
  pids+=($!)
  for id in 1 2 3 4; do
    (launch -Xmx128m --role=server --id=$id "${common[@]}" --port $((PORT + id)) --root "$WORK/server-$id") \
      >"$WORK/logs/server-$id.log" 2>&1 &
    pids+=($!)
    server_pids+=($!)
  done
  # Ready when the manager has declared all four alive (its log says so the moment its
  # table, which status shows, does); then status confirms it once. Polling status in a
  # loop would start a client JVM every moment and slow the start it measures.
  for _ in $(seq 1 1200); do
    [[ $(grep -cE "manager: server [1-4] is alive" "$WORK/logs/manager.log" 2>/dev/null || true) -ge 4 ]] && break
    sleep 0.05
  done
  [[ $(alive_servers) == 4 ]] && return 0
  echo "cluster did not start; logs in $WORK/logs" >&2
  tail -20 "$WORK"/logs/*.log >&2
  exit 1
}
