/* SPDX-License-Identifier: MIT */
/*
 * Process trees of agent runs, found and signalled through /proc with plain
 * syscalls (no libuv). A run's tree is identified three ways at once,
 * because each alone misses something: the agent's process group (pgid ==
 * agent pid, set by UV_PROCESS_DETACHED), the RALPHSUP_RUN_TOKEN environment
 * variable every spawned agent gets (inherited even by descendants that call
 * setsid, as Claude Code's Bash tool does), and the parent links (PPid) of
 * every process found so far (catches descendants that cleared their
 * environment). Also: becoming a child subreaper, and reaping zombies of
 * orphans that were reparented to us without touching children that libuv
 * owns.
 *
 * This module never logs, never waits for a process to die and never calls
 * waitpid(-1). It signals only what it can see at the moment of the scan;
 * callers that need "nothing survives" poll with the count functions.
 * Processes that vanish during a scan (ENOENT/ESRCH), zombies and processes
 * whose environment cannot be read are skipped. The calling process and PID
 * 1 are never signalled.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Name of the environment variable that marks every process of a run. */
#define RS_PROCTREE_TOKEN_VAR "RALPHSUP_RUN_TOKEN"
/* Longest token accepted (bytes, without the NUL). */
#define RS_PROCTREE_TOKEN_MAX 256

enum {
    RS_PROCTREE_E_NO_TOKEN = 1, /* the process carries no run token */
};

/*
 * rs_proctree_become_subreaper() - prctl(PR_SET_CHILD_SUBREAPER, 1) for the
 * calling process: orphaned descendants are reparented to it instead of to
 * PID 1, so they stay visible (and must be reaped, see
 * rs_proctree_reap_zombies()). Call once at start-up.
 * Return: 0, or negative errno.
 */
int rs_proctree_become_subreaper(void);

/*
 * rs_proctree_signal_tree() - send @sig to the whole tree of one run:
 * kill(-@leader) for the process group, then every live process that is
 * @leader, is in process group @leader, carries RALPHSUP_RUN_TOKEN equal to
 * @token, or descends (PPid links, transitively) from any of these. The scan
 * is repeated (a few rounds at most) while it finds processes it has not
 * signalled yet, so children forked during the scan are caught too.
 * @leader may be 0 (token and its descendants only); @token may be NULL
 * (group and descendants only); not both.
 * Return: number of distinct processes signalled (>= 0), or negative errno
 * (-EINVAL for bad arguments, or the error of opening /proc).
 */
int rs_proctree_signal_tree(pid_t leader, const char *token, int sig);

/*
 * rs_proctree_count_tree() - number of live (non-zombie) processes that
 * rs_proctree_signal_tree() would signal for @leader and @token, without
 * signalling anything.
 * Return: count (>= 0), or negative errno.
 */
int rs_proctree_count_tree(pid_t leader, const char *token);

/*
 * The clock /proc/PID/stat's starttime counts in (clock ticks since boot,
 * CLOCK_BOOTTIME), less one tick: every process forked after this call has a
 * starttime >= the value returned.
 */
unsigned long long rs_proctree_ticks_now(void);

/*
 * The same two for a tree whose leader was started after @since
 * (rs_proctree_ticks_now() taken before the spawn; 0: no bound): no process of
 * it can be older, so the environment (the token) of older processes is not
 * read. On a machine with hundreds of processes that is most of a scan's cost:
 * each /proc/PID/environ read maps another process's memory.
 */
int rs_proctree_signal_tree_since(pid_t leader, const char *token, unsigned long long since, int sig);
int rs_proctree_count_tree_since(pid_t leader, const char *token, unsigned long long since);

/*
 * rs_proctree_signal_below() - send @sig to every live descendant of @root
 * (PPid links, transitively; @root itself is never signalled) and, when
 * @token is not NULL, to every live process carrying RALPHSUP_RUN_TOKEN equal
 * to @token and its descendants. Rounds as rs_proctree_signal_tree(). The
 * keeper (run/keeper.c) calls it with its own pid: as a child subreaper every
 * orphan of its tree, setsid'd or not, is reparented to it and so stays below it.
 * Return: number of distinct processes signalled (>= 0), or negative errno
 * (-EINVAL for @root <= 0 or a bad token).
 */
int rs_proctree_signal_below(pid_t root, const char *token, int sig);

/*
 * rs_proctree_count_below() - number of live processes that
 * rs_proctree_signal_below() would signal, without signalling anything.
 * Return: count (>= 0), or negative errno.
 */
int rs_proctree_count_below(pid_t root, const char *token);

/*
 * rs_proctree_kill_token() - send @sig to every live process whose
 * RALPHSUP_RUN_TOKEN value starts with @token_prefix, and to their
 * descendants. Used at start-up to remove leftovers of runs recorded in the
 * progress file (e.g. after a kill -9 of the supervisor). Choose the prefix
 * with its trailing separator ("batch:12:") so it cannot match "batch:123:".
 * Return: number of processes signalled (>= 0), -EINVAL for an empty or
 * too long prefix, or negative errno.
 */
int rs_proctree_kill_token(const char *token_prefix, int sig);

/*
 * rs_proctree_count_token() - number of live (non-zombie) processes whose
 * RALPHSUP_RUN_TOKEN value starts with @token_prefix, plus their
 * descendants. "No process of the iteration survives" is
 * rs_proctree_count_token(token) == 0.
 * Return: count (>= 0), or negative errno as rs_proctree_kill_token().
 */
int rs_proctree_count_token(const char *token_prefix);

/*
 * rs_proctree_reap_zombies() - reap zombie children of the calling process
 * whose pid is not listed in @keep (@n_keep entries; @keep may be NULL when
 * @n_keep is 0), each with waitpid(pid, WNOHANG). @keep must list every
 * child whose status someone else collects (all libuv process handles),
 * otherwise that status is stolen. Never calls waitpid(-1).
 * Return: number of zombies reaped (>= 0), or negative errno.
 */
int rs_proctree_reap_zombies(const pid_t *keep, size_t n_keep);

/*
 * rs_proctree_token_of() - copy the RALPHSUP_RUN_TOKEN value of process
 * @pid into @buf (@n bytes, NUL-terminated, truncated to fit).
 * Return: 0, RS_PROCTREE_E_NO_TOKEN when the process has no token, or negative errno (-ESRCH
 * when the process is gone, -EACCES when its environment is unreadable).
 */
int rs_proctree_token_of(pid_t pid, char *buf, size_t n);
