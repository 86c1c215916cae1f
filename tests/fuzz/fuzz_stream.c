/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the stream reader (core/stream.c), fed the same bytes twice:
 * once whole and once in random chunk splits (mostly 1-8 bytes, sometimes
 * up to 4 KiB; the split and the limits are drawn from a hash of the
 * input, so a saved input replays exactly). Both runs must deliver the same
 * events (a digest of every field), every string of an event must be valid
 * UTF-8 as the header promises, and the markers found in a text block
 * decoded on the fly must be the ones rs_markers_parse_text() finds in the
 * block's text when the whole text was kept. Small limits (line, text,
 * result, tool result, tool input) are drawn for half the inputs, so the
 * oversize and truncation paths are fuzzed too.
 */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/core/markers.h"
#include "ralphsup/core/stream.h"

static void str(struct rs_buf *b, const char *tag, const char *s)
{
    if (s)
        FUZZ_CHECK(rs_utf8_valid(s, strlen(s)), "%s is not valid UTF-8", tag);
    fuzz_puts(b, tag, s);
}

static void usage(struct rs_buf *b, const struct rs_stream_usage *u)
{
    rs_buf_printf(b, "usage=%d,%d,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ";",
                  u->present, u->has_cache_split, u->input_tokens, u->output_tokens, u->cache_creation_input_tokens,
                  u->cache_read_input_tokens, u->cache_creation_5m_input_tokens, u->cache_creation_1h_input_tokens);
}

static void marker(struct rs_buf *b, const struct rs_marker *m)
{
    rs_buf_printf(b, "marker=%d,%d,%" PRId64 ",%" PRId64 ",%d;", (int)m->kind, (int)m->intended, m->coaches,
                  m->overlaps, m->retryable);
    fuzz_puts(b, "m.text", m->text);
    fuzz_puts(b, "m.school", m->school);
    fuzz_puts(b, "m.csv", m->csv);
    fuzz_puts(b, "m.reason", m->reason);
}

static void collect(struct rs_marker *m, void *ud)
{
    marker(ud, m);
    rs_marker_deinit(m);
}

