#!/usr/bin/env bash
# bench/scale.sh BIN_DIR BENCH_DIR MODE [ARGS] — taskmq's scale figures, one line each, on a
# fresh broker (BIN_DIR/taskmq-broker on free loopback ports) per run, with the fake peers of
# bench/tmq_fake.c and the C client of bench/tmq_bench.c (both in BENCH_DIR). Every process it
# starts is stopped by its pid at exit, failed or not; a wrong or missing answer exits 1.
#   routing N            N jobs from 4 fake clients to 4 fake worker sockets (READY procs 16:
#                        credit 16 x (1 + prefetch 64) = 1,040 each once echo is timed); the
#                        broker alone on CPU 0, the fakes on CPU 1. The broker's CPU time from
#                        /proc/PID/stat gives its capacity per full core.
#       routing N jobs R jobs/s broker_cpu C s capacity K jobs/s-per-core fakes_cpu F s wall W s
#   clients K N          K tmq_bench throughput N at once against a broker + taskmq-worker
#                        --procs 2 (each also runs its 1,000-job warm-up, not counted)
#       clients K x N jobs T s R jobs/s failed F
#   queued N             N jobs filled into a broker whose one worker (fake, --hold, procs 1)
#                        never answers; broker VmRSS before and after; a job's payload is its
#                        9-byte argument (the function name "echo" is stored once, not per job)
#       queued N jobs rate R jobs/s rss_before A KB rss_after B KB per_job P bytes payload Q
#       bytes beyond_payload X bytes
#   executors K [N]      tmq_bench throughput N (300,000) with K fake worker sockets of procs 1
#                        connected, then with 2 sockets of procs K/2 (the same credit in all)
#       executors K R1 jobs/s executors 2 R2 jobs/s ratio X broker_cpu B1 s B2 s fakes_cpu F1 s
#       F2 s  (the CPU the broker and the fake worker spent during each of the two runs)
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,22p' "$0" >&2; exit 2; }
BIN=$1 BENCH=$2 MODE=$3
shift 3
. "$(dirname "$0")/../scripts/endpoints.sh"
FAKE=$BENCH/tmq_fake
TICK=$(getconf CLK_TCK)
d=$(mktemp -d)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$d"' EXIT
die() {
    echo "scale.sh: $*" >&2
    for f in "$d"/*.log; do [ -s "$f" ] && { echo "--- $f" >&2; tail -n 5 "$f" >&2; }; done
    exit 1
}

broker() { # broker [PREFIX...] -- [FLAGS...]: a fresh broker; sets BROKER, FRONTEND, BACKEND
    local pre=()
    while [ "$1" != "--" ]; do pre+=("$1"); shift; done
    shift
    stop_all
    : >"$d/broker.log" # there before tmq_await_endpoints reads it
    "${pre[@]}" "$BIN/taskmq-broker" --frontend 'tcp://127.0.0.1:*' \
        --backend 'tcp://127.0.0.1:*' "$@" 2>"$d/broker.log" &
    BROKER=$!
    pids+=("$BROKER")
    tmq_await_endpoints "$d/broker.log" "$BROKER" || die "the broker did not start"
}
await_workers() { # await_workers N: until N workers registered (60 s at most)
    for _ in $(seq 1 600); do
        [ "$(grep -c 'ready: [0-9]* functions' "$d/broker.log")" -ge "$1" ] && return 0
        sleep 0.1
    done
    die "$(grep -c 'ready: [0-9]* functions' "$d/broker.log") of $1 workers registered"
}
ticks() { # ticks PID: its user + system CPU time, in clock ticks
    local s
    s=$(cat "/proc/$1/stat") || die "process $1 is gone"
    s=${s##*) } # the fields after the command name: utime, stime are the 12th and 13th
    awk '{print $12 + $13}' <<<"$s"
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fake_worker() { # fake_worker [PREFIX...] -- ARGS...: a fake worker on $BACKEND; sets WORKER
    local pre=()
    while [ "$1" != "--" ]; do pre+=("$1"); shift; done
    shift
    "${pre[@]}" "$FAKE" worker "$BACKEND" "$@" 2>>"$d/worker.log" &
    WORKER=$!
    pids+=("$WORKER")
}
field() { # field NAME LINE: the word after NAME in LINE
    awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) {print $(i + 1); exit}}' <<<"$2"
}

routing() {
    local n=$1 per=$(($1 / 4)) b0 b1 w0 w1 out
    [ "$(nproc)" -ge 2 ] || die "routing needs 2 CPUs (the broker alone on one)"
    broker taskset -c 0 -- --max-queue 1000000
    fake_worker taskset -c 1 -- --sockets 4 --procs 16
    await_workers 4
    # warm-up: the broker times echo (ms 0) and gives it the deep prefetch window
    timeout 60 taskset -c 1 "$FAKE" clients "$FRONTEND" 4 20000 >/dev/null 2>>"$d/clients.log" ||
        die "the warm-up failed"
    b0=$(ticks "$BROKER")
    w0=$(ticks "$WORKER")
    out=$(timeout 300 taskset -c 1 "$FAKE" clients "$FRONTEND" 4 "$per" 2>>"$d/clients.log") ||
        die "fake clients failed: $out"
    b1=$(ticks "$BROKER")
    w1=$(ticks "$WORKER")
    [ "$(field failed "$out")" = 0 ] || die "$out"
    awk -v n=$((per * 4)) -v line="$out" -v bt=$((b1 - b0)) -v wt=$((w1 - w0)) -v hz="$TICK" 'BEGIN {
        split(line, f, " "); t = f[6]; rate = f[8]; cpu = bt / hz
        fakes = wt / hz + f[13]
        printf "routing %d jobs %.0f jobs/s broker_cpu %.2f s capacity %.0f jobs/s-per-core", \
            n, rate, cpu, (cpu > 0 ? n / cpu : 0)
        printf " fakes_cpu %.2f s wall %.2f s\n", fakes, t }'
}

clients() {
    local k=$1 n=$2 t0 t1 failed=0 bad=0 i
    broker -- --max-queue 1000000
    "$BIN/taskmq-worker" --broker "$BACKEND" --procs 2 --name bench 2>"$d/worker.log" &
    pids+=($!)
    TASKMQ_BROKER=$FRONTEND timeout 30 "$BIN/taskmq" submit echo 1 >/dev/null ||
        die "the cluster does not answer"
    local cp=()
    t0=$(date +%s.%N)
    for i in $(seq 1 "$k"); do
        TASKMQ_BROKER=$FRONTEND timeout 300 "$BENCH/tmq_bench" throughput "$n" \
            >"$d/c$i.out" 2>"$d/c$i.log" &
        cp+=($!)
        pids+=($!) # stopped on a failure too
    done
    for i in "${!cp[@]}"; do wait "${cp[$i]}" || bad=$((bad + 1)); done
    t1=$(date +%s.%N)
    for i in $(seq 1 "$k"); do
        local f
        f=$(field failed "$(cat "$d/c$i.out")")
        [ -n "$f" ] || { bad=$((bad + 1)); continue; }
        failed=$((failed + f))
    done
    [ "$bad" = 0 ] || die "$bad of $k clients failed (exit status or no figure)"
    awk -v k="$k" -v n="$n" -v a="$t0" -v b="$t1" -v f="$failed" 'BEGIN {
        printf "clients %d x %d jobs %.3f s %.0f jobs/s failed %d\n", k, n, b - a, k * n / (b - a), f }'
    [ "$failed" = 0 ] || die "$failed jobs failed"
}

queued() {
    local n=$1 before after out status q r
    broker -- --max-queue $((n + 1000))
    fake_worker -- --procs 1 --hold
    await_workers 1
    sleep 0.5 # the broker settles after the registration
    before=$(rss_kb "$BROKER")
    "$FAKE" fill "$FRONTEND" "$n" --stay --seconds 600 >"$d/fill.out" 2>"$d/fill.log" &
    pids+=($!)
    for _ in $(seq 1 1200); do # 120 s at most
        [ -s "$d/fill.out" ] && break
        kill -0 "${pids[-1]}" 2>/dev/null || die "the fill failed"
        sleep 0.1
    done
    out=$(cat "$d/fill.out")
    [ -n "$out" ] || die "the fill did not finish in 120 s"
    after=$(rss_kb "$BROKER")
    status=$(TASKMQ_BROKER=$FRONTEND timeout 30 "$BIN/taskmq" status --json) ||
        die "no STATUS_REPLY"
    q=$(jq -r .queued <<<"$status") r=$(jq -r .running <<<"$status")
    if [ "$q" != $((n - 1)) ] || [ "$r" != 1 ]; then
        die "the broker holds $q queued + $r running, not $n - 1 + 1"
    fi
    awk -v n="$n" -v a="$before" -v b="$after" -v line="$out" 'BEGIN {
        split(line, f, " "); per = (b - a) * 1024 / n; pay = 9 # the argument; the name is shared
        printf "queued %d jobs rate %.0f jobs/s rss_before %d KB rss_after %d KB per_job %.1f bytes", \
            n, f[6], a, b, per
        printf " payload %d bytes beyond_payload %.1f bytes\n", pay, per - pay }'
}

executors_rate() { # executors_rate SOCKETS PROCS N: sets RATE (tmq_bench jobs/s) and the CPU
    # seconds the broker (BCPU) and the fake worker (FCPU) spent meanwhile
    local out w0 w1 b0 b1
    broker -- --max-queue 1000000
    fake_worker -- --sockets "$1" --procs "$2"
    await_workers "$1"
    w0=$(ticks "$WORKER")
    b0=$(ticks "$BROKER")
    out=$(TASKMQ_BROKER=$FRONTEND timeout 300 "$BENCH/tmq_bench" throughput "$3" \
        2>>"$d/clients.log") || die "tmq_bench with $1 worker sockets failed: $out"
    w1=$(ticks "$WORKER")
    b1=$(ticks "$BROKER")
    [ "$(field failed "$out")" = 0 ] || die "$out"
    RATE=$(awk '{print $6}' <<<"$out")
    FCPU=$(awk -v t=$((w1 - w0)) -v hz="$TICK" 'BEGIN {printf "%.2f", t / hz}')
    BCPU=$(awk -v t=$((b1 - b0)) -v hz="$TICK" 'BEGIN {printf "%.2f", t / hz}')
}

executors() {
    local k=$1 n=${2:-300000} a b fa fb ba bb
    ulimit -n "$((k * 3 + 256))" 2>/dev/null || true
    [ "$(ulimit -n)" -ge $((k * 2 + 128)) ] || die "ulimit -n $(ulimit -n) is too low for $k sockets"
    executors_rate "$k" 1 "$n"
    a=$RATE fa=$FCPU ba=$BCPU
    executors_rate 2 $((k / 2)) "$n"
    b=$RATE fb=$FCPU bb=$BCPU
    awk -v k="$k" -v a="$a" -v b="$b" -v fa="$fa" -v fb="$fb" -v ba="$ba" -v bb="$bb" 'BEGIN {
        printf "executors %d %.0f jobs/s executors 2 %.0f jobs/s ratio %.3f", k, a, b, a / b
        printf " broker_cpu %s s %s s fakes_cpu %s s %s s\n", ba, bb, fa, fb }'
}

case $MODE in
routing) routing "$1" ;;
clients) clients "$1" "$2" ;;
queued) queued "$1" ;;
executors) executors "$@" ;;
*) die "unknown mode $MODE (routing, clients, queued, executors)" ;;
esac
