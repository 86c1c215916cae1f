/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for stream.c: the incremental stream-json reader. Realistic
 * lines come from tests/fixtures/streams/ (shapes of HEADLESS.md); every
 * event is rendered to a text dump so that chunked feeding can be compared
 * with whole-buffer feeding, and targeted callbacks check single fields.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ralphsup/base/utf8.h"
#include "ralphsup/core/stream.h"
#include "ralphsup/base/util.h"

/* ---- helpers --------------------------------------------------------------- */

static char *fixture(const char *name, size_t *len)
{
    const char *root = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert(root, "RALPHSUP_SOURCE_ROOT not set");
    char *path = rs_xasprintf("%s/tests/fixtures/streams/%s", root, name);
    char *data;
    cr_assert_eq(rs_file_read(path, 1 << 20, &data, len), 0, "cannot read %s", path);
    free(path);
    return data;
}

static void dump_str(struct rs_buf *b, const char *k, const char *v)
{
    if (v)
        rs_buf_printf(b, " %s=\"%s\"", k, v);
}

static void dump_usage(struct rs_buf *b, const struct rs_stream_usage *u)
{
    if (u->present)
        rs_buf_printf(b, " usage=%lld/%lld/%lld/%lld", (long long)u->input_tokens, (long long)u->output_tokens,
                      (long long)u->cache_creation_input_tokens, (long long)u->cache_read_input_tokens);
    if (u->present && u->has_cache_split)
        rs_buf_printf(b, " split=%lld/%lld", (long long)u->cache_creation_5m_input_tokens,
                      (long long)u->cache_creation_1h_input_tokens);
}

/* A complete, deterministic rendering of one event. */
static void dump_event(struct rs_buf *b, const struct rs_stream_event *ev)
{
    rs_buf_printf(b, "%llu %s bytes=%zu", (unsigned long long)ev->line_no, rs_stream_kind_name(ev->kind), ev->line_bytes);
    dump_str(b, "type", ev->type);
    dump_str(b, "subtype", ev->subtype);
    switch (ev->kind) {
    case RS_STREAM_INIT:
        dump_str(b, "sid", ev->init.session_id);
        dump_str(b, "model", ev->init.model);
        dump_str(b, "version", ev->init.claude_code_version);
        dump_str(b, "mode", ev->init.permission_mode);
        rs_buf_printf(b, " tools=%zu", ev->init.ntools);
        break;
    case RS_STREAM_ASSISTANT: {
        const struct rs_stream_assistant *a = &ev->assistant;
        dump_str(b, "id", a->message_id);
        dump_str(b, "model", a->model);
        dump_str(b, "error", a->error);
        dump_str(b, "error_text", a->error_text);
        rs_buf_printf(b, " first=%d synthetic=%d", a->first_of_message, a->synthetic);
        dump_usage(b, &a->usage);
        for (size_t i = 0; i < a->nblocks; i++) {
            const struct rs_stream_block *bl = &a->blocks[i];
            rs_buf_printf(b, " [%s", bl->type ? bl->type : "?");
            if (bl->kind == RS_STREAM_BLOCK_TEXT || bl->kind == RS_STREAM_BLOCK_THINKING)
                rs_buf_printf(b, " len=%zu bytes=%zu trunc=%d", bl->text_len, bl->text_bytes, bl->text_truncated);
            for (size_t j = 0; j < bl->nmarkers; j++) {
                const struct rs_marker *m = &bl->markers[j];
                rs_buf_printf(b, " marker=%s", rs_marker_kind_name(m->kind));
                dump_str(b, "school", m->school);
                dump_str(b, "reason", m->reason);
                dump_str(b, "text", m->text);
            }
            dump_str(b, "name", bl->tool_name);
            dump_str(b, "input", bl->input_json);
            dump_str(b, "summary", bl->summary);
            rs_buf_printf(b, "]");
        }
        break;
    }
    case RS_STREAM_USER:
        dump_str(b, "text", ev->user.text);
        for (size_t i = 0; i < ev->user.nresults; i++)
            rs_buf_printf(b, " [%s err=%d \"%s\" %zu]", ev->user.results[i].tool_use_id, ev->user.results[i].is_error,
                          ev->user.results[i].content, ev->user.results[i].content_bytes);
        break;
    case RS_STREAM_RESULT: {
        const struct rs_stream_result *r = &ev->result;
        rs_buf_printf(b, " is_error=%d status=%d/%d cost=%d/%.9g turns=%lld has_result=%d", r->is_error,
                      r->has_api_error_status, r->api_error_status, r->has_cost, r->total_cost_usd,
                      (long long)r->num_turns, r->has_result);
        dump_str(b, "result", r->result);
        for (size_t i = 0; i < r->ndenials; i++)
            rs_buf_printf(b, " denial=%s/%s/%s", r->denials[i].tool_name, r->denials[i].tool_use_id,
                          r->denials[i].input_summary);
        for (size_t i = 0; i < r->nerrors; i++)
            rs_buf_printf(b, " error=\"%s\"", r->errors[i]);
        dump_usage(b, &r->usage);
        break;
    }
    case RS_STREAM_API_RETRY:
        rs_buf_printf(b, " attempt=%lld/%lld delay=%.1f status=%d/%d", (long long)ev->api_retry.attempt,
                      (long long)ev->api_retry.max_retries, ev->api_retry.retry_delay_ms, ev->api_retry.has_error_status,
                      ev->api_retry.error_status);
        dump_str(b, "error", ev->api_retry.error);
        break;
    case RS_STREAM_RATE_LIMIT:
        dump_str(b, "status", ev->rate_limit.status);
        rs_buf_printf(b, " resets=%d/%lld", ev->rate_limit.has_resets_at, (long long)ev->rate_limit.resets_at);
        dump_str(b, "kind", ev->rate_limit.rate_limit_type);
        break;
    case RS_STREAM_SYSTEM:
        dump_str(b, "detail", ev->system.detail);
        break;
    case RS_STREAM_PARTIAL:
        dump_str(b, "id", ev->partial.message_id);
        dump_str(b, "model", ev->partial.model);
        dump_str(b, "parent", ev->partial.parent_tool_use_id);
        dump_usage(b, &ev->partial.usage);
        break;
    case RS_STREAM_BAD_LINE:
        dump_str(b, "reason", ev->bad.reason);
        dump_str(b, "head", ev->bad.head);
        break;
    default:
        break;
    }
    rs_buf_putc(b, '\n');
}

