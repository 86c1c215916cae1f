/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the JSON scanner (base/json.c), differentially against
 * jansson, the reference the progress loader relies on ("whatever the
 * scanner passes with RS_JSON_JANSSON, jansson parses").
 *
 * For every input:
 *  - accept/reject: rs_json_scan_value() with RS_JSON_JANSSON plus "only
 *    blanks after it" accepts exactly when json_loadb(JSON_DECODE_ANY |
 *    JSON_ALLOW_NUL) does, the progress loader's flags. One documented
 *    difference: the scanner's nesting bound (RS_JSON_MAX_DEPTH, 1024) is
 *    below jansson's (2048), so a refusal for depth alone is allowed;
 *  - same values: on accepted text, a walk with the span readers
 *    (rs_json_object_*, rs_json_array_*, rs_json_unescape, rs_json_i64 /
 *    _f64) matches jansson's tree: kinds, member names (last duplicate
 *    wins, as in jansson), decoded strings byte for byte, integers exactly,
 *    reals bit for bit;
 *  - the laxer flag sets accept whatever a stricter one accepts, an error
 *    position lies inside the input, rs_json_skip() with the long-string
 *    index ends where validation ended, bounded decoding is a prefix cut at
 *    a character boundary, and the tolerant splitter stays inside the text.
 */
#include <jansson.h>
#include <math.h>

#include "fuzz.h"
#include "ralphsup/base/json.h"
#include "ralphsup/base/utf8.h"

/* Decoded string @s (validated token): heap copy, length in *@n. */
static char *decode(struct rs_json_span s, size_t *n)
{
    size_t cap = (size_t)(s.e - s.p) + 4;
    char *out = malloc(cap);
    bool cut = false;
    *n = rs_json_unescape(s, out, cap, &cut);
    FUZZ_CHECK(!cut, "a decoded string is never longer than its token");
    return out;
}

static const char *kind_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    }
    return "?";
}

static void same(struct rs_json_span v, const json_t *j, const struct rs_json_index *ix)
{
    FUZZ_CHECK(v.p < v.e, "empty span for jansson %s", kind_name(j));
    struct rs_json_iter it;
    switch (*v.p) {
    case '{': {
        FUZZ_CHECK(json_is_object(j), "scanner object, jansson %s", kind_name(j));
        FUZZ_CHECK(rs_json_object_begin(&it, v, ix), "object_begin");
        size_t n = 0, cap = 8, distinct = 0;
        struct rs_json_span *keys = malloc(cap * sizeof *keys), *vals = malloc(cap * sizeof *vals);
        struct rs_json_span k, val;
        while (rs_json_object_next(&it, &k, &val)) {
            if (n == cap) {
                cap *= 2;
                keys = realloc(keys, cap * sizeof *keys);
                vals = realloc(vals, cap * sizeof *vals);
            }
            keys[n] = k;
            vals[n++] = val;
        }
        char **dk = malloc(n * sizeof *dk + 1);
        size_t *dn = malloc(n * sizeof *dn + 1);
        for (size_t i = 0; i < n; i++) {
            dk[i] = decode(keys[i], &dn[i]);
            FUZZ_CHECK(memchr(dk[i], '\0', dn[i]) == NULL, "a member name with NUL passed RS_JSON_NUL_KEYS");
        }
        for (size_t i = 0; i < n; i++) {
            bool last = true;
            for (size_t m = i + 1; m < n && last; m++)
                last = !(dn[m] == dn[i] && memcmp(dk[m], dk[i], dn[i]) == 0);
            if (!last)
                continue;
            distinct++;
            const json_t *jv = json_object_getn(j, dk[i], dn[i]);
            FUZZ_CHECK(jv != NULL, "member \"%.*s\" missing in jansson", (int)dn[i], dk[i]);
            same(vals[i], jv, ix);
        }
        FUZZ_CHECK(distinct == json_object_size(j), "%zu distinct members, jansson %zu", distinct,
                   json_object_size(j));
        for (size_t i = 0; i < n; i++)
            free(dk[i]);
        free(dk);
        free(dn);
        free(keys);
        free(vals);
        break;
    }
    case '[': {
        FUZZ_CHECK(json_is_array(j), "scanner array, jansson %s", kind_name(j));
        FUZZ_CHECK(rs_json_array_begin(&it, v, ix), "array_begin");
        struct rs_json_span el;
        size_t i = 0;
        while (rs_json_array_next(&it, &el)) {
            FUZZ_CHECK(i < json_array_size(j), "more elements than jansson's %zu", json_array_size(j));
            same(el, json_array_get(j, i), ix);
            i++;
        }
        FUZZ_CHECK(i == json_array_size(j), "%zu elements, jansson %zu", i, json_array_size(j));
        break;
    }
    case '"': {
        FUZZ_CHECK(json_is_string(j), "scanner string, jansson %s", kind_name(j));
        size_t n;
        char *s = decode(v, &n);
        FUZZ_CHECK(n == json_string_length(j) && memcmp(s, json_string_value(j), n) == 0,
                   "string decoded as %zu bytes, jansson %zu", n, json_string_length(j));
        FUZZ_CHECK(rs_utf8_valid(s, n), "decoded string not UTF-8 under RS_JSON_UTF8");
        free(s);
        break;
    }
    case 't':
    case 'f':
    case 'n': {
        const char *lit = *v.p == 't' ? "true" : *v.p == 'f' ? "false" : "null";
        FUZZ_CHECK(rs_json_is_literal(v, lit), "literal");
        FUZZ_CHECK(!strcmp(kind_name(j), lit), "scanner %s, jansson %s", lit, kind_name(j));
        break;
    }
    default: {
        double d;
        FUZZ_CHECK(rs_json_f64(v, &d), "number \"%.*s\" not read as a double", (int)(v.e - v.p), v.p);
        if (json_is_integer(j)) {
            int64_t i;
            FUZZ_CHECK(rs_json_i64(v, &i), "integer \"%.*s\" not read as int64", (int)(v.e - v.p), v.p);
            FUZZ_CHECK(i == (int64_t)json_integer_value(j), "integer %lld, jansson %lld", (long long)i,
                       (long long)json_integer_value(j));
        } else {
            FUZZ_CHECK(json_is_real(j), "scanner number, jansson %s", kind_name(j));
            double r = json_real_value(j);
            FUZZ_CHECK(memcmp(&d, &r, sizeof d) == 0, "real \"%.*s\" = %.17g, jansson %.17g", (int)(v.e - v.p),
                       v.p, d, r);
        }
        break;
    }
    }
}

