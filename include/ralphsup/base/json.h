/* SPDX-License-Identifier: MIT */
/*
 * The one hand-written JSON scanner: the stream reader (core/stream.c), the
 * progress loader (store/progress.c) and the school list (core/schools.c)
 * read JSON text through it. It never builds a DOM and never allocates,
 * except the long-string index, which grows on the heap within its cap,
 * and the copy of a number longer than 63 bytes.
 *
 * Three parts:
 *  1. Validation (rs_json_scan_*): checks a value, or the members of an
 *     object one by one, and says where the first error is (a byte address
 *     and an enum rs_json_err). Non-recursive, with a nesting bound. Strings
 *     are scanned 64 bytes at a time (SSE2 where the compiler has it).
 *     How strict it is, is chosen by flags: by default escapes and control
 *     bytes are checked but UTF-8 is not, lone surrogates are tolerated and
 *     numbers are not range-checked (what the stream reader wants: the CLI's
 *     JSON.stringify emits lone surrogates); RS_JSON_JANSSON refuses what
 *     jansson refuses (the progress loader, which must never accept a file
 *     that jansson would reject).
 *  2. Span reading (rs_json_skip, rs_json_object_*, rs_json_array_*,
 *     rs_json_unescape, rs_json_f64/_i64): cheap walks over text that was
 *     validated, handing out spans (no copies); strings are decoded into the
 *     caller's buffer, bounded and cut at a character boundary.
 *  3. Positions and the tolerant splitter (rs_json_cursor, rs_json_split):
 *     byte offset -> line:column as jansson counts them, and the splitting of
 *     a possibly broken container into its top-level elements, for the
 *     school list's "report every problem of the file in one pass".
 *
 * Deliberately not here: a DOM, number formatting, writing JSON (jansson
 * does that above base). libc only (base).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting accepted by default (the stream reader's bound). */
#define RS_JSON_MAX_DEPTH 1024
/* The largest bound a validator may be given (jansson's own: the progress loader). */
#define RS_JSON_DEPTH_CAP 2048
/* Strings longer than this (body bytes) are recorded in an index, when one is given. */
#define RS_JSON_LONG_STRING 256
/* At most this many strings per index (the rest are skipped the slow way). */
#define RS_JSON_INDEX_MAX 65536

/* A value's text: [p, e), no surrounding blanks. */
struct rs_json_span {
    const char *p;
    const char *e;
};

/* The first error found, with the byte where it is. */
enum rs_json_err {
    RS_JSON_OK = 0,
    RS_JSON_E_END,          /* unexpected end of input */
    RS_JSON_E_CHAR,         /* unexpected character */
    RS_JSON_E_LITERAL,      /* invalid literal */
    RS_JSON_E_NUMBER,       /* invalid number */
    RS_JSON_E_RANGE,        /* number out of range (RS_JSON_RANGE) */
    RS_JSON_E_ESCAPE,       /* invalid escape in string */
    RS_JSON_E_UESCAPE,      /* invalid \u escape */
    RS_JSON_E_SURROGATE,    /* lone surrogate (RS_JSON_SURROGATES) */
    RS_JSON_E_CONTROL,      /* control character in string */
    RS_JSON_E_UTF8,         /* invalid UTF-8 in string (RS_JSON_UTF8) */
    RS_JSON_E_UNTERMINATED, /* unterminated string */
    RS_JSON_E_KEY,          /* expected a string key */
    RS_JSON_E_COLON,        /* expected ':' */
    RS_JSON_E_OBJECT_NEXT,  /* expected ',' or '}' */
    RS_JSON_E_ARRAY_NEXT,   /* expected ',' or ']' */
    RS_JSON_E_DEPTH,        /* nesting too deep */
    RS_JSON_E_NUL_KEY,      /* \u0000 in a member name (RS_JSON_NUL_KEYS) */
    RS_JSON_E_NOT_OBJECT,   /* not a JSON object */
    RS_JSON_E_TRAILING,     /* trailing characters after the JSON value */
};

/* Strictness flags of struct rs_json_scan. */
enum {
    RS_JSON_UTF8 = 1 << 0,       /* strings must be well-formed UTF-8 (RFC 3629) */
    RS_JSON_SURROGATES = 1 << 1, /* \u escapes must not leave a lone surrogate */
    RS_JSON_RANGE = 1 << 2,      /* integers fit int64, reals do not overflow a double */
    RS_JSON_NUL_KEYS = 1 << 3,   /* no \u0000 in member names */
    RS_JSON_JANSSON = RS_JSON_UTF8 | RS_JSON_SURROGATES | RS_JSON_RANGE | RS_JSON_NUL_KEYS,
    /* every value, not only a container, counts one level of the bound (jansson's count) */
    RS_JSON_VALUE_DEPTH = 1 << 4,
};

