/* SPDX-License-Identifier: MIT */
/*
 * Table-driven tests of the pure policy: one row per failure class of
 * docs/failures.md, plus backoff, spawn and running limits and budgets.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "ralphsup/core/policy.h"

struct row {
    const char *name;
    struct rs_iter_obs o;
    enum rs_verdict_kind kind;
    bool permanent;
    enum rs_err err;   /* v.err, checked on every row, RS_OK included */
    const char *limit; /* v.limit: the limit key of a LIMIT verdict, NULL for every other */
    const char *reason_has;
};

static const struct row rows[] = {
    {"spawn ENOENT is fatal 69", {.spawn_error = -ENOENT}, RS_VERDICT_FATAL, false, RS_E_UNAVAILABLE, NULL, "could not be started"},
    {"cancel", {.exited = true, .got_init = true, .killed = RS_KILL_CANCEL}, RS_VERDICT_CANCELLED, false, RS_OK, NULL,
     "cancelled"},
    {"auth kill is fatal 77", {.exited = true, .got_init = true, .killed = RS_KILL_AUTH, .kill_detail = "HTTP 401"}, RS_VERDICT_FATAL,
     false, RS_E_AUTH, NULL, "ANTHROPIC_API_KEY"},
    {"batch cost limit", {.exited = true, .got_init = true, .killed = RS_KILL_BATCH_COST, .kill_detail = "max_cost_usd reached"},
     RS_VERDICT_LIMIT, false, RS_E_LIMIT, "max_cost_usd", "max_cost_usd"},
    {"runtime limit", {.exited = true, .got_init = true, .killed = RS_KILL_RUNTIME}, RS_VERDICT_LIMIT, false, RS_E_LIMIT, "max_runtime",
     "max_runtime"},
    {"school cost cap fails at once", {.exited = true, .got_init = true, .killed = RS_KILL_SCHOOL_COST}, RS_VERDICT_ITEM_FAILED,
     true, RS_OK, NULL, "max_cost_per_school_usd"},
    {"iteration timeout", {.exited = true, .got_init = true, .killed = RS_KILL_TIMEOUT, .kill_detail = "iteration_timeout reached (30m)"},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "iteration_timeout"},
    {"stall", {.exited = true, .got_init = true, .killed = RS_KILL_STALL, .kill_detail = "stalled: no output for 10m"},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "stalled"},
    {"no first line: agent did not start, transient", {.exited = true, .killed = RS_KILL_NO_START, .kill_detail = "agent did not start: no output within 2m (first_output_timeout)"},
     RS_VERDICT_TRANSIENT, false, RS_OK, NULL, "agent did not start"},
    {"timeout while waiting out an API retry: transient", {.exited = true, .got_init = true, .killed = RS_KILL_TIMEOUT, .kill_detail = "iteration_timeout reached (30m)", .retry_waiting = "API retry 7/10 (rate_limit 429)"},
     RS_VERDICT_TRANSIENT, false, RS_OK, NULL, "iteration_timeout reached (30m) while the CLI was waiting out an API retry 7/10 (rate_limit 429); requeued without counting an attempt"},
    {"stall while waiting out an API retry: transient", {.exited = true, .got_init = true, .killed = RS_KILL_STALL, .kill_detail = "stalled: no output for 10m", .retry_waiting = "API retry 2/10 (overloaded 529)"},
     RS_VERDICT_TRANSIENT, false, RS_OK, NULL, "waiting out an API retry 2/10"},
    {"repeat", {.exited = true, .got_init = true, .killed = RS_KILL_REPEAT, .kill_detail = "repeated Bash `curl x` 5×"},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "repeated Bash"},
    {"401 in result is fatal", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                                .api_error_status = 401, .synthetic_error = "authentication_failed"},
     RS_VERDICT_FATAL, false, RS_E_AUTH, NULL, "authentication"},
    {"model not found is a config error", {.exited = true, .got_init = true, .exit_code = 1, .synthetic_error = "model_not_found",
                                           .synthetic_text = "claude-nope"},
     RS_VERDICT_FATAL, false, RS_E_CONFIG, NULL, "model not found"},
    {"verified done", {.exited = true, .got_init = true, .got_result = true, .done_marker = true, .done_verified = true},
     RS_VERDICT_COMPLETED, false, RS_OK, NULL, "completed"},
    {"verified done wins over a late API error", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true,
                                                  .result_is_error = true, .api_error_status = 429,
                                                  .done_marker = true, .done_verified = true},
     RS_VERDICT_COMPLETED, false, RS_OK, NULL, "completed"},
    {"verified done wins over the batch cost stop, which still stops the batch",
     {.exited = true, .got_init = true, .got_result = true, .done_marker = true, .done_verified = true,
      .killed = RS_KILL_BATCH_COST, .kill_detail = "max_cost_usd reached ($2.10 spent of $2.00)"},
     RS_VERDICT_COMPLETED, false, RS_E_LIMIT, "max_cost_usd", "then max_cost_usd reached ($2.10"},
    {"verified done wins over the runtime stop", {.exited = true, .got_init = true, .done_marker = true,
                                                 .done_verified = true, .killed = RS_KILL_RUNTIME},
     RS_VERDICT_COMPLETED, false, RS_E_LIMIT, "max_runtime", "then max_runtime"},
    {"verified done wins over a cancel (the supervisor still cancels)",
     {.exited = true, .got_init = true, .done_marker = true, .done_verified = true, .killed = RS_KILL_CANCEL,
      .kill_detail = "cancelled by SIGTERM"},
     RS_VERDICT_COMPLETED, false, RS_OK, NULL, "verified before the agent was stopped: cancelled by SIGTERM"},
    {"verified done wins over the school cost cap", {.exited = true, .got_init = true, .done_marker = true,
                                                    .done_verified = true, .killed = RS_KILL_SCHOOL_COST},
     RS_VERDICT_COMPLETED, false, RS_OK, NULL, "completed"},
    {"verified done wins over a stall after it", {.exited = true, .got_init = true, .done_marker = true,
                                                 .done_verified = true, .killed = RS_KILL_STALL,
                                                 .kill_detail = "stalled: no output for 10m"},
     RS_VERDICT_COMPLETED, false, RS_OK, NULL, "stalled: no output for 10m"},
    {"an auth kill stays fatal even after a verified done",
     {.exited = true, .got_init = true, .done_marker = true, .done_verified = true, .killed = RS_KILL_AUTH},
     RS_VERDICT_FATAL, false, RS_E_AUTH, NULL, "authentication failed"},
    {"an unverified done does not win over the batch cost stop",
     {.exited = true, .got_init = true, .done_marker = true, .killed = RS_KILL_BATCH_COST,
      .verify_error = "RALPH_DONE claimed 42 coaches, CSV has 40 rows"},
     RS_VERDICT_LIMIT, false, RS_E_LIMIT, "max_cost_usd", "max_cost_usd"},
    {"unverified done", {.exited = true, .got_init = true, .got_result = true, .done_marker = true,
                         .verify_error = "RALPH_DONE claimed 42 coaches, CSV has 40 rows"},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "claimed 42 coaches, CSV has 40 rows"},
    {"failed retryable", {.exited = true, .got_init = true, .got_result = true, .failed_marker = true, .failed_reason = "no directory",
                          .failed_retryable = true},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "no directory"},
    {"failed not retryable", {.exited = true, .got_init = true, .got_result = true, .failed_marker = true, .failed_reason = "closed",
                              .failed_retryable = false},
     RS_VERDICT_ITEM_FAILED, true, RS_OK, NULL, "not retryable"},
    {"usage limit waits", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                           .api_error_status = 429, .usage_limit = true, .usage_reset_ms = 1795561200000},
     RS_VERDICT_TRANSIENT, false, RS_OK, NULL, "usage limit"},
    {"budget: batch cap is a limit", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                                      .result_subtype = "error_max_budget_usd", .budget_limit = "max_cost_usd"},
     RS_VERDICT_LIMIT, false, RS_E_LIMIT, "max_cost_usd", "max_cost_usd"},
    {"budget: school cap fails the school", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                                             .result_subtype = "error_max_budget_usd",
                                             .budget_limit = "max_cost_per_school_usd"},
     RS_VERDICT_ITEM_FAILED, true, RS_OK, NULL, "max_cost_per_school_usd"},
    {"429 is transient", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                          .api_error_status = 429, .synthetic_error = "rate_limit",
                          .synthetic_text = "API Error: Request rejected (429)"},
     RS_VERDICT_TRANSIENT, false, RS_OK, NULL, "429"},
    {"529 overloaded without status is transient", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true,
                                                    .result_is_error = true, .synthetic_error = "server_error",
                                                    .synthetic_text = "API Error: Repeated 529 Overloaded errors."},
     RS_VERDICT_TRANSIENT, false, RS_OK, NULL, "transient"},
    {"500 is transient", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                          .api_error_status = 500},
     RS_VERDICT_TRANSIENT, false, RS_OK, NULL, "500"},
    {"connection refused is transient", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                                         .result_text = "API Error: Unable to connect to API (ConnectionRefused)"},
     RS_VERDICT_TRANSIENT, false, RS_OK, NULL, "Unable to connect"},
    {"crash by signal", {.exited = true, .got_init = true, .term_signal = 11}, RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "SIGSEGV"},
    {"max turns", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                   .result_subtype = "error_max_turns", .result_errors = "Reached maximum number of turns (2)"},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "turn limit"},
    {"non-zero exit without API error", {.exited = true, .got_init = true, .exit_code = 2}, RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL,
     "status 2"},
    {"400 invalid request is an item failure", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true,
                                                .result_is_error = true, .api_error_status = 400,
                                                .synthetic_error = "invalid_request",
                                                .synthetic_text = "API Error: 400 bad"},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "status 1"},
    {"exit 0 without result is interrupted", {.exited = true, .got_init = true}, RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL,
     "interrupted"},
    {"an agent that fails before starting is fatal 69",
     {.exited = true, .exit_code = 1,
      .stderr_head = "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"},
     RS_VERDICT_FATAL, false, RS_E_UNAVAILABLE, NULL, "before starting (no system/init line): --dangerously-skip-permissions"},
    {"exit 0 before starting is still an item failure", {.exited = true}, RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL,
     "interrupted"},
    {"exit 0 without marker", {.exited = true, .got_init = true, .got_result = true, .result_subtype = "success"},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "finished without RALPH_DONE/RALPH_FAILED"},
    {"billing error is fatal 69", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                                   .synthetic_error = "billing_error", .synthetic_text = "Credit balance is too low"},
     RS_VERDICT_FATAL, false, RS_E_UNAVAILABLE, NULL, "billing error from the API: Credit balance is too low"},
    {"authentication_failed in an api_retry line is fatal 77", {.exited = true, .got_init = true, .auth_failure = true},
     RS_VERDICT_FATAL, false, RS_E_AUTH, NULL, "ANTHROPIC_API_KEY"},
    {"408 is transient", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true, .result_is_error = true,
                          .api_error_status = 408},
     RS_VERDICT_TRANSIENT, false, RS_OK, NULL, "408"},
    {"budget stop without a named cap fails the school", {.exited = true, .got_init = true, .exit_code = 1, .got_result = true,
                                                          .result_is_error = true, .result_subtype = "error_max_budget_usd"},
     RS_VERDICT_ITEM_FAILED, true, RS_OK, NULL, "max_cost_per_school_usd"},
    {"invalid marker", {.exited = true, .got_init = true, .got_result = true, .invalid_marker = "\"coaches\" must be an integer"},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL, "invalid marker"},
    {"a marker for another school is named in the reason",
     {.exited = true, .got_init = true, .got_result = true, .other_marker = "RALPH_DONE for \"Some Other University\""},
     RS_VERDICT_ITEM_FAILED, false, RS_OK, NULL,
     "finished without RALPH_DONE/RALPH_FAILED for this school; a marker named another school: RALPH_DONE for \"Some Other University\""},
};

