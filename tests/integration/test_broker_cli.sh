# taskmq-broker's command line: --version, --help with the exit statuses, endpoint syntax
# checked at parse time (exit 2), bind failures that say why (exit 1), a host name bound at its
# address, and exit 0 after a clean shutdown.
. "$(dirname "$0")/lib.sh"

"$BROKER" --version >"$T/ver" || fail "--version exited $?"
grep -Eqx 'taskmq-broker [0-9]+\.[0-9]+\.[0-9]+' "$T/ver" || fail "--version says: $(cat "$T/ver")"
"$BROKER" --help >"$T/help" || fail "--help exited $?"
grep -q "Exit status: 0 after a clean shutdown" "$T/help" || fail "--help lacks exit statuses"
grep -q "1 when an endpoint cannot be bound or the journal cannot be opened" "$T/help" && grep -q "2 on a usage error" "$T/help" || fail "--help exit 1/2"
"$BROKER" -V | grep -Eqx 'taskmq-broker [0-9]+\.[0-9]+\.[0-9]+' || fail "-V"
timeout 10 "$BROKER" --max-queue abc 2>"$T/num.err"
assert_eq "$?" "2" "a number that is not one"
grep -qx -- "taskmq-broker: --max-queue: 'abc' is not a number in 1..100000000" "$T/num.err" \
    || fail "number message: $(cat "$T/num.err")"
timeout 10 "$BROKER" --frontnd x 2>"$T/opt.err"
assert_eq "$?" "2" "unknown option"
grep -qx -- "taskmq-broker: unknown option '--frontnd'" "$T/opt.err" || fail "$(cat "$T/opt.err")"
# no prefixes: --ins must not open the broker (nothing is bound: the check comes first)
timeout 10 "$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' --ins 2>"$T/pre.err"
assert_eq "$?" "2" "an option's prefix"
grep -qx -- "taskmq-broker: unknown option '--ins' (did you mean --insecure?)" "$T/pre.err" ||
    fail "prefix: $(cat "$T/pre.err")"
pass "--version and --help"

timeout 10 "$BROKER" --frontend foo 2>"$T/syn.err"
assert_eq "$?" "2" "bad --frontend syntax"
grep -q -- "--frontend: 'foo' is not an endpoint: use tcp://HOST:PORT" "$T/syn.err" \
    || fail "bad --frontend message: $(cat "$T/syn.err")"
timeout 10 "$BROKER" --backend 'tcp://127.0.0.1:99999' 2>"$T/syn2.err"
assert_eq "$?" "2" "bad --backend port"
grep -q -- "--backend: .*the port must be a number from 1 to 65535" "$T/syn2.err" \
    || fail "bad --backend message: $(cat "$T/syn2.err")"
pass "endpoint syntax errors exit 2 and name the flag"

start_broker
port=${FRONTEND##*:}
timeout 10 "$BROKER" --frontend "$FRONTEND" --backend 'tcp://127.0.0.1:*' 2>"$T/inuse.err"
assert_eq "$?" "1" "port in use"
grep -q "port $port is already in use (another broker?)" "$T/inuse.err" \
    || fail "port in use message: $(cat "$T/inuse.err")"
timeout 10 "$BROKER" --frontend 'tcp://192.0.2.1:7555' --backend 'tcp://127.0.0.1:*' 2>"$T/addr.err"
assert_eq "$?" "1" "an address of another machine"
grep -q "'192.0.2.1' is not an address or interface of this machine; use tcp://\*:7555 or one of its addresses" \
    "$T/addr.err" || fail "foreign address message: $(cat "$T/addr.err")"
kill -0 "$BROKER_PID" || fail "the first broker died"
pass "bind failures exit 1 and say why"

# A host name binds at the address it resolves to; a clean shutdown exits 0.
"$BROKER" --frontend 'tcp://localhost:*' --backend 'tcp://localhost:*' 2>"$T/lh.log" &
lh=$!
PIDS+=("$lh")
tmq_await_endpoints "$T/lh.log" "$lh" || fail "localhost broker did not start: $(cat "$T/lh.log")"
[[ "$FRONTEND" == tcp://127.0.0.1:* ]] || fail "localhost bound as $FRONTEND"
export TASKMQ_BROKER="$FRONTEND"
start_worker lh --procs 1
assert_eq "$(tmq submit echo 7)" "7" "a job through the localhost broker"
kill -TERM "$lh"
wait "$lh"
assert_eq "$?" "0" "exit status after SIGTERM"
pass "tcp://localhost:* binds; SIGTERM exits 0"
