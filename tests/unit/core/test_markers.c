/* SPDX-License-Identifier: MIT */
/* Unit tests for markers.c: the RALPH_* progress-marker contract (docs/protocol.md). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/common.h"
#include "ralphsup/core/markers.h"
#include "ralphsup/base/utf8.h"

static int parse(const char *line, struct rs_marker *m)
{
    memset(m, 0, sizeof(*m));
    return rs_marker_parse_line(line, strlen(line), m);
}

Test(markers, progress)
{
    struct rs_marker m;
    cr_assert_eq(parse("RALPH_PROGRESS: page 2 of 5  ", &m), 1);
    cr_expect_eq(m.kind, RS_MARKER_PROGRESS);
    cr_expect_eq(m.intended, RS_MARKER_PROGRESS);
    cr_expect_str_eq(m.text, "page 2 of 5");
    rs_marker_deinit(&m);
    cr_assert_eq(parse("RALPH_PROGRESS:", &m), 1);
    cr_expect_eq(m.kind, RS_MARKER_PROGRESS);
    cr_expect_str_eq(m.text, "");
    rs_marker_deinit(&m);
}

Test(markers, done_and_tolerated_wrapping)
{
    static const char *const lines[] = {
        "RALPH_DONE: {\"school\": \"Example U\", \"coaches\": 12, \"overlaps\": 2, \"csv\": \"output/ex.csv\"}",
        "   RALPH_DONE: {\"school\":\"Example U\",\"coaches\":12,\"overlaps\":2,\"csv\":\"output/ex.csv\"}\r",
        "\t`RALPH_DONE: {\"school\":\"Example U\",\"coaches\":12,\"overlaps\":2,\"csv\":\"output/ex.csv\"}`",
        "```RALPH_DONE: {\"csv\":\"output/ex.csv\",\"overlaps\":2,\"coaches\":12,\"school\":\"Example U\",\"x\":1} ```",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(lines); i++) {
        struct rs_marker m;
        cr_assert_eq(parse(lines[i], &m), 1, "%s", lines[i]);
        cr_expect_eq(m.kind, RS_MARKER_DONE, "%s: %s", lines[i], m.reason ? m.reason : "");
        cr_expect_str_eq(m.school, "Example U");
        cr_expect_eq(m.coaches, 12);
        cr_expect_eq(m.overlaps, 2);
        cr_expect_str_eq(m.csv, "output/ex.csv");
        rs_marker_deinit(&m);
    }
}

Test(markers, failed)
{
    struct rs_marker m;
    cr_assert_eq(parse("RALPH_FAILED: {\"school\": \"X U\", \"reason\": \"site is down\", \"retryable\": true}", &m), 1);
    cr_expect_eq(m.kind, RS_MARKER_FAILED);
    cr_expect_str_eq(m.school, "X U");
    cr_expect_str_eq(m.reason, "site is down");
    cr_expect(m.retryable);
    rs_marker_deinit(&m);
    cr_assert_eq(parse("RALPH_FAILED: {\"school\": \"X U\", \"reason\": \"no staff page\", \"retryable\": false}", &m), 1);
    cr_expect_eq(m.kind, RS_MARKER_FAILED);
    cr_expect(!m.retryable);
    rs_marker_deinit(&m);
}

Test(markers, invalid_payloads_have_precise_reasons)
{
    static const struct {
        const char *line;
        enum rs_marker_kind intended;
        const char *reason; /* prefix */
    } cases[] = {
        {"RALPH_DONE: {\"school\": \"U\", \"coaches\": 3, \"overlaps\": 0", RS_MARKER_DONE, "RALPH_DONE: invalid JSON at column"},
        {"RALPH_DONE: {\"school\": \"U\", \"coaches\": \"3\", \"overlaps\": 0, \"csv\": \"a.csv\"}", RS_MARKER_DONE,
         "RALPH_DONE: \"coaches\" must be a non-negative integer"},
        {"RALPH_DONE: {\"school\": \"U\", \"coaches\": -1, \"overlaps\": 0, \"csv\": \"a.csv\"}", RS_MARKER_DONE,
         "RALPH_DONE: \"coaches\" must be a non-negative integer"},
        {"RALPH_DONE: {\"school\": \"U\", \"coaches\": 2.5, \"overlaps\": 0, \"csv\": \"a.csv\"}", RS_MARKER_DONE,
         "RALPH_DONE: \"coaches\" must be a non-negative integer"},
        {"RALPH_DONE: {\"school\": \"U\", \"coaches\": 1, \"overlaps\": null, \"csv\": \"a.csv\"}", RS_MARKER_DONE,
         "RALPH_DONE: \"overlaps\" must be a non-negative integer"},
        {"RALPH_DONE: {\"school\": \"U\", \"coaches\": 1, \"overlaps\": 0}", RS_MARKER_DONE, "RALPH_DONE: missing \"csv\""},
        {"RALPH_DONE: {\"school\": \"\", \"coaches\": 1, \"overlaps\": 0, \"csv\": \"a\"}", RS_MARKER_DONE,
         "RALPH_DONE: \"school\" must be a non-empty string"},
        {"RALPH_DONE: {\"coaches\": 1}", RS_MARKER_DONE, "RALPH_DONE: missing \"school\""},
        {"RALPH_DONE: [1, 2]", RS_MARKER_DONE, "RALPH_DONE: the payload must be a JSON object"},
        {"RALPH_DONE:", RS_MARKER_DONE, "RALPH_DONE: missing JSON payload"},
        {"RALPH_DONE {\"school\": \"U\"}", RS_MARKER_DONE, "RALPH_DONE: the keyword must be followed by ':'"},
        {"RALPH_DONE: {\"school\": \"U\", \"school\": \"V\", \"coaches\": 1, \"overlaps\": 0, \"csv\": \"a\"}", RS_MARKER_DONE,
         "RALPH_DONE: invalid JSON"},
        {"RALPH_DONE: {\"school\": \"U\", \"coaches\": 1, \"overlaps\": 0, \"csv\": \"a\"} and more", RS_MARKER_DONE,
         "RALPH_DONE: invalid JSON"},
        {"`RALPH_DONE: {\"school\": \"U\", \"coaches\": 1, \"overlaps\": 0, \"csv\": \"a\"}", RS_MARKER_DONE,
         "RALPH_DONE: unbalanced backticks"},
        {"RALPH_FAILED: {\"school\": \"U\", \"reason\": \"r\", \"retryable\": \"yes\"}", RS_MARKER_FAILED,
         "RALPH_FAILED: \"retryable\" must be true or false"},
        {"RALPH_FAILED: {\"school\": \"U\", \"reason\": \"r\"}", RS_MARKER_FAILED, "RALPH_FAILED: missing \"retryable\""},
        {"RALPH_FAILED: {\"school\": \"U\", \"reason\": 5, \"retryable\": true}", RS_MARKER_FAILED,
         "RALPH_FAILED: \"reason\" must be a non-empty string"},
        {"RALPH_FAILED: not json", RS_MARKER_FAILED, "RALPH_FAILED: invalid JSON at column"},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        struct rs_marker m;
        cr_assert_eq(parse(cases[i].line, &m), 1, "%s", cases[i].line);
        cr_expect_eq(m.kind, RS_MARKER_INVALID, "%s", cases[i].line);
        cr_expect_eq(m.intended, cases[i].intended, "%s", cases[i].line);
        cr_expect(m.reason && strncmp(m.reason, cases[i].reason, strlen(cases[i].reason)) == 0, "%s: got <%s>",
                  cases[i].line, m.reason ? m.reason : "(null)");
        cr_expect_null(m.school, "%s", cases[i].line);
        rs_marker_deinit(&m);
    }
}

