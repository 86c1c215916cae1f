/* SPDX-License-Identifier: MIT */
/*
 * The state tables, s6-style: one row per state, one cell per event. An
 * empty cell is an event that cannot happen in that state (RS_*ACT_INVALID,
 * the state kept) — the supervisor logs it as an internal error instead of
 * acting on it. docs/architecture.md has the same tables.
 */
#include "ralphsup/core/fsm.h"

#define S(st, act) {RS_SLOT_##st, RS_SACT_##act, true}

struct cell {
    enum rs_slot_state next;
    enum rs_slot_action action;
    bool set;
};

static const struct cell slot_table[RS_SLOT_NSTATES][RS_SEV_NEVENTS] = {
    [RS_SLOT_IDLE] = {
        [RS_SEV_DISPATCH] = S(SPAWNING, SPAWN),
        [RS_SEV_TICK] = S(IDLE, NONE),
        [RS_SEV_RELOAD] = S(IDLE, NONE),
        [RS_SEV_SIGNAL] = S(IDLE, NONE),
        [RS_SEV_SIGNAL_AGAIN] = S(IDLE, NONE),
        [RS_SEV_LIMIT] = S(IDLE, NONE),
        [RS_SEV_SAVE_FAILED] = S(IDLE, NONE),
    },
    [RS_SLOT_SPAWNING] = {
        [RS_SEV_SPAWNED] = S(RUNNING, STARTED),
        [RS_SEV_SPAWN_FAILED] = S(FINISHING, DECIDE),
        [RS_SEV_TICK] = S(SPAWNING, NONE),
        [RS_SEV_RELOAD] = S(SPAWNING, NONE),
        [RS_SEV_SAVE_FAILED] = S(IDLE, RELEASE), /* marking it in flight failed: nothing is spawned */
    },
    [RS_SLOT_RUNNING] = {
        [RS_SEV_OUTPUT] = S(RUNNING, FEED),
        [RS_SEV_TICK] = S(RUNNING, CHECK),
        [RS_SEV_RELOAD] = S(RUNNING, CHECK),
        [RS_SEV_DEADLINE] = S(STOPPING, STOP),
        [RS_SEV_LIMIT] = S(STOPPING, STOP),
        [RS_SEV_SIGNAL] = S(STOPPING, STOP),
        [RS_SEV_SIGNAL_AGAIN] = S(STOPPING, KILL),
        [RS_SEV_SAVE_FAILED] = S(STOPPING, STOP),
        [RS_SEV_EXITED] = S(FINISHING, DECIDE),
    },
    [RS_SLOT_STOPPING] = {
        [RS_SEV_OUTPUT] = S(STOPPING, FEED),
        [RS_SEV_TICK] = S(STOPPING, NONE),
        [RS_SEV_RELOAD] = S(STOPPING, NONE),
        [RS_SEV_DEADLINE] = S(STOPPING, NONE),     /* the first reason stands */
        [RS_SEV_LIMIT] = S(STOPPING, NONE),
        [RS_SEV_SIGNAL] = S(STOPPING, NONE),
        [RS_SEV_SIGNAL_AGAIN] = S(STOPPING, KILL),
        [RS_SEV_SAVE_FAILED] = S(STOPPING, NONE),
        [RS_SEV_EXITED] = S(FINISHING, DECIDE),
    },
    [RS_SLOT_FINISHING] = {
        [RS_SEV_RECORDED] = S(IDLE, RELEASE),
        [RS_SEV_TICK] = S(FINISHING, NONE),
        [RS_SEV_RELOAD] = S(FINISHING, NONE),
        [RS_SEV_SIGNAL] = S(FINISHING, NONE),
        [RS_SEV_SIGNAL_AGAIN] = S(FINISHING, NONE),
        [RS_SEV_LIMIT] = S(FINISHING, NONE),
        [RS_SEV_SAVE_FAILED] = S(FINISHING, NONE),
    },
};

