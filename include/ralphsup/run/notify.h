/* SPDX-License-Identifier: MIT */
/*
 * [notify] command: run the user's notification command for an event, off
 * the loop. Each run is uv_spawn()ed in its own session (so its whole
 * process group can be killed), gets the event's JSON on stdin and the
 * variables the caller passes (RALPHSUP_EVENT, RALPHSUP_BATCH, …) on top of
 * ralphsup's environment minus the service manager's (NOTIFY_SOCKET,
 * WATCHDOG_*), has stdout on /dev/null and its stderr's first 512 bytes
 * kept for the failure message. At most RS_NOTIFY_CONCURRENT run at once;
 * up to RS_NOTIFY_QUEUE more wait; beyond that a notification is dropped.
 * A run that outlives the timeout gets SIGKILL on its process group.
 *
 * Every failure (cannot start, exit status ≠ 0, killed by a signal, timed
 * out, dropped) is handed to the caller's callback — which logs it — and is
 * never fatal; a success is reported too (problem NULL).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define RS_NOTIFY_CONCURRENT 4
#define RS_NOTIFY_QUEUE 64

struct rs_notifier; /* opaque */

/* @problem: NULL on success, else e.g. "exit status 3: curl: (7) Failed to connect" / "timed out after 30s". */
typedef void (*rs_notify_done_cb)(void *ud, const char *event, const char *problem);

/* The commands run in @cwd (copied; NULL: ralphsup's own). */
struct rs_notifier *rs_notifier_new(uv_loop_t *loop, const char *cwd, rs_notify_done_cb cb, void *ud);

/*
 * rs_notifier_send() - run @argv (NULL-terminated; argv[0] looked up in
 * PATH when it has no '/') for @event with @json (one line) on stdin and
 * @vars ("NAME=value", NULL-terminated) added to the environment, killed
 * after @timeout_ms. Everything is copied; returns at once.
 */
void rs_notifier_send(struct rs_notifier *n, char *const *argv, uint64_t timeout_ms, const char *event,
                      const char *json, char *const *vars);

/* Notifications running or queued. */
unsigned rs_notifier_pending(const struct rs_notifier *n);

/*
 * rs_notifier_free() - drop the queue, SIGKILL the process groups still
 * running and release everything once their handles closed (run the loop
 * until rs_notifier_pending() is 0 first to let them finish). NULL-safe.
 * Return: NULL.
 */
struct rs_notifier *rs_notifier_free(struct rs_notifier *n);
