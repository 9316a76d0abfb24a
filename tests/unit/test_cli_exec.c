/* tests/unit/test_cli_exec.c — `taskmq map --exec`'s pure parts (client/cli_exec): GNU
 * parallel's replacement strings, the exec argument built from a line, shell quoting of the
 * command, decoding an exec result, --tag prefixes, joblog lines and the command line. */
#include "buf.h"
#include "cli_args.h"
#include "cli_exec.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The word expanded for line and seq, as a string (static buffer). */
static const char *expand(const char *word, const char *line, uint64_t seq)
{
    static tmq_buf_t b;
    tmq_buf_reset(&b);
    tmq_cliexec_word(&b, word, line, strlen(line), seq);
    tmq_buf_addc(&b, '\0');
    return b.data;
}

static void test_replacement_strings(void **state)
{
    (void)state;
    assert_string_equal(expand("{}", "dir/a.tar.gz", 1), "dir/a.tar.gz");
    assert_string_equal(expand("{}.gz", "a.txt", 1), "a.txt.gz");
    assert_string_equal(expand("out-{#}.txt", "x", 12), "out-12.txt");
    assert_string_equal(expand("{#}", "x", 1), "1");
    assert_string_equal(expand("{.}", "dir/a.tar.gz", 1), "dir/a.tar");
    assert_string_equal(expand("{.}", "dir.d/file", 1), "dir.d/file"); /* the dot is the dir's */
    assert_string_equal(expand("{.}", "plain", 1), "plain");
    assert_string_equal(expand("{/}", "/x/y/b.c", 1), "b.c");
    assert_string_equal(expand("{/}", "b.c", 1), "b.c");
    assert_string_equal(expand("{//}", "/x/y/b.c", 1), "/x/y");
    assert_string_equal(expand("{//}", "b.c", 1), ".");
    assert_string_equal(expand("{//}", "/b.c", 1), "/");
    assert_string_equal(expand("{//}", "a/b/", 1), "a");
    assert_string_equal(expand("{//}", "a//b", 1), "a");
    assert_string_equal(expand("{/.}", "/x/y/b.tar.gz", 1), "b.tar");
    assert_string_equal(expand("{/.}", "dir.d/file", 1), "file");
    assert_string_equal(expand("{}-{}", "ab", 1), "ab-ab");
    assert_string_equal(expand("{{}}", "ab", 1), "{ab}");
    /* braces that are no replacement string stay */
    assert_string_equal(expand("{x} {", "ab", 1), "{x} {");
    assert_string_equal(expand("{/", "ab", 1), "{/");
    assert_string_equal(expand("", "ab", 1), "");
    /* the line's own text is not expanded again */
    assert_string_equal(expand("{}", "{#}", 7), "{#}");
}

/* The argv an exec argument holds (at most 8 words) into words; returns how many. */
static size_t argv_of(const msgpack_sbuffer *sb, char words[8][64], bool bin[8])
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, sb->data, sb->size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb->size);
    const msgpack_object *m = &up.data;
    assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(m->via.map.size, 1);
    assert_int_equal(m->via.map.ptr[0].key.via.str.size, 4);
    assert_memory_equal(m->via.map.ptr[0].key.via.str.ptr, "argv", 4);
    const msgpack_object *a = &m->via.map.ptr[0].val;
    assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
    size_t n = a->via.array.size;
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *w = &a->via.array.ptr[i];
        bin[i] = w->type == MSGPACK_OBJECT_BIN;
        assert_true(w->type == MSGPACK_OBJECT_STR || bin[i]);
        size_t len = bin[i] ? w->via.bin.size : w->via.str.size;
        assert_true(len < 64);
        memcpy(words[i], bin[i] ? w->via.bin.ptr : w->via.str.ptr, len);
        words[i][len] = '\0';
    }
    msgpack_unpacked_destroy(&up);
    return n;
}

