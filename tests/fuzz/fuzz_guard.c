/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the guard hook's input (core/guard.c): the PreToolUse JSON
 * Claude Code writes on `ralphsup hook guard`'s stdin, parsed by
 * rs_guard_call_parse() and then decided by rs_guard_check() against a
 * batch rooted in a private directory (the check reads the filesystem,
 * never writes it). A refusal has a message; a denial has a reason that
 * starts with "ralphsup guard: " and a deny JSON that jansson parses; the
 * call about the progress file itself is always denied for writes.
 */
#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "ralphsup/core/guard.h"

static struct rs_guard *guard;
static char progress[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char root[4200];
    snprintf(root, sizeof root, "%s/batch", fuzz_tmpdir());
    mkdir(root, 0700);
    snprintf(progress, sizeof progress, "%s/batch_progress.json", root);
    if (rs_guard_new(root, progress, NULL, &guard) != 0) {
        fprintf(stderr, "fuzz_guard: rs_guard_new failed\n");
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rs_guard_call call;
    char *owned = NULL;
    char err[256] = "";
    int r = rs_guard_call_parse((const char *)data, size, &call, &owned, err, sizeof err);
    if (r != 0) {
        FUZZ_CHECK((r == -EINVAL || r == -EFBIG) && err[0], "refused (%d) without a message", r);
        free(owned);
        return 0;
    }
    rs_guard_fails_closed(call.tool);
    char *reason = NULL;
    int v = rs_guard_check(guard, &call, &reason);
    FUZZ_CHECK(v == RS_GUARD_ALLOW || v == RS_GUARD_DENY, "decision %d", v);
    if (v == RS_GUARD_DENY) {
        FUZZ_CHECK(reason && strncmp(reason, "ralphsup guard: ", 16) == 0, "reason \"%s\"", reason ? reason : "");
        char *out = rs_guard_deny_json(reason);
        json_error_t je;
        json_t *j = json_loads(out, 0, &je);
        FUZZ_CHECK(j != NULL, "deny JSON does not parse: %s\n%s", je.text, out);
        json_decref(j);
        free(out);
        free(reason);
    } else {
        FUZZ_CHECK(reason == NULL, "a reason for an allowed call");
    }
    /* The same call aimed at the progress file: a write is always denied. */
    struct rs_guard_call w = call;
    w.tool = "Write";
    w.path = progress;
    reason = NULL;
    FUZZ_CHECK(rs_guard_check(guard, &w, &reason) == RS_GUARD_DENY, "a write to the progress file was allowed");
    free(reason);
    free(owned);
    return 0;
}
