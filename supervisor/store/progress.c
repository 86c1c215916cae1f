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
#include <stdio.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/json.h"
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

int rs_progress_save(struct rs_progress *p, const char *path, int64_t now_ms)
{
    p->last_updated_ms = now_ms;
    /* Reasons come from the agent: the writer redacts anything that looks like an API key. */
    struct rs_buf b;
    rs_buf_init(&b);
    rs_progress_write(p, &b);
    int r = rs_file_write_atomic(path, b.data, b.len, 0644);
    rs_buf_deinit(&b);
    return r;
}

/* ---- parsing: from JSON values to structs ------------------------------------- */

/*
 * Loading is lean: the whole document is never turned into a jansson DOM.
 * The JSON scanner (base/json.c, as strict as jansson) checks the syntax of
 * the whole buffer and finds the text of each top-level member; the big
 * arrays are then walked again without checking and converted one element
 * at a time, each element parsed by jansson on its own and freed
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

/* The name of member @key of @where ("" at top level), for messages: "completed[2].coaches". */
static char *field_path(const char *where, const char *key)
{
    return where[0] ? rs_xasprintf("%s.%s", where, key) : rs_xstrdup(key);
}

/* What @v is, for "... (got X)": the value itself when short, else its kind. Caller frees. */
static char *describe(json_t *v)
{
    if (json_is_object(v))
        return rs_xstrdup("an object");
    if (json_is_array(v))
        return rs_xstrdup("an array");
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = rs_utf8_boundary(s, strlen(s), 40);
        return rs_xasprintf("a string \"%.*s%s\"", (int)n, s, s[n] ? "..." : "");
    }
    if (json_is_true(v) || json_is_false(v))
        return rs_xstrdup(json_is_true(v) ? "true" : "false");
    if (json_is_integer(v))
        return rs_xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return rs_xasprintf("%g", json_real_value(v));
    return rs_xstrdup("null");
}

RS_PRINTF(4, 5) static void bad_type(struct ctx *c, json_t *v, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *want = rs_xvasprintf(fmt, ap);
    va_end(ap);
    char *got = describe(v);
    bad(c, "%s must be %s (got %s)", field, want, got);
    free(got);
    free(want);
}

/* @v is the value of @key in @where (NULL when absent). */
static char *str_value(struct ctx *c, json_t *v, const char *key, bool required, const char *where)
{
    if (!v || json_is_null(v)) {
        if (required) {
            char *f = field_path(where, key);
            bad(c, "missing required field \"%s\"", f);
            free(f);
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        char *f = field_path(where, key);
        bad_type(c, v, f, "a string");
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
    /*
     * A time at or before 1970-01-01T00:00:00Z would be saved as null (0 is
     * "absent" in memory): refused, so a file loads as it saves (fuzzing).
     */
    if (!json_is_string(v) || rs_time_parse_iso(json_string_value(v), &ms) < 0 || ms <= 0) {
        char *f = field_path(where, key);
        bad_type(c, v, f, "an ISO 8601 UTC time after 1970 like \"2026-11-24T20:33:10Z\"");
        free(f);
        ms = 0;
    }
    return ms;
}

/* A whole number in [@min, @max]; absent or null gives @def. */
static int64_t whole_value(struct ctx *c, json_t *v, const char *key, const char *where, int64_t min, int64_t max,
                           int64_t def)
{
    if (!v || json_is_null(v))
        return def;
    bool ok = false;
    int64_t n = def;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
        ok = true;
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9e15) {
            n = (int64_t)d;
            ok = true;
        }
    }
    if (!ok || n < min || n > max) {
        char *f = field_path(where, key);
        if (min == 0)
            bad_type(c, v, f, "a whole number >= 0");
        else
            bad_type(c, v, f, "a whole number >= %lld", (long long)min);
        free(f);
        return def;
    }
    return n;
}

/* An amount in USD (a number >= 0); absent or null gives 0. */
static double money_value(struct ctx *c, json_t *v, const char *key, const char *where)
{
    if (!v || json_is_null(v))
        return 0.0;
    double d = json_is_number(v) ? json_number_value(v) : -1.0;
    if (!(d >= 0) || !isfinite(d)) {
        char *f = field_path(where, key);
        bad_type(c, v, f, "a number >= 0 (USD)");
        free(f);
        return 0.0;
    }
    return d;
}