static void test_argument(void **state)
{
    (void)state;
    char *cmd[] = {"gzip", "-k", "{}"};
    tmq_cliexec_t t;
    tmq_cliexec_init(&t, cmd, 3);
    assert_false(t.append);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char words[8][64];
    bool bin[8];
    tmq_cliexec_arg(&t, &sb, "a b.txt", 7, 1);
    assert_int_equal(argv_of(&sb, words, bin), 3);
    assert_string_equal(words[0], "gzip");
    assert_string_equal(words[1], "-k");
    assert_string_equal(words[2], "a b.txt"); /* one word: no shell splits it */

    /* no replacement string anywhere: the line goes last, as in GNU parallel */
    char *bare[] = {"echo", "x"};
    tmq_cliexec_init(&t, bare, 2);
    assert_true(t.append);
    tmq_cliexec_arg(&t, &sb, "line", 4, 1);
    assert_int_equal(argv_of(&sb, words, bin), 3);
    assert_string_equal(words[2], "line");
    /* {#} alone counts as one */
    char *num[] = {"echo", "{#}"};
    tmq_cliexec_init(&t, num, 2);
    assert_false(t.append);
    tmq_cliexec_arg(&t, &sb, "line", 4, 5);
    assert_int_equal(argv_of(&sb, words, bin), 2);
    assert_string_equal(words[1], "5");

    /* a line that is not UTF-8 travels as bytes */
    tmq_cliexec_init(&t, cmd, 3);
    tmq_cliexec_arg(&t, &sb, "\xff.txt", 5, 1);
    assert_int_equal(argv_of(&sb, words, bin), 3);
    assert_false(bin[0]);
    assert_true(bin[2]);
    assert_string_equal(words[2], "\xff.txt");
    msgpack_sbuffer_destroy(&sb);
}

static const char *quoted(const char *word)
{
    static tmq_buf_t b;
    tmq_buf_reset(&b);
    tmq_cliexec_quote(&b, word, strlen(word));
    tmq_buf_addc(&b, '\0');
    return b.data;
}

static void test_quote(void **state)
{
    (void)state;
    assert_string_equal(quoted("plain-word_1.txt"), "plain-word_1.txt");
    assert_string_equal(quoted("/a/b:c,d=e+f@g%"), "/a/b:c,d=e+f@g%");
    assert_string_equal(quoted(""), "''");
    assert_string_equal(quoted("a b"), "'a b'");
    assert_string_equal(quoted("$HOME"), "'$HOME'");
    assert_string_equal(quoted("it's"), "'it'\\''s'");
    assert_string_equal(quoted("h\xc3\xa9"), "'h\xc3\xa9'");
    assert_string_equal(quoted("a\tb\nc"), "$'a\\tb\\nc'");
    assert_string_equal(quoted("q'\x01\\"), "$'q\\'\\x01\\\\'");

    char *cmd[] = {"sh", "-c", "kill -9 $$"};
    tmq_cliexec_t t;
    tmq_cliexec_init(&t, cmd, 3);
    tmq_buf_t b;
    tmq_buf_init(&b);
    tmq_cliexec_command(&t, &b, "x y", 3, 1);
    assert_string_equal(b.data, "sh -c 'kill -9 $$' 'x y'");
    tmq_buf_free(&b);
}

/* Packs an exec result: status (or signal when sig), stdout, stderr (bin when asked). */
static void pack_result(msgpack_sbuffer *sb, int status, const char *sig, const char *out,
                        bool out_bin, const char *err)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    if (sig) {
        msgpack_pack_str_with_body(&pk, "signal", 6);
        msgpack_pack_str_with_body(&pk, sig, strlen(sig));
    } else {
        msgpack_pack_str_with_body(&pk, "status", 6);
        msgpack_pack_int(&pk, status);
    }
    msgpack_pack_str_with_body(&pk, "stdout", 6);
    if (out_bin)
        msgpack_pack_bin_with_body(&pk, out, strlen(out));
    else
        msgpack_pack_str_with_body(&pk, out, strlen(out));
    msgpack_pack_str_with_body(&pk, "stderr", 6);
    msgpack_pack_str_with_body(&pk, err, strlen(err));
}

