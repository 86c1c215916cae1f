/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup keeper --grace MS [--token T] [--watch-fd FD] -- CMD ARGS…`: the
 * hidden subcommand that run/runner.c spawns between the supervisor and each
 * agent (not listed in the usage: nobody runs it by hand). It parses its
 * options, hands over to rs_keeper_run() (run/keeper.c) and ends with the
 * agent's status: the same exit code, or the same signal. Its own failures
 * (bad arguments, cannot fork) exit 64 / 71 before any agent runs; an agent
 * that cannot be executed exits 127 as with a shell.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/cli/cli.h"
#include "ralphsup/cli/exitcode.h"
#include "ralphsup/run/keeper.h"

static const char keeper_help[] =
    "usage: ralphsup keeper --grace MS [--token T] [--watch-fd FD] [--fence ABI --write PATH...] -- CMD ARGS...\n\n"
    "Internal: `ralphsup start` runs each agent under a keeper that holds the agent's\n"
    "whole process tree (it is a child subreaper) and, when the supervisor is gone\n"
    "(EOF on FD, a parent-death signal), sends SIGTERM to every descendant, SIGKILL\n"
    "after MS milliseconds, and exits once nothing is left. Otherwise it exits with\n"
    "the agent's status. With --fence the agent runs inside a Landlock ruleset that\n"
    "lets it write only below the --write paths (docs/security.md). Details: docs/processes.md.\n";

static int parse_num(const char *s, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

int rs_cmd_keeper(int argc, char **argv)
{
    struct rs_keeper_opts o = {.watch_fd = -1, .grace_ms = -1};
    const char **writes = calloc((size_t)argc + 1, sizeof *writes);
    if (!writes)
        return RS_EXIT_OSERR;
    o.fence_paths = writes;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(keeper_help, stdout);
            free(writes);
            return RS_EXIT_OK;
        }
        long long v;
        if (i + 1 >= argc) {
            fprintf(stderr, "ralphsup keeper: %s needs a value\n", a);
            free(writes);
            return RS_EXIT_USAGE;
        }
        if (strcmp(a, "--grace") == 0) {
            if (parse_num(argv[++i], 24LL * 3600 * 1000, &v) < 0) {
                fprintf(stderr, "ralphsup keeper: --grace: expected milliseconds, got \"%s\"\n", argv[i]);
                free(writes);
                return RS_EXIT_USAGE;
            }
            o.grace_ms = v;
        } else if (strcmp(a, "--token") == 0) {
            o.token = argv[++i];
        } else if (strcmp(a, "--watch-fd") == 0) {
            if (parse_num(argv[++i], 1 << 20, &v) < 0) {
                fprintf(stderr, "ralphsup keeper: --watch-fd: expected a descriptor, got \"%s\"\n", argv[i]);
                free(writes);
                return RS_EXIT_USAGE;
            }
            o.watch_fd = (int)v;
        } else if (strcmp(a, "--fence") == 0) {
            if (parse_num(argv[++i], 1000, &v) < 0 || v < 1) {
                fprintf(stderr, "ralphsup keeper: --fence: expected a Landlock ABI version, got \"%s\"\n", argv[i]);
                free(writes);
                return RS_EXIT_USAGE;
            }
            o.fence_abi = (int)v;
        } else if (strcmp(a, "--write") == 0) {
            writes[o.nfence_paths++] = argv[++i];
        } else {
            fprintf(stderr, "ralphsup keeper: unknown option \"%s\"\n%s", a, keeper_help);
            free(writes);
            return RS_EXIT_USAGE;
        }
    }
    if (o.grace_ms < 0 || i >= argc) {
        fprintf(stderr, "ralphsup keeper: --grace MS and a command after -- are required\n%s", keeper_help);
        free(writes);
        return RS_EXIT_USAGE;
    }
    o.argv = argv + i;
    int st = rs_keeper_run(&o);
    free(writes);
    if (st < 0) {
        fprintf(stderr, "ralphsup keeper: cannot start %s: %s\n", o.argv[0], strerror(-st));
        return RS_EXIT_OSERR;
    }
    fflush(stdout);
    rs_keeper_exit(st);
}
