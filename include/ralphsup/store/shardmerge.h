/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup merge` below the CLI (docs/scale-out.md): read the N shard
 * refs of a batch (fetched with libgit2 from a remote or from local
 * repositories into refs/ralphsup-merge/…, or already local), check that
 * they agree (batch name, N, the school list's hash, every school in the
 * shard its name hashes to), combine them per school (completed over failed
 * over pending; versions of one shard are merged attempt by attempt, so the
 * cost of every recorded attempt counts once) and write the merged progress
 * file and the completed schools' CSVs as one commit whose parents are the
 * shard heads. The report is the caller's (report/ is a layer above).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ralphsup/base/common.h"

struct rs_batch;
struct rs_progress;

struct rs_merge_opts {
    const char *from;          /* a remote (name or URL) to fetch the shard refs from, or NULL */
    const char *const *dirs;   /* local repositories to fetch them from (with from == NULL) */
    size_t ndirs;              /* 0 and from == NULL: the refs of the batch's own repository */
    bool allow_partial;        /* write a merge with missing or unfinished shards */
};

struct rs_merge_result {
    int count;                 /* N */
    size_t heads;              /* shard heads read (several per index from several DIRs) */
    size_t completed, failed, pending;
    double cost_usd;
    bool partial;              /* a shard is missing or unfinished (named in @missing) */
    struct rs_diags missing;   /* "shard 2/4: no ref refs/heads/ralphsup/shard-2-of-4", … */
    char commit[41];           /* the merge commit ("" when nothing was written) */
    struct rs_progress *prog;  /* the merged progress (owned; freed by rs_merge_result_deinit) */
};

void rs_merge_result_init(struct rs_merge_result *r);
void rs_merge_result_deinit(struct rs_merge_result *r);

/* Positive results of rs_merge_run(). */
enum {
    RS_MERGE_PARTIAL = 1, /* partial and !allow_partial: nothing written */
};

/*
 * rs_merge_run() - merge the shards of @b (opened unsharded, with the lock
 * and the school list, without git: this module opens the repository).
 * Return: 0 (written; res->partial says whether it is complete),
 * RS_MERGE_PARTIAL, or an enum rs_err with reasons in @diags: RS_E_DATA
 * (shards that disagree, a school in the wrong shard, a CSV missing from
 * its shard's commit), RS_E_CONFIG (no repository, an unknown remote),
 * RS_E_UNAVAILABLE (a fetch failed), RS_E_IO.
 */
int rs_merge_run(struct rs_batch *b, const struct rs_merge_opts *o, struct rs_merge_result *res,
                 struct rs_diags *diags);
