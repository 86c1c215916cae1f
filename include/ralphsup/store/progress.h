/* SPDX-License-Identifier: MIT */
/*
 * The durable batch state, batch_progress.json (schema in docs/progress.md).
 * A plain data model plus load (with positions on syntax errors) and a
 * crash-safe save (temp + fsync + rename + fsync dir). Only ralphsup writes
 * the file; readers never need a lock.
 *
 * Does not know who produced the events: no libuv, no git, no agent.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ralphsup/base/common.h"

#define RS_PROGRESS_SCHEMA_VERSION 1

/*
 * The batch's status and an attempt's outcome are enums in memory and
 * strings only in the file: rs_progress_status_name() / _parse() and
 * rs_outcome_name() / _parse() (one table each, progress.c) are the only
 * conversions.
 */
enum rs_progress_status {
    RS_STATUS_INITIALIZED = 0, /* "initialized": nothing run yet (also a file without status) */
    RS_STATUS_RUNNING,         /* "running": a supervisor runs it, or one was killed */
    RS_STATUS_FINISHED,        /* "finished": nothing pending any more */
    RS_STATUS_STOPPED,         /* "stopped": a limit or a fatal error stopped it (see stopped) */
    RS_STATUS_CANCELLED,       /* "cancelled": SIGINT / SIGTERM / `ralphsup stop` */
};
const char *rs_progress_status_name(enum rs_progress_status st);
/* The status named @s; false (and *out untouched) for a name that is none. */
bool rs_progress_status_parse(const char *s, enum rs_progress_status *out);

enum rs_outcome {
    RS_OUTCOME_NONE = 0,    /* absent or null in the file */
    RS_OUTCOME_COMPLETED,   /* "completed" */
    RS_OUTCOME_FAILED,      /* "failed": counts as an attempt */
    RS_OUTCOME_TRANSIENT,   /* "transient" */
    RS_OUTCOME_CANCELLED,   /* "cancelled" */
    RS_OUTCOME_STOPPED,     /* "stopped" */
    RS_OUTCOME_OTHER,       /* a string this version does not know: kept in rs_attempt.outcome_other */
};
/* "completed", ...; NULL for RS_OUTCOME_NONE and RS_OUTCOME_OTHER. */
const char *rs_outcome_name(enum rs_outcome o);
/* The outcome named @s: RS_OUTCOME_NONE for NULL, RS_OUTCOME_OTHER for an unknown name. */
enum rs_outcome rs_outcome_parse(const char *s);

/* One attempt at one school (one iteration). */
struct rs_attempt {
    int attempt;            /* 1-based attempt number for this school */
    int64_t iteration;      /* batch-wide iteration number */
    int64_t started_ms;     /* epoch ms */
    int64_t finished_ms;
    double cost_usd;
    bool cost_estimated;    /* no result line: cost from streamed usage */
    enum rs_outcome outcome;
    char *outcome_other;    /* RS_OUTCOME_OTHER: the file's string, saved back as it was; else NULL */
    char *reason;           /* human reason, may be NULL for completed */
    char *exit_status;      /* "exit 0", "signal 9 (SIGKILL)", ... */
    char *session_id;       /* may be NULL */
    char *failure_class;    /* "item" | "transient" | "fatal" | NULL */
    char *extra;            /* members this version does not know, as a JSON object text, or NULL */
};

struct rs_school_state {
    char *name;
    char *slug;
    int64_t started_ms;     /* first attempt */
    int64_t finished_ms;
    double cost_usd;        /* sum over attempts */
    int coaches;            /* completed only */
    int overlaps;           /* completed only */
    char *csv;              /* completed: path relative to root */
    char *review;           /* completed: why to review the school's leads (yes share), or NULL */
    char *reason;           /* failed only */
    struct rs_attempt *attempts;
    size_t nattempts;
    size_t attempts_reset;  /* the first attempts_reset attempts were made before an operator's
                             * `ralphsup retry`: kept, no longer counted toward max_attempts_per_school */
    char *extra;            /* unknown members (JSON object text) or NULL: kept across saves */
    size_t segment;         /* completed only: k > 0 when sealed in segments[k - 1] (the progress file then
                             * holds only its name); 0 when written in full. Whatever changes a sealed entry
                             * sets it back to 0 (segments are never rewritten) */
};

