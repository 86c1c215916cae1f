/* SPDX-License-Identifier: MIT */
/*
 * The fence's pure parts (run/sandbox.c): which rights a ruleset handles per
 * ABI, which of them a path gets by its type, their words for the start line
 * and doctor, the write list an iteration gets from its config, the keeper's
 * options and the work directory's layout; then the real thing in a forked
 * child (when the kernel has Landlock): a write outside the list is EACCES,
 * one inside it works.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ralphsup/base/util.h"
#include "ralphsup/run/sandbox.h"

#define RIGHT_REFER (1ULL << 13)
#define RIGHT_TRUNCATE (1ULL << 14)
#define RIGHT_IOCTL_DEV (1ULL << 15)

static char *mkdir_tmp(void)
{
    char *d = rs_xstrdup("/tmp/rs-sandbox-XXXXXX");
    cr_assert(mkdtemp(d));
    return d;
}

static void rm_tmp(char *dir)
{
    char *cmd = rs_xasprintf("rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    free(dir);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static struct rs_config *load(const char *dir, const char *agent_and_batch)
{
    char *path = rs_path_join(dir, "b.toml");
    char *text = rs_xasprintf("[batch]\nschools = \"s.json\"\n%s", agent_and_batch);
    put(path, text);
    free(text);
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = rs_config_load(path, &cfg, &d);
    cr_assert_eq(r, 0, "%s", d.n ? d.msgs[0] : "");
    rs_diags_deinit(&d);
    free(path);
    return cfg;
}

Test(sandbox, handled_rights_by_abi)
{
    cr_expect_eq(rs_sandbox_handled(0), 0);
    cr_expect_eq(rs_sandbox_handled(-1), 0);
    uint64_t v1 = rs_sandbox_handled(1);
    cr_expect(v1 & LANDLOCK_ACCESS_FS_WRITE_FILE);
    cr_expect(v1 & LANDLOCK_ACCESS_FS_REMOVE_FILE);
    cr_expect(v1 & LANDLOCK_ACCESS_FS_MAKE_REG);
    /* Reading and executing are never handled: they stay open. */
    cr_expect_not(v1 & (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE));
    cr_expect_not(v1 & (RIGHT_REFER | RIGHT_TRUNCATE | RIGHT_IOCTL_DEV));
    cr_expect_eq(rs_sandbox_handled(2), v1 | RIGHT_REFER);
    cr_expect_eq(rs_sandbox_handled(3), v1 | RIGHT_REFER | RIGHT_TRUNCATE);
    cr_expect_eq(rs_sandbox_handled(4), rs_sandbox_handled(3));
    cr_expect_eq(rs_sandbox_handled(5), v1 | RIGHT_REFER | RIGHT_TRUNCATE | RIGHT_IOCTL_DEV);
    cr_expect_eq(rs_sandbox_handled(7), rs_sandbox_handled(5));

    char buf[64];
    const struct {
        int abi;
        const char *words;
    } cases[] = {{1, ""}, {2, "refer"}, {3, "refer, truncate"}, {4, "refer, truncate"}, {5, "refer, truncate, ioctl_dev"},
                 {7, "refer, truncate, ioctl_dev"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_str_eq(rs_sandbox_describe(cases[i].abi, buf, sizeof buf), cases[i].words, "ABI %d", cases[i].abi);
}

Test(sandbox, rights_by_file_type)
{
    uint64_t h = rs_sandbox_handled(7);
    /* A directory of the list: everything handled, below it, but device ioctls (no devices live there). */
    cr_expect_eq(rs_sandbox_allowed(h, S_IFDIR | 0755, false), h & ~RIGHT_IOCTL_DEV);
    /* A file: writing and truncating only (Landlock refuses directory rights on a file); no ioctls. */
    cr_expect_eq(rs_sandbox_allowed(h, S_IFREG | 0644, false), LANDLOCK_ACCESS_FS_WRITE_FILE | RIGHT_TRUNCATE);
    /* A character device: writing, truncating, its ioctls. */
    cr_expect_eq(rs_sandbox_allowed(h, S_IFCHR | 0666, true),
                 LANDLOCK_ACCESS_FS_WRITE_FILE | RIGHT_TRUNCATE | RIGHT_IOCTL_DEV);
    /* /dev/pts: its terminals' rights, no new entries, no removal. */
    uint64_t pts = rs_sandbox_allowed(h, S_IFDIR | 0755, true);
    cr_expect(pts & LANDLOCK_ACCESS_FS_WRITE_FILE);
    cr_expect_not(pts & (LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE | RIGHT_REFER));
    /* ABI 1: no right beyond what the ruleset handles. */
    cr_expect_eq(rs_sandbox_allowed(rs_sandbox_handled(1), S_IFCHR | 0666, true), LANDLOCK_ACCESS_FS_WRITE_FILE);
}

Test(sandbox, the_write_list_from_the_config)
{
    char *dir = mkdir_tmp();
    char *cache = rs_path_join(dir, "cache"), *extra = rs_path_join(dir, "extra");
    cr_assert_eq(mkdir(cache, 0755), 0);
    cr_assert_eq(mkdir(extra, 0755), 0);
    char *text = rs_xasprintf("cache_dir = \"cache\"\n[agent]\nwritable = [\"extra\", \"%s\"]\n", cache);
    struct rs_config *cfg = load(dir, text);
    free(text);

    struct rs_workdir w;
    rs_workdir_init(&w, cfg, 12, "okay-u");
    char *e = rs_path_join(dir, ".ralphsup/work/0012-okay-u");
    cr_expect_str_eq(w.dir, e);
    free(e);
    e = rs_path_join(dir, ".ralphsup/work/0012-okay-u/okay-u.csv");
    cr_expect_str_eq(w.csv, e);
    free(e);
    e = rs_path_join(dir, ".ralphsup/work/0012-okay-u/tmp");
    cr_expect_str_eq(w.tmp, e);
    free(e);
    e = rs_path_join(dir, ".ralphsup/work/0012-okay-u/claude");
    cr_expect_str_eq(w.claude, e);
    free(e);

    /* The work directory, cache_dir, every writable entry; never the root, output_dir or logs. */
    size_t n = 0;
    char **v = rs_sandbox_paths(cfg, &w, NULL, &n);
    cr_assert_eq(n, 4);
    cr_expect_str_eq(v[0], w.dir);
    cr_expect_str_eq(v[1], cache);
    cr_expect_str_eq(v[2], extra);
    cr_expect_str_eq(v[3], cache);
    cr_expect_null(v[4]);
    for (size_t i = 0; i < n; i++) {
        cr_expect(strcmp(v[i], cfg->root) != 0);
        cr_expect(strcmp(v[i], cfg->output_dir) != 0);
        cr_expect(strcmp(v[i], cfg->log_dir) != 0);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);

    /* The user's own CLAUDE_CONFIG_DIR joins the list. */
    v = rs_sandbox_paths(cfg, &w, "/home/u/.claude-x", &n);
    cr_assert_eq(n, 5);
    cr_expect_str_eq(v[2], "/home/u/.claude-x");
    char **k = rs_sandbox_keeper_args(7, v, n);
    cr_assert(k);
    cr_expect_str_eq(k[0], "--fence");
    cr_expect_str_eq(k[1], "7");
    for (size_t i = 0; i < n; i++) {
        cr_expect_str_eq(k[2 + 2 * i], "--write");
        cr_expect_str_eq(k[3 + 2 * i], v[i]);
    }
    cr_expect_null(k[2 + 2 * n]);
    cr_expect_null(rs_sandbox_keeper_args(0, v, n), "no fence: no keeper options");
    for (size_t i = 0; k[i]; i++)
        free(k[i]);
    free(k);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);

    /* Without cache_dir or writable: the work directory alone. */
    struct rs_config *bare = load(dir, "");
    v = rs_sandbox_paths(bare, &w, NULL, &n);
    cr_expect_eq(n, 1);
    cr_expect_str_eq(v[0], w.dir);
    free(v[0]);
    free(v);
    rs_config_free(bare);

    rs_workdir_deinit(&w);
    rs_config_free(cfg);
    free(cache);
    free(extra);
    rm_tmp(dir);
}

