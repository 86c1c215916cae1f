/* SPDX-License-Identifier: MIT */
/*
 * scale-commit: what one transition costs at the start and at the end of a
 * big batch (issue 15), through the store's own functions. In a fresh temp
 * repository it builds an N-school batch in memory (names like the
 * generated bench batch), then, K times each:
 *   - "start": every school pending but one in flight;
 *   - "end":   every school completed (one attempt each) but K, and one in flight;
 * moves one school from pending to completed, saves the progress file with
 * rs_progress_save() (sealing every S completed entries into a segment file,
 * as [batch] seal_every does) and commits it and any new segment with
 * rs_git_commit() (packing every P commits, as [git] pack_every does). Prints p50 / p99 / max of save, commit and both,
 * the progress file's size, the time of one rs_progress_load() of the end
 * file and of the status summary's write and load, and the size of .git next to `git gc` of the same history when
 * --gc is given.
 *
 * Usage: scale-commit [N] [K] [P] [S] [--gc] [--keep]   (S: seal_every, default 200 as in the config; 0 = never)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ralphsup/base/util.h"
#include "ralphsup/cli/exitcode.h" /* the exit codes of a program (header only) */
#include "ralphsup/store/gitaudit.h"
#include "ralphsup/store/progress.h"
#include "ralphsup/store/summary.h"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void stats(const char *label, int64_t *v, int k)
{
    qsort(v, (size_t)k, sizeof(*v), cmp_i64);
    printf("  %-14s p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms\n", label, v[k / 2] / 1000.0,
           v[(k * 99) / 100] / 1000.0, v[k - 1] / 1000.0);
}

static void complete(struct rs_progress *p, const char *name, int64_t it)
{
    char slug[128];
    snprintf(slug, sizeof slug, "%s", name);
    for (char *c = slug; *c; c++)
        *c = *c == ' ' ? '-' : (char)(*c | 0x20);
    struct rs_school_state *s = rs_progress_complete(p, name, slug);
    s->started_ms = 1764000000000 + it * 1000;
    s->finished_ms = s->started_ms + 900;
    s->cost_usd = 0.012345;
    s->coaches = 4;
    s->overlaps = 1;
    s->csv = rs_xasprintf("output/%s.csv", slug);
    struct rs_attempt *a = rs_school_state_add_attempt(s);
    a->attempt = 1;
    a->iteration = it;
    a->started_ms = s->started_ms;
    a->finished_ms = s->finished_ms;
    a->cost_usd = s->cost_usd;
    a->outcome = RS_OUTCOME_COMPLETED;
    a->failure_class = rs_xstrdup("completed");
    a->exit_status = rs_xstrdup("exit 0");
    a->session_id = rs_xasprintf("%032llx", (unsigned long long)it * 2654435761u);
    p->iterations = it;
    p->cost_usd += s->cost_usd;
}

/* Save @p and commit it with the segments not committed yet (*@ncommitted of them are), as store/batch.c does. */
static int save_commit(struct rs_progress *p, struct rs_git *g, const char *path, size_t *ncommitted, int64_t *t_save,
                       char *err, size_t errlen)
{
    int64_t t0 = now_us();
    if (rs_progress_save(p, path, rs_now_ms()) < 0) {
        snprintf(err, errlen, "save failed");
        return -1;
    }
    *t_save = now_us() - t0;
    const char **paths = calloc(p->nsegments + 1, sizeof(*paths));
    size_t np = 0;
    paths[np++] = path;
    for (size_t s = *ncommitted; s < p->nsegments; s++)
        paths[np++] = rs_progress_segment_path(p, path, s);
    char oid[64];
    int r = rs_git_commit(g, paths, np, "bench: transition", NULL, NULL, 0, oid, err, errlen);
    if (r == 0)
        *ncommitted = p->nsegments;
    for (size_t i = 1; i < np; i++)
        free((char *)paths[i]);
    free(paths);
    return r;
}

static int run(const char *label, struct rs_progress *p, struct rs_git *g, const char *path, int k, int64_t it,
               size_t *segments_committed)
{
    int64_t *sv = calloc((size_t)k, sizeof(*sv)), *cv = calloc((size_t)k, sizeof(*cv)), *bv = calloc((size_t)k, sizeof(*bv));
    for (int i = 0; i < k; i++) {
        char *name = rs_xstrdup(p->pending[0]);
        rs_progress_remove_pending(p, name);
        complete(p, name, it + i + 1);
        free(name);
        int64_t t0 = now_us(), ts = 0;
        char err[512];
        int r = save_commit(p, g, path, segments_committed, &ts, err, sizeof err);
        int64_t t2 = now_us();
        int64_t t1 = t0 + ts;
        if (r != 0) {
            fprintf(stderr, "commit failed: %s\n", err);
            return -1;
        }
        sv[i] = t1 - t0;
        cv[i] = t2 - t1;
        bv[i] = t2 - t0;
    }
    struct stat st;
    stat(path, &st);
    printf("%s: %d transitions, progress file %.2f MiB, %zu segments\n", label, k, st.st_size / 1048576.0,
           p->nsegments);
    stats("save", sv, k);
    stats("commit", cv, k);
    stats("save + commit", bv, k);
    free(sv);
    free(cv);
    free(bv);
    return 0;
}

