/* client/cli_help.c — the `taskmq` help texts (taskmq --help, taskmq SUBCOMMAND --help).
 * Kept apart from the parser: these are the user-facing contract, written out in full. */
#include "cli_args.h"

static const char s_options[] =
    "Options (before or after the subcommand):\n"
    "  --broker EP            broker frontend (default $TASKMQ_BROKER, else tcp://127.0.0.1:5555)\n"
    "  --connect-timeout MS   give up when no broker answers within MS ms (default 5000; exit 3)\n"
    "  --local N              no daemons: run an embedded broker and N local worker processes\n"
    "  -v, --verbose          log more to stderr (repeat for debug)\n"
    "  -h, --help             this help; --version: the version\n";

static const char s_map_options[] =
    "  --ordered              print in input order instead of completion order\n"
    "  --timeout MS           per-job time limit (default none)\n"
    "  --retries N            retries after an executor dies (default: the broker's, 2)\n"
    "  --progress             progress bar on stderr (default: when stderr is a terminal);\n"
    "                         --no-progress turns it off\n"
    "  --fail-when-full       report jobs refused by a full broker queue as failed instead of\n"
    "                         holding and resubmitting them\n";

static const char s_exit[] =
    "Exit status: 0 all jobs succeeded, 1 some job failed, 2 usage error,\n"
    "3 no broker answered within --connect-timeout, 130 interrupted.\n";

static void s_map(FILE *out)
{
    fputs(
        "Usage: taskmq map FUNCTION [ARG...] [options]\n"
        "\n"
        "Runs FUNCTION once per ARG, or once per line of standard input when no ARG is\n"
        "given (input is streamed: results print while it is still being read). An ARG or\n"
        "line that parses as JSON is that JSON value; anything else is a string.\n"
        "Prints one JSON object per finished job, as it finishes (completion order):\n"
        "  "
        "{\"index\":2,\"ok\":true,\"result\":499999500000,\"worker\":\"hostA:4121\",\"ms\":3.41}\n"
        "  {\"index\":0,\"ok\":false,\"error\":\"sum: argument must be a non-negative integer\"}\n"
        "index is the job's 0-based input position; worker is NAME:PID of the executor;\n"
        "ms its run time. Ctrl-C cancels the remaining jobs.\n\n",
        out);
    fputs(s_map_options, out);
    fputs(s_options, out);
    fputs("\n", out);
    fputs(s_exit, out);
}

static void s_submit(FILE *out)
{
    fputs("Usage: taskmq submit FUNCTION [ARG] [options]\n"
          "\n"
          "Runs one job and prints its result as JSON (e.g. `taskmq submit primes 100` prints\n"
          "25). ARG is JSON when it parses as JSON, else a string; without ARG the argument\n"
          "is null. On failure prints the error to stderr and exits 1.\n\n"
          "  --timeout MS, --retries N, --fail-when-full: as for map\n",
          out);
    fputs(s_options, out);
    fputs("\n", out);
    fputs(s_exit, out);
}

static void s_status(FILE *out)
{
    fputs("Usage: taskmq status [--json] [options]\n"
          "\n"
          "Shows the broker's workers (processes busy and idle, jobs done), queue depth, jobs\n"
          "running, done and failed, and the completion rate. --json prints one JSON object\n"
          "instead (queued, running, done, failed, rate, clients, uptime_ms, workers: [{name,\n"
          "pid, procs, busy, done}], ...).\n\n",
          out);
    fputs(s_options, out);
}

static void s_keygen(FILE *out)
{
    fputs("Usage: taskmq keygen PATH\n"
          "\n"
          "Writes a new CurveZMQ certificate: PATH (public, to copy into the broker's\n"
          "--curve-dir) and PATH_secret (keep private).\n",
          out);
}

void tmq_cli_help(FILE *out, tmq_cli_cmd_t cmd)
{
    switch (cmd) {
    case TMQ_CLI_MAP:
        s_map(out);
        return;
    case TMQ_CLI_SUBMIT:
        s_submit(out);
        return;
    case TMQ_CLI_STATUS:
        s_status(out);
        return;
    case TMQ_CLI_KEYGEN:
        s_keygen(out);
        return;
    case TMQ_CLI_NONE:
        break;
    }
    fputs("Usage: taskmq [options] SUBCOMMAND ...\n"
          "\n"
          "The taskmq client: run jobs on a taskmq cluster, results as soon as each finishes.\n"
          "\n"
          "Subcommands:\n"
          "  map FUNCTION [ARG...]   one job per ARG, or per stdin line when no ARG is given\n"
          "  submit FUNCTION [ARG]   one job; prints its result\n"
          "  status [--json]         workers, processes busy/idle, queue depth, jobs done/failed,\n"
          "                          rate\n"
          "  keygen PATH             a CurveZMQ certificate pair: PATH and PATH_secret\n"
          "\n"
          "`taskmq SUBCOMMAND --help` describes each.\n\n",
          out);
    fputs(s_options, out);
    fputs("Job options (map, submit):\n", out);
    fputs(s_map_options, out);
    fputs("\nExample: seq 1 1000 | taskmq map --local 2 sum\n\n", out);
    fputs(s_exit, out);
}
