/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for json.c, the one JSON scanner: validation (both strictness
 * levels) with the byte of each error, member iteration, the span walks,
 * unescaping (surrogate pairs, lone surrogates, cuts at a character
 * boundary), numbers, positions and the tolerant splitter. Documents of
 * 64+ bytes go through the 64-byte block code, shorter ones through the
 * byte loop: the tables hold both.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/common.h"
#include "ralphsup/base/json.h"

/* Validate @doc whole: RS_JSON_OK or the error, with its byte in *@at. */
static enum rs_json_err check(const char *doc, unsigned flags, size_t *at)
{
    struct rs_json_scan v;
    rs_json_scan_init(&v, flags, 0);
    const char *e = doc + strlen(doc);
    const char *r = rs_json_scan_value(&v, doc, e);
    if (r && rs_json_skip_ws(r, e) != e) {
        v.err = RS_JSON_E_TRAILING;
        v.err_at = rs_json_skip_ws(r, e);
    }
    if (at)
        *at = v.err ? (size_t)(v.err_at - doc) : 0;
    return r && !v.err ? RS_JSON_OK : v.err;
}

static char *repeat(const char *head, char c, size_t n, const char *tail)
{
    size_t h = strlen(head), t = strlen(tail);
    char *s = malloc(h + n + t + 1);
    memcpy(s, head, h);
    memset(s + h, c, n);
    memcpy(s + h + n, tail, t + 1);
    return s;
}

#define PAD "                                                                  " /* 66 blanks */

Test(json, valid_documents)
{
    const char *ok[] = {
        "{}", "[]", "0", "-0", "1.5e-3", "-12.25E+7", "true", "false", "null", "\"\"", " {\"a\" : [1, {\"b\":null}] } ",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"", "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"",
        "{\"k\":\"" PAD "\\\\\\\\\\\"" PAD "\"}", /* escaped backslashes and quotes across 64-byte blocks */
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(ok); i++) {
        size_t at;
        cr_expect_eq(check(ok[i], 0, &at), RS_JSON_OK, "lenient %zu: %s (err at %zu)", i, ok[i], at);
        cr_expect_eq(check(ok[i], RS_JSON_JANSSON, &at), RS_JSON_OK, "strict %zu: %s (err at %zu)", i, ok[i], at);
    }
}

Test(json, invalid_documents_with_the_byte_of_the_error)
{
    struct {
        const char *doc;
        enum rs_json_err err;
        size_t at;
    } cases[] = {
        {"", RS_JSON_E_END, 0},
        {"{\"a\":", RS_JSON_E_END, 5},
        {"[1,2", RS_JSON_E_END, 4},
        {"hello", RS_JSON_E_CHAR, 0},
        {"{\"a\":tru}", RS_JSON_E_LITERAL, 5},
        {"{\"a\":-}", RS_JSON_E_NUMBER, 6},
        {"[1.]", RS_JSON_E_NUMBER, 3},
        {"[1e+]", RS_JSON_E_NUMBER, 4},
        {"[01]", RS_JSON_E_ARRAY_NEXT, 2},
        {"{\"a\" 1}", RS_JSON_E_COLON, 5},
        {"{\"a\":1 \"b\":2}", RS_JSON_E_OBJECT_NEXT, 7},
        {"{1:2}", RS_JSON_E_KEY, 1},
        {"{\"a\":1,}", RS_JSON_E_KEY, 7},
        {"[1,]", RS_JSON_E_CHAR, 3},
        {"\"a\\x\"", RS_JSON_E_ESCAPE, 2},
        {"\"\\u12G4\"", RS_JSON_E_UESCAPE, 1},
        {"\"tab\there\"", RS_JSON_E_CONTROL, 4},
        {"\"open", RS_JSON_E_UNTERMINATED, 5},
        {"{} x", RS_JSON_E_TRAILING, 3},
        /* the same errors inside a 64-byte block */
        {"[\"" PAD "\\q\"]", RS_JSON_E_ESCAPE, 68},
        {"[\"" PAD "\x01\"]", RS_JSON_E_CONTROL, 68},
        {"[\"" PAD "\\u00\"]", RS_JSON_E_UESCAPE, 68},
        {"[\"" PAD PAD, RS_JSON_E_UNTERMINATED, 134},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        size_t at = 0;
        enum rs_json_err err = check(cases[i].doc, 0, &at);
        cr_expect_eq(err, cases[i].err, "case %zu (%s): got %s", i, cases[i].doc, rs_json_strerror(err));
        cr_expect_eq(at, cases[i].at, "case %zu (%s): at %zu, want %zu", i, cases[i].doc, at, cases[i].at);
    }
    cr_expect_str_eq(rs_json_strerror(RS_JSON_E_OBJECT_NEXT), "expected ',' or '}'");
}

