"""A broker that speaks just enough of TMQ/1's worker side (docs/PROTOCOL.md 6) to put a real
taskmq-worker in the corners a real broker rarely reaches, for test_drain_edges.sh; and of
its client side to play a 0.4 broker to the taskmq tool, for test_batches.sh.

    fake_broker.py ENDPOINT_FILE MODE

binds tcp://127.0.0.1:* (the port written to ENDPOINT_FILE), then, by MODE:
  old       answers READY with WELCOME and sends one JOBS of two `sleep 5000` jobs; answers
            DRAIN with ERROR code 3, as a 0.4 broker does (it does not know command 19)
  silent    never answers READY (the worker's drain begins before any WELCOME)
  oldclient a 0.4 broker to clients: WELCOME to HELLO, ERROR code 3 to ATTACH (command 21,
            which it does not know), a STATUS_REPLY without `batches`, an ACK to SUBMIT;
            a BYE does not end it (several clients come, one after the other)
and prints each command it receives, one per line ("READY", "DRAIN", "BYE", ...), flushed,
until 20 s have passed or BYE arrived. Bounded, loopback only.
"""

import sys
import time

import msgpack
import zmq

NAMES = {1: "HELLO", 3: "SUBMIT", 6: "STATUS", 8: "READY", 10: "DONE", 11: "HEARTBEAT",
         13: "BYE", 14: "ERROR", 17: "RETURNED", 19: "DRAIN", 21: "ATTACH"}
WELCOME, ACK, JOBS, STATUS_REPLY, ERROR = 2, 4, 9, 7, 14


def send(sock, rid, cmd, body):
    sock.send_multipart([rid, b"TMQ\x01" + bytes([cmd]), msgpack.packb(body)])


def main():
    path, mode = sys.argv[1], sys.argv[2]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    sock.bind("tcp://127.0.0.1:*")
    with open(path, "w") as f:
        f.write(sock.getsockopt_string(zmq.LAST_ENDPOINT) + "\n")
    until = time.monotonic() + 20
    while time.monotonic() < until:
        if not sock.poll(100):
            continue
        rid, hdr, body = sock.recv_multipart()
        cmd = hdr[4]
        print(NAMES.get(cmd, str(cmd)), flush=True)
        if cmd == 8 and mode == "old":
            send(sock, rid, WELCOME, {"heartbeat": 1000, "max_payload": 1 << 20, "version": 1})
            arg = msgpack.packb(5000)
            send(sock, rid, JOBS, {"jobs": [[1, 1, "sleep", arg, 0], [2, 1, "sleep", arg, 0]]})
        elif cmd == 19 and mode == "old":
            send(sock, rid, ERROR, {"code": 3, "reason": "unknown command"})
        elif mode == "oldclient" and cmd == 1:
            send(sock, rid, WELCOME, {"heartbeat": 1000, "max_payload": 1 << 20, "version": 1})
        elif mode == "oldclient" and cmd == 21:
            send(sock, rid, ERROR, {"code": 3, "reason": "command not allowed from a client"})
        elif mode == "oldclient" and cmd == 6:
            send(sock, rid, STATUS_REPLY, {"queued": 0, "running": 0, "done": 0, "failed": 0,
                                           "workers": [], "version": "0.4.0"})
        elif mode == "oldclient" and cmd == 3:
            n = len(msgpack.unpackb(body, raw=False).get("jobs", []))
            send(sock, rid, ACK, {"accepted": n, "rejected": []})
        elif cmd == 13 and mode != "oldclient":
            break
    sock.close()
    ctx.term()


if __name__ == "__main__":
    main()
