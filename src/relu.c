/* relu.c - rectified linear unit. */
#include "tk_layers.h"

void tk_relu_forward(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* The gradient at 0 is taken as 0, as PyTorch does; reading y instead of x
 * lets the forward run in place (y == x). */
void tk_relu_backward(float *dx, const float *dy, const float *y, size_t n) {
    if (!dx) return;
    for (size_t i = 0; i < n; i++)
        if (y[i] > 0.0f) dx[i] += dy[i];
}
