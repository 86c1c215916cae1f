/* SPDX-License-Identifier: MIT */
/*
 * The school list and the alias table.
 *
 * A school list is a small JSON document naming the schools one batch works
 * on; the alias table maps each canonical school name to the other names
 * people write for it. This module loads both, validates them and reports
 * *every* problem of one file in one pass, each with a file:line:col, so a
 * user fixes the whole file at once instead of one error per run.
 *
 * jansson stops at the first syntax error and tells us nothing about the rest
 * of the document. So when the whole file does not parse, the tolerant
 * splitter of base/json.c (it only tracks strings, escapes and {}/[] depth)
 * finds the
 * "schools" array, splits it into its top-level elements and parses each
 * element on its own: a broken element is reported at its real position and
 * every well-formed element is still validated. The same scanner gives the
 * position of every element when the file does parse.
 *
 * Names are canonicalised through the alias table (ASCII case-insensitive,
 * runs of blanks collapsed) before duplicates are looked for, and every
 * school gets a slug that is unique within the list and safe as a single
 * path component.
 *
 * Pure data: no processes, no git, no libuv, no logging. json_t never leaves
 * this file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ralphsup/base/json.h"
#include "ralphsup/base/strmap.h"
#include "ralphsup/core/schools.h"
#include "ralphsup/core/verify.h"
#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

#define SLUG_MAX 64
#define NAME_MAX_BYTES 256      /* school names and aliases */
#define CONFERENCE_MAX_BYTES 128
#define PROBLEMS_MAX 100        /* per file; the rest is counted, not listed */
#define DISPLAY_MAX 80          /* bytes of a name quoted in a message */

/*-----------------------------------------------------------------------
 * USPS codes: the 50 states, DC, the five inhabited territories and the
 * three freely associated states. The military codes AA/AE/AP are left out
 * on purpose: no school is located in "Armed Forces Europe".
 */
static const struct {
    const char *code;
    const char *name;
} usps[] = {
    {"AL", "Alabama"}, {"AK", "Alaska"}, {"AZ", "Arizona"}, {"AR", "Arkansas"},
    {"CA", "California"}, {"CO", "Colorado"}, {"CT", "Connecticut"}, {"DE", "Delaware"},
    {"DC", "District of Columbia"}, {"FL", "Florida"}, {"GA", "Georgia"}, {"HI", "Hawaii"},
    {"ID", "Idaho"}, {"IL", "Illinois"}, {"IN", "Indiana"}, {"IA", "Iowa"},
    {"KS", "Kansas"}, {"KY", "Kentucky"}, {"LA", "Louisiana"}, {"ME", "Maine"},
    {"MD", "Maryland"}, {"MA", "Massachusetts"}, {"MI", "Michigan"}, {"MN", "Minnesota"},
    {"MS", "Mississippi"}, {"MO", "Missouri"}, {"MT", "Montana"}, {"NE", "Nebraska"},
    {"NV", "Nevada"}, {"NH", "New Hampshire"}, {"NJ", "New Jersey"}, {"NM", "New Mexico"},
    {"NY", "New York"}, {"NC", "North Carolina"}, {"ND", "North Dakota"}, {"OH", "Ohio"},
    {"OK", "Oklahoma"}, {"OR", "Oregon"}, {"PA", "Pennsylvania"}, {"RI", "Rhode Island"},
    {"SC", "South Carolina"}, {"SD", "South Dakota"}, {"TN", "Tennessee"}, {"TX", "Texas"},
    {"UT", "Utah"}, {"VT", "Vermont"}, {"VA", "Virginia"}, {"WA", "Washington"},
    {"WV", "West Virginia"}, {"WI", "Wisconsin"}, {"WY", "Wyoming"},
    {"AS", "American Samoa"}, {"GU", "Guam"}, {"MP", "Northern Mariana Islands"},
    {"PR", "Puerto Rico"}, {"VI", "U.S. Virgin Islands"},
    {"FM", "Federated States of Micronesia"}, {"MH", "Marshall Islands"}, {"PW", "Palau"},
};

bool rs_schools_state_valid(const char *code)
{
    if (!code)
        return false;
    for (size_t i = 0; i < RS_ARRAY_SIZE(usps); i++)
        if (strcmp(usps[i].code, code) == 0)
            return true;
    return false;
}

/* Index of the USPS entry @s names (code in any case, or the full name), or -1. */
static int usps_lookup_loose(const char *s)
{
    for (size_t i = 0; i < RS_ARRAY_SIZE(usps); i++)
        if (rs_streq_ci(usps[i].code, s) || rs_streq_ci(usps[i].name, s))
            return (int)i;
    return -1;
}

/*-----------------------------------------------------------------------
 * Small text helpers.
 */

/* A copy of @s fit for quoting in a message: control bytes and quotes
 * replaced, long names cut (on a UTF-8 boundary) with "...". */
