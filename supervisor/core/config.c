/* SPDX-License-Identifier: MIT */
/*
 * Configuration loading and validation. The TOML text is parsed by the
 * toml++ shim (toml_shim.cpp) into a small C tree; this file walks that tree
 * against a fixed schema, fills struct rs_config from the documented
 * defaults, resolves every path to an absolute, lexically normalised one and
 * reports *every* problem in one pass as "file:line:col: [section] key: msg".
 *
 * It does not check that the files it names exist (the modules that open
 * them do), does not touch processes, libuv or git, and never logs.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ralphsup/core/config.h"
#include "ralphsup/base/util.h"
#include "ralphsup/core/shard.h"
#include "toml-internal.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_ITEMS 256 /* args, env entries, truthy words, price entries */
#define MONEY_MAX 1000000.0

#define SEC_MS INT64_C(1000)
#define MIN_MS (60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define MIB INT64_C(1048576)

enum kind {
    K_STRING,  /* free single-line text, non-empty */
    K_PATH,    /* path, resolved after the walk */
    K_BOOL,
    K_INT,
    K_DURATION, /* "90s" or integer seconds -> ms */
    K_MONEY,    /* float or integer >= 0 */
    K_STRINGS,  /* array of strings -> NULL-terminated char ** + count */
    K_ENV,      /* table of strings -> struct rs_kv + count */
    K_ORDER,    /* "priority" | "list" */
    K_REF,      /* "HEAD" | "refs/heads/..." */
    K_IDENT,    /* author name / e-mail: no '<', '>' or control characters */
    K_LEVEL,    /* [verify] level: "leads" | "counts" */
    K_SHARE,    /* a fraction: a number from 0 to 1 */
    K_ARGV,     /* a command: array of strings, at least one, the first non-empty */
    K_EVENTS,   /* [notify] events: array of names of rs_notify_events[] */
    K_SANDBOX,  /* [agent] sandbox: "auto" | "landlock" | "off" */
};

struct field {
    const char *key;
    enum kind kind;
    size_t off;   /* offset in the section's base struct */
    size_t off2;  /* K_STRINGS / K_ENV: offset of the count */
    int64_t min, max;
};

#define CFG(m) offsetof(struct rs_config, m)
#define LIM(m) offsetof(struct rs_limits, m)

static const struct field batch_fields[] = {
    {"name", K_STRING, CFG(name), 0, 0, 0},
    {"root", K_PATH, CFG(root), 0, 0, 0},
    {"schools", K_PATH, CFG(schools), 0, 0, 0},
    {"aliases", K_PATH, CFG(aliases), 0, 0, 0},
    {"progress", K_PATH, CFG(progress), 0, 0, 0},
    {"prompt", K_PATH, CFG(prompt), 0, 0, 0},
    {"output_dir", K_PATH, CFG(output_dir), 0, 0, 0},
    {"report_dir", K_PATH, CFG(report_dir), 0, 0, 0},
    {"log_dir", K_PATH, CFG(log_dir), 0, 0, 0},
    {"cache_dir", K_PATH, CFG(cache_dir), 0, 0, 0},
    {"order", K_ORDER, CFG(order), 0, 0, 0},
    {"shard", K_STRING, CFG(shard), 0, 0, 0},
    {"seal_every", K_INT, CFG(seal_every), 0, 0, 1000000},
};

static const struct field agent_fields[] = {
    {"command", K_STRING, CFG(command), 0, 0, 0},
    {"args", K_STRINGS, CFG(args), CFG(nargs), 0, 0},
    {"model", K_STRING, CFG(model), 0, 0, 0},
    {"env", K_ENV, CFG(env), CFG(nenv), 0, 0},
    {"guard", K_BOOL, CFG(guard), 0, 0, 0},
    {"partial_messages", K_BOOL, CFG(partial_messages), 0, 0, 0},
    {"sandbox", K_SANDBOX, CFG(sandbox), 0, 0, 0},
    {"writable", K_STRINGS, CFG(writable), CFG(nwritable), 0, 0},
    {"keep_failed_work", K_BOOL, CFG(keep_failed_work), 0, 0, 0},
};

/* Also drives rs_limits_diff(). */
static const struct field limit_fields[] = {
    {"max_iterations", K_INT, LIM(max_iterations), 0, 1, 1000000},
    {"max_attempts_per_school", K_INT, LIM(max_attempts_per_school), 0, 1, 100},
    {"iteration_timeout", K_DURATION, LIM(iteration_timeout_ms), 0, SEC_MS, 7 * DAY_MS},
    {"stall_timeout", K_DURATION, LIM(stall_timeout_ms), 0, SEC_MS, 7 * DAY_MS},
    {"first_output_timeout", K_DURATION, LIM(first_output_timeout_ms), 0, 0, 7 * DAY_MS},
    {"max_runtime", K_DURATION, LIM(max_runtime_ms), 0, 0, 365 * DAY_MS},
    {"max_cost_usd", K_MONEY, LIM(max_cost_usd), 0, 0, 0},
    {"max_cost_per_school_usd", K_MONEY, LIM(max_cost_per_school_usd), 0, 0, 0},
    {"kill_grace", K_DURATION, LIM(kill_grace_ms), 0, 0, 10 * MIN_MS},
    {"max_line_bytes", K_INT, LIM(max_line_bytes), 0, MIB, 1024 * MIB},
    {"max_identical_tool_calls", K_INT, LIM(max_identical_tool_calls), 0, 0, 1000},
    {"max_consecutive_transients", K_INT, LIM(max_consecutive_transients), 0, 1, 1000},
    {"transient_backoff", K_DURATION, LIM(transient_backoff_ms), 0, 0, HOUR_MS},
    {"transient_backoff_max", K_DURATION, LIM(transient_backoff_max_ms), 0, 0, DAY_MS},
    {"pipe_drain_timeout", K_DURATION, LIM(pipe_drain_timeout_ms), 0, 1, 10 * MIN_MS},
    {"jobs", K_INT, LIM(jobs), 0, 1, 64},
    {"spawn_interval", K_DURATION, LIM(spawn_interval_ms), 0, 0, HOUR_MS},
    {"ramp_up_after", K_DURATION, LIM(ramp_up_after_ms), 0, SEC_MS, DAY_MS},
};

static const struct field git_fields[] = {
    {"enabled", K_BOOL, CFG(git_enabled), 0, 0, 0},
    {"ref", K_REF, CFG(git_ref), 0, 0, 0},
    {"author_name", K_IDENT, CFG(git_author_name), 0, 0, 0},
    {"author_email", K_IDENT, CFG(git_author_email), 0, 0, 0},
    {"include_outputs", K_BOOL, CFG(git_include_outputs), 0, 0, 0},
    {"pack_every", K_INT, CFG(git_pack_every), 0, 0, 1000000},
};

static const struct field report_fields[] = {
    {"on_finish", K_BOOL, CFG(report_on_finish), 0, 0, 0},
    {"csv_escape_formulas", K_BOOL, CFG(report_csv_escape_formulas), 0, 0, 0},
    {"csv_bom", K_BOOL, CFG(report_csv_bom), 0, 0, 0},
    {"truthy", K_STRINGS, CFG(report_truthy), CFG(nreport_truthy), 0, 0},
};

