/* SPDX-License-Identifier: MIT */
/*
 * The live-status file, <log_dir>/live.json: what the running supervisor is
 * doing right now (school, attempt, last tool, last progress marker, cost so
 * far, what it waits for), rewritten at most once a second and removed when
 * it exits. The supervisor writes it; `status` reads it while the lock says a
 * supervisor runs. It is a hint, never state: a missing or unreadable file
 * only means fewer details (docs/cli.md, "Logs").
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* One worker in flight (jobs > 1 has several). */
struct rs_live_worker {
    int slot;              /* 0-based worker slot */
    const char *school;
    int attempt;
    int64_t iteration;
    long agent_pid;
    int64_t running_ms;
    double cost_usd;
    bool cost_estimated;
    const char *last_tool;
    const char *last_progress;
    const char *waiting;   /* the CLI is waiting out an API retry: "API retry 3/10 (rate_limit 429)" */
};

/* What the writer knows; strings may be NULL (then the key is left out). */
struct rs_live {
    long pid;              /* the supervisor's */
    int64_t updated_ms;    /* wall clock of this write */
    bool active;           /* an iteration runs: the fields up to last_progress are set */
    const char *school;
    int attempt;
    int64_t iteration;
    long agent_pid;        /* 0 while not spawned */
    double cost_usd;
    bool cost_estimated;
    const char *last_tool;
    const char *last_progress;
    const char *waiting;   /* e.g. "backoff 30s", or NULL */
    const struct rs_live_worker *workers; /* every worker in flight ("workers"); the fields above
                                           * repeat the one in flight longest */
    size_t nworkers;
    int jobs;              /* [limits] jobs; 0: not written */
    int target;            /* the concurrency target of the rate limiter */
};

/*
 * rs_live_write() - replace @path with @l as one JSON object (secrets
 * redacted, crash-safe write).
 * Return: 0 or negative errno.
 */
int rs_live_write(const char *path, const struct rs_live *l);

/* What a reader gets back; absent values are NULL / has_cost false. */
struct rs_live_view_worker {
    char *school;
    int slot;
    bool has_cost;
    double cost_usd;
    char *last_tool;
    char *waiting;
};

struct rs_live_view {
    struct rs_live_view_worker *workers;
    size_t nworkers;
    int jobs, target;      /* 0 when absent */
    bool has_cost;
    double cost_usd;
    char *last_tool;
    char *last_progress;
    char *waiting;
};

/*
 * rs_live_read() - read @path into @v (zeroed first).
 * Return: 0; -ENOENT when there is no file, -EINVAL when it is not a JSON
 * object (@v stays empty either way). Release with rs_live_view_deinit().
 */
int rs_live_read(const char *path, struct rs_live_view *v);
void rs_live_view_deinit(struct rs_live_view *v);
