/* SPDX-License-Identifier: MIT */
/*
 * The git audit trail (libgit2). Every state transition is one commit that
 * contains only the named files (the progress file, optionally a school's
 * CSV). The tree is built from the target ref's tree plus the new blobs —
 * never from the index — so a user's staged changes are neither committed
 * nor unstaged. When the commit lands on the checked-out branch, only the
 * index entries of the committed paths are refreshed.
 *
 * Robust against: unborn HEAD, no repository (created on request), detached
 * HEAD (error unless a dedicated ref is used), index.lock / ref locks held by
 * a concurrent git (retry with backoff, then RS_GIT_E_DEFERRED), HEAD moved
 * underneath (re-read and retry), no user identity (fallback author).
 *
 * No libuv, no policy, never logs: messages go to struct rs_diags / msg.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ralphsup/base/common.h"

struct rs_git; /* opaque */

struct rs_git_opts {
    const char *workdir;      /* directory inside the repository (batch root) */
    const char *ref;          /* "HEAD" (current branch) or "refs/heads/..." */
    const char *author_name;  /* fallback identity when git config has none */
    const char *author_email;
    bool create;              /* create a repository at workdir if there is none */
    unsigned pack_every;      /* rs_git_pack() after every N commits; 0: only when asked */
};

/* A trailer "Key: value". */
struct rs_git_trailer {
    const char *key;
    const char *value;
};

enum {
    RS_GIT_E_NOREPO = 1,      /* not a repository and !create */
    RS_GIT_E_DETACHED = 2,    /* HEAD detached and ref = "HEAD" */
    RS_GIT_E_DEFERRED = 3,    /* locks held too long: nothing committed, retry later */
    RS_GIT_E_CREATED = 4,     /* rs_git_open: a repository was created (success) */
};

/*
 * rs_git_open() - open (or create) the repository for @opts->workdir.
 * Return: 0 or RS_GIT_E_CREATED on success (*out set), RS_GIT_E_NOREPO,
 * RS_GIT_E_DETACHED, or negative errno; @err (>= 256 bytes) gets libgit2's
 * message on failure.
 */
int rs_git_open(const struct rs_git_opts *opts, struct rs_git **out, char *err, size_t errlen);
/*
 * Close the repository and drop the libgit2 init reference; with
 * pack_every > 0, first rs_git_pack() what is still loose (best effort).
 * NULL-safe. Return: NULL.
 */
struct rs_git *rs_git_free(struct rs_git *g);

/*
 * rs_git_commit() - one commit with the current working-tree content of
 * @paths (absolute or relative to the repository's workdir; must lie inside
 * it). Message = @subject, blank line, @body (may be NULL), blank line,
 * trailers. @oid_hex (>= 41 bytes) receives the new commit id.
 * Paths are deduplicated; a missing path is -ENOENT (deletions are not
 * recorded). When the commit lands on the checked-out branch, the index
 * entries of @paths (only those) are refreshed, best effort: a commit whose
 * refresh failed still returns 0, see rs_git_index_skipped(). If the ref
 * moved concurrently the commit is rebuilt on the new tip.
 * Return: 0, RS_GIT_E_DETACHED, RS_GIT_E_DEFERRED (nothing committed, locks
 * held), or negative errno with @err filled (-EINVAL bad path/trailer key,
 * -ENOENT, -EAGAIN ref kept moving, -EIO libgit2 failure).
 */
int rs_git_commit(struct rs_git *g, const char *const *paths, size_t npaths, const char *subject,
                  const char *body, const struct rs_git_trailer *trailers, size_t ntrailers,
                  char *oid_hex, char *err, size_t errlen);

/*
 * rs_git_index_skipped() - whether the last rs_git_commit() (which returned
 * 0: the commit stands) could NOT refresh the index entries of its paths,
 * e.g. because a concurrent git held index.lock through the whole backoff.
 * The index then still holds the previous content of those paths, so
 * `git status` shows them as changed until the next successful refresh.
 * @why (optional) receives a message owned by @g, valid until the next call.
 * Return: true when the refresh was skipped.
 */
bool rs_git_index_skipped(const struct rs_git *g, const char **why);

