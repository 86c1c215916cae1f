/* SPDX-License-Identifier: MIT */
/*
 * Opening a batch and recording its transitions. The order of a transition
 * is fixed: first the progress file is replaced crash-safely (the file is
 * the truth), then it is committed. A commit that cannot happen now (a
 * concurrent git holds a lock) is deferred: the next transition commits the
 * newer file anyway, so nothing is lost, only one step of history merges.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/store/batch.h"
#include "ralphsup/store/summary.h"
#include "ralphsup/store/shardstate.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

static int open_git(struct rs_batch *b, struct rs_diags *diags)
{
    char err[512] = "";
    struct rs_git_opts o = {
        .workdir = b->cfg->root,
        .ref = b->cfg->git_ref,
        .author_name = b->cfg->git_author_name,
        .author_email = b->cfg->git_author_email,
        .create = true,
        .pack_every = (unsigned)b->cfg->git_pack_every,
    };
    int r = rs_git_open(&o, &b->git, err, sizeof(err));
    if (r == 0 || r == RS_GIT_E_CREATED) {
        b->git_created = r == RS_GIT_E_CREATED;
        return 0;
    }
    if (r == RS_GIT_E_DETACHED) {
        rs_diags_add(diags, "%s: git: %s", b->cfg->path,
                     err[0] ? err : "HEAD is detached; set [git] ref = \"refs/heads/ralphsup/audit\" to commit to a dedicated branch");
        return RS_E_CONFIG;
    }
    rs_diags_add(diags, "%s: git: cannot open the repository at %s: %s", b->cfg->path, b->cfg->root,
                 err[0] ? err : strerror(r < 0 ? -r : EIO));
    return RS_E_IO;
}

/*
 * Temp files of saves that a kill -9 interrupted ("<progress>.tmp.XXXXXX").
 * Only called with the batch lock held: no other writer can own one.
 */
static void remove_stale_temps(const char *progress)
{
    char *pat = rs_xasprintf("%s.tmp.??????", progress);
    glob_t g;
    if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    free(pat);
}

char *rs_batch_summary_path(const struct rs_batch *b)
{
    return rs_path_join(b->cfg->log_dir, "summary.json");
}

void rs_batch_write_summary(const struct rs_batch *b)
{
    char *path = rs_batch_summary_path(b);
    if (rs_summary_write(path, b->prog, b->cfg->progress) < 0)
        unlink(path); /* best effort: a stale one would be refused anyway */
    free(path);
}

/* The progress file, or with RS_BATCH_SUMMARY its summary when that is current (b->from_summary). */
static int load_progress(struct rs_batch *b, unsigned flags)
{
    if (flags & RS_BATCH_SUMMARY) {
        char *path = rs_batch_summary_path(b);
        int r = rs_summary_load(path, b->cfg->progress, &b->prog);
        free(path);
        if (r == 0) {
            b->from_summary = true;
            return 0;
        }
    }
    return rs_progress_load(b->cfg->progress, &b->prog, &b->progress_diags);
}

int rs_batch_open(const char *config_path, unsigned flags, struct rs_batch **out, struct rs_diags *diags)
{
    return rs_batch_open_shard(config_path, flags, NULL, out, diags);
}

int rs_batch_open_shard(const char *config_path, unsigned flags, const char *shard, struct rs_batch **out,
                        struct rs_diags *diags)
{
    struct rs_batch *b = rs_xcalloc(1, sizeof(*b));
    rs_diags_init(&b->progress_diags);
    rs_diags_init(&b->notices);
    int ex = 0;

    int r = rs_config_load(config_path, &b->cfg, diags);
    if (r == -ENOENT) {
        rs_diags_add(diags, "%s: config file not found", config_path);
        ex = RS_E_NOINPUT;
        goto fail;
    }
    if (r == -EISDIR) {
        /* docs/cli.md: CONFIG names no config file, the same class as a missing one. */
        rs_diags_add(diags, "%s: is a directory, not a config file; pass the batch's .toml file", config_path);
        ex = RS_E_NOINPUT;
        goto fail;
    }
    if (r != 0) {
        if (r < 0)
            rs_diags_add(diags, "%s: cannot read config: %s", config_path, strerror(-r));
        ex = RS_E_CONFIG;
        goto fail;
    }
    ex = rs_batch_shard_config(b, shard, diags);
    if (ex)
        goto fail;

