# C plugins as a user builds and runs them: the project installed to a temporary prefix, the
# example plugin (examples/wordcount.c) built by examples/plugin/CMakeLists.txt against the
# installed SDK, the test plugins (tests/integration/plugins) by `cc` with pkg-config alone,
# then the installed worker serving them through a real broker: wordcount counts as wc does,
# jobs go only to the worker that has the plugin, a function that segfaults fails its job
# alone and the worker serves on, per-process init and exit hooks run once per executor, and
# plugins that cannot load (another ABI, a taken name, init -1, not a plugin, no such file)
# stop the worker at start with exit 2 and a message naming the file and the cause.
. "$(dirname "$0")/lib.sh"
: "${TASKMQ_BUILD:?}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CFLAGS_T=${TASKMQ_CFLAGS:-} # the sanitizer build's flags: plugins must match the worker

cmake --install "$TASKMQ_BUILD" --prefix "$T/inst" >/dev/null || fail "install"
pcfile=$(find "$T/inst" -name taskmq-plugin.pc | head -n1)
[ -n "$pcfile" ] || fail "no taskmq-plugin.pc installed"
export PKG_CONFIG_PATH=$(dirname "$pcfile")
[ -f "$T/inst/include/taskmq/plugin.h" ] || fail "plugin.h not installed"
plugindir=$(pkg-config --variable=plugindir taskmq-plugin)
[ -f "$plugindir/wordcount.so" ] || fail "the example plugin is not installed in $plugindir"
assert_eq "$(pkg-config --libs taskmq-plugin | tr -d ' ')" "" "a plugin links nothing"
WORKER="$T/inst/bin/taskmq-worker"
"$WORKER" --help | grep -q -- "--plugin FILE.so" || fail "--help does not show --plugin"

# The installed worker exports exactly the functions the installed header declares.
declared=$(grep -o '\btmq_[a-z_]*(' "$T/inst/include/taskmq/plugin.h" | tr -d '(' |
    grep -vx 'tmq_plugin_init\|tmq_plugin_register' | sort -u)
exported=$(nm -D --defined-only "$WORKER" | awk '{print $3}' | grep '^tmq_' | sort -u)
assert_eq "$exported" "$declared" "the worker's exported symbols"
pass "installed: plugin.h, taskmq-plugin.pc, $(basename "$plugindir")/wordcount.so; the worker exports the SDK"

# The tutorial: a few lines of CMake against the installed SDK.
cmake -S "$SRC/examples/plugin" -B "$T/wc" -DCMAKE_PREFIX_PATH="$T/inst" \
    -DCMAKE_C_FLAGS="$CFLAGS_T -Wall -Wextra -Werror" >"$T/wc.log" 2>&1 &&
    cmake --build "$T/wc" >>"$T/wc.log" 2>&1 || fail "examples/plugin does not build: $(tail -20 "$T/wc.log")"
WC="$T/wc/wordcount.so"
[ -f "$WC" ] || fail "examples/plugin built no wordcount.so"
# The test plugins: cc and pkg-config, nothing else.
for p in tp_crash tp_wrong_abi tp_dup tp_init_fail tp_noinit; do
    cc $CFLAGS_T -Wall -Werror -shared -fPIC "$SRC/tests/integration/plugins/$p.c" -o "$T/$p.so" \
        $(pkg-config --cflags taskmq-plugin) 2>"$T/cc.log" || fail "$p.c does not build: $(cat "$T/cc.log")"
done
if command -v c++ >/dev/null; then # the header is C++-clean too
    printf '#include <taskmq/plugin.h>\nint tmq_plugin_init(tmq_plugin_t *) { return 0; }\n' >"$T/x.cc"
    c++ -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags taskmq-plugin) "$T/x.cc" ||
        fail "plugin.h does not compile as C++"
fi
pass "the example builds with examples/plugin/CMakeLists.txt, test plugins with cc + pkg-config"

start_broker
export TP_MARKS="$T/marks"
start_worker plug --procs 2 --plugin "$WC" --plugin "$T/tp_crash.so"
PLUG_PID=$WORKER_PID
start_worker plain --procs 1
wait_workers 2
assert_eq "$(tmq status --json | jq -c '.workers[] | select(.name == "plug") | .functions | sort')" \
    '["echo","fail","primes","segv","sleep","sum","tp_args","tp_pid","wordcount"]' \
    "the plugin worker registers built-ins and plugin functions"
assert_eq "$(tmq functions --json | jq -c '[.[] | select(.name == "wordcount") | .workers]')" '[1]' \
    "wordcount is served by one worker"
pass "HELLO announces built-ins and plugins; the broker knows who has what"

# wordcount against wc. A string's words are runs of non-isspace bytes (C locale): for these
# texts that is what wc counts (in a UTF-8 locale for the UTF-8 documents, since GNU wc in the
# C locale skips bytes >= 0x80 instead of counting them as word bytes).
printf '' >"$T/in0"
printf 'one' >"$T/in1"
printf 'two words\n' >"$T/in2"
printf '  lead and trail  \n\n\tx\v\fy\r\nz \n' >"$T/in3"
printf 'no newline at the end' >"$T/in4"
printf '\n\n\n' >"$T/in5"
inputs="$T/in0 $T/in1 $T/in2 $T/in3 $T/in4 $T/in5"
wclocale=C
if locale -a 2>/dev/null | grep -qix 'c.utf-\?8'; then
    wclocale=C.UTF-8
    inputs="$inputs $SRC/README.md $SRC/docs/EXECUTOR.md $SRC/examples/wordcount.c"
fi
for f in $inputs; do
    want=$(LC_ALL=$wclocale wc -l -w -c <"$f" |
        awk '{printf "{\"lines\":%d,\"words\":%d,\"bytes\":%d}", $1, $2, $3}')
    assert_eq "$(tmq submit wordcount "$(jq -Rs . <"$f")")" "$want" "wordcount of $(basename "$f")"