Test(json, strictness_flags)
{
    struct {
        const char *doc;
        enum rs_json_err strict; /* with RS_JSON_JANSSON; every one passes without flags */
        size_t at;
    } cases[] = {
        {"\"\\uD83D\"", RS_JSON_E_SURROGATE, 1},         /* high surrogate alone */
        {"\"\\uDE00\"", RS_JSON_E_SURROGATE, 1},         /* low surrogate alone */
        {"\"\\uD83Dx\\uDE00\"", RS_JSON_E_SURROGATE, 1}, /* not adjacent */
        {"\"\\\\uD83D\\uDE00\"", RS_JSON_E_SURROGATE, 8}, /* the first is text: "\\" then "uD83D" */
        {"[\"" PAD "\\uDE00\"]", RS_JSON_E_SURROGATE, 68},
        {"\"\xC3\"", RS_JSON_E_UTF8, 1},
        {"\"ok \xED\xA0\x80\"", RS_JSON_E_UTF8, 4},      /* an encoded surrogate */
        {"\"\xC0\xAF\"", RS_JSON_E_UTF8, 1},             /* overlong */
        {"[\"" PAD "\xFF\"]", RS_JSON_E_UTF8, 68},
        {"{\"a\\u0000\":1}", RS_JSON_E_NUL_KEY, 3},
        {"[{\"\\u0000\":1}]", RS_JSON_E_NUL_KEY, 3},
        {"9223372036854775808", RS_JSON_E_RANGE, 0},
        {"[-9223372036854775809]", RS_JSON_E_RANGE, 1},
        {"1e400", RS_JSON_E_RANGE, 0},
        {"-1e400", RS_JSON_E_RANGE, 0},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        size_t at = 0;
        cr_expect_eq(check(cases[i].doc, 0, NULL), RS_JSON_OK, "lenient %zu: %s", i, cases[i].doc);
        enum rs_json_err err = check(cases[i].doc, RS_JSON_JANSSON, &at);
        cr_expect_eq(err, cases[i].strict, "strict %zu (%s): got %s", i, cases[i].doc, rs_json_strerror(err));
        cr_expect_eq(at, cases[i].at, "strict %zu (%s): at %zu, want %zu", i, cases[i].doc, at, cases[i].at);
    }
    /* The edges that still pass: a \u0000 in a value, the int64 limits, a huge but finite real. */
    const char *ok[] = {"{\"a\":\"\\u0000\"}", "9223372036854775807", "-9223372036854775808", "1e308", "1e-400",
                        "\"\\\\\\uD83D\\uDE00\""};
    for (size_t i = 0; i < RS_ARRAY_SIZE(ok); i++)
        cr_expect_eq(check(ok[i], RS_JSON_JANSSON, NULL), RS_JSON_OK, "strict ok %zu: %s", i, ok[i]);
}

Test(json, nesting_bound)
{
    char *deep = repeat("", '[', RS_JSON_MAX_DEPTH, "");
    char *doc = malloc(2 * RS_JSON_MAX_DEPTH + 2);
    memcpy(doc, deep, RS_JSON_MAX_DEPTH);
    memset(doc + RS_JSON_MAX_DEPTH, ']', RS_JSON_MAX_DEPTH);
    doc[2 * RS_JSON_MAX_DEPTH] = '\0';
    cr_expect_eq(check(doc, 0, NULL), RS_JSON_OK, "exactly the bound");
    free(doc);
    char *over = repeat(deep, '[', 1, "]");
    size_t at;
    cr_expect_eq(check(over, 0, &at), RS_JSON_E_DEPTH);
    cr_expect_eq(at, RS_JSON_MAX_DEPTH);
    /* A smaller bound of the caller's. */
    struct rs_json_scan v;
    rs_json_scan_init(&v, 0, 3);
    const char *three = "[[[1]]]", *four = "[[[[1]]]]";
    cr_expect_not_null(rs_json_scan_value(&v, three, three + strlen(three)));
    cr_expect_null(rs_json_scan_value(&v, four, four + strlen(four)));
    cr_expect_eq(v.err, RS_JSON_E_DEPTH);
    cr_expect_eq(v.err_at, four + 3);
    free(over);
    free(deep);
}

