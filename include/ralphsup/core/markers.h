/* SPDX-License-Identifier: MIT */
/*
 * Progress markers: the contract between the prompt and the supervisor
 * (docs/protocol.md). The agent reports progress by writing, in its text
 * output, lines that start with
 *
 *     RALPH_PROGRESS: <free text>
 *     RALPH_DONE: {"school": "...", "coaches": N, "overlaps": N, "csv": "rel/path.csv"}
 *     RALPH_FAILED: {"school": "...", "reason": "...", "retryable": true|false}
 *
 * A marker line may be indented with spaces/tabs and may be wrapped in one
 * run of 1-3 backticks (`RALPH_DONE: {...}`); nothing else may precede the
 * keyword, so a marker quoted inside a sentence is ignored. A malformed
 * RALPH_DONE / RALPH_FAILED line (or one over RS_MARKER_MAX_BYTES) is
 * reported as an RS_MARKER_INVALID marker with a precise reason.
 *
 * Pure code: no I/O, no clock. It does not check the school name against the
 * current school nor the csv path against the output directory: the
 * supervisor owns the alias table and the paths.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A marker line longer than this (bytes, without the newline) is invalid. */
#define RS_MARKER_MAX_BYTES 65536

enum rs_marker_kind {
    RS_MARKER_PROGRESS = 1,
    RS_MARKER_DONE,
    RS_MARKER_FAILED,
    RS_MARKER_INVALID, /* a marker keyword with a bad payload: see .intended, .reason */
};

/*
 * struct rs_marker - one parsed marker. All strings are heap copies owned by
 * the struct (free with rs_marker_deinit()); unused fields are NULL / 0.
 */
struct rs_marker {
    enum rs_marker_kind kind;
    enum rs_marker_kind intended; /* INVALID: the keyword that was used; else == kind */
    char *text;                   /* PROGRESS: the free text, trimmed ("" allowed) */
    char *school;                 /* DONE, FAILED: as written (non-empty) */
    int64_t coaches;              /* DONE: >= 0 */
    int64_t overlaps;             /* DONE: >= 0 */
    char *csv;                    /* DONE: as written (non-empty), not checked */
    char *reason;                 /* FAILED: the agent's reason; INVALID: why it is invalid */
    bool retryable;               /* FAILED */
};

/*
 * rs_marker_cb - receives one marker. The callee takes ownership of the
 * strings in *m (copy the struct and later rs_marker_deinit() it, or
 * rs_marker_deinit() it right away).
 */
typedef void (*rs_marker_cb)(struct rs_marker *m, void *userdata);

/*
 * rs_marker_parse_line() - parse one line of text (no newline inside; a
 * trailing "\r" is ignored) of @len bytes. On a marker, fills *@out (which
 * the caller must rs_marker_deinit()).
 * Return: 0 if the line is not a marker (*@out untouched), 1 if *@out was
 * filled (possibly with kind RS_MARKER_INVALID).
 */
int rs_marker_parse_line(const char *line, size_t len, struct rs_marker *out);

/*
 * rs_markers_parse_text() - split @text (@len bytes, may hold NULs) into
 * lines and call @cb for every marker line, in order.
 * Return: the number of markers delivered.
 */
size_t rs_markers_parse_text(const char *text, size_t len, rs_marker_cb cb, void *userdata);

/* Free the strings of @m and zero it. NULL-safe. */
void rs_marker_deinit(struct rs_marker *m);

/* "progress", "done", "failed", "invalid". */
const char *rs_marker_kind_name(enum rs_marker_kind kind);
