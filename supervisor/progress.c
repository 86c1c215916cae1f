/* SPDX-License-Identifier: MIT */
/*
 * batch_progress.json: the durable batch state. This module converts between
 * the plain struct rs_progress and JSON (jansson) and saves crash-safely
 * through rs_file_write_atomic(). Loading never holds a DOM of the whole file
 * (see "parsing" below): it costs the file plus the structs. The schema is
 * documented in docs/progress.md; it is a superset of the seed's schema
 * (batch_name, started, last_updated, current_school, completed, failed,
 * pending keep their meaning).
 *
 * It does not know who produced the state: no libuv, no git, no agent.
 */
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/progress.h"
#include "ralphsup/util.h"

#define PROGRESS_MAX_BYTES (512u * 1024 * 1024)

/* ---- lifetime ------------------------------------------------------------- */

struct rs_progress *rs_progress_new(const char *batch_name, int64_t now_ms)
{
    struct rs_progress *p = rs_xcalloc(1, sizeof(*p));
    p->schema_version = RS_PROGRESS_SCHEMA_VERSION;
    p->batch_name = rs_xstrdup(batch_name ? batch_name : "");
    p->started_ms = now_ms;
    p->last_updated_ms = now_ms;
    p->status = rs_xstrdup("initialized");
    return p;
}

static void attempt_deinit(struct rs_attempt *a)
{
    free(a->outcome);
    free(a->reason);
    free(a->exit_status);
    free(a->session_id);
    free(a->failure_class);
}

static void school_state_deinit(struct rs_school_state *s)
{
    free(s->name);
    free(s->slug);
    free(s->csv);
    free(s->reason);
    for (size_t i = 0; i < s->nattempts; i++)
        attempt_deinit(&s->attempts[i]);
    free(s->attempts);
    memset(s, 0, sizeof(*s));
}

void rs_current_free(struct rs_current *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->slug);
    free(c->session_id);
    free(c->last_progress);
    free(c->last_tool);
    free(c->waiting);
    free(c->run_token);
    free(c);
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
    states_free(p->completed, p->ncompleted);
    states_free(p->failed, p->nfailed);
    states_free(p->history, p->nhistory);
    rs_current_free(p->current);
    stop_free(p->stopped);
    free(p->status);
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
    return p->current && strcmp(p->current->name, name) == 0;
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

static json_t *jstr_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *jtime(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char b[40];
    return json_string(rs_time_iso(ms, b, sizeof b));
}

static json_t *jmoney(double v)
{
    /* Round to 1/1,000,000 USD so files stay readable and diffs stable. */
    return json_real((double)(long long)(v * 1e6 + (v >= 0 ? 0.5 : -0.5)) / 1e6);
}

static json_t *attempt_to_json(const struct rs_attempt *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "attempt", json_integer(a->attempt));
    json_object_set_new(o, "iteration", json_integer(a->iteration));
    json_object_set_new(o, "started", jtime(a->started_ms));
    json_object_set_new(o, "finished", jtime(a->finished_ms));
    json_object_set_new(o, "duration_s",
                        json_real(a->finished_ms > a->started_ms ? (double)(a->finished_ms - a->started_ms) / 1000.0 : 0));
    json_object_set_new(o, "cost_usd", jmoney(a->cost_usd));
    json_object_set_new(o, "cost_estimated", json_boolean(a->cost_estimated));
    json_object_set_new(o, "outcome", jstr_or_null(a->outcome));
    json_object_set_new(o, "class", jstr_or_null(a->failure_class));
    json_object_set_new(o, "reason", jstr_or_null(a->reason));
    json_object_set_new(o, "exit_status", jstr_or_null(a->exit_status));
    json_object_set_new(o, "session_id", jstr_or_null(a->session_id));
    return o;
}

static json_t *state_to_json(const struct rs_school_state *s, bool completed, bool failed)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "slug", json_string(s->slug ? s->slug : ""));
    json_object_set_new(o, "started", jtime(s->started_ms));
    json_object_set_new(o, "finished", jtime(s->finished_ms));
    json_object_set_new(o, "duration_s",
                        json_real(s->finished_ms > s->started_ms ? (double)(s->finished_ms - s->started_ms) / 1000.0 : 0));
    json_object_set_new(o, "cost_usd", jmoney(s->cost_usd));
    if (completed) {
        json_object_set_new(o, "coaches", json_integer(s->coaches));
        json_object_set_new(o, "overlaps", json_integer(s->overlaps));
        json_object_set_new(o, "csv", jstr_or_null(s->csv));
    }
    if (failed)
        json_object_set_new(o, "reason", jstr_or_null(s->reason));
    json_t *arr = json_array();
    for (size_t i = 0; i < s->nattempts; i++)
        json_array_append_new(arr, attempt_to_json(&s->attempts[i]));
    json_object_set_new(o, "attempts", arr);
    return o;
}

