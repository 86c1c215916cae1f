/* SPDX-License-Identifier: MIT */
/*
 * The supervisor loop. States: IDLE (between iterations, a zero or backoff
 * timer pending) → RUNNING (an agent is alive) → FINISHING (the runner
 * reported the end; the verdict is recorded) → IDLE again, or STOPPED when
 * the batch ends. Every transition that changes the batch state goes
 * through rs_batch_commit() exactly once.
 *
 * Time: deadlines use the loop's monotonic clock, refreshed with
 * uv_update_time() after blocking work (git commits); wall-clock times only
 * go into the progress file and the logs.
 *
 * Children: the runner owns the agent and kills its whole tree; this file
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
#include "ralphsup/store/live.h"
#include "ralphsup/core/iteration.h"
#include "ralphsup/core/policy.h"
#include "ralphsup/run/proctree.h"
#include "ralphsup/core/prompt.h"
#include "ralphsup/report/report.h"
#include "ralphsup/run/runner.h"
#include "ralphsup/run/settings.h"
#include "ralphsup/core/stream.h"
#include "ralphsup/run/supervisor.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

extern char **environ;

struct iter {
    bool active;
    const struct rs_school *school;
    int attempt;
    int64_t iteration;
    int64_t started_ms;
    uint64_t started_mono;
    uint64_t last_output_mono;
    struct rs_runner *runner;
    struct rs_stream *stream;
    struct rs_iteration *it;
    struct rs_transcript *tr;
    enum rs_kill_reason killed;
    char *kill_detail;
    const char *budget_limit;
    double school_cost_before; /* previous attempts */
    char token[160];
};

struct sup {
    uv_loop_t loop;
    struct rs_batch *b;
    struct rs_config *cfg;
    const struct rs_run_opts *o;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t tick, next;
    struct rs_runner_reaper *reaper;
    struct rs_eventlog *log;
    struct rs_prompt *prompt;
    char *agent_path;
    char *settings;    /* --settings JSON (guard + hooks/<name>.settings.json), or NULL */
    uint64_t start_mono;
    struct iter cur;
    int consecutive_transients;
    bool stopping;     /* a cancel was requested */
    int cancel_signal; /* SIGINT or SIGTERM */
    bool done;         /* the batch reached its end; loop shutting down */
    enum rs_err err;   /* how the run ends (RS_OK until something stops it) */
    char *waiting;     /* "usage limit reset at 23:00 UTC" / "backoff 12s" */
    bool live_drawn;
    uint64_t live_written_mono;
    char *live_path;
    struct rs_cost_calib *calib; /* the estimate's self-calibration for this run */
    char *price_unknown_said;    /* the model last said to have no price (terminal: once per run) */
};

static void start_iteration(struct sup *s);
static void schedule_next(struct sup *s, uint64_t delay_ms);

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
    return p->ncompleted + p->nfailed + p->npending + (p->current ? 1 : 0);
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
    size_t remaining = p->npending + (p->current ? 1 : 0);
    snprintf(buf, n, "ETA %s", rs_duration_format(sum / (int64_t)k * (int64_t)remaining, d, sizeof d));
}

/* Write logs/live.json (atomic) for `ralphsup status`; at most once a second. */
static void write_live(struct sup *s, bool force)
{
    uint64_t now = uv_now(&s->loop);
    if (!force && now - s->live_written_mono < 1000)
        return;
    s->live_written_mono = now;
    struct rs_live l = {.pid = (long)getpid(), .updated_ms = rs_now_ms(), .waiting = s->waiting};
    if (s->cur.active) {
        l.active = true;
        l.cost_usd = rs_iteration_cost(s->cur.it, &l.cost_estimated);
        l.last_tool = rs_iteration_last_tool(s->cur.it);
        l.last_progress = rs_iteration_last_progress(s->cur.it);
        l.school = s->cur.school->name;
        l.attempt = s->cur.attempt;
        l.iteration = s->cur.iteration;
        l.agent_pid = s->cur.runner ? (long)rs_runner_pid(s->cur.runner) : 0;
    }
    rs_live_write(s->live_path, &l);
}

