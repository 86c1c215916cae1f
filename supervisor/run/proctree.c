/* SPDX-License-Identifier: MIT */
/*
 * Process trees through /proc: one scan reads /proc/PID/stat (state, PPid,
 * process group) of every process and, when a token is asked for,
 * /proc/PID/environ (read again while it is empty because the process is in
 * the middle of an execve); the tree of a run is the closure over PPid links of
 * everything that matches the group or the token (or, for the keeper, that
 * descends from a given root). Signalling repeats the scan
 * while it finds processes it has not signalled yet, so a child forked
 * between scan and kill is caught by the next round.
 *
 * Deliberately not here: libuv, timers, waiting for processes to die (the
 * runner polls with the count functions), and waitpid(-1): zombies are
 * reaped one pid at a time, never ones the caller says it owns.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ralphsup/base/common.h"
#include "ralphsup/run/proctree.h"
#include "ralphsup/base/util.h"

/* An environment larger than this is only searched in its first part. */
#define ENVIRON_MAX (8u << 20)
/* Rounds of scan + signal before giving up on a tree that keeps forking. */
#define SIGNAL_ROUNDS 8
/* How long an empty environment of a process in the middle of execve() is read again. */
#define EXEC_SETTLE_MS 100
/* PF_KTHREAD in the flags field of /proc/PID/stat: kernel threads have no environment. */
#define STAT_PF_KTHREAD 0x00200000u

struct pinfo {
    pid_t pid;
    pid_t ppid;
    pid_t pgrp;
    unsigned flags; /* the kernel's PF_* flags */
    unsigned long long starttime; /* clock ticks after boot */
    char state;
    bool in; /* member of the tree being computed */
};

struct snapshot {
    struct pinfo *v;
    size_t n;
    size_t cap;
};

enum match_mode { MATCH_NONE, MATCH_EXACT, MATCH_PREFIX };

struct query {
    pid_t leader;        /* 0: no group / leader part */
    pid_t root;          /* > 0: its children (and so all its descendants) are members, not itself */
    const char *token;   /* NULL: no token part */
    enum match_mode mode;
    unsigned long long since; /* > 0: only processes started at or after it can carry the token */
};

int rs_proctree_become_subreaper(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

static bool token_ok(const char *t)
{
    if (!t || !*t)
        return false;
    return strlen(t) <= RS_PROCTREE_TOKEN_MAX;
}

static bool is_dead(char state)
{
    return state == 'Z' || state == 'X' || state == 'x';
}

/* Parse /proc/PID/stat. Return: 0, or negative errno (-ENOENT/-ESRCH when gone). */
static int read_stat(pid_t pid, struct pinfo *pi)
{
    char path[64];
    char buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    if (n == 0)
        return -ESRCH;
    buf[n] = '\0';
    /* comm may contain spaces and ')': the fields start after the last ')'. */
    char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ')
        return -EINVAL;
    char st;
    int ppid, pgrp;
    unsigned flags;
    unsigned long long start;
    /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime
     * cstime priority nice num_threads itrealvalue starttime */
    if (sscanf(rp + 2, "%c %d %d %*d %*d %*d %u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &st, &ppid,
               &pgrp, &flags, &start) != 5)
        return -EINVAL;
    pi->starttime = start;
    pi->pid = pid;
    pi->ppid = (pid_t)ppid;
    pi->pgrp = (pid_t)pgrp;
    pi->flags = flags;
    pi->state = st;
    pi->in = false;
    return 0;
}

/* Read /proc/PID/environ (at most ENVIRON_MAX bytes) into @b. Return: 0 or negative errno. */
static int read_environ(pid_t pid, struct rs_buf *b)
{
    char path[64];
    char chunk[16384];
    rs_buf_reset(b);
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            return e;
        }
        if (n == 0)
            break;
        size_t take = (size_t)n;
        if (b->len + take > ENVIRON_MAX)
            take = ENVIRON_MAX - b->len;
        rs_buf_append(b, chunk, take);
        if (b->len >= ENVIRON_MAX)
            break;
    }
    close(fd);
    rs_buf_putc(b, '\0'); /* terminate a truncated last entry */
    return 0;
}

/* The first @cap bytes of /proc/PID/cmdline into @out; their number, or -1 when it cannot be read. */
static ssize_t read_cmdline(pid_t pid, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, out, cap);
    while (n < 0 && errno == EINTR);
    close(fd);
    return n;
}

