/* SPDX-License-Identifier: MIT */
/*
 * batch_progress.json: the durable batch state. This module converts between
 * the plain struct rs_progress and JSON (jansson) and saves crash-safely
 * through rs_file_write_atomic(). Loading builds no DOM at all (see
 * "parsing" below): it costs the file plus the structs. The schema is
 * documented in docs/progress.md; it is a superset of the seed's schema
 * (batch_name, started, last_updated, current_school, completed, failed,
 * pending keep their meaning).
 *
 * It does not know who produced the state: no libuv, no git, no agent.
 */
#include <errno.h>
#include <stdio.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/json.h"
#include "ralphsup/base/strmap.h"
#include "ralphsup/store/progress.h"
#include "ralphsup/store/progress_write.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

#define PROGRESS_MAX_BYTES (512u * 1024 * 1024)

/* ---- lifetime ------------------------------------------------------------- */

struct rs_progress *rs_progress_new(const char *batch_name, int64_t now_ms)
{
    struct rs_progress *p = rs_xcalloc(1, sizeof(*p));
    p->schema_version = RS_PROGRESS_SCHEMA_VERSION;
    p->batch_name = rs_xstrdup(batch_name ? batch_name : "");
    p->started_ms = now_ms;
    p->last_updated_ms = now_ms;
    p->status = RS_STATUS_INITIALIZED;
    return p;
}

/* ---- the names of the enums in the file ---------------------------------- */

static const char *const status_names[] = {
    [RS_STATUS_INITIALIZED] = "initialized", [RS_STATUS_RUNNING] = "running",
    [RS_STATUS_FINISHED] = "finished",       [RS_STATUS_STOPPED] = "stopped",
    [RS_STATUS_CANCELLED] = "cancelled",
};

static const char *const outcome_names[] = {
    [RS_OUTCOME_COMPLETED] = "completed", [RS_OUTCOME_FAILED] = "failed",   [RS_OUTCOME_TRANSIENT] = "transient",
    [RS_OUTCOME_CANCELLED] = "cancelled", [RS_OUTCOME_STOPPED] = "stopped",
};

const char *rs_progress_status_name(enum rs_progress_status st)
{
    return (size_t)st < RS_ARRAY_SIZE(status_names) ? status_names[st] : "initialized";
}

bool rs_progress_status_parse(const char *s, enum rs_progress_status *out)
{
    for (size_t i = 0; s && i < RS_ARRAY_SIZE(status_names); i++)
        if (strcmp(s, status_names[i]) == 0) {
            *out = (enum rs_progress_status)i;
            return true;
        }
    return false;
}

const char *rs_outcome_name(enum rs_outcome o)
{
    return (size_t)o < RS_ARRAY_SIZE(outcome_names) ? outcome_names[o] : NULL;
}

enum rs_outcome rs_outcome_parse(const char *s)
{
    if (!s)
        return RS_OUTCOME_NONE;
    for (size_t i = 1; i < RS_ARRAY_SIZE(outcome_names); i++)
        if (strcmp(s, outcome_names[i]) == 0)
            return (enum rs_outcome)i;
    return RS_OUTCOME_OTHER;
}

static void attempt_deinit(struct rs_attempt *a)
{
    free(a->outcome_other);
    free(a->reason);
    free(a->exit_status);
    free(a->session_id);
    free(a->failure_class);
    free(a->extra);
}

static void school_state_deinit(struct rs_school_state *s)
{
    free(s->name);
    free(s->slug);
    free(s->csv);
    free(s->review);
    free(s->reason);
    for (size_t i = 0; i < s->nattempts; i++)
        attempt_deinit(&s->attempts[i]);
    free(s->attempts);
    free(s->extra);
    memset(s, 0, sizeof(*s));
}

struct rs_current *rs_current_free(struct rs_current *c)
{
    while (c) {
        struct rs_current *next = c->next;
        free(c->name);
        free(c->slug);
        free(c->run_token);
        free(c->extra);
        free(c);
        c = next;
    }
    return NULL;
}

size_t rs_progress_ninflight(const struct rs_progress *p)
{
    size_t n = 0;
    for (const struct rs_current *c = p->current; c; c = c->next)
        n++;
    return n;
}

