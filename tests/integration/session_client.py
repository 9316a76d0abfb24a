"""A session client written from PROTOCOL.md 5.7 alone, for test_journal_sessions.sh.

    session_client.py ENDPOINT STATE COMMAND ...

STATE is a JSON file that carries the session id and what was received between runs (each
run is a new connection, as a client after a broker restart is):
  submit N MS     HELLO (new session), SUBMIT N jobs `sleep MS` (cids 0..N-1, arg = cid % 7
                  + MS) in SUBMITs of 50 with seq 1.., wait for every ACK; prints "acked N"
  collect K RACK  HELLO with the session, read RESULTS until K new cids arrived (or 20 s),
                  RACK the count when RACK is "rack", not at all when "norack"; prints
                  "resumed R new K dup D" (D: results for cids already received)
  resubmit        HELLO with the session, SUBMIT again every job (same cids and seqs): each
                  must be counted accepted and none created (the broker holds them)
  raw-submit N    no HELLO: a SUBMIT with the session from this new connection first (the
                  broker restarted faster than we noticed); prints the WELCOME and ACK seen
  bsubmit NAME N MS [end]
                  (5.8) HELLO with the session, SUBMIT N jobs `sleep MS` to batch NAME (cids
                  0..N-1), `batch_end` when "end"; waits for the ACKs and leaves WITHOUT BYE (as
                  a killed client does); prints "acked N"
  attach NAME     ATTACH NAME: prints "known K total T done D failed F results R dup X" once a
                  BATCH says complete (or after 20 s: "incomplete ...")
  resume NAME     ATTACH NAME resume: prints "ok N" (the cids with an OK result)
Exits 1 on a protocol error (no WELCOME, an ACK that does not match, ...).
"""
import json
import os
import sys
import time

import msgpack
import zmq

HDR = b"TMQ\x01"
HELLO, WELCOME, SUBMIT, ACK, RESULTS, BYE, RACK = 1, 2, 3, 4, 5, 13, 20


def send(sock, cmd, body):
    sock.send_multipart([HDR + bytes([cmd]), msgpack.packb(body, use_bin_type=True)])


def recv(sock, timeout_ms):
    if not sock.poll(timeout_ms):
        return None, None
    hdr, body = sock.recv_multipart()
    return hdr[4], msgpack.unpackb(body, raw=False)


def die(why):
    print("ERROR: " + why)
    sys.exit(1)


def connect(ep):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 1000)
    s.connect(ep)
    return s


def hello(sock, sid, journal=True):
    send(sock, HELLO, {"oom": True, "session": sid, "linger_ms": 60000})
    deadline = time.time() + 10
    while time.time() < deadline:
        cmd, body = recv(sock, 200)
        if cmd == WELCOME:
            if journal and not body.get("journal"):
                die("WELCOME without journal: %r" % body)
            return body
    die("no WELCOME")


