#!/usr/bin/python3
"""A taskmq executor written in Python (the standard library and msgpack only), for the tests
and as a worked example of docs/EXECUTOR.md: it speaks the executor protocol on fd 3 and
serves a few functions.

    upper TEXT       TEXT in capitals
    add [A, B]       A + B
    pysleep MS       sleeps MS milliseconds, returns MS
    die ANY          the process dies of SIGSEGV (a crash, as a C function might)

Run by a worker: taskmq-worker --executor-cmd '/usr/bin/python3 executor.py'. For tests of
the daemon's checks: --hello-error TEXT announces that it cannot serve, --version N speaks
another protocol version.
"""
import os
import signal
import struct
import sys
import time

import msgpack

JOB, RESULT, REVOKE, RETURNED, HELLO = 1, 2, 3, 4, 5
OK, ERROR = 0, 1
FD = 3  # the job stream; fd 4 (REVOKE) is not used: this executor says revoke: false


def write_frame(obj):
    data = msgpack.packb(obj, use_bin_type=True)
    buf = struct.pack(">I", len(data)) + data
    while buf:
        buf = buf[os.write(FD, buf):]


def read_exact(n):
    out = b""
    while len(out) < n:
        chunk = os.read(FD, n - len(out))
        if not chunk:
            return None  # the daemon closed the stream: stop
        out += chunk
    return out


def serve(name, arg):
    if name == "upper":
        if not isinstance(arg, str):
            raise ValueError("upper: argument must be a string, got %r" % (arg,))
        return arg.upper()
    if name == "add":
        if not (isinstance(arg, list) and len(arg) == 2):
            raise ValueError("add: argument must be [A, B]")
        return arg[0] + arg[1]
    if name == "pysleep":
        time.sleep(arg / 1000.0)
        return arg
    if name == "die":
        os.kill(os.getpid(), signal.SIGSEGV)
    raise ValueError("unknown function: " + name)


def main():
    hello = {"version": 1, "functions": ["upper", "add", "pysleep", "die"], "revoke": False}
    args = sys.argv[1:]
    if "--hello-error" in args:
        hello = {"version": 1, "functions": [], "revoke": False,
                 "error": args[args.index("--hello-error") + 1]}
    if "--version" in args:
        hello["version"] = int(args[args.index("--version") + 1])
    write_frame([HELLO, hello])
    while True:
        head = read_exact(4)
        if head is None:
            return 0
        body = read_exact(struct.unpack(">I", head)[0])
        if body is None:
            return 0
        frame = msgpack.unpackb(body, raw=False)
        if frame[0] != JOB:
            return 1  # nothing else comes to an executor that does not hand jobs back
        _, tag, name, arg = frame
        t0 = time.monotonic()
        try:
            value = serve(name, msgpack.unpackb(arg, raw=False))
            status, data = OK, msgpack.packb(value, use_bin_type=True)
        except Exception as e:  # a job error, reported; the executor serves on
            status, data = ERROR, str(e).encode()
        write_frame([RESULT, tag, status, data, (time.monotonic() - t0) * 1000.0])


if __name__ == "__main__":
    sys.exit(main())
