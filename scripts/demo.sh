#!/usr/bin/env bash
# scripts/demo.sh — what taskmq is for, in one minute: CPU-bound jobs of very different sizes
# are submitted at once; each result prints the moment it finishes (like asyncio.as_completed),
# then the wall time is set against the same jobs run one after another in one process.
# Starts its own broker and worker on loopback ports and stops them at the end.
#   scripts/demo.sh          the demo with the taskmq tool
#   scripts/demo.sh python   the same idea in Python: ProcessPoolExecutor + run_in_executor +
#                            asyncio.as_completed, then taskmq.Executor (examples/python/demo.py)
#   scripts/demo.sh cluster  (root) a broker host, 3 worker hosts and a client host, each a
#                            network namespace with its own address (deploy/netns-cluster.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TASKMQ_BIN:-$ROOT/build/bin}
MODE=${1:-tool}
if [ "$MODE" = cluster ]; then
    export TASKMQ_BIN=$BIN TASKMQ_NETNS=tmqdemo$$
    exec "$ROOT/deploy/netns-cluster.sh" run 3 1 -- bash -c '
        c() { "$0" exec client "$@"; }
        echo "A broker at $TASKMQ_NETNS_BROKER, worker hosts w1 w2 w3, a client host; from the client:"
        echo "\$ seq 1 12 | sed s/.*/300/ | taskmq map sleep      # 12 jobs of 300 ms"
        seq 1 12 | sed "s/.*/300/" | c taskmq map sleep | jq -c "{index, worker, ms}"
        echo "\$ taskmq status"
        c taskmq status' "$ROOT/deploy/netns-cluster.sh"
fi
PROCS=${DEMO_PROCS:-$(nproc)}
SIZES=(3000000000 100000000 1500000000 1000 500000000 800000000)
d=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$d"
}
trap cleanup EXIT

"$BIN/taskmq-broker" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' 2>"$d/broker.log" &
pids+=($!)
. "$(dirname "$0")/endpoints.sh"
tmq_await_endpoints "$d/broker.log" "${pids[0]}" || { cat "$d/broker.log"; exit 1; }
fe=$FRONTEND be=$BACKEND
if [ "$MODE" = python ]; then
    "$BIN/taskmq-worker" --broker "$be" --procs "$PROCS" --name demo \
        --python "$ROOT/examples/python/accumulate.py" 2>"$d/worker.log" &
    pids+=($!)
    export TASKMQ_BROKER=$fe DEMO_PROCS=$PROCS
    echo "taskmq Python demo: a broker ($fe) and one worker daemon with $PROCS Python executors"
    echo "serving examples/python/accumulate.py on this machine."
    echo
    PYTHONPATH="$ROOT/python:$ROOT/examples/python" /usr/bin/python3 "$ROOT/examples/python/demo.py"
    exit 0
fi
"$BIN/taskmq-worker" --broker "$be" --procs "$PROCS" --name demo 2>"$d/worker.log" &
pids+=($!)
export TASKMQ_BROKER=$fe

echo "taskmq demo: ${#SIZES[@]} CPU-bound 'sum' jobs of very different sizes, submitted at once"
echo "to a broker ($fe) and one worker daemon with $PROCS processes."
echo "Each result prints the moment it finishes, in completion order:"
echo
printf '  %-8s %-5s %-16s %-22s %-10s %s\n' "at" "job" "sum(n)" "result" "ran for" "on"
start=$EPOCHREALTIME
re='"index":([0-9]+).*"result":([0-9]+).*"worker":"([^"]*)".*"ms":([0-9.]+)'
"$BIN/taskmq" map sum "${SIZES[@]}" | while IFS= read -r line; do
    # parsed with a bash regex, not jq: printing must not slow what it shows
    [[ $line =~ $re ]] || { echo "  $line"; continue; }
    printf '  %-8s %-5s %-16s %-22s %-10s %s\n' \
        "$(awk -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN{printf "%.2fs", a-b}')" \
        "#${BASH_REMATCH[1]}" "${SIZES[${BASH_REMATCH[1]}]}" "${BASH_REMATCH[2]}" \
        "${BASH_REMATCH[4]} ms" "${BASH_REMATCH[3]}"
done
par=$(awk -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN{print a-b}')
echo
echo "The same jobs one after another in one process (taskmq map --local 1 --ordered) ..."
start=$EPOCHREALTIME
"$BIN/taskmq" map --local 1 --ordered sum "${SIZES[@]}" >/dev/null
seq_s=$(awk -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN{print a-b}')
printf '\n  wall time, %d processes in parallel : %6.2f s\n' "$PROCS" "$par"
printf '  wall time, one after another       : %6.2f s   (speedup %.2fx)\n' "$seq_s" \
    "$(awk -v a="$seq_s" -v b="$par" 'BEGIN{print a/b}')"
echo "  ($PROCS processes can at best divide the time by $PROCS, and here no better than the longest"
echo "  job allows; on a busy machine both figures move, so read them as a sketch.)"
echo
echo "Next: run 'taskmq-broker' on one host, 'taskmq-worker --broker tcp://HOST:5556' on others,"
echo "and 'taskmq --broker tcp://HOST:5555 map FUNCTION ARG...' from anywhere, with the keys of"
echo "README.md 'Several hosts' (without keys a broker lets in this machine only)."