Test(policy, classify_every_failure_class)
{
    for (size_t i = 0; i < RS_ARRAY_SIZE(rows); i++) {
        struct rs_verdict v;
        rs_policy_classify(&rows[i].o, &v);
        cr_expect_eq(v.kind, rows[i].kind, "%s: kind %s", rows[i].name, rs_verdict_class(v.kind));
        cr_expect_eq(v.permanent, rows[i].permanent, "%s: permanent", rows[i].name);
        cr_expect_eq(v.err, rows[i].err, "%s: err %d, want %d", rows[i].name, (int)v.err, (int)rows[i].err);
        if (rows[i].limit)
            cr_expect(v.limit && strcmp(v.limit, rows[i].limit) == 0, "%s: limit %s, want %s", rows[i].name,
                      v.limit ? v.limit : "(none)", rows[i].limit);
        else
            cr_expect_null(v.limit, "%s: limit %s, want none", rows[i].name, v.limit);
        cr_expect(strstr(v.reason, rows[i].reason_has) != NULL, "%s: reason \"%s\" lacks \"%s\"", rows[i].name,
                  v.reason, rows[i].reason_has);
    }
}

Test(policy, usage_limit_wait_until)
{
    struct rs_iter_obs o = {.exited = true, .got_init = true, .usage_limit = true, .usage_reset_ms = 123456789000};
    struct rs_verdict v;
    rs_policy_classify(&o, &v);
    cr_assert_eq(v.kind, RS_VERDICT_TRANSIENT);
    cr_expect_eq(v.wait_until_ms, 123456789000);
}

