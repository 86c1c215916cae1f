/* SPDX-License-Identifier: MIT */
/*
 * The progress file's writer: struct rs_progress straight to text, one
 * member after the other into one growing buffer. It replaced a jansson DOM
 * of the whole file built (and freed) on every save — at 10,000 schools that
 * was 7.6 MiB of text, a million small allocations and a second pass to
 * redact it, about 300 ms a transition on a loaded machine.
 *
 * The text is byte for byte what json_dumps(JSON_INDENT(2) |
 * JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) made of that DOM, plus a
 * final newline (tests/unit/store/test_progress.c checks it against jansson
 * on a file with every kind of member): two-space indentation, ": " after
 * keys, "[]" / "{}" when empty, reals as "%.15g" with ".0" added to a whole
 * number and the exponent's '+' and leading zeros dropped, control
 * characters as \b \f \n \r \t or \u00XX, everything else as UTF-8 as it is.
 * Text that is not UTF-8 is written cleaned (rs_utf8_clean()), and a string
 * that holds something like an API key is redacted (rs_redact()) before it
 * is escaped — both per string, so the file is never scanned a second time.
 * Unknown members kept from loading (the `extra` texts) are parsed, each one
 * small, and written after the known members, skipping a key a known member
 * already wrote (what json_object_update_missing() did).
 *
 * No file I/O here: rs_progress_save() (progress.c) writes the buffer.
 */
#define _GNU_SOURCE /* memmem */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/strmap.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"
#include "ralphsup/store/progress_write.h"

/* The keys a known part of one object wrote, so its extras skip them. */
#define MAX_KEYS 24

struct obj {
    struct rs_buf *b;
    int depth;         /* of the members: their indentation is 2 * depth */
    size_t n;          /* members written */
    size_t nk;         /* of which known ones, named in keys[] */
    const char *keys[MAX_KEYS];
};

static void indent(struct rs_buf *b, int depth)
{
    static const char spaces[] = "                                                                ";
    size_t n = (size_t)depth * 2;
    while (n > 0) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        rs_buf_append(b, spaces, k);
        n -= k;
    }
}

/* @s (@n bytes, valid UTF-8) as a JSON string, escaped as jansson does without flags. */
static void put_escaped(struct rs_buf *b, const char *s, size_t n)
{
    rs_buf_putc(b, '"');
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rs_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': rs_buf_puts(b, "\\\""); break;
        case '\\': rs_buf_puts(b, "\\\\"); break;
        case '\b': rs_buf_puts(b, "\\b"); break;
        case '\f': rs_buf_puts(b, "\\f"); break;
        case '\n': rs_buf_puts(b, "\\n"); break;
        case '\r': rs_buf_puts(b, "\\r"); break;
        case '\t': rs_buf_puts(b, "\\t"); break;
        default: rs_buf_printf(b, "\\u%04X", c); break;
        }
    }
    rs_buf_append(b, s + run, n - run);
    rs_buf_putc(b, '"');
}

/* A string value: cleaned when not UTF-8, redacted when it holds a key-like word. */
static void put_str(struct rs_buf *b, const char *s)
{
    size_t n = strlen(s);
    char *clean = NULL, *red = NULL;
    if (!rs_utf8_valid(s, n)) {
        clean = rs_utf8_clean(s, n, 0, NULL, &n);
        s = clean;
    }
    if (memmem(s, n, "sk-", 3)) {
        red = rs_redact(s, n, &n);
        s = red;
    }
    put_escaped(b, s, n);
    free(red);
    free(clean);
}

/* jansson's real: "%.15g", ".0" for a whole number, exponent without '+' and leading zeros. */
static void put_real(struct rs_buf *b, double v)
{
    char t[64];
    if (!isfinite(v))
        v = 0; /* jansson has no such real; JSON neither */
    int len = snprintf(t, sizeof t, "%.15g", v);
    if (len <= 0 || (size_t)len >= sizeof t - 3) {
        rs_buf_puts(b, "0.0");
        return;
    }
    if (strspn(t, "0123456789-") == (size_t)len) {
        memcpy(t + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(t, 'e');
    if (e) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)len - (size_t)(end - t) + 1);
            len -= (int)(end - start);
        }
    }
    rs_buf_append(b, t, (size_t)len);
}