struct rs_current *rs_progress_inflight_find(const struct rs_progress *p, const char *name)
{
    for (struct rs_current *c = p->current; c; c = c->next)
        if (c->name && strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

struct rs_current *rs_progress_inflight_add(struct rs_progress *p, const char *name)
{
    struct rs_current **at = &p->current;
    while (*at)
        at = &(*at)->next;
    *at = rs_xcalloc(1, sizeof(**at));
    (*at)->name = rs_xstrdup(name);
    return *at;
}

bool rs_progress_inflight_remove(struct rs_progress *p, const char *name)
{
    for (struct rs_current **at = &p->current; *at; at = &(*at)->next) {
        if ((*at)->name && strcmp((*at)->name, name) == 0) {
            struct rs_current *c = *at;
            *at = c->next;
            c->next = NULL;
            rs_current_free(c);
            return true;
        }
    }
    return false;
}

static void stop_free(struct rs_stop *s)
{
    if (!s)
        return;
    free(s->reason);
    free(s->limit);
    free(s);
}

static void states_free(struct rs_school_state *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        school_state_deinit(&v[i]);
    free(v);
}

struct rs_progress *rs_progress_free(struct rs_progress *p)
{
    if (!p)
        return NULL;
    free(p->batch_name);
    for (size_t i = 0; i < p->npending; i++)
        free(p->pending[i]);
    free(p->pending);
    rs_progress_unseal(p);
    states_free(p->completed, p->ncompleted);
    states_free(p->failed, p->nfailed);
    states_free(p->history, p->nhistory);
    rs_current_free(p->current);
    stop_free(p->stopped);
    free(p->extra);
    rs_diags_deinit(&p->repairs);
    free(p);
    return NULL;
}

/* ---- transitions ------------------------------------------------------------ */

/* Capacity for @n elements grows by doubling: n is a power of two or 0 at each growth. */
static bool needs_growth(size_t n)
{
    return n == 0 || (n & (n - 1)) == 0;
}

static size_t grown(size_t n)
{
    return n == 0 ? 4 : n * 2;
}

void rs_progress_push_pending(struct rs_progress *p, const char *name, bool front)
{
    if (needs_growth(p->npending) || p->npending < 4)
        p->pending = rs_xrealloc(p->pending, (p->npending < 4 ? 4 : grown(p->npending)) * sizeof(*p->pending));
    if (front) {
        memmove(p->pending + 1, p->pending, p->npending * sizeof(*p->pending));
        p->pending[0] = rs_xstrdup(name);
    } else {
        p->pending[p->npending] = rs_xstrdup(name);
    }
    p->npending++;
}

bool rs_progress_remove_pending(struct rs_progress *p, const char *name)
{
    for (size_t i = 0; i < p->npending; i++) {
        if (strcmp(p->pending[i], name) == 0) {
            free(p->pending[i]);
            memmove(p->pending + i, p->pending + i + 1, (p->npending - i - 1) * sizeof(*p->pending));
            p->npending--;
            return true;
        }
    }
    return false;
}

static struct rs_school_state *find_state(struct rs_school_state *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

bool rs_progress_is_known(const struct rs_progress *p, const char *name)
{
    for (size_t i = 0; i < p->npending; i++)
        if (strcmp(p->pending[i], name) == 0)
            return true;
    if (find_state(p->completed, p->ncompleted, name) || find_state(p->failed, p->nfailed, name))
        return true;
    return rs_progress_inflight_find(p, name) != NULL;
}

static struct rs_school_state *states_push(struct rs_school_state **v, size_t *n)
{
    if (needs_growth(*n) || *n < 4)
        *v = rs_xrealloc(*v, (*n < 4 ? 4 : grown(*n)) * sizeof(**v));
    struct rs_school_state *s = &(*v)[*n];
    memset(s, 0, sizeof(*s));
    (*n)++;
    return s;
}

int rs_progress_drop_history(struct rs_progress *p, const char *name)
{
    struct rs_school_state *h = find_state(p->history, p->nhistory, name);
    if (!h)
        return -1;
    int n = (int)h->nattempts;
    size_t idx = (size_t)(h - p->history);
    school_state_deinit(h);
    memmove(p->history + idx, p->history + idx + 1, (p->nhistory - idx - 1) * sizeof(*p->history));
    p->nhistory--;
    return n;
}

struct rs_school_state *rs_progress_history(struct rs_progress *p, const char *name, const char *slug, bool create)
{
    struct rs_school_state *s = find_state(p->history, p->nhistory, name);
    if (s || !create)
        return s;
    s = states_push(&p->history, &p->nhistory);
    s->name = rs_xstrdup(name);
    s->slug = rs_xstrdup(slug ? slug : "");
    return s;
}

/* Move the history entry of @name (if any) into @v, returning the new slot. */
static struct rs_school_state *move_from_history(struct rs_progress *p, struct rs_school_state **v, size_t *n,
                                                 const char *name, const char *slug)
{
    struct rs_school_state *dst = states_push(v, n);
    struct rs_school_state *h = find_state(p->history, p->nhistory, name);
    if (h) {
        *dst = *h;
        size_t idx = (size_t)(h - p->history);
        memmove(p->history + idx, p->history + idx + 1, (p->nhistory - idx - 1) * sizeof(*p->history));
        p->nhistory--;
    } else {
        dst->name = rs_xstrdup(name);
        dst->slug = rs_xstrdup(slug ? slug : "");
    }
    return dst;
}

struct rs_school_state *rs_progress_complete(struct rs_progress *p, const char *name, const char *slug)
{
    return move_from_history(p, &p->completed, &p->ncompleted, name, slug);
}

struct rs_school_state *rs_progress_fail(struct rs_progress *p, const char *name, const char *slug, const char *reason)
{
    struct rs_school_state *s = move_from_history(p, &p->failed, &p->nfailed, name, slug);
    free(s->reason);
    s->reason = rs_xstrdup(reason ? reason : "unknown");
    return s;
}

struct rs_attempt *rs_school_state_add_attempt(struct rs_school_state *s)
{
    if (needs_growth(s->nattempts) || s->nattempts < 4)
        s->attempts = rs_xrealloc(s->attempts, (s->nattempts < 4 ? 4 : grown(s->nattempts)) * sizeof(*s->attempts));
    struct rs_attempt *a = &s->attempts[s->nattempts++];
    memset(a, 0, sizeof(*a));
    return a;
}

double rs_progress_finished_cost(const struct rs_progress *p, size_t *n)
{
    double sum = 0;
    for (size_t i = 0; i < p->ncompleted; i++)
        sum += p->completed[i].cost_usd;
    for (size_t i = 0; i < p->nfailed; i++)
        sum += p->failed[i].cost_usd;
    if (n)
        *n = p->ncompleted + p->nfailed;
    return sum;
}

void rs_progress_set_stopped(struct rs_progress *p, const char *reason, const char *limit, int64_t now_ms)
{
    stop_free(p->stopped);
    p->stopped = NULL;
    if (!reason)
        return;
    p->stopped = rs_xcalloc(1, sizeof(*p->stopped));
    p->stopped->reason = rs_xstrdup(reason);
    p->stopped->limit = limit ? rs_xstrdup(limit) : NULL;
    p->stopped->at_ms = now_ms;
}

/* ---- serialisation -------------------------------------------------------------- */

/* The text comes from the streaming writer, store/progress_write.c (no DOM). */
char *rs_progress_format(const struct rs_progress *p)
{
    struct rs_buf b;
    rs_buf_init(&b);
    rs_progress_write(p, &b);
    return rs_buf_steal(&b);
}

/* ---- sealed segments ------------------------------------------------------------ */

/*
 * Big batches: every save rewrites (and every commit hashes and deflates)
 * the whole file, so its per-school detail would make each transition cost
 * the whole batch. Once seal_every completed schools are written in full,
 * their entries move into a segment file, written once (and committed once)
 * and never again; the progress file keeps only their names, as the seed's
 * schema has them. The file then stays the size of the school list plus at
 * most seal_every full entries, whatever the batch's progress.
 */

char *rs_progress_segment_path(const struct rs_progress *p, const char *path, size_t k)
{
    char *dir = rs_path_dirname(path);
    char *abs = rs_path_join(dir, p->segments[k]);
    free(dir);
    return abs;
}

void rs_progress_unseal(struct rs_progress *p)
{
    for (size_t i = 0; i < p->ncompleted; i++)
        p->completed[i].segment = 0;
    for (size_t i = 0; i < p->nsegments; i++) {
        free(p->segments[i]);
        free(p->segment_text[i]);
    }
    free(p->segments);
    free(p->segment_text);
    free(p->segment_saved);
    p->segments = p->segment_text = NULL;
    p->segment_saved = NULL;
    p->nsegments = 0;
}

/* Write segment @k (1-based) from the entries sealed in it; a new segments directory is made durable. */
static int write_segment(const struct rs_progress *p, const char *path, size_t k)
{
    char *abs = rs_progress_segment_path(p, path, k - 1);
    char *dir = rs_path_dirname(abs);
    int r = 0;
    if (!rs_file_exists(dir)) {
        r = rs_mkdir_p(dir, 0755);
        if (r == 0)
            r = rs_fsync_parent_dir(dir);
    }
    if (r == 0 && p->segment_text[k - 1]) {
        /* Read from git: its own bytes (the times in the file are whole seconds; a rewrite would differ). */
        r = rs_file_write_atomic(abs, p->segment_text[k - 1], strlen(p->segment_text[k - 1]), 0644);
    } else if (r == 0) {
        struct rs_buf b;
        rs_buf_init(&b);
        rs_progress_write_segment(p, k, &b);
        r = rs_file_write_atomic(abs, b.data, b.len, 0644);
        rs_buf_deinit(&b);
    }
    free(dir);
    free(abs);
    return r;
}

/* "batch_progress.json" -> "batch_progress.segments/000007.json": the name of segment @k of @path. */
static char *segment_name(const char *path, size_t k)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    return rs_xasprintf("%.*s.segments/%06zu.json", (int)n, base, k);
}

static void segment_push(struct rs_progress *p, char *rel, bool saved)
{
    p->segments = rs_xrealloc(p->segments, (p->nsegments + 1) * sizeof(*p->segments));
    p->segment_saved = rs_xrealloc(p->segment_saved, (p->nsegments + 1) * sizeof(*p->segment_saved));
    p->segment_text = rs_xrealloc(p->segment_text, (p->nsegments + 1) * sizeof(*p->segment_text));
    p->segments[p->nsegments] = rel;
    p->segment_text[p->nsegments] = NULL;
    p->segment_saved[p->nsegments++] = saved;
}

/* Seal the completed entries written in full into a new segment, when there are p->seal_every of them. */
static void seal(struct rs_progress *p, const char *path)
{
    size_t open = 0;
    for (size_t i = 0; i < p->ncompleted; i++)
        open += p->completed[i].segment == 0;
    if (!p->seal_every || open < p->seal_every)
        return;
    size_t k = p->nsegments + 1;
    segment_push(p, segment_name(path, k), false);
    for (size_t i = 0; i < p->ncompleted; i++)
        if (p->completed[i].segment == 0)
            p->completed[i].segment = k;
    if (write_segment(p, path, k) == 0) {
        p->segment_saved[k - 1] = true;
        return;
    }
    /* Not written (disk full, ...): they stay in full; the next save tries again. */
    for (size_t i = 0; i < p->ncompleted; i++)
        if (p->completed[i].segment == k)
            p->completed[i].segment = 0;
    free(p->segments[--p->nsegments]);
}

int rs_progress_save(struct rs_progress *p, const char *path, int64_t now_ms)
{
    p->last_updated_ms = now_ms;
    /* A file read from git (recover, merge): its segments are written before the file that names them. */
    for (size_t k = 0; k < p->nsegments; k++) {
        if (p->segment_saved[k])
            continue;
        int r = write_segment(p, path, k + 1);
        if (r < 0)
            return r;
        p->segment_saved[k] = true;
        free(p->segment_text[k]);
        p->segment_text[k] = NULL;
    }
    seal(p, path);
    /* Reasons come from the agent: the writer redacts anything that looks like an API key. */
    struct rs_buf b;
    rs_buf_init(&b);
    rs_progress_write(p, &b);
    int r = rs_file_write_atomic(path, b.data, b.len, 0644);
    rs_buf_deinit(&b);
    return r;
}

/* ---- parsing: from JSON text to structs ------------------------------------- */

/*
 * Loading never builds a DOM. The scanner (base/json.c with RS_JSON_JANSSON
 * and jansson's own nesting bound, so it refuses exactly what jansson
 * refuses) checks the whole buffer once; the values are then read straight
 * from the validated text (rs_json_object_next, rs_json_unescape, the
 * numbers), one member at a time. Peak memory is the file buffer and the
 * structs. A file the scanner refuses is handed to jansson, for its own
 * "line:col: invalid JSON" diagnostic.
 */

/* jansson's JSON_PARSER_MAX_DEPTH (not in its header), counted its way: every value is a level. */
#define PROGRESS_MAX_DEPTH 2048
/* Longest member name worth decoding: longer ones are not ours. */
#define KEY_MAX 32

struct ctx {
    const char *origin;
    struct rs_diags *diags;
    const struct rs_json_index *ix; /* the long strings of the file */
    int errors;
    rs_progress_read_fn rd;         /* reads the segment files (NULL: none can be read) */
    void *ud;
    bool disk;                      /* rd reads them from disk: what it read is saved */
};

RS_PRINTF(2, 3) static void bad(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = rs_xvasprintf(fmt, ap);
    va_end(ap);
    rs_diags_addpos(c->diags, c->origin, 0, 0, "%s", msg);
    free(msg);
    c->errors++;
}

/* The name of member @key of @where ("" at top level), for messages: "completed[2].coaches". */
static char *field_path(const char *where, const char *key)
{
    return where[0] ? rs_xasprintf("%s.%s", where, key) : rs_xstrdup(key);
}

/* An absent member is the span {NULL, NULL}; jansson's json_is_null() and friends, on validated text. */
static bool is_none(struct rs_json_span v)
{
    return !v.p || rs_json_is_literal(v, "null");
}

static bool is_number(struct rs_json_span v)
{
    return v.p && (*v.p == '-' || (*v.p >= '0' && *v.p <= '9'));
}

/* A number jansson reads as an integer: no fraction, no exponent. */
static bool is_integer(struct rs_json_span v)
{
    if (!is_number(v))
        return false;
    for (const char *p = v.p; p < v.e; p++)
        if (*p == '.' || *p == 'e' || *p == 'E')
            return false;
    return true;
}

static bool is_bool(struct rs_json_span v)
{
    return v.p && (rs_json_is_literal(v, "true") || rs_json_is_literal(v, "false"));
}

/* The string @v decoded, NUL-terminated: a \u0000 ends it, as with json_string_value(). Caller frees. */
static char *text_of(struct rs_json_span v)
{
    size_t cap = (size_t)(v.e - v.p);
    char *s = rs_xmalloc(cap + 1);
    s[rs_json_unescape(v, s, cap, NULL)] = '\0';
    return s;
}

/* What @v is, for "... (got X)": the value itself when short, else its kind. Caller frees. */
static char *describe(struct rs_json_span v)
{
    if (rs_json_is_object(v))
        return rs_xstrdup("an object");
    if (rs_json_is_array(v))
        return rs_xstrdup("an array");
    if (rs_json_is_string(v)) {
        char *s = text_of(v);
        size_t n = rs_utf8_boundary(s, strlen(s), 40);
        char *r = rs_xasprintf("a string \"%.*s%s\"", (int)n, s, s[n] ? "..." : "");
        free(s);
        return r;
    }
    if (is_bool(v))
        return rs_xstrdup(*v.p == 't' ? "true" : "false");
    int64_t i;
    double d;
    if (is_integer(v) && rs_json_i64(v, &i))
        return rs_xasprintf("%lld", (long long)i);
    if (is_number(v) && rs_json_f64(v, &d))
        return rs_xasprintf("%g", d);
    return rs_xstrdup("null");
}

static void bad_type(struct ctx *c, struct rs_json_span v, const char *field, const char *want)
{
    char *got = describe(v);
    bad(c, "%s must be %s (got %s)", field, want, got);
    free(got);
}

/* A wrongly typed member @key of @where: "<where>.<key> must be <want> (got ...)". */
static void bad_member(struct ctx *c, struct rs_json_span v, const char *key, const char *where, const char *want)
{
    char *f = field_path(where, key);
    bad_type(c, v, f, want);
    free(f);
}

/* @v is the value of @key in @where (absent: p NULL). */
static char *str_value(struct ctx *c, struct rs_json_span v, const char *key, bool required, const char *where)
{
    if (is_none(v)) {
        if (required) {
            char *f = field_path(where, key);
            bad(c, "missing required field \"%s\"", f);
            free(f);
        }
        return NULL;
    }
    if (!rs_json_is_string(v)) {
        bad_member(c, v, key, where, "a string");
        return NULL;
    }
    return text_of(v);
}

static int64_t time_value(struct ctx *c, struct rs_json_span v, const char *key, const char *where)
{
    if (is_none(v))
        return 0;
    int64_t ms = 0;
    char *s = rs_json_is_string(v) ? text_of(v) : NULL;
    /*
     * A time at or before 1970-01-01T00:00:00Z would be saved as null (0 is
     * "absent" in memory): refused, so a file loads as it saves (fuzzing).
     */
    if (!s || rs_time_parse_iso(s, &ms) < 0 || ms <= 0) {
        bad_member(c, v, key, where, "an ISO 8601 UTC time after 1970 like \"2026-11-24T20:33:10Z\"");
        ms = 0;
    }
    free(s);
    return ms;
}

/* A whole number in [@min, @max]; absent or null gives @def. */
static int64_t whole_value(struct ctx *c, struct rs_json_span v, const char *key, const char *where, int64_t min,
                           int64_t max, int64_t def)
{
    if (is_none(v))
        return def;
    bool ok = false;
    int64_t n = def;
    double d;
    if (is_integer(v)) {
        ok = rs_json_i64(v, &n);
    } else if (is_number(v) && rs_json_f64(v, &d) && d == floor(d) && fabs(d) < 9e15) {
        n = (int64_t)d;
        ok = true;
    }
    if (!ok || n < min || n > max) {
        char want[48];
        snprintf(want, sizeof want, "a whole number >= %lld", (long long)min);
        bad_member(c, v, key, where, want);
        return def;
    }
    return n;
}

/* An amount in USD (a number >= 0); absent or null gives 0. */
static double money_value(struct ctx *c, struct rs_json_span v, const char *key, const char *where)
{
    if (is_none(v))
        return 0.0;
    double d = -1.0;
    if (!is_number(v) || !rs_json_f64(v, &d) || !(d >= 0) || !isfinite(d)) {
        bad_member(c, v, key, where, "a number >= 0 (USD)");
        return 0.0;
    }
    return d;
}

static bool bool_value(struct ctx *c, struct rs_json_span v, const char *key, const char *where)
{
    if (is_none(v))
        return false;
    if (!is_bool(v)) {
        bad_member(c, v, key, where, "true or false");
        return false;
    }
    return *v.p == 't';
}

/* A value that is derived on save (duration_s): checked, then ignored. */
static void derived_number(struct ctx *c, struct rs_json_span v, const char *key, const char *where)
{
    if (!is_none(v) && !is_number(v))
        bad_member(c, v, key, where, "a number");
}

/* The index in @keys (NULL-ended) of the member name token @k, or -1. */
static int key_index(struct rs_json_span k, const char *const *keys)
{
    char key[KEY_MAX];
    bool cut = false;
    size_t n = rs_json_unescape(k, key, sizeof key, &cut);
    for (int i = 0; !cut && keys[i]; i++)
        if (n == strlen(keys[i]) && memcmp(key, keys[i], n) == 0)
            return i;
    return -1;
}

/*
 * The members of the object @o: the value of each of @keys (NULL-ended) in
 * @vals (absent: {NULL, NULL}; the last of duplicates wins, as in jansson)
 * and, when @extra is not NULL, the others as JSON object text (NULL when
 * none), written back on save. A key whose bit in @known is clear counts
 * as one of the others.
 */
static void members(const struct ctx *c, struct rs_json_span o, const char *const *keys, unsigned known,
                    struct rs_json_span *vals, char **extra)
{
    for (size_t i = 0; keys[i]; i++)
        vals[i] = (struct rs_json_span){NULL, NULL};
    struct rs_buf b;
    rs_buf_init(&b);
    struct rs_json_iter it;
    struct rs_json_span k, v;
    rs_json_object_begin(&it, o, c->ix);
    while (rs_json_object_next(&it, &k, &v)) {
        int i = key_index(k, keys);
        if (i >= 0 && (known >> i & 1u)) {
            vals[i] = v;
        } else if (extra) {
            rs_buf_putc(&b, b.len ? ',' : '{');
            rs_buf_append(&b, k.p, (size_t)(v.e - k.p));
        }
    }
    if (extra) {
        if (b.len)
            rs_buf_putc(&b, '}');
        *extra = b.len ? rs_buf_steal(&b) : NULL;
    }
    rs_buf_deinit(&b);
}

#define ALL_KEYS (~0u)

enum { A_ATTEMPT, A_ITERATION, A_STARTED, A_FINISHED, A_DURATION, A_COST, A_ESTIMATED, A_OUTCOME, A_CLASS,
       A_REASON, A_EXIT, A_SESSION, A_COUNT };
static const char *const attempt_keys[] = {"attempt", "iteration", "started", "finished", "duration_s", "cost_usd",
                                           "cost_estimated", "outcome", "class", "reason", "exit_status",
                                           "session_id", NULL};
/* A school's members; the last five are known only in completed (coaches .. review) or failed (reason). */
enum { S_NAME, S_SLUG, S_STARTED, S_FINISHED, S_DURATION, S_COST, S_ATTEMPTS, S_ATTEMPTS_RESET, S_COACHES, S_OVERLAPS,
       S_CSV, S_REVIEW, S_REASON, S_COUNT };
static const char *const state_keys[] = {"name", "slug", "started", "finished", "duration_s", "cost_usd", "attempts",
                                         "attempts_reset", "coaches", "overlaps", "csv", "review", "reason", NULL};
#define STATE_KNOWN ((1u << S_COACHES) - 1)
#define COMPLETED_KNOWN (STATE_KNOWN | 1u << S_COACHES | 1u << S_OVERLAPS | 1u << S_CSV | 1u << S_REVIEW)
#define FAILED_KNOWN (STATE_KNOWN | 1u << S_REASON)
enum { C_NAME, C_SLUG, C_ATTEMPT, C_ITERATION, C_STARTED, C_SUPERVISOR_PID, C_PID, C_RUN_TOKEN, C_COUNT };
static const char *const current_keys[] = {"name", "slug", "attempt", "iteration", "started", "supervisor_pid", "pid",
                                           "run_token", NULL};

static void parse_attempts(struct ctx *c, struct rs_json_span arr, struct rs_school_state *s, const char *where)
{
    if (is_none(arr))
        return;
    if (!rs_json_is_array(arr)) {
        bad_member(c, arr, "attempts", where, "an array of attempt objects");
        return;
    }
    struct rs_json_iter it;
    struct rs_json_span aj, m[A_COUNT];
    rs_json_array_begin(&it, arr, c->ix);
    for (size_t i = 0; rs_json_array_next(&it, &aj); i++) {
        char *w = rs_xasprintf("%s.attempts[%zu]", where, i);
        if (!rs_json_is_object(aj)) {
            bad_type(c, aj, w, "an object");
            free(w);
            continue;
        }
        struct rs_attempt *a = rs_school_state_add_attempt(s);
        members(c, aj, attempt_keys, ALL_KEYS, m, &a->extra);
        a->attempt = (int)whole_value(c, m[A_ATTEMPT], "attempt", w, 0, INT_MAX, 0);
        a->iteration = whole_value(c, m[A_ITERATION], "iteration", w, 0, INT64_MAX, 0);
        a->started_ms = time_value(c, m[A_STARTED], "started", w);
        a->finished_ms = time_value(c, m[A_FINISHED], "finished", w);
        derived_number(c, m[A_DURATION], "duration_s", w);
        a->cost_usd = money_value(c, m[A_COST], "cost_usd", w);
        a->cost_estimated = bool_value(c, m[A_ESTIMATED], "cost_estimated", w);
        a->outcome_other = str_value(c, m[A_OUTCOME], "outcome", false, w);
        a->outcome = rs_outcome_parse(a->outcome_other);
        if (a->outcome != RS_OUTCOME_OTHER) {
            free(a->outcome_other);
            a->outcome_other = NULL;
        }
        a->failure_class = str_value(c, m[A_CLASS], "class", false, w);
        a->reason = str_value(c, m[A_REASON], "reason", false, w);
        a->exit_status = str_value(c, m[A_EXIT], "exit_status", false, w);
        a->session_id = str_value(c, m[A_SESSION], "session_id", false, w);
        free(w);
    }
}

/* A completed entry written as a name, until read_segments() finds it (or not) in a segment. */
#define SEGMENT_UNRESOLVED SIZE_MAX

/* Where the elements of one of the school arrays go. */
struct states_dst {
    const char *key;
    struct rs_school_state **v;
    size_t *n;
    bool completed;
    bool failed;
};

/* Element @i of "completed", "failed" or "retry_history". */
static void parse_state(struct ctx *c, struct rs_json_span sj, size_t i, void *arg)
{
    const struct states_dst *d = arg;
    char *w = rs_xasprintf("%s[%zu]", d->key, i);
    if (rs_json_is_string(sj) && (d->completed || d->failed)) {
        /* Seed schema: completed/failed may be plain names. A completed one may be sealed in a segment. */
        struct rs_school_state *s = states_push(d->v, d->n);
        s->name = text_of(sj);
        s->slug = rs_xstrdup("");
        if (d->completed)
            s->segment = SEGMENT_UNRESOLVED;
        if (d->failed)
            s->reason = rs_xstrdup("unknown (imported from seed progress file)");
        free(w);
        return;
    }
    if (!rs_json_is_object(sj)) {
        bad_type(c, sj, w, d->completed || d->failed ? "an object or a school name" : "an object");
        free(w);
        return;
    }
    struct rs_json_span m[S_COUNT];
    char *extra;
    members(c, sj, state_keys, d->completed ? COMPLETED_KNOWN : d->failed ? FAILED_KNOWN : STATE_KNOWN, m, &extra);
    char *name = str_value(c, m[S_NAME], "name", true, w);
    if (!name) {
        free(extra);
        free(w);
        return;
    }
    struct rs_school_state *s = states_push(d->v, d->n);
    s->name = name;
    s->extra = extra;
    s->slug = str_value(c, m[S_SLUG], "slug", false, w);
    if (!s->slug)
        s->slug = rs_xstrdup("");
    s->started_ms = time_value(c, m[S_STARTED], "started", w);
    s->finished_ms = time_value(c, m[S_FINISHED], "finished", w);
    derived_number(c, m[S_DURATION], "duration_s", w);
    s->cost_usd = money_value(c, m[S_COST], "cost_usd", w);
    if (d->completed) {
        s->coaches = (int)whole_value(c, m[S_COACHES], "coaches", w, 0, INT_MAX, 0);
        s->overlaps = (int)whole_value(c, m[S_OVERLAPS], "overlaps", w, 0, INT_MAX, 0);
        s->csv = str_value(c, m[S_CSV], "csv", false, w);
        s->review = str_value(c, m[S_REVIEW], "review", false, w);
    }
    if (d->failed) {
        s->reason = str_value(c, m[S_REASON], "reason", false, w);
        if (!s->reason)
            s->reason = rs_xstrdup("unknown");
    }
    parse_attempts(c, m[S_ATTEMPTS], s, w);
    s->attempts_reset = (size_t)whole_value(c, m[S_ATTEMPTS_RESET], "attempts_reset", w, 0, INT_MAX, 0);
    if (s->attempts_reset > s->nattempts)
        s->attempts_reset = s->nattempts;
    free(w);
}

/* Element @i of "pending". */
static void parse_pending(struct ctx *c, struct rs_json_span v, size_t i, void *arg)
{
    struct rs_progress *p = arg;
    if (!rs_json_is_string(v)) {
        char *f = rs_xasprintf("pending[%zu]", i);
        bad_type(c, v, f, "a school name (string)");
        free(f);
        return;
    }
    char *name = text_of(v);
    rs_progress_push_pending(p, name, false);
    free(name);
}

static struct rs_current *parse_current(struct ctx *c, struct rs_json_span cj, const char *label)
{
    struct rs_current *cur = rs_xcalloc(1, sizeof(*cur));
    struct rs_json_span m[C_COUNT];
    members(c, cj, current_keys, ALL_KEYS, m, &cur->extra);
    cur->name = str_value(c, m[C_NAME], "name", true, label);
    cur->slug = str_value(c, m[C_SLUG], "slug", false, label);
    cur->attempt = (int)whole_value(c, m[C_ATTEMPT], "attempt", label, 0, INT_MAX, 0);
    cur->iteration = whole_value(c, m[C_ITERATION], "iteration", label, 0, INT64_MAX, 0);
    cur->started_ms = time_value(c, m[C_STARTED], "started", label);
    cur->supervisor_pid = (int)whole_value(c, m[C_SUPERVISOR_PID], "supervisor_pid", label, 0, INT_MAX, 0);
    cur->pid = (int)whole_value(c, m[C_PID], "pid", label, 0, INT_MAX, 0);
    cur->run_token = str_value(c, m[C_RUN_TOKEN], "run_token", false, label);
    if (cur->name)
        return cur;
    rs_current_free(cur);
    return NULL;
}

/* ---- the top-level members ----------------------------------------------------- */

enum member {
    M_SCHEMA_VERSION,
    M_BATCH_NAME,
    M_STATUS,
    M_STARTED,
    M_LAST_UPDATED,
    M_PENDING,
    M_COMPLETED,
    M_FAILED,
    M_RETRY_HISTORY,
    M_CURRENT,
    M_CURRENT_SCHOOL,
    M_ITERATIONS,
    M_COST_USD,
    M_COST_ESTIMATED,
    M_STOPPED,
    M_EVENTS_DROPPED,
    M_IN_PROGRESS,
    M_SEGMENTS,
    M_COUNT
};

static const char *const member_names[M_COUNT + 1] = {
    "schema_version", "batch_name", "status",  "started",        "last_updated",
    "pending",        "completed",  "failed",  "retry_history", "current",
    "current_school", "iterations", "cost_usd", "cost_estimated", "stopped",
    "events_dropped", "in_progress", "segments", NULL,
};

enum shape { SHAPE_ABSENT, SHAPE_NULL, SHAPE_OTHER, SHAPE_ARRAY };

typedef void (*element_fn)(struct ctx *c, struct rs_json_span v, size_t i, void *arg);

/* Pass each element of the array @v to @fn. Return: the shape of @v. */
static enum shape each(struct ctx *c, struct rs_json_span v, element_fn fn, void *arg)
{
    if (!v.p)
        return SHAPE_ABSENT;
    if (!rs_json_is_array(v))
        return is_none(v) ? SHAPE_NULL : SHAPE_OTHER;
    struct rs_json_iter it;
    struct rs_json_span el;
    rs_json_array_begin(&it, v, c->ix);
    for (size_t i = 0; rs_json_array_next(&it, &el); i++)
        fn(c, el, i, arg);
    return SHAPE_ARRAY;
}

/*
 * Scan @data once, as strict as jansson (whatever it passes, jansson would
 * parse), its long strings indexed in @ix. Return: whether it is exactly
 * one JSON object, *@root its span (root->e NULL when the scan failed).
 */
static bool scan_object(const char *data, size_t len, struct rs_json_index *ix, struct rs_json_scan *v,
                        struct rs_json_span *root)
{
    rs_json_scan_init(v, RS_JSON_JANSSON | RS_JSON_VALUE_DEPTH, PROGRESS_MAX_DEPTH);
    v->index = ix;
    const char *end = data + len;
    *root = (struct rs_json_span){rs_json_skip_ws(data, end), rs_json_scan_value(v, data, end)};
    return root->e && rs_json_skip_ws(root->e, end) == end && rs_json_is_object(*root);
}

/* ---- the segments a file names ------------------------------------------------------ */

/* Element @i of "segments": a path relative to the progress file's directory, below it. */
static void parse_segment_name(struct ctx *c, struct rs_json_span v, size_t i, void *arg)
{
    struct rs_progress *p = arg;
    char *rel = rs_json_is_string(v) ? text_of(v) : NULL;
    bool ok = rel && rel[0] && rel[0] != '/' && strcmp(rel, "..") != 0 && strncmp(rel, "../", 3) != 0 &&
              !strstr(rel, "/../") && !(strlen(rel) >= 3 && strcmp(rel + strlen(rel) - 3, "/..") == 0);
    if (!ok) {
        char w[48];
        snprintf(w, sizeof w, "segments[%zu]", i);
        bad_type(c, v, w, "a relative path below the progress file's directory");
        free(rel);
        return;
    }
    segment_push(p, rel, false);
}

/* "<dir of @origin>/<@rel>": how messages name a segment file. */
static char *segment_origin(const char *origin, const char *rel)
{
    const char *slash = strrchr(origin, '/');
    return slash ? rs_xasprintf("%.*s/%s", (int)(slash - origin), origin, rel) : rs_xstrdup(rel);
}

/*
 * Read segment @k (0-based) of @p: validate it as the progress file is
 * validated, then move the entry of each school that @where (name → index
 * in p->completed) still lists as unresolved into its place. An entry of a
 * school not listed so (changed since, so written in full again) is stale
 * and dropped.
 */
static void read_segment(struct ctx *c, struct rs_progress *p, size_t k, const struct rs_strmap *where)
{
    const char *rel = p->segments[k];
    char *origin = segment_origin(c->origin, rel);
    char *data = NULL;
    size_t len = 0;
    int r = c->rd ? c->rd(c->ud, rel, &data, &len) : -ENOSYS;
    if (r < 0) {
        rs_diags_addpos(c->diags, origin, 0, 0, "segments[%zu]: cannot read the segment file: %s", k,
                        r == -EFBIG ? "larger than 512 MiB" : r == -ENOSYS ? "no reader for segments here" : strerror(-r));
        c->errors++;
        free(origin);
        return;
    }
    struct rs_json_index ix = {0};
    struct rs_json_scan v;
    struct rs_json_span root;
    if (!scan_object(data, len, &ix, &v, &root)) {
        struct rs_json_cursor cur;
        rs_json_cursor_init(&cur, data, len);
        struct rs_json_pos at = rs_json_cursor_at(&cur, v.err_at ? (size_t)(v.err_at - data) : len);
        rs_diags_addpos(c->diags, origin, at.line, at.col, "invalid JSON: %s",
                        root.e && !rs_json_is_object(root) ? "top level must be a JSON object"
                                                           : rs_json_strerror(v.err ? v.err : RS_JSON_E_TRAILING));
        c->errors++;
    } else {
        struct ctx sc = {.origin = origin, .diags = c->diags, .ix = &ix};
        static const char *const seg_keys[] = {"schema_version", "batch_name", "segment", "completed", NULL};
        struct rs_json_span m[4];
        members(&sc, root, seg_keys, ALL_KEYS, m, NULL);
        char *batch = str_value(&sc, m[1], "batch_name", true, "");
        if (batch && strcmp(batch, p->batch_name) != 0)
            bad(&sc, "batch_name \"%s\" is not the progress file's (\"%s\"): not this batch's segment", batch,
                p->batch_name);
        free(batch);
        int64_t no = whole_value(&sc, m[2], "segment", "", 1, INT64_MAX, 0);
        if (!sc.errors && (uint64_t)no != k + 1)
            bad(&sc, "segment is %lld, but the progress file names this file as segments[%zu] (segment %zu)",
                (long long)no, k, k + 1);
        struct rs_school_state *v2 = NULL;
        size_t n = 0;
        const struct states_dst dst = {"completed", &v2, &n, true, false};
        if (each(&sc, m[3], parse_state, (void *)&dst) != SHAPE_ARRAY)
            bad(&sc, "missing required field \"completed\" (an array of completed entries)");
        for (size_t i = 0; i < n; i++) {
            const size_t *at = rs_strmap_get(where, v2[i].name);
            struct rs_school_state *dstate = at ? &p->completed[*at] : NULL;
            if (v2[i].segment == SEGMENT_UNRESOLVED) {
                char w[48];
                snprintf(w, sizeof w, "completed[%zu]", i);
                bad(&sc, "%s must be an object (a sealed entry in full)", w);
            } else if (dstate && dstate->segment == SEGMENT_UNRESOLVED && !sc.errors) {
                school_state_deinit(dstate);
                *dstate = v2[i];
                dstate->segment = k + 1;
                continue;
            }
            school_state_deinit(&v2[i]);
        }
        free(v2);
        c->errors += sc.errors;
        if (!sc.errors && c->disk) {
            p->segment_saved[k] = true;
        } else if (!sc.errors && strlen(data) == len) {
            p->segment_text[k] = data; /* written back as it was on the next save */
            data = NULL;
        }
    }
    rs_json_index_deinit(&ix);
    free(data);
    free(origin);
}

/* Fill in the completed entries the file lists by name from the segments it names. */
static void read_segments(struct ctx *c, struct rs_progress *p, struct rs_json_span v)
{
    enum shape sh = each(c, v, parse_segment_name, p);
    if (sh == SHAPE_OTHER)
        bad(c, "segments must be an array of file names");
    struct rs_strmap where = {0};
    for (size_t i = 0; i < p->ncompleted; i++)
        if (p->completed[i].segment == SEGMENT_UNRESOLVED)
            rs_strmap_put(&where, p->completed[i].name, i);
    for (size_t k = 0; k < p->nsegments && !c->errors; k++)
        read_segment(c, p, k, &where);
    rs_strmap_deinit(&where);
    for (size_t i = 0; i < p->ncompleted; i++) {
        struct rs_school_state *s = &p->completed[i];
        if (s->segment != SEGMENT_UNRESOLVED)
            continue;
        s->segment = 0; /* a plain name: the seed schema's, in a file without segments */
        if (p->nsegments && !c->errors)
            bad(c, "completed[%zu] \"%s\" is a name only (sealed), but none of the %zu segments holds its entry", i,
                s->name, p->nsegments);
    }
}

/* Sum of the attempts' costs: what the batch total is made of. */
static double attempts_cost(const struct rs_progress *p, size_t *nattempts, bool *estimated)
{
    double sum = 0;
    const struct {
        const struct rs_school_state *v;
        size_t n;
    } lists[] = {{p->completed, p->ncompleted}, {p->failed, p->nfailed}, {p->history, p->nhistory}};
    for (size_t l = 0; l < 3; l++) {
        for (size_t i = 0; i < lists[l].n; i++) {
            for (size_t k = 0; k < lists[l].v[i].nattempts; k++) {
                const struct rs_attempt *a = &lists[l].v[i].attempts[k];
                sum += a->cost_usd;
                (*nattempts)++;
                if (a->cost_estimated && a->cost_usd > 0)
                    *estimated = true;
            }
        }
    }
    return sum;
}

/* The schools in flight: "in_progress" (every one), else "current", else the seed's "current_school". */
static void convert_current(struct ctx *c, struct rs_progress *p, const struct rs_json_span *top)
{
    struct rs_json_span cj = top[M_CURRENT], cs = top[M_CURRENT_SCHOOL], ip = top[M_IN_PROGRESS], e;
    if (!is_none(cs) && !rs_json_is_string(cs))
        bad_type(c, cs, "current_school", "a school name or null");
    if (!is_none(ip) && !rs_json_is_array(ip))
        bad_type(c, ip, "in_progress", "an array of the schools in flight");
    struct rs_json_iter it;
    if (rs_json_array_begin(&it, ip, c->ix) && rs_json_array_next(&it, &e)) {
        /* Every school in flight; "current" repeats the first (the one in flight longest). */
        struct rs_current **at = &p->current;
        size_t i = 0;
        do {
            char label[40];
            snprintf(label, sizeof label, "in_progress[%zu]", i++);
            if (!rs_json_is_object(e)) {
                bad_type(c, e, label, "an object");
                continue;
            }
            struct rs_current *cur = parse_current(c, e, label);
            if (cur) {
                *at = cur;
                at = &cur->next;
            }
        } while (rs_json_array_next(&it, &e));
        struct rs_json_span m[C_COUNT] = {{NULL, NULL}};
        if (rs_json_is_object(cj))
            members(c, cj, current_keys, ALL_KEYS, m, NULL);
        char *cn = rs_json_is_string(m[C_NAME]) ? text_of(m[C_NAME]) : NULL;
        if (cn && p->current && strcmp(cn, p->current->name) != 0)
            bad(c, "current (\"%s\") must be the first school of in_progress (\"%s\")", cn, p->current->name);
        free(cn);
    } else if (rs_json_is_object(cj)) {
        p->current = parse_current(c, cj, "current");
    } else if (!is_none(cj)) {
        bad_type(c, cj, "current", "an object or null");
    } else if (rs_json_is_string(cs)) {
        /* Seed schema: only the name. */
        p->current = rs_xcalloc(1, sizeof(*p->current));
        p->current->name = text_of(cs);
    }
}

/* Convert the validated object @root into a new struct rs_progress; NULL after c->errors. */
static struct rs_progress *convert(struct ctx *c, struct rs_json_span root)
{
    struct rs_progress *p = rs_xcalloc(1, sizeof(*p));
    struct rs_json_span top[M_COUNT];
    members(c, root, member_names, ALL_KEYS, top, &p->extra);
    /* No schema_version: the seed schema (plain names, current_school), upgraded on the next save. */
    bool seed = is_none(top[M_SCHEMA_VERSION]);
    p->schema_version =
        (int)whole_value(c, top[M_SCHEMA_VERSION], "schema_version", "", 1, INT_MAX, RS_PROGRESS_SCHEMA_VERSION);
    if (p->schema_version > RS_PROGRESS_SCHEMA_VERSION) {
        rs_diags_addpos(c->diags, c->origin, 0, 0, "schema_version %d is newer than this ralphsup understands (%d)",
                        p->schema_version, RS_PROGRESS_SCHEMA_VERSION);
        c->errors++;
    }
    if (seed)
        rs_diags_add(&p->repairs, "%s: no schema_version: read as a seed progress file and upgraded to schema_version %d",
                     c->origin, RS_PROGRESS_SCHEMA_VERSION);
    p->batch_name = str_value(c, top[M_BATCH_NAME], "batch_name", true, "");
    if (!p->batch_name)
        p->batch_name = rs_xstrdup("");
    char *status = str_value(c, top[M_STATUS], "status", false, "");
    p->status = RS_STATUS_INITIALIZED;
    if (status && !rs_progress_status_parse(status, &p->status))
        bad(c, "status must be one of initialized, running, finished, stopped, cancelled (got \"%s\")", status);
    free(status);
    p->started_ms = time_value(c, top[M_STARTED], "started", "");
    p->last_updated_ms = time_value(c, top[M_LAST_UPDATED], "last_updated", "");

    enum shape sh = each(c, top[M_PENDING], parse_pending, p);
    if (sh == SHAPE_NULL || sh == SHAPE_OTHER)
        bad(c, "pending must be an array of school names");
    else if (sh == SHAPE_ABSENT && !seed)
        bad(c, "missing required field \"pending\" (without it the schools not yet run would be skipped)");
    const struct states_dst dst[] = {
        {"completed", &p->completed, &p->ncompleted, true, false},
        {"failed", &p->failed, &p->nfailed, false, true},
        {"retry_history", &p->history, &p->nhistory, false, false},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(dst); i++) {
        sh = each(c, top[M_COMPLETED + i], parse_state, (void *)&dst[i]);
        if (sh == SHAPE_OTHER)
            bad(c, "%s must be an array", dst[i].key);
        else if (sh == SHAPE_ABSENT && !seed && (dst[i].completed || dst[i].failed))
            bad(c, "missing required field \"%s\" (without it those schools would run again)", dst[i].key);
    }

    read_segments(c, p, top[M_SEGMENTS]);
    convert_current(c, p, top);
    if (is_none(top[M_ITERATIONS]) && !seed)
        bad(c, "missing required field \"iterations\" (the iterations run so far, which max_iterations counts; it "
               "cannot be recomputed safely)");
    p->iterations = whole_value(c, top[M_ITERATIONS], "iterations", "", 0, INT64_MAX, 0);
    bool cost_missing = is_none(top[M_COST_USD]);
    p->cost_usd = money_value(c, top[M_COST_USD], "cost_usd", "");
    p->cost_estimated = bool_value(c, top[M_COST_ESTIMATED], "cost_estimated", "");
    p->events_dropped = whole_value(c, top[M_EVENTS_DROPPED], "events_dropped", "", 0, INT64_MAX, 0);
    if (cost_missing && !seed && !c->errors) {
        /* Every cost ralphsup adds to the total is also an attempt's: the sum is the total. */
        size_t n = 0;
        bool est = false;
        p->cost_usd = attempts_cost(p, &n, &est);
        p->cost_estimated = p->cost_estimated || est;
        char m[32];
        rs_diags_add(&p->repairs, "%s: cost_usd was missing: recomputed as %s, the sum of the %zu attempts recorded",
                     c->origin, rs_money_format(p->cost_usd, m, sizeof m), n);
    }
    struct rs_json_span st = top[M_STOPPED];
    if (rs_json_is_object(st)) {
        static const char *const stop_keys[] = {"reason", "limit", "at", NULL};
        struct rs_json_span m[3];
        members(c, st, stop_keys, ALL_KEYS, m, NULL);
        char *reason = str_value(c, m[0], "reason", false, "stopped");
        char *limit = str_value(c, m[1], "limit", false, "stopped");
        rs_progress_set_stopped(p, reason ? reason : "stopped", limit, time_value(c, m[2], "at", "stopped"));
        free(reason);
        free(limit);
    } else if (!is_none(st)) {
        bad_type(c, st, "stopped", "an object or null");
    }
    if (!c->errors) {
        struct rs_diags refused;
        rs_diags_init(&refused);
        rs_progress_check(p, c->origin, &p->repairs, &refused);
        for (size_t i = 0; i < refused.n; i++)
            rs_diags_add(c->diags, "%s", refused.msgs[i]);
        c->errors += (int)refused.n;
        rs_diags_deinit(&refused);
    }
    if (c->errors)
        p = rs_progress_free(p);
    return p;
}

/* The file is not a JSON object the scanner accepts: say why, in jansson's words. */
static int refuse(const char *data, size_t len, const char *origin, const struct rs_json_scan *v,
                  struct rs_diags *diags)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_ALLOW_NUL, &je);
    if (!root) {
        rs_diags_addpos(diags, origin, je.line, je.column, "invalid JSON: %s", je.text);
    } else if (!json_is_object(root)) {
        rs_diags_addpos(diags, origin, 0, 0, "top level must be a JSON object");
    } else {
        /* Never expected (the scanner refuses exactly what jansson refuses): the scanner's own words. */
        struct rs_json_cursor cur;
        rs_json_cursor_init(&cur, data, len);
        struct rs_json_pos at = rs_json_cursor_at(&cur, v->err_at ? (size_t)(v->err_at - data) : len);
        rs_diags_addpos(diags, origin, at.line, at.col, "invalid JSON: %s",
                        rs_json_strerror(v->err ? v->err : RS_JSON_E_TRAILING));
    }
    json_decref(root);
    return RS_PROGRESS_E_INVALID;
}

