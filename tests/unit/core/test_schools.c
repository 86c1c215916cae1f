/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for schools.c: the shipped west list and alias table, the
 * all-problems-in-one-run validation (syntax + schema, each with
 * file:line:col), aliases, duplicates, slugs, ordering and input bounds.
 * Fixtures are written into a fresh mkdtemp directory per test.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/core/schools.h"
#include "ralphsup/base/util.h"

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rs-schools-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char *cmd = rs_xasprintf("rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
}

TestSuite(schools, .init = setup, .fini = teardown, .timeout = 10);

/* Write @text to tmpdir/@name; returns the path (caller frees). */
static char *fixture(const char *name, const char *text)
{
    char *path = rs_path_join(tmpdir, name);
    cr_assert_eq(rs_file_write_atomic(path, text, strlen(text), 0644), 0);
    return path;
}

static char *source_path(const char *rel)
{
    const char *root = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert(root, "RALPHSUP_SOURCE_ROOT is not set");
    return rs_path_join(root, rel);
}

/* The message that contains @needle, or NULL. */
static const char *diag_with(const struct rs_diags *d, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->msgs[i], needle))
            return d->msgs[i];
    return NULL;
}

static void expect_diag(const struct rs_diags *d, const char *needle)
{
    char *all = rs_diags_join(d);
    cr_expect(diag_with(d, needle), "no diagnostic contains [%s]; got:\n%s", needle, all);
    free(all);
}

static const char aliases_small[] =
    "{\n"
    "  \"University of Utah\": [\"Utah\", \"U of U\"],\n"
    "  \"University of Colorado\": [\"CU Boulder\", \"Colorado\", \"University of Colorado Boulder\"],\n"
    "  \"Stanford University\": [\"Stanford\"],\n"
    "  \"University of Oregon\": [\"Oregon\"],\n"
    "  \"University of California, Los Angeles\": [\"UCLA\"]\n"
    "}\n";

static struct rs_aliases *small_aliases(void)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_aliases *a = NULL;
    char *p = fixture("aliases.json", aliases_small);
    cr_assert_eq(rs_aliases_load(p, &a, &d), 0);
    cr_assert_eq(d.n, 0);
    free(p);
    rs_diags_deinit(&d);
    return a;
}

/* Load @text as a school list; returns the code, fills @d and *out. */
static int load_text(const char *text, const struct rs_aliases *a, struct rs_school_list **out,
                     struct rs_diags *d, char **pathp)
{
    char *p = fixture("list.json", text);
    int r = rs_schools_load(p, a, out, d);
    if (pathp)
        *pathp = p;
    else
        free(p);
    return r;
}

Test(schools, shipped_west_list_loads)
{
    char *lp = source_path("data/target_schools_west.json");
    char *ap = source_path("data/school_aliases.json");
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_aliases *a = NULL;
    struct rs_school_list *l = NULL;
    cr_assert_eq(rs_aliases_load(ap, &a, &d), 0, "%s", rs_diags_join(&d));
    cr_assert_eq(rs_schools_load(lp, a, &l, &d), 0, "%s", rs_diags_join(&d));
    cr_expect_eq(d.n, 0);
    cr_assert_eq(l->n, 24);
    cr_expect_str_eq(l->batch_name, "west-2026");
    cr_expect_str_eq(l->created, "2026-11-24");
    int seen[4] = {0};
    for (size_t i = 0; i < l->n; i++) {
        const struct rs_school *s = &l->v[i];
        cr_expect_eq(s->index, i);
        cr_expect_str_eq(rs_aliases_resolve(a, s->name), s->name, "%s does not resolve", s->name);
        cr_expect_str_eq(s->given_name, s->name);
        cr_expect(rs_schools_state_valid(s->state), "%s: %s", s->name, s->state);
        cr_expect(s->priority >= 1 && s->priority <= 3);
        seen[s->priority]++;
        cr_expect(strlen(s->slug) > 0 && strlen(s->slug) <= 64);
        cr_expect_eq(strspn(s->slug, "abcdefghijklmnopqrstuvwxyz0123456789-"), strlen(s->slug));
        for (size_t j = 0; j < i; j++)
            cr_expect_str_neq(l->v[j].slug, s->slug);
        cr_expect_eq(rs_schools_find(l, a, s->slug), s);
    }
    cr_expect(seen[1] > 0 && seen[2] > 0 && seen[3] > 0, "priorities should mix 1, 2 and 3");
    /* Realignment spot checks for 2026-27. */
    const struct { const char *who, *conf; } conf[] = {
        {"UCLA", "Big Ten"}, {"Oregon", "Big Ten"}, {"CU Boulder", "Big 12"}, {"Utah", "Big 12"},
        {"Stanford", "ACC"}, {"Cal", "ACC"}, {"Gonzaga", "Pac-12"}, {"Boise State", "Pac-12"},
        {"UNLV", "Mountain West"}, {"Air Force", "Mountain West"},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(conf); i++) {
        const struct rs_school *s = rs_schools_find(l, a, conf[i].who);
        cr_assert(s, "%s not found", conf[i].who);
        cr_expect_str_eq(s->conference, conf[i].conf, "%s", conf[i].who);
    }
    cr_expect_str_eq(rs_schools_find(l, a, "university of colorado boulder")->name, "University of Colorado");
    /* Every school carries its athletics site; all but the Air Force Academy their e-mail domain. */
    for (size_t i = 0; i < l->n; i++) {
        cr_expect(l->v[i].athletics_url && strncmp(l->v[i].athletics_url, "https://", 8) == 0, "%s", l->v[i].name);
        if (strcmp(l->v[i].name, "United States Air Force Academy") != 0)
            cr_expect_geq(l->v[i].nemail_domains, 1, "%s", l->v[i].name);
    }
    const struct rs_school *cu = rs_schools_find(l, a, "CU Boulder");
    cr_expect_str_eq(cu->athletics_url, "https://cubuffs.com");
    cr_assert_eq(cu->nemail_domains, 1);
    cr_expect_str_eq(cu->email_domains[0], "colorado.edu");
    l = rs_school_list_free(l);
    a = rs_aliases_free(a);
    cr_expect_null(l);
    free(lp);
    free(ap);
    rs_diags_deinit(&d);
}

