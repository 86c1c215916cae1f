/* SPDX-License-Identifier: MIT */
/*
 * The state tables, one row per (state, event) the supervisor relies on,
 * plus: every cell is either a documented transition or INVALID (never a
 * silent garbage value), and every path of a worker slot leads back to idle.
 */
#include <criterion/criterion.h>

#include "ralphsup/core/fsm.h"

struct srow {
    enum rs_slot_state from;
    enum rs_slot_event ev;
    enum rs_slot_state to;
    enum rs_slot_action act;
};

static const struct srow srows[] = {
    {RS_SLOT_IDLE, RS_SEV_DISPATCH, RS_SLOT_SPAWNING, RS_SACT_SPAWN},
    {RS_SLOT_IDLE, RS_SEV_TICK, RS_SLOT_IDLE, RS_SACT_NONE},
    {RS_SLOT_IDLE, RS_SEV_SIGNAL, RS_SLOT_IDLE, RS_SACT_NONE},
    {RS_SLOT_IDLE, RS_SEV_EXITED, RS_SLOT_IDLE, RS_SACT_INVALID},
    {RS_SLOT_IDLE, RS_SEV_OUTPUT, RS_SLOT_IDLE, RS_SACT_INVALID},
    {RS_SLOT_SPAWNING, RS_SEV_SPAWNED, RS_SLOT_RUNNING, RS_SACT_STARTED},
    {RS_SLOT_SPAWNING, RS_SEV_SPAWN_FAILED, RS_SLOT_FINISHING, RS_SACT_DECIDE},
    {RS_SLOT_SPAWNING, RS_SEV_DISPATCH, RS_SLOT_SPAWNING, RS_SACT_INVALID},
    {RS_SLOT_SPAWNING, RS_SEV_SAVE_FAILED, RS_SLOT_IDLE, RS_SACT_RELEASE}, /* nothing spawned after a failed save */
    {RS_SLOT_RUNNING, RS_SEV_OUTPUT, RS_SLOT_RUNNING, RS_SACT_FEED},
    {RS_SLOT_RUNNING, RS_SEV_TICK, RS_SLOT_RUNNING, RS_SACT_CHECK},
    {RS_SLOT_RUNNING, RS_SEV_RELOAD, RS_SLOT_RUNNING, RS_SACT_CHECK},
    {RS_SLOT_RUNNING, RS_SEV_DEADLINE, RS_SLOT_STOPPING, RS_SACT_STOP},
    {RS_SLOT_RUNNING, RS_SEV_LIMIT, RS_SLOT_STOPPING, RS_SACT_STOP},
    {RS_SLOT_RUNNING, RS_SEV_SIGNAL, RS_SLOT_STOPPING, RS_SACT_STOP},
    {RS_SLOT_RUNNING, RS_SEV_SIGNAL_AGAIN, RS_SLOT_STOPPING, RS_SACT_KILL},
    {RS_SLOT_RUNNING, RS_SEV_SAVE_FAILED, RS_SLOT_STOPPING, RS_SACT_STOP},
    {RS_SLOT_RUNNING, RS_SEV_EXITED, RS_SLOT_FINISHING, RS_SACT_DECIDE},
    {RS_SLOT_RUNNING, RS_SEV_DISPATCH, RS_SLOT_RUNNING, RS_SACT_INVALID},
    {RS_SLOT_STOPPING, RS_SEV_OUTPUT, RS_SLOT_STOPPING, RS_SACT_FEED},
    {RS_SLOT_STOPPING, RS_SEV_DEADLINE, RS_SLOT_STOPPING, RS_SACT_NONE},
    {RS_SLOT_STOPPING, RS_SEV_SIGNAL, RS_SLOT_STOPPING, RS_SACT_NONE},
    {RS_SLOT_STOPPING, RS_SEV_SIGNAL_AGAIN, RS_SLOT_STOPPING, RS_SACT_KILL},
    {RS_SLOT_STOPPING, RS_SEV_EXITED, RS_SLOT_FINISHING, RS_SACT_DECIDE},
    {RS_SLOT_FINISHING, RS_SEV_RECORDED, RS_SLOT_IDLE, RS_SACT_RELEASE},
    {RS_SLOT_FINISHING, RS_SEV_SIGNAL, RS_SLOT_FINISHING, RS_SACT_NONE},
    {RS_SLOT_FINISHING, RS_SEV_OUTPUT, RS_SLOT_FINISHING, RS_SACT_INVALID},
};

