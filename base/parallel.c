/* parallel.c - per-call threads taking units of work from a shared counter. */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>

#include "tk_common.h"
#include "tk_parallel.h"

int tk_parallel_lanes(void) {
    int t = openblas_get_num_threads();
    return t < 1 ? 1 : t > TK_PARALLEL_MAX_LANES ? TK_PARALLEL_MAX_LANES : t;
}

typedef struct job {
    tk_unit_fn fn;
    void *ctx;
    int units;
    atomic_int next;
} job;

typedef struct lane {
    job *j;
    int id;
} lane;

static void *lane_run(void *p) {
    lane *l = p;
    for (int u; (u = atomic_fetch_add(&l->j->next, 1)) < l->j->units;) l->j->fn(l->j->ctx, u, l->id);
    return NULL;
}

void tk_parallel_units(int units, int lanes, tk_unit_fn fn, void *ctx) {
    if (units <= 0) return;
    if (lanes < 1) lanes = 1;
    if (lanes > TK_PARALLEL_MAX_LANES) lanes = TK_PARALLEL_MAX_LANES;
    if (lanes > units) lanes = units;
    job j = {.fn = fn, .ctx = ctx, .units = units};
    atomic_init(&j.next, 0);
    lane ls[TK_PARALLEL_MAX_LANES];
    pthread_t tid[TK_PARALLEL_MAX_LANES];
    /* A thread that cannot be created leaves its units to the others. */
    int started = 1;
    for (int i = 0; i < lanes; i++) ls[i] = (lane){&j, i};
    while (started < lanes && pthread_create(&tid[started], NULL, lane_run, &ls[started]) == 0) started++;
    lane_run(&ls[0]);
    for (int i = 1; i < started; i++) pthread_join(tid[i], NULL);
}

typedef struct range_job {
    tk_range_fn fn;
    void *ctx;
    size_t n, grain;
} range_job;

static void range_unit(void *p, int unit, int lane) {
    (void)lane;
    range_job *r = p;
    size_t lo = (size_t)unit * r->grain, hi = lo + r->grain < r->n ? lo + r->grain : r->n;
    r->fn(r->ctx, lo, hi);
}

void tk_parallel_range(size_t n, size_t grain, size_t work, tk_range_fn fn, void *ctx) {
    TK_ASSERT(grain > 0);
    if (n == 0) return;
    int lanes = work < TK_PARALLEL_MIN_WORK || n <= grain ? 1 : tk_parallel_lanes();
    if (lanes == 1) {
        fn(ctx, 0, n);
        return;
    }
    range_job r = {fn, ctx, n, grain};
    tk_parallel_units((int)((n + grain - 1) / grain), lanes, range_unit, &r);
}
