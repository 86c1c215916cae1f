/* SPDX-License-Identifier: MIT */
/*
 * Per-iteration observation. Everything here is bounded: strings are copied
 * with caps, the loop detector remembers at most MAX_CALLS distinct calls
 * (a flood of distinct calls is not a loop), and only the last marker of
 * each kind is kept.
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ralphsup/core/csv.h"
#include "ralphsup/core/iteration.h"
#include "ralphsup/core/leads.h"
#include "ralphsup/core/verify.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

#define MAX_CALLS 512
#define CAP RS_TEXT_MAX /* the one cap on stored outside text (docs/progress.md) */
#define MSG_SLOTS 32   /* API messages remembered for cost accounting (as stream.c's ring) */
#define CALIB_MODELS 16

struct call {
    uint64_t hash;
    char *name;
    int count;
};

/*
 * One API message's share of the estimate. Its lines (message_start, one
 * assistant line per content block, message_delta) may interleave with a
 * sub-agent's, so messages are found by id, never by "the last one".
 */
struct msg {
    char *id;                     /* NULL: a line without message.id (its own message) */
    char *parent;                 /* parent_tool_use_id, NULL on the main thread */
    const struct rs_price *price;
    struct rs_policy_tokens tok;  /* input side; .output is recomputed */
    int64_t reported_out;         /* largest output_tokens of the initial usage (~1) */
    int64_t bytes;                /* content size as written, from assistant lines */
    bool have_usage;              /* an initial usage was taken */
    bool final;                   /* message_delta gave the final output count */
    bool open;                    /* message_start seen, message_delta not yet */
    double charged;               /* what it adds to the estimate now */
};

struct calib_entry {
    char *model;
    double sum_estimate;
    double sum_actual;
    double ratio;
};

struct rs_cost_calib {
    struct calib_entry e[CALIB_MODELS];
    size_t n;
    size_t next; /* replaced when full (oldest first) */
};

struct rs_iteration {
    struct rs_iteration_opts o;
    char *school;
    char *slug;
    char *work_dir; /* a copy of o.work_dir, or NULL */

    char *session;
    bool got_init;
    /* The last stdout line was an api_retry: the CLI waits this long before its next try. */
    int64_t retry_wait_ms;
    char retry_what[128];
    char stderr_head[256];
    size_t nstderr;
    bool stderr_done;
    char *stderr_text; /* stderr_head made valid UTF-8, for the verdict */
    /* Cost estimate (see account()). */
    struct msg msgs[MSG_SLOTS];
    size_t msg_next;
    char *model;
    bool calibrated;
    char *last_tool;
    char *last_progress;
    double estimate;
    struct rs_iteration_counts counts;

    struct call *calls;
    size_t ncalls;
    char *kill_detail;

    /* API trouble */
    char *synthetic_error;
    char *synthetic_text;
    bool auth_failure;
    int64_t usage_reset_ms;

    /* result */
    bool got_result;
    char *result_subtype;
    bool result_is_error;
    int api_error_status;
    bool has_cost;
    double total_cost;
    char *result_text;
    char *result_errors;

    /* markers: the last DONE/FAILED for this school wins */
    int final_kind; /* 0, RS_MARKER_DONE, RS_MARKER_FAILED */
    char *done_csv;
    int64_t done_coaches, done_overlaps;
    char *failed_reason;
    bool failed_retryable;
    char *invalid_marker;
    char *other_marker; /* the first marker ignored for naming another school */

    /* verification */
    bool verified;
    char *verify_error;
    char *csv_abs;
    char *csv_rel;
    char *review;
    char **domains;  /* copy of o.email_domains */
    char *done_school; /* the RALPH_DONE's school (canonical when the aliases know it) */
};

/* Keep outside text: made valid UTF-8 and cut at a character boundary with "…" past CAP bytes. */
static void replace(char **dst, const char *src)
{
    free(*dst);
    *dst = rs_utf8_clean_str(src, CAP);
}

static void note(struct rs_iteration *it, const char *kind, const char *fmt, ...) RS_PRINTF(3, 4);
static void note(struct rs_iteration *it, const char *kind, const char *fmt, ...)
{
    if (!it->o.note)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *m = rs_xvasprintf(fmt, ap);
    va_end(ap);
    it->o.note(it->o.ud, kind, m);
    free(m);
}

int rs_iteration_new(const struct rs_iteration_opts *o, struct rs_iteration **out)
{
    if (!o || !o->cfg || !o->school || !out)
        return -EINVAL;
    struct rs_iteration *it = rs_xcalloc(1, sizeof(*it));
    it->o = *o;
    it->school = rs_xstrdup(o->school);
    it->slug = rs_xstrdup(o->school_slug ? o->school_slug : "");
    it->o.school = it->school;
    it->o.school_slug = it->slug;
    if (o->nemail_domains)
        it->domains = rs_strv_dup((char *const *)o->email_domains, o->nemail_domains);
    it->o.email_domains = (const char *const *)it->domains;
    it->work_dir = o->work_dir ? rs_xstrdup(o->work_dir) : NULL;
    it->o.work_dir = it->work_dir;
    *out = it;
    return 0;
}

