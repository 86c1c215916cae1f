/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for report.c. A batch is built in memory (config + progress),
 * messy per-school CSVs are written into a mkdtemp dir, the report is
 * generated, and tests/report/check_xlsx.py (run with /usr/bin/python3 and
 * openpyxl) reads the workbook back and compares every Leads cell with the
 * master CSV and with the inputs. The C side checks return codes, counters,
 * Problems entries, atomicity and the cell sanitiser.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ralphsup/core/config.h"
#include "ralphsup/store/progress.h"
#include "ralphsup/report/report.h"
#include "ralphsup/base/util.h"

struct fixture {
    char root[64];
    struct rs_config *cfg;
    struct rs_progress *prog;
};

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char *path = rs_path_join(dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    free(path);
}

static void write_str(const char *dir, const char *name, const char *data)
{
    write_file(dir, name, data, strlen(data));
}

static void fixture_init(struct fixture *fx, bool escape)
{
    strcpy(fx->root, "/tmp/rs-report-XXXXXX");
    cr_assert_not_null(mkdtemp(fx->root));
    struct rs_config *c = rs_xcalloc(1, sizeof(*c));
    c->name = rs_xstrdup("Fall 2026 coaches");
    c->root = rs_xstrdup(fx->root);
    c->output_dir = rs_path_join(fx->root, "output");
    c->report_dir = rs_path_join(fx->root, "reports");
    c->report_csv_escape_formulas = escape;
    c->progress = rs_path_join(fx->root, "batch_progress.json");
    cr_assert_eq(rs_mkdir_p(c->output_dir, 0755), 0);
    fx->cfg = c;
    fx->prog = rs_progress_new("Fall 2026 coaches", 1760000000000);
}

static void fixture_fini(struct fixture *fx)
{
    struct rs_config *c = fx->cfg;
    free(c->name);
    free(c->root);
    free(c->output_dir);
    free(c->report_dir);
    free(c->progress);
    for (size_t i = 0; i < c->nreport_truthy; i++)
        free(c->report_truthy[i]);
    free(c->report_truthy);
    free(c);
    rs_progress_free(fx->prog);
    char *cmd = rs_xasprintf("rm -rf '%s'", fx->root);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
}

static struct rs_school_state *complete(struct fixture *fx, const char *name, const char *csv, double cost, int64_t t0,
                                        int64_t dur_ms)
{
    struct rs_school_state *s = rs_progress_complete(fx->prog, name, name);
    s->csv = csv ? rs_xstrdup(csv) : NULL;
    s->cost_usd = cost;
    s->started_ms = t0;
    s->finished_ms = t0 + dur_ms;
    struct rs_attempt *a = rs_school_state_add_attempt(s);
    a->attempt = 1;
    a->started_ms = t0;
    a->finished_ms = t0 + dur_ms;
    a->cost_usd = cost;
    a->outcome = RS_OUTCOME_COMPLETED;
    fx->prog->cost_usd += cost;
    return s;
}

/* Run the Python read-back checker; returns its exit status. */
static int run_checker(const struct rs_report_summary *sum, const char *extra)
{
    const char *src = getenv("RALPHSUP_SOURCE_ROOT");
    cr_assert_not_null(src, "RALPHSUP_SOURCE_ROOT must point at the repository");
    char *cmd = rs_xasprintf("/usr/bin/python3 '%s/tests/report/check_xlsx.py' --xlsx '%s' --csv '%s' %s", src,
                             sum->xlsx_path, sum->csv_path, extra);
    int r = system(cmd);
    free(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : 100;
}

/* Entries of @dir other than "." and "..", joined by ' ' (sorted). */
static char *list_dir(const char *dir)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    cr_assert_geq(n, 0);
    struct rs_buf b;
    rs_buf_init(&b);
    for (int i = 0; i < n; i++) {
        if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, ".."))
            rs_buf_printf(&b, "%s%s", b.len ? " " : "", ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    return rs_buf_steal(&b);
}

static const char HEADER[] = "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url";

