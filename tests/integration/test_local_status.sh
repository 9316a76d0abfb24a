# --local N needs no daemons and leaves no process behind; `status` reports the cluster.
. "$(dirname "$0")/lib.sh"

tmq map --local 2 sum 1000 2000 3000 >"$T/local" || fail "--local exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/local")" "[499500,1999000,4498500]" "--local results"
assert_eq "$(jq -r .worker "$T/local" | cut -d: -f1 | sort -u)" "local" "local worker name"
sleep 0.2
for pid in $(jq -r .worker "$T/local" | cut -d: -f2 | sort -u); do
    kill -0 "$pid" 2>/dev/null && fail "executor $pid still running after --local"
done
assert_eq "$(tmq submit --local 1 primes 100)" "25" "submit --local"
pass "--local runs without daemons and cleans up"

# When the worker cannot be run, --local exits 3 and says which program it tried: the one
# $TASKMQ_WORKER names, or (a taskmq alone in its directory, none in PATH) how to name one.
TASKMQ_WORKER="$T/no-such-worker" tmq map --local 1 echo 1 >/dev/null 2>"$T/noworker"
assert_eq "$?" "3" "--local with a bad \$TASKMQ_WORKER"
assert_eq "$(cat "$T/noworker")" "taskmq: --local: the local worker exited at start (exit 127): cannot run $T/no-such-worker (\$TASKMQ_WORKER)" "bad \$TASKMQ_WORKER message"
mkdir "$T/alone"
cp "$TASKMQ" "$T/alone/taskmq"
env -u TASKMQ_WORKER PATH=/usr/bin:/bin timeout 30 "$T/alone/taskmq" map --local 1 echo 1 >/dev/null 2>"$T/alone.err"
assert_eq "$?" "3" "--local with no taskmq-worker to be found"
assert_eq "$(cat "$T/alone.err")" "taskmq: --local: the local worker exited at start (exit 127): no taskmq-worker beside this taskmq nor in PATH (set TASKMQ_WORKER to its path)" "no worker message"
pass "--local without a worker program: exit 3, says where it looked"

start_broker
start_worker alpha --procs 2
start_worker beta --procs 1
wait_workers 2
tmq map sum 10 20 30 >/dev/null || fail "map exited"
tmq map fail x >/dev/null
tmq status --json >"$T/st" || fail "status --json exited $?"
for k in queued running done failed workers; do
    assert_eq "$(jq "has(\"$k\")" "$T/st")" "true" "status has $k"
done
assert_eq "$(jq -r '.done' "$T/st")" "3" "done count"
assert_eq "$(jq -r '.failed' "$T/st")" "1" "failed count"
assert_eq "$(jq -r '.queued' "$T/st")" "0" "queued"
assert_eq "$(jq -c '[.workers[] | {name, procs}] | sort_by(.name)' "$T/st")" '[{"name":"alpha","procs":2},{"name":"beta","procs":1}]' "workers"
assert_eq "$(jq -c '[.workers[].busy] | map(type)' "$T/st")" '["number","number"]' "busy per worker"

# Busy processes show while jobs run.
( tmq map sleep 1500 1500 >/dev/null ) &
cpid=$!
sleep 0.7
assert_eq "$(tmq status --json | jq '[.workers[].busy] | add')" "2" "two busy processes"
assert_eq "$(tmq status --json | jq '.running')" "2" "two running jobs"
wait "$cpid"
tmq status >"$T/human" || fail "status exited $?"
grep -q alpha "$T/human" && grep -q beta "$T/human" || fail "human status lacks workers: $(cat "$T/human")"
pass "status and status --json"
