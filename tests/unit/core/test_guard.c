/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for guard.c (every rule, allow and deny); the hook command's
 * I/O (cli_hook.c) is tested in tests/unit/cli/test_hook.c, which links the
 * cli layer this test must not.
 * Each test builds a batch in a mkdtemp dir:
 *
 *   <tmp>/root/                  batch root
 *       batch_progress.json      + .lock, a hard link "hard", a symlink "plink"
 *       .git/  sub/.git/  output/
 *       escape -> ../outside     gitlink -> .git     dangling -> ../outside/new.txt
 *       loop1 <-> loop2
 *   <tmp>/outside/
 *   <tmp>/rootlink -> root
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ralphsup/core/guard.h"
#include "ralphsup/base/util.h"

#include "../guard_fixture.h"

/* Decide @tool on @path / @command with cwd @cwd; *reason is freed unless @keep. */
static int decide(const char *tool, const char *path, const char *command, const char *cwd, char **keep)
{
    struct rs_guard_call c = {.tool = tool, .path = path, .command = command, .cwd = cwd};
    char *reason = NULL;
    int r = rs_guard_check(g, &c, &reason);
    if (r == RS_GUARD_DENY) {
        cr_assert(reason, "a denial carries a reason");
        cr_assert(strncmp(reason, "ralphsup guard: ", 16) == 0, "reason prefix: %s", reason);
    } else {
        cr_assert(reason == NULL);
    }
    if (keep)
        *keep = reason;
    else
        free(reason);
    return r;
}

static int write_at(const char *path, const char *cwd)
{
    return decide("Write", path, NULL, cwd, NULL);
}

static int bash(const char *command)
{
    return decide("Bash", NULL, command, root, NULL);
}

/*----------------------------------------------------------------------------*/

Test(guard, write_inside_root_is_allowed)
{
    char *p = at("root/output/a.csv");
    cr_expect_eq(write_at(p, root), RS_GUARD_ALLOW);
    cr_expect_eq(write_at("output/a.csv", root), RS_GUARD_ALLOW);
    cr_expect_eq(write_at("new-dir/deeper/x.txt", root), RS_GUARD_ALLOW);
    char *sub = at("root/output");
    cr_expect_eq(write_at("../notes.md", sub), RS_GUARD_ALLOW);
    /* "batch_progress.json.bak" is not the progress file. */
    cr_expect_eq(write_at("batch_progress.json.bak", root), RS_GUARD_ALLOW);
    cr_expect_eq(decide("Edit", p, NULL, root, NULL), RS_GUARD_ALLOW);
    free(sub);
    free(p);
}

Test(guard, write_progress_is_denied_in_every_spelling)
{
    char *reason = NULL;
    cr_expect_eq(decide("Write", progress, NULL, root, &reason), RS_GUARD_DENY);
    cr_expect(strstr(reason, "batch_progress.json is owned by the supervisor; do not write it"), "%s", reason);
    free(reason);
    cr_expect_eq(write_at("batch_progress.json", root), RS_GUARD_DENY);
    cr_expect_eq(write_at("./output/../batch_progress.json", root), RS_GUARD_DENY);
    cr_expect_eq(write_at("..//root/./batch_progress.json", root), RS_GUARD_DENY);
    char *sub = at("root/output");
    cr_expect_eq(write_at("../batch_progress.json", sub), RS_GUARD_DENY);
    free(sub);
    /* Through a symlink, a hard link, and the root's own symlink. */
    cr_expect_eq(write_at("plink", root), RS_GUARD_DENY);
    cr_expect_eq(write_at("hard", root), RS_GUARD_DENY);
    char *via = at("rootlink/batch_progress.json");
    cr_expect_eq(write_at(via, "/"), RS_GUARD_DENY);
    free(via);
    /* Every writing tool. */
    cr_expect_eq(decide("Edit", "batch_progress.json", NULL, root, NULL), RS_GUARD_DENY);
    cr_expect_eq(decide("MultiEdit", "batch_progress.json", NULL, root, NULL), RS_GUARD_DENY);
    cr_expect_eq(decide("NotebookEdit", "batch_progress.json", NULL, root, NULL), RS_GUARD_DENY);
}

