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
    if (l->jobs > 0) {
        json_object_set_new(o, "jobs", json_integer(l->jobs));
        json_object_set_new(o, "target", json_integer(l->target));
        json_t *ws = json_array();
        for (size_t i = 0; i < l->nworkers; i++) {
            const struct rs_live_worker *w = &l->workers[i];
            json_t *e = json_object();
            json_object_set_new(e, "slot", json_integer(w->slot));
            json_object_set_new(e, "school", json_string(w->school));
            json_object_set_new(e, "attempt", json_integer(w->attempt));
            json_object_set_new(e, "iteration", json_integer(w->iteration));
            json_object_set_new(e, "agent_pid", json_integer(w->agent_pid));
            json_object_set_new(e, "running_s", json_real((double)w->running_ms / 1000.0));
            json_object_set_new(e, "cost_usd", json_real(w->cost_usd));
            json_object_set_new(e, "cost_estimated", json_boolean(w->cost_estimated));
            if (w->last_tool)
                json_object_set_new(e, "last_tool", json_string(w->last_tool));
            if (w->last_progress)
                json_object_set_new(e, "last_progress", json_string(w->last_progress));
            if (w->waiting)
                json_object_set_new(e, "waiting", json_string(w->waiting));
            json_array_append_new(ws, e);
        }
        json_object_set_new(o, "workers", ws);
    }
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
    json_t *jobs = json_object_get(j, "jobs"), *target = json_object_get(j, "target");
    v->jobs = json_is_integer(jobs) ? (int)json_integer_value(jobs) : 0;
    v->target = json_is_integer(target) ? (int)json_integer_value(target) : 0;
    json_t *ws = json_object_get(j, "workers");
    if (json_is_array(ws) && json_array_size(ws) > 0 && json_array_size(ws) <= 64) {
        v->workers = rs_xcalloc(json_array_size(ws), sizeof(*v->workers));
        size_t i;
        json_t *e;
        json_array_foreach(ws, i, e) {
            if (!json_is_object(e))
                continue;
            struct rs_live_view_worker *w = &v->workers[v->nworkers++];
            w->school = dup_str(e, "school");
            json_t *sl = json_object_get(e, "slot"), *c = json_object_get(e, "cost_usd");
            w->slot = json_is_integer(sl) ? (int)json_integer_value(sl) : -1;
            w->has_cost = json_is_number(c);
            w->cost_usd = w->has_cost ? json_number_value(c) : 0;
            w->last_tool = dup_str(e, "last_tool");
            w->waiting = dup_str(e, "waiting");
        }
    }
    json_decref(j);
    return 0;
}

void rs_live_view_deinit(struct rs_live_view *v)
{
    for (size_t i = 0; i < v->nworkers; i++) {
        free(v->workers[i].school);
        free(v->workers[i].last_tool);
        free(v->workers[i].waiting);
    }
    free(v->workers);
    free(v->last_tool);
    free(v->last_progress);
    free(v->waiting);
    memset(v, 0, sizeof *v);
}
