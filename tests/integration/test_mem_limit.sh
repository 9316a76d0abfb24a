# Memory limits through a real broker and worker: a worker's --mem-limit per executor, and a
# job's own --mem-limit (smaller: in force while it runs), --retry-oom. A
# plugin job (tp_alloc) and an exec job (a command) that allocate past it fail "out of memory
# (limit 256 MiB)", are not retried, their executor is replaced, and the next job runs; jobs
# under the limit are untouched; the worker's cgroups are gone when it stops. The limit is a
# memory cgroup per executor: where this machine gives the worker none, the test is skipped
# (exit 77), saying so.
. "$(dirname "$0")/lib.sh"

TP="$TASKMQ_BUILD/tests/plugins/tp_alloc.so"
[ -f "$TP" ] || fail "the test plugin $TP was not built"
PY=/usr/bin/python3

start_broker
start_worker lim --procs 1 --mem-limit 256M --allow-exec --plugin "$TP"
LIM=$WORKER_PID
wait_workers 1
if ! grep -q "memory limit 256 MiB per executor (cgroup)" "$T/worker-lim.log"; then
    grep -q "RLIMIT_AS" "$T/worker-lim.log" || fail "no word on the limit: $(cat "$T/worker-lim.log")"
    echo "SKIP: no memory cgroup here: $(grep -o 'no memory cgroup[^;]*' "$T/worker-lim.log")"
    exit 77
fi
CG=$(find /sys/fs/cgroup -maxdepth 6 -type d -name "taskmq-worker.$LIM" 2>/dev/null | head -1)
[ -n "$CG" ] && [ -d "$CG/e0" ] || fail "no cgroup taskmq-worker.$LIM/e0 under /sys/fs/cgroup"
LIMIT_FILE=memory.limit_in_bytes # cgroup v1; v2 says memory.max
[ -f "$CG/e0/$LIMIT_FILE" ] || LIMIT_FILE=memory.max
assert_eq "$(cat "$CG/e0/$LIMIT_FILE")" "268435456" "the executor's cgroup limit"
# the limit in force on the executor while a job runs, as the job itself reads it
limit_seen() { tmq submit "$@" exec "[\"cat\",\"$CG/e0/$LIMIT_FILE\"]" | jq -r .stdout; }
executor() { tmq submit exec '["sh","-c","echo $PPID"]' | jq -r .stdout; }
E1=$(executor)
grep -qx "$E1" "$CG/e0/cgroup.procs" || fail "executor $E1 is not in $CG/e0: $(cat "$CG/e0/cgroup.procs")"

# ---- a plugin job under the limit, then past it ----
assert_eq "$(tmq submit alloc 64)" "64" "64 MiB under a 256 MiB limit"
tmq submit alloc 1024 >"$T/oom.out" 2>"$T/oom.err"
assert_eq "$?" "1" "a plugin job past the limit fails"
assert_eq "$(cat "$T/oom.err")" "job failed: out of memory (limit 256 MiB)" "its message"
[ -s "$T/oom.out" ] && fail "printed a result: $(cat "$T/oom.out")"
assert_eq "$(tmq submit alloc 64)" "64" "the next job runs"
E2=$(executor)
[ "$E2" != "$E1" ] || fail "the executor that ran out ($E1) was not replaced"
grep -qx "$E2" "$CG/e0/cgroup.procs" || fail "its replacement $E2 is not in the cgroup"
pass "plugin: out of memory (limit 256 MiB), executor $E1 replaced by $E2, the next job runs"

# ---- an exec job: the command is what runs out; beside jobs that do not ----
tmq map --json exec "[\"$PY\",\"-c\",\"b = b'x' * (1 << 30)\"]" '["echo","fine"]' >"$T/map.out"
assert_eq "$?" "1" "map with one job out of memory"
assert_eq "$(jq -c 'select(.index == 0) | [.ok, .error]' "$T/map.out")" \
    '[false,"out of memory (limit 256 MiB)"]' "the command past the limit"
assert_eq "$(jq -c 'select(.index == 1) | .result.stdout' "$T/map.out")" '"fine\n"' "the other job"
E3=$(executor)
[ "$E3" != "$E2" ] || fail "the executor whose command ran out ($E2) was not replaced"
assert_eq "$(tmq submit exec "[\"$PY\",\"-c\",\"b = b'x' * (100 << 20); print(len(b))\"]" | jq -r .stdout)" \
    "104857600" "a command under the limit"
pass "exec: out of memory (limit 256 MiB), executor replaced, the jobs beside it ran"

# ---- not retried: one OOM each, counted failed; the worker serves on ----
assert_eq "$(grep -c 'ran out of memory (limit 256 MiB)' "$T/worker-lim.log")" "2" \
    "each job ran out once (not retried)"
assert_eq "$(tmq status --json | jq -c '.workers[0] | [.failed, .procs]')" "[2,1]" "worker status"
pass "not retried; the worker serves on"

