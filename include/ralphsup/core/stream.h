/* SPDX-License-Identifier: MIT */
/*
 * The stream reader: the Claude Code CLI's stdout (`-p --output-format
 * stream-json --verbose`, newline-delimited JSON) turned, incrementally, into
 * typed events. Bytes may arrive in any chunking; lines are bounded
 * (max_line_bytes: a line spanning chunks is buffered only up to the limit;
 * once over it, the buffer is freed and the rest of the line is discarded as
 * it arrives), non-JSON lines and a partial last line are counted and
 * reported, never fatal.
 *
 * Design (docs/protocol.md, section 3): every line is validated by a
 * hand-written JSON scanner (SSE2 string scanning, no DOM, no copy), which
 * records the spans of the top-level members; the few fields the supervisor
 * needs are then read from those spans, copying only bounded heads of big
 * strings. Text blocks of assistant messages are decoded on the fly into the
 * marker scanner (markers.h), so markers are found in texts of any size
 * without holding a decoded copy. No JSON library is involved.
 *
 * Pure code: no I/O, no libuv, no clock. It does not interpret the events
 * (costs, limits, retries are the policy's job).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ralphsup/core/markers.h"

#define RS_STREAM_DEFAULT_MAX_LINE ((size_t)64 << 20) /* 64 MiB */
#define RS_STREAM_DEFAULT_TEXT_MAX ((size_t)64 << 10) /* head of an assistant text */
#define RS_STREAM_DEFAULT_RESULT_MAX 4096             /* head of result.result */
#define RS_STREAM_DEFAULT_TOOL_RESULT_MAX 300         /* head of a tool_result's text */
#define RS_STREAM_DEFAULT_TOOL_INPUT_MAX ((size_t)64 << 10) /* canonicalised tool inputs */
#define RS_STREAM_SUMMARY_MAX 80                      /* bytes of a tool summary (+ "…") */
#define RS_STREAM_HEAD_MAX 200                        /* bytes of a bad line kept for the log */
#define RS_STREAM_MAX_ITEMS 4096                      /* blocks / results / denials per line */
#define RS_STREAM_MAX_MARKERS 256                     /* markers per text block */
#define RS_STREAM_MAX_ERRORS 32                       /* result.errors entries kept */

/*
 * struct rs_stream_opts - limits; a zero field means its default. Pass NULL
 * to rs_stream_new() for all defaults.
 */
struct rs_stream_opts {
    size_t max_line_bytes;  /* longest accepted line, without its "\n" */
    size_t text_max;        /* bytes of an assistant text block copied into the event */
    size_t result_max;      /* bytes of result.result copied */
    size_t tool_result_max; /* bytes of a tool_result's text copied */
    size_t tool_input_max;  /* tool inputs up to this size get canonical JSON */
};

enum rs_stream_kind {
    RS_STREAM_INIT = 1,   /* system/init */
    RS_STREAM_ASSISTANT,  /* an assistant message line (usually one block) */
    RS_STREAM_USER,       /* a user line: tool results */
    RS_STREAM_RESULT,     /* the final result line */
    RS_STREAM_API_RETRY,  /* system/api_retry */
    RS_STREAM_RATE_LIMIT, /* rate_limit_event */
    RS_STREAM_SYSTEM,     /* any other system subtype (task_started, model_fallback, ...) */
    RS_STREAM_OTHER,      /* a JSON object of another type (unknown) */
    RS_STREAM_BAD_LINE,   /* not a JSON object: .bad */
    RS_STREAM_OVERSIZE,   /* a line over max_line_bytes, skipped */
    RS_STREAM_TRUNCATED,  /* rs_stream_finish() found a partial last line (then parsed) */
    RS_STREAM_PARTIAL,    /* stream_event (--include-partial-messages): .partial */
};
#define RS_STREAM_NKINDS (RS_STREAM_PARTIAL + 1)

/*
 * Token usage; fields absent in the line are 0 (.present is false if "usage"
 * was absent). cache_creation_input_tokens is the total of the cache writes;
 * when the line splits it by lifetime ("cache_creation": {"ephemeral_5m_
 * input_tokens", "ephemeral_1h_input_tokens"}), .has_cache_split is true and
 * the two parts are set.
 */
struct rs_stream_usage {
    bool present;
    bool has_cache_split;
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cache_creation_input_tokens;
    int64_t cache_read_input_tokens;
    int64_t cache_creation_5m_input_tokens;
    int64_t cache_creation_1h_input_tokens;
};

