/* SPDX-License-Identifier: MIT */
/*
 * The git audit trail on libgit2 1.5.1. One rs_git_commit() is one commit
 * that contains exactly the named paths: the tree is the target ref's tree
 * (none when the ref is unborn) with the paths' new blobs upserted, so
 * whatever a user has staged in the index is never swept in. The ref is
 * moved with a compare-and-swap (git_reference_create_matching against the
 * tip the tree was built from), so a concurrent commit is detected and the
 * commit is rebuilt on the new tip. Lock contention (index.lock, a ref's
 * .lock) is waited out with a bounded backoff and then reported as
 * RS_GIT_E_DEFERRED. Lock files are never removed, except a ref lock older
 * than STALE_REF_LOCK_S: git holds those for milliseconds, so such a lock
 * was left by a process that died mid-update (see rs_git_notice()).
 *
 * When the commit lands on the checked-out branch, the index entries of the
 * committed paths (and only those) are refreshed so `git status` stays
 * clean; that step is best effort (see rs_git_index_skipped()).
 *
 * libgit2 writes every object loose (one zlib file per blob, tree and
 * commit: a 10,000-school batch would leave gigabytes of them), so the
 * objects this handle wrote are remembered by id and packed every
 * pack_every commits (rs_git_pack(), also called when a run ends): one
 * pack of just those objects, delta-compressed against each other (each
 * version of the progress file differs from the one before by a school),
 * written, fsynced, and only then their loose copies removed. Objects
 * written by anyone else are never packed or removed. Every tenth pack, the
 * ten are merged into one (merge_packs()). Deliberately not
 * here: `git gc` of the user's objects, logging (errors are copied into the
 * caller's buffer), libuv and policy. One struct rs_git must only
 * be used by one thread at a time (libgit2 errors are thread-local).
 */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <malloc.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/repository.h>

#include "ralphsup/store/gitaudit.h"
#include "ralphsup/base/strmap.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

/* Default lock backoff: 5 retries after the first try, 50 ms doubling to 800 ms. */
#define DEFAULT_LOCK_RETRIES 5
#define DEFAULT_LOCK_FIRST_MS 50
/*
 * The index refresh is best effort and blocks the caller's event loop: it
 * waits for a held index.lock at most this long in all, and once it gave up
 * on one, later commits try once without waiting until a refresh succeeds.
 * A stale index.lock (a git or ralphsup killed while writing the index) is
 * never removed (a user's `git commit` holds it while the editor is open),
 * and with the full ref backoff it cost every later commit 1.55 s.
 */
#define INDEX_WAIT_MAX_MS 150
/* A ref that keeps moving under us this often is a runaway writer, not a race. */
#define MAX_MOVED_RETRIES 64

struct rs_git {
    git_repository *repo;
    char *workdir;      /* libgit2's workdir, with a trailing '/' */
    char *workdir_real; /* realpath() of it, with a trailing '/' */
    char *ref;          /* "HEAD" or a full ref name */
    char *fb_name;      /* fallback identity */
    char *fb_email;
    unsigned lock_retries;
    unsigned lock_first_ms;
    bool index_skipped;
    bool index_gave_up; /* the last refresh gave up on a held index.lock */
    char index_why[256];
    char notice[512];   /* what the last commit did besides committing, or "" */
    unsigned pack_every;/* rs_git_pack() after this many commits, 0: never */
    unsigned unpacked;  /* commits since the last pack */
    git_oid *mine;      /* loose objects this handle wrote since the last pack */
    size_t nmine, capmine;
    git_oid *packed;    /* the objects of the packs below, for the merge of them (rs_git_pack()) */
    size_t npacked, cappacked;
    char **packs;       /* the packs this handle wrote since their last merge: "pack-<name>" */
    size_t npacks;
};

/*
 * Every pack holds one full copy of the progress file (the base of its
 * deltas): at 10,000 schools, 200 packs of 100 commits would hold 200 full
 * copies, several times what `git gc` makes of the history. So every
 * MERGE_PACKS packs this handle wrote are merged into one (one full copy per
 * MERGE_PACKS * pack_every commits); the merged pack is not merged again.
 */
#define MERGE_PACKS 10
/* What libgit2 may keep of pack files mapped, and of parsed objects cached (see rs_git_open()). */
#define MWINDOW_MAPPED_MAX (32u << 20)
#define OBJECT_CACHE_MAX (4 << 20)

/*
 * git holds a ref's .lock only for the milliseconds of an update, so one
 * older than this was left by a process that died mid-update (a kill -9 of
 * a supervisor, say) and would block every later commit forever.
 */
#define STALE_REF_LOCK_S 30

/* ---- small helpers ------------------------------------------------------ */

RS_PRINTF(3, 4)
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *git_msg(void)
{
    const git_error *e = git_error_last();
    return e && e->message ? e->message : "unknown libgit2 error";
}

/* Translate a libgit2 failure at the boundary: message out, -EIO back. */
static int git_fail(char *err, size_t errlen, const char *what)
{
    set_err(err, errlen, "%s: %s", what, git_msg());
    return -EIO;
}

