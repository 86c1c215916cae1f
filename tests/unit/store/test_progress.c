/* SPDX-License-Identifier: MIT */
/*
 * Progress store: round trip, transitions, seed-schema import, errors, crash-safe save,
 * and the lean loader (the scanner, then the values read from the text, no DOM), checked
 * against jansson's own verdict on the whole document, the oracle for what is valid JSON.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/store/progress.h"
#include "ralphsup/base/util.h"

static char *tmpdir(void)
{
    char *d = rs_xstrdup("/tmp/rs-progress-XXXXXX");
    cr_assert(mkdtemp(d));
    return d;
}

Test(progress, transitions_and_round_trip)
{
    struct rs_progress *p = rs_progress_new("west", 1795561200000);
    rs_progress_push_pending(p, "A", false);
    rs_progress_push_pending(p, "B", false);
    rs_progress_push_pending(p, "C", false);
    cr_assert(rs_progress_remove_pending(p, "A"));
    struct rs_school_state *h = rs_progress_history(p, "A", "a", true);
    struct rs_attempt *a = rs_school_state_add_attempt(h);
    a->attempt = 1;
    a->outcome = RS_OUTCOME_FAILED;
    a->reason = rs_xstrdup("RALPH_DONE claimed 4 coaches, CSV has 3 rows");
    a->started_ms = 1795561200000;
    a->finished_ms = 1795561260000;
    a->cost_usd = 0.25;
    h->cost_usd = 0.25;
    rs_progress_push_pending(p, "A", true);
    cr_expect_str_eq(p->pending[0], "A");
    /* Second attempt completes: the history moves into completed. */
    rs_progress_remove_pending(p, "A");
    struct rs_school_state *c = rs_progress_complete(p, "A", "a");
    c->coaches = 4;
    c->overlaps = 1;
    c->csv = rs_xstrdup("output/a.csv");
    cr_expect_eq(p->nhistory, 0);
    cr_expect_eq(c->nattempts, 1);
    rs_progress_remove_pending(p, "B");
    rs_progress_fail(p, "B", "b", "agent reported failure: closed");
    p->cost_usd = 1.5;
    p->iterations = 3;
    p->current = rs_xcalloc(1, sizeof(*p->current));
    p->current->name = rs_xstrdup("D");
    p->current->run_token = rs_xstrdup("d:3:1:ab");
    rs_progress_set_stopped(p, "max_cost_usd reached", "max_cost_usd", 1795561300000);

    char *dir = tmpdir();
    char *path = rs_path_join(dir, "batch_progress.json");
    cr_assert_eq(rs_progress_save(p, path, 1795561400000), 0);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *q = NULL;
    cr_assert_eq(rs_progress_load(path, &q, &d), 0);
    cr_expect_str_eq(q->batch_name, "west");
    cr_expect_eq(q->ncompleted, 1);
    cr_expect_str_eq(q->completed[0].csv, "output/a.csv");
    cr_expect_eq(q->completed[0].coaches, 4);
    cr_expect_eq(q->completed[0].nattempts, 1);
    cr_expect_str_eq(q->completed[0].attempts[0].reason, "RALPH_DONE claimed 4 coaches, CSV has 3 rows");
    cr_expect_eq(q->nfailed, 1);
    cr_expect_str_eq(q->failed[0].reason, "agent reported failure: closed");
    cr_expect_eq(q->npending, 1);
    cr_expect_str_eq(q->pending[0], "C");
    cr_expect_str_eq(q->current->name, "D");
    cr_expect_str_eq(q->current->run_token, "d:3:1:ab");
    cr_expect_eq(q->repairs.n, 0, "%s", q->repairs.n ? q->repairs.msgs[0] : "");
    cr_expect_eq(q->iterations, 3);
    cr_expect_float_eq(q->cost_usd, 1.5, 1e-9);
    cr_expect_str_eq(q->stopped->limit, "max_cost_usd");
    cr_expect_eq(q->last_updated_ms, 1795561400000);
    /* Format is stable: formatting the loaded state gives the same bytes. */
    char *s1 = rs_progress_format(p), *s2 = rs_progress_format(q);
    cr_expect_str_eq(s1, s2);
    free(s1);
    free(s2);
    rs_progress_free(q);
    rs_progress_free(p);
    rs_diags_deinit(&d);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

Test(progress, imports_the_seed_schema)
{
    const char *seed = "{\"batch_name\": \"west\", \"started\": \"2026-11-01T10:00:00Z\", "
                       "\"last_updated\": \"2026-11-01T11:00:00Z\", \"current_school\": \"Utah\", "
                       "\"completed\": [\"Colorado\"], \"failed\": [\"Oregon\"], \"pending\": [\"Arizona\"]}";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_assert_eq(rs_progress_parse(seed, strlen(seed), "seed.json", &p, &d), 0);
    cr_expect_str_eq(p->current->name, "Utah");
    cr_expect_str_eq(p->completed[0].name, "Colorado");
    cr_expect_str_eq(p->failed[0].name, "Oregon");
    cr_expect_str_eq(p->pending[0], "Arizona");
    rs_progress_free(p);
    rs_diags_deinit(&d);
}

Test(progress, errors_have_positions_and_fields)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    const char *bad = "{\n  \"batch_name\": \"x\",\n  \"pending\": [1, \"ok\"\n";
    cr_expect_eq(rs_progress_parse(bad, strlen(bad), "bp.json", &p, &d), RS_PROGRESS_E_INVALID);
    cr_assert_eq(d.n, 1);
    cr_expect(strncmp(d.msgs[0], "bp.json:4:", 10) == 0, "%s", d.msgs[0]);
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    const char *bad2 = "{\"batch_name\": \"x\", \"pending\": [1], \"started\": \"yesterday\"}";
    cr_expect_eq(rs_progress_parse(bad2, strlen(bad2), "bp.json", &p, &d), RS_PROGRESS_E_INVALID);
    cr_expect_eq(d.n, 2);
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    cr_expect_eq(rs_progress_load("/nonexistent/batch_progress.json", &p, &d), RS_PROGRESS_E_NOT_FOUND);
    rs_diags_deinit(&d);
}

Test(progress, api_keys_never_reach_the_file)
{
    struct rs_progress *p = rs_progress_new("west", 1795561200000);
    rs_progress_fail(p, "A", "a", "curl failed with key sk-ant-api03-SECRETSECRETSECRETSECRET0123456789 in header");
    char *dir = tmpdir();
    char *path = rs_path_join(dir, "batch_progress.json");
    cr_assert_eq(rs_progress_save(p, path, 1795561400000), 0);
    char *data;
    size_t len;
    cr_assert_eq(rs_file_read(path, 1 << 20, &data, &len), 0);
    cr_expect(strstr(data, "SECRETSECRET") == NULL, "%s", data);
    cr_expect(strstr(data, "sk-ant-***REDACTED***"));
    free(data);
    rs_progress_free(p);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

/* ---- the lean loader ------------------------------------------------------------- */

/*
 * Parse @doc and check the outcome against jansson on the whole buffer: a
 * document jansson refuses must give exactly its "line:col: invalid JSON"
 * diagnostic and nothing else; one it accepts must not be called invalid JSON.
 * Return: rs_progress_parse()'s result (the progress is freed).
 */
static int parse_like_jansson(const char *doc, size_t len)
{
    json_error_t je;
    json_t *oracle = json_loadb(doc, len, JSON_ALLOW_NUL, &je);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    int r = rs_progress_parse(doc, len, "bp.json", &p, &d);
    if (!oracle) {
        struct rs_diags w;
        rs_diags_init(&w);
        rs_diags_addpos(&w, "bp.json", je.line, je.column, "invalid JSON: %s", je.text);
        char *want = rs_diags_join(&w);
        rs_diags_deinit(&w);
        cr_expect_eq(r, RS_PROGRESS_E_INVALID, "accepted what jansson refuses (%s): %.*s", want, (int)len, doc);
        cr_expect_eq(d.n, 1, "%zu diagnostics for: %.*s", d.n, (int)len, doc);
        if (d.n >= 1)
            cr_expect_str_eq(d.msgs[0], want, "got [%s] want [%s] for: %.*s", d.msgs[0], want, (int)len, doc);
        free(want);
    } else {
        for (size_t i = 0; i < d.n; i++)
            cr_expect(strstr(d.msgs[i], "invalid JSON") == NULL, "%s for: %.*s", d.msgs[i], (int)len, doc);
        json_decref(oracle);
    }
    rs_progress_free(p);
    rs_diags_deinit(&d);
    return r;
}

/*
 * jansson's own allocations, counted: the peak of live bytes tells whether a
 * load built one DOM of the whole file or one element's at a time.
 */
static size_t json_live, json_peak;

static void *counting_malloc(size_t n)
{
    size_t *b = malloc(n + sizeof(max_align_t));
    cr_assert_not_null(b);
    b[0] = n;
    json_live += n;
    if (json_live > json_peak)
        json_peak = json_live;
    return (char *)b + sizeof(max_align_t);
}

static void counting_free(void *p)
{
    if (!p)
        return;
    size_t *b = (size_t *)(void *)((char *)p - sizeof(max_align_t));
    json_live -= b[0];
    free(b);
}

/* Start counting (before any jansson value exists in this test's process). */
static void count_json_allocations(void)
{
    json_set_alloc_funcs(counting_malloc, counting_free);
    json_live = json_peak = 0;
}

/*
 * Parse @doc (valid) counting jansson's allocations, then check that the
 * lean path did it: its peak stays below the whole document's DOM.
 */
static struct rs_progress *parse_lean(const char *doc, struct rs_diags *d)
{
    count_json_allocations();
    struct rs_progress *p = NULL;
    cr_assert_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, d), 0, "%s", d->n ? d->msgs[0] : "");
    size_t lean = json_peak;
    json_peak = json_live;
    json_t *dom = json_loadb(doc, strlen(doc), 0, NULL);
    cr_assert_not_null(dom);
    cr_expect_lt(lean, json_peak, "loading took %zu bytes of DOM, the whole DOM is %zu", lean, json_peak);
    json_decref(dom);
    json_set_alloc_funcs(malloc, free);
    return p;
}

