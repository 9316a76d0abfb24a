# A broker that shuts down (SIGTERM) says BYE to its clients (contract §1): `taskmq map`
# fails every awaited job at once with "broker shut down", says so in one line and exits 4
# within about a second (not after 5 s of silence). A client pointed at the worker port is
# told so at once (contract §2, ERROR 5) and exits 3 with the broker's words.
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 2
wait_workers 1

wport=${BACKEND##*:}
cport=${FRONTEND##*:}
t0=$(date +%s%N)
tmq --broker "$BACKEND" status >/dev/null 2>"$T/wrong"
assert_eq "$?" "3" "a client on the worker port"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -le 1500 ] || fail "took too long to be told wrong port"
assert_eq "$(cat "$T/wrong")" "taskmq: this is a broker's worker port ($wport); clients connect to $cport" "wrong port message"
pass "wrong port: exit 3 at once with the broker's reason"

tmq map sleep 4000 4000 4000 >"$T/out" 2>"$T/err" &
client=$!
sleep 0.7
t0=$(date +%s%N)
kill -TERM "$BROKER_PID"
wait "$client"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "$rc" "4" "exit status when the broker shuts down"
[ "$ms" -le 1500 ] || fail "took $ms ms to notice the broker shut down"
assert_eq "$(wc -l <"$T/out")" "3" "a line per job"
assert_eq "$(jq -r .error "$T/out" | sort -u)" "broker shut down" "the jobs' error"
assert_eq "$(cat "$T/err")" "taskmq: the broker shut down: 3 jobs did not finish" "the message"
pass "SIGTERM to the broker: exit 4 in $ms ms, one message"
