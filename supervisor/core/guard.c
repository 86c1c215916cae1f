/* SPDX-License-Identifier: MIT */
/*
 * The guard's decisions (see guard.h): which tool calls of the agent touch
 * what the supervisor owns. File tools are judged on the target path, seen
 * both lexically and resolved through the filesystem; Bash is judged on the
 * text of the command, token by token, which is best effort by nature.
 *
 * This file also turns the hook's stdin JSON into a struct rs_guard_call and
 * formats the deny JSON, so the whole protocol is testable without a
 * process. It never prints, never logs and never writes to the filesystem.
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ralphsup/core/guard.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

/* Symlinks followed while resolving one path (Linux uses 40 as well). */
#define MAX_SYMLINK_HOPS 40
/* Paths longer than this are not resolved (the write is denied). */
#define MAX_RESOLVE_LEN ((size_t)64 << 10)
/* Global options scanned after a "git" word. */
#define MAX_GIT_OPTIONS 64
/* Paths are shortened to this many bytes inside reasons. */
#define SHOWN_PATH_MAX 300

struct rs_guard {
    char *root_lex;      /* as given, normalised */
    char *root_res;      /* resolved */
    char *progress_lex;
    char *progress_res;
    char *progress_base; /* "batch_progress.json" */
    char *lock_lex;
    char *lock_res;
    char *lock_base;
    char *root_git_lex;  /* <root>/.git, for the rm/mv rule */
    char **dirs_res;     /* resolved directories where writes are allowed; [0] is the root */
    size_t ndirs;
};

/* Git subcommands that change history, refs, the index, the stash or the
 * work tree through git: the audit trail and the user's staged work are
 * the supervisor's and the user's, never the agent's. */
static const char *const git_denied[] = {
    "add",        "am",          "apply",     "branch",       "checkout", "cherry-pick", "clean",
    "commit",     "config",      "filter-branch", "filter-repo", "gc",   "merge",       "mv",
    "notes",      "prune",       "pull",      "push",         "rebase",   "reflog",      "replace",
    "reset",      "restore",     "revert",    "rm",           "stash",    "switch",      "symbolic-ref",
    "tag",        "update-index", "update-ref", "worktree",
};

/* Git global options that take their value as the next word. */
static const char *const git_opts_with_value[] = {
    "-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env", "--super-prefix", "--exec-path",
};

/*----------------------------------------------------------------------------*/
/* Paths                                                                      */

/*
 * Resolve @abs (absolute, normalised) like `realpath -m`: walk it component
 * by component, follow every symlink (at most MAX_SYMLINK_HOPS), and once a
 * component does not exist append the rest lexically. A dangling symlink is
 * followed too, so the name the write would really create is returned.
 * Return: a new string, or NULL on a symlink loop or an overlong path.
 */
static char *resolve_path(const char *abs)
{
    if (abs[0] != '/' || strlen(abs) > MAX_RESOLVE_LEN)
        return NULL;
    struct rs_buf res;
    rs_buf_init(&res);
    char *rest = rs_xstrdup(abs);
    const char *p = rest;
    int hops = 0;
    bool missing = false;
    char *out = NULL;

    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t l = (size_t)(p - s);
        if (l == 1 && s[0] == '.')
            continue;
        if (l == 2 && s[0] == '.' && s[1] == '.') {
            /* The resolved prefix holds no symlinks, so ".." is lexical here. */
            char *slash = res.len ? strrchr(rs_buf_cstr(&res), '/') : NULL;
            if (slash)
                res.len = (size_t)(slash - res.data);
            continue;
        }
        size_t mark = res.len;
        rs_buf_putc(&res, '/');
        rs_buf_append(&res, s, l);
        if (missing)
            continue;
        struct stat st;
        if (lstat(rs_buf_cstr(&res), &st) != 0) {
            /* ENOENT, ENOTDIR, EACCES: from here on nothing can be resolved. */
            missing = true;
            continue;
        }
        if (!S_ISLNK(st.st_mode))
            continue;
        if (++hops > MAX_SYMLINK_HOPS)
            goto out;
        char target[PATH_MAX];
        ssize_t tl = readlink(rs_buf_cstr(&res), target, sizeof(target) - 1);
        if (tl < 0) {
            missing = true;
            continue;
        }
        target[tl] = '\0';
        if (tl == 0)
            goto out;
        /* Splice the link's target in front of what is left to walk. */
        char *next = rs_xasprintf("%s/%s", target, p);
        if (strlen(next) > MAX_RESOLVE_LEN) {
            free(next);
            goto out;
        }
        free(rest);
        rest = next;
        p = rest;
        res.len = target[0] == '/' ? 0 : mark;
    }
    out = res.len ? rs_xstrdup(rs_buf_cstr(&res)) : rs_xstrdup("/");
