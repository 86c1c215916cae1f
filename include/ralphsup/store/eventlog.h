/* SPDX-License-Identifier: MIT */
/*
 * What ralphsup writes under [batch] log_dir: logs/events.jsonl, one JSON
 * object per decision with its reason, and one raw transcript per iteration
 * (logs/<iteration>-<slug>.jsonl, the agent's stdout as received, plus
 * logs/<iteration>-<slug>.stderr when the agent wrote to stderr).
 * Everything written passes through the API-key redactor (rs_redact), also
 * across chunk boundaries.
 *
 * Files are appended with O_APPEND; a crash can lose the tail of a
 * transcript but never corrupts earlier lines. The first write error is
 * remembered (rs_eventlog_error) and every event that could not be written
 * is counted (rs_eventlog_dropped); never fatal for the batch.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rs_eventlog; /* opaque */
struct rs_evrec;    /* one record being built */
struct rs_transcript;

/* Open (create) @dir/events.jsonl. Return 0 or negative errno. */
int rs_eventlog_open(const char *dir, struct rs_eventlog **out);
struct rs_eventlog *rs_eventlog_free(struct rs_eventlog *el);

/* Start a record {"ts": now, "event": @event}; add fields; then emit. */
struct rs_evrec *rs_evrec_new(const char *event);
void rs_evrec_str(struct rs_evrec *r, const char *key, const char *value); /* NULL value -> null */
void rs_evrec_int(struct rs_evrec *r, const char *key, int64_t value);
void rs_evrec_real(struct rs_evrec *r, const char *key, double value);
void rs_evrec_bool(struct rs_evrec *r, const char *key, bool value);
/* Add a string-array field. */
void rs_evrec_strv(struct rs_evrec *r, const char *key, const char *const *v, size_t n);
/* The record's "event" name (valid while @r lives). */
const char *rs_evrec_name(const struct rs_evrec *r);
/* The record as one line of compact JSON, redacted, as it is written (caller frees), or NULL (no memory). */
char *rs_evrec_dump(const struct rs_evrec *r);
/* Write the record as one line (redacted) and free it. @el may be NULL (record dropped). */
void rs_eventlog_emit(struct rs_eventlog *el, struct rs_evrec *r);
/* First write error seen (negative errno) or 0. */
int rs_eventlog_error(const struct rs_eventlog *el);
/* Events that could not be written (serialisation or write failed); the caller says so. */
uint64_t rs_eventlog_dropped(const struct rs_eventlog *el);
/* Path of events.jsonl. */
const char *rs_eventlog_path(const struct rs_eventlog *el);

/*
 * Transcripts. @name is the file stem, e.g. "0007-university-of-utah".
 * Return 0 or negative errno.
 */
int rs_transcript_open(const char *dir, const char *name, struct rs_transcript **out);
/* Append raw bytes of stdout (redacted on the fly). */
void rs_transcript_write(struct rs_transcript *t, const char *data, size_t len);
/* Append stderr bytes (kept in a separate file, capped at 1 MiB). */
void rs_transcript_write_stderr(struct rs_transcript *t, const char *data, size_t len);
/* Flush the redactor's held-back tail and close. NULL-safe. Return NULL. */
struct rs_transcript *rs_transcript_close(struct rs_transcript *t);
const char *rs_transcript_path(const struct rs_transcript *t);