static const struct field verify_fields[] = {
    {"level", K_LEVEL, CFG(verify_level), 0, 0, 0},
    {"max_yes_share", K_SHARE, CFG(verify_max_yes_share), 0, 0, 0},
};

static const struct field doctor_fields[] = {
    {"min_free_mb", K_INT, CFG(doctor_min_free_mb), 0, 0, 10000000},
    {"cache_max_age_days", K_INT, CFG(doctor_cache_max_age_days), 0, 0, 3650},
};

static const struct field audit_fields[] = {
    {"allow_private", K_BOOL, CFG(audit_allow_private), 0, 0, 0},
    {"connect_timeout", K_DURATION, CFG(audit_connect_timeout_ms), 0, 100, 10 * MIN_MS},
    {"timeout", K_DURATION, CFG(audit_timeout_ms), 0, SEC_MS, HOUR_MS},
    {"max_bytes", K_INT, CFG(audit_max_bytes), 0, 1024, 1024 * MIB},
    {"per_host_interval", K_DURATION, CFG(audit_per_host_interval_ms), 0, 0, 10 * MIN_MS},
    {"user_agent", K_STRING, CFG(audit_user_agent), 0, 0, 0},
};

static const struct field notify_fields[] = {
    {"command", K_ARGV, CFG(notify_command), CFG(nnotify_command), 0, 0},
    {"events", K_EVENTS, CFG(notify_events), CFG(nnotify_events), 0, 0},
    {"timeout", K_DURATION, CFG(notify_timeout_ms), 0, SEC_MS, HOUR_MS},
};

static const struct field metrics_fields[] = {
    {"textfile", K_PATH, CFG(metrics_textfile), 0, 0, 0},
};

const char *const rs_notify_events[] = {"batch-finished", "batch-stopped", "batch-paused",
                                        "school-failed",  "stalled-killed", "budget-crossed"};
const size_t rs_notify_nevents = RS_ARRAY_SIZE(rs_notify_events);

/* Price keys are money fields of struct rs_price. */
static const struct field price_fields[] = {
    {"input", K_MONEY, offsetof(struct rs_price, input_per_mtok), 0, 0, 0},
    {"output", K_MONEY, offsetof(struct rs_price, output_per_mtok), 0, 0, 0},
    {"cache_write", K_MONEY, offsetof(struct rs_price, cache_write_per_mtok), 0, 0, 0},
    {"cache_read", K_MONEY, offsetof(struct rs_price, cache_read_per_mtok), 0, 0, 0},
    {"cache_write_1h", K_MONEY, offsetof(struct rs_price, cache_write_1h_per_mtok), 0, 0, 0},
};

struct section {
    const char *name;
    const struct field *fields;
    size_t nfields;
    bool in_limits; /* fields are offsets into cfg->limits */
};

static const struct section sections[] = {
    {"batch", batch_fields, RS_ARRAY_SIZE(batch_fields), false},
    {"agent", agent_fields, RS_ARRAY_SIZE(agent_fields), false},
    {"limits", limit_fields, RS_ARRAY_SIZE(limit_fields), true},
    {"prices", NULL, 0, false},
    {"git", git_fields, RS_ARRAY_SIZE(git_fields), false},
    {"report", report_fields, RS_ARRAY_SIZE(report_fields), false},
    {"verify", verify_fields, RS_ARRAY_SIZE(verify_fields), false},
    {"doctor", doctor_fields, RS_ARRAY_SIZE(doctor_fields), false},
    {"audit", audit_fields, RS_ARRAY_SIZE(audit_fields), false},
    {"notify", notify_fields, RS_ARRAY_SIZE(notify_fields), false},
    {"metrics", metrics_fields, RS_ARRAY_SIZE(metrics_fields), false},
};

bool rs_config_schema_key(size_t i, const char **section, const char **key)
{
    for (size_t k = 0; k < RS_ARRAY_SIZE(sections); k++) {
        const struct section *sc = &sections[k];
        const struct field *f = sc->fields ? sc->fields : price_fields;
        size_t n = sc->fields ? sc->nfields : RS_ARRAY_SIZE(price_fields);
        if (i < n) {
            *section = sc->name;
            *key = f[i].key;
            return true;
        }
        i -= n;
    }
    return false;
}

/*
 * input, output, cache_write (5 minutes), cache_read, cache_write_1h. 1-hour
 * cache writes cost 2x input, 5-minute ones 1.25x: what the Claude Code CLI
 * itself charges (measured: tests/fakeapi/record_cost_streams.sh --prices;
 * claude-opus-5-5 from CLI 2.1.332).
 */
static const struct rs_price default_prices[] = {
    {(char *)"claude-opus-4", 5.0, 25.0, 6.25, 0.5, 10.0},
    {(char *)"claude-opus-5-5", 4.0, 20.0, 5.0, 0.2, 8.0},
    {(char *)"claude-sonnet-4", 3.0, 15.0, 3.75, 0.3, 6.0},
    {(char *)"claude-haiku-4", 1.0, 5.0, 1.25, 0.1, 2.0},
    {(char *)"*", 5.0, 25.0, 6.25, 0.5, 10.0}, /* unknown models: the conservative (opus) price */
};

static const char *const default_truthy[] = {"yes", "true", "1", "y"};

/* One load in progress: where diagnostics go. */
struct ctx {
    const char *file;
    struct rs_diags *diags;
    const struct rs_toml_node *writable; /* [agent] writable, checked once root is known */
};

/* ---- small helpers ------------------------------------------------------ */

/*
 * Append "file:line:col: <where>: <msg>" where @where is "[section] key",
 * "[section]" or "key".
 */
RS_PRINTF(6, 7)
static void problem(struct ctx *c, int line, int col, const char *section, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = rs_xvasprintf(fmt, ap);
    va_end(ap);
    if (section && key)
        rs_diags_addpos(c->diags, c->file, line, col, "[%s] %s: %s", section, key, msg);
    else if (section)
        rs_diags_addpos(c->diags, c->file, line, col, "[%s]: %s", section, msg);
    else
        rs_diags_addpos(c->diags, c->file, line, col, "%s: %s", key ? key : "config", msg);
    free(msg);
}

/* Compact duration: rs_duration_format() without zero tails ("10m00s" -> "10m"). */
static const char *dur_text(int64_t ms, char *buf, size_t n)
{
    rs_duration_format(ms, buf, n);
    size_t l = strlen(buf);
    if (l > 4 && (strcmp(buf + l - 3, "00s") == 0 || strcmp(buf + l - 3, "00m") == 0))
        buf[l - 3] = '\0';
    return buf;
}

/* Money without a currency sign and without trailing zeros: 50, 2.5, 0.125. */
static const char *money_text(double v, char *buf, size_t n)
{
    snprintf(buf, n, "%.4f", v);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *e = buf + strlen(buf) - 1;
        while (e > dot && *e == '0')
            *e-- = '\0';
        if (e == dot)
            *e = '\0';
    }
    return buf;
}

