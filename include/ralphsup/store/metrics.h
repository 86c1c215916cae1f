/* SPDX-License-Identifier: MIT */
/*
 * [metrics] textfile: the batch's state as Prometheus metrics in the text
 * exposition format that node_exporter's textfile collector reads
 * (--collector.textfile.directory), written atomically (temp file + rename,
 * so the collector never reads half a file). Every metric carries a
 * batch="<[batch] name>" label, so several batches can share one directory.
 *
 *   ralphsup_schools{state}                      gauge: pending, running, completed, failed
 *   ralphsup_iterations_total{outcome}           counter: recorded attempts by outcome
 *   ralphsup_attempts_total                      counter: attempts that counted (completed + failed)
 *   ralphsup_cost_usd_total                      counter: dollars spent (the progress file's cost_usd)
 *   ralphsup_cost_limit_usd                      gauge: [limits] max_cost_usd (0 = unlimited)
 *   ralphsup_workers_running                     gauge: agents running now
 *   ralphsup_last_transition_timestamp_seconds   gauge: Unix time of the last committed transition
 *   ralphsup_batch_finished                      gauge: 1 once nothing is left to run
 *
 * The numbers come from the progress file in memory; nothing here reads the
 * clock (the caller passes the times).
 */
#pragma once

#include <stdint.h>

#include "ralphsup/store/progress.h"

struct rs_metrics_in {
    const char *batch;            /* [batch] name: the batch label */
    const struct rs_progress *p;
    double cost_limit_usd;        /* [limits] max_cost_usd, 0 = unlimited */
    int workers_running;
    int64_t last_transition_ms;   /* epoch ms, 0 = none yet */
};

/* The exposition text (HELP and TYPE for each metric). Caller frees. */
char *rs_metrics_format(const struct rs_metrics_in *m);

/* Format and replace @path atomically (mode 0644). Return: 0 or negative errno. */
int rs_metrics_write(const char *path, const struct rs_metrics_in *m);
