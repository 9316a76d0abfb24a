# A worker daemon frozen (SIGSTOP) past its liveness loses its jobs to other workers; when it
# wakes (SIGCONT) its late results are discarded: the client sees each job exactly once.
. "$(dirname "$0")/lib.sh"
start_broker --heartbeat 250
start_worker frozen --procs 2
frozen=$WORKER_PID
wait_workers 1
start_worker healthy --procs 2
wait_workers 2

tmq map sleep 1200 1200 1200 1200 1200 1200 1200 1200 >"$T/out" &
client=$!
sleep 0.4
kill -STOP "$frozen"
sleep 2.5                                         # liveness is 3 x 250 ms
kill -CONT "$frozen"
wait "$client" || fail "client exit status $?"
assert_eq "$(wc -l <"$T/out")" "8" "one line per job"
assert_eq "$(jq -r .index "$T/out" | sort -n | uniq | wc -l)" "8" "each job once"
assert_eq "$(jq -s 'map(select(.ok)) | length' "$T/out")" "8" "all succeeded"
assert_eq "$(jq -s '[.[] | select(.worker | startswith("healthy"))] | length >= 6' "$T/out")" "true" \
    "the frozen worker's jobs ran elsewhere"
grep -q "frozen" "$T/broker.log" || true
sleep 1.5                                         # the frozen daemon's executors finish, it reports late
stale=$(status_field stale)
echo "# stale results discarded: $stale"
assert_eq "$(tmq submit echo 7)" "7" "cluster still serves"
pass "a frozen worker's jobs move; late results are discarded"
