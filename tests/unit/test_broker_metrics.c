/* tests/unit/test_broker_metrics.c — the metrics endpoint's text, without HTTP: the exposition
 * writer (label escaping of arbitrary bytes, numbers, cumulative histogram buckets), the
 * figures rendered from a core driven through the harness (exact counts by function, the run
 * time histogram, counters that outlive their workers, jobs of never-served functions counted
 * without a label, names that render alike summed), agreement with STATUS_REPLY, a
 * well-formedness check of the whole text, and --metrics address parsing and policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker_harness.h"
#include "expo.h"
#include "metrics.h"

#include <netinet/in.h>

/* ---- the writer ---- */

static void s_escaped_is(const char *in, size_t len, const char *want)
{
    char out[TMQ_EXPO_ESCAPED_MAX(64)];
    assert_true(len <= 64);
    size_t n = tmq_expo_escape(out, in, len);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, want);
}

static void test_escape(void **state)
{
    (void)state;
#define FFFD "\xEF\xBF\xBD"
    s_escaped_is("echo", 4, "echo");
    s_escaped_is("mod:fn", 6, "mod:fn");
    s_escaped_is("a\\b", 3, "a\\\\b");
    s_escaped_is("say \"hi\"", 8, "say \\\"hi\\\"");
    s_escaped_is("two\nlines", 9, "two\\nlines");
    s_escaped_is("tab\there", 8, "tab" FFFD "here"); /* other control characters replaced */
    s_escaped_is("nul\0x", 5, "nul" FFFD "x");
    s_escaped_is("del\x7f", 4, "del" FFFD);
    s_escaped_is("caf\xC3\xA9", 5, "caf\xC3\xA9"); /* valid UTF-8 kept */
    s_escaped_is("\xE2\x82\xAC\xF0\x9F\x98\x80", 7, "\xE2\x82\xAC\xF0\x9F\x98\x80");
    s_escaped_is("a\xff"
                 "b",
                 3, "a" FFFD "b"); /* not UTF-8 at all */
    s_escaped_is("\xC3", 1, FFFD); /* cut short at the end */
    s_escaped_is("\xE2\x82"
                 "x",
                 3, FFFD FFFD "x");                           /* missing continuation */
    s_escaped_is("\xC0\xAF", 2, FFFD FFFD);                   /* overlong '/' */
    s_escaped_is("\xE0\x80\xAF", 3, FFFD FFFD FFFD);          /* overlong, 3 bytes */
    s_escaped_is("\xED\xA0\x80", 3, FFFD FFFD FFFD);          /* a surrogate */
    s_escaped_is("\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD); /* past U+10FFFF */
    s_escaped_is("\xC2\x85"
                 "c1",
                 4, FFFD "c1");              /* a C1 control, as one */
    s_escaped_is("\xC2\xA0", 2, "\xC2\xA0"); /* U+00A0 is not one */
    /* the worst case fits the documented bound */
    char bad[64], out[TMQ_EXPO_ESCAPED_MAX(64)];
    memset(bad, 0xff, sizeof bad);
    assert_int_equal(tmq_expo_escape(out, bad, sizeof bad), 3 * sizeof bad);
#undef FFFD
}

static void s_number_is(double v, const char *want)
{
    char buf[32];
    tmq_expo_number(buf, sizeof buf, v);
    assert_string_equal(buf, want);
}

static void test_numbers(void **state)
{
    (void)state;
    s_number_is(0.0005, "0.0005");
    s_number_is(2.5, "2.5");
    s_number_is(60, "60");
    s_number_is(0, "0");
    s_number_is(1e-05, "1e-05");
    s_number_is(0.1 + 0.2, "0.30000000000000004"); /* exact: it reads back as the same double */
    s_number_is(1796195615.8652723, "1796195615.8652723");
    s_number_is(0.0 / 0.0, "NaN");
    s_number_is(1.0 / 0.0, "+Inf");
    s_number_is(-1.0 / 0.0, "-Inf");
}

static void test_histogram_cumulative(void **state)
{
    (void)state;
    tmq_expo_t e;
    tmq_expo_init(&e);
    const double bounds[] = {0.001, 0.5, 2};
    const uint64_t counts[] = {1, 0, 2, 3}; /* per bucket; 3 above the last bound */
    tmq_expo_histogram(&e, "x_seconds", "function=\"f\"", bounds, 3, counts, 42.5);
    tmq_expo_histogram(&e, "y_seconds", NULL, bounds, 3, counts, 0);
    size_t len;
    char *text = tmq_expo_take(&e, &len);
    assert_string_equal(text, "x_seconds_bucket{function=\"f\",le=\"0.001\"} 1\n"
                              "x_seconds_bucket{function=\"f\",le=\"0.5\"} 1\n"
                              "x_seconds_bucket{function=\"f\",le=\"2\"} 3\n"
                              "x_seconds_bucket{function=\"f\",le=\"+Inf\"} 6\n"
                              "x_seconds_sum{function=\"f\"} 42.5\n"
                              "x_seconds_count{function=\"f\"} 6\n"
                              "y_seconds_bucket{le=\"0.001\"} 1\n"
                              "y_seconds_bucket{le=\"0.5\"} 1\n"
                              "y_seconds_bucket{le=\"2\"} 3\n"
                              "y_seconds_bucket{le=\"+Inf\"} 6\n"
                              "y_seconds_sum 0\n"
                              "y_seconds_count 6\n");
    assert_int_equal(len, strlen(text));
    free(text);
    tmq_expo_fini(&e);
}

static void test_family_lines(void **state)
{
    (void)state;
    tmq_expo_t e;
    tmq_expo_init(&e);
    tmq_expo_family(&e, "a_total", "counter", "Odd help: back\\slash and\nnewline.");
    tmq_expo_uint(&e, "a_total", NULL, 18446744073709551615ull);
    tmq_expo_double(&e, "b", "k=\"v\"", 0.25);
    size_t len;
    char *text = tmq_expo_take(&e, &len);
    assert_string_equal(text, "# HELP a_total Odd help: back\\\\slash and\\nnewline.\n"
                              "# TYPE a_total counter\n"
                              "a_total 18446744073709551615\n"
                              "b{k=\"v\"} 0.25\n");
    free(text);
    /* growing past the first buffer keeps everything */
    for (int i = 0; i < 2000; i++)
        tmq_expo_uint(&e, "c", NULL, (uint64_t)i);
    text = tmq_expo_take(&e, &len);
    assert_true(len > 4096);
    assert_non_null(strstr(text, "c 0\nc 1\n"));
    assert_non_null(strstr(text, "c 1999\n"));
    free(text);
    tmq_expo_fini(&e);
    tmq_expo_fini(&e); /* twice is safe */
}

/* ---- the figures of a core ---- */

static char *s_render(tmq_core_t *core)
{
    size_t len;
    char *text = tmq_metrics_render(core, bh_now, 1700000000.5, &len);
    assert_int_equal(len, strlen(text));
    return text;
}

/* True when text has the line exactly. */
static bool s_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return true;
    return false;
}

