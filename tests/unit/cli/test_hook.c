/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the hook command's I/O in cli_hook.c (rs_cmd_hook with
 * stdin/stdout redirected to files), split from tests/unit/core/test_guard.c
 * (same fixture, same Criterion suite name "guard") because it links the cli
 * layer and core's tests must link base + core only.
 * Each test builds a batch in a mkdtemp dir:
 *
 *   <tmp>/root/                  batch root
 *       batch_progress.json      + .lock, a hard link "hard", a symlink "plink"
 *       .git/  sub/.git/  output/
 *       escape -> ../outside     gitlink -> .git     dangling -> ../outside/new.txt
 *       loop1 <-> loop2
 *   <tmp>/outside/
 *   <tmp>/rootlink -> root
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ralphsup/cli/cli.h"
#include "ralphsup/core/guard.h"
#include "ralphsup/base/util.h"

#include "../guard_fixture.h"

/*----------------------------------------------------------------------------*/
/* The hook command (I/O), run in this test's own process                     */

/* Run `hook guard ARGS` with @input on stdin; returns the exit status, *out = stdout. */
static int run_hook(const char *input, char **out, int argc, char **argv)
{
    char *inpath = at("hook-in"), *outpath = at("hook-out");
    cr_assert(rs_file_write_atomic(inpath, input, strlen(input), 0644) == 0);
    fflush(stdout);
    int save_in = dup(0), save_out = dup(1);
    int fi = open(inpath, O_RDONLY), fo = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(fi >= 0 && fo >= 0);
    dup2(fi, 0);
    dup2(fo, 1);
    close(fi);
    close(fo);
    int ex = rs_cmd_hook(argc, argv);
    fflush(stdout);
    dup2(save_in, 0);
    dup2(save_out, 1);
    close(save_in);
    close(save_out);
    size_t len;
    cr_assert(rs_file_read(outpath, 1 << 20, out, &len) == 0);
    free(inpath);
    free(outpath);
    return ex;
}

static char *write_config(void)
{
    char *cfg = at("root/ralphsup.toml");
    const char *text = "[batch]\nroot = \".\"\nschools = \"schools.json\"\nlog_dir = \"logs\"\n";
    cr_assert(rs_file_write_atomic(cfg, text, strlen(text), 0644) == 0);
    return cfg;
}

Test(guard, hook_denies_with_json_and_logs)
{
    char *cfg = write_config();
    char *in = rs_xasprintf("{\"tool_name\":\"Write\",\"cwd\":\"%s\",\"tool_use_id\":\"toolu_9\","
                            "\"tool_input\":{\"file_path\":\"batch_progress.json\",\"content\":\"x\"}}", root);
    char *argv[] = {(char *)"hook", (char *)"guard", (char *)"--config", cfg, NULL};
    char *out = NULL;
    cr_expect_eq(run_hook(in, &out, 4, argv), 0);
    cr_expect(strstr(out, "\"permissionDecision\":\"deny\""), "%s", out);
    cr_expect(strstr(out, "ralphsup guard: batch_progress.json is owned by the supervisor"), "%s", out);
    free(out);
    char *log = at("root/logs/guard.jsonl"), *text = NULL;
    size_t len;
    cr_assert(rs_file_read(log, 1 << 20, &text, &len) == 0);
    cr_expect(strstr(text, "\"tool_use_id\":\"toolu_9\""), "%s", text);
    cr_expect(strstr(text, "\"decision\":\"deny\""), "%s", text);
    free(text);
    free(log);
    free(in);
    free(cfg);
}

Test(guard, hook_allows_silently)
{
    char *cfg = write_config();
    char *in = rs_xasprintf("{\"tool_name\":\"Write\",\"cwd\":\"%s\","
                            "\"tool_input\":{\"file_path\":\"output/x.csv\",\"content\":\"x\"}}", root);
    char *argv[] = {(char *)"hook", (char *)"guard", (char *)"--config", cfg, NULL};
    char *out = NULL;
    cr_expect_eq(run_hook(in, &out, 4, argv), 0);
    cr_expect_str_eq(out, "");
    free(out);
    free(in);
    free(cfg);
}

Test(guard, hook_fails_closed_without_config)
{
    unsetenv("RALPHSUP_CONFIG");
    unsetenv("RALPHSUP_ROOT");
    unsetenv("RALPHSUP_PROGRESS");
    char *argv[] = {(char *)"hook", (char *)"guard", (char *)"--config", (char *)"/nonexistent/x.toml", NULL};
    char *out = NULL;
    cr_expect_eq(run_hook("{\"tool_name\":\"Write\",\"tool_input\":{\"file_path\":\"/tmp/a\"}}", &out, 4, argv), 0);
    cr_expect(strstr(out, "could not check this call"), "%s", out);
    free(out);
    cr_expect_eq(run_hook("{\"tool_name\":\"Read\",\"tool_input\":{\"file_path\":\"/tmp/a\"}}", &out, 4, argv), 0);
    cr_expect_str_eq(out, "", "Read fails open");
    free(out);
    cr_expect_eq(run_hook("garbage", &out, 4, argv), 0);
    cr_expect(strstr(out, "\"deny\"") && strstr(out, "not JSON"), "%s", out);
    free(out);
}

Test(guard, hook_falls_back_to_the_supervisor_environment)
{
    setenv("RALPHSUP_ROOT", root, 1);
    setenv("RALPHSUP_PROGRESS", progress, 1);
    unsetenv("RALPHSUP_CONFIG");
    char *argv[] = {(char *)"hook", (char *)"guard", NULL};
    char *out = NULL;
    char *in = rs_xasprintf("{\"tool_name\":\"Bash\",\"cwd\":\"%s\",\"tool_input\":{\"command\":\"git commit -m x\"}}",
                            root);
    cr_expect_eq(run_hook(in, &out, 2, argv), 0);
    cr_expect(strstr(out, "`git commit`"), "%s", out);
    free(out);
    free(in);
    in = rs_xasprintf("{\"tool_name\":\"Write\",\"cwd\":\"%s\",\"tool_input\":{\"file_path\":\"out/a\"}}", root);
    cr_expect_eq(run_hook(in, &out, 2, argv), 0);
    cr_expect_str_eq(out, "");
    free(out);
    free(in);
}

Test(guard, hook_usage)
{
    char *a1[] = {(char *)"hook", NULL};
    cr_expect_eq(rs_cmd_hook(1, a1), 64);
    char *a2[] = {(char *)"hook", (char *)"nope", NULL};
    cr_expect_eq(rs_cmd_hook(2, a2), 64);
    /* A bad option of the guard itself still answers, failing closed. */
    char *a3[] = {(char *)"hook", (char *)"guard", (char *)"--bogus", NULL};
    char *out = NULL;
    cr_expect_eq(run_hook("{\"tool_name\":\"Edit\",\"tool_input\":{\"file_path\":\"x\"}}", &out, 3, a3), 0);
    cr_expect(strstr(out, "bad hook argument") && strstr(out, "\"deny\""), "%s", out);
    free(out);
}
