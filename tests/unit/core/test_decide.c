/* SPDX-License-Identifier: MIT */
/*
 * The whole decision, table-driven: one row per case of docs/failures.md's
 * "what happens next" (attempts left, the transient cap, backoff with its
 * jitter, a usage-limit pause, the stop and its rs_err), the spawn gate
 * (limits, target, stagger, shared budget, school cap), the running checks
 * and the account-wide rate limiter, including the cases that only exist
 * with jobs > 1.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ralphsup/core/decide.h"

static struct rs_limits lim(void)
{
    struct rs_limits l = {.max_iterations = 1000, .max_attempts_per_school = 3, .iteration_timeout_ms = 60000,
                          .stall_timeout_ms = 30000, .max_consecutive_transients = 3, .transient_backoff_ms = 1000,
                          .transient_backoff_max_ms = 8000, .jobs = 4, .spawn_interval_ms = 2000,
                          .ramp_up_after_ms = 300000};
    return l;
}

#define DONE {.exited = true, .got_init = true, .got_result = true, .done_marker = true, .done_verified = true}
#define FAILED_RETRY {.exited = true, .got_init = true, .got_result = true, .failed_marker = true, .failed_retryable = true, .failed_reason = "x"}
#define FAILED_PERM {.exited = true, .got_init = true, .got_result = true, .failed_marker = true, .failed_reason = "x"}
#define E429 {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true, .api_error_status = 429}
#define E500 {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true, .api_error_status = 500}

struct row {
    const char *name;
    struct rs_iter_obs o;
    int failed_before;
    int transients_before;
    enum rs_err stopping;
    bool more_work;
    double rand01;
    /* expected */
    enum rs_verdict_kind kind;
    enum rs_decision_action action;
    int failed_after;
    int transients_after;
    int64_t backoff_ms;
    int64_t pause_until_ms;
    bool rate_limited;
    bool stop;
    enum rs_err err;
    const char *limit;
};

#define NOW 1000000

