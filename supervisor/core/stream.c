/* SPDX-License-Identifier: MIT */
/*
 * Incremental reader of the Claude Code CLI's stream-json stdout (see
 * stream.h for the contract and docs/protocol.md for the design notes).
 *
 * Three layers:
 *  1. Line framing (rs_stream_feed): memchr for '\n' from where the last
 *     search stopped; complete lines inside the caller's chunk are parsed in
 *     place, only a line that spans chunks is copied into the line buffer.
 *     A line over max_line_bytes switches to "skip until newline" mode and
 *     the buffer is released. After a big line the buffer shrinks back.
 *  2. Validation (pass 1): the one JSON scanner (base/json.c, non-recursive,
 *     strings in 64-byte SSE2 blocks) checks the whole line and records the
 *     spans of the top-level members. \u0000 is allowed, lone surrogates are
 *     tolerated; UTF-8 is not validated here but every copied string is
 *     repaired (sink_close()). Long strings are indexed. Nothing is copied.
 *  3. Extraction (pass 2): the members the event needs are read from the
 *     already-validated spans with cheap skips (the index jumps over big
 *     strings); strings are decoded into bounded heads in a per-line arena.
 *     Markers are found in assistant texts of any size without decoding
 *     them: only the lines that start like a marker are decoded.
 *
 * Deliberately not here: any I/O, libuv, the clock, policy decisions, cost
 * accounting (the event exposes message.id and first_of_message instead).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/common.h"
#include "ralphsup/base/json.h"
#include "ralphsup/core/markers.h"
#include "ralphsup/core/stream.h"
#include "ralphsup/base/utf8.h"

#define ARENA_CHUNK ((size_t)64 << 10)
#define LINE_KEEP_CAP ((size_t)256 << 10) /* line buffer kept between lines up to this */
#define VEC_KEEP 64                       /* item vectors kept between lines up to this */
#define MAX_MEMBERS 64                    /* members of one object considered */
#define ERROR_MAX 1024                    /* bytes of each result.errors entry */
#define MSG_RING 32                       /* message ids remembered for first_of_message */
#define DETAIL_MAX 300

/* ---- per-line arena ---------------------------------------------------- */

struct chunk {
    struct chunk *next;
    size_t cap;
    size_t used;
    max_align_t align_[];
};

static char *chunk_data(struct chunk *c)
{
    return (char *)c->align_;
}

static void *arena_alloc(struct chunk **head, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct chunk *c = *head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        struct chunk *nc = rs_xmalloc(sizeof(*nc) + cap);
        nc->cap = cap;
        nc->used = 0;
        nc->next = c;
        *head = nc;
        c = nc;
    }
    void *p = chunk_data(c) + c->used;
    c->used += n;
    return p;
}

/* Free everything but one standard chunk. */
static void arena_reset(struct chunk **head)
{
    struct chunk *keep = NULL, *c = *head;
    while (c) {
        struct chunk *next = c->next;
        if (!keep && c->cap == ARENA_CHUNK) {
            keep = c;
            keep->next = NULL;
            keep->used = 0;
        } else {
            free(c);
        }
        c = next;
    }
    *head = keep;
}

/* ---- the reader ---------------------------------------------------------- */

struct rs_stream {
    struct rs_stream_opts o;
    rs_stream_event_cb cb;
    void *userdata;
    struct rs_stream_stats st;
    bool finished;

    char *buf; /* partial line spanning chunks */
    size_t len;
    size_t cap;
    bool skipping; /* inside an oversize line */
    size_t skip_len;

    struct chunk *arena;
    struct rs_marker *mk; /* markers of the current line */
    size_t nmk, capmk;
    size_t block_mk_start; /* first marker of the current text block */
    size_t block_mk_dropped;

    struct rs_stream_block *blocks;
    size_t capblocks;
    struct rs_stream_tool_result *results;
    size_t capresults;
    struct rs_stream_denial *denials;
    size_t capdenials;
    const char **errors;
    size_t caperrors;

    struct rs_json_index ix; /* long strings of the current line */
    char *mline; /* a decoded marker candidate line, RS_MARKER_MAX_BYTES + 8 */

    uint64_t msg_ring[MSG_RING];
    size_t msg_ring_n;
    size_t msg_ring_pos;
};

const char *rs_stream_kind_name(enum rs_stream_kind kind)
{
    static const char *const names[] = {
        [RS_STREAM_INIT] = "init",
        [RS_STREAM_ASSISTANT] = "assistant",
        [RS_STREAM_USER] = "user",
        [RS_STREAM_RESULT] = "result",
        [RS_STREAM_API_RETRY] = "api_retry",
        [RS_STREAM_RATE_LIMIT] = "rate_limit",
        [RS_STREAM_SYSTEM] = "system",
        [RS_STREAM_OTHER] = "other",
        [RS_STREAM_BAD_LINE] = "bad_line",
        [RS_STREAM_OVERSIZE] = "oversize",
        [RS_STREAM_TRUNCATED] = "truncated",
        [RS_STREAM_PARTIAL] = "partial",
    };
    if ((size_t)kind < RS_ARRAY_SIZE(names) && names[kind])
        return names[kind];
    return "unknown";
}

static void add_marker(struct rs_stream *s, struct rs_marker *m)
{
    if (s->nmk - s->block_mk_start >= RS_STREAM_MAX_MARKERS) {
        s->block_mk_dropped++;
        rs_marker_deinit(m);
        return;
    }
    s->mk = rs_xgrow(s->mk, s->nmk, &s->capmk, sizeof(*s->mk), 8);
    s->mk[s->nmk++] = *m;
}

int rs_stream_new(const struct rs_stream_opts *opts, rs_stream_event_cb cb, void *userdata, struct rs_stream **out)
{
    if (!out || !cb)
        return -EINVAL;
    struct rs_stream *s = rs_xcalloc(1, sizeof(*s));
    if (opts)
        s->o = *opts;
    if (!s->o.max_line_bytes)
        s->o.max_line_bytes = RS_STREAM_DEFAULT_MAX_LINE;
    if (!s->o.text_max)
        s->o.text_max = RS_STREAM_DEFAULT_TEXT_MAX;
    if (!s->o.result_max)
        s->o.result_max = RS_STREAM_DEFAULT_RESULT_MAX;
    if (!s->o.tool_result_max)
        s->o.tool_result_max = RS_STREAM_DEFAULT_TOOL_RESULT_MAX;
    if (!s->o.tool_input_max)
        s->o.tool_input_max = RS_STREAM_DEFAULT_TOOL_INPUT_MAX;
    s->cb = cb;
    s->userdata = userdata;
    *out = s;
    return 0;
}