static void test_decode(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tmq_cliexec_result_t r;
    pack_result(&sb, 3, NULL, "5\n", false, "oops\n");
    assert_int_equal(tmq_cliexec_decode(sb.data, sb.size, &r), 0);
    assert_true(r.exited);
    assert_int_equal(r.status, 3);
    assert_int_equal(r.out_len, 2);
    assert_memory_equal(r.out, "5\n", 2);
    assert_int_equal(r.err_len, 5);
    assert_memory_equal(r.err, "oops\n", 5);

    pack_result(&sb, 0, "SIGKILL", "\xff\xfe", true, "");
    assert_int_equal(tmq_cliexec_decode(sb.data, sb.size, &r), 0);
    assert_false(r.exited);
    assert_string_equal(r.signame, "SIGKILL");
    assert_int_equal(r.signo, SIGKILL);
    assert_int_equal(r.out_len, 2);
    assert_memory_equal(r.out, "\xff\xfe", 2);
    pack_result(&sb, 0, "SIGRTMIN+2", "", false, "");
    assert_int_equal(tmq_cliexec_decode(sb.data, sb.size, &r), 0);
    assert_int_equal(r.signo, SIGRTMIN + 2);
    pack_result(&sb, 0, "SIGNOTHING", "", false, "");
    assert_int_equal(tmq_cliexec_decode(sb.data, sb.size, &r), 0);
    assert_int_equal(r.signo, 0); /* named, not numbered */

    /* not an exec result */
    pack_result(&sb, 256, NULL, "", false, "");
    assert_int_equal(tmq_cliexec_decode(sb.data, sb.size, &r), -1);
    const uint8_t five[] = {0x05}, map_without[] = {0x81, 0xa1, 'a', 0x01};
    assert_int_equal(tmq_cliexec_decode(five, sizeof five, &r), -1);
    assert_int_equal(tmq_cliexec_decode(map_without, sizeof map_without, &r), -1);
    assert_int_equal(tmq_cliexec_decode(sb.data, 3, &r), -1); /* cut short */
    assert_int_equal(tmq_cliexec_decode("", 0, &r), -1);
    msgpack_sbuffer_destroy(&sb);
}

static void test_tag(void **state)
{
    (void)state;
    tmq_buf_t b;
    tmq_buf_init(&b);
    tmq_cliexec_tag(&b, "a.txt", 5, "one\ntwo\n", 8);
    assert_string_equal(b.data, "a.txt\tone\na.txt\ttwo\n");
    tmq_buf_reset(&b);
    tmq_cliexec_tag(&b, "x", 1, "no newline", 10);
    assert_string_equal(b.data, "x\tno newline\n");
    tmq_buf_reset(&b);
    tmq_cliexec_tag(&b, "x", 1, "\n\n", 2); /* empty lines are lines */
    assert_string_equal(b.data, "x\t\nx\t\n");
    tmq_buf_reset(&b);
    tmq_cliexec_tag(&b, "x", 1, "", 0);
    assert_int_equal(b.len, 0);
    tmq_buf_free(&b);
}

static void test_joblog(void **state)
{
    (void)state;
    tmq_buf_t b;
    tmq_buf_init(&b);
    tmq_cliexec_joblog_t j = {.seq = 3,
                              .host = "hostA",
                              .host_len = 5,
                              .start = 1700000000.1234,
                              .runtime = 0.5,
                              .send = 40,
                              .receive = 6,
                              .exitval = 1,
                              .signo = 0,
                              .command = "gzip -k a.txt",
                              .command_len = 13};
    tmq_cliexec_joblog_line(&b, &j);
    assert_string_equal(b.data,
                        "3\thostA\t1700000000.123\t     0.500\t40\t6\t1\t0\tgzip -k a.txt\n");
    tmq_buf_reset(&b);
    j.host = NULL; /* never ran */
    j.exitval = -1;
    j.signo = 9;
    tmq_cliexec_joblog_line(&b, &j);
    assert_string_equal(b.data, "3\t-\t1700000000.123\t     0.500\t40\t6\t-1\t9\tgzip -k a.txt\n");
    tmq_buf_free(&b);
    assert_string_equal(
        TMQ_CLIEXEC_JOBLOG_HEADER,
        "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n");

    int exitval, signo;
    const char *missing = "exec: cannot run 'nosuch': No such file or directory";
    tmq_cliexec_failure_codes(missing, strlen(missing), false, &exitval, &signo);
    assert_int_equal(exitval, 127);
    assert_int_equal(signo, 0);
    const char *denied = "exec: cannot run 'x': Permission denied";
    tmq_cliexec_failure_codes(denied, strlen(denied), false, &exitval, &signo);
    assert_int_equal(exitval, 126);
    tmq_cliexec_failure_codes("timeout after 300 ms", 20, true, &exitval, &signo);
    assert_int_equal(exitval, -1);
    assert_int_equal(signo, SIGKILL);
    const char *oom = "out of memory (limit 512 MiB)"; /* killed at its memory limit */
    tmq_cliexec_failure_codes(oom, strlen(oom), true, &exitval, &signo);
    assert_int_equal(exitval, -1);
    assert_int_equal(signo, SIGKILL);
    const char *over = "exec: stdout over 1048576 bytes";
    tmq_cliexec_failure_codes(over, strlen(over), false, &exitval, &signo);
    assert_int_equal(exitval, -1);
    assert_int_equal(signo, SIGKILL);
    tmq_cliexec_failure_codes("executor died: SIGSEGV", 22, false, &exitval, &signo);
    assert_int_equal(exitval, -1);
    assert_int_equal(signo, 0);
    tmq_cliexec_failure_codes("exec", 4, false, &exitval, &signo);
    assert_int_equal(exitval, -1);
}

