#!/usr/bin/env bash
# A server holding many copies: puts COUNT copies (one byte each) in a new server's root,
# starts a manager and that server with a heap of HEAP, and times the server's start and
# its first inventory, which the manager, whose catalog is empty, adopts whole. Prints
# the time until the catalog lists every copy and the server's peak RSS, or that the
# server ran out of memory.
#
#   bench/copies.sh                          1,000,000 copies, -Xmx128m
#   COUNT=150000 HEAP=40m bench/copies.sh
source "$(dirname "$0")/lib.sh"
COUNT=${COUNT:-1000000}
HEAP=${HEAP:-128m}
mkdir -p "$WORK/client" "$WORK/logs"
java -cp "$JAR" dev.backup.tools.ManyCopies "$WORK/server-1" "$COUNT"
(launch -Xmx3g --role=manager "${common[@]}" --port "$PORT" --root "$WORK/manager") >"$WORK/logs/manager.log" 2>&1 &
pids+=($!)
a=$(now)
(launch "-Xmx$HEAP -XX:+ExitOnOutOfMemoryError" --role=server --id=1 "${common[@]}" --port $((PORT + 1)) \
  --root "$WORK/server-1") >"$WORK/logs/server-1.log" 2>&1 &
server=$!
pids+=($server)
adopted() { grep -o "adopted [0-9]* copies from server 1" "$WORK/logs/manager.log" | awk '{n += $2} END {print n + 0}'; }
while kill -0 "$server" 2>/dev/null && [[ $(adopted) -lt $COUNT ]]; do
  sleep 0.5
done
if ! kill -0 "$server" 2>/dev/null; then
  printf 'many copies: %d copies, server -Xmx%s: the server stopped after %.1f s (%s)\n' "$COUNT" "$HEAP" \
    "$(secs "$a" "$(now)")" "$(grep -m1 -o 'OutOfMemoryError.*' "$WORK/logs/server-1.log" || echo 'see its log')"
  exit 1
fi
b=$(now)
files=$(client status --json | grep -o '"files" : [0-9]*' | sed -n 1p | grep -o '[0-9]*$')
printf 'many copies: %d copies, server -Xmx%s: in the catalog %.1f s after the server started (status: %d files); server peak RSS %d MiB\n' \
  "$COUNT" "$HEAP" "$(secs "$a" "$b")" "$files" "$(( $(peak_rss_kb "$server") / 1024 ))"
