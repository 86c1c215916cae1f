/* SPDX-License-Identifier: MIT */
/*
 * Notification commands, run off the loop (see the header). One job per
 * notification: a process handle, the stdin pipe that carries the event's
 * JSON, the stderr pipe whose first bytes explain a failure, and a timer —
 * first the timeout, then, once the command exited, a short linger for the
 * rest of its stderr (a grandchild that escaped the group could hold the
 * pipe open for ever). The job ends when its four handles are closed: only
 * then is the result reported, the memory freed and the next queued
 * notification started, so nothing is freed under libuv's feet.
 *
 * The command runs in its own session (UV_PROCESS_DETACHED: it leads its
 * process group), so the timeout, and the end of the run, kill the whole
 * group: a notification leaves nothing behind.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/run/notify.h"
#include "ralphsup/run/sdnotify.h"
#include "ralphsup/base/common.h"
#include "ralphsup/base/util.h"

extern char **environ;

#define ERR_KEEP 512
#define LINGER_MS 1000

struct job {
    struct rs_notifier *n;
    struct job *next;
    char **argv;
    uint64_t timeout_ms;
    char *event;
    char *json;
    char **vars;
    uv_process_t proc;
    uv_pipe_t in, err;
    uv_timer_t timer;
    uv_write_t wr;
    uv_buf_t wbuf;
    int open;             /* handles not yet closed */
    bool started, exited, timed_out, lingering;
    int spawn_error;
    int64_t exit_status;
    int term_signal;
    char errbuf[ERR_KEEP + 1];
    size_t errlen;
};

struct rs_notifier {
    uv_loop_t *loop;
    char *cwd;
    rs_notify_done_cb cb;
    void *ud;
    struct job *queue, *queue_tail; /* waiting */
    struct job *run[RS_NOTIFY_CONCURRENT];
    unsigned nqueued, nrunning;
    bool freeing;
};

static void job_free(struct job *j)
{
    rs_strv_free(j->argv);
    free(j->event);
    free(j->json);
    rs_strv_free(j->vars);
    free(j);
}

static void start_next(struct rs_notifier *n);

/* The problem text of a finished job, or NULL when it succeeded. */
static char *problem_of(const struct job *j)
{
    char what[128];
    if (j->spawn_error)
        snprintf(what, sizeof what, "cannot start %s: %s", j->argv[0], uv_strerror(j->spawn_error));
    else if (j->timed_out)
        snprintf(what, sizeof what, "timed out after %llu ms (process group killed)",
                 (unsigned long long)j->timeout_ms);
    else if (j->term_signal)
        snprintf(what, sizeof what, "killed by signal %d", j->term_signal);
    else if (j->exit_status)
        snprintf(what, sizeof what, "exit status %lld", (long long)j->exit_status);
    else
        return NULL;
    /* The first line of stderr says why, usually ("curl: (7) Failed to connect ..."). */
    size_t l = strcspn(j->errbuf, "\n");
    while (l > 0 && (j->errbuf[l - 1] == '\r' || j->errbuf[l - 1] == ' '))
        l--;
    return l ? rs_xasprintf("%s: %.*s", what, (int)l, j->errbuf) : rs_xstrdup(what);
}

static void on_closed(uv_handle_t *h)
{
    struct job *j = h->data;
    if (--j->open > 0)
        return;
    struct rs_notifier *n = j->n;
    n->nrunning--;
    for (size_t i = 0; i < RS_NOTIFY_CONCURRENT; i++)
        if (n->run[i] == j)
            n->run[i] = NULL;
    if (!n->freeing) {
        char *p = problem_of(j);
        n->cb(n->ud, j->event, p);
        free(p);
    }
    job_free(j);
    if (n->freeing) {
        if (!n->nrunning) {
            free(n->cwd);
            free(n);
        }
        return;
    }
    start_next(n);
}

static void close_once(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_closed);
}

static void kill_group(struct job *j)
{
    if (j->started && j->proc.pid > 0)
        kill(-j->proc.pid, SIGKILL);
}

static void on_timer(uv_timer_t *t)
{
    struct job *j = t->data;
    if (j->lingering) {
        /* The command exited long enough ago: stop waiting for the rest of its stderr. */
        close_once((uv_handle_t *)&j->err);
        close_once((uv_handle_t *)&j->timer);
        return;
    }
    j->timed_out = true;
    kill_group(j);
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct job *j = p->data;
    j->exited = true;
    j->exit_status = exit_status;
    j->term_signal = j->timed_out ? 0 : term_signal;
    /* Whatever the command left running in its group goes with it. */
    kill_group(j);
    close_once((uv_handle_t *)&j->proc);
    if (uv_is_closing((uv_handle_t *)&j->err)) {
        close_once((uv_handle_t *)&j->timer);
    } else {
        j->lingering = true;
        uv_timer_start(&j->timer, on_timer, LINGER_MS, 0);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    static char scratch[4096];
    (void)h;
    buf->base = scratch;
    buf->len = sizeof scratch;
}

static void on_err_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct job *j = s->data;
    if (nread > 0) {
        size_t room = ERR_KEEP - j->errlen;
        size_t take = (size_t)nread < room ? (size_t)nread : room;
        memcpy(j->errbuf + j->errlen, buf->base, take);
        j->errlen += take;
        j->errbuf[j->errlen] = '\0';
        return;
    }
    if (nread < 0) {
        close_once((uv_handle_t *)&j->err);
        if (j->exited)
            close_once((uv_handle_t *)&j->timer);
    }
}

