/* SPDX-License-Identifier: MIT */
/*
 * Pure policy. The order of the checks in rs_policy_classify() is the
 * documented precedence (docs/failures.md): things the supervisor did
 * itself (cancel, limits, kills) first, then fatal conditions, then the
 * agent's own verdict (markers), then API errors, then how the process
 * ended. A verified RALPH_DONE wins over a late API error and over the
 * supervisor's own stops (limits, timeouts, cancel): the work is on disk and
 * checked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/core/policy.h"
#include "ralphsup/base/util.h"

const char *rs_verdict_class(enum rs_verdict_kind k)
{
    switch (k) {
    case RS_VERDICT_COMPLETED: return "completed";
    case RS_VERDICT_ITEM_FAILED: return "item";
    case RS_VERDICT_TRANSIENT: return "transient";
    case RS_VERDICT_FATAL: return "fatal";
    case RS_VERDICT_CANCELLED: return "cancelled";
    case RS_VERDICT_LIMIT: return "limit";
    }
    return "?";
}

static void set(struct rs_verdict *v, enum rs_verdict_kind k, const char *fmt, ...) RS_PRINTF(3, 4);
static void set(struct rs_verdict *v, enum rs_verdict_kind k, const char *fmt, ...)
{
    v->kind = k;
    va_list ap;
    va_start(ap, fmt);
    char *r = rs_xvasprintf(fmt, ap);
    va_end(ap);
    /* Outside text (the agent's reason, stderr, API messages) is in it: clean it, cut it at RS_TEXT_MAX. */
    rs_utf8_copy(v->reason, sizeof(v->reason), r, strlen(r));
    free(r);
}

