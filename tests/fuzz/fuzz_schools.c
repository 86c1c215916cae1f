/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the school list (core/schools.c), parsed against an empty
 * alias table or the repository's data/school_aliases.json (chosen by the
 * input's hash). Accepted: every school has a canonical name, a slug of
 * [a-z0-9-] (at most 64, not "." or ".."), slugs unique, a priority 1-3,
 * and rs_schools_find() finds each by name and by slug; sorting keeps the
 * slugs. Refused: at least one diagnostic. Also rs_slugify() of the raw
 * input keeps its contract.
 */
#include "fuzz.h"
#include "ralphsup/base/util.h"
#include "ralphsup/core/schools.h"

static struct rs_aliases *table, *empty;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct rs_diags d;
    rs_diags_init(&d);
    if (rs_aliases_load(FUZZ_SOURCE_ROOT "/data/school_aliases.json", &table, &d) != 0 ||
        rs_aliases_parse("{}", 2, "empty", &empty, &d) != 0) {
        fprintf(stderr, "fuzz_schools: cannot load the alias tables\n");
        abort();
    }
    rs_diags_deinit(&d);
    return 0;
}

static void slug_ok(const char *s)
{
    size_t n = strlen(s);
    FUZZ_CHECK(n >= 1 && n <= 64 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0, "slug \"%s\"", s);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-', "slug \"%s\"", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct rs_aliases *a = fuzz_hash(data, size) & 1 ? table : empty;
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    int r = rs_schools_parse((const char *)data, size, "schools.json", a, &l, &d);
    if (r == 0) {
        FUZZ_CHECK(l && d.n == 0, "accepted with diagnostics");
        for (size_t i = 0; i < l->n; i++) {
            const struct rs_school *s = &l->v[i];
            FUZZ_CHECK(s->name && *s->name && s->given_name, "school %zu without a name", i);
            FUZZ_CHECK(s->priority >= 1 && s->priority <= 3, "priority %d", s->priority);
            slug_ok(s->slug);
            for (size_t j = 0; j < i; j++)
                FUZZ_CHECK(strcmp(l->v[j].slug, s->slug) != 0, "slug \"%s\" twice", s->slug);
            FUZZ_CHECK(rs_schools_find(l, a, s->slug) != NULL, "slug \"%s\" not found", s->slug);
            FUZZ_CHECK(rs_schools_find(l, a, s->name) != NULL, "name \"%s\" not found", s->name);
        }
        rs_schools_sort(l, RS_ORDER_PRIORITY);
        for (size_t i = 1; i < l->n; i++)
            FUZZ_CHECK(l->v[i - 1].priority <= l->v[i].priority, "not sorted by priority");
        rs_school_list_free(l);
    } else {
        FUZZ_CHECK(r == RS_SCHOOLS_E_INVALID && !l && d.n > 0, "refused (%d) without a diagnostic", r);
    }
    rs_diags_deinit(&d);

    char *s = fuzz_cstr(data, size < 4096 ? size : 4096);
    char *slug = rs_slugify(s);
    slug_ok(slug);
    free(slug);
    free(s);
    return 0;
}
