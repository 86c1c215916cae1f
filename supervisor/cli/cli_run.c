/* SPDX-License-Identifier: MIT */
/*
 * The commands around the supervisor: start (run the batch), stop and
 * reload (signal the running supervisor found through the lock file), and
 * replay (run a recorded transcript through the same parser and policy).
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ralphsup/store/batch.h"
#include "ralphsup/cli/cli.h"
#include "ralphsup/core/iteration.h"
#include "ralphsup/core/policy.h"
#include "ralphsup/core/stream.h"
#include "ralphsup/run/supervisor.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

/* ---- start ------------------------------------------------------------------ */

static const char start_help[] =
    "usage: ralphsup start CONFIG [--max-iterations N] [--max-runtime DURATION]\n"
    "                             [--max-cost-usd USD] [--jobs N] [--max-schools N]\n"
    "                             [--no-report] [--shard I/N | --shard auto/N]\n\n"
    "Run the batch unattended: one Claude Code iteration per school until nothing\n"
    "is pending or a limit stops it. Creates the progress file if there is none,\n"
    "and resumes an interrupted batch by itself (the interrupted school goes back\n"
    "to the front of pending; no attempt is counted).\n\n"
    "  --max-iterations N      override [limits] max_iterations: the most agent runs of\n"
    "                          the whole batch, counted in the progress file across\n"
    "                          invocations (not per run: a batch that has made 12\n"
    "                          runs stops at once with --max-iterations 12)\n"
    "  --max-runtime D         override [limits] max_runtime, the cap of this\n"
    "                          invocation (e.g. 2h, 90m; 0 = unlimited)\n"
    "  --max-cost-usd USD      override [limits] max_cost_usd, the batch's total\n"
    "                          (0 = unlimited)\n"
    "  --jobs N                override [limits] jobs: agents at once, 1 to 64, under\n"
    "                          one budget and one rate limiter (also after reloads)\n"
    "  --max-schools N         a trial run: start no more schools once N finished in\n"
    "                          this run (completed or failed), then stop cleanly, exit 0\n"
    "  --no-report             do not write the master report when the batch finishes\n"
    "  --shard I/N             run shard I of N only (overrides [batch] shard; auto/N\n"
    "                          takes I from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID):\n"
    "                          its own progress file, lock and git ref\n"
    "                          (docs/scale-out.md)\n\n"
    "Signals: SIGHUP reloads [limits]; SIGINT/SIGTERM cancel cleanly (exit 130/143),\n"
    "a second one kills at once. `ralphsup stop` and `ralphsup reload` send them.\n"
    "Exit: 0 finished (or a --max-schools trial run done), 3 limit, 65 data, 69 agent\n"
    "unavailable, 74 I/O, 75 locked or too many transient errors, 77 authentication\n"
    "failed, 78 config.\n";

/*
 * Before running: reconcile the progress file with the school list (aliases
 * resolved, duplicates merged, new schools pending, removed ones reported),
 * say each change and commit them as one "reconciled" transition; refuse
 * (65) what cannot be fixed safely. Return: 0 or an exit code.
 */
static int start_reconcile(struct rs_batch *b, const char *config)
{
    struct rs_diags changes, refused;
    rs_diags_init(&changes);
    rs_diags_init(&refused);
    int ex = 0;
    int n = rs_batch_reconcile(b, &changes, &refused);
    if (refused.n) {
        rs_cli_print_diags(&refused, "ralphsup: ");
        fprintf(stderr, "ralphsup: nothing was run or changed; fix %s as said above, then run `ralphsup start %s` "
                        "again\n",
                b->cfg->progress, config);
        ex = RS_EXIT_DATAERR;
    } else {
        rs_cli_print_diags(&changes, "ralphsup: reconciled: ");
        if (n > 0) {
            char subject[512];
            rs_utf8_printf(subject, sizeof subject, "ralphsup: reconciled batch %s with the school list (%d change%s)",
                     b->cfg->name, n, n == 1 ? "" : "s");
            char *body = rs_diags_join(&changes);
            struct rs_transition t = {.event = "reconciled", .cost_usd = -1, .subject = subject, .body = body};
            struct rs_diags w;
            rs_diags_init(&w);
            ex = rs_exit_code(rs_batch_commit(b, &t, &w));
            rs_cli_print_diags(&w, "ralphsup: warning: ");
            rs_diags_deinit(&w);
            free(body);
        }
    }
    rs_diags_deinit(&changes);
    rs_diags_deinit(&refused);
    return ex;
}

