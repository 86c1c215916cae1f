/* SPDX-License-Identifier: MIT */
/*
 * The one JSON scanner (see include/ralphsup/base/json.h for the contract).
 *
 * The validator is non-recursive: containers are kept on a byte stack of
 * RS_JSON_DEPTH_CAP entries. Strings are checked in 64-byte blocks: one
 * pass makes the masks of quotes, backslashes and control bytes; escaped
 * characters come from the backslash mask by carry arithmetic (see
 * escaped_bits()), so only escapes are visited one by one. The walks of
 * validated text trust what they read (they never fail, they stop at the
 * end) and use the long-string index to jump over big strings.
 *
 * Pure code: no I/O, no global state, no allocation except the index (and
 * the copy of a number longer than 63 bytes).
 */
#include "ralphsup/base/json.h"

#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ralphsup/base/common.h"
#include "ralphsup/base/utf8.h"

/* ---- small helpers --------------------------------------------------------- */

static const char *const err_text[] = {
    [RS_JSON_OK] = "no error",
    [RS_JSON_E_END] = "unexpected end of input",
    [RS_JSON_E_CHAR] = "unexpected character",
    [RS_JSON_E_LITERAL] = "invalid literal",
    [RS_JSON_E_NUMBER] = "invalid number",
    [RS_JSON_E_RANGE] = "number out of range",
    [RS_JSON_E_ESCAPE] = "invalid escape in string",
    [RS_JSON_E_UESCAPE] = "invalid \\u escape",
    [RS_JSON_E_SURROGATE] = "lone surrogate in \\u escape",
    [RS_JSON_E_CONTROL] = "control character in string",
    [RS_JSON_E_UTF8] = "invalid UTF-8 in string",
    [RS_JSON_E_UNTERMINATED] = "unterminated string",
    [RS_JSON_E_KEY] = "expected a string key",
    [RS_JSON_E_COLON] = "expected ':'",
    [RS_JSON_E_OBJECT_NEXT] = "expected ',' or '}'",
    [RS_JSON_E_ARRAY_NEXT] = "expected ',' or ']'",
    [RS_JSON_E_DEPTH] = "nesting too deep",
    [RS_JSON_E_NUL_KEY] = "\\u0000 in a member name",
    [RS_JSON_E_NOT_OBJECT] = "not a JSON object",
    [RS_JSON_E_TRAILING] = "trailing characters after the JSON value",
};

const char *rs_json_strerror(enum rs_json_err err)
{
    return (size_t)err < sizeof err_text / sizeof err_text[0] ? err_text[err] : "syntax error";
}

void rs_json_scan_init(struct rs_json_scan *v, unsigned flags, unsigned max_depth)
{
    memset(v, 0, sizeof(*v));
    v->flags = flags;
    v->max_depth = max_depth && max_depth <= RS_JSON_DEPTH_CAP ? max_depth : RS_JSON_MAX_DEPTH;
}

static const char *fail(struct rs_json_scan *v, const char *at, enum rs_json_err err)
{
    v->err = err;
    v->err_at = at;
    return NULL;
}

const char *rs_json_skip_ws(const char *p, const char *e)
{
    while (p < e && rs_json_is_ws(*p))
        p++;
    return p;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits at @p into *@out; false when there are not 4. */
static bool hex4(const char *p, const char *e, unsigned *out)
{
    if (e - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return false;
        v = (v << 4) | (unsigned)h;
    }
    *out = v;
    return true;
}

/* ---- the index of long strings -------------------------------------------- */

static void index_add(struct rs_json_index *ix, const char *start, const char *end)
{
    if (ix->n == RS_JSON_INDEX_MAX)
        return;
    ix->v = rs_xgrow(ix->v, ix->n, &ix->cap, sizeof(*ix->v), 16);
    ix->v[ix->n++] = (struct rs_json_span){start, end};
}

/* End (after the quote) of the long string whose body starts at @start, or NULL. */
static const char *index_find(const struct rs_json_index *ix, const char *start)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->v[mid].p < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->n && ix->v[lo].p == start ? ix->v[lo].e : NULL;
}

