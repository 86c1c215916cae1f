/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for runner.c: spawning tests/fixtures/fake-agent.sh on a private
 * libuv loop per test, output delivery, exit reporting, command resolution,
 * drain timeout, stop/kill of whole trees (setsid'd grandchildren included),
 * parent-death signal, free before finish and the zombie reaper. Every test
 * checks that no process carrying its run token is left and that
 * uv_loop_close() succeeds (no leaked handle).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "ralphsup/run/proctree.h"
#include "ralphsup/run/runner.h"
#include "ralphsup/base/util.h"

extern char **environ;

#define GUARD_MS 8000

struct run {
    uv_loop_t loop;
    uv_timer_t guard;
    struct rs_runner *r;
    char token[96];
    struct rs_buf out;
    struct rs_buf err;
    int nfinish;
    int64_t status;
    int sig;
    unsigned flags;
    bool timed_out;
    bool free_in_finish;
    int64_t t_start;
    int64_t t_finish;
    /* stop (or kill, with kill_on_cue) when this line shows up on stdout (NULL = never) */
    const char *stop_on;
    uint64_t stop_grace;
    bool kill_on_cue;
    int64_t t_stop; /* when the stop or kill was sent */
    pid_t grandchild;
};

static char *fake_agent(void)
{
    const char *root = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert(root, "RALPHSUP_SOURCE_ROOT not set");
    return rs_xasprintf("%s/tests/fixtures/fake-agent.sh", root);
}

static void make_token(char *buf, size_t n, const char *tag)
{
    static unsigned seq;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(buf, n, "test-%s:%d:%u:%ld", tag, (int)getpid(), ++seq, (long)ts.tv_nsec);
}

/* environ (minus FAKE_*) plus @extra; the array is freed by the caller, strings are borrowed. */
static const char **make_env(const char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    const char **env = rs_xcalloc(n + m + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "FAKE_", 5) != 0)
            env[k++] = environ[i];
    for (size_t i = 0; i < m; i++)
        env[k++] = extra[i];
    env[k] = NULL;
    return env;
}

/* True when @pid no longer runs (gone or zombie). */
static bool proc_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return !rp || rp[2] == 'Z' || rp[2] == 'X';
}

static bool wait_gone(pid_t pid, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (proc_gone(pid))
            return true;
        usleep(10000);
    }
    return proc_gone(pid);
}

static int count_zombie_children(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ps -o stat= --ppid %d | grep -c '^Z'", (int)getpid());
    FILE *f = popen(cmd, "r");
    cr_assert(f);
    int n = -1;
    if (fscanf(f, "%d", &n) != 1)
        n = -1;
    pclose(f);
    return n;
}

static void on_out(void *ud, const char *data, size_t len)
{
    struct run *t = ud;
    rs_buf_append(&t->out, data, len);
    const char *hit = t->stop_on ? strstr(rs_buf_cstr(&t->out), t->stop_on) : NULL;
    if (hit && t->r && strchr(hit, '\n')) { /* the whole line arrived */
        const char *g = strstr(rs_buf_cstr(&t->out), "grandchild:");
        if (g)
            t->grandchild = (pid_t)atoi(g + strlen("grandchild:"));
        t->stop_on = NULL;
        t->t_stop = rs_mono_ms();
        if (t->kill_on_cue)
            cr_expect_eq(rs_runner_kill(t->r), 0);
        else
            cr_expect_eq(rs_runner_stop(t->r, t->stop_grace), 0);
    }
}

static void on_err(void *ud, const char *data, size_t len)
{
    struct run *t = ud;
    rs_buf_append(&t->err, data, len);
}

static void on_finish(void *ud, int64_t status, int sig, unsigned flags)
{
    struct run *t = ud;
    t->nfinish++;
    t->status = status;
    t->sig = sig;
    t->flags = flags;
    t->t_finish = rs_mono_ms();
    cr_expect(rs_runner_finished(t->r));
    uv_timer_stop(&t->guard);
    if (t->free_in_finish)
        t->r = rs_runner_free(t->r);
}