int rs_cmd_start(int argc, char **argv)
{
    if (rs_cli_help(argc, argv, start_help))
        return RS_EXIT_OK;
    static const struct option opts[] = {
        {"max-iterations", required_argument, NULL, 'i'},
        {"max-runtime", required_argument, NULL, 'r'},
        {"max-cost-usd", required_argument, NULL, 'c'},
        {"no-report", no_argument, NULL, 'n'},
        {"jobs", required_argument, NULL, 'j'},
        {"max-schools", required_argument, NULL, 's'},
        {"shard", required_argument, NULL, 'S'},
        {0, 0, 0, 0},
    };
    const char *shard = NULL;
    struct rs_run_opts ro = {.max_runtime_ms = -1, .max_cost_usd = -1, .exit_code = rs_exit_code};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'i':
            ro.max_iterations = strtoll(optarg, &end, 10);
            if (!*optarg || *end || ro.max_iterations < 1) {
                fprintf(stderr, "ralphsup start: --max-iterations expects a whole number >= 1, got \"%s\"\n", optarg);
                return RS_EXIT_USAGE;
            }
            break;
        case 'r':
            /* The config's range: 0 (unlimited) to 365 days. */
            if (rs_duration_parse(optarg, &ro.max_runtime_ms) < 0 || ro.max_runtime_ms < 0 ||
                ro.max_runtime_ms > INT64_C(365) * 24 * 3600 * 1000) {
                fprintf(stderr,
                        "ralphsup start: --max-runtime expects a duration like 90m or 2h (0 = unlimited, at most "
                        "365d), got \"%s\"\n",
                        optarg);
                return RS_EXIT_USAGE;
            }
            break;
        case 'c':
            ro.max_cost_usd = strtod(optarg, &end);
            if (!*optarg || *end || !(ro.max_cost_usd >= 0 && ro.max_cost_usd <= 1000000)) {
                fprintf(stderr,
                        "ralphsup start: --max-cost-usd expects an amount in USD from 0 (unlimited) to 1000000, got "
                        "\"%s\"\n",
                        optarg);
                return RS_EXIT_USAGE;
            }
            break;
        case 'n':
            ro.no_report = true;
            break;
        case 'j':
            ro.jobs = strtoll(optarg, &end, 10);
            if (!*optarg || *end || ro.jobs < 1 || ro.jobs > 64) {
                fprintf(stderr, "ralphsup start: --jobs expects a whole number from 1 to 64, got \"%s\"\n", optarg);
                return RS_EXIT_USAGE;
            }
            break;
        case 's':
            ro.max_schools = strtoll(optarg, &end, 10);
            if (!*optarg || *end || ro.max_schools < 1 || ro.max_schools > 1000000) {
                fprintf(stderr, "ralphsup start: --max-schools expects a whole number from 1 to 1000000, got \"%s\"\n",
                        optarg);
                return RS_EXIT_USAGE;
            }
            break;
        case 'S':
            if (rs_cli_shard_arg("start", optarg))
                return RS_EXIT_USAGE;
            shard = optarg;
            break;
        default:
            fputs(start_help, stderr);
            return RS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ralphsup start: expected exactly one CONFIG argument (see `ralphsup start --help`)\n");
        return RS_EXIT_USAGE;
    }
    const char *config = argv[optind];

    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_batch *b = NULL;
    int ex = rs_exit_code(rs_batch_open_shard(config, RS_BATCH_LOCK, shard, &b, &d));
    if (ex)
        return rs_cli_fail(&d, ex);
    rs_diags_deinit(&d);
    rs_cli_print_diags(&b->notices, "ralphsup: warning: ");
    if (b->git_created)
        fprintf(stderr, "ralphsup: created a git repository at %s for the audit trail\n", b->cfg->root);
    if (b->progress_state == RS_PROGRESS_E_INVALID) {
        rs_cli_print_diags(&b->progress_diags, "ralphsup: ");
        if (b->git)
            fprintf(stderr, "ralphsup: the progress file is unreadable; `ralphsup recover %s` keeps a copy of it and "
                            "restores the newest good version from git history\n",
                    config);
        else
            fprintf(stderr, "ralphsup: the progress file is unreadable and there is no audit trail to restore it from "
                            "([git] enabled = false): repair %s by hand (docs/progress.md), or start over with "
                            "`ralphsup init %s --reset`\n",
                    b->cfg->progress, config);
        rs_batch_free(b);
        return RS_EXIT_DATAERR;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        ro.self_exe = self;
    }
    /* Everything start checks, before it records anything (the first commit below). */
    rs_diags_init(&d);
    ex = rs_exit_code(rs_supervisor_check(b, &ro, &d));
    if (ex) {
        rs_cli_print_diags(&d, "ralphsup: ");
        fprintf(stderr, "ralphsup: nothing was started or committed (`ralphsup doctor %s` checks a batch before "
                        "start)\n",
                config);
        rs_diags_deinit(&d);
        rs_batch_free(b);
        return ex;
    }
    rs_diags_deinit(&d);
    if (b->progress_state == RS_PROGRESS_E_NOT_FOUND) {
        b->prog = rs_batch_fresh_progress(b, rs_now_ms());
        char subject[512];
        rs_utf8_printf(subject, sizeof subject, "ralphsup: initialized batch %s (%zu %s pending)", b->cfg->name,
                 b->prog->npending, rs_plural(b->prog->npending, "school", "schools"));
        struct rs_transition t = {.event = "init", .cost_usd = -1, .subject = subject};
        struct rs_diags w;
        rs_diags_init(&w);
        ex = rs_exit_code(rs_batch_commit(b, &t, &w));
        rs_cli_print_diags(&w, "ralphsup: warning: ");
        rs_diags_deinit(&w);
        if (ex) {
            rs_batch_free(b);
            return ex;
        }
    } else {
        ex = start_reconcile(b, config);
        if (ex) {
            rs_batch_free(b);
            return ex;
        }
    }
    {
        /* A run killed between save and commit (or deferred by a git lock) left the file uncommitted. */
        struct rs_diags w;
        rs_diags_init(&w);
        int cu = rs_batch_catch_up(b, &w);
        rs_cli_print_diags(&w, "ralphsup: warning: ");
        rs_diags_deinit(&w);
        if (cu == 1)
            printf("committed %s as a previous run left it (saved but not committed)\n", b->cfg->progress);
        else if (cu) {
            rs_batch_free(b);
            return rs_exit_code(cu);
        }
    }
    const struct rs_progress *p = b->prog;
    if (p->npending == 0 && !p->current && p->status == RS_STATUS_FINISHED) {
        printf("batch %s is finished: %zu completed, %zu failed; nothing to do (`ralphsup status %s` for details)\n",
               b->cfg->name, p->ncompleted, p->nfailed, config);
        rs_batch_free(b);
        return RS_EXIT_OK;
    }
    /*
     * A batch limit reached already (max_iterations counts over the whole
     * batch): say so and the way on, like a finished batch, without a new
     * commit each time. An interrupted current school is still requeued by
     * the supervisor first (that is a change worth recording).
     */
    rs_run_opts_apply(&ro, &b->cfg->limits);
    if (!p->current && p->npending > 0) {
        struct rs_batch_usage u = {.iterations = p->iterations, .cost_usd = p->cost_usd, .runtime_ms = 0};
        char reason[256];
        const char *limit = rs_policy_spawn_limit(&b->cfg->limits, &u, reason, sizeof reason);
        if (limit) {
            char *hint = rs_supervisor_limit_hint(b, limit);
            fprintf(stderr, "ralphsup: batch %s stays stopped: %s (%zu pending; nothing started, nothing "
                            "committed)\nralphsup: %s\n",
                    b->cfg->name, reason, p->npending, hint ? hint : "raise the limit");
            free(hint);
            rs_batch_free(b);
            return RS_EXIT_LIMIT;
        }
    }
    const char *term = getenv("TERM");
    ro.tty = isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0);
    ex = rs_exit_code(rs_supervisor_run(b, &ro));
    rs_batch_free(b);
    return ex;
}

