/* SPDX-License-Identifier: MIT */
/*
 * The iteration keeper: a small process between the supervisor and one
 * agent (`ralphsup keeper --grace MS --token T --watch-fd 3 -- CMD ARGS…`,
 * spawned by run/runner.c) that holds the agent's whole tree and outlives
 * the supervisor by design. It is a child subreaper, so every orphan of the
 * tree — also a tool the agent started in its own session, as Claude Code's
 * Bash tool does — is reparented to it and stays below it. It watches the
 * supervisor three ways: EOF on the read end of a pipe whose only write end
 * the supervisor holds (no window: the pipe exists before the fork), a
 * parent-death signal (SIGTERM), and getppid() changing. When the supervisor
 * is gone it sends SIGTERM to every descendant (and every carrier of the run
 * token), waits up to the grace period, sends SIGKILL to what is left, waits
 * until nothing is left and exits. Why a keeper and not a cgroup:
 * docs/processes.md.
 *
 * While the supervisor lives the keeper is transparent: the agent gets the
 * keeper's argv after `--` unchanged (argv[0] is the path executed), the
 * environment unchanged, stdin/stdout/stderr unchanged (the keeper points
 * its own copies at /dev/null, so only the agent's tree holds the pipes),
 * the default signal dispositions and an empty signal mask; the keeper's
 * exit status is the agent's (rs_keeper_exit() re-raises a fatal signal).
 * SIGTERM, SIGINT or SIGHUP to the keeper: SIGTERM to every descendant, then
 * SIGKILL after the grace period; the keeper exits as soon as the agent has
 * (what is left then reparents to the supervisor, a subreaper too, which
 * kills it as before).
 *
 * With a fence (`--fence ABI --write PATH…`) the forked child applies the
 * Landlock ruleset (rs_sandbox_apply()) just before it executes the agent;
 * the keeper itself stays unfenced. A fence that cannot be applied is never
 * skipped: the child exits 126 without running the agent.
 *
 * Deliberately not here: option parsing and messages (cli/cli_keeper.c),
 * libuv (the keeper runs a plain poll loop on a signalfd).
 */
#pragma once

#include <stdint.h>

struct rs_keeper_opts {
    char *const *argv;  /* the agent: argv[0] is executed as is (execv), NULL-terminated */
    const char *token;  /* run token also searched for when killing; NULL: descendants only */
    int64_t grace_ms;   /* SIGTERM → @grace_ms → SIGKILL */
    int watch_fd;       /* read end of the supervisor's pipe (EOF: gone); -1: none */
    int fence_abi;      /* > 0: the agent runs fenced (run/sandbox.h) with this Landlock ABI */
    const char *const *fence_paths; /* what the fenced agent may write (`--write P`, repeated) */
    size_t nfence_paths;
};

/*
 * rs_keeper_run() - become a child subreaper, fork and exec the agent, keep
 * its tree until the agent exits (or, with the supervisor gone, until the
 * whole tree is gone). Returns only in the keeper.
 * Return: the agent's wait status (>= 0), or negative errno when it could
 * not be started (fork failed); an agent that cannot be executed exits 127.
 */
int rs_keeper_run(const struct rs_keeper_opts *o);

/*
 * rs_keeper_exit() - end the calling process with wait status @status: the
 * same exit code, or the same signal (re-raised with its default action and
 * no core dump). Does not return.
 */
_Noreturn void rs_keeper_exit(int status);