Test(progress, blanks_and_escapes_in_names_and_strings)
{
    /* Tabs, CR LF, escaped member names, every escape, a surrogate pair, duplicates. */
    const char *doc = "\r\n\t{ \"batch_name\" :\"old\",\n\t\"batch\\u005fname\"\t:\r\n \"w\\\"e\\\\s\\/t \\u00e9 \\ud83d\\ude00 "
                      "\\b\\f\\n\\r\\t\" ,\"pend\\u0069ng\": [\"first list\"], \"pending\" : [ \"A \\\"quoted\\\"\" ,"
                      "\"B\\u00E9\", \"C\xc3\xa9\" ] , \"a name much longer than any member we know of\": {\"pending\": 1},"
                      "\"pendingX\": 5, \"current_school\": \"Ut\\u0061h\", \"cost_usd\": 2.5e-1, \"iterations\": -0 }\n ";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = parse_lean(doc, &d);
    cr_expect_str_eq(p->batch_name, "w\"e\\s/t \xc3\xa9 \xf0\x9f\x98\x80 \b\f\n\r\t");
    /* The last of two equal names wins, as in jansson, escaped or not. */
    cr_assert_eq(p->npending, 3);
    cr_expect_str_eq(p->pending[0], "A \"quoted\"");
    cr_expect_str_eq(p->pending[1], "B\xc3\xa9");
    cr_expect_str_eq(p->pending[2], "C\xc3\xa9");
    cr_expect_str_eq(p->current->name, "Utah");
    cr_expect_float_eq(p->cost_usd, 0.25, 1e-12);
    cr_expect_eq(p->iterations, 0);
    cr_expect_eq(d.n, 0);
    rs_progress_free(p);
    rs_diags_deinit(&d);
}

Test(progress, nested_values_inside_attempts_are_skipped)
{
    const char *doc =
        "{\"batch_name\": \"n\", \"completed\": [{\"name\": \"A\", \"coaches\": 3, \"csv\": \"output/a.csv\", "
        "\"extra\": {\"deep\": [[{\"x\": [1, 2, {\"y\": null}]}], {}], \"e\": []}, \"attempts\": ["
        "{\"attempt\": 1, \"outcome\": \"failed\", \"meta\": {\"tools\": [{\"name\": \"Bash\", \"args\": {\"a\": [true, false]}}]},"
        " \"reason\": \"bad } ] { [ , : in text\"},"
        "{\"attempt\": 2, \"outcome\": \"completed\", \"cost_usd\": 0.5, \"nested\": [[[[]]]]}]}],"
        "\"unknown\": {\"completed\": [{\"name\": \"not me\"}]}}";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = parse_lean(doc, &d);
    cr_assert_eq(p->ncompleted, 1);
    cr_expect_str_eq(p->completed[0].name, "A");
    cr_expect_eq(p->completed[0].coaches, 3);
    cr_assert_eq(p->completed[0].nattempts, 2);
    cr_expect_str_eq(p->completed[0].attempts[0].reason, "bad } ] { [ , : in text");
    cr_expect_eq(p->completed[0].attempts[1].outcome, RS_OUTCOME_COMPLETED);
    cr_expect_float_eq(p->completed[0].attempts[1].cost_usd, 0.5, 1e-12);
    rs_progress_free(p);
    rs_diags_deinit(&d);
}

Test(progress, syntax_error_in_an_element_has_jansson_position)
{
    const char *doc = "{\n"
                      "  \"batch_name\": \"x\",\n"
                      "  \"pending\": [\"A\"],\n"
                      "  \"completed\": [\n"
                      "    {\"name\": \"B\", \"attempts\": []},\n"
                      "    {\"name\": \"C\", \"coaches\": 4,, \"attempts\": []}\n"
                      "  ]\n"
                      "}\n";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_assert_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d), RS_PROGRESS_E_INVALID);
    cr_assert_eq(d.n, 1);
    cr_expect(strncmp(d.msgs[0], "bp.json:6:32: invalid JSON: ", 28) == 0, "%s", d.msgs[0]);
    cr_expect_null(p);
    rs_diags_deinit(&d);
    parse_like_jansson(doc, strlen(doc));
}

Test(progress, every_truncation_is_invalid_json)
{
    struct rs_progress *p = rs_progress_new("trunc \xc3\xa9", 1795561200000);
    rs_progress_push_pending(p, "P \"1\"", false);
    struct rs_school_state *s = rs_progress_complete(p, "A", "a");
    struct rs_attempt *a = rs_school_state_add_attempt(s);
    a->outcome = RS_OUTCOME_COMPLETED;
    a->reason = rs_xstrdup("line\nbreak \xf0\x9f\x98\x80");
    a->cost_usd = 0.125;
    rs_progress_fail(p, "B", "b", "no staff page");
    rs_progress_set_stopped(p, "stop", NULL, 1795561300000);
    char *doc = rs_progress_format(p);
    size_t len = strlen(doc);
    cr_expect_eq(parse_like_jansson(doc, len), 0);
    /* Every prefix that still misses the closing brace is refused, at jansson's position. */
    size_t last = len;
    while (last > 0 && doc[last - 1] != '}')
        last--;
    for (size_t n = 0; n + 1 < last; n++)
        cr_expect_eq(parse_like_jansson(doc, n), RS_PROGRESS_E_INVALID, "prefix %zu", n);
    free(doc);
    rs_progress_free(p);
}