static void clear_markers(struct rs_stream *s)
{
    for (size_t i = 0; i < s->nmk; i++)
        rs_marker_deinit(&s->mk[i]);
    s->nmk = 0;
    if (s->capmk > VEC_KEEP) {
        free(s->mk);
        s->mk = NULL;
        s->capmk = 0;
    }
}

struct rs_stream *rs_stream_free(struct rs_stream *s)
{
    if (!s)
        return NULL;
    clear_markers(s);
    free(s->mk);
    free(s->buf);
    while (s->arena) {
        struct chunk *n = s->arena->next;
        free(s->arena);
        s->arena = n;
    }
    free(s->mline);
    rs_json_index_deinit(&s->ix);
    free(s->blocks);
    free(s->results);
    free(s->denials);
    free(s->errors);
    free(s);
    return NULL;
}

void rs_stream_get_stats(const struct rs_stream *s, struct rs_stream_stats *out)
{
    *out = s->st;
    out->buffer_capacity = s->cap;
}

/* Grow a per-line item vector (kept in the reader, reused across lines). */
static void *vec_slot(void **vec, size_t *cap, size_t n, size_t size)
{
    *vec = rs_xgrow(*vec, n, cap, size, 8);
    return (char *)*vec + n * size;
}

static void vec_trim(void **vec, size_t *cap)
{
    if (*cap > VEC_KEEP) {
        free(*vec);
        *vec = NULL;
        *cap = 0;
    }
}

/* ---- reading validated spans (the scanner is base/json.c) ------------------ */

struct member {
    const char *key;
    size_t klen;
    struct rs_json_span v;
};

struct members {
    size_t n;
    struct member m[MAX_MEMBERS];
};

/* Key of a member (its token, quotes included): raw bytes unless it holds escapes (then decoded into the arena). */
static void set_key(struct rs_stream *s, struct member *m, struct rs_json_span k)
{
    size_t raw = (size_t)(k.e - k.p) - 2;
    if (!memchr(k.p + 1, '\\', raw)) {
        m->key = k.p + 1;
        m->klen = raw;
        return;
    }
    char *d = arena_alloc(&s->arena, raw + 1);
    m->klen = rs_json_unescape(k, d, raw, NULL);
    m->key = d;
}

/* Members of a validated object span (the first MAX_MEMBERS). */
static bool collect(struct rs_stream *s, struct rs_json_span obj, struct members *out)
{
    struct rs_json_iter it;
    struct rs_json_span k, v;
    out->n = 0;
    if (!rs_json_object_begin(&it, obj, &s->ix))
        return false;
    while (rs_json_object_next(&it, &k, &v)) {
        if (out->n < MAX_MEMBERS) {
            struct member *m = &out->m[out->n++];
            set_key(s, m, k);
            m->v = v;
        }
    }
    return true;
}

static bool find(const struct members *m, const char *key, struct rs_json_span *out)
{
    size_t kl = strlen(key);
    for (size_t i = m->n; i-- > 0;) {
        if (m->m[i].klen == kl && memcmp(m->m[i].key, key, kl) == 0) {
            *out = m->m[i].v;
            return true;
        }
    }
    return false;
}

/* Decoding sink: a bounded head copy of one or more strings. */
struct sink {
    char *buf;
    size_t cap;
    size_t len;
    bool dropped; /* bytes did not fit */
};

static void sink_put(struct sink *k, const char *p, size_t n)
{
    size_t room = k->cap - k->len;
    size_t take = n < room ? n : room;
    if (take) {
        memcpy(k->buf + k->len, p, take);
        k->len += take;
    }
    if (take < n)
        k->dropped = true;
}

/* Decode the string token @v into @k, stopping (at a character boundary) when the head is full. */
static void decode_into(struct rs_json_span v, struct sink *k)
{
    bool dropped;
    k->len += rs_json_unescape(v, k->buf + k->len, k->cap - k->len, &dropped);
    k->dropped = k->dropped || dropped;
}

static void sink_open(struct rs_stream *s, struct sink *k, size_t cap)
{
    memset(k, 0, sizeof(*k));
    k->buf = arena_alloc(&s->arena, cap + 1);
    k->cap = cap;
}

/* @p (@n bytes) cleaned by the one UTF-8 module (base/utf8.h), NUL-terminated in the arena; *@len its length. */
static char *arena_clean(struct rs_stream *s, const char *p, size_t n, size_t *len)
{
    char *clean = rs_utf8_clean(p, n, 0, NULL, len);
    char *a = arena_alloc(&s->arena, *len + 1);
    memcpy(a, clean, *len + 1);
    free(clean);
    return a;
}

/* Make the head valid UTF-8 (the scanner does not validate it). */
static const char *sink_close(struct rs_stream *s, struct sink *k)
{
    if (!rs_utf8_valid(k->buf, k->len))
        k->buf = arena_clean(s, k->buf, k->len, &k->len);
    k->buf[k->len] = '\0';
    return k->buf;
}

/* Bounded decoded copy of a string value; NULL if @v is not a string. */
static const char *str_head(struct rs_stream *s, struct rs_json_span v, size_t cap, size_t *len, bool *truncated)
{
    if (!rs_json_is_string(v))
        return NULL;
    size_t raw = (size_t)(v.e - v.p) - 2;
    struct sink k;
    sink_open(s, &k, raw < cap ? raw : cap);
    decode_into(v, &k);
    const char *r = sink_close(s, &k);
    if (len)
        *len = k.len;
    if (truncated)
        *truncated = k.dropped;
    return r;
}

#define SHORT_MAX 1024 /* ids, models, subtypes, ... */