static json_t *states_to_json(const struct rs_school_state *v, size_t n, bool completed, bool failed)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, state_to_json(&v[i], completed, failed));
    return arr;
}

char *rs_progress_format(const struct rs_progress *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "schema_version", json_integer(p->schema_version));
    json_object_set_new(o, "batch_name", json_string(p->batch_name));
    json_object_set_new(o, "status", jstr_or_null(p->status));
    json_object_set_new(o, "started", jtime(p->started_ms));
    json_object_set_new(o, "last_updated", jtime(p->last_updated_ms));
    json_object_set_new(o, "current_school", p->current ? json_string(p->current->name) : json_null());
    if (p->current) {
        const struct rs_current *c = p->current;
        json_t *cj = json_object();
        json_object_set_new(cj, "name", json_string(c->name));
        json_object_set_new(cj, "slug", jstr_or_null(c->slug));
        json_object_set_new(cj, "attempt", json_integer(c->attempt));
        json_object_set_new(cj, "iteration", json_integer(c->iteration));
        json_object_set_new(cj, "started", jtime(c->started_ms));
        json_object_set_new(cj, "supervisor_pid", json_integer(c->supervisor_pid));
        json_object_set_new(cj, "pid", json_integer(c->pid));
        json_object_set_new(cj, "run_token", jstr_or_null(c->run_token));
        json_object_set_new(cj, "session_id", jstr_or_null(c->session_id));
        json_object_set_new(cj, "last_progress", jstr_or_null(c->last_progress));
        json_object_set_new(cj, "last_tool", jstr_or_null(c->last_tool));
        json_object_set_new(cj, "waiting", jstr_or_null(c->waiting));
        json_object_set_new(o, "current", cj);
    } else {
        json_object_set_new(o, "current", json_null());
    }
    json_t *pend = json_array();
    for (size_t i = 0; i < p->npending; i++)
        json_array_append_new(pend, json_string(p->pending[i]));
    json_object_set_new(o, "pending", pend);
    json_object_set_new(o, "completed", states_to_json(p->completed, p->ncompleted, true, false));
    json_object_set_new(o, "failed", states_to_json(p->failed, p->nfailed, false, true));
    json_object_set_new(o, "retry_history", states_to_json(p->history, p->nhistory, false, false));
    json_object_set_new(o, "iterations", json_integer(p->iterations));
    json_object_set_new(o, "cost_usd", jmoney(p->cost_usd));
    json_object_set_new(o, "cost_estimated", json_boolean(p->cost_estimated));
    if (p->stopped) {
        json_t *s = json_object();
        json_object_set_new(s, "reason", json_string(p->stopped->reason));
        json_object_set_new(s, "limit", jstr_or_null(p->stopped->limit));
        json_object_set_new(s, "at", jtime(p->stopped->at_ms));
        json_object_set_new(o, "stopped", s);
    } else {
        json_object_set_new(o, "stopped", json_null());
    }
    char *out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (!out) {
        fprintf(stderr, "ralphsup: out of memory serialising progress\n");
        abort();
    }
    /* json_dumps allocates with malloc; append a final newline for tidy diffs. */
    size_t n = strlen(out);
    char *res = rs_xmalloc(n + 2);
    memcpy(res, out, n);
    res[n] = '\n';
    res[n + 1] = '\0';
    free(out);
    return res;
}

int rs_progress_save(struct rs_progress *p, const char *path, int64_t now_ms)
{
    p->last_updated_ms = now_ms;
    char *s = rs_progress_format(p);
    /* Reasons come from the agent: never persist anything that looks like an API key. */
    size_t n;
    char *red = rs_redact(s, strlen(s), &n);
    free(s);
    int r = rs_file_write_atomic(path, red, n, 0644);
    free(red);
    return r;
}

/* ---- parsing: from JSON values to structs ------------------------------------- */

