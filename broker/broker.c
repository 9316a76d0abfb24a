/* broker/broker.c — the public entry points: defaults and the actor.
 *
 * The actor is thin: it binds through tmq_broker_loop_new and hands over to the loop. It
 * copies its configuration (endpoint strings included) before signalling, so the caller's
 * struct need only live until the actor has signalled (zactor_new or tmq_actor_new returns).
 */
#include "broker.h"
#include "loop.h"

#include <log.h>
#include <proto.h>
#include <xalloc.h>

#include <string.h>

void tmq_broker_config_defaults(tmq_broker_config_t *cfg)
{
    cfg->frontend = "tcp://*:5555";
    cfg->backend = "tcp://*:5556";
    cfg->heartbeat_ms = 1000;
    cfg->max_queue = 1000000;
    cfg->max_payload = TMQ_PROTO_MAX_PAYLOAD;
    cfg->retries = 2;
    cfg->insecure = false;
    cfg->curve_cert = cfg->curve_dir = cfg->curve_worker_dir = NULL;
    cfg->journal_dir = NULL;
    cfg->fsync_ms = 0; /* TMQ_JOURNAL_FSYNC_ALWAYS */
}

void tmq_broker_actor(zsock_t *pipe, void *args)
{
    tmq_broker_config_t cfg = *(const tmq_broker_config_t *)args;
    char *frontend = tmq_xstrdup(cfg.frontend);
    char *backend = tmq_xstrdup(cfg.backend);
    cfg.frontend = frontend;
    cfg.backend = backend;
    tmq_broker_loop_t *loop = tmq_broker_loop_new(&cfg);
    zstr_free(&frontend);
    zstr_free(&backend);
    if (!loop) {
        /* the actor's starter does not report the status, so keep answering: "" "" means no
         * broker */
        zsock_signal(pipe, 1);
        char *cmd;
        while ((cmd = zstr_recv(pipe)) != NULL && !streq(cmd, "$TERM")) {
            if (streq(cmd, "ENDPOINTS")) zstr_sendx(pipe, "", "", NULL);
            zstr_free(&cmd);
        }
        zstr_free(&cmd);
        return;
    }
    zsock_signal(pipe, 0);
    tmq_broker_loop_run(loop, pipe);
    tmq_broker_loop_destroy(&loop);
}
