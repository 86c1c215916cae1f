/* SPDX-License-Identifier: MIT */
/*
 * The lead contract, checked row by row (include/ralphsup/core/verify.h).
 *
 * The CSV streams through the strict reader; the header is checked first
 * (at level "leads" the fifteen columns of leads.h in that order, at level
 * "counts" the nine lead columns anywhere), then each data row against the
 * rules. Problems are counted; the first RS_VERIFY_MAX_REASONS are kept as
 * text. Coach names seen are kept in a small hash set (normalised: trimmed,
 * ASCII case folded, blank runs collapsed) to find a coach listed twice;
 * its size is bounded by the reader's file cap like everything else here.
 * Cell text in messages is made valid UTF-8 and cut to a few dozen bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ralphsup/core/csv.h"
#include "ralphsup/core/leads.h"
#include "ralphsup/core/verify.h"
#include "ralphsup/base/buf.h"
#include "ralphsup/base/strmap.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

#define SHOW_MAX 60 /* bytes of a cell quoted in a reason */
#define STOP 100    /* callback value: header refused, stop reading */

static const char *const evidence_types[] = {"host", "participant", "donor", "recipient", "family", "advocacy"};
static const char *const checked_words[] = {"coach", "school", "none"};

/* ---- small helpers ------------------------------------------------------ */

/* A trimmed view of a cell. */
struct cell {
    const char *s;
    size_t n;
};

static struct cell trim(const char *s, size_t n)
{
    rs_trim_blanks(&s, &n);
    return (struct cell){s, n};
}

static bool cell_is(struct cell c, const char *w)
{
    return c.n == strlen(w) && memcmp(c.s, w, c.n) == 0;
}

static bool cell_in(struct cell c, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cell_is(c, words[i]))
            return true;
    return false;
}

/* Show @c in a message: valid UTF-8, at most SHOW_MAX bytes ("…" when cut). */
static char *show(struct cell c)
{
    size_t n = c.n > SHOW_MAX ? rs_utf8_boundary(c.s, c.n, SHOW_MAX) : c.n;
    char *t = rs_utf8_clean(c.s, n, SHOW_MAX + 8, NULL, NULL);
    if (n < c.n) {
        char *u = rs_xasprintf("%s…", t);
        free(t);
        return u;
    }
    return t;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            k++;
    return k;
}

/* ---- URLs, addresses, domains ------------------------------------------- */

/* Length of "http://" or "https://" at @s (case-insensitive), else 0. */
static size_t http_scheme(const char *s, size_t n)
{
    if (n >= 7 && strncasecmp(s, "http://", 7) == 0)
        return 7;
    if (n >= 8 && strncasecmp(s, "https://", 8) == 0)
        return 8;
    return 0;
}

/* An http(s) URL with a host and no blanks or control characters. */
static bool http_url(struct cell c)
{
    size_t k = http_scheme(c.s, c.n);
    if (!k || k == c.n || c.s[k] == '/' || c.s[k] == '?' || c.s[k] == '#')
        return false;
    for (size_t i = 0; i < c.n; i++)
        if ((unsigned char)c.s[i] <= 0x20 || c.s[i] == 0x7f)
            return false;
    return true;
}