    if (!(flags & RS_BATCH_NO_SCHOOLS)) {
        r = rs_aliases_load(b->cfg->aliases, &b->aliases, diags);
        int r2 = 0;
        if (r == 0) {
            r2 = rs_schools_load(b->cfg->schools, b->aliases, &b->schools, diags);
        } else {
            /* Still validate the list (against no aliases) so every problem shows in one run. */
            struct rs_aliases *none = NULL;
            if (rs_aliases_load(NULL, &none, diags) == 0) {
                struct rs_school_list *l = NULL;
                if (rs_schools_load(b->cfg->schools, none, &l, diags) == 0)
                    rs_school_list_free(l);
                rs_aliases_free(none);
            }
        }
        if (r == -ENOENT || r2 == -ENOENT) {
            rs_diags_add(diags, "%s: file not found", r == -ENOENT ? b->cfg->aliases : b->cfg->schools);
            ex = RS_E_NOINPUT;
            goto fail;
        }
        if (r != 0 || r2 != 0) {
            if (r < 0 || r2 < 0)
                rs_diags_add(diags, "cannot read the school list: %s", strerror(-(r < 0 ? r : r2)));
            ex = RS_E_DATA;
            goto fail;
        }
        rs_schools_sort(b->schools, b->cfg->order);
        rs_batch_shard_schools(b);
    }

    if (flags & RS_BATCH_LOCK) {
        char *dir = rs_path_dirname(b->cfg->progress);
        rs_mkdir_p(dir, 0755);
        free(dir);
        pid_t holder = 0;
        r = rs_lock_acquire(b->cfg->progress, &b->lock, &holder);
        if (r == RS_LOCK_E_BUSY) {
            char *lp = rs_lock_path(b->cfg->progress);
            if (holder > 0)
                rs_diags_add(diags, "%s: another ralphsup (PID %ld) is running this batch (lock %s)", b->cfg->path,
                             (long)holder, lp);
            else
                rs_diags_add(diags, "%s: another ralphsup is running this batch (lock %s)", b->cfg->path, lp);
            free(lp);
            ex = RS_E_LOCKED;
            goto fail;
        }
        if (r < 0) {
            rs_diags_add(diags, "%s: cannot take the lock next to %s: %s", b->cfg->path, b->cfg->progress, strerror(-r));
            ex = RS_E_CANTCREAT;
            goto fail;
        }
        remove_stale_temps(b->cfg->progress);
    }

    r = load_progress(b, flags);
    if (r < 0) {
        rs_diags_add(diags, "%s: cannot read: %s", b->cfg->progress, strerror(-r));
        ex = RS_E_IO;
        goto fail;
    }
    b->progress_state = r;
    ex = rs_batch_shard_progress(b, diags);
    if (ex)
        goto fail;
    if (r != 0 && (flags & RS_BATCH_NEED_PROGRESS)) {
        if (r == RS_PROGRESS_E_NOT_FOUND) {
            rs_diags_add(diags, "%s: no progress file; run `ralphsup init %s` first", b->cfg->progress, b->cfg->path);
            ex = RS_E_NOINPUT;
        } else {
            for (size_t i = 0; i < b->progress_diags.n; i++)
                rs_diags_add(diags, "%s", b->progress_diags.msgs[i]);
            if (b->cfg->git_enabled)
                rs_diags_add(diags, "the progress file is unreadable; `ralphsup recover %s` keeps a copy of it and "
                                    "restores the newest good version from git history",
                             b->cfg->path);
            else /* recover needs the audit trail */
                rs_diags_add(diags, "the progress file is unreadable and [git] enabled = false leaves no history to "
                                    "recover it from: repair it by hand (docs/progress.md) or start over with "
                                    "`ralphsup init %s --reset`",
                             b->cfg->path);
            ex = RS_E_DATA;
        }
        goto fail;
    }

    if (b->cfg->git_enabled && !(flags & RS_BATCH_NO_GIT)) {
        rs_batch_shard_branch(b);
        ex = open_git(b, diags);
        if (ex)
            goto fail;
        if (b->lock) {
            char notice[768];
            if (rs_git_clear_stale_lock(b->git, 2000, notice, sizeof notice) > 0)
                rs_diags_add(&b->notices, "git: %s", notice);
        }
    }
    *out = b;
    return 0;

fail:
    rs_batch_free(b);
    return ex;
}

