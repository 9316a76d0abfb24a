# The exec built-in through a real broker and worker, and `taskmq map --exec`: refused
# without --allow-exec; wc -c on "hello"; a missing program; a non-zero exit (a result, ok);
# a death by signal; a time limit and Ctrl-C that kill the command and its background child;
# output over the cap; bytes that are not UTF-8; env and cwd; gzip -k over files, --tag,
# --ordered, --joblog; --max-result failing one job while the same executor serves the next.
. "$(dirname "$0")/lib.sh"

start_broker

# ---- without --allow-exec there is no exec ----
start_worker plain --procs 1
wait_workers 1
tmq functions --json | jq -e 'map(.name) | index("exec") | not' >/dev/null \
    || fail "a worker without --allow-exec serves exec: $(tmq functions --json)"
tmq submit exec '["true"]' >/dev/null 2>"$T/refused.err"
assert_eq "$?" "1" "exec without --allow-exec"
grep -q "unknown function: exec" "$T/refused.err" || fail "refused: $(cat "$T/refused.err")"
echo x | tmq map --exec -- echo {} >"$T/refused.out" 2>"$T/refused2.err"
assert_eq "$?" "1" "map --exec without --allow-exec"
grep -q "unknown function: exec .*--allow-exec" "$T/refused2.err" \
    || fail "map --exec refused: $(cat "$T/refused2.err")"
[ -s "$T/refused.out" ] && fail "map --exec printed: $(cat "$T/refused.out")"
kill "$WORKER_PID"
wait "$WORKER_PID" 2>/dev/null
pass "without --allow-exec: unknown function: exec"

start_worker ex --procs 2 --allow-exec
for _ in $(seq 1 100); do
    tmq functions --json 2>/dev/null | jq -e 'map(.name) | index("exec")' >/dev/null && break
    sleep 0.1
done
tmq functions --json | jq -e 'map(.name) | index("exec")' >/dev/null || fail "exec not served"

# ---- the built-in, through submit (JSON out) ----
assert_eq "$(tmq submit exec '{"argv":["wc","-c"],"stdin":"hello"}' | jq -c .)" \
    '{"status":0,"stdout":"5\n","stderr":""}' "wc -c on stdin hello"
tmq submit exec '["nosuch-program"]' >/dev/null 2>"$T/nosuch.err"
assert_eq "$?" "1" "a missing program fails its job"
assert_eq "$(cat "$T/nosuch.err")" \
    "job failed: exec: cannot run 'nosuch-program': No such file or directory" "its message"
tmq map exec '["sh","-c","echo out; echo err >&2; exit 3"]' >"$T/exit3"
assert_eq "$?" "0" "a command's non-zero exit is exec's result, not a job failure"
assert_eq "$(jq -c '[.ok, .result]' "$T/exit3")" '[true,{"status":3,"stdout":"out\n","stderr":"err\n"}]' \
    "status kept"
assert_eq "$(tmq submit exec '["sh","-c","echo before; kill -9 $$"]' | jq -c .)" \
    '{"signal":"SIGKILL","stdout":"before\n","stderr":""}' "a death by signal"
pass "wc -c, a missing program, a non-zero exit, a signal"

REAL_T=$(cd "$T" && pwd -P)
arg=$(jq -nc --arg cwd "$T" '{argv:["sh","-c","echo \"$GREETING\"; pwd -P"], env:{GREETING:"hi there"}, cwd:$cwd}')
assert_eq "$(tmq submit exec "$arg" | jq -r .stdout)" "hi there
$REAL_T" "env and cwd"
tmq submit exec "{\"argv\":[\"pwd\"],\"cwd\":\"$T/nowhere\"}" >/dev/null 2>"$T/cwd.err"
grep -q "exec: cannot change directory to '$T/nowhere': No such file or directory" "$T/cwd.err" \
    || fail "bad cwd: $(cat "$T/cwd.err")"
pass "env and cwd"

# ---- output over the cap (1 MiB by default): the command is killed, the job fails ----
tmq submit exec '["yes"]' >/dev/null 2>"$T/cap.err"
assert_eq "$(cat "$T/cap.err")" "job failed: exec: stdout over 1048576 bytes" "stdout over the cap"
tmq submit exec '["sh","-c","yes >&2"]' >/dev/null 2>"$T/cap2.err"
assert_eq "$(cat "$T/cap2.err")" "job failed: exec: stderr over 1048576 bytes" "stderr over the cap"
pass "output over the cap"

# ---- bytes that are not UTF-8 arrive as bytes ----
echo 1 | tmq map --exec -- printf '\377\376{#}\n' >"$T/bytes" || fail "printf exited $?"
assert_eq "$(od -An -tx1 "$T/bytes" | tr -d ' ')" "fffe310a" "stdout bytes, exactly"
assert_eq "$(tmq submit exec '["printf","\\377ok"]' | jq -r .stdout)" $'\uFFFDok' \
    "as JSON, bytes show repaired"
