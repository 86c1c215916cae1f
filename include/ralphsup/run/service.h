/* SPDX-License-Identifier: MIT */
/*
 * Running as a service (docs/operations.md): what the supervisor tells the
 * world besides its terminal and logs/events.jsonl —
 *   - the service manager, through sd_notify (run/sdnotify.c): READY=1,
 *     STATUS=, RELOADING=1, STOPPING=1 and the WATCHDOG=1 timer;
 *   - the people, through the [notify] command (run/notify.c), run for the
 *     events.jsonl records that [notify] events selects; the threshold
 *     event budget-crossed (50 / 75 / 90 % of max_cost_usd) is made here;
 *   - the monitoring, through the [metrics] textfile (store/metrics.c),
 *     rewritten after every committed transition and every 15 s.
 * The supervisor makes one at start and calls into it at the few points
 * that matter; everything it needs from the supervisor comes through
 * struct rs_service_hooks, so run/supervisor.c stays the state machine.
 */
#pragma once

#include <stdbool.h>
#include <uv.h>

#include "ralphsup/core/config.h"
#include "ralphsup/store/eventlog.h"
#include "ralphsup/store/progress.h"

#define RS_METRICS_PERIOD_MS 15000

struct rs_service; /* opaque */

struct rs_service_hooks {
    void (*emit)(void *ud, struct rs_evrec *r); /* log an event (and pass it back to rs_service_event) */
    int (*workers)(void *ud);                   /* agents running now */
    void *ud;
};

/* @cfg and @p must outlive the service (the supervisor's; reloads change cfg->limits in place). */
struct rs_service *rs_service_new(uv_loop_t *loop, const struct rs_config *cfg, const struct rs_progress *p,
                                  const struct rs_service_hooks *h);

/* Start-up checks passed: READY=1, the watchdog and metrics timers, the first metrics file. */
void rs_service_ready(struct rs_service *sv);
/* True when a service manager listens ($NOTIFY_SOCKET): worth composing the live line for. */
bool rs_service_has_manager(const struct rs_service *sv);
/* The live line as STATUS= (rate-limited to 1/s unless @force). */
void rs_service_status(struct rs_service *sv, const char *line, bool force);
/* SIGHUP: RELOADING=1 + MONOTONIC_USEC= ... */
void rs_service_reloading(struct rs_service *sv);
/* ... then READY=1 with the outcome as STATUS=; @fresh (NULL when the reload failed) brings [notify] and [metrics]. */
void rs_service_reloaded(struct rs_service *sv, const struct rs_config *fresh, const char *status);
/* STOPPING=1 (once) with @why as STATUS=. */
void rs_service_stopping(struct rs_service *sv, const char *why);
/* Every event record, before it is written: run the [notify] command when selected. */
void rs_service_event(struct rs_service *sv, const struct rs_evrec *r);
/* A transition was committed: the metrics file, and the budget thresholds. */
void rs_service_transition(struct rs_service *sv);
/* Notifications still running or queued (run the loop until 0 before rs_service_free). */
bool rs_service_busy(const struct rs_service *sv);
/* The last metrics file, stop the timers (their handles close on the loop). NULL-safe. Return: NULL. */
struct rs_service *rs_service_free(struct rs_service *sv);