static const struct row rows[] = {
    {"completed resets the transient run", DONE, 0, 2, RS_OK, true, 0, RS_VERDICT_COMPLETED, RS_DO_COMPLETE, 0, 0, 0, 0, false, false, RS_OK, NULL},
    {"completed while the batch cost was crossed stops after recording", {.exited = true, .got_init = true, .done_marker = true, .done_verified = true, .killed = RS_KILL_BATCH_COST},
     0, 0, RS_OK, true, 0, RS_VERDICT_COMPLETED, RS_DO_COMPLETE, 0, 0, 0, 0, false, true, RS_E_LIMIT, "max_cost_usd"},
    {"completed last school with the cost crossed: no stop, the batch finishes", {.exited = true, .got_init = true, .done_marker = true, .done_verified = true, .killed = RS_KILL_BATCH_COST},
     0, 0, RS_OK, false, 0, RS_VERDICT_COMPLETED, RS_DO_COMPLETE, 0, 0, 0, 0, false, false, RS_OK, NULL},
    {"item failure with attempts left is retried", FAILED_RETRY, 0, 1, RS_OK, true, 0, RS_VERDICT_ITEM_FAILED, RS_DO_RETRY, 1, 0, 0, 0, false, false, RS_OK, NULL},
    {"item failure on the last attempt fails the school", FAILED_RETRY, 2, 0, RS_OK, true, 0, RS_VERDICT_ITEM_FAILED, RS_DO_FAIL, 3, 0, 0, 0, false, false, RS_OK, NULL},
    {"permanent failure fails at once", FAILED_PERM, 0, 0, RS_OK, true, 0, RS_VERDICT_ITEM_FAILED, RS_DO_FAIL, 1, 0, 0, 0, false, false, RS_OK, NULL},
    {"school cost kill fails at once", {.exited = true, .got_init = true, .killed = RS_KILL_SCHOOL_COST}, 0, 0, RS_OK, true, 0, RS_VERDICT_ITEM_FAILED, RS_DO_FAIL, 1, 0, 0, 0, false, false, RS_OK, NULL},
    {"timeout counts an attempt", {.exited = true, .got_init = true, .killed = RS_KILL_TIMEOUT}, 1, 0, RS_OK, true, 0, RS_VERDICT_ITEM_FAILED, RS_DO_RETRY, 2, 0, 0, 0, false, false, RS_OK, NULL},
    {"first 429: requeued, backoff base, a rate signal", E429, 0, 0, RS_OK, true, 0, RS_VERDICT_TRANSIENT, RS_DO_REQUEUE, 0, 1, 1000, 0, true, false, RS_OK, NULL},
    {"third transient: doubled twice, plus the jitter", E500, 0, 2, RS_OK, true, 0.5, RS_VERDICT_TRANSIENT, RS_DO_REQUEUE, 0, 3, 4500, 0, false, false, RS_OK, NULL},
    {"backoff is capped", E500, 0, 2, RS_OK, true, 0, RS_VERDICT_TRANSIENT, RS_DO_REQUEUE, 0, 3, 4000, 0, false, false, RS_OK, NULL},
    {"one transient over the cap stops with 75", E429, 0, 3, RS_OK, true, 0, RS_VERDICT_TRANSIENT, RS_DO_REQUEUE, 0, 4, 0, 0, true, true, RS_E_TRANSIENTS, "max_consecutive_transients"},
    {"usage limit pauses the batch until the reset", {.exited = true, .got_init = true, .exit_code = 1, .usage_limit = true, .usage_reset_ms = NOW + 60000, .got_result = true, .result_is_error = true},
     0, 0, RS_OK, true, 0, RS_VERDICT_TRANSIENT, RS_DO_REQUEUE, 0, 1, 60000, NOW + 60000, false, false, RS_OK, NULL},
    {"fatal stops with its error", {.spawn_error = -2}, 0, 0, RS_OK, true, 0, RS_VERDICT_FATAL, RS_DO_REQUEUE, 0, 0, 0, 0, false, true, RS_E_UNAVAILABLE, NULL},
    {"limit stops with 3", {.exited = true, .got_init = true, .killed = RS_KILL_BATCH_COST}, 0, 0, RS_OK, true, 0, RS_VERDICT_LIMIT, RS_DO_REQUEUE, 0, 0, 0, 0, false, true, RS_E_LIMIT, "max_cost_usd"},
    {"cancel stops with the signal's error", {.exited = true, .got_init = true, .killed = RS_KILL_CANCEL}, 1, 0, RS_E_SIGINT, true, 0, RS_VERDICT_CANCELLED, RS_DO_REQUEUE, 1, 0, 0, 0, false, true, RS_E_SIGINT, NULL},
    /* jobs > 1 */
    {"jobs>1: drained by another worker's stop: requeued, no attempt, the first reason stands", {.exited = true, .got_init = true, .killed = RS_KILL_DRAIN, .kill_detail = "max_cost_usd reached"},
     2, 0, RS_E_LIMIT, true, 0, RS_VERDICT_CANCELLED, RS_DO_REQUEUE, 2, 0, 0, 0, false, true, RS_E_LIMIT, NULL},
    {"jobs>1: a worker failing while the batch drains is recorded as failed, and drains", FAILED_RETRY, 0, 0, RS_E_AUTH, true, 0, RS_VERDICT_ITEM_FAILED, RS_DO_RETRY, 1, 0, 0, 0, false, true, RS_E_AUTH, NULL},
    {"jobs>1: a usage limit while draining does not pause", {.exited = true, .got_init = true, .exit_code = 1, .usage_limit = true, .usage_reset_ms = NOW + 60000},
     0, 0, RS_E_SIGTERM, true, 0, RS_VERDICT_TRANSIENT, RS_DO_REQUEUE, 0, 1, 60000, 0, false, true, RS_E_SIGTERM, NULL},
    {"jobs>1: two workers failing at once, A on its last attempt", FAILED_RETRY, 2, 0, RS_OK, true, 0, RS_VERDICT_ITEM_FAILED, RS_DO_FAIL, 3, 0, 0, 0, false, false, RS_OK, NULL},
    {"jobs>1: two workers failing at once, B on its first", FAILED_RETRY, 0, 0, RS_OK, true, 0, RS_VERDICT_ITEM_FAILED, RS_DO_RETRY, 1, 0, 0, 0, false, false, RS_OK, NULL},
    {"jobs>1: a 429 in one (the rate signal) ...", E429, 0, 0, RS_OK, true, 0.2, RS_VERDICT_TRANSIENT, RS_DO_REQUEUE, 0, 1, 1050, 0, true, false, RS_OK, NULL},
    {"jobs>1: ... while another completes (the transient run is reset)", DONE, 0, 1, RS_OK, true, 0, RS_VERDICT_COMPLETED, RS_DO_COMPLETE, 0, 0, 0, 0, false, false, RS_OK, NULL},
    {"synthetic overloaded is a rate signal", {.exited = true, .got_init = true, .exit_code = 1, .synthetic_error = "overloaded", .synthetic_text = "API Error: Overloaded"},
     0, 0, RS_OK, true, 0, RS_VERDICT_TRANSIENT, RS_DO_REQUEUE, 0, 1, 1000, 0, true, false, RS_OK, NULL},
};