/*
 * read_environ() of a live process @pi, but an empty result is not taken
 * while the process is in the middle of an execve(): the kernel installs the
 * new memory map before it copies argv and the environment into it, and for
 * that moment both /proc/PID/environ and /proc/PID/cmdline read empty. A tool
 * the agent started with setsid and left behind has neither group nor parent
 * leading to it, only the token; read at that moment it would be missed and
 * a finish could find "nothing left" while it runs on. So an empty
 * environment of a user process is read again every millisecond until it is
 * not empty, the process has died, or (at most EXEC_SETTLE_MS) it was empty
 * twice, a millisecond apart, with the same non-empty command line both
 * times: then it is really empty (`env -i`). The same command line matters:
 * a process that execs again and again (a shell script's `exec`) can be
 * caught in two different exec windows, each time with the command line of
 * the image before read a moment later. An ESRCH from a process that is
 * still alive is the same moment (no memory map to read yet) and is read
 * again too.
 */
static int read_environ_settled(const struct pinfo *pi, struct rs_buf *b)
{
    int64_t deadline = rs_mono_ms() + EXEC_SETTLE_MS;
    char prev[512], cur[512];
    ssize_t prevlen = 0;
    for (;;) {
        int r = read_environ(pi->pid, b);
        if (r == -ESRCH && !(pi->flags & STAT_PF_KTHREAD)) {
            /* Seen under load while the process is in execve(): open() finds no
             * memory map to read. Only a process that is gone says ESRCH for good. */
            struct pinfo now;
            if (read_stat(pi->pid, &now) < 0 || is_dead(now.state) || rs_mono_ms() >= deadline)
                return r;
            rs_sleep_ms(1);
            continue;
        }
        if (r < 0 || b->len > 1 || (pi->flags & STAT_PF_KTHREAD))
            return r;
        ssize_t n = read_cmdline(pi->pid, cur, sizeof cur);
        if (n > 0) {
            r = read_environ(pi->pid, b); /* the exec may have completed between the reads */
            if (r < 0 || b->len > 1)
                return r;
            if (n == prevlen && memcmp(cur, prev, (size_t)n) == 0)
                return r;
            memcpy(prev, cur, (size_t)n);
            prevlen = n;
        } else {
            prevlen = 0;
        }
        struct pinfo now;
        if (read_stat(pi->pid, &now) < 0 || is_dead(now.state) || rs_mono_ms() >= deadline)
            return r;
        rs_sleep_ms(1);
    }
}

/*
 * Find the token value in the environ block @b: returns a pointer into @b
 * (NUL-terminated) for the first entry matching @mode/@token, or for the
 * first token entry at all when @mode is MATCH_NONE; NULL if none.
 */
static const char *environ_token(const struct rs_buf *b, const char *token, enum match_mode mode)
{
    static const char var[] = RS_PROCTREE_TOKEN_VAR "=";
    const size_t vlen = sizeof var - 1;
    size_t tlen = token ? strlen(token) : 0;
    size_t off = 0;
    while (off < b->len) {
        const char *ent = b->data + off;
        size_t elen = strnlen(ent, b->len - off);
        if (elen > vlen && memcmp(ent, var, vlen) == 0) {
            const char *val = ent + vlen;
            if (mode == MATCH_NONE)
                return val;
            if (mode == MATCH_EXACT && strcmp(val, token) == 0)
                return val;
            if (mode == MATCH_PREFIX && strncmp(val, token, tlen) == 0)
                return val;
        }
        off += elen + 1;
    }
    return NULL;
}

