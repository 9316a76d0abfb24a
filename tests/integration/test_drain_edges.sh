# Drains in the corners, against a fake broker (fake_broker.py): a broker older than DRAIN
# answers it with ERROR, so it would keep sending jobs: the worker stops at once and says BYE
# (which requeues its running jobs there); and a worker stopped before any WELCOME still says
# BYE, so a broker that got its READY does not keep a worker that is gone.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
FAKE="$(dirname "$0")/fake_broker.py"

# fake MODE: starts the fake broker; sets FAKE_PID and FAKE_EP
fake() {
    rm -f "$T/ep"
    "$PY" "$FAKE" "$T/ep" "$1" >"$T/fake-$1.out" 2>"$T/fake-$1.err" &
    FAKE_PID=$!
    PIDS+=("$FAKE_PID")
    for _ in $(seq 1 100); do [ -s "$T/ep" ] && break; sleep 0.05; done
    FAKE_EP=$(cat "$T/ep" 2>/dev/null) || fail "the fake broker did not start: $(cat "$T/fake-$1.err")"
}

# ---- a broker that does not know DRAIN ----
fake old
"$WORKER" --broker "$FAKE_EP" --name old --procs 2 2>"$T/worker-old.log" &
W=$!
PIDS+=("$W")
for _ in $(seq 1 100); do grep -q "registered with" "$T/worker-old.log" && break; sleep 0.05; done
sleep 0.3 # its two 5 s jobs run
t0=$(date +%s%N)
kill -TERM "$W"
for _ in $(seq 1 50); do kill -0 "$W" 2>/dev/null || break; sleep 0.1; done
kill -0 "$W" 2>/dev/null && fail "the worker still runs 5 s after SIGTERM against an old broker"
wait "$W"
assert_eq "$?" "0" "exit status"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 2500 ] || fail "it took $ms ms to stop"
wait "$FAKE_PID"
assert_eq "$(grep -c '^DRAIN$' "$T/fake-old.out")" "1" "DRAIN said once"
grep -q '^BYE$' "$T/fake-old.out" || fail "no BYE: $(cat "$T/fake-old.out")"
grep -q "the broker did not take DRAIN" "$T/worker-old.log" || fail "no word of it: $(cat "$T/worker-old.log")"
grep -q "stopping now: the broker cannot be told to send no more jobs; 2 running jobs handed back" \
    "$T/worker-old.log" || fail "why it stops: $(cat "$T/worker-old.log")"
pass "a broker older than DRAIN: the worker stops at once (${ms} ms) with BYE, its 2 running jobs handed back"

# ---- stopped before any WELCOME ----
fake silent
"$WORKER" --broker "$FAKE_EP" --name early --procs 1 2>"$T/worker-early.log" &
W=$!
PIDS+=("$W")
for _ in $(seq 1 100); do grep -q '^READY$' "$T/fake-silent.out" && break; sleep 0.05; done
grep -q '^READY$' "$T/fake-silent.out" || fail "no READY reached the fake broker"
kill -TERM "$W"
for _ in $(seq 1 30); do kill -0 "$W" 2>/dev/null || break; sleep 0.1; done
kill -0 "$W" 2>/dev/null && fail "the worker still runs 3 s after SIGTERM"
wait "$W"
assert_eq "$?" "0" "exit status"
wait "$FAKE_PID"
grep -q '^BYE$' "$T/fake-silent.out" || fail "no BYE after an unanswered READY: $(cat "$T/fake-silent.out")"
assert_eq "$(grep -c '^READY$' "$T/fake-silent.out")" "1" "READY sent once"
pass "stopped before any WELCOME: BYE all the same, no READY again"
