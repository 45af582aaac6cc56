/* tk_layers.h - the layers: plain functions over float* with explicit shapes.
 *
 * Layout is NCHW float32. Conventions shared by every layer:
 *  - forward writes its output (=).
 *  - backward ADDS into every gradient it produces (dx, dw, db, ...): the
 *    caller zeroes gradient buffers once, and a tensor read by two layers (a
 *    residual branch) simply receives both contributions. Any gradient pointer
 *    may be NULL when that gradient is not needed (e.g. dx of the first layer).
 *  - No layer allocates: scratch space comes from the caller, sized by the
 *    matching *_workspace() function (in floats).
 *  - Results depend only on the inputs and the BLAS thread count. Batch norm,
 *    ReLU and add spread over that many threads too (tk_parallel.h), by
 *    channel or by piece, and give the same bits at any thread count. */
#ifndef TK_LAYERS_H
#define TK_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "tk_rng.h"

/* ---- linear: y[B,out] = x[B,in] . w[out,in]^T + b[out] (b may be NULL) */
void tk_linear_forward(float *y, const float *x, const float *w, const float *b, int B, int in, int out);
void tk_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                        int B, int in, int out);

/* ---- conv2d: x[B,C,H,W] * w[K,C,R,S] (+ b[K]) -> y[B,K,P,Q]
 * P = (H + 2*pad - R) / stride + 1, Q likewise. Zero padding. */
typedef struct tk_conv2d_shape {
    int B, C, H, W; /* input */
    int K, R, S;    /* output channels, kernel height, width */
    int stride, pad;
    int P, Q;       /* output height, width: filled by tk_conv2d_shape_init */
} tk_conv2d_shape;

/* Fills P and Q; returns 0, or -1 when the kernel does not fit the padded input. */
int tk_conv2d_shape_init(tk_conv2d_shape *s);
/* Floats of scratch the forward and backward passes need for this shape. */
size_t tk_conv2d_workspace(const tk_conv2d_shape *s);
void tk_conv2d_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                       float *work);
void tk_conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                        const tk_conv2d_shape *s, float *work);
/* The same from the kept weights alone (sp: their positions in w seen as
 * [K, C*R*S], from tk_sparse_conv_create), with dw packed as tk_sparse_linear_backward
 * packs it; within float32 rounding of the dense conv of the masked w. */
struct tk_sparse_linear;
size_t tk_conv2d_sparse_workspace(const tk_conv2d_shape *s, const struct tk_sparse_linear *sp);
void tk_conv2d_sparse_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                              const struct tk_sparse_linear *sp, float *work);
void tk_conv2d_sparse_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               const tk_conv2d_shape *s, const struct tk_sparse_linear *sp, float *work);
/* How conv2d runs (src/conv2d.c):
 *  - Backends: a table of {fits, workspace, forward, backward}; the first
 *    entry whose fits() accepts the shape computes it (today: a plain GEMM for
 *    1x1/stride 1/no padding, then im2col + GEMM for everything). A faster
 *    backend (oneDNN, sparse kernels) is one more entry; tk_conv2d_workspace
 *    covers whichever backend runs.
 *  - Threads: one thread per BLAS thread (at most 4) takes runs of samples,
 *    each calling BLAS single-threaded. The BLAS thread count is set to 1
 *    during a call and restored after, so callers that run convolutions from
 *    several threads at once must keep it at 1.
 *  - Determinism: nothing depends on the thread count. Where each sample has
 *    a GEMM of its own (output planes of 256 pixels or more, 1x1 convs), its
 *    y, dx and db depend on that sample alone, not on the batch it comes in.
 *    Smaller planes share a GEMM among a group of samples cut from the batch
 *    by index, so there they also depend on the batch; dw depends on the
 *    inputs and the batch size. */

/* ---- batch norm over x[B,C,HW], per channel.
 * Training uses batch statistics (biased variance) and updates the running
 * averages as PyTorch does: run = (1-momentum)*run + momentum*batch, with the
 * unbiased variance for run_var. save_mean/save_invstd[C] keep what backward needs. */
void tk_batchnorm_forward_train(float *y, float *save_mean, float *save_invstd, float *run_mean, float *run_var,
                                const float *x, const float *gamma, const float *beta, int B, int C, int HW,
                                float momentum, float eps);
void tk_batchnorm_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                               const float *run_mean, const float *run_var, int B, int C, int HW, float eps);
void tk_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                           const float *gamma, const float *save_mean, const float *save_invstd, int B, int C,
                           int HW);

/* ---- ReLU over n values; backward reads the forward output y. */
void tk_relu_forward(float *y, const float *x, size_t n);
void tk_relu_backward(float *dx, const float *dy, const float *y, size_t n);

/* ---- max pool, window k x k, stride `stride`, no padding, floor mode:
 * x[B,C,H,W] -> y[B,C,P,Q] with P = (H-k)/stride+1. argmax[B*C*P*Q] records the
 * flat input index (within the channel plane) of each maximum; ties go to the
 * first in row-major order, as in PyTorch. */
void tk_maxpool_forward(float *y, int32_t *argmax, const float *x, int B, int C, int H, int W, int k, int stride);
void tk_maxpool_backward(float *dx, const float *dy, const int32_t *argmax, int B, int C, int H, int W, int k,
                         int stride);

/* ---- average pool k x k with stride k (no padding): x[B,C,H,W] -> y[B,C,H/k,W/k].
 * With k = H = W it is global average pooling. */
void tk_avgpool_forward(float *y, const float *x, int B, int C, int H, int W, int k);
void tk_avgpool_backward(float *dx, const float *dy, int B, int C, int H, int W, int k);

/* ---- residual add: y = a + b over n values. */
void tk_add_forward(float *y, const float *a, const float *b, size_t n);
void tk_add_backward(float *da, float *db, const float *dy, size_t n);

/* ---- dropout (inverted): keeps each value with probability 1-p and scales it
 * by 1/(1-p); keep[n] records the draw for backward. Draws come from `rng`
 * (the dropout stream), one tk_rng_uniform per value, in order. */
void tk_dropout_forward(float *y, uint8_t *keep, const float *x, size_t n, float p, tk_rng *rng);
void tk_dropout_backward(float *dx, const float *dy, const uint8_t *keep, size_t n, float p);

/* ---- softmax cross-entropy, mean over the batch.
 * Returns the mean loss; writes probs[B,classes]; *correct (if non-NULL) gets
 * the number of rows whose arg-max (first on ties) equals the label. */
float tk_softmax_xent_forward(float *probs, int *correct, const float *logits, const int32_t *labels, int B,
                              int classes);
/* dlogits += (probs - onehot(label)) / B */
void tk_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels, int B, int classes);

#endif
