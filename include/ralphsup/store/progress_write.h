/* SPDX-License-Identifier: MIT */
/*
 * The progress file's streaming writer (store/progress_write.c): the text
 * of batch_progress.json made straight from struct rs_progress, without a
 * DOM of the whole file. Same bytes as the jansson pretty form the schema
 * (docs/progress.md) was first written in; strings cleaned to UTF-8 and
 * API-key-like words redacted on the way.
 */
#pragma once

#include "ralphsup/base/buf.h"
#include "ralphsup/store/progress.h"

/* Append the whole file's text (ending in a newline) to @b. */
void rs_progress_write(const struct rs_progress *p, struct rs_buf *b);
/*
 * Append the text of segment file @k (1-based): {"schema_version", "batch_name",
 * "segment": k, "completed": [the full entries whose segment is k, in order]}.
 */
void rs_progress_write_segment(const struct rs_progress *p, size_t k, struct rs_buf *b);
