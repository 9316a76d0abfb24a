#!/usr/bin/env bash
# bench/replay.sh BIN_DIR [JOBS] — how long a journaled broker takes to come back with JOBS
# (default 1,000,000) queued jobs: 50 `taskmq map` clients submit JOBS/50 jobs each to a
# broker with --journal and no worker (they wait, queued), the broker is killed with SIGKILL,
# the page cache is dropped when this runs as root (a cold start), and a new broker is started
# on the same journal. Prints "replay JOBS jobs MS ms rss KB": from the start of the new
# process to its "journal replayed" line, and its resident memory then. Loopback only; stops
# everything it starts.
set -euo pipefail
BIN=$1
JOBS=${2:-1000000}
. "$(dirname "$0")/../scripts/endpoints.sh"
d=$(mktemp -d)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$d"' EXIT

"$BIN/taskmq-broker" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
    --journal "$d/j" --max-queue $((JOBS + 1000)) 2>"$d/b1.log" &
broker=$!
pids+=("$broker")
tmq_await_endpoints "$d/b1.log" "$broker" || { cat "$d/b1.log"; exit 1; }
fe=$FRONTEND
per=$((JOBS / 50))
for _ in $(seq 1 50); do
    seq 1 "$per" | TASKMQ_BROKER=$fe timeout 300 "$BIN/taskmq" map echo >/dev/null 2>&1 &
    pids+=($!)
done
live=0 last=-1 still=0
for _ in $(seq 1 600); do # at most 60 s; done when the count has not moved for 2 s
    live=$(TASKMQ_BROKER=$fe "$BIN/taskmq" status --json 2>/dev/null | jq -r '.journal.live_jobs // 0')
    [ "$live" -ge $((per * 50)) ] && break
    if [ "$live" = "$last" ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -ge 20 ] && break
    last=$live
    sleep 0.1
done
[ "$live" -ge $((per * 45)) ] || { echo "only $live jobs were journaled" >&2; exit 1; }
kill -KILL "$broker"
wait "$broker" 2>/dev/null || true
if [ "$(id -u)" = 0 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
t0=$(date +%s%N)
"$BIN/taskmq-broker" --frontend "$fe" --backend "$BACKEND" --journal "$d/j" \
    --max-queue $((JOBS + 1000)) 2>"$d/b2.log" &
broker=$!
pids+=("$broker")
for _ in $(seq 1 1200); do # at most 120 s
    grep -q "journal replayed" "$d/b2.log" && break
    sleep 0.01
done
t1=$(date +%s%N)
n=$(sed -n 's/.*journal replayed: \([0-9]*\) jobs.*/\1/p' "$d/b2.log")
[ "${n:-0}" -ge "$live" ] || { cat "$d/b2.log" >&2; exit 1; }
rss=$(ps -o rss= -p "$broker" | tr -d ' ')
echo "replay $n jobs $(((t1 - t0) / 1000000)) ms rss $rss KB"
