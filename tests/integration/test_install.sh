# `cmake --install` gives a user what the README promises: the three programs, the header,
# libtaskmq and a pkg-config file with which a C program builds and runs jobs; the README's
# example (examples/sum_client.c, msgpack-c included) builds with `pkg-config taskmq` alone
# and runs against the non-system prefix through LD_LIBRARY_PATH.
. "$(dirname "$0")/lib.sh"
: "${TASKMQ_BUILD:?}"
cmake --install "$TASKMQ_BUILD" --prefix "$T/inst" >/dev/null || fail "install"
for f in bin/taskmq bin/taskmq-broker bin/taskmq-worker include/taskmq/client.h; do
    [ -e "$T/inst/$f" ] || fail "not installed: $f"
done
pc=$(dirname "$(find "$T/inst" -name taskmq.pc | head -n1)")
[ -n "$pc" ] || fail "no taskmq.pc"
cat >"$T/app.c" <<'C'
#include <stdio.h>
#include <taskmq/client.h>
int main(void)
{
    tmq_client_t *c = tmq_client_new(getenv("TASKMQ_BROKER"));
    if (!c || tmq_client_wait_ready(c, 5000) != 0) return 3;
    for (int i = 0; i < 100; i++) tmq_submit(c, "echo", "\x2a", 1, NULL); /* msgpack 42 */
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        tmq_result_t *r = tmq_next(c, 10000);
        size_t len;
        if (r && tmq_result_ok(r) && ((const unsigned char *)tmq_result_data(r, &len))[0] == 0x2a) ok++;
        tmq_result_destroy(&r);
    }
    printf("%d\n", ok);
    tmq_client_destroy(&c);
    return 0;
}
C
sed -i '1i #include <stdlib.h>' "$T/app.c"
cc ${TASKMQ_CFLAGS:-} "$T/app.c" -o "$T/app" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs taskmq) \
    -Wl,-rpath,"$T/inst/lib" $( [ -d "$T/inst/lib64" ] && echo -Wl,-rpath,"$T/inst/lib64") \
    || fail "a program using the installed library does not build"
BROKER="$T/inst/bin/taskmq-broker"
WORKER="$T/inst/bin/taskmq-worker"
start_broker
start_worker w1 --procs 2
wait_workers 1
assert_eq "$(timeout 30 "$T/app")" "100" "100 echo jobs through the installed library"
pass "installed programs, header, library and pkg-config work together"

# The example as a user builds it: its own source, pkg-config taskmq and nothing else.
example="$(dirname "$0")/../../examples/sum_client.c"
cc ${TASKMQ_CFLAGS:-} "$example" -o "$T/sum_client" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs taskmq) \
    || fail "examples/sum_client.c does not build with pkg-config taskmq alone"
libdir=$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir taskmq)
LD_LIBRARY_PATH="$libdir" timeout 30 "$T/sum_client" "$FRONTEND" 1000 2000 10 >"$T/sums"
assert_eq "$?" "0" "sum_client exit status"
assert_eq "$(sort "$T/sums" | sed 's/  (.*//')" "job 0: sum(1000) = 499500
job 1: sum(2000) = 1999000
job 2: sum(10) = 45" "sum_client results"
LD_LIBRARY_PATH="$libdir" timeout 30 "$T/sum_client" tcp://127.0.0.1:9 5 >/dev/null 2>"$T/nob"
assert_eq "$?" "3" "sum_client without a broker"
pass "examples/sum_client.c builds with pkg-config taskmq alone and runs against the prefix"
