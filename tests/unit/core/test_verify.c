/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for verify.c: one table of CSVs, each with the verdict the lead
 * contract gives it (accepted, or the exact first reason), at level "leads";
 * then the file checks (assigned path, freshness), level "counts", the
 * yes-share review flag, the caps on how many reasons are kept, and the URL,
 * address and domain predicates on their own.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/core/verify.h"
#include "ralphsup/base/util.h"

#define HDR "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url," \
            "evidence_url,evidence_quote,evidence_date,evidence_type,confidence,overlap_checked\n"
#define DIR_URL "https://utahutes.com/staff-directory"
#define NO_ROW(name, email) "University of Utah," name ",Head Coach,Soccer," email ",,no,," DIR_URL ",,,,,,none\n"
#define YES_ROW(name) "University of Utah," name ",Head Coach,Swimming,,,yes,Hosted a drive," DIR_URL \
    ",https://utahutes.com/news/2024/3/1/swim-drive.aspx,\"Coach " name " hosted a Be The Match drive\",2024-03-01,host,high,coach\n"

static const char *const aliases[] = {"Utah"};
static const char *const domains[] = {"utah.edu", "utahutes.com"};

static struct rs_verify_opts leads_opts(void)
{
    return (struct rs_verify_opts){
        .level = RS_VERIFY_LEADS,
        .max_yes_share = 0.5,
        .school = "University of Utah",
        .aliases = aliases,
        .naliases = 1,
        .email_domains = domains,
        .nemail_domains = 2,
        .csv_shown = "output/university-of-utah.csv",
    };
}

struct row_case {
    const char *name;
    const char *csv;
    const char *reason; /* NULL: accepted; else the whole reason */
    size_t rows, overlaps;
};

