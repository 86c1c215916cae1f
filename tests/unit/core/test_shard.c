/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for shard.c: the shard of a school is a function of its name
 * alone (docs/scale-out.md). The table pins FNV-1a 64 of the lookup key
 * (values computed independently of this code); the list tests go through
 * the school list loader, reorder and extend the list and check that every
 * school keeps its shard.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/buf.h"
#include "ralphsup/base/common.h"
#include "ralphsup/core/config.h"
#include "ralphsup/core/schools.h"
#include "ralphsup/core/shard.h"

static const struct {
    const char *name;
    int shard4;
    const char *hash;
} pinned[] = {
    {"University of Colorado Boulder", 0, "edb8ec8773d68c0c"},
    {"Colorado State University", 1, "290e35edab696319"},
    {"University of Utah", 2, "c2c74faae1912922"},
    {"Brigham Young University", 3, "10c18ffeda8eeae7"},
    {"Boise State University", 0, "5a28090b76fe3840"},
    {"University of Wyoming", 2, "bd00586941923c5a"},
    {"San José State University", 0, "70d410ab6b143230"},
    {"University of Nevada, Las Vegas", 1, "71aa8d182d542439"},
    {"Air Force Academy", 2, "694f46aa3508b916"},
    {"University of New Mexico", 3, "d6ec2012e9daef87"},
    {"Montana State University", 2, "bc7e2b6a5cf55f1a"},
    {"Weber State University", 1, "194c0dbf4d783035"},
};

Test(shard, pinned_hash_and_shards_of_four)
{
    for (size_t i = 0; i < RS_ARRAY_SIZE(pinned); i++) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)rs_shard_hash(pinned[i].name));
        cr_expect_str_eq(hex, pinned[i].hash, "%s", pinned[i].name);
        cr_expect_eq(rs_shard_of(pinned[i].name, 4), pinned[i].shard4, "%s", pinned[i].name);
        struct rs_shard sh = {pinned[i].shard4, 4};
        cr_expect(rs_shard_has(&sh, pinned[i].name));
        sh.index = (sh.index + 1) % 4;
        cr_expect_not(rs_shard_has(&sh, pinned[i].name));
    }
    /* The lookup key: case and blank runs do not matter, as for the list's lookups. */
    cr_expect_eq(rs_shard_hash("  university   OF\tutah "), rs_shard_hash("University of Utah"));
    cr_expect_neq(rs_shard_hash("University of Utah State"), rs_shard_hash("University of Utah"));
    cr_expect_eq(rs_shard_of("anything", 1), 0);
}

/* A school list JSON of @names in the given order. */
static char *list_json(char *const *names, size_t n)
{
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_printf(&b, "{\"batch_name\": \"t\", \"schools\": [");
    for (size_t i = 0; i < n; i++)
        rs_buf_printf(&b, "%s{\"name\": \"%s\", \"conference\": \"C\", \"state\": \"CO\"}", i ? "," : "", names[i]);
    rs_buf_printf(&b, "]}");
    char *s = rs_xstrdup(b.data);
    rs_buf_deinit(&b);
    return s;
}

static struct rs_school_list *load(char *const *names, size_t n)
{
    struct rs_aliases *a = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_assert_eq(rs_aliases_parse("{}", 2, "aliases.json", &a, &d), 0);
    char *js = list_json(names, n);
    struct rs_school_list *l = NULL;
    cr_assert_eq(rs_schools_parse(js, strlen(js), "schools.json", a, &l, &d), 0, "%s", d.n ? d.msgs[0] : "");
    free(js);
    rs_aliases_free(a);
    rs_diags_deinit(&d);
    return l;
}

static void list_hash(const struct rs_school_list *l, char *out)
{
    const char **v = calloc(l->n, sizeof(*v));
    for (size_t i = 0; i < l->n; i++)
        v[i] = l->v[i].name;
    rs_shard_list_hash(v, l->n, out, 32);
    free(v);
}