static int parse(const char *data, size_t len, const char *origin, rs_progress_read_fn rd, void *ud, bool disk,
                 struct rs_progress **out, struct rs_diags *diags)
{
    /* A UTF-8 byte order mark (some editors write one) is not JSON: skip it, and say so. */
    bool bom = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0;
    if (bom) {
        data += 3;
        len -= 3;
    }
    struct rs_json_index ix = {0};
    struct rs_json_scan v;
    struct rs_json_span root;
    if (!scan_object(data, len, &ix, &v, &root)) {
        rs_json_index_deinit(&ix);
        return refuse(data, len, origin, &v, diags);
    }
    struct ctx c = {.origin = origin, .diags = diags, .ix = &ix, .rd = rd, .ud = ud, .disk = disk};
    struct rs_progress *p = convert(&c, root);
    rs_json_index_deinit(&ix);
    if (!p)
        return RS_PROGRESS_E_INVALID;
    if (bom)
        rs_diags_add(&p->repairs, "%s: skipped the UTF-8 byte order mark at the start of the file (not written back)",
                     origin);
    *out = p;
    return 0;
}

int rs_progress_parse(const char *data, size_t len, const char *origin, struct rs_progress **out, struct rs_diags *diags)
{
    return parse(data, len, origin, NULL, NULL, false, out, diags);
}

