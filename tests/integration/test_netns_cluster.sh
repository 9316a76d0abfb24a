# A cluster across hosts: deploy/netns-cluster.sh gives a broker host, worker hosts and a
# client host, each a network namespace with its own address. Every worker host takes jobs
# and `taskmq status` lists each with its address; a worker host cut off mid-run
# (`ip link set ... down`) loses no job and duplicates no result, and rejoins when its link
# comes back; a host started mid-run takes work, and one drained mid-run (SIGTERM) hands
# back what it had not started and loses nothing; a broker restarted is rejoined by every
# worker; without keys or --insecure the broker refuses the other hosts, whose workers say
# why and stop. Needs root and ip netns (CI has both); skips with a message elsewhere.
. "$(dirname "$0")/lib.sh"
netns_cluster tmqit
export TASKMQ_BROKER_FLAGS="--heartbeat 200 --insecure"

cluster up 3 2 >"$T/up.out" || fail "up: $(cat "$T/up.out")"
NET=${TASKMQ_NETNS_NET:-10.231.7}
[ "$(ip netns list | grep -c "^$TASKMQ_NETNS-")" = 6 ] || fail "namespaces: $(ip netns list)"

# every worker host takes jobs; status lists each with its address
on client taskmq map sleep $(printf '20 %.0s' $(seq 60)) >"$T/m1" || fail "map exited $?"
assert_eq "$(jq -r '.worker | split(":")[0]' "$T/m1" | sort -u | tr '\n' ' ')" "w1 w2 w3 " \
    "every worker host ran jobs"
on client taskmq status --json >"$T/st1"
assert_eq "$(jq -r '[.workers[] | "\(.name)=\(.addr | split(":")[0])"] | sort | join(" ")' "$T/st1")" \
    "w1=$NET.11 w2=$NET.12 w3=$NET.13" "status: each host with its address"
on client taskmq status | grep -q "w2 $NET.12:" || fail "taskmq status: $(on client taskmq status)"
pass "3 worker hosts, each taking jobs, listed with their addresses"

# a worker host cut off mid-run: nothing lost, nothing twice; it rejoins when healed
N=300
done0=$(jq .done "$T/st1")
seq 1 $N | sed 's/.*/30/' | on client taskmq map sleep >"$T/m2" 2>"$T/m2.err" &
MAP=$!
sleep 0.6
cluster cut w2
sleep 1.5 # the broker drops w2 after 3 heartbeats (600 ms) and hands its jobs to the others
cluster heal w2
wait "$MAP" || fail "map across the cut exited $?: $(tail -n 3 "$T/m2.err")"
grep -q "worker w2 (pid [0-9]*) expired; [0-9]* jobs requeued" "$TASKMQ_NETNS_STATE/broker.log" \
    || fail "the broker never lost w2: $(grep w2 "$TASKMQ_NETNS_STATE/broker.log")"
assert_eq "$(jq -s 'length' "$T/m2")" "$N" "results across the cut"
assert_eq "$(jq -s '[.[].index] | unique | length' "$T/m2")" "$N" "each job once"
assert_eq "$(jq -s '[.[] | select(.ok | not)] | length' "$T/m2")" "0" "no job failed"
on client taskmq status --json >"$T/st2"
assert_eq "$(($(jq .done "$T/st2") - done0))" "$N" "the broker counted each job done once"
for _ in $(seq 1 100); do
    on client taskmq status --json | jq -e '[.workers[].name] | index("w2")' >/dev/null && break
    sleep 0.1
done
on client taskmq status --json | jq -e '[.workers[].name] | index("w2")' >/dev/null \
    || fail "w2 did not rejoin: $(on client taskmq status)"
pass "a host cut off mid-run: $N results, each once ($(jq .stale "$T/st2") late results fenced, $(grep -o "expired; [0-9]* jobs requeued" "$TASKMQ_NETNS_STATE/broker.log" | head -n 1)), and it rejoined"

# a host started mid-run takes work
seq 1 200 | sed 's/.*/30/' | on client taskmq map sleep >"$T/m3" &
MAP=$!
sleep 0.3
NEW=$(cluster add-worker 2)
wait "$MAP" || fail "map exited $?"
assert_eq "$(jq -s '[.[].index] | unique | length' "$T/m3")" "200" "each job once"
jq -r '.worker' "$T/m3" | grep -q "^$NEW:" || fail "$NEW took no job: $(jq -r .worker "$T/m3" | sort | uniq -c)"
pass "a worker host started mid-run ($NEW) took jobs"