static struct rs_limits limits(void)
{
    struct rs_limits l;
    rs_limits_defaults(&l);
    return l;
}

Test(policy, backoff_is_capped_exponential_with_jitter)
{
    struct rs_limits l = limits();
    l.transient_backoff_ms = 1000;
    l.transient_backoff_max_ms = 8000;
    cr_expect_eq(rs_policy_backoff_ms(&l, 1, 0.0), 1000);
    cr_expect_eq(rs_policy_backoff_ms(&l, 2, 0.0), 2000);
    cr_expect_eq(rs_policy_backoff_ms(&l, 3, 0.0), 4000);
    cr_expect_eq(rs_policy_backoff_ms(&l, 4, 0.0), 8000);
    cr_expect_eq(rs_policy_backoff_ms(&l, 40, 0.0), 8000);
    int64_t j = rs_policy_backoff_ms(&l, 2, 0.999);
    cr_expect(j > 2000 && j <= 2500, "jitter within 25%%: %lld", (long long)j);
}

Test(policy, spawn_limits_name_themselves)
{
    struct rs_limits l = limits();
    char reason[256];
    struct rs_batch_usage u = {.iterations = 29, .cost_usd = 1.0, .runtime_ms = 1000};
    l.max_iterations = 30;
    cr_expect_null(rs_policy_spawn_limit(&l, &u, reason, sizeof reason));
    u.iterations = 30;
    cr_expect_str_eq(rs_policy_spawn_limit(&l, &u, reason, sizeof reason), "max_iterations");
    cr_expect(strstr(reason, "30 of 30"));
    u.iterations = 0;
    l.max_cost_usd = 1.0;
    cr_expect_str_eq(rs_policy_spawn_limit(&l, &u, reason, sizeof reason), "max_cost_usd");
    l.max_cost_usd = 0;
    l.max_runtime_ms = 500;
    cr_expect_str_eq(rs_policy_spawn_limit(&l, &u, reason, sizeof reason), "max_runtime");
}

