/* SPDX-License-Identifier: MIT */
/*
 * One agent process on a libuv loop, from spawn to "nothing of it is left".
 *
 * Life of a runner: resolve the command (execvp rules) so that "not found"
 * is an error of rs_runner_start() and not the wrapper's exit 127; spawn it
 * detached (own session, pgid == pid) with RALPHSUP_RUN_TOKEN added to its
 * environment, wrapped in the iteration keeper (`ralphsup keeper --grace MS
 * --token T --watch-fd 3 --`, run/keeper.c, when the caller names the
 * binary; fd 3 is the read end of a pipe whose write end only this runner
 * holds, so its EOF means the supervisor is gone) or else in `setpriv
 * --pdeathsig KILL --`; read stdout and stderr into the caller's callbacks. The run ends when three things have
 * happened in any order: exit_cb, EOF on stdout, EOF on stderr. After the
 * exit a drain timer bounds the wait for EOF (a grandchild may hold a
 * pipe); when it fires the tree is killed and the pipes are closed. Then the
 * tree gets SIGKILL, a short poll waits until no process of it is alive,
 * every handle is closed, and only then on_finish is called, once.
 *
 * Memory: the object holds five uv handles (process, two pipes, two timers)
 * and counts pending closes; it is released only after the last close
 * callback, whether the caller freed it early or spawning failed.
 *
 * Deliberately not here: parsing the output, deciding when to stop, logging.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ralphsup/base/common.h"
#include "ralphsup/run/proctree.h"
#include "ralphsup/run/runner.h"
#include "ralphsup/base/util.h"

extern char **environ;

/* Interval and limit of the poll that waits for killed processes to vanish. */
#define FINISH_POLL_MS 10
#define FINISH_POLL_LIMIT_MS 2000
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

struct rs_runner {
    uv_loop_t *loop;
    uv_process_t proc;
    uv_pipe_t out;
    uv_pipe_t err;
    uv_timer_t t_grace;
    uv_timer_t t_drain; /* drain timeout; then the finish poll */

    int pending; /* handles initialised and not closed yet */
    pid_t pid;
    char *token;
    unsigned long long since; /* rs_proctree_ticks_now() before the spawn */
    uint64_t drain_ms;
    uint64_t grace_deadline;
    uint64_t poll_deadline;

    rs_runner_output_cb on_stdout;
    rs_runner_output_cb on_stderr;
    rs_runner_finish_cb on_finish;
    void *userdata;

    int watch_fd; /* write end of the keeper's pipe; -1 without a keeper */
    bool pdeathsig;
    bool keeper;
    bool spawned;
    bool exited;
    bool out_done;
    bool err_done;
    bool grace_active;
    bool finishing; /* exit + both pipes done: tearing down */
    bool closed;    /* every handle closed */
    bool reported;  /* on_finish called */
    bool freed;     /* release the memory as soon as closed */

    int64_t exit_status;
    int term_signal;
    unsigned flags;

    char buf[65536]; /* read buffer shared by both pipes (reads are sequential) */
};

/* ---- command resolution ------------------------------------------------ */

static int check_exec(const char *p)
{
    struct stat st;
    if (stat(p, &st) < 0)
        return errno == ENOTDIR ? -ENOENT : -errno;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    if (access(p, X_OK) < 0)
        return -errno;
    return 0;
}

int rs_runner_resolve_command(const char *cmd, const char *path, const char *cwd, char **out)
{
    if (!cmd || !out)
        return -EINVAL;
    if (!*cmd)
        return -ENOENT;
    if (strchr(cmd, '/')) {
        char *full = cwd ? rs_path_join(cwd, cmd) : rs_xstrdup(cmd);
        int r = check_exec(full);
        if (r < 0) {
            free(full);
            return r;
        }
        *out = full;
        return 0;
    }
    if (!path)
        path = DEFAULT_PATH;
    bool seen_eacces = false;
    const char *p = path;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char *dir = len ? rs_xstrndup(p, len) : rs_xstrdup(".");
        char *base = (dir[0] != '/' && cwd) ? rs_path_join(cwd, dir) : rs_xstrdup(dir);
        char *cand = rs_path_join(base, cmd);
        free(dir);
        free(base);
        int r = check_exec(cand);
        if (r == 0) {
            *out = cand;
            return 0;
        }
        free(cand);
        if (r == -EACCES)
            seen_eacces = true;
        if (!colon)
            break;
        p = colon + 1;
    }
    return seen_eacces ? -EACCES : -ENOENT;
}

