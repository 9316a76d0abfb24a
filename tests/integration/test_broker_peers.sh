# What the broker tells its peers and its operator: a client on the worker port gets ERROR 5
# naming the right ports, STATUS shows each worker's address as IP:PORT, its functions and the
# cluster's, -v logs registrations, connections and why jobs wait, and a clean shutdown says
# BYE to clients at once.
. "$(dirname "$0")/lib.sh"
: "${TASKMQ_GARBAGE:?}"
start_broker -v
start_worker w1 --procs 2
wait_workers 1
# in_log PATTERN: until the broker's log has a line matching PATTERN (5 s at most).
in_log() {
    for _ in $(seq 1 100); do grep -q "$1" "$T/broker.log" && return 0; sleep 0.05; done
    return 1
}
feport=${FRONTEND##*:}
beport=${BACKEND##*:}

reply=$(timeout 20 "$TASKMQ_GARBAGE" hello "$BACKEND") || fail "no answer to HELLO on the backend"
assert_eq "$reply" "ERROR 5 this is a broker's worker port ($beport); clients connect to $feport" "wrong port"
assert_eq "$(timeout 20 "$TASKMQ_GARBAGE" hello "$FRONTEND")" "WELCOME" "HELLO on the frontend"
pass "a client on the worker port is told where to go"

tmq map echo 1 2 3 >/dev/null || fail "map exited $?"
tmq status --json >"$T/st" || fail "status --json exited $?"
addr=$(jq -r '.workers[0].addr' "$T/st")
[[ "$addr" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "worker addr: '$addr'"
if command -v ss >/dev/null; then # the worker's end of its connection to the backend
    ss -tn state established "( sport = :${addr##*:} and dport = :$beport )" | grep -q 127.0.0.1 \
        || fail "no connection from $addr to the backend"
fi
assert_eq "$(jq -r '.version' "$T/st")" "$("$BROKER" --version | cut -d' ' -f2)" "broker version"
assert_eq "$(jq -c '.workers[0] | [has("failed"), has("version"), (.seen_ms | type)]' "$T/st")" \
    '[true,true,"number"]' "per-worker keys"
assert_eq "$(jq -r '.workers[0].done' "$T/st")" "3" "per-worker done"
assert_eq "$(jq -r '.workers[0].functions | index("echo") != null' "$T/st")" "true" "worker functions"
assert_eq "$(jq -c '.functions[] | select(.name == "echo") | [.workers, .procs, .queued]' "$T/st")" \
    "[1,2,0]" "cluster functions"
pass "status shows the worker at $addr, its functions and the cluster's"

in_log "worker w1 at 127.0.0.1:[0-9]* (pid [0-9]*, 2 procs, version .*) ready: .*echo" \
    || fail "no registration line: $(grep worker "$T/broker.log")"
in_log "client [0-9a-f]* connected (HELLO)" || fail "no client connection line"
in_log "client [0-9a-f]* left (BYE)" || fail "no client leaving line"
pass "-v logs registrations and clients coming and going"

# A clean shutdown: a waiting client hears BYE at once; the broker exits 0.
timeout 20 "$TASKMQ_GARBAGE" await-bye "$FRONTEND" 10000 >"$T/bye" 2>"$T/bye.err" &
bye=$!
PIDS+=("$bye")
for _ in $(seq 1 100); do grep -q welcomed "$T/bye" && break; sleep 0.05; done
grep -q welcomed "$T/bye" || fail "await-bye client not welcomed: $(cat "$T/bye.err")"
t0=$(date +%s%N)
kill -TERM "$BROKER_PID"
wait "$bye" || fail "client heard no BYE: $(cat "$T/bye.err")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 3000 ] || fail "BYE took $ms ms"
wait "$BROKER_PID"
assert_eq "$?" "0" "broker exit status after SIGTERM"
pass "clients hear BYE at a clean shutdown ($ms ms)"

# Without any worker, -v says why jobs wait (once per function, not per job).
kill -TERM "$WORKER_PID"
wait "$WORKER_PID"
start_broker -v
( tmq map echo 1 2 3 >/dev/null 2>&1 ) &
waiting=$!
PIDS+=("$waiting")
in_log "jobs for 'echo' wait: no worker is connected yet" || fail "no line on waiting jobs"
sleep 0.5 # several scans later: still said once
assert_eq "$(grep -c "jobs for 'echo' wait: no worker is connected yet" "$T/broker.log")" "1" \
    "one line for the waiting function"
start_worker w2 --procs 1
wait "$waiting" || fail "the waiting jobs did not run once a worker came"
pass "-v says why jobs wait"