static void dump_cb(const struct rs_stream_event *ev, void *ud)
{
    dump_event(ud, ev);
}

/* Feed @data in pieces of @step bytes (0: at once), finish, return the dump (caller frees). */
static char *run(const char *data, size_t len, size_t step, const struct rs_stream_opts *o, struct rs_stream_stats *st)
{
    struct rs_buf b;
    rs_buf_init(&b);
    struct rs_stream *s;
    cr_assert_eq(rs_stream_new(o, dump_cb, &b, &s), 0);
    if (!step)
        step = len ? len : 1;
    for (size_t off = 0; off < len; off += step)
        cr_assert_eq(rs_stream_feed(s, data + off, len - off < step ? len - off : step), 0);
    int r = rs_stream_finish(s);
    rs_buf_printf(&b, "finish=%d\n", r);
    if (st)
        rs_stream_get_stats(s, st);
    rs_stream_free(s);
    rs_buf_cstr(&b);
    return rs_buf_steal(&b);
}

#define EXPECT_HAS(hay, needle) cr_expect(strstr((hay), (needle)), "missing <%s> in:\n%s", (needle), (hay))

/* ---- realistic streams ----------------------------------------------------- */

Test(stream, success_run)
{
    size_t len;
    char *data = fixture("success.jsonl", &len);
    struct rs_stream_stats st;
    char *d = run(data, len, 0, NULL, &st);
    EXPECT_HAS(d, "1 init bytes=");
    EXPECT_HAS(d, "sid=\"5f1c2a9e-0001-4c1d-9a53-1b2f3c4d5e6f\" model=\"claude-opus-4-8[1m]\" version=\"2.1.197\" "
                  "mode=\"acceptEdits\" tools=10");
    /* Same message.id on two lines: usage is counted once. */
    EXPECT_HAS(d, "2 assistant");
    EXPECT_HAS(d, "id=\"msg_01AAA\" model=\"claude-opus-4-8[1m]\" first=1 synthetic=0 usage=3/25/2048/10000 split=0/0 "
                  "[text");
    EXPECT_HAS(d, "marker=progress text=\"Example University: fetching staff page\"]");
    EXPECT_HAS(d, "3 assistant");
    EXPECT_HAS(d, "id=\"msg_01AAA\" model=\"claude-opus-4-8[1m]\" first=0");
    EXPECT_HAS(d, "name=\"Bash\" input=\"{\"command\":\"curl -s -L 'https://athletics.example.edu/sports/football/"
                  "coaches?view=2&format=html' | python3 -c 'import sys; print(len(sys.stdin.read()))'\","
                  "\"description\":\"Fetch the coaches page\"}\"");
    EXPECT_HAS(d, "summary=\"Bash: curl -s -L 'https://athletics.example.edu/sports/football/coaches?view=2&f\xE2\x80\xA6\"");
    EXPECT_HAS(d, "4 system bytes=");
    EXPECT_HAS(d, "subtype=\"task_started\" detail=\"task_type=local_bash task_id=b1f2 tool_use_id=toolu_01 "
                  "description=long sleep\"");
    EXPECT_HAS(d, "5 user bytes=");
    EXPECT_HAS(d, "[toolu_01 err=0 \"48213\" 7]");
    EXPECT_HAS(d, "summary=\"Write: output/example_university.csv\"");
    EXPECT_HAS(d, "input=\"{\"content\":\"name,title,email\\nJane Doe,Head Coach,jdoe@example.edu\\n\","
                  "\"file_path\":\"output/example_university.csv\"}\"");
    EXPECT_HAS(d, "[toolu_02 err=1 \"PreToolUse:Write hook error: [hooks/guard.sh]: ralphsup policy: writing to "
                  "output/example_university.csv is not allowed\n\"");
    EXPECT_HAS(d, "marker=done school=\"Example University\"]");
    EXPECT_HAS(d, "9 result bytes=");
    EXPECT_HAS(d, "is_error=0 status=0/0 cost=1/0.8437245 turns=4 has_result=1");
    EXPECT_HAS(d, "denial=Write/toolu_02/Write: output/example_university.csv");
    EXPECT_HAS(d, "usage=10/165/2498/34396");
    EXPECT_HAS(d, "finish=0\n");
    cr_expect_eq(st.lines, 9);
    cr_expect_eq(st.json_events, 9);
    cr_expect_eq(st.non_json, 0);
    cr_expect_eq(st.bytes, len);
    free(d);
    free(data);
}

Test(stream, api_error_and_retries)
{
    size_t len;
    char *data = fixture("api_error_429.jsonl", &len);
    char *d = run(data, len, 0, NULL, NULL);
    EXPECT_HAS(d, "2 api_retry bytes=");
    EXPECT_HAS(d, "attempt=1/10 delay=535.9 status=1/429 error=\"rate_limit\"");
    EXPECT_HAS(d, "attempt=2/10 delay=1071.2 status=0/0 error=\"unknown\"");
    EXPECT_HAS(d, "model=\"<synthetic>\" error=\"rate_limit\" error_text=\"API Error: Request rejected (429) "
                  "\xC2\xB7 Number of request tokens has exceeded your per-minute rate limit\" first=1 synthetic=1");
    /* The HEADLESS.md trap: subtype "success" although is_error is true. */
    EXPECT_HAS(d, "result bytes=");
    EXPECT_HAS(d, "subtype=\"success\" is_error=1 status=1/429 cost=1/0 turns=1 has_result=1 "
                  "result=\"API Error: Request rejected (429)");
    free(d);
    free(data);
}