static char *with_slash(const char *p)
{
    size_t n = strlen(p);
    if (n > 0 && p[n - 1] == '/')
        return rs_xstrdup(p);
    return rs_xasprintf("%s/", p);
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- open / free ---------------------------------------------------------- */

static int validate_ref(const char *ref, char *err, size_t errlen)
{
    if (strcmp(ref, "HEAD") == 0)
        return 0;
    int valid = 0;
    if (!has_prefix(ref, "refs/") || git_reference_name_is_valid(&valid, ref) < 0 || !valid) {
        set_err(err, errlen, "invalid git ref '%s': use \"HEAD\" or a full name like \"refs/heads/ralphsup/audit\"",
                ref);
        return -EINVAL;
    }
    return 0;
}

static int open_repo(const struct rs_git_opts *opts, git_repository **repo, char *err, size_t errlen)
{
    int r = git_repository_open_ext(repo, opts->workdir, 0, NULL);
    if (r == 0)
        return 0;
    /*
     * libgit2 1.5.1 reports a foreign-owned repository either as GIT_EOWNER
     * or, when no safe.directory is configured at all, as GIT_ENOTFOUND
     * "config value 'safe.directory' was not found". Both mean the same.
     */
    if (r == GIT_EOWNER || (r == GIT_ENOTFOUND && strstr(git_msg(), "safe.directory"))) {
        set_err(err, errlen,
                "the repository containing %s is owned by another user; add its exact path to git's "
                "safe.directory (libgit2 1.5.1 ignores '*'): %s",
                opts->workdir, git_msg());
        return -EACCES;
    }
    if (r != GIT_ENOTFOUND)
        return git_fail(err, errlen, "cannot open git repository");
    if (!opts->create) {
        set_err(err, errlen, "no git repository at or above %s", opts->workdir);
        return RS_GIT_E_NOREPO;
    }
    if (git_repository_init(repo, opts->workdir, 0) < 0)
        return git_fail(err, errlen, "cannot create git repository");
    return RS_GIT_E_CREATED;
}

int rs_git_open(const struct rs_git_opts *opts, struct rs_git **out, char *err, size_t errlen)
{
    if (!opts || !opts->workdir || !*opts->workdir || !out) {
        set_err(err, errlen, "rs_git_open: workdir missing");
        return -EINVAL;
    }
    const char *ref = opts->ref && *opts->ref ? opts->ref : "HEAD";
    if (git_libgit2_init() < 0)
        return git_fail(err, errlen, "cannot initialise libgit2");
    /*
     * libgit2 keeps pack windows mapped up to 8 GiB by default (64-bit), and
     * a long batch reads many packs (each merge reads ten): cap what it
     * keeps mapped, so the resident set stays bounded over the batch.
     */
    git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)MWINDOW_MAPPED_MAX);
    /*
     * libgit2 caches every commit and tree it parses up to 256 MiB by
     * default: each commit looks up its parent, so a 10,000-school batch
     * (20,000 commits) kept ~1.6 KiB per commit alive, about 32 MiB, and the
     * heap grew with the batch. Only the last commit is ever read again.
     */
    git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)OBJECT_CACHE_MAX);

    git_repository *repo = NULL;
    int r = validate_ref(ref, err, errlen);
    if (r < 0)
        goto fail;
    r = open_repo(opts, &repo, err, errlen);
    if (r != 0 && r != RS_GIT_E_CREATED)
        goto fail;
    int outcome = r;

    const char *wd = git_repository_workdir(repo);
    if (!wd) {
        set_err(err, errlen, "the repository at %s is bare; ralphsup needs a working tree",
                git_repository_path(repo));
        r = -EINVAL;
        goto fail;
    }
    if (strcmp(ref, "HEAD") == 0) {
        int d = git_repository_head_detached(repo);
        if (d < 0) {
            r = git_fail(err, errlen, "cannot read HEAD");
            goto fail;
        }
        if (d == 1) {
            set_err(err, errlen,
                    "HEAD is detached; set [git] ref = \"refs/heads/ralphsup/audit\" to commit to a dedicated branch");
            r = RS_GIT_E_DETACHED;
            goto fail;
        }
    }

    struct rs_git *g = rs_xcalloc(1, sizeof(*g));
    g->repo = repo;
    g->workdir = with_slash(wd);
    char *real = realpath(wd, NULL);
    g->workdir_real = with_slash(real ? real : wd);
    free(real);
    g->ref = rs_xstrdup(ref);
    g->fb_name = rs_xstrdup(opts->author_name && *opts->author_name ? opts->author_name : "ralphsup");
    g->fb_email = rs_xstrdup(opts->author_email && *opts->author_email ? opts->author_email : "ralphsup@localhost");
    g->lock_retries = DEFAULT_LOCK_RETRIES;
    g->lock_first_ms = DEFAULT_LOCK_FIRST_MS;
    g->pack_every = opts->pack_every;
    *out = g;
    return outcome;

fail:
    git_repository_free(repo);
    git_libgit2_shutdown();
    return r;
}

struct rs_git *rs_git_free(struct rs_git *g)
{
    if (!g)
        return NULL;
    if (g->pack_every) {
        char err[256];
        rs_git_pack(g, NULL, err, sizeof err); /* best effort: what stays loose is still there */
    }
    git_repository_free(g->repo);
    free(g->workdir);
    free(g->workdir_real);
    free(g->ref);
    free(g->fb_name);
    free(g->fb_email);
    free(g->mine);
    free(g->packed);
    for (size_t i = 0; i < g->npacks; i++)
        free(g->packs[i]);
    free(g->packs);
    free(g);
    git_libgit2_shutdown();
    return NULL;
}

const char *rs_git_workdir(const struct rs_git *g)
{
    return g->workdir;
}

void rs_git_set_backoff(struct rs_git *g, unsigned retries, unsigned first_ms)
{
    g->lock_retries = retries;
    g->lock_first_ms = first_ms;
}

bool rs_git_index_skipped(const struct rs_git *g, const char **why)
{
    if (why)
        *why = g->index_skipped ? g->index_why : NULL;
    return g->index_skipped;
}

/* ---- paths ------------------------------------------------------------------ */

/*
 * Turn @path (absolute, or relative to the workdir) into a repository path
 * ("output/x.csv"). Absolute paths must lie inside the workdir: checked
 * lexically against libgit2's workdir and its realpath, then once more with
 * the parent directory resolved (for callers that reach the workdir through
 * a symlink).
 */
