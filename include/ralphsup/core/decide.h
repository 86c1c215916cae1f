/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's decisions, whole, as pure functions of their inputs:
 *
 * - rs_decide_iteration(): what one finished iteration showed, the school's
 *   history, the limits, the batch and the time → the class, what happens
 *   to the school (complete / retry / fail / requeue), the backoff (jitter
 *   is an input), a pause or a rate-limit signal, and whether the batch
 *   stops with which enum rs_err.
 * - rs_decide_spawn(): whether another worker may start now (the batch
 *   limits, the concurrency target, the stagger, the shared budget, the
 *   per-school cap before spawning) and the --max-budget-usd it gets.
 * - rs_decide_running(): whether an iteration in flight must be stopped
 *   (timeouts, stall, the batch cost summed over every worker, the school
 *   cap, the runtime).
 * - struct rs_ratelimit: the account-wide concurrency target (halved on a
 *   rate-limit or overload signal, raised by one after ramp_up_after
 *   without one, up to jobs).
 *
 * No clock, no randomness, no I/O: time and a random number in [0,1) are
 * arguments, so tests/unit/core/test_decide.c is one table row per case.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ralphsup/core/policy.h"

enum rs_decision_action {
    RS_DO_COMPLETE = 0, /* completed: moved to completed */
    RS_DO_RETRY,        /* a failed attempt with attempts left: back to the front of pending */
    RS_DO_FAIL,         /* a failed attempt, none left (or permanent): moved to failed */
    RS_DO_REQUEUE,      /* no attempt counted (transient, cancel, limit, fatal): back to the front */
};

struct rs_decide_in {
    const struct rs_iter_obs *obs; /* what the iteration showed */
    int failed_attempts;           /* the school's failed attempts before this one */
    int consecutive_transients;    /* batch-wide, before this iteration */
    const struct rs_limits *limits;
    int64_t now_ms;                /* epoch ms */
    double rand01;                 /* jitter in [0,1) */
    enum rs_err stopping;          /* the batch already stops with this (a cancel: RS_E_SIGINT/SIGTERM;
                                    * a drain after another worker's stop), else RS_OK */
    bool more_work;                /* other schools remain (pending or in flight) after this one */
};

struct rs_decision {
    struct rs_verdict v;           /* the class (rs_policy_classify) */
    enum rs_decision_action action;
    int attempts_failed;           /* the school's failed attempts after this one */
    int consecutive_transients;    /* after this one */
    int64_t backoff_ms;            /* TRANSIENT: no new start before now + backoff_ms */
    int64_t pause_until_ms;        /* a usage limit: the batch pauses until then (epoch ms), else 0 */
    bool rate_limited;             /* a rate-limit / overload signal: lower the concurrency target */
    bool stop;                     /* the batch stops (the others are stopped and requeued) */
    enum rs_err err;               /* why it stops (RS_OK when !stop) */
    const char *limit;             /* the limit key of the stop, or NULL */
};

void rs_decide_iteration(const struct rs_decide_in *in, struct rs_decision *d);

/* A rate-limit or overload signal: an api_retry with 429 / 529 or error rate_limit / overloaded. */
bool rs_decide_is_rate_signal(int status, const char *error);

enum rs_spawn_kind {
    RS_SPAWN_GO = 0,      /* start a worker now, with .budget */
    RS_SPAWN_WAIT,        /* not before .wait_ms from now (backoff, stagger, pause) */
    RS_SPAWN_HOLD,        /* not until a worker finishes (target reached, budget in flight, limit) */
    RS_SPAWN_STOP,        /* a batch limit and nothing in flight: stop with .err / .limit */
    RS_SPAWN_DONE,        /* nothing pending and nothing in flight: the batch is finished */
    RS_SPAWN_FAIL_SCHOOL, /* the school's earlier attempts used up max_cost_per_school_usd: fail it unspawned */
};