/* ---- stop / reload ------------------------------------------------------------ */

static const char stop_help[] =
    "usage: ralphsup stop CONFIG [--wait] [--shard I/N]\n\n"
    "Ask the supervisor running this batch to cancel cleanly (SIGTERM): the\n"
    "current school goes back to the front of pending and nothing is lost.\n"
    "  --wait          wait until the supervisor has exited\n"
    "  --shard I/N     the supervisor of shard I of N (`start --shard`)\n"
    "Works with a config that no longer validates (a typo made while the batch\n"
    "runs): then only [batch] root and progress are read, with a warning.\n"
    "Exit: 0 signalled, 66 no config file, 69 no supervisor is running.\n";

static const char reload_help[] =
    "usage: ralphsup reload CONFIG [--shard I/N]\n\n"
    "Validate CONFIG, then ask the running supervisor to re-read its [limits]\n"
    "(SIGHUP). The change is logged and committed.\n"
    "  --shard I/N     the supervisor of shard I of N (`start --shard`)\n"
    "Exit: 0 signalled, 69 no supervisor is running, 78 bad config.\n";

static int signal_supervisor(int argc, char **argv, const char *cmd, const char *help, int sig)
{
    if (rs_cli_help(argc, argv, help))
        return RS_EXIT_OK;
    static const struct option opts[] = {
        {"wait", no_argument, NULL, 'w'}, {"shard", required_argument, NULL, 'S'}, {0, 0, 0, 0}};
    int wait = 0, c;
    const char *shard = NULL;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'w' && sig == SIGTERM) {
            wait = 1;
        } else if (c == 'S') {
            if (rs_cli_shard_arg(cmd, optarg))
                return RS_EXIT_USAGE;
            shard = optarg;
        } else {
            fputs(help, stderr);
            return RS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ralphsup %s: expected exactly one CONFIG argument\n", cmd);
        return RS_EXIT_USAGE;
    }
    struct rs_diags d, problems;
    rs_diags_init(&d);
    rs_diags_init(&problems);
    struct rs_batch *b = NULL;
    int ex;
    if (sig == SIGHUP) {
        /* reload exists to apply the config: an invalid one is refused, nothing is signalled. */
        ex = rs_exit_code(rs_batch_open_shard(argv[optind], RS_BATCH_NO_GIT | RS_BATCH_NO_SCHOOLS, shard, &b, &d));
    } else {
        /* stop needs only the lock next to the progress file. */
        ex = rs_exit_code(rs_batch_open_lenient(argv[optind], 0, shard, &b, &problems, &d));
    }
    if (problems.n)
        rs_cli_warn_lenient(argv[optind], &problems, b ? b->cfg->progress : NULL, "to find the supervisor");
    if (ex) {
        rs_cli_print_diags(&d, "ralphsup: ");
        rs_diags_deinit(&d);
        rs_diags_deinit(&problems);
        return ex;
    }
    rs_diags_deinit(&problems);
    rs_diags_deinit(&d);
    pid_t holder = 0;
    int r = rs_lock_holder(b->cfg->progress, &holder);
    if (r < 0 || holder == 0) {
        fprintf(stderr, "ralphsup %s: no supervisor is running batch %s (no lock held on %s.lock)\n", cmd, b->cfg->name,
                b->cfg->progress);
        rs_batch_free(b);
        return RS_EXIT_UNAVAILABLE;
    }
    if (holder < 0 || kill(holder, sig) < 0) {
        fprintf(stderr, "ralphsup %s: cannot signal the supervisor (PID %ld): %s\n", cmd, (long)holder,
                holder < 0 ? "PID not recorded yet, try again" : strerror(errno));
        rs_batch_free(b);
        return RS_EXIT_UNAVAILABLE;
    }
    printf("sent %s to ralphsup PID %ld (batch %s)\n", sig == SIGTERM ? "SIGTERM" : "SIGHUP", (long)holder,
           b->cfg->name);
    if (wait) {
        for (;;) {
            pid_t h = 0;
            if (rs_lock_holder(b->cfg->progress, &h) < 0 || h == 0)
                break;
            rs_sleep_ms(100);
        }
        printf("supervisor exited\n");
    }
    rs_batch_free(b);
    return RS_EXIT_OK;
}

