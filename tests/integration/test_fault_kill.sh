# SIGKILL a worker daemon every second while 20,000 jobs run across three daemons that a
# supervisor loop restarts: every job's result arrives exactly once and the run completes.
. "$(dirname "$0")/lib.sh"
start_broker --heartbeat 250
declare -A slot
spawn() { start_worker "k$1-$RANDOM" --procs 3; slot[$1]=$WORKER_PID; }
for s in 0 1 2; do spawn $s; done
wait_workers 3

N=20000
seq 0 $((N - 1)) | awk '{print 1 + $1 % 3}' >"$T/in"
TMQ_TIMEOUT=240 tmq map sleep <"$T/in" >"$T/out" &
client=$!
kills=0
for _ in $(seq 1 200); do                        # bounded: at most 200 s of chaos
    kill -0 "$client" 2>/dev/null || break
    sleep 1
    victim=${slot[$((RANDOM % 3))]}
    kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
    for s in 0 1 2; do kill -0 "${slot[$s]}" 2>/dev/null || spawn $s; done
done
wait "$client"
rc=$?
assert_eq "$rc" "0" "client exit status (all jobs succeeded)"
assert_eq "$(wc -l <"$T/out")" "$N" "one line per job"
assert_eq "$(jq -r .index "$T/out" | sort -n | uniq | wc -l)" "$N" "each job exactly once"
assert_eq "$(jq -c 'select(.ok != true)' "$T/out" | wc -l)" "0" "no failures"
[ "$kills" -ge 2 ] || fail "only $kills daemons killed: the run was too short to test anything"
echo "# jobs=$N daemons_killed=$kills lost=0 duplicated=0 stale=$(status_field stale)"
pass "20,000 jobs, $kills daemons killed, each result exactly once"
