# Input modes: default (JSON if it parses, else a string), --json (every line must be JSON;
# the first that is not stops the input, exit 2, jobs already submitted finish and print),
# --raw (always a string), empty lines skipped unless --keep-empty; --tag puts each job's
# input in its line as "arg", right after "index".
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 2
wait_workers 1

printf '42\n\n"s"\nhello\n[1,2]\n' >"$T/in"
tmq map echo <"$T/in" >"$T/auto" || fail "default mode exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/auto")" '[42,"s","hello",[1,2]]' "default mode"
pass "default: JSON if it parses, else a string; the empty line skipped"

tmq map --raw echo <"$T/in" >"$T/raw" || fail "--raw exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/raw")" '["42","\"s\"","hello","[1,2]"]' "--raw"
tmq map --raw --keep-empty echo <"$T/in" >"$T/raw-empty" || fail "--raw --keep-empty exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/raw-empty")" '["42","","\"s\"","hello","[1,2]"]' "--raw --keep-empty"
tmq map --keep-empty echo <"$T/in" >"$T/keep" || fail "--keep-empty exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/keep")" '[42,"","s","hello",[1,2]]' "--keep-empty"
pass "--raw: every line a string; --keep-empty: empty lines are \"\""

# Invalid UTF-8 under --raw travels (as bin) and comes back: the line prints, repaired.
printf 'ok\nbad\xff\n' | tmq map --raw echo >"$T/bin" || fail "--raw with invalid UTF-8 exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/bin")" "$(jq -n -c '["ok","bad\ufffd"]')" "invalid UTF-8 under --raw"
pass "--raw: invalid UTF-8 travels"

# --json: line 4 is not JSON; lines 1-3 run and print, nothing after line 4 is submitted.
printf '1\n2\n\n"x"\nnope\n5\n6\n' | tmq map --json echo >"$T/json" 2>"$T/json.err"
assert_eq "$?" "2" "--json with a bad line exits 2"
assert_eq "$(cat "$T/json.err")" "taskmq: line 5 is not JSON: invalid token near 'nope'" "--json error names the line"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/json")" '[1,2,"x"]' "jobs before the bad line finish"
tmq map --json echo 1 '[2]' bad 4 >"$T/jsonargs" 2>"$T/jsonargs.err"
assert_eq "$?" "2" "--json with a bad ARG exits 2"
assert_eq "$(cat "$T/jsonargs.err")" "taskmq: argument 3 is not JSON: invalid token near 'bad'" "--json ARG error"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/jsonargs")" '[1,[2]]' "ARGs before the bad one"
printf '1\n\n2\n' | tmq map --json --keep-empty echo >/dev/null 2>"$T/empty.err"
assert_eq "$?" "2" "an empty line under --json --keep-empty"
assert_eq "$(cat "$T/empty.err")" "taskmq: line 2 is not JSON: empty line" "empty line message"
tmq submit --json echo notjson >/dev/null 2>"$T/sub.err"
assert_eq "$?" "2" "submit --json with a bad ARG"
pass "--json: the first bad line stops the input, names its line, exit 2"

# --tag: "arg" right after "index", whatever the mode.
printf '10\nx\n' | tmq map --tag sum >"$T/tag"
assert_eq "$?" "1" "tagged run with a failure"
assert_eq "$(jq -r 'select(.index==0) | keys_unsorted | join(",")' "$T/tag")" "index,arg,ok,result,worker,ms" "tagged ok line keys"
assert_eq "$(jq -r 'select(.index==1) | keys_unsorted | join(",")' "$T/tag")" "index,arg,ok,error" "tagged error line keys"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.arg)' "$T/tag")" '[10,"x"]' "tagged inputs"
tmq map --tag --raw --ordered echo 3 '{"a":1}' >"$T/tag2" || fail "--tag --raw exited $?"
assert_eq "$(jq -s -c 'map([.index, .arg])' "$T/tag2")" '[[0,"3"],[1,"{\"a\":1}"]]' "--tag --raw --ordered"
seq 1 3000 | tmq map --tag echo | jq -c 'select(.arg != .result)' >"$T/tagbad"
assert_eq "$(wc -l <"$T/tagbad")" "0" "3000 tagged lines each carry their own input"
pass "--tag carries each job's input"

# Whole numbers beyond int64 up to UINT64_MAX are integers by default and under --json (not a
# string, not "too big integer"); they print as reals, jansson's integers being signed 64-bit.
for mode in "" --json; do
    tmq map $mode --tag echo 18446744073709551615 >"$T/u64" 2>"$T/u64.err" || fail "map $mode UINT64_MAX exited $?: $(cat "$T/u64.err")"
    assert_eq "$(jq -r '[.arg, .result] | map(type) | join(",")' "$T/u64")" "number,number" "UINT64_MAX under '$mode'"
done
pass "UINT64_MAX is a number with and without --json"
