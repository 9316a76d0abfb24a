#!/usr/bin/env bash
# bench/run.sh — taskmq beside every peer, in one run on this machine, reported as ratios.
# Builds a Release tree in build-bench/, starts each system on loopback (its own processes, on
# free ports), checks every answer (each program exits non-zero on a missing, duplicated or
# wrong result, and such a run is left out and reported), stops everything it started, and
# prints Markdown tables of medians (the README keeps the latest) and the figure docs/bench.png.
#   scripts/setup.sh bench  installs the peers (Debian packages) and runs this
#   bench/run.sh            full run (~10 minutes); RUNS=1 for one repetition per figure
#   PLOT=FILE bench/run.sh  the figure elsewhere (default docs/bench.png; PLOT= for none)
# A peer that is not installed shows "n/a". Benchmarks measure; they never fail on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
PLOT=${PLOT-docs/bench.png}
. scripts/endpoints.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
BIN=$PWD/build-bench/bin
BD=$PWD/build-bench/bench
BENCH=$BD/tmq_bench
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
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
repeat() { # repeat CMD...: the median of CMD's one-number output over RUNS runs; a run that
    # failed (non-zero exit, or no number) is left out and reported
    local v
    for _ in $(seq 1 "$RUNS"); do
        if v=$("$@") && [[ $v =~ ^[0-9.]+$ ]]; then echo "$v"; else
            echo "bench: left out a failed run of: $*" >&2
        fi
    done | median
}
# runs CMD... RUNS times; keeps the output lines of the runs that succeeded (a run that failed,
# i.e. found a wrong or missing answer, is reported on stderr and left out)
lines() {
    local out
    for _ in $(seq 1 "$RUNS"); do
        if out=$("$@" 2>"$d/err"); then echo "$out" | tail -n 1; else
            echo "bench: left out a failed run of: $* ($(tail -n 2 "$d/err" | tr '\n' ' '))" >&2
        fi
    done
}
field() { # field K LINES: the median of field K over LINES, or n/a
    local v
    v=$(awk -v k="$1" 'NF >= k {print $k}' <<<"$2" | median)
    echo "${v:-n/a}"
}
have() { command -v "$1" >/dev/null 2>&1; }
pyhas() { [ -n "$PY" ] && "$PY" -c "import $1" 2>/dev/null; }
pyver() { "$PY" -c "import $1; print($1.__version__)" 2>/dev/null || echo "?"; }

tool_rate() { # jobs/s of `seq 1 N | taskmq map echo`; fails when the tool did
    local t0 t1
    t0=$(date +%s.%N)
    seq 1 "$1" | "$BIN/taskmq" map echo >/dev/null || return 1
    t1=$(date +%s.%N)
    awk -v n="$1" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f\n", n/(b-a)}'
}
tool_checked() { # the tool's JSON lines checked: N results, each input once, echoed, ok
    seq 1 "$1" | "$BIN/taskmq" map echo |
        jq -r 'select(.ok and .result == .index + 1) | .result' | sort -n | cmp -s - <(seq 1 "$1")
}

echo "bench: taskmq (broker + 1 worker daemon with 2 executors)" >&2
cluster 2
tool_checked 20000 || { echo "bench: taskmq map gave wrong results" >&2; exit 1; }
L=$(lines "$BENCH" throughput 300000); c_rate=$(field 6 "$L")
t_rate=$(repeat tool_rate 200000)
# (1) one job in flight: taskmq and the peers with a latency in turns, run after run, so that
# each compares with the others at the same state of this shared machine (a wake-up costs
# from ~15 to ~300 µs here depending on what else runs)
Lt="" Lz="" Ld="" Lp="" Lg=""
have_gm=false
[ -x /usr/sbin/gearmand ] && [ -x "$BD/peer_gearman" ] && have_gm=true
for _ in $(seq 1 "$RUNS"); do
    Lt+=$(RUNS=1 lines "$BENCH" latency 2000)$'\n'
    Lz+=$(RUNS=1 lines "$BD/peer_zmq" broker-latency 2000)$'\n'
    Ld+=$(RUNS=1 lines "$BD/peer_zmq" direct-latency 2000)$'\n'
    Lp+=$(RUNS=1 lines "$BD/peer_tcp" latency 2000 split)$'\n'
    $have_gm && Lg+=$(RUNS=1 lines bench/peer_gearman.sh latency 2000)$'\n'