/*
 * Long strings seen by the validator, in text order, so that a later walk
 * jumps over them instead of scanning them again. Embedded; zero-initialise.
 */
struct rs_json_index {
    struct rs_json_span *v; /* string bodies: after the opening quote .. after the closing one */
    size_t n, cap;
};

/* rs_json_index_reset() - forget the strings (keep the memory, up to 4096 entries). */
void rs_json_index_reset(struct rs_json_index *ix);
void rs_json_index_deinit(struct rs_json_index *ix);

/* The validator's state: flags in, first error out. */
struct rs_json_scan {
    unsigned flags;              /* RS_JSON_* */
    unsigned max_depth;          /* 0: RS_JSON_MAX_DEPTH */
    struct rs_json_index *index; /* NULL, or where long strings are recorded */
    enum rs_json_err err;
    const char *err_at;          /* where; may be the end of the input */
};

/* rs_json_scan_init() - a validator with @flags (RS_JSON_*) and nesting bound @max_depth (0: default, at most RS_JSON_DEPTH_CAP). */
void rs_json_scan_init(struct rs_json_scan *v, unsigned flags, unsigned max_depth);
/* rs_json_strerror() - "unexpected character", ... (static text). */
const char *rs_json_strerror(enum rs_json_err err);

static inline bool rs_json_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* rs_json_skip_ws() - the first byte of [@p, @e) that is not JSON whitespace, or @e. */
const char *rs_json_skip_ws(const char *p, const char *e);
/* rs_json_skip_ws_at() - the offset of the first non-blank of @b at or after @i (@len if none). */
size_t rs_json_skip_ws_at(const char *b, size_t len, size_t i);

/*
 * rs_json_scan_value() - validate the value at @p (blanks before it are
 * skipped). Return: the byte after it, or NULL with v->err and v->err_at set.
 */
const char *rs_json_scan_value(struct rs_json_scan *v, const char *p, const char *e);
/*
 * Validating member iteration over an object, one member at a time, for
 * readers that note where each top-level member is while they check it:
 *
 *     struct rs_json_members it;
 *     if (!rs_json_scan_object(&v, &it, p, e)) ... v.err
 *     while ((r = rs_json_scan_member(&it, &key, &val)) > 0) ...
 *     r < 0: v.err; r == 0: it.p is the byte after the closing '}'
 */
struct rs_json_members {
    struct rs_json_scan *v;
    const char *p, *e;
    bool first;
};
/* rs_json_scan_object() - start at the object whose '{' is the first non-blank at @p; false (v->err) if none. */
bool rs_json_scan_object(struct rs_json_scan *v, struct rs_json_members *it, const char *p, const char *e);
/*
 * rs_json_scan_member() - validate the next member: *@key is its name token
 * (quotes included), *@val its value. Return: 1, 0 after the last one, -1 on
 * an error (v->err).
 */
int rs_json_scan_member(struct rs_json_members *it, struct rs_json_span *key, struct rs_json_span *val);

/* ---- reading validated text ----------------------------------------------- */

/*
 * rs_json_find_special() - the first '"' or '\\' in [@p, @e) (or, when
 * @ctrl, byte below 0x20), or @e. 32 bytes at a time with SSE2.
 */
const char *rs_json_find_special(const char *p, const char *e, bool ctrl);
/*
 * rs_json_skip_string() - the byte after the closing quote of the validated
 * string whose body starts at @p (after the quote), or @e; long strings are
 * looked up in @ix (may be NULL).
 */
const char *rs_json_skip_string(const char *p, const char *e, const struct rs_json_index *ix);
/* rs_json_skip() - the byte after the validated value at @p (blanks before it skipped). */
const char *rs_json_skip(const char *p, const char *e, const struct rs_json_index *ix);

/* Walks of a validated object or array. */
struct rs_json_iter {
    const char *p, *e;
    const struct rs_json_index *ix;
};
/* rs_json_object_begin() - false when @v is not an object. */
bool rs_json_object_begin(struct rs_json_iter *it, struct rs_json_span v, const struct rs_json_index *ix);
/* rs_json_object_next() - the next member: *@key is the name token (quotes included). false at the end. */
bool rs_json_object_next(struct rs_json_iter *it, struct rs_json_span *key, struct rs_json_span *val);
/* rs_json_array_begin() - false when @v is not an array. */
bool rs_json_array_begin(struct rs_json_iter *it, struct rs_json_span v, const struct rs_json_index *ix);
/* rs_json_array_next() - the next element; false at the end. */
bool rs_json_array_next(struct rs_json_iter *it, struct rs_json_span *val);