/*
 * Loading is lean: the whole document is never turned into a jansson DOM.
 * A small scanner (below) checks the syntax of the whole buffer and finds the
 * text of each top-level member; the big arrays are then converted one
 * element at a time, each element parsed by jansson on its own and freed
 * right after. Peak memory is the file buffer, the structs and one element's
 * DOM. Whenever the scanner or jansson refuses something, the whole buffer is
 * parsed again the old way (one DOM), which yields jansson's own
 * "line:col: invalid JSON" diagnostic, and, should jansson accept what the
 * scanner refused (say nesting deeper than the scanner's cap), the result.
 */

struct ctx {
    const char *origin;
    struct rs_diags *diags;
    int errors;
    bool syntax; /* jansson refused a value the scanner accepted: start over */
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

/* @v is the value of @key in @where (NULL when absent). */
static char *str_value(struct ctx *c, json_t *v, const char *key, bool required, const char *where)
{
    if (!v || json_is_null(v)) {
        if (required) {
            char *f = rs_xasprintf("%s.%s", where, key);
            bad(c, "missing required field \"%s\"", f);
            free(f);
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        char *f = rs_xasprintf("%s.%s", where, key);
        bad(c, "field \"%s\" must be a string", f);
        free(f);
        return NULL;
    }
    return rs_xstrdup(json_string_value(v));
}

static int64_t time_value(struct ctx *c, json_t *v, const char *key, const char *where)
{
    if (!v || json_is_null(v))
        return 0;
    int64_t ms = 0;
    if (!json_is_string(v) || rs_time_parse_iso(json_string_value(v), &ms) < 0) {
        char *f = rs_xasprintf("%s.%s", where, key);
        bad(c, "field \"%s\" must be an ISO 8601 UTC time like \"2026-11-24T20:33:10Z\"", f);
        free(f);
    }
    return ms;
}

static double num_value(json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

static int64_t int_value(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return 0;
}

static char *get_str(struct ctx *c, json_t *o, const char *key, bool required, const char *where)
{
    return str_value(c, json_object_get(o, key), key, required, where);
}

static int64_t get_time(struct ctx *c, json_t *o, const char *key, const char *where)
{
    return time_value(c, json_object_get(o, key), key, where);
}

static double get_num(json_t *o, const char *key)
{
    return num_value(json_object_get(o, key));
}

static int64_t get_int(json_t *o, const char *key)
{
    return int_value(json_object_get(o, key));
}

static void parse_attempts(struct ctx *c, json_t *arr, struct rs_school_state *s, const char *where)
{
    if (!json_is_array(arr))
        return;
    size_t i;
    json_t *aj;
    json_array_foreach(arr, i, aj) {
        if (!json_is_object(aj)) {
            char *f = rs_xasprintf("%s.attempts[%zu]", where, i);
            bad(c, "%s must be an object", f);
            free(f);
            continue;
        }
        char *w = rs_xasprintf("%s.attempts[%zu]", where, i);
        struct rs_attempt *a = rs_school_state_add_attempt(s);
        a->attempt = (int)get_int(aj, "attempt");
        a->iteration = get_int(aj, "iteration");
        a->started_ms = get_time(c, aj, "started", w);
        a->finished_ms = get_time(c, aj, "finished", w);
        a->cost_usd = get_num(aj, "cost_usd");
        a->cost_estimated = json_is_true(json_object_get(aj, "cost_estimated"));
        a->outcome = get_str(c, aj, "outcome", false, w);
        a->failure_class = get_str(c, aj, "class", false, w);
        a->reason = get_str(c, aj, "reason", false, w);
        a->exit_status = get_str(c, aj, "exit_status", false, w);
        a->session_id = get_str(c, aj, "session_id", false, w);
        free(w);
    }
}

/* Where the elements of one of the school arrays go. */
struct states_dst {
    int member; /* enum member, below */
    const char *key;
    struct rs_school_state **v;
    size_t *n;
    bool completed;
    bool failed;
};

/* Element @i of "completed", "failed" or "retry_history". */
static void parse_state(struct ctx *c, json_t *sj, size_t i, void *arg)
{
    const struct states_dst *d = arg;
    char *w = rs_xasprintf("%s[%zu]", d->key, i);
    if (json_is_string(sj)) {
        /* Seed schema: completed/failed may be plain names. */
        struct rs_school_state *s = states_push(d->v, d->n);
        s->name = rs_xstrdup(json_string_value(sj));
        s->slug = rs_xstrdup("");
        if (d->failed)
            s->reason = rs_xstrdup("unknown (imported from seed progress file)");
        free(w);
        return;
    }
    if (!json_is_object(sj)) {
        bad(c, "%s must be an object or a school name", w);
        free(w);
        return;
    }
    char *name = get_str(c, sj, "name", true, w);
    if (!name) {
        free(w);
        return;
    }
    struct rs_school_state *s = states_push(d->v, d->n);
    s->name = name;
    s->slug = get_str(c, sj, "slug", false, w);
    if (!s->slug)
        s->slug = rs_xstrdup("");
    s->started_ms = get_time(c, sj, "started", w);
    s->finished_ms = get_time(c, sj, "finished", w);
    s->cost_usd = get_num(sj, "cost_usd");
    if (d->completed) {
        s->coaches = (int)get_int(sj, "coaches");
        s->overlaps = (int)get_int(sj, "overlaps");
        s->csv = get_str(c, sj, "csv", false, w);
    }
    if (d->failed) {
        s->reason = get_str(c, sj, "reason", false, w);
        if (!s->reason)
            s->reason = rs_xstrdup("unknown");
    }
    parse_attempts(c, json_object_get(sj, "attempts"), s, w);
    free(w);
}

/* Element @i of "pending". */
static void parse_pending(struct ctx *c, json_t *v, size_t i, void *arg)
{
    struct rs_progress *p = arg;
    if (!json_is_string(v)) {
        char *f = rs_xasprintf("pending[%zu]", i);
        bad(c, "%s must be a school name (string)", f);
        free(f);
        return;
    }
    rs_progress_push_pending(p, json_string_value(v), false);
}

static struct rs_current *parse_current(struct ctx *c, json_t *cj)
{
    struct rs_current *cur = rs_xcalloc(1, sizeof(*cur));
    cur->name = get_str(c, cj, "name", true, "current");
    cur->slug = get_str(c, cj, "slug", false, "current");
    cur->attempt = (int)get_int(cj, "attempt");
    cur->iteration = get_int(cj, "iteration");
    cur->started_ms = get_time(c, cj, "started", "current");
    cur->supervisor_pid = (int)get_int(cj, "supervisor_pid");
    cur->pid = (int)get_int(cj, "pid");
    cur->run_token = get_str(c, cj, "run_token", false, "current");
    cur->session_id = get_str(c, cj, "session_id", false, "current");
    cur->last_progress = get_str(c, cj, "last_progress", false, "current");
    cur->last_tool = get_str(c, cj, "last_tool", false, "current");
    cur->waiting = get_str(c, cj, "waiting", false, "current");
    if (cur->name)
        return cur;
    rs_current_free(cur);
    return NULL;
}

/* ---- scanning: syntax check without a DOM ------------------------------------ */

/* Deeper documents are left to jansson (its own cap is 2048). */
#define SCAN_MAX_DEPTH 64
/* Longest member name worth decoding: longer ones are not ours. */
#define SCAN_KEY_MAX 32

struct scan {
    const char *p;
    const char *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Length of the valid UTF-8 sequence at @p (as strict as jansson's), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    size_t n;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
        cp = p[0] & 0x1Fu;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        cp = p[0] & 0x0Fu;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* The 4 hex digits at @p, or -1. */
static long hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Append @cp as UTF-8 to @out (capacity @cap) at *@n; *@n becomes cap + 1 once it does not fit. */
static void put_utf8(char *out, size_t cap, size_t *n, uint32_t cp)
{
    char b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    if (*n + k > cap) {
        *n = cap + 1;
        return;
    }
    memcpy(out + *n, b, k);
    *n += k;
}

/*
 * The string at s->p (on its '"'). When @out is not NULL the decoded text is
 * stored there and *@outlen set (cap + 1 when it did not fit). *@nul tells
 * whether it holds \u0000 (jansson refuses that in member names).
 * Return: false on a syntax error.
 */
static bool scan_string(struct scan *s, char *out, size_t cap, size_t *outlen, bool *nul)
{
    const char *p = s->p + 1, *end = s->end;
    size_t n = 0;
    *nul = false;
    for (;;) {
        if (p >= end)
            return false;
        unsigned char ch = (unsigned char)*p;
        if (ch == '"')
            break;
        if (ch < 0x20)
            return false;
        if (ch != '\\') {
            size_t k = utf8_seq((const unsigned char *)p, (const unsigned char *)end);
            if (k == 0)
                return false;
            if (out) {
                if (n + k <= cap) {
                    memcpy(out + n, p, k);
                    n += k;
                } else {
                    n = cap + 1;
                }
            }
            p += k;
            continue;
        }
        if (++p >= end)
            return false;
        uint32_t cp;
        switch (*p) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
            long u = hex4(p + 1, end);
            if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                return false;
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                /* A high surrogate must be followed by a low one. */
                long lo = end - p >= 3 && p[1] == '\\' && p[2] == 'u' ? hex4(p + 3, end) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return false;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (u == 0)
                *nul = true;
            cp = (uint32_t)u;
            break;
        }
        default:
            return false;
        }
        p++;
        if (out && n <= cap)
            put_utf8(out, cap, &n, cp);
    }
    s->p = p + 1;
    if (outlen)
        *outlen = n;
    return true;
}

static bool is_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A number, refusing what jansson refuses: leading zeros, int64 overflow, overflowing reals. */
static bool scan_number(struct scan *s)
{
    const char *p = s->p, *end = s->end;
    bool neg = p < end && *p == '-', real = false, exp = false;
    if (neg)
        p++;
    const char *digits = p;
    if (!is_digit(p, end))
        return false;
    if (*p == '0') {
        if (is_digit(++p, end))
            return false;
    } else {
        while (is_digit(p, end))
            p++;
    }
    size_t ndigits = (size_t)(p - digits);
    if (p < end && *p == '.') {
        real = true;
        if (!is_digit(++p, end))
            return false;
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = exp = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return false;
        while (is_digit(p, end))
            p++;
    }
    if (!real) {
        const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
        if (ndigits > 19 || (ndigits == 19 && memcmp(digits, lim, 19) > 0))
            return false;
    } else if (exp || ndigits > DBL_MAX_10_EXP) {
        /* Only these can exceed DBL_MAX: ask strtod, as jansson does. */
        size_t len = (size_t)(p - s->p);
        char small[64];
        char *t = len < sizeof small ? small : rs_xmalloc(len + 1);
        memcpy(t, s->p, len);
        t[len] = '\0';
        errno = 0;
        double v = strtod(t, NULL);
        bool overflow = errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL);
        if (t != small)
            free(t);
        if (overflow)
            return false;
    }
    s->p = p;
    return true;
}

static bool scan_literal(struct scan *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* A member name and its ':'; decoded into @key (SCAN_KEY_MAX + 1 bytes) when not NULL. */
static bool scan_key(struct scan *s, char *key, size_t *keylen)
{
    bool nul;
    skip_ws(s);
    if (s->p >= s->end || *s->p != '"' || !scan_string(s, key, SCAN_KEY_MAX, keylen, &nul) || nul)
        return false;
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':')
        return false;
    s->p++;
    skip_ws(s);
    return true;
}

/*
 * After an element or member: ',' (true, *@more set) or @close (true, *@more
 * cleared); anything else is a syntax error.
 */
static bool scan_next(struct scan *s, char close, bool *more)
{
    skip_ws(s);
    if (s->p < s->end && (*s->p == ',' || *s->p == close)) {
        *more = *s->p == ',';
        s->p++;
        skip_ws(s);
        return true;
    }
    return false;
}

/* Skip the value at s->p (no leading blanks), checking its syntax. */
static bool skip_value(struct scan *s, int depth)
{
    if (s->p >= s->end)
        return false;
    bool nul, more = true;
    switch (*s->p) {
    case '"':
        return scan_string(s, NULL, 0, NULL, &nul);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    case '{':
    case '[': {
        char close = *s->p == '{' ? '}' : ']';
        if (depth >= SCAN_MAX_DEPTH)
            return false;
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return true;
        }
        while (more) {
            if (close == '}' && !scan_key(s, NULL, NULL))
                return false;
            if (!skip_value(s, depth + 1) || !scan_next(s, close, &more))
                return false;
        }
        return true;
    }
    default:
        return scan_number(s);
    }
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
    M_COUNT
};

static const char *const member_names[M_COUNT] = {
    "schema_version", "batch_name", "status",  "started",        "last_updated",
    "pending",        "completed",  "failed",  "retry_history", "current",
    "current_school", "iterations", "cost_usd", "cost_estimated", "stopped",
};

/* The document: its root DOM (fallback) or the text of each member (lean). */
struct source {
    json_t *root;
    struct {
        const char *text; /* NULL when absent */
        size_t len;
    } span[M_COUNT];
};

/*
 * Check the syntax of the whole of @data and record where each member we
 * know starts and ends (the last one wins on duplicates, as in jansson).
 * Return: false on anything the scanner refuses.
 */
static bool scan_document(const char *data, size_t len, struct source *src)
{
    struct scan s = {.p = data, .end = data + len};
    bool more = true;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return false;
    s.p++;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
        more = false;
    }
    while (more) {
        char key[SCAN_KEY_MAX + 1];
        size_t keylen;
        if (!scan_key(&s, key, &keylen))
            return false;
        const char *v = s.p;
        if (!skip_value(&s, 1))
            return false;
        for (int m = 0; m < M_COUNT; m++) {
            if (keylen == strlen(member_names[m]) && memcmp(key, member_names[m], keylen) == 0) {
                src->span[m].text = v;
                src->span[m].len = (size_t)(s.p - v);
            }
        }
        if (!scan_next(&s, '}', &more))
            return false;
    }
    skip_ws(&s);
    return s.p == s.end;
}

