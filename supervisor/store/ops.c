/* SPDX-License-Identifier: MIT */
/*
 * The operator's retry and skip (store/ops.h): what they do to the batch
 * state, all or nothing, and the small request queue that carries them to
 * a running supervisor.
 *
 * retry moves a failed school's entry back to retry_history (its attempts,
 * cost and times kept) and marks how many of its attempts came before the
 * retry (attempts_reset), so max_attempts_per_school counts afresh while
 * the history stays; the school goes to the front of pending. skip fails a
 * pending school with the operator's reason, like a school whose attempts
 * ran out (its retry history moves along), so `retry` can undo it.
 *
 * The queue is one directory of small JSON files, each written crash-safely
 * (temp + fsync + rename) and claimed by a rename, so two commands never
 * collide and the command can tell whether its request was taken.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ralphsup/base/buf.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"
#include "ralphsup/store/ops.h"

/* A request is a few names: far below this. */
#define OP_FILE_MAX (1024 * 1024)

struct rs_op *rs_op_new(enum rs_op_kind kind, const char *reason)
{
    struct rs_op *op = rs_xcalloc(1, sizeof(*op));
    op->kind = kind;
    op->reason = reason ? rs_xstrdup(reason) : NULL;
    return op;
}

struct rs_op *rs_op_free(struct rs_op *op)
{
    if (!op)
        return NULL;
    for (size_t i = 0; i < op->n; i++) {
        free(op->names[i]);
        free(op->slugs[i]);
    }
    free(op->names);
    free(op->slugs);
    free(op->reason);
    free(op);
    return NULL;
}

void rs_op_add(struct rs_op *op, const char *name, const char *slug)
{
    for (size_t i = 0; i < op->n; i++)
        if (strcmp(op->names[i], name) == 0)
            return;
    op->names = rs_xrealloc(op->names, (op->n + 1) * sizeof(*op->names));
    op->slugs = rs_xrealloc(op->slugs, (op->n + 1) * sizeof(*op->slugs));
    op->names[op->n] = rs_xstrdup(name);
    op->slugs[op->n] = rs_xstrdup(slug ? slug : "");
    op->n++;
}

const char *rs_op_name(enum rs_op_kind kind)
{
    return kind == RS_OP_SKIP ? "skip" : "retry";
}

const char *rs_op_event(enum rs_op_kind kind)
{
    return kind == RS_OP_SKIP ? "skipped" : "retried";
}

static size_t find(const struct rs_school_state *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return i;
    return (size_t)-1;
}

static bool in_pending(const struct rs_progress *p, const char *name)
{
    for (size_t i = 0; i < p->npending; i++)
        if (strcmp(p->pending[i], name) == 0)
            return true;
    return false;
}

/* Where @name is, for a refusal: "pending", "in flight (attempt 2)", ... */
static void where_is(const struct rs_progress *p, const char *name, char *buf, size_t n)
{
    const struct rs_current *c = rs_progress_inflight_find(p, name);
    if (c)
        snprintf(buf, n, "in flight (attempt %d)", c->attempt);
    else if (in_pending(p, name))
        snprintf(buf, n, "pending");
    else if (find(p->completed, p->ncompleted, name) != (size_t)-1)
        snprintf(buf, n, "completed");
    else if (find(p->failed, p->nfailed, name) != (size_t)-1)
        snprintf(buf, n, "failed");
    else
        snprintf(buf, n, "not in the progress file");
}

static void check(const struct rs_progress *p, const struct rs_op *op, struct rs_diags *refused)
{
    for (size_t i = 0; i < op->n; i++) {
        const char *name = op->names[i];
        char st[64];
        where_is(p, name, st, sizeof st);
        if (op->kind == RS_OP_RETRY && strcmp(st, "failed") != 0)
            rs_diags_add(refused, "retry: \"%s\" is %s, not failed: only a failed school can be retried", name, st);
        else if (op->kind == RS_OP_SKIP && strcmp(st, "pending") != 0)
            rs_diags_add(refused, "skip: \"%s\" is %s, not pending: only a pending school can be skipped%s", name, st,
                         strncmp(st, "in flight", 9) == 0 ? " (`ralphsup stop` the batch first, or let it finish)"
                                                           : "");
    }
}

/* failed[@idx] back to retry_history, attempts reset; returns nothing, the entry moves. */
static void unfail(struct rs_progress *p, size_t idx, struct rs_diags *done)
{
    struct rs_school_state s = p->failed[idx];
    memmove(p->failed + idx, p->failed + idx + 1, (p->nfailed - idx - 1) * sizeof(*p->failed));
    p->nfailed--;
    struct rs_school_state *h = rs_progress_history(p, s.name, s.slug, true);
    /* A fresh history entry (a failed school has none): take the failed one's place whole. */
    free(h->name);
    free(h->slug);
    free(h->attempts);
    rs_diags_add(done, "retried \"%s\": back at the front of pending (%zu earlier attempt%s kept in its history, not "
                       "counted; it failed with: %s)",
                 s.name, s.nattempts, s.nattempts == 1 ? "" : "s", s.reason ? s.reason : "unknown");
    free(s.reason);
    s.reason = NULL;
    s.finished_ms = 0;
    s.attempts_reset = s.nattempts;
    *h = s;
}