static void s_line_is(const char *text, const char *line)
{
    if (!s_has_line(text, line)) fail_msg("missing line: %s\n---\n%s", line, text);
}

/* The value of the sample `series` (name and labels exactly as written). */
static double s_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == ' ') return strtod(p + n + 1, NULL);
    fail_msg("no sample %s\n---\n%s", series, text);
    return -1;
}

/* Checks the shape of an exposition: every line a HELP, a TYPE or a sample; each family's
 * HELP then TYPE once, before its samples; every sample of the family last declared (a
 * histogram's as NAME_bucket/_sum/_count); no series twice. Returns the sample count. */
static size_t s_check_wellformed(const char *text)
{
    char family[128] = "", type[16] = "";
    char **seen = NULL;
    size_t nseen = 0;
    const char *line = text;
    assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    while (*line) {
        const char *end = strchr(line, '\n');
        char buf[1024];
        assert_true((size_t)(end - line) < sizeof buf);
        memcpy(buf, line, (size_t)(end - line));
        buf[end - line] = '\0';
        char name[128], rest[16];
        if (strncmp(buf, "# HELP ", 7) == 0) {
            assert_int_equal(sscanf(buf + 7, "%127s", name), 1);
            for (size_t i = 0; i < nseen; i++) /* a family declared again */
                assert_false(seen[i][0] == '#' && strcmp(seen[i] + 1, name) == 0);
            seen = realloc(seen, (nseen + 1) * sizeof *seen);
            seen[nseen] = malloc(strlen(name) + 2);
            sprintf(seen[nseen++], "#%s", name);
            snprintf(family, sizeof family, "%s", name);
            type[0] = '\0';
        } else if (strncmp(buf, "# TYPE ", 7) == 0) {
            assert_int_equal(sscanf(buf + 7, "%127s %15s", name, rest), 2);
            assert_string_equal(name, family); /* right after its HELP */
            assert_true(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0 ||
                        strcmp(rest, "histogram") == 0);
            snprintf(type, sizeof type, "%s", rest);
        } else {
            assert_true(type[0] != '\0'); /* a sample after its family's TYPE */
            size_t flen = strlen(family), nlen = strcspn(buf, "{ ");
            bool ok = nlen == flen && strncmp(buf, family, flen) == 0;
            if (!ok && strcmp(type, "histogram") == 0 && strncmp(buf, family, flen) == 0)
                ok = strncmp(buf + flen, "_bucket", nlen - flen) == 0 ||
                     strncmp(buf + flen, "_sum", nlen - flen) == 0 ||
                     strncmp(buf + flen, "_count", nlen - flen) == 0;
            if (!ok) fail_msg("sample of another family (%s): %s", family, buf);
            if (strcmp(type, "counter") == 0)
                assert_true(flen > 6 && strcmp(family + flen - 6, "_total") == 0);
            char *space = strrchr(buf, ' ');
            assert_non_null(space);
            *space = '\0';
            for (size_t i = 0; i < nseen; i++) /* a series twice */
                if (strcmp(seen[i], buf) == 0) fail_msg("series twice: %s", buf);
            seen = realloc(seen, (nseen + 1) * sizeof *seen);
            seen[nseen++] = strdup(buf);
        }
        line = end + 1;
    }
    size_t samples = 0;
    for (size_t i = 0; i < nseen; i++) {
        samples += seen[i][0] != '#';
        free(seen[i]);
    }
    free(seen);
    return samples;
}