/* ---- the command line ---- */

static int parse(tmq_cli_t *o, char *err, const char *const *words)
{
    char *argv[16] = {"taskmq"};
    int argc = 1;
    for (; words[argc - 1]; argc++)
        argv[argc] = (char *)words[argc - 1];
    return tmq_cli_parse(o, argc, argv, err, 256);
}

static void parse_fails(const char *const *words, const char *want)
{
    tmq_cli_t o;
    char err[256];
    int rc = parse(&o, err, words);
    tmq_cli_free(&o);
    assert_int_equal(rc, TMQ_EXIT_USAGE);
    assert_string_equal(err, want);
}

static void test_cli(void **state)
{
    (void)state;
    tmq_cli_t o;
    char err[256];
    const char *ok[] = {"map",  "--exec", "--tag",  "--joblog", "jl", "--",
                        "gzip", "-k",     "--best", "{}",       NULL};
    assert_int_equal(parse(&o, err, ok), 0);
    assert_true(o.exec);
    assert_true(o.tag);
    assert_string_equal(o.joblog, "jl");
    assert_string_equal(o.function, "exec");
    assert_int_equal(o.nargs, 0);
    assert_int_equal(o.ncommand, 4); /* options after "--" belong to the command */
    assert_string_equal(o.command[0], "gzip");
    assert_string_equal(o.command[2], "--best");
    tmq_cli_free(&o);

    /* without --exec, words after "--" are positional as before */
    const char *plain[] = {"map", "--", "echo", "-x", NULL};
    assert_int_equal(parse(&o, err, plain), 0);
    assert_false(o.exec);
    assert_string_equal(o.function, "echo");
    assert_int_equal(o.nargs, 1);
    assert_string_equal(o.args[0], "-x");
    tmq_cli_free(&o);
    const char *options_first[] = {"--exec", "map", "--ordered", "--", "ls", NULL};
    assert_int_equal(parse(&o, err, options_first), 0);
    assert_true(o.exec && o.ordered);
    assert_int_equal(o.ncommand, 1);
    tmq_cli_free(&o);

    const char *no_dd[] = {"map", "--exec", "gzip", "{}", NULL};
    parse_fails(no_dd, "--exec takes the command after '--', not 'gzip' before it: taskmq map "
                       "--exec -- CMD [ARG...]");
    const char *none[] = {"map", "--exec", NULL};
    parse_fails(none, "--exec needs '--' before the command: taskmq map --exec -- CMD [ARG...]");
    const char *empty[] = {"map", "--exec", "--", NULL};
    parse_fails(empty, "--exec needs a command after '--': taskmq map --exec -- CMD [ARG...]");
    const char *json[] = {"map", "--exec", "--json", "--", "ls", NULL};
    parse_fails(json, "--json is not for --exec: input lines are text, put in the command where "
                      "{} stands");
    const char *joblog[] = {"map", "--joblog", "f", "echo", NULL};
    parse_fails(joblog, "--joblog is for map --exec");
    const char *submit[] = {"submit", "--exec", "--", "ls", NULL};
    parse_fails(submit, "--exec is for map");
    const char *no_file[] = {"map", "--exec", "--joblog=", "--", "ls", NULL};
    parse_fails(no_file, "--joblog needs a file name");
    const char *typo[] = {"map", "--exce", "--", "ls", NULL};
    parse_fails(typo, "unknown option '--exce' (did you mean '--exec'?)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replacement_strings),
        cmocka_unit_test(test_argument),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_tag),
        cmocka_unit_test(test_joblog),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
