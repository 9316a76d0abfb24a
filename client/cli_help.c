/* client/cli_help.c — the `taskmq` help texts (taskmq --help, taskmq SUBCOMMAND --help).
 * Kept apart from the parser: these are the user-facing contract, written out in full. Each
 * subcommand's help lists only the options it takes (cli_args.c refuses the others), and the
 * overview groups them by the subcommands they are for. */
#include "cli_args.h"

static const char s_options[] =
    "Options (before or after the subcommand):\n"
    "  --broker EP            broker frontend, tcp://HOST:PORT (default $TASKMQ_BROKER, else\n"
    "                         tcp://127.0.0.1:5555; also ipc://PATH)\n"
    "  --connect-timeout MS   give up when no broker answers within MS ms (default 5000; exit 3)\n"
    "  --curve-cert FILE      this client's secret certificate (taskmq keygen), for a broker\n"
    "                         with CURVE keys (default $TASKMQ_CURVE_CERT); with\n"
    "  --broker-cert FILE     the broker's public certificate (default $TASKMQ_BROKER_CERT)\n"
    "  --local N              no daemons: run an embedded broker and N local worker processes\n"
    "                         (exit 3 when they cannot start). The worker program is\n"
    "                         $TASKMQ_WORKER when set, else taskmq-worker beside this taskmq\n"
    "                         binary, else taskmq-worker found in PATH\n"
    "  -v, --verbose          log what happens to stderr: the broker address and its answer,\n"
    "                         backpressure, a lost broker (-vv: debug); that jobs wait\n"
    "                         because no worker is connected is told without -v\n"
    "  -h, --help             this help;  -V, --version: the version\n";

static const char s_job_options[] =
    "  --timeout MS           per-job time limit in ms (0 or absent: none)\n"
    "  --retries N            retries after an executor dies (default: the broker's, 2)\n"
    "  --mem-limit BYTES      per-job memory limit (K, M, G: KiB, MiB, GiB; e.g. 512M, 2G; at\n"
    "                         most 1 TiB): a job past it fails `out of memory (limit 512 MiB)`\n"
    "                         (a worker's own, smaller --mem-limit still applies; absent: the\n"
    "                         worker's, if any)\n"
    "  --retry-oom            retry a job that ran out of memory as one whose executor died\n"
    "                         (counted against --retries); without it out of memory is final\n"
    "  --fail-when-full       report jobs refused by a full broker queue as failed instead of\n"
    "                         holding and resubmitting them\n"
    "  --broker-loss-timeout S\n"
    "                         with a broker that journals (taskmq-broker --journal): how long\n"
    "                         to wait for it when it is lost (restarted, silent, shut down)\n"
    "                         before the jobs fail (exit 4); meanwhile nothing fails, and\n"
    "                         once it is back every job finishes once (default 60; 0..86400;\n"
    "                         0: fail at once, as with a broker without a journal)\n";

static const char s_map_input_options[] =
    "  --json                 every ARG/line must be JSON (a line that is not: exit 2)\n"
    "  --raw                  every ARG/line is a string, never parsed (invalid UTF-8 is\n"
    "                         sent as bytes, msgpack bin)\n";

static const char s_submit_input_options[] =
    "  --json                 ARG must be JSON (exit 2 when it is not)\n"
    "  --raw                  ARG is a string, never parsed (invalid UTF-8 is sent as bytes,\n"
    "                         msgpack bin)\n";

