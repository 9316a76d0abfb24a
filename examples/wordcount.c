/* examples/wordcount.c — a whole taskmq plugin: `wordcount` counts a text as wc(1) does.
 *
 *   taskmq submit wordcount '"two words\n"'      ->  {"lines":1,"words":2,"bytes":10}
 *
 * Build it against an installed taskmq (no library to link: the worker provides the SDK):
 *     cc -shared -fPIC -O2 wordcount.c -o wordcount.so $(pkg-config --cflags taskmq-plugin)
 * or with examples/plugin/CMakeLists.txt. Serve it:
 *     taskmq-worker --plugin ./wordcount.so
 */
#include <taskmq/plugin.h>

/* isspace() in the C locale, which is what wc counts words by; no locale can change it. */
static int is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r'); /* space \t \n \v \f \r */
}

/* A job function: the argument is msgpack, the answer goes into reply. */
static int wordcount(const void *arg, size_t len, tmq_reply_t *reply)
{
    const void *text;
    size_t n;
    /* A string, or raw bytes (msgpack bin) for text that is not UTF-8. */
    if (tmq_arg_bytes(arg, len, &text, &n) != 0)
        return tmq_reply_error(reply, "wordcount: argument must be a string, got %s",
                               tmq_arg_type(arg, len));

    const unsigned char *p = text;
    uint64_t lines = 0, words = 0;
    int in_word = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') lines++;
        if (is_space(p[i])) {
            in_word = 0;
        } else if (!in_word) { /* the first byte of a run of non-space: one more word */
            in_word = 1;
            words++;
        }
    }

    /* The result {"lines":L,"words":W,"bytes":B}: a map of 3 pairs, then key, value, ... */
    tmq_reply_map(reply, 3);
    tmq_reply_key(reply, "lines");
    tmq_reply_uint(reply, lines);
    tmq_reply_key(reply, "words");
    tmq_reply_uint(reply, words);
    tmq_reply_key(reply, "bytes");
    return tmq_reply_uint(reply, n); /* 0 once the reply is complete */
}

/* Called once in each executor process when it loads the plugin: say what it serves. */
int tmq_plugin_init(tmq_plugin_t *plugin)
{
    return tmq_plugin_register(plugin, "wordcount", wordcount);
}
