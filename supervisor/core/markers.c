/* SPDX-License-Identifier: MIT */
/*
 * Progress-marker parser (contract in docs/protocol.md and markers.h).
 * Recognises RALPH_PROGRESS / RALPH_DONE / RALPH_FAILED lines in the agent's
 * text and validates the JSON payloads with precise reasons. (The stream
 * reader finds candidate lines in multi-megabyte texts itself, without
 * decoding them, and hands only those lines to rs_marker_parse_line().)
 *
 * It deliberately knows nothing about schools, aliases, paths or the stream
 * format: it turns text into markers and nothing else. No I/O, no clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ralphsup/base/common.h"
#include "ralphsup/core/markers.h"
#include "ralphsup/base/utf8.h"

#define PREFIX "RALPH_"
#define PREFIX_LEN 6
#define MAX_BACKTICKS 3

static const struct {
    const char *word; /* after "RALPH_" */
    size_t len;
    enum rs_marker_kind kind;
} keywords[] = {
    {"PROGRESS", 8, RS_MARKER_PROGRESS},
    {"DONE", 4, RS_MARKER_DONE},
    {"FAILED", 6, RS_MARKER_FAILED},
};

const char *rs_marker_kind_name(enum rs_marker_kind kind)
{
    switch (kind) {
    case RS_MARKER_PROGRESS:
        return "progress";
    case RS_MARKER_DONE:
        return "done";
    case RS_MARKER_FAILED:
        return "failed";
    case RS_MARKER_INVALID:
        return "invalid";
    }
    return "unknown";
}

static const char *keyword_text(enum rs_marker_kind kind)
{
    switch (kind) {
    case RS_MARKER_PROGRESS:
        return "RALPH_PROGRESS";
    case RS_MARKER_DONE:
        return "RALPH_DONE";
    case RS_MARKER_FAILED:
        return "RALPH_FAILED";
    case RS_MARKER_INVALID:
        break;
    }
    return "RALPH_?";
}

void rs_marker_deinit(struct rs_marker *m)
{
    if (!m)
        return;
    free(m->text);
    free(m->school);
    free(m->csv);
    free(m->reason);
    memset(m, 0, sizeof(*m));
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_word_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * Identify the keyword at @p (which starts with "RALPH_"). Sets *@after to
 * the byte after the keyword. Return: the kind, or 0 when the word is not
 * one of ours (RALPH_OTHER, RALPH_DONEX, ...), which is not a marker.
 */
static enum rs_marker_kind match_keyword(const char *p, const char *end, const char **after)
{
    const char *w = p + PREFIX_LEN;
    for (size_t i = 0; i < RS_ARRAY_SIZE(keywords); i++) {
        size_t n = keywords[i].len;
        if ((size_t)(end - w) >= n && memcmp(w, keywords[i].word, n) == 0 && (w + n == end || !is_word_char(w[n]))) {
            *after = w + n;
            return keywords[i].kind;
        }
    }
    return 0;
}

static void set_invalid(struct rs_marker *out, enum rs_marker_kind intended, const char *fmt, ...) RS_PRINTF(3, 4);

static void set_invalid(struct rs_marker *out, enum rs_marker_kind intended, const char *fmt, ...)
{
    rs_marker_deinit(out);
    out->kind = RS_MARKER_INVALID;
    out->intended = intended;
    va_list ap;
    va_start(ap, fmt);
    out->reason = rs_xvasprintf(fmt, ap);
    va_end(ap);
}

/* *@out invalid: the member @key is missing, or is not @what. Return: false. */
static bool bad_member(json_t *obj, const char *key, struct rs_marker *out, enum rs_marker_kind kind, const char *what)
{
    if (!json_object_get(obj, key))
        set_invalid(out, kind, "%s: missing \"%s\"", keyword_text(kind), key);
    else
        set_invalid(out, kind, "%s: \"%s\" must be %s", keyword_text(kind), key, what);
    return false;
}

/* Check a "key" member (a non-empty string); on a problem fill *out as invalid. Return: true if ok. */
static bool need_text(json_t *obj, const char *key, struct rs_marker *out, enum rs_marker_kind kind, char **dst)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return bad_member(obj, key, out, kind, "a non-empty string");
    *dst = rs_xstrdup(json_string_value(v));
    return true;
}

static bool need_count(json_t *obj, const char *key, struct rs_marker *out, enum rs_marker_kind kind, int64_t *dst)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad_member(obj, key, out, kind, "a non-negative integer");
    *dst = (int64_t)json_integer_value(v);
    return true;
}