struct rs_iteration *rs_iteration_free(struct rs_iteration *it)
{
    if (!it)
        return NULL;
    for (size_t i = 0; i < it->ncalls; i++)
        free(it->calls[i].name);
    free(it->calls);
    free(it->school);
    free(it->slug);
    free(it->work_dir);
    free(it->session);
    for (size_t i = 0; i < MSG_SLOTS; i++) {
        free(it->msgs[i].id);
        free(it->msgs[i].parent);
    }
    free(it->model);
    free(it->last_tool);
    free(it->last_progress);
    free(it->kill_detail);
    free(it->synthetic_error);
    free(it->synthetic_text);
    free(it->result_subtype);
    free(it->result_text);
    free(it->result_errors);
    free(it->done_csv);
    free(it->failed_reason);
    free(it->invalid_marker);
    free(it->other_marker);
    free(it->verify_error);
    free(it->stderr_text);
    free(it->csv_abs);
    free(it->csv_rel);
    free(it->review);
    free(it->done_school);
    rs_strv_free(it->domains);
    free(it);
    return NULL;
}

/* Does a marker's school name the current school? */
static bool is_our_school(const struct rs_iteration *it, const char *name)
{
    if (!it->school[0])
        return true; /* replay without --school: any school is "ours" */
    if (rs_streq_ci(name, it->school) || (it->slug[0] && rs_streq_ci(name, it->slug)))
        return true;
    if (it->o.aliases) {
        const char *canon = rs_aliases_resolve(it->o.aliases, name);
        if (canon && rs_streq_ci(canon, it->school))
            return true;
    }
    return false;
}

static void on_marker(struct rs_iteration *it, const struct rs_marker *m)
{
    switch (m->kind) {
    case RS_MARKER_PROGRESS:
        replace(&it->last_progress, m->text);
        note(it, "marker", "RALPH_PROGRESS: %s", m->text ? m->text : "");
        return;
    case RS_MARKER_INVALID:
        replace(&it->invalid_marker, m->reason);
        note(it, "marker-invalid", "invalid %s marker: %s", rs_marker_kind_name(m->intended),
             m->reason ? m->reason : "?");
        return;
    case RS_MARKER_DONE:
    case RS_MARKER_FAILED:
        break;
    }
    if (!is_our_school(it, m->school)) {
        it->counts.markers_ignored++;
        if (!it->other_marker)
            it->other_marker = rs_xasprintf("%s for \"%s\"", m->kind == RS_MARKER_DONE ? "RALPH_DONE" : "RALPH_FAILED",
                                            m->school);
        note(it, "marker-ignored", "ignored %s marker for another school (\"%s\"; current school is \"%s\")",
             m->kind == RS_MARKER_DONE ? "RALPH_DONE" : "RALPH_FAILED", m->school, it->school);
        return;
    }
    it->final_kind = (int)m->kind;
    if (m->kind == RS_MARKER_DONE) {
        const char *canon = it->o.aliases ? rs_aliases_resolve(it->o.aliases, m->school) : NULL;
        replace(&it->done_school, canon ? canon : m->school);
        free(it->done_csv); /* a path: kept as written, to be verified */
        it->done_csv = m->csv ? rs_xstrdup(m->csv) : NULL;
        it->done_coaches = m->coaches;
        it->done_overlaps = m->overlaps;
        note(it, "marker", "RALPH_DONE: %lld %s, %lld %s, csv %s", (long long)m->coaches,
             rs_plural((uint64_t)m->coaches, "coach", "coaches"), (long long)m->overlaps,
             rs_plural((uint64_t)m->overlaps, "overlap", "overlaps"), m->csv);
    } else {
        replace(&it->failed_reason, m->reason);
        it->failed_retryable = m->retryable;
        note(it, "marker", "RALPH_FAILED (%s): %s", m->retryable ? "retryable" : "not retryable",
             m->reason ? m->reason : "");
    }
}

/* "Bash: curl -s …" -> name "Bash", rest "curl -s …". */
static enum rs_iter_action on_tool(struct rs_iteration *it, const struct rs_stream_block *b)
{
    it->counts.tool_calls++;
    const char *summary = b->summary ? b->summary : (b->tool_name ? b->tool_name : "?");
    replace(&it->last_tool, summary);
    note(it, "tool", "%s", summary);
    int64_t max = it->o.cfg->limits.max_identical_tool_calls;
    if (max <= 0)
        return RS_ITER_CONTINUE;
    const char *name = b->tool_name ? b->tool_name : "?";
    struct call *c = NULL;
    for (size_t i = 0; i < it->ncalls; i++)
        if (it->calls[i].hash == b->input_hash && strcmp(it->calls[i].name, name) == 0)
            c = &it->calls[i];
    if (!c) {
        if (it->ncalls >= MAX_CALLS)
            return RS_ITER_CONTINUE;
        it->calls = rs_xrealloc(it->calls, (it->ncalls + 1) * sizeof(*it->calls));
        c = &it->calls[it->ncalls++];
        c->hash = b->input_hash;
        c->name = rs_xstrdup(name);
        c->count = 0;
    }
    c->count++;
    if (c->count >= max && !it->kill_detail) {
        size_t nl = strlen(name);
        const char *rest = summary;
        if (strncmp(summary, name, nl) == 0 && summary[nl] == ':')
            rest = summary + nl + 1 + (summary[nl + 1] == ' ');
        it->kill_detail = rs_xasprintf("repeated %s `%s` %d×", name, rest, c->count);
        return RS_ITER_KILL_REPEAT;
    }
    return RS_ITER_CONTINUE;
}

