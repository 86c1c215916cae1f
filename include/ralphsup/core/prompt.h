/* SPDX-License-Identifier: MIT */
/*
 * The per-school prompt template (prompts/batch_loop.md): {{placeholders}}
 * rendered for one school and attempt. The template is checked when the
 * supervisor starts, so an unknown placeholder is a startup error with
 * file:line:col, never a surprise in the middle of a batch.
 *
 * Placeholders: school.name, school.conference, school.state, school.slug,
 * school.athletics_url, school.email_domains, school.aliases, output_csv,
 * output_csv_rel, cache_dir, attempt, max_attempts, previous_failure,
 * batch.name, budget_usd, deadline. Spaces inside the braces are allowed
 * ("{{ attempt }}"). The caller formats every value (docs/config.md,
 * "Prompt placeholders"); NULL renders as nothing.
 */
#pragma once

#include <stddef.h>

#include "ralphsup/base/common.h"

struct rs_prompt; /* opaque: the parsed template */

struct rs_prompt_vars {
    const char *school_name;
    const char *school_conference;
    const char *school_state;
    const char *school_slug;
    const char *output_csv;     /* absolute */
    const char *output_csv_rel; /* relative to the batch root */
    int attempt;
    int max_attempts;
    const char *previous_failure; /* "" on attempt 1 */
    const char *batch_name;
    const char *school_athletics_url;  /* "" when the list gives none */
    const char *school_email_domains;  /* "utah.edu, utahutes.com", "" when none */
    const char *school_aliases;        /* "Utah, U of U", "" when none */
    const char *cache_dir;             /* absolute, "" when the batch has none */
    const char *budget_usd;            /* "3.00" (the attempt's --max-budget-usd), "unlimited" without a cap */
    const char *deadline;              /* "2026-11-24T21:03:10Z": when the attempt is stopped at the latest */
};

enum {
    RS_PROMPT_E_INVALID = 1, /* problems in diags */
};

/*
 * rs_prompt_load() - read and check the template at @path (at most 1 MiB).
 * Return: 0, RS_PROMPT_E_INVALID (every unknown or unterminated placeholder
 * reported with file:line:col), or negative errno.
 */
int rs_prompt_load(const char *path, struct rs_prompt **out, struct rs_diags *diags);
/* Same from a string; @origin names it in messages. */
int rs_prompt_parse(const char *text, const char *origin, struct rs_prompt **out, struct rs_diags *diags);
struct rs_prompt *rs_prompt_free(struct rs_prompt *p);
/* Render with @v; caller frees. */
char *rs_prompt_render(const struct rs_prompt *p, const struct rs_prompt_vars *v);