static const char *m_str(struct rs_stream *s, const struct members *m, const char *key)
{
    struct rs_json_span v;
    return find(m, key, &v) ? str_head(s, v, SHORT_MAX, NULL, NULL) : NULL;
}

static bool m_i64(const struct members *m, const char *key, int64_t *out)
{
    struct rs_json_span v;
    return find(m, key, &v) && rs_json_i64(v, out);
}

static bool m_f64(const struct members *m, const char *key, double *out)
{
    struct rs_json_span v;
    return find(m, key, &v) && rs_json_f64(v, out);
}

static bool m_bool(const struct members *m, const char *key)
{
    struct rs_json_span v;
    return find(m, key, &v) && rs_json_is_literal(v, "true");
}

static bool m_obj(struct rs_stream *s, const struct members *m, const char *key, struct members *out)
{
    struct rs_json_span v;
    return find(m, key, &v) && rs_json_is_object(v) && collect(s, v, out);
}

static void read_usage(struct rs_stream *s, const struct members *parent, struct rs_stream_usage *u)
{
    struct members m;
    memset(u, 0, sizeof(*u));
    if (!m_obj(s, parent, "usage", &m))
        return;
    u->present = true;
    m_i64(&m, "input_tokens", &u->input_tokens);
    m_i64(&m, "output_tokens", &u->output_tokens);
    m_i64(&m, "cache_creation_input_tokens", &u->cache_creation_input_tokens);
    m_i64(&m, "cache_read_input_tokens", &u->cache_read_input_tokens);
    struct members cc;
    if (m_obj(s, &m, "cache_creation", &cc)) {
        bool a = m_i64(&cc, "ephemeral_5m_input_tokens", &u->cache_creation_5m_input_tokens);
        bool b = m_i64(&cc, "ephemeral_1h_input_tokens", &u->cache_creation_1h_input_tokens);
        u->has_cache_split = a || b;
    }
}

/* ---- tool summaries and canonical inputs ---------------------------- */

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

#define FNV_BASIS UINT64_C(0xcbf29ce484222325)

/* Hash of a validated value with insignificant whitespace removed. */
static uint64_t hash_compact(const struct rs_stream *s, struct rs_json_span v)
{
    uint64_t h = FNV_BASIS;
    const char *p = v.p, *run = v.p;
    while (p < v.e) {
        if (*p == '"') {
            p = rs_json_skip_string(p + 1, v.e, &s->ix);
            continue;
        }
        if (rs_json_is_ws(*p)) {
            h = fnv1a(h, run, (size_t)(p - run));
            while (p < v.e && rs_json_is_ws(*p))
                p++;
            run = p;
            continue;
        }
        p++;
    }
    return fnv1a(h, run, (size_t)(p - run));
}

/*
 * Canonical JSON of a validated value: no whitespace, object members sorted
 * by key (bytewise, stable), strings re-encoded with minimal escapes (only
 * '"', '\\' and control characters, as \b \f \n \r \t or \u00xx; "\/" and
 * \uXXXX of printable characters become the raw UTF-8), numbers and literals
 * as written. The output is never longer than the input, except that bytes
 * that are not UTF-8 (the scanner lets them through) are repaired to U+FFFD.
 */
struct canon {
    char *out;
    size_t n;
};

struct canon_member {
    const char *key; /* decoded */
    size_t klen;
    struct rs_json_span k;   /* the key token */
    struct rs_json_span v;
};

static int canon_member_cmp(const void *a, const void *b)
{
    const struct canon_member *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int r = memcmp(x->key, y->key, n);
    if (r)
        return r;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return x->k.p < y->k.p ? -1 : x->k.p > y->k.p; /* stable for duplicate keys */
}

static void canon_char(struct canon *c, unsigned char ch)
{
    static const char hex[] = "0123456789abcdef", from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
    const char *k = ch ? strchr(from, ch) : NULL;
    char *o = c->out + c->n;
    if (k) {
        o[0] = '\\';
        o[1] = to[k - from];
        c->n += 2;
    } else if (ch < 0x20) {
        memcpy(o, "\\u00", 4);
        o[4] = hex[ch >> 4];
        o[5] = hex[ch & 15];
        c->n += 6;
    } else {
        o[0] = (char)ch;
        c->n += 1;
    }
}

static void canon_string(struct rs_json_span v, struct canon *c)
{
    const char *p = v.p + 1, *e = v.e - 1;
    c->out[c->n++] = '"';
    while (p < e) {
        const char *bs = rs_json_find_special(p, e, false);
        memcpy(c->out + c->n, p, (size_t)(bs - p));
        c->n += (size_t)(bs - p);
        if (bs >= e)
            break;
        char tmp[4];
        p = bs;
        size_t w = rs_json_unescape_one(&p, e, tmp);
        if (w == 1) {
            canon_char(c, (unsigned char)tmp[0]);
        } else {
            memcpy(c->out + c->n, tmp, w);
            c->n += w;
        }
    }
    c->out[c->n++] = '"';
}

static void canon_value(struct rs_stream *s, struct rs_json_span v, struct canon *c)
{
    const char *p = rs_json_skip_ws(v.p, v.e);
    if (p >= v.e)
        return;
    if (*p == '"') {
        canon_string((struct rs_json_span){p, rs_json_skip_string(p + 1, v.e, &s->ix)}, c);
    } else if (*p == '[') {
        struct rs_json_iter it;
        struct rs_json_span el;
        bool first = true;
        rs_json_array_begin(&it, v, &s->ix);
        c->out[c->n++] = '[';
        while (rs_json_array_next(&it, &el)) {
            if (!first)
                c->out[c->n++] = ',';
            first = false;
            canon_value(s, el, c);
        }
        c->out[c->n++] = ']';
    } else if (*p == '{') {
        /* Two walks: count, then fill an arena array (no big stack frames when nested). */
        size_t n = 0, i = 0;
        struct rs_json_iter it;
        struct rs_json_span k, mv;
        rs_json_object_begin(&it, v, &s->ix);
        while (rs_json_object_next(&it, &k, &mv))
            n++;
        struct canon_member *m = arena_alloc(&s->arena, (n ? n : 1) * sizeof(*m));
        rs_json_object_begin(&it, v, &s->ix);
        while (i < n && rs_json_object_next(&it, &k, &mv)) {
            struct canon_member *cm = &m[i++];
            size_t raw = (size_t)(k.e - k.p) - 2;
            char *key = arena_alloc(&s->arena, raw + 1);
            cm->klen = rs_json_unescape(k, key, raw, NULL);
            key[cm->klen] = '\0';
            cm->key = key;
            cm->k = k;
            cm->v = mv;
        }
        qsort(m, i, sizeof(*m), canon_member_cmp);
        c->out[c->n++] = '{';
        for (size_t j = 0; j < i; j++) {
            if (j)
                c->out[c->n++] = ',';
            canon_string(m[j].k, c);
            c->out[c->n++] = ':';
            canon_value(s, m[j].v, c);
        }
        c->out[c->n++] = '}';
    } else {
        const char *t = p;
        while (t < v.e && !rs_json_is_ws(*t))
            t++;
        memcpy(c->out + c->n, p, (size_t)(t - p));
        c->n += (size_t)(t - p);
    }
}