/*
 * Cost estimate, per API message: input, cache reads and cache writes (split
 * into 5-minute and 1-hour writes when usage.cache_creation says so, else
 * all at the 5-minute price) from the first usage seen for the message
 * (message_start, or its first assistant line: the CLI copies message_start's
 * usage into every assistant line, output_tokens ~1 included). Output tokens
 * from the message's final usage (message_delta, with
 * --include-partial-messages), else the larger of the reported count and the
 * content's size / 4 bytes per token. A message is repriced as it grows and
 * the estimate adjusted by the difference.
 */
static struct msg *msg_find(struct rs_iteration *it, const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < MSG_SLOTS; i++)
        if (it->msgs[i].id && strcmp(it->msgs[i].id, id) == 0)
            return &it->msgs[i];
    return NULL;
}

static struct msg *msg_new(struct rs_iteration *it, const char *id, const char *parent, const char *model)
{
    struct msg *m = &it->msgs[it->msg_next];
    it->msg_next = (it->msg_next + 1) % MSG_SLOTS;
    free(m->id);
    free(m->parent);
    memset(m, 0, sizeof(*m));
    m->id = id ? rs_xstrndup(id, CAP) : NULL;
    m->parent = parent ? rs_xstrndup(parent, CAP) : NULL;
    m->price = rs_config_price(it->o.cfg, model ? model : "");
    it->counts.api_messages++;
    if (!it->model && model)
        it->model = rs_xstrndup(model, CAP);
    return m;
}

/* Take the input side of @u; later usages (message_delta) replace what they give (> 0). */
static void msg_usage(struct msg *m, const struct rs_stream_usage *u)
{
    if (!u->present)
        return;
    m->have_usage = true;
    if (u->input_tokens > 0)
        m->tok.input = u->input_tokens;
    if (u->cache_read_input_tokens > 0)
        m->tok.cache_read = u->cache_read_input_tokens;
    if (u->has_cache_split) {
        m->tok.cache_write_5m = u->cache_creation_5m_input_tokens;
        m->tok.cache_write_1h = u->cache_creation_1h_input_tokens;
    }
    /* Writes the split does not cover (or no split at all) are priced as 5-minute ones. */
    int64_t split = m->tok.cache_write_5m + m->tok.cache_write_1h;
    if (u->cache_creation_input_tokens > split)
        m->tok.cache_write_5m += u->cache_creation_input_tokens - split;
    if (u->output_tokens > m->reported_out)
        m->reported_out = u->output_tokens;
}

static void msg_price(struct rs_iteration *it, struct msg *m)
{
    struct rs_policy_tokens t = m->tok;
    if (!m->final) {
        int64_t guess = m->bytes / 4;
        t.output = m->reported_out > guess ? m->reported_out : guess;
    }
    double c = rs_policy_tokens_cost(m->price, &t);
    it->estimate += c - m->charged;
    m->charged = c;
}

static void on_partial(struct rs_iteration *it, const struct rs_stream_event *ev)
{
    const struct rs_stream_partial *pe = &ev->partial;
    if (!ev->subtype)
        return;
    if (strcmp(ev->subtype, "message_start") == 0) {
        if (pe->model && strcmp(pe->model, "<synthetic>") == 0)
            return;
        struct msg *m = msg_find(it, pe->message_id);
        if (!m)
            m = msg_new(it, pe->message_id, pe->parent_tool_use_id, pe->model);
        m->open = true;
        msg_usage(m, &pe->usage);
        msg_price(it, m);
    } else if (strcmp(ev->subtype, "message_delta") == 0 && pe->usage.present) {
        /* The newest open message of the same thread. */
        struct msg *m = NULL;
        for (size_t k = 1; k <= MSG_SLOTS && !m; k++) {
            struct msg *c = &it->msgs[(it->msg_next + MSG_SLOTS - k) % MSG_SLOTS];
            const char *a = c->parent ? c->parent : "", *b = pe->parent_tool_use_id ? pe->parent_tool_use_id : "";
            if (c->open && strcmp(a, b) == 0)
                m = c;
        }
        if (!m)
            return;
        m->open = false;
        msg_usage(m, &pe->usage);
        m->tok.output = pe->usage.output_tokens;
        m->final = true;
        msg_price(it, m);
    }
}