done
c_p50=$(field 6 "$Lt"); c_p99=$(field 9 "$Lt"); c_max=$(field 12 "$Lt")
# the peers' lines begin with the system's name: every field is one further
zb_p50=$(field 7 "$Lz"); zb_p99=$(field 10 "$Lz"); zb_max=$(field 13 "$Lz")
zd_p50=$(field 7 "$Ld"); zd_p99=$(field 10 "$Ld"); zd_max=$(field 13 "$Ld")
tcp_p50=$(field 7 "$Lp"); tcp_p99=$(field 10 "$Lp"); tcp_max=$(field 13 "$Lp")
gm_p50=$(field 7 "$Lg"); gm_p99=$(field 10 "$Lg"); gm_max=$(field 13 "$Lg")
py_map="n/a"; py_exec="n/a"; py_aio="n/a"
pyclient() { # pyclient FIELD MODE N...: a field of bench/py_client.py's line; fails with it
    local f=$1 out; shift
    out=$(PYTHONPATH=python "$PY" bench/py_client.py "$@") || return 1
    awk -v f="$f" '{print $f}' <<<"$out"
}
if [ -n "$PY" ]; then # the Python client of this tree, on the same cluster
    py_map=$(repeat pyclient 6 map 100000)
    py_exec=$(repeat pyclient 6 executor 20000)
    py_aio=$(repeat pyclient 6 aio 100000)
fi
# the same with the broker's --metrics endpoint scraped every 100 ms meanwhile (curl)
m_rate="n/a"
if have curl; then
    BROKER_FLAGS="--metrics 127.0.0.1:*" cluster 2
    url=""
    for _ in $(seq 1 100); do # the broker says where after its sockets are bound
        url=$(sed -n 's/.*metrics at \(http[^ ]*\).*/\1/p' "$d/b.log" | head -n 1)
        [ -n "$url" ] && break
        sleep 0.05
    done
    [ -n "$url" ] || { echo "bench: the broker gave no metrics address" >&2; cat "$d/b.log" >&2; exit 1; }
    scraped() { # the C client's throughput while a bounded loop scrapes the metrics; fails
        # when the client failed or no scrape succeeded
        local s out rc=0
        rm -f "$d/scrapes"
        (for _ in $(seq 1 600); do curl -sf "$url" >/dev/null && echo >>"$d/scrapes"; sleep 0.1; done) &
        s=$!
        out=$("$BENCH" throughput 300000) || rc=1
        kill "$s" 2>/dev/null; wait "$s" 2>/dev/null || true
        [ "$rc" = 0 ] && [ -s "$d/scrapes" ] || return 1
        awk '{print $6}' <<<"$out"
    }
    m_rate=$(repeat scraped)
fi
# (7) the broker's --journal (fsync always: an ACK waits for fdatasync, one per loop turn), C
# client and tool; the journal lives in the run's temporary directory
BROKER_FLAGS="--journal $d/journal --fsync always" cluster 2
L=$(lines "$BENCH" throughput 300000); j_rate=$(field 6 "$L")
jt_rate=$(repeat tool_rate 200000)
jdisk=$(df -PT "$d" | awk 'NR==2 {print $2}')
stop_all
# a journaled broker's restart with 1,000,000 queued jobs (bench/replay.sh: SIGKILL, cold cache)
replay=$(bench/replay.sh "$BIN" 1000000 || echo "replay n/a jobs n/a ms rss n/a KB")
replay_n=$(awk '{print $2}' <<<"$replay"); replay_ms=$(awk '{print $4}' <<<"$replay")
replay_rss=$(awk '{print $7}' <<<"$replay")

