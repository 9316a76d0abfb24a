/* examples/sum_client.c — a whole taskmq client in C: submit `sum` jobs, print each result
 * the moment it finishes (completion order), decoding the msgpack results with msgpack-c.
 *
 * Build against an installed taskmq (pkg-config finds libtaskmq and msgpack-c):
 *     cc sum_client.c -o sum_client $(pkg-config --cflags --libs taskmq)
 * Run with a broker and a worker up:
 *     ./sum_client [BROKER] [N...]     e.g.  ./sum_client tcp://127.0.0.1:5555 300000000 1000 2000
 * BROKER defaults to $TASKMQ_BROKER, else tcp://127.0.0.1:5555. Exit status: 0 every job
 * succeeded, 1 some failed, 3 no broker answered, 4 the broker was lost mid-run.
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <taskmq/client.h>

/* Submits sum(n): its argument is n as msgpack. Returns 0 or -1. */
static int submit_sum(tmq_client_t *c, unsigned long long n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_uint64(&pk, n);
    int rc = tmq_submit(c, "sum", sb.data, sb.size, NULL); /* copies the bytes */
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Prints one finished job; returns 1 when it failed, else 0. */
static int print_result(const tmq_result_t *r, const unsigned long long *ns)
{
    size_t len;
    const char *data = tmq_result_data(r, &len);
    unsigned long long id = (unsigned long long)tmq_result_id(r); /* ids count from 0 */
    if (!tmq_result_ok(r)) {
        printf("job %llu: sum(%llu) failed: %.*s\n", id, ns[id], (int)len, data);
        return 1;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        printf("job %llu: sum(%llu) = %llu  (%.2f ms on %s)\n", id, ns[id],
               (unsigned long long)up.data.via.u64, tmq_result_ms(r), tmq_result_worker(r));
    else
        printf("job %llu: sum(%llu) returned something other than an integer\n", id, ns[id]);
    msgpack_unpacked_destroy(&up);
    return 0;
}

int main(int argc, char **argv)
{
    const char *env = getenv("TASKMQ_BROKER");
    const char *broker = argc > 1 ? argv[1] : env && *env ? env : "tcp://127.0.0.1:5555";
    static const unsigned long long defaults[] = {300000000, 1000, 2000, 3000};
    int n = argc > 2 ? argc - 2 : (int)(sizeof defaults / sizeof defaults[0]);
    unsigned long long *ns = malloc((size_t)n * sizeof *ns);
    if (!ns) return 1;
    for (int i = 0; i < n; i++)
        ns[i] = argc > 2 ? strtoull(argv[i + 2], NULL, 10) : defaults[i];

    tmq_client_t *c = tmq_client_new(broker);
    if (!c) {
        fprintf(stderr, "sum_client: '%s' is not an endpoint (tcp://HOST:PORT)\n", broker);
        return 2;
    }
    if (tmq_client_wait_ready(c, 5000) != 0) {
        fprintf(stderr, "sum_client: %s\n", tmq_client_error(c));
        tmq_client_destroy(&c);
        free(ns);
        return 3;
    }
    for (int i = 0; i < n; i++)
        submit_sum(c, ns[i]); /* never waits for a round trip */

    int failed = 0, lost = 0;
    for (int i = 0; i < n; i++) {
        tmq_result_t *r = tmq_next(c, -1); /* the next to finish, whichever it is */
        if (!r) break;                     /* a signal interrupted the wait */
        failed += print_result(r, ns);
        lost += tmq_result_status(r) == TMQ_RESULT_LOST;
        tmq_result_destroy(&r);
    }
    if (lost) fprintf(stderr, "sum_client: %s\n", tmq_client_error(c));
    tmq_client_destroy(&c); /* says BYE; also safe to leave to exit */
    free(ns);
    return lost ? 4 : failed ? 1 : 0;
}