Test(schools, four_problems_reported_in_one_run_with_positions)
{
    static const char text[] =
        "{\n"                                                                                    /* 1 */
        "  \"batch_name\": \"four\",\n"                                                          /* 2 */
        "  \"schools\": [\n"                                                                     /* 3 */
        "    {\"name\": \"University of Utah\", \"conference\": \"Big 12\", \"state\": \"UT\"},\n" /* 4 */
        "    {\"name\": \"Utah\", \"conference\": \"Big 12\", \"state\": \"UT\"},\n"               /* 5 */
        "    {\"name\": \"University of Colorado\", \"conference\": \"Big 12\", \"state\": \"CO\", "
        "\"priority\": 5},\n"                                                                    /* 6 */
        "    {\"name\": \"Stanford University\", \"state\": \"CA\"},\n"                           /* 7 */
        "    {\"name\": \"University of Oregon\", \"conference\": \"Big Ten\" \"state\": \"OR\"}\n" /* 8 */
        "  ]\n"
        "}\n";
    struct rs_aliases *a = small_aliases();
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    char *p;
    cr_assert_eq(load_text(text, a, &l, &d, &p), RS_SCHOOLS_E_INVALID);
    cr_expect_null(l);
    char *all = rs_diags_join(&d);
    cr_expect_eq(d.n, 4, "%s", all);

    char *want = rs_xasprintf("%s:5:5: schools[1] \"Utah\": duplicate of schools[0] \"University of Utah\" at "
                              "%s:4:5", p, p);
    expect_diag(&d, want);
    free(want);
    want = rs_xasprintf("%s:6:5: schools[2] \"University of Colorado\": priority must be 1, 2 or 3, got 5", p);
    expect_diag(&d, want);
    free(want);
    want = rs_xasprintf("%s:7:5: schools[3] \"Stanford University\": missing required field \"conference\"", p);
    expect_diag(&d, want);
    free(want);

    /* The syntax error sits where jansson itself puts it in the whole file. */
    json_error_t e;
    cr_assert_null(json_loadb(text, strlen(text), 0, &e));
    want = rs_xasprintf("%s:%d:%d: schools[4]: JSON syntax error: %s", p, e.line, e.column, e.text);
    cr_expect_eq(e.line, 8);
    expect_diag(&d, want);
    free(want);

    free(all);
    free(p);
    rs_aliases_free(a);
    rs_diags_deinit(&d);
}

Test(schools, syntax_error_outside_the_array_and_in_elements)
{
    /* A broken batch_name, a trailing comma and an element with a bare
     * word: all reported, good elements still validated. */
    static const char text[] =
        "{\"batch_name\": nope,\n"
        " \"schools\": [\n"
        "  {\"name\": \"A\", \"conference\": \"X\", \"state\": \"ZZ\"},\n"
        "  {\"name\": \"B\", \"conference\": X, \"state\": \"CA\"},\n"
        "  {\"name\": \"C\", \"conference\": \"X\", \"state\": \"CA\"},\n"
        " ]\n"
        "}\n";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    char *p;
    cr_assert_eq(load_text(text, NULL, &l, &d, &p), RS_SCHOOLS_E_INVALID);
    char *all = rs_diags_join(&d);
    cr_expect_eq(d.n, 4, "%s", all);
    char *w = rs_xasprintf("%s:1:", p);
    cr_expect(diag_with(&d, w) && strstr(diag_with(&d, w), "JSON syntax error"), "%s", all);
    free(w);
    w = rs_xasprintf("%s:3:3: schools[0] \"A\": state \"ZZ\"", p);
    expect_diag(&d, w);
    free(w);
    w = rs_xasprintf("%s:4:", p);
    cr_expect(diag_with(&d, w) && strstr(diag_with(&d, w), "schools[1]: JSON syntax error"), "%s", all);
    free(w);
    w = rs_xasprintf("%s:6:2: schools[3]: JSON syntax error: empty element", p);
    expect_diag(&d, w);
    free(w);
    free(all);
    free(p);
    rs_diags_deinit(&d);
}