static const char s_map_options[] =
    "  --ordered              print in input order instead of completion order\n"
    "  --tag                  each line also carries the job's input: \"arg\":VALUE\n"
    "                         (--exec: each output line starts with the input line and a tab)\n"
    "  --exec                 run a command per stdin line: taskmq map --exec -- CMD [ARG...]\n"
    "  --joblog FILE          --exec: write GNU parallel's joblog (a TSV line per job) to FILE\n"
    "  --keep-empty           an empty stdin line is a job (\"\") instead of being skipped\n"
    "  --progress             progress bar and a closing summary on stderr (default: when\n"
    "                         stderr is a terminal and stdin is not); --no-progress: never\n"
    "  --batch NAME           the run is the named batch NAME (1 to 128 bytes, no space or\n"
    "                         control character): the broker keeps its results, so\n"
    "                         `taskmq attach NAME` reads them from any host, also after this\n"
    "                         taskmq was killed (its jobs run on; Ctrl-C still cancels them)\n"
    "  --batch-ttl S          --batch: keep the batch S seconds once complete and every\n"
    "                         result was read (1..604800; default the broker's, 3600)\n"
    "  --resume               --batch: submit only the inputs with no OK result in the batch\n"
    "                         yet (GNU parallel's --resume): a half-done run is finished, not\n"
    "                         redone; indexes stay input positions; prints only what it runs\n"
    "                         (-v: how many inputs were done already)\n";

static const char s_exit_map[] =
    "Exit status: 0 every job succeeded; 1 some job failed (or no worker serves FUNCTION);\n"
    "2 usage or input error (bad option, bad --broker, an ARG or line that is not JSON under\n"
    "--json); 3 no broker reachable (no answer within --connect-timeout, the host does not\n"
    "resolve, not a broker's client port) or --local could not start its cluster;\n"
    "4 lost the broker mid-run (it shut down or fell silent; a broker that journals: and\n"
    "did not come back within --broker-loss-timeout; beats 1); 130 interrupted\n"
    "(Ctrl-C; SIGTERM 143); 141 stdout closed (broken pipe).\n";

static const char s_exit_submit[] =
    "Exit status: 0 the job succeeded; 1 the job failed (or no worker serves FUNCTION);\n"
    "2 usage or input error (bad option, bad --broker, ARG not JSON under --json);\n"
    "3 no broker reachable (no answer within --connect-timeout, the host does not resolve,\n"
    "not a broker's client port) or --local could not start its cluster; 4 lost the broker\n"
    "before the job finished (one that journals: not back within --broker-loss-timeout);\n"
    "130 interrupted (Ctrl-C; SIGTERM 143); 141 stdout closed (broken pipe).\n";

static const char s_exit_attach[] =
    "Exit status: 0 every job of the batch succeeded; 1 some job failed, or the broker does\n"
    "not keep batches (taskmq 0.4 or older); 2 usage error, or no batch by that name (never\n"
    "made, or forgotten after its --batch-ttl); 3 no broker reachable; 4 lost the broker\n"
    "before the batch completed (one that journals: not back within --broker-loss-timeout);\n"
    "130 interrupted (Ctrl-C: the batch's jobs are not cancelled); 141 stdout closed.\n";

static const char s_exit_cluster[] =
    "Exit status: 0; 2 usage error; 3 no broker answers (or --local could not start its\n"
    "cluster).\n";

