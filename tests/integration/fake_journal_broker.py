"""A broker that speaks just enough of TMQ/1's client side with a journal (docs/PROTOCOL.md
5.7) to put the real `taskmq` tool through a broker restart, for test_client_journal.sh.

    fake_journal_broker.py ENDPOINT_FILE STATE_FILE MODE [ENDPOINT]

MODE first: binds tcp://127.0.0.1:* (the endpoint written to ENDPOINT_FILE), answers HELLO
with WELCOME {journal: true}, ACKs each SUBMIT with its seq, completes one `echo` job every
50 ms, and after the third result writes its "journal" to STATE_FILE (the session, every job
it accepted, every result it sent, as if the RACKs for them never reached its disk) and
exits at once without a word, as a killed broker does. MODE bye: the same, but it says BYE
first, as a broker shutting down does. MODE second: binds ENDPOINT again, a restarted
process that replayed STATE_FILE: a HEARTBEAT from a connection it does not know gets
ERROR 4, a HELLO (or a SUBMIT) with the session takes it over: WELCOME {journal, resumed}, the
results it sent before again, then the remaining jobs; resubmitted cids create nothing.
Prints what it sees ("HELLO <session hex>", "SUBMIT seq=N new=K", "RACK n", "BYE"), flushed.
Stops at BYE from the client or after 20 s. Bounded, loopback only.
"""

import json
import os
import sys
import time

import msgpack
import zmq

HELLO, WELCOME, SUBMIT, ACK, RESULTS = 1, 2, 3, 4, 5
HEARTBEAT, BYE, ERROR, RACK = 11, 13, 14, 20
HB_MS = 200


def send(sock, rid, cmd, body):
    sock.send_multipart([rid, b"TMQ\x01" + bytes([cmd]), msgpack.packb(body, use_bin_type=True)])


def main():
    path, state_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    jobs = {}  # cid -> arg bytes: accepted, no result sent yet (in order)
    sent = []  # [cid, arg] of every result sent
    session = None
    if mode == "second":
        with open(state_path) as f:
            st = json.load(f)
        session = bytes.fromhex(st["session"])
        jobs = {int(c): bytes.fromhex(a) for c, a in st["jobs"]}
        sent = [[int(c), bytes.fromhex(a)] for c, a in st["sent"]]
        sock.bind(sys.argv[4])
    else:
        sock.bind("tcp://127.0.0.1:*")
        with open(path, "w") as f:
            f.write(sock.getsockopt_string(zmq.LAST_ENDPOINT) + "\n")
    held = set(jobs) | {c for c, _ in sent}  # the session's cids
    client = None  # the routing id holding the session
    last_out = next_done = time.monotonic()
    until = time.monotonic() + 20

    def out(cmd, body):
        nonlocal last_out
        send(sock, client, cmd, body)
        last_out = time.monotonic()

    def takeover(rid):
        nonlocal client
        client = rid
        out(WELCOME, {"heartbeat": HB_MS, "max_payload": 1 << 20, "version": 1,
                      "journal": True, "resumed": len(jobs) + len(sent)})
        if sent:
            out(RESULTS, {"results": [[c, 0, a, "fake:1", 1.0, 1] for c, a in sent]})

    while time.monotonic() < until:
        if sock.poll(10):
            rid, hdr, body = sock.recv_multipart()
            cmd, msg = hdr[4], msgpack.unpackb(body, raw=False)
            if cmd == HELLO:
                if session is None:
                    session = msg.get("session")
                print("HELLO", (msg.get("session") or b"").hex(), msg.get("linger_ms"), flush=True)
                takeover(rid)
            elif rid != client:
                if cmd == SUBMIT and msg.get("session") == session:
                    takeover(rid)
                elif cmd == HEARTBEAT:
                    print("ERROR 4", flush=True)
                    send(sock, rid, ERROR, {"code": 4, "reason": "unknown client"})
                    continue
                else:
                    continue
            if cmd == SUBMIT:
                new = 0
                for item in msg["jobs"]:
                    if item[0] not in held:
                        held.add(item[0])
                        jobs[item[0]] = item[2]
                        new += 1
                print("SUBMIT seq=%s new=%d" % (msg.get("seq"), new), flush=True)
                out(ACK, {"accepted": len(msg["jobs"]), "rejected": [], "seq": msg.get("seq", 0)})
            elif cmd == RACK:
                print("RACK", msg.get("received"), flush=True)
            elif cmd == BYE:
                print("BYE", flush=True)
                break
        now = time.monotonic()
        if client is not None and jobs and now >= next_done:
            cid = next(iter(jobs))
            arg = jobs.pop(cid)
            out(RESULTS, {"results": [[cid, 0, arg, "fake:1", 1.0, 1]]})
            sent.append([cid, arg])
            next_done = now + 0.05
            if mode != "second" and len(sent) == 3:
                with open(state_path + ".tmp", "w") as f:
                    json.dump({"session": session.hex(),
                               "jobs": [[c, a.hex()] for c, a in jobs.items()],
                               "sent": [[c, a.hex()] for c, a in sent]}, f)
                os.rename(state_path + ".tmp", state_path)
                if mode == "bye":
                    out(BYE, {})
                time.sleep(0.2)  # what was sent reaches the client: only then it "dies"
                print("EXIT", flush=True)
                sys.stdout.flush()
                os._exit(0)
        if client is not None and now - last_out >= HB_MS / 1000:
            out(HEARTBEAT, {})
    sock.close()
    ctx.term()


if __name__ == "__main__":
    main()