Test(schools, scanner_resyncs_after_unbalanced_quote_and_missing_comma)
{
    /* One missing quote hides the element's '}' and ','; a missing comma
     * joins two elements. The scanner resynchronises on the line layout, so
     * every other element is still validated at its own position. */
    static const char text[] = "{\"schools\": [\n"
                               "  {\"name\": \"A\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 4},\n"
                               "  {\"name\": \"B, \"conference\": \"X\", \"state\": \"CA\"},\n"
                               "  {\"name\": \"C\", \"conference\": \"X\", \"state\": \"ZZ\"}\n"
                               "  {\"name\": \"D\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 0}\n"
                               "]}\n";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text(text, NULL, &l, &d, NULL), RS_SCHOOLS_E_INVALID);
    char *all = rs_diags_join(&d);
    cr_expect_eq(d.n, 5, "%s", all);
    expect_diag(&d, ":2:3: schools[0] \"A\": priority must be 1, 2 or 3, got 4");
    expect_diag(&d, "list.json:3:");
    cr_expect(strstr(diag_with(&d, "list.json:3:"), "schools[1]: JSON syntax error"), "%s", all);
    expect_diag(&d, ":4:3: schools[2] \"C\": state \"ZZ\"");
    expect_diag(&d, ":5:3: schools[3]: JSON syntax error: ',' expected before this element");
    expect_diag(&d, ":5:3: schools[3] \"D\": priority must be 1, 2 or 3, got 0");
    free(all);
    rs_diags_deinit(&d);
}

Test(schools, unterminated_document_still_reports)
{
    static const char text[] = "{\"schools\": [{\"name\": \"A\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 9},\n"
                               "  {\"name\": \"B\"";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text(text, NULL, &l, &d, NULL), RS_SCHOOLS_E_INVALID);
    char *all = rs_diags_join(&d);
    expect_diag(&d, ":1:14: schools[0] \"A\": priority must be 1, 2 or 3, got 9");
    expect_diag(&d, "schools[1]: JSON syntax error");
    free(all);
    rs_diags_deinit(&d);

    /* Not even an object: jansson's error with its position. */
    rs_diags_init(&d);
    cr_assert_eq(load_text("\n  [1, 2", NULL, &l, &d, NULL), RS_SCHOOLS_E_INVALID);
    cr_expect_eq(d.n, 1);
    expect_diag(&d, ":2:");
    expect_diag(&d, "JSON syntax error");
    rs_diags_deinit(&d);
}

Test(schools, unknown_name_gets_did_you_mean)
{
    struct rs_aliases *a = small_aliases();
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text("{\"schools\": [\n"
                           "  {\"name\": \"Univercity of Utah\", \"conference\": \"Big 12\", \"state\": \"UT\"},\n"
                           "  {\"name\": \"Standford\", \"conference\": \"ACC\", \"state\": \"CA\"},\n"
                           "  {\"name\": \"Harvard University\", \"conference\": \"Ivy\", \"state\": \"MA\"}\n"
                           "]}\n",
                           a, &l, &d, NULL),
                 RS_SCHOOLS_E_INVALID);
    cr_expect_eq(d.n, 3);
    expect_diag(&d, ":2:3: schools[0] \"Univercity of Utah\": unknown school; did you mean \"University of Utah\"?");
    expect_diag(&d, ":3:3: schools[1] \"Standford\": unknown school; did you mean \"Stanford\" (Stanford University)?");
    expect_diag(&d, ":4:3: schools[2] \"Harvard University\": unknown school");
    rs_aliases_free(a);
    rs_diags_deinit(&d);
}

Test(schools, empty_alias_table_accepts_every_name)
{
    struct rs_aliases *a = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_assert_eq(rs_aliases_load(NULL, &a, &d), 0);
    cr_expect(rs_aliases_empty(a));
    cr_expect_null(rs_aliases_resolve(a, "Anything"));
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text("{\"schools\": [{\"name\": \"Harvard University\", \"conference\": \"Ivy\", "
                           "\"state\": \"MA\"}]}",
                           a, &l, &d, NULL),
                 0);
    cr_expect_str_eq(l->v[0].name, "Harvard University");
    cr_expect_null(l->batch_name);
    rs_school_list_free(l);
    rs_aliases_free(a);

    char *p = fixture("empty.json", "{}");
    cr_assert_eq(rs_aliases_load(p, &a, &d), 0);
    cr_expect(rs_aliases_empty(a));
    rs_aliases_free(a);
    free(p);
    cr_expect_eq(d.n, 0);
    rs_diags_deinit(&d);
}

