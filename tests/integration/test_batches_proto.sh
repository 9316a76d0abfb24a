# Named batches at the protocol level (PROTOCOL.md 5.8), with session_client.py and no journal:
# a submitter that vanishes without BYE leaves its batch running; ATTACH from another connection
# gets every result once and a complete BATCH; a resume ATTACH lists the cids done; an unknown
# batch says known: false; taskmq status lists the batch; a bad batch name refuses the SUBMIT.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SC="$(dirname "$0")/session_client.py"
start_broker --heartbeat 200
start_worker w1 --procs 2
wait_workers 1
sc() { timeout 60 "$PY" "$SC" "$FRONTEND" "$T/$1.json" "${@:2}"; }

out=$(sc a bsubmit run1 20 100) || fail "$out"
assert_eq "$out" "acked 20" "batch jobs accepted"
out=$(sc b attach run1) || fail "$out"
assert_eq "$out" "known 1 total 20 done 20 failed 0 results 20 dup 0" "attach after the submitter vanished"
out=$(sc b attach run1) # again: everything once more, complete at once
assert_eq "$out" "known 1 total 20 done 20 failed 0 results 20 dup 0" "a second attach"
assert_eq "$(sc c resume run1)" "ok 20" "resume"
assert_eq "$(sc c attach nosuch)" "known 0 total 0 done 0 failed 0 results 0 dup 0" "an unknown batch"
assert_eq "$(tmq status --json | jq -c '.batches[0] | [.name, .total, .done, .complete]')" \
    '["run1",20,20,true]' "status lists the batch"
pass "a vanished submitter's batch runs on; attach gets its 20 results once, twice over; resume lists them"

# a batch that gets failures, attached while it runs
out=$(timeout 30 "$PY" - "$FRONTEND" <<'PYEOF'
import sys, time, msgpack, zmq
s = zmq.Context.instance().socket(zmq.DEALER); s.connect(sys.argv[1])
H = b"TMQ\x01"
def send(c, b): s.send_multipart([H + bytes([c]), msgpack.packb(b, use_bin_type=True)])
def recv():
    if not s.poll(5000): return None, None
    h, b = s.recv_multipart(); return h[4], msgpack.unpackb(b, raw=False)
send(3, {"jobs": [[0, "fail", msgpack.packb("x"), 0, -1]], "batch": "bad name"})
print(recv()[1].get("error"))
send(3, {"jobs": [[i, "sleep" if i % 2 else "fail", msgpack.packb(300), 0, -1] for i in range(6)], "batch": "run2", "batch_end": True})
print("accepted", recv()[1]["accepted"])
PYEOF
)
[[ "$out" == *"is not a batch name"*"accepted 6" ]] || fail "bad name / run2: $out"
out=$(sc d attach run2)
assert_eq "$out" "known 1 total 6 done 3 failed 3 results 6 dup 0" "attach while it runs"
pass "a bad batch name refuses the SUBMIT; an attach while the batch runs gets each result once, then complete"
