/* SPDX-License-Identifier: MIT */
/*
 * The status summary (include/ralphsup/store/summary.h). The file is two
 * parts: one line of compact JSON — which progress file it describes
 * (inode, size, mtime in ns: a save replaces the file by rename, so any
 * later write changes the inode), the counts of pending and completed
 * schools, the number of completed schools with a duration, the sum of those
 * durations and the sum of their costs (as %.17g: read back to the same
 * double), the number of attempts of each failed school — then the progress
 * document without pending, completed and retry_history and with the failed
 * schools' attempts left out, written by the streaming writer and read back
 * by the progress loader. Both parts are small whatever the batch's size: the
 * schools in flight, the failed ones and the totals.
 *
 * Written by the one supervisor that holds the batch lock (or a command that
 * does), so a fixed temp name suffices; no fsync: a summary lost in a crash
 * is stale or missing, and the reader then loads the progress file.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ralphsup/base/util.h"
#include "ralphsup/store/progress_write.h"
#include "ralphsup/store/summary.h"

/* A summary is a few KB; a corrupt or foreign file is refused, never read whole when huge. */
#define SUMMARY_MAX_BYTES (64u * 1024 * 1024)

static long long mtime_ns(const struct stat *st)
{
    return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* A time as reading the file gives it back: whole seconds, and none (0) for none. */
static int64_t file_ms(int64_t ms)
{
    return ms > 0 ? ms / 1000 * 1000 : 0;
}

static int write_plain(const char *path, const char *data, size_t len)
{
    char *tmp = rs_xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int r = fd < 0 ? -errno : rs_write_all(fd, data, len);
    if (fd >= 0 && close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    free(tmp);
    return r;
}

int rs_summary_write(const char *path, const struct rs_progress *p, const char *progress_path)
{
    struct stat st;
    if (stat(progress_path, &st) < 0)
        return -errno;
    size_t timed = 0;
    long long ms = 0;
    double cost = 0;
    /* As the file has them: times in whole seconds, costs rounded to a millionth (progress_write.c). */
    for (size_t i = 0; i < p->ncompleted; i++) {
        const struct rs_school_state *s = &p->completed[i];
        int64_t a = file_ms(s->started_ms), z = file_ms(s->finished_ms);
        if (z > a) {
            ms += z - a;
            timed++;
        }
        double v = s->cost_usd;
        cost += (double)(long long)(v * 1e6 + (v >= 0 ? 0.5 : -0.5)) / 1e6;
    }
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_printf(&b,
                  "{\"summary\": 1, \"progress\": {\"ino\": %llu, \"size\": %lld, \"mtime_ns\": %lld}, "
                  "\"pending\": %zu, \"completed\": %zu, \"completed_timed\": %zu, \"completed_ms\": %lld, "
                  "\"completed_cost_usd\": %.17g, \"failed_attempts\": [",
                  (unsigned long long)st.st_ino, (long long)st.st_size, mtime_ns(&st), p->npending, p->ncompleted,
                  timed, ms, cost);
    for (size_t i = 0; i < p->nfailed; i++)
        rs_buf_printf(&b, "%s%zu", i ? ", " : "", p->failed[i].nattempts);
    rs_buf_puts(&b, "]}\n");
    /*
     * The rest: the document without the lists that grow with the batch, and
     * the failed schools without their attempts (status shows only how many):
     * shallow copies, nothing owned.
     */
    struct rs_progress q = *p;
    q.pending = NULL;
    q.npending = 0;
    q.completed = NULL;
    q.ncompleted = 0;
    q.history = NULL;
    q.nhistory = 0;
    q.segments = NULL; /* they hold completed entries only: not the summary's business */
    q.nsegments = 0;
    q.failed = p->nfailed ? rs_xmalloc(p->nfailed * sizeof(*q.failed)) : NULL;
    for (size_t i = 0; i < p->nfailed; i++) {
        q.failed[i] = p->failed[i];
        q.failed[i].attempts = NULL;
        q.failed[i].nattempts = 0;
    }
    rs_progress_write(&q, &b);
    free(q.failed);
    int r = write_plain(path, b.data, b.len);
    rs_buf_deinit(&b);
    return r;
}

static bool get_count(json_t *o, const char *k, long long *v)
{
    json_t *j = json_object_get(o, k);
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return false;
    *v = json_integer_value(j);
    return true;
}

int rs_summary_load(const char *path, const char *progress_path, struct rs_progress **out)
{
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    int r = rs_file_read(path, SUMMARY_MAX_BYTES, &data, &len);
    if (r < 0)
        return r;
    json_t *h = NULL;
    struct rs_progress *p = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    char *nl = memchr(data, '\n', len);
    long long ino, size, mt, npend, ndone, timed, ms;
    struct stat st;
    r = -EINVAL;
    if (!nl || !(h = json_loadb(data, (size_t)(nl - data), 0, NULL)) || !json_is_object(h))
        goto out;
    json_t *pr = json_object_get(h, "progress");
    json_t *cost = json_object_get(h, "completed_cost_usd");
    if (!get_count(pr, "ino", &ino) || !get_count(pr, "size", &size) || !get_count(pr, "mtime_ns", &mt) ||
        !get_count(h, "pending", &npend) || !get_count(h, "completed", &ndone) ||
        !get_count(h, "completed_timed", &timed) || !get_count(h, "completed_ms", &ms) || !json_is_number(cost) ||
        timed > ndone || npend > 100000000 || ndone > 100000000)
        goto out;
    if (stat(progress_path, &st) < 0) {
        r = -errno;
        goto out;
    }
    if ((unsigned long long)st.st_ino != (unsigned long long)ino || (long long)st.st_size != size ||
        mtime_ns(&st) != mt) {
        r = -ESTALE;
        goto out;
    }
    json_t *fa = json_object_get(h, "failed_attempts");
    if (!json_is_array(fa) || rs_progress_parse(nl + 1, len - (size_t)(nl + 1 - data), path, &p, &d) != 0 ||
        json_array_size(fa) != p->nfailed)
        goto out;
    for (size_t i = 0; i < p->nfailed; i++) {
        json_t *k = json_array_get(fa, i);
        if (!json_is_integer(k) || json_integer_value(k) < 0 || json_integer_value(k) > 1000000)
            goto out;
        p->failed[i].nattempts = (size_t)json_integer_value(k);
        p->failed[i].attempts = rs_xcalloc(p->failed[i].nattempts ? p->failed[i].nattempts : 1,
                                           sizeof(*p->failed[i].attempts));
    }
    /* Placeholders: the right counts, durations and cost adding up to the file's (see the header). */
    p->npending = (size_t)npend;
    p->pending = rs_xcalloc(p->npending ? p->npending : 1, sizeof(*p->pending));
    p->ncompleted = (size_t)ndone;
    p->completed = rs_xcalloc(p->ncompleted ? p->ncompleted : 1, sizeof(*p->completed));
    long long q = timed ? ms / timed : 0, rem = timed ? ms % timed : 0;
    for (long long i = 0; i < timed; i++) {
        p->completed[i].started_ms = 1;
        p->completed[i].finished_ms = 1 + q + (i < rem ? 1 : 0);
    }
    if (p->ncompleted)
        p->completed[0].cost_usd = json_number_value(cost);
    *out = p;
    p = NULL;
    r = 0;
out:
    rs_progress_free(p);
    rs_diags_deinit(&d);
    json_decref(h);
    free(data);
    return r;
}