static void canon_input(struct rs_stream *s, struct rs_json_span v, struct rs_stream_block *b)
{
    size_t n = (size_t)(v.e - v.p);
    b->input_bytes = n;
    b->input_json = NULL;
    if (n <= s->o.tool_input_max) {
        struct canon c = {arena_alloc(&s->arena, n + 1), 0};
        canon_value(s, v, &c);
        c.out[c.n] = '\0';
        /* Raw bytes are copied as written: repair them, as every string of an event is UTF-8 (fuzzing found it). */
        if (!rs_utf8_valid(c.out, c.n))
            c.out = arena_clean(s, c.out, c.n, &c.n);
        b->input_json = c.out;
        b->input_hash = fnv1a(FNV_BASIS, c.out, c.n);
        return;
    }
    b->input_hash = hash_compact(s, v);
}

static const char *const summary_keys[][2] = {
    {"Bash", "command"},       {"Read", "file_path"},        {"Write", "file_path"},
    {"Edit", "file_path"},     {"MultiEdit", "file_path"},   {"NotebookEdit", "notebook_path"},
    {"Glob", "pattern"},       {"Grep", "pattern"},          {"WebFetch", "url"},
    {"WebSearch", "query"},    {"Task", "description"},      {"Agent", "description"},
    {"BashOutput", "bash_id"}, {"KillShell", "shell_id"},    {"Skill", "skill"},
};

/* "Name: argument" with the argument's whitespace collapsed, at most SUMMARY_MAX bytes + "…". */
static const char *summarize(struct rs_stream *s, const char *name, struct rs_json_span input)
{
    if (!name)
        name = "?";
    struct members m;
    struct rs_json_span arg = {NULL, NULL};
    bool have = false;
    if (rs_json_is_object(input) && collect(s, input, &m)) {
        for (size_t i = 0; i < RS_ARRAY_SIZE(summary_keys); i++)
            if (strcmp(name, summary_keys[i][0]) == 0) {
                have = find(&m, summary_keys[i][1], &arg) && rs_json_is_string(arg);
                break;
            }
        /* Unknown tool (MCP ...): the first string member. */
        for (size_t i = 0; !have && i < m.n; i++)
            if (rs_json_is_string(m.m[i].v)) {
                arg = m.m[i].v;
                have = true;
            }
    }
    size_t nl = strlen(name);
    if (!have)
        return name;
    struct sink k;
    sink_open(s, &k, RS_STREAM_SUMMARY_MAX * 2);
    decode_into(arg, &k);
    const char *a = sink_close(s, &k);
    size_t alen = k.len;
    char *out = arena_alloc(&s->arena, nl + 2 + RS_STREAM_SUMMARY_MAX + 4 + 1);
    memcpy(out, name, nl);
    size_t o = nl;
    out[o++] = ':';
    out[o++] = ' ';
    size_t limit = nl + 2 < RS_STREAM_SUMMARY_MAX ? RS_STREAM_SUMMARY_MAX : nl + 2 + 16;
    bool space = false, cut = false;
    size_t i = 0;
    while (i < alen && (a[i] == ' ' || a[i] == '\t' || a[i] == '\n' || a[i] == '\r'))
        i++;
    for (; i < alen; i++) {
        char c = a[i];
        bool w = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
        if (w) {
            space = true;
            continue;
        }
        if (o + (space ? 1 : 0) + 1 > limit) {
            cut = true;
            break;
        }
        if (space) {
            out[o++] = ' ';
            space = false;
        }
        out[o++] = c;
    }
    if (k.dropped)
        cut = true;
    if (cut) {
        o -= rs_utf8_incomplete(out, o); /* @out is clean UTF-8 cut anywhere */
        memcpy(out + o, "\xE2\x80\xA6", 3); /* … */
        o += 3;
    }
    if (o == nl + 2)
        o = nl; /* empty argument */
    out[o] = '\0';
    return out;
}

/* ---- event builders ---------------------------------------------------- */

static void build_init(struct rs_stream *s, const struct members *top, struct rs_stream_event *ev)
{
    struct rs_stream_init *in = &ev->init;
    in->session_id = m_str(s, top, "session_id");
    in->model = m_str(s, top, "model");
    in->claude_code_version = m_str(s, top, "claude_code_version");
    in->permission_mode = m_str(s, top, "permissionMode");
    in->cwd = m_str(s, top, "cwd");
    struct rs_json_span v;
    struct rs_json_iter it;
    if (find(top, "tools", &v) && rs_json_array_begin(&it, v, &s->ix))
        while (rs_json_array_next(&it, &v))
            in->ntools++;
}

static void build_api_retry(struct rs_stream *s, const struct members *top, struct rs_stream_event *ev)
{
    struct rs_stream_api_retry *r = &ev->api_retry;
    r->attempt = r->max_retries = -1;
    r->retry_delay_ms = -1;
    m_i64(top, "attempt", &r->attempt);
    m_i64(top, "max_retries", &r->max_retries);
    m_f64(top, "retry_delay_ms", &r->retry_delay_ms);
    int64_t st;
    if (m_i64(top, "error_status", &st)) {
        r->has_error_status = true;
        r->error_status = (int)st;
    }
    r->error = m_str(s, top, "error");
}

