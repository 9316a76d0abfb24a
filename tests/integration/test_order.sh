# Completion order: results print the moment they finish; --ordered prints in input order.
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 2
wait_workers 1

# A long job submitted first prints last; the short ones arrive while it still runs.
start=$(date +%s%N)
tmq map sleep 1500 10 20 >"$T/out" || fail "map exited $?"
assert_eq "$(jq -s -c 'map(.index)' "$T/out" | jq -c '.[-1]')" "0" "long job last"
assert_eq "$(jq -s -c 'map(.index) | sort' "$T/out")" "[0,1,2]" "every job once"
pass "sleep jobs in completion order"

# The same with CPU-bound sum jobs of very different sizes.
tmq map sum 300000000 1000 2000 >"$T/out2" || fail "map exited $?"
assert_eq "$(jq -s -c 'map(.index)[-1]' "$T/out2")" "0" "big sum last"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/out2")" "[44999999850000000,499500,1999000]" "sum values"
pass "sum jobs in completion order"

# The first short result is printed before the long job ends (streaming, not buffered).
( tmq map sleep 3000 5 > "$T/stream" ) &
cpid=$!
for _ in $(seq 1 40); do [ -s "$T/stream" ] && break; sleep 0.05; done
[ -s "$T/stream" ] || fail "short result not printed while the long job runs"
assert_eq "$(jq -r .index "$T/stream")" "1" "streamed line is the short job"
wait "$cpid" || fail "streaming map exited $?"
assert_eq "$(wc -l <"$T/stream")" "2" "both lines in the end"
pass "results stream as they finish"

tmq map --ordered sleep 800 10 20 >"$T/ord" || fail "ordered map exited $?"
assert_eq "$(jq -s -c 'map(.index)' "$T/ord")" "[0,1,2]" "--ordered"
pass "--ordered prints input order"