Test(schools, duplicate_by_alias_names_both_entries)
{
    struct rs_aliases *a = small_aliases();
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    char *p;
    cr_assert_eq(load_text("{\"schools\": [\n"
                           "  {\"name\": \"CU Boulder\", \"conference\": \"Big 12\", \"state\": \"CO\"},\n"
                           "  {\"name\": \"UCLA\", \"conference\": \"Big Ten\", \"state\": \"CA\"},\n"
                           "  {\"name\": \"university of  colorado\", \"conference\": \"Big 12\", \"state\": \"CO\"}\n"
                           "]}\n",
                           a, &l, &d, &p),
                 RS_SCHOOLS_E_INVALID);
    cr_expect_eq(d.n, 1);
    char *w = rs_xasprintf("%s:4:3: schools[2] \"university of  colorado\": duplicate of schools[0] \"CU Boulder\" at "
                           "%s:2:3 (both are \"University of Colorado\")",
                           p, p);
    expect_diag(&d, w);
    free(w);
    free(p);
    rs_aliases_free(a);
    rs_diags_deinit(&d);
}

Test(schools, alias_file_conflicts)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_aliases *a = NULL;
    char *p = fixture("aliases.json", "{\n"
                                      "  \"University of Utah\": [\"Utah\", \"U\"],\n"
                                      "  \"Utah State University\": [\"utah\", \"Utah State\"],\n"
                                      "  \"University of Colorado\": [\"Colorado\", \"UTAH STATE UNIVERSITY\"],\n"
                                      "  \"Stanford University\": [\"Stanford\", \"stanford university\"]\n"
                                      "}\n");
    cr_assert_eq(rs_aliases_load(p, &a, &d), RS_SCHOOLS_E_INVALID);
    cr_expect_null(a);
    char *all = rs_diags_join(&d);
    cr_expect_eq(d.n, 2, "%s", all);
    char *w = rs_xasprintf("%s:3:29: alias \"utah\" maps to two canonical names: \"Utah State University\" and "
                           "\"University of Utah\" (%s:2:3)",
                           p, p);
    expect_diag(&d, w);
    free(w);
    w = rs_xasprintf("%s:4:42: \"University of Colorado\": alias \"UTAH STATE UNIVERSITY\" is the canonical name "
                     "\"Utah State University\" (%s:3:3)",
                     p, p);
    expect_diag(&d, w);
    free(w);
    free(all);
    free(p);
    rs_diags_deinit(&d);

    /* Schema errors of the alias file. */
    rs_diags_init(&d);
    p = fixture("aliases2.json", "{\"A\": \"B\", \"C\": [1, \"\"], \"\": [\"x\"]}");
    cr_assert_eq(rs_aliases_load(p, &a, &d), RS_SCHOOLS_E_INVALID);
    cr_expect_eq(d.n, 4);
    expect_diag(&d, ":1:2: \"A\": the aliases must be an array of strings, got a string");
    expect_diag(&d, ":1:18: \"C\": alias 0 must be a string, got an integer");
    expect_diag(&d, ":1:21: an alias must not be empty");
    expect_diag(&d, ":1:26: a canonical name must not be empty");
    free(p);
    rs_diags_deinit(&d);

    rs_diags_init(&d);
    p = fixture("aliases3.json", "{\"A\": [\"x\"],\n \"A\": []}");
    cr_assert_eq(rs_aliases_load(p, &a, &d), RS_SCHOOLS_E_INVALID);
    expect_diag(&d, ":2:4: JSON syntax error: duplicate object key");
    free(p);
    rs_diags_deinit(&d);
}

Test(schools, slugify_edge_cases)
{
    const struct { const char *in, *out; } cases[] = {
        {"../../etc/passwd", "etc-passwd"},
        {"", "school"},
        {"..", "school"},
        {".", "school"},
        {"/", "school"},
        {"---", "school"},
        {"Université de Montréal", "universit-de-montr-al"},
        {"東京大学", "school"},
        {"École 42", "cole-42"},
        {"University of California, Los Angeles", "university-of-california-los-angeles"},
        {"  Texas A&M  ", "texas-a-m"},
        {"St. Mary's College of California", "st-mary-s-college-of-california"},
        {"UPPER lower 123", "upper-lower-123"},
        {"a\tb\nc\x01" "d", "a-b-c-d"},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        char *s = rs_slugify(cases[i].in);
        cr_expect_str_eq(s, cases[i].out, "[%s]", cases[i].in);
        free(s);
    }
    char *s = rs_slugify(NULL);
    cr_expect_str_eq(s, "school");
    free(s);

    /* Very long: at most 64, no trailing '-', cut at the limit. */
    char long_name[1000];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    long_name[64] = ' ';
    s = rs_slugify(long_name);
    cr_expect_eq(strlen(s), 64);
    free(s);
    long_name[63] = ' ';
    s = rs_slugify(long_name);
    cr_expect_eq(strlen(s), 63, "trailing '-' trimmed after the cut: %s", s);
    free(s);
    for (int i = 0; i < 500; i++)
        memcpy(long_name + 2 * i, "a/", 2);
    long_name[998] = '\0';
    s = rs_slugify(long_name);
    cr_expect_leq(strlen(s), 64);
    cr_expect_null(strchr(s, '/'));
    cr_expect_neq(s[strlen(s) - 1], '-');
    free(s);
}

