/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus text file of a batch (see the header for the metric set).
 * Names follow the Prometheus conventions: the ralphsup_ prefix, base units
 * in the name (_usd, _seconds), _total on counters only, one label set per
 * series, label values escaped as the exposition format wants (\\, \" and
 * \n). Counters come from the persisted history, so they never go down
 * across restarts of the supervisor (a `resume` or `init --reset` is a
 * reset, which Prometheus's rate() handles).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/store/metrics.h"
#include "ralphsup/base/buf.h"
#include "ralphsup/base/util.h"

static void put_label(struct rs_buf *b, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            rs_buf_putc(b, '\\');
        if (*p == '\n') {
            rs_buf_puts(b, "\\n");
            continue;
        }
        rs_buf_putc(b, *p);
    }
}

static void head(struct rs_buf *b, const char *name, const char *type, const char *help)
{
    rs_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{batch="…"[,key="val"]} value */
static void sample(struct rs_buf *b, const char *name, const char *batch, const char *key, const char *val,
                   const char *number)
{
    rs_buf_printf(b, "%s{batch=\"", name);
    put_label(b, batch);
    rs_buf_putc(b, '"');
    if (key) {
        rs_buf_printf(b, ",%s=\"", key);
        put_label(b, val);
        rs_buf_putc(b, '"');
    }
    rs_buf_printf(b, "} %s\n", number);
}

static void sample_int(struct rs_buf *b, const char *name, const char *batch, const char *key, const char *val,
                       int64_t v)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)v);
    sample(b, name, batch, key, val, n);
}

static void sample_real(struct rs_buf *b, const char *name, const char *batch, double v)
{
    char n[48];
    snprintf(n, sizeof n, "%.6f", v);
    sample(b, name, batch, NULL, NULL, n);
}

static void count_outcomes(const struct rs_school_state *v, size_t n, int64_t *by)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < v[i].nattempts; j++) {
            enum rs_outcome o = v[i].attempts[j].outcome;
            by[o <= RS_OUTCOME_OTHER ? o : RS_OUTCOME_OTHER]++;
        }
}

char *rs_metrics_format(const struct rs_metrics_in *m)
{
    const struct rs_progress *p = m->p;
    const char *batch = m->batch;
    struct rs_buf b;
    rs_buf_init(&b);

    head(&b, "ralphsup_schools", "gauge", "Schools of the batch by state.");
    sample_int(&b, "ralphsup_schools", batch, "state", "pending", (int64_t)p->npending);
    sample_int(&b, "ralphsup_schools", batch, "state", "running", (int64_t)rs_progress_ninflight(p));
    sample_int(&b, "ralphsup_schools", batch, "state", "completed", (int64_t)p->ncompleted);
    sample_int(&b, "ralphsup_schools", batch, "state", "failed", (int64_t)p->nfailed);

    int64_t by[RS_OUTCOME_OTHER + 1] = {0};
    count_outcomes(p->completed, p->ncompleted, by);
    count_outcomes(p->failed, p->nfailed, by);
    count_outcomes(p->history, p->nhistory, by);
    head(&b, "ralphsup_iterations_total", "counter", "Agent iterations recorded, by outcome.");
    static const enum rs_outcome shown[] = {RS_OUTCOME_COMPLETED, RS_OUTCOME_FAILED, RS_OUTCOME_TRANSIENT,
                                            RS_OUTCOME_CANCELLED, RS_OUTCOME_STOPPED};
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
        sample_int(&b, "ralphsup_iterations_total", batch, "outcome", rs_outcome_name(shown[i]), by[shown[i]]);
    sample_int(&b, "ralphsup_iterations_total", batch, "outcome", "other", by[RS_OUTCOME_OTHER] + by[RS_OUTCOME_NONE]);

    head(&b, "ralphsup_attempts_total", "counter",
         "Attempts that counted against max_attempts_per_school (completed or failed).");
    sample_int(&b, "ralphsup_attempts_total", batch, NULL, NULL, by[RS_OUTCOME_COMPLETED] + by[RS_OUTCOME_FAILED]);

    head(&b, "ralphsup_cost_usd_total", "counter", "Dollars spent by the batch's agents (estimates included).");
    sample_real(&b, "ralphsup_cost_usd_total", batch, p->cost_usd);

    head(&b, "ralphsup_cost_limit_usd", "gauge", "The batch's max_cost_usd in dollars (0 = unlimited).");
    sample_real(&b, "ralphsup_cost_limit_usd", batch, m->cost_limit_usd);

    head(&b, "ralphsup_workers_running", "gauge", "Agents running now.");
    sample_int(&b, "ralphsup_workers_running", batch, NULL, NULL, m->workers_running);

    head(&b, "ralphsup_last_transition_timestamp_seconds", "gauge",
         "Unix time of the last state change committed by the supervisor.");
    sample_real(&b, "ralphsup_last_transition_timestamp_seconds", batch, (double)m->last_transition_ms / 1000.0);

    head(&b, "ralphsup_batch_finished", "gauge", "1 when the batch finished (nothing pending or running), else 0.");
    sample_int(&b, "ralphsup_batch_finished", batch, NULL, NULL, p->status == RS_STATUS_FINISHED);
    return rs_buf_steal(&b);
}

int rs_metrics_write(const char *path, const struct rs_metrics_in *m)
{
    char *text = rs_metrics_format(m);
    int r = rs_file_write_atomic(path, text, strlen(text), 0644);
    free(text);
    return r;
}
