/* SPDX-License-Identifier: MIT */
/*
 * One iteration's bookkeeping, independent of how the bytes arrive: it
 * consumes stream events (stream.h) for one school and keeps what the
 * policy needs — session, running cost estimate (each API message counted
 * once, priced by model), the last tool, identical-tool-call loop detection,
 * progress markers for this school (markers for another school are ignored
 * and noted), API errors, retries, usage-limit rejections, the result line —
 * and at the end verifies a RALPH_DONE claim against the CSV on disk (the
 * lead contract of verify.h, at the configured [verify] level) and fills
 * struct rs_iter_obs for rs_policy_classify().
 *
 * Used live by the supervisor and offline by `ralphsup replay`, so both
 * decide identically. No libuv, no clock; the CSV check reads and stats the
 * file and compares its mtime with the attempt start the caller passed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ralphsup/core/config.h"
#include "ralphsup/core/policy.h"
#include "ralphsup/core/schools.h"
#include "ralphsup/core/stream.h"

struct rs_iteration; /* opaque */

/*
 * The estimate's self-calibration, shared by the iterations of one run
 * (docs/progress.md, "Cost estimate"): per model, the ratio of the CLI's
 * total_cost_usd to ralphsup's own estimate over the iterations that ended
 * with a result line (sum of actual / sum of estimated), clamped to
 * [RS_COST_CALIB_MIN, RS_COST_CALIB_MAX]. The estimates of later iterations
 * of that model are multiplied by it. Not persisted.
 */
#define RS_COST_CALIB_MIN 0.5
#define RS_COST_CALIB_MAX 4.0
#define RS_COST_CALIB_MIN_USD 0.0001 /* iterations whose estimate or cost is below this are not used */
struct rs_cost_calib; /* opaque */
struct rs_cost_calib *rs_cost_calib_new(void);
struct rs_cost_calib *rs_cost_calib_free(struct rs_cost_calib *c);
/* The factor applied to estimates for @model: 1 until a result line taught one. */
double rs_cost_calib_ratio(const struct rs_cost_calib *c, const char *model);

/* What the caller should do after an event. */
enum rs_iter_action {
    RS_ITER_CONTINUE = 0,
    RS_ITER_KILL_REPEAT, /* identical tool call limit reached: stop as stuck */
    RS_ITER_KILL_AUTH,   /* authentication failure: stop now, fatal */
};

/*
 * Notes for the log: @kind is a short event name ("marker", "marker-ignored",
 * "marker-invalid", "tool", "api-retry", "api-error", "usage-limit",
 * "permission-denied", "tool-error", "bad-line", "oversize-line",
 * "truncated-output", "result", "init", "price-unknown"); @msg a human
 * sentence. Both borrowed.
 */
typedef void (*rs_iter_note_cb)(void *ud, const char *kind, const char *msg);

struct rs_iteration_opts {
    const struct rs_config *cfg;       /* prices, limits, output_dir, root, truthy */
    const struct rs_aliases *aliases;  /* marker school names may be aliases */
    const char *school;                /* canonical name of the current school */
    const char *school_slug;
    rs_iter_note_cb note;              /* may be NULL */
    void *ud;
    const struct rs_cost_calib *calib; /* scales the estimate; may be NULL (factor 1) */
    /* For the lead checks of a RALPH_DONE (verify.h, [verify] level "leads"): */
    const char *const *email_domains;  /* the school's, copied; NULL/0: any domain */
    size_t nemail_domains;
    int64_t attempt_started_ms;        /* epoch ms; 0: the CSV's mtime is not checked (replay) */
    /* The assigned CSV's mtime (ns since the epoch) when the attempt started, -1 when it did not
     * exist; 0: not taken (freshness then compares the mtime with attempt_started_ms). */
    int64_t csv_before_ns;
    /* The iteration's work directory (run/sandbox.h), copied: a RALPH_DONE CSV must be there, at
     * <work_dir>/<slug>.csv, instead of in output_dir (the supervisor publishes it). NULL: output_dir. */
    const char *work_dir;
};

