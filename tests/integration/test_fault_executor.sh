# Executor deaths and time limits: a crashing job fails alone with the signal named after its
# retries; a job past --timeout is killed and reported; the worker keeps serving.
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 2 --test-functions
wait_workers 1

tmq map crash x >"$T/crash"
assert_eq "$?" "1" "exit status"
err=$(jq -r .error "$T/crash")
[[ "$err" == "executor died: SIGSEGV"* ]] || fail "crash error: $err"
[[ "$err" == *"3 attempts"* ]] || fail "crash error lacks the attempt count: $err"
pass "crash fails with the signal after 3 attempts"

tmq --retries 0 map crash x >"$T/crash0"
[[ "$(jq -r .error "$T/crash0")" == *"1 attempts"* || "$(jq -r .error "$T/crash0")" == *"1 attempt"* ]] \
    || fail "--retries 0: $(cat "$T/crash0")"
pass "--retries 0 gives up after one attempt"

printf '%s\n' '"boom"' 1 2 3 4 5 6 7 8 >"$T/in"
# index 0 crashes (crash ignores its argument); the echo jobs around it all succeed
tmq map crash x >/dev/null &
crasher=$!
tmq map echo <"$T/in" >"$T/echo"
wait "$crasher"
assert_eq "$(jq -s 'map(select(.ok)) | length' "$T/echo")" "9" "echo jobs beside a crash"
assert_eq "$(tmq submit sum 100)" "4950" "serving after crashes"
pass "the worker keeps serving after crashes"

start=$(date +%s%N)
tmq --timeout 500 map sleep 20000 >"$T/to"
assert_eq "$?" "1" "exit status of a timeout"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
assert_eq "$(jq -r .error "$T/to")" "timeout after 500 ms" "timeout error"
[ "$elapsed" -lt 5000 ] || fail "timeout took ${elapsed} ms"
tmq --timeout 2000 map sleep 10 20 >"$T/after" || fail "jobs after a timeout exited $?"
assert_eq "$(jq -s 'map(select(.ok)) | length' "$T/after")" "2" "jobs after a timeout"
pass "--timeout kills the job and the next jobs run (${elapsed} ms)"
