/* SPDX-License-Identifier: MIT */
/*
 * The supervisor loop: up to [limits] jobs worker slots on one libuv loop,
 * each an explicit state (idle → spawning → running → stopping → finishing
 * → idle), and the batch (running / draining / paused / stopped). Every
 * libuv callback becomes an event; slot_event() and batch_event() look the
 * (state, event) up in core/fsm.c — the one place that maps them to an
 * action — and run that action in one switch each. What an action decides
 * (class, retry or fail, backoff, pause, stop and its rs_err; whether
 * another worker may start; whether one must be stopped) comes from the
 * pure functions of core/decide.c; this file carries it out: the runner,
 * the progress file, the commits, the events and the live line.
 *
 * Every transition that changes the batch state goes through
 * rs_batch_commit() exactly once, on the loop thread (one writer). A failed
 * save is a batch event too: the batch drains, nothing is spawned after it,
 * and the run ends with RS_E_IO.
 *
 * Time: deadlines use the loop's monotonic clock, refreshed with
 * uv_update_time() after blocking work (git commits); wall-clock times only
 * go into the progress file and the logs. The longest stall of the loop is
 * measured with a 50 ms lag timer and logged at the end.
 *
 * Children: the runner owns each agent and kills its whole tree; this file
 * makes the process a child subreaper and starts the zombie reaper, so
 * tool processes that the CLI runs in their own sessions are still ours.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include "ralphsup/store/eventlog.h"
#include "ralphsup/store/gitaudit.h"
#include "ralphsup/store/live.h"
#include "ralphsup/store/ops.h"
#include "ralphsup/core/decide.h"
#include "ralphsup/core/fsm.h"
#include "ralphsup/core/iteration.h"
#include "ralphsup/core/policy.h"
#include "ralphsup/run/proctree.h"
#include "ralphsup/core/prompt.h"
#include "ralphsup/report/report.h"
#include "ralphsup/run/runner.h"
#include "ralphsup/run/sdnotify.h"
#include "ralphsup/run/service.h"
#include "ralphsup/run/sandbox.h"
#include "ralphsup/run/settings.h"
#include "ralphsup/core/otel.h"
#include "ralphsup/core/stream.h"
#include "ralphsup/run/supervisor.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

extern char **environ;

#define MAX_JOBS 64
#define LAG_PERIOD_MS 50
/*
 * With jobs > 1 a commit may wait for a git lock held by another process at
 * most 25 + 50 + 100 ms on the loop (then it is deferred, as documented),
 * instead of the default 50 … 800 ms (1.55 s in all).
 */
#define RS_SUP_LOCK_RETRIES 3
#define RS_SUP_LOCK_FIRST_MS 25

struct sup;

/* One worker slot: the iteration it runs, if any. */
struct worker {
    struct sup *s;
    int slot;                  /* 0-based; "worker" in events is slot + 1 */
    enum rs_slot_state state;
    const struct rs_school *school;
    int attempt;
    int64_t iteration;
    int64_t started_ms;
    uint64_t started_mono;
    uint64_t last_output_mono;
    bool got_stdout;           /* a byte on stdout since the spawn (first_output_timeout) */
    struct rs_runner *runner;
    struct rs_stream *stream;
    struct rs_iteration *it;
    struct rs_transcript *tr;
    enum rs_kill_reason killed;
    char *kill_detail;
    const char *budget_limit;
    double school_cost_before; /* previous attempts */
    double budget;             /* --max-budget-usd, < 0 none */
    int spawn_error;           /* negative errno when the runner could not start */
    int64_t exit_status;
    int term_signal;
    char token[160];
    struct rs_workdir wd; /* this iteration's work directory (run/sandbox.h); wd.dir NULL: none */
};

/* How the run stops: the first reason stands. */
enum stop_kind {
    STOP_NONE = 0,
    STOP_CANCEL,     /* "cancelled by SIGINT[; X requeued at the front of pending (no attempt counted)]" */
    STOP_VERDICT,    /* a fatal or limit verdict: "<reason> (X requeued at the front of pending)" */
    STOP_PLAIN,      /* a spawn limit, too many transients, a limit crossed by a completion */
};

struct stop {
    enum stop_kind kind;
    enum rs_err err;
    char *reason;
    const char *limit;
    enum rs_progress_status status;
    int by;                    /* the slot whose iteration set it, or -1 */
    enum rs_kill_reason drain; /* how the other workers are stopped */
    struct rs_buf requeued;    /* the schools in flight requeued by the stop, ", "-separated (at the end) */
    struct requeued {
        char *name;
        int64_t iteration;
    } rq[MAX_JOBS];            /* ... in dispatch order at the end: by iteration */
    size_t nrq;
};

struct sup {
    uv_loop_t loop;
    struct rs_batch *b;
    struct rs_config *cfg;
    const struct rs_run_opts *o;
    uv_signal_t sigint, sigterm, sighup, sigusr1;
    uv_timer_t tick, next, lag;
    struct rs_runner_reaper *reaper;
    struct rs_eventlog *log;
    struct rs_service *svc; /* sd_notify, [notify], [metrics] (run/service.c) */
    struct rs_prompt *prompt;
    char *agent_path;
    char *settings;    /* --settings JSON (guard + hooks/<name>.settings.json), or NULL */
    uint64_t start_mono;
    int fence_abi;          /* > 0: every agent runs inside the Landlock fence (run/sandbox.h) */
    char *user_config_dir;  /* CLAUDE_CONFIG_DIR named by the user (then writable), or NULL */

    struct worker w[MAX_JOBS];
    enum rs_batch_state state;
    struct rs_ratelimit rl;
    struct stop stop;
    int consecutive_transients;
    int cancel_signal; /* SIGINT or SIGTERM once cancelled */
    bool save_failed;
    bool done;         /* the batch reached its end; loop shutting down */
    enum rs_err err;   /* how the run ends (RS_OK until something stops it) */
    uint64_t not_before_mono; /* backoff: no start before */
    uint64_t last_start_mono; /* the stagger */
    bool started_any;
    int64_t pause_until_ms;   /* a usage limit: epoch ms */
    char *waiting;     /* "usage limit reset at 23:00 UTC" / "backoff 12s" */
    uint64_t busy_ms;  /* finished iterations' time, for the achieved concurrency */

    bool live_drawn;
    uint64_t live_written_mono;
    char *live_path;
    struct rs_cost_calib *calib; /* the estimate's self-calibration for this run */
    char *price_unknown_said;    /* the model last said to have no price (terminal: once per run) */
    uint64_t lag_last_hr;        /* the lag timer's last run (uv_hrtime, ns) */
    uint64_t stall_max_ms;       /* the longest the loop was late */
    uint64_t commit_max_ms;      /* the longest rs_batch_commit() (save + git) on the loop */
    int64_t finished_run;        /* schools completed or failed by this run (start --max-schools) */
};

struct stop_arg {
    enum rs_kill_reason why;
    const char *detail;
};

struct dispatch_arg {
    const struct rs_school *sc;
    double budget;
    const char *which;
};

struct feed_arg {
    const char *data;
    size_t len;
    bool is_stderr;
};

static void slot_event(struct worker *w, enum rs_slot_event ev, const void *arg);
static void batch_event(struct sup *s, enum rs_batch_event ev);
static double inflight_cost(struct sup *s, const struct worker *except);

static int active_workers(const struct sup *s)
{
    int n = 0;
    for (int i = 0; i < MAX_JOBS; i++)
        n += s->w[i].state != RS_SLOT_IDLE;
    return n;
}

static int jobs_now(const struct sup *s)
{
    return (int)s->cfg->limits.jobs;
}

/* ---- output ------------------------------------------------------------- */

static void live_clear(struct sup *s)
{
    if (s->live_drawn) {
        fputs("\r\033[K", stderr);
        s->live_drawn = false;
    }
}

/* A transition line: timestamped when not a TTY. */
static void say(struct sup *s, const char *fmt, ...) RS_PRINTF(2, 3);
static void say(struct sup *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = rs_xvasprintf(fmt, ap);
    va_end(ap);
    size_t n;
    char *red = rs_redact(m, strlen(m), &n);
    live_clear(s);
    if (s->o->tty) {
        fprintf(stderr, "%s\n", red);
    } else {
        char ts[40];
        fprintf(stderr, "%s ralphsup: %s\n", rs_time_iso(rs_now_ms(), ts, sizeof ts), red);
    }
    fflush(stderr);
    free(red);
    free(m);
}

/*
 * Write an event to logs/events.jsonl. One that cannot be written is not
 * dropped silently: it is counted in the progress file (events_dropped, shown
 * by `status`) and the first of the run is said on stderr.
 */
static void emit(struct sup *s, struct rs_evrec *r)
{
    uint64_t before = rs_eventlog_dropped(s->log);
    rs_service_event(s->svc, r);
    rs_eventlog_emit(s->log, r);
    uint64_t lost = rs_eventlog_dropped(s->log) - before;
    if (!lost)
        return;
    s->b->prog->events_dropped += (int64_t)lost;
    if (before == 0)
        say(s, "cannot write an event to %s: %s (each event lost is counted in the progress file's events_dropped)",
            rs_eventlog_path(s->log), strerror(-rs_eventlog_error(s->log)));
}

static size_t total_schools(const struct rs_progress *p)
{
    return p->ncompleted + p->nfailed + p->npending + rs_progress_ninflight(p);
}

/* The concurrency achieved so far: worker time over wall time (at least 1). */
static double achieved(struct sup *s)
{
    uint64_t now = uv_now(&s->loop);
    uint64_t busy = s->busy_ms;
    for (int i = 0; i < MAX_JOBS; i++)
        if (s->w[i].state != RS_SLOT_IDLE)
            busy += now - s->w[i].started_mono;
    double wall = (double)(now - s->start_mono);
    double a = wall > 0 ? (double)busy / wall : 1;
    return a > 1 ? a : 1;
}

static void eta_text(struct sup *s, char *buf, size_t n)
{
    const struct rs_progress *p = s->b->prog;
    int64_t sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < p->ncompleted; i++)
        if (p->completed[i].finished_ms > p->completed[i].started_ms) {
            sum += p->completed[i].finished_ms - p->completed[i].started_ms;
            k++;
        }
    if (!k) {
        snprintf(buf, n, "ETA ?");
        return;
    }
    char d[32];
    size_t remaining = p->npending + rs_progress_ninflight(p);
    int64_t eta = sum / (int64_t)k * (int64_t)remaining;
    if (jobs_now(s) > 1)
        eta = (int64_t)((double)eta / achieved(s));
    snprintf(buf, n, "ETA %s", rs_duration_format(eta, d, sizeof d));
}

/* The worker in flight longest, or NULL. */
static struct worker *oldest(struct sup *s)
{
    struct worker *best = NULL;
    for (int i = 0; i < MAX_JOBS; i++) {
        struct worker *w = &s->w[i];
        if (w->state != RS_SLOT_IDLE && w->school && w->it && (!best || w->started_mono < best->started_mono))
            best = w;
    }
    return best;
}

/* Write logs/live.json (atomic) for `ralphsup status`; at most once a second. */
static void write_live(struct sup *s, bool force)
{
    uint64_t now = uv_now(&s->loop);
    if (!force && now - s->live_written_mono < 1000)
        return;
    s->live_written_mono = now;
    struct rs_live l = {.pid = (long)getpid(), .updated_ms = rs_now_ms(), .waiting = s->waiting};
    struct worker *c = oldest(s);
    if (c) {
        l.active = true;
        l.cost_usd = rs_iteration_cost(c->it, &l.cost_estimated);
        l.last_tool = rs_iteration_last_tool(c->it);
        l.last_progress = rs_iteration_last_progress(c->it);
        l.school = c->school->name;
        l.attempt = c->attempt;
        l.iteration = c->iteration;
        l.agent_pid = c->runner ? (long)rs_runner_pid(c->runner) : 0;
    }
    struct rs_live_worker lw[MAX_JOBS];
    size_t n = 0;
    for (int i = 0; i < MAX_JOBS; i++) {
        struct worker *w = &s->w[i];
        if (w->state == RS_SLOT_IDLE || !w->it)
            continue;
        lw[n] = (struct rs_live_worker){.slot = w->slot, .school = w->school->name, .attempt = w->attempt,
                                        .iteration = w->iteration,
                                        .agent_pid = w->runner ? (long)rs_runner_pid(w->runner) : 0,
                                        .running_ms = (int64_t)(now - w->started_mono),
                                        .last_tool = rs_iteration_last_tool(w->it),
                                        .last_progress = rs_iteration_last_progress(w->it)};
        rs_iteration_retry_wait(w->it, &lw[n].waiting);
        lw[n].cost_usd = rs_iteration_cost(w->it, &lw[n].cost_estimated);
        n++;
    }
    l.workers = lw;
    l.nworkers = n;
    l.jobs = jobs_now(s);
    l.target = s->rl.target;
    rs_live_write(s->live_path, &l);
}