Test(fsm, slot_rows)
{
    for (size_t i = 0; i < sizeof srows / sizeof srows[0]; i++) {
        struct rs_slot_step st = rs_fsm_slot(srows[i].from, srows[i].ev);
        cr_expect_eq(st.next, srows[i].to, "row %zu (%s, event %d): next %s", i, rs_slot_state_name(srows[i].from),
                     srows[i].ev, rs_slot_state_name(st.next));
        cr_expect_eq(st.action, srows[i].act, "row %zu (%s, event %d): action %d", i, rs_slot_state_name(srows[i].from),
                     srows[i].ev, st.action);
    }
}

Test(fsm, invalid_cells_keep_the_state)
{
    for (int s = 0; s < RS_SLOT_NSTATES; s++)
        for (int e = 0; e < RS_SEV_NEVENTS; e++) {
            struct rs_slot_step st = rs_fsm_slot((enum rs_slot_state)s, (enum rs_slot_event)e);
            if (st.action == RS_SACT_INVALID)
                cr_expect_eq(st.next, s, "invalid (%d, %d) must keep the state", s, e);
            cr_expect(st.next < RS_SLOT_NSTATES);
        }
    cr_expect_eq(rs_fsm_slot(RS_SLOT_NSTATES, RS_SEV_TICK).action, RS_SACT_INVALID);
    cr_expect_eq(rs_fsm_batch(RS_BATCH_NSTATES, RS_BEV_DONE).action, RS_BACT_INVALID);
}

/* Every lifetime of a worker: dispatch, then any mix of output/ticks/stops, ends idle after RECORDED. */
Test(fsm, every_slot_path_returns_to_idle)
{
    const enum rs_slot_event paths[][6] = {
        {RS_SEV_DISPATCH, RS_SEV_SPAWNED, RS_SEV_OUTPUT, RS_SEV_EXITED, RS_SEV_RECORDED, RS_SEV_NEVENTS},
        {RS_SEV_DISPATCH, RS_SEV_SPAWN_FAILED, RS_SEV_RECORDED, RS_SEV_NEVENTS},
        {RS_SEV_DISPATCH, RS_SEV_SPAWNED, RS_SEV_DEADLINE, RS_SEV_OUTPUT, RS_SEV_EXITED, RS_SEV_RECORDED},
        {RS_SEV_DISPATCH, RS_SEV_SPAWNED, RS_SEV_SIGNAL, RS_SEV_SIGNAL_AGAIN, RS_SEV_EXITED, RS_SEV_RECORDED},
        {RS_SEV_DISPATCH, RS_SEV_SPAWNED, RS_SEV_SAVE_FAILED, RS_SEV_EXITED, RS_SEV_RECORDED, RS_SEV_NEVENTS},
    };
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        enum rs_slot_state s = RS_SLOT_IDLE;
        for (size_t i = 0; i < 6 && paths[p][i] != RS_SEV_NEVENTS; i++) {
            struct rs_slot_step st = rs_fsm_slot(s, paths[p][i]);
            cr_assert_neq(st.action, RS_SACT_INVALID, "path %zu step %zu from %s", p, i, rs_slot_state_name(s));
            s = st.next;
        }
        cr_expect_eq(s, RS_SLOT_IDLE, "path %zu ends %s", p, rs_slot_state_name(s));
    }
}

struct brow {
    enum rs_batch_state from;
    enum rs_batch_event ev;
    enum rs_batch_state to;
    enum rs_batch_action act;
};