static void on_event(const struct rs_stream_event *ev, void *ud)
{
    struct rs_buf *b = ud;
    rs_buf_printf(b, "\n[%s line=%" PRIu64 " bytes=%zu]", rs_stream_kind_name(ev->kind), ev->line_no,
                  ev->line_bytes);
    str(b, "type", ev->type);
    str(b, "subtype", ev->subtype);
    switch (ev->kind) {
    case RS_STREAM_INIT:
        str(b, "session", ev->init.session_id);
        str(b, "model", ev->init.model);
        str(b, "version", ev->init.claude_code_version);
        str(b, "mode", ev->init.permission_mode);
        str(b, "cwd", ev->init.cwd);
        rs_buf_printf(b, "ntools=%zu;", ev->init.ntools);
        break;
    case RS_STREAM_ASSISTANT: {
        const struct rs_stream_assistant *a = &ev->assistant;
        str(b, "id", a->message_id);
        str(b, "model", a->model);
        str(b, "stop", a->stop_reason);
        str(b, "session", a->session_id);
        str(b, "parent", a->parent_tool_use_id);
        str(b, "error", a->error);
        str(b, "error_text", a->error_text);
        rs_buf_printf(b, "first=%d,synthetic=%d,n=%zu,dropped=%zu;", a->first_of_message, a->synthetic, a->nblocks,
                      a->blocks_dropped);
        usage(b, &a->usage);
        FUZZ_CHECK(a->nblocks <= RS_STREAM_MAX_ITEMS, "%zu blocks", a->nblocks);
        for (size_t i = 0; i < a->nblocks; i++) {
            const struct rs_stream_block *k = &a->blocks[i];
            rs_buf_printf(b, "block=%d,%zu,%zu,%d,%zu,%zu,%zu,%#" PRIx64 ";", (int)k->kind, k->text_len,
                          k->text_bytes, k->text_truncated, k->nmarkers, k->markers_dropped, k->input_bytes,
                          k->input_hash);
            str(b, "b.type", k->type);
            if (k->text) {
                FUZZ_CHECK(k->text[k->text_len] == '\0', "block text not NUL-terminated");
                FUZZ_CHECK(rs_utf8_valid(k->text, k->text_len), "block text is not valid UTF-8");
                fuzz_put(b, "b.text", k->text, k->text_len);
            }
            str(b, "b.tool_id", k->tool_id);
            str(b, "b.tool_name", k->tool_name);
            str(b, "b.input", k->input_json);
            str(b, "b.summary", k->summary);
            FUZZ_CHECK(k->nmarkers <= RS_STREAM_MAX_MARKERS, "%zu markers", k->nmarkers);
            struct rs_buf mine;
            rs_buf_init(&mine);
            for (size_t m = 0; m < k->nmarkers; m++)
                marker(&mine, &k->markers[m]);
            rs_buf_append(b, mine.data, mine.len);
            if (k->kind == RS_STREAM_BLOCK_TEXT && k->text && !k->text_truncated && !k->markers_dropped) {
                /* Markers found on the fly == markers in the whole decoded text. */
                struct rs_buf ref;
                rs_buf_init(&ref);
                rs_markers_parse_text(k->text, k->text_len, collect, &ref);
                FUZZ_CHECK(ref.len == mine.len && (ref.len == 0 || memcmp(ref.data, mine.data, ref.len) == 0),
                           "markers of the stream differ from the text's:\n%s\n--- vs ---\n%s", rs_buf_cstr(&mine),
                           rs_buf_cstr(&ref));
                rs_buf_deinit(&ref);
            }
            rs_buf_deinit(&mine);
        }
        break;
    }
    case RS_STREAM_USER:
        str(b, "session", ev->user.session_id);
        str(b, "parent", ev->user.parent_tool_use_id);
        str(b, "text", ev->user.text);
        rs_buf_printf(b, "n=%zu,dropped=%zu;", ev->user.nresults, ev->user.results_dropped);
        for (size_t i = 0; i < ev->user.nresults; i++) {
            const struct rs_stream_tool_result *r = &ev->user.results[i];
            rs_buf_printf(b, "result=%d,%zu;", r->is_error, r->content_bytes);
            str(b, "r.id", r->tool_use_id);
            str(b, "r.content", r->content);
        }
        break;
    case RS_STREAM_RESULT: {
        const struct rs_stream_result *r = &ev->result;
        str(b, "subtype", r->subtype);
        rs_buf_printf(b, "err=%d,api=%d:%d,cost=%d:%.17g,turns=%" PRId64 ",dur=%" PRId64 ",has=%d,len=%zu,bytes=%zu;",
                      r->is_error, r->has_api_error_status, r->api_error_status, r->has_cost, r->total_cost_usd,
                      r->num_turns, r->duration_ms, r->has_result, r->result_len, r->result_bytes);
        str(b, "stop", r->stop_reason);
        str(b, "terminal", r->terminal_reason);
        str(b, "session", r->session_id);
        if (r->result) {
            FUZZ_CHECK(rs_utf8_valid(r->result, r->result_len), "result is not valid UTF-8");
            fuzz_put(b, "result", r->result, r->result_len);
        }
        for (size_t i = 0; i < r->ndenials; i++) {
            str(b, "d.tool", r->denials[i].tool_name);
            str(b, "d.id", r->denials[i].tool_use_id);
            str(b, "d.summary", r->denials[i].input_summary);
        }
        for (size_t i = 0; i < r->nerrors; i++)
            str(b, "error", r->errors[i]);
        rs_buf_printf(b, "dd=%zu,ed=%zu;", r->denials_dropped, r->errors_dropped);
        usage(b, &r->usage);
        break;
    }
    case RS_STREAM_API_RETRY:
        rs_buf_printf(b, "retry=%" PRId64 ",%" PRId64 ",%.17g,%d:%d;", ev->api_retry.attempt,
                      ev->api_retry.max_retries, ev->api_retry.retry_delay_ms, ev->api_retry.has_error_status,
                      ev->api_retry.error_status);
        str(b, "error", ev->api_retry.error);
        break;
    case RS_STREAM_RATE_LIMIT:
        str(b, "status", ev->rate_limit.status);
        str(b, "type", ev->rate_limit.rate_limit_type);
        rs_buf_printf(b, "rl=%d:%" PRId64 ",%d:%.17g,%d;", ev->rate_limit.has_resets_at, ev->rate_limit.resets_at,
                      ev->rate_limit.has_utilization, ev->rate_limit.utilization, ev->rate_limit.is_using_overage);
        break;
    case RS_STREAM_SYSTEM:
        str(b, "detail", ev->system.detail);
        break;
    case RS_STREAM_PARTIAL:
        str(b, "id", ev->partial.message_id);
        str(b, "model", ev->partial.model);
        str(b, "parent", ev->partial.parent_tool_use_id);
        usage(b, &ev->partial.usage);
        break;
    case RS_STREAM_BAD_LINE:
        str(b, "reason", ev->bad.reason);
        str(b, "head", ev->bad.head);
        break;
    default:
        break;
    }
}

