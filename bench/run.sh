#!/usr/bin/env bash
# bench/run.sh — taskmq against its baseline, in one run on this machine, reported as ratios.
# Builds a Release tree in build-bench/, starts a broker and one worker daemon on loopback,
# measures, stops everything it started. Prints a Markdown table (the README keeps the latest).
#   bench/run.sh            full run (~1-2 minutes)
#   RUNS=1 bench/run.sh     one repetition per figure instead of the median of 3
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
. scripts/endpoints.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
BIN=$PWD/build-bench/bin
BENCH=$PWD/build-bench/bench/tmq_bench
PY=/usr/bin/python3; [ -x "$PY" ] || PY=""
d=$(mktemp -d)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$d"' EXIT

cluster() { # cluster PROCS [worker flags]: a fresh broker ($BROKER_FLAGS added) + one worker
    # daemon with PROCS executors
    local procs=$1 bflags=(); shift
    read -ra bflags <<<"${BROKER_FLAGS:-}" # the broker's own flags, split without globbing
    stop_all
    "$BIN/taskmq-broker" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
        "${bflags[@]}" 2>"$d/b.log" &
    pids+=($!)
    tmq_await_endpoints "$d/b.log" "${pids[0]}" || { cat "$d/b.log"; exit 1; }
    local be=$BACKEND
    "$BIN/taskmq-worker" --broker "$be" --procs "$procs" --name bench "$@" 2>"$d/w.log" &
    pids+=($!)
    export TASKMQ_BROKER=$FRONTEND
    "$BIN/taskmq" submit "${WARM_FN:-echo}" "${WARM_ARG:-1}" >/dev/null   # registered, answering
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
repeat() { for _ in $(seq 1 "$RUNS"); do "$@"; done | median; }

tool_rate() { # jobs/s of `seq 1 N | taskmq map echo`
    local t0 t1
    t0=$(date +%s.%N)
    seq 1 "$1" | "$BIN/taskmq" map echo >/dev/null
    t1=$(date +%s.%N)
    awk -v n="$1" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f\n", n/(b-a)}'
}

cluster 2
py_map="n/a"; py_exec="n/a"; py_aio="n/a"
if [ -n "$PY" ]; then # the Python client of this tree, on the same cluster
    py_map=$(repeat sh -c "PYTHONPATH=python $PY bench/py_client.py map 100000 | awk '{print \$6}'")
    py_exec=$(repeat sh -c "PYTHONPATH=python $PY bench/py_client.py executor 20000 | awk '{print \$6}'")
    py_aio=$(repeat sh -c "PYTHONPATH=python $PY bench/py_client.py aio 100000 | awk '{print \$6}'")
fi
c_rate=$(repeat sh -c "$BENCH throughput 300000 | awk '{print \$6}'")
t_rate=$(repeat tool_rate 200000)
c_lat=$(repeat sh -c "$BENCH latency 2000 | awk '{print \$6}'")
# the same with the broker's --metrics endpoint scraped every 100 ms meanwhile (curl)
m_rate="n/a"
if command -v curl >/dev/null; then
    BROKER_FLAGS="--metrics 127.0.0.1:*" cluster 2
    url=$(sed -n 's/.*metrics at \(http[^ ]*\).*/\1/p' "$d/b.log" | head -n 1)
    scraped() { # runs the C client's throughput while a bounded loop scrapes the metrics
        local s
        (for _ in $(seq 1 600); do curl -sf "$url" >/dev/null || break; sleep 0.1; done) &
        s=$!
        "$BENCH" throughput 300000 | awk '{print $6}'
        kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
    }
    m_rate=$(repeat scraped)
fi
# the same with the broker's --journal (fsync always: an ACK waits for fdatasync, one per loop
# turn), C client and tool; the journal lives in the run's temporary directory
j_rate="n/a"; jt_rate="n/a"
BROKER_FLAGS="--journal $d/journal --fsync always" cluster 2
j_rate=$(repeat sh -c "$BENCH throughput 300000 | awk '{print \$6}'")
jt_rate=$(repeat tool_rate 200000)
jdisk=$(df -PT "$d" | awk 'NR==2 {print $2}')
stop_all
# a journaled broker's restart with 1,000,000 queued jobs (bench/replay.sh: SIGKILL, cold cache)
replay=$(bench/replay.sh "$BIN" 1000000 || echo "replay n/a jobs n/a ms rss n/a KB")
replay_n=$(awk '{print $2}' <<<"$replay"); replay_ms=$(awk '{print $4}' <<<"$replay")
replay_rss=$(awk '{print $7}' <<<"$replay")
cluster 2
SIZE=30000000   # sum(30M) is ~10 ms of CPU here
cpu2=$("$BENCH" cpu 60 $SIZE)
wall2=$(awk '{print $5}' <<<"$cpu2"); job_ms=$(awk '{print $9}' <<<"$cpu2")
cluster 1
wall1=$("$BENCH" cpu 60 $SIZE | awk '{print $5}')

# Python job functions (bench/pyfuncs.py, ~10 ms each) through taskmq.Executor on a worker
# started with --python, 1 -> 2 processes, beside the same function on ProcessPoolExecutor.
PYSIZE=200000   # accumulate(200k) is ~10 ms of Python here
pyfn1="n/a"; pyfn2="n/a"; pp1="n/a"; pp2="n/a"
if [ -n "$PY" ]; then
    pyfn() { PYTHONPATH=python "$PY" bench/py_client.py pyfn 100 $PYSIZE | awk '{print $5}'; }
    export WARM_FN=pyfuncs:accumulate WARM_ARG='{"args":[10],"kwargs":{}}'
    cluster 1 --python bench/pyfuncs.py
    pyfn1=$(repeat pyfn)
    cluster 2 --python bench/pyfuncs.py
    pyfn2=$(repeat pyfn)
    stop_all
    unset WARM_FN WARM_ARG
    pp1=$(repeat sh -c "$PY bench/peer_pool.py cpu 100 $PYSIZE 1 | awk '{print \$5}'")
    pp2=$(repeat sh -c "$PY bench/peer_pool.py cpu 100 $PYSIZE 2 | awk '{print \$5}'")
fi

# Shell commands: `taskmq map --exec` beside GNU parallel and xargs -P, 2 at a time each.
cmds_per_s() { # cmds_per_s N COMMAND...: N stdin lines through COMMAND, commands per second
    local n=$1 t0 t1; shift
    t0=$(date +%s.%N)
    seq 1 "$n" | "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f\n", n/(b-a)}'
}
BUSY='i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'   # ~0.1-0.3 s of one core
cluster 2 --allow-exec
x_true=$(repeat cmds_per_s 2000 "$BIN/taskmq" map --exec -- true)
x_busy=$(repeat cmds_per_s 40 "$BIN/taskmq" map --exec -- sh -c "$BUSY" sh)
stop_all
g_true="n/a"; g_busy="n/a"; a_true="n/a"; a_busy="n/a"
if command -v parallel >/dev/null; then
    g_true=$(repeat cmds_per_s 2000 parallel -j2 true)
    g_busy=$(repeat cmds_per_s 40 parallel -j2 sh -c "'$BUSY'" sh)