static void draw_live(struct sup *s)
{
    write_live(s, false);
    if (!s->o->tty && !rs_service_has_manager(s->svc))
        return;
    const struct rs_progress *p = s->b->prog;
    char line[512], d[32], m1[32], m2[32], eta[64];
    eta_text(s, eta, sizeof eta);
    struct worker *c = oldest(s);
    int n = active_workers(s);
    if (jobs_now(s) > 1 && (c || s->waiting || s->state == RS_BATCH_PAUSED)) {
        /* [37/100] 4 running · 3 failed · ETA 2h10m · $41.20 (projected $112) · jobs 2/4 (rate limited) */
        double inflight = inflight_cost(s, NULL);
        size_t nfin;
        double fin = rs_progress_finished_cost(p, &nfin);
        double projected = p->cost_usd + inflight +
                           (nfin ? fin / (double)nfin : 0) * (double)(p->npending + rs_progress_ninflight(p));
        char tail[96] = "";
        if (s->state == RS_BATCH_PAUSED && s->pause_until_ms > 0) {
            char hm[16];
            snprintf(tail, sizeof tail, " · paused until %s UTC", rs_time_utc(s->pause_until_ms, "%H:%M", hm, sizeof hm));
        } else if (s->rl.target < jobs_now(s)) {
            snprintf(tail, sizeof tail, " · jobs %d/%d (rate limited)", s->rl.target, jobs_now(s));
        }
        rs_utf8_printf(line, sizeof line, "[%zu/%zu] %d running · %zu failed · %s · %s (projected %s)%s",
                       p->ncompleted + p->nfailed, total_schools(p), n, p->nfailed, eta,
                       rs_money_format(p->cost_usd + inflight, m1, sizeof m1),
                       rs_money_format(projected, m2, sizeof m2), tail);
    } else if (c) {
        bool est;
        double cost = rs_iteration_cost(c->it, &est);
        const char *tool = rs_iteration_last_tool(c->it), *retry = NULL;
        char tb[61], rb[96]; /* the tool's input, at most 60 bytes, cut at a character boundary */
        if (rs_iteration_retry_wait(c->it, &retry) > 0) {
            snprintf(rb, sizeof rb, "waiting: %s", retry);
            tool = rb; /* waiting out a rate limit is not stalling (docs/failures.md) */
        }
        rs_utf8_copy(tb, sizeof tb, tool ? tool : "starting", strlen(tool ? tool : "starting"));
        rs_utf8_printf(line, sizeof line, "[%zu/%zu] %s · attempt %d/%lld · %s · %s · %s · %s · %s spent",
                 p->ncompleted + p->nfailed + 1, total_schools(p), c->school->name, c->attempt,
                 (long long)s->cfg->limits.max_attempts_per_school,
                 rs_duration_format((int64_t)(uv_now(&s->loop) - c->started_mono), d, sizeof d),
                 rs_money_format(cost, m1, sizeof m1), tb, eta,
                 rs_money_format(p->cost_usd + cost, m2, sizeof m2));
    } else if (s->waiting) {
        rs_utf8_printf(line, sizeof line, "[%zu/%zu] waiting for %s · %s spent", p->ncompleted + p->nfailed, total_schools(p),
                 s->waiting, rs_money_format(p->cost_usd, m2, sizeof m2));
    } else {
        return;
    }
    rs_service_status(s->svc, line, false);
    if (!s->o->tty)
        return;
    /* Clip to the terminal's width (in characters): a wrapped line breaks the \r redraw. */
    struct winsize ws;
    size_t cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? (size_t)ws.ws_col - 1 : 159;
    size_t bytes = 0, chars = 0;
    while (line[bytes] && chars < cols) {
        bytes++;
        while (((unsigned char)line[bytes] & 0xC0) == 0x80)
            bytes++;
        chars++;
    }
    fprintf(stderr, "\r\033[K%.*s", (int)bytes, line);
    fflush(stderr);
    s->live_drawn = true;
}

/* ---- logging --------------------------------------------------------------- */

static struct rs_evrec *ev_school(struct worker *w, const char *event)
{
    struct rs_evrec *r = rs_evrec_new(event);
    if (w && w->school) {
        rs_evrec_str(r, "school", w->school->name);
        rs_evrec_int(r, "attempt", w->attempt);
        rs_evrec_int(r, "iteration", w->iteration);
        rs_evrec_int(r, "worker", w->slot + 1);
    }
    return r;
}

static const char *c_model(struct worker *w)
{
    return w->it ? rs_iteration_model(w->it) : NULL;
}

static void on_note(void *ud, const char *kind, const char *msg)
{
    struct worker *w = ud;
    struct sup *s = w->s;
    struct rs_evrec *r = ev_school(w, kind);
    rs_evrec_str(r, "message", msg);
    if (strcmp(kind, "price-unknown") == 0)
        rs_evrec_str(r, "model", c_model(w));
    emit(s, r);
    if (strcmp(kind, "marker") == 0 || strcmp(kind, "marker-ignored") == 0 || strcmp(kind, "marker-invalid") == 0 ||
        strcmp(kind, "api-retry") == 0 || strcmp(kind, "api-error") == 0 || strcmp(kind, "usage-limit") == 0 ||
        strcmp(kind, "permission-denied") == 0 || strcmp(kind, "oversize-line") == 0)
        say(s, "%s: %s", w->school ? w->school->name : "-", msg);
    if (strcmp(kind, "price-unknown") == 0) {
        const char *model = c_model(w);
        if (!s->price_unknown_said || !model || strcmp(s->price_unknown_said, model) != 0) {
            say(s, "warning: %s", msg);
            free(s->price_unknown_said);
            s->price_unknown_said = rs_xstrdup(model ? model : "");
        }
    }
}

/*
 * After a result line: its total_cost_usd against the estimate corrects the
 * estimates of the iterations that follow (same model, this run).
 */
static void calibrate(struct worker *w)
{
    struct rs_cost_calibration cc;
    if (!rs_iteration_calibrate(w->it, w->s->calib, &cc))
        return;
    struct rs_evrec *r = ev_school(w, "cost-calibrated");
    rs_evrec_str(r, "model", cc.model);
    rs_evrec_real(r, "estimate_usd", cc.estimate);
    rs_evrec_real(r, "actual_usd", cc.actual);
    rs_evrec_real(r, "ratio", cc.ratio);
    rs_evrec_real(r, "ratio_before", cc.ratio_before);
    rs_evrec_bool(r, "clamped", cc.clamped);
    emit(w->s, r);
}

/* ---- commits ---------------------------------------------------------------- */

/* The progress file could not be written: a state, not a flag — nothing may go on. */
static void save_failed(struct sup *s)
{
    if (s->done || s->save_failed)
        return;
    s->save_failed = true;
    s->err = RS_E_IO;
    say(s, "fatal: cannot save the progress file; stopping");
    struct rs_evrec *e = rs_evrec_new("save-failed");
    rs_evrec_str(e, "progress", s->cfg->progress);
    emit(s, e);
    batch_event(s, RS_BEV_SAVE_FAILED);
}

/* Return: true when the transition was saved. */
static bool commit(struct sup *s, const struct rs_transition *t)
{
    struct rs_diags w;
    rs_diags_init(&w);
    uint64_t t0 = uv_hrtime();
    int r = rs_batch_commit(s->b, t, &w);
    uint64_t took = (uv_hrtime() - t0) / 1000000;
    if (took > s->commit_max_ms)
        s->commit_max_ms = took;
    for (size_t i = 0; i < w.n; i++) {
        say(s, "warning: %s", w.msgs[i]);
        struct rs_evrec *e = rs_evrec_new("warning");
        rs_evrec_str(e, "message", w.msgs[i]);
        emit(s, e);
    }
    rs_diags_deinit(&w);
    /* A commit can take a while (lock retries, bounded): refresh the loop clock. */
    uv_update_time(&s->loop);
    if (r != 0) {
        save_failed(s);
        return false;
    }
    rs_service_transition(s->svc);
    return true;
}

/* ---- batch end ---------------------------------------------------------------- */

static void close_cb_noop(uv_handle_t *h)
{
    (void)h;
}

static void shutdown_loop(struct sup *s)
{
    s->done = true;
    live_clear(s);
    rs_service_stopping(s->svc, s->b->prog->stopped && s->b->prog->stopped->reason ? s->b->prog->stopped->reason
                                                                                   : "finished");
    uv_timer_stop(&s->tick);
    uv_timer_stop(&s->next);
    uv_timer_stop(&s->lag);
    /* The signal watchers stay until uv_run returns (a second Ctrl-C must still reach us). */
    uv_stop(&s->loop);
}

/* The end of a run cancelled by s->cancel_signal. */
static enum rs_err cancel_err(const struct sup *s)
{
    return s->cancel_signal == SIGINT ? RS_E_SIGINT : RS_E_SIGTERM;
}

static const char *signame(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGKILL ? "SIGKILL" : "signal";
}

/*
 * The batch stops: the first reason stands (a later call with @by equal to
 * the slot that set it refines the text: the verdict of the iteration whose
 * kill started the drain). Nothing is committed here: the "stopped" commit
 * comes when the last worker in flight is recorded.
 */
static void set_stop(struct sup *s, enum stop_kind kind, enum rs_err err, const char *reason, const char *limit,
                     enum rs_progress_status status, int by, enum rs_kill_reason drain)
{
    struct stop *st = &s->stop;
    if (st->kind != STOP_NONE && !(by >= 0 && st->by == by))
        return;
    st->kind = kind;
    st->err = err;
    free(st->reason);
    st->reason = rs_xstrdup(reason);
    st->limit = limit;
    st->status = status;
    st->by = by;
    st->drain = drain;
}

static void stop_requeued(struct sup *s, const char *name, int64_t iteration)
{
    struct stop *st = &s->stop;
    if (st->nrq >= MAX_JOBS)
        return;
    st->rq[st->nrq].name = rs_xstrdup(name);
    st->rq[st->nrq].iteration = iteration;
    st->nrq++;
}

/*
 * The schools the stop requeued went to the front as their workers ended;
 * put them there in the order they were dispatched (batch order), and name
 * them in that order.
 */
static void order_requeued(struct sup *s)
{
    struct stop *st = &s->stop;
    for (size_t i = 1; i < st->nrq; i++)
        for (size_t j = i; j > 0 && st->rq[j - 1].iteration > st->rq[j].iteration; j--) {
            struct requeued t = st->rq[j];
            st->rq[j] = st->rq[j - 1];
            st->rq[j - 1] = t;
        }
    struct rs_progress *p = s->b->prog;
    for (size_t i = st->nrq; i > 0; i--)
        if (rs_progress_remove_pending(p, st->rq[i - 1].name))
            rs_progress_push_pending(p, st->rq[i - 1].name, true);
    for (size_t i = 0; i < st->nrq; i++) {
        if (i)
            rs_buf_puts(&st->requeued, ", ");
        rs_buf_puts(&st->requeued, st->rq[i].name);
        free(st->rq[i].name);
        st->rq[i].name = NULL;
    }
    st->nrq = 0;
}

static void stop_batch(struct sup *s, enum rs_err err, const char *reason, const char *limit,
                       enum rs_progress_status status)
{
    struct rs_progress *p = s->b->prog;
    int64_t now = rs_now_ms();
    /* A batch limit: the reason names the way on (terminal, stopped.reason, commit). */
    int code = s->o->exit_code(err);
    char *hint = err == RS_E_LIMIT ? rs_supervisor_limit_hint(s->b, limit) : NULL;
    char *full = hint ? rs_xasprintf("%s; %s", reason, hint) : rs_xstrdup(reason);
    char *subject = rs_xasprintf("ralphsup: stopped batch %s: %s", s->cfg->name, reason);
    reason = full;
    p->status = status;
    rs_progress_set_stopped(p, reason, limit, now);
    char *body = rs_xasprintf("%zu completed, %zu failed, %zu pending. Exit code %d.%s%s%s%s", p->ncompleted,
                              p->nfailed, p->npending, code, limit ? " Limit: " : "", limit ? limit : "",
                              hint ? "\n\n" : "", hint ? hint : "");
    free(hint);
    struct rs_transition t = {.event = "stopped", .cost_usd = p->cost_usd, .subject = subject, .body = body};
    commit(s, &t);
    free(body);
    struct rs_evrec *r = rs_evrec_new("batch-stopped");
    rs_evrec_str(r, "reason", reason);
    rs_evrec_str(r, "limit", limit);
    rs_evrec_int(r, "exit_code", code);
    rs_evrec_int(r, "loop_stall_max_ms", (int64_t)s->stall_max_ms);
    rs_evrec_int(r, "commit_max_ms", (int64_t)s->commit_max_ms);
    emit(s, r);
    say(s, "stopped: %s (exit %d)", reason, code);
    if (!s->err)
        s->err = err;
    free(subject);
    free(full);
    shutdown_loop(s);
}

