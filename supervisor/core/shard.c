/* SPDX-License-Identifier: MIT */
/*
 * Shards: which machine of N runs which school. The rule must survive every
 * edit of the school list that keeps a school's name: the shard is a hash of
 * the name alone (FNV-1a 64 of its lookup key, the key the school list uses
 * for lookups), never of its position. The hash is pinned by a table test
 * (tests/unit/core/test_shard.c) and documented in docs/scale-out.md:
 * changing it would move schools between the shards of a running batch.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/core/shard.h"
#include "ralphsup/core/config.h"
#include "ralphsup/base/common.h"
#include "ralphsup/base/util.h"

#define FNV_OFFSET UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)

/* Feed the lookup key of @s (ASCII lower case, blank runs collapsed, trimmed) into @h. */
static uint64_t fnv_key(uint64_t h, const char *s)
{
    int blank = 0, any = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' || c == '\t') {
            blank = 1;
            continue;
        }
        if (blank && any) {
            h ^= (unsigned char)' ';
            h *= FNV_PRIME;
        }
        blank = 0;
        any = 1;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        h ^= c;
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t rs_shard_hash(const char *name)
{
    return fnv_key(FNV_OFFSET, name ? name : "");
}

int rs_shard_of(const char *name, int count)
{
    if (count <= 1)
        return 0;
    return (int)(rs_shard_hash(name) % (uint64_t)count);
}

bool rs_shard_has(const struct rs_shard *sh, const char *name)
{
    return !sh || sh->count <= 0 || rs_shard_of(name, sh->count) == sh->index;
}

/* A decimal in [0, max]; -1 otherwise. */
static long parse_num(const char *s, size_t n, long max)
{
    if (n == 0 || n > 9)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

int rs_shard_parse(const char *spec, const char *job_index, const char *array_index, struct rs_shard *out,
                   char *err, size_t errlen)
{
    const char *slash = spec ? strchr(spec, '/') : NULL;
    if (!slash) {
        snprintf(err, errlen, "expected I/N or auto/N (e.g. 0/4), got \"%s\"", spec ? spec : "");
        return -EINVAL;
    }
    long n = parse_num(slash + 1, strlen(slash + 1), RS_SHARD_MAX);
    if (n < 1) {
        snprintf(err, errlen, "N in \"%s\" must be a whole number from 1 to %d", spec, RS_SHARD_MAX);
        return -EINVAL;
    }
    const char *is = spec;
    size_t ilen = (size_t)(slash - spec);
    const char *from = NULL;
    if (ilen == 4 && memcmp(spec, "auto", 4) == 0) {
        if (job_index && *job_index) {
            is = job_index;
            from = "JOB_COMPLETION_INDEX";
        } else if (array_index && *array_index) {
            is = array_index;
            from = "SLURM_ARRAY_TASK_ID";
        } else {
            snprintf(err, errlen, "\"%s\": auto takes the index from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID, "
                                  "and neither is set", spec);
            return -EINVAL;
        }
        ilen = strlen(is);
    }
    long i = parse_num(is, ilen, RS_SHARD_MAX);
    if (i < 0 || i >= n) {
        if (from)
            snprintf(err, errlen, "%s=\"%s\" is not a shard index from 0 to %ld (for \"%s\")", from, is, n - 1, spec);
        else
            snprintf(err, errlen, "I in \"%s\" must be a whole number from 0 to N-1", spec);
        return -EINVAL;
    }
    out->index = (int)i;
    out->count = (int)n;
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lookup key as a string (for sorting). */
static char *key_of(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *out = rs_xmalloc(n + 1);
    int blank = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t') {
            blank = 1;
            continue;
        }
        if (blank && o > 0)
            out[o++] = ' ';
        blank = 0;
        out[o++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    out[o] = '\0';
    return out;
}

void rs_shard_list_hash(const char *const *names, size_t n, char *out, size_t outlen)
{
    char **keys = rs_xcalloc(n ? n : 1, sizeof(*keys));
    for (size_t i = 0; i < n; i++)
        keys[i] = key_of(names[i]);
    qsort(keys, n, sizeof(*keys), cmp_keys);
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        for (const char *s = keys[i]; *s; s++) {
            h ^= (unsigned char)*s;
            h *= FNV_PRIME;
        }
        h ^= (unsigned char)'\n';
        h *= FNV_PRIME;
        free(keys[i]);
    }
    free(keys);
    snprintf(out, outlen, "fnv1a64:%016" PRIx64, h);
}

void rs_shard_tag(const struct rs_shard *sh, char *out, size_t outlen)
{
    snprintf(out, outlen, "shard-%d-of-%d", sh->index, sh->count);
}

char *rs_shard_ref(const struct rs_shard *sh)
{
    return rs_xasprintf("refs/heads/ralphsup/shard-%d-of-%d", sh->index, sh->count);
}

char *rs_shard_progress_path(const char *progress, const struct rs_shard *sh)
{
    const char *slash = strrchr(progress, '/');
    const char *base = slash ? slash + 1 : progress;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - progress) : strlen(progress);
    return rs_xasprintf("%.*s.shard-%d-of-%d%s", (int)stem, progress, sh->index, sh->count, progress + stem);
}

bool rs_shard_parse_tag(const char *s, struct rs_shard *out)
{
    for (const char *p = s ? strstr(s, "shard-") : NULL; p; p = strstr(p + 1, "shard-")) {
        const char *q = p + 6;
        size_t il = strspn(q, "0123456789");
        if (il == 0 || strncmp(q + il, "-of-", 4) != 0)
            continue;
        const char *r = q + il + 4;
        size_t nl = strspn(r, "0123456789");
        long i = parse_num(q, il, RS_SHARD_MAX), n = parse_num(r, nl, RS_SHARD_MAX);
        if (i < 0 || n < 1 || i >= n)
            continue;
        out->index = (int)i;
        out->count = (int)n;
        return true;
    }
    return false;
}

void rs_shard_apply(struct rs_config *cfg, const struct rs_shard *sh)
{
    if (!sh || sh->count <= 0)
        return;
    cfg->shard_index = sh->index;
    cfg->shard_count = sh->count;
    /* A shard's commits carry its CSVs: that is how they reach the merge. */
    cfg->git_include_outputs = true;
    char tag[32];
    rs_shard_tag(sh, tag, sizeof tag);
    char *p = rs_shard_progress_path(cfg->progress, sh);
    free(cfg->progress);
    cfg->progress = p;
    char *l = rs_path_join(cfg->log_dir, tag);
    free(cfg->log_dir);
    cfg->log_dir = l;
    free(cfg->git_ref);
    cfg->git_ref = rs_shard_ref(sh);
}
