/* SPDX-License-Identifier: MIT */
/* Event log and transcripts: one JSON line per record, API keys redacted even across chunks. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/eventlog.h"
#include "ralphsup/util.h"

#define KEY "sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop0123456789"

static char *slurp(const char *path)
{
    char *data;
    size_t len;
    cr_assert_eq(rs_file_read(path, 1 << 24, &data, &len), 0);
    return data;
}

Test(eventlog, records_are_lines_and_redacted)
{
    char dir[] = "/tmp/rs-evlog-XXXXXX";
    cr_assert(mkdtemp(dir));
    struct rs_eventlog *el;
    cr_assert_eq(rs_eventlog_open(dir, &el), 0);
    struct rs_evrec *r = rs_evrec_new("iteration-finished");
    rs_evrec_str(r, "school", "Université \"Q\"");
    rs_evrec_str(r, "reason", "leaked " KEY " here");
    rs_evrec_int(r, "attempt", 2);
    rs_evrec_bool(r, "ok", true);
    rs_eventlog_emit(el, r);
    rs_eventlog_emit(el, rs_evrec_new("second"));
    char *s = slurp(rs_eventlog_path(el));
    cr_expect(strstr(s, "ABCDEFGHIJ") == NULL, "key leaked: %s", s);
    cr_expect(strstr(s, "sk-ant-***REDACTED***"));
    cr_expect(strstr(s, "\"event\":\"iteration-finished\""));
    int lines = 0;
    for (char *q = s; *q; q++)
        lines += *q == '\n';
    cr_expect_eq(lines, 2);
    free(s);
    rs_eventlog_free(el);
}

Test(eventlog, transcript_redacts_keys_split_across_chunks)
{
    char dir[] = "/tmp/rs-transcript-XXXXXX";
    cr_assert(mkdtemp(dir));
    const char *text = "{\"type\":\"assistant\",\"text\":\"key " KEY " end\"}\n{\"type\":\"result\"}\n";
    size_t n = strlen(text);
    /* Every split point, including inside the key. */
    for (size_t cut = 1; cut < n; cut += 3) {
        struct rs_transcript *t;
        cr_assert_eq(rs_transcript_open(dir, "0001-x", &t), 0);
        rs_transcript_write(t, text, cut);
        rs_transcript_write(t, text + cut, n - cut);
        char *path = rs_xstrdup(rs_transcript_path(t));
        rs_transcript_close(t);
        char *s = slurp(path);
        cr_expect(strstr(s, "ABCDEFGHIJ") == NULL, "cut %zu leaked: %s", cut, s);
        cr_expect(strstr(s, "key sk-ant-***REDACTED*** end"), "cut %zu: %s", cut, s);
        cr_expect(strstr(s, "{\"type\":\"result\"}\n"), "cut %zu", cut);
        free(s);
        free(path);
    }
}
