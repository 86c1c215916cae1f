/* SPDX-License-Identifier: MIT */
/*
 * The service side of a run (see the header): sd_notify, the [notify]
 * command and the [metrics] text file, behind the few calls the supervisor
 * makes. [notify] and [metrics] are copied here at start and again on a
 * successful reload, so a SIGHUP can change them.
 *
 * Notifications are driven by the event records themselves: whatever the
 * supervisor logs as batch-finished, batch-stopped, batch-paused,
 * school-failed or stalled-killed is, when selected, also handed to the
 * command — the JSON it gets on stdin is the events.jsonl line, so the two
 * never disagree. budget-crossed is the one event made here, from the cost
 * recorded at each transition (in-flight estimates are not counted: they
 * move up and down until the iteration ends). Each run's outcome is logged
 * (notify-sent, notify-failed) and never changes the batch.
 *
 * The watchdog ping comes from a loop timer: a loop that no longer turns
 * (a blocked commit, a deadlock) stops pinging, and the service manager
 * restarts it. Metrics are written from the loop too, atomically.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/run/service.h"
#include "ralphsup/run/notify.h"
#include "ralphsup/run/sdnotify.h"
#include "ralphsup/store/metrics.h"
#include "ralphsup/base/common.h"
#include "ralphsup/base/util.h"

static const int budget_steps[] = {50, 75, 90};

struct rs_service {
    uv_loop_t *loop;
    const struct rs_config *cfg;
    const struct rs_progress *p;
    struct rs_service_hooks h;
    struct rs_sdnotify *sd;
    struct rs_notifier *nt;
    uv_timer_t watchdog, metrics;
    int open_timers;
    bool stopping_sent, ready;
    /* [notify] and [metrics], as of the start or the last reload */
    char **argv;
    char **events;          /* NULL: all */
    uint64_t timeout_ms;
    char *textfile;
    int metrics_error;      /* last write error said (negative errno), 0 */
    int budget_said;        /* the highest step announced (percent), 0 */
};

static void take_config(struct rs_service *sv, const struct rs_config *cfg)
{
    rs_strv_free(sv->argv);
    rs_strv_free(sv->events);
    free(sv->textfile);
    sv->argv = rs_strv_dup(cfg->notify_command, cfg->nnotify_command);
    /* A relative path is relative to [batch] root (like [agent] command); a bare name goes through PATH. */
    if (sv->argv && sv->argv[0][0] != '/' && strchr(sv->argv[0], '/')) {
        char *abs = rs_path_join(cfg->root, sv->argv[0]);
        free(sv->argv[0]);
        sv->argv[0] = abs;
    }
    sv->events = rs_strv_dup(cfg->notify_events, cfg->nnotify_events);
    sv->timeout_ms = (uint64_t)cfg->notify_timeout_ms;
    sv->textfile = cfg->metrics_textfile ? rs_xstrdup(cfg->metrics_textfile) : NULL;
}

static bool selected(const struct rs_service *sv, const char *event)
{
    if (!sv->argv)
        return false;
    if (sv->events) {
        for (size_t i = 0; sv->events[i]; i++)
            if (strcmp(sv->events[i], event) == 0)
                return true;
        return false;
    }
    for (size_t i = 0; i < rs_notify_nevents; i++)
        if (strcmp(rs_notify_events[i], event) == 0)
            return true;
    return false;
}

static void on_notified(void *ud, const char *event, const char *problem)
{
    struct rs_service *sv = ud;
    struct rs_evrec *r = rs_evrec_new(problem ? "notify-failed" : "notify-sent");
    rs_evrec_str(r, "for", event);
    if (problem)
        rs_evrec_str(r, "message", problem);
    sv->h.emit(sv->h.ud, r);
}

static void write_metrics(struct rs_service *sv)
{
    if (!sv->textfile)
        return;
    struct rs_metrics_in m = {.batch = sv->cfg->name, .p = sv->p, .cost_limit_usd = sv->cfg->limits.max_cost_usd,
                              .workers_running = sv->h.workers(sv->h.ud),
                              .last_transition_ms = sv->p->last_updated_ms};
    int r = rs_metrics_write(sv->textfile, &m);
    if (r < 0 && r != sv->metrics_error) {
        /* Said once per kind of error, not every 15 s. */
        struct rs_evrec *e = rs_evrec_new("metrics-failed");
        rs_evrec_str(e, "path", sv->textfile);
        rs_evrec_str(e, "message", strerror(-r));
        sv->h.emit(sv->h.ud, e);
    }
    sv->metrics_error = r < 0 ? r : 0;
}

static void on_metrics(uv_timer_t *t)
{
    write_metrics(t->data);
}