static void guard_cb(uv_timer_t *h)
{
    struct run *t = h->data;
    t->timed_out = true;
    if (t->r)
        rs_runner_kill(t->r);
}

static void run_init(struct run *t, const char *tag)
{
    memset(t, 0, sizeof *t);
    cr_assert_eq(uv_loop_init(&t->loop), 0);
    uv_timer_init(&t->loop, &t->guard);
    t->guard.data = t;
    make_token(t->token, sizeof t->token, tag);
    rs_buf_init(&t->out);
    rs_buf_init(&t->err);
}

static struct rs_runner_opts base_opts(struct run *t, const char *const *argv, const char *const *envp)
{
    struct rs_runner_opts o;
    memset(&o, 0, sizeof o);
    o.argv = argv;
    o.envp = envp;
    o.token = t->token;
    o.on_stdout = on_out;
    o.on_stderr = on_err;
    o.on_finish = on_finish;
    o.userdata = t;
    return o;
}

/* Start with @extra env, run the loop until the runner finished. */
static int run_agent(struct run *t, const char *const *extra, struct rs_runner_opts *override)
{
    char *agent = fake_agent();
    const char *argv[] = {agent, NULL};
    const char **env = make_env(extra);
    struct rs_runner_opts o = override ? *override : base_opts(t, argv, env);
    if (override) {
        if (!o.argv)
            o.argv = argv;
        if (!o.envp)
            o.envp = env;
    }
    t->t_start = rs_mono_ms();
    int r = rs_runner_start(&t->loop, &o, &t->r);
    free(env);
    free(agent);
    if (r < 0)
        return r;
    cr_expect_gt(rs_runner_pid(t->r), 0);
    uv_timer_start(&t->guard, guard_cb, GUARD_MS, 0);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    cr_expect_not(t->timed_out, "guard timer fired");
    cr_expect_eq(t->nfinish, 1);
    return 0;
}

static void run_fini(struct run *t)
{
    t->r = rs_runner_free(t->r);
    uv_close((uv_handle_t *)&t->guard, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&t->loop), 0, "a uv handle leaked");
    cr_expect_eq(rs_proctree_count_token(t->token), 0, "processes of the run survive");
    rs_proctree_kill_token(t->token, SIGKILL); /* clean up after a failed test */
    rs_buf_deinit(&t->out);
    rs_buf_deinit(&t->err);
}

Test(runner, normal_exit_delivers_output, .timeout = 15)
{
    struct run t;
    run_init(&t, "out");
    /* 1 MiB of numbered lines, so reads arrive in many chunks. */
    char dir[] = "/tmp/rs-runner-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *file = rs_xasprintf("%s/lines.txt", dir);
    struct rs_buf want;
    rs_buf_init(&want);
    for (int i = 0; want.len < (1u << 20); i++)
        rs_buf_printf(&want, "{\"line\":%d,\"pad\":\"abcdefghijklmnopqrstuvwxyz\"}\n", i);
    cr_assert_eq(rs_file_write_atomic(file, want.data, want.len, 0644), 0);
    char *lines = rs_xasprintf("FAKE_LINES=%s", file);
    const char *extra[] = {lines, "FAKE_STDERR=some error text", NULL};

    cr_assert_eq(run_agent(&t, extra, NULL), 0);
    cr_expect_eq(t.status, 0);
    cr_expect_eq(t.sig, 0);
    cr_expect_eq(t.flags, 0u, "flags %#x", t.flags);
    cr_expect_eq(t.out.len, want.len);
    cr_expect(t.out.len == want.len && memcmp(t.out.data, want.data, want.len) == 0);
    cr_expect_str_eq(rs_buf_cstr(&t.err), "some error text\n");
    cr_expect(rs_runner_has_pdeathsig(t.r), "setpriv wrapper not used");
    run_fini(&t);

    unlink(file);
    rmdir(dir);
    free(lines);
    free(file);
    rs_buf_deinit(&want);
}