Test(json, members_one_by_one)
{
    const char *doc = " { \"type\" : \"x\", \"n\":[1,{\"a\":2}], \"e\\u00e9\":null } ";
    const char *e = doc + strlen(doc);
    struct rs_json_scan v;
    struct rs_json_members it;
    struct rs_json_span k, val;
    rs_json_scan_init(&v, 0, 0);
    cr_assert(rs_json_scan_object(&v, &it, doc, e));
    const char *want[][2] = {{"\"type\"", "\"x\""}, {"\"n\"", "[1,{\"a\":2}]"}, {"\"e\\u00e9\"", "null"}};
    for (size_t i = 0; i < RS_ARRAY_SIZE(want); i++) {
        cr_assert_eq(rs_json_scan_member(&it, &k, &val), 1, "member %zu", i);
        cr_expect_eq((size_t)(k.e - k.p), strlen(want[i][0]));
        cr_expect_eq(memcmp(k.p, want[i][0], strlen(want[i][0])), 0, "key %zu", i);
        cr_expect_eq((size_t)(val.e - val.p), strlen(want[i][1]), "value %zu", i);
        cr_expect_eq(memcmp(val.p, want[i][1], strlen(want[i][1])), 0, "value %zu", i);
    }
    cr_expect_eq(rs_json_scan_member(&it, &k, &val), 0);
    cr_expect_eq(rs_json_skip_ws(it.p, e), e);

    const char *bad = "{\"a\":1,\"b\" 2}";
    rs_json_scan_init(&v, 0, 0);
    cr_assert(rs_json_scan_object(&v, &it, bad, bad + strlen(bad)));
    cr_expect_eq(rs_json_scan_member(&it, &k, &val), 1);
    cr_expect_eq(rs_json_scan_member(&it, &k, &val), -1);
    cr_expect_eq(v.err, RS_JSON_E_COLON);
    cr_expect_eq(v.err_at - bad, 11);
    const char *arr = "[1]";
    cr_expect_not(rs_json_scan_object(&v, &it, arr, arr + 3));
    cr_expect_eq(v.err, RS_JSON_E_NOT_OBJECT);
}

Test(json, walks_of_validated_text_and_the_index)
{
    /* A long string (over RS_JSON_LONG_STRING) holding brackets, quotes and escapes. */
    char *body = repeat("", 'x', 3 * RS_JSON_LONG_STRING, "");
    memcpy(body + 10, "[{\\\"}]\\\\", 8);
    size_t n = strlen(body) + 64;
    char *doc = malloc(n);
    snprintf(doc, n, "{\"big\":\"%s\",\"arr\":[true, \"s\", {\"k\":[]}, -1.5],\"z\":7}", body);
    const char *e = doc + strlen(doc);
    for (int with_index = 0; with_index < 2; with_index++) {
        struct rs_json_index ix = {0};
        struct rs_json_scan v;
        rs_json_scan_init(&v, 0, 0);
        v.index = with_index ? &ix : NULL;
        cr_assert_not_null(rs_json_scan_value(&v, doc, e));
        cr_expect_eq(ix.n, with_index ? 1u : 0u);
        struct rs_json_iter it, ai;
        struct rs_json_span k, val, el;
        cr_assert(rs_json_object_begin(&it, (struct rs_json_span){doc, e}, &ix));
        cr_assert(rs_json_object_next(&it, &k, &val));
        cr_expect(rs_json_is_string(val));
        cr_expect_eq((size_t)(val.e - val.p), strlen(body) + 2);
        cr_assert(rs_json_object_next(&it, &k, &val));
        cr_assert(rs_json_array_begin(&ai, val, &ix));
        const char *els[] = {"true", "\"s\"", "{\"k\":[]}", "-1.5"};
        for (size_t i = 0; i < RS_ARRAY_SIZE(els); i++) {
            cr_assert(rs_json_array_next(&ai, &el));
            cr_expect_eq((size_t)(el.e - el.p), strlen(els[i]), "element %zu", i);
            cr_expect_eq(memcmp(el.p, els[i], strlen(els[i])), 0, "element %zu", i);
        }
        cr_expect_not(rs_json_array_next(&ai, &el));
        cr_assert(rs_json_object_next(&it, &k, &val));
        int64_t z;
        cr_expect(rs_json_i64(val, &z));
        cr_expect_eq(z, 7);
        cr_expect_not(rs_json_object_next(&it, &k, &val));
        cr_expect_not(rs_json_array_begin(&ai, (struct rs_json_span){doc, e}, &ix));
        rs_json_index_deinit(&ix);
    }
    free(doc);
    free(body);
}