out:
    free(rest);
    rs_buf_deinit(&res);
    return out;
}

/* Resolved form of @abs, falling back to the lexical form when it cannot be resolved. */
static char *resolve_or_copy(const char *abs)
{
    char *r = resolve_path(abs);
    return r ? r : rs_xstrdup(abs);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* True when a component of @p, split at '/' and '=', is exactly ".git". */
static bool has_git_component(const char *p)
{
    const char *s = p;
    for (;;) {
        const char *e = s;
        while (*e && *e != '/' && *e != '=')
            e++;
        if (e - s == 4 && memcmp(s, ".git", 4) == 0)
            return true;
        if (!*e)
            return false;
        s = e + 1;
    }
}

/* Same inode as @other (both exist). Catches hard links to a protected file. */
static bool same_inode(const char *a, const char *other)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(other, &sb) != 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* @lex / @res (may be NULL) name the file @plex / @pres? */
static bool names_file(const char *lex, const char *res, const char *plex, const char *pres)
{
    if (strcmp(lex, plex) == 0 || strcmp(lex, pres) == 0)
        return true;
    if (res && (strcmp(res, plex) == 0 || strcmp(res, pres) == 0))
        return true;
    return same_inode(res ? res : lex, pres);
}

/* A copy of @p for a message, shortened in the middle when overlong. */
static char *shown(const char *p)
{
    size_t n = strlen(p);
    if (n <= SHOWN_PATH_MAX)
        return rs_xstrdup(p);
    size_t head = SHOWN_PATH_MAX / 3, tail = SHOWN_PATH_MAX - head;
    return rs_xasprintf("%.*s...%s", (int)head, p, p + n - tail);
}

/*----------------------------------------------------------------------------*/
/* Construction                                                               */

int rs_guard_new(const char *root, const char *progress, const char *const *extra_dirs, struct rs_guard **out)
{
    if (!root || !progress || root[0] != '/' || progress[0] != '/')
        return -EINVAL;
    struct rs_guard *g = rs_xcalloc(1, sizeof(*g));
    g->root_lex = rs_path_normalize(root);
    g->root_res = resolve_or_copy(g->root_lex);
    g->progress_lex = rs_path_normalize(progress);
    g->progress_res = resolve_or_copy(g->progress_lex);
    g->progress_base = rs_xstrdup(base_name(g->progress_lex));
    g->lock_lex = rs_xasprintf("%s.lock", g->progress_lex);
    g->lock_res = resolve_or_copy(g->lock_lex);
    g->lock_base = rs_xstrdup(base_name(g->lock_lex));
    g->root_git_lex = rs_path_join(g->root_lex, ".git");

    size_t n = rs_strv_len((char *const *)extra_dirs);
    g->dirs_res = rs_xcalloc(n + 1, sizeof(char *));
    g->dirs_res[g->ndirs++] = rs_xstrdup(g->root_res);
    for (size_t i = 0; i < n; i++) {
        if (extra_dirs[i][0] != '/')
            continue;
        char *lex = rs_path_normalize(extra_dirs[i]);
        g->dirs_res[g->ndirs++] = resolve_or_copy(lex);
        free(lex);
    }
    *out = g;
    return 0;
}

struct rs_guard *rs_guard_free(struct rs_guard *g)
{
    if (!g)
        return NULL;
    free(g->root_lex);
    free(g->root_res);
    free(g->progress_lex);
    free(g->progress_res);
    free(g->progress_base);
    free(g->lock_lex);
    free(g->lock_res);
    free(g->lock_base);
    free(g->root_git_lex);
    for (size_t i = 0; i < g->ndirs; i++)
        free(g->dirs_res[i]);
    free(g->dirs_res);
    free(g);
    return NULL;
}

/*----------------------------------------------------------------------------*/
/* File tools                                                                 */

bool rs_guard_fails_closed(const char *tool)
{
    if (!tool)
        return true;
    return strcmp(tool, "Write") == 0 || strcmp(tool, "Edit") == 0 || strcmp(tool, "MultiEdit") == 0 ||
           strcmp(tool, "NotebookEdit") == 0 || strcmp(tool, "Bash") == 0;
}

/* Base directory for relative paths: the session's cwd, else the root. */
static const char *base_dir(const struct rs_guard *g, const struct rs_guard_call *c)
{
    return c->cwd && c->cwd[0] == '/' ? c->cwd : g->root_lex;
}

static int deny(char **reason, const char *fmt, ...) RS_PRINTF(2, 3);
static int deny(char **reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = rs_xvasprintf(fmt, ap);
    va_end(ap);
    *reason = rs_xasprintf("ralphsup guard: %s", msg);
    free(msg);
    return RS_GUARD_DENY;
}

/* Whether @lex / @res is the operator's request queue "<progress>.ops" or inside it (store/ops.h). */
static bool in_ops_queue(const struct rs_guard *g, const char *lex, const char *res)
{
    const char *const bases[] = {g->progress_lex, g->progress_res};
    const char *const paths[] = {lex, res};
    for (size_t i = 0; i < 2; i++) {
        size_t n = bases[i] ? strlen(bases[i]) : 0;
        for (size_t k = 0; n && k < 2; k++)
            if (paths[k] && strncmp(paths[k], bases[i], n) == 0 && strncmp(paths[k] + n, ".ops", 4) == 0 &&
                (paths[k][n + 4] == '/' || paths[k][n + 4] == '\0'))
                return true;
    }
    return false;
}

/* The write rules for one resolved reading @res of the target (@lex lexical, @sp as shown). */
static int check_write_target(const struct rs_guard *g, const char *sp, const char *lex, const char *res,
                              char **reason)
{
    if (!res)
        return deny(reason, "cannot resolve %s (symlink loop or path too long); write refused", sp);
    if (names_file(lex, res, g->progress_lex, g->progress_res))
        return deny(reason, "%s is owned by the supervisor; do not write it (your prompt names your school and "
                            "your output file)", g->progress_base);
    if (names_file(lex, res, g->lock_lex, g->lock_res))
        return deny(reason, "%s is the supervisor's lock file; do not write it", g->lock_base);
    if (in_ops_queue(g, lex, res))
        return deny(reason, "%s is the operator's request queue (`ralphsup retry` / `skip`); do not write it", sp);
    if (has_git_component(lex) || has_git_component(res))
        return deny(reason, "%s is inside a .git directory; the git history is the supervisor's audit trail, "
                            "do not modify it", sp);
    for (size_t i = 0; i < g->ndirs; i++)
        if (rs_path_is_inside(g->dirs_res[i], res))
            return RS_GUARD_ALLOW;
    char *sroot = shown(g->root_lex);
    int r;
    if (strcmp(lex, res) != 0) {
        char *sres = shown(res);
        r = deny(reason, "%s resolves to %s, outside the batch root %s; write only inside the batch root", sp, sres,
                 sroot);
        free(sres);
    } else {
        r = deny(reason, "%s is outside the batch root %s; write only inside the batch root", sp, sroot);
    }
    free(sroot);
    return r;
}

static int check_write(const struct rs_guard *g, const struct rs_guard_call *c, char **reason)
{
    if (!c->path || !*c->path)
        return deny(reason, "%s call without a file path; nothing to check, so it is refused", c->tool);
    char *joined = rs_path_join(base_dir(g, c), c->path);
    char *lex = rs_path_normalize(joined);
    char *sp = shown(c->path);
    /*
     * "link/.." means two things: Node's path.resolve (which Claude Code's
     * file tools apply) drops both words, the kernel follows the link first.
     * Both readings must pass: resolve the normalised path and the raw one.
     */
    char *res = resolve_path(lex);
    int r = check_write_target(g, sp, lex, res, reason);
    if (r == RS_GUARD_ALLOW && strcmp(joined, lex) != 0) {
        char *raw = resolve_path(joined);
        r = check_write_target(g, sp, lex, raw, reason);
        free(raw);
    }
    free(res);
    free(sp);
    free(lex);
    free(joined);
    return r;
}

static int check_read(const struct rs_guard *g, const struct rs_guard_call *c, char **reason)
{
    if (!c->path || !*c->path)
        return RS_GUARD_ALLOW;
    char *joined = rs_path_join(base_dir(g, c), c->path);
    char *lex = rs_path_normalize(joined);
    free(joined);
    char *res = resolve_path(lex);
    int r = RS_GUARD_ALLOW;
    if (names_file(lex, res, g->progress_lex, g->progress_res))
        r = deny(reason, "%s is owned by the supervisor; do not read or write it (your prompt names your school "
                         "and your output file)", g->progress_base);
    else if (names_file(lex, res, g->lock_lex, g->lock_res))
        r = deny(reason, "%s is the supervisor's lock file; do not read or write it", g->lock_base);
    free(res);
    free(lex);
    return r;
}

/*----------------------------------------------------------------------------*/
/* Bash                                                                       */

/* One word of a command; separators (; & | ( ) < > ` newline) end a simple command. */
struct word {
    char *text;
    bool sep;
};

static bool is_sep_char(char ch)
{
    return ch == ';' || ch == '&' || ch == '|' || ch == '(' || ch == ')' || ch == '<' || ch == '>' ||
           ch == '`' || ch == '\n';
}

/*
 * Split @cmd into words. Quotes and backslashes are dropped rather than
 * honoured, so a quoted argument is split like an unquoted one: this only
 * makes the checks below see more words, never fewer (`sh -c "git commit"`
 * still shows "git" followed by "commit"). "$(" counts as a separator.
 */
static struct word *split_words(const char *cmd, size_t *nout)
{
    size_t cap = 16, n = 0;
    struct word *w = rs_xmalloc(cap * sizeof(*w));
    struct rs_buf cur;
    rs_buf_init(&cur);
    for (const char *p = cmd;; p++) {
        char ch = *p;
        bool end = ch == '\0';
        bool sep = !end && (is_sep_char(ch) || (ch == '$' && p[1] == '('));
        bool blank = !end && (ch == ' ' || ch == '\t' || ch == '\r');
        if (end || sep || blank) {
            if (n + 2 >= cap) {
                cap *= 2;
                w = rs_xrealloc(w, cap * sizeof(*w));
            }
            if (cur.len) {
                w[n].text = rs_xstrdup(rs_buf_cstr(&cur));
                w[n++].sep = false;
                rs_buf_reset(&cur);
            }
            if (sep) {
                w[n].text = rs_xstrndup(p, 1);
                w[n++].sep = true;
                if (ch == '$')
                    p++;
            }
            if (end)
                break;
            continue;
        }
        if (ch == '\'' || ch == '"' || ch == '\\')
            continue;
        rs_buf_putc(&cur, ch);
    }
    rs_buf_deinit(&cur);
    *nout = n;
    return w;
}

static void free_words(struct word *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(w[i].text);
    free(w);
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* Absolute, normalised form of word @t relative to @cwd; NULL when it cannot be known ($VAR, ~). */
static char *word_path(const char *cwd, const char *t)
{
    if (t[0] == '~' || strchr(t, '$'))
        return NULL;
    char *j = rs_path_join(cwd, t);
    char *n = rs_path_normalize(j);
    free(j);
    return n;
}

/* `git ... <sub>` starting at word @i ("git" itself): the subcommand if
 * denied, "" when there are too many options to look at, else NULL. */
static const char *git_subcommand(const struct word *w, size_t n, size_t i)
{
    size_t j = i + 1;
    while (j < n && !w[j].sep && w[j].text[0] == '-') {
        /* Bounded, so a command cannot make the check quadratic (and run
         * into the hook timeout, after which Claude Code proceeds). */
        if (j - i > MAX_GIT_OPTIONS)
            return "";
        if (in_list(w[j].text, git_opts_with_value, RS_ARRAY_SIZE(git_opts_with_value)))
            j++;
        j++;
    }
    if (j >= n || w[j].sep)
        return NULL;
    return in_list(w[j].text, git_denied, RS_ARRAY_SIZE(git_denied)) ? w[j].text : NULL;
}

static int check_bash(const struct rs_guard *g, const struct rs_guard_call *c, char **reason)
{
    const char *cmd = c->command;
    if (!cmd)
        return deny(reason, "Bash call without a command; nothing to check, so it is refused");

    /* The progress file (and "<progress>.lock", which contains its name) by
     * name, or through the variable the supervisor exports to the agent. */
    if (strstr(cmd, g->progress_base) || strstr(cmd, "RALPHSUP_PROGRESS"))
        return deny(reason, "this command names %s, which is owned by the supervisor; do not read or write it "
                            "from Bash (your prompt names your school and your output file)", g->progress_base);

    size_t n;
    struct word *w = split_words(cmd, &n);
    char *cwd = rs_xstrdup(base_dir(g, c));
    int r = RS_GUARD_ALLOW;
    bool cmd_start = true;
    const char *remover = NULL; /* "rm", "mv" or "rmdir" seen in this simple command */

    for (size_t i = 0; i < n && r == RS_GUARD_ALLOW; i++) {
        const char *t = w[i].text;
        if (w[i].sep) {
            cmd_start = true;
            remover = NULL;
            continue;
        }
        bool first = cmd_start;
        cmd_start = false;

        /* Quote-split spellings of the progress file's name. */
        if (strstr(t, g->progress_base)) {
            r = deny(reason, "this command names %s, which is owned by the supervisor; do not read or write it "
                             "from Bash", g->progress_base);
            break;
        }
        if (has_git_component(t)) {
            r = deny(reason, "this command touches a .git directory; the git history is the supervisor's audit "
                             "trail, do not modify it");
            break;
        }
        const char *b = base_name(t);
        if (strcmp(b, "git") == 0) {
            const char *sub = git_subcommand(w, n, i);
            if (sub && !*sub) {
                r = deny(reason, "a git command with more than %d options cannot be checked; refused",
                         MAX_GIT_OPTIONS);
                break;
            }
            if (sub) {
                r = deny(reason, "`git %s` changes the repository's history, refs, index or work tree, which "
                                 "belong to the supervisor's audit trail; do not run it (read-only git such as "
                                 "status, log, diff and show is fine)", sub);
                break;
            }
        }
        /* A glob that expands to the progress file or its lock. */
        if (strpbrk(t, "*?[")) {
            char *abs = word_path(cwd, t);
            if (abs && (fnmatch(abs, g->progress_lex, FNM_PATHNAME) == 0 ||
                        fnmatch(abs, g->lock_lex, FNM_PATHNAME) == 0)) {
                char *st = shown(t);
                r = deny(reason, "the pattern %s matches %s, which is owned by the supervisor; name your files "
                                 "explicitly", st, g->progress_base);
                free(st);
            }
            free(abs);
            if (r != RS_GUARD_ALLOW)
                break;
        }
        /* `cd DIR` moves the base of the words that follow. */
        if (first && strcmp(t, "cd") == 0 && i + 1 < n && !w[i + 1].sep) {
            char *next = word_path(cwd, w[i + 1].text);
            if (next) {
                free(cwd);
                cwd = next;
            }
            continue;
        }
        /* rm/mv/rmdir, then each later operand of the same simple command:
         * one that holds the progress file or the repository is refused. */
        if (remover && t[0] != '-') {
            char *abs = word_path(cwd, t);
            if (abs && (rs_path_is_inside(abs, g->progress_lex) || rs_path_is_inside(abs, g->root_git_lex))) {
                char *st = shown(t);
                r = deny(reason, "`%s %s` would take away %s or the batch's .git directory, which belong to the "
                                 "supervisor", remover, st, g->progress_base);
                free(st);
            }
            free(abs);
        }
        if (strcmp(b, "rm") == 0 || strcmp(b, "mv") == 0 || strcmp(b, "rmdir") == 0)
            remover = b;
    }
    free(cwd);
    free_words(w, n);
    return r;
}

int rs_guard_check(const struct rs_guard *g, const struct rs_guard_call *call, char **reason)
{
    const char *t = call->tool;
    if (!t)
        return deny(reason, "tool call without a tool name; nothing to check, so it is refused");
    if (strcmp(t, "Write") == 0 || strcmp(t, "Edit") == 0 || strcmp(t, "MultiEdit") == 0 ||
        strcmp(t, "NotebookEdit") == 0)
        return check_write(g, call, reason);
    if (strcmp(t, "Read") == 0)
        return check_read(g, call, reason);
    if (strcmp(t, "Bash") == 0)
        return check_bash(g, call, reason);
    return RS_GUARD_ALLOW;
}

/*----------------------------------------------------------------------------*/
/* Hook protocol                                                              */

/* The string at @key of @obj, or NULL when absent or not a string. */
static const char *str_at(json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int rs_guard_call_parse(const char *data, size_t len, struct rs_guard_call *call, char **owned, char *err,
                        size_t errlen)
{
    memset(call, 0, sizeof(*call));
    *owned = NULL;
    if (len > RS_GUARD_MAX_INPUT) {
        snprintf(err, errlen, "hook input of %zu bytes exceeds the %zu-byte limit", len, RS_GUARD_MAX_INPUT);
        return -EFBIG;
    }
    json_error_t e;
    json_t *root = json_loadb(data, len, 0, &e);
    if (!root) {
        snprintf(err, errlen, "hook input is not JSON: %s (line %d, column %d)", e.text, e.line, e.column);
        return -EINVAL;
    }
    if (!json_is_object(root) || !str_at(root, "tool_name")) {
        snprintf(err, errlen, "hook input is not a PreToolUse object with a tool_name");
        json_decref(root);
        return -EINVAL;
    }
    json_t *in = json_object_get(root, "tool_input");
    if (!json_is_object(in))
        in = NULL;
    const char *path = str_at(in, "file_path");
    if (!path)
        path = str_at(in, "notebook_path");
    const char *src[6] = {
        str_at(root, "tool_name"), path, str_at(in, "command"), str_at(root, "cwd"),
        str_at(root, "session_id"), str_at(root, "tool_use_id"),
    };
    size_t total = 0;
    for (size_t i = 0; i < RS_ARRAY_SIZE(src); i++)
        total += src[i] ? strlen(src[i]) + 1 : 0;
    char *buf = rs_xmalloc(total ? total : 1);
    char *p = buf;
    const char *dst[6] = {NULL};
    for (size_t i = 0; i < RS_ARRAY_SIZE(src); i++) {
        if (!src[i])
            continue;
        size_t l = strlen(src[i]) + 1;
        memcpy(p, src[i], l);
        dst[i] = p;
        p += l;
    }
    call->tool = dst[0];
    call->path = dst[1];
    call->command = dst[2];
    call->cwd = dst[3];
    call->session_id = dst[4];
    call->tool_use_id = dst[5];
    *owned = buf;
    json_decref(root);
    return 0;
}

char *rs_guard_deny_json(const char *reason)
{
    /* Paths may hold bytes that are not UTF-8; JSON strings cannot. */
    struct rs_buf clean;
    rs_buf_init(&clean);
    const unsigned char *s = (const unsigned char *)reason, *end = s + strlen(reason);
    while (*s) {
        size_t l = rs_utf8_seq(s, (size_t)(end - s), NULL);
        if (l == 0) {
            rs_buf_putc(&clean, '?');
            s++;
        } else {
            rs_buf_append(&clean, s, l);
            s += l;
        }
    }
    json_t *o = json_pack("{s:{s:s,s:s,s:s}}", "hookSpecificOutput", "hookEventName", "PreToolUse",
                          "permissionDecision", "deny", "permissionDecisionReason", rs_buf_cstr(&clean));
    rs_buf_deinit(&clean);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        /* Only reachable on OOM inside jansson: still deny, with a fixed reason. */
        return rs_xstrdup("{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\"permissionDecision\":"
                          "\"deny\",\"permissionDecisionReason\":\"ralphsup guard: internal error\"}}\n");
    }
    char *out = rs_xasprintf("%s\n", text);
    free(text);
    return out;
}
