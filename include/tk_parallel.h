/* tk_parallel.h - independent units of work spread over the engine's threads.
 *
 * The engine has one thread count: the BLAS thread count the caller set
 * (openblas_set_num_threads). Layers that BLAS does not run for them (conv
 * lowering, batch norm, ReLU, add, pooling) use it through these functions.
 *
 * Determinism is the caller's contract: a unit's result must not depend on
 * which thread runs it or in what order units run (each unit writes its own
 * outputs; sums over units are done afterwards, in unit order). Then results
 * do not depend on the thread count. Threads are created per call and joined
 * before it returns, so a process that forks (the study scheduler) never
 * inherits a half-owned pool. */
#ifndef TK_PARALLEL_H
#define TK_PARALLEL_H

#include <stddef.h>

/* Threads a parallel call may use: the BLAS thread count, at most this. */
#define TK_PARALLEL_MAX_LANES 4

int tk_parallel_lanes(void);

/* Calls fn(ctx, unit, lane) once for every unit in [0, units), on at most
 * `lanes` threads (the calling thread is one of them). lane in [0, lanes)
 * names the thread, for per-thread scratch. Threads take units in turn, so a
 * thread that gets less CPU on a shared machine takes fewer. */
typedef void (*tk_unit_fn)(void *ctx, int unit, int lane);
void tk_parallel_units(int units, int lanes, tk_unit_fn fn, void *ctx);

/* Calls fn(ctx, lo, hi) over [0, n) cut into pieces of `grain` items (the
 * last may be shorter), in parallel when the whole range touches at least
 * TK_PARALLEL_MIN_WORK floats (`work`; below that a thread costs more than it
 * saves), else once over the whole range. An item's result must not depend
 * on how the range is cut. */
#define TK_PARALLEL_MIN_WORK ((size_t)1 << 16)
/* A piece of an element-wise loop: 64 KiB of floats. */
#define TK_PARALLEL_GRAIN ((size_t)1 << 14)
typedef void (*tk_range_fn)(void *ctx, size_t lo, size_t hi);
void tk_parallel_range(size_t n, size_t grain, size_t work, tk_range_fn fn, void *ctx);

/* The context of an element-wise loop out[i] = f(a[i], b[i]). Copy the
 * pointers into locals before the loop: a store through r->out might change
 * *r as far as the compiler knows, so it would reload r->a at every element
 * and not vectorise. */
typedef struct tk_elementwise {
    float *out;
    const float *a, *b;
} tk_elementwise;

#endif