/* Parse a span that the scanner accepted; a refusal marks the ctx for the fallback. */
static json_t *load_span(struct ctx *c, const char *text, size_t len)
{
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
    if (!v)
        c->syntax = true;
    return v;
}

/* Member @m as a new reference, NULL when absent (or refused: see c->syntax). */
static json_t *member_get(struct ctx *c, const struct source *src, enum member m)
{
    if (src->root)
        return json_incref(json_object_get(src->root, member_names[m]));
    if (!src->span[m].text || c->syntax)
        return NULL;
    return load_span(c, src->span[m].text, src->span[m].len);
}

enum shape { SHAPE_ABSENT, SHAPE_NULL, SHAPE_OTHER, SHAPE_ARRAY };

typedef void (*element_fn)(struct ctx *c, json_t *v, size_t i, void *arg);

/* Pass each element of array member @m to @fn, one small DOM at a time. Return: its shape. */
static enum shape member_each(struct ctx *c, const struct source *src, enum member m, element_fn fn, void *arg)
{
    if (src->root) {
        json_t *arr = json_object_get(src->root, member_names[m]);
        if (!arr)
            return SHAPE_ABSENT;
        if (!json_is_array(arr))
            return json_is_null(arr) ? SHAPE_NULL : SHAPE_OTHER;
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
            fn(c, v, i, arg);
        return SHAPE_ARRAY;
    }
    const char *text = src->span[m].text;
    if (!text)
        return SHAPE_ABSENT;
    if (*text != '[')
        return *text == 'n' ? SHAPE_NULL : SHAPE_OTHER;
    /* The scanner accepted the whole array: walk it again, element by element. */
    struct scan s = {.p = text + 1, .end = text + src->span[m].len};
    bool more = true;
    skip_ws(&s);
    if (*s.p == ']')
        more = false;
    for (size_t i = 0; more && !c->syntax; i++) {
        const char *b = s.p;
        if (!skip_value(&s, 1)) {
            c->syntax = true;
            break;
        }
        size_t n = (size_t)(s.p - b);
        if (!scan_next(&s, ']', &more)) {
            c->syntax = true;
            break;
        }
        json_t *v = load_span(c, b, n);
        if (v)
            fn(c, v, i, arg);
        json_decref(v);
    }
    return SHAPE_ARRAY;
}

