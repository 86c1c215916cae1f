/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup doctor`: the pre-flight checklist (see doctor.h and
 * docs/doctor.md). Each check prints one line, "✓" ok, "!" warning, "✗"
 * problem or "-" skipped, followed by indented details and a "fix:" hint.
 * Only "✗" makes the exit status 1. There is no colour, so NO_COLOR and
 * dumb terminals need no special case.
 *
 * Doctor reads and never writes: it does not create the repository, the
 * progress file or any directory, does not prune the cache, and probes the
 * lock without taking it. It runs two external programs at most (the agent
 * with --version, and curl with --online), each with a 10 s deadline; it
 * runs no libuv loop, so it waits for exactly the children it forked.
 */
#define _GNU_SOURCE /* pipe2, nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#include "ralphsup/cli/cli.h"
#include "ralphsup/core/config.h"
#include "ralphsup/cli/doctor.h"
#include "ralphsup/store/gitaudit.h"
#include "ralphsup/store/lock.h"
#include "ralphsup/store/progress.h"
#include "ralphsup/core/prompt.h"
#include "ralphsup/run/runner.h"
#include "ralphsup/run/sandbox.h"
#include "ralphsup/core/schools.h"
#include "ralphsup/run/settings.h"
#include "ralphsup/base/util.h"

extern char **environ;

/* Deadline of each external program. */
#define RUN_TIMEOUT_MS 10000
/* Bytes of an external program's output kept. */
#define RUN_OUTPUT_MAX 4096
/* Diagnostics printed under one check. */
#define MAX_DETAILS 20

static const char doctor_help[] =
    "usage: ralphsup doctor CONFIG [--online]\n\n"
    "Check that a batch is ready to run, one line per check:\n"
    "  ✓ ok   ! warning (the run can start)   ✗ problem (fix it first)   - skipped\n"
    "Checks: config, school list and aliases, progress file, prompt template,\n"
    "hook settings fragments, agent command and version, [notify] command,\n"
    "model price, credentials, API reachability (--online only), git repository\n"
    "and identity, free disk, the Landlock fence (ABI, the rules an iteration\n"
    "gets, a live check), stale cache files, supervisor lock.\n"
    "Nothing is changed. Reference: docs/doctor.md.\n"
    "  --online   also send one HTTPS request to the API (needs curl)\n"
    "Exit: 0 no problem (warnings allowed), 1 at least one problem, 64 usage.\n";

enum level { OK, WARN, FAIL, SKIP };

struct doctor {
    int problems;
    int warnings;
    struct rs_config *cfg;
    struct rs_aliases *aliases;
    struct rs_school_list *schools;
    struct rs_progress *prog;
};

/*----------------------------------------------------------------------------*/
/* Output                                                                     */

static void line(struct doctor *d, enum level lv, const char *name, const char *fmt, ...) RS_PRINTF(4, 5);
static void line(struct doctor *d, enum level lv, const char *name, const char *fmt, ...)
{
    static const char *const mark[] = {"✓", "!", "✗", "-"};
    if (lv == FAIL)
        d->problems++;
    if (lv == WARN)
        d->warnings++;
    va_list ap;
    va_start(ap, fmt);
    char *msg = rs_xvasprintf(fmt, ap);
    va_end(ap);
    printf("%s %-12s %s\n", mark[lv], name, msg);
    free(msg);
}

static void detail(const char *fmt, ...) RS_PRINTF(1, 2);
static void detail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = rs_xvasprintf(fmt, ap);
    va_end(ap);
    printf("  %-12s %s\n", "", msg);
    free(msg);
}

static void details(const struct rs_diags *dg)
{
    for (size_t i = 0; i < dg->n && i < MAX_DETAILS; i++)
        detail("%s", dg->msgs[i]);
    if (dg->n > MAX_DETAILS)
        detail("... and %zu more", dg->n - MAX_DETAILS);
}

/* @p relative to the batch root when inside it (for shorter lines); caller frees. */
static char *rel(const struct doctor *d, const char *p)
{
    return rs_config_relpath(d->cfg, p);
}

/*----------------------------------------------------------------------------*/
/* Running a program with a deadline                                          */

/*
 * Run @argv (argv[0] a path) with @envp (NULL: ours), stdin /dev/null,
 * stdout (and stderr when @merge) captured into @out (first RUN_OUTPUT_MAX
 * bytes), in its own process group, killed with it after RUN_TIMEOUT_MS.
 * Return: 0 with *status the wait status, -ETIMEDOUT, or negative errno.
 */
static int run_capture(const char *const *argv, char *const *envp, bool merge, struct rs_buf *out, int *status)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int r = -errno;
        close(fds[0]);
        close(fds[1]);
        return r;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL); /* main.c ignores it; an ignored signal survives exec */
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fds[1], 1);
        if (merge)
            dup2(fds[1], 2);
        else if (devnull >= 0)
            dup2(devnull, 2);
        execve(argv[0], (char *const *)argv, envp ? envp : environ);
        _exit(127);
    }
    close(fds[1]);
    int64_t deadline = rs_mono_ms() + RUN_TIMEOUT_MS;
    int r = 0;
    for (;;) {
        int64_t left = deadline - rs_mono_ms();
        if (left <= 0) {
            r = -ETIMEDOUT;
            break;
        }
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&pf, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            r = pr == 0 ? -ETIMEDOUT : -errno;
            break;
        }
        char chunk[1024];
        ssize_t n = read(fds[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out->len < RUN_OUTPUT_MAX)
            rs_buf_append(out, chunk, (size_t)n < RUN_OUTPUT_MAX - out->len ? (size_t)n : RUN_OUTPUT_MAX - out->len);
    }
    close(fds[0]);
    if (r < 0)
        kill(-pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    /* Descendants that kept the pipe open are gone with the group either way. */
    kill(-pid, SIGKILL);
    *status = st;
    return r;
}

/* First line of @b (trimmed), at most 200 bytes; caller frees. */
static char *first_line(struct rs_buf *b)
{
    const char *s = rs_buf_cstr(b) + strspn(rs_buf_cstr(b), " \t\n\r");
    size_t n = strcspn(s, "\r\n");
    rs_trim_blanks(&s, &n);
    return rs_xstrndup(s, n > 200 ? 200 : n);
}

static const char *describe_status(int st, char *buf, size_t n)
{
    if (WIFEXITED(st))
        snprintf(buf, n, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, n, "signal %d", WTERMSIG(st));
    else
        snprintf(buf, n, "status %d", st);
    return buf;
}

/* Our environment with [agent] env applied over it (what the agent sees). */
static char **agent_environ(const struct rs_config *cfg)
{
    char **vars = rs_xcalloc(cfg->nenv + 1, sizeof(char *));
    for (size_t j = 0; j < cfg->nenv; j++)
        vars[j] = rs_xasprintf("%s=%s", cfg->env[j].key, cfg->env[j].value);
    char **env = rs_env_merge(environ, vars, cfg->nenv, NULL, 0);
    rs_strv_free(vars);
    return env;
}

/* The value of @key the agent will see: [agent] env first, then ours. Sets *where. */
static const char *agent_var(const struct rs_config *cfg, const char *key, const char **where)
{
    for (size_t i = 0; i < cfg->nenv; i++) {
        if (strcmp(cfg->env[i].key, key) == 0) {
            *where = "[agent] env";
            return cfg->env[i].value;
        }
    }
    *where = "the environment";
    return getenv(key);
}

/*----------------------------------------------------------------------------*/
/* Checks                                                                     */

static bool check_config(struct doctor *d, const char *path)
{
    struct rs_diags dg;
    rs_diags_init(&dg);
    int r = rs_config_load(path, &d->cfg, &dg);
    if (r == 0) {
        line(d, OK, "config", "%s (batch \"%s\", root %s)", d->cfg->path, d->cfg->name ? d->cfg->name : "",
             d->cfg->root);
    } else if (r < 0) {
        line(d, FAIL, "config", "cannot read %s: %s", path, strerror(-r));
        detail("fix: pass the path of the batch's .toml file (see config/west.toml)");
    } else {
        line(d, FAIL, "config", "%s is invalid (%zu problem%s)", path, dg.n, dg.n == 1 ? "" : "s");
        details(&dg);
        detail("fix: correct the keys above; every key is described in docs/config.md");
    }
    rs_diags_deinit(&dg);
    return r == 0;
}

static void check_schools(struct doctor *d)
{
    struct rs_config *cfg = d->cfg;
    struct rs_diags dg;
    rs_diags_init(&dg);
    int r = rs_aliases_load(cfg->aliases, &d->aliases, &dg);
    if (r != 0) {
        char *ra = rel(d, cfg->aliases);
        if (r < 0)
            line(d, FAIL, "aliases", "cannot read %s: %s", ra, strerror(-r));
        else
            line(d, FAIL, "aliases", "%s is invalid", ra);
        details(&dg);
        detail("fix: correct the alias table (docs/schools.md) or remove [batch] aliases");
        free(ra);
        rs_diags_deinit(&dg);
        return;
    }
    char *rsch = rel(d, cfg->schools);
    r = rs_schools_load(cfg->schools, d->aliases, &d->schools, &dg);
    if (r == 0) {
        rs_schools_sort(d->schools, cfg->order);
        if (cfg->aliases) {
            char *ra = rel(d, cfg->aliases);
            line(d, OK, "schools", "%zu %s in %s, aliases from %s", d->schools->n,
                 rs_plural(d->schools->n, "school", "schools"), rsch, ra);
            free(ra);
        } else {
            line(d, OK, "schools", "%zu %s in %s (no alias table)", d->schools->n,
                 rs_plural(d->schools->n, "school", "schools"), rsch);
        }
        if (d->schools->n == 0) {
            d->problems++;
            detail("✗ the list is empty: there is nothing to run");
        }
    } else if (r < 0) {
        line(d, FAIL, "schools", "cannot read %s: %s", rsch, strerror(-r));
        detail("fix: create the school list or correct [batch] schools");
    } else {
        line(d, FAIL, "schools", "%s is invalid (%zu problem%s)", rsch, dg.n, dg.n == 1 ? "" : "s");
        details(&dg);
        detail("fix: correct the entries above (format: docs/schools.md)");
    }
    free(rsch);
    rs_diags_deinit(&dg);
}

static void check_progress(struct doctor *d)
{
    struct rs_diags dg;
    rs_diags_init(&dg);
    char *rp = rel(d, d->cfg->progress);
    int r = rs_progress_load(d->cfg->progress, &d->prog, &dg);
    if (r == 0) {
        const struct rs_progress *p = d->prog;
        line(d, OK, "progress", "%s: %zu pending, %zu completed, %zu failed (status %s)", rp, p->npending,
             p->ncompleted, p->nfailed, rs_progress_status_name(p->status));
    } else if (r == RS_PROGRESS_E_NOT_FOUND) {
        line(d, OK, "progress", "%s does not exist yet; `ralphsup init` or `start` creates it", rp);
    } else if (r < 0) {
        line(d, FAIL, "progress", "cannot read %s: %s", rp, strerror(-r));
    } else {
        line(d, FAIL, "progress", "%s is unreadable", rp);
        details(&dg);
        if (d->cfg->git_enabled)
            detail("fix: `ralphsup recover %s` restores it from the git audit trail", d->cfg->path);
        else
            detail("fix: repair it by hand (docs/progress.md) or start over with `ralphsup init %s --reset`; "
                   "`recover` needs the git audit trail, which is off ([git] enabled = false)",
                   d->cfg->path);
    }
    free(rp);
    rs_diags_deinit(&dg);
}

/* The school the next iteration would run: first pending, else the list's first. */
static const struct rs_school *next_school(const struct doctor *d)
{
    if (!d->schools || d->schools->n == 0)
        return NULL;
    if (d->prog && d->prog->npending > 0) {
        const struct rs_school *s = rs_schools_find(d->schools, d->aliases, d->prog->pending[0]);
        if (s)
            return s;
    }
    return &d->schools->v[0];
}

static void check_prompt(struct doctor *d)
{
    struct rs_config *cfg = d->cfg;
    struct rs_diags dg;
    rs_diags_init(&dg);
    struct rs_prompt *pr = NULL;
    char *rp = rel(d, cfg->prompt);
    int r = rs_prompt_load(cfg->prompt, &pr, &dg);
    if (r != 0) {
        if (r < 0)
            line(d, FAIL, "prompt", "cannot read %s: %s", rp, strerror(-r));
        else
            line(d, FAIL, "prompt", "%s is invalid", rp);
        details(&dg);
        detail("fix: %s", r < 0 ? "create the template or correct [batch] prompt"
                                : "use only the placeholders listed in docs/config.md");
        free(rp);
        rs_diags_deinit(&dg);
        return;
    }
    const struct rs_school *s = next_school(d);
    struct rs_school example = {
        .name = (char *)"Example University", .conference = (char *)"Example", .state = (char *)"CA",
        .slug = (char *)"example-university",
    };
    if (!s)
        s = &example;
    char *csv = rs_config_output_csv(cfg, s->slug);
    char *csv_rel = rs_config_relpath(cfg, csv);
    struct rs_prompt_vars pv = {
        .school_name = s->name,
        .school_conference = s->conference ? s->conference : "",
        .school_state = s->state ? s->state : "",
        .school_slug = s->slug,
        .output_csv = csv,
        .output_csv_rel = csv_rel,
        .attempt = 1,
        .max_attempts = (int)cfg->limits.max_attempts_per_school,
        .previous_failure = "",
        .batch_name = cfg->name ? cfg->name : "",
        .school_athletics_url = s->athletics_url ? s->athletics_url : "",
        .cache_dir = cfg->cache_dir ? cfg->cache_dir : "",
        .budget_usd = "unlimited",
    };
    char *text = rs_prompt_render(pr, &pv);
    size_t len = text ? strlen(text) : 0;
    if (len == 0)
        line(d, FAIL, "prompt", "%s renders to an empty prompt", rp);
    else
        line(d, OK, "prompt", "%s renders for %s%s (%zu bytes)", rp, s->name,
             s == &example ? " (a made-up school)" : "", len);
    free(text);
    free(csv);
    free(csv_rel);
    rs_prompt_free(pr);
    free(rp);
    rs_diags_deinit(&dg);
}

/* The user's hook fragments, validated exactly as start merges them (rs_settings_build). */
static void check_hooks(struct doctor *d)
{
    char *dir = rs_path_join(d->cfg->root, "hooks");
    char *pat = rs_path_join(dir, "*.settings.json");
    size_t n = 0;
    glob_t g;
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *base = strrchr(g.gl_pathv[i], '/');
            if (strcmp(base ? base + 1 : g.gl_pathv[i], "guard.settings.json") != 0)
                n++;
        }
        globfree(&g);
    }
    free(pat);
    struct rs_diags dg;
    rs_diags_init(&dg);
    char *json = NULL;
    int r = rs_settings_build(dir, NULL, &json, &dg);
    char *rd = rel(d, dir);
    if (r == 0 && n == 0)
        line(d, OK, "hooks", "no %s/<name>.settings.json fragments (only the guard is passed)", rd);
    else if (r == 0)
        line(d, OK, "hooks", "%zu fragment%s in %s/ merged with the guard", n, n == 1 ? "" : "s", rd);
    else {
        if (r < 0)
            line(d, FAIL, "hooks", "cannot read the fragments in %s/: %s", rd, strerror(-r));
        else
            line(d, FAIL, "hooks", "invalid hook settings fragment in %s/ (start refuses it, exit 78)", rd);
        details(&dg);
        detail("fix: a fragment is {\"hooks\": {\"<Event>\": [{\"matcher\": \"...\", \"hooks\": [...]}]}} and "
               "nothing else (hooks/README.md); correct or remove it");
    }
    free(rd);
    free(json);
    rs_diags_deinit(&dg);
    free(dir);
}

/* Why rs_runner_resolve_command() found no program (@r < 0). */
static const char *unresolved(int r)
{
    return r == -ENOENT ? "not found" : r == -EACCES ? "is not an executable file" : strerror(-r);
}

static void check_agent(struct doctor *d)
{
    struct rs_config *cfg = d->cfg;
    char *path = NULL;
    int r = rs_runner_resolve_command(cfg->command, getenv("PATH"), cfg->root, &path);
    if (r < 0) {
        line(d, FAIL, "agent", "command \"%s\" %s", cfg->command, unresolved(r));
        if (!strchr(cfg->command, '/'))
            detail("PATH=%s", getenv("PATH") ? getenv("PATH") : "(unset)");
        detail("fix: install Claude Code (npm install -g @anthropic-ai/claude-code), or set [agent] command "
               "in %s to its path", cfg->path);
        return;
    }
    const char *argv[] = {path, "--version", NULL};
    char **env = agent_environ(cfg);
    struct rs_buf out;
    rs_buf_init(&out);
    int st = 0;
    r = run_capture(argv, env, true, &out, &st);
    char *first = first_line(&out);
    char sbuf[32];
    if (r == -ETIMEDOUT) {
        line(d, WARN, "agent", "%s found, but `--version` did not answer within %d s", path, RUN_TIMEOUT_MS / 1000);
        detail("fix: run `%s --version` by hand to see what it waits for", path);
    } else if (r < 0) {
        line(d, WARN, "agent", "%s found, but cannot run it: %s", path, strerror(-r));
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !*first) {
        line(d, WARN, "agent", "%s found, but `--version` failed (%s)%s%s", path,
             describe_status(st, sbuf, sizeof(sbuf)), *first ? ": " : "", first);
        detail("fix: run `%s --version` by hand; reinstall the agent if it fails", path);
    } else {
        line(d, OK, "agent", "%s, version %s", path, first);
    }
    free(first);
    rs_buf_deinit(&out);
    rs_strv_free(env);
    free(path);
}

/*
 * The [notify] command is found the way `start` runs it (PATH, or relative to
 * the root when it contains '/'). Not found is a warning, not a problem: a
 * notification that cannot start is said on stderr and never changes the batch.
 */
static void check_notify(struct doctor *d)
{
    struct rs_config *cfg = d->cfg;
    if (!cfg->notify_command) {
        line(d, SKIP, "notify", "no [notify] command");
        return;
    }
    const char *cmd = cfg->notify_command[0];
    char *path = NULL;
    int r = rs_runner_resolve_command(cmd, getenv("PATH"), cfg->root, &path);
    if (r < 0) {
        line(d, WARN, "notify", "command \"%s\" %s: every notification would fail", cmd, unresolved(r));
        detail("fix: set [notify] command in %s to a program that exists (an argv, no shell; relative to the "
               "root when it contains '/')",
               cfg->path);
        return;
    }
    size_t nev = cfg->notify_events ? cfg->nnotify_events : rs_notify_nevents;
    line(d, OK, "notify", "%s, for %zu event%s (timeout %lld s)", path, nev, nev == 1 ? "" : "s",
         (long long)(cfg->notify_timeout_ms / 1000));
    free(path);
}

/*
 * The model the agent is told to use ([agent] model or a --model in args) has
 * a price in [prices], or the cost estimate falls back to "*".
 */
static void check_prices(struct doctor *d)
{
    const struct rs_config *cfg = d->cfg;
    const char *model = rs_config_agent_model(cfg);
    if (!model) {
        line(d, SKIP, "prices", "no --model configured: the CLI's default model is checked at run time");
        return;
    }
    const struct rs_price *p = rs_config_price(cfg, model);
    char in[32], out[32];
    if (!rs_config_price_known(cfg, model)) {
        line(d, WARN, "prices", "no price for %s; estimates use '*' (%s / %s per million input / output tokens)",
             model, rs_money_format(p->input_per_mtok, in, sizeof in),
             rs_money_format(p->output_per_mtok, out, sizeof out));
        detail("fix: add [prices.\"%s\"] with input and output (USD per million tokens) to %s", model, cfg->path);
        return;
    }
    line(d, OK, "prices", "%s priced as \"%s\" (%s / %s per million input / output tokens)", model, p->model,
         rs_money_format(p->input_per_mtok, in, sizeof in), rs_money_format(p->output_per_mtok, out, sizeof out));
}

/* Claude Code's config directory: $CLAUDE_CONFIG_DIR or ~/.claude; caller frees, NULL if unknown. */
static char *claude_dir(void)
{
    const char *c = getenv("CLAUDE_CONFIG_DIR");
    if (c && *c)
        return rs_xstrdup(c);
    const char *home = getenv("HOME");
    return home && *home ? rs_path_join(home, ".claude") : NULL;
}

static void check_credentials(struct doctor *d)
{
    static const char *const vars[] = {"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"};
    for (size_t i = 0; i < RS_ARRAY_SIZE(vars); i++) {
        const char *where;
        const char *v = agent_var(d->cfg, vars[i], &where);
        if (v && *v) {
            /* The value is never printed, not even in part. */
            line(d, OK, "credentials", "%s is set (in %s)", vars[i], where);
            return;
        }
    }
    char *dir = claude_dir();
    char *file = dir ? rs_path_join(dir, ".credentials.json") : NULL;
    if (file && rs_file_exists(file)) {
        line(d, OK, "credentials", "logged-in Claude Code (%s)", file);
    } else {
        line(d, FAIL, "credentials", "no ANTHROPIC_API_KEY, no CLAUDE_CODE_OAUTH_TOKEN and no %s",
             file ? file : "~/.claude/.credentials.json");
        detail("fix: export ANTHROPIC_API_KEY (or put it in [agent.env]), or log in once with `claude` (/login)");
    }
    free(file);
    free(dir);
}

/* Words for curl's most common exit codes. */
static const char *curl_error(int code)
{
    switch (code) {
    case 6:
        return "could not resolve the host";
    case 7:
        return "could not connect";
    case 28:
        return "timed out";
    case 35:
        return "TLS handshake failed";
    case 60:
        return "TLS certificate not trusted";
    default:
        return "curl failed";
    }
}

static void check_api(struct doctor *d, bool online)
{
    const char *where;
    const char *base = agent_var(d->cfg, "ANTHROPIC_BASE_URL", &where);
    if (!base || !*base)
        base = "https://api.anthropic.com";
    if (!online) {
        line(d, SKIP, "api", "not checked (offline by default; --online sends one request to %s)", base);
        return;
    }
    char *curl = NULL;
    if (rs_runner_resolve_command("curl", getenv("PATH"), NULL, &curl) < 0) {
        line(d, SKIP, "api", "not checked: curl is not installed (apt-get install curl)");
        return;
    }
    const char *argv[] = {curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "8", base, NULL};
    struct rs_buf out;
    rs_buf_init(&out);
    int st = 0;
    int r = run_capture(argv, NULL, false, &out, &st);
    char *code = first_line(&out);
    if (r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(code, "000") != 0) {
        /* Any HTTP answer, even 404 for the bare base URL, proves the route works. */
        line(d, OK, "api", "%s answered (HTTP %s)", base, code);
    } else {
        int ec = r == 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        line(d, FAIL, "api", "%s is not reachable: %s", base, r < 0 ? strerror(-r) : curl_error(ec));
        detail("fix: check the network, a proxy (HTTPS_PROXY) or ANTHROPIC_BASE_URL");
    }
    free(code);
    rs_buf_deinit(&out);
    free(curl);
}

/* Who commits: git's configured identity, or the fallback of [git]. */
static void check_identity(struct doctor *d, const struct rs_git *g)
{
    char name[256], email[256];
    bool fallback;
    rs_git_identity(g, name, sizeof name, email, sizeof email, &fallback);
    if (fallback)
        line(d, OK, "identity", "no user.name/user.email in git config; commits by %s <%s> ([git] author_*)", name,
             email);
    else
        line(d, OK, "identity", "commits by %s <%s> (git config)", name, email);
}

static void check_git(struct doctor *d)
{
    struct rs_config *cfg = d->cfg;
    if (!cfg->git_enabled) {
        line(d, SKIP, "git", "audit trail disabled ([git] enabled = false)");
        return;
    }
    struct rs_git_opts o = {
        .workdir = cfg->root,
        .ref = cfg->git_ref,
        .author_name = cfg->git_author_name,
        .author_email = cfg->git_author_email,
        .create = false,
    };
    struct rs_git *g = NULL;
    char err[512] = "";
    int r = rs_git_open(&o, &g, err, sizeof(err));
    if (r == 0) {
        line(d, OK, "git", "repository at %s (ref %s)", rs_git_workdir(g), cfg->git_ref);
        check_identity(d, g);
    } else if (r == RS_GIT_E_NOREPO) {
        line(d, WARN, "git", "no repository at %s yet", cfg->root);
        detail("fix: nothing to do: `ralphsup init` or `start` creates it (or run `git init` there)");
    } else if (r == RS_GIT_E_DETACHED) {
        line(d, FAIL, "git", "HEAD is detached and [git] ref = \"HEAD\"");
        detail("fix: check out a branch, or set [git] ref = \"refs/heads/ralphsup/audit\" to commit to a "
               "dedicated branch (start and init exit 78 until then)");
    } else {
        line(d, FAIL, "git", "cannot open the repository at %s: %s", cfg->root, *err ? err : strerror(-r));
        detail("fix: if git says the owner differs, run `git config --global --add safe.directory %s`", cfg->root);
    }
    rs_git_free(g);
}

/* @p or its nearest existing ancestor; caller frees. */
static char *existing_ancestor(const char *p)
{
    char *cur = rs_xstrdup(p);
    struct stat st;
    while (stat(cur, &st) != 0 && strcmp(cur, "/") != 0) {
        char *up = rs_path_dirname(cur);
        free(cur);
        cur = up;
    }
    return cur;
}

static void check_disk(struct doctor *d)
{
    struct rs_config *cfg = d->cfg;
    const char *names[] = {"output_dir", "report_dir", "cache_dir"};
    const char *dirs[] = {cfg->output_dir, cfg->report_dir, cfg->cache_dir};
    bool done[3] = {false, false, false};
    int64_t min = cfg->doctor_min_free_mb;
    for (size_t i = 0; i < 3; i++) {
        if (!dirs[i] || done[i])
            continue;
        char *at = existing_ancestor(dirs[i]);
        struct stat st;
        struct statvfs vs;
        if (stat(at, &st) != 0 || statvfs(at, &vs) != 0) {
            line(d, WARN, "disk", "cannot measure free space for %s (%s): %s", names[i], at, strerror(errno));
            free(at);
            continue;
        }
        /* One line per filesystem: the directories on the same device share it. */
        struct rs_buf who;
        rs_buf_init(&who);
        rs_buf_puts(&who, names[i]);
        for (size_t j = i + 1; j < 3; j++) {
            if (!dirs[j] || done[j])
                continue;
            char *aj = existing_ancestor(dirs[j]);
            struct stat sj;
            if (stat(aj, &sj) == 0 && sj.st_dev == st.st_dev) {
                done[j] = true;
                rs_buf_printf(&who, ", %s", names[j]);
            }
            free(aj);
        }
        int64_t free_mb = (int64_t)((unsigned long long)vs.f_bavail * vs.f_frsize / (1024 * 1024));
        char *rd = rel(d, dirs[i]);
        if (min > 0 && free_mb < min) {
            line(d, WARN, "disk", "%lld MB free for %s (%s), below [doctor] min_free_mb = %lld", (long long)free_mb,
                 rs_buf_cstr(&who), rd, (long long)min);
            detail("fix: free some space on that filesystem, or move the directory");
        } else {
            line(d, OK, "disk", "%lld MB free for %s (%s)", (long long)free_mb, rs_buf_cstr(&who), rd);
        }
        free(rd);
        rs_buf_deinit(&who);
        free(at);
    }
}

/* nftw has no user pointer: the cache scan's state lives here (one scan at a time). */
static struct {
    time_t cutoff;
    size_t files;
    size_t old;
    unsigned long long old_bytes;
} scan;

static int scan_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (type == FTW_F && S_ISREG(st->st_mode)) {
        scan.files++;
        if (st->st_mtime < scan.cutoff) {
            scan.old++;
            scan.old_bytes += (unsigned long long)st->st_size;
        }
    }
    return 0;
}

static void check_cache(struct doctor *d)
{
    struct rs_config *cfg = d->cfg;
    if (!cfg->cache_dir) {
        line(d, SKIP, "cache", "no [batch] cache_dir");
        return;
    }
    char *rc = rel(d, cfg->cache_dir);
    struct stat st;
    if (stat(cfg->cache_dir, &st) != 0) {
        line(d, OK, "cache", "%s does not exist yet", rc);
        free(rc);
        return;
    }
    int64_t days = cfg->doctor_cache_max_age_days;
    memset(&scan, 0, sizeof(scan));
    scan.cutoff = days > 0 ? time(NULL) - (time_t)days * 86400 : 0;
    if (nftw(cfg->cache_dir, scan_entry, 16, FTW_PHYS) != 0) {
        line(d, WARN, "cache", "cannot scan %s: %s", rc, strerror(errno));
    } else if (days > 0 && scan.old > 0) {
        char size[32];
        if (scan.old_bytes < 1024 * 1024)
            snprintf(size, sizeof(size), "%llu KB", (scan.old_bytes + 1023) / 1024);
        else
            snprintf(size, sizeof(size), "%.1f MB", (double)scan.old_bytes / (1024.0 * 1024.0));
        line(d, WARN, "cache", "%zu of %zu %s in %s %s older than %lld %s (%s)", scan.old, scan.files,
             rs_plural(scan.files, "file", "files"), rc, rs_plural(scan.old, "is", "are"), (long long)days,
             rs_plural((uint64_t)days, "day", "days"), size);
        detail("fix: delete them: find '%s' -type f -mtime +%lld -delete", cfg->cache_dir, (long long)days);
    } else {
        line(d, OK, "cache", "%zu %s in %s, none older than %lld %s", scan.files,
             rs_plural(scan.files, "file", "files"), rc, (long long)days, rs_plural((uint64_t)days, "day", "days"));
    }
    free(rc);
}

static void check_lock(struct doctor *d)
{
    pid_t holder = 0;
    int r = rs_lock_holder(d->cfg->progress, &holder);
    char *lp = rs_lock_path(d->cfg->progress);
    char *rl = rel(d, lp);
    if (r < 0) {
        line(d, WARN, "lock", "cannot probe %s: %s", rl, strerror(-r));
    } else if (holder > 0) {
        line(d, WARN, "lock", "held by a running supervisor (PID %d)", (int)holder);
        detail("fix: nothing if that run is wanted; `ralphsup stop %s` ends it", d->cfg->path);
    } else if (holder < 0) {
        line(d, WARN, "lock", "held by a supervisor that is starting (PID not written yet)");
    } else {
        line(d, OK, "lock", "free (no supervisor is running this batch)");
    }
    free(rl);
    free(lp);
}

/*
 * The live check of the fence: a forked child applies the rules an iteration gets (with a
 * temporary stand-in for its work directory) and tries to open the progress file for
 * writing (without truncating; a missing one it tries to create). Its exit status:
 * 0 = the write went through, 200 = the fence could not be applied, 201 = the stand-in
 * work directory was not writable, else the errno of the denied open.
 */
static int fence_live(int abi, char *const *paths, size_t n, const char *workdir, const char *progress)
{
    bool existed = access(progress, F_OK) == 0;
    char *probe = rs_path_join(workdir, "probe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        free(probe);
        return -errno;
    }
    if (pid == 0) {
        const char *failed = NULL;
        if (rs_sandbox_apply(abi, (const char *const *)paths, n, &failed) != 0)
            _exit(200);
        int fd = open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            _exit(201);
        close(fd);
        fd = open(progress, O_WRONLY | O_CLOEXEC | (existed ? 0 : O_CREAT | O_EXCL), 0644);
        _exit(fd < 0 ? (errno > 0 && errno < 200 ? errno : 199) : 0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!existed && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        (void)unlink(progress); /* the fence let it through: take back what the child made */
    unlink(probe);
    free(probe);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

/* [agent] sandbox against this kernel: the ABI, the rules an iteration would get, the live check. */
static void check_fence(struct doctor *d)
{
    const struct rs_config *cfg = d->cfg;
    int abi = rs_sandbox_abi();
    if (cfg->sandbox == RS_SANDBOX_OFF) {
        line(d, WARN, "landlock", "[agent] sandbox = \"off\": the agent runs unfenced, with the guard alone");
        detail("fix: remove the key (default \"auto\") to fence the agent when the kernel offers Landlock "
               "(docs/security.md)");
        return;
    }
    if (abi < 1) {
        if (cfg->sandbox == RS_SANDBOX_LANDLOCK) {
            line(d, FAIL, "landlock", "no Landlock in this kernel, and [agent] sandbox = \"landlock\": start refuses (exit 78)");
            detail("fix: a kernel with Landlock (5.13+, lsm=landlock), or sandbox = \"auto\" for the guard alone");
        } else {
            line(d, WARN, "landlock", "no Landlock in this kernel: the agent runs unfenced, with the guard alone");
            detail("see docs/security.md for what the guard does and does not stop");
        }
        return;
    }
    char words[64];
    rs_sandbox_describe(abi, words, sizeof words);
    line(d, OK, "landlock", "ABI %d%s%s%s", abi, *words ? " (" : "", words, *words ? ")" : "");

    /* The rules: what an iteration of the next school could write. */
    const struct rs_school *sc = next_school(d);
    const char *where;
    const char *cd = agent_var(cfg, "CLAUDE_CONFIG_DIR", &where);
    struct rs_workdir w;
    rs_workdir_init(&w, cfg, 1, sc ? sc->slug : "school");
    size_t n = 0;
    char **paths = rs_sandbox_paths(cfg, &w, cd && cd[0] == '/' ? cd : NULL, &n);
    char *wd = rel(d, w.dir);
    detail("writable: %s/ (its CSV, tmp/ = TMPDIR%s)", wd, cd && cd[0] == '/' ? "" : ", claude/ = CLAUDE_CONFIG_DIR");
    free(wd);
    for (size_t i = 1; i < n; i++) {
        char *ri = rel(d, paths[i]);
        bool there = access(paths[i], F_OK) == 0;
        detail("writable: %s%s", ri, there ? "" : " (does not exist yet)");
        free(ri);
    }
    struct rs_buf devs;
    rs_buf_init(&devs);
    for (const char *const *dv = rs_sandbox_devices(); *dv; dv++)
        rs_buf_printf(&devs, "%s%s", devs.len ? " " : "", *dv);
    detail("devices: %s", rs_buf_cstr(&devs));
    rs_buf_deinit(&devs);
    detail("everything else: read and execute only");

    /* The live check, with a temporary work directory standing in for the iteration's. */
    char *tmpl = rs_xasprintf("%s/ralphsup-doctor-fence-XXXXXX", rs_tmpdir());
    if (!mkdtemp(tmpl)) {
        line(d, WARN, "fence-check", "cannot make a temporary directory: %s", strerror(errno));
    } else {
        free(paths[0]);
        paths[0] = rs_xstrdup(tmpl);
        /* Paths that do not exist yet (cache_dir before the first run) would fail the fence: left out here. */
        size_t k = 1;
        for (size_t i = 1; i < n; i++) {
            if (access(paths[i], F_OK) == 0)
                paths[k++] = paths[i];
            else
                free(paths[i]);
        }
        paths[k] = NULL;
        n = k;
        char *rp = rel(d, cfg->progress);
        int r = fence_live(abi, paths, n, tmpl, cfg->progress);
        if (r == EACCES)
            line(d, OK, "fence-check", "a fenced child cannot write %s (EACCES), and can write its work directory", rp);
        else if (r == 0)
            line(d, FAIL, "fence-check", "a fenced child could write %s: the fence does not hold", rp);
        else if (r == 200)
            line(d, FAIL, "fence-check", "the fence could not be applied in a child (start would refuse the agent, exit 126)");
        else if (r == 201)
            line(d, FAIL, "fence-check", "a fenced child could not write its own work directory");
        else
            line(d, FAIL, "fence-check", "a fenced child's write to %s failed with %s, not EACCES", rp,
                 r > 0 && r < 199 ? strerror(r) : "an unknown error");
        free(rp);
        rmdir(tmpl);
    }
    free(tmpl);
    rs_strv_free(paths);
    rs_workdir_deinit(&w);
}

/*----------------------------------------------------------------------------*/

int rs_cmd_doctor(int argc, char **argv)
{
    if (rs_cli_help(argc, argv, doctor_help))
        return RS_EXIT_OK;
    static const struct option opts[] = {{"online", no_argument, NULL, 'o'}, {0, 0, 0, 0}};
    bool online = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'o') {
            online = true;
        } else {
            fputs(doctor_help, stderr);
            return RS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ralphsup doctor: expected exactly one CONFIG argument\n");
        return RS_EXIT_USAGE;
    }
    struct doctor d;
    memset(&d, 0, sizeof(d));
    printf("ralphsup doctor: %s\n", argv[optind]);
    if (check_config(&d, argv[optind])) {
        check_schools(&d);
        check_progress(&d);
        check_prompt(&d);
        check_hooks(&d);
        check_agent(&d);
        check_notify(&d);
        check_prices(&d);
        check_credentials(&d);
        check_fence(&d);
        check_api(&d, online);
        check_git(&d);
        check_disk(&d);
        check_cache(&d);
        check_lock(&d);
    }
    if (d.problems)
        printf("%d problem%s, %d warning%s: fix the ✗ lines before `ralphsup start`.\n", d.problems,
               d.problems == 1 ? "" : "s", d.warnings, d.warnings == 1 ? "" : "s");
    else if (d.warnings)
        printf("ready, with %d warning%s (the ! lines).\n", d.warnings, d.warnings == 1 ? "" : "s");
    else
        printf("ready.\n");
    rs_progress_free(d.prog);
    rs_school_list_free(d.schools);
    rs_aliases_free(d.aliases);
    rs_config_free(d.cfg);
    fflush(stdout);
    return d.problems ? RS_EXIT_FAILURE : RS_EXIT_OK;
}
