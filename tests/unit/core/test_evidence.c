/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for evidence.c, the audit's pure decisions: normalisation
 * (entities, white space, case, typographic marks), surnames, the quote and
 * surname match that classifies a lead, the result names, the URL rule and
 * the private-address table.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/core/evidence.h"

static char *norm(const char *s, bool ents)
{
    struct rs_buf b;
    rs_buf_init(&b);
    rs_evidence_normalize(s, strlen(s), ents, &b);
    rs_buf_cstr(&b);
    return rs_buf_steal(&b);
}

Test(evidence, normalize_table)
{
    struct { const char *in; bool ents; const char *want; } cases[] = {
        {"", true, ""},
        {"  Be The   Match  ", true, "be the match"},
        {"Be\tThe\r\nMatch", true, "be the match"},
        {"Be\xC2\xA0" "The\xE2\x80\xAF" "Match", false, "be the match"},          /* no-break spaces */
        {"Be&nbsp;The&#32;Match", true, "be the match"},
        {"Be&nbsp;The Match", false, "be&nbsp;the match"},                /* entities only when asked */
        {"Tom &amp; Jerry &lt;3", true, "tom & jerry <3"},
        {"&#x42;e &#66;e", true, "be be"},
        {"&bogus; &amp", true, "&bogus; &amp"},                         /* unknown / unterminated stay */
        {"Coach\xE2\x80\x99s \xE2\x80\x9C" "drive\xE2\x80\x9D", true, "coach's \"drive\""},
        {"2019\xE2\x80\x93" "20 \xE2\x80\x94 more\xE2\x80\xA6", true, "2019-20 - more..."},
        {"mar\xC2\xAD" "row", true, "marrow"},                              /* soft hyphen */
        {"Z\xC3\x9C" "RICH \xC3\x89" "LAN \xC5\x81\xC3\x93" "D\xC5\xB9", true, "z\xC3\xBC" "rich \xC3\xA9" "lan \xC5\x82\xC3\xB3" "d\xC5\xBA"},
        {"\xCE\x91\xCE\x92 \xD0\x90\xD0\x91", true, "\xCE\xB1\xCE\xB2 \xD0\xB0\xD0\xB1"},
        {"a\xFF" "b", true, "a\xEF\xBF\xBD" "b"},                          /* ill-formed byte */
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        char *got = norm(cases[i].in, cases[i].ents);
        cr_expect_str_eq(got, cases[i].want, "case %zu: \"%s\"", i, cases[i].in);
        free(got);
    }
}

Test(evidence, surname_table)
{
    struct { const char *name, *want; } cases[] = {
        {"Jane Doe", "doe"},
        {"  JANE   DOE ", "doe"},
        {"Jane Q. Doe Jr.", "doe"},
        {"Jane Doe, Jr.", "doe"},
        {"Doe, Jane", "doe"},
        {"Robert \"Bob\" Smith III", "smith"},
        {"Mary-Kate O'Neil", "o'neil"},
        {"Mary O\xE2\x80\x99" "Neil", "o'neil"},
        {"Jos\xC3\xA9 N\xC3\xBA\xC3\xB1" "ez", "n\xC3\xBA\xC3\xB1" "ez"},
        {"Anne Smith-Jones", "smith-jones"},
        {"Cher", "cher"},
        {"", ""},
        {" . , ", ""},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        char *got = rs_evidence_surname(cases[i].name);
        cr_expect_str_eq(got, cases[i].want, "case %zu: \"%s\"", i, cases[i].name);
        free(got);
    }
}

