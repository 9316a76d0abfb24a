/* client/cli_exec.c — see cli_exec.h. The replacement strings follow GNU parallel's
 * definitions ({.} strips what matches \.[^/.]*$, {/} what matches ^.*\/, {//} is Perl's
 * dirname); the result is read with msgpack-c after tmq_proto_check has vetted its sizes. */
#include "cli_exec.h"

#include "jsonmp.h"
#include "platform.h"
#include "proto.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* ---- replacement strings ---- */

typedef enum { S_LINE, S_NOEXT, S_BASE, S_DIR, S_BASE_NOEXT, S_SEQ, S_NONE } s_rs_t;

static const struct {
    const char *text;
    s_rs_t kind;
} s_rs[] = {
    {"{}", S_LINE},  {"{.}", S_NOEXT},       {"{/}", S_BASE},
    {"{//}", S_DIR}, {"{/.}", S_BASE_NOEXT}, {"{#}", S_SEQ},
};

/* The replacement string at p (n bytes left), its length in *len; S_NONE when none. */
static s_rs_t s_rs_at(const char *p, size_t n, size_t *len)
{
    if (n < 2 || p[0] != '{') return S_NONE;
    for (size_t i = 0; i < sizeof s_rs / sizeof s_rs[0]; i++) {
        size_t k = strlen(s_rs[i].text);
        if (k <= n && memcmp(p, s_rs[i].text, k) == 0) {
            *len = k;
            return s_rs[i].kind;
        }
    }
    return S_NONE;
}

static bool s_has_rs(const char *word)
{
    size_t n = strlen(word), k;
    for (size_t i = 0; i < n; i++)
        if (s_rs_at(word + i, n - i, &k) != S_NONE) return true;
    return false;
}

void tmq_cliexec_init(tmq_cliexec_t *t, char *const *words, int nwords)
{
    t->words = words;
    t->nwords = nwords;
    t->append = true;
    for (int i = 0; i < nwords; i++)
        if (s_has_rs(words[i])) t->append = false;
}

/* The last byte c in p[0..n), or NULL. */
static const char *s_last(const char *p, size_t n, char c)
{
    while (n > 0)
        if (p[--n] == c) return p + n;
    return NULL;
}

/* s[0..*n) without an extension: a last '.' with no '/' after it, and what follows. */
static void s_noext(const char *s, size_t *n)
{
    const char *dot = s_last(s, *n, '.');
    if (dot && !memchr(dot, '/', (size_t)(s + *n - dot))) *n = (size_t)(dot - s);
}

/* The basename of s[0..n): what follows the last '/'. */
static const char *s_base(const char *s, size_t *n)
{
    const char *slash = s_last(s, *n, '/');
    if (!slash) return s;
    *n = (size_t)(s + *n - slash - 1);
    return slash + 1;
}

/* Perl's (and POSIX's) dirname: "a/b" -> "a", "a" -> ".", "/a" -> "/", "a/b/" -> "a". */
static void s_dirname(tmq_buf_t *out, const char *s, size_t n)
{
    while (n > 1 && s[n - 1] == '/') /* trailing slashes are not a component */
        n--;
    const char *slash = s_last(s, n, '/');
    if (!slash) {
        tmq_buf_addc(out, '.');
        return;
    }
    n = (size_t)(slash - s);
    while (n > 1 && s[n - 1] == '/')
        n--;
    if (n == 0) n = 1; /* the root */
    tmq_buf_add(out, s, n);
}

