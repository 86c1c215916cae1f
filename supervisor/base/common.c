/* SPDX-License-Identifier: MIT */
/*
 * Allocation helpers that abort on OOM, and the diagnostic list. OOM is not
 * a recoverable condition for a supervisor; aborting with a message is more
 * honest than half-handled NULL checks at every call site.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/common.h"

RS_NORETURN static void oom(size_t n)
{
    fprintf(stderr, "ralphsup: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *rs_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *rs_xcalloc(size_t nmemb, size_t n)
{
    void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
    if (!p)
        oom(nmemb * n);
    return p;
}

void *rs_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void *rs_xgrow(void *p, size_t n, size_t *cap, size_t size, size_t first)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : first;
    return rs_xrealloc(p, *cap * size);
}

char *rs_xstrdup(const char *s)
{
    return rs_xstrndup(s, strlen(s));
}

char *rs_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = rs_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *rs_xvasprintf(const char *fmt, va_list ap)
{
    /* Try a stack buffer first: most messages are short. */
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        oom(0);
    char *p = rs_xmalloc((size_t)n + 1);
    if ((size_t)n < sizeof small)
        memcpy(p, small, (size_t)n + 1);
    else
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *rs_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = rs_xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

void rs_diags_init(struct rs_diags *d)
{
    memset(d, 0, sizeof(*d));
}

void rs_diags_deinit(struct rs_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    memset(d, 0, sizeof(*d));
}

static void diags_push(struct rs_diags *d, char *msg)
{
    d->msgs = rs_xgrow(d->msgs, d->n, &d->cap, sizeof(*d->msgs), 8);
    d->msgs[d->n++] = msg;
}

void rs_diags_add(struct rs_diags *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diags_push(d, rs_xvasprintf(fmt, ap));
    va_end(ap);
}

void rs_diags_addpos(struct rs_diags *d, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = rs_xvasprintf(fmt, ap);
    va_end(ap);
    char *full;
    if (line > 0 && col > 0)
        full = rs_xasprintf("%s:%d:%d: %s", file, line, col, msg);
    else if (line > 0)
        full = rs_xasprintf("%s:%d: %s", file, line, msg);
    else
        full = rs_xasprintf("%s: %s", file, msg);
    free(msg);
    diags_push(d, full);
}

char *rs_diags_join(const struct rs_diags *d)
{
    size_t total = 1;
    for (size_t i = 0; i < d->n; i++)
        total += strlen(d->msgs[i]) + 1;
    char *out = rs_xmalloc(total);
    char *p = out;
    for (size_t i = 0; i < d->n; i++) {
        size_t l = strlen(d->msgs[i]);
        memcpy(p, d->msgs[i], l);
        p += l;
        if (i + 1 < d->n)
            *p++ = '\n';
    }
    *p = '\0';
    return out;
}
