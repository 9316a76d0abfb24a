# tests/integration/lib.sh — helpers for integration tests that run the real programs.
#
# Source it from a test script. Every process started through it is recorded and stopped
# (SIGTERM, then SIGKILL) when the script exits, pass or fail. Servers bind 127.0.0.1 on
# ports the kernel picks (tcp://127.0.0.1:*); the broker's log says which.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/endpoints.sh"
: "${TASKMQ_BIN:?TASKMQ_BIN must point at the directory with taskmq, taskmq-broker, taskmq-worker}"
TASKMQ="$TASKMQ_BIN/taskmq"
BROKER="$TASKMQ_BIN/taskmq-broker"
WORKER="$TASKMQ_BIN/taskmq-worker"
T=$(mktemp -d "${TMPDIR:-/tmp}/taskmq-test.XXXXXX")
PIDS=()
FAILED=0
# Sanitizer reports from any process of the test land in $T/san.*; finding one fails the test.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T/san"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T/san"

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if compgen -G "$T/san.*" >/dev/null; then
        echo "FAIL: sanitizer reports:"
        cat "$T"/san.*
        FAILED=1
    fi
    if [ "$FAILED" != 0 ]; then
        echo "---- logs in $T ----"
        for f in "$T"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; }; done
        exit 1
    fi
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILED=1; exit 1; }
pass() { echo "ok - $*"; }
assert_eq() { [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"; }

# start_broker [extra flags]: sets BROKER_PID, FRONTEND, BACKEND.
start_broker() {
    local log="$T/broker.log"
    "$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' "$@" 2>"$log" &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    tmq_await_endpoints "$log" "$BROKER_PID" || fail "broker did not start: $(cat "$log")"
    export TASKMQ_BROKER="$FRONTEND"
}

# start_worker NAME [extra flags]: a worker daemon on $BACKEND; sets WORKER_PID.
start_worker() {
    local name=$1; shift
    "$WORKER" --broker "$BACKEND" --name "$name" "$@" 2>"$T/worker-$name.log" &
    WORKER_PID=$!
    PIDS+=("$WORKER_PID")
}

# wait_workers N: until the broker reports N connected workers (10 s at most).
wait_workers() {
    local n
    for _ in $(seq 1 100); do
        n=$(timeout 5 "$TASKMQ" status --json 2>/dev/null | jq '.workers | length' 2>/dev/null)
        [ "${n:-0}" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "expected $1 workers, broker sees ${n:-none}"
}

# tmq ARGS...: the client tool with a time limit, so a hang fails the test.
tmq() { timeout "${TMQ_TIMEOUT:-60}" "$TASKMQ" "$@"; }

# status_field FIELD: one number from `taskmq status --json`.
status_field() { tmq status --json | jq -r ".$1"; }

# netns_cluster NAME: for the tests on deploy/netns-cluster.sh. Skips (77) with a message
# where root or ip netns is missing; names the cluster NAME (with this shell's pid), keeps its
# state in $T/cluster, and brings it down when the test exits. Then `cluster ARGS` runs the
# script, `on HOST CMD...` runs CMD on a host, `down` removes the cluster.
netns_cluster() {
    if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
        echo "SKIP: needs root and ip netns (network namespaces)"
        exit 77
    fi
    CLUSTER="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/deploy/netns-cluster.sh"
    export TASKMQ_NETNS="$1$$" TASKMQ_NETNS_STATE="$T/cluster"
    trap 'down; cleanup' EXIT
}
cluster() { timeout 60 "$CLUSTER" "$@"; }
on() { local h=$1; shift; cluster exec "$h" "$@"; }
down() { "$CLUSTER" down >/dev/null 2>&1 || true; }