Test(markers, not_markers)
{
    static const char *const lines[] = {
        "",
        "plain prose",
        "Note: RALPH_DONE: {\"school\": \"U\"}",
        "- RALPH_PROGRESS: bullet",
        "> RALPH_PROGRESS: quote",
        "RALPH_DONEX: {}",
        "RALPH_OTHER: text",
        "ralph_done: {}",
        "RALPH_",
        "````RALPH_PROGRESS: four backticks",
        "` RALPH_PROGRESS: space after backtick",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(lines); i++) {
        struct rs_marker m;
        cr_expect_eq(parse(lines[i], &m), 0, "<%s> taken as a marker", lines[i]);
    }
}

struct collected {
    struct rs_marker m[8];
    size_t n;
};

static void collect_cb(struct rs_marker *m, void *ud)
{
    struct collected *c = ud;
    cr_assert_lt(c->n, RS_ARRAY_SIZE(c->m));
    c->m[c->n++] = *m;
}

Test(markers, several_markers_in_one_text)
{
    const char *text = "I looked at the site.\n"
                       "RALPH_PROGRESS: staff page found\r\n"
                       "Some prose with RALPH_DONE: inline, ignored.\n"
                       "  RALPH_PROGRESS: parsing\n"
                       "\n"
                       "RALPH_DONE: {\"school\": \"U\", \"coaches\": 0, \"overlaps\": 0, \"csv\": \"out/u.csv\"}";
    struct collected c = {.n = 0};
    cr_expect_eq(rs_markers_parse_text(text, strlen(text), collect_cb, &c), 3);
    cr_assert_eq(c.n, 3);
    cr_expect_eq(c.m[0].kind, RS_MARKER_PROGRESS);
    cr_expect_str_eq(c.m[0].text, "staff page found");
    cr_expect_str_eq(c.m[1].text, "parsing");
    cr_expect_eq(c.m[2].kind, RS_MARKER_DONE);
    cr_expect_eq(c.m[2].coaches, 0);
    for (size_t i = 0; i < c.n; i++)
        rs_marker_deinit(&c.m[i]);
}