Test(guard, write_lock_is_denied)
{
    char *reason = NULL;
    cr_expect_eq(decide("Write", "batch_progress.json.lock", NULL, root, &reason), RS_GUARD_DENY);
    cr_expect(strstr(reason, "batch_progress.json.lock is the supervisor's lock file"), "%s", reason);
    free(reason);
    cr_expect_eq(write_at("locklink", root), RS_GUARD_DENY);
}

Test(guard, write_into_the_operators_request_queue_is_denied)
{
    char *reason = NULL;
    cr_expect_eq(decide("Write", "batch_progress.json.ops/1-2.json", NULL, root, &reason), RS_GUARD_DENY);
    cr_expect(strstr(reason, "the operator's request queue"), "%s", reason);
    free(reason);
    cr_expect_eq(write_at("batch_progress.json.ops", root), RS_GUARD_DENY);
    cr_expect_eq(write_at("batch_progress.json.opsfoo", root), RS_GUARD_ALLOW, "only the queue itself");
}

Test(guard, write_inside_any_git_dir_is_denied)
{
    char *reason = NULL;
    cr_expect_eq(decide("Write", ".git/config", NULL, root, &reason), RS_GUARD_DENY);
    cr_expect(strstr(reason, "inside a .git directory"), "%s", reason);
    free(reason);
    cr_expect_eq(write_at(".git/hooks/pre-commit", root), RS_GUARD_DENY);
    cr_expect_eq(write_at("sub/.git/HEAD", root), RS_GUARD_DENY);
    cr_expect_eq(write_at("deep/new/.git/x", root), RS_GUARD_DENY);
    /* Through a symlink that hides the name. */
    cr_expect_eq(write_at("gitlink/config", root), RS_GUARD_DENY);
    /* Names that only look like it are fine. */
    cr_expect_eq(write_at(".gitignore", root), RS_GUARD_ALLOW);
    cr_expect_eq(write_at("output/repo.git/x", root), RS_GUARD_ALLOW);
}

Test(guard, write_outside_root_is_denied)
{
    char *reason = NULL;
    cr_expect_eq(decide("Write", "/tmp/rs-guard-elsewhere.txt", NULL, root, &reason), RS_GUARD_DENY);
    cr_expect(strstr(reason, "outside the batch root"), "%s", reason);
    free(reason);
    cr_expect_eq(write_at("../outside/x.txt", root), RS_GUARD_DENY);
    cr_expect_eq(write_at("x.txt", outside), RS_GUARD_DENY);
    cr_expect_eq(write_at("/etc/passwd", root), RS_GUARD_DENY);
    /* A directory named like the root plus a suffix is not inside it. */
    char *sib = rs_xasprintf("%s-other/x", root);
    cr_expect_eq(write_at(sib, root), RS_GUARD_DENY);
    free(sib);
}

Test(guard, symlink_escape_is_denied)
{
    char *reason = NULL;
    cr_expect_eq(decide("Write", "escape/x.txt", NULL, root, &reason), RS_GUARD_DENY);
    cr_expect(strstr(reason, "resolves to"), "%s", reason);
    free(reason);
    /* A dangling symlink inside the root whose target is outside. */
    cr_expect_eq(write_at("dangling", root), RS_GUARD_DENY);
    /* escape/.. is the root's parent once the link is followed. */
    cr_expect_eq(write_at("escape/../outside/y", root), RS_GUARD_DENY);
    cr_expect_eq(write_at("loop1", root), RS_GUARD_DENY);
    cr_expect_eq(write_at("loop1/x", root), RS_GUARD_DENY);
}

Test(guard, extra_dirs_allow_writes_outside_root)
{
    g = rs_guard_free(g);
    const char *extra[] = {outside, NULL};
    cr_assert(rs_guard_new(root, progress, extra, &g) == 0);
    cr_expect_eq(write_at("../outside/x.txt", root), RS_GUARD_ALLOW);
    cr_expect_eq(write_at("escape/x.txt", root), RS_GUARD_ALLOW);
    cr_expect_eq(write_at("/etc/passwd", root), RS_GUARD_DENY);
}