# (2) CPU-bound sum jobs, 1 -> 2 processes, beside the same loop in a plain C program
SIZE=30000000   # sum(30M) is ~10 ms of CPU here
SIZE1=3000000   # ~1 ms
# Enough jobs that what a batch pays once (the first dispatch of a function not yet timed, the
# last job's end on one process while the other is done) is not read as a per-job overhead:
# 60 jobs of 10 ms on 2 processes are 300 ms, where one job more on one side is 3.3% and the
# first hand-out ~1%. Both sides hand out jobs the same way (the next job to the process that
# frees), and both clocks start before the first job leaves (tmq_bench.c).
NJ=300          # × sum(30M): ~1.5 s on 2 processes
NJ1=3000        # × sum(3M)
# taskmq on 2 processes and the plain program in turns, run after run (as the latency above)
cluster 2
Lc="" Ls="" Lp2="" Lp2s=""
for _ in $(seq 1 "$RUNS"); do
    Lc+=$(RUNS=1 lines "$BENCH" cpu $NJ $SIZE)$'\n'
    Lp2+=$(RUNS=1 lines "$BENCH" plain $NJ $SIZE 2)$'\n'
    Ls+=$(RUNS=1 lines "$BENCH" cpu $NJ1 $SIZE1)$'\n'
    Lp2s+=$(RUNS=1 lines "$BENCH" plain $NJ1 $SIZE1 2)$'\n'
done
wall2=$(field 5 "$Lc"); job_ms=$(field 9 "$Lc"); plain2=$(field 5 "$Lp2")
wall2s=$(field 5 "$Ls"); job_ms_s=$(field 9 "$Ls"); plain2s=$(field 5 "$Lp2s")
cluster 1
Lc1="" Lp1=""
for _ in $(seq 1 "$RUNS"); do
    Lc1+=$(RUNS=1 lines "$BENCH" cpu $NJ $SIZE)$'\n'
    Lp1+=$(RUNS=1 lines "$BENCH" plain $NJ $SIZE 1)$'\n'
done
wall1=$(field 5 "$Lc1"); plain1=$(field 5 "$Lp1")
stop_all

# Python job functions (bench/pyfuncs.py, ~10 ms each) through taskmq.Executor on a worker
# started with --python, 1 -> 2 processes, beside the same function on ProcessPoolExecutor.
PYSIZE=200000   # accumulate(200k) is ~10 ms of Python here
pyfn1="n/a"; pyfn2="n/a"; pp1="n/a"; pp2="n/a"
if [ -n "$PY" ]; then
    pyfn() { pyclient 5 pyfn 100 $PYSIZE; }
    export WARM_FN=pyfuncs:accumulate WARM_ARG='{"args":[10],"kwargs":{}}'
    cluster 1 --python bench/pyfuncs.py
    pyfn1=$(repeat pyfn)
    cluster 2 --python bench/pyfuncs.py
    pyfn2=$(repeat pyfn)
    stop_all
    unset WARM_FN WARM_ARG
    pool_cpu() { local out; out=$("$PY" bench/peer_pool.py cpu 100 $PYSIZE "$1") || return 1; awk '{print $5}' <<<"$out"; }
    pp1=$(repeat pool_cpu 1)
    pp2=$(repeat pool_cpu 2)
fi

# Shell commands: `taskmq map --exec` beside GNU parallel and xargs -P, 2 at a time each.
cmds_per_s() { # cmds_per_s N COMMAND...: N stdin lines through COMMAND, commands per second
    local n=$1 t0 t1; shift
    t0=$(date +%s.%N)
    seq 1 "$n" | "$@" >/dev/null || return 1
    t1=$(date +%s.%N)
    awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f\n", n/(b-a)}'
}
BUSY='i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'   # ~0.1-0.3 s of one core
cluster 2 --allow-exec
x_true=$(repeat cmds_per_s 2000 "$BIN/taskmq" map --exec -- true)
x_busy=$(repeat cmds_per_s 40 "$BIN/taskmq" map --exec -- sh -c "$BUSY" sh)
stop_all
g_true="n/a"; g_busy="n/a"
if have parallel; then
    g_true=$(repeat cmds_per_s 2000 parallel -j2 true)
    g_busy=$(repeat cmds_per_s 40 parallel -j2 sh -c "'$BUSY'" sh)
