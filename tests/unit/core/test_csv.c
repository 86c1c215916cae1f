/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for csv.c: every RFC 4180 edge (quotes, embedded line breaks,
 * CRLF/LF/CR, BOM, empty fields, last line without a line end), the errors
 * with their line:col, the caps, chunked feeding, and rs_csv_verify().
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ralphsup/core/csv.h"
#include "ralphsup/base/util.h"

/* Records rendered as "line:[f1|f2]" joined by ';' (NUL bytes shown as \0). */
struct collect {
    struct rs_buf out;
    size_t stop_at; /* stop (return 77) at this record index when > 0 */
};

static int collect_cb(void *ud, const struct rs_csv_record *rec)
{
    struct collect *c = ud;
    if (c->stop_at && rec->index == c->stop_at)
        return 77;
    if (c->out.len)
        rs_buf_putc(&c->out, ';');
    rs_buf_printf(&c->out, "%zu:[", rec->line);
    for (size_t i = 0; i < rec->nfields; i++) {
        if (i)
            rs_buf_putc(&c->out, '|');
        for (size_t k = 0; k < rec->lens[i]; k++) {
            if (rec->fields[i][k] == '\0')
                rs_buf_puts(&c->out, "\\0");
            else
                rs_buf_putc(&c->out, rec->fields[i][k]);
        }
        cr_assert_eq(rec->fields[i][rec->lens[i]], '\0', "fields are NUL-terminated");
    }
    rs_buf_putc(&c->out, ']');
    return 0;
}

static char *parse(const char *in, size_t len, int *r, struct rs_csv_error *e, const struct rs_csv_opts *o)
{
    struct collect c = {0};
    rs_buf_init(&c.out);
    *r = rs_csv_parse_buffer(in, len, o, collect_cb, &c, e);
    return rs_buf_steal(&c.out);
}

struct okcase {
    const char *in;
    const char *want;
};

Test(csv, rfc4180_accepted_inputs)
{
    static const struct okcase cases[] = {
        {"a,b,c\n1,2,3\n", "1:[a|b|c];2:[1|2|3]"},
        {"a,b,c\r\n1,2,3\r\n", "1:[a|b|c];2:[1|2|3]"},
        {"a,b,c\r1,2,3\r", "1:[a|b|c];2:[1|2|3]"},                           /* lone CR line ends */
        {"a,b,c\n1,2,3", "1:[a|b|c];2:[1|2|3]"},                             /* no final line end */
        {"a,b\n,\n", "1:[a|b];2:[|]"},                                       /* empty fields */
        {"a,b\n\"\",\"\"\n", "1:[a|b];2:[|]"},                               /* empty quoted */
        {"a,b\n\"x,y\",\"say \"\"hi\"\"\"\n", "1:[a|b];2:[x,y|say \"hi\"]"}, /* comma and "" */
        {"a,b\n\"l1\nl2\",z\n", "1:[a|b];2:[l1\nl2|z]"},                     /* LF inside quotes */
        {"a,b\r\n\"l1\r\nl2\",z\r\n", "1:[a|b];2:[l1\r\nl2|z]"},             /* CRLF kept inside quotes */
        {"a,b\n\"x\ny\",z\nq,w\n", "1:[a|b];2:[x\ny|z];4:[q|w]"},            /* line numbers move */
        {"\xEF\xBB\xBFschool,x\n1,2\n", "1:[school|x];2:[1|2]"},             /* BOM dropped */
        {"\xEF\xBBz,x\n1,2\n", "1:[\xEF\xBBz|x];2:[1|2]"},                   /* half a BOM is data */
        {" a , b \n 1 ,2\n", "1:[ a | b ];2:[ 1 |2]"},                       /* spaces kept */
        {"a,b\n\n1,2\n\n\n", "1:[a|b];3:[1|2]"},                             /* empty lines skipped */
        {"a,b\n\"\"\"\",\"a\"\"\"\n", "1:[a|b];2:[\"|a\"]"},
        {"h\n\xF0\x9F\x98\x80\xE4\xB8\xAD\n", "1:[h];2:[\xF0\x9F\x98\x80\xE4\xB8\xAD]"},
        {"a,b\n1,\"2\"", "1:[a|b];2:[1|2]"},                                 /* quoted last, no EOL */
        {"a,b\n1,", "1:[a|b];2:[1|]"},                                       /* trailing empty, no EOL */
        {"", ""},
        {"a\n", "1:[a]"},
        {"=1+1,@x\n-2,+3\n", "1:[=1+1|@x];2:[-2|+3]"},                       /* never interpreted */
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        int r;
        struct rs_csv_error e = {0};
        char *got = parse(cases[i].in, strlen(cases[i].in), &r, &e, NULL);
        cr_expect_eq(r, 0, "case %zu: r=%d (%s)", i, r, e.msg);
        cr_expect_str_eq(got, cases[i].want, "case %zu", i);
        free(got);
    }
}

