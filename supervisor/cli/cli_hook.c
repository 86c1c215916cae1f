/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup hook guard`: the PreToolUse hook process. Claude Code runs it
 * before every matched tool call with the call as JSON on stdin; it loads
 * the batch's protected paths from the config, asks guard.c, and prints the
 * deny JSON on stdout when the answer is no (exit 0 either way; nothing is
 * printed to allow, because an explicit "allow" would skip Claude Code's own
 * permission checks). Every denial is also appended to <log_dir>/guard.jsonl
 * (under the fence: to $RALPHSUP_GUARD_LOG in the iteration's work
 * directory, which the supervisor appends to <log_dir>/guard.jsonl after
 * the iteration).
 *
 * Failure policy: when the hook cannot decide (bad input, bad arguments, a
 * config that cannot be loaded and no RALPHSUP_ROOT/RALPHSUP_PROGRESS to
 * fall back on), it fails CLOSED for the tools that can write (Write, Edit,
 * MultiEdit, NotebookEdit, Bash, or an unknown tool) and open for the rest
 * (Read, ...). If even stdout cannot be written it exits 2 with the reason
 * on stderr, which Claude Code also treats as a block.
 *
 * The decision logic is in guard.c; this file only does I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ralphsup/cli/cli.h"
#include "ralphsup/core/config.h"
#include "ralphsup/core/guard.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

static const char hook_help[] =
    "usage: ralphsup hook guard [--config CONFIG]\n\n"
    "The PreToolUse hook that keeps the agent away from what the supervisor owns:\n"
    "the progress file and its lock (no Read, no Write), .git directories (no\n"
    "writes) and everything outside the batch root (no writes). Claude Code runs\n"
    "it with the tool call as JSON on stdin; `ralphsup start` wires it in through\n"
    "--settings when [agent] guard = true. A denial is printed as the hook JSON\n"
    "{\"hookSpecificOutput\":{...\"permissionDecision\":\"deny\"...}}; an allowed call\n"
    "prints nothing. Always exits 0 (2 if stdout cannot be written).\n"
    "  --config CONFIG  the batch config (default: $RALPHSUP_CONFIG)\n"
    "When the config cannot be loaded, $RALPHSUP_ROOT and $RALPHSUP_PROGRESS are\n"
    "used; without them, writing tools are denied. Details: hooks/README.md.\n";

/* Append one denial to <log_dir>/guard.jsonl; best effort, never fatal. */
static void log_denial(const char *log_dir, const struct rs_guard_call *c, const char *reason)
{
    if (!log_dir || rs_mkdir_p(log_dir, 0755) < 0)
        return;
    char ts[40];
    rs_time_iso(rs_now_ms(), ts, sizeof(ts));
    json_t *o = json_object();
    /* json_string() refuses text that is not UTF-8: outside text is cleaned first (rs_utf8_clean). */
    json_object_set_new(o, "time", json_string(ts));
    json_object_set_new(o, "decision", json_string("deny"));
    if (c->tool)
        json_object_set_new(o, "tool", json_string(c->tool));
    const char *what = c->command ? c->command : c->path;
    if (what) {
        /* Valid UTF-8, at most 500 bytes cut at a character boundary with "…": never left out. */
        char *cut = rs_utf8_clean(what, strlen(what), 500, NULL, NULL);
        json_object_set_new(o, c->command ? "command" : "path", json_string(cut));
        free(cut);
    }
    char *r = rs_utf8_clean_str(reason, 0);
    json_object_set_new(o, "reason", json_string(r));
    free(r);
    const char *school = getenv("RALPHSUP_SCHOOL"), *iter = getenv("RALPHSUP_ITERATION");
    if (school)
        json_object_set_new(o, "school", json_string(school));
    if (iter)
        json_object_set_new(o, "iteration", json_integer(strtoll(iter, NULL, 10)));
    if (c->session_id)
        json_object_set_new(o, "session_id", json_string(c->session_id));
    if (c->tool_use_id)
        json_object_set_new(o, "tool_use_id", json_string(c->tool_use_id));
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!line)
        return;
    /* Fenced, logs/ is out of reach: the supervisor names a file in the work directory and merges it. */
    const char *own = getenv("RALPHSUP_GUARD_LOG");
    char *path = own && own[0] == '/' ? rs_xstrdup(own) : rs_path_join(log_dir, "guard.jsonl");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    free(path);
    if (fd >= 0) {
        /* One write(2) per record keeps concurrent hooks from interleaving lines. */
        char *rec = rs_xasprintf("%s\n", line);
        ssize_t w = write(fd, rec, strlen(rec));
        (void)w;
        free(rec);
        close(fd);
    }
    free(line);
}

/* Print the deny JSON; exit 2 with the reason on stderr when stdout fails. */
static int emit_deny(const char *reason)
{
    char *json = rs_guard_deny_json(reason);
    int bad = fputs(json, stdout) == EOF;
    bad |= fflush(stdout) == EOF;
    free(json);
    if (bad) {
        fprintf(stderr, "%s\n", reason);
        return 2;
    }
    return 0;
}

/* The hook cannot decide: deny writing tools, allow the rest (see top of file). */
static int undecided(const char *tool, const char *why, const char *log_dir, const struct rs_guard_call *c)
{
    if (!rs_guard_fails_closed(tool)) {
        fprintf(stderr, "ralphsup guard: could not check this call (%s); allowed because it cannot write\n", why);
        return 0;
    }
    char *reason = rs_xasprintf("ralphsup guard: could not check this call (%s); refused to be safe", why);
    if (c)
        log_denial(log_dir, c, reason);
    int r = emit_deny(reason);
    free(reason);
    return r;
}

static int hook_guard(int argc, char **argv)
{
    const char *config = NULL;
    char *arg_err = NULL;
    for (int i = 1; i < argc && !arg_err; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(hook_help, stdout);
            return RS_EXIT_OK;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config = argv[i] + 9;
        } else {
            arg_err = rs_xasprintf("bad hook argument \"%s\"", argv[i]);
        }
    }
    if (!config)
        config = getenv("RALPHSUP_CONFIG");

    char *in = NULL;
    size_t inlen = 0;
    int r = rs_fd_read(STDIN_FILENO, RS_GUARD_MAX_INPUT, &in, &inlen);
    struct rs_guard_call call;
    char *owned = NULL;
    char err[256];
    int ex;
    if (r < 0) {
        snprintf(err, sizeof(err), "cannot read the hook input: %s", r == -EFBIG ? "too large" : strerror(-r));
        ex = undecided(NULL, err, NULL, NULL);
        goto out;
    }
    if (rs_guard_call_parse(in, inlen, &call, &owned, err, sizeof(err)) < 0) {
        ex = undecided(NULL, err, NULL, NULL);
        goto out;
    }
    if (arg_err) {
        ex = undecided(call.tool, arg_err, NULL, &call);
        goto out;
    }

    /* The protected paths: from the config, else from the supervisor's environment. */
    struct rs_config *cfg = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    const char *root = NULL, *progress = NULL, *log_dir = NULL;
    const char *extra[3] = {NULL, NULL, NULL};
    if (config && rs_config_load(config, &cfg, &d) == 0) {
        root = cfg->root;
        progress = cfg->progress;
        log_dir = cfg->log_dir;
        size_t k = 0;
        extra[k++] = cfg->output_dir;
        if (cfg->cache_dir)
            extra[k++] = cfg->cache_dir;
    } else {
        const char *er = getenv("RALPHSUP_ROOT"), *ep = getenv("RALPHSUP_PROGRESS");
        if (er && ep && er[0] == '/' && ep[0] == '/') {
            root = er;
            progress = ep;
        }
    }
    struct rs_guard *g = NULL;
    if (!root || rs_guard_new(root, progress, extra, &g) < 0) {
        char *why = config ? rs_xasprintf("config %s cannot be loaded%s%s", config, d.n ? ": " : "",
                                          d.n ? d.msgs[0] : "")
                           : rs_xstrdup("no --config and no RALPHSUP_CONFIG");
        ex = undecided(call.tool, why, NULL, &call);
        free(why);
    } else {
        char *reason = NULL;
        ex = 0;
        if (rs_guard_check(g, &call, &reason) == RS_GUARD_DENY) {
            log_denial(log_dir, &call, reason);
            ex = emit_deny(reason);
            free(reason);
        }
    }
    rs_guard_free(g);
    rs_config_free(cfg);
    rs_diags_deinit(&d);
out:
    free(owned);
    free(arg_err);
    free(in);
    return ex;
}

int rs_cmd_hook(int argc, char **argv)
{
    if (argc < 2) {
        fputs(hook_help, stderr);
        return RS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(hook_help, stdout);
        return RS_EXIT_OK;
    }
    if (strcmp(argv[1], "guard") == 0)
        return hook_guard(argc - 1, argv + 1);
    fprintf(stderr, "ralphsup hook: unknown hook \"%s\" (the only hook is \"guard\")\n", argv[1]);
    return RS_EXIT_USAGE;
}
