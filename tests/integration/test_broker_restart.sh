# Workers outlive their broker: after a broker restart (clean, or killed without a word) the
# worker daemons reconnect with backoff, register again, and serve new jobs (Paranoid Pirate).
# A client with jobs in flight when the broker dies gets each of them back failed, never hangs.
. "$(dirname "$0")/lib.sh"
start_broker --heartbeat 250
start_worker w1 --procs 1
wait_workers 1
assert_eq "$(tmq submit echo 1)" "1" "before restart"

restart() { # same endpoints, a new broker process
    "$BROKER" --frontend "$FRONTEND" --backend "$BACKEND" --heartbeat 250 2>>"$T/broker.log" &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
}

kill -TERM "$BROKER_PID"; wait "$BROKER_PID"
restart
wait_workers 1
assert_eq "$(tmq submit echo 2)" "2" "after a clean restart"
pass "worker re-registers after a clean broker restart"

kill -KILL "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
sleep 1                                            # silent past 3 x 250 ms: the worker notices
restart
wait_workers 1
assert_eq "$(tmq submit echo 3)" "3" "after a crash restart"
grep -q "registered again" "$T/worker-w1.log" || fail "worker log does not show re-registration"
pass "worker reconnects after the broker was killed"

# Jobs in flight when the broker is killed and restarted at once: the new broker does not
# know the client, says so, and the client fails those jobs (no journal yet) and exits 4.
tmq map sleep 3000 3000 >"$T/lost" 2>"$T/lost.err" &
client=$!
sleep 0.5
kill -KILL "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
restart
t0=$(date +%s)
wait "$client"
assert_eq "$?" "4" "client exit status after losing its broker"
[ $(( $(date +%s) - t0 )) -le 10 ] || fail "client took too long to give up"
assert_eq "$(jq -r .error "$T/lost" | sort -u)" "lost contact with the broker" "lost jobs"
assert_eq "$(wc -l <"$T/lost")" "2" "one line per job"
grep -q "^taskmq: lost contact with the broker .*: 2 jobs did not finish$" "$T/lost.err" || fail "lost message: $(cat "$T/lost.err")"
wait_workers 1
assert_eq "$(tmq submit echo 4)" "4" "serving after all that"
pass "a client's in-flight jobs fail cleanly when its broker restarts"
