/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup audit`: every warm lead of the completed schools, checked
 * against its evidence page (docs/audit.md). The leads are read from the
 * CSVs the progress file names (columns by header name: coach_name,
 * nmdp_overlap, evidence_url, evidence_quote; a lead is warm when
 * nmdp_overlap is truthy per [report] truthy, as on the Warm leads sheet),
 * each evidence_url is fetched (fetch.h) no sooner than [audit]
 * per_host_interval after the last request to its host, and the page's
 * text is judged by rs_evidence_match() (core/evidence.c).
 *
 * Results go to <output_dir>/audit.json (store/auditfile.c), written
 * crash-safely and committed with the event "audit". Nothing is printed:
 * the callback hears of each lead, problems come back in diags.
 */
#pragma once

#include <stddef.h>

#include "ralphsup/store/auditfile.h"
#include "ralphsup/store/batch.h"

/* Called after each lead is judged: @i of @total (1-based). */
typedef void (*rs_audit_lead_fn)(void *ud, const struct rs_audit_lead *l, size_t i, size_t total);

enum {
    RS_AUDIT_E_NO_SCHOOL = 1, /* @school is not a completed school of the progress file */
};

/*
 * rs_audit_run() - audit the warm leads of @b's completed schools, or of
 * @school alone (matched exactly, then case-insensitively; its earlier
 * results in audit.json are replaced, the other schools' kept).
 * A CSV that cannot be read, or lacks coach_name or nmdp_overlap, is a
 * problem in @problems (its leads are not audited) and the run goes on.
 * Return: 0 and *@out (owned by the caller); RS_AUDIT_E_NO_SCHOOL; or
 * negative errno (libcurl could not start).
 */
int rs_audit_run(struct rs_batch *b, const char *school, rs_audit_lead_fn cb, void *ud, struct rs_auditfile **out,
                 struct rs_diags *problems);

/*
 * rs_audit_record() - save @f to audit.json crash-safely and commit it
 * (event "audit", Ralphsup-School when @school); a commit problem is a
 * warning in @warn. Return: 0, or negative errno when the file cannot be
 * written (@warn says where).
 */
int rs_audit_record(struct rs_batch *b, const struct rs_auditfile *f, const char *school, struct rs_diags *warn);