static int repo_path(const struct rs_git *g, const char *path, char **out, char *err, size_t errlen)
{
    if (!path || !*path) {
        set_err(err, errlen, "empty path");
        return -EINVAL;
    }
    char *n = rs_path_normalize(path);
    const char *rel = NULL;
    char *resolved = NULL;
    if (n[0] != '/') {
        rel = n;
        if (has_prefix(n, "../") || strcmp(n, "..") == 0)
            rel = NULL;
    } else if (has_prefix(n, g->workdir)) {
        rel = n + strlen(g->workdir);
    } else if (has_prefix(n, g->workdir_real)) {
        rel = n + strlen(g->workdir_real);
    } else {
        char *dir = rs_path_dirname(n);
        char *rdir = realpath(dir, NULL);
        if (rdir) {
            resolved = rs_xasprintf("%s/%s", rdir, strrchr(n, '/') + 1);
            if (has_prefix(resolved, g->workdir_real))
                rel = resolved + strlen(g->workdir_real);
        }
        free(rdir);
        free(dir);
    }
    if (!rel || !*rel || strcmp(rel, ".") == 0) {
        set_err(err, errlen, "path %s is not a file inside the repository workdir %s", path, g->workdir);
        free(resolved);
        free(n);
        return -EINVAL;
    }
    *out = rs_xstrdup(rel);
    free(resolved);
    free(n);
    return 0;
}

/* ---- target ref --------------------------------------------------------------- */

/*
 * Name of the branch HEAD points to (caller frees), NULL when detached.
 * Return: 0 or negative errno.
 */
static int head_branch(const struct rs_git *g, char **branch, char *err, size_t errlen)
{
    git_reference *head = NULL;
    *branch = NULL;
    if (git_reference_lookup(&head, g->repo, "HEAD") < 0)
        return git_fail(err, errlen, "cannot read HEAD");
    if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
        *branch = rs_xstrdup(git_reference_symbolic_target(head));
    git_reference_free(head);
    return 0;
}

/*
 * Resolve the configured ref to the full name to update, and whether that
 * is the checked-out branch (then the index must follow).
 * Return: 0, RS_GIT_E_DETACHED, or negative errno.
 */
static int target_ref(const struct rs_git *g, char **name, bool *checked_out, char *err, size_t errlen)
{
    char *branch = NULL;
    int r = head_branch(g, &branch, err, errlen);
    if (r < 0)
        return r;
    if (strcmp(g->ref, "HEAD") == 0) {
        if (!branch) {
            set_err(err, errlen,
                    "HEAD is detached; set [git] ref = \"refs/heads/ralphsup/audit\" to commit to a dedicated branch");
            return RS_GIT_E_DETACHED;
        }
        *name = branch;
        *checked_out = true;
        return 0;
    }
    *checked_out = branch && strcmp(branch, g->ref) == 0;
    free(branch);
    *name = rs_xstrdup(g->ref);
    return 0;
}

int rs_git_committed(struct rs_git *g, const char *path, bool *same, char *err, size_t errlen)
{
    char *rel = NULL, *refname = NULL, *full = NULL;
    bool checked_out = false;
    git_commit *tip = NULL;
    git_tree *tree = NULL;
    git_tree_entry *ent = NULL;
    *same = false;
    int r = repo_path(g, path, &rel, err, errlen);
    if (r < 0)
        return r;
    r = target_ref(g, &refname, &checked_out, err, errlen);
    if (r != 0)
        goto out;
    git_oid id, file_id;
    r = git_reference_name_to_id(&id, g->repo, refname);
    if (r == GIT_ENOTFOUND) {
        r = 0; /* unborn: nothing is committed */
        goto out;
    }
    if (r < 0 || git_commit_lookup(&tip, g->repo, &id) < 0 || git_commit_tree(&tree, tip) < 0) {
        r = git_fail(err, errlen, "cannot read the tip commit");
        goto out;
    }
    r = 0;
    if (git_tree_entry_bypath(&ent, tree, rel) < 0)
        goto out; /* not in the tree */
    full = rs_xasprintf("%s%s", g->workdir, rel);
    if (git_odb_hashfile(&file_id, full, GIT_OBJECT_BLOB) < 0) {
        r = git_fail(err, errlen, "cannot hash the file");
        goto out;
    }
    *same = git_oid_equal(&file_id, git_tree_entry_id(ent));
out:
    git_tree_entry_free(ent);
    git_tree_free(tree);
    git_commit_free(tip);
    free(full);
    free(refname);
    free(rel);
    return r;
}

/* ---- message ---------------------------------------------------------------- */

/* Append @s with CR/LF folded to spaces (one-line fields). */
static void put_line(struct rs_buf *b, const char *s)
{
    for (; *s; s++)
        rs_buf_putc(b, (*s == '\n' || *s == '\r') ? ' ' : *s);
}

static bool trailer_key_ok(const char *k)
{
    if (!k || !*k)
        return false;
    for (; *k; k++)
        if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '-'))
            return false;
    return true;
}

static int build_message(struct rs_buf *b, const char *subject, const char *body, const struct rs_git_trailer *tr,
                         size_t ntr, char *err, size_t errlen)
{
    for (size_t i = 0; i < ntr; i++) {
        if (!trailer_key_ok(tr[i].key) || !tr[i].value) {
            set_err(err, errlen, "invalid trailer key '%s' (letters, digits and '-' only)",
                    tr[i].key ? tr[i].key : "(null)");
            return -EINVAL;
        }
    }
    put_line(b, subject);
    rs_buf_putc(b, '\n');
    if (body) {
        size_t n = strlen(body);
        while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' ' || body[n - 1] == '\t'))
            n--;
        size_t s = 0;
        while (s < n && body[s] == '\n')
            s++;
        if (s < n) {
            rs_buf_putc(b, '\n');
            rs_buf_append(b, body + s, n - s);
            rs_buf_putc(b, '\n');
        }
    }
    if (ntr > 0) {
        rs_buf_putc(b, '\n');
        for (size_t i = 0; i < ntr; i++) {
            rs_buf_printf(b, "%s: ", tr[i].key);
            put_line(b, tr[i].value);
            rs_buf_putc(b, '\n');
        }
    }
    if (b->len && !rs_utf8_valid(b->data, b->len)) {
        /* Subjects, bodies and trailers may quote outside text: git log shows UTF-8. */
        size_t n = 0;
        char *c = rs_utf8_clean(b->data, b->len, 0, NULL, &n);
        rs_buf_reset(b);
        rs_buf_append(b, c, n);
        free(c);
    }
    return 0;
}

