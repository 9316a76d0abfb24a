# The taskmq tool and a broker that journals (docs/PROTOCOL.md 5.7), played by
# fake_journal_broker.py: when the broker dies (or shuts down) after three results and a
# restarted one takes the session over, the run completes, every job prints exactly one line
# (the results the restarted broker sends again are dropped), exit 0, with one warning when the
# broker is lost and (-v) one line when it is back. One that never comes back fails the jobs
# after --broker-loss-timeout, exit 4.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
FAKE="$(dirname "$0")/fake_journal_broker.py"

# fake MODE [ENDPOINT]: starts the fake broker; sets FAKE_PID (and FAKE_EP for a first one)
fake() {
    [ "$1" = second ] || rm -f "$T/ep" "$T/state"
    "$PY" "$FAKE" "$T/ep" "$T/state" "$@" >>"$T/fake.out" 2>>"$T/fake.err" &
    FAKE_PID=$!
    PIDS+=("$FAKE_PID")
    [ "$1" = second ] && return 0
    for _ in $(seq 1 100); do [ -s "$T/ep" ] && break; sleep 0.05; done
    FAKE_EP=$(cat "$T/ep" 2>/dev/null) || fail "the fake broker did not start: $(cat "$T/fake.err")"
}

# run_restart MODE: ten echo jobs through a broker that goes away (MODE) and comes back.
run_restart() {
    : >"$T/fake.out"
    fake "$1"
    seq 1 10 | tmq --broker "$FAKE_EP" map echo -v >"$T/out" 2>"$T/err" &
    local client=$!
    wait "$FAKE_PID"
    [ -s "$T/state" ] || fail "$1: the fake broker left no journal: $(cat "$T/fake.err")"
    sleep 0.5
    fake second "$FAKE_EP"
    wait "$client"
    assert_eq "$?" "0" "$1: exit status"
    assert_eq "$(wc -l <"$T/out")" "10" "$1: one line per job"
    assert_eq "$(jq -r .index "$T/out" | sort -n | uniq | wc -l)" "10" "$1: each job once"
    assert_eq "$(jq -c 'select(.ok and .result == .index + 1)' "$T/out" | wc -l)" "10" \
        "$1: every result right"
    grep -q "WARN client: lost the broker at $FAKE_EP (.*); waiting up to 60 s for it (it journals)" \
        "$T/err" || fail "$1: no warning: $(cat "$T/err")"
    assert_eq "$(grep -c "lost the broker at" "$T/err")" "1" "$1: warned once"
    grep -q "INFO client: the broker at $FAKE_EP answered again [0-9.]* s after we found it gone; resubmitted [0-9]* unacknowledged jobs" \
        "$T/err" || fail "$1: no word that it is back: $(cat "$T/err")"
    # the same session, in every HELLO to either process
    assert_eq "$(grep '^HELLO' "$T/fake.out" | cut -d' ' -f2 | sort -u | wc -l)" "1" "$1: one session"
    assert_eq "$(grep '^HELLO' "$T/fake.out" | head -1 | cut -d' ' -f3)" "60000" "$1: linger_ms"
    grep -q "^RACK" "$T/fake.out" || fail "$1: no RACK: $(cat "$T/fake.out")"
    grep -q "^BYE" "$T/fake.out" || fail "$1: no BYE at the end"
    wait "$FAKE_PID"
}

run_restart first
pass "a journaled broker killed and restarted: the run completes, each job printed once"
run_restart bye
pass "a journaled broker shut down and restarted: the run completes, each job printed once"

# One that never comes back: the jobs fail after --broker-loss-timeout, exit 4.
: >"$T/fake.out"
fake first
t0=$(date +%s%N)
seq 1 10 | tmq --broker "$FAKE_EP" map echo --broker-loss-timeout 1 >"$T/out" 2>"$T/err"
assert_eq "$?" "4" "never back: exit status"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 8000 ] || fail "never back: it took $ms ms to give up"
assert_eq "$(jq -r .index "$T/out" | sort -n | uniq | wc -l)" "$(wc -l <"$T/out")" "never back: each job once"
assert_eq "$(jq -c 'select(.ok)' "$T/out" | wc -l)" "3" "never back: the three results it sent"
grep -q "waiting up to 1 s for it (it journals)" "$T/err" || fail "never back: no warning: $(cat "$T/err")"
grep -q "^taskmq: lost contact with the broker (.*; no broker answered for 1 s): 7 jobs did not finish$" \
    "$T/err" || fail "never back: lost message: $(cat "$T/err")"
assert_eq "$(grep '^HELLO' "$T/fake.out" | tail -1 | cut -d' ' -f3)" "1000" "linger_ms from the flag"
pass "a journaled broker that does not come back: the jobs fail after --broker-loss-timeout (${ms} ms), exit 4"