/* A short rendering of a value for "got ..." in messages. */
static char *value_text(const struct rs_toml_node *n)
{
    char b[64];
    switch (n->kind) {
    case RS_TOML_STRING: {
        if (n->str_len > 40)
            return rs_xasprintf("\"%.37s...\"", n->str);
        return rs_xasprintf("\"%s\"", n->str);
    }
    case RS_TOML_INTEGER:
        return rs_xasprintf("%lld", (long long)n->integer);
    case RS_TOML_FLOAT:
        if (!isfinite(n->real))
            return rs_xstrdup(isnan(n->real) ? "nan" : (n->real > 0 ? "inf" : "-inf"));
        if (fabs(n->real) < 1e12) {
            if (n->real < 0)
                return rs_xasprintf("-%s", money_text(-n->real, b, sizeof b));
            return rs_xstrdup(money_text(n->real, b, sizeof b));
        }
        return rs_xasprintf("%g", n->real);
    case RS_TOML_BOOLEAN:
        return rs_xstrdup(n->boolean ? "true" : "false");
    default:
        return rs_xstrdup(rs__toml_kind_name(n->kind));
    }
}

/* "got boolean", "got integer"...: the TOML type of a wrongly typed value. */
static const char *type_name(const struct rs_toml_node *n)
{
    return rs__toml_kind_name(n->kind);
}

/* Known keys of a section as one "a, b, c" string (caller frees). */
static char *key_list(const struct field *f, size_t n)
{
    struct rs_buf b;
    rs_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        rs_buf_printf(&b, "%s%s", i ? ", " : "", f[i].key);
    return rs_buf_steal(&b);
}

static void unknown_key(struct ctx *c, const struct rs_toml_node *n, const char *section, const struct field *f,
                        size_t nf)
{
    const char *cands[32] = {0};
    size_t nc = 0;
    for (size_t i = 0; i < nf && nc < RS_ARRAY_SIZE(cands); i++)
        cands[nc++] = f[i].key;
    const char *hint = rs_did_you_mean(n->key, cands, nc);
    if (hint) {
        problem(c, n->line, n->col, section, n->key, "unknown key; did you mean '%s'?", hint);
    } else {
        char *list = key_list(f, nf);
        problem(c, n->line, n->col, section, n->key, "unknown key (known keys: %s)", list);
        free(list);
    }
}

/* Validate a string node for any textual key; returns the string or NULL after a diagnostic. */
static const char *want_string(struct ctx *c, const struct rs_toml_node *n, const char *section, const char *key,
                               const char *what)
{
    if (n->kind != RS_TOML_STRING) {
        problem(c, n->vline, n->vcol, section, key, "expected %s, got %s", what, type_name(n));
        return NULL;
    }
    if (n->str_len != strlen(n->str)) {
        problem(c, n->vline, n->vcol, section, key, "must not contain a NUL character");
        return NULL;
    }
    if (n->str_len == 0) {
        problem(c, n->vline, n->vcol, section, key, "expected %s, got an empty string", what);
        return NULL;
    }
    return n->str;
}

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = rs_xstrdup(s);
}

/* ---- typed setters -------------------------------------------------------- */

static void set_int(struct ctx *c, const struct rs_toml_node *n, const char *sec, const struct field *f,
                    int64_t *dst)
{
    if (n->kind != RS_TOML_INTEGER) {
        problem(c, n->vline, n->vcol, sec, f->key, "expected an integer between %lld and %lld, got %s",
                (long long)f->min, (long long)f->max, type_name(n));
        return;
    }
    if (n->integer < f->min || n->integer > f->max) {
        problem(c, n->vline, n->vcol, sec, f->key, "expected an integer between %lld and %lld, got %lld",
                (long long)f->min, (long long)f->max, (long long)n->integer);
        return;
    }
    *dst = n->integer;
}

static void set_duration(struct ctx *c, const struct rs_toml_node *n, const char *sec, const struct field *f,
                         int64_t *dst)
{
    int64_t ms;
    char lo[32], hi[32];
    if (n->kind == RS_TOML_INTEGER) {
        if (n->integer < 0 || n->integer > INT64_MAX / 1000) {
            problem(c, n->vline, n->vcol, sec, f->key, "expected a duration between %s and %s, got %lld seconds",
                    dur_text(f->min, lo, sizeof lo), dur_text(f->max, hi, sizeof hi), (long long)n->integer);
            return;
        }
        ms = n->integer * 1000;
    } else if (n->kind == RS_TOML_STRING) {
        int pr = n->str_len != strlen(n->str) ? -EINVAL : rs_duration_parse(n->str, &ms);
        if (pr == -ERANGE) {
            char *v = value_text(n);
            problem(c, n->vline, n->vcol, sec, f->key,
                    "units of a duration go from largest to smallest, each once (d, h, m, s, ms; e.g. \"1h30m\"), "
                    "got %s",
                    v);
            free(v);
            return;
        }
        if (pr < 0) {
            char *v = value_text(n);
            problem(c, n->vline, n->vcol, sec, f->key,
                    "expected a duration like \"90s\", \"15m\", \"1h30m\", \"500ms\" or integer seconds, got %s", v);
            free(v);
            return;
        }
    } else {
        problem(c, n->vline, n->vcol, sec, f->key,
                "expected a duration like \"90s\" or integer seconds, got %s", type_name(n));
        return;
    }
    if (ms < f->min || ms > f->max) {
        char got[32];
        problem(c, n->vline, n->vcol, sec, f->key, "expected a duration between %s and %s, got %s",
                dur_text(f->min, lo, sizeof lo), dur_text(f->max, hi, sizeof hi), dur_text(ms, got, sizeof got));
        return;
    }
    *dst = ms;
}

/* A number from 0: an amount in USD (up to MONEY_MAX), or with @share a fraction up to 1 ([verify] max_yes_share). */
static void set_number(struct ctx *c, const struct rs_toml_node *n, const char *sec, const char *key, double *dst,
                       bool share)
{
    const char *what = share ? "a share" : "an amount in USD";
    double v;
    if (n->kind == RS_TOML_INTEGER)
        v = (double)n->integer;
    else if (n->kind == RS_TOML_FLOAT)
        v = n->real;
    else {
        problem(c, n->vline, n->vcol, sec, key, "expected %s (%s), got %s", what,
                share ? "a number from 0 to 1 like 0.5" : "a number >= 0 like 20 or 2.5", type_name(n));
        return;
    }
    if (!isfinite(v) || v < 0 || v > (share ? 1 : MONEY_MAX)) {
        char *t = value_text(n);
        problem(c, n->vline, n->vcol, sec, key, "expected %s %s, got %s", what,
                share ? "from 0 to 1" : "between 0 and 1000000", t);
        free(t);
        return;
    }
    *dst = v;
}

static void set_strings(struct ctx *c, const struct rs_toml_node *n, const char *sec, const char *key,
                        char ***dst, size_t *count)
{
    bool allow_empty = strcmp(key, "args") == 0;
    if (n->kind != RS_TOML_ARRAY) {
        problem(c, n->vline, n->vcol, sec, key, "expected an array of strings, got %s", type_name(n));
        return;
    }
    if (n->nchildren > CONFIG_MAX_ITEMS) {
        problem(c, n->vline, n->vcol, sec, key, "expected at most %d items, got %zu", CONFIG_MAX_ITEMS,
                n->nchildren);
        return;
    }
    char **v = rs_xcalloc(n->nchildren + 1, sizeof(*v));
    size_t k = 0;
    bool ok = true;
    for (size_t i = 0; i < n->nchildren; i++) {
        const struct rs_toml_node *e = &n->children[i];
        char *where = rs_xasprintf("%s[%zu]", key, i);
        const char *s;
        /* An empty argv element is legitimate ("--flag", ""); an empty word elsewhere is a mistake. */
        if (allow_empty && e->kind == RS_TOML_STRING && e->str_len == 0)
            s = "";
        else
            s = want_string(c, e, sec, where, allow_empty ? "a string" : "a non-empty string");
        free(where);
        if (!s) {
            ok = false;
            continue;
        }
        v[k++] = rs_xstrdup(s);
    }
    if (!ok) {
        rs_strv_free(v);
        return;
    }
    rs_strv_free(*dst);
    *dst = v;
    *count = k;
}

