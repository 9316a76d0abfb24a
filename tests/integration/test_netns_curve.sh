# CurveZMQ across hosts (deploy/netns-cluster.sh): a broker with --curve-cert, --curve-dir
# and --curve-worker-dir lets in the client and worker keys it was given, on their own
# ports, and nobody else: a stranger's key, a client without a key, a plain TCP peer sending
# garbage and a client key on the worker port are refused, reach nothing (the broker's
# status shows no such peer) and leave it serving; a key added to --curve-dir later gets in
# without a restart. Needs root and ip netns; skips with a message elsewhere.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
netns_cluster tmqcv
K=$T/keys
mkdir -p "$K/clients" "$K/workers"
for k in broker client worker stranger late; do
    "$TASKMQ" keygen "$K/$k" >/dev/null || fail "keygen $k"
done
cp "$K/client" "$K/clients/"
cp "$K/worker" "$K/workers/"
export TASKMQ_BROKER_FLAGS="--curve-cert $K/broker_secret --curve-dir $K/clients --curve-worker-dir $K/workers"
export TASKMQ_WORKER_FLAGS="--curve-cert $K/worker_secret --broker-cert $K/broker"
export TASKMQ_CLIENT_FLAGS="--curve-cert $K/client_secret --broker-cert $K/broker"
as_client() { on client taskmq --curve-cert "$K/client_secret" --broker-cert "$K/broker" "$@"; }
BLOG=$TASKMQ_NETNS_STATE/broker.log
NET=${TASKMQ_NETNS_NET:-10.231.7}

cluster up 2 1 >"$T/up.out" 2>&1 || fail "up: $(cat "$T/up.out")"
grep -q "CURVE: clients need a key in $K/clients, workers one in $K/workers" "$BLOG" \
    || fail "the broker did not say it uses CURVE: $(cat "$BLOG")"

# the allowed client and workers
as_client map sleep 50 50 50 50 >"$T/ok" || fail "the allowed client: exit $?"
assert_eq "$(jq -r '.worker | split(":")[0]' "$T/ok" | sort -u | tr '\n' ' ')" "w1 w2 " \
    "both worker hosts ran jobs over CURVE"
TASKMQ_CURVE_CERT=$K/client_secret TASKMQ_BROKER_CERT=$K/broker on client taskmq submit sum 10 \
    >"$T/env" || fail "keys from the environment: exit $?"
assert_eq "$(cat "$T/env")" "45" "keys from TASKMQ_CURVE_CERT / TASKMQ_BROKER_CERT"
assert_eq "$(PYTHONPATH="$HERE/../../python" on client /usr/bin/python3 -c '
import sys, taskmq
with taskmq.Client(sys.argv[1], curve_cert=sys.argv[2], broker_cert=sys.argv[3]) as c:
    print(c.submit("sum", 100).result(20))' "tcp://$NET.1:5555" "$K/client_secret" "$K/broker")" \
    "4950" "the Python client over CURVE"
pass "the allowed client (the tool and Python) and workers work over CURVE"


# the refused: each exits 3 (no broker answered), is logged, and reaches nothing
on client taskmq --curve-cert "$K/stranger_secret" --broker-cert "$K/broker" \
    --connect-timeout 5000 submit sum 1 >/dev/null 2>"$T/stranger.err"
assert_eq "$?" "3" "a stranger's key"
assert_eq "$(cat "$T/stranger.err")" \
    "taskmq: the broker refused our key (this certificate is not among its --curve-dir keys)" \
    "what a refused client is told"
