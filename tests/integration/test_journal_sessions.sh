# A journaled broker (--journal) at the protocol level, with session_client.py (PROTOCOL.md 5.7
# alone): acknowledged jobs survive kill -9 of the broker, each result reaches the session once
# it is claimed again and is not sent again once acknowledged (RACK); a resubmitted SUBMIT creates
# nothing; a SUBMIT from a new connection claims the session (WELCOME before its ACK); a torn
# tail is cut at start, and so is damage in the last segment (kept aside, logged as an error); a
# journal another broker holds stops the broker with exit 1 naming the holder; a full disk refuses new jobs "journal unavailable" (ACK code 5)
# and loses nothing accepted.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SC="$(dirname "$0")/session_client.py"
J="$T/journal"

# broker_up N [flags]: a journaled broker logging to broker-N.log; the first one picks free ports, later ones
# take the same (the clients and the worker reconnect to them).
FE_PORT="" BE_PORT=""
broker_up() {
    local log="$T/broker-$1.log"
    shift
    if [ -z "$FE_PORT" ]; then
        start_broker --journal "$J" "$@"
        ln -sf "$T/broker.log" "$log"
        FE_PORT=${FRONTEND##*:} BE_PORT=${BACKEND##*:}
        return
    fi
    "$BROKER" --frontend "tcp://127.0.0.1:$FE_PORT" --backend "tcp://127.0.0.1:$BE_PORT" \
        --journal "$J" "$@" 2>"$log" &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    for _ in $(seq 1 100); do grep -q "backend bound" "$log" && return; sleep 0.05; done
    fail "broker did not start again: $(cat "$log")"
}
sc() { timeout 60 "$PY" "$SC" "$FRONTEND" "$T/state.json" "$@"; }

broker_up 0
start_worker w1 --procs 2
wait_workers 1

# ---- acknowledged jobs survive kill -9 ----
out=$(sc submit 300 10) || fail "submit: $out"
assert_eq "$out" "acked 300" "jobs acknowledged"
out=$(sc collect 40 rack) || fail "collect: $out"
[[ "$out" == "resumed 300 new 40 dup 0" ]] || fail "first collect: $out"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
broker_up 1
grep -q "journal replayed: .* for 1 sessions" "$T/broker-1.log" || fail "no replay: $(cat "$T/broker-1.log")"
out=$(sc collect 100 norack) || fail "collect: $out"
[[ "$out" =~ ^resumed\ 260\ new\ 100\ dup\ 0$ ]] || fail "after the first kill: $out (260 left: 300 - 40 acknowledged)"
kill -9 "$BROKER_PID" # results sent but not acknowledged: they must come again
wait "$BROKER_PID" 2>/dev/null
broker_up 2
out=$(sc collect 160 rack) || fail "collect: $out"
[[ "$out" =~ ^resumed\ 260\ new\ 160\ dup\ 100$ ]] || fail "after the second kill: $out"
got=$(jq '.got | length' "$T/state.json")
assert_eq "$got" "300" "distinct results"
out=$(sc collect 0 rack)
[[ "$out" == "resumed 0 new 0 dup 0" ]] || fail "all acknowledged, yet: $out"
assert_eq "$(status_field journal.live_jobs)" "0" "journal live jobs once all were acknowledged"
assert_eq "$(status_field journal.sessions)" "2" "sessions kept (the test's, and taskmq status's own)"
assert_eq "$(status_field journal.failed)" "" "journal failure"
tmq status | grep -q "^journal  0 live jobs, [0-9.]* MB, 2 sessions$" || fail "status text: $(tmq status)"
pass "300 acknowledged jobs across 2 kill -9s: each result once, 100 unacknowledged ones resent, none after RACK"

# ---- a named batch survives kill -9 with its submitter gone: attach reads all of it ----
sb() { timeout 60 "$PY" "$SC" "$FRONTEND" "$T/$1.json" "${@:2}"; }
out=$(sb b1 bsubmit nightly 40 50 end) || fail "$out"
assert_eq "$out" "acked 40" "batch jobs acknowledged"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
broker_up 2b
out=$(sb b2 attach nightly) || fail "$out"
assert_eq "$out" "known 1 total 40 done 40 failed 0 results 40 dup 0" "attach after kill -9"
assert_eq "$(sb b2 resume nightly)" "ok 40" "resume after kill -9"
kill -9 "$BROKER_PID" # the results, kept in the journal for the batch, come back again
wait "$BROKER_PID" 2>/dev/null
broker_up 2c
out=$(sb b3 attach nightly) || fail "$out"
assert_eq "$out" "known 1 total 40 done 40 failed 0 results 40 dup 0" "attach after a second kill -9"
pass "a batch of 40 whose submitter left: after kill -9 (twice) attach prints all 40 once, resume knows them"

# ---- a resubmitted SUBMIT creates nothing; a SUBMIT from a new connection claims ----
rm -f "$T/state.json" # a new session
out=$(sc submit 20 2000) || fail "$out" # long jobs, so they are live when resubmitted
out=$(sc resubmit)
assert_eq "$out" "accepted 20 of 20" "a resubmission of live jobs is counted accepted"
sleep 0.2
running=$(status_field running) queued=$(status_field queued)
[ $((running + queued)) -le 20 ] || fail "the resubmission created jobs: $running running, $queued queued"
out=$(sc raw-submit 3)
[[ "$out" == "WELCOME resumed="*" ACK seq=77 accepted=3 ACK" ]] || fail "SUBMIT from a new connection: $out"
pass "resubmitted cids are held, not run again; a SUBMIT from a new connection gets WELCOME, then its ACK (seq echoed)"

# ---- a torn tail is cut; damage elsewhere and a held lock stop the broker ----
kill -TERM "$BROKER_PID"
wait "$BROKER_PID"
last=$(ls "$J"/journal-*.seg | tail -n 1)
size=$(stat -c %s "$last")
truncate -s $((size - 7)) "$last"
broker_up 3 --metrics '127.0.0.1:*'
grep -q "torn tail cut at offset" "$T/broker-3.log" || fail "no torn tail: $(cat "$T/broker-3.log")"
PROMTOOL=${TASKMQ_PROMTOOL:-}
[ -x "$PROMTOOL" ] || PROMTOOL=$(command -v promtool || true)
[ -x "$PROMTOOL" ] || PROMTOOL="$(dirname "$0")/../../build-tools/bin/promtool"
[ -x "$PROMTOOL" ] || fail "promtool not found: run scripts/setup.sh build (it fetches it)"
for _ in $(seq 1 50); do grep -q "metrics at" "$T/broker-3.log" && break; sleep 0.05; done
METRICS=$(sed -n 's/.*metrics at \(http:[^ ]*\).*/\1/p' "$T/broker-3.log" | head -n1)
curl -sf "$METRICS" >"$T/scrape" || fail "no metrics at '$METRICS'"
grep -q '^taskmq_journal_live_jobs [0-9]' "$T/scrape" || fail "no journal metrics: $(grep journal "$T/scrape")"
grep -q '^taskmq_journal_failed 0$' "$T/scrape" || fail "journal_failed: $(grep journal_failed "$T/scrape")"
"$PROMTOOL" check metrics <"$T/scrape" >"$T/promtool.out" 2>&1 || fail "promtool: $(cat "$T/promtool.out")"
"$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' --journal "$J" 2>"$T/second.log"
assert_eq "$?" "1" "a second broker on the journal"
grep -q "is in use by another broker (pid $BROKER_PID)" "$T/second.log" || fail "$(cat "$T/second.log")"
rm "$J/LOCK" # under a running broker: the directory's own lock still keeps a second one out
"$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' --journal "$J" 2>"$T/third.log"
assert_eq "$?" "1" "a second broker after LOCK was removed"
grep -q "is in use by another broker (its LOCK file was removed)" "$T/third.log" || fail "$(cat "$T/third.log")"
"$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' --journal "$T/no/such/j" 2>"$T/parent.log"
assert_eq "$?" "1" "a journal whose parent is missing"
grep -q "its parent directory must exist" "$T/parent.log" || fail "$(cat "$T/parent.log")"
kill -TERM "$BROKER_PID"
wait "$BROKER_PID"
cp -r "$J" "$T/damaged"
first=$(ls "$T/damaged"/journal-*.seg | head -n 1)
printf '\xff\xff\xff\xff' | dd of="$first" bs=1 seek=60 conv=notrunc 2>/dev/null
# damage inside the last segment with whole records after it: not a torn tail. The broker cuts
# there (no record is replayed as garbage), keeps what it cut beside it, and says so as an error
"$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' --journal "$T/damaged" 2>"$T/damaged.log" &
D=$!
PIDS+=("$D")
for _ in $(seq 1 100); do grep -q "journal replayed" "$T/damaged.log" && break; sleep 0.05; done
kill -TERM "$D"
wait "$D"
grep -q "ERROR journal: .*/journal-00000001.seg is damaged at offset 40 (checksum mismatch) and has whole records after it" \
    "$T/damaged.log" || fail "damage not said: $(cat "$T/damaged.log")"
ls "$T/damaged"/journal-00000001.seg.cut-* >/dev/null || fail "what was cut is not kept"
pass "torn tail cut at start; a held journal stops a second broker with exit 1; damage mid-segment is cut, kept aside and said"

# ---- a full disk: new jobs refused "journal unavailable", nothing accepted lost ----
if [ "$(id -u)" = 0 ] && mkdir -p "$T/small" && mount -t tmpfs -o size=256k tmpfs "$T/small" 2>/dev/null; then
    # the broker on it first (a busy mount does not go), then the mount, then the rest
    trap 'kill -KILL "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; umount "$T/small" 2>/dev/null; cleanup' EXIT
    FE_PORT="" BE_PORT=""
    kill -TERM "$WORKER_PID"
    wait "$WORKER_PID"
    J="$T/small/j"
    broker_up 4
    start_worker w2 --procs 2
    wait_workers 1
    rm -f "$T/state.json"
    out=$(sc submit 50 300) || fail "$out"
    assert_eq "$out" "acked 50" "accepted before the disk filled"
    head -c 300k /dev/zero >"$T/small/filler" 2>/dev/null # fills it
    out=$(timeout 60 "$PY" - "$FRONTEND" "$T/state.json" <<'EOF'
import json, sys, time, msgpack, zmq
ep, st = sys.argv[1], json.load(open(sys.argv[2]))
sid = bytes.fromhex(st["sid"])
s = zmq.Context.instance().socket(zmq.DEALER); s.connect(ep)
hdr = b"TMQ\x01"
s.send_multipart([hdr + b"\x01", msgpack.packb({"session": sid, "linger_ms": 60000}, use_bin_type=True)])
big = msgpack.packb(b"x" * 60000, use_bin_type=True)
codes = set()
for seq in range(1, 9):
    s.send_multipart([hdr + b"\x03", msgpack.packb({"jobs": [[5000 + seq, "echo", big, 0, -1]], "seq": seq, "session": sid}, use_bin_type=True)])
    deadline = time.time() + 5
    while time.time() < deadline:
        if not s.poll(200): continue
        h, b = s.recv_multipart()
        b = msgpack.unpackb(b, raw=False)
        if h[4] == 4:
            for r in b["rejected"]: codes.add((r[1], r[2].split(":")[0]))
            break
print(sorted(codes))
EOF
)
    [[ "$out" == *"(5, 'journal unavailable')"* ]] || fail "no journal refusal on a full disk: $out"
    grep -q "journal unavailable: No space left on device" "$T/broker-4.log" || fail "not logged: $(tail "$T/broker-4.log")"
    tmq status | grep -q "^journal .*FAILING: journal unavailable: No space left on device" \
        || fail "status does not say the journal fails: $(tmq status)"
    rm -f "$T/small/filler"
    out=$(sc collect 51 rack) || fail "$out" # the 50, and the job that waited for room
    [[ "$out" =~ dup\ 0$ ]] || fail "accepted jobs after the full disk: $out"
    assert_eq "$(jq '[.got[] | select(. < 50)] | length' "$T/state.json")" "50" "jobs accepted before the disk filled, delivered"
    # the job whose ACCEPT hit the full disk waited, unacknowledged, and was written when room came
    pass "a full disk: new jobs refused with code 5 'journal unavailable' at once; the 50 accepted ones all delivered"

    kill -TERM "$BROKER_PID"
    wait "$BROKER_PID"
    umount "$T/small"
else
    echo "skip - full disk (needs root to mount a small tmpfs)"
fi