/* One run over @data split by @seed (0: whole); the digest of its events and stats. */
static void run(const uint8_t *data, size_t size, const struct rs_stream_opts *o, uint64_t seed, struct rs_buf *b)
{
    struct rs_stream *s = NULL;
    FUZZ_CHECK(rs_stream_new(o, on_event, b, &s) == 0, "rs_stream_new");
    size_t off = 0;
    while (off < size) {
        size_t n = seed ? fuzz_chunk(&seed, size - off) : size - off;
        FUZZ_CHECK(rs_stream_feed(s, data + off, n) == 0, "feed");
        off += n;
    }
    int fin = rs_stream_finish(s);
    FUZZ_CHECK(fin == 0 || fin == 1, "finish returned %d", fin);
    FUZZ_CHECK(rs_stream_finish(s) == fin, "finish is not idempotent");
    FUZZ_CHECK(rs_stream_feed(s, "x", 1) == -EINVAL, "feed after finish");
    struct rs_stream_stats st;
    rs_stream_get_stats(s, &st);
    FUZZ_CHECK(st.bytes == size, "stats.bytes %" PRIu64 " of %zu", st.bytes, size);
    rs_buf_printf(b, "\nfinish=%d lines=%" PRIu64 " json=%" PRIu64 " non_json=%" PRIu64 " oversize=%" PRIu64
                     " empty=%" PRIu64 " longest=%zu tail=%zu",
                  fin, st.lines, st.json_events, st.non_json, st.oversize, st.empty_lines, st.longest_line,
                  st.truncated_tail);
    rs_stream_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = fuzz_hash(data, size) | 1;
    uint64_t r = fuzz_next(&seed);
    struct rs_stream_opts o = {0};
    if (r & 1) {
        o.max_line_bytes = 1 + (size_t)((r >> 8) % 4096);
        o.text_max = 1 + (size_t)((r >> 20) % 256);
        o.result_max = 1 + (size_t)((r >> 28) % 256);
        o.tool_result_max = 1 + (size_t)((r >> 36) % 256);
        o.tool_input_max = 1 + (size_t)((r >> 44) % 1024);
    }
    struct rs_buf whole, split;
    rs_buf_init(&whole);
    rs_buf_init(&split);
    run(data, size, &o, 0, &whole);
    run(data, size, &o, seed, &split);
    FUZZ_CHECK(whole.len == split.len && memcmp(whole.data, split.data, whole.len) == 0,
               "chunked feeding changed the events:\n--- whole ---%s\n--- split ---%s", rs_buf_cstr(&whole),
               rs_buf_cstr(&split));
    rs_buf_deinit(&whole);
    rs_buf_deinit(&split);
    return 0;
}