static void write_messy_inputs(struct fixture *fx)
{
    const char *out = fx->cfg->output_dir;
    /* BOM, CRLF, shuffled and padded header names, an extra column, quotes,
     * embedded CRLF/LF, formulas, leading zeros, unicode incl. non-BMP,
     * control characters, invalid UTF-8, "_x0041_" look-alikes, spaces. */
    struct rs_buf a;
    rs_buf_init(&a);
    rs_buf_puts(&a, "\xEF\xBB\xBF Coach_Name ,SCHOOL,title,sport,email,phone, NMDP_overlap ,overlap_evidence,source_url,notes\r\n");
    rs_buf_puts(&a, "\"Smith, John\",Alpha U,Head Coach,Swimming,js@alpha.edu,0712345678,Yes,"
                    "\"Ran a \"\"Be The Match\"\" drive\",https://alpha.edu/a,x\r\n");
    rs_buf_puts(&a, "  Jane Doe  ,Alpha U,\"Assistant\r\nCoach\",Rowing,,+44 20 7946 0958,no,,"
                    "\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",y\r\n");
    rs_buf_puts(&a, "@admin,Alpha U,-1+2,+sport,N/A,null,TRUE,\"multi\nline\nevidence\",http://x/_x0041__X00e9_,\r\n");
    rs_buf_puts(&a, "Jos\xC3\xA9 N\xC3\xBA\xC3\xB1" "ez,Alpha U,\xE6\x95\x99\xE7\xBB\x83,\xF0\x9F\x8F\x8A Swim,jose@alpha.edu,007,"
                    " y ,\"emoji \xF0\x9F\x98\x80 and CJK \xE4\xB8\xAD\xE6\x96\x87\",,\r\n");
    rs_buf_puts(&a, "\tTabbed,Alpha U,=1+1,-,+,@,1,\"\r\",,\r\n");
    rs_buf_puts(&a, "Bad\x01" "Ctl\x7f,Alpha U,t\xFFx,\xC3,\xED\xA0\x80,\xEF\xBF\xBE,0,,,\r\n");
    /* 40,000 two-byte characters: cut to 32,767. */
    rs_buf_puts(&a, "Long,Alpha U,,,,,no,\"");
    for (int i = 0; i < 40000; i++)
        rs_buf_puts(&a, "\xC3\xA9");
    rs_buf_puts(&a, "\",,\r\n");
    /* 32,766 'a' then an emoji (2 UTF-16 units): the emoji does not fit. */
    rs_buf_puts(&a, "Edge,Alpha U,,,,,no,");
    for (int i = 0; i < 32766; i++)
        rs_buf_putc(&a, 'a');
    rs_buf_puts(&a, "\xF0\x9F\x98\x80,,\r\n");
    rs_buf_puts(&a, "Last,Alpha U,,,,,,,,no line end");
    write_file(out, "alpha.csv", a.data, a.len);
    rs_buf_deinit(&a);

    write_str(out, "beta.csv",
              "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n"
              "Beta College,Ann,Coach,Track,,0044123,yes,\"a,b\",\n"
              "Beta College,,,,,,,,\n"
              "Beta College,Lit _x000D_ eral,\"\"\"quoted\"\"\",\" spaced \",,00,no,,\n"
              "Beta College,Bob,Coach,Track,,,1,\"line1\r\nline2\",http://b\n");

    /* Unterminated quote on line 4: the 2 rows before it are kept. */
    write_str(out, "gamma.csv",
              "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n"
              "Gamma,G1,,,,,yes,,\n"
              "Gamma,G2,,,,,no,,\n"
              "Gamma,\"G3,,,,,yes,,\n"
              "Gamma,G4,,,,,yes,,\n");
    /* No nmdp_overlap column: skipped. */
    write_str(out, "delta.csv", "school,coach_name,title,sport,email,phone,overlap_evidence,source_url\nDelta,D1,,,,,,\n");
    /* Wrong column count on line 3: 1 row kept. */
    write_str(out, "epsilon.csv",
              "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\r\n"
              "Epsilon,E1,,,,,y,,\r\n"
              "Epsilon,E2,,,,,y\r\n"
              "Epsilon,E3,,,,,y,,\r\n");
    /* Not in the progress file: listed with a note, never read. */
    write_str(out, "zeta.csv",
              "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n"
              "Zeta,Z1,,,,,yes,,\n");
    /* An earlier report written to output_dir (report_dir is elsewhere): neither read nor listed. */
    write_str(out, "master_report_2026-11-01.csv",
              "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\r\n"
              "Alpha U,Old,,,,,yes,,\r\nBeta College,Old,,,,,yes,,\r\n");
    /* Never inputs: hidden, temp and non-CSV files. */
    write_str(out, ".hidden.csv", "x\n1\n");
    write_str(out, "alpha.csv.tmp.123456", "x\n1\n");
    write_str(out, "notes.txt", "x\n");

    complete(fx, "Alpha U", "output/alpha.csv", 1.25, 1760000000000, 6 * 60000);
    complete(fx, "Beta College", "output/beta.csv", 0.75, 1760000400000, 4 * 60000);
    complete(fx, "Gamma", "output/gamma.csv", 0.5, 1760000800000, 2 * 60000);
    complete(fx, "Delta", "output/delta.csv", 0.5, 1760000900000, 2 * 60000);
    complete(fx, "Epsilon", "./output/../output/epsilon.csv", 0.5, 1760001000000, 2 * 60000);
    complete(fx, "Missing School", "output/missing.csv", 0.25, 1760001100000, 60000);
    complete(fx, "No Path School", NULL, 0.25, 1760001150000, 60000);
    complete(fx, "Report Path School", "output/master_report_2026-11-01.csv", 0.25, 1760001160000, 60000);
    struct rs_school_state *f = rs_progress_fail(fx->prog, "Failed U", "failed-u", "no athletics site found");
    for (int i = 1; i <= 3; i++) {
        struct rs_attempt *at = rs_school_state_add_attempt(f);
        at->attempt = i;
        at->started_ms = 1760002000000 + i * 100000;
        at->finished_ms = at->started_ms + 50000;
        at->outcome = RS_OUTCOME_FAILED;
    }
    rs_progress_push_pending(fx->prog, "Pending A", false);
    rs_progress_push_pending(fx->prog, "Pending B", false);
    struct rs_school_state *h = rs_progress_history(fx->prog, "Pending B", "pending-b", true);
    struct rs_attempt *at = rs_school_state_add_attempt(h);
    at->attempt = 1;
    at->outcome = RS_OUTCOME_TRANSIENT;
}

static bool has_diag(const struct rs_diags *d, const char *a, const char *b)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->msgs[i], a) && (!b || strstr(d->msgs[i], b)))
            return true;
    return false;
}

