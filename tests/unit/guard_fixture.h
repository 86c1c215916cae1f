/* SPDX-License-Identifier: MIT */
/*
 * The guard's test fixture, shared by tests/unit/core/test_guard.c (the
 * decisions) and tests/unit/cli/test_hook.c (the `ralphsup hook guard`
 * command): a temp tree with a batch root, its progress file, lock, .git,
 * hard link, symlinks in and out of the root, a dangling one and a loop.
 * Include it once, after criterion.h and the ralphsup headers; it defines
 * the Criterion suite "guard".
 */
#pragma once

static char tmp[64];
static char *root, *outside, *progress;
static struct rs_guard *g;

static char *at(const char *rel)
{
    return rs_path_join(tmp, rel);
}

static void touch(const char *rel)
{
    char *p = at(rel);
    cr_assert(rs_file_write_atomic(p, "{}\n", 3, 0644) == 0, "write %s", p);
    free(p);
}

static void mkd(const char *rel)
{
    char *p = at(rel);
    cr_assert(rs_mkdir_p(p, 0755) == 0);
    free(p);
}

static void lnk(const char *target, const char *rel)
{
    char *p = at(rel);
    cr_assert(symlink(target, p) == 0, "symlink %s: %s", p, strerror(errno));
    free(p);
}

static void setup(void)
{
    strcpy(tmp, "/tmp/rs-guard-XXXXXX");
    cr_assert(mkdtemp(tmp));
    mkd("root/.git");
    mkd("root/sub/.git");
    mkd("root/output");
    mkd("outside");
    touch("root/batch_progress.json");
    touch("root/batch_progress.json.lock");
    touch("root/.git/config");
    char *a = at("root/batch_progress.json"), *b = at("root/hard");
    cr_assert(link(a, b) == 0);
    free(a);
    free(b);
    lnk("batch_progress.json", "root/plink");
    lnk("batch_progress.json.lock", "root/locklink");
    lnk("../outside", "root/escape");
    lnk(".git", "root/gitlink");
    lnk("../outside/new.txt", "root/dangling");
    lnk("loop2", "root/loop1");
    lnk("loop1", "root/loop2");
    lnk("root", "rootlink");
    root = at("root");
    outside = at("outside");
    progress = at("root/batch_progress.json");
    cr_assert(rs_guard_new(root, progress, NULL, &g) == 0);
}

static void teardown(void)
{
    g = rs_guard_free(g);
    char *cmd = rs_xasprintf("rm -rf '%s'", tmp);
    cr_expect(system(cmd) == 0);
    free(cmd);
    free(root);
    free(outside);
    free(progress);
}

TestSuite(guard, .init = setup, .fini = teardown, .timeout = 10);