Test(progress, top_level_must_be_an_object)
{
    const char *docs[] = {"[1, 2]", "[]", "\"x\"", "42", "null", "", "   ", "{} {}", "{}x", "{\"a\": 1}]"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        cr_expect_eq(parse_like_jansson(docs[i], strlen(docs[i])), RS_PROGRESS_E_INVALID, "%s", docs[i]);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_expect_eq(rs_progress_parse("[1, 2]", 6, "bp.json", &p, &d), RS_PROGRESS_E_INVALID);
    cr_assert_eq(d.n, 1);
    cr_expect_str_eq(d.msgs[0], "bp.json: top level must be a JSON object");
    rs_diags_deinit(&d);
    /* An empty object is a valid (if useless) progress file... except for batch_name. */
    rs_diags_init(&d);
    cr_expect_eq(rs_progress_parse("{}", 2, "bp.json", &p, &d), RS_PROGRESS_E_INVALID);
    cr_assert_eq(d.n, 1);
    cr_expect_str_eq(d.msgs[0], "bp.json: missing required field \"batch_name\"");
    rs_diags_deinit(&d);
}

Test(progress, the_scanner_is_as_strict_as_jansson)
{
    /* Each body goes into an unknown member (checked by the scanner alone) and into "pending". */
    const char *bodies[] = {
        "99999999999999999999", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "1e400", "-1e400", "1e-400", "1.7976931348623157e308", "01", "-", "-0", "1.", "1.e5",
        ".5", "1e", "1e+", "1E-2", "+1", "0x10", "tru", "nul", "falsey", "truex", "NaN", "Infinity",
        "[1,]", "[,1]", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{\"a\":1,}", "{,}", "{1: 2}", "{\"a\": 1 \"b\": 2}", "[",
        "{", "]", "\"a\\u0000b\"", "{\"a\\u0000b\": 1}", "{\"\": 1}", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"\\ud83d\\ude00\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\x41\"", "\"\\'\"", "\"tab\there\"", "\"nl\nhere\"",
        "\"\x01\"", "\"\x7f\"", "\"\xc3\x28\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"", "\"\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\"", "\"\xff\"", "\"\xc3\xa9\"", "\xc3\xa9",
        "\"unterminated", "\"a\" \"b\"", "[\"a\"] ]", "{\"a\": [{\"b\": [{\"c\": {}}]}]}", "1 2", "true false",
        "[1, [2, [3, [4]]], {\"k\": [null, true, false, -1.5e-3, \"s\"]}]",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char *d1 = rs_xasprintf("{\"batch_name\": \"x\", \"junk\": %s, \"pending\": []}", bodies[i]);
        parse_like_jansson(d1, strlen(d1));
        char *d2 = rs_xasprintf("{\"batch_name\": \"x\", \"pending\": [\"a\", %s]}", bodies[i]);
        parse_like_jansson(d2, strlen(d2));
        char *d3 = rs_xasprintf("{\"batch_name\": \"x\", \"completed\": [{\"name\": \"a\", \"attempts\": [%s]}]}", bodies[i]);
        parse_like_jansson(d3, strlen(d3));
        free(d1);
        free(d2);
        free(d3);
    }
    /* A raw NUL byte, inside and outside strings. */
    const char nul1[] = "{\"batch_name\": \"x\0y\"}";
    parse_like_jansson(nul1, sizeof nul1 - 1);
    const char nul2[] = "{\"batch_name\": \"x\"}\0";
    parse_like_jansson(nul2, sizeof nul2 - 1);
}

/* A document nested @depth levels deep inside an unknown member. */
static char *nested(int depth)
{
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_append(&b, "{\"batch_name\": \"deep\", \"junk\": ", 31);
    for (int i = 0; i < depth; i++)
        rs_buf_append(&b, i % 2 ? "{\"k\": " : "[", i % 2 ? 6 : 1);
    rs_buf_append(&b, "0", 1);
    for (int i = depth - 1; i >= 0; i--)
        rs_buf_append(&b, i % 2 ? "}" : "]", 1);
    rs_buf_append(&b, ", \"pending\": [\"P\"]}", 19);
    rs_buf_append(&b, "", 1);
    return rs_buf_steal(&b);
}

Test(progress, deep_nesting_is_left_to_jansson)
{
    /* Deep, but within jansson's cap (the scanner's, since the loader has no DOM fallback): loads. */
    char *doc = nested(200);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_assert_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_str_eq(p->batch_name, "deep");
    cr_assert_eq(p->npending, 1);
    cr_expect_str_eq(p->pending[0], "P");
    rs_progress_free(p);
    rs_diags_deinit(&d);
    free(doc);
    /* Deeper than jansson's own cap: its diagnostic. */
    doc = nested(3000);
    cr_expect_eq(parse_like_jansson(doc, strlen(doc)), RS_PROGRESS_E_INVALID);
    free(doc);
    doc = nested(64);
    cr_expect_eq(parse_like_jansson(doc, strlen(doc)), 0);
    free(doc);
}

Test(progress, the_nesting_bound_is_jansson_s)
{
    /* Around jansson's cap (2048 levels, every value counting one), innermost a number or an empty array. */
    int verdicts[2] = {0, 0};
    for (int depth = 2040; depth <= 2050; depth++) {
        for (int empty = 0; empty < 2; empty++) {
            char *doc = nested(depth);
            if (empty && depth % 2 == 0) { /* the innermost is an object's member: no empty variant */
                free(doc);
                continue;
            }
            if (empty) {
                char *zero = strstr(doc, "[0]");
                cr_assert_not_null(zero);
                zero[1] = ' ';
            }
            json_t *oracle = json_loads(doc, JSON_ALLOW_NUL, NULL);
            int r = parse_like_jansson(doc, strlen(doc));
            cr_expect_eq(r, oracle ? 0 : RS_PROGRESS_E_INVALID, "depth %d, empty %d: jansson %s", depth, empty,
                         oracle ? "accepts" : "refuses");
            verdicts[oracle != NULL]++;
            json_decref(oracle);
            free(doc);
        }
    }
    cr_expect(verdicts[0] > 0 && verdicts[1] > 0, "both sides of the bound: %d refused, %d accepted", verdicts[0],
              verdicts[1]);
}

Test(progress, single_byte_mutations_agree_with_jansson)
{
    const char *doc = "{\"batch_name\": \"m\", \"status\": \"running\", \"pending\": [\"A\", \"B\\u00e9\"],\n"
                      "\"completed\": [{\"name\": \"C\", \"coaches\": 12, \"cost_usd\": 1.25e0, \"attempts\": "
                      "[{\"attempt\": 1, \"outcome\": \"completed\", \"x\": {\"y\": [true, false, null, -0.5]}}]}],\n"
                      "\"junk\": {\"k\\\"\": [1, 2.5, \"s\\n\", {}, []]}, \"stopped\": {\"reason\": \"r\", \"at\": null}}";
    const char subst[] = "\"\\{}[],:0-e. x\x01\xc3\xff";
    size_t len = strlen(doc);
    char *m = rs_xmalloc(len);
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof subst - 1; k++) {
            memcpy(m, doc, len);
            m[i] = subst[k];
            parse_like_jansson(m, len);
        }
        /* And with byte i removed. */
        memcpy(m, doc, i);
        memcpy(m + i, doc + i + 1, len - i - 1);
        parse_like_jansson(m, len - 1);
    }
    free(m);
}

/* Size of array @key of @root (0 when absent). */
static size_t dom_count(json_t *root, const char *key)
{
    return json_array_size(json_object_get(root, key));
}

static void expect_state_like_dom(const struct rs_school_state *s, json_t *o)
{
    cr_assert_str_eq(s->name, json_string_value(json_object_get(o, "name")));
    cr_expect_str_eq(s->slug, json_string_value(json_object_get(o, "slug")));
    cr_expect_float_eq(s->cost_usd, json_number_value(json_object_get(o, "cost_usd")), 1e-9);
    json_t *att = json_object_get(o, "attempts");
    cr_assert_eq(s->nattempts, json_array_size(att), "%s", s->name);
    for (size_t k = 0; k < s->nattempts; k++) {
        json_t *a = json_array_get(att, k);
        cr_expect_str_eq(s->attempts[k].session_id, json_string_value(json_object_get(a, "session_id")));
        cr_expect_str_eq(rs_outcome_name(s->attempts[k].outcome), json_string_value(json_object_get(a, "outcome")));
        cr_expect_eq(s->attempts[k].iteration, json_integer_value(json_object_get(a, "iteration")));
    }
}

