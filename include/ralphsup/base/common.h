/* SPDX-License-Identifier: MIT */
/*
 * Common definitions shared by every ralphsup module: exit codes (sysexits),
 * the diagnostic list used to report *all* problems of one input at once,
 * and the allocation helpers that abort on OOM (tmux/h2o style), so call
 * sites never carry NULL checks after them.
 *
 * Nothing here logs or touches global state.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

/* Exit codes (documented in docs/cli.md). */
enum {
    RS_EXIT_OK = 0,
    RS_EXIT_FAILURE = 1,     /* generic failure, e.g. a report that is partial */
    RS_EXIT_LIMIT = 3,       /* a batch limit stopped the run */
    RS_EXIT_USAGE = 64,      /* EX_USAGE: bad command line */
    RS_EXIT_DATAERR = 65,    /* EX_DATAERR: school list / aliases / progress invalid */
    RS_EXIT_NOINPUT = 66,    /* EX_NOINPUT: a named input file does not exist */
    RS_EXIT_UNAVAILABLE = 69,/* EX_UNAVAILABLE: agent command not found / fatal agent error */
    RS_EXIT_SOFTWARE = 70,   /* EX_SOFTWARE: internal bug */
    RS_EXIT_OSERR = 71,      /* EX_OSERR */
    RS_EXIT_CANTCREAT = 73,  /* EX_CANTCREAT: cannot write an output file */
    RS_EXIT_IOERR = 74,      /* EX_IOERR */
    RS_EXIT_TEMPFAIL = 75,   /* EX_TEMPFAIL: locked by another supervisor, too many transients */
    RS_EXIT_CONFIG = 78,     /* EX_CONFIG: invalid configuration */
    RS_EXIT_SIGINT = 130,
    RS_EXIT_SIGTERM = 143,
};

#define RS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define RS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define RS_NORETURN __attribute__((noreturn))
#else
#define RS_PRINTF(f, a)
#define RS_NORETURN
#endif

/* Allocation helpers: abort with a message on OOM. */
void *rs_xmalloc(size_t n);
void *rs_xcalloc(size_t nmemb, size_t n);
void *rs_xrealloc(void *p, size_t n);
char *rs_xstrdup(const char *s);
char *rs_xstrndup(const char *s, size_t n);
char *rs_xasprintf(const char *fmt, ...) RS_PRINTF(1, 2);
char *rs_xvasprintf(const char *fmt, va_list ap) RS_PRINTF(1, 0);

/*
 * struct rs_diags - a list of human-readable problems, each already formatted
 * as "file:line:col: message" (or "file: message" when no position is known).
 * Modules that validate input append every problem they find and return
 * a positive "invalid" code; the CLI prints the list and picks the exit code.
 */
struct rs_diags {
    char **msgs;
    size_t n;
    size_t cap;
};

void rs_diags_init(struct rs_diags *d);
void rs_diags_deinit(struct rs_diags *d);
/* Append one message; printf-style. */
void rs_diags_add(struct rs_diags *d, const char *fmt, ...) RS_PRINTF(2, 3);
/* Append "file:line:col: msg" (line/col omitted when <= 0). */
void rs_diags_addpos(struct rs_diags *d, const char *file, int line, int col, const char *fmt, ...) RS_PRINTF(5, 6);
/* Join all messages with '\n' into a new string (caller frees). */
char *rs_diags_join(const struct rs_diags *d);
