# A closed standard descriptor is /dev/null to the tool, never a socket opened later: with
# stdin closed (`taskmq map echo <&-`) libzmq's eventfd became fd 0 and map waited on it
# forever; now it reads end of input at once. ARGs need no stdin; closed stdout or stderr
# swallow what would go there instead of writing it onto a socket.
. "$(dirname "$0")/lib.sh"
start_broker
start_worker w1 --procs 1
wait_workers 1

# within SECONDS NAME CMD...: CMD (stdout to $T/NAME.out) ends within SECONDS; sets RC.
within() {
    local max=$1 name=$2 t0
    shift 2
    t0=$(date +%s%N)
    timeout 10 "$@" >"$T/$name.out"
    RC=$?
    [ "$RC" != 124 ] || fail "$name: still running after 10 s"
    [ $(( ($(date +%s%N) - t0) / 1000000 )) -le $((max * 1000)) ] || fail "$name: took too long"
}

within 2 closed-stdin "$TASKMQ" map echo <&-
assert_eq "$RC" "0" "map with stdin closed"
assert_eq "$(wc -c <"$T/closed-stdin.out")" "0" "no lines with stdin closed"
pass "taskmq map echo <&- exits 0 at once with no lines"

within 2 closed-stdin-arg "$TASKMQ" map echo 1 <&-
assert_eq "$RC" "0" "map with an ARG and stdin closed"
assert_eq "$(jq -c .result "$T/closed-stdin-arg.out")" "1" "the ARG's line"
pass "taskmq map echo 1 <&- prints its line"

within 2 closed-stdout bash -c '"$0" map echo 1 >&-' "$TASKMQ"
assert_eq "$RC" "0" "map with stdout closed"
within 2 closed-stderr bash -c '"$0" map nosuch 1 2>&-' "$TASKMQ"
assert_eq "$RC" "1" "map of an unknown function with stderr closed"
pass "closed stdout or stderr: the run ends as usual"
