/* SPDX-License-Identifier: MIT */
/*
 * What a shard records in its progress file: the top-level member
 *   "shard": {"index": I, "count": N, "schools_hash": "fnv1a64:…"}
 * (docs/progress.md). It lives among the members store/progress.c keeps
 * unknown (rs_progress.extra), so the progress model itself knows nothing of
 * shards; this module is the one reader and writer of that member.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ralphsup/core/shard.h"

struct rs_progress;

/*
 * rs_progress_shard_get() - the "shard" member of @p.
 * Return: true and *sh, @hash (may be NULL) filled; false when absent or not
 * a valid {index, count} (sh->count = 0 then).
 */
bool rs_progress_shard_get(const struct rs_progress *p, struct rs_shard *sh, char *hash, size_t hashlen);
/* Set (or replace) the "shard" member of @p. */
void rs_progress_shard_set(struct rs_progress *p, const struct rs_shard *sh, const char *hash);
