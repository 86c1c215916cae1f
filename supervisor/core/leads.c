/* SPDX-License-Identifier: MIT */
/* The lead-sheet column schema (see include/ralphsup/core/leads.h). */
#include "ralphsup/core/leads.h"

const char *const rs_report_columns[RS_REPORT_NCOLS] = {
    "school", "coach_name", "title", "sport", "email", "phone", "nmdp_overlap", "overlap_evidence", "source_url",
    "evidence_url", "evidence_quote", "evidence_date", "evidence_type", "confidence", "overlap_checked",
};
