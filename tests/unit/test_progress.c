/* SPDX-License-Identifier: MIT */
/* Progress store: round trip, transitions, seed-schema import, errors, crash-safe save. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/progress.h"
#include "ralphsup/util.h"

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
    a->outcome = rs_xstrdup("failed");
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
    p->current->name = rs_xstrdup("C");
    p->current->run_token = rs_xstrdup("c:3:1:ab");
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
    cr_expect_str_eq(q->current->name, "C");
    cr_expect_str_eq(q->current->run_token, "c:3:1:ab");
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
