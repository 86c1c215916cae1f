/* SPDX-License-Identifier: MIT */
/*
 * The operator's commands on a batch's schools: `ralphsup retry CONFIG
 * SCHOOL... | --failed` and `ralphsup skip CONFIG SCHOOL... --reason TEXT`
 * (store/ops.h does the change, all or nothing). Whoever holds the batch's
 * lock applies it and commits it as one transition: this command when no
 * supervisor runs; otherwise the running supervisor, to which the request
 * goes through the queue next to the progress file and SIGUSR1 — the way
 * `stop` and `reload` find it through the lock file. The command checks the
 * request against the progress file first (unknown school: 65, naming it;
 * a school in the wrong state: 65), and after the supervisor took it, reads
 * the progress file again to say what happened. docs/operations.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ralphsup/base/util.h"
#include "ralphsup/cli/cli.h"
#include "ralphsup/store/batch.h"
#include "ralphsup/store/ops.h"

/* How long the command waits for the running supervisor to take and apply a request. */
#define OP_WAIT_MS 10000

static const char retry_help[] =
    "usage: ralphsup retry CONFIG SCHOOL... | ralphsup retry CONFIG --failed\n\n"
    "Put failed schools back at the front of pending, in the order given. Their\n"
    "attempts no longer count toward [limits] max_attempts_per_school (the attempt\n"
    "history is kept), and the retry's prompt repeats the last failure's reason.\n"
    "SCHOOL is any name of the school list (canonical, alias, slug).\n"
    "  --failed   retry every failed school\n"
    "While a supervisor runs the batch, it applies and commits the change (the\n"
    "request goes to it through the lock file and SIGUSR1); otherwise this command\n"
    "does, under the batch's lock. One commit either way (Ralphsup-Event: retried).\n"
    "Exit: 0 done, 64 usage, 65 unknown school or a school that is not failed\n"
    "(nothing changed), 66 no config, 75 the lock holder did not take the request.\n";

static const char skip_help[] =
    "usage: ralphsup skip CONFIG SCHOOL... --reason TEXT\n\n"
    "Fail pending schools without running them, with the reason \"skipped by the\n"
    "operator: TEXT\" (shown by status and on the report's Failed sheet).\n"
    "`ralphsup retry` undoes it. SCHOOL is any name of the school list.\n"
    "  --reason TEXT   why (required)\n"
    "While a supervisor runs the batch, it applies and commits the change;\n"
    "otherwise this command does, under the batch's lock. One commit either way\n"
    "(Ralphsup-Event: skipped).\n"
    "Exit: 0 done, 64 usage, 65 unknown school or a school that is not pending\n"
    "(nothing changed), 66 no config, 75 the lock holder did not take the request.\n";

/*
 * The names given, resolved through the school list (aliases, slugs), into
 * @op; a name the list does not know but the progress file does (a school
 * removed from the list after it failed) is taken as it is.
 * Return: 0, or 65 after naming every unknown school.
 */
static int resolve(const struct rs_batch *b, char **names, int n, struct rs_op *op, const char *cmd)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const struct rs_school *sc = rs_batch_school(b, names[i]);
        if (sc) {
            rs_op_add(op, sc->name, sc->slug);
        } else if (b->prog && rs_progress_is_known(b->prog, names[i])) {
            rs_op_add(op, names[i], NULL);
        } else {
            const char **cands = rs_xcalloc(b->schools->n + 1, sizeof(*cands));
            for (size_t k = 0; k < b->schools->n; k++)
                cands[k] = b->schools->v[k].name;
            const char *near = rs_did_you_mean(names[i], cands, b->schools->n);
            fprintf(stderr, "ralphsup %s: unknown school \"%s\": not in the school list %s%s%s%s\n", cmd, names[i],
                    b->cfg->schools, near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
            free(cands);
            bad = 1;
        }
    }
    return bad ? RS_EXIT_DATAERR : 0;
}

