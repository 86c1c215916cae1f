/* SPDX-License-Identifier: MIT */
/*
 * The audit's decisions (see include/ralphsup/core/evidence.h and
 * docs/audit.md): text normalisation, quote and surname matching, the URL
 * and address rules. A page is only ever compared in its normalised form,
 * so "Be&nbsp;The  Match", "be the match" and "BE THE\nMATCH" are one text,
 * and a quote the agent copied with straight quotes still matches a page
 * set with curly ones. Pure: no I/O, no clock, no global state.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ralphsup/core/evidence.h"
#include "ralphsup/base/utf8.h"

static const char *const result_names[RS_EVIDENCE_NRESULTS] = {
    "verified", "quote-not-found", "name-not-found", "unreachable", "no-evidence",
};

const char *rs_evidence_result_name(enum rs_evidence_result r)
{
    return (unsigned)r < RS_EVIDENCE_NRESULTS ? result_names[r] : "unknown";
}

int rs_evidence_result_parse(const char *s)
{
    if (!s)
        return -1;
    size_t n = strcspn(s, " ");
    for (int i = 0; i < RS_EVIDENCE_NRESULTS; i++)
        if (strlen(result_names[i]) == n && strncmp(s, result_names[i], n) == 0 &&
            (s[n] == '\0' || (i == RS_EVIDENCE_UNREACHABLE && strncmp(s + n, " (", 2) == 0)))
            return i;
    return -1;
}

/* ---- entities ------------------------------------------------------------- */

static const struct {
    const char *name;
    uint32_t cp;
} entities[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},        {"quot", '"'},      {"apos", '\''},
    {"nbsp", 0xA0},     {"shy", 0xAD},      {"ndash", 0x2013},  {"mdash", 0x2014},  {"lsquo", 0x2018},
    {"rsquo", 0x2019},  {"sbquo", 0x201A},  {"ldquo", 0x201C},  {"rdquo", 0x201D},  {"bdquo", 0x201E},
    {"hellip", 0x2026}, {"copy", 0xA9},     {"reg", 0xAE},      {"trade", 0x2122},  {"zwj", 0x200D},
    {"zwnj", 0x200C},   {"thinsp", 0x2009}, {"ensp", 0x2002},   {"emsp", 0x2003},   {"aacute", 0xE1},
    {"eacute", 0xE9},   {"iacute", 0xED},   {"oacute", 0xF3},   {"uacute", 0xFA},   {"agrave", 0xE0},
    {"egrave", 0xE8},   {"ntilde", 0xF1},   {"ccedil", 0xE7},   {"auml", 0xE4},     {"ouml", 0xF6},
    {"uuml", 0xFC},     {"Eacute", 0xC9},   {"Ntilde", 0xD1},   {"szlig", 0xDF},    {"middot", 0xB7},
};

/* A character reference at @s (@n bytes, s[0] == '&'): its length and *cp, or 0. */
static size_t entity(const char *s, size_t n, uint32_t *cp)
{
    size_t end = 1;
    while (end < n && end < 12 && s[end] != ';')
        end++;
    if (end >= n || s[end] != ';' || end < 2)
        return 0;
    if (s[1] == '#') {
        uint32_t v = 0;
        size_t i = 2;
        bool hex = i < end && (s[i] == 'x' || s[i] == 'X');
        if (hex)
            i++;
        if (i == end)
            return 0;
        for (; i < end; i++) {
            char c = s[i];
            int d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F')
                d = c - 'A' + 10;
            else
                return 0;
            v = v * (hex ? 16 : 10) + (uint32_t)d;
            if (v > 0x10FFFF)
                return 0;
        }
        *cp = v ? v : 0xFFFD;
        return end + 1;
    }
    for (size_t k = 0; k < RS_ARRAY_SIZE(entities); k++) {
        size_t l = strlen(entities[k].name);
        if (l == end - 1 && memcmp(s + 1, entities[k].name, l) == 0) {
            *cp = entities[k].cp;
            return end + 1;
        }
    }
    return 0;
}

/* ---- normalisation ----------------------------------------------------------- */

