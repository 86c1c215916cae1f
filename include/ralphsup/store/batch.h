/* SPDX-License-Identifier: MIT */
/*
 * A batch: everything one config file names, opened together — the config,
 * the alias table, the validated school list, the progress file, the git
 * audit trail and (optionally) the one-supervisor lock — plus the single way
 * to record a state transition: save the progress file crash-safely, then
 * commit it with a structured message and trailers.
 *
 * Used by the CLI commands and by the supervisor. It does not run agents and
 * does not print: problems come back in struct rs_diags, the result is 0, a
 * negative errno or an enum rs_err, and the CLI maps it to an exit code.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ralphsup/base/common.h"
#include "ralphsup/core/config.h"
#include "ralphsup/store/gitaudit.h"
#include "ralphsup/store/lock.h"
#include "ralphsup/store/progress.h"
#include "ralphsup/core/schools.h"
#include "ralphsup/core/shard.h"

struct rs_batch {
    struct rs_config *cfg;
    struct rs_aliases *aliases;
    struct rs_school_list *schools; /* sorted by [batch] order */
    struct rs_progress *prog;       /* NULL if the file does not exist yet */
    struct rs_git *git;             /* NULL when [git] enabled = false */
    struct rs_lock *lock;           /* NULL unless RS_BATCH_LOCK */
    bool git_created;               /* a repository was created by open */
    int progress_state;             /* 0, RS_PROGRESS_E_NOT_FOUND or RS_PROGRESS_E_INVALID */
    struct rs_diags progress_diags; /* why the progress file is invalid */
    struct rs_diags notices;        /* things opening did on the user's behalf (print as warnings) */
    bool index_warned;              /* a skipped index refresh was said (once until one succeeds) */
    size_t segments_committed;      /* the progress file's first N segments are in the audit trail (0 at
                                     * open: the first commit of a run adds every segment git lacks) */
    bool from_summary;              /* RS_BATCH_SUMMARY: prog is the summary's, for display only */
    /* Sharded (docs/scale-out.md; store/shardbatch.c): schools holds this shard's schools only. */
    struct rs_shard shard;          /* count 0: the whole batch */
    char shard_hash[32];            /* rs_shard_list_hash() of the whole list */
    struct rs_school_list *all_schools; /* the whole list (schools borrows from it), or NULL */
};

enum {
    RS_BATCH_LOCK = 1 << 0,          /* take the supervisor lock (RS_E_LOCKED when busy) */
    RS_BATCH_NEED_PROGRESS = 1 << 1, /* a missing/invalid progress file is an error */
    RS_BATCH_NO_GIT = 1 << 2,        /* do not open the repository */
    RS_BATCH_NO_SCHOOLS = 1 << 3,    /* do not load the school list */
    RS_BATCH_SUMMARY = 1 << 4,       /* for display (status): take <log_dir>/summary.json when it
                                      * describes the progress file as it is (store/summary.h;
                                      * b->from_summary), else load the file; never save b->prog then */
};

/* What a transition is, for the commit message and its trailers. */
struct rs_transition {
    const char *event;   /* Ralphsup-Event: init, reset, reconciled, started, completed, failed,
                          * attempt-failed, requeued, limits-reloaded, finished, stopped, recovered,
                          * uncommitted, audit */
    const char *school;  /* or NULL */
    int attempt;         /* 0 = none */
    int64_t iteration;   /* 0 = none */
    double cost_usd;     /* < 0 = omit */
    const char *subject; /* human subject line */
    const char *body;    /* or NULL */
    const char *extra_path; /* a file to commit along (e.g. the school's CSV) or NULL */
};

/*
 * rs_batch_open() - open the batch named by @config_path.
 * Return: 0 and *out on success; otherwise an enum rs_err with the reasons in
 * @diags: RS_E_CONFIG (the config, or git refusing a detached HEAD),
 * RS_E_DATA (school list, aliases, an invalid progress file when
 * RS_BATCH_NEED_PROGRESS), RS_E_NOINPUT (no config, school list, aliases or
 * needed progress file), RS_E_LOCKED, RS_E_CANTCREAT (the lock), RS_E_IO.
 */
int rs_batch_open(const char *config_path, unsigned flags, struct rs_batch **out, struct rs_diags *diags);
struct rs_batch *rs_batch_free(struct rs_batch *b);

/*
 * rs_batch_open_shard() - rs_batch_open() of one shard: @shard ("I/N",
 * "auto/N"; NULL = [batch] shard, or the whole batch when that is unset;
 * "" = the whole batch whatever [batch] shard says)
 * is applied to the config (rs_shard_apply()), the school list is cut to
 * the shard's schools (b->all_schools keeps the whole list) and the progress
 * file must be this shard's (its "shard" member). An "auto/N" without
 * JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID is RS_E_CONFIG.
 */
int rs_batch_open_shard(const char *config_path, unsigned flags, const char *shard, struct rs_batch **out,
                        struct rs_diags *diags);
