/* tests/unit/test_broker_zap.c — who may connect (broker/zap.c): what counts as loopback,
 * which endpoints face the network, and the handler itself answering ZAP requests (RFC 27)
 * the way libzmq sends them: loopback let in, another address refused (and counted), unless
 * insecure; a second handler in one process refused at start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "zap.h"

static void test_loopback_and_network(void **state)
{
    (void)state;
    assert_true(tmq_zap_is_loopback("127.0.0.1"));
    assert_true(tmq_zap_is_loopback("127.255.3.4"));
    assert_true(tmq_zap_is_loopback("::1"));
    assert_true(tmq_zap_is_loopback("::ffff:127.0.0.9"));
    assert_false(tmq_zap_is_loopback("10.0.0.7"));
    assert_false(tmq_zap_is_loopback("128.0.0.1"));
    assert_false(tmq_zap_is_loopback("::ffff:10.0.0.1"));
    assert_false(tmq_zap_is_loopback("fe80::1"));
    assert_false(tmq_zap_is_loopback(""));
    assert_false(tmq_zap_is_loopback("localhost")); /* addresses only: libzmq gives those */

    assert_true(tmq_zap_faces_network("tcp://*:5555"));
    assert_true(tmq_zap_faces_network("tcp://0.0.0.0:5555"));
    assert_true(tmq_zap_faces_network("tcp://10.0.0.7:5555"));
    assert_true(tmq_zap_faces_network("tcp://eth0:5555"));
    assert_false(tmq_zap_faces_network("tcp://127.0.0.1:5555"));
    assert_false(tmq_zap_faces_network("tcp://127.0.0.1:*"));
    assert_false(tmq_zap_faces_network("tcp://[::1]:5555"));
    assert_false(tmq_zap_faces_network("ipc:///tmp/x"));
    assert_false(tmq_zap_faces_network("inproc://x"));
}

/* One ZAP request as libzmq sends it; returns the status code of the reply. */
static char *s_ask(zsock_t *req, const char *domain, const char *address, const char *mechanism)
{
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "1.0");
    zmsg_addstr(m, "42");
    zmsg_addstr(m, domain);
    zmsg_addstr(m, address);
    zmsg_addstr(m, "");
    zmsg_addstr(m, mechanism);
    assert_int_equal(zmsg_send(&m, req), 0);
    zmsg_t *reply = zmsg_recv(req);
    assert_non_null(reply);
    assert_int_equal(zmsg_size(reply), 6);
    char *version = zmsg_popstr(reply), *id = zmsg_popstr(reply), *code = zmsg_popstr(reply);
    assert_string_equal(version, "1.0");
    assert_string_equal(id, "42"); /* the request id comes back */
    zstr_free(&version);
    zstr_free(&id);
    zmsg_destroy(&reply);
    return code;
}

static void s_expect(zsock_t *req, const char *address, const char *mechanism, const char *want)
{
    char *code = s_ask(req, TMQ_ZAP_DOMAIN_WORKERS, address, mechanism);
    assert_string_equal(code, want);
    zstr_free(&code);
}

static void test_handler_answers(void **state)
{
    (void)state;
    tmq_zap_policy_t protect = {.insecure = false};
    tmq_zap_t *zap = tmq_zap_new(&protect);
    assert_non_null(zap);
    assert_null(tmq_zap_new(&protect)); /* one handler per process (context) */
    zsock_t *req = zsock_new_req("inproc://zeromq.zap.01");
    assert_non_null(req);
    s_expect(req, "127.0.0.1", "NULL", "200");
    s_expect(req, "::1", "NULL", "200");
    s_expect(req, "10.0.0.7", "NULL", "400");
    s_expect(req, "10.0.0.7", "NULL", "400");   /* logged once, counted each time */
    s_expect(req, "127.0.0.1", "PLAIN", "400"); /* not a mechanism taskmq uses */
    assert_int_equal(tmq_zap_refused(zap), 3);
    zsock_destroy(&req);
    tmq_zap_destroy(&zap);
    assert_null(zap);

    tmq_zap_policy_t open = {.insecure = true};
    zap = tmq_zap_new(&open); /* the endpoint is free again */
    assert_non_null(zap);
    req = zsock_new_req("inproc://zeromq.zap.01");
    s_expect(req, "10.0.0.7", "NULL", "200");
    assert_int_equal(tmq_zap_refused(zap), 0);
    zsock_destroy(&req);
    tmq_zap_destroy(&zap);
}

