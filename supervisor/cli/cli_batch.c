/* SPDX-License-Identifier: MIT */
/*
 * The batch bookkeeping commands (the seed's batch_init.py, batch_status.py
 * and batch_resume.py, plus recover): init, status, resume, recover.
 * Each opens the batch through rs_batch_open(), records at most one
 * transition through rs_batch_commit(), prints, and returns an exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ralphsup/core/decide.h"
#include "ralphsup/store/auditfile.h"
#include "ralphsup/store/batch.h"
#include "ralphsup/store/live.h"
#include "ralphsup/cli/cli.h"
#include "ralphsup/run/proctree.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

static int finish_open_error(int ex, struct rs_diags *d)
{
    rs_cli_print_diags(d, "ralphsup: ");
    rs_diags_deinit(d);
    return ex;
}

static void print_warnings(struct rs_diags *w)
{
    rs_cli_print_diags(w, "ralphsup: warning: ");
}

static int one_config_arg(int argc, char **argv, const char *cmd, const char **config)
{
    if (optind != argc - 1) {
        fprintf(stderr, "ralphsup %s: expected exactly one CONFIG argument (see `ralphsup %s --help`)\n", cmd, cmd);
        return RS_EXIT_USAGE;
    }
    *config = argv[optind];
    return 0;
}

/*
 * Argument handling of a command that takes only CONFIG: prints help or
 * usage as needed. Return: -1 to go on with *config set, else the exit code.
 */
static int config_only_command(int argc, char **argv, const char *cmd, const char *help, const char **config)
{
    if (rs_cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return RS_EXIT_OK;
    }
    optind = 0;
    if (getopt_long(argc, argv, "", (const struct option[]){{0, 0, 0, 0}}, NULL) != -1) {
        fputs(help, stderr);
        return RS_EXIT_USAGE;
    }
    int ex = one_config_arg(argc, argv, cmd, config);
    return ex ? ex : -1;
}

/* ---- init ------------------------------------------------------------------ */

static const char init_help[] =
    "usage: ralphsup init CONFIG [--reset | --resume]\n\n"
    "Validate the config and the school list, create the progress file with every\n"
    "school pending, and commit it. If a progress file exists:\n"
    "  --reset    start over (the old state stays in git history)\n"
    "  --resume   keep it and reconcile with the current school list (names made\n"
    "             canonical, duplicates merged, new schools appended to pending,\n"
    "             removed ones reported, completed ones kept); exit 65 when it\n"
    "             contradicts itself in a way that cannot be repaired safely\n"
    "Without either flag ralphsup asks on a terminal and refuses otherwise.\n";

static int ask_reset_or_resume(const char *path)
{
    fprintf(stderr, "%s already exists. [r]eset (start over), re[s]ume (keep and reconcile), or [a]bort? ", path);
    fflush(stderr);
    char line[32];
    if (!fgets(line, sizeof line, stdin))
        return 'a';
    return line[0] == 'r' || line[0] == 'R' ? 'r' : (line[0] == 's' || line[0] == 'S') ? 's' : 'a';
}

/*
 * init --resume: rs_batch_reconcile(), refusing (with every reason) what it
 * cannot fix. Return: the number of changes, or -1 after printing refusals.
 */
static int resume_reconcile(struct rs_batch *b, const char *config, struct rs_diags *changes)
{
    struct rs_diags refused;
    rs_diags_init(&refused);
    int n = rs_batch_reconcile(b, changes, &refused);
    if (refused.n) {
        rs_cli_print_diags(&refused, "ralphsup: ");
        fprintf(stderr, "ralphsup init: nothing was changed; fix %s as said above, then run `ralphsup init --resume "
                        "%s` again (or --reset to start over)\n",
                b->cfg->progress, config);
        n = -1;
    }
    rs_diags_deinit(&refused);
    return n;
}

/* "batch_progress.json: 2 pending, 1 current, 1 completed, 0 failed (4 schools)" */
static void print_counts(const struct rs_batch *b)
{
    const struct rs_progress *p = b->prog;
    size_t cur = rs_progress_ninflight(p);
    char curtext[96] = "";
    if (cur == 1)
        snprintf(curtext, sizeof curtext, "1 current (interrupted; `ralphsup start` requeues it), ");
    else if (cur > 1)
        snprintf(curtext, sizeof curtext, "%zu in progress (interrupted; `ralphsup start` requeues them), ", cur);
    printf("%s: %zu pending, %s%zu completed, %zu failed (%zu school%s)\n", b->cfg->progress, p->npending,
           curtext, p->ncompleted, p->nfailed,
           p->npending + cur + p->ncompleted + p->nfailed, p->npending + cur + p->ncompleted + p->nfailed == 1 ? "" : "s");
}

