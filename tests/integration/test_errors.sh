# Failures are per job: unknown function, bad argument and fail give ok:false lines and
# exit 1 while the other jobs succeed; usage errors exit 2; no broker exits 3.
. "$(dirname "$0")/lib.sh"

# No broker at all: exit 3 with a clear message, quickly.
start=$(date +%s)
TASKMQ_BROKER=tcp://127.0.0.1:9 tmq --connect-timeout 1000 map echo 1 >"$T/nb.out" 2>"$T/nb.err"
rc=$?
assert_eq "$rc" "3" "exit status without a broker"
grep -qi "no broker" "$T/nb.err" || fail "message without a broker: $(cat "$T/nb.err")"
[ $(( $(date +%s) - start )) -le 5 ] || fail "took too long to give up"
pass "no broker: exit 3"

start_broker
start_worker w1 --procs 2
wait_workers 1

tmq map sum 10 -1 '"x"' 20 >"$T/out"
assert_eq "$?" "1" "exit status with failed jobs"
assert_eq "$(wc -l <"$T/out")" "4" "a line per job"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.ok)' "$T/out")" "[true,false,false,true]" "ok flags"
assert_eq "$(jq -r 'select(.index==1) | .error' "$T/out")" "sum: argument must be a non-negative integer, got -1" "bad argument error"
assert_eq "$(jq -r 'select(.index==1) | keys_unsorted | join(",")' "$T/out")" "index,ok,error" "error line keys"
pass "bad arguments fail alone"

tmq map fail 'disk on fire' >"$T/fail"
assert_eq "$?" "1" "exit status of fail"
assert_eq "$(jq -r .error "$T/fail")" "disk on fire" "fail carries its text"
pass "fail"

tmq map nosuch 1 2 >"$T/unk" 2>"$T/unk.err"
assert_eq "$?" "1" "exit status of unknown function"
assert_eq "$(wc -c <"$T/unk")" "0" "no lines for a function nobody serves"
assert_eq "$(cat "$T/unk.err")" "taskmq: unknown function: nosuch — no connected worker serves it (taskmq functions lists what is served)" "unknown function"
pass "unknown function"

tmq submit nosuch 1 >/dev/null 2>"$T/sub.err"
assert_eq "$?" "1" "submit of an unknown function"
grep -q "unknown function: nosuch" "$T/sub.err" || fail "submit error text: $(cat "$T/sub.err")"

deep="$(printf '[%.0s' $(seq 40))1$(printf ']%.0s' $(seq 40))"
printf '1\n%s\n3\n' "$deep" | tmq map echo >"$T/deep"
assert_eq "$?" "1" "exit status with an argument too deep"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.ok)' "$T/deep")" "[true,false,true]" "deep argument fails alone"
[[ "$(jq -r 'select(.index==1) | .error' "$T/deep")" == "bad job"* ]] || fail "deep argument error: $(cat "$T/deep")"
tmq map echo 1 "$deep" 3 >"$T/deep2"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.ok)' "$T/deep2")" "[true,false,true]" "deep ARG fails alone"
pass "an argument nested too deep fails alone; later input still runs"

assert_eq "$(tmq submit sum 5)" "10" "still serving"
pass "the worker keeps serving"

tmq frobnicate >/dev/null 2>&1; assert_eq "$?" "2" "unknown subcommand"
tmq map >/dev/null 2>&1; assert_eq "$?" "2" "map without a function"
tmq --timeout abc map echo 1 >/dev/null 2>&1; assert_eq "$?" "2" "bad number"
"$BROKER" --heartbeat nope >/dev/null 2>&1; assert_eq "$?" "2" "broker bad flag"
"$WORKER" --procs 0 >/dev/null 2>&1; assert_eq "$?" "2" "worker bad flag"
for prog in "$TASKMQ" "$BROKER" "$WORKER"; do
    "$prog" --help >"$T/help" 2>&1 || fail "$prog --help exited $?"
    grep -qi "usage" "$T/help" || fail "$prog --help has no usage"
done
pass "usage errors exit 2; --help everywhere"