struct rs_current {
    char *name;
    char *slug;
    int attempt;
    int64_t iteration;
    int64_t started_ms;
    int supervisor_pid;     /* pid of the ralphsup that runs it */
    int pid;                /* agent pid (also its pgid/sid), 0 until spawned */
    char *run_token;        /* RALPHSUP_RUN_TOKEN of the iteration's process tree */
    char *extra;            /* unknown members (JSON object text) or NULL: kept across saves; the
                             * session, last tool and progress of a running iteration are in
                             * logs/live.json (store/live.h), not here */
    struct rs_current *next;/* the next school in flight (jobs > 1), started later; NULL at the end */
};

struct rs_stop {
    char *reason;           /* human text */
    char *limit;            /* limit key, e.g. "max_cost_usd", or NULL */
    int64_t at_ms;
};

struct rs_progress {
    int schema_version;
    char *batch_name;
    int64_t started_ms;
    int64_t last_updated_ms;
    char **pending;         /* canonical names, in processing order */
    size_t npending;
    struct rs_school_state *completed;
    size_t ncompleted;
    struct rs_school_state *failed;
    size_t nfailed;
    /* Attempt history of schools that are pending again (retries). */
    struct rs_school_state *history;
    size_t nhistory;
    /*
     * The schools in flight, a list in the order they started: the head is
     * the one in flight longest ("current_school" and "current" in the file),
     * every one is in "in_progress". NULL when idle.
     */
    struct rs_current *current;
    int64_t iterations;     /* iterations run so far (persisted, for max_iterations) */
    double cost_usd;        /* batch total */
    bool cost_estimated;    /* some part of cost_usd is an estimate */
    int64_t events_dropped; /* events that could not be written to events.jsonl (written when > 0) */
    struct rs_stop *stopped;/* why the last run stopped, or NULL */
    enum rs_progress_status status;
    char *extra;            /* unknown top-level members (JSON object text) or NULL: kept across saves */
    /*
     * Sealed segment files ("segments" in the file): each holds the full
     * entries of completed schools that the progress file lists by name
     * only, so a save costs what changed, not the whole batch. Paths as the
     * file names them, relative to the progress file's directory
     * ("batch_progress.segments/000001.json"). segment_saved[k]: segment
     * k + 1 is known to be on disk as it was read or written (a file read
     * from git, by `recover` or `merge`, writes its segments on its next save).
     */
    char **segments;
    bool *segment_saved;
    char **segment_text;    /* a segment read from elsewhere: its text, written back as it was (else NULL) */
    size_t nsegments;
    /* Not saved: seal the completed entries written in full into a new segment when there are this many
     * (the config's [batch] seal_every; 0 = never, as after rs_progress_new() and every load). */
    size_t seal_every;
    /*
     * What loading repaired in memory, one message each (a UTF-8 BOM skipped,
     * a seed file upgraded, a name twice in pending kept once, ...). Not saved
     * yet: rs_batch_reconcile() reports them and the caller commits them.
     */
    struct rs_diags repairs;
};

enum {
    RS_PROGRESS_E_NOT_FOUND = 1, /* file does not exist */
    RS_PROGRESS_E_INVALID = 2,   /* unreadable: diags say where */
};

struct rs_progress *rs_progress_new(const char *batch_name, int64_t now_ms);
struct rs_progress *rs_progress_free(struct rs_progress *p);

/*
 * rs_progress_load() - read and validate @path against docs/progress.md:
 * types, required keys (schema_version 1: batch_name, pending, completed,
 * failed, iterations, cost_usd; a missing cost_usd is recomputed from the
 * attempts), and rs_progress_check(). A UTF-8 BOM is skipped. Every problem
 * names its field ("completed[2].coaches must be a whole number"). Repairs
 * made in memory are listed in p->repairs.
 * Return: 0, RS_PROGRESS_E_NOT_FOUND, RS_PROGRESS_E_INVALID (diags filled), -errno.
 */
int rs_progress_load(const char *path, struct rs_progress **out, struct rs_diags *diags);
/* Same from a buffer (used by `recover` on blobs from git history); a file with segments needs rs_progress_parse_with(). */
int rs_progress_parse(const char *data, size_t len, const char *origin, struct rs_progress **out,
                      struct rs_diags *diags);