Test(decide, iteration_rows)
{
    struct rs_limits l = lim();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        struct rs_decide_in in = {.obs = &r->o, .failed_attempts = r->failed_before,
                                  .consecutive_transients = r->transients_before, .limits = &l, .now_ms = NOW,
                                  .rand01 = r->rand01, .stopping = r->stopping, .more_work = r->more_work};
        struct rs_decision d;
        rs_decide_iteration(&in, &d);
        cr_expect_eq(d.v.kind, r->kind, "%s: kind %s", r->name, rs_verdict_class(d.v.kind));
        cr_expect_eq(d.action, r->action, "%s: action %d", r->name, d.action);
        cr_expect_eq(d.attempts_failed, r->failed_after, "%s: failed %d", r->name, d.attempts_failed);
        cr_expect_eq(d.consecutive_transients, r->transients_after, "%s: transients %d", r->name, d.consecutive_transients);
        cr_expect_eq(d.backoff_ms, r->backoff_ms, "%s: backoff %lld", r->name, (long long)d.backoff_ms);
        cr_expect_eq(d.pause_until_ms, r->pause_until_ms, "%s: pause %lld", r->name, (long long)d.pause_until_ms);
        cr_expect_eq(d.rate_limited, r->rate_limited, "%s: rate_limited", r->name);
        cr_expect_eq(d.stop, r->stop, "%s: stop", r->name);
        cr_expect_eq(d.err, r->err, "%s: err %d", r->name, d.err);
        if (r->limit)
            cr_expect(d.limit && strcmp(d.limit, r->limit) == 0, "%s: limit %s", r->name, d.limit ? d.limit : "NULL");
        else
            cr_expect_null(d.limit, "%s: limit %s", r->name, d.limit);
    }
}

struct srow {
    const char *name;
    struct rs_spawn_in in;
    double max_cost, school_cap;
    int64_t max_iterations;
    enum rs_spawn_kind kind;
    int64_t wait_ms;
    const char *limit;
    double budget;
    const char *budget_limit;
};

