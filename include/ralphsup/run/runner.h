/* SPDX-License-Identifier: MIT */
/*
 * The runner spawns one agent process on a caller-owned libuv loop and
 * guarantees that nothing of it survives: the agent runs in its own session
 * and process group (UV_PROCESS_DETACHED), carries RALPHSUP_RUN_TOKEN in its
 * environment (inherited by every descendant), and is wrapped in the
 * iteration keeper (`ralphsup keeper`, run/keeper.h) when the caller names
 * the ralphsup binary: a child subreaper that holds the whole tree and kills
 * it (TERM → grace → KILL) when the supervisor is gone, tools in their own
 * session included; else in `setpriv --pdeathsig KILL --`, which kills only
 * the agent itself on a kill -9 of the supervisor.
 * stdout and stderr are pipes whose raw bytes go to the caller's callbacks;
 * stdin is /dev/null. A run is finished only when the agent exited AND both
 * pipes reached EOF; a grandchild that keeps a pipe open after the exit gets
 * a drain timeout, then the whole tree is killed and the pipes are closed.
 * Before the finish is reported every process of the tree still alive gets
 * SIGKILL, and the report waits (briefly) until none is left.
 *
 * Requirements on the caller: run the loop on the thread that stays alive
 * for the whole run (the parent-death signal fires when the *thread* that
 * forked exits), and do not block SIGCHLD (libuv learns of the exit
 * through it).
 * The setpriv wrapper leaves a tiny window (between fork and its prctl) in
 * which a kill -9 of the supervisor is missed, and with either wrapper what
 * the agent left behind after it exited belongs to the supervisor until the
 * finish kills it: the start-up token scan (rs_proctree_kill_token()) covers
 * both. The keeper has no such window at the start (its pipe exists before
 * the fork).
 *
 * Also here: the zombie reaper for orphans reparented to a subreaper, which
 * needs the loop to know which children libuv owns.
 *
 * Deliberately not here: the meaning of the agent's output (stream parsing),
 * policy (when to stop or restart), logging. Errors are returned, outcomes
 * are reported through the callbacks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

struct rs_runner;        /* opaque */
struct rs_runner_reaper; /* opaque */

/* Flags passed to rs_runner_finish_cb (bitwise or). */
enum {
    RS_RUNNER_F_TERM_SENT = 1u << 0,     /* rs_runner_stop() sent SIGTERM before the agent exited */
    RS_RUNNER_F_KILLED = 1u << 1,        /* we sent SIGKILL before the agent exited (grace expired,
                                            rs_runner_kill(), rs_runner_free()) */
    RS_RUNNER_F_PIPES_FORCED = 1u << 2,  /* drain timeout: pipes closed before EOF */
    RS_RUNNER_F_STRAGGLERS = 1u << 3,    /* after the agent exited, processes of its tree were
                                            still alive and got SIGKILL */
    RS_RUNNER_F_SURVIVORS = 1u << 4,     /* processes of the tree were still alive when the
                                            finish was reported (unkillable, e.g. state D) */
    RS_RUNNER_F_READ_ERROR = 1u << 5,    /* reading a pipe failed (other than EOF) */
};

/* Default for rs_runner_opts.pipe_drain_timeout_ms when it is 0. */
#define RS_RUNNER_DRAIN_DEFAULT_MS 2000
/* The setpriv binary used for the parent-death signal. */
#define RS_RUNNER_SETPRIV "/usr/bin/setpriv"

/* Raw output bytes; @data is only valid during the call. */
typedef void (*rs_runner_output_cb)(void *userdata, const char *data, size_t len);
/*
 * Called exactly once per started runner, after the agent exited, both
 * pipes are closed, the tree was killed and every uv handle of the runner
 * is closed. @exit_status and @term_signal as libuv reports them (a signal
 * death has exit_status 0). The callback may call rs_runner_free().
 */
typedef void (*rs_runner_finish_cb)(void *userdata, int64_t exit_status, int term_signal,
                                    unsigned flags);

