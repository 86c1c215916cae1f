/* SPDX-License-Identifier: MIT */
/*
 * The batch report. One pass over the inputs: every per-school CSV is
 * streamed through the strict CSV reader, each row is sanitised once and
 * written to the master CSV, the Leads sheet and (when warm) the Warm leads
 * sheet as it arrives; libxlsxwriter runs in constant_memory mode, so memory
 * does not grow with the number of rows. The Summary sheet is the first tab
 * but is filled last, when every total is known (constant_memory only needs
 * rows in ascending order per sheet, not sheets in order).
 *
 * Policy decisions (also in docs/report.md):
 * - the only inputs are the CSVs that completed schools name in the progress
 *   file, in progress order; the report's own outputs (master_report_*) are
 *   never read, wherever they were written. Every other *.csv in output_dir
 *   (sorted by name) is listed with a note "not in progress file" but not
 *   read, so a stray or earlier file cannot inflate the counts;
 * - a file that stops parsing keeps the rows before the error; the error
 *   goes to the Problems sheet with file:line:col and the result is partial;
 * - a file missing one of the nine lead columns is skipped (nothing to map)
 *   and listed; the six evidence columns may be absent (a CSV accepted at
 *   [verify] level "counts"): their cells stay empty;
 * - the master CSV carries the same (sanitised) cells as the workbook, plus
 *   the OWASP formula prefix when report_csv_escape_formulas is set;
 * - the Warm leads sheet ends with an "audit" column: the lead's result in
 *   output_dir/audit.json (`ralphsup audit`, looked up by school and coach
 *   name), else "not audited"; an unreadable audit.json is a note.
 *
 * Speed (docs/report.md, "Performance"): cells that need no change are used
 * in place, the master CSV is written in 64 KiB pieces, and libxlsxwriter's
 * per-cell work on the two lead sheets runs in one helper thread that
 * overlaps with the reading. Most of the time is inside libxlsxwriter
 * (deflate at workbook_close), which this module cannot change.
 *
 * Does not touch libuv, git or the progress file; never prints.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "ralphsup/core/config.h"
#include "ralphsup/core/csv.h"
#include "ralphsup/store/auditfile.h"
#include "ralphsup/store/progress.h"
#include "ralphsup/report/report.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

#if LXW_VERSION_ID < 114
#error "libxlsxwriter >= 1.1.4 is required"
#endif

enum { COL_COACH = 1, COL_OVERLAP = 6 };

/* Callback value that stops reading a file whose header cannot be mapped. */
enum { STOP_FILE = 1000 };

#define CELL_MAX 32767              /* Excel's limit on characters in a cell */
#define ROW_LAST 1048575u           /* last 0-based row of a worksheet */
#define PROBLEMS_MAX 100000         /* entries kept; the rest are only counted */
#define CSV_FLUSH (64u * 1024)      /* master-CSV bytes gathered before one fwrite */
#define TMP_MARGIN (4u << 20)       /* room for the workbook's small parts at close */

static const double leads_widths[RS_REPORT_NCOLS] = {28, 24, 28, 18, 30, 16, 13, 50, 40, 40, 50, 12, 12, 11, 15};

/* ---- cell sanitising ---------------------------------------------------- */

static void put_utf8(struct rs_buf *b, unsigned cp)
{
    char t[4];
    rs_buf_append(b, t, rs_utf8_encode(cp, t));
}

/*
 * Decode one UTF-8 sequence at @s (@len > 0 bytes left). Returns the bytes
 * consumed and sets *cp, or *cp = 0xFFFFFFFF for an ill-formed sequence, in
 * which case the maximal valid prefix is consumed (Unicode's "substitution of
 * maximal subparts", the same as Python's errors="replace").
 */
static size_t decode(const unsigned char *s, size_t len, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    uint32_t v = 0;
    size_t bad = 1, k = rs_utf8_decode(s, len, &v);
    if (k) {
        *cp = v;
        return k;
    }
    rs_utf8_seq(s, len, &bad);
    *cp = 0xFFFFFFFFu;
    return bad;
}

static bool xml_legal(unsigned cp)
{
    if (cp < 0x20)
        return cp == 0x09 || cp == 0x0A || cp == 0x0D;
    return cp != 0xFFFE && cp != 0xFFFF;
}

/* "_xHHHH_" at @s: Excel would decode it, so the workbook escapes its '_'. */
static bool is_xesc(const char *s, size_t len)
{
    if (len < 7 || s[0] != '_' || (s[1] != 'x' && s[1] != 'X') || s[6] != '_')
        return false;
    for (int i = 2; i < 6; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/*
 * Fast test for the common case: a cell that rs_report_sanitize() would copy
 * unchanged (well-formed UTF-8, no XML-illegal character, short enough) is
 * used as it is, without a copy. Up to CELL_MAX / 2 bytes nothing can need a
 * cut: a byte is at most one UTF-16 unit, and the "_x" escaping at most
 * doubles the character count. Runs of printable ASCII are checked eight
 * bytes at a time.
 */
static bool clean_as_is(const char *s, size_t len)
{
    if (len > CELL_MAX / 2)
        return false;
    const unsigned char *u = (const unsigned char *)s;
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            /* No byte >= 0x80 and none below 0x20: all printable ASCII. */
            if (!(w & highs) && ((w + ones * 0x60) & highs) == highs) {
                i += 8;
                continue;
            }
        }
        unsigned c = u[i];
        if (c >= 0x20 && c < 0x80) {
            i++;
        } else if (c < 0x20) {
            if (c != '\t' && c != '\n' && c != '\r')
                return false;
            i++;
        } else {
            unsigned cp;
            size_t n = decode(u + i, len - i, &cp);
            if (cp == 0xFFFFFFFFu || !xml_legal(cp))
                return false;
            i += n;
        }
    }
    return true;
}

void rs_report_sanitize(const char *s, size_t len, struct rs_buf *out, size_t *replaced, size_t *truncated)
{
    rs_buf_reset(out);
    rs_buf_cstr(out);
    const unsigned char *u = (const unsigned char *)s;
    size_t units = 0;  /* UTF-16 units: what Excel counts */
    size_t cps = 0;    /* code points after the workbook's "_x" escaping: what libxlsxwriter counts */
    size_t i = 0;
    size_t run = 0;    /* start of the run of good bytes not yet copied */
    while (i < len) {
        unsigned cp;
        size_t n = decode(u + i, len - i, &cp);
        bool bad = cp == 0xFFFFFFFFu || !xml_legal(cp);
        if (bad)
            cp = 0xFFFD;
        size_t du = cp >= 0x10000 ? 2 : 1;
        size_t dc = 1 + (cp == '_' && is_xesc(s + i, len - i) ? 6 : 0);
        if (units + du > CELL_MAX || cps + dc > CELL_MAX) {
            if (truncated)
                (*truncated)++;
            break;
        }
        units += du;
        cps += dc;
        if (bad) {
            rs_buf_append(out, s + run, i - run);
            run = i + n;
            if (replaced)
                (*replaced)++;
            put_utf8(out, cp);
        }
        i += n;
    }
    rs_buf_append(out, s + run, i - run);
    rs_buf_cstr(out);
}

/* The sanitised view of a cell: either the input itself or @scratch. */
static void clean(const char *s, size_t len, struct rs_buf *scratch, const char **o, size_t *olen, size_t *replaced,
                  size_t *truncated)
{
    if (clean_as_is(s, len)) {
        *o = s;
        *olen = len;
        return;
    }
    rs_report_sanitize(s, len, scratch, replaced, truncated);
    *o = rs_buf_cstr(scratch);
    *olen = scratch->len;
}

