/* SPDX-License-Identifier: MIT */
/*
 * The audit results, <output_dir>/audit.json (schema in docs/audit.md):
 * what `ralphsup audit` found on each warm lead's evidence page. A plain
 * data model, a strict load (every problem names its field), and a
 * crash-safe save (rs_file_write_atomic()). Written by the audit layer,
 * read by `status` (the counts) and the report (the Warm leads sheet's
 * audit column).
 *
 * No network, no libuv, no git.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ralphsup/base/common.h"
#include "ralphsup/core/config.h"
#include "ralphsup/core/evidence.h"

#define RS_AUDITFILE_SCHEMA_VERSION 1
#define RS_AUDITFILE_NAME "audit.json"

/* One audited lead. Strings are owned; NULL where docs/audit.md says null. */
struct rs_audit_lead {
    char *school;         /* the school's name in the progress file */
    char *coach;          /* coach_name as in the CSV */
    char *csv;            /* the CSV, relative to [batch] root when inside it */
    int64_t row;          /* physical line of the row in the CSV */
    char *evidence_url;
    char *evidence_quote;
    char *result;         /* "verified", "quote-not-found", "name-not-found", "no-evidence", "unreachable (...)" */
    int http_status;      /* last HTTP status; 0 = no response */
    char *final_url;      /* after redirects; NULL when nothing was fetched */
    int64_t fetched_ms;   /* epoch ms of the fetch; 0 = not fetched */
    int64_t bytes;        /* body bytes read (at most [audit] max_bytes) */
    bool truncated;       /* the body was cut at max_bytes: only its start was searched */
};

struct rs_auditfile {
    char *batch;
    int64_t started_ms, finished_ms;
    char *scope;          /* NULL = every completed school; else the --school of the last run */
    struct rs_audit_lead *leads;
    size_t n, cap;
};

enum {
    RS_AUDITFILE_E_NOT_FOUND = 1, /* no audit.json: nothing audited yet */
    RS_AUDITFILE_E_INVALID = 2,   /* diags say which field */
};

struct rs_auditfile *rs_auditfile_new(const char *batch);
struct rs_auditfile *rs_auditfile_free(struct rs_auditfile *f);
/* A new zeroed lead at the end (owned by @f). */
struct rs_audit_lead *rs_auditfile_add(struct rs_auditfile *f);
/* Remove the leads of @school (before `audit --school` re-audits it); their number. */
size_t rs_auditfile_drop_school(struct rs_auditfile *f, const char *school);
/* The first lead of @school whose coach is @coach (exact), or NULL. Linear. */
const struct rs_audit_lead *rs_auditfile_find(const struct rs_auditfile *f, const char *school, const char *coach);
/*
 * rs_auditfile_counts() - leads per result class (rs_evidence_result_parse());
 * @counts has RS_EVIDENCE_NRESULTS slots. Return: the number of leads.
 */
size_t rs_auditfile_counts(const struct rs_auditfile *f, size_t *counts);

/* <output_dir>/audit.json of @cfg (caller frees). */
char *rs_auditfile_path(const struct rs_config *cfg);
/*
 * rs_auditfile_load() - read and validate @path (at most 64 MiB).
 * Return: 0 and *out; RS_AUDITFILE_E_NOT_FOUND; RS_AUDITFILE_E_INVALID with
 * "path: leads[2].result: must be a string" (or the JSON error's
 * line:col) in @diags; negative errno.
 */
int rs_auditfile_load(const char *path, struct rs_auditfile **out, struct rs_diags *diags);
int rs_auditfile_parse(const char *data, size_t len, const char *origin, struct rs_auditfile **out,
                       struct rs_diags *diags);
/* Pretty JSON with the counts (caller frees). */
char *rs_auditfile_format(const struct rs_auditfile *f);
/* Crash-safe save. Return: 0 or negative errno. */
int rs_auditfile_save(const struct rs_auditfile *f, const char *path);
