/* SPDX-License-Identifier: MIT */
/*
 * audit.json (include/ralphsup/store/auditfile.h, docs/audit.md). The file
 * is written whole, crash-safely, after every audit run; `status` and the
 * report only read it. The load is strict about types (a wrong one names
 * its field) but keeps no member it does not know: the file is ours, and
 * the next audit rewrites it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"
#include "ralphsup/store/auditfile.h"

#define AUDITFILE_MAX_BYTES ((size_t)64 << 20)

struct rs_auditfile *rs_auditfile_new(const char *batch)
{
    struct rs_auditfile *f = rs_xcalloc(1, sizeof(*f));
    f->batch = rs_xstrdup(batch ? batch : "");
    return f;
}

static void lead_deinit(struct rs_audit_lead *l)
{
    free(l->school);
    free(l->coach);
    free(l->csv);
    free(l->evidence_url);
    free(l->evidence_quote);
    free(l->result);
    free(l->final_url);
}

struct rs_auditfile *rs_auditfile_free(struct rs_auditfile *f)
{
    if (!f)
        return NULL;
    for (size_t i = 0; i < f->n; i++)
        lead_deinit(&f->leads[i]);
    free(f->leads);
    free(f->batch);
    free(f->scope);
    free(f);
    return NULL;
}

struct rs_audit_lead *rs_auditfile_add(struct rs_auditfile *f)
{
    f->leads = rs_xgrow(f->leads, f->n, &f->cap, sizeof(*f->leads), 16);
    struct rs_audit_lead *l = &f->leads[f->n++];
    memset(l, 0, sizeof(*l));
    return l;
}

size_t rs_auditfile_drop_school(struct rs_auditfile *f, const char *school)
{
    size_t k = 0, dropped = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->leads[i].school && strcmp(f->leads[i].school, school) == 0) {
            lead_deinit(&f->leads[i]);
            dropped++;
        } else {
            f->leads[k++] = f->leads[i];
        }
    }
    f->n = k;
    return dropped;
}

const struct rs_audit_lead *rs_auditfile_find(const struct rs_auditfile *f, const char *school, const char *coach)
{
    if (!f || !school || !coach)
        return NULL;
    for (size_t i = 0; i < f->n; i++) {
        const struct rs_audit_lead *l = &f->leads[i];
        if (l->school && l->coach && strcmp(l->school, school) == 0 && strcmp(l->coach, coach) == 0)
            return l;
    }
    return NULL;
}

size_t rs_auditfile_counts(const struct rs_auditfile *f, size_t *counts)
{
    memset(counts, 0, RS_EVIDENCE_NRESULTS * sizeof(*counts));
    for (size_t i = 0; i < f->n; i++) {
        int c = rs_evidence_result_parse(f->leads[i].result);
        if (c >= 0)
            counts[c]++;
    }
    return f->n;
}

char *rs_auditfile_path(const struct rs_config *cfg)
{
    return rs_path_join(cfg->output_dir, RS_AUDITFILE_NAME);
}

/* ---- format ------------------------------------------------------------------ */

static json_t *str_or_null(const char *s)
{
    if (!s)
        return json_null();
    char *c = rs_utf8_clean_str(s, 0);
    json_t *j = json_string(c);
    free(c);
    return j;
}

static json_t *time_or_null(int64_t ms)
{
    char ts[40];
    return ms > 0 ? json_string(rs_time_iso(ms, ts, sizeof ts)) : json_null();
}

char *rs_auditfile_format(const struct rs_auditfile *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "schema_version", json_integer(RS_AUDITFILE_SCHEMA_VERSION));
    json_object_set_new(o, "batch", str_or_null(f->batch));
    json_object_set_new(o, "started_at", time_or_null(f->started_ms));
    json_object_set_new(o, "finished_at", time_or_null(f->finished_ms));
    json_object_set_new(o, "scope", str_or_null(f->scope));
    size_t counts[RS_EVIDENCE_NRESULTS];
    rs_auditfile_counts(f, counts);
    json_t *c = json_object();
    for (int i = 0; i < RS_EVIDENCE_NRESULTS; i++)
        json_object_set_new(c, rs_evidence_result_name(i), json_integer((json_int_t)counts[i]));
    json_object_set_new(o, "counts", c);
    json_t *a = json_array();
    for (size_t i = 0; i < f->n; i++) {
        const struct rs_audit_lead *l = &f->leads[i];
        json_t *e = json_object();
        json_object_set_new(e, "school", str_or_null(l->school));
        json_object_set_new(e, "coach", str_or_null(l->coach));
        json_object_set_new(e, "csv", str_or_null(l->csv));
        json_object_set_new(e, "row", json_integer(l->row));
        json_object_set_new(e, "evidence_url", str_or_null(l->evidence_url));
        json_object_set_new(e, "evidence_quote", str_or_null(l->evidence_quote));
        json_object_set_new(e, "result", str_or_null(l->result));
        json_object_set_new(e, "http_status", l->http_status ? json_integer(l->http_status) : json_null());
        json_object_set_new(e, "final_url", str_or_null(l->final_url));
        json_object_set_new(e, "fetched_at", time_or_null(l->fetched_ms));
        json_object_set_new(e, "bytes", json_integer(l->bytes));
        json_object_set_new(e, "truncated", json_boolean(l->truncated));
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "leads", a);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        rs_xmalloc((size_t)-1); /* jansson failed only for lack of memory: abort like rs_x* */
    char *r = rs_xasprintf("%s\n", s);
    free(s);
    return r;
}

