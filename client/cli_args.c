/* client/cli_args.c — see cli_args.h. A table of options drives the parser; each value is
 * checked here (ranges included), so the subcommands receive only valid settings. */
#include "cli_args.h"
#include "endpoint.h"
#include "platform.h"
#include "proto.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    S_BROKER,
    S_CONNECT_TIMEOUT,
    S_LOCAL,
    S_ORDERED,
    S_TIMEOUT,
    S_RETRIES,
    S_PROGRESS,
    S_NO_PROGRESS,
    S_FAIL_WHEN_FULL,
    S_JSON,
    S_RAW,
    S_KEEP_EMPTY,
    S_TAG,
    S_VERBOSE,
    S_HELP,
    S_VERSION
} s_opt_id_t;

typedef struct {
    const char *name; /* long form */
    char short_name;  /* 0 when none */
    bool has_value;
    s_opt_id_t id;
    long min, max; /* for numeric values */
} s_opt_t;

static const s_opt_t s_opts[] = {
    {"broker", 0, true, S_BROKER, 0, 0},
    {"connect-timeout", 0, true, S_CONNECT_TIMEOUT, 1, 86400000},
    {"local", 0, true, S_LOCAL, 1, 1024},
    {"ordered", 0, false, S_ORDERED, 0, 0},
    {"timeout", 0, true, S_TIMEOUT, 0, 2147483647},
    {"retries", 0, true, S_RETRIES, 0, 1000},
    {"progress", 0, false, S_PROGRESS, 0, 0},
    {"no-progress", 0, false, S_NO_PROGRESS, 0, 0},
    {"fail-when-full", 0, false, S_FAIL_WHEN_FULL, 0, 0},
    {"json", 0, false, S_JSON, 0, 0},
    {"raw", 0, false, S_RAW, 0, 0},
    {"keep-empty", 0, false, S_KEEP_EMPTY, 0, 0},
    {"tag", 0, false, S_TAG, 0, 0},
    {"verbose", 'v', false, S_VERBOSE, 0, 0},
    {"help", 'h', false, S_HELP, 0, 0},
    {"version", 'V', false, S_VERSION, 0, 0},
};

static const struct {
    const char *name;
    tmq_cli_cmd_t cmd;
} s_cmds[] = {
    {"map", TMQ_CLI_MAP},       {"submit", TMQ_CLI_SUBMIT},
    {"status", TMQ_CLI_STATUS}, {"functions", TMQ_CLI_FUNCTIONS},
    {"keygen", TMQ_CLI_KEYGEN},
};