Test(stream, budget_result_without_result_key)
{
    size_t len;
    char *data = fixture("budget.jsonl", &len);
    char *d = run(data, len, 0, NULL, NULL);
    EXPECT_HAS(d, "subtype=\"error_max_budget_usd\" is_error=1 status=0/0 cost=1/1.05 turns=2 has_result=0 "
                  "error=\"Reached maximum budget ($1)\"");
    EXPECT_HAS(d, "summary=\"Bash: echo turn2\"");
    free(d);
    free(data);
}

Test(stream, rate_limit_event)
{
    size_t len;
    char *data = fixture("rate_limit.jsonl", &len);
    char *d = run(data, len, 0, NULL, NULL);
    EXPECT_HAS(d, "2 rate_limit bytes=");
    EXPECT_HAS(d, "type=\"rate_limit_event\" status=\"rejected\" resets=1/1795561200 kind=\"five_hour\"");
    EXPECT_HAS(d, "result=\"You've hit your session limit \xC2\xB7 resets 11pm (UTC)\"");
    free(d);
    free(data);
}

Test(stream, system_other_and_unknown_types)
{
    size_t len;
    char *data = fixture("misc.jsonl", &len);
    char *d = run(data, len, 0, NULL, NULL);
    EXPECT_HAS(d, "1 system bytes=");
    EXPECT_HAS(d, "subtype=\"model_fallback\" detail=\"trigger=overloaded original_model=claude-opus-4-8[1m] "
                  "fallback_model=claude-sonnet-4-5 content=Switched to Sonnet 4.5");
    EXPECT_HAS(d, "subtype=\"task_notification\" detail=\"status=stopped task_id=b1f2\"");
    EXPECT_HAS(d, "subtype=\"thinking_tokens\" detail=\"estimated_tokens=3\"");
    EXPECT_HAS(d, "4 partial bytes=");
    EXPECT_HAS(d, "type=\"stream_event\" subtype=\"content_block_delta\"\n");
    EXPECT_HAS(d, "text=\"[Request interrupted by user for tool use]\" [toolu_09 err=1 \"The user doesn't want");
    EXPECT_HAS(d, "subtype=\"error_during_execution\" is_error=1 status=0/0 cost=1/0.015075 turns=3 has_result=0 "
                  "error=\"[ede_diagnostic] result_type=user");
    EXPECT_HAS(d, "7 other bytes=");
    EXPECT_HAS(d, "type=\"surprise\" subtype=\"new_kind\"\n");
    free(d);
    free(data);
}

/* ---- framing --------------------------------------------------------------- */

Test(stream, any_chunking_gives_the_same_events)
{
    static const char *const names[] = {"success.jsonl", "api_error_429.jsonl", "misc.jsonl"};
    for (size_t f = 0; f < RS_ARRAY_SIZE(names); f++) {
        size_t len;
        char *data = fixture(names[f], &len);
        char *whole = run(data, len, 0, NULL, NULL);
        char *bytewise = run(data, len, 1, NULL, NULL);
        cr_assert_str_eq(bytewise, whole, "%s: byte-at-a-time differs", names[f]);
        free(bytewise);
        /* Every split point of the stream into two pieces. */
        for (size_t k = 1; k < len; k++) {
            struct rs_buf b;
            rs_buf_init(&b);
            struct rs_stream *s;
            rs_stream_new(NULL, dump_cb, &b, &s);
            rs_stream_feed(s, data, k);
            rs_stream_feed(s, data + k, len - k);
            rs_buf_printf(&b, "finish=%d\n", rs_stream_finish(s));
            rs_stream_free(s);
            cr_assert_str_eq(rs_buf_cstr(&b), whole, "%s: split at %zu differs", names[f], k);
            rs_buf_deinit(&b);
        }
        for (size_t step = 2; step < 70; step += 7) {
            char *x = run(data, len, step, NULL, NULL);
            cr_assert_str_eq(x, whole, "%s: step %zu differs", names[f], step);
            free(x);
        }
        free(whole);
        free(data);
    }
}

/* A valid line of exactly @n bytes. */
static char *line_of(size_t n)
{
    const char *pre = "{\"type\":\"x\",\"pad\":\"";
    const char *post = "\"}";
    cr_assert(n >= strlen(pre) + strlen(post));
    char *l = rs_xmalloc(n + 2);
    memset(l, 'a', n);
    memcpy(l, pre, strlen(pre));
    memcpy(l + n - strlen(post), post, strlen(post));
    l[n] = '\n';
    l[n + 1] = '\0';
    return l;
}

Test(stream, line_at_and_over_the_limit)
{
    struct rs_stream_opts o = {.max_line_bytes = 100};
    char *at = line_of(100), *over = line_of(101);
    char *data = rs_xasprintf("%s%s%s", at, over, at);
    for (size_t step = 0; step <= 7; step += 7) {
        struct rs_stream_stats st;
        char *d = run(data, strlen(data), step, &o, &st);
        cr_expect_str_eq(d, "1 other bytes=100 type=\"x\"\n2 oversize bytes=101\n3 other bytes=100 type=\"x\"\nfinish=0\n",
                         "step %zu", step);
        cr_expect_eq(st.oversize, 1);
        cr_expect_eq(st.lines, 3);
        cr_expect_eq(st.json_events, 2);
        cr_expect_eq(st.longest_line, 101);
        free(d);
    }
    free(data);
    free(at);
    free(over);
}