Test(progress, ten_thousand_schools_load_like_the_dom, .timeout = 60)
{
    const char *root = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert_not_null(root, "RALPHSUP_SOURCE_ROOT must be set");
    char *dir = tmpdir();
    char *cmd = rs_xasprintf("/usr/bin/python3 '%s/bench/gen_progress.py' 10000 '%s'", root, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    char *path = rs_path_join(dir, "batch_progress.json");
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    count_json_allocations();
    cr_assert_eq(rs_progress_load(path, &p, &d), 0, "%s", d.n ? d.msgs[0] : "");
    /* Never more than one school's DOM at a time (the whole file's would be ~30 MB). */
    cr_expect_lt(json_peak, 64 * 1024, "jansson peaked at %zu bytes", json_peak);
    cr_expect_eq(json_live, 0);

    /* The oracle: jansson's DOM of the whole file. */
    json_error_t je;
    json_t *dom = json_load_file(path, 0, &je);
    cr_assert_not_null(dom, "%s", je.text);
    cr_assert_eq(p->npending, dom_count(dom, "pending"));
    cr_assert_eq(p->ncompleted, dom_count(dom, "completed"));
    cr_assert_eq(p->nfailed, dom_count(dom, "failed"));
    cr_expect_eq(p->nhistory, 0);
    cr_expect_eq(p->npending + p->ncompleted + p->nfailed + 1, 10000);
    for (size_t i = 0; i < p->npending; i++)
        cr_assert_str_eq(p->pending[i], json_string_value(json_array_get(json_object_get(dom, "pending"), i)));
    for (size_t i = 0; i < p->ncompleted; i++) {
        json_t *o = json_array_get(json_object_get(dom, "completed"), i);
        expect_state_like_dom(&p->completed[i], o);
        cr_expect_eq(p->completed[i].overlaps, json_integer_value(json_object_get(o, "overlaps")));
        cr_expect_str_eq(p->completed[i].csv, json_string_value(json_object_get(o, "csv")));
    }
    for (size_t i = 0; i < p->nfailed; i++) {
        json_t *o = json_array_get(json_object_get(dom, "failed"), i);
        expect_state_like_dom(&p->failed[i], o);
        cr_expect_str_eq(p->failed[i].reason, json_string_value(json_object_get(o, "reason")));
    }
    cr_expect_str_eq(p->current->name, "Bench University 000000");
    cr_expect_str_eq(p->current->run_token, "x");
    cr_expect_eq(p->iterations, json_integer_value(json_object_get(dom, "iterations")));
    cr_expect_float_eq(p->cost_usd, json_number_value(json_object_get(dom, "cost_usd")), 1e-6);
    cr_expect_str_eq(rs_progress_status_name(p->status), "running");
    cr_expect_null(p->stopped);
    cr_expect_gt(json_peak, 4 * 1024 * 1024, "the counter counts: the DOM took %zu bytes", json_peak);
    json_decref(dom);
    /* rs_progress_format() frees json_dumps()'s text with free(): back to the defaults. */
    json_set_alloc_funcs(malloc, free);

    /* Format round trip: what we write, we read back to the same bytes. */
    char *s1 = rs_progress_format(p);
    struct rs_progress *q = NULL;
    cr_assert_eq(rs_progress_parse(s1, strlen(s1), "formatted", &q, &d), 0);
    char *s2 = rs_progress_format(q);
    cr_expect(strcmp(s1, s2) == 0, "format round trip differs");
    free(s1);
    free(s2);
    rs_progress_free(q);
    rs_progress_free(p);
    rs_diags_deinit(&d);
    char *rm = rs_xasprintf("rm -rf '%s'", dir);
    cr_expect_eq(system(rm), 0);
    free(rm);
    free(cmd);
    free(path);
    free(dir);
}

/* ---- validation: types, required keys, each school in one place ------------------- */

/* A schema_version 1 document: the base members plus @body (members, leading comma included). */
static char *v1_doc(const char *pending, const char *completed, const char *failed, const char *more)
{
    return rs_xasprintf("{\"schema_version\": 1, \"batch_name\": \"b\", \"status\": \"stopped\", \"pending\": [%s], "
                        "\"completed\": [%s], \"failed\": [%s], \"iterations\": 3, \"cost_usd\": 0.75%s}",
                        pending, completed, failed, more);
}

#define ATT(it, outcome) "{\"attempt\": 1, \"iteration\": " #it ", \"cost_usd\": 0.25, \"outcome\": \"" outcome "\"}"
#define ENTRY(name, fin, att) "{\"name\": \"" name "\", \"slug\": \"s\", \"finished\": \"" fin "\", \"cost_usd\": 0.25, \"attempts\": [" att "]}"

struct vcase {
    const char *pending, *completed, *failed, *more;
    int rc;                /* 0 or RS_PROGRESS_E_INVALID */
    const char *said;      /* a substring of a repair (rc 0) or of a diagnostic (rc != 0) */
    size_t npending, ncompleted, nfailed, nhistory;
    bool current;          /* after the repairs (rc 0) */
};

Test(progress, each_inconsistency_is_repaired_and_said_or_refused_with_the_field)
{
    static const struct vcase cases[] = {
        /* consistent: nothing said */
        {"\"A\", \"B\"", ENTRY("C", "2026-11-24T10:00:00Z", ATT(1, "completed")), "", "", 0, NULL, 2, 1, 0, 0, false},
        {"\"A\", \"B\", \"A\"", "", "", "", 0, "bp.json: pending[2] \"A\" is also pending[0]: kept once", 2, 0, 0, 0, false},
        {"\"A\", \"C\"", ENTRY("C", "2026-11-24T10:00:00Z", ATT(1, "completed")), "", "", 0,
         "bp.json: pending[1] \"C\" is also completed[0]: removed from pending", 1, 1, 0, 0, false},
        {"\"A\"", ENTRY("C", "2026-11-24T10:00:00Z", ATT(1, "completed")) ", " ENTRY("C", "2026-11-24T11:00:00Z", ATT(2, "completed")),
         "", "", 0, "bp.json: completed[0] \"C\" is also completed[1]: merged into it (1 attempt moved)", 1, 1, 0, 0, false},
        {"\"A\"", "", ENTRY("F", "2026-11-24T10:00:00Z", ATT(1, "failed")) ", " ENTRY("F", "2026-11-24T09:00:00Z", ATT(2, "failed")),
         "", 0, "bp.json: failed[1] \"F\" is also failed[0]: merged into it", 1, 0, 1, 0, false},
        {"\"A\"", ENTRY("C", "2026-11-24T10:00:00Z", ATT(1, "completed")), "",
         ", \"retry_history\": [" ENTRY("C", "2026-11-24T09:00:00Z", ATT(2, "failed")) "]", 0,
         "bp.json: retry_history[0] \"C\" is also completed[0]: its attempts merged into it (1 moved)", 1, 1, 0, 0, false},
        {"\"A\", \"H\"", "", "",
         ", \"retry_history\": [" ENTRY("H", "2026-11-24T09:00:00Z", ATT(1, "failed")) ", " ENTRY("H", "2026-11-24T09:30:00Z", ATT(2, "failed")) "]",
         0, "bp.json: retry_history[0] \"H\" is also retry_history[1]: merged into it", 2, 0, 0, 1, false},
        {"\"A\", \"B\"", "", "", ", \"current\": {\"name\": \"B\", \"attempt\": 1, \"iteration\": 4}", 0,
         "bp.json: pending[1] \"B\" is also current: removed from pending", 1, 0, 0, 0, true},
        {"\"A\"", ENTRY("C", "2026-11-24T10:00:00Z", ATT(1, "completed")), "", ", \"current\": {\"name\": \"C\"}", 0,
         "bp.json: current \"C\" is also completed[0]: current cleared (completed is kept)", 1, 1, 0, 0, false},
        /* refused */
        {"\"A\"", ENTRY("X", "2026-11-24T10:00:00Z", ATT(1, "completed")), ENTRY("X", "2026-11-24T10:00:00Z", ATT(2, "failed")),
         "", RS_PROGRESS_E_INVALID, "bp.json: failed[0] \"X\" is also completed[0]: a school is either completed or failed", 0, 0, 0, 0, false},
        {"\"A\", \"X\"", "", ENTRY("X", "2026-11-24T10:00:00Z", ATT(1, "failed")), "", RS_PROGRESS_E_INVALID,
         "bp.json: pending[1] \"X\" is also failed[0]: remove it from \"failed\" to run it again", 0, 0, 0, 0, false},
        {"\"A\"", "", ENTRY("X", "2026-11-24T10:00:00Z", ATT(1, "failed")), ", \"current\": {\"name\": \"X\"}",
         RS_PROGRESS_E_INVALID, "bp.json: current \"X\" is also failed[0]", 0, 0, 0, 0, false},
        {"\"A\"", ENTRY("C", "2026-11-24T10:00:00Z", ATT(1, "completed")), "",
         ", \"current\": {\"name\": \"C\", \"run_token\": \"c:4:1:ab\"}", RS_PROGRESS_E_INVALID,
         "bp.json: current \"C\" is also completed[0]: set \"current\" to null once no process of its run "
         "(RALPHSUP_RUN_TOKEN=c:4:1:ab) is alive", 0, 0, 0, 0, false},
        {"\"A\"", "", "", ", \"retry_history\": [" ENTRY("H", "2026-11-24T09:00:00Z", ATT(1, "failed")) "]",
         RS_PROGRESS_E_INVALID, "bp.json: retry_history[0] \"H\" is neither pending nor current", 0, 0, 0, 0, false},
        /* types and required keys */
        {"\"A\"", "{\"name\": \"C\", \"coaches\": \"4\"}", "", "", RS_PROGRESS_E_INVALID,
         "bp.json: completed[0].coaches must be a whole number >= 0 (got a string \"4\")", 0, 0, 0, 0, false},
        {"\"A\"", "{\"name\": \"C\", \"overlaps\": 1.5}", "", "", RS_PROGRESS_E_INVALID,
         "bp.json: completed[0].overlaps must be a whole number >= 0 (got 1.5)", 0, 0, 0, 0, false},
        {"\"A\"", "{\"name\": \"C\", \"attempts\": [{\"iteration\": -1}]}", "", "", RS_PROGRESS_E_INVALID,
         "bp.json: completed[0].attempts[0].iteration must be a whole number >= 0 (got -1)", 0, 0, 0, 0, false},
        {"\"A\"", "{\"name\": \"C\", \"attempts\": {}}", "", "", RS_PROGRESS_E_INVALID,
         "bp.json: completed[0].attempts must be an array of attempt objects (got an object)", 0, 0, 0, 0, false},
        {"\"A\"", "", "", ", \"current\": {\"name\": \"B\", \"pid\": \"12\"}", RS_PROGRESS_E_INVALID,
         "bp.json: current.pid must be a whole number >= 0 (got a string \"12\")", 0, 0, 0, 0, false},
        {"\"A\"", "", "", ", \"cost_estimated\": 1", RS_PROGRESS_E_INVALID, "bp.json: cost_estimated must be true or false (got 1)", 0, 0, 0, 0, false},
        {"\"A\"", "", "", ", \"current\": [1]", RS_PROGRESS_E_INVALID, "bp.json: current must be an object or null (got an array)", 0, 0, 0, 0, false},
        {"\"A\"", "", "", ", \"status\": \"paused\"", RS_PROGRESS_E_INVALID, "bp.json: status must be one of", 0, 0, 0, 0, false},
        {"\"A\"", "", "", ", \"schema_version\": \"1\"", RS_PROGRESS_E_INVALID,
         "bp.json: schema_version must be a whole number >= 1 (got a string \"1\")", 0, 0, 0, 0, false},
        {"\"A\"", "{\"name\": \"C\", \"cost_usd\": \"0.5\"}", "", "", RS_PROGRESS_E_INVALID,
         "bp.json: completed[0].cost_usd must be a number >= 0 (USD) (got a string \"0.5\")", 0, 0, 0, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct vcase *k = &cases[i];
        char *doc = v1_doc(k->pending, k->completed, k->failed, k->more);
        struct rs_diags d;
        rs_diags_init(&d);
        struct rs_progress *p = NULL;
        int r = rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d);
        cr_expect_eq(r, k->rc, "case %zu: rc %d: %s (%s)", i, r, doc, d.n ? d.msgs[0] : "");
        const struct rs_diags *said = r == 0 && p ? &p->repairs : &d;
        bool found = !k->said;
        for (size_t m = 0; k->said && m < said->n; m++)
            found = found || strstr(said->msgs[m], k->said);
        cr_expect(found, "case %zu: \"%s\" not said; said: %s", i, k->said ? k->said : "",
                  said->n ? said->msgs[0] : "(nothing)");
        if (!k->said && r == 0)
            cr_expect_eq(p->repairs.n, 0, "case %zu: repaired %s", i, p->repairs.n ? p->repairs.msgs[0] : "");
        if (r == 0 && p) {
            cr_expect_eq(p->npending, k->npending, "case %zu: %zu pending", i, p->npending);
            cr_expect_eq(p->ncompleted, k->ncompleted, "case %zu: %zu completed", i, p->ncompleted);
            cr_expect_eq(p->nfailed, k->nfailed, "case %zu: %zu failed", i, p->nfailed);
            cr_expect_eq(p->nhistory, k->nhistory, "case %zu: %zu history", i, p->nhistory);
            cr_expect_eq(p->current != NULL, k->current, "case %zu: current", i);
            /* A repaired state passes the check again with nothing to say. */
            struct rs_diags f, rf;
            rs_diags_init(&f);
            rs_diags_init(&rf);
            cr_expect_eq(rs_progress_check(p, "bp.json", &f, &rf), 0, "case %zu: not idempotent", i);
            cr_expect_eq(rf.n, 0, "case %zu", i);
            rs_diags_deinit(&f);
            rs_diags_deinit(&rf);
        } else {
            cr_expect_null(p, "case %zu", i);
        }
        rs_progress_free(p);
        rs_diags_deinit(&d);
        free(doc);
    }
}

Test(progress, merged_duplicates_keep_every_attempt_and_the_newest_counts)
{
    const char *doc = "{\"schema_version\": 1, \"batch_name\": \"b\", \"pending\": [], \"failed\": [], \"iterations\": 3,"
                      " \"cost_usd\": 0.75, \"completed\": ["
                      "{\"name\": \"C\", \"finished\": \"2026-11-24T12:00:00Z\", \"started\": \"2026-11-24T11:00:00Z\", "
                      "\"coaches\": 5, \"cost_usd\": 0.25, \"attempts\": [{\"iteration\": 3, \"cost_usd\": 0.25}]},"
                      "{\"name\": \"C\", \"finished\": \"2026-11-24T10:00:00Z\", \"started\": \"2026-11-24T09:00:00Z\", "
                      "\"coaches\": 4, \"cost_usd\": 0.5, \"csv\": \"output/c.csv\", \"attempts\": ["
                      "{\"iteration\": 1, \"cost_usd\": 0.25}, {\"iteration\": 2, \"cost_usd\": 0.25}]}]}";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_assert_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_assert_eq(p->ncompleted, 1);
    const struct rs_school_state *c = &p->completed[0];
    cr_expect_eq(c->coaches, 5, "the latest finished entry's counts are kept");
    cr_expect_str_eq(c->csv, "output/c.csv", "a csv path of the other entry fills a missing one");
    cr_expect_float_eq(c->cost_usd, 0.75, 1e-9);
    cr_assert_eq(c->nattempts, 3);
    for (size_t i = 0; i < 3; i++)
        cr_expect_eq(c->attempts[i].iteration, (int64_t)i + 1, "attempts in iteration order");
    char b[40];
    cr_expect_str_eq(rs_time_iso(c->started_ms, b, sizeof b), "2026-11-24T09:00:00Z", "the first start is kept");
    rs_progress_free(p);
    rs_diags_deinit(&d);
}

Test(progress, required_keys_of_schema_version_1)
{
    const char *keys[] = {"pending", "completed", "failed", "iterations"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *o = json_pack("{si ss s[s] s[] s[] si sf}", "schema_version", 1, "batch_name", "b", "pending", "A",
                              "completed", "failed", "iterations", 2, "cost_usd", 0.5);
        json_object_del(o, keys[i]);
        char *doc = json_dumps(o, 0);
        json_decref(o);
        struct rs_diags d;
        rs_diags_init(&d);
        struct rs_progress *p = NULL;
        cr_expect_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d), RS_PROGRESS_E_INVALID, "%s", doc);
        char *want = rs_xasprintf("bp.json: missing required field \"%s\"", keys[i]);
        cr_expect(d.n == 1 && strncmp(d.msgs[0], want, strlen(want)) == 0, "%s: %s", want, d.n ? d.msgs[0] : "");
        free(want);
        rs_diags_deinit(&d);
        free(doc);
    }
    /* A missing cost_usd is the sum of the attempts, said; a seed file needs none of them. */
    const char *doc = "{\"schema_version\": 1, \"batch_name\": \"b\", \"pending\": [], \"failed\": [], \"iterations\": 2, "
                      "\"completed\": [{\"name\": \"C\", \"attempts\": [{\"cost_usd\": 0.25}, {\"cost_usd\": 0.5, "
                      "\"cost_estimated\": true}]}]}";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_assert_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_float_eq(p->cost_usd, 0.75, 1e-9);
    cr_expect(p->cost_estimated);
    cr_assert_eq(p->repairs.n, 1);
    cr_expect_str_eq(p->repairs.msgs[0], "bp.json: cost_usd was missing: recomputed as $0.75, the sum of the 2 attempts recorded");
    rs_progress_free(p);
    const char *seed = "{\"batch_name\": \"b\", \"pending\": [\"A\"]}";
    p = NULL;
    cr_assert_eq(rs_progress_parse(seed, strlen(seed), "bp.json", &p, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_assert_eq(p->repairs.n, 1);
    cr_expect(strstr(p->repairs.msgs[0], "no schema_version: read as a seed progress file and upgraded"), "%s",
              p->repairs.msgs[0]);
    cr_expect_eq(p->schema_version, 1);
    rs_progress_free(p);
    rs_diags_deinit(&d);
}

Test(progress, a_utf8_bom_is_skipped_and_said)
{
    const char *doc = "\xEF\xBB\xBF{\"batch_name\": \"bom\", \"pending\": [\"A\"]}";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_assert_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_str_eq(p->batch_name, "bom");
    bool said = false;
    for (size_t i = 0; i < p->repairs.n; i++)
        said = said || strstr(p->repairs.msgs[i], "bp.json: skipped the UTF-8 byte order mark");
    cr_expect(said);
    char *out = rs_progress_format(p);
    cr_expect_eq(out[0], '{', "never written back");
    free(out);
    rs_progress_free(p);
    /* A BOM anywhere else is still not JSON. */
    const char *bad = "{\"batch_name\": \"bom\", \xEF\xBB\xBF \"pending\": []}";
    p = NULL;
    cr_expect_eq(rs_progress_parse(bad, strlen(bad), "bp.json", &p, &d), RS_PROGRESS_E_INVALID);
    rs_diags_deinit(&d);
}

Test(progress, unknown_members_survive_a_save)
{
    /* Shallow and deep unknown members (the deep case once went through a DOM fallback). */
    for (int fallback = 0; fallback < 2; fallback++) {
        char *deep = rs_xstrdup("0");
        for (int i = 0; fallback && i < 70; i++) {
            char *t = rs_xasprintf("[%s]", deep);
            free(deep);
            deep = t;
        }
        char *doc = rs_xasprintf(
            "{\"schema_version\": 1, \"batch_name\": \"b\", \"note\": {\"by\": \"ops\", \"n\": [1, 2.5, null]}, "
            "\"pending\": [], \"failed\": [{\"name\": \"F\", \"reason\": \"r\", \"ticket\": \"T-1\"}], \"iterations\": 1, "
            "\"cost_usd\": 0.25, \"a member name longer than thirty-two bytes\": %s, "
            "\"completed\": [{\"name\": \"C\", \"reviewed\": true, \"attempts\": [{\"iteration\": 1, \"model\": "
            "\"claude-x\", \"usage\": {\"in\": 3}}]}], \"current\": {\"name\": \"D\", \"host\": \"box1\"}}",
            deep);
        struct rs_diags d;
        rs_diags_init(&d);
        struct rs_progress *p = NULL;
        cr_assert_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d), 0, "%s", d.n ? d.msgs[0] : "");
        char *out = rs_progress_format(p);
        json_t *o = json_loads(out, 0, NULL);
        cr_assert_not_null(o, "%s", out);
        json_t *want = json_loads(doc, 0, NULL);
        cr_assert_not_null(want);
        cr_expect(json_equal(json_object_get(o, "note"), json_object_get(want, "note")), "%s", out);
        cr_expect(json_equal(json_object_get(o, "a member name longer than thirty-two bytes"),
                             json_object_get(want, "a member name longer than thirty-two bytes")),
                  "fallback %d", fallback);
        json_t *c = json_array_get(json_object_get(o, "completed"), 0);
        cr_expect(json_is_true(json_object_get(c, "reviewed")));
        json_t *a = json_array_get(json_object_get(c, "attempts"), 0);
        cr_expect_str_eq(json_string_value(json_object_get(a, "model")), "claude-x");
        cr_expect_eq(json_integer_value(json_object_get(json_object_get(a, "usage"), "in")), 3);
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(o, "failed"), 0), "ticket")),
                         "T-1");
        cr_expect_str_eq(json_string_value(json_object_get(json_object_get(o, "current"), "host")), "box1");
        /* Known members are not duplicated into the extras, and a second round trip is stable. */
        cr_expect_null(p->extra ? strstr(p->extra, "\"pending\"") : NULL, "%s", p->extra);
        struct rs_progress *q = NULL;
        cr_assert_eq(rs_progress_parse(out, strlen(out), "bp.json", &q, &d), 0);
        char *out2 = rs_progress_format(q);
        cr_expect_str_eq(out, out2);
        free(out2);
        rs_progress_free(q);
        json_decref(o);
        json_decref(want);
        free(out);
        rs_progress_free(p);
        rs_diags_deinit(&d);
        free(doc);
        free(deep);
    }
}

