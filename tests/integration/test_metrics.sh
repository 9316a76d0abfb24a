# taskmq-broker --metrics: what a scrape shows after real jobs (exact counts by function,
# retries, the run-time histogram, workers and processes, rejections, malformed input, the same
# totals as taskmq status), counters that outlive their worker, promtool check metrics on the
# scrapes, 404/405/HEAD and the content type, a bad --metrics value (exit 2), a port in use
# (exit 1), protected mode (a network address needs --insecure, keys or not), localhost and
# [::1].
. "$(dirname "$0")/lib.sh"

# promtool: CMake passes where it found it; scripts/setup.sh fetches it into build-tools/bin.
PROMTOOL=${TASKMQ_PROMTOOL:-}
[ -x "$PROMTOOL" ] || PROMTOOL=$(command -v promtool || true)
[ -x "$PROMTOOL" ] || PROMTOOL="$(dirname "$0")/../../build-tools/bin/promtool"
[ -x "$PROMTOOL" ] || fail "promtool not found: run scripts/setup.sh build (it fetches promtool
    out of Debian's prometheus package into build-tools/bin), then configure the build again"
command -v curl >/dev/null || fail "curl not found: run scripts/setup.sh build"
: "${TASKMQ_GARBAGE:?}"

# await_metrics LOG PID: sets METRICS to the URL the broker logged ("metrics at URL").
await_metrics() {
    METRICS=""
    for _ in $(seq 1 100); do
        METRICS=$(sed -n 's/.*metrics at \(http:[^ ]*\).*/\1/p' "$1" | head -n1)
        [ -n "$METRICS" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
# scrape [URL]: GET into $T/scrape (the last scrape, read by value and sum).
scrape() { curl -sS --max-time 5 -o "$T/scrape" "${1:-$METRICS}" || fail "scrape of ${1:-$METRICS}"; }
# value SERIES: the value of one sample of the last scrape, the series as written
# ("name{labels}", escapes and all: it goes through the environment, which awk leaves as is).
value() {
    S="$1" awk 'index($0, ENVIRON["S"] " ") == 1 {v = $NF} END {print (v == "" ? "missing" : v)}' \
        "$T/scrape"
}
# total NAME: the sum of every sample of NAME (labelled or not) in the last scrape.
total() {
    N="$1" awk 'index($0, ENVIRON["N"] "{") == 1 || index($0, ENVIRON["N"] " ") == 1 {t += $NF}
                END {print t + 0}' "$T/scrape"
}
promcheck() { "$PROMTOOL" check metrics <"$T/scrape" >"$T/promtool.out" 2>&1 \
    || fail "promtool check metrics ($1): $(cat "$T/promtool.out")"; }
# until_value SERIES WANT: scrapes until the sample has that value (5 s at most).
until_value() {
    for _ in $(seq 1 50); do
        scrape
        [ "$(value "$1")" == "$2" ] && return 0
        sleep 0.1
    done
    fail "$1: expected $2, got $(value "$1")"
}

start_broker --metrics '127.0.0.1:*'
await_metrics "$T/broker.log" "$BROKER_PID" || fail "no metrics URL logged: $(cat "$T/broker.log")"
[[ "$METRICS" == http://127.0.0.1:*/metrics ]] || fail "metrics URL $METRICS"
scrape
assert_eq "$(value taskmq_workers_connected)" "0" "workers before any"
assert_eq "$(value "taskmq_build_info{version=\"$("$BROKER" --version | awk '{print $2}')\"}")" \
    "1" "build info"
promcheck "no worker yet"
pass "a broker with no worker is scraped and passes promtool"

start_worker w1 --procs 2 --test-functions
wait_workers 1
seq 1 20 | tmq map echo >"$T/echo.out" || fail "echo jobs"
assert_eq "$(wc -l <"$T/echo.out")" "20" "echo results"
tmq map fail a b c >"$T/fail.out"
assert_eq "$?" "1" "failing jobs exit 1"
tmq map sleep 30 40 >/dev/null || fail "sleep jobs"
tmq map crash x >"$T/crash.out"
assert_eq "$?" "1" "a crashing job exits 1"
grep -q '3 attempts' "$T/crash.out" || fail "crash: $(cat "$T/crash.out")"
tmq submit nosuch 1 >/dev/null 2>&1
until_value taskmq_clients_connected 0
for f in echo:20:20:0 fail:3:0:3 sleep:2:2:0 crash:1:0:1; do
    IFS=: read -r fn n done failed <<<"$f"
    assert_eq "$(value "taskmq_jobs_submitted_total{function=\"$fn\"}")" "$n" "$fn submitted"
    assert_eq "$(value "taskmq_jobs_done_total{function=\"$fn\"}")" "$done" "$fn done"
    assert_eq "$(value "taskmq_jobs_failed_total{function=\"$fn\"}")" "$failed" "$fn failed"
    assert_eq "$(value "taskmq_queue_depth{function=\"$fn\"}")" "0" "$fn queue depth"
    assert_eq "$(value "taskmq_jobs_leased{function=\"$fn\"}")" "0" "$fn leased"
    assert_eq "$(value "taskmq_function_processes{function=\"$fn\"}")" "2" "$fn processes"
done
assert_eq "$(value 'taskmq_jobs_retried_total{function="crash"}')" "2" "crash retried twice"
assert_eq "$(value 'taskmq_jobs_retried_total{function="fail"}')" "0" "errors are not retried"
# the histogram counts every result that carried a run time: all but the executor deaths
assert_eq "$(value 'taskmq_job_duration_seconds_count{function="echo"}')" "20" "echo timed"
assert_eq "$(value 'taskmq_job_duration_seconds_bucket{function="echo",le="+Inf"}')" "20" "echo +Inf"
assert_eq "$(value 'taskmq_job_duration_seconds_count{function="fail"}')" "3" "fail timed"
assert_eq "$(value 'taskmq_job_duration_seconds_count{function="crash"}')" "0" "deaths untimed"
assert_eq "$(value 'taskmq_job_duration_seconds_count{function="sleep"}')" "2" "sleep timed"
assert_eq "$(value 'taskmq_job_duration_seconds_bucket{function="sleep",le="0.025"}')" "0" \
    "sleep 30/40 ms: none at most 25 ms"
sleep_s=$(value 'taskmq_job_duration_seconds_sum{function="sleep"}')
awk -v s="$sleep_s" 'BEGIN {exit !(s >= 0.07)}' || fail "sleep run time sum: $sleep_s"
assert_eq "$(value 'taskmq_jobs_rejected_total{reason="unknown_function"}')" "1" "rejected"
assert_eq "$(value taskmq_workers_connected)" "1" "workers connected"
assert_eq "$(value 'taskmq_processes{state="busy"}')" "0" "busy processes"
assert_eq "$(value 'taskmq_processes{state="idle"}')" "2" "idle processes"
assert_eq "$(value taskmq_client_owed_bytes)" "0" "bytes owed"
pass "exact counts by function, retries, histogram, workers and processes"

tmq status --json >"$T/status.json" || fail "taskmq status"
scrape
assert_eq "$(total taskmq_jobs_done_total)" "$(jq .done "$T/status.json")" "done as in status"
assert_eq "$(total taskmq_jobs_failed_total)" "$(jq .failed "$T/status.json")" "failed as in status"
assert_eq "$(value taskmq_jobs_stale_total)" "$(jq .stale "$T/status.json")" "stale as in status"
assert_eq "$(total taskmq_jobs_done_total)" "22" "done in all"
promcheck "after jobs"
pass "the same totals as taskmq status; promtool passes"

timeout 60 "$TASKMQ_GARBAGE" client "$FRONTEND" 50 >/dev/null 2>&1 || fail "garbage to the frontend"
scrape
frontend_bad=$(value 'taskmq_malformed_messages_total{socket="frontend"}')
[ "$frontend_bad" -gt 0 ] || fail "malformed on the frontend: $frontend_bad"
assert_eq "$(value 'taskmq_malformed_messages_total{socket="backend"}')" "0" "backend malformed"
assert_eq "$(total taskmq_malformed_messages_total)" \
    "$(tmq status --json | jq .malformed)" "malformed as in status"
pass "malformed messages by socket ($frontend_bad on the frontend)"

code=$(curl -sS -o "$T/404" -w '%{http_code}' "${METRICS%/metrics}/")
assert_eq "$code" "404" "GET /"
grep -q "/metrics" "$T/404" || fail "404 body: $(cat "$T/404")"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "${METRICS}x")" "404" "GET /metricsx"
code=$(curl -sS -o /dev/null -D "$T/405.h" -w '%{http_code}' -X POST -d x "$METRICS")
assert_eq "$code" "405" "POST /metrics"
grep -qi '^Allow: GET, HEAD' "$T/405.h" || fail "405 without Allow: $(cat "$T/405.h")"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$METRICS")" "405" "DELETE"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -I "$METRICS")" "200" "HEAD /metrics"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$METRICS?x=1")" "200" "a query string"
ctype=$(curl -sS -o /dev/null -w '%{content_type}' "$METRICS")
assert_eq "$ctype" "text/plain; version=0.0.4; charset=utf-8" "content type"
pass "404 with a hint, 405 with Allow, HEAD, the exposition content type"

kill -TERM "$WORKER_PID"
until_value taskmq_workers_connected 0
assert_eq "$(value 'taskmq_jobs_done_total{function="echo"}')" "20" "echo done after w1 left"
assert_eq "$(value 'taskmq_job_duration_seconds_count{function="echo"}')" "20" "histogram kept"
assert_eq "$(value 'taskmq_function_workers{function="echo"}')" "0" "no worker for echo"
assert_eq "$(value 'taskmq_processes{state="idle"}')" "0" "no processes"
promcheck "after the worker left"
pass "counters outlive their worker"

# Function names are bytes from workers: an executor announcing hostile ones (a quote, a
# backslash, a newline, bytes that are not UTF-8) still gives an exposition promtool accepts.
cat >"$T/odd_executor.py" <<'PY'
import os, struct, msgpack
def frame(obj):
    data = msgpack.packb(obj, use_bin_type=True, unicode_errors="surrogateescape")
    os.write(3, struct.pack(">I", len(data)) + data)
names = ['say "hi"', "back\\slash", "new\nline", "caf\u00e9", "bad\udcffbyte", "bad\udcfebyte"]
frame([5, {"version": 1, "functions": names, "revoke": False}])
while os.read(3, 65536):
    pass
PY
start_worker odd --procs 1 --executor-cmd "/usr/bin/python3 $T/odd_executor.py"
until_value taskmq_workers_connected 1
assert_eq "$(value 'taskmq_function_workers{function="say \"hi\""}')" "1" "a quote escaped"
assert_eq "$(value 'taskmq_function_workers{function="back\\slash"}')" "1" "a backslash escaped"
assert_eq "$(value 'taskmq_function_workers{function="new\nline"}')" "1" "a newline escaped"
assert_eq "$(value "taskmq_function_workers{function=\"bad$(printf '\357\277\275')byte\"}")" "2" \
    "two names alike once their bad bytes are replaced: one series"
