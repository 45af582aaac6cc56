/* pool.c - max and average pooling over NCHW planes, no padding, floor mode.
 * Planes are independent, so they are spread over the threads. */
#include "tk_common.h"
#include "tk_layers.h"
#include "tk_parallel.h"

typedef struct pool_args {
    float *y, *dx;
    int32_t *argmax;
    const int32_t *argmax_in;
    const float *x, *dy;
    int H, W, k, stride, P, Q;
} pool_args;

/* Runs fn over the B*C planes of one call. */
static void over_planes(pool_args *a, int B, int C, tk_range_fn fn) {
    size_t planes = (size_t)B * C, plane_floats = (size_t)a->H * a->W;
    size_t grain = TK_PARALLEL_GRAIN / plane_floats + 1;
    tk_parallel_range(planes, grain, planes * plane_floats, fn, a);
}

TK_HOT static void maxpool_forward_range(void *p, size_t lo, size_t hi) {
    const pool_args *a = p;
    const int H = a->H, W = a->W, k = a->k, stride = a->stride, P = a->P, Q = a->Q;
    for (size_t plane = lo; plane < hi; plane++) {
        const float *xp = a->x + plane * H * W;
        float *yp = a->y + plane * P * Q;
        int32_t *ap = a->argmax + plane * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                int best = p * stride * W + q * stride;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int at = (p * stride + i) * W + q * stride + j;
                        /* Strict '>' keeps the first maximum on ties; a NaN wins
                         * so that divergence shows up, as in PyTorch. */
                        if (xp[at] > xp[best] || xp[at] != xp[at]) best = at;
                    }
                yp[p * Q + q] = xp[best];
                ap[p * Q + q] = best;
            }
    }
}

void tk_maxpool_forward(float *y, int32_t *argmax, const float *x, int B, int C, int H, int W, int k, int stride) {
    pool_args a = {.y = y, .argmax = argmax, .x = x, .H = H, .W = W, .k = k, .stride = stride,
                   .P = (H - k) / stride + 1, .Q = (W - k) / stride + 1};
    over_planes(&a, B, C, maxpool_forward_range);
}

TK_HOT static void maxpool_backward_range(void *p, size_t lo, size_t hi) {
    const pool_args *a = p;
    const size_t HW = (size_t)a->H * a->W, PQ = (size_t)a->P * a->Q;
    for (size_t plane = lo; plane < hi; plane++)
        for (size_t o = 0; o < PQ; o++) a->dx[plane * HW + a->argmax_in[plane * PQ + o]] += a->dy[plane * PQ + o];
}

void tk_maxpool_backward(float *dx, const float *dy, const int32_t *argmax, int B, int C, int H, int W, int k,
                         int stride) {
    if (!dx) return;
    pool_args a = {.dx = dx, .dy = dy, .argmax_in = argmax, .H = H, .W = W, .k = k, .stride = stride,
                   .P = (H - k) / stride + 1, .Q = (W - k) / stride + 1};
    over_planes(&a, B, C, maxpool_backward_range);
}

TK_HOT static void avgpool_forward_range(void *p, size_t lo, size_t hi) {
    const pool_args *a = p;
    const int W = a->W, k = a->k, P = a->P, Q = a->Q;
    const float inv = 1.0f / (float)(k * k);
    for (size_t plane = lo; plane < hi; plane++) {
        const float *xp = a->x + plane * a->H * W;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float s = 0.0f;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) s += xp[(p * k + i) * W + q * k + j];
                a->y[(plane * P + p) * Q + q] = s * inv;
            }
    }
}

void tk_avgpool_forward(float *y, const float *x, int B, int C, int H, int W, int k) {
    pool_args a = {.y = y, .x = x, .H = H, .W = W, .k = k, .stride = k, .P = H / k, .Q = W / k};
    over_planes(&a, B, C, avgpool_forward_range);
}

TK_HOT static void avgpool_backward_range(void *p, size_t lo, size_t hi) {
    const pool_args *a = p;
    const int W = a->W, k = a->k, P = a->P, Q = a->Q;
    const float inv = 1.0f / (float)(k * k);
    for (size_t plane = lo; plane < hi; plane++) {
        float *dxp = a->dx + plane * a->H * W;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float g = a->dy[(plane * P + p) * Q + q] * inv;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) dxp[(p * k + i) * W + q * k + j] += g;
            }
    }
}

void tk_avgpool_backward(float *dx, const float *dy, int B, int C, int H, int W, int k) {
    if (!dx) return;
    pool_args a = {.dx = dx, .dy = dy, .H = H, .W = W, .k = k, .stride = k, .P = H / k, .Q = W / k};
    over_planes(&a, B, C, avgpool_backward_range);
}