Test(progress, status_and_outcome_are_enums_named_only_in_the_file)
{
    /* Every name converts both ways, through the one table of each. */
    for (int st = RS_STATUS_INITIALIZED; st <= RS_STATUS_CANCELLED; st++) {
        const char *n = rs_progress_status_name((enum rs_progress_status)st);
        enum rs_progress_status back = RS_STATUS_INITIALIZED;
        cr_assert(rs_progress_status_parse(n, &back), "%s", n);
        cr_expect_eq((int)back, st, "%s", n);
    }
    enum rs_progress_status untouched = RS_STATUS_STOPPED;
    cr_expect(!rs_progress_status_parse("paused", &untouched));
    cr_expect(!rs_progress_status_parse(NULL, &untouched));
    cr_expect_eq(untouched, RS_STATUS_STOPPED);
    for (int o = RS_OUTCOME_COMPLETED; o <= RS_OUTCOME_STOPPED; o++)
        cr_expect_eq((int)rs_outcome_parse(rs_outcome_name((enum rs_outcome)o)), o);
    cr_expect_str_eq(rs_outcome_name(RS_OUTCOME_FAILED), "failed");
    cr_expect_eq(rs_outcome_parse(NULL), RS_OUTCOME_NONE);
    cr_expect_eq(rs_outcome_parse("paused"), RS_OUTCOME_OTHER);
    cr_expect_null(rs_outcome_name(RS_OUTCOME_NONE));

    /* An outcome this version does not know is kept as written; a null one stays null. */
    const char *doc = "{\"schema_version\": 1, \"batch_name\": \"b\", \"status\": \"finished\", \"pending\": [], "
                      "\"failed\": [], \"iterations\": 2, \"cost_usd\": 0, \"completed\": [{\"name\": \"C\", "
                      "\"attempts\": [{\"iteration\": 1, \"outcome\": \"paused\"}, {\"iteration\": 2, \"outcome\": "
                      "null}, {\"iteration\": 3, \"outcome\": \"completed\"}]}]}";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_assert_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_eq(p->status, RS_STATUS_FINISHED);
    cr_assert_eq(p->completed[0].nattempts, 3);
    cr_expect_eq(p->completed[0].attempts[0].outcome, RS_OUTCOME_OTHER);
    cr_expect_str_eq(p->completed[0].attempts[0].outcome_other, "paused");
    cr_expect_eq(p->completed[0].attempts[1].outcome, RS_OUTCOME_NONE);
    cr_expect_eq(p->completed[0].attempts[2].outcome, RS_OUTCOME_COMPLETED);
    cr_expect_null(p->completed[0].attempts[2].outcome_other);
    char *out = rs_progress_format(p);
    json_t *o = json_loads(out, 0, NULL);
    cr_assert_not_null(o, "%s", out);
    cr_expect_str_eq(json_string_value(json_object_get(o, "status")), "finished");
    json_t *att = json_object_get(json_array_get(json_object_get(o, "completed"), 0), "attempts");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(att, 0), "outcome")), "paused");
    cr_expect(json_is_null(json_object_get(json_array_get(att, 1), "outcome")));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(att, 2), "outcome")), "completed");
    json_decref(o);
    free(out);
    rs_progress_free(p);

    /* An unknown status is refused, naming the field and the value. */
    const char *bad = "{\"schema_version\": 1, \"batch_name\": \"b\", \"status\": \"paused\", \"pending\": [], "
                      "\"completed\": [], \"failed\": [], \"iterations\": 0, \"cost_usd\": 0}";
    p = NULL;
    cr_expect_eq(rs_progress_parse(bad, strlen(bad), "bp.json", &p, &d), RS_PROGRESS_E_INVALID);
    char *all = rs_diags_join(&d);
    cr_expect(strstr(all, "status must be one of initialized, running, finished, stopped, cancelled (got \"paused\")"),
              "%s", all);
    free(all);
    rs_progress_free(p);
    rs_diags_deinit(&d);
}