int rs_cmd_init(int argc, char **argv)
{
    if (rs_cli_wants_help(argc, argv)) {
        fputs(init_help, stdout);
        return RS_EXIT_OK;
    }
    static const struct option opts[] = {
        {"reset", no_argument, NULL, 'r'},
        {"resume", no_argument, NULL, 's'},
        {0, 0, 0, 0},
    };
    int mode = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r' || c == 's') {
            if (mode && mode != c) {
                fprintf(stderr, "ralphsup init: --reset and --resume exclude each other\n");
                return RS_EXIT_USAGE;
            }
            mode = c;
        } else {
            fputs(init_help, stderr);
            return RS_EXIT_USAGE;
        }
    }
    const char *config;
    int ex = one_config_arg(argc, argv, "init", &config);
    if (ex)
        return ex;

    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_batch *b = NULL;
    ex = rs_exit_code(rs_batch_open(config, RS_BATCH_LOCK, &b, &d));
    if (ex)
        return finish_open_error(ex, &d);
    rs_cli_print_diags(&b->notices, "ralphsup: warning: ");
    if (b->git_created)
        printf("created a git repository at %s for the audit trail\n", b->cfg->root);

    int64_t now = rs_now_ms();
    char subject[512];
    const char *event;
    struct rs_diags changes;
    rs_diags_init(&changes);

    if (b->progress_state != RS_PROGRESS_E_NOT_FOUND) {
        if (!mode) {
            if (isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
                int a = ask_reset_or_resume(b->cfg->progress);
                mode = a == 'r' ? 'r' : a == 's' ? 's' : 0;
                if (!mode) {
                    fprintf(stderr, "ralphsup init: aborted, nothing changed\n");
                    rs_batch_free(b);
                    return RS_EXIT_USAGE;
                }
            } else {
                fprintf(stderr,
                        "ralphsup init: %s already exists; pass --reset to start over (the old state stays in git "
                        "history) or --resume to keep it and reconcile with the school list\n",
                        b->cfg->progress);
                rs_batch_free(b);
                return RS_EXIT_USAGE;
            }
        }
        if (mode == 's' && b->progress_state == RS_PROGRESS_E_INVALID) {
            rs_cli_print_diags(&b->progress_diags, "ralphsup: ");
            if (b->git)
                fprintf(stderr, "ralphsup init: cannot --resume an unreadable progress file; use `ralphsup recover %s` "
                                "or --reset\n", config);
            else
                fprintf(stderr, "ralphsup init: cannot --resume an unreadable progress file; repair it by hand "
                                "(docs/progress.md) or use --reset ([git] enabled = false: nothing to recover from)\n");
            rs_batch_free(b);
            return RS_EXIT_DATAERR;
        }
    }

    if (mode == 's') {
        int n = resume_reconcile(b, config, &changes);
        if (n < 0) {
            rs_diags_deinit(&changes);
            rs_batch_free(b);
            return RS_EXIT_DATAERR;
        }
        event = "reconciled";
        rs_utf8_printf(subject, sizeof subject, "ralphsup: resumed batch %s (%d change%s)", b->cfg->name, n,
                 n == 1 ? "" : "s");
    } else {
        rs_progress_free(b->prog);
        b->prog = rs_batch_fresh_progress(b, now);
        event = mode == 'r' ? "reset" : "init";
        rs_utf8_printf(subject, sizeof subject, "ralphsup: %s batch %s (%zu %s pending)",
                 mode == 'r' ? "reset" : "initialized", b->cfg->name, b->prog->npending,
                 rs_plural(b->prog->npending, "school", "schools"));
    }
    char *body = changes.n ? rs_diags_join(&changes) : NULL;
    struct rs_transition t = {.event = event, .cost_usd = -1, .subject = subject, .body = body};
    struct rs_diags w;
    rs_diags_init(&w);
    ex = rs_exit_code(rs_batch_commit(b, &t, &w));
    print_warnings(&w);
    rs_diags_deinit(&w);
    if (!ex) {
        for (size_t i = 0; i < changes.n; i++)
            printf("%s\n", changes.msgs[i]);
        print_counts(b);
        printf("next: ralphsup start %s\n", config);
    }
    free(body);
    rs_diags_deinit(&changes);
    rs_batch_free(b);
    return ex;
}

/* ---- status ----------------------------------------------------------------- */

static const char status_help[] =
    "usage: ralphsup status CONFIG [--json] [--watch] [--shard I/N]\n\n"
    "Completed / failed / pending counts, the current school and for how long,\n"
    "failed schools with reasons, an ETA from the average duration of completed\n"
    "schools, cost spent and the projected total. Safe while a supervisor runs\n"
    "(it only reads the progress file, which is always replaced atomically, or\n"
    "logs/summary.json while that describes the file as it is).\n"
    "A config with errors still works: then only [batch] root, progress and\n"
    "log_dir are read, with a warning. When `ralphsup audit` has run, the counts\n"
    "of its results (output_dir/audit.json) end the list.\n"
    "  --json    one JSON object (with --watch: one per line)\n"
    "  --watch   show it again every 2 s until interrupted (Ctrl-C, exit 0): on a\n"
    "            terminal the screen is cleared and redrawn, otherwise each\n"
    "            status follows the last one\n"
    "  --shard I/N   the progress of shard I of N (`start --shard`, docs/scale-out.md)\n"
    "Without --shard, the shard progress files found beside the progress file\n"
    "(batch_progress.shard-I-of-N.json) are listed too, one line each.\n";