int rs_iteration_new(const struct rs_iteration_opts *o, struct rs_iteration **out);
struct rs_iteration *rs_iteration_free(struct rs_iteration *it);

/* Feed one stream event; returns what to do. */
enum rs_iter_action rs_iteration_on_event(struct rs_iteration *it, const struct rs_stream_event *ev);

/* Bytes of the agent's stderr: the first line is kept for the verdict. */
void rs_iteration_stderr(struct rs_iteration *it, const char *data, size_t len);

/* Cost so far: the result's total_cost_usd when it came, else the estimate. */
double rs_iteration_cost(const struct rs_iteration *it, bool *estimated);
/*
 * The estimate alone, even after a result line: the sum over the API
 * messages seen (each once, priced by its model: input, 5-minute and 1-hour
 * cache writes, cache reads, and output from the message's final usage, or
 * from its content size when none came), times the calibration ratio when
 * @calibrated.
 */
double rs_iteration_estimate(const struct rs_iteration *it, bool calibrated);
/* The iteration's model: system/init's, else the first API message's; NULL before either. */
const char *rs_iteration_model(const struct rs_iteration *it);

/* What one calibration step did (strings owned by the iteration). */
struct rs_cost_calibration {
    const char *model;
    double estimate;     /* this iteration's uncalibrated estimate */
    double actual;       /* its total_cost_usd */
    double ratio_before; /* the factor until now */
    double ratio;        /* the factor from now on (clamped) */
    bool clamped;
};
/*
 * rs_iteration_calibrate() - after the result line: add this iteration's
 * estimate and total_cost_usd to @c. Return: true (and @out filled) when
 * they were used; false without a result, cost, model, or when either is
 * below RS_COST_CALIB_MIN_USD, or when already done for this iteration.
 */
bool rs_iteration_calibrate(struct rs_iteration *it, struct rs_cost_calib *c, struct rs_cost_calibration *out);
/* Kill detail after RS_ITER_KILL_* ("repeated Bash `curl …` 5×"). */
const char *rs_iteration_kill_detail(const struct rs_iteration *it);
const char *rs_iteration_session(const struct rs_iteration *it);
const char *rs_iteration_last_tool(const struct rs_iteration *it);
const char *rs_iteration_last_progress(const struct rs_iteration *it);
/*
 * When the CLI's last stdout line was an api_retry (it is waiting out a rate
 * limit or an overload before its next try): the delay it announced in ms
 * (at least 1) and in @what a text ("API retry 3/10 (rate_limit 429)"); else 0.
 */
int64_t rs_iteration_retry_wait(const struct rs_iteration *it, const char **what);
/* Counters for the closing event. */
struct rs_iteration_counts {
    int64_t api_messages;
    int64_t tool_calls;
    int64_t api_retries;
    int64_t permission_denials;
    int64_t bad_lines;
    int64_t oversize_lines;
    int64_t markers_ignored;
};
void rs_iteration_counts(const struct rs_iteration *it, struct rs_iteration_counts *c);

/* The verified RALPH_DONE figures (valid when the verdict is COMPLETED). */
struct rs_iteration_done {
    int64_t coaches;
    int64_t overlaps;
    const char *csv_rel; /* relative to the batch root */
    const char *csv_abs;
    const char *review; /* why the school should be reviewed (yes share), or NULL */
};
bool rs_iteration_done(const struct rs_iteration *it, struct rs_iteration_done *d);

/*
 * rs_iteration_finish() - the process ended: verify a RALPH_DONE claim and
 * fill @obs (strings in @obs stay owned by @it). @killed/@kill_detail say
 * whether the supervisor stopped it; @budget_limit names the cap behind
 * --max-budget-usd (or NULL).
 */
void rs_iteration_finish(struct rs_iteration *it, int spawn_error, bool exited, int exit_code, int term_signal,
                         enum rs_kill_reason killed, const char *kill_detail, const char *budget_limit,
                         struct rs_iter_obs *obs);