static const struct row_case cases[] = {
    {"good: one yes, two no", HDR YES_ROW("Ann Lee") NO_ROW("Bo Diaz", "bdiaz@utah.edu") NO_ROW("Cy Park", ""), NULL, 3,
     1},
    {"good: alias, spacing and case in school", HDR "  utah ,Bo Diaz,Coach,Golf,,,no,," DIR_URL ",,,,,,school\n", NULL,
     1, 0},
    {"good: subdomain email, no date", HDR
     "University of Utah,Ann Lee,Coach,Golf,ann@athletics.utah.edu,,yes,x," DIR_URL
     ",https://www.ksl.com/article/1,\"quote\",,donor,medium,coach\n" NO_ROW("Bo Diaz", "") NO_ROW("Cy Park", ""),
     NULL, 3, 1},
    {"header only", HDR, "the CSV has a header but no rows (list the coaches; a school without any is a RALPH_FAILED)",
     0, 0},
    {"empty file", "", "the CSV is empty (no header row)", 0, 0},
    {"nine-column header",
     "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n"
     "University of Utah,Bo Diaz,Coach,Golf,,,no,,x\n",
     "header: missing column \"evidence_url\" after \"source_url\" (the header is exactly school,coach_name,title,sport,"
     "email,phone,nmdp_overlap,overlap_evidence,source_url,evidence_url,evidence_quote,evidence_date,evidence_type,"
     "confidence,overlap_checked)",
     0, 0},
    {"columns out of order",
     "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url,"
     "evidence_quote,evidence_url,evidence_date,evidence_type,confidence,overlap_checked\n",
     "header: column 10 is \"evidence_quote\", expected \"evidence_url\" (the header is exactly school,coach_name,title,"
     "sport,email,phone,nmdp_overlap,overlap_evidence,source_url,evidence_url,evidence_quote,evidence_date,"
     "evidence_type,confidence,overlap_checked)",
     0, 0},
    {"yes without evidence_url",
     HDR NO_ROW("Ann Lee", "") "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL ",,\"q\",,host,high,coach\n"
         NO_ROW("Cy Park", ""),
     "row 2 (Jane Doe): nmdp_overlap is yes but evidence_url is empty", 3, 1},
    {"yes with the source_url as evidence",
     HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL "," DIR_URL "/,\"q\",,host,high,coach\n" NO_ROW(
         "Bo Diaz", ""),
     "row 1 (Jane Doe): evidence_url is the source_url (the evidence must be the page that shows the connection, not "
     "the staff directory)",
     2, 1},
    {"yes citing a search page",
     HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL
     ",https://www.google.com/search?q=jane+doe+nmdp,\"q\",,host,high,coach\n" NO_ROW("Bo Diaz", ""),
     "row 1 (Jane Doe): evidence_url is a search-results page (cite the page the result leads to)", 2, 1},
    {"yes citing a site search",
     HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL
     ",https://utahutes.com/search.aspx?q=marrow,\"q\",,host,high,coach\n" NO_ROW("Bo Diaz", ""),
     "row 1 (Jane Doe): evidence_url is a search-results page (cite the page the result leads to)", 2, 1},
    {"yes with a non-http evidence_url",
     HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL ",ftp://x.org/a,\"q\",,host,high,coach\n" NO_ROW(
         "Bo Diaz", ""),
     "row 1 (Jane Doe): evidence_url \"ftp://x.org/a\" is not an http(s) URL", 2, 1},
    {"yes without a quote",
     HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL ",https://ksl.com/a,,,host,high,coach\n" NO_ROW(
         "Bo Diaz", ""),
     "row 1 (Jane Doe): nmdp_overlap is yes but evidence_quote is empty", 2, 1},
    {"yes with a bad evidence_type",
     HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL ",https://ksl.com/a,q,,sponsor,high,coach\n" NO_ROW(
         "Bo Diaz", ""),
     "row 1 (Jane Doe): evidence_type must be host, participant, donor, recipient, family or advocacy, got \"sponsor\"",
     2, 1},
    {"yes with low confidence",
     HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL ",https://ksl.com/a,q,,donor,low,coach\n" NO_ROW(
         "Bo Diaz", ""),
     "row 1 (Jane Doe): confidence must be high or medium, got \"low\" (a weaker lead is a no)", 2, 1},
    {"yes with a bad date",
     HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL ",https://ksl.com/a,q,March 2024,donor,high,coach\n"
         NO_ROW("Bo Diaz", ""),
     "row 1 (Jane Doe): evidence_date \"March 2024\" is not YYYY-MM-DD, YYYY-MM or YYYY", 2, 1},
    {"no row with evidence",
     HDR "University of Utah,Jane Doe,Coach,Golf,,,no,," DIR_URL ",https://ksl.com/a,,,,,coach\n",
     "row 1 (Jane Doe): nmdp_overlap is no but evidence_url is not empty (a no row leaves the evidence columns empty)",
     1, 0},
    {"possible is not an answer", HDR "University of Utah,Jane Doe,Coach,Golf,,,possible,," DIR_URL ",,,,,,coach\n",
     "row 1 (Jane Doe): nmdp_overlap must be yes or no, got \"possible\"", 1, 0},
    {"Yes is not yes", HDR "University of Utah,Jane Doe,Coach,Golf,,,Yes,," DIR_URL ",,,,,,coach\n",
     "row 1 (Jane Doe): nmdp_overlap must be yes or no, got \"Yes\"", 1, 0},
    {"overlap_checked missing", HDR "University of Utah,Jane Doe,Coach,Golf,,,no,," DIR_URL ",,,,,,\n",
     "row 1 (Jane Doe): overlap_checked is empty (coach, school or none on every row)", 1, 0},
    {"overlap_checked wrong", HDR "University of Utah,Jane Doe,Coach,Golf,,,no,," DIR_URL ",,,,,,web\n",
     "row 1 (Jane Doe): overlap_checked must be coach, school or none, got \"web\"", 1, 0},
    {"another school", HDR "Utah State University,Jane Doe,Coach,Golf,,,no,," DIR_URL ",,,,,,none\n",
     "row 1 (Jane Doe): school is \"Utah State University\", expected \"University of Utah\" or one of its aliases", 1,
     0},
    {"coach twice", HDR NO_ROW("Jane Doe", "") NO_ROW("Bo Diaz", "") NO_ROW("jane  DOE", ""),
     "row 3 (jane  DOE): coach_name repeats row 1 (one row per coach)", 3, 0},
    {"coach without a name", HDR NO_ROW("", ""), "row 1: coach_name is empty", 1, 0},
    {"two addresses in one cell", HDR NO_ROW("Jane Doe", "\"a@utah.edu; b@utah.edu\""),
     "row 1 (Jane Doe): email \"a@utah.edu; b@utah.edu\" is not one valid address (one address per cell, nothing else)",
     1, 0},
    {"not an address", HDR NO_ROW("Jane Doe", "jdoe(at)utah.edu"),
     "row 1 (Jane Doe): email \"jdoe(at)utah.edu\" is not one valid address (one address per cell, nothing else)", 1, 0},
    {"mailto: left in", HDR NO_ROW("Jane Doe", "mailto:jdoe@utah.edu"),
     "row 1 (Jane Doe): email \"mailto:jdoe@utah.edu\" is not one valid address (one address per cell, nothing else)",
     1, 0},
    {"address off the school's domains", HDR NO_ROW("Jane Doe", "jdoe@gmail.com"),
     "row 1 (Jane Doe): email \"jdoe@gmail.com\" is not on the school's email domains (utah.edu, utahutes.com)", 1, 0},
    {"a look-alike domain is not a subdomain", HDR NO_ROW("Jane Doe", "jdoe@notutah.edu"),
     "row 1 (Jane Doe): email \"jdoe@notutah.edu\" is not on the school's email domains (utah.edu, utahutes.com)", 1, 0},
    {"bad quoting", HDR "University of Utah,\"Jane Doe,Coach\n",
     "output/university-of-utah.csv:2:20: unterminated quoted field", 0, 0},
};