Test(csv, nul_bytes_are_data)
{
    int r;
    struct rs_csv_error e;
    char *got = parse("a,b\nx\0y,\"\0\"\n", 12, &r, &e, NULL);
    cr_expect_eq(r, 0);
    cr_expect_str_eq(got, "1:[a|b];2:[x\\0y|\\0]");
    free(got);
}

struct errcase {
    const char *in;
    int code;
    size_t line, col;
    const char *msg_part;
    const char *records_before;
};

Test(csv, errors_carry_line_and_column)
{
    static const struct errcase cases[] = {
        {"a,b\n1,x\"y\n", RS_CSV_E_SYNTAX, 2, 4, "quote inside an unquoted field", "1:[a|b]"},
        {"a,b\n1,\"open\n2,3\n", RS_CSV_E_SYNTAX, 2, 3, "unterminated quoted field", "1:[a|b]"},
        {"a,b\n\"x\"y,z\n", RS_CSV_E_SYNTAX, 2, 4, "after a closing quote", "1:[a|b]"},
        {"a,b\n1,2\n1,2,3\n", RS_CSV_E_COLUMNS, 3, 0, "3 fields, the header has 2", "1:[a|b];2:[1|2]"},
        {"a,b\n1\n", RS_CSV_E_COLUMNS, 2, 0, "1 field, the header has 2", "1:[a|b]"},
        {"a,b\n\"m\nn\",1\n\xC3\xA9\xC3\xA9,\"x\"q\n", RS_CSV_E_SYNTAX, 4, 7, "closing quote", "1:[a|b];2:[m\nn|1]"},
        {"a,b\r\n1,2\r\n3,\"4\r\n", RS_CSV_E_SYNTAX, 3, 3, "unterminated", "1:[a|b];2:[1|2]"},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        int r;
        struct rs_csv_error e = {0};
        char *got = parse(cases[i].in, strlen(cases[i].in), &r, &e, NULL);
        cr_expect_eq(r, cases[i].code, "case %zu: r=%d", i, r);
        cr_expect_eq(e.line, cases[i].line, "case %zu: line %zu", i, e.line);
        cr_expect_eq(e.col, cases[i].col, "case %zu: col %zu", i, e.col);
        cr_expect(strstr(e.msg, cases[i].msg_part) != NULL, "case %zu: msg '%s'", i, e.msg);
        cr_expect_str_eq(got, cases[i].records_before, "case %zu: rows before the error are delivered", i);
        free(got);
    }
    char buf[256];
    struct rs_csv_error e = {.line = 17, .col = 4};
    strcpy(e.msg, "unterminated quoted field");
    cr_expect_str_eq(rs_csv_error_format("output/x.csv", &e, buf, sizeof buf), "output/x.csv:17:4: unterminated quoted field");
    e.col = 0;
    cr_expect_str_eq(rs_csv_error_format("x.csv", &e, buf, sizeof buf), "x.csv:17: unterminated quoted field");
}

Test(csv, ragged_allowed_on_request)
{
    struct rs_csv_opts o = {.allow_ragged = true};
    int r;
    struct rs_csv_error e;
    char *got = parse("a,b\n1\n1,2,3\n", 12, &r, &e, &o);
    cr_expect_eq(r, 0);
    cr_expect_str_eq(got, "1:[a|b];2:[1];3:[1|2|3]");
    free(got);
}