promcheck "hostile function names"
kill -TERM "$WORKER_PID"
until_value taskmq_workers_connected 0
pass "hostile function names: escaped, made UTF-8, promtool passes"

# usage errors: exit 2 with a message naming the flag
for bad in foo 127.0.0.1 127.0.0.1:99999 '::1:9100' 'no-such-host.invalid:9100'; do
    RES_OPTIONS="timeout:1 attempts:1" timeout 10 "$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
        --metrics "$bad" 2>"$T/bad.err"
    assert_eq "$?" "2" "--metrics $bad"
    grep -q "^taskmq-broker: --metrics: " "$T/bad.err" || fail "--metrics $bad: $(cat "$T/bad.err")"
done
timeout 10 "$BROKER" --metrics foo 2>"$T/bad.err"
grep -qx "taskmq-broker: --metrics: 'foo' is not ADDR:PORT (e.g. 127.0.0.1:9100, \[::1\]:9100, localhost:9100 or 0.0.0.0:9100)" \
    "$T/bad.err" || fail "--metrics foo: $(cat "$T/bad.err")"
"$BROKER" --help | grep -q -- "--metrics ADDR:PORT" || fail "--help lacks --metrics"
pass "a bad --metrics value exits 2 and says why"

port=${METRICS#http://127.0.0.1:}
port=${port%/metrics}
timeout 10 "$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
    --metrics "127.0.0.1:$port" 2>"$T/inuse.err"
assert_eq "$?" "1" "metrics port in use"
grep -q "cannot serve the metrics at 127.0.0.1:$port: port $port is already in use" \
    "$T/inuse.err" || fail "port in use message: $(cat "$T/inuse.err")"
kill -0 "$BROKER_PID" || fail "the first broker died"
pass "a metrics port in use exits 1 and says so"

# protected mode: a network address needs --insecure, keys or not
timeout 10 "$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
    --metrics '0.0.0.0:*' 2>"$T/net.err"
assert_eq "$?" "2" "network metrics without --insecure"
grep -q "faces the network" "$T/net.err" && grep -q -- "--insecure" "$T/net.err" \
    || fail "protected mode message: $(cat "$T/net.err")"
"$TASKMQ" keygen "$T/bk" >/dev/null && mkdir "$T/ck" || fail "keygen"
timeout 10 "$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
    --curve-cert "$T/bk_secret" --curve-dir "$T/ck" --metrics '0.0.0.0:*' 2>"$T/netk.err"
assert_eq "$?" "2" "network metrics with keys but without --insecure"
grep -q "no keys of its own" "$T/netk.err" || fail "with keys: $(cat "$T/netk.err")"
# --insecure opens it: bound inside a network namespace of its own (nothing but its loopback),
# so this test never listens on the machine's interfaces
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
    unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' "$BROKER" \
        --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' --insecure \
        --metrics '0.0.0.0:*' 2>"$T/open.log" &
    open=$!
    PIDS+=("$open")
    await_metrics "$T/open.log" "$open" || fail "--insecure metrics: $(cat "$T/open.log")"
    grep -q "are open to any host that reaches the port" "$T/open.log" || fail "no warning logged"
    port=${METRICS#http://0.0.0.0:}
    nsenter -t "$open" -n curl -sf "http://127.0.0.1:${port%/metrics}/metrics" >"$T/open.txt" ||
        fail "scrape of the open broker"
    grep -qx "taskmq_workers_connected 0" "$T/open.txt" || fail "open scrape: $(head "$T/open.txt")"
    kill -TERM "$open"
    wait "$open"
    assert_eq "$?" "0" "exit status after SIGTERM"
else
    echo "note: not root: --insecure 0.0.0.0 not tried (it binds in a network namespace)"
fi
pass "protected mode: 0.0.0.0 refused (exit 2), with keys too; allowed with --insecure and a warning"

"$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
    --metrics 'localhost:*' 2>"$T/lh.log" &
lh=$!
PIDS+=("$lh")
await_metrics "$T/lh.log" "$lh" || fail "localhost metrics: $(cat "$T/lh.log")"
[[ "$METRICS" == http://127.0.0.1:*/metrics ]] || fail "localhost bound as $METRICS"
scrape
promcheck "localhost"
kill -TERM "$lh"
wait "$lh"
if /usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    "$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
        --metrics '[::1]:*' 2>"$T/v6.log" &
    v6=$!
    PIDS+=("$v6")
    await_metrics "$T/v6.log" "$v6" || fail "[::1] metrics: $(cat "$T/v6.log")"
    [[ "$METRICS" == "http://[::1]:"*/metrics ]] || fail "[::1] bound as $METRICS"
    scrape
    assert_eq "$(value taskmq_workers_connected)" "0" "scrape over IPv6"
    kill -TERM "$v6"
    wait "$v6"
    pass "localhost and [::1]"
else
    pass "localhost ([::1] not tried: this host has no IPv6 loopback)"
fi