static void free_env(struct rs_kv *env, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(env[i].key);
        free(env[i].value);
    }
    free(env);
}

static void set_env(struct ctx *c, const struct rs_toml_node *n, const char *sec, const char *key,
                    struct rs_kv **dst, size_t *count)
{
    if (n->kind != RS_TOML_TABLE) {
        problem(c, n->vline, n->vcol, sec, key, "expected a table of strings (NAME = \"value\"), got %s",
                type_name(n));
        return;
    }
    if (n->nchildren > CONFIG_MAX_ITEMS) {
        problem(c, n->vline, n->vcol, sec, key, "expected at most %d variables, got %zu", CONFIG_MAX_ITEMS,
                n->nchildren);
        return;
    }
    struct rs_kv *env = rs_xcalloc(n->nchildren + 1, sizeof(*env));
    size_t k = 0;
    bool ok = true;
    for (size_t i = 0; i < n->nchildren; i++) {
        const struct rs_toml_node *e = &n->children[i];
        char *where = rs_xasprintf("%s.%s", key, e->key);
        if (e->key[0] == '\0' || strchr(e->key, '=') || strlen(e->key) != strcspn(e->key, " \t\r\n")) {
            problem(c, e->line, e->col, sec, where, "not a valid environment variable name");
            ok = false;
        } else if (e->kind != RS_TOML_STRING) {
            problem(c, e->vline, e->vcol, sec, where, "expected a string, got %s", type_name(e));
            ok = false;
        } else if (e->str_len != strlen(e->str)) {
            problem(c, e->vline, e->vcol, sec, where, "must not contain a NUL character");
            ok = false;
        } else {
            env[k].key = rs_xstrdup(e->key);
            env[k].value = rs_xstrdup(e->str);
            k++;
        }
        free(where);
    }
    if (!ok) {
        free_env(env, k);
        return;
    }
    free_env(*dst, *count);
    *dst = env;
    *count = k;
}

/* "HEAD" or "refs/heads/<name>" with a name git would accept. */
static bool valid_ref(const char *s)
{
    if (strcmp(s, "HEAD") == 0)
        return true;
    if (strncmp(s, "refs/heads/", 11) != 0 || s[11] == '\0')
        return false;
    const char *name = s + 11;
    size_t l = strlen(name);
    if (name[0] == '/' || name[l - 1] == '/' || name[l - 1] == '.' || strstr(name, "..") || strstr(name, "//") ||
        strstr(name, "@{") || strstr(name, "/.") || name[0] == '.' ||
        (l >= 5 && strcmp(name + l - 5, ".lock") == 0))
        return false;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("~^:?*[\\", *p))
            return false;
    return true;
}

/* K_ARGV (a program and its arguments, at least the program) and K_EVENTS (known event names). */
static void set_list(struct ctx *c, const struct rs_toml_node *n, const char *sec, const struct field *f, char ***dst,
                     size_t *count)
{
    char **v = NULL;
    size_t k = 0;
    size_t before = c->diags->n;
    set_strings(c, n, sec, f->key, &v, &k);
    if (c->diags->n != before || !v)
        return;
    bool ok = true;
    if (f->kind == K_ARGV && k == 0) {
        problem(c, n->vline, n->vcol, sec, f->key, "expected the program and its arguments, got an empty array");
        ok = false;
    }
    for (size_t i = 0; f->kind == K_EVENTS && i < k; i++) {
        bool known = false;
        for (size_t j = 0; j < rs_notify_nevents; j++)
            known = known || strcmp(v[i], rs_notify_events[j]) == 0;
        if (!known) {
            const char *hint = rs_did_you_mean(v[i], rs_notify_events, rs_notify_nevents);
            const struct rs_toml_node *e = &n->children[i];
            problem(c, e->vline, e->vcol, sec, f->key, "unknown event \"%s\"%s%s%s (known: batch-finished, "
                    "batch-stopped, batch-paused, school-failed, stalled-killed, budget-crossed)", v[i],
                    hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
            ok = false;
        }
    }
    if (!ok) {
        rs_strv_free(v);
        return;
    }
    rs_strv_free(*dst);
    *dst = v;
    *count = k;
}

bool rs_config_notifies(const struct rs_config *cfg, const char *event)
{
    if (!cfg->notify_command || !event)
        return false;
    if (!cfg->notify_events) {
        for (size_t j = 0; j < rs_notify_nevents; j++)
            if (strcmp(event, rs_notify_events[j]) == 0)
                return true;
        return false;
    }
    for (size_t i = 0; i < cfg->nnotify_events; i++)
        if (strcmp(cfg->notify_events[i], event) == 0)
            return true;
    return false;
}

/* A string key (K_STRING, K_PATH, K_IDENT, K_REF), each kind with its own check. */
static void set_text(struct ctx *c, const struct rs_toml_node *n, const char *sec, const struct field *f, char **dst)
{
    const char *s = want_string(c, n, sec, f->key,
                                f->kind == K_PATH  ? "a path (string)"
                                : f->kind == K_REF ? "\"HEAD\" or \"refs/heads/<branch>\""
                                                   : "a non-empty string");
    if (!s)
        return;
    if (f->kind == K_STRING && rs_has_control(s))
        problem(c, n->vline, n->vcol, sec, f->key, "must be a single line without control characters");
    else if (f->kind == K_IDENT && (rs_has_control(s) || strpbrk(s, "<>")))
        problem(c, n->vline, n->vcol, sec, f->key, "must be one line without '<', '>' or control characters");
    else if (f->kind == K_REF && !valid_ref(s))
        problem(c, n->vline, n->vcol, sec, f->key, "expected \"HEAD\" or \"refs/heads/<branch>\", got \"%s\"", s);
    else
        set_str(dst, s);
}

/* Apply one key of a section. @base is the struct the field offsets refer to. */
static void set_field(struct ctx *c, const struct rs_toml_node *n, const char *sec, const struct field *f, void *base)
{
    char *p = (char *)base + f->off;
    const char *s;
    switch (f->kind) {
    case K_STRING:
    case K_PATH:
    case K_IDENT:
    case K_REF:
        set_text(c, n, sec, f, (char **)p);
        break;
    case K_ORDER:
        s = want_string(c, n, sec, f->key, "\"priority\" or \"list\"");
        if (!s)
            break;
        if (strcmp(s, "priority") == 0)
            *(enum rs_order *)(void *)p = RS_ORDER_PRIORITY;
        else if (strcmp(s, "list") == 0)
            *(enum rs_order *)(void *)p = RS_ORDER_LIST;
        else
            problem(c, n->vline, n->vcol, sec, f->key, "expected \"priority\" or \"list\", got \"%s\"", s);
        break;
    case K_LEVEL:
        s = want_string(c, n, sec, f->key, "\"leads\" or \"counts\"");
        if (!s)
            break;
        if (strcmp(s, "leads") == 0)
            *(enum rs_verify_level *)(void *)p = RS_VERIFY_LEADS;
        else if (strcmp(s, "counts") == 0)
            *(enum rs_verify_level *)(void *)p = RS_VERIFY_COUNTS;
        else
            problem(c, n->vline, n->vcol, sec, f->key, "expected \"leads\" or \"counts\", got \"%s\"", s);
        break;
    case K_SHARE:
        set_number(c, n, sec, f->key, (double *)(void *)p, true);
        break;
    case K_SANDBOX:
        s = want_string(c, n, sec, f->key, "\"auto\", \"landlock\" or \"off\"");
        if (!s)
            break;
        if (strcmp(s, "auto") == 0)
            *(enum rs_sandbox_mode *)(void *)p = RS_SANDBOX_AUTO;
        else if (strcmp(s, "landlock") == 0)
            *(enum rs_sandbox_mode *)(void *)p = RS_SANDBOX_LANDLOCK;
        else if (strcmp(s, "off") == 0)
            *(enum rs_sandbox_mode *)(void *)p = RS_SANDBOX_OFF;
        else
            problem(c, n->vline, n->vcol, sec, f->key, "expected \"auto\", \"landlock\" or \"off\", got \"%s\"", s);
        break;
    case K_BOOL:
        if (n->kind != RS_TOML_BOOLEAN)
            problem(c, n->vline, n->vcol, sec, f->key, "expected true or false, got %s", type_name(n));
        else
            *(bool *)(void *)p = n->boolean;
        break;
    case K_INT:
        set_int(c, n, sec, f, (int64_t *)(void *)p);
        break;
    case K_DURATION:
        set_duration(c, n, sec, f, (int64_t *)(void *)p);
        break;
    case K_MONEY:
        set_number(c, n, sec, f->key, (double *)(void *)p, false);
        break;
    case K_STRINGS:
        set_strings(c, n, sec, f->key, (char ***)(void *)p, (size_t *)(void *)((char *)base + f->off2));
        if (strcmp(f->key, "writable") == 0)
            c->writable = n;
        break;
    case K_ENV:
        set_env(c, n, sec, f->key, (struct rs_kv **)(void *)p, (size_t *)(void *)((char *)base + f->off2));
        break;
    case K_ARGV:
    case K_EVENTS:
        set_list(c, n, sec, f, (char ***)(void *)p, (size_t *)(void *)((char *)base + f->off2));
        break;
    }
}

static const struct field *find_field(const struct field *f, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].key, key) == 0)
            return &f[i];
    return NULL;
}

