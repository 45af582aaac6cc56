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

typedef struct tk_backend_options {
    int workers;       /* jobs at a time */
    int threads;       /* BLAS threads shared by the workers */
    bool progress_tty; /* a progress line on the terminal, else JSON events */
} tk_backend_options;

typedef struct tk_backend {
    const char *name;
    const char *summary; /* one line for --help */
    int (*run)(const tk_job_graph *g, const tk_backend_options *o, tk_error *err);
} tk_backend;

enum { TK_BACKEND_LOCAL, TK_BACKEND_MPI, TK_BACKEND_COUNT };
extern const tk_backend tk_backends[TK_BACKEND_COUNT];

/* True in a process that only runs jobs for another's run (MPI ranks
 * 1..N-1): it leaves the study folder's own files (study.json, the report)
 * to the one that leads, rather than race it writing them. b NULL: local. */
bool tk_backend_serves_only(const tk_backend *b);

/* The backend named `name`; an unknown name is refused with the valid list. */
int tk_backend_parse(const char *name, const tk_backend **out, tk_error *err);

#endif
