/* client/cli_args.c — see cli_args.h. A table of options drives the parser: each option's
 * value is checked here (ranges included) and so is the subcommand it is for, so the
 * subcommands receive only valid settings that apply to them. An unknown option or
 * subcommand within two edits of a known one is named in the error. */
#include "cli_args.h"
#include "endpoint.h"
#include "platform.h"
#include "proto.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    S_BROKER,
    S_CONNECT_TIMEOUT,
    S_CURVE_CERT,
    S_BROKER_CERT,
    S_LOCAL,
    S_ORDERED,
    S_TIMEOUT,
    S_RETRIES,
    S_MEM_LIMIT,
    S_RETRY_OOM,
    S_PROGRESS,
    S_NO_PROGRESS,
    S_FAIL_WHEN_FULL,
    S_BROKER_LOSS_TIMEOUT,
    S_JSON,
    S_RAW,
    S_KEEP_EMPTY,
    S_TAG,
    S_EXEC,
    S_JOBLOG,
    S_BATCH,
    S_BATCH_TTL,
    S_RESUME,
    S_FORCE,
    S_VERBOSE,
    S_HELP,
    S_VERSION,
    S_NOPTS
} s_opt_id_t;

/* Which subcommands an option is for: a mask of S_FOR(cmd); S_ALL for every one. */
#define S_FOR(cmd) (1u << (cmd))
#define S_ALL 0u
#define S_MAP S_FOR(TMQ_CLI_MAP)
#define S_JOBS (S_FOR(TMQ_CLI_MAP) | S_FOR(TMQ_CLI_SUBMIT))
#define S_ATTACH S_FOR(TMQ_CLI_ATTACH)
#define S_CLUSTER                                                                                  \
    (S_JOBS | S_FOR(TMQ_CLI_STATUS) | S_FOR(TMQ_CLI_FUNCTIONS) | S_ATTACH | S_FOR(TMQ_CLI_BATCHES))
#define S_OUTPUT (S_FOR(TMQ_CLI_STATUS) | S_FOR(TMQ_CLI_FUNCTIONS) | S_FOR(TMQ_CLI_BATCHES))
#define S_BATCH_TTL_MAX 604800 /* --batch-ttl: seconds, 1 s .. 7 days (PROTOCOL.md 5.8) */

#define S_MEM_LIMIT_MAX (1ull << 40) /* --mem-limit: 1 byte .. 1 TiB */

typedef struct {
    const char *name; /* long form */
    char short_name;  /* 0 when none */
    bool has_value;
    s_opt_id_t id;
    long min, max; /* for numeric values */
    unsigned cmds; /* the subcommands it is for (S_ALL: every one) */
} s_opt_t;

static const s_opt_t s_opts[] = {
    {"broker", 0, true, S_BROKER, 0, 0, S_CLUSTER},
    {"connect-timeout", 0, true, S_CONNECT_TIMEOUT, 1, 86400000, S_CLUSTER},
    {"curve-cert", 0, true, S_CURVE_CERT, 0, 0, S_CLUSTER},
    {"broker-cert", 0, true, S_BROKER_CERT, 0, 0, S_CLUSTER},
    {"local", 0, true, S_LOCAL, 1, 1024, S_CLUSTER},
    {"ordered", 0, false, S_ORDERED, 0, 0, S_MAP | S_ATTACH},
    {"timeout", 0, true, S_TIMEOUT, 0, 2147483647, S_JOBS},
    {"retries", 0, true, S_RETRIES, 0, 1000, S_JOBS},
    {"mem-limit", 0, true, S_MEM_LIMIT, 0, 0, S_JOBS}, /* a size: S_MEM_LIMIT_MAX */
    {"retry-oom", 0, false, S_RETRY_OOM, 0, 0, S_JOBS},
    {"progress", 0, false, S_PROGRESS, 0, 0, S_MAP},
    {"no-progress", 0, false, S_NO_PROGRESS, 0, 0, S_MAP},
    {"fail-when-full", 0, false, S_FAIL_WHEN_FULL, 0, 0, S_JOBS},
    {"broker-loss-timeout", 0, true, S_BROKER_LOSS_TIMEOUT, 0, 86400, S_JOBS | S_ATTACH},
    {"json", 0, false, S_JSON, 0, 0, S_JOBS | S_OUTPUT | S_ATTACH},
    {"raw", 0, false, S_RAW, 0, 0, S_JOBS},
    {"keep-empty", 0, false, S_KEEP_EMPTY, 0, 0, S_MAP},
    {"tag", 0, false, S_TAG, 0, 0, S_MAP},
    {"exec", 0, false, S_EXEC, 0, 0, S_MAP},
    {"joblog", 0, true, S_JOBLOG, 0, 0, S_MAP},
    {"batch", 0, true, S_BATCH, 0, 0, S_MAP},
    {"batch-ttl", 0, true, S_BATCH_TTL, 1, S_BATCH_TTL_MAX, S_MAP}, /* seconds */
    {"resume", 0, false, S_RESUME, 0, 0, S_MAP},
    {"force", 0, false, S_FORCE, 0, 0, S_FOR(TMQ_CLI_KEYGEN)},
    {"verbose", 'v', false, S_VERBOSE, 0, 0, S_ALL},
    {"help", 'h', false, S_HELP, 0, 0, S_ALL},
    {"version", 'V', false, S_VERSION, 0, 0, S_ALL},
};