static char *display(const char *s)
{
    struct rs_buf b;
    rs_buf_init(&b);
    size_t n = strlen(s);
    size_t cut = rs_utf8_boundary(s, n, DISPLAY_MAX);
    /* Invisible characters are named ("<U+FEFF (byte order mark)>"), quotes become '. */
    size_t from = 0;
    for (size_t i = 0; i <= cut; i++) {
        if (i == cut || s[i] == '"') {
            rs_buf_put_visible(&b, s + from, i - from);
            if (i < cut)
                rs_buf_putc(&b, '\'');
            from = i + 1;
        }
    }
    if (cut < n)
        rs_buf_puts(&b, "...");
    return rs_buf_steal(&b);
}

static const char *jtype(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* "5", "1.5", "\"high\"" or the type, for "got ..." in messages. */
static char *jvalue_text(const json_t *j)
{
    if (json_is_integer(j))
        return rs_xasprintf("%lld", (long long)json_integer_value(j));
    if (json_is_real(j))
        return rs_xasprintf("%g", json_real_value(j));
    if (json_is_string(j)) {
        char *d = display(json_string_value(j));
        char *r = rs_xasprintf("\"%s\"", d);
        free(d);
        return r;
    }
    return rs_xstrdup(jtype(j));
}

/*-----------------------------------------------------------------------
 * Slugs.
 */
static bool ascii_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Cut @s to at most @max bytes and drop trailing '-'. */
static void slug_trim(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        n = max;
    while (n > 0 && s[n - 1] == '-')
        n--;
    s[n] = '\0';
}

char *rs_slugify(const char *name)
{
    /* Only [a-z0-9-] is ever emitted, so "." and ".." and '/' are
     * impossible by construction; never empty is handled at the end. */
    char buf[SLUG_MAX + 2];
    size_t n = 0;
    bool sep = false;
    for (const char *p = name ? name : ""; *p && n <= SLUG_MAX; p++) {
        unsigned char c = (unsigned char)*p;
        if (!ascii_alnum(c)) {
            sep = true;
            continue;
        }
        if (sep && n > 0)
            buf[n++] = '-';
        sep = false;
        if (n <= SLUG_MAX)
            buf[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
    }
    buf[n] = '\0';
    slug_trim(buf, SLUG_MAX);
    return rs_xstrdup(buf[0] ? buf : "school");
}

/* Slugs unique within the list: the first school with a given natural slug
 * keeps it, later ones get "-2", "-3", ... skipping any slug another school
 * owns naturally, so the result depends only on the list order. */
static void assign_slugs(struct rs_school_list *l)
{
    struct rs_strmap used = {0};
    char **natural = rs_xcalloc(l->n ? l->n : 1, sizeof(*natural));
    for (size_t i = 0; i < l->n; i++) {
        natural[i] = rs_slugify(l->v[i].name);
        rs_strmap_add(&used, natural[i], i);
    }
    for (size_t i = 0; i < l->n; i++) {
        const size_t *owner = rs_strmap_get(&used, natural[i]);
        if (owner && *owner == i) {
            l->v[i].slug = natural[i];
            natural[i] = NULL;
            continue;
        }
        for (unsigned k = 2;; k++) {
            char suffix[16];
            snprintf(suffix, sizeof suffix, "-%u", k);
            char base[SLUG_MAX + 1];
            snprintf(base, sizeof base, "%s", natural[i]);
            slug_trim(base, SLUG_MAX - strlen(suffix));
            char *cand = rs_xasprintf("%s%s", base[0] ? base : "school", suffix);
            if (rs_strmap_add(&used, cand, i)) {
                l->v[i].slug = cand;
                break;
            }
            free(cand);
        }
    }
    for (size_t i = 0; i < l->n; i++)
        free(natural[i]);
    free(natural);
    rs_strmap_deinit(&used);
}

/*-----------------------------------------------------------------------
 * The layout of the document, from the tolerant splitter of base/json.c
 * (rs_json_split(): strings, escapes and the {} [] depth only, with its
 * resynchronisation on lines that start a new element or close the array).
 * Positions are line:col as jansson counts them (rs_json_cursor).
 */
/* One member of a scanned object. */
struct member {
    size_t key, keylen;  /* raw key bytes (between the quotes) */
    size_t value, vend;  /* value span, value == vend when missing */
    struct rs_json_pos pos; /* of the member (its key) */
};

/* Scan the object at @open into members. Return: number of members. */
static size_t scan_members(struct rs_json_cursor *c, size_t open, struct member **out)
{
    struct rs_json_pieces s = {0};
    size_t close;
    rs_json_split(c, open, &s, &close);
    struct member *m = rs_xcalloc(s.n ? s.n : 1, sizeof(*m));
    for (size_t i = 0; i < s.n; i++) {
        struct rs_json_piece *sp = &s.v[i];
        m[i].pos = sp->pos;
        m[i].value = m[i].vend = sp->end;
        if (sp->start >= sp->end || c->b[sp->start] != '"')
            continue;
        size_t kend = rs_json_tolerant_string_end(c->b, sp->end, sp->start);
        m[i].key = sp->start + 1;
        m[i].keylen = kend > m[i].key && c->b[kend - 1] == '"' ? kend - 1 - m[i].key : 0;
        size_t j = rs_json_skip_ws_at(c->b, sp->end, kend);
        if (j < sp->end && c->b[j] == ':') {
            m[i].value = rs_json_skip_ws_at(c->b, sp->end, j + 1);
            m[i].vend = sp->end;
        }
    }
    free(s.v);
    *out = m;
    return s.n;
}

static const struct member *find_member(const struct member *m, size_t n, const char *b, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < n; i++)
        if (m[i].keylen == kl && memcmp(b + m[i].key, key, kl) == 0)
            return &m[i];
    return NULL;
}

/* What the scanner learnt about a school list document. */
struct layout {
    struct member *top; /* members of the top-level object */
    size_t ntop;
    bool found;         /* a "schools": [ ... ] was found */
    bool terminated;    /* ... and it has its closing ']' */
    size_t open, close; /* of the array */
    struct rs_json_pieces elems;
};

static void layout_scan(struct layout *lo, struct rs_json_cursor *c)
{
    memset(lo, 0, sizeof(*lo));
    size_t i = rs_json_skip_ws_at(c->b, c->len, 0);
    if (i >= c->len || c->b[i] != '{')
        return;
    lo->ntop = scan_members(c, i, &lo->top);
    const struct member *m = find_member(lo->top, lo->ntop, c->b, "schools");
    if (!m || m->value >= m->vend || c->b[m->value] != '[')
        return;
    lo->found = true;
    lo->open = m->value;
    lo->terminated = rs_json_split(c, lo->open, &lo->elems, &lo->close);
}

static void layout_deinit(struct layout *lo)
{
    free(lo->top);
    free(lo->elems.v);
}

static struct rs_json_pos top_pos(const struct layout *lo, const char *b, const char *key)
{
    const struct member *m = find_member(lo->top, lo->ntop, b, key);
    return m ? m->pos : (struct rs_json_pos){1, 1};
}

/*-----------------------------------------------------------------------
 * Problem reporting, capped per file.
 */
struct report {
    const char *file;
    struct rs_diags *diags;
    size_t problems;
    size_t syntax;      /* how many of them are JSON syntax errors */
};

static void problem(struct report *r, struct rs_json_pos p, const char *fmt, ...) RS_PRINTF(3, 4);
static void problem(struct report *r, struct rs_json_pos p, const char *fmt, ...)
{
    if (r->problems++ >= PROBLEMS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = rs_xvasprintf(fmt, ap);
    va_end(ap);
    rs_diags_addpos(r->diags, r->file, p.line, p.col, "%s", msg);
    free(msg);
}

static void report_finish(struct report *r)
{
    if (r->problems > PROBLEMS_MAX)
        rs_diags_addpos(r->diags, r->file, 0, 0, "%zu more %s not listed", r->problems - PROBLEMS_MAX,
                        rs_plural(r->problems - PROBLEMS_MAX, "problem", "problems"));
}

/* Report jansson's error for a document that starts at @base. */
static void syntax_problem(struct report *r, const json_error_t *e, struct rs_json_pos base, const char *what)
{
    struct rs_json_pos p = {e->line, e->column};
    if (p.line <= 1) {
        p.line = base.line;
        p.col = base.col + (e->column > 0 ? e->column - 1 : 0);
    } else {
        p.line = base.line + e->line - 1;
    }
    r->syntax++;
    char *text = rs_visible(e->text); /* "near '\xEF\xBB\xBF'" would show nothing */
    problem(r, p, "%sJSON syntax error: %s", what, text);
    free(text);
}

/*-----------------------------------------------------------------------
 * The alias table.
 */
struct rs_aliases {
    char **canon;       /* canonical names */
    size_t ncanon;
    char **alias;       /* aliases as written */
    size_t *alias_of;   /* index into canon */
    size_t nalias;
    struct rs_strmap map;  /* name_key -> canon index << 1 | is_alias */
    const char **cands; /* canon + aliases, for "did you mean" */
    size_t ncands;
};

struct rs_aliases *rs_aliases_free(struct rs_aliases *a)
{
    if (!a)
        return NULL;
    for (size_t i = 0; i < a->ncanon; i++)
        free(a->canon[i]);
    for (size_t i = 0; i < a->nalias; i++)
        free(a->alias[i]);
    free(a->canon);
    free(a->alias);
    free(a->alias_of);
    free(a->cands);
    rs_strmap_deinit(&a->map);
    free(a);
    return NULL;
}

bool rs_aliases_empty(const struct rs_aliases *a)
{
    return !a || a->ncanon == 0;
}

const char *rs_aliases_resolve(const struct rs_aliases *a, const char *name)
{
    if (rs_aliases_empty(a) || !name)
        return NULL;
    char *k = rs_name_key(name, strlen(name));
    const size_t *v = rs_strmap_get(&a->map, k);
    free(k);
    return v ? a->canon[*v >> 1] : NULL;
}

size_t rs_aliases_of(const struct rs_aliases *a, const char *canon, const char **out, size_t max)
{
    if (rs_aliases_empty(a) || !canon)
        return 0;
    char *k = rs_name_key(canon, strlen(canon));
    const size_t *v = rs_strmap_get(&a->map, k);
    free(k);
    if (!v)
        return 0;
    size_t ci = *v >> 1, n = 0;
    for (size_t i = 0; i < a->nalias; i++)
        if (a->alias_of[i] == ci) {
            if (n < max)
                out[n] = a->alias[i];
            n++;
        }
    return n;
}

/* For messages: the canonical name when @cand is an alias (not canonical itself), else NULL. */
static const char *alias_spelling_canon(const struct rs_aliases *a, const char *cand)
{
    const char *canon = rs_aliases_resolve(a, cand);
    return canon && strcmp(canon, cand) != 0 ? canon : NULL;
}

static bool alias_text_ok(struct report *r, struct rs_json_pos p, const char *what, const char *s)
{
    if (!s[strspn(s, " \t")]) { /* blank */
        problem(r, p, "%s must not be empty", what);
        return false;
    }
    if (strlen(s) > NAME_MAX_BYTES || rs_has_control(s)) {
        char *d = display(s);
        problem(r, p, "%s \"%s\" is longer than %d bytes or contains control characters", what, d,
                NAME_MAX_BYTES);
        free(d);
        return false;
    }
    return true;
}

int rs_aliases_parse(const char *data, size_t len, const char *file, struct rs_aliases **out,
                     struct rs_diags *diags)
{
    struct report rep = {file, diags, 0, 0};
    /* A UTF-8 byte order mark (as some editors write) is not part of the JSON. */
    size_t bom = rs_utf8_bom_len(data, len);
    data += bom;
    len -= bom;
    json_error_t e;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
    if (!root) {
        syntax_problem(&rep, &e, (struct rs_json_pos){1, 1}, "");
        report_finish(&rep);
        return RS_SCHOOLS_E_INVALID;
    }
    struct rs_json_cursor cur;
    rs_json_cursor_init(&cur, data, len);
    struct member *mem = NULL;
    size_t nmem = 0;
    size_t first = rs_json_skip_ws_at(data, len, 0);
    if (!json_is_object(root)) {
        problem(&rep, rs_json_cursor_at(&cur, first), "the alias table must be an object "
                "{\"canonical name\": [\"alias\", ...]}, got %s", jtype(root));
        json_decref(root);
        report_finish(&rep);
        return RS_SCHOOLS_E_INVALID;
    }
    nmem = scan_members(&cur, first, &mem);
    bool mapped = nmem == json_object_size(root);

    struct rs_aliases *a = rs_xcalloc(1, sizeof(*a));
    size_t cap = json_object_size(root);
    a->canon = rs_xcalloc(cap ? cap : 1, sizeof(*a->canon));
    struct rs_json_pos *cpos = rs_xcalloc(cap ? cap : 1, sizeof(*cpos));

    /* Canonical names first, so an alias equal to *any* canonical name is
     * caught whatever the order of the keys. */
    const char *key;
    json_t *val;
    size_t mi = 0;
    json_object_foreach(root, key, val) {
        struct rs_json_pos p = mapped ? mem[mi].pos : (struct rs_json_pos){0, 0};
        mi++;
        if (!alias_text_ok(&rep, p, "a canonical name", key))
            continue;
        char *k = rs_name_key(key, strlen(key));
        size_t idx = a->ncanon;
        if (!rs_strmap_add(&a->map, k, idx << 1)) {
            size_t other = *rs_strmap_get(&a->map, k) >> 1;
            char *d1 = display(key), *d2 = display(a->canon[other]);
            problem(&rep, p, "canonical name \"%s\" repeats \"%s\" (%s:%d:%d) up to case or spacing", d1,
                    d2, file, cpos[other].line, cpos[other].col);
            free(d1);
            free(d2);
        }
        free(k);
        a->canon[idx] = rs_xstrdup(key);
        cpos[idx] = p;
        a->ncanon++;
    }

    /* Then the aliases. */
    size_t acap = 0;
    mi = 0;
    size_t ci = 0;
    json_object_foreach(root, key, val) {
        const struct member *m = mapped ? &mem[mi] : NULL;
        struct rs_json_pos p = m ? m->pos : (struct rs_json_pos){0, 0};
        mi++;
        /* Find this key's canonical index again (skipped keys were not added). */
        if (ci >= a->ncanon || strcmp(a->canon[ci], key) != 0)
            continue;
        size_t canon = ci++;
        char *dk = display(key);
        if (!json_is_array(val)) {
            problem(&rep, p, "\"%s\": the aliases must be an array of strings, got %s", dk, jtype(val));
            free(dk);
            continue;
        }
        struct rs_json_pieces el = {0};
        if (m && m->value < m->vend && data[m->value] == '[') {
            size_t close;
            rs_json_split(&cur, m->value, &el, &close);
        }
        bool elmapped = el.n == json_array_size(val);
        size_t j;
        json_t *av;
        json_array_foreach(val, j, av) {
            struct rs_json_pos ap = elmapped ? el.v[j].pos : p;
            if (!json_is_string(av)) {
                problem(&rep, ap, "\"%s\": alias %zu must be a string, got %s", dk, j, jtype(av));
                continue;
            }
            const char *s = json_string_value(av);
            if (!alias_text_ok(&rep, ap, "an alias", s))
                continue;
            char *k = rs_name_key(s, strlen(s));
            const size_t *prev = rs_strmap_get(&a->map, k);
            if (prev && (*prev >> 1) == canon) {
                /* The canonical name itself or a repeated alias: harmless. */
            } else if (prev && !(*prev & 1)) {
                char *ds = display(s), *dc = display(a->canon[*prev >> 1]);
                problem(&rep, ap, "\"%s\": alias \"%s\" is the canonical name \"%s\" (%s:%d:%d)", dk, ds,
                        dc, file, cpos[*prev >> 1].line, cpos[*prev >> 1].col);
                free(ds);
                free(dc);
            } else if (prev) {
                size_t other = *prev >> 1;
                char *ds = display(s), *dc = display(a->canon[other]);
                problem(&rep, ap, "alias \"%s\" maps to two canonical names: \"%s\" and \"%s\" (%s:%d:%d)",
                        ds, dk, dc, file, cpos[other].line, cpos[other].col);
                free(ds);
                free(dc);
            } else {
                rs_strmap_add(&a->map, k, canon << 1 | 1);
                if (a->nalias == acap) {
                    acap = acap ? acap * 2 : 64;
                    a->alias = rs_xrealloc(a->alias, acap * sizeof(*a->alias));
                    a->alias_of = rs_xrealloc(a->alias_of, acap * sizeof(*a->alias_of));
                }
                a->alias[a->nalias] = rs_xstrdup(s);
                a->alias_of[a->nalias] = canon;
                a->nalias++;
            }
            free(k);
        }
        free(el.v);
        free(dk);
    }
    free(cpos);
    free(mem);
    json_decref(root);

    if (rep.problems) {
        report_finish(&rep);
        rs_aliases_free(a);
        return RS_SCHOOLS_E_INVALID;
    }
    a->ncands = a->ncanon + a->nalias;
    a->cands = rs_xcalloc(a->ncands ? a->ncands : 1, sizeof(*a->cands));
    for (size_t i = 0; i < a->ncanon; i++)
        a->cands[i] = a->canon[i];
    for (size_t i = 0; i < a->nalias; i++)
        a->cands[a->ncanon + i] = a->alias[i];
    *out = a;
    return 0;
}

/* Read @path with the size cap; a too-large file is a reported problem. */
static int read_capped(const char *path, char **data, size_t *len, struct rs_diags *diags)
{
    int r = rs_file_read(path, RS_SCHOOLS_MAX_BYTES, data, len);
    if (r == -EFBIG) {
        rs_diags_addpos(diags, path, 0, 0, "file is larger than %zu MiB; refusing to load it",
                        (size_t)RS_SCHOOLS_MAX_BYTES >> 20);
        return RS_SCHOOLS_E_INVALID;
    }
    return r;
}

int rs_aliases_load(const char *path, struct rs_aliases **out, struct rs_diags *diags)
{
    if (!path) {
        *out = rs_xcalloc(1, sizeof(**out));
        return 0;
    }
    char *data;
    size_t len;
    int r = read_capped(path, &data, &len, diags);
    if (r != 0)
        return r;
    r = rs_aliases_parse(data, len, path, out, diags);
    free(data);
    return r;
}

/*-----------------------------------------------------------------------
 * The school list.
 */
struct school_rec {
    struct rs_school s; /* s.name: the resolved canonical name, or NULL if the name is bad; no slug yet */
    struct rs_json_pos pos;
};

struct list_ctx {
    struct report rep;
    const struct rs_aliases *aliases;
    struct school_rec *recs;
    size_t n, cap;
};

static void school_deinit(struct rs_school *s)
{
    free(s->name);
    free(s->given_name);
    free(s->conference);
    free(s->state);
    free(s->slug);
    free(s->athletics_url);
    rs_strv_free(s->email_domains);
}

static struct school_rec *new_rec(struct list_ctx *c, size_t index, struct rs_json_pos p)
{
    c->recs = rs_xgrow(c->recs, c->n, &c->cap, sizeof(*c->recs), 32);
    struct school_rec *r = &c->recs[c->n++];
    memset(r, 0, sizeof(*r));
    r->s.index = index;
    r->pos = p;
    r->s.priority = 2;
    return r;
}

/* A required, non-empty, bounded string field. Return: borrowed value or NULL. */
static const char *req_string(struct list_ctx *c, const json_t *o, const char *field, const char *label,
                             struct rs_json_pos p, size_t max)
{
    const json_t *v = json_object_get(o, field);
    if (!v) {
        problem(&c->rep, p, "%s: missing required field \"%s\"", label, field);
        return NULL;
    }
    if (!json_is_string(v)) {
        problem(&c->rep, p, "%s: \"%s\" must be a string, got %s", label, field, jtype(v));
        return NULL;
    }
    const char *s = json_string_value(v);
    if (!s[strspn(s, " \t")]) { /* blank */
        problem(&c->rep, p, "%s: \"%s\" must not be empty", label, field);
        return NULL;
    }
    if (strlen(s) > max) {
        problem(&c->rep, p, "%s: \"%s\" is longer than %zu bytes", label, field, max);
        return NULL;
    }
    if (rs_has_control(s)) {
        problem(&c->rep, p, "%s: \"%s\" contains control characters", label, field);
        return NULL;
    }
    return s;
}

static void check_name(struct list_ctx *c, struct school_rec *r, const char *name, const char *label)
{
    r->s.given_name = rs_xstrdup(name);
    if (rs_aliases_empty(c->aliases)) {
        r->s.name = rs_xstrdup(name);
        return;
    }
    const char *canon = rs_aliases_resolve(c->aliases, name);
    if (canon) {
        r->s.name = rs_xstrdup(canon);
        return;
    }
    const char *dym = rs_did_you_mean(name, c->aliases->cands, c->aliases->ncands);
    if (dym) {
        const char *of = alias_spelling_canon(c->aliases, dym);
        char *d = display(dym);
        if (of) {
            char *dof = display(of);
            problem(&c->rep, r->pos, "%s: unknown school; did you mean \"%s\" (%s)?", label, d, dof);
            free(dof);
        } else {
            problem(&c->rep, r->pos, "%s: unknown school; did you mean \"%s\"?", label, d);
        }
        free(d);
    } else {
        problem(&c->rep, r->pos, "%s: unknown school (neither a canonical name nor an alias in the alias table)",
                label);
    }
}

static void check_state(struct list_ctx *c, struct school_rec *r, const char *st, const char *label)
{
    if (rs_schools_state_valid(st)) {
        r->s.state = rs_xstrdup(st);
        return;
    }
    char *d = display(st);
    int hint = usps_lookup_loose(st);
    if (hint >= 0)
        problem(&c->rep, r->pos, "%s: state \"%s\" is not a USPS code; did you mean \"%s\" (%s)?", label, d,
                usps[hint].code, usps[hint].name);
    else
        problem(&c->rep, r->pos, "%s: state \"%s\" is not a USPS state or territory code", label, d);
    free(d);
}

/*
 * The optional links of a school: "athletics_url" (an https URL on a domain
 * name) and "email_domains" (domain names its staff addresses use; the
 * supervisor checks the CSV's emails against them, docs/schools.md).
 */
#define URL_MAX_BYTES 2048
#define DOMAINS_MAX 16

static bool https_url_ok(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 || strlen(s) > URL_MAX_BYTES)
        return false;
    for (const char *q = s; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return false;
    size_t hl = strcspn(s + 8, "/?#");
    char *host = rs_xstrndup(s + 8, hl);
    bool ok = rs_verify_domain_valid(host);
    free(host);
    return ok;
}

static void check_links(struct list_ctx *c, struct school_rec *r, const json_t *o, const char *label, struct rs_json_pos p)
{
    const json_t *u = json_object_get(o, "athletics_url");
    if (u && (!json_is_string(u) || !https_url_ok(json_string_value(u)))) {
        char *got = jvalue_text(u);
        problem(&c->rep, p, "%s: \"athletics_url\" must be an https URL (\"https://cubuffs.com\"), got %s", label, got);
        free(got);
    } else if (u) {
        r->s.athletics_url = rs_xstrdup(json_string_value(u));
    }
    const json_t *d = json_object_get(o, "email_domains");
    if (!d)
        return;
    if (!json_is_array(d) || json_array_size(d) > DOMAINS_MAX) {
        problem(&c->rep, p, "%s: \"email_domains\" must be an array of at most %d domain names, got %s", label,
                DOMAINS_MAX, json_is_array(d) ? "a longer array" : jtype(d));
        return;
    }
    r->s.email_domains = rs_xcalloc(json_array_size(d) + 1, sizeof(char *));
    size_t i;
    const json_t *e;
    json_array_foreach(d, i, e) {
        if (!json_is_string(e) || !rs_verify_domain_valid(json_string_value(e))) {
            char *got = jvalue_text(e);
            problem(&c->rep, p, "%s: email_domains[%zu] must be a domain name (\"colorado.edu\"), got %s", label, i,
                    got);
            free(got);
            continue;
        }
        r->s.email_domains[r->s.nemail_domains++] = rs_xstrdup(json_string_value(e));
    }
}

/* Validate one element of "schools" (a parsed json value). */
static void check_school(struct list_ctx *c, const json_t *o, size_t index, struct rs_json_pos p)
{
    struct school_rec *r = new_rec(c, index, p);
    char *label = rs_xasprintf("schools[%zu]", index);
    if (!json_is_object(o)) {
        problem(&c->rep, p, "%s: must be an object, got %s", label, jtype(o));
        free(label);
        return;
    }
    const json_t *jn = json_object_get(o, "name");
    if (json_is_string(jn)) {
        /* Name the school in every message about it. */
        char *d = display(json_string_value(jn));
        free(label);
        label = rs_xasprintf("schools[%zu] \"%s\"", index, d);
        free(d);
    }
    const char *name = req_string(c, o, "name", label, p, NAME_MAX_BYTES);
    if (name)
        check_name(c, r, name, label);
    const char *conf = req_string(c, o, "conference", label, p, CONFERENCE_MAX_BYTES);
    if (conf)
        r->s.conference = rs_xstrdup(conf);
    const char *st = req_string(c, o, "state", label, p, 64);
    if (st)
        check_state(c, r, st, label);
    const json_t *pr = json_object_get(o, "priority");
    if (pr) {
        json_int_t v = json_is_integer(pr) ? json_integer_value(pr) : 0;
        if (v >= 1 && v <= 3) {
            r->s.priority = (int)v;
        } else {
            char *got = jvalue_text(pr);
            problem(&c->rep, p, "%s: priority must be 1, 2 or 3, got %s", label, got);
            free(got);
        }
    }
    check_links(c, r, o, label, p);
    free(label);
}

/* Duplicates after canonicalisation, each reported with both entries. */
static void check_duplicates(struct list_ctx *c)
{
    struct rs_strmap seen = {0};
    for (size_t i = 0; i < c->n; i++) {
        struct school_rec *r = &c->recs[i];
        if (!r->s.name)
            continue;
        char *k = rs_name_key(r->s.name, strlen(r->s.name));
        if (!rs_strmap_add(&seen, k, i)) {
            const struct school_rec *f = &c->recs[*rs_strmap_get(&seen, k)];
            char *dg = display(r->s.given_name), *df = display(f->s.given_name), *dc = display(r->s.name);
            problem(&c->rep, r->pos,
                    "schools[%zu] \"%s\": duplicate of schools[%zu] \"%s\" at %s:%d:%d (both are \"%s\")",
                    r->s.index, dg, f->s.index, df, c->rep.file, f->pos.line, f->pos.col, dc);
            free(dg);
            free(df);
            free(dc);
        }
        free(k);
    }
    rs_strmap_deinit(&seen);
}

static void recs_free(struct list_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        school_deinit(&c->recs[i].s);
    }
    free(c->recs);
}

/* Optional top-level string: batch_name, created. */
static char *opt_top_string(struct list_ctx *c, const json_t *root, const char *field, struct rs_json_pos p)
{
    const json_t *v = json_object_get(root, field);
    if (!v)
        return NULL;
    if (!json_is_string(v) || rs_has_control(json_string_value(v))) {
        problem(&c->rep, p, "\"%s\" must be a string without control characters, got %s", field, jtype(v));
        return NULL;
    }
    return rs_xstrdup(json_string_value(v));
}

/* Copy of the document with the inside of the "schools" array blanked out
 * (newlines kept, one space per character), so jansson can check the rest of
 * the file and its line:col still match the original. */
static char *blank_array(const char *data, size_t len, size_t open, size_t close, size_t *outlen)
{
    char *b = rs_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (i <= open || i >= close || ch == '\n')
            b[o++] = (char)ch;
        else if ((ch & 0xC0) != 0x80)
            b[o++] = ' ';
    }
    b[o] = '\0';
    *outlen = o;
    return b;
}