static void on_watchdog(uv_timer_t *t)
{
    struct rs_service *sv = t->data;
    rs_sdnotify_send(sv->sd, "WATCHDOG=1");
}

static int budget_percent(const struct rs_service *sv)
{
    double lim = sv->cfg->limits.max_cost_usd;
    return lim > 0 ? (int)(sv->p->cost_usd / lim * 100.0 + 1e-9) : 0;
}

static void check_budget(struct rs_service *sv)
{
    int pct = budget_percent(sv);
    for (size_t i = 0; i < RS_ARRAY_SIZE(budget_steps); i++) {
        if (pct < budget_steps[i] || budget_steps[i] <= sv->budget_said)
            continue;
        sv->budget_said = budget_steps[i];
        struct rs_evrec *e = rs_evrec_new("budget-crossed");
        rs_evrec_int(e, "percent", budget_steps[i]);
        rs_evrec_real(e, "cost_usd", sv->p->cost_usd);
        rs_evrec_real(e, "max_cost_usd", sv->cfg->limits.max_cost_usd);
        sv->h.emit(sv->h.ud, e);
    }
}

struct rs_service *rs_service_new(uv_loop_t *loop, const struct rs_config *cfg, const struct rs_progress *p,
                                  const struct rs_service_hooks *h)
{
    struct rs_service *sv = rs_xcalloc(1, sizeof(*sv));
    sv->loop = loop;
    sv->cfg = cfg;
    sv->p = p;
    sv->h = *h;
    sv->sd = rs_sdnotify_new();
    sv->nt = rs_notifier_new(loop, cfg->root, on_notified, sv);
    take_config(sv, cfg);
    uv_timer_init(loop, &sv->watchdog);
    uv_timer_init(loop, &sv->metrics);
    sv->watchdog.data = sv->metrics.data = sv;
    /* What was spent before this run was announced then (or never will be): only new crossings count. */
    int pct = budget_percent(sv);
    for (size_t i = 0; i < RS_ARRAY_SIZE(budget_steps); i++)
        if (pct >= budget_steps[i])
            sv->budget_said = budget_steps[i];
    return sv;
}

void rs_service_ready(struct rs_service *sv)
{
    sv->ready = true;
    rs_sdnotify_send(sv->sd, "READY=1");
    uint64_t wd = rs_sdnotify_active(sv->sd) ? rs_sdnotify_watchdog_ms(sv->sd) : 0;
    if (wd) {
        rs_sdnotify_send(sv->sd, "WATCHDOG=1");
        uv_timer_start(&sv->watchdog, on_watchdog, wd, wd);
    }
    write_metrics(sv);
    if (sv->textfile)
        uv_timer_start(&sv->metrics, on_metrics, RS_METRICS_PERIOD_MS, RS_METRICS_PERIOD_MS);
}

bool rs_service_has_manager(const struct rs_service *sv)
{
    return sv && rs_sdnotify_active(sv->sd);
}

void rs_service_status(struct rs_service *sv, const char *line, bool force)
{
    if (sv && !sv->stopping_sent)
        rs_sdnotify_status(sv->sd, line, uv_now(sv->loop), force);
}

/* "@what\nSTATUS=<first line of @status>" as one datagram. */
static void send_with_status(struct rs_service *sv, const char *what, const char *status)
{
    char *msg = rs_xasprintf("%s\nSTATUS=%.*s", what, (int)strcspn(status, "\r\n"), status);
    rs_sdnotify_send(sv->sd, msg);
    free(msg);
}

void rs_service_reloading(struct rs_service *sv)
{
    rs_sdnotify_reloading(sv->sd);
}

void rs_service_reloaded(struct rs_service *sv, const struct rs_config *fresh, const char *status)
{
    if (fresh) {
        take_config(sv, fresh);
        sv->metrics_error = 0;
        if (!sv->textfile)
            uv_timer_stop(&sv->metrics);
        else if (sv->ready && !uv_is_active((uv_handle_t *)&sv->metrics))
            uv_timer_start(&sv->metrics, on_metrics, RS_METRICS_PERIOD_MS, RS_METRICS_PERIOD_MS);
        write_metrics(sv);
    }
    if (sv->stopping_sent) /* a reload while draining: stopping stays the state */
        return;
    send_with_status(sv, "READY=1", status ? status : "reloaded");
}

void rs_service_stopping(struct rs_service *sv, const char *why)
{
    if (sv->stopping_sent)
        return;
    sv->stopping_sent = true;
    send_with_status(sv, "STOPPING=1", why ? why : "stopping");
}

/* "RALPHSUP_<name>=<value>" */
static void var(char **v, size_t *k, const char *name, const char *value)
{
    if (value)
        v[(*k)++] = rs_xasprintf("RALPHSUP_%s=%s", name, value);
}

