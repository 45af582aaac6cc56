/* cmd_study_bench.c - `ticket study bench`: what a backend's dispatcher
 * costs per job, on a synthetic job graph whose jobs do nothing. A study's
 * jobs take seconds to days, so this only matters when it is large: it
 * says how many jobs a second a backend can follow at most. */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tk_backend.h"
#include "tk_cli.h"

/* The shape of a study: CHAINS chains of LEVELS find levels, each level
 * after the one before, and the other jobs transfers, each after one level
 * (dealt round the levels). */
enum { CHAINS = 10, LEVELS = 10, LINKS = CHAINS * LEVELS, DEFAULT_JOBS = 10000 };

static int n_deps(void *ctx, int j) {
    (void)ctx;
    return j >= LINKS || j % LEVELS ? 1 : 0;
}
static int dep(void *ctx, int j, int i) {
    (void)ctx, (void)i;
    return j < LINKS ? j - 1 : (j - LINKS) % LINKS;
}
static int run_nothing(void *ctx, int job, int threads, tk_error *err) {
    (void)ctx, (void)job, (void)threads, (void)err;
    return 0;
}

/* The backend's run of the graph with these options, timed; what it
 * prints (progress events, or a dry run's scripts: part of the cost) goes
 * to /dev/null. */
static int time_run(const tk_backend *b, const tk_job_graph *g, const tk_backend_options *bo, double *seconds,
                    tk_error *err) {
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);
    if (saved < 0 || null < 0) return tk_fail_system(err, "cannot open /dev/null for the progress events");
    dup2(null, STDOUT_FILENO);
    close(null);
    double t0 = tk_now();
    int rc = b->run(g, bo, err);
    *seconds = tk_now() - t0;
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    return rc < 0 ? -1 : 0;
}

static int time_dispatch(const tk_backend *b, const tk_job_graph *g, int workers, double *seconds, tk_error *err) {
    tk_backend_options bo = {.workers = workers, .threads = workers, .progress_tty = false};
    return time_run(b, g, &bo, seconds, err);
}

/* Slurm's submission path without a cluster: the batch scripts of every
 * array, as --dry-run writes them (sbatch itself is the cluster's cost). */
static int time_submission(const tk_backend *b, const tk_job_graph *g, int workers, double *seconds, tk_error *err) {
    (void)workers;
    char dir[] = "/tmp/ticket-study-bench-XXXXXX", spec[64];
    if (!mkdtemp(dir)) return tk_fail_system(err, "cannot make a folder in /tmp for the bench");
    snprintf(spec, sizeof spec, "%s/study.json", dir);
    tk_backend_options bo = {.study_dir = dir, .spec = spec, .study_name = "bench", .dry_run = true};
    int rc = time_run(b, g, &bo, seconds, err);
    rmdir(dir);
    return rc;
}

/* What each backend's benchmark measures: a row per backend. */
typedef struct bench_row {
    int backend;      /* TK_BACKEND_... */
    const char *unit; /* what the rate counts */
    int (*measure)(const tk_backend *b, const tk_job_graph *g, int workers, double *seconds, tk_error *err);
} bench_row;

static const bench_row rows[] = {
    {TK_BACKEND_LOCAL, "jobs dispatched", time_dispatch},
    {TK_BACKEND_MPI, "jobs dispatched", time_dispatch},
    {TK_BACKEND_SLURM, "jobs written into array scripts", time_submission},
};
enum { N_ROWS = sizeof rows / sizeof rows[0] };

static tk_option options[] = {
    {"jobs", "N", "jobs in the synthetic graph (default 10000)", NULL},
    {"backend", "NAME", "the backend measured (default local)", NULL},
    {"workers", "N", "local: worker processes (default 2); mpi: the ranks decide", NULL},
};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

int tk_cmd_study_bench(int argc, char **argv) {
    tk_error err = {0};
    const char *usage = "ticket study bench [--jobs N] [--backend NAME] [--workers N]";
    char about[512];
    snprintf(about, sizeof about,
             "Jobs a second a backend dispatches, on a synthetic graph of N jobs that do nothing:\n"
             "%d chains of %d levels, the other jobs each after one level, as a study's transfers.\n"
             "Under MPI: mpirun -np 3 ticket study bench --backend mpi.", CHAINS, LEVELS);
    bool help;
    if (tk_cli_parse(argc, argv, options, N_OPTIONS, &help, &err)) return tk_cli_fail("study bench", &err);
    if (help) {
        tk_cli_usage(stdout, usage, about, options, N_OPTIONS);
        return 0;
    }
    int jobs = DEFAULT_JOBS, workers = 2;
    const tk_backend *b = &tk_backends[TK_BACKEND_LOCAL];
    const char *name = tk_cli_find(options, N_OPTIONS, "backend")->value;
    if (tk_cli_int(options, N_OPTIONS, "jobs", &jobs, &err) < 0 ||
        tk_cli_int(options, N_OPTIONS, "workers", &workers, &err) < 0 || (name && tk_backend_parse(name, &b, &err)))
        return tk_cli_fail("study bench", &err);
    if (jobs < 1 || workers < 1) {
        fprintf(stderr, "ticket study bench: --jobs and --workers must be >= 1\n");
        return 2;
    }
    const bench_row *row = NULL;
    for (int i = 0; i < N_ROWS; i++)
        if (&tk_backends[rows[i].backend] == b) row = &rows[i];
    if (!row) {
        fprintf(stderr, "ticket study bench: no benchmark for the backend %s yet\n", b->name);
        return 2;
    }
    tk_job_graph g = {.n_jobs = jobs, .ctx = NULL, .n_deps = n_deps, .dep = dep, .done = NULL, .cost = NULL,
                      .label = NULL, .run = run_nothing};
    double seconds;
    if (row->measure(b, &g, workers, &seconds, &err)) return tk_cli_fail("study bench", &err);
    printf("study bench: backend %s, %d jobs (%d chains of %d levels, %d after them): %.3f s, %.0f %s/s\n", b->name,
           jobs, CHAINS, LEVELS, jobs > LINKS ? jobs - LINKS : 0, seconds, seconds > 0 ? jobs / seconds : 0.0,
           row->unit);
    return 0;
}
