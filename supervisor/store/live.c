/* SPDX-License-Identifier: MIT */
/*
 * The live-status file (include/ralphsup/store/live.h): one small JSON
 * object, written whole with rs_file_write_atomic() so a reader never sees
 * half of it, read leniently (a key of the wrong type is absent).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ralphsup/base/util.h"
#include "ralphsup/store/live.h"

int rs_live_write(const char *path, const struct rs_live *l)
{
    char ts[40];
    json_t *o = json_object();
    json_object_set_new(o, "pid", json_integer(l->pid));
    json_object_set_new(o, "updated", json_string(rs_time_iso(l->updated_ms, ts, sizeof ts)));
    if (l->active) {
        json_object_set_new(o, "school", json_string(l->school));
        json_object_set_new(o, "attempt", json_integer(l->attempt));
        json_object_set_new(o, "iteration", json_integer(l->iteration));
        json_object_set_new(o, "agent_pid", json_integer(l->agent_pid));
        json_object_set_new(o, "cost_usd", json_real(l->cost_usd));
        json_object_set_new(o, "cost_estimated", json_boolean(l->cost_estimated));
        if (l->last_tool)
            json_object_set_new(o, "last_tool", json_string(l->last_tool));
        if (l->last_progress)
            json_object_set_new(o, "last_progress", json_string(l->last_progress));
    }
    if (l->waiting)
        json_object_set_new(o, "waiting", json_string(l->waiting));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!text)
        return -ENOMEM;
    size_t n;
    char *red = rs_redact(text, strlen(text), &n);
    int r = rs_file_write_atomic(path, red, n, 0644);
    free(red);
    free(text);
    return r;
}

static char *dup_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? rs_xstrdup(json_string_value(v)) : NULL;
}

int rs_live_read(const char *path, struct rs_live_view *v)
{
    memset(v, 0, sizeof *v);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        return errno == ENOENT ? -ENOENT : -EINVAL;
    if (!json_is_object(j)) {
        json_decref(j);
        return -EINVAL;
    }
    json_t *cost = json_object_get(j, "cost_usd");
    if (json_is_number(cost)) {
        v->has_cost = true;
        v->cost_usd = json_number_value(cost);
    }
    v->last_tool = dup_str(j, "last_tool");
    v->last_progress = dup_str(j, "last_progress");
    v->waiting = dup_str(j, "waiting");
    json_decref(j);
    return 0;
}

void rs_live_view_deinit(struct rs_live_view *v)
{
    free(v->last_tool);
    free(v->last_progress);
    free(v->waiting);
    memset(v, 0, sizeof *v);
}
