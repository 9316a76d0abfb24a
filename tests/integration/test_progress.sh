# The progress bar: on by default when stderr is a terminal and stdin is not, forced with
# --progress, never with --no-progress; cleared before each stdout line on the same
# terminal, so no result line is garbled; a one-line summary at the end.
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 2
wait_workers 1

# Forced on, stderr to a file: stdout stays pure JSON, the summary closes stderr.
seq 1 200 | tmq map --progress echo >"$T/out" 2>"$T/err" || fail "--progress exited $?"
assert_eq "$(jq -c . "$T/out" | wc -l)" "200" "200 JSON lines"
summary=$(tr '\r' '\n' <"$T/err" | sed 's/\x1b\[K//g' | grep -v '^$' | tail -n1)
[[ "$summary" =~ ^200\ jobs,\ 0\ failed,\ [0-9.:]+( s)?,\ [0-9.]+\ jobs/s$ ]] || fail "summary: '$summary'"
pass "--progress: clean stdout, summary '$summary'"

seq 1 50 | tmq map --no-progress echo >/dev/null 2>"$T/none" || fail "--no-progress exited $?"
assert_eq "$(wc -c <"$T/none")" "0" "--no-progress writes nothing to stderr"
seq 1 50 | tmq map echo >/dev/null 2>"$T/auto" || fail "auto exited $?"
assert_eq "$(wc -c <"$T/auto")" "0" "no bar when stderr is not a terminal"
pass "off when asked, and when stderr is not a terminal"

# stdout and stderr on one terminal (a pty; stdin a pipe): the bar is on by default and
# every result line starts clean, after the bar was erased.
if command -v script >/dev/null; then
    script -qfec "yes 5 | head -n 300 | '$TASKMQ' map --broker '$FRONTEND' sleep" /dev/null >"$T/pty" \
        || fail "map on a pty exited $?"
    tr -d '\r' <"$T/pty" | sed 's/\x1b\[K//g' >"$T/pty.clean"
    assert_eq "$(grep -o '{"index":[0-9]*,"ok":true,"result":5,"worker":"[^"]*","ms":[0-9.]*}' "$T/pty.clean" | wc -l)" "300" "300 result lines on the pty"
    # as a terminal shows it: each result starts a line, or follows the erase of the bar
    all=$(grep -o '{"index"' "$T/pty" | wc -l)
    clean=$(perl -0777 -ne 'print scalar(() = /(?:\A|\n|\e\[K)\{"index"/g)' "$T/pty")
    assert_eq "$clean" "$all" "result lines starting where the bar was not erased"
    # and each ends its line before the bar is drawn again
    assert_eq "$(perl -0777 -ne 'print scalar(() = /\}\[/g)' "$T/pty")" "0" "bar drawn right after a result"
    grep -q 'jobs/s' "$T/pty.clean" || fail "no bar drawn on the terminal"
    perl -0777 -ne 'exit(/\e\[K300 jobs, 0 failed, [^\r\n]* jobs\/s\r?\n\z/ ? 0 : 1)' "$T/pty" \
        || fail "no summary at the end on the terminal"
    # stdin a terminal too: nobody's typing gets a bar drawn over it
    script -qfec "'$TASKMQ' map --broker '$FRONTEND' echo 1 2 3 </dev/tty" /dev/null >"$T/tty" \
        || fail "map with stdin a terminal exited $?"
    assert_eq "$(grep -c '"index"' "$T/tty")" "3" "results with stdin a terminal"
    grep -q 'jobs/s' "$T/tty" && fail "a bar was drawn while stdin is a terminal: $(cat -A "$T/tty")"
    pass "on a shared terminal the bar never garbles a result line"
fi
