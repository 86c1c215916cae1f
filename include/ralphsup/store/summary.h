/* SPDX-License-Identifier: MIT */
/*
 * The status summary, <log_dir>/summary.json: what `ralphsup status` shows,
 * kept current by every save of the progress file (rs_batch_commit()), so
 * that status reads a few kilobytes instead of parsing the whole progress
 * file (7.6 MiB at 10,000 schools). It holds the counts, the sums status
 * averages (durations of completed schools, cost of finished ones), and
 * everything status lists in full (the schools in flight, the failed ones,
 * the last stop) as a progress document without pending, completed and
 * retry history. It is a hint, never state: it names the progress file it
 * describes by inode, size and mtime, and a reader that finds the progress
 * file changed since (or no summary, or an unreadable one) loads the
 * progress file itself. Written and read only by store/; no libuv, no git.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ralphsup/store/progress.h"

/*
 * rs_summary_write() - write the summary of @p, which was just saved at
 * @progress_path, to @path (crash-safe replace, no fsync: a torn or lost
 * summary only sends the reader to the progress file).
 * Return: 0 or negative errno (nothing else changes).
 */
int rs_summary_write(const char *path, const struct rs_progress *p, const char *progress_path);

/*
 * rs_summary_load() - when the summary at @path describes the progress file
 * at @progress_path as it is now, a struct rs_progress for display only:
 * batch name, status, schools in flight, failed schools (their attempts
 * as many zeroed placeholders), stop, totals exactly as in the file; completed and pending hold
 * the right number of placeholder entries (no names), whose durations and
 * costs add up to the file's (so averages are the file's), and no retry
 * history. Never save it.
 * Return: 0 (*out set), -ESTALE (the progress file changed since, or the
 * summary names another), -ENOENT, -EINVAL (not a summary), other -errno.
 */
int rs_summary_load(const char *path, const char *progress_path, struct rs_progress **out);