/* ---- prices ------------------------------------------------------------- */

static struct rs_price *price_find(struct rs_config *cfg, const char *model)
{
    for (size_t i = 0; i < cfg->nprices; i++)
        if (strcmp(cfg->prices[i].model, model) == 0)
            return &cfg->prices[i];
    return NULL;
}

static void load_prices(struct ctx *c, const struct rs_toml_node *t, struct rs_config *cfg)
{
    if (t->nchildren > CONFIG_MAX_ITEMS) {
        problem(c, t->vline, t->vcol, "prices", NULL, "expected at most %d models, got %zu", CONFIG_MAX_ITEMS,
                t->nchildren);
        return;
    }
    for (size_t i = 0; i < t->nchildren; i++) {
        const struct rs_toml_node *m = &t->children[i];
        char *sec = rs_xasprintf("prices.\"%s\"", m->key);
        if (m->kind != RS_TOML_TABLE) {
            problem(c, m->vline, m->vcol, sec, NULL,
                    "expected a table of prices (input, output, cache_write, cache_write_1h, cache_read), got %s", type_name(m));
            goto next;
        }
        if (m->key[0] == '\0' || rs_has_control(m->key) || strlen(m->key) > 200) {
            problem(c, m->line, m->col, sec, NULL, "expected a model id prefix like \"claude-opus-4\" or \"*\"");
            goto next;
        }
        /* Start from the built-in entry of the same prefix, if any, so one key can be overridden. */
        struct rs_price p = {0};
        bool set[RS_ARRAY_SIZE(price_fields)] = {0};
        const struct rs_price *old = price_find(cfg, m->key);
        if (old)
            p = *old;
        size_t before = c->diags->n;
        for (size_t j = 0; j < m->nchildren; j++) {
            const struct rs_toml_node *k = &m->children[j];
            const struct field *f = find_field(price_fields, RS_ARRAY_SIZE(price_fields), k->key);
            if (!f) {
                unknown_key(c, k, sec, price_fields, RS_ARRAY_SIZE(price_fields));
                continue;
            }
            set_number(c, k, sec, f->key, (double *)(void *)((char *)&p + f->off), false);
            set[f - price_fields] = true;
        }
        if (!old) {
            /* A new model needs its two base prices; the cache prices follow
             * Anthropic's usual ratios (5-minute write 1.25x input, 1-hour
             * write 2x input, read 0.1x input). */
            if (!set[0] || !set[1]) {
                problem(c, m->vline, m->vcol, sec, NULL, "a new model needs both 'input' and 'output' prices");
                goto next;
            }
            if (!set[2])
                p.cache_write_per_mtok = p.input_per_mtok * 1.25;
            if (!set[3])
                p.cache_read_per_mtok = p.input_per_mtok * 0.1;
            if (!set[4])
                p.cache_write_1h_per_mtok = p.input_per_mtok * 2.0;
        }
        if (c->diags->n != before)
            goto next;
        if (old) {
            struct rs_price *dst = price_find(cfg, m->key);
            p.model = dst->model;
            *dst = p;
        } else {
            cfg->prices = rs_xrealloc(cfg->prices, (cfg->nprices + 1) * sizeof(*cfg->prices));
            p.model = rs_xstrdup(m->key);
            cfg->prices[cfg->nprices++] = p;
        }
    next:
        free(sec);
    }
}

/* ---- sections ----------------------------------------------------------- */

static void load_section(struct ctx *c, const struct rs_toml_node *t, const struct section *s, struct rs_config *cfg,
                         const struct rs_toml_node **seen)
{
    void *base = s->in_limits ? (void *)&cfg->limits : (void *)cfg;
    for (size_t i = 0; i < t->nchildren; i++) {
        const struct rs_toml_node *n = &t->children[i];
        const struct field *f = find_field(s->fields, s->nfields, n->key);
        if (!f) {
            unknown_key(c, n, s->name, s->fields, s->nfields);
            continue;
        }
        if (seen)
            seen[f - s->fields] = n;
        set_field(c, n, s->name, f, base);
    }
}

/* A top-level key that belongs to a section: say which. */
static const char *section_of_key(const char *key)
{
    for (size_t i = 0; i < RS_ARRAY_SIZE(sections); i++)
        if (sections[i].fields && find_field(sections[i].fields, sections[i].nfields, key))
            return sections[i].name;
    return NULL;
}

