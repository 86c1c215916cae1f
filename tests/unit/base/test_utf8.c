/* SPDX-License-Identifier: MIT */
/* Unit tests for utf8.c: validation, U+FFFD replacement (counted), cuts at a character boundary. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/utf8.h"

#define FFFD RS_UTF8_REPLACEMENT

Test(utf8, valid)
{
    struct { const char *s; size_t n; bool ok; } cases[] = {
        {"", 0, true}, {"plain", 5, true}, {"\xC3\xA9", 2, true}, {"\xE2\x80\xA6", 3, true},
        {"\xF0\x9F\x98\x80", 4, true}, {"\xF4\x8F\xBF\xBF", 4, true}, {"a\0b", 3, true},
        {"\xC3", 1, false}, {"\xFF", 1, false}, {"\xC0\xAF", 2, false},     /* overlong "/" */
        {"\xE0\x80\xAF", 3, false}, {"\xED\xA0\x80", 3, false},             /* overlong, surrogate */
        {"\xF4\x90\x80\x80", 4, false}, {"\xF0\x8F\xBF\xBF", 4, false},     /* > U+10FFFF, overlong */
        {"\x80", 1, false}, {"\xC3\xA9\xC3", 3, false},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++)
        cr_expect_eq(rs_utf8_valid(cases[i].s, cases[i].n), cases[i].ok, "case %zu", i);
}

Test(utf8, decode_encode_round_trip)
{
    uint32_t cps[] = {0x41, 0xE9, 0x7FF, 0x800, 0x2026, 0xFFFD, 0x10000, 0x1F600, 0x10FFFF};
    for (size_t i = 0; i < RS_ARRAY_SIZE(cps); i++) {
        char b[4];
        size_t n = rs_utf8_encode(cps[i], b);
        uint32_t cp = 0;
        cr_expect_eq(rs_utf8_decode(b, n, &cp), n, "U+%04X", (unsigned)cps[i]);
        cr_expect_eq(cp, cps[i]);
    }
    char b[4];
    cr_expect_eq(rs_utf8_encode(0xD800, b), 3);
    cr_expect_eq(memcmp(b, FFFD, 3), 0, "a surrogate is written as U+FFFD");
    uint32_t cp = 7;
    cr_expect_eq(rs_utf8_decode("\xED\xA0\x80", 3, &cp), 0);
}

/* rs_utf8_clean() with no cap: the text and the count of U+FFFD. */
static void expect_clean(const char *in, size_t n, const char *want, size_t want_replaced)
{
    size_t r = 99, len = 0;
    char *c = rs_utf8_clean(in, n, 0, &r, &len);
    cr_expect_str_eq(c, want);
    cr_expect_eq(len, strlen(want));
    cr_expect_eq(r, want_replaced, "%s: %zu replaced", want, r);
    cr_expect(rs_utf8_valid(c, len));
    free(c);
}

Test(utf8, clean_replaces_each_maximal_subpart)
{
    expect_clean("ünïcödé", strlen("ünïcödé"), "ünïcödé", 0);
    expect_clean("bad \xFF here", 10, "bad " FFFD " here", 1);
    /* Unicode 3.9 / WHATWG: a truncated sequence is one U+FFFD, a bad lead and its tail one each. */
    expect_clean("caf\xE9 x", 6, "caf" FFFD " x", 1);
    expect_clean("\xE2\x80 end", 6, FFFD " end", 1);
    expect_clean("\xC0\xAF", 2, FFFD FFFD, 2);
    expect_clean("\xED\xA0\x80", 3, FFFD FFFD FFFD, 3);
    expect_clean("\xF0\x9F\x98", 3, FFFD, 1);
    expect_clean("ok\xC3", 3, "ok" FFFD, 1);
}

Test(utf8, clean_keeps_nul_bytes)
{
    size_t len = 0;
    char *c = rs_utf8_clean("a\0b\xFF", 4, 0, NULL, &len);
    cr_expect_eq(len, 6);
    cr_expect_eq(memcmp(c, "a\0b" FFFD, 6), 0);
    free(c);
}