/* ---- commit ---------------------------------------------------------------------- */

static int signature(const struct rs_git *g, git_signature **sig, char *err, size_t errlen)
{
    int r = git_signature_default(sig, g->repo);
    if (r == 0)
        return 0;
    if (r != GIT_ENOTFOUND)
        return git_fail(err, errlen, "cannot read the git identity");
    if (git_signature_now(sig, g->fb_name, g->fb_email) < 0)
        return git_fail(err, errlen, "invalid fallback identity");
    return 0;
}

int rs_git_identity(const struct rs_git *g, char *name, size_t nlen, char *email, size_t elen, bool *fallback)
{
    git_signature *sig = NULL;
    int r = git_signature_default(&sig, g->repo);
    *fallback = r != 0;
    if (r == 0) {
        snprintf(name, nlen, "%s", sig->name);
        snprintf(email, elen, "%s", sig->email);
        git_signature_free(sig);
    } else {
        snprintf(name, nlen, "%s", g->fb_name);
        snprintf(email, elen, "%s", g->fb_email);
    }
    return 0;
}

/*
 * Hash the working-tree content of each path into a blob (filters applied).
 * @sts receives each file's lstat from before it was read: what its index
 * entry records (a later change shows as a stat mismatch, as in git).
 */
static int make_blobs(const struct rs_git *g, char **rels, size_t n, git_tree_update *up, struct stat *sts,
                      char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        char *full = rs_xasprintf("%s%s", g->workdir, rels[i]);
        struct stat st;
        int r = lstat(full, &st) < 0 ? -errno : 0;
        sts[i] = st;
        free(full);
        if (r < 0) {
            set_err(err, errlen, "cannot commit %s: %s", rels[i], strerror(-r));
            return r;
        }
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
            set_err(err, errlen, "cannot commit %s: not a regular file", rels[i]);
            return -EINVAL;
        }
        memset(&up[i], 0, sizeof(up[i]));
        up[i].action = GIT_TREE_UPDATE_UPSERT;
        up[i].path = rels[i];
        up[i].filemode = S_ISLNK(st.st_mode)     ? GIT_FILEMODE_LINK
                         : (st.st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE
                                                  : GIT_FILEMODE_BLOB;
        if (git_blob_create_from_workdir(&up[i].id, g->repo, rels[i]) < 0)
            return git_fail(err, errlen, "cannot hash file");
    }
    return 0;
}

/*
 * One attempt: build the tree on the ref's current tip, write the commit
 * and compare-and-swap the ref. Returns 0, or the raw libgit2 code of the
 * ref update (GIT_EMODIFIED, GIT_EEXISTS, GIT_ELOCKED) for the caller's
 * retry decision, or -EIO with @err filled.
 */
static int commit_once(const struct rs_git *g, const char *refname, const git_tree_update *up, size_t n,
                       const git_signature *sig, const char *msg, const char *subject, git_oid *out, char *err,
                       size_t errlen)
{
    git_oid tip, tree_id;
    git_commit *parent = NULL;
    git_tree *base = NULL, *tree = NULL;
    git_reference *ref = NULL;
    char *logmsg = NULL;
    int r;
    bool born = true;

    r = git_reference_name_to_id(&tip, g->repo, refname);
    if (r == GIT_ENOTFOUND) {
        born = false;
    } else if (r < 0) {
        r = git_fail(err, errlen, "cannot resolve the target ref");
        goto out;
    }
    if (born && (git_commit_lookup(&parent, g->repo, &tip) < 0 || git_commit_tree(&base, parent) < 0)) {
        r = git_fail(err, errlen, "cannot read the tip commit");
        goto out;
    }
    if (git_tree_create_updated(&tree_id, g->repo, base, n, up) < 0 || git_tree_lookup(&tree, g->repo, &tree_id) < 0) {
        r = git_fail(err, errlen, "cannot build the commit tree");
        goto out;
    }
    const git_commit *parents[1] = {parent};
    if (git_commit_create(out, g->repo, NULL, sig, sig, NULL, msg, tree, born ? 1 : 0, parents) < 0) {
        r = git_fail(err, errlen, "cannot create the commit");
        goto out;
    }
    logmsg = rs_xasprintf("commit%s: %s", born ? "" : " (initial)", subject);
    /*
     * Compare-and-swap: a born ref must still point at the tip the tree was
     * built on (else GIT_EMODIFIED); an unborn ref must still not exist
     * (force=0, else GIT_EEXISTS). The commit object written above stays
     * unreferenced when this fails, which fsck treats as harmless.
     */
    if (born)
        r = git_reference_create_matching(&ref, g->repo, refname, out, 1, &tip, logmsg);
    else
        r = git_reference_create(&ref, g->repo, refname, out, 0, logmsg);
    if (r < 0 && r != GIT_EMODIFIED && r != GIT_EEXISTS && r != GIT_ELOCKED)
        r = git_fail(err, errlen, "cannot update the ref");
    else if (r < 0)
        set_err(err, errlen, "%s", git_msg());
out:
    free(logmsg);
    git_reference_free(ref);
    git_tree_free(tree);
    git_tree_free(base);
    git_commit_free(parent);
    return r;
}

/*
 * The index entry of a committed path: its blob (already in the object
 * store) and the stat taken before it was hashed. git_index_add_bypath()
 * would hash, deflate and write the whole blob a second time.
 */