static bool bool_value(struct ctx *c, json_t *v, const char *key, const char *where)
{
    if (!v || json_is_null(v))
        return false;
    if (!json_is_boolean(v)) {
        char *f = field_path(where, key);
        bad_type(c, v, f, "true or false");
        free(f);
        return false;
    }
    return json_is_true(v);
}

/* A value that is derived on save (duration_s): checked, then ignored. */
static void derived_number(struct ctx *c, json_t *v, const char *key, const char *where)
{
    if (v && !json_is_null(v) && !json_is_number(v)) {
        char *f = field_path(where, key);
        bad_type(c, v, f, "a number");
        free(f);
    }
}

static char *get_str(struct ctx *c, json_t *o, const char *key, bool required, const char *where)
{
    return str_value(c, json_object_get(o, key), key, required, where);
}

static int64_t get_time(struct ctx *c, json_t *o, const char *key, const char *where)
{
    return time_value(c, json_object_get(o, key), key, where);
}

static int64_t get_whole(struct ctx *c, json_t *o, const char *key, const char *where, int64_t max)
{
    return whole_value(c, json_object_get(o, key), key, where, 0, max, 0);
}

static double get_money(struct ctx *c, json_t *o, const char *key, const char *where)
{
    return money_value(c, json_object_get(o, key), key, where);
}

static bool key_in(const char *k, const char *const *known)
{
    for (size_t i = 0; known[i]; i++)
        if (strcmp(k, known[i]) == 0)
            return true;
    return false;
}

/* A copy of @s (jansson's allocation) made with ours, the original freed through jansson. */
static char *own_json_text(char *s)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    char *r = s ? rs_xstrdup(s) : NULL;
    if (s)
        f(s);
    return r;
}

/*
 * The members of object @o that are neither in @known nor in @also (may be
 * NULL), as a compact JSON object text to write back on save; NULL when none.
 */
static char *extras_of(json_t *o, const char *const *known, const char *const *also)
{
    json_t *ex = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (key_in(k, known) || (also && key_in(k, also)))
            continue;
        if (!ex)
            ex = json_object();
        json_object_set(ex, k, v);
    }
    if (!ex)
        return NULL;
    char *s = own_json_text(json_dumps(ex, JSON_COMPACT | JSON_PRESERVE_ORDER));
    json_decref(ex);
    return s;
}

static const char *const attempt_keys[] = {"attempt", "iteration", "started", "finished", "duration_s", "cost_usd",
                                           "cost_estimated", "outcome", "class", "reason", "exit_status",
                                           "session_id", NULL};
static const char *const state_keys[] = {"name", "slug", "started", "finished", "duration_s", "cost_usd",
                                         "attempts", NULL};
static const char *const completed_keys[] = {"coaches", "overlaps", "csv", "review", NULL};
static const char *const failed_keys[] = {"reason", NULL};
static const char *const current_keys[] = {"name", "slug", "attempt", "iteration", "started", "supervisor_pid", "pid",
                                           "run_token", NULL};