Test(csv, caps_are_enforced)
{
    struct rs_csv_opts o = {.max_field = 8};
    int r;
    struct rs_csv_error e = {0};
    char *got = parse("a,b\n12345678,x\n123456789,x\n", 26, &r, &e, &o);
    cr_expect_eq(r, RS_CSV_E_TOO_BIG);
    cr_expect_eq(e.line, 3);
    cr_expect(strstr(e.msg, "field longer than 8 bytes"), "%s", e.msg);
    cr_expect_str_eq(got, "1:[a|b];2:[12345678|x]");
    free(got);

    struct rs_csv_opts o2 = {.max_fields = 3};
    got = parse("a,b,c,d\n", 8, &r, &e, &o2);
    cr_expect_eq(r, RS_CSV_E_TOO_BIG);
    cr_expect(strstr(e.msg, "more than 3 fields"), "%s", e.msg);
    free(got);

    struct rs_csv_opts o3 = {.max_file = 10};
    got = parse("a,b\n1,2\n3,4\n", 12, &r, &e, &o3);
    cr_expect_eq(r, RS_CSV_E_TOO_BIG);
    cr_expect(strstr(e.msg, "larger than 10 bytes"), "%s", e.msg);
    free(got);

    struct rs_csv_opts o4 = {.max_record = 9};
    got = parse("a,b\n1234,5678\n", 14, &r, &e, &o4);
    cr_expect_eq(r, RS_CSV_E_TOO_BIG);
    cr_expect(strstr(e.msg, "record longer"), "%s", e.msg);
    free(got);
}

Test(csv, byte_by_byte_feeding_matches_one_shot)
{
    const char *in = "\xEF\xBB\xBFh1,h2\r\n\"a\r\nb\",\"c\"\"d\"\r\n\xC3\xA9,\r\n\"x\",y";
    size_t len = strlen(in);
    struct collect c = {0};
    rs_buf_init(&c.out);
    struct rs_csv_parser *p = rs_csv_parser_new(NULL, collect_cb, &c);
    struct rs_csv_error e;
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(rs_csv_parser_feed(p, in + i, 1, &e), 0, "byte %zu: %s", i, e.msg);
    cr_assert_eq(rs_csv_parser_finish(p, &e), 0);
    cr_expect_eq(rs_csv_parser_records(p), 4);
    rs_csv_parser_free(p);
    int r;
    char *one = parse(in, len, &r, &e, NULL);
    cr_expect_eq(r, 0);
    cr_expect_str_eq(rs_buf_cstr(&c.out), one);
    cr_expect_str_eq(one, "1:[h1|h2];2:[a\r\nb|c\"d];4:[\xC3\xA9|];5:[x|y]");
    free(one);
    rs_buf_deinit(&c.out);
}

Test(csv, callback_stop_is_returned_and_sticky)
{
    struct collect c = {.stop_at = 2};
    rs_buf_init(&c.out);
    struct rs_csv_error e;
    struct rs_csv_parser *p = rs_csv_parser_new(NULL, collect_cb, &c);
    cr_expect_eq(rs_csv_parser_feed(p, "a\n1\n2\n3\n", 8, &e), 77);
    cr_expect_eq(rs_csv_parser_feed(p, "4\n", 2, &e), 77);
    cr_expect_eq(rs_csv_parser_finish(p, &e), 77);
    cr_expect_str_eq(rs_buf_cstr(&c.out), "1:[a];2:[1]");
    rs_csv_parser_free(p);
    rs_buf_deinit(&c.out);
    cr_expect_null(rs_csv_parser_free(NULL));
}

