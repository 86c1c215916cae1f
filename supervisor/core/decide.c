/* SPDX-License-Identifier: MIT */
/*
 * The whole decision after an iteration, before a spawn and while one
 * runs. What used to be spread over the supervisor (attempts left, the
 * transient cap, backoff and jitter, the timeouts, the pre-spawn school
 * cap) is here, next to the classification it extends; the supervisor
 * only carries the decision out. With jobs = 1 every decision is the one
 * the single-agent supervisor made: the budget is not shared (one worker),
 * the first worker is never held by the expected cost, and the stagger
 * only spaces starts while another worker is in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/core/decide.h"
#include "ralphsup/base/util.h"

bool rs_decide_is_rate_signal(int status, const char *error)
{
    if (status == 429 || status == 529)
        return true;
    return error && (strcmp(error, "rate_limit") == 0 || strcmp(error, "overloaded") == 0);
}

void rs_decide_iteration(const struct rs_decide_in *in, struct rs_decision *d)
{
    memset(d, 0, sizeof(*d));
    const struct rs_iter_obs *o = in->obs;
    const struct rs_limits *l = in->limits;
    rs_policy_classify(o, &d->v);
    d->attempts_failed = in->failed_attempts;
    d->consecutive_transients = in->consecutive_transients;
    switch (d->v.kind) {
    case RS_VERDICT_COMPLETED:
        d->action = RS_DO_COMPLETE;
        d->consecutive_transients = 0;
        /* Completed, and the same iteration crossed a batch limit: it stops once this is recorded. */
        if (d->v.limit && in->more_work) {
            d->stop = true;
            d->err = d->v.err;
            d->limit = d->v.limit;
        }
        break;
    case RS_VERDICT_ITEM_FAILED:
        d->attempts_failed = in->failed_attempts + 1;
        d->action = d->v.permanent || d->attempts_failed >= l->max_attempts_per_school ? RS_DO_FAIL : RS_DO_RETRY;
        d->consecutive_transients = 0;
        break;
    case RS_VERDICT_TRANSIENT:
        d->action = RS_DO_REQUEUE;
        d->consecutive_transients = in->consecutive_transients + 1;
        d->rate_limited = rs_decide_is_rate_signal(o->api_error_status, o->synthetic_error);
        if (d->consecutive_transients > l->max_consecutive_transients) {
            d->stop = true;
            d->err = RS_E_TRANSIENTS;
            d->limit = "max_consecutive_transients";
        } else if (d->v.wait_until_ms > in->now_ms) {
            d->pause_until_ms = d->v.wait_until_ms;
            d->backoff_ms = d->v.wait_until_ms - in->now_ms;
        } else {
            d->backoff_ms = rs_policy_backoff_ms(l, d->consecutive_transients, in->rand01);
        }
        break;
    case RS_VERDICT_CANCELLED:
        d->action = RS_DO_REQUEUE;
        d->stop = true;
        d->err = in->stopping != RS_OK ? in->stopping : RS_E_SIGTERM;
        break;
    case RS_VERDICT_FATAL:
    case RS_VERDICT_LIMIT:
        d->action = RS_DO_REQUEUE;
        d->stop = true;
        d->err = d->v.err;
        d->limit = d->v.limit;
        break;
    }
    /* Already stopping: the first reason stands; this one only stops (drains) too. */
    if (in->stopping != RS_OK) {
        d->stop = true;
        d->err = in->stopping;
        d->limit = NULL;
        d->pause_until_ms = 0;
    }
}

static double budget_for(const struct rs_spawn_in *in, const char **which)
{
    const struct rs_limits *l = in->limits;
    double best = -1;
    *which = NULL;
    if (l->max_cost_usd > 0) {
        /* What is left after the spend and what the running workers streamed, shared with them. */
        best = (l->max_cost_usd - in->usage.cost_usd - in->inflight_cost) / (double)(in->running + 1);
        if (best < 0)
            best = 0;
        *which = "max_cost_usd";
    }
    if (l->max_cost_per_school_usd > 0) {
        double s = l->max_cost_per_school_usd - in->school_cost;
        if (s < 0)
            s = 0;
        if (best < 0 || s < best) {
            best = s;
            *which = "max_cost_per_school_usd";
        }
    }
    return best;
}