static void build_system(struct rs_stream *s, const struct members *top, struct rs_stream_event *ev)
{
    static const char *const keys[] = {"status",   "trigger",       "original_model", "fallback_model", "task_type",
                                       "task_id",  "tool_use_id",   "description",    "summary",        "content",
                                       "estimated_tokens"};
    char *d = arena_alloc(&s->arena, DETAIL_MAX + 1);
    size_t o = 0;
    for (size_t i = 0; i < RS_ARRAY_SIZE(keys); i++) {
        struct rs_json_span v;
        if (!find(top, keys[i], &v))
            continue;
        char val[96];
        size_t vl;
        if (rs_json_is_string(v)) {
            size_t l;
            const char *h = str_head(s, v, 80, &l, NULL);
            vl = rs_utf8_boundary(h, l, sizeof(val) - 1); /* repaired text can outgrow 80 bytes (fuzzing) */
            memcpy(val, h, vl);
        } else if (!rs_json_is_object(v) && !rs_json_is_array(v) && (size_t)(v.e - v.p) < sizeof(val)) {
            vl = (size_t)(v.e - v.p);
            memcpy(val, v.p, vl);
        } else {
            continue;
        }
        for (size_t j = 0; j < vl; j++)
            if ((unsigned char)val[j] < 0x20)
                val[j] = ' ';
        size_t kl = strlen(keys[i]);
        if (o + (o ? 1 : 0) + kl + 1 + vl > DETAIL_MAX)
            break;
        if (o)
            d[o++] = ' ';
        memcpy(d + o, keys[i], kl);
        o += kl;
        d[o++] = '=';
        memcpy(d + o, val, vl);
        o += vl;
    }
    d[o] = '\0';
    ev->system.detail = o ? d : NULL;
}

static void build_rate_limit(struct rs_stream *s, const struct members *top, struct rs_stream_event *ev)
{
    struct rs_stream_rate_limit *r = &ev->rate_limit;
    struct members m;
    if (!m_obj(s, top, "rate_limit_info", &m))
        return;
    r->status = m_str(s, &m, "status");
    r->has_resets_at = m_i64(&m, "resetsAt", &r->resets_at);
    r->rate_limit_type = m_str(s, &m, "rateLimitType");
    r->has_utilization = m_f64(&m, "utilization", &r->utilization);
    r->is_using_overage = m_bool(&m, "isUsingOverage");
}

static bool seen_message(struct rs_stream *s, const char *id)
{
    uint64_t h = fnv1a(FNV_BASIS, id, strlen(id));
    for (size_t i = 0; i < s->msg_ring_n; i++)
        if (s->msg_ring[i] == h)
            return true;
    s->msg_ring[s->msg_ring_pos] = h;
    s->msg_ring_pos = (s->msg_ring_pos + 1) % MSG_RING;
    if (s->msg_ring_n < MSG_RING)
        s->msg_ring_n++;
    return false;
}

/*
 * Decode one line of a validated string body, from @p up to the next
 * newline (escaped "\n" or "\u000a") or @e, into s->mline; at most
 * RS_MARKER_MAX_BYTES + 1 bytes are kept (enough to know it is too long).
 */
static size_t decode_line(struct rs_stream *s, const char *p, const char *e)
{
    if (!s->mline)
        s->mline = rs_xmalloc(RS_MARKER_MAX_BYTES + 8);
    size_t n = rs_json_unescape_line(p, e, s->mline, RS_MARKER_MAX_BYTES + 1);
    return n > RS_MARKER_MAX_BYTES + 1 ? RS_MARKER_MAX_BYTES + 1 : n;
}

/*
 * A decoded line starts at @p: if it can be a marker (blanks, backticks, then
 * "RALPH_" written literally), decode it and hand it to the marker parser.
 */
static void check_marker_line(struct rs_stream *s, const char *p, const char *e)
{
    const char *l = p;
    while (p < e) {
        if (*p == ' ' || *p == '`')
            p++;
        else if (e - p >= 2 && p[0] == '\\' && p[1] == 't')
            p += 2;
        else
            break;
    }
    if (e - p < 6 || memcmp(p, "RALPH_", 6) != 0)
        return;
    size_t n = decode_line(s, l, e);
    struct rs_marker m;
    /* Raw bytes are decoded as written: repair them as the block's text is, so markers are UTF-8 too (fuzzing). */
    char *clean = rs_utf8_valid(s->mline, n) ? NULL : rs_utf8_clean(s->mline, n, 0, NULL, &n);
    if (rs_marker_parse_line(clean ? clean : s->mline, n, &m) == 1)
        add_marker(s, &m);
    free(clean);
}

/* @p is an escaped character (after its backslash): a newline starts a line. */
static void escaped_newline(struct rs_stream *s, const char *p, const char *e)
{
    if (*p == 'n')
        check_marker_line(s, p + 1, e);
    else if (*p == 'u' && e - p >= 5 && memcmp(p + 1, "000", 3) == 0 && (p[4] == 'a' || p[4] == 'A'))
        check_marker_line(s, p + 5, e);
}

/*
 * Find the markers of a text value without decoding it: decoded newlines
 * only come from escapes, so walk the escapes and look at each line start.
 */
static void scan_markers(struct rs_stream *s, struct rs_json_span v)
{
    const char *p = v.p + 1, *e = v.e - 1;
    check_marker_line(s, p, e);
    /* In a validated body every backslash found from an escape's end on starts the next escape. */
    while (p < e && (p = memchr(p, '\\', (size_t)(e - p))) != NULL) {
        escaped_newline(s, p + 1, e);
        p += 2;
    }
}

static void build_text_block(struct rs_stream *s, struct rs_json_span text, bool markers, struct rs_stream_block *b)
{
    b->text = str_head(s, text, s->o.text_max, &b->text_len, &b->text_truncated);
    b->text_bytes = (size_t)(text.e - text.p);
    if (markers) {
        size_t first = s->nmk;
        s->block_mk_dropped = 0;
        s->block_mk_start = first;
        scan_markers(s, text);
        /* .markers is set once the line is complete (s->mk may still move). */
        b->nmarkers = s->nmk - first;
        b->markers_dropped = s->block_mk_dropped;
    }
}

