/* worker/registry.c — see registry.h; also the SDK's tmq_plugin_* calls (taskmq/plugin.h).
 *
 * A tmq_plugin_t exists for each plugin added or loaded and stays until the registry goes,
 * so a pointer a plugin kept past its init is still recognised (and refused). While a
 * plugin's init runs, everything it registers is appended to the table; when it fails, the
 * table and the hooks are cut back to where they stood before it, and its first error
 * stands as the reason. The first error wins because it is the cause: a plugin built for
 * another ABI fails at its first tmq_plugin_register, before anything else can go wrong.
 * Plugins are never unloaded.
 */
#include "registry.h"

#include "frame.h"
#include "log.h"
#include "proto.h"
#include "xalloc.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_FNS TMQ_FRAME_MAX_FNS /* what one HELLO may announce */

struct tmq_plugin_t {
    tmq_registry_t *reg;
    char *origin;  /* the path as given, or "built-in" */
    bool compiled; /* compiled into the worker (the built-ins) */
    bool open;     /* its init is running: it may register */
    bool warned;   /* it called us outside its init (said once) */
    char *error;   /* why it cannot load (the first reason), NULL while none */
};

typedef struct {
    char *name;
    size_t len;
    tmq_job_fn fn;           /* a plugin's function, or */
    tmq_handler_fn *handler; /* one compiled in, called with ctx */
    void *ctx;
    const tmq_plugin_t *owner;
} s_entry_t;

typedef struct {
    void (*fn)(void *arg);
    void *arg;
} s_hook_t;

struct tmq_registry_t {
    s_entry_t *fns;
    const char **names; /* fns[i].name, for HELLO */
    size_t nfns, cap;
    size_t last; /* the entry found last: a batch is mostly one function */
    tmq_plugin_t **plugins;
    size_t nplugins;
    s_hook_t *hooks;
    size_t nhooks, hooks_cap;
    bool exited;
    char *error;
    tmq_reply_t reply;
};

tmq_registry_t *tmq_registry_new(void)
{
    tmq_registry_t *self = tmq_xcalloc(1, sizeof *self);
    tmq_reply_init(&self->reply);
    return self;
}

void tmq_registry_destroy(tmq_registry_t **self_p)
{
    if (!self_p || !*self_p) return;
    tmq_registry_t *self = *self_p;
    for (size_t i = 0; i < self->nfns; i++)
        free(self->fns[i].name);
    free(self->fns);
    free(self->names);
    for (size_t i = 0; i < self->nplugins; i++) {
        free(self->plugins[i]->origin);
        free(self->plugins[i]->error);
        free(self->plugins[i]);
    }
    free(self->plugins);
    free(self->hooks);
    free(self->error);
    tmq_reply_destroy(&self->reply);
    free(self);
    *self_p = NULL;
}

/* "plugin ./x.so" or "the built-in functions", for messages. */
static const char *s_who(const tmq_plugin_t *p, char *buf, size_t len)
{
    if (p->compiled)
        snprintf(buf, len, "the %s functions", p->origin);
    else
        snprintf(buf, len, "plugin %s", p->origin);
    return buf;
}

