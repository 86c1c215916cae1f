/* SPDX-License-Identifier: MIT */
/*
 * The growable string buffer every module builds text in. Allocation
 * failure aborts (rs_xrealloc); nothing here can fail otherwise. It knows
 * nothing of encodings: UTF-8 rules live in utf8.h, which builds on it.
 */
#pragma once

#include <stddef.h>

#include "ralphsup/base/common.h"

/* ---- growable string buffer ------------------------------------------ */
struct rs_buf {
    char *data; /* always NUL-terminated when len > 0 or after rs_buf_cstr() */
    size_t len;
    size_t cap;
};

void rs_buf_init(struct rs_buf *b);
void rs_buf_deinit(struct rs_buf *b);
void rs_buf_reset(struct rs_buf *b);
void rs_buf_append(struct rs_buf *b, const void *p, size_t n);
void rs_buf_puts(struct rs_buf *b, const char *s);
void rs_buf_putc(struct rs_buf *b, char c);
void rs_buf_printf(struct rs_buf *b, const char *fmt, ...) RS_PRINTF(2, 3);
/* Returns a NUL-terminated view (never NULL). */
const char *rs_buf_cstr(struct rs_buf *b);
/* Takes the data out of the buffer (caller frees); buffer is reset. */
char *rs_buf_steal(struct rs_buf *b);
