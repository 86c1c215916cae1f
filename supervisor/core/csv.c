/* SPDX-License-Identifier: MIT */
/*
 * Strict RFC 4180 reader: a byte-at-a-time state machine (with a bulk copy
 * of ordinary runs) that keeps only the current record, tracks the physical
 * line and character column of every byte, and stops at the first error
 * with its position. See csv.h for what is accepted and rejected.
 *
 * It does not decode UTF-8, trim, or interpret values; it does no I/O except
 * in rs_csv_parse_file(), which only reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ralphsup/core/csv.h"
#include "ralphsup/base/util.h"

enum state {
    S_FIELD_START,     /* at the start of a field (or of a record) */
    S_UNQUOTED,        /* inside an unquoted field */
    S_QUOTED,          /* inside a quoted field */
    S_QUOTE_IN_QUOTED, /* saw '"' inside a quoted field: "" or the closing quote */
};

struct rs_csv_parser {
    struct rs_csv_opts o;
    rs_csv_record_fn cb;
    void *ud;
    enum state st;

    /* Current record: field bytes back to back, each NUL-terminated. */
    char *buf;
    size_t len, cap;
    size_t *offs, *lens;
    const char **ptrs;
    size_t nf, capf;
    size_t field_start;
    bool in_record;   /* the current record has begun (a byte other than a line end seen) */
    size_t rec_line;

    /* Position of the next byte. col = characters already seen on the line. */
    size_t line, col;
    bool prev_cr;     /* last byte was CR: a following LF belongs to the same line end */
    size_t qline, qcol;

    size_t nrec;
    size_t header_nf;
    size_t total;
    unsigned nbom;
    bool bom_done;

    int failed;       /* sticky result after an error or a callback stop */
    struct rs_csv_error saved;
};

const char *const rs_csv_default_truthy[] = {"yes", "true", "1", "y"};
const size_t rs_csv_default_ntruthy = 4;

static int fail(struct rs_csv_parser *p, int code, size_t line, size_t col, struct rs_csv_error *err, const char *fmt,
                ...) RS_PRINTF(6, 7);

static int fail(struct rs_csv_parser *p, int code, size_t line, size_t col, struct rs_csv_error *err, const char *fmt,
                ...)
{
    va_list ap;
    p->failed = code;
    p->saved.line = line;
    p->saved.col = col;
    va_start(ap, fmt);
    vsnprintf(p->saved.msg, sizeof(p->saved.msg), fmt, ap);
    va_end(ap);
    if (err)
        *err = p->saved;
    return code;
}

struct rs_csv_parser *rs_csv_parser_new(const struct rs_csv_opts *opts, rs_csv_record_fn cb, void *ud)
{
    struct rs_csv_parser *p = rs_xcalloc(1, sizeof(*p));
    if (opts)
        p->o = *opts;
    if (!p->o.max_field)
        p->o.max_field = RS_CSV_MAX_FIELD_DEFAULT;
    if (!p->o.max_record)
        p->o.max_record = RS_CSV_MAX_RECORD_DEFAULT;
    if (!p->o.max_fields)
        p->o.max_fields = RS_CSV_MAX_FIELDS_DEFAULT;
    if (!p->o.max_file)
        p->o.max_file = RS_CSV_MAX_FILE_DEFAULT;
    p->cb = cb;
    p->ud = ud;
    p->line = 1;
    p->cap = 4096;
    p->buf = rs_xmalloc(p->cap);
    p->capf = 16;
    p->offs = rs_xmalloc(p->capf * sizeof(*p->offs));
    p->lens = rs_xmalloc(p->capf * sizeof(*p->lens));
    p->ptrs = rs_xmalloc(p->capf * sizeof(*p->ptrs));
    return p;
}

struct rs_csv_parser *rs_csv_parser_free(struct rs_csv_parser *p)
{
    if (!p)
        return NULL;
    free(p->buf);
    free(p->offs);
    free(p->lens);
    free(p->ptrs);
    free(p);
    return NULL;
}