/* The text given to libxlsxwriter: "_xHHHH_" runs get their '_' escaped. */
static const char *xlsx_text(const char *s, size_t len, struct rs_buf *scratch)
{
    const char *p = memchr(s, '_', len);
    if (!p)
        return s;
    bool any = false;
    for (; p; p = memchr(p + 1, '_', len - (size_t)(p + 1 - s))) {
        if (is_xesc(p, len - (size_t)(p - s))) {
            any = true;
            break;
        }
        if ((size_t)(p + 1 - s) >= len)
            break;
    }
    if (!any)
        return s;
    rs_buf_reset(scratch);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_' && is_xesc(s + i, len - i))
            rs_buf_puts(scratch, "_x005F");
        rs_buf_putc(scratch, s[i]);
    }
    return rs_buf_cstr(scratch);
}

/* ---- state of one generation ------------------------------------------- */

struct problem {
    char *file;
    size_t line, col;
    char *msg;
    bool note;
};

/* One school / input file. */
struct unit {
    const char *name;                  /* borrowed (progress) or owned (name_owned) */
    char *name_owned;
    const char *status;                /* "completed", or "not in progress file (not read)" */
    const struct rs_school_state *st;  /* NULL for pending without history / extra files */
    char *path;                        /* absolute, normalised; NULL = no file */
    char *display;                     /* path as shown (relative to root when inside) */
    bool duplicate;                    /* same file as an earlier unit: not read again */
    bool read;
    size_t rows, warm;
};

struct gen {
    const struct rs_config *cfg;
    const struct rs_progress *prog;
    char *prog_display;        /* the progress file as shown in problems ("" when unknown) */
    struct rs_report_summary *sum;

    const char *const *truthy;
    size_t ntruthy;
    bool escape;

    lxw_workbook *wb;
    lxw_worksheet *ws_summary, *ws_leads, *ws_warm, *ws_failed, *ws_run, *ws_problems;
    lxw_format *f_head, *f_bold, *f_money, *f_num1;
    lxw_error lxw_err;         /* first libxlsxwriter error */
    FILE *csv;
    struct rs_buf out;         /* master-CSV records not yet handed to csv */
    int csv_err;               /* first write error on csv (-errno) */

    struct writer *w;               /* the Leads / Warm leads writer (thread) */
    uint32_t leads_row, warm_row;   /* next row to write (0 = header) */
    size_t leads_overflow, warm_overflow;

    struct unit *units;
    size_t nunits, capunits;

    struct rs_auditfile *audit;     /* output_dir/audit.json, or NULL */

    struct problem *probs;
    size_t nprobs, capprobs;

    /* per-row scratch */
    struct rs_buf cell[RS_REPORT_NCOLS];
    const char *val[RS_REPORT_NCOLS];
    size_t vlen[RS_REPORT_NCOLS];

    /* per-file parse state */
    struct unit *cur;
    size_t map[RS_REPORT_NCOLS];
    bool skip_file;
    bool header_seen;
};

static void add_problem(struct gen *g, bool note, const char *file, size_t line, size_t col, const char *fmt, ...)
    RS_PRINTF(6, 7);

static void add_problem(struct gen *g, bool note, const char *file, size_t line, size_t col, const char *fmt, ...)
{
    if (note)
        g->sum->notes++;
    else
        g->sum->errors++;
    if (g->nprobs >= PROBLEMS_MAX)
        return;
    g->probs = rs_xgrow(g->probs, g->nprobs, &g->capprobs, sizeof(*g->probs), 16);
    struct problem *p = &g->probs[g->nprobs++];
    va_list ap;
    va_start(ap, fmt);
    p->msg = rs_xvasprintf(fmt, ap);
    va_end(ap);
    p->file = rs_xstrdup(file ? file : "");
    p->line = line;
    p->col = col;
    p->note = note;
}

static struct unit *add_unit(struct gen *g)
{
    g->units = rs_xgrow(g->units, g->nunits, &g->capunits, sizeof(*g->units), 64);
    struct unit *u = &g->units[g->nunits++];
    memset(u, 0, sizeof(*u));
    return u;
}

/* Path as shown to the user: relative to the batch root when inside it. */
static char *display_path(const struct rs_config *cfg, const char *abs)
{
    if (cfg->root && rs_path_is_inside(cfg->root, abs)) {
        size_t rl = strlen(cfg->root);
        const char *rest = abs + rl;
        while (*rest == '/')
            rest++;
        if (*rest)
            return rs_xstrdup(rest);
    }
    return rs_xstrdup(abs);
}

static void note_lxw(struct gen *g, lxw_error e)
{
    if (e != LXW_NO_ERROR && g->lxw_err == LXW_NO_ERROR)
        g->lxw_err = e;
}

static void w_str(struct gen *g, lxw_worksheet *ws, uint32_t r, uint16_t c, const char *s, lxw_format *f)
{
    if (!s || !*s)
        return;
    note_lxw(g, worksheet_write_string(ws, r, c, s, f));
}

static void w_num(struct gen *g, lxw_worksheet *ws, uint32_t r, uint16_t c, double v, lxw_format *f)
{
    /* NaN/Inf would be written as-is and Excel would call the file damaged. */
    if (!isfinite(v))
        return;
    note_lxw(g, worksheet_write_number(ws, r, c, v, f));
}

/* Plain text of ours (labels, names from the progress file), sanitised too. */
static void w_text(struct gen *g, lxw_worksheet *ws, uint32_t r, uint16_t c, const char *s, lxw_format *f)
{
    if (!s || !*s)
        return;
    struct rs_buf b;
    rs_buf_init(&b);
    rs_report_sanitize(s, strlen(s), &b, NULL, NULL);
    struct rs_buf x;
    rs_buf_init(&x);
    w_str(g, ws, r, c, xlsx_text(rs_buf_cstr(&b), b.len, &x), f);
    rs_buf_deinit(&x);
    rs_buf_deinit(&b);
}

/*
 * The report on paper (docs/report.md, "Printing"): the Summary fits one
 * page wide (as many pages down as it needs); the lead sheets print in
 * landscape with their header row repeated on every page.
 */
static void print_setup(struct gen *g)
{
    worksheet_fit_to_pages(g->ws_summary, 1, 0);
    lxw_worksheet *const lists[] = {g->ws_leads, g->ws_warm, g->ws_failed, g->ws_run};
    for (size_t i = 0; i < RS_ARRAY_SIZE(lists); i++) {
        worksheet_set_landscape(lists[i]);
        note_lxw(g, worksheet_repeat_rows(lists[i], 0, 0));
    }
}

static void header_row(struct gen *g, lxw_worksheet *ws, const char *const *names, size_t n, const double *widths)
{
    for (size_t i = 0; i < n; i++) {
        w_str(g, ws, 0, (uint16_t)i, names[i], g->f_head);
        if (widths)
            note_lxw(g, worksheet_set_column(ws, (uint16_t)i, (uint16_t)i, widths[i], NULL));
    }
}

/* ---- master CSV ------------------------------------------------------------ */

static void csv_flush(struct gen *g)
{
    if (g->out.len && fwrite(g->out.data, 1, g->out.len, g->csv) != g->out.len && !g->csv_err)
        g->csv_err = errno ? -errno : -EIO;
    rs_buf_reset(&g->out);
}

