/* tests/unit/test_endpoint.c — common/endpoint: syntax, resolution, bind rewriting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint.h"

static void test_endpoint_syntax(void **state)
{
    (void)state;
    char err[256];
    const char *good_connect[] = {"tcp://127.0.0.1:5555", "tcp://localhost:1", "ipc:///tmp/x",
                                  "inproc://name"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(tmq_endpoint_check(good_connect[i], false, err, sizeof err), TMQ_EP_OK);
    const char *bad_connect[] = {"",
                                 "127.0.0.1:5555",
                                 "tcp://host",
                                 "tcp://:5555",
                                 "tcp://host:0",
                                 "tcp://host:65536",
                                 "tcp://host:x",
                                 "tcp://*:5555",
                                 "tcp://host:*",
                                 "udp://host:1",
                                 "ipc://"};
    for (size_t i = 0; i < sizeof bad_connect / sizeof *bad_connect; i++) {
        err[0] = '\0';
        assert_int_equal(tmq_endpoint_check(bad_connect[i], false, err, sizeof err), TMQ_EP_SYNTAX);
        assert_true(strlen(err) > 10);
    }
    assert_int_equal(tmq_endpoint_check("tcp://*:*", true, err, sizeof err), TMQ_EP_OK);
    assert_int_equal(tmq_endpoint_check("tcp://127.0.0.1:*", true, err, sizeof err), TMQ_EP_OK);
    assert_int_equal(tmq_endpoint_check("tcp://*", true, err, sizeof err), TMQ_EP_SYNTAX);
    assert_non_null(strstr(err, "tcp://HOST:PORT"));
}

static void test_endpoint_resolution(void **state)
{
    (void)state;
    char err[256], out[256];
    assert_int_equal(tmq_endpoint_connectable("tcp://localhost:5555", err, sizeof err), TMQ_EP_OK);
    assert_int_equal(tmq_endpoint_connectable("tcp://no-such-host.invalid:5555", err, sizeof err),
                     TMQ_EP_UNRESOLVED);
    assert_non_null(strstr(err, "cannot resolve host 'no-such-host.invalid'"));
    /* binds: '*', addresses and interface names unchanged; host names resolved */
    assert_int_equal(tmq_endpoint_bindable("tcp://*:5555", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "tcp://*:5555");
    assert_int_equal(tmq_endpoint_bindable("tcp://lo:7", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "tcp://lo:7");
    assert_int_equal(tmq_endpoint_bindable("tcp://localhost:*", out, sizeof out, err, sizeof err),
                     0);
    assert_string_equal(out, "tcp://127.0.0.1:*");
    assert_int_equal(
        tmq_endpoint_bindable("tcp://no-such-host.invalid:1", out, sizeof out, err, sizeof err),
        TMQ_EP_UNRESOLVED);
    char port[16];
    tmq_endpoint_port("tcp://127.0.0.1:5556", port, sizeof port);
    assert_string_equal(port, "5556");
    tmq_endpoint_port("inproc://x", port, sizeof port);
    assert_string_equal(port, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_syntax),
        cmocka_unit_test(test_endpoint_resolution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
