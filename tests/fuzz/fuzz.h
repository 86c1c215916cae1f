/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets of tests/fuzz/ (one parser each, README.md
 * says which and what each one checks besides "no crash"): the check that
 * turns a broken property into a crash libFuzzer records, a small PRNG
 * seeded from the input (for chunk splits and option choices that stay
 * reproducible from the input alone), a digest buffer to compare two runs of
 * one parser, and a private temporary directory for the parsers that only
 * read files.
 *
 * Test code only: never linked into ralphsup.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that must hold: print it and abort, so libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...)                                                                                          \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__, __LINE__, #cond);                                \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* FNV-1a of the input: the seed of every choice a target makes. */
static inline uint64_t fuzz_hash(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* splitmix64: a reproducible sequence from one seed. */
static inline uint64_t fuzz_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A chunk length for splitting input: mostly tiny (1..8), sometimes up to 4 KiB. */
static inline size_t fuzz_chunk(uint64_t *s, size_t left)
{
    uint64_t r = fuzz_next(s);
    size_t n = (r & 3) ? 1 + (size_t)((r >> 8) % 8) : 1 + (size_t)((r >> 8) % 4096);
    return n < left ? n : left;
}

/* A NUL-terminated copy of the input (the parsers that take C strings). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Append "tag=<bytes>;" to a digest (NULL prints as "tag=(null);"). */
static inline void fuzz_put(struct rs_buf *b, const char *tag, const char *s, size_t n)
{
    rs_buf_printf(b, "%s=", tag);
    if (s)
        rs_buf_append(b, s, n);
    else
        rs_buf_puts(b, "(null)");
    rs_buf_putc(b, ';');
}
static inline void fuzz_puts(struct rs_buf *b, const char *tag, const char *s)
{
    fuzz_put(b, tag, s, s ? strlen(s) : 0);
}

/*
 * A private directory under $TMPDIR (or /tmp), created on first use and
 * removed (with what the target wrote in it) at exit.
 */
const char *fuzz_tmpdir(void);
/* Write @size bytes to <tmpdir>/@name; return its path (static storage until the next call). */
const char *fuzz_write_file(const char *name, const void *data, size_t size);
