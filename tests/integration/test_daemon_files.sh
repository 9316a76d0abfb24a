# --log-file and --pid-file on both daemons: the pid file holds the daemon's pid while it runs
# and is gone after a clean stop; the log goes to the file (appended), not to stderr; a file
# that cannot be written stops the program at start with exit 2 and the reason.
. "$(dirname "$0")/lib.sh"
"$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' --log-file "$T/b.log" \
    --pid-file "$T/b.pid" 2>"$T/b.err" &
BP=$!
PIDS+=("$BP")
tmq_await_endpoints "$T/b.log" "$BP" || fail "the broker did not log its endpoints to the file"
assert_eq "$(cat "$T/b.pid")" "$BP" "the broker's pid file"
assert_eq "$(cat "$T/b.err")" "" "nothing on stderr: the log is in the file"
"$WORKER" --broker "$BACKEND" --procs 1 --name files --log-file "$T/w.log" --pid-file "$T/w.pid" \
    2>"$T/w.err" &
WP=$!
PIDS+=("$WP")
for _ in $(seq 1 100); do grep -q "serving" "$T/w.log" 2>/dev/null && break; sleep 0.1; done
grep -q "worker 'files'" "$T/w.log" || fail "the worker's log file: $(cat "$T/w.log" "$T/w.err")"
assert_eq "$(cat "$T/w.pid")" "$WP" "the worker's pid file"
assert_eq "$(TASKMQ_BROKER=$FRONTEND tmq submit sum 10)" "45" "served"
kill -HUP "$BP"
for _ in $(seq 1 50); do grep -q "SIGHUP" "$T/b.log" && break; sleep 0.1; done
grep -q "SIGHUP: no key directories to read again" "$T/b.log" || fail "SIGHUP: $(cat "$T/b.log")"
assert_eq "$(TASKMQ_BROKER=$FRONTEND tmq submit sum 10)" "45" "served after SIGHUP"
kill -TERM "$WP" "$BP"
wait "$WP"
assert_eq "$?" "0" "the worker stopped cleanly"
wait "$BP"
assert_eq "$?" "0" "the broker stopped cleanly"
[ ! -e "$T/w.pid" ] && [ ! -e "$T/b.pid" ] || fail "pid files left: $(ls "$T")"
grep -q "shutting down" "$T/b.log" || fail "the broker's last words are not in its file"
pass "--log-file and --pid-file on the broker and the worker; SIGHUP does not stop the broker"

"$BROKER" --frontend 'tcp://127.0.0.1:*' --pid-file /nonexistent/dir/b.pid 2>"$T/e1"
assert_eq "$?" "2" "an unwritable --pid-file"
grep -q "cannot write /nonexistent/dir/b.pid" "$T/e1" || fail "message: $(cat "$T/e1")"
"$WORKER" --log-file /nonexistent/dir/w.log 2>"$T/e2"
assert_eq "$?" "2" "an unwritable --log-file"
grep -q "cannot write /nonexistent/dir/w.log" "$T/e2" || fail "message: $(cat "$T/e2")"
pass "a file that cannot be written: exit 2 with the reason"
