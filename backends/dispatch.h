/* dispatch.h - following a job graph on a pool of slots that each run one
 * job at a time: the order, the done() check after a job, blocked
 * dependents, signals, progress events, the ETA and the outcome that
 * tk_scheduler.h describes, written once for every backend that dispatches
 * jobs itself (the local pool of forked workers, MPI's rank 0). A pool only
 * starts jobs and reports how they ended. Private to backends/. */
#ifndef TK_BACKENDS_DISPATCH_H
#define TK_BACKENDS_DISPATCH_H

#include <signal.h>

#include "tk_scheduler.h"

typedef struct dispatch dispatch;

typedef struct dispatch_pool {
    int slots;   /* jobs at a time */
    int threads; /* BLAS threads of each job */
    void *ctx;
    /* Starts `job` on the free `slot`; -1 with `why` filled when it cannot
     * (the run then starts nothing more). */
    int (*start)(void *ctx, dispatch *d, int slot, int job, char *why, size_t cap);
    /* Returns once something happened, or after a second at most. Stop
     * signals are blocked but inside waits that use `wait_mask` (ppoll,
     * pselect), so the loop never races their handlers. Reports each job
     * that ended with dispatch_ended, each slot that is gone with dispatch_lost. */
    void (*wait)(void *ctx, dispatch *d, const sigset_t *wait_mask);
    /* Passes `sig` to every running job (SIGKILL: the second stop signal). */
    void (*stop)(void *ctx, int sig);
} dispatch_pool;

int dispatch_run(const tk_job_graph *g, const dispatch_pool *pool, bool progress_tty, tk_error *err);

/* The job on `slot` ended: ok, or failed for `why` (a stopped job when a
 * stop signal came). */
void dispatch_ended(dispatch *d, int slot, bool ok, const char *why);
/* `slot` is gone for good (a dead MPI rank): its job, if any, waits again
 * for another slot. */
void dispatch_lost(dispatch *d, int slot, const char *why);
/* For a forked child: the signal handling the caller of dispatch_run had. */
void dispatch_restore_signals(dispatch *d);

#endif
