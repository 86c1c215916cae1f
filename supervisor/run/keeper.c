/* SPDX-License-Identifier: MIT */
/*
 * The iteration keeper's loop (see include/ralphsup/run/keeper.h for the
 * contract). Life of a keeper: become a child subreaper, arm the
 * parent-death signal, block SIGCHLD/SIGTERM/SIGINT/SIGHUP into a signalfd,
 * fork the agent (which gets the old signal mask back and execs), point
 * the keeper's own stdout/stderr at /dev/null, then poll the signalfd and
 * the supervisor's pipe:
 *
 *   SIGCHLD      reap every zombie child (orphans of the tree come here too);
 *                the agent's status is kept.
 *   TERM/INT/HUP SIGTERM below us, SIGKILL after the grace period.
 *   pipe EOF, parent changed, or the parent-death signal
 *                the supervisor is gone: SIGTERM below us, SIGKILL after
 *                the grace period, and exit only when nothing is left
 *                alive and no zombie child is unreaped (bounded:
 *                KILL_WAIT_MS after the SIGKILL).
 *
 * With the supervisor alive the keeper exits as soon as the agent has, with
 * its status; whatever the agent left behind is then the supervisor's, as
 * before the keeper existed (it is a subreaper too and kills the tree by
 * group and token at the finish).
 *
 * "Below us" is rs_proctree_signal_below(): every descendant through PPid
 * links plus every carrier of the run token, so even a process that
 * escaped the reparenting (it cannot, while we live) is found.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ralphsup/base/util.h"
#include "ralphsup/run/keeper.h"
#include "ralphsup/run/proctree.h"
#include "ralphsup/run/sandbox.h"

/* How often the tree is counted while waiting for it to vanish. */
#define POLL_MS 50
/* How long after the SIGKILL the keeper waits for the tree to vanish (state D). */
#define KILL_WAIT_MS 2000
/* How often getppid() is checked when nothing else happens. */
#define PARENT_CHECK_MS 1000

struct keeper {
    const struct rs_keeper_opts *o;
    pid_t self;
    pid_t parent;
    pid_t agent;
    int status;
    bool agent_done;
    bool gone;        /* the supervisor is gone */
    bool term;        /* TERM sent below us (signal, or gone) */
    bool killed;      /* KILL sent below us */
    int64_t kill_at;  /* when the grace period ends */
    int64_t give_up;  /* gone: when to stop waiting after the KILL */
};

/* Reap every zombie child. Return: true when no child is left at all (ECHILD). */
static bool reap(struct keeper *k)
{
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p < 0 && errno == EINTR)
            continue;
        if (p <= 0)
            return p < 0 && errno == ECHILD;
        if (p == k->agent && !k->agent_done) {
            k->agent_done = true;
            k->status = st;
        }
    }
}

static void start_term(struct keeper *k)
{
    if (k->term)
        return;
    k->term = true;
    (void)rs_proctree_signal_below(k->self, k->o->token, SIGTERM);
    k->kill_at = rs_mono_ms() + (k->o->grace_ms > 0 ? k->o->grace_ms : 0);
}

static void do_kill(struct keeper *k)
{
    (void)rs_proctree_signal_below(k->self, k->o->token, SIGKILL);
    if (!k->killed) {
        k->killed = true;
        k->give_up = rs_mono_ms() + KILL_WAIT_MS;
    }
}

static void check_parent(struct keeper *k)
{
    if (!k->gone && getppid() != k->parent)
        k->gone = true;
}

static void drain_signals(struct keeper *k, int sfd)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD)
            continue; /* reaped below, whatever the count */
        /* The parent-death signal is SIGTERM too; getppid() tells them apart. */
        check_parent(k);
        start_term(k);
    }
    reap(k);
}

static void watch_event(struct keeper *k, short revents)
{
    char buf[256];
    if (revents & POLLIN) {
        ssize_t n = read(k->o->watch_fd, buf, sizeof buf);
        if (n > 0)
            return; /* nothing is ever written; ignore it */
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return;
    }
    k->gone = true; /* EOF, POLLHUP or an error: no writer left */
}

