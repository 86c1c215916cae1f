/* SPDX-License-Identifier: MIT */
/*
 * Opening one shard of a batch (docs/scale-out.md): the shard is chosen
 * (`--shard`, else [batch] shard; "auto/N" reads JOB_COMPLETION_INDEX, then
 * SLURM_ARRAY_TASK_ID), the config renamed to the shard's progress file, log
 * directory and git ref, the school list cut to the shard's schools, and
 * the progress file checked to be this shard's. Everything after that is an
 * ordinary batch: the supervisor never knows it runs a shard.
 */
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "ralphsup/store/batch.h"
#include "ralphsup/store/shardstate.h"

int rs_batch_shard_config(struct rs_batch *b, const char *shard, struct rs_diags *diags)
{
    const char *spec = shard ? shard : b->cfg->shard;
    if (!spec || !*spec) /* "": the whole batch, whatever [batch] shard says (merge, status of all shards) */
        return 0;
    const char *ji = getenv("JOB_COMPLETION_INDEX"), *ai = getenv("SLURM_ARRAY_TASK_ID");
    /* [batch] shard = "auto/N" outside a Job or array task (the merge Job, a laptop): the whole batch. */
    if (!shard && strncmp(spec, "auto/", 5) == 0 && !(ji && *ji) && !(ai && *ai))
        return 0;
    char err[256];
    if (rs_shard_parse(spec, getenv("JOB_COMPLETION_INDEX"), getenv("SLURM_ARRAY_TASK_ID"), &b->shard, err,
                       sizeof err) < 0) {
        rs_diags_add(diags, "%s: %s %s", b->cfg->path, shard ? "--shard" : "[batch] shard", err);
        return RS_E_CONFIG;
    }
    rs_shard_apply(b->cfg, &b->shard);
    return 0;
}

void rs_batch_shard_schools(struct rs_batch *b)
{
    if (!b->shard.count || !b->schools)
        return;
    struct rs_school_list *all = b->schools;
    const char **names = rs_xcalloc(all->n ? all->n : 1, sizeof(*names));
    for (size_t i = 0; i < all->n; i++)
        names[i] = all->v[i].name;
    rs_shard_list_hash(names, all->n, b->shard_hash, sizeof b->shard_hash);
    free(names);
    struct rs_school_list *mine = rs_xcalloc(1, sizeof(*mine));
    mine->v = rs_xcalloc(all->n ? all->n : 1, sizeof(*mine->v));
    for (size_t i = 0; i < all->n; i++)
        if (rs_shard_has(&b->shard, all->v[i].name))
            mine->v[mine->n++] = all->v[i]; /* borrowed: freed with all */
    b->all_schools = all;
    b->schools = mine;
}

int rs_batch_shard_progress(struct rs_batch *b, struct rs_diags *diags)
{
    if (!b->shard.count || !b->prog)
        return 0;
    struct rs_shard got;
    char hash[64];
    if (rs_progress_shard_get(b->prog, &got, hash, sizeof hash)) {
        if (got.index != b->shard.index || got.count != b->shard.count) {
            rs_diags_add(diags, "%s: shard: the file belongs to shard %d/%d, not %d/%d", b->cfg->progress, got.index,
                         got.count, b->shard.index, b->shard.count);
            return RS_E_DATA;
        }
        if (!b->schools || strcmp(hash, b->shard_hash) == 0)
            return 0;
    }
    if (b->schools) /* recorded (or updated after an edit of the list) with the next commit */
        rs_progress_shard_set(b->prog, &b->shard, b->shard_hash);
    return 0;
}

int rs_batch_shard_branch(struct rs_batch *b)
{
    if (!b->shard.count || !b->cfg->git_enabled || strncmp(b->cfg->git_ref, "refs/heads/", 11) != 0)
        return 0;
    git_libgit2_init();
    git_repository *repo = NULL;
    git_oid head, tip;
    int r = 0;
    if (git_repository_open_ext(&repo, b->cfg->root, 0, NULL) == 0 &&
        git_reference_name_to_id(&tip, repo, b->cfg->git_ref) == GIT_ENOTFOUND &&
        git_reference_name_to_id(&head, repo, "HEAD") == 0) {
        git_reference *ref = NULL;
        r = git_reference_create(&ref, repo, b->cfg->git_ref, &head, 0, "ralphsup: shard branch") == 0 ? 1 : 0;
        git_reference_free(ref);
    }
    git_repository_free(repo);
    git_libgit2_shutdown();
    return r;
}
