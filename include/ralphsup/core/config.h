/* SPDX-License-Identifier: MIT */
/*
 * Configuration: load a TOML file (through the toml++ shim, the only C++ in
 * the project) into a plain struct rs_config, validate every key, resolve
 * every path. Reload = load a fresh struct and swap on success (mako).
 *
 * Paths: [batch] root is relative to the config file's directory; every
 * other relative path is relative to root. All paths in the struct are
 * absolute and lexically normalised, so the process's cwd never matters.
 *
 * Does not know about processes, libuv or git.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ralphsup/base/common.h"

enum rs_order {
    RS_ORDER_PRIORITY = 0, /* priority ascending, then list order */
    RS_ORDER_LIST = 1,     /* list order */
};

/* [verify] level: how much of a RALPH_DONE claim the supervisor checks (docs/config.md). */
enum rs_verify_level {
    RS_VERIFY_LEADS = 0,  /* every rule of the lead contract (docs/protocol.md); the default */
    RS_VERIFY_COUNTS = 1, /* header, row and overlap counts only (CSVs made by other tools) */
};

/* [agent] sandbox: the Landlock fence around the agent's tree (docs/security.md). */
enum rs_sandbox_mode {
    RS_SANDBOX_AUTO = 0,     /* the fence when the kernel offers Landlock, else a warning and the guard alone */
    RS_SANDBOX_LANDLOCK = 1, /* the fence or no start (exit 78) */
    RS_SANDBOX_OFF = 2,      /* no fence */
};

struct rs_kv {
    char *key;
    char *value;
};

/* Price per million tokens for one model (prefix match on the model id). */
struct rs_price {
    char *model;           /* e.g. "claude-opus-4", matched as a prefix; "*" = default */
    double input_per_mtok;
    double output_per_mtok;
    double cache_write_per_mtok;    /* 5-minute cache writes (and writes not split by lifetime) */
    double cache_read_per_mtok;
    double cache_write_1h_per_mtok; /* 1-hour cache writes (usage.cache_creation.ephemeral_1h_input_tokens) */
};

struct rs_limits {
    int64_t max_iterations;          /* total over the batch, persisted; default 1000 */
    int64_t max_attempts_per_school; /* default 3 */
    int64_t iteration_timeout_ms;    /* default 30m */
    int64_t stall_timeout_ms;        /* no output bytes; default 10m */
    int64_t first_output_timeout_ms; /* no stdout line at all since the spawn; default 2m, 0 = off */
    int64_t max_runtime_ms;          /* this invocation; 0 = unlimited; default 0 */
    double max_cost_usd;             /* batch total; 0 = unlimited */
    double max_cost_per_school_usd;  /* over all attempts; 0 = unlimited */
    int64_t kill_grace_ms;           /* SIGTERM then SIGKILL; default 10s */
    int64_t max_line_bytes;          /* stream lines above are skipped; default 64 MiB */
    int64_t max_identical_tool_calls;/* default 5; 0 = off */
    int64_t max_consecutive_transients; /* default 5, then stop the batch (exit 75) */
    int64_t transient_backoff_ms;    /* base of capped exponential backoff; default 5s */
    int64_t transient_backoff_max_ms;/* cap; default 5m */
    int64_t pipe_drain_timeout_ms;   /* wait for pipe EOF after exit; default 5s */
    int64_t jobs;                    /* workers (agents) at once, 1..64; default 1 */
    int64_t spawn_interval_ms;       /* at least this between two starts; default 2s; 0 = off */
    int64_t ramp_up_after_ms;        /* without a rate-limit signal, the target rises by 1; default 5m */
};

struct rs_config {
    char *path;        /* absolute path of the config file */
    char *dir;         /* its directory */

    /* [batch] */
    char *name;
    char *root;        /* absolute */
    char *schools;     /* absolute path of the school list JSON */
    char *aliases;     /* absolute path or NULL */
    char *progress;    /* absolute path of batch_progress.json */
    int64_t seal_every; /* [batch] seal_every: completed entries in full before they are sealed (0: never) */
    char *prompt;      /* absolute path of the prompt template */
    char *output_dir;  /* absolute */
    char *report_dir;  /* absolute */
    char *log_dir;     /* absolute; default <root>/logs */
    char *cache_dir;   /* absolute or NULL */
    enum rs_order order;
    char *shard;       /* [batch] shard as given ("I/N", "auto/N") or NULL (docs/scale-out.md) */
    int shard_index, shard_count; /* set by rs_shard_apply(); shard_count 0 = not sharded */

    /* [agent] */
    char *command;     /* as given (looked up in PATH if no '/'), default "claude" */
    char **args;       /* NULL-terminated */
    size_t nargs;
    char *model;       /* or NULL */
    struct rs_kv *env;
    size_t nenv;
    bool guard;        /* wire `ralphsup hook guard` in through --settings; default true */
    bool partial_messages; /* pass --include-partial-messages (final output counts); default true */
    enum rs_sandbox_mode sandbox; /* default RS_SANDBOX_AUTO */
    char **writable;   /* absolute, each exists at load; NULL-terminated (may be NULL) */
    size_t nwritable;
    bool keep_failed_work; /* keep the work directory of an attempt that did not complete; default false */

    struct rs_limits limits;

    struct rs_price *prices;
    size_t nprices;

    /* [git] */
    bool git_enabled;
    char *git_ref;     /* "HEAD" or "refs/heads/..." */
    char *git_author_name;
    char *git_author_email;
    bool git_include_outputs;
    int64_t git_pack_every; /* pack ralphsup's own objects every N commits (0: never) */