/* Convert @src into a new struct rs_progress; NULL after c->syntax or c->errors. */
static struct rs_progress *convert(struct ctx *c, const struct source *src)
{
    struct rs_progress *p = rs_xcalloc(1, sizeof(*p));
    json_t *v = member_get(c, src, M_SCHEMA_VERSION);
    p->schema_version = v ? (int)int_value(v) : RS_PROGRESS_SCHEMA_VERSION;
    json_decref(v);
    if (p->schema_version > RS_PROGRESS_SCHEMA_VERSION) {
        rs_diags_addpos(c->diags, c->origin, 0, 0, "schema_version %d is newer than this ralphsup understands (%d)",
                        p->schema_version, RS_PROGRESS_SCHEMA_VERSION);
        c->errors++;
    }
    v = member_get(c, src, M_BATCH_NAME);
    p->batch_name = str_value(c, v, "batch_name", true, "$");
    json_decref(v);
    if (!p->batch_name)
        p->batch_name = rs_xstrdup("");
    v = member_get(c, src, M_STATUS);
    p->status = str_value(c, v, "status", false, "$");
    json_decref(v);
    if (!p->status)
        p->status = rs_xstrdup("initialized");
    v = member_get(c, src, M_STARTED);
    p->started_ms = time_value(c, v, "started", "$");
    json_decref(v);
    v = member_get(c, src, M_LAST_UPDATED);
    p->last_updated_ms = time_value(c, v, "last_updated", "$");
    json_decref(v);