/* The running supervisor's live.json (last tool, heartbeat, waiting, cost so far); empty when none. */
static void load_live(const struct rs_batch *b, pid_t holder, struct rs_live_view *v)
{
    memset(v, 0, sizeof *v);
    if (holder == 0)
        return;
    char *path = rs_path_join(b->cfg->log_dir, "live.json");
    rs_live_read(path, v);
    free(path);
}

static const struct rs_live_view_worker *live_worker(const struct rs_live_view *v, const char *school)
{
    for (size_t i = 0; i < v->nworkers; i++)
        if (v->workers[i].school && strcmp(v->workers[i].school, school) == 0)
            return &v->workers[i];
    return NULL;
}

struct status_figures {
    double avg_ms;       /* average duration of completed schools */
    double avg_cost;     /* average cost of finished (completed + failed) schools */
    int64_t eta_ms;      /* -1 unknown */
    double projected;    /* projected total cost */
    int64_t current_ms;  /* how long the current school has run */
};

/* The concurrency achieved over every attempt on record and every school in flight. */
static double concurrency(const struct rs_progress *p, int64_t now)
{
    const struct rs_school_state *lists[] = {p->completed, p->failed, p->history};
    const size_t counts[] = {p->ncompleted, p->nfailed, p->nhistory};
    size_t n = rs_progress_ninflight(p);
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++)
            n += lists[l][i].nattempts;
    struct rs_interval *iv = rs_xcalloc(n ? n : 1, sizeof(*iv));
    size_t k = 0;
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++)
            for (size_t j = 0; j < lists[l][i].nattempts; j++)
                iv[k++] = (struct rs_interval){lists[l][i].attempts[j].started_ms, lists[l][i].attempts[j].finished_ms};
    for (const struct rs_current *c = p->current; c && k < n; c = c->next)
        iv[k++] = (struct rs_interval){c->started_ms, now};
    double r = rs_decide_concurrency(iv, k);
    free(iv);
    return r;
}

static void compute_figures(const struct rs_progress *p, int64_t now, struct status_figures *f)
{
    memset(f, 0, sizeof(*f));
    int64_t sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < p->ncompleted; i++) {
        if (p->completed[i].finished_ms > p->completed[i].started_ms) {
            sum += p->completed[i].finished_ms - p->completed[i].started_ms;
            n++;
        }
    }
    size_t nfin;
    double finished_cost = rs_progress_finished_cost(p, &nfin);
    f->avg_ms = n ? (double)sum / (double)n : 0;
    f->avg_cost = nfin ? finished_cost / (double)nfin : 0;
    size_t remaining = p->npending + rs_progress_ninflight(p);
    /* The work left (less what the schools in flight have done), divided by
     * the concurrency the batch achieved so far (busy time over the time
     * anything ran, from every attempt; core/decide.c). */
    double work = f->avg_ms * (double)remaining;
    for (const struct rs_current *c = p->current; c; c = c->next)
        if (c->started_ms > 0 && now > c->started_ms)
            work -= (double)(now - c->started_ms < (int64_t)f->avg_ms ? now - c->started_ms : (int64_t)f->avg_ms);
    if (p->current && p->current->started_ms > 0)
        f->current_ms = now - p->current->started_ms;
    f->eta_ms = n ? (int64_t)(work / concurrency(p, now)) : -1;
    f->projected = p->cost_usd + f->avg_cost * (double)remaining;
}

/* The last `ralphsup audit`'s results (audit.json), or NULL; *@problem gets why an existing file is unreadable. */
static struct rs_auditfile *load_audit(const struct rs_batch *b, char **problem)
{
    *problem = NULL;
    char *path = rs_auditfile_path(b->cfg);
    struct rs_auditfile *f = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = rs_auditfile_load(path, &f, &d);
    if (r == RS_AUDITFILE_E_INVALID)
        *problem = rs_xstrdup(d.n ? d.msgs[0] : path);
    else if (r < 0)
        *problem = rs_xasprintf("%s: %s", path, strerror(-r));
    rs_diags_deinit(&d);
    free(path);
    return f;
}

static json_t *audit_json(const struct rs_batch *b)
{
    char *problem;
    struct rs_auditfile *f = load_audit(b, &problem);
    if (!f) {
        json_t *o = problem ? json_pack("{s:s}", "error", problem) : json_null();
        free(problem);
        return o;
    }
    size_t counts[RS_EVIDENCE_NRESULTS];
    size_t n = rs_auditfile_counts(f, counts);
    char ts[40];
    json_t *o = json_object();
    json_object_set_new(o, "finished_at", f->finished_ms ? json_string(rs_time_iso(f->finished_ms, ts, sizeof ts))
                                                         : json_null());
    json_object_set_new(o, "leads", json_integer((json_int_t)n));
    json_t *c = json_object();
    for (int i = 0; i < RS_EVIDENCE_NRESULTS; i++)
        json_object_set_new(c, rs_evidence_result_name(i), json_integer((json_int_t)counts[i]));
    json_object_set_new(o, "counts", c);
    rs_auditfile_free(f);
    return o;
}

