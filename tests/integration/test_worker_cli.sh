# taskmq-worker as a user meets it: --version, bad endpoints (usage error 2), a broker host
# that does not resolve (3, at once, with the resolver's words), the broker's client port
# given instead of its worker port (3, with the broker's reason), and executors named in ps.
. "$(dirname "$0")/lib.sh"

out=$("$WORKER" --version) || fail "--version exited $?"
[[ "$out" =~ ^taskmq-worker\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version said '$out'"
"$WORKER" --help | grep -q "Exit status" || fail "--help does not state the exit statuses"
pass "--version and --help"

"$WORKER" --broker localhost:5556 2>"$T/e1"
assert_eq "$?" "2" "endpoint without a scheme"
grep -q "tcp://HOST:PORT" "$T/e1" || fail "message: $(cat "$T/e1")"
"$WORKER" --broker tcp://127.0.0.1:99999 2>"$T/e2"
assert_eq "$?" "2" "port out of range"
pass "bad endpoints are usage errors"

start=$(date +%s%N)
timeout 10 "$WORKER" --broker tcp://no-such-host.invalid:5556 2>"$T/e3"
assert_eq "$?" "3" "unresolvable host"
grep -q "cannot resolve host 'no-such-host.invalid'" "$T/e3" || fail "message: $(cat "$T/e3")"
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000 ] || fail "took too long to give up"
pass "unresolvable broker host: exit 3 at once"

start_broker
timeout 10 "$WORKER" --broker "$FRONTEND" --procs 1 2>"$T/e4"
assert_eq "$?" "3" "worker pointed at the client port"
grep -q "this is a broker's client port" "$T/e4" || fail "message: $(cat "$T/e4")"
pass "client port instead of worker port: exit 3 with the broker's reason"

start_worker psname --procs 2
wait_workers 1
n=0
for _ in $(seq 1 50); do
    n=$(ps -o args= --ppid "$WORKER_PID" | grep -c '^taskmq-worker: executor (psname)$')
    [ "$n" = 2 ] && break
    sleep 0.1
done
assert_eq "$n" "2" "executors shown in ps as 'taskmq-worker: executor (psname)'"
assert_eq "$(ps -o comm= --ppid "$WORKER_PID" | sort -u)" "taskmq-executor" "executor thread name"
pass "executors named in ps"