Test(report, messy_batch_is_partial_and_reads_back_exactly, .timeout = 60)
{
    struct fixture fx;
    fixture_init(&fx, true);
    write_messy_inputs(&fx);
    struct rs_report_summary sum;
    struct rs_diags d;
    rs_diags_init(&d);
    fx.cfg->report_csv_bom = true; /* and the other tests check the default: no BOM */
    int r = rs_report_generate(fx.cfg, fx.prog, "2026-11-24", NULL, &sum, &d);
    char *all = rs_diags_join(&d);
    cr_assert_eq(r, RS_REPORT_PARTIAL, "r=%d\n%s", r, all);

    cr_expect_eq(sum.files, 5, "files %zu", sum.files); /* alpha beta gamma delta epsilon; not zeta */
    cr_expect_eq(sum.files_extra, 1);                    /* zeta, listed only */
    cr_expect_eq(sum.rows, 9 + 4 + 2 + 1, "rows %zu", sum.rows);
    /* Yes, TRUE, " y ", 1 (alpha) + yes, 1 (beta) + G1 + E1 */
    cr_expect_eq(sum.warm, 4 + 2 + 1 + 1, "warm %zu", sum.warm);
    cr_expect_eq(sum.truncated, 2);
    /* \x01, \x7f is legal; \xFF, \xC3, ED A0 80 (3), EF BF BE (1) */
    cr_expect_eq(sum.replaced, 1 + 1 + 1 + 3 + 1, "replaced %zu", sum.replaced);
    /* =HYPERLINK, +44 phone, @admin, -1+2, +sport, TAB, =1+1, -, +, @, "\r" */
    cr_expect_eq(sum.escaped, 11, "escaped %zu", sum.escaped);
    /* gamma, delta, epsilon, missing, no path, a report as csv */
    cr_expect_eq(sum.errors, 6, "errors %zu\n%s", sum.errors, all);
    cr_expect(has_diag(&d, "output/gamma.csv:4:7: unterminated quoted field", "2 rows before it are in the report"),
              "%s", all);
    cr_expect(has_diag(&d, "output/epsilon.csv:3: record has 7 fields", "1 row before it is"), "%s", all);
    cr_expect(has_diag(&d, "output/delta.csv:1: missing required column \"nmdp_overlap\"", NULL), "%s", all);
    cr_expect(has_diag(&d, "output/missing.csv", "completed school \"Missing School\": cannot open"), "%s", all);
    cr_expect(has_diag(&d, "note: output/zeta.csv: not in progress file", "not read"), "%s", all);
    cr_expect(has_diag(&d, "output/master_report_2026-11-01.csv: completed school \"Report Path School\" names a report "
                       "output",
                       "not read"),
              "%s", all);
    cr_expect(!has_diag(&d, "note: output/master_report_2026-11-01", NULL), "an earlier report is not listed:\n%s", all);
    /* Named after the progress file, with the fix; no "report: " prefix (the CLI adds its own). */
    cr_expect(has_diag(&d, "batch_progress.json: completed school \"No Path School\" has no csv path",
                       "set its \"csv\""),
              "%s", all);
    for (size_t i = 0; i < d.n; i++)
        cr_expect(strncmp(d.msgs[i], "report:", 7) != 0, "prefixed: %s", d.msgs[i]);
    cr_expect(has_diag(&d, "note: output/alpha.csv:1: extra column ignored: \"notes\"", NULL), "%s", all);
    free(all);

    char *want_csv = rs_xasprintf("%s/reports/master_report_2026-11-24.csv", fx.root);
    cr_expect_str_eq(sum.csv_path, want_csv);
    free(want_csv);
    char *files = list_dir(fx.cfg->report_dir);
    cr_expect_str_eq(files, "master_report_2026-11-24.csv master_report_2026-11-24.xlsx", "no temp file left");
    free(files);

    char *args = rs_xasprintf("--escape 1 --bom 1 --expect-partial --input %s/output/alpha.csv --input %s/output/beta.csv "
                              "--input %s/output/gamma.csv:2 --input %s/output/epsilon.csv:1 --expect-rows 16 --expect-warm 8 "
                              "--failed 'Failed U' --expect-problem 'unterminated quoted field' "
                              "--expect-problem 'output/gamma.csv' --expect-problem 'missing required column' "
                              "--expect-problem 'not in progress file' --expect-problem 'has no csv path'",
                              fx.root, fx.root, fx.root, fx.root);
    cr_expect_eq(run_checker(&sum, args), 0, "check_xlsx.py found mismatches (see above)");
    free(args);

    rs_report_summary_deinit(&sum);
    rs_diags_deinit(&d);
    fixture_fini(&fx);
}

