/* SPDX-License-Identifier: MIT */
/*
 * Small, dependency-free helpers used across modules: crash-safe file
 * replacement, bounded file reading, durations, timestamps, path helpers, secret redaction and edit distance for
 * "did you mean" hints.
 *
 * Functions return 0 on success and a negative errno on failure; they never
 * print or log.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ralphsup/base/common.h"

#include "ralphsup/base/buf.h"

/* ---- files ------------------------------------------------------------- */
/*
 * rs_file_write_atomic() - replace @path crash-safely with @len bytes of @data:
 * temp file in the same directory, write loop, fsync, rename, fsync directory.
 * A kill -9 at any instant leaves either the old or the new content.
 * Return: 0, or negative errno.
 */
int rs_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* fsync @path (a file or a directory); the directory containing @path. Return: 0 or -errno. */
int rs_fsync_path(const char *path);
int rs_fsync_parent_dir(const char *path);
/* The directory for temporary files: $TMPDIR when set and not empty, else "/tmp". */
const char *rs_tmpdir(void);
/* rs_write_all() - write all @len bytes to @fd (retrying on EINTR). Return: 0 or -errno. */
int rs_write_all(int fd, const void *data, size_t len);
/*
 * rs_file_read() - read a whole file, at most @max bytes. Sets *out (NUL
 * terminated, caller frees) and *len. Return: 0, -EFBIG if larger than @max,
 * or negative errno.
 */
int rs_file_read(const char *path, size_t max, char **out, size_t *len);
/* rs_fd_read() - the same from the open descriptor @fd, up to its end (left open). */
int rs_fd_read(int fd, size_t max, char **out, size_t *len);
/* mkdir -p; Return 0 or negative errno. */
int rs_mkdir_p(const char *path, unsigned mode);
bool rs_file_exists(const char *path);

/* ---- paths --------------------------------------------------------------- */
/* Join @base and @rel; if @rel is absolute it is returned as a copy. */
char *rs_path_join(const char *base, const char *rel);
/* Directory part of @path ("." if none). */
char *rs_path_dirname(const char *path);
/* Lexically normalise ("a/./b/../c" -> "a/c"); keeps a leading "/". */
char *rs_path_normalize(const char *path);
/* Absolute, lexically normalised path (uses getcwd for relative input). */
char *rs_path_absolute(const char *path);
/*
 * True when lexically normalised @path lies inside directory @dir (both
 * absolute or both relative to the same base). No symlink resolution.
 */
bool rs_path_is_inside(const char *dir, const char *path);

/* ---- time and durations ---------------------------------------------- */
/*
 * rs_duration_parse() - "90s", "15m", "2h", "1h30m", "1d", "500ms" or an
 * integer number of seconds (as text). Units combine largest first, each at
 * most once (d, h, m, s, ms): "1h30m" is 90 minutes, "30m1h" and "1m1m" are
 * refused. Result in milliseconds.
 * Return: 0; -ERANGE when units are out of order or repeated; -EINVAL for
 * anything else that is not a duration (or one beyond INT64_MAX ms).
 */
int rs_duration_parse(const char *s, int64_t *out_ms);
/*
 * rs_date_parse() - a calendar date "YYYY-MM-DD" (leap years counted).
 * @year, @month, @day may be NULL.
 * Return: 0; -EINVAL when not of the form YYYY-MM-DD; -ERANGE when the
 * month or day does not exist (2020-02-30, 2026-13-01).
 */
int rs_date_parse(const char *s, int *year, int *month, int *day);
/* Days in @month (1-12) of @year in the Gregorian calendar; 0 for a bad month. */
int rs_days_in_month(int year, int month);
/* Format @ms as "1h02m", "6m12s", "45s", "0.3s" into @buf. */
const char *rs_duration_format(int64_t ms, char *buf, size_t n);
/* Wall clock in ms since the epoch; monotonic clock in ms. */
int64_t rs_now_ms(void);
int64_t rs_mono_ms(void);
/* Sleep @ms milliseconds (a signal handled meanwhile does not cut it short). */
void rs_sleep_ms(int64_t ms);
/* @epoch_ms in UTC, formatted by strftime(@fmt), into @buf; returns @buf. */
const char *rs_time_utc(int64_t epoch_ms, const char *fmt, char *buf, size_t n);
/* ISO 8601 UTC "2026-11-24T20:33:10Z" of @epoch_ms into @buf (>= 32). */
const char *rs_time_iso(int64_t epoch_ms, char *buf, size_t n);
/* Parse ISO 8601 UTC written by rs_time_iso (also accepts "+00:00"). */
int rs_time_parse_iso(const char *s, int64_t *epoch_ms);