fi
a_true=$(repeat cmds_per_s 2000 xargs -P2 -n1 true)
a_busy=$(repeat cmds_per_s 40 xargs -P2 -n1 sh -c "$BUSY" sh)

# (3)-(6) scale, with the fake peers of bench/tmq_fake.c (bench/scale.sh starts and stops its
# own broker each run)
echo "bench: scale scenarios" >&2
L=$(lines bench/scale.sh "$BIN" "$BD" routing 4000000)
route_rate=$(field 4 "$L"); route_cap=$(field 10 "$L")
L=$(lines bench/scale.sh "$BIN" "$BD" clients 10 50000)
clients_rate=$(field 8 "$L")
L=$(lines bench/scale.sh "$BIN" "$BD" queued 1000000)
queued_rate=$(field 5 "$L"); queued_beyond=$(field 20 "$L")
L=$(lines bench/scale.sh "$BIN" "$BD" executors 1000)
exec_1000=$(field 3 "$L"); exec_2=$(field 7 "$L"); exec_ratio=$(field 10 "$L")

# The peers, one after another on the same machine (each program starts and stops its own)
echo "bench: peers" >&2 # their lines begin with the system's name: every field is one further
L=$(lines "$BD/peer_zmq" broker-throughput 300000); zb_rate=$(field 7 "$L")
L=$(lines "$BD/peer_zmq" direct-throughput 1000000); zd_rate=$(field 7 "$L")
gm_rate="n/a"; gm1_rate="n/a"
gm_ver=$(/usr/sbin/gearmand --version 2>/dev/null | awk 'NF {sub(/\+.*/, "", $2); print $2; exit}' || true)
if [ -x /usr/sbin/gearmand ] && [ -x "$BD/peer_gearman" ]; then # gearmand -t 0, 2 C workers
    L=$(lines bench/peer_gearman.sh throughput 100000 1000); gm_rate=$(field 7 "$L")
    L=$(lines bench/peer_gearman.sh throughput 20000 1); gm1_rate=$(field 7 "$L")
fi
p_rate="n/a"; p_lat="n/a"; p_aio="n/a"; im1="n/a"; im500="n/a"
dk_rate="n/a"; dk_p50="n/a"; dk_p99="n/a"; dk_max="n/a"
cl_rate="n/a"; cl_p50="n/a"; cl_p99="n/a"; cl_max="n/a"
if [ -n "$PY" ]; then
    L=$(lines "$PY" bench/peer_pool.py noop 30000); p_rate=$(field 6 "$L")
    L=$(lines "$PY" bench/peer_pool.py latency 2000); p_lat=$(field 6 "$L")
    L=$(lines "$PY" bench/peer_pool.py asyncio 20000); p_aio=$(field 6 "$L")
    L=$(lines "$PY" bench/peer_pool.py imap 100000 1); im1=$(field 6 "$L")
    L=$(lines "$PY" bench/peer_pool.py imap 2000000 500); im500=$(field 6 "$L")
fi
if pyhas distributed; then
    L=$(lines "$PY" bench/peer_dask.py noop 3000); dk_rate=$(field 6 "$L")
    L=$(lines "$PY" bench/peer_dask.py latency 200)
    dk_p50=$(field 6 "$L"); dk_p99=$(field 9 "$L"); dk_max=$(field 12 "$L")
fi
if pyhas celery && pyhas redis && [ -x /usr/bin/redis-server ]; then
    L=$(lines "$PY" bench/peer_celery.py noop 3000); cl_rate=$(field 6 "$L")
    L=$(lines "$PY" bench/peer_celery.py latency 200)
    cl_p50=$(field 6 "$L"); cl_p99=$(field 9 "$L"); cl_max=$(field 12 "$L")
fi