/*
 * rs_git_set_backoff() - lock backoff: after the first try, up to @retries
 * more tries, waiting @first_ms, then doubling (default 5 retries from
 * 50 ms: 50, 100, 200, 400, 800 ms). Applies to ref locks (then
 * RS_GIT_E_DEFERRED) and to the index refresh (then skipped), which
 * waits at most 150 ms in all: it is best effort and blocks the caller.
 * Once a refresh gave up on a held index.lock, later commits try the index
 * once without waiting until a refresh succeeds (a stale index.lock, left
 * by a process killed while writing the index, costs nothing after that).
 */
void rs_git_set_backoff(struct rs_git *g, unsigned retries, unsigned first_ms);

/*
 * rs_git_clear_stale_lock() - for a caller that knows no other ralphsup can
 * write this batch (it holds the batch lock): if the target ref's .lock
 * exists and is still there after @wait_ms (git holds ref locks for
 * milliseconds), it was left by a process that died mid-update (kill -9);
 * remove it so later commits are not deferred forever. @notice gets a
 * sentence when something was removed.
 * Return: 1 removed, 0 nothing to do, negative errno.
 */
int rs_git_clear_stale_lock(struct rs_git *g, unsigned wait_ms, char *notice, size_t n);

/*
 * rs_git_notice() - what the last rs_git_commit() did besides committing
 * (e.g. "removed a stale lock …"), or NULL. Valid until the next commit.
 */
const char *rs_git_notice(const struct rs_git *g);

/*
 * rs_git_identity() - who commits: git's configured user.name/user.email,
 * or (*fallback = true) the fallback identity of the options.
 * Return: 0.
 */
int rs_git_identity(const struct rs_git *g, char *name, size_t nlen, char *email, size_t elen, bool *fallback);

/* Repository workdir (absolute, with trailing '/'). */
const char *rs_git_workdir(const struct rs_git *g);

/*
 * rs_git_pack() - pack the objects this handle wrote since the last pack
 * (blobs, trees and commits of its commits; nothing else) into one
 * delta-compressed pack in objects/pack, fsync the pack, its index and the
 * directory, then remove their loose copies (emptied fan-out directories
 * too). A kill -9 at any instant leaves every object loose, packed or both:
 * nothing is lost and `git fsck --strict` stays clean. rs_git_commit() calls
 * it by itself every @opts->pack_every commits (a failure there is only a
 * notice, see rs_git_notice(); the objects stay loose and are packed next
 * time). @packed (may be NULL) gets the number of objects packed.
 * Return: 0 (also with nothing to pack) or -EIO with @err filled.
 */
int rs_git_pack(struct rs_git *g, size_t *packed, char *err, size_t errlen);

/*
 * rs_git_committed() - whether @path's content in the work tree is exactly
 * what the target ref's tip holds (*same), without writing anything. An
 * unborn ref or a path the tip lacks is not the same.
 * Return: 0, RS_GIT_E_DETACHED, or negative errno with @err filled.
 */
int rs_git_committed(struct rs_git *g, const char *path, bool *same, char *err, size_t errlen);

/*
 * rs_git_history_blob() - walk the target ref's history newest first and
 * call @cb with the content of @path in each commit that has it (deduplicated
 * by blob id) until @cb returns non-zero. Used by `recover`.
 * Return: @cb's non-zero value, 0 when exhausted, or negative errno.
 */
typedef int (*rs_git_blob_cb)(const char *commit_hex, const char *summary, const char *data, size_t len,
                              void *userdata);
int rs_git_history_blob(struct rs_git *g, const char *path, rs_git_blob_cb cb, void *userdata, char *err,
                        size_t errlen);
/*
 * rs_git_blob_at() - the content of @path (as rs_git_commit() takes paths)
 * in commit @commit_hex, at most @max bytes, in a malloc'd NUL-terminated
 * *@data. Used by `recover` for the segment files a recovered version names.
 * Return: 0, -ENOENT (no such file in that commit), -EFBIG, or negative errno.
 */
int rs_git_blob_at(struct rs_git *g, const char *commit_hex, const char *path, size_t max, char **data, size_t *len,
                   char *err, size_t errlen);
