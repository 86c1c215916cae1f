/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for config.c and the toml++ shim: defaults, path resolution,
 * durations, diagnostics (positions, hints, types, ranges, several at once),
 * env, prices, rs_limits_diff and the shipped config/west.toml.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/core/config.h"
#include "ralphsup/base/util.h"

/* A fresh temp dir per test; returns it (static storage). */
static const char *tmpdir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/rs-config-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

/* Write @text to @dir/@name (creating @dir); returns the path (caller frees). */
static char *write_file(const char *dir, const char *name, const char *text)
{
    cr_assert_eq(rs_mkdir_p(dir, 0755), 0);
    char *path = rs_path_join(dir, name);
    cr_assert_eq(rs_file_write_atomic(path, text, strlen(text), 0644), 0);
    return path;
}

static bool has_diag(const struct rs_diags *d, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->msgs[i], needle))
            return true;
    return false;
}

static char *joined(const struct rs_diags *d)
{
    return rs_diags_join(d);
}

/* Load @text written as @dir/c.toml; returns rs_config_load()'s result. */
static int load_text(const char *dir, const char *text, char **path, struct rs_config **cfg, struct rs_diags *d)
{
    *path = write_file(dir, "c.toml", text);
    return rs_config_load(*path, cfg, d);
}

static const char *source_root(void)
{
    const char *r = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert_not_null(r, "RALPHSUP_SOURCE_ROOT must be set");
    return r;
}

Test(config, defaults, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path = write_file(dir, "my-batch.toml", "[batch]\nschools = \"s.json\"\n");
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = rs_config_load(path, &cfg, &d);
    char *msgs = joined(&d);
    cr_assert_eq(r, 0, "%s", msgs);
    free(msgs);

    char *e;
    cr_expect_str_eq(cfg->path, path);
    cr_expect_str_eq(cfg->dir, dir);
    cr_expect_str_eq(cfg->name, "my-batch");
    cr_expect_str_eq(cfg->root, dir);
    cr_expect_null(cfg->notify_command, "no [notify] command: no notifications");
    cr_expect(!rs_config_notifies(cfg, "batch-finished"));
    cr_expect_eq(cfg->notify_timeout_ms, 30000);
    cr_expect_null(cfg->metrics_textfile);
    e = rs_path_join(dir, "s.json");
    cr_expect_str_eq(cfg->schools, e);
    free(e);
    cr_expect_null(cfg->aliases);
    e = rs_path_join(dir, "batch_progress.json");
    cr_expect_str_eq(cfg->progress, e);
    free(e);
    e = rs_path_join(dir, "prompts/batch_loop.md");
    cr_expect_str_eq(cfg->prompt, e);
    free(e);
    e = rs_path_join(dir, "output");
    cr_expect_str_eq(cfg->output_dir, e);
    cr_expect_str_eq(cfg->report_dir, e);
    free(e);
    e = rs_path_join(dir, "logs");
    cr_expect_str_eq(cfg->log_dir, e);
    free(e);
    cr_expect_null(cfg->cache_dir);
    cr_expect_eq(cfg->order, RS_ORDER_PRIORITY);

    cr_expect_str_eq(cfg->command, "claude");
    cr_expect_eq(cfg->nargs, 0);
    cr_assert_not_null(cfg->args);
    cr_expect_null(cfg->args[0]);
    cr_expect_null(cfg->model);
    cr_expect_eq(cfg->nenv, 0);
    cr_expect(cfg->guard);

    const struct rs_limits *l = &cfg->limits;
    cr_expect_eq(l->max_iterations, 1000);
    cr_expect_eq(l->max_attempts_per_school, 3);
    cr_expect_eq(l->iteration_timeout_ms, 30 * 60 * 1000);
    cr_expect_eq(l->stall_timeout_ms, 10 * 60 * 1000);
    cr_expect_eq(l->max_runtime_ms, 0);
    cr_expect_eq(l->max_cost_usd, 0.0);
    cr_expect_eq(l->max_cost_per_school_usd, 0.0);
    cr_expect_eq(l->kill_grace_ms, 10000);
    cr_expect_eq(l->max_line_bytes, 64 * 1024 * 1024);
    cr_expect_eq(l->max_identical_tool_calls, 5);
    cr_expect_eq(l->max_consecutive_transients, 5);
    cr_expect_eq(l->transient_backoff_ms, 5000);
    cr_expect_eq(l->transient_backoff_max_ms, 5 * 60 * 1000);
    cr_expect_eq(l->pipe_drain_timeout_ms, 5000);
    cr_expect_eq(l->jobs, 1);
    cr_expect_eq(l->spawn_interval_ms, 2000);
    cr_expect_eq(l->ramp_up_after_ms, 5 * 60 * 1000);
    struct rs_limits def;
    rs_limits_defaults(&def);
    char *diff = rs_limits_diff(&def, l);
    cr_expect_str_eq(diff, "");
    free(diff);

    cr_expect_eq(cfg->nprices, 5);
    cr_expect(cfg->partial_messages);
    cr_expect(cfg->git_enabled);
    cr_expect_str_eq(cfg->git_ref, "HEAD");
    cr_expect_str_eq(cfg->git_author_name, "ralphsup");
    cr_expect_str_eq(cfg->git_author_email, "ralphsup@localhost");
    cr_expect(!cfg->git_include_outputs);
    cr_expect(cfg->report_on_finish);
    cr_expect(cfg->report_csv_escape_formulas);
    cr_expect(!cfg->report_csv_bom);
    cr_assert_eq(cfg->nreport_truthy, 4);
    cr_expect_str_eq(cfg->report_truthy[0], "yes");
    cr_expect_str_eq(cfg->report_truthy[1], "true");
    cr_expect_str_eq(cfg->report_truthy[2], "1");
    cr_expect_str_eq(cfg->report_truthy[3], "y");
    cr_expect_null(cfg->report_truthy[4]);
    cr_expect_eq(cfg->doctor_min_free_mb, 500);
    cr_expect_eq(cfg->doctor_cache_max_age_days, 30);
    cr_expect(!cfg->audit_allow_private);
    cr_expect_eq(cfg->audit_connect_timeout_ms, 10000);
    cr_expect_eq(cfg->audit_timeout_ms, 30000);
    cr_expect_eq(cfg->audit_max_bytes, 5 * 1048576);
    cr_expect_eq(cfg->audit_per_host_interval_ms, 1000);
    cr_expect_eq(d.n, 0);

    cr_expect_null(rs_config_free(cfg));
    cr_expect_null(rs_config_free(NULL));
    rs_diags_deinit(&d);
    free(path);
}