static const struct brow brows[] = {
    {RS_BATCH_RUNNING, RS_BEV_SLOT_FREE, RS_BATCH_RUNNING, RS_BACT_DISPATCH},
    {RS_BATCH_RUNNING, RS_BEV_DONE, RS_BATCH_STOPPED, RS_BACT_FINISH},
    {RS_BATCH_RUNNING, RS_BEV_STOP, RS_BATCH_DRAINING, RS_BACT_STOP_WORKERS},
    {RS_BATCH_RUNNING, RS_BEV_SAVE_FAILED, RS_BATCH_DRAINING, RS_BACT_STOP_WORKERS},
    {RS_BATCH_RUNNING, RS_BEV_USAGE_LIMIT, RS_BATCH_PAUSED, RS_BACT_ARM_PAUSE},
    {RS_BATCH_DRAINING, RS_BEV_SLOT_FREE, RS_BATCH_DRAINING, RS_BACT_NONE}, /* nothing new starts */
    {RS_BATCH_DRAINING, RS_BEV_STOP, RS_BATCH_DRAINING, RS_BACT_NONE},      /* the first reason stands */
    {RS_BATCH_DRAINING, RS_BEV_ALL_IDLE, RS_BATCH_STOPPED, RS_BACT_STOP_BATCH},
    {RS_BATCH_DRAINING, RS_BEV_USAGE_LIMIT, RS_BATCH_DRAINING, RS_BACT_NONE},
    {RS_BATCH_PAUSED, RS_BEV_SLOT_FREE, RS_BATCH_PAUSED, RS_BACT_NONE},     /* paused: nothing new starts */
    {RS_BATCH_PAUSED, RS_BEV_RESUME, RS_BATCH_RUNNING, RS_BACT_DISPATCH},
    {RS_BATCH_PAUSED, RS_BEV_STOP, RS_BATCH_DRAINING, RS_BACT_STOP_WORKERS},
    {RS_BATCH_PAUSED, RS_BEV_USAGE_LIMIT, RS_BATCH_PAUSED, RS_BACT_ARM_PAUSE},
    {RS_BATCH_STOPPED, RS_BEV_SLOT_FREE, RS_BATCH_STOPPED, RS_BACT_NONE},
    {RS_BATCH_STOPPED, RS_BEV_SAVE_FAILED, RS_BATCH_STOPPED, RS_BACT_NONE},
};

Test(fsm, batch_rows)
{
    for (size_t i = 0; i < sizeof brows / sizeof brows[0]; i++) {
        struct rs_batch_step st = rs_fsm_batch(brows[i].from, brows[i].ev);
        cr_expect_eq(st.next, brows[i].to, "row %zu (%s, event %d): next %s", i, rs_batch_state_name(brows[i].from),
                     brows[i].ev, rs_batch_state_name(st.next));
        cr_expect_eq(st.action, brows[i].act, "row %zu (%s, event %d): action %d", i,
                     rs_batch_state_name(brows[i].from), brows[i].ev, st.action);
    }
}

/* Nothing leaves STOPPED, and no event spawns from DRAINING or after a failed save. */
Test(fsm, no_dispatch_after_stop_or_failed_save)
{
    for (int e = 0; e < RS_BEV_NEVENTS; e++) {
        cr_expect_eq(rs_fsm_batch(RS_BATCH_STOPPED, (enum rs_batch_event)e).next, RS_BATCH_STOPPED);
        cr_expect_neq(rs_fsm_batch(RS_BATCH_DRAINING, (enum rs_batch_event)e).action, RS_BACT_DISPATCH);
    }
    struct rs_batch_step st = rs_fsm_batch(RS_BATCH_RUNNING, RS_BEV_SAVE_FAILED);
    for (int e = 0; e < RS_BEV_NEVENTS; e++)
        cr_expect_neq(rs_fsm_batch(st.next, (enum rs_batch_event)e).action, RS_BACT_DISPATCH);
}
