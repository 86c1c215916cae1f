/* SPDX-License-Identifier: MIT */
/*
 * The Claude Code settings ralphsup passes with --settings on every
 * iteration: its own PreToolUse guard (when [agent] guard is on) merged with
 * the user's hook fragments, <root>/hooks/<name>.settings.json (the file
 * guard.settings.json there is the guard's own fragment for hand wiring and
 * is skipped). Fragments are validated when the supervisor starts, so a
 * broken one is a startup error with file:line:col, not a surprise later.
 *
 * Merging: each fragment's "hooks" object maps an event name
 * ("PreToolUse", "PostToolUse", "Stop", ...) to an array of matchers; arrays
 * of the same event are concatenated in file-name order, the guard first.
 * Other top-level settings keys are not allowed (they would change the
 * CLI's behaviour behind the supervisor's back).
 */
#pragma once

#include "ralphsup/base/common.h"

enum {
    RS_SETTINGS_E_INVALID = 1, /* problems in diags */
};

/*
 * rs_settings_build() - the JSON for --settings, or NULL in *out when there
 * is nothing to pass (no guard and no fragments).
 * @hooks_dir: directory of the fragments (may not exist).
 * @guard_command: shell command of the guard hook, or NULL for none.
 * Return: 0, RS_SETTINGS_E_INVALID, or negative errno.
 */
int rs_settings_build(const char *hooks_dir, const char *guard_command, char **out, struct rs_diags *diags);
