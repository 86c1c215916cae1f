/* SPDX-License-Identifier: MIT */
/*
 * The batch report: a read-only snapshot of the progress file and of every
 * per-school CSV, written as master_report_<date>.csv and
 * master_report_<date>.xlsx (libxlsxwriter, constant_memory mode, so memory
 * stays bounded whatever the batch size). Behaviour and sheet layout are
 * documented in docs/report.md.
 *
 * Cells are never interpreted: every lead cell is a string (a phone "0712"
 * keeps its zero, "=HYPERLINK(...)" stays text). Invalid UTF-8 and
 * XML-illegal characters are replaced with U+FFFD and cells over Excel's
 * 32,767-character limit are cut at a character boundary; both are counted.
 * A bad input file never stops the report: it is listed on the Problems sheet
 * with file:line and the result is "partial". The only inputs are the CSVs
 * that completed schools name in the progress file; the report's own outputs
 * (master_report_*) are never read, wherever they are.
 *
 * Does not know about libuv, git or the agent, never mutates the progress
 * data, and never prints: problems go to the caller's struct rs_diags.
 */
#pragma once

#include <stddef.h>

#include "ralphsup/base/common.h"
#include "ralphsup/core/leads.h" /* RS_REPORT_NCOLS, rs_report_columns */

struct rs_config;
struct rs_progress;

/* Positive outcome of rs_report_generate(). */
enum {
    RS_REPORT_PARTIAL = 1, /* written, but some input had problems (see @problems) */
};

struct rs_report_summary {
    size_t files;              /* completed schools' CSV files read (fully or partly) */
    size_t files_extra;        /* other *.csv in output_dir that no completed school names: listed, not read */
    size_t rows;               /* lead rows in the master CSV (and on the Leads sheet) */
    size_t warm;               /* rows whose nmdp_overlap is truthy */
    size_t verified;           /* warm rows that `ralphsup audit` verified (output_dir/audit.json) */
    size_t replaced;           /* invalid UTF-8 sequences / XML-illegal chars replaced by U+FFFD */
    size_t truncated;          /* cells cut to 32,767 characters */
    size_t escaped;            /* master-CSV cells prefixed with ' (formula neutralisation) */
    size_t errors;             /* problems that make the report partial */
    size_t notes;              /* informational entries on the Problems sheet */
    char *csv_path;            /* absolute path of the master CSV written (owned) */
    char *xlsx_path;           /* absolute path of the workbook written (owned) */
};

/* Release the paths held by @sum (the struct itself is the caller's). */
void rs_report_summary_deinit(struct rs_report_summary *sum);

/*
 * rs_report_generate() - write the master CSV and the workbook.
 * @cfg: name, root, progress, output_dir, report_dir, report_truthy and
 *       report_csv_escape_formulas are used; output_dir/audit.json, when
 *       present, gives the Warm leads sheet's audit column.
 * @prog: the batch state (completed entries name the CSVs, relative to root).
 * @date: "YYYY-MM-DD", used in the file names.
 * @out_dir: where to write; NULL means cfg->report_dir (created if missing).
 * @sum: filled (may be NULL); release with rs_report_summary_deinit().
 * @problems: every Problems-sheet entry is appended as "file:line:col: msg"
 *       (notes start with "note: "; an entry about no file is the bare msg;
 *       never prefixed with the command name); may be NULL.
 * Both files are replaced atomically (temp file in the same directory, fsync,
 * rename); on failure neither is left half-written.
 * Return: 0 complete; RS_REPORT_PARTIAL when some input had problems (the
 * rest was still written); -EINVAL for a malformed @date; other negative
 * errno when an output cannot be written (nothing was replaced).
 */
int rs_report_generate(const struct rs_config *cfg, const struct rs_progress *prog, const char *date,
                       const char *out_dir, struct rs_report_summary *sum, struct rs_diags *problems);

/*
 * rs_report_sanitize() - the cell transformation used for every lead cell,
 * exposed for tests: copy @len bytes of @s into @out (reset first) with
 * invalid UTF-8 and XML-illegal characters replaced by U+FFFD and the text
 * cut at a character boundary to at most 32,767 UTF-16 units. *@replaced and
 * *@truncated (may be NULL) are incremented by what was done.
 */
struct rs_buf;
void rs_report_sanitize(const char *s, size_t len, struct rs_buf *out, size_t *replaced, size_t *truncated);