void tmq_cliexec_word(tmq_buf_t *out, const char *word, const char *line, size_t len, uint64_t seq)
{
    size_t n = strlen(word), k = 0;
    for (size_t i = 0; i < n;) {
        s_rs_t rs = s_rs_at(word + i, n - i, &k);
        if (rs == S_NONE) {
            tmq_buf_addc(out, word[i++]);
            continue;
        }
        i += k;
        size_t m = len;
        const char *p = line;
        switch (rs) {
        case S_LINE:
            tmq_buf_add(out, line, len);
            break;
        case S_NOEXT:
            s_noext(line, &m);
            tmq_buf_add(out, line, m);
            break;
        case S_BASE:
            p = s_base(line, &m);
            tmq_buf_add(out, p, m);
            break;
        case S_DIR:
            s_dirname(out, line, len);
            break;
        case S_BASE_NOEXT:
            p = s_base(line, &m);
            s_noext(p, &m);
            tmq_buf_add(out, p, m);
            break;
        case S_SEQ:
            tmq_buf_addf(out, "%llu", (unsigned long long)seq);
            break;
        case S_NONE:
            break;
        }
    }
}

/* ---- the job's argument ---- */

/* str when the bytes are UTF-8 (jansson judges, as everywhere in the tool), else bin. */
static void s_pack_text(msgpack_packer *pk, const char *p, size_t n)
{
    if (tmq_utf8_valid(p, n))
        msgpack_pack_str_with_body(pk, p, n);
    else
        msgpack_pack_bin_with_body(pk, p, n);
}

void tmq_cliexec_arg(const tmq_cliexec_t *t, msgpack_sbuffer *sb, const char *line, size_t len,
                     uint64_t seq)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "argv", 4);
    msgpack_pack_array(&pk, (size_t)t->nwords + (t->append ? 1 : 0));
    tmq_buf_t w;
    tmq_buf_init(&w);
    for (int i = 0; i < t->nwords; i++) {
        tmq_buf_reset(&w);
        tmq_cliexec_word(&w, t->words[i], line, len, seq);
        s_pack_text(&pk, w.data ? w.data : "", w.len);
    }
    if (t->append) s_pack_text(&pk, len ? line : "", len);
    tmq_buf_free(&w);
}

/* ---- quoting ---- */

static bool s_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("_@%+=:,./-", c) != NULL;
}

void tmq_cliexec_quote(tmq_buf_t *out, const char *word, size_t len)
{
    bool plain = len > 0, control = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)word[i];
        if (c < 0x20 || c == 0x7f) control = true;
        if (c == '\0' || !s_plain(c)) plain = false;
    }
    if (plain) {
        tmq_buf_add(out, word, len);
        return;
    }
    if (!control) { /* '...' holds anything but ' itself */
        tmq_buf_addc(out, '\'');
        for (size_t i = 0; i < len; i++) {
            if (word[i] == '\'')
                tmq_buf_adds(out, "'\\''");
            else
                tmq_buf_addc(out, word[i]);
        }
        tmq_buf_addc(out, '\'');
        return;
    }
    tmq_buf_adds(out, "$'"); /* bash's $'...': control bytes escaped, so it stays one line */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)word[i];
        if (c == '\n')
            tmq_buf_adds(out, "\\n");
        else if (c == '\t')
            tmq_buf_adds(out, "\\t");
        else if (c == '\r')
            tmq_buf_adds(out, "\\r");
        else if (c == '\\' || c == '\'')
            tmq_buf_addf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            tmq_buf_addf(out, "\\x%02x", c);
        else
            tmq_buf_addc(out, (char)c);
    }
    tmq_buf_addc(out, '\'');
}

void tmq_cliexec_command(const tmq_cliexec_t *t, tmq_buf_t *out, const char *line, size_t len,
                         uint64_t seq)
{
    tmq_buf_t w;
    tmq_buf_init(&w);
    for (int i = 0; i < t->nwords; i++) {
        tmq_buf_reset(&w);
        tmq_cliexec_word(&w, t->words[i], line, len, seq);
        if (i) tmq_buf_addc(out, ' ');
        tmq_cliexec_quote(out, w.data ? w.data : "", w.len);
    }
    if (t->append) {
        tmq_buf_addc(out, ' ');
        tmq_cliexec_quote(out, len ? line : "", len);
    }
    tmq_buf_free(&w);
}

/* ---- the result ---- */

