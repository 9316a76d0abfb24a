#!/usr/bin/env bash
# deploy/netns-cluster.sh — a taskmq cluster of hosts on one machine, for tests and demos.
#
# Each host is a network namespace with its own address on a private subnet: a broker host,
# N worker hosts and a client host, joined by a bridge that lives in a namespace of its own,
# so nothing here touches the machine's own network (no interface, route or address of the
# root namespace changes). Needs root and iproute2.
#
#   deploy/netns-cluster.sh up N [PROCS]   create the hosts, start the broker and N workers
#   deploy/netns-cluster.sh down           stop every daemon it started (by PID), delete the hosts
#   deploy/netns-cluster.sh run N [PROCS] -- CMD...
#                                          up, then CMD on the machine (the environment below
#                                          tells it the cluster), then down, also on Ctrl-C
#   deploy/netns-cluster.sh status         `taskmq status` from the client host
#   deploy/netns-cluster.sh exec HOST CMD...   run CMD on a host: broker, client, w1..wN
#   deploy/netns-cluster.sh cut HOST       take HOST's link down (this kernel has no netem:
#   deploy/netns-cluster.sh heal HOST      links are cut, not shaped); heal brings it back
#   deploy/netns-cluster.sh add-worker [PROCS]   one more worker host, started now
#   deploy/netns-cluster.sh stop-worker HOST [SIGNAL]   signal a worker daemon (TERM: drain)
#   deploy/netns-cluster.sh restart-broker      stop the broker and start it again
#
# Environment: TASKMQ_NETNS (default "tmq") names the cluster, so two can coexist;
# TASKMQ_NETNS_NET (default 10.231.7) is the /24 it uses; TASKMQ_BIN the directory holding
# taskmq-broker, taskmq-worker and taskmq (default: build/bin of this tree, else PATH);
# TASKMQ_BROKER_FLAGS (default --insecure: the hosts are on a private subnet of this machine)
# and TASKMQ_WORKER_FLAGS are added to the daemons' command lines, and TASKMQ_CLIENT_FLAGS to
# the `taskmq status` that `up` and `status` use (keys, for a CURVE broker).
# `run` and `exec` export TASKMQ_NETNS, TASKMQ_NETNS_BROKER (the broker's address),
# TASKMQ_BROKER (tcp://ADDR:5555), TASKMQ_WORKER_BROKER (tcp://ADDR:5556) and TASKMQ_NETNS_DIR
# (logs: broker.log, w1.log, ...). Hosts are named NAME-broker, NAME-client, NAME-w1...; the
# bridge's namespace is NAME-sw.
set -euo pipefail

NAME=${TASKMQ_NETNS:-tmq}
NET=${TASKMQ_NETNS_NET:-10.231.7}
HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${TASKMQ_BIN:-}" ]; then
    if [ -x "$HERE/build/bin/taskmq-broker" ]; then TASKMQ_BIN=$HERE/build/bin
    else TASKMQ_BIN=$(dirname "$(command -v taskmq-broker || echo /usr/local/bin/x)"); fi
fi
STATE=${TASKMQ_NETNS_STATE:-/run/taskmq-netns/$NAME}
BROKER_ADDR=$NET.1
CLIENT_ADDR=$NET.200

die() { echo "netns-cluster: $*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" = 0 ] || die "needs root (it creates network namespaces)"
    command -v ip >/dev/null || die "needs iproute2 (ip)"
    ip netns list >/dev/null 2>&1 || die "ip netns is not available here"
}

ns() { echo "$NAME-$1"; }                 # a host's namespace
in_ns() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

# add_host HOST ADDR: a namespace with loopback up and eth0 (ADDR/24) on the bridge
add_host() {
    local h=$1 addr=$2 n
    n=$(ns "$h")
    ip netns add "$n"
    ip -n "$n" link set lo up
    ip -n "$(ns sw)" link add "v-$h" type veth peer name eth0 netns "$n"
    ip -n "$(ns sw)" link set "v-$h" master br0 up
    ip -n "$n" addr add "$addr/24" dev eth0
    ip -n "$n" link set eth0 up
    echo "$h $addr" >>"$STATE/hosts"
}

