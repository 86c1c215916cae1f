/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's state machine as data. A worker slot goes idle →
 * spawning → running → stopping → finishing → idle; the batch is running,
 * draining (nothing new starts; the workers in flight finish or are
 * stopped), paused (until a time: a usage-limit reset) or stopped. The
 * events are what libuv and the decisions report. rs_fsm_slot() and
 * rs_fsm_batch() are the one place that maps (state, event) to the next
 * state and an action; run/supervisor.c performs the action (one switch)
 * and never changes a state itself. The tables are in fsm.c and in
 * docs/architecture.md, row for row; tests/unit/core/test_fsm.c checks
 * every row.
 */
#pragma once

#include <stdbool.h>

enum rs_slot_state {
    RS_SLOT_IDLE = 0,
    RS_SLOT_SPAWNING,  /* chosen a school, marked in flight, the agent being started */
    RS_SLOT_RUNNING,   /* the agent is alive and streaming */
    RS_SLOT_STOPPING,  /* TERM sent (grace, then KILL); output is still read */
    RS_SLOT_FINISHING, /* exited and EOF: the decision is being recorded */
    RS_SLOT_NSTATES
};

enum rs_slot_event {
    RS_SEV_DISPATCH = 0, /* the batch gave the slot a school */
    RS_SEV_SPAWNED,      /* the runner started the agent */
    RS_SEV_SPAWN_FAILED, /* it could not */
    RS_SEV_OUTPUT,       /* bytes on stdout/stderr */
    RS_SEV_EXITED,       /* the agent exited and both pipes reached EOF */
    RS_SEV_TICK,         /* the 1 s tick */
    RS_SEV_DEADLINE,     /* a timeout, stall, repeat or auth kill was decided */
    RS_SEV_LIMIT,        /* a limit (budget, runtime, school cap) was hit */
    RS_SEV_SIGNAL,       /* SIGINT / SIGTERM, or the batch stops (drain) */
    RS_SEV_SIGNAL_AGAIN, /* a second SIGINT / SIGTERM */
    RS_SEV_RELOAD,       /* SIGHUP: limits changed */
    RS_SEV_SAVE_FAILED,  /* the progress file could not be saved */
    RS_SEV_RECORDED,     /* the decision is recorded */
    RS_SEV_NEVENTS
};

enum rs_slot_action {
    RS_SACT_NONE = 0,   /* nothing to do */
    RS_SACT_SPAWN,      /* render the prompt, mark in flight, start the runner */
    RS_SACT_STARTED,    /* commit "started" */
    RS_SACT_FEED,       /* feed the bytes to the transcript, stream and observer */
    RS_SACT_CHECK,      /* check the timeouts and running limits */
    RS_SACT_STOP,       /* TERM → grace → KILL the tree */
    RS_SACT_KILL,       /* KILL the tree now */
    RS_SACT_DECIDE,     /* classify, decide and record */
    RS_SACT_RELEASE,    /* free the iteration, the slot is idle */
    RS_SACT_INVALID,    /* the event cannot happen in this state (an internal error, logged) */
};

struct rs_slot_step {
    enum rs_slot_state next;
    enum rs_slot_action action;
};

struct rs_slot_step rs_fsm_slot(enum rs_slot_state s, enum rs_slot_event e);

enum rs_batch_state {
    RS_BATCH_RUNNING = 0, /* schools are dispatched up to the concurrency target */
    RS_BATCH_DRAINING,    /* stopping: nothing new starts; the workers are stopped, then the batch stops */
    RS_BATCH_PAUSED,      /* a usage limit: nothing new starts until the reset */
    RS_BATCH_STOPPED,     /* the end: the loop shuts down */
    RS_BATCH_NSTATES
};

enum rs_batch_event {
    RS_BEV_SLOT_FREE = 0, /* a slot became idle, a timer fired, or the target rose: dispatch */
    RS_BEV_DONE,          /* nothing pending and nothing in flight */
    RS_BEV_STOP,          /* a decision stops the batch (limit, fatal, transients, signal) */
    RS_BEV_SAVE_FAILED,   /* the progress file could not be saved */
    RS_BEV_USAGE_LIMIT,   /* a usage-limit rejection with its reset time */
    RS_BEV_RESUME,        /* the pause is over */
    RS_BEV_ALL_IDLE,      /* the last worker in flight finished */
    RS_BEV_NEVENTS
};

enum rs_batch_action {
    RS_BACT_NONE = 0,
    RS_BACT_DISPATCH,     /* start workers while the spawn gate allows */
    RS_BACT_FINISH,       /* record "finished", shut down */
    RS_BACT_STOP_WORKERS, /* stop every worker in flight (requeued, no attempt) */
    RS_BACT_ARM_PAUSE,    /* set the timer for the reset */
    RS_BACT_STOP_BATCH,   /* record "stopped" (or not, after a failed save), shut down */
    RS_BACT_INVALID,
};

struct rs_batch_step {
    enum rs_batch_state next;
    enum rs_batch_action action;
};

struct rs_batch_step rs_fsm_batch(enum rs_batch_state s, enum rs_batch_event e);

const char *rs_slot_state_name(enum rs_slot_state s);
const char *rs_batch_state_name(enum rs_batch_state s);