#define S_NCMDS (sizeof s_cmds / sizeof s_cmds[0])

static const struct {
    const char *name;
    tmq_cli_cmd_t cmd;
} s_cmds[] = {
    {"map", TMQ_CLI_MAP},       {"submit", TMQ_CLI_SUBMIT},   {"attach", TMQ_CLI_ATTACH},
    {"status", TMQ_CLI_STATUS}, {"batches", TMQ_CLI_BATCHES}, {"functions", TMQ_CLI_FUNCTIONS},
    {"keygen", TMQ_CLI_KEYGEN},
};

/* What one parse has seen beyond the settings: where each option was first given (argv
 * index, 0 = not given), so options that do not apply to the subcommand are named in the
 * order they came. */
typedef struct {
    int given_at[S_NOPTS];
    bool dashdash; /* "--" was given: the words after it are in o->command */
} s_parse_t;

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

/* ---- "did you mean" ---- */

#define S_NEAR 2 /* the furthest a suggestion may be (edits) */

/* Edits (insert, delete, substitute, swap two neighbours) between a[0..n) and b; strings
 * longer than 31 bytes are never near anything here. */
static size_t s_distance(const char *a, size_t n, const char *b)
{
    size_t m = strlen(b);
    if (n > 31 || m > 31) return SIZE_MAX;
    size_t d[32][32];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

/* Whether a candidate at distance d from a typed word of len bytes is worth suggesting:
 * near, and not mostly made up (a one-letter word is two edits from every two-letter one). */
static bool s_near(size_t d, size_t len)
{
    return d <= S_NEAR && d < len;
}

/* The long option nearest to name[0..len), or NULL when none is near. */
static const s_opt_t *s_nearest_option(const char *name, size_t len)
{
    const s_opt_t *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < sizeof s_opts / sizeof s_opts[0]; i++) {
        size_t d = s_distance(name, len, s_opts[i].name);
        if (d < best_d) {
            best_d = d;
            best = &s_opts[i];
        }
    }
    return best && s_near(best_d, len) ? best : NULL;
}

static int s_unknown_option(char *err, size_t errlen, const char *word, const char *name,
                            size_t len)
{
    const s_opt_t *near = s_nearest_option(name, len);
    if (near)
        return s_usage(err, errlen, "unknown option '%s' (did you mean '--%s'?)", word, near->name);
    return s_usage(err, errlen, "unknown option '%s'", word);
}

static int s_unknown_command(char *err, size_t errlen, const char *word)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX, len = strlen(word);
    for (size_t k = 0; k < S_NCMDS; k++) {
        size_t d = s_distance(word, len, s_cmds[k].name);
        if (d < best_d) {
            best_d = d;
            best = s_cmds[k].name;
        }
    }
    if (best && s_near(best_d, len))
        return s_usage(err, errlen, "unknown subcommand '%s' (did you mean '%s'?)", word, best);
    return s_usage(err, errlen, "unknown subcommand '%s'", word);
}