static void build_assistant(struct rs_stream *s, const struct members *top, struct rs_stream_event *ev)
{
    struct rs_stream_assistant *a = &ev->assistant;
    struct members msg;
    a->session_id = m_str(s, top, "session_id");
    a->parent_tool_use_id = m_str(s, top, "parent_tool_use_id");
    a->error = m_str(s, top, "error");
    size_t nb = 0;
    if (m_obj(s, top, "message", &msg)) {
        a->message_id = m_str(s, &msg, "id");
        a->model = m_str(s, &msg, "model");
        a->stop_reason = m_str(s, &msg, "stop_reason");
        a->synthetic = a->model && strcmp(a->model, "<synthetic>") == 0;
        read_usage(s, &msg, &a->usage);
        struct rs_json_span content, el;
        struct rs_json_iter it;
        if (find(&msg, "content", &content) && rs_json_array_begin(&it, content, &s->ix)) {
            while (rs_json_array_next(&it, &el)) {
                struct members bm;
                if (!rs_json_is_object(el) || !collect(s, el, &bm))
                    continue;
                if (nb == RS_STREAM_MAX_ITEMS) {
                    a->blocks_dropped++;
                    continue;
                }
                struct rs_stream_block *b = vec_slot((void **)&s->blocks, &s->capblocks, nb, sizeof(*b));
                memset(b, 0, sizeof(*b));
                nb++;
                b->type = m_str(s, &bm, "type");
                const char *t = b->type ? b->type : "";
                struct rs_json_span v;
                if (strcmp(t, "text") == 0) {
                    b->kind = RS_STREAM_BLOCK_TEXT;
                    if (find(&bm, "text", &v) && rs_json_is_string(v))
                        build_text_block(s, v, true, b);
                    else
                        b->text = "";
                } else if (strcmp(t, "thinking") == 0) {
                    b->kind = RS_STREAM_BLOCK_THINKING;
                    if (find(&bm, "thinking", &v) && rs_json_is_string(v))
                        build_text_block(s, v, false, b);
                    else
                        b->text = "";
                } else if (strcmp(t, "tool_use") == 0 || strcmp(t, "server_tool_use") == 0) {
                    b->kind = RS_STREAM_BLOCK_TOOL_USE;
                    b->tool_id = m_str(s, &bm, "id");
                    b->tool_name = m_str(s, &bm, "name");
                    if (find(&bm, "input", &v)) {
                        canon_input(s, v, b);
                        b->summary = summarize(s, b->tool_name, v);
                    } else {
                        b->summary = b->tool_name ? b->tool_name : "?";
                    }
                } else {
                    b->kind = RS_STREAM_BLOCK_OTHER;
                }
            }
        }
    }
    /* Text blocks appended their markers to s->mk in block order. */
    size_t mk_off = 0;
    for (size_t i = 0; i < nb; i++) {
        struct rs_stream_block *b = &s->blocks[i];
        b->markers = b->nmarkers ? s->mk + mk_off : NULL;
        mk_off += b->nmarkers;
        if (a->synthetic && !a->error_text && b->kind == RS_STREAM_BLOCK_TEXT)
            a->error_text = b->text;
    }
    a->blocks = nb ? s->blocks : NULL;
    a->nblocks = nb;
    a->first_of_message = a->message_id ? !seen_message(s, a->message_id) : true;
}

/* Head of a tool_result content: a string, or the text blocks of an array joined by "\n". */
static const char *content_head(struct rs_stream *s, struct rs_json_span c, size_t cap)
{
    if (rs_json_is_string(c))
        return str_head(s, c, cap, NULL, NULL);
    struct sink k;
    sink_open(s, &k, cap);
    struct rs_json_iter it;
    struct rs_json_span el;
    bool first = true;
    if (rs_json_array_begin(&it, c, &s->ix)) {
        while (rs_json_array_next(&it, &el) && k.len < k.cap) {
            struct members bm;
            struct rs_json_span t;
            if (!rs_json_is_object(el) || !collect(s, el, &bm) || !find(&bm, "text", &t) || !rs_json_is_string(t))
                continue;
            if (!first)
                sink_put(&k, "\n", 1);
            first = false;
            decode_into(t, &k);
        }
        if (k.len >= k.cap && it.p < it.e && *it.p != ']')
            k.dropped = true;
    }
    return sink_close(s, &k);
}

static void build_user(struct rs_stream *s, const struct members *top, struct rs_stream_event *ev)
{
    struct rs_stream_user *u = &ev->user;
    struct members msg;
    u->session_id = m_str(s, top, "session_id");
    u->parent_tool_use_id = m_str(s, top, "parent_tool_use_id");
    size_t nr = 0;
    struct rs_json_span content, el;
    struct rs_json_iter it;
    if (m_obj(s, top, "message", &msg) && find(&msg, "content", &content)) {
        if (rs_json_is_string(content))
            u->text = str_head(s, content, s->o.text_max, NULL, NULL);
        else if (rs_json_array_begin(&it, content, &s->ix)) {
            while (rs_json_array_next(&it, &el)) {
                struct members bm;
                if (!rs_json_is_object(el) || !collect(s, el, &bm))
                    continue;
                const char *t = m_str(s, &bm, "type");
                struct rs_json_span v;
                if (t && strcmp(t, "text") == 0) {
                    if (!u->text && find(&bm, "text", &v))
                        u->text = str_head(s, v, s->o.text_max, NULL, NULL);
                    continue;
                }
                if (!t || strcmp(t, "tool_result") != 0)
                    continue;
                if (nr == RS_STREAM_MAX_ITEMS) {
                    u->results_dropped++;
                    continue;
                }
                struct rs_stream_tool_result *r = vec_slot((void **)&s->results, &s->capresults, nr, sizeof(*r));
                memset(r, 0, sizeof(*r));
                nr++;
                r->tool_use_id = m_str(s, &bm, "tool_use_id");
                r->is_error = m_bool(&bm, "is_error");
                if (find(&bm, "content", &v)) {
                    r->content = content_head(s, v, s->o.tool_result_max);
                    r->content_bytes = (size_t)(v.e - v.p);
                } else {
                    r->content = "";
                }
            }
        }
    }
    u->results = nr ? s->results : NULL;
    u->nresults = nr;
}