Test(guard, root_given_through_a_symlink)
{
    g = rs_guard_free(g);
    char *lroot = at("rootlink"), *lprog = at("rootlink/batch_progress.json");
    cr_assert(rs_guard_new(lroot, lprog, NULL, &g) == 0);
    char *real = at("root/output/a.csv"), *viaroot = at("rootlink/output/a.csv");
    cr_expect_eq(write_at(real, "/"), RS_GUARD_ALLOW);
    cr_expect_eq(write_at(viaroot, "/"), RS_GUARD_ALLOW);
    cr_expect_eq(write_at(progress, "/"), RS_GUARD_DENY);
    cr_expect_eq(write_at(lprog, "/"), RS_GUARD_DENY);
    free(real);
    free(viaroot);
    free(lroot);
    free(lprog);
}

Test(guard, relative_path_without_cwd_is_relative_to_root)
{
    cr_expect_eq(write_at("batch_progress.json", NULL), RS_GUARD_DENY);
    cr_expect_eq(write_at("output/a.csv", NULL), RS_GUARD_ALLOW);
    cr_expect_eq(write_at("output/a.csv", "relative/cwd"), RS_GUARD_ALLOW);
}

Test(guard, missing_fields_fail_closed)
{
    cr_expect_eq(decide("Write", NULL, NULL, root, NULL), RS_GUARD_DENY);
    cr_expect_eq(decide("Edit", "", NULL, root, NULL), RS_GUARD_DENY);
    cr_expect_eq(decide("Bash", NULL, NULL, root, NULL), RS_GUARD_DENY);
    cr_expect_eq(decide(NULL, "x", NULL, root, NULL), RS_GUARD_DENY);
    /* A Read without a path cannot read anything protected. */
    cr_expect_eq(decide("Read", NULL, NULL, root, NULL), RS_GUARD_ALLOW);
}

Test(guard, other_tools_are_allowed)
{
    cr_expect_eq(decide("Glob", "batch_progress.json", NULL, root, NULL), RS_GUARD_ALLOW);
    cr_expect_eq(decide("WebFetch", NULL, NULL, root, NULL), RS_GUARD_ALLOW);
    /* Tool names are case-sensitive, as Claude Code's are. */
    cr_expect_eq(decide("write", progress, NULL, root, NULL), RS_GUARD_ALLOW);
}

Test(guard, read_of_progress_and_lock_is_denied)
{
    char *reason = NULL;
    cr_expect_eq(decide("Read", "batch_progress.json", NULL, root, &reason), RS_GUARD_DENY);
    cr_expect(strstr(reason, "do not read or write it"), "%s", reason);
    free(reason);
    cr_expect_eq(decide("Read", progress, NULL, "/", NULL), RS_GUARD_DENY);
    cr_expect_eq(decide("Read", "plink", NULL, root, NULL), RS_GUARD_DENY);
    cr_expect_eq(decide("Read", "hard", NULL, root, NULL), RS_GUARD_DENY);
    cr_expect_eq(decide("Read", "batch_progress.json.lock", NULL, root, NULL), RS_GUARD_DENY);
}

Test(guard, read_elsewhere_is_allowed)
{
    cr_expect_eq(decide("Read", "output/a.csv", NULL, root, NULL), RS_GUARD_ALLOW);
    cr_expect_eq(decide("Read", ".git/config", NULL, root, NULL), RS_GUARD_ALLOW);
    cr_expect_eq(decide("Read", "/etc/hostname", NULL, root, NULL), RS_GUARD_ALLOW);
    cr_expect_eq(decide("Read", "escape/x", NULL, root, NULL), RS_GUARD_ALLOW);
    cr_expect_eq(decide("Read", "loop1", NULL, root, NULL), RS_GUARD_ALLOW);
}

Test(guard, bash_naming_the_progress_file_is_denied)
{
    static const char *const denied[] = {
        "echo '{}' > batch_progress.json",
        "cat batch_progress.json",
        "cp /tmp/x ./batch_progress.json",
        "python3 -c 'open(\"batch_progress.json\",\"w\")'",
        "rm -f batch_progress.json.lock",
        "echo x | tee -a batch_progress.json >/dev/null",
        "echo x > 'batch_progress'.json",
        "echo x > batch_\"progress.json\"",
        "echo {} > \"$RALPHSUP_PROGRESS\"",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(denied); i++)
        cr_expect_eq(bash(denied[i]), RS_GUARD_DENY, "%s", denied[i]);
    char *reason = NULL;
    cr_expect_eq(decide("Bash", NULL, denied[0], root, &reason), RS_GUARD_DENY);
    cr_expect(strstr(reason, "names batch_progress.json, which is owned by the supervisor"), "%s", reason);
    free(reason);
}

