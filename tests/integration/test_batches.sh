# Named batches with the taskmq tool (PROTOCOL.md 5.8), through a journaled broker: a
# `taskmq map --batch` killed with SIGKILL mid-run loses nothing (`taskmq attach` prints every
# index once, --ordered in index order); `taskmq batches` counts; an unknown batch is exit 2;
# `map --batch --resume` after a cancelled run submits only what is not done; the broker killed
# -9 and restarted on the same ports, between the kill of map and attach and during an attach,
# still gives every result once; a 0.4 broker (fake_broker.py oldclient) makes attach, batches
# and --resume say it keeps no batches.
. "$(dirname "$0")/lib.sh"
J="$T/journal"
start_broker --journal "$J" --heartbeat 200
FE=$FRONTEND BE=$BACKEND
start_worker w1 --procs 2
wait_workers 1
N=40
inputs() { seq 1 "$N" | sed 's/.*/100/'; } # 40 jobs `sleep 100`: ~2 s on 2 processes

# indexes FILE: the sorted indexes of FILE's lines, one line
indexes() { jq -r .index "$1" | sort -n | paste -sd' '; }
ALL=$(seq 0 $((N - 1)) | paste -sd' ')

# map_killed NAME SIGNAL: taskmq map --batch NAME (the program itself, not under timeout: the
# signal must reach it), killed with SIGNAL after 0.8 s; its lines in $T/NAME.map
inputs >"$T/in"
map_killed() {
    "$TASKMQ" map sleep --batch "$1" <"$T/in" >"$T/$1.map" 2>"$T/$1.map.err" &
    local pid=$!
    PIDS+=("$pid")
    sleep 0.8
    kill -"$2" "$pid"
    wait "$pid" 2>/dev/null
    kill -0 "$pid" 2>/dev/null && fail "map --batch $1 outlived SIG$2"
    local n
    n=$(wc -l <"$T/$1.map")
    [ "$n" -lt "$N" ] || fail "map --batch $1 finished before it was killed ($n lines)"
}

# restart_broker K: SIGKILL, then a new broker on the same ports and journal
restart_broker() {
    kill -KILL "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null
    "$BROKER" --frontend "$FE" --backend "$BE" --journal "$J" --heartbeat 200 2>"$T/broker-$1.log" &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    for _ in $(seq 1 100); do grep -q "journal replayed" "$T/broker-$1.log" && break; sleep 0.05; done
    grep -q "journal replayed" "$T/broker-$1.log" || fail "broker $1 did not start: $(cat "$T/broker-$1.log")"
}

# ---- killed mid-run: attach reads everything ----
map_killed b1 KILL
before=$(wc -l <"$T/b1.map")
tmq attach b1 >"$T/b1.att" 2>"$T/b1.att.err" || fail "attach b1 exited $?: $(cat "$T/b1.att.err")"
assert_eq "$(wc -l <"$T/b1.att")" "$N" "attach b1: lines"
assert_eq "$(indexes "$T/b1.att")" "$ALL" "attach b1: each index once"
assert_eq "$(jq -r 'select(.ok != true or .result != 100) | .index' "$T/b1.att" | wc -l)" "0" "attach b1: all ok"
# what map printed before the kill is part of it, with the same results
assert_eq "$(jq -c '[.index, .result]' "$T/b1.map" | sort)" \
    "$(jq -c '[.index, .result]' "$T/b1.att" | sort | grep -Fx -f <(jq -c '[.index, .result]' "$T/b1.map") | sort)" \
    "map's lines are attach's"
pass "map --batch b1 killed (SIGKILL) after $before of $N results; attach printed all $N, each index once, exit 0"

tmq attach b1 --ordered >"$T/b1.ord" || fail "attach --ordered exited $?"
assert_eq "$(jq -r .index "$T/b1.ord" | paste -sd' ')" "$ALL" "attach --ordered: index order"
assert_eq "$(tmq batches --json | jq -c '.[] | select(.name == "b1") | [.total, .done, .failed, .running, .complete]')" \
    "[$N,$N,0,0,true]" "batches --json: b1"
