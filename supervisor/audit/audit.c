/* SPDX-License-Identifier: MIT */
/*
 * The audit run (include/ralphsup/audit/audit.h): collect the warm leads
 * of the completed schools' CSVs first (so the total is known and a bad
 * CSV is reported before any fetch), then fetch and judge them one by one,
 * in progress order. Politeness is per host: before a request, wait until
 * [audit] per_host_interval has passed since the previous request to the
 * same host ended. The clock is read here, never in core.
 */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ralphsup/audit/audit.h"
#include "ralphsup/audit/fetch.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"
#include "ralphsup/core/csv.h"
#include "ralphsup/core/evidence.h"

enum { C_COACH, C_OVERLAP, C_URL, C_QUOTE, NCOLS };
static const char *const col_names[NCOLS] = {"coach_name", "nmdp_overlap", "evidence_url", "evidence_quote"};

/* Reading one CSV. */
struct reader {
    const struct rs_config *cfg;
    struct rs_auditfile *f;
    const char *school;
    const char *csv_rel;
    size_t map[NCOLS];
    bool skip;
    struct rs_diags *problems;
};

static char *cell(const struct rs_csv_record *rec, size_t j)
{
    if (j == (size_t)-1 || j >= rec->nfields)
        return NULL;
    /* Trim blanks: a URL or name with a stray space is still the same. */
    const char *s = rec->fields[j];
    size_t n = rec->lens[j];
    rs_trim_blanks(&s, &n);
    return rs_utf8_clean(s, n, 0, NULL, NULL);
}

static int row_cb(void *ud, const struct rs_csv_record *rec)
{
    struct reader *r = ud;
    if (rec->index == 0) {
        for (size_t k = 0; k < NCOLS; k++) {
            r->map[k] = (size_t)-1;
            for (size_t j = 0; j < rec->nfields && r->map[k] == (size_t)-1; j++)
                if (rs_csv_name_eq(rec->fields[j], rec->lens[j], col_names[k]))
                    r->map[k] = j;
        }
        if (r->map[C_COACH] == (size_t)-1 || r->map[C_OVERLAP] == (size_t)-1) {
            rs_diags_add(r->problems, "%s:1: missing column \"%s\"; the leads of %s are not audited", r->csv_rel,
                         r->map[C_COACH] == (size_t)-1 ? "coach_name" : "nmdp_overlap", r->school);
            r->skip = true;
            return 1000;
        }
        return 0;
    }
    size_t j = r->map[C_OVERLAP];
    const char *const *truthy = (const char *const *)r->cfg->report_truthy;
    if (!rs_csv_is_truthy(rec->fields[j], rec->lens[j], truthy, truthy ? r->cfg->nreport_truthy : 0))
        return 0;
    struct rs_audit_lead *l = rs_auditfile_add(r->f);
    l->school = rs_xstrdup(r->school);
    l->coach = cell(rec, r->map[C_COACH]);
    l->csv = rs_xstrdup(r->csv_rel);
    l->row = (int64_t)rec->line;
    l->evidence_url = cell(rec, r->map[C_URL]);
    l->evidence_quote = cell(rec, r->map[C_QUOTE]);
    return 0;
}

static void read_school(const struct rs_batch *b, const struct rs_school_state *s, struct rs_auditfile *f,
                        struct rs_diags *problems)
{
    if (!s->csv || !*s->csv) {
        rs_diags_add(problems, "completed school \"%s\" names no csv in the progress file; its leads are not audited",
                     s->name);
        return;
    }
    char *path = rs_path_join(b->cfg->root, s->csv);
    char *rel = rs_batch_relpath(b, path);
    struct reader r = {.cfg = b->cfg, .f = f, .school = s->name, .csv_rel = rel, .problems = problems};
    size_t before = f->n;
    struct rs_csv_error e = {0};
    int rc = rs_csv_parse_file(path, NULL, row_cb, &r, &e);
    if (rc < 0) {
        rs_diags_add(problems, "%s: cannot read the csv of \"%s\": %s; its leads are not audited", rel, s->name, e.msg);
    } else if (rc > 0 && !r.skip) {
        char buf[512];
        rs_diags_add(problems, "%s; the %zu warm %s before it %s audited, the rest of the file is not",
                     rs_csv_error_format(rel, &e, buf, sizeof buf), f->n - before,
                     rs_plural(f->n - before, "lead", "leads"), rs_plural(f->n - before, "is", "are"));
    }
    free(rel);
    free(path);
}

