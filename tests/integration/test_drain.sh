# A worker drains on SIGTERM: it takes no new jobs, hands back what it has not started, lets
# its running jobs finish, says BYE and exits 0; a second SIGTERM (or --drain-timeout) hands the
# running ones back at once, to run elsewhere. Every job of a run that a drain cuts across ends
# exactly once, all ok. A broker whose only worker drains keeps its jobs waiting (they are not
# "unknown function") until a worker comes.
. "$(dirname "$0")/lib.sh"

# results FILE N: FILE holds N results, each index once, all ok
results() {
    local n
    n=$(jq -s 'length' "$1")
    assert_eq "$n" "$2" "results in $1"
    assert_eq "$(jq -s '[.[].index] | unique | length' "$1")" "$2" "distinct indexes in $1"
    assert_eq "$(jq -s '[.[] | select(.ok != true)] | length' "$1")" "0" "failed results in $1"
}

# busy NAME N: until worker NAME runs N jobs (5 s at most)
busy() {
    for _ in $(seq 1 50); do
        [ "$(tmq status --json | jq --arg n "$1" '[.workers[] | select(.name == $n) | .busy] | add // 0')" = "$2" ] &&
            return 0
        sleep 0.1
    done
    fail "worker $1 never ran $2 jobs: $(tmq status)"
}

# exited PID SECONDS: waits for PID to end (fails past SECONDS); sets RC
exited() {
    for _ in $(seq 1 $(($2 * 10))); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$1" 2>/dev/null && fail "pid $1 still running after $2 s"
    wait "$1"
    RC=$?
}

start_broker
start_worker w1 --procs 2
W1=$WORKER_PID
start_worker w2 --procs 2
wait_workers 2

# ---- SIGTERM mid-run: w1 finishes what it runs, hands back the rest, exits 0 ----
seq 1 16 | sed 's/.*/700/' | tmq map sleep >"$T/run1.out" &
MAP=$!
sleep 1
kill -TERM "$W1"
sleep 0.2
tmq status | grep -q '^  w1 .* draining ' || fail "status does not show w1 draining: $(tmq status)"
exited "$W1" 10
assert_eq "$RC" "0" "w1's exit status after one SIGTERM"
wait "$MAP" || fail "map failed while w1 drained"
results "$T/run1.out" 16
grep -q 'draining: taking no new jobs' "$T/worker-w1.log" || fail "w1 did not say it drains"
grep -q 'drained: every job finished or handed back' "$T/worker-w1.log" ||
    fail "w1 did not finish its drain: $(cat "$T/worker-w1.log")"
grep -q 'worker w1 (pid [0-9]*) is draining' "$T/broker.log" || fail "the broker did not see DRAIN"
grep -q 'worker w1 (pid [0-9]*) left; 0 jobs requeued' "$T/broker.log" ||
    fail "w1 left jobs behind: $(grep 'w1' "$T/broker.log")"
# the jobs it ran to the end took their whole time: none was cut short and run again
assert_eq "$(jq -s '[.[] | select(.worker | startswith("w1:")) | select(.ms < 690)] | length' \
    "$T/run1.out")" "0" "w1's results cut short"
pass "SIGTERM mid-run: w1 finished its running jobs, handed back the rest, exit 0; 16 results once"

# ---- a second SIGTERM stops at once: the running jobs run again elsewhere ----
start_worker w3 --procs 2
W3=$WORKER_PID
wait_workers 2
seq 1 4 | sed 's/.*/3000/' | tmq map sleep >"$T/run2.out" &
MAP=$!
busy w3 2
t0=$(date +%s%N)
kill -TERM "$W3"
sleep 0.2
kill -TERM "$W3"
exited "$W3" 5
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "$RC" "0" "w3's exit status after two SIGTERMs"
[ "$ms" -lt 2500 ] || fail "w3 took $ms ms to stop after the second SIGTERM"
grep -q 'stopping now: 2 jobs handed back with BYE' "$T/worker-w3.log" ||
    fail "w3 did not say it handed its jobs back: $(cat "$T/worker-w3.log")"
