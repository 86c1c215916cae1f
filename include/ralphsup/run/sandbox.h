/* SPDX-License-Identifier: MIT */
/*
 * The fence around the agent (docs/security.md): a Landlock ruleset that the
 * keeper applies in its forked child just before it executes the agent, so
 * the agent and every descendant (Bash tool, python, the guard hook) may read
 * and execute everything but write only below the paths it is given and the
 * character devices of rs_sandbox_devices(). Landlock needs no privilege and
 * no package; a restriction is inherited by every descendant and can never
 * be lifted. What the fence handles is only the write side: WRITE_FILE,
 * REMOVE_*, MAKE_*, plus REFER (ABI >= 2), TRUNCATE (ABI >= 3) and IOCTL_DEV
 * (ABI >= 5) when the kernel offers them; reading, executing and the network
 * are never handled, so they stay open.
 *
 * Also here: the kernel's ABI (with the test switch RALPHSUP_LANDLOCK_ABI,
 * which can only lower it: "0" pretends the kernel has no Landlock), the
 * per-iteration work directory (its path and layout) and the write list an
 * iteration gets, shared by the supervisor and the doctor.
 *
 * Deliberately not here: when to fence ([agent] sandbox, decided by the
 * supervisor), messages, exit codes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ralphsup/core/config.h"

/* The test switch: an ABI to pretend (only ever lower than the kernel's). */
#define RS_SANDBOX_ABI_ENV "RALPHSUP_LANDLOCK_ABI"

/* The work directory of every iteration lives below <root>/RS_SANDBOX_WORK_DIR. */
#define RS_SANDBOX_WORK_DIR ".ralphsup/work"

/*
 * rs_sandbox_abi() - the Landlock ABI version this kernel offers (0: none,
 * also when Landlock is disabled), lowered to $RALPHSUP_LANDLOCK_ABI when
 * that is set to a smaller number.
 */
int rs_sandbox_abi(void);

/*
 * The pure part of the ruleset (no system call; unit-tested):
 * rs_sandbox_handled() - the rights a ruleset of ABI @abi handles (0 when @abi < 1): the
 *   write, remove and make rights, plus REFER (>= 2), TRUNCATE (>= 3), IOCTL_DEV (>= 5);
 * rs_sandbox_allowed() - of @handled, the rights granted on a path of file type @mode:
 *   everything below a directory; writing, truncating (and on a character device its
 *   ioctls) on anything else; @device: a rs_sandbox_devices() entry (a directory there,
 *   /dev/pts, gets its terminals' rights, no new entries);
 * rs_sandbox_describe() - the optional rights of ABI @abi in words, "refer, truncate,
 *   ioctl_dev" ("" for ABI 1), into @buf; returns @buf.
 */
uint64_t rs_sandbox_handled(int abi);
uint64_t rs_sandbox_allowed(uint64_t handled, mode_t mode, bool device);
const char *rs_sandbox_describe(int abi, char *buf, size_t n);

/* The character devices (and /dev/pts) every fenced agent may write to; NULL-terminated. */
const char *const *rs_sandbox_devices(void);

/*
 * rs_sandbox_apply() - restrict the calling process (and every later child)
 * to writing only below @paths (@n entries; a directory gets every write
 * right below it, a file or device only writing, truncating and, for a
 * device, its ioctls) and the devices of rs_sandbox_devices(), with ABI
 * @abi (1..). A path that does not exist fails the call (a device missing
 * from this system is skipped). Sets PR_SET_NO_NEW_PRIVS. Meant for a child
 * between fork and exec: no allocation, no stdio.
 * Return: 0; -ENOSYS / -EOPNOTSUPP (no Landlock), or the negative errno of
 * the failing step with *@failed naming the path when it was one (else NULL).
 */
int rs_sandbox_apply(int abi, const char *const *paths, size_t n, const char **failed);

/*
 * An iteration's work directory and what is in it: <root>/.ralphsup/work/
 * <NNNN>-<slug>/ holding the agent's CSV (<slug>.csv), its private temp
 * directory (tmp/) and, unless the user names one, its own Claude Code
 * config directory (claude/). One per iteration, so workers never share one.
 */
struct rs_workdir {
    char *dir;        /* the work directory */
    char *csv;        /* <dir>/<slug>.csv: what {{output_csv}} names */
    char *tmp;        /* <dir>/tmp: the agent's TMPDIR */
    char *claude;     /* <dir>/claude: its CLAUDE_CONFIG_DIR */
    char *guard_log;  /* <dir>/guard.jsonl: the guard's denials, appended to logs/ after the iteration */
};

/* The paths of iteration @iteration of school @slug (nothing is created). */
void rs_workdir_init(struct rs_workdir *w, const struct rs_config *cfg, int64_t iteration, const char *slug);
void rs_workdir_deinit(struct rs_workdir *w);

/*
 * rs_workdir_create() - create the work directory fresh (whatever an earlier
 * run left at that path is removed first) with tmp/ and claude/, mode 0700.
 * When @credentials names a readable file (a subscriber's OAuth login,
 * ~/.claude/.credentials.json) it is copied into claude/ with mode 0600.
 * Return: 0 or negative errno.
 */
int rs_workdir_create(const struct rs_workdir *w, const char *credentials);

/*
 * rs_workdir_keep_evidence() - move the agent's CSV (@w->csv), when it wrote one, to
 * @log_dir/<NNNN>-<slug>.csv (the name of the work directory and of the transcript):
 * the evidence `ralphsup replay` checks for an attempt that was not published.
 * Return: 0 (also when there is no CSV) or negative errno.
 */
int rs_workdir_keep_evidence(const struct rs_workdir *w, const char *log_dir);

/* rs_workdir_remove() - remove the work directory and everything below it. Return: 0 or negative errno. */
int rs_workdir_remove(const struct rs_workdir *w);

/*
 * rs_sandbox_paths() - the write list of an iteration (directories and
 * files, each absolute): its work directory, [batch] cache_dir when set,
 * @config_dir when the agent's Claude config directory is the user's own
 * (CLAUDE_CONFIG_DIR given; NULL: the work directory's), and every
 * [agent] writable entry. NULL-terminated, caller frees each and the array.
 */
char **rs_sandbox_paths(const struct rs_config *cfg, const struct rs_workdir *w, const char *config_dir, size_t *n);

/*
 * rs_publish_csv() - move @from (the verified CSV in the work directory) to
 * @to (in output_dir): rename(2) when both are on one file system, else a
 * copy to a temp file next to @to, fsync, rename; then the directory of @to
 * is fsync'd. Return: 0 or negative errno (@to is then unchanged).
 */
int rs_publish_csv(const char *from, const char *to);

/*
 * rs_guard_log_merge() - append the complete lines of @from (at most 1 MiB)
 * to @to, then remove @from. A missing @from is no error.
 * Return: 0 or negative errno.
 */
int rs_guard_log_merge(const char *from, const char *to);

/*
 * rs_sandbox_keeper_args() - the keeper options of a fence with ABI @abi over
 * @paths: "--fence", "N", then "--write", P for each. NULL-terminated, caller
 * frees each and the array; NULL when @abi < 1 (no fence).
 */
char **rs_sandbox_keeper_args(int abi, char *const *paths, size_t n);

/*
 * rs_workdir_sweep() - remove every work directory of school @slug
 * (<root>/.ralphsup/work/<digits>-<slug>), e.g. those a crashed run left.
 * Return: how many were removed.
 */
int rs_workdir_sweep(const struct rs_config *cfg, const char *slug);
