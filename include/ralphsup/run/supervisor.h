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
 * batch (with the lock) and maps the returned enum rs_err to the exit code.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ralphsup/store/batch.h"

struct rs_run_opts {
    const char *self_exe;          /* absolute path of the ralphsup binary (for the guard hook) */
    int64_t max_iterations;        /* > 0: overrides [limits] max_iterations (also after reloads) */
    int64_t max_runtime_ms;        /* >= 0: overrides [limits] max_runtime (0 = unlimited); < 0: not given */
    double max_cost_usd;           /* >= 0: overrides [limits] max_cost_usd (0 = unlimited); < 0: not given */
    int64_t jobs;                  /* > 0: overrides [limits] jobs (also after reloads) */
    bool tty;                      /* draw a live status line */
    bool no_report;                /* skip the report on finish */
    int64_t max_schools;           /* > 0: a trial run, stop cleanly after this many schools finished */
    int (*exit_code)(int err);     /* required: the CLI's rs_exit_code(), for the exit code that the
                                    * "stopped" commit, batch-stopped event and line name */
};

/* Apply the command-line overrides of @o to @l (at start and after every reload). */
void rs_run_opts_apply(const struct rs_run_opts *o, struct rs_limits *l);

/*
 * rs_supervisor_check() - what rs_supervisor_run() checks before it runs
 * anything, without running it: the prompt template loads (no unknown or
 * unterminated placeholder), the hook settings fragments
 * (<root>/hooks/<name>.settings.json) are valid, the agent command is found.
 * `start` calls it before its first commit, so a broken input changes
 * nothing.
 * Return: 0, or RS_E_NOINPUT (no prompt), RS_E_CONFIG (bad prompt or
 * fragment), RS_E_UNAVAILABLE (agent not found) with the reasons in @d.
 */
int rs_supervisor_check(const struct rs_batch *b, const struct rs_run_opts *o, struct rs_diags *d);

/*
 * rs_supervisor_limit_hint() - the way on after batch limit @limit
 * ("max_iterations", "max_cost_usd" or "max_runtime") stopped the run,
 * e.g. "to go on: `ralphsup start CONFIG --max-iterations 40`, or raise
 * [limits] max_iterations in CONFIG". Uses b->cfg->limits (overrides
 * applied) and b->prog. Return: a new string (caller frees), NULL for
 * another @limit.
 */
char *rs_supervisor_limit_hint(const struct rs_batch *b, const char *limit);

/*
 * rs_supervisor_run() - run the batch until nothing is pending, a limit
 * stops it, a fatal error occurs or a signal cancels it.
 * Return: how it ended: RS_OK finished, RS_E_LIMIT, RS_E_UNAVAILABLE (agent
 * unavailable or a fatal API error), RS_E_TRANSIENTS, RS_E_AUTH,
 * RS_E_CONFIG (a bad model, or the inputs of rs_supervisor_check()),
 * RS_E_NOINPUT, RS_E_CANTCREAT (the event log), RS_E_IO (the progress file
 * could not be saved), RS_E_SIGINT / RS_E_SIGTERM cancelled.
 */
enum rs_err rs_supervisor_run(struct rs_batch *b, const struct rs_run_opts *o);