static const char *nz(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

static bool is_transient_error(const char *e)
{
    static const char *const t[] = {"rate_limit", "server_error", "overloaded", "api_error", "timeout"};
    for (size_t i = 0; e && i < RS_ARRAY_SIZE(t); i++)
        if (strcmp(e, t[i]) == 0)
            return true;
    return false;
}

static bool is_transient_status(int s)
{
    return s == 408 || s == 429 || s == 529 || (s >= 500 && s <= 599);
}

/* Connection-level failures carry no status: recognise the CLI's wording. */
static bool is_connection_text(const char *t)
{
    static const char *const k[] = {"Unable to connect to API", "Connection to the API was lost", "Request timed out",
                                    "The operation timed out", "ECONNRESET", "ConnectionRefused", "socket hang up",
                                    "Overloaded", "temporarily limiting requests"};
    for (size_t i = 0; t && i < RS_ARRAY_SIZE(k); i++)
        if (strstr(t, k[i]))
            return true;
    return false;
}

static const char *signame(int s)
{
    switch (s) {
    case 1: return "SIGHUP";
    case 2: return "SIGINT";
    case 6: return "SIGABRT";
    case 9: return "SIGKILL";
    case 11: return "SIGSEGV";
    case 13: return "SIGPIPE";
    case 15: return "SIGTERM";
    default: return "signal";
    }
}

void rs_policy_classify(const struct rs_iter_obs *o, struct rs_verdict *v)
{
    memset(v, 0, sizeof(*v));

    /* 1. The agent could not be started at all. */
    if (o->spawn_error) {
        v->err = RS_E_UNAVAILABLE;
        set(v, RS_VERDICT_FATAL, "agent command could not be started: %s (check [agent] command and PATH)",
            strerror(-o->spawn_error));
        return;
    }

    /*
     * 2a. A verified RALPH_DONE wins over the supervisor's own stops: the
     * school's CSV is on disk and checked, and requeueing it would pay for the
     * same work again. The stop still takes effect afterwards: a batch limit
     * (max_cost_usd crossed by the same iteration's result line, max_runtime)
     * stops the batch (RS_E_LIMIT, exit 3) after the completion is recorded, and a
     * cancel still cancels (the supervisor sees its own stopping flag).
     * Authentication failures stay fatal (below).
     */
    if (o->done_marker && o->done_verified && o->killed != RS_KILL_NONE && o->killed != RS_KILL_AUTH) {
        if (o->killed == RS_KILL_BATCH_COST || o->killed == RS_KILL_RUNTIME) {
            v->err = RS_E_LIMIT;
            v->limit = o->killed == RS_KILL_BATCH_COST ? "max_cost_usd" : "max_runtime";
            set(v, RS_VERDICT_COMPLETED, "completed (RALPH_DONE verified before the stop); then %s",
                nz(o->kill_detail, v->limit));
        } else {
            set(v, RS_VERDICT_COMPLETED, "completed (RALPH_DONE verified before the agent was stopped: %s)",
                nz(o->kill_detail, "stopped by ralphsup"));
        }
        return;
    }

    /* 2. Things the supervisor did on purpose. */
    switch (o->killed) {
    case RS_KILL_CANCEL:
        set(v, RS_VERDICT_CANCELLED, "cancelled by signal; requeued without counting an attempt");
        return;
    case RS_KILL_DRAIN:
        set(v, RS_VERDICT_CANCELLED, "stopped with the batch (%s); requeued without counting an attempt",
            nz(o->kill_detail, "the batch stops"));
        return;
    case RS_KILL_AUTH:
        v->err = RS_E_AUTH;
        set(v, RS_VERDICT_FATAL, "authentication failed (%s): set a valid ANTHROPIC_API_KEY (or log in with `claude`) "
                                 "for the agent, e.g. in [agent] env",
            nz(o->kill_detail, "401"));
        return;
    case RS_KILL_BATCH_COST:
        v->err = RS_E_LIMIT;
        v->limit = "max_cost_usd";
        set(v, RS_VERDICT_LIMIT, "%s", nz(o->kill_detail, "max_cost_usd reached"));
        return;
    case RS_KILL_RUNTIME:
        v->err = RS_E_LIMIT;
        v->limit = "max_runtime";
        set(v, RS_VERDICT_LIMIT, "%s", nz(o->kill_detail, "max_runtime reached"));
        return;
    case RS_KILL_SCHOOL_COST:
        v->permanent = true;
        set(v, RS_VERDICT_ITEM_FAILED, "%s", nz(o->kill_detail, "max_cost_per_school_usd reached"));
        return;
    case RS_KILL_NO_START:
        /* Nothing of the school was tried: the agent or its surroundings hang (transient, capped). */
        set(v, RS_VERDICT_TRANSIENT, "%s", nz(o->kill_detail, "agent did not start: no output within first_output_timeout"));
        return;
    case RS_KILL_TIMEOUT:
    case RS_KILL_STALL:
        /* Out of time while the CLI was waiting out a rate limit or an overload: not the school's fault. */
        if (o->retry_waiting) {
            set(v, RS_VERDICT_TRANSIENT, "%s while the CLI was waiting out an %s; requeued without counting an attempt",
                nz(o->kill_detail, o->killed == RS_KILL_TIMEOUT ? "iteration_timeout reached" : "stalled"),
                o->retry_waiting);
            return;
        }
        set(v, RS_VERDICT_ITEM_FAILED, "%s",
            nz(o->kill_detail, o->killed == RS_KILL_TIMEOUT ? "iteration_timeout reached"
                                                            : "stalled: no output within stall_timeout"));
        return;
    case RS_KILL_REPEAT:
        set(v, RS_VERDICT_ITEM_FAILED, "%s", nz(o->kill_detail, "repeated identical tool call"));
        return;
    case RS_KILL_NONE:
        break;
    }

    /*
     * The agent exited non-zero before it even printed its system/init line:
     * it could not start (bad arguments, --dangerously-skip-permissions as
     * root, a broken install). Every school would fail the same way, so
     * stop instead of burning the batch's attempts.
     */
    if (o->exited && !o->term_signal && o->exit_code != 0 && !o->got_init && !o->got_result && !o->synthetic_error &&
        !o->done_marker && !o->failed_marker) {
        v->err = RS_E_UNAVAILABLE;
        set(v, RS_VERDICT_FATAL, "the agent exited with status %d before starting (no system/init line)%s%s; check "
                                 "[agent] command and args",
            o->exit_code, o->stderr_head ? ": " : "", o->stderr_head ? o->stderr_head : "");
        return;
    }

    /* 3. Fatal conditions reported by the CLI. */
    if (o->auth_failure || (o->synthetic_error && strcmp(o->synthetic_error, "authentication_failed") == 0) ||
        o->api_error_status == 401) {
        v->err = RS_E_AUTH;
        set(v, RS_VERDICT_FATAL, "authentication failed (401): set a valid ANTHROPIC_API_KEY (or log in with `claude`) "
                                 "for the agent, e.g. in [agent] env");
        return;
    }
    if (o->synthetic_error && strcmp(o->synthetic_error, "billing_error") == 0) {
        v->err = RS_E_UNAVAILABLE;
        set(v, RS_VERDICT_FATAL, "billing error from the API: %s", nz(o->synthetic_text, "check the account's credits"));
        return;
    }
    if (o->synthetic_error && strcmp(o->synthetic_error, "model_not_found") == 0) {
        v->err = RS_E_CONFIG;
        set(v, RS_VERDICT_FATAL, "model not found: %s (check [agent] model)", nz(o->synthetic_text, "?"));
        return;
    }

    /* 4. The agent's own verdict, verified. */
    if (o->done_marker && o->done_verified) {
        set(v, RS_VERDICT_COMPLETED, "completed");
        return;
    }
    if (o->done_marker) {
        set(v, RS_VERDICT_ITEM_FAILED, "%s", nz(o->verify_error, "RALPH_DONE could not be verified"));
        return;
    }
    if (o->failed_marker) {
        v->permanent = !o->failed_retryable;
        set(v, RS_VERDICT_ITEM_FAILED, "agent reported failure%s: %s", o->failed_retryable ? "" : " (not retryable)",
            nz(o->failed_reason, "no reason given"));
        return;
    }

    /* 5. Usage limit (subscription): wait for the reset, then go on. */
    if (o->usage_limit && o->usage_reset_ms > 0) {
        v->wait_until_ms = o->usage_reset_ms;
        char b[40];
        set(v, RS_VERDICT_TRANSIENT, "usage limit reached; waiting for the reset at %s", rs_time_iso(o->usage_reset_ms, b, sizeof b));
        return;
    }

    /* 6. Budget exhausted inside claude (--max-budget-usd). */
    if (o->result_subtype && strcmp(o->result_subtype, "error_max_budget_usd") == 0) {
        if (o->budget_limit && strcmp(o->budget_limit, "max_cost_usd") == 0) {
            v->err = RS_E_LIMIT;
            v->limit = "max_cost_usd";
            set(v, RS_VERDICT_LIMIT, "max_cost_usd reached (the CLI stopped at its --max-budget-usd)");
        } else {
            v->permanent = true;
            set(v, RS_VERDICT_ITEM_FAILED, "max_cost_per_school_usd reached (the CLI stopped at its --max-budget-usd)");
        }
        return;
    }

    /* 7. Transient API trouble: does not burn an attempt. */
    bool api_failed = o->result_is_error || o->synthetic_error;
    if (api_failed &&
        (is_transient_error(o->synthetic_error) || is_transient_status(o->api_error_status) ||
         is_connection_text(o->synthetic_text) || is_connection_text(o->result_text))) {
        if (o->api_error_status)
            set(v, RS_VERDICT_TRANSIENT, "transient API error %d (%s): %s", o->api_error_status,
                nz(o->synthetic_error, "error"), nz(o->synthetic_text, nz(o->result_text, "")));
        else
            set(v, RS_VERDICT_TRANSIENT, "transient API error (%s): %s", nz(o->synthetic_error, "connection"),
                nz(o->synthetic_text, nz(o->result_text, "")));
        return;
    }

    /* 8. How the process ended. */
    if (o->term_signal) {
        set(v, RS_VERDICT_ITEM_FAILED, "agent crashed: killed by signal %d (%s)", o->term_signal, signame(o->term_signal));
        return;
    }
    if (o->result_subtype && strcmp(o->result_subtype, "error_max_turns") == 0) {
        set(v, RS_VERDICT_ITEM_FAILED, "agent hit its turn limit: %s", nz(o->result_errors, "error_max_turns"));
        return;
    }
    if (o->exit_code != 0) {
        if (api_failed)
            set(v, RS_VERDICT_ITEM_FAILED, "agent exited with status %d after an API error: %s", o->exit_code,
                nz(o->synthetic_text, nz(o->result_text, nz(o->result_errors, "?"))));
        else
            set(v, RS_VERDICT_ITEM_FAILED, "agent exited with status %d%s%s%s%s", o->exit_code,
                o->result_errors ? ": " : " without a result", o->result_errors ? o->result_errors : "",
                o->stderr_head ? "; stderr: " : "", o->stderr_head ? o->stderr_head : "");
        return;
    }
    if (!o->got_result) {
        set(v, RS_VERDICT_ITEM_FAILED, "the CLI was interrupted (exit 0 without a result line) and no marker was seen");
        return;
    }
    if (o->invalid_marker) {
        set(v, RS_VERDICT_ITEM_FAILED, "invalid marker: %s", o->invalid_marker);
        return;
    }
    if (o->other_marker) {
        set(v, RS_VERDICT_ITEM_FAILED, "finished without RALPH_DONE/RALPH_FAILED for this school; a marker named another school: %s",
            o->other_marker);
        return;
    }
    set(v, RS_VERDICT_ITEM_FAILED, "finished without RALPH_DONE/RALPH_FAILED");
}

int64_t rs_policy_backoff_ms(const struct rs_limits *l, int n, double rand01)
{
    if (n < 1)
        n = 1;
    int64_t d = l->transient_backoff_ms;
    for (int i = 1; i < n && d < l->transient_backoff_max_ms; i++)
        d *= 2;
    if (d > l->transient_backoff_max_ms)
        d = l->transient_backoff_max_ms;
    if (rand01 < 0)
        rand01 = 0;
    if (rand01 >= 1)
        rand01 = 0.999;
    return d + (int64_t)((double)d * 0.25 * rand01);
}

const char *rs_policy_spawn_limit(const struct rs_limits *l, const struct rs_batch_usage *u, char *reason, size_t n)
{
    char a[32], b[32];
    if (l->max_iterations > 0 && u->iterations >= l->max_iterations) {
        snprintf(reason, n, "max_iterations reached (%lld of %lld)", (long long)u->iterations,
                 (long long)l->max_iterations);
        return "max_iterations";
    }
    if (l->max_cost_usd > 0 && u->cost_usd >= l->max_cost_usd) {
        snprintf(reason, n, "max_cost_usd reached (%s spent of %s)", rs_money_format(u->cost_usd, a, sizeof a),
                 rs_money_format(l->max_cost_usd, b, sizeof b));
        return "max_cost_usd";
    }
    if (l->max_runtime_ms > 0 && u->runtime_ms >= l->max_runtime_ms) {
        snprintf(reason, n, "max_runtime reached (%s)", rs_duration_format(l->max_runtime_ms, a, sizeof a));
        return "max_runtime";
    }
    return NULL;
}

enum rs_kill_reason rs_policy_running_limit(const struct rs_limits *l, const struct rs_batch_usage *u,
                                            double iter_cost, double school_cost, char *reason, size_t n)
{
    char a[32], b[32];
    if (l->max_cost_usd > 0 && u->cost_usd + iter_cost > l->max_cost_usd) {
        snprintf(reason, n, "max_cost_usd reached (%s spent of %s)", rs_money_format(u->cost_usd + iter_cost, a, sizeof a),
                 rs_money_format(l->max_cost_usd, b, sizeof b));
        return RS_KILL_BATCH_COST;
    }
    if (l->max_cost_per_school_usd > 0 && school_cost > l->max_cost_per_school_usd) {
        snprintf(reason, n, "max_cost_per_school_usd reached (%s spent on this school, cap %s)",
                 rs_money_format(school_cost, a, sizeof a), rs_money_format(l->max_cost_per_school_usd, b, sizeof b));
        return RS_KILL_SCHOOL_COST;
    }
    if (l->max_runtime_ms > 0 && u->runtime_ms >= l->max_runtime_ms) {
        snprintf(reason, n, "max_runtime reached (%s)", rs_duration_format(l->max_runtime_ms, a, sizeof a));
        return RS_KILL_RUNTIME;
    }
    return RS_KILL_NONE;
}

double rs_policy_budget(const struct rs_limits *l, double batch_spent, double school_spent, const char **which)
{
    double best = 0;
    bool set = false;
    *which = NULL;
    if (l->max_cost_usd > 0) {
        best = l->max_cost_usd - batch_spent;
        *which = "max_cost_usd";
        set = true;
    }
    if (l->max_cost_per_school_usd > 0) {
        double s = l->max_cost_per_school_usd - school_spent;
        if (!set || s < best) {
            best = s;
            *which = "max_cost_per_school_usd";
        }
        set = true;
    }
    if (!set)
        return -1;
    return best < 0 ? 0 : best;
}

double rs_policy_tokens_cost(const struct rs_price *price, const struct rs_policy_tokens *t)
{
    return ((double)t->input * price->input_per_mtok + (double)t->output * price->output_per_mtok +
            (double)t->cache_write_5m * price->cache_write_per_mtok +
            (double)t->cache_write_1h * price->cache_write_1h_per_mtok +
            (double)t->cache_read * price->cache_read_per_mtok) /
           1e6;
}

double rs_policy_usage_cost(const struct rs_price *price, int64_t input, int64_t output, int64_t cache_write,
                            int64_t cache_read)
{
    struct rs_policy_tokens t = {.input = input, .output = output, .cache_write_5m = cache_write,
                                 .cache_read = cache_read};
    return rs_policy_tokens_cost(price, &t);
}