Test(verify, table)
{
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        const struct row_case *c = &cases[i];
        struct rs_verify_opts o = leads_opts();
        struct rs_verify_result r;
        int rc = rs_verify_csv_buffer(c->csv, strlen(c->csv), &o, &r);
        if (!c->reason) {
            cr_expect_eq(rc, 0, "%s: refused: %s", c->name, r.reason ? r.reason : "");
            cr_expect_null(r.reason, "%s", c->name);
        } else {
            cr_expect_eq(rc, 1, "%s: accepted", c->name);
            cr_expect_str_eq(r.reason ? r.reason : "(none)", c->reason, "%s", c->name);
            cr_expect_eq(r.problems, 1, "%s: %zu problems: %s", c->name, r.problems, r.reason ? r.reason : "");
        }
        if (!strstr(c->name, "quoting") && !strstr(c->name, "header") && !strstr(c->name, "order")) {
            cr_expect_eq(r.rows, c->rows, "%s: rows %zu", c->name, r.rows);
            cr_expect_eq(r.overlaps, c->overlaps, "%s: overlaps %zu", c->name, r.overlaps);
        }
        rs_verify_result_deinit(&r);
    }
}

Test(verify, quote_length_counts_characters)
{
    char quote[400 * 2 + 1];
    struct rs_buf b;
    rs_buf_init(&b);
    for (int n = 299; n <= 301; n++) {
        /* n two-byte characters: the cap is on characters, not bytes. */
        size_t k = 0;
        for (int j = 0; j < n; j++) {
            quote[k++] = (char)0xC3;
            quote[k++] = (char)0xA9;
        }
        quote[k] = '\0';
        rs_buf_reset(&b);
        rs_buf_printf(&b, HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL
                              ",https://ksl.com/a,%s,,family,high,coach\n" NO_ROW("Bo Diaz", ""),
                      quote);
        struct rs_verify_opts o = leads_opts();
        struct rs_verify_result r;
        int rc = rs_verify_csv_buffer(b.data, b.len, &o, &r);
        if (n <= 300) {
            cr_expect_eq(rc, 0, "%d characters: %s", n, r.reason ? r.reason : "");
        } else {
            cr_expect_eq(rc, 1);
            cr_expect_str_eq(r.reason, "row 1 (Jane Doe): evidence_quote is 301 characters (at most 300)");
        }
        rs_verify_result_deinit(&r);
    }
    rs_buf_deinit(&b);
}

