# --max-queue bounds the broker: past it jobs are refused "queue full"; the client library
# turns that into backpressure, or with --fail-when-full reports them failed. One line per job.
. "$(dirname "$0")/lib.sh"
start_broker --max-queue 50
start_worker w1 --procs 2
wait_workers 1

seq 1 1000 | awk '{print 2}' >"$T/in"
tmq map --fail-when-full sleep <"$T/in" >"$T/ff"
assert_eq "$?" "1" "some jobs refused"
assert_eq "$(wc -l <"$T/ff")" "1000" "one line per job"
assert_eq "$(jq -r .index "$T/ff" | sort -n | uniq | wc -l)" "1000" "each job once"
refused=$(jq -s 'map(select(.ok == false)) | length' "$T/ff")
[ "$refused" -gt 0 ] || fail "nothing refused"
assert_eq "$(jq -r 'select(.ok == false) | .error' "$T/ff" | sort -u)" "queue full" "refusal reason"
pass "--fail-when-full: $refused of 1000 refused with 'queue full'"

tmq map sleep <"$T/in" >"$T/bp" &
client=$!
max=0
while kill -0 "$client" 2>/dev/null; do
    q=$(tmq status --json 2>/dev/null | jq .queued)
    [ -n "$q" ] && [ "$q" -gt "$max" ] && max=$q
    sleep 0.05
done
wait "$client" || fail "backpressure run exited $?"
assert_eq "$(wc -l <"$T/bp")" "1000" "one line per job"
assert_eq "$(jq -s 'map(select(.ok)) | length' "$T/bp")" "1000" "all succeed with backpressure"
[ "$max" -le 50 ] || fail "queued reached $max"
pass "backpressure: all 1000 ran, queued peaked at $max <= 50"