size_t rs_csv_parser_records(const struct rs_csv_parser *p)
{
    return p->nrec;
}

static inline bool is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/*
 * The column of @s[@k] (of @n bytes), the first byte over a cap, @s starting
 * right after column p->col: the same whichever way the input was chunked (fuzzing
 * found the column of the run's start reported instead).
 */
static size_t col_at(const struct rs_csv_parser *p, const char *s, size_t n, size_t k)
{
    size_t col = p->col;
    for (size_t i = 0; i <= k && i < n; i++)
        col += !is_cont((unsigned char)s[i]);
    return col;
}

/* Append @n bytes to the current field, enforcing the field and record caps. */
static int append(struct rs_csv_parser *p, const char *s, size_t n, struct rs_csv_error *err)
{
    size_t flen = p->len - p->field_start;
    bool over_field = flen + n > p->o.max_field, over_record = p->len + n + 1 > p->o.max_record;
    if (over_field || over_record) {
        /* The cap crossed first wins, so the error does not depend on how the input was chunked. */
        size_t kf = over_field ? p->o.max_field - flen : SIZE_MAX;
        size_t kr = !over_record ? SIZE_MAX : p->len + 1 < p->o.max_record ? p->o.max_record - 1 - p->len : 0;
        if (kf <= kr)
            return fail(p, RS_CSV_E_TOO_BIG, p->line, col_at(p, s, n, kf), err, "field longer than %zu bytes",
                        p->o.max_field);
        return fail(p, RS_CSV_E_TOO_BIG, p->line, col_at(p, s, n, kr), err, "record longer than %zu bytes",
                    p->o.max_record);
    }
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap;
        while (cap < p->len + n + 1)
            cap *= 2;
        p->buf = rs_xrealloc(p->buf, cap);
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    return 0;
}

static int end_field(struct rs_csv_parser *p, struct rs_csv_error *err)
{
    if (p->nf >= p->o.max_fields)
        return fail(p, RS_CSV_E_TOO_BIG, p->line, p->col, err, "record has more than %zu fields", p->o.max_fields);
    if (p->nf == p->capf) {
        p->capf *= 2;
        p->offs = rs_xrealloc(p->offs, p->capf * sizeof(*p->offs));
        p->lens = rs_xrealloc(p->lens, p->capf * sizeof(*p->lens));
        p->ptrs = rs_xrealloc(p->ptrs, p->capf * sizeof(*p->ptrs));
    }
    p->offs[p->nf] = p->field_start;
    p->lens[p->nf] = p->len - p->field_start;
    p->nf++;
    /* The NUL terminator is not counted against the field cap. */
    if (p->len + 1 > p->cap) {
        p->cap *= 2;
        p->buf = rs_xrealloc(p->buf, p->cap);
    }
    p->buf[p->len++] = '\0';
    p->field_start = p->len;
    return 0;
}

static int end_record(struct rs_csv_parser *p, struct rs_csv_error *err)
{
    if (p->nrec == 0)
        p->header_nf = p->nf;
    else if (!p->o.allow_ragged && p->nf != p->header_nf)
        return fail(p, RS_CSV_E_COLUMNS, p->rec_line, 0, err, "record has %zu field%s, the header has %zu", p->nf,
                    p->nf == 1 ? "" : "s", p->header_nf);
    for (size_t i = 0; i < p->nf; i++)
        p->ptrs[i] = p->buf + p->offs[i];
    struct rs_csv_record rec = {
        .index = p->nrec, .line = p->rec_line, .nfields = p->nf, .fields = p->ptrs, .lens = p->lens,
    };
    p->nrec++;
    int r = p->cb ? p->cb(p->ud, &rec) : 0;
    p->len = 0;
    p->nf = 0;
    p->field_start = 0;
    p->in_record = false;
    if (r != 0) {
        p->failed = r;
        p->saved.line = rec.line;
        p->saved.col = 0;
        snprintf(p->saved.msg, sizeof(p->saved.msg), "stopped by the caller");
    }
    return r;
}

