/* SPDX-License-Identifier: MIT */
/*
 * batch_progress.json: the durable batch state. This module converts between
 * the plain struct rs_progress and JSON (jansson) and saves crash-safely
 * through rs_file_write_atomic(). The schema is documented in
 * docs/progress.md; it is a superset of the seed's schema (batch_name,
 * started, last_updated, current_school, completed, failed, pending keep
 * their meaning).
 *
 * It does not know who produced the state: no libuv, no git, no agent.
 */
#include <errno.h>
#include <stdio.h>
#include <jansson.h>
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

/* ---- parsing ---------------------------------------------------------------- */

struct ctx {
    const char *origin;
    struct rs_diags *diags;
    int errors;
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

static char *get_str(struct ctx *c, json_t *o, const char *key, bool required, const char *where)
{
    json_t *v = json_object_get(o, key);
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

static int64_t get_time(struct ctx *c, json_t *o, const char *key, const char *where)
{
    json_t *v = json_object_get(o, key);
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

static double get_num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

static int64_t get_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return 0;
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

static void parse_states(struct ctx *c, json_t *arr, const char *key, struct rs_school_state **v, size_t *n,
                         bool completed, bool failed)
{
    if (!arr || json_is_null(arr))
        return;
    if (!json_is_array(arr)) {
        bad(c, "field \"%s\" must be an array", key);
        return;
    }
    size_t i;
    json_t *sj;
    json_array_foreach(arr, i, sj) {
        char *w = rs_xasprintf("%s[%zu]", key, i);
        if (json_is_string(sj)) {
            /* Seed schema: completed/failed may be plain names. */
            struct rs_school_state *s = states_push(v, n);
            s->name = rs_xstrdup(json_string_value(sj));
            s->slug = rs_xstrdup("");
            if (failed)
                s->reason = rs_xstrdup("unknown (imported from seed progress file)");
            free(w);
            continue;
        }
        if (!json_is_object(sj)) {
            bad(c, "%s must be an object or a school name", w);
            free(w);
            continue;
        }
        char *name = get_str(c, sj, "name", true, w);
        if (!name) {
            free(w);
            continue;
        }
        struct rs_school_state *s = states_push(v, n);
        s->name = name;
        s->slug = get_str(c, sj, "slug", false, w);
        if (!s->slug)
            s->slug = rs_xstrdup("");
        s->started_ms = get_time(c, sj, "started", w);
        s->finished_ms = get_time(c, sj, "finished", w);
        s->cost_usd = get_num(sj, "cost_usd");
        if (completed) {
            s->coaches = (int)get_int(sj, "coaches");
            s->overlaps = (int)get_int(sj, "overlaps");
            s->csv = get_str(c, sj, "csv", false, w);
        }
        if (failed) {
            s->reason = get_str(c, sj, "reason", false, w);
            if (!s->reason)
                s->reason = rs_xstrdup("unknown");
        }
        parse_attempts(c, json_object_get(sj, "attempts"), s, w);
        free(w);
    }
}

int rs_progress_parse(const char *data, size_t len, const char *origin, struct rs_progress **out, struct rs_diags *diags)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_ALLOW_NUL, &je);
    if (!root) {
        rs_diags_addpos(diags, origin, je.line, je.column, "invalid JSON: %s", je.text);
        return RS_PROGRESS_E_INVALID;
    }
    struct ctx c = {.origin = origin, .diags = diags};
    if (!json_is_object(root)) {
        rs_diags_addpos(diags, origin, 0, 0, "top level must be a JSON object");
        json_decref(root);
        return RS_PROGRESS_E_INVALID;
    }
    struct rs_progress *p = rs_xcalloc(1, sizeof(*p));
    json_t *sv = json_object_get(root, "schema_version");
    p->schema_version = sv ? (int)get_int(root, "schema_version") : RS_PROGRESS_SCHEMA_VERSION;
    if (p->schema_version > RS_PROGRESS_SCHEMA_VERSION) {
        rs_diags_addpos(diags, origin, 0, 0, "schema_version %d is newer than this ralphsup understands (%d)",
                        p->schema_version, RS_PROGRESS_SCHEMA_VERSION);
        c.errors++;
    }
    p->batch_name = get_str(&c, root, "batch_name", true, "$");
    if (!p->batch_name)
        p->batch_name = rs_xstrdup("");
    p->status = get_str(&c, root, "status", false, "$");
    if (!p->status)
        p->status = rs_xstrdup("initialized");
    p->started_ms = get_time(&c, root, "started", "$");
    p->last_updated_ms = get_time(&c, root, "last_updated", "$");

    json_t *pend = json_object_get(root, "pending");
    if (pend && !json_is_array(pend)) {
        bad(&c, "field \"%s\" must be an array of school names", "pending");
    } else if (pend) {
        size_t i;
        json_t *v;
        json_array_foreach(pend, i, v) {
            if (!json_is_string(v)) {
                char *f = rs_xasprintf("pending[%zu]", i);
                bad(&c, "%s must be a school name (string)", f);
                free(f);
                continue;
            }
            rs_progress_push_pending(p, json_string_value(v), false);
        }
    }
    parse_states(&c, json_object_get(root, "completed"), "completed", &p->completed, &p->ncompleted, true, false);
    parse_states(&c, json_object_get(root, "failed"), "failed", &p->failed, &p->nfailed, false, true);
    parse_states(&c, json_object_get(root, "retry_history"), "retry_history", &p->history, &p->nhistory, false, false);

    json_t *cj = json_object_get(root, "current");
    json_t *cs = json_object_get(root, "current_school");
    if (json_is_object(cj)) {
        struct rs_current *cur = rs_xcalloc(1, sizeof(*cur));
        cur->name = get_str(&c, cj, "name", true, "current");
        cur->slug = get_str(&c, cj, "slug", false, "current");
        cur->attempt = (int)get_int(cj, "attempt");
        cur->iteration = get_int(cj, "iteration");
        cur->started_ms = get_time(&c, cj, "started", "current");
        cur->supervisor_pid = (int)get_int(cj, "supervisor_pid");
        cur->pid = (int)get_int(cj, "pid");
        cur->run_token = get_str(&c, cj, "run_token", false, "current");
        cur->session_id = get_str(&c, cj, "session_id", false, "current");
        cur->last_progress = get_str(&c, cj, "last_progress", false, "current");
        cur->last_tool = get_str(&c, cj, "last_tool", false, "current");
        cur->waiting = get_str(&c, cj, "waiting", false, "current");
        if (cur->name)
            p->current = cur;
        else
            rs_current_free(cur);
    } else if (json_is_string(cs)) {
        /* Seed schema: only the name. */
        struct rs_current *cur = rs_xcalloc(1, sizeof(*cur));
        cur->name = rs_xstrdup(json_string_value(cs));
        p->current = cur;
    }
    p->iterations = get_int(root, "iterations");
    p->cost_usd = get_num(root, "cost_usd");
    p->cost_estimated = json_is_true(json_object_get(root, "cost_estimated"));
    json_t *st = json_object_get(root, "stopped");
    if (json_is_object(st)) {
        char *reason = get_str(&c, st, "reason", false, "stopped");
        char *limit = get_str(&c, st, "limit", false, "stopped");
        rs_progress_set_stopped(p, reason ? reason : "stopped", limit, get_time(&c, st, "at", "stopped"));
        free(reason);
        free(limit);
    }
    json_decref(root);
    if (c.errors) {
        rs_progress_free(p);
        return RS_PROGRESS_E_INVALID;
    }
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