/* ---- parsing ---- */

static const s_opt_t *s_find(const char *word, size_t len)
{
    for (size_t i = 0; i < sizeof s_opts / sizeof s_opts[0]; i++) {
        if (len == 1 && word[0] == s_opts[i].short_name) return &s_opts[i];
        if (len > 1 && strlen(s_opts[i].name) == len && memcmp(s_opts[i].name, word, len) == 0)
            return &s_opts[i];
    }
    return NULL;
}

#define S_BATCH_RULE "1 to 128 bytes, no space or control character"

static int s_apply(tmq_cli_t *o, const s_opt_t *opt, const char *value, char *err, size_t errlen)
{
    long n = 0;
    bool text = opt->id == S_BROKER || opt->id == S_JOBLOG || opt->id == S_MEM_LIMIT ||
                opt->id == S_CURVE_CERT || opt->id == S_BROKER_CERT ||
                opt->id == S_BATCH; /* not numbers */
    if (opt->has_value && !text && tmq_parse_long(value, opt->min, opt->max, &n) != 0) {
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
    case S_CURVE_CERT:
        o->curve_cert = value;
        break;
    case S_BROKER_CERT:
        o->broker_cert = value;
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
    case S_MEM_LIMIT:
        if (tmq_parse_size(value, 1, S_MEM_LIMIT_MAX, &o->mem_limit) != 0)
            return s_usage(err, errlen,
                           "--mem-limit: '%s' is not a size in 1 byte..1 TiB (bytes, or K, M, G: "
                           "KiB, MiB, GiB; e.g. 512M)",
                           value);
        break;
    case S_RETRY_OOM:
        o->retry_oom = true;
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
    case S_BROKER_LOSS_TIMEOUT:
        o->broker_loss_timeout_s = n;
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
    case S_EXEC:
        o->exec = true;
        break;
    case S_JOBLOG:
        if (!*value) return s_usage(err, errlen, "--joblog needs a file name");
        o->joblog = value;
        break;
    case S_BATCH:
        if (!tmq_proto_batch_name_ok(value, strlen(value)))
            return s_usage(err, errlen, "--batch: '%s' is not a batch name (" S_BATCH_RULE ")",
                           value);
        o->batch = value;
        break;
    case S_BATCH_TTL:
        o->batch_ttl_s = n;
        break;
    case S_RESUME:
        o->resume = true;
        break;
    case S_FORCE:
        o->force = true;
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
    case S_NOPTS:
        break;
    }
    return 0;
}

static void s_given(s_parse_t *ps, const s_opt_t *opt, int at)
{
    if (!ps->given_at[opt->id]) ps->given_at[opt->id] = at;
}

/* Handles argv[*i], an option word; may consume the next word as its value. */
static int s_option(tmq_cli_t *o, s_parse_t *ps, int argc, char **argv, int *i, char *err,
                    size_t errlen)
{
    const char *word = argv[*i];
    bool is_long = word[1] == '-';
    const char *name = word + (is_long ? 2 : 1);
    const char *eq = is_long ? strchr(name, '=') : NULL;
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (!is_long && len > 1) {
        /* Bundled short flags: -vv; a long name after one dash (-ordered) gets a hint. */
        for (size_t k = 0; k < len; k++) {
            const s_opt_t *opt = s_find(name + k, 1);
            if (!opt || opt->has_value) return s_unknown_option(err, errlen, word, name, len);
            s_given(ps, opt, *i);
            s_apply(o, opt, NULL, err, errlen);
        }
        return 0;
    }
    const s_opt_t *opt = s_find(name, len);
    if (!opt) return s_unknown_option(err, errlen, word, name, len);
    s_given(ps, opt, *i);
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
        for (size_t k = 0; k < S_NCMDS; k++)
            if (strcmp(word, s_cmds[k].name) == 0) o->cmd = s_cmds[k].cmd;
        if (o->cmd == TMQ_CLI_NONE && strcmp(word, "help") == 0) {
            o->help = true;
            return 0;
        }
        if (o->cmd == TMQ_CLI_NONE) return s_unknown_command(err, errlen, word);
        return 0;
    }
    if (!o->function && o->cmd != TMQ_CLI_STATUS && o->cmd != TMQ_CLI_FUNCTIONS &&
        o->cmd != TMQ_CLI_BATCHES) {
        o->function = word;
        return 0;
    }
    o->args[o->nargs++] = word;
    return 0;
}