int rs_progress_parse_with(const char *data, size_t len, const char *origin, rs_progress_read_fn rd, void *ud,
                           struct rs_progress **out, struct rs_diags *diags)
{
    return parse(data, len, origin, rd, ud, false, out, diags);
}

/* The segments of a file on disk: next to it. */
static int read_beside(void *ud, const char *rel, char **data, size_t *len)
{
    char *abs = rs_path_join(ud, rel);
    int r = rs_file_read(abs, PROGRESS_MAX_BYTES, data, len);
    free(abs);
    return r;
}

int rs_progress_load(const char *path, struct rs_progress **out, struct rs_diags *diags)
{
    char *data;
    size_t len;
    int r = rs_file_read(path, PROGRESS_MAX_BYTES, &data, &len);
    if (r == -ENOENT)
        return RS_PROGRESS_E_NOT_FOUND;
    if (r == -EFBIG) {
        rs_diags_addpos(diags, path, 0, 0, "file is larger than %u MiB", PROGRESS_MAX_BYTES >> 20);
        return RS_PROGRESS_E_INVALID;
    }
    if (r < 0)
        return r;
    char *dir = rs_path_dirname(path);
    r = parse(data, len, path, read_beside, dir, true, out, diags);
    free(dir);
    free(data);
    return r;
}

