# Any program that speaks the executor protocol (docs/EXECUTOR.md) serves jobs through
# `taskmq-worker --executor-cmd`: here tests/integration/executor.py, Python with msgpack and
# nothing of taskmq. Its functions are what the worker registers; results, errors, a crash
# and a time limit go as for the built-in executor; it gets one job at a time (it does not
# hand jobs back); a program that cannot run, that says it cannot serve, or that speaks
# another protocol version stops the worker at start with a clear message.
. "$(dirname "$0")/lib.sh"
PY="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/executor.py"
start_broker
start_worker py --procs 2 --executor-cmd "$PY"
wait_workers 1

assert_eq "$(tmq functions --json | jq -c '[.[].name] | sort')" '["add","die","pysleep","upper"]' \
    "the worker registers what its executors announce"
assert_eq "$(tmq status --json | jq -c '.workers[0].functions | sort')" '["add","die","pysleep","upper"]' \
    "status lists them"
pass "functions come from the executors' HELLO"

tmq map upper hello world >"$T/up" || fail "map upper exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/up")" '["HELLO","WORLD"]' "upper"
assert_eq "$(tmq submit add '[40, 2]')" "42" "add"
tmq map upper 5 >"$T/uperr"
assert_eq "$?" "1" "a job error"
assert_eq "$(jq -r .error "$T/uperr")" "upper: argument must be a string, got 5" "its text"
tmq map sum 1 >/dev/null 2>"$T/sum.err"
assert_eq "$?" "1" "a function the worker does not have"
grep -q "unknown function: sum" "$T/sum.err" || fail "sum: $(cat "$T/sum.err")"
pass "results and errors"

tmq map --retries 0 die 1 >"$T/die"
assert_eq "$?" "1" "a crash fails its job"
[[ "$(jq -r .error "$T/die")" == "executor died: SIGSEGV"* ]] || fail "crash: $(cat "$T/die")"
assert_eq "$(tmq submit upper again)" '"AGAIN"' "served on after the crash"
tmq map --timeout 300 pysleep 5000 >"$T/to"
assert_eq "$(jq -r .error "$T/to")" "timeout after 300 ms" "a time limit"
pass "crash and time limit as for any executor"

# One job at a time per process, both processes used: 4 x 400 ms in about 800 ms, not 400.
t0=$(date +%s%N)
tmq map pysleep 400 400 400 400 >"$T/par" || fail "pysleep exited $?"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "$(jq -s -c '[.[].worker] | unique | length' "$T/par")" "2" "both executors ran jobs"
[ "$ms" -ge 750 ] || fail "4 x 400 ms on 2 processes took $ms ms: more than one job at once?"
pass "an executor that does not hand jobs back gets one at a time"

timeout 20 "$WORKER" --broker "$BACKEND" --executor-cmd /nonexistent/executor 2>"$T/e1"
assert_eq "$?" "1" "a program that cannot run"
grep -q "ERROR --executor-cmd: cannot run '/nonexistent/executor': No such file or directory" "$T/e1" \
    || fail "message: $(cat "$T/e1")"
timeout 20 "$WORKER" --broker "$BACKEND" --executor-cmd "$PY --hello-error 'no GPU here'" 2>"$T/e2"
assert_eq "$?" "2" "an executor that says it cannot serve"
grep -q "the executor cannot serve: no GPU here" "$T/e2" || fail "message: $(cat "$T/e2")"
timeout 20 "$WORKER" --broker "$BACKEND" --executor-cmd "$PY --version 9" 2>"$T/e3"
assert_eq "$?" "2" "another protocol version"
grep -q "speaks executor protocol 9 (this worker speaks 1)" "$T/e3" || fail "message: $(cat "$T/e3")"
timeout 20 "$WORKER" --broker "$BACKEND" --executor-cmd 'cat | wc' 2>"$T/e4"
assert_eq "$?" "2" "a pipeline is not a command"
grep -q -- "--executor-cmd: .*needs quoting" "$T/e4" || fail "message: $(cat "$T/e4")"
pass "a bad executor stops the worker at start, saying why"
