/* SPDX-License-Identifier: MIT */
/*
 * One supervisor per batch: an exclusive flock(2) on a lock file next to the
 * progress file ("<progress>.lock"). The holder writes its PID into the file
 * so a second instance (and `ralphsup stop`/`reload`) can name it. The lock
 * dies with the process, so a kill -9 never leaves a stale lock.
 */
#pragma once

#include <sys/types.h>

struct rs_lock; /* opaque */

enum {
    RS_LOCK_E_BUSY = 1, /* held by another process; *holder set when known */
};

/* Lock file path for @progress_path (caller frees). */
char *rs_lock_path(const char *progress_path);
/*
 * rs_lock_acquire() - take the lock without blocking.
 * Return: 0, RS_LOCK_E_BUSY (*holder = PID or 0), or negative errno.
 */
int rs_lock_acquire(const char *progress_path, struct rs_lock **out, pid_t *holder);
struct rs_lock *rs_lock_release(struct rs_lock *l);
/*
 * rs_lock_holder() - PID of the process holding the lock, 0 when free.
 * Return: 0 or negative errno.
 */
int rs_lock_holder(const char *progress_path, pid_t *holder);