Test(sandbox, the_test_switch_only_lowers)
{
    unsetenv(RS_SANDBOX_ABI_ENV);
    int real = rs_sandbox_abi();
    setenv(RS_SANDBOX_ABI_ENV, "0", 1);
    cr_expect_eq(rs_sandbox_abi(), 0);
    setenv(RS_SANDBOX_ABI_ENV, "99", 1);
    cr_expect_eq(rs_sandbox_abi(), real, "never raised above the kernel's");
    setenv(RS_SANDBOX_ABI_ENV, "x", 1);
    cr_expect_eq(rs_sandbox_abi(), real, "not a number: ignored");
    unsetenv(RS_SANDBOX_ABI_ENV);
}

Test(sandbox, evidence_and_publishing)
{
    char *dir = mkdir_tmp();
    struct rs_config *cfg = load(dir, "");
    struct rs_workdir w;
    rs_workdir_init(&w, cfg, 3, "a-u");
    cr_assert_eq(rs_workdir_create(&w, NULL), 0);
    struct stat st;
    cr_expect_eq(stat(w.tmp, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0700);
    char *logs = rs_path_join(dir, "logs");
    cr_assert_eq(mkdir(logs, 0755), 0);
    cr_expect_eq(rs_workdir_keep_evidence(&w, logs), 0, "no CSV: nothing to keep, no error");
    put(w.csv, "a,b\n");
    cr_expect_eq(rs_workdir_keep_evidence(&w, logs), 0);
    char *ev = rs_path_join(logs, "0003-a-u.csv");
    cr_expect_eq(stat(ev, &st), 0, "kept as logs/<NNNN>-<slug>.csv");
    cr_expect_neq(access(w.csv, F_OK), 0, "moved, not copied");

    /* Publishing onto a directory in the way fails and leaves both sides as they were. */
    put(w.csv, "a,b\n");
    char *to = rs_path_join(dir, "out.csv");
    cr_assert_eq(mkdir(to, 0755), 0);
    char *inway = rs_path_join(to, "x");
    put(inway, "");
    cr_expect_lt(rs_publish_csv(w.csv, to), 0);
    cr_expect_eq(access(w.csv, F_OK), 0);
    cr_expect_eq(rmdir(to) < 0 && errno == ENOTEMPTY, true);
    free(inway);
    free(to);
    to = rs_path_join(dir, "pub.csv");
    cr_expect_eq(rs_publish_csv(w.csv, to), 0);
    cr_expect_eq(access(to, F_OK), 0);
    cr_expect_eq(rs_workdir_remove(&w), 0);
    cr_expect_neq(access(w.dir, F_OK), 0);

    free(to);
    free(ev);
    free(logs);
    rs_workdir_deinit(&w);
    rs_config_free(cfg);
    rm_tmp(dir);
}

/* In a child: apply the fence over @allowed, then try writing @target; exit with the errno (0: written). */
static int fenced_write(int abi, const char *allowed, const char *target)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        const char *failed = NULL;
        if (rs_sandbox_apply(abi, &allowed, 1, &failed) != 0)
            _exit(200);
        int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        _exit(fd < 0 ? errno : 0);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

Test(sandbox, applied_in_a_child)
{
    unsetenv(RS_SANDBOX_ABI_ENV);
    int abi = rs_sandbox_abi();
    const char *failed = NULL;
    cr_expect_eq(rs_sandbox_apply(0, NULL, 0, &failed), -EOPNOTSUPP);
    if (abi < 1) {
        cr_log_warn("no Landlock in this kernel: the live half is skipped");
        return;
    }
    char *dir = mkdir_tmp();
    char *own = rs_path_join(dir, "own"), *mine = rs_path_join(own, "f"), *theirs = rs_path_join(dir, "progress.json");
    cr_assert_eq(mkdir(own, 0755), 0);
    put(theirs, "{\"x\":1}\n");
    cr_expect_eq(fenced_write(abi, own, mine), 0, "inside the list: written");
    cr_expect_eq(fenced_write(abi, own, theirs), EACCES, "outside the list: EACCES");
    char *missing = rs_path_join(dir, "nope");
    cr_expect_eq(fenced_write(abi, missing, mine), 200, "a path that does not exist fails the fence");
    /* The parent is not fenced: the file is as it was. */
    char *data = NULL;
    size_t len = 0;
    cr_assert_eq(rs_file_read(theirs, 4096, &data, &len), 0);
    cr_expect_str_eq(data, "{\"x\":1}\n");
    free(data);
    free(missing);
    free(own);
    free(mine);
    free(theirs);
    rm_tmp(dir);
}
