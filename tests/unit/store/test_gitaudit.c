/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for gitaudit.c against real repositories in mkdtemp dirs:
 * unborn HEAD, tree contents, a user's staged changes, dedicated refs,
 * detached HEAD, lock files, concurrent commits, identity fallback,
 * trailers (libgit2 and git CLI), missing repositories, history walk.
 * HOME points at a temp dir and libgit2's config search paths are pinned
 * there, so neither the user's nor the system's git config is read.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <git2.h>

#include "ralphsup/store/gitaudit.h"
#include "ralphsup/base/util.h"

static char home[64];
static char repo[64];
static char err[512];

/* Run a shell command in the repo; returns its exit status. */
RS_PRINTF(1, 2)
static int sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = rs_xvasprintf(fmt, ap);
    va_end(ap);
    char *full = rs_xasprintf("cd '%s' && { %s ; } >/dev/null 2>&1", repo, cmd);
    int st = system(full);
    free(full);
    free(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run a shell command in the repo and return its stdout (caller frees). */
RS_PRINTF(1, 2)
static char *out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = rs_xvasprintf(fmt, ap);
    va_end(ap);
    char *full = rs_xasprintf("cd '%s' && %s 2>/dev/null", repo, cmd);
    FILE *f = popen(full, "r");
    cr_assert(f);
    struct rs_buf b;
    rs_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rs_buf_append(&b, chunk, n);
    pclose(f);
    free(full);
    free(cmd);
    rs_buf_cstr(&b);
    return rs_buf_steal(&b);
}

static void expect_out(const char *want, const char *cmd)
{
    char *got = out("%s", cmd);
    cr_expect_str_eq(got, want, "%s: got [%s] want [%s]", cmd, got, want);
    free(got);
}

static void write_file(const char *rel, const char *content)
{
    char *p = rs_path_join(repo, rel);
    char *d = rs_path_dirname(p);
    cr_assert_eq(rs_mkdir_p(d, 0755), 0);
    cr_assert_eq(rs_file_write_atomic(p, content, strlen(content), 0644), 0, "%s", p);
    free(d);
    free(p);
}

static void set_identity(void)
{
    char *p = rs_path_join(home, ".gitconfig");
    const char *cfg = "[user]\n\tname = Config User\n\temail = config@example.org\n";
    cr_assert_eq(rs_file_write_atomic(p, cfg, strlen(cfg), 0644), 0);
    free(p);
}

static void setup(void)
{
    strcpy(home, "/tmp/rs-git-home-XXXXXX");
    strcpy(repo, "/tmp/rs-git-repo-XXXXXX");
    cr_assert(mkdtemp(home));
    cr_assert(mkdtemp(repo));
    setenv("HOME", home, 1);
    setenv("XDG_CONFIG_HOME", home, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    unsetenv("GIT_DIR");
    unsetenv("GIT_WORK_TREE");
    unsetenv("GIT_INDEX_FILE");
    /* libgit2 computes its config search path once: pin it to the temp HOME. */
    git_libgit2_init();
    git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_SYSTEM, home);
    git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, home);
    git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, home);
    err[0] = '\0';
}

static void teardown(void)
{
    char *cmd = rs_xasprintf("rm -rf '%s' '%s'", repo, home);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    git_libgit2_shutdown();
}

TestSuite(gitaudit, .init = setup, .fini = teardown, .timeout = 30);

static void git_init(void)
{
    cr_assert_eq(sh("git init -q -b main ."), 0);
}

/* Repository with one commit (README) made by the git CLI. */
static void git_init_with_commit(void)
{
    set_identity();
    git_init();
    write_file("README", "hello\n");
    cr_assert_eq(sh("git add README && git commit -q -m init"), 0);
}

static struct rs_git *open_ref(const char *ref)
{
    struct rs_git_opts o = {.workdir = repo, .ref = ref};
    struct rs_git *g = NULL;
    int r = rs_git_open(&o, &g, err, sizeof(err));
    cr_assert_eq(r, 0, "open: %d %s", r, err);
    return g;
}

static int commit1(struct rs_git *g, const char *path, const char *subject, char *oid)
{
    const char *paths[] = {path};
    return rs_git_commit(g, paths, 1, subject, NULL, NULL, 0, oid, err, sizeof(err));
}

static void expect_fsck(void)
{
    cr_expect_eq(sh("git fsck --strict"), 0, "git fsck --strict failed");
}

static bool exists_in_repo(const char *rel)
{
    char *p = rs_path_join(repo, rel);
    bool e = rs_file_exists(p);
    free(p);
    return e;
}