Test(runner, args_env_cwd_and_path_lookup, .timeout = 15)
{
    struct run t;
    run_init(&t, "env");
    char dir[] = "/tmp/rs-runner-XXXXXX";
    cr_assert(mkdtemp(dir));
    const char *root = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert(root);
    char *path = rs_xasprintf("PATH=/nonexistent-dir:%s/tests/fixtures:/usr/bin:/bin", root);
    const char *env[] = {path, "FAKE_ECHO_ARGS=1", "FAKE_PRINT_ENV=1",
                         "RALPHSUP_RUN_TOKEN=stale-token-from-parent", NULL};
    const char *argv[] = {"fake-agent.sh", "a b", "", "c", NULL};
    struct rs_runner_opts o = base_opts(&t, argv, env);
    o.cwd = dir;
    cr_assert_eq(run_agent(&t, NULL, &o), 0);
    cr_expect_eq(t.status, 0);
    char *want = rs_xasprintf("arg:a b\narg:\narg:c\ntoken:%s\ncwd:%s\n", t.token, dir);
    cr_expect_str_eq(rs_buf_cstr(&t.out), want);
    run_fini(&t);
    free(want);
    free(path);
    rmdir(dir);
}

Test(runner, exit_code_and_signal_two_runners_on_one_loop, .timeout = 15)
{
    struct run a, b;
    run_init(&a, "exit");
    run_init(&b, "sig");
    /* b shares a's loop: two independent runners at once. */
    char *agent = fake_agent();
    const char *argv[] = {agent, NULL};
    const char *ea[] = {"FAKE_EXIT=7", NULL};
    const char *eb[] = {"FAKE_SIGNAL_SELF=USR1", NULL};
    const char **enva = make_env(ea), **envb = make_env(eb);
    struct rs_runner_opts oa = base_opts(&a, argv, enva);
    struct rs_runner_opts ob = base_opts(&b, argv, envb);
    cr_assert_eq(rs_runner_start(&a.loop, &oa, &a.r), 0);
    cr_assert_eq(rs_runner_start(&a.loop, &ob, &b.r), 0);
    cr_expect_neq(rs_runner_pid(a.r), rs_runner_pid(b.r));
    uv_timer_start(&a.guard, guard_cb, GUARD_MS, 0);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    cr_expect_eq(a.nfinish, 1);
    cr_expect_eq(b.nfinish, 1);
    cr_expect_eq(a.status, 7);
    cr_expect_eq(a.sig, 0);
    cr_expect_eq(b.status, 0);
    cr_expect_eq(b.sig, SIGUSR1);
    cr_expect_eq(b.flags, 0u);
    b.r = rs_runner_free(b.r);
    uv_close((uv_handle_t *)&b.guard, NULL);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    run_fini(&a);
    cr_expect_eq(rs_proctree_count_token(b.token), 0);
    cr_expect_eq(uv_loop_close(&b.loop), 0);
    rs_buf_deinit(&b.out);
    rs_buf_deinit(&b.err);
    free(enva);
    free(envb);
    free(agent);
}

Test(runner, command_not_found_before_spawn, .timeout = 10)
{
    struct run t;
    run_init(&t, "enoent");
    const char *env[] = {"PATH=/usr/bin:/bin", NULL};
    const char *argv1[] = {"ralphsup-no-such-agent-xyz", "-p", NULL};
    struct rs_runner_opts o = base_opts(&t, argv1, env);
    cr_expect_eq(rs_runner_start(&t.loop, &o, &t.r), -ENOENT);
    cr_expect_null(t.r);
    const char *argv2[] = {"/nonexistent/dir/claude", NULL};
    o.argv = argv2;
    cr_expect_eq(rs_runner_start(&t.loop, &o, &t.r), -ENOENT);
    o.argv = argv1;
    o.cwd = "/nonexistent/cwd";
    cr_expect_eq(rs_runner_start(&t.loop, &o, &t.r), -ENOTDIR);
    o.cwd = NULL;
    o.token = "";
    cr_expect_eq(rs_runner_start(&t.loop, &o, &t.r), -EINVAL);
    cr_expect_eq(t.nfinish, 0);
    run_fini(&t);
}

