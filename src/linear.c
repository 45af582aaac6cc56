/* linear.c - fully connected layer on the engine's matrix product (row-major). */
#include "tk_gemm.h"
#include "tk_layers.h"

void tk_linear_forward(float *y, const float *x, const float *w, const float *b, int B, int in, int out) {
    /* Seed y with the bias and let the product add x.w^T onto it (beta = 1); without a
     * bias, beta = 0 lets it ignore whatever y held. */
    if (b)
        for (int i = 0; i < B; i++)
            for (int o = 0; o < out; o++) y[(size_t)i * out + o] = b[o];
    tk_sgemm(false, true, B, out, in, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

void tk_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                        int B, int in, int out) {
    /* beta = 1 everywhere: gradients accumulate (see tk_layers.h). */
    if (dx) /* dx[B,in] += dy[B,out] . w[out,in] */
        tk_sgemm(false, false, B, in, out, dy, out, w, in, 1.0f, dx, in);
    if (dw) /* dw[out,in] += dy^T[out,B] . x[B,in] */
        tk_sgemm(true, false, out, in, B, dy, out, x, in, 1.0f, dw, in);
    if (db)
        for (int i = 0; i < B; i++)
            for (int o = 0; o < out; o++) db[o] += dy[(size_t)i * out + o];
}
