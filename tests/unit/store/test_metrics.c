/* SPDX-License-Identifier: MIT */
/* The Prometheus text file: every series from the progress file, escaped labels, atomic replacement. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ralphsup/base/util.h"
#include "ralphsup/store/metrics.h"

static struct rs_progress *sample_progress(void)
{
    struct rs_progress *p = rs_progress_new("west", 1000);
    rs_progress_push_pending(p, "Gamma", false);
    rs_progress_push_pending(p, "Delta", false);
    struct rs_school_state *a = rs_progress_complete(p, "Alpha", "alpha");
    rs_school_state_add_attempt(a)->outcome = RS_OUTCOME_TRANSIENT;
    rs_school_state_add_attempt(a)->outcome = RS_OUTCOME_FAILED;
    rs_school_state_add_attempt(a)->outcome = RS_OUTCOME_COMPLETED;
    struct rs_school_state *b = rs_progress_fail(p, "Beta", "beta", "no page");
    rs_school_state_add_attempt(b)->outcome = RS_OUTCOME_FAILED;
    rs_school_state_add_attempt(b)->outcome = RS_OUTCOME_CANCELLED;
    p->cost_usd = 12.5;
    p->last_updated_ms = 1796000000123;
    return p;
}

Test(metrics, every_series)
{
    struct rs_progress *p = sample_progress();
    struct rs_metrics_in m = {.batch = "west", .p = p, .cost_limit_usd = 50, .workers_running = 2,
                              .last_transition_ms = p->last_updated_ms};
    char *t = rs_metrics_format(&m);
    const char *want[] = {
        "# TYPE ralphsup_schools gauge\n",
        "ralphsup_schools{batch=\"west\",state=\"pending\"} 2\n",
        "ralphsup_schools{batch=\"west\",state=\"running\"} 0\n",
        "ralphsup_schools{batch=\"west\",state=\"completed\"} 1\n",
        "ralphsup_schools{batch=\"west\",state=\"failed\"} 1\n",
        "# TYPE ralphsup_iterations_total counter\n",
        "ralphsup_iterations_total{batch=\"west\",outcome=\"completed\"} 1\n",
        "ralphsup_iterations_total{batch=\"west\",outcome=\"failed\"} 2\n",
        "ralphsup_iterations_total{batch=\"west\",outcome=\"transient\"} 1\n",
        "ralphsup_iterations_total{batch=\"west\",outcome=\"cancelled\"} 1\n",
        "ralphsup_iterations_total{batch=\"west\",outcome=\"stopped\"} 0\n",
        "ralphsup_attempts_total{batch=\"west\"} 3\n",
        "# TYPE ralphsup_cost_usd_total counter\n",
        "ralphsup_cost_usd_total{batch=\"west\"} 12.500000\n",
        "ralphsup_cost_limit_usd{batch=\"west\"} 50.000000\n",
        "ralphsup_workers_running{batch=\"west\"} 2\n",
        "ralphsup_last_transition_timestamp_seconds{batch=\"west\"} 1796000000.123000\n",
        "ralphsup_batch_finished{batch=\"west\"} 0\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(t, want[i]), "missing: %s\nin:\n%s", want[i], t);
    /* Every metric has its HELP before its TYPE and samples. */
    cr_expect(strstr(t, "# HELP ralphsup_workers_running ") < strstr(t, "# TYPE ralphsup_workers_running gauge"));
    free(t);
    p->status = RS_STATUS_FINISHED;
    t = rs_metrics_format(&m);
    cr_expect(strstr(t, "ralphsup_batch_finished{batch=\"west\"} 1\n"));
    free(t);
    rs_progress_free(p);
}

Test(metrics, label_escaping)
{
    struct rs_progress *p = rs_progress_new("x", 0);
    struct rs_metrics_in m = {.batch = "a\"b\\c\nd", .p = p};
    char *t = rs_metrics_format(&m);
    cr_expect(strstr(t, "ralphsup_workers_running{batch=\"a\\\"b\\\\c\\nd\"} 0\n"), "%s", t);
    free(t);
    rs_progress_free(p);
}

Test(metrics, written_atomically)
{
    char dir[] = "/tmp/rs-metrics-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *path = rs_path_join(dir, "ralphsup.prom");
    struct rs_progress *p = sample_progress();
    struct rs_metrics_in m = {.batch = "west", .p = p};
    cr_assert_eq(rs_metrics_write(path, &m), 0);
    char *text = NULL;
    size_t len;
    cr_assert_eq(rs_file_read(path, 1 << 16, &text, &len), 0);
    char *want = rs_metrics_format(&m);
    cr_expect_str_eq(text, want);
    struct stat st;
    cr_expect(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    char *bad = rs_path_join(dir, "missing/ralphsup.prom");
    cr_expect_lt(rs_metrics_write(bad, &m), 0, "a directory that does not exist: an error, not a crash");
    free(bad);
    free(want);
    free(text);
    char *cmd = rs_xasprintf("rm -rf '%s'", dir);
    cr_expect(system(cmd) == 0);
    free(cmd);
    free(path);
    rs_progress_free(p);
}
