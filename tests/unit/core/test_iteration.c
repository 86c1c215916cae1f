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

#include "ralphsup/core/iteration.h"
#include "ralphsup/base/util.h"

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
    cr_assert_eq(rs_stream_new(NULL, on_ev, f, &f->st), 0);
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
    /* The reason says a marker named another school, and which (issue 12). */
    cr_expect_str_eq(v.reason, "finished without RALPH_DONE/RALPH_FAILED for this school; a marker named another "
                               "school: RALPH_DONE for \"University of Oregon\"");
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
    cr_expect_eq(v.err, RS_E_AUTH);
    fx_free(&f);
}

static void done_case(const char *csv_field, const char *claim, int expect_verified, const char *reason_has)
{
    struct fx f;
    fx_init(&f, "University of Utah");
    char *out = rs_path_join(f.dir, "output");
    write_file(out, "university-of-utah.csv",
               "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url,"
               "evidence_url,evidence_quote,evidence_date,evidence_type,confidence,overlap_checked\r\n"
               "University of Utah,A B,Head Coach,Soccer,,,yes,\"Drive, 2024\",https://x.edu,"
               "https://x.edu/news/drive,\"A B hosted a \"\"Be The Match\"\" drive\",2024-04,host,high,coach\r\n"
               "University of Utah,\"C \"\"D\"\" E\",Assistant,Soccer,,,no,,https://x.edu,,,,,,none\r\n");
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

/* The lead checks through the observer: level, assigned file, freshness, review flag, domains. */
struct lead_case {
    enum rs_verify_level level;
    const char *file;      /* written under output/ */
    const char *csv;
    const char *claim;
    int64_t started_ms;    /* attempt start passed to the observer; 0 = unchecked; -1 = an hour from now */
    bool verified;
    const char *reason;    /* exact verify_error when not verified */
    const char *review;    /* exact review when verified, NULL = none */
};

#define LHDR "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url," \
             "evidence_url,evidence_quote,evidence_date,evidence_type,confidence,overlap_checked\n"
#define LNO(n) "University of Utah," n ",Coach,Golf," n "@utah.edu,,no,,https://utahutes.com/staff,,,,,,none\n"
#define LYES(n) "University of Utah," n ",Coach,Golf,,,yes,x,https://utahutes.com/staff,https://ksl.com/" n \
                ",q,,donor,high,coach\n"

static void lead_case(const struct lead_case *c)
{
    struct fx f;
    memset(&f, 0, sizeof(f));
    strcpy(f.dir, "/tmp/rs-iter-XXXXXX");
    cr_assert(mkdtemp(f.dir));
    f.cfg = rs_config_new_defaults(f.dir);
    f.cfg->verify_level = c->level;
    char *out = rs_path_join(f.dir, "output");
    rs_mkdir_p(out, 0755);
    write_file(out, c->file, c->csv);
    free(out);
    static const char *const domains[] = {"utah.edu"};
    struct rs_iteration_opts o = {.cfg = f.cfg, .school = "University of Utah", .school_slug = "university-of-utah",
                                  .note = note, .ud = &f, .email_domains = domains, .nemail_domains = 1,
                                  .attempt_started_ms = c->started_ms < 0 ? rs_now_ms() + 3600 * 1000 : c->started_ms};
    cr_assert_eq(rs_iteration_new(&o, &f.it), 0);
    cr_assert_eq(rs_stream_new(NULL, on_ev, &f, &f.st), 0);
    char line[1024];
    snprintf(line, sizeof line,
             ASSIST("m1", "{\"type\":\"text\",\"text\":\"RALPH_DONE: {\\\"school\\\": \\\"University of Utah\\\", "
                          "%s, \\\"csv\\\": \\\"output/%s\\\"}\"}"),
             c->claim, c->file);
    fx_feed(&f, line);
    struct rs_iter_obs obs;
    rs_iteration_finish(f.it, 0, true, 0, 0, RS_KILL_NONE, NULL, NULL, &obs);
    cr_expect_eq(obs.done_verified, c->verified, "%s: %s", c->csv, obs.verify_error ? obs.verify_error : "");
    if (!c->verified)
        cr_expect_str_eq(obs.verify_error ? obs.verify_error : "(none)", c->reason);
    if (!c->verified && strstr(c->reason, "was not written"))
        cr_expect(obs.verify_error && strstr(obs.verify_error, "before it started): write it again"));
    struct rs_iteration_done dn;
    if (c->verified && rs_iteration_done(f.it, &dn)) {
        if (c->review)
            cr_expect_str_eq(dn.review ? dn.review : "(none)", c->review);
        else
            cr_expect_null(dn.review, "%s", dn.review);
    }
    fx_free(&f);
}

Test(iteration, done_is_checked_against_the_lead_contract)
{
    const struct lead_case cases[] = {
        {RS_VERIFY_LEADS, "university-of-utah.csv", LHDR LYES("ann") LNO("bo"),
         "\\\"coaches\\\": 2, \\\"overlaps\\\": 1", 0, true, NULL, NULL},
        {RS_VERIFY_LEADS, "university-of-utah.csv", LHDR LYES("ann") LYES("cy") LNO("bo"),
         "\\\"coaches\\\": 3, \\\"overlaps\\\": 2", 0, true, NULL,
         "2 of 3 rows are yes (67%), above [verify] max_yes_share 0.5"},
        {RS_VERIFY_LEADS, "university-of-utah.csv",
         LHDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x,https://utahutes.com/staff,,q,,donor,high,coach\n",
         "\\\"coaches\\\": 1, \\\"overlaps\\\": 1", 0, false,
         "RALPH_DONE csv output/university-of-utah.csv breaks the lead contract: row 1 (Jane Doe): nmdp_overlap is yes "
         "but evidence_url is empty",
         NULL},
        {RS_VERIFY_LEADS, "university-of-utah.csv", LHDR "University of Utah,Jo,Coach,Golf,jo@gmail.com,,no,,u,,,,,,none\n",
         "\\\"coaches\\\": 1, \\\"overlaps\\\": 0", 0, false,
         "RALPH_DONE csv output/university-of-utah.csv breaks the lead contract: row 1 (Jo): email \"jo@gmail.com\" is "
         "not on the school's email domains (utah.edu)",
         NULL},
        /* Another school's file, even with matching counts. */
        {RS_VERIFY_LEADS, "utah-state.csv", LHDR LNO("bo"), "\\\"coaches\\\": 1, \\\"overlaps\\\": 0", 0, false,
         "RALPH_DONE csv output/utah-state.csv breaks the lead contract: output/utah-state.csv is not this school's CSV "
         "(write output/university-of-utah.csv)",
         NULL},
        /* Written long before this attempt started (the file was just written: "started" is in the future). */
        {RS_VERIFY_LEADS, "university-of-utah.csv", LHDR LNO("bo"), "\\\"coaches\\\": 1, \\\"overlaps\\\": 0",
         -1, false,
         "RALPH_DONE csv output/university-of-utah.csv breaks the lead contract: output/university-of-utah.csv was not "
         "written during this attempt (last modified 1h00m before it started): write it again",
         NULL},
        /* The counts still decide after the contract passed. */
        {RS_VERIFY_LEADS, "university-of-utah.csv", LHDR LNO("bo"), "\\\"coaches\\\": 2, \\\"overlaps\\\": 0", 0,
         false, "RALPH_DONE claimed 2 coaches, CSV has 1 row", NULL},
        /* Level counts: a nine-column CSV from another tool. */
        {RS_VERIFY_COUNTS, "university-of-utah.csv",
         "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\nU,A,,,,,true,,\n",
         "\\\"coaches\\\": 1, \\\"overlaps\\\": 1", 0, true, NULL,
         "1 of 1 rows are yes (100%), above [verify] max_yes_share 0.5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lead_case c = cases[i];
        lead_case(&c);
    }
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

/* ---- cost estimate against recordings of the real CLI ------------------------ */

/*
 * tests/fixtures/streams/cost_<version>_{partial,plain}.jsonl were recorded
 * from the real CLI 2.1.197 and 2.1.332 against the scripted Messages API
 * (tests/fakeapi/record_cost_streams.sh, scenario cost_usage.json: 1-hour and
 * 5-minute cache writes, cache reads, final output counts only in
 * message_delta), with and without --include-partial-messages.
 */
static char *read_fixture(const char *name, size_t *len)
{
    const char *root = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert(root, "RALPHSUP_SOURCE_ROOT not set");
    char *path = rs_xasprintf("%s/tests/fixtures/streams/%s", root, name);
    char *data;
    cr_assert_eq(rs_file_read(path, 1 << 20, &data, len), 0, "cannot read %s", path);
    free(path);
    return data;
}

/* Feed @name to @f line by line, leaving out the result line when @no_result. */
static void feed_recording(struct fx *f, const char *name, bool no_result)
{
    size_t len;
    char *data = read_fixture(name, &len);
    int results = 0;
    for (char *p = data, *nl; p < data + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(data + len - p));
        if (!nl)
            nl = data + len;
        /* CLI 2.1.332 no longer writes "type" first in the result line. */
        char *line = rs_xstrndup(p, (size_t)(nl - p));
        bool result = strstr(line, "\"type\":\"result\"") != NULL && strstr(line, "\"modelUsage\"") != NULL;
        free(line);
        results += result;
        if (!(result && no_result)) {
            rs_stream_feed(f->st, p, (size_t)(nl - p));
            rs_stream_feed(f->st, "\n", 1);
        }
    }
    rs_stream_finish(f->st);
    cr_assert_eq(results, 1, "%s: expected one result line", name);
    free(data);
}

/* The CLI's own total_cost_usd for a recording. */
static double recorded_total(const char *name)
{
    struct fx f;
    fx_init(&f, "");
    feed_recording(&f, name, false);
    bool est;
    double total = rs_iteration_cost(f.it, &est);
    cr_assert(!est, "%s: no total_cost_usd", name);
    fx_free(&f);
    return total;
}

static double estimate_without_result(const char *name, struct rs_cost_calib *calib)
{
    struct fx f;
    memset(&f, 0, sizeof f);
    fx_init(&f, "");
    if (calib) {
        /* A second iteration of the same run: it shares the calibration. */
        rs_iteration_free(f.it);
        struct rs_iteration_opts o = {.cfg = f.cfg, .school = "", .note = note, .ud = &f, .calib = calib};
        cr_assert_eq(rs_iteration_new(&o, &f.it), 0);
    }
    feed_recording(&f, name, true);
    bool est;
    double e = rs_iteration_cost(f.it, &est);
    cr_expect(est);
    struct rs_iteration_counts k;
    rs_iteration_counts(f.it, &k);
    cr_expect_eq(k.api_messages, 4, "%s: %lld API messages", name, (long long)k.api_messages);
    fx_free(&f);
    return e;
}

Test(iteration, estimate_of_recorded_streams_with_partial_messages_is_within_10_percent)
{
    static const char *const files[] = {"cost_2-1-197_partial.jsonl", "cost_2-1-332_partial.jsonl"};
    for (size_t i = 0; i < 2; i++) {
        double total = recorded_total(files[i]);
        double e = estimate_without_result(files[i], NULL);
        cr_expect(e > total * 0.9 && e < total * 1.1, "%s: estimate %.6f, CLI %.6f (%.1f %%)", files[i], e, total,
                  100 * e / total);
    }
    /* What the CLI charged: input $5, output $25, 5-minute writes $6.25, 1-hour writes $10 (2x input), reads
     * $0.5 per million for claude-opus-4-8: 15 in, 2521 out, 1630 + 22604 writes, 68076 reads. */
    cr_expect_float_eq(recorded_total("cost_2-1-197_partial.jsonl"),
                       (15 * 5.0 + 2521 * 25.0 + 1630 * 6.25 + 22604 * 10.0 + 68076 * 0.5) / 1e6, 1e-9);
    /* claude-opus-5-5 (CLI 2.1.332's default): $4 / $20 / $5 / $8 / $0.2. */
    cr_expect_float_eq(recorded_total("cost_2-1-332_partial.jsonl"),
                       (15 * 4.0 + 2521 * 20.0 + 1630 * 5.0 + 22604 * 8.0 + 68076 * 0.2) / 1e6, 1e-9);
}

Test(iteration, without_partial_messages_calibration_corrects_the_next_estimate)
{
    static const char *const files[] = {"cost_2-1-197_plain.jsonl", "cost_2-1-332_plain.jsonl"};
    for (size_t i = 0; i < 2; i++) {
        double total = recorded_total(files[i]);
        /* Output is only the content size / 4 here: under, but input and cache writes are right. */
        double e = estimate_without_result(files[i], NULL);
        cr_expect(e > total * 0.75 && e < total, "%s: estimate %.6f, CLI %.6f", files[i], e, total);

        /* Iteration 1 ends with its result line: the ratio is learnt ... */
        struct rs_cost_calib *cal = rs_cost_calib_new();
        struct fx f;
        fx_init(&f, "");
        feed_recording(&f, files[i], false);
        struct rs_cost_calibration cc;
        cr_assert(rs_iteration_calibrate(f.it, cal, &cc));
        cr_expect(!rs_iteration_calibrate(f.it, cal, &cc), "calibrated once per iteration");
        cr_expect_float_eq(cc.estimate, e, 1e-9);
        cr_expect_float_eq(cc.actual, total, 1e-9);
        cr_expect_float_eq(cc.ratio_before, 1.0, 1e-12);
        cr_expect_float_eq(cc.ratio, total / e, 1e-9);
        cr_expect(!cc.clamped);
        cr_expect_float_eq(rs_cost_calib_ratio(cal, cc.model), total / e, 1e-9);
        cr_expect_float_eq(rs_cost_calib_ratio(cal, "claude-haiku-4-5"), 1.0, 1e-12); /* per model */
        fx_free(&f);
        /* ... and iteration 2 of the same model, still running, is estimated right. */
        double e2 = estimate_without_result(files[i], cal);
        cr_expect(e2 > total * 0.99 && e2 < total * 1.01, "%s: calibrated %.6f, CLI %.6f", files[i], e2, total);
        rs_cost_calib_free(cal);
    }
}

struct note_log {
    char kinds[16][32];
    char msgs[16][160];
    int n;
};

static void log_note(void *ud, const char *kind, const char *msg)
{
    struct note_log *l = ud;
    if (l->n < 16) {
        snprintf(l->kinds[l->n], sizeof l->kinds[0], "%s", kind);
        snprintf(l->msgs[l->n], sizeof l->msgs[0], "%s", msg);
        l->n++;
    }
}

static void it_feed(struct rs_iteration *it, const char *line)
{
    struct fx f = {.it = it};
    struct rs_stream *st;
    rs_stream_new(NULL, on_ev, &f, &st);
    rs_stream_feed(st, line, strlen(line));
    rs_stream_feed(st, "\n", 1);
    rs_stream_free(st);
}

Test(iteration, unknown_model_is_said_once_and_priced_with_the_fallback)
{
    char dir[] = "/tmp/rs-iter-XXXXXX";
    cr_assert(mkdtemp(dir));
    struct rs_config *cfg = rs_config_new_defaults(dir);
    struct note_log l = {0};
    struct rs_iteration_opts o = {.cfg = cfg, .school = "", .note = log_note, .ud = &l};
    struct rs_iteration *it;
    cr_assert_eq(rs_iteration_new(&o, &it), 0);
    cr_expect_null(rs_iteration_model(it));
    it_feed(it, "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"claude-fable-5\"}");
    cr_expect_str_eq(rs_iteration_model(it), "claude-fable-5");
    int found = 0;
    for (int i = 0; i < l.n; i++)
        if (strcmp(l.kinds[i], "price-unknown") == 0) {
            found++;
            cr_expect_str_eq(l.msgs[i], "no price for claude-fable-5; estimates use '*'");
        }
    cr_expect_eq(found, 1);
    /* "*": $5 / $25 / $6.25 / $10 / $0.5 per million. */
    it_feed(it, "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"model\":\"claude-fable-5\",\"content\":[],"
                "\"usage\":{\"input_tokens\":1000000,\"output_tokens\":0,\"cache_creation_input_tokens\":3000000,"
                "\"cache_read_input_tokens\":0,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1000000,"
                "\"ephemeral_1h_input_tokens\":2000000}}}}");
    cr_expect_float_eq(rs_iteration_estimate(it, false), 5 + 6.25 + 20, 1e-9);
    rs_iteration_free(it);

    /* A known model: nothing said. */
    l.n = 0;
    cr_assert_eq(rs_iteration_new(&o, &it), 0);
    it_feed(it, "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"claude-opus-4-8[1m]\"}");
    for (int i = 0; i < l.n; i++)
        cr_expect_str_neq(l.kinds[i], "price-unknown");
    rs_iteration_free(it);
    rs_config_free(cfg);
    rmdir(dir);
}

#define START(id, parent, usage)                                                                                   \
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_start\",\"message\":{\"id\":\"" id                   \
    "\",\"model\":\"claude-opus-4-8\",\"content\":[],\"usage\":" usage "}},\"parent_tool_use_id\":" parent "}"
#define DELTA(parent, usage)                                                                                       \
    "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"  \
    "\"usage\":" usage "},\"parent_tool_use_id\":" parent "}"
#define LINE(id, parent, usage, content)                                                                           \
    "{\"type\":\"assistant\",\"message\":{\"id\":\"" id "\",\"model\":\"claude-opus-4-8\",\"content\":[" content   \
    "],\"usage\":" usage "},\"parent_tool_use_id\":" parent "}"

Test(iteration, final_usage_replaces_the_content_guess_and_interleaved_messages_count_once)
{
    char dir[] = "/tmp/rs-iter-XXXXXX";
    cr_assert(mkdtemp(dir));
    struct rs_config *cfg = rs_config_new_defaults(dir);
    struct rs_iteration_opts o = {.cfg = cfg, .school = ""};
    struct rs_iteration *it;
    cr_assert_eq(rs_iteration_new(&o, &it), 0);
    /* Main thread message A starts; a sub-agent's message B starts and interleaves. */
    it_feed(it, START("A", "null", "{\"input_tokens\":1000000,\"output_tokens\":1}"));
    cr_expect_float_eq(rs_iteration_estimate(it, false), 5 + 25e-6, 1e-9);
    it_feed(it, START("B", "\"toolu_1\"", "{\"input_tokens\":0,\"cache_read_input_tokens\":1000000,"
                                         "\"output_tokens\":1}"));
    cr_expect_float_eq(rs_iteration_estimate(it, false), 5 + 0.5 + 50e-6, 1e-9);
    /* A's assistant line: 4000 bytes of text -> 1000 output tokens guessed. */
    char text[4001];
    memset(text, 'x', 4000);
    text[4000] = '\0';
    char *line = rs_xasprintf(LINE("A", "null", "{\"input_tokens\":1000000,\"output_tokens\":1}",
                                   "{\"type\":\"text\",\"text\":\"%s\"}"),
                              text);
    it_feed(it, line);
    free(line);
    it_feed(it, LINE("B", "\"toolu_1\"", "{\"input_tokens\":0,\"cache_read_input_tokens\":1000000,\"output_tokens\":1}",
                     "{\"type\":\"text\",\"text\":\"b\"}"));
    cr_expect_float_eq(rs_iteration_estimate(it, false), 5 + 0.5 + 0.025 + 25e-6, 1e-9);
    /* B's final usage (the sub-agent's delta) only touches B: 200000 output tokens = $5. */
    it_feed(it, DELTA("\"toolu_1\"", "{\"output_tokens\":200000}"));
    cr_expect_float_eq(rs_iteration_estimate(it, false), 5 + 0.5 + 0.025 + 5, 1e-9);
    /* A's final usage is below the guess: the final count wins; its input fields replace (> 0 only). */
    it_feed(it, DELTA("null", "{\"input_tokens\":2000000,\"cache_read_input_tokens\":0,\"output_tokens\":40}"));
    cr_expect_float_eq(rs_iteration_estimate(it, false), 10 + 0.001 + 0.5 + 5, 1e-9);
    /* A later line of A (another block) changes nothing: its output is final. */
    it_feed(it, LINE("A", "null", "{\"input_tokens\":1000000,\"output_tokens\":1}", "{\"type\":\"text\",\"text\":\"z\"}"));
    cr_expect_float_eq(rs_iteration_estimate(it, false), 10 + 0.001 + 0.5 + 5, 1e-9);
    struct rs_iteration_counts k;
    rs_iteration_counts(it, &k);
    cr_expect_eq(k.api_messages, 2);
    /* Cache writes without a split are 5-minute ones. */
    it_feed(it, LINE("C", "null", "{\"input_tokens\":0,\"output_tokens\":0,\"cache_creation_input_tokens\":1000000}",
                     ""));
    cr_expect_float_eq(rs_iteration_estimate(it, false), 10 + 0.001 + 0.5 + 5 + 6.25, 1e-9);
    rs_iteration_free(it);
    rs_config_free(cfg);
    rmdir(dir);
}

Test(iteration, calibration_ratio_is_clamped_and_skips_tiny_iterations)
{
    char dir[] = "/tmp/rs-iter-XXXXXX";
    cr_assert(mkdtemp(dir));
    struct rs_config *cfg = rs_config_new_defaults(dir);
    struct rs_cost_calib *cal = rs_cost_calib_new();
    struct rs_iteration_opts o = {.cfg = cfg, .school = "", .calib = cal};
    struct rs_iteration *it;
    /* Estimate $5 (1M input), actual $50: ratio 10, clamped to RS_COST_CALIB_MAX. */
    cr_assert_eq(rs_iteration_new(&o, &it), 0);
    it_feed(it, "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"claude-opus-4-8\"}");
    it_feed(it, LINE("A", "null", "{\"input_tokens\":1000000,\"output_tokens\":0}", ""));
    struct rs_cost_calibration cc;
    cr_expect(!rs_iteration_calibrate(it, cal, &cc), "no result line yet");
    it_feed(it, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"total_cost_usd\":50}");
    cr_assert(rs_iteration_calibrate(it, cal, &cc));
    cr_expect(cc.clamped);
    cr_expect_float_eq(cc.ratio, RS_COST_CALIB_MAX, 1e-12);
    cr_expect_str_eq(cc.model, "claude-opus-4-8");
    rs_iteration_free(it);
    /* The next iteration of that model: its $5 estimate counts as $20 toward the caps. */
    cr_assert_eq(rs_iteration_new(&o, &it), 0);
    it_feed(it, "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"claude-opus-4-8\"}");
    it_feed(it, LINE("B", "null", "{\"input_tokens\":1000000,\"output_tokens\":0}", ""));
    bool est;
    cr_expect_float_eq(rs_iteration_cost(it, &est), 20, 1e-9);
    cr_expect(est);
    cr_expect_float_eq(rs_iteration_estimate(it, false), 5, 1e-9);
    /* Its result ($5): sums 55 / 10 -> 5.5, still clamped to 4. A result of $0 teaches nothing. */
    it_feed(it, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"total_cost_usd\":5}");
    cr_assert(rs_iteration_calibrate(it, cal, &cc));
    cr_expect_float_eq(cc.ratio_before, RS_COST_CALIB_MAX, 1e-12);
    cr_expect_float_eq(cc.ratio, RS_COST_CALIB_MAX, 1e-12);
    rs_iteration_free(it);
    cr_assert_eq(rs_iteration_new(&o, &it), 0);
    it_feed(it, "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"claude-opus-4-8\"}");
    it_feed(it, LINE("C", "null", "{\"input_tokens\":1000000,\"output_tokens\":0}", ""));
    it_feed(it, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"total_cost_usd\":0}");
    cr_expect(!rs_iteration_calibrate(it, cal, &cc));
    rs_iteration_free(it);
    /* Low side: estimate $5, actual $0.5 on a fresh model -> 0.1, clamped to RS_COST_CALIB_MIN. */
    cr_assert_eq(rs_iteration_new(&o, &it), 0);
    it_feed(it, "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"claude-sonnet-4-5\"}");
    it_feed(it, LINE("D", "null", "{\"input_tokens\":1000000,\"output_tokens\":0}", ""));
    it_feed(it, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"total_cost_usd\":0.3}");
    cr_assert(rs_iteration_calibrate(it, cal, &cc));
    cr_expect_float_eq(cc.ratio, RS_COST_CALIB_MIN, 1e-12);
    cr_expect_float_eq(rs_cost_calib_ratio(cal, "claude-opus-4-8"), RS_COST_CALIB_MAX, 1e-12);
    rs_iteration_free(it);
    rs_cost_calib_free(cal);
    rs_config_free(cfg);
    rmdir(dir);
}

Test(iteration, interleaved_assistant_lines_count_each_message_once)
{
    /* Without partial messages: a sub-agent's message B between two blocks of A. */
    char dir[] = "/tmp/rs-iter-XXXXXX";
    cr_assert(mkdtemp(dir));
    struct rs_config *cfg = rs_config_new_defaults(dir);
    struct rs_iteration_opts o = {.cfg = cfg, .school = ""};
    struct rs_iteration *it;
    cr_assert_eq(rs_iteration_new(&o, &it), 0);
    it_feed(it, LINE("A", "null", "{\"input_tokens\":1000000,\"output_tokens\":1}", "{\"type\":\"text\",\"text\":\"a\"}"));
    it_feed(it, LINE("B", "\"toolu_1\"", "{\"input_tokens\":1000000,\"output_tokens\":1}",
                     "{\"type\":\"text\",\"text\":\"b\"}"));
    it_feed(it, LINE("A", "null", "{\"input_tokens\":1000000,\"output_tokens\":1}", "{\"type\":\"text\",\"text\":\"c\"}"));
    struct rs_iteration_counts k;
    rs_iteration_counts(it, &k);
    cr_expect_eq(k.api_messages, 2);
    cr_expect_float_eq(rs_iteration_estimate(it, false), 2 * (5 + 25e-6), 1e-9);
    rs_iteration_free(it);
    rs_config_free(cfg);
    rmdir(dir);
}
