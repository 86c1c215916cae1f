/* SPDX-License-Identifier: MIT */
/* Unit tests for strmap.c: insert, overwrite, delete (backward shift), growth. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "ralphsup/base/strmap.h"

Test(strmap, add_get_put)
{
    struct rs_strmap m = {0};
    cr_expect_null(rs_strmap_get(&m, "a"));
    cr_expect(!rs_strmap_del(&m, "a"));
    cr_expect(rs_strmap_add(&m, "a", 1));
    cr_expect(!rs_strmap_add(&m, "a", 2), "add keeps the first value");
    cr_expect_eq(*rs_strmap_get(&m, "a"), 1);
    rs_strmap_put(&m, "a", 3);
    cr_expect_eq(*rs_strmap_get(&m, "a"), 3);
    rs_strmap_put(&m, "", 4);
    cr_expect_eq(*rs_strmap_get(&m, ""), 4);
    cr_expect_eq(m.n, 2);
    rs_strmap_deinit(&m);
    cr_expect_eq(m.n, 0);
    cr_expect_null(rs_strmap_get(&m, "a"));
}

/* Many keys, then every other one removed, then re-checked: a deletion must
 * not cut a probe run short (the classic linear-probing bug). */
Test(strmap, delete_keeps_runs)
{
    enum { N = 5000 };
    struct rs_strmap m = {0};
    char k[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(k, sizeof k, "School %zu", i);
        cr_assert(rs_strmap_add(&m, k, i));
    }
    cr_expect_eq(m.n, N);
    cr_expect_leq(m.n * 2, m.cap);
    for (size_t i = 0; i < N; i += 2) {
        snprintf(k, sizeof k, "School %zu", i);
        cr_assert(rs_strmap_del(&m, k));
        cr_expect(!rs_strmap_del(&m, k));
    }
    cr_expect_eq(m.n, N / 2);
    for (size_t i = 0; i < N; i++) {
        snprintf(k, sizeof k, "School %zu", i);
        const size_t *v = rs_strmap_get(&m, k);
        if (i % 2)
            cr_assert(v && *v == i, "%s lost after deletions", k);
        else
            cr_assert_null(v, "%s still there", k);
    }
    /* the freed slots are usable again */
    for (size_t i = 0; i < N; i += 2) {
        snprintf(k, sizeof k, "School %zu", i);
        cr_assert(rs_strmap_add(&m, k, i + 1));
    }
    for (size_t i = 0; i < N; i++) {
        snprintf(k, sizeof k, "School %zu", i);
        cr_assert_eq(*rs_strmap_get(&m, k), i % 2 ? i : i + 1);
    }
    rs_strmap_deinit(&m);
}