void rs_json_index_reset(struct rs_json_index *ix)
{
    ix->n = 0;
    if (ix->cap > 4096)
        rs_json_index_deinit(ix);
}

void rs_json_index_deinit(struct rs_json_index *ix)
{
    free(ix->v);
    memset(ix, 0, sizeof(*ix));
}

/* ---- 32- and 64-byte blocks --------------------------------------------------- */

#if defined(__SSE2__)
/* Bit i set when p[i] (0 <= i < 32) is '"' or '\\' (or, when @ctrl, below 0x20). */
static inline unsigned special_mask32(const char *p, bool ctrl)
{
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    const __m128i c1f = _mm_set1_epi8(0x1F);
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i ma = _mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(a, bslash));
    __m128i mb = _mm_or_si128(_mm_cmpeq_epi8(b, quote), _mm_cmpeq_epi8(b, bslash));
    if (ctrl) {
        /* x <= 0x1F  <=>  max(x, 0x1F) == 0x1F (unsigned) */
        ma = _mm_or_si128(ma, _mm_cmpeq_epi8(_mm_max_epu8(a, c1f), c1f));
        mb = _mm_or_si128(mb, _mm_cmpeq_epi8(_mm_max_epu8(b, c1f), c1f));
    }
    return (unsigned)_mm_movemask_epi8(ma) | ((unsigned)_mm_movemask_epi8(mb) << 16);
}
#endif

const char *rs_json_find_special(const char *p, const char *e, bool ctrl)
{
#if defined(__SSE2__)
    while (e - p >= 32) {
        unsigned mask = special_mask32(p, ctrl);
        if (mask)
            return p + __builtin_ctz(mask);
        p += 32;
    }
#endif
    for (; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || (ctrl && c < 0x20))
            return p;
    }
    return e;
}

/*
 * blk_masks() sets bit i of *q / *b / *c when p[i] is a quote / a backslash
 * / a control byte (c may be NULL), and of *v / *u (may be NULL) when it is
 * a character that may follow a backslash / a 'u'.
 */
static inline void blk_masks(const char *p, uint64_t *q, uint64_t *b, uint64_t *c, uint64_t *v, uint64_t *u)
{
    uint64_t mq = 0, mb = 0, mc = 0, mv = 0, mu = 0;
    for (int i = 0; i < 4; i++) {
#if defined(__SSE2__)
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        mq |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('"'))) << (16 * i);
        mb |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))) << (16 * i);
        if (c) {
            const __m128i c1f = _mm_set1_epi8(0x1F);
            mc |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f)) << (16 * i);
        }
        if (v) {
            /* The other characters that may follow a backslash: / b f n r t u. */
            __m128i xu = _mm_cmpeq_epi8(x, _mm_set1_epi8('u'));
            __m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('/')), _mm_cmpeq_epi8(x, _mm_set1_epi8('b')));
            m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('f')), _mm_cmpeq_epi8(x, _mm_set1_epi8('n'))));
            m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('r')), _mm_cmpeq_epi8(x, _mm_set1_epi8('t'))));
            mv |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(m, xu)) << (16 * i);
            mu |= (uint64_t)(unsigned)_mm_movemask_epi8(xu) << (16 * i);
        }
#else
        for (int j = 16 * i; j < 16 * i + 16; j++) {
            unsigned char ch = (unsigned char)p[j];
            mq |= (uint64_t)(ch == '"') << j;
            mb |= (uint64_t)(ch == '\\') << j;
            mc |= (uint64_t)(ch < 0x20) << j;
            mv |= (uint64_t)(ch == '/' || ch == 'b' || ch == 'f' || ch == 'n' || ch == 'r' || ch == 't' || ch == 'u') << j;
            mu |= (uint64_t)(ch == 'u') << j;
        }
#endif
    }
    *q = mq;
    *b = mb;
    if (c)
        *c = mc;
    if (v) {
        *v = mv | mq | mb;
        *u = mu;
    }
}