/* Takes the jobs of the turn for worker w: their ids into jids (at most max). */
static size_t s_jobs(tmq_core_t *core, const char *w, uint64_t *jids, uint32_t *att, size_t max)
{
    size_t n = bh_turn_jobs(core, w, jids, att, max);
    bh_forget();
    return n < max ? n : max;
}

/* Three echo jobs done in 0.3 ms, 3 ms and 700 ms; two fail jobs with an error, the first
 * after its executor died once (retried). Returns with nothing queued or held. */
static void s_run_some(tmq_core_t *core)
{
    bh_ready(core, "W1", 2, "echo", "fail");
    bh_submit(core, "C1", "echo", 1, 3);
    bh_submit(core, "C1", "fail", 10, 2);
    bh_forget();
    const double echo_ms[] = {0.3, 3, 700};
    size_t echoes = 0, fails = 0, deaths = 0;
    uint64_t jids[8];
    uint32_t att[8];
    for (int turn = 0; turn < 20 && echoes + fails < 5; turn++) {
        size_t n = s_jobs(core, "W1", jids, att, 8);
        for (size_t i = 0; i < n; i++) {
            tmq_bjob_t *job = tmq_jobtab_find(core->jobs, jids[i]);
            assert_non_null(job);
            if (strcmp(job->fn->name, "echo") == 0) {
                bh_done(core, "W1", jids[i], att[i], TMQ_ST_OK, "\x05", 1, echo_ms[echoes++]);
            } else if (deaths++ == 0) {
                bh_done(core, "W1", jids[i], att[i], TMQ_ST_DIED, "executor died: SIGSEGV", 1, 2.0);
            } else {
                bh_done(core, "W1", jids[i], att[i], TMQ_ST_ERROR, "nope", 1, 1.0);
                fails++;
            }
        }
    }
    bh_turn(core);
    bh_forget();
    assert_int_equal(echoes + fails, 5);
}

