/* SPDX-License-Identifier: MIT */
/*
 * Shards (docs/scale-out.md): one batch split over N machines, e.g. the
 * pods of a Kubernetes Indexed Job or the tasks of a Slurm job array. A
 * school belongs to shard fnv1a64(key(canonical name)) mod N, where key() is
 * the school list's lookup key (ASCII lower case, blank runs collapsed,
 * trimmed), so editing or reordering the list never moves a school to
 * another shard. The shard's names (progress file, git ref) and the hash of
 * the whole school list that every shard records, so a merge can check the
 * shards agree, are made here too.
 *
 * Pure: no files, no environment (the caller passes JOB_COMPLETION_INDEX /
 * SLURM_ARRAY_TASK_ID in), no clock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RS_SHARD_MAX 4096 /* N of "I/N": 1..RS_SHARD_MAX */

struct rs_shard {
    int index; /* 0..count-1 */
    int count; /* 0: not sharded */
};

/*
 * rs_shard_parse() - "I/N" (0 <= I < N <= RS_SHARD_MAX, decimal) or
 * "auto/N", which takes I from @job_index (JOB_COMPLETION_INDEX), else
 * @array_index (SLURM_ARRAY_TASK_ID); either may be NULL.
 * Return: 0 and *out; -EINVAL with a message in @err otherwise.
 */
int rs_shard_parse(const char *spec, const char *job_index, const char *array_index, struct rs_shard *out,
                   char *err, size_t errlen);

/* FNV-1a 64 of the lookup key of @name (the documented hash). */
uint64_t rs_shard_hash(const char *name);
/* The shard of @name among @count (count >= 1). */
int rs_shard_of(const char *name, int count);
/* Whether @name belongs to @sh (always true when sh->count == 0). */
bool rs_shard_has(const struct rs_shard *sh, const char *name);

/*
 * rs_shard_list_hash() - "fnv1a64:<16 hex>" of the lookup keys of @names
 * sorted bytewise, each followed by "\n": the same for every order of one
 * list, different when a school is added, removed or renamed. @out gets at
 * least 25 bytes.
 */
void rs_shard_list_hash(const char *const *names, size_t n, char *out, size_t outlen);

/* "shard-I-of-N" into @out (at least 32 bytes). */
void rs_shard_tag(const struct rs_shard *sh, char *out, size_t outlen);
/* "refs/heads/ralphsup/shard-I-of-N"; caller frees. */
char *rs_shard_ref(const struct rs_shard *sh);
/*
 * The progress file of a shard: @progress (the batch's) with ".shard-I-of-N" before its
 * extension — batch_progress.json → batch_progress.shard-I-of-N.json; caller frees.
 */
char *rs_shard_progress_path(const char *progress, const struct rs_shard *sh);
/*
 * rs_shard_parse_tag() - the I and N of a name containing "shard-I-of-N"
 * (a ref, a progress file name). Return: true and *out when found.
 */
bool rs_shard_parse_tag(const char *s, struct rs_shard *out);

struct rs_config;
/*
 * rs_shard_apply() - make @cfg the config of shard @sh: cfg->shard_index and
 * shard_count set; [batch] progress renamed by rs_shard_progress_path(),
 * log_dir to <log_dir>/shard-I-of-N, [git] ref to refs/heads/ralphsup/
 * shard-I-of-N (the configured ref is where merge commits); and [git]
 * include_outputs on (a shard's commits carry its CSVs, which merge takes
 * from them). So shards never share a file, a lock or a ref. A count of 0
 * changes nothing.
 */
void rs_shard_apply(struct rs_config *cfg, const struct rs_shard *sh);