static inline bool rs_json_is_string(struct rs_json_span v)
{
    return v.p < v.e && *v.p == '"';
}
static inline bool rs_json_is_object(struct rs_json_span v)
{
    return v.p < v.e && *v.p == '{';
}
static inline bool rs_json_is_array(struct rs_json_span v)
{
    return v.p < v.e && *v.p == '[';
}
/* rs_json_is_literal() - @v is exactly @lit ("null", "true", "false"). */
bool rs_json_is_literal(struct rs_json_span v, const char *lit);

/*
 * rs_json_unescape_one() - decode the escape at *@pp (its backslash, in a
 * validated string ending at @e), advance past it, write its UTF-8 into
 * @out. A lone surrogate becomes U+FFFD. Return: the bytes written (1-4).
 */
size_t rs_json_unescape_one(const char **pp, const char *e, char out[4]);
/*
 * rs_json_unescape() - decode the validated string token @str (quotes
 * included) into @out, at most @cap bytes, not NUL-terminated. When it does
 * not fit, *@truncated (may be NULL) is set and the text is cut at a
 * character boundary, so a character is never split. Raw bytes are copied
 * as they are: they are well-formed only if the validator had RS_JSON_UTF8
 * (else repair them, rs_utf8_*). Return: the length written.
 */
size_t rs_json_unescape(struct rs_json_span str, char *out, size_t cap, bool *truncated);
/*
 * rs_json_unescape_line() - decode from @p (inside a validated string body
 * ending at @e) up to the next decoded newline or @e, stopping once at least
 * @cap bytes are written. Raw bytes stop at @cap exactly; an escape is
 * written whole, so @out needs room for @cap + 3 bytes. Return: the length
 * written (at least @cap when the line did not fit).
 */
size_t rs_json_unescape_line(const char *p, const char *e, char *out, size_t cap);
/* rs_json_f64() - the number @v as a double (any locale); false if it is not a number. */
bool rs_json_f64(struct rs_json_span v, double *out);
/* rs_json_i64() - the number @v as an int64 (a real is truncated); false if not a number or out of range. */
bool rs_json_i64(struct rs_json_span v, int64_t *out);

/* ---- positions and the tolerant splitter ---------------------------------- */

/* 1-based; col counts characters (not bytes), as jansson does; 0 = unknown. */
struct rs_json_pos {
    int line, col;
};

/* Offset -> line:col over one buffer, cheap when the offsets asked ascend. */
struct rs_json_cursor {
    const char *b;
    size_t len;
    size_t off;
    int line, col;
};
void rs_json_cursor_init(struct rs_json_cursor *c, const char *b, size_t len);
/* rs_json_cursor_at() - the position of byte @off. */
struct rs_json_pos rs_json_cursor_at(struct rs_json_cursor *c, size_t off);

/*
 * rs_json_tolerant_string_end() - @i at a '"' of possibly broken text: the
 * index after its closing quote, or of the raw newline that ends it (valid
 * JSON never has one in a string), or @len.
 */
size_t rs_json_tolerant_string_end(const char *b, size_t len, size_t i);

/* One element of a split container: trimmed bytes [start, end). */
struct rs_json_piece {
    size_t start, end;
    struct rs_json_pos pos; /* of start */
    bool no_comma;          /* split by resynchronisation where a ',' was missing */
};
struct rs_json_pieces {
    struct rs_json_piece *v;
    size_t n, cap;
};

/*
 * rs_json_split() - split the container opening at @open ('[' or '{') of
 * possibly broken text into its top-level elements (trimmed; empty ones
 * kept, e.g. after a stray comma), appended to @out (free out->v). Only
 * strings, escapes and the {} [] depth are tracked. Sets *@close to the
 * index of the closing bracket, or the length.
 *
 * Resynchronisation: one unbalanced quote or bracket would otherwise merge
 * an element with everything after it. So when an element started a line,
 * a later line that starts with '{' at the same indentation begins a new
 * element (flagged no_comma if the previous one was closed, i.e. only the
 * comma is missing), and a line starting with ']' or '}' further left ends
 * the container. Valid JSON formatted that oddly can be split wrongly: use
 * it on text a parser rejected, or for positions checked against a parser.
 *
 * Return: true if the container is terminated.
 */
bool rs_json_split(struct rs_json_cursor *c, size_t open, struct rs_json_pieces *out, size_t *close);