# ---- the report ----
# ratio A B [higher|lower]: how taskmq (A) compares with the peer (B), in words
ratio() {
    awk -v a="$1" -v b="$2" -v better="${3:-higher}" 'BEGIN{
        if (a+0 == 0 || b+0 == 0) { print "n/a"; exit }
        r = (better == "higher") ? a/b : b/a
        if (r >= 1) printf "taskmq %.2fx better", r; else printf "taskmq %.2fx worse", 1/r }'
}
speed() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0 == 0 || b+0 == 0) print "n/a"; else printf "%.2f", a/b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0 == 0 || b+0 == 0) print "n/a"; else printf "%.1f", (a-b)/b*100 }'; }
goal() { # goal MET?: "met" / "missed" from an awk condition on the figures
    awk "BEGIN{ if ($1) print \"met\"; else print \"missed\" }" 2>/dev/null || echo "n/a"
}
num() { [[ $1 =~ ^[0-9.]+$ ]] && echo "$1" || echo 0; }
speedup=$(speed "$wall1" "$wall2")
plain_speedup=$(speed "$plain1" "$plain2")
over10=$(pct "$wall2" "$plain2")
over1=$(pct "$wall2s" "$plain2s")

row() { # row NAME RATE P50 P99 MAX: one system of the peer table
    echo "| $1 | $2 | $(ratio "$c_rate" "$2") | $3 | $4 | $5 | $(ratio "$c_p50" "$3" lower) |"
}
echo
echo "taskmq and its peers, no-op jobs, $(nproc) cores, loopback, median of $RUNS runs, one run"
echo "($(date -u +%Y-%m-%d)). The ratios compare taskmq's C client (throughput) and its one-job"
echo "round trip with each system's; every answer of every run was checked."
echo
echo "| system | jobs/s | throughput, taskmq C client vs it | one job in flight p50 µs | p99 µs | max µs | latency, taskmq vs it |"
echo "|---|---:|---|---:|---:|---:|---|"
echo "| **taskmq**, C client (broker + worker daemon, 2 executors) | $c_rate | | $c_p50 | $c_p99 | $c_max | |"
echo "| **taskmq**, \`seq 1 200000 \| taskmq map echo\` | $t_rate | $(ratio "$c_rate" "$t_rate") | | | | |"
echo "| **taskmq**, Python \`Client.map\` (100k) | $py_map | $(ratio "$c_rate" "$py_map") | | | | |"
row "bare ZeroMQ broker (ROUTER/ROUTER, 2 echo workers, credit 100 each, 32-byte jobs)" "$zb_rate" "$zb_p50" "$zb_p99" "$zb_max"
row "bare ZeroMQ, client ↔ one echo worker, no broker (the ceiling)" "$zd_rate" "$zd_p50" "$zd_p99" "$zd_max"
row "Gearman $gm_ver (\`gearmand -t 0\`), C client, batches of 1,000, 2 C workers" "$gm_rate" "$gm_p50" "$gm_p99" "$gm_max"
row "Gearman, the same, \`gearman_client_do\` one job at a time" "$gm1_rate" "" "" ""
row "Python \`multiprocessing.Pool(2).imap_unordered\`, chunksize 1" "$im1" "" "" ""
row "Python \`multiprocessing.Pool(2).imap_unordered\`, chunksize 500" "$im500" "" "" ""
row "Python \`ProcessPoolExecutor(2)\` submit + \`as_completed\`" "$p_rate" "$p_lat" "" ""
row "Python \`run_in_executor\` + \`asyncio.as_completed\` on it" "$p_aio" "" "" ""
row "Dask $(pyver distributed) \`LocalCluster(2)\` \`map\` + \`as_completed\`" "$dk_rate" "$dk_p50" "$dk_p99" "$dk_max"
row "Celery $(pyver celery) + Redis, prefork worker of 2" "$cl_rate" "$cl_p50" "$cl_p99" "$cl_max"
echo "| raw TCP ping-pong, two processes on two cores (the floor) | | | $tcp_p50 | $tcp_p99 | $tcp_max | $(ratio "$c_p50" "$tcp_p50" lower) |"

