/* broker/zap.c — see zap.h. One actor thread answers libzmq's ZAP requests (RFC 27): a
 * request is version "1.0", a request id, the domain, the peer's address, its routing
 * identity, the mechanism and its credentials; the reply is "1.0", the request id, a status
 * ("200" let in, "400" refused), a text, a user id and empty metadata.
 */
#include "zap.h"

#include <actor.h>
#include <log.h>
#include <xalloc.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_RETELL_MS 60000 /* a peer refused again is logged at most this often */
#define S_MAX_TOLD 4096   /* addresses remembered for that; beyond, the table starts over */

typedef struct {
    int64_t told;    /* when its last line was logged */
    uint64_t silent; /* refusals since, not logged */
} s_peer_t;

/* The public keys of the certificates in one directory (not its subdirectories), read again
 * when the directory changes. czmq's zcertstore is not used: it aborts on two files holding
 * one key, and it reads subdirectories, which would merge the two ports' key sets. */
typedef struct {
    char *dir;
    struct timespec mtime; /* of the directory read last, with its device and inode: another */
    dev_t dev;             /* directory moved into its place (mv keys.new keys) is read too */
    ino_t ino;             /* though its mtime may be older */
    zhashx_t *keys;        /* Z85 public key -> the file it came from */
    tmq_rate_t rate;
} s_keys_t;

struct tmq_zap_t {
    tmq_zap_policy_t policy;     /* its directory names are not kept: */
    s_keys_t *clients, *workers; /* the actor's; workers NULL: clients' keys */
    tmq_actor_t *actor;
    _Atomic uint64_t refused;
    zhashx_t *peers; /* the actor's: "who address why" -> s_peer_t, for the log */
};

bool tmq_zap_is_loopback(const char *address)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, address, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, address, &a6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

bool tmq_zap_faces_network(const char *ep)
{
    if (strncmp(ep, "tcp://", 6) != 0) return false; /* ipc, inproc: this machine only */
    const char *host = ep + 6, *colon = strrchr(host, ':');
    if (!colon) return true;
    char h[64];
    size_t n = (size_t)(colon - host);
    if (n >= sizeof h) return true;
    memcpy(h, host, n);
    h[n] = '\0';
    if (h[0] == '[' && n > 2 && h[n - 1] == ']') { /* [::1] */
        memmove(h, h + 1, n - 2);
        h[n - 2] = '\0';
    }
    return !tmq_zap_is_loopback(h); /* '*', 0.0.0.0, an interface, another address */
}

static void s_keys_load(s_keys_t *k)
{
    zhashx_purge(k->keys);
    DIR *d = opendir(k->dir);
    if (!d) {
        tmq_log_limited(TMQ_LOG_WARN, &k->rate, 1,
                        "cannot read the key directory %s: %s (no key is let in)", k->dir,
                        strerror(errno));
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *path = zsys_sprintf("%s/%s", k->dir, e->d_name);
        struct stat st;
        zcert_t *cert = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? zcert_load(path) : NULL;
        if (cert) zhashx_update(k->keys, zcert_public_txt(cert), tmq_xstrdup(e->d_name));
        zcert_destroy(&cert);
        zstr_free(&path);
    }
    closedir(d);
}

static void s_keys_seen(s_keys_t *k, const struct stat *st)
{
    k->mtime = st->st_mtim;
    k->dev = st->st_dev;
    k->ino = st->st_ino;
}

static s_keys_t *s_keys_new(const char *dir)
{
    s_keys_t *k = tmq_xcalloc(1, sizeof *k);
    k->dir = tmq_xstrdup(dir);
    k->keys = zhashx_new();
    zhashx_set_destructor(k->keys, (zhashx_destructor_fn *)zstr_free);
    struct stat st;
    if (stat(dir, &st) == 0) s_keys_seen(k, &st);
    s_keys_load(k);
    return k;
}

static void s_keys_destroy(s_keys_t **k_p)
{
    s_keys_t *k = *k_p;
    if (!k) return;
    zhashx_destroy(&k->keys);
    free(k->dir);
    free(k);
    *k_p = NULL;
}