/*
 * The mask of escaped characters from the backslash mask @b: the byte after
 * a run of backslashes is escaped when the run has odd length. Adding a
 * run's start bit to the mask carries through the run and lands just after
 * it; the landing bit's parity, compared with the start's, gives the run's
 * parity. *@carry says that the previous block ended inside an odd run (so
 * byte 0 is escaped) and is updated for the next block.
 */
static inline uint64_t escaped_bits(uint64_t b, bool *carry)
{
    const uint64_t even = UINT64_C(0x5555555555555555), odd = ~even;
    uint64_t esc = 0;
    if (*carry) {
        b &= ~UINT64_C(1); /* byte 0 is escaped, even if it is a backslash */
        esc = 1;
    }
    uint64_t starts = b & ~(b << 1);
    uint64_t ends_even = (b + (starts & even)) & ~b;
    uint64_t sum_odd;
    *carry = __builtin_add_overflow(b, starts & odd, &sum_odd);
    uint64_t ends_odd = sum_odd & ~b;
    return esc | (ends_even & odd) | (ends_odd & even);
}

/* ---- validation: strings ------------------------------------------------------- */

/* What each escape letter stands for ('u' apart); 0: not an escape. */
static const char unescaped[256] = {
    ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

/* The byte before @p (a 'u' after its backslash) starts a real escape: an odd run of backslashes. */
static bool real_escape_before(const char *start, const char *p)
{
    size_t run = 0;
    for (const char *q = p - 1; q >= start && *q == '\\'; q--)
        run++;
    return run & 1;
}

/*
 * Check the escaped character at @p (after its backslash) of the string body
 * starting at @start. Lone surrogates pass unless RS_JSON_SURROGATES.
 */
static bool check_escape(struct rs_json_scan *v, const char *start, const char *p, const char *e, bool key)
{
    unsigned cp, lo;
    if (*p != 'u' && !unescaped[(unsigned char)*p]) {
        fail(v, p - 1, RS_JSON_E_ESCAPE);
        return false;
    }
    if (*p != 'u')
        return true;
    if (!hex4(p + 1, e, &cp)) {
        fail(v, p - 1, RS_JSON_E_UESCAPE);
        return false;
    }
    if (key && cp == 0 && (v->flags & RS_JSON_NUL_KEYS)) {
        fail(v, p - 1, RS_JSON_E_NUL_KEY);
        return false;
    }
    if (!(v->flags & RS_JSON_SURROGATES))
        return true;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (!(e - p >= 11 && p[5] == '\\' && p[6] == 'u' && hex4(p + 7, e, &lo) && lo >= 0xDC00 && lo <= 0xDFFF)) {
            fail(v, p - 1, RS_JSON_E_SURROGATE);
            return false;
        }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        /* Only as the second half of a pair: "\uD8xx" right before this escape. */
        const char *h = p - 7;
        if (!(h >= start && h[0] == '\\' && h[1] == 'u' && hex4(h + 2, e, &lo) && lo >= 0xD800 && lo <= 0xDBFF &&
              real_escape_before(start, h + 1))) {
            fail(v, p - 1, RS_JSON_E_SURROGATE);
            return false;
        }
    }
    return true;
}

/* The closing quote is at @end - 1: the checks that need the whole body, and the index. */
static const char *string_end(struct rs_json_scan *v, const char *start, const char *end)
{
    if (v->flags & RS_JSON_UTF8) {
        const char *p = start, *body_end = end - 1;
        while (p < body_end) {
            if ((unsigned char)*p < 0x80) {
                p++;
                continue;
            }
            size_t k = rs_utf8_seq(p, (size_t)(body_end - p), NULL);
            if (!k)
                return fail(v, p, RS_JSON_E_UTF8);
            p += k;
        }
    }
    if (v->index && end - start > RS_JSON_LONG_STRING)
        index_add(v->index, start, end);
    return end;
}