static void account(struct rs_iteration *it, const struct rs_stream_assistant *a)
{
    if (a->synthetic)
        return;
    struct msg *m = msg_find(it, a->message_id);
    if (!m)
        m = msg_new(it, a->message_id, a->parent_tool_use_id, a->model);
    if (!m->have_usage) {
        msg_usage(m, &a->usage);
    } else if (a->usage.present && a->usage.output_tokens > m->reported_out) {
        m->reported_out = a->usage.output_tokens;
    }
    for (size_t i = 0; i < a->nblocks; i++)
        m->bytes += (int64_t)(a->blocks[i].kind == RS_STREAM_BLOCK_TOOL_USE ? a->blocks[i].input_bytes
                                                                             : a->blocks[i].text_bytes);
    msg_price(it, m);
}

static enum rs_iter_action on_assistant(struct rs_iteration *it, const struct rs_stream_assistant *a)
{
    enum rs_iter_action act = RS_ITER_CONTINUE;
    if (a->session_id && !it->session)
        replace(&it->session, a->session_id);
    account(it, a);
    if (a->error) {
        replace(&it->synthetic_error, a->error);
        replace(&it->synthetic_text, a->error_text);
        note(it, "api-error", "API error (%s): %s", a->error, a->error_text ? a->error_text : "");
        if (strcmp(a->error, "authentication_failed") == 0)
            it->auth_failure = true;
    }
    for (size_t i = 0; i < a->nblocks; i++) {
        const struct rs_stream_block *b = &a->blocks[i];
        if (b->kind == RS_STREAM_BLOCK_TEXT) {
            for (size_t k = 0; k < b->nmarkers; k++)
                on_marker(it, &b->markers[k]);
        } else if (b->kind == RS_STREAM_BLOCK_TOOL_USE) {
            enum rs_iter_action r = on_tool(it, b);
            if (r != RS_ITER_CONTINUE && act == RS_ITER_CONTINUE)
                act = r;
        }
    }
    return act;
}

static void on_result(struct rs_iteration *it, const struct rs_stream_result *r)
{
    it->got_result = true;
    replace(&it->result_subtype, r->subtype);
    it->result_is_error = r->is_error;
    it->api_error_status = r->has_api_error_status ? r->api_error_status : 0;
    if (r->has_cost) {
        it->has_cost = true;
        it->total_cost = r->total_cost_usd;
    }
    replace(&it->result_text, r->has_result ? r->result : NULL);
    if (r->nerrors) {
        struct rs_buf b;
        rs_buf_init(&b);
        for (size_t i = 0; i < r->nerrors && b.len < CAP; i++) {
            if (i)
                rs_buf_puts(&b, "; ");
            rs_buf_puts(&b, r->errors[i]);
        }
        free(it->result_errors);
        it->result_errors = rs_utf8_clean(rs_buf_cstr(&b), b.len, CAP, NULL, NULL);
        rs_buf_deinit(&b);
    }
    if (r->session_id && !it->session)
        replace(&it->session, r->session_id);
    for (size_t i = 0; i < r->ndenials; i++) {
        it->counts.permission_denials++;
        note(it, "permission-denied", "%s (%s)", r->denials[i].input_summary ? r->denials[i].input_summary : "",
             r->denials[i].tool_name ? r->denials[i].tool_name : "?");
    }
    note(it, "result", "result %s%s, %lld turns%s", r->subtype ? r->subtype : "?", r->is_error ? " (is_error)" : "",
         (long long)r->num_turns, r->has_cost ? "" : ", no cost");
}