Test(schools, slug_collisions_get_suffixes_in_list_order)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text("{\"schools\": [\n"
                           "  {\"name\": \"Foo Bar\", \"conference\": \"X\", \"state\": \"CA\"},\n"
                           "  {\"name\": \"Foo-Bar\", \"conference\": \"X\", \"state\": \"CA\"},\n"
                           "  {\"name\": \"Foo Bar 2\", \"conference\": \"X\", \"state\": \"CA\"},\n"
                           "  {\"name\": \"Foo/Bar\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 1},\n"
                           "  {\"name\": \"..\", \"conference\": \"X\", \"state\": \"CA\"},\n"
                           "  {\"name\": \"Š\", \"conference\": \"X\", \"state\": \"CA\"}\n"
                           "]}\n",
                           NULL, &l, &d, NULL),
                 0, "%s", rs_diags_join(&d));
    const char *want[] = {"foo-bar", "foo-bar-3", "foo-bar-2", "foo-bar-4", "school", "school-2"};
    cr_assert_eq(l->n, RS_ARRAY_SIZE(want));
    for (size_t i = 0; i < l->n; i++)
        cr_expect_str_eq(l->v[i].slug, want[i], "school %zu", i);
    /* Sorting keeps each school's slug. */
    rs_schools_sort(l, RS_ORDER_PRIORITY);
    cr_expect_str_eq(l->v[0].name, "Foo/Bar");
    cr_expect_str_eq(l->v[0].slug, "foo-bar-4");
    cr_expect_str_eq(rs_schools_find(l, NULL, "FOO-BAR-3")->name, "Foo-Bar");
    rs_school_list_free(l);

    /* Long names colliding after the 64-byte cut keep the suffix inside 64. */
    char *text = rs_xasprintf("{\"schools\": [{\"name\": \"%s a\", \"conference\": \"X\", \"state\": \"CA\"},"
                              "{\"name\": \"%s b\", \"conference\": \"X\", \"state\": \"CA\"}]}",
                              "The Extraordinarily Long Named Institute of Technology and Fine Arts",
                              "The Extraordinarily Long Named Institute of Technology and Fine Arts");
    cr_assert_eq(load_text(text, NULL, &l, &d, NULL), 0);
    cr_expect_str_eq(l->v[0].slug, "the-extraordinarily-long-named-institute-of-technology-and-fine");
    cr_expect_str_eq(l->v[1].slug, "the-extraordinarily-long-named-institute-of-technology-and-fin-2");
    cr_expect_eq(strlen(l->v[1].slug), 64);
    rs_school_list_free(l);
    free(text);
    rs_diags_deinit(&d);
}

Test(schools, priority_order_is_stable_and_default_is_2)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text("{\"schools\": [\n"
                           "  {\"name\": \"A\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 3},\n"
                           "  {\"name\": \"B\", \"conference\": \"X\", \"state\": \"CA\"},\n"
                           "  {\"name\": \"C\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 1},\n"
                           "  {\"name\": \"D\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 2},\n"
                           "  {\"name\": \"E\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 1},\n"
                           "  {\"name\": \"F\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 3},\n"
                           "  {\"name\": \"G\", \"conference\": \"X\", \"state\": \"CA\", \"extra\": {\"x\": [1]}}\n"
                           "]}\n",
                           NULL, &l, &d, NULL),
                 0, "%s", rs_diags_join(&d));
    cr_expect_eq(l->v[1].priority, 2);
    cr_expect_eq(l->v[6].priority, 2);
    rs_schools_sort(l, RS_ORDER_PRIORITY);
    char got[16] = {0};
    for (size_t i = 0; i < l->n; i++)
        got[i] = l->v[i].name[0];
    cr_expect_str_eq(got, "CEBDGAF");
    rs_schools_sort(l, RS_ORDER_LIST);
    for (size_t i = 0; i < l->n; i++)
        got[i] = l->v[i].name[0];
    cr_expect_str_eq(got, "ABCDEFG");
    rs_school_list_free(l);
    rs_diags_deinit(&d);
}

