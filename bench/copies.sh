#!/usr/bin/env bash
# A server holding many copies: puts COUNT copies (one byte each) in a new server's root,
# starts a manager and that server with a heap of HEAP, and times the server's start and
# its first inventory, which the manager, whose catalog is empty, adopts whole. Prints
# the time until the manager has adopted every copy (in its catalog in memory) and the
# server's peak RSS, or that the server (or the manager) stopped: out of memory, say.
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
adopted() { grep -oE "adopted [0-9]+ cop(y|ies) from server 1" "$WORK/logs/manager.log" | awk '{n += $2} END {print n + 0}'; }
manager=${pids[0]}
alive=""
while kill -0 "$server" 2>/dev/null && kill -0 "$manager" 2>/dev/null && [[ $(adopted) -lt $COUNT ]]; do
  if [[ -z $alive ]] && grep -q "manager: server 1 is alive" "$WORK/logs/manager.log"; then
    alive=$(secs "$a" "$(now)")
  fi
  if [[ $(secs "$a" "$(now)" | cut -d. -f1) -ge 1800 ]]; then
    echo "many copies: not all adopted within 30 minutes ($(adopted) of $COUNT); logs: KEEP_LOGS=DIR" >&2
    exit 1
  fi
  sleep 0.5
done
for p in "$server" "$manager"; do
  if ! kill -0 "$p" 2>/dev/null; then
    role=server; [[ $p == "$manager" ]] && role=manager
    log=$WORK/logs/$([[ $role == server ]] && echo server-1 || echo manager).log
    printf 'many copies: %d copies, server -Xmx%s: the %s stopped after %.1f s (%s)\n' "$COUNT" "$HEAP" "$role" \
      "$(secs "$a" "$(now)")" "$(grep -m1 -o 'OutOfMemoryError.*' "$log" || echo "see its log")"
    exit 1
  fi
done
b=$(now)
if [[ -z $alive ]] && grep -q "manager: server 1 is alive" "$WORK/logs/manager.log"; then
  alive=$(secs "$a" "$b")
fi
# (The catalog's count is the last "files" of status: each server's own count comes first.)
files=$(client status --json | grep -o '"files" : [0-9]*' | tail -1 | grep -o '[0-9]*$' || echo '?')
printf 'many copies: %d copies, server -Xmx%s: alive %.1f s and all adopted into the catalog %.1f s after the server started (status: %s files); server peak RSS %d MiB\n' \
  "$COUNT" "$HEAP" "${alive:-0}" "$(secs "$a" "$b")" "$files" "$(( $(peak_rss_kb "$server") / 1024 ))"