/* RS_BACT_STOP_BATCH: the last worker is recorded; say why the batch stopped. */
static void end_stopped(struct sup *s)
{
    struct stop *st = &s->stop;
    if (s->save_failed) {
        shutdown_loop(s);
        return;
    }
    order_requeued(s);
    const char *names = st->requeued.len ? rs_buf_cstr(&st->requeued) : NULL;
    char *reason;
    if (st->kind == STOP_CANCEL)
        reason = names ? rs_xasprintf("cancelled by %s; %s requeued at the front of pending (no attempt counted)",
                                      signame(s->cancel_signal), names)
                       : rs_xasprintf("cancelled by %s", signame(s->cancel_signal));
    else if (st->kind == STOP_VERDICT)
        reason = names ? rs_xasprintf("%s (%s requeued at the front of pending)", st->reason, names)
                       : rs_xstrdup(st->reason);
    else
        reason = names ? rs_xasprintf("%s; %s requeued at the front of pending (no attempt counted)", st->reason, names)
                       : rs_xstrdup(st->reason ? st->reason : "stopped");
    char cut[RS_TEXT_MAX + 1];
    rs_utf8_copy(cut, sizeof cut, reason, strlen(reason));
    free(reason);
    stop_batch(s, st->err, cut, st->limit, st->status);
}

static void finish_batch(struct sup *s)
{
    struct rs_progress *p = s->b->prog;
    p->status = RS_STATUS_FINISHED;
    rs_progress_set_stopped(p, NULL, NULL, 0);
    char subject[512], m[32], d[32];
    rs_utf8_printf(subject, sizeof subject, "ralphsup: finished batch %s: %zu completed, %zu failed (%s, %s)", s->cfg->name,
             p->ncompleted, p->nfailed, rs_money_format(p->cost_usd, m, sizeof m),
             rs_duration_format((int64_t)(uv_now(&s->loop) - s->start_mono), d, sizeof d));
    struct rs_transition t = {.event = "finished", .cost_usd = p->cost_usd, .subject = subject};
    commit(s, &t);
    struct rs_evrec *r = rs_evrec_new("batch-finished");
    rs_evrec_int(r, "completed", (int64_t)p->ncompleted);
    rs_evrec_int(r, "failed", (int64_t)p->nfailed);
    rs_evrec_real(r, "cost_usd", p->cost_usd);
    rs_evrec_int(r, "loop_stall_max_ms", (int64_t)s->stall_max_ms);
    rs_evrec_int(r, "commit_max_ms", (int64_t)s->commit_max_ms);
    emit(s, r);
    say(s, "%s", subject + strlen("ralphsup: "));
    rs_service_stopping(s->svc, subject + strlen("ralphsup: "));
    shutdown_loop(s);
}

/* ---- iteration end ------------------------------------------------------------ */

static void iter_release(struct worker *w)
{
    struct sup *s = w->s;
    int slot = w->slot;
    if (w->school)
        s->busy_ms += uv_now(&s->loop) - w->started_mono;
    w->stream = rs_stream_free(w->stream);
    w->it = rs_iteration_free(w->it);
    w->tr = rs_transcript_close(w->tr);
    w->runner = rs_runner_free(w->runner);
    free(w->kill_detail);
    rs_workdir_deinit(&w->wd);
    memset(w, 0, sizeof(*w));
    w->s = s;
    w->slot = slot;
}

static int failed_attempts(const struct rs_school_state *h)
{
    int n = 0;
    /* Attempts before an operator's `ralphsup retry` (store/ops.c) are history, not the count. */
    for (size_t i = h ? h->attempts_reset : 0; h && i < h->nattempts; i++)
        if (h->attempts[i].outcome == RS_OUTCOME_FAILED)
            n++;
    return n;
}

static enum rs_err stopping_err(const struct sup *s)
{
    return s->stop.kind != STOP_NONE ? s->stop.err : s->save_failed ? RS_E_IO : RS_OK;
}

/* A rate-limit or overload signal from any worker: the account-wide target halves. */
static void rate_signal(struct sup *s, const char *why)
{
    int before = s->rl.target;
    if (!rs_ratelimit_signal(&s->rl, (int64_t)uv_now(&s->loop)))
        return;
    struct rs_evrec *e = rs_evrec_new("jobs-target");
    rs_evrec_int(e, "target", s->rl.target);
    rs_evrec_int(e, "before", before);
    rs_evrec_int(e, "jobs", jobs_now(s));
    rs_evrec_str(e, "reason", why);
    emit(s, e);
    say(s, "rate limited (%s): jobs %d/%d", why, s->rl.target, jobs_now(s));
}

/* The pause of a usage limit (jobs > 1: as soon as any worker sees it). */
static void usage_pause(struct sup *s, int64_t until_ms)
{
    if (until_ms <= s->pause_until_ms)
        return;
    s->pause_until_ms = until_ms;
    batch_event(s, RS_BEV_USAGE_LIMIT);
}

/* The published CSV's mtime in ns (-1: absent): "written during this attempt" without the wall clock
 * (an old output/<slug>.csv claimed again must not count; the work directory's is new anyway). */