Test(config, full_fixture_every_key, .timeout = 5)
{
    char *fdir = rs_path_join(source_root(), "tests/fixtures/config");
    char *path = rs_path_join(fdir, "full.toml");
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = rs_config_load(path, &cfg, &d);
    char *msgs = joined(&d);
    cr_assert_eq(r, 0, "%s", msgs);
    free(msgs);

    char *j = rs_path_join(fdir, "../work");
    char *root = rs_path_absolute(j);
    free(j);
    cr_expect_str_eq(cfg->root, root);
    char *e = rs_path_join(root, "lists/schools.json");
    cr_expect_str_eq(cfg->schools, e);
    free(e);
    cr_expect_str_eq(cfg->aliases, "/abs/aliases.json");
    e = rs_path_join(root, "reports");
    cr_expect_str_eq(cfg->report_dir, e);
    free(e);
    e = rs_path_join(root, "c");
    cr_expect_str_eq(cfg->cache_dir, e);
    free(e);
    cr_expect_str_eq(cfg->name, "full-sample");
    cr_expect_eq(cfg->order, RS_ORDER_LIST);
    cr_expect_str_eq(cfg->command, "/usr/local/bin/claude");
    cr_assert_eq(cfg->nargs, 2);
    cr_expect_str_eq(cfg->args[1], "acceptEdits");
    cr_expect_null(cfg->args[2]);
    cr_expect_str_eq(cfg->model, "claude-sonnet-4-5");
    cr_expect(!cfg->guard);
    cr_expect_eq(cfg->limits.max_iterations, 20);
    cr_expect_eq(cfg->limits.iteration_timeout_ms, 5400000);
    cr_expect_eq(cfg->limits.stall_timeout_ms, 300000);
    cr_expect_eq(cfg->limits.max_runtime_ms, 7200000);
    cr_expect_float_eq(cfg->limits.max_cost_usd, 12.5, 1e-9);
    cr_expect_float_eq(cfg->limits.max_cost_per_school_usd, 1.0, 1e-9);
    cr_expect_eq(cfg->limits.kill_grace_ms, 500);
    cr_expect_eq(cfg->limits.max_line_bytes, 2097152);
    cr_expect_eq(cfg->limits.max_identical_tool_calls, 0);
    cr_expect_eq(cfg->limits.pipe_drain_timeout_ms, 3000);
    cr_expect_eq(cfg->limits.jobs, 4);
    cr_expect_eq(cfg->limits.spawn_interval_ms, 250);
    cr_expect_eq(cfg->limits.ramp_up_after_ms, 90000);
    cr_expect(!cfg->git_enabled);
    cr_expect_str_eq(cfg->git_ref, "refs/heads/batch");
    cr_expect_str_eq(cfg->git_author_name, "Batch Bot");
    cr_expect(cfg->git_include_outputs);
    cr_expect(!cfg->report_on_finish);
    cr_expect(!cfg->report_csv_escape_formulas);
    cr_expect(cfg->report_csv_bom);
    cr_assert_eq(cfg->nreport_truthy, 2);
    cr_expect_str_eq(cfg->report_truthy[1], "ja");
    cr_expect_eq(cfg->verify_level, RS_VERIFY_COUNTS);
    cr_expect(cfg->verify_max_yes_share == 0.25);
    cr_expect_eq(cfg->doctor_min_free_mb, 100);
    cr_expect_eq(cfg->doctor_cache_max_age_days, 7);
    cr_expect(cfg->audit_allow_private);
    cr_expect_eq(cfg->audit_connect_timeout_ms, 3000);
    cr_expect_eq(cfg->audit_timeout_ms, 20000);
    cr_expect_eq(cfg->audit_max_bytes, 1048576);
    cr_expect_eq(cfg->audit_per_host_interval_ms, 250);
    cr_expect_str_eq(cfg->audit_user_agent, "test-agent/1");
    cr_assert_eq(cfg->nnotify_command, 3);
    cr_expect_str_eq(cfg->notify_command[0], "contrib/notify/webhook.sh");
    cr_expect_str_eq(cfg->notify_command[2], "https://ntfy.example.org/batch");
    cr_expect_null(cfg->notify_command[3]);
    cr_assert_eq(cfg->nnotify_events, 2);
    cr_expect(rs_config_notifies(cfg, "budget-crossed"));
    cr_expect(!rs_config_notifies(cfg, "school-failed"), "not in [notify] events");
    cr_expect_eq(cfg->notify_timeout_ms, 45000);
    e = rs_path_join(root, "metrics/ralphsup.prom");
    cr_expect_str_eq(cfg->metrics_textfile, e);
    free(e);

    rs_config_free(cfg);
    rs_diags_deinit(&d);
    free(root);
    free(path);
    free(fdir);
}