Test(gitaudit, unborn_head_first_commit_is_root)
{
    set_identity();
    git_init();
    write_file("batch_progress.json", "{\"v\":1}\n");
    write_file("untracked.txt", "not mine\n");
    struct rs_git *g = open_ref("HEAD");
    char oid[41];
    cr_assert_eq(commit1(g, "batch_progress.json", "progress: start", oid), 0, "%s", err);
    cr_expect_eq(strlen(oid), 40);
    char *head = out("git rev-parse HEAD");
    cr_expect(strncmp(head, oid, 40) == 0, "HEAD %s vs %s", head, oid);
    free(head);
    expect_out("1\n", "git rev-list --count HEAD");
    expect_out("0\n", "git cat-file -p HEAD | grep -c '^parent' || true");
    expect_out("batch_progress.json\n", "git ls-tree -r --name-only HEAD");
    expect_out("refs/heads/main\n", "git symbolic-ref HEAD");
    /* The index follows: the progress file is clean, the other file untracked. */
    expect_out("?? untracked.txt\n", "git status --porcelain");
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, second_commit_has_parent_and_only_named_paths)
{
    set_identity();
    git_init();
    write_file("batch_progress.json", "{\"v\":1}\n");
    struct rs_git *g = open_ref("HEAD");
    char oid1[41], oid2[41];
    cr_assert_eq(commit1(g, "batch_progress.json", "first", oid1), 0, "%s", err);
    write_file("batch_progress.json", "{\"v\":2}\n");
    write_file("output/x.csv", "a,b\n1,2\n");
    write_file("other.txt", "unrelated\n");
    /* An absolute path and a nested relative one; the duplicate is one update. */
    char *abs = rs_path_join(repo, "batch_progress.json");
    const char *paths[] = {abs, "output/x.csv", "batch_progress.json"};
    cr_assert_eq(rs_git_commit(g, paths, 3, "second", NULL, NULL, 0, oid2, err, sizeof(err)), 0, "%s", err);
    free(abs);
    char *parents = out("git rev-list --parents -n1 HEAD");
    char want[100];
    snprintf(want, sizeof(want), "%s %s\n", oid2, oid1);
    cr_expect_str_eq(parents, want);
    free(parents);
    expect_out("batch_progress.json\noutput/x.csv\n", "git ls-tree -r --name-only HEAD");
    expect_out("{\"v\":2}\n", "git show HEAD:batch_progress.json");
    expect_out("a,b\n1,2\n", "git show HEAD:output/x.csv");
    expect_out("?? other.txt\n", "git status --porcelain");
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, users_staged_changes_stay_staged_and_uncommitted)
{
    git_init_with_commit();
    write_file("batch_progress.json", "{\"v\":1}\n");
    struct rs_git *g = open_ref("HEAD");
    char oid[41];
    cr_assert_eq(commit1(g, "batch_progress.json", "progress 1", oid), 0, "%s", err);
    /* The user stages a change and a new file while the supervisor runs. */
    write_file("README", "hello, edited\n");
    write_file("new.txt", "staged new file\n");
    cr_assert_eq(sh("git add README new.txt"), 0);
    write_file("batch_progress.json", "{\"v\":2}\n");
    cr_assert_eq(commit1(g, "batch_progress.json", "progress 2", oid), 0, "%s", err);
    cr_expect(!rs_git_index_skipped(g, NULL));

    expect_out("README\nnew.txt\n", "git diff --cached --name-only");
    expect_out("M  README\nA  new.txt\n", "git status --porcelain");
    expect_out("README\nbatch_progress.json\n", "git ls-tree -r --name-only HEAD");
    expect_out("hello\n", "git show HEAD:README");
    expect_out("{\"v\":2}\n", "git show HEAD:batch_progress.json");
    expect_out("3\n", "git rev-list --count HEAD");
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, dedicated_ref_leaves_head_and_index_alone)
{
    git_init_with_commit();
    char *head_before = out("git rev-parse HEAD");
    write_file("batch_progress.json", "{\"v\":1}\n");
    struct rs_git *g = open_ref("refs/heads/ralphsup/audit");
    char oid1[41], oid2[41];
    cr_assert_eq(commit1(g, "batch_progress.json", "audit 1", oid1), 0, "%s", err);
    write_file("batch_progress.json", "{\"v\":2}\n");
    cr_assert_eq(commit1(g, "batch_progress.json", "audit 2", oid2), 0, "%s", err);

    char *head_after = out("git rev-parse HEAD");
    cr_expect_str_eq(head_after, head_before);
    expect_out("refs/heads/main\n", "git symbolic-ref HEAD");
    expect_out("", "git diff --cached --name-only");
    expect_out("?? batch_progress.json\n", "git status --porcelain");
    /* The dedicated branch starts with a root commit of its own. */
    expect_out("2\n", "git rev-list --count refs/heads/ralphsup/audit");
    char *root = out("git rev-list --max-parents=0 refs/heads/ralphsup/audit");
    cr_expect(strncmp(root, oid1, 40) == 0);
    expect_out("batch_progress.json\n", "git ls-tree -r --name-only refs/heads/ralphsup/audit");
    free(root);
    free(head_before);
    free(head_after);
    rs_git_free(g);
    expect_fsck();
}

static int count_cb(const char *commit_hex, const char *summary, const char *data, size_t len, void *ud)
{
    (*(int *)ud)++;
    return 0;
}