static const struct srow srows[] = {
    {"nothing pending, nothing running: done", {.have_pending = false, .running = 0, .target = 4}, 0, 0, 1000, RS_SPAWN_DONE, 0, NULL, -1, NULL},
    {"nothing pending, two running: hold", {.have_pending = false, .running = 2, .target = 4}, 0, 0, 1000, RS_SPAWN_HOLD, 0, NULL, -1, NULL},
    {"jobs=1 first start: go, no budget flag", {.have_pending = true, .running = 0, .target = 1}, 0, 0, 1000, RS_SPAWN_GO, 0, NULL, -1, NULL},
    {"target reached: hold", {.have_pending = true, .running = 4, .target = 4}, 0, 0, 1000, RS_SPAWN_HOLD, 0, "jobs", -1, NULL},
    {"a reload lowered jobs to 2 with 3 running: hold", {.have_pending = true, .running = 3, .target = 2}, 0, 0, 1000, RS_SPAWN_HOLD, 0, "jobs", -1, NULL},
    {"max_iterations with nothing running: stop", {.have_pending = true, .running = 0, .target = 4, .usage = {.iterations = 10}}, 0, 0, 10, RS_SPAWN_STOP, 0, "max_iterations", -1, NULL},
    {"max_iterations with workers in flight: hold until they end", {.have_pending = true, .running = 2, .target = 4, .usage = {.iterations = 10}}, 0, 0, 10, RS_SPAWN_HOLD, 0, "max_iterations", -1, NULL},
    {"backoff: wait", {.have_pending = true, .running = 0, .target = 4, .now_ms = 100, .not_before_ms = 600}, 0, 0, 1000, RS_SPAWN_WAIT, 500, NULL, -1, NULL},
    {"stagger while another runs: wait", {.have_pending = true, .running = 1, .target = 4, .now_ms = 1500, .last_start_ms = 1000}, 0, 0, 1000, RS_SPAWN_WAIT, 1500, NULL, -1, NULL},
    {"no stagger with nothing in flight (jobs=1 as before)", {.have_pending = true, .running = 0, .target = 1, .now_ms = 1500, .last_start_ms = 1000}, 0, 0, 1000, RS_SPAWN_GO, 0, NULL, -1, NULL},
    {"expected cost does not fit beside the workers in flight: hold", {.have_pending = true, .running = 2, .target = 4, .usage = {.cost_usd = 6}, .inflight_cost = 2, .expected_cost = 2.5, .now_ms = 99999}, 10, 0, 1000, RS_SPAWN_HOLD, 0, "max_cost_usd", -1, NULL},
    {"expected cost fits: go with the remaining budget shared by 3", {.have_pending = true, .running = 2, .target = 4, .usage = {.cost_usd = 4}, .inflight_cost = 1, .expected_cost = 2, .now_ms = 99999}, 10, 0, 1000, RS_SPAWN_GO, 0, NULL, 5.0 / 3, "max_cost_usd"},
    {"first worker is never held by the expected cost (jobs=1 as before)", {.have_pending = true, .running = 0, .target = 1, .usage = {.cost_usd = 9}, .expected_cost = 2}, 10, 0, 1000, RS_SPAWN_GO, 0, NULL, 1, "max_cost_usd"},
    {"school cap used up by earlier attempts: fail unspawned", {.have_pending = true, .running = 0, .target = 1, .school_cost = 1.2}, 0, 1, 1000, RS_SPAWN_FAIL_SCHOOL, 0, NULL, -1, NULL},
    {"school's remaining budget is smaller than the batch share", {.have_pending = true, .running = 1, .target = 4, .usage = {.cost_usd = 1}, .school_cost = 0.7, .now_ms = 99999}, 10, 1, 1000, RS_SPAWN_GO, 0, NULL, 0.3, "max_cost_per_school_usd"},
};

Test(decide, spawn_rows)
{
    for (size_t i = 0; i < sizeof srows / sizeof srows[0]; i++) {
        const struct srow *r = &srows[i];
        struct rs_limits l = lim();
        l.max_cost_usd = r->max_cost;
        l.max_cost_per_school_usd = r->school_cap;
        l.max_iterations = r->max_iterations;
        struct rs_spawn_in in = r->in;
        in.limits = &l;
        struct rs_spawn_decision d;
        rs_decide_spawn(&in, &d);
        cr_expect_eq(d.kind, r->kind, "%s: kind %d", r->name, d.kind);
        cr_expect_eq(d.wait_ms, r->wait_ms, "%s: wait %lld", r->name, (long long)d.wait_ms);
        if (r->limit)
            cr_expect(d.limit && strcmp(d.limit, r->limit) == 0, "%s: limit %s", r->name, d.limit ? d.limit : "NULL");
        cr_expect_float_eq(d.budget, r->budget, 1e-9, "%s: budget %f", r->name, d.budget);
        if (r->budget_limit)
            cr_expect(d.budget_limit && strcmp(d.budget_limit, r->budget_limit) == 0, "%s: budget limit", r->name);
        if (r->kind == RS_SPAWN_STOP)
            cr_expect_eq(d.err, RS_E_LIMIT, "%s: err", r->name);
        if (r->kind == RS_SPAWN_FAIL_SCHOOL)
            cr_expect(strstr(d.reason, "max_cost_per_school_usd reached ($1.20 spent on this school, cap $1.00)"), "%s: %s",
                      r->name, d.reason);
    }
}