/* Finding of tests/fuzz (fuzz_progress): a time before 1970 was saved as null, so the file did not round-trip. */
Test(progress, fuzz_a_time_before_1970_is_refused_with_its_field)
{
    const char *f = "{\"schema_version\":1,\"batch_name\":\"b\",\"pending\":[],\"completed\":[],\"iterations\":0,"
                    "\"cost_usd\":0.2,\"failed\":[{\"name\":\"A\",\"slug\":\"a\",\"started\":\"1013-11-24T20:07:00Z\","
                    "\"finished\":\"2026-11-24T20:08:00Z\",\"reason\":\"r\",\"attempts\":[]}]}";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_expect_eq(rs_progress_parse(f, strlen(f), "bp.json", &p, &d), RS_PROGRESS_E_INVALID);
    cr_assert_eq(d.n, 1);
    cr_expect(strstr(d.msgs[0], "failed[0].started") && strstr(d.msgs[0], "after 1970"), "%s", d.msgs[0]);
    rs_diags_deinit(&d);
    /* The epoch itself is "absent" in memory: refused too; one second later loads and saves back as written. */
    rs_diags_init(&d);
    const char *at = "{\"schema_version\":1,\"batch_name\":\"b\",\"pending\":[],\"completed\":[],\"failed\":[],"
                     "\"iterations\":0,\"cost_usd\":0,\"started\":\"1970-01-01T00:00:00Z\"}";
    cr_expect_eq(rs_progress_parse(at, strlen(at), "bp.json", &p, &d), RS_PROGRESS_E_INVALID);
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    const char *ok = "{\"schema_version\":1,\"batch_name\":\"b\",\"pending\":[],\"completed\":[],\"failed\":[],"
                     "\"iterations\":0,\"cost_usd\":0,\"started\":\"1970-01-01T00:00:01Z\"}";
    cr_assert_eq(rs_progress_parse(ok, strlen(ok), "bp.json", &p, &d), 0);
    char *text = rs_progress_format(p);
    cr_expect(strstr(text, "\"started\": \"1970-01-01T00:00:01Z\""), "%s", text);
    free(text);
    rs_progress_free(p);
    rs_diags_deinit(&d);
}