table=$(tmq batches) || fail "batches exited $?"
[[ "$table" == *NAME*TOTAL*DONE*FAILED*RUNNING*STATE*AGE* ]] || fail "batches table header: $table"
grep -Eq "^b1 +$N +$N +0 +0 +complete " <<<"$table" || fail "batches table row for b1: $table"
pass "attach --ordered prints 0..$((N - 1)) in order; batches lists b1: $N total, $N done, complete"

out=$(tmq attach nosuch 2>&1)
rc=$?
assert_eq "$rc" "2" "attach of an unknown batch: exit status"
[[ "$out" == "taskmq: no batch named nosuch at $FE" ]] || fail "attach nosuch said: $out"
out=$(tmq map sleep 1 --resume 2>&1)
assert_eq "$?" "2" "--resume without --batch: exit status"
[[ "$out" == *"--resume needs --batch NAME"* ]] || fail "--resume without --batch said: $out"
pass "an unknown batch: exit 2 and its message; --resume without --batch: exit 2"

# ---- a cancelled run (SIGTERM: BYE cancels its unfinished jobs) finished by --resume ----
map_killed b2 TERM
sleep 0.3
done_before=$(tmq batches --json | jq '.[] | select(.name == "b2") | .done')
[ "$done_before" -gt 0 ] && [ "$done_before" -lt "$N" ] || fail "b2 done after the cancel: $done_before"
assert_eq "$(tmq batches --json | jq '.[] | select(.name == "b2") | .running')" "0" "b2 running after the cancel"
tmq map sleep --batch b2 --resume -v <"$T/in" >"$T/b2.res" 2>"$T/b2.res.err" || fail "resume exited $?: $(cat "$T/b2.res.err")"
assert_eq "$(wc -l <"$T/b2.res")" "$((N - done_before))" "resume: lines (only what was not done)"
grep -q -- "--resume: $done_before inputs skipped" "$T/b2.res.err" || fail "resume -v said: $(cat "$T/b2.res.err")"
# the indexes resume ran and the ones done before make every index once
done_ids=$(tmq attach b2 | jq -r .index | sort -n | paste -sd' ')
assert_eq "$done_ids" "$ALL" "attach b2 after the resume"
assert_eq "$(cat <(jq -r .index "$T/b2.res") <(jq -r 'select(.ok) | .index' "$T/b2.map") | sort -n | uniq -d | wc -l)" "0" \
    "resume ran nothing that map had finished"
assert_eq "$(tmq batches --json | jq -c '.[] | select(.name == "b2") | [.total, .done, .running, .complete]')" \
    "[$N,$N,0,true]" "batches: b2 after the resume"
pass "map --batch b2 cancelled after $done_before done; --resume ran the other $((N - done_before)) (same indexes), b2 complete"

# ---- what would mix runs, or run jobs twice, is refused; an interrupted run is not whole ----
out=$(tmq map sleep --batch b1 <"$T/in" 2>&1)
assert_eq "$?" "2" "map --batch of an existing batch without --resume"
[[ "$out" == *"batch b1 exists ($N inputs, $N done, 0 failed, 0 running): --resume finishes it"* ]] || fail "reuse said: $out"
map_killed b5 INT # Ctrl-C: its unfinished jobs are cancelled
sleep 0.3
out=$(tmq attach b5 2>&1 >/dev/null)
assert_eq "$?" "1" "attach of an interrupted batch"
[[ "$out" == *"batch b5 is not whole:"*"jobs cancelled; \`taskmq map --batch b5 --resume\` finishes it"* ]] || fail "attach b5 said: $out"
tmq map sleep --batch b5 --resume <"$T/in" >/dev/null 2>&1 || fail "resume of b5 exited $?"
tmq attach b5 >/dev/null || fail "attach of b5 after its resume exited $?"
map_killed b6 KILL # its jobs run on
out=$(tmq map sleep --batch b6 --resume <"$T/in" 2>&1)
assert_eq "$?" "2" "--resume while the batch still runs"
[[ "$out" == *"jobs of batch b6 are still queued or running"*"taskmq attach b6"* ]] || fail "resume b6 said: $out"
tmq attach b6 >/dev/null || fail "attach b6 exited $?"
out=$(tmq map echo 1 --batch l1 --local 1 2>&1)
assert_eq "$?" "2" "--batch with --local"
pass "reusing a name, resuming while jobs run and --batch --local are refused (exit 2); an interrupted batch attaches as not whole (exit 1) until resumed"