static int64_t csv_mtime_ns(struct sup *s, const struct rs_school *sc)
{
    char *csv = rs_batch_output_csv(s->b, sc);
    struct stat st;
    int64_t ns = stat(csv, &st) == 0 ? (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec : -1;
    free(csv);
    return ns ? ns : -1;
}

/*
 * Publish the verified CSV @verified (in the work directory) as output_dir/<slug>.csv.
 * Return: the published path (caller frees), or NULL with *@why set (caller frees) when it
 * could not be published: the attempt then did not complete (its CSV stays as evidence).
 */
static char *publish(struct worker *w, const char *verified, char **why)
{
    struct sup *s = w->s;
    char *to = rs_config_output_csv(s->cfg, w->school->slug);
    rs_mkdir_p(s->cfg->output_dir, 0755);
    int r = rs_publish_csv(verified, to);
    if (r < 0) {
        char *shown = rs_config_relpath(s->cfg, to);
        *why = rs_xasprintf("RALPH_DONE csv verified, but it cannot be published as %s: %s", shown, strerror(-r));
        struct rs_evrec *e = ev_school(w, "publish-failed");
        rs_evrec_str(e, "csv", verified);
        rs_evrec_str(e, "to", to);
        rs_evrec_str(e, "error", strerror(-r));
        emit(s, e);
        free(shown);
        free(to);
        return NULL;
    }
    return to;
}

/*
 * After the record: the guard's denials join logs/guard.jsonl, and the work directory goes
 * (kept for an attempt that did not complete with [agent] keep_failed_work); a school that
 * completed or failed for good also loses what earlier attempts (or a crash) left. The CSV
 * of an attempt that did not complete is kept as evidence, log_dir/<NNNN>-<slug>.csv, where
 * `ralphsup replay` of its transcript finds it (core/iteration.c).
 */
static void workdir_done(struct worker *w, enum rs_decision_action action)
{
    struct sup *s = w->s;
    if (!w->wd.dir)
        return;
    char *glog = rs_path_join(s->cfg->log_dir, "guard.jsonl");
    (void)rs_guard_log_merge(w->wd.guard_log, glog);
    free(glog);
    bool done = action == RS_DO_COMPLETE || action == RS_DO_FAIL;
    bool keep = action != RS_DO_COMPLETE && s->cfg->keep_failed_work;
    if (!keep) {
        if (action != RS_DO_COMPLETE)
            (void)rs_workdir_keep_evidence(&w->wd, s->cfg->log_dir);
        (void)rs_workdir_remove(&w->wd);
    }
    if (done && !s->cfg->keep_failed_work)
        (void)rs_workdir_sweep(s->cfg, w->school->slug);
}

/* RS_SACT_DECIDE: the iteration ended; decide (core/decide.c) and record it. */
static void decide_and_record(struct worker *w)
{
    struct sup *s = w->s;
    struct rs_progress *p = s->b->prog;
    const char *name = w->school->name;
    const char *slug = w->school->slug;
    bool spawned = w->spawn_error == 0;
    if (spawned)
        rs_stream_finish(w->stream);
    struct rs_iter_obs obs;
    rs_iteration_finish(w->it, w->spawn_error, spawned, (int)w->exit_status, w->term_signal, w->killed,
                        w->kill_detail, w->budget_limit, &obs);
    struct rs_school_state *h = rs_progress_history(p, name, slug, true);
    int more = (int)p->npending + active_workers(s) - 1;
    struct rs_decide_in in = {.obs = &obs, .failed_attempts = failed_attempts(h),
                              .consecutive_transients = s->consecutive_transients, .limits = &s->cfg->limits,
                              .now_ms = rs_now_ms(), .rand01 = (double)(random() % 1000) / 1000.0,
                              .stopping = stopping_err(s), .more_work = more > 0};
    struct rs_decision dc;
    rs_decide_iteration(&in, &dc);
    /* A verified CSV leaves the work directory for output_dir, published by us, never by the agent;
     * one that cannot be published did not complete the school (decided again as such). */
    char *pub_abs = NULL, *pub_rel = NULL, *pub_why = NULL;
    struct rs_iteration_done pdn;
    if (dc.action == RS_DO_COMPLETE && w->wd.dir && rs_iteration_done(w->it, &pdn) && pdn.csv_abs) {
        pub_abs = publish(w, pdn.csv_abs, &pub_why);
        if (pub_abs) {
            pub_rel = rs_config_relpath(s->cfg, pub_abs);
        } else {
            obs.done_verified = false;
            obs.verify_error = pub_why;
            rs_decide_iteration(&in, &dc);
        }
    }
    const struct rs_verdict *v = &dc.v;
    s->consecutive_transients = dc.consecutive_transients;

    /* The attempt's end is its start plus its length on the monotonic clock: a wall-clock
     * step during the attempt changes no duration (in.now_ms stays the wall time, for resetsAt). */
    uv_update_time(&s->loop);
    int64_t now = w->started_ms + (int64_t)(uv_now(&s->loop) - w->started_mono);
    bool est = false;
    double cost = w->it ? rs_iteration_cost(w->it, &est) : 0;
    if (!h->started_ms)
        h->started_ms = w->started_ms;
    struct rs_attempt *a = rs_school_state_add_attempt(h);
    a->attempt = w->attempt;
    a->iteration = w->iteration;
    a->started_ms = w->started_ms;
    a->finished_ms = now;
    a->cost_usd = cost;
    a->cost_estimated = est;
    a->failure_class = rs_xstrdup(rs_verdict_class(v->kind));
    a->reason = v->kind == RS_VERDICT_COMPLETED ? NULL : rs_xstrdup(v->reason);
    if (!spawned)
        a->exit_status = rs_xstrdup("not started");
    else if (w->term_signal)
        a->exit_status = rs_xasprintf("signal %d (%s)", w->term_signal, signame(w->term_signal));
    else
        a->exit_status = rs_xasprintf("exit %lld", (long long)w->exit_status);
    const char *sess = w->it ? rs_iteration_session(w->it) : NULL;
    a->session_id = sess ? rs_xstrdup(sess) : NULL;
    h->cost_usd += cost;
    p->cost_usd += cost;
    if (est && cost > 0)
        p->cost_estimated = true;
    rs_progress_inflight_remove(p, name);

    char subject[768], m[32], d[32];
    int64_t dur = now - w->started_ms;
    struct rs_transition t = {.school = name, .attempt = w->attempt, .iteration = w->iteration, .cost_usd = cost};
    struct rs_evrec *r = ev_school(w, "iteration-finished");
    rs_evrec_str(r, "verdict", rs_verdict_class(v->kind));
    rs_evrec_str(r, "reason", v->reason);
    rs_evrec_str(r, "exit_status", a->exit_status);
    rs_evrec_real(r, "cost_usd", cost);
    rs_evrec_bool(r, "cost_estimated", est);
    rs_evrec_real(r, "duration_s", (double)dur / 1000.0);
    rs_evrec_str(r, "session_id", sess);
    if (w->tr)
        rs_evrec_str(r, "transcript", rs_transcript_path(w->tr));
    if (w->it) {
        struct rs_iteration_counts k;
        rs_iteration_counts(w->it, &k);
        rs_evrec_int(r, "tool_calls", k.tool_calls);
        rs_evrec_int(r, "api_retries", k.api_retries);
        rs_evrec_int(r, "permission_denials", k.permission_denials);
        rs_evrec_int(r, "bad_lines", k.bad_lines);
        rs_evrec_int(r, "oversize_lines", k.oversize_lines);
    }

    switch (dc.action) {
    case RS_DO_COMPLETE: {
        struct rs_iteration_done dn;
        rs_iteration_done(w->it, &dn);
        if (pub_abs) {
            dn.csv_abs = pub_abs;
            dn.csv_rel = pub_rel;
        }
        a->outcome = RS_OUTCOME_COMPLETED;
        struct rs_school_state *st = rs_progress_complete(p, name, slug);
        st->finished_ms = now;
        s->finished_run++;
        st->coaches = (int)dn.coaches;
        st->overlaps = (int)dn.overlaps;
        free(st->csv);
        st->csv = rs_xstrdup(dn.csv_rel);
        free(st->review);
        st->review = dn.review ? rs_xstrdup(dn.review) : NULL;
        int64_t total = now - st->started_ms;
        rs_utf8_printf(subject, sizeof subject, "ralphsup: completed %s (%lld %s, %lld %s, %s, %s)", name,
                 (long long)dn.coaches, rs_plural((uint64_t)dn.coaches, "coach", "coaches"), (long long)dn.overlaps,
                 rs_plural((uint64_t)dn.overlaps, "overlap", "overlaps"), rs_money_format(st->cost_usd, m, sizeof m),
                 rs_duration_format(total, d, sizeof d));
        t.event = "completed";
        t.extra_path = dn.csv_abs;
        t.subject = subject;
        rs_evrec_int(r, "coaches", dn.coaches);
        rs_evrec_int(r, "overlaps", dn.overlaps);
        rs_evrec_str(r, "csv", dn.csv_rel);
        if (dn.review)
            rs_evrec_str(r, "review", dn.review);
        emit(s, r);
        commit(s, &t);
        say(s, "%s", subject + strlen("ralphsup: "));
        if (dc.stop && dc.limit && in.stopping == RS_OK) {
            /* Completed, and the same iteration crossed a batch limit: record both. */
            char reason[640];
            rs_utf8_printf(reason, sizeof reason, "%s (%s completed first: its RALPH_DONE was verified)",
                     w->kill_detail ? w->kill_detail : dc.limit, name);
            set_stop(s, STOP_PLAIN, dc.err, reason, dc.limit, RS_STATUS_STOPPED, w->slot,
                     w->killed == RS_KILL_RUNTIME ? RS_KILL_RUNTIME : RS_KILL_BATCH_COST);
        }
        break;
    }
    case RS_DO_FAIL:
    case RS_DO_RETRY: {
        a->outcome = RS_OUTCOME_FAILED;
        int n = dc.attempts_failed;
        int64_t max = s->cfg->limits.max_attempts_per_school;
        emit(s, r);
        if (dc.action == RS_DO_FAIL) {
            char *body = rs_xasprintf("Attempt %d of %lld failed: %s\n\n%s", w->attempt, (long long)max, v->reason,
                                      v->permanent ? "Not retried: the failure is permanent." : "No attempts left.");
            struct rs_school_state *st = rs_progress_fail(p, name, slug, v->reason);
            st->finished_ms = now;
            s->finished_run++;
            rs_utf8_printf(subject, sizeof subject, "ralphsup: failed %s after %d attempt%s: %s", name, n, n == 1 ? "" : "s",
                     v->reason);
            t.event = "failed";
            t.subject = subject;
            t.body = body;
            commit(s, &t);
            free(body);
            struct rs_evrec *fe = ev_school(w, "school-failed");
            rs_evrec_int(fe, "attempts", n);
            rs_evrec_str(fe, "reason", v->reason);
            emit(s, fe);
        } else {
            rs_progress_push_pending(p, name, true);
            rs_utf8_printf(subject, sizeof subject, "ralphsup: attempt %d/%lld failed for %s: %s", w->attempt,
                     (long long)max, name, v->reason);
            t.event = "attempt-failed";
            t.subject = subject;
            t.body = "The school is back at the front of pending for another attempt.";
            commit(s, &t);
        }
        say(s, "%s", subject + strlen("ralphsup: "));
        break;
    }
    case RS_DO_REQUEUE:
        rs_progress_push_pending(p, name, true);
        if (v->kind == RS_VERDICT_TRANSIENT) {
            a->outcome = RS_OUTCOME_TRANSIENT;
            rs_evrec_int(r, "consecutive_transients", s->consecutive_transients);
            emit(s, r);
            if (dc.rate_limited)
                rate_signal(s, v->reason);
            if (dc.stop && in.stopping == RS_OK) {
                char *reason = rs_xasprintf("%d consecutive transient errors (max_consecutive_transients %lld); last: %s",
                                            s->consecutive_transients,
                                            (long long)s->cfg->limits.max_consecutive_transients, v->reason);
                set_stop(s, STOP_PLAIN, dc.err, reason, dc.limit, RS_STATUS_STOPPED, w->slot, RS_KILL_DRAIN);
                free(reason);
                break;
            }
            if (dc.stop) { /* draining: requeued with the others */
                stop_requeued(s, name, w->iteration);
                break;
            }
            int64_t delay = dc.backoff_ms;
            free(s->waiting);
            if (dc.pause_until_ms) {
                char hm[16];
                s->waiting = rs_xasprintf("usage limit reset at %s UTC", rs_time_utc(dc.pause_until_ms, "%H:%M", hm, sizeof hm));
            } else {
                s->waiting = rs_xasprintf("retry after transient error (%s)", rs_duration_format(delay, d, sizeof d));
            }
            uint64_t nb = uv_now(&s->loop) + (uint64_t)delay;
            if (nb > s->not_before_mono)
                s->not_before_mono = nb;
            rs_utf8_printf(subject, sizeof subject, "ralphsup: requeued %s after a transient error (retry in %s): %s", name,
                     rs_duration_format(delay, d, sizeof d), v->reason);
            t.event = "requeued";
            t.subject = subject;
            t.body = "Transient errors do not count as attempts.";
            commit(s, &t);
            say(s, "%s", subject + strlen("ralphsup: "));
            if (dc.pause_until_ms && jobs_now(s) > 1)
                usage_pause(s, dc.pause_until_ms);
            break;
        }
        a->outcome = v->kind == RS_VERDICT_CANCELLED ? RS_OUTCOME_CANCELLED : RS_OUTCOME_STOPPED;
        emit(s, r);
        stop_requeued(s, name, w->iteration);
        if (v->kind == RS_VERDICT_CANCELLED && s->cancel_signal)
            set_stop(s, STOP_CANCEL, cancel_err(s), "cancelled", NULL, RS_STATUS_CANCELLED, -1, RS_KILL_CANCEL);
        else if (v->kind != RS_VERDICT_CANCELLED)
            set_stop(s, STOP_VERDICT, dc.err, v->reason, dc.limit ? dc.limit : s->stop.limit, RS_STATUS_STOPPED, w->slot,
                     v->kind == RS_VERDICT_LIMIT ? w->killed : RS_KILL_DRAIN);
        break;
    }
    workdir_done(w, dc.action);
    free(pub_abs);
    free(pub_rel);
    free(pub_why);
    /* Drain before this slot frees: a free slot in a running batch would dispatch. */
    if (dc.stop && s->stop.kind != STOP_NONE)
        batch_event(s, RS_BEV_STOP);
    slot_event(w, RS_SEV_RECORDED, NULL);
}

static char *shell_word(const char *path)
{
    if (path[strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,:@=")] == '\0')
        return rs_xstrdup(path);
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "'");
    for (const char *c = path; *c; c++) {
        if (*c == '\'')
            rs_buf_puts(&b, "'\\''");
        else
            rs_buf_append(&b, c, 1);
    }
    rs_buf_puts(&b, "'");
    return rs_buf_steal(&b);
}

char *rs_supervisor_limit_hint(const struct rs_batch *b, const char *limit)
{
    const struct rs_progress *p = b->prog;
    const struct rs_limits *l = &b->cfg->limits;
    if (!limit || !p)
        return NULL;
    char *cfg = shell_word(b->cfg->path);
    char *hint = NULL;
    size_t pending = p->npending + rs_progress_ninflight(p);
    if (strcmp(limit, "max_iterations") == 0) {
        long long want = (long long)p->iterations + (long long)(pending ? pending : 1);
        hint = rs_xasprintf("to go on: `ralphsup start %s --max-iterations %lld`, or raise [limits] max_iterations "
                            "in %s (it counts the batch's agent runs over all invocations: %lld so far)",
                            cfg, want, cfg, (long long)p->iterations);
    } else if (strcmp(limit, "max_cost_usd") == 0) {
        size_t nfin;
        double finished = rs_progress_finished_cost(p, &nfin);
        /* A suggestion: the spend plus twice the average school for what is left (estimates run high
         * mid-iteration), and at least half the old cap more. */
        double base = l->max_cost_usd > p->cost_usd ? l->max_cost_usd : p->cost_usd;
        double more = nfin && finished > 0 ? 2 * finished / (double)nfin * (double)(pending ? pending : 1) : base;
        if (more < base / 2)
            more = base / 2;
        double want = p->cost_usd + more;
        want = ceil(want * 100.0) / 100.0;
        if (want <= base)
            want = ceil(base * 100.0 + 1.0) / 100.0;
        char m[32];
        hint = rs_xasprintf("to go on: `ralphsup start %s --max-cost-usd %.2f`, or raise [limits] max_cost_usd in %s "
                            "(%s spent so far; 0 = unlimited)",
                            cfg, want, cfg, rs_money_format(p->cost_usd, m, sizeof m));
    } else if (strcmp(limit, "max_runtime") == 0) {
        hint = rs_xasprintf("to go on: `ralphsup start %s` again (max_runtime counts each invocation; "
                            "`--max-runtime 0` for no cap), or raise [limits] max_runtime in %s",
                            cfg, cfg);
    }
    free(cfg);
    return hint;
}

/* ---- running iteration ------------------------------------------------------- */

/* RS_SACT_STOP: TERM → grace → KILL; the first reason stands. */
static void request_stop(struct worker *w, const struct stop_arg *a)
{
    struct sup *s = w->s;
    if (!w->runner)
        return;
    if (w->killed == RS_KILL_NONE && a) {
        w->killed = a->why;
        free(w->kill_detail);
        w->kill_detail = a->detail ? rs_xstrdup(a->detail) : NULL;
        struct rs_evrec *r = ev_school(w, "stop-iteration");
        rs_evrec_str(r, "reason", a->detail);
        emit(s, r);
        if (a->why == RS_KILL_STALL) {
            struct rs_evrec *st = ev_school(w, "stalled-killed");
            rs_evrec_str(st, "reason", a->detail);
            emit(s, st);
        }
        say(s, "%s: stopping the agent: %s", w->school->name, a->detail ? a->detail : "");
    }
    rs_runner_stop(w->runner, (uint64_t)s->cfg->limits.kill_grace_ms);
}

static double inflight_cost(struct sup *s, const struct worker *except)
{
    double c = 0;
    for (int i = 0; i < MAX_JOBS; i++)
        if (&s->w[i] != except && s->w[i].state != RS_SLOT_IDLE && s->w[i].it)
            c += rs_iteration_cost(s->w[i].it, NULL);
    return c;
}

static struct rs_batch_usage usage_now(struct sup *s)
{
    struct rs_batch_usage u = {
        .iterations = s->b->prog->iterations,
        .cost_usd = s->b->prog->cost_usd,
        .runtime_ms = (int64_t)(uv_now(&s->loop) - s->start_mono),
    };
    return u;
}

/* RS_SACT_CHECK: the timeouts (on the tick) and the running limits, over every worker's cost. */
static void check_running(struct worker *w, bool check_time)
{
    struct sup *s = w->s;
    if (w->killed != RS_KILL_NONE || !w->it)
        return;
    uint64_t now = uv_now(&s->loop);
    struct rs_running_in in = {.limits = &s->cfg->limits, .usage = usage_now(s),
                               .iter_cost = rs_iteration_cost(w->it, NULL),
                               .school_cost_before = w->school_cost_before, .check_time = check_time,
                               .elapsed_ms = (int64_t)(now - w->started_mono),
                               .silent_ms = (int64_t)(now - w->last_output_mono),
                               .got_output = w->got_stdout};
    in.retry_wait_ms = rs_iteration_retry_wait(w->it, &in.retry_what);
    in.usage.cost_usd += inflight_cost(s, w);
    char reason[256];
    enum rs_kill_reason k = rs_decide_running(&in, reason, sizeof reason);
    if (k == RS_KILL_NONE)
        return;
    struct stop_arg a = {k, reason};
    bool batch = k == RS_KILL_BATCH_COST || k == RS_KILL_RUNTIME;
    slot_event(w, batch ? RS_SEV_LIMIT : k == RS_KILL_SCHOOL_COST ? RS_SEV_LIMIT : RS_SEV_DEADLINE, &a);
    if (batch && active_workers(s) > 1) {
        /* One budget: every worker stops now, each school requeued without an attempt. */
        set_stop(s, STOP_VERDICT, RS_E_LIMIT, reason, k == RS_KILL_BATCH_COST ? "max_cost_usd" : "max_runtime",
                 RS_STATUS_STOPPED, w->slot, k);
        batch_event(s, RS_BEV_STOP);
    }
}

static void on_stream_event(const struct rs_stream_event *ev, void *ud)
{
    struct worker *w = ud;
    struct sup *s = w->s;
    enum rs_iter_action a = rs_iteration_on_event(w->it, ev);
    if (a == RS_ITER_KILL_REPEAT || a == RS_ITER_KILL_AUTH) {
        struct stop_arg sa = {a == RS_ITER_KILL_REPEAT ? RS_KILL_REPEAT : RS_KILL_AUTH, rs_iteration_kill_detail(w->it)};
        slot_event(w, RS_SEV_DEADLINE, &sa);
    }
    if (ev->kind == RS_STREAM_RESULT)
        calibrate(w);
    if (ev->kind == RS_STREAM_API_RETRY &&
        rs_decide_is_rate_signal(ev->api_retry.has_error_status ? ev->api_retry.error_status : 0, ev->api_retry.error))
        rate_signal(s, ev->api_retry.has_error_status && ev->api_retry.error_status ? "api_retry status" : "api_retry");
    if (ev->kind == RS_STREAM_RATE_LIMIT && jobs_now(s) > 1 && ev->rate_limit.status &&
        strcmp(ev->rate_limit.status, "rejected") == 0 && ev->rate_limit.has_resets_at)
        usage_pause(s, ev->rate_limit.resets_at * 1000);
    if (w->state == RS_SLOT_RUNNING &&
        (ev->kind == RS_STREAM_ASSISTANT || ev->kind == RS_STREAM_RESULT ||
         (ev->kind == RS_STREAM_PARTIAL && ev->subtype &&
          (strcmp(ev->subtype, "message_start") == 0 || strcmp(ev->subtype, "message_delta") == 0))))
        check_running(w, false);
    if (ev->kind == RS_STREAM_ASSISTANT)
        draw_live(s);
}

static void feed(struct worker *w, const struct feed_arg *f)
{
    w->last_output_mono = uv_now(&w->s->loop);
    if (!f->is_stderr)
        w->got_stdout = true;
    if (f->is_stderr) {
        rs_transcript_write_stderr(w->tr, f->data, f->len);
        rs_iteration_stderr(w->it, f->data, f->len);
    } else {
        rs_transcript_write(w->tr, f->data, f->len);
        rs_stream_feed(w->stream, f->data, f->len);
    }
}

static void on_stdout(void *ud, const char *data, size_t len)
{
    struct feed_arg f = {data, len, false};
    slot_event(ud, RS_SEV_OUTPUT, &f);
}

static void on_stderr(void *ud, const char *data, size_t len)
{
    struct feed_arg f = {data, len, true};
    slot_event(ud, RS_SEV_OUTPUT, &f);
}

static void on_runner_finish(void *ud, int64_t exit_status, int term_signal, unsigned flags)
{
    struct worker *w = ud;
    struct sup *s = w->s;
    uv_update_time(&s->loop);
    if (s->done) {
        /* Shutting down: nothing more is recorded. */
        w->runner = rs_runner_free(w->runner);
        return;
    }
    if (flags & RS_RUNNER_F_SURVIVORS) {
        struct rs_evrec *r = ev_school(w, "survivors");
        rs_evrec_str(r, "message", "processes of the iteration were still alive after SIGKILL");
        emit(s, r);
    }
    w->exit_status = exit_status;
    w->term_signal = term_signal;
    slot_event(w, RS_SEV_EXITED, NULL);
}

/* ---- starting an iteration ---------------------------------------------------- */

/* The agent does not inherit our RALPHSUP_* or the service manager's variables. */
static bool agent_inherits(const char *entry)
{
    return strncmp(entry, "RALPHSUP_", 9) != 0 && !rs_sdnotify_env_private(entry);
}

static char **build_env(struct sup *s, const struct worker *w)
{
    const struct rs_school *sc = w->school;
    char **vars = rs_xcalloc(s->cfg->nenv + 16, sizeof(char *));
    size_t k = 0;
    /* The work directory's TMPDIR (and Claude config directory, fenced) win over any other. */
    bool own_tmp = w->wd.dir != NULL, own_conf = own_tmp && s->fence_abi > 0 && !s->user_config_dir;
    for (size_t j = 0; j < s->cfg->nenv; j++)
        if (!(own_tmp && strcmp(s->cfg->env[j].key, "TMPDIR") == 0))
            vars[k++] = rs_xasprintf("%s=%s", s->cfg->env[j].key, s->cfg->env[j].value);
    if (own_tmp) {
        vars[k++] = rs_xasprintf("TMPDIR=%s", w->wd.tmp);
        vars[k++] = rs_xasprintf("RALPHSUP_GUARD_LOG=%s", w->wd.guard_log);
    }
    if (own_conf)
        vars[k++] = rs_xasprintf("CLAUDE_CONFIG_DIR=%s", w->wd.claude);
    vars[k++] = rs_xasprintf("RALPHSUP_CONFIG=%s", s->cfg->path);
    vars[k++] = rs_xasprintf("RALPHSUP_ROOT=%s", s->cfg->root);
    vars[k++] = rs_xasprintf("RALPHSUP_PROGRESS=%s", s->cfg->progress);
    vars[k++] = rs_xasprintf("RALPHSUP_SCHOOL=%s", sc->name);
    vars[k++] = rs_xasprintf("RALPHSUP_ITERATION=%lld", (long long)w->iteration);
    vars[k++] = rs_xasprintf("RALPHSUP_WORKER=%d", w->slot + 1);
    char **env = rs_env_merge(environ, vars, k, agent_inherits, 1);
    rs_strv_free(vars);
    k = rs_strv_len(env);
    rs_otel_apply(env, &k, s->cfg->name, sc->name, w->attempt, w->iteration);
    return env;
}

static char **build_argv(struct sup *s, const char *prompt, double budget)
{
    size_t cap = s->cfg->nargs + 16;
    char **argv = rs_xcalloc(cap, sizeof(char *));
    size_t k = 0;
    argv[k++] = rs_xstrdup(s->agent_path);
    argv[k++] = rs_xstrdup("-p");
    argv[k++] = rs_xstrdup(prompt);
    argv[k++] = rs_xstrdup("--output-format");
    argv[k++] = rs_xstrdup("stream-json");
    argv[k++] = rs_xstrdup("--verbose");
    if (s->cfg->model) {
        argv[k++] = rs_xstrdup("--model");
        argv[k++] = rs_xstrdup(s->cfg->model);
    }
    if (budget >= 0) {
        argv[k++] = rs_xstrdup("--max-budget-usd");
        argv[k++] = rs_xasprintf("%.4f", budget);
    }
    if (s->settings) {
        argv[k++] = rs_xstrdup("--settings");
        argv[k++] = rs_xstrdup(s->settings);
    }
    if (s->cfg->partial_messages) {
        bool given = false;
        for (size_t i = 0; i < s->cfg->nargs; i++)
            given = given || strcmp(s->cfg->args[i], "--include-partial-messages") == 0;
        if (!given)
            argv[k++] = rs_xstrdup("--include-partial-messages");
    }
    for (size_t i = 0; i < s->cfg->nargs; i++)
        argv[k++] = rs_xstrdup(s->cfg->args[i]);
    argv[k] = NULL;
    return argv;
}

static const char *previous_failure(const struct rs_school_state *h)
{
    for (size_t i = h ? h->nattempts : 0; i > 0; i--)
        if (h->attempts[i - 1].outcome == RS_OUTCOME_FAILED)
            return h->attempts[i - 1].reason;
    return "";
}


/* RS_SACT_SPAWN: mark the school in flight (saved), render, start the runner; then SPAWNED / SPAWN_FAILED. */
static void spawn(struct worker *w, const struct rs_school *sc, double budget, const char *budget_limit)
{
    struct sup *s = w->s;
    struct rs_progress *p = s->b->prog;
    w->school = sc;
    struct rs_school_state *h = rs_progress_history(p, sc->name, sc->slug, false);
    w->attempt = failed_attempts(h) + 1;
    w->school_cost_before = h ? h->cost_usd : 0;
    w->budget = budget;
    w->budget_limit = budget_limit;
    w->iteration = p->iterations + 1;
    w->started_ms = rs_now_ms();
    w->started_mono = w->last_output_mono = uv_now(&s->loop);
    w->got_stdout = false;
    snprintf(w->token, sizeof w->token, "%s:%lld:%ld:%08lx", sc->slug, (long long)w->iteration, (long)getpid(),
             (unsigned long)random());

    /* The iteration's own work directory: the agent's CSV, TMPDIR and Claude config live there. */
    rs_workdir_init(&w->wd, s->cfg, w->iteration, sc->slug);
    char *creds = NULL;
    if (s->fence_abi > 0 && !s->user_config_dir && getenv("HOME"))
        creds = rs_xasprintf("%s/.claude/.credentials.json", getenv("HOME"));
    int wr = rs_workdir_create(&w->wd, creds);
    free(creds);
    if (wr < 0)
        say(s, "warning: cannot create the work directory %s: %s", w->wd.dir, strerror(-wr));
    char *csv = rs_xstrdup(w->wd.csv);
    char *csv_rel = rs_batch_relpath(s->b, csv);
    /* The values of the newer placeholders, formatted as docs/config.md says. */
    struct rs_buf doms, als;
    rs_buf_init(&doms);
    rs_buf_init(&als);
    for (size_t i = 0; i < sc->nemail_domains; i++)
        rs_buf_printf(&doms, "%s%s", i ? ", " : "", sc->email_domains[i]);
    const char *alias_v[32];
    size_t nal = rs_aliases_of(s->b->aliases, sc->name, alias_v, RS_ARRAY_SIZE(alias_v));
    for (size_t i = 0; i < nal && i < RS_ARRAY_SIZE(alias_v); i++)
        rs_buf_printf(&als, "%s%s", i ? ", " : "", alias_v[i]);
    char budget_text[32], deadline_text[40];
    if (budget >= 0)
        snprintf(budget_text, sizeof budget_text, "%.2f", budget);
    else
        snprintf(budget_text, sizeof budget_text, "unlimited");
    /* The attempt ends at its iteration_timeout, or earlier when this invocation's max_runtime runs out. */
    int64_t deadline = w->started_ms + s->cfg->limits.iteration_timeout_ms;
    if (s->cfg->limits.max_runtime_ms > 0) {
        int64_t left = s->cfg->limits.max_runtime_ms - (int64_t)(uv_now(&s->loop) - s->start_mono);
        if (w->started_ms + left < deadline)
            deadline = w->started_ms + (left > 0 ? left : 0);
    }
    rs_time_iso(deadline, deadline_text, sizeof deadline_text);
    struct rs_prompt_vars pv = {
        .school_name = sc->name,
        .school_conference = sc->conference,
        .school_state = sc->state,
        .school_slug = sc->slug,
        .output_csv = csv,
        .output_csv_rel = csv_rel,
        .attempt = w->attempt,
        .max_attempts = (int)s->cfg->limits.max_attempts_per_school,
        .previous_failure = previous_failure(h),
        .batch_name = s->cfg->name,
        .school_athletics_url = sc->athletics_url ? sc->athletics_url : "",
        .school_email_domains = rs_buf_cstr(&doms),
        .school_aliases = rs_buf_cstr(&als),
        .cache_dir = s->cfg->cache_dir ? s->cfg->cache_dir : "",
        .budget_usd = budget_text,
        .deadline = deadline_text,
    };
    char *prompt = rs_prompt_render(s->prompt, &pv);
    rs_buf_deinit(&doms);
    rs_buf_deinit(&als);
    rs_mkdir_p(s->cfg->output_dir, 0755);
    free(csv);
    free(csv_rel);

    /* Mark in flight and save before spawning, so a crash leaves the run token behind. */
    rs_progress_remove_pending(p, sc->name);
    rs_progress_inflight_remove(p, sc->name);
    struct rs_current *cur = rs_progress_inflight_add(p, sc->name);
    cur->slug = rs_xstrdup(sc->slug);
    cur->attempt = w->attempt;
    cur->iteration = w->iteration;
    cur->started_ms = w->started_ms;
    cur->supervisor_pid = (int)getpid();
    cur->run_token = rs_xstrdup(w->token);
    p->iterations = w->iteration;
    p->status = RS_STATUS_RUNNING;
    s->last_start_mono = w->started_mono;
    s->started_any = true;

    char stem[128];
    snprintf(stem, sizeof stem, "%04lld-%s", (long long)w->iteration, sc->slug);
    int r = rs_transcript_open(s->cfg->log_dir, stem, &w->tr);
    if (r < 0)
        say(s, "warning: cannot write the transcript %s/%s.jsonl: %s", s->cfg->log_dir, stem, strerror(-r));
    struct rs_stream_opts so = {.max_line_bytes = (size_t)s->cfg->limits.max_line_bytes};
    rs_stream_new(&so, on_stream_event, w, &w->stream);
    struct rs_iteration_opts io = {.cfg = s->cfg, .aliases = s->b->aliases, .school = sc->name,
                                   .school_slug = sc->slug, .note = on_note, .ud = w, .calib = s->calib,
                                   .email_domains = (const char *const *)sc->email_domains,
                                   .nemail_domains = sc->nemail_domains, .attempt_started_ms = w->started_ms,
                                   .csv_before_ns = csv_mtime_ns(s, sc), .work_dir = w->wd.dir};
    rs_iteration_new(&io, &w->it);

    if (rs_progress_save(p, s->cfg->progress, rs_now_ms()) < 0) {
        /* Nothing is spawned after a failed save: the batch drains, this slot goes back to idle. */
        free(prompt);
        rs_progress_inflight_remove(p, sc->name);
        rs_progress_push_pending(p, sc->name, true);
        p->iterations = w->iteration - 1;
        save_failed(s);
        (void)rs_workdir_remove(&w->wd);
        slot_event(w, RS_SEV_SAVE_FAILED, NULL);
        return;
    }

    char **argv = build_argv(s, prompt, budget);
    char **env = build_env(s, w);
    size_t nfp = 0;
    char **fpaths = rs_sandbox_paths(s->cfg, &w->wd, s->user_config_dir, &nfp);
    char **kargs = rs_sandbox_keeper_args(s->fence_abi, fpaths, nfp);
    struct rs_runner_opts ro = {
        .argv = (const char *const *)argv,
        .envp = (const char *const *)env,
        .cwd = s->cfg->root,
        .token = w->token,
        .keeper_exe = s->o->self_exe,
        .keeper_args = (const char *const *)kargs,
        .keeper_grace_ms = (uint64_t)s->cfg->limits.kill_grace_ms,
        .pipe_drain_timeout_ms = (uint64_t)s->cfg->limits.pipe_drain_timeout_ms,
        .on_stdout = on_stdout,
        .on_stderr = on_stderr,
        .on_finish = on_runner_finish,
        .userdata = w,
    };
    r = rs_runner_start(&s->loop, &ro, &w->runner);
    rs_strv_free(argv);
    rs_strv_free(env);
    rs_strv_free(fpaths);
    rs_strv_free(kargs);
    free(prompt);

    struct rs_evrec *ev = ev_school(w, "iteration-started");
    rs_evrec_str(ev, "run_token", w->token);
    if (budget >= 0)
        rs_evrec_real(ev, "max_budget_usd", budget);
    if (r == 0)
        rs_evrec_int(ev, "pid", rs_runner_pid(w->runner));
    else
        rs_evrec_str(ev, "spawn_error", strerror(-r));
    emit(s, ev);

    if (r < 0) {
        w->spawn_error = r;
        slot_event(w, RS_SEV_SPAWN_FAILED, NULL);
        return;
    }
    cur->pid = (int)rs_runner_pid(w->runner);
    slot_event(w, RS_SEV_SPAWNED, NULL);
}

/* RS_SACT_STARTED */
static void commit_started(struct worker *w)
{
    struct sup *s = w->s;
    struct rs_progress *p = s->b->prog;
    const struct rs_school *sc = w->school;
    char subject[512];
    rs_utf8_printf(subject, sizeof subject, "ralphsup: started %s (attempt %d/%lld, iteration %lld)", sc->name, w->attempt,
             (long long)s->cfg->limits.max_attempts_per_school, (long long)w->iteration);
    struct rs_transition t = {.event = "started", .school = sc->name, .attempt = w->attempt,
                              .iteration = w->iteration, .cost_usd = -1, .subject = subject};
    commit(s, &t);
    size_t n = p->ncompleted + p->nfailed + (size_t)active_workers(s);
    say(s, "[%zu/%zu] %s", n, total_schools(p), subject + strlen("ralphsup: "));
    write_live(s, true);
}

static void on_next(uv_timer_t *t)
{
    struct sup *s = t->data;
    free(s->waiting);
    s->waiting = NULL;
    if (s->state == RS_BATCH_PAUSED && s->pause_until_ms && rs_now_ms() + 50 >= s->pause_until_ms) {
        s->pause_until_ms = 0;
        batch_event(s, RS_BEV_RESUME);
        return;
    }
    batch_event(s, RS_BEV_SLOT_FREE);
}

static void arm_next(struct sup *s, uint64_t delay_ms)
{
    uv_timer_start(&s->next, on_next, delay_ms, 0);
}

/* A pending school no longer in the list: dropped (committed). */
static void drop_school(struct sup *s, const char *name)
{
    struct rs_progress *p = s->b->prog;
    rs_progress_remove_pending(p, name);
    rs_progress_drop_history(p, name); /* retry history belongs to pending schools only */
    char subject[512];
    rs_utf8_printf(subject, sizeof subject, "ralphsup: dropped %s from pending (no longer in the school list)", name);
    struct rs_transition t = {.event = "requeued", .school = name, .cost_usd = -1, .subject = subject};
    commit(s, &t);
    say(s, "%s", subject + 10);
}

/* Earlier attempts used up the school's budget: fail it without spawning. */
static void fail_unspawned(struct sup *s, const struct rs_school *sc, const char *why)
{
    struct rs_progress *p = s->b->prog;
    char subject[512];
    rs_progress_remove_pending(p, sc->name);
    struct rs_school_state *st = rs_progress_fail(p, sc->name, sc->slug, why);
    st->finished_ms = rs_now_ms();
    s->finished_run++;
    rs_utf8_printf(subject, sizeof subject, "ralphsup: failed %s: %s", sc->name, why);
    struct rs_transition t = {.event = "failed", .school = sc->name, .cost_usd = -1, .subject = subject};
    commit(s, &t);
    say(s, "%s", subject + strlen("ralphsup: "));
}

static double expected_cost(struct sup *s)
{
    const struct rs_progress *p = s->b->prog;
    double *c = rs_xcalloc(p->ncompleted + 1, sizeof(double));
    for (size_t i = 0; i < p->ncompleted; i++)
        c[i] = p->completed[i].cost_usd;
    double e = rs_decide_expected_cost(c, p->ncompleted, s->cfg->limits.max_cost_per_school_usd);
    free(c);
    return e;
}

/*
 * start --max-schools N, a trial run: once N schools finished in this run
 * (or are in flight towards it) nothing new starts, and when the last one is
 * recorded the batch stops cleanly, exit 0, status "stopped" with the reason
 * (docs/operations.md). Return: whether dispatch must not start a school.
 */
static bool trial_run_full(struct sup *s)
{
    int64_t n = s->o->max_schools;
    if (n <= 0 || s->finished_run + active_workers(s) < n)
        return false;
    if (active_workers(s) == 0) {
        char reason[256];
        snprintf(reason, sizeof reason,
                 "trial run: --max-schools %lld reached (%lld finished in this run); `ralphsup start` again goes on "
                 "with the %zu pending",
                 (long long)n, (long long)s->finished_run, s->b->prog->npending);
        set_stop(s, STOP_PLAIN, RS_OK, reason, "max_schools", RS_STATUS_STOPPED, -1, RS_KILL_DRAIN);
        batch_event(s, RS_BEV_STOP);
    }
    return true;
}

/* RS_BACT_DISPATCH: start workers, in batch order, while the spawn gate says go. */
static void dispatch(struct sup *s)
{
    struct rs_progress *p = s->b->prog;
    while (s->state == RS_BATCH_RUNNING && !s->done) {
        const struct rs_school *sc = NULL;
        while (p->npending > 0 && !sc) {
            sc = rs_batch_school(s->b, p->pending[0]);
            if (!sc) {
                char *name = rs_xstrdup(p->pending[0]);
                drop_school(s, name);
                free(name);
                if (s->state != RS_BATCH_RUNNING)
                    return;
            }
        }
        if (sc && trial_run_full(s))
            return;
        struct rs_school_state *h = sc ? rs_progress_history(p, sc->name, sc->slug, false) : NULL;
        uint64_t now = uv_now(&s->loop);
        struct rs_spawn_in in = {.limits = &s->cfg->limits, .usage = usage_now(s), .have_pending = sc != NULL,
                                 .running = active_workers(s), .target = s->rl.target,
                                 .inflight_cost = inflight_cost(s, NULL), .expected_cost = expected_cost(s),
                                 .school_cost = h ? h->cost_usd : 0, .now_ms = (int64_t)now,
                                 .not_before_ms = (int64_t)s->not_before_mono,
                                 .last_start_ms = s->started_any ? (int64_t)s->last_start_mono : INT64_MIN / 2};
        struct rs_spawn_decision d;
        rs_decide_spawn(&in, &d);
        switch (d.kind) {
        case RS_SPAWN_GO: {
            struct worker *w = NULL;
            for (int i = 0; i < MAX_JOBS && !w; i++)
                if (s->w[i].state == RS_SLOT_IDLE)
                    w = &s->w[i];
            if (!w)
                return;
            free(s->waiting);
            s->waiting = NULL;
            struct dispatch_arg arg = {sc, d.budget, d.budget_limit};
            slot_event(w, RS_SEV_DISPATCH, &arg);
            continue;
        }
        case RS_SPAWN_WAIT:
            arm_next(s, (uint64_t)d.wait_ms);
            return;
        case RS_SPAWN_HOLD:
            return;
        case RS_SPAWN_STOP:
            set_stop(s, STOP_PLAIN, d.err, d.reason, d.limit, RS_STATUS_STOPPED, -1, RS_KILL_DRAIN);
            batch_event(s, RS_BEV_STOP);
            return;
        case RS_SPAWN_DONE:
            batch_event(s, RS_BEV_DONE);
            return;
        case RS_SPAWN_FAIL_SCHOOL:
            fail_unspawned(s, sc, d.reason);
            continue;
        }
    }
}

/* ---- the two state machines ---------------------------------------------------- */

/* The one place where a worker's (state, event) becomes an action (core/fsm.c). */
static void slot_event(struct worker *w, enum rs_slot_event ev, const void *arg)
{
    struct sup *s = w->s;
    enum rs_slot_state from = w->state;
    struct rs_slot_step st = rs_fsm_slot(from, ev);
    w->state = st.next;
    switch (st.action) {
    case RS_SACT_NONE:
        break;
    case RS_SACT_SPAWN: {
        const struct dispatch_arg *a = arg;
        spawn(w, a->sc, a->budget, a->which);
        break;
    }
    case RS_SACT_STARTED:
        commit_started(w);
        break;
    case RS_SACT_FEED:
        feed(w, arg);
        break;
    case RS_SACT_CHECK:
        check_running(w, ev == RS_SEV_TICK);
        break;
    case RS_SACT_STOP:
        request_stop(w, arg);
        break;
    case RS_SACT_KILL:
        if (w->runner)
            rs_runner_kill(w->runner);
        break;
    case RS_SACT_DECIDE:
        decide_and_record(w);
        break;
    case RS_SACT_RELEASE:
        iter_release(w);
        batch_event(s, active_workers(s) == 0 ? RS_BEV_ALL_IDLE : RS_BEV_SLOT_FREE);
        break;
    case RS_SACT_INVALID: {
        struct rs_evrec *e = ev_school(w, "internal-error");
        char m[128];
        snprintf(m, sizeof m, "worker %d: event %d in state %s ignored", w->slot + 1, (int)ev, rs_slot_state_name(from));
        rs_evrec_str(e, "message", m);
        emit(s, e);
        break;
    }
    }
}

/* The one place where the batch's (state, event) becomes an action (core/fsm.c). */
static void batch_event(struct sup *s, enum rs_batch_event ev)
{
    if (s->done)
        return;
    enum rs_batch_state from = s->state;
    struct rs_batch_step st = rs_fsm_batch(from, ev);
    s->state = st.next;
    switch (st.action) {
    case RS_BACT_NONE:
    case RS_BACT_INVALID:
        break;
    case RS_BACT_DISPATCH:
        dispatch(s);
        break;
    case RS_BACT_FINISH:
        finish_batch(s);
        break;
    case RS_BACT_STOP_WORKERS: {
        uv_timer_stop(&s->next);
        struct stop_arg a = {s->save_failed ? RS_KILL_DRAIN : s->stop.drain,
                             s->save_failed ? "the progress file could not be saved" : s->stop.reason};
        if (a.why == RS_KILL_NONE)
            a.why = RS_KILL_DRAIN;
        for (int i = 0; i < MAX_JOBS; i++)
            if (s->w[i].state == RS_SLOT_RUNNING || s->w[i].state == RS_SLOT_STOPPING)
                slot_event(&s->w[i], s->save_failed ? RS_SEV_SAVE_FAILED : RS_SEV_SIGNAL, &a);
        if (active_workers(s) == 0)
            batch_event(s, RS_BEV_ALL_IDLE);
        break;
    }
    case RS_BACT_ARM_PAUSE: {
        int64_t left = s->pause_until_ms - rs_now_ms();
        char hm[16];
        rs_time_utc(s->pause_until_ms, "%H:%M", hm, sizeof hm);
        free(s->waiting);
        s->waiting = rs_xasprintf("usage limit reset at %s UTC", hm);
        struct rs_evrec *e = rs_evrec_new("batch-paused");
        char ts[40];
        rs_evrec_str(e, "until", rs_time_iso(s->pause_until_ms, ts, sizeof ts));
        emit(s, e);
        say(s, "usage limit: nothing new starts until %s UTC", hm);
        arm_next(s, left > 0 ? (uint64_t)left : 0);
        break;
    }
    case RS_BACT_STOP_BATCH:
        end_stopped(s);
        break;
    }
}

static void on_tick(uv_timer_t *t)
{
    struct sup *s = t->data;
    for (int i = 0; i < MAX_JOBS; i++)
        if (s->w[i].state != RS_SLOT_IDLE)
            slot_event(&s->w[i], RS_SEV_TICK, NULL);
    if (rs_ratelimit_tick(&s->rl, s->cfg->limits.ramp_up_after_ms, (int64_t)uv_now(&s->loop))) {
        struct rs_evrec *e = rs_evrec_new("jobs-target");
        rs_evrec_int(e, "target", s->rl.target);
        rs_evrec_int(e, "jobs", jobs_now(s));
        rs_evrec_str(e, "reason", "ramp_up_after without a rate-limit signal");
        emit(s, e);
        batch_event(s, RS_BEV_SLOT_FREE);
    }
    draw_live(s);
}

/* The loop's lateness: a 50 ms timer that fires late was blocked that long. */
static void on_lag(uv_timer_t *t)
{
    struct sup *s = t->data;
    uint64_t now = uv_hrtime();
    if (s->lag_last_hr) {
        uint64_t late_ms = (now - s->lag_last_hr) / 1000000;
        late_ms = late_ms > LAG_PERIOD_MS ? late_ms - LAG_PERIOD_MS : 0;
        if (late_ms > s->stall_max_ms)
            s->stall_max_ms = late_ms;
    }
    s->lag_last_hr = now;
}

/* ---- signals ------------------------------------------------------------------- */

static void reload(struct sup *s)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_config *fresh = NULL;
    rs_service_reloading(s->svc);
    int r = rs_config_load(s->cfg->path, &fresh, &d);
    if (r != 0) {
        char *msg = d.n ? rs_diags_join(&d) : rs_xstrdup(r < 0 ? strerror(-r) : "invalid");
        say(s, "SIGHUP: config reload failed, keeping the current limits:\n%s", msg);
        struct rs_evrec *e = rs_evrec_new("reload-failed");
        rs_evrec_str(e, "message", msg);
        emit(s, e);
        /* Committed too: the audit trail shows that a reload was asked and refused. */
        char subject[768];
        size_t first = strcspn(msg, "\n");
        rs_utf8_printf(subject, sizeof subject, "ralphsup: config reload failed, limits kept: %.*s", (int)first, msg);
        struct worker *c = oldest(s);
        struct rs_transition t = {.event = "reload-failed", .cost_usd = -1, .subject = subject,
                                  .body = msg[first] ? msg : NULL, .school = c ? c->school->name : NULL};
        commit(s, &t);
        free(msg);
        rs_diags_deinit(&d);
        rs_service_reloaded(s->svc, NULL, "config reload failed, limits kept");
        return;
    }
    rs_diags_deinit(&d);
    struct rs_limits nl = fresh->limits;
    rs_run_opts_apply(s->o, &nl);
    char *diff = rs_limits_diff(&s->cfg->limits, &nl);
    s->cfg->limits = nl;
    rs_ratelimit_set_jobs(&s->rl, (int)nl.jobs);
    if (nl.jobs > 1 && s->b->git)
        rs_git_set_backoff(s->b->git, RS_SUP_LOCK_RETRIES, RS_SUP_LOCK_FIRST_MS);
    char subject[768];
    rs_utf8_printf(subject, sizeof subject, "ralphsup: limits reloaded: %s", diff[0] ? diff : "no change");
    struct worker *c = oldest(s);
    struct rs_transition t = {.event = "limits-reloaded", .cost_usd = -1, .subject = subject,
                              .school = c ? c->school->name : NULL};
    struct rs_evrec *e = rs_evrec_new("limits-reloaded");
    rs_evrec_str(e, "diff", diff);
    emit(s, e);
    commit(s, &t);
    say(s, "%s", subject + strlen("ralphsup: "));
    rs_service_reloaded(s->svc, fresh, subject + strlen("ralphsup: "));
    rs_config_free(fresh);
    free(diff);
    /* The iterations in flight go on unless a new limit is already exceeded; a raised jobs starts workers now. */
    for (int i = 0; i < MAX_JOBS; i++)
        if (s->w[i].state != RS_SLOT_IDLE)
            slot_event(&s->w[i], RS_SEV_RELOAD, NULL);
    if (!uv_is_active((uv_handle_t *)&s->next))
        batch_event(s, RS_BEV_SLOT_FREE);
}

/*
 * SIGUSR1 from `ralphsup retry` / `skip` (and once at start): apply every
 * queued operator request (store/ops.h), each one commit; a request that no
 * longer fits the state (the school moved on meanwhile) is refused in the
 * log and the events, nothing changed.
 */
static void apply_ops(struct sup *s, bool dispatch_after)
{
    char **paths = NULL;
    size_t n = 0;
    if (rs_ops_claim(s->cfg->progress, &paths, &n) < 0)
        return;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        struct rs_diags d, done;
        rs_diags_init(&d);
        rs_diags_init(&done);
        struct rs_op *op = NULL;
        if (rs_op_load(paths[i], &op, &d) == 0 && rs_op_apply(s->b->prog, op, rs_now_ms(), &done, &d) > 0) {
            char subject[768];
            rs_op_subject(op, subject, sizeof subject);
            char *body = rs_diags_join(&done);
            struct rs_transition t = {.event = rs_op_event(op->kind), .school = op->n == 1 ? op->names[0] : NULL,
                                      .cost_usd = -1, .subject = subject, .body = body};
            struct rs_evrec *e = rs_evrec_new(rs_op_event(op->kind));
            rs_evrec_strv(e, "schools", (const char *const *)op->names, op->n);
            rs_evrec_str(e, "reason", op->reason);
            emit(s, e);
            commit(s, &t);
            say(s, "%s", subject + strlen("ralphsup: "));
            free(body);
            changed = true;
        } else {
            char *msg = d.n ? rs_diags_join(&d) : rs_xstrdup("unreadable request");
            struct rs_evrec *e = rs_evrec_new("operator-refused");
            rs_evrec_str(e, "message", msg);
            emit(s, e);
            say(s, "operator request refused, nothing changed: %s", msg);
            free(msg);
        }
        rs_op_free(op);
        rs_diags_deinit(&d);
        rs_diags_deinit(&done);
        unlink(paths[i]);
        free(paths[i]);
    }
    free(paths);
    if (dispatch_after && changed && s->state == RS_BATCH_RUNNING && !uv_is_active((uv_handle_t *)&s->next))
        batch_event(s, RS_BEV_SLOT_FREE);
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct sup *s = h->data;
    if (sig == SIGHUP) {
        reload(s);
        return;
    }
    if (sig == SIGUSR1) {
        if (!s->done)
            apply_ops(s, true);
        return;
    }
    if (s->done)
        return;
    if (s->cancel_signal) {
        say(s, "%s again: killing the agent%s now", signame(sig), active_workers(s) > 1 ? "s" : "");
        for (int i = 0; i < MAX_JOBS; i++)
            if (s->w[i].state != RS_SLOT_IDLE)
                slot_event(&s->w[i], RS_SEV_SIGNAL_AGAIN, NULL);
        return;
    }
    s->cancel_signal = sig;
    rs_service_stopping(s->svc, sig == SIGINT ? "cancelled by SIGINT: stopping the agents"
                                              : "cancelled by SIGTERM: stopping the agents");
    struct rs_evrec *e = rs_evrec_new("cancel");
    rs_evrec_str(e, "signal", signame(sig));
    emit(s, e);
    char detail[64];
    snprintf(detail, sizeof detail, "cancelled by %s", signame(sig));
    /* A cancel overrides a drain already under way: its exit code is the signal's. */
    s->stop.kind = STOP_NONE;
    set_stop(s, STOP_CANCEL, cancel_err(s), detail, NULL, RS_STATUS_CANCELLED, -1, RS_KILL_CANCEL);
    if (s->state == RS_BATCH_DRAINING) {
        struct stop_arg a = {RS_KILL_CANCEL, detail};
        for (int i = 0; i < MAX_JOBS; i++)
            if (s->w[i].state == RS_SLOT_RUNNING)
                slot_event(&s->w[i], RS_SEV_SIGNAL, &a);
    }
    batch_event(s, RS_BEV_STOP);
}

