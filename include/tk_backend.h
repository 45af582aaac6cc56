/* tk_backend.h - who runs a job graph: one row per execution backend.
 *
 * The job graph (tk_scheduler.h) is the same for every backend; a backend
 * only decides where and when each job's run() is called. A job can also
 * be run alone in a fresh process (`ticket study job`), which rebuilds the
 * graph from the specification: backends that start jobs on other machines
 * (Slurm, MPI) go through that door rather than through inherited memory.
 *
 * Adding a backend: its run function in its own file and one row in
 * backends/backend.c. */
#ifndef TK_BACKEND_H
#define TK_BACKEND_H

#include "tk_scheduler.h"

/* Slurm's sbatch options (NULL or 0: the cluster's defaults). */
typedef struct tk_slurm_options {
    const char *partition, *time, *account;
    const char *sbatch_args; /* more sbatch options, separated by spaces */
    int cpus_per_task;       /* each task's CPUs, also its BLAS threads; 0: 1 */
    int array_max;           /* tasks of one array running at a time; 0: no limit */
} tk_slurm_options;

typedef struct tk_backend_options {
    int workers;       /* jobs at a time */
    int threads;       /* BLAS threads shared by the workers */
    bool progress_tty; /* a progress line on the terminal, else JSON events */
    /* For backends that start jobs elsewhere: the study's folder, its
     * specification there (OUT/study.json, from which `ticket study job`
     * rebuilds the graph) and its name. */
    const char *study_dir, *spec, *study_name;
    bool dry_run; /* print what would be submitted, submit nothing */
    tk_slurm_options slurm;
} tk_backend_options;

/* What a job's state is in a backend's queue, for `ticket study status`. */
typedef enum tk_queue_state { TK_QUEUE_NONE, TK_QUEUE_PENDING, TK_QUEUE_RUNNING } tk_queue_state;

typedef struct tk_backend {
    const char *name;
    const char *summary; /* one line for --help */
    /* 0 once every job has run (the caller writes the report), 1 when the
     * jobs were handed to a queue that runs them later, -1 with err set. */
    int (*run)(const tk_job_graph *g, const tk_backend_options *o, tk_error *err);
    /* The queue's state of each job of the study in study_dir (NULL: the
     * backend keeps no queue). */
    void (*queued)(const char *study_dir, int n_jobs, tk_queue_state *state);
} tk_backend;

enum { TK_BACKEND_LOCAL, TK_BACKEND_SLURM, TK_BACKEND_MPI, TK_BACKEND_COUNT };
extern const tk_backend tk_backends[TK_BACKEND_COUNT];

/* True in a process that only runs jobs for another's run (MPI ranks
 * 1..N-1): it leaves the study folder's own files (study.json, the report)
 * to the one that leads, rather than race it writing them. b NULL: local. */
bool tk_backend_serves_only(const tk_backend *b);

/* The backend named `name`; an unknown name is refused with the valid list. */
int tk_backend_parse(const char *name, const tk_backend **out, tk_error *err);

/* The backends' run and queue functions, each in its own file. */
int tk_slurm_run(const tk_job_graph *g, const tk_backend_options *o, tk_error *err);
void tk_slurm_queued(const char *study_dir, int n_jobs, tk_queue_state *state);

#endif