Test(config, paths_relative_to_config_dir_and_root_not_cwd, .timeout = 5)
{
    const char *dir = tmpdir();
    char *sub = rs_path_join(dir, "cfg/inner");
    char *path = write_file(sub, "b.toml",
                            "[batch]\nroot = \"../..\"\nschools = \"data/s.json\"\nprogress = \"/var/p.json\"\n"
                            "output_dir = \"./out/../results\"\n");
    char *results = rs_path_join(dir, "results");
    char *schools = rs_path_join(dir, "data/s.json");

    /* Once by absolute path from "/", once by relative path from the config dir. */
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(chdir(round == 0 ? "/" : sub), 0);
        struct rs_config *cfg = NULL;
        struct rs_diags d;
        rs_diags_init(&d);
        cr_assert_eq(rs_config_load(round == 0 ? path : "b.toml", &cfg, &d), 0);
        cr_expect_str_eq(cfg->path, path);
        cr_expect_str_eq(cfg->dir, sub);
        cr_expect_str_eq(cfg->root, dir);
        cr_expect_str_eq(cfg->schools, schools);
        cr_expect_str_eq(cfg->progress, "/var/p.json");
        cr_expect_str_eq(cfg->output_dir, results);
        cr_expect_str_eq(cfg->report_dir, results);
        rs_config_free(cfg);
        rs_diags_deinit(&d);
    }
    free(results);
    free(schools);
    free(path);
    free(sub);
}

Test(config, durations_strings_and_integer_seconds, .timeout = 5)
{
    struct {
        const char *key, *val;
        int64_t ms;
    } cases[] = {
        {"iteration_timeout", "\"90s\"", 90000},     {"iteration_timeout", "\"15m\"", 900000},
        {"iteration_timeout", "\"2h\"", 7200000},    {"iteration_timeout", "\"1h30m\"", 5400000},
        {"iteration_timeout", "120", 120000},        {"kill_grace", "\"500ms\"", 500},
        {"kill_grace", "3", 3000},                   {"max_runtime", "0", 0},
        {"stall_timeout", "\"45\"", 45000},          {"transient_backoff", "\"0s\"", 0},
    };
    const char *dir = tmpdir();
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        char *text = rs_xasprintf("[batch]\nschools = \"s.json\"\n[limits]\n%s = %s\n", cases[i].key, cases[i].val);
        char *path;
        struct rs_config *cfg = NULL;
        struct rs_diags d;
        rs_diags_init(&d);
        int r = load_text(dir, text, &path, &cfg, &d);
        cr_assert_eq(r, 0, "%s = %s: %s", cases[i].key, cases[i].val, d.n ? d.msgs[0] : "");
        int64_t got = strcmp(cases[i].key, "iteration_timeout") == 0 ? cfg->limits.iteration_timeout_ms
                      : strcmp(cases[i].key, "kill_grace") == 0  ? cfg->limits.kill_grace_ms
                      : strcmp(cases[i].key, "max_runtime") == 0 ? cfg->limits.max_runtime_ms
                      : strcmp(cases[i].key, "stall_timeout") == 0 ? cfg->limits.stall_timeout_ms
                                                                     : cfg->limits.transient_backoff_ms;
        cr_expect_eq(got, cases[i].ms, "%s = %s -> %lld", cases[i].key, cases[i].val, (long long)got);
        rs_config_free(cfg);
        rs_diags_deinit(&d);
        free(path);
        free(text);
    }
}

Test(config, duration_units_out_of_order_or_repeated_are_refused, .timeout = 5)
{
    const char *vals[] = {"\"30m1h\"", "\"1m1m\"", "\"10s1m\""};
    const char *dir = tmpdir();
    for (size_t i = 0; i < RS_ARRAY_SIZE(vals); i++) {
        char *text = rs_xasprintf("[batch]\nschools = \"s.json\"\n[limits]\nstall_timeout = %s\n", vals[i]);
        char *path;
        struct rs_config *cfg = NULL;
        struct rs_diags d;
        rs_diags_init(&d);
        int r = load_text(dir, text, &path, &cfg, &d);
        cr_expect_eq(r, RS_CONFIG_E_INVALID, "%s accepted", vals[i]);
        cr_expect_null(cfg);
        char *want = rs_xasprintf("%s:4:17: [limits] stall_timeout: units of a duration go from largest to smallest, "
                                  "each once (d, h, m, s, ms; e.g. \"1h30m\"), got %s",
                                  path, vals[i]);
        cr_expect_eq(d.n, 1);
        cr_expect(d.n >= 1 && strcmp(d.msgs[0], want) == 0, "got: %s\nwant: %s", d.n ? d.msgs[0] : "", want);
        free(want);
        rs_config_free(cfg);
        rs_diags_deinit(&d);
        free(path);
        free(text);
    }
}