/* ---- setup ------------------------------------------------------------------------ */

/*
 * The schools in flight left by a crash or kill -9: kill their leftovers
 * and requeue every one at the front, in the order they were dispatched
 * (batch order), no attempt counted.
 */
static void requeue_interrupted(struct sup *s)
{
    struct rs_progress *p = s->b->prog;
    size_t n = rs_progress_ninflight(p);
    if (!n)
        return;
    struct info {
        char *name;
        int attempt;
        int64_t iteration;
        int killed;
    } *inf = rs_xcalloc(n, sizeof(*inf));
    size_t k = 0;
    for (struct rs_current *c = p->current; c; c = c->next, k++) {
        inf[k].killed = c->run_token && c->run_token[0] ? rs_proctree_kill_token(c->run_token, SIGKILL) : 0;
        inf[k].name = rs_xstrdup(c->name);
        inf[k].attempt = c->attempt;
        inf[k].iteration = c->iteration;
    }
    /* All out of flight and back at the front, pushed from the last so the first dispatched is first again. */
    p->current = rs_current_free(p->current);
    for (size_t i = n; i > 0; i--) {
        rs_progress_remove_pending(p, inf[i - 1].name);
        rs_progress_push_pending(p, inf[i - 1].name, true);
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = inf[i].name;
        int killed = inf[i].killed;
        char subject[512];
        rs_utf8_printf(subject, sizeof subject, "ralphsup: requeued %s (interrupted run; no attempt counted)", name);
        char *body = rs_xasprintf("The previous supervisor stopped while %s was current (attempt %d, iteration %lld). "
                                  "%d leftover process%s of that iteration killed.",
                                  name, inf[i].attempt, (long long)inf[i].iteration, killed > 0 ? killed : 0,
                                  killed == 1 ? "" : "es");
        struct rs_transition t = {.event = "requeued", .school = name, .attempt = inf[i].attempt,
                                  .iteration = inf[i].iteration, .cost_usd = -1, .subject = subject, .body = body};
        if (!s->save_failed)
            commit(s, &t);
        struct rs_evrec *e = rs_evrec_new("requeued-interrupted");
        rs_evrec_str(e, "school", name);
        rs_evrec_int(e, "leftovers_killed", killed > 0 ? killed : 0);
        emit(s, e);
        say(s, "requeued %s: it was current when the previous run stopped (%d leftover process%s killed)", name,
            killed > 0 ? killed : 0, killed == 1 ? "" : "es");
        free(body);
        free(inf[i].name);
    }
    free(inf);
}