pass "stdout that is not UTF-8 travels as bytes"

# ---- a time limit kills the command and everything it started ----
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
arg=$(jq -nc --arg f "$T/pids" '{argv:["sh","-c","sleep 30 & echo $$ $! > \($f); sleep 30"]}')
t0=$(date +%s%N)
tmq map --timeout 300 exec "$arg" >"$T/to"
assert_eq "$?" "1" "a timed-out job fails"
assert_eq "$(jq -r .error "$T/to")" "timeout after 300 ms" "its error"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 10000 ] || fail "the time limit took too long"
read -r sh_pid bg_pid <"$T/pids" || fail "the command did not start"
for _ in $(seq 1 50); do
    alive "$sh_pid" || alive "$bg_pid" || break
    sleep 0.1
done
alive "$sh_pid" && fail "the timed-out command ($sh_pid) still runs"
alive "$bg_pid" && fail "its background child ($bg_pid) still runs"
printf '10\n' | tmq map --timeout 300 --exec -- sleep {} 2>"$T/to2.err"
assert_eq "$?" "1" "map --exec with a time limit"
assert_eq "$(cat "$T/to2.err")" "taskmq: sleep 10: timeout after 300 ms" "its message"
assert_eq "$(tmq submit exec '["echo","after"]' | jq -r .stdout)" "after" "served on"
pass "a time limit kills the command and its background child"

# ---- so does Ctrl-C of the client (its running jobs are cancelled at the worker) ----
rm -f "$T/pids"
echo "$T/pids" | "$TASKMQ" map --exec -- sh -c 'sleep 30 & echo $$ $! > "$1"; wait' sh {} \
    2>/dev/null &
client=$!
PIDS+=("$client")
for _ in $(seq 1 100); do [ -s "$T/pids" ] && break; sleep 0.05; done
read -r sh_pid bg_pid <"$T/pids" || fail "the command did not start"
kill -INT "$client"
wait "$client"
assert_eq "$?" "130" "the interrupted client"
for _ in $(seq 1 50); do
    alive "$sh_pid" || alive "$bg_pid" || break
    sleep 0.1
done
alive "$sh_pid" && fail "the cancelled command ($sh_pid) still runs"
alive "$bg_pid" && fail "its background child ($bg_pid) still runs"
pass "Ctrl-C of the client kills the running command and its child"