static void parse_attempts(struct ctx *c, json_t *arr, struct rs_school_state *s, const char *where)
{
    if (!arr || json_is_null(arr))
        return;
    if (!json_is_array(arr)) {
        char *f = field_path(where, "attempts");
        bad_type(c, arr, f, "an array of attempt objects");
        free(f);
        return;
    }
    size_t i;
    json_t *aj;
    json_array_foreach(arr, i, aj) {
        char *w = rs_xasprintf("%s.attempts[%zu]", where, i);
        if (!json_is_object(aj)) {
            bad_type(c, aj, w, "an object");
            free(w);
            continue;
        }
        struct rs_attempt *a = rs_school_state_add_attempt(s);
        a->attempt = (int)get_whole(c, aj, "attempt", w, INT_MAX);
        a->iteration = get_whole(c, aj, "iteration", w, INT64_MAX);
        a->started_ms = get_time(c, aj, "started", w);
        a->finished_ms = get_time(c, aj, "finished", w);
        derived_number(c, json_object_get(aj, "duration_s"), "duration_s", w);
        a->cost_usd = get_money(c, aj, "cost_usd", w);
        a->cost_estimated = bool_value(c, json_object_get(aj, "cost_estimated"), "cost_estimated", w);
        a->outcome_other = get_str(c, aj, "outcome", false, w);
        a->outcome = rs_outcome_parse(a->outcome_other);
        if (a->outcome != RS_OUTCOME_OTHER) {
            free(a->outcome_other);
            a->outcome_other = NULL;
        }
        a->failure_class = get_str(c, aj, "class", false, w);
        a->reason = get_str(c, aj, "reason", false, w);
        a->exit_status = get_str(c, aj, "exit_status", false, w);
        a->session_id = get_str(c, aj, "session_id", false, w);
        a->extra = extras_of(aj, attempt_keys, NULL);
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
    if (json_is_string(sj) && (d->completed || d->failed)) {
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
        bad_type(c, sj, w, d->completed || d->failed ? "an object or a school name" : "an object");
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
    derived_number(c, json_object_get(sj, "duration_s"), "duration_s", w);
    s->cost_usd = get_money(c, sj, "cost_usd", w);
    if (d->completed) {
        s->coaches = (int)get_whole(c, sj, "coaches", w, INT_MAX);
        s->overlaps = (int)get_whole(c, sj, "overlaps", w, INT_MAX);
        s->csv = get_str(c, sj, "csv", false, w);
        s->review = get_str(c, sj, "review", false, w);
    }
    if (d->failed) {
        s->reason = get_str(c, sj, "reason", false, w);
        if (!s->reason)
            s->reason = rs_xstrdup("unknown");
    }
    parse_attempts(c, json_object_get(sj, "attempts"), s, w);
    s->extra = extras_of(sj, state_keys, d->completed ? completed_keys : d->failed ? failed_keys : NULL);
    free(w);
}

/* Element @i of "pending". */
static void parse_pending(struct ctx *c, json_t *v, size_t i, void *arg)
{
    struct rs_progress *p = arg;
    if (!json_is_string(v)) {
        char *f = rs_xasprintf("pending[%zu]", i);
        bad_type(c, v, f, "a school name (string)");
        free(f);
        return;
    }
    rs_progress_push_pending(p, json_string_value(v), false);
}

static struct rs_current *parse_current(struct ctx *c, json_t *cj, const char *label)
{
    struct rs_current *cur = rs_xcalloc(1, sizeof(*cur));
    cur->name = get_str(c, cj, "name", true, label);
    cur->slug = get_str(c, cj, "slug", false, label);
    cur->attempt = (int)get_whole(c, cj, "attempt", label, INT_MAX);
    cur->iteration = get_whole(c, cj, "iteration", label, INT64_MAX);
    cur->started_ms = get_time(c, cj, "started", label);
    cur->supervisor_pid = (int)get_whole(c, cj, "supervisor_pid", label, INT_MAX);
    cur->pid = (int)get_whole(c, cj, "pid", label, INT_MAX);
    cur->run_token = get_str(c, cj, "run_token", false, label);
    cur->extra = extras_of(cj, current_keys, NULL);
    if (cur->name)
        return cur;
    rs_current_free(cur);
    return NULL;
}

/* ---- scanning: syntax check without a DOM (base/json.c) ------------------------ */

/* Deeper documents are left to jansson (its own cap is 2048): levels inside one top-level member. */
#define SCAN_MAX_DEPTH 63
/* Longest member name worth decoding: longer ones are not ours. */
#define SCAN_KEY_MAX 32

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
    M_COUNT
};

static const char *const member_names[M_COUNT] = {
    "schema_version", "batch_name", "status",  "started",        "last_updated",
    "pending",        "completed",  "failed",  "retry_history", "current",
    "current_school", "iterations", "cost_usd", "cost_estimated", "stopped",
    "events_dropped", "in_progress",
};

/* The document: its root DOM (fallback) or the text of each member (lean). */
struct source {
    json_t *root;
    struct {
        const char *text; /* NULL when absent */
        size_t len;
    } span[M_COUNT];
    /* Lean: the members we do not know, each from its name's '"' to the end of its value. */
    struct span {
        const char *text;
        size_t len;
    } *unknown;
    size_t nunknown;
};

static void source_deinit(struct source *src)
{
    free(src->unknown);
    memset(src, 0, sizeof(*src));
}

/*
 * Check the syntax of the whole of @data and record where each member we
 * know starts and ends (the last one wins on duplicates, as in jansson), and
 * where the others are (kept across saves).
 * Return: false on anything the scanner refuses.
 */
static bool scan_document(const char *data, size_t len, struct source *src)
{
    /* As strict as jansson: whatever it passes, jansson would parse. */
    struct rs_json_scan v;
    struct rs_json_members it;
    struct rs_json_span k, val;
    const char *end = data + len;
    int r;
    rs_json_scan_init(&v, RS_JSON_JANSSON, SCAN_MAX_DEPTH);
    if (!rs_json_scan_object(&v, &it, data, end))
        return false;
    while ((r = rs_json_scan_member(&it, &k, &val)) > 0) {
        char key[SCAN_KEY_MAX];
        bool cut;
        size_t keylen = rs_json_unescape(k, key, sizeof key, &cut);
        bool known = false;
        for (int m = 0; m < M_COUNT && !cut; m++) {
            if (keylen == strlen(member_names[m]) && memcmp(key, member_names[m], keylen) == 0) {
                src->span[m].text = val.p;
                src->span[m].len = (size_t)(val.e - val.p);
                known = true;
            }
        }
        if (!known) {
            if (needs_growth(src->nunknown) || src->nunknown < 4)
                src->unknown = rs_xrealloc(src->unknown, (src->nunknown < 4 ? 4 : grown(src->nunknown)) *
                                                             sizeof(*src->unknown));
            src->unknown[src->nunknown++] = (struct span){k.p, (size_t)(val.e - k.p)};
        }
    }
    return r == 0 && rs_json_skip_ws(it.p, end) == end;
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
    /* The scanner accepted the whole array: walk it again, element by element, without checking again. */
    struct rs_json_iter it;
    struct rs_json_span el;
    rs_json_array_begin(&it, (struct rs_json_span){text, text + src->span[m].len}, NULL);
    for (size_t i = 0; !c->syntax && rs_json_array_next(&it, &el); i++) {
        json_t *v = load_span(c, el.p, (size_t)(el.e - el.p));
        if (v)
            fn(c, v, i, arg);
        json_decref(v);
    }
    return SHAPE_ARRAY;
}

/* The top-level members this version does not know, as JSON object text (NULL when none). */
static char *top_extras(struct ctx *c, const struct source *src)
{
    if (src->root) {
        json_t *ex = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(src->root, k, v) {
            bool known = false;
            for (int m = 0; m < M_COUNT && !known; m++)
                known = strcmp(k, member_names[m]) == 0;
            if (!known)
                json_object_set(ex, k, v);
        }
        char *s = json_object_size(ex) ? own_json_text(json_dumps(ex, JSON_COMPACT | JSON_PRESERVE_ORDER)) : NULL;
        json_decref(ex);
        return s;
    }
    if (!src->nunknown)
        return NULL;
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_putc(&b, '{');
    for (size_t i = 0; i < src->nunknown; i++) {
        if (i)
            rs_buf_putc(&b, ',');
        rs_buf_append(&b, src->unknown[i].text, src->unknown[i].len);
    }
    rs_buf_putc(&b, '}');
    json_t *ex = load_span(c, rs_buf_cstr(&b), b.len);
    rs_buf_deinit(&b);
    if (!ex)
        return NULL;
    char *s = own_json_text(json_dumps(ex, JSON_COMPACT | JSON_PRESERVE_ORDER));
    json_decref(ex);
    return s;
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

/* Convert @src into a new struct rs_progress; NULL after c->syntax or c->errors. */
static struct rs_progress *convert(struct ctx *c, const struct source *src)
{
    struct rs_progress *p = rs_xcalloc(1, sizeof(*p));
    json_t *v = member_get(c, src, M_SCHEMA_VERSION);
    /* No schema_version: the seed schema (plain names, current_school), upgraded on the next save. */
    bool seed = !v || json_is_null(v);
    p->schema_version = (int)whole_value(c, v, "schema_version", "", 1, INT_MAX, RS_PROGRESS_SCHEMA_VERSION);
    json_decref(v);
    if (p->schema_version > RS_PROGRESS_SCHEMA_VERSION) {
        rs_diags_addpos(c->diags, c->origin, 0, 0, "schema_version %d is newer than this ralphsup understands (%d)",
                        p->schema_version, RS_PROGRESS_SCHEMA_VERSION);
        c->errors++;
    }
    if (seed)
        rs_diags_add(&p->repairs, "%s: no schema_version: read as a seed progress file and upgraded to schema_version %d",
                     c->origin, RS_PROGRESS_SCHEMA_VERSION);
    v = member_get(c, src, M_BATCH_NAME);
    p->batch_name = str_value(c, v, "batch_name", true, "");
    json_decref(v);
    if (!p->batch_name)
        p->batch_name = rs_xstrdup("");
    v = member_get(c, src, M_STATUS);
    char *status = str_value(c, v, "status", false, "");
    p->status = RS_STATUS_INITIALIZED;
    if (status && !rs_progress_status_parse(status, &p->status))
        bad(c, "status must be one of initialized, running, finished, stopped, cancelled (got \"%s\")", status);
    free(status);
    json_decref(v);
    v = member_get(c, src, M_STARTED);
    p->started_ms = time_value(c, v, "started", "");
    json_decref(v);
    v = member_get(c, src, M_LAST_UPDATED);
    p->last_updated_ms = time_value(c, v, "last_updated", "");
    json_decref(v);

    enum shape sh = member_each(c, src, M_PENDING, parse_pending, p);
    if (sh == SHAPE_NULL || sh == SHAPE_OTHER)
        bad(c, "pending must be an array of school names");
    else if (sh == SHAPE_ABSENT && !seed)
        bad(c, "missing required field \"pending\" (without it the schools not yet run would be skipped)");
    const struct states_dst dst[] = {
        {M_COMPLETED, "completed", &p->completed, &p->ncompleted, true, false},
        {M_FAILED, "failed", &p->failed, &p->nfailed, false, true},
        {M_RETRY_HISTORY, "retry_history", &p->history, &p->nhistory, false, false},
    };
    for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++) {
        sh = member_each(c, src, (enum member)dst[i].member, parse_state, (void *)&dst[i]);
        if (sh == SHAPE_OTHER)
            bad(c, "%s must be an array", dst[i].key);
        else if (sh == SHAPE_ABSENT && !seed && (dst[i].completed || dst[i].failed))
            bad(c, "missing required field \"%s\" (without it those schools would run again)", dst[i].key);
    }

    json_t *cj = member_get(c, src, M_CURRENT);
    json_t *cs = member_get(c, src, M_CURRENT_SCHOOL);
    if (cs && !json_is_null(cs) && !json_is_string(cs))
        bad_type(c, cs, "current_school", "a school name or null");
    json_t *ip = member_get(c, src, M_IN_PROGRESS);
    if (ip && !json_is_null(ip) && !json_is_array(ip))
        bad_type(c, ip, "in_progress", "an array of the schools in flight");
    if (json_is_array(ip) && json_array_size(ip) > 0) {
        /* Every school in flight; "current" repeats the first (the one in flight longest). */
        struct rs_current **at = &p->current;
        size_t i;
        json_t *e;
        json_array_foreach(ip, i, e) {
            char label[40];
            snprintf(label, sizeof label, "in_progress[%zu]", i);
            if (!json_is_object(e)) {
                bad_type(c, e, label, "an object");
                continue;
            }
            struct rs_current *cur = parse_current(c, e, label);
            if (cur) {
                *at = cur;
                at = &cur->next;
            }
        }
        const char *cn = json_is_object(cj) ? json_string_value(json_object_get(cj, "name")) : NULL;
        if (cn && p->current && strcmp(cn, p->current->name) != 0)
            bad(c, "current (\"%s\") must be the first school of in_progress (\"%s\")", cn, p->current->name);
    } else if (json_is_object(cj)) {
        p->current = parse_current(c, cj, "current");
    } else if (cj && !json_is_null(cj)) {
        bad_type(c, cj, "current", "an object or null");
    } else if (json_is_string(cs)) {
        /* Seed schema: only the name. */
        p->current = rs_xcalloc(1, sizeof(*p->current));
        p->current->name = rs_xstrdup(json_string_value(cs));
    }
    json_decref(cs);
    json_decref(cj);
    json_decref(ip);
    v = member_get(c, src, M_ITERATIONS);
    if ((!v || json_is_null(v)) && !seed)
        bad(c, "missing required field \"iterations\" (the iterations run so far, which max_iterations counts; it "
               "cannot be recomputed safely)");
    p->iterations = whole_value(c, v, "iterations", "", 0, INT64_MAX, 0);
    json_decref(v);
    v = member_get(c, src, M_COST_USD);
    bool cost_missing = !v || json_is_null(v);
    p->cost_usd = money_value(c, v, "cost_usd", "");
    json_decref(v);
    v = member_get(c, src, M_COST_ESTIMATED);
    p->cost_estimated = bool_value(c, v, "cost_estimated", "");
    json_decref(v);
    v = member_get(c, src, M_EVENTS_DROPPED);
    p->events_dropped = whole_value(c, v, "events_dropped", "", 0, INT64_MAX, 0);
    json_decref(v);
    if (cost_missing && !seed && !c->errors && !c->syntax) {
        /* Every cost ralphsup adds to the total is also an attempt's: the sum is the total. */
        size_t n = 0;
        bool est = false;
        p->cost_usd = attempts_cost(p, &n, &est);
        p->cost_estimated = p->cost_estimated || est;
        char m[32];
        rs_diags_add(&p->repairs, "%s: cost_usd was missing: recomputed as %s, the sum of the %zu attempts recorded",
                     c->origin, rs_money_format(p->cost_usd, m, sizeof m), n);
    }
    json_t *st = member_get(c, src, M_STOPPED);
    if (json_is_object(st)) {
        char *reason = get_str(c, st, "reason", false, "stopped");
        char *limit = get_str(c, st, "limit", false, "stopped");
        rs_progress_set_stopped(p, reason ? reason : "stopped", limit, get_time(c, st, "at", "stopped"));
        free(reason);
        free(limit);
    } else if (st && !json_is_null(st)) {
        bad_type(c, st, "stopped", "an object or null");
    }
    json_decref(st);
    p->extra = top_extras(c, src);
    if (!c->syntax && !c->errors) {
        struct rs_diags refused;
        rs_diags_init(&refused);
        rs_progress_check(p, c->origin, &p->repairs, &refused);
        for (size_t i = 0; i < refused.n; i++)
            rs_diags_add(c->diags, "%s", refused.msgs[i]);
        c->errors += (int)refused.n;
        rs_diags_deinit(&refused);
    }
    if (c->syntax || c->errors)
        p = rs_progress_free(p);
    return p;
}

int rs_progress_parse(const char *data, size_t len, const char *origin, struct rs_progress **out, struct rs_diags *diags)
{
    /* A UTF-8 byte order mark (some editors write one) is not JSON: skip it, and say so. */
    bool bom = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0;
    if (bom) {
        data += 3;
        len -= 3;
    }
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
    bool done = false;
    int r = 0;
    if (scan_document(data, len, &src)) {
        p = convert(&c, &src);
        if (!c.syntax) {
            for (size_t i = 0; i < lean.n; i++)
                rs_diags_add(diags, "%s", lean.msgs[i]);
            done = true;
            r = p ? 0 : RS_PROGRESS_E_INVALID;
        }
    }
    source_deinit(&src);
    rs_diags_deinit(&lean);

    if (!done) {
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
        src.root = root;
        c = (struct ctx){.origin = origin, .diags = diags};
        p = convert(&c, &src);
        json_decref(root);
        r = p ? 0 : RS_PROGRESS_E_INVALID;
    }
    if (!p)
        return r;
    if (bom)
        rs_diags_add(&p->repairs, "%s: skipped the UTF-8 byte order mark at the start of the file (not written back)",
                     origin);
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
