/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for proctree.c: token scans with prefixes, descendants without
 * a token, process-group trees, the keeper's descendants-of-a-root query, zombie reaping that leaves listed children
 * alone, subreaper, argument checks. Processes are started with posix_spawn
 * and always waited for by the test.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ralphsup/run/proctree.h"
#include "ralphsup/base/util.h"

/* Spawn "bash -c @script" with only PATH and, when set, the token; own group if @own_group. */
static pid_t spawn_sh(const char *script, const char *token, bool own_group)
{
    char *tokenv = token ? rs_xasprintf("%s=%s", RS_PROCTREE_TOKEN_VAR, token) : NULL;
    char *const envp[] = {(char *)"PATH=/usr/bin:/bin", tokenv, NULL};
    char *const argv[] = {(char *)"bash", (char *)"-c", (char *)script, NULL};
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    if (own_group) {
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&at, 0);
    }
    pid_t pid = -1;
    int r = posix_spawn(&pid, "/bin/bash", NULL, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    free(tokenv);
    cr_assert_eq(r, 0, "posix_spawn: %s", strerror(r));
    return pid;
}

static int wait_count(const char *prefix, int want, int ms)
{
    int n = -1;
    for (int i = 0; i <= ms / 10; i++) {
        n = rs_proctree_count_token(prefix);
        if (n == want)
            break;
        usleep(10000);
    }
    return n;
}

static int term_sig(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
}

Test(proctree, token_prefix_scan_and_kill, .timeout = 10)
{
    char a[64], b[64], pa[64], pboth[64];
    snprintf(a, sizeof a, "pt:%d:1:aaa", (int)getpid());
    snprintf(b, sizeof b, "pt:%d:12:bbb", (int)getpid());
    snprintf(pa, sizeof pa, "pt:%d:1:", (int)getpid());
    snprintf(pboth, sizeof pboth, "pt:%d:1", (int)getpid());
    pid_t pid_a = spawn_sh("exec sleep 60", a, false);
    pid_t pid_b = spawn_sh("exec sleep 60", b, false);
    cr_expect_eq(wait_count(pboth, 2, 2000), 2);
    cr_expect_eq(rs_proctree_count_token(pa), 1);
    cr_expect_eq(rs_proctree_count_token(a), 1);

    char tok[128];
    cr_expect_eq(rs_proctree_token_of(pid_b, tok, sizeof tok), 0);
    cr_expect_str_eq(tok, b);

    cr_expect_eq(rs_proctree_kill_token(pa, SIGKILL), 1);
    cr_expect_eq(term_sig(pid_a), SIGKILL);
    cr_expect_eq(rs_proctree_count_token(pa), 0);
    cr_expect_eq(rs_proctree_count_token(b), 1, "other run touched");
    cr_expect_eq(rs_proctree_kill_token(b, SIGTERM), 1);
    cr_expect_eq(term_sig(pid_b), SIGTERM);
    cr_expect_eq(rs_proctree_count_token(pboth), 0);
}

Test(proctree, descendants_without_token_are_part_of_the_tree, .timeout = 10)
{
    char t[64];
    snprintf(t, sizeof t, "pt-desc:%d:x", (int)getpid());
    /* The sleep has no token: it is found through its PPid link. */
    pid_t sh = spawn_sh("env -u " RS_PROCTREE_TOKEN_VAR " sleep 60 & wait", t, false);
    cr_expect_eq(wait_count(t, 2, 2000), 2);
    cr_expect_eq(rs_proctree_kill_token(t, SIGKILL), 2);
    cr_expect_eq(term_sig(sh), SIGKILL);
    cr_expect_eq(wait_count(t, 0, 2000), 0);
}

Test(proctree, group_tree_without_token, .timeout = 10)
{
    /* Forked or already exec'd, the two children are members of the group. */
    pid_t sh = spawn_sh("sleep 60 & sleep 60 & wait", NULL, true);
    int n = -1;
    for (int i = 0; i < 200 && (n = rs_proctree_count_tree(sh, NULL)) != 3; i++)
        usleep(10000);
    cr_expect_eq(n, 3);
    n = rs_proctree_signal_tree(sh, NULL, SIGTERM);
    cr_expect_eq(n, 3, "signalled %d", n);
    cr_expect_eq(term_sig(sh), SIGTERM);
    for (int i = 0; i < 200 && (n = rs_proctree_count_tree(sh, NULL)) != 0; i++)
        usleep(10000);
    cr_expect_eq(n, 0);
}