    enum shape sh = member_each(c, src, M_PENDING, parse_pending, p);
    if (sh == SHAPE_NULL || sh == SHAPE_OTHER)
        bad(c, "field \"%s\" must be an array of school names", "pending");
    const struct states_dst dst[] = {
        {M_COMPLETED, "completed", &p->completed, &p->ncompleted, true, false},
        {M_FAILED, "failed", &p->failed, &p->nfailed, false, true},
        {M_RETRY_HISTORY, "retry_history", &p->history, &p->nhistory, false, false},
    };
    for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++) {
        if (member_each(c, src, (enum member)dst[i].member, parse_state, (void *)&dst[i]) == SHAPE_OTHER)
            bad(c, "field \"%s\" must be an array", dst[i].key);
    }

    json_t *cj = member_get(c, src, M_CURRENT);
    if (json_is_object(cj)) {
        p->current = parse_current(c, cj);
    } else {
        json_t *cs = member_get(c, src, M_CURRENT_SCHOOL);
        if (json_is_string(cs)) {
            /* Seed schema: only the name. */
            p->current = rs_xcalloc(1, sizeof(*p->current));
            p->current->name = rs_xstrdup(json_string_value(cs));
        }
        json_decref(cs);
    }
    json_decref(cj);
    v = member_get(c, src, M_ITERATIONS);
    p->iterations = int_value(v);
    json_decref(v);
    v = member_get(c, src, M_COST_USD);
    p->cost_usd = num_value(v);
    json_decref(v);
    v = member_get(c, src, M_COST_ESTIMATED);
    p->cost_estimated = json_is_true(v);
    json_decref(v);
    json_t *st = member_get(c, src, M_STOPPED);
    if (json_is_object(st)) {
        char *reason = get_str(c, st, "reason", false, "stopped");
        char *limit = get_str(c, st, "limit", false, "stopped");
        rs_progress_set_stopped(p, reason ? reason : "stopped", limit, get_time(c, st, "at", "stopped"));
        free(reason);
        free(limit);
    }
    json_decref(st);
    if (c->syntax || c->errors)
        p = rs_progress_free(p);
    return p;
}

