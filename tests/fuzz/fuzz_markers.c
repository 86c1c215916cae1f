/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the progress-marker parser (core/markers.c) on arbitrary
 * text. Every marker must be consistent with its kind (a DONE has a school,
 * a csv and counts >= 0, a FAILED a school and a reason, an INVALID a
 * reason and the keyword it meant), and rs_markers_parse_text() must find
 * exactly the markers rs_marker_parse_line() finds line by line.
 */
#include "fuzz.h"
#include "ralphsup/core/markers.h"

static void check(const struct rs_marker *m)
{
    switch (m->kind) {
    case RS_MARKER_PROGRESS:
        FUZZ_CHECK(m->text && m->intended == m->kind, "progress without text");
        break;
    case RS_MARKER_DONE:
        FUZZ_CHECK(m->school && *m->school && m->csv && *m->csv && m->coaches >= 0 && m->overlaps >= 0,
                   "incomplete done marker");
        break;
    case RS_MARKER_FAILED:
        FUZZ_CHECK(m->school && *m->school && m->reason, "incomplete failed marker");
        break;
    case RS_MARKER_INVALID:
        FUZZ_CHECK(m->reason && *m->reason && m->intended != RS_MARKER_INVALID, "invalid marker without reason");
        break;
    default:
        FUZZ_CHECK(0, "kind %d", (int)m->kind);
    }
    FUZZ_CHECK(strcmp(rs_marker_kind_name(m->kind), "") != 0, "kind name");
}

static void digest(struct rs_buf *b, const struct rs_marker *m)
{
    rs_buf_printf(b, "\n%d %d %lld %lld %d;", (int)m->kind, (int)m->intended, (long long)m->coaches,
                  (long long)m->overlaps, m->retryable);
    fuzz_puts(b, "text", m->text);
    fuzz_puts(b, "school", m->school);
    fuzz_puts(b, "csv", m->csv);
    fuzz_puts(b, "reason", m->reason);
}

static void on_marker(struct rs_marker *m, void *ud)
{
    check(m);
    digest(ud, m);
    rs_marker_deinit(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *t = (const char *)data, *end = t + size;
    struct rs_buf all, lines;
    rs_buf_init(&all);
    rs_buf_init(&lines);
    size_t n = rs_markers_parse_text(t, size, on_marker, &all);
    size_t m = 0;
    for (const char *p = t; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct rs_marker mk;
        if (rs_marker_parse_line(p, (size_t)(le - p), &mk) == 1) {
            m++;
            on_marker(&mk, &lines);
        }
        p = nl ? nl + 1 : end;
    }
    FUZZ_CHECK(n == m && all.len == lines.len && (all.len == 0 || memcmp(all.data, lines.data, all.len) == 0),
               "text and line parses differ (%zu vs %zu markers)", n, m);
    rs_buf_deinit(&all);
    rs_buf_deinit(&lines);
    return 0;
}
