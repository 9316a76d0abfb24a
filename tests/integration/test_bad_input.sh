# Thousands of random and malformed messages on both broker sockets and on a worker's:
# nothing crashes, and normal jobs run after.
. "$(dirname "$0")/lib.sh"
: "${TASKMQ_GARBAGE:?}"
start_broker --max-payload 4096
start_worker w1 --procs 2
wait_workers 1

timeout 60 "$TASKMQ_GARBAGE" client "$FRONTEND" 4000 || fail "broker frontend under garbage"
timeout 60 "$TASKMQ_GARBAGE" worker "$BACKEND" 4000 || fail "broker backend under garbage"
kill -0 "$BROKER_PID" || fail "broker died"
assert_eq "$(tmq status --json | jq '.malformed > 1000')" "true" "malformed messages counted"
pass "broker survives 8,000 malformed messages"

# An oversized argument is refused with a reason; the broker keeps serving.
head -c 10000 /dev/zero | tr '\0' a >"$T/big"; echo >>"$T/big"
tmq map echo <"$T/big" >"$T/bigout"
assert_eq "$?" "1" "oversized job fails"
assert_eq "$(jq -r .error "$T/bigout")" "payload too large: 10003 bytes (limit 4096)" "oversized job error"
pass "oversized payload refused"

# A worker attacked by a fake broker keeps serving real jobs.
timeout 60 "$TASKMQ_GARBAGE" fakebroker 3000 >"$T/fake.ep" 2>"$T/fake.log" &
fake=$!
PIDS+=("$fake")
for _ in $(seq 1 50); do [ -s "$T/fake.ep" ] && break; sleep 0.1; done
"$WORKER" --broker "$(head -n1 "$T/fake.ep")" --procs 1 --name victim 2>"$T/victim.log" &
PIDS+=($!)
victim=$!
wait "$fake" || fail "worker under garbage did not run the real job: $(cat "$T/fake.log")"
kill -0 "$victim" || fail "worker died under garbage"
pass "worker survives 3,000 malformed messages and runs a job after"

tmq map sum 10 20 >"$T/after" || fail "jobs after the attack exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/after")" "[45,190]" "results after"
pass "normal jobs run after"