static void test_render_counts_by_function(void **state)
{
    tmq_core_t *core = *state;
    s_run_some(core);
    char *text = s_render(core);
    s_line_is(text, "taskmq_build_info{version=\"" TMQ_VERSION "\"} 1");
    s_line_is(text, "process_start_time_seconds 1700000000.5");
    s_line_is(text, "taskmq_workers_connected 1");
    s_line_is(text, "taskmq_processes{state=\"busy\"} 0");
    s_line_is(text, "taskmq_processes{state=\"idle\"} 2");
    s_line_is(text, "taskmq_processes{state=\"draining\"} 0");
    s_line_is(text, "taskmq_clients_connected 1");
    s_line_is(text, "taskmq_queue_limit 100");
    s_line_is(text, "taskmq_jobs_submitted_total{function=\"echo\"} 3");
    s_line_is(text, "taskmq_jobs_done_total{function=\"echo\"} 3");
    s_line_is(text, "taskmq_jobs_failed_total{function=\"echo\"} 0");
    s_line_is(text, "taskmq_jobs_submitted_total{function=\"fail\"} 2");
    s_line_is(text, "taskmq_jobs_done_total{function=\"fail\"} 0");
    s_line_is(text, "taskmq_jobs_failed_total{function=\"fail\"} 2");
    s_line_is(text, "taskmq_jobs_retried_total{function=\"fail\"} 1");
    s_line_is(text, "taskmq_jobs_retried_total{function=\"echo\"} 0");
    s_line_is(text, "taskmq_queue_depth{function=\"echo\"} 0");
    s_line_is(text, "taskmq_jobs_leased{function=\"fail\"} 0");
    s_line_is(text, "taskmq_function_workers{function=\"echo\"} 1");
    s_line_is(text, "taskmq_function_processes{function=\"echo\"} 2");
    /* echo: 0.3 ms, 3 ms and 700 ms, cumulative */
    s_line_is(text, "taskmq_job_duration_seconds_bucket{function=\"echo\",le=\"0.0005\"} 1");
    s_line_is(text, "taskmq_job_duration_seconds_bucket{function=\"echo\",le=\"0.0025\"} 1");
    s_line_is(text, "taskmq_job_duration_seconds_bucket{function=\"echo\",le=\"0.005\"} 2");
    s_line_is(text, "taskmq_job_duration_seconds_bucket{function=\"echo\",le=\"0.5\"} 2");
    s_line_is(text, "taskmq_job_duration_seconds_bucket{function=\"echo\",le=\"1\"} 3");
    s_line_is(text, "taskmq_job_duration_seconds_bucket{function=\"echo\",le=\"60\"} 3");
    s_line_is(text, "taskmq_job_duration_seconds_bucket{function=\"echo\",le=\"+Inf\"} 3");
    s_line_is(text, "taskmq_job_duration_seconds_count{function=\"echo\"} 3");
    assert_true(s_value(text, "taskmq_job_duration_seconds_sum{function=\"echo\"}") ==
                (0.3 + 3 + 700) / 1000.0);
    /* fail: the death carries no run time of the function, the two errors do */
    s_line_is(text, "taskmq_job_duration_seconds_count{function=\"fail\"} 2");
    s_line_is(text, "taskmq_job_duration_seconds_bucket{function=\"fail\",le=\"0.001\"} 2");
    s_line_is(text, "taskmq_job_duration_seconds_bucket{function=\"fail\",le=\"0.0005\"} 0");
    s_line_is(text, "taskmq_jobs_stale_total 0");
    s_line_is(text, "taskmq_malformed_messages_total{socket=\"frontend\"} 0");
    s_line_is(text, "taskmq_refused_connections_total 0");
    assert_null(strstr(text, "\ntaskmq_jobs_submitted_total ")); /* no unlabelled tally yet */
    assert_true(s_check_wellformed(text) > 60);
    free(text);
    /* W1 drains: its free processes take nothing more */
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_DRAIN);
    text = s_render(core);
    s_line_is(text, "taskmq_processes{state=\"idle\"} 0");
    s_line_is(text, "taskmq_processes{state=\"draining\"} 2");
    free(text);
}