enum rs_iter_action rs_iteration_on_event(struct rs_iteration *it, const struct rs_stream_event *ev)
{
    if (ev->kind != RS_STREAM_API_RETRY)
        it->retry_wait_ms = 0; /* any other line: the CLI has moved on */
    switch (ev->kind) {
    case RS_STREAM_INIT:
        it->got_init = true;
        replace(&it->session, ev->init.session_id);
        note(it, "init", "session %s, model %s, claude %s", ev->init.session_id ? ev->init.session_id : "?",
             ev->init.model ? ev->init.model : "?", ev->init.claude_code_version ? ev->init.claude_code_version : "?");
        if (ev->init.model && ev->init.model[0]) {
            replace(&it->model, ev->init.model);
            if (!rs_config_price_known(it->o.cfg, ev->init.model))
                note(it, "price-unknown", "no price for %s; estimates use '*'", ev->init.model);
        }
        return RS_ITER_CONTINUE;
    case RS_STREAM_PARTIAL:
        on_partial(it, ev);
        return RS_ITER_CONTINUE;
    case RS_STREAM_ASSISTANT:
        return on_assistant(it, &ev->assistant);
    case RS_STREAM_USER:
        for (size_t i = 0; i < ev->user.nresults; i++)
            if (ev->user.results[i].is_error)
                note(it, "tool-error", "tool result error: %s", ev->user.results[i].content);
        return RS_ITER_CONTINUE;
    case RS_STREAM_RESULT:
        on_result(it, &ev->result);
        return RS_ITER_CONTINUE;
    case RS_STREAM_API_RETRY: {
        const struct rs_stream_api_retry *r = &ev->api_retry;
        it->counts.api_retries++;
        it->retry_wait_ms = r->retry_delay_ms > 0 ? (int64_t)r->retry_delay_ms : 1;
        if (r->has_error_status && r->error_status)
            rs_utf8_printf(it->retry_what, sizeof it->retry_what, "API retry %lld/%lld (%s %d)", (long long)r->attempt,
                     (long long)r->max_retries, r->error ? r->error : "error", r->error_status);
        else
            rs_utf8_printf(it->retry_what, sizeof it->retry_what, "API retry %lld/%lld (%s)", (long long)r->attempt,
                     (long long)r->max_retries, r->error ? r->error : "error");
        note(it, "api-retry", "CLI retrying API call (attempt %lld/%lld, %s, status %d, delay %.0f ms)",
             (long long)r->attempt, (long long)r->max_retries, r->error ? r->error : "?",
             r->has_error_status ? r->error_status : 0, r->retry_delay_ms);
        if ((r->error && strcmp(r->error, "authentication_failed") == 0) ||
            (r->has_error_status && r->error_status == 401)) {
            it->auth_failure = true;
            if (!it->kill_detail)
                it->kill_detail = rs_xasprintf("HTTP %d %s, seen in the CLI's first retry",
                                               r->has_error_status ? r->error_status : 401,
                                               r->error ? r->error : "authentication_failed");
            return RS_ITER_KILL_AUTH;
        }
        return RS_ITER_CONTINUE;
    }
    case RS_STREAM_RATE_LIMIT:
        if (ev->rate_limit.status && strcmp(ev->rate_limit.status, "rejected") == 0 && ev->rate_limit.has_resets_at) {
            it->usage_reset_ms = ev->rate_limit.resets_at * 1000;
            char b[40];
            note(it, "usage-limit", "usage limit rejected (%s); resets at %s",
                 ev->rate_limit.rate_limit_type ? ev->rate_limit.rate_limit_type : "?",
                 rs_time_iso(it->usage_reset_ms, b, sizeof b));
        }
        return RS_ITER_CONTINUE;
    case RS_STREAM_BAD_LINE:
        it->counts.bad_lines++;
        note(it, "bad-line", "line %llu is not JSON (%s): %s", (unsigned long long)ev->line_no,
             ev->bad.reason ? ev->bad.reason : "?", ev->bad.head ? ev->bad.head : "");
        return RS_ITER_CONTINUE;
    case RS_STREAM_OVERSIZE:
        it->counts.oversize_lines++;
        note(it, "oversize-line", "line %llu skipped: %zu bytes exceed max_line_bytes", (unsigned long long)ev->line_no,
             ev->line_bytes);
        return RS_ITER_CONTINUE;
    case RS_STREAM_TRUNCATED:
        note(it, "truncated-output", "output ended with a partial line of %zu bytes", ev->line_bytes);
        return RS_ITER_CONTINUE;
    case RS_STREAM_SYSTEM:
    case RS_STREAM_OTHER:
        return RS_ITER_CONTINUE;
    }
    return RS_ITER_CONTINUE;
}

void rs_iteration_stderr(struct rs_iteration *it, const char *data, size_t len)
{
    /* Keep the first non-empty line only, printable, for the verdict's reason. */
    for (size_t i = 0; i < len && !it->stderr_done; i++) {
        char c = data[i];
        if (c == '\n') {
            it->stderr_done = it->nstderr > 0;
            continue;
        }
        if (it->nstderr + 1 >= sizeof it->stderr_head) {
            it->stderr_done = true;
            break;
        }
        it->stderr_head[it->nstderr++] = (c >= 0x20 && c != 0x7f) || (c & 0x80) ? c : ' ';
        it->stderr_head[it->nstderr] = '\0';
    }
}

double rs_iteration_estimate(const struct rs_iteration *it, bool calibrated)
{
    double e = it->estimate > 0 ? it->estimate : 0; /* float sums of repricings may leave -0.0 */
    if (calibrated && it->o.calib && it->model)
        e *= rs_cost_calib_ratio(it->o.calib, it->model);
    return e;
}

double rs_iteration_cost(const struct rs_iteration *it, bool *estimated)
{
    if (estimated)
        *estimated = !it->has_cost;
    return it->has_cost ? it->total_cost : rs_iteration_estimate(it, true);
}

const char *rs_iteration_model(const struct rs_iteration *it)
{
    return it->model;
}

/* ---- calibration ---------------------------------------------------------- */

struct rs_cost_calib *rs_cost_calib_new(void)
{
    return rs_xcalloc(1, sizeof(struct rs_cost_calib));
}

struct rs_cost_calib *rs_cost_calib_free(struct rs_cost_calib *c)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        free(c->e[i].model);
    free(c);
    return NULL;
}

static struct calib_entry *calib_find(const struct rs_cost_calib *c, const char *model)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].model, model) == 0)
            return (struct calib_entry *)&c->e[i];
    return NULL;
}