# a host drained mid-run (SIGTERM): it finishes what it runs, hands back the rest, leaves
seq 1 200 | sed 's/.*/40/' | on client taskmq map sleep >"$T/m5" 2>"$T/m5.err" &
MAP=$!
sleep 0.5
cluster stop-worker "$NEW" TERM
wait "$MAP" || fail "map across the drain exited $?: $(tail -n 3 "$T/m5.err")"
assert_eq "$(jq -s '[.[].index] | unique | length' "$T/m5")" "200" "each job once across the drain"
assert_eq "$(jq -s 'length' "$T/m5")" "200" "results across the drain"
assert_eq "$(jq -s '[.[] | select(.ok | not)] | length' "$T/m5")" "0" "no job failed across the drain"
for _ in $(seq 1 50); do
    grep -q "worker $NEW (pid [0-9]*) left" "$TASKMQ_NETNS_STATE/broker.log" && break
    sleep 0.1
done
grep -q "worker $NEW (pid [0-9]*) is draining" "$TASKMQ_NETNS_STATE/broker.log" ||
    fail "the broker did not see $NEW drain: $(grep "$NEW" "$TASKMQ_NETNS_STATE/broker.log")"
grep -q "worker $NEW (pid [0-9]*) left; 0 jobs requeued" "$TASKMQ_NETNS_STATE/broker.log" ||
    fail "$NEW left jobs behind: $(grep "$NEW" "$TASKMQ_NETNS_STATE/broker.log")"
grep -q "drained: every job finished or handed back" "$TASKMQ_NETNS_STATE/$NEW.log" ||
    fail "$NEW did not drain: $(tail -n 5 "$TASKMQ_NETNS_STATE/$NEW.log")"
ran=$(jq -r '.worker' "$T/m5" | grep -c "^$NEW:")
pass "a host drained mid-run ($NEW, $ran of 200 jobs run there): 200 results, each once, none requeued"

on client taskmq status | grep -q "^security none: the broker runs --insecure" \
    || fail "no --insecure warning in taskmq status: $(on client taskmq status)"
grep -q -- "--insecure: any host that reaches" "$TASKMQ_NETNS_STATE/broker.log" \
    || fail "no --insecure warning in the broker's log"

# the broker restarted: every worker comes back to it
cluster restart-broker
for _ in $(seq 1 100); do
    [ "$(on client taskmq status --json 2>/dev/null | jq '.workers | length')" = 3 ] && break
    sleep 0.1
done
assert_eq "$(on client taskmq status --json | jq '.workers | length')" "3" "workers after the restart"
on client taskmq map sum 10 100 >"$T/m4" || fail "map after the restart exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result)' "$T/m4")" "[45,4950]" "jobs after the restart"
pass "a broker restarted is rejoined by every worker"

# protected by default: a broker without keys and without --insecure lets in loopback peers
# only (its own host), and refuses the worker and client hosts
TASKMQ_BROKER_FLAGS="--heartbeat 200" cluster restart-broker
grep -q "accepting connections from loopback addresses only" "$TASKMQ_NETNS_STATE/broker.log" \
    || fail "the broker did not say it is protected: $(cat "$TASKMQ_NETNS_STATE/broker.log")"
local_status() { on broker taskmq --broker tcp://127.0.0.1:5555 status --json; }
for _ in $(seq 1 50); do [ "$(local_status | jq .refused)" -ge 3 ] && break; sleep 0.1; done
assert_eq "$(local_status | jq '.workers | length')" "0" "no worker host got in"
[ "$(local_status | jq .refused)" -ge 3 ] || fail "refusals: $(local_status)"
on client taskmq --connect-timeout 5000 status >"$T/refused.out" 2>&1
assert_eq "$?" "3" "a client from another host is refused"
grep -q "^taskmq: the broker refused the connection: without keys it lets in loopback addresses only" \
    "$T/refused.out" || fail "what the refused client is told: $(cat "$T/refused.out")"
grep -q "refused a worker from $NET.1[1-3]: not a loopback address" "$TASKMQ_NETNS_STATE/broker.log" \
    || fail "the refusal is not logged: $(cat "$TASKMQ_NETNS_STATE/broker.log")"
assert_eq "$(grep -c "refused a client from $NET.200: not a loopback" "$TASKMQ_NETNS_STATE/broker.log")" \
    "1" "each refused address logged once"
for w in w1 w2 w3; do # a refused worker says why and stops: retrying cannot help (w4 drained)
    for _ in $(seq 1 50); do
        grep -q "the broker refused the connection" "$TASKMQ_NETNS_STATE/$w.log" && break
        sleep 0.1
    done
    grep -q "the broker refused the connection: without keys it lets in loopback addresses only" \
        "$TASKMQ_NETNS_STATE/$w.log" || fail "$w: $(tail -n 3 "$TASKMQ_NETNS_STATE/$w.log")"
done
pass "without keys or --insecure, only loopback peers get in (refused $(local_status | jq .refused) connections; the workers said why and stopped)"

down
[ "$(ip netns list | grep -c "^$TASKMQ_NETNS-")" = 0 ] || fail "namespaces left: $(ip netns list)"
pass "down leaves no namespace behind"
