/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the alias table (core/schools.c, rs_aliases_parse). Refused:
 * at least one diagnostic. Accepted: a lookup of any name (here: each line
 * of the input, and the input's strings as the parser would see them) is
 * either NULL or a canonical name that resolves to itself.
 */
#include "fuzz.h"
#include "ralphsup/core/schools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_aliases *a = NULL;
    int r = rs_aliases_parse((const char *)data, size, "school_aliases.json", &a, &d);
    if (r == 0) {
        FUZZ_CHECK(a && d.n == 0, "accepted with diagnostics");
        char *s = fuzz_cstr(data, size);
        /* Every quoted run and every line as a name to look up. */
        for (char *p = s; p < s + size;) {
            char *q = p;
            while (q < s + size && *q != '"' && *q != '\n')
                q++;
            char c = *q;
            *q = '\0';
            const char *canon = rs_aliases_resolve(a, p);
            if (canon) {
                const char *again = rs_aliases_resolve(a, canon);
                FUZZ_CHECK(again && strcmp(again, canon) == 0, "\"%s\" -> \"%s\" -> \"%s\"", p, canon,
                           again ? again : "(null)");
            }
            *q = c;
            p = q + 1;
        }
        free(s);
        rs_aliases_empty(a);
        rs_aliases_free(a);
    } else {
        FUZZ_CHECK(r == RS_SCHOOLS_E_INVALID && !a && d.n > 0, "refused (%d) without a diagnostic", r);
    }
    rs_diags_deinit(&d);
    return 0;
}
