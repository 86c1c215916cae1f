/* SPDX-License-Identifier: MIT */
/* --settings: the guard plus the user's hook fragments, validated at startup. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/run/settings.h"
#include "ralphsup/base/util.h"

static char *mkdir_tmp(void)
{
    char *d = rs_xstrdup("/tmp/rs-settings-XXXXXX");
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

static void put(const char *dir, const char *name, const char *text)
{
    char *p = rs_path_join(dir, name);
    FILE *f = fopen(p, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

Test(settings, guard_alone_and_nothing_at_all)
{
    struct rs_diags d;
    rs_diags_init(&d);
    char *out = NULL;
    cr_assert_eq(rs_settings_build("/nonexistent", NULL, &out, &d), 0);
    cr_expect_null(out);
    cr_assert_eq(rs_settings_build("/nonexistent", "'/x/ralphsup' hook guard --config '/c.toml'", &out, &d), 0);
    cr_assert(out);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert(j);
    json_t *m = json_array_get(json_object_get(json_object_get(j, "hooks"), "PreToolUse"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(m, "matcher")), "Write|Edit|MultiEdit|NotebookEdit|Bash|Read");
    json_t *h = json_array_get(json_object_get(m, "hooks"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(h, "command")), "'/x/ralphsup' hook guard --config '/c.toml'");
    json_decref(j);
    free(out);
    rs_diags_deinit(&d);
}

Test(settings, user_fragments_are_merged_after_the_guard)
{
    char *dir = mkdir_tmp();
    put(dir, "b-audit.settings.json",
        "{\"hooks\": {\"PreToolUse\": [{\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", \"command\": "
        "\"b\"}]}], \"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"stop\"}]}]}}");
    put(dir, "a-log.settings.json",
        "{\"hooks\": {\"PostToolUse\": [{\"matcher\": \"Write\", \"hooks\": [{\"type\": \"command\", \"command\": "
        "\"a\"}]}]}}");
    put(dir, "guard.settings.json", "{\"hooks\": {\"PreToolUse\": [{\"hooks\": [{\"command\": \"twice\"}]}]}}");
    put(dir, "notes.txt", "not a fragment");
    struct rs_diags d;
    rs_diags_init(&d);
    char *out = NULL;
    cr_assert_eq(rs_settings_build(dir, "guard", &out, &d), 0, "%s", d.n ? d.msgs[0] : "");
    json_t *j = json_loads(out, 0, NULL);
    json_t *hooks = json_object_get(j, "hooks");
    json_t *pre = json_object_get(hooks, "PreToolUse");
    cr_expect_eq(json_array_size(pre), 2, "guard + b, not guard.settings.json again");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(pre, 0), "hooks"), 0), "command")), "guard");
    cr_expect_eq(json_array_size(json_object_get(hooks, "PostToolUse")), 1);
    cr_expect_eq(json_array_size(json_object_get(hooks, "Stop")), 1);
    cr_expect(strstr(out, "twice") == NULL);
    json_decref(j);
    free(out);
    rs_diags_deinit(&d);
    rm_tmp(dir);
}

Test(settings, broken_fragments_are_startup_errors_with_positions)
{
    char *dir = mkdir_tmp();
    put(dir, "x.settings.json", "{\"hooks\": {\"PreToolUse\": [}\n");
    put(dir, "y.settings.json", "{\"permissions\": {}, \"hooks\": {\"Stop\": 3}}");
    struct rs_diags d;
    rs_diags_init(&d);
    char *out = NULL;
    cr_assert_eq(rs_settings_build(dir, "guard", &out, &d), RS_SETTINGS_E_INVALID);
    cr_expect_null(out);
    cr_assert_eq(d.n, 3);
    cr_expect(strstr(d.msgs[0], "x.settings.json:1:") && strstr(d.msgs[0], "invalid JSON"), "%s", d.msgs[0]);
    cr_expect(strstr(d.msgs[1], "only \"hooks\" is allowed"), "%s", d.msgs[1]);
    cr_expect(strstr(d.msgs[2], "hooks.Stop must be an array"), "%s", d.msgs[2]);
    rs_diags_deinit(&d);
    rm_tmp(dir);
}