static void draw_live(struct sup *s)
{
    write_live(s, false);
    if (!s->o->tty)
        return;
    const struct rs_progress *p = s->b->prog;
    char line[512], d[32], m1[32], m2[32], eta[64];
    eta_text(s, eta, sizeof eta);
    if (s->cur.active) {
        bool est;
        double cost = rs_iteration_cost(s->cur.it, &est);
        const char *tool = rs_iteration_last_tool(s->cur.it);
        char tb[61]; /* the tool's input, at most 60 bytes, cut at a character boundary */
        rs_utf8_copy(tb, sizeof tb, tool ? tool : "starting", strlen(tool ? tool : "starting"));
        rs_utf8_printf(line, sizeof line, "[%zu/%zu] %s · attempt %d/%lld · %s · %s · %s · %s · %s spent",
                 p->ncompleted + p->nfailed + 1, total_schools(p), s->cur.school->name, s->cur.attempt,
                 (long long)s->cfg->limits.max_attempts_per_school,
                 rs_duration_format((int64_t)(uv_now(&s->loop) - s->cur.started_mono), d, sizeof d),
                 rs_money_format(cost, m1, sizeof m1), tb, eta,
                 rs_money_format(p->cost_usd + cost, m2, sizeof m2));
    } else if (s->waiting) {
        rs_utf8_printf(line, sizeof line, "[%zu/%zu] waiting for %s · %s spent", p->ncompleted + p->nfailed, total_schools(p),
                 s->waiting, rs_money_format(p->cost_usd, m2, sizeof m2));
    } else {
        return;
    }
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

static struct rs_evrec *ev_school(struct sup *s, const char *event)
{
    struct rs_evrec *r = rs_evrec_new(event);
    if (s->cur.school) {
        rs_evrec_str(r, "school", s->cur.school->name);
        rs_evrec_int(r, "attempt", s->cur.attempt);
        rs_evrec_int(r, "iteration", s->cur.iteration);
    }
    return r;
}

static const char *c_model(struct sup *s)
{
    return s->cur.it ? rs_iteration_model(s->cur.it) : NULL;
}

static void on_note(void *ud, const char *kind, const char *msg)
{
    struct sup *s = ud;
    struct rs_evrec *r = ev_school(s, kind);
    rs_evrec_str(r, "message", msg);
    if (strcmp(kind, "price-unknown") == 0)
        rs_evrec_str(r, "model", c_model(s));
    emit(s, r);
    if (strcmp(kind, "marker") == 0 || strcmp(kind, "marker-ignored") == 0 || strcmp(kind, "marker-invalid") == 0 ||
        strcmp(kind, "api-retry") == 0 || strcmp(kind, "api-error") == 0 || strcmp(kind, "usage-limit") == 0 ||
        strcmp(kind, "permission-denied") == 0 || strcmp(kind, "oversize-line") == 0)
        say(s, "%s: %s", s->cur.school ? s->cur.school->name : "-", msg);
    if (strcmp(kind, "price-unknown") == 0) {
        const char *model = c_model(s);
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
static void calibrate(struct sup *s)
{
    struct rs_cost_calibration cc;
    if (!rs_iteration_calibrate(s->cur.it, s->calib, &cc))
        return;
    struct rs_evrec *r = ev_school(s, "cost-calibrated");
    rs_evrec_str(r, "model", cc.model);
    rs_evrec_real(r, "estimate_usd", cc.estimate);
    rs_evrec_real(r, "actual_usd", cc.actual);
    rs_evrec_real(r, "ratio", cc.ratio);
    rs_evrec_real(r, "ratio_before", cc.ratio_before);
    rs_evrec_bool(r, "clamped", cc.clamped);
    emit(s, r);
}

/* ---- commits ---------------------------------------------------------------- */

static void commit(struct sup *s, const struct rs_transition *t)
{
    struct rs_diags w;
    rs_diags_init(&w);
    int r = rs_batch_commit(s->b, t, &w);
    for (size_t i = 0; i < w.n; i++) {
        say(s, "warning: %s", w.msgs[i]);
        struct rs_evrec *e = rs_evrec_new("warning");
        rs_evrec_str(e, "message", w.msgs[i]);
        emit(s, e);
    }
    rs_diags_deinit(&w);
    if (r != 0 && !s->done) {
        /* The progress file could not be written: nothing may go on. */
        say(s, "fatal: cannot save the progress file; stopping");
        s->err = RS_E_IO;
    }
    /* A commit can take a while (lock retries): refresh the loop clock. */
    uv_update_time(&s->loop);
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
    uv_timer_stop(&s->tick);
    uv_timer_stop(&s->next);
    /* The signal watchers stay until uv_run returns (a second Ctrl-C must still reach us). */
    uv_stop(&s->loop);
}

/* @path as one shell word: quoted unless it is plain. Caller frees. */
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
    size_t pending = p->npending + (p->current ? 1 : 0);
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

/* The end of a run cancelled by s->cancel_signal. */
static enum rs_err cancel_err(const struct sup *s)
{
    return s->cancel_signal == SIGINT ? RS_E_SIGINT : RS_E_SIGTERM;
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
    emit(s, r);
    say(s, "stopped: %s (exit %d)", reason, code);
    if (!s->err)
        s->err = err;
    free(subject);
    free(full);
    shutdown_loop(s);
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
    emit(s, r);
    say(s, "%s", subject + strlen("ralphsup: "));
    shutdown_loop(s);
}

/* ---- iteration end ------------------------------------------------------------ */

static const char *signame(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGKILL ? "SIGKILL" : "signal";
}

static void iter_release(struct sup *s)
{
    struct iter *c = &s->cur;
    c->stream = rs_stream_free(c->stream);
    c->it = rs_iteration_free(c->it);
    c->tr = rs_transcript_close(c->tr);
    free(c->kill_detail);
    memset(c, 0, sizeof(*c));
}

static int failed_attempts(const struct rs_school_state *h)
{
    int n = 0;
    for (size_t i = 0; h && i < h->nattempts; i++)
        if (h->attempts[i].outcome == RS_OUTCOME_FAILED)
            n++;
    return n;
}

static void apply_verdict(struct sup *s, const struct rs_verdict *v, int64_t exit_status, int term_signal, bool spawned)
{
    struct iter *c = &s->cur;
    struct rs_progress *p = s->b->prog;
    const char *name = c->school->name;
    const char *slug = c->school->slug;
    int64_t now = rs_now_ms();
    bool est = false;
    double cost = c->it ? rs_iteration_cost(c->it, &est) : 0;

    struct rs_school_state *h = rs_progress_history(p, name, slug, true);
    if (!h->started_ms)
        h->started_ms = c->started_ms;
    struct rs_attempt *a = rs_school_state_add_attempt(h);
    a->attempt = c->attempt;
    a->iteration = c->iteration;
    a->started_ms = c->started_ms;
    a->finished_ms = now;
    a->cost_usd = cost;
    a->cost_estimated = est;
    a->failure_class = rs_xstrdup(rs_verdict_class(v->kind));
    a->reason = v->kind == RS_VERDICT_COMPLETED ? NULL : rs_xstrdup(v->reason);
    if (!spawned)
        a->exit_status = rs_xstrdup("not started");
    else if (term_signal)
        a->exit_status = rs_xasprintf("signal %d (%s)", term_signal, signame(term_signal));
    else
        a->exit_status = rs_xasprintf("exit %lld", (long long)exit_status);
    const char *sess = c->it ? rs_iteration_session(c->it) : NULL;
    a->session_id = sess ? rs_xstrdup(sess) : NULL;
    h->cost_usd += cost;
    p->cost_usd += cost;
    if (est && cost > 0)
        p->cost_estimated = true;
    p->current = rs_current_free(p->current);

    char subject[768], m[32], d[32];
    int64_t dur = now - c->started_ms;
    struct rs_transition t = {.school = name, .attempt = c->attempt, .iteration = c->iteration, .cost_usd = cost};
    struct rs_evrec *r = ev_school(s, "iteration-finished");
    rs_evrec_str(r, "verdict", rs_verdict_class(v->kind));
    rs_evrec_str(r, "reason", v->reason);
    rs_evrec_str(r, "exit_status", a->exit_status);
    rs_evrec_real(r, "cost_usd", cost);
    rs_evrec_bool(r, "cost_estimated", est);
    rs_evrec_real(r, "duration_s", (double)dur / 1000.0);
    rs_evrec_str(r, "session_id", sess);
    if (c->tr)
        rs_evrec_str(r, "transcript", rs_transcript_path(c->tr));
    if (c->it) {
        struct rs_iteration_counts k;
        rs_iteration_counts(c->it, &k);
        rs_evrec_int(r, "tool_calls", k.tool_calls);
        rs_evrec_int(r, "api_retries", k.api_retries);
        rs_evrec_int(r, "permission_denials", k.permission_denials);
        rs_evrec_int(r, "bad_lines", k.bad_lines);
        rs_evrec_int(r, "oversize_lines", k.oversize_lines);
    }

    switch (v->kind) {
    case RS_VERDICT_COMPLETED: {
        struct rs_iteration_done dn;
        rs_iteration_done(c->it, &dn);
        a->outcome = RS_OUTCOME_COMPLETED;
        struct rs_school_state *st = rs_progress_complete(p, name, slug);
        st->finished_ms = now;
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
        s->consecutive_transients = 0;
        if (v->limit && p->npending > 0) {
            /* Completed, and the same iteration crossed a batch limit: record both. */
            char reason[640];
            rs_utf8_printf(reason, sizeof reason, "%s (%s completed first: its RALPH_DONE was verified)",
                     c->kill_detail ? c->kill_detail : v->limit, name);
            iter_release(s);
            if (!s->err)
                stop_batch(s, v->err, reason, v->limit, RS_STATUS_STOPPED);
            else
                shutdown_loop(s);
            return;
        }
        break;
    }
    case RS_VERDICT_ITEM_FAILED: {
        a->outcome = RS_OUTCOME_FAILED;
        int n = failed_attempts(h);
        int64_t max = s->cfg->limits.max_attempts_per_school;
        emit(s, r);
        if (v->permanent || n >= max) {
            char *body = rs_xasprintf("Attempt %d of %lld failed: %s\n\n%s", c->attempt, (long long)max, v->reason,
                                      v->permanent ? "Not retried: the failure is permanent." : "No attempts left.");
            struct rs_school_state *st = rs_progress_fail(p, name, slug, v->reason);
            st->finished_ms = now;
            rs_utf8_printf(subject, sizeof subject, "ralphsup: failed %s after %d attempt%s: %s", name, n, n == 1 ? "" : "s",
                     v->reason);
            t.event = "failed";
            t.subject = subject;
            t.body = body;
            commit(s, &t);
            free(body);
        } else {
            rs_progress_push_pending(p, name, true);
            rs_utf8_printf(subject, sizeof subject, "ralphsup: attempt %d/%lld failed for %s: %s", c->attempt,
                     (long long)max, name, v->reason);
            t.event = "attempt-failed";
            t.subject = subject;
            t.body = "The school is back at the front of pending for another attempt.";
            commit(s, &t);
        }
        say(s, "%s", subject + strlen("ralphsup: "));
        s->consecutive_transients = 0;
        break;
    }
    case RS_VERDICT_TRANSIENT: {
        a->outcome = RS_OUTCOME_TRANSIENT;
        rs_progress_push_pending(p, name, true);
        s->consecutive_transients++;
        rs_evrec_int(r, "consecutive_transients", s->consecutive_transients);
        emit(s, r);
        if (s->consecutive_transients > s->cfg->limits.max_consecutive_transients) {
            char *reason = rs_xasprintf("%d consecutive transient errors (max_consecutive_transients %lld); last: %s",
                                        s->consecutive_transients,
                                        (long long)s->cfg->limits.max_consecutive_transients, v->reason);
            stop_batch(s, RS_E_TRANSIENTS, reason, "max_consecutive_transients", RS_STATUS_STOPPED);
            free(reason);
            return;
        }
        int64_t delay;
        free(s->waiting);
        if (v->wait_until_ms > now) {
            delay = v->wait_until_ms - now;
            char hm[16];
            time_t tt = (time_t)(v->wait_until_ms / 1000);
            struct tm tm;
            gmtime_r(&tt, &tm);
            strftime(hm, sizeof hm, "%H:%M", &tm);
            s->waiting = rs_xasprintf("usage limit reset at %s UTC", hm);
        } else {
            delay = rs_policy_backoff_ms(&s->cfg->limits, s->consecutive_transients, (double)(random() % 1000) / 1000.0);
            s->waiting = rs_xasprintf("retry after transient error (%s)", rs_duration_format(delay, d, sizeof d));
        }
        rs_utf8_printf(subject, sizeof subject, "ralphsup: requeued %s after a transient error (retry in %s): %s", name,
                 rs_duration_format(delay, d, sizeof d), v->reason);
        t.event = "requeued";
        t.subject = subject;
        t.body = "Transient errors do not count as attempts.";
        commit(s, &t);
        say(s, "%s", subject + strlen("ralphsup: "));
        iter_release(s);
        if (!s->stopping)
            schedule_next(s, (uint64_t)delay);
        return;
    }
    case RS_VERDICT_FATAL:
    case RS_VERDICT_CANCELLED:
    case RS_VERDICT_LIMIT: {
        a->outcome = v->kind == RS_VERDICT_CANCELLED ? RS_OUTCOME_CANCELLED : RS_OUTCOME_STOPPED;
        rs_progress_push_pending(p, name, true);
        emit(s, r);
        enum rs_err err = v->err;
        char reason[640];
        if (v->kind == RS_VERDICT_CANCELLED) {
            err = cancel_err(s);
            rs_utf8_printf(reason, sizeof reason, "cancelled by %s; %s requeued at the front of pending (no attempt counted)",
                     signame(s->cancel_signal), name);
        } else {
            rs_utf8_printf(reason, sizeof reason, "%s (%s requeued at the front of pending)", v->reason, name);
        }
        iter_release(s);
        stop_batch(s, err, reason, v->limit, v->kind == RS_VERDICT_CANCELLED ? RS_STATUS_CANCELLED : RS_STATUS_STOPPED);
        return;
    }
    }
    iter_release(s);
    if (s->err) {
        shutdown_loop(s);
        return;
    }
    if (s->stopping) {
        /* A cancel arrived while the outcome was being recorded. */
        char reason[128];
        rs_utf8_printf(reason, sizeof reason, "cancelled by %s", signame(s->cancel_signal));
        stop_batch(s, cancel_err(s), reason, NULL, RS_STATUS_CANCELLED);
        return;
    }
    schedule_next(s, 0);
}

static void on_runner_finish(void *ud, int64_t exit_status, int term_signal, unsigned flags)
{
    struct sup *s = ud;
    struct iter *c = &s->cur;
    uv_update_time(&s->loop);
    if (s->done) {
        /* Shutting down after a fatal error: the verdict was already recorded. */
        c->runner = rs_runner_free(c->runner);
        return;
    }
    rs_stream_finish(c->stream);
    if (flags & RS_RUNNER_F_SURVIVORS) {
        struct rs_evrec *r = ev_school(s, "survivors");
        rs_evrec_str(r, "message", "processes of the iteration were still alive after SIGKILL");
        emit(s, r);
    }
    struct rs_iter_obs obs;
    rs_iteration_finish(c->it, 0, true, (int)exit_status, term_signal, c->killed, c->kill_detail, c->budget_limit, &obs);
    struct rs_verdict v;
    rs_policy_classify(&obs, &v);
    c->runner = rs_runner_free(c->runner);
    apply_verdict(s, &v, exit_status, term_signal, true);
}

/* ---- running iteration ------------------------------------------------------- */

static void request_stop(struct sup *s, enum rs_kill_reason why, const char *detail)
{
    struct iter *c = &s->cur;
    if (!c->active || !c->runner)
        return;
    if (c->killed == RS_KILL_NONE) {
        c->killed = why;
        free(c->kill_detail);
        c->kill_detail = detail ? rs_xstrdup(detail) : NULL;
        struct rs_evrec *r = ev_school(s, "stop-iteration");
        rs_evrec_str(r, "reason", detail);
        emit(s, r);
        say(s, "%s: stopping the agent: %s", c->school->name, detail ? detail : "");
    }
    rs_runner_stop(c->runner, (uint64_t)s->cfg->limits.kill_grace_ms);
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

static void check_running_limits(struct sup *s)
{
    struct iter *c = &s->cur;
    if (!c->active || c->killed != RS_KILL_NONE)
        return;
    struct rs_batch_usage u = usage_now(s);
    double cost = rs_iteration_cost(c->it, NULL);
    char reason[256];
    enum rs_kill_reason k = rs_policy_running_limit(&s->cfg->limits, &u, cost, c->school_cost_before + cost, reason,
                                                    sizeof reason);
    if (k != RS_KILL_NONE)
        request_stop(s, k, reason);
}

static void on_stream_event(const struct rs_stream_event *ev, void *ud)
{
    struct sup *s = ud;
    struct iter *c = &s->cur;
    enum rs_iter_action a = rs_iteration_on_event(c->it, ev);
    if (a == RS_ITER_KILL_REPEAT)
        request_stop(s, RS_KILL_REPEAT, rs_iteration_kill_detail(c->it));
    else if (a == RS_ITER_KILL_AUTH)
        request_stop(s, RS_KILL_AUTH, rs_iteration_kill_detail(c->it));
    if (ev->kind == RS_STREAM_RESULT)
        calibrate(s);
    if (ev->kind == RS_STREAM_ASSISTANT || ev->kind == RS_STREAM_RESULT ||
        (ev->kind == RS_STREAM_PARTIAL && ev->subtype &&
         (strcmp(ev->subtype, "message_start") == 0 || strcmp(ev->subtype, "message_delta") == 0)))
        check_running_limits(s);
    if (ev->kind == RS_STREAM_ASSISTANT)
        draw_live(s);
}

static void on_stdout(void *ud, const char *data, size_t len)
{
    struct sup *s = ud;
    struct iter *c = &s->cur;
    c->last_output_mono = uv_now(&s->loop);
    rs_transcript_write(c->tr, data, len);
    rs_stream_feed(c->stream, data, len);
}

static void on_stderr(void *ud, const char *data, size_t len)
{
    struct sup *s = ud;
    s->cur.last_output_mono = uv_now(&s->loop);
    rs_transcript_write_stderr(s->cur.tr, data, len);
    rs_iteration_stderr(s->cur.it, data, len);
}

static void on_tick(uv_timer_t *t)
{
    struct sup *s = t->data;
    struct iter *c = &s->cur;
    if (c->active && c->killed == RS_KILL_NONE) {
        uint64_t now = uv_now(&s->loop);
        const struct rs_limits *l = &s->cfg->limits;
        char reason[256], d[32];
        if (l->iteration_timeout_ms > 0 && now - c->started_mono >= (uint64_t)l->iteration_timeout_ms) {
            rs_utf8_printf(reason, sizeof reason, "iteration_timeout reached (%s)",
                     rs_duration_format(l->iteration_timeout_ms, d, sizeof d));
            request_stop(s, RS_KILL_TIMEOUT, reason);
        } else if (l->stall_timeout_ms > 0 && now - c->last_output_mono >= (uint64_t)l->stall_timeout_ms) {
            rs_utf8_printf(reason, sizeof reason, "stalled: no output for %s (stall_timeout)",
                     rs_duration_format(l->stall_timeout_ms, d, sizeof d));
            request_stop(s, RS_KILL_STALL, reason);
        } else {
            check_running_limits(s);
        }
    }
    draw_live(s);
}

/* ---- starting an iteration ---------------------------------------------------- */

static void on_next(uv_timer_t *t)
{
    struct sup *s = t->data;
    free(s->waiting);
    s->waiting = NULL;
    start_iteration(s);
}

static void schedule_next(struct sup *s, uint64_t delay_ms)
{
    uv_timer_start(&s->next, on_next, delay_ms, 0);
}

static char **build_env(struct sup *s, const struct rs_school *sc)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = rs_xcalloc(n + s->cfg->nenv + 8, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool overridden = strncmp(environ[i], "RALPHSUP_", 9) == 0;
        for (size_t j = 0; j < s->cfg->nenv && !overridden; j++) {
            size_t kl = strlen(s->cfg->env[j].key);
            if (strncmp(environ[i], s->cfg->env[j].key, kl) == 0 && environ[i][kl] == '=')
                overridden = true;
        }
        if (!overridden)
            env[k++] = rs_xstrdup(environ[i]);
    }
    for (size_t j = 0; j < s->cfg->nenv; j++)
        env[k++] = rs_xasprintf("%s=%s", s->cfg->env[j].key, s->cfg->env[j].value);
    env[k++] = rs_xasprintf("RALPHSUP_CONFIG=%s", s->cfg->path);
    env[k++] = rs_xasprintf("RALPHSUP_ROOT=%s", s->cfg->root);
    env[k++] = rs_xasprintf("RALPHSUP_PROGRESS=%s", s->cfg->progress);
    env[k++] = rs_xasprintf("RALPHSUP_SCHOOL=%s", sc->name);
    env[k++] = rs_xasprintf("RALPHSUP_ITERATION=%lld", (long long)s->cur.iteration);
    env[k] = NULL;
    return env;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
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

static void start_iteration(struct sup *s)
{
    struct rs_progress *p = s->b->prog;
    if (s->done)
        return;
    if (s->stopping) {
        char reason[128];
        rs_utf8_printf(reason, sizeof reason, "cancelled by %s", signame(s->cancel_signal));
        stop_batch(s, cancel_err(s), reason, NULL, RS_STATUS_CANCELLED);
        return;
    }
    if (p->npending == 0) {
        finish_batch(s);
        return;
    }
    struct rs_batch_usage u = usage_now(s);
    char reason[256];
    const char *limit = rs_policy_spawn_limit(&s->cfg->limits, &u, reason, sizeof reason);
    if (limit) {
        stop_batch(s, RS_E_LIMIT, reason, limit, RS_STATUS_STOPPED);
        return;
    }

    char *name = rs_xstrdup(p->pending[0]);
    const struct rs_school *sc = rs_batch_school(s->b, name);
    if (!sc) {
        rs_progress_remove_pending(p, name);
        rs_progress_drop_history(p, name); /* retry history belongs to pending schools only */
        char subject[512];
        rs_utf8_printf(subject, sizeof subject, "ralphsup: dropped %s from pending (no longer in the school list)", name);
        struct rs_transition t = {.event = "requeued", .school = name, .cost_usd = -1, .subject = subject};
        commit(s, &t);
        say(s, "%s", subject + 10);
        free(name);
        schedule_next(s, 0);
        return;
    }
    free(name);

    struct iter *c = &s->cur;
    memset(c, 0, sizeof(*c));
    c->active = true;
    c->school = sc;
    struct rs_school_state *h = rs_progress_history(p, sc->name, sc->slug, false);
    c->attempt = failed_attempts(h) + 1;
    c->school_cost_before = h ? h->cost_usd : 0;
    if (s->cfg->limits.max_cost_per_school_usd > 0 && c->school_cost_before >= s->cfg->limits.max_cost_per_school_usd) {
        /* Earlier attempts used up the school's budget: fail it without spawning. */
        char m1[32], m2[32], subject[512];
        char *why = rs_xasprintf("max_cost_per_school_usd reached (%s spent on this school, cap %s)",
                                    rs_money_format(c->school_cost_before, m1, sizeof m1),
                                    rs_money_format(s->cfg->limits.max_cost_per_school_usd, m2, sizeof m2));
        rs_progress_remove_pending(p, sc->name);
        struct rs_school_state *st = rs_progress_fail(p, sc->name, sc->slug, why);
        st->finished_ms = rs_now_ms();
        rs_utf8_printf(subject, sizeof subject, "ralphsup: failed %s: %s", sc->name, why);
        struct rs_transition t = {.event = "failed", .school = sc->name, .cost_usd = -1, .subject = subject};
        commit(s, &t);
        say(s, "%s", subject + strlen("ralphsup: "));
        free(why);
        memset(c, 0, sizeof(*c));
        schedule_next(s, 0);
        return;
    }
    c->iteration = p->iterations + 1;
    c->started_ms = rs_now_ms();
    c->started_mono = c->last_output_mono = uv_now(&s->loop);
    snprintf(c->token, sizeof c->token, "%s:%lld:%ld:%08lx", sc->slug, (long long)c->iteration, (long)getpid(),
             (unsigned long)random());

    /* Budget for claude's own check: the smaller remaining cap. */
    double budget = rs_policy_budget(&s->cfg->limits, p->cost_usd, c->school_cost_before, &c->budget_limit);

    char *csv = rs_batch_output_csv(s->b, sc);
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
    int64_t deadline = c->started_ms + s->cfg->limits.iteration_timeout_ms;
    if (s->cfg->limits.max_runtime_ms > 0) {
        int64_t left = s->cfg->limits.max_runtime_ms - (int64_t)(uv_now(&s->loop) - s->start_mono);
        if (c->started_ms + left < deadline)
            deadline = c->started_ms + (left > 0 ? left : 0);
    }
    rs_time_iso(deadline, deadline_text, sizeof deadline_text);
    struct rs_prompt_vars pv = {
        .school_name = sc->name,
        .school_conference = sc->conference,
        .school_state = sc->state,
        .school_slug = sc->slug,
        .output_csv = csv,
        .output_csv_rel = csv_rel,
        .attempt = c->attempt,
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

    /* Mark current and save before spawning, so a crash leaves the run token behind. */
    rs_progress_remove_pending(p, sc->name);
    rs_current_free(p->current);
    p->current = rs_xcalloc(1, sizeof(*p->current));
    p->current->name = rs_xstrdup(sc->name);
    p->current->slug = rs_xstrdup(sc->slug);
    p->current->attempt = c->attempt;
    p->current->iteration = c->iteration;
    p->current->started_ms = c->started_ms;
    p->current->supervisor_pid = (int)getpid();
    p->current->run_token = rs_xstrdup(c->token);
    p->iterations = c->iteration;
    p->status = RS_STATUS_RUNNING;
    rs_progress_save(p, s->cfg->progress, rs_now_ms());

    char stem[128];
    snprintf(stem, sizeof stem, "%04lld-%s", (long long)c->iteration, sc->slug);
    int r = rs_transcript_open(s->cfg->log_dir, stem, &c->tr);
    if (r < 0)
        say(s, "warning: cannot write the transcript %s/%s.jsonl: %s", s->cfg->log_dir, stem, strerror(-r));
    struct rs_stream_opts so = {.max_line_bytes = (size_t)s->cfg->limits.max_line_bytes};
    rs_stream_new(&so, on_stream_event, s, &c->stream);
    struct rs_iteration_opts io = {.cfg = s->cfg, .aliases = s->b->aliases, .school = sc->name,
                                   .school_slug = sc->slug, .note = on_note, .ud = s, .calib = s->calib,
                                   .email_domains = (const char *const *)sc->email_domains,
                                   .nemail_domains = sc->nemail_domains, .attempt_started_ms = c->started_ms};
    rs_iteration_new(&io, &c->it);

    char **argv = build_argv(s, prompt, budget);
    char **env = build_env(s, sc);
    struct rs_runner_opts ro = {
        .argv = (const char *const *)argv,
        .envp = (const char *const *)env,
        .cwd = s->cfg->root,
        .token = c->token,
        .pipe_drain_timeout_ms = (uint64_t)s->cfg->limits.pipe_drain_timeout_ms,
        .on_stdout = on_stdout,
        .on_stderr = on_stderr,
        .on_finish = on_runner_finish,
        .userdata = s,
    };
    r = rs_runner_start(&s->loop, &ro, &c->runner);
    free_strv(argv);
    free_strv(env);
    free(prompt);

    struct rs_evrec *ev = ev_school(s, "iteration-started");
    rs_evrec_str(ev, "run_token", c->token);
    if (budget >= 0)
        rs_evrec_real(ev, "max_budget_usd", budget);
    if (r == 0)
        rs_evrec_int(ev, "pid", rs_runner_pid(c->runner));
    else
        rs_evrec_str(ev, "spawn_error", strerror(-r));
    emit(s, ev);

    if (r < 0) {
        struct rs_iter_obs obs;
        rs_iteration_finish(c->it, r, false, 0, 0, RS_KILL_NONE, NULL, NULL, &obs);
        struct rs_verdict v;
        rs_policy_classify(&obs, &v);
        apply_verdict(s, &v, 0, 0, false);
        return;
    }
    p->current->pid = (int)rs_runner_pid(c->runner);

    char subject[512];
    rs_utf8_printf(subject, sizeof subject, "ralphsup: started %s (attempt %d/%lld, iteration %lld)", sc->name, c->attempt,
             (long long)s->cfg->limits.max_attempts_per_school, (long long)c->iteration);
    struct rs_transition t = {.event = "started", .school = sc->name, .attempt = c->attempt,
                              .iteration = c->iteration, .cost_usd = -1, .subject = subject};
    commit(s, &t);
    say(s, "[%zu/%zu] %s", p->ncompleted + p->nfailed + 1, total_schools(p), subject + strlen("ralphsup: "));
    write_live(s, true);
}

/* ---- signals ------------------------------------------------------------------- */

static void reload(struct sup *s)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_config *fresh = NULL;
    int r = rs_config_load(s->cfg->path, &fresh, &d);
    if (r != 0) {
        char *msg = d.n ? rs_diags_join(&d) : rs_xstrdup(r < 0 ? strerror(-r) : "invalid");
        say(s, "SIGHUP: config reload failed, keeping the current limits:\n%s", msg);
        struct rs_evrec *e = rs_evrec_new("reload-failed");
        rs_evrec_str(e, "message", msg);
        emit(s, e);
        free(msg);
        rs_diags_deinit(&d);
        return;
    }
    rs_diags_deinit(&d);
    struct rs_limits nl = fresh->limits;
    rs_run_opts_apply(s->o, &nl);
    rs_config_free(fresh);
    char *diff = rs_limits_diff(&s->cfg->limits, &nl);
    s->cfg->limits = nl;
    char subject[768];
    rs_utf8_printf(subject, sizeof subject, "ralphsup: limits reloaded: %s", diff[0] ? diff : "no change");
    struct rs_transition t = {.event = "limits-reloaded", .cost_usd = -1, .subject = subject,
                              .school = s->cur.active ? s->cur.school->name : NULL};
    struct rs_evrec *e = rs_evrec_new("limits-reloaded");
    rs_evrec_str(e, "diff", diff);
    emit(s, e);
    commit(s, &t);
    say(s, "%s", subject + strlen("ralphsup: "));
    free(diff);
    /* The iteration in flight goes on unless a new limit is already exceeded. */
    check_running_limits(s);
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct sup *s = h->data;
    if (sig == SIGHUP) {
        reload(s);
        return;
    }
    if (s->done)
        return;
    if (s->stopping) {
        say(s, "%s again: killing the agent now", signame(sig));
        if (s->cur.active && s->cur.runner)
            rs_runner_kill(s->cur.runner);
        return;
    }
    s->stopping = true;
    s->cancel_signal = sig;
    struct rs_evrec *e = rs_evrec_new("cancel");
    rs_evrec_str(e, "signal", signame(sig));
    emit(s, e);
    if (s->cur.active && s->cur.runner) {
        char detail[64];
        snprintf(detail, sizeof detail, "cancelled by %s", signame(sig));
        request_stop(s, RS_KILL_CANCEL, detail);
    } else {
        uv_timer_stop(&s->next);
        start_iteration(s); /* records the cancel and stops */
    }
}

/* ---- setup ------------------------------------------------------------------------ */

/* A current school left by a crash or kill -9: kill leftovers, requeue it. */
static void requeue_interrupted(struct sup *s)
{
    struct rs_progress *p = s->b->prog;
    if (!p->current)
        return;
    struct rs_current *c = p->current;
    int killed = 0;
    if (c->run_token && c->run_token[0])
        killed = rs_proctree_kill_token(c->run_token, SIGKILL);
    char *name = rs_xstrdup(c->name);
    int attempt = c->attempt;
    int64_t iteration = c->iteration;
    rs_progress_remove_pending(p, name);
    rs_progress_push_pending(p, name, true);
    p->current = rs_current_free(p->current);
    char subject[512];
    rs_utf8_printf(subject, sizeof subject, "ralphsup: requeued %s (interrupted run; no attempt counted)", name);
    char *body = rs_xasprintf("The previous supervisor stopped while %s was current (attempt %d, iteration %lld). "
                              "%d leftover process%s of that iteration killed.",
                              name, attempt, (long long)iteration, killed > 0 ? killed : 0, killed == 1 ? "" : "es");
    struct rs_transition t = {.event = "requeued", .school = name, .attempt = attempt, .iteration = iteration,
                              .cost_usd = -1, .subject = subject, .body = body};
    commit(s, &t);
    struct rs_evrec *e = rs_evrec_new("requeued-interrupted");
    rs_evrec_str(e, "school", name);
    rs_evrec_int(e, "leftovers_killed", killed > 0 ? killed : 0);
    emit(s, e);
    say(s, "requeued %s: it was current when the previous run stopped (%d leftover process%s killed)", name,
        killed > 0 ? killed : 0, killed == 1 ? "" : "es");
    free(body);
    free(name);
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
    if (r != 0) {
        *prompt = rs_prompt_free(*prompt);
        return RS_E_CONFIG;
    }
    r = rs_runner_resolve_command(cfg->command, getenv("PATH"), cfg->root, agent_path);
    if (r < 0) {
        rs_diags_add(d, "agent command \"%s\" %s (set [agent] command in %s or fix PATH)", cfg->command,
                     r == -ENOENT ? "not found" : r == -EACCES ? "is not executable" : strerror(-r), cfg->path);
        *prompt = rs_prompt_free(*prompt);
        free(*settings);
        *settings = NULL;
        return RS_E_UNAVAILABLE;
    }
    return 0;
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

    struct rs_diags d;
    rs_diags_init(&d);
    int r = load_inputs(s->cfg, o, &s->prompt, &s->settings, &s->agent_path, &d);
    if (r != 0) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "ralphsup: %s\n", d.msgs[i]);
        rs_diags_deinit(&d);
        free(s);
        return r;
    }
    rs_diags_deinit(&d);

    r = rs_eventlog_open(s->cfg->log_dir, &s->log);
    if (r < 0) {
        fprintf(stderr, "ralphsup: cannot write the event log in %s: %s\n", s->cfg->log_dir, strerror(-r));
        rs_prompt_free(s->prompt);
        free(s->agent_path);
        free(s->settings);
        free(s);
        return RS_E_CANTCREAT;
    }
    s->live_path = rs_path_join(s->cfg->log_dir, "live.json");

    uv_loop_init(&s->loop);
    rs_proctree_become_subreaper();
    rs_runner_reaper_start(&s->loop, &s->reaper);
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    uv_signal_init(&s->loop, &s->sighup);
    s->sigint.data = s->sigterm.data = s->sighup.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sighup, on_signal, SIGHUP);
    uv_timer_init(&s->loop, &s->tick);
    uv_timer_init(&s->loop, &s->next);
    s->tick.data = s->next.data = s;
    s->start_mono = uv_now(&s->loop);

    struct rs_evrec *e = rs_evrec_new("supervisor-started");
    rs_evrec_int(e, "pid", getpid());
    rs_evrec_str(e, "config", s->cfg->path);
    rs_evrec_str(e, "agent", s->agent_path);
    rs_evrec_int(e, "pending", (int64_t)b->prog->npending);
    emit(s, e);
    say(s, "batch %s: %zu pending, %zu completed, %zu failed; agent %s", s->cfg->name, b->prog->npending,
        b->prog->ncompleted, b->prog->nfailed, s->agent_path);
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
    if (!s->err) {
        uv_timer_start(&s->tick, on_tick, 1000, 1000);
        schedule_next(s, 0);
        uv_run(&s->loop, UV_RUN_DEFAULT);
    }
    ex = s->err;

    /*
     * An agent can only still run here after a fatal error mid-iteration:
     * kill its tree and let the runner finish on the loop (its handles must
     * close through their own callbacks, never through walk_close).
     */
    if (s->cur.runner) {
        rs_runner_kill(s->cur.runner);
        while (s->cur.runner)
            uv_run(&s->loop, UV_RUN_ONCE);
    }
    /* Close everything, let the close callbacks run, and the loop must close. */
    s->reaper = rs_runner_reaper_close(s->reaper);
    uv_walk(&s->loop, walk_close, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s->loop) != 0)
        fprintf(stderr, "ralphsup: internal: handles left open at exit\n");
    iter_release(s);
    live_clear(s);
    unlink(s->live_path);

    /* The master report when the batch finished. */
    struct rs_progress *p = b->prog;
    if (ex == 0 && p->status == RS_STATUS_FINISHED && s->cfg->report_on_finish && !o->no_report) {
        char date[16];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
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
    free(s->waiting);
    free(s->live_path);
    free(s->price_unknown_said);
    rs_cost_calib_free(s->calib);
    free(s);
    return ex;
}
