/* SPDX-License-Identifier: MIT */
/*
 * The operator's retry and skip on the batch state (store/ops.c): all or
 * nothing, the order they leave pending in, the history a retry keeps, and
 * the request queue's submit / claim / load round trip.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/base/util.h"
#include "ralphsup/store/ops.h"

/* A progress with pending P1 P2, failed F1 (2 attempts) F2 (1), completed C1. */
static struct rs_progress *sample(void)
{
    struct rs_progress *p = rs_progress_new("t", 1000);
    rs_progress_push_pending(p, "P1", false);
    rs_progress_push_pending(p, "P2", false);
    const char *failed[] = {"F1", "F2"};
    for (int i = 0; i < 2; i++) {
        struct rs_school_state *s = rs_progress_fail(p, failed[i], failed[i], "no roster");
        s->cost_usd = 0.5;
        for (int k = 0; k < 2 - i; k++) {
            struct rs_attempt *a = rs_school_state_add_attempt(s);
            a->attempt = k + 1;
            a->outcome = RS_OUTCOME_FAILED;
        }
    }
    rs_progress_complete(p, "C1", "c1");
    return p;
}

Test(ops, retry_puts_failed_schools_first_in_the_order_given_and_keeps_history)
{
    struct rs_progress *p = sample();
    struct rs_op *op = rs_op_new(RS_OP_RETRY, NULL);
    rs_op_add(op, "F2", "F2");
    rs_op_add(op, "F1", "F1");
    rs_op_add(op, "F2", "F2"); /* twice: once */
    cr_assert_eq(op->n, 2);
    struct rs_diags done, refused;
    rs_diags_init(&done);
    rs_diags_init(&refused);
    cr_assert_eq(rs_op_apply(p, op, 2000, &done, &refused), 2);
    cr_expect_eq(refused.n, 0);
    cr_assert_eq(p->npending, 4);
    cr_expect_str_eq(p->pending[0], "F2");
    cr_expect_str_eq(p->pending[1], "F1");
    cr_expect_str_eq(p->pending[2], "P1");
    cr_expect_eq(p->nfailed, 0);
    cr_assert_eq(p->nhistory, 2);
    struct rs_school_state *h = rs_progress_history(p, "F1", NULL, false);
    cr_assert(h);
    cr_expect_eq(h->nattempts, 2);
    cr_expect_eq(h->attempts_reset, 2);
    cr_expect_eq(h->cost_usd, 0.5);
    cr_expect_null(h->reason);
    cr_assert_eq(done.n, 2);
    cr_expect(strstr(done.msgs[0], "\"F2\""), "%s", done.msgs[0]);
    cr_expect(strstr(done.msgs[1], "\"F1\": back at the front of pending (2 earlier attempts"), "%s", done.msgs[1]);
    /* The reset survives a save and a load. */
    char *text = rs_progress_format(p);
    struct rs_progress *q = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_assert_eq(rs_progress_parse(text, strlen(text), "mem", &q, &d), 0, "%s", d.n ? d.msgs[0] : "");
    cr_expect_eq(rs_progress_history(q, "F1", NULL, false)->attempts_reset, 2);
    cr_expect_eq(rs_progress_history(q, "F2", NULL, false)->attempts_reset, 1);
    rs_diags_deinit(&d);
    rs_progress_free(q);
    free(text);
    char subject[256];
    rs_op_subject(op, subject, sizeof subject);
    cr_expect_str_eq(subject, "ralphsup: retried F2, F1 (operator)");
    rs_diags_deinit(&done);
    rs_diags_deinit(&refused);
    rs_op_free(op);
    rs_progress_free(p);
}

Test(ops, one_school_in_the_wrong_state_refuses_the_whole_request)
{
    struct rs_progress *p = sample();
    rs_progress_inflight_add(p, "R1")->attempt = 3;
    struct rs_op *op = rs_op_new(RS_OP_SKIP, "no site");
    rs_op_add(op, "P1", NULL);
    rs_op_add(op, "R1", NULL);
    rs_op_add(op, "C1", NULL);
    rs_op_add(op, "X9", NULL);
    struct rs_diags done, refused;
    rs_diags_init(&done);
    rs_diags_init(&refused);
    cr_assert_eq(rs_op_apply(p, op, 2000, &done, &refused), 0);
    cr_expect_eq(done.n, 0);
    cr_assert_eq(refused.n, 3);
    cr_expect(strstr(refused.msgs[0], "\"R1\" is in flight (attempt 3)"), "%s", refused.msgs[0]);
    cr_expect(strstr(refused.msgs[1], "\"C1\" is completed"), "%s", refused.msgs[1]);
    cr_expect(strstr(refused.msgs[2], "\"X9\" is not in the progress file"), "%s", refused.msgs[2]);
    cr_expect_eq(p->npending, 2, "nothing changed");
    cr_expect_eq(p->nfailed, 2, "nothing changed");
    rs_diags_deinit(&done);
    rs_diags_deinit(&refused);
    rs_op_free(op);
    rs_progress_free(p);
}