/* ---- consistency: every school in exactly one place ------------------------------ */

enum place { PL_PENDING, PL_CURRENT, PL_COMPLETED, PL_FAILED, PL_HISTORY, PL_COUNT };

static const char *const place_key[PL_COUNT] = {"pending", "current", "completed", "failed", "retry_history"};

struct occ {
    const char *name;
    enum place place;
    size_t index;
};

static int occ_cmp(const void *a, const void *b)
{
    const struct occ *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r)
        return r;
    if (x->place != y->place)
        return x->place < y->place ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* "pending[3]", or "current". */
static const char *occ_label(const struct occ *o, char *buf, size_t n)
{
    if (o->place == PL_CURRENT && o->index == 0)
        snprintf(buf, n, "current");
    else if (o->place == PL_CURRENT)
        snprintf(buf, n, "in_progress[%zu]", o->index);
    else
        snprintf(buf, n, "%s[%zu]", place_key[o->place], o->index);
    return buf;
}

static int attempt_cmp(const void *a, const void *b)
{
    const struct rs_attempt *x = a, *y = b;
    if (x->iteration != y->iteration)
        return x->iteration < y->iteration ? -1 : 1;
    return (x->attempt > y->attempt) - (x->attempt < y->attempt);
}

/* Move everything of @src into @dst (same school): attempts in iteration order, costs added. */
static void merge_state(struct rs_school_state *dst, struct rs_school_state *src)
{
    dst->segment = 0; /* changed: written in full again (its segment is never rewritten) */
    for (size_t i = 0; i < src->nattempts; i++) {
        struct rs_attempt *a = rs_school_state_add_attempt(dst);
        *a = src->attempts[i];
    }
    src->nattempts = 0;
    if (dst->nattempts > 1)
        qsort(dst->attempts, dst->nattempts, sizeof(*dst->attempts), attempt_cmp);
    dst->cost_usd += src->cost_usd;
    if (src->started_ms > 0 && (dst->started_ms <= 0 || src->started_ms < dst->started_ms))
        dst->started_ms = src->started_ms;
    if ((!dst->slug || !dst->slug[0]) && src->slug && src->slug[0]) {
        free(dst->slug);
        dst->slug = src->slug;
        src->slug = NULL;
    }
    if (!dst->csv && src->csv) {
        dst->csv = src->csv;
        src->csv = NULL;
    }
    if (!dst->review && src->review) {
        dst->review = src->review;
        src->review = NULL;
    }
    if (!dst->extra && src->extra) {
        dst->extra = src->extra;
        src->extra = NULL;
    }
}