Test(config, unknown_key_did_you_mean_with_position, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir, "[batch]\nschools = \"s.json\"\n\n[limits]\n  max_atempts_per_school = 2\n", &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    cr_expect_null(cfg);
    cr_assert_eq(d.n, 1);
    char *want = rs_xasprintf("%s:5:3: [limits] max_atempts_per_school: unknown key; did you mean "
                              "'max_attempts_per_school'?",
                              path);
    cr_expect_str_eq(d.msgs[0], want);
    free(want);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, unknown_section_and_stray_top_level_key, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir, "name = \"x\"\n[batch]\nschools = \"s.json\"\n[agnet]\ncommand = \"c\"\n[zzzzzzzz]\n", &path,
                      &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    char *all = joined(&d);
    cr_expect_eq(d.n, 3, "%s", all);
    cr_expect(has_diag(&d, "c.toml:1:1: name: key outside any section; did you mean '[batch] name'?"), "%s", all);
    cr_expect(has_diag(&d, "c.toml:4:2: [agnet]: unknown section; did you mean 'agent'?"), "%s", all);
    cr_expect(has_diag(&d, "[zzzzzzzz]: unknown section (known sections:"), "%s", all);
    free(all);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, wrong_type_says_what_was_expected, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir,
                      "[batch]\nschools = 5\n[agent]\nargs = \"--verbose\"\nguard = \"yes\"\n[limits]\n"
                      "stall_timeout = true\nmax_cost_usd = \"10\"\nmax_iterations = 2.5\n"
                      "iteration_timeout = \"soon\"\nmax_runtime = 1979-05-27\n",
                      &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    char *all = joined(&d);
    cr_expect_eq(d.n, 8, "%s", all);
    cr_expect(has_diag(&d, "c.toml:2:11: [batch] schools: expected a path (string), got integer"), "%s", all);
    cr_expect(has_diag(&d, "[agent] args: expected an array of strings, got string"), "%s", all);
    cr_expect(has_diag(&d, "[agent] guard: expected true or false, got string"), "%s", all);
    cr_expect(has_diag(&d, "c.toml:7:17: [limits] stall_timeout: expected a duration like \"90s\" or integer "
                           "seconds, got boolean"),
              "%s", all);
    cr_expect(has_diag(&d, "[limits] max_cost_usd: expected an amount in USD"), "%s", all);
    cr_expect(has_diag(&d, "[limits] max_iterations: expected an integer between 1 and 1000000, got float"), "%s",
              all);
    cr_expect(has_diag(&d, "[limits] iteration_timeout: expected a duration like"), "%s", all);
    cr_expect(has_diag(&d, "got \"soon\""), "%s", all);
    cr_expect(has_diag(&d, "[limits] max_runtime: expected a duration like \"90s\" or integer seconds, got "
                           "date-time"),
              "%s", all);
    free(all);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, out_of_range_says_the_range, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir,
                      "[batch]\nschools = \"s.json\"\norder = \"random\"\n[limits]\nmax_attempts_per_school = 0\n"
                      "max_line_bytes = 1000\nkill_grace = \"11m\"\nmax_iterations = 0\nmax_cost_per_school_usd = -3\n"
                      "transient_backoff = \"10s\"\ntransient_backoff_max = \"5s\"\n[git]\nref = \"main\"\n",
                      &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    char *all = joined(&d);
    cr_expect_eq(d.n, 8, "%s", all);
    cr_expect(has_diag(&d, "c.toml:5:27: [limits] max_attempts_per_school: expected an integer between 1 and 100, "
                           "got 0"),
              "%s", all);
    cr_expect(has_diag(&d, "[limits] max_line_bytes: expected an integer between 1048576 and 1073741824, got 1000"),
              "%s", all);
    cr_expect(has_diag(&d, "[limits] kill_grace: expected a duration between 0s and 10m, got 11m"), "%s", all);
    cr_expect(has_diag(&d, "[limits] max_iterations: expected an integer between 1 and 1000000, got 0"), "%s", all);
    cr_expect(has_diag(&d, "[limits] max_cost_per_school_usd: expected an amount in USD between 0 and 1000000, got "
                           "-3"),
              "%s", all);
    cr_expect(has_diag(&d, "[limits] transient_backoff_max: must be at least transient_backoff (10s), got 5s"), "%s",
              all);
    cr_expect(has_diag(&d, "[batch] order: expected \"priority\" or \"list\", got \"random\""), "%s", all);
    cr_expect(has_diag(&d, "[git] ref: expected \"HEAD\" or \"refs/heads/<branch>\", got \"main\""), "%s", all);
    free(all);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, toml_syntax_error_has_position, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir, "[batch]\nschools = \"s.json\"\nname = \"unterminated\n[limits]\n", &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    cr_expect_null(cfg);
    cr_assert_eq(d.n, 1);
    char *prefix = rs_xasprintf("%s:3:", path);
    cr_expect(strncmp(d.msgs[0], prefix, strlen(prefix)) == 0, "%s", d.msgs[0]);
    cr_expect(strstr(d.msgs[0], "TOML syntax error: "), "%s", d.msgs[0]);
    free(prefix);
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    free(path);

    /* A duplicate key is a syntax error too, at the second occurrence. */
    r = load_text(dir, "[batch]\nschools = \"a\"\nschools = \"b\"\n", &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    cr_assert_eq(d.n, 1);
    prefix = rs_xasprintf("%s:3:", path);
    cr_expect(strncmp(d.msgs[0], prefix, strlen(prefix)) == 0, "%s", d.msgs[0]);
    free(prefix);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, every_error_reported_in_one_pass, .timeout = 5)
{
    char *path = rs_path_join(source_root(), "tests/fixtures/config/invalid.toml");
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    rs_diags_add(&d, "an earlier, unrelated message");
    int r = rs_config_load(path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    cr_expect_null(cfg);
    char *all = joined(&d);
    cr_expect_eq(d.n, 6, "%s", all);
    /* Document order, each with its own position. */
    cr_expect(strstr(d.msgs[1], "invalid.toml:4:1: [batch] ordr: unknown key; did you mean 'order'?"), "%s", all);
    cr_expect(strstr(d.msgs[2], "invalid.toml:7:27: [limits] max_attempts_per_school:"), "%s", all);
    cr_expect(strstr(d.msgs[3], "invalid.toml:8:17: [limits] stall_timeout:"), "%s", all);
    cr_expect(strstr(d.msgs[4], "invalid.toml:9:16: [limits] max_cost_usd:"), "%s", all);
    cr_expect(strstr(d.msgs[5], "invalid.toml:11:2: [gti]: unknown section; did you mean 'git'?"), "%s", all);
    free(all);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, missing_file_and_missing_schools, .timeout = 5)
{
    const char *dir = tmpdir();
    char *nofile = rs_path_join(dir, "absent.toml");
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_expect_eq(rs_config_load(nofile, &cfg, &d), -ENOENT);
    cr_expect_null(cfg);
    cr_expect_eq(d.n, 0);
    free(nofile);

    char *path;
    cr_expect_eq(load_text(dir, "[batch]\nname = \"x\"\n", &path, &cfg, &d), RS_CONFIG_E_INVALID);
    cr_assert_eq(d.n, 1);
    cr_expect(strstr(d.msgs[0], "c.toml:1:1: [batch] schools: required key is missing"), "%s", d.msgs[0]);
    free(path);
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    cr_expect_eq(load_text(dir, "", &path, &cfg, &d), RS_CONFIG_E_INVALID);
    cr_expect(has_diag(&d, "c.toml: [batch] schools: required key is missing"));
    free(path);
    rs_diags_deinit(&d);
}

Test(config, env_table, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir, "[batch]\nschools = \"s.json\"\n[agent]\nenv = { HTTP_PROXY = \"http://p:3128\", X = \"\" }\n",
                      &path, &cfg, &d);
    cr_assert_eq(r, 0, "%s", d.n ? d.msgs[0] : "");
    cr_assert_eq(cfg->nenv, 2);
    cr_expect_str_eq(cfg->env[0].key, "HTTP_PROXY");
    cr_expect_str_eq(cfg->env[0].value, "http://p:3128");
    cr_expect_str_eq(cfg->env[1].key, "X");
    cr_expect_str_eq(cfg->env[1].value, "");
    rs_config_free(cfg);
    free(path);

    cfg = NULL;
    r = load_text(dir, "[batch]\nschools = \"s.json\"\n[agent.env]\nN = 1\n\"A=B\" = \"x\"\n", &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    char *all = joined(&d);
    cr_expect_eq(d.n, 2, "%s", all);
    cr_expect(has_diag(&d, "c.toml:4:5: [agent] env.N: expected a string, got integer"), "%s", all);
    cr_expect(has_diag(&d, "[agent] env.A=B: not a valid environment variable name"), "%s", all);
    free(all);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, prices_override_extend_and_lookup, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir,
                      "[batch]\nschools = \"s.json\"\n"
                      "[prices.\"claude-sonnet-4\"]\ninput = 2\n"
                      "[prices.\"claude-opus-4-1\"]\ninput = 15\noutput = 75\n"
                      "[prices.\"*\"]\ninput = 9\noutput = 9\ncache_write = 9\ncache_read = 9\n",
                      &path, &cfg, &d);
    cr_assert_eq(r, 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_eq(cfg->nprices, 6);

    const struct rs_price *p = rs_config_price(cfg, "claude-sonnet-4-5-20250929");
    cr_expect_str_eq(p->model, "claude-sonnet-4");
    cr_expect_float_eq(p->input_per_mtok, 2.0, 1e-9);
    cr_expect_float_eq(p->output_per_mtok, 15.0, 1e-9); /* kept from the built-in entry */
    cr_expect_float_eq(p->cache_read_per_mtok, 0.3, 1e-9);

    p = rs_config_price(cfg, "claude-opus-4-1-20250805");
    cr_expect_str_eq(p->model, "claude-opus-4-1"); /* longest prefix wins */
    cr_expect_float_eq(p->cache_write_per_mtok, 15 * 1.25, 1e-9);
    cr_expect_float_eq(p->cache_write_1h_per_mtok, 15 * 2.0, 1e-9); /* a new model: 2x input */
    cr_expect_float_eq(p->cache_read_per_mtok, 1.5, 1e-9);

    p = rs_config_price(cfg, "claude-opus-4-5");
    cr_expect_str_eq(p->model, "claude-opus-4");
    cr_expect_float_eq(p->input_per_mtok, 5.0, 1e-9);
    cr_expect_float_eq(p->output_per_mtok, 25.0, 1e-9);

    p = rs_config_price(cfg, "claude-haiku-4-5");
    cr_expect_float_eq(p->cache_write_per_mtok, 1.25, 1e-9);

    p = rs_config_price(cfg, "gpt-5");
    cr_expect_str_eq(p->model, "*");
    cr_expect_float_eq(p->input_per_mtok, 9.0, 1e-9);
    cr_expect_str_eq(rs_config_price(cfg, NULL)->model, "*");
    rs_config_free(cfg);
    free(path);

    /* Without overrides "*" is the conservative opus price. */
    cfg = NULL;
    cr_assert_eq(load_text(dir, "[batch]\nschools = \"s.json\"\n", &path, &cfg, &d), 0);
    p = rs_config_price(cfg, "some-new-model");
    cr_expect_str_eq(p->model, "*");
    cr_expect_float_eq(p->input_per_mtok, 5.0, 1e-9);
    cr_expect_float_eq(p->output_per_mtok, 25.0, 1e-9);
    cr_expect_float_eq(p->cache_write_per_mtok, 6.25, 1e-9);
    cr_expect_float_eq(p->cache_write_1h_per_mtok, 10.0, 1e-9);
    cr_expect_float_eq(p->cache_read_per_mtok, 0.5, 1e-9);
    cr_expect(!rs_config_price_known(cfg, "some-new-model"));
    cr_expect(!rs_config_price_known(cfg, NULL));
    cr_expect(rs_config_price_known(cfg, "claude-opus-4-8[1m]"));
    /* Built-in 1-hour cache write prices: 2x input, as the CLI charges. */
    cr_expect_float_eq(rs_config_price(cfg, "claude-sonnet-4-5")->cache_write_1h_per_mtok, 6.0, 1e-9);
    cr_expect_float_eq(rs_config_price(cfg, "claude-haiku-4-5")->cache_write_1h_per_mtok, 2.0, 1e-9);
    p = rs_config_price(cfg, "claude-opus-5-5");
    cr_expect_str_eq(p->model, "claude-opus-5-5");
    cr_expect_float_eq(p->input_per_mtok, 4.0, 1e-9);
    cr_expect_float_eq(p->cache_write_1h_per_mtok, 8.0, 1e-9);
    cr_expect_float_eq(p->cache_read_per_mtok, 0.2, 1e-9);
    cr_expect_null(rs_config_agent_model(cfg));
    cr_expect(cfg->partial_messages);
    rs_config_free(cfg);
    free(path);

    /* cache_write_1h is a price key; the agent's model from [agent] args; partial messages off. */
    cfg = NULL;
    r = load_text(dir,
                  "[batch]\nschools = \"s.json\"\n[agent]\nargs = [\"--model\", \"claude-fable-5\"]\n"
                  "partial_messages = false\n[prices.\"claude-sonnet-4\"]\ncache_write_1h = 7\n",
                  &path, &cfg, &d);
    cr_assert_eq(r, 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_float_eq(rs_config_price(cfg, "claude-sonnet-4-5")->cache_write_1h_per_mtok, 7.0, 1e-9);
    cr_expect_float_eq(rs_config_price(cfg, "claude-sonnet-4-5")->cache_write_per_mtok, 3.75, 1e-9);
    cr_expect_str_eq(rs_config_agent_model(cfg), "claude-fable-5");
    cr_expect(!cfg->partial_messages);
    rs_config_free(cfg);
    free(path);
    cfg = NULL;
    r = load_text(dir, "[batch]\nschools = \"s.json\"\n[agent]\nmodel = \"claude-opus-4-8\"\n"
                       "args = [\"--model=claude-fable-5\"]\n", &path, &cfg, &d);
    cr_assert_eq(r, 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_str_eq(rs_config_agent_model(cfg), "claude-opus-4-8"); /* [agent] model comes first */
    rs_config_free(cfg);
    free(path);

    /* Errors: unknown price key, a new model without its base prices, a negative price. */
    cfg = NULL;
    r = load_text(dir,
                  "[batch]\nschools = \"s.json\"\n[prices.\"x\"]\ninput = 1\n[prices.\"claude-opus-4\"]\n"
                  "outptu = 3\ncache_read = -1\n",
                  &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    char *all = joined(&d);
    cr_expect_eq(d.n, 3, "%s", all);
    cr_expect(has_diag(&d, "[prices.\"x\"]: a new model needs both 'input' and 'output' prices"), "%s", all);
    cr_expect(has_diag(&d, "c.toml:6:1: [prices.\"claude-opus-4\"] outptu: unknown key; did you mean 'output'?"),
              "%s", all);
    cr_expect(has_diag(&d, "[prices.\"claude-opus-4\"] cache_read: expected an amount in USD between 0 and"), "%s",
              all);
    free(all);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, limits_diff, .timeout = 5)
{
    struct rs_limits a, b;
    rs_limits_defaults(&a);
    rs_limits_defaults(&b);
    a.max_cost_usd = 50;
    b.max_cost_usd = 20;
    b.stall_timeout_ms = 5 * 60 * 1000;
    char *s = rs_limits_diff(&a, &b);
    cr_expect_str_eq(s, "max_cost_usd 50 \xe2\x86\x92 20, stall_timeout 10m \xe2\x86\x92 5m");
    free(s);

    b = a;
    s = rs_limits_diff(&a, &b);
    cr_expect_str_eq(s, "");
    free(s);

    b.max_cost_per_school_usd = 2.5;
    b.max_attempts_per_school = 5;
    b.iteration_timeout_ms = 5400000;
    b.kill_grace_ms = 500;
    s = rs_limits_diff(&a, &b);
    cr_expect_str_eq(s, "iteration_timeout 30m \xe2\x86\x92 1h30m, kill_grace 10s \xe2\x86\x92 0.5s, "
                        "max_attempts_per_school 3 \xe2\x86\x92 5, max_cost_per_school_usd 0 \xe2\x86\x92 2.5");
    free(s);
}

Test(config, repo_west_toml_loads_from_any_cwd, .timeout = 5)
{
    const char *src = source_root();
    char *abs_src = rs_path_absolute(src);
    char *path = rs_path_join(abs_src, "config/west.toml");
    cr_assert_eq(chdir("/"), 0);
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = rs_config_load(path, &cfg, &d);
    char *all = joined(&d);
    cr_assert_eq(r, 0, "%s", all);
    free(all);
    cr_expect_str_eq(cfg->name, "west-2026");
    cr_expect_str_eq(cfg->root, abs_src);
    char *e = rs_path_join(abs_src, "data/target_schools_west.json");
    cr_expect_str_eq(cfg->schools, e);
    free(e);
    e = rs_path_join(abs_src, "data/school_aliases.json");
    cr_expect_str_eq(cfg->aliases, e);
    free(e);
    e = rs_path_join(abs_src, "cache");
    cr_expect_str_eq(cfg->cache_dir, e);
    free(e);
    cr_expect_str_eq(cfg->report_dir, cfg->output_dir);
    cr_expect_str_eq(cfg->command, "claude");
    cr_assert_eq(cfg->nargs, 4);
    cr_expect_str_eq(cfg->args[1], "acceptEdits");
    for (size_t i = 0; i < cfg->nargs; i++)
        cr_expect(strcmp(cfg->args[i], "--dangerously-skip-permissions") != 0);
    cr_expect_null(cfg->model);
    cr_expect_float_eq(cfg->limits.max_cost_usd, 50.0, 1e-9);
    cr_expect_float_eq(cfg->limits.max_cost_per_school_usd, 3.0, 1e-9);
    cr_expect_eq(cfg->limits.iteration_timeout_ms, 45 * 60 * 1000);
    cr_expect_eq(cfg->limits.stall_timeout_ms, 10 * 60 * 1000);
    cr_expect(cfg->git_enabled);
    rs_config_free(cfg);
    rs_diags_deinit(&d);
    free(path);
    free(abs_src);
}

Test(config, agent_args_keep_order_and_empty_elements, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir, "[batch]\nschools = \"s.json\"\n[agent]\nargs = [\"--append-system-prompt\", \"\", \"-v\"]\n"
                           "[report]\ntruthy = [\"ok\", \"\"]\n",
                      &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    cr_assert_eq(d.n, 1);
    cr_expect(strstr(d.msgs[0], "c.toml:6:17: [report] truthy[1]: expected a non-empty string, got an empty string"),
              "%s", d.msgs[0]);
    free(path);
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    r = load_text(dir, "[batch]\nschools = \"s.json\"\n[agent]\nargs = [\"--append-system-prompt\", \"\", \"-v\"]\n",
                  &path, &cfg, &d);
    cr_assert_eq(r, 0);
    cr_assert_eq(cfg->nargs, 3);
    cr_expect_str_eq(cfg->args[0], "--append-system-prompt");
    cr_expect_str_eq(cfg->args[1], "");
    cr_expect_str_eq(cfg->args[2], "-v");
    cr_expect_null(cfg->args[3]);
    rs_config_free(cfg);
    rs_diags_deinit(&d);
    free(path);
}

/* A UTF-8 byte order mark before the first table is accepted; a stray one
 * further on is quoted visibly ('\uFEFF'), never as an invisible character. */
Test(config, byte_order_mark, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_expect_eq(load_text(dir, "\xEF\xBB\xBF[batch]\nschools = \"s.json\"\n", &path, &cfg, &d), 0, "%s",
                 d.n ? d.msgs[0] : "");
    cr_expect_not_null(cfg);
    rs_config_free(cfg);
    cfg = NULL;
    free(path);
    cr_expect_eq(load_text(dir, "\xEF\xBB\xBF\xEF\xBB\xBF[batch]\nschools = \"s.json\"\n", &path, &cfg, &d),
                 RS_CONFIG_E_INVALID);
    cr_expect(has_diag(&d, "c.toml:1:1: TOML syntax error:") && has_diag(&d, "'\\uFEFF'"), "%s",
              d.n ? d.msgs[0] : "");
    for (size_t i = 0; i < d.n; i++)
        cr_expect(!strstr(d.msgs[i], "\xEF\xBB\xBF"), "invisible mark in: %s", d.msgs[i]);
    free(path);
    rs_diags_deinit(&d);
}

/* A directory as the config path: -EISDIR, which the CLI maps to 66. */
Test(config, directory_is_eisdir, .timeout = 5)
{
    const char *dir = tmpdir();
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_expect_eq(rs_config_load(dir, &cfg, &d), -EISDIR);
    cr_expect_null(cfg);
    cr_expect_eq(d.n, 0);
    rs_diags_deinit(&d);
}

/* ---- rs_config_load_locator(): the lenient load of stop and status ---------------------- */

static void locator_cleanup(const char *dir, char *path)
{
    unlink(path);
    free(path);
    rmdir(dir);
}

Test(config, locator_reads_batch_keys_of_an_invalid_config, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path = write_file(dir, "c.toml",
                            "[batch]\nname = \"west\"\nroot = \"..\"\nschools = 3\nprogress = \"state/p.json\"\n"
                            "log_dir = \"var/log\"\nordr = \"list\"\n[limits]\nmax_cots_usd = 5\nmax_iterations = 0\n"
                            "[bogus]\nx = 1\n");
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_config *cfg = NULL;
    cr_assert_eq(rs_config_load(path, &cfg, &d), RS_CONFIG_E_INVALID, "the strict load refuses it");
    cr_expect_geq(d.n, 4);
    rs_diags_deinit(&d);
    cr_assert_eq(rs_config_load_locator(path, &cfg), 0);
    char *up = rs_path_dirname(dir);
    char *want_progress = rs_path_join(up, "state/p.json");
    char *want_log = rs_path_join(up, "var/log");
    cr_expect_str_eq(cfg->name, "west");
    cr_expect_str_eq(cfg->root, up);
    cr_expect_str_eq(cfg->progress, want_progress);
    cr_expect_str_eq(cfg->log_dir, want_log);
    cr_expect_eq(cfg->limits.max_iterations, 1000, "everything else keeps its default");
    free(want_progress);
    free(want_log);
    free(up);
    rs_config_free(cfg);
    locator_cleanup(dir, path);
}

Test(config, locator_defaults_for_unusable_values, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path = write_file(dir, "batch.toml", "[batch]\nname = 7\nroot = \"\"\nprogress = [\"x\"]\n");
    struct rs_config *cfg = NULL;
    cr_assert_eq(rs_config_load_locator(path, &cfg), 0);
    char *want = rs_path_join(dir, "batch_progress.json");
    cr_expect_str_eq(cfg->name, "batch", "the default name is the file's stem");
    cr_expect_str_eq(cfg->root, dir, "the default root is the config's directory");
    cr_expect_str_eq(cfg->progress, want);
    free(want);
    rs_config_free(cfg);
    locator_cleanup(dir, path);
}

Test(config, locator_reads_lines_when_the_toml_is_broken, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path = write_file(dir, "c.toml",
                            "\xEF\xBB\xBF# a BOM and a syntax error below\n[agent]\nprogress = \"wrong.json\"\n"
                            "[ batch ]  # comment\nroot = 'sub'\nprogress = \"p.json\" # trailing\n"
                            "name = \"a\\tb\"\n[limits]\nmax_cost_usd = \n[batch.extra]\nlog_dir = \"nope\"\n");
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_config *cfg = NULL;
    cr_assert_eq(rs_config_load(path, &cfg, &d), RS_CONFIG_E_INVALID);
    cr_expect(has_diag(&d, "TOML syntax error"), "the file really is broken TOML");
    rs_diags_deinit(&d);
    cr_assert_eq(rs_config_load_locator(path, &cfg), 0);
    char *root = rs_path_join(dir, "sub");
    char *progress = rs_path_join(root, "p.json");
    char *logs = rs_path_join(root, "logs");
    cr_expect_str_eq(cfg->root, root);
    cr_expect_str_eq(cfg->progress, progress, "only [batch] counts, not [agent]");
    cr_expect_str_eq(cfg->name, "c", "a basic string with an escape is not trusted");
    cr_expect_str_eq(cfg->log_dir, logs, "[batch.extra] is another table");
    free(root);
    free(progress);
    free(logs);
    rs_config_free(cfg);
    locator_cleanup(dir, path);
}

Test(config, locator_missing_file, .timeout = 5)
{
    struct rs_config *cfg = NULL;
    cr_expect_eq(rs_config_load_locator("/nonexistent/ralphsup/c.toml", &cfg), -ENOENT);
    cr_expect_null(cfg);
}

Test(config, audit_section_keys_checked, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir,
                      "[batch]\nschools = \"s.json\"\n[audit]\nallow_privat = true\nmax_bytes = 10\n"
                      "per_host_interval = \"soon\"\nallow_private = \"yes\"\n",
                      &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    char *all = joined(&d);
    cr_expect(has_diag(&d, "c.toml:4:1: [audit] allow_privat: unknown key; did you mean 'allow_private'?"), "%s", all);
    cr_expect(has_diag(&d, "c.toml:5:13: [audit] max_bytes: expected an integer between 1024 and"), "%s", all);
    cr_expect(has_diag(&d, "c.toml:6:21: [audit] per_host_interval: expected a duration"), "%s", all);
    cr_expect(has_diag(&d, "c.toml:7:17: [audit] allow_private: expected true or false"), "%s", all);
    free(all);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, verify_section, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_assert_eq(load_text(dir, "[batch]\nschools = \"s.json\"\n", &path, &cfg, &d), 0);
    cr_expect_eq(cfg->verify_level, RS_VERIFY_LEADS, "the default checks every lead rule");
    cr_expect(cfg->verify_max_yes_share == 0.5);
    rs_config_free(cfg);
    free(path);
    cfg = NULL;

    cr_assert_eq(load_text(dir, "[batch]\nschools = \"s.json\"\n[verify]\nlevel = \"counts\"\nmax_yes_share = 0.8\n",
                           &path, &cfg, &d),
                 0);
    cr_expect_eq(cfg->verify_level, RS_VERIFY_COUNTS);
    cr_expect(cfg->verify_max_yes_share == 0.8);
    rs_config_free(cfg);
    free(path);
    cfg = NULL;
    cr_assert_eq(load_text(dir, "[batch]\nschools = \"s.json\"\n[verify]\nmax_yes_share = 1\n", &path, &cfg, &d), 0);
    cr_expect(cfg->verify_max_yes_share == 1.0);
    rs_config_free(cfg);
    free(path);
    cfg = NULL;

    int r = load_text(dir,
                      "[batch]\nschools = \"s.json\"\n[verify]\nlevel = \"all\"\nmax_yes_share = 1.5\n"
                      "max_yes_shares = 0.1\n[verif]\n",
                      &path, &cfg, &d);
    cr_expect_eq(r, RS_CONFIG_E_INVALID);
    char *all = joined(&d);
    cr_expect_eq(d.n, 4, "%s", all);
    cr_expect(has_diag(&d, "c.toml:4:9: [verify] level: expected \"leads\" or \"counts\", got \"all\""), "%s", all);
    cr_expect(has_diag(&d, "c.toml:5:17: [verify] max_yes_share: expected a share from 0 to 1, got 1.5"), "%s", all);
    cr_expect(has_diag(&d, "c.toml:6:1: [verify] max_yes_shares: unknown key"), "%s", all);
    cr_expect(has_diag(&d, "[verif]: unknown section; did you mean 'verify'?"), "%s", all);
    free(all);
    rs_diags_deinit(&d);
    free(path);
}

Test(config, notify_events_default_all_and_checked, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path = write_file(dir, "n.toml", "[batch]\nschools = \"s.json\"\n[notify]\ncommand = [\"notify-send\"]\n");
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_assert_eq(rs_config_load(path, &cfg, &d), 0);
    for (size_t i = 0; i < rs_notify_nevents; i++)
        cr_expect(rs_config_notifies(cfg, rs_notify_events[i]), "%s: all events when [notify] events is absent",
                  rs_notify_events[i]);
    cr_expect(!rs_config_notifies(cfg, "iteration-finished"), "only the notification events");
    cfg = rs_config_free(cfg);
    free(path);
    path = write_file(dir, "n2.toml",
                      "[batch]\nschools = \"s.json\"\n[notify]\ncommand = [\"x\"]\nevents = [\"school-failed\", \"paused\"]\n"
                      "[metrics]\ntextfile = 3\n");
    cr_expect_eq(rs_config_load(path, &cfg, &d), RS_CONFIG_E_INVALID);
    char *msgs = joined(&d);
    cr_expect(strstr(msgs, "n2.toml:5:28: [notify] events: unknown event \"paused\"; did you mean \"batch-paused\"?"), "%s", msgs);
    cr_expect(strstr(msgs, "[metrics] textfile: "), "%s", msgs);
    free(msgs);
    free(path);
    rs_diags_deinit(&d);
}

/* [batch] shard (docs/scale-out.md): kept as given, checked with its position. */
Test(config, batch_shard, .timeout = 5)
{
    const char *dir = tmpdir();
    char *path = NULL;
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_text(dir, "[batch]\nschools = \"s.json\"\nshard = \"auto/4\"\n[git]\nref = \"refs/heads/x\"\n", &path,
                      &cfg, &d);
    cr_assert_eq(r, 0);
    cr_expect_str_eq(cfg->shard, "auto/4");
    cr_expect_eq(cfg->shard_count, 0, "applied only when the batch is opened");
    cfg = rs_config_free(cfg);
    free(path);
    static const char *const bad[] = {"4/4", "x/2", "1/0", "auto", "1/5000"};
    for (size_t i = 0; i < RS_ARRAY_SIZE(bad); i++) {
        char text[128];
        snprintf(text, sizeof text, "[batch]\nschools = \"s.json\"\nprogress = \"p.json\"\nshard = \"%s\"\n", bad[i]);
        rs_diags_deinit(&d);
        rs_diags_init(&d);
        r = load_text(dir, text, &path, &cfg, &d);
        cr_expect_eq(r, RS_CONFIG_E_INVALID, "%s", bad[i]);
        char *m = joined(&d);
        cr_expect(strstr(m, "c.toml:4:9: [batch] shard:"), "%s: %s", bad[i], m);
        free(m);
        free(path);
        cfg = rs_config_free(cfg);
    }
    rs_diags_deinit(&d);
}