static git_index_entry index_entry(const char *rel, const git_tree_update *up, const struct stat *st)
{
    git_index_entry e;
    memset(&e, 0, sizeof e);
    e.ctime.seconds = (int32_t)st->st_ctim.tv_sec;
    e.ctime.nanoseconds = (uint32_t)st->st_ctim.tv_nsec;
    e.mtime.seconds = (int32_t)st->st_mtim.tv_sec;
    e.mtime.nanoseconds = (uint32_t)st->st_mtim.tv_nsec;
    e.dev = (uint32_t)st->st_dev;
    e.ino = (uint32_t)st->st_ino;
    e.mode = up->filemode;
    e.uid = (uint32_t)st->st_uid;
    e.gid = (uint32_t)st->st_gid;
    e.file_size = (uint32_t)st->st_size;
    e.id = up->id;
    e.path = rel;
    return e;
}

/*
 * Best effort: point the committed paths' index entries at the new content.
 * git_index_read(force=0) reloads only when the file changed on disk, so
 * other staged entries are kept; only our paths' entries are replaced.
 */
static void refresh_index(struct rs_git *g, char **rels, const git_tree_update *up, const struct stat *sts, size_t n)
{
    git_index *idx = NULL;
    if (git_repository_index(&idx, g->repo) < 0) {
        g->index_skipped = true;
        snprintf(g->index_why, sizeof(g->index_why), "cannot load the index: %s", git_msg());
        return;
    }
    unsigned wait = g->lock_first_ms, waited = 0;
    unsigned retries = g->index_gave_up ? 0 : g->lock_retries;
    for (unsigned attempt = 0;; attempt++) {
        int r = git_index_read(idx, 0);
        for (size_t i = 0; r == 0 && i < n; i++) {
            git_index_entry e = index_entry(rels[i], &up[i], &sts[i]);
            r = git_index_add(idx, &e);
        }
        if (r == 0)
            r = git_index_write(idx);
        if (r == 0) {
            g->index_gave_up = false;
            break;
        }
        if (r != GIT_ELOCKED || attempt >= retries || waited + wait > INDEX_WAIT_MAX_MS) {
            g->index_skipped = true;
            g->index_gave_up = r == GIT_ELOCKED;
            snprintf(g->index_why, sizeof(g->index_why), "index not refreshed: %s", git_msg());
            break;
        }
        rs_sleep_ms(wait);
        waited += wait;
        wait *= 2;
    }
    git_index_free(idx);
}

/*
 * Remove @refname's lock file if it is older than STALE_REF_LOCK_S, noting
 * it in g->notice. Returns true when a stale lock was removed.
 */
static bool remove_stale_ref_lock(struct rs_git *g, const char *refname)
{
    char *lock = rs_xasprintf("%s%s.lock", git_repository_path(g->repo), refname);
    struct stat st;
    bool removed = false;
    if (stat(lock, &st) == 0 && time(NULL) - st.st_mtime > STALE_REF_LOCK_S && unlink(lock) == 0) {
        snprintf(g->notice, sizeof g->notice,
                 "removed a stale lock %s (%lld s old, left by a process that died while updating the ref)", lock,
                 (long long)(time(NULL) - st.st_mtime));
        removed = true;
    }
    free(lock);
    return removed;
}

int rs_git_clear_stale_lock(struct rs_git *g, unsigned wait_ms, char *notice, size_t n)
{
    char *refname = NULL;
    bool checked_out = false;
    char err[256];
    if (notice && n)
        notice[0] = '\0';
    if (target_ref(g, &refname, &checked_out, err, sizeof err) != 0)
        return 0;
    char *lock = rs_xasprintf("%s%s.lock", git_repository_path(g->repo), refname);
    int r = 0;
    for (unsigned waited = 0; rs_file_exists(lock); waited += 50) {
        if (waited >= wait_ms) {
            if (unlink(lock) == 0) {
                if (notice)
                    snprintf(notice, n, "removed a stale lock %s (still held after %u ms; left by a process that died "
                                        "while updating %s)", lock, wait_ms, refname);
                r = 1;
            } else if (errno != ENOENT) {
                r = -errno;
            }
            break;
        }
        rs_sleep_ms(50);
    }
    free(lock);
    free(refname);
    return r;
}

const char *rs_git_notice(const struct rs_git *g)
{
    return g->notice[0] ? g->notice : NULL;
}

/* ---- packing ------------------------------------------------------------------ */

static void track(struct rs_git *g, const git_oid *id)
{
    if (g->nmine == g->capmine) {
        g->capmine = g->capmine ? g->capmine * 2 : 64;
        g->mine = rs_xrealloc(g->mine, g->capmine * sizeof(*g->mine));
    }
    git_oid_cpy(&g->mine[g->nmine++], id);
}

/*
 * Remember what commit @id wrote: the commit, its root tree, the subtree of
 * each directory on the way to each of @rels, and their blobs (@up).
 */
static void track_commit(struct rs_git *g, const git_oid *id, char **rels, const git_tree_update *up, size_t n)
{
    git_commit *c = NULL;
    git_tree *t = NULL;
    track(g, id);
    for (size_t i = 0; i < n; i++)
        track(g, &up[i].id);
    if (git_commit_lookup(&c, g->repo, id) < 0 || git_commit_tree(&t, c) < 0)
        goto out;
    track(g, git_tree_id(t));
    for (size_t i = 0; i < n; i++) {
        for (char *sl = strchr(rels[i], '/'); sl; sl = strchr(sl + 1, '/')) {
            git_tree_entry *e = NULL;
            *sl = '\0';
            if (git_tree_entry_bypath(&e, t, rels[i]) == 0 && git_tree_entry_type(e) == GIT_OBJECT_TREE)
                track(g, git_tree_entry_id(e));
            *sl = '/';
            git_tree_entry_free(e);
        }
    }
out:
    git_tree_free(t);
    git_commit_free(c);
}

static int cmp_oid(const void *a, const void *b)
{
    return git_oid_cmp(a, b);
}