Test(schools, bad_field_types_and_priorities)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text("{\"batch_name\": 7, \"schools\": [\n"
                           "  {\"name\": \"A\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 1.0},\n"
                           "  {\"name\": \"B\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": \"high\"},\n"
                           "  {\"name\": \"C\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 0},\n"
                           "  {\"name\": 42, \"conference\": \"\", \"state\": \"CA\"},\n"
                           "  \"just a string\"\n"
                           "]}\n",
                           NULL, &l, &d, NULL),
                 RS_SCHOOLS_E_INVALID);
    char *all = rs_diags_join(&d);
    cr_expect_eq(d.n, 7, "%s", all);
    expect_diag(&d, ":1:2: \"batch_name\" must be a string");
    expect_diag(&d, ":2:3: schools[0] \"A\": priority must be 1, 2 or 3, got 1");
    expect_diag(&d, ":3:3: schools[1] \"B\": priority must be 1, 2 or 3, got \"high\"");
    expect_diag(&d, ":4:3: schools[2] \"C\": priority must be 1, 2 or 3, got 0");
    expect_diag(&d, ":5:3: schools[3]: \"name\" must be a string, got an integer");
    expect_diag(&d, ":5:3: schools[3]: \"conference\" must not be empty");
    expect_diag(&d, ":6:3: schools[4]: must be an object, got a string");
    free(all);
    rs_diags_deinit(&d);

    rs_diags_init(&d);
    cr_assert_eq(load_text("{\"schools\": []}", NULL, &l, &d, NULL), RS_SCHOOLS_E_INVALID);
    expect_diag(&d, ":1:2: \"schools\" is empty");
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    cr_assert_eq(load_text("{\"batch\": 1}", NULL, &l, &d, NULL), RS_SCHOOLS_E_INVALID);
    expect_diag(&d, "missing required field \"schools\"");
    rs_diags_deinit(&d);
}

Test(schools, missing_and_bad_states)
{
    cr_expect(rs_schools_state_valid("CO"));
    cr_expect(rs_schools_state_valid("DC"));
    cr_expect(rs_schools_state_valid("PR"));
    cr_expect(!rs_schools_state_valid("co"));
    cr_expect(!rs_schools_state_valid("XX"));
    cr_expect(!rs_schools_state_valid(""));
    cr_expect(!rs_schools_state_valid(NULL));

    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text("{\"schools\": [\n"
                           "  {\"name\": \"A\", \"conference\": \"X\"},\n"
                           "  {\"name\": \"B\", \"conference\": \"X\", \"state\": \"Colorado\"},\n"
                           "  {\"name\": \"C\", \"conference\": \"X\", \"state\": \"co\"},\n"
                           "  {\"name\": \"D\", \"conference\": \"X\", \"state\": \"XX\"},\n"
                           "  {\"name\": \"E\", \"conference\": \"X\", \"state\": null}\n"
                           "]}\n",
                           NULL, &l, &d, NULL),
                 RS_SCHOOLS_E_INVALID);
    cr_expect_eq(d.n, 5);
    expect_diag(&d, ":2:3: schools[0] \"A\": missing required field \"state\"");
    expect_diag(&d, ":3:3: schools[1] \"B\": state \"Colorado\" is not a USPS code; did you mean \"CO\" (Colorado)?");
    expect_diag(&d, ":4:3: schools[2] \"C\": state \"co\" is not a USPS code; did you mean \"CO\"");
    expect_diag(&d, ":5:3: schools[3] \"D\": state \"XX\" is not a USPS state or territory code");
    expect_diag(&d, ":6:3: schools[4] \"E\": \"state\" must be a string, got null");
    rs_diags_deinit(&d);
}

Test(schools, files_over_the_cap_are_refused)
{
    char *p = rs_path_join(tmpdir, "big.json");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)RS_SCHOOLS_MAX_BYTES + 1), 0);
    close(fd);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    struct rs_aliases *a = NULL;
    cr_expect_eq(rs_schools_load(p, NULL, &l, &d), RS_SCHOOLS_E_INVALID);
    cr_expect_null(l);
    cr_expect_eq(rs_aliases_load(p, &a, &d), RS_SCHOOLS_E_INVALID);
    cr_expect_null(a);
    cr_assert_eq(d.n, 2);
    char *w = rs_xasprintf("%s: file is larger than 16 MiB", p);
    cr_expect(strstr(d.msgs[0], w) == d.msgs[0], "%s", d.msgs[0]);
    cr_expect(strstr(d.msgs[1], w) == d.msgs[1], "%s", d.msgs[1]);
    free(w);
    rs_diags_deinit(&d);
    free(p);

    /* A missing file is an errno, not a data problem. */
    rs_diags_init(&d);
    cr_expect_eq(rs_schools_load("/nonexistent/list.json", NULL, &l, &d), -ENOENT);
    cr_expect_eq(rs_aliases_load("/nonexistent/aliases.json", &a, &d), -ENOENT);
    rs_diags_deinit(&d);
}