STRANGER=$(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$K/stranger")
grep -qF "refused a client from $NET.200: key not in the allowed keys (--curve-dir); its key: $STRANGER" "$BLOG" \
    || fail "the stranger is not in the broker's log: $(cat "$BLOG")"
on client taskmq --connect-timeout 5000 submit sum 1 >/dev/null 2>"$T/nokey.err"
assert_eq "$?" "3" "a client without a key"
assert_eq "$(cat "$T/nokey.err")" \
    "taskmq: the broker requires CurveZMQ keys (--curve-cert and --broker-cert)" \
    "what a client without a key is told"
PYTHONPATH="$HERE/../../python" on client /usr/bin/python3 -c '
import sys, taskmq
try:
    taskmq.Client(sys.argv[1], curve_cert=sys.argv[2], broker_cert=sys.argv[3], connect_timeout=5)
except taskmq.NoBroker as e:
    print(e)' "tcp://$NET.1:5555" "$K/stranger_secret" "$K/broker" >"$T/py.err"
grep -q "the broker refused our key" "$T/py.err" || fail "Python, refused: $(cat "$T/py.err")"
on client bash -c 'exec 3<>/dev/tcp/'"$NET"'.1/5555 &&
    head -c 4096 /dev/urandom >&3; sleep 0.3' 2>/dev/null
on client bash -c 'exec 3<>/dev/tcp/'"$NET"'.1/5556 &&
    printf "GET / HTTP/1.0\r\n\r\n" >&3; sleep 0.3' 2>/dev/null
NEW=$(TASKMQ_WORKER_FLAGS="--curve-cert $K/client_secret --broker-cert $K/broker" \
    cluster add-worker 1)
for _ in $(seq 1 100); do # the refused worker says why and stops (exit 3)
    grep -q "the broker refused our key" "$TASKMQ_NETNS_STATE/$NEW.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "the broker refused our key (this certificate is not among the keys it lets in on its worker port: --curve-worker-dir, or --curve-dir when it has none)" \
    "$TASKMQ_NETNS_STATE/$NEW.log" || fail "the refused worker: $(cat "$TASKMQ_NETNS_STATE/$NEW.log")"
grep -q "refused a worker from $NET.1[0-9]: key not in the worker keys (--curve-worker-dir); its key: " "$BLOG" \
    || fail "the client key on the worker port is not refused: $(cat "$BLOG")"
as_client status --json >"$T/st"
assert_eq "$(jq -r '[.workers[].name] | sort | join(" ")' "$T/st")" "w1 w2" \
    "no worker registered with a client's key ($NEW)"
assert_eq "$(jq .clients "$T/st")" "1" "no stranger among the clients (this status is the one)"
# counted: the keys refused (a peer without a key, or speaking no ZMTP, fails earlier)
[ "$(jq .refused "$T/st")" -ge 2 ] || fail "refusals counted: $(jq .refused "$T/st")"
as_client submit sum 100 >"$T/after" || fail "the broker stopped serving: exit $?"
assert_eq "$(cat "$T/after")" "4950" "served on after the refusals"
pass "refused: a stranger's key, no key, plain TCP garbage, a client key on the worker port ($(jq .refused "$T/st") refusals)"

# a key added to --curve-dir gets in without a restart
on client taskmq --curve-cert "$K/late_secret" --broker-cert "$K/broker" --connect-timeout 1000 \
    submit sum 1 >/dev/null 2>&1
assert_eq "$?" "3" "a key not yet allowed"
cp "$K/late" "$K/clients/"
on client taskmq --curve-cert "$K/late_secret" --broker-cert "$K/broker" --connect-timeout 3000 \
    submit sum 5 >"$T/late" || fail "the added key: exit $?"
assert_eq "$(cat "$T/late")" "10" "a key added to --curve-dir, no restart"
pass "a key added to --curve-dir is let in without a restart"

kill -HUP "$(awk '$2 == "broker" {p = $1} END {print p}' "$TASKMQ_NETNS_STATE/pids")"
for _ in $(seq 1 50); do grep -q "key directories read again" "$BLOG" && break; sleep 0.1; done
grep -q "key directories read again: 2 client keys, 1 worker keys" "$BLOG" \
    || fail "SIGHUP: $(tail -n 3 "$BLOG")"
as_client submit sum 3 >/dev/null || fail "serving after SIGHUP: exit $?"
pass "SIGHUP reads the key directories again"