static void service_emit(void *ud, struct rs_evrec *r)
{
    emit(ud, r);
}

static int service_workers(void *ud)
{
    return active_workers(ud);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, close_cb_noop);
}

void rs_run_opts_apply(const struct rs_run_opts *o, struct rs_limits *l)
{
    if (o->max_iterations > 0)
        l->max_iterations = o->max_iterations;
    if (o->max_runtime_ms >= 0)
        l->max_runtime_ms = o->max_runtime_ms;
    if (o->max_cost_usd >= 0)
        l->max_cost_usd = o->max_cost_usd;
    if (o->jobs > 0)
        l->jobs = o->jobs;
}

/*
 * The inputs an iteration needs that only exist as files: the prompt
 * template, the --settings JSON (the guard plus hooks/<name>.settings.json)
 * and the agent command. Return: 0, or an enum rs_err with the reasons in @d.
 */
static int load_inputs(const struct rs_config *cfg, const struct rs_run_opts *o, struct rs_prompt **prompt,
                       char **settings, char **agent_path, struct rs_diags *d)
{
    *prompt = NULL;
    *settings = NULL;
    *agent_path = NULL;
    int r = rs_prompt_load(cfg->prompt, prompt, d);
    if (r != 0) {
        if (r < 0)
            rs_diags_add(d, "%s: cannot read the prompt template: %s (create it or correct [batch] prompt in %s)",
                         cfg->prompt, strerror(-r), cfg->path);
        return r < 0 ? RS_E_NOINPUT : RS_E_CONFIG;
    }
    char *guard_cmd = NULL;
    if (cfg->guard && o->self_exe)
        guard_cmd = rs_xasprintf("'%s' hook guard --config '%s'", o->self_exe, cfg->path);
    char *hooks_dir = rs_path_join(cfg->root, "hooks");
    r = rs_settings_build(hooks_dir, guard_cmd, settings, d);
    free(guard_cmd);
    if (r < 0)
        rs_diags_add(d, "%s: cannot read the hook settings: %s", hooks_dir, strerror(-r));
    free(hooks_dir);
    int err = RS_E_CONFIG;
    if (r != 0)
        goto fail;
    if (cfg->sandbox == RS_SANDBOX_LANDLOCK && (rs_sandbox_abi() < 1 || !o->self_exe)) {
        rs_diags_add(d, "[agent] sandbox = \"landlock\" in %s, but %s: refusing to start the agent unfenced "
                        "(set sandbox = \"auto\" to run with the guard alone; docs/security.md)",
                     cfg->path, o->self_exe ? "this kernel offers no Landlock" : "no keeper can apply the fence");
        goto fail;
    }
    r = rs_runner_resolve_command(cfg->command, getenv("PATH"), cfg->root, agent_path);
    if (r == 0)
        return 0;
    rs_diags_add(d, "agent command \"%s\" %s (set [agent] command in %s or fix PATH)", cfg->command,
                 r == -ENOENT ? "not found" : r == -EACCES ? "is not executable" : strerror(-r), cfg->path);
    err = RS_E_UNAVAILABLE;
fail:
    *prompt = rs_prompt_free(*prompt);
    free(*settings);
    *settings = NULL;
    return err;
}