# ---- a job's own limit: in force while it runs when smaller than the worker's ----
assert_eq "$(limit_seen --mem-limit 64M)" "67108864" "a job's 64M under the worker's 256M"
assert_eq "$(limit_seen)" "268435456" "the worker's limit again for the next job"
assert_eq "$(limit_seen --mem-limit 1G)" "268435456" "a job's 1G does not lift the worker's 256M"
tmq submit --mem-limit 64M alloc 128 >/dev/null 2>"$T/job-oom.err"
assert_eq "$?" "1" "128 MiB in a job limited to 64M"
assert_eq "$(cat "$T/job-oom.err")" "job failed: out of memory (limit 64 MiB)" "its message"
assert_eq "$(tmq submit alloc 128)" "128" "the same job under the worker's limit"
# a run of jobs under one limit: each runs under it
cat_limit="[\"cat\",\"$CG/e0/$LIMIT_FILE\"]"
tmq map --mem-limit 96M exec "$cat_limit" "$cat_limit" "$cat_limit" "$cat_limit" \
    | jq -j .result.stdout | sort | uniq -c | awk '{print $1, $2}' >"$T/run"
assert_eq "$(cat "$T/run")" "4 100663296" "every job of a --mem-limit 96M map"
pass "a job's own --mem-limit: 64M and 96M in force while they run, the worker's 256M between"

# ---- each out-of-memory kill is its own job's, in a stream of jobs one executor runs ----
tmq map alloc 1 1024 1 1 1 1024 1 1 >"$T/stream.out"
assert_eq "$(jq -c 'select(.ok | not) | .index' "$T/stream.out" | sort | tr '\n' ' ')" "1 5 " \
    "only the two 1024 MiB jobs ran out"
assert_eq "$(jq -c 'select(.ok) | .result' "$T/stream.out" | sort -u)" "1" "the others ran, once each"
assert_eq "$(wc -l <"$T/stream.out")" "8" "one line per job"
pass "a stream of jobs: each out-of-memory failure is the job that ran out"

# ---- an executor that holds more than a job's limit is replaced for it: the job runs ----
assert_eq "$(tmq submit hold 100)" "100" "an executor that keeps 100 MiB"
H1=$(executor)
assert_eq "$(tmq submit --mem-limit 64M alloc 1)" "1" "a 64M job after it, on a fresh executor"
H2=$(executor)
[ "$H2" != "$H1" ] || fail "the executor holding 100 MiB ($H1) was not replaced for a 64M job"
pass "an executor holding more than a job's limit is replaced, and the job runs"

# ---- a limit the executor alone is over: that job fails, the worker is not wedged ----
tmq submit --mem-limit 64K alloc 1 >/dev/null 2>"$T/tiny.err"
assert_eq "$?" "1" "a job limited to 64K"
assert_eq "$(cat "$T/tiny.err")" \
    "job failed: out of memory (limit 64 KiB): the executor alone holds more" "its message"
assert_eq "$(tmq submit alloc 1)" "1" "the next job runs"
pass "--mem-limit 64K: fails at once (the executor alone holds more), the next job runs"

# ---- asked to: --retry-oom retries it within --retries ----
before=$(grep -c 'ran out of memory' "$T/worker-lim.log")
tmq submit --mem-limit 64M --retry-oom --retries 2 alloc 128 >/dev/null 2>"$T/retry.err"
assert_eq "$?" "1" "still out of memory after its retries"
assert_eq "$(cat "$T/retry.err")" "job failed: out of memory (limit 64 MiB)" "the last attempt's message"
# retried: more than one attempt ran out (the worker logs most of them; the last one's line may
# be missing when the kernel's kill and the executor's end race, so it is not counted exactly)
for _ in $(seq 1 20); do
    [ $(($(grep -c 'ran out of memory' "$T/worker-lim.log") - before)) -ge 3 ] && break
    sleep 0.1
done
[ $(($(grep -c 'ran out of memory' "$T/worker-lim.log") - before)) -ge 2 ] ||
    fail "--retry-oom --retries 2: not retried: $(tail -n 5 "$T/worker-lim.log")"
pass "--retry-oom: retried like a crash, 3 attempts with --retries 2"

# ---- a clean stop removes the cgroups ----
kill -TERM "$E3" 2>/dev/null # an executor killed from outside is a crash, replaced: still served
assert_eq "$(tmq submit alloc 1)" "1" "served after its executor was killed"
kill -TERM "$LIM"
wait "$LIM"
assert_eq "$?" "0" "the worker's clean stop"
[ -d "$CG" ] && fail "$CG left behind after the worker stopped"
pass "the worker's cgroups are removed when it stops"

# ---- a worker without --mem-limit: a job's limit while it runs, none after ----
start_worker free --procs 1 --allow-exec --plugin "$TP"
FREE=$WORKER_PID
wait_workers 1
CG=$(find /sys/fs/cgroup -maxdepth 6 -type d -name "taskmq-worker.$FREE" 2>/dev/null | head -1)
[ -n "$CG" ] || fail "worker free has no cgroup"
none=$(cat "$CG/e0/$LIMIT_FILE")
assert_eq "$(limit_seen --mem-limit 64M)" "67108864" "a job's 64M on a worker without a limit"
assert_eq "$(limit_seen)" "$none" "no limit again for the next job"
tmq submit --mem-limit 64M alloc 128 >/dev/null 2>"$T/free.err"
assert_eq "$(cat "$T/free.err")" "job failed: out of memory (limit 64 MiB)" "past a job's own limit"
assert_eq "$(tmq submit alloc 128)" "128" "the same job without one"
pass "a job's own --mem-limit on a worker without one"
