/* tk_scheduler.h - runs a job graph on a local pool of worker processes.
 *
 * The graph is only callbacks: the scheduler knows nothing of studies, and
 * another backend (MPI, Slurm) can drive the same graph by calling the same
 * callbacks in its own workers. What follows holds for every backend that
 * follows the graph itself (local, mpi: backends/dispatch.c is that loop).
 *
 * How a run goes:
 * - The graph is checked first: every dependency names a job, and there is
 *   no cycle (the error names the jobs on one). Jobs whose done() is true are
 *   skipped; a skipped job counts as finished for the jobs that depend on it.
 * - Each job runs in a child made with fork(), which calls run() and exits;
 *   a failing run()'s message comes back through a pipe. run() must write its
 *   results atomically (tk_file_write_atomic), so that a job killed halfway
 *   leaves nothing that done() would take for finished.
 * - BLAS threads per job = max(1, total_threads / workers), passed to run()
 *   as `threads`. The share is fixed for the whole run, not widened when fewer
 *   jobs are ready than there are workers: results are reproducible only for a
 *   fixed thread count, and a rerun after an interruption must give the bits
 *   an uninterrupted run would have given.
 * - Among the jobs whose dependencies have finished, the one heading the most
 *   expensive chain of jobs still to run goes first (its cost plus that of the
 *   costliest path through the jobs waiting on it): a long chain of
 *   short jobs starts before a single job that is longer than any of its
 *   links but shorter than the chain. Ties go to the lower index.
 * - A job that succeeds must then report done(): otherwise its results are
 *   not where done() looks, a rerun would redo it forever, and it counts as
 *   failed. A failed job's dependents are not started (blocked); every other
 *   job still runs, and the call returns -1 listing each failed job (label
 *   and message) once the running jobs have finished.
 * - SIGINT or SIGTERM: no new job starts, the signal is forwarded to the
 *   running jobs, which are waited for; a second signal kills them outright.
 *   The call returns -1 saying the study can be rerun to continue (only
 *   unfinished jobs run again). Signals the caller ignored stay ignored.
 * - Progress: on a terminal (progress_tty) one line on stderr redrawn in
 *   place, "jobs 12/40 done, 2 running, 1 failed, ETA 5m10s" (done counts
 *   skipped jobs); otherwise one JSON line per event on stdout
 *   ({"event":"start"|"done"|"failed"|"blocked"|"stopped", "job":label, ...;
 *   mpi adds "lost": a job whose rank died, to run again elsewhere),
 *   framed by "study" and "end" events, and "interrupted" on a signal). The ETA is the remaining estimated
 *   cost scaled by the observed ratio of actual to estimated seconds of the
 *   jobs finished so far, spread over the workers, and never less than the
 *   costliest remaining chain.
 *
 * The scheduler owns SIGINT, SIGTERM and SIGCHLD while it runs (restored
 * before it returns), so only one tk_scheduler_run may run per process at a
 * time. The children inherit the caller's state; they should not draw on the
 * terminal themselves (train with TK_PROGRESS_NONE), as the progress line
 * would be overwritten. */
#ifndef TK_SCHEDULER_H
#define TK_SCHEDULER_H

#include "tk_common.h"

typedef struct tk_job_graph {
    int n_jobs;
    void *ctx;
    /* The jobs that must finish before `job` starts; n_deps NULL: none. */
    int (*n_deps)(void *ctx, int job);
    int (*dep)(void *ctx, int job, int i);
    /* Finished on disk (skipped); NULL: nothing is finished. Called once per
     * job at the start and once after each successful run. */
    bool (*done)(void *ctx, int job);
    /* Estimated seconds (finite, >= 0), for the order and the ETA; NULL: 1 each. */
    double (*cost)(void *ctx, int job);
    /* A name for people, written into buf (or a constant returned); NULL: "job N". */
    const char *(*label)(void *ctx, int job, char *buf, size_t cap);
    /* Runs in a worker process with `threads` BLAS threads (the callee sets
     * them, e.g. openblas_set_num_threads); returns 0, or -1 with err set. */
    int (*run)(void *ctx, int job, int threads, tk_error *err);
} tk_job_graph;

/* max(1, total_threads / workers): the BLAS threads each job gets. */
int tk_scheduler_threads_per_job(int workers, int total_threads);

int tk_scheduler_run(const tk_job_graph *g, int workers, int total_threads, bool progress_tty, tk_error *err);

/* What is left to do, for `ticket study plan`: the jobs not done() and
 * their summed cost, and the wall-clock seconds the run would take on
 * `workers` workers if every estimate were exact (the same order as
 * tk_scheduler_run, simulated). Checks the graph as tk_scheduler_run does. */
typedef struct tk_schedule_estimate {
    int to_run;
    double work_s, wall_s;
} tk_schedule_estimate;
int tk_scheduler_estimate(const tk_job_graph *g, int workers, tk_schedule_estimate *out, tk_error *err);

#endif