int rs_progress_parse(const char *data, size_t len, const char *origin, struct rs_progress **out, struct rs_diags *diags)
{
    /*
     * Lean path first. Its findings go to a private list so that nothing of
     * it is reported when it gives way to the fallback.
     */
    struct source src;
    memset(&src, 0, sizeof(src));
    struct rs_diags lean;
    rs_diags_init(&lean);
    struct ctx c = {.origin = origin, .diags = &lean};
    struct rs_progress *p = NULL;
    if (scan_document(data, len, &src)) {
        p = convert(&c, &src);
        if (!c.syntax) {
            for (size_t i = 0; i < lean.n; i++)
                rs_diags_add(diags, "%s", lean.msgs[i]);
            rs_diags_deinit(&lean);
            if (!p)
                return RS_PROGRESS_E_INVALID;
            *out = p;
            return 0;
        }
    }
    rs_diags_deinit(&lean);

    /* Fallback: one DOM of the whole buffer, for jansson's diagnostic or its result. */
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_ALLOW_NUL, &je);
    if (!root) {
        rs_diags_addpos(diags, origin, je.line, je.column, "invalid JSON: %s", je.text);
        return RS_PROGRESS_E_INVALID;
    }
    if (!json_is_object(root)) {
        rs_diags_addpos(diags, origin, 0, 0, "top level must be a JSON object");
        json_decref(root);
        return RS_PROGRESS_E_INVALID;
    }
    memset(&src, 0, sizeof(src));
    src.root = root;
    c = (struct ctx){.origin = origin, .diags = diags};
    p = convert(&c, &src);
    json_decref(root);
    if (!p)
        return RS_PROGRESS_E_INVALID;
    *out = p;
    return 0;
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
    r = rs_progress_parse(data, len, path, out, diags);
    free(data);
    return r;
}
