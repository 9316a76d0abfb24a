# A C program that exits without tmq_client_destroy (returning from main, exit() on an
# error path, with jobs in flight, or with no broker ever answering) exits with the status
# it chose: no "dangling socket", no assertion, no abort, no sanitizer report (lib.sh).
. "$(dirname "$0")/lib.sh"
: "${TASKMQ_NO_DESTROY:?TASKMQ_NO_DESTROY must point at the built tmq_no_destroy}"
start_broker
start_worker w1 --procs 2
wait_workers 1

run() { # run MODE ENDPOINT WANT_STATUS
    local t0=$SECONDS
    timeout 20 "$TASKMQ_NO_DESTROY" "$1" "$2" >"$T/$1.out" 2>"$T/$1.err"
    local rc=$?
    assert_eq "$rc" "$3" "exit status of '$1' ($(cat "$T/$1.err"))"
    if grep -qiE "dangling|assert|abort" "$T/$1.err"; then fail "'$1' stderr: $(cat "$T/$1.err")"; fi
    [ $((SECONDS - t0)) -le 5 ] || fail "'$1' took $((SECONDS - t0)) s to exit"
}
run return "$FRONTEND" 0
pass "return from main without destroy: status 0, clean"
run exit3 "$FRONTEND" 3
pass "exit(3) with jobs in flight without destroy: status 3, clean"
run silent tcp://127.0.0.1:9 5
pass "no broker ever answered: status 5, clean, no lingering"
run two "$FRONTEND" 0
pass "one client destroyed, one not"

# The broker heard BYE from the client that left without destroy: its running jobs were
# cancelled, so nothing stays busy.
for _ in $(seq 1 50); do
    busy=$(tmq status --json | jq '.running')
    [ "$busy" = 0 ] && break
    sleep 0.1
done
assert_eq "$busy" "0" "the broker cancelled the jobs of the clients that left"
pass "BYE was said at exit"