echo
echo "taskmq alone, the same run:"
echo
echo "| measure | taskmq | compared with | ratio |"
echo "|---|---|---|---|"
echo "| no-op jobs/s, C client, broker \`--metrics\` scraped every 100 ms | $m_rate | no metrics: $c_rate | $(speed "$m_rate" "$c_rate")x |"
echo "| (7) no-op jobs/s, C client, broker \`--journal --fsync always\` ($jdisk) | $j_rate | no journal: $c_rate | $(speed "$j_rate" "$c_rate")x |"
echo "| (7) no-op jobs/s, \`taskmq map\`, broker \`--journal --fsync always\` | $jt_rate | no journal: $t_rate | $(speed "$jt_rate" "$t_rate")x |"
echo "| (7) \`--journal\` broker killed with $replay_n jobs queued: restart to serving again (cold cache) | $replay_ms ms, $replay_rss KB resident | | |"
echo "| (1) one job in flight, round trip p50 / p99 / max µs | $c_p50 / $c_p99 / $c_max | bare ZeroMQ broker: $zb_p50 / $zb_p99 / $zb_max | $(speed "$c_p50" "$zb_p50")x at p50 |"
echo "| (2) $NJ × sum(30M) (~${job_ms} ms each), 1 → 2 processes | ${wall1} s → ${wall2} s, speedup ${speedup}x | the same loop in a plain C program: ${plain1} s → ${plain2} s, ${plain_speedup}x | |"
echo "| (2) overhead, ~10 ms jobs, 2 processes (wall vs the plain C program) | ${over10}% | ${plain2} s | |"
echo "| (2) overhead, ~1 ms jobs ($NJ1 × sum(3M), ~${job_ms_s} ms each), 2 processes | ${over1}% | ${plain2s} s | |"
echo "| (3) 10 clients × 50,000 jobs at once, jobs/s in all | $clients_rate | one client: $c_rate | $(speed "$clients_rate" "$c_rate")x |"
echo "| (4) 1,000,000 queued jobs: submit rate, jobs/s | $queued_rate | | |"
echo "| (4) 1,000,000 queued jobs: broker memory per job beyond its payload | ${queued_beyond} B | | |"
echo "| (5) dispatch jobs/s with 1,000 executors connected | $exec_1000 | the same credit on 2: $exec_2 | ${exec_ratio}x |"
echo "| (6) broker routing capacity on one core (fake clients and workers on the other) | ${route_cap} jobs/s per core | routed: $route_rate jobs/s | at 10 ms jobs: $(awk -v c="$(num "$route_cap")" 'BEGIN{printf "%.0f", c/100}') cores fed |"
echo "| 100 Python \`accumulate(200k)\` (~10 ms) via \`Executor\`: 1 → 2 processes | ${pyfn1} s → ${pyfn2} s, speedup $(speed "$pyfn1" "$pyfn2")x | ProcessPoolExecutor: ${pp1} s → ${pp2} s, speedup $(speed "$pp1" "$pp2")x | |"
echo "| Python \`async for\` over \`taskmq.aio.Client.map\` (100k) | $py_aio jobs/s | run_in_executor + asyncio.as_completed on ProcessPoolExecutor: ${p_aio:-n/a} | $(ratio "$py_aio" "${p_aio:-0}") |"
echo "| Python \`Executor\` + \`run_in_executor\` + \`asyncio.as_completed\` (20k) | $py_exec jobs/s | the same on ProcessPoolExecutor: ${p_aio:-n/a} | $(ratio "$py_exec" "${p_aio:-0}") |"

echo
echo "Shell commands, 2 at a time: \`taskmq map --exec\` (worker --allow-exec) beside GNU parallel -j2"
echo "and xargs -P2; commands per second, median of $RUNS."
echo
echo "| measure | taskmq map --exec | GNU parallel | xargs -P2 | ratio to parallel |"
echo "|---|---|---|---|---|"
echo "| \`true\` × 2000 (per-command overhead) | $x_true | $g_true | $a_true | $(ratio "$x_true" "$g_true") |"
echo "| sh busy loop × 40 (CPU-bound) | $x_busy | $g_busy | $a_busy | $(ratio "$x_busy" "$g_busy") |"

