/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for shardstate.c: the "shard" member of a shard's progress
 * file survives a save and a load (it lives among the members progress.c
 * keeps unknown), other unknown members stay, and a malformed one reads as
 * absent.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/common.h"
#include "ralphsup/store/progress.h"
#include "ralphsup/store/shardstate.h"

static struct rs_progress *reload(const struct rs_progress *p)
{
    char *s = rs_progress_format(p);
    struct rs_progress *q = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_assert_eq(rs_progress_parse(s, strlen(s), "test", &q, &d), 0, "%s", d.n ? d.msgs[0] : "");
    rs_diags_deinit(&d);
    free(s);
    return q;
}

Test(shardstate, round_trip_keeps_other_members)
{
    struct rs_progress *p = rs_progress_new("b", 1000);
    rs_progress_push_pending(p, "Alder College", false);
    struct rs_shard sh;
    cr_expect_not(rs_progress_shard_get(p, &sh, NULL, 0));
    cr_expect_eq(sh.count, 0);
    p->extra = rs_xstrdup("{\"note\":\"kept\"}");
    struct rs_shard w = {2, 4};
    rs_progress_shard_set(p, &w, "fnv1a64:0123456789abcdef");
    struct rs_progress *q = reload(p);
    char hash[64];
    cr_assert(rs_progress_shard_get(q, &sh, hash, sizeof hash));
    cr_expect(sh.index == 2 && sh.count == 4);
    cr_expect_str_eq(hash, "fnv1a64:0123456789abcdef");
    cr_expect(q->extra && strstr(q->extra, "\"note\""), "other unknown members stay: %s", q->extra);
    w.index = 3;
    rs_progress_shard_set(q, &w, "fnv1a64:x"); /* replaced, not added twice */
    struct rs_progress *r = reload(q);
    cr_assert(rs_progress_shard_get(r, &sh, hash, sizeof hash));
    cr_expect(sh.index == 3 && strcmp(hash, "fnv1a64:x") == 0);
    rs_progress_free(p);
    rs_progress_free(q);
    rs_progress_free(r);
}

Test(shardstate, malformed_reads_as_absent)
{
    static const char *const bad[] = {
        "{\"shard\": {\"index\": 4, \"count\": 4}}",
        "{\"shard\": {\"index\": -1, \"count\": 4}}",
        "{\"shard\": {\"index\": 0, \"count\": 0}}",
        "{\"shard\": {\"index\": \"0\", \"count\": 4}}",
        "{\"shard\": [0, 4]}",
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(bad); i++) {
        struct rs_progress *p = rs_progress_new("b", 1000);
        p->extra = rs_xstrdup(bad[i]);
        struct rs_shard sh = {9, 9};
        cr_expect_not(rs_progress_shard_get(p, &sh, NULL, 0), "%s", bad[i]);
        cr_expect_eq(sh.count, 0);
        rs_progress_free(p);
    }
}