Test(guard, bash_touching_git_dirs_is_denied)
{
    static const char *const denied[] = {
        "echo x > .git/HEAD",
        "rm -rf .git",
        "cd .git && ls",
        "cat sub/.git/config",
        "ls \"$RALPHSUP_ROOT/.git/\"",
        "git --git-dir=.git log",
        "find . -path ./.git -prune",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(denied); i++)
        cr_expect_eq(bash(denied[i]), RS_GUARD_DENY, "%s", denied[i]);
    cr_expect_eq(bash("git clone https://example.org/repo.git data/repo"), RS_GUARD_ALLOW);
    cr_expect_eq(bash("cat .gitignore"), RS_GUARD_ALLOW);
}

Test(guard, bash_git_subcommands)
{
    static const char *const denied[] = {
        "git commit -am x",
        "git add output/x.csv",
        "git reset --hard HEAD~1",
        "git -C /somewhere push origin main",
        "git -c user.name=x commit -m y",
        "/usr/bin/git checkout -- .",
        "cd output && git stash",
        "ls; git update-ref refs/heads/main HEAD~3",
        "true && git rebase -i HEAD~2",
        "sh -c \"git commit -m x\"",
        "echo $(git gc --prune=now)",
        "git --no-pager branch -D main",
        "git tag v1",
        "git config core.hooksPath /tmp/h",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(denied); i++)
        cr_expect_eq(bash(denied[i]), RS_GUARD_DENY, "%s", denied[i]);
    static const char *const allowed[] = {
        "git status",
        "git log --oneline -5",
        "git -C output diff",
        "git show HEAD:README.md",
        "git --version",
        "git",
        "apt-cache policy git",
        "grep -r commit output",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(allowed); i++)
        cr_expect_eq(bash(allowed[i]), RS_GUARD_ALLOW, "%s", allowed[i]);
    char *reason = NULL;
    cr_expect_eq(decide("Bash", NULL, "git reset --hard", root, &reason), RS_GUARD_DENY);
    cr_expect(strstr(reason, "`git reset` changes the repository"), "%s", reason);
    free(reason);
}

Test(guard, bash_globs_and_removals_reaching_the_progress_file)
{
    static const char *const denied[] = {
        "rm -rf *",
        "echo x > batch_*",
        "cat ./*.json",
        "rm -rf .",
        "rm -rf ..",
        "cd output && rm -rf ..",
        "mv . /tmp/elsewhere",
        "rm -r /",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(denied); i++)
        cr_expect_eq(bash(denied[i]), RS_GUARD_DENY, "%s", denied[i]);
    static const char *const allowed[] = {
        "ls output/*.csv",
        "rm -f output/old.csv",
        "rm -rf output",
        "mv output/a.csv output/b.csv",
        "cd output && rm -f *.csv",
        "rm -rf /tmp/scratch; ls ..",
        "curl -s 'https://example.org/?q=a*b' -o output/page.html",
        "python3 scrape.py > output/x.csv 2>/dev/null",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(allowed); i++)
        cr_expect_eq(bash(allowed[i]), RS_GUARD_ALLOW, "%s", allowed[i]);
}

Test(guard, new_rejects_relative_paths)
{
    struct rs_guard *x = NULL;
    cr_expect_eq(rs_guard_new("root", "/p", NULL, &x), -EINVAL);
    cr_expect_eq(rs_guard_new("/r", "p.json", NULL, &x), -EINVAL);
    cr_expect_eq(rs_guard_new(NULL, "/p", NULL, &x), -EINVAL);
    cr_expect(x == NULL);
    cr_expect(rs_guard_free(NULL) == NULL);
}

Test(guard, fails_closed_for_writing_tools)
{
    cr_expect(rs_guard_fails_closed("Write"));
    cr_expect(rs_guard_fails_closed("Edit"));
    cr_expect(rs_guard_fails_closed("MultiEdit"));
    cr_expect(rs_guard_fails_closed("NotebookEdit"));
    cr_expect(rs_guard_fails_closed("Bash"));
    cr_expect(rs_guard_fails_closed(NULL));
    cr_expect(!rs_guard_fails_closed("Read"));
    cr_expect(!rs_guard_fails_closed("Glob"));
}

/*----------------------------------------------------------------------------*/
/* Protocol                                                                   */