double rs_cost_calib_ratio(const struct rs_cost_calib *c, const char *model)
{
    const struct calib_entry *e = c && model ? calib_find(c, model) : NULL;
    return e ? e->ratio : 1.0;
}

bool rs_iteration_calibrate(struct rs_iteration *it, struct rs_cost_calib *c, struct rs_cost_calibration *out)
{
    double est = rs_iteration_estimate(it, false);
    if (!c || it->calibrated || !it->has_cost || !it->model || est < RS_COST_CALIB_MIN_USD ||
        !(it->total_cost >= RS_COST_CALIB_MIN_USD))
        return false;
    it->calibrated = true;
    struct calib_entry *e = calib_find(c, it->model);
    if (!e) {
        if (c->n < CALIB_MODELS) {
            e = &c->e[c->n++];
        } else {
            e = &c->e[c->next];
            c->next = (c->next + 1) % CALIB_MODELS;
            free(e->model);
        }
        memset(e, 0, sizeof(*e));
        e->model = rs_xstrdup(it->model);
        e->ratio = 1.0;
    }
    double before = e->ratio;
    e->sum_estimate += est;
    e->sum_actual += it->total_cost;
    double r = e->sum_actual / e->sum_estimate;
    bool clamped = r < RS_COST_CALIB_MIN || r > RS_COST_CALIB_MAX;
    e->ratio = r < RS_COST_CALIB_MIN ? RS_COST_CALIB_MIN : r > RS_COST_CALIB_MAX ? RS_COST_CALIB_MAX : r;
    if (out) {
        out->model = it->model;
        out->estimate = est;
        out->actual = it->total_cost;
        out->ratio_before = before;
        out->ratio = e->ratio;
        out->clamped = clamped;
    }
    return true;
}

const char *rs_iteration_kill_detail(const struct rs_iteration *it)
{
    return it->kill_detail;
}

const char *rs_iteration_session(const struct rs_iteration *it)
{
    return it->session;
}

const char *rs_iteration_last_tool(const struct rs_iteration *it)
{
    return it->last_tool;
}

const char *rs_iteration_last_progress(const struct rs_iteration *it)
{
    return it->last_progress;
}

int64_t rs_iteration_retry_wait(const struct rs_iteration *it, const char **what)
{
    if (what)
        *what = it->retry_wait_ms > 0 ? it->retry_what : NULL;
    return it->retry_wait_ms;
}

void rs_iteration_counts(const struct rs_iteration *it, struct rs_iteration_counts *c)
{
    *c = it->counts;
}

bool rs_iteration_done(const struct rs_iteration *it, struct rs_iteration_done *d)
{
    if (!it->verified)
        return false;
    d->coaches = it->done_coaches;
    d->overlaps = it->done_overlaps;
    d->csv_rel = it->csv_rel;
    d->csv_abs = it->csv_abs;
    d->review = it->review;
    return true;
}

/* <dir>/<slug>.csv: the CSV assigned in a work directory. */
static char *assigned_in(const char *dir, const char *slug)
{
    char *name = rs_xasprintf("%s.csv", slug);
    char *p = rs_path_join(dir, name);
    free(name);
    return p;
}

/* @abs (inside @work_dir) as its place in output_dir, relative to the root: "output/x.csv". */
static char *published_name(const struct rs_config *cfg, const char *work_dir, const char *abs)
{
    char *dest = rs_path_join(cfg->output_dir, abs + strlen(work_dir) + 1);
    char *shown = rs_config_relpath(cfg, dest);
    free(dest);
    return shown;
}

