/* SPDX-License-Identifier: MIT */
/*
 * One supervisor per batch: flock(LOCK_EX|LOCK_NB) on "<progress>.lock".
 * The holder writes its PID into the file (truncate + write, after taking
 * the lock) so others can name it. The kernel drops the lock when the
 * process dies, so a kill -9 never leaves a stale lock behind; the file
 * itself stays and is harmless.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ralphsup/base/common.h"
#include "ralphsup/store/lock.h"

struct rs_lock {
    int fd;
    char *path;
};

char *rs_lock_path(const char *progress_path)
{
    return rs_xasprintf("%s.lock", progress_path);
}

static pid_t read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long v = strtol(buf, NULL, 10);
    return v > 0 ? (pid_t)v : 0;
}

int rs_lock_acquire(const char *progress_path, struct rs_lock **out, pid_t *holder)
{
    char *path = rs_lock_path(progress_path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int r = -errno;
        free(path);
        return r;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            if (holder)
                *holder = read_pid(fd);
            close(fd);
            free(path);
            return RS_LOCK_E_BUSY;
        }
        close(fd);
        free(path);
        return -e;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        int r = -errno;
        close(fd);
        free(path);
        return r;
    }
    struct rs_lock *l = rs_xcalloc(1, sizeof(*l));
    l->fd = fd;
    l->path = path;
    *out = l;
    return 0;
}

struct rs_lock *rs_lock_release(struct rs_lock *l)
{
    if (!l)
        return NULL;
    /* Clear the PID before unlocking so nobody reads a dead holder. */
    if (ftruncate(l->fd, 0) < 0) {
        /* Nothing useful to do: the lock is released on close anyway. */
    }
    close(l->fd);
    free(l->path);
    free(l);
    return NULL;
}

int rs_lock_holder(const char *progress_path, pid_t *holder)
{
    *holder = 0;
    char *path = rs_lock_path(progress_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    /* A shared lock succeeds only when nobody holds the exclusive one. */
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
        close(fd);
        return 0;
    }
    if (errno != EWOULDBLOCK) {
        int r = -errno;
        close(fd);
        return r;
    }
    *holder = read_pid(fd);
    if (*holder == 0)
        *holder = -1; /* held, PID not yet written */
    close(fd);
    return 0;
}