static int s_fail(tmq_plugin_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records why p cannot load, unless a reason is already recorded. Returns -1. */
static int s_fail(tmq_plugin_t *p, const char *fmt, ...)
{
    if (p->error) return -1;
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    p->error = tmq_xstrdup(text);
    return -1;
}

/* A registration p may make now; says once per plugin when it may not (a plugin that
 * registers from its job functions would otherwise log per job). */
static bool s_may(tmq_plugin_t *p, const char *call)
{
    if (!p) return false;
    if (!p->open) {
        char who[300];
        if (!p->warned)
            tmq_warn("%s called %s outside tmq_plugin_init: ignored", s_who(p, who, sizeof who),
                     call);
        p->warned = true;
        return false;
    }
    return true;
}

static const s_entry_t *s_find(tmq_registry_t *self, const char *name, size_t len)
{
    if (self->last < self->nfns) {
        const s_entry_t *e = &self->fns[self->last];
        if (e->len == len && memcmp(e->name, name, len) == 0) return e;
    }
    for (size_t i = 0; i < self->nfns; i++) {
        const s_entry_t *e = &self->fns[i];
        if (e->len == len && memcmp(e->name, name, len) == 0) {
            self->last = i;
            return e;
        }
    }
    return NULL;
}

/* The one way into the table. */
static int s_register(tmq_plugin_t *p, const char *name, tmq_job_fn fn, tmq_handler_fn *handler,
                      void *ctx)
{
    tmq_registry_t *self = p->reg;
    char who[300], shown[80];
    s_who(p, who, sizeof who);
    if (!name) return s_fail(p, "%s registers a function without a name (NULL)", who);
    size_t len = strlen(name);
    tmq_printable(shown, sizeof shown, name, len < 70 ? len : 70);
    if (len == 0 || len > TMQ_PROTO_MAX_FNAME)
        return s_fail(p, "%s registers a function named '%s%s': names are 1 to %d bytes", who,
                      shown, len > 70 ? "..." : "", TMQ_PROTO_MAX_FNAME);
    if (!fn && !handler)
        return s_fail(p, "%s registers '%s' without a function (NULL)", who, shown);
    const s_entry_t *dup = s_find(self, name, len);
    if (dup && dup->owner == p) return s_fail(p, "%s registers '%s' twice", who, shown);
    if (dup && dup->owner->compiled)
        return s_fail(p, "%s registers '%s', which is a %s function", who, shown,
                      dup->owner->origin);
    if (dup)
        return s_fail(p, "%s registers '%s', which plugin %s already registered", who, shown,
                      dup->owner->origin);
    if (self->nfns == S_MAX_FNS)
        return s_fail(p, "%s registers '%s': a worker serves at most %d functions", who, shown,
                      S_MAX_FNS);
    if (self->nfns == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 16;
        self->fns = tmq_xrealloc(self->fns, self->cap * sizeof *self->fns);
        self->names = tmq_xrealloc(self->names, self->cap * sizeof *self->names);
    }
    s_entry_t *e = &self->fns[self->nfns];
    *e = (s_entry_t){.name = tmq_xstrdup(name),
                     .len = len,
                     .fn = fn,
                     .handler = handler,
                     .ctx = ctx,
                     .owner = p};
    self->names[self->nfns++] = e->name;
    return 0;
}

int tmq_plugin_register_abi(tmq_plugin_t *p, const char *name, tmq_job_fn fn, int abi)
{
    if (!s_may(p, "tmq_plugin_register")) return -1;
    if (p->error) return -1; /* already failed: the first reason stands */
    if (abi != TMQ_PLUGIN_ABI)
        return s_fail(p, "plugin %s was built for plugin ABI %d; this worker has ABI %d", p->origin,
                      abi, TMQ_PLUGIN_ABI);
    return s_register(p, name, fn, NULL, NULL);
}

int tmq_registry_register(tmq_plugin_t *p, const char *name, tmq_handler_fn *fn, void *ctx)
{
    if (!s_may(p, "tmq_registry_register") || p->error) return -1;
    return s_register(p, name, NULL, fn, ctx);
}

int tmq_plugin_on_exit(tmq_plugin_t *p, void (*fn)(void *arg), void *arg)
{
    if (!s_may(p, "tmq_plugin_on_exit") || p->error) return -1;
    char who[300];
    if (!fn)
        return s_fail(p, "%s registers an exit hook without a function (NULL)",
                      s_who(p, who, sizeof who));
    tmq_registry_t *self = p->reg;
    if (self->nhooks == self->hooks_cap) {
        self->hooks_cap = self->hooks_cap ? 2 * self->hooks_cap : 8;
        self->hooks = tmq_xrealloc(self->hooks, self->hooks_cap * sizeof *self->hooks);
    }
    self->hooks[self->nhooks++] = (s_hook_t){.fn = fn, .arg = arg};
    return 0;
}

int tmq_plugin_error(tmq_plugin_t *p, const char *fmt, ...)
{
    if (!s_may(p, "tmq_plugin_error")) return -1;
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt ? fmt : "", ap);
    va_end(ap);
    char who[300];
    return s_fail(p, "%s refused to load: %s", s_who(p, who, sizeof who), text);
}

