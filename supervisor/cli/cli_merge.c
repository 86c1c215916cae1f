/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup merge CONFIG [--from REMOTE | DIR...] [--allow-partial]`: the
 * shards of a batch (docs/scale-out.md) made one batch again — the merged
 * progress file and CSVs in one commit whose parents are the shard heads
 * (store/shardmerge.c), then the master report, as `ralphsup report` writes
 * it. A missing or unfinished shard is named; then nothing is written and
 * the exit is 1, unless --allow-partial.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/cli/cli.h"
#include "ralphsup/base/util.h"
#include "ralphsup/cli/exitcode.h"
#include "ralphsup/report/report.h"
#include "ralphsup/store/batch.h"
#include "ralphsup/store/shardmerge.h"

static const char merge_help[] =
    "usage: ralphsup merge CONFIG [--from REMOTE | DIR...] [--allow-partial] [--no-report]\n\n"
    "Merge the shards of a batch run with `start --shard I/N` (docs/scale-out.md):\n"
    "read the shard refs refs/heads/ralphsup/shard-I-of-N — fetched from REMOTE (a\n"
    "remote of the batch repository or a URL), from the repositories DIR..., or\n"
    "the batch repository's own —, check that they agree (batch, N, the school\n"
    "list's hash, every school in its shard), combine them per school (completed\n"
    "over failed over pending; every recorded attempt's cost counts), write the\n"
    "merged progress file and the CSVs as one commit whose parents are the shard\n"
    "heads, then the master report.\n"
    "  --allow-partial   merge even when a shard is missing or unfinished (its\n"
    "                    schools stay pending)\n"
    "  --no-report       do not write the master report\n"
    "Exit: 0 merged, 1 partial (missing or unfinished shards named; nothing written\n"
    "without --allow-partial), 65 shards that disagree, 66 no shard refs, 69 a fetch\n"
    "failed, 73 the report could not be written, 75 locked, 78 config.\n";

int rs_cmd_merge(int argc, char **argv)
{
    if (rs_cli_help(argc, argv, merge_help))
        return RS_EXIT_OK;
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"allow-partial", no_argument, NULL, 'p'},
        {"no-report", no_argument, NULL, 'n'},
        {0, 0, 0, 0},
    };
    struct rs_merge_opts mo = {0};
    bool no_report = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f')
            mo.from = optarg;
        else if (c == 'p')
            mo.allow_partial = true;
        else if (c == 'n')
            no_report = true;
        else {
            fputs(merge_help, stderr);
            return RS_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "ralphsup merge: expected CONFIG (see `ralphsup merge --help`)\n");
        return RS_EXIT_USAGE;
    }
    const char *config = argv[optind];
    mo.dirs = (const char *const *)argv + optind + 1;
    mo.ndirs = (size_t)(argc - optind - 1);
    if (mo.from && mo.ndirs) {
        fprintf(stderr, "ralphsup merge: give either --from REMOTE or directories, not both\n");
        return RS_EXIT_USAGE;
    }
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_batch *b = NULL;
    int ex = rs_exit_code(rs_batch_open_shard(config, RS_BATCH_LOCK | RS_BATCH_NO_GIT, "", &b, &d));
    if (ex)
        return rs_cli_fail(&d, ex);
    struct rs_merge_result res;
    rs_merge_result_init(&res);
    int r = rs_merge_run(b, &mo, &res, &d);
    rs_cli_print_diags(&d, "ralphsup: ");
    rs_diags_deinit(&d);
    for (size_t i = 0; i < res.missing.n; i++)
        fprintf(stderr, "ralphsup merge: partial: %s\n", res.missing.msgs[i]);
    if (r == RS_MERGE_PARTIAL) {
        fprintf(stderr, "ralphsup merge: %zu of %d shards missing or unfinished; nothing written (--allow-partial "
                        "merges what there is)\n",
                res.missing.n, res.count);
        ex = RS_EXIT_FAILURE;
    } else if (r) {
        ex = rs_exit_code(r);
    } else {
        printf("merged %d %s of batch %s (%zu %s): %zu completed, %zu failed, %zu pending, $%.2f; commit %.12s\n",
               res.count, rs_plural((size_t)res.count, "shard", "shards"), b->cfg->name, res.heads,
               rs_plural(res.heads, "head", "heads"), res.completed, res.failed, res.pending, res.cost_usd,
               res.commit);
        if (!no_report) {
            char today[16];
            rs_time_utc(rs_now_ms(), "%Y-%m-%d", today, sizeof today);
            struct rs_report_summary sum;
            memset(&sum, 0, sizeof sum);
            struct rs_diags pr;
            rs_diags_init(&pr);
            int rr = rs_report_generate(b->cfg, res.prog, today, NULL, &sum, &pr);
            for (size_t i = 0; i < pr.n; i++)
                fprintf(stderr, "ralphsup: report: %s\n", pr.msgs[i]);
            if (rr < 0) {
                fprintf(stderr, "ralphsup merge: cannot write the report in %s\n", b->cfg->report_dir);
                ex = RS_EXIT_CANTCREAT;
            } else {
                printf("%s\n%s\n%zu %s, %zu %s\n", sum.xlsx_path, sum.csv_path, sum.rows,
                       rs_plural(sum.rows, "lead", "leads"), sum.warm, rs_plural(sum.warm, "warm lead", "warm leads"));
                if (rr == RS_REPORT_PARTIAL)
                    ex = RS_EXIT_FAILURE;
            }
            rs_report_summary_deinit(&sum);
            rs_diags_deinit(&pr);
        }
        if (!ex && res.partial)
            ex = RS_EXIT_OK; /* --allow-partial: named above */
    }
    rs_merge_result_deinit(&res);
    rs_batch_free(b);
    return ex;
}