static bool is_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static bool is_invisible(uint32_t c)
{
    return c == 0xAD || (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF || c < 0x09 ||
           (c > 0x0D && c < 0x20) || c == 0x7F;
}

static uint32_t lower(uint32_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c < 0xC0)
        return c;
    if (c <= 0xDE && c != 0xD7)
        return c + 32;
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return (c & 1) ? c + 1 : c;
    if (c == 0x178)
        return 0xFF;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
        return c + 32;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    return c;
}

/* Typographic marks folded to their ASCII form; NULL when @c has none. */
static const char *fold(uint32_t c)
{
    switch (c) {
    case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032: case 0x02BC:
        return "'";
    case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033: case 0xAB: case 0xBB:
        return "\"";
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2212:
        return "-";
    case 0x2026:
        return "...";
    }
    return NULL;
}

void rs_evidence_normalize(const char *s, size_t len, bool ents, struct rs_buf *out)
{
    size_t start = out->len;
    bool pending_space = false;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t k = 0;
        if (ents && s[i] == '&')
            k = entity(s + i, len - i, &cp);
        if (!k) {
            k = rs_utf8_decode(s + i, len - i, &cp);
            if (!k) {
                rs_utf8_seq(s + i, len - i, &k);
                cp = 0xFFFD;
            }
        }
        i += k;
        if (is_space(cp)) {
            pending_space = out->len > start;
            continue;
        }
        if (is_invisible(cp))
            continue;
        if (pending_space) {
            rs_buf_putc(out, ' ');
            pending_space = false;
        }
        const char *f = fold(cp);
        if (f) {
            rs_buf_puts(out, f);
            continue;
        }
        char t[4];
        rs_buf_append(out, t, rs_utf8_encode(lower(cp), t));
    }
    rs_buf_cstr(out);
}

/* ---- matching -------------------------------------------------------------------- */

static bool word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static bool is_suffix(const char *w, size_t n)
{
    static const char *const sfx[] = {"jr", "sr", "ii", "iii", "iv", "v", "phd", "md", "esq"};
    char t[8];
    size_t m = 0;
    for (size_t i = 0; i < n && m < sizeof t - 1; i++)
        if (w[i] != '.')
            t[m++] = w[i];
    t[m] = '\0';
    if (m == 0)
        return true;
    for (size_t i = 0; i < RS_ARRAY_SIZE(sfx); i++)
        if (strcmp(t, sfx[i]) == 0)
            return true;
    return false;
}

char *rs_evidence_surname(const char *name)
{
    struct rs_buf b;
    rs_buf_init(&b);
    rs_evidence_normalize(name ? name : "", name ? strlen(name) : 0, true, &b);
    char *s = rs_buf_steal(&b);
    if (!s)
        return rs_xstrdup("");
    /* "Doe, Jane": the surname comes first (unless what follows the comma is a suffix). */
    char *comma = strchr(s, ',');
    while (comma) {
        char *rest = comma + 1;
        while (*rest == ' ')
            rest++;
        size_t wl = strcspn(rest, " ,");
        if (*rest && !is_suffix(rest, wl)) {
            *comma = '\0';
            break;
        }
        /* A suffix after the comma: drop ", Jr." and look again. */
        memmove(comma, rest + wl, strlen(rest + wl) + 1);
        comma = strchr(s, ',');
    }
    /* The last word that is not a suffix, a nickname or punctuation. */
    const char *best = NULL;
    size_t bestlen = 0;
    char *p = s;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *w = p;
        while (*p && *p != ' ')
            p++;
        size_t wl = (size_t)(p - w);
        while (wl && (w[wl - 1] == '.' || w[wl - 1] == ','))
            wl--;
        if (wl == 0 || w[0] == '(' || w[0] == '"' || w[0] == '\'' || is_suffix(w, wl))
            continue;
        bool any = false;
        for (size_t i = 0; i < wl && !any; i++)
            any = word_byte((unsigned char)w[i]);
        if (!any)
            continue;
        best = w;
        bestlen = wl;
    }
    char *r = best ? rs_xstrndup(best, bestlen) : rs_xstrdup("");
    free(s);
    return r;
}

