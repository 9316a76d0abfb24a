"""Fixtures of the Python client's tests: a broker and a worker daemon on loopback ports the
kernel picks (the broker logs them), an alarm on every test, and every process a test starts
stopped by its PID in teardown, pass or fail. TASKMQ_BIN names the directory with
taskmq-broker and taskmq-worker (default: build/bin).
"""

import os
import re
import signal
import subprocess
import time

import pytest

import taskmq

BIN = os.environ.get("TASKMQ_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin")
TEST_SECONDS = 60


@pytest.fixture(autouse=True)
def alarm():
    def expired(signum, frame):
        raise TimeoutError(f"test ran past {TEST_SECONDS} s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


class Procs:
    """Processes a test started; stop() ends each by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, tmp):
        self.tmp, self.procs = tmp, []

    def start(self, name, *argv):
        log = open(self.tmp / f"{name}.log", "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self.procs.append(p)
        return p

    def broker(self, *flags):
        """A broker on tcp://127.0.0.1:*; returns (process, frontend, backend)."""
        p = self.start("broker", f"{BIN}/taskmq-broker", "--frontend", "tcp://127.0.0.1:*",
                       "--backend", "tcp://127.0.0.1:*", *flags)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = (self.tmp / "broker.log").read_text(errors="replace")
            fe = re.search(r"frontend bound to (tcp:\S+)", text)
            be = re.search(r"backend bound to (tcp:\S+)", text)
            if fe and be:
                return p, fe.group(1), be.group(1)
            assert p.poll() is None, f"broker exited: {text}"
            time.sleep(0.05)
        raise AssertionError("the broker did not log its endpoints")

    def worker(self, backend, frontend, procs=2):
        """A worker daemon; returns once the broker lists it."""
        self.start("worker", f"{BIN}/taskmq-worker", "--broker", backend, "--procs", str(procs),
                   "--name", "pytest")
        with taskmq.Client(frontend) as c:
            deadline = time.monotonic() + 10
            while not c.status()["workers"]:
                assert time.monotonic() < deadline, "the worker did not register"
                time.sleep(0.05)

    def stop(self):
        """Stops every process; fails when a sanitizer reported anything in their logs."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self.tmp.glob("*.log"):
            text = log.read_text(errors="replace")
            assert "Sanitizer" not in text and "runtime error:" not in text, text


@pytest.fixture
def procs(tmp_path):
    ps = Procs(tmp_path)
    yield ps
    ps.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A broker and a worker with 2 processes shared by the module; yields the frontend."""
    ps = Procs(tmp_path_factory.mktemp("cluster"))
    try:
        _, fe, be = ps.broker()
        ps.worker(be, fe)
        yield fe
    finally:
        ps.stop()