Test(verify, several_problems_are_joined_and_counted)
{
    const char *csv = HDR "University of Utah,Jane Doe,Coach,Golf,,,yes,x," DIR_URL ",,,,,,coach\n"
                          "University of Utah,Bo Diaz,Coach,Golf,bo@gmail.com,,maybe,," DIR_URL ",,,,,,\n";
    struct rs_verify_opts o = leads_opts();
    struct rs_verify_result r;
    cr_assert_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 1);
    cr_expect_eq(r.problems, 7, "%zu: %s", r.problems, r.reason);
    cr_expect_str_eq(r.reason, "row 1 (Jane Doe): nmdp_overlap is yes but evidence_url is empty; "
                               "row 1 (Jane Doe): nmdp_overlap is yes but evidence_quote is empty; "
                               "row 1 (Jane Doe): nmdp_overlap is yes but evidence_type is empty; "
                               "row 1 (Jane Doe): nmdp_overlap is yes but confidence is empty; "
                               "row 2 (Bo Diaz): email \"bo@gmail.com\" is not on the school's email domains "
                               "(utah.edu, utahutes.com); and 2 more problems");
    rs_verify_result_deinit(&r);
}

/* A NUL byte anywhere is refused at both levels, naming line and field (the parser itself carries it). */
Test(verify, nul_byte_is_refused)
{
    static const char csv[] = HDR "University of Utah,Jane\0Doe,Head Coach,Soccer,jdoe@utah.edu,,no,," DIR_URL
                                  ",,,,,,none\n";
    struct rs_verify_opts o = leads_opts();
    struct rs_verify_result r;
    cr_assert_eq(rs_verify_csv_buffer(csv, sizeof csv - 1, &o, &r), 1);
    cr_expect(strstr(r.reason, "line 2, field 2: a NUL byte (0x00)") != NULL, "%s", r.reason);
    rs_verify_result_deinit(&r);
    o.level = RS_VERIFY_COUNTS;
    cr_assert_eq(rs_verify_csv_buffer(csv, sizeof csv - 1, &o, &r), 1);
    cr_expect(strstr(r.reason, "a NUL byte") != NULL, "%s", r.reason);
    rs_verify_result_deinit(&r);
}

Test(verify, no_domains_means_any_domain)
{
    const char *csv = HDR NO_ROW("Jane Doe", "jdoe@gmail.com");
    struct rs_verify_opts o = leads_opts();
    o.email_domains = NULL;
    o.nemail_domains = 0;
    struct rs_verify_result r;
    cr_expect_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 0, "%s", r.reason ? r.reason : "");
    rs_verify_result_deinit(&r);
}

Test(verify, assigned_file_and_freshness)
{
    const char *csv = HDR NO_ROW("Jane Doe", "");
    struct rs_verify_opts o = leads_opts();
    o.csv_shown = "output/utah-state.csv";
    o.csv_real = "/b/output/utah-state.csv";
    o.assigned_real = "/b/output/university-of-utah.csv";
    struct rs_verify_result r;
    cr_expect_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 1);
    cr_expect_str_eq(r.reason, "output/utah-state.csv is not this school's CSV (write /b/output/university-of-utah.csv)");
    rs_verify_result_deinit(&r);

    o.csv_shown = "output/university-of-utah.csv";
    o.csv_real = o.assigned_real;
    o.attempt_started_ms = INT64_C(1800000000000);
    o.csv_mtime_ms = o.attempt_started_ms - 12 * 60 * 1000;
    cr_expect_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 1);
    cr_expect_str_eq(r.reason, "output/university-of-utah.csv was not written during this attempt (last modified "
                               "12m00s before it started): write it again");
    rs_verify_result_deinit(&r);

    /* Within the clock slack, and after the start: fresh. */
    o.csv_mtime_ms = o.attempt_started_ms - RS_VERIFY_MTIME_SLACK_MS;
    cr_expect_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 0, "%s", r.reason ? r.reason : "");
    rs_verify_result_deinit(&r);
    o.csv_mtime_ms = o.attempt_started_ms + 5000;
    cr_expect_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 0);
    rs_verify_result_deinit(&r);
}

