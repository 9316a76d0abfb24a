# taskmq-worker --python serves the functions of a Python module (tests/integration/pyjobs.py)
# as pyjobs:NAME through python/taskmq/executor.py: results come back as msgpack values, an
# exception fails its job once (final) with its type, message and traceback, a crash and a
# time limit go as for any executor, and a module that does not import stops the worker at
# start with exit 2 and the traceback in its log.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
export PYJOBS_LOG="$T/boom.calls"
start_broker
start_worker py --procs 2 --python "$HERE/pyjobs.py"
wait_workers 1

assert_eq "$(tmq functions --json | jq -c '[.[].name] | sort')" \
    '["pyjobs:accumulate","pyjobs:boom","pyjobs:interrupted","pyjobs:later","pyjobs:pair","pyjobs:segv","pyjobs:sleepy","pyjobs:unpackable"]' \
    "public functions defined in the module, not imported ones or _private"
grep -q "serving 8 functions" "$T/worker-py.log" || fail "start line: $(cat "$T/worker-py.log")"
pass "taskmq functions lists pyjobs:accumulate and the others"

PYVER=$(/usr/bin/python3 -c 'import platform; print(platform.python_version())')
assert_eq "$(tmq status --json | jq -r '.workers[] | select(.name == "py") | .python')" "$PYVER" \
    "the worker announces its executors' Python version"
tmq status | grep -q " python $PYVER " || fail "taskmq status: $(tmq status)"
pass "status shows the Python version"

assert_eq "$(tmq submit pyjobs:accumulate 1000)" "499500" "accumulate"
assert_eq "$(tmq submit pyjobs:pair '{"args":[2],"kwargs":{"b":3}}')" "[2,3]" "args and kwargs"
assert_eq "$(tmq submit pyjobs:pair 7)" "[7,1]" "one value is the one argument; a tuple is a list"
tmq map pyjobs:accumulate 10 100 >"$T/map" || fail "map exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/map")" "[45,4950]" "map"
pass "results"

tmq submit pyjobs:boom >"$T/boom.out" 2>"$T/boom.err"
assert_eq "$?" "1" "an exception fails the job"
assert_eq "$(head -n 1 "$T/boom.err")" "job failed: ValueError: bad" "its type and message"
grep -q '^Traceback (most recent call last):$' "$T/boom.err" || fail "no traceback: $(cat "$T/boom.err")"
grep -q 'pyjobs.py", line [0-9]*, in boom$' "$T/boom.err" || fail "traceback: $(cat "$T/boom.err")"
grep -q 'executor.py' "$T/boom.err" && fail "the executor's own frames in the traceback: $(cat "$T/boom.err")"
assert_eq "$(wc -l <"$PYJOBS_LOG")" "1" "an exception is final: one attempt"
tmq map pyjobs:unpackable null >"$T/unp"
assert_eq "$(jq -r .error "$T/unp")" \
    "pyjobs:unpackable returned a value msgpack cannot pack (TypeError: can not serialize 'set' object)" \
    "a result msgpack cannot pack"
tmq map pyjobs:pair '{"args":[1,2,3]}' >"$T/arity"
assert_eq "$(jq -r .error "$T/arity")" \
    "TypeError: pair() takes from 1 to 2 positional arguments but 3 were given" \
    "wrong arguments: the one line (no traceback of the executor's own frames)"
tmq map --retries 2 pyjobs:interrupted null >"$T/intr"
assert_eq "$(jq -r '.error | split("\n")[0]' "$T/intr")" "KeyboardInterrupt: stop" \
    "KeyboardInterrupt raised by a job is a job error (not an executor death, retried)"
assert_eq "$(tmq submit pyjobs:later '"x"')" '"x"' "an async def job runs to its end"
pass "exceptions are job errors with the traceback"

tmq map --retries 0 pyjobs:segv null >"$T/segv"
assert_eq "$?" "1" "a crash fails its job"
[[ "$(jq -r .error "$T/segv")" == "executor died: SIGSEGV"* ]] || fail "crash: $(cat "$T/segv")"
assert_eq "$(tmq submit pyjobs:accumulate 5)" "10" "the next job runs after the crash"
tmq map --timeout 300 pyjobs:sleepy 5000 >"$T/to"
[[ "$(jq -r .error "$T/to")" == "timeout after"* ]] || fail "time limit: $(cat "$T/to")"
assert_eq "$(tmq submit pyjobs:sleepy 1)" "1" "served on after the time limit"
pass "crash and time limit as for any executor"