int rs_cmd_stop(int argc, char **argv)
{
    return signal_supervisor(argc, argv, "stop", stop_help, SIGTERM);
}

int rs_cmd_reload(int argc, char **argv)
{
    return signal_supervisor(argc, argv, "reload", reload_help, SIGHUP);
}

/* ---- replay ---------------------------------------------------------------------- */

static const char replay_help[] =
    "usage: ralphsup replay TRANSCRIPT [--config CONFIG] [--school NAME] [--exit-code N]\n"
    "                                  [--quiet]\n\n"
    "Run a recorded stream-json transcript (logs/<iteration>-<slug>.jsonl or any\n"
    "`claude -p --output-format stream-json` output) through the supervisor's own\n"
    "parser and policy, and print what it would decide: markers, tools, cost,\n"
    "the verdict and its reason. A RALPH_DONE is verified against the CSV on disk\n"
    "(paths from CONFIG). Without --config the config is looked for above the\n"
    "transcript (a *.toml or config/*.toml whose log_dir holds it); when none is\n"
    "found a RALPH_DONE's verdict is \"unverified\".\n"
    "  --school NAME    the current school (default: accept markers for any school)\n"
    "  --exit-code N    the agent's exit code to assume (default 0)\n"
    "  --quiet          print only the summary (used by bench/bench_stream.sh)\n";