static int s_usage(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_usage(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return TMQ_EXIT_USAGE;
}

static const s_opt_t *s_find(const char *word, size_t len)
{
    for (size_t i = 0; i < sizeof s_opts / sizeof s_opts[0]; i++) {
        if (len == 1 && word[0] == s_opts[i].short_name) return &s_opts[i];
        if (len > 1 && strlen(s_opts[i].name) == len && memcmp(s_opts[i].name, word, len) == 0)
            return &s_opts[i];
    }
    return NULL;
}

static int s_apply(tmq_cli_t *o, const s_opt_t *opt, const char *value, char *err, size_t errlen)
{
    long n = 0;
    if (opt->has_value && opt->id != S_BROKER &&
        tmq_parse_long(value, opt->min, opt->max, &n) != 0) {
        return s_usage(err, errlen, "--%s: '%s' is not a number in %ld..%ld", opt->name, value,
                       opt->min, opt->max);
    }
    char why[256];
    switch (opt->id) {
    case S_BROKER:
        if (tmq_endpoint_check(value, false, why, sizeof why) != TMQ_EP_OK)
            return s_usage(err, errlen, "--broker: %s", why);
        o->broker = value;
        break;
    case S_CONNECT_TIMEOUT:
        o->connect_timeout_ms = n;
        break;
    case S_LOCAL:
        o->local = n;
        break;
    case S_ORDERED:
        o->ordered = true;
        break;
    case S_TIMEOUT:
        o->timeout_ms = n;
        break;
    case S_RETRIES:
        o->retries = n;
        break;
    case S_PROGRESS:
        o->progress = 1;
        break;
    case S_NO_PROGRESS:
        o->progress = 0;
        break;
    case S_FAIL_WHEN_FULL:
        o->fail_when_full = true;
        break;
    case S_JSON:
        o->json = true;
        break;
    case S_RAW:
        o->raw = true;
        break;
    case S_KEEP_EMPTY:
        o->keep_empty = true;
        break;
    case S_TAG:
        o->tag = true;
        break;
    case S_VERBOSE:
        o->verbose++;
        break;
    case S_HELP:
        o->help = true;
        break;
    case S_VERSION:
        o->version = true;
        break;
    }
    return 0;
}

/* Handles argv[*i], an option word; may consume the next word as its value. */
static int s_option(tmq_cli_t *o, int argc, char **argv, int *i, char *err, size_t errlen)
{
    const char *word = argv[*i];
    bool is_long = word[1] == '-';
    const char *name = word + (is_long ? 2 : 1);
    const char *eq = is_long ? strchr(name, '=') : NULL;
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (!is_long && len > 1) {
        /* Bundled short flags: -vv */
        for (size_t k = 0; k < len; k++) {
            const s_opt_t *opt = s_find(name + k, 1);
            if (!opt || opt->has_value) return s_usage(err, errlen, "unknown option '%s'", word);
            s_apply(o, opt, NULL, err, errlen);
        }
        return 0;
    }
    const s_opt_t *opt = s_find(name, len);
    if (!opt || (!is_long && len != 1)) return s_usage(err, errlen, "unknown option '%s'", word);
    const char *value = NULL;
    if (opt->has_value) {
        if (eq)
            value = eq + 1;
        else if (*i + 1 < argc)
            value = argv[++*i];
        else
            return s_usage(err, errlen, "option '%s' needs a value", word);
    } else if (eq) {
        return s_usage(err, errlen, "option '--%s' takes no value", opt->name);
    }
    return s_apply(o, opt, value, err, errlen);
}

static bool s_is_option(const char *word)
{
    if (word[0] != '-' || word[1] == '\0') return false;                    /* "-" is a word */
    if ((word[1] >= '0' && word[1] <= '9') || word[1] == '.') return false; /* "-5" */
    return true;
}

/* Sorts one positional word: subcommand first, then FUNCTION/PATH, then arguments. */
static int s_positional(tmq_cli_t *o, char *word, char *err, size_t errlen)
{
    if (o->cmd == TMQ_CLI_NONE) {
        for (size_t k = 0; k < sizeof s_cmds / sizeof s_cmds[0]; k++)
            if (strcmp(word, s_cmds[k].name) == 0) o->cmd = s_cmds[k].cmd;
        if (o->cmd == TMQ_CLI_NONE && strcmp(word, "help") == 0) {
            o->help = true;
            return 0;
        }
        if (o->cmd == TMQ_CLI_NONE) return s_usage(err, errlen, "unknown subcommand '%s'", word);
        return 0;
    }
    if (!o->function && o->cmd != TMQ_CLI_STATUS && o->cmd != TMQ_CLI_FUNCTIONS) {
        o->function = word;
        return 0;
    }
    o->args[o->nargs++] = word;
    return 0;
}

/* Checks what the subcommand needs once every word is read. */
static int s_validate(tmq_cli_t *o, char *err, size_t errlen)
{
    if (o->help || o->version) return 0;
    if (o->json && o->raw)
        return s_usage(err, errlen,
                       "--json (input must be JSON) and --raw (input is text) "
                       "exclude each other");
    switch (o->cmd) {
    case TMQ_CLI_NONE:
        return s_usage(err, errlen, "missing subcommand (map, submit, status, functions, keygen)");
    case TMQ_CLI_MAP:
    case TMQ_CLI_SUBMIT: {
        if (!o->function) return s_usage(err, errlen, "missing FUNCTION");
        size_t n = strlen(o->function);
        if (n == 0 || n > TMQ_PROTO_MAX_FNAME)
            return s_usage(err, errlen, "bad function name '%s' (1 to 64 bytes)", o->function);
        if (o->cmd == TMQ_CLI_SUBMIT && o->nargs > 1)
            return s_usage(err, errlen, "submit takes one ARG (got '%s' too)", o->args[1]);
        return 0;
    }
    case TMQ_CLI_STATUS:
    case TMQ_CLI_FUNCTIONS:
        if (o->nargs > 0)
            return s_usage(err, errlen, "%s takes no arguments (got '%s')",
                           o->cmd == TMQ_CLI_STATUS ? "status" : "functions", o->args[0]);
        return 0;
    case TMQ_CLI_KEYGEN:
        if (!o->function) return s_usage(err, errlen, "missing PATH");
        if (o->nargs > 0)
            return s_usage(err, errlen, "keygen takes one PATH (got '%s' too)", o->args[0]);
        return 0;
    }
    return 0;
}

int tmq_cli_parse(tmq_cli_t *o, int argc, char **argv, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = 5000;
    o->retries = -1;
    o->progress = -1;
    o->args = tmq_xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *o->args);
    err[0] = '\0';
    bool options = true;
    for (int i = 1; i < argc; i++) {
        int rc;
        if (options && strcmp(argv[i], "--") == 0) {
            options = false;
            continue;
        }
        if (options && s_is_option(argv[i]))
            rc = s_option(o, argc, argv, &i, err, errlen);
        else
            rc = s_positional(o, argv[i], err, errlen);
        if (rc != 0) return rc;
    }
    return s_validate(o, err, errlen);
}

void tmq_cli_free(tmq_cli_t *o)
{
    free(o->args);
    o->args = NULL;
    o->nargs = 0;
}

const char *tmq_cli_broker(const tmq_cli_t *o)
{
    if (o->broker) return o->broker;
    const char *env = getenv("TASKMQ_BROKER");
    return env && *env ? env : TMQ_DEFAULT_BROKER;
}