/*
 * The string whose opening quote is at @p; @key: a member name (for
 * RS_JSON_NUL_KEYS). Return: the byte after the closing quote, or NULL.
 */
static const char *scan_string(struct rs_json_scan *v, const char *p, const char *e, bool key)
{
    const char *start = ++p;
    bool carry = false;
    while (e - p >= 64) {
        uint64_t q, b, c, ok, u;
        blk_masks(p, &q, &b, &c, &ok, &u);
        uint64_t esc = escaped_bits(b, &carry);
        uint64_t realq = q & ~esc;
        uint64_t below = realq ? (realq & (~realq + 1)) - 1 : ~UINT64_C(0);
        if (c & below)
            return fail(v, p + __builtin_ctzll(c & below), RS_JSON_E_CONTROL);
        /* Escaped characters must be valid escapes; only \u needs a closer look. */
        for (uint64_t x = esc & below & (~ok | u); x; x &= x - 1)
            if (!check_escape(v, start, p + __builtin_ctzll(x), e, key))
                return NULL;
        if (realq)
            return string_end(v, start, p + __builtin_ctzll(realq) + 1);
        p += 64;
    }
    for (; p < e; p++) {
        unsigned char ch = (unsigned char)*p;
        if (carry) {
            if (!check_escape(v, start, p, e, key))
                return NULL;
            carry = false;
        } else if (ch == '\\') {
            carry = true;
        } else if (ch == '"') {
            return string_end(v, start, p + 1);
        } else if (ch < 0x20) {
            return fail(v, p, RS_JSON_E_CONTROL);
        }
    }
    return fail(v, p, RS_JSON_E_UNTERMINATED);
}

/* ---- validation: numbers, literals, values -------------------------------------- */

/* With RS_JSON_RANGE: refuse what jansson refuses, integers beyond int64 and reals beyond a double. */
static bool number_in_range(const char *s, const char *digits, size_t ndigits, const char *end, bool real, bool exp)
{
    if (!real) {
        const char *lim = s < digits ? "9223372036854775808" : "9223372036854775807";
        return !(ndigits > 19 || (ndigits == 19 && memcmp(digits, lim, 19) > 0));
    }
    if (!exp && ndigits <= DBL_MAX_10_EXP)
        return true;
    /* Only these can exceed DBL_MAX: ask strtod, as jansson does. */
    size_t len = (size_t)(end - s);
    char small[64];
    char *t = len < sizeof small ? small : rs_xmalloc(len + 1);
    memcpy(t, s, len);
    t[len] = '\0';
    errno = 0;
    double d = strtod(t, NULL);
    bool overflow = errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL);
    if (t != small)
        free(t);
    return !overflow;
}

static const char *scan_number(struct rs_json_scan *v, const char *p, const char *e)
{
    const char *s = p;
    bool real = false, exp = false;
    if (p < e && *p == '-')
        p++;
    const char *digits = p;
    if (p >= e)
        return fail(v, p, RS_JSON_E_NUMBER);
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < e && is_digit(*p))
            p++;
    else
        return fail(v, p, RS_JSON_E_NUMBER);
    size_t ndigits = (size_t)(p - digits);
    if (p < e && *p == '.') {
        real = true;
        p++;
        if (p >= e || !is_digit(*p))
            return fail(v, p, RS_JSON_E_NUMBER);
        while (p < e && is_digit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        real = exp = true;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !is_digit(*p))
            return fail(v, p, RS_JSON_E_NUMBER);
        while (p < e && is_digit(*p))
            p++;
    }
    if ((v->flags & RS_JSON_RANGE) && !number_in_range(s, digits, ndigits, p, real, exp))
        return fail(v, s, RS_JSON_E_RANGE);
    return p;
}

static const char *scan_literal(struct rs_json_scan *v, const char *p, const char *e, const char *lit, size_t n)
{
    if ((size_t)(e - p) < n || memcmp(p, lit, n) != 0)
        return fail(v, p, RS_JSON_E_LITERAL);
    return p + n;
}