struct rs_batch *rs_batch_free(struct rs_batch *b)
{
    if (!b)
        return NULL;
    rs_git_free(b->git);
    rs_lock_release(b->lock);
    rs_progress_free(b->prog);
    if (b->all_schools) {
        /* A shard's list borrows its schools from the whole list. */
        free(b->schools->v);
        free(b->schools);
        rs_school_list_free(b->all_schools);
    } else {
        rs_school_list_free(b->schools);
    }
    rs_aliases_free(b->aliases);
    rs_config_free(b->cfg);
    rs_diags_deinit(&b->progress_diags);
    rs_diags_deinit(&b->notices);
    free(b);
    return NULL;
}

const struct rs_school *rs_batch_school(const struct rs_batch *b, const char *name)
{
    if (!b->schools)
        return NULL;
    return rs_schools_find(b->schools, b->aliases, name);
}

struct rs_progress *rs_batch_fresh_progress(const struct rs_batch *b, int64_t now_ms)
{
    struct rs_progress *p = rs_progress_new(b->cfg->name, now_ms);
    for (size_t i = 0; i < b->schools->n; i++)
        rs_progress_push_pending(p, b->schools->v[i].name, false);
    if (b->shard.count)
        rs_progress_shard_set(p, &b->shard, b->shard_hash);
    return p;
}

/* The list's spelling of @name (canonical), or NULL when it is not in the list. */
static const struct rs_school *canonical(const struct rs_batch *b, const char *name)
{
    return name ? rs_batch_school(b, name) : NULL;
}

/* Replace *@name by the canonical name of @sc when it differs; say so. Return: 1 when changed. */
static int make_canonical(const struct rs_batch *b, const struct rs_school *sc, char **name, const char *field,
                          struct rs_diags *changes)
{
    if (!sc || strcmp(sc->name, *name) == 0)
        return 0;
    rs_diags_add(changes, "%s: %s \"%s\" is \"%s\" in the school list: name made canonical", b->cfg->progress, field,
                 *name, sc->name);
    free(*name);
    *name = rs_xstrdup(sc->name);
    return 1;
}

/* An empty slug (seed entries) filled from the list. Return: 1 when changed. */
static int fill_slug(const struct rs_school *sc, char **slug)
{
    if (!sc || (*slug && (*slug)[0]))
        return 0;
    free(*slug);
    *slug = rs_xstrdup(sc->slug);
    return 1;
}

/* Names, slugs and CSV paths of the entries of @v made what the school list says. */
static int canonicalise_states(struct rs_batch *b, struct rs_school_state *v, size_t n, const char *key,
                               bool completed, struct rs_diags *changes)
{
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        struct rs_school_state *s = &v[i];
        const struct rs_school *sc = canonical(b, s->name);
        char field[64];
        snprintf(field, sizeof field, "%s[%zu]", key, i);
        int k0 = k;
        k += make_canonical(b, sc, &s->name, field, changes);
        if (k != k0)
            s->segment = 0; /* changed: written in full again (a segment is never rewritten) */
        if (!sc)
            continue;
        bool slug = fill_slug(sc, &s->slug) != 0;
        if (!completed || s->csv) {
            if (slug) {
                rs_diags_add(changes, "%s: %s \"%s\": slug filled in (%s)", b->cfg->progress, field, s->name, s->slug);
                k++;
                s->segment = 0;
            }
            continue;
        }
        /* A completed entry without a CSV path (a seed file's): the school's output CSV, when it is there. */
        char *abs = rs_batch_output_csv(b, sc);
        char *rel = rs_batch_relpath(b, abs);
        if (rs_file_exists(abs)) {
            s->csv = rs_xstrdup(rel);
            rs_diags_add(changes, "%s: %s \"%s\": %scsv path filled in (%s)", b->cfg->progress, field, s->name,
                         slug ? "slug and " : "", rel);
            k++;
            s->segment = 0;
        } else {
            if (slug) {
                rs_diags_add(changes, "%s: %s \"%s\": slug filled in (%s)", b->cfg->progress, field, s->name, s->slug);
                k++;
                s->segment = 0;
            }
            rs_diags_add(changes, "%s: %s \"%s\" has no csv path and %s does not exist: `ralphsup report` lists it "
                                  "as a problem until the CSV is there (or run the school again: remove it from "
                                  "\"completed\")",
                         b->cfg->progress, field, s->name, rel);
        }
        free(abs);
        free(rel);
    }
    return k;
}

