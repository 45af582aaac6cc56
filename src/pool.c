/* pool.c - max and average pooling over NCHW planes, no padding, floor mode. */
#include "tk_layers.h"

void tk_maxpool_forward(float *y, int32_t *argmax, const float *x, int B, int C, int H, int W, int k, int stride) {
    const int P = (H - k) / stride + 1, Q = (W - k) / stride + 1;
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        const float *xp = x + plane * H * W;
        float *yp = y + plane * P * Q;
        int32_t *ap = argmax + plane * P * Q;
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

void tk_maxpool_backward(float *dx, const float *dy, const int32_t *argmax, int B, int C, int H, int W, int k,
                         int stride) {
    if (!dx) return;
    const size_t PQ = (size_t)((H - k) / stride + 1) * ((W - k) / stride + 1);
    for (size_t plane = 0; plane < (size_t)B * C; plane++)
        for (size_t o = 0; o < PQ; o++) dx[plane * H * W + argmax[plane * PQ + o]] += dy[plane * PQ + o];
}

void tk_avgpool_forward(float *y, const float *x, int B, int C, int H, int W, int k) {
    const int P = H / k, Q = W / k;
    const float inv = 1.0f / (float)(k * k);
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        const float *xp = x + plane * H * W;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float s = 0.0f;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) s += xp[(p * k + i) * W + q * k + j];
                y[(plane * P + p) * Q + q] = s * inv;
            }
    }
}

void tk_avgpool_backward(float *dx, const float *dy, int B, int C, int H, int W, int k) {
    if (!dx) return;
    const int P = H / k, Q = W / k;
    const float inv = 1.0f / (float)(k * k);
    for (size_t plane = 0; plane < (size_t)B * C; plane++) {
        float *dxp = dx + plane * H * W;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float g = dy[(plane * P + p) * Q + q] * inv;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) dxp[(p * k + i) * W + q * k + j] += g;
            }
    }
}
