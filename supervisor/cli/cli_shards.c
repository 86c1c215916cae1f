/* SPDX-License-Identifier: MIT */
/*
 * `status` over the shards of a batch (docs/scale-out.md): the shard
 * progress files (batch_progress.shard-I-of-N.json for batch_progress.json)
 * beside the batch's progress file — in a shard's clone its own, after a merge every shard's —
 * one line each and their sum, or a "shards" array for --json.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ralphsup/cli/cli.h"
#include "ralphsup/base/util.h"
#include "ralphsup/core/shard.h"
#include "ralphsup/store/batch.h"
#include "ralphsup/store/shardstate.h"

static int cmp_shard_files(const void *a, const void *b)
{
    struct rs_shard x = {0}, y = {0};
    rs_shard_parse_tag(*(char *const *)a, &x);
    rs_shard_parse_tag(*(char *const *)b, &y);
    if (x.count != y.count)
        return x.count < y.count ? -1 : 1;
    return (x.index > y.index) - (x.index < y.index);
}

int rs_cli_status_shards(const struct rs_batch *b, struct json_t *json_out)
{
    /* rs_shard_progress_path() with "*" for I and N: batch_progress.shard-*-of-*.json */
    const char *slash = strrchr(b->cfg->progress, '/');
    const char *base = slash ? slash + 1 : b->cfg->progress;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - b->cfg->progress) : strlen(b->cfg->progress);
    char *pat = rs_xasprintf("%.*s.shard-*-of-*%s", (int)stem, b->cfg->progress, b->cfg->progress + stem);
    glob_t g;
    int n = 0;
    if (glob(pat, 0, NULL, &g) != 0) {
        free(pat);
        return 0;
    }
    free(pat);
    qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_shard_files);
    json_t *arr = json_array();
    size_t tc = 0, tf = 0, tp = 0, tr = 0;
    double cost = 0;
    if (!json_out)
        printf("shards (%zu %s):\n", g.gl_pathc, rs_plural(g.gl_pathc, "file", "files"));
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct rs_progress *p = NULL;
        struct rs_diags d;
        rs_diags_init(&d);
        struct rs_shard sh = {0};
        int r = rs_progress_load(g.gl_pathv[i], &p, &d);
        if (r != 0 || !rs_progress_shard_get(p, &sh, NULL, 0)) {
            if (!json_out)
                printf("  %s: unreadable (%s)\n", g.gl_pathv[i], d.n ? d.msgs[0] : "not a shard's progress file");
            rs_diags_deinit(&d);
            rs_progress_free(p);
            continue;
        }
        rs_diags_deinit(&d);
        n++;
        size_t fl = rs_progress_ninflight(p);
        tc += p->ncompleted;
        tf += p->nfailed;
        tp += p->npending;
        tr += fl;
        cost += p->cost_usd;
        if (json_out) {
            json_t *o = json_object();
            json_object_set_new(o, "index", json_integer(sh.index));
            json_object_set_new(o, "count", json_integer(sh.count));
            json_object_set_new(o, "file", json_string(g.gl_pathv[i]));
            json_object_set_new(o, "status", json_string(rs_progress_status_name(p->status)));
            json_object_set_new(o, "completed", json_integer((json_int_t)p->ncompleted));
            json_object_set_new(o, "failed", json_integer((json_int_t)p->nfailed));
            json_object_set_new(o, "pending", json_integer((json_int_t)p->npending));
            json_object_set_new(o, "in_flight", json_integer((json_int_t)fl));
            json_object_set_new(o, "cost_usd", json_real(p->cost_usd));
            json_array_append_new(arr, o);
        } else {
            printf("  shard %d/%d: %s, %zu completed, %zu failed, %zu pending%s%.0zu%s, $%.2f\n", sh.index, sh.count,
                   rs_progress_status_name(p->status), p->ncompleted, p->nfailed, p->npending, fl ? ", " : "", fl,
                   fl ? " in flight" : "", p->cost_usd);
        }
        rs_progress_free(p);
    }
    globfree(&g);
    if (json_out)
        json_object_set_new(json_out, "shards", arr);
    else {
        json_decref(arr);
        if (n)
            printf("  all shards: %zu completed, %zu failed, %zu pending, %zu in flight, $%.2f\n", tc, tf, tp, tr,
                   cost);
    }
    return n;
}

int rs_cli_status_only_shards(const struct rs_batch *b, int json)
{
    if (b->shard.count)
        return 0;
    if (!json)
        return rs_cli_status_shards(b, NULL);
    json_t *o = json_object();
    json_object_set_new(o, "batch", json_string(b->cfg->name));
    int n = rs_cli_status_shards(b, o);
    if (n > 0) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        puts(s);
        free(s);
    }
    json_decref(o);
    return n;
}

void rs_cli_status_shard_json(const struct rs_batch *b, struct json_t *o)
{
    if (b->shard.count) {
        json_t *sh = json_object();
        json_object_set_new(sh, "index", json_integer(b->shard.index));
        json_object_set_new(sh, "count", json_integer(b->shard.count));
        json_object_set_new(o, "shard", sh);
    } else if (rs_cli_status_shards(b, o) == 0) {
        json_object_del(o, "shards");
    }
}

void rs_cli_status_shard_text(const struct rs_batch *b, int before)
{
    if (before && b->shard.count)
        printf("shard %d/%d of batch %s (%s, ref %s)\n", b->shard.index, b->shard.count, b->cfg->name,
               b->cfg->progress, b->cfg->git_ref);
    else if (!before && !b->shard.count)
        rs_cli_status_shards(b, NULL);
}
