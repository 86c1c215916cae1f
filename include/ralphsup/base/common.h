/* SPDX-License-Identifier: MIT */
/*
 * Common definitions shared by every ralphsup module: the error kinds the
 * CLI maps to exit codes, the diagnostic list used to report *all* problems
 * of one input at once, and the allocation helpers that abort on OOM
 * (tmux/h2o style), so call sites never carry NULL checks after them.
 *
 * Nothing here logs or touches global state.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

/*
 * enum rs_err - the failures the CLI must tell apart, and how a run ended.
 * A library function returns 0, a negative errno, or (when its comment says
 * so: rs_batch_open(), rs_supervisor_check(), rs_supervisor_run(), a fatal
 * rs_verdict) one of these. Only the CLI turns a result into a process exit
 * code: rs_exit_code() (cli/exitcode.c), the table of docs/cli.md.
 */
enum rs_err {
    RS_OK = 0,
    RS_E_CONFIG,      /* the configuration, or the prompt or a hook fragment it names, is invalid */
    RS_E_DATA,        /* the school list, the aliases or the progress file is invalid */
    RS_E_NOINPUT,     /* a named input file does not exist */
    RS_E_LOCKED,      /* another supervisor holds the batch lock */
    RS_E_CANTCREAT,   /* an output file (the lock, the event log) cannot be created */
    RS_E_IO,          /* reading or writing failed (the progress file, the repository) */
    RS_E_UNAVAILABLE, /* the agent cannot be found or started, or a fatal agent/API error */
    RS_E_AUTH,        /* the API refused the credentials */
    RS_E_TRANSIENTS,  /* too many transient errors in a row stopped the run */
    RS_E_LIMIT,       /* a batch limit stopped the run */
    RS_E_SIGINT,      /* SIGINT cancelled the run */
    RS_E_SIGTERM,     /* SIGTERM (`ralphsup stop`) cancelled the run */
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
/* rs_xgrow() - the array @p of *@cap elements of @size, with room for element @n: *@cap doubled (0: @first) when full. */
void *rs_xgrow(void *p, size_t n, size_t *cap, size_t size, size_t first);
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
