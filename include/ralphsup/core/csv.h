/* SPDX-License-Identifier: MIT */
/*
 * A strict, streaming RFC 4180 reader with line:column errors. Bytes go in
 * (a file, a buffer, or chunks fed by the caller); one callback per record
 * comes out, carrying the physical line the record starts on. Used by the
 * report (to read every per-school CSV) and by the supervisor (to verify an
 * agent's RALPH_DONE claim with rs_csv_verify()).
 *
 * Accepted: an optional UTF-8 BOM, CRLF, LF or lone CR line ends, quoted
 * fields with "" escapes and embedded line breaks, empty fields, a last
 * record without a line end. Completely empty lines are skipped (they are not
 * records). Rejected with a position: a quote inside an unquoted field, text
 * after a closing quote, an unterminated quoted field, a record whose field
 * count differs from the first record's (the header), and anything over the
 * size caps (field, record, fields per record, file).
 *
 * Memory is bounded by the caps: only the current record is held. The reader
 * does not decode or validate UTF-8 (cells are bytes; the report sanitises
 * them) and never interprets values.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ralphsup/base/common.h"

#define RS_CSV_MAX_FIELD_DEFAULT ((size_t)1 << 20)   /* 1 MiB per field */
#define RS_CSV_MAX_RECORD_DEFAULT ((size_t)8 << 20)  /* 8 MiB per record */
#define RS_CSV_MAX_FIELDS_DEFAULT ((size_t)4096)     /* fields per record */
#define RS_CSV_MAX_FILE_DEFAULT ((size_t)256 << 20)  /* 256 MiB per file */

/* Positive outcomes of the parse functions (negative = -errno). */
enum {
    RS_CSV_E_SYNTAX = 1,  /* bad quoting; err says where */
    RS_CSV_E_COLUMNS = 2, /* a record's field count differs from the header's */
    RS_CSV_E_TOO_BIG = 3, /* a cap was exceeded */
    RS_CSV_E_HEADER = 4,  /* rs_csv_verify(): empty file or missing required column */
};

/* Caps; a zero member means "use the default". */
struct rs_csv_opts {
    size_t max_field;   /* bytes in one field */
    size_t max_record;  /* bytes in one record (all fields) */
    size_t max_fields;  /* fields in one record */
    size_t max_file;    /* bytes in the whole input */
    bool allow_ragged;  /* true: do not check field counts against the header */
};

/*
 * One record, valid only during the callback. fields[i] is NUL-terminated
 * and lens[i] is its length (a field may itself contain NUL bytes).
 */
struct rs_csv_record {
    size_t index;               /* 0 for the first record (the header), then 1, 2, ... */
    size_t line;                /* 1-based physical line where the record starts */
    size_t nfields;
    const char *const *fields;
    const size_t *lens;
};

/*
 * Callback per record. Return 0 to go on; any other value stops the parse
 * and is returned unchanged by the parse function (use a negative errno or a
 * positive value above RS_CSV_E_HEADER so it cannot be confused).
 */
typedef int (*rs_csv_record_fn)(void *ud, const struct rs_csv_record *rec);

/* Where and why parsing failed; line/col are 1-based, col 0 = unknown. */
struct rs_csv_error {
    size_t line;
    size_t col;       /* in characters (UTF-8 lead bytes), not bytes */
    char msg[192];
};

/* ---- incremental parser ---------------------------------------------- */
struct rs_csv_parser;

/*
 * rs_csv_parser_new() - a parser calling @cb(@ud, record) for every record.
 * @opts may be NULL (defaults). Free with rs_csv_parser_free().
 */
struct rs_csv_parser *rs_csv_parser_new(const struct rs_csv_opts *opts, rs_csv_record_fn cb, void *ud);
struct rs_csv_parser *rs_csv_parser_free(struct rs_csv_parser *p);

/*
 * rs_csv_parser_feed() - parse the next @len bytes. Records completed by
 * these bytes are delivered before it returns.
 * Return: 0, an RS_CSV_E_* code (@err filled; the parser stays failed), or
 * the callback's non-zero value.
 */
int rs_csv_parser_feed(struct rs_csv_parser *p, const char *data, size_t len, struct rs_csv_error *err);

/*
 * rs_csv_parser_finish() - end of input: delivers a last record that has no
 * line end, and reports an unterminated quoted field.
 * Return: as rs_csv_parser_feed().
 */
int rs_csv_parser_finish(struct rs_csv_parser *p, struct rs_csv_error *err);

/* Records delivered so far (header included). */
size_t rs_csv_parser_records(const struct rs_csv_parser *p);

/* ---- one-shot helpers ---------------------------------------------------- */
/*
 * rs_csv_parse_buffer() - parse @len bytes of @data as one complete input.
 * Return: as rs_csv_parser_feed().
 */
int rs_csv_parse_buffer(const char *data, size_t len, const struct rs_csv_opts *opts, rs_csv_record_fn cb, void *ud,
                        struct rs_csv_error *err);

/*
 * rs_csv_parse_file() - stream @path through the parser in 64 KiB reads
 * (memory stays bounded whatever the file size).
 * Return: as rs_csv_parser_feed(), or negative errno if the file cannot be
 * opened or read (@err->msg then holds strerror text, line 0).
 */
int rs_csv_parse_file(const char *path, const struct rs_csv_opts *opts, rs_csv_record_fn cb, void *ud,
                      struct rs_csv_error *err);

/*
 * rs_csv_error_format() - "@file:line:col: msg" (line/col left out when 0)
 * into @buf of @n bytes; returns @buf.
 */
const char *rs_csv_error_format(const char *file, const struct rs_csv_error *err, char *buf, size_t n);

/* ---- helpers for header mapping and truthy values ------------------------ */
/* The default truthy words: yes, true, 1, y. */
extern const char *const rs_csv_default_truthy[];
extern const size_t rs_csv_default_ntruthy;

/*
 * rs_csv_name_eq() - header name @s (@len bytes) equals @name once leading
 * and trailing blanks (space, tab) are trimmed, ASCII case-insensitively.
 */
bool rs_csv_name_eq(const char *s, size_t len, const char *name);

/*
 * rs_csv_is_truthy() - @s (@len bytes) trimmed equals one of @truthy
 * (case-insensitive); @truthy NULL or @n 0 means the defaults.
 */
bool rs_csv_is_truthy(const char *s, size_t len, const char *const *truthy, size_t n);

/*
 * rs_csv_verify() - check a per-school CSV the way the supervisor trusts a
 * RALPH_DONE claim: the whole file parses strictly (default caps), and its
 * header holds every one of @required_cols (trimmed, case-insensitive).
 * On success *@rows = data rows and *@overlaps = rows whose "nmdp_overlap"
 * column (if present) is truthy per @truthy (NULL/0 = defaults). Either
 * output pointer may be NULL.
 * @err (may be NULL) receives "path:line:col: message", e.g.
 * "output/x.csv:17:4: unterminated quoted field" or
 * "output/x.csv:1: missing required column \"nmdp_overlap\"".
 * Return: 0; RS_CSV_E_SYNTAX, RS_CSV_E_COLUMNS, RS_CSV_E_TOO_BIG or
 * RS_CSV_E_HEADER; negative errno if the file cannot be read (err filled).
 */
int rs_csv_verify(const char *path, const char *const *required_cols, size_t ncols, const char *const *truthy,
                  size_t ntruthy, size_t *rows, size_t *overlaps, char *err, size_t errlen);