Test(runner, command_not_executable_before_spawn, .timeout = 10)
{
    struct run t;
    run_init(&t, "eacces");
    char dir[] = "/tmp/rs-runner-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *file = rs_xasprintf("%s/agent", dir);
    cr_assert_eq(rs_file_write_atomic(file, "#!/bin/sh\nexit 0\n", 17, 0644), 0);
    char *path = rs_xasprintf("PATH=%s:/usr/bin", dir);
    const char *env[] = {path, NULL};
    const char *argv1[] = {file, NULL};
    struct rs_runner_opts o = base_opts(&t, argv1, env);
    cr_expect_eq(rs_runner_start(&t.loop, &o, &t.r), -EACCES);
    const char *argv2[] = {"agent", NULL};
    o.argv = argv2;
    cr_expect_eq(rs_runner_start(&t.loop, &o, &t.r), -EACCES);
    const char *argv3[] = {dir, NULL}; /* a directory */
    o.argv = argv3;
    cr_expect_eq(rs_runner_start(&t.loop, &o, &t.r), -EACCES);
    /* The same file made executable is found through PATH. */
    cr_assert_eq(chmod(file, 0755), 0);
    char *found = NULL;
    cr_expect_eq(rs_runner_resolve_command("agent", path + 5, NULL, &found), 0);
    cr_expect_str_eq(found, file);
    free(found);
    run_fini(&t);
    unlink(file);
    rmdir(dir);
    free(file);
    free(path);
}

Test(runner, uv_spawn_failure_closes_handles, .timeout = 10)
{
    /* valgrind --trace-children turns a failing execve into a child that exits. */
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload"))
        cr_skip_test("execve failures are emulated by valgrind");
    struct run t;
    run_init(&t, "spawnfail");
    char dir[] = "/tmp/rs-runner-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *file = rs_xasprintf("%s/agent", dir);
    /* Resolves fine, but execve fails: the interpreter does not exist. */
    cr_assert_eq(rs_file_write_atomic(file, "#!/nonexistent/interp\n", 22, 0755), 0);
    const char *argv[] = {file, NULL};
    const char *env[] = {"PATH=/usr/bin:/bin", NULL};
    struct rs_runner_opts o = base_opts(&t, argv, env);
    o.no_pdeathsig = true; /* with setpriv this would be setpriv's exit 127 */
    cr_expect_eq(rs_runner_start(&t.loop, &o, &t.r), -ENOENT);
    cr_expect_null(t.r);
    cr_expect_eq(t.nfinish, 0);
    run_fini(&t); /* runs the loop: the failed runner's handles close, uv_loop_close()==0 */
    cr_expect_eq(t.nfinish, 0);
    unlink(file);
    rmdir(dir);
    free(file);
}

Test(runner, drain_timeout_when_grandchild_holds_stdout, .timeout = 15)
{
    struct run t;
    run_init(&t, "drain");
    const char *extra[] = {"FAKE_GRANDCHILD=hold-stdout", "FAKE_EXIT=4", NULL};
    char *agent = fake_agent();
    const char *argv[] = {agent, NULL};
    const char **env = make_env(extra);
    struct rs_runner_opts o = base_opts(&t, argv, env);
    o.pipe_drain_timeout_ms = 300;
    t.free_in_finish = true;
    cr_assert_eq(run_agent(&t, NULL, &o), 0);
    int64_t took = t.t_finish - t.t_start;
    cr_expect_eq(t.status, 4);
    cr_expect(t.flags & RS_RUNNER_F_PIPES_FORCED, "flags %#x", t.flags);
    cr_expect(t.flags & RS_RUNNER_F_STRAGGLERS, "flags %#x", t.flags);
    cr_expect_not(t.flags & (RS_RUNNER_F_KILLED | RS_RUNNER_F_SURVIVORS), "flags %#x", t.flags);
    cr_expect_geq(took, 280);
    cr_expect_lt(took, 3000);
    /* Checked at once, no waiting: on_finish came after the tree was gone. */
    cr_expect_eq(rs_proctree_count_token(t.token), 0);
    run_fini(&t);
    free(env);
    free(agent);
}