/* [agent] sandbox against the kernel: the ABI to fence with (0: none) and the start line's words. */
static void fence_decide(struct sup *s, char *text, size_t n)
{
    const char *cd = NULL;
    for (size_t j = 0; j < s->cfg->nenv; j++)
        if (strcmp(s->cfg->env[j].key, "CLAUDE_CONFIG_DIR") == 0)
            cd = s->cfg->env[j].value;
    if (!cd)
        cd = getenv("CLAUDE_CONFIG_DIR");
    if (cd && cd[0] == '/') {
        s->user_config_dir = rs_xstrdup(cd);
        rs_mkdir_p(cd, 0700);
    }
    int abi = s->cfg->sandbox == RS_SANDBOX_OFF || !s->o->self_exe ? 0 : rs_sandbox_abi();
    s->fence_abi = abi;
    if (abi > 0 && s->cfg->cache_dir)
        rs_mkdir_p(s->cfg->cache_dir, 0755); /* a rule needs its path: a cache_dir not made yet would stop every agent */
    if (abi > 0)
        snprintf(text, n, "landlock ABI %d", abi);
    else
        snprintf(text, n, "%s", s->cfg->sandbox == RS_SANDBOX_OFF ? "off" : "none (no Landlock)");
}

int rs_supervisor_check(const struct rs_batch *b, const struct rs_run_opts *o, struct rs_diags *d)
{
    struct rs_prompt *prompt;
    char *settings, *agent_path;
    int err = load_inputs(b->cfg, o, &prompt, &settings, &agent_path, d);
    rs_prompt_free(prompt);
    free(settings);
    free(agent_path);
    return err;
}