/* Whether the progress file on disk shows @op applied (each school moved as asked). */
static bool applied_on_disk(const char *progress, const struct rs_op *op)
{
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    bool ok = rs_progress_load(progress, &p, &d) == 0;
    for (size_t i = 0; ok && i < op->n; i++) {
        bool failed = false;
        for (size_t k = 0; k < p->nfailed; k++)
            failed |= strcmp(p->failed[k].name, op->names[i]) == 0;
        ok = op->kind == RS_OP_SKIP ? failed : !failed;
    }
    rs_progress_free(p);
    rs_diags_deinit(&d);
    return ok;
}

/*
 * The running supervisor applies it: queue, SIGUSR1, wait until it is taken
 * (renamed) and done (removed); a request nobody took in time is withdrawn.
 */
static int send_to_supervisor(const struct rs_batch *b, const struct rs_op *op, const struct rs_diags *done,
                              const char *cmd)
{
    pid_t holder = 0;
    for (int i = 0; i < 50 && rs_lock_holder(b->cfg->progress, &holder) == 0 && holder < 0; i++)
        rs_sleep_ms(20);
    if (holder <= 0) {
        fprintf(stderr, "ralphsup %s: the batch's lock is held but its holder is unknown; try again\n", cmd);
        return RS_EXIT_TEMPFAIL;
    }
    char *req = NULL;
    int r = rs_op_submit(b->cfg->progress, op, &req);
    if (r < 0) {
        fprintf(stderr, "ralphsup %s: cannot queue the request in %s.ops: %s\n", cmd, b->cfg->progress, strerror(-r));
        return RS_EXIT_CANTCREAT;
    }
    char *taken = rs_xasprintf("%s.taken", req);
    int ex = RS_EXIT_OK;
    if (kill(holder, SIGUSR1) < 0 && errno != ESRCH)
        fprintf(stderr, "ralphsup %s: cannot signal the supervisor (PID %ld): %s\n", cmd, (long)holder,
                strerror(errno));
    int waited = 0;
    while (rs_file_exists(req) && waited < OP_WAIT_MS) {
        rs_sleep_ms(50);
        waited += 50;
    }
    if (rs_file_exists(req) && unlink(req) == 0) {
        fprintf(stderr, "ralphsup %s: the lock holder (PID %ld) did not take the request within %d s; nothing "
                        "changed (is it a `ralphsup start`? try again)\n",
                cmd, (long)holder, OP_WAIT_MS / 1000);
        ex = RS_EXIT_TEMPFAIL;
    } else {
        for (waited = 0; rs_file_exists(taken) && waited < 6 * OP_WAIT_MS; waited += 50)
            rs_sleep_ms(50);
        if (!applied_on_disk(b->cfg->progress, op)) {
            fprintf(stderr, "ralphsup %s: the running supervisor (PID %ld) refused the request (a school moved on "
                            "meanwhile; its reason is in %s/events.jsonl, event operator-refused); nothing changed\n",
                    cmd, (long)holder, b->cfg->log_dir);
            ex = RS_EXIT_DATAERR;
        } else {
            for (size_t i = 0; i < done->n; i++)
                printf("%s\n", done->msgs[i]);
            printf("applied and committed by the running supervisor (PID %ld)\n", (long)holder);
        }
    }
    free(taken);
    free(req);
    return ex;
}