enum rs_stream_block_kind {
    RS_STREAM_BLOCK_TEXT = 1,
    RS_STREAM_BLOCK_TOOL_USE,
    RS_STREAM_BLOCK_THINKING,
    RS_STREAM_BLOCK_OTHER,
};

/* One content block of an assistant message. */
struct rs_stream_block {
    enum rs_stream_block_kind kind;
    const char *type;                /* the block's "type" as written */
    /* TEXT and THINKING: */
    const char *text;                /* head copy, NUL-terminated, valid UTF-8 (may hold NULs) */
    size_t text_len;                 /* bytes in .text */
    size_t text_bytes;               /* size of the whole text as written (JSON-escaped) */
    bool text_truncated;             /* .text is only the head of the text */
    /* TEXT only: markers found in the WHOLE text (not only the head), in order. */
    const struct rs_marker *markers;
    size_t nmarkers;
    size_t markers_dropped;          /* beyond RS_STREAM_MAX_MARKERS */
    /* TOOL_USE: */
    const char *tool_id;
    const char *tool_name;
    const char *input_json;          /* canonical compact JSON (sorted keys, minimal escapes,
                                      * numbers as written), NULL if over tool_input_max */
    size_t input_bytes;              /* size of the input as written in the line */
    uint64_t input_hash;             /* FNV-1a of input_json; when NULL, of the input with
                                      * insignificant whitespace removed (keys unsorted) */
    const char *summary;             /* "Bash: curl -s https://…", "Write: out/x.csv", "Read" */
};

struct rs_stream_assistant {
    const char *message_id;          /* message.id */
    const char *model;               /* message.model ("<synthetic>" for CLI-made errors) */
    const char *stop_reason;
    const char *session_id;
    const char *parent_tool_use_id;  /* non-NULL inside a sub-agent */
    /*
     * Every content block arrives as its own line with the same message.id and
     * the usage repeated: first_of_message is true only for the first line of
     * a message.id (the last 32 ids are remembered). A cost estimator adds
     * .usage only when first_of_message is true.
     */
    bool first_of_message;
    bool synthetic;                  /* model == "<synthetic>" */
    const char *error;               /* top-level "error" (rate_limit, server_error, ...) or NULL */
    const char *error_text;          /* synthetic error: head of its first text block, else NULL */
    struct rs_stream_usage usage;
    const struct rs_stream_block *blocks;
    size_t nblocks;
    size_t blocks_dropped;
};

struct rs_stream_tool_result {
    const char *tool_use_id;
    bool is_error;
    const char *content;             /* head (<= tool_result_max bytes) of its text, "" if none */
    size_t content_bytes;            /* size of the content value as written in the line */
};

struct rs_stream_user {
    const char *session_id;
    const char *parent_tool_use_id;
    const char *text;                /* head of plain user text (e.g. "[Request interrupted…]"), or NULL */
    const struct rs_stream_tool_result *results;
    size_t nresults;
    size_t results_dropped;
};

struct rs_stream_denial {
    const char *tool_name;
    const char *tool_use_id;
    const char *input_summary;       /* same format as rs_stream_block.summary */
};

struct rs_stream_result {
    const char *subtype;             /* success, error_max_turns, error_max_budget_usd, ... */
    bool is_error;                   /* NB: an API error has subtype "success" and is_error true */
    bool has_api_error_status;       /* false when absent or null */
    int api_error_status;
    bool has_cost;
    double total_cost_usd;
    int64_t num_turns;               /* -1 if absent */
    int64_t duration_ms;             /* -1 if absent */
    const char *stop_reason;
    const char *terminal_reason;
    const char *session_id;
    bool has_result;                 /* the "result" key is absent in error_max_* results */
    const char *result;              /* head (<= result_max bytes), NULL if absent */
    size_t result_len;
    size_t result_bytes;             /* size of the value as written */
    const struct rs_stream_denial *denials;
    size_t ndenials;
    size_t denials_dropped;
    const char *const *errors;       /* "errors" strings, each at most 1 KiB */
    size_t nerrors;
    size_t errors_dropped;
    struct rs_stream_usage usage;
};

struct rs_stream_init {
    const char *session_id;
    const char *model;
    const char *claude_code_version;
    const char *permission_mode;
    const char *cwd;
    size_t ntools;
};

struct rs_stream_api_retry {
    int64_t attempt;                 /* -1 if absent */
    int64_t max_retries;             /* -1 if absent */
    double retry_delay_ms;           /* -1 if absent */
    bool has_error_status;           /* false when null (network errors) */
    int error_status;
    const char *error;               /* rate_limit, server_error, overloaded, ... */
};