int rs_batch_reconcile(struct rs_batch *b, struct rs_diags *changes, struct rs_diags *refused)
{
    struct rs_progress *p = b->prog;
    int n = 0;
    /* What loading already repaired in memory (a BOM, a seed upgrade, duplicates by exact name). */
    for (size_t i = 0; i < p->repairs.n; i++)
        rs_diags_add(changes, "%s", p->repairs.msgs[i]);
    n += (int)p->repairs.n;
    rs_diags_deinit(&p->repairs);

    /* Every name as the school list spells it: aliases, slugs and other spellings resolve. */
    for (size_t i = 0; i < p->npending; i++) {
        char field[64];
        snprintf(field, sizeof field, "pending[%zu]", i);
        n += make_canonical(b, canonical(b, p->pending[i]), &p->pending[i], field, changes);
    }
    size_t ci = 0;
    for (struct rs_current *c = p->current; c; c = c->next, ci++) {
        char field[40];
        if (ci == 0)
            snprintf(field, sizeof field, "current");
        else
            snprintf(field, sizeof field, "in_progress[%zu]", ci);
        const struct rs_school *sc = canonical(b, c->name);
        n += make_canonical(b, sc, &c->name, field, changes);
        if (fill_slug(sc, &c->slug)) {
            rs_diags_add(changes, "%s: %s \"%s\": slug filled in (%s)", b->cfg->progress, field, c->name, c->slug);
            n++;
        }
    }
    n += canonicalise_states(b, p->completed, p->ncompleted, "completed", true, changes);
    n += canonicalise_states(b, p->failed, p->nfailed, "failed", false, changes);
    n += canonicalise_states(b, p->history, p->nhistory, "retry_history", false, changes);

    /* Now that names are canonical: each school in exactly one place. */
    n += rs_progress_check(p, b->cfg->progress, changes, refused);
    if (refused->n)
        return n;

    /* Pending schools that are no longer in the list. */
    for (size_t i = 0; i < p->npending;) {
        if (!rs_batch_school(b, p->pending[i])) {
            int na = rs_progress_drop_history(p, p->pending[i]);
            if (na >= 0)
                rs_diags_add(changes, "removed from pending (no longer in the school list): %s (its retry history of "
                                      "%d attempt%s dropped)",
                             p->pending[i], na, na == 1 ? "" : "s");
            else
                rs_diags_add(changes, "removed from pending (no longer in the school list): %s", p->pending[i]);
            rs_progress_remove_pending(p, p->pending[i]);
            n++;
            continue;
        }
        i++;
    }
    for (size_t i = 0; i < p->ncompleted; i++)
        if (!rs_batch_school(b, p->completed[i].name))
            rs_diags_add(changes, "kept as completed although no longer in the school list: %s", p->completed[i].name);
    for (size_t i = 0; i < p->nfailed; i++)
        if (!rs_batch_school(b, p->failed[i].name))
            rs_diags_add(changes, "kept as failed although no longer in the school list: %s", p->failed[i].name);
    /* New schools, appended in processing order. */
    for (size_t i = 0; i < b->schools->n; i++) {
        const char *name = b->schools->v[i].name;
        if (!rs_progress_is_known(p, name)) {
            rs_progress_push_pending(p, name, false);
            rs_diags_add(changes, "added to pending (new in the school list): %s", name);
            n++;
        }
    }
    return n;
}

char *rs_batch_output_csv(const struct rs_batch *b, const struct rs_school *s)
{
    return rs_config_output_csv(b->cfg, s->slug);
}

char *rs_batch_relpath(const struct rs_batch *b, const char *abs)
{
    return rs_config_relpath(b->cfg, abs);
}

