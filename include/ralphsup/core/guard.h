/* SPDX-License-Identifier: MIT */
/*
 * The guard: the decision behind `ralphsup hook guard`, the PreToolUse hook
 * the supervisor wires into Claude Code through --settings. Given one tool
 * call (tool name, target path or Bash command, the session's cwd) it says
 * "allow" or "deny, because ...". It protects what the supervisor owns:
 * the progress file and its lock (no read, no write), every ".git"
 * directory (no write), and everything outside the batch root and the
 * configured output/cache directories (no write).
 *
 * Paths are checked twice: lexically normalised against the cwd, and
 * resolved through the filesystem like `realpath -m` (every existing
 * component, symlinks followed, the missing rest appended), so a symlink
 * or a hard link to a protected file is caught. Bash commands can only be
 * checked on their text: that part is best effort (docs in hooks/README.md).
 *
 * Deliberately not here: reading stdin, loading the config, printing or
 * logging (cli_hook.c does that). The module reads the filesystem (lstat,
 * readlink, stat) but never writes to it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct rs_guard; /* opaque: the protected paths, resolved once */

/* One tool call, as the hook sees it. Every field is borrowed and may be NULL. */
struct rs_guard_call {
    const char *tool;        /* tool_name, e.g. "Write" */
    const char *path;        /* tool_input.file_path (notebook_path for NotebookEdit) */
    const char *command;     /* tool_input.command (Bash) */
    const char *cwd;         /* the session's working directory (absolute) */
    const char *session_id;  /* for the guard's own log only */
    const char *tool_use_id; /* for the guard's own log only */
};

/* Outcomes of rs_guard_check(). */
enum {
    RS_GUARD_ALLOW = 0,
    RS_GUARD_DENY = 1, /* *reason set */
};

/* Upper bound of the hook input accepted by rs_guard_call_parse(). */
#define RS_GUARD_MAX_INPUT ((size_t)64 << 20)

/*
 * rs_guard_new() - the protected paths of one batch.
 * @root:     absolute batch root; writes are allowed only inside it (or
 *            inside one of @extra_dirs).
 * @progress: absolute path of the progress file; the lock file is
 *            "<progress>.lock" (see lock.h).
 * @extra_dirs: further absolute directories where writes are allowed
 *            (output_dir, cache_dir when they lie outside the root);
 *            NULL-terminated, may be NULL.
 * Nothing is retained: every string is copied. Symlinks in the given paths
 * are resolved here, once.
 * Return: 0 (*out set, free with rs_guard_free()), -EINVAL when @root or
 * @progress is NULL or not absolute.
 */
int rs_guard_new(const char *root, const char *progress, const char *const *extra_dirs, struct rs_guard **out);

/* Free @g; NULL-safe. Return: NULL. */
struct rs_guard *rs_guard_free(struct rs_guard *g);

/*
 * rs_guard_check() - decide one tool call.
 * Write, Edit, MultiEdit and NotebookEdit are denied when the target is the
 * progress file, its lock, inside a ".git" directory, outside the allowed
 * directories, missing, or unresolvable (symlink loop). Read is denied for
 * the progress file and its lock only. Bash is denied when its text names
 * the progress file or its lock, a ".git" directory or GIT_DIR, runs a git
 * subcommand that changes history, refs, the index or the work tree through
 * git (list in hooks/README.md), uses a glob that matches the progress file,
 * or runs rm/mv on a directory that contains the progress file. Every other
 * tool is allowed.
 * @reason: on RS_GUARD_DENY, a message starting with "ralphsup guard: "
 *          that names the rule (caller frees); untouched otherwise.
 * Return: RS_GUARD_ALLOW or RS_GUARD_DENY.
 */
int rs_guard_check(const struct rs_guard *g, const struct rs_guard_call *call, char **reason);

/*
 * rs_guard_call_parse() - read the PreToolUse JSON Claude Code writes on
 * the hook's stdin into @call. The strings are packed into one allocation
 * returned in *@owned (the caller frees it, after the last use of @call).
 * Fields absent from the input are NULL; tool_input.notebook_path fills
 * @call->path when file_path is absent.
 * @err (>= 128 bytes recommended) gets a message on failure.
 * Return: 0, -EINVAL (not JSON, not an object, no tool_name, a string that
 * is not a string), -EFBIG (more than RS_GUARD_MAX_INPUT bytes).
 */
int rs_guard_call_parse(const char *data, size_t len, struct rs_guard_call *call, char **owned, char *err,
                        size_t errlen);

/*
 * rs_guard_deny_json() - the hook's stdout for a denial:
 * {"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":
 * "deny","permissionDecisionReason":@reason}} plus a newline. Caller frees.
 */
char *rs_guard_deny_json(const char *reason);

/*
 * rs_guard_fails_closed() - true for the tools that modify files (Write,
 * Edit, MultiEdit, NotebookEdit), for Bash, and for an unknown (NULL) tool:
 * the calls the hook denies when it cannot decide (bad input, no config).
 * Read and every other tool fail open.
 */
bool rs_guard_fails_closed(const char *tool);