static size_t unescape(const char *tok, size_t cap, char *out, bool *cut)
{
    return rs_json_unescape((struct rs_json_span){tok, tok + strlen(tok)}, out, cap, cut);
}

Test(json, unescape_and_surrogates)
{
    struct {
        const char *tok, *want;
    } cases[] = {
        {"\"plain\"", "plain"},
        {"\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d"},
        {"\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t"},
        {"\"\\u00e9\\u2026\"", "\xC3\xA9\xE2\x80\xA6"},
        {"\"\\uD83D\\uDE00!\"", "\xF0\x9F\x98\x80!"},   /* a pair: one character */
        {"\"\\ud83d\\ude00\"", "\xF0\x9F\x98\x80"},     /* lower-case hex */
        {"\"\\uD83Dx\"", "\xEF\xBF\xBDx"},              /* lone high: U+FFFD */
        {"\"\\uDE00\"", "\xEF\xBF\xBD"},                /* lone low: U+FFFD */
        {"\"\\uD83D\\u0041\"", "\xEF\xBF\xBD" "A"},     /* high then no low */
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        char out[64];
        bool cut = true;
        size_t n = unescape(cases[i].tok, sizeof out, out, &cut);
        cr_expect_eq(n, strlen(cases[i].want), "case %zu: length %zu", i, n);
        cr_expect_eq(memcmp(out, cases[i].want, n), 0, "case %zu", i);
        cr_expect_not(cut, "case %zu", i);
    }
    /* A cut never splits a character: not a raw one, not an escaped one. */
    char out[16];
    bool cut = false;
    cr_expect_eq(unescape("\"ab\xC3\xA9\"", 3, out, &cut), 2);
    cr_expect(cut);
    cr_expect_eq(unescape("\"ab\\u2026\"", 4, out, &cut), 2);
    cr_expect(cut);
    cr_expect_eq(unescape("\"ab\\uD83D\\uDE00\"", 5, out, &cut), 2);
    cr_expect(cut);
    cr_expect_eq(unescape("\"abc\"", 3, out, &cut), 3);
    cr_expect_not(cut, "exactly full is not cut");
    cr_expect_eq(unescape("\"abcd\"", 3, out, &cut), 3);
    cr_expect(cut);
}

Test(json, huge_strings)
{
    /* 8 MiB of text with an escape every 1000 bytes: validated, skipped, decoded. */
    size_t n = (size_t)8 << 20;
    char *doc = malloc(n + 16);
    size_t o = 0;
    doc[o++] = '"';
    while (o < n) {
        if (o % 1000 == 999) {
            memcpy(doc + o, "\\n", 2);
            o += 2;
        } else {
            doc[o] = (char)('a' + o % 26);
            o++;
        }
    }
    doc[o++] = '"';
    const char *e = doc + o;
    struct rs_json_scan v;
    rs_json_scan_init(&v, RS_JSON_JANSSON, 0);
    cr_assert_eq(rs_json_scan_value(&v, doc, e), e);
    cr_expect_eq(rs_json_skip(doc, e, NULL), e);
    char *out = malloc(n);
    bool cut = true;
    size_t len = rs_json_unescape((struct rs_json_span){doc, e}, out, n, &cut);
    cr_expect_not(cut);
    cr_expect_lt(len, o - 2, "escapes decode shorter");
    cr_expect_eq(out[998], '\n'); /* the first escape is at doc[999], body byte 998 */
    len = rs_json_unescape((struct rs_json_span){doc, e}, out, 1000, &cut);
    cr_expect(cut);
    cr_expect_eq(len, 1000);
    /* One line of it, as the marker search reads it. */
    cr_expect_eq(rs_json_unescape_line(doc + 1, e - 1, out, n), 998);
    free(out);
    free(doc);
}