addr_of() { awk -v h="$1" '$1 == h {print $2}' "$STATE/hosts"; }

# start HOST LOG CMD...: runs CMD in HOST's namespace in the background, PID recorded
start() {
    local h=$1 log=$2; shift 2
    # ip netns exec enters the namespace and execs CMD: $! is the daemon's own PID
    ip netns exec "$(ns "$h")" "$@" >>"$STATE/$log.log" 2>&1 </dev/null &
    echo "$! $h" >>"$STATE/pids"
}

pid_of() { awk -v h="$1" '$2 == h {p = $1} END {print p}' "$STATE/pids" 2>/dev/null; }

wait_log() { # wait_log FILE PATTERN SECONDS
    local i
    for i in $(seq 1 $((${3} * 10))); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

start_broker() {
    # shellcheck disable=SC2086 # flags are words
    # every address of its host: $BROKER_ADDR for the others, 127.0.0.1 for itself
    start broker broker "$TASKMQ_BIN/taskmq-broker" --frontend "tcp://*:5555" \
        --backend "tcp://*:5556" ${TASKMQ_BROKER_FLAGS---insecure}
    wait_log "$STATE/broker.log" "backend bound to" 10 \
        || die "the broker did not start: $(tail -n 5 "$STATE/broker.log")"
}

start_worker() { # start_worker HOST PROCS
    # shellcheck disable=SC2086
    start "$1" "$1" "$TASKMQ_BIN/taskmq-worker" --broker "tcp://$BROKER_ADDR:5556" \
        --name "$1" --procs "$2" ${TASKMQ_WORKER_FLAGS:-}
}

workers() { awk '$1 ~ /^w[0-9]+$/ {print $1}' "$STATE/hosts"; }

cmd_up() {
    local n=${1:?up N [PROCS]} procs=${2:-1} i
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 50 ] || die "N must be 1..50, got '$n'"
    need_root
    [ -x "$TASKMQ_BIN/taskmq-broker" ] || die "no taskmq-broker in $TASKMQ_BIN (set TASKMQ_BIN)"
    [ ! -e "$STATE" ] || die "cluster '$NAME' is up already ($STATE): '$0 down' first"
    ip netns list | grep -q "^$(ns sw)\b" && die "namespace $(ns sw) exists: '$0 down' first"
    mkdir -p "$STATE"
    : >"$STATE/hosts"
    : >"$STATE/pids"
    ip netns add "$(ns sw)"
    ip -n "$(ns sw)" link add br0 type bridge
    ip -n "$(ns sw)" link set br0 up
    add_host broker "$BROKER_ADDR"
    add_host client "$CLIENT_ADDR"
    for i in $(seq 1 "$n"); do add_host "w$i" "$NET.$((10 + i))"; done
    start_broker
    for i in $(seq 1 "$n"); do start_worker "w$i" "$procs"; done
    export TASKMQ_BROKER="tcp://$BROKER_ADDR:5555"
    local deadline=$((SECONDS + 15)) got=0 # every worker registered (asked from the broker host)
    while [ "$SECONDS" -lt "$deadline" ]; do
        # shellcheck disable=SC2086 # flags are words
        got=$(in_ns broker "$TASKMQ_BIN/taskmq" --broker tcp://127.0.0.1:5555 \
            --connect-timeout 1000 ${TASKMQ_CLIENT_FLAGS:-} status --json 2>/dev/null |
            jq '.workers | length' 2>/dev/null) || got=0
        [ "${got:-0}" -ge "$n" ] && break
        sleep 0.1
    done
    [ "${got:-0}" -ge "$n" ] || die "only ${got:-0} of $n workers registered within 15 s; see" \
        "$STATE/broker.log and the w*.log there ('$0 down' to remove the hosts)"
    echo "cluster '$NAME' up: broker $BROKER_ADDR, $n worker hosts ($procs processes each)," \
        "client $CLIENT_ADDR; logs in $STATE"
    echo "  $0 exec client taskmq status"
}