/* Runs init for a new plugin named origin; keeps what it registered only when it loads. */
static int s_run_init(tmq_registry_t *self, const char *origin, bool compiled,
                      tmq_registry_init_fn *init, void *arg, int (*plain)(tmq_plugin_t *))
{
    tmq_plugin_t *p = tmq_xcalloc(1, sizeof *p);
    p->reg = self;
    p->origin = tmq_xstrdup(origin);
    p->compiled = compiled;
    self->plugins = tmq_xrealloc(self->plugins, (self->nplugins + 1) * sizeof *self->plugins);
    self->plugins[self->nplugins++] = p;

    size_t nfns = self->nfns, nhooks = self->nhooks;
    p->open = true;
    int rc = plain ? plain(p) : init(p, arg);
    p->open = false;
    char who[300];
    s_who(p, who, sizeof who);
    if (rc != 0 && !p->error)
        s_fail(p, "%s refused to load (its tmq_plugin_init returned %d)", who, rc);
    if (!p->error && self->nfns == nfns) s_fail(p, "%s registered no functions", who);
    if (!p->error) return 0;
    for (size_t i = nfns; i < self->nfns; i++)
        free(self->fns[i].name);
    self->nfns = nfns;
    self->nhooks = nhooks;
    self->last = 0;
    free(self->error);
    self->error = tmq_xstrdup(p->error);
    return -1;
}

int tmq_registry_add(tmq_registry_t *self, const char *origin, tmq_registry_init_fn *init,
                     void *arg)
{
    return s_run_init(self, origin, true, init, arg, NULL);
}

static int s_load_fail(tmq_registry_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int s_load_fail(tmq_registry_t *self, const char *fmt, ...)
{
    char text[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    free(self->error);
    self->error = tmq_xstrdup(text);
    return -1;
}

int tmq_registry_load(tmq_registry_t *self, const char *path)
{
    char *local = NULL; /* dlopen searches the library path for a bare name: we do not */
    if (!strchr(path, '/') && asprintf(&local, "./%s", path) < 0) tmq_oom();
    void *h = dlopen(local ? local : path, RTLD_NOW | RTLD_LOCAL);
    const char *why = h ? NULL : dlerror();
    size_t skip = 0; /* dlerror starts with the file's name, which we say already */
    if (why) {
        const char *opened = local ? local : path;
        size_t n = strlen(opened);
        if (strncmp(why, opened, n) == 0 && strncmp(why + n, ": ", 2) == 0) skip = n + 2;
    }
    free(local);
    if (!h) {
        if (strstr(why, "undefined symbol: tmq_"))
            return s_load_fail(self,
                               "plugin %s cannot be loaded: %s (built against a newer taskmq "
                               "plugin SDK? this worker has plugin ABI %d)",
                               path, why + skip, TMQ_PLUGIN_ABI);
        return s_load_fail(self, "plugin %s cannot be loaded: %s", path, why + skip);
    }
    dlerror();
    int (*init)(tmq_plugin_t *);
    *(void **)&init = dlsym(h, "tmq_plugin_init");
    if (!init)
        return s_load_fail(
            self,
            "plugin %s has no tmq_plugin_init: not a taskmq plugin (a plugin defines "
            "int tmq_plugin_init(tmq_plugin_t *) and includes <taskmq/plugin.h>)",
            path);
    return s_run_init(self, path, false, NULL, NULL, init);
}

const char *tmq_registry_error(const tmq_registry_t *self)
{
    return self->error;
}

size_t tmq_registry_names(const tmq_registry_t *self, const char *const **names)
{
    *names = self->names;
    return self->nfns;
}

int tmq_registry_call(tmq_registry_t *self, const char *fn, size_t fn_len, const void *arg,
                      size_t arg_len, msgpack_sbuffer *out)
{
    const s_entry_t *e = s_find(self, fn, fn_len);
    tmq_reply_t *r = &self->reply;
    if (!e) {
        int n = fn_len > TMQ_PROTO_MAX_FNAME ? TMQ_PROTO_MAX_FNAME : (int)fn_len;
        tmq_reply_begin(r, out, "?");
        tmq_reply_error(r, "unknown function: %.*s", n, fn);
        return tmq_reply_end(r, -1);
    }
    tmq_reply_begin(r, out, e->name);
    if (tmq_proto_check(arg, arg_len, TMQ_PROTO_MAX_DEPTH) != 0) {
        tmq_reply_error(r, "%s: argument is not one well-formed msgpack object", e->name);
        return tmq_reply_end(r, -1);
    }
    int rc = e->handler ? e->handler(e->ctx, arg, arg_len, r) : e->fn(arg, arg_len, r);
    return tmq_reply_end(r, rc);
}

void tmq_registry_exit(tmq_registry_t *self)
{
    if (self->exited) return;
    self->exited = true;
    for (size_t i = self->nhooks; i-- > 0;)
        self->hooks[i].fn(self->hooks[i].arg);
}