/* ---- text ---------------------------------------------------------------- */
/*
 * rs_char_invisible() - true for a code point that shows as nothing (or as
 * blank) when quoted in a message: C0/C1 controls, DEL, no-break space, soft
 * hyphen, zero-width and direction marks, line/paragraph separators, the
 * byte order mark U+FEFF, U+FFF9-U+FFFD. *@name (may be NULL) gets its common
 * name ("byte order mark") or NULL.
 */
bool rs_char_invisible(uint32_t cp, const char **name);
/*
 * rs_buf_put_visible() - append @len bytes of @s to @b with every invisible
 * character written as "<U+FEFF (byte order mark)>" ("<U+0001>" when it has
 * no common name) and every byte that is not UTF-8 as "<byte 0xFF (not
 * UTF-8)>"; the ordinary space stays. rs_visible(): the same for a C string,
 * as a new string (caller frees).
 */
void rs_buf_put_visible(struct rs_buf *b, const char *s, size_t len);
char *rs_visible(const char *s);
/* 3 when @data starts with the UTF-8 byte order mark EF BB BF, else 0. */
size_t rs_utf8_bom_len(const char *data, size_t len);
/* Levenshtein distance, case-insensitive ASCII. */
size_t rs_edit_distance(const char *a, const char *b);
/* Closest of @cands (n) to @s within a sensible distance, or NULL. */
const char *rs_did_you_mean(const char *s, const char *const *cands, size_t n);
/*
 * rs_redact() - copy of @s with API-key-like strings ("sk-ant-..." and
 * "sk-..." tokens of 20+ chars) replaced by "sk-ant-***REDACTED***", and
 * made valid UTF-8: each maximal ill-formed subsequence (a stray byte, a
 * truncated, overlong or surrogate sequence) becomes one U+FFFD, so outside
 * text is neither passed on raw nor dropped. The copy is NUL-terminated
 * (NUL bytes of @s are kept). Caller frees.
 */
char *rs_redact(const char *s, size_t len, size_t *out_len);
/* Case-insensitive ASCII string equality. */
bool rs_streq_ci(const char *a, const char *b);
/*
 * rs_name_key() - the lookup key of a name (@n bytes of @s): ASCII lower
 * case, runs of blanks (space, tab) made one space, trimmed. Caller frees.
 */
char *rs_name_key(const char *s, size_t n);
/* rs_trim_blanks() - move *@s and shorten *@n past the blanks (space, tab) at both ends. */
void rs_trim_blanks(const char **s, size_t *n);
/* rs_has_control() - @s holds a C0 control character or DEL. */
bool rs_has_control(const char *s);
/* rs_strv_free() - free each string of the NULL-terminated array @v, then @v (NULL-safe). */
void rs_strv_free(char **v);
/* rs_strv_len() - the number of strings in the NULL-terminated @v (0 for NULL). */
size_t rs_strv_len(char *const *v);
/* rs_strv_dup() - a NULL-terminated copy of the first @n strings of @v (NULL when @v is NULL). */
char **rs_strv_dup(char *const *v, size_t n);
/*
 * rs_env_merge() - a new environment (rs_strv_free() frees it): copies of the
 * entries of @base (NULL-terminated) that @keep (NULL: all) keeps and that no
 * one of the @n "NAME=value" entries of @vars names, then copies of @vars; room
 * for @spare more entries before the final NULL.
 */
char **rs_env_merge(char *const *base, char *const *vars, size_t n, bool (*keep)(const char *entry), size_t spare);
/* rs_strp_cmp() - qsort() comparator for an array of strings (char *), by strcmp(). */
int rs_strp_cmp(const void *a, const void *b);
/*
 * rs_plural() - @one when @n is 1, else @many: for counts in messages,
 * printf("%zu %s", n, rs_plural(n, "overlap", "overlaps")).
 */
const char *rs_plural(uint64_t n, const char *one, const char *many);
/* Money as "$0.84". */
const char *rs_money_format(double usd, char *buf, size_t n);