fi
a_true=$(repeat cmds_per_s 2000 xargs -P2 -n1 true)
a_busy=$(repeat cmds_per_s 40 xargs -P2 -n1 sh -c "$BUSY" sh)

p_rate="n/a"; p_lat="n/a"; p_aio="n/a"
if [ -n "$PY" ]; then
    p_rate=$(repeat sh -c "$PY bench/peer_pool.py noop 30000 | awk '{print \$6}'")
    p_lat=$(repeat sh -c "$PY bench/peer_pool.py latency 2000 | awk '{print \$6}'")
    p_aio=$(repeat sh -c "$PY bench/peer_pool.py asyncio 20000 | awk '{print \$6}'")
fi
# ratio A B [higher|lower]: how taskmq (A) compares with the peer (B)
ratio() {
    awk -v a="$1" -v b="$2" -v better="${3:-higher}" 'BEGIN{
        if (a+0 == 0 || b+0 == 0) { print "n/a"; exit }
        r = (better == "higher") ? a/b : b/a
        if (r >= 1) printf "taskmq %.1fx better", r; else printf "taskmq %.1fx worse", 1/r }'
}
speed() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0 == 0 || b+0 == 0) print "n/a"; else printf "%.2f", a/b }'; }
speedup=$(speed "$wall1" "$wall2")
overhead=$(awk -v w="$wall2" -v m="$job_ms" 'BEGIN{ideal=60*m/2/1000; printf "%.1f", (w-ideal)/w*100}')