grep -q 'worker w3 (pid [0-9]*) left; [1-9][0-9]* jobs requeued' "$T/broker.log" ||
    fail "the broker requeued nothing of w3's"
wait "$MAP" || fail "map failed after w3 stopped"
results "$T/run2.out" 4
assert_eq "$(jq -s '[.[] | select(.worker | startswith("w3:"))] | length' "$T/run2.out")" "0" \
    "results from w3, which was stopped"
pass "a second SIGTERM stops at once (${ms} ms); its 2 running jobs ran again on w2, 4 results once"

# ---- --drain-timeout: past it the running jobs are handed back ----
start_worker w4 --procs 1 --drain-timeout 1
W4=$WORKER_PID
wait_workers 2
seq 1 3 | sed 's/.*/2000/' | tmq map sleep >"$T/run3.out" &
MAP=$!
busy w4 1
t0=$(date +%s%N)
kill -TERM "$W4"
exited "$W4" 5
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "$RC" "0" "w4's exit status after its drain timeout"
[ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ] || fail "w4 stopped after $ms ms, not after --drain-timeout 1"
grep -q -- '--drain-timeout (1 s) passed: 1 running jobs handed back' "$T/worker-w4.log" ||
    fail "w4 did not say its drain timed out: $(cat "$T/worker-w4.log")"
wait "$MAP" || fail "map failed after w4's drain timed out"
results "$T/run3.out" 3
pass "--drain-timeout 1: w4 handed back its running job after ${ms} ms; 3 results once"

# ---- the only worker drains: jobs wait for the next worker, none is failed ----
# w2 is the only worker now
W2=$(tmq status --json | jq '.workers[] | select(.name == "w2") | .pid')
seq 1 6 | sed 's/.*/1500/' | tmq map sleep >"$T/run4.out" &
MAP=$!
for _ in $(seq 1 50); do
    [ "$(status_field running)" = 2 ] && break
    sleep 0.1
done
kill -TERM "$W2"
sleep 0.3
echo 7 | tmq map echo >"$T/late.out" & # submitted while the only worker drains: accepted, waits
LATE=$!
sleep 3.5 # past the broker's 3-heartbeat grace for functions nobody serves
kill -0 "$W2" 2>/dev/null && fail "w2 still running 3.8 s after SIGTERM with 1.5 s jobs"
wait "$W2"
assert_eq "$?" "0" "w2's exit status"
kill -0 "$MAP" 2>/dev/null || fail "map ended while no worker was connected: $(cat "$T/run4.out")"
kill -0 "$LATE" 2>/dev/null || fail "a job submitted during the drain ended: $(cat "$T/late.out")"
start_worker w5 --procs 2
wait "$MAP" || fail "map failed after the only worker drained"
wait "$LATE" || fail "the job submitted during the drain failed: $(cat "$T/late.out")"
results "$T/run4.out" 6
assert_eq "$(jq -r .result "$T/late.out")" "7" "the late job's result"
pass "the only worker drained: its queued jobs and one submitted meanwhile waited, then ran on w5"

# ---- idle: SIGTERM stops at once; SIGHUP does not stop it ----
W5=$WORKER_PID
kill -HUP "$W5"
sleep 0.3
kill -0 "$W5" 2>/dev/null || fail "SIGHUP stopped the worker"
grep -q 'SIGHUP ignored' "$T/worker-w5.log" || fail "w5 did not say it ignores SIGHUP"
t0=$(date +%s%N)
kill -TERM "$W5"
exited "$W5" 5
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "$RC" "0" "idle w5's exit status"
[ "$ms" -lt 1500 ] || fail "an idle worker took $ms ms to drain"
pass "an idle worker drains at once (${ms} ms); SIGHUP is ignored"