/*
 * stream_event: most are content_block_delta lines, so only the event's type
 * is read unless it is message_start or message_delta.
 */
static void build_partial(struct rs_stream *s, const struct members *top, struct rs_stream_event *ev)
{
    struct rs_stream_partial *pe = &ev->partial;
    struct members em, msg;
    if (!m_obj(s, top, "event", &em))
        return;
    const char *et = m_str(s, &em, "type");
    if (!ev->subtype)
        ev->subtype = et;
    if (!et)
        return;
    if (strcmp(et, "message_start") == 0) {
        pe->parent_tool_use_id = m_str(s, top, "parent_tool_use_id");
        if (m_obj(s, &em, "message", &msg)) {
            pe->message_id = m_str(s, &msg, "id");
            pe->model = m_str(s, &msg, "model");
            read_usage(s, &msg, &pe->usage);
        }
    } else if (strcmp(et, "message_delta") == 0) {
        pe->parent_tool_use_id = m_str(s, top, "parent_tool_use_id");
        read_usage(s, &em, &pe->usage);
    }
}

static void build_result(struct rs_stream *s, const struct members *top, struct rs_stream_event *ev)
{
    struct rs_stream_result *r = &ev->result;
    struct rs_json_span v, el;
    struct rs_json_iter it;
    r->subtype = ev->subtype;
    r->is_error = m_bool(top, "is_error");
    int64_t st;
    if (m_i64(top, "api_error_status", &st)) {
        r->has_api_error_status = true;
        r->api_error_status = (int)st;
    }
    r->has_cost = m_f64(top, "total_cost_usd", &r->total_cost_usd);
    r->num_turns = r->duration_ms = -1;
    m_i64(top, "num_turns", &r->num_turns);
    m_i64(top, "duration_ms", &r->duration_ms);
    r->stop_reason = m_str(s, top, "stop_reason");
    r->terminal_reason = m_str(s, top, "terminal_reason");
    r->session_id = m_str(s, top, "session_id");
    if (find(top, "result", &v) && !rs_json_is_literal(v, "null")) {
        r->has_result = true;
        r->result = str_head(s, v, s->o.result_max, &r->result_len, NULL);
        r->result_bytes = (size_t)(v.e - v.p);
    }
    size_t nd = 0;
    if (find(top, "permission_denials", &v) && rs_json_array_begin(&it, v, &s->ix)) {
        while (rs_json_array_next(&it, &el)) {
            struct members dm;
            if (!rs_json_is_object(el) || !collect(s, el, &dm))
                continue;
            if (nd == RS_STREAM_MAX_ITEMS) {
                r->denials_dropped++;
                continue;
            }
            struct rs_stream_denial *d = vec_slot((void **)&s->denials, &s->capdenials, nd, sizeof(*d));
            nd++;
            d->tool_name = m_str(s, &dm, "tool_name");
            d->tool_use_id = m_str(s, &dm, "tool_use_id");
            struct rs_json_span in;
            d->input_summary = find(&dm, "tool_input", &in) ? summarize(s, d->tool_name, in)
                                                             : (d->tool_name ? d->tool_name : "?");
        }
    }
    r->denials = nd ? s->denials : NULL;
    r->ndenials = nd;
    size_t ne = 0;
    if (find(top, "errors", &v) && rs_json_array_begin(&it, v, &s->ix)) {
        while (rs_json_array_next(&it, &el)) {
            if (!rs_json_is_string(el))
                continue;
            if (ne == RS_STREAM_MAX_ERRORS) {
                r->errors_dropped++;
                continue;
            }
            const char **slot = vec_slot((void **)&s->errors, &s->caperrors, ne, sizeof(*slot));
            *slot = str_head(s, el, ERROR_MAX, NULL, NULL);
            ne++;
        }
    }
    r->errors = ne ? s->errors : NULL;
    r->nerrors = ne;
    read_usage(s, top, &r->usage);
}

/* ---- lines ----------------------------------------------------------------- */

static void emit(struct rs_stream *s, struct rs_stream_event *ev)
{
    s->cb(ev, s->userdata);
}

/* First RS_STREAM_HEAD_MAX bytes of a bad line, with control bytes and invalid UTF-8 as '?'. */
static const char *printable_head(struct rs_stream *s, const char *p, size_t n)
{
    size_t lim = n < RS_STREAM_HEAD_MAX ? n : RS_STREAM_HEAD_MAX;
    char *out = arena_alloc(&s->arena, lim + 1);
    size_t o = 0, i = 0;
    while (i < lim) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80) {
            out[o++] = (c < 0x20 && c != '\t') || c == 0x7F ? '?' : (char)c;
            i++;
            continue;
        }
        size_t k = rs_utf8_seq(p + i, n - i, NULL);
        if (!k) {
            out[o++] = '?';
            i++;
            continue;
        }
        if (i + k > lim)
            break;
        memcpy(out + o, p + i, k);
        o += k;
        i += k;
    }
    out[o] = '\0';
    return out;
}

/* The event of each line type (and system subtype; NULL: any other), in the order they are tried. */
static const struct {
    const char *type, *subtype;
    enum rs_stream_kind kind;
    void (*build)(struct rs_stream *s, const struct members *top, struct rs_stream_event *ev);
} kinds[] = {
    {"system", "init", RS_STREAM_INIT, build_init},
    {"system", "api_retry", RS_STREAM_API_RETRY, build_api_retry},
    {"system", NULL, RS_STREAM_SYSTEM, build_system},
    {"assistant", NULL, RS_STREAM_ASSISTANT, build_assistant},
    {"user", NULL, RS_STREAM_USER, build_user},
    {"result", NULL, RS_STREAM_RESULT, build_result},
    {"rate_limit_event", NULL, RS_STREAM_RATE_LIMIT, build_rate_limit},
    {"stream_event", NULL, RS_STREAM_PARTIAL, build_partial},
};