struct replay_ctx {
    struct rs_iteration *it;
    bool quiet;
    enum rs_iter_action action;
};

static void replay_note(void *ud, const char *kind, const char *msg)
{
    struct replay_ctx *rc = ud;
    if (!rc->quiet)
        printf("%-18s %s\n", kind, msg);
}

static void replay_event(const struct rs_stream_event *ev, void *ud)
{
    struct replay_ctx *rc = ud;
    enum rs_iter_action a = rs_iteration_on_event(rc->it, ev);
    if (a != RS_ITER_CONTINUE && rc->action == RS_ITER_CONTINUE) {
        rc->action = a;
        if (!rc->quiet)
            printf("%-18s the supervisor would stop the agent here: %s\n", "decision",
                   rs_iteration_kill_detail(rc->it));
    }
}

/* The first config in @pattern (a glob) whose log_dir is @logdir; caller frees. */
static char *config_with_log_dir(const char *pattern, const char *logdir)
{
    char *found = NULL;
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        return NULL;
    for (size_t i = 0; i < g.gl_pathc && i < 32 && !found; i++) {
        struct rs_diags d;
        rs_diags_init(&d);
        struct rs_config *cfg = NULL;
        if (rs_config_load(g.gl_pathv[i], &cfg, &d) == 0 && strcmp(cfg->log_dir, logdir) == 0)
            found = rs_xstrdup(g.gl_pathv[i]);
        rs_config_free(cfg);
        rs_diags_deinit(&d);
    }
    globfree(&g);
    return found;
}

/*
 * Without --config: the config of the batch the transcript belongs to, the
 * first *.toml (in a directory or its config/ subdirectory, walking up from
 * the transcript's directory, at most 8 levels) that loads and whose
 * log_dir is the transcript's directory. Caller frees; NULL if none.
 */
static char *find_config_for(const char *transcript)
{
    if (strcmp(transcript, "-") == 0)
        return NULL;
    char *abs = rs_path_absolute(transcript); /* normalised */
    char *logdir = rs_path_dirname(abs);
    free(abs);
    char *dir = rs_xstrdup(logdir), *found = NULL;
    for (int level = 0; level < 8 && !found; level++) {
        const char *pats[] = {"*.toml", "config/*.toml"};
        for (size_t k = 0; k < RS_ARRAY_SIZE(pats) && !found; k++) {
            char *pat = rs_path_join(dir, pats[k]);
            found = config_with_log_dir(pat, logdir);
            free(pat);
        }
        if (strcmp(dir, "/") == 0)
            break;
        char *up = rs_path_dirname(dir);
        free(dir);
        dir = up;
    }
    free(dir);
    free(logdir);
    return found;
}