Test(report, clean_batch_is_complete_without_problems_sheet, .timeout = 60)
{
    struct fixture fx;
    fixture_init(&fx, false);
    write_str(fx.cfg->output_dir, "one.csv",
              "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n"
              "One,=SUM(A1:A2),Coach,Swim,,0123,ja,,\n"
              "One,B,Coach,Swim,,,nein,,\n"
              "One,C,Coach,Swim,,, JA ,,\n");
    complete(&fx, "One", "output/one.csv", 0.5, 1760000000000, 60000);
    fx.cfg->report_truthy = rs_xcalloc(2, sizeof(char *));
    fx.cfg->report_truthy[0] = rs_xstrdup("ja");
    fx.cfg->nreport_truthy = 1;
    struct rs_report_summary sum;
    struct rs_diags d;
    rs_diags_init(&d);
    char *outdir = rs_path_join(fx.root, "elsewhere/deep");
    int r = rs_report_generate(fx.cfg, fx.prog, "2026-01-02", outdir, &sum, &d);
    cr_assert_eq(r, 0, "r=%d", r);
    cr_expect_eq(d.n, 0);
    cr_expect_eq(sum.rows, 3);
    cr_expect_eq(sum.warm, 2);
    cr_expect_eq(sum.escaped, 0, "escaping is off");
    cr_expect(strstr(sum.xlsx_path, "elsewhere/deep/master_report_2026-01-02.xlsx"), "%s", sum.xlsx_path);
    char *args = rs_xasprintf("--escape 0 --truthy ja --input %s/output/one.csv", fx.root);
    cr_expect_eq(run_checker(&sum, args), 0);
    free(args);

    /* A second run replaces both files in place. */
    struct rs_report_summary sum2;
    cr_expect_eq(rs_report_generate(fx.cfg, fx.prog, "2026-01-02", outdir, &sum2, NULL), 0);
    char *files = list_dir(outdir);
    cr_expect_str_eq(files, "master_report_2026-01-02.csv master_report_2026-01-02.xlsx");
    free(files);
    rs_report_summary_deinit(&sum2);
    rs_report_summary_deinit(&sum);
    rs_diags_deinit(&d);
    free(outdir);
    fixture_fini(&fx);
}

