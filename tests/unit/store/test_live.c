/* SPDX-License-Identifier: MIT */
/* The live-status file: what the supervisor writes is what `status` reads back. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/util.h"
#include "ralphsup/store/live.h"

static char dir[32];
static char *path;

static void setup(void)
{
    strcpy(dir, "/tmp/rs-live-XXXXXX");
    cr_assert(mkdtemp(dir));
    path = rs_path_join(dir, "live.json");
}

static void teardown(void)
{
    char *cmd = rs_xasprintf("rm -rf '%s'", dir);
    cr_expect(system(cmd) == 0);
    free(cmd);
    free(path);
}

TestSuite(live, .init = setup, .fini = teardown, .timeout = 10);

static char *slurp(void)
{
    char *text = NULL;
    size_t len;
    cr_assert(rs_file_read(path, 1 << 16, &text, &len) == 0);
    return text;
}

Test(live, running_iteration_round_trips)
{
    struct rs_live l = {
        .pid = 4242, .updated_ms = 1764633600000, .active = true, .school = "Caltech", .attempt = 2,
        .iteration = 7, .agent_pid = 4343, .cost_usd = 0.125, .cost_estimated = true,
        .last_tool = "WebFetch https://example.edu/staff", .last_progress = "found 3 coaches",
    };
    cr_assert_eq(rs_live_write(path, &l), 0);
    char *text = slurp();
    cr_expect_str_eq(text, "{\"pid\":4242,\"updated\":\"2025-12-02T00:00:00Z\",\"school\":\"Caltech\",\"attempt\":2,"
                           "\"iteration\":7,\"agent_pid\":4343,\"cost_usd\":0.125,\"cost_estimated\":true,"
                           "\"last_tool\":\"WebFetch https://example.edu/staff\",\"last_progress\":\"found 3 coaches\"}");
    free(text);
    struct rs_live_view v;
    cr_assert_eq(rs_live_read(path, &v), 0);
    cr_expect(v.has_cost);
    cr_expect(v.cost_usd == 0.125);
    cr_expect_str_eq(v.last_tool, "WebFetch https://example.edu/staff");
    cr_expect_str_eq(v.last_progress, "found 3 coaches");
    cr_expect_null(v.waiting);
    rs_live_view_deinit(&v);
}

Test(live, waiting_between_iterations_and_secrets_redacted)
{
    struct rs_live l = {.pid = 1, .updated_ms = 0, .waiting = "backoff 12s", .last_tool = "not written: inactive"};
    cr_assert_eq(rs_live_write(path, &l), 0);
    struct rs_live_view v;
    cr_assert_eq(rs_live_read(path, &v), 0);
    cr_expect_not(v.has_cost);
    cr_expect_null(v.last_tool, "iteration fields are written only while one runs");
    cr_expect_str_eq(v.waiting, "backoff 12s");
    rs_live_view_deinit(&v);

    struct rs_live k = {.pid = 1, .active = true, .school = "X", .last_tool = "Bash curl -H x-api-key: sk-ant-api03-SECRETSECRETSECRET"};
    cr_assert_eq(rs_live_write(path, &k), 0);
    char *text = slurp();
    cr_expect_null(strstr(text, "SECRETSECRETSECRET"), "%s", text);
    free(text);
}

Test(live, missing_or_bad_file_reads_empty)
{
    struct rs_live_view v;
    cr_expect_eq(rs_live_read(path, &v), -ENOENT);
    cr_expect_null(v.last_tool);
    cr_assert(rs_file_write_atomic(path, "[1]", 3, 0644) == 0);
    cr_expect_eq(rs_live_read(path, &v), -EINVAL);
    cr_expect_not(v.has_cost);
    const char *odd = "{\"cost_usd\":\"1\",\"waiting\":5}";
    cr_assert(rs_file_write_atomic(path, odd, strlen(odd), 0644) == 0);
    cr_expect_eq(rs_live_read(path, &v), 0);
    cr_expect_not(v.has_cost, "a key of the wrong type is absent");
    cr_expect_null(v.waiting);
    rs_live_view_deinit(&v);
}
