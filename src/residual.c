/* residual.c - elementwise add, the join of a residual block. */
#include "tk_common.h"
#include "tk_layers.h"
#include "tk_parallel.h"

TK_HOT static void add_range(void *p, size_t lo, size_t hi) {
    const tk_elementwise *r = p;
    float *y = r->out;
    const float *a = r->a, *b = r->b;
    for (size_t i = lo; i < hi; i++) y[i] = a[i] + b[i];
}

void tk_add_forward(float *y, const float *a, const float *b, size_t n) {
    tk_elementwise r = {y, a, b};
    tk_parallel_range(n, TK_PARALLEL_GRAIN, n, add_range, &r);
}

/* da and db may be the same buffer (y = a + a): each contribution is added in
 * turn, so da += dy runs to the end before db += dy starts. */
void tk_add_backward(float *da, float *db, const float *dy, size_t n) {
    if (da) tk_add_forward(da, da, dy, n);
    if (db) tk_add_forward(db, db, dy, n);
}
