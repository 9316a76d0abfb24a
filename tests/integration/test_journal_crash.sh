# The promise of --journal, end to end with the real programs: a 20,000-job `taskmq map` run
# while the broker is killed with SIGKILL five times and started again on the same ports each
# time. Every job's result reaches the tool exactly once (no index missing, none twice, each
# value right) and the run exits 0. Then 1,000,000 jobs through a journaled broker leave a
# journal of bounded size: at most 3 x the live records + 2 segments (journal.h) once idle.
. "$(dirname "$0")/lib.sh"
J="$T/journal"
start_broker --journal "$J"
FE=$FRONTEND BE=$BACKEND
start_worker w1 --procs 2
wait_workers 1

N=20000
seq 2000000 $((2000000 + N - 1)) >"$T/in"
TMQ_TIMEOUT=240 tmq map sum --broker-loss-timeout 60 <"$T/in" >"$T/out" 2>"$T/err" &
client=$!
for k in 1 2 3 4 5; do
    sleep 1
    kill -0 "$client" 2>/dev/null || fail "the run ended before kill $k: $(tail -3 "$T/err")"
    kill -KILL "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null
    "$BROKER" --frontend "$FE" --backend "$BE" --journal "$J" 2>"$T/broker-$k.log" &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    for _ in $(seq 1 100); do grep -q "journal replayed" "$T/broker-$k.log" && break; sleep 0.05; done
    grep -q "journal replayed" "$T/broker-$k.log" || fail "broker $k did not start: $(cat "$T/broker-$k.log")"
done
wait "$client"
rc=$?
[ "$rc" = 0 ] || fail "taskmq map exited $rc: $(tail -5 "$T/err")"
lines=$(wc -l <"$T/out")
distinct=$(jq -r .index "$T/out" | sort -un | wc -l)
wrong=$(jq -r 'select(.ok != true or .result != ((2000000 + .index) * (1999999 + .index) / 2)) | .index' "$T/out" | wc -l)
replayed=$(cat "$T"/broker-*.log | sed -n 's/.*journal replayed: \([0-9]*\) jobs queued again and \([0-9]*\) results.*/\1+\2/p' | paste -sd' ')
assert_eq "$lines" "$N" "result lines"
assert_eq "$distinct" "$N" "distinct indices"
assert_eq "$wrong" "0" "results not OK or wrong"
pass "$N jobs, broker killed 5 times (replayed jobs+results: $replayed): $lines results, each index once, all right, exit 0"

# ---- a broker back on an emptied journal: the acknowledged jobs fail at once, no hang ----
TMQ_TIMEOUT=60 tmq map sleep --broker-loss-timeout 60 < <(for _ in $(seq 1 200); do echo 100; done) \
    >"$T/gone" 2>"$T/gone.err" &
client=$!
sleep 1.5
kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
rm -rf "$J"
"$BROKER" --frontend "$FE" --backend "$BE" --journal "$J" 2>"$T/broker-empty.log" &
BROKER_PID=$!
PIDS+=("$BROKER_PID")
t0=$SECONDS
wait "$client"
rc=$?
assert_eq "$rc" "4" "exit status when the broker came back without our jobs"
[ $((SECONDS - t0)) -le 20 ] || fail "it took $((SECONDS - t0)) s to give up"
assert_eq "$(wc -l <"$T/gone")" "200" "one line per job"
lost=$(jq -r 'select(.ok == false) | .error' "$T/gone" | sort | uniq -c)
[[ "$lost" == *"came back without our acknowledged jobs"* ]] || fail "lost jobs say: $lost"
grep -q "came back without .* of our acknowledged jobs" "$T/gone.err" || fail "no word of it: $(cat "$T/gone.err")"
pass "a broker back on an emptied journal: the acknowledged jobs fail at once with why, exit 4"

# ---- a million jobs leave a bounded journal ----
M=1000000
[[ "${TASKMQ_CFLAGS:-}" == *sanitize* ]] && M=200000 # the sanitizers' build is ~5x slower
seq 1 "$M" | TMQ_TIMEOUT=240 tmq map echo >"$T/million" || fail "the $M-job run failed: exit $?"
assert_eq "$(wc -l <"$T/million")" "$M" "results of the $M-job run"
sleep 1.5 # a few idle turns: compaction catches up
read -r live bytes < <(tmq status --json | jq -r '"\(.journal.live_jobs) \(.journal.bytes)"')
files=$(du -sb "$J" | cut -f1)
# idle, every job forgotten: the live records are ~0, so the bound is 2 segments (64 MiB each)
# plus what the last turn appended
bound=$((2 * 64 * 1024 * 1024 + 1024 * 1024))
[ "$live" -le 1 ] || fail "$live jobs still live in the journal after the run"
[ "$files" -le "$bound" ] || fail "journal of $files bytes after $M jobs (bound $bound)"
pass "$M jobs through the journal: $live live, $bytes bytes in its segments, $files on disk (bound $bound)"