# ---- map --exec: gzip -k over files, --tag, --ordered, --joblog ----
mkdir -p "$T/files"
for f in a b c d; do seq 1 "$((RANDOM % 500 + 100))" | sed "s/^/$f /" >"$T/files/$f.txt"; done
ls "$T"/files/*.txt | tmq map --exec -- gzip -k {} >"$T/gz.out" 2>"$T/gz.err"
assert_eq "$?" "0" "gzip -k {} over files: $(cat "$T/gz.err")"
for f in a b c d; do
    [ -f "$T/files/$f.txt.gz" ] || fail "no $f.txt.gz"
    cmp -s <(gzip -dc "$T/files/$f.txt.gz") "$T/files/$f.txt" || fail "$f.txt.gz does not hold $f.txt"
done
ls "$T"/files/*.txt | tmq map --tag --exec -- wc -l {} >"$T/tag.out" || fail "--tag exited $?"
want=$(for f in a b c d; do printf '%s\t%s %s\n' "$T/files/$f.txt" "$(wc -l <"$T/files/$f.txt")" "$T/files/$f.txt"; done)
assert_eq "$(sort "$T/tag.out")" "$want" "--tag: input line, tab, the command's line"
seq 1 20 | tmq map --ordered --exec -- sh -c 'sleep 0.0$((RANDOM % 5)); echo "$1"; echo "e$1" >&2' sh {} \
    >"$T/ord.out" 2>"$T/ord.err" || fail "--ordered exited $?"
assert_eq "$(cat "$T/ord.out")" "$(seq 1 20)" "--ordered: stdout in input order"
assert_eq "$(cat "$T/ord.err")" "$(seq 1 20 | sed 's/^/e/')" "--ordered: stderr in input order"
printf '0\n3\nnosuch\n' | tmq map --joblog "$T/jl" --exec -- sh -c 'case $1 in nosuch) exec nosuch;; esac; exit $1' sh {} \
    2>"$T/jl.err"
assert_eq "$?" "1" "some command failed"
assert_eq "$(head -1 "$T/jl")" "$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand')" \
    "joblog header"
assert_eq "$(tail -n +2 "$T/jl" | sort -n | awk -F'\t' '{print $1, $2, $7, $8}')" "1 ex 0 0
2 ex 3 0
3 ex 127 0" "joblog: Seq, Host, Exitval, Signal"
assert_eq "$(tail -n +2 "$T/jl" | sort -n | cut -f9 | head -1)" \
    "sh -c 'case \$1 in nosuch) exec nosuch;; esac; exit \$1' sh 0" "joblog: the command, quoted"
printf 'missing-one\n' | tmq map --joblog "$T/jl2" --exec -- {} 2>"$T/miss.err"
assert_eq "$?" "1" "a program that cannot run"
assert_eq "$(cat "$T/miss.err")" \
    "taskmq: missing-one: cannot run 'missing-one': No such file or directory" "its message"
assert_eq "$(tail -1 "$T/jl2" | cut -f7,8)" "$(printf '127\t0')" "joblog: 127 as a shell says"
printf 'x\n' | tmq map --exec -- sh -c 'kill -9 $$' 2>"$T/kill.err"
assert_eq "$?" "1" "a command killed by a signal"
assert_eq "$(cat "$T/kill.err")" "taskmq: sh -c 'kill -9 \$\$' x: killed by SIGKILL" "its message"
pass "map --exec: gzip -k {}, --tag, --ordered, --joblog, exit status"

"$TASKMQ" map --exec gzip {} </dev/null 2>"$T/u1"
assert_eq "$?" "2" "--exec without --"
grep -q "taskmq map --exec -- CMD" "$T/u1" || fail "usage: $(cat "$T/u1")"
"$TASKMQ" map --exec -- </dev/null 2>"$T/u2"
assert_eq "$?" "2" "--exec without a command"
pass "--exec without '--' or without a command is a usage error"

# ---- --max-result: one result too large fails alone; the same executor serves on ----
kill "$WORKER_PID"
wait "$WORKER_PID" 2>/dev/null
start_worker small --procs 1 --allow-exec --max-result 1000
wait_workers 1
long=$(printf 'x%.0s' $(seq 1 2000))
tmq map --ordered echo before "$long" after >"$T/mr" 2>"$T/mr.err"
assert_eq "$?" "1" "a result over --max-result fails its job"
assert_eq "$(jq -r 'select(.index == 1) | .error' "$T/mr")" "result too large: 2003 bytes (limit 1000)" \
    "its message"
assert_eq "$(jq -s -r '[.[] | select(.ok) | .result] | join(",")' "$T/mr")" "before,after" \
    "the jobs around it"
assert_eq "$(jq -s -r '[.[] | select(.ok) | .worker] | unique | length' "$T/mr")" "1" \
    "the same executor ran the job after it"
tmq submit exec '["head","-c","1500","/dev/zero"]' >/dev/null 2>"$T/mr2.err"
grep -q "job failed: result too large: 15[0-9][0-9] bytes (limit 1000)" "$T/mr2.err" \
    || fail "exec over --max-result: $(cat "$T/mr2.err")"
assert_eq "$(tmq submit exec '["echo","ok"]' | jq -r .stdout)" "ok" "served on after it"
pass "--max-result fails the job, not the executor"

# ---- a command's background child does not hold its job up: it is killed at the exit ----
t0=$(date +%s%N)
arg=$(jq -nc --arg f "$T/bg" '{argv:["sh","-c","sleep 30 & echo $! > \($f); echo started"]}')
assert_eq "$(tmq submit exec "$arg" | jq -c .)" '{"status":0,"stdout":"started\n","stderr":""}' \
    "a command that leaves a child holding its stdout"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 10000 ] || fail "the job waited for the child"
bg_pid=$(cat "$T/bg")
for _ in $(seq 1 50); do alive "$bg_pid" || break; sleep 0.1; done
alive "$bg_pid" && fail "the child it left ($bg_pid) still runs"
pass "a job ends when its command exits; what it left running is killed"

# ---- the worker daemon killed with SIGKILL: its commands' children go too ----
rm -f "$T/pids"
"$TASKMQ" submit exec "$(jq -nc --arg f "$T/pids" \
    '{argv:["sh","-c","sleep 30 & echo $$ $! > \($f); wait"]}')" >/dev/null 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do [ -s "$T/pids" ] && break; sleep 0.05; done
read -r sh_pid bg_pid <"$T/pids" || fail "the command did not start"
kill -KILL "$WORKER_PID"
for _ in $(seq 1 50); do
    alive "$sh_pid" || alive "$bg_pid" || break
    sleep 0.1
done
alive "$sh_pid" && fail "the command ($sh_pid) outlived its worker"
alive "$bg_pid" && fail "its child ($bg_pid) outlived the worker"
pass "kill -9 of the worker daemon takes its commands and their children along"
