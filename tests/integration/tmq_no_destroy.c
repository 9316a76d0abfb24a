/* tests/integration/tmq_no_destroy.c — a C program that leaves without tmq_client_destroy,
 * the way ordinary C does on an error path. It must exit with the status it chose: no
 * "dangling socket" from czmq, no abort, no sanitizer report.
 *
 * Usage: tmq_no_destroy MODE ENDPOINT, MODE one of
 *   return   wait for the broker, submit jobs, take one result, return 0 from main
 *   exit3    wait for the broker, submit jobs, call exit(3) with them in flight
 *   silent   no broker answers (nothing waited for), submit, return 5 from main
 *   two      two clients, one destroyed and one not, return 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <taskmq/client.h>

static void s_submit(tmq_client_t *c, int n)
{
    for (int i = 0; i < n; i++)
        tmq_submit(c, "sleep", "\xcd\x07\xd0", 3, NULL); /* msgpack 2000: sleep 2 s */
    tmq_submit(c, "echo", "\x2a", 1, NULL);
    tmq_flush(c);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tmq_no_destroy return|exit3|silent|two ENDPOINT\n");
        return 2;
    }
    const char *mode = argv[1];
    tmq_client_t *c = tmq_client_new(argv[2]);
    if (!c) return 2;
    if (strcmp(mode, "silent") == 0) {
        s_submit(c, 2);
        return 5;
    }
    if (tmq_client_wait_ready(c, 5000) != 0) {
        fprintf(stderr, "tmq_no_destroy: %s\n", tmq_client_error(c));
        return 9;
    }
    s_submit(c, 2);
    if (strcmp(mode, "exit3") == 0) exit(3);
    if (strcmp(mode, "two") == 0) {
        tmq_client_t *d = tmq_client_new(argv[2]);
        tmq_submit(d, "echo", "\x01", 1, NULL);
        tmq_result_t *r = tmq_next(d, 5000);
        tmq_result_destroy(&r);
        tmq_client_destroy(&d);
        return 0;
    }
    tmq_result_t *r = tmq_next(c, 5000); /* the echo */
    int ok = r && tmq_result_ok(r);
    tmq_result_destroy(&r);
    return ok ? 0 : 8;
}
