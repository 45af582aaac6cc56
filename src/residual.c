/* residual.c - elementwise add, the join of a residual block. */
#include "tk_layers.h"

void tk_add_forward(float *y, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* da and db may be the same buffer (y = a + a): each contribution is added in turn. */
void tk_add_backward(float *da, float *db, const float *dy, size_t n) {
    if (da)
        for (size_t i = 0; i < n; i++) da[i] += dy[i];
    if (db)
        for (size_t i = 0; i < n; i++) db[i] += dy[i];
}