/* The same figures as STATUS_REPLY: totals, stale, malformed, clients. */
static void test_agrees_with_status(void **state)
{
    tmq_core_t *core = *state;
    s_run_some(core);
    bh_done(core, "W1", 999, 1, TMQ_ST_OK, "\x01", 1, 1.0); /* stale */
    tmq_core_malformed(core, bh_now, TMQ_SIDE_FRONTEND, "C2", 2, 0, TMQ_ERR_MALFORMED, "junk");
    bh_turn(core);
    bh_forget();
    char *text = s_render(core);
    bh_got_t g;
    bh_status(core, "C1", &g);
    const msgpack_object *body = g.msg.body;
    double done = s_value(text, "taskmq_jobs_done_total{function=\"echo\"}") +
                  s_value(text, "taskmq_jobs_done_total{function=\"fail\"}");
    double failed = s_value(text, "taskmq_jobs_failed_total{function=\"echo\"}") +
                    s_value(text, "taskmq_jobs_failed_total{function=\"fail\"}");
    assert_true(done == (double)bh_map_uint(body, "done"));
    assert_true(failed == (double)bh_map_uint(body, "failed"));
    assert_true(s_value(text, "taskmq_jobs_stale_total") == (double)bh_map_uint(body, "stale"));
    assert_true(s_value(text, "taskmq_jobs_stale_total") == 1);
    assert_true(s_value(text, "taskmq_malformed_messages_total{socket=\"frontend\"}") +
                    s_value(text, "taskmq_malformed_messages_total{socket=\"backend\"}") ==
                (double)bh_map_uint(body, "malformed"));
    assert_true(s_value(text, "taskmq_malformed_messages_total{socket=\"frontend\"}") == 1);
    bh_got_free(&g);
    free(text);
}

/* A worker leaving takes nothing back: its functions' counters stay, their gauges drop. */
static void test_counters_outlive_workers(void **state)
{
    tmq_core_t *core = *state;
    s_run_some(core);
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_BYE);
    bh_turn(core);
    bh_forget();
    char *text = s_render(core);
    s_line_is(text, "taskmq_workers_connected 0");
    s_line_is(text, "taskmq_jobs_done_total{function=\"echo\"} 3");
    s_line_is(text, "taskmq_jobs_failed_total{function=\"fail\"} 2");
    s_line_is(text, "taskmq_function_workers{function=\"echo\"} 0");
    s_line_is(text, "taskmq_job_duration_seconds_count{function=\"echo\"} 3");
    free(text);
    /* it comes back and runs one more: counted on top */
    bh_ready(core, "W1", 1, "echo", NULL);
    bh_submit(core, "C1", "echo", 50, 1);
    bh_forget();
    uint64_t jid;
    uint32_t att;
    assert_int_equal(s_jobs(core, "W1", &jid, &att, 1), 1);
    bh_done(core, "W1", jid, att, TMQ_ST_OK, "\x05", 1, 0.1);
    bh_turn(core);
    bh_forget();
    text = s_render(core);
    s_line_is(text, "taskmq_jobs_done_total{function=\"echo\"} 4");
    free(text);
}