/* The snapshot (csv_snapshot): the mtime compared with the one before the attempt, not with a wall
 * clock that may have been stepped. A file written a "day before" the start by a stepped clock is fresh. */
Test(verify, freshness_by_snapshot_ignores_the_wall_clock)
{
    const char *csv = HDR NO_ROW("Jane Doe", "");
    struct rs_verify_opts o = leads_opts();
    o.csv_shown = "output/university-of-utah.csv";
    o.csv_real = o.assigned_real = "/b/output/university-of-utah.csv";
    o.attempt_started_ms = INT64_C(1800000000000);
    o.csv_mtime_ms = o.attempt_started_ms - 86400 * 1000;
    o.csv_snapshot = true;
    struct rs_verify_result r;
    cr_expect_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 0, "%s", r.reason ? r.reason : "");
    rs_verify_result_deinit(&r);
    o.csv_unchanged = true;
    cr_expect_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 1);
    cr_expect_str_eq(r.reason, "output/university-of-utah.csv was not written during this attempt (last modified "
                               "24h00m before it started): write it again");
    rs_verify_result_deinit(&r);
    o.csv_mtime_ms = o.attempt_started_ms + 86400 * 1000; /* unchanged, "after" the start by a stepped clock */
    cr_expect_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 1);
    cr_expect_str_eq(r.reason, "output/university-of-utah.csv was not written during this attempt (unchanged since it "
                               "started): write it again");
    rs_verify_result_deinit(&r);
}

Test(verify, yes_share_flags_for_review_without_failing)
{
    const char *csv = HDR YES_ROW("Ann Lee") YES_ROW("Bo Diaz") NO_ROW("Cy Park", "");
    struct rs_verify_opts o = leads_opts();
    struct rs_verify_result r;
    cr_assert_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 0, "%s", r.reason ? r.reason : "");
    cr_expect_eq(r.overlaps, 2);
    cr_expect_str_eq(r.review ? r.review : "(none)", "2 of 3 rows are yes (67%), above [verify] max_yes_share 0.5");
    rs_verify_result_deinit(&r);

    /* Exactly at the share: no flag. */
    const char *half = HDR YES_ROW("Ann Lee") NO_ROW("Cy Park", "");
    cr_assert_eq(rs_verify_csv_buffer(half, strlen(half), &o, &r), 0);
    cr_expect_null(r.review);
    rs_verify_result_deinit(&r);

    o.max_yes_share = 1;
    cr_assert_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 0);
    cr_expect_null(r.review);
    rs_verify_result_deinit(&r);
}

