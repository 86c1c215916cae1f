/* SPDX-License-Identifier: MIT */
/*
 * The iteration observer fed with realistic stream-json lines (shapes from
 * HEADLESS.md): cost counted once per message, markers for the current
 * school only, loop detection, auth failure from the first api_retry, and
 * RALPH_DONE verification against the CSV on disk.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/iteration.h"
#include "ralphsup/util.h"

struct fx {
    char dir[64];
    struct rs_config *cfg;
    struct rs_iteration *it;
    struct rs_stream *st;
    enum rs_iter_action last;
    int notes_ignored;
};

static void note(void *ud, const char *kind, const char *msg)
{
    struct fx *f = ud;
    if (strcmp(kind, "marker-ignored") == 0)
        f->notes_ignored++;
}

static void on_ev(const struct rs_stream_event *ev, void *ud)
{
    struct fx *f = ud;
    enum rs_iter_action a = rs_iteration_on_event(f->it, ev);
    if (a != RS_ITER_CONTINUE)
        f->last = a;
}

static void fx_init(struct fx *f, const char *school)
{
    memset(f, 0, sizeof(*f));
    strcpy(f->dir, "/tmp/rs-iter-XXXXXX");
    cr_assert(mkdtemp(f->dir));
    f->cfg = rs_config_new_defaults(f->dir);
    char *out = rs_path_join(f->dir, "output");
    rs_mkdir_p(out, 0755);
    free(out);
    struct rs_iteration_opts o = {.cfg = f->cfg, .school = school, .school_slug = "university-of-utah",
                                  .note = note, .ud = f};
    cr_assert_eq(rs_iteration_new(&o, &f->it), 0);
    cr_assert_eq(rs_stream_new(&f->st, NULL, on_ev, f), 0);
}

static void fx_feed(struct fx *f, const char *line)
{
    rs_stream_feed(f->st, line, strlen(line));
    rs_stream_feed(f->st, "\n", 1);
}

static void fx_free(struct fx *f)
{
    rs_stream_free(f->st);
    rs_iteration_free(f->it);
    rs_config_free(f->cfg);
}

static void write_file(const char *dir, const char *name, const char *content)
{
    char *p = rs_path_join(dir, name);
    FILE *fp = fopen(p, "w");
    cr_assert(fp);
    fputs(content, fp);
    fclose(fp);
    free(p);
}

#define ASSIST(id, content)                                                                                        \
    "{\"type\":\"assistant\",\"message\":{\"id\":\"" id "\",\"model\":\"claude-opus-4-8\",\"role\":\"assistant\","  \
    "\"content\":[" content "],\"usage\":{\"input_tokens\":1000,\"output_tokens\":50}},\"session_id\":\"s1\"}"

Test(iteration, cost_is_counted_once_per_message_and_replaced_by_the_result)
{
    struct fx f;
    fx_init(&f, "University of Utah");
    fx_feed(&f, "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s1\",\"model\":\"claude-opus-4-8\","
                "\"claude_code_version\":\"2.1.197\",\"tools\":[]}");
    fx_feed(&f, ASSIST("m1", "{\"type\":\"text\",\"text\":\"a\"}"));
    fx_feed(&f, ASSIST("m1", "{\"type\":\"text\",\"text\":\"b\"}"));
    bool est;
    cr_expect_float_eq(rs_iteration_cost(f.it, &est), 0.00625, 1e-12);
    cr_expect(est);
    fx_feed(&f, ASSIST("m2", "{\"type\":\"text\",\"text\":\"c\"}"));
    cr_expect_float_eq(rs_iteration_cost(f.it, &est), 0.0125, 1e-12);
    fx_feed(&f, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":2,\"result\":\"c\","
                "\"total_cost_usd\":0.5,\"session_id\":\"s1\",\"permission_denials\":[]}");
    cr_expect_float_eq(rs_iteration_cost(f.it, &est), 0.5, 1e-12);
    cr_expect(!est);
    cr_expect_str_eq(rs_iteration_session(f.it), "s1");
    fx_free(&f);
}

Test(iteration, markers_for_another_school_are_ignored)
{
    struct fx f;
    fx_init(&f, "University of Utah");
    fx_feed(&f, ASSIST("m1", "{\"type\":\"text\",\"text\":\"RALPH_DONE: {\\\"school\\\": \\\"University of Oregon\\\", "
                             "\\\"coaches\\\": 1, \\\"overlaps\\\": 0, \\\"csv\\\": \\\"output/x.csv\\\"}\"}"));
    fx_feed(&f, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"total_cost_usd\":0.1}");
    cr_expect_eq(f.notes_ignored, 1);
    struct rs_iter_obs o;
    rs_iteration_finish(f.it, 0, true, 0, 0, RS_KILL_NONE, NULL, NULL, &o);
    struct rs_verdict v;
    rs_policy_classify(&o, &v);
    cr_expect_eq(v.kind, RS_VERDICT_ITEM_FAILED);
    cr_expect_str_eq(v.reason, "finished without RALPH_DONE/RALPH_FAILED");
    fx_free(&f);
}

Test(iteration, identical_tool_calls_are_a_loop)
{
    struct fx f;
    fx_init(&f, "University of Utah");
    char id[32];
    for (int i = 0; i < 5; i++) {
        char line[512];
        snprintf(id, sizeof id, "m%d", i);
        snprintf(line, sizeof line,
                 "{\"type\":\"assistant\",\"message\":{\"id\":\"%s\",\"model\":\"claude-opus-4-8\",\"content\":"
                 "[{\"type\":\"tool_use\",\"id\":\"t%d\",\"name\":\"Bash\",\"input\":{\"command\":\"curl -s "
                 "https://example.edu/staff\",\"description\":\"fetch\"}}]}}",
                 id, i);
        cr_expect_eq(f.last, RS_ITER_CONTINUE, "killed too early at %d", i);
        fx_feed(&f, line);
    }
    cr_expect_eq(f.last, RS_ITER_KILL_REPEAT);
    const char *d = rs_iteration_kill_detail(f.it);
    cr_assert(d);
    cr_expect(strncmp(d, "repeated Bash `curl -s https://example.edu/staff", 48) == 0, "%s", d);
    cr_expect(strstr(d, "5×"), "%s", d);
    fx_free(&f);
}

Test(iteration, auth_failure_is_seen_in_the_first_retry)
{
    struct fx f;
    fx_init(&f, "University of Utah");
    fx_feed(&f, "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":1,\"max_retries\":10,\"retry_delay_ms\":"
                "535.9,\"error_status\":401,\"error\":\"authentication_failed\",\"session_id\":\"s\"}");
    cr_expect_eq(f.last, RS_ITER_KILL_AUTH);
    struct rs_iter_obs o;
    rs_iteration_finish(f.it, 0, true, 143, 0, RS_KILL_AUTH, rs_iteration_kill_detail(f.it), NULL, &o);
    struct rs_verdict v;
    rs_policy_classify(&o, &v);
    cr_expect_eq(v.kind, RS_VERDICT_FATAL);
    cr_expect_eq(v.exit_code, RS_EXIT_AUTH);
    fx_free(&f);
}

static void done_case(const char *csv_field, const char *claim, int expect_verified, const char *reason_has)
{
    struct fx f;
    fx_init(&f, "University of Utah");
    char *out = rs_path_join(f.dir, "output");
    write_file(out, "university-of-utah.csv",
               "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\r\n"
               "University of Utah,A B,Head Coach,Soccer,,,yes,\"Drive, 2024\",https://x.edu\r\n"
               "University of Utah,\"C \"\"D\"\" E\",Assistant,Soccer,,,no,,https://x.edu\r\n");
    write_file(f.dir, "outside.csv", "school\n");
    char *link = rs_path_join(out, "link.csv");
    symlink("/etc/passwd", link);
    free(link);
    free(out);
    char line[1024];
    snprintf(line, sizeof line,
             ASSIST("m1", "{\"type\":\"text\",\"text\":\"RALPH_DONE: {\\\"school\\\": \\\"university of utah\\\", "
                          "%s, \\\"csv\\\": \\\"%s\\\"}\"}"),
             claim, csv_field);
    fx_feed(&f, line);
    fx_feed(&f, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"total_cost_usd\":0.1}");
    struct rs_iter_obs o;
    rs_iteration_finish(f.it, 0, true, 0, 0, RS_KILL_NONE, NULL, NULL, &o);
    cr_expect_eq(o.done_marker, true);
    cr_expect_eq(o.done_verified, expect_verified, "%s/%s: %s", csv_field, claim,
                 o.verify_error ? o.verify_error : "");
    if (reason_has)
        cr_expect(o.verify_error && strstr(o.verify_error, reason_has), "%s: \"%s\" lacks \"%s\"", csv_field,
                  o.verify_error ? o.verify_error : "", reason_has);
    struct rs_iteration_done dn;
    if (expect_verified) {
        cr_assert(rs_iteration_done(f.it, &dn));
        cr_expect_str_eq(dn.csv_rel, "output/university-of-utah.csv");
        cr_expect_eq(dn.coaches, 2);
        cr_expect_eq(dn.overlaps, 1);
    }
    fx_free(&f);
}

Test(iteration, done_is_verified_against_the_csv)
{
    done_case("output/university-of-utah.csv", "\\\"coaches\\\": 2, \\\"overlaps\\\": 1", 1, NULL);
    done_case("output/university-of-utah.csv", "\\\"coaches\\\": 42, \\\"overlaps\\\": 1", 0,
              "RALPH_DONE claimed 42 coaches, CSV has 2 rows");
    done_case("output/university-of-utah.csv", "\\\"coaches\\\": 2, \\\"overlaps\\\": 2", 0,
              "RALPH_DONE claimed 2 overlaps, CSV has 1");
    done_case("university-of-utah.csv", "\\\"coaches\\\": 2, \\\"overlaps\\\": 1", 1, NULL);
    done_case("../outside.csv", "\\\"coaches\\\": 0, \\\"overlaps\\\": 0", 0, "outside the output directory");
    done_case("output/missing.csv", "\\\"coaches\\\": 2, \\\"overlaps\\\": 1", 0, "does not exist");
    done_case("output/../outside.csv", "\\\"coaches\\\": 0, \\\"overlaps\\\": 0", 0, "outside the output directory");
    done_case("output/link.csv", "\\\"coaches\\\": 0, \\\"overlaps\\\": 0", 0, "resolves outside");
}

Test(iteration, output_tokens_are_estimated_from_content_when_the_cli_reports_one)
{
    /* The CLI copies message_start's usage (output_tokens ~1) into assistant lines. */
    struct fx f;
    fx_init(&f, "University of Utah");
    char text[4001];
    memset(text, 'x', 4000);
    text[4000] = '\0';
    char *line = rs_xasprintf("{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"model\":\"claude-opus-4-8\","
                              "\"content\":[{\"type\":\"text\",\"text\":\"%s\"}],\"usage\":{\"input_tokens\":1000,"
                              "\"output_tokens\":1}}}",
                              text);
    fx_feed(&f, line);
    /* A second block of the same message adds its own content only. */
    fx_feed(&f, line);
    free(line);
    bool est;
    /* 1000 input at $5/M + 2 x 4000 bytes / 4 = 2000 output tokens at $25/M. */
    double got = rs_iteration_cost(f.it, &est);
    cr_expect(got > 0.0549 && got < 0.0551, "cost %.9f", got);
    fx_free(&f);
}
