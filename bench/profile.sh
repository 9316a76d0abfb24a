#!/usr/bin/env bash
# bench/profile.sh BIN_DIR TMQ_BENCH [N1 N2] — instructions per no-op job in each process,
# counted by valgrind's callgrind (instruction counts do not depend on how busy the machine is).
# BIN_DIR holds taskmq-broker, taskmq-worker and taskmq; TMQ_BENCH is the tmq_bench program
# (e.g. bench/profile.sh build/bin build/bench/tmq_bench). Runs a broker, a worker daemon with
# 2 executors and `tmq_bench throughput` twice, with N1 and then N2 echo jobs (default 10,000
# and 60,000), every process under callgrind, and prints per process (N2 run - N1 run) /
# (N2 - N1): the cost of one more job, start-up costs cancelled.
#   profile broker B daemon D execs E client C total T Ir/job
# The callgrind files of the N2 run stay in OUT (default: a profile/ directory beside
# TMQ_BENCH) for callgrind_annotate. Loopback only; stops everything it starts.
set -euo pipefail
BIN=$1 BENCH=$2 N1=${3:-10000} N2=${4:-60000}
OUT=${OUT:-$(dirname "$BENCH")/profile}
. "$(dirname "$0")/../scripts/endpoints.sh"
command -v valgrind >/dev/null || { echo "profile.sh: valgrind is not installed" >&2; exit 2; }
d=$(mktemp -d)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$d"' EXIT
CG=(valgrind --tool=callgrind --trace-children=yes --dump-instr=no)

run() { # run N DIR: one cluster under callgrind, N jobs; files in DIR
    local n=$1 dir=$2
    mkdir -p "$dir"
    rm -f "$dir"/callgrind.out.*
    "${CG[@]}" --callgrind-out-file="$dir/callgrind.out.broker" \
        "$BIN/taskmq-broker" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
        2>"$d/b.log" &
    pids+=($!)
    tmq_await_endpoints "$d/b.log" "${pids[0]}" || { cat "$d/b.log" >&2; exit 1; }
    local fe=$FRONTEND be=$BACKEND
    # the daemon runs its executors (the built-in one, named as a command so that valgrind
    # follows the exec: /proc/self/exe would be valgrind's own); %p names each process's file
    "${CG[@]}" --callgrind-out-file="$dir/callgrind.out.worker.%p" \
        "$BIN/taskmq-worker" --broker "$be" --procs 2 --name prof \
        --executor-cmd "$BIN/taskmq-worker --executor --name prof" 2>"$d/w.log" &
    pids+=($!)
    local wpid=$!
    for _ in $(seq 1 200); do # registered (the tool's submit waits for a serving worker)
        TASKMQ_BROKER=$fe timeout 20 "$BIN/taskmq" submit echo 1 >/dev/null 2>&1 && break
        sleep 0.1
    done
    "${CG[@]}" --callgrind-out-file="$dir/callgrind.out.client" \
        env TASKMQ_BROKER="$fe" "$BENCH" throughput "$n" >"$d/c.out" 2>&1 ||
        { cat "$d/c.out" >&2; exit 1; }
    grep -q "failed 0" "$d/c.out" || { cat "$d/c.out" >&2; exit 1; }
    stop_all
    echo "$wpid" >"$dir/daemon.pid"
}
ir() { # ir FILE...: total instructions of callgrind files
    local f t=0
    for f in "$@"; do
        t=$((t + $(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f")))
    done
    echo "$t"
}
per() { awk -v a="$1" -v b="$2" -v n=$((N2 - N1)) 'BEGIN{printf "%.0f", (b-a)/n}'; }

run "$N1" "$d/a"
run "$N2" "$OUT"
declare -A cost
for dir in "$d/a" "$OUT"; do
    w=$(cat "$dir/daemon.pid")
    execs=()
    for f in "$dir"/callgrind.out.worker.*; do [ "$f" = "$dir/callgrind.out.worker.$w" ] || execs+=("$f"); done
    cost[$dir.broker]=$(ir "$dir/callgrind.out.broker")
    cost[$dir.daemon]=$(ir "$dir/callgrind.out.worker.$w")
    cost[$dir.execs]=$(ir "${execs[@]}")
    cost[$dir.client]=$(ir "$dir/callgrind.out.client")
done
tot=0
line=""
for p in broker daemon execs client; do
    v=$(per "${cost[$d/a.$p]}" "${cost[$OUT.$p]}")
    tot=$((tot + v))
    line+="$p $v "
done
echo "profile ${line}total $tot Ir/job"