Test(proctree, setsid_escapee_found_by_token, .timeout = 10)
{
    char t[64];
    snprintf(t, sizeof t, "pt-setsid:%d:y", (int)getpid());
    /*
     * Own group for the shell; the first sleep escapes into its own session
     * and its parent (a subshell) exits, so no PPid link leads to it. The
     * shell creates @ready once the escapee runs in its own session, its
     * subshell is gone and the second sleep is forked.
     */
    char dir[] = "/tmp/rs-proctree-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *ready = rs_xasprintf("%s/ready", dir);
    char *script = rs_xasprintf(
        "( setsid sleep 60 </dev/null >/dev/null 2>&1 & p=$!;"
        "  while [ \"$(cut -d' ' -f6 /proc/$p/stat 2>/dev/null)\" != \"$p\" ]; do sleep 0.01; done );"
        " sleep 60 & : >'%s'; wait",
        ready);
    pid_t sh = spawn_sh(script, t, true);
    for (int i = 0; i < 500 && access(ready, F_OK) != 0; i++)
        usleep(10000);
    cr_assert_eq(access(ready, F_OK), 0, "the shell did not get ready");
    cr_expect_eq(rs_proctree_count_token(t), 3);
    /* The group alone does not reach the setsid'd sleep ... */
    cr_expect_eq(rs_proctree_count_tree(sh, NULL), 2);
    /* ... group + token does. */
    cr_expect_eq(rs_proctree_count_tree(sh, t), 3);
    cr_expect_eq(rs_proctree_signal_tree(sh, t, SIGKILL), 3);
    cr_expect_eq(term_sig(sh), SIGKILL);
    cr_expect_eq(wait_count(t, 0, 2000), 0);
    unlink(ready);
    rmdir(dir);
    free(ready);
    free(script);
}

/*
 * execve() installs the new memory map before it copies argv and the
 * environment into it; for that moment /proc/PID/environ reads empty. A
 * process that only its token leads to (own group, parent gone) must not
 * drop out of a scan then. The process here is a chain of execs of env(1),
 * one pid throughout, in its own group and without a parent of the token:
 * every scan while it is alive must count it.
 */
