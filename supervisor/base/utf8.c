/* SPDX-License-Identifier: MIT */
/*
 * UTF-8: validate, clean (U+FFFD for each maximal ill-formed subpart,
 * counted), cut at a character boundary with "…". The one implementation;
 * see include/ralphsup/base/utf8.h for the rules.
 */
#include "ralphsup/base/utf8.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

size_t rs_utf8_seq(const void *ptr, size_t n, size_t *bad)
{
    const unsigned char *p = ptr;
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        if (bad)
            *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned char d = p[i];
        if (i == 1 ? (d < lo || d > hi) : (d & 0xC0) != 0x80)
            break;
    }
    if (i == need)
        return need;
    if (bad)
        *bad = i;
    return 0;
}

size_t rs_utf8_decode(const void *ptr, size_t n, uint32_t *cp)
{
    const unsigned char *p = ptr;
    size_t k = rs_utf8_seq(p, n, NULL);
    if (k == 0)
        return 0;
    uint32_t v = k == 1 ? p[0] : (uint32_t)(p[0] & (0x7F >> k));
    for (size_t i = 1; i < k; i++)
        v = v << 6 | (p[i] & 0x3F);
    *cp = v;
    return k;
}

size_t rs_utf8_encode(uint32_t cp, char out[4])
{
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        cp = 0xFFFD;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool rs_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = rs_utf8_seq(s + i, len - i, NULL);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

size_t rs_utf8_incomplete(const char *s, size_t len)
{
    /* The last lead byte within 3 bytes of the end. */
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned char c = (unsigned char)s[len - back];
        if ((c & 0xC0) == 0x80)
            continue;
        if (c < 0xC2 || c > 0xF4)
            return 0;
        size_t bad = 0;
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (back >= need || rs_utf8_seq(s + len - back, back, &bad) != 0)
            return 0;
        return bad == back ? back : 0; /* every byte so far fits */
    }
    return 0;
}

size_t rs_utf8_boundary(const char *s, size_t len, size_t max)
{
    if (max >= len)
        return len;
    size_t k = max;
    /* Back over continuation bytes (at most 3) to the start of the character. */
    while (k > 0 && max - k < 3 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    if (((unsigned char)s[k] & 0xC0) == 0x80)
        return max; /* not UTF-8 here: nothing to keep whole */
    return k;
}

size_t rs_utf8_put_clean(struct rs_buf *b, const char *s, size_t len)
{
    size_t replaced = 0, i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && (unsigned char)s[j] < 0x80)
            j++;
        size_t bad = 0;
        size_t k = j < len ? rs_utf8_seq(s + j, len - j, &bad) : 0;
        if (k) {
            rs_buf_append(b, s + i, j + k - i);
            i = j + k;
            continue;
        }
        if (j > i)
            rs_buf_append(b, s + i, j - i);
        if (j < len) {
            rs_buf_puts(b, RS_UTF8_REPLACEMENT);
            replaced++;
            j += bad;
        }
        i = j;
    }
    return replaced;
}

size_t rs_utf8_cut(char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t k = rs_utf8_boundary(s, len, max - 3);
    memcpy(s + k, RS_UTF8_ELLIPSIS, 3);
    s[k + 3] = '\0';
    return k + 3;
}

char *rs_utf8_clean(const char *s, size_t len, size_t max, size_t *replaced, size_t *out_len)
{
    struct rs_buf b;
    rs_buf_init(&b);
    /*
     * Only what can survive the cut is cleaned (bounded work on outside
     * input): cleaning never shortens text, so max + 1 bytes of @s clean to
     * more than max; taken up to a character boundary, nothing is split here.
     */
    size_t take = max && len > max + 4 ? rs_utf8_boundary(s, len, max + 4) : len;
    size_t r = rs_utf8_put_clean(&b, s, take);
    rs_buf_cstr(&b);
    size_t n = b.len;
    if (max && n > max)
        n = rs_utf8_cut(b.data, n, max);
    if (replaced)
        *replaced = r;
    if (out_len)
        *out_len = n;
    b.len = n;
    return rs_buf_steal(&b);
}

char *rs_utf8_clean_str(const char *s, size_t max)
{
    return s ? rs_utf8_clean(s, strlen(s), max, NULL, NULL) : NULL;
}

size_t rs_utf8_copy(char *dst, size_t cap, const char *s, size_t len)
{
    size_t r = 0, n = 0;
    char *c = rs_utf8_clean(s, len, cap - 1, &r, &n);
    memcpy(dst, c, n + 1);
    free(c);
    return r;
}

size_t rs_utf8_printf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = rs_xvasprintf(fmt, ap);
    va_end(ap);
    rs_utf8_copy(dst, cap, s, strlen(s));
    free(s);
    return strlen(dst);
}