Test(json, numbers)
{
    struct {
        const char *s;
        bool ok;
        int64_t i;
        double d;
    } cases[] = {
        {"0", true, 0, 0}, {"-17", true, -17, -17}, {"12.75", true, 12, 12.75}, {"1e3", true, 1000, 1000},
        {"9223372036854775807", true, INT64_MAX, 9.223372036854775807e18}, {"\"7\"", false, 0, 0},
        {"true", false, 0, 0},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        struct rs_json_span v = {cases[i].s, cases[i].s + strlen(cases[i].s)};
        int64_t x = 0;
        double d = 0;
        cr_expect_eq(rs_json_i64(v, &x), cases[i].ok, "case %zu", i);
        cr_expect_eq(rs_json_f64(v, &d), cases[i].ok, "case %zu", i);
        if (cases[i].ok) {
            cr_expect_eq(x, cases[i].i, "case %zu", i);
            cr_expect_float_eq(d, cases[i].d, 1e-9 * (d < 0 ? -d : d + 1), "case %zu", i);
        }
    }
    int64_t x;
    const char *big = "1e30";
    cr_expect_not(rs_json_i64((struct rs_json_span){big, big + 4}, &x), "out of int64");
}

Test(json, positions_count_characters)
{
    const char *doc = "{\n  \"caf\xC3\xA9\": 1,\r\n\t\"x\xF0\x9F\x98\x80y\": 2\n}";
    struct rs_json_cursor c;
    rs_json_cursor_init(&c, doc, strlen(doc));
    const char *at1 = strstr(doc, "1"), *at2 = strstr(doc, "2"), *y = strstr(doc, "y");
    struct rs_json_pos p = rs_json_cursor_at(&c, (size_t)(at1 - doc));
    cr_expect(p.line == 2 && p.col == 11, "got %d:%d", p.line, p.col);
    p = rs_json_cursor_at(&c, (size_t)(y - doc));
    cr_expect(p.line == 3 && p.col == 5, "got %d:%d", p.line, p.col);
    p = rs_json_cursor_at(&c, (size_t)(at2 - doc));
    cr_expect(p.line == 3 && p.col == 9, "got %d:%d", p.line, p.col);
    p = rs_json_cursor_at(&c, 0); /* backwards: starts over */
    cr_expect(p.line == 1 && p.col == 1);
}

Test(json, tolerant_split)
{
    /* Element 1 has an unterminated string, element 2 lost its comma, element 4 is empty. */
    const char *doc = "[\n"
                      "  {\"a\": 1},\n"
                      "  {\"b\": \"open},\n"
                      "  {\"c\": 3}\n"
                      "  {\"d\": 4},\n"
                      "  ,\n"
                      "  {\"e\": \"\\\"]\"}\n"
                      "]\n";
    struct rs_json_cursor c;
    rs_json_cursor_init(&c, doc, strlen(doc));
    struct rs_json_pieces out = {0};
    size_t close;
    cr_assert(rs_json_split(&c, 0, &out, &close));
    cr_expect_eq(doc[close], ']');
    cr_expect_eq(close, strlen(doc) - 2);
    const char *want[] = {"{\"a\": 1}", "{\"b\": \"open},", "{\"c\": 3}", "{\"d\": 4}", "", "{\"e\": \"\\\"]\"}"};
    int lines[] = {2, 3, 4, 5, 6, 7};
    bool no_comma[] = {false, false, false, true, false, false};
    cr_assert_eq(out.n, RS_ARRAY_SIZE(want), "got %zu pieces", out.n);
    for (size_t i = 0; i < out.n; i++) {
        size_t len = out.v[i].end - out.v[i].start;
        cr_expect_eq(len, strlen(want[i]), "piece %zu: %.*s", i, (int)len, doc + out.v[i].start);
        cr_expect_eq(memcmp(doc + out.v[i].start, want[i], len), 0, "piece %zu", i);
        cr_expect_eq(out.v[i].pos.line, lines[i], "piece %zu line %d", i, out.v[i].pos.line);
        cr_expect_eq(out.v[i].no_comma, no_comma[i], "piece %zu", i);
    }
    free(out.v);
    /* Unterminated: every element so far, and false. */
    const char *open = "[1, 2";
    rs_json_cursor_init(&c, open, strlen(open));
    struct rs_json_pieces o2 = {0};
    cr_expect_not(rs_json_split(&c, 0, &o2, &close));
    cr_expect_eq(o2.n, 2u);
    cr_expect_eq(close, strlen(open));
    free(o2.v);
    cr_expect_eq(rs_json_tolerant_string_end("\"ab\ncd\"", 7, 0), 3u, "a raw newline ends a string");
}