/* ---- teardown ------------------------------------------------------------ */

static void free_mem(struct rs_runner *r)
{
    if (r->watch_fd >= 0)
        close(r->watch_fd);
    free(r->token);
    free(r);
}

static void all_closed(struct rs_runner *r)
{
    r->closed = true;
    if (r->freed || !r->finishing) {
        /* Freed by the caller, or spawning failed: nobody to report to. */
        if (r->freed)
            free_mem(r);
        return;
    }
    r->reported = true;
    rs_runner_finish_cb cb = r->on_finish;
    /* The callback may free r: nothing touches r after it. */
    if (cb)
        cb(r->userdata, r->exit_status, r->term_signal, r->flags);
}

static void on_close(uv_handle_t *h)
{
    struct rs_runner *r = h->data;
    if (--r->pending == 0)
        all_closed(r);
}

static void close_handle(struct rs_runner *r, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_close);
}

static void close_all(struct rs_runner *r)
{
    close_handle(r, (uv_handle_t *)&r->t_grace);
    close_handle(r, (uv_handle_t *)&r->t_drain);
    close_handle(r, (uv_handle_t *)&r->out);
    close_handle(r, (uv_handle_t *)&r->err);
    /* The process handle is closed in exit_cb (never before: issue #1911). */
}

static void pipe_done(struct rs_runner *r, uv_pipe_t *p)
{
    bool *done = p == &r->out ? &r->out_done : &r->err_done;
    if (*done)
        return;
    *done = true;
    uv_read_stop((uv_stream_t *)p);
    close_handle(r, (uv_handle_t *)p);
}

/* SIGKILL the tree; remember stragglers when the agent already exited. */
static void kill_tree(struct rs_runner *r)
{
    int n = rs_proctree_signal_tree_since(r->pid, r->token, r->since, SIGKILL);
    if (r->exited && n > 0)
        r->flags |= RS_RUNNER_F_STRAGGLERS;
}

static void finish_poll_cb(uv_timer_t *t)
{
    struct rs_runner *r = t->data;
    kill_tree(r);
    int alive = rs_proctree_count_tree_since(r->pid, r->token, r->since);
    if (alive == 0)
        goto done;
    uv_update_time(r->loop);
    if (alive < 0 || uv_now(r->loop) >= r->poll_deadline) {
        r->flags |= RS_RUNNER_F_SURVIVORS;
        goto done;
    }
    return;
done:
    uv_timer_stop(t);
    close_all(r);
}

static void begin_finish(struct rs_runner *r)
{
    r->finishing = true;
    uv_timer_stop(&r->t_grace);
    uv_timer_stop(&r->t_drain);
    kill_tree(r);
    if (rs_proctree_count_tree_since(r->pid, r->token, r->since) == 0) {
        close_all(r);
        return;
    }
    /* SIGKILL is asynchronous: wait until the killed processes are gone. */
    uv_update_time(r->loop);
    r->poll_deadline = uv_now(r->loop) + FINISH_POLL_LIMIT_MS;
    uv_timer_start(&r->t_drain, finish_poll_cb, FINISH_POLL_MS, FINISH_POLL_MS);
}

static void check_progress(struct rs_runner *r)
{
    if (!r->finishing && r->exited && r->out_done && r->err_done)
        begin_finish(r);
}

/* ---- callbacks ----------------------------------------------------------- */

static void drain_cb(uv_timer_t *t)
{
    struct rs_runner *r = t->data;
    /* A descendant still holds a pipe after the agent exited: end it. */
    kill_tree(r);
    if (!r->out_done || !r->err_done)
        r->flags |= RS_RUNNER_F_PIPES_FORCED;
    pipe_done(r, &r->out);
    pipe_done(r, &r->err);
    check_progress(r);
}

static void grace_cb(uv_timer_t *t)
{
    struct rs_runner *r = t->data;
    r->grace_active = false;
    if (!r->exited)
        r->flags |= RS_RUNNER_F_KILLED;
    kill_tree(r);
}

