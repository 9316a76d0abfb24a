# Job memory limits end to end: --mem-limit and --retry-oom reach the worker through a real
# broker (the worker here is tmq_garbage oomworker, which reports out of memory as a worker
# with memory limits does); an out-of-memory job fails with the worker's text (exit 1),
# final unless --retry-oom; map, map --exec (stderr line, joblog) and status count it.
. "$(dirname "$0")/lib.sh"
GARBAGE="${TASKMQ_GARBAGE:?TASKMQ_GARBAGE must point at tmq_garbage}"

start_broker
"$GARBAGE" oomworker "$BACKEND" 2>"$T/oomw.log" &
PIDS+=("$!")
wait_workers 1

assert_eq "$(tmq submit big 7)" "7" "no limit: the job runs"
tmq submit big 7 --mem-limit 512M >"$T/out" 2>"$T/err"
assert_eq "$?" "1" "exit status of an out-of-memory job"
assert_eq "$(cat "$T/err")" "job failed: out of memory (limit 512 MiB)" "submit's message"
assert_eq "$(wc -c <"$T/out")" "0" "nothing on stdout"
pass "submit --mem-limit: out of memory fails the job, exit 1"

tmq submit flaky 1 --mem-limit 1G --retries 2 >/dev/null 2>"$T/err"
assert_eq "$?" "1" "out of memory is final without --retry-oom"
assert_eq "$(cat "$T/err")" "job failed: out of memory (limit 1 GiB)" "final OOM message"
assert_eq "$(tmq submit flaky 1 --mem-limit=1G --retry-oom)" "1" "retried with --retry-oom"
tmq submit big 1 --mem-limit 1G --retry-oom --retries 1 >/dev/null 2>"$T/err"
assert_eq "$?" "1" "out of retries"
assert_eq "$(cat "$T/err")" "job failed: out of memory (limit 1 GiB)" "OOM once retries run out"
pass "--retry-oom retries as a death, up to --retries"

tmq map big 1 2 --mem-limit 64M >"$T/map"
assert_eq "$?" "1" "map exit status"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.ok)' "$T/map")" "[false,false]" "ok flags"
assert_eq "$(jq -r 'select(.index==1) | .error' "$T/map")" "out of memory (limit 64 MiB)" "map error"
assert_eq "$(jq -r 'select(.index==1) | keys_unsorted | join(",")' "$T/map")" "index,ok,error" "keys"
pass "map --mem-limit: ok:false lines with the text"

printf 'a\nb\n' | tmq map --exec --mem-limit 64M --joblog "$T/joblog" -- echo {} >"$T/x.out" 2>"$T/x.err"
assert_eq "$?" "1" "map --exec exit status"
assert_eq "$(sort "$T/x.err")" "taskmq: echo a: out of memory (limit 64 MiB)
taskmq: echo b: out of memory (limit 64 MiB)" "map --exec stderr lines"
assert_eq "$(tail -n +2 "$T/joblog" | awk -F'\t' '{print $7, $8}' | sort -u)" "-1 9" "joblog Exitval Signal"
pass "map --exec --mem-limit: stderr line, joblog Exitval -1 Signal 9"

# submit: 1 OK + 1 OOM + 1 OOM + (1 retried OK) + 1 OOM; map 2 + exec 2 failed
assert_eq "$(status_field failed)" "7" "broker's failed count"
assert_eq "$(status_field done)" "2" "broker's done count"
pass "out-of-memory results count as failed"
