# What the tool says and how it exits: usage errors 2 (a bad --broker says what a valid one
# looks like), an unresolvable host fails at once with the resolver's words (3), job
# failures print as `job failed: ...` and tool errors as `taskmq: ...`, --version, and -v
# logs the broker address and its answer.
. "$(dirname "$0")/lib.sh"

tmq --broker localhost:5555 status >/dev/null 2>"$T/bad"
assert_eq "$?" "2" "a malformed --broker"
grep -q "^taskmq: --broker: 'localhost:5555' is not an endpoint: use tcp://HOST:PORT (e.g. tcp://127.0.0.1:5555)$" "$T/bad" \
    || fail "bad --broker message: $(cat "$T/bad")"
TASKMQ_BROKER=tcp://127.0.0.1 tmq map echo 1 >/dev/null 2>"$T/env"
assert_eq "$?" "2" "a malformed \$TASKMQ_BROKER"
grep -q '^taskmq: \$TASKMQ_BROKER: ' "$T/env" || fail "bad \$TASKMQ_BROKER message: $(cat "$T/env")"
pass "a malformed endpoint is a usage error that shows a valid one"

t0=$SECONDS
tmq --broker tcp://no-such-host.invalid:5555 map echo 1 >/dev/null 2>"$T/dns"
assert_eq "$?" "3" "an unresolvable host"
[ $((SECONDS - t0)) -le 2 ] || fail "took $((SECONDS - t0)) s to fail an unresolvable host"
grep -q "^taskmq: cannot resolve host 'no-such-host.invalid': " "$T/dns" || fail "resolver message: $(cat "$T/dns")"
grep -qi "no broker answered" "$T/dns" && fail "waited for an answer instead"
pass "an unresolvable host fails at once with the resolver's words"

assert_eq "$(tmq --version)" "taskmq 0.5.0" "--version"
tmq map >/dev/null 2>&1; assert_eq "$?" "2" "map without FUNCTION"
tmq map echo --json --raw 1 >/dev/null 2>&1; assert_eq "$?" "2" "--json with --raw"
tmq functions extra >/dev/null 2>&1; assert_eq "$?" "2" "functions with an argument"
tmq --help | grep -q "4 lost the broker" || fail "--help does not state exit 4"
pass "--version, usage errors 2, exit statuses in --help"

tmq submit echo 1 --tag >/dev/null 2>"$T/tag"
assert_eq "$?" "2" "submit --tag"
assert_eq "$(cat "$T/tag")" "taskmq: --tag is for map
Try 'taskmq submit --help'." "submit --tag message"
tmq map --ordred echo 1 >/dev/null 2>"$T/typo"
assert_eq "$?" "2" "a mistyped option"
assert_eq "$(cat "$T/typo")" "taskmq: unknown option '--ordred' (did you mean '--ordered'?)
Try 'taskmq map --help'." "typo message"
tmq mapp echo 1 >/dev/null 2>"$T/typo2"
assert_eq "$(head -n1 "$T/typo2")" "taskmq: unknown subcommand 'mapp' (did you mean 'map'?)" "subcommand typo"
pass "map-only options refused by submit; near misses name the nearest; hints name the subcommand's help"

start_broker
start_worker w1 --procs 1
wait_workers 1
tmq submit fail >/dev/null 2>"$T/fail"
assert_eq "$?" "1" "submit fail"
grep -q "^job failed: " "$T/fail" || fail "a job failure is not told as one: $(cat "$T/fail")"
grep -q "^taskmq: " "$T/fail" && fail "a job failure printed as a tool error: $(cat "$T/fail")"
tmq submit fail 'disk on fire' >/dev/null 2>"$T/fail2"
assert_eq "$(cat "$T/fail2")" "job failed: disk on fire" "submit failure text"
pass "job failures say 'job failed:', tool errors 'taskmq:'"

tmq -v map echo 1 >/dev/null 2>"$T/v"
grep -q "connecting to the broker at $FRONTEND" "$T/v" || fail "-v lacks the broker address: $(cat "$T/v")"
grep -q "the broker at $FRONTEND answered (TMQ/1, heartbeat [0-9]* ms" "$T/v" || fail "-v lacks the answer: $(cat "$T/v")"
tmq map echo 1 2>"$T/quiet" >/dev/null
assert_eq "$(wc -c <"$T/quiet")" "0" "quiet without -v"
pass "-v says where it connects and what answered"

tmq status >"$T/status" || fail "status exited $?"
grep -q "^  w1 .*1 process, 0 busy" "$T/status" || fail "status lacks the worker: $(cat "$T/status")"
pass "status names the worker"
