/* SPDX-License-Identifier: MIT */
/*
 * The lead-sheet column schema: the contract columns every per-school CSV
 * carries (the agent writes them, docs/report.md lists them), in report
 * order. It lives in core because two layers read it: the iteration
 * observer verifies a RALPH_DONE claim against it (rs_csv_verify()) and the
 * report lays out the master CSV and the Leads sheet with it. Adding a
 * column: add it here, to prompts/ and to docs/report.md.
 */
#pragma once

#define RS_REPORT_NCOLS 9
extern const char *const rs_report_columns[RS_REPORT_NCOLS];