/* Remove the entries of @v flagged in @gone (merged away), keeping the order. */
static void states_compact(struct rs_school_state *v, size_t *n, const bool *gone)
{
    size_t w = 0;
    for (size_t i = 0; i < *n; i++) {
        if (gone[i])
            school_state_deinit(&v[i]);
        else
            v[w++] = v[i];
    }
    *n = w;
}

struct check {
    struct rs_progress *p;
    const char *origin;
    struct rs_diags *fixed, *refused;
    bool *gone[PL_COUNT]; /* per place, per index: removed by a repair */
    int repairs;
};

static struct rs_school_state *state_at(struct rs_progress *p, const struct occ *o)
{
    return o->place == PL_COMPLETED ? &p->completed[o->index]
           : o->place == PL_FAILED  ? &p->failed[o->index]
                                    : &p->history[o->index];
}

RS_PRINTF(3, 4) static void fixed(struct check *k, const struct occ *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = rs_xvasprintf(fmt, ap);
    va_end(ap);
    char l[64];
    rs_diags_add(k->fixed, "%s: %s \"%s\" %s", k->origin, occ_label(o, l, sizeof l), o->name, msg);
    free(msg);
    k->repairs++;
}

/* Merge the entries of one place (completed, failed or history) into the one kept. Return: it. */
static const struct occ *merge_place(struct check *k, const struct occ *g, size_t n, enum place pl)
{
    const struct occ *keep = NULL;
    for (size_t i = 0; i < n; i++) {
        if (g[i].place != pl)
            continue;
        /* The latest finished entry holds the newest counts and reason. */
        if (!keep || state_at(k->p, &g[i])->finished_ms >= state_at(k->p, keep)->finished_ms)
            keep = &g[i];
    }
    char l[64];
    for (size_t i = 0; keep && i < n; i++) {
        if (g[i].place != pl || &g[i] == keep)
            continue;
        struct rs_school_state *dst = state_at(k->p, keep), *src = state_at(k->p, &g[i]);
        size_t na = src->nattempts;
        merge_state(dst, src);
        k->gone[pl][g[i].index] = true;
        fixed(k, &g[i], "is also %s: merged into it (%zu attempt%s moved)", occ_label(keep, l, sizeof l), na,
              na == 1 ? "" : "s");
    }
    return keep;
}