struct rs_spawn_in {
    const struct rs_limits *limits;
    struct rs_batch_usage usage;   /* iterations, cost spent (finished attempts), runtime */
    bool have_pending;
    int running;                   /* workers in flight */
    int target;                    /* the concurrency target (rs_ratelimit) */
    double inflight_cost;          /* streamed cost of the workers in flight */
    double expected_cost;          /* rs_decide_expected_cost() */
    double school_cost;            /* the next school's spend over earlier attempts */
    int64_t now_ms;                /* any monotonic ms clock ... */
    int64_t not_before_ms;         /* ... and the earliest next start on it (backoff, pause) */
    int64_t last_start_ms;         /* the last start on it: spawn_interval staggers the starts while
                                    * another worker is in flight (never with jobs = 1) */
};

struct rs_spawn_decision {
    enum rs_spawn_kind kind;
    int64_t wait_ms;
    enum rs_err err;               /* STOP: RS_E_LIMIT */
    const char *limit;             /* STOP: the limit key; HOLD: why ("jobs", "max_cost_usd", ...) */
    double budget;                 /* GO: --max-budget-usd, < 0 for none */
    const char *budget_limit;      /* GO: the cap behind it */
    char reason[256];              /* STOP, FAIL_SCHOOL: the human text */
};

void rs_decide_spawn(const struct rs_spawn_in *in, struct rs_spawn_decision *d);

/* The median of @n costs (sorted in place); with none, @cap (max_cost_per_school_usd) when > 0, else 0. */
double rs_decide_expected_cost(double *costs, size_t n, double cap);

/* One worker's busy time: an attempt from its start to its end (epoch ms). */
struct rs_interval {
    int64_t start, end;
};

/*
 * The concurrency a batch achieved: the summed length of @iv over the length
 * of their union (the time at least one worker ran), so a batch that stood
 * still between runs is not counted as slow. At least 1; 1 when @iv holds no
 * interval of positive length. Sorts @iv in place.
 */
double rs_decide_concurrency(struct rs_interval *iv, size_t n);

struct rs_running_in {
    const struct rs_limits *limits;
    struct rs_batch_usage usage;   /* cost_usd: spent plus the other workers' streamed cost */
    double iter_cost;              /* this worker's streamed cost */
    double school_cost_before;     /* the school's earlier attempts */
    bool check_time;               /* also the timeouts (on the tick) */
    int64_t elapsed_ms;            /* since the spawn */
    int64_t silent_ms;             /* since the last output byte */
    bool got_output;               /* a line on stdout since the spawn */
    int64_t retry_wait_ms;         /* rs_iteration_retry_wait(): the CLI is waiting out an API retry
                                    * this long (0: it is not); the stall deadline moves by as much */
    const char *retry_what;        /* its text, for the reason */
};

/* The kill reason for an iteration in flight, or RS_KILL_NONE; @reason (>= 256 bytes) says why. */
enum rs_kill_reason rs_decide_running(const struct rs_running_in *in, char *reason, size_t n);

struct rs_ratelimit {
    int jobs;               /* [limits] jobs */
    int target;             /* workers allowed in flight now, 1..jobs */
    int64_t calm_since_ms;  /* the last signal or raise */
    int64_t signals;        /* signals seen */
    bool limited;           /* lowered by a signal and not yet back at jobs */
};

void rs_ratelimit_init(struct rs_ratelimit *rl, int jobs, int64_t now_ms);
/* A signal: halve the target (minimum 1). Return: true when the target changed. */
bool rs_ratelimit_signal(struct rs_ratelimit *rl, int64_t now_ms);
/* Raise the target by one after @ramp_up_after_ms without a signal. Return: true when raised. */
bool rs_ratelimit_tick(struct rs_ratelimit *rl, int64_t ramp_up_after_ms, int64_t now_ms);
/* A reload: raised, the target follows when it was not lowered; lowered, the target is capped. */
void rs_ratelimit_set_jobs(struct rs_ratelimit *rl, int jobs);