const char *rs_json_scan_value(struct rs_json_scan *v, const char *p, const char *e)
{
    unsigned char stack[RS_JSON_DEPTH_CAP]; /* 1 object, 2 array */
    size_t depth = 0, max = v->max_depth ? v->max_depth : RS_JSON_MAX_DEPTH;
value:
    p = rs_json_skip_ws(p, e);
    if (p >= e)
        return fail(v, p, RS_JSON_E_END);
    if (depth == max && (v->flags & RS_JSON_VALUE_DEPTH))
        return fail(v, p, RS_JSON_E_DEPTH);
    switch (*p) {
    case '{':
    case '[': {
        unsigned char kind = *p == '{' ? 1 : 2;
        if (depth == max)
            return fail(v, p, RS_JSON_E_DEPTH);
        stack[depth++] = kind;
        p = rs_json_skip_ws(p + 1, e);
        if (p < e && *p == (kind == 1 ? '}' : ']')) {
            depth--;
            p++;
            goto after;
        }
        if (kind == 1)
            goto key;
        goto value;
    }
    case '"':
        p = scan_string(v, p, e, false);
        break;
    case 't':
        p = scan_literal(v, p, e, "true", 4);
        break;
    case 'f':
        p = scan_literal(v, p, e, "false", 5);
        break;
    case 'n':
        p = scan_literal(v, p, e, "null", 4);
        break;
    default:
        if (*p == '-' || is_digit(*p))
            p = scan_number(v, p, e);
        else
            return fail(v, p, RS_JSON_E_CHAR);
        break;
    }
    if (!p)
        return NULL;
after:
    if (depth == 0)
        return p;
    p = rs_json_skip_ws(p, e);
    if (p >= e)
        return fail(v, p, RS_JSON_E_END);
    if (*p == ',') {
        p = rs_json_skip_ws(p + 1, e);
        if (stack[depth - 1] == 1)
            goto key;
        goto value;
    }
    if ((*p == '}' && stack[depth - 1] == 1) || (*p == ']' && stack[depth - 1] == 2)) {
        depth--;
        p++;
        goto after;
    }
    return fail(v, p, stack[depth - 1] == 1 ? RS_JSON_E_OBJECT_NEXT : RS_JSON_E_ARRAY_NEXT);
key:
    if (p >= e || *p != '"')
        return fail(v, p, RS_JSON_E_KEY);
    p = scan_string(v, p, e, true);
    if (!p)
        return NULL;
    p = rs_json_skip_ws(p, e);
    if (p >= e || *p != ':')
        return fail(v, p, RS_JSON_E_COLON);
    p++;
    goto value;
}

bool rs_json_scan_object(struct rs_json_scan *v, struct rs_json_members *it, const char *p, const char *e)
{
    p = rs_json_skip_ws(p, e);
    if (p >= e || *p != '{') {
        fail(v, p, p >= e ? RS_JSON_E_END : RS_JSON_E_NOT_OBJECT);
        return false;
    }
    it->v = v;
    it->p = rs_json_skip_ws(p + 1, e);
    it->e = e;
    it->first = true;
    return true;
}

int rs_json_scan_member(struct rs_json_members *it, struct rs_json_span *key, struct rs_json_span *val)
{
    struct rs_json_scan *v = it->v;
    const char *p = it->p, *e = it->e;
    if (it->first) {
        it->first = false;
        if (p < e && *p == '}') {
            it->p = p + 1;
            return 0;
        }
    } else {
        p = rs_json_skip_ws(p, e);
        if (p < e && *p == '}') {
            it->p = p + 1;
            return 0;
        }
        if (p >= e || *p != ',') {
            fail(v, p, RS_JSON_E_OBJECT_NEXT);
            return -1;
        }
        p = rs_json_skip_ws(p + 1, e);
    }
    if (p >= e || *p != '"') {
        fail(v, p, RS_JSON_E_KEY);
        return -1;
    }
    key->p = p;
    p = scan_string(v, p, e, true);
    if (!p)
        return -1;
    key->e = p;
    p = rs_json_skip_ws(p, e);
    if (p >= e || *p != ':') {
        fail(v, p, RS_JSON_E_COLON);
        return -1;
    }
    val->p = rs_json_skip_ws(p + 1, e);
    p = rs_json_scan_value(v, val->p, e);
    if (!p)
        return -1;
    val->e = it->p = p;
    return 1;
}

