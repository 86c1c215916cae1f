/* SPDX-License-Identifier: MIT */
/* One supervisor per batch: the second acquire fails with the holder's PID. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ralphsup/store/lock.h"
#include "ralphsup/base/util.h"

Test(lock, second_holder_is_refused_with_the_pid)
{
    char dir[] = "/tmp/rs-lock-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *prog = rs_path_join(dir, "batch_progress.json");
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t child = fork();
    if (child == 0) {
        struct rs_lock *l;
        pid_t h;
        if (rs_lock_acquire(prog, &l, &h) != 0)
            _exit(1);
        char c = 'x';
        if (write(pfd[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    cr_assert_eq(read(pfd[0], &c, 1), 1);
    struct rs_lock *l = NULL;
    pid_t holder = 0;
    cr_expect_eq(rs_lock_acquire(prog, &l, &holder), RS_LOCK_E_BUSY);
    cr_expect_eq(holder, child);
    pid_t h2 = 0;
    cr_expect_eq(rs_lock_holder(prog, &h2), 0);
    cr_expect_eq(h2, child);
    /* The kernel drops the lock with the process: no stale lock after kill -9. */
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    cr_expect_eq(rs_lock_holder(prog, &h2), 0);
    cr_expect_eq(h2, 0);
    cr_assert_eq(rs_lock_acquire(prog, &l, &holder), 0);
    rs_lock_release(l);
    free(prog);
}