static void load_root(struct ctx *c, const struct rs_toml_node *root, struct rs_config *cfg,
                      const struct rs_toml_node **batch_tbl, const struct rs_toml_node **limit_seen)
{
    const char *names[RS_ARRAY_SIZE(sections)];
    for (size_t i = 0; i < RS_ARRAY_SIZE(sections); i++)
        names[i] = sections[i].name;
    for (size_t i = 0; i < root->nchildren; i++) {
        const struct rs_toml_node *n = &root->children[i];
        const struct section *s = NULL;
        for (size_t j = 0; j < RS_ARRAY_SIZE(sections); j++)
            if (strcmp(sections[j].name, n->key) == 0)
                s = &sections[j];
        if (!s) {
            const char *owner = n->kind != RS_TOML_TABLE ? section_of_key(n->key) : NULL;
            const char *hint = rs_did_you_mean(n->key, names, RS_ARRAY_SIZE(names));
            if (owner)
                problem(c, n->line, n->col, NULL, n->key, "key outside any section; did you mean '[%s] %s'?", owner,
                        n->key);
            else if (hint)
                problem(c, n->line, n->col, n->key, NULL, "unknown section; did you mean '%s'?", hint);
            else
                problem(c, n->line, n->col, n->key, NULL,
                        "unknown section (known sections: batch, agent, limits, prices, git, report, verify, doctor, audit, "
                        "notify, metrics)");
            continue;
        }
        if (n->kind != RS_TOML_TABLE) {
            problem(c, n->vline, n->vcol, s->name, NULL, "expected a table ([%s]), got %s", s->name, type_name(n));
            continue;
        }
        if (strcmp(s->name, "prices") == 0) {
            load_prices(c, n, cfg);
            continue;
        }
        if (strcmp(s->name, "batch") == 0)
            *batch_tbl = n;
        load_section(c, n, s, cfg, s->in_limits ? limit_seen : NULL);
    }
}

/* ---- defaults and paths ----------------------------------------------- */

void rs_limits_defaults(struct rs_limits *l)
{
    *l = (struct rs_limits){
        .max_iterations = 1000,
        .max_attempts_per_school = 3,
        .iteration_timeout_ms = 30 * MIN_MS,
        .stall_timeout_ms = 10 * MIN_MS,
        .first_output_timeout_ms = 2 * MIN_MS,
        .max_runtime_ms = 0,
        .max_cost_usd = 0,
        .max_cost_per_school_usd = 0,
        .kill_grace_ms = 10 * SEC_MS,
        .max_line_bytes = 64 * MIB,
        .max_identical_tool_calls = 5,
        .max_consecutive_transients = 5,
        .transient_backoff_ms = 5 * SEC_MS,
        .transient_backoff_max_ms = 5 * MIN_MS,
        .pipe_drain_timeout_ms = 5 * SEC_MS,
        .jobs = 1,
        .spawn_interval_ms = 2 * SEC_MS,
        .ramp_up_after_ms = 5 * MIN_MS,
    };
}

static char *default_name(const char *abs_path)
{
    const char *base = strrchr(abs_path, '/');
    base = base ? base + 1 : abs_path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return rs_xstrndup(base, n);
}

static void set_defaults(struct rs_config *cfg, const char *abs_path)
{
    cfg->path = rs_xstrdup(abs_path);
    cfg->dir = rs_path_dirname(abs_path);
    cfg->name = default_name(abs_path);
    cfg->order = RS_ORDER_PRIORITY;
    cfg->command = rs_xstrdup("claude");
    cfg->args = rs_xcalloc(1, sizeof(*cfg->args));
    cfg->guard = true;
    cfg->partial_messages = true;
    rs_limits_defaults(&cfg->limits);
    cfg->nprices = RS_ARRAY_SIZE(default_prices);
    cfg->prices = rs_xcalloc(cfg->nprices, sizeof(*cfg->prices));
    for (size_t i = 0; i < cfg->nprices; i++) {
        cfg->prices[i] = default_prices[i];
        cfg->prices[i].model = rs_xstrdup(default_prices[i].model);
    }
    cfg->git_enabled = true;
    cfg->git_ref = rs_xstrdup("HEAD");
    cfg->git_author_name = rs_xstrdup("ralphsup");
    cfg->git_author_email = rs_xstrdup("ralphsup@localhost");
    cfg->git_include_outputs = false;
    cfg->git_pack_every = 100;
    cfg->seal_every = 200;
    cfg->report_on_finish = true;
    cfg->verify_level = RS_VERIFY_LEADS;
    cfg->verify_max_yes_share = 0.5;
    cfg->report_csv_escape_formulas = true;
    cfg->nreport_truthy = RS_ARRAY_SIZE(default_truthy);
    cfg->report_truthy = rs_xcalloc(cfg->nreport_truthy + 1, sizeof(char *));
    for (size_t i = 0; i < cfg->nreport_truthy; i++)
        cfg->report_truthy[i] = rs_xstrdup(default_truthy[i]);
    cfg->doctor_min_free_mb = 500;
    cfg->doctor_cache_max_age_days = 30;
    cfg->audit_allow_private = false;
    cfg->audit_connect_timeout_ms = 10 * SEC_MS;
    cfg->audit_timeout_ms = 30 * SEC_MS;
    cfg->audit_max_bytes = 5 * MIB;
    cfg->audit_per_host_interval_ms = SEC_MS;
    cfg->audit_user_agent = rs_xstrdup("ralphsup-audit/1 (evidence check)");
    cfg->notify_timeout_ms = 30 * SEC_MS;
}

/* Replace *@p (raw, or NULL for @dflt) by normalize(join(@base, raw)). */
static void resolve(char **p, const char *base, const char *dflt)
{
    const char *raw = *p ? *p : dflt;
    if (!raw)
        return;
    char *j = rs_path_join(base, raw);
    char *n = rs_path_normalize(j);
    free(j);
    free(*p);
    *p = n;
}

static void resolve_paths(struct rs_config *cfg)
{
    resolve(&cfg->root, cfg->dir, ".");
    const char *r = cfg->root;
    resolve(&cfg->schools, r, NULL);
    resolve(&cfg->aliases, r, NULL);
    resolve(&cfg->progress, r, "batch_progress.json");
    resolve(&cfg->prompt, r, "prompts/batch_loop.md");
    resolve(&cfg->output_dir, r, "output");
    if (cfg->report_dir)
        resolve(&cfg->report_dir, r, NULL);
    else
        cfg->report_dir = rs_xstrdup(cfg->output_dir);
    resolve(&cfg->log_dir, r, "logs");
    resolve(&cfg->cache_dir, r, NULL);
    resolve(&cfg->metrics_textfile, r, NULL);
    for (size_t i = 0; i < cfg->nwritable; i++)
        resolve(&cfg->writable[i], r, NULL);
}

/* [agent] writable: each entry (now absolute) must exist, so the fence never names a missing path. */
static void check_writable(struct ctx *c, const struct rs_config *cfg)
{
    for (size_t i = 0; c->writable && i < cfg->nwritable && i < c->writable->nchildren; i++) {
        struct stat st;
        if (stat(cfg->writable[i], &st) == 0)
            continue;
        const struct rs_toml_node *e = &c->writable->children[i];
        char *where = rs_xasprintf("writable[%zu]", i);
        problem(c, e->vline, e->vcol, "agent", where, "%s: %s (each writable path must exist)", cfg->writable[i],
                strerror(errno));
        free(where);
    }
}