Test(shard, reorder_and_extend_keep_every_school_in_its_shard)
{
    enum { N0 = 300, NX = 120 };
    char *names[N0 + NX];
    for (size_t i = 0; i < N0 + NX; i++)
        names[i] = rs_xasprintf("College %zu of the %s", i, i % 3 ? "West" : "Plains");
    struct rs_school_list *l0 = load(names, N0);
    int count[8][8] = {{0}};
    int before[N0];
    for (size_t i = 0; i < N0; i++) {
        before[i] = rs_shard_of(l0->v[i].name, 7);
        count[7][before[i]]++;
    }
    for (int s = 0; s < 7; s++) /* spread: every shard gets some of 300 schools */
        cr_expect_gt(count[7][s], 15, "shard %d of 7 has %d schools", s, count[7][s]);

    /* Reversed, rotated, and 120 schools added in the middle. */
    char *edited[N0 + NX];
    size_t k = 0;
    for (size_t i = 0; i < N0 / 2; i++)
        edited[k++] = names[N0 - 1 - i];
    for (size_t i = 0; i < NX; i++)
        edited[k++] = names[N0 + i];
    for (size_t i = N0 / 2; i < N0; i++)
        edited[k++] = names[N0 - 1 - i];
    struct rs_school_list *l1 = load(edited, k);
    struct rs_school_list *lr = load(edited, N0 / 2); /* a part: not the same list */
    for (size_t i = 0; i < N0; i++) {
        const struct rs_school *s = rs_schools_find(l1, NULL, names[i]);
        cr_assert(s, "%s", names[i]);
        cr_expect_eq(rs_shard_of(s->name, 7), before[i], "%s moved", names[i]);
    }

    /* The list's hash: the same for every order of one list, not for another list. */
    char *rev[N0];
    for (size_t i = 0; i < N0; i++)
        rev[i] = names[N0 - 1 - i];
    struct rs_school_list *l2 = load(rev, N0);
    char h0[32], h1[32], h2[32], hr[32];
    list_hash(l0, h0);
    list_hash(l1, h1);
    list_hash(l2, h2);
    list_hash(lr, hr);
    cr_expect_str_eq(h0, h2);
    cr_expect_str_neq(h0, h1);
    cr_expect_str_neq(h0, hr);
    cr_expect_eq(strncmp(h0, "fnv1a64:", 8), 0);
    const char *three[] = {"University of Colorado Boulder", "Colorado State University", "University of Utah"};
    char h3[32];
    rs_shard_list_hash(three, 3, h3, sizeof h3);
    cr_expect_str_eq(h3, "fnv1a64:5004e3d1d7ce40c1"); /* pinned: sorted lookup keys, each + "\n" */
    rs_school_list_free(l0);
    rs_school_list_free(l1);
    rs_school_list_free(l2);
    rs_school_list_free(lr);
    for (size_t i = 0; i < N0 + NX; i++)
        free(names[i]);
}

Test(shard, parse_specs)
{
    struct rs_shard sh;
    char err[256];
    cr_assert_eq(rs_shard_parse("2/4", NULL, NULL, &sh, err, sizeof err), 0);
    cr_expect(sh.index == 2 && sh.count == 4);
    cr_assert_eq(rs_shard_parse("auto/4", "3", "1", &sh, err, sizeof err), 0);
    cr_expect(sh.index == 3 && sh.count == 4, "JOB_COMPLETION_INDEX first");
    cr_assert_eq(rs_shard_parse("auto/4", NULL, "1", &sh, err, sizeof err), 0);
    cr_expect(sh.index == 1, "then SLURM_ARRAY_TASK_ID");
    cr_assert_eq(rs_shard_parse("auto/4", "", "0", &sh, err, sizeof err), 0);
    cr_expect(sh.index == 0);
    static const char *const bad[] = {"4/4", "-1/4", "1/0", "x/4", "1", "", "1/4096x", "1/5000", "auto/4"};
    for (size_t i = 0; i < RS_ARRAY_SIZE(bad); i++)
        cr_expect_eq(rs_shard_parse(bad[i], NULL, NULL, &sh, err, sizeof err), -EINVAL, "%s", bad[i]);
    cr_expect_eq(rs_shard_parse("auto/4", "4", NULL, &sh, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "JOB_COMPLETION_INDEX"), "%s", err);
}

Test(shard, names_and_tags)
{
    struct rs_shard sh = {1, 4}, got;
    char tag[32];
    rs_shard_tag(&sh, tag, sizeof tag);
    cr_expect_str_eq(tag, "shard-1-of-4");
    char *ref = rs_shard_ref(&sh);
    cr_expect_str_eq(ref, "refs/heads/ralphsup/shard-1-of-4");
    cr_expect(rs_shard_parse_tag(ref, &got) && got.index == 1 && got.count == 4);
    free(ref);
    char *p = rs_shard_progress_path("/b/batch_progress.json", &sh);
    cr_expect_str_eq(p, "/b/batch_progress.shard-1-of-4.json");
    free(p);
    p = rs_shard_progress_path("/b.d/state/west_full.json", &sh);
    cr_expect_str_eq(p, "/b.d/state/west_full.shard-1-of-4.json");
    free(p);
    p = rs_shard_progress_path("/b.d/progress", &sh);
    cr_expect_str_eq(p, "/b.d/progress.shard-1-of-4");
    free(p);
    cr_expect_not(rs_shard_parse_tag("shard-4-of-4", &got));
    cr_expect_not(rs_shard_parse_tag("shard-x-of-4", &got));
}

Test(shard, apply_gives_the_shard_its_own_files_and_ref)
{
    struct rs_config *cfg = rs_config_new_defaults("/b");
    struct rs_shard sh = {3, 8};
    rs_shard_apply(cfg, &sh);
    cr_expect_str_eq(cfg->progress, "/b/batch_progress.shard-3-of-8.json");
    cr_expect_str_eq(cfg->log_dir, "/b/logs/shard-3-of-8");
    cr_expect_str_eq(cfg->git_ref, "refs/heads/ralphsup/shard-3-of-8");
    cr_expect(cfg->shard_index == 3 && cfg->shard_count == 8);
    cr_expect(cfg->git_include_outputs, "a shard's commits carry its CSVs");
    rs_config_free(cfg);
    cfg = rs_config_new_defaults("/b");
    struct rs_shard none = {0, 0};
    rs_shard_apply(cfg, &none);
    cr_expect_str_eq(cfg->progress, "/b/batch_progress.json");
    cr_expect_str_eq(cfg->git_ref, "HEAD");
    cr_expect_eq(cfg->shard_count, 0);
    rs_config_free(cfg);
}