static void process_line(struct rs_stream *s, const char *p, size_t n)
{
    s->st.lines++;
    if (n > s->st.longest_line)
        s->st.longest_line = n;
    if (n && p[n - 1] == '\r')
        n--;
    const char *e = p + n;
    const char *q = rs_json_skip_ws(p, e);
    if (q == e) {
        s->st.empty_lines++;
        return;
    }
    struct rs_stream_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.line_no = s->st.lines;
    ev.line_bytes = n;

    /* Pass 1: validate, record top-level members. */
    struct rs_json_scan v;
    rs_json_scan_init(&v, 0, 0);
    v.index = &s->ix;
    rs_json_index_reset(&s->ix);
    struct members top;
    top.n = 0;
    if (*q != '{') {
        const char *r = rs_json_scan_value(&v, q, e);
        if (r && rs_json_skip_ws(r, e) == e) {
            v.err = RS_JSON_E_NOT_OBJECT;
            v.err_at = q;
        } else if (r) {
            v.err = RS_JSON_E_TRAILING;
            v.err_at = rs_json_skip_ws(r, e);
        }
        goto bad;
    }
    struct rs_json_members it;
    struct rs_json_span key, val;
    int r;
    rs_json_scan_object(&v, &it, q, e);
    while ((r = rs_json_scan_member(&it, &key, &val)) > 0) {
        if (top.n < MAX_MEMBERS) {
            struct member *m = &top.m[top.n++];
            set_key(s, m, key);
            m->v = val;
        }
    }
    if (r < 0)
        goto bad;
    if (rs_json_skip_ws(it.p, e) != e) {
        v.err = RS_JSON_E_TRAILING;
        v.err_at = rs_json_skip_ws(it.p, e);
        goto bad;
    }

    /* Pass 2: build the event. */
    s->st.json_events++;
    ev.type = m_str(s, &top, "type");
    ev.subtype = m_str(s, &top, "subtype");
    ev.kind = RS_STREAM_OTHER;
    for (size_t i = 0; i < RS_ARRAY_SIZE(kinds); i++) {
        if (ev.type && strcmp(ev.type, kinds[i].type) == 0 &&
            (!kinds[i].subtype || (ev.subtype && strcmp(ev.subtype, kinds[i].subtype) == 0))) {
            ev.kind = kinds[i].kind;
            kinds[i].build(s, &top, &ev);
            break;
        }
    }
    emit(s, &ev);
    goto out;

bad:
    s->st.non_json++;
    ev.kind = RS_STREAM_BAD_LINE;
    {
        char *reason = arena_alloc(&s->arena, 160);
        /* The line's own words for two errors: it is one line of one object. */
        const char *why = v.err == RS_JSON_E_END        ? "unexpected end of line"
                          : v.err == RS_JSON_E_TRAILING && *q == '{' ? "trailing characters after the JSON object"
                                                                      : rs_json_strerror(v.err);
        snprintf(reason, 160, "invalid JSON at byte %zu: %s", (size_t)((v.err_at ? v.err_at : e) - p), why);
        ev.bad.reason = reason;
    }
    ev.bad.head = printable_head(s, p, n);
    emit(s, &ev);
out:
    clear_markers(s);
    arena_reset(&s->arena);
    vec_trim((void **)&s->blocks, &s->capblocks);
    vec_trim((void **)&s->results, &s->capresults);
    vec_trim((void **)&s->denials, &s->capdenials);
    vec_trim((void **)&s->errors, &s->caperrors);
    rs_json_index_reset(&s->ix);
}

static void report_oversize(struct rs_stream *s, size_t n)
{
    s->st.lines++;
    s->st.oversize++;
    if (n > s->st.longest_line)
        s->st.longest_line = n;
    struct rs_stream_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = RS_STREAM_OVERSIZE;
    ev.line_no = s->st.lines;
    ev.line_bytes = n;
    emit(s, &ev);
}

static void buf_release(struct rs_stream *s)
{
    s->len = 0;
    if (s->cap > LINE_KEEP_CAP) {
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
    }
}

static void buf_append(struct rs_stream *s, const char *p, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n)
            cap *= 2;
        if (cap > s->o.max_line_bytes)
            cap = s->o.max_line_bytes;
        s->buf = rs_xrealloc(s->buf, cap);
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

int rs_stream_feed(struct rs_stream *s, const void *data, size_t len)
{
    if (s->finished)
        return -EINVAL;
    const char *p = data, *end = p + len;
    s->st.bytes += len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t take = (size_t)((nl ? nl : end) - p);
        if (s->skipping) {
            s->skip_len += take;
            if (!nl)
                return 0;
            s->skipping = false;
            report_oversize(s, s->skip_len);
            s->skip_len = 0;
        } else if (s->len + take > s->o.max_line_bytes) {
            /* Too long: drop what was kept and discard until the newline. */
            size_t n = s->len + take;
            buf_release(s);
            if (!nl) {
                s->skipping = true;
                s->skip_len = n;
                return 0;
            }
            report_oversize(s, n);
        } else if (s->len == 0 && nl) {
            /* The common case: a whole line inside this chunk, parsed in place. */
            process_line(s, p, take);
        } else {
            buf_append(s, p, take);
            if (!nl)
                return 0;
            process_line(s, s->buf, s->len);
            buf_release(s);
        }
        p = nl + 1;
    }
    return 0;
}

int rs_stream_finish(struct rs_stream *s)
{
    if (s->finished)
        return s->st.truncated_tail ? 1 : 0;
    s->finished = true;
    if (s->skipping) {
        /* An oversize partial last line: report both facts. */
        s->st.truncated_tail = s->skip_len;
        struct rs_stream_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = RS_STREAM_TRUNCATED;
        ev.line_no = s->st.lines + 1;
        ev.line_bytes = s->skip_len;
        emit(s, &ev);
        s->skipping = false;
        report_oversize(s, s->skip_len);
        return 1;
    }
    if (s->len == 0)
        return 0;
    s->st.truncated_tail = s->len;
    struct rs_stream_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = RS_STREAM_TRUNCATED;
    ev.line_no = s->st.lines + 1;
    ev.line_bytes = s->len;
    emit(s, &ev);
    process_line(s, s->buf, s->len);
    buf_release(s);
    return 1;
}