/* The steps of rs_batch_open_shard() (store/shardbatch.c), each 0 or an enum rs_err. */
int rs_batch_shard_config(struct rs_batch *b, const char *shard, struct rs_diags *diags);
void rs_batch_shard_schools(struct rs_batch *b);
int rs_batch_shard_progress(struct rs_batch *b, struct rs_diags *diags);
/* A shard's git ref that does not exist yet starts at HEAD's commit. Return: 1 created, 0 not. */
int rs_batch_shard_branch(struct rs_batch *b);

/*
 * rs_batch_open_lenient() - for the commands that only signal the running
 * supervisor (`stop`) or only read the progress file (`status`):
 * rs_batch_open() without git and without the school list; when the config
 * itself is invalid (RS_E_CONFIG), open the batch from only the keys that locate it
 * (rs_config_load_locator()) instead. Then the config's problems are in
 * @config_problems (print them as a warning: b->cfg holds defaults for
 * everything but [batch] name, root, progress and log_dir). Only
 * RS_BATCH_NEED_PROGRESS and RS_BATCH_SUMMARY of @flags are honoured; @shard
 * as in rs_batch_open_shard() (NULL: the whole batch).
 * Return: as rs_batch_open(), with the reasons of a failure in @diags.
 */
int rs_batch_open_lenient(const char *config_path, unsigned flags, const char *shard, struct rs_batch **out,
                          struct rs_diags *config_problems, struct rs_diags *diags);

/*
 * rs_batch_commit() - save b->prog crash-safely and commit it (and
 * t->extra_path when [git] include_outputs) as one commit. Repairs the
 * loader made (b->prog->repairs, when no rs_batch_reconcile() took them) are
 * appended to the body and to @warn ("repaired: ..."), then cleared.
 * A held git lock defers the commit (warning in @warn); a save failure is
 * an error. Return: 0, or the negative errno of the save with @warn filled.
 */
int rs_batch_commit(struct rs_batch *b, const struct rs_transition *t, struct rs_diags *warn);

/*
 * rs_batch_commit_files() - commit @paths (written by the caller; the
 * progress file is neither saved nor included) as the transition @t, with
 * the same trailers as rs_batch_commit(). Used by `audit` for audit.json.
 * Nothing to do without git. A commit that fails or is deferred is a
 * warning in @warn. Return: 0.
 */
int rs_batch_commit_files(struct rs_batch *b, const struct rs_transition *t, const char *const *paths, size_t npaths,
                          struct rs_diags *warn);

/*
 * rs_batch_catch_up() - when the progress file on disk is not what the
 * target ref's tip holds (a kill -9 between save and commit, or a commit a
 * git lock deferred and no later transition made), commit it as it is,
 * event "uncommitted" (with the last completed school's CSV when [git]
 * include_outputs). A comparison that fails is a warning, never an error.
 * Return: 1 committed, 0 nothing to do, or the negative errno of the save.
 */
int rs_batch_catch_up(struct rs_batch *b, struct rs_diags *warn);

/*
 * rs_batch_write_summary() - write <log_dir>/summary.json for the progress
 * file just saved (rs_batch_commit() does after every save; a caller that
 * saves b->prog by itself may too). Best effort: a failure removes it.
 */
void rs_batch_write_summary(const struct rs_batch *b);
/* Path of <log_dir>/summary.json (caller frees). */
char *rs_batch_summary_path(const struct rs_batch *b);

/* Find the school of the list by any name (canonical, alias, slug). */
const struct rs_school *rs_batch_school(const struct rs_batch *b, const char *name);

/* Fresh progress with every school pending (in processing order). */
struct rs_progress *rs_batch_fresh_progress(const struct rs_batch *b, int64_t now_ms);

/*
 * rs_batch_reconcile() - validate b->prog against the school list and align
 * it with the list, in memory (the caller saves and commits, event
 * "reconciled"): what loading repaired (p->repairs); every name made the
 * list's canonical spelling (aliases, slugs, case); empty slugs, and the CSV
 * path of completed entries that have none (when the school's output CSV
 * exists), filled in; rs_progress_check() on the canonical names; pending
 * schools no longer listed removed (with their retry history); schools new
 * in the list appended to pending. Completed/failed schools no longer listed
 * are kept and reported.
 * @changes gets one message per change or note; @refused one per problem
 * that cannot be fixed safely (naming the field; nothing may be saved then).
 * Return: number of changes (0 = nothing to save).
 */
int rs_batch_reconcile(struct rs_batch *b, struct rs_diags *changes, struct rs_diags *refused);

/* Path of the per-school output CSV (absolute; caller frees). */
char *rs_batch_output_csv(const struct rs_batch *b, const struct rs_school *s);
/* @abs relative to the batch root if inside it, else a copy of @abs. */
char *rs_batch_relpath(const struct rs_batch *b, const char *abs);