/* jobs > 1: every school in flight round-trips through in_progress; current is the first. */
Test(progress, in_progress_lists_every_school_in_flight)
{
    struct rs_progress *p = rs_progress_new("west", 1795561200000);
    rs_progress_push_pending(p, "A", false);
    const char *names[] = {"B", "C", "D"};
    for (int i = 0; i < 3; i++) {
        struct rs_current *c = rs_progress_inflight_add(p, names[i]);
        c->attempt = 1;
        c->iteration = i + 1;
        c->pid = 100 + i;
        c->run_token = rs_xasprintf("%s:%d:1:ab", names[i], i + 1);
    }
    cr_expect_eq(rs_progress_ninflight(p), 3);
    char *text = rs_progress_format(p);
    cr_expect(strstr(text, "\"current_school\": \"B\""), "%s", text);
    cr_expect(strstr(text, "\"in_progress\": ["), "%s", text);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *q = NULL;
    cr_assert_eq(rs_progress_parse(text, strlen(text), "t.json", &q, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_eq(rs_progress_ninflight(q), 3);
    cr_expect_str_eq(q->current->name, "B");
    cr_expect_str_eq(q->current->next->name, "C");
    cr_expect_eq(q->current->next->next->pid, 102);
    cr_expect_str_eq(q->current->next->next->run_token, "D:3:1:ab");
    cr_expect(rs_progress_is_known(q, "C"));
    cr_expect(rs_progress_inflight_remove(q, "C"));
    cr_expect_eq(rs_progress_ninflight(q), 2);
    cr_expect_str_eq(q->current->next->name, "D");
    cr_expect_not(rs_progress_inflight_find(q, "C"));
    /* a school both in flight and pending: removed from pending (the check's repair) */
    rs_progress_push_pending(q, "D", false);
    struct rs_diags fixed, refused;
    rs_diags_init(&fixed);
    rs_diags_init(&refused);
    cr_expect_eq(rs_progress_check(q, "t.json", &fixed, &refused), 1);
    cr_expect_eq(q->npending, 1);
    cr_expect(strstr(fixed.msgs[0], "in_progress[1] \"D\"") || strstr(fixed.msgs[0], "pending"), "%s", fixed.msgs[0]);
    /* "current" contradicting in_progress[0] is refused */
    const char *bad = "{\"schema_version\": 1, \"batch_name\": \"w\", \"pending\": [], \"completed\": [], \"failed\": [], "
                      "\"iterations\": 2, \"cost_usd\": 0, \"current\": {\"name\": \"X\"}, "
                      "\"in_progress\": [{\"name\": \"Y\"}, {\"name\": \"X\"}]}";
    struct rs_progress *r = NULL;
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    cr_expect_eq(rs_progress_parse(bad, strlen(bad), "bad.json", &r, &d), RS_PROGRESS_E_INVALID);
    cr_expect(d.n && strstr(d.msgs[0], "must be the first school of in_progress"), "%s", d.n ? d.msgs[0] : "");
    rs_progress_free(r);
    rs_diags_deinit(&fixed);
    rs_diags_deinit(&refused);
    rs_diags_deinit(&d);
    free(text);
    rs_progress_free(q);
    rs_progress_free(p);
}

/*
 * The streaming writer (store/progress_write.c) must write exactly what
 * jansson's pretty form of the same document is (the format the schema was
 * first written in): parse its text with jansson, dump it again with the old
 * flags, compare the bytes. The state has every kind of member: each list,
 * two schools in flight, a stop, dropped events, extras nested at every
 * level, text with control characters, quotes, non-ASCII and bytes that are
 * not UTF-8, costs that print with an exponent, whole-number reals.
 */
Test(progress, streaming_writer_writes_jansson_pretty_form_byte_for_byte)
{
    const char *doc =
        "{\"schema_version\": 1, \"batch_name\": \"b\\\"q\\u00e9\", \"status\": \"stopped\", "
        "\"started\": \"2026-11-24T20:00:00Z\", \"note\": {\"by\": \"ops\", \"deep\": [[1, {\"x\": []}], {}], \"r\": 1e-7}, "
        "\"pending\": [\"P1\", \"P\\t2\"], \"failed\": [{\"name\": \"F\", \"slug\": \"f\", \"reason\": \"bad\\nline \\u0001\", "
        "\"coaches\": 3, \"ticket\": {\"id\": [1, 2]}, \"attempts\": [{\"attempt\": 1, \"iteration\": 2, \"outcome\": \"odd\", "
        "\"cost_usd\": 0.000001, \"usage\": {\"in\": 3}}]}], "
        "\"completed\": [{\"name\": \"C\", \"slug\": \"c\", \"started\": \"2026-11-24T20:00:00Z\", "
        "\"finished\": \"2026-11-24T20:06:12Z\", \"coaches\": 42, \"overlaps\": 3, \"csv\": \"output/c.csv\", "
        "\"review\": \"30 of 42\", \"cost_usd\": 2, \"attempts\": []}], "
        "\"retry_history\": [{\"name\": \"P1\", \"slug\": \"p1\", \"attempts\": [{\"attempt\": 1, \"iteration\": 1, "
        "\"outcome\": \"transient\", \"reason\": \"429\"}]}], "
        "\"in_progress\": [{\"name\": \"D\", \"slug\": \"d\", \"attempt\": 1, \"iteration\": 3, \"run_token\": \"t\", "
        "\"host\": \"box\"}, {\"name\": \"E\", \"attempt\": 2, \"iteration\": 4}], "
        "\"iterations\": 4, \"cost_usd\": 123456.5, \"events_dropped\": 2, "
        "\"stopped\": {\"reason\": \"max_cost_usd reached\", \"limit\": \"max_cost_usd\", \"at\": \"2026-11-24T21:00:00Z\"}}";
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    cr_assert_eq(rs_progress_parse(doc, strlen(doc), "bp.json", &p, &d), 0, "%s", d.n ? d.msgs[0] : "");
    /* Text that is not UTF-8, from the agent: written cleaned, never dropped. */
    free(p->failed[0].attempts[0].reason);
    p->failed[0].attempts[0].reason = rs_xstrdup("cut \xC3 and \xFF end");
    char *out = rs_progress_format(p);
    json_error_t e;
    json_t *o = json_loads(out, 0, &e);
    cr_assert_not_null(o, "%d:%d %s\n%s", e.line, e.column, e.text, out);
    char *ref = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    cr_assert_not_null(ref);
    size_t n = strlen(ref);
    cr_expect_eq(strlen(out), n + 1);
    cr_expect_eq(out[n], '\n');
    out[n] = '\0';
    cr_expect_str_eq(out, ref);
    cr_expect(strstr(out, "\"reason\": \"cut \xEF\xBF\xBD and \xEF\xBF\xBD end\""), "%s", out);
    cr_expect(strstr(out, "\"cost_usd\": 1e-6"), "%s", out);
    cr_expect(strstr(out, "\"cost_usd\": 2.0"), "%s", out);
    cr_expect(strstr(out, "\"deep\": [\n      [\n        1,"), "%s", out);
    free(ref);
    json_decref(o);
    free(out);
    rs_progress_free(p);
    rs_diags_deinit(&d);
}

Test(progress, streaming_writer_redacts_an_api_key_in_any_string)
{
    struct rs_progress *p = rs_progress_new("b", 1795561200000);
    struct rs_school_state *s = rs_progress_fail(p, "F", "f", "agent said sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUVWXYZ and left");
    s->extra = rs_xstrdup("{\"note\": [\"sk-ant-api03-ZYXWVUTSRQPONMLKJIHGFEDCBA\"]}");
    char *out = rs_progress_format(p);
    cr_expect_null(strstr(out, "ABCDEFGHIJ"), "%s", out);
    cr_expect_null(strstr(out, "ZYXWVUTSRQ"), "%s", out);
    cr_expect(strstr(out, "\"reason\": \"agent said sk-ant-***REDACTED*** and left\""), "%s", out);
    cr_expect(strstr(out, "\"note\": [\n        \"sk-ant-***REDACTED***\"\n      ]"), "%s", out);
    free(out);
    rs_progress_free(p);
}

/* ---- sealed segments (big batches) -------------------------------------------- */

/* A batch of @n schools, the first @done of them completed (one attempt each, csv, coaches). */
static struct rs_progress *batch_of(size_t n, size_t done)
{
    struct rs_progress *p = rs_progress_new("big", 1795561200000);
    char name[64], slug[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "School %03zu", i);
        rs_progress_push_pending(p, name, false);
    }
    for (size_t i = 0; i < done; i++) {
        snprintf(name, sizeof name, "School %03zu", i);
        snprintf(slug, sizeof slug, "school-%03zu", i);
        cr_assert(rs_progress_remove_pending(p, name));
        struct rs_school_state *s = rs_progress_complete(p, name, slug);
        struct rs_attempt *a = rs_school_state_add_attempt(s);
        a->attempt = 1;
        a->iteration = (int64_t)i + 1;
        a->outcome = RS_OUTCOME_COMPLETED;
        a->started_ms = 1795561200000 + (int64_t)i * 1000;
        a->finished_ms = a->started_ms + 5000; /* whole seconds: the file's times are */
        a->cost_usd = 0.01 * (double)(i + 1);
        a->exit_status = rs_xstrdup("exit 0");
        s->started_ms = a->started_ms;
        s->finished_ms = a->finished_ms;
        s->cost_usd = a->cost_usd;
        s->coaches = (int)i + 3;
        s->csv = rs_xasprintf("output/%s.csv", slug);
        p->cost_usd += a->cost_usd;
        p->iterations++;
    }
    return p;
}

Test(progress, completed_entries_are_sealed_into_segments_and_read_back_whole)
{
    char *d = tmpdir();
    char *path = rs_path_join(d, "batch_progress.json");
    struct rs_progress *p = batch_of(10, 0);
    p->seal_every = 3;
    cr_assert_eq(rs_progress_save(p, path, 1795561300000), 0);
    cr_assert_eq(p->nsegments, 0);
    rs_progress_free(p);
    /* 7 completed with seal_every 3: one save seals all 7 at once (segment 1), written in full no more. */
    p = batch_of(10, 7);
    p->seal_every = 3;
    char *full = rs_progress_format(p);
    cr_assert_eq(rs_progress_save(p, path, 1795561300000), 0);
    cr_assert_eq(p->nsegments, 1);
    cr_assert_str_eq(p->segments[0], "batch_progress.segments/000001.json");
    char *seg = rs_progress_segment_path(p, path, 0);
    cr_assert(rs_file_exists(seg), "%s", seg);

    /* The file: names only in completed (as the seed schema has them) and the segment named. */
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    cr_assert(root, "%s", je.text);
    json_t *c = json_object_get(root, "completed");
    cr_assert_eq(json_array_size(c), 7);
    cr_assert(json_is_string(json_array_get(c, 0)));
    cr_assert_str_eq(json_string_value(json_array_get(c, 6)), "School 006");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(root, "segments"), 0)),
                     "batch_progress.segments/000001.json");
    json_decref(root);
    json_t *sj = json_load_file(seg, 0, &je);
    cr_assert(sj, "%s", je.text);
    cr_assert_eq(json_integer_value(json_object_get(sj, "segment")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(sj, "batch_name")), "big");
    cr_assert_eq(json_array_size(json_object_get(sj, "completed")), 7);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(sj, "completed"), 2), "csv")),
                     "output/school-002.csv");
    json_decref(sj);

    /* Loading puts every entry back whole: its text in full is what it was before sealing. */
    struct rs_progress *q = NULL;
    struct rs_diags dg;
    rs_diags_init(&dg);
    cr_assert_eq(rs_progress_load(path, &q, &dg), 0, "%s", dg.n ? dg.msgs[0] : "");
    cr_assert_eq(q->ncompleted, 7);
    cr_assert_eq(q->repairs.n, 0, "%s", q->repairs.n ? q->repairs.msgs[0] : "");
    cr_assert_eq(q->completed[4].segment, 1);
    cr_assert_eq(q->completed[4].coaches, 7);
    cr_assert_eq(q->completed[4].nattempts, 1);
    cr_assert(q->segment_saved[0]);
    for (size_t i = 0; i < q->ncompleted; i++)
        q->completed[i].segment = 0;
    q->last_updated_ms = p->last_updated_ms = 0;
    free(full);
    full = rs_progress_format(p);
    for (size_t i = 0; i < p->ncompleted; i++)
        p->completed[i].segment = 0;
    char *a = rs_progress_format(p);
    char *b = rs_progress_format(q);
    cr_assert_str_eq(a, b);
    cr_assert(strlen(full) < strlen(a), "the sealed file is the smaller one");
    free(a);
    free(b);
    free(full);
    rs_progress_free(q);
    rs_diags_deinit(&dg);
    free(seg);
    rs_progress_free(p);
    free(path);
    free(d);
}

