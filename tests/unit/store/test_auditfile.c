/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for auditfile.c: audit.json round-trips through save and load,
 * counts per result class, `--school` merging (drop), lookup, and a strict
 * load whose problems name their field.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/base/util.h"
#include "ralphsup/store/auditfile.h"

static struct rs_auditfile *sample(void)
{
    struct rs_auditfile *f = rs_auditfile_new("demo");
    f->started_ms = 1764000000000;
    f->finished_ms = 1764000005000;
    const char *res[] = {"verified", "quote-not-found", "unreachable (HTTP 404)", "verified"};
    const char *school[] = {"Alpha U", "Alpha U", "Beta C", "Beta C"};
    for (int i = 0; i < 4; i++) {
        struct rs_audit_lead *l = rs_auditfile_add(f);
        l->school = rs_xstrdup(school[i]);
        l->coach = rs_xasprintf("Coach %d", i);
        l->csv = rs_xstrdup("output/x.csv");
        l->row = i + 2;
        l->evidence_url = rs_xasprintf("https://example.edu/%d", i);
        l->evidence_quote = rs_xstrdup("hosted a \"drive\"");
        l->result = rs_xstrdup(res[i]);
        l->http_status = i == 2 ? 404 : 200;
        l->final_url = rs_xstrdup(l->evidence_url);
        l->fetched_ms = 1764000001000 + i;
        l->bytes = 100 * i;
        l->truncated = i == 3;
    }
    return f;
}

Test(auditfile, round_trip_and_counts)
{
    char dir[] = "/tmp/rs-auditfile.XXXXXX";
    cr_assert(mkdtemp(dir));
    char *path = rs_xasprintf("%s/out/audit.json", dir);
    struct rs_auditfile *f = sample();
    cr_assert_eq(rs_auditfile_save(f, path), 0);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_auditfile *g = NULL;
    cr_assert_eq(rs_auditfile_load(path, &g, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_assert_eq(g->n, 4);
    cr_expect_str_eq(g->batch, "demo");
    cr_expect_eq(g->finished_ms, 1764000005000);
    cr_expect_str_eq(g->leads[2].result, "unreachable (HTTP 404)");
    cr_expect_eq(g->leads[2].http_status, 404);
    cr_expect_str_eq(g->leads[1].evidence_quote, "hosted a \"drive\"");
    cr_expect(g->leads[3].truncated);
    cr_expect_eq(g->leads[3].bytes, 300);
    size_t c[RS_EVIDENCE_NRESULTS];
    cr_expect_eq(rs_auditfile_counts(g, c), 4);
    cr_expect_eq(c[RS_EVIDENCE_VERIFIED], 2);
    cr_expect_eq(c[RS_EVIDENCE_QUOTE_NOT_FOUND], 1);
    cr_expect_eq(c[RS_EVIDENCE_UNREACHABLE], 1);
    cr_expect_eq(c[RS_EVIDENCE_NAME_NOT_FOUND], 0);
    char *a = rs_auditfile_format(f), *b = rs_auditfile_format(g);
    cr_expect_str_eq(a, b, "load(save(x)) formats as x");
    cr_expect(strstr(a, "\"counts\": {\n    \"verified\": 2,"), "%s", a);
    free(a);
    free(b);

    const struct rs_audit_lead *l = rs_auditfile_find(g, "Beta C", "Coach 3");
    cr_assert(l);
    cr_expect_str_eq(l->result, "verified");
    cr_expect_null(rs_auditfile_find(g, "Alpha U", "Coach 3"));
    cr_expect_eq(rs_auditfile_drop_school(g, "Alpha U"), 2);
    cr_expect_eq(g->n, 2);
    cr_expect_str_eq(g->leads[0].coach, "Coach 2");
    rs_auditfile_free(g);
    rs_auditfile_free(f);
    cr_expect_eq(rs_auditfile_load("/nonexistent/audit.json", &g, &d), RS_AUDITFILE_E_NOT_FOUND);
    rs_diags_deinit(&d);
    unlink(path);
    free(path);
}

Test(auditfile, strict_load_names_the_field)
{
    struct { const char *json, *want; } cases[] = {
        {"[]", "(top level): must be an object"},
        {"{\"schema_version\": 2, \"leads\": []}", "schema_version: must be 1"},
        {"{\"schema_version\": 1}", "leads: must be an array"},
        {"{\"schema_version\": 1, \"leads\": [{\"school\": \"A\", \"coach\": \"B\", \"result\": \"fine\"}]}",
         "leads[0].result: must be verified"},
        {"{\"schema_version\": 1, \"leads\": [{\"coach\": \"B\", \"result\": \"verified\"}]}",
         "leads[0].school: must be a string"},
        {"{\"schema_version\": 1, \"leads\": [{\"school\": \"A\", \"coach\": \"B\", \"result\": \"verified\", "
         "\"http_status\": \"200\"}]}",
         "leads[0].http_status: must be a whole number"},
        {"{\"schema_version\": 1, \"leads\": [{\"school\": \"A\", \"coach\": \"B\", \"result\": \"verified\", "
         "\"fetched_at\": \"yesterday\"}]}",
         "leads[0].fetched_at: must be an ISO 8601"},
        {"{\"schema_version\": 1, \"leads\": [", "audit.json:1:"},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        struct rs_diags d;
        rs_diags_init(&d);
        struct rs_auditfile *f = NULL;
        int r = rs_auditfile_parse(cases[i].json, strlen(cases[i].json), "audit.json", &f, &d);
        cr_expect_eq(r, RS_AUDITFILE_E_INVALID, "case %zu", i);
        cr_expect_null(f);
        char *all = rs_diags_join(&d);
        cr_expect(all && strstr(all, cases[i].want), "case %zu: got \"%s\", want \"%s\"", i, all ? all : "",
                  cases[i].want);
        free(all);
        rs_diags_deinit(&d);
    }
}