Test(policy, running_limits)
{
    struct rs_limits l = limits();
    char reason[256];
    struct rs_batch_usage u = {.cost_usd = 9.0};
    l.max_cost_usd = 10;
    l.max_cost_per_school_usd = 3;
    cr_expect_eq(rs_policy_running_limit(&l, &u, 0.5, 2.0, reason, sizeof reason), RS_KILL_NONE);
    cr_expect_eq(rs_policy_running_limit(&l, &u, 1.5, 2.0, reason, sizeof reason), RS_KILL_BATCH_COST);
    cr_expect(strstr(reason, "max_cost_usd"));
    cr_expect_eq(rs_policy_running_limit(&l, &u, 0.5, 3.5, reason, sizeof reason), RS_KILL_SCHOOL_COST);
    cr_expect(strstr(reason, "max_cost_per_school_usd"));
}

Test(policy, budget_takes_the_smaller_cap)
{
    struct rs_limits l = limits();
    const char *which;
    cr_expect_lt(rs_policy_budget(&l, 0, 0, &which), 0);
    cr_expect_null(which);
    l.max_cost_usd = 10;
    l.max_cost_per_school_usd = 3;
    cr_expect_float_eq(rs_policy_budget(&l, 8.5, 0.2, &which), 1.5, 1e-9);
    cr_expect_str_eq(which, "max_cost_usd");
    cr_expect_float_eq(rs_policy_budget(&l, 1, 1, &which), 2.0, 1e-9);
    cr_expect_str_eq(which, "max_cost_per_school_usd");
    cr_expect_float_eq(rs_policy_budget(&l, 11, 0, &which), 0.0, 1e-9);
}