static void s_map(FILE *out)
{
    fputs("Usage: taskmq map FUNCTION [ARG...] [options]\n"
          "\n"
          "Runs FUNCTION once per ARG, or once per line of standard input when no ARG is\n"
          "given (input is streamed: results print while it is still being read; empty lines\n"
          "are skipped; from a terminal, Ctrl-D ends the input). An ARG or line that parses\n"
          "as JSON is that JSON value; anything else is a string (--json, --raw: see below).\n"
          "Prints one JSON object per finished job, as it finishes (completion order):\n"
          "  {\"index\":2,\"ok\":true,\"result\":499999500000,\"worker\":\"hostA:4121\","
          "\"ms\":3.41}\n"
          "  {\"index\":0,\"ok\":false,\"error\":\"sum: argument must be a non-negative "
          "integer, got \\\"x\\\"\"}\n"
          "index is the job's 0-based input position; worker is NAME:PID of the executor;\n"
          "ms its run time; with --tag \"arg\" (the job's input) follows index. When no\n"
          "connected worker serves FUNCTION the run stops at the first such answer with one\n"
          "message (exit 1). Ctrl-C cancels the remaining jobs.\n"
          "\n"
          "   or: taskmq map --exec [options] -- CMD [ARG...]\n"
          "\n"
          "Runs CMD ARG... once per stdin line on the workers, GNU parallel style (workers\n"
          "serve exec only with --allow-exec). In each word {} is the line, {.} the line\n"
          "without its extension, {/} its basename, {//} its dirname, {/.} the basename\n"
          "without extension, {#} the job's number from 1, also inside words ({}.gz); with\n"
          "none of them the line is appended as the last argument. No shell runs: for pipes\n"
          "or redirections run sh -c '...' sh {} yourself. Each command's stdout is printed\n"
          "when it finishes (completion order; --ordered: input order), its stderr to\n"
          "stderr. A command that exits non-zero prints only what it printed; one killed by\n"
          "a signal, or one that could not run or hit --timeout or --mem-limit, also gets a\n"
          "line `taskmq: CMD: WHY` on stderr. --joblog FILE columns: Seq Host Starttime\n"
          "JobRuntime Send Receive Exitval Signal Command (Send: bytes of the job, Receive:\n"
          "bytes of its output; Exitval -1 when the command did not exit or its outcome was\n"
          "lost (result too large), 127 or 126 when it\n"
          "could not run; Signal 9 when it was killed at --timeout or --mem-limit). Exit\n"
          "status 1 when any command failed (non-zero status, signal, could not run, out of\n"
          "time or memory), else 0.\n"
          "Example: ls *.log | taskmq map --exec -- gzip -k {}\n"
          "\n"
          "Options for map:\n",
          out);
    fputs(s_map_options, out);
    fputs(s_job_options, out);
    fputs(s_map_input_options, out);
    fputs(s_options, out);
    fputs("\n", out);
    fputs(s_exit_map, out);
}

static void s_submit(FILE *out)
{
    fputs("Usage: taskmq submit FUNCTION [ARG] [options]\n"
          "\n"
          "Runs one job and prints its result as JSON (e.g. `taskmq submit primes 100` prints\n"
          "25). ARG is JSON when it parses as JSON, else a string; without ARG the argument\n"
          "is null. When the job fails, prints `job failed: REASON` to stderr and exits 1\n"
          "(errors of the tool itself start with `taskmq: `).\n\n"
          "Options for submit:\n",
          out);
    fputs(s_job_options, out);
    fputs(s_submit_input_options, out);
    fputs(s_options, out);
    fputs("\n", out);
    fputs(s_exit_submit, out);
}

static void s_status(FILE *out)
{
    fputs("Usage: taskmq status [--json] [options]\n"
          "\n"
          "Shows the broker (address, version, uptime, clients), its jobs (queued, running,\n"
          "done, failed, rate) and each worker by host and address (`vm 10.0.0.7:41822`): pid,\n"
          "processes busy and idle, done/failed, version, when it was last heard from, the\n"
          "functions it serves. Fields an older broker does not send are left out. --json\n"
          "prints the broker's reply as one JSON object instead (see docs/PROTOCOL.md).\n\n",
          out);
    fputs(s_options, out);
    fputs("\n", out);
    fputs(s_exit_cluster, out);
}

static void s_functions(FILE *out)
{
    fputs("Usage: taskmq functions [--json] [options]\n"
          "\n"
          "Lists the functions the cluster serves: for each, how many workers and processes\n"
          "serve it and how many of its jobs are queued (a function with queued jobs and no\n"
          "worker is shown too). --json prints [{name, workers, procs, queued}, ...].\n\n",
          out);
    fputs(s_options, out);
    fputs("\n", out);
    fputs(s_exit_cluster, out);
}

