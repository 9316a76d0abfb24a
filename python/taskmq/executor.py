"""taskmq.executor: serves the functions of Python modules as taskmq jobs.

    python3 -m taskmq.executor MODULE [MODULE...]

Run by `taskmq-worker --python MODULE` (or by --executor-cmd), it speaks the executor
protocol (docs/EXECUTOR.md, version 1) on fd 3: one HELLO, then one RESULT per JOB, one job at
a time (it says revoke: false, so fd 4 is never used). Each MODULE (a module name found on
sys.path, or a path to a .py file) is imported once, before HELLO; its public functions are
served as MODULE:function. A module that cannot be imported makes HELLO carry `error` (the
traceback), so the worker stops at start. Arguments and results are msgpack; nothing is ever
unpickled.
"""
import asyncio
import importlib
import importlib.util
import inspect
import os
import platform
import struct
import sys
import time
import traceback

try:
    import msgpack
except ImportError as _e:  # said in HELLO below, encoded by hand
    msgpack = None
    _MSGPACK_MISSING = ("taskmq.executor needs msgpack for Python (Debian: apt install "
                        "python3-msgpack): %s" % _e)

PROTOCOL_VERSION = 1
JOB, RESULT, REVOKE, RETURNED, HELLO = 1, 2, 3, 4, 5
OK, ERROR = 0, 1
JOB_FD = 3
MAX_FRAME = 64 << 20  # docs/EXECUTOR.md section 2
MAX_RESULT = MAX_FRAME - 1024  # room for the RESULT frame around its data
MAX_FNAME = 64
MAX_FUNCTIONS = 1024
MARKER = "__taskmq_job__"


class ModuleError(Exception):
    """A module that cannot be served: the text goes in HELLO's `error`."""


def _write_frame(obj):
    data = msgpack.packb(obj, use_bin_type=True)
    buf = memoryview(struct.pack(">I", len(data)) + data)
    while buf:
        buf = buf[os.write(JOB_FD, buf):]


def _read_exact(n):
    parts, got = [], 0
    while got < n:
        chunk = os.read(JOB_FD, min(n - got, 1 << 20))
        if not chunk:
            return None  # the daemon closed the stream
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _read_frame():
    """The next frame as a list, or None at end of stream. Raises ValueError when malformed."""
    head = _read_exact(4)
    if head is None:
        return None
    n = struct.unpack(">I", head)[0]
    if n > MAX_FRAME:
        raise ValueError("frame of %d bytes (at most %d)" % (n, MAX_FRAME))
    body = _read_exact(n)
    if body is None:
        return None
    frame = msgpack.unpackb(body, raw=False)
    if not isinstance(frame, list) or not frame:
        raise ValueError("a frame is not an array")
    return frame


def _user_traceback(exc, skip=()):
    """The traceback text of exc without this file's frames (and importlib's, asyncio's);
    "" when no frame of the user's is left (a call with the wrong arguments)."""
    te = traceback.TracebackException.from_exception(exc)
    keep = [f for f in te.stack
            if f.filename != __file__ and not f.filename.startswith("<frozen importlib")
            and not f.filename.startswith(_ASYNCIO_DIR) and f.filename not in skip]
    if not keep and te.__cause__ is None and te.__context__ is None:
        only = "".join(te.format_exception_only())   # a SyntaxError's line and caret
        return only if only.count("\n") > 1 else ""
    te.stack = traceback.StackSummary.from_list(keep)
    return "".join(te.format())


_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep


def _import(spec):
    """Imports one MODULE argument: (name, module). Raises ModuleError saying why not."""
    is_path = spec.endswith(".py") or os.sep in spec
    try:
        if is_path:
            path = os.path.abspath(spec)
            if not os.path.isfile(path):
                raise ModuleError("cannot import %s: no such file" % spec)
            name = os.path.splitext(os.path.basename(path))[0]
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None:
                raise ModuleError("cannot import %s: not a Python file" % spec)
            module = importlib.util.module_from_spec(loader_spec)
            # like `python3 FILE`: its directory is searched first for what it imports
            sys.path.insert(0, os.path.dirname(path))
            sys.modules[name] = module
            loader_spec.loader.exec_module(module)
        else:
            name = spec
            module = importlib.import_module(spec)
    except ModuleError:
        raise
    except BaseException as e:  # SystemExit and KeyboardInterrupt in a module body too
        if is_path:
            sys.modules.pop(name, None)
        raise ModuleError("cannot import %s: %s: %s\n%s"
                          % (spec, type(e).__name__, e, _user_traceback(e))) from None
    return name, module


def _functions(name, module):
    """The module's served functions: {"MODULE:fn": fn}, in definition order."""
    own = [(k, v) for k, v in vars(module).items()
           if inspect.isfunction(v) and v.__module__ == module.__name__ and not k.startswith("_")]
    marked = [(k, v) for k, v in own if getattr(v, MARKER, False) is True]
    chosen = marked or own
    if not chosen:
        raise ModuleError("module %s defines no public functions to serve" % name)
    out = {}
    for k, v in chosen:
        full = "%s:%s" % (name, k)
        if len(full.encode()) > MAX_FNAME:
            raise ModuleError("function name '%s' is over %d bytes" % (full, MAX_FNAME))
        out[full] = v
    return out