/* The occurrences @g[0..n) of one name. */
static void check_school(struct check *k, const struct occ *g, size_t n)
{
    const struct occ *first[PL_COUNT] = {0};
    size_t count[PL_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!first[g[i].place])
            first[g[i].place] = &g[i];
        count[g[i].place]++;
    }
    struct rs_progress *p = k->p;
    char l1[64], l2[64];
    const char *o = k->origin, *name = g[0].name;
    size_t refusals = k->refused->n;
    if (count[PL_COMPLETED] && count[PL_FAILED])
        rs_diags_add(k->refused, "%s: %s \"%s\" is also %s: a school is either completed or failed; delete one of "
                                 "the two entries",
                     o, occ_label(first[PL_FAILED], l1, sizeof l1), name, occ_label(first[PL_COMPLETED], l2, sizeof l2));
    if (count[PL_FAILED] && count[PL_PENDING])
        rs_diags_add(k->refused, "%s: %s \"%s\" is also %s: remove it from \"failed\" to run it again, or from "
                                 "\"pending\" to leave it failed",
                     o, occ_label(first[PL_PENDING], l1, sizeof l1), name, occ_label(first[PL_FAILED], l2, sizeof l2));
    if (count[PL_FAILED] && count[PL_CURRENT])
        rs_diags_add(k->refused, "%s: current \"%s\" is also %s: remove it from \"failed\" to run it again, or set "
                                 "\"current\" to null to leave it failed",
                     o, name, occ_label(first[PL_FAILED], l2, sizeof l2));
    const struct rs_current *fc = count[PL_CURRENT] ? rs_progress_inflight_find(p, name) : NULL;
    bool token = fc && fc->run_token && fc->run_token[0];
    if (count[PL_COMPLETED] && count[PL_CURRENT] && token)
        rs_diags_add(k->refused, "%s: current \"%s\" is also %s: set \"current\" to null once no process of its "
                                 "run (RALPHSUP_RUN_TOKEN=%s) is alive",
                     o, name, occ_label(first[PL_COMPLETED], l2, sizeof l2), fc->run_token);
    if (count[PL_HISTORY] && !count[PL_PENDING] && !count[PL_CURRENT] && !count[PL_COMPLETED] && !count[PL_FAILED])
        rs_diags_add(k->refused, "%s: %s \"%s\" is neither pending nor current: add \"%s\" to \"pending\" to go on "
                                 "with its attempts, or delete the entry",
                     o, occ_label(first[PL_HISTORY], l1, sizeof l1), name, name);
    if (k->refused->n != refusals)
        return;

    /* One entry per place: duplicates merged, their attempts kept. */
    const struct occ *done = NULL;
    if (count[PL_COMPLETED])
        done = merge_place(k, g, n, PL_COMPLETED);
    if (count[PL_FAILED])
        done = merge_place(k, g, n, PL_FAILED);
    const struct occ *hist = count[PL_HISTORY] ? merge_place(k, g, n, PL_HISTORY) : NULL;
    if (hist && done) {
        /* Attempts of a finished school belong to its entry. */
        size_t na = state_at(p, hist)->nattempts;
        merge_state(state_at(p, done), state_at(p, hist));
        k->gone[PL_HISTORY][hist->index] = true;
        fixed(k, hist, "is also %s: its attempts merged into it (%zu moved)", occ_label(done, l2, sizeof l2), na);
    }
    if (done && count[PL_CURRENT]) {
        fixed(k, first[PL_CURRENT], "is also %s: current cleared (completed is kept)", occ_label(done, l2, sizeof l2));
        for (size_t i = 0; i < n; i++)
            if (g[i].place == PL_CURRENT)
                k->gone[PL_CURRENT][g[i].index] = true;
    }
    /* One school twice in flight (a hand edit): kept once. */
    for (size_t i = 0; !done && i < n; i++)
        if (g[i].place == PL_CURRENT && &g[i] != first[PL_CURRENT]) {
            fixed(k, &g[i], "is also %s: kept once", occ_label(first[PL_CURRENT], l2, sizeof l2));
            k->gone[PL_CURRENT][g[i].index] = true;
        }
    const struct occ *kept = NULL;
    for (size_t i = 0; i < n; i++) {
        if (g[i].place != PL_PENDING)
            continue;
        if (done) {
            fixed(k, &g[i], "is also %s: removed from pending", occ_label(done, l2, sizeof l2));
        } else if (count[PL_CURRENT]) {
            fixed(k, &g[i], "is also current: removed from pending (start puts an interrupted current school back "
                            "at the front)");
        } else if (kept) {
            fixed(k, &g[i], "is also %s: kept once", occ_label(kept, l2, sizeof l2));
        } else {
            kept = &g[i];
            continue;
        }
        k->gone[PL_PENDING][g[i].index] = true;
    }
}