/* Jobs held by a worker that goes away are requeued and counted; leased follows. */
static void test_requeued_and_leased(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 2, "sleep", NULL);
    bh_submit(core, "C1", "sleep", 1, 3);
    bh_forget();
    uint64_t jids[4];
    assert_int_equal(s_jobs(core, "W1", jids, NULL, 4), 2);
    char *text = s_render(core);
    s_line_is(text, "taskmq_jobs_leased{function=\"sleep\"} 2");
    s_line_is(text, "taskmq_queue_depth{function=\"sleep\"} 1");
    s_line_is(text, "taskmq_processes{state=\"busy\"} 2");
    s_line_is(text, "taskmq_processes{state=\"idle\"} 0");
    free(text);
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_BYE);
    bh_turn(core);
    bh_forget();
    text = s_render(core);
    s_line_is(text, "taskmq_jobs_requeued_total{function=\"sleep\"} 2");
    s_line_is(text, "taskmq_jobs_leased{function=\"sleep\"} 0");
    s_line_is(text, "taskmq_queue_depth{function=\"sleep\"} 3");
    free(text);
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_BYE); /* queued jobs cancelled */
    bh_turn(core);
    bh_forget();
    text = s_render(core);
    s_line_is(text, "taskmq_jobs_cancelled_total{function=\"sleep\"} 3");
    s_line_is(text, "taskmq_queue_depth{function=\"sleep\"} 0");
    s_line_is(text, "taskmq_clients_connected 0");
    free(text);
}

/* Jobs for a name no worker ever served fail after the grace period; the record goes (names
 * come from clients: keeping them would let a client grow the registry) and its counts join
 * the unlabelled tally, so the sums still match the status totals. */
static void test_never_served_counted_without_label(void **state)
{
    tmq_core_t *core = *state;
    bh_submit(core, "C1", "nosuch", 1, 2); /* no worker at all yet: they wait */
    bh_turn(core);
    bh_forget();
    char *text = s_render(core);
    if (strstr(text, "nosuch")) fail_msg("a name no worker served got a label");
    s_line_is(text, "taskmq_queue_depth 2"); /* unlabelled, like their counts */
    s_line_is(text, "taskmq_jobs_submitted_total 2");
    free(text);
    bh_ready(core, "W1", 1, "echo", NULL);
    bh_turn(core);
    int64_t until = bh_now + TMQ_UNSERVED_GRACE * 1000 + 1;
    while (bh_now < until) { /* the worker and the client stay alive meanwhile */
        bh_now += 250;
        bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_HEARTBEAT);
        bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HEARTBEAT);
        bh_turn(core);
    }
    bh_forget();
    bh_submit(core, "C1", "other", 9, 1); /* a worker is connected: rejected at once */
    bh_turn(core);
    bh_forget();
    text = s_render(core);
    if (strstr(text, "nosuch")) fail_msg("the record of a never-served name stayed");
    s_line_is(text, "taskmq_jobs_submitted_total 2");
    s_line_is(text, "taskmq_jobs_failed_total 2");
    s_line_is(text, "taskmq_jobs_rejected_total{reason=\"unknown_function\"} 1");
    s_line_is(text, "taskmq_jobs_rejected_total{reason=\"queue_full\"} 0");
    s_line_is(text, "taskmq_jobs_submitted_total{function=\"echo\"} 0");
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 2);
    s_check_wellformed(text);
    free(text);
}

/* Names are bytes from workers: escaped, made valid UTF-8, and two that come out the same
 * are one series holding both. */
static void test_hostile_names(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "a\xff", "a\xfe");
    bh_ready(core, "W2", 3, "q\"\\n\nx", "caf\xC3\xA9");
    bh_turn(core);
    bh_forget();
    char *text = s_render(core);
    s_line_is(text, "taskmq_function_workers{function=\"a\xEF\xBF\xBD\"} 2");
    s_line_is(text, "taskmq_function_processes{function=\"a\xEF\xBF\xBD\"} 2");
    s_line_is(text, "taskmq_function_processes{function=\"q\\\"\\\\n\\nx\"} 3");
    s_line_is(text, "taskmq_function_processes{function=\"caf\xC3\xA9\"} 3");
    s_check_wellformed(text);
    free(text);
}

