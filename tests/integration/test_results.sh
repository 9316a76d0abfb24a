# Correct results for the built-in functions, `submit`, and the JSON line format.
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 2
wait_workers 1

out=$(tmq submit primes 100) || fail "submit primes exited $?"
assert_eq "$out" "25" "primes 100"
assert_eq "$(tmq submit sum 10)" "45" "sum 10"
assert_eq "$(tmq submit sum 1000000)" "499999500000" "sum 1000000"
assert_eq "$(tmq submit echo '{"a":[1,2.5,null,true],"b":"x"}' | jq -c .)" '{"a":[1,2.5,null,true],"b":"x"}' "echo object"
assert_eq "$(tmq submit echo 'plain text')" '"plain text"' "echo string"
assert_eq "$(tmq submit sleep 50)" "50" "sleep"
pass "submit results"

tmq map sum 10 100 1000 >"$T/map.out" || fail "map exited $?"
assert_eq "$(wc -l <"$T/map.out")" "3" "one line per job"
for i in 0 1 2; do
    line=$(jq -c "select(.index == $i)" "$T/map.out")
    [ -n "$line" ] || fail "no line for index $i"
    assert_eq "$(jq -r .ok <<<"$line")" "true" "ok for $i"
    assert_eq "$(jq -r '.worker | test("^w1:[0-9]+$")' <<<"$line")" "true" "worker is name:pid"
    assert_eq "$(jq -r '.ms | type' <<<"$line")" "number" "ms is a number"
    # the key order is part of the output format
    assert_eq "$(jq -r 'keys_unsorted | join(",")' <<<"$line")" "index,ok,result,worker,ms" "key order"
done
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/map.out")" "[45,4950,499500]" "sum results"
pass "map results and format"

tmq map primes 0 1 2 3 1000 | jq -s -c 'sort_by(.index) | map(.result)' >"$T/primes.out"
assert_eq "$(cat "$T/primes.out")" "[0,0,0,1,168]" "primes"
pass "primes"