static void count_cb(const struct rs_stream_event *ev, void *ud)
{
    size_t *n = ud;
    n[ev->kind]++;
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

Test(stream, huge_line_skipped_with_flat_memory, .timeout = 30)
{
    struct rs_stream_opts o = {.max_line_bytes = 1 << 20};
    size_t n[RS_STREAM_NKINDS] = {0};
    struct rs_stream *s;
    rs_stream_new(&o, count_cb, n, &s);
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    memcpy(chunk, "{\"type\":\"user\",\"a\":\"", 20);
    long before = max_rss_kib();
    size_t total = (size_t)64 << 20;
    for (size_t off = 0; off < total; off += sizeof(chunk)) {
        rs_stream_feed(s, chunk, sizeof(chunk));
        if (off == 0)
            memset(chunk, 'x', 20);
    }
    const char *tail = "\"}\n{\"type\":\"result\",\"subtype\":\"success\"}\n";
    rs_stream_feed(s, tail, strlen(tail));
    rs_stream_finish(s);
    long after = max_rss_kib();
    struct rs_stream_stats st;
    rs_stream_get_stats(s, &st);
    cr_expect_eq(n[RS_STREAM_OVERSIZE], 1);
    cr_expect_eq(n[RS_STREAM_RESULT], 1);
    cr_expect_eq(st.longest_line, total + 2);
    cr_expect_eq(st.oversize, 1);
    cr_expect_leq(st.buffer_capacity, (size_t)256 << 10);
    cr_expect_lt(after - before, 8 * 1024, "peak RSS grew by %ld KiB", after - before);
    rs_stream_free(s);
}

struct big_ctx {
    size_t results;
    size_t content_len;
    size_t content_bytes;
    size_t markers;
    size_t text_len;
    bool text_truncated;
    const char *want_school;
};

static void big_cb(const struct rs_stream_event *ev, void *ud)
{
    struct big_ctx *c = ud;
    if (ev->kind == RS_STREAM_USER && ev->user.nresults == 1) {
        c->results++;
        c->content_len = strlen(ev->user.results[0].content);
        c->content_bytes = ev->user.results[0].content_bytes;
    }
    if (ev->kind == RS_STREAM_ASSISTANT && ev->assistant.nblocks == 1) {
        const struct rs_stream_block *b = &ev->assistant.blocks[0];
        c->text_len = b->text_len;
        c->text_truncated = b->text_truncated;
        for (size_t i = 0; i < b->nmarkers; i++) {
            c->markers++;
            if (b->markers[i].kind == RS_MARKER_DONE)
                cr_expect_str_eq(b->markers[i].school, c->want_school);
        }
    }
}

Test(stream, big_lines_are_read_and_the_buffer_shrinks, .timeout = 30)
{
    /* An 8 MiB tool result (escaped newlines and quotes) fed in 64 KiB pieces. */
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"tool_use_id\":\"t1\",\"type\":"
                    "\"tool_result\",\"content\":\"");
    while (b.len < ((size_t)8 << 20))
        rs_buf_puts(&b, "<td class=\\\"x\\\">caf\xC3\xA9 \\\\ coach</td>\\n");
    rs_buf_puts(&b, "\",\"is_error\":false}]},\"session_id\":\"s\"}\n");
    /* A 3 MiB assistant text with markers in the middle and at the end. */
    rs_buf_puts(&b, "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"content\":[{\"type\":\"text\",\"text\":\"");
    size_t start = b.len;
    while (b.len - start < ((size_t)3 << 20)) {
        rs_buf_puts(&b, "plain prose line with \\\"quotes\\\" and RALPH_DONE: not at line start\\n");
        if (b.len - start > ((size_t)1 << 20) && b.len - start < ((size_t)1 << 20) + 100)
            rs_buf_puts(&b, "RALPH_PROGRESS: half way\\n");
    }
    rs_buf_puts(&b, "RALPH_DONE: {\\\"school\\\": \\\"Big U\\\", \\\"coaches\\\": 3, \\\"overlaps\\\": 0, "
                    "\\\"csv\\\": \\\"output/big.csv\\\"}\"}]}}\n");
    struct big_ctx c = {.want_school = "Big U"};
    struct rs_stream *s;
    rs_stream_new(NULL, big_cb, &c, &s);
    for (size_t off = 0; off < b.len; off += 65536)
        rs_stream_feed(s, b.data + off, b.len - off < 65536 ? b.len - off : 65536);
    cr_expect_eq(rs_stream_finish(s), 0);
    struct rs_stream_stats st;
    rs_stream_get_stats(s, &st);
    cr_expect_eq(st.json_events, 2);
    cr_expect_eq(c.results, 1);
    cr_expect_leq(c.content_len, 300);
    cr_expect_geq(c.content_len, 296);
    cr_expect_gt(c.content_bytes, ((size_t)8 << 20) - 200);
    cr_expect_eq(c.markers, 2, "markers: %zu", c.markers);
    cr_expect(c.text_truncated);
    cr_expect_leq(c.text_len, RS_STREAM_DEFAULT_TEXT_MAX);
    cr_expect_gt(st.longest_line, (size_t)8 << 20);
    cr_expect_leq(st.buffer_capacity, (size_t)256 << 10, "buffer kept %zu bytes", st.buffer_capacity);
    rs_stream_free(s);
    rs_buf_deinit(&b);
}