/* A CURVE request: credentials one frame, the 32-byte public key. */
static char *s_ask_curve(zsock_t *req, const char *domain, zcert_t *cert)
{
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "1.0");
    zmsg_addstr(m, "7");
    zmsg_addstr(m, domain);
    zmsg_addstr(m, "10.0.0.9");
    zmsg_addstr(m, "");
    zmsg_addstr(m, "CURVE");
    zmsg_addmem(m, zcert_public_key(cert), 32);
    assert_int_equal(zmsg_send(&m, req), 0);
    zmsg_t *reply = zmsg_recv(req);
    assert_non_null(reply);
    zframe_t *f = zmsg_first(reply);
    f = zmsg_next(reply);
    f = zmsg_next(reply);
    char *code = zframe_strdup(f);
    zmsg_destroy(&reply);
    return code;
}

/* With keys: a client key in curve_dir gets in on the client port only (the worker port
 * has its own directory), a stranger nowhere, a key copied in later at once, NULL never. */
static void test_handler_curve(void **state)
{
    (void)state;
    char dir[] = "/tmp/tmq-zap-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *clients = zsys_sprintf("%s/clients", dir), *workers = zsys_sprintf("%s/workers", dir);
    assert_int_equal(zsys_dir_create("%s", clients), 0);
    assert_int_equal(zsys_dir_create("%s", workers), 0);
    zcert_t *client = zcert_new(), *worker = zcert_new(), *stranger = zcert_new();
    char *path = zsys_sprintf("%s/client", clients);
    assert_int_equal(zcert_save_public(client, path), 0);
    zstr_free(&path);
    path = zsys_sprintf("%s/worker", workers);
    assert_int_equal(zcert_save_public(worker, path), 0);
    zstr_free(&path);
    path = zsys_sprintf("%s/client.bak", clients); /* the same key twice: fine */
    assert_int_equal(zcert_save_public(client, path), 0);
    zstr_free(&path);
    path = zsys_sprintf("%s/sub", clients); /* a subdirectory's keys are not read */
    assert_int_equal(zsys_dir_create("%s", path), 0);
    char *sub = zsys_sprintf("%s/stranger", path);
    assert_int_equal(zcert_save_public(stranger, sub), 0);
    zstr_free(&sub);
    zstr_free(&path);
    tmq_zap_policy_t keys = {.curve_dir = clients, .curve_worker_dir = workers};
    tmq_zap_t *zap = tmq_zap_new(&keys);
    assert_non_null(zap);
    zsock_t *req = zsock_new_req("inproc://zeromq.zap.01");
    struct {
        const char *domain;
        zcert_t *cert;
        const char *want;
    } cases[] = {
        {TMQ_ZAP_DOMAIN_CLIENTS, client, "200"},   {TMQ_ZAP_DOMAIN_WORKERS, worker, "200"},
        {TMQ_ZAP_DOMAIN_WORKERS, client, "400"},   {TMQ_ZAP_DOMAIN_CLIENTS, worker, "400"},
        {TMQ_ZAP_DOMAIN_CLIENTS, stranger, "400"}, {TMQ_ZAP_DOMAIN_WORKERS, stranger, "400"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *code = s_ask_curve(req, cases[i].domain, cases[i].cert);
        assert_string_equal(code, cases[i].want);
        zstr_free(&code);
    }
    s_expect(req, "127.0.0.1", "NULL", "400");   /* keys required: even from loopback */
    path = zsys_sprintf("%s/stranger", clients); /* allowed from now on */
    assert_int_equal(zcert_save_public(stranger, path), 0);
    zstr_free(&path);
    zclock_sleep(1100); /* the store notices a change by the directory's time (1 s) */
    char *code = s_ask_curve(req, TMQ_ZAP_DOMAIN_CLIENTS, stranger);
    assert_string_equal(code, "200");
    zstr_free(&code);
    /* the directory moved away (nobody gets in) and back (mv keeps its older mtime): read */
    char *aside = zsys_sprintf("%s.bak", clients);
    assert_int_equal(rename(clients, aside), 0);
    code = s_ask_curve(req, TMQ_ZAP_DOMAIN_CLIENTS, client);
    assert_string_equal(code, "400");
    zstr_free(&code);
    assert_int_equal(rename(aside, clients), 0);
    zstr_free(&aside);
    code = s_ask_curve(req, TMQ_ZAP_DOMAIN_CLIENTS, client);
    assert_string_equal(code, "200");
    zstr_free(&code);
    assert_int_equal(tmq_zap_refused(zap), 6);
    zsock_destroy(&req);
    tmq_zap_destroy(&zap);
    zcert_destroy(&client);
    zcert_destroy(&worker);
    zcert_destroy(&stranger);
    char *cmd = zsys_sprintf("rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    zstr_free(&cmd);
    zstr_free(&clients);
    zstr_free(&workers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_and_network),
        cmocka_unit_test(test_handler_answers),
        cmocka_unit_test(test_handler_curve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
