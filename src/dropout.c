/* dropout.c - inverted dropout driven by the caller's dropout RNG stream. */
#include "tk_common.h"
#include "tk_layers.h"

void tk_dropout_forward(float *y, uint8_t *keep, const float *x, size_t n, float p, tk_rng *rng) {
    TK_ASSERT(p >= 0.0f && p < 1.0f);
    const float scale = 1.0f / (1.0f - p);
    /* One draw per value even when p = 0, so the stream advances by n whatever p is. */
    for (size_t i = 0; i < n; i++) {
        keep[i] = tk_rng_uniform(rng) >= p;
        y[i] = keep[i] ? x[i] * scale : 0.0f;
    }
}

void tk_dropout_backward(float *dx, const float *dy, const uint8_t *keep, size_t n, float p) {
    if (!dx) return;
    const float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        if (keep[i]) dx[i] += dy[i] * scale;
}