Test(verify, counts_level_takes_nine_columns_and_truthy_words)
{
    const char *csv = "coach_name,school,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n"
                      "Jane Doe,Somewhere Else,Coach,Golf,not-an-address,,TRUE,,\n"
                      "Jane Doe,Somewhere Else,Coach,Golf,,,possible,,\n";
    struct rs_verify_opts o = leads_opts();
    o.level = RS_VERIFY_COUNTS;
    o.csv_real = "/b/output/other.csv";
    o.assigned_real = "/b/output/university-of-utah.csv"; /* not checked at this level */
    o.attempt_started_ms = 10000000;
    o.csv_mtime_ms = 1;
    struct rs_verify_result r;
    cr_assert_eq(rs_verify_csv_buffer(csv, strlen(csv), &o, &r), 0, "%s", r.reason ? r.reason : "");
    cr_expect_eq(r.rows, 2);
    cr_expect_eq(r.overlaps, 1);
    rs_verify_result_deinit(&r);

    /* Header-only stays accepted at this level (the claim's counts decide). */
    const char *hdr = "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n";
    cr_assert_eq(rs_verify_csv_buffer(hdr, strlen(hdr), &o, &r), 0);
    cr_expect_eq(r.rows, 0);
    rs_verify_result_deinit(&r);

    const char *eight = "school,coach_name,title,sport,email,phone,overlap_evidence,source_url\nx,y,,,,,,\n";
    cr_assert_eq(rs_verify_csv_buffer(eight, strlen(eight), &o, &r), 1);
    cr_expect_str_eq(r.reason, "header: missing required column \"nmdp_overlap\"");
    rs_verify_result_deinit(&r);
}

Test(verify, search_urls)
{
    static const struct {
        const char *url;
        bool search;
    } t[] = {
        {"https://www.google.com/search?q=x", true},
        {"https://google.co.uk/url?sa=t", true},
        {"https://news.google.com/articles/abc", true},
        {"https://www.bing.com/search?q=x", true},
        {"https://duckduckgo.com/?q=x", true},
        {"https://html.duckduckgo.com/html/?q=x", true},
        {"https://search.yahoo.com/search?p=x", true},
        {"https://utahutes.com/search.aspx?q=marrow", true},
        {"https://utahutes.com/search/results", true},
        {"https://utahutes.com/searchresults.aspx", true},
        {"https://news.utah.edu/?s=marrow", true},
        {"https://utahutes.com/news/2024/3/1/swim-drive.aspx", false},
        {"https://utahutes.com/news/searching-for-a-match", false},
        {"https://www.ksl.com/article/50000/coach-donates-marrow", false},
        {"https://nmdp.org/news?id=4", false},
        {"https://googleplex.example.org/a", false},
        {"ftp://google.com/search", false},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(t); i++)
        cr_expect_eq(rs_verify_is_search_url(t[i].url), t[i].search, "%s", t[i].url);
}

Test(verify, emails_and_domains)
{
    cr_expect(rs_verify_email_valid("jdoe@utah.edu"));
    cr_expect(rs_verify_email_valid("j.doe+swim@athletics.utah.edu"));
    cr_expect(rs_verify_email_valid("o'brien@utah.edu"));
    cr_expect_not(rs_verify_email_valid("jdoe@utah"));
    cr_expect_not(rs_verify_email_valid("jdoe@@utah.edu"));
    cr_expect_not(rs_verify_email_valid("j doe@utah.edu"));
    cr_expect_not(rs_verify_email_valid(".jdoe@utah.edu"));
    cr_expect_not(rs_verify_email_valid("j..doe@utah.edu"));
    cr_expect_not(rs_verify_email_valid("jdoe@-utah.edu"));
    cr_expect_not(rs_verify_email_valid("jdoe@utah.edu,x@utah.edu"));
    cr_expect_not(rs_verify_email_valid("jdoe@10.0.0.1"));
    cr_expect_not(rs_verify_email_valid("@utah.edu"));
    cr_expect(rs_verify_domain_valid("utah.edu"));
    cr_expect(rs_verify_domain_valid("cubuffs.com"));
    cr_expect(rs_verify_domain_valid("a-b.c.example.org"));
    cr_expect_not(rs_verify_domain_valid("utah"));
    cr_expect_not(rs_verify_domain_valid("utah..edu"));
    cr_expect_not(rs_verify_domain_valid("-utah.edu"));
    cr_expect_not(rs_verify_domain_valid("utah-.edu"));
    cr_expect_not(rs_verify_domain_valid("@utah.edu"));
    cr_expect_not(rs_verify_domain_valid("https://utah.edu"));
    cr_expect_not(rs_verify_domain_valid("utah.e"));
}