Test(utf8, cut_at_a_boundary_with_ellipsis)
{
    /* 600 bytes of "é" cut at 11: 4 × "é" (8 bytes) + "…" (3); never half an "é". */
    char in[600];
    for (size_t i = 0; i < sizeof in; i += 2)
        memcpy(in + i, "\xC3\xA9", 2);
    for (size_t max = 4; max <= 40; max++) {
        size_t len = 0;
        char *c = rs_utf8_clean(in, sizeof in, max, NULL, &len);
        cr_expect_leq(len, max);
        cr_expect_geq(len, max - 1, "at most one byte lost to the boundary (max %zu)", max);
        cr_expect(rs_utf8_valid(c, len), "max %zu", max);
        cr_expect_eq(memcmp(c + len - 3, RS_UTF8_ELLIPSIS, 3), 0);
        cr_expect_eq(strlen(c), len);
        free(c);
    }
    size_t len = 0;
    char *c = rs_utf8_clean(in, sizeof in, RS_TEXT_MAX, NULL, &len);
    cr_expect_eq(len, sizeof in, "text within the cap is kept whole");
    cr_expect_eq(memcmp(c, in, sizeof in), 0);
    free(c);
    /* Exactly max bytes: not cut. */
    c = rs_utf8_clean(in, 10, 10, NULL, &len);
    cr_expect_eq(len, 10);
    cr_expect_eq(memcmp(c, in, 10), 0);
    free(c);
}

Test(utf8, cut_of_long_invalid_text_is_bounded_and_valid)
{
    size_t n = 100 * 1024;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = i % 3 ? (char)0xC3 : 'x'; /* truncated sequences throughout */
    size_t len = 0, r = 0;
    char *c = rs_utf8_clean(in, n, RS_TEXT_MAX, &r, &len);
    cr_expect_leq(len, RS_TEXT_MAX);
    cr_expect_gt(r, 0);
    cr_expect(rs_utf8_valid(c, len));
    cr_expect_eq(memcmp(c + len - 3, RS_UTF8_ELLIPSIS, 3), 0);
    free(c);
    free(in);
}

Test(utf8, copy_into_a_fixed_buffer)
{
    char dst[16];
    size_t r = rs_utf8_copy(dst, sizeof dst, "éééééééééééé\xFF", 25);
    cr_expect_eq(r, 0, "the bad byte lies past what can be kept: not looked at");
    cr_expect_leq(strlen(dst), sizeof dst - 1);
    cr_expect(rs_utf8_valid(dst, strlen(dst)));
    cr_expect_str_eq(dst, "éééééé" RS_UTF8_ELLIPSIS);
    r = rs_utf8_copy(dst, sizeof dst, "a\xFF", 2);
    cr_expect_eq(r, 1);
    cr_expect_str_eq(dst, "a" FFFD);
}

Test(utf8, boundary_and_incomplete_tail)
{
    const char *s = "a\xC3\xA9\xE2\x80\xA6"; /* a é … */
    cr_expect_eq(rs_utf8_boundary(s, 6, 0), 0);
    cr_expect_eq(rs_utf8_boundary(s, 6, 1), 1);
    cr_expect_eq(rs_utf8_boundary(s, 6, 2), 1);
    cr_expect_eq(rs_utf8_boundary(s, 6, 3), 3);
    cr_expect_eq(rs_utf8_boundary(s, 6, 4), 3);
    cr_expect_eq(rs_utf8_boundary(s, 6, 5), 3);
    cr_expect_eq(rs_utf8_boundary(s, 6, 6), 6);
    cr_expect_eq(rs_utf8_boundary(s, 6, 60), 6);
    cr_expect_eq(rs_utf8_incomplete(s, 6), 0);
    cr_expect_eq(rs_utf8_incomplete(s, 5), 2);
    cr_expect_eq(rs_utf8_incomplete(s, 4), 1);
    cr_expect_eq(rs_utf8_incomplete(s, 2), 1);
    cr_expect_eq(rs_utf8_incomplete(s, 3), 0);
    cr_expect_eq(rs_utf8_incomplete("\xE0\x80", 2), 0, "ill-formed already: nothing to wait for");
    cr_expect_eq(rs_utf8_incomplete("\xFF", 1), 0);
    cr_expect_eq(rs_utf8_incomplete("\xF0\x9F\x98", 3), 3);
}

Test(utf8, clean_str_null)
{
    cr_expect_null(rs_utf8_clean_str(NULL, 10));
    char *c = rs_utf8_clean_str("x", 10);
    cr_expect_str_eq(c, "x");
    free(c);
}