Test(runner, eof_before_exit_waits_for_exit, .timeout = 15)
{
    struct run t;
    run_init(&t, "eoffirst");
    const char *extra[] = {"FAKE_PRINT_ENV=1", "FAKE_CLOSE_OUTPUT=1", "FAKE_SLEEP=0.3", NULL};
    cr_assert_eq(run_agent(&t, extra, NULL), 0);
    cr_expect_eq(t.status, 0);
    cr_expect_eq(t.flags, 0u, "flags %#x", t.flags);
    cr_expect(strstr(rs_buf_cstr(&t.out), t.token) != NULL);
    cr_expect_geq(t.t_finish - t.t_start, 250);
    run_fini(&t);
}

Test(runner, stop_terminates_gracefully, .timeout = 15)
{
    struct run t;
    run_init(&t, "stop");
    const char *extra[] = {"FAKE_SLEEP=30", "FAKE_READY=1", NULL};
    t.stop_on = "ready";
    t.stop_grace = 5000;
    cr_assert_eq(run_agent(&t, extra, NULL), 0);
    cr_expect_eq(t.sig, SIGTERM);
    cr_expect_eq(t.flags & (RS_RUNNER_F_TERM_SENT | RS_RUNNER_F_KILLED), RS_RUNNER_F_TERM_SENT,
                 "flags %#x", t.flags);
    cr_expect_lt(t.t_finish - t.t_stop, (int64_t)t.stop_grace, "stop waited for the grace period");
    run_fini(&t);
}

/*
 * Like Claude Code's Bash tool: the grandchild runs in its own session, out
 * of reach of the group kill, and its parent is gone, so only the run token
 * leads to it. The agent ignores SIGTERM, so it must die by SIGKILL after
 * the grace period, while the grandchild dies of the SIGTERM itself. The
 * test is the subreaper of the orphaned grandchild, so its wait status says
 * which signal killed it (no timing involved).
 */
Test(runner, stop_reaches_setsid_grandchild_and_kills_after_grace, .timeout = 15)
{
    cr_assert_eq(rs_proctree_become_subreaper(), 0);
    struct run t;
    run_init(&t, "setsid");
    const char *extra[] = {"FAKE_GRANDCHILD=setsid-orphan", "FAKE_IGNORE_TERM=1", "FAKE_SLEEP=30", NULL};
    t.stop_on = "grandchild:";
    t.stop_grace = 700;
    cr_assert_eq(run_agent(&t, extra, NULL), 0);
    cr_assert_gt(t.grandchild, 0);
    int st = 0;
    cr_assert_eq(waitpid(t.grandchild, &st, 0), t.grandchild, "the grandchild is not our orphan");
    cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "grandchild status %#x: not killed by the SIGTERM", st);
    cr_expect_eq(t.sig, SIGKILL);
    cr_expect(t.flags & RS_RUNNER_F_TERM_SENT, "flags %#x", t.flags);
    cr_expect(t.flags & RS_RUNNER_F_KILLED, "flags %#x", t.flags);
    /* The SIGKILL came from the grace timer, not earlier (timers never fire early). */
    cr_expect_geq(t.t_finish - t.t_stop, (int64_t)t.stop_grace - 20, "finished %lld ms after the stop",
                  (long long)(t.t_finish - t.t_stop));
    run_fini(&t);
}