static void snapshot_free(struct snapshot *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static bool protected_pid(pid_t pid)
{
    return pid <= 1 || pid == getpid();
}

static int cmp_pid(const void *a, const void *b)
{
    const struct pinfo *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static bool am_subreaper(void)
{
    int on = 0;
    return prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) == 0 && on;
}

/*
 * Mark in @mine the processes of @s (sorted by pid) that descend from this
 * process through PPid links. For a subreaper that is every process it
 * started, orphans included: a setsid'd, double-forked grandchild is
 * reparented to the nearest subreaper, never to init. A chain broken
 * because a parent exited during the scan counts as ours (a candidate).
 * 0 unknown, 1 ours (or a candidate), 2 not ours.
 */
static void mark_mine(const struct snapshot *s, unsigned char *mine)
{
    pid_t self = getpid();
    size_t *chain = rs_xmalloc((s->n + 1) * sizeof *chain);
    for (size_t i = 0; i < s->n; i++) {
        size_t len = 0, at = i;
        unsigned char verdict = 2;
        for (;;) {
            if (mine[at]) {
                verdict = mine[at];
                break;
            }
            chain[len++] = at;
            pid_t pp = s->v[at].ppid;
            if (pp == self) {
                verdict = 1;
                break;
            }
            if (pp <= 1 || len > s->n)
                break; /* reached init (or the kernel's threads): not ours */
            struct pinfo key = {.pid = pp};
            const struct pinfo *up = bsearch(&key, s->v, s->n, sizeof *s->v, cmp_pid);
            if (!up || up->starttime > s->v[at].starttime) {
                /* The parent exited during the scan (or its pid was reused by a younger
                 * process): the chain is broken, so the process stays a candidate. */
                verdict = 1;
                break;
            }
            at = (size_t)(up - s->v);
        }
        for (size_t k = 0; k < len; k++)
            mine[chain[k]] = verdict;
    }
    free(chain);
}

/*
 * Read all processes into @s (zombies included; the caller decides), sorted
 * by pid. When @q has a token, entries whose environment matches get in =
 * true. Reading another process's environment maps its memory and, for one
 * in the middle of an execve(), waits for it: so only candidates are read —
 * started no earlier than @q->since, and, for the tree of a live run when
 * this process is a subreaper, descendants of this process (the only place
 * such a tree's processes can be).
 * Return: 0, or negative errno of opendir("/proc").
 */
static int snapshot_take(struct snapshot *s, const struct query *q, struct rs_buf *scratch)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    s->n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (name[0] < '1' || name[0] > '9')
            continue;
        char *end;
        long v = strtol(name, &end, 10);
        if (*end || v <= 0)
            continue;
        struct pinfo pi;
        if (read_stat((pid_t)v, &pi) < 0)
            continue; /* vanished or unreadable */
        s->v = rs_xgrow(s->v, s->n, &s->cap, sizeof *s->v, 256);
        s->v[s->n++] = pi;
    }
    closedir(d);
    qsort(s->v, s->n, sizeof *s->v, cmp_pid);
    if (!q || !q->token || q->mode == MATCH_NONE)
        return 0;
    unsigned char *mine = NULL;
    if (q->mode == MATCH_EXACT && am_subreaper()) {
        mine = rs_xcalloc(s->n ? s->n : 1, 1);
        mark_mine(s, mine);
    }
    for (size_t i = 0; i < s->n; i++) {
        struct pinfo *pi = &s->v[i];
        /* Protected ones are never members: their environment is not read. */
        if (is_dead(pi->state) || protected_pid(pi->pid) || pi->starttime < q->since || (mine && mine[i] != 1))
            continue;
        if (read_environ_settled(pi, scratch) == 0 && environ_token(scratch, q->token, q->mode))
            pi->in = true;
    }
    free(mine);
    return 0;
}

/*
 * Mark the tree of @q in @s: leader, group members, token carriers (already
 * marked by snapshot_take), then descendants of marked processes until
 * nothing changes. Dead and protected processes are never members.
 */
static void mark_tree(struct snapshot *s, const struct query *q)
{
    for (size_t i = 0; i < s->n; i++) {
        struct pinfo *p = &s->v[i];
        if (q->leader > 0 && (p->pid == q->leader || p->pgrp == q->leader))
            p->in = true;
        if (q->root > 0 && p->ppid == q->root)
            p->in = true;
        if (is_dead(p->state) || protected_pid(p->pid))
            p->in = false;
    }
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t i = 0; i < s->n; i++) {
            struct pinfo *p = &s->v[i];
            if (p->in || is_dead(p->state) || protected_pid(p->pid))
                continue;
            for (size_t j = 0; j < s->n; j++) {
                if (s->v[j].in && s->v[j].pid == p->ppid) {
                    p->in = true;
                    changed = true;
                    break;
                }
            }
        }
    }
}

static bool pid_listed(const pid_t *v, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == pid)
            return true;
    return false;
}

/*
 * Signal (sig > 0) or count (sig == 0) the tree of @q.
 * Return: number of distinct processes signalled or counted, or negative errno.
 */