int rs_progress_check(struct rs_progress *p, const char *origin, struct rs_diags *fixed_out, struct rs_diags *refused)
{
    size_t ninf = rs_progress_ninflight(p);
    size_t n = p->npending + p->ncompleted + p->nfailed + p->nhistory + ninf;
    if (n == 0)
        return 0;
    struct occ *v = rs_xmalloc(n * sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < p->npending; i++)
        v[k++] = (struct occ){p->pending[i], PL_PENDING, i};
    size_t ci = 0;
    for (const struct rs_current *c = p->current; c; c = c->next, ci++)
        v[k++] = (struct occ){c->name, PL_CURRENT, ci};
    for (size_t i = 0; i < p->ncompleted; i++)
        v[k++] = (struct occ){p->completed[i].name, PL_COMPLETED, i};
    for (size_t i = 0; i < p->nfailed; i++)
        v[k++] = (struct occ){p->failed[i].name, PL_FAILED, i};
    for (size_t i = 0; i < p->nhistory; i++)
        v[k++] = (struct occ){p->history[i].name, PL_HISTORY, i};
    qsort(v, n, sizeof(*v), occ_cmp);
    struct check ck = {.p = p, .origin = origin, .fixed = fixed_out, .refused = refused};
    const size_t sizes[PL_COUNT] = {p->npending, ninf, p->ncompleted, p->nfailed, p->nhistory};
    for (int pl = 0; pl < PL_COUNT; pl++)
        ck.gone[pl] = rs_xcalloc(sizes[pl] + 1, sizeof(bool));
    /* Names are compared before anything moves; the state arrays are compacted only at the end. */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(v[j].name, v[i].name) == 0)
            j++;
        if (j - i > 1 || v[i].place == PL_HISTORY)
            check_school(&ck, v + i, j - i);
        i = j;
    }
    free(v);
    /* In-flight entries cleared by a repair: unlinked by position (names may repeat). */
    size_t pos = 0;
    for (struct rs_current **at = &p->current; *at; pos++) {
        if (ck.gone[PL_CURRENT][pos]) {
            struct rs_current *c = *at;
            *at = c->next;
            c->next = NULL;
            rs_current_free(c);
        } else {
            at = &(*at)->next;
        }
    }
    if (ck.repairs) {
        size_t w = 0;
        for (size_t i = 0; i < p->npending; i++) {
            if (ck.gone[PL_PENDING][i])
                free(p->pending[i]);
            else
                p->pending[w++] = p->pending[i];
        }
        p->npending = w;
        states_compact(p->completed, &p->ncompleted, ck.gone[PL_COMPLETED]);
        states_compact(p->failed, &p->nfailed, ck.gone[PL_FAILED]);
        states_compact(p->history, &p->nhistory, ck.gone[PL_HISTORY]);
    }
    for (int pl = 0; pl < PL_COUNT; pl++)
        free(ck.gone[pl]);
    return ck.repairs;
}
