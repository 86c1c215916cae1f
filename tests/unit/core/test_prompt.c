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
};

Test(prompt, renders_every_placeholder)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_prompt *p = NULL;
    cr_assert_eq(rs_prompt_parse("{{school.name}}|{{ school.conference }}|{{school.state}}|{{school.slug}}|"
                                 "{{output_csv}}|{{output_csv_rel}}|{{attempt}}/{{max_attempts}}|{{previous_failure}}|"
                                 "{{batch.name}}",
                                 "t", &p, &d),
                 0);
    char *s = rs_prompt_render(p, &vars);
    cr_expect_str_eq(s, "University of Utah|Big 12|UT|university-of-utah|/b/output/university-of-utah.csv|"
                        "output/university-of-utah.csv|2/3|RALPH_DONE claimed 42 coaches, CSV has 40 rows|west");
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
    cr_expect(strstr(s, "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url"));
    cr_expect(strstr(s, "{{") == NULL);
    free(s);
    rs_prompt_free(p);
    free(path);
    rs_diags_deinit(&d);
}