    /* [report] */
    bool report_on_finish;
    bool report_csv_escape_formulas;
    bool report_csv_bom;       /* start the master CSV with a UTF-8 BOM (for Excel); default false */
    char **report_truthy; /* NULL-terminated; default yes,true,1,y */
    size_t nreport_truthy;

    /* [verify] */
    enum rs_verify_level verify_level; /* default RS_VERIFY_LEADS */
    double verify_max_yes_share;       /* flag a school for review above this share of yes rows; default 0.5 */

    /* [doctor] */
    int64_t doctor_min_free_mb;
    int64_t doctor_cache_max_age_days;

    /* [audit] (docs/audit.md) */
    bool audit_allow_private;          /* fetch from loopback/private/link-local addresses; default false */
    int64_t audit_connect_timeout_ms;  /* default 10s */
    int64_t audit_timeout_ms;          /* whole transfer, redirects included; default 30s */
    int64_t audit_max_bytes;           /* body bytes read per page; default 5 MiB */
    int64_t audit_per_host_interval_ms;/* between two requests to one host; default 1s */
    char *audit_user_agent;

    /* [notify] (docs/operations.md#notifications) */
    char **notify_command;             /* argv (no shell), NULL-terminated; NULL = no notifications */
    size_t nnotify_command;
    char **notify_events;              /* names of rs_notify_events[]; NULL = all of them */
    size_t nnotify_events;
    int64_t notify_timeout_ms;         /* one run of the command; default 30s */

    /* [metrics] (docs/operations.md#metrics) */
    char *metrics_textfile;            /* absolute path of the Prometheus text file, or NULL */
};

/*
 * rs_config_schema_key() - the @i-th key of the config schema, in file
 * order: *@section ("batch", "limits", ...; "prices" for the keys of one
 * model's [prices."<model>"] table) and *@key. For the documentation's
 * checks (`ralphsup __list keys`, the man-pages test). Return: false past
 * the last key.
 */
bool rs_config_schema_key(size_t i, const char **section, const char **key);

/*
 * The events a [notify] command can be run for, in docs order: each is the
 * "event" of a logs/events.jsonl record (batch-finished, batch-stopped,
 * batch-paused, school-failed, stalled-killed, budget-crossed).
 */
extern const char *const rs_notify_events[];
extern const size_t rs_notify_nevents;
/* True when [notify] events selects @event (and a command is set). */
bool rs_config_notifies(const struct rs_config *cfg, const char *event);

/* Positive return codes of rs_config_load(). */
enum {
    RS_CONFIG_E_INVALID = 1, /* diagnostics appended to @diags */
};

/*
 * rs_config_load() - parse and validate @path.
 * @out: set only on success; free with rs_config_free().
 * @diags: every problem is appended as "file:line:col: [section] key: message"
 *          (file as given in @path); TOML syntax errors stop after the first.
 * Return: 0, RS_CONFIG_E_INVALID, or negative errno if the file can't be read
 * (-ENOENT when it does not exist, -EISDIR when it is a directory; no
 * diagnostic is added then).
 */
int rs_config_load(const char *path, struct rs_config **out, struct rs_diags *diags);
/* Free everything rs_config_load() allocated; NULL-safe. Return: NULL. */
struct rs_config *rs_config_free(struct rs_config *cfg);

/*
 * rs_config_new_defaults() - a configuration with every default, as if an
 * empty config file lived in @dir (root = @dir). Used by `replay` without a
 * config. Free with rs_config_free().
 */
struct rs_config *rs_config_new_defaults(const char *dir);

/*
 * rs_config_load_locator() - the lenient load of the commands that only
 * need to find a batch (`stop`, and `status` which only reads the progress
 * file) when rs_config_load() refused the file: [batch] name, root,
 * progress and log_dir are taken from @path, every other key keeps its
 * default and nothing else is validated. A value among those four that is
 * not a usable string keeps its default too. When the file is not valid
 * TOML, the four are looked for line by line (`key = "value"` under a
 * [batch] header). Never use the result to run anything.
 * Return: 0 and *out, or negative errno when the file cannot be read.
 */
int rs_config_load_locator(const char *path, struct rs_config **out);

/* Fill @l with the documented defaults. */
void rs_limits_defaults(struct rs_limits *l);

/*
 * rs_limits_diff() - human description of what changed between @a and @b,
 * e.g. "max_cost_usd 50 → 20, stall_timeout 10m → 5m"; "" when equal.
 * Caller frees.
 */
char *rs_limits_diff(const struct rs_limits *a, const struct rs_limits *b);

/* Price lookup for @model (longest prefix wins, then "*"); never NULL. */
const struct rs_price *rs_config_price(const struct rs_config *cfg, const char *model);
/* The model the agent is told to use: [agent] model, else a --model in args (last one); NULL if none. */
const char *rs_config_agent_model(const struct rs_config *cfg);
/* True when @model matches a [prices] prefix other than "*" (NULL/"" never does). */
bool rs_config_price_known(const struct rs_config *cfg, const char *model);

/*
 * Paths of the batch, from its config alone (so the doctor, the observer and
 * the store share one rule and nobody builds a batch to reach it).
 * rs_config_output_csv(): <output_dir>/<slug>.csv, the CSV a school's agent
 * writes. rs_config_relpath(): @abs relative to the batch root when it is
 * inside it ("output/x.csv"), else @abs unchanged. Both: caller frees.
 */
char *rs_config_output_csv(const struct rs_config *cfg, const char *slug);
char *rs_config_relpath(const struct rs_config *cfg, const char *abs);