/* ---- reading validated text --------------------------------------------------- */

const char *rs_json_skip_string(const char *p, const char *e, const struct rs_json_index *ix)
{
    const char *start = p;
    const char *lim = e - p > RS_JSON_LONG_STRING ? p + RS_JSON_LONG_STRING : e;
    bool carry = false;
    for (;;) {
        while (lim - p >= 64) {
            uint64_t q, b;
            blk_masks(p, &q, &b, NULL, NULL, NULL);
            uint64_t realq = q & ~escaped_bits(b, &carry);
            if (realq)
                return p + __builtin_ctzll(realq) + 1;
            p += 64;
        }
        if (lim == e)
            break;
        const char *end = ix ? index_find(ix, start) : NULL;
        if (end)
            return end;
        lim = e;
    }
    for (; p < e; p++) {
        if (carry)
            carry = false;
        else if (*p == '\\')
            carry = true;
        else if (*p == '"')
            return p + 1;
    }
    return e;
}

const char *rs_json_skip(const char *p, const char *e, const struct rs_json_index *ix)
{
    p = rs_json_skip_ws(p, e);
    if (p >= e)
        return e;
    if (*p == '"')
        return rs_json_skip_string(p + 1, e, ix);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < e) {
            char c = *p;
            if (c == '"') {
                p = rs_json_skip_string(p + 1, e, ix);
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return e;
    }
    while (p < e && *p != ',' && *p != '}' && *p != ']' && !rs_json_is_ws(*p))
        p++;
    return p;
}

/* Start a walk of the container @v if it opens with @open. */
static bool walk_begin(struct rs_json_iter *it, struct rs_json_span v, const struct rs_json_index *ix, char open)
{
    const char *p = rs_json_skip_ws(v.p, v.e);
    if (p >= v.e || *p != open)
        return false;
    it->p = rs_json_skip_ws(p + 1, v.e);
    it->e = v.e;
    it->ix = ix;
    return true;
}

bool rs_json_object_begin(struct rs_json_iter *it, struct rs_json_span v, const struct rs_json_index *ix)
{
    return walk_begin(it, v, ix, '{');
}

bool rs_json_object_next(struct rs_json_iter *it, struct rs_json_span *key, struct rs_json_span *val)
{
    const char *p = it->p, *e = it->e;
    if (p >= e || *p != '"')
        return false;
    key->p = p;
    key->e = p = rs_json_skip_string(p + 1, e, it->ix);
    p = rs_json_skip_ws(rs_json_skip_ws(p, e) + 1, e); /* ':' */
    val->p = p;
    val->e = p = rs_json_skip(p, e, it->ix);
    p = rs_json_skip_ws(p, e);
    if (p < e && *p == ',')
        p = rs_json_skip_ws(p + 1, e);
    it->p = p;
    return true;
}

bool rs_json_array_begin(struct rs_json_iter *it, struct rs_json_span v, const struct rs_json_index *ix)
{
    return walk_begin(it, v, ix, '[');
}

bool rs_json_array_next(struct rs_json_iter *it, struct rs_json_span *val)
{
    if (it->p >= it->e || *it->p == ']')
        return false;
    val->p = it->p;
    val->e = rs_json_skip(it->p, it->e, it->ix);
    const char *p = rs_json_skip_ws(val->e, it->e);
    if (p < it->e && *p == ',')
        p = rs_json_skip_ws(p + 1, it->e);
    it->p = p;
    return true;
}

bool rs_json_is_literal(struct rs_json_span v, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(v.e - v.p) == n && memcmp(v.p, lit, n) == 0;
}