/*
 * A second handle on the repository for the packbuilder, whose only config
 * is "pack.windowMemory = 1". libgit2 tries each object against the 10
 * objects before it in its size order, holding all of them and their delta
 * indexes in memory: at 10,000 schools that is 10 progress files of 7.6 MiB
 * each, hundreds of MiB and ten delta passes per object. With the window's
 * memory capped it keeps one base, which here is the previous version of
 * the same file — the best base anyway. The config lives in a temp file only
 * while the handle opens (libgit2 reads it then and keeps its values).
 */
static int pack_repo(struct rs_git *g, git_repository **out, char *err, size_t errlen)
{
    char *path = rs_xasprintf("%s/ralphsup-pack-XXXXXX", rs_tmpdir());
    git_config *cfg = NULL;
    git_repository *r2 = NULL;
    int r = -EIO;
    int fd = mkstemp(path);
    if (fd < 0) {
        set_err(err, errlen, "cannot create a temp file for the pack's config: %s", strerror(errno));
        free(path);
        return -EIO;
    }
    static const char text[] = "[pack]\n\twindowMemory = 1\n";
    bool written = write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1);
    close(fd);
    if (!written) {
        set_err(err, errlen, "cannot write the pack's config %s", path);
        goto out;
    }
    if (git_repository_open(&r2, git_repository_path(g->repo)) < 0 || git_config_new(&cfg) < 0 ||
        git_config_add_file_ondisk(cfg, path, GIT_CONFIG_LEVEL_APP, r2, 0) < 0 ||
        git_repository_set_config(r2, cfg) < 0) {
        r = git_fail(err, errlen, "cannot open the repository for packing");
        goto out;
    }
    *out = r2;
    r2 = NULL;
    r = 0;
out:
    git_config_free(cfg);
    git_repository_free(r2);
    unlink(path);
    free(path);
    return r;
}

/* Sort @v and drop repeats (an object written twice, an unchanged tree, is packed once). Return: the new count. */
static size_t oids_unique(git_oid *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_oid);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || !git_oid_equal(&v[u - 1], &v[i]))
            git_oid_cpy(&v[u++], &v[i]);
    return u;
}

/*
 * Write the @n objects @ids as one delta-compressed pack into @packdir and
 * make it durable. libgit2 writes the pack and its index to temporary files
 * and renames them into place, index last; an index without its pack is
 * ignored by git. Neither is fsynced (unless libgit2's global fsync option
 * is on), so both are fsynced here, and the directory: after a crash either
 * the objects' old copies or the new pack hold them. @name receives
 * "pack-<hash>" (caller frees).
 */
static int write_pack(struct rs_git *g, const char *packdir, const git_oid *ids, size_t n, char **name, char *err,
                      size_t errlen)
{
    git_packbuilder *pb = NULL;
    git_repository *prepo = NULL;
    char *pack = NULL, *idx = NULL;
    int r;
    if ((r = pack_repo(g, &prepo, err, errlen)) < 0)
        goto out;
    if (git_packbuilder_new(&pb, prepo) < 0) {
        r = git_fail(err, errlen, "cannot start a pack");
        goto out;
    }
    git_packbuilder_set_threads(pb, 1);
    for (size_t i = 0; i < n; i++) {
        if (git_packbuilder_insert(pb, &ids[i], NULL) < 0) {
            r = git_fail(err, errlen, "cannot add an object to the pack");
            goto out;
        }
    }
    if (git_packbuilder_write(pb, packdir, 0, NULL, NULL) < 0) {
        r = git_fail(err, errlen, "cannot write the pack");
        goto out;
    }
    pack = rs_xasprintf("%s/pack-%s.pack", packdir, git_packbuilder_name(pb));
    idx = rs_xasprintf("%s/pack-%s.idx", packdir, git_packbuilder_name(pb));
    if ((r = rs_fsync_path(pack)) < 0 || (r = rs_fsync_path(idx)) < 0 || (r = rs_fsync_path(packdir)) < 0) {
        set_err(err, errlen, "cannot fsync the pack %s: %s", pack, strerror(-r));
        r = -EIO;
        goto out;
    }
    *name = rs_xasprintf("pack-%s", git_packbuilder_name(pb));
    r = 0;
out:
    git_packbuilder_free(pb);
    git_repository_free(prepo);
    free(pack);
    free(idx);
    return r;
}

static void refresh_odb(struct rs_git *g)
{
    git_odb *odb = NULL;
    if (git_repository_odb(&odb, g->repo) == 0) {
        git_odb_refresh(odb);
        git_odb_free(odb);
    }
}

/*
 * libgit2's odb (1.5) never lets go of a pack it opened, even once the file
 * is gone: a refresh only adds packs. So after a merge removed ten packs, a
 * fresh handle replaces this one, and the removed packs' descriptors, maps
 * and delta-base caches go with the old one (at 10,000 schools 150 removed
 * packs stayed open, and the heap grew at every merge). On failure the old
 * handle stays, refreshed.
 */