static void audit_text(const struct rs_batch *b)
{
    char *problem;
    struct rs_auditfile *f = load_audit(b, &problem);
    if (problem)
        printf("audit: unreadable: %s\n", problem);
    free(problem);
    if (!f)
        return;
    size_t counts[RS_EVIDENCE_NRESULTS];
    size_t n = rs_auditfile_counts(f, counts);
    char ts[40];
    printf("audit: %zu warm %s (%s)", n, rs_plural(n, "lead", "leads"),
           f->finished_ms ? rs_time_iso(f->finished_ms, ts, sizeof ts) : "not finished");
    for (int i = 0; i < RS_EVIDENCE_NRESULTS; i++)
        printf("%s %zu %s", i ? "," : ":", counts[i], rs_evidence_result_name(i));
    printf("\n");
    rs_auditfile_free(f);
}

static json_t *status_json(const struct rs_batch *b, pid_t holder, int64_t now)
{
    const struct rs_progress *p = b->prog;
    struct status_figures f;
    compute_figures(p, now, &f);
    json_t *o = json_object();
    json_object_set_new(o, "batch_name", json_string(p->batch_name));
    json_object_set_new(o, "status", json_string(rs_progress_status_name(p->status)));
    json_object_set_new(o, "supervisor_pid", holder > 0 ? json_integer(holder) : json_null());
    json_object_set_new(o, "running", json_boolean(holder != 0));
    json_object_set_new(o, "total", json_integer((json_int_t)(p->ncompleted + p->nfailed + p->npending + rs_progress_ninflight(p))));
    json_object_set_new(o, "completed", json_integer((json_int_t)p->ncompleted));
    json_object_set_new(o, "failed", json_integer((json_int_t)p->nfailed));
    json_object_set_new(o, "pending", json_integer((json_int_t)p->npending));
    struct rs_live_view live;
    load_live(b, holder, &live);
    if (p->current) {
        json_t *c = json_object();
        const char *lp = live.last_progress, *lt = live.last_tool;
        json_object_set_new(c, "name", json_string(p->current->name));
        json_object_set_new(c, "attempt", json_integer(p->current->attempt));
        json_object_set_new(c, "running_s", json_real((double)f.current_ms / 1000.0));
        json_object_set_new(c, "last_progress", lp ? json_string(lp) : json_null());
        json_object_set_new(c, "last_tool", lt ? json_string(lt) : json_null());
        json_object_set_new(c, "cost_usd", live.has_cost ? json_real(live.cost_usd) : json_null());
        json_object_set_new(o, "current", c);
    } else {
        json_object_set_new(o, "current", json_null());
    }
    json_object_set_new(o, "waiting", live.waiting ? json_string(live.waiting) : json_null());
    json_t *inp = json_array();
    for (const struct rs_current *c = p->current; c; c = c->next) {
        json_t *e = json_object();
        const struct rs_live_view_worker *w = live_worker(&live, c->name);
        json_object_set_new(e, "name", json_string(c->name));
        json_object_set_new(e, "attempt", json_integer(c->attempt));
        json_object_set_new(e, "iteration", json_integer(c->iteration));
        json_object_set_new(e, "pid", json_integer(c->pid));
        json_object_set_new(e, "slot", w && w->slot >= 0 ? json_integer(w->slot) : json_null());
        json_object_set_new(e, "running_s", json_real(c->started_ms > 0 ? (double)(now - c->started_ms) / 1000.0 : 0));
        json_object_set_new(e, "cost_usd", w && w->has_cost ? json_real(w->cost_usd) : json_null());
        json_object_set_new(e, "last_tool", w && w->last_tool ? json_string(w->last_tool) : json_null());
        json_object_set_new(e, "waiting", w && w->waiting ? json_string(w->waiting) : json_null());
        json_array_append_new(inp, e);
    }
    json_object_set_new(o, "in_progress", inp);
    json_object_set_new(o, "jobs", live.jobs ? json_integer(live.jobs) : json_null());
    json_object_set_new(o, "jobs_target", live.jobs ? json_integer(live.target) : json_null());
    rs_live_view_deinit(&live);
    json_t *fl = json_array();
    for (size_t i = 0; i < p->nfailed; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(p->failed[i].name));
        json_object_set_new(e, "reason", json_string(p->failed[i].reason ? p->failed[i].reason : ""));
        json_object_set_new(e, "attempts", json_integer((json_int_t)p->failed[i].nattempts));
        json_array_append_new(fl, e);
    }
    json_object_set_new(o, "failed_schools", fl);
    json_object_set_new(o, "iterations", json_integer(p->iterations));
    json_object_set_new(o, "avg_duration_s", json_real(f.avg_ms / 1000.0));
    json_object_set_new(o, "eta_s", f.eta_ms >= 0 ? json_real((double)f.eta_ms / 1000.0) : json_null());
    json_object_set_new(o, "cost_usd", json_real(p->cost_usd));
    json_object_set_new(o, "cost_estimated", json_boolean(p->cost_estimated));
    json_object_set_new(o, "projected_cost_usd", json_real(f.projected));
    json_object_set_new(o, "events_dropped", json_integer(p->events_dropped));
    if (p->stopped) {
        json_t *s = json_object();
        json_object_set_new(s, "reason", json_string(p->stopped->reason));
        json_object_set_new(s, "limit", p->stopped->limit ? json_string(p->stopped->limit) : json_null());
        json_object_set_new(o, "stopped", s);
    } else {
        json_object_set_new(o, "stopped", json_null());
    }
    json_object_set_new(o, "audit", audit_json(b));
    return o;
}