size_t rs_json_unescape_one(const char **pp, const char *e, char out[4])
{
    const char *p = *pp;
    if (p[1] != 'u') {
        out[0] = unescaped[(unsigned char)p[1]];
        *pp = p + 2;
        return 1;
    }
    unsigned cp = 0, lo;
    hex4(p + 2, e, &cp);
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (e - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, e, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        } else {
            cp = 0xFFFD;
        }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    *pp = p;
    return rs_utf8_encode(cp, out);
}

/* Shorten @len so that @s[0..len) does not end inside a multi-byte character. */
static size_t utf8_trim(const char *s, size_t len)
{
    size_t i = len, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0)
        return len == back ? 0 : len;
    unsigned c = (unsigned char)s[i - 1];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return back + 1 >= need ? len : i - 1;
}

size_t rs_json_unescape(struct rs_json_span str, char *out, size_t cap, bool *truncated)
{
    const char *p = str.p + 1, *e = str.e - 1;
    size_t n = 0;
    bool dropped = false;
    while (p < e) {
        if (n >= cap) {
            dropped = true;
            break;
        }
        const char *bs = rs_json_find_special(p, e, false);
        size_t run = (size_t)(bs - p);
        if (run > cap - n) {
            run = cap - n;
            dropped = true;
        }
        memcpy(out + n, p, run);
        n += run;
        if (dropped || bs >= e)
            break;
        char tmp[4];
        p = bs;
        size_t w = rs_json_unescape_one(&p, e, tmp);
        if (w > cap - n) {
            /* What fits is kept, then cut back to a character boundary below. */
            memcpy(out + n, tmp, cap - n);
            n = cap;
            dropped = true;
            break;
        }
        memcpy(out + n, tmp, w);
        n += w;
    }
    if (dropped)
        n = utf8_trim(out, n);
    if (truncated)
        *truncated = dropped;
    return n;
}

size_t rs_json_unescape_line(const char *p, const char *e, char *out, size_t cap)
{
    size_t n = 0;
    while (p < e && n < cap) {
        const char *bs = rs_json_find_special(p, e, false);
        size_t run = (size_t)(bs - p);
        if (run > cap - n)
            run = cap - n;
        memcpy(out + n, p, run);
        n += run;
        p += run;
        if (p >= e || *p != '\\')
            continue;
        char tmp[4];
        size_t w = rs_json_unescape_one(&p, e, tmp);
        if (w == 1 && tmp[0] == '\n')
            break;
        memcpy(out + n, tmp, w);
        n += w;
    }
    return n;
}

bool rs_json_f64(struct rs_json_span v, double *out)
{
    char small[64];
    size_t n = (size_t)(v.e - v.p);
    if (n == 0 || !(*v.p == '-' || is_digit(*v.p)))
        return false;
    /* jansson reads a number of any length: so do we (a long one is copied to the heap). */
    char *tmp = n < sizeof small ? small : rs_xmalloc(n + 1);
    memcpy(tmp, v.p, n);
    tmp[n] = '\0';
    /* strtod follows LC_NUMERIC; JSON always uses '.'. */
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
        char *dot = strchr(tmp, '.');
        if (dot)
            *dot = dp[0];
    }
    char *end;
    *out = strtod(tmp, &end);
    bool ok = end == tmp + n;
    if (tmp != small)
        free(tmp);
    return ok;
}

bool rs_json_i64(struct rs_json_span v, int64_t *out)
{
    const char *p = v.p;
    bool neg = false;
    if (p < v.e && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= v.e || !is_digit(*p))
        return false;
    uint64_t acc = 0;
    while (p < v.e && is_digit(*p)) {
        if (acc > (UINT64_C(1) << 62))
            goto as_real;
        acc = acc * 10 + (uint64_t)(*p - '0');
        p++;
    }
    if (p == v.e) {
        *out = neg ? (int64_t)(0 - acc) : (int64_t)acc; /* -(int64_t)acc would overflow for INT64_MIN */
        return true;
    }
as_real:;
    double d;
    if (!rs_json_f64(v, &d) || !(d > -9.2e18 && d < 9.2e18))
        return false;
    *out = (int64_t)d;
    return true;
}