static bool s_key(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

static int s_bytes(const msgpack_object *v, const char **p, size_t *n)
{
    if (v->type == MSGPACK_OBJECT_STR) {
        *p = v->via.str.ptr;
        *n = v->via.str.size;
    } else if (v->type == MSGPACK_OBJECT_BIN) {
        *p = v->via.bin.ptr;
        *n = v->via.bin.size;
    } else {
        return -1;
    }
    return 0;
}

int tmq_cliexec_decode(const void *data, size_t len, tmq_cliexec_result_t *r)
{
    memset(r, 0, sizeof *r);
    /* a flat map of three small items: nothing deeper is an exec result */
    if (tmq_proto_check(data, len, 2) != 0) return -1;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 256)) return -1;
    msgpack_object o;
    size_t off = 0;
    int rc = -1;
    bool have_out = false, have_err = false, have_end = false;
    if (msgpack_unpack(data, len, &off, &zone, &o) != MSGPACK_UNPACK_SUCCESS ||
        o.type != MSGPACK_OBJECT_MAP)
        goto done;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key, *v = &o.via.map.ptr[i].val;
        if (s_key(k, "status")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > 255) goto done;
            r->exited = have_end = true;
            r->status = (int)v->via.u64;
        } else if (s_key(k, "signal")) {
            const char *p;
            size_t n;
            if (s_bytes(v, &p, &n) != 0 || n == 0 || n >= sizeof r->signame) goto done;
            memcpy(r->signame, p, n);
            r->signame[n] = '\0';
            r->signo = tmq_signal_number(p, n);
            have_end = true;
        } else if (s_key(k, "stdout")) {
            if (s_bytes(v, &r->out, &r->out_len) != 0) goto done;
            have_out = true;
        } else if (s_key(k, "stderr")) {
            if (s_bytes(v, &r->err, &r->err_len) != 0) goto done;
            have_err = true;
        }
    }
    /* str and bin objects point into data, so r outlives the zone */
    rc = have_end && have_out && have_err ? 0 : -1;
done:
    msgpack_zone_destroy(&zone);
    return rc;
}

/* ---- output ---- */

void tmq_cliexec_tag(tmq_buf_t *out, const char *tag, size_t tag_len, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        tmq_buf_add(out, tag, tag_len);
        tmq_buf_addc(out, '\t');
        tmq_buf_add(out, p, n);
        tmq_buf_addc(out, '\n');
        p += n + (nl ? 1 : 0);
    }
}

void tmq_cliexec_joblog_line(tmq_buf_t *out, const tmq_cliexec_joblog_t *j)
{
    tmq_buf_addf(out, "%llu\t", (unsigned long long)j->seq);
    if (j->host && j->host_len)
        tmq_buf_add(out, j->host, j->host_len);
    else
        tmq_buf_addc(out, '-');
    tmq_buf_addf(out, "\t%.3f\t%10.3f\t%llu\t%llu\t%d\t%d\t", j->start, j->runtime,
                 (unsigned long long)j->send, (unsigned long long)j->receive, j->exitval, j->signo);
    tmq_buf_add(out, j->command, j->command_len);
    tmq_buf_addc(out, '\n');
}

void tmq_cliexec_failure_codes(const char *text, size_t len, bool killed, int *exitval, int *signo)
{
    static const char run[] = "exec: cannot run '", enoent[] = "No such file or directory";
    static const char over[] = " bytes"; /* "exec: stdout over N bytes": killed for it */
    *exitval = -1;
    *signo = 0;
    if (killed) {
        *signo = SIGKILL;
    } else if (len >= sizeof run - 1 && memcmp(text, run, sizeof run - 1) == 0) {
        bool missing = len >= sizeof enoent - 1 &&
                       memcmp(text + len - (sizeof enoent - 1), enoent, sizeof enoent - 1) == 0;
        *exitval = missing ? 127 : 126;
    } else if (len >= 18 && (memcmp(text, "exec: stdout over ", 18) == 0 ||
                             memcmp(text, "exec: stderr over ", 18) == 0)) {
        if (len >= sizeof over - 1 &&
            memcmp(text + len - (sizeof over - 1), over, sizeof over - 1) == 0)
            *signo = SIGKILL;
    }
}