Test(schools, problems_are_capped_and_counted)
{
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "{\"schools\": [");
    for (int i = 0; i < 250; i++)
        rs_buf_printf(&b, "%s{\"name\": \"S%d\", \"conference\": \"X\", \"state\": \"CA\", \"priority\": 7}",
                      i ? ",\n" : "", i);
    rs_buf_puts(&b, "]}");
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(rs_schools_parse(b.data, b.len, "mem.json", NULL, &l, &d), RS_SCHOOLS_E_INVALID);
    cr_expect_eq(d.n, 101);
    cr_expect_str_eq(d.msgs[100], "mem.json: 150 more problems not listed");
    cr_expect(strstr(d.msgs[99], "mem.json:100:1: schools[99] \"S99\"") == d.msgs[99], "%s", d.msgs[99]);
    rs_diags_deinit(&d);
    rs_buf_deinit(&b);
}

Test(schools, find_by_name_alias_and_slug)
{
    struct rs_aliases *a = small_aliases();
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text("{\"schools\": [\n"
                           "  {\"name\": \"Colorado\", \"conference\": \"Big 12\", \"state\": \"CO\"},\n"
                           "  {\"name\": \"University of Utah\", \"conference\": \"Big 12\", \"state\": \"UT\"}\n"
                           "]}\n",
                           a, &l, &d, NULL),
                 0);
    const struct rs_school *s = &l->v[0];
    cr_expect_str_eq(s->name, "University of Colorado");
    cr_expect_str_eq(s->given_name, "Colorado");
    cr_expect_str_eq(s->slug, "university-of-colorado");
    cr_expect_eq(rs_schools_find(l, a, "CU BOULDER"), s);
    cr_expect_eq(rs_schools_find(l, a, "university of colorado"), s);
    cr_expect_eq(rs_schools_find(l, a, "University-Of-Colorado"), s);
    cr_expect_eq(rs_schools_find(l, a, "U of U"), &l->v[1]);
    cr_expect_null(rs_schools_find(l, a, "Stanford"));
    cr_expect_null(rs_schools_find(l, a, NULL));
    cr_expect_str_eq(rs_aliases_resolve(a, "  cu   boulder "), "University of Colorado");
    cr_expect_null(rs_aliases_resolve(a, "CU"));
    rs_school_list_free(l);
    rs_aliases_free(a);
    rs_diags_deinit(&d);
}

