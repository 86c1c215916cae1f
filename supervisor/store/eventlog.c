/* SPDX-License-Identifier: MIT */
/*
 * events.jsonl and per-iteration transcripts. Records are built with jansson
 * (internally only) and written as single lines with one write(2) on an
 * O_APPEND descriptor, so concurrent readers (tail -f, status tools) always
 * see whole lines.
 *
 * Streaming redaction: an API key can be split across two reads of the
 * agent's pipe. The writer holds back the tail of a chunk that could still
 * be the beginning of a key ("s", "sk", "sk-" followed by key characters up
 * to the end of the chunk) and prepends it to the next chunk. It does the
 * same with a UTF-8 character cut by the read, because rs_redact() also
 * replaces invalid UTF-8 with U+FFFD: the agent's bytes that are not UTF-8
 * become U+FFFD, a character split between two reads stays whole, and an
 * incomplete character at the very end becomes U+FFFD at close. Strings of
 * event records are made valid UTF-8 the same way (jansson refuses to dump
 * invalid UTF-8, which would lose the whole record).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/store/eventlog.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

#define STDERR_CAP (1u << 20)
#define HOLD_MAX 512

struct rs_eventlog {
    int fd;
    char *path;
    int error;        /* the first error */
    uint64_t dropped; /* events that could not be written */
};

struct rs_evrec {
    json_t *o;
};

int rs_eventlog_open(const char *dir, struct rs_eventlog **out)
{
    int r = rs_mkdir_p(dir, 0755);
    if (r < 0)
        return r;
    char *path = rs_path_join(dir, "events.jsonl");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        r = -errno;
        free(path);
        return r;
    }
    struct rs_eventlog *el = rs_xcalloc(1, sizeof(*el));
    el->fd = fd;
    el->path = path;
    *out = el;
    return 0;
}

struct rs_eventlog *rs_eventlog_free(struct rs_eventlog *el)
{
    if (!el)
        return NULL;
    close(el->fd);
    free(el->path);
    free(el);
    return NULL;
}

struct rs_evrec *rs_evrec_new(const char *event)
{
    struct rs_evrec *r = rs_xcalloc(1, sizeof(*r));
    r->o = json_object();
    char ts[40], full[48];
    int64_t now = rs_now_ms();
    /* Millisecond precision keeps the order of fast decisions visible. */
    snprintf(full, sizeof full, "%s.%03dZ", rs_time_utc(now, "%Y-%m-%dT%H:%M:%S", ts, sizeof ts), (int)(now % 1000));
    json_object_set_new(r->o, "ts", json_string(full));
    json_object_set_new(r->o, "event", json_string(event));
    return r;
}

/* A JSON string of @value made valid UTF-8 (and redacted; the line is redacted again anyway). */
static json_t *clean_string(const char *value)
{
    size_t n;
    char *clean = rs_redact(value, strlen(value), &n);
    json_t *j = json_stringn_nocheck(clean, n);
    free(clean);
    return j;
}

void rs_evrec_str(struct rs_evrec *r, const char *key, const char *value)
{
    json_object_set_new(r->o, key, value ? clean_string(value) : json_null());
}

void rs_evrec_int(struct rs_evrec *r, const char *key, int64_t value)
{
    json_object_set_new(r->o, key, json_integer(value));
}

void rs_evrec_real(struct rs_evrec *r, const char *key, double value)
{
    json_t *v = json_real(value);
    json_object_set_new(r->o, key, v ? v : json_null());
}

void rs_evrec_bool(struct rs_evrec *r, const char *key, bool value)
{
    json_object_set_new(r->o, key, json_boolean(value));
}

void rs_evrec_strv(struct rs_evrec *r, const char *key, const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, clean_string(v[i] ? v[i] : ""));
    json_object_set_new(r->o, key, a);
}

const char *rs_evrec_name(const struct rs_evrec *r)
{
    const char *s = json_string_value(json_object_get(r->o, "event"));
    return s ? s : "";
}

char *rs_evrec_dump(const struct rs_evrec *r)
{
    char *s = json_dumps(r->o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10) | JSON_ENSURE_ASCII);
    if (!s)
        return NULL;
    size_t n;
    char *red = rs_redact(s, strlen(s), &n);
    free(s);
    return red;
}

void rs_eventlog_emit(struct rs_eventlog *el, struct rs_evrec *r)
{
    if (!r)
        return;
    char *line = el ? rs_evrec_dump(r) : NULL;
    if (el) {
        int e = -ENOMEM; /* the strings are valid UTF-8: only memory can fail */
        if (line) {
            size_t n = strlen(line);
            line = rs_xrealloc(line, n + 2);
            line[n++] = '\n';
            e = rs_write_all(el->fd, line, n);
        }
        if (e < 0) {
            el->dropped++;
            if (!el->error)
                el->error = e;
        }
    }
    free(line);
    json_decref(r->o);
    free(r);
}

