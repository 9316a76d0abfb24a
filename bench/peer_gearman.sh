#!/usr/bin/env bash
# bench/peer_gearman.sh — the Gearman peer taskmq is compared against, on loopback: starts its
# own gearmand (in-memory queue, a free port on 127.0.0.1), two worker processes of
# build-bench/bench/peer_gearman serving `echo`, runs the client's measure, stops everything it
# started (by PID, also on failure) and prints the client's line.
#   bench/peer_gearman.sh throughput N [BATCH]  N no-op jobs, BATCH at a time (default 1000;
#       1: gearman_client_do per job) -> gearman throughput N jobs T s R jobs/s failed F
#   bench/peer_gearman.sh latency N             one job at a time, N round trips after 100
#       warm-up -> gearman latency N round trips p50 X us p99 Y us max Z us failed F
# Exits nonzero, with the reason on stderr, when gearmand did not start, the workers did not
# register or any answer was wrong or missing. Builds nothing: bench/run.sh builds build-bench/.
#   GEARMAND=/usr/sbin/gearmand  the server    PEER_GEARMAN=...  the client/worker binary
#   GM_THREADS=0  gearmand -t, its I/O threads. 0 (I/O in the main thread: 2 threads in all, 3
#       with -t 1) is the fastest here: 2026-12-02, 2 cores shared with other load (~6), three
#       interleaved rounds of 100k jobs in batches of 1000 and 2000 round trips (uniques still
#       libgearman's UUIDs then), medians:
#       -t 0 17,358 jobs/s, p50 146 us; -t 1 16,343/s, 161 us; -t 2 12,844/s, 217 us;
#       -t 4 12,138/s, 262 us.
# BATCH: 100 to 1000 come out alike here (within the noise); larger is slower: libgearman's
# client CPU grows with BATCH^2 (per 100k jobs: 0.8 s at 1000, 6.4 s at 10,000, 136 s at
# 100,000), as if each reply were looked up in the list of the batch's tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
GEARMAND=${GEARMAND:-/usr/sbin/gearmand}
BIN=${PEER_GEARMAN:-$PWD/build-bench/bench/peer_gearman}
THREADS=${GM_THREADS:-0}
usage() { echo "usage: $0 throughput N [BATCH] | latency N" >&2; exit 2; }
case "${1:-}" in
throughput | latency) [ $# -ge 2 ] || usage ;;
*) usage ;;
esac
[ -x "$GEARMAND" ] || { echo "peer_gearman.sh: no gearmand at $GEARMAND" >&2; exit 1; }
[ -x "$BIN" ] || { echo "peer_gearman.sh: no $BIN (build-bench with libgearman-dev)" >&2; exit 1; }

d=$(mktemp -d)
pids=()
now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); } # a clock for the deadlines
stop_all() { # TERM, then KILL what is still there after 2 s (gearmand ignores TERM while it
    # retries a busy port); workers first, the server last
    local p i end
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        end=$(($(now_ms) + 2000))
        while kill -0 "$p" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    pids=()
}
trap 'stop_all; rm -rf "$d"' EXIT
trap 'exit 130' INT # the EXIT trap runs on these too
trap 'exit 143' TERM

free_port() { # a port nothing listens on now (the kernel's pick), or a random one
    if [ -x /usr/bin/python3 ]; then
        /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
    else
        echo $((20000 + RANDOM % 20000))
    fi
}

owns_port() { # owns_port PID PORT: PID holds the socket listening on 127.0.0.1:PORT
    # (/proc/net/tcp: local address in hex, state 0A is LISTEN, inode in column 10)
    local ino f
    while read -r ino; do
        for f in "/proc/$1/fd/"*; do
            [ "$(readlink "$f" 2>/dev/null)" = "socket:[$ino]" ] && return 0
        done
    done < <(awk -v a="$(printf '0100007F:%04X' "$2")" '$2 == a && $4 == "0A" {print $10}' \
        /proc/net/tcp)
    return 1
}

# start_server: gearmand on a free port, up to 3 ports; sets PORT, pids[0]. Ready when it holds
# the port (so it is our server answering, not one that was there before: a gearmand whose port
# is taken keeps retrying) and answers an ECHO_REQ; 5 s at most per try. Its log stays at ERROR:
# INFO writes a line per job.
start_server() {
    local try end
    : >"$d/gearmand.conf" # no /etc/gearmand.conf options
    for try in 1 2 3; do
        PORT=$(free_port)
        "$GEARMAND" --listen 127.0.0.1 --port "$PORT" -t "$THREADS" -q builtin --verbose ERROR \
            --config-file "$d/gearmand.conf" --log-file "$d/gearmand.log" \
            --pid-file "$d/gearmand.pid" >>"$d/gearmand.out" 2>&1 &
        pids=($!)
        end=$(($(now_ms) + 5000))
        while [ "$(now_ms)" -lt "$end" ]; do
            kill -0 "${pids[0]}" 2>/dev/null || break
            if owns_port "${pids[0]}" "$PORT" && GEARMAN_SERVER=127.0.0.1:$PORT "$BIN" ping; then
                return 0
            fi
            sleep 0.05
        done
        echo "peer_gearman.sh: gearmand on port $PORT not ready (try $try)" >&2
        stop_all
    done
    echo "peer_gearman.sh: gearmand did not start:" >&2
    tail -n 20 "$d/gearmand.log" "$d/gearmand.out" >&2 2>/dev/null || true
    return 1
}

echo_workers() { # workers gearmand has for `echo` (admin protocol `status`: name, queued,
    # running, workers), 1 s at most
    # shellcheck disable=SC2016 # $1 and $l are the inner shell's
    timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "status\n" >&3 &&
        while IFS= read -r l <&3; do case $l in .*) break ;; esac; printf "%s\n" "$l"; done' \
        _ "$PORT" 2>/dev/null | tr -d '\r' | awk -F'\t' '$1 == "echo" {print $4}'
}

start_server || exit 1
export GEARMAN_SERVER=127.0.0.1:$PORT
for i in 1 2; do
    "$BIN" worker 2>>"$d/worker$i.log" &
    pids+=($!)
done
n="" end=$(($(now_ms) + 5000))
while [ "$(now_ms)" -lt "$end" ]; do # both registered, 5 s at most
    n=$(echo_workers || true)
    [ "${n:-0}" -ge 2 ] && break
    sleep 0.05
done
if [ "${n:-0}" -lt 2 ]; then
    echo "peer_gearman.sh: the workers did not register (gearmand knows ${n:-0})" >&2
    cat "$d"/worker*.log >&2 2>/dev/null || true
    exit 1
fi

rc=0
"$BIN" "$@" >"$d/out" & # in the background: a TERM to this script stops it at once, too
pids+=($!)
wait "${pids[-1]}" || rc=$?
cat "$d/out"
if [ "$rc" -ne 0 ]; then
    echo "peer_gearman.sh: the client failed (exit $rc)" >&2
    cat "$d"/worker*.log >&2 2>/dev/null || true
fi
exit "$rc"