def main():
    ep, state_file, what = sys.argv[1], sys.argv[2], sys.argv[3]
    st = json.load(open(state_file)) if os.path.exists(state_file) else {}
    sid = bytes.fromhex(st["sid"]) if "sid" in st else os.urandom(16)
    st["sid"] = sid.hex()
    got = set(st.get("got", []))
    sock = connect(ep)
    if what == "submit":
        n, ms = int(sys.argv[4]), int(sys.argv[5])
        w = hello(sock, sid)
        if w.get("resumed") != 0:
            die("a new session resumed %r" % w.get("resumed"))
        seq, acked = 0, 0
        for first in range(0, n, 50):
            seq += 1
            jobs = [[c, "sleep", msgpack.packb(c % 7 + ms), 0, -1] for c in range(first, min(n, first + 50))]
            send(sock, SUBMIT, {"jobs": jobs, "oom": True, "seq": seq, "session": sid})
        want = seq
        deadline = time.time() + 20
        next_seq = 1
        while next_seq <= want and time.time() < deadline:
            cmd, body = recv(sock, 200)
            if cmd == ACK:
                if body.get("seq") != next_seq:
                    die("ACK seq %r, expected %d" % (body.get("seq"), next_seq))
                if body["rejected"]:
                    die("rejected: %r" % body["rejected"])
                acked += body["accepted"]
                next_seq += 1
        st["n"] = n
        print("acked %d" % acked)
    elif what == "collect":
        k, rack = int(sys.argv[4]), sys.argv[5] == "rack"
        w = hello(sock, sid)
        new = dup = count = 0
        deadline = time.time() + 20
        while new < k and time.time() < deadline:
            cmd, body = recv(sock, 200)
            if cmd != RESULTS:
                continue
            for item in body["results"]:
                if new >= k:
                    break  # the rest of this message counts as not received: RACK says so
                count += 1
                cid, status, data = item[0], item[1], item[2]
                if status != 0:
                    die("job %d failed: %r" % (cid, data))
                if cid in got:
                    dup += 1
                else:
                    got.add(cid)
                    new += 1
        if rack:
            send(sock, RACK, {"received": count})
            time.sleep(0.3)  # let it go out (LINGER covers the rest)
        print("resumed %d new %d dup %d" % (w.get("resumed", -1), new, dup))
    elif what == "resubmit":
        hello(sock, sid)
        n = st["n"]
        seq = 0
        for first in range(0, n, 50):
            seq += 1
            jobs = [[c, "sleep", msgpack.packb(c % 7), 0, -1] for c in range(first, min(n, first + 50))]
            send(sock, SUBMIT, {"jobs": jobs, "oom": True, "seq": seq, "session": sid})
        accepted, acks = 0, 0
        deadline = time.time() + 10
        while acks < seq and time.time() < deadline:
            cmd, body = recv(sock, 200)
            if cmd == ACK:
                acks += 1
                accepted += body["accepted"]
        print("accepted %d of %d" % (accepted, n))
    elif what == "raw-submit":
        n = int(sys.argv[4])
        jobs = [[c, "sleep", msgpack.packb(1), 0, -1] for c in range(1000, 1000 + n)]
        send(sock, SUBMIT, {"jobs": jobs, "oom": True, "seq": 77, "session": sid})
        seen = []
        deadline = time.time() + 10
        while time.time() < deadline and "ACK" not in seen:
            cmd, body = recv(sock, 200)
            if cmd == WELCOME:
                seen.append("WELCOME resumed=%s" % body.get("resumed"))
            elif cmd == ACK:
                seen.append("ACK seq=%s accepted=%s" % (body.get("seq"), body.get("accepted")))
                seen.append("ACK")
        print(" ".join(seen))
    elif what == "bsubmit":
        name, n, ms = sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
        end = len(sys.argv) > 7 and sys.argv[7] == "end"
        hello(sock, sid, journal=False)
        jobs = [[c, "sleep", msgpack.packb(ms), 0, -1] for c in range(n)]
        body = {"jobs": jobs, "oom": True, "seq": 1, "session": sid, "batch": name}
        if end:
            body["batch_end"] = True
        send(sock, SUBMIT, body)
        acked = 0
        deadline = time.time() + 10
        while time.time() < deadline:
            cmd, b = recv(sock, 200)
            if cmd == ACK:
                acked = b["accepted"]
                break
        print("acked %d" % acked)
        sock.setsockopt(zmq.LINGER, 0)
        sock.close()  # no BYE: as if killed
        return
    elif what in ("attach", "resume"):
        name = sys.argv[4]
        body = {"batch": name}
        if what == "resume":
            body["resume"] = True
        send(sock, 21, body)
        seen, dup, info = set(), 0, None
        deadline = time.time() + 20
        while time.time() < deadline:
            cmd, b = recv(sock, 200)
            if cmd == 22:
                info = b
                if what == "resume" or b.get("complete") or not b.get("known"):
                    break
            elif cmd == RESULTS:
                for item in b["results"]:
                    if item[0] in seen:
                        dup += 1
                    seen.add(item[0])
        if what == "resume":
            print("ok %d" % len(info.get("ok", [])))
        else:
            print("%sknown %d total %d done %d failed %d results %d dup %d" % (
                "" if info and (info.get("complete") or not info.get("known")) else "incomplete ",
                info["known"], info["total"], info["done"], info["failed"], len(seen), dup))
    st["got"] = sorted(got)
    json.dump(st, open(state_file, "w"))
    sock.close()


main()