static void on_written(uv_write_t *w, int status)
{
    (void)status; /* a command that does not read its stdin is not a failure */
    struct job *j = w->data;
    close_once((uv_handle_t *)&j->in);
}

/* ralphsup's environment without the service manager's variables (the job's vars replace their names). */
static bool inherited(const char *entry)
{
    return !rs_sdnotify_env_private(entry);
}

static void job_start(struct job *j)
{
    struct rs_notifier *n = j->n;
    n->nrunning++;
    for (size_t i = 0; i < RS_NOTIFY_CONCURRENT; i++)
        if (!n->run[i]) {
            n->run[i] = j;
            break;
        }
    uv_pipe_init(n->loop, &j->in, 0);
    uv_pipe_init(n->loop, &j->err, 0);
    uv_timer_init(n->loop, &j->timer);
    j->in.data = j->err.data = j->timer.data = j->proc.data = j->wr.data = j;
    j->open = 4;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&j->in},
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->err},
    };
    char **env = rs_env_merge(environ, j->vars, rs_strv_len(j->vars), inherited, 0);
    uv_process_options_t o = {.exit_cb = on_exit_cb, .file = j->argv[0], .args = j->argv, .env = env, .cwd = n->cwd,
                              .flags = UV_PROCESS_DETACHED, .stdio_count = 3, .stdio = stdio};
    int r = uv_spawn(n->loop, &j->proc, &o);
    rs_strv_free(env);
    if (r < 0) {
        j->spawn_error = r;
        close_once((uv_handle_t *)&j->proc);
        close_once((uv_handle_t *)&j->in);
        close_once((uv_handle_t *)&j->err);
        close_once((uv_handle_t *)&j->timer);
        return;
    }
    j->started = true;
    uv_timer_start(&j->timer, on_timer, j->timeout_ms, 0);
    uv_read_start((uv_stream_t *)&j->err, on_alloc, on_err_read);
    j->wbuf = uv_buf_init(j->json, (unsigned)strlen(j->json));
    if (uv_write(&j->wr, (uv_stream_t *)&j->in, &j->wbuf, 1, on_written) < 0)
        close_once((uv_handle_t *)&j->in);
}

static void start_next(struct rs_notifier *n)
{
    while (n->queue && n->nrunning < RS_NOTIFY_CONCURRENT) {
        struct job *j = n->queue;
        n->queue = j->next;
        if (!n->queue)
            n->queue_tail = NULL;
        n->nqueued--;
        job_start(j);
    }
}

struct rs_notifier *rs_notifier_new(uv_loop_t *loop, const char *cwd, rs_notify_done_cb cb, void *ud)
{
    struct rs_notifier *n = rs_xcalloc(1, sizeof(*n));
    n->loop = loop;
    n->cwd = cwd ? rs_xstrdup(cwd) : NULL;
    n->cb = cb;
    n->ud = ud;
    return n;
}

void rs_notifier_send(struct rs_notifier *n, char *const *argv, uint64_t timeout_ms, const char *event,
                      const char *json, char *const *vars)
{
    if (!n || n->freeing || !argv || !argv[0])
        return;
    if (n->nqueued >= RS_NOTIFY_QUEUE) {
        n->cb(n->ud, event, "dropped: too many notifications waiting");
        return;
    }
    struct job *j = rs_xcalloc(1, sizeof(*j));
    j->n = n;
    j->argv = rs_strv_dup(argv, rs_strv_len(argv));
    j->timeout_ms = timeout_ms ? timeout_ms : 1;
    j->event = rs_xstrdup(event);
    j->json = rs_xasprintf("%s\n", json);
    j->vars = rs_strv_dup(vars, rs_strv_len(vars));
    if (n->queue_tail)
        n->queue_tail->next = j;
    else
        n->queue = j;
    n->queue_tail = j;
    n->nqueued++;
    start_next(n);
}

unsigned rs_notifier_pending(const struct rs_notifier *n)
{
    return n ? n->nqueued + n->nrunning : 0;
}

struct rs_notifier *rs_notifier_free(struct rs_notifier *n)
{
    if (!n)
        return NULL;
    n->freeing = true;
    for (struct job *j = n->queue, *next; j; j = next) {
        next = j->next;
        job_free(j);
    }
    n->queue = n->queue_tail = NULL;
    n->nqueued = 0;
    if (!n->nrunning) {
        free(n->cwd);
        free(n);
        return NULL;
    }
    /* Running jobs: kill their groups; the last close callback frees @n. */
    for (size_t i = 0; i < RS_NOTIFY_CONCURRENT; i++)
        if (n->run[i])
            kill_group(n->run[i]);
    return NULL;
}
