# `taskmq map` exits at end of input once every job has its line (it used to spin at 100% CPU
# forever once stdin closed: a closed pipe reports POLLHUP without POLLIN). Each producer:
# none at all (`true |`), an empty one, one that sleeps between lines, one that closes while
# jobs are still running.
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 2
wait_workers 1

# run NAME WANT_STATUS WANT_LINES MAX_SECONDS PRODUCER... : PRODUCER | taskmq map ...
run() {
    local name=$1 want=$2 lines=$3 max=$4 t0=$SECONDS
    shift 4
    local producer=$1
    shift
    bash -c "$producer" | timeout 20 "$TASKMQ" map "$@" >"$T/$name.out" 2>"$T/$name.err"
    local rc=${PIPESTATUS[1]}
    [ "$rc" != 124 ] || fail "$name: still running after 20 s (hang at end of input)"
    assert_eq "$rc" "$want" "$name: exit status ($(cat "$T/$name.err"))"
    assert_eq "$(wc -l <"$T/$name.out")" "$lines" "$name: lines"
    [ $((SECONDS - t0)) -le "$max" ] || fail "$name: took $((SECONDS - t0)) s"
}

run true 0 0 3 'true' echo
pass "true | taskmq map echo exits 0 at once"
run empty 0 0 3 "printf ''" echo
pass "an empty producer: exit 0 at once"
run one-then-wait 0 1 4 'echo 5; sleep 1' echo
assert_eq "$(jq -c .result "$T/one-then-wait.out")" "5" "the one result"
pass "(echo 5; sleep 1) | taskmq map echo exits once input ends"
run slow 0 4 6 'for i in 1 2 3 4; do echo $i; sleep 0.4; done' echo
assert_eq "$(jq -s -c 'map(.result) | sort' "$T/slow.out")" "[1,2,3,4]" "slow producer results"
pass "a producer that sleeps between lines: every line, then exit"
run early-close 0 3 6 'printf "1500\n1500\n200\n"' sleep
assert_eq "$(jq -s -c 'map(.result) | sort' "$T/early-close.out")" "[200,1500,1500]" "sleep results"
pass "a producer that closes while jobs still run: they finish, then exit"
run failed 1 2 4 'printf "x\n1\n"; sleep 0.5' sum
pass "a failed job after a slow close: exit 1"
run no-newline 0 2 4 "printf '1\n2'" echo
pass "a last line without a newline is a job"