static int process(struct rs_csv_parser *p, const char *data, size_t len, struct rs_csv_error *err)
{
    size_t i = 0;
    int r;
    while (i < len) {
        unsigned char c = (unsigned char)data[i];

        /* The LF of a CRLF: the line was already counted at the CR. */
        if (c == '\n' && p->prev_cr) {
            p->prev_cr = false;
            i++;
            if (p->st == S_QUOTED && (r = append(p, "\n", 1, err)) != 0)
                return r;
            continue;
        }

        /* Bulk copy of a run of ordinary bytes inside a field. */
        if (p->st == S_UNQUOTED || p->st == S_QUOTED) {
            size_t j = i;
            size_t chars = 0;
            if (p->st == S_UNQUOTED) {
                while (j < len && data[j] != ',' && data[j] != '"' && data[j] != '\r' && data[j] != '\n')
                    chars += !is_cont((unsigned char)data[j++]);
            } else {
                while (j < len && data[j] != '"' && data[j] != '\r' && data[j] != '\n')
                    chars += !is_cont((unsigned char)data[j++]);
            }
            if (j > i) {
                if ((r = append(p, data + i, j - i, err)) != 0)
                    return r;
                p->col += chars;
                p->prev_cr = false;
                i = j;
                continue;
            }
        }

        bool eol = c == '\r' || c == '\n';
        size_t ccol = p->col + !is_cont(c);
        p->prev_cr = c == '\r';
        switch (p->st) {
        case S_FIELD_START:
            if (eol) {
                if (p->in_record) {
                    if ((r = end_field(p, err)) != 0 || (r = end_record(p, err)) != 0)
                        return r;
                }
                /* else: an empty line is not a record. */
                break;
            }
            if (!p->in_record) {
                p->in_record = true;
                p->rec_line = p->line;
            }
            if (c == '"') {
                p->st = S_QUOTED;
                p->qline = p->line;
                p->qcol = ccol;
            } else if (c == ',') {
                if ((r = end_field(p, err)) != 0)
                    return r;
            } else {
                if ((r = append(p, (const char *)&data[i], 1, err)) != 0)
                    return r;
                p->st = S_UNQUOTED;
            }
            break;
        case S_UNQUOTED:
            if (c == ',') {
                if ((r = end_field(p, err)) != 0)
                    return r;
                p->st = S_FIELD_START;
            } else if (eol) {
                p->st = S_FIELD_START;
                if ((r = end_field(p, err)) != 0 || (r = end_record(p, err)) != 0)
                    return r;
            } else {
                /* Only '"' reaches here: the bulk copy took everything else. */
                return fail(p, RS_CSV_E_SYNTAX, p->line, ccol, err,
                            "quote inside an unquoted field (quote the whole field and double the quote)");
            }
            break;
        case S_QUOTED:
            if (c == '"') {
                p->st = S_QUOTE_IN_QUOTED;
            } else if ((r = append(p, (const char *)&data[i], 1, err)) != 0) {
                return r;
            }
            break;
        case S_QUOTE_IN_QUOTED:
            if (c == '"') {
                if ((r = append(p, "\"", 1, err)) != 0)
                    return r;
                p->st = S_QUOTED;
            } else if (c == ',') {
                if ((r = end_field(p, err)) != 0)
                    return r;
                p->st = S_FIELD_START;
            } else if (eol) {
                p->st = S_FIELD_START;
                if ((r = end_field(p, err)) != 0 || (r = end_record(p, err)) != 0)
                    return r;
            } else {
                return fail(p, RS_CSV_E_SYNTAX, p->line, ccol, err, "unexpected character after a closing quote");
            }
            break;
        }
        if (eol) {
            p->line++;
            p->col = 0;
        } else {
            p->col = ccol;
        }
        i++;
    }
    return 0;
}

static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};