static void status_text(const struct rs_batch *b, pid_t holder, int64_t now)
{
    const struct rs_progress *p = b->prog;
    struct status_figures f;
    compute_figures(p, now, &f);
    char d1[32], d2[32], m1[32], m2[32];
    size_t total = p->ncompleted + p->nfailed + p->npending + rs_progress_ninflight(p);
    printf("batch %s: %zu completed, %zu failed, %zu pending (of %zu)\n", p->batch_name, p->ncompleted, p->nfailed,
           p->npending, total);
    if (holder > 0)
        printf("supervisor: running (PID %ld)\n", (long)holder);
    else if (holder < 0)
        printf("supervisor: running\n");
    else
        printf("supervisor: not running (status: %s)\n", rs_progress_status_name(p->status));
    struct rs_live_view live;
    load_live(b, holder, &live);
    if (p->current) {
        printf("current: %s · attempt %d · %s", p->current->name, p->current->attempt,
               rs_duration_format(f.current_ms, d1, sizeof d1));
        if (live.has_cost)
            printf(" · %s so far", rs_money_format(live.cost_usd, m1, sizeof m1));
        if (!holder)
            printf(" (interrupted; `ralphsup start` requeues it)");
        printf("\n");
        const char *lt = live.last_tool, *lp = live.last_progress;
        if (lt)
            printf("  last tool: %s\n", lt);
        if (lp)
            printf("  progress: %s\n", lp);
    }
    if (p->current && p->current->next) {
        printf("in progress: %zu%s\n", rs_progress_ninflight(p),
               live.jobs ? "" : (holder ? "" : " (interrupted; `ralphsup start` requeues them)"));
        for (const struct rs_current *c = p->current; c; c = c->next) {
            const struct rs_live_view_worker *w = live_worker(&live, c->name);
            printf("  %s · attempt %d · %s", c->name, c->attempt,
                   rs_duration_format(c->started_ms > 0 ? now - c->started_ms : 0, d1, sizeof d1));
            if (w && w->has_cost)
                printf(" · %s so far", rs_money_format(w->cost_usd, m1, sizeof m1));
            if (w && w->slot >= 0)
                printf(" · worker %d", w->slot + 1);
            if (w && w->waiting)
                printf(" · waiting: %s", w->waiting);
            printf("\n");
        }
    }
    if (live.jobs > 1)
        printf("jobs %d/%d%s\n", live.target, live.jobs, live.target < live.jobs ? " (rate limited)" : "");
    if (live.waiting)
        printf("waiting for %s\n", live.waiting);
    rs_live_view_deinit(&live);
    if (p->nfailed) {
        printf("failed:\n");
        for (size_t i = 0; i < p->nfailed; i++)
            printf("  %s: %s (%zu attempt%s)\n", p->failed[i].name, p->failed[i].reason ? p->failed[i].reason : "?",
                   p->failed[i].nattempts, p->failed[i].nattempts == 1 ? "" : "s");
    }
    if (f.eta_ms >= 0)
        printf("ETA: %s (average %s per completed school)\n", rs_duration_format(f.eta_ms, d1, sizeof d1),
               rs_duration_format((int64_t)f.avg_ms, d2, sizeof d2));
    else
        printf("ETA: unknown (no school completed yet)\n");
    printf("cost: %s spent%s, projected total %s\n", rs_money_format(p->cost_usd, m1, sizeof m1),
           p->cost_estimated ? " (partly estimated)" : "", rs_money_format(f.projected, m2, sizeof m2));
    if (p->stopped)
        printf("last stop: %s\n", p->stopped->reason);
    if (p->events_dropped > 0)
        printf("events: %lld could not be written to %s/events.jsonl (events_dropped in the progress file)\n",
               (long long)p->events_dropped, b->cfg->log_dir);
    audit_text(b);
}

static int status_once(const char *config, int json, const char *shard);
static int status_watch(const char *config, int json, const char *shard);

int rs_cmd_status(int argc, char **argv)
{
    if (rs_cli_wants_help(argc, argv)) {
        fputs(status_help, stdout);
        return RS_EXIT_OK;
    }
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"watch", no_argument, NULL, 'w'},
                                         {"shard", required_argument, NULL, 's'},
                                         {0, 0, 0, 0}};
    int json = 0, watch = 0, c;
    const char *shard = NULL;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'w') {
            watch = 1;
        } else if (c == 's') {
            shard = optarg;
        } else {
            fputs(status_help, stderr);
            return RS_EXIT_USAGE;
        }
    }
    const char *config;
    int ex = one_config_arg(argc, argv, "status", &config);
    if (ex)
        return ex;
    return watch ? status_watch(config, json, shard) : status_once(config, json, shard);
}