Test(ops, skip_fails_pending_schools_with_the_operators_reason)
{
    struct rs_progress *p = sample();
    struct rs_op *op = rs_op_new(RS_OP_SKIP, "out of scope");
    rs_op_add(op, "P2", "p2");
    struct rs_diags done, refused;
    rs_diags_init(&done);
    rs_diags_init(&refused);
    cr_assert_eq(rs_op_apply(p, op, 5000, &done, &refused), 1);
    cr_assert_eq(p->npending, 1);
    cr_expect_str_eq(p->pending[0], "P1");
    cr_assert_eq(p->nfailed, 3);
    cr_expect_str_eq(p->failed[2].name, "P2");
    cr_expect_str_eq(p->failed[2].slug, "p2");
    cr_expect_str_eq(p->failed[2].reason, "skipped by the operator: out of scope");
    cr_expect_eq(p->failed[2].finished_ms, 5000);
    rs_diags_deinit(&done);
    rs_diags_deinit(&refused);
    rs_op_free(op);
    rs_progress_free(p);
}

Test(ops, queue_submit_claim_load_round_trip)
{
    char dir[] = "/tmp/rs-ops-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *prog = rs_path_join(dir, "batch_progress.json");
    char **paths = NULL;
    size_t n = 9;
    cr_expect_eq(rs_ops_claim(prog, &paths, &n), 0, "no queue yet: nothing, no error");
    cr_expect_eq(n, 0);
    struct rs_op *a = rs_op_new(RS_OP_SKIP, "why \xc3\xa9");
    rs_op_add(a, "Universit\xc3\xa9 One", "u1");
    char *pa = NULL, *pb = NULL;
    cr_assert_eq(rs_op_submit(prog, a, &pa), 0);
    usleep(2000); /* the next request sorts after */
    struct rs_op *b = rs_op_new(RS_OP_RETRY, NULL);
    rs_op_add(b, "Two", NULL);
    cr_assert_eq(rs_op_submit(prog, b, &pb), 0);
    cr_assert_eq(rs_ops_claim(prog, &paths, &n), 0);
    cr_assert_eq(n, 2);
    cr_expect_eq(access(pa, F_OK), -1, "claimed: renamed away");
    char *ta = rs_xasprintf("%s.taken", pa);
    cr_expect_str_eq(paths[0], ta, "oldest first");
    struct rs_op *la = NULL, *lb = NULL;
    struct rs_diags d;
    rs_diags_init(&d);
    cr_assert_eq(rs_op_load(paths[0], &la, &d), 0);
    cr_assert_eq(rs_op_load(paths[1], &lb, &d), 0);
    cr_expect_eq(la->kind, RS_OP_SKIP);
    cr_expect_str_eq(la->reason, "why \xc3\xa9");
    cr_assert_eq(la->n, 1);
    cr_expect_str_eq(la->names[0], "Universit\xc3\xa9 One");
    cr_expect_str_eq(la->slugs[0], "u1");
    cr_expect_eq(lb->kind, RS_OP_RETRY);
    cr_expect_null(lb->reason);
    char **again = NULL;
    size_t m = 9;
    cr_expect_eq(rs_ops_claim(prog, &again, &m), 0);
    cr_expect_eq(m, 0, "a claimed request is not claimed twice");
    /* A file that is not a request: RS_E_DATA naming it. */
    char *bad = rs_path_join(dir, "bad.json");
    cr_assert_eq(rs_file_write_atomic(bad, "{\"op\": \"delete\"}", 16, 0644), 0);
    struct rs_op *lbad = NULL;
    cr_expect_eq(rs_op_load(bad, &lbad, &d), RS_E_DATA);
    cr_assert_eq(d.n, 1);
    cr_expect(strstr(d.msgs[0], "bad.json: not an operator request"), "%s", d.msgs[0]);
    for (size_t i = 0; i < n; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    free(paths);
    free(again);
    unlink(bad);
    char *qdir = rs_ops_dir(prog);
    rmdir(qdir);
    rmdir(dir);
    free(qdir);
    free(bad);
    free(ta);
    free(pa);
    free(pb);
    free(prog);
    rs_diags_deinit(&d);
    rs_op_free(a);
    rs_op_free(b);
    rs_op_free(la);
    rs_op_free(lb);
}