static int op_command(int argc, char **argv, enum rs_op_kind kind)
{
    const char *cmd = rs_op_name(kind);
    const char *help = kind == RS_OP_RETRY ? retry_help : skip_help;
    if (rs_cli_help(argc, argv, help))
        return RS_EXIT_OK;
    static const struct option retry_opts[] = {{"failed", no_argument, NULL, 'f'}, {0, 0, 0, 0}};
    static const struct option skip_opts[] = {{"reason", required_argument, NULL, 'r'}, {0, 0, 0, 0}};
    int all_failed = 0, c;
    const char *reason = NULL;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", kind == RS_OP_RETRY ? retry_opts : skip_opts, NULL)) != -1) {
        if (c == 'f') {
            all_failed = 1;
        } else if (c == 'r') {
            reason = optarg;
        } else {
            fputs(help, stderr);
            return RS_EXIT_USAGE;
        }
    }
    int npos = argc - optind;
    if (npos < 1 || (npos < 2 && !all_failed) || (all_failed && npos > 1)) {
        fprintf(stderr, "ralphsup %s: expected CONFIG and %s (see `ralphsup %s --help`)\n", cmd,
                kind == RS_OP_RETRY ? "one or more SCHOOL names, or --failed alone" : "one or more SCHOOL names", cmd);
        return RS_EXIT_USAGE;
    }
    if (kind == RS_OP_SKIP && (!reason || !reason[strspn(reason, " \t")])) {
        fprintf(stderr, "ralphsup skip: --reason TEXT is required (it is the failure's reason)\n");
        return RS_EXIT_USAGE;
    }
    const char *config = argv[optind];
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_batch *b = NULL;
    int r = rs_batch_open(config, RS_BATCH_LOCK | RS_BATCH_NEED_PROGRESS, &b, &d);
    bool supervised = r == RS_E_LOCKED;
    if (supervised) {
        rs_diags_deinit(&d);
        rs_diags_init(&d);
        r = rs_batch_open(config, RS_BATCH_NO_GIT | RS_BATCH_NEED_PROGRESS, &b, &d);
    }
    int ex = rs_exit_code(r);
    if (ex)
        return rs_cli_fail(&d, ex);
    rs_diags_deinit(&d);
    struct rs_op *op = rs_op_new(kind, reason);
    ex = resolve(b, argv + optind + 1, npos - 1, op, cmd);
    if (!ex && all_failed)
        for (size_t i = 0; i < b->prog->nfailed; i++)
            rs_op_add(op, b->prog->failed[i].name, b->prog->failed[i].slug);
    if (!ex && op->n == 0) {
        printf("batch %s has no failed school; nothing to retry\n", b->cfg->name);
        rs_op_free(op);
        rs_batch_free(b);
        return RS_EXIT_OK;
    }
    struct rs_diags done, refused;
    rs_diags_init(&done);
    rs_diags_init(&refused);
    if (!ex && rs_op_apply(b->prog, op, rs_now_ms(), &done, &refused) == 0) {
        rs_cli_print_diags(&refused, "ralphsup: ");
        fprintf(stderr, "ralphsup %s: nothing changed\n", cmd);
        ex = RS_EXIT_DATAERR;
    }
    if (!ex && supervised) {
        ex = send_to_supervisor(b, op, &done, cmd);
    } else if (!ex) {
        char subject[768];
        rs_op_subject(op, subject, sizeof subject);
        char *body = rs_diags_join(&done);
        struct rs_transition t = {.event = rs_op_event(kind), .school = op->n == 1 ? op->names[0] : NULL,
                                  .cost_usd = -1, .subject = subject, .body = body};
        struct rs_diags w;
        rs_diags_init(&w);
        ex = rs_exit_code(rs_batch_commit(b, &t, &w));
        rs_cli_print_diags(&w, "ralphsup: warning: ");
        rs_diags_deinit(&w);
        free(body);
        if (!ex) {
            for (size_t i = 0; i < done.n; i++)
                printf("%s\n", done.msgs[i]);
            printf("committed (no supervisor is running; `ralphsup start %s` goes on)\n", config);
        }
    }
    rs_diags_deinit(&done);
    rs_diags_deinit(&refused);
    rs_op_free(op);
    rs_batch_free(b);
    return ex;
}

int rs_cmd_retry(int argc, char **argv)
{
    return op_command(argc, argv, RS_OP_RETRY);
}

int rs_cmd_skip(int argc, char **argv)
{
    return op_command(argc, argv, RS_OP_SKIP);
}