Test(gitaudit, detached_head_is_an_error_unless_dedicated_ref)
{
    git_init_with_commit();
    write_file("batch_progress.json", "{}\n");
    struct rs_git *g = open_ref("HEAD");
    cr_assert_eq(sh("git checkout -q --detach"), 0);
    char oid[41];
    cr_expect_eq(commit1(g, "batch_progress.json", "x", oid), RS_GIT_E_DETACHED);
    cr_expect(strstr(err, "HEAD is detached") && strstr(err, "refs/heads/ralphsup/audit"), "%s", err);
    expect_out("1\n", "git rev-list --count HEAD");
    /* Reading history still works on a detached HEAD. */
    int versions = 0;
    cr_expect_eq(rs_git_history_blob(g, "README", count_cb, &versions, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(versions, 1);
    rs_git_free(g);

    struct rs_git_opts o = {.workdir = repo, .ref = "HEAD"};
    g = NULL;
    cr_expect_eq(rs_git_open(&o, &g, err, sizeof(err)), RS_GIT_E_DETACHED);
    cr_expect_null(g);
    cr_expect(strstr(err, "HEAD is detached"), "%s", err);

    g = open_ref("refs/heads/ralphsup/audit");
    cr_expect_eq(commit1(g, "batch_progress.json", "x", oid), 0, "%s", err);
    expect_out("1\n", "git rev-list --count refs/heads/ralphsup/audit");
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, index_lock_dedicated_ref_commits)
{
    git_init_with_commit();
    write_file("batch_progress.json", "{}\n");
    cr_assert_eq(sh("touch .git/index.lock"), 0);
    struct rs_git *g = open_ref("refs/heads/ralphsup/audit");
    rs_git_set_backoff(g, 2, 5);
    char oid[41];
    cr_expect_eq(commit1(g, "batch_progress.json", "x", oid), 0, "%s", err);
    cr_expect(!rs_git_index_skipped(g, NULL));
    cr_expect(exists_in_repo(".git/index.lock"));
    expect_out("1\n", "git rev-list --count refs/heads/ralphsup/audit");
    rs_git_free(g);
    cr_assert_eq(sh("rm .git/index.lock"), 0);
    expect_fsck();
}

/*
 * Documented behaviour: with index.lock held on the checked-out branch the
 * commit stands (returns 0) and only the index refresh is skipped; the next
 * commit after the lock is gone refreshes the index again.
 */
Test(gitaudit, index_lock_on_head_commits_and_skips_refresh)
{
    git_init_with_commit();
    write_file("batch_progress.json", "{\"v\":1}\n");
    cr_assert_eq(sh("touch .git/index.lock"), 0);
    struct rs_git *g = open_ref("HEAD");
    rs_git_set_backoff(g, 2, 5);
    char oid[41];
    cr_expect_eq(commit1(g, "batch_progress.json", "locked", oid), 0, "%s", err);
    const char *why = NULL;
    cr_expect(rs_git_index_skipped(g, &why));
    cr_expect(why && strstr(why, "lock"), "%s", why ? why : "(null)");
    cr_expect(exists_in_repo(".git/index.lock"));
    expect_out("2\n", "git rev-list --count HEAD");
    cr_assert_eq(sh("rm .git/index.lock"), 0);

    write_file("batch_progress.json", "{\"v\":2}\n");
    cr_expect_eq(commit1(g, "batch_progress.json", "unlocked", oid), 0, "%s", err);
    cr_expect(!rs_git_index_skipped(g, &why));
    cr_expect_null(why);
    expect_out("", "git status --porcelain");
    rs_git_free(g);
    expect_fsck();
}

/*
 * A stale index.lock (left by a process killed while writing the index; the
 * kill -9 torture leaves one) must not stall every commit: the refresh waits
 * at most 150 ms in all, whatever the ref backoff (here 5 retries from 4 s:
 * 124 s of waiting per commit without that bound, far past the timeout), and
 * after it gave up the next commits try once; the commits all stand.
 */
Test(gitaudit, stale_index_lock_costs_each_commit_no_backoff, .timeout = 20)
{
    git_init_with_commit();
    cr_assert_eq(sh("touch .git/index.lock"), 0);
    struct rs_git *g = open_ref("HEAD");
    rs_git_set_backoff(g, 5, 4000);
    char oid[41];
    for (int i = 0; i < 3; i++) {
        write_file("batch_progress.json", i == 0 ? "{\"v\":0}\n" : i == 1 ? "{\"v\":1}\n" : "{\"v\":2}\n");
        cr_expect_eq(commit1(g, "batch_progress.json", "locked", oid), 0, "%s", err);
        cr_expect(rs_git_index_skipped(g, NULL), "commit %d", i);
    }
    expect_out("4\n", "git rev-list --count HEAD");
    cr_expect(exists_in_repo(".git/index.lock"), "a held index.lock is never removed");
    cr_assert_eq(sh("rm .git/index.lock"), 0);
    write_file("batch_progress.json", "{\"v\":3}\n");
    cr_expect_eq(commit1(g, "batch_progress.json", "unlocked", oid), 0, "%s", err);
    cr_expect(!rs_git_index_skipped(g, NULL), "the lock gone, the index is refreshed again");
    expect_out("", "git status --porcelain");
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, ref_lock_defers_with_nothing_committed)
{
    git_init_with_commit();
    write_file("batch_progress.json", "{}\n");
    char *before = out("git rev-parse HEAD");
    cr_assert_eq(sh("touch .git/refs/heads/main.lock"), 0);
    struct rs_git *g = open_ref("HEAD");
    char oid[41];
    /* Default backoff: 50+100+200+400+800 ms before giving up. */
    int64_t t0 = rs_mono_ms();
    cr_expect_eq(commit1(g, "batch_progress.json", "x", oid), RS_GIT_E_DEFERRED, "%s", err);
    int64_t dt = rs_mono_ms() - t0;
    cr_expect(dt >= 1500 && dt < 5000, "waited %lld ms", (long long)dt);
    cr_expect(strstr(err, "deferred"), "%s", err);
    cr_expect(exists_in_repo(".git/refs/heads/main.lock"));
    char *after = out("git rev-parse HEAD");
    cr_expect_str_eq(after, before);
    expect_out("?? batch_progress.json\n", "git status --porcelain");

    /* Once the lock is released, the next commit lands. */
    cr_assert_eq(sh("rm .git/refs/heads/main.lock"), 0);
    cr_expect_eq(commit1(g, "batch_progress.json", "x", oid), 0, "%s", err);
    expect_out("2\n", "git rev-list --count HEAD");
    free(before);
    free(after);
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, stale_ref_lock_of_a_dead_process_is_removed)
{
    /* A kill -9 mid-update leaves the ref's lock behind; an old one cannot be a live git. */
    git_init_with_commit();
    write_file("batch_progress.json", "{}\n");
    cr_assert_eq(sh("touch -d '1 hour ago' .git/refs/heads/main.lock"), 0);
    struct rs_git *g = open_ref("HEAD");
    rs_git_set_backoff(g, 1, 10);
    char oid[41];
    cr_expect_eq(commit1(g, "batch_progress.json", "x", oid), 0, "%s", err);
    cr_expect(!exists_in_repo(".git/refs/heads/main.lock"));
    cr_assert(rs_git_notice(g));
    cr_expect(strstr(rs_git_notice(g), "removed a stale lock"), "%s", rs_git_notice(g));
    expect_out("2\n", "git rev-list --count HEAD");
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, head_moved_between_open_and_commit)
{
    git_init_with_commit();
    write_file("batch_progress.json", "{\"v\":1}\n");
    struct rs_git *g = open_ref("HEAD");
    /* Another commit lands after open (by the git CLI). */
    write_file("user.txt", "user work\n");
    cr_assert_eq(sh("git add user.txt && git commit -q -m 'user commit'"), 0);
    char oid[41];
    cr_assert_eq(commit1(g, "batch_progress.json", "supervisor commit", oid), 0, "%s", err);
    expect_out("supervisor commit\nuser commit\ninit\n", "git log --format=%s");
    expect_out("README\nbatch_progress.json\nuser.txt\n", "git ls-tree -r --name-only HEAD");
    expect_out("", "git status --porcelain");
    rs_git_free(g);
    expect_fsck();
}

/*
 * Two processes commit different files onto the same branch at once. The
 * ref compare-and-swap must detect every lost race and rebuild on the new
 * tip: all commits survive and each tree carries both files' latest state.
 */
Test(gitaudit, concurrent_writers_lose_no_commit, .timeout = 60)
{
    git_init_with_commit();
    enum { N = 25 };
    pid_t pids[2];
    for (int w = 0; w < 2; w++) {
        pids[w] = fork();
        cr_assert(pids[w] >= 0);
        if (pids[w] == 0) {
            struct rs_git_opts o = {.workdir = repo, .ref = "HEAD"};
            struct rs_git *g = NULL;
            if (rs_git_open(&o, &g, err, sizeof(err)) != 0)
                _exit(2);
            char name[32], content[64], oid[41];
            snprintf(name, sizeof(name), "w%d.txt", w);
            for (int i = 0; i < N; i++) {
                snprintf(content, sizeof(content), "%d\n", i);
                write_file(name, content);
                if (commit1(g, name, name, oid) != 0)
                    _exit(3);
            }
            rs_git_free(g);
            _exit(0);
        }
    }
    for (int w = 0; w < 2; w++) {
        int st;
        cr_assert_eq(waitpid(pids[w], &st, 0), pids[w]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d status %d", w, st);
    }
    char want[16];
    snprintf(want, sizeof(want), "%d\n", 2 * N + 1);
    expect_out(want, "git rev-list --count HEAD");
    snprintf(want, sizeof(want), "%d\n", N - 1);
    expect_out(want, "git show HEAD:w0.txt");
    expect_out(want, "git show HEAD:w1.txt");
    expect_fsck();
}

Test(gitaudit, no_identity_uses_fallback_author)
{
    git_init();
    write_file("p.json", "{}\n");
    struct rs_git_opts o = {.workdir = repo, .ref = "HEAD", .author_name = "Batch Bot", .author_email = "bot@x.test"};
    struct rs_git *g = NULL;
    cr_assert_eq(rs_git_open(&o, &g, err, sizeof(err)), 0, "%s", err);
    char oid[41];
    cr_assert_eq(commit1(g, "p.json", "x", oid), 0, "%s", err);
    expect_out("Batch Bot <bot@x.test> / Batch Bot <bot@x.test>\n", "git log -1 --format='%an <%ae> / %cn <%ce>'");
    rs_git_free(g);

    /* NULL fallbacks give the documented defaults. */
    g = open_ref("HEAD");
    write_file("p.json", "{\"v\":2}\n");
    cr_assert_eq(commit1(g, "p.json", "y", oid), 0, "%s", err);
    expect_out("ralphsup <ralphsup@localhost>\n", "git log -1 --format='%an <%ae>'");

    /* A configured identity wins. */
    set_identity();
    write_file("p.json", "{\"v\":3}\n");
    cr_assert_eq(commit1(g, "p.json", "z", oid), 0, "%s", err);
    expect_out("Config User <config@example.org>\n", "git log -1 --format='%an <%ae>'");
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, message_layout_and_trailers_parse)
{
    set_identity();
    git_init();
    write_file("p.json", "{}\n");
    struct rs_git *g = open_ref("HEAD");
    const char *paths[] = {"p.json"};
    struct rs_git_trailer tr[] = {
        {"Ralphsup-School", "Springfield High\nSchool"},
        {"Ralphsup-Event", "done"},
        {"Ralphsup-Cost", "$0.84"},
    };
    char oid[41];
    cr_assert_eq(rs_git_commit(g, paths, 1, "school done: Springfield", "Turns: 12\nDuration: 6m12s\n\n", tr, 3, oid,
                               err, sizeof(err)),
                 0, "%s", err);
    const char *want = "school done: Springfield\n\nTurns: 12\nDuration: 6m12s\n\n"
                       "Ralphsup-School: Springfield High School\nRalphsup-Event: done\nRalphsup-Cost: $0.84\n";
    char *msg = out("git cat-file commit HEAD | sed '1,/^$/d'");
    cr_expect_str_eq(msg, want);

    /* libgit2 reads the trailers back. */
    git_message_trailer_array arr = {0};
    cr_assert_eq(git_message_trailers(&arr, msg), 0);
    cr_assert_eq(arr.count, 3);
    cr_expect_str_eq(arr.trailers[0].key, "Ralphsup-School");
    cr_expect_str_eq(arr.trailers[0].value, "Springfield High School");
    cr_expect_str_eq(arr.trailers[1].key, "Ralphsup-Event");
    cr_expect_str_eq(arr.trailers[2].value, "$0.84");
    git_message_trailer_array_free(&arr);
    free(msg);

    /* So does the git CLI. */
    expect_out("Ralphsup-School: Springfield High School\nRalphsup-Event: done\nRalphsup-Cost: $0.84\n",
               "git log -1 --format=%B | git interpret-trailers --parse");

    /* Without body and trailers: just the subject line. */
    write_file("p.json", "{\"v\":2}\n");
    cr_assert_eq(rs_git_commit(g, paths, 1, "only\nsubject", NULL, NULL, 0, oid, err, sizeof(err)), 0, "%s", err);
    expect_out("only subject\n", "git cat-file commit HEAD | sed '1,/^$/d'");

    /* A trailer key git could not parse is refused. */
    struct rs_git_trailer bad[] = {{"Bad Key", "v"}};
    cr_expect_eq(rs_git_commit(g, paths, 1, "s", NULL, bad, 1, oid, err, sizeof(err)), -EINVAL);
    expect_out("2\n", "git rev-list --count HEAD");
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, message_with_bytes_that_are_not_utf8_is_repaired)
{
    set_identity();
    git_init();
    write_file("p.json", "{}\n");
    struct rs_git *g = open_ref("HEAD");
    const char *paths[] = {"p.json"};
    struct rs_git_trailer tr[] = {{"Ralphsup-School", "Caf\xE9 High"}};
    char oid[41];
    cr_assert_eq(rs_git_commit(g, paths, 1, "failed: bad \xFF here", "cut \xC3", tr, 1, oid, err, sizeof(err)), 0,
                 "%s", err);
    /* Each bad sequence is one U+FFFD; nothing is dropped. */
    expect_out("failed: bad \xEF\xBF\xBD here\n\ncut \xEF\xBF\xBD\n\nRalphsup-School: Caf\xEF\xBF\xBD High\n",
               "git cat-file commit HEAD | sed '1,/^$/d'");
    rs_git_free(g);
    expect_fsck();
}

Test(gitaudit, not_a_repository_noreport_or_create)
{
    struct rs_git_opts o = {.workdir = repo, .ref = "HEAD"};
    struct rs_git *g = NULL;
    cr_expect_eq(rs_git_open(&o, &g, err, sizeof(err)), RS_GIT_E_NOREPO);
    cr_expect_null(g);
    cr_expect(strstr(err, "no git repository"), "%s", err);

    o.create = true;
    cr_assert_eq(rs_git_open(&o, &g, err, sizeof(err)), RS_GIT_E_CREATED, "%s", err);
    cr_assert_not_null(g);
    cr_expect(exists_in_repo(".git/HEAD"));
    char *want = rs_xasprintf("%s/", repo);
    cr_expect_str_eq(rs_git_workdir(g), want);
    free(want);
    write_file("sub/p.json", "{}\n");
    char oid[41];
    cr_expect_eq(commit1(g, "sub/p.json", "first", oid), 0, "%s", err);
    expect_out("1\n", "git rev-list --count HEAD");
    rs_git_free(g);

    /* A second open finds it, also from a subdirectory (discovery upward). */
    char *sub = rs_path_join(repo, "sub");
    o.workdir = sub;
    cr_expect_eq(rs_git_open(&o, &g, err, sizeof(err)), 0, "%s", err);
    g = rs_git_free(g);
    cr_expect_null(g);
    free(sub);
    expect_fsck();
}

Test(gitaudit, bad_paths_and_refs_are_rejected)
{
    set_identity();
    git_init();
    write_file("p.json", "{}\n");
    struct rs_git *g = open_ref("HEAD");
    char oid[41];
    cr_expect_eq(commit1(g, "/etc/hostname", "x", oid), -EINVAL);
    cr_expect(strstr(err, "not a file inside the repository"), "%s", err);
    cr_expect_eq(commit1(g, "../escape", "x", oid), -EINVAL);
    cr_expect_eq(commit1(g, "sub/../../escape", "x", oid), -EINVAL);
    cr_expect_eq(commit1(g, "missing.json", "x", oid), -ENOENT);
    cr_expect(strstr(err, "missing.json"), "%s", err);
    expect_out("", "git rev-list --all");
    rs_git_free(g);

    struct rs_git_opts o = {.workdir = repo, .ref = "ralphsup/audit"};
    cr_expect_eq(rs_git_open(&o, &g, err, sizeof(err)), -EINVAL);
    o.ref = "refs/heads/bad..name";
    cr_expect_eq(rs_git_open(&o, &g, err, sizeof(err)), -EINVAL);
    cr_expect(strstr(err, "invalid git ref"), "%s", err);
}

Test(gitaudit, foreign_owned_repository_is_reported)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to chown");
    set_identity();
    git_init();
    cr_assert_eq(sh("chown -R 12345:12345 ."), 0);
    struct rs_git_opts o = {.workdir = repo, .ref = "HEAD"};
    struct rs_git *g = NULL;
    int r = rs_git_open(&o, &g, err, sizeof(err));
    cr_expect_eq(r, -EACCES, "r=%d %s", r, err);
    cr_expect(strstr(err, "safe.directory"), "%s", err);
    cr_expect_null(g);
}

struct seen {
    char data[8][32];
    char summary[8][32];
    int n;
    int stop_at;
};

static int collect(const char *commit_hex, const char *summary, const char *data, size_t len, void *ud)
{
    struct seen *s = ud;
    cr_assert_eq(strlen(commit_hex), 40);
    cr_assert_lt(s->n, 8);
    snprintf(s->data[s->n], sizeof(s->data[0]), "%.*s", (int)len, data);
    snprintf(s->summary[s->n], sizeof(s->summary[0]), "%s", summary);
    s->n++;
    return s->n == s->stop_at ? 7 : 0;
}

Test(gitaudit, history_blob_newest_first_deduplicated)
{
    set_identity();
    git_init();
    struct rs_git *g = open_ref("HEAD");
    struct seen s = {.n = 0};
    cr_expect_eq(rs_git_history_blob(g, "p.json", collect, &s, err, sizeof(err)), 0, "unborn: %s", err);
    cr_expect_eq(s.n, 0);

    char oid[41];
    write_file("other.txt", "o\n");
    cr_assert_eq(commit1(g, "other.txt", "c0 without p", oid), 0, "%s", err);
    write_file("p.json", "v1");
    cr_assert_eq(commit1(g, "p.json", "c1", oid), 0, "%s", err);
    write_file("p.json", "v2");
    cr_assert_eq(commit1(g, "p.json", "c2", oid), 0, "%s", err);
    write_file("other.txt", "o2\n");
    cr_assert_eq(commit1(g, "other.txt", "c3 p unchanged", oid), 0, "%s", err);
    write_file("p.json", "v3");
    cr_assert_eq(commit1(g, "p.json", "c4", oid), 0, "%s", err);

    char *abs = rs_path_join(repo, "p.json");
    cr_expect_eq(rs_git_history_blob(g, abs, collect, &s, err, sizeof(err)), 0, "%s", err);
    free(abs);
    cr_assert_eq(s.n, 3);
    cr_expect_str_eq(s.data[0], "v3");
    cr_expect_str_eq(s.summary[0], "c4");
    cr_expect_str_eq(s.data[1], "v2");
    cr_expect_str_eq(s.summary[1], "c3 p unchanged"); /* newest commit holding v2 */
    cr_expect_str_eq(s.data[2], "v1");

    struct seen s2 = {.stop_at = 2};
    cr_expect_eq(rs_git_history_blob(g, "p.json", collect, &s2, err, sizeof(err)), 7);
    cr_expect_eq(s2.n, 2);
    rs_git_free(g);
    expect_fsck();
}

/* Loose objects in the repository (count-objects' "count"). */
static long loose_count(void)
{
    char *s = out("git count-objects -v | sed -n 's/^count: //p'");
    long n = atol(s);
    free(s);
    return n;
}

/*
 * [git] pack_every: every N commits the objects ralphsup wrote (commits,
 * trees, blobs, also of a nested path) go into one pack and their loose
 * copies go; the user's own loose objects (a staged file, a commit made with
 * the CLI) stay loose and untouched; the history reads the same through the
 * pack (git and libgit2), fsck is clean, and rs_git_free() packs the rest.
 */
Test(gitaudit, pack_every_packs_only_ralphsups_objects_and_drops_their_loose_copies)
{
    git_init_with_commit();
    write_file("staged.txt", "the user's staged file\n");
    cr_assert_eq(sh("git add staged.txt"), 0);
    long user_loose = loose_count();
    cr_assert_geq(user_loose, 4, "README blob, tree, commit, staged blob");
    char *user_before = out("find .git/objects -type f -path '*/objects/[0-9a-f][0-9a-f]/*' -exec md5sum {} + | sort");

    struct rs_git_opts o = {.workdir = repo, .ref = "HEAD", .pack_every = 4};
    struct rs_git *g = NULL;
    cr_assert_eq(rs_git_open(&o, &g, err, sizeof err), 0, "%s", err);
    char oid[41];
    const char *paths[] = {"batch_progress.json", "output/x.csv"};
    for (int i = 1; i <= 6; i++) {
        char *doc = rs_xasprintf("{\"v\": %d, \"schools\": [\"A\", \"B\", \"C\"]}\n", i);
        write_file("batch_progress.json", doc);
        write_file("output/x.csv", i % 2 ? "a,b\n" : "a,b\n1,2\n");
        free(doc);
        cr_assert_eq(rs_git_commit(g, paths, 2, "t", NULL, NULL, 0, oid, err, sizeof err), 0, "%s", err);
        if (i == 4) {
            /* Packed after the 4th commit: only the user's objects are loose. */
            cr_expect_eq(loose_count(), user_loose);
            expect_out("1\n", "ls .git/objects/pack/*.pack | wc -l");
        }
    }
    cr_expect_gt(loose_count(), user_loose, "commits 5 and 6 are loose until the next pack");
    size_t packed = 0;
    cr_assert_eq(rs_git_pack(g, &packed, err, sizeof err), 0, "%s", err);
    /* Commits 5 and 6: 2 commits, 2 root trees, 2 output/ trees, 2 progress blobs; the CSV blobs repeat. */
    cr_expect_geq(packed, 8);
    cr_expect_eq(loose_count(), user_loose);
    cr_assert_eq(rs_git_pack(g, &packed, err, sizeof err), 0);
    cr_expect_eq(packed, 0, "nothing left to pack");
    /* Every loose object the user had is still there, byte for byte the same file. */
    char *user_after = out("find .git/objects -type f -path '*/objects/[0-9a-f][0-9a-f]/*' -exec md5sum {} + | sort");
    cr_expect_str_eq(user_after, user_before);
    free(user_after);
    free(user_before);
    expect_out("7\n", "git rev-list --count HEAD");
    expect_out("{\"v\": 6, \"schools\": [\"A\", \"B\", \"C\"]}\n", "git show HEAD:batch_progress.json");
    expect_out("{\"v\": 1, \"schools\": [\"A\", \"B\", \"C\"]}\n", "git show HEAD~5:batch_progress.json");
    expect_out("A  staged.txt\n", "git status --porcelain --untracked-files=no");
    /* libgit2 itself still reads every version, now from the packs. */
    int versions = 0;
    cr_expect_eq(rs_git_history_blob(g, "batch_progress.json", count_cb, &versions, err, sizeof err), 0, "%s", err);
    cr_expect_eq(versions, 6);
    /* And a commit after packing builds on the packed tip. */
    write_file("batch_progress.json", "{\"v\": 7}\n");
    cr_assert_eq(commit1(g, "batch_progress.json", "after", oid), 0, "%s", err);
    rs_git_free(g); /* packs the last commit's objects */
    cr_expect_eq(loose_count(), user_loose);
    expect_fsck();
}

/*
 * Every tenth pack a handle writes, its ten packs are merged into one (each
 * pack holds a full copy of the file its deltas start from): 25 commits at
 * pack_every 1 leave 2 merged packs and the 5 since, every version readable,
 * the user's pack (git gc of their own objects) untouched, fsck clean.
 */
Test(gitaudit, every_tenth_pack_merges_the_ten_into_one)
{
    git_init_with_commit();
    cr_assert_eq(sh("git gc -q"), 0);
    char *user_pack = out("ls .git/objects/pack/*.pack");
    cr_assert(user_pack && strlen(user_pack) > 1);
    struct rs_git_opts o = {.workdir = repo, .ref = "HEAD", .pack_every = 1};
    struct rs_git *g = NULL;
    cr_assert_eq(rs_git_open(&o, &g, err, sizeof err), 0, "%s", err);
    char oid[41];
    for (int i = 1; i <= 25; i++) {
        char *doc = rs_xasprintf("{\"v\": %d, \"schools\": [\"A\", \"B\", \"C\", \"D\", \"E\"]}\n", i);
        write_file("batch_progress.json", doc);
        free(doc);
        cr_assert_eq(commit1(g, "batch_progress.json", "t", oid), 0, "%s", err);
        if (i == 9)
            expect_out("10\n", "ls .git/objects/pack/*.pack | wc -l"); /* the user's and 9 of ours */
        if (i == 10)
            expect_out("2\n", "ls .git/objects/pack/*.pack | wc -l"); /* the user's and the merged one */
        if (i == 11) { /* the handle let go of the ten it removed (their descriptors, maps and caches) */
            char *cmd = rs_xasprintf("cat /proc/%d/maps | grep -c 'pack.*(deleted)' || true", (int)getpid());
            char *fds = rs_xasprintf("ls -l /proc/%d/fd | grep -c 'pack.*(deleted)' || true", (int)getpid());
            expect_out("0\n", cmd);
            expect_out("0\n", fds);
            free(cmd);
            free(fds);
        }
    }
    rs_git_free(g);
    expect_out("8\n", "ls .git/objects/pack/*.pack | wc -l"); /* the user's, 2 merged, the last 5 */
    expect_out("8\n", "ls .git/objects/pack/*.idx | wc -l");
    const char *up = user_pack ? user_pack : "";
    char *still = out("ls %.*s", (int)strlen(up) - 1, up);
    cr_expect_str_eq(still, user_pack, "the user's pack is untouched");
    free(still);
    free(user_pack);
    expect_out("26\n", "git rev-list --count HEAD");
    for (int i = 1; i <= 25; i++) {
        char *want = rs_xasprintf("{\"v\": %d, \"schools\": [\"A\", \"B\", \"C\", \"D\", \"E\"]}\n", i);
        char *cmd = rs_xasprintf("git show HEAD~%d:batch_progress.json", 25 - i);
        expect_out(want, cmd);
        free(cmd);
        free(want);
    }
    expect_fsck();
}

/*
 * libgit2 caches every commit and tree it parses (256 MiB by default); each
 * commit looks up its parent, so over a long batch the cache grew by ~1.6 KiB
 * per commit. An open handle caps it, and the cache stays under the cap.
 */
Test(gitaudit, object_cache_is_capped_over_many_commits)
{
    git_init_with_commit();
    struct rs_git_opts o = {.workdir = repo, .ref = "HEAD"};
    struct rs_git *g = NULL;
    cr_assert_eq(rs_git_open(&o, &g, err, sizeof err), 0, "%s", err);
    char oid[41];
    for (int i = 1; i <= 200; i++) {
        char *doc = rs_xasprintf("{\"v\": %d}\n", i);
        write_file("batch_progress.json", doc);
        free(doc);
        cr_assert_eq(commit1(g, "batch_progress.json", "t", oid), 0, "%s", err);
    }
    ssize_t used = -1, allowed = -1;
    cr_assert_eq(git_libgit2_opts(GIT_OPT_GET_CACHED_MEMORY, &used, &allowed), 0);
    cr_expect(allowed > 0 && allowed <= (ssize_t)(4 << 20), "cache allowed %zd bytes", allowed);
    cr_expect(used >= 0 && used <= allowed, "cache holds %zd of %zd bytes", used, allowed);
    rs_git_free(g);
    expect_out("201\n", "git rev-list --count HEAD");
}

/* In a linked worktree (`git worktree add`) the objects live in the main repository's git dir. */
Test(gitaudit, pack_in_a_linked_worktree_uses_the_common_object_store)
{
    git_init_with_commit();
    cr_assert_eq(sh("git worktree add -q -b wt wt"), 0);
    char *wt = rs_path_join(repo, "wt");
    char *f = rs_path_join(wt, "batch_progress.json");
    struct rs_git_opts o = {.workdir = wt, .ref = "HEAD", .pack_every = 2};
    struct rs_git *g = NULL;
    cr_assert_eq(rs_git_open(&o, &g, err, sizeof err), 0, "%s", err);
    long before = loose_count();
    char oid[41];
    for (int i = 0; i < 2; i++) {
        const char *doc = i ? "{\"v\": 2}\n" : "{\"v\": 1}\n";
        cr_assert_eq(rs_file_write_atomic(f, doc, strlen(doc), 0644), 0);
        cr_assert_eq(commit1(g, f, "t", oid), 0, "%s", err);
    }
    cr_expect_eq(loose_count(), before, "packed into the common dir, loose copies gone");
    expect_out("1\n", "ls .git/objects/pack/*.pack | wc -l");
    expect_out("{\"v\": 1}\n", "git show wt~1:batch_progress.json");
    rs_git_free(g);
    expect_fsck();
    free(f);
    free(wt);
}