/* ---- positions and the tolerant splitter ---------------------------------------- */

void rs_json_cursor_init(struct rs_json_cursor *c, const char *b, size_t len)
{
    c->b = b;
    c->len = len;
    c->off = 0;
    c->line = 1;
    c->col = 1;
}

struct rs_json_pos rs_json_cursor_at(struct rs_json_cursor *c, size_t off)
{
    if (off < c->off)
        rs_json_cursor_init(c, c->b, c->len);
    for (; c->off < off && c->off < c->len; c->off++) {
        unsigned char ch = (unsigned char)c->b[c->off];
        if (ch == '\n') {
            c->line++;
            c->col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c->col++;
        }
    }
    return (struct rs_json_pos){c->line, c->col};
}

size_t rs_json_skip_ws_at(const char *b, size_t len, size_t i)
{
    while (i < len && rs_json_is_ws(b[i]))
        i++;
    return i;
}

size_t rs_json_tolerant_string_end(const char *b, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (b[i] == '\\')
            i++;
        else if (b[i] == '"')
            return i + 1;
        else if (b[i] == '\n')
            return i;
    }
    return len;
}

static void pieces_push(struct rs_json_pieces *s, struct rs_json_cursor *c, size_t start, size_t end, bool no_comma)
{
    while (start < end && rs_json_is_ws(c->b[start]))
        start++;
    while (end > start && rs_json_is_ws(c->b[end - 1]))
        end--;
    s->v = rs_xgrow(s->v, s->n, &s->cap, sizeof(*s->v), 32);
    s->v[s->n++] = (struct rs_json_piece){start, end, rs_json_cursor_at(c, start), no_comma};
}

/* Indentation (bytes) of the character at @i if it is the first non-blank of its line, else SIZE_MAX. */
static size_t line_indent(const char *b, size_t i)
{
    size_t j = i;
    while (j > 0 && (b[j - 1] == ' ' || b[j - 1] == '\t'))
        j--;
    return (j == 0 || b[j - 1] == '\n') ? i - j : SIZE_MAX;
}

bool rs_json_split(struct rs_json_cursor *c, size_t open, struct rs_json_pieces *out, size_t *close)
{
    const char *b = c->b;
    size_t len = c->len;
    size_t depth = 0, el = open + 1;
    bool comma = false, no_comma = false;
    for (size_t i = open + 1; i < len;) {
        char ch = b[i];
        if (ch == '"') {
            i = rs_json_tolerant_string_end(b, len, i);
            continue;
        }
        if (ch == '\n') {
            size_t first = rs_json_skip_ws_at(b, i, el);
            size_t ind = first < i ? line_indent(b, first) : SIZE_MAX;
            size_t j = i + 1;
            while (j < len && (b[j] == ' ' || b[j] == '\t'))
                j++;
            if (ind != SIZE_MAX && j < len) {
                bool next_elem = b[j] == '{' && j - (i + 1) == ind;
                bool closing = (b[j] == ']' || b[j] == '}') && j - (i + 1) < ind && depth > 0;
                if (next_elem || closing) {
                    pieces_push(out, c, el, i, no_comma);
                    no_comma = next_elem && depth == 0;
                    comma = false;
                    depth = 0;
                    el = j;
                    i = j;
                    continue;
                }
            }
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0) {
                /* "[]" has no element; "[1,]" has an empty last one. */
                if (comma || rs_json_skip_ws_at(b, i, el) < i)
                    pieces_push(out, c, el, i, no_comma);
                *close = i;
                return true;
            }
            depth--;
        } else if (ch == ',' && depth == 0) {
            pieces_push(out, c, el, i, no_comma);
            no_comma = false;
            el = i + 1;
            comma = true;
        }
        i++;
    }
    if (comma || rs_json_skip_ws_at(b, len, el) < len)
        pieces_push(out, c, el, len, no_comma);
    *close = len;
    return false;
}
