/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup report`: the master report (master CSV + xlsx) from the progress
 * file and the per-school CSVs. The work is rs_report_generate(); this file
 * parses options, prints the summary and the problems, and maps the outcome
 * to the exit codes documented in docs/report.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/store/batch.h"
#include "ralphsup/cli/cli.h"
#include "ralphsup/report/report.h"
#include "ralphsup/base/util.h"

static const char report_help[] =
    "usage: ralphsup report CONFIG [--date YYYY-MM-DD] [--out DIR]\n\n"
    "Combine every school's CSV into report_dir/master_report_<date>.csv and\n"
    "master_report_<date>.xlsx (Summary, Leads, Warm leads, Failed, Run, and\n"
    "Problems when an input could not be read). Both files are replaced\n"
    "atomically. Runs by itself when a batch finishes ([report] on_finish).\n"
    "  --date D   the date in the file names (default: today, UTC)\n"
    "  --out DIR  write there instead of [batch] report_dir\n"
    "Reads only the CSVs that completed schools name in the progress file, never\n"
    "an earlier master report.\n"
    "Exit: 0 complete, 1 partial (see the Problems sheet), 64 bad option (--date\n"
    "not a calendar date), 66 no progress file, 73 cannot write the outputs,\n"
    "78 bad config.\n";

int rs_cmd_report(int argc, char **argv)
{
    if (rs_cli_help(argc, argv, report_help))
        return RS_EXIT_OK;
    static const struct option opts[] = {
        {"date", required_argument, NULL, 'd'}, {"out", required_argument, NULL, 'o'}, {0, 0, 0, 0}};
    const char *date = NULL, *out = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            date = optarg;
        else if (c == 'o')
            out = optarg;
        else {
            fputs(report_help, stderr);
            return RS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ralphsup report: expected exactly one CONFIG argument\n");
        return RS_EXIT_USAGE;
    }
    if (date) {
        int y = 0, m = 0;
        int dr = rs_date_parse(date, NULL, NULL, NULL);
        if (dr == -ERANGE && sscanf(date, "%4d-%2d", &y, &m) == 2 && m >= 1 && m <= 12) {
            fprintf(stderr, "ralphsup report: --date \"%s\" is not a calendar date: %04d-%02d has %d days\n", date, y,
                    m, rs_days_in_month(y, m));
            return RS_EXIT_USAGE;
        }
        if (dr == -ERANGE) {
            fprintf(stderr, "ralphsup report: --date \"%s\" is not a calendar date: the month must be 01 to 12\n",
                    date);
            return RS_EXIT_USAGE;
        }
        if (dr < 0) {
            fprintf(stderr, "ralphsup report: --date expects YYYY-MM-DD, got \"%s\"\n", date);
            return RS_EXIT_USAGE;
        }
    }
    char today[16];
    if (!date)
        date = rs_time_utc(rs_now_ms(), "%Y-%m-%d", today, sizeof today);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_batch *b = NULL;
    int ex = rs_exit_code(rs_batch_open(argv[optind], RS_BATCH_NEED_PROGRESS | RS_BATCH_NO_GIT | RS_BATCH_NO_SCHOOLS, &b, &d));
    if (ex)
        return rs_cli_fail(&d, ex);
    char *outabs = out ? rs_path_absolute(out) : NULL;
    struct rs_report_summary sum;
    memset(&sum, 0, sizeof sum);
    int r = rs_report_generate(b->cfg, b->prog, date, outabs, &sum, &d);
    const char *where = outabs ? outabs : b->cfg->report_dir;
    if (r == -EINVAL) { /* the date was checked above: only an empty report_dir is left */
        fprintf(stderr, "ralphsup report: no output directory: set [batch] report_dir or pass --out DIR\n");
        ex = RS_EXIT_CONFIG;
    } else if (r < 0) {
        /* The problems say which file failed and why (and what input was bad). */
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "ralphsup: report: %s\n", d.msgs[i]);
        fprintf(stderr, "ralphsup report: cannot write the report in %s: %s; nothing was replaced\n",
                where ? where : "", strerror(-r));
        ex = RS_EXIT_CANTCREAT;
    } else {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "ralphsup: report: %s\n", d.msgs[i]);
        printf("%s\n%s\n", sum.xlsx_path, sum.csv_path);
        printf("%zu %s, %zu %s, %zu %s", sum.files, rs_plural(sum.files, "file", "files"), sum.rows,
               rs_plural(sum.rows, "lead", "leads"), sum.warm, rs_plural(sum.warm, "warm lead", "warm leads"));
        if (sum.replaced || sum.truncated || sum.escaped)
            printf("; %zu invalid %s replaced, %zu %s truncated, %zu CSV %s neutralised", sum.replaced,
                   rs_plural(sum.replaced, "character", "characters"), sum.truncated,
                   rs_plural(sum.truncated, "cell", "cells"), sum.escaped, rs_plural(sum.escaped, "cell", "cells"));
        printf("\n");
        if (r == RS_REPORT_PARTIAL) {
            fprintf(stderr, "ralphsup report: partial: %zu input %s (listed above and on the Problems sheet)\n",
                    sum.errors, rs_plural(sum.errors, "problem", "problems"));
            ex = RS_EXIT_FAILURE;
        }
    }
    free(outabs);
    rs_report_summary_deinit(&sum);
    rs_diags_deinit(&d);
    rs_batch_free(b);
    return ex;
}