int rs_cmd_replay(int argc, char **argv)
{
    if (rs_cli_help(argc, argv, replay_help))
        return RS_EXIT_OK;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"school", required_argument, NULL, 's'},
        {"exit-code", required_argument, NULL, 'e'}, {"quiet", no_argument, NULL, 'q'}, {0, 0, 0, 0},
    };
    const char *config = NULL, *school = "";
    int exit_code = 0, c;
    bool quiet = false;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 's': school = optarg; break;
        case 'e': exit_code = atoi(optarg); break;
        case 'q': quiet = true; break;
        default: fputs(replay_help, stderr); return RS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ralphsup replay: expected exactly one TRANSCRIPT argument\n");
        return RS_EXIT_USAGE;
    }
    const char *path = argv[optind];
    char *found_config = NULL;
    if (!config) {
        found_config = find_config_for(path);
        config = found_config;
        if (config)
            fprintf(stderr, "ralphsup replay: no --config; using %s (its log_dir holds the transcript)\n", config);
    }
    bool unverifiable = !config;
    struct rs_config *cfg = NULL;
    struct rs_batch *b = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    const struct rs_school *scp = NULL; /* the school, when --school named one of the batch */
    if (config) {
        int ex = rs_exit_code(rs_batch_open(config, RS_BATCH_NO_GIT, &b, &d));
        free(found_config);
        found_config = NULL;
        if (ex)
            return rs_cli_fail(&d, ex);
        cfg = b->cfg;
        if (school[0]) {
            const struct rs_school *sc = rs_batch_school(b, school);
            if (!sc) {
                fprintf(stderr, "ralphsup replay: school \"%s\" is not in %s\n", school, cfg->schools);
                rs_batch_free(b);
                return RS_EXIT_USAGE;
            }
            school = sc->name;
            scp = sc;
        }
    } else {
        char *dir = rs_path_dirname(path);
        cfg = rs_config_new_defaults(dir);
        free(dir);
    }
    rs_diags_deinit(&d);

    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ralphsup replay: %s: %s\n", path, strerror(errno));
        if (b)
            rs_batch_free(b);
        else
            rs_config_free(cfg);
        return RS_EXIT_NOINPUT;
    }
    struct replay_ctx rc = {.quiet = quiet};
    /* No attempt start: a replay cannot tell when the CSV was written, so its mtime is not checked. */
    struct rs_iteration_opts io = {.cfg = cfg, .aliases = b ? b->aliases : NULL, .school = school,
                                   .school_slug = scp ? scp->slug : NULL, .note = replay_note, .ud = &rc,
                                   .email_domains = scp ? (const char *const *)scp->email_domains : NULL,
                                   .nemail_domains = scp ? scp->nemail_domains : 0};
    rs_iteration_new(&io, &rc.it);
    struct rs_stream *st = NULL;
    struct rs_stream_opts so = {.max_line_bytes = (size_t)cfg->limits.max_line_bytes};
    rs_stream_new(&so, replay_event, &rc, &st);
    static char buf[1 << 16];
    size_t n;
    int64_t t0 = rs_mono_ms();
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        rs_stream_feed(st, buf, n);
    rs_stream_finish(st);
    int64_t elapsed = rs_mono_ms() - t0;
    if (f != stdin)
        fclose(f);

    enum rs_kill_reason killed = rc.action == RS_ITER_KILL_REPEAT ? RS_KILL_REPEAT
                                 : rc.action == RS_ITER_KILL_AUTH ? RS_KILL_AUTH
                                                                  : RS_KILL_NONE;
    struct rs_iter_obs obs;
    rs_iteration_finish(rc.it, 0, true, exit_code, 0, killed, rs_iteration_kill_detail(rc.it), NULL, &obs);
    struct rs_verdict v;
    rs_policy_classify(&obs, &v);
    struct rs_stream_stats stats;
    rs_stream_get_stats(st, &stats);
    bool est;
    double cost = rs_iteration_cost(rc.it, &est);
    struct rs_iteration_counts k;
    rs_iteration_counts(rc.it, &k);
    double mib = (double)stats.bytes / (1024.0 * 1024.0);
    printf("lines %llu (%llu JSON, %llu not JSON, %llu over max_line_bytes), %.1f MiB in %.3f s (%.0f MiB/s), longest "
           "line %zu bytes\n",
           (unsigned long long)stats.lines, (unsigned long long)stats.json_events, (unsigned long long)stats.non_json,
           (unsigned long long)stats.oversize, mib, (double)elapsed / 1000.0,
           elapsed > 0 ? mib / ((double)elapsed / 1000.0) : 0.0, stats.longest_line);
    printf("api messages %lld, tool calls %lld, api retries %lld, permission denials %lld\n",
           (long long)k.api_messages, (long long)k.tool_calls, (long long)k.api_retries,
           (long long)k.permission_denials);
    printf("cost $%.6f%s\n", cost, est ? " (estimated from usage: no result line)" : "");
    if (unverifiable && obs.done_marker && !obs.done_verified)
        /* Without the batch's config the output directory is unknown: no verdict on the CSV. */
        printf("verdict: unverified — RALPH_DONE seen, but no --config: cannot verify the CSV (pass --config CONFIG; "
               "no config whose log_dir holds the transcript was found above it)\n");
    else
        printf("verdict: %s%s — %s\n", rs_verdict_class(v.kind), v.permanent ? " (permanent)" : "", v.reason);
    rs_stream_free(st);
    rs_iteration_free(rc.it);
    if (b)
        rs_batch_free(b);
    else
        rs_config_free(cfg);
    return RS_EXIT_OK;
}
