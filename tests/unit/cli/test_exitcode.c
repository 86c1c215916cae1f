/* SPDX-License-Identifier: MIT */
/*
 * The one mapping from a library result to the process exit code
 * (cli/exitcode.c): a row per enum rs_err with the code docs/cli.md
 * promises, every row's code present in the exit-code table of docs/cli.md,
 * and what happens to a negative errno and to a value no enum holds.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/common.h"
#include "ralphsup/cli/exitcode.h"

static const struct {
    enum rs_err err;
    int code;
} rows[] = {
    {RS_OK, 0},
    {RS_E_CONFIG, 78},
    {RS_E_DATA, 65},
    {RS_E_NOINPUT, 66},
    {RS_E_LOCKED, 75},
    {RS_E_CANTCREAT, 73},
    {RS_E_IO, 74},
    {RS_E_UNAVAILABLE, 69},
    {RS_E_AUTH, 77},
    {RS_E_TRANSIENTS, 75},
    {RS_E_LIMIT, 3},
    {RS_E_SIGINT, 130},
    {RS_E_SIGTERM, 143},
};

Test(exitcode, every_error_has_its_documented_code)
{
    /* One row per value: a new enum rs_err needs its row here (and in docs/cli.md). */
    cr_assert_eq(RS_ARRAY_SIZE(rows), (size_t)RS_E_SIGTERM + 1);
    for (size_t i = 0; i < RS_ARRAY_SIZE(rows); i++) {
        cr_expect_eq((int)rows[i].err, (int)i, "row %zu is out of enum order", i);
        cr_expect_eq(rs_exit_code(rows[i].err), rows[i].code, "rs_err %d: exit %d, want %d", (int)rows[i].err,
                     rs_exit_code(rows[i].err), rows[i].code);
    }
}

Test(exitcode, errno_is_io_and_unknown_is_software)
{
    cr_expect_eq(rs_exit_code(-EIO), 74);
    cr_expect_eq(rs_exit_code(-ENOSPC), 74);
    cr_expect_eq(rs_exit_code(RS_E_SIGTERM + 1), 70);
    cr_expect_eq(rs_exit_code(1000), 70);
}

Test(exitcode, every_code_is_a_row_of_docs_cli_md)
{
    const char *root = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert(root, "RALPHSUP_SOURCE_ROOT is set by tests/meson.build");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/cli.md", root);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s: %s", path, strerror(errno));
    bool documented[256] = {false};
    bool in_table = false;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "## ", 3) == 0)
            in_table = strncmp(line, "## Exit codes", 13) == 0;
        int code;
        if (in_table && sscanf(line, "| %d |", &code) == 1 && code >= 0 && code < 256)
            documented[code] = true;
    }
    fclose(f);
    for (size_t i = 0; i < RS_ARRAY_SIZE(rows); i++)
        cr_expect(documented[rows[i].code], "exit %d (rs_err %d) has no row in docs/cli.md's exit-code table",
                  rows[i].code, (int)rows[i].err);
}