static void put_money(struct rs_buf *b, double v)
{
    /* Round to 1/1,000,000 USD so files stay readable and diffs stable. */
    put_real(b, (double)(long long)(v * 1e6 + (v >= 0 ? 0.5 : -0.5)) / 1e6);
}

static void obj_open(struct obj *o, struct rs_buf *b, int depth)
{
    o->b = b;
    o->depth = depth;
    o->n = 0;
    o->nk = 0;
}

/* Start member @key (a literal: kept, not copied). */
static struct rs_buf *key(struct obj *o, const char *k)
{
    struct rs_buf *b = o->b;
    rs_buf_puts(b, o->n == 0 ? "{\n" : ",\n");
    indent(b, o->depth);
    put_escaped(b, k, strlen(k));
    rs_buf_puts(b, ": ");
    if (o->nk < MAX_KEYS)
        o->keys[o->nk++] = k;
    o->n++;
    return b;
}

static bool wrote(const struct obj *o, const char *k)
{
    for (size_t i = 0; i < o->nk; i++)
        if (strcmp(o->keys[i], k) == 0)
            return true;
    return false;
}

static void m_int(struct obj *o, const char *k, long long v)
{
    rs_buf_printf(key(o, k), "%lld", v);
}

static void m_real(struct obj *o, const char *k, double v)
{
    put_real(key(o, k), v);
}

static void m_money(struct obj *o, const char *k, double v)
{
    put_money(key(o, k), v);
}

static void m_bool(struct obj *o, const char *k, bool v)
{
    rs_buf_puts(key(o, k), v ? "true" : "false");
}

static void m_str(struct obj *o, const char *k, const char *v)
{
    struct rs_buf *b = key(o, k);
    if (v)
        put_str(b, v);
    else
        rs_buf_puts(b, "null");
}

static void m_time(struct obj *o, const char *k, int64_t ms)
{
    struct rs_buf *b = key(o, k);
    if (ms <= 0) {
        rs_buf_puts(b, "null");
        return;
    }
    char t[40];
    put_str(b, rs_time_iso(ms, t, sizeof t));
}

/*
 * A copy of the unknown value @v with every string and every member name
 * redacted; of the members whose names redact alike, the first is kept, so
 * the text written loads back to the same value (no duplicate names).
 */
static json_t *redacted(json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (!memmem(s, n, "sk-", 3))
            return json_incref(v);
        char *red = rs_redact(s, n, &n);
        json_t *out = json_stringn(red, n);
        free(red);
        return out ? out : json_string("");
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(out, redacted(e));
        return out;
    }
    if (!json_is_object(v))
        return json_incref(v);
    json_t *out = json_object();
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
        size_t kn = strlen(k);
        char *rk = memmem(k, kn, "sk-", 3) ? rs_redact(k, kn, &kn) : rs_xstrdup(k);
        if (!json_object_get(out, rk))
            json_object_set_new(out, rk, redacted(e));
        free(rk);
    }
    return out;
}