/*
 * Cells are checked eight bytes at a time and used without a copy when
 * nothing needs replacing: a bad byte anywhere in or after such a word, a
 * legal DEL or TAB inside one, multi-byte text between ASCII runs, and cells
 * just under and over the no-copy size limit (16,383 bytes) must all come
 * back exactly. Enough rows that the master CSV is written in several pieces.
 */
Test(report, cells_around_the_no_copy_path_read_back_exactly, .timeout = 60)
{
    struct fixture fx;
    fixture_init(&fx, true);
    struct rs_buf a;
    rs_buf_init(&a);
    rs_buf_puts(&a, "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n");
    /* \x02 at byte 12, \x1F at byte 7, \xFF at byte 15, \x0B after 8 good bytes: 4 replaced. */
    rs_buf_puts(&a, "Edge U,abcdefghijkl\x02mnop,abcdefg\x1F,abcdefghijklmno\xFF,12345678\x0B,"
                    "DEL\x7F inside eight,tab\there ok,\"line\r\nbreak in a long enough cell\",x\n");
    rs_buf_puts(&a, "Edge U,ASCII run then \xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80 then ASCII again,"
                    "\xE4\xB8\xAD\xE6\x96\x87\xE4\xB8\xAD\xE6\x96\x87,_x0041_ look-alike,,,,,\n");
    /* 16,383 and 16,384 bytes of "_x0041" runs: both fit (at most 2 characters per byte). */
    for (int len = 16383; len <= 16384; len++) {
        rs_buf_puts(&a, "Edge U,");
        for (int i = 0; i < len; i++)
            rs_buf_putc(&a, "_x0041"[i % 6]);
        rs_buf_puts(&a, ",,,,,,,\n");
    }
    for (int i = 0; i < 3000; i++)
        rs_buf_printf(&a, "Edge U,Coach %d,=cmd|' /C calc'!A0,\" quoted, \"\"%d\"\" \",c%d@edge.edu,0%d,%s,,\n", i, i,
                      i, 7000000 + i, i % 3 ? "no" : "yes");
    write_file(fx.cfg->output_dir, "edge.csv", a.data, a.len);
    rs_buf_deinit(&a);
    complete(&fx, "Edge U", "output/edge.csv", 0.5, 1760000000000, 60000);

    struct rs_report_summary sum;
    int r = rs_report_generate(fx.cfg, fx.prog, "2026-01-03", NULL, &sum, NULL);
    cr_assert_eq(r, 0, "r=%d", r);
    cr_expect_eq(sum.rows, 4 + 3000);
    cr_expect_eq(sum.warm, 1000);
    cr_expect_eq(sum.replaced, 4, "replaced %zu", sum.replaced);
    cr_expect_eq(sum.truncated, 0);
    cr_expect_eq(sum.escaped, 3000);
    char *args = rs_xasprintf("--escape 1 --input %s/output/edge.csv", fx.root);
    cr_expect_eq(run_checker(&sum, args), 0, "check_xlsx.py found mismatches (see above)");
    free(args);
    rs_report_summary_deinit(&sum);
    fixture_fini(&fx);
}