static void parse_payload(enum rs_marker_kind kind, const char *body, size_t len, struct rs_marker *out)
{
    json_error_t err;
    /* jansson refuses bytes that are not UTF-8: the agent's text is kept, each bad sequence as U+FFFD. */
    char *clean = NULL;
    if (!rs_utf8_valid(body, len)) {
        clean = rs_utf8_clean(body, len, 0, NULL, &len);
        body = clean;
    }
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    free(clean);
    if (!root) {
        set_invalid(out, kind, "%s: invalid JSON at column %d: %s", keyword_text(kind), err.column, err.text);
        return;
    }
    if (!json_is_object(root)) {
        set_invalid(out, kind, "%s: the payload must be a JSON object", keyword_text(kind));
        goto out;
    }
    out->kind = kind;
    out->intended = kind;
    if (!need_text(root, "school", out, kind, &out->school))
        goto out;
    if (kind == RS_MARKER_DONE) {
        if (!need_count(root, "coaches", out, kind, &out->coaches) ||
            !need_count(root, "overlaps", out, kind, &out->overlaps) ||
            !need_text(root, "csv", out, kind, &out->csv))
            goto out;
    } else {
        if (!need_text(root, "reason", out, kind, &out->reason))
            goto out;
        json_t *r = json_object_get(root, "retryable");
        if (!json_is_boolean(r)) {
            bad_member(root, "retryable", out, kind, "true or false");
            goto out;
        }
        out->retryable = json_is_true(r);
    }
out:
    json_decref(root);
}

int rs_marker_parse_line(const char *line, size_t len, struct rs_marker *out)
{
    const char *p = line, *end = line + len;
    if (p < end && end[-1] == '\r')
        end--;
    while (p < end && is_ws(*p))
        p++;
    size_t ticks = 0;
    while (p < end && *p == '`' && ticks <= MAX_BACKTICKS) {
        ticks++;
        p++;
    }
    if (ticks > MAX_BACKTICKS || (size_t)(end - p) < PREFIX_LEN || memcmp(p, PREFIX, PREFIX_LEN) != 0)
        return 0;
    const char *after = NULL;
    enum rs_marker_kind kind = match_keyword(p, end, &after);
    if (!kind)
        return 0;
    struct rs_marker m = {0};
    if ((size_t)(end - p) + ticks > RS_MARKER_MAX_BYTES) {
        if (kind == RS_MARKER_PROGRESS) {
            set_invalid(&m, kind, "%s: marker line longer than %d bytes", keyword_text(kind), RS_MARKER_MAX_BYTES);
        } else {
            /* The agent's words are not lost: the beginning of the payload, cut at a character boundary. */
            const char *b = after < end && *after == ':' ? after + 1 : after;
            while (b < end && is_ws(*b))
                b++;
            char *head = rs_utf8_clean(b, (size_t)(end - b), RS_TEXT_MAX, NULL, NULL);
            set_invalid(&m, kind, "%s: marker line longer than %d bytes; it begins: %s", keyword_text(kind),
                        RS_MARKER_MAX_BYTES, head);
            free(head);
        }
        goto done;
    }
    if (after == end || *after != ':') {
        set_invalid(&m, kind, "%s: the keyword must be followed by ':'", keyword_text(kind));
        goto done;
    }
    /* The body: trim whitespace, then the closing backticks matching the opening ones. */
    const char *b = after + 1;
    while (b < end && is_ws(*b))
        b++;
    const char *e = end;
    while (e > b && is_ws(e[-1]))
        e--;
    if (ticks) {
        size_t t = 0;
        while (e > b && e[-1] == '`' && t < ticks) {
            e--;
            t++;
        }
        if (t != ticks) {
            set_invalid(&m, kind, "%s: unbalanced backticks around the marker", keyword_text(kind));
            goto done;
        }
        while (e > b && is_ws(e[-1]))
            e--;
    }
    if (kind == RS_MARKER_PROGRESS) {
        m.kind = m.intended = RS_MARKER_PROGRESS;
        m.text = rs_xstrndup(b, (size_t)(e - b));
    } else if (b == e) {
        set_invalid(&m, kind, "%s: missing JSON payload", keyword_text(kind));
    } else {
        parse_payload(kind, b, (size_t)(e - b), &m);
    }
done:
    *out = m;
    return 1;
}

size_t rs_markers_parse_text(const char *text, size_t len, rs_marker_cb cb, void *userdata)
{
    size_t n = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct rs_marker m;
        if (rs_marker_parse_line(p, (size_t)(le - p), &m) == 1) {
            n++;
            cb(&m, userdata);
        }
        p = nl ? nl + 1 : end;
    }
    return n;
}