static void exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct rs_runner *r = p->data;
    r->exited = true;
    r->exit_status = exit_status;
    r->term_signal = term_signal;
    close_handle(r, (uv_handle_t *)p);
    if (!r->out_done || !r->err_done)
        uv_timer_start(&r->t_drain, drain_cb, r->drain_ms, 0);
    check_progress(r);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct rs_runner *r = h->data;
    buf->base = r->buf;
    buf->len = sizeof r->buf;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct rs_runner *r = s->data;
    uv_pipe_t *p = (uv_pipe_t *)s;
    if (nread > 0) {
        rs_runner_output_cb cb = p == &r->out ? r->on_stdout : r->on_stderr;
        if (cb && !r->freed)
            cb(r->userdata, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return; /* EAGAIN, not EOF */
    if (nread != UV_EOF)
        r->flags |= RS_RUNNER_F_READ_ERROR;
    pipe_done(r, p);
    check_progress(r);
}

/* ---- start --------------------------------------------------------------- */

static const char *env_path(const char *const *envp)
{
    for (size_t i = 0; envp[i]; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0)
            return envp[i] + 5;
    return NULL;
}

static bool token_valid(const char *t)
{
    return t && *t && strlen(t) <= RS_PROCTREE_TOKEN_MAX;
}

static void init_handle_data(struct rs_runner *r)
{
    r->out.data = r;
    r->err.data = r;
    r->t_grace.data = r;
    r->t_drain.data = r;
    r->proc.data = r;
}

int rs_runner_start(uv_loop_t *loop, const struct rs_runner_opts *o, struct rs_runner **out)
{
    if (!loop || !o || !out || !o->argv || !o->argv[0] || !token_valid(o->token))
        return -EINVAL;

    if (o->cwd) {
        struct stat st;
        if (stat(o->cwd, &st) < 0 || !S_ISDIR(st.st_mode))
            return -ENOTDIR;
    }
    const char *const *src_env = o->envp ? o->envp : (const char *const *)environ;
    char *resolved = NULL;
    int ret = rs_runner_resolve_command(o->argv[0], env_path(src_env), o->cwd, &resolved);
    if (ret < 0)
        return ret;

    struct rs_runner *r = rs_xcalloc(1, sizeof *r);
    r->loop = loop;
    r->token = rs_xstrdup(o->token);
    r->drain_ms = o->pipe_drain_timeout_ms ? o->pipe_drain_timeout_ms : RS_RUNNER_DRAIN_DEFAULT_MS;
    r->on_stdout = o->on_stdout;
    r->on_stderr = o->on_stderr;
    r->on_finish = o->on_finish;
    r->userdata = o->userdata;
    r->watch_fd = -1;
    r->keeper = o->keeper_exe && !o->no_pdeathsig;
    r->pdeathsig = r->keeper || (!o->no_pdeathsig && access(RS_RUNNER_SETPRIV, X_OK) == 0);
    size_t nka = rs_strv_len((char *const *)o->keeper_args);
    if (nka && !r->keeper) {
        free(resolved);
        free_mem(r);
        return -EOPNOTSUPP; /* a fence is applied by the keeper only: never run unfenced instead */
    }

    /* The keeper's pipe: both ends close-on-exec here; libuv dups the read end to fd 3. */
    int wp[2] = {-1, -1};
    if (r->keeper && (pipe(wp) < 0 || fcntl(wp[0], F_SETFD, FD_CLOEXEC) < 0 ||
                      fcntl(wp[1], F_SETFD, FD_CLOEXEC) < 0)) {
        ret = -errno;
        if (wp[0] >= 0) {
            close(wp[0]);
            close(wp[1]);
        }
        free(resolved);
        free_mem(r);
        return ret;
    }
    r->watch_fd = wp[1];

    /* argv: [keeper … -- | setpriv --pdeathsig KILL --] resolved args... */
    size_t argc = rs_strv_len((char *const *)o->argv);
    char **args = rs_xcalloc(argc + nka + 12, sizeof *args);
    char grace[32];
    snprintf(grace, sizeof grace, "%llu", (unsigned long long)o->keeper_grace_ms);
    size_t k = 0;
    if (r->keeper) {
        args[k++] = (char *)o->keeper_exe;
        args[k++] = (char *)"keeper";
        args[k++] = (char *)"--grace";
        args[k++] = grace;
        args[k++] = (char *)"--token";
        args[k++] = (char *)o->token;
        args[k++] = (char *)"--watch-fd";
        args[k++] = (char *)"3";
        for (size_t i = 0; i < nka; i++)
            args[k++] = (char *)o->keeper_args[i];
        args[k++] = (char *)"--";
        args[k++] = resolved;
    } else if (r->pdeathsig) {
        args[k++] = (char *)RS_RUNNER_SETPRIV;
        args[k++] = (char *)"--pdeathsig";
        args[k++] = (char *)"KILL";
        args[k++] = (char *)"--";
        args[k++] = resolved;
    } else {
        args[k++] = (char *)o->argv[0];
    }
    for (size_t i = 1; i < argc; i++)
        args[k++] = (char *)o->argv[i];
    args[k] = NULL;

    /* env: the caller's, minus any inherited token, plus ours. */
    char *token_entry = rs_xasprintf(RS_PROCTREE_TOKEN_VAR "=%s", o->token);
    char **env = rs_env_merge((char *const *)src_env, &token_entry, 1, NULL, 0);
    free(token_entry);

    init_handle_data(r);
    uv_pipe_init(loop, &r->out, 0);
    uv_pipe_init(loop, &r->err, 0);
    uv_timer_init(loop, &r->t_grace);
    uv_timer_init(loop, &r->t_drain);
    r->pending = 4;

    uv_stdio_container_t stdio[4];
    memset(stdio, 0, sizeof stdio);
    stdio[0].flags = UV_IGNORE; /* libuv opens /dev/null for fds 0-2 */
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&r->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&r->err;
    stdio[3].flags = UV_INHERIT_FD;
    stdio[3].data.fd = wp[0];

    uv_process_options_t po;
    memset(&po, 0, sizeof po);
    po.exit_cb = exit_cb;
    po.file = r->keeper ? o->keeper_exe : r->pdeathsig ? RS_RUNNER_SETPRIV : resolved;
    po.args = args;
    po.env = env;
    po.cwd = o->cwd;
    po.flags = UV_PROCESS_DETACHED;
    po.stdio_count = r->keeper ? 4 : 3;
    po.stdio = stdio;

    /* Every process of the run starts after this: older ones need no token check. */
    r->since = rs_proctree_ticks_now();
    /* uv_spawn initialises the process handle even when it fails. */
    ret = uv_spawn(loop, &r->proc, &po);
    r->pending++;
    r->proc.data = r;
    if (wp[0] >= 0)
        close(wp[0]); /* the keeper has its copy; only the write end stays here */
    rs_strv_free(env);
    free(args);
    free(resolved);

    if (ret < 0) {
        r->freed = true;
        r->out_done = r->err_done = true;
        close_handle(r, (uv_handle_t *)&r->proc);
        close_all(r);
        return ret;
    }
    r->spawned = true;
    r->pid = r->proc.pid;
    if (uv_read_start((uv_stream_t *)&r->out, alloc_cb, read_cb) < 0) {
        r->flags |= RS_RUNNER_F_READ_ERROR;
        pipe_done(r, &r->out);
    }
    if (uv_read_start((uv_stream_t *)&r->err, alloc_cb, read_cb) < 0) {
        r->flags |= RS_RUNNER_F_READ_ERROR;
        pipe_done(r, &r->err);
    }
    *out = r;
    return 0;
}

/* ---- control ------------------------------------------------------------- */

pid_t rs_runner_pid(const struct rs_runner *r)
{
    return r ? r->pid : 0;
}

bool rs_runner_has_pdeathsig(const struct rs_runner *r)
{
    return r && r->pdeathsig;
}

bool rs_runner_finished(const struct rs_runner *r)
{
    return r && r->reported;
}

int rs_runner_stop(struct rs_runner *r, uint64_t grace_ms)
{
    if (!r || !r->spawned)
        return -EINVAL;
    if (r->finishing)
        return 0;
    if (!r->exited)
        r->flags |= RS_RUNNER_F_TERM_SENT;
    int n = rs_proctree_signal_tree_since(r->pid, r->token, r->since, SIGTERM);
    uv_update_time(r->loop);
    uint64_t deadline = uv_now(r->loop) + grace_ms;
    if (!r->grace_active || deadline < r->grace_deadline) {
        r->grace_active = true;
        r->grace_deadline = deadline;
        uv_timer_start(&r->t_grace, grace_cb, grace_ms, 0);
    }
    return n < 0 ? n : 0;
}

int rs_runner_kill(struct rs_runner *r)
{
    if (!r || !r->spawned)
        return -EINVAL;
    if (r->finishing)
        return 0;
    if (!r->exited)
        r->flags |= RS_RUNNER_F_KILLED;
    uv_timer_stop(&r->t_grace);
    r->grace_active = false;
    int n = rs_proctree_signal_tree_since(r->pid, r->token, r->since, SIGKILL);
    if (r->exited && n > 0)
        r->flags |= RS_RUNNER_F_STRAGGLERS;
    return n < 0 ? n : 0;
}

struct rs_runner *rs_runner_free(struct rs_runner *r)
{
    if (!r)
        return NULL;
    if (r->closed) {
        free_mem(r);
        return NULL;
    }
    r->on_stdout = r->on_stderr = NULL;
    r->on_finish = NULL;
    if (!r->finishing)
        rs_runner_kill(r);
    r->freed = true;
    return NULL;
}

/* ---- reaper -------------------------------------------------------------- */

struct rs_runner_reaper {
    uv_signal_t sig;
    uv_loop_t *loop;
    unsigned count;
    pid_t *keep;
    size_t nkeep;
    size_t capkeep;
};

static void collect_process_pid(uv_handle_t *h, void *arg)
{
    struct rs_runner_reaper *rp = arg;
    if (uv_handle_get_type(h) != UV_PROCESS)
        return;
    pid_t pid = uv_process_get_pid((uv_process_t *)h);
    if (pid <= 0)
        return;
    rp->keep = rs_xgrow(rp->keep, rp->nkeep, &rp->capkeep, sizeof *rp->keep, 16);
    rp->keep[rp->nkeep++] = pid;
}

static void reap_now(struct rs_runner_reaper *rp)
{
    /*
     * Every child that libuv owns has a process handle on this loop (from
     * uv_spawn until uv_close), so listing them keeps their statuses for
     * libuv's own waitpid; everything else that is a zombie child of ours
     * is an orphan reparented to this subreaper.
     */
    rp->nkeep = 0;
    uv_walk(rp->loop, collect_process_pid, rp);
    int n = rs_proctree_reap_zombies(rp->keep, rp->nkeep);
    if (n > 0)
        rp->count += (unsigned)n;
}

static void reaper_signal_cb(uv_signal_t *s, int signum)
{
    reap_now(s->data);
}

int rs_runner_reaper_start(uv_loop_t *loop, struct rs_runner_reaper **out)
{
    if (!loop || !out)
        return -EINVAL;
    struct rs_runner_reaper *rp = rs_xcalloc(1, sizeof *rp);
    rp->loop = loop;
    int r = uv_signal_init(loop, &rp->sig);
    if (r < 0) {
        free(rp);
        return r;
    }
    rp->sig.data = rp;
    r = uv_signal_start(&rp->sig, reaper_signal_cb, SIGCHLD);
    if (r < 0) {
        rs_runner_reaper_close(rp);
        return r;
    }
    uv_unref((uv_handle_t *)&rp->sig);
    reap_now(rp); /* zombies from before the watcher existed */
    *out = rp;
    return 0;
}

unsigned rs_runner_reaper_count(const struct rs_runner_reaper *rp)
{
    return rp ? rp->count : 0;
}

static void reaper_closed(uv_handle_t *h)
{
    struct rs_runner_reaper *rp = h->data;
    free(rp->keep);
    free(rp);
}

struct rs_runner_reaper *rs_runner_reaper_close(struct rs_runner_reaper *rp)
{
    if (rp && !uv_is_closing((uv_handle_t *)&rp->sig))
        uv_close((uv_handle_t *)&rp->sig, reaper_closed);
    return NULL;
}