Test(report, empty_batch_still_writes_a_report, .timeout = 60)
{
    struct fixture fx;
    fixture_init(&fx, true);
    rs_progress_push_pending(fx.prog, "Later", false);
    struct rs_report_summary sum;
    int r = rs_report_generate(fx.cfg, fx.prog, "2026-01-02", NULL, &sum, NULL);
    cr_assert_eq(r, 0);
    cr_expect_eq(sum.rows, 0);
    cr_expect_eq(run_checker(&sum, ""), 0);
    rs_report_summary_deinit(&sum);
    fixture_fini(&fx);
}

Test(report, output_errors_are_negative_and_leave_nothing)
{
    struct fixture fx;
    fixture_init(&fx, true);
    write_str(fx.cfg->output_dir, "one.csv", HEADER);
    complete(&fx, "One", "output/one.csv", 0.5, 1760000000000, 60000);
    struct rs_report_summary sum;
    cr_expect_eq(rs_report_generate(fx.cfg, fx.prog, "2026-1-02", NULL, &sum, NULL), -EINVAL);
    cr_expect_eq(rs_report_generate(fx.cfg, fx.prog, "2026-13-02", NULL, &sum, NULL), -EINVAL);
    cr_expect_null(sum.csv_path);

    /* The output "directory" is a regular file. */
    write_str(fx.root, "blocker", "x");
    char *bad = rs_path_join(fx.root, "blocker/sub");
    int r = rs_report_generate(fx.cfg, fx.prog, "2026-01-02", bad, &sum, NULL);
    cr_expect_lt(r, 0, "r=%d", r);
    cr_expect_null(sum.xlsx_path);
    free(bad);

    /* A read-only directory: nothing can be created, nothing is left. */
    if (geteuid() != 0) {
        char *ro = rs_path_join(fx.root, "ro");
        cr_assert_eq(mkdir(ro, 0555), 0);
        r = rs_report_generate(fx.cfg, fx.prog, "2026-01-02", ro, &sum, NULL);
        cr_expect_eq(r, -EACCES, "r=%d", r);
        char *files = list_dir(ro);
        cr_expect_str_eq(files, "");
        free(files);
        chmod(ro, 0755);
        free(ro);
    }
    fixture_fini(&fx);
}

/*
 * libxlsxwriter ignores write errors on its temporary files and would close a
 * cut-short workbook without an error. A file-size limit makes those writes
 * fail (the sheet XML is ~10x this CSV, which stays under the limit): the
 * report must fail and leave nothing behind.
 */
Test(report, failed_temporary_file_writes_fail_the_report, .timeout = 60)
{
    struct fixture fx;
    fixture_init(&fx, true);
    struct rs_buf a;
    rs_buf_init(&a);
    rs_buf_puts(&a, "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n");
    for (int i = 0; i < 8000; i++)
        rs_buf_printf(&a, "S,c%d,t,s,e,p,no,,\n", i);
    write_file(fx.cfg->output_dir, "big.csv", a.data, a.len);
    rs_buf_deinit(&a);
    complete(&fx, "S", "output/big.csv", 0.5, 1760000000000, 60000);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1 << 20;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    struct rs_report_summary sum;
    struct rs_diags d;
    rs_diags_init(&d);
    int r = rs_report_generate(fx.cfg, fx.prog, "2026-01-04", NULL, &sum, &d);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    cr_expect_lt(r, 0, "r=%d", r);
    cr_expect_null(sum.xlsx_path);
    cr_expect(has_diag(&d, "temporary files", NULL), "no problem entry about the temporary files");
    char *files = list_dir(fx.cfg->report_dir);
    cr_expect_str_eq(files, "", "nothing is left in the report directory");
    free(files);
    rs_diags_deinit(&d);
    fixture_fini(&fx);
}