int rs_schools_parse(const char *data, size_t len, const char *file, const struct rs_aliases *aliases,
                     struct rs_school_list **out, struct rs_diags *diags)
{
    struct list_ctx c = {.rep = {file, diags, 0, 0}, .aliases = aliases};
    /* A UTF-8 byte order mark (as some editors write) is not part of the JSON. */
    size_t bom = rs_utf8_bom_len(data, len);
    data += bom;
    len -= bom;
    struct rs_json_cursor cur;
    rs_json_cursor_init(&cur, data, len);
    struct layout lo;
    layout_scan(&lo, &cur);
    char *batch_name = NULL, *created = NULL;

    json_error_t e;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
    if (root) {
        if (!json_is_object(root)) {
            problem(&c.rep, rs_json_cursor_at(&cur, rs_json_skip_ws_at(data, len, 0)),
                    "the school list must be an object {\"batch_name\": ..., \"schools\": [...]}, got %s",
                    jtype(root));
            goto out;
        }
        batch_name = opt_top_string(&c, root, "batch_name", top_pos(&lo, data, "batch_name"));
        created = opt_top_string(&c, root, "created", top_pos(&lo, data, "created"));
        const json_t *arr = json_object_get(root, "schools");
        struct rs_json_pos sp = top_pos(&lo, data, "schools");
        if (!arr) {
            problem(&c.rep, (struct rs_json_pos){1, 1}, "missing required field \"schools\"");
            goto out;
        }
        if (!json_is_array(arr)) {
            problem(&c.rep, sp, "\"schools\" must be an array, got %s", jtype(arr));
            goto out;
        }
        size_t n = json_array_size(arr);
        if (n == 0) {
            problem(&c.rep, sp, "\"schools\" is empty: nothing to do");
            goto out;
        }
        if (n > RS_SCHOOLS_MAX_COUNT) {
            problem(&c.rep, sp, "\"schools\" has %zu entries; the limit is %d", n, RS_SCHOOLS_MAX_COUNT);
            goto out;
        }
        /* Positions come from the scanner, which must agree with jansson. */
        bool mapped = lo.found && lo.elems.n == n;
        for (size_t i = 0; i < n; i++)
            check_school(&c, json_array_get(arr, i), i, mapped ? lo.elems.v[i].pos : sp);
    } else if (!lo.found) {
        syntax_problem(&c.rep, &e, (struct rs_json_pos){1, 1}, "");
        goto out;
    } else {
        /* The tolerant path: check the rest of the document with the array
         * blanked out, then every element on its own. */
        if (lo.terminated) {
            size_t blen;
            char *blanked = blank_array(data, len, lo.open, lo.close, &blen);
            json_error_t be;
            json_t *broot = json_loadb(blanked, blen, JSON_REJECT_DUPLICATES, &be);
            if (!broot) {
                syntax_problem(&c.rep, &be, (struct rs_json_pos){1, 1}, "");
            } else {
                batch_name = opt_top_string(&c, broot, "batch_name", top_pos(&lo, data, "batch_name"));
                created = opt_top_string(&c, broot, "created", top_pos(&lo, data, "created"));
                json_decref(broot);
            }
            free(blanked);
        }
        size_t n = lo.elems.n < RS_SCHOOLS_MAX_COUNT ? lo.elems.n : RS_SCHOOLS_MAX_COUNT;
        for (size_t i = 0; i < n; i++) {
            const struct rs_json_piece *s = &lo.elems.v[i];
            if (s->start == s->end) {
                c.rep.syntax++;
                problem(&c.rep, s->pos, "schools[%zu]: JSON syntax error: empty element (stray comma?)", i);
                continue;
            }
            if (s->no_comma) {
                c.rep.syntax++;
                problem(&c.rep, s->pos, "schools[%zu]: JSON syntax error: ',' expected before this element", i);
            }
            json_error_t ee;
            json_t *el = json_loadb(data + s->start, s->end - s->start, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                                    &ee);
            if (!el) {
                char *what = rs_xasprintf("schools[%zu]: ", i);
                syntax_problem(&c.rep, &ee, s->pos, what);
                free(what);
                continue;
            }
            check_school(&c, el, i, s->pos);
            json_decref(el);
        }
        /* Never let a file that jansson rejected pass without a syntax error:
         * the break may sit where neither check above looks (e.g. between
         * the array and its closing brace when the array is unterminated). */
        if (c.rep.syntax == 0)
            syntax_problem(&c.rep, &e, (struct rs_json_pos){1, 1}, "");
    }
    check_duplicates(&c);

out:
    json_decref(root);
    layout_deinit(&lo);
    if (c.rep.problems) {
        report_finish(&c.rep);
        recs_free(&c);
        free(batch_name);
        free(created);
        return RS_SCHOOLS_E_INVALID;
    }
    struct rs_school_list *l = rs_xcalloc(1, sizeof(*l));
    l->batch_name = batch_name;
    l->created = created;
    l->n = c.n;
    l->v = rs_xcalloc(c.n ? c.n : 1, sizeof(*l->v));
    for (size_t i = 0; i < c.n; i++)
        l->v[i] = c.recs[i].s;
    free(c.recs);
    assign_slugs(l);
    *out = l;
    return 0;
}

