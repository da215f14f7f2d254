#!/usr/bin/env bash
# Healing benchmark. Starts a manager and four servers, backs up FILES files of FILE_MB
# MiB with R=2, measures a backup of FG_MB MiB on the idle cluster, then starts the same
# backup again and, as soon as its bytes flow, kill -9's a server outside its chain, and
# measures in the same run:
#   - the time until every file has its two copies again, beside `cp` + `sync` of the
#     same bytes (the copies the killed server held) on this disk;
#   - the speed of that backup, running while healing runs, beside its speed on the idle
#     cluster (both timed from the client's start).
#
#   bench/heal.sh                          128 files of 16 MiB (about 1 GiB lost)
#   FILES=32 FILE_MB=16 FG_MB=128 bench/heal.sh   a quicker run
FILES=${FILES:-128}
FILE_MB=${FILE_MB:-16}
FG_MB=${FG_MB:-256}
source "$(dirname "$0")/lib.sh"
start_cluster

status_field() { sed -n "s/.*\"$1\" : \\([0-9]*\\).*/\\1/p" <<<"$2" | sed -n 1p; }

mkdir -p "$WORK/client/heal"
for i in $(seq 1 "$FILES"); do head -c $((FILE_MB << 20)) /dev/urandom >"$WORK/client/heal/f$i"; done
head -c $((FG_MB << 20)) /dev/urandom >"$WORK/client/fg1.bin"
cp "$WORK/client/fg1.bin" "$WORK/client/fg2.bin"
client backup heal --replicas 2 >/dev/null
sync

a=$(now)
client backup fg1.bin --replicas 2 >/dev/null
b=$(now)
idle_s=$(secs "$a" "$b")

# Back up fg2.bin and, once the manager has placed it (its bytes are flowing), kill -9 a
# server outside its chain: healing then runs beside the backup.
a=$(now)
( client backup fg2.bin --replicas 2 >/dev/null && now >"$WORK/fg-end" ) &
fg_pid=$!
chain=""
for _ in $(seq 1 600); do
  chain=$(sed -n 's/.*placed fg2.bin v1 ([0-9]* bytes) on \[\([0-9, ]*\)\].*/\1/p' "$WORK/logs/manager.log" | sed -n 1p)
  [[ -n "$chain" ]] && break
  sleep 0.05
done
[[ -n "$chain" ]] || { echo "the backup during healing was not placed" >&2; exit 1; }
victim=""
for id in 1 2 3 4; do grep -qw "$id" <<<"$chain" || { victim=$id; break; }; done

# What the victim holds is what its death loses; copying those bytes with cp is the yardstick.
lost_bytes=$(find "$WORK/server-$victim/files" -type f ! -name '*.meta' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
kill -9 "${server_pids[$((victim - 1))]}"
t0=$(now)
healed=""
for _ in $(seq 1 1200); do
  st=$(client status --json 2>/dev/null || true)
  if ! tr -d '\n ' <<<"$st" | grep -q "\"id\":$victim,\"alive\":true" && grep -q '"underReplicated"' <<<"$st"; then
    under=$(status_field underReplicated "$st")
    healing=$(status_field healing "$st")
    if [[ "$under" == 0 && "$healing" == 0 ]]; then healed=$(now); break; fi
  fi
  sleep 0.2
done
[[ -n "$healed" ]] || { echo "not healed in time; logs in $WORK/logs" >&2; exit 1; }
heal_s=$(secs "$t0" "$healed")
wait "$fg_pid" || { echo "the backup during healing failed" >&2; exit 1; }
busy_s=$(secs "$a" "$(cat "$WORK/fg-end")")

a=$(now)
cp -r "$WORK/server-$victim/files" "$WORK/cp"
sync
b=$(now)
cp_s=$(secs "$a" "$b")
rm -rf "$WORK/cp"

mb=$(calc "$lost_bytes / 1000000")
printf 'heal: %.0f MB of lost copies (server %d) back to R=2 in %.1f s (%.0f MB/s); cp + sync of the same bytes %.1f s; ratio %.2f\n' \
  "$mb" "$victim" "$heal_s" "$(calc "$mb / $heal_s")" "$cp_s" "$(calc "$cp_s / $heal_s")"
printf 'backup while healing: %d MiB in %.2f s (%.0f MB/s); idle %.2f s (%.0f MB/s); ratio %.2f (target >= 0.5)\n' \
  "$FG_MB" "$busy_s" "$(calc "$FG_MB * 1.048576 / $busy_s")" "$idle_s" "$(calc "$FG_MB * 1.048576 / $idle_s")" \
  "$(calc "$idle_s / $busy_s")"
