/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for fetch.c's offline parts: HTML to text with libxml2 (a quote
 * split across inline tags stays one text, block elements are separated,
 * script/style are left out, entities and a declared charset are decoded,
 * broken markup still gives its text), the host key of the politeness
 * clock, and the URL rule applied before any connection. The network side
 * is tested against a real local server in tests/integration/audit.sh.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/audit/fetch.h"
#include "ralphsup/core/evidence.h"

static char *text_of(const char *html, const char *charset)
{
    struct rs_buf t, n;
    rs_buf_init(&t);
    rs_buf_init(&n);
    rs_html_text(html, strlen(html), charset, &t);
    rs_evidence_normalize(t.data ? t.data : "", t.len, false, &n);
    rs_buf_cstr(&n);
    rs_buf_deinit(&t);
    return rs_buf_steal(&n);
}

Test(fetch, html_text_table)
{
    struct { const char *html, *charset, *want; } cases[] = {
        {"<p>Be The <b>Match</b> drive</p>", NULL, "be the match drive"},
        {"<p>Mar<i>row</i> registry</p>", NULL, "marrow registry"},
        {"<p>one</p><p>two</p><div>three<br>four</div>", NULL, "one two three four"},
        {"<ul><li>a</li><li>b</li></ul><table><tr><td>c</td><td>d</td></tr></table>", NULL, "a b c d"},
        {"<head><title>T</title><style>p{}</style><script>var x = '<p>no</p>';</script></head><body>yes</body>",
         NULL, "t yes"},
        {"<noscript>hidden</noscript><template><p>tpl</p></template>shown", NULL, "shown"},
        {"Be&nbsp;The&nbsp;Match &amp; &ldquo;friends&rdquo; &#8211; &#x41;", NULL, "be the match & \"friends\" - a"},
        {"<p>Caf\xE9 M\xFCnchen</p>", "ISO-8859-1", "caf\xC3\xA9 m\xC3\xBC" "nchen"},
        {"<meta charset=\"iso-8859-1\"><p>Caf\xE9</p>", NULL, "caf\xC3\xA9"},
        {"<p>unclosed <b>bold <i>both</p> after", NULL, "unclosed bold both after"},
        {"<!-- a comment --><p>text</p>", NULL, "text"},
        {"", NULL, ""},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        char *got = text_of(cases[i].html, cases[i].charset);
        cr_expect_str_eq(got, cases[i].want, "case %zu: %s", i, cases[i].html);
        free(got);
    }
}

Test(fetch, quote_split_across_tags_matches)
{
    char *t = text_of("<p>Coach <a href=x>Ann\n Split</a> said: &ldquo;Joining the <em>Be&nbsp;The Match</em> "
                      "registry <strong>takes five minutes</strong>.&rdquo;</p>",
                      NULL);
    cr_expect_eq(rs_evidence_match(t, strlen(t), "said: \"Joining the Be The Match registry takes five minutes.\"",
                                   "Ann Split"),
                 RS_EVIDENCE_VERIFIED, "%s", t);
    free(t);
}

Test(fetch, deep_nesting)
{
    /* 250 levels: the text is found (the walk is iterative). */
    struct rs_buf h;
    rs_buf_init(&h);
    for (int i = 0; i < 250; i++)
        rs_buf_puts(&h, "<span>");
    rs_buf_puts(&h, "deep text");
    char *t = text_of(rs_buf_cstr(&h), NULL);
    cr_expect_str_eq(t, "deep text");
    free(t);
    /* 100,000 levels: no crash. libxml2 stops parsing below depth 256, so that text is not seen
     * (docs/audit.md: such a lead comes out quote-not-found, never verified by mistake). */
    for (int i = 250; i < 100000; i++)
        rs_buf_puts(&h, "<span>");
    rs_buf_puts(&h, "deeper text");
    t = text_of(rs_buf_cstr(&h), NULL);
    cr_expect_null(strstr(t, "deeper text"), "%s", t);
    free(t);
    rs_buf_deinit(&h);
}

Test(fetch, host_and_url_rules)
{
    char *h = rs_fetch_host("https://Athletics.Example.EDU:8443/news?id=1");
    cr_expect_str_eq(h, "athletics.example.edu");
    free(h);
    cr_expect_null(rs_fetch_host("not a url"));
    struct rs_fetch_opts o = {.connect_timeout_ms = 1000, .timeout_ms = 1000, .max_bytes = 1024};
    struct rs_fetch_result r;
    cr_assert_eq(rs_fetch_global_init(), 0);
    cr_expect_eq(rs_fetch("file:///etc/passwd", &o, &r), 1);
    cr_expect_str_eq(r.error, "not an http(s) URL");
    cr_expect_eq(r.body.len, 0);
    rs_fetch_result_deinit(&r);
    rs_fetch_global_cleanup();
}