c=$(num "$c_rate"); zb=$(num "$zb_rate"); t=$(num "$t_rate"); cp=$(num "$c_p50"); zp=$(num "$zb_p50")
gp=$(num "${gm_p50:-0}"); rc=$(num "$route_cap"); su=$(num "$speedup")
qb=$(num "$queued_beyond"); er=$(num "$exec_ratio")
echo
echo "The goals (docs/performance.md), this run:"
echo
echo "| goal | figure | |"
echo "|---|---|---|"
echo "| no-op jobs/s via the C client ≥ the bare ZeroMQ broker's | $c_rate vs $zb_rate ($(speed "$c_rate" "$zb_rate")x) | $(goal "$zb > 0 && $c >= $zb") |"
echo "| via the tool ≥ 80% of the C client | $(speed "$t_rate" "$c_rate")x | $(goal "$c > 0 && $t >= 0.8 * $c") |"
echo "| one job in flight ≤ 1.2× the bare ZeroMQ broker's round trip | $(speed "$c_p50" "$zb_p50")x | $(goal "$zp > 0 && $cp <= 1.2 * $zp") |"
echo "| one job in flight no slower than Gearman's | $c_p50 vs ${gm_p50:-n/a} µs | $(goal "$gp > 0 && $cp <= $gp") |"
echo "| broker routing capacity ≥ 2,000,000 jobs/s on one core | $route_cap | $(goal "$rc >= 2000000") |"
echo "| \`sum\` speedup 1 → 2 processes ≥ 1.95× | ${speedup}x | $(goal "$su >= 1.95") |"
echo "| overhead under 1% for 10 ms jobs | ${over10}% | $(goal "\"$over10\" != \"n/a\" && $(num "${over10#-}") < 1 || \"$over10\" ~ /^-/") |"
echo "| ≤ 128 bytes of broker memory per queued job beyond its payload | ${queued_beyond} B | $(goal "$qb > 0 && $qb <= 128") |"
echo "| 1,000 executors connected, throughput loss ≤ 10% | ${exec_ratio}x | $(goal "$er >= 0.9") |"
echo "| \`--journal --fsync always\` ≥ 50% of the rate without | $(speed "$j_rate" "$c_rate")x | $(goal "$c > 0 && $(num "$j_rate") >= 0.5 * $c") |"

if [ -n "$PLOT" ] && have gnuplot; then # the figure: one bar per system with a figure
    {
        printf 'taskmq, C client\t%s\t%s\n' "$c_rate" "$c_p50"
        printf 'taskmq map (tool)\t%s\t-\n' "$t_rate"
        printf 'taskmq, Python Client.map\t%s\t-\n' "$py_map"
        printf 'bare ZeroMQ broker\t%s\t%s\n' "$zb_rate" "$zb_p50"
        printf 'ZeroMQ, no broker\t%s\t%s\n' "$zd_rate" "$zd_p50"
        printf 'Gearman (batches of 1,000)\t%s\t%s\n' "$gm_rate" "$gm_p50"
        printf 'Pool.imap_unordered, chunks of 1\t%s\t-\n' "$im1"
        printf 'Pool.imap_unordered, chunks of 500\t%s\t-\n' "$im500"
        printf 'ProcessPoolExecutor\t%s\t%s\n' "$p_rate" "$p_lat"
        printf 'Dask LocalCluster\t%s\t%s\n' "$dk_rate" "$dk_p50"
        printf 'Celery + Redis\t%s\t%s\n' "$cl_rate" "$cl_p50"
        printf 'raw TCP\t-\t%s\n' "$tcp_p50"
    } | sed 's/\tn\/a/\t-/g' >"$d/rows.dat"
    gnuplot -e "data='$d/rows.dat'; out='$PLOT'" bench/plot.gp && echo && echo "figure: $PLOT"
fi