Test(policy, usage_cost_matches_the_cli)
{
    /* HEADLESS.md: opus at $5/M in, $25/M out: 1000 in + 50 out = $0.00625. */
    struct rs_price p = {.model = (char *)"claude-opus-4", .input_per_mtok = 5, .output_per_mtok = 25};
    cr_expect_float_eq(rs_policy_usage_cost(&p, 1000, 50, 0, 0), 0.00625, 1e-12);
}

Test(policy, reasons_are_valid_utf8_cut_at_a_boundary)
{
    /* A 5,000-byte reason of "é": stored cut at a character boundary, "…" at the end, within RS_TEXT_MAX. */
    char big[5001];
    for (size_t i = 0; i < 5000; i += 2)
        memcpy(big + i, "\xC3\xA9", 2);
    big[5000] = '\0';
    struct rs_iter_obs o = {.exited = true, .got_init = true, .got_result = true, .failed_marker = true,
                            .failed_reason = big};
    struct rs_verdict v;
    rs_policy_classify(&o, &v);
    size_t n = strlen(v.reason);
    cr_expect_leq(n, RS_TEXT_MAX);
    cr_expect_geq(n, RS_TEXT_MAX - 1);
    cr_expect_str_eq(v.reason + n - 3, RS_UTF8_ELLIPSIS);
    cr_expect(rs_utf8_valid(v.reason, n));
    cr_expect_eq(strncmp(v.reason, "agent reported failure (not retryable): \xC3\xA9", 42), 0, "%.60s", v.reason);

    /* Bytes that are not UTF-8 become U+FFFD; a non-zero exit quotes the stderr head. */
    o = (struct rs_iter_obs){.exited = true, .got_init = true, .exit_code = 3, .stderr_head = "caf\xE9 broken"};
    rs_policy_classify(&o, &v);
    cr_expect_str_eq(v.reason, "agent exited with status 3 without a result; stderr: caf" RS_UTF8_REPLACEMENT " broken");
}