/*
 * How a parse reads the segment files a progress file names: @rel as the
 * file names it (relative to the progress file's directory); on success a
 * malloc'd buffer in *@data (*@len bytes). Return: 0, -ENOENT, -EFBIG or -errno.
 */
typedef int (*rs_progress_read_fn)(void *ud, const char *rel, char **data, size_t *len);
/* rs_progress_parse() reading the segments through @rd (NULL: a file with segments is refused). */
int rs_progress_parse_with(const char *data, size_t len, const char *origin, rs_progress_read_fn rd, void *ud,
                           struct rs_progress **out, struct rs_diags *diags);
/* Serialise to pretty JSON (caller frees). */
char *rs_progress_format(const struct rs_progress *p);
/*
 * Crash-safe save; updates last_updated_ms to @now_ms first. With
 * p->seal_every > 0 and that many completed entries written in full, they
 * are first sealed into a new segment file (written crash-safely before the
 * progress file that names it; when it cannot be written they stay in full).
 * Segments not known to be on disk (p->segment_saved) are written first; if
 * one cannot be, nothing is saved. Return 0 or -errno.
 */
int rs_progress_save(struct rs_progress *p, const char *path, int64_t now_ms);
/* Forget the segments: every completed entry is written in full again (a copy that must stand alone). */
void rs_progress_unseal(struct rs_progress *p);
/* The path of segment @k (0-based) of the progress file @path (caller frees). */
char *rs_progress_segment_path(const struct rs_progress *p, const char *path, size_t k);

/*
 * rs_progress_check() - every school (by exact name) in exactly one of
 * pending / current / completed / failed, no name twice in a list, and
 * retry_history only for schools that are pending or current. Repaired in
 * place when safe, one message per repair appended to @fixed: a name twice
 * in pending is kept once; a school both completed (or current) and pending
 * is removed from pending; two completed (or failed, or history) entries of
 * one school are merged into one (attempts and cost kept); a history entry
 * of a completed or failed school is merged into it. Refused (appended to
 * @refused, nothing changed for that school): completed and failed; failed
 * and pending or current; current and completed while it has a run token;
 * a history entry of a school in no list. Messages start with "@origin: ".
 * Return: number of repairs.
 */
int rs_progress_check(struct rs_progress *p, const char *origin, struct rs_diags *fixed, struct rs_diags *refused);

/* ---- state transitions (pure, in memory) ------------------------------- */
void rs_progress_push_pending(struct rs_progress *p, const char *name, bool front);
bool rs_progress_remove_pending(struct rs_progress *p, const char *name);
bool rs_progress_is_known(const struct rs_progress *p, const char *name);
/* Drop the history entry of @name (a school that left the list); its number of attempts, or -1 if none. */
int rs_progress_drop_history(struct rs_progress *p, const char *name);
/* History entry for @name (created when @create). */
struct rs_school_state *rs_progress_history(struct rs_progress *p, const char *name, const char *slug, bool create);
/* Move history entry of @name (or a fresh one) to completed / failed; returns it. */
struct rs_school_state *rs_progress_complete(struct rs_progress *p, const char *name, const char *slug);
struct rs_school_state *rs_progress_fail(struct rs_progress *p, const char *name, const char *slug, const char *reason);
/* Append a copy-able attempt to @s (strings duplicated). */
struct rs_attempt *rs_school_state_add_attempt(struct rs_school_state *s);
/* Frees @c and every school in flight after it (c->next...). NULL-safe. Return: NULL. */
struct rs_current *rs_current_free(struct rs_current *c);
/* Number of schools in flight. */
size_t rs_progress_ninflight(const struct rs_progress *p);
/* The school in flight named @name, or NULL. */
struct rs_current *rs_progress_inflight_find(const struct rs_progress *p, const char *name);
/* A new zeroed entry at the end of the in-flight list (@name copied). */
struct rs_current *rs_progress_inflight_add(struct rs_progress *p, const char *name);
/* Unlink and free the entry named @name. Return: whether there was one. */
bool rs_progress_inflight_remove(struct rs_progress *p, const char *name);
/* Cost of the finished (completed + failed) schools; their number in *@n (may be NULL). */
double rs_progress_finished_cost(const struct rs_progress *p, size_t *n);
void rs_progress_set_stopped(struct rs_progress *p, const char *reason, const char *limit, int64_t now_ms);