int rs_eventlog_error(const struct rs_eventlog *el)
{
    return el ? el->error : 0;
}

uint64_t rs_eventlog_dropped(const struct rs_eventlog *el)
{
    return el ? el->dropped : 0;
}

const char *rs_eventlog_path(const struct rs_eventlog *el)
{
    return el->path;
}

/* ---- transcripts ---------------------------------------------------------- */

/* Bytes held back from one output stream until the next chunk shows what they are. */
struct hold {
    char buf[HOLD_MAX];
    size_t n;
};

struct rs_transcript {
    int fd;
    int errfd;
    char *path;
    char *errpath;
    struct hold out;
    struct hold err;
    size_t errbytes;
    bool errtrunc;
};

int rs_transcript_open(const char *dir, const char *name, struct rs_transcript **out)
{
    int r = rs_mkdir_p(dir, 0755);
    if (r < 0)
        return r;
    char *file = rs_xasprintf("%s.jsonl", name);
    char *path = rs_path_join(dir, file);
    free(file);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        r = -errno;
        free(path);
        return r;
    }
    struct rs_transcript *t = rs_xcalloc(1, sizeof(*t));
    t->fd = fd;
    t->errfd = -1;
    t->path = path;
    file = rs_xasprintf("%s.stderr", name);
    t->errpath = rs_path_join(dir, file);
    free(file);
    *out = t;
    return 0;
}

static bool keych(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* Length of the tail of @p[0..n) that could be the start of a key. */
static size_t risky_tail(const char *p, size_t n)
{
    size_t lim = n < HOLD_MAX - 1 ? n : HOLD_MAX - 1;
    /* Find the last 's' in the window that starts a token running to the end. */
    for (size_t k = 1; k <= lim; k++) {
        size_t i = n - k;
        if (p[i] != 's' || (i > 0 && keych(p[i - 1])))
            continue;
        size_t j = i + 1;
        static const char pre[] = "sk-";
        size_t m = 1;
        while (j < n && m < 3 && p[j] == pre[m]) {
            j++;
            m++;
        }
        if (j < n && m < 3)
            continue; /* diverged from "sk-" before the end */
        while (j < n && keych(p[j]))
            j++;
        if (j == n)
            return n - i;
    }
    return 0;
}

static void emit_redacted(int fd, const char *data, size_t len)
{
    size_t n;
    char *red = rs_redact(data, len, &n);
    rs_write_all(fd, red, n);
    free(red);
}

/* Write @data to @fd redacted, holding back a tail that the next chunk may complete. */
static void hold_write(struct hold *h, int fd, const char *data, size_t len)
{
    char *joined = NULL;
    if (h->n) {
        /* Chunks from the pipe are at most 64 KiB: joining is cheap. */
        joined = rs_xmalloc(h->n + len);
        memcpy(joined, h->buf, h->n);
        memcpy(joined + h->n, data, len);
        data = joined;
        len += h->n;
        h->n = 0;
    }
    size_t keep = risky_tail(data, len);
    if (!keep)
        keep = rs_utf8_incomplete(data, len);
    emit_redacted(fd, data, len - keep);
    memcpy(h->buf, data + len - keep, keep);
    h->n = keep;
    free(joined);
}

/* The stream ended: what is held is written as it is (an incomplete character becomes U+FFFD). */
static void hold_flush(struct hold *h, int fd)
{
    if (h->n)
        emit_redacted(fd, h->buf, h->n);
    h->n = 0;
}

void rs_transcript_write(struct rs_transcript *t, const char *data, size_t len)
{
    if (!t || len == 0)
        return;
    hold_write(&t->out, t->fd, data, len);
}

void rs_transcript_write_stderr(struct rs_transcript *t, const char *data, size_t len)
{
    if (!t || len == 0 || t->errtrunc)
        return;
    if (t->errfd < 0) {
        t->errfd = open(t->errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (t->errfd < 0) {
            t->errtrunc = true;
            return;
        }
    }
    bool cut = false;
    if (t->errbytes + len > STDERR_CAP) {
        len = STDERR_CAP - t->errbytes;
        cut = true;
    }
    hold_write(&t->err, t->errfd, data, len);
    t->errbytes += len;
    if (cut) {
        t->errtrunc = true;
        hold_flush(&t->err, t->errfd);
        rs_write_all(t->errfd, "\n[ralphsup: stderr truncated at 1 MiB]\n", 39);
    }
}

struct rs_transcript *rs_transcript_close(struct rs_transcript *t)
{
    if (!t)
        return NULL;
    hold_flush(&t->out, t->fd);
    if (t->errfd >= 0) {
        hold_flush(&t->err, t->errfd);
        close(t->errfd);
    }
    close(t->fd);
    free(t->path);
    free(t->errpath);
    free(t);
    return NULL;
}

const char *rs_transcript_path(const struct rs_transcript *t)
{
    return t->path;
}
