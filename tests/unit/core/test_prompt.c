/* SPDX-License-Identifier: MIT */
/* Prompt templates: rendering, unknown placeholders with positions, the shipped prompt. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/core/prompt.h"
#include "ralphsup/base/util.h"

static const struct rs_prompt_vars vars = {
    .school_name = "University of Utah", .school_conference = "Big 12", .school_state = "UT",
    .school_slug = "university-of-utah", .output_csv = "/b/output/university-of-utah.csv",
    .output_csv_rel = "output/university-of-utah.csv", .attempt = 2, .max_attempts = 3,
    .previous_failure = "RALPH_DONE claimed 42 coaches, CSV has 40 rows", .batch_name = "west",
    .school_athletics_url = "https://utahutes.com", .school_email_domains = "utah.edu, utahutes.com",
    .school_aliases = "Utah, U of U", .cache_dir = "/b/cache", .budget_usd = "3.00",
    .deadline = "2026-11-24T21:03:10Z",
};

Test(prompt, renders_every_placeholder)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_prompt *p = NULL;
    cr_assert_eq(rs_prompt_parse("{{school.name}}|{{ school.conference }}|{{school.state}}|{{school.slug}}|"
                                 "{{output_csv}}|{{output_csv_rel}}|{{attempt}}/{{max_attempts}}|{{previous_failure}}|"
                                 "{{batch.name}}|{{school.athletics_url}}|{{school.email_domains}}|{{ school.aliases }}|"
                                 "{{cache_dir}}|{{budget_usd}}|{{deadline}}",
                                 "t", &p, &d),
                 0);
    char *s = rs_prompt_render(p, &vars);
    cr_expect_str_eq(s, "University of Utah|Big 12|UT|university-of-utah|/b/output/university-of-utah.csv|"
                        "output/university-of-utah.csv|2/3|RALPH_DONE claimed 42 coaches, CSV has 40 rows|west|"
                        "https://utahutes.com|utah.edu, utahutes.com|Utah, U of U|/b/cache|3.00|2026-11-24T21:03:10Z");
    free(s);
    /* Values the caller leaves NULL render as nothing ({{cache_dir}} of a batch without one). */
    struct rs_prompt_vars none = {.attempt = 1, .max_attempts = 3};
    s = rs_prompt_render(p, &none);
    cr_expect_str_eq(s, "||||||1/3||||||||");
    free(s);
    rs_prompt_free(p);
    rs_diags_deinit(&d);
}

Test(prompt, unknown_placeholders_are_reported_with_positions)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_prompt *p = NULL;
    cr_assert_eq(rs_prompt_parse("ok {{school.name}}\nline two {{school.nmae}} and {{bogus}}\n{{unterminated", "p.md",
                                 &p, &d),
                 RS_PROMPT_E_INVALID);
    cr_assert_null(p);
    cr_assert_eq(d.n, 3);
    cr_expect_str_eq(d.msgs[0], "p.md:2:10: unknown placeholder {{school.nmae}} (did you mean {{school.name}}?)");
    cr_expect(strstr(d.msgs[1], "p.md:2:30: unknown placeholder {{bogus}}"), "%s", d.msgs[1]);
    cr_expect(strstr(d.msgs[2], "p.md:3:1: unterminated placeholder"), "%s", d.msgs[2]);
    rs_diags_deinit(&d);
}

Test(prompt, shipped_prompt_is_valid_and_has_the_contract_lines)
{
    const char *root = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert(root);
    char *path = rs_path_join(root, "prompts/batch_loop.md");
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_prompt *p = NULL;
    cr_assert_eq(rs_prompt_load(path, &p, &d), 0);
    char *s = rs_prompt_render(p, &vars);
    cr_expect(strstr(s, "School: University of Utah\n"));
    cr_expect(strstr(s, "Output CSV: /b/output/university-of-utah.csv\n"));
    cr_expect(strstr(s, "Attempt: 2 of 3\n"));
    cr_expect(strstr(s, "RALPH_DONE: {\"school\": \"University of Utah\""));
    cr_expect(strstr(s, "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url,"
                        "evidence_url,evidence_quote,evidence_date,evidence_type,confidence,overlap_checked"));
    cr_expect(strstr(s, "https://utahutes.com"));
    cr_expect(strstr(s, "utah.edu, utahutes.com"));
    cr_expect(strstr(s, "Utah, U of U"));
    cr_expect(strstr(s, "/b/cache"));
    cr_expect(strstr(s, "3.00"));
    cr_expect(strstr(s, "2026-11-24T21:03:10Z"));
    cr_expect(strstr(s, "{{") == NULL);
    free(s);
    rs_prompt_free(p);
    free(path);
    rs_diags_deinit(&d);
}