/* ---- politeness ------------------------------------------------------------------ */

struct host_clock {
    char **hosts;
    int64_t *last; /* monotonic ms the last request to the host ended */
    size_t n, cap;
};

static int64_t *host_slot(struct host_clock *hc, const char *host)
{
    for (size_t i = 0; i < hc->n; i++)
        if (strcmp(hc->hosts[i], host) == 0)
            return &hc->last[i];
    if (hc->n == hc->cap) {
        hc->cap = hc->cap ? hc->cap * 2 : 16;
        hc->hosts = rs_xrealloc(hc->hosts, hc->cap * sizeof(*hc->hosts));
        hc->last = rs_xrealloc(hc->last, hc->cap * sizeof(*hc->last));
    }
    hc->hosts[hc->n] = rs_xstrdup(host);
    hc->last[hc->n] = -1;
    return &hc->last[hc->n++];
}

/* The charset of a Content-Type ("text/html; charset=ISO-8859-1"), or NULL; caller frees. */
static char *charset_of(const char *ct)
{
    const char *p = ct ? strcasestr(ct, "charset=") : NULL;
    if (!p)
        return NULL;
    p += 8;
    if (*p == '"')
        p++;
    size_t n = strcspn(p, "\"; \t");
    return n && n < 40 ? rs_xstrndup(p, n) : NULL;
}

static void judge(struct rs_audit_lead *l, const struct rs_fetch_opts *fo, struct host_clock *hc,
                  int64_t interval_ms)
{
    if (!l->evidence_url || !*l->evidence_url || !l->evidence_quote || !*l->evidence_quote) {
        l->result = rs_xstrdup(rs_evidence_result_name(RS_EVIDENCE_NO_EVIDENCE));
        return;
    }
    if (!rs_evidence_url_ok(l->evidence_url)) {
        l->result = rs_xstrdup("unreachable (not an http(s) URL)");
        return;
    }
    char *host = rs_fetch_host(l->evidence_url);
    int64_t *last = host ? host_slot(hc, host) : NULL;
    free(host);
    if (last && *last >= 0) {
        int64_t left = *last + interval_ms - rs_mono_ms();
        if (left > 0)
            rs_sleep_ms(left);
    }
    struct rs_fetch_result res;
    l->fetched_ms = rs_now_ms();
    int r = rs_fetch(l->evidence_url, fo, &res);
    if (last)
        *last = rs_mono_ms();
    l->http_status = res.http_status;
    l->final_url = res.final_url ? rs_xstrdup(res.final_url) : NULL;
    l->bytes = (int64_t)res.body.len;
    l->truncated = res.truncated;
    if (r != 0) {
        char *why = rs_utf8_clean_str(res.error, 200);
        l->result = rs_xasprintf("unreachable (%s)", why);
        free(why);
        rs_fetch_result_deinit(&res);
        return;
    }
    struct rs_buf text, norm;
    rs_buf_init(&text);
    rs_buf_init(&norm);
    bool plain = res.content_type && strncasecmp(res.content_type, "text/plain", 10) == 0;
    if (plain) {
        rs_buf_append(&text, res.body.data ? res.body.data : "", res.body.len);
    } else {
        char *cs = charset_of(res.content_type);
        rs_html_text(res.body.data ? res.body.data : "", res.body.len, cs, &text);
        free(cs);
    }
    rs_evidence_normalize(text.data ? text.data : "", text.len, false, &norm);
    enum rs_evidence_result m = rs_evidence_match(rs_buf_cstr(&norm), norm.len, l->evidence_quote, l->coach);
    l->result = rs_xstrdup(rs_evidence_result_name(m));
    rs_buf_deinit(&text);
    rs_buf_deinit(&norm);
    rs_fetch_result_deinit(&res);
}

static const struct rs_school_state *find_completed(const struct rs_progress *p, const char *name)
{
    for (size_t i = 0; i < p->ncompleted; i++)
        if (p->completed[i].name && strcmp(p->completed[i].name, name) == 0)
            return &p->completed[i];
    for (size_t i = 0; i < p->ncompleted; i++)
        if (p->completed[i].name && strcasecmp(p->completed[i].name, name) == 0)
            return &p->completed[i];
    return NULL;
}