static void reopen_repo(struct rs_git *g)
{
    git_repository *fresh = NULL;
    if (git_repository_open_ext(&fresh, g->workdir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0) {
        git_repository_free(g->repo);
        g->repo = fresh;
    } else {
        refresh_odb(g);
    }
}

/*
 * Merge the MERGE_PACKS packs this handle wrote into one: the merged pack
 * is durable before any of them goes, and each goes index first (a reader
 * never finds an index without its pack). A crash in between leaves some
 * objects in two packs, which git allows. Best effort: on failure the packs
 * stay as they are, and the next merge is MERGE_PACKS packs later.
 */
static void merge_packs(struct rs_git *g, const char *packdir)
{
    char err[256], *name = NULL;
    g->npacked = oids_unique(g->packed, g->npacked);
    if (write_pack(g, packdir, g->packed, g->npacked, &name, err, sizeof err) == 0) {
        for (size_t i = 0; i < g->npacks; i++) {
            if (strcmp(g->packs[i], name) == 0)
                continue;
            char *idx = rs_xasprintf("%s/%s.idx", packdir, g->packs[i]);
            char *pack = rs_xasprintf("%s/%s.pack", packdir, g->packs[i]);
            if (unlink(idx) == 0)
                unlink(pack);
            free(idx);
            free(pack);
        }
        rs_fsync_path(packdir);
        reopen_repo(g);
        /* The merge inflated and deltified ten packs' objects: hand the freed heap back. */
        malloc_trim(0);
    } else {
        snprintf(g->notice, sizeof g->notice, "the audit trail's last %zu packs stay unmerged for now: %s", g->npacks,
                 err);
    }
    free(name);
    for (size_t i = 0; i < g->npacks; i++)
        free(g->packs[i]);
    g->npacks = 0;
    g->npacked = 0;
}

int rs_git_pack(struct rs_git *g, size_t *packed, char *err, size_t errlen)
{
    if (packed)
        *packed = 0;
    if (!g || g->nmine == 0)
        return 0;
    g->nmine = oids_unique(g->mine, g->nmine);

    /* The object store is the common dir's (a linked worktree's own git dir has none). */
    const char *gitdir = git_repository_commondir(g->repo); /* with a trailing '/' */
    char *packdir = rs_xasprintf("%sobjects/pack", gitdir);
    char *name = NULL;
    int r = 0;
    if (mkdir(packdir, 0755) < 0 && errno != EEXIST) {
        set_err(err, errlen, "cannot create %s: %s", packdir, strerror(errno));
        r = -EIO;
        goto out;
    }
    /* libgit2 (1.5) leaks its pack writer when it cannot create the pack's
     * temporary file (a read-only or full file system): find out first. */
    if (access(packdir, W_OK) < 0) {
        int e = errno;
        set_err(err, errlen, "cannot write a pack into %s: %s", packdir, strerror(e));
        r = -e;
        goto out;
    }
    if ((r = write_pack(g, packdir, g->mine, g->nmine, &name, err, errlen)) < 0)
        goto out;
    /* The pack is durable: the loose copies may go (one that is not there is fine). */
    char hex[GIT_OID_HEXSZ + 1];
    for (size_t i = 0; i < g->nmine; i++) {
        git_oid_tostr(hex, sizeof hex, &g->mine[i]);
        char *loose = rs_xasprintf("%sobjects/%.2s/%s", gitdir, hex, hex + 2);
        unlink(loose);
        char *slash = strrchr(loose, '/');
        *slash = '\0';
        rmdir(loose); /* fails unless emptied: other objects stay */
        free(loose);
    }
    refresh_odb(g);
    if (packed)
        *packed = g->nmine;
    /* Remembered for the merge of every MERGE_PACKS packs. */
    if (g->npacked + g->nmine > g->cappacked) {
        g->cappacked = (g->npacked + g->nmine) * 2;
        g->packed = rs_xrealloc(g->packed, g->cappacked * sizeof(*g->packed));
    }
    memcpy(g->packed + g->npacked, g->mine, g->nmine * sizeof(*g->mine));
    g->npacked += g->nmine;
    g->packs = rs_xrealloc(g->packs, (g->npacks + 1) * sizeof(*g->packs));
    g->packs[g->npacks++] = name;
    name = NULL;
    g->nmine = 0;
    g->unpacked = 0;
    if (g->npacks >= MERGE_PACKS)
        merge_packs(g, packdir);
out:
    free(name);
    free(packdir);
    return r;
}

int rs_git_commit(struct rs_git *g, const char *const *paths, size_t npaths, const char *subject, const char *body,
                  const struct rs_git_trailer *trailers, size_t ntrailers, char *oid_hex, char *err, size_t errlen)
{
    if (!g || !paths || npaths == 0 || !subject || !oid_hex || (ntrailers > 0 && !trailers)) {
        set_err(err, errlen, "rs_git_commit: invalid arguments");
        return -EINVAL;
    }
    g->index_skipped = false;
    g->notice[0] = '\0';
    g->index_why[0] = '\0';

    char **rels = rs_xcalloc(npaths + 1, sizeof(*rels));
    git_tree_update *up = NULL;
    struct stat *sts = NULL;
    git_signature *sig = NULL;
    char *refname = NULL;
    struct rs_buf msg;
    rs_buf_init(&msg);
    size_t n = 0;
    int r = 0;

    for (size_t i = 0; i < npaths; i++) {
        r = repo_path(g, paths[i], &rels[i], err, errlen);
        if (r < 0)
            goto out;
        n++;
    }
    /* Sorted and unique: the same path named twice is one update. */
    qsort(rels, n, sizeof(*rels), rs_strp_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u > 0 && strcmp(rels[u - 1], rels[i]) == 0)
            free(rels[i]);
        else
            rels[u++] = rels[i];
    }
    n = u;
    rels[n] = NULL; /* the moved pointers past it are not freed twice */

    r = build_message(&msg, subject, body, trailers, ntrailers, err, errlen);
    if (r < 0)
        goto out;
    up = rs_xcalloc(n, sizeof(*up));
    sts = rs_xcalloc(n, sizeof(*sts));
    r = make_blobs(g, rels, n, up, sts, err, errlen);
    if (r < 0)
        goto out;
    r = signature(g, &sig, err, errlen);
    if (r < 0)
        goto out;

    git_oid id;
    unsigned locked = 0, moved = 0, wait = g->lock_first_ms;
    bool checked_out = false, stale_removed = false;
    for (;;) {
        /* Re-resolved on every attempt: a checkout may switch branches under us. */
        free(refname);
        refname = NULL;
        r = target_ref(g, &refname, &checked_out, err, errlen);
        if (r != 0)
            goto out;
        r = commit_once(g, refname, up, n, sig, rs_buf_cstr(&msg), subject, &id, err, errlen);
        if (r == 0)
            break;
        if (r == GIT_EMODIFIED || r == GIT_EEXISTS) {
            if (++moved > MAX_MOVED_RETRIES) {
                set_err(err, errlen, "%s keeps moving under concurrent commits; gave up after %u retries", refname,
                        MAX_MOVED_RETRIES);
                r = -EAGAIN;
                goto out;
            }
            continue;
        }
        if (r == GIT_ELOCKED) {
            if (locked++ >= g->lock_retries) {
                if (!stale_removed && remove_stale_ref_lock(g, refname)) {
                    stale_removed = true;
                    locked = 0;
                    wait = g->lock_first_ms;
                    continue;
                }
                set_err(err, errlen, "%s is locked by a concurrent git process (%s.lock); commit deferred", refname,
                        refname);
                r = RS_GIT_E_DEFERRED;
                goto out;
            }
            rs_sleep_ms(wait);
            wait *= 2;
            continue;
        }
        goto out;
    }
    git_oid_tostr(oid_hex, GIT_OID_HEXSZ + 1, &id);
    if (checked_out)
        refresh_index(g, rels, up, sts, n);
    track_commit(g, &id, rels, up, n);
    if (g->pack_every && ++g->unpacked >= g->pack_every) {
        char perr[256] = "";
        if (rs_git_pack(g, NULL, perr, sizeof perr) < 0)
            snprintf(g->notice, sizeof g->notice, "the audit trail's objects stay loose for now: %s", perr);
        g->unpacked = 0; /* after a failure, the next try is pack_every commits later */
    }
    r = 0;
out:
    free(refname);
    git_signature_free(sig);
    free(up);
    free(sts);
    rs_buf_deinit(&msg);
    rs_strv_free(rels);
    return r;
}