size_t rs_op_apply(struct rs_progress *p, const struct rs_op *op, int64_t now_ms, struct rs_diags *done,
                   struct rs_diags *refused)
{
    size_t before = refused->n;
    check(p, op, refused);
    if (refused->n > before)
        return 0;
    if (op->kind == RS_OP_RETRY) {
        /* Pushed to the front last first, so they run in the order given. */
        for (size_t i = op->n; i > 0; i--) {
            unfail(p, find(p->failed, p->nfailed, op->names[i - 1]), done);
            rs_progress_push_pending(p, op->names[i - 1], true);
        }
        /* The messages were added last first too: put them in the order given. */
        for (size_t a = done->n - op->n, b = done->n - 1; a < b; a++, b--) {
            char *t = done->msgs[a];
            done->msgs[a] = done->msgs[b];
            done->msgs[b] = t;
        }
        return op->n;
    }
    for (size_t i = 0; i < op->n; i++) {
        rs_progress_remove_pending(p, op->names[i]);
        char *reason = rs_xasprintf("skipped by the operator: %s", op->reason ? op->reason : "no reason given");
        struct rs_school_state *s = rs_progress_fail(p, op->names[i], op->slugs[i], reason);
        s->finished_ms = now_ms;
        if (!s->started_ms)
            s->started_ms = now_ms;
        rs_diags_add(done, "skipped \"%s\": failed with reason \"%s\"", op->names[i], reason);
        free(reason);
    }
    return op->n;
}

void rs_op_subject(const struct rs_op *op, char *buf, size_t n)
{
    struct rs_buf b;
    rs_buf_init(&b);
    for (size_t i = 0; i < op->n; i++)
        rs_buf_printf(&b, "%s%s", i ? ", " : "", op->names[i]);
    if (op->kind == RS_OP_SKIP)
        rs_utf8_printf(buf, n, "ralphsup: skipped %s (operator: %s)", b.data ? b.data : "",
                       op->reason ? op->reason : "no reason given");
    else
        rs_utf8_printf(buf, n, "ralphsup: retried %s (operator)", b.data ? b.data : "");
    rs_buf_deinit(&b);
}

/* ---- the request queue ----------------------------------------------------------- */

char *rs_ops_dir(const char *progress_path)
{
    return rs_xasprintf("%s.ops", progress_path);
}

int rs_op_submit(const char *progress_path, const struct rs_op *op, char **path_out)
{
    char *dir = rs_ops_dir(progress_path);
    int r = rs_mkdir_p(dir, 0755);
    if (r < 0) {
        free(dir);
        return r;
    }
    json_t *o = json_object();
    json_object_set_new(o, "op", json_string(rs_op_name(op->kind)));
    json_t *arr = json_array();
    for (size_t i = 0; i < op->n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "name", op->names[i], "slug", op->slugs[i]));
    json_object_set_new(o, "schools", arr);
    if (op->reason)
        json_object_set_new(o, "reason", json_string(op->reason));
    json_object_set_new(o, "pid", json_integer(getpid()));
    char *text = json_dumps(o, JSON_PRESERVE_ORDER);
    json_decref(o);
    /* Sorted by name = by time: ms since the epoch, zero-padded, then the PID. */
    char *path = rs_xasprintf("%s/%013lld-%ld.json", dir, (long long)rs_now_ms(), (long)getpid());
    free(dir);
    r = text ? rs_file_write_atomic(path, text, strlen(text), 0644) : -ENOMEM;
    free(text);
    if (r < 0) {
        free(path);
        return r;
    }
    *path_out = path;
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int rs_ops_claim(const char *progress_path, char ***paths, size_t *n)
{
    *paths = NULL;
    *n = 0;
    char *dir = rs_ops_dir(progress_path);
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        free(dir);
        return e == ENOENT || e == ENOTDIR ? 0 : -e;
    }
    char **names = NULL;
    size_t k = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".json"))
            continue;
        names = rs_xrealloc(names, (k + 1) * sizeof(*names));
        names[k++] = rs_xstrdup(de->d_name);
    }
    closedir(d);
    if (k > 1)
        qsort(names, k, sizeof(*names), rs_strp_cmp);
    for (size_t i = 0; i < k; i++) {
        char *from = rs_xasprintf("%s/%s", dir, names[i]);
        char *to = rs_xasprintf("%s.taken", from);
        if (rename(from, to) == 0) {
            *paths = rs_xrealloc(*paths, (*n + 1) * sizeof(**paths));
            (*paths)[(*n)++] = to;
        } else {
            free(to);
        }
        free(from);
        free(names[i]);
    }
    free(names);
    free(dir);
    return 0;
}

int rs_op_load(const char *path, struct rs_op **out, struct rs_diags *d)
{
    char *data = NULL;
    size_t len = 0;
    int r = rs_file_read(path, OP_FILE_MAX, &data, &len);
    if (r < 0)
        return r;
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    free(data);
    const char *kind = o ? json_string_value(json_object_get(o, "op")) : NULL;
    json_t *arr = o ? json_object_get(o, "schools") : NULL;
    const char *reason = o ? json_string_value(json_object_get(o, "reason")) : NULL;
    enum rs_op_kind k = kind && strcmp(kind, "skip") == 0 ? RS_OP_SKIP : RS_OP_RETRY;
    if (!kind || (strcmp(kind, "retry") != 0 && strcmp(kind, "skip") != 0) || !json_is_array(arr) ||
        (reason && !rs_utf8_valid(reason, strlen(reason)))) {
        rs_diags_add(d, "%s: not an operator request (%s)", path,
                     o ? "expected {\"op\": \"retry\" or \"skip\", \"schools\": [...]}" : je.text);
        json_decref(o);
        return RS_E_DATA;
    }
    struct rs_op *op = rs_op_new(k, reason);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *slug = json_string_value(json_object_get(v, "slug"));
        if (!name || !rs_utf8_valid(name, strlen(name))) {
            rs_diags_add(d, "%s: schools[%zu].name must be a school name (string)", path, i);
            json_decref(o);
            rs_op_free(op);
            return RS_E_DATA;
        }
        rs_op_add(op, name, slug);
    }
    json_decref(o);
    *out = op;
    return 0;
}
