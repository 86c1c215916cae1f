/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup audit CONFIG [--school NAME]`: check every warm lead of the
 * completed schools against its evidence page. The work is rs_audit_run()
 * and rs_audit_record() (audit layer); this file parses options, prints
 * one line per lead and the counts, and maps the outcome to the exit codes
 * documented in docs/cli.md and docs/audit.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/audit/audit.h"
#include "ralphsup/base/util.h"
#include "ralphsup/cli/cli.h"
#include "ralphsup/store/batch.h"

static const char audit_help[] =
    "usage: ralphsup audit CONFIG [--school NAME]\n\n"
    "Check every warm lead (nmdp_overlap yes) of the completed schools: fetch its\n"
    "evidence_url and look for its evidence_quote and the coach's surname on the\n"
    "page. Each lead is verified, quote-not-found, name-not-found, no-evidence or\n"
    "unreachable (<why>). Results go to <output_dir>/audit.json, committed with\n"
    "the event \"audit\"; `status` and the report show them.\n"
    "  --school NAME  audit that completed school only (its earlier results are\n"
    "                 replaced, the other schools' kept)\n"
    "Fetching: http(s) only, at most 5 redirects, [audit] connect_timeout and\n"
    "timeout, the first [audit] max_bytes of a page, [audit] per_host_interval\n"
    "between requests to one host, no loopback/private/link-local address unless\n"
    "[audit] allow_private = true. docs/audit.md has the details.\n"
    "Exit: 0 every audited lead verified (or none to audit), 1 some lead not\n"
    "verified or some CSV not readable (results still saved), 64 bad option or\n"
    "not a completed school, 66 no progress file, 73 cannot write audit.json,\n"
    "78 bad config.\n";

/* The leads this run audited (with --school, audit.json holds the other schools' too). */
struct run_counts {
    size_t audited, verified;
};

static void on_lead(void *ud, const struct rs_audit_lead *l, size_t i, size_t total)
{
    struct run_counts *rc = ud;
    rc->audited++;
    rc->verified += rs_evidence_result_parse(l->result) == RS_EVIDENCE_VERIFIED;
    printf("[%zu/%zu] %s / %s: %s", i, total, l->school, l->coach && *l->coach ? l->coach : "(no name)", l->result);
    if (l->evidence_url && *l->evidence_url)
        printf(" <%s>", l->evidence_url);
    if (l->truncated)
        printf(" (only the first %lld bytes read)", (long long)l->bytes);
    printf("\n");
    fflush(stdout);
}

int rs_cmd_audit(int argc, char **argv)
{
    if (rs_cli_help(argc, argv, audit_help))
        return RS_EXIT_OK;
    static const struct option opts[] = {{"school", required_argument, NULL, 's'}, {0, 0, 0, 0}};
    const char *school = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's' && *optarg) {
            school = optarg;
        } else {
            fputs(audit_help, stderr);
            return RS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ralphsup audit: expected exactly one CONFIG argument (see `ralphsup audit --help`)\n");
        return RS_EXIT_USAGE;
    }
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_batch *b = NULL;
    int ex = rs_batch_open(argv[optind], RS_BATCH_NEED_PROGRESS | RS_BATCH_NO_SCHOOLS, &b, &d);
    if (ex)
        return rs_cli_fail(&d, rs_exit_code(ex));
    rs_cli_print_diags(&b->notices, "ralphsup: warning: ");
    struct rs_auditfile *f = NULL;
    struct run_counts rc = {0};
    int r = rs_audit_run(b, school, on_lead, &rc, &f, &d);
    if (r == RS_AUDIT_E_NO_SCHOOL) {
        const struct rs_progress *p = b->prog;
        fprintf(stderr, "ralphsup audit: \"%s\" is not a completed school of %s", school, b->cfg->progress);
        if (p->ncompleted) {
            fprintf(stderr, " (completed:");
            for (size_t i = 0; i < p->ncompleted && i < 10; i++)
                fprintf(stderr, "%s \"%s\"", i ? "," : "", p->completed[i].name);
            fprintf(stderr, "%s)", p->ncompleted > 10 ? ", ..." : "");
        }
        fprintf(stderr, "\n");
        rs_diags_deinit(&d);
        rs_batch_free(b);
        return RS_EXIT_USAGE;
    }
    if (r < 0) {
        fprintf(stderr, "ralphsup audit: cannot start libcurl: %s\n", strerror(-r));
        rs_diags_deinit(&d);
        rs_batch_free(b);
        return RS_EXIT_SOFTWARE;
    }
    size_t problems = d.n;
    rs_cli_print_diags(&d, "ralphsup: audit: ");
    rs_diags_deinit(&d);
    rs_diags_init(&d);
    ex = RS_EXIT_OK;
    if (rs_audit_record(b, f, f->scope, &d) < 0) {
        rs_cli_print_diags(&d, "ralphsup: ");
        ex = RS_EXIT_CANTCREAT;
    } else {
        rs_cli_print_diags(&d, "ralphsup: warning: ");
        size_t counts[RS_EVIDENCE_NRESULTS];
        size_t n = rs_auditfile_counts(f, counts);
        printf("audit: %zu warm %s", n, rs_plural(n, "lead", "leads"));
        for (int i = 0; i < RS_EVIDENCE_NRESULTS; i++)
            printf("%s %zu %s", i ? "," : ":", counts[i], rs_evidence_result_name(i));
        char *path = rs_auditfile_path(b->cfg);
        char *rel = rs_batch_relpath(b, path);
        printf("\nresults: %s\n", rel);
        free(rel);
        free(path);
        if (f->scope)
            printf("(this run: %zu of %zu %s of %s verified)\n", rc.verified, rc.audited,
                   rs_plural(rc.audited, "lead", "leads"), f->scope);
        if (rc.verified != rc.audited || problems)
            ex = RS_EXIT_FAILURE;
    }
    rs_diags_deinit(&d);
    rs_auditfile_free(f);
    rs_batch_free(b);
    return ex;
}