static volatile sig_atomic_t watch_interrupted;

static void on_watch_signal(int sig)
{
    (void)sig;
    watch_interrupted = 1;
}

/*
 * status --watch: the status every 2 s, like watch(1) would show it: on a
 * terminal the screen is cleared first (no colour, so NO_COLOR changes
 * nothing), otherwise each one is printed after the last, so a log or a
 * pipe keeps them all. SIGINT / SIGTERM end it with exit 0; a first
 * status that fails ends it with that status.
 */
static int status_watch(const char *config, int json, const char *shard)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_watch_signal; /* no SA_RESTART: the sleep ends at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool tty = isatty(STDOUT_FILENO);
    for (bool first = true; !watch_interrupted; first = false) {
        if (tty)
            fputs("\033[H\033[2J", stdout);
        int ex = status_once(config, json, shard);
        if (first && ex)
            return ex; /* no batch to watch (a wrong CONFIG); later failures are shown and watched on */
        if (!json && !tty)
            putchar('\n');
        if (fflush(stdout) == EOF)
            return rs_cli_flush_stdout(RS_EXIT_OK);
        struct timespec ts = {2, 0};
        while (!watch_interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
    }
    return RS_EXIT_OK;
}

static int status_once(const char *config, int json, const char *shard)
{
    int ex;
    struct rs_diags d, problems;
    rs_diags_init(&d);
    rs_diags_init(&problems);
    struct rs_batch *b = NULL;
    /* status only reads the progress file: a config with errors still locates it. */
    ex = rs_exit_code(rs_batch_open_lenient(config, (shard ? RS_BATCH_NEED_PROGRESS : 0) | RS_BATCH_SUMMARY, shard,
                                            &b, &problems, &d));
    if (problems.n)
        rs_cli_warn_lenient(config, &problems, b ? b->cfg->progress : NULL, "to show the batch");
    rs_diags_deinit(&problems);
    if (ex)
        return finish_open_error(ex, &d);
    rs_diags_deinit(&d);
    if (b->progress_state != 0) {
        /* No batch progress file: the shard files beside it, else the error it always was. */
        int n = rs_cli_status_only_shards(b, json);
        rs_batch_free(b);
        if (n > 0)
            return RS_EXIT_OK;
        rs_diags_init(&d);
        rs_diags_init(&problems);
        ex = rs_exit_code(rs_batch_open_lenient(config, RS_BATCH_NEED_PROGRESS, shard, &b, &problems, &d));
        rs_diags_deinit(&problems);
        if (ex)
            return finish_open_error(ex, &d);
        rs_diags_deinit(&d);
    }
    pid_t holder = 0;
    rs_lock_holder(b->cfg->progress, &holder);
    int64_t now = rs_now_ms();
    if (json) {
        json_t *o = status_json(b, holder, now);
        rs_cli_status_shard_json(b, o);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        puts(s);
        free(s);
        json_decref(o);
    } else {
        rs_cli_status_shard_text(b, 1);
        status_text(b, holder, now);
        rs_cli_status_shard_text(b, 0);
    }
    rs_batch_free(b);
    return RS_EXIT_OK;
}

/* ---- resume ------------------------------------------------------------------- */

static const char resume_help[] =
    "usage: ralphsup resume CONFIG\n\n"
    "Move an interrupted current school back to the front of pending (no attempt\n"
    "is burned), clear it and commit. Processes the interrupted iteration left\n"
    "behind (found by its run token, e.g. a tool started in its own session)\n"
    "are killed first and counted. Idempotent. `ralphsup start` does all this by\n"
    "itself, so resume is only needed to inspect the state before restarting.\n"
    "Exit: 0, 66 no progress file, 71 a leftover survived SIGKILL (nothing changed),\n"
    "75 a supervisor is running.\n";

/*
 * SIGKILL every process carrying @token (and their descendants), then wait
 * up to 2 s until none is left. Return: how many were signalled, or minus
 * the number still alive.
 */
static int kill_leftovers(const char *token)
{
    int killed = rs_proctree_kill_token(token, SIGKILL);
    if (killed < 0)
        killed = 0;
    int left = 0;
    for (int i = 0; i < 40; i++) {
        left = rs_proctree_count_token(token);
        if (left <= 0)
            return killed;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        rs_proctree_kill_token(token, SIGKILL);
    }
    return -left;
}

