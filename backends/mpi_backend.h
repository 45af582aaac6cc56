/* mpi_backend.h - the mpi row of the backend table (mpi.c). Private to backends/. */
#ifndef TK_BACKENDS_MPI_BACKEND_H
#define TK_BACKENDS_MPI_BACKEND_H

#include "tk_backend.h"

/* Under mpirun: rank 0 follows the graph, ranks 1..N-1 run its jobs. In a
 * build without MPI, refuses with how to get it. */
int tk_mpi_run(const tk_job_graph *g, const tk_backend_options *o, tk_error *err);

/* This process's rank as the launcher set it (before MPI_Init); -1 when not
 * started by one. */
int tk_mpi_rank(void);

#endif
