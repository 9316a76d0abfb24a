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

# What a terminal shows, as checks on the raw bytes (each proved able to fail below):
# bar_frames: how many bars were drawn ("\r[" bar "]"; the summary line is not one);
# bars_after_open_line: bars drawn on a line something else had started (a result line not
# yet ended): a bar must follow the start, a newline, or the erase of the bar before it;
# results_on_bar_line: result lines that do not start a line or follow the bar's erase
# ("\r\e[K"; a bar itself ends in "\e[K" with the cursor after it).
bar_frames() { perl -0777 -ne 'print scalar(() = /\r\[[#-]+\] /g)' "$1"; }
bars_after_open_line() { perl -0777 -ne 'print scalar(() = /(?<=[^\n])(?<!\e\[K)\r\[[#-]+\] /g)' "$1"; }
results_on_bar_line() { perl -0777 -ne 'print scalar(() = /(?<=[^\n])(?<!\r\e\[K)\{"index"/g)' "$1"; }
bar='[##########----------] 1/2  0 failed  - jobs/s  0.1 s'
printf '\r%s\e[K\r\e[K{"index":0}\r\n\r%s\e[K\r%s\e[K\r\e[K2 jobs, 0 failed, 0.2 s, 10.0 jobs/s\r\n' \
    "$bar" "$bar" "$bar" >"$T/good"
printf '\r%s\e[K\r\e[K{"index":0}\r%s\e[K\r\n' "$bar" "$bar" >"$T/open"
printf '{"index":0}\r\n\e[K2 jobs, 0 failed, 0.2 s, 10.0 jobs/s\r\n' >"$T/summary-only"
printf '\r%s\e[K{"index":0}\r\n' "$bar" >"$T/not-erased"
assert_eq "$(bar_frames "$T/good")" "3" "bar_frames of a good run"
assert_eq "$(bars_after_open_line "$T/good")" "0" "bars_after_open_line of a good run"
assert_eq "$(bars_after_open_line "$T/open")" "1" "bars_after_open_line sees a bar drawn on a result's line"
assert_eq "$(bar_frames "$T/summary-only")" "0" "bar_frames does not count the summary"
assert_eq "$(results_on_bar_line "$T/good")" "0" "results_on_bar_line of a good run"
assert_eq "$(results_on_bar_line "$T/summary-only")" "0" "results_on_bar_line at the start"
assert_eq "$(results_on_bar_line "$T/not-erased")" "1" "results_on_bar_line sees a result after an unerased bar"
pass "the terminal checks tell good output from bad"

# stdout and stderr on one terminal (a pty; stdin a pipe): the bar is on by default and
# every result line starts clean, after the bar was erased.
if command -v script >/dev/null; then
    script -qfec "yes 5 | head -n 300 | '$TASKMQ' map --broker '$FRONTEND' sleep" /dev/null >"$T/pty" \
        || fail "map on a pty exited $?"
    tr -d '\r' <"$T/pty" | sed 's/\x1b\[K//g' >"$T/pty.clean"
    assert_eq "$(grep -o '{"index":[0-9]*,"ok":true,"result":5,"worker":"[^"]*","ms":[0-9.]*}' "$T/pty.clean" | wc -l)" "300" "300 result lines on the pty"
    # as a terminal shows it: each result starts a line, or follows the erase of the bar
    assert_eq "$(results_on_bar_line "$T/pty")" "0" "result lines starting where the bar was not erased"
    # and each ends its line before the bar is drawn again
    assert_eq "$(bars_after_open_line "$T/pty")" "0" "bars drawn on a result's line"
    [ "$(bar_frames "$T/pty")" -ge 1 ] || fail "no bar drawn on the terminal: $(cat -A "$T/pty" | head -c 2000)"
    perl -0777 -ne 'exit(/\e\[K300 jobs, 0 failed, [^\r\n]* jobs\/s\r?\n\z/ ? 0 : 1)' "$T/pty" \
        || fail "no summary at the end on the terminal"
    # stdin a terminal too: nobody's typing gets a bar drawn over it
    script -qfec "'$TASKMQ' map --broker '$FRONTEND' echo 1 2 3 </dev/tty" /dev/null >"$T/tty" \
        || fail "map with stdin a terminal exited $?"
    assert_eq "$(grep -c '"index"' "$T/tty")" "3" "results with stdin a terminal"
    assert_eq "$(bar_frames "$T/tty")" "0" "bars drawn while stdin is a terminal: $(cat -A "$T/tty")"
    pass "on a shared terminal the bar never garbles a result line"
fi