static _Noreturn void exec_agent(const struct rs_keeper_opts *o, const sigset_t *oldmask, int sfd)
{
    close(sfd);
    if (o->watch_fd >= 0)
        close(o->watch_fd);
    (void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    (void)prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    sigprocmask(SIG_SETMASK, oldmask, NULL);
    /* main.c ignores these two, and an ignored signal survives exec: the agent gets the defaults. */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    if (o->fence_abi > 0) {
        const char *bad = NULL;
        int r = rs_sandbox_apply(o->fence_abi, o->fence_paths, o->nfence_paths, &bad);
        if (r < 0) {
            dprintf(STDERR_FILENO, "ralphsup keeper: cannot apply the Landlock fence%s%s: %s\n", bad ? " to " : "",
                    bad ? bad : "", strerror(-r));
            _exit(126);
        }
    }
    execv(o->argv[0], o->argv);
    int e = errno;
    dprintf(STDERR_FILENO, "ralphsup keeper: cannot execute %s: %s\n", o->argv[0], strerror(e));
    _exit(127);
}

int rs_keeper_run(const struct rs_keeper_opts *o)
{
    if (!o || !o->argv || !o->argv[0])
        return -EINVAL;
    struct keeper k = {.o = o, .self = getpid(), .parent = getppid()};

    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return -errno;
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);

    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
        return -errno;
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        return -errno;
    if (o->watch_fd >= 0)
        (void)fcntl(o->watch_fd, F_SETFD, FD_CLOEXEC);

    k.agent = fork();
    if (k.agent < 0) {
        int e = -errno;
        close(sfd);
        return e;
    }
    if (k.agent == 0)
        exec_agent(o, &old, sfd);

    /* Only the agent's tree holds the pipes now: their EOF is its. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    /* The supervisor may have died before the parent-death signal was armed. */
    check_parent(&k);

    for (;;) {
        reap(&k);
        if (k.gone)
            start_term(&k);
        if (k.agent_done && !k.gone)
            break;
        int64_t now = rs_mono_ms();
        if (k.term && now >= k.kill_at)
            do_kill(&k);
        if (k.gone && k.agent_done && (k.killed || k.term)) {
            int left = rs_proctree_count_below(k.self, o->token);
            /* Nothing alive below us; leave no zombie child either (reparented, it would linger). */
            if (left == 0 && reap(&k))
                break;
            if (k.killed && rs_mono_ms() >= k.give_up)
                break;
            if (left < 0 && k.killed)
                break;
        }
        if (k.gone && !k.agent_done && k.killed && rs_mono_ms() >= k.give_up)
            break; /* an agent that cannot be killed (state D): give up */

        int timeout = PARENT_CHECK_MS;
        if (k.term && !k.killed) {
            int64_t left = k.kill_at - rs_mono_ms();
            timeout = left <= 0 ? 0 : (left < POLL_MS ? (int)left : POLL_MS);
        } else if (k.killed || k.gone) {
            timeout = POLL_MS;
        }
        struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = -1}};
        if (o->watch_fd >= 0 && !k.gone)
            p[1] = (struct pollfd){.fd = o->watch_fd, .events = POLLIN};
        int n = poll(p, 2, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && p[0].revents)
            drain_signals(&k, sfd);
        if (n > 0 && p[1].fd >= 0 && p[1].revents)
            watch_event(&k, p[1].revents);
        check_parent(&k);
    }
    close(sfd);
    if (!k.agent_done)
        return (SIGKILL & 0x7f); /* as if killed: the agent's status is unknown */
    return k.status;
}

_Noreturn void rs_keeper_exit(int status)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        struct rlimit no_core = {0, 0};
        (void)setrlimit(RLIMIT_CORE, &no_core);
        signal(sig, SIG_DFL);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, sig);
        sigprocmask(SIG_UNBLOCK, &s, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}