/* Validate the whole input with @flags: true when it is one value and blanks. */
static bool accepts(const char *p, const char *e, unsigned flags, struct rs_json_index *ix, struct rs_json_scan *v,
                    const char **end)
{
    rs_json_scan_init(v, flags, 0);
    v->index = ix;
    const char *q = rs_json_scan_value(v, p, e);
    if (!q) {
        FUZZ_CHECK(v->err != RS_JSON_OK && v->err_at >= p && v->err_at <= e, "error %d outside the input",
                   (int)v->err);
        FUZZ_CHECK(strlen(rs_json_strerror(v->err)) > 0, "no error text");
        return false;
    }
    FUZZ_CHECK(q > p && q <= e, "value end outside the input");
    *end = q;
    return rs_json_skip_ws(q, e) == e;
}

/* Bounded decoding of every string of validated text: a prefix, cut at a character boundary. */
static void bounded(struct rs_json_span v, const struct rs_json_index *ix, uint64_t *seed)
{
    struct rs_json_iter it;
    struct rs_json_span k, el;
    if (rs_json_object_begin(&it, v, ix)) {
        while (rs_json_object_next(&it, &k, &el)) {
            bounded(k, ix, seed);
            bounded(el, ix, seed);
        }
    } else if (rs_json_array_begin(&it, v, ix)) {
        while (rs_json_array_next(&it, &el))
            bounded(el, ix, seed);
    } else if (rs_json_is_string(v)) {
        FUZZ_CHECK(rs_json_skip_string(v.p + 1, v.e, ix) == v.e, "skip_string end");
        size_t full_n;
        char *full = decode(v, &full_n);
        size_t cap = (size_t)(fuzz_next(seed) % (full_n + 2));
        char *out = malloc(cap + 1);
        bool cut = false;
        size_t n = rs_json_unescape(v, out, cap, &cut);
        FUZZ_CHECK(n <= cap && n <= full_n && memcmp(out, full, n) == 0, "bounded decode is not a prefix");
        FUZZ_CHECK(cut == (n < full_n), "truncated flag %d with %zu of %zu bytes", cut, n, full_n);
        if (rs_utf8_valid(full, full_n))
            FUZZ_CHECK(rs_utf8_valid(out, n), "bounded decode split a character");
        free(out);
        /* Line by line: each piece a prefix of what is left, a line ending at a decoded '\n'. */
        size_t lcap = 1 + (size_t)(fuzz_next(seed) % 64);
        char *line = malloc(lcap + 4);
        size_t got = rs_json_unescape_line(v.p + 1, v.e - 1, line, lcap);
        FUZZ_CHECK(got <= full_n && memcmp(line, full, got) == 0, "unescape_line is not a prefix");
        free(line);
        free(full);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *e = p + size;
    uint64_t seed = fuzz_hash(data, size);
    struct rs_json_index ix = {0};
    struct rs_json_scan v;
    const char *end = NULL;

    /* Strictness is monotonic: each flag alone accepts what all of them accept. */
    bool strict = accepts(p, e, RS_JSON_JANSSON, &ix, &v, &end);
    enum rs_json_err strict_err = strict ? RS_JSON_OK : v.err;
    static const unsigned laxer[] = {0, RS_JSON_UTF8, RS_JSON_SURROGATES, RS_JSON_RANGE, RS_JSON_NUL_KEYS};
    for (size_t i = 0; i < sizeof laxer / sizeof laxer[0]; i++) {
        struct rs_json_index lix = {0};
        struct rs_json_scan lv;
        const char *lend = NULL;
        bool ok = accepts(p, e, laxer[i], &lix, &lv, &lend);
        if (strict)
            FUZZ_CHECK(ok && lend == end, "flags %#x refuse (%s) what RS_JSON_JANSSON accepts", laxer[i],
                       rs_json_strerror(lv.err));
        if (ok || lend) {
            /*
             * The walk of validated text ends where validation did, with or
             * without the index (on the validated part: "true{" is "true"
             * then junk only to the validator).
             */
            FUZZ_CHECK(rs_json_skip(p, lend, &lix) == lend, "skip with index, flags %#x", laxer[i]);
            FUZZ_CHECK(rs_json_skip(p, lend, NULL) == lend, "skip without index, flags %#x", laxer[i]);
            if (laxer[i] == 0) {
                struct rs_json_span whole = {rs_json_skip_ws(p, lend), lend};
                bounded(whole, &lix, &seed);
            }
        }
        rs_json_index_deinit(&lix);
    }

    /* The reference. */
    json_error_t je;
    json_t *j = json_loadb(p, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (strict) {
        FUZZ_CHECK(j != NULL, "scanner accepts, jansson refuses: %s (line %d col %d)", je.text, je.line,
                   je.column);
        struct rs_json_span whole = {rs_json_skip_ws(p, end), end};
        same(whole, j, &ix);
    } else if (j && strict_err != RS_JSON_E_DEPTH) {
        /*
         * jansson 2.14 quirk (regress/json/nul-after-*): one NUL byte right
         * after a number or a literal is skipped ("[1\0]" and "true\0" load;
         * its lexer's unget of the NUL re-reads the byte after it). The
         * scanner refuses the NUL, as JSON says (the progress loader then
         * falls back to jansson, which loads the file). So: without those
         * NULs, the scanner must accept the text and read jansson's values.
         */
        char *t = malloc(size + 1);
        size_t n = 0;
        for (size_t i = 0; i < size; i++)
            if (!(p[i] == '\0' && i > 0 && ((p[i - 1] >= '0' && p[i - 1] <= '9') || p[i - 1] == 'e' || p[i - 1] == 'l')))
                t[n++] = p[i];
        FUZZ_CHECK(n < size, "scanner refuses (%s at byte %zu), jansson accepts",
                   strict_err ? rs_json_strerror(strict_err) : "trailing bytes",
                   strict_err ? (size_t)(v.err_at - p) : (size_t)(end - p));
        const char *tend = NULL;
        struct rs_json_index tix = {0};
        bool tok = accepts(t, t + n, RS_JSON_JANSSON, &tix, &v, &tend);
        FUZZ_CHECK(tok, "without the NULs after scalars the scanner still refuses: %s", rs_json_strerror(v.err));
        same((struct rs_json_span){rs_json_skip_ws(t, tend), tend}, j, &tix);
        rs_json_index_deinit(&tix);
        free(t);
    } else {
        FUZZ_CHECK(j == NULL || strict_err == RS_JSON_E_DEPTH, "scanner refuses (%s at byte %zu), jansson accepts",
                   strict_err ? rs_json_strerror(strict_err) : "trailing bytes",
                   strict_err ? (size_t)(v.err_at - p) : (size_t)(end - p));
    }
    json_decref(j);
    rs_json_index_reset(&ix);
    rs_json_index_deinit(&ix);

    /* The tolerant splitter on whatever container the text starts with, broken or not. */
    const char *q = rs_json_skip_ws(p, e);
    if (q < e && (*q == '[' || *q == '{')) {
        struct rs_json_cursor c;
        rs_json_cursor_init(&c, p, size);
        struct rs_json_pieces pieces = {0};
        size_t close = 0;
        rs_json_split(&c, (size_t)(q - p), &pieces, &close);
        FUZZ_CHECK(close <= size, "close %zu past %zu", close, size);
        for (size_t i = 0; i < pieces.n; i++)
            FUZZ_CHECK(pieces.v[i].start <= pieces.v[i].end && pieces.v[i].end <= size, "piece %zu outside", i);
        free(pieces.v);
        /* Positions ascend with the offsets. */
        struct rs_json_cursor c2;
        rs_json_cursor_init(&c2, p, size);
        struct rs_json_pos last = {0, 0};
        for (size_t off = 0; off <= size; off += 1 + (size_t)(fuzz_next(&seed) % 32)) {
            struct rs_json_pos pos = rs_json_cursor_at(&c2, off);
            FUZZ_CHECK(pos.line > last.line || (pos.line == last.line && pos.col >= last.col),
                       "position went back at %zu", off);
            last = pos;
        }
    }
    return 0;
}