cmd_down() {
    local pid h
    if [ -f "$STATE/pids" ]; then
        while read -r pid h; do kill -TERM "$pid" 2>/dev/null || true; done <"$STATE/pids"
        for _ in $(seq 1 50); do
            local alive=0
            while read -r pid h; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$STATE/pids"
            [ "$alive" = 0 ] && break
            sleep 0.1
        done
        while read -r pid h; do kill -KILL "$pid" 2>/dev/null || true; done <"$STATE/pids"
    fi
    # this cluster's hosts only (another cluster's name may start with this one's)
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' |
        grep -E "^$NAME-(sw|broker|client|w[0-9]+)$" || true); do
        ip netns del "$n" 2>/dev/null || true
    done
    rm -rf "$STATE"
}

cmd_cut() { ip -n "$(ns sw)" link set "v-${1:?cut HOST}" down; }
cmd_heal() { ip -n "$(ns sw)" link set "v-${1:?heal HOST}" up; }

cmd_add_worker() {
    local procs=${1:-1} i
    i=$(($(workers | sed 's/^w//' | sort -n | tail -n 1) + 1))
    add_host "w$i" "$NET.$((10 + i))"
    start_worker "w$i" "$procs"
    echo "w$i"
}

cmd_stop_worker() {
    local pid
    pid=$(pid_of "${1:?stop-worker HOST [SIGNAL]}")
    [ -n "$pid" ] || die "no daemon started on $1"
    kill "-${2:-TERM}" "$pid"
}

cmd_restart_broker() {
    local pid
    pid=$(pid_of broker)
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    awk -v p="$pid" '$1 != p' "$STATE/pids" >"$STATE/pids.new" && mv "$STATE/pids.new" "$STATE/pids"
    : >"$STATE/broker.log.new"; cat "$STATE/broker.log" >>"$STATE/broker.old.log"
    mv "$STATE/broker.log.new" "$STATE/broker.log"
    start_broker
}

export_env() {
    export TASKMQ_NETNS=$NAME TASKMQ_NETNS_BROKER=$BROKER_ADDR TASKMQ_NETNS_DIR=$STATE
    export TASKMQ_BROKER="tcp://$BROKER_ADDR:5555" TASKMQ_WORKER_BROKER="tcp://$BROKER_ADDR:5556"
}

cmd_exec() {
    local h=${1:?exec HOST CMD...}; shift
    [ "$#" -gt 0 ] || die "exec $h: no command"
    export_env
    if [ -x "$TASKMQ_BIN/$1" ]; then set -- "$TASKMQ_BIN/$1" "${@:2}"; fi
    in_ns "$h" "$@"
}

cmd_run() {
    local n=${1:?run N [PROCS] -- CMD...} procs=1
    shift
    if [ "${1:-}" != "--" ]; then procs=${1:?}; shift; fi
    [ "${1:-}" = "--" ] || die "run N [PROCS] -- CMD..."
    shift
    [ ! -e "$STATE" ] || die "cluster '$NAME' is up already ($STATE): '$0 down' first"
    trap 'cmd_down' EXIT
    trap 'exit 130' INT TERM
    cmd_up "$n" "$procs" >/dev/null
    export_env
    "$@"
}

case "${1:-}" in
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
run) shift; cmd_run "$@" ;;
status) cmd_exec client taskmq ${TASKMQ_CLIENT_FLAGS:-} status ;; # shellcheck disable=SC2086
exec) shift; cmd_exec "$@" ;;
cut) cmd_cut "${2:-}" ;;
heal) cmd_heal "${2:-}" ;;
add-worker) shift; cmd_add_worker "$@" ;;
stop-worker) shift; cmd_stop_worker "$@" ;;
restart-broker) cmd_restart_broker ;;
-h | --help | help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' ;;
*) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