Test(decide, running_checks)
{
    struct rs_limits l = lim();
    l.max_cost_usd = 10;
    char why[256];
    struct rs_running_in in = {.limits = &l, .check_time = true, .elapsed_ms = 60000};
    cr_expect_eq(rs_decide_running(&in, why, sizeof why), RS_KILL_TIMEOUT);
    cr_expect(strstr(why, "iteration_timeout reached (1m"), "%s", why);
    in = (struct rs_running_in){.limits = &l, .check_time = true, .silent_ms = 30000};
    cr_expect_eq(rs_decide_running(&in, why, sizeof why), RS_KILL_STALL);
    in.check_time = false; /* a stream event: no timeouts */
    cr_expect_eq(rs_decide_running(&in, why, sizeof why), RS_KILL_NONE);
    /* jobs > 1: the batch cost is the spend plus every other worker's streamed cost */
    in = (struct rs_running_in){.limits = &l, .usage = {.cost_usd = 4 + 5.5}, .iter_cost = 0.6};
    cr_expect_eq(rs_decide_running(&in, why, sizeof why), RS_KILL_BATCH_COST);
    cr_expect(strstr(why, "max_cost_usd reached ($10.10 spent of $10.00)"), "%s", why);
}

/* Waiting is not stalling (issue 14, point 6): one row per case. */
Test(decide, running_waiting_is_not_stalling)
{
    struct rs_limits l = lim(); /* iteration_timeout 60 s, stall_timeout 30 s */
    l.first_output_timeout_ms = 20000;
    static const struct {
        const char *name;
        struct rs_running_in in;
        enum rs_kill_reason want;
        const char *why;
    } cases[] = {
        {"no line yet, within first_output_timeout: starting", {.check_time = true, .elapsed_ms = 19999, .silent_ms = 19999}, RS_KILL_NONE, NULL},
        {"no line after first_output_timeout: did not start", {.check_time = true, .elapsed_ms = 20000, .silent_ms = 20000}, RS_KILL_NO_START, "agent did not start: no output within 20s (first_output_timeout)"},
        {"stderr only is not a start (silent_ms counts stderr)", {.check_time = true, .elapsed_ms = 25000, .silent_ms = 1000}, RS_KILL_NO_START, "agent did not start"},
        {"started, then silent past stall_timeout: stalled", {.check_time = true, .got_output = true, .elapsed_ms = 40000, .silent_ms = 30000}, RS_KILL_STALL, "stalled: no output for 30s"},
        {"waiting out a 45 s API retry: not stalled at 60 s of silence", {.check_time = true, .got_output = true, .elapsed_ms = 59000, .silent_ms = 59000, .retry_wait_ms = 45000, .retry_what = "API retry 1/10 (rate_limit 429)"}, RS_KILL_NONE, NULL},
        {"... but stalled once the delay and stall_timeout are both over", {.check_time = true, .got_output = true, .elapsed_ms = 59000, .silent_ms = 75000, .retry_wait_ms = 45000}, RS_KILL_STALL, "stalled"},
        {"iteration_timeout still holds while waiting", {.check_time = true, .got_output = true, .elapsed_ms = 60000, .silent_ms = 10, .retry_wait_ms = 30000}, RS_KILL_TIMEOUT, "iteration_timeout reached"},
        {"a stream event: no timeouts", {.check_time = false, .elapsed_ms = 99000, .silent_ms = 99000}, RS_KILL_NONE, NULL},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        struct rs_running_in in = cases[i].in;
        in.limits = &l;
        char why[256] = "";
        enum rs_kill_reason k = rs_decide_running(&in, why, sizeof why);
        cr_expect_eq(k, cases[i].want, "%s: got %d (%s)", cases[i].name, (int)k, why);
        if (cases[i].why)
            cr_expect(strstr(why, cases[i].why), "%s: %s", cases[i].name, why);
    }
    /* first_output_timeout = 0: the old rule, stall_timeout from the spawn */
    l.first_output_timeout_ms = 0;
    struct rs_running_in in = {.limits = &l, .check_time = true, .elapsed_ms = 30000, .silent_ms = 30000};
    char why[256];
    cr_expect_eq(rs_decide_running(&in, why, sizeof why), RS_KILL_STALL);
}