/* A one-line summary for a subject line or a chat message. */
static char *summary(const struct rs_service *sv, const char *event, json_t *o)
{
    const char *batch = sv->cfg->name;
    const char *school = json_string_value(json_object_get(o, "school"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    char m1[32], m2[32];
    if (strcmp(event, "batch-finished") == 0)
        return rs_xasprintf("ralphsup %s: batch finished: %lld completed, %lld failed, %s spent", batch,
                            (long long)json_integer_value(json_object_get(o, "completed")),
                            (long long)json_integer_value(json_object_get(o, "failed")),
                            rs_money_format(json_number_value(json_object_get(o, "cost_usd")), m1, sizeof m1));
    if (strcmp(event, "batch-stopped") == 0)
        return rs_xasprintf("ralphsup %s: batch stopped (exit %lld): %s", batch,
                            (long long)json_integer_value(json_object_get(o, "exit_code")), reason ? reason : "");
    const char *until = json_string_value(json_object_get(o, "until"));
    if (strcmp(event, "batch-paused") == 0)
        return rs_xasprintf("ralphsup %s: batch paused by the usage limit until %s", batch, until ? until : "?");
    if (strcmp(event, "school-failed") == 0)
        return rs_xasprintf("ralphsup %s: %s failed: %s", batch, school ? school : "?", reason ? reason : "");
    if (strcmp(event, "stalled-killed") == 0)
        return rs_xasprintf("ralphsup %s: %s stalled, the agent was killed: %s", batch, school ? school : "?",
                            reason ? reason : "");
    if (strcmp(event, "budget-crossed") == 0)
        return rs_xasprintf("ralphsup %s: spend crossed %lld%% of max_cost_usd (%s of %s)", batch,
                            (long long)json_integer_value(json_object_get(o, "percent")),
                            rs_money_format(json_number_value(json_object_get(o, "cost_usd")), m1, sizeof m1),
                            rs_money_format(json_number_value(json_object_get(o, "max_cost_usd")), m2, sizeof m2));
    return rs_xasprintf("ralphsup %s: %s", batch, event);
}

void rs_service_event(struct rs_service *sv, const struct rs_evrec *r)
{
    if (!sv)
        return;
    const char *event = rs_evrec_name(r);
    if (!selected(sv, event))
        return;
    char *json = rs_evrec_dump(r);
    if (!json)
        return;
    json_t *o = json_loads(json, 0, NULL);
    char *msg = summary(sv, event, o);
    /* One line each: a reason may hold newlines. */
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    char pct[16];
    json_t *jp = json_object_get(o, "percent");
    if (jp)
        snprintf(pct, sizeof pct, "%lld", (long long)json_integer_value(jp));
    char *v[12];
    size_t k = 0;
    var(v, &k, "EVENT", event);
    var(v, &k, "BATCH", sv->cfg->name);
    var(v, &k, "CONFIG", sv->cfg->path);
    var(v, &k, "SCHOOL", json_string_value(json_object_get(o, "school")));
    var(v, &k, "REASON", json_string_value(json_object_get(o, "reason")));
    var(v, &k, "UNTIL", json_string_value(json_object_get(o, "until")));
    var(v, &k, "PERCENT", jp ? pct : NULL);
    var(v, &k, "MESSAGE", msg);
    v[k] = NULL;
    rs_notifier_send(sv->nt, sv->argv, sv->timeout_ms, event, json, v);
    for (size_t i = 0; i < k; i++)
        free(v[i]);
    free(msg);
    json_decref(o);
    free(json);
}

void rs_service_transition(struct rs_service *sv)
{
    if (!sv)
        return;
    write_metrics(sv);
    check_budget(sv);
}

bool rs_service_busy(const struct rs_service *sv)
{
    return sv && rs_notifier_pending(sv->nt) > 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct rs_service *sv = h->data;
    if (--sv->open_timers == 0)
        free(sv);
}

struct rs_service *rs_service_free(struct rs_service *sv)
{
    if (!sv)
        return NULL;
    write_metrics(sv);
    sv->nt = rs_notifier_free(sv->nt);
    sv->sd = rs_sdnotify_free(sv->sd);
    rs_strv_free(sv->argv);
    rs_strv_free(sv->events);
    free(sv->textfile);
    sv->argv = sv->events = NULL;
    sv->textfile = NULL;
    /* The timers close on the loop; the last close callback frees @sv. */
    sv->open_timers = 2;
    uv_close((uv_handle_t *)&sv->watchdog, on_timer_closed);
    uv_close((uv_handle_t *)&sv->metrics, on_timer_closed);
    return NULL;
}