enum rs_err rs_supervisor_run(struct rs_batch *b, const struct rs_run_opts *o)
{
    struct sup *s = rs_xcalloc(1, sizeof(*s));
    s->b = b;
    s->cfg = b->cfg;
    s->o = o;
    enum rs_err ex = RS_OK;
    /*
     * Before the first spawn: descriptors this process inherited (an
     * operator's shell, a CI runner, a test harness) must not leak into the
     * agents' trees (libuv, process.rst); uv_spawn still gives each child the
     * stdio it names.
     */
    uv_disable_stdio_inheritance();
    srandom((unsigned)(rs_now_ms() ^ getpid()));

    rs_run_opts_apply(o, &s->cfg->limits);
    for (int i = 0; i < MAX_JOBS; i++) {
        s->w[i].s = s;
        s->w[i].slot = i;
    }
    s->stop.by = -1;
    rs_buf_init(&s->stop.requeued);
    /*
     * N workers commit on the one loop thread: a git lock held by someone
     * else may not stall them all for long (jobs = 1 keeps the default).
     */
    if (s->cfg->limits.jobs > 1 && b->git)
        rs_git_set_backoff(b->git, RS_SUP_LOCK_RETRIES, RS_SUP_LOCK_FIRST_MS);

    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_inputs(s->cfg, o, &s->prompt, &s->settings, &s->agent_path, &d);
    for (size_t i = 0; r != 0 && i < d.n; i++)
        fprintf(stderr, "ralphsup: %s\n", d.msgs[i]);
    rs_diags_deinit(&d);
    if (r == 0 && (r = rs_eventlog_open(s->cfg->log_dir, &s->log)) < 0) {
        fprintf(stderr, "ralphsup: cannot write the event log in %s: %s\n", s->cfg->log_dir, strerror(-r));
        r = RS_E_CANTCREAT;
    }
    if (r != 0) {
        rs_prompt_free(s->prompt);
        free(s->agent_path);
        free(s->settings);
        rs_buf_deinit(&s->stop.requeued);
        free(s);
        return r;
    }
    s->live_path = rs_path_join(s->cfg->log_dir, "live.json");

    uv_loop_init(&s->loop);
    rs_proctree_become_subreaper();
    rs_runner_reaper_start(&s->loop, &s->reaper);
    uv_signal_t *const watchers[] = {&s->sigint, &s->sigterm, &s->sighup, &s->sigusr1};
    static const int signums[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
    for (size_t i = 0; i < RS_ARRAY_SIZE(watchers); i++) {
        uv_signal_init(&s->loop, watchers[i]);
        watchers[i]->data = s;
        uv_signal_start(watchers[i], on_signal, signums[i]);
    }
    uv_timer_init(&s->loop, &s->tick);
    uv_timer_init(&s->loop, &s->next);
    uv_timer_init(&s->loop, &s->lag);
    s->tick.data = s->next.data = s->lag.data = s;
    s->start_mono = uv_now(&s->loop);
    struct rs_service_hooks hooks = {.emit = service_emit, .workers = service_workers, .ud = s};
    s->svc = rs_service_new(&s->loop, s->cfg, b->prog, &hooks);
    rs_ratelimit_init(&s->rl, (int)s->cfg->limits.jobs, (int64_t)s->start_mono);

    char fence_text[64];
    fence_decide(s, fence_text, sizeof fence_text);
    struct rs_evrec *e = rs_evrec_new("supervisor-started");
    rs_evrec_int(e, "pid", getpid());
    rs_evrec_str(e, "sandbox", fence_text);
    rs_evrec_str(e, "config", s->cfg->path);
    rs_evrec_str(e, "agent", s->agent_path);
    rs_evrec_int(e, "pending", (int64_t)b->prog->npending);
    rs_evrec_int(e, "jobs", s->cfg->limits.jobs);
    emit(s, e);
    say(s, "batch %s: %zu pending, %zu completed, %zu failed; agent %s%s", s->cfg->name, b->prog->npending,
        b->prog->ncompleted, b->prog->nfailed, s->agent_path, s->cfg->limits.jobs > 1 ? "; parallel workers" : "");
    if (s->cfg->limits.jobs > 1)
        say(s, "jobs %lld (spawn_interval %lld ms, ramp_up_after %lld ms)", (long long)s->cfg->limits.jobs,
            (long long)s->cfg->limits.spawn_interval_ms, (long long)s->cfg->limits.ramp_up_after_ms);
    if (s->fence_abi > 0)
        say(s, "fence: %s (the agent writes only its work directory%s)", fence_text,
            s->cfg->cache_dir || s->cfg->nwritable ? ", cache_dir and [agent] writable" : "");
    else if (s->cfg->sandbox == RS_SANDBOX_OFF)
        say(s, "warning: [agent] sandbox = \"off\": the agent runs unfenced, with the guard alone (docs/security.md)");
    else
        say(s, "warning: no Landlock in this kernel: the agent runs unfenced, with the guard alone (docs/security.md)");
    s->calib = rs_cost_calib_new();
    const char *model = rs_config_agent_model(s->cfg);
    if (model && !rs_config_price_known(s->cfg, model)) {
        struct rs_evrec *pe = rs_evrec_new("price-unknown");
        char *m = rs_xasprintf("no price for %s; estimates use '*'", model);
        rs_evrec_str(pe, "model", model);
        rs_evrec_str(pe, "message", m);
        emit(s, pe);
        say(s, "warning: %s (add [prices.\"%s\"] to %s)", m, model, s->cfg->path);
        s->price_unknown_said = rs_xstrdup(model);
        free(m);
    }

    requeue_interrupted(s);
    if (!s->err)
        apply_ops(s, false); /* requests queued while no loop listened; the first dispatch follows */
    if (!s->err) {
        uv_timer_start(&s->tick, on_tick, 1000, 1000);
        uv_timer_start(&s->lag, on_lag, LAG_PERIOD_MS, LAG_PERIOD_MS);
        arm_next(s, 0);
        rs_service_ready(s->svc);
        uv_run(&s->loop, UV_RUN_DEFAULT);
    }
    ex = s->err;

    /*
     * No agent runs here in a normal end (the batch stops only once every
     * worker is recorded); should one still run, kill its tree and let the
     * runner finish on the loop (its handles close through their own
     * callbacks, never through walk_close).
     */
    s->done = true;
    for (int i = 0; i < MAX_JOBS; i++) {
        if (!s->w[i].runner)
            continue;
        rs_runner_kill(s->w[i].runner);
        while (s->w[i].runner && !rs_runner_finished(s->w[i].runner))
            uv_run(&s->loop, UV_RUN_ONCE);
    }
    for (int i = 0; i < MAX_JOBS; i++)
        iter_release(&s->w[i]);
    /* The notifications of the end (batch-finished, batch-stopped) are delivered; each has its timeout. */
    rs_service_stopping(s->svc, "stopping");
    while (rs_service_busy(s->svc))
        uv_run(&s->loop, UV_RUN_ONCE);
    s->svc = rs_service_free(s->svc);
    /* Close everything, let the close callbacks run, and the loop must close. */
    s->reaper = rs_runner_reaper_close(s->reaper);
    /* libuv puts SIG_DFL back on stop: a late `retry` must not kill the report's writer (main.c). */
    uv_signal_stop(&s->sigusr1);
    signal(SIGUSR1, SIG_IGN);
    uv_walk(&s->loop, walk_close, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s->loop) != 0)
        fprintf(stderr, "ralphsup: internal: handles left open at exit\n");
    live_clear(s);
    unlink(s->live_path);

    /* The master report when the batch finished. */
    struct rs_progress *p = b->prog;
    if (ex == 0 && p->status == RS_STATUS_FINISHED && s->cfg->report_on_finish && !o->no_report) {
        char date[16];
        rs_time_utc(rs_now_ms(), "%Y-%m-%d", date, sizeof date);
        struct rs_report_summary sum;
        memset(&sum, 0, sizeof sum);
        struct rs_diags probs;
        rs_diags_init(&probs);
        int rr = rs_report_generate(s->cfg, p, date, NULL, &sum, &probs);
        if (rr >= 0)
            fprintf(stderr, "ralphsup: report: %s and %s (%zu %s, %zu warm)%s\n", sum.xlsx_path, sum.csv_path,
                    sum.rows, rs_plural(sum.rows, "lead", "leads"), sum.warm, rr == RS_REPORT_PARTIAL ? " — partial, see its Problems sheet" : "");
        else
            fprintf(stderr, "ralphsup: report failed: %s\n", strerror(-rr));
        rs_report_summary_deinit(&sum);
        rs_diags_deinit(&probs);
    }

    rs_eventlog_free(s->log);
    rs_prompt_free(s->prompt);
    free(s->agent_path);
    free(s->settings);
    free(s->user_config_dir);
    free(s->waiting);
    free(s->live_path);
    free(s->price_unknown_said);
    free(s->stop.reason);
    for (size_t i = 0; i < s->stop.nrq; i++)
        free(s->stop.rq[i].name);
    rs_buf_deinit(&s->stop.requeued);
    rs_cost_calib_free(s->calib);
    free(s);
    return ex;
}