Test(stream, non_json_lines_are_reported)
{
    const char *data = "hello world\n"
                       "{\"type\":\"x\"} trailing\n"
                       "[1,2]\n"
                       "{\"type\":}\n"
                       "{\"type\":\"x\",\"s\":\"bad \\q escape\"}\n"
                       "{\"type\":\"x\",\"s\":\"raw\ttab\"}\n"
                       "{\"type\":\"x\",\"s\":\"\\u12G4\"}\n"
                       "{\"type\":\"x\",\"n\":01}\n"
                       "{\"type\":\"x\",\"n\":tru}\n"
                       "\xFF\xFEgarbage\x01\n"
                       "\n"
                       "   \n"
                       "{\"type\":\"ok\"}\n";
    struct rs_stream_stats st;
    char *d = run(data, strlen(data), 0, NULL, &st);
    EXPECT_HAS(d, "1 bad_line bytes=11 reason=\"invalid JSON at byte 0: unexpected character\" head=\"hello world\"");
    EXPECT_HAS(d, "2 bad_line bytes=21 reason=\"invalid JSON at byte 13: trailing characters after the JSON object\"");
    EXPECT_HAS(d, "3 bad_line bytes=5 reason=\"invalid JSON at byte 0: not a JSON object\"");
    EXPECT_HAS(d, "4 bad_line bytes=9 reason=\"invalid JSON at byte 8: unexpected character\"");
    EXPECT_HAS(d, "5 bad_line bytes=32 reason=\"invalid JSON at byte 21: invalid escape in string\"");
    EXPECT_HAS(d, "6 bad_line bytes=26 reason=\"invalid JSON at byte 20: control character in string\" head=\"{\"type\":\"x\",\"s\":\"raw\ttab\"}\"");
    EXPECT_HAS(d, "7 bad_line bytes=25 reason=\"invalid JSON at byte 17: invalid \\u escape\"");
    EXPECT_HAS(d, "8 bad_line bytes=19 reason=\"invalid JSON at byte 17: expected ',' or '}'\"");
    EXPECT_HAS(d, "9 bad_line bytes=20 reason=\"invalid JSON at byte 16: invalid literal\"");
    EXPECT_HAS(d, "10 bad_line bytes=10 reason=\"invalid JSON at byte 0: unexpected character\" head=\"??garbage?\"");
    EXPECT_HAS(d, "13 other bytes=13 type=\"ok\"");
    cr_expect_eq(st.non_json, 10);
    cr_expect_eq(st.empty_lines, 2);
    cr_expect_eq(st.json_events, 1);
    cr_expect_eq(st.lines, 13);
    free(d);
}

Test(stream, bad_line_head_is_bounded)
{
    char *data = rs_xmalloc(5002);
    memset(data, 'z', 5000);
    data[5000] = '\n';
    data[5001] = '\0';
    size_t heads = 0;
    char *d = run(data, 5001, 0, NULL, NULL);
    const char *h = strstr(d, "head=\"");
    cr_assert(h);
    h += 6;
    while (h[heads] == 'z')
        heads++;
    cr_expect_eq(heads, RS_STREAM_HEAD_MAX);
    free(d);
    free(data);
}

Test(stream, truncated_last_line)
{
    const char *complete = "{\"type\":\"system\",\"subtype\":\"init\"}\n{\"type\":\"result\",\"subtype\":\"success\"}";
    struct rs_stream_stats st;
    char *d = run(complete, strlen(complete), 0, NULL, &st);
    cr_expect_str_eq(d, "1 init bytes=34 type=\"system\" subtype=\"init\" tools=0\n"
                        "2 truncated bytes=37\n"
                        "2 result bytes=37 type=\"result\" subtype=\"success\" is_error=0 status=0/0 cost=0/0 "
                        "turns=-1 has_result=0\n"
                        "finish=1\n");
    cr_expect_eq(st.truncated_tail, 37);
    cr_expect_eq(st.lines, 2);
    free(d);
    const char *cut = "{\"type\":\"system\",\"subtype\":\"init\"}\n{\"type\":\"res";
    d = run(cut, strlen(cut), 3, NULL, &st);
    EXPECT_HAS(d, "2 truncated bytes=12\n2 bad_line bytes=12 reason=\"invalid JSON at byte 12: unterminated string\"");
    EXPECT_HAS(d, "finish=1\n");
    cr_expect_eq(st.non_json, 1);
    free(d);
}

Test(stream, feed_after_finish_and_idempotent_finish)
{
    size_t n[RS_STREAM_NKINDS] = {0};
    struct rs_stream *s;
    cr_assert_eq(rs_stream_new(NULL, count_cb, n, &s), 0);
    cr_expect_eq(rs_stream_new(NULL, count_cb, n, NULL), -EINVAL);
    cr_expect_eq(rs_stream_feed(s, "{\"type\":\"a\"}", 12), 0);
    cr_expect_eq(rs_stream_finish(s), 1);
    cr_expect_eq(rs_stream_finish(s), 1);
    cr_expect_eq(rs_stream_feed(s, "\n", 1), -EINVAL);
    cr_expect_eq(n[RS_STREAM_TRUNCATED], 1);
    cr_expect_eq(n[RS_STREAM_OTHER], 1);
    cr_expect_null(rs_stream_free(s));
    cr_expect_null(rs_stream_free(NULL));
}

Test(stream, crlf_line_endings)
{
    const char *data = "{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"content\":[{\"type\":\"text\",\"text\":"
                       "\"a\\r\\nRALPH_PROGRESS: crlf ok\\r\\nb\"}]}}\r\n{\"type\":\"ok\"}\r\n";
    char *d = run(data, strlen(data), 0, NULL, NULL);
    EXPECT_HAS(d, "marker=progress text=\"crlf ok\"]");
    EXPECT_HAS(d, "2 other bytes=13 type=\"ok\"\n");
    free(d);
}

struct text_ctx {
    char text[64];
    size_t len;
    char sid[64];
};

static void text_cb(const struct rs_stream_event *ev, void *ud)
{
    struct text_ctx *c = ud;
    cr_assert_eq(ev->kind, RS_STREAM_ASSISTANT);
    cr_assert_eq(ev->assistant.nblocks, 1);
    c->len = ev->assistant.blocks[0].text_len;
    cr_assert_lt(c->len, sizeof(c->text));
    memcpy(c->text, ev->assistant.blocks[0].text, c->len + 1);
    snprintf(c->sid, sizeof(c->sid), "%s", ev->assistant.session_id ? ev->assistant.session_id : "(null)");
}