int main(int argc, char **argv)
{
    int n = 10000, k = 200, pack = 100, seal = 200;
    bool gc = false, keep = false;
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--gc") == 0)
            gc = true;
        else if (strcmp(argv[i], "--keep") == 0)
            keep = true;
        else if (pos == 0 && ++pos)
            n = atoi(argv[i]);
        else if (pos == 1 && ++pos)
            k = atoi(argv[i]);
        else if (pos == 2 && ++pos)
            pack = atoi(argv[i]);
        else
            seal = atoi(argv[i]);
    }
    if (n < 2 || k < 1 || 2 * k >= n || pack < 0 || seal < 0) {
        fprintf(stderr, "usage: scale-commit [N] [K < N/2] [PACK_EVERY] [SEAL_EVERY] [--gc] [--keep]\n");
        return RS_EXIT_USAGE;
    }
    char dir[] = "/tmp/ralphsup-scale-commit.XXXXXX";
    if (!mkdtemp(dir))
        return RS_EXIT_IOERR;
    char *path = rs_xasprintf("%s/batch_progress.json", dir);
    char err[512];
    struct rs_git *g = NULL;
    struct rs_git_opts o = {.workdir = dir, .create = true, .author_name = "bench", .author_email = "b@invalid",
                            .pack_every = (unsigned)pack};
    if (rs_git_open(&o, &g, err, sizeof err) < 0) {
        fprintf(stderr, "git: %s\n", err);
        return RS_EXIT_IOERR;
    }
    struct rs_progress *p = rs_progress_new("bench", rs_now_ms());
    p->seal_every = (size_t)seal;
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "Bench University %06d", i);
        rs_progress_push_pending(p, name, false);
    }
    struct rs_current *c = rs_progress_inflight_add(p, "Bench University in flight");
    c->slug = rs_xstrdup("bench-university-in-flight");
    c->attempt = 1;
    c->run_token = rs_xstrdup("bench:1:1:00000000");
    printf("scale-commit: %d schools, %d transitions each, pack_every %d, seal_every %d\n", n, k, pack, seal);
    size_t segments_committed = 0;
    int r = run("start (all pending)", p, g, path, k, 0, &segments_committed);
    /* The end of the batch: all but k more completed in memory, in steps of seal_every (as a run seals them). */
    int64_t it = k;
    while (r == 0 && p->npending > (size_t)k) {
        char *name = rs_xstrdup(p->pending[0]);
        rs_progress_remove_pending(p, name);
        complete(p, name, ++it);
        free(name);
        size_t open = 0;
        for (size_t i = p->ncompleted; seal && i-- > 0 && p->completed[i].segment == 0;)
            open++;
        if (seal && open >= (size_t)seal) {
            char why[512];
            int64_t ts;
            r = save_commit(p, g, path, &segments_committed, &ts, why, sizeof why);
        }
    }
    if (r == 0)
        r = run("end (all completed but these)", p, g, path, k, it, &segments_committed);
    if (r == 0) {
        int64_t t0 = now_us();
        struct rs_progress *q = NULL;
        struct rs_diags d;
        rs_diags_init(&d);
        int lr = rs_progress_load(path, &q, &d);
        printf("rs_progress_load of the end file: %.1f ms (%s)\n", (now_us() - t0) / 1000.0, lr == 0 ? "ok" : "failed");
        rs_progress_free(q);
        /* What `status` reads instead while the summary is current (store/summary.c). */
        char *sum = rs_xasprintf("%s/summary.json", dir);
        t0 = now_us();
        int sw = rs_summary_write(sum, p, path);
        int64_t t1 = now_us();
        q = NULL;
        int sl = sw == 0 ? rs_summary_load(sum, path, &q) : sw;
        printf("rs_summary_write: %.2f ms, rs_summary_load: %.2f ms (%s)\n", (t1 - t0) / 1000.0,
               (now_us() - t1) / 1000.0, sl == 0 ? "ok" : "failed");
        rs_progress_free(q);
        free(sum);
        rs_diags_deinit(&d);
    }
    g = rs_git_free(g); /* packs what is left */
    p = rs_progress_free(p);
    char *cmd = rs_xasprintf("du -sk %s/.git | cut -f1", dir);
    FILE *f = popen(cmd, "r");
    long kb = 0;
    if (f && fscanf(f, "%ld", &kb) == 1)
        printf(".git after %d commits: %.1f MiB\n", 2 * k, kb / 1024.0);
    if (f)
        pclose(f);
    free(cmd);
    if (gc) {
        cmd = rs_xasprintf("git -C %s gc -q --prune=now && du -sk %s/.git | cut -f1", dir, dir);
        f = popen(cmd, "r");
        if (f && fscanf(f, "%ld", &kb) == 1)
            printf(".git after git gc --prune=now: %.1f MiB\n", kb / 1024.0);
        if (f)
            pclose(f);
        free(cmd);
    }
    if (!keep) {
        cmd = rs_xasprintf("rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
        free(cmd);
    } else {
        printf("kept %s\n", dir);
    }
    free(path);
    return r == 0 ? 0 : 1;
}