/* Some editors save JSON with a UTF-8 byte order mark: skipped, positions unchanged. */
Test(schools, byte_order_mark_is_skipped_in_list_and_aliases)
{
    struct rs_diags d;
    rs_diags_init(&d);
    char *ap = fixture("bom-aliases.json", "\xEF\xBB\xBF{\"University of Utah\": [\"Utah\"]}\n");
    struct rs_aliases *a = NULL;
    cr_assert_eq(rs_aliases_load(ap, &a, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_str_eq(rs_aliases_resolve(a, "utah"), "University of Utah");
    struct rs_school_list *l = NULL;
    char *p;
    int r = load_text("\xEF\xBB\xBF{\"batch_name\": \"b\", \"schools\": [\n"
                      "  {\"name\": \"Utah\", \"conference\": \"Big 12\", \"state\": \"UT\"},\n"
                      "  {\"name\": \"Bad State U\", \"conference\": \"X\", \"state\": \"ZZ\"}\n]}\n",
                      a, &l, &d, &p);
    cr_expect_eq(r, RS_SCHOOLS_E_INVALID);
    char *all = rs_diags_join(&d);
    cr_expect_eq(d.n, 2, "only the bad entry (unknown name, bad state):\n%s", all);
    free(all);
    /* Positions count from the first character after the mark. */
    char *w = rs_xasprintf("%s:3:3: schools[1] \"Bad State U\": state \"ZZ\"", p);
    expect_diag(&d, w);
    free(w);
    free(p);
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    cr_assert_eq(load_text("\xEF\xBB\xBF{\"schools\": [{\"name\": \"Utah\", \"conference\": \"Big 12\", \"state\": \"UT\"}]}",
                           a, &l, &d, NULL),
                 0, "%s", d.n ? d.msgs[0] : "");
    cr_assert_eq(l->n, 1);
    cr_expect_str_eq(l->v[0].name, "University of Utah");
    rs_school_list_free(l);
    rs_aliases_free(a);
    free(ap);
    rs_diags_deinit(&d);
}

/* An invisible character in a message is named, not printed as nothing. */
Test(schools, invisible_characters_are_named_in_messages)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    /* A second mark (two files pasted together) is a syntax error. */
    cr_expect_eq(load_text("\xEF\xBB\xBF\xEF\xBB\xBF{\"schools\": []}", NULL, &l, &d, NULL), RS_SCHOOLS_E_INVALID);
    expect_diag(&d, "JSON syntax error: '[' or '{' expected near '<U+FEFF (byte order mark)>'");
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    char *ap = fixture("bom2-aliases.json", "\xEF\xBB\xBF\xEF\xBB\xBF{}");
    struct rs_aliases *a = NULL;
    cr_expect_eq(rs_aliases_load(ap, &a, &d), RS_SCHOOLS_E_INVALID);
    expect_diag(&d, "bom2-aliases.json:1:1: JSON syntax error: '[' or '{' expected near '<U+FEFF (byte order mark)>'");
    free(ap);
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    /* A control character inside a name. */
    cr_expect_eq(load_text("{\"schools\": [{\"name\": \"A\\u0001U\", \"conference\": \"X\", \"state\": \"CO\"}]}", NULL, &l,
                           &d, NULL),
                 RS_SCHOOLS_E_INVALID);
    expect_diag(&d, "\"A<U+0001>U\"");
    rs_diags_deinit(&d);
}

Test(schools, athletics_url_and_email_domains)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_school_list *l = NULL;
    cr_assert_eq(load_text("{\"schools\": [\n"
                           "  {\"name\": \"A\", \"conference\": \"X\", \"state\": \"CO\", \"athletics_url\": "
                           "\"https://cubuffs.com\", \"email_domains\": [\"colorado.edu\", \"cubuffs.com\"]},\n"
                           "  {\"name\": \"B\", \"conference\": \"X\", \"state\": \"CO\"}\n"
                           "]}\n",
                           NULL, &l, &d, NULL),
                 0, "%s", rs_diags_join(&d));
    cr_expect_str_eq(l->v[0].athletics_url, "https://cubuffs.com");
    cr_assert_eq(l->v[0].nemail_domains, 2);
    cr_expect_str_eq(l->v[0].email_domains[0], "colorado.edu");
    cr_expect_str_eq(l->v[0].email_domains[1], "cubuffs.com");
    cr_expect_null(l->v[0].email_domains[2]);
    cr_expect_null(l->v[1].athletics_url);
    cr_expect_eq(l->v[1].nemail_domains, 0);
    rs_school_list_free(l);
    l = NULL;
    rs_diags_deinit(&d);

    rs_diags_init(&d);
    cr_assert_eq(load_text("{\"schools\": [\n"
                           "  {\"name\": \"A\", \"conference\": \"X\", \"state\": \"CO\", \"athletics_url\": "
                           "\"http://cubuffs.com\"},\n"
                           "  {\"name\": \"B\", \"conference\": \"X\", \"state\": \"CO\", \"athletics_url\": 3},\n"
                           "  {\"name\": \"C\", \"conference\": \"X\", \"state\": \"CO\", \"athletics_url\": "
                           "\"https://not a host/\"},\n"
                           "  {\"name\": \"D\", \"conference\": \"X\", \"state\": \"CO\", \"email_domains\": "
                           "\"colorado.edu\"},\n"
                           "  {\"name\": \"E\", \"conference\": \"X\", \"state\": \"CO\", \"email_domains\": "
                           "[\"colorado.edu\", \"@colorado.edu\", 7]}\n"
                           "]}\n",
                           NULL, &l, &d, NULL),
                 RS_SCHOOLS_E_INVALID);
    char *all = rs_diags_join(&d);
    cr_expect_eq(d.n, 6, "%s", all);
    expect_diag(&d, ":2:3: schools[0] \"A\": \"athletics_url\" must be an https URL (\"https://cubuffs.com\"), got "
                    "\"http://cubuffs.com\"");
    expect_diag(&d, ":3:3: schools[1] \"B\": \"athletics_url\" must be an https URL (\"https://cubuffs.com\"), got 3");
    expect_diag(&d, ":4:3: schools[2] \"C\": \"athletics_url\" must be an https URL");
    expect_diag(&d, ":5:3: schools[3] \"D\": \"email_domains\" must be an array of at most 16 domain names, got a "
                    "string");
    expect_diag(&d, ":6:3: schools[4] \"E\": email_domains[1] must be a domain name (\"colorado.edu\"), got "
                    "\"@colorado.edu\"");
    expect_diag(&d, ":6:3: schools[4] \"E\": email_domains[2] must be a domain name (\"colorado.edu\"), got 7");
    free(all);
    rs_diags_deinit(&d);
}

Test(schools, aliases_of_a_canonical_name)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_aliases *a = NULL;
    const char *t = "{\"University of Colorado\": [\"CU Boulder\", \"Colorado\"], \"University of Utah\": [\"Utah\"]}";
    cr_assert_eq(rs_aliases_parse(t, strlen(t), "a.json", &a, &d), 0, "%s", rs_diags_join(&d));
    const char *out[4];
    cr_assert_eq(rs_aliases_of(a, "university of colorado", out, 4), 2);
    cr_expect_str_eq(out[0], "CU Boulder");
    cr_expect_str_eq(out[1], "Colorado");
    cr_expect_eq(rs_aliases_of(a, "University of Utah", out, 0), 1, "counts beyond @max");
    cr_expect_eq(rs_aliases_of(a, "Nowhere", out, 4), 0);
    cr_expect_eq(rs_aliases_of(NULL, "Nowhere", out, 4), 0);
    rs_aliases_free(a);
    rs_diags_deinit(&d);
}
