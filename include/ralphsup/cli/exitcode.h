/* SPDX-License-Identifier: MIT */
/*
 * The process exit codes of ralphsup (sysexits, docs/cli.md) and the one
 * place a library result becomes one: the layers below the CLI return 0, a
 * negative errno or an enum rs_err (base/common.h), never an exit code; the
 * commands return rs_exit_code() of what they got. The `layers` test fails
 * when RS_EXIT_ appears below supervisor/cli/.
 */
#pragma once

enum {
    RS_EXIT_OK = 0,
    RS_EXIT_FAILURE = 1,      /* generic failure, e.g. a report that is partial */
    RS_EXIT_LIMIT = 3,        /* a batch limit stopped the run */
    RS_EXIT_USAGE = 64,       /* EX_USAGE: bad command line */
    RS_EXIT_DATAERR = 65,     /* EX_DATAERR: school list / aliases / progress invalid */
    RS_EXIT_NOINPUT = 66,     /* EX_NOINPUT: a named input file does not exist */
    RS_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: agent command not found / fatal agent error */
    RS_EXIT_SOFTWARE = 70,    /* EX_SOFTWARE: internal bug */
    RS_EXIT_OSERR = 71,       /* EX_OSERR */
    RS_EXIT_CANTCREAT = 73,   /* EX_CANTCREAT: cannot write an output file */
    RS_EXIT_IOERR = 74,       /* EX_IOERR */
    RS_EXIT_TEMPFAIL = 75,    /* EX_TEMPFAIL: locked by another supervisor, too many transients */
    RS_EXIT_AUTH = 77,        /* EX_NOPERM: authentication failure */
    RS_EXIT_CONFIG = 78,      /* EX_CONFIG: invalid configuration */
    RS_EXIT_SIGINT = 130,
    RS_EXIT_SIGTERM = 143,
};

/*
 * rs_exit_code() - the exit code for @r: 0 for 0, the row of docs/cli.md for
 * an enum rs_err, RS_EXIT_IOERR for a negative errno (an I/O failure the
 * library did not classify), RS_EXIT_SOFTWARE for any other value (a bug).
 */
int rs_exit_code(int r);
