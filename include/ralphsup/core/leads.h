/* SPDX-License-Identifier: MIT */
/*
 * The lead-sheet column schema: the contract columns every per-school CSV
 * carries (the agent writes them, docs/protocol.md defines them and
 * docs/report.md lists them), in report order. It lives in core because two
 * layers read it: the iteration observer verifies a RALPH_DONE claim against
 * it (verify.h) and the report lays out the master CSV and the Leads sheet
 * with it. The first RS_REPORT_NREQUIRED columns are the lead itself and
 * every CSV must have them; the six evidence columns after them are required
 * by [verify] level "leads" and may be absent from a CSV accepted at level
 * "counts" (the report leaves them empty then). Adding a column: add it
 * here, to prompts/, docs/protocol.md and docs/report.md.
 */
#pragma once

#define RS_REPORT_NREQUIRED 9 /* school .. source_url */
#define RS_REPORT_NCOLS 15    /* then evidence_url .. overlap_checked */
extern const char *const rs_report_columns[RS_REPORT_NCOLS];

/* Indexes into rs_report_columns. */
enum rs_lead_col {
    RS_COL_SCHOOL, RS_COL_COACH, RS_COL_TITLE, RS_COL_SPORT, RS_COL_EMAIL, RS_COL_PHONE, RS_COL_OVERLAP,
    RS_COL_OVERLAP_EVIDENCE, RS_COL_SOURCE_URL, RS_COL_EVIDENCE_URL, RS_COL_EVIDENCE_QUOTE, RS_COL_EVIDENCE_DATE,
    RS_COL_EVIDENCE_TYPE, RS_COL_CONFIDENCE, RS_COL_OVERLAP_CHECKED,
};