struct rs_slot_step rs_fsm_slot(enum rs_slot_state s, enum rs_slot_event e)
{
    if ((unsigned)s >= RS_SLOT_NSTATES || (unsigned)e >= RS_SEV_NEVENTS || !slot_table[s][e].set)
        return (struct rs_slot_step){s, RS_SACT_INVALID};
    return (struct rs_slot_step){slot_table[s][e].next, slot_table[s][e].action};
}

#define B(st, act) {RS_BATCH_##st, RS_BACT_##act, true}

struct bcell {
    enum rs_batch_state next;
    enum rs_batch_action action;
    bool set;
};

static const struct bcell batch_table[RS_BATCH_NSTATES][RS_BEV_NEVENTS] = {
    [RS_BATCH_RUNNING] = {
        [RS_BEV_SLOT_FREE] = B(RUNNING, DISPATCH),
        [RS_BEV_DONE] = B(STOPPED, FINISH),
        [RS_BEV_STOP] = B(DRAINING, STOP_WORKERS),
        [RS_BEV_SAVE_FAILED] = B(DRAINING, STOP_WORKERS),
        [RS_BEV_USAGE_LIMIT] = B(PAUSED, ARM_PAUSE),
        [RS_BEV_RESUME] = B(RUNNING, DISPATCH),
        [RS_BEV_ALL_IDLE] = B(RUNNING, DISPATCH),
    },
    [RS_BATCH_DRAINING] = {
        [RS_BEV_SLOT_FREE] = B(DRAINING, NONE),
        [RS_BEV_DONE] = B(STOPPED, STOP_BATCH),
        [RS_BEV_STOP] = B(DRAINING, NONE),       /* the first reason stands */
        [RS_BEV_SAVE_FAILED] = B(DRAINING, STOP_WORKERS),
        [RS_BEV_USAGE_LIMIT] = B(DRAINING, NONE),
        [RS_BEV_RESUME] = B(DRAINING, NONE),
        [RS_BEV_ALL_IDLE] = B(STOPPED, STOP_BATCH),
    },
    [RS_BATCH_PAUSED] = {
        [RS_BEV_SLOT_FREE] = B(PAUSED, NONE),
        [RS_BEV_DONE] = B(STOPPED, FINISH),
        [RS_BEV_STOP] = B(DRAINING, STOP_WORKERS),
        [RS_BEV_SAVE_FAILED] = B(DRAINING, STOP_WORKERS),
        [RS_BEV_USAGE_LIMIT] = B(PAUSED, ARM_PAUSE), /* a later reset extends the pause */
        [RS_BEV_RESUME] = B(RUNNING, DISPATCH),
        [RS_BEV_ALL_IDLE] = B(PAUSED, NONE),
    },
    [RS_BATCH_STOPPED] = {
        [RS_BEV_SLOT_FREE] = B(STOPPED, NONE),
        [RS_BEV_DONE] = B(STOPPED, NONE),
        [RS_BEV_STOP] = B(STOPPED, NONE),
        [RS_BEV_SAVE_FAILED] = B(STOPPED, NONE),
        [RS_BEV_USAGE_LIMIT] = B(STOPPED, NONE),
        [RS_BEV_RESUME] = B(STOPPED, NONE),
        [RS_BEV_ALL_IDLE] = B(STOPPED, NONE),
    },
};

struct rs_batch_step rs_fsm_batch(enum rs_batch_state s, enum rs_batch_event e)
{
    if ((unsigned)s >= RS_BATCH_NSTATES || (unsigned)e >= RS_BEV_NEVENTS || !batch_table[s][e].set)
        return (struct rs_batch_step){s, RS_BACT_INVALID};
    return (struct rs_batch_step){batch_table[s][e].next, batch_table[s][e].action};
}

const char *rs_slot_state_name(enum rs_slot_state s)
{
    static const char *const n[RS_SLOT_NSTATES] = {"idle", "spawning", "running", "stopping", "finishing"};
    return (unsigned)s < RS_SLOT_NSTATES ? n[s] : "?";
}

const char *rs_batch_state_name(enum rs_batch_state s)
{
    static const char *const n[RS_BATCH_NSTATES] = {"running", "draining", "paused", "stopped"};
    return (unsigned)s < RS_BATCH_NSTATES ? n[s] : "?";
}
