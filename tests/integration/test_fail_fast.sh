# A function no connected worker serves: `taskmq map` stops submitting at the first such
# answer, says so once, prints no error line per job, and exits 1 — fast, even with 100,000
# lines waiting on stdin.
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 2
wait_workers 1

want="taskmq: unknown function: nosuch — no connected worker serves it (taskmq functions lists what is served)"
t0=$SECONDS
seq 1 100000 | tmq map nosuch >"$T/out" 2>"$T/err"
rc=${PIPESTATUS[1]}
assert_eq "$rc" "1" "exit status"
[ $((SECONDS - t0)) -le 5 ] || fail "took $((SECONDS - t0)) s to give up"
assert_eq "$(wc -c <"$T/out")" "0" "nothing on stdout"
assert_eq "$(wc -l <"$T/err")" "1" "one line on stderr"
assert_eq "$(cat "$T/err")" "$want" "the message"
pass "100,000 lines for an unserved function: exit 1 fast, one message, no flood"

tmq map --ordered --tag nosuch 1 2 3 >"$T/out2" 2>"$T/err2"
assert_eq "$?" "1" "exit status with ARGs"
assert_eq "$(wc -c <"$T/out2")" "0" "nothing on stdout (ARGs, --ordered)"
assert_eq "$(cat "$T/err2")" "$want" "the message (ARGs)"
tmq submit nosuch 1 >/dev/null 2>"$T/err3"
assert_eq "$?" "1" "submit of an unserved function"
assert_eq "$(cat "$T/err3")" "$want" "submit's message"
pass "the same for ARGs, --ordered and submit"

# The broker keeps serving everyone else.
assert_eq "$(tmq submit echo 7)" "7" "still serving"
