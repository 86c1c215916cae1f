/* SPDX-License-Identifier: MIT */
/*
 * bench-commit: cost of one audit commit as history grows. In a fresh temp
 * repository, N times (default 10000): rewrite a progress-like JSON file
 * (2 KB growing to about 10 KB) with rs_file_write_atomic and commit it with
 * rs_git_commit on the checked-out branch. Prints mean/p50/p99/max of the
 * commit time per block of 1000 commits, so a per-commit cost that grows
 * with history shows up as rising blocks, then the totals and the size of
 * the object store (libgit2 writes loose objects and never runs gc).
 *
 * Usage: bench-commit [N] [--keep]   (--keep leaves the temp repo behind)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ralphsup/store/gitaudit.h"
#include "ralphsup/base/util.h"
#include "ralphsup/cli/exitcode.h" /* the exit codes of a program (header only) */

#define BLOCK 1000

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

/* A progress file of about @target bytes: one entry per school, iteration-dependent states. */
static void make_progress(struct rs_buf *b, long iter, size_t target)
{
    rs_buf_reset(b);
    rs_buf_printf(b, "{\n  \"version\": 1,\n  \"iteration\": %ld,\n  \"schools\": [\n", iter);
    for (long s = 0; b->len < target; s++) {
        const char *state = s < iter % 97 ? "done" : (s == iter % 97 ? "running" : "pending");
        rs_buf_printf(b, "    {\"id\": \"school-%04ld\", \"state\": \"%s\", \"turns\": %ld},\n", s, state,
                      (s * 7 + iter) % 40);
    }
    rs_buf_puts(b, "    {\"id\": \"end\"}\n  ]\n}\n");
}

static void print_block(long from, long to, int64_t *t, long n)
{
    int64_t sum = 0;
    for (long i = 0; i < n; i++)
        sum += t[i];
    qsort(t, (size_t)n, sizeof(*t), cmp_i64);
    long p99 = (n * 99) / 100;
    if (p99 >= n)
        p99 = n - 1;
    printf("commits %5ld-%5ld  mean %6.2f ms  p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms\n", from, to,
           (double)sum / (double)n / 1000.0, (double)t[n / 2] / 1000.0, (double)t[p99] / 1000.0,
           (double)t[n - 1] / 1000.0);
}

int main(int argc, char **argv)
{
    long n = 10000;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else if ((n = strtol(argv[i], NULL, 10)) <= 0) {
            fprintf(stderr, "usage: bench-commit [N] [--keep]\n");
            return RS_EXIT_USAGE;
        }
    }
    char dir[] = "/tmp/rs-bench-commit-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return RS_EXIT_OSERR;
    }
    char err[512];
    struct rs_git_opts o = {.workdir = dir, .ref = "HEAD", .create = true};
    struct rs_git *g = NULL;
    int r = rs_git_open(&o, &g, err, sizeof(err));
    if (r != RS_GIT_E_CREATED) {
        fprintf(stderr, "bench-commit: open: %d %s\n", r, err);
        return RS_EXIT_SOFTWARE;
    }
    char *path = rs_path_join(dir, "batch_progress.json");
    const char *paths[] = {"batch_progress.json"};
    struct rs_git_trailer tr[] = {{"Ralphsup-Event", "progress"}, {"Ralphsup-Iteration", NULL}};
    char iterbuf[32], oid[41];
    struct rs_buf b;
    rs_buf_init(&b);
    int64_t *t = rs_xcalloc(BLOCK, sizeof(*t));
    int64_t total_commit = 0, t_start = now_us();
    long in_block = 0, skipped = 0;

    printf("bench-commit: %ld commits into %s (libgit2, loose objects, no gc)\n", n, dir);
    for (long i = 0; i < n; i++) {
        make_progress(&b, i, 2048 + (size_t)((8192.0 * (double)i) / (double)n));
        if ((r = rs_file_write_atomic(path, b.data, b.len, 0644)) < 0) {
            fprintf(stderr, "bench-commit: write: %s\n", strerror(-r));
            return RS_EXIT_IOERR;
        }
        snprintf(iterbuf, sizeof(iterbuf), "%ld", i);
        tr[1].value = iterbuf;
        int64_t t0 = now_us();
        r = rs_git_commit(g, paths, 1, "progress: iteration", NULL, tr, 2, oid, err, sizeof(err));
        int64_t dt = now_us() - t0;
        if (r != 0) {
            fprintf(stderr, "bench-commit: commit %ld: %d %s\n", i, r, err);
            return RS_EXIT_SOFTWARE;
        }
        skipped += rs_git_index_skipped(g, NULL);
        total_commit += dt;
        t[in_block++] = dt;
        if (in_block == BLOCK || i == n - 1) {
            print_block(i + 1 - in_block, i, t, in_block);
            fflush(stdout);
            in_block = 0;
        }
    }
    int64_t wall = now_us() - t_start;
    printf("total: %ld commits, commit time %.2f s (%.2f ms/commit), wall incl. writes %.2f s; "
           "index refresh skipped %ld times; final file %zu bytes\n",
           n, (double)total_commit / 1e6, (double)total_commit / (double)n / 1000.0, (double)wall / 1e6, skipped,
           b.len);
    fflush(stdout);
    char *cmd = rs_xasprintf("printf 'object store: '; find '%s/.git/objects' -type f | wc -l | tr -d '\\n'; "
                             "printf ' files, '; du -sh '%s/.git/objects' | cut -f1",
                             dir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench-commit: could not measure the object store\n");
    free(cmd);
    rs_git_free(g);
    if (!keep) {
        cmd = rs_xasprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench-commit: could not remove %s\n", dir);
        free(cmd);
    } else {
        printf("kept %s\n", dir);
    }
    free(t);
    free(path);
    rs_buf_deinit(&b);
    return 0;
}
