/* SPDX-License-Identifier: MIT */
/*
 * Prompt templates. Parsing splits the text into literal runs and known
 * placeholders once; rendering concatenates. Unknown names are reported with
 * their position at parse time, which is what lets `start` refuse a broken
 * template before it spawns anything.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/core/prompt.h"
#include "ralphsup/base/util.h"

enum var {
    V_LITERAL,
    V_SCHOOL_NAME,
    V_SCHOOL_CONFERENCE,
    V_SCHOOL_STATE,
    V_SCHOOL_SLUG,
    V_OUTPUT_CSV,
    V_OUTPUT_CSV_REL,
    V_ATTEMPT,
    V_MAX_ATTEMPTS,
    V_PREVIOUS_FAILURE,
    V_BATCH_NAME,
    V_SCHOOL_ATHLETICS_URL,
    V_SCHOOL_EMAIL_DOMAINS,
    V_SCHOOL_ALIASES,
    V_CACHE_DIR,
    V_BUDGET_USD,
    V_DEADLINE,
};

static const struct {
    const char *name;
    enum var v;
} names[] = {
    {"school.name", V_SCHOOL_NAME},       {"school.conference", V_SCHOOL_CONFERENCE},
    {"school.state", V_SCHOOL_STATE},     {"school.slug", V_SCHOOL_SLUG},
    {"output_csv", V_OUTPUT_CSV},         {"output_csv_rel", V_OUTPUT_CSV_REL},
    {"attempt", V_ATTEMPT},               {"max_attempts", V_MAX_ATTEMPTS},
    {"previous_failure", V_PREVIOUS_FAILURE}, {"batch.name", V_BATCH_NAME},
    {"school.athletics_url", V_SCHOOL_ATHLETICS_URL}, {"school.email_domains", V_SCHOOL_EMAIL_DOMAINS},
    {"school.aliases", V_SCHOOL_ALIASES}, {"cache_dir", V_CACHE_DIR},
    {"budget_usd", V_BUDGET_USD},         {"deadline", V_DEADLINE},
};

struct piece {
    enum var v;
    char *text; /* V_LITERAL only */
};

struct rs_prompt {
    struct piece *pieces;
    size_t n;
};

static void push(struct rs_prompt *p, enum var v, const char *s, size_t len)
{
    p->pieces = rs_xrealloc(p->pieces, (p->n + 1) * sizeof(*p->pieces));
    p->pieces[p->n].v = v;
    p->pieces[p->n].text = v == V_LITERAL ? rs_xstrndup(s, len) : NULL;
    p->n++;
}