int rs_cmd_resume(int argc, char **argv)
{
    const char *config;
    int ex = config_only_command(argc, argv, "resume", resume_help, &config);
    if (ex >= 0)
        return ex;
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_batch *b = NULL;
    ex = rs_exit_code(rs_batch_open(config, RS_BATCH_LOCK | RS_BATCH_NEED_PROGRESS, &b, &d));
    if (ex)
        return finish_open_error(ex, &d);
    rs_cli_print_diags(&b->notices, "ralphsup: warning: ");
    struct rs_progress *p = b->prog;
    if (!p->current) {
        printf("nothing to resume: no current school (%zu pending)\n", p->npending);
        printf("next: ralphsup start %s\n", config);
        rs_batch_free(b);
        return RS_EXIT_OK;
    }
    /*
     * The run token is what lets crash cleanup find the interrupted
     * iteration's leftovers (tool processes in their own sessions outlive a
     * kill -9 of the supervisor). We hold the lock, so no supervisor runs
     * and every process carrying the token is a leftover: kill them now,
     * before the token is cleared with current.
     */
    int killed = 0;
    for (const struct rs_current *c = p->current; c; c = c->next) {
        const char *token = c->run_token;
        if (!token || !token[0])
            continue;
        int k = kill_leftovers(token);
        if (k < 0) {
            fprintf(stderr,
                    "ralphsup resume: %d process%s of the interrupted iteration (run token %s) survived SIGKILL; "
                    "nothing changed, so `ralphsup start %s` will try again\n",
                    -k, k == -1 ? "" : "es", token, config);
            rs_batch_free(b);
            return RS_EXIT_OSERR;
        }
        killed += k;
    }
    /* Every school in flight back at the front, in the order they were dispatched (batch order). */
    size_t nin = rs_progress_ninflight(p);
    char **names = rs_xcalloc(nin, sizeof(char *));
    size_t i = 0;
    for (const struct rs_current *c = p->current; c; c = c->next)
        names[i++] = rs_xstrdup(c->name);
    for (size_t j = nin; j > 0; j--) {
        rs_progress_remove_pending(p, names[j - 1]);
        rs_progress_push_pending(p, names[j - 1], true);
    }
    char *name = rs_xstrdup(names[0]);
    int attempt = p->current->attempt;
    int64_t iteration = p->current->iteration;
    struct rs_buf all;
    rs_buf_init(&all);
    for (size_t j = 0; j < nin; j++) {
        rs_buf_puts(&all, j ? ", " : "");
        rs_buf_puts(&all, names[j]);
        free(names[j]);
    }
    free(names);
    p->current = rs_current_free(p->current);
    p->status = RS_STATUS_STOPPED;
    char subject[512];
    rs_utf8_printf(subject, sizeof subject, "ralphsup: requeued %s (resume after interruption)", rs_buf_cstr(&all));
    char *body = rs_xasprintf("The school%s in flight when the supervisor stopped %s back at the front of "
                              "pending and no attempt was counted. %d leftover process%s of that iteration killed.",
                              nin == 1 ? " was" : "s", nin == 1 ? "is" : "are", killed, killed == 1 ? "" : "es");
    if (nin == 1) {
        free(body);
        body = rs_xasprintf("The school was current when the supervisor stopped; it is back at the front of "
                            "pending and no attempt was counted. %d leftover process%s of that iteration killed.",
                            killed, killed == 1 ? "" : "es");
    }
    struct rs_transition t = {.event = "requeued", .school = name, .attempt = attempt, .iteration = iteration,
                              .cost_usd = -1, .subject = subject, .body = body};
    struct rs_diags w;
    rs_diags_init(&w);
    ex = rs_exit_code(rs_batch_commit(b, &t, &w));
    print_warnings(&w);
    rs_diags_deinit(&w);
    if (!ex) {
        printf("requeued %s at the front of pending (%zu pending); %d leftover process%s of the interrupted "
               "iteration killed\n",
               rs_buf_cstr(&all), p->npending, killed, killed == 1 ? "" : "es");
        printf("next: ralphsup start %s\n", config);
    }
    rs_buf_deinit(&all);
    free(body);
    free(name);
    rs_batch_free(b);
    return ex;
}

/* ---- recover ------------------------------------------------------------------ */

static const char recover_help[] =
    "usage: ralphsup recover CONFIG\n\n"
    "If the progress file is missing or unreadable, restore the newest version\n"
    "from the git audit trail that parses, commit it, and say which commit it\n"
    "came from. An unreadable file is first kept next to it, as\n"
    "<progress>.corrupt-<UTC time> (e.g. batch_progress.json.corrupt-20261124T211307Z).\n"
    "Does nothing when the progress file is fine.\n";

struct recover_ctx {
    const char *origin;
    struct rs_git *git;
    const char *commit_hex; /* the commit being tried */
    struct rs_progress *found;
    char commit[48];
    char summary[256];
    char *data;
    size_t len;
};

/* The segment files a version names, from that version's commit (the next save writes them back to disk). */
static int recover_segment(void *ud, const char *rel, char **data, size_t *len)
{
    struct recover_ctx *rc = ud;
    char *dir = rs_path_dirname(rc->origin);
    char *abs = rs_path_join(dir, rel);
    char err[256];
    int r = rs_git_blob_at(rc->git, rc->commit_hex, abs, 512u << 20, data, len, err, sizeof err);
    free(abs);
    free(dir);
    return r;
}

