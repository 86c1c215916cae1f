/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: prompt templates (core/prompt.c). The input is a template:
 * accepted, it renders (twice, identically) with every variable set and
 * again with empty ones; refused, it says why with at least one
 * diagnostic naming the template.
 */
#include "fuzz.h"
#include "ralphsup/core/prompt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_prompt *p = NULL;
    int r = rs_prompt_parse(text, "batch_loop.md", &p, &d);
    if (r == 0) {
        FUZZ_CHECK(p && d.n == 0, "accepted with diagnostics");
        struct rs_prompt_vars v = {"University of Utah", "Big 12", "UT", "university-of-utah",
                                   "/b/output/university-of-utah.csv", "output/university-of-utah.csv", 2, 3,
                                   "timeout {{attempt}}", "west"};
        char *a = rs_prompt_render(p, &v), *b = rs_prompt_render(p, &v);
        FUZZ_CHECK(a && b && strcmp(a, b) == 0, "two renders differ");
        free(a);
        free(b);
        struct rs_prompt_vars e = {"", "", "", "", "", "", 0, 0, "", ""};
        free(rs_prompt_render(p, &e));
        rs_prompt_free(p);
    } else {
        FUZZ_CHECK(r == RS_PROMPT_E_INVALID && d.n > 0, "refused (%d) without a diagnostic", r);
        for (size_t i = 0; i < d.n; i++)
            FUZZ_CHECK(strncmp(d.msgs[i], "batch_loop.md", 13) == 0, "diagnostic: %s", d.msgs[i]);
    }
    rs_diags_deinit(&d);
    free(text);
    return 0;
}
