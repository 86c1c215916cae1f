/* SPDX-License-Identifier: MIT */
/*
 * Subcommand dispatch and the shared bits of the command-line layer.
 * Each command parses its own options and prints its own results; this file
 * only routes, prints usage and version, and holds small shared helpers.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/cli/cli.h"
#include "ralphsup/base/common.h"
#include "ralphsup/core/config.h"
#include "ralphsup/core/shard.h"
#include "ralphsup/cli/doctor.h"

#ifndef RALPHSUP_VERSION
#define RALPHSUP_VERSION "0.1.0"
#endif

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"start", rs_cmd_start, "run the batch unattended (the main command)"},
    {"stop", rs_cmd_stop, "cancel the running supervisor cleanly (SIGTERM)"},
    {"reload", rs_cmd_reload, "make the running supervisor re-read its [limits] (SIGHUP)"},
    {"init", rs_cmd_init, "validate the batch and create the progress file (every school pending)"},
    {"status", rs_cmd_status, "show progress: completed / failed / pending, current school, ETA, cost"},
    {"retry", rs_cmd_retry, "put failed schools back at the front of pending, attempts reset (history kept)"},
    {"skip", rs_cmd_skip, "fail pending schools without running them, with the operator's reason"},
    {"resume", rs_cmd_resume, "put an interrupted current school back at the front of pending"},
    {"recover", rs_cmd_recover, "restore a missing or unreadable progress file from the git audit trail"},
    {"report", rs_cmd_report, "write the master report (CSV + xlsx) from the progress file and the CSVs"},
    {"merge", rs_cmd_merge, "merge the shards of a batch (start --shard I/N) into one progress file and report"},
    {"audit", rs_cmd_audit, "check each warm lead's evidence page for its quote and the coach's name"},
    {"doctor", rs_cmd_doctor, "pre-flight checklist: config, schools, agent, credentials, git, disk, prompt, lock"},
    {"hook", rs_cmd_hook, "`hook guard`: the PreToolUse guard Claude Code calls (wired in by start)"},
    {"replay", rs_cmd_replay, "run a recorded transcript through the parser and policy; print the decision"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: ralphsup <command> CONFIG [options]\n\n"
               "Runs the Claude Code CLI unattended over a batch of schools, one school per\n"
               "iteration, and keeps the run bounded, resumable and auditable.\n\ncommands:\n");
    for (size_t i = 0; i < RS_ARRAY_SIZE(commands); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`ralphsup help <command>` (or `ralphsup <command> --help`) describes each command;\n"
               "man ralphsup(1) and ralphsup.toml(5). Exit codes: docs/cli.md.\n");
}

/*
 * Hidden `ralphsup __list commands|keys`: the command table and the config
 * schema, one per line, for the checks that keep the man pages, the
 * completion and the docs from drifting (tests/docs/). Return: exit code.
 */
static int list_tables(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "commands") == 0) {
        for (size_t i = 0; i < RS_ARRAY_SIZE(commands); i++)
            printf("%s\n", commands[i].name);
        return RS_EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "keys") == 0) {
        const char *sec, *key;
        for (size_t i = 0; rs_config_schema_key(i, &sec, &key); i++)
            printf("%s.%s\n", sec, key);
        return RS_EXIT_OK;
    }
    fprintf(stderr, "usage: ralphsup __list commands|keys\n");
    return RS_EXIT_USAGE;
}

void rs_cli_print_diags(const struct rs_diags *d, const char *prefix)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "%s%s\n", prefix ? prefix : "", d->msgs[i]);
}

int rs_cli_fail(struct rs_diags *d, int ex)
{
    rs_cli_print_diags(d, "ralphsup: ");
    rs_diags_deinit(d);
    return ex;
}

void rs_cli_warn_lenient(const char *config, const struct rs_diags *problems, const char *progress,
                         const char *purpose)
{
    fprintf(stderr, "ralphsup: warning: %s has errors (%s", config, problems->n ? problems->msgs[0] : "invalid");
    if (problems->n > 1)
        fprintf(stderr, "; and %zu more", problems->n - 1);
    if (progress)
        fprintf(stderr, "); using progress file %s %s (`ralphsup doctor %s` lists every problem)\n", progress,
                purpose, config);
    else
        fprintf(stderr, "); reading only its [batch] root and progress (`ralphsup doctor %s` lists every problem)\n",
                config);
}

int rs_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int rs_cli_help(int argc, char **argv, const char *help)
{
    int h = rs_cli_wants_help(argc, argv);
    if (h)
        fputs(help, stdout);
    return h;
}

int rs_cli_shard_arg(const char *cmd, const char *value)
{
    struct rs_shard sh;
    char err[256];
    if (rs_shard_parse(value, getenv("JOB_COMPLETION_INDEX"), getenv("SLURM_ARRAY_TASK_ID"), &sh, err, sizeof err) ==
        0)
        return 0;
    fprintf(stderr, "ralphsup %s: --shard %s\n", cmd, err);
    return RS_EXIT_USAGE;
}

/* Whether stdout is a pipe whose reading end is closed (Linux reports POLLERR then). */
static bool stdout_reader_gone(void)
{
    struct pollfd p = {.fd = STDOUT_FILENO, .events = 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

int rs_cli_flush_stdout(int ex)
{
    errno = 0;
    bool failed = fflush(stdout) == EOF;
    int e = errno;
    if (!failed && !ferror(stdout))
        return ex;
    /* The reader stopped reading (`| head -1`): what it read is right, nothing failed here. */
    if (e == EPIPE || stdout_reader_gone())
        return ex;
    fprintf(stderr, "ralphsup: cannot write the output: %s\n", strerror(e ? e : EIO));
    return ex ? ex : RS_EXIT_IOERR;
}

int rs_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return RS_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 && argc == 3) {
        /* `ralphsup help start` is `ralphsup start --help`. */
        for (size_t i = 0; i < RS_ARRAY_SIZE(commands); i++)
            if (strcmp(argv[2], commands[i].name) == 0) {
                char help[] = "--help";
                return commands[i].fn(2, (char *[]){argv[2], help, NULL});
            }
        fprintf(stderr, "ralphsup help: unknown command \"%s\"\n\n", argv[2]);
        usage(stderr);
        return RS_EXIT_USAGE;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return RS_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("ralphsup %s\n", RALPHSUP_VERSION);
        return RS_EXIT_OK;
    }
    for (size_t i = 0; i < RS_ARRAY_SIZE(commands); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    /* Hidden: spawned by the runner, never typed (docs/processes.md). */
    if (strcmp(cmd, "keeper") == 0)
        return rs_cmd_keeper(argc - 1, argv + 1);
    if (strcmp(cmd, "__list") == 0)
        return list_tables(argc - 1, argv + 1);
    fprintf(stderr, "ralphsup: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return RS_EXIT_USAGE;
}