/* Host of an http(s) URL, lower case, without "www.", port and userinfo. Caller frees. */
static char *url_host(const char *s, size_t n)
{
    size_t k = http_scheme(s, n);
    size_t e = k;
    while (e < n && s[e] != '/' && s[e] != '?' && s[e] != '#')
        e++;
    const char *h = s + k;
    size_t hl = e - k;
    const char *at = memchr(h, '@', hl);
    if (at) {
        hl -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    const char *colon = memchr(h, ':', hl);
    if (colon)
        hl = (size_t)(colon - h);
    if (hl >= 4 && strncasecmp(h, "www.", 4) == 0) {
        h += 4;
        hl -= 4;
    }
    char *out = rs_xstrndup(h, hl);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

/* Same page: scheme and host case folded, fragment and a trailing '/' dropped. */
static char *url_key(struct cell c)
{
    size_t n = c.n;
    const char *hash = memchr(c.s, '#', n);
    if (hash)
        n = (size_t)(hash - c.s);
    while (n && c.s[n - 1] == '/')
        n--;
    char *k = rs_xstrndup(c.s, n);
    size_t k0 = http_scheme(k, n);
    for (size_t i = 0; i < n && (i < k0 || (k[i] != '/' && k[i] != '?')); i++)
        k[i] = (char)tolower((unsigned char)k[i]);
    if (k0 == 8) /* https:// and http:// are the same page */
        memmove(k + 4, k + 5, strlen(k + 5) + 1);
    return k;
}

static bool host_is(const char *host, const char *d)
{
    size_t hl = strlen(host), dl = strlen(d);
    return hl == dl ? strcmp(host, d) == 0 : hl > dl && host[hl - dl - 1] == '.' && strcmp(host + hl - dl, d) == 0;
}

bool rs_verify_is_search_url(const char *url)
{
    size_t n = strlen(url);
    size_t k = http_scheme(url, n);
    if (!k)
        return false;
    static const char *const engines[] = {"bing.com", "duckduckgo.com", "search.yahoo.com", "baidu.com",
                                          "ecosia.org", "startpage.com", "search.brave.com", "ask.com",
                                          "kagi.com", "yandex.com", "yandex.ru", "search.aol.com"};
    char *host = url_host(url, n);
    bool hit = false;
    /* google.com, google.co.uk, news.google.com, ...: any host with a "google" label before a TLD part. */
    if (strncmp(host, "google.", 7) == 0 || strstr(host, ".google."))
        hit = true;
    for (size_t i = 0; i < RS_ARRAY_SIZE(engines) && !hit; i++)
        hit = host_is(host, engines[i]);
    free(host);
    if (hit)
        return true;
    /* A site search: a path segment "search…" ("/search", "/search.aspx", "/searchresults")... */
    const char *p = url + k;
    const char *q = strpbrk(p, "?#");
    const char *end = q ? q : url + n;
    for (const char *seg = memchr(p, '/', (size_t)(end - p)); seg && seg < end;
         seg = memchr(seg + 1, '/', (size_t)(end - seg - 1))) {
        if ((size_t)(end - seg - 1) >= 6 && strncasecmp(seg + 1, "search", 6) == 0) {
            const char *after = seg + 7;
            if (after == end || *after == '/' || *after == '.' || *after == '-' || *after == '_' ||
                ((size_t)(end - after) >= 7 && strncasecmp(after, "results", 7) == 0))
                return true;
        }
    }
    /* ...or a query parameter that holds search words. */
    if (q && *q == '?') {
        static const char *const params[] = {"q", "query", "s", "search", "searchterm", "keywords"};
        for (const char *a = q + 1; *a && *a != '#';) {
            size_t l = strcspn(a, "=&#");
            for (size_t i = 0; i < RS_ARRAY_SIZE(params); i++)
                if (strlen(params[i]) == l && strncasecmp(a, params[i], l) == 0 && a[l] == '=')
                    return true;
            a += l;
            a += strcspn(a, "&#");
            if (*a == '&')
                a++;
        }
    }
    return false;
}

static bool domain_valid(const char *s, size_t n)
{
    if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
        return false;
    size_t label = 0, dots = 0;
    for (size_t i = 0; i <= n; i++) {
        char ch = i < n ? s[i] : '.';
        if (ch == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
                return false;
            if (i < n)
                dots++;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)ch) && ch != '-')
            return false;
        label++;
    }
    /* The last label (checked at the loop's end) must be letters: "utah.edu", not "10.0.0.1". */
    size_t t = n;
    while (t && s[t - 1] != '.')
        t--;
    for (size_t i = t; i < n; i++)
        if (!isalpha((unsigned char)s[i]))
            return false;
    return dots >= 1 && n - t >= 2;
}

bool rs_verify_domain_valid(const char *s)
{
    return s && domain_valid(s, strlen(s));
}

static bool email_valid(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || memchr(at + 1, '@', n - (size_t)(at + 1 - s)))
        return false;
    size_t ll = (size_t)(at - s);
    if (ll == 0 || ll > 64 || s[0] == '.' || s[ll - 1] == '.')
        return false;
    for (size_t i = 0; i < ll; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && (ch == '\0' || !strchr("!#$%&'*+/=?^_`{|}~.-", ch)))
            return false;
        if (ch == '.' && s[i + 1] == '.')
            return false;
    }
    return domain_valid(at + 1, n - ll - 1);
}

bool rs_verify_email_valid(const char *s)
{
    return s && email_valid(s, strlen(s));
}