Test(markers, size_limit)
{
    /* Exactly RS_MARKER_MAX_BYTES is accepted, one more byte is invalid. */
    size_t n = RS_MARKER_MAX_BYTES;
    char *line = malloc(n + 2);
    memcpy(line, "RALPH_PROGRESS: ", 16);
    memset(line + 16, 'p', n - 16);
    line[n] = '\0';
    struct rs_marker m;
    cr_assert_eq(rs_marker_parse_line(line, n, &m), 1);
    cr_expect_eq(m.kind, RS_MARKER_PROGRESS);
    cr_expect_eq(strlen(m.text), n - 16);
    rs_marker_deinit(&m);
    line[n] = 'p';
    line[n + 1] = '\0';
    cr_assert_eq(rs_marker_parse_line(line, n + 1, &m), 1);
    cr_expect_eq(m.kind, RS_MARKER_INVALID);
    cr_expect_eq(m.intended, RS_MARKER_PROGRESS);
    cr_expect_str_eq(m.reason, "RALPH_PROGRESS: marker line longer than 65536 bytes");
    rs_marker_deinit(&m);
    free(line);
}

Test(markers, overlong_failed_quotes_its_beginning)
{
    /* An over-long RALPH_FAILED keeps the agent's words: the beginning of the payload, cut with "…". */
    size_t n = RS_MARKER_MAX_BYTES + 10;
    char *line = malloc(n + 1);
    const char *head = "RALPH_FAILED: {\"school\": \"X\", \"reason\": \"";
    size_t h = strlen(head);
    memcpy(line, head, h);
    for (size_t i = h; i + 1 < n; i += 2)
        memcpy(line + i, "\xC3\xA9", 2);
    line[n - 1] = 'e';
    line[n] = '\0';
    struct rs_marker m;
    cr_assert_eq(rs_marker_parse_line(line, n, &m), 1);
    cr_expect_eq(m.kind, RS_MARKER_INVALID);
    cr_expect_eq(m.intended, RS_MARKER_FAILED);
    const char *want = "RALPH_FAILED: marker line longer than 65536 bytes; it begins: {\"school\": \"X\", \"reason\": \"\xC3\xA9";
    cr_expect_eq(strncmp(m.reason, want, strlen(want)), 0, "%.120s", m.reason);
    size_t len = strlen(m.reason);
    cr_expect_leq(len, strlen("RALPH_FAILED: marker line longer than 65536 bytes; it begins: ") + RS_TEXT_MAX);
    cr_expect_str_eq(m.reason + len - 3, RS_UTF8_ELLIPSIS);
    cr_expect(rs_utf8_valid(m.reason, len));
    rs_marker_deinit(&m);
    free(line);
}

Test(markers, payload_bytes_that_are_not_utf8_become_fffd)
{
    const char *line = "RALPH_FAILED: {\"school\": \"X\", \"reason\": \"bad \xFF and \xC0\xAF\", \"retryable\": false}";
    struct rs_marker m;
    cr_assert_eq(rs_marker_parse_line(line, strlen(line), &m), 1);
    cr_assert_eq(m.kind, RS_MARKER_FAILED, "%s", m.reason ? m.reason : "");
    cr_expect_str_eq(m.reason, "bad " RS_UTF8_REPLACEMENT " and " RS_UTF8_REPLACEMENT RS_UTF8_REPLACEMENT);
    cr_expect_not(m.retryable);
    rs_marker_deinit(&m);
}

Test(markers, kind_names_and_deinit)
{
    cr_expect_str_eq(rs_marker_kind_name(RS_MARKER_PROGRESS), "progress");
    cr_expect_str_eq(rs_marker_kind_name(RS_MARKER_DONE), "done");
    cr_expect_str_eq(rs_marker_kind_name(RS_MARKER_FAILED), "failed");
    cr_expect_str_eq(rs_marker_kind_name(RS_MARKER_INVALID), "invalid");
    rs_marker_deinit(NULL);
    struct rs_marker m;
    cr_assert_eq(parse("RALPH_PROGRESS: x", &m), 1);
    rs_marker_deinit(&m);
    cr_expect_null(m.text);
    cr_expect_eq(m.kind, 0);
}