void rs_decide_spawn(const struct rs_spawn_in *in, struct rs_spawn_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->budget = -1;
    const struct rs_limits *l = in->limits;
    if (!in->have_pending) {
        d->kind = in->running == 0 ? RS_SPAWN_DONE : RS_SPAWN_HOLD;
        return;
    }
    if (in->running >= in->target) {
        d->kind = RS_SPAWN_HOLD;
        d->limit = "jobs";
        return;
    }
    const char *limit = rs_policy_spawn_limit(l, &in->usage, d->reason, sizeof d->reason);
    if (limit) {
        /* With workers in flight the batch stops when the last of them is recorded. */
        d->kind = in->running == 0 ? RS_SPAWN_STOP : RS_SPAWN_HOLD;
        d->err = RS_E_LIMIT;
        d->limit = limit;
        return;
    }
    if (in->now_ms < in->not_before_ms) {
        d->kind = RS_SPAWN_WAIT;
        d->wait_ms = in->not_before_ms - in->now_ms;
        return;
    }
    if (in->running > 0 && l->spawn_interval_ms > 0 && in->now_ms < in->last_start_ms + l->spawn_interval_ms) {
        d->kind = RS_SPAWN_WAIT;
        d->wait_ms = in->last_start_ms + l->spawn_interval_ms - in->now_ms;
        return;
    }
    /* One budget: a second worker starts only if one more school's expected cost fits. */
    if (l->max_cost_usd > 0 && in->running > 0 &&
        in->usage.cost_usd + in->inflight_cost + in->expected_cost > l->max_cost_usd) {
        d->kind = RS_SPAWN_HOLD;
        d->limit = "max_cost_usd";
        return;
    }
    if (l->max_cost_per_school_usd > 0 && in->school_cost >= l->max_cost_per_school_usd) {
        char m1[32], m2[32];
        snprintf(d->reason, sizeof d->reason, "max_cost_per_school_usd reached (%s spent on this school, cap %s)",
                 rs_money_format(in->school_cost, m1, sizeof m1),
                 rs_money_format(l->max_cost_per_school_usd, m2, sizeof m2));
        d->kind = RS_SPAWN_FAIL_SCHOOL;
        return;
    }
    d->kind = RS_SPAWN_GO;
    d->budget = budget_for(in, &d->budget_limit);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double rs_decide_expected_cost(double *costs, size_t n, double cap)
{
    if (n == 0)
        return cap > 0 ? cap : 0;
    qsort(costs, n, sizeof(*costs), cmp_double);
    return n % 2 ? costs[n / 2] : (costs[n / 2 - 1] + costs[n / 2]) / 2;
}

static int cmp_interval(const void *a, const void *b)
{
    const struct rs_interval *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

double rs_decide_concurrency(struct rs_interval *iv, size_t n)
{
    qsort(iv, n, sizeof(*iv), cmp_interval);
    int64_t busy = 0, span = 0, from = 0, to = 0;
    bool open = false;
    for (size_t i = 0; i < n; i++) {
        if (iv[i].end <= iv[i].start)
            continue;
        busy += iv[i].end - iv[i].start;
        if (open && iv[i].start <= to) {
            if (iv[i].end > to)
                to = iv[i].end;
            continue;
        }
        if (open)
            span += to - from;
        from = iv[i].start;
        to = iv[i].end;
        open = true;
    }
    if (open)
        span += to - from;
    double c = span > 0 ? (double)busy / (double)span : 1;
    return c > 1 ? c : 1;
}

enum rs_kill_reason rs_decide_running(const struct rs_running_in *in, char *reason, size_t n)
{
    const struct rs_limits *l = in->limits;
    char d[32];
    if (in->check_time) {
        /* Before its first line an agent is starting, not stalling: first_output_timeout applies. */
        bool starting = l->first_output_timeout_ms > 0 && !in->got_output;
        if (starting && in->elapsed_ms >= l->first_output_timeout_ms) {
            snprintf(reason, n, "agent did not start: no output within %s (first_output_timeout)",
                     rs_duration_format(l->first_output_timeout_ms, d, sizeof d));
            return RS_KILL_NO_START;
        }
        if (l->iteration_timeout_ms > 0 && in->elapsed_ms >= l->iteration_timeout_ms) {
            snprintf(reason, n, "iteration_timeout reached (%s)", rs_duration_format(l->iteration_timeout_ms, d, sizeof d));
            return RS_KILL_TIMEOUT;
        }
        /* Waiting out an announced API retry is not stalling: the deadline moves by the delay. */
        if (!starting && l->stall_timeout_ms > 0 && in->silent_ms >= l->stall_timeout_ms + in->retry_wait_ms) {
            snprintf(reason, n, "stalled: no output for %s (stall_timeout)",
                     rs_duration_format(l->stall_timeout_ms, d, sizeof d));
            return RS_KILL_STALL;
        }
    }
    return rs_policy_running_limit(l, &in->usage, in->iter_cost, in->school_cost_before + in->iter_cost, reason, n);
}

void rs_ratelimit_init(struct rs_ratelimit *rl, int jobs, int64_t now_ms)
{
    memset(rl, 0, sizeof(*rl));
    rl->jobs = jobs < 1 ? 1 : jobs;
    rl->target = rl->jobs;
    rl->calm_since_ms = now_ms;
}

bool rs_ratelimit_signal(struct rs_ratelimit *rl, int64_t now_ms)
{
    rl->signals++;
    rl->calm_since_ms = now_ms;
    int t = rl->target / 2;
    if (t < 1)
        t = 1;
    bool changed = t != rl->target;
    rl->target = t;
    rl->limited = rl->target < rl->jobs;
    return changed;
}

bool rs_ratelimit_tick(struct rs_ratelimit *rl, int64_t ramp_up_after_ms, int64_t now_ms)
{
    if (rl->target >= rl->jobs || now_ms - rl->calm_since_ms < ramp_up_after_ms)
        return false;
    rl->target++;
    rl->calm_since_ms = now_ms;
    rl->limited = rl->target < rl->jobs;
    return true;
}

void rs_ratelimit_set_jobs(struct rs_ratelimit *rl, int jobs)
{
    if (jobs < 1)
        jobs = 1;
    /* Lowered by signals, it stays lowered (capped by the new jobs) and ramps up from there. */
    if (!rl->limited || rl->target > jobs)
        rl->target = jobs;
    rl->jobs = jobs;
}