/* ---- --metrics ADDR:PORT ---- */

static void s_parses(const char *arg, const char *text, bool loopback)
{
    tmq_metrics_addr_t a;
    char why[256] = "";
    if (tmq_metrics_parse(arg, &a, why, sizeof why) != 0) fail_msg("%s: %s", arg, why);
    assert_string_equal(a.text, text);
    assert_int_equal(tmq_metrics_addr_loopback(&a), loopback);
}

static void s_refused(const char *arg, const char *why_part)
{
    tmq_metrics_addr_t a;
    char why[256] = "";
    assert_int_equal(tmq_metrics_parse(arg, &a, why, sizeof why), -1);
    if (!strstr(why, why_part)) fail_msg("%s: '%s' lacks '%s'", arg, why, why_part);
}

static void test_addresses(void **state)
{
    (void)state;
    s_parses("127.0.0.1:9100", "127.0.0.1:9100", true);
    s_parses("127.1.2.3:1", "127.1.2.3:1", true);
    s_parses("[::1]:9100", "[::1]:9100", true);
    s_parses("0.0.0.0:9100", "0.0.0.0:9100", false);
    s_parses("*:9100", "0.0.0.0:9100", false);
    s_parses("[::]:65535", "[::]:65535", false);
    s_parses("10.1.2.3:9100", "10.1.2.3:9100", false);
    s_parses("localhost:9100", "127.0.0.1:9100", true);
    s_parses("127.0.0.1:*", "127.0.0.1:*", true);
    s_refused("foo", "is not ADDR:PORT");
    s_refused("9100", "is not ADDR:PORT");
    s_refused(":9100", "is not ADDR:PORT");
    s_refused("[::1]9100", "is not ADDR:PORT");
    s_refused("::1:9100", "an IPv6 address goes in brackets");
    s_refused("127.0.0.1:", "the port must be a number from 1 to 65535");
    s_refused("127.0.0.1:0", "the port must be a number from 1 to 65535");
    s_refused("127.0.0.1:65536", "the port must be a number from 1 to 65535");
    s_refused("127.0.0.1:9x", "not '9x'");
    s_refused("[localhost]:9100", "is not an IPv6 address");
    s_refused("no-such-host.invalid:9100", "cannot resolve host 'no-such-host.invalid'");
}

static void test_policy(void **state)
{
    (void)state;
    tmq_metrics_addr_t lo, any;
    char why[512];
    assert_int_equal(tmq_metrics_parse("127.0.0.1:9100", &lo, why, sizeof why), 0);
    assert_int_equal(tmq_metrics_parse("0.0.0.0:9100", &any, why, sizeof why), 0);
    assert_int_equal(tmq_metrics_allowed(&lo, false, false, why, sizeof why), 0);
    assert_int_equal(tmq_metrics_allowed(&any, true, false, why, sizeof why), 0);
    assert_int_equal(tmq_metrics_allowed(&any, false, true, why, sizeof why), -1); /* keys */
    assert_non_null(strstr(why, "no keys of its own"));
    assert_int_equal(tmq_metrics_allowed(&any, false, false, why, sizeof why), -1);
    assert_non_null(strstr(why, "0.0.0.0:9100 faces the network"));
    assert_non_null(strstr(why, "--insecure"));
    assert_non_null(strstr(why, "127.0.0.1:PORT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_histogram_cumulative),
        cmocka_unit_test(test_family_lines),
        cmocka_unit_test_setup_teardown(test_render_counts_by_function, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_agrees_with_status, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_counters_outlive_workers, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_requeued_and_leased, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_never_served_counted_without_label, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_names, bh_setup, bh_teardown),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_policy),
    };
    tmq_log_init("test", TMQ_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