static int recover_cb(const char *commit_hex, const char *summary, const char *data, size_t len, void *ud)
{
    struct recover_ctx *rc = ud;
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    rc->commit_hex = commit_hex;
    int r = rs_progress_parse_with(data, len, rc->origin, recover_segment, rc, &p, &d);
    rs_diags_deinit(&d);
    if (r != 0)
        return 0;
    rc->found = p;
    snprintf(rc->commit, sizeof rc->commit, "%s", commit_hex);
    snprintf(rc->summary, sizeof rc->summary, "%s", summary ? summary : "");
    return 1;
}

/*
 * Keep the unreadable progress file before it is replaced: renamed (never
 * copied through memory, whatever its size) to "<progress>.corrupt-<UTC
 * time>", "-2", "-3" ... when that exists. Return: the new path, or NULL
 * with @err set.
 */
static char *keep_corrupt_copy(const char *progress, char *err, size_t errlen)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    char *dst = rs_xasprintf("%s.corrupt-%s", progress, ts);
    for (int k = 2; rs_file_exists(dst) && k < 1000; k++) {
        free(dst);
        dst = rs_xasprintf("%s.corrupt-%s-%d", progress, ts, k);
    }
    if (rs_file_exists(dst)) {
        snprintf(err, errlen, "too many earlier copies next to it");
        free(dst);
        return NULL;
    }
    if (rename(progress, dst) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        free(dst);
        return NULL;
    }
    /* Renamed: the copy exists whatever happens next; make the rename durable before replacing the file. */
    rs_fsync_parent_dir(dst);
    return dst;
}

int rs_cmd_recover(int argc, char **argv)
{
    const char *config;
    int ex = config_only_command(argc, argv, "recover", recover_help, &config);
    if (ex >= 0)
        return ex;
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_batch *b = NULL;
    ex = rs_exit_code(rs_batch_open(config, RS_BATCH_LOCK | RS_BATCH_NO_SCHOOLS, &b, &d));
    if (ex)
        return finish_open_error(ex, &d);
    rs_cli_print_diags(&b->notices, "ralphsup: warning: ");
    if (b->progress_state == 0) {
        printf("%s is readable; nothing to recover\n", b->cfg->progress);
        rs_batch_free(b);
        return RS_EXIT_OK;
    }
    if (b->progress_state == RS_PROGRESS_E_INVALID)
        rs_cli_print_diags(&b->progress_diags, "ralphsup: damaged: ");
    if (!b->git) {
        fprintf(stderr, "ralphsup recover: [git] enabled = false, so there is no audit trail to recover from\n");
        rs_batch_free(b);
        return RS_EXIT_NOINPUT;
    }
    char *rel = rs_batch_relpath(b, b->cfg->progress);
    struct recover_ctx rc = {.origin = b->cfg->progress, .git = b->git};
    char err[512] = "";
    int r = rs_git_history_blob(b->git, rel, recover_cb, &rc, err, sizeof err);
    free(rel);
    if (r < 0) {
        fprintf(stderr, "ralphsup recover: git: %s\n", err[0] ? err : "cannot walk history");
        rs_batch_free(b);
        return RS_EXIT_IOERR;
    }
    if (!rc.found) {
        fprintf(stderr, "ralphsup recover: no readable version of %s in the audit trail\n", b->cfg->progress);
        rs_batch_free(b);
        return RS_EXIT_NOINPUT;
    }
    char *kept = NULL;
    if (b->progress_state == RS_PROGRESS_E_INVALID) {
        kept = keep_corrupt_copy(b->cfg->progress, err, sizeof err);
        if (!kept) {
            fprintf(stderr, "ralphsup recover: cannot keep a copy of %s before restoring it: %s; nothing changed\n",
                    b->cfg->progress, err);
            rs_progress_free(rc.found);
            rs_batch_free(b);
            return RS_EXIT_CANTCREAT;
        }
        printf("kept the unreadable file as %s\n", kept);
    }
    rs_progress_free(b->prog);
    b->prog = rc.found;
    char subject[512];
    rs_utf8_printf(subject, sizeof subject, "ralphsup: recovered progress file from commit %.12s", rc.commit);
    char *kept_rel = kept ? rs_batch_relpath(b, kept) : NULL;
    char *body = rs_xasprintf("The progress file was %s; restored the newest version that parses, from commit %s "
                              "(\"%s\").%s%s%s",
                              b->progress_state == RS_PROGRESS_E_NOT_FOUND ? "missing" : "unreadable", rc.commit,
                              rc.summary, kept ? " The unreadable file was kept as " : "", kept ? kept_rel : "",
                              kept ? " (not committed)." : "");
    free(kept_rel);
    free(kept);
    struct rs_transition t = {.event = "recovered", .cost_usd = -1, .subject = subject, .body = body};
    struct rs_diags w;
    rs_diags_init(&w);
    ex = rs_exit_code(rs_batch_commit(b, &t, &w));
    print_warnings(&w);
    rs_diags_deinit(&w);
    if (!ex)
        printf("restored %s from commit %.12s (%s): %zu completed, %zu failed, %zu pending\n", b->cfg->progress,
               rc.commit, rc.summary, b->prog->ncompleted, b->prog->nfailed, b->prog->npending);
    free(body);
    rs_batch_free(b);
    return ex;
}