Test(stream, string_escapes_nul_and_utf8)
{
    struct {
        const char *json; /* the text value as written */
        const char *want;
        size_t len;
    } cases[] = {
        {"a\\u0000b", "a\0b", 3},
        {"\\u00e9\\u4e2d\\/\\\\\\\"", "\xC3\xA9\xE4\xB8\xAD/\\\"", 8},
        {"\\ud83d\\ude00!", "\xF0\x9F\x98\x80!", 5},       /* surrogate pair */
        {"x\\ud800y", "x\xEF\xBF\xBDy", 5},                /* lone surrogate tolerated */
        {"\\udc00", "\xEF\xBF\xBD", 3},
        {"raw \xFF byte", "raw \xEF\xBF\xBD byte", 12},    /* invalid UTF-8 made valid in copies */
        {"tab\\tnl\\ncr\\rbs\\bff\\f", "tab\tnl\ncr\rbs\bff\f", 16},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        char *line = rs_xasprintf("{\"type\":\"assistant\",\"session_id\":\"s\\u0041\",\"message\":{\"content\":"
                                  "[{\"type\":\"text\",\"text\":\"%s\"}]}}\n", cases[i].json);
        struct text_ctx c;
        struct rs_stream *s;
        rs_stream_new(NULL, text_cb, &c, &s);
        rs_stream_feed(s, line, strlen(line));
        rs_stream_finish(s);
        struct rs_stream_stats st;
        rs_stream_get_stats(s, &st);
        cr_expect_eq(st.json_events, 1, "case %zu", i);
        cr_expect_eq(c.len, cases[i].len, "case %zu: len %zu", i, c.len);
        cr_expect_eq(memcmp(c.text, cases[i].want, cases[i].len), 0, "case %zu", i);
        cr_expect_str_eq(c.sid, "sA");
        rs_stream_free(s);
        free(line);
    }
}

Test(stream, markers_in_text_blocks)
{
    const char *data =
        "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"RALPH_PROGRESS: first\\nprose mentioning RALPH_DONE: {} inline\\n  `RALPH_PROGRESS: ticked`\\n"
        "\\tRALPH_FAILED: {\\\"school\\\": \\\"X U\\\", \\\"reason\\\": \\\"site down\\\", \\\"retryable\\\": true}\\n"
        "RALPH_DONE: {\\\"school\\\": \\\"X U\\\", \\\"coaches\\\": \\\"3\\\"}\\u000aRALPH_PROGRESS: via u000a\"}]}}\n"
        "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"content\":[{\"type\":\"thinking\",\"thinking\":"
        "\"RALPH_DONE: not from thinking\"}]}}\n";
    char *d = run(data, strlen(data), 0, NULL, NULL);
    EXPECT_HAS(d, "marker=progress text=\"first\" marker=progress text=\"ticked\" marker=failed school=\"X U\" "
                  "reason=\"site down\" marker=invalid reason=\"RALPH_DONE: \"coaches\" must be a non-negative integer\" "
                  "marker=progress text=\"via u000a\"]");
    EXPECT_HAS(d, "2 assistant bytes=");
    EXPECT_HAS(d, "first=0 synthetic=0 [thinking len=29 bytes=31 trunc=0]");
    free(d);
}

Test(stream, first_of_message_dedupes_usage)
{
    struct rs_buf b;
    rs_buf_init(&b);
    /* m0 .. m39, then m39 again (recent) and m0 again (forgotten after 32 newer ids). */
    for (int i = 0; i < 40; i++)
        rs_buf_printf(&b, "{\"type\":\"assistant\",\"message\":{\"id\":\"m%d\",\"usage\":{\"output_tokens\":%d}}}\n", i, i);
    rs_buf_puts(&b, "{\"type\":\"assistant\",\"message\":{\"id\":\"m39\"}}\n");
    rs_buf_puts(&b, "{\"type\":\"assistant\",\"message\":{\"id\":\"m0\"}}\n");
    char *d = run(b.data, b.len, 0, NULL, NULL);
    EXPECT_HAS(d, "40 assistant bytes=");
    EXPECT_HAS(d, "id=\"m39\" first=1 synthetic=0 usage=0/39/0/0");
    EXPECT_HAS(d, "41 assistant bytes=43 type=\"assistant\" id=\"m39\" first=0");
    EXPECT_HAS(d, "42 assistant bytes=42 type=\"assistant\" id=\"m0\" first=1");
    free(d);
    rs_buf_deinit(&b);
}

struct tool_ctx {
    char json[256];
    char summary[128];
    uint64_t hash;
    size_t input_bytes;
    bool has_json;
};

static void tool_cb(const struct rs_stream_event *ev, void *ud)
{
    struct tool_ctx *c = ud;
    cr_assert_eq(ev->kind, RS_STREAM_ASSISTANT);
    const struct rs_stream_block *b = &ev->assistant.blocks[0];
    cr_assert_eq(b->kind, RS_STREAM_BLOCK_TOOL_USE);
    c->has_json = b->input_json != NULL;
    snprintf(c->json, sizeof(c->json), "%s", b->input_json ? b->input_json : "");
    snprintf(c->summary, sizeof(c->summary), "%s", b->summary);
    c->hash = b->input_hash;
    c->input_bytes = b->input_bytes;
}

static struct tool_ctx tool(const char *name, const char *input, size_t input_max)
{
    char *line = rs_xasprintf("{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
                              "\"name\":\"%s\"%s%s}]}}\n", name, input ? ",\"input\":" : "", input ? input : "");
    struct tool_ctx c;
    memset(&c, 0, sizeof(c));
    struct rs_stream_opts o = {.tool_input_max = input_max};
    struct rs_stream *s;
    rs_stream_new(&o, tool_cb, &c, &s);
    rs_stream_feed(s, line, strlen(line));
    rs_stream_finish(s);
    rs_stream_free(s);
    free(line);
    return c;
}

