/* SPDX-License-Identifier: MIT */
/*
 * The growable string buffer (include/ralphsup/base/buf.h): doubling
 * capacity, always NUL-terminated after a write. Nothing else.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/buf.h"

/* ---- buffer ------------------------------------------------------------ */

void rs_buf_init(struct rs_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void rs_buf_deinit(struct rs_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void rs_buf_reset(struct rs_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static void buf_reserve(struct rs_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = rs_xrealloc(b->data, cap);
    b->cap = cap;
}

void rs_buf_append(struct rs_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void rs_buf_puts(struct rs_buf *b, const char *s)
{
    rs_buf_append(b, s, strlen(s));
}

void rs_buf_putc(struct rs_buf *b, char c)
{
    rs_buf_append(b, &c, 1);
}

void rs_buf_printf(struct rs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = rs_xvasprintf(fmt, ap);
    va_end(ap);
    rs_buf_puts(b, s);
    free(s);
}

const char *rs_buf_cstr(struct rs_buf *b)
{
    buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return b->data;
}

char *rs_buf_steal(struct rs_buf *b)
{
    rs_buf_cstr(b);
    char *d = b->data;
    memset(b, 0, sizeof(*b));
    return d;
}
