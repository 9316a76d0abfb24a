# The systemd units and env files of deploy/systemd, as cmake --install lays them out:
#  - the units land in PREFIX/lib/systemd/system and their ExecStart names the installed
#    programs; the sysusers.d entry makes the user and group taskmq; the env examples land
#    in the doc directory;
#  - `systemd-analyze verify` finds nothing to say about the units' own lines (and does
#    complain about a line planted to check that it looks), `systemd-analyze security`
#    rates their sandbox no worse than it does now;
#  - every system call the broker and a worker make while serving (keys, SIGHUP, exec jobs,
#    memory limits, stop) is one their SystemCallFilter= lets through (with strace);
#  - the env files, read by systemd's own parser, give the programs command lines that
#    work: a broker with keys and a worker on free loopback ports with the flags of the
#    ExecStart lines, the worker registers under its instance name and runs a job,
#    SIGHUP reads the keys again, SIGTERM stops the worker (draining a running job) and then
#    the broker, each with exit 0.
# systemd need not be running (it is not PID 1 here): verify and security work on files.
. "$(dirname "$0")/lib.sh"
: "${TASKMQ_BUILD:?}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP: systemd-analyze not found (Debian: apt-get install systemd)"
    exit 77
fi

# ---- the install layout ----
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$TASKMQ_BUILD/CMakeCache.txt")
[ -n "$prefix" ] || fail "no CMAKE_INSTALL_PREFIX in $TASKMQ_BUILD/CMakeCache.txt"
root=$T/root
DESTDIR=$root cmake --install "$TASKMQ_BUILD" >/dev/null || fail "cmake --install"
unitdir=$root$prefix/lib/systemd/system
for u in taskmq-broker.service taskmq-worker@.service; do
    [ -f "$unitdir/$u" ] || fail "not installed: $prefix/lib/systemd/system/$u"
    exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unitdir/$u")
    case "$exe" in "$prefix"/*) ;; *) fail "$u: ExecStart=$exe is not under the prefix $prefix" ;; esac
    [ -x "$root$exe" ] || fail "$u: ExecStart=$exe, which cmake --install does not install"
done
[ -f "$root$prefix/lib/sysusers.d/taskmq.conf" ] || fail "not installed: lib/sysusers.d/taskmq.conf"
for f in broker.env worker.env worker-NAME.env; do
    cmp -s "$root$prefix/share/doc/taskmq/examples/$f" "$SRC/deploy/systemd/$f" \
        || fail "not installed: share/doc/taskmq/examples/$f"
done
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$T/sysroot/etc"
    systemd-sysusers --root="$T/sysroot" - <"$root$prefix/lib/sysusers.d/taskmq.conf" >/dev/null 2>&1 \
        || fail "systemd-sysusers refuses lib/sysusers.d/taskmq.conf"
    grep -q '^taskmq:' "$T/sysroot/etc/passwd" && grep -q '^taskmq:' "$T/sysroot/etc/group" \
        || fail "the sysusers.d entry does not make the user and group taskmq"
fi
pass "cmake --install lays out the units (ExecStart: $prefix/bin), sysusers entry and env examples"

# ---- systemd-analyze verify ----
# Copies whose ExecStart names the programs in the DESTDIR (verify checks they exist).
units=$T/units
mkdir -p "$units"
for u in taskmq-broker.service taskmq-worker@.service; do
    sed "s|^ExecStart=$prefix/|ExecStart=$root$prefix/|" "$unitdir/$u" >"$units/$u"
done
# verify UNIT...: what systemd-analyze says about these units (other units it loads on the
# way, the machine's own, may draw remarks of their own: those are not ours).
verify() {
    (cd "$units" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$@" 2>&1) |
        grep -E 'taskmq-(broker|worker@)' || true
}
said=$(verify ./taskmq-broker.service ./taskmq-worker@deploytest.service)
[ -z "$said" ] || fail "systemd-analyze verify:
$said"
# ...and it does look: a bad line planted in a copy is reported.
mkdir -p "$units/bad"
sed 's/^\[Service\]$/[Service]\nNoSuchSetting=1/' "$units/taskmq-worker@.service" \
    >"$units/bad/taskmq-worker@.service"
said=$(cd "$units/bad" && systemd-analyze verify --man=no ./taskmq-worker@x.service 2>&1)
grep -q "NoSuchSetting" <<<"$said" || fail "systemd-analyze verify missed a planted bad line: $said"
pass "systemd-analyze verify: nothing to say about either unit"

# Exposure, 0 (locked down) to 10, in tenths: the broker is at 1.4, the worker (which runs
# the jobs' code and keeps its cgroup) at 2.1; a setting dropped by mistake shows here.
for check in "taskmq-broker.service 20" "taskmq-worker@deploytest.service 30"; do
    set -- $check
    (cd "$units" && systemd-analyze security --offline=yes --threshold="$2" "./$1" >"$T/security-$1.log" 2>&1) \
        || fail "systemd-analyze security: $1 is exposed past $2/100: $(tail -n 1 "$T/security-$1.log")"
    echo "  $(tail -n 1 "$T/security-$1.log" | sed 's/^→ //')"
done
pass "systemd-analyze security: the sandbox of both units holds"

# ---- the env files, as systemd reads them ----
# env_file FILE: NAME=VALUE lines of FILE as systemd parses it: with its own parser where it
# is installed (the environment.d generator shares EnvironmentFile='s, and adds $VAR
# expansion, which the files below must then not need), else bash (set -a, no globbing).
ENVGEN=/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator
env_file() {
    if grep -v '^[[:space:]]*#' "$1" | grep -q '\$'; then
        fail "$1: a \$ outside comments (systemd does not expand variables in EnvironmentFile=)"
    fi
    if [ -x "$ENVGEN" ]; then
        rm -rf "$T/envd" && mkdir -p "$T/envd/environment.d" && cp "$1" "$T/envd/environment.d/x.conf"
        env -i HOME="$T" XDG_CONFIG_HOME="$T/envd" XDG_CONFIG_DIRS=/nonexistent "$ENVGEN" |
            sed -n 's/^\(TASKMQ_[A-Z_]*\)="\(.*\)"$/\1=\2/p; s/^\(TASKMQ_[A-Z_]*\)=\([^"].*\)$/\1=\2/p'
    else
        (set -f -a; . "$1"; env | grep '^TASKMQ_[A-Z_]*_OPTS=')
    fi
}
# exec_words UNIT INSTANCE ENVFILE...: the words of UNIT's ExecStart after the program, as
# systemd makes them: %i is the instance, $NAME the words of NAME's value (the env files'
# later assignments win); ${NAME}, quotes or another specifier fail the test, which does not
# emulate them. The examples' paths are moved into $T/etc, their endpoints to loopback.
exec_words() {
    local unit=$1 inst=$2 w v
    shift 2
    declare -A vars=()
    for f in "$@"; do
        while IFS= read -r line; do vars[${line%%=*}]=${line#*=}; done < <(env_file "$f")
    done
    WORDS=()
    local line words
    line=$(sed -n 's/^ExecStart=[^ ]* *//p' "$unit")
    read -ra words <<<"$line"
    for w in "${words[@]}"; do
        case "$w" in
        *%i*) WORDS+=("${w//%i/$inst}") ;;
        '$'[A-Z_]*) set -f; for v in ${vars[${w#\$}]:-}; do WORDS+=("$v"); done; set +f ;;
        *[%\$\"\'\\]*) fail "$unit: ExecStart word '$w' is beyond what this test emulates" ;;
        *) WORDS+=("$w") ;;
        esac
    done
    local i
    for i in "${!WORDS[@]}"; do
        w=${WORDS[$i]//\/etc\/taskmq\//$T/etc/taskmq/}
        w=${w/#tcp:\/\/\*:555[56]/tcp://127.0.0.1:*}
        WORDS[$i]=${w/#tcp:\/\/broker.example:5556/${BACKEND:-}}
    done
}
[ -x "$ENVGEN" ] && echo "  env files read by systemd's parser ($ENVGEN)" \
    || echo "  env files read by bash (systemd's environment.d generator is not installed)"

# The keys where the examples expect them (the broker's public key is also the workers').
etc=$T/etc/taskmq
mkdir -p "$etc/keys" "$etc/clients" "$etc/workers"
tmq keygen "$etc/keys/broker" >/dev/null && tmq keygen "$etc/keys/worker" >/dev/null &&
    tmq keygen "$T/me" >/dev/null || fail "taskmq keygen"
cp "$etc/keys/worker" "$etc/workers/host1"
cp "$T/me" "$etc/clients/me"
export TASKMQ_CURVE_CERT=$T/me_secret TASKMQ_BROKER_CERT=$etc/keys/broker

# WORDS must bind or reach loopback only: nothing of the test listens beyond it.
loopback_only() {
    local w
    for w in "${WORDS[@]}"; do
        case "$w" in tcp://127.0.0.1:*) ;; tcp://*) fail "$1: endpoint $w is not on loopback" ;; esac
    done
}

exec_words "$units/taskmq-broker.service" - "$SRC/deploy/systemd/broker.env"
loopback_only broker
echo "  taskmq-broker ${WORDS[*]}"
"$BROKER" "${WORDS[@]}" 2>"$T/broker.log" &
BROKER_PID=$!
PIDS+=("$BROKER_PID")
tmq_await_endpoints "$T/broker.log" "$BROKER_PID" || fail "the broker of broker.env did not start: $(cat "$T/broker.log")"
export TASKMQ_BROKER=$FRONTEND
grep -q "CURVE: clients need a key in $etc/clients, workers one in $etc/workers" "$T/broker.log" \
    || fail "the broker of broker.env does not use its keys: $(cat "$T/broker.log")"

exec_words "$units/taskmq-worker@.service" deploytest "$SRC/deploy/systemd/worker.env" \
    "$SRC/deploy/systemd/worker-NAME.env"
drain=yes
if ! "$WORKER" --help | grep -q -- --drain-timeout; then
    # the flag arrives with its own change; until then the rest is checked without it
    drain=""
    kept=()
    for ((i = 0; i < ${#WORDS[@]}; i++)); do
        if [ "${WORDS[$i]}" = --drain-timeout ]; then i=$((i + 1)); else kept+=("${WORDS[$i]}"); fi
    done
    WORDS=("${kept[@]}")
    echo "  note: this taskmq-worker has no --drain-timeout yet: left out, draining not checked"
fi
loopback_only worker
echo "  taskmq-worker ${WORDS[*]}"
"$WORKER" "${WORDS[@]}" 2>"$T/worker.log" &
WORKER_PID=$!
PIDS+=("$WORKER_PID")
wait_workers 1
st=$(tmq status --json)
assert_eq "$(jq -r '.workers[0].name' <<<"$st")" "deploytest" "worker name (the unit's instance)"
assert_eq "$(jq -r '.workers[0].procs' <<<"$st")" "4" "worker processes (worker-NAME.env)"
assert_eq "$(tmq submit sum 1000)" "499500" "a job through the env files' cluster"
pass "broker.env, worker.env and worker-NAME.env give a keyed broker and a worker that serves"

kill -HUP "$BROKER_PID"
for _ in $(seq 1 50); do grep -q "key directories read again" "$T/broker.log" && break; sleep 0.1; done
grep -q "key directories read again" "$T/broker.log" || fail "SIGHUP (ExecReload) did not reread the keys"
kill -0 "$BROKER_PID" 2>/dev/null || fail "SIGHUP stopped the broker"
pass "SIGHUP (systemctl reload) reads the key directories again; the broker serves on"

# wait_exit PID SECONDS WHAT: PID's exit status, which it must give within SECONDS.
wait_exit() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$1" 2>/dev/null && fail "$3 still runs ${2} s after SIGTERM"
    wait "$1"
}

# SIGTERM (systemctl stop): the worker drains a running job, then exits 0.
if [ -n "$drain" ]; then
    tmq submit sleep 1500 >"$T/drained" 2>&1 &
    job=$!
    for _ in $(seq 1 50); do
        [ "$(tmq status --json | jq '[.workers[].busy] | add')" = 1 ] && break
        sleep 0.1
    done
    [ "$(tmq status --json | jq '[.workers[].busy] | add')" = 1 ] || fail "the sleep job does not run"
fi
kill -TERM "$WORKER_PID"
wait_exit "$WORKER_PID" 10 "the worker"
assert_eq "$?" "0" "worker exit status after SIGTERM"
if [ -n "$drain" ]; then
    wait "$job"
    assert_eq "$(cat "$T/drained")" "1500" "the job the worker ran when told to stop"
    pass "SIGTERM: the worker finished its running job, then exited 0"
else
    pass "SIGTERM: the worker exited 0"
fi
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 10 "the broker"
assert_eq "$?" "0" "broker exit status after SIGTERM"
pass "SIGTERM: the broker exited 0"

# ---- system calls: what the programs call while serving, against each unit's filter ----
if ! command -v strace >/dev/null; then
    echo "  note: no strace here: the units' SystemCallFilter= not checked against the programs"
    exit 0
fi
if grep -q '^TASKMQ_SANITIZE:BOOL=ON' "$TASKMQ_BUILD/CMakeCache.txt"; then
    # the sanitizers' runtime makes calls of its own (LeakSanitizer ptraces the threads at exit,
    # which it cannot do under strace): the plain build's run is the one that counts
    echo "  note: a sanitizer build: the units' SystemCallFilter= is checked in the plain build"
    exit 0
fi
# traced PID LOG: the pid of the program strace PID runs, from its log ("broker[PID]"),
# for PIDS (stopping strace would leave it running).
traced() {
    local p=""
    for _ in $(seq 1 100); do
        p=$(sed -n 's/^[0-9:.]* [a-z]*\[\([0-9]*\)\].*/\1/p' "$2" | head -n 1)
        [ -n "$p" ] && break
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    echo "$p"
}
strace -f -qq -o "$T/strace.broker" "$BROKER" --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
    --curve-cert "$etc/keys/broker_secret" --curve-dir "$etc/clients" --curve-worker-dir "$etc/workers" \
    2>"$T/broker2.log" &
PIDS+=("$!")
bpid=$(traced "$!" "$T/broker2.log")
[ -n "$bpid" ] || fail "the traced broker did not start: $(cat "$T/broker2.log")"
PIDS+=("$bpid")
tmq_await_endpoints "$T/broker2.log" "$bpid" || fail "the traced broker did not start: $(cat "$T/broker2.log")"
export TASKMQ_BROKER=$FRONTEND
strace -f -qq -o "$T/strace.worker" "$WORKER" --broker "$BACKEND" --name traced --procs 2 \
    --allow-exec --mem-limit 1G --curve-cert "$etc/keys/worker_secret" --broker-cert "$etc/keys/broker" \
    2>"$T/worker2.log" &
PIDS+=("$!")
wpid=$(traced "$!" "$T/worker2.log")
[ -n "$wpid" ] || fail "the traced worker did not start: $(cat "$T/worker2.log")"
PIDS+=("$wpid")
wait_workers 1
tmq map sum 10 1000 >/dev/null || fail "jobs on the traced cluster"
tmq submit exec '{"argv":["sh","-c","echo hi; sleep 0.1 & wait"]}' >/dev/null || fail "an exec job"
tmq --timeout 200 submit sleep 2000 >/dev/null 2>&1 # a timeout: the executor is killed and replaced
kill -HUP "$bpid"
sleep 0.3
kill -TERM "$wpid"
for _ in $(seq 1 100); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$bpid"
for _ in $(seq 1 100); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
python3 "$(dirname "$0")/unit_syscalls.py" "$units/taskmq-broker.service" "$T/strace.broker" ||
    fail "the broker's SystemCallFilter= refuses calls it makes"
python3 "$(dirname "$0")/unit_syscalls.py" "$units/taskmq-worker@.service" "$T/strace.worker" ||
    fail "the worker's SystemCallFilter= refuses calls it (or an executor, or a job) makes"
pass "SystemCallFilter= of both units lets through every call the programs make while serving"