Test(runner, term_ignoring_grandchild_killed_after_agent_exit, .timeout = 15)
{
    struct run t;
    run_init(&t, "ignterm");
    const char *extra[] = {"FAKE_GRANDCHILD=ignore-term", "FAKE_SLEEP=30", "FAKE_READY=1", NULL};
    t.stop_on = "ready";
    t.stop_grace = 5000;
    cr_assert_eq(run_agent(&t, extra, NULL), 0);
    cr_expect_eq(t.sig, SIGTERM);
    /* The grandchild survived SIGTERM; the finish killed it without waiting for the grace. */
    cr_expect(t.flags & RS_RUNNER_F_STRAGGLERS, "flags %#x", t.flags);
    cr_expect_not(t.flags & RS_RUNNER_F_KILLED, "flags %#x", t.flags);
    cr_expect_lt(t.t_finish - t.t_stop, (int64_t)t.stop_grace, "waited for the grace period");
    run_fini(&t);
}

/*
 * HEADLESS.md section 3: during its SIGTERM shutdown claude may start one
 * more tool in a new session. It is not reached by the SIGTERM, ignores it
 * anyway, and outlives the agent: the kill at the finish must get it.
 */
Test(runner, tool_started_during_shutdown_is_killed, .timeout = 15)
{
    struct run t;
    run_init(&t, "lateTool");
    const char *extra[] = {"FAKE_TERM_SPAWN=1", "FAKE_SLEEP=30", "FAKE_READY=1", NULL};
    t.stop_on = "ready";
    t.stop_grace = 5000;
    cr_assert_eq(run_agent(&t, extra, NULL), 0);
    cr_expect_eq(t.status, 143);
    cr_expect_eq(t.sig, 0);
    cr_expect(t.flags & RS_RUNNER_F_TERM_SENT, "flags %#x", t.flags);
    cr_expect(t.flags & RS_RUNNER_F_STRAGGLERS, "flags %#x", t.flags);
    cr_expect_lt(t.t_finish - t.t_stop, (int64_t)t.stop_grace, "waited for the grace period");
    run_fini(&t);
}

/* Killed once its setsid'd grandchild runs (the agent ignores TERM; a kill needs no grace). */
Test(runner, kill_now, .timeout = 15)
{
    struct run t;
    run_init(&t, "kill");
    t.stop_on = "grandchild:";
    t.kill_on_cue = true;
    const char *extra[] = {"FAKE_SLEEP=30", "FAKE_IGNORE_TERM=1", "FAKE_GRANDCHILD=setsid-sleep", NULL};
    cr_assert_eq(run_agent(&t, extra, NULL), 0);
    cr_expect_eq(t.sig, SIGKILL);
    cr_expect(t.flags & RS_RUNNER_F_KILLED, "flags %#x", t.flags);
    cr_expect_not(t.flags & RS_RUNNER_F_TERM_SENT, "flags %#x", t.flags);
    cr_assert_gt(t.grandchild, 0);
    cr_expect(wait_gone(t.grandchild, 3000), "the setsid'd grandchild survived the kill");
    cr_expect_lt(t.t_finish - t.t_stop, 2000);
    run_fini(&t);
}

Test(runner, free_before_finish_kills_and_releases, .timeout = 15)
{
    struct run t;
    run_init(&t, "free");
    char *agent = fake_agent();
    const char *argv[] = {agent, NULL};
    const char *extra[] = {"FAKE_SLEEP=30", "FAKE_GRANDCHILD=setsid-sleep", NULL};
    const char **env = make_env(extra);
    struct rs_runner_opts o = base_opts(&t, argv, env);
    cr_assert_eq(rs_runner_start(&t.loop, &o, &t.r), 0);
    pid_t pid = rs_runner_pid(t.r);
    t.r = rs_runner_free(t.r);
    int64_t t0 = rs_mono_ms();
    uv_run(&t.loop, UV_RUN_DEFAULT); /* returns once the runner released its handles */
    cr_expect_lt(rs_mono_ms() - t0, 3000);
    cr_expect_eq(t.nfinish, 0, "on_finish called after free");
    cr_expect(proc_gone(pid));
    run_fini(&t);
    free(env);
    free(agent);
}

/*
 * kill -9 of the supervisor: a helper process runs a runner, the test kills
 * the helper with SIGKILL, and the agent must die through its parent-death
 * signal. The agent's own child (its sleep) is not covered by pdeathsig:
 * it is removed by the token scan, as the supervisor does at start-up.
 */
