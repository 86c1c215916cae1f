/* SPDX-License-Identifier: MIT */
/*
 * The lead contract, checked (docs/protocol.md, "The lead contract"). When an
 * agent claims RALPH_DONE, the supervisor does not take the CSV on trust: at
 * [verify] level "leads" (the default) it reads every row and checks the
 * rules of the contract — the fifteen columns in order, at least one row,
 * `school` naming this school, no coach twice, `nmdp_overlap` exactly yes or
 * no, a yes backed by an evidence URL (http(s), not the directory page, not
 * a search-results page), a quote of at most 300 characters, an evidence
 * type and a confidence, a no with the evidence columns empty,
 * `overlap_checked` on every row, one valid e-mail address per cell on the
 * school's domains — and that the file is the school's assigned CSV and was
 * written during this attempt. At level "counts" it only parses the file
 * and counts rows and truthy overlaps, as ralphsup always did, for CSVs made
 * by other tools.
 *
 * Every failure is one reason naming the row and the column ("row 14 (Jane
 * Doe): nmdp_overlap is yes but evidence_url is empty"); the first few are
 * joined into the attempt's reason so the retry prompt can fix them. A share
 * of yes rows above max_yes_share is not a failure: it fills `review`.
 *
 * Pure: the caller resolves the paths and passes the file's mtime and the
 * attempt's start (no clock, no stat here). The CSV itself is read through
 * the streaming reader (csv.h), one record at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ralphsup/core/config.h"

#define RS_VERIFY_QUOTE_MAX 300     /* characters in evidence_quote */
#define RS_VERIFY_MAX_REASONS 5     /* reasons joined into the message; the rest are counted */
#define RS_VERIFY_MTIME_SLACK_MS 1000 /* file clocks are coarse: an mtime this much before the start still counts */

struct rs_verify_opts {
    enum rs_verify_level level;
    double max_yes_share;            /* review above this share of yes rows (0..1); >= 1 never flags */
    const char *const *truthy;       /* level counts: nmdp_overlap words that count (NULL = defaults) */
    size_t ntruthy;
    /* The school (level leads). */
    const char *school;              /* canonical name */
    const char *const *aliases;      /* other names `school` may hold */
    size_t naliases;
    const char *const *email_domains; /* NULL/0: any domain */
    size_t nemail_domains;
    /* The file (level leads). */
    const char *csv_shown;           /* the path as messages show it ("output/x.csv") */
    const char *csv_real;            /* resolved path of the claimed CSV */
    const char *assigned_real;       /* resolved path of the school's assigned CSV; NULL: not checked */
    const char *assigned_shown;      /* the same as messages show it (NULL: assigned_real) */
    int64_t attempt_started_ms;      /* epoch ms; 0: freshness not checked (replay) */
    int64_t csv_mtime_ms;            /* the claimed file's mtime, epoch ms */
    /* Clock-free freshness (used instead of the two above when csv_snapshot): the file's mtime
     * was compared with the one it had when the attempt started; a wall-clock step cannot fool it. */
    bool csv_snapshot;
    bool csv_unchanged;              /* it existed then, with the same mtime: not written */
};

struct rs_verify_result {
    size_t rows;     /* data rows */
    size_t overlaps; /* rows with nmdp_overlap yes (level counts: truthy) */
    size_t problems; /* reasons found (all of them, not only those in @reason) */
    char *reason;    /* NULL when accepted; else the first reasons joined by "; " */
    char *review;    /* NULL, or why the school should be reviewed (yes share) */
};

/*
 * rs_verify_csv_file() - check the CSV at @o->csv_real.
 * Return: 0 when accepted (r->reason NULL), 1 when not (r->reason set).
 * Free the strings with rs_verify_result_deinit().
 */
int rs_verify_csv_file(const struct rs_verify_opts *o, struct rs_verify_result *r);
/* Same on @len bytes at @data (the file checks still use @o's paths and times). */
int rs_verify_csv_buffer(const char *data, size_t len, const struct rs_verify_opts *o, struct rs_verify_result *r);
void rs_verify_result_deinit(struct rs_verify_result *r);

/* True when @url is an http(s) URL whose host is a search engine or whose path or query is a site search. */
bool rs_verify_is_search_url(const char *url);
/* True when @s is one syntactically valid e-mail address (local@domain.tld, no blanks, no list). */
bool rs_verify_email_valid(const char *s);
/* True when @s is a domain name (labels of [A-Za-z0-9-], not starting or ending with '-', a dot, at most 253). */
bool rs_verify_domain_valid(const char *s);
