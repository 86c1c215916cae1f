/* SPDX-License-Identifier: MIT */
/*
 * The one UTF-8 module: every place that stores or shows outside text (an
 * agent's reason, marker text, stderr excerpts, tool inputs on the live
 * line, commit messages, events, the progress file) passes it through here.
 *
 * Well-formed means RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF (as strict as jansson and Python). Cleaning replaces each maximal
 * ill-formed subpart (a stray byte, a truncated, overlong or surrogate
 * sequence) with one U+FFFD, as the Unicode standard (section 3.9) and the
 * WHATWG decoder do, and counts the replacements. Cutting happens only at a
 * character boundary and ends the text with "…" (U+2026, 3 bytes, counted in
 * the cap). Text is never dropped: a string that is too long is cut, a string
 * that is not UTF-8 is repaired.
 *
 * Pure code: no I/O, no global state.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ralphsup/base/buf.h"

/* The documented cap on one stored reason or excerpt, in bytes, "…" included (docs/progress.md). */
#define RS_TEXT_MAX 1024
/* U+2026 HORIZONTAL ELLIPSIS, the mark of a cut. */
#define RS_UTF8_ELLIPSIS "\xE2\x80\xA6"
/* U+FFFD REPLACEMENT CHARACTER. */
#define RS_UTF8_REPLACEMENT "\xEF\xBF\xBD"

/*
 * rs_utf8_seq() - the sequence at @p (@n >= 1 bytes left): its length (1-4)
 * when well-formed and complete; else 0 with *@bad (may be NULL) = the length
 * of its maximal ill-formed subpart (>= 1), the bytes one U+FFFD replaces.
 */
size_t rs_utf8_seq(const void *p, size_t n, size_t *bad);
/* rs_utf8_decode() - like rs_utf8_seq(), with the code point in *@cp; 0 when ill-formed. */
size_t rs_utf8_decode(const void *p, size_t n, uint32_t *cp);
/* rs_utf8_encode() - write @cp (U+FFFD for a surrogate or above U+10FFFF) to @out; its length (1-4). */
size_t rs_utf8_encode(uint32_t cp, char out[4]);
/* rs_utf8_valid() - true when the @len bytes of @s are well-formed UTF-8. */
bool rs_utf8_valid(const char *s, size_t len);
/*
 * rs_utf8_incomplete() - length (0-3) of a sequence at the end of @s that is
 * well-formed so far but incomplete: the bytes to hold back until more come.
 */
size_t rs_utf8_incomplete(const char *s, size_t len);
/*
 * rs_utf8_boundary() - the largest k <= min(@len, @max) that does not fall
 * inside a character of @s (the bytes before k are whole characters when @s
 * is well-formed).
 */
size_t rs_utf8_boundary(const char *s, size_t len, size_t max);
/* rs_utf8_put_clean() - append @s to @b cleaned (see above); returns the number of U+FFFD written. */
size_t rs_utf8_put_clean(struct rs_buf *b, const char *s, size_t len);
/*
 * rs_utf8_clean() - a new NUL-terminated copy of @s, cleaned, and when it is
 * longer than @max bytes (0 = no cap; else >= 4) cut at a character boundary
 * so that it ends in "…" and holds at most @max bytes. *@replaced (may be
 * NULL) gets the number of U+FFFD written; *@out_len (may be NULL) the length.
 * Caller frees.
 */
char *rs_utf8_clean(const char *s, size_t len, size_t max, size_t *replaced, size_t *out_len);
/* rs_utf8_clean_str() - rs_utf8_clean() of a C string, NULL for NULL. */
char *rs_utf8_clean_str(const char *s, size_t max);
/*
 * rs_utf8_copy() - @s (@len bytes) cleaned and cut (with "…") to fit @dst of
 * @cap >= 4 bytes, NUL included. Returns the number of U+FFFD written.
 */
size_t rs_utf8_copy(char *dst, size_t cap, const char *s, size_t len);
/*
 * rs_utf8_cut() - cut well-formed @s (@len bytes) in place to at most @max
 * (>= 4) bytes at a character boundary, ending in "…" when anything was cut;
 * NUL-terminates when it cuts (@s must have room for @max + 1 bytes). Returns
 * the new length.
 */
size_t rs_utf8_cut(char *s, size_t len, size_t max);
/*
 * rs_utf8_printf() - printf into @dst of @cap >= 4 bytes, then clean and cut
 * (with "…") as rs_utf8_copy(): for messages that quote outside text, where
 * snprintf() would cut a character in half. Returns the length written.
 */
size_t rs_utf8_printf(char *dst, size_t cap, const char *fmt, ...) RS_PRINTF(3, 4);
