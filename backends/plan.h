/* plan.h - a job graph checked, flattened and ranked, with its ready set:
 * what every backend that follows the graph itself (the local pool, MPI's
 * rank 0, the estimate) shares, so that they all pick jobs in the order
 * tk_scheduler.h states. Private to backends/. */
#ifndef TK_BACKENDS_PLAN_H
#define TK_BACKENDS_PLAN_H

#include "tk_scheduler.h"

typedef enum plan_state { PLAN_WAITING, PLAN_RUNNING, PLAN_DONE, PLAN_SKIPPED, PLAN_FAILED, PLAN_BLOCKED } plan_state;

/* The graph in flat arrays, built once: dependencies and dependents as CSR
 * lists (dependents of j: users[users_at[j] .. users_at[j + 1])). */
typedef struct plan {
    const tk_job_graph *g;
    int n;
    int *deps_at, *deps, *users_at, *users;
    int *unfinished;     /* dependencies not yet finished (with multiplicity) */
    int *stack;          /* n ints of scratch: the topological order, then blocked-job walks */
    double *cost, *rank; /* rank: cost of the costliest chain of jobs to run that starts here */
    unsigned char *state;
    int *ready, n_ready; /* waiting jobs whose dependencies are finished: a heap, best first */
} plan;

/* Checks and flattens the graph (every dependency names a job, no cycle,
 * costs finite and >= 0), marks done() jobs skipped and ranks the rest.
 * plan_free is needed after a failure too. */
int plan_build(plan *p, const tk_job_graph *g, tk_error *err);
void plan_free(plan *p);

const char *plan_label(const plan *p, int j, char *buf, size_t cap);

/* The ready job heading the costliest chain (ties: the lower index), now
 * running; -1 when none is ready. */
int plan_take(plan *p);
/* A running job finished: its dependents may become ready. */
void plan_finish(plan *p, int j);
/* A running job that did not finish (stopped, or lost with its worker) waits again. */
void plan_requeue(plan *p, int j);
/* A running job failed: it and every job waiting on it, directly or not,
 * are out of the run; `each` is called for every job newly blocked. Skipped
 * jobs have their results already, so what waits on them is not blocked. */
void plan_fail(plan *p, int j, void (*each)(void *ctx, int blocked), void *ctx);

#endif
