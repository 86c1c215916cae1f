/* SPDX-License-Identifier: MIT */
/*
 * From a library result to the process exit code: one table, in the order
 * of enum rs_err, kept in step with the exit-code table of docs/cli.md and
 * checked row by row by tests/unit/cli/test_exitcode.c.
 */
#include "ralphsup/cli/exitcode.h"
#include "ralphsup/base/common.h"

static const int exit_of[] = {
    [RS_OK] = RS_EXIT_OK,
    [RS_E_CONFIG] = RS_EXIT_CONFIG,
    [RS_E_DATA] = RS_EXIT_DATAERR,
    [RS_E_NOINPUT] = RS_EXIT_NOINPUT,
    [RS_E_LOCKED] = RS_EXIT_TEMPFAIL,
    [RS_E_CANTCREAT] = RS_EXIT_CANTCREAT,
    [RS_E_IO] = RS_EXIT_IOERR,
    [RS_E_UNAVAILABLE] = RS_EXIT_UNAVAILABLE,
    [RS_E_AUTH] = RS_EXIT_AUTH,
    [RS_E_TRANSIENTS] = RS_EXIT_TEMPFAIL,
    [RS_E_LIMIT] = RS_EXIT_LIMIT,
    [RS_E_SIGINT] = RS_EXIT_SIGINT,
    [RS_E_SIGTERM] = RS_EXIT_SIGTERM,
};

_Static_assert(RS_ARRAY_SIZE(exit_of) == RS_E_SIGTERM + 1, "a row for every enum rs_err");

int rs_exit_code(int r)
{
    if (r < 0)
        return RS_EXIT_IOERR;
    if ((unsigned)r >= RS_ARRAY_SIZE(exit_of))
        return RS_EXIT_SOFTWARE;
    return exit_of[r];
}
