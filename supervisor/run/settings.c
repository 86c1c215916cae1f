/* SPDX-License-Identifier: MIT */
/*
 * Building the --settings JSON: the guard's PreToolUse matcher plus the
 * user's hook fragments, concatenated per event. Fragments are small files
 * read once at startup; each is capped at 1 MiB.
 */
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/run/settings.h"
#include "ralphsup/base/util.h"

#define FRAGMENT_MAX (1u << 20)

static const char guard_matcher[] = "Write|Edit|MultiEdit|NotebookEdit|Bash|Read";

/* Append every matcher of @events (event -> array) into @into. */
static void merge(json_t *into, json_t *events)
{
    const char *event;
    json_t *arr;
    json_object_foreach(events, event, arr) {
        json_t *dst = json_object_get(into, event);
        if (!dst) {
            dst = json_array();
            json_object_set_new(into, event, dst);
        }
        json_array_extend(dst, arr);
    }
}

static int load_fragment(const char *path, json_t *hooks, struct rs_diags *diags)
{
    char *data;
    size_t len;
    int r = rs_file_read(path, FRAGMENT_MAX, &data, &len);
    if (r == -EFBIG) {
        rs_diags_addpos(diags, path, 0, 0, "hook settings fragment is larger than 1 MiB");
        return RS_SETTINGS_E_INVALID;
    }
    if (r < 0)
        return r;
    json_error_t je;
    json_t *root = json_loadb(data, len, 0, &je);
    free(data);
    if (!root) {
        rs_diags_addpos(diags, path, je.line, je.column, "invalid JSON: %s", je.text);
        return RS_SETTINGS_E_INVALID;
    }
    int bad = 0;
    if (!json_is_object(root)) {
        rs_diags_addpos(diags, path, 0, 0, "a hook settings fragment must be a JSON object {\"hooks\": {...}}");
        bad = 1;
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) {
            if (strcmp(key, "hooks") != 0) {
                rs_diags_addpos(diags, path, 0, 0,
                                "only \"hooks\" is allowed in a fragment, found \"%s\" (other settings would change the "
                                "CLI behind the supervisor's back)",
                                key);
                bad = 1;
            }
        }
        json_t *h = json_object_get(root, "hooks");
        if (!json_is_object(h)) {
            rs_diags_addpos(diags, path, 0, 0, "\"hooks\" must be an object mapping event names to arrays of matchers");
            bad = 1;
        } else {
            const char *event;
            json_t *arr;
            json_object_foreach(h, event, arr) {
                if (!json_is_array(arr)) {
                    rs_diags_addpos(diags, path, 0, 0, "hooks.%s must be an array of matchers", event);
                    bad = 1;
                    continue;
                }
                size_t i;
                json_t *m;
                json_array_foreach(arr, i, m) {
                    if (!json_is_object(m) || !json_is_array(json_object_get(m, "hooks"))) {
                        rs_diags_addpos(diags, path, 0, 0,
                                        "hooks.%s[%zu] must be an object with a \"hooks\" array (and an optional "
                                        "\"matcher\")",
                                        event, i);
                        bad = 1;
                    }
                }
            }
            if (!bad)
                merge(hooks, h);
        }
    }
    json_decref(root);
    return bad ? RS_SETTINGS_E_INVALID : 0;
}

int rs_settings_build(const char *hooks_dir, const char *guard_command, char **out, struct rs_diags *diags)
{
    *out = NULL;
    json_t *hooks = json_object();
    if (guard_command) {
        json_t *m = json_pack("{s:s,s:[{s:s,s:s}]}", "matcher", guard_matcher, "hooks", "type", "command", "command",
                              guard_command);
        json_object_set_new(hooks, "PreToolUse", json_pack("[o]", m));
    }
    int result = 0;
    if (hooks_dir) {
        char *pat = rs_path_join(hooks_dir, "*.settings.json");
        glob_t g;
        int gr = glob(pat, 0, NULL, &g); /* sorted: file-name order */
        free(pat);
        if (gr == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                const char *base = strrchr(g.gl_pathv[i], '/');
                base = base ? base + 1 : g.gl_pathv[i];
                if (strcmp(base, "guard.settings.json") == 0)
                    continue;
                int r = load_fragment(g.gl_pathv[i], hooks, diags);
                if (r < 0 && result == 0)
                    result = r;
                else if (r > 0 && result >= 0)
                    result = RS_SETTINGS_E_INVALID;
            }
            globfree(&g);
        }
    }
    if (result == 0 && json_object_size(hooks) > 0) {
        json_t *root = json_pack("{s:o}", "hooks", hooks);
        *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(root);
    } else {
        json_decref(hooks);
    }
    return result;
}