# ---- the broker killed -9 and restarted between map's kill and attach ----
map_killed b3 KILL
restart_broker 1
tmq attach b3 --ordered >"$T/b3.att" 2>"$T/b3.att.err" || fail "attach b3 exited $?: $(cat "$T/b3.att.err")"
assert_eq "$(jq -r .index "$T/b3.att" | paste -sd' ')" "$ALL" "attach --ordered b3 after a broker restart"
pass "map --batch b3 killed, broker killed -9 and restarted: attach --ordered (while it runs) printed all $N once, in order"

# ---- ... and during an attach ----
map_killed b4 KILL
tmq attach b4 --broker-loss-timeout 30 >"$T/b4.att" 2>"$T/b4.att.err" &
att=$!
sleep 0.4
restart_broker 2
wait "$att"
rc=$?
assert_eq "$rc" "0" "attach b4 across a broker restart: exit status ($(cat "$T/b4.att.err"))"
assert_eq "$(wc -l <"$T/b4.att")" "$N" "attach b4 across a broker restart: lines"
assert_eq "$(indexes "$T/b4.att")" "$ALL" "attach b4 across a broker restart: each index once"
pass "an attach across a broker restart (kill -9) printed all $N once, exit 0"

# ---- a broker that does not keep batches (taskmq 0.4): fake_broker.py oldclient ----
timeout 60 /usr/bin/python3 "$(dirname "$0")/fake_broker.py" "$T/old.ep" oldclient >"$T/old.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do [ -s "$T/old.ep" ] && break; sleep 0.05; done
OLD=$(cat "$T/old.ep")
out=$(tmq attach b1 --broker "$OLD" 2>&1)
rc=$?
assert_eq "$rc" "1" "attach at a 0.4 broker: exit status"
[[ "$out" == "taskmq: this broker does not keep batches (taskmq 0.4 or older): $OLD" ]] || fail "attach at a 0.4 broker said: $out"
out=$(tmq batches --broker "$OLD" 2>&1)
assert_eq "$?" "1" "batches at a 0.4 broker: exit status"
[[ "$out" == *"does not keep batches (taskmq 0.4 or older)"* ]] || fail "batches at a 0.4 broker said: $out"
out=$(tmq map sleep 1 --batch b1 --resume --broker "$OLD" 2>&1)
assert_eq "$?" "1" "map --resume at a 0.4 broker: exit status"
[[ "$out" == "taskmq: --resume: this broker does not keep batches (taskmq 0.4 or older): $OLD" ]] || fail "map --resume at a 0.4 broker said: $out"
pass "a 0.4 broker: attach, batches and map --resume say it keeps no batches, exit 1"

# ---- jobs held after "queue full" are part of the batch before its end is said ----
"$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' --max-queue 2 2>"$T/small.log" &
SMALL=$!
PIDS+=("$SMALL")
tmq_await_endpoints "$T/small.log" "$SMALL" || fail "the small broker did not start"
"$WORKER" --broker "$BACKEND" --name wq --procs 2 2>"$T/worker-wq.log" &
PIDS+=("$!")
for _ in $(seq 1 100); do grep -q "registered with" "$T/worker-wq.log" && break; sleep 0.05; done
for _ in $(seq 1 30); do echo 100; done >"$T/q.in"
"$TASKMQ" map sleep --batch q1 --broker "$FRONTEND" <"$T/q.in" >"$T/q.map" 2>"$T/q.map.err" &
qmap=$!
PIDS+=("$qmap")
sleep 0.3
timeout 60 "$TASKMQ" attach q1 --broker "$FRONTEND" >"$T/q.att" 2>"$T/q.att.err"
rc=$?
wait "$qmap"
assert_eq "$rc" "0" "attach q1 exit status ($(cat "$T/q.att.err"))"
assert_eq "$(wc -l <"$T/q.att")" "30" "attach q1 while map's jobs wait for room (--max-queue 2)"
pass "a batch whose jobs were held by 'queue full': attach waits for all 30"
