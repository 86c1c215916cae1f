/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup merge`: the shards of one batch made one batch again.
 *
 * Where the shards come from: each shard's run commits to its own ref,
 * refs/heads/ralphsup/shard-I-of-N, and the pod that ran it pushed that ref
 * to the batch repository. merge fetches those refs with libgit2 (from a
 * remote, or from local repositories given as directories) into
 * refs/ralphsup-merge/… of the batch's own repository, so the merge commit
 * can name them as parents; without a source it reads the local
 * refs/heads/ralphsup/shard-*.
 *
 * What it checks: every head's progress file is a shard's (its "shard"
 * member, store/shardstate.c) of this batch (batch_name), with the N of its
 * ref and the hash of the current school list; one N for all heads; every
 * school a head knows belongs to that head's shard (core/shard.c).
 *
 * How it combines: per school, over the heads of its shard (one per index
 * from a remote; several when two directories hold one index, e.g. the
 * clones of a pod and of its replacement): completed over failed over
 * pending, the latest finish breaking a tie; the attempts are the union of
 * every head's attempts (one attempt recorded by two heads counts once), so
 * the cost of every recorded attempt counts. A replaced pod resumes from the
 * ref its predecessor pushed, so its progress file already holds the
 * predecessor's attempts; an attempt that was never pushed (a pod lost with
 * its disk before the push) is not known to git and cannot be counted.
 *
 * What it writes: the merged progress file (the config's [batch] progress)
 * and the completed schools' CSVs (from their shards' commits; so shards
 * run with [git] include_outputs = true), committed as one commit on the
 * config's [git] ref whose parents are the shard heads (and the ref's tip
 * first when no shard descends from it). Nothing is written when a shard
 * is missing or unfinished unless allow_partial.
 */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>
#include <jansson.h>

#include "ralphsup/store/shardmerge.h"
#include "ralphsup/base/buf.h"
#include "ralphsup/base/strmap.h"
#include "ralphsup/base/util.h"
#include "ralphsup/core/shard.h"
#include "ralphsup/store/batch.h"
#include "ralphsup/store/progress.h"
#include "ralphsup/store/shardstate.h"

#define MERGE_MAX_HEADS 4096
#define MERGE_BLOB_MAX ((size_t)64 << 20)

struct head {
    char *ref;                /* local ref name */
    struct rs_shard sh;
    git_oid oid;
    char hex[GIT_OID_HEXSZ + 1];
    git_tree *tree;
    struct rs_progress *prog;
    struct rs_strmap where;   /* name -> (i << 2) | kind */
};

enum { K_COMPLETED = 0, K_FAILED = 1, K_HISTORY = 2, K_PENDING = 3 };

struct merge {
    struct rs_batch *b;
    git_repository *repo;
    char *root_rel;           /* the batch root inside the work tree: "" or "sub/" */
    struct head *h;
    size_t nh;
    int count;
    char list_hash[32];
    struct rs_diags *diags;
};

static const char *git_msg(void)
{
    const git_error *e = git_error_last();
    return e && e->message ? e->message : "unknown libgit2 error";
}

void rs_merge_result_init(struct rs_merge_result *r)
{
    memset(r, 0, sizeof(*r));
    rs_diags_init(&r->missing);
}

void rs_merge_result_deinit(struct rs_merge_result *r)
{
    rs_diags_deinit(&r->missing);
    r->prog = rs_progress_free(r->prog);
}

/* ---- sources ---------------------------------------------------------------- */

static void delete_refs(git_repository *repo, const char *glob)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    if (git_reference_iterator_glob_new(&it, repo, glob) < 0)
        return;
    while (git_reference_next(&ref, it) == 0) {
        git_reference_delete(ref);
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
}

/* Fetch refs/heads/ralphsup/shard-* of @src (a remote's name, a URL or a path) to @prefix/shard-*. */
static int fetch(struct merge *m, const char *src, const char *prefix)
{
    char glob[256];
    snprintf(glob, sizeof glob, "%s/shard-*", prefix);
    delete_refs(m->repo, glob);
    /*
     * A named remote is fetched through an anonymous one on its URL (remote.<name>.url), made
     * without the url.*.insteadOf lookup: libgit2 1.5 leaks the pcre2 match data of every config
     * entry that lookup (in git_remote_lookup, git_remote_create_*, and again per ref in the tip
     * update of a named remote) matches a regular expression against (seen with LeakSanitizer).
     * Only the explicit refspec below is used anyway.
     */
    git_remote *rem = NULL;
    git_config *cfg = NULL, *snap = NULL;
    char *url = NULL;
    if (git_repository_config(&cfg, m->repo) == 0 && git_config_snapshot(&snap, cfg) == 0) {
        char *key = rs_xasprintf("remote.%s.url", src);
        const char *v = NULL;
        if (git_config_get_string(&v, snap, key) == 0 && v)
            url = rs_xstrdup(v);
        free(key);
    }
    git_config_free(snap);
    git_config_free(cfg);
    git_remote_create_options ro;
    git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ro.repository = m->repo;
    ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(&rem, url ? url : src, &ro) < 0) {
        rs_diags_add(m->diags, "merge: %s is neither a remote of the repository nor a URL: %s", src, git_msg());
        free(url);
        return RS_E_CONFIG;
    }
    free(url);
    char spec[300];
    snprintf(spec, sizeof spec, "+refs/heads/ralphsup/shard-*:%s/shard-*", prefix);
    char *specs[] = {spec};
    git_strarray refspecs = {specs, 1};
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    int r = git_remote_fetch(rem, &refspecs, &fo, "ralphsup merge: fetch the shard refs");
    if (r < 0)
        rs_diags_add(m->diags, "merge: cannot fetch the shard refs from %s: %s", src, git_msg());
    git_remote_free(rem);
    return r < 0 ? RS_E_UNAVAILABLE : 0;
}

/* Every ref matching @prefix/shard-I-of-N becomes a head. */
static int list_heads(struct merge *m, const char *prefix)
{
    char glob[256];
    snprintf(glob, sizeof glob, "%s/shard-*", prefix);
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    if (git_reference_iterator_glob_new(&it, m->repo, glob) < 0) {
        rs_diags_add(m->diags, "merge: cannot list %s: %s", glob, git_msg());
        return RS_E_IO;
    }
    int ex = 0;
    while (!ex && git_reference_next(&ref, it) == 0) {
        const char *name = git_reference_name(ref);
        const char *tail = name + strlen(prefix) + 1;
        struct rs_shard sh;
        char want[64];
        if (rs_shard_parse_tag(tail, &sh)) {
            /* "shard-I-of-N", or "shard-I-of-N.attempt-…" (a pod that lost the push race, contrib/k8s) */
            rs_shard_tag(&sh, want, sizeof want);
            size_t wl = strlen(want);
            if (strncmp(tail, want, wl) != 0 || (tail[wl] && strncmp(tail + wl, ".attempt-", 9) != 0))
                sh.count = 0; /* "shard-1-of-4-old": not a shard ref */
        } else {
            sh.count = 0;
        }
        git_oid id;
        if (sh.count && git_reference_name_to_id(&id, m->repo, name) == 0) {
            if (m->nh >= MERGE_MAX_HEADS) {
                rs_diags_add(m->diags, "merge: more than %d shard heads", MERGE_MAX_HEADS);
                ex = RS_E_DATA;
            } else {
                struct head *h = &m->h[m->nh++];
                memset(h, 0, sizeof(*h));
                h->ref = rs_xstrdup(name);
                h->sh = sh;
                h->oid = id;
                git_oid_tostr(h->hex, sizeof h->hex, &id);
            }
        }
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    return ex;
}

/* ---- reading a head --------------------------------------------------------------- */

/* The repository path of @abs (a file of the batch): root_rel + its path under the root. */
static char *repo_path(const struct merge *m, const char *abs)
{
    char *rel = rs_config_relpath(m->b->cfg, abs);
    char *p = rs_xasprintf("%s%s", m->root_rel, rel);
    free(rel);
    return p;
}

/* The blob at @path in @tree: 0 and a copy in *out, 1 when absent, or RS_E_IO. */
static int read_blob(git_repository *repo, git_tree *tree, const char *path, char **out, size_t *len)
{
    git_tree_entry *e = NULL;
    git_blob *blob = NULL;
    *out = NULL;
    *len = 0;
    if (git_tree_entry_bypath(&e, tree, path) < 0)
        return 1;
    int r = git_blob_lookup(&blob, repo, git_tree_entry_id(e));
    git_tree_entry_free(e);
    if (r < 0)
        return RS_E_IO;
    size_t n = (size_t)git_blob_rawsize(blob);
    if (n > MERGE_BLOB_MAX) {
        git_blob_free(blob);
        return RS_E_IO;
    }
    *out = rs_xmalloc(n + 1);
    memcpy(*out, git_blob_rawcontent(blob), n);
    (*out)[n] = '\0';
    *len = n;
    git_blob_free(blob);
    return 0;
}

static void index_names(struct head *h)
{
    struct rs_progress *p = h->prog;
    for (size_t i = 0; i < p->npending; i++)
        rs_strmap_put(&h->where, p->pending[i], K_PENDING);
    for (const struct rs_current *c = p->current; c; c = c->next)
        rs_strmap_put(&h->where, c->name, K_PENDING);
    for (size_t i = 0; i < p->nhistory; i++)
        rs_strmap_put(&h->where, p->history[i].name, (i << 2) | K_HISTORY);
    for (size_t i = 0; i < p->nfailed; i++)
        rs_strmap_put(&h->where, p->failed[i].name, (i << 2) | K_FAILED);
    for (size_t i = 0; i < p->ncompleted; i++)
        rs_strmap_put(&h->where, p->completed[i].name, (i << 2) | K_COMPLETED);
}

/* A school @h knows that belongs to another shard: named in diags. */
static int check_names(struct merge *m, const struct head *h)
{
    int bad = 0;
    for (size_t i = 0; i < h->where.cap; i++) {
        const char *name = h->where.keys[i];
        if (!name)
            continue;
        int want = rs_shard_of(name, h->sh.count);
        if (want != h->sh.index) {
            if (bad++ < 20)
                rs_diags_add(m->diags, "merge: %s (%s): school \"%s\" belongs to shard %d/%d, not %d/%d", h->ref,
                             h->hex, name, want, h->sh.count, h->sh.index, h->sh.count);
        }
    }
    return bad ? RS_E_DATA : 0;
}

/* A shard's segment files, from the shard's commit: next to its progress file (@ud: "<dir>/" or ""). */
struct seg_reader {
    struct merge *m;
    struct head *h;
    const char *dir;
};

static int read_shard_segment(void *ud, const char *rel, char **data, size_t *len)
{
    const struct seg_reader *sr = ud;
    char *path = rs_xasprintf("%s%s", sr->dir, rel);
    int r = read_blob(sr->m->repo, sr->h->tree, path, data, len);
    free(path);
    return r == 1 ? -ENOENT : r ? -EIO : 0;
}

static int read_head(struct merge *m, struct head *h)
{
    git_commit *c = NULL;
    if (git_commit_lookup(&c, m->repo, &h->oid) < 0 || git_commit_tree(&h->tree, c) < 0) {
        git_commit_free(c);
        rs_diags_add(m->diags, "merge: %s: cannot read commit %s: %s", h->ref, h->hex, git_msg());
        return RS_E_IO;
    }
    git_commit_free(c);
    char *abs = rs_shard_progress_path(m->b->cfg->progress, &h->sh);
    char *path = repo_path(m, abs);
    free(abs);
    char *data = NULL;
    size_t len = 0;
    int r = read_blob(m->repo, h->tree, path, &data, &len);
    int ex = 0;
    if (r == 1) {
        rs_diags_add(m->diags, "merge: %s (%s) has no %s", h->ref, h->hex, path);
        ex = RS_E_DATA;
    } else if (r) {
        rs_diags_add(m->diags, "merge: %s (%s): cannot read %s", h->ref, h->hex, path);
        ex = RS_E_IO;
    } else {
        char origin[512];
        snprintf(origin, sizeof origin, "%s:%s", h->ref, path);
        struct rs_diags pd;
        rs_diags_init(&pd);
        const char *slash = strrchr(path, '/');
        char *dir = slash ? rs_xasprintf("%.*s/", (int)(slash - path), path) : rs_xstrdup("");
        struct seg_reader sr = {m, h, dir};
        r = rs_progress_parse_with(data, len, origin, read_shard_segment, &sr, &h->prog, &pd);
        free(dir);
        if (r != 0) {
            for (size_t i = 0; i < pd.n; i++)
                rs_diags_add(m->diags, "merge: %s", pd.msgs[i]);
            ex = RS_E_DATA;
        }
        rs_diags_deinit(&pd);
    }
    free(data);
    if (ex) {
        free(path);
        return ex;
    }
    struct rs_shard got;
    char hash[64];
    if (!rs_progress_shard_get(h->prog, &got, hash, sizeof hash)) {
        rs_diags_add(m->diags, "merge: %s:%s has no \"shard\" member: not a shard's progress file", h->ref, path);
        ex = RS_E_DATA;
    } else if (got.index != h->sh.index || got.count != h->sh.count) {
        rs_diags_add(m->diags, "merge: %s:%s records shard %d/%d, its ref says %d/%d", h->ref, path, got.index,
                     got.count, h->sh.index, h->sh.count);
        ex = RS_E_DATA;
    } else if (strcmp(hash, m->list_hash) != 0) {
        rs_diags_add(m->diags,
                     "merge: %s:%s ran a different school list (schools_hash %s, the list now %s): run the shard "
                     "again with this list",
                     h->ref, path, hash, m->list_hash);
        ex = RS_E_DATA;
    } else if (strcmp(h->prog->batch_name, m->b->cfg->name) != 0) {
        rs_diags_add(m->diags, "merge: %s:%s is batch \"%s\", the config's is \"%s\"", h->ref, path,
                     h->prog->batch_name, m->b->cfg->name);
        ex = RS_E_DATA;
    }
    free(path);
    if (ex)
        return ex;
    index_names(h);
    return check_names(m, h);
}

/* ---- combining --------------------------------------------------------------------- */

static char *dup0(const char *s)
{
    return s ? rs_xstrdup(s) : NULL;
}

static void copy_attempt(struct rs_attempt *d, const struct rs_attempt *s)
{
    d->attempt = s->attempt;
    d->iteration = s->iteration;
    d->started_ms = s->started_ms;
    d->finished_ms = s->finished_ms;
    d->cost_usd = s->cost_usd;
    d->cost_estimated = s->cost_estimated;
    d->outcome = s->outcome;
    d->outcome_other = dup0(s->outcome_other);
    d->reason = dup0(s->reason);
    d->exit_status = dup0(s->exit_status);
    d->session_id = dup0(s->session_id);
    d->failure_class = dup0(s->failure_class);
    d->extra = dup0(s->extra);
}

/*
 * One attempt recorded by two heads (a shared history): same number, iteration, times (the file
 * keeps seconds) and session. Two pods that ran one school at once differ at least in the session.
 */
static bool same_attempt(const struct rs_attempt *a, const struct rs_attempt *b)
{
    return a->attempt == b->attempt && a->iteration == b->iteration && a->started_ms == b->started_ms &&
           a->finished_ms == b->finished_ms && a->outcome == b->outcome &&
           strcmp(a->session_id ? a->session_id : "", b->session_id ? b->session_id : "") == 0;
}

/* The state of @name in @h and its rank (3 completed, 2 failed, 1 pending or in flight, 0 unknown). */
static const struct rs_school_state *state_in(const struct head *h, const char *name, int *rank)
{
    const size_t *v = rs_strmap_get(&h->where, name);
    *rank = 0;
    if (!v)
        return NULL;
    size_t i = *v >> 2;
    switch (*v & 3) {
    case K_COMPLETED:
        *rank = 3;
        return &h->prog->completed[i];
    case K_FAILED:
        *rank = 2;
        return &h->prog->failed[i];
    case K_HISTORY:
        *rank = 1;
        return &h->prog->history[i];
    default:
        *rank = 1;
        return NULL;
    }
}

/* Append to @d every attempt of @s that @d does not hold yet; return how many. */
static size_t union_attempts(struct rs_school_state *d, const struct rs_school_state *s)
{
    size_t added = 0;
    for (size_t i = 0; s && i < s->nattempts; i++) {
        bool dup = false;
        for (size_t j = 0; j < d->nattempts && !dup; j++)
            dup = same_attempt(&d->attempts[j], &s->attempts[i]);
        if (!dup) {
            copy_attempt(rs_school_state_add_attempt(d), &s->attempts[i]);
            added++;
        }
    }
    return added;
}

static double attempts_cost(const struct rs_school_state *s, bool *estimated)
{
    double c = 0;
    for (size_t i = 0; i < s->nattempts; i++) {
        c += s->attempts[i].cost_usd;
        if (s->attempts[i].cost_estimated)
            *estimated = true;
    }
    return c;
}

/* Merge one school of the list into @p; its rank in *@rank. The head whose state won in *@from. */
static void merge_school(struct merge *m, struct rs_progress *p, const struct rs_school *sc, int *rank_out,
                         const struct head **from)
{
    int idx = rs_shard_of(sc->name, m->count), best = 0;
    const struct rs_school_state *win = NULL;
    *from = NULL;
    for (size_t i = 0; i < m->nh; i++) {
        if (m->h[i].sh.index != idx)
            continue;
        int r;
        const struct rs_school_state *s = state_in(&m->h[i], sc->name, &r);
        if (r > best || (r == best && r >= 2 && s && win && s->finished_ms > win->finished_ms)) {
            best = r;
            win = s;
            *from = &m->h[i];
        }
    }
    *rank_out = best;
    struct rs_school_state *d;
    if (best == 3) {
        d = rs_progress_complete(p, sc->name, sc->slug);
        d->coaches = win->coaches;
        d->overlaps = win->overlaps;
        free(d->csv);
        d->csv = dup0(win->csv);
        free(d->review);
        d->review = dup0(win->review);
    } else if (best == 2) {
        d = rs_progress_fail(p, sc->name, sc->slug, win->reason);
    } else {
        rs_progress_push_pending(p, sc->name, false);
        d = NULL;
        for (size_t i = 0; i < m->nh; i++) {
            int r;
            const struct rs_school_state *s = m->h[i].sh.index == idx ? state_in(&m->h[i], sc->name, &r) : NULL;
            if (s && s->nattempts) {
                d = rs_progress_history(p, sc->name, sc->slug, true);
                break;
            }
        }
        if (!d)
            return;
    }
    if (win) {
        d->started_ms = win->started_ms;
        d->finished_ms = win->finished_ms;
        free(d->extra);
        d->extra = dup0(win->extra);
        free(d->slug);
        d->slug = dup0(win->slug ? win->slug : sc->slug);
    }
    /* The winner's attempts first, in its order, then those only other heads recorded. */
    size_t extra = 0;
    union_attempts(d, win);
    for (size_t i = 0; i < m->nh; i++) {
        int r;
        const struct rs_school_state *s = m->h[i].sh.index == idx ? state_in(&m->h[i], sc->name, &r) : NULL;
        if (s && s != win)
            extra += union_attempts(d, s);
    }
    bool est = false;
    double c = attempts_cost(d, &est);
    d->cost_usd = (win && !extra) ? win->cost_usd : c;
    if (d->started_ms == 0 && d->nattempts)
        d->started_ms = d->attempts[0].started_ms;
}

/* ---- writing ----------------------------------------------------------------------- */

struct out_file {
    char *abs;   /* where in the work tree */
    char *data;
    size_t len;
};

struct upd {
    git_tree_update *v;
    size_t n, cap;
    char **paths;
};

static int add_update(struct merge *m, struct upd *u, const char *path, const char *data, size_t len)
{
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 16;
        u->v = rs_xrealloc(u->v, u->cap * sizeof(*u->v));
        u->paths = rs_xrealloc(u->paths, u->cap * sizeof(*u->paths));
    }
    git_tree_update *t = &u->v[u->n];
    memset(t, 0, sizeof(*t));
    u->paths[u->n] = rs_xstrdup(path);
    t->action = GIT_TREE_UPDATE_UPSERT;
    t->path = u->paths[u->n];
    t->filemode = GIT_FILEMODE_BLOB;
    if (git_blob_create_from_buffer(&t->id, m->repo, data, len) < 0) {
        free(u->paths[u->n]);
        rs_diags_add(m->diags, "merge: cannot store %s: %s", path, git_msg());
        return RS_E_IO;
    }
    u->n++;
    return 0;
}

/* Write @data to the work tree file @abs and add it to @u as @abs's repository path. */
static int write_file(struct merge *m, struct upd *u, const char *abs, const char *data, size_t len)
{
    char *dir = rs_path_dirname(abs);
    rs_mkdir_p(dir, 0755);
    free(dir);
    int r = rs_file_write_atomic(abs, data, len, 0644);
    if (r < 0) {
        rs_diags_add(m->diags, "merge: cannot write %s: %s", abs, strerror(-r));
        return RS_E_IO;
    }
    char *path = repo_path(m, abs);
    int ex = add_update(m, u, path, data, len);
    free(path);
    return ex;
}

static int cmp_head(const void *a, const void *b)
{
    const struct head *x = a, *y = b;
    if (x->sh.index != y->sh.index)
        return x->sh.index < y->sh.index ? -1 : 1;
    return strcmp(x->ref, y->ref);
}

/* The full name of the ref the merge commit goes on ("HEAD" = the checked-out branch). */
static char *target_ref(struct merge *m, bool *checked_out)
{
    git_reference *head = NULL;
    char *branch = NULL;
    if (git_reference_lookup(&head, m->repo, "HEAD") == 0 && git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
        branch = rs_xstrdup(git_reference_symbolic_target(head));
    git_reference_free(head);
    const char *want = m->b->cfg->git_ref;
    if (strcmp(want, "HEAD") == 0) {
        *checked_out = branch != NULL;
        return branch;
    }
    *checked_out = branch && strcmp(branch, want) == 0;
    free(branch);
    return rs_xstrdup(want);
}

static int commit_merge(struct merge *m, struct upd *u, const char *msg, char *hex)
{
    bool checked_out = false;
    char *refname = target_ref(m, &checked_out);
    if (!refname) {
        rs_diags_add(m->diags, "merge: HEAD is detached; check out the batch's branch or set [git] ref");
        return RS_E_CONFIG;
    }
    int ex = 0;
    git_oid tip, tree_id, out;
    bool born = git_reference_name_to_id(&tip, m->repo, refname) == 0;
    git_commit *tipc = NULL;
    git_tree *base = NULL, *tree = NULL;
    git_signature *sig = NULL;
    git_reference *ref = NULL;
    const git_commit **parents = rs_xcalloc(m->nh + 1, sizeof(*parents));
    git_commit **owned = rs_xcalloc(m->nh + 1, sizeof(*owned));
    size_t np = 0;
    if (born && (git_commit_lookup(&tipc, m->repo, &tip) < 0 || git_commit_tree(&base, tipc) < 0)) {
        rs_diags_add(m->diags, "merge: cannot read the tip of %s: %s", refname, git_msg());
        ex = RS_E_IO;
        goto out;
    }
    if (born) {
        bool below = false; /* the tip is in a shard's history: the merge commit descends from it anyway */
        for (size_t i = 0; i < m->nh && !below; i++)
            below = git_oid_equal(&tip, &m->h[i].oid) || git_graph_descendant_of(m->repo, &m->h[i].oid, &tip) == 1;
        if (!below)
            parents[np++] = tipc;
    }
    for (size_t i = 0; i < m->nh; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = git_oid_equal(&m->h[i].oid, &m->h[j].oid);
        if (dup)
            continue;
        if (git_commit_lookup(&owned[np], m->repo, &m->h[i].oid) < 0) {
            rs_diags_add(m->diags, "merge: cannot read %s: %s", m->h[i].ref, git_msg());
            ex = RS_E_IO;
            goto out;
        }
        parents[np] = owned[np];
        np++;
    }
    if (git_tree_create_updated(&tree_id, m->repo, base, u->n, u->v) < 0 ||
        git_tree_lookup(&tree, m->repo, &tree_id) < 0) {
        rs_diags_add(m->diags, "merge: cannot build the merge tree: %s", git_msg());
        ex = RS_E_IO;
        goto out;
    }
    if (git_signature_default(&sig, m->repo) < 0 &&
        git_signature_now(&sig, m->b->cfg->git_author_name, m->b->cfg->git_author_email) < 0) {
        rs_diags_add(m->diags, "merge: no git identity: %s", git_msg());
        ex = RS_E_IO;
        goto out;
    }
    if (git_commit_create(&out, m->repo, NULL, sig, sig, NULL, msg, tree, np, parents) < 0) {
        rs_diags_add(m->diags, "merge: cannot create the merge commit: %s", git_msg());
        ex = RS_E_IO;
        goto out;
    }
    int r = born ? git_reference_create_matching(&ref, m->repo, refname, &out, 1, &tip, "ralphsup merge")
                 : git_reference_create(&ref, m->repo, refname, &out, 0, "ralphsup merge");
    if (r < 0) {
        rs_diags_add(m->diags, "merge: cannot move %s (did it move meanwhile? run merge again): %s", refname,
                     git_msg());
        ex = RS_E_IO;
        goto out;
    }
    git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &out);
    if (checked_out) {
        /* Best effort, as for every audit commit: the written paths' index entries follow. */
        git_index *idx = NULL;
        if (git_repository_index(&idx, m->repo) == 0 && git_index_read(idx, 0) == 0) {
            bool okk = true;
            for (size_t i = 0; i < u->n && okk; i++)
                okk = git_index_add_bypath(idx, u->paths[i]) == 0;
            if (okk)
                git_index_write(idx);
        }
        git_index_free(idx);
    }
out:
    for (size_t i = 0; i < np; i++)
        git_commit_free(owned[i]);
    free(owned);
    free(parents);
    git_reference_free(ref);
    git_signature_free(sig);
    git_tree_free(tree);
    git_tree_free(base);
    git_commit_free(tipc);
    free(refname);
    return ex;
}

/* ---- the whole merge ------------------------------------------------------------------ */

static void set_merged_member(struct rs_progress *p, const struct merge *m)
{
    json_t *o = json_object(), *hs = json_array();
    json_object_set_new(o, "count", json_integer(m->count));
    json_object_set_new(o, "schools_hash", json_string(m->list_hash));
    for (size_t i = 0; i < m->nh; i++) {
        json_t *h = json_object();
        json_object_set_new(h, "index", json_integer(m->h[i].sh.index));
        json_object_set_new(h, "ref", json_string(m->h[i].ref));
        json_object_set_new(h, "commit", json_string(m->h[i].hex));
        json_object_set_new(h, "status", json_string(rs_progress_status_name(m->h[i].prog->status)));
        json_array_append_new(hs, h);
    }
    json_object_set_new(o, "heads", hs);
    json_t *top = json_object();
    json_object_set_new(top, "merged_shards", o);
    char *t = json_dumps(top, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(top);
    free(p->extra);
    p->extra = rs_xstrdup(t);
    free(t);
}

static int set_root_rel(struct merge *m)
{
    const char *wd = git_repository_workdir(m->repo);
    if (!wd) {
        rs_diags_add(m->diags, "merge: the repository at %s is bare: run merge in a clone", m->b->cfg->root);
        return RS_E_CONFIG;
    }
    char rw[PATH_MAX], rr[PATH_MAX];
    if (!realpath(wd, rw) || !realpath(m->b->cfg->root, rr)) {
        rs_diags_add(m->diags, "merge: cannot resolve %s: %s", m->b->cfg->root, strerror(errno));
        return RS_E_IO;
    }
    size_t n = strlen(rw);
    if (strcmp(rw, rr) == 0)
        m->root_rel = rs_xstrdup("");
    else if (strncmp(rr, rw, n) == 0 && rr[n] == '/')
        m->root_rel = rs_xasprintf("%s/", rr + n + 1);
    else
        m->root_rel = rs_xstrdup("");
    return 0;
}

static int gather(struct merge *m, const struct rs_merge_opts *o)
{
    int ex = 0;
    if (o->from) {
        ex = fetch(m, o->from, "refs/ralphsup-merge");
        if (!ex)
            ex = list_heads(m, "refs/ralphsup-merge");
    } else if (o->ndirs) {
        delete_refs(m->repo, "refs/ralphsup-merge/*");
        for (size_t i = 0; !ex && i < o->ndirs; i++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "refs/ralphsup-merge/dir-%zu", i);
            char *abs = rs_path_absolute(o->dirs[i]);
            ex = fetch(m, abs, prefix);
            free(abs);
            if (!ex)
                ex = list_heads(m, prefix);
        }
    } else {
        ex = list_heads(m, "refs/heads/ralphsup");
    }
    if (ex)
        return ex;
    if (m->nh == 0) {
        rs_diags_add(m->diags, "merge: no shard refs (refs/heads/ralphsup/shard-I-of-N) found in %s",
                     o->from ? o->from : o->ndirs ? "the directories given" : "the batch's repository");
        return RS_E_NOINPUT;
    }
    qsort(m->h, m->nh, sizeof(*m->h), cmp_head);
    m->count = m->h[0].sh.count;
    for (size_t i = 1; i < m->nh; i++)
        if (m->h[i].sh.count != m->count) {
            rs_diags_add(m->diags, "merge: the shard refs disagree on N: %s and %s (delete the stale refs)",
                         m->h[0].ref, m->h[i].ref);
            return RS_E_DATA;
        }
    if (m->b->cfg->shard) {
        struct rs_shard want;
        char err[256];
        if (rs_shard_parse(m->b->cfg->shard, "0", NULL, &want, err, sizeof err) == 0 && want.count != m->count) {
            rs_diags_add(m->diags, "merge: [batch] shard says N = %d, the shard refs are of N = %d", want.count,
                         m->count);
            return RS_E_DATA;
        }
    }
    for (size_t i = 0; !ex && i < m->nh; i++)
        ex = read_head(m, &m->h[i]);
    return ex;
}

int rs_merge_run(struct rs_batch *b, const struct rs_merge_opts *o, struct rs_merge_result *res,
                 struct rs_diags *diags)
{
    struct merge m = {.b = b, .diags = diags};
    int ex = 0;
    struct out_file *files = NULL;
    size_t nfiles = 0, capfiles = 0;
    struct rs_buf msg;
    rs_buf_init(&msg);
    git_libgit2_init();
    m.h = rs_xcalloc(MERGE_MAX_HEADS, sizeof(*m.h));
    {
        const char **names = rs_xcalloc(b->schools->n ? b->schools->n : 1, sizeof(*names));
        for (size_t i = 0; i < b->schools->n; i++)
            names[i] = b->schools->v[i].name;
        rs_shard_list_hash(names, b->schools->n, m.list_hash, sizeof m.list_hash);
        free(names);
    }
    if (git_repository_open_ext(&m.repo, b->cfg->root, 0, NULL) < 0) {
        rs_diags_add(diags, "merge: %s is not in a git repository: %s", b->cfg->root, git_msg());
        ex = RS_E_CONFIG;
        goto out;
    }
    ex = set_root_rel(&m);
    if (!ex)
        ex = gather(&m, o);
    if (ex)
        goto out;
    res->count = m.count;
    res->heads = m.nh;

    /* Which shards are missing or unfinished. */
    for (int i = 0; i < m.count; i++) {
        size_t n = 0;
        for (size_t j = 0; j < m.nh; j++)
            n += m.h[j].sh.index == i;
        if (n == 0)
            rs_diags_add(&res->missing, "shard %d/%d: no ref refs/heads/ralphsup/shard-%d-of-%d", i, m.count, i,
                         m.count);
    }

    int64_t now = rs_now_ms();
    struct rs_progress *p = rs_progress_new(b->cfg->name, now);
    res->prog = p;
    p->started_ms = 0;
    size_t *unfinished = rs_xcalloc((size_t)m.count, sizeof(*unfinished));
    for (size_t i = 0; i < b->schools->n; i++) {
        const struct rs_school *sc = &b->schools->v[i];
        int rank;
        const struct head *from;
        merge_school(&m, p, sc, &rank, &from);
        if (rank <= 1)
            unfinished[rs_shard_of(sc->name, m.count)]++;
        if (rank == 3) {
            const struct rs_school_state *st = &p->completed[p->ncompleted - 1];
            if (!st->csv) {
                rs_diags_add(diags, "merge: %s: completed without a CSV path in %s", sc->name, from->ref);
                ex = RS_E_DATA;
                continue;
            }
            char *abs = rs_path_join(b->cfg->root, st->csv);
            char *path = repo_path(&m, abs);
            char *data = NULL;
            size_t len = 0;
            int r = read_blob(m.repo, from->tree, path, &data, &len);
            if (r == 1) {
                rs_diags_add(diags,
                             "merge: %s: %s is not in %s (%s); run the shards with [git] include_outputs = true",
                             sc->name, path, from->ref, from->hex);
                ex = RS_E_DATA;
            } else if (r) {
                rs_diags_add(diags, "merge: %s: cannot read %s from %s", sc->name, path, from->ref);
                ex = RS_E_IO;
            } else {
                /* Kept until every check passed: nothing is written before. */
                if (nfiles == capfiles) {
                    capfiles = capfiles ? capfiles * 2 : 16;
                    files = rs_xrealloc(files, capfiles * sizeof(*files));
                }
                files[nfiles++] = (struct out_file){.abs = abs, .data = data, .len = len};
                abs = NULL;
                data = NULL;
            }
            free(data);
            free(path);
            free(abs);
        }
    }
    for (int i = 0; i < m.count; i++)
        if (unfinished[i]) {
            bool present = false;
            for (size_t j = 0; j < m.nh; j++)
                present |= m.h[j].sh.index == i;
            if (present)
                rs_diags_add(&res->missing, "shard %d/%d: %zu %s not finished", i, m.count, unfinished[i],
                             unfinished[i] == 1 ? "school" : "schools");
        }
    free(unfinished);
    if (ex)
        goto out;

    /* Batch totals: each index's iterations (its most advanced head), every school's cost. */
    for (int i = 0; i < m.count; i++) {
        int64_t it = 0;
        for (size_t j = 0; j < m.nh; j++)
            if (m.h[j].sh.index == i && m.h[j].prog->iterations > it)
                it = m.h[j].prog->iterations;
        p->iterations += it;
    }
    for (size_t j = 0; j < m.nh; j++)
        if (m.h[j].prog->started_ms && (!p->started_ms || m.h[j].prog->started_ms < p->started_ms))
            p->started_ms = m.h[j].prog->started_ms;
    if (!p->started_ms)
        p->started_ms = now;
    bool est = false;
    double cost = 0;
    for (size_t i = 0; i < p->ncompleted; i++) {
        cost += p->completed[i].cost_usd;
        attempts_cost(&p->completed[i], &est);
    }
    for (size_t i = 0; i < p->nfailed; i++) {
        cost += p->failed[i].cost_usd;
        attempts_cost(&p->failed[i], &est);
    }
    for (size_t i = 0; i < p->nhistory; i++) {
        cost += p->history[i].cost_usd;
        attempts_cost(&p->history[i], &est);
    }
    p->cost_usd = cost;
    p->cost_estimated = est;
    res->partial = res->missing.n > 0;
    res->completed = p->ncompleted;
    res->failed = p->nfailed;
    res->pending = p->npending;
    res->cost_usd = cost;
    if (res->partial) {
        p->status = RS_STATUS_STOPPED;
        rs_progress_set_stopped(p, res->missing.msgs[0], NULL, now);
    } else {
        p->status = RS_STATUS_FINISHED;
    }
    set_merged_member(p, &m);
    if (res->partial && !o->allow_partial) {
        ex = RS_MERGE_PARTIAL;
        goto out;
    }

    /* Write: the CSVs, the shards' progress files, the merged progress file; then one commit. */
    {
        struct upd w = {0};
        for (size_t i = 0; !ex && i < nfiles; i++)
            ex = write_file(&m, &w, files[i].abs, files[i].data, files[i].len);
        for (size_t i = 0; !ex && i < m.nh; i++) {
            if (i > 0 && m.h[i - 1].sh.index == m.h[i].sh.index)
                continue; /* one file per index: its first head (refs sorted: the shard's own ref first) */
            char *abs = rs_shard_progress_path(b->cfg->progress, &m.h[i].sh);
            rs_progress_unseal(m.h[i].prog); /* the copy next to the merged file stands alone: no segment files */
            char *s = rs_progress_format(m.h[i].prog);
            ex = write_file(&m, &w, abs, s, strlen(s));
            free(s);
            free(abs);
        }
        if (!ex) {
            int r = rs_progress_save(p, b->cfg->progress, now);
            if (r < 0) {
                rs_diags_add(diags, "merge: cannot write %s: %s", b->cfg->progress, strerror(-r));
                ex = RS_E_IO;
            } else {
                char *data = NULL;
                size_t len = 0;
                if (rs_file_read(b->cfg->progress, MERGE_BLOB_MAX, &data, &len) == 0) {
                    char *path = repo_path(&m, b->cfg->progress);
                    ex = add_update(&m, &w, path, data, len);
                    free(path);
                }
                free(data);
            }
        }
        if (!ex) {
            rs_buf_printf(&msg, "ralphsup: merged %d shards of batch %s (%zu completed, %zu failed, %zu pending)\n\n",
                          m.count, b->cfg->name, p->ncompleted, p->nfailed, p->npending);
            for (size_t i = 0; i < m.nh; i++)
                rs_buf_printf(&msg, "%s %s (%s)\n", m.h[i].ref, m.h[i].hex,
                              rs_progress_status_name(m.h[i].prog->status));
            for (size_t i = 0; i < res->missing.n; i++)
                rs_buf_printf(&msg, "partial: %s\n", res->missing.msgs[i]);
            rs_buf_printf(&msg, "\nRalphsup-Event: merged\nRalphsup-Batch: %s\nRalphsup-Shards: %d\n"
                                "Ralphsup-Cost-USD: %.4f\n",
                          b->cfg->name, m.count, p->cost_usd);
            ex = commit_merge(&m, &w, msg.data, res->commit);
        }
        for (size_t i = 0; i < w.n; i++)
            free(w.paths[i]);
        free(w.paths);
        free(w.v);
    }

out:
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i].abs);
        free(files[i].data);
    }
    free(files);
    for (size_t i = 0; i < m.nh; i++) {
        free(m.h[i].ref);
        git_tree_free(m.h[i].tree);
        rs_progress_free(m.h[i].prog);
        rs_strmap_deinit(&m.h[i].where);
    }
    free(m.h);
    free(m.root_rel);
    rs_buf_deinit(&msg);
    git_repository_free(m.repo);
    git_libgit2_shutdown();
    return ex;
}
