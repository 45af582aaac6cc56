/* backend.c - the table of execution backends. */
#include "tk_backend.h"

#include "mpi_backend.h"

static int run_local(const tk_job_graph *g, const tk_backend_options *o, tk_error *err) {
    return tk_scheduler_run(g, o->workers, o->threads, o->progress_tty, err);
}

const tk_backend tk_backends[TK_BACKEND_COUNT] = {
    [TK_BACKEND_LOCAL] = {"local", "a pool of worker processes on this machine (fork)", run_local, NULL},
    [TK_BACKEND_SLURM] = {"slurm", "sbatch job arrays, one per depth of the graph, chained by afterok",
                          tk_slurm_run, tk_slurm_queued},
    [TK_BACKEND_MPI] = {"mpi", "under mpirun: rank 0 hands the jobs to ranks 1..N-1, --threads each", tk_mpi_run,
                        NULL},
};
_Static_assert(sizeof tk_backends / sizeof tk_backends[0] == TK_BACKEND_COUNT, "one row per backend");

int tk_backend_parse(const char *name, const tk_backend **out, tk_error *err) {
    int k;
    if (TK_PARSE_ROW("backend", name, tk_backends, TK_BACKEND_COUNT, &k, err)) return -1;
    *out = &tk_backends[k];
    return 0;
}

bool tk_backend_serves_only(const tk_backend *b) { return b == &tk_backends[TK_BACKEND_MPI] && tk_mpi_rank() > 0; }