/* An evidence date: YYYY, YYYY-MM or YYYY-MM-DD. */
static bool date_valid(struct cell c)
{
    char b[11];
    if (c.n != 4 && c.n != 7 && c.n != 10)
        return false;
    memcpy(b, c.s, c.n);
    b[c.n] = '\0';
    if (c.n == 10)
        return rs_date_parse(b, NULL, NULL, NULL) == 0;
    for (size_t i = 0; i < 4; i++)
        if (!isdigit((unsigned char)b[i]))
            return false;
    if (c.n == 4)
        return true;
    if (b[4] != '-' || !isdigit((unsigned char)b[5]) || !isdigit((unsigned char)b[6]))
        return false;
    int m = (b[5] - '0') * 10 + (b[6] - '0');
    return m >= 1 && m <= 12;
}

/* ---- the check ------------------------------------------------------------ */

struct vctx {
    const struct rs_verify_opts *o;
    struct rs_verify_result *r;
    struct rs_buf reasons;
    size_t nkept;
    size_t map[RS_REPORT_NCOLS]; /* column index in the file; SIZE_MAX: absent */
    char **school_keys;          /* the school and its aliases, as name keys */
    size_t nschool_keys;
    struct rs_strmap names; /* coach name key -> first row */
    bool header;                 /* a header record was read */
};

static void RS_PRINTF(2, 3) problem(struct vctx *v, const char *fmt, ...)
{
    v->r->problems++;
    if (v->nkept >= RS_VERIFY_MAX_REASONS)
        return;
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (v->nkept)
        rs_buf_puts(&v->reasons, "; ");
    rs_buf_puts(&v->reasons, tmp);
    v->nkept++;
}

/* Level leads: the fifteen columns, in order, nothing else. */
static int check_header_leads(struct vctx *v, const struct rs_csv_record *rec)
{
    for (size_t k = 0; k < RS_REPORT_NCOLS; k++)
        v->map[k] = k;
    bool ok = rec->nfields == RS_REPORT_NCOLS;
    for (size_t k = 0; ok && k < RS_REPORT_NCOLS; k++)
        ok = rs_csv_name_eq(rec->fields[k], rec->lens[k], rs_report_columns[k]);
    if (ok)
        return 0;
    struct rs_buf want;
    rs_buf_init(&want);
    for (size_t k = 0; k < RS_REPORT_NCOLS; k++)
        rs_buf_printf(&want, "%s%s", k ? "," : "", rs_report_columns[k]);
    size_t k = 0;
    while (k < rec->nfields && k < RS_REPORT_NCOLS && rs_csv_name_eq(rec->fields[k], rec->lens[k], rs_report_columns[k]))
        k++;
    if (k < rec->nfields && k < RS_REPORT_NCOLS) {
        char *got = show(trim(rec->fields[k], rec->lens[k]));
        problem(v, "header: column %zu is \"%s\", expected \"%s\" (the header is exactly %s)", k + 1, got,
                rs_report_columns[k], rs_buf_cstr(&want));
        free(got);
    } else if (rec->nfields < RS_REPORT_NCOLS) {
        problem(v, "header: missing column \"%s\" after \"%s\" (the header is exactly %s)", rs_report_columns[k],
                rs_report_columns[k - 1], rs_buf_cstr(&want));
    } else {
        char *got = show(trim(rec->fields[k], rec->lens[k]));
        problem(v, "header: extra column %zu \"%s\" (the header is exactly %s)", k + 1, got, rs_buf_cstr(&want));
        free(got);
    }
    rs_buf_deinit(&want);
    return STOP;
}

/* Level counts: the nine lead columns anywhere (the evidence columns when present). */
static int check_header_counts(struct vctx *v, const struct rs_csv_record *rec)
{
    for (size_t k = 0; k < RS_REPORT_NCOLS; k++) {
        v->map[k] = SIZE_MAX;
        for (size_t j = 0; j < rec->nfields && v->map[k] == SIZE_MAX; j++)
            if (rs_csv_name_eq(rec->fields[j], rec->lens[j], rs_report_columns[k]))
                v->map[k] = j;
    }
    for (size_t k = 0; k < RS_REPORT_NREQUIRED; k++)
        if (v->map[k] == SIZE_MAX) {
            problem(v, "header: missing required column \"%s\"", rs_report_columns[k]);
            return STOP;
        }
    return 0;
}