/* First occurrence of @n bytes of @needle in @hay at or after @from, or NULL. */
static const char *find(const char *hay, size_t len, size_t from, const char *needle, size_t n)
{
    if (n == 0 || from > len || len - from < n)
        return NULL;
    return memmem(hay + from, len - from, needle, n);
}

static bool has_word(const char *text, size_t len, const char *w, size_t n)
{
    size_t from = 0;
    const char *p;
    while ((p = find(text, len, from, w, n))) {
        size_t at = (size_t)(p - text);
        bool left = at == 0 || !word_byte((unsigned char)text[at - 1]);
        bool right = at + n == len || !word_byte((unsigned char)text[at + n]);
        if (left && right)
            return true;
        from = at + 1;
    }
    return false;
}

/* Each part of @q (normalised) between "..." occurs in @text, in order; false when @q has no part. */
static bool has_quote(const char *text, size_t len, const char *q)
{
    size_t from = 0;
    bool any = false;
    while (*q) {
        const char *e = strstr(q, "...");
        size_t n = e ? (size_t)(e - q) : strlen(q);
        const char *a = q, *z = q + n;
        /* Trim the spaces and the quotation marks the agent may have put around it. */
        while (a < z && (*a == ' ' || *a == '"'))
            a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '"'))
            z--;
        if (z > a) {
            const char *p = find(text, len, from, a, (size_t)(z - a));
            if (!p)
                return false;
            from = (size_t)(p - text) + (size_t)(z - a);
            any = true;
        }
        q += n;
        while (*q == '.')
            q++;
    }
    return any;
}

enum rs_evidence_result rs_evidence_match(const char *text, size_t len, const char *quote, const char *coach)
{
    struct rs_buf q;
    rs_buf_init(&q);
    rs_evidence_normalize(quote ? quote : "", quote ? strlen(quote) : 0, true, &q);
    const char *qs = rs_buf_cstr(&q);
    size_t alnum = 0;
    for (const char *p = qs; *p; p++)
        alnum += word_byte((unsigned char)*p);
    enum rs_evidence_result r;
    if (alnum == 0) {
        r = RS_EVIDENCE_NO_EVIDENCE;
    } else if (!has_quote(text, len, qs)) {
        r = RS_EVIDENCE_QUOTE_NOT_FOUND;
    } else {
        char *sur = rs_evidence_surname(coach);
        r = *sur && has_word(text, len, sur, strlen(sur)) ? RS_EVIDENCE_VERIFIED : RS_EVIDENCE_NAME_NOT_FOUND;
        free(sur);
    }
    rs_buf_deinit(&q);
    return r;
}

/* ---- URLs and addresses -------------------------------------------------------- */

bool rs_evidence_url_ok(const char *url)
{
    if (!url)
        return false;
    size_t skip;
    if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p == 0x7F)
            return false;
    const char *host = url + skip;
    return *host && *host != '/' && *host != '?' && *host != '#' && *host != ':';
}

static bool v4_private(const unsigned char *a)
{
    unsigned b0 = a[0], b1 = a[1], b2 = a[2];
    return b0 == 0 || b0 == 10 || b0 == 127 || (b0 == 100 && (b1 & 0xC0) == 64) || (b0 == 169 && b1 == 254) ||
           (b0 == 172 && (b1 & 0xF0) == 16) || (b0 == 192 && b1 == 168) || (b0 == 192 && b1 == 0 && b2 == 0) ||
           (b0 == 198 && (b1 & 0xFE) == 18) || b0 >= 224;
}

bool rs_evidence_addr_private(int family, const unsigned char *a)
{
    if (family == 4)
        return v4_private(a);
    if (family != 6)
        return true;
    static const unsigned char zero[16], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF},
                                         nat64[12] = {0x00, 0x64, 0xFF, 0x9B};
    if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
        return true; /* :: and ::1 */
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_private(a + 12);
    if (memcmp(a, zero, 12) == 0)
        return true; /* IPv4-compatible (deprecated) */
    return (a[0] & 0xFE) == 0xFC || (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) || a[0] == 0xFF ||
           (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0); /* ULA, link-local, multicast, site-local */
}