static int walk_tree(const struct query *q, int sig)
{
    struct snapshot s = {0};
    struct rs_buf scratch;
    rs_buf_init(&scratch);
    pid_t *done = NULL;
    size_t ndone = 0, capdone = 0;
    int r = 0;

    for (int round = 0; round < (sig ? SIGNAL_ROUNDS : 1); round++) {
        r = snapshot_take(&s, q, &scratch);
        if (r < 0) {
            /* Without /proc, the group kill is all that can be done. */
            if (sig && round == 0 && q->leader > 1)
                (void)kill(-q->leader, sig);
            if (round == 0)
                goto out;
            break; /* report what earlier rounds signalled */
        }
        mark_tree(&s, q);
        size_t fresh = 0;
        for (size_t i = 0; i < s.n; i++) {
            const struct pinfo *p = &s.v[i];
            if (!p->in || pid_listed(done, ndone, p->pid))
                continue;
            if (sig && kill(p->pid, sig) < 0)
                continue; /* ESRCH: gone meanwhile; EPERM: not ours to signal */
            done = rs_xgrow(done, ndone, &capdone, sizeof *done, 32);
            done[ndone++] = p->pid;
            fresh++;
        }
        /*
         * The group kill is one atomic syscall that also reaches members
         * forked after the scan. It comes after the per-process kills so
         * that those still find every member alive and the count is exact.
         */
        if (sig && round == 0 && q->leader > 1)
            (void)kill(-q->leader, sig);
        if (fresh == 0)
            break;
    }
    r = (int)ndone;
out:
    free(done);
    snapshot_free(&s);
    rs_buf_deinit(&scratch);
    return r;
}

unsigned long long rs_proctree_ticks_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
        return 0;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        return 0;
    unsigned long long t = (unsigned long long)ts.tv_sec * (unsigned long long)hz +
                           (unsigned long long)ts.tv_nsec / (1000000000ull / (unsigned long long)hz);
    return t > 0 ? t - 1 : 0;
}

int rs_proctree_signal_tree_since(pid_t leader, const char *token, unsigned long long since, int sig)
{
    if (leader < 0 || (leader == 0 && !token) || (token && !token_ok(token)) || sig < 0)
        return -EINVAL;
    struct query q = {leader, 0, token, token ? MATCH_EXACT : MATCH_NONE, since};
    return walk_tree(&q, sig);
}

int rs_proctree_count_tree_since(pid_t leader, const char *token, unsigned long long since)
{
    return rs_proctree_signal_tree_since(leader, token, since, 0);
}

int rs_proctree_signal_tree(pid_t leader, const char *token, int sig)
{
    return rs_proctree_signal_tree_since(leader, token, 0, sig);
}

int rs_proctree_count_tree(pid_t leader, const char *token)
{
    return rs_proctree_signal_tree(leader, token, 0);
}

int rs_proctree_kill_token(const char *token_prefix, int sig)
{
    if (!token_ok(token_prefix) || sig < 0)
        return -EINVAL;
    struct query q = {0, 0, token_prefix, MATCH_PREFIX, 0};
    return walk_tree(&q, sig);
}

int rs_proctree_count_token(const char *token_prefix)
{
    return rs_proctree_kill_token(token_prefix, 0);
}

int rs_proctree_signal_below(pid_t root, const char *token, int sig)
{
    if (root <= 0 || (token && !token_ok(token)) || sig < 0)
        return -EINVAL;
    struct query q = {0, root, token, token ? MATCH_EXACT : MATCH_NONE, 0};
    return walk_tree(&q, sig);
}

int rs_proctree_count_below(pid_t root, const char *token)
{
    return rs_proctree_signal_below(root, token, 0);
}

int rs_proctree_reap_zombies(const pid_t *keep, size_t n_keep)
{
    struct snapshot s = {0};
    int r = snapshot_take(&s, NULL, NULL);
    if (r < 0)
        return r;
    pid_t self = getpid();
    int reaped = 0;
    for (size_t i = 0; i < s.n; i++) {
        const struct pinfo *p = &s.v[i];
        if (p->ppid != self || p->state != 'Z' || pid_listed(keep, n_keep, p->pid))
            continue;
        /*
         * waitpid on this one pid only: a status that libuv (or anyone
         * else) is waiting for can never be taken by accident, because
         * those pids are in @keep.
         */
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid)
            reaped++;
    }
    snapshot_free(&s);
    return reaped;
}

int rs_proctree_token_of(pid_t pid, char *buf, size_t n)
{
    if (pid <= 0 || !buf || n == 0)
        return -EINVAL;
    struct rs_buf b;
    rs_buf_init(&b);
    int r = read_environ(pid, &b);
    if (r == -ENOENT)
        r = -ESRCH;
    if (r < 0)
        goto out;
    const char *val = environ_token(&b, NULL, MATCH_NONE);
    if (!val) {
        r = RS_PROCTREE_E_NO_TOKEN;
        goto out;
    }
    snprintf(buf, n, "%s", val);
    r = 0;
out:
    rs_buf_deinit(&b);
    return r;
}