Test(guard, parse_reads_the_pretooluse_object)
{
    const char *in = "{\"session_id\":\"s1\",\"transcript_path\":\"/t\",\"cwd\":\"/w\",\"permission_mode\":"
                     "\"acceptEdits\",\"effort\":{\"level\":\"high\"},\"hook_event_name\":\"PreToolUse\","
                     "\"tool_name\":\"Write\",\"tool_input\":{\"file_path\":\"/w/a.txt\",\"content\":\"hi\"},"
                     "\"tool_use_id\":\"toolu_1\"}";
    struct rs_guard_call c;
    char *owned = NULL, err[256];
    cr_assert_eq(rs_guard_call_parse(in, strlen(in), &c, &owned, err, sizeof(err)), 0, "%s", err);
    cr_expect_str_eq(c.tool, "Write");
    cr_expect_str_eq(c.path, "/w/a.txt");
    cr_expect_str_eq(c.cwd, "/w");
    cr_expect_str_eq(c.session_id, "s1");
    cr_expect_str_eq(c.tool_use_id, "toolu_1");
    cr_expect(c.command == NULL);
    free(owned);

    const char *nb = "{\"tool_name\":\"NotebookEdit\",\"tool_input\":{\"notebook_path\":\"n.ipynb\"}}";
    cr_assert_eq(rs_guard_call_parse(nb, strlen(nb), &c, &owned, err, sizeof(err)), 0);
    cr_expect_str_eq(c.path, "n.ipynb");
    cr_expect(c.cwd == NULL);
    free(owned);

    const char *sh = "{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":42}}";
    cr_assert_eq(rs_guard_call_parse(sh, strlen(sh), &c, &owned, err, sizeof(err)), 0);
    cr_expect(c.command == NULL, "a command that is not a string is absent");
    free(owned);
}

Test(guard, parse_rejects_bad_input)
{
    struct rs_guard_call c;
    char *owned = NULL, err[256];
    static const char *const bad[] = {
        "", "not json", "[1,2]", "{\"tool_input\":{}}", "{\"tool_name\":7}", "{\"tool_name\":\"Write\"} x",
        "{\"tool_name\":\"Write\",\"tool_input\":{\"file_path\":\"a\\u0000b\"}}",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        cr_expect_eq(rs_guard_call_parse(bad[i], strlen(bad[i]), &c, &owned, err, sizeof(err)), -EINVAL, "%s",
                     bad[i]);
        cr_expect(owned == NULL);
        cr_expect(err[0] != '\0');
    }
    cr_expect_eq(rs_guard_call_parse("{}", RS_GUARD_MAX_INPUT + 1, &c, &owned, err, sizeof(err)), -EFBIG);
}

Test(guard, deny_json_is_exact_and_valid_utf8)
{
    char *j = rs_guard_deny_json("ralphsup guard: no \"quotes\"");
    cr_expect_str_eq(j, "{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\"permissionDecision\":\"deny\","
                        "\"permissionDecisionReason\":\"ralphsup guard: no \\\"quotes\\\"\"}}\n");
    free(j);
    j = rs_guard_deny_json("bad \xff byte, é kept");
    cr_expect(strstr(j, "bad ? byte, \xc3\xa9 kept"), "%s", j);
    free(j);
}

Test(guard, bash_checks_stay_linear_on_hostile_input, .timeout = 60)
{
    /* "git -C git -C git ..." and "rm x rm x ..." used to be quadratic traps. */
    struct rs_buf b;
    rs_buf_init(&b);
    /* 40,000 words: linear is milliseconds (seconds under valgrind), quadratic is minutes. */
    for (int i = 0; i < 20000; i++)
        rs_buf_puts(&b, "rm out ");
    int64_t t0 = rs_mono_ms();
    cr_expect_eq(bash(rs_buf_cstr(&b)), RS_GUARD_ALLOW);
    rs_buf_reset(&b);
    rs_buf_puts(&b, "git");
    for (int i = 0; i < 200; i++)
        rs_buf_puts(&b, " -C git");
    rs_buf_puts(&b, " status");
    cr_expect_eq(bash(rs_buf_cstr(&b)), RS_GUARD_DENY, "too many options to check");
    cr_expect_lt(rs_mono_ms() - t0, 20000);
    rs_buf_deinit(&b);
}