# a module that does not import: the worker stops at start, exit 2, the traceback in its log
printf 'import os\n\ndef f():\n    return 1\n\nraise RuntimeError("no config here")\n' >"$T/broken.py"
timeout 30 "$WORKER" --broker "$BACKEND" --python "$T/broken.py" 2>"$T/e1"
assert_eq "$?" "2" "a module that fails to import"
grep -q "the executor cannot serve: cannot import $T/broken.py: RuntimeError: no config here" "$T/e1" \
    || fail "message: $(cat "$T/e1")"
grep -q "broken.py\", line 6, in <module>" "$T/e1" || fail "no traceback: $(cat "$T/e1")"
printf 'def f(:\n    return 1\n' >"$T/syntax.py"
timeout 30 "$WORKER" --broker "$BACKEND" --python "$T/syntax.py" 2>"$T/e3"
assert_eq "$?" "2" "a module with a syntax error"
grep -q "syntax.py\", line 1" "$T/e3" && grep -q "def f(:" "$T/e3" && grep -q "\^" "$T/e3" \
    || fail "a syntax error without its line and caret: $(cat "$T/e3")"
(cd "$T" && timeout 30 "$WORKER" --broker "$BACKEND" --python no_such_module_here) 2>"$T/e2"
assert_eq "$?" "2" "a module that does not exist"
grep -q "ModuleNotFoundError: No module named 'no_such_module_here'" "$T/e2" || fail "message: $(cat "$T/e2")"
# an interpreter without msgpack says so in HELLO (a stand-in msgpack that does not import)
mkdir -p "$T/nomsgpack" && echo 'raise ImportError("no msgpack here")' >"$T/nomsgpack/msgpack.py"
PYTHONPATH="$T/nomsgpack" timeout 30 "$WORKER" --broker "$BACKEND" --python "$HERE/pyjobs.py" 2>"$T/e3"
assert_eq "$?" "2" "no msgpack"
grep -q "the executor cannot serve: taskmq.executor needs msgpack for Python (Debian: apt install python3-msgpack): no msgpack here" "$T/e3" \
    || fail "message: $(cat "$T/e3")"
# a module name (not a path) is found in the current directory
(cd "$T" && printf 'def hi(x):\n    return "hi " + x\n' >greet.py &&
    exec "$WORKER" --broker "$BACKEND" --name mod --python greet 2>"$T/worker-mod.log") &
PIDS+=("$!")
wait_workers 2
assert_eq "$(tmq submit greet:hi you)" '"hi you"' "a module by name"
pass "modules by name and by path; a module that does not import stops the worker"

timeout 10 "$WORKER" --broker "$BACKEND" --python "$HERE/pyjobs.py" --allow-exec 2>"$T/u1"
assert_eq "$?" "2" "--python with --allow-exec"
grep -q -- "--python and --allow-exec do not go together" "$T/u1" || fail "message: $(cat "$T/u1")"
TASKMQ_PYTHON=/nonexistent/python3 timeout 10 "$WORKER" --broker "$BACKEND" --python "$HERE/pyjobs.py" 2>"$T/u2"
assert_eq "$?" "1" "an interpreter that does not exist"
grep -q -- "--python: cannot run '/nonexistent/python3'" "$T/u2" || fail "message: $(cat "$T/u2")"
pass "usage errors"

# installed: the package lands in PREFIX/PYDIR/taskmq, PYDIR being where Debian's python3
# looks for that prefix (lib/python3.X/dist-packages but for /usr), and the installed worker
# runs the executor from there (not from the source tree), wherever the prefix is
: "${TASKMQ_BUILD:?}"
PYDIR=$(sed -n 's/^TASKMQ_PYTHON_DIR:STRING=//p' "$TASKMQ_BUILD/CMakeCache.txt")
PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$TASKMQ_BUILD/CMakeCache.txt")
[ -n "$PYDIR" ] || fail "no TASKMQ_PYTHON_DIR in the build's cache"
if [ "$PREFIX" = /usr/local ]; then
    /usr/bin/python3 -c "import sys; sys.exit('/usr/local/$PYDIR' not in sys.path)" \
        || fail "/usr/local/$PYDIR is not on /usr/bin/python3's sys.path"
fi
cmake --install "$TASKMQ_BUILD" --prefix "$T/inst" >/dev/null || fail "install"
[ -f "$T/inst/$PYDIR/taskmq/executor.py" ] || fail "executor.py not installed under $PYDIR"
"$T/inst/bin/taskmq-worker" --broker "$BACKEND" --name inst -v --python "$HERE/pyjobs.py" \
    2>"$T/worker-inst.log" &
PIDS+=("$!")
wait_workers 3
grep -q -- "--python: PYTHONPATH=$T/inst/$PYDIR$" "$T/worker-inst.log" \
    || fail "the installed worker's PYTHONPATH: $(grep PYTHONPATH "$T/worker-inst.log")"