Test(progress, a_sealed_entry_that_changes_is_written_in_full_again)
{
    char *d = tmpdir();
    char *path = rs_path_join(d, "p.json");
    struct rs_progress *p = batch_of(6, 4);
    p->seal_every = 2;
    cr_assert_eq(rs_progress_save(p, path, 1795561300000), 0);
    cr_assert_eq(p->nsegments, 1);
    /* Two more completed: a second segment with just those two. */
    rs_progress_free(p);
    struct rs_diags dg;
    rs_diags_init(&dg);
    cr_assert_eq(rs_progress_load(path, &p, &dg), 0, "%s", dg.n ? dg.msgs[0] : "");
    p->seal_every = 2;
    for (int i = 4; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "School %03d", i);
        cr_assert(rs_progress_remove_pending(p, name));
        rs_progress_complete(p, name, "s");
    }
    cr_assert_eq(rs_progress_save(p, path, 1795561300000), 0);
    cr_assert_eq(p->nsegments, 2);
    cr_assert_str_eq(p->segments[1], "p.segments/000002.json");
    cr_assert_eq(p->completed[5].segment, 2);
    /* A duplicate completed entry of School 001 (merged by the check): School 001 is in full again. */
    struct rs_school_state *dup = rs_progress_complete(p, "School 001", "school-001");
    dup->finished_ms = 1795569999000;
    struct rs_diags fixed, refused;
    rs_diags_init(&fixed);
    rs_diags_init(&refused);
    cr_assert_eq(rs_progress_check(p, "t", &fixed, &refused), 1);
    p->seal_every = 0;
    cr_assert_eq(rs_progress_save(p, path, 1795561300000), 0);
    rs_progress_free(p);
    cr_assert_eq(rs_progress_load(path, &p, &dg), 0, "%s", dg.n ? dg.msgs[0] : "");
    cr_assert_eq(p->ncompleted, 6);
    size_t whole = 0;
    for (size_t i = 0; i < p->ncompleted; i++)
        whole += p->completed[i].segment == 0;
    cr_assert_eq(whole, 1, "only the merged entry is in full");
    for (size_t i = 0; i < p->ncompleted; i++)
        if (strcmp(p->completed[i].name, "School 001") == 0)
            cr_assert_eq(p->completed[i].finished_ms, 1795569999000, "the merged entry, not the stale sealed one");
    rs_progress_free(p);
    rs_diags_deinit(&fixed);
    rs_diags_deinit(&refused);
    rs_diags_deinit(&dg);
    free(path);
    free(d);
}

/* Reads every segment from the one file @ud. */
static int read_seg_file(void *ud, const char *rel, char **data, size_t *len)
{
    (void)rel;
    return rs_file_read(ud, 1 << 20, data, len);
}

Test(progress, a_missing_or_foreign_segment_makes_the_file_unreadable_with_its_name)
{
    char *d = tmpdir();
    char *path = rs_path_join(d, "batch_progress.json");
    struct rs_progress *p = batch_of(5, 4);
    p->seal_every = 4;
    cr_assert_eq(rs_progress_save(p, path, 1795561300000), 0);
    char *seg = rs_progress_segment_path(p, path, 0);
    char *text;
    size_t len;
    cr_assert_eq(rs_file_read(seg, 1 << 20, &text, &len), 0);
    struct rs_diags dg;
    rs_diags_init(&dg);
    struct rs_progress *q = NULL;
    /* Without a reader (a buffer from elsewhere), the segments cannot be read: refused, never half read. */
    char *main_text;
    size_t mlen;
    cr_assert_eq(rs_file_read(path, 1 << 20, &main_text, &mlen), 0);
    cr_assert_eq(rs_progress_parse(main_text, mlen, "x.json", &q, &dg), RS_PROGRESS_E_INVALID);
    cr_assert(strstr(dg.msgs[0], "segments[0]"), "%s", dg.msgs[0]);
    rs_diags_deinit(&dg);
    /* Missing. */
    cr_assert_eq(unlink(seg), 0);
    rs_diags_init(&dg);
    cr_assert_eq(rs_progress_load(path, &q, &dg), RS_PROGRESS_E_INVALID);
    cr_assert(strstr(dg.msgs[0], "batch_progress.segments/000001.json") && strstr(dg.msgs[0], "No such file"), "%s",
              dg.msgs[0]);
    rs_diags_deinit(&dg);
    /* Another batch's. */
    char *other = rs_xstrdup(text);
    char *at = strstr(other, "\"big\"");
    memcpy(at, "\"bog\"", 5);
    cr_assert_eq(rs_file_write_atomic(seg, other, strlen(other), 0644), 0);
    rs_diags_init(&dg);
    cr_assert_eq(rs_progress_load(path, &q, &dg), RS_PROGRESS_E_INVALID);
    cr_assert(strstr(dg.msgs[0], "not this batch's segment"), "%s", dg.msgs[0]);
    rs_diags_deinit(&dg);
    /* Truncated: a position in the segment file. */
    cr_assert_eq(rs_file_write_atomic(seg, text, len / 2, 0644), 0);
    rs_diags_init(&dg);
    cr_assert_eq(rs_progress_load(path, &q, &dg), RS_PROGRESS_E_INVALID);
    cr_assert(strstr(dg.msgs[0], "000001.json:") && strstr(dg.msgs[0], "invalid JSON"), "%s", dg.msgs[0]);
    rs_diags_deinit(&dg);
    /* A sealed name that no segment holds: refused, never read as an empty entry. */
    char *lost = rs_xstrdup(main_text);
    char *at2 = strstr(lost, "\"School 002\"");
    cr_assert(at2);
    memcpy(at2, "\"School 009\"", 12);
    cr_assert_eq(rs_file_write_atomic(seg, text, len, 0644), 0);
    rs_diags_init(&dg);
    cr_assert_eq(rs_progress_parse_with(lost, strlen(lost), "x.json", read_seg_file, seg, &q, &dg), RS_PROGRESS_E_INVALID);
    cr_assert(strstr(dg.msgs[0], "\"School 009\" is a name only (sealed), but none of the 1 segments holds"), "%s",
              dg.msgs[0]);
    rs_diags_deinit(&dg);
    free(lost);
    /* A segment path that leaves the directory is refused by name. */
    char *evil = rs_xstrdup(main_text);
    at = strstr(evil, "\"batch_progress.segments/000001.json\"");
    cr_assert(at);
    const char *up = "\"../../../etc/passwd\"";
    memset(at, ' ', 37);
    memcpy(at, up, strlen(up));
    rs_diags_init(&dg);
    cr_assert_eq(rs_progress_parse(evil, strlen(evil), "x.json", &q, &dg), RS_PROGRESS_E_INVALID);
    cr_assert(strstr(dg.msgs[0], "segments[0]") && strstr(dg.msgs[0], "relative path below"), "%s", dg.msgs[0]);
    rs_diags_deinit(&dg);
    /* Restored: readable again. */
    cr_assert_eq(rs_file_write_atomic(seg, text, len, 0644), 0);
    rs_diags_init(&dg);
    cr_assert_eq(rs_progress_load(path, &q, &dg), 0, "%s", dg.n ? dg.msgs[0] : "");
    cr_assert_eq(q->completed[3].segment, 1);
    rs_progress_free(q);
    rs_diags_deinit(&dg);
    free(evil);
    free(other);
    free(main_text);
    free(text);
    free(seg);
    rs_progress_free(p);
    free(path);
    free(d);
}

/* A reader of segments from memory (what `recover` and `merge` do from git). */
static int read_from_text(void *ud, const char *rel, char **data, size_t *len)
{
    const char *const *kv = ud;
    if (strcmp(rel, kv[0]) != 0)
        return -ENOENT;
    *data = rs_xstrdup(kv[1]);
    *len = strlen(kv[1]);
    return 0;
}

Test(progress, a_file_parsed_from_elsewhere_writes_its_segments_on_its_next_save)
{
    char *d = tmpdir();
    char *path = rs_path_join(d, "batch_progress.json");
    struct rs_progress *p = batch_of(5, 3);
    p->seal_every = 3;
    cr_assert_eq(rs_progress_save(p, path, 1795561300000), 0);
    char *seg = rs_progress_segment_path(p, path, 0);
    char *text, *main_text;
    size_t len, mlen;
    cr_assert_eq(rs_file_read(seg, 1 << 20, &text, &len), 0);
    cr_assert_eq(rs_file_read(path, 1 << 20, &main_text, &mlen), 0);
    cr_assert_eq(unlink(seg), 0);
    const char *kv[2] = {"batch_progress.segments/000001.json", text};
    struct rs_diags dg;
    rs_diags_init(&dg);
    struct rs_progress *q = NULL;
    cr_assert_eq(rs_progress_parse_with(main_text, mlen, "git:batch_progress.json", read_from_text, kv, &q, &dg), 0,
                 "%s", dg.n ? dg.msgs[0] : "");
    cr_assert(!q->segment_saved[0]);
    cr_assert_eq(rs_progress_save(q, path, 1795561300000), 0);
    char *again;
    size_t alen;
    cr_assert_eq(rs_file_read(seg, 1 << 20, &again, &alen), 0, "the segment is back on disk");
    cr_assert_str_eq(again, text);
    free(again);
    rs_progress_free(q);
    rs_diags_deinit(&dg);
    free(main_text);
    free(text);
    free(seg);
    rs_progress_free(p);
    free(path);
    free(d);
}