struct rs_runner_opts {
    /* Command and arguments, NULL-terminated; argv[0] is looked up like execvp(3). */
    const char *const *argv;
    /* Full environment ("K=V", NULL-terminated); NULL = the supervisor's environ. */
    const char *const *envp;
    /* Working directory of the agent; NULL = the supervisor's. */
    const char *cwd;
    /* Value of RALPHSUP_RUN_TOKEN, e.g. "<batch>:<iteration>:<random>"; required. */
    const char *token;
    /* The ralphsup binary to run as the keeper (`EXE keeper …`); NULL: setpriv. */
    const char *keeper_exe;
    /* More keeper options before its `--` (the fence: "--fence", "N", "--write", P…), NULL-terminated;
     * given without a keeper, rs_runner_start() refuses with -EOPNOTSUPP. */
    const char *const *keeper_args;
    /* The keeper's grace between SIGTERM and SIGKILL once the supervisor is gone. */
    uint64_t keeper_grace_ms;
    /* Spawn without any wrapper, keeper or setpriv (also done when setpriv is missing). */
    bool no_pdeathsig;
    /* How long to wait for pipe EOF after the agent exited; 0 = default. */
    uint64_t pipe_drain_timeout_ms;
    rs_runner_output_cb on_stdout; /* may be NULL: output is discarded */
    rs_runner_output_cb on_stderr; /* may be NULL */
    rs_runner_finish_cb on_finish; /* may be NULL */
    void *userdata;
};

/*
 * rs_runner_resolve_command() - find @cmd the way execvp(3) does: a name
 * containing '/' is taken as is (relative to @cwd when relative and @cwd is
 * set), otherwise each element of @path (NULL: "/usr/local/bin:/usr/bin:/bin";
 * an empty element means @cwd) is tried. Sets *@out to the path found
 * (caller frees).
 * Return: 0, -ENOENT (not found), -EACCES (found but not an executable
 * regular file), or negative errno.
 */
int rs_runner_resolve_command(const char *cmd, const char *path, const char *cwd, char **out);

/*
 * rs_runner_start() - spawn the agent on @loop. Every option is copied;
 * nothing of @o is retained. The command is resolved before spawning, so
 * an agent command that does not exist or is not executable is reported
 * here and not as an exit status of the setpriv wrapper.
 * On success *@out owns the runner; free it with rs_runner_free() (usually
 * from or after on_finish). On failure nothing is spawned, *@out is not set,
 * and any uv handle already initialised is closed and released by the loop
 * on its next run (so run the loop before uv_loop_close()).
 * Return: 0; -EINVAL (bad options); -ENOENT / -EACCES (agent command not
 * found / not executable); -ENOTDIR (@cwd missing or not a directory);
 * or the negative errno of uv_spawn.
 */
int rs_runner_start(uv_loop_t *loop, const struct rs_runner_opts *o, struct rs_runner **out);

/* PID of the process spawned, the keeper's when there is one (also the process group id). */
pid_t rs_runner_pid(const struct rs_runner *r);
/* True when the agent runs under setpriv --pdeathsig KILL or the keeper. */
bool rs_runner_has_pdeathsig(const struct rs_runner *r);
/* True once on_finish has been called. */
bool rs_runner_finished(const struct rs_runner *r);

/*
 * rs_runner_stop() - graceful stop: SIGTERM to the whole tree (process group,
 * run token, descendants), then SIGKILL to whatever of it is still alive
 * after @grace_ms. A second call may only shorten the grace period.
 * The finish is reported through on_finish as usual.
 * Return: 0 (also when the run is already finishing), or negative errno.
 */
int rs_runner_stop(struct rs_runner *r, uint64_t grace_ms);

/*
 * rs_runner_kill() - SIGKILL to the whole tree now (e.g. second Ctrl-C).
 * Return: 0 (also when the run is already finishing), or negative errno.
 */
int rs_runner_kill(struct rs_runner *r);

/*
 * rs_runner_free() - release the runner. After on_finish this frees at once.
 * Before it, the tree is killed, the callbacks are disabled, and the memory
 * is released by the loop once the agent is gone and every handle closed
 * (the loop must keep running). NULL-safe.
 * Return: NULL.
 */
struct rs_runner *rs_runner_free(struct rs_runner *r);

/*
 * rs_runner_reaper_start() - reap zombies of orphans reparented to this
 * process (see rs_proctree_become_subreaper()): on every SIGCHLD the
 * children that are zombies and are not owned by a uv process handle on
 * @loop are reaped with waitpid(pid, WNOHANG), one by one. The watcher does
 * not keep the loop alive. Children that this process spawns outside libuv
 * and waits for itself must not exist while the reaper runs.
 * Return: 0, or negative errno.
 */
int rs_runner_reaper_start(uv_loop_t *loop, struct rs_runner_reaper **out);
/* Number of zombies reaped so far. */
unsigned rs_runner_reaper_count(const struct rs_runner_reaper *rp);
/*
 * rs_runner_reaper_close() - stop reaping; the memory is released in the
 * close callback (run the loop once more). NULL-safe.
 * Return: NULL.
 */
struct rs_runner_reaper *rs_runner_reaper_close(struct rs_runner_reaper *rp);