static void s_attach(FILE *out)
{
    fputs("Usage: taskmq attach NAME [--ordered] [options]\n"
          "\n"
          "Prints the results of the named batch NAME (taskmq map --batch NAME), from any\n"
          "host: those already finished at once, the rest as they finish, each exactly once,\n"
          "in completion order (--ordered: input order), as the JSON lines of map (index is\n"
          "the input position; --json: the same, it is the only format), then exits once the\n"
          "batch is complete (its input ended and every job finished) with map's exit status.\n"
          "It only reads: Ctrl-C stops it and cancels nothing, and a map that was killed\n"
          "mid-run loses nothing: attach reads the rest. With a broker that journals, a\n"
          "restart of the broker is waited out (--broker-loss-timeout) and nothing is\n"
          "printed twice.\n"
          "\n"
          "Options for attach:\n"
          "  --ordered              print in input order (indexes missing from the batch, e.g.\n"
          "                         cancelled jobs, are passed over at its end)\n"
          "  --json                 JSON lines (the default and only output)\n"
          "  --broker-loss-timeout S\n"
          "                         how long to wait for a lost broker that journals (default\n"
          "                         60; 0..86400)\n"
          "\n",
          out);
    fputs(s_options, out);
    fputs("\n", out);
    fputs(s_exit_attach, out);
}

static void s_batches(FILE *out)
{
    fputs("Usage: taskmq batches [--json] [options]\n"
          "\n"
          "Lists the named batches the broker holds (taskmq map --batch NAME): for each, its\n"
          "inputs (total), those done (OK), failed, and running, its state (running: jobs\n"
          "left or more may come; closed: its input ended, jobs left; complete: every result\n"
          "is in) and its age. --json prints [{name, total, done, failed, running, closed,\n"
          "complete, age_ms}, ...] as the broker says it.\n\n",
          out);
    fputs(s_options, out);
    fputs("\n", out);
    fputs(s_exit_cluster, out);
}

static void s_keygen(FILE *out)
{
    fputs("Usage: taskmq keygen PATH [--force]\n"
          "\n"
          "Writes a new CurveZMQ certificate: PATH (public: the part a peer may be given)\n"
          "and PATH_secret (keep private). This version does not use them yet: the broker\n"
          "takes keys in the next release. Refuses to replace an existing PATH or\n"
          "PATH_secret unless --force is given.\n"
          "\n"
          "  --force                overwrite an existing pair\n"
          "\n"
          "Exit status: 0 written; 1 PATH or PATH_secret exists (without --force), cannot be\n"
          "written, or this build has no CurveZMQ; 2 usage error.\n",
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
    case TMQ_CLI_FUNCTIONS:
        s_functions(out);
        return;
    case TMQ_CLI_KEYGEN:
        s_keygen(out);
        return;
    case TMQ_CLI_ATTACH:
        s_attach(out);
        return;
    case TMQ_CLI_BATCHES:
        s_batches(out);
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
          "  map --exec -- CMD {}    a command per stdin line ({} the line, {#} its number)\n"
          "  submit FUNCTION [ARG]   one job; prints its result\n"
          "  attach NAME             the results of a named batch (map --batch NAME), each once\n"
          "  status [--json]         broker, jobs, and each worker: address, processes busy and\n"
          "                          idle, done/failed, version, last seen, functions\n"
          "  batches [--json]        the named batches the broker holds, with their counts\n"
          "  functions [--json]      the functions the cluster serves, by how many workers and\n"
          "                          processes, and their queued jobs\n"
          "  keygen PATH [--force]   a CurveZMQ certificate pair: PATH and PATH_secret\n"
          "\n"
          "`taskmq SUBCOMMAND --help` describes each.\n\n",
          out);
    fputs(s_options, out);
    fputs("Job options (map, submit):\n", out);
    fputs(s_job_options, out);
    fputs(s_map_input_options, out);
    fputs("Map options (map only):\n", out);
    fputs(s_map_options, out);
    fputs("\nExample: seq 1 1000 | taskmq map --local 2 sum\n\n", out);
    fputs(s_exit_map, out);
}