/* Bytes that force a CSV field into quotes (besides a leading or trailing space). */
static const bool csv_special[256] = {[','] = true, ['"'] = true, ['\n'] = true, ['\r'] = true};

/* Append one master-CSV field to the pending output g->out. */
static void csv_cell(struct gen *g, const char *s, size_t len, bool data)
{
    struct rs_buf *o = &g->out;
    bool prefix = false;
    if (data && g->escape && len > 0 &&
        (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r')) {
        prefix = true;
        g->sum->escaped++;
    }
    bool quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
    for (size_t i = 0; i < len && !quote; i++)
        quote = csv_special[(unsigned char)s[i]];
    if (!quote && !prefix) {
        rs_buf_append(o, s, len);
        return;
    }
    if (!quote) {
        rs_buf_putc(o, '\'');
        rs_buf_append(o, s, len);
        return;
    }
    rs_buf_append(o, prefix ? "\"'" : "\"", prefix ? 2 : 1);
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) {
            rs_buf_append(o, p, (size_t)(end - p));
            break;
        }
        rs_buf_append(o, p, (size_t)(q - p + 1));
        rs_buf_putc(o, '"');
        p = q + 1;
    }
    rs_buf_putc(o, '"');
}

/* End a master-CSV record; the pending output goes to the file in 64 KiB pieces. */
static void csv_end_record(struct gen *g)
{
    rs_buf_append(&g->out, "\r\n", 2);
    if (g->out.len >= CSV_FLUSH)
        csv_flush(g);
}

/* ---- reading one input file ------------------------------------------------ */

/* ---- the sheet writer thread ------------------------------------------------ */

/*
 * libxlsxwriter's per-cell work on the Leads and Warm leads sheets runs in a
 * second thread, so reading and checking the next rows overlaps with it. The
 * reader packs each row into a batch; full batches go, in order, to the
 * writer, the only thread that calls libxlsxwriter between writer_start()
 * and writer_finish(). Memory stays bounded: at most WQ_BATCHES batches of
 * about WQ_BATCH bytes exist (a batch holds at least one row). If the thread
 * cannot be started, batches are written in the calling thread instead.
 *
 * A packed row: uint32 Leads row, uint32 Warm leads row (0 = not written
 * there: row 0 is the header), then per column uint32 length, the bytes and
 * a NUL, then the same for the audit cell (Warm leads only).
 */
#define WQ_BATCH (256u * 1024)
#define WQ_BATCHES 4

struct wbatch {
    struct rs_buf data;
    struct wbatch *next;
};

struct writer {
    lxw_worksheet *leads, *warm;
    pthread_t thread;
    bool threaded;
    pthread_mutex_t mu;
    pthread_cond_t cv;                 /* a batch was queued or freed, or done */
    struct wbatch *full, *full_tail;   /* queued for the writer, oldest first */
    struct wbatch *spare;              /* written, free for reuse */
    struct wbatch *cur;                /* being filled by the reader */
    size_t nbatches;
    bool done;
    struct rs_buf xbuf;                /* writer's scratch for xlsx_text() */
    lxw_error err;                     /* writer's first libxlsxwriter error */
};

static void put_u32(struct rs_buf *b, uint32_t v)
{
    rs_buf_append(b, &v, sizeof(v));
}

static uint32_t get_u32(const char **p)
{
    uint32_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}

static void write_batch(struct writer *w, const struct wbatch *b)
{
    const char *p = b->data.data, *end = p + b->data.len;
    while (p < end) {
        uint32_t lr = get_u32(&p), wr = get_u32(&p);
        for (uint16_t c = 0; c < RS_REPORT_NCOLS; c++) {
            uint32_t len = get_u32(&p);
            if (len) {
                const char *t = xlsx_text(p, len, &w->xbuf);
                lxw_error e = lr ? worksheet_write_string(w->leads, lr, c, t, NULL) : LXW_NO_ERROR;
                if (e == LXW_NO_ERROR && wr)
                    e = worksheet_write_string(w->warm, wr, c, t, NULL);
                if (e != LXW_NO_ERROR && w->err == LXW_NO_ERROR)
                    w->err = e;
            }
            p += len + 1;
        }
        uint32_t alen = get_u32(&p);
        if (alen && wr) {
            lxw_error e = worksheet_write_string(w->warm, wr, RS_REPORT_NCOLS, p, NULL);
            if (e != LXW_NO_ERROR && w->err == LXW_NO_ERROR)
                w->err = e;
        }
        p += alen + 1;
    }
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->full && !w->done)
            pthread_cond_wait(&w->cv, &w->mu);
        struct wbatch *b = w->full;
        if (!b)
            break;
        w->full = b->next;
        if (!w->full)
            w->full_tail = NULL;
        pthread_mutex_unlock(&w->mu);
        write_batch(w, b);
        rs_buf_reset(&b->data);
        pthread_mutex_lock(&w->mu);
        b->next = w->spare;
        w->spare = b;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static struct writer *writer_start(lxw_worksheet *leads, lxw_worksheet *warm)
{
    struct writer *w = rs_xcalloc(1, sizeof(*w));
    w->leads = leads;
    w->warm = warm;
    w->cur = rs_xcalloc(1, sizeof(*w->cur));
    w->nbatches = 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->threaded = pthread_create(&w->thread, NULL, writer_main, w) == 0;
    return w;
}

/* Hand the current batch to the writer and get an empty one. */
static void writer_push(struct writer *w)
{
    if (!w->threaded) {
        write_batch(w, w->cur);
        rs_buf_reset(&w->cur->data);
        return;
    }
    pthread_mutex_lock(&w->mu);
    if (w->full_tail)
        w->full_tail->next = w->cur;
    else
        w->full = w->cur;
    w->full_tail = w->cur;
    w->cur->next = NULL;
    pthread_cond_broadcast(&w->cv);
    while (!w->spare && w->nbatches >= WQ_BATCHES)
        pthread_cond_wait(&w->cv, &w->mu);
    struct wbatch *b = w->spare;
    if (b)
        w->spare = b->next;
    else
        w->nbatches++;
    pthread_mutex_unlock(&w->mu);
    w->cur = b ? b : rs_xcalloc(1, sizeof(*b));
}

/* Queue one row for row @lr of Leads and (when not 0) row @wr of Warm leads, with its @audit cell there. */
static void writer_row(struct writer *w, uint32_t lr, uint32_t wr, const char *const *val, const size_t *vlen,
                       const char *audit)
{
    struct rs_buf *b = &w->cur->data;
    put_u32(b, lr);
    put_u32(b, wr);
    for (size_t c = 0; c < RS_REPORT_NCOLS; c++) {
        put_u32(b, (uint32_t)vlen[c]);
        rs_buf_append(b, val[c], vlen[c]);
        rs_buf_putc(b, '\0');
    }
    size_t alen = audit ? strlen(audit) : 0;
    put_u32(b, (uint32_t)alen);
    rs_buf_append(b, audit ? audit : "", alen);
    rs_buf_putc(b, '\0');
    if (b->len >= WQ_BATCH)
        writer_push(w);
}

/*
 * Write what is queued, stop the thread and free the writer.
 * Return: the writer's first libxlsxwriter error (LXW_NO_ERROR if none).
 */