/* "map", "map and submit", "map, submit, status and functions": whom an option is for. */
static void s_for_whom(char *buf, size_t len, unsigned cmds)
{
    const char *names[S_NCMDS];
    size_t n = 0;
    for (size_t k = 0; k < S_NCMDS; k++)
        if (cmds & S_FOR(s_cmds[k].cmd)) names[n++] = s_cmds[k].name;
    buf[0] = '\0';
    size_t used = 0;
    for (size_t k = 0; k < n && used < len; k++) {
        const char *sep = k == 0 ? "" : k + 1 == n ? " and " : ", ";
        int w = snprintf(buf + used, len - used, "%s%s", sep, names[k]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* The first option given (in argv order) that is not for the subcommand: a usage error. */
static int s_applies(const tmq_cli_t *o, const s_parse_t *ps, char *err, size_t errlen)
{
    const s_opt_t *first = NULL;
    for (size_t i = 0; i < sizeof s_opts / sizeof s_opts[0]; i++) {
        const s_opt_t *opt = &s_opts[i];
        int at = ps->given_at[opt->id];
        if (!at || opt->cmds == S_ALL || (opt->cmds & S_FOR(o->cmd))) continue;
        if (!first || at < ps->given_at[first->id]) first = opt;
    }
    if (!first) return 0;
    char whom[96];
    s_for_whom(whom, sizeof whom, first->cmds);
    return s_usage(err, errlen, "--%s is for %s", first->name, whom);
}

#define S_EXEC_USAGE "taskmq map --exec -- CMD [ARG...]"

/* map --exec: the command is the words after "--" (in o->command), and nothing comes before. */
static int s_validate_exec(tmq_cli_t *o, const s_parse_t *ps, char *err, size_t errlen)
{
    if (o->function)
        return s_usage(err, errlen,
                       "--exec takes the command after '--', not '%s' before it: " S_EXEC_USAGE,
                       o->function);
    if (!ps->dashdash)
        return s_usage(err, errlen, "--exec needs '--' before the command: " S_EXEC_USAGE);
    if (o->ncommand == 0)
        return s_usage(err, errlen, "--exec needs a command after '--': " S_EXEC_USAGE);
    if (o->json)
        return s_usage(err, errlen,
                       "--json is not for --exec: input lines are text, put in the "
                       "command where {} stands");
    o->function = "exec";
    return 0;
}

/* Checks what the subcommand needs once every word is read. */
static int s_validate(tmq_cli_t *o, const s_parse_t *ps, char *err, size_t errlen)
{
    if (o->help || o->version) return 0;
    if (o->cmd != TMQ_CLI_NONE && s_applies(o, ps, err, errlen) != 0) return TMQ_EXIT_USAGE;
    if (o->joblog && !o->exec) return s_usage(err, errlen, "--joblog is for map --exec");
    if (o->exec && o->cmd == TMQ_CLI_MAP) return s_validate_exec(o, ps, err, errlen);
    if (o->batch && o->local)
        return s_usage(err, errlen,
                       "--batch names a run at a broker, to attach to it from elsewhere: "
                       "--local's broker ends with the run");
    if ((o->resume || o->batch_ttl_s) && !o->batch)
        return s_usage(err, errlen, "--%s needs --batch NAME (the batch to %s)",
                       o->resume ? "resume" : "batch-ttl", o->resume ? "finish" : "keep");
    if (o->json && o->raw)
        return s_usage(err, errlen,
                       "--json (input must be JSON) and --raw (input is text) "
                       "exclude each other");
    switch (o->cmd) {
    case TMQ_CLI_NONE:
        return s_usage(err, errlen,
                       "missing subcommand (map, submit, attach, status, batches, functions, "
                       "keygen)");
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
    case TMQ_CLI_BATCHES:
        if (o->nargs > 0)
            return s_usage(err, errlen, "%s takes no arguments (got '%s')",
                           tmq_cli_cmd_name(o->cmd), o->args[0]);
        return 0;
    case TMQ_CLI_ATTACH:
        if (!o->function) return s_usage(err, errlen, "missing NAME (the batch: map --batch NAME)");
        if (!tmq_proto_batch_name_ok(o->function, strlen(o->function)))
            return s_usage(err, errlen, "'%s' is not a batch name (" S_BATCH_RULE ")", o->function);
        if (o->nargs > 0)
            return s_usage(err, errlen, "attach takes one NAME (got '%s' too)", o->args[0]);
        return 0;
    case TMQ_CLI_KEYGEN:
        if (!o->function) return s_usage(err, errlen, "missing PATH");
        if (o->nargs > 0)
            return s_usage(err, errlen, "keygen takes one PATH (got '%s' too)", o->args[0]);
        return 0;
    }
    return 0;
}

static void s_find_cmd(tmq_cli_t *o, int argc, char **argv, int from);

int tmq_cli_parse(tmq_cli_t *o, int argc, char **argv, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = 5000;
    o->broker_loss_timeout_s = 60;
    o->retries = -1;
    o->progress = -1;
    o->args = tmq_xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *o->args);
    o->command = tmq_xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *o->command);
    err[0] = '\0';
    s_parse_t ps;
    memset(&ps, 0, sizeof ps);
    bool options = true;
    for (int i = 1; i < argc; i++) {
        if (options && strcmp(argv[i], "--") == 0) {
            options = false;
            ps.dashdash = true;
            continue;
        }
        if (!options) { /* kept apart: the command of --exec, else positional words */
            o->command[o->ncommand++] = argv[i];
            continue;
        }
        if (!s_is_option(argv[i])) {
            int rc = s_positional(o, argv[i], err, errlen);
            if (rc != 0) return rc;
            continue;
        }
        if (s_option(o, &ps, argc, argv, &i, err, errlen) != 0) {
            s_find_cmd(o, argc, argv, i + 1);
            return TMQ_EXIT_USAGE;
        }
    }
    if (!o->exec) { /* words after "--" are positional like any others */
        for (int k = 0; k < o->ncommand; k++) {
            int rc = s_positional(o, o->command[k], err, errlen);
            if (rc != 0) return rc;
        }
        o->ncommand = 0;
    }
    return s_validate(o, &ps, err, errlen);
}

/* After a bad option before the subcommand: the subcommand named later, if any, so the
 * error can point at its help. */
static void s_find_cmd(tmq_cli_t *o, int argc, char **argv, int from)
{
    for (int i = from; i < argc && o->cmd == TMQ_CLI_NONE; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        for (size_t k = 0; k < S_NCMDS; k++)
            if (strcmp(argv[i], s_cmds[k].name) == 0) o->cmd = s_cmds[k].cmd;
    }
}

const char *tmq_cli_cmd_name(tmq_cli_cmd_t cmd)
{
    for (size_t k = 0; k < S_NCMDS; k++)
        if (s_cmds[k].cmd == cmd) return s_cmds[k].name;
    return NULL;
}

void tmq_cli_usage(FILE *out, tmq_cli_cmd_t cmd, const char *err)
{
    const char *name = tmq_cli_cmd_name(cmd);
    fprintf(out, "taskmq: %s\nTry 'taskmq %s%s--help'.\n", err, name ? name : "", name ? " " : "");
}

void tmq_cli_free(tmq_cli_t *o)
{
    free(o->args);
    free(o->command);
    o->args = o->command = NULL;
    o->nargs = o->ncommand = 0;
}

const char *tmq_cli_broker(const tmq_cli_t *o)
{
    if (o->broker) return o->broker;
    const char *env = getenv("TASKMQ_BROKER");
    return env && *env ? env : TMQ_DEFAULT_BROKER;
}