Test(proctree, token_found_while_process_is_in_execve, .timeout = 60)
{
    enum { EXECS = 600 };
    char t[64];
    snprintf(t, sizeof t, "pt-exec:%d:z", (int)getpid());
    char *tokenv = rs_xasprintf("%s=%s", RS_PROCTREE_TOKEN_VAR, t);
    char *const envp[] = {(char *)"PATH=/usr/bin:/bin", tokenv, NULL};
    char **argv = rs_xcalloc(EXECS + 2, sizeof *argv);
    for (int i = 0; i < EXECS; i++)
        argv[i] = (char *)"env";
    argv[EXECS] = (char *)"true";
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    pid_t pid = -1;
    int r = posix_spawn(&pid, "/usr/bin/env", NULL, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    cr_assert_eq(r, 0, "posix_spawn: %s", strerror(r));
    int scans = 0, missed = 0, st = 0;
    for (;;) {
        int n = rs_proctree_count_token(t);
        /* A zero is only right once the chain has ended (a zombie). */
        siginfo_t si = {0};
        cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
        if (si.si_pid == pid)
            break;
        scans++;
        if (n != 1)
            missed++;
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    cr_expect_gt(scans, 20, "only %d scans during the exec chain", scans);
    cr_expect_eq(missed, 0, "%d of %d scans missed the process", missed, scans);
    free(argv);
    free(tokenv);
}

Test(proctree, reap_zombies_respects_keep_list, .timeout = 10)
{
    /* a dies by a signal: a status no exit wrapper (valgrind) can alter. */
    pid_t a = fork();
    cr_assert_geq(a, 0);
    if (a == 0) {
        raise(SIGKILL);
        _exit(1);
    }
    pid_t b = fork();
    cr_assert_geq(b, 0);
    if (b == 0)
        _exit(12);
    /* Wait until both are zombies (waitid with WNOWAIT leaves them so). */
    siginfo_t si;
    cr_assert_eq(waitid(P_PID, (id_t)a, &si, WEXITED | WNOWAIT), 0);
    cr_assert_eq(waitid(P_PID, (id_t)b, &si, WEXITED | WNOWAIT), 0);
    pid_t keep[] = {a};
    cr_expect_eq(rs_proctree_reap_zombies(keep, 1), 1);
    int st;
    cr_expect_eq(waitpid(b, &st, WNOHANG), -1, "b should have been reaped");
    cr_expect_eq(errno, ECHILD);
    /* a's status is still there for its owner. */
    cr_expect_eq(waitpid(a, &st, 0), a);
    cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    cr_expect_eq(rs_proctree_reap_zombies(NULL, 0), 0);
}

Test(proctree, subreaper_and_token_of, .timeout = 10)
{
    cr_expect_eq(rs_proctree_become_subreaper(), 0);
    int on = 0;
    cr_expect_eq(prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0), 0);
    cr_expect_eq(on, 1);
    char buf[64];
    cr_expect_eq(rs_proctree_token_of(999999999, buf, sizeof buf), -ESRCH);
    if (!getenv(RS_PROCTREE_TOKEN_VAR))
        cr_expect_eq(rs_proctree_token_of(getpid(), buf, sizeof buf), RS_PROCTREE_E_NO_TOKEN);
}

/* The keeper's query: everything below a root (never the root), without any token. */
Test(proctree, signal_below_reaches_descendants_not_the_root, .timeout = 10)
{
    pid_t kid = spawn_sh("sleep 30 & sleep 30 & wait; exec sleep 30", NULL, false);
    int n = -1;
    for (int i = 0; i < 300 && n != 3; i++) {
        n = rs_proctree_count_below(getpid(), NULL);
        if (n != 3)
            usleep(10000);
    }
    cr_expect_eq(n, 3, "bash and its two sleeps are below the test process, got %d", n);
    cr_expect_eq(rs_proctree_count_below(kid, NULL), 2, "only the sleeps are below bash");
    cr_expect_eq(rs_proctree_signal_below(kid, NULL, SIGKILL), 2, "the root is not signalled");
    cr_expect_eq(kill(kid, 0), 0, "bash itself still runs");
    kill(kid, SIGKILL);
    cr_expect_eq(term_sig(kid), SIGKILL);
    cr_expect_eq(rs_proctree_signal_below(0, NULL, SIGTERM), -EINVAL);
}

Test(proctree, invalid_arguments)
{
    char longp[RS_PROCTREE_TOKEN_MAX + 2];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    cr_expect_eq(rs_proctree_signal_tree(0, NULL, SIGTERM), -EINVAL);
    cr_expect_eq(rs_proctree_signal_tree(-5, "t", SIGTERM), -EINVAL);
    cr_expect_eq(rs_proctree_kill_token("", SIGKILL), -EINVAL);
    cr_expect_eq(rs_proctree_kill_token(NULL, SIGKILL), -EINVAL);
    cr_expect_eq(rs_proctree_count_token(longp), -EINVAL);
    /* A token nobody carries. */
    cr_expect_eq(rs_proctree_count_token("no-such-token-prefix:"), 0);
}

/*
 * The starttime bound: a token carrier started before @since cannot belong to
 * a tree spawned after it, so rs_proctree_count_tree_since() skips it (its
 * environment is not read); one started after is found as before.
 */
Test(proctree, since_bounds_the_token_scan)
{
    char t[64];
    snprintf(t, sizeof t, "since-%d", (int)getpid());
    pid_t old = spawn_sh("exec sleep 60", t, true);
    cr_expect_eq(wait_count(t, 1, 2000), 1);
    usleep(50000); /* a few clock ticks (10 ms each at USER_HZ 100) */
    unsigned long long since = rs_proctree_ticks_now();
    cr_assert_gt(since, 0);
    pid_t young = spawn_sh("exec sleep 60", t, true);
    cr_expect_eq(wait_count(t, 2, 2000), 2);
    cr_expect_eq(rs_proctree_count_tree(0, t), 2, "unbounded: both carriers");
    cr_expect_eq(rs_proctree_count_tree_since(0, t, since), 1, "bounded: only the one started after");
    cr_expect_eq(rs_proctree_count_tree_since(young, t, since), 1);
    cr_expect_eq(rs_proctree_signal_tree_since(0, t, since, SIGKILL), 1);
    cr_expect_eq(term_sig(young), SIGKILL);
    cr_expect_eq(rs_proctree_count_tree_since(0, t, 0), 1, "since 0 is no bound: the old one is still there");
    cr_expect_eq(rs_proctree_signal_tree(0, t, SIGKILL), 1);
    cr_expect_eq(term_sig(old), SIGKILL);
}