Test(evidence, match_table)
{
    const char *page_raw = "Softball head coach Jane Doe and her team hosted a Be The Match registry drive on "
                           "April 3, 2024, adding 212 potential donors. \xE2\x80\x9C" "It\xE2\x80\x99s personal,\xE2\x80\x9D "
                           "said Doe.";
    char *page = norm(page_raw, false);
    size_t plen = strlen(page);
    struct { const char *quote, *coach; enum rs_evidence_result want; } cases[] = {
        {"hosted a Be The Match registry drive", "Jane Doe", RS_EVIDENCE_VERIFIED},
        {"HOSTED A  be the match\nregistry DRIVE", "Jane Doe", RS_EVIDENCE_VERIFIED},
        {"hosted a Be&nbsp;The&nbsp;Match registry drive", "Jane Doe", RS_EVIDENCE_VERIFIED},
        {"\"It's personal,\" said Doe.", "Doe, Jane", RS_EVIDENCE_VERIFIED},        /* straight vs curly quotes */
        {"\"hosted a Be The Match registry drive\"", "Jane Doe", RS_EVIDENCE_VERIFIED},
        {"head coach Jane Doe ... adding 212 potential donors", "Jane Doe", RS_EVIDENCE_VERIFIED},
        {"adding 212 potential donors \xE2\x80\xA6 head coach", "Jane Doe", RS_EVIDENCE_QUOTE_NOT_FOUND}, /* order */
        {"hosted a Be The Match registry drive", "John Roe", RS_EVIDENCE_NAME_NOT_FOUND},
        {"hosted a Be The Match registry drive", "Jane Do", RS_EVIDENCE_NAME_NOT_FOUND},   /* whole word only */
        {"hosted a Be The Match registry drive", "", RS_EVIDENCE_NAME_NOT_FOUND},
        {"hosted a DKMS registry drive", "Jane Doe", RS_EVIDENCE_QUOTE_NOT_FOUND},
        {"", "Jane Doe", RS_EVIDENCE_NO_EVIDENCE},
        {"  ...  ", "Jane Doe", RS_EVIDENCE_NO_EVIDENCE},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++)
        cr_expect_eq(rs_evidence_match(page, plen, cases[i].quote, cases[i].coach), cases[i].want,
                     "case %zu: \"%s\" / \"%s\"", i, cases[i].quote, cases[i].coach);
    free(page);
}

Test(evidence, result_names)
{
    for (int i = 0; i < RS_EVIDENCE_NRESULTS; i++)
        cr_expect_eq(rs_evidence_result_parse(rs_evidence_result_name(i)), i);
    cr_expect_eq(rs_evidence_result_parse("unreachable (HTTP 404)"), RS_EVIDENCE_UNREACHABLE);
    cr_expect_eq(rs_evidence_result_parse("verified (x)"), -1);
    cr_expect_eq(rs_evidence_result_parse("verifiedx"), -1);
    cr_expect_eq(rs_evidence_result_parse("unreachable(x)"), -1);
    cr_expect_eq(rs_evidence_result_parse(NULL), -1);
}

Test(evidence, url_table)
{
    struct { const char *url; bool ok; } cases[] = {
        {"https://example.edu/news/drive", true}, {"HTTP://Example.edu", true}, {"http://127.0.0.1:8080/x", true},
        {"ftp://example.edu/x", false}, {"file:///etc/passwd", false}, {"example.edu/x", false},
        {"https://", false}, {"https:///x", false}, {"https://exa mple.edu", false}, {"https://a.edu/\n", false},
        {"", false}, {"javascript:alert(1)", false},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++)
        cr_expect_eq(rs_evidence_url_ok(cases[i].url), cases[i].ok, "case %zu: %s", i, cases[i].url);
    cr_expect_not(rs_evidence_url_ok(NULL));
}

Test(evidence, private_addresses)
{
    struct { const char *addr; bool priv; } cases[] = {
        {"127.0.0.1", true}, {"127.8.9.10", true}, {"10.1.2.3", true}, {"172.16.0.1", true}, {"172.31.255.255", true},
        {"172.32.0.1", false}, {"192.168.1.1", true}, {"169.254.169.254", true}, {"100.64.0.1", true},
        {"100.128.0.1", false}, {"0.0.0.0", true}, {"224.0.0.1", true}, {"255.255.255.255", true},
        {"198.18.0.1", true}, {"8.8.8.8", false}, {"93.184.216.34", false}, {"::1", true}, {"::", true},
        {"fe80::1", true}, {"fd00::1", true}, {"fc12::1", true}, {"ff02::1", true}, {"::ffff:127.0.0.1", true},
        {"::ffff:8.8.8.8", false}, {"64:ff9b::10.0.0.1", true}, {"2606:4700::1111", false}, {"2001:db8::1", false},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        unsigned char a[16];
        int fam = strchr(cases[i].addr, ':') ? 6 : 4;
        cr_assert_eq(inet_pton(fam == 6 ? AF_INET6 : AF_INET, cases[i].addr, a), 1, "%s", cases[i].addr);
        cr_expect_eq(rs_evidence_addr_private(fam, a), cases[i].priv, "case %zu: %s", i, cases[i].addr);
    }
    unsigned char a[16] = {0};
    cr_expect(rs_evidence_addr_private(0, a), "an unknown family is refused");
}