static char *write_tmp(const char *dir, const char *name, const char *data, size_t len)
{
    char *path = rs_path_join(dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static const char *const cols[] = {"school", "coach_name", "title", "sport", "email", "phone",
                                   "nmdp_overlap", "overlap_evidence", "source_url"};

Test(csv, verify_counts_rows_and_overlaps)
{
    char tmpl[] = "/tmp/rs-csv-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    const char *good = "\xEF\xBB\xBF School ,COACH_NAME,title,sport,email,phone, NMDP_Overlap ,overlap_evidence,source_url\r\n"
                       "U,A,,Swim,a@u.edu,0712,Yes,\"ran, a drive\",http://u\r\n"
                       "U,B,,Swim,,, no ,,\r\n"
                       "U,C,,Row,,,  TRUE ,,\r\n"
                       "U,D,,Row,,,1,,\r\n"
                       "U,E,,Row,,,y,,\r\n"
                       "U,F,,Row,,,N/A,,\r\n"
                       "U,G,,Row,,,\"multi\nline\",,";
    char *p = write_tmp(tmpl, "good.csv", good, strlen(good));
    size_t rows = 99, ov = 99;
    char err[256];
    cr_expect_eq(rs_csv_verify(p, cols, 9, NULL, 0, &rows, &ov, err, sizeof err), 0, "%s", err);
    cr_expect_eq(rows, 7);
    cr_expect_eq(ov, 4);
    cr_expect_str_eq(err, "");
    const char *mine[] = {"ja"};
    cr_expect_eq(rs_csv_verify(p, cols, 9, mine, 1, &rows, &ov, err, sizeof err), 0);
    cr_expect_eq(ov, 0);
    free(p);

    const char *missing = "school,coach_name,title,sport,email,phone,overlap_evidence,source_url\n";
    p = write_tmp(tmpl, "missing.csv", missing, strlen(missing));
    cr_expect_eq(rs_csv_verify(p, cols, 9, NULL, 0, &rows, &ov, err, sizeof err), RS_CSV_E_HEADER);
    cr_expect(strstr(err, ":1: missing required column \"nmdp_overlap\""), "%s", err);
    free(p);

    const char *bad = "school,coach_name\nU,A\nU,\"B\nU,C\n";
    p = write_tmp(tmpl, "bad.csv", bad, strlen(bad));
    cr_expect_eq(rs_csv_verify(p, cols, 2, NULL, 0, &rows, &ov, err, sizeof err), RS_CSV_E_SYNTAX);
    char *want = rs_xasprintf("%s:3:3: unterminated quoted field", p);
    cr_expect_str_eq(err, want);
    free(want);
    free(p);

    const char *ragged = "school,coach_name\nU,A\nU\n";
    p = write_tmp(tmpl, "ragged.csv", ragged, strlen(ragged));
    cr_expect_eq(rs_csv_verify(p, cols, 2, NULL, 0, &rows, &ov, err, sizeof err), RS_CSV_E_COLUMNS);
    cr_expect(strstr(err, "ragged.csv:3: record has 1 field, the header has 2"), "%s", err);
    free(p);

    p = write_tmp(tmpl, "empty.csv", "", 0);
    cr_expect_eq(rs_csv_verify(p, cols, 9, NULL, 0, &rows, &ov, err, sizeof err), RS_CSV_E_HEADER);
    cr_expect(strstr(err, "empty file"), "%s", err);
    free(p);

    char *nope = rs_path_join(tmpl, "nope.csv");
    cr_expect_eq(rs_csv_verify(nope, cols, 9, NULL, 0, &rows, &ov, err, sizeof err), -ENOENT);
    cr_expect(strstr(err, "nope.csv: cannot open"), "%s", err);
    free(nope);

    char *cmd = rs_xasprintf("rm -rf '%s'", tmpl);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
}

Test(csv, file_streaming_handles_large_files_and_chunk_boundaries)
{
    char tmpl[] = "/tmp/rs-csv-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    char *path = rs_path_join(tmpl, "big.csv");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs("school,nmdp_overlap\r\n", f);
    /* Rows with quoted CRLFs spread over many 64 KiB chunk boundaries. */
    for (int i = 0; i < 20000; i++)
        fprintf(f, "\"S%d\r\nx\",%s\r\n", i, i % 3 == 0 ? "yes" : "no");
    fclose(f);
    size_t rows, ov;
    char err[256];
    const char *req[] = {"school"};
    cr_expect_eq(rs_csv_verify(path, req, 1, NULL, 0, &rows, &ov, err, sizeof err), 0, "%s", err);
    cr_expect_eq(rows, 20000);
    cr_expect_eq(ov, 6667);

    /* A file over the cap is refused before reading. */
    struct rs_csv_opts o = {.max_file = 1000};
    struct rs_csv_error e;
    cr_expect_eq(rs_csv_parse_file(path, &o, NULL, NULL, &e), RS_CSV_E_TOO_BIG);
    cr_expect(strstr(e.msg, "more than the 1000 byte cap"), "%s", e.msg);
    unlink(path);
    free(path);
    rmdir(tmpl);
}

Test(csv, truthy_and_names)
{
    cr_expect(rs_csv_is_truthy(" YES\t", 5, NULL, 0));
    cr_expect(rs_csv_is_truthy("True", 4, NULL, 0));
    cr_expect(rs_csv_is_truthy("1", 1, NULL, 0));
    cr_expect(rs_csv_is_truthy("Y", 1, NULL, 0));
    cr_expect(!rs_csv_is_truthy("yes please", 10, NULL, 0));
    cr_expect(!rs_csv_is_truthy("", 0, NULL, 0));
    cr_expect(!rs_csv_is_truthy("0", 1, NULL, 0));
    cr_expect(!rs_csv_is_truthy("N/A", 3, NULL, 0));
    const char *t[] = {"oui"};
    cr_expect(rs_csv_is_truthy("OUI", 3, t, 1));
    cr_expect(!rs_csv_is_truthy("yes", 3, t, 1));
    cr_expect(rs_csv_name_eq("  Nmdp_Overlap ", 15, "nmdp_overlap"));
    cr_expect(!rs_csv_name_eq("nmdp overlap", 12, "nmdp_overlap"));
}

/* ---- findings of tests/fuzz (fuzz_csv): a cap error does not depend on the chunking ---- */

static int feed_by(const char *in, size_t len, size_t step, const struct rs_csv_opts *o, struct rs_csv_error *e)
{
    struct collect c = {0};
    rs_buf_init(&c.out);
    struct rs_csv_parser *p = rs_csv_parser_new(o, collect_cb, &c);
    int r = 0;
    for (size_t off = 0; off < len && !r; off += step)
        r = rs_csv_parser_feed(p, in + off, len - off < step ? len - off : step, e);
    if (!r)
        r = rs_csv_parser_finish(p, e);
    rs_csv_parser_free(p);
    rs_buf_deinit(&c.out);
    return r;
}

Test(csv, fuzz_cap_errors_name_the_crossing_byte_whatever_the_chunking)
{
    /* The field cap (4) is crossed at the 5th byte of the field: 'g', column 8 of "ab,cdefgh". */
    struct rs_csv_opts of = {.max_field = 4};
    /*
     * Both caps crossed in one run of bytes: the record cap (7, each field
     * counting one more byte) at 'f' (column 7) before the field cap (5) at
     * 'h': the record cap is reported.
     */
    struct rs_csv_opts orec = {.max_field = 5, .max_record = 7};
    const char *in = "ab,cdefgh\n";
    for (size_t step = 1; step <= 10; step++) {
        struct rs_csv_error e = {0};
        cr_expect_eq(feed_by(in, 10, step, &of, &e), RS_CSV_E_TOO_BIG);
        cr_expect(e.line == 1 && e.col == 8 && strstr(e.msg, "field longer than 4"), "step %zu: %zu:%zu %s", step,
                  e.line, e.col, e.msg);
        memset(&e, 0, sizeof e);
        cr_expect_eq(feed_by(in, 10, step, &orec, &e), RS_CSV_E_TOO_BIG);
        cr_expect(e.line == 1 && e.col == 7 && strstr(e.msg, "record longer than 7"), "step %zu: %zu:%zu %s", step,
                  e.line, e.col, e.msg);
    }
}

Test(csv, fuzz_file_cap_comes_after_an_earlier_error_and_names_its_line)
{
    struct rs_csv_opts o = {.max_file = 12};
    struct rs_csv_error e = {0};
    struct collect sink = {0};
    rs_buf_init(&sink.out);
    /* A syntax error on line 1 comes before the file cap, also in one buffer. */
    cr_expect_eq(rs_csv_parse_buffer("a\"b,c\n1,2\n3,4\n", 14, &o, collect_cb, &sink, &e),
                 RS_CSV_E_SYNTAX);
    /* Without one, the cap is reported on the line where it is crossed (line 4, byte 13). */
    for (size_t step = 1; step <= 14; step++) {
        memset(&e, 0, sizeof e);
        cr_expect_eq(feed_by("a,b\n1,2\n3,4\n5,6\n", 16, step, &o, &e), RS_CSV_E_TOO_BIG);
        cr_expect(e.line == 4 && strstr(e.msg, "larger than 12 bytes"), "step %zu: line %zu %s", step, e.line, e.msg);
    }
    rs_buf_deinit(&sink.out);
}

/* A FIFO (or any file that is not regular) is refused at once: opening one
 * without O_NONBLOCK would block until a writer comes, and with it the supervisor. */
Test(csv, fifo_is_refused_without_blocking)
{
    char dir[] = "/tmp/rs-csv-fifo-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *path = rs_xasprintf("%s/x.csv", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    struct rs_csv_error e = {0};
    int r = rs_csv_parse_file(path, NULL, NULL, NULL, &e);
    cr_expect_eq(r, -EINVAL);
    cr_expect_str_eq(e.msg, "not a regular file");
    r = rs_csv_parse_file(dir, NULL, NULL, NULL, &e);
    cr_expect_lt(r, 0, "a directory is refused too");
    unlink(path);
    rmdir(dir);
    free(path);
}