Test(stream, tool_input_canonical_and_hash)
{
    struct tool_ctx a = tool("Mcp", "{\"b\": 1, \"a\": {\"d\": \"x\\/y\\u00e9\\u0001\", \"c\": [1, 2.50, true, null]}}", 0);
    cr_expect_str_eq(a.json, "{\"a\":{\"c\":[1,2.50,true,null],\"d\":\"x/y\xC3\xA9\\u0001\"},\"b\":1}");
    struct tool_ctx b = tool("Mcp", "{\"a\":{\"c\":[1,2.50,true,null],\"d\":\"x/y\\u00E9\\u0001\"},\"b\":1}", 0);
    cr_expect_str_eq(b.json, a.json);
    cr_expect_eq(a.hash, b.hash);
    struct tool_ctx c = tool("Mcp", "{\"a\":{\"c\":[1,2.50,true,null],\"d\":\"other\"},\"b\":1}", 0);
    cr_expect_neq(a.hash, c.hash);
    /* Over the limit: no JSON, but a whitespace-insensitive hash. */
    struct tool_ctx d = tool("Mcp", "{\"k\": \"v v\", \"n\": [1, 2]}", 8);
    struct tool_ctx e = tool("Mcp", "{\"k\":\"v v\",\"n\":[1,2]}", 8);
    cr_expect(!d.has_json);
    cr_expect_eq(d.hash, e.hash);
    cr_expect_eq(d.input_bytes, 25);
    struct tool_ctx f = tool("Mcp", "{\"k\":\"vv\",\"n\":[1,2]}", 8);
    cr_expect_neq(f.hash, e.hash);
}

Test(stream, tool_summaries)
{
    cr_expect_str_eq(tool("Read", "{\"file_path\":\"/srv/x/cache/page.html\",\"limit\":10}", 0).summary,
                     "Read: /srv/x/cache/page.html");
    cr_expect_str_eq(tool("Write", "{\"content\":\"a\",\"file_path\":\"output/x.csv\"}", 0).summary, "Write: output/x.csv");
    cr_expect_str_eq(tool("Bash", "{\"command\":\"  ls   -la\\n\\tcache \"}", 0).summary, "Bash: ls -la cache");
    cr_expect_str_eq(tool("WebFetch", "{\"url\":\"https://example.edu/\",\"prompt\":\"p\"}", 0).summary,
                     "WebFetch: https://example.edu/");
    cr_expect_str_eq(tool("mcp__db__query", "{\"limit\":3,\"sql\":\"select 1\"}", 0).summary, "mcp__db__query: select 1");
    cr_expect_str_eq(tool("TodoWrite", "{\"todos\":[]}", 0).summary, "TodoWrite");
    cr_expect_str_eq(tool("Bash", NULL, 0).summary, "Bash");
    /* Long commands are cut at 80 bytes on a character boundary, with "…". */
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "{\"command\":\"curl -s https://example.edu/");
    for (int i = 0; i < 40; i++)
        rs_buf_puts(&b, "\xC3\xA9x");
    rs_buf_puts(&b, "\"}");
    struct tool_ctx t = tool("Bash", b.data, 0);
    size_t n = strlen(t.summary);
    cr_expect_leq(n, RS_STREAM_SUMMARY_MAX + 3);
    cr_expect_geq(n, RS_STREAM_SUMMARY_MAX - 2);
    cr_expect_eq(strcmp(t.summary + n - 3, "\xE2\x80\xA6"), 0, "%s", t.summary);
    cr_expect_eq(strncmp(t.summary, "Bash: curl -s https://example.edu/\xC3\xA9x", 37), 0);
    /* The byte before "…" ends a complete character. */
    unsigned char last = (unsigned char)t.summary[n - 4];
    cr_expect(last == 'x' || last == 0xA9, "cut inside a character: %02x", last);
    rs_buf_deinit(&b);
}

Test(stream, deep_nesting_is_rejected_not_crashing)
{
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "{\"type\":\"x\",\"a\":");
    for (int i = 0; i < 5000; i++)
        rs_buf_putc(&b, '[');
    for (int i = 0; i < 5000; i++)
        rs_buf_putc(&b, ']');
    rs_buf_puts(&b, "}\n{\"type\":\"x\",\"a\":");
    for (int i = 0; i < 1000; i++)
        rs_buf_puts(&b, "{\"k\":");
    rs_buf_puts(&b, "1");
    for (int i = 0; i < 1000; i++)
        rs_buf_putc(&b, '}');
    rs_buf_puts(&b, "}\n");
    struct rs_stream_stats st;
    char *d = run(b.data, b.len, 0, NULL, &st);
    EXPECT_HAS(d, "nesting too deep");
    EXPECT_HAS(d, "2 other bytes=");
    cr_expect_eq(st.non_json, 1);
    cr_expect_eq(st.json_events, 1);
    free(d);
    rs_buf_deinit(&b);
}

