/* SPDX-License-Identifier: MIT */
/*
 * The "shard" member of a shard's progress file, kept in rs_progress.extra
 * (the JSON object text of the members progress.c does not model), so
 * progress.c saves it back untouched. Read and written with jansson here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ralphsup/store/shardstate.h"
#include "ralphsup/base/common.h"
#include "ralphsup/store/progress.h"

bool rs_progress_shard_get(const struct rs_progress *p, struct rs_shard *sh, char *hash, size_t hashlen)
{
    sh->index = 0;
    sh->count = 0;
    if (hash && hashlen)
        hash[0] = '\0';
    if (!p || !p->extra)
        return false;
    json_t *o = json_loads(p->extra, JSON_DECODE_ANY, NULL);
    json_t *s = json_is_object(o) ? json_object_get(o, "shard") : NULL;
    json_t *i = json_object_get(s, "index"), *n = json_object_get(s, "count");
    bool ok = json_is_integer(i) && json_is_integer(n) && json_integer_value(n) >= 1 &&
              json_integer_value(n) <= RS_SHARD_MAX && json_integer_value(i) >= 0 &&
              json_integer_value(i) < json_integer_value(n);
    if (ok) {
        sh->index = (int)json_integer_value(i);
        sh->count = (int)json_integer_value(n);
        const char *h = json_string_value(json_object_get(s, "schools_hash"));
        if (hash && hashlen && h)
            snprintf(hash, hashlen, "%s", h);
    }
    json_decref(o);
    return ok;
}

void rs_progress_shard_set(struct rs_progress *p, const struct rs_shard *sh, const char *hash)
{
    json_t *o = p->extra ? json_loads(p->extra, JSON_DECODE_ANY, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_t *s = json_object();
    json_object_set_new(s, "index", json_integer(sh->index));
    json_object_set_new(s, "count", json_integer(sh->count));
    json_object_set_new(s, "schools_hash", json_string(hash ? hash : ""));
    json_object_set_new(o, "shard", s);
    char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!t)
        abort();
    free(p->extra);
    p->extra = rs_xstrdup(t);
    free(t);
}