int rs_audit_run(struct rs_batch *b, const char *school, rs_audit_lead_fn cb, void *ud, struct rs_auditfile **out,
                 struct rs_diags *problems)
{
    *out = NULL;
    const struct rs_progress *p = b->prog;
    const struct rs_school_state *only = NULL;
    if (school && !(only = find_completed(p, school)))
        return RS_AUDIT_E_NO_SCHOOL;

    struct rs_auditfile *f = rs_auditfile_new(b->cfg->name);
    f->started_ms = rs_now_ms();
    if (only) {
        f->scope = rs_xstrdup(only->name);
        read_school(b, only, f, problems);
    } else {
        for (size_t i = 0; i < p->ncompleted; i++)
            read_school(b, &p->completed[i], f, problems);
    }

    if (f->n && rs_fetch_global_init() != 0) {
        rs_auditfile_free(f);
        return -EIO;
    }
    const struct rs_config *c = b->cfg;
    struct rs_fetch_opts fo = {
        .allow_private = c->audit_allow_private, .connect_timeout_ms = c->audit_connect_timeout_ms,
        .timeout_ms = c->audit_timeout_ms, .max_bytes = c->audit_max_bytes, .user_agent = c->audit_user_agent,
    };
    struct host_clock hc = {0};
    for (size_t i = 0; i < f->n; i++) {
        judge(&f->leads[i], &fo, &hc, c->audit_per_host_interval_ms);
        if (cb)
            cb(ud, &f->leads[i], i + 1, f->n);
    }
    for (size_t i = 0; i < hc.n; i++)
        free(hc.hosts[i]);
    free(hc.hosts);
    free(hc.last);
    if (f->n)
        rs_fetch_global_cleanup();
    f->finished_ms = rs_now_ms();

    /* --school: the other schools' earlier results stay. */
    if (only) {
        struct rs_diags ignore;
        rs_diags_init(&ignore);
        char *path = rs_auditfile_path(c);
        struct rs_auditfile *old = NULL;
        if (rs_auditfile_load(path, &old, &ignore) == 0) {
            rs_auditfile_drop_school(old, only->name);
            for (size_t i = 0; i < f->n; i++) {
                struct rs_audit_lead *l = rs_auditfile_add(old);
                *l = f->leads[i];
            }
            f->n = 0;
            old->started_ms = f->started_ms;
            old->finished_ms = f->finished_ms;
            free(old->scope);
            old->scope = f->scope;
            f->scope = NULL;
            free(old->batch);
            old->batch = rs_xstrdup(c->name);
            rs_auditfile_free(f);
            f = old;
        } else if (ignore.n) {
            rs_diags_add(problems, "%s was unreadable and is replaced by this audit's results (%s)", path,
                         ignore.msgs[0]);
        }
        free(path);
        rs_diags_deinit(&ignore);
    }
    *out = f;
    return 0;
}

int rs_audit_record(struct rs_batch *b, const struct rs_auditfile *f, const char *school, struct rs_diags *warn)
{
    char *path = rs_auditfile_path(b->cfg);
    int r = rs_auditfile_save(f, path);
    if (r < 0) {
        rs_diags_add(warn, "%s: cannot write the audit results: %s", path, strerror(-r));
        free(path);
        return r;
    }
    size_t counts[RS_EVIDENCE_NRESULTS];
    size_t n = rs_auditfile_counts(f, counts);
    struct rs_buf s;
    rs_buf_init(&s);
    rs_buf_printf(&s, "ralphsup: audit of %s%s%s: %zu verified of %zu warm %s", school ? "" : "batch ",
                  school ? school : b->cfg->name, school ? " (one school)" : "", counts[RS_EVIDENCE_VERIFIED], n,
                  rs_plural(n, "lead", "leads"));
    struct rs_buf body;
    rs_buf_init(&body);
    for (int i = 0; i < RS_EVIDENCE_NRESULTS; i++)
        rs_buf_printf(&body, "%s%s: %zu", i ? "\n" : "", rs_evidence_result_name(i), counts[i]);
    char *rel = rs_batch_relpath(b, path);
    rs_buf_printf(&body, "\n\nResults: %s (docs/audit.md).", rel);
    free(rel);
    struct rs_transition t = {.event = "audit", .school = school, .cost_usd = -1, .subject = rs_buf_cstr(&s),
                              .body = rs_buf_cstr(&body)};
    const char *paths[] = {path};
    rs_batch_commit_files(b, &t, paths, 1, warn);
    rs_buf_deinit(&s);
    rs_buf_deinit(&body);
    free(path);
    return 0;
}