Test(stream, odd_backslash_runs_across_blocks)
{
    /* Runs of backslashes of every length at every offset around the 64-byte blocks of the scanner. */
    for (size_t pad = 0; pad < 70; pad++) {
        for (size_t nrun = 1; nrun <= 6; nrun++) {
            struct rs_buf b;
            rs_buf_init(&b);
            rs_buf_puts(&b, "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"");
            for (size_t i = 0; i < pad; i++)
                rs_buf_putc(&b, 'p');
            for (size_t i = 0; i < 2 * nrun; i++)
                rs_buf_putc(&b, '\\');      /* run escaped backslashes */
            rs_buf_puts(&b, "\\\"");          /* an escaped quote */
            for (size_t i = 0; i < 80; i++)
                rs_buf_putc(&b, 'q');
            rs_buf_puts(&b, "\\nRALPH_PROGRESS: end\"}]}}\n");
            struct rs_stream_stats st;
            char *d = run(b.data, b.len, 0, NULL, &st);
            cr_assert_eq(st.json_events, 1, "pad %zu run %zu:\n%s", pad, nrun, d);
            char want[64];
            snprintf(want, sizeof(want), "[text len=%zu", pad + nrun + 1 + 80 + 1 + 19);
            EXPECT_HAS(d, want);
            EXPECT_HAS(d, "marker=progress text=\"end\"");
            free(d);
            /* An even run before the closing quote leaves it a quote; an odd run escapes it. */
            b.len -= strlen("\\nRALPH_PROGRESS: end\"}]}}\n");
            size_t keep = b.len;
            rs_buf_puts(&b, "\\\\\"}]}}\n");
            d = run(b.data, b.len, 0, NULL, &st);
            cr_assert_eq(st.json_events, 1, "pad %zu run %zu (even):\n%s", pad, nrun, d);
            free(d);
            b.len = keep;
            rs_buf_puts(&b, "\\\"}]}}\n");
            d = run(b.data, b.len, 0, NULL, &st);
            cr_assert_eq(st.non_json, 1, "pad %zu run %zu (odd):\n%s", pad, nrun, d);
            free(d);
            rs_buf_deinit(&b);
        }
    }
}

Test(stream, partial_messages_give_message_start_and_final_usage)
{
    /* Recorded from the real CLI 2.1.197 with --include-partial-messages (tests/fakeapi/record_cost_streams.sh). */
    size_t len;
    char *data = fixture("cost_2-1-197_partial.jsonl", &len);
    char *d = run(data, len, 0, NULL, NULL);
    /* message_start: id, model, the initial usage with the 1-hour cache write split. */
    EXPECT_HAS(d, " partial bytes=");
    EXPECT_HAS(d, "type=\"stream_event\" subtype=\"message_start\" id=\"msg_fake");
    EXPECT_HAS(d, "model=\"claude-opus-4-8\" usage=3/1/21874/0 split=0/21874\n");
    EXPECT_HAS(d, "usage=4/1/1630/22286 split=1630/0\n");
    /* message_delta: the final output count (and the cumulative input side, no split). */
    EXPECT_HAS(d, "subtype=\"message_delta\" usage=3/742/21874/0\n");
    EXPECT_HAS(d, "subtype=\"message_delta\" usage=2/196/318/23916\n");
    /* Other stream events carry the event type only. */
    EXPECT_HAS(d, "type=\"stream_event\" subtype=\"content_block_delta\"\n");
    EXPECT_HAS(d, "type=\"stream_event\" subtype=\"message_stop\"\n");
    /* Assistant lines repeat message_start's usage, output_tokens 1. */
    EXPECT_HAS(d, "model=\"claude-opus-4-8\" first=1 synthetic=0 usage=3/1/21874/0 split=0/21874 [thinking");
    free(d);
    free(data);
    /* A sub-agent's delta names its parent. */
    const char *line = "{\"type\":\"stream_event\",\"event\":{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}},"
                       "\"parent_tool_use_id\":\"toolu_7\"}\n";
    d = run(line, strlen(line), 0, NULL, NULL);
    EXPECT_HAS(d, "subtype=\"message_delta\" parent=\"toolu_7\" usage=0/9/0/0\n");
    free(d);
}

/* ---- findings of tests/fuzz (fuzz_stream) ------------------------------------ */

Test(stream, fuzz_tool_input_bytes_not_utf8_are_repaired)
{
    struct tool_ctx a = tool("Mcp", "{\"k\": \"a\xC2z\xFF\"}", 0);
    cr_assert(a.has_json);
    cr_expect_str_eq(a.json, "{\"k\":\"a\xEF\xBF\xBDz\xEF\xBF\xBD\"}");
}

struct mk_ctx {
    char text[256];
    size_t n;
};

static void mk_cb(const struct rs_stream_event *ev, void *ud)
{
    struct mk_ctx *c = ud;
    if (ev->kind != RS_STREAM_ASSISTANT || !ev->assistant.nblocks)
        return;
    const struct rs_stream_block *b = &ev->assistant.blocks[0];
    c->n = b->nmarkers;
    if (b->nmarkers)
        snprintf(c->text, sizeof c->text, "%s", b->markers[0].text);
}

Test(stream, fuzz_marker_bytes_not_utf8_are_repaired_like_the_text)
{
    const char *line = "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\","
                       "\"text\":\"x\\nRALPH_PROGRESS: regi\xC2try\"}]}}\n";
    struct mk_ctx c = {0};
    struct rs_stream *s;
    cr_assert_eq(rs_stream_new(NULL, mk_cb, &c, &s), 0);
    rs_stream_feed(s, line, strlen(line));
    rs_stream_finish(s);
    rs_stream_free(s);
    cr_assert_eq(c.n, 1);
    cr_expect_str_eq(c.text, "regi\xEF\xBF\xBDtry");
}

static void detail_cb(const struct rs_stream_event *ev, void *ud)
{
    if (ev->kind == RS_STREAM_SYSTEM && ev->system.detail)
        snprintf(ud, 512, "%s", ev->system.detail);
}

Test(stream, fuzz_system_detail_is_cut_at_a_character_boundary)
{
    /* 60 stray bytes become 60 U+FFFD (180 bytes): the detail keeps whole characters only. */
    char line[512];
    int n = snprintf(line, sizeof line, "{\"type\":\"system\",\"subtype\":\"model_fallback\",\"content\":\"");
    for (int i = 0; i < 60; i++)
        line[n++] = '\xFF';
    n += snprintf(line + n, sizeof line - (size_t)n, "\"}\n");
    char detail[512] = "";
    struct rs_stream *s;
    cr_assert_eq(rs_stream_new(NULL, detail_cb, detail, &s), 0);
    rs_stream_feed(s, line, (size_t)n);
    rs_stream_finish(s);
    rs_stream_free(s);
    cr_assert(strncmp(detail, "content=\xEF\xBF\xBD", 11) == 0, "%s", detail);
    cr_expect(rs_utf8_valid(detail, strlen(detail)));
}