/* Commit @paths as the transition @t (trailers, redaction, deferral): the part both commit functions share. */
static int commit_transition(struct rs_batch *b, const struct rs_transition *t, const char *const *paths,
                             size_t npaths, char *repaired, struct rs_diags *warn, int *committed)
{
    char iter[32], att[32], cost[32];
    snprintf(iter, sizeof iter, "%lld", (long long)t->iteration);
    snprintf(att, sizeof att, "%d", t->attempt);
    snprintf(cost, sizeof cost, "%.4f", t->cost_usd);
    struct rs_git_trailer tr[6];
    size_t ntr = 0;
    tr[ntr++] = (struct rs_git_trailer){"Ralphsup-Batch", b->cfg->name};
    tr[ntr++] = (struct rs_git_trailer){"Ralphsup-Event", t->event};
    if (t->school)
        tr[ntr++] = (struct rs_git_trailer){"Ralphsup-School", t->school};
    if (t->attempt > 0)
        tr[ntr++] = (struct rs_git_trailer){"Ralphsup-Attempt", att};
    if (t->iteration > 0)
        tr[ntr++] = (struct rs_git_trailer){"Ralphsup-Iteration", iter};
    if (t->cost_usd >= 0)
        tr[ntr++] = (struct rs_git_trailer){"Ralphsup-Cost-USD", cost};

    char oid[64] = "", err[512] = "";
    char *subject = rs_redact(t->subject, strlen(t->subject), NULL);
    char *body = t->body ? rs_redact(t->body, strlen(t->body), NULL) : NULL;
    if (repaired) {
        /* Repairs made while loading, saved by a transition other than "reconciled": never silently. */
        char *all = rs_xasprintf("%s%sRepaired while loading the progress file:\n%s", body ? body : "", body ? "\n\n" : "",
                                 repaired);
        free(body);
        body = all;
    }
    int r = rs_git_commit(b->git, paths, npaths, subject, body, tr, ntr, oid, err, sizeof(err));
    if (committed)
        *committed = r == 0;
    free(subject);
    free(body);
    if (rs_git_notice(b->git))
        rs_diags_add(warn, "git: %s", rs_git_notice(b->git));
    const char *why = NULL;
    if (r == 0 && rs_git_index_skipped(b->git, &why)) {
        /* The commit landed; only git's index is stale (another process holds .git/index.lock). Said once. */
        if (!b->index_warned) {
            char *rel = rs_config_relpath(b->cfg, b->cfg->progress);
            rs_diags_add(warn,
                         "git: committed, but the index was not refreshed (%s): until a later commit refreshes it, "
                         "`git status` shows %s as changed (nothing is lost; `git reset -q -- %s` fixes the index)",
                         why ? why : "locked", rel, rel);
            free(rel);
        }
        b->index_warned = true;
    } else if (r == 0) {
        b->index_warned = false;
    }
    if (r == RS_GIT_E_DEFERRED) {
        rs_diags_add(warn, "git: commit \"%s\" deferred: %s (the progress file is saved; the next transition commits it)",
                     t->subject, err[0] ? err : "repository locked by another git process");
        return 0;
    }
    /* Never fail the batch for the audit trail: the file is saved. */
    if (r != 0)
        rs_diags_add(warn, "git: commit \"%s\" failed: %s", t->subject, err[0] ? err : strerror(r < 0 ? -r : EIO));
    return 0;
}

int rs_batch_commit(struct rs_batch *b, const struct rs_transition *t, struct rs_diags *warn)
{
    int64_t now = rs_now_ms();
    b->prog->seal_every = (size_t)b->cfg->seal_every;
    int r = rs_progress_save(b->prog, b->cfg->progress, now);
    if (r < 0) {
        rs_diags_add(warn, "%s: cannot save progress: %s", b->cfg->progress, strerror(-r));
        return r;
    }
    rs_batch_write_summary(b); /* a hint for `status`; a failure only makes status read the file */
    char *repaired = NULL;
    if (b->prog->repairs.n) {
        for (size_t i = 0; i < b->prog->repairs.n; i++)
            rs_diags_add(warn, "repaired: %s", b->prog->repairs.msgs[i]);
        repaired = rs_diags_join(&b->prog->repairs);
        rs_diags_deinit(&b->prog->repairs);
    }
    if (!b->git) {
        free(repaired);
        return 0;
    }
    /* The progress file, the segments it names that are not committed yet, the school's CSV. */
    const struct rs_progress *p = b->prog;
    size_t nseg = p->nsegments > b->segments_committed ? p->nsegments - b->segments_committed : 0;
    const char **paths = rs_xcalloc(nseg + 2, sizeof(*paths));
    size_t npaths = 0;
    paths[npaths++] = b->cfg->progress;
    for (size_t k = b->segments_committed; k < p->nsegments; k++)
        paths[npaths++] = rs_progress_segment_path(p, b->cfg->progress, k);
    if (t->extra_path && b->cfg->git_include_outputs && rs_file_exists(t->extra_path))
        paths[npaths++] = t->extra_path;
    int committed = 0;
    r = commit_transition(b, t, paths, npaths, repaired, warn, &committed);
    if (committed)
        b->segments_committed = p->nsegments;
    for (size_t k = 0; k < nseg; k++)
        free((char *)paths[1 + k]);
    free(paths);
    free(repaired);
    return r;
}

int rs_batch_commit_files(struct rs_batch *b, const struct rs_transition *t, const char *const *paths, size_t npaths,
                          struct rs_diags *warn)
{
    if (!b->git || npaths == 0)
        return 0;
    return commit_transition(b, t, paths, npaths, NULL, warn, NULL);
}