done
printf 'a b\nc  d e\nf\n' | tmq map wordcount >"$T/lines" || fail "map wordcount exited $?"
assert_eq "$(jq -s -c 'sort_by(.index) | map(.result.words)' "$T/lines")" '[2,3,1]' "one job per line"
tmq map wordcount 5 >"$T/bad"
assert_eq "$(jq -r .error "$T/bad")" "wordcount: argument must be a string, got integer" "a wrong argument"
tmq map wordcount $(seq 1 20 | sed 's/^/"w /; s/$/"/') >"$T/where" || fail "20 wordcount jobs"
assert_eq "$(jq -r '.worker' "$T/where" | sed 's/:.*//' | sort -u)" "plug" \
    "wordcount jobs go only to the worker that has the plugin"
assert_eq "$(tmq submit tp_args '[40, 1.25, true, "s", {"k": 2}]')" '[42,2.5,false,"s",null]' \
    "the argument readers and reply builders"
pass "wordcount counts as wc counts; jobs go only where the plugin is"

# A function that segfaults fails its job alone; jobs running beside it are unharmed.
tmq map sleep $(printf '20 %.0s' $(seq 1 40)) >"$T/beside" &
beside=$!
tmq map --retries 0 segv 1 >"$T/segv"
assert_eq "$?" "1" "the segfaulting job fails"
[[ "$(jq -r .error "$T/segv")" == "executor died: SIGSEGV"* ]] || fail "segv: $(cat "$T/segv")"
wait "$beside" || fail "jobs beside the crash: exit $?"
assert_eq "$(jq -s -c '[.[] | select(.ok)] | length' "$T/beside")" "40" "jobs beside the crash"
assert_eq "$(tmq submit wordcount '"after the crash"')" '{"lines":0,"words":3,"bytes":15}' \
    "the next job runs"
pass "a plugin function that segfaults fails its job alone (executor died: SIGSEGV)"

# tmq_plugin_init once per executor process, exit hooks at a clean stop: 2 executors and the
# one that replaced the crashed executor initialised; the 2 alive at the stop ran their hook.
kill -TERM "$PLUG_PID"
for _ in $(seq 1 100); do kill -0 "$PLUG_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PLUG_PID" 2>/dev/null && fail "the plugin worker did not stop"
assert_eq "$(grep -c '^init ' "$T/marks")" "3" "inits: $(cat "$T/marks")"
assert_eq "$(grep -c '^exit ' "$T/marks")" "2" "exit hooks: $(cat "$T/marks")"
for pid in $(awk '$1 == "exit" {print $2}' "$T/marks"); do
    grep -qx "init $pid" "$T/marks" || fail "exit hook in $pid, which never initialised"
done
pass "init once per executor process, exit hooks at a clean stop"

# Plugins that cannot load stop the worker at start (exit 2), saying which and why.
refused() { # refused WHAT EXPECTED-TEXT WORKER-ARGS...
    local what=$1 text=$2
    shift 2
    timeout 20 "$WORKER" --broker "$BACKEND" --procs 2 "$@" 2>"$T/refused"
    local rc=$?
    assert_eq "$rc" "2" "$what: exit status ($(cat "$T/refused"))"
    grep -qF -- "$text" "$T/refused" || fail "$what: expected '$text' in: $(cat "$T/refused")"
}
refused "another ABI" \
    "the executor cannot serve: plugin $T/tp_wrong_abi.so was built for plugin ABI 7; this worker has ABI 1" \
    --plugin "$T/tp_wrong_abi.so"
refused "a name two plugins register" \
    "the executor cannot serve: plugin $T/tp_dup.so registers 'wordcount', which plugin $WC already registered" \
    --plugin "$WC" --plugin "$T/tp_dup.so"
TP_DUP_NAME=sum refused "a built-in's name" \
    "plugin $T/tp_dup.so registers 'sum', which is a built-in function" --plugin "$T/tp_dup.so"
refused "init returns -1" \
    "the executor cannot serve: plugin $T/tp_init_fail.so refused to load (its tmq_plugin_init returned -1)" \
    --plugin "$T/tp_init_fail.so"
TP_REASON="no licence file" refused "init says why" \
    "plugin $T/tp_init_fail.so refused to load: no licence file" --plugin "$T/tp_init_fail.so"
refused "not a plugin" "plugin $T/tp_noinit.so has no tmq_plugin_init" --plugin "$T/tp_noinit.so"
refused "not a shared object" "plugin $SRC/examples/wordcount.c cannot be loaded: " \
    --plugin "$SRC/examples/wordcount.c"
refused "no such file" "taskmq-worker: --plugin: cannot read '$T/missing.so': No such file or directory" \
    --plugin "$T/missing.so"
refused "with --executor-cmd" "--plugin and --executor-cmd do not go together" \
    --plugin "$WC" --executor-cmd /bin/cat
pass "a plugin that cannot load stops the worker at start: exit 2 with the file and the cause"

# A plugin whose init crashes: the executors die before they can say anything (exit 1, as
# for any executor that cannot start), and the message shows the plugins they were loading.
TP_CRASH_INIT=1 timeout 20 "$WORKER" --broker "$BACKEND" --plugin "$T/tp_crash.so" 2>"$T/initcrash"
assert_eq "$?" "1" "a crash while loading"
grep -qF "cannot start executors: 'taskmq-worker --executor --plugin $T/tp_crash.so' ended before it said what it serves (executor died: SIGSEGV)" \
    "$T/initcrash" || fail "message: $(cat "$T/initcrash")"
pass "a plugin that crashes while loading: exit 1 naming it"