static lxw_error writer_finish(struct writer *w)
{
    if (!w)
        return LXW_NO_ERROR;
    if (w->cur->data.len)
        writer_push(w);
    if (w->threaded) {
        pthread_mutex_lock(&w->mu);
        w->done = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    lxw_error e = w->err;
    struct wbatch *lists[] = {w->cur, w->spare, w->full};
    for (size_t i = 0; i < RS_ARRAY_SIZE(lists); i++) {
        for (struct wbatch *b = lists[i], *next; b; b = next) {
            next = i == 0 ? NULL : b->next;
            rs_buf_deinit(&b->data);
            free(b);
        }
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    rs_buf_deinit(&w->xbuf);
    free(w);
    return e;
}

/*
 * The audit cell of the current (warm) row: its result in audit.json, by
 * the school's progress name and the trimmed coach_name; counts verified.
 */
static const char *audit_result(struct gen *g, const struct unit *u)
{
    if (!g->audit)
        return "not audited";
    const char *c = g->val[COL_COACH];
    size_t n = g->vlen[COL_COACH];
    rs_trim_blanks(&c, &n);
    char *coach = rs_xstrndup(c, n);
    const struct rs_audit_lead *l = rs_auditfile_find(g->audit, u->name, coach);
    free(coach);
    if (!l || !l->result)
        return "not audited";
    if (rs_evidence_result_parse(l->result) == RS_EVIDENCE_VERIFIED)
        g->sum->verified++;
    return l->result;
}

static int row_cb(void *ud, const struct rs_csv_record *rec)
{
    struct gen *g = ud;
    struct unit *u = g->cur;
    if (rec->index == 0) {
        g->header_seen = true;
        const char *missing[RS_REPORT_NCOLS];
        size_t nmissing = 0;
        for (size_t k = 0; k < RS_REPORT_NCOLS; k++) {
            g->map[k] = (size_t)-1;
            for (size_t j = 0; j < rec->nfields; j++) {
                if (!rs_csv_name_eq(rec->fields[j], rec->lens[j], rs_report_columns[k]))
                    continue;
                if (g->map[k] == (size_t)-1)
                    g->map[k] = j;
                else
                    add_problem(g, true, u->display, rec->line, j + 1,
                                "duplicate column \"%s\": the first one is used", rs_report_columns[k]);
            }
            if (g->map[k] == (size_t)-1 && k < RS_REPORT_NREQUIRED)
                missing[nmissing++] = rs_report_columns[k];
        }
        if (nmissing) {
            struct rs_buf b;
            rs_buf_init(&b);
            for (size_t k = 0; k < nmissing; k++)
                rs_buf_printf(&b, "%s\"%s\"", k ? ", " : "", missing[k]);
            add_problem(g, false, u->display, rec->line, 0, "missing required column%s %s; file skipped",
                        nmissing > 1 ? "s" : "", rs_buf_cstr(&b));
            rs_buf_deinit(&b);
            g->skip_file = true;
            return STOP_FILE;
        }
        struct rs_buf extra;
        rs_buf_init(&extra);
        size_t nextra = 0;
        for (size_t j = 0; j < rec->nfields; j++) {
            bool known = false;
            for (size_t k = 0; k < RS_REPORT_NCOLS && !known; k++)
                known = g->map[k] == j;
            if (!known) {
                struct rs_buf clean_name;
                rs_buf_init(&clean_name);
                rs_report_sanitize(rec->fields[j], rec->lens[j] > 64 ? 64 : rec->lens[j], &clean_name, NULL, NULL);
                rs_buf_printf(&extra, "%s\"%s\"", nextra++ ? ", " : "", rs_buf_cstr(&clean_name));
                rs_buf_deinit(&clean_name);
            }
        }
        if (nextra)
            add_problem(g, true, u->display, rec->line, 0, "extra column%s ignored: %s", nextra > 1 ? "s" : "",
                        rs_buf_cstr(&extra));
        rs_buf_deinit(&extra);
        return 0;
    }

    for (size_t k = 0; k < RS_REPORT_NCOLS; k++) {
        size_t j = g->map[k];
        if (j == (size_t)-1) { /* an evidence column the file does not have */
            g->val[k] = "";
            g->vlen[k] = 0;
            continue;
        }
        clean(rec->fields[j], rec->lens[j], &g->cell[k], &g->val[k], &g->vlen[k], &g->sum->replaced,
              &g->sum->truncated);
    }
    bool warm = rs_csv_is_truthy(g->val[COL_OVERLAP], g->vlen[COL_OVERLAP], g->truthy, g->ntruthy);

    for (size_t k = 0; k < RS_REPORT_NCOLS; k++) {
        if (k)
            rs_buf_putc(&g->out, ',');
        csv_cell(g, g->val[k], g->vlen[k], true);
    }
    csv_end_record(g);

    uint32_t lr = 0, wr = 0;
    if (g->leads_row <= ROW_LAST)
        lr = g->leads_row++;
    else
        g->leads_overflow++;
    if (warm) {
        if (g->warm_row <= ROW_LAST)
            wr = g->warm_row++;
        else
            g->warm_overflow++;
    }
    const char *audit = warm ? audit_result(g, u) : NULL;
    if (lr || wr)
        writer_row(g->w, lr, wr, g->val, g->vlen, audit);
    u->rows++;
    g->sum->rows++;
    if (warm) {
        u->warm++;
        g->sum->warm++;
    }
    return 0;
}

static void read_unit(struct gen *g, struct unit *u)
{
    g->cur = u;
    g->skip_file = false;
    g->header_seen = false;
    struct rs_csv_error e = {0};
    int r = rs_csv_parse_file(u->path, NULL, row_cb, g, &e);
    if (r < 0) {
        if (u->st)
            add_problem(g, false, u->display, 0, 0, "completed school \"%s\": %s", u->name, e.msg);
        else
            add_problem(g, false, u->display, 0, 0, "%s", e.msg);
        return;
    }
    u->read = true;
    g->sum->files++;
    if (g->skip_file)
        return;
    if (r > 0) {
        add_problem(g, false, u->display, e.line, e.col,
                    "%s; the %zu %s before it %s in the report, the rest of the file is not", e.msg, u->rows,
                    rs_plural(u->rows, "row", "rows"), rs_plural(u->rows, "is", "are"));
        return;
    }
    if (!g->header_seen)
        add_problem(g, false, u->display, 0, 0, "empty file: no header row");
    else if (u->rows == 0)
        add_problem(g, true, u->display, 0, 0, "header only, no data rows");
}

/* ---- collecting the inputs -------------------------------------------------- */

/* output_dir/audit.json, when `ralphsup audit` has written one; unreadable: a note, and "not audited". */
static void load_audit(struct gen *g)
{
    char *path = rs_auditfile_path(g->cfg);
    struct rs_diags d;
    rs_diags_init(&d);
    int r = rs_auditfile_load(path, &g->audit, &d);
    if (r != 0 && r != RS_AUDITFILE_E_NOT_FOUND) {
        char *disp = display_path(g->cfg, path);
        add_problem(g, true, disp, 0, 0, "audit results unreadable (%s); the Warm leads are shown as not audited",
                    d.n ? d.msgs[0] : strerror(r < 0 ? -r : EINVAL));
        free(disp);
    }
    rs_diags_deinit(&d);
    free(path);
}

static int cmp_state_name(const void *a, const void *b)
{
    const struct rs_school_state *x = *(const struct rs_school_state *const *)a;
    const struct rs_school_state *y = *(const struct rs_school_state *const *)b;
    return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static bool ends_with_csv(const char *n)
{
    size_t l = strlen(n);
    return l > 4 && strcasecmp(n + l - 4, ".csv") == 0;
}

/* The report's own files: master_report_<date>.csv / .xlsx (and their temps, which start with '.'). */
static bool is_report_output(const char *name)
{
    return strncmp(name, "master_report_", 14) == 0;
}

/* Completed schools (progress order): the inputs; then other *.csv of output_dir, listed only. */
static void collect_inputs(struct gen *g, size_t *first_extra, size_t *end_extra)
{
    const struct rs_config *cfg = g->cfg;
    const struct rs_progress *prog = g->prog;
    char **seen = rs_xcalloc(prog->ncompleted + 1, sizeof(*seen));
    size_t nseen = 0;

    for (size_t i = 0; i < prog->ncompleted; i++) {
        const struct rs_school_state *s = &prog->completed[i];
        struct unit *u = add_unit(g);
        u->name = s->name ? s->name : "";
        u->status = "completed";
        u->st = s;
        if (!s->csv || !*s->csv) {
            add_problem(g, false, g->prog_display, 0, 0,
                        "completed school \"%s\" has no csv path; its leads are not in the report (`ralphsup init "
                        "CONFIG --resume` fills it in when the school's output CSV exists, or set its \"csv\" to the "
                        "file's path relative to [batch] root)",
                        u->name);
            continue;
        }
        char *joined = rs_path_join(cfg->root, s->csv);
        char *norm = rs_path_normalize(joined);
        free(joined);
        const char *base = strrchr(norm, '/');
        base = base ? base + 1 : norm;
        if (is_report_output(base)) {
            char *disp = display_path(cfg, norm);
            add_problem(g, false, disp, 0, 0,
                        "completed school \"%s\" names a report output (master_report_*) as its csv; not read", u->name);
            free(disp);
            free(norm);
            continue;
        }
        u->path = norm;
        u->display = display_path(cfg, u->path);
        seen[nseen++] = u->path;
    }
    qsort(seen, nseen, sizeof(*seen), rs_strp_cmp);
    /* The same file named twice is read once (the first time). */
    for (size_t i = 1; i < nseen; i++) {
        if (strcmp(seen[i - 1], seen[i]) != 0)
            continue;
        bool first = true;
        for (size_t k = 0; k < g->nunits; k++) {
            struct unit *u = &g->units[k];
            if (!u->path || strcmp(u->path, seen[i]) != 0)
                continue;
            if (!first && !u->duplicate) {
                u->duplicate = true;
                add_problem(g, true, u->display, 0, 0, "school \"%s\" names the same file as an earlier school; read once",
                            u->name);
            }
            first = false;
        }
    }

    *first_extra = g->nunits;
    struct dirent **ents = NULL;
    int n = cfg->output_dir ? scandir(cfg->output_dir, &ents, NULL, cmp_dirent) : 0;
    if (n < 0) {
        if (errno != ENOENT)
            add_problem(g, false, cfg->output_dir, 0, 0, "cannot list the output directory: %s", strerror(errno));
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        bool take = name[0] != '.' && ends_with_csv(name) && !strstr(name, ".tmp.") && !is_report_output(name);
        char *path = take ? rs_path_join(cfg->output_dir, name) : NULL;
        char *norm = path ? rs_path_normalize(path) : NULL;
        free(path);
        struct stat st;
        if (norm && (stat(norm, &st) != 0 || !S_ISREG(st.st_mode) ||
                     (nseen && bsearch(&norm, seen, nseen, sizeof(*seen), rs_strp_cmp)))) {
            free(norm);
            norm = NULL;
        }
        if (norm) {
            struct unit *u = add_unit(g);
            u->name_owned = rs_xstrndup(name, strlen(name) - 4);
            u->name = u->name_owned;
            u->status = "not in progress file (not read)";
            u->path = norm;
            u->display = display_path(cfg, norm);
            add_problem(g, true, u->display, 0, 0,
                        "not in progress file as a completed school's csv; not read, its rows are not in the report");
        }
        free(ents[i]);
    }
    free(ents);
    *end_extra = g->nunits;
    free(seen);
}

/* ---- progress-derived figures ------------------------------------------------ */

static int64_t state_duration_ms(const struct rs_school_state *s)
{
    int64_t total = 0;
    for (size_t i = 0; i < s->nattempts; i++) {
        const struct rs_attempt *a = &s->attempts[i];
        if (a->started_ms > 0 && a->finished_ms >= a->started_ms)
            total += a->finished_ms - a->started_ms;
    }
    if (s->nattempts == 0 && s->started_ms > 0 && s->finished_ms >= s->started_ms)
        total = s->finished_ms - s->started_ms;
    return total;
}

static int64_t last_attempt_ms(const struct rs_school_state *s)
{
    int64_t t = 0;
    for (size_t i = 0; i < s->nattempts; i++) {
        int64_t x = s->attempts[i].finished_ms > 0 ? s->attempts[i].finished_ms : s->attempts[i].started_ms;
        if (x > t)
            t = x;
    }
    return t ? t : s->finished_ms;
}

static const char *state_reason(const struct rs_school_state *s)
{
    if (s->reason && *s->reason)
        return s->reason;
    for (size_t i = s->nattempts; i > 0; i--)
        if (s->attempts[i - 1].reason && *s->attempts[i - 1].reason)
            return s->attempts[i - 1].reason;
    return "";
}

/* ---- the other sheets ----------------------------------------------------------- */

static void write_failed(struct gen *g)
{
    static const char *const head[] = {"school", "reason", "attempts", "last attempt (UTC)"};
    static const double widths[] = {36, 70, 10, 22};
    header_row(g, g->ws_failed, head, 4, widths);
    worksheet_freeze_panes(g->ws_failed, 1, 0);
    uint32_t r = 1;
    for (size_t i = 0; i < g->prog->nfailed && r <= ROW_LAST; i++, r++) {
        const struct rs_school_state *s = &g->prog->failed[i];
        char when[40] = "";
        int64_t t = last_attempt_ms(s);
        if (t > 0)
            rs_time_iso(t, when, sizeof(when));
        w_text(g, g->ws_failed, r, 0, s->name, NULL);
        w_text(g, g->ws_failed, r, 1, state_reason(s), NULL);
        w_num(g, g->ws_failed, r, 2, (double)s->nattempts, NULL);
        w_str(g, g->ws_failed, r, 3, when, NULL);
    }
    if (r > 1)
        note_lxw(g, worksheet_autofilter(g->ws_failed, 0, 0, r - 1, 3));
}

static void run_row(struct gen *g, uint32_t r, const char *name, const char *status, const struct rs_school_state *s,
                    const struct unit *u)
{
    lxw_worksheet *ws = g->ws_run;
    w_text(g, ws, r, 0, name, NULL);
    w_str(g, ws, r, 1, status, NULL);
    if (s) {
        w_num(g, ws, r, 2, (double)s->nattempts, NULL);
        int64_t d = state_duration_ms(s);
        if (d > 0)
            w_num(g, ws, r, 3, (double)d / 60000.0, g->f_num1);
        w_num(g, ws, r, 4, s->cost_usd, g->f_money);
    }
    if (u && u->read) {
        w_num(g, ws, r, 5, (double)u->rows, NULL);
        w_num(g, ws, r, 6, (double)u->warm, NULL);
    }
    if (u && u->display)
        w_text(g, ws, r, 7, u->display, NULL);
    /* A completed school whose yes share was above [verify] max_yes_share: read its leads first. */
    if (s && s->review)
        w_text(g, ws, r, 8, s->review, NULL);
}

static void write_run(struct gen *g, size_t first_extra, size_t end_extra)
{
    static const char *const head[] = {"school", "status", "attempts", "duration (min)", "cost (USD)",
                                       "coaches", "overlaps", "csv", "review"};
    static const double widths[] = {36, 20, 10, 15, 12, 10, 10, 40, 50};
    const struct rs_progress *p = g->prog;
    header_row(g, g->ws_run, head, 9, widths);
    worksheet_freeze_panes(g->ws_run, 1, 0);
    uint32_t r = 1;
    for (size_t i = 0; i < first_extra && r <= ROW_LAST; i++)
        run_row(g, r++, g->units[i].name, "completed", g->units[i].st, &g->units[i]);
    for (size_t i = 0; i < p->nfailed && r <= ROW_LAST; i++)
        run_row(g, r++, p->failed[i].name, "failed", &p->failed[i], NULL);

    /* Pending schools: retries keep their attempts in history. */
    const struct rs_school_state **hist = rs_xcalloc(p->nhistory + 1, sizeof(*hist));
    for (size_t i = 0; i < p->nhistory; i++)
        hist[i] = &p->history[i];
    qsort(hist, p->nhistory, sizeof(*hist), cmp_state_name);
    for (size_t i = 0; i < p->npending && r <= ROW_LAST; i++) {
        struct rs_school_state key = {.name = p->pending[i]};
        const struct rs_school_state *kp = &key;
        const struct rs_school_state **h =
            p->nhistory ? bsearch(&kp, hist, p->nhistory, sizeof(*hist), cmp_state_name) : NULL;
        bool running = rs_progress_inflight_find(p, p->pending[i]) != NULL;
        run_row(g, r++, p->pending[i], running ? "running" : "pending", h ? *h : NULL, NULL);
    }
    free(hist);
    for (size_t i = first_extra; i < end_extra && r <= ROW_LAST; i++)
        run_row(g, r++, g->units[i].name, g->units[i].status, NULL, &g->units[i]);
    if (r > 1)
        note_lxw(g, worksheet_autofilter(g->ws_run, 0, 0, r - 1, 8));
}

static void write_problems(struct gen *g)
{
    static const char *const head[] = {"severity", "file", "line", "column", "problem"};
    static const double widths[] = {10, 40, 8, 8, 100};
    lxw_worksheet *ws = workbook_add_worksheet(g->wb, "Problems");
    g->ws_problems = ws;
    if (!ws) {
        note_lxw(g, LXW_ERROR_MEMORY_MALLOC_FAILED);
        return;
    }
    header_row(g, ws, head, 5, widths);
    worksheet_freeze_panes(ws, 1, 0);
    uint32_t r = 1;
    /* Errors first, then notes, each in the order found. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < g->nprobs; i++) {
            const struct problem *p = &g->probs[i];
            if (p->note != (pass == 1))
                continue;
            w_str(g, ws, r, 0, p->note ? "note" : "error", NULL);
            w_text(g, ws, r, 1, p->file, NULL);
            if (p->line)
                w_num(g, ws, r, 2, (double)p->line, NULL);
            if (p->col)
                w_num(g, ws, r, 3, (double)p->col, NULL);
            w_text(g, ws, r, 4, p->msg, NULL);
            r++;
        }
    }
    size_t total = g->sum->errors + g->sum->notes;
    if (total > g->nprobs) {
        char *m = rs_xasprintf("%zu more %s not listed", total - g->nprobs,
                               rs_plural(total - g->nprobs, "problem", "problems"));
        w_str(g, ws, r, 0, "note", NULL);
        w_str(g, ws, r, 4, m, NULL);
        free(m);
        r++;
    }
    note_lxw(g, worksheet_autofilter(ws, 0, 0, r - 1, 4));
}

/* Is a better than b for the top list: more overlaps, then name. */
static bool top_before(const struct unit *a, const struct unit *b)
{
    if (a->warm != b->warm)
        return a->warm > b->warm;
    int c = strcasecmp(a->name, b->name);
    return c != 0 ? c < 0 : strcmp(a->name, b->name) < 0;
}

static void write_summary(struct gen *g, const char *date, size_t end_extra)
{
    lxw_worksheet *ws = g->ws_summary;
    const struct rs_progress *p = g->prog;
    const struct rs_report_summary *s = g->sum;
    note_lxw(g, worksheet_set_column(ws, 0, 0, 44, NULL));
    note_lxw(g, worksheet_set_column(ws, 1, 1, 36, NULL));
    note_lxw(g, worksheet_set_column(ws, 2, 3, 12, NULL));

    const char *batch = g->cfg->name && *g->cfg->name ? g->cfg->name : p->batch_name;
    size_t running = p->current && p->current->name && !rs_progress_is_known(p, p->current->name) ? 1 : 0;
    size_t nschools = p->ncompleted + p->nfailed + p->npending + running;
    size_t finished = p->ncompleted + p->nfailed;
    double fin_cost = 0;
    int64_t fin_ms = 0;
    size_t nreview = 0; /* completed schools flagged for review (yes share) */
    for (size_t i = 0; i < p->ncompleted; i++) {
        fin_cost += p->completed[i].cost_usd;
        fin_ms += state_duration_ms(&p->completed[i]);
        if (p->completed[i].review)
            nreview++;
    }
    for (size_t i = 0; i < p->nfailed; i++) {
        fin_cost += p->failed[i].cost_usd;
        fin_ms += state_duration_ms(&p->failed[i]);
    }
    char now[40];
    rs_time_iso(rs_now_ms(), now, sizeof(now));

    uint32_t r = 0;
    w_str(g, ws, r, 0, "ralphsup batch report", g->f_bold);
    r += 2;
    w_str(g, ws, r, 0, "Batch", NULL);
    w_text(g, ws, r++, 1, batch, NULL);
    w_str(g, ws, r, 0, "Generated at (UTC)", NULL);
    w_str(g, ws, r++, 1, now, NULL);
    w_str(g, ws, r, 0, "Report date", NULL);
    w_str(g, ws, r++, 1, date, NULL);
    w_str(g, ws, r, 0, "Report status", NULL);
    char *status = s->errors ? rs_xasprintf("partial: %zu %s, see the Problems sheet", s->errors,
                                            rs_plural(s->errors, "problem", "problems"))
                             : rs_xstrdup("complete");
    w_str(g, ws, r++, 1, status, NULL);
    free(status);
    r++;
    struct { const char *label; double v; lxw_format *f; } rows[] = {
        {"Schools in batch", (double)nschools, NULL},
        {"Completed", (double)p->ncompleted, NULL},
        {"Failed", (double)p->nfailed, NULL},
        {"Pending", (double)(p->npending + running), NULL},
        {"Coaches researched (lead rows)", (double)s->rows, NULL},
        {"NMDP overlaps (warm leads)", (double)s->warm, NULL},
        {"Warm leads verified (ralphsup audit)", (double)s->verified, NULL},
        {"Schools flagged for review (see Run)", (double)nreview, NULL},
        {p->cost_estimated ? "Total cost (USD, partly estimated)" : "Total cost (USD)", p->cost_usd, g->f_money},
        {"Average cost per finished school (USD)", finished ? fin_cost / (double)finished : 0, g->f_money},
        {"Total agent time (min)", (double)fin_ms / 60000.0, g->f_num1},
        {"Average time per finished school (min)", finished ? (double)fin_ms / 60000.0 / (double)finished : 0,
         g->f_num1},
        {"Input CSV files read", (double)s->files, NULL},
        {"Other CSV files in output_dir (not read)", (double)s->files_extra, NULL},
        {"Cells with replaced characters (U+FFFD)", (double)s->replaced, NULL},
        {"Cells truncated to 32,767 characters", (double)s->truncated, NULL},
        {"Master CSV cells prefixed with '", (double)s->escaped, NULL},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(rows); i++) {
        w_str(g, ws, r, 0, rows[i].label, NULL);
        if (!g->audit && strncmp(rows[i].label, "Warm leads verified", 19) == 0)
            w_str(g, ws, r++, 1, "not audited (run ralphsup audit)", NULL);
        else
            w_num(g, ws, r++, 1, rows[i].v, rows[i].f);
    }

    /* Top 10 by overlaps, ties by name: a 10-slot insertion list. */
    enum { TOP = 10 };
    const struct unit *top[TOP];
    size_t ntop = 0;
    for (size_t i = 0; i < end_extra; i++) {
        const struct unit *u = &g->units[i];
        if (!u->read || u->warm == 0 || u->duplicate)
            continue;
        if (ntop == TOP && !top_before(u, top[TOP - 1]))
            continue;
        size_t k = ntop < TOP ? ntop++ : TOP - 1;
        while (k > 0 && top_before(u, top[k - 1])) {
            top[k] = top[k - 1];
            k--;
        }
        top[k] = u;
    }
    r++;
    w_str(g, ws, r++, 0, "Top schools by NMDP overlaps", g->f_bold);
    static const char *const th[] = {"school", "overlaps", "coaches"};
    uint32_t first = r + 1;
    for (uint16_t c = 0; c < 3; c++)
        w_str(g, ws, r, (uint16_t)(c + 1), th[c], g->f_head);
    w_str(g, ws, r++, 0, "rank", g->f_head);
    if (ntop == 0)
        w_str(g, ws, r++, 1, "(no school has an NMDP overlap yet)", NULL);
    for (size_t i = 0; i < ntop; i++, r++) {
        w_num(g, ws, r, 0, (double)(i + 1), NULL);
        w_text(g, ws, r, 1, top[i]->name, NULL);
        w_num(g, ws, r, 2, (double)top[i]->warm, NULL);
        w_num(g, ws, r, 3, (double)top[i]->rows, NULL);
    }
    if (ntop > 0) {
        lxw_chart *ch = workbook_add_chart(g->wb, LXW_CHART_BAR);
        if (!ch) {
            note_lxw(g, LXW_ERROR_MEMORY_MALLOC_FAILED);
            return;
        }
        lxw_chart_series *se = chart_add_series(ch, NULL, NULL);
        chart_series_set_categories(se, "Summary", first, 1, first + (uint32_t)ntop - 1, 1);
        chart_series_set_values(se, "Summary", first, 2, first + (uint32_t)ntop - 1, 2);
        chart_title_set_name(ch, "NMDP overlaps, top schools");
        chart_legend_set_position(ch, LXW_CHART_LEGEND_NONE);
        /* Rank 1 at the top: reverse the category axis of the bar chart. */
        chart_axis_set_reverse(ch->y_axis);
        note_lxw(g, worksheet_insert_chart(ws, 2, 5, ch));
    }
}

/*
 * libxlsxwriter does not check its own temporary files (in $TMPDIR, else
 * /tmp): when that file system fills up, workbook_close() still succeeds and
 * the workbook is silently cut short (seen with a full tmpfs: empty parts,
 * truncated sheets). So before closing, every sheet's row file (the
 * constant_memory temporary file, a public member of lxw_worksheet) must
 * have been written without error, and its file system must have room for
 * the largest sheet once more, because workbook_close() copies each sheet
 * into a second temporary file before zipping it.
 * Return: 0, -ENOSPC, or another -errno.
 */
static int check_tmp_files(struct gen *g)
{
    lxw_worksheet *const ws[] = {g->ws_summary, g->ws_leads, g->ws_warm, g->ws_failed, g->ws_run, g->ws_problems};
    off_t largest = 0;
    int fd = -1;
    for (size_t i = 0; i < RS_ARRAY_SIZE(ws); i++) {
        FILE *f = ws[i] ? ws[i]->optimize_tmpfile : NULL;
        if (!f)
            continue;
        errno = 0;
        if (fflush(f) != 0 || ferror(f))
            return errno ? -errno : -EIO;
        off_t size = ftello(f);
        if (size > largest)
            largest = size;
        fd = fileno(f);
    }
    struct statvfs sv;
    if (fd < 0 || fstatvfs(fd, &sv) != 0)
        return 0; /* nothing to check, or cannot tell: the write errors above still count */
    if ((uint64_t)sv.f_bavail * sv.f_frsize < (uint64_t)largest + TMP_MARGIN)
        return -ENOSPC;
    return 0;
}

/* ---- files ------------------------------------------------------------------------ */

static bool valid_date(const char *d)
{
    return d && rs_date_parse(d, NULL, NULL, NULL) == 0;
}

static void gen_free(struct gen *g)
{
    for (size_t i = 0; i < g->nunits; i++) {
        free(g->units[i].name_owned);
        free(g->units[i].path);
        free(g->units[i].display);
    }
    free(g->units);
    rs_auditfile_free(g->audit);
    free(g->prog_display);
    for (size_t i = 0; i < g->nprobs; i++) {
        free(g->probs[i].file);
        free(g->probs[i].msg);
    }
    free(g->probs);
    for (size_t k = 0; k < RS_REPORT_NCOLS; k++)
        rs_buf_deinit(&g->cell[k]);
    rs_buf_deinit(&g->out);
}

static void export_problems(const struct gen *g, struct rs_diags *d)
{
    if (!d)
        return;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < g->nprobs; i++) {
            const struct problem *p = &g->probs[i];
            if (p->note != (pass == 1))
                continue;
            /* Problems about no file (a full sheet) carry no prefix: the CLI adds its own. */
            const char *f = p->file ? p->file : "";
            if (!*f)
                rs_diags_add(d, "%s%s", p->note ? "note: " : "", p->msg);
            else if (p->note && p->line)
                rs_diags_add(d, "note: %s:%zu: %s", f, p->line, p->msg);
            else if (p->note)
                rs_diags_add(d, "note: %s: %s", f, p->msg);
            else
                rs_diags_addpos(d, f, (int)p->line, (int)p->col, "%s", p->msg);
        }
    }
}

void rs_report_summary_deinit(struct rs_report_summary *sum)
{
    if (!sum)
        return;
    free(sum->csv_path);
    free(sum->xlsx_path);
    sum->csv_path = sum->xlsx_path = NULL;
}

int rs_report_generate(const struct rs_config *cfg, const struct rs_progress *prog, const char *date,
                       const char *out_dir, struct rs_report_summary *sum, struct rs_diags *problems)
{
    struct rs_report_summary local;
    if (!sum)
        sum = &local;
    memset(sum, 0, sizeof(*sum));
    if (!valid_date(date))
        return -EINVAL;
    if (!out_dir)
        out_dir = cfg->report_dir;
    if (!out_dir || !*out_dir)
        return -EINVAL;

    struct gen g = {
        .cfg = cfg, .prog = prog, .sum = sum, .truthy = (const char *const *)cfg->report_truthy,
        .ntruthy = cfg->report_truthy ? cfg->nreport_truthy : 0, .escape = cfg->report_csv_escape_formulas,
    };
    g.prog_display = cfg->progress ? display_path(cfg, cfg->progress) : rs_xstrdup("");
    char *dir = rs_path_absolute(out_dir);
    char *csv_final = rs_xasprintf("%s/master_report_%s.csv", dir, date);
    char *xlsx_final = rs_xasprintf("%s/master_report_%s.xlsx", dir, date);
    char *csv_tmp = rs_xasprintf("%s/.master_report_%s.csv.tmp.XXXXXX", dir, date);
    char *xlsx_tmp = rs_xasprintf("%s/.master_report_%s.%ld.tmp.xlsx", dir, date, (long)getpid());
    bool csv_made = false, xlsx_made = false;
    size_t first_extra = 0, end_extra = 0;
    int r = rs_mkdir_p(dir, 0755);
    if (r < 0)
        goto out;

    int fd = mkstemp(csv_tmp);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    csv_made = true;
    (void)fchmod(fd, 0644);
    g.csv = fdopen(fd, "w");
    if (!g.csv) {
        r = -errno;
        close(fd);
        goto out;
    }
    setvbuf(g.csv, NULL, _IOFBF, 1 << 18);

    lxw_workbook_options wopt = {.constant_memory = LXW_TRUE};
    g.wb = workbook_new_opt(xlsx_tmp, &wopt);
    if (!g.wb) {
        r = -ENOMEM;
        goto out;
    }
    xlsx_made = true;
    g.ws_summary = workbook_add_worksheet(g.wb, "Summary");
    g.ws_leads = workbook_add_worksheet(g.wb, "Leads");
    g.ws_warm = workbook_add_worksheet(g.wb, "Warm leads");
    g.ws_failed = workbook_add_worksheet(g.wb, "Failed");
    g.ws_run = workbook_add_worksheet(g.wb, "Run");
    g.f_head = workbook_add_format(g.wb);
    g.f_bold = workbook_add_format(g.wb);
    g.f_money = workbook_add_format(g.wb);
    g.f_num1 = workbook_add_format(g.wb);
    if (!g.ws_summary || !g.ws_leads || !g.ws_warm || !g.ws_failed || !g.ws_run || !g.f_head || !g.f_bold ||
        !g.f_money || !g.f_num1) {
        r = -ENOMEM;
        goto out_wb;
    }
    format_set_bold(g.f_head);
    format_set_bg_color(g.f_head, 0xDDEBF7);
    format_set_bottom(g.f_head, LXW_BORDER_THIN);
    format_set_bold(g.f_bold);
    format_set_num_format(g.f_money, "0.00");
    format_set_num_format(g.f_num1, "0.0");

    header_row(&g, g.ws_leads, rs_report_columns, RS_REPORT_NCOLS, leads_widths);
    header_row(&g, g.ws_warm, rs_report_columns, RS_REPORT_NCOLS, leads_widths);
    w_str(&g, g.ws_warm, 0, RS_REPORT_NCOLS, "audit", g.f_head);
    note_lxw(&g, worksheet_set_column(g.ws_warm, RS_REPORT_NCOLS, RS_REPORT_NCOLS, 34, NULL));
    worksheet_freeze_panes(g.ws_leads, 1, 0);
    worksheet_freeze_panes(g.ws_warm, 1, 0);
    print_setup(&g);
    g.leads_row = g.warm_row = 1;
    if (cfg->report_csv_bom)
        rs_buf_puts(&g.out, "\xEF\xBB\xBF");
    for (size_t k = 0; k < RS_REPORT_NCOLS; k++) {
        if (k)
            rs_buf_putc(&g.out, ',');
        csv_cell(&g, rs_report_columns[k], strlen(rs_report_columns[k]), false);
    }
    csv_end_record(&g);

    load_audit(&g);
    collect_inputs(&g, &first_extra, &end_extra);
    sum->files_extra = end_extra - first_extra;
    g.w = writer_start(g.ws_leads, g.ws_warm);
    for (size_t i = 0; i < first_extra; i++) {
        struct unit *u = &g.units[i];
        if (!u->path || u->duplicate)
            continue;
        read_unit(&g, u);
    }
    note_lxw(&g, writer_finish(g.w));
    g.w = NULL;
    const struct { const char *sheet; size_t n; } full[] = {{"Leads", g.leads_overflow}, {"Warm leads", g.warm_overflow}};
    for (size_t i = 0; i < RS_ARRAY_SIZE(full); i++)
        if (full[i].n)
            add_problem(&g, false, "", 0, 0, "the %s sheet is full (1,048,575 rows): %zu more %s only in the master CSV",
                        full[i].sheet, full[i].n, rs_plural(full[i].n, "row is", "rows are"));
    if (g.leads_row > 1)
        note_lxw(&g, worksheet_autofilter(g.ws_leads, 0, 0, g.leads_row - 1, RS_REPORT_NCOLS - 1));
    if (g.warm_row > 1)
        note_lxw(&g, worksheet_autofilter(g.ws_warm, 0, 0, g.warm_row - 1, RS_REPORT_NCOLS));

    write_failed(&g);
    write_run(&g, first_extra, end_extra);
    if (g.nprobs || sum->errors || sum->notes)
        write_problems(&g);
    write_summary(&g, date, end_extra);
    worksheet_activate(g.ws_summary);

out_wb:
    if (g.wb && r == 0) {
        int t = check_tmp_files(&g);
        if (t < 0) {
            add_problem(&g, false, xlsx_final, 0, 0,
                        "cannot write the workbook: its temporary files (in $TMPDIR, else /tmp) cannot be written "
                        "in full: %s",
                        strerror(-t));
            r = t;
        }
    }
    if (g.wb) {
        lxw_error e = workbook_close(g.wb);
        g.wb = NULL;
        if (r == 0 && (g.lxw_err != LXW_NO_ERROR || e != LXW_NO_ERROR)) {
            lxw_error which = g.lxw_err != LXW_NO_ERROR ? g.lxw_err : e;
            add_problem(&g, false, xlsx_final, 0, 0, "cannot write the workbook: %s", lxw_strerror(which));
            r = -EIO;
        }
    }
    if (r == 0)
        r = rs_fsync_path(xlsx_tmp);
    if (g.csv) {
        csv_flush(&g);
        if (g.csv_err && r == 0)
            r = g.csv_err;
        if (fflush(g.csv) != 0 && r == 0)
            r = -errno;
        if (r == 0 && ferror(g.csv))
            r = -EIO;
        if (r == 0 && fsync(fileno(g.csv)) < 0)
            r = -errno;
        if (fclose(g.csv) != 0 && r == 0)
            r = -errno;
        g.csv = NULL;
    }
    if (r == 0 && rename(csv_tmp, csv_final) < 0)
        r = -errno;
    if (r == 0) {
        csv_made = false;
        if (rename(xlsx_tmp, xlsx_final) < 0)
            r = -errno;
        else
            xlsx_made = false;
    }
    if (r == 0)
        r = rs_fsync_parent_dir(csv_final);
out:
    if (g.csv)
        fclose(g.csv);
    if (csv_made)
        unlink(csv_tmp);
    if (xlsx_made)
        unlink(xlsx_tmp);
    export_problems(&g, problems);
    if (r == 0) {
        sum->csv_path = csv_final;
        sum->xlsx_path = xlsx_final;
        csv_final = xlsx_final = NULL;
        r = sum->errors ? RS_REPORT_PARTIAL : 0;
    }
    if (sum == &local)
        rs_report_summary_deinit(&local);
    free(csv_final);
    free(xlsx_final);
    free(csv_tmp);
    free(xlsx_tmp);
    free(dir);
    gen_free(&g);
    return r;
}
