/* SPDX-License-Identifier: MIT */
/*
 * The supervisor: one libuv loop that runs the batch to its end — take the
 * next pending school, mark it current (commit), render the prompt, spawn
 * the agent through the runner, feed its stdout through the stream reader
 * into the iteration observer, enforce the limits while it runs, classify
 * the outcome with the policy, record it (commit), and go on — plus the
 * signals: SIGHUP reloads [limits], SIGINT/SIGTERM cancel cleanly (a second
 * one kills at once).
 *
 * It owns the loop and the batch's lifetime while it runs; the CLI opens the
 * batch (with the lock) and maps the returned exit code.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ralphsup/batch.h"

struct rs_run_opts {
    const char *self_exe;          /* absolute path of the ralphsup binary (for the guard hook) */
    int64_t max_iterations;        /* > 0: overrides [limits] max_iterations (also after reloads) */
    int64_t max_runtime_ms;        /* > 0: overrides [limits] max_runtime */
    double max_cost_usd;           /* > 0: overrides [limits] max_cost_usd */
    bool tty;                      /* draw a live status line */
    bool no_report;                /* skip the report on finish */
};

/*
 * rs_supervisor_run() - run the batch until nothing is pending, a limit
 * stops it, a fatal error occurs or a signal cancels it.
 * Return: the process exit code (docs/cli.md): 0 finished, 3 limit,
 * 69 agent unavailable, 75 too many transient errors, 77 authentication,
 * 78 config, 130/143 cancelled.
 */
int rs_supervisor_run(struct rs_batch *b, const struct rs_run_opts *o);
