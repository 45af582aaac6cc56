/* relu.c - rectified linear unit. */
#include "tk_common.h"
#include "tk_layers.h"
#include "tk_parallel.h"

TK_HOT static void forward_range(void *p, size_t lo, size_t hi) {
    const tk_elementwise *r = p;
    float *y = r->out;
    const float *x = r->a;
    for (size_t i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void tk_relu_forward(float *y, const float *x, size_t n) {
    tk_elementwise r = {y, x, NULL};
    tk_parallel_range(n, TK_PARALLEL_GRAIN, n, forward_range, &r);
}

/* Adding 0 where the unit is off, rather than skipping, keeps the loop free
 * of branches so that it vectorises. */
TK_HOT static void backward_range(void *p, size_t lo, size_t hi) {
    const tk_elementwise *r = p;
    float *dx = r->out;
    const float *dy = r->a, *y = r->b;
    for (size_t i = lo; i < hi; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}

/* The gradient at 0 is taken as 0, as PyTorch does; reading y instead of x
 * lets the forward run in place (y == x). */
void tk_relu_backward(float *dx, const float *dy, const float *y, size_t n) {
    if (!dx) return;
    tk_elementwise r = {dx, dy, y};
    tk_parallel_range(n, TK_PARALLEL_GRAIN, n, backward_range, &r);
}