def load(specs):
    """Imports every MODULE: {"MODULE:fn": fn}. Raises ModuleError."""
    table = {}
    seen = {}
    for spec in specs:
        name, module = _import(spec)
        if name in seen:
            raise ModuleError("module %s is given twice (%s and %s)" % (name, seen[name], spec))
        seen[name] = spec
        table.update(_functions(name, module))
    if len(table) > MAX_FUNCTIONS:
        raise ModuleError("%d functions (at most %d)" % (len(table), MAX_FUNCTIONS))
    return table


def _call(fn, arg):
    """fn called as the job's argument says: {"args": [...], "kwargs": {...}} spreads, null
    calls fn(), anything else is the one argument."""
    if arg is None:
        value = fn()
    elif isinstance(arg, dict) and arg and set(arg) <= {"args", "kwargs"} and \
            isinstance(arg.get("args", []), list) and isinstance(arg.get("kwargs", {}), dict) \
            and all(isinstance(k, str) for k in arg.get("kwargs", {})):
        value = fn(*arg.get("args", []), **arg.get("kwargs", {}))
    else:
        value = fn(arg)
    if inspect.iscoroutine(value):  # an async def job: run to its end on a fresh loop
        value = asyncio.run(value)
    return value


def run_job(table, fname, arg_bytes):
    """Runs one job: (status, data bytes)."""
    fn = table.get(fname)
    if fn is None:
        return ERROR, ("unknown function: %s" % fname).encode()
    try:
        arg = msgpack.unpackb(arg_bytes, raw=False, strict_map_key=False)
        value = _call(fn, arg)
    except BaseException as e:  # a job error, final (SystemExit, KeyboardInterrupt too)
        text = "%s: %s\n%s" % (type(e).__name__, e, _user_traceback(e))
        return ERROR, text.rstrip("\n").encode("utf-8", "replace")
    try:
        data = msgpack.packb(value, use_bin_type=True)
    except Exception as e:
        return ERROR, ("%s returned a value msgpack cannot pack (%s: %s)"
                       % (fname, type(e).__name__, e)).encode("utf-8", "replace")
    if len(data) > MAX_RESULT:
        return ERROR, ("result too large: %d bytes (limit %d)" % (len(data), MAX_RESULT)).encode()
    return OK, data


def _hello_without_msgpack(text):
    """HELLO [5, {version, functions: [], revoke: false, error: text}] in msgpack, by hand."""
    def s(v):
        b = v.encode("utf-8", "replace")
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else b"\xdb" + struct.pack(">I", len(b))) + b
    body = (b"\x92\x05\x84" + s("version") + bytes([PROTOCOL_VERSION]) + s("functions") + b"\x90"
            + s("revoke") + b"\xc2" + s("error") + s(text))
    buf = struct.pack(">I", len(body)) + body
    while buf:
        buf = buf[os.write(JOB_FD, buf):]


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        sys.stderr.write("usage: python3 -m taskmq.executor MODULE [MODULE...]\n"
                         "(run by taskmq-worker --python MODULE; speaks docs/EXECUTOR.md "
                         "on fd 3)\n")
        return 0 if argv else 2
    try:
        os.fstat(JOB_FD)
    except OSError:
        sys.stderr.write("taskmq.executor: fd 3 is not open: run by taskmq-worker --python\n")
        return 2
    # what the jobs start (os.system, subprocess with close_fds=False) does not get the streams
    for fd in (JOB_FD, JOB_FD + 1):
        try:
            os.set_inheritable(fd, False)
        except OSError:
            pass
    if msgpack is None:
        _hello_without_msgpack(_MSGPACK_MISSING)
        return 0
    hello = {"version": PROTOCOL_VERSION, "revoke": False,
             "python": platform.python_version()}
    try:
        table = load(argv)
        hello["functions"] = list(table)
    except ModuleError as e:
        table = {}
        hello["functions"] = []
        hello["error"] = str(e).rstrip("\n")
    _write_frame([HELLO, hello])
    if "error" in hello:
        return 0  # the daemon stops the worker; nothing more to say
    while True:
        try:
            frame = _read_frame()
        except (ValueError, msgpack.UnpackException) as e:
            sys.stderr.write("taskmq.executor: protocol error: %s\n" % e)
            return 1
        if frame is None:
            return 0
        if frame[0] != JOB or len(frame) != 4:
            sys.stderr.write("taskmq.executor: protocol error: unexpected frame kind %r\n"
                             % (frame[0],))
            return 1
        _, tag, fname, arg_bytes = frame
        t0 = time.monotonic()
        status, data = run_job(table, fname, arg_bytes)
        _write_frame([RESULT, tag, status, data, (time.monotonic() - t0) * 1000.0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