/* True when key (Z85) is allowed; the directory is read again first if it changed. */
static bool s_keys_has(s_keys_t *k, const char *key)
{
    struct stat st;
    bool gone = stat(k->dir, &st) != 0;
    if (gone || st.st_mtim.tv_sec != k->mtime.tv_sec || st.st_mtim.tv_nsec != k->mtime.tv_nsec ||
        st.st_dev != k->dev || st.st_ino != k->ino) {
        if (gone) memset(&st, 0, sizeof st); /* whatever comes back is read */
        s_keys_seen(k, &st);
        s_keys_load(k); /* a directory gone lets nobody in */
    }
    return zhashx_lookup(k->keys, key) != NULL;
}

/* The verdict on one request: NULL to let it in, else why not. key: the CURVE credential
 * (a 32-byte public key), or NULL. */
static const char *s_judge(const tmq_zap_t *self, const char *domain, const char *mechanism,
                           const char *address, zframe_t *key)
{
    if (self->clients) { /* CURVE: a key, and one allowed on this port */
        if (!streq(mechanism, "CURVE")) return "no CURVE key (this broker requires keys)";
        if (!key || zframe_size(key) != 32) return "malformed CURVE credentials";
        char z85[41];
        zmq_z85_encode(z85, zframe_data(key), 32);
        bool worker = streq(domain, TMQ_ZAP_DOMAIN_WORKERS);
        s_keys_t *store = worker && self->workers ? self->workers : self->clients;
        if (s_keys_has(store, z85)) return NULL;
        return worker && self->workers ? "key not in the worker keys (--curve-worker-dir)"
                                       : "key not in the allowed keys (--curve-dir)";
    }
    if (streq(mechanism, "NULL")) {
        if (self->policy.insecure || tmq_zap_is_loopback(address)) return NULL;
        return "not a loopback address, and the broker has no CURVE keys";
    }
    return "unsupported security mechanism";
}

static void s_peer_free(void **item)
{
    free(*item);
    *item = NULL;
}

/* Logs a refusal: the first of its kind (client or worker, and why) from an address at once,
 * then (a peer retries every few seconds) at most once a minute for that kind and address,
 * with how many went unsaid. A client key tried on the worker port right after a client's
 * refusal is another kind: it is said at once. */
static void s_tell(tmq_zap_t *self, const char *who, const char *address, const char *why,
                   const char *key)
{
    int64_t now = zclock_mono();
    char *tag = zsys_sprintf("%s %s %s", who, address, why);
    s_peer_t *p = zhashx_lookup(self->peers, tag);
    if (p && now - p->told < S_RETELL_MS) {
        p->silent++;
        zstr_free(&tag);
        return;
    }
    if (!p) {
        if (zhashx_size(self->peers) >= S_MAX_TOLD) zhashx_purge(self->peers);
        p = tmq_xcalloc(1, sizeof *p);
        zhashx_insert(self->peers, tag, p);
        tmq_warn("refused a %s from %s: %s%s%s%s", who, address, why,
                 self->clients ? ""
                               : " (start the broker with --insecure to accept any address on "
                                 "a trusted network, or give it CURVE keys)",
                 key ? "; its key: " : "", key ? key : ""); /* last: Z85 has ( ) : in it */
    } else {
        tmq_warn("refused a %s from %s again (%llu more times since): %s%s%s", who, address,
                 (unsigned long long)p->silent + 1, why, key ? "; its key: " : "", key ? key : "");
    }
    p->told = now;
    p->silent = 0;
    zstr_free(&tag);
}

static void s_answer(tmq_zap_t *self, zsock_t *rep)
{
    zmsg_t *req = zmsg_recv(rep);
    if (!req) return;
    char *version = zmsg_popstr(req);
    zframe_t *id = zmsg_pop(req);
    char *domain = zmsg_popstr(req), *address = zmsg_popstr(req);
    zframe_t *identity = zmsg_pop(req);
    char *mechanism = zmsg_popstr(req);
    zframe_t *key = zmsg_pop(req); /* CURVE's one credential */
    const char *why = "malformed ZAP request";
    if (version && streq(version, "1.0") && id && domain && address && mechanism)
        why = s_judge(self, domain, mechanism, address, key);
    if (why) {
        atomic_fetch_add(&self->refused, 1);
        const char *kind = domain && streq(domain, TMQ_ZAP_DOMAIN_WORKERS) ? "worker" : "client";
        char z85[41];
        bool has_key = key && zframe_size(key) == 32;
        if (has_key) zmq_z85_encode(z85, zframe_data(key), 32);
        s_tell(self, kind, address && *address ? address : "?", why, has_key ? z85 : NULL);
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    if (id)
        zmsg_append(reply, &id);
    else
        zmsg_addmem(reply, "", 0);
    zmsg_addstr(reply, why ? "400" : "200");
    zmsg_addstr(reply, why ? why : "OK");
    zmsg_addstr(reply, "");
    zmsg_addmem(reply, "", 0);
    zmsg_send(&reply, rep);
    zstr_free(&version);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&mechanism);
    zframe_destroy(&id);
    zframe_destroy(&identity);
    zframe_destroy(&key);
    zmsg_destroy(&req);
}