/* [batch] shard: "I/N" or "auto/N" (the index of auto is read by store/batch.c at open). */
static void shard_check(struct ctx *c, const struct rs_config *cfg, const struct rs_toml_node *batch_tbl)
{
    struct rs_shard sh;
    char err[256];
    if (!cfg->shard || rs_shard_parse(cfg->shard, "0", NULL, &sh, err, sizeof err) == 0)
        return;
    for (size_t i = 0; batch_tbl && i < batch_tbl->nchildren; i++)
        if (strcmp(batch_tbl->children[i].key, "shard") == 0)
            problem(c, batch_tbl->children[i].vline, batch_tbl->children[i].vcol, "batch", "shard", "%s", err);
}

/* Checks that involve more than one key. */
static void cross_checks(struct ctx *c, struct rs_config *cfg, const struct rs_toml_node *batch_tbl,
                         const struct rs_toml_node *const *limit_seen)
{
    bool schools_given = false;
    for (size_t i = 0; batch_tbl && i < batch_tbl->nchildren; i++)
        if (strcmp(batch_tbl->children[i].key, "schools") == 0)
            schools_given = true;
    /* A wrongly typed "schools" already has its own diagnostic. */
    if (!schools_given) {
        int line = batch_tbl ? batch_tbl->vline : 0, col = batch_tbl ? batch_tbl->vcol : 0;
        problem(c, line, col, "batch", "schools", "required key is missing (path of the school list JSON)");
    }
    shard_check(c, cfg, batch_tbl);
    const struct rs_limits *l = &cfg->limits;
    if (l->transient_backoff_max_ms < l->transient_backoff_ms) {
        size_t imax = 0, ibase = 0;
        for (size_t i = 0; i < RS_ARRAY_SIZE(limit_fields); i++) {
            if (strcmp(limit_fields[i].key, "transient_backoff_max") == 0)
                imax = i;
            if (strcmp(limit_fields[i].key, "transient_backoff") == 0)
                ibase = i;
        }
        const struct rs_toml_node *n = limit_seen[imax] ? limit_seen[imax] : limit_seen[ibase];
        char a[32], b[32];
        problem(c, n ? n->vline : 0, n ? n->vcol : 0, "limits", "transient_backoff_max",
                "must be at least transient_backoff (%s), got %s", dur_text(l->transient_backoff_ms, a, sizeof a),
                dur_text(l->transient_backoff_max_ms, b, sizeof b));
    }
}

/* ---- public API -------------------------------------------------------- */

int rs_config_load(const char *path, struct rs_config **out, struct rs_diags *diags)
{
    struct ctx c = {.file = path, .diags = diags};
    size_t before = diags->n;
    char *abs = rs_path_absolute(path);
    char *text = NULL;
    size_t len = 0;
    struct rs_toml_node *root = NULL;
    struct rs_config *cfg = NULL;
    int r = rs_file_read(abs, CONFIG_MAX_BYTES, &text, &len);
    if (r == -EFBIG) {
        problem(&c, 0, 0, NULL, "config", "file is larger than %d bytes", CONFIG_MAX_BYTES);
        r = RS_CONFIG_E_INVALID;
        goto out;
    }
    if (r < 0)
        goto out;

    char err[512];
    int line = 0, col = 0;
    r = rs__toml_parse(text, len, path, &root, err, sizeof err, &line, &col);
    if (r < 0)
        goto out;
    if (r > 0) {
        rs_diags_addpos(diags, path, line, col, "TOML syntax error: %s", err);
        r = RS_CONFIG_E_INVALID;
        goto out;
    }

    cfg = rs_xcalloc(1, sizeof(*cfg));
    set_defaults(cfg, abs);
    const struct rs_toml_node *batch_tbl = NULL;
    const struct rs_toml_node *limit_seen[RS_ARRAY_SIZE(limit_fields)] = {0};
    load_root(&c, root, cfg, &batch_tbl, limit_seen);
    cross_checks(&c, cfg, batch_tbl, limit_seen);
    if (diags->n != before) {
        r = RS_CONFIG_E_INVALID;
        goto out;
    }
    resolve_paths(cfg);
    check_writable(&c, cfg);
    if (diags->n != before) {
        r = RS_CONFIG_E_INVALID;
        goto out;
    }
    *out = cfg;
    cfg = NULL;
    r = 0;
out:
    rs_config_free(cfg);
    rs__toml_free(root);
    free(text);
    free(abs);
    return r;
}

struct rs_config *rs_config_free(struct rs_config *cfg)
{
    if (!cfg)
        return NULL;
    free(cfg->path);
    free(cfg->dir);
    free(cfg->name);
    free(cfg->root);
    free(cfg->schools);
    free(cfg->aliases);
    free(cfg->progress);
    free(cfg->prompt);
    free(cfg->output_dir);
    free(cfg->report_dir);
    free(cfg->log_dir);
    free(cfg->cache_dir);
    rs_strv_free(cfg->writable);
    free(cfg->shard);
    free(cfg->command);
    rs_strv_free(cfg->args);
    free(cfg->model);
    free_env(cfg->env, cfg->nenv);
    for (size_t i = 0; i < cfg->nprices; i++)
        free(cfg->prices[i].model);
    free(cfg->prices);
    free(cfg->git_ref);
    free(cfg->git_author_name);
    free(cfg->git_author_email);
    free(cfg->audit_user_agent);
    rs_strv_free(cfg->notify_command);
    rs_strv_free(cfg->notify_events);
    free(cfg->metrics_textfile);
    rs_strv_free(cfg->report_truthy);
    free(cfg);
    return NULL;
}

