# `taskmq status` names each worker by host and address, with its version, functions and
# when it was last heard from; `taskmq functions` lists what the cluster serves (contract §6).
. "$(dirname "$0")/lib.sh"
start_broker
start_worker alpha --procs 2
start_worker beta --procs 1
wait_workers 2

tmq status >"$T/st" || fail "status exited $?"
grep -Eq '^  alpha 127\.0\.0\.1:[0-9]+  pid [0-9]+  2 processes, 0 busy  done [0-9]+  failed [0-9]+$' "$T/st" \
    || fail "alpha's line: $(cat "$T/st")"
grep -Eq '^    version [0-9]+\.[0-9]+\.[0-9]+  seen [0-9.]+ s ago  functions .*echo' "$T/st" || fail "details: $(cat "$T/st")"
pass "status: worker by host and address, version, last seen, functions"

tmq functions --json >"$T/fn" || fail "functions --json exited $?"
assert_eq "$(jq -c '.[] | select(.name == "echo") | [.workers, .procs, .queued]' "$T/fn")" "[2,3,0]" "echo served by 2 workers, 3 processes"
tmq functions >"$T/fn.txt" || fail "functions exited $?"
grep -Eq '^echo +2 +3 +0$' "$T/fn.txt" || fail "functions table: $(cat "$T/fn.txt")"
pass "functions: what the cluster serves, by how many workers and processes"