static void s_actor(zsock_t *pipe, void *args)
{
    tmq_zap_t *self = args;
    zsock_t *rep = zsock_new(ZMQ_REP);
    bool bound = rep && zsock_bind(rep, "%s", S_ZAP_ENDPOINT) == 0;
    zsock_signal(pipe, 0);
    zstr_send(pipe, bound ? "bound" : "not bound"); /* tmq_actor_new keeps no signal status */
    if (!bound) {
        zsock_destroy(&rep);
        char *cmd;
        while ((cmd = zstr_recv(pipe)) != NULL && !streq(cmd, "$TERM"))
            zstr_free(&cmd);
        zstr_free(&cmd);
        return;
    }
    /* ends on $TERM only: a signal (EINTR) or czmq's interrupted flag must not stop the
     * checks while the broker's sockets still take connections */
    for (;;) {
        zmq_pollitem_t items[2] = {{zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
                                   {zsock_resolve(rep), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == EINTR) continue;
            break; /* the context is terminating */
        }
        if (items[1].revents & ZMQ_POLLIN) s_answer(self, rep);
        if (items[0].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || streq(cmd, "$TERM");
            if (cmd && streq(cmd, "RELOAD") && self->clients) {
                s_keys_load(self->clients);
                if (self->workers) s_keys_load(self->workers);
                tmq_info("key directories read again: %zu client keys, %zu worker keys",
                         zhashx_size(self->clients->keys),
                         zhashx_size((self->workers ? self->workers : self->clients)->keys));
            }
            zstr_free(&cmd);
            if (term) break;
        }
    }
    zsock_unbind(rep, "%s", S_ZAP_ENDPOINT); /* free for a next handler at once */
    zsock_destroy(&rep);
}

tmq_zap_t *tmq_zap_new(const tmq_zap_policy_t *policy)
{
    tmq_zap_t *self = tmq_xcalloc(1, sizeof *self);
    self->policy = *policy;
    if (policy->curve_dir) self->clients = s_keys_new(policy->curve_dir);
    if (policy->curve_worker_dir) self->workers = s_keys_new(policy->curve_worker_dir);
    self->policy.curve_dir = self->policy.curve_worker_dir = NULL; /* borrowed: not kept */
    self->peers = zhashx_new();
    zhashx_set_destructor(self->peers, s_peer_free);
    self->actor = tmq_actor_new(s_actor, self);
    char *said = self->actor ? zstr_recv(tmq_actor_sock(self->actor)) : NULL;
    bool bound = said && streq(said, "bound");
    zstr_free(&said);
    if (!bound) {
        tmq_error("cannot start the broker's connection checks (%s): another ZAP handler "
                  "runs in this process",
                  S_ZAP_ENDPOINT);
        tmq_zap_destroy(&self);
    }
    return self;
}

void tmq_zap_destroy(tmq_zap_t **self_p)
{
    tmq_zap_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    tmq_actor_destroy(&self->actor);
    zhashx_destroy(&self->peers);
    s_keys_destroy(&self->clients);
    s_keys_destroy(&self->workers);
    free(self);
    *self_p = NULL;
}

void tmq_zap_reload(tmq_zap_t *self)
{
    if (self && self->clients) zstr_send(tmq_actor_sock(self->actor), "RELOAD");
}

bool tmq_zap_reload_able(const tmq_zap_t *self)
{
    return self && self->clients;
}

uint64_t tmq_zap_refused(const tmq_zap_t *self)
{
    return self ? atomic_load(&self->refused) : 0;
}