kill -TERM "$WORKER_PID" # the installed worker alone serves pyjobs now
for _ in $(seq 1 50); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
tmq map pyjobs:accumulate 100 >"$T/inst.out" || fail "map exited $?: $(cat "$T/inst.out")"
assert_eq "$(jq -r .result "$T/inst.out")" "4950" "served by the installed worker"
[[ "$(jq -r .worker "$T/inst.out")" == inst* ]] || fail "not the installed worker: $(cat "$T/inst.out")"
pass "installed under $PYDIR and run from there"

# pip: pyproject.toml installs the package into a venv offline (Debian's setuptools, zmq and
# msgpack from the system site-packages), from a copy (the build writes beside the sources);
# its version is taskmq's
if /usr/bin/python3 -c "import setuptools, venv, pip" 2>/dev/null; then
    cp -r "$(dirname "$HERE")/../python" "$T/pysrc"
    /usr/bin/python3 -m venv --system-site-packages "$T/venv" || fail "venv"
    (cd "$T" && timeout 120 "$T/venv/bin/pip" install -q --no-index --no-build-isolation \
        "$T/pysrc") >"$T/pip.log" 2>&1 || fail "pip install: $(cat "$T/pip.log")"
    assert_eq "$(cd "$T" && "$T/venv/bin/python" -c 'import taskmq, taskmq.client; print(taskmq.__version__, taskmq.client.__file__.startswith("'"$T/venv/"'"))')" \
        "$(tmq --version | awk '{print $2}') True" "the pip-installed package, taskmq's version"
    assert_eq "$(cd "$T" && TASKMQ_BROKER=$FRONTEND "$T/venv/bin/python" -c 'import os, taskmq; print(taskmq.Client(os.environ["TASKMQ_BROKER"]).submit("pyjobs:accumulate", 10).result(20))')" \
        "45" "a job through the pip-installed client"
    pass "pip install --no-build-isolation ./python into a venv"
else
    fail "python3-setuptools, python3-venv or python3-pip missing (scripts/setup.sh installs them)"
fi

# the executor alone, on a socket pair: HELLO says the Python version; a module with marked
# functions (taskmq.job-style __taskmq_job__ = True) serves only those
cat >"$T/marked.py" <<'PY'
def job(fn):
    fn.__taskmq_job__ = True
    return fn

@job
def served(x):
    return x

def helper(x):
    return x
PY
cat >"$T/hello.py" <<'PY'
import os, socket, struct, subprocess, sys, msgpack
a, b = socket.socketpair()
os.dup2(b.fileno(), 3)
p = subprocess.Popen([sys.executable, "-m", "taskmq.executor", sys.argv[1]], pass_fds=(3,))
os.close(3); b.close()
a.settimeout(10)
def frame():
    head = a.recv(4, socket.MSG_WAITALL)
    return msgpack.unpackb(a.recv(struct.unpack(">I", head)[0], socket.MSG_WAITALL), raw=False)
kind, hello = frame()
job = msgpack.packb(["x", 1])
data = msgpack.packb([1, 7, "marked:served", job], use_bin_type=True)
a.sendall(struct.pack(">I", len(data)) + data)
res = frame()
a.close()
p.wait(timeout=10)
print(kind, hello["version"], hello["functions"], hello["revoke"], hello["python"] == sys.version.split()[0],
      res[:3], msgpack.unpackb(res[3]), p.returncode)
PY
assert_eq "$(PYTHONPATH="$(dirname "$HERE")/../python" timeout 20 /usr/bin/python3 "$T/hello.py" "$T/marked.py")" \
    "5 1 ['marked:served'] False True [2, 7, 0] ['x', 1] 0" "HELLO and one job"
pass "HELLO says the Python version; marked functions alone are served"

# ---- a module slow to import (numpy, torch) still starts its worker: past the usual 10 s ----
printf 'import time\ntime.sleep(11)\n\ndef ready():\n    return "after a slow import"\n' >"$T/slowimp.py"
start_worker slow --procs 1 --python "$T/slowimp.py"
SLOW=$WORKER_PID
for _ in $(seq 1 250); do
    tmq functions --json 2>/dev/null | jq -e 'map(.name) | index("slowimp:ready")' >/dev/null && break
    kill -0 "$SLOW" 2>/dev/null || fail "the worker with a slow import exited: $(cat "$T/worker-slow.log")"
    sleep 0.1
done
assert_eq "$(tmq submit slowimp:ready)" '"after a slow import"' "served after an 11 s import"
pass "a Python module that takes 11 s to import: the worker waits for it"