struct rs_stream_rate_limit {
    const char *status;              /* allowed, allowed_warning, rejected */
    bool has_resets_at;
    int64_t resets_at;               /* epoch seconds */
    const char *rate_limit_type;     /* five_hour, seven_day, ... or NULL */
    bool has_utilization;
    double utilization;
    bool is_using_overage;
};

struct rs_stream_system {
    const char *detail;              /* short "key=value ..." of the interesting fields, or NULL */
};

/*
 * A stream_event line: one raw API streaming event (event.type in the
 * event's .subtype). Only message_start and message_delta carry more:
 * message_start the message's id, model and initial usage (output ~1),
 * message_delta the final usage of the message (output_tokens is the real
 * count). Lines of the other event types (content_block_*, message_stop)
 * have every field NULL / absent.
 */
struct rs_stream_partial {
    const char *message_id;          /* message_start: event.message.id */
    const char *model;               /* message_start: event.message.model */
    const char *parent_tool_use_id;  /* message_start / message_delta: non-NULL inside a sub-agent */
    struct rs_stream_usage usage;    /* message_start: event.message.usage; message_delta: event.usage */
};

struct rs_stream_bad {
    const char *reason;              /* "invalid JSON at byte 17: ..." */
    const char *head;                /* first RS_STREAM_HEAD_MAX bytes, made printable */
};

struct rs_stream_event {
    enum rs_stream_kind kind;
    uint64_t line_no;                /* 1-based line number */
    size_t line_bytes;               /* length of the line (without "\n"); for TRUNCATED: the tail */
    const char *type;                /* top-level "type" (NULL if absent / not JSON) */
    const char *subtype;             /* top-level "subtype"; for stream_event: event.type */
    union {
        struct rs_stream_init init;
        struct rs_stream_assistant assistant;
        struct rs_stream_user user;
        struct rs_stream_result result;
        struct rs_stream_api_retry api_retry;
        struct rs_stream_rate_limit rate_limit;
        struct rs_stream_system system;
        struct rs_stream_partial partial;
        struct rs_stream_bad bad;
    };
};

/*
 * rs_stream_event_cb - receives each event. Everything reachable from @ev is
 * borrowed and valid only during the call. Strings are NUL-terminated valid
 * UTF-8. The callback must not call rs_stream_feed/finish on the same stream.
 */
typedef void (*rs_stream_event_cb)(const struct rs_stream_event *ev, void *userdata);

struct rs_stream_stats {
    uint64_t lines;         /* lines seen, including bad, empty, oversize and a truncated tail */
    uint64_t bytes;         /* bytes fed */
    uint64_t json_events;   /* lines parsed as JSON objects */
    uint64_t non_json;      /* lines that were not JSON objects */
    uint64_t oversize;      /* lines skipped for exceeding max_line_bytes */
    uint64_t empty_lines;   /* blank lines (ignored) */
    size_t longest_line;    /* bytes, including skipped lines */
    size_t truncated_tail;  /* bytes of a partial last line at finish, 0 if none */
    size_t buffer_capacity; /* current line-buffer capacity (shrinks after huge lines) */
};

struct rs_stream;

/*
 * rs_stream_new() - create a reader calling @cb with @userdata for every
 * event. @opts may be NULL (defaults); it is copied.
 * Return: 0, or -EINVAL if @out or @cb is NULL.
 */
int rs_stream_new(const struct rs_stream_opts *opts, rs_stream_event_cb cb, void *userdata, struct rs_stream **out);

/* Free the reader; NULL-safe. Return: NULL. */
struct rs_stream *rs_stream_free(struct rs_stream *s);

/*
 * rs_stream_feed() - consume @len bytes of stdout; any chunking. Complete
 * lines are parsed and their events delivered before it returns.
 * Return: 0, or -EINVAL after rs_stream_finish().
 */
int rs_stream_feed(struct rs_stream *s, const void *data, size_t len);

/*
 * rs_stream_finish() - end of the output. A partial last line is reported
 * as RS_STREAM_TRUNCATED and then parsed like any line (a complete JSON
 * object without its newline still yields its event). Idempotent.
 * Return: 0 if the output ended cleanly, 1 if it had a truncated tail.
 */
int rs_stream_finish(struct rs_stream *s);

/* Copy the counters into *@out. */
void rs_stream_get_stats(const struct rs_stream *s, struct rs_stream_stats *out);

/* "init", "assistant", ..., "truncated". */
const char *rs_stream_kind_name(enum rs_stream_kind kind);