/* Verify the RALPH_DONE claim; sets verified or verify_error. */
static void verify_done(struct rs_iteration *it)
{
    const struct rs_config *cfg = it->o.cfg;
    /* Where the agent's CSV lives: its iteration's work directory, or (without one) output_dir. */
    const char *outdir = it->work_dir ? it->work_dir : cfg->output_dir;
    char *joined = rs_path_join(cfg->root, it->done_csv);
    char *abs = rs_path_normalize(joined);
    free(joined);
    if (it->done_csv[0] != '/' && !rs_file_exists(abs)) {
        /* Also accept a path relative to the output directory ("x.csv"). */
        char *j2 = rs_path_join(outdir, it->done_csv);
        char *alt = rs_path_normalize(j2);
        free(j2);
        if (rs_file_exists(alt)) {
            free(abs);
            abs = alt;
        } else {
            free(alt);
        }
    }
    bool in_output = false;
    bool evidence = false; /* replay: abs is log_dir/<NNNN>-<slug>.csv, the kept CSV of an unpublished attempt */
    if (!it->work_dir && !rs_file_exists(abs)) {
        /* Replay: the work directory (<root>/.ralphsup/work/<NNNN>-<slug>/<name>, run/sandbox.h
         * RS_SANDBOX_WORK_DIR) is gone. An attempt that did not complete left its <slug>.csv as
         * log_dir/<NNNN>-<slug>.csv (evidence); a completed one was published as output_dir/<name>. */
        char *wbase = rs_path_join(cfg->root, ".ralphsup/work");
        const char *d = rs_path_is_inside(wbase, abs) ? abs + strlen(wbase) + 1 : NULL;
        const char *rest = d ? strchr(d, '/') : NULL;
        if (rest && rest[1] && !strchr(rest + 1, '/')) {
            const char *dash = strchr(d, '-'), *name = rest + 1;
            size_t slen = dash && dash < rest ? (size_t)(rest - dash - 1) : 0;
            bool own = slen && strlen(name) == slen + 4 && strncmp(name, dash + 1, slen) == 0 &&
                       strcmp(name + slen, ".csv") == 0;
            char *ev = rs_xasprintf("%.*s.csv", (int)(rest - d), d);
            char *evp = rs_path_join(cfg->log_dir, ev);
            free(ev);
            char *pub = rs_path_join(cfg->output_dir, name);
            free(abs);
            if (own && rs_file_exists(evp)) {
                abs = evp;
                free(pub);
                evidence = true;
                outdir = cfg->log_dir;
            } else {
                abs = pub;
                free(evp);
            }
        }
        free(wbase);
    }
    if (it->work_dir && rs_path_is_inside(cfg->output_dir, abs) && strcmp(abs, cfg->output_dir) != 0) {
        /* A claim named as published ("output/x.csv") means the same name in the work directory;
         * only a file that exists in output_dir alone (an unfenced agent's, or an old one) is that one. */
        char *in_wd = rs_path_join(it->work_dir, abs + strlen(cfg->output_dir) + 1);
        if (rs_file_exists(in_wd) || !rs_file_exists(abs)) {
            free(abs);
            abs = in_wd;
        } else {
            free(in_wd);
            in_output = true;
            outdir = cfg->output_dir;
        }
    }
    if (it->work_dir && !in_output && it->slug[0] && !rs_file_exists(abs)) {
        /* The assigned file was not written, but an old published one exists: that one is judged (stale). */
        char *mine = assigned_in(it->work_dir, it->slug), *pub = rs_config_output_csv(cfg, it->slug);
        if (strcmp(mine, abs) == 0 && rs_file_exists(pub)) {
            free(abs);
            abs = pub;
            pub = NULL;
            in_output = true;
            outdir = cfg->output_dir;
        }
        free(mine);
        free(pub);
    }
    char real[PATH_MAX], realdir[PATH_MAX];
    char *shown = NULL, *assigned = NULL, *assigned_shown = NULL;
    if (!rs_path_is_inside(outdir, abs) || strcmp(abs, outdir) == 0) {
        /* Named as the user knows it: output_dir, where the CSV is published (the same words in replay). */
        it->verify_error =
            rs_xasprintf("RALPH_DONE csv \"%s\" is outside the output directory %s", it->done_csv, cfg->output_dir);
        goto out;
    }
    if (!realpath(abs, real)) {
        it->verify_error = rs_xasprintf("RALPH_DONE csv \"%s\" does not exist (%s)", it->done_csv, strerror(errno));
        goto out;
    }
    if (!realpath(outdir, realdir) || !rs_path_is_inside(realdir, real)) {
        it->verify_error = rs_xasprintf("RALPH_DONE csv \"%s\" resolves outside the output directory (symlink to %s)",
                                        it->done_csv, real);
        goto out;
    }
    /* The lead contract (or the counts only), on the school's assigned file, written during this attempt. */
    /* Named as it will be published (output/<slug>.csv): the work directory is the agent's output directory. */
    bool in_wd = it->work_dir && !in_output;
    shown = in_wd ? published_name(cfg, it->work_dir, abs) : rs_config_relpath(cfg, abs);
    assigned = in_wd      ? assigned_in(it->work_dir, it->slug)
               : evidence ? rs_xstrdup(abs) /* the attempt's own <slug>.csv, kept */
                          : rs_config_output_csv(cfg, it->slug);
    char *published = rs_config_output_csv(cfg, it->slug);
    assigned_shown = rs_config_relpath(cfg, published);
    free(published);
    char assigned_real[PATH_MAX];
    struct stat st;
    int64_t mtime_ms = stat(real, &st) == 0 ? (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 : 0;
    if (mtime_ms && !S_ISREG(st.st_mode)) {
        /* A FIFO would block the read (and the supervisor) forever; a device or a directory is no CSV. */
        it->verify_error = rs_xasprintf("RALPH_DONE csv %s is not a regular file (%s)", shown,
                                        S_ISFIFO(st.st_mode)   ? "a FIFO"
                                        : S_ISDIR(st.st_mode)  ? "a directory"
                                        : S_ISSOCK(st.st_mode) ? "a socket"
                                                               : "a device");
        goto out;
    }
    const char *aliases[64];
    /* Replay without --school checks the rows against the school the marker names. */
    const char *school = it->school[0] ? it->school : it->done_school ? it->done_school : "";
    size_t naliases = rs_aliases_of(it->o.aliases, school, aliases, RS_ARRAY_SIZE(aliases));
    struct rs_verify_opts vo = {
        .level = cfg->verify_level,
        .max_yes_share = cfg->verify_max_yes_share,
        .truthy = (const char *const *)cfg->report_truthy,
        .ntruthy = cfg->nreport_truthy,
        .school = school,
        .aliases = aliases,
        .naliases = naliases < RS_ARRAY_SIZE(aliases) ? naliases : RS_ARRAY_SIZE(aliases),
        .email_domains = it->o.email_domains,
        .nemail_domains = it->o.nemail_domains,
        .csv_shown = shown,
        .csv_real = real,
        /* A slug-less iteration (replay without a school) has no assigned file to compare. */
        .assigned_real = it->slug[0] && realpath(assigned, assigned_real) ? assigned_real : it->slug[0] ? assigned : NULL,
        .assigned_shown = assigned_shown,
        .attempt_started_ms = it->o.attempt_started_ms,
        .csv_mtime_ms = mtime_ms,
        .csv_snapshot = it->o.csv_before_ns != 0,
        .csv_unchanged = it->o.csv_before_ns > 0 && mtime_ms != 0 &&
                         (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec == it->o.csv_before_ns,
    };
    struct rs_verify_result vr;
    int r = rs_verify_csv_file(&vo, &vr);
    size_t rows = vr.rows, overlaps = vr.overlaps;
    if (r != 0) {
        if (cfg->verify_level == RS_VERIFY_LEADS)
            it->verify_error = rs_xasprintf("RALPH_DONE csv %s breaks the lead contract: %s", shown, vr.reason);
        else
            it->verify_error = rs_xasprintf("RALPH_DONE csv is not valid: %s", vr.reason);
        rs_verify_result_deinit(&vr);
        goto out;
    }
    free(it->review);
    it->review = vr.review;
    vr.review = NULL;
    rs_verify_result_deinit(&vr);
    if ((int64_t)rows != it->done_coaches) {
        it->verify_error = rs_xasprintf("RALPH_DONE claimed %lld %s, CSV has %zu %s", (long long)it->done_coaches,
                                        rs_plural((uint64_t)it->done_coaches, "coach", "coaches"), rows,
                                        rs_plural(rows, "row", "rows"));
    } else if ((int64_t)overlaps != it->done_overlaps) {
        it->verify_error = rs_xasprintf("RALPH_DONE claimed %lld %s, CSV has %zu", (long long)it->done_overlaps,
                                        rs_plural((uint64_t)it->done_overlaps, "overlap", "overlaps"), overlaps);
    } else {
        it->verified = true;
        it->csv_abs = abs;
        it->csv_rel = rs_config_relpath(cfg, abs);
        abs = NULL;
    }
out:
    free(assigned);
    free(assigned_shown);
    free(shown);
    free(abs);
}

void rs_iteration_finish(struct rs_iteration *it, int spawn_error, bool exited, int exit_code, int term_signal,
                         enum rs_kill_reason killed, const char *kill_detail, const char *budget_limit,
                         struct rs_iter_obs *obs)
{
    if (it->final_kind == RS_MARKER_DONE && !it->verified && !it->verify_error)
        verify_done(it);
    memset(obs, 0, sizeof(*obs));
    obs->spawn_error = spawn_error;
    obs->exited = exited;
    obs->exit_code = exit_code;
    obs->term_signal = term_signal;
    obs->killed = killed;
    obs->kill_detail = kill_detail;
    obs->got_init = it->got_init;
    obs->retry_waiting = it->retry_wait_ms > 0 ? it->retry_what : NULL;
    if (it->nstderr) {
        /* A character cut by the 255-byte head is left out; any other invalid byte becomes U+FFFD. */
        size_t n = it->nstderr;
        if (n + 1 >= sizeof it->stderr_head)
            n -= rs_utf8_incomplete(it->stderr_head, n);
        free(it->stderr_text);
        it->stderr_text = rs_utf8_clean(it->stderr_head, n, CAP, NULL, NULL);
    }
    obs->stderr_head = it->nstderr ? it->stderr_text : NULL;
    obs->got_result = it->got_result;
    obs->result_subtype = it->result_subtype;
    obs->result_is_error = it->result_is_error;
    obs->api_error_status = it->api_error_status;
    obs->result_text = it->result_text;
    obs->result_errors = it->result_errors;
    obs->synthetic_error = it->synthetic_error;
    obs->synthetic_text = it->synthetic_text;
    obs->auth_failure = it->auth_failure;
    obs->usage_limit = it->usage_reset_ms > 0;
    obs->usage_reset_ms = it->usage_reset_ms;
    obs->budget_limit = budget_limit;
    obs->done_marker = it->final_kind == RS_MARKER_DONE;
    obs->done_verified = it->verified;
    obs->verify_error = it->verify_error;
    obs->failed_marker = it->final_kind == RS_MARKER_FAILED;
    obs->failed_reason = it->failed_reason;
    obs->failed_retryable = it->failed_retryable;
    obs->invalid_marker = it->invalid_marker;
    obs->other_marker = it->other_marker;
}
