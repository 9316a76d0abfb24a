# A client killed with 2,000 jobs queued has them dropped within seconds and its running jobs
# stopped (20 s jobs, gone in under 5 s), so it never holds the pool; Ctrl-C does the same
# with a clear message.
. "$(dirname "$0")/lib.sh"
start_broker --heartbeat 250
start_worker w1 --procs 2
wait_workers 1

wait_queued_over() {
    for _ in $(seq 1 100); do
        [ "$(status_field queued)" -gt "$1" ] && return 0
        sleep 0.05
    done
    fail "queue never passed $1"
}
wait_queue_empty() { # within 5 s
    for _ in $(seq 1 50); do
        [ "$(status_field queued)" = 0 ] && [ "$(status_field running)" = 0 ] && return 0
        sleep 0.1
    done
    fail "queue not drained: $(tmq status --json)"
}

yes 20000 | head -n 2000 >"$T/in"
"$TASKMQ" map sleep <"$T/in" >/dev/null 2>&1 &
client=$!
wait_queued_over 1000
kill -KILL "$client"
wait "$client" 2>/dev/null
t0=$(date +%s%N)
wait_queue_empty
echo "# queue dropped $(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill"
assert_eq "$(tmq submit echo 5)" "5" "a new client's job runs promptly"
pass "killed client's jobs are dropped"

"$TASKMQ" map sleep <"$T/in" >/dev/null 2>"$T/int.err" &
client=$!
wait_queued_over 1000
kill -INT "$client"
wait "$client"
assert_eq "$?" "130" "exit status on SIGINT"
grep -q "interrupted" "$T/int.err" || fail "SIGINT message: $(cat "$T/int.err")"
wait_queue_empty
pass "Ctrl-C cancels the client's jobs"