int rs_schools_load(const char *path, const struct rs_aliases *aliases, struct rs_school_list **out,
                    struct rs_diags *diags)
{
    char *data;
    size_t len;
    int r = read_capped(path, &data, &len, diags);
    if (r != 0)
        return r;
    r = rs_schools_parse(data, len, path, aliases, out, diags);
    free(data);
    return r;
}

struct rs_school_list *rs_school_list_free(struct rs_school_list *l)
{
    if (!l)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        school_deinit(&l->v[i]);
    free(l->v);
    free(l->batch_name);
    free(l->created);
    free(l);
    return NULL;
}

static int cmp_priority(const void *pa, const void *pb)
{
    const struct rs_school *a = pa, *b = pb;
    if (a->priority != b->priority)
        return a->priority < b->priority ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int cmp_index(const void *pa, const void *pb)
{
    const struct rs_school *a = pa, *b = pb;
    return a->index < b->index ? -1 : a->index > b->index;
}

void rs_schools_sort(struct rs_school_list *l, enum rs_order order)
{
    /* qsort is not stable; the list index as the last key makes it so. */
    if (l && l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), order == RS_ORDER_PRIORITY ? cmp_priority : cmp_index);
}

const struct rs_school *rs_schools_find(const struct rs_school_list *l, const struct rs_aliases *a,
                                        const char *name)
{
    if (!l || !name)
        return NULL;
    const char *canon = rs_aliases_resolve(a, name);
    const char *look = canon ? canon : name;
    char *key = rs_name_key(look, strlen(look));
    const struct rs_school *hit = NULL;
    for (size_t i = 0; i < l->n && !hit; i++) {
        char *k = rs_name_key(l->v[i].name, strlen(l->v[i].name));
        if (strcmp(k, key) == 0 || rs_streq_ci(l->v[i].slug, name) || rs_streq_ci(l->v[i].given_name, name))
            hit = &l->v[i];
        free(k);
    }
    free(key);
    return hit;
}