int rs_auditfile_save(const struct rs_auditfile *f, const char *path)
{
    char *s = rs_auditfile_format(f);
    char *dir = rs_path_dirname(path);
    int r = rs_mkdir_p(dir, 0755);
    free(dir);
    if (r == 0)
        r = rs_file_write_atomic(path, s, strlen(s), 0644);
    free(s);
    return r;
}

/* ---- load ---------------------------------------------------------------------- */

struct pctx {
    const char *origin;
    struct rs_diags *diags;
    bool bad;
};

/* A problem with the member @key of @where ("" at the top level), or with @where itself (@key NULL). */
static void bad(struct pctx *c, const char *where, const char *key, const char *msg)
{
    rs_diags_add(c->diags, "%s: %s%s%s: %s", c->origin, where, *where && key ? "." : "", key ? key : "", msg);
    c->bad = true;
}

/* A string or null member (@required: it must be present). */
static char *get_str(struct pctx *c, json_t *o, const char *key, const char *where, bool nullable)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (!nullable)
            bad(c, where, key, "must be a string");
        return NULL;
    }
    if (!json_is_string(v)) {
        bad(c, where, key, nullable ? "must be a string or null" : "must be a string");
        return NULL;
    }
    return rs_xstrdup(json_string_value(v));
}

static int64_t get_int(struct pctx *c, json_t *o, const char *key, const char *where, bool nullable)
{
    json_t *v = json_object_get(o, key);
    if ((!v || json_is_null(v)) && nullable)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        bad(c, where, key, nullable ? "must be a whole number >= 0 or null" : "must be a whole number >= 0");
        return 0;
    }
    return json_integer_value(v);
}

static int64_t get_time(struct pctx *c, json_t *o, const char *key, const char *where)
{
    char *s = get_str(c, o, key, where, true);
    int64_t ms = 0;
    if (s && rs_time_parse_iso(s, &ms) != 0)
        bad(c, where, key, "must be an ISO 8601 UTC time like \"2026-11-24T20:33:10Z\" or null");
    free(s);
    return ms;
}

int rs_auditfile_parse(const char *data, size_t len, const char *origin, struct rs_auditfile **out,
                       struct rs_diags *diags)
{
    *out = NULL;
    json_error_t je;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        rs_diags_addpos(diags, origin, je.line, je.column, "%s", je.text);
        return RS_AUDITFILE_E_INVALID;
    }
    struct pctx c = {.origin = origin, .diags = diags};
    if (!json_is_object(j)) {
        bad(&c, "(top level)", NULL, "must be an object");
        json_decref(j);
        return RS_AUDITFILE_E_INVALID;
    }
    int64_t v = get_int(&c, j, "schema_version", "", false);
    if (!c.bad && v != RS_AUDITFILE_SCHEMA_VERSION)
        bad(&c, "", "schema_version", "must be 1 (written by a different ralphsup?)");
    struct rs_auditfile *f = rs_auditfile_new(NULL);
    free(f->batch);
    f->batch = get_str(&c, j, "batch", "", true);
    f->scope = get_str(&c, j, "scope", "", true);
    f->started_ms = get_time(&c, j, "started_at", "");
    f->finished_ms = get_time(&c, j, "finished_at", "");
    json_t *a = json_object_get(j, "leads");
    if (!json_is_array(a)) {
        bad(&c, "", "leads", "must be an array");
    } else {
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_t *e = json_array_get(a, i);
            char where[32];
            snprintf(where, sizeof where, "leads[%zu]", i);
            if (!json_is_object(e)) {
                bad(&c, where, NULL, "must be an object");
                continue;
            }
            struct rs_audit_lead *l = rs_auditfile_add(f);
            l->school = get_str(&c, e, "school", where, false);
            l->coach = get_str(&c, e, "coach", where, false);
            l->csv = get_str(&c, e, "csv", where, true);
            l->row = get_int(&c, e, "row", where, true);
            l->evidence_url = get_str(&c, e, "evidence_url", where, true);
            l->evidence_quote = get_str(&c, e, "evidence_quote", where, true);
            l->result = get_str(&c, e, "result", where, false);
            if (l->result && rs_evidence_result_parse(l->result) < 0)
                bad(&c, where, "result", "must be verified, quote-not-found, name-not-found, no-evidence or unreachable (...)");
            int64_t st = get_int(&c, e, "http_status", where, true);
            l->http_status = st > 999 ? 0 : (int)st;
            l->final_url = get_str(&c, e, "final_url", where, true);
            l->fetched_ms = get_time(&c, e, "fetched_at", where);
            l->bytes = get_int(&c, e, "bytes", where, true);
            json_t *t = json_object_get(e, "truncated");
            if (t && !json_is_boolean(t))
                bad(&c, where, "truncated", "must be true or false");
            l->truncated = json_is_true(t);
        }
    }
    json_decref(j);
    if (c.bad) {
        rs_auditfile_free(f);
        return RS_AUDITFILE_E_INVALID;
    }
    *out = f;
    return 0;
}

int rs_auditfile_load(const char *path, struct rs_auditfile **out, struct rs_diags *diags)
{
    *out = NULL;
    char *data;
    size_t len;
    int r = rs_file_read(path, AUDITFILE_MAX_BYTES, &data, &len);
    if (r == -ENOENT)
        return RS_AUDITFILE_E_NOT_FOUND;
    if (r == -EFBIG) {
        rs_diags_addpos(diags, path, 0, 0, "file is larger than %zu MiB", AUDITFILE_MAX_BYTES >> 20);
        return RS_AUDITFILE_E_INVALID;
    }
    if (r < 0)
        return r;
    r = rs_auditfile_parse(data, len, path, out, diags);
    free(data);
    return r;
}