Test(report, sanitize_replaces_counts_and_truncates)
{
    struct rs_buf b;
    rs_buf_init(&b);
    size_t rep = 0, tr = 0;
    rs_report_sanitize("a\x01" "b\xFF" "c\xE2\x82" "d\t\r\n", 11, &b, &rep, &tr);
    cr_expect_str_eq(rs_buf_cstr(&b), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD" "d\t\r\n");
    cr_expect_eq(rep, 3);
    cr_expect_eq(tr, 0);

    /* NUL bytes are replaced too, and the length is respected. */
    rep = 0;
    rs_report_sanitize("x\0y", 3, &b, &rep, &tr);
    cr_expect_eq(b.len, 5);
    cr_expect_eq(rep, 1);

    /* Truncation at a character boundary, counted once. */
    struct rs_buf in;
    rs_buf_init(&in);
    for (int i = 0; i < 32767; i++)
        rs_buf_puts(&in, "\xE4\xB8\xAD"); /* 3-byte CJK, 1 UTF-16 unit */
    rs_buf_puts(&in, "\xE4\xB8\xAD");
    rs_report_sanitize(in.data, in.len, &b, &rep, &tr);
    cr_expect_eq(b.len, 32767 * 3);
    cr_expect_eq(tr, 1);

    /* "_x0041_" look-alikes cost 6 more characters each in the workbook. */
    rs_buf_reset(&in);
    for (int i = 0; i < 32767 - 6; i++)
        rs_buf_putc(&in, 'a');
    rs_buf_puts(&in, "_x0041_");
    tr = 0;
    rs_report_sanitize(in.data, in.len, &b, &rep, &tr);
    cr_expect_eq(tr, 1);
    cr_expect_eq(b.len, 32767 - 6, "stops before the '_' that would overflow");
    rs_buf_deinit(&in);
    rs_buf_deinit(&b);
}

Test(report, audit_results_on_warm_leads, .timeout = 60)
{
    struct fixture fx;
    fixture_init(&fx, false);
    write_str(fx.cfg->output_dir, "one.csv",
              "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n"
              "One, Jane Doe ,Coach,Swim,,,yes,,\n"
              "One,John Roe,Coach,Swim,,,yes,,\n"
              "One,Kim Lee,Coach,Swim,,,yes,,\n"
              "One,Pat No,Coach,Swim,,,no,,\n");
    complete(&fx, "One", "output/one.csv", 0.5, 1760000000000, 60000);
    struct rs_report_summary sum;
    /* No audit.json: nothing verified (the sheet says "not audited"). */
    cr_assert_eq(rs_report_generate(fx.cfg, fx.prog, "2026-01-02", NULL, &sum, NULL), 0);
    cr_expect_eq(sum.verified, 0);
    cr_expect_eq(run_checker(&sum, "--expect-warm 3"), 0);
    rs_report_summary_deinit(&sum);

    /* Two results, looked up by school and trimmed coach name; another school's lead does not count. */
    write_str(fx.cfg->output_dir, "audit.json",
              "{\"schema_version\": 1, \"leads\": ["
              "{\"school\": \"One\", \"coach\": \"Jane Doe\", \"result\": \"verified\"},"
              "{\"school\": \"One\", \"coach\": \"John Roe\", \"result\": \"unreachable (HTTP 404)\"},"
              "{\"school\": \"Two\", \"coach\": \"Kim Lee\", \"result\": \"verified\"}]}");
    struct rs_diags d;
    rs_diags_init(&d);
    cr_assert_eq(rs_report_generate(fx.cfg, fx.prog, "2026-01-02", NULL, &sum, &d), 0);
    cr_expect_eq(d.n, 0);
    cr_expect_eq(sum.verified, 1);
    cr_expect_eq(run_checker(&sum, "--expect-warm 3"), 0);
    rs_report_summary_deinit(&sum);

    /* An unreadable audit.json: a note, nothing verified. */
    write_str(fx.cfg->output_dir, "audit.json", "{\"schema_version\": 1, \"leads\": [{\"school\": 1}]}");
    cr_assert_eq(rs_report_generate(fx.cfg, fx.prog, "2026-01-02", NULL, &sum, &d), 0);
    cr_expect_eq(sum.verified, 0);
    char *all = rs_diags_join(&d);
    cr_expect(all && strstr(all, "note: output/audit.json: audit results unreadable ("), "%s", all ? all : "");
    free(all);
    rs_diags_deinit(&d);
    rs_report_summary_deinit(&sum);
    fixture_fini(&fx);
}

/*
 * The lead contract's evidence columns reach the lead sheets and the master
 * CSV beside a CSV that lacks them (accepted at [verify] level "counts": its
 * evidence cells stay empty); a school flagged for review is marked on the
 * Run sheet and counted on the Summary (the read-back is the Python checker
 * plus openpyxl here).
 */
Test(report, evidence_columns_and_review_flag, .timeout = 60)
{
    struct fixture fx;
    fixture_init(&fx, false);
    write_str(fx.cfg->output_dir, "lead.csv",
              "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url,"
              "evidence_url,evidence_quote,evidence_date,evidence_type,confidence,overlap_checked\n"
              "Lead U,Ann Lee,Head Coach,Swim,,,yes,Hosted a drive,https://lead.edu/staff,"
              "https://lead.edu/news/drive,\"Coach Ann Lee hosted a \"\"Be The Match\"\" drive\",2024-04,host,high,coach\n"
              "Lead U,Bo Diaz,Coach,Golf,,,no,,https://lead.edu/staff,,,,,,school\n");
    write_str(fx.cfg->output_dir, "nine.csv", "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url\n"
                                              "Nine U,Cy Park,Coach,Golf,,,yes,,https://nine.edu/staff\n");
    struct rs_school_state *s = complete(&fx, "Lead U", "output/lead.csv", 0.5, 1760000000000, 60000);
    (void)s;
    s = complete(&fx, "Nine U", "output/nine.csv", 0.5, 1760000000000, 60000);
    s->review = rs_xstrdup("1 of 1 rows are yes (100%), above [verify] max_yes_share 0.5");
    struct rs_report_summary sum;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_assert_eq(rs_report_generate(fx.cfg, fx.prog, "2026-01-02", NULL, &sum, &d), 0);
    cr_expect_eq(d.n, 0, "a CSV without the evidence columns is no problem");
    cr_expect_eq(sum.rows, 3);
    cr_expect_eq(sum.warm, 2);
    char *args = rs_xasprintf("--input %s/output/lead.csv --input %s/output/nine.csv --expect-rows 3 --expect-warm 2",
                              fx.root, fx.root);
    cr_expect_eq(run_checker(&sum, args), 0);
    free(args);
    char *cmd = rs_xasprintf(
        "/usr/bin/python3 -c '\n"
        "import sys, openpyxl\n"
        "wb = openpyxl.load_workbook(sys.argv[1])\n"
        "w = list(wb[\"Warm leads\"].iter_rows(values_only=True))\n"
        "assert w[1][9] == \"https://lead.edu/news/drive\" and w[1][12] == \"host\" and w[1][14] == \"coach\", w[1]\n"
        "assert w[2][9] is None and w[2][14] is None, w[2]\n"
        "run = {r[0]: r for r in wb[\"Run\"].iter_rows(values_only=True)}\n"
        "assert run[\"school\"][8] == \"review\" and run[\"Lead U\"][8] is None, run\n"
        "assert run[\"Nine U\"][8].startswith(\"1 of 1 rows are yes\"), run\n"
        "summ = {r[0]: r[1] for r in wb[\"Summary\"].iter_rows(values_only=True) if r and r[0]}\n"
        "assert summ[\"Schools flagged for review (see Run)\"] == 1, summ\n"
        "' '%s'",
        sum.xlsx_path);
    int r = system(cmd);
    free(cmd);
    cr_expect(WIFEXITED(r) && WEXITSTATUS(r) == 0, "the workbook read-back failed");
    rs_report_summary_deinit(&sum);
    rs_diags_deinit(&d);
    fixture_fini(&fx);
}