int rs_csv_parser_feed(struct rs_csv_parser *p, const char *data, size_t len, struct rs_csv_error *err)
{
    if (p->failed) {
        if (err)
            *err = p->saved;
        return p->failed;
    }
    if (len > p->o.max_file - p->total) {
        /*
         * Parse what fits first: an error in it comes first, and the cap is
         * reported on the line where it is crossed, whatever the chunking
         * (fuzzing found the outcome depending on it).
         */
        size_t fit = p->o.max_file - p->total;
        int r = fit ? rs_csv_parser_feed(p, data, fit, err) : 0;
        if (r)
            return r;
        return fail(p, RS_CSV_E_TOO_BIG, p->line, 0, err, "input larger than %zu bytes", p->o.max_file);
    }
    p->total += len;
    while (!p->bom_done && len > 0) {
        if ((unsigned char)*data == bom[p->nbom]) {
            p->nbom++;
            data++;
            len--;
            if (p->nbom == 3)
                p->bom_done = true;
        } else {
            /* Not a BOM after all: the swallowed bytes are data. */
            p->bom_done = true;
            if (p->nbom) {
                int r = process(p, (const char *)bom, p->nbom, err);
                if (r)
                    return r;
            }
        }
    }
    return process(p, data, len, err);
}

int rs_csv_parser_finish(struct rs_csv_parser *p, struct rs_csv_error *err)
{
    int r;
    if (p->failed) {
        if (err)
            *err = p->saved;
        return p->failed;
    }
    if (!p->bom_done) {
        p->bom_done = true;
        if (p->nbom && (r = process(p, (const char *)bom, p->nbom, err)) != 0)
            return r;
    }
    switch (p->st) {
    case S_QUOTED:
        return fail(p, RS_CSV_E_SYNTAX, p->qline, p->qcol, err, "unterminated quoted field");
    case S_UNQUOTED:
    case S_QUOTE_IN_QUOTED:
        p->st = S_FIELD_START;
        if ((r = end_field(p, err)) != 0 || (r = end_record(p, err)) != 0)
            return r;
        break;
    case S_FIELD_START:
        if (p->in_record && ((r = end_field(p, err)) != 0 || (r = end_record(p, err)) != 0))
            return r;
        break;
    }
    return 0;
}

int rs_csv_parse_buffer(const char *data, size_t len, const struct rs_csv_opts *opts, rs_csv_record_fn cb, void *ud,
                        struct rs_csv_error *err)
{
    struct rs_csv_parser *p = rs_csv_parser_new(opts, cb, ud);
    int r = rs_csv_parser_feed(p, data, len, err);
    if (r == 0)
        r = rs_csv_parser_finish(p, err);
    rs_csv_parser_free(p);
    return r;
}

int rs_csv_parse_file(const char *path, const struct rs_csv_opts *opts, rs_csv_record_fn cb, void *ud,
                      struct rs_csv_error *err)
{
    struct rs_csv_error dummy;
    if (!err)
        err = &dummy;
    /* O_NONBLOCK: opening a FIFO without a writer must not block; only regular files are read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        err->line = err->col = 0;
        snprintf(err->msg, sizeof(err->msg), "cannot open: %s", strerror(e));
        return -e;
    }
    struct stat fst;
    if (fstat(fd, &fst) == 0 && !S_ISREG(fst.st_mode)) {
        close(fd);
        err->line = err->col = 0;
        snprintf(err->msg, sizeof(err->msg), "not a regular file");
        return -EINVAL;
    }
    struct rs_csv_parser *p = rs_csv_parser_new(opts, cb, ud);
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > p->o.max_file) {
        r = fail(p, RS_CSV_E_TOO_BIG, 0, 0, err, "file is %lld bytes, more than the %zu byte cap",
                 (long long)st.st_size, p->o.max_file);
        goto out;
    }
    char *chunk = rs_xmalloc(65536);
    for (;;) {
        ssize_t n = read(fd, chunk, 65536);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            err->line = p->line;
            err->col = 0;
            snprintf(err->msg, sizeof(err->msg), "read error: %s", strerror(-r));
            break;
        }
        if (n == 0) {
            r = rs_csv_parser_finish(p, err);
            break;
        }
        if ((r = rs_csv_parser_feed(p, chunk, (size_t)n, err)) != 0)
            break;
    }
    free(chunk);
out:
    close(fd);
    rs_csv_parser_free(p);
    return r;
}

const char *rs_csv_error_format(const char *file, const struct rs_csv_error *err, char *buf, size_t n)
{
    if (err->line && err->col)
        snprintf(buf, n, "%s:%zu:%zu: %s", file, err->line, err->col, err->msg);
    else if (err->line)
        snprintf(buf, n, "%s:%zu: %s", file, err->line, err->msg);
    else
        snprintf(buf, n, "%s: %s", file, err->msg);
    return buf;
}

/* ---- header names and truthy values ------------------------------------ */

static bool eq_ci(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word);
    if (wl != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)word[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b + 32);
        if (a != b)
            return false;
    }
    return true;
}

