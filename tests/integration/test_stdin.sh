# One job per stdin line; any JSON value round-trips through echo; non-JSON lines are strings.
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 2
wait_workers 1

cat >"$T/in" <<'IN'
0
-12345678901
3.25
true
false
null
"a string"
[1,[2,[3,[4]]],{"k":"v"}]
{"nested":{"list":[1,2,3],"empty":{},"none":null},"unicode":"h\u00e9llo \u2603"}
not json at all
{"broken":
IN
tmq map echo <"$T/in" >"$T/out" || fail "map exited $?"
n=$(wc -l <"$T/in")
assert_eq "$(wc -l <"$T/out")" "$n" "one line per input line"
i=0
while IFS= read -r line; do
    got=$(jq -c "select(.index == $i) | .result" "$T/out")
    if want=$(jq -c . <<<"$line" 2>/dev/null) && [ -n "$want" ]; then :; else want=$(jq -c -n --arg s "$line" '$s'); fi
    assert_eq "$got" "$want" "line $i"
    i=$((i + 1))
done <"$T/in"
pass "stdin JSON values round-trip through echo"

# Many lines stream through; each answered exactly once with its own value.
seq 0 9999 | tmq map echo >"$T/many" || fail "10k map exited $?"
assert_eq "$(wc -l <"$T/many")" "10000" "10000 lines"
assert_eq "$(jq -r .index "$T/many" | sort -n | uniq | wc -l)" "10000" "10000 distinct indexes"
assert_eq "$(jq -c 'select(.ok != true or .result != .index)' "$T/many" | wc -l)" "0" "each result is its input"
pass "10,000 jobs answered exactly once"