static struct cell col(const struct vctx *v, const struct rs_csv_record *rec, enum rs_lead_col k)
{
    size_t j = v->map[k];
    if (j == SIZE_MAX || j >= rec->nfields)
        return (struct cell){"", 0};
    return trim(rec->fields[j], rec->lens[j]);
}

static void check_row_leads(struct vctx *v, const struct rs_csv_record *rec, size_t row)
{
    const struct rs_verify_opts *o = v->o;
    struct cell coach = col(v, rec, RS_COL_COACH);
    char *who = show(coach);
    char *at = coach.n ? rs_xasprintf("row %zu (%s)", row, who) : rs_xasprintf("row %zu", row);
    free(who);

    /* school */
    struct cell sc = col(v, rec, RS_COL_SCHOOL);
    char *sk = rs_name_key(sc.s, sc.n);
    bool school_ok = false;
    for (size_t i = 0; i < v->nschool_keys && !school_ok; i++)
        school_ok = strcmp(sk, v->school_keys[i]) == 0;
    free(sk);
    if (!school_ok) {
        char *got = show(sc);
        problem(v, "%s: school is \"%s\", expected \"%s\"%s", at, got, o->school, o->naliases ? " or one of its aliases" : "");
        free(got);
    }

    /* coach_name: present, once */
    if (!coach.n) {
        problem(v, "%s: coach_name is empty", at);
    } else {
        char *k = rs_name_key(coach.s, coach.n);
        size_t first = rs_strmap_add(&v->names, k, row) ? 0 : *rs_strmap_get(&v->names, k);
        free(k);
        if (first)
            problem(v, "%s: coach_name repeats row %zu (one row per coach)", at, first);
    }

    /* email */
    struct cell em = col(v, rec, RS_COL_EMAIL);
    if (em.n) {
        char *e = rs_xstrndup(em.s, em.n);
        if (!email_valid(em.s, em.n) || strlen(e) != em.n) {
            char *got = show(em);
            problem(v, "%s: email \"%s\" is not one valid address (one address per cell, nothing else)", at, got);
            free(got);
        } else if (o->nemail_domains) {
            const char *dom = strchr(e, '@') + 1;
            char *ld = rs_xstrdup(dom);
            for (char *p = ld; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            bool on = false;
            for (size_t i = 0; i < o->nemail_domains && !on; i++) {
                char *d = rs_xstrdup(o->email_domains[i]);
                for (char *p = d; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                on = host_is(ld, d);
                free(d);
            }
            if (!on) {
                struct rs_buf ds;
                rs_buf_init(&ds);
                for (size_t i = 0; i < o->nemail_domains; i++)
                    rs_buf_printf(&ds, "%s%s", i ? ", " : "", o->email_domains[i]);
                char *got = show(em);
                problem(v, "%s: email \"%s\" is not on the school's email domains (%s)", at, got, rs_buf_cstr(&ds));
                free(got);
                rs_buf_deinit(&ds);
            }
            free(ld);
        }
        free(e);
    }

    /* overlap_checked: every row */
    struct cell chk = col(v, rec, RS_COL_OVERLAP_CHECKED);
    if (!cell_in(chk, checked_words, RS_ARRAY_SIZE(checked_words))) {
        char *got = show(chk);
        if (chk.n)
            problem(v, "%s: overlap_checked must be coach, school or none, got \"%s\"", at, got);
        else
            problem(v, "%s: overlap_checked is empty (coach, school or none on every row)", at);
        free(got);
    }

    /* nmdp_overlap and the evidence */
    struct cell ov = col(v, rec, RS_COL_OVERLAP);
    struct cell url = col(v, rec, RS_COL_EVIDENCE_URL), quote = col(v, rec, RS_COL_EVIDENCE_QUOTE),
                date = col(v, rec, RS_COL_EVIDENCE_DATE), type = col(v, rec, RS_COL_EVIDENCE_TYPE),
                conf = col(v, rec, RS_COL_CONFIDENCE);
    if (cell_is(ov, "yes")) {
        v->r->overlaps++;
        if (!url.n) {
            problem(v, "%s: nmdp_overlap is yes but evidence_url is empty", at);
        } else if (!http_url(url)) {
            char *got = show(url);
            problem(v, "%s: evidence_url \"%s\" is not an http(s) URL", at, got);
            free(got);
        } else {
            struct cell src = col(v, rec, RS_COL_SOURCE_URL);
            char *a = url_key(url), *b = url_key(src);
            if (strcmp(a, b) == 0)
                problem(v, "%s: evidence_url is the source_url (the evidence must be the page that shows the "
                           "connection, not the staff directory)", at);
            else if (rs_verify_is_search_url(a))
                problem(v, "%s: evidence_url is a search-results page (cite the page the result leads to)", at);
            free(a);
            free(b);
        }
        if (!quote.n)
            problem(v, "%s: nmdp_overlap is yes but evidence_quote is empty", at);
        else if (utf8_chars(quote.s, quote.n) > RS_VERIFY_QUOTE_MAX)
            problem(v, "%s: evidence_quote is %zu characters (at most %d)", at, utf8_chars(quote.s, quote.n),
                    RS_VERIFY_QUOTE_MAX);
        if (date.n && !date_valid(date)) {
            char *got = show(date);
            problem(v, "%s: evidence_date \"%s\" is not YYYY-MM-DD, YYYY-MM or YYYY", at, got);
            free(got);
        }
        if (!type.n) {
            problem(v, "%s: nmdp_overlap is yes but evidence_type is empty", at);
        } else if (!cell_in(type, evidence_types, RS_ARRAY_SIZE(evidence_types))) {
            char *got = show(type);
            problem(v, "%s: evidence_type must be host, participant, donor, recipient, family or advocacy, got \"%s\"",
                    at, got);
            free(got);
        }
        if (!conf.n) {
            problem(v, "%s: nmdp_overlap is yes but confidence is empty", at);
        } else if (!cell_is(conf, "high") && !cell_is(conf, "medium")) {
            char *got = show(conf);
            problem(v, "%s: confidence must be high or medium, got \"%s\" (a weaker lead is a no)", at, got);
            free(got);
        }
    } else if (cell_is(ov, "no")) {
        static const enum rs_lead_col ev[] = {RS_COL_EVIDENCE_URL, RS_COL_EVIDENCE_QUOTE, RS_COL_EVIDENCE_DATE,
                                              RS_COL_EVIDENCE_TYPE, RS_COL_CONFIDENCE};
        for (size_t i = 0; i < RS_ARRAY_SIZE(ev); i++)
            if (col(v, rec, ev[i]).n)
                problem(v, "%s: nmdp_overlap is no but %s is not empty (a no row leaves the evidence columns empty)",
                        at, rs_report_columns[ev[i]]);
    } else {
        char *got = show(ov);
        problem(v, "%s: nmdp_overlap must be yes or no, got \"%s\"", at, got);
        free(got);
    }
    free(at);
}

static int on_record(void *ud, const struct rs_csv_record *rec)
{
    struct vctx *v = ud;
    /* The parser carries NUL bytes (a field has its length); a CSV for people never holds one. */
    for (size_t i = 0; i < rec->nfields; i++)
        if (memchr(rec->fields[i], '\0', rec->lens[i]))
            problem(v, "line %zu, field %zu: a NUL byte (0x00); the CSV must be text", rec->line, i + 1);
    if (rec->index == 0) {
        v->header = true;
        return v->o->level == RS_VERIFY_LEADS ? check_header_leads(v, rec) : check_header_counts(v, rec);
    }
    v->r->rows++;
    if (v->o->level == RS_VERIFY_LEADS) {
        check_row_leads(v, rec, rec->index);
    } else {
        size_t j = v->map[RS_COL_OVERLAP];
        if (rs_csv_is_truthy(rec->fields[j], rec->lens[j], v->o->truthy, v->o->ntruthy))
            v->r->overlaps++;
    }
    return 0;
}

/* The file checks (level leads): the assigned CSV, written during this attempt. */
static bool check_file(struct vctx *v)
{
    const struct rs_verify_opts *o = v->o;
    const char *shown = o->csv_shown ? o->csv_shown : o->csv_real ? o->csv_real : "the CSV";
    if (o->assigned_real && o->csv_real && strcmp(o->assigned_real, o->csv_real) != 0) {
        problem(v, "%s is not this school's CSV (write %s)", shown,
                o->assigned_shown ? o->assigned_shown : o->assigned_real);
        return false;
    }
    if (o->csv_snapshot) {
        if (o->csv_unchanged) {
            char d[32];
            if (o->attempt_started_ms > o->csv_mtime_ms) /* the age, for the message only */
                problem(v, "%s was not written during this attempt (last modified %s before it started): write it again",
                        shown, rs_duration_format(o->attempt_started_ms - o->csv_mtime_ms, d, sizeof d));
            else
                problem(v, "%s was not written during this attempt (unchanged since it started): write it again", shown);
            return false;
        }
    } else if (o->attempt_started_ms > 0 && o->csv_mtime_ms + RS_VERIFY_MTIME_SLACK_MS < o->attempt_started_ms) {
        char d[32];
        problem(v, "%s was not written during this attempt (last modified %s before it started): write it again", shown,
                rs_duration_format(o->attempt_started_ms - o->csv_mtime_ms, d, sizeof d));
        return false;
    }
    return true;
}

static void begin(struct vctx *v, const struct rs_verify_opts *o, struct rs_verify_result *r)
{
    memset(r, 0, sizeof(*r));
    memset(v, 0, sizeof(*v));
    v->o = o;
    v->r = r;
    rs_buf_init(&v->reasons);
    v->school_keys = rs_xcalloc(o->naliases + 1, sizeof(char *));
    if (o->school)
        v->school_keys[v->nschool_keys++] = rs_name_key(o->school, strlen(o->school));
    for (size_t i = 0; i < o->naliases; i++)
        v->school_keys[v->nschool_keys++] = rs_name_key(o->aliases[i], strlen(o->aliases[i]));
}

static int end(struct vctx *v, int pr, const struct rs_csv_error *err)
{
    const struct rs_verify_opts *o = v->o;
    struct rs_verify_result *r = v->r;
    if (pr != 0 && pr != STOP) {
        char buf[512];
        const char *shown = o->csv_shown ? o->csv_shown : o->csv_real ? o->csv_real : "csv";
        problem(v, "%s", rs_csv_error_format(shown, err, buf, sizeof buf));
    } else if (pr == 0 && !v->header) {
        problem(v, "the CSV is empty (no header row)");
    } else if (pr == 0 && r->rows == 0 && o->level == RS_VERIFY_LEADS) {
        problem(v, "the CSV has a header but no rows (list the coaches; a school without any is a RALPH_FAILED)");
    }
    if (r->problems > v->nkept)
        rs_buf_printf(&v->reasons, "; and %zu more %s", r->problems - v->nkept,
                      rs_plural(r->problems - v->nkept, "problem", "problems"));
    if (r->problems)
        r->reason = rs_buf_steal(&v->reasons);
    rs_buf_deinit(&v->reasons);
    if (!r->problems && r->rows > 0 && o->max_yes_share < 1 &&
        (double)r->overlaps > o->max_yes_share * (double)r->rows)
        r->review = rs_xasprintf("%zu of %zu rows are yes (%.0f%%), above [verify] max_yes_share %g", r->overlaps,
                                 r->rows, 100.0 * (double)r->overlaps / (double)r->rows, o->max_yes_share);
    for (size_t i = 0; i < v->nschool_keys; i++)
        free(v->school_keys[i]);
    free(v->school_keys);
    rs_strmap_deinit(&v->names);
    return r->problems ? 1 : 0;
}

/* One check: of @data (@len bytes), or with @file of the file o->csv_real. */
static int verify(const struct rs_verify_opts *o, struct rs_verify_result *r, bool file, const char *data, size_t len)
{
    struct vctx v;
    begin(&v, o, r);
    struct rs_csv_error err = {0};
    int pr = STOP;
    if (o->level != RS_VERIFY_LEADS || check_file(&v))
        pr = file ? rs_csv_parse_file(o->csv_real, NULL, on_record, &v, &err)
                  : rs_csv_parse_buffer(data, len, NULL, on_record, &v, &err);
    return end(&v, pr, &err);
}

int rs_verify_csv_buffer(const char *data, size_t len, const struct rs_verify_opts *o, struct rs_verify_result *r)
{
    return verify(o, r, false, data, len);
}

int rs_verify_csv_file(const struct rs_verify_opts *o, struct rs_verify_result *r)
{
    return verify(o, r, true, NULL, 0);
}

void rs_verify_result_deinit(struct rs_verify_result *r)
{
    free(r->reason);
    free(r->review);
    r->reason = r->review = NULL;
}