char *rs_limits_diff(const struct rs_limits *a, const struct rs_limits *b)
{
    /* Alphabetical order, so the text does not depend on the struct layout. */
    size_t order[RS_ARRAY_SIZE(limit_fields)];
    for (size_t i = 0; i < RS_ARRAY_SIZE(order); i++) {
        size_t j = i;
        for (; j > 0 && strcmp(limit_fields[order[j - 1]].key, limit_fields[i].key) > 0; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    struct rs_buf out;
    rs_buf_init(&out);
    for (size_t i = 0; i < RS_ARRAY_SIZE(order); i++) {
        const struct field *f = &limit_fields[order[i]];
        const char *pa = (const char *)a + f->off, *pb = (const char *)b + f->off;
        char x[48], y[48];
        if (f->kind == K_MONEY) {
            double va, vb;
            memcpy(&va, pa, sizeof va);
            memcpy(&vb, pb, sizeof vb);
            if (va == vb)
                continue;
            money_text(va, x, sizeof x);
            money_text(vb, y, sizeof y);
        } else {
            int64_t va, vb;
            memcpy(&va, pa, sizeof va);
            memcpy(&vb, pb, sizeof vb);
            if (va == vb)
                continue;
            if (f->kind == K_DURATION) {
                dur_text(va, x, sizeof x);
                dur_text(vb, y, sizeof y);
            } else {
                snprintf(x, sizeof x, "%lld", (long long)va);
                snprintf(y, sizeof y, "%lld", (long long)vb);
            }
        }
        rs_buf_printf(&out, "%s%s %s \xe2\x86\x92 %s", out.len ? ", " : "", f->key, x, y);
    }
    return out.len ? rs_buf_steal(&out) : (rs_buf_deinit(&out), rs_xstrdup(""));
}

const struct rs_price *rs_config_price(const struct rs_config *cfg, const char *model)
{
    const struct rs_price *best = NULL, *fallback = NULL;
    size_t bestlen = 0;
    for (size_t i = 0; i < cfg->nprices; i++) {
        const struct rs_price *p = &cfg->prices[i];
        if (strcmp(p->model, "*") == 0) {
            fallback = p;
            continue;
        }
        size_t l = strlen(p->model);
        if (model && strncmp(model, p->model, l) == 0 && l > bestlen) {
            best = p;
            bestlen = l;
        }
    }
    if (best)
        return best;
    if (fallback)
        return fallback;
    /* Unreachable with a loaded config ("*" is always present); stay non-NULL anyway. */
    return &default_prices[RS_ARRAY_SIZE(default_prices) - 1];
}

const char *rs_config_agent_model(const struct rs_config *cfg)
{
    if (cfg->model)
        return cfg->model;
    const char *m = NULL;
    for (size_t i = 0; i < cfg->nargs; i++) {
        const char *a = cfg->args[i];
        if (strcmp(a, "--model") == 0 && i + 1 < cfg->nargs)
            m = cfg->args[++i];
        else if (strncmp(a, "--model=", 8) == 0)
            m = a + 8;
    }
    return m && m[0] ? m : NULL;
}

bool rs_config_price_known(const struct rs_config *cfg, const char *model)
{
    if (!model || !model[0])
        return false;
    for (size_t i = 0; i < cfg->nprices; i++) {
        const struct rs_price *p = &cfg->prices[i];
        if (strcmp(p->model, "*") != 0 && strncmp(model, p->model, strlen(p->model)) == 0)
            return true;
    }
    return false;
}

struct rs_config *rs_config_new_defaults(const char *dir)
{
    struct rs_config *cfg = rs_xcalloc(1, sizeof(*cfg));
    char *abs_dir = rs_path_absolute(dir);
    char *path = rs_path_join(abs_dir, "ralphsup-defaults.toml");
    set_defaults(cfg, path);
    resolve_paths(cfg);
    free(path);
    free(abs_dir);
    return cfg;
}

/* ---- lenient load: only what locates the batch ------------------------- */

/*
 * The keys `stop` and `status` need to find a running batch, read without
 * validating anything else. Kept apart from rs_config_load() on purpose: the
 * strict loader stays the only one that `start`, `reload` and `doctor` use.
 */
static const char *const locator_keys[] = {"name", "root", "progress", "log_dir"};

static char **locator_slot(struct rs_config *cfg, const char *key)
{
    if (strcmp(key, "name") == 0)
        return &cfg->name;
    if (strcmp(key, "root") == 0)
        return &cfg->root;
    if (strcmp(key, "progress") == 0)
        return &cfg->progress;
    if (strcmp(key, "log_dir") == 0)
        return &cfg->log_dir;
    return NULL;
}

static bool locator_value_ok(const char *s, size_t len)
{
    return len > 0 && len == strlen(s) && !rs_has_control(s);
}

/* [batch] from a parsed tree; wrongly typed values keep their defaults. */
static void locator_from_tree(struct rs_config *cfg, const struct rs_toml_node *root)
{
    for (size_t i = 0; i < root->nchildren; i++) {
        const struct rs_toml_node *t = &root->children[i];
        if (t->kind != RS_TOML_TABLE || strcmp(t->key, "batch") != 0)
            continue;
        for (size_t j = 0; j < t->nchildren; j++) {
            const struct rs_toml_node *n = &t->children[j];
            char **slot = locator_slot(cfg, n->key);
            if (slot && n->kind == RS_TOML_STRING && locator_value_ok(n->str, n->str_len))
                set_str(slot, n->str);
        }
    }
}

/*
 * Text that is not valid TOML: look for `key = "value"` (or 'value') lines
 * under a [batch] header. Basic strings with escapes are skipped (their value
 * is not certain); so is anything else this simple reading cannot be sure of.
 */
static void locator_from_lines(struct rs_config *cfg, const char *text, size_t len)
{
    bool in_batch = false;
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* a UTF-8 BOM */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        while (s < le && (*s == ' ' || *s == '\t'))
            s++;
        if (s < le && *s == '[') {
            const char *a = s + 1, *b = memchr(a, ']', (size_t)(le - a));
            while (a < le && (*a == ' ' || *a == '\t'))
                a++;
            in_batch = false;
            if (b && *a != '[') {
                while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                    b--;
                in_batch = (size_t)(b - a) == 5 && strncmp(a, "batch", 5) == 0;
            }
        } else if (in_batch) {
            for (size_t k = 0; k < RS_ARRAY_SIZE(locator_keys); k++) {
                size_t kl = strlen(locator_keys[k]);
                if ((size_t)(le - s) <= kl || strncmp(s, locator_keys[k], kl) != 0)
                    continue;
                const char *q = s + kl;
                while (q < le && (*q == ' ' || *q == '\t'))
                    q++;
                if (q >= le || *q != '=')
                    continue;
                q++;
                while (q < le && (*q == ' ' || *q == '\t'))
                    q++;
                if (q >= le || (*q != '"' && *q != '\''))
                    continue;
                char quote = *q++;
                const char *close = memchr(q, quote, (size_t)(le - q));
                if (!close || (quote == '"' && memchr(q, '\\', (size_t)(close - q))))
                    continue;
                char *v = rs_xstrndup(q, (size_t)(close - q));
                if (locator_value_ok(v, strlen(v)))
                    set_str(locator_slot(cfg, locator_keys[k]), v);
                free(v);
            }
        }
        p = nl ? nl + 1 : end;
    }
}

int rs_config_load_locator(const char *path, struct rs_config **out)
{
    char *abs = rs_path_absolute(path);
    char *text = NULL;
    size_t len = 0;
    int r = rs_file_read(abs, CONFIG_MAX_BYTES, &text, &len);
    if (r < 0) {
        free(abs);
        return r;
    }
    struct rs_config *cfg = rs_xcalloc(1, sizeof(*cfg));
    set_defaults(cfg, abs);
    char err[512];
    int line = 0, col = 0;
    struct rs_toml_node *root = NULL;
    r = rs__toml_parse(text, len, path, &root, err, sizeof err, &line, &col);
    if (r == 0)
        locator_from_tree(cfg, root);
    else if (r > 0)
        locator_from_lines(cfg, text, len);
    rs__toml_free(root);
    free(text);
    free(abs);
    if (r < 0) {
        rs_config_free(cfg);
        return r;
    }
    resolve_paths(cfg);
    *out = cfg;
    return 0;
}

char *rs_config_output_csv(const struct rs_config *cfg, const char *slug)
{
    char *name = rs_xasprintf("%s.csv", slug);
    char *p = rs_path_join(cfg->output_dir, name);
    free(name);
    return p;
}

char *rs_config_relpath(const struct rs_config *cfg, const char *abs)
{
    size_t rl = strlen(cfg->root);
    if (strncmp(abs, cfg->root, rl) == 0 && abs[rl] == '/')
        return rs_xstrdup(abs + rl + 1);
    return rs_xstrdup(abs);
}
