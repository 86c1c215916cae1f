/* SPDX-License-Identifier: MIT */
/*
 * The operator's requests on a batch's state: `ralphsup retry` (a failed
 * school back to the front of pending, its attempts no longer counted, its
 * history kept) and `ralphsup skip` (a pending school failed with the
 * operator's reason). A request is applied in memory by rs_op_apply(), all
 * or nothing, by whoever holds the batch's lock: the command itself when no
 * supervisor runs, else the running supervisor, which finds it in the
 * request queue next to the progress file ("<progress>.ops/", one JSON
 * file per request, written crash-safely) when `retry`/`skip` sends it
 * SIGUSR1, and at start. A request is claimed by renaming it to
 * "<file>.taken" (so the command can tell "not taken yet" from "taken") and
 * removed once its transition is committed. docs/operations.md.
 *
 * No libuv, no printing: messages come back in struct rs_diags.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ralphsup/base/common.h"
#include "ralphsup/store/progress.h"

enum rs_op_kind {
    RS_OP_RETRY = 1, /* failed -> front of pending, attempts reset, history kept */
    RS_OP_SKIP,      /* pending -> failed with the reason */
};

struct rs_op {
    enum rs_op_kind kind;
    char **names;    /* canonical school names, in the order given */
    char **slugs;    /* the same schools' slugs ("" when unknown) */
    size_t n;
    char *reason;    /* RS_OP_SKIP: the operator's reason; else NULL */
};

struct rs_op *rs_op_new(enum rs_op_kind kind, const char *reason);
struct rs_op *rs_op_free(struct rs_op *op);
/* Append school @name (canonical) with @slug (may be NULL); a name already there is not added twice. */
void rs_op_add(struct rs_op *op, const char *name, const char *slug);
/* "retry" or "skip" (the command); rs_op_event(): "retried" or "skipped" (Ralphsup-Event). */
const char *rs_op_name(enum rs_op_kind kind);
const char *rs_op_event(enum rs_op_kind kind);

/*
 * rs_op_apply() - apply @op to @p in memory, all or nothing: when any
 * school cannot take it (retry: not failed; skip: not pending — in flight,
 * completed, failed, or not in the progress file) nothing changes and
 * @refused gets one message per such school, naming it and its state.
 * Otherwise every school is moved (retry: in the order given, at the front
 * of pending; skip: failed with reason "skipped by the operator: <reason>",
 * finished at @now_ms) and @done gets one message per school.
 * Return: the number of schools changed (0 when refused).
 */
size_t rs_op_apply(struct rs_progress *p, const struct rs_op *op, int64_t now_ms, struct rs_diags *done,
                   struct rs_diags *refused);

/* The commit subject of an applied @op: "ralphsup: retried A, B (operator)" (cut to @n, UTF-8 safe). */
void rs_op_subject(const struct rs_op *op, char *buf, size_t n);

/* ---- the request queue ----------------------------------------------------------- */

/* "<progress>.ops" (caller frees). */
char *rs_ops_dir(const char *progress_path);

/*
 * rs_op_submit() - write @op crash-safely as a new request file in the
 * queue (created if needed). *@path_out (caller frees) is its path.
 * Return: 0 or -errno.
 */
int rs_op_submit(const char *progress_path, const struct rs_op *op, char **path_out);

/*
 * rs_ops_claim() - claim every request in the queue, oldest first: each
 * "<id>.json" is renamed to "<id>.json.taken" (a file another process
 * claimed or withdrew first is skipped). *@paths gets the claimed paths
 * (free each and the array), *@n their number.
 * Return: 0 (also for no queue) or -errno of reading the directory.
 */
int rs_ops_claim(const char *progress_path, char ***paths, size_t *n);

/*
 * rs_op_load() - read a claimed request. Return: 0 and *@out, or
 * RS_E_DATA with the reason in @d (a file that is not a request), or -errno.
 */
int rs_op_load(const char *path, struct rs_op **out, struct rs_diags *d);