/* The members of @extra that the known part did not write, then the closing brace. */
static void obj_close(struct obj *o, const char *extra)
{
    struct rs_buf *b = o->b;
    json_t *ex = extra ? json_loads(extra, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    /* Names as written (redacted): two names that redact alike are written once,
     * so that loading the file and saving it again gives the same text. */
    struct rs_strmap names = {0};
    if (json_is_object(ex)) {
        const char *k;
        json_t *v;
        json_object_foreach(ex, k, v) {
            if (wrote(o, k))
                continue;
            size_t kn = strlen(k);
            char *rk = memmem(k, kn, "sk-", 3) ? rs_redact(k, kn, &kn) : rs_xstrdup(k);
            bool again = wrote(o, rk) || !rs_strmap_add(&names, rk, 0);
            free(rk);
            if (again)
                continue;
            json_t *rv = redacted(v);
            char *text = json_dumps(rv, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY);
            json_decref(rv);
            if (!text)
                continue;
            size_t n = strlen(text);
            const char *t = text, *end = t + n, *nl;
            rs_buf_puts(b, o->n == 0 ? "{\n" : ",\n");
            indent(b, o->depth);
            put_str(b, k);
            rs_buf_puts(b, ": ");
            /* jansson indents a nested value from column 0: shift it to this depth. */
            for (; (nl = memchr(t, '\n', (size_t)(end - t))) != NULL; t = nl + 1) {
                rs_buf_append(b, t, (size_t)(nl + 1 - t));
                indent(b, o->depth);
            }
            rs_buf_append(b, t, (size_t)(end - t));
            o->n++;
            free(text);
        }
    }
    rs_strmap_deinit(&names);
    json_decref(ex);
    if (o->n == 0) {
        rs_buf_puts(b, "{}");
        return;
    }
    rs_buf_putc(b, '\n');
    indent(b, o->depth - 1);
    rs_buf_putc(b, '}');
}

/* Array punctuation: before element @i of an array whose elements sit at @depth. */
static void arr_elem(struct rs_buf *b, size_t i, int depth)
{
    rs_buf_puts(b, i == 0 ? "[\n" : ",\n");
    indent(b, depth);
}

static void arr_close(struct rs_buf *b, size_t n, int depth)
{
    if (n == 0) {
        rs_buf_puts(b, "[]");
        return;
    }
    rs_buf_putc(b, '\n');
    indent(b, depth - 1);
    rs_buf_putc(b, ']');
}

static void put_attempt(struct rs_buf *b, const struct rs_attempt *a, int depth)
{
    struct obj o;
    obj_open(&o, b, depth);
    m_int(&o, "attempt", a->attempt);
    m_int(&o, "iteration", (long long)a->iteration);
    m_time(&o, "started", a->started_ms);
    m_time(&o, "finished", a->finished_ms);
    m_real(&o, "duration_s", a->finished_ms > a->started_ms ? (double)(a->finished_ms - a->started_ms) / 1000.0 : 0);
    m_money(&o, "cost_usd", a->cost_usd);
    m_bool(&o, "cost_estimated", a->cost_estimated);
    m_str(&o, "outcome", a->outcome == RS_OUTCOME_OTHER ? a->outcome_other : rs_outcome_name(a->outcome));
    m_str(&o, "class", a->failure_class);
    m_str(&o, "reason", a->reason);
    m_str(&o, "exit_status", a->exit_status);
    m_str(&o, "session_id", a->session_id);
    obj_close(&o, a->extra);
}

static void put_state(struct rs_buf *b, const struct rs_school_state *s, bool completed, bool failed, int depth)
{
    struct obj o;
    obj_open(&o, b, depth);
    m_str(&o, "name", s->name);
    m_str(&o, "slug", s->slug ? s->slug : "");
    m_time(&o, "started", s->started_ms);
    m_time(&o, "finished", s->finished_ms);
    m_real(&o, "duration_s", s->finished_ms > s->started_ms ? (double)(s->finished_ms - s->started_ms) / 1000.0 : 0);
    m_money(&o, "cost_usd", s->cost_usd);
    if (completed) {
        m_int(&o, "coaches", s->coaches);
        m_int(&o, "overlaps", s->overlaps);
        m_str(&o, "csv", s->csv);
        if (s->review)
            m_str(&o, "review", s->review);
    }
    if (failed)
        m_str(&o, "reason", s->reason);
    struct rs_buf *ab = key(&o, "attempts");
    for (size_t i = 0; i < s->nattempts; i++) {
        arr_elem(ab, i, depth + 1);
        put_attempt(ab, &s->attempts[i], depth + 2);
    }
    arr_close(ab, s->nattempts, depth + 1);
    if (s->attempts_reset)
        m_int(&o, "attempts_reset", (int64_t)s->attempts_reset);
    obj_close(&o, s->extra);
}

static void put_states(struct rs_buf *b, const struct rs_school_state *v, size_t n, bool completed, bool failed,
                       int depth)
{
    for (size_t i = 0; i < n; i++) {
        arr_elem(b, i, depth);
        if (completed && v[i].segment)
            put_str(b, v[i].name); /* sealed: its entry is in segment v[i].segment */
        else
            put_state(b, &v[i], completed, failed, depth + 1);
    }
    arr_close(b, n, depth);
}

static void put_current(struct rs_buf *b, const struct rs_current *c, int depth)
{
    struct obj o;
    obj_open(&o, b, depth);
    m_str(&o, "name", c->name);
    m_str(&o, "slug", c->slug);
    m_int(&o, "attempt", c->attempt);
    m_int(&o, "iteration", (long long)c->iteration);
    m_time(&o, "started", c->started_ms);
    m_int(&o, "supervisor_pid", c->supervisor_pid);
    m_int(&o, "pid", c->pid);
    m_str(&o, "run_token", c->run_token);
    obj_close(&o, c->extra);
}

void rs_progress_write(const struct rs_progress *p, struct rs_buf *b)
{
    struct obj o;
    obj_open(&o, b, 1);
    m_int(&o, "schema_version", p->schema_version);
    m_str(&o, "batch_name", p->batch_name);
    m_str(&o, "status", rs_progress_status_name(p->status));
    m_time(&o, "started", p->started_ms);
    m_time(&o, "last_updated", p->last_updated_ms);
    m_str(&o, "current_school", p->current ? p->current->name : NULL);
    struct rs_buf *kb = key(&o, "current");
    if (p->current)
        put_current(kb, p->current, 2);
    else
        rs_buf_puts(kb, "null");
    kb = key(&o, "in_progress");
    size_t i = 0;
    for (const struct rs_current *c = p->current; c; c = c->next, i++) {
        arr_elem(kb, i, 2);
        put_current(kb, c, 3);
    }
    arr_close(kb, i, 2);
    kb = key(&o, "pending");
    for (i = 0; i < p->npending; i++) {
        arr_elem(kb, i, 2);
        put_str(kb, p->pending[i]);
    }
    arr_close(kb, p->npending, 2);
    put_states(key(&o, "completed"), p->completed, p->ncompleted, true, false, 2);
    if (p->nsegments) {
        kb = key(&o, "segments");
        for (i = 0; i < p->nsegments; i++) {
            arr_elem(kb, i, 2);
            put_str(kb, p->segments[i]);
        }
        arr_close(kb, p->nsegments, 2);
    }
    put_states(key(&o, "failed"), p->failed, p->nfailed, false, true, 2);
    put_states(key(&o, "retry_history"), p->history, p->nhistory, false, false, 2);
    m_int(&o, "iterations", (long long)p->iterations);
    m_money(&o, "cost_usd", p->cost_usd);
    m_bool(&o, "cost_estimated", p->cost_estimated);
    if (p->events_dropped > 0)
        m_int(&o, "events_dropped", (long long)p->events_dropped);
    kb = key(&o, "stopped");
    if (p->stopped) {
        struct obj so;
        obj_open(&so, kb, 2);
        m_str(&so, "reason", p->stopped->reason);
        m_str(&so, "limit", p->stopped->limit);
        m_time(&so, "at", p->stopped->at_ms);
        obj_close(&so, NULL);
    } else {
        rs_buf_puts(kb, "null");
    }
    obj_close(&o, p->extra);
    rs_buf_putc(b, '\n');
}

void rs_progress_write_segment(const struct rs_progress *p, size_t k, struct rs_buf *b)
{
    struct obj o;
    obj_open(&o, b, 1);
    m_int(&o, "schema_version", p->schema_version);
    m_str(&o, "batch_name", p->batch_name);
    m_int(&o, "segment", (long long)k);
    struct rs_buf *kb = key(&o, "completed");
    size_t n = 0;
    for (size_t i = 0; i < p->ncompleted; i++) {
        if (p->completed[i].segment != k)
            continue;
        arr_elem(kb, n++, 2);
        put_state(kb, &p->completed[i], true, false, 3);
    }
    arr_close(kb, n, 2);
    obj_close(&o, NULL);
    rs_buf_putc(b, '\n');
}
