# Nothing seems to happen, and the user is told why without -v: jobs submitted while no
# worker is connected wait at the broker (a warning, once, then they run when one connects),
# and `taskmq map` reading jobs from a terminal says so, once.
. "$(dirname "$0")/lib.sh"
start_broker

tmq map sum 1000 2000 >"$T/out" 2>"$T/err" &
client=$!
said="WARN client: jobs for 'sum' wait at the broker: no worker is connected yet"
for _ in $(seq 1 50); do grep -qF "$said" "$T/err" && break; sleep 0.1; done
grep -qF "$said" "$T/err" || fail "no warning while jobs wait for a worker: $(cat "$T/err")"
start_worker w1 --procs 1
wait "$client"
assert_eq "$?" "0" "map once a worker connected"
assert_eq "$(jq -s -c 'map(.result) | sort' "$T/out")" "[499500,1999000]" "the results"
assert_eq "$(grep -cF "$said" "$T/err")" "1" "warnings"
assert_eq "$(grep -vcF "$said" "$T/err")" "0" "other lines on stderr"
pass "jobs waiting for a worker: one warning without -v, then they run"

if command -v script >/dev/null; then
    # stdin a terminal (script's pty; script forwards our lines and then Ctrl-D)
    printf '7\n8\n' | script -qfec "'$TASKMQ' map --broker '$FRONTEND' echo" /dev/null >"$T/tty" \
        || fail "map reading a terminal exited $?"
    assert_eq "$(grep -c '^taskmq: reading jobs from stdin, one per line (Ctrl-D ends)' "$T/tty")" "1" "the hint on a terminal: $(cat -A "$T/tty")"
    assert_eq "$(grep -o '"result":[0-9]*' "$T/tty" | sort | tr '\n' ' ')" '"result":7 "result":8 ' "results read from the terminal"
    printf '7\n' | tmq map echo >/dev/null 2>"$T/pipe.err" || fail "map from a pipe exited $?"
    assert_eq "$(wc -c <"$T/pipe.err")" "0" "stderr when stdin is a pipe"
    script -qfec "'$TASKMQ' map --broker '$FRONTEND' echo 1 </dev/tty" /dev/null >"$T/args" \
        || fail "map with ARGs and stdin a terminal exited $?"
    grep -q "reading jobs" "$T/args" && fail "the hint with ARGs given: $(cat "$T/args")"
    pass "map reading a terminal says so once; not from a pipe, not with ARGs"
fi