echo
echo "taskmq bench, $(nproc) cores, broker + 1 worker daemon (2 executors) + client on loopback;"
echo "median of $RUNS runs; peer: Python ProcessPoolExecutor(2) + as_completed, same machine, same run."
echo
echo "| measure | taskmq | ProcessPoolExecutor | ratio |"
echo "|---|---|---|---|"
echo "| no-op jobs/s, C client (300k jobs) | $c_rate | $p_rate | $(ratio "$c_rate" "$p_rate") |"
echo "| no-op jobs/s, C client, broker \`--metrics\` scraped every 100 ms | $m_rate | $p_rate | $(ratio "$m_rate" "$p_rate") (vs. no metrics: $(speed "$m_rate" "$c_rate")x) |"
echo "| no-op jobs/s, C client, broker \`--journal --fsync always\` ($jdisk) | $j_rate | $p_rate | $(ratio "$j_rate" "$p_rate") (vs. no journal: $(speed "$j_rate" "$c_rate")x) |"
echo "| no-op jobs/s, \`taskmq map\` tool (200k lines) | $t_rate | $p_rate | $(ratio "$t_rate" "$p_rate") |"
echo "| \`--journal\` broker killed with $replay_n jobs queued: restart to serving again (cold cache) | $replay_ms ms, $replay_rss KB resident | | |"
echo "| no-op jobs/s, \`taskmq map\` tool, broker \`--journal --fsync always\` | $jt_rate | $p_rate | $(ratio "$jt_rate" "$p_rate") (vs. no journal: $(speed "$jt_rate" "$t_rate")x) |"
echo "| no-op jobs/s, Python \`Client.map\` (100k) | $py_map | $p_rate | $(ratio "$py_map" "$p_rate") |"
echo "| no-op jobs/s, Python \`async for\` over \`taskmq.aio.Client.map\` (100k; peer: run_in_executor + asyncio.as_completed on the pool) | $py_aio | $p_aio | $(ratio "$py_aio" "$p_aio") |"
echo "| no-op jobs/s, Python \`Executor\` + \`run_in_executor\` + \`asyncio.as_completed\` (20k; peer: the same on the pool) | $py_exec | $p_aio | $(ratio "$py_exec" "$p_aio") |"
echo "| one job in flight, p50 round trip µs | $c_lat | $p_lat | $(ratio "$c_lat" "$p_lat" lower) |"
echo "| 60 × sum(30M) (~${job_ms} ms each): 1 → 2 processes | ${wall1} s → ${wall2} s | | speedup ${speedup}x |"
echo "| overhead over ideal for ~10 ms jobs, 2 processes | ${overhead}% | | |"
echo "| 100 Python \`accumulate(200k)\` (~10 ms) via \`Executor\`: 1 → 2 processes | ${pyfn1} s → ${pyfn2} s, speedup $(speed "$pyfn1" "$pyfn2")x | ${pp1} s → ${pp2} s, speedup $(speed "$pp1" "$pp2")x | |"
echo
echo "Shell commands, 2 at a time: \`taskmq map --exec\` (the same cluster, worker --allow-exec)"
echo "beside GNU parallel -j2 and xargs -P2 on this machine; commands per second, median of $RUNS."
echo
echo "| measure | taskmq map --exec | GNU parallel | xargs -P2 | ratio to parallel |"
echo "|---|---|---|---|---|"
echo "| \`true\` × 2000 (per-command overhead) | $x_true | $g_true | $a_true | $(ratio "$x_true" "$g_true") |"
echo "| sh busy loop × 40 (CPU-bound) | $x_busy | $g_busy | $a_busy | $(ratio "$x_busy" "$g_busy") |"