static void position(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *q = text; q < at; q++) {
        if (*q == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

int rs_prompt_parse(const char *text, const char *origin, struct rs_prompt **out, struct rs_diags *diags)
{
    struct rs_prompt *p = rs_xcalloc(1, sizeof(*p));
    int errors = 0;
    const char *s = text;
    const char *lit = s;
    while ((s = strstr(s, "{{")) != NULL) {
        const char *end = strstr(s + 2, "}}");
        const char *nl = strchr(s + 2, '\n');
        int line, col;
        if (!end || (nl && nl < end)) {
            position(text, s, &line, &col);
            rs_diags_addpos(diags, origin, line, col, "unterminated placeholder \"{{\" (missing \"}}\" on the same line)");
            errors++;
            s += 2;
            continue;
        }
        const char *a = s + 2, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        enum var v = V_LITERAL;
        for (size_t i = 0; i < RS_ARRAY_SIZE(names); i++)
            if (strlen(names[i].name) == (size_t)(b - a) && strncmp(names[i].name, a, (size_t)(b - a)) == 0)
                v = names[i].v;
        if (v == V_LITERAL) {
            char *nm = rs_xstrndup(a, (size_t)(b - a));
            const char *cands[RS_ARRAY_SIZE(names)];
            for (size_t i = 0; i < RS_ARRAY_SIZE(names); i++)
                cands[i] = names[i].name;
            const char *hint = rs_did_you_mean(nm, cands, RS_ARRAY_SIZE(names));
            position(text, s, &line, &col);
            if (hint)
                rs_diags_addpos(diags, origin, line, col, "unknown placeholder {{%s}} (did you mean {{%s}}?)", nm, hint);
            else
                rs_diags_addpos(diags, origin, line, col, "unknown placeholder {{%s}}", nm);
            free(nm);
            errors++;
            s = end + 2;
            continue;
        }
        if (s > lit)
            push(p, V_LITERAL, lit, (size_t)(s - lit));
        push(p, v, NULL, 0);
        s = end + 2;
        lit = s;
    }
    if (*lit)
        push(p, V_LITERAL, lit, strlen(lit));
    if (errors) {
        rs_prompt_free(p);
        return RS_PROMPT_E_INVALID;
    }
    *out = p;
    return 0;
}

int rs_prompt_load(const char *path, struct rs_prompt **out, struct rs_diags *diags)
{
    char *data;
    size_t len;
    int r = rs_file_read(path, 1u << 20, &data, &len);
    if (r == -EFBIG) {
        rs_diags_addpos(diags, path, 0, 0, "prompt template is larger than 1 MiB");
        return RS_PROMPT_E_INVALID;
    }
    if (r < 0)
        return r;
    if (memchr(data, '\0', len)) {
        rs_diags_addpos(diags, path, 0, 0, "prompt template contains a NUL byte");
        free(data);
        return RS_PROMPT_E_INVALID;
    }
    r = rs_prompt_parse(data, path, out, diags);
    free(data);
    return r;
}

struct rs_prompt *rs_prompt_free(struct rs_prompt *p)
{
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->n; i++)
        free(p->pieces[i].text);
    free(p->pieces);
    free(p);
    return NULL;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

char *rs_prompt_render(const struct rs_prompt *p, const struct rs_prompt_vars *v)
{
    struct rs_buf b;
    rs_buf_init(&b);
    for (size_t i = 0; i < p->n; i++) {
        switch (p->pieces[i].v) {
        case V_LITERAL: rs_buf_puts(&b, p->pieces[i].text); break;
        case V_SCHOOL_NAME: rs_buf_puts(&b, nz(v->school_name)); break;
        case V_SCHOOL_CONFERENCE: rs_buf_puts(&b, nz(v->school_conference)); break;
        case V_SCHOOL_STATE: rs_buf_puts(&b, nz(v->school_state)); break;
        case V_SCHOOL_SLUG: rs_buf_puts(&b, nz(v->school_slug)); break;
        case V_OUTPUT_CSV: rs_buf_puts(&b, nz(v->output_csv)); break;
        case V_OUTPUT_CSV_REL: rs_buf_puts(&b, nz(v->output_csv_rel)); break;
        case V_ATTEMPT: rs_buf_printf(&b, "%d", v->attempt); break;
        case V_MAX_ATTEMPTS: rs_buf_printf(&b, "%d", v->max_attempts); break;
        case V_PREVIOUS_FAILURE: rs_buf_puts(&b, nz(v->previous_failure)); break;
        case V_BATCH_NAME: rs_buf_puts(&b, nz(v->batch_name)); break;
        case V_SCHOOL_ATHLETICS_URL: rs_buf_puts(&b, nz(v->school_athletics_url)); break;
        case V_SCHOOL_EMAIL_DOMAINS: rs_buf_puts(&b, nz(v->school_email_domains)); break;
        case V_SCHOOL_ALIASES: rs_buf_puts(&b, nz(v->school_aliases)); break;
        case V_CACHE_DIR: rs_buf_puts(&b, nz(v->cache_dir)); break;
        case V_BUDGET_USD: rs_buf_puts(&b, nz(v->budget_usd)); break;
        case V_DEADLINE: rs_buf_puts(&b, nz(v->deadline)); break;
        }
    }
    return rs_buf_steal(&b);
}