int rs_batch_catch_up(struct rs_batch *b, struct rs_diags *warn)
{
    if (!b->git || !b->prog || b->progress_state != 0)
        return 0;
    bool same = false;
    char err[512] = "";
    int r = rs_git_committed(b->git, b->cfg->progress, &same, err, sizeof err);
    if (r != 0) {
        rs_diags_add(warn, "git: cannot compare %s with the last commit: %s", b->cfg->progress,
                     err[0] ? err : strerror(r < 0 ? -r : EIO));
        return 0;
    }
    if (same)
        return 0;
    const struct rs_progress *p = b->prog;
    char subject[512];
    rs_utf8_printf(subject, sizeof subject,
                   "ralphsup: committed batch %s as a previous run left it (%zu completed, %zu failed, %zu pending)",
                   b->cfg->name, p->ncompleted, p->nfailed, p->npending);
    const char *body = "The progress file on disk differs from the last commit: a run was killed between saving "
                       "and committing it, or its commit was deferred by a git lock. This commit records it.";
    const char *csv = p->ncompleted ? p->completed[p->ncompleted - 1].csv : NULL;
    char *extra = csv && *csv ? rs_path_join(b->cfg->root, csv) : NULL;
    struct rs_transition t = {.event = "uncommitted", .cost_usd = p->cost_usd, .subject = subject, .body = body,
                              .extra_path = extra};
    r = rs_batch_commit(b, &t, warn);
    free(extra);
    return r ? r : 1;
}

/* ---- the lenient open of stop and status ---------------------------------------- */

int rs_batch_open_lenient(const char *config_path, unsigned flags, const char *shard, struct rs_batch **out,
                          struct rs_diags *config_problems, struct rs_diags *diags)
{
    flags = (flags & (RS_BATCH_NEED_PROGRESS | RS_BATCH_SUMMARY)) | RS_BATCH_NO_GIT | RS_BATCH_NO_SCHOOLS;
    struct rs_diags strict;
    rs_diags_init(&strict);
    int ex = rs_batch_open_shard(config_path, flags, shard, out, &strict);
    if (ex != RS_E_CONFIG) {
        for (size_t i = 0; i < strict.n; i++)
            rs_diags_add(diags, "%s", strict.msgs[i]);
        rs_diags_deinit(&strict);
        return ex;
    }
    /* The config itself is invalid (with these flags nothing else exits 78). */
    for (size_t i = 0; i < strict.n; i++)
        rs_diags_add(config_problems, "%s", strict.msgs[i]);
    if (strict.n == 0)
        rs_diags_add(config_problems, "%s: invalid configuration", config_path);
    rs_diags_deinit(&strict);

    struct rs_batch *b = rs_xcalloc(1, sizeof(*b));
    rs_diags_init(&b->progress_diags);
    rs_diags_init(&b->notices);
    int r = rs_config_load_locator(config_path, &b->cfg);
    if (r < 0) {
        rs_diags_add(diags, "%s: cannot read config: %s", config_path, strerror(-r));
        rs_batch_free(b);
        return r == -ENOENT ? RS_E_NOINPUT : RS_E_CONFIG;
    }
    if (shard && rs_batch_shard_config(b, shard, diags)) {
        rs_batch_free(b);
        return RS_E_CONFIG;
    }
    r = load_progress(b, flags);
    if (r < 0) {
        rs_diags_add(diags, "%s: cannot read: %s", b->cfg->progress, strerror(-r));
        rs_batch_free(b);
        return RS_E_IO;
    }
    b->progress_state = r;
    if (r != 0 && (flags & RS_BATCH_NEED_PROGRESS)) {
        if (r == RS_PROGRESS_E_NOT_FOUND) {
            rs_diags_add(diags, "%s: no progress file (the config's [batch] root and progress, or their defaults, "
                                "point here)",
                         b->cfg->progress);
            ex = RS_E_NOINPUT;
        } else {
            for (size_t i = 0; i < b->progress_diags.n; i++)
                rs_diags_add(diags, "%s", b->progress_diags.msgs[i]);
            rs_diags_add(diags, "the progress file is unreadable; fix the config first (`ralphsup doctor %s` lists "
                                "its problems), then `ralphsup status %s` again says how to restore the file",
                         config_path, config_path);
            ex = RS_E_DATA;
        }
        rs_batch_free(b);
        return ex;
    }
    *out = b;
    return 0;
}
