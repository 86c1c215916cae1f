/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's decisions as pure functions: what one finished iteration
 * means (completed / item failure / transient / fatal / cancelled / stopped
 * by a batch limit), whether a school has attempts left, how long to back
 * off after a transient error, and which batch limit (if any) forbids the
 * next spawn. No I/O, no libuv, no clock: time and randomness are inputs,
 * so every row of docs/failures.md has a table-driven unit test.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ralphsup/base/common.h"
#include "ralphsup/core/config.h"
#include "ralphsup/base/utf8.h"

/* Why the supervisor itself ended an iteration (set before classifying). */
enum rs_kill_reason {
    RS_KILL_NONE = 0,
    RS_KILL_TIMEOUT,      /* iteration_timeout */
    RS_KILL_STALL,        /* stall_timeout: no output bytes */
    RS_KILL_REPEAT,       /* max_identical_tool_calls */
    RS_KILL_SCHOOL_COST,  /* max_cost_per_school_usd */
    RS_KILL_BATCH_COST,   /* max_cost_usd */
    RS_KILL_RUNTIME,      /* max_runtime */
    RS_KILL_CANCEL,       /* SIGINT / SIGTERM / `ralphsup stop` */
    RS_KILL_AUTH,         /* authentication failure seen in an api_retry line */
    RS_KILL_DRAIN,        /* the batch stops for another worker's reason (jobs > 1) or a failed save */
    RS_KILL_NO_START,     /* first_output_timeout: not one line on stdout since the spawn */
};

/* Everything observed about one iteration. Strings are borrowed. */
struct rs_iter_obs {
    int spawn_error;          /* negative errno when the agent could not be started */
    bool exited;
    int exit_code;            /* valid when exited and !term_signal */
    int term_signal;          /* signal that ended the agent, 0 if none */
    enum rs_kill_reason killed;
    const char *kill_detail;  /* e.g. "repeated Bash `curl …` 5×" */

    bool got_init;                /* the CLI printed its system/init line */
    const char *retry_waiting;    /* the CLI's last line was an api_retry (it was waiting out a rate
                                   * limit or an overload): its text, else NULL */
    const char *stderr_head;      /* first line of the agent's stderr, or NULL */
    bool got_result;
    const char *result_subtype;   /* "success", "error_max_budget_usd", ... */
    bool result_is_error;
    int api_error_status;         /* 0 when absent/null */
    const char *result_text;      /* result.result (may be NULL) */
    const char *result_errors;    /* result.errors joined with "; " (may be NULL) */
    const char *synthetic_error;  /* assistant top-level "error" (rate_limit, ...) */
    const char *synthetic_text;   /* its text ("API Error: ...") */
    bool auth_failure;            /* api_retry error authentication_failed or 401 */
    bool usage_limit;             /* rate_limit_event status "rejected" with resetsAt */
    int64_t usage_reset_ms;       /* epoch ms of resetsAt */
    const char *budget_limit;     /* which cap --max-budget-usd carried: "max_cost_usd" or
                                   * "max_cost_per_school_usd" */

    bool done_marker;             /* a RALPH_DONE for this school */
    bool done_verified;
    const char *verify_error;     /* why verification failed */
    bool failed_marker;           /* a RALPH_FAILED for this school */
    const char *failed_reason;
    bool failed_retryable;
    const char *invalid_marker;   /* a malformed marker's problem, if any */
    const char *other_marker;     /* the first RALPH_DONE/RALPH_FAILED ignored because it named
                                   * another school: "RALPH_DONE for \"X\"" */
};

enum rs_verdict_kind {
    RS_VERDICT_COMPLETED,
    RS_VERDICT_ITEM_FAILED,  /* counts an attempt */
    RS_VERDICT_TRANSIENT,    /* does not count an attempt; back off and retry */
    RS_VERDICT_FATAL,        /* stop the batch now */
    RS_VERDICT_CANCELLED,    /* requeue at the front, no attempt counted */
    RS_VERDICT_LIMIT,        /* a batch limit stopped it: requeue, RS_E_LIMIT */
};

struct rs_verdict {
    enum rs_verdict_kind kind;
    bool permanent;          /* ITEM_FAILED: fail the school now, no retry */
    enum rs_err err;         /* FATAL: what failed (RS_E_UNAVAILABLE, RS_E_AUTH, RS_E_CONFIG); LIMIT, or
                              * COMPLETED when the same iteration crossed a batch limit: RS_E_LIMIT;
                              * else RS_OK. The CLI maps it to the exit code. */
    const char *limit;       /* LIMIT: the limit key */
    int64_t wait_until_ms;   /* TRANSIENT usage limit: wait until (epoch ms), else 0 */
    char reason[RS_TEXT_MAX + 1]; /* valid UTF-8, cut at a character boundary with "…" (rs_utf8_copy) */
};

/* Classify one finished iteration. */
void rs_policy_classify(const struct rs_iter_obs *o, struct rs_verdict *v);

/* Class name for logs/progress: "completed", "item", "transient", "fatal", "cancelled", "limit". */
const char *rs_verdict_class(enum rs_verdict_kind k);

/*
 * rs_policy_backoff_ms() - delay before retrying after the @n-th consecutive
 * transient failure (n >= 1): min(base * 2^(n-1), max) plus 0..25 % jitter,
 * where @rand01 in [0,1) is supplied by the caller.
 */
int64_t rs_policy_backoff_ms(const struct rs_limits *l, int n, double rand01);

/* Batch state the limits are checked against. */
struct rs_batch_usage {
    int64_t iterations;       /* persisted iteration count */
    double cost_usd;          /* batch spend so far */
    int64_t runtime_ms;       /* this invocation */
};

/*
 * rs_policy_spawn_limit() - the batch limit that forbids starting another
 * iteration, or NULL. @reason (>= 256 bytes) gets the human text, e.g.
 * "max_iterations reached (30 of 30)".
 */
const char *rs_policy_spawn_limit(const struct rs_limits *l, const struct rs_batch_usage *u, char *reason, size_t n);

/*
 * rs_policy_running_limit() - a limit that must stop the iteration in flight:
 * batch cost (with @iter_cost added), per-school cost (@school_cost =
 * previous attempts + this one), or runtime. Returns the kill reason or
 * RS_KILL_NONE and fills @reason.
 */
enum rs_kill_reason rs_policy_running_limit(const struct rs_limits *l, const struct rs_batch_usage *u,
                                            double iter_cost, double school_cost, char *reason, size_t n);

/*
 * rs_policy_budget() - the value for claude's --max-budget-usd: the smaller of
 * the batch's and the school's remaining budget; *which names it. Returns a
 * negative number when neither limit is set.
 */
double rs_policy_budget(const struct rs_limits *l, double batch_spent, double school_spent, const char **which);

/*
 * Cost of one API message's usage at @price (USD); @cache_write is priced as
 * 5-minute cache writes.
 */
struct rs_price;
double rs_policy_usage_cost(const struct rs_price *price, int64_t input, int64_t output, int64_t cache_write,
                            int64_t cache_read);

/* Tokens of one API message by price class. */
struct rs_policy_tokens {
    int64_t input;
    int64_t output;
    int64_t cache_write_5m; /* also cache writes not split by lifetime */
    int64_t cache_write_1h;
    int64_t cache_read;
};
/* Cost of @t at @price (USD): 1-hour cache writes at cache_write_1h. */
double rs_policy_tokens_cost(const struct rs_price *price, const struct rs_policy_tokens *t);