/* ---- history ------------------------------------------------------------------- */

/* Insert the blob id @id into @seen (its hex form). Return: false when it was already there. */
static bool blob_seen_add(struct rs_strmap *seen, const git_oid *id)
{
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, id);
    return rs_strmap_add(seen, hex, 0);
}

int rs_git_history_blob(struct rs_git *g, const char *path, rs_git_blob_cb cb, void *userdata, char *err,
                        size_t errlen)
{
    if (!g || !cb) {
        set_err(err, errlen, "rs_git_history_blob: invalid arguments");
        return -EINVAL;
    }
    char *rel = NULL;
    git_revwalk *walk = NULL;
    struct rs_strmap seen = {0}; /* the blobs already handed out */
    git_oid tip;
    int r = repo_path(g, path, &rel, err, errlen);
    if (r < 0)
        return r;
    /* "HEAD" resolves through the branch, and also works when detached. */
    r = git_reference_name_to_id(&tip, g->repo, g->ref);
    if (r == GIT_ENOTFOUND) {
        r = 0; /* unborn: no history */
        goto out;
    }
    if (r < 0 || git_revwalk_new(&walk, g->repo) < 0 ||
        git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) < 0 || git_revwalk_push(walk, &tip) < 0) {
        r = git_fail(err, errlen, "cannot walk history");
        goto out;
    }
    git_oid cid;
    for (;;) {
        r = git_revwalk_next(&cid, walk);
        if (r == GIT_ITEROVER) {
            r = 0;
            break;
        }
        if (r < 0) {
            r = git_fail(err, errlen, "cannot walk history");
            break;
        }
        git_commit *c = NULL;
        git_tree *t = NULL;
        git_tree_entry *e = NULL;
        git_blob *b = NULL;
        if (git_commit_lookup(&c, g->repo, &cid) < 0 || git_commit_tree(&t, c) < 0) {
            r = git_fail(err, errlen, "cannot read commit");
        } else if (git_tree_entry_bypath(&e, t, rel) == 0 && git_tree_entry_type(e) == GIT_OBJECT_BLOB &&
                   blob_seen_add(&seen, git_tree_entry_id(e))) {
            if (git_blob_lookup(&b, g->repo, git_tree_entry_id(e)) < 0) {
                r = git_fail(err, errlen, "cannot read blob");
            } else {
                char hex[GIT_OID_HEXSZ + 1];
                git_oid_tostr(hex, sizeof(hex), &cid);
                const char *summary = git_commit_summary(c);
                r = cb(hex, summary ? summary : "", git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), userdata);
            }
        }
        git_blob_free(b);
        git_tree_entry_free(e);
        git_tree_free(t);
        git_commit_free(c);
        if (r != 0)
            break;
    }
out:
    rs_strmap_deinit(&seen);
    git_revwalk_free(walk);
    free(rel);
    return r;
}

int rs_git_blob_at(struct rs_git *g, const char *commit_hex, const char *path, size_t max, char **data, size_t *len,
                   char *err, size_t errlen)
{
    char *rel = NULL;
    int r = repo_path(g, path, &rel, err, errlen);
    if (r < 0)
        return r;
    git_oid id;
    git_commit *c = NULL;
    git_tree *t = NULL;
    git_tree_entry *e = NULL;
    git_blob *b = NULL;
    if (git_oid_fromstr(&id, commit_hex) < 0 || git_commit_lookup(&c, g->repo, &id) < 0 ||
        git_commit_tree(&t, c) < 0) {
        r = git_fail(err, errlen, "cannot read commit");
    } else if (git_tree_entry_bypath(&e, t, rel) < 0 || git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
        set_err(err, errlen, "commit %.12s has no file %s", commit_hex, rel);
        r = -ENOENT;
    } else if (git_blob_lookup(&b, g->repo, git_tree_entry_id(e)) < 0) {
        r = git_fail(err, errlen, "cannot read blob");
    } else if ((size_t)git_blob_rawsize(b) > max) {
        set_err(err, errlen, "%s in commit %.12s is larger than %zu bytes", rel, commit_hex, max);
        r = -EFBIG;
    } else {
        *len = (size_t)git_blob_rawsize(b);
        *data = rs_xmalloc(*len + 1);
        memcpy(*data, git_blob_rawcontent(b), *len);
        (*data)[*len] = '\0';
    }
    git_blob_free(b);
    git_tree_entry_free(e);
    git_tree_free(t);
    git_commit_free(c);
    free(rel);
    return r;
}