Test(runner, pdeathsig_kills_agent_when_supervisor_is_killed, .timeout = 15)
{
    char token[96];
    make_token(token, sizeof token, "pdeath");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t helper = fork();
    cr_assert_geq(helper, 0);
    if (helper == 0) {
        close(fds[0]);
        uv_loop_t loop;
        uv_loop_init(&loop);
        char *agent = fake_agent();
        const char *argv[] = {agent, NULL};
        const char *extra[] = {"FAKE_SLEEP=30", NULL};
        const char **env = make_env(extra);
        struct rs_runner_opts o;
        memset(&o, 0, sizeof o);
        o.argv = argv;
        o.envp = env;
        o.token = token;
        struct rs_runner *r = NULL;
        if (rs_runner_start(&loop, &o, &r) < 0)
            _exit(2);
        pid_t pid = rs_runner_pid(r);
        if (write(fds[1], &pid, sizeof pid) != (ssize_t)sizeof pid)
            _exit(3);
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(4);
    }
    close(fds[1]);
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    cr_assert_eq(poll(&pfd, 1, 5000), 1);
    pid_t agent = 0;
    cr_assert_eq(read(fds[0], &agent, sizeof agent), (ssize_t)sizeof agent);
    close(fds[0]);
    cr_assert_gt(agent, 0);
    /* Until bash has started its sleep (bounded). */
    int n = 0;
    for (int i = 0; i < 500 && (n = rs_proctree_count_token(token)) < 2; i++)
        usleep(10000);
    cr_expect_geq(n, 2, "agent and its sleep expected");
    char tok[128];
    cr_expect_eq(rs_proctree_token_of(agent, tok, sizeof tok), 0);
    cr_expect_str_eq(tok, token);

    cr_assert_eq(kill(helper, SIGKILL), 0);
    int st;
    cr_assert_eq(waitpid(helper, &st, 0), helper);
    cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    cr_expect(wait_gone(agent, 3000), "agent survived the kill -9 of its supervisor");

    /* Leftovers (the agent's sleep) are found by token and killed. */
    cr_expect_geq(rs_proctree_kill_token(token, SIGKILL), 1);
    for (int i = 0; i < 200 && rs_proctree_count_token(token) > 0; i++)
        usleep(10000);
    cr_expect_eq(rs_proctree_count_token(token), 0);
}

struct reap_wait {
    struct rs_runner_reaper *rp;
    int64_t deadline;
};

/* Every 10 ms: done once the reaper reaped something, or at the deadline. */
static void reap_wait_cb(uv_timer_t *h)
{
    struct reap_wait *w = h->data;
    if (rs_runner_reaper_count(w->rp) >= 1 || rs_mono_ms() >= w->deadline)
        uv_close((uv_handle_t *)h, NULL);
}

Test(runner, reaper_reaps_orphans_without_stealing_statuses, .timeout = 15)
{
    cr_assert_eq(rs_proctree_become_subreaper(), 0);
    struct run t;
    run_init(&t, "reap");
    struct rs_runner_reaper *rp = NULL;
    cr_assert_eq(rs_runner_reaper_start(&t.loop, &rp), 0);
    const char *extra[] = {"FAKE_GRANDCHILD=orphan", "FAKE_EXIT=3", NULL};
    cr_assert_eq(run_agent(&t, extra, NULL), 0);
    /* libuv still got the agent's status although the reaper was active. */
    cr_expect_eq(t.status, 3);

    /* Until the SIGCHLD of the killed orphan has been handled (at most 5 s). */
    struct reap_wait w = {rp, rs_mono_ms() + 5000};
    uv_timer_t poll;
    uv_timer_init(&t.loop, &poll);
    poll.data = &w;
    uv_timer_start(&poll, reap_wait_cb, 10, 10);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    cr_expect_geq(rs_runner_reaper_count(rp), 1u);
    cr_expect_eq(count_zombie_children(), 0);
    rp = rs_runner_reaper_close(rp);
    run_fini(&t);
}