Test(decide, expected_cost_is_the_median)
{
    double none[1];
    cr_expect_float_eq(rs_decide_expected_cost(none, 0, 0), 0, 1e-12);
    cr_expect_float_eq(rs_decide_expected_cost(none, 0, 1.5), 1.5, 1e-12);
    double c3[] = {3, 1, 2};
    cr_expect_float_eq(rs_decide_expected_cost(c3, 3, 9), 2, 1e-12);
    double c4[] = {4, 1, 2, 10};
    cr_expect_float_eq(rs_decide_expected_cost(c4, 4, 0), 3, 1e-12);
}

/* The ETA's divisor: busy time over the time at least one worker ran. */
Test(decide, concurrency_achieved)
{
    struct {
        const char *name;
        struct rs_interval iv[6];
        size_t n;
        double want;
    } cases[] = {
        {"no interval: 1", {{0, 0}}, 0, 1},
        {"one worker", {{0, 100}}, 1, 1},
        {"one worker, a gap between runs does not count", {{0, 100}, {1000, 1100}}, 2, 1},
        {"four at once", {{0, 100}, {0, 100}, {0, 100}, {0, 100}}, 4, 4},
        {"staggered: 3 × 100 ms over 120 ms", {{20, 120}, {0, 100}, {10, 110}}, 3, 2.5},
        {"two runs: 2 at once, a pause, then 1", {{0, 100}, {0, 100}, {500, 600}}, 3, 1.5},
        {"nested interval", {{0, 100}, {10, 20}}, 2, 1.1},
        {"empty and reversed intervals ignored", {{5, 5}, {9, 3}, {0, 100}, {0, 100}}, 4, 2},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++)
        cr_expect_float_eq(rs_decide_concurrency(cases[i].iv, cases[i].n), cases[i].want, 1e-9, "%s: %f", cases[i].name,
                           rs_decide_concurrency(cases[i].iv, cases[i].n));
}

Test(decide, rate_limiter_halves_ramps_and_follows_reloads)
{
    struct rs_ratelimit rl;
    rs_ratelimit_init(&rl, 8, 0);
    cr_expect_eq(rl.target, 8);
    cr_expect(rs_ratelimit_signal(&rl, 1000));
    cr_expect_eq(rl.target, 4);
    rs_ratelimit_signal(&rl, 2000);
    rs_ratelimit_signal(&rl, 3000);
    rs_ratelimit_signal(&rl, 4000);
    cr_expect_eq(rl.target, 1, "never below 1");
    cr_expect_not(rs_ratelimit_signal(&rl, 5000));
    cr_expect_not(rs_ratelimit_tick(&rl, 300000, 5000 + 299999), "not before ramp_up_after");
    cr_expect(rs_ratelimit_tick(&rl, 300000, 5000 + 300000));
    cr_expect_eq(rl.target, 2);
    cr_expect_not(rs_ratelimit_tick(&rl, 300000, 5000 + 300001), "the next step waits again");
    /* a reload lowering jobs caps the target; raising it while rate limited keeps the target */
    rs_ratelimit_set_jobs(&rl, 1);
    cr_expect_eq(rl.target, 1);
    rs_ratelimit_set_jobs(&rl, 6);
    cr_expect_eq(rl.target, 1);
    cr_expect_eq(rl.jobs, 6);
    /* not rate limited: raising jobs raises the target at once (new workers start now) */
    rs_ratelimit_init(&rl, 2, 0);
    rs_ratelimit_set_jobs(&rl, 5);
    cr_expect_eq(rl.target, 5);
    rs_ratelimit_set_jobs(&rl, 3);
    cr_expect_eq(rl.target, 3);
    cr_expect(rs_decide_is_rate_signal(529, NULL));
    cr_expect(rs_decide_is_rate_signal(0, "rate_limit"));
    cr_expect_not(rs_decide_is_rate_signal(500, "server_error"));
}