bool rs_csv_name_eq(const char *s, size_t len, const char *name)
{
    rs_trim_blanks(&s, &len);
    return eq_ci(s, len, name);
}

bool rs_csv_is_truthy(const char *s, size_t len, const char *const *truthy, size_t n)
{
    if (!truthy || n == 0) {
        truthy = rs_csv_default_truthy;
        n = rs_csv_default_ntruthy;
    }
    rs_trim_blanks(&s, &len);
    if (len == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (eq_ci(s, len, truthy[i]))
            return true;
    return false;
}

/* ---- verify --------------------------------------------------------------- */

enum { VERIFY_STOP_HEADER = 1000 };

struct verify_ctx {
    const char *const *req;
    size_t nreq;
    const char *const *truthy;
    size_t ntruthy;
    size_t overlap_col; /* SIZE_MAX when there is none */
    size_t rows, overlaps;
    const char *missing;
    size_t header_line;
};

static int verify_cb(void *ud, const struct rs_csv_record *rec)
{
    struct verify_ctx *v = ud;
    if (rec->index == 0) {
        v->header_line = rec->line;
        for (size_t i = 0; i < v->nreq; i++) {
            bool found = false;
            for (size_t j = 0; j < rec->nfields && !found; j++)
                found = rs_csv_name_eq(rec->fields[j], rec->lens[j], v->req[i]);
            if (!found) {
                v->missing = v->req[i];
                return VERIFY_STOP_HEADER;
            }
        }
        for (size_t j = 0; j < rec->nfields; j++) {
            if (rs_csv_name_eq(rec->fields[j], rec->lens[j], "nmdp_overlap")) {
                v->overlap_col = j;
                break;
            }
        }
        return 0;
    }
    v->rows++;
    if (v->overlap_col != (size_t)-1 &&
        rs_csv_is_truthy(rec->fields[v->overlap_col], rec->lens[v->overlap_col], v->truthy, v->ntruthy))
        v->overlaps++;
    return 0;
}

int rs_csv_verify(const char *path, const char *const *required_cols, size_t ncols, const char *const *truthy,
                  size_t ntruthy, size_t *rows, size_t *overlaps, char *err, size_t errlen)
{
    struct verify_ctx v = {
        .req = required_cols, .nreq = ncols, .truthy = truthy, .ntruthy = ntruthy, .overlap_col = (size_t)-1,
    };
    struct rs_csv_error e = {0};
    int r = rs_csv_parse_file(path, NULL, verify_cb, &v, &e);
    if (r == VERIFY_STOP_HEADER) {
        r = RS_CSV_E_HEADER;
        e.line = v.header_line;
        e.col = 0;
        snprintf(e.msg, sizeof(e.msg), "missing required column \"%s\"", v.missing);
    } else if (r == 0 && v.header_line == 0) {
        r = RS_CSV_E_HEADER;
        e.line = e.col = 0;
        snprintf(e.msg, sizeof(e.msg), "empty file: no header row");
    }
    if (r != 0) {
        if (err && errlen)
            rs_csv_error_format(path, &e, err, errlen);
        return r;
    }
    if (err && errlen)
        err[0] = '\0';
    if (rows)
        *rows = v.rows;
    if (overlaps)
        *overlaps = v.overlaps;
    return 0;
}
