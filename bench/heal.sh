#!/usr/bin/env bash
# Healing benchmark. Starts a manager and four servers, backs up FILES files of FILE_MB
# MiB with R=2, measures a backup of FG_MB MiB on the idle cluster, then kill -9's
# server 1 and measures, in the same run:
#   - the time until every file has its two copies again, beside `cp` + `sync` of the
#     same bytes (the copies server 1 held) on this disk;
#   - the speed of the same backup started right after the kill, while healing runs,
#     beside its speed on the idle cluster.
#
#   bench/heal.sh                          128 files of 16 MiB (about 1 GiB lost)
#   FILES=32 FILE_MB=16 FG_MB=128 bench/heal.sh   a quicker run
FILES=${FILES:-128}
FILE_MB=${FILE_MB:-16}
FG_MB=${FG_MB:-256}
source "$(dirname "$0")/lib.sh"
start_cluster

status_field() { sed -n "s/.*\"$1\" : \\([0-9]*\\).*/\\1/p" <<<"$2" | head -1; }

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

# What server 1 holds is what its death loses; copying those bytes with cp is the yardstick.
lost_bytes=$(find "$WORK/server-1/files" -type f ! -name '*.meta' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
a=$(now)
cp -r "$WORK/server-1/files" "$WORK/cp"
sync
b=$(now)
cp_s=$(secs "$a" "$b")
rm -rf "$WORK/cp"
sync

kill -9 "${server_pids[0]}"
t0=$(now)
( client backup fg2.bin --replicas 2 >/dev/null && now >"$WORK/fg-end" ) &
fg_pid=$!
healed=""
for _ in $(seq 1 1200); do
  st=$(client status --json 2>/dev/null || true)
  if grep -q '"id" : 1,' <<<"$st" && ! tr -d '\n ' <<<"$st" | grep -q '"id":1,"alive":true'; then
    under=$(status_field underReplicated "$st")
    healing=$(status_field healing "$st")
    if [[ "$under" == 0 && "$healing" == 0 ]]; then healed=$(now); break; fi
  fi
  sleep 0.2
done
[[ -n "$healed" ]] || { echo "not healed in time; logs in $WORK/logs" >&2; exit 1; }
heal_s=$(secs "$t0" "$healed")
wait "$fg_pid" || { echo "the backup during healing failed" >&2; exit 1; }
busy_s=$(secs "$t0" "$(cat "$WORK/fg-end")")
mb=$(calc "$lost_bytes / 1000000")
printf 'heal: %.0f MB of lost copies back to R=2 in %.1f s (%.0f MB/s); cp + sync of the same bytes %.1f s; ratio %.2f\n' \
  "$mb" "$heal_s" "$(calc "$mb / $heal_s")" "$cp_s" "$(calc "$cp_s / $heal_s")"
printf 'backup while healing: %d MiB in %.2f s (%.0f MB/s); idle %.2f s (%.0f MB/s); ratio %.2f (target >= 0.5)\n' \
  "$FG_MB" "$busy_s" "$(calc "$FG_MB * 1.048576 / $busy_s")" "$idle_s" "$(calc "$FG_MB * 1.048576 / $idle_s")" \
  "$(calc "$idle_s / $busy_s")"
