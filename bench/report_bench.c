/* SPDX-License-Identifier: MIT */
/*
 * report-bench: run rs_report_generate() on a generated batch the way
 * `ralphsup report` does (load the progress file, then generate), so that
 * bench/bench_report.sh can time it with /usr/bin/time next to the Python
 * baselines. Usage: report-bench ROOT OUT_DIR [DATE]
 * ROOT holds batch_progress.json and the output directory of per-school CSVs
 * written by bench/gen_report_data.py.
 * Exit: 0 complete, 1 partial, 66 no progress file, 73 cannot write.
 *
 * It also prints the peak RSS of the report phase alone: after the progress
 * file is loaded, freed memory is returned to the kernel (malloc_trim) and
 * the kernel's high-water mark is reset (/proc/self/clear_refs "5"), so
 * VmHWM afterwards is the report's own peak, without the JSON DOM.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/core/config.h"
#include "ralphsup/store/progress.h"
#include "ralphsup/report/report.h"
#include "ralphsup/base/util.h"
#include "ralphsup/cli/exitcode.h" /* the exit codes of a program (header only) */

/* VmHWM of this process in KiB, or -1. */
static long vm_hwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
            break;
    fclose(f);
    return v;
}

static void reset_hwm(void)
{
    malloc_trim(0);
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: report-bench ROOT OUT_DIR [YYYY-MM-DD]\n");
        return RS_EXIT_USAGE;
    }
    struct rs_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.root = rs_path_absolute(argv[1]);
    cfg.output_dir = rs_path_join(cfg.root, "output");
    cfg.report_dir = rs_path_absolute(argv[2]);
    cfg.report_csv_escape_formulas = true;
    char *progress = rs_path_join(cfg.root, "batch_progress.json");
    cfg.name = NULL;

    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    int r = rs_progress_load(progress, &p, &d);
    int rc = RS_EXIT_OK;
    if (r != 0) {
        char *m = rs_diags_join(&d);
        fprintf(stderr, "report-bench: cannot load %s (%d)\n%s\n", progress, r, m);
        free(m);
        rc = r == RS_PROGRESS_E_NOT_FOUND ? RS_EXIT_NOINPUT : RS_EXIT_DATAERR;
        goto out;
    }
    long load_hwm = vm_hwm_kib();
    reset_hwm();
    struct rs_report_summary sum;
    r = rs_report_generate(&cfg, p, argc > 3 ? argv[3] : "2026-01-01", NULL, &sum, &d);
    if (r < 0) {
        fprintf(stderr, "report-bench: cannot write the report: %s\n", strerror(-r));
        rc = RS_EXIT_CANTCREAT;
        goto out;
    }
    printf("report-bench: %s: files=%zu rows=%zu warm=%zu replaced=%zu truncated=%zu escaped=%zu errors=%zu notes=%zu\n",
           r == 0 ? "complete" : "partial", sum.files, sum.rows, sum.warm, sum.replaced, sum.truncated, sum.escaped,
           sum.errors, sum.notes);
    printf("report-bench: peak RSS while loading the progress file %.1f MiB, report phase %.1f MiB\n",
           (double)load_hwm / 1024.0, (double)vm_hwm_kib() / 1024.0);
    rc = r == 0 ? RS_EXIT_OK : RS_EXIT_FAILURE;
    rs_report_summary_deinit(&sum);
out:
    rs_progress_free(p);
    rs_diags_deinit(&d);
    free(progress);
    free(cfg.root);
    free(cfg.output_dir);
    free(cfg.report_dir);
    return rc;
}
