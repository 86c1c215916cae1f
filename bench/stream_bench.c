/* SPDX-License-Identifier: MIT */
/*
 * stream-bench: read a stream-json file through rs_stream in fixed-size
 * chunks (as the runner's pipe delivers it) and print the sum of every
 * result line's total_cost_usd (the same figure as
 * `jq -c 'select(.type=="result")|.total_cost_usd'`), the reader's counters,
 * the elapsed time and the peak RSS. Driven by bench/bench_stream.sh.
 *
 * Usage: stream-bench FILE [CHUNK_BYTES]     (default chunk 65536)
 * Output: "key value" lines on stdout; exit 0, or 1 on an I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ralphsup/core/stream.h"

struct totals {
    double cost;
    unsigned long results;
    unsigned long assistant;
    unsigned long tool_uses;
    unsigned long tool_results;
    unsigned long markers;
    unsigned long invalid_markers;
    unsigned long messages;
    unsigned long other;
};

static void on_event(const struct rs_stream_event *ev, void *userdata)
{
    struct totals *t = userdata;
    switch (ev->kind) {
    case RS_STREAM_RESULT:
        t->results++;
        if (ev->result.has_cost)
            t->cost += ev->result.total_cost_usd;
        break;
    case RS_STREAM_ASSISTANT:
        t->assistant++;
        if (ev->assistant.first_of_message)
            t->messages++;
        for (size_t i = 0; i < ev->assistant.nblocks; i++) {
            const struct rs_stream_block *b = &ev->assistant.blocks[i];
            if (b->kind == RS_STREAM_BLOCK_TOOL_USE)
                t->tool_uses++;
            for (size_t j = 0; j < b->nmarkers; j++) {
                t->markers++;
                if (b->markers[j].kind == RS_MARKER_INVALID)
                    t->invalid_markers++;
            }
        }
        break;
    case RS_STREAM_USER:
        t->tool_results += ev->user.nresults;
        break;
    default:
        t->other++;
        break;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: stream-bench FILE [CHUNK_BYTES]\n");
        return 64;
    }
    size_t chunk = argc == 3 ? (size_t)strtoull(argv[2], NULL, 10) : 65536;
    if (chunk == 0)
        chunk = 65536;
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "stream-bench: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    char *buf = malloc(chunk);
    struct totals t;
    memset(&t, 0, sizeof(t));
    struct rs_stream *s;
    if (!buf || rs_stream_new(NULL, on_event, &t, &s) != 0) {
        fprintf(stderr, "stream-bench: out of memory\n");
        return 1;
    }
    double t0 = now_s();
    for (;;) {
        ssize_t n = read(fd, buf, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "stream-bench: read: %s\n", strerror(errno));
            return 1;
        }
        if (n == 0)
            break;
        rs_stream_feed(s, buf, (size_t)n);
    }
    int trunc = rs_stream_finish(s);
    double dt = now_s() - t0;
    struct rs_stream_stats st;
    rs_stream_get_stats(s, &st);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("total_cost_usd %.17g\n", t.cost);
    printf("results %lu\n", t.results);
    printf("assistant_lines %lu\nmessages %lu\ntool_uses %lu\ntool_results %lu\nmarkers %lu\ninvalid_markers %lu\n",
           t.assistant, t.messages, t.tool_uses, t.tool_results, t.markers, t.invalid_markers);
    printf("lines %llu\nbytes %llu\njson_events %llu\nnon_json %llu\noversize %llu\nlongest_line %zu\ntruncated_tail %zu\n",
           (unsigned long long)st.lines, (unsigned long long)st.bytes, (unsigned long long)st.json_events,
           (unsigned long long)st.non_json, (unsigned long long)st.oversize, st.longest_line, st.truncated_tail);
    printf("seconds %.3f\nmib_per_s %.1f\npeak_rss_kib %ld\ntruncated %d\n", dt,
           dt > 0 ? (double)st.bytes / (1 << 20) / dt : 0.0, ru.ru_maxrss, trunc);
    rs_stream_free(s);
    free(buf);
    close(fd);
    return 0;
}
