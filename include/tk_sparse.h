/* tk_sparse.h - a masked linear layer computed from its kept weights only.
 *
 * A ticket at 5% density spends 95% of a dense layer's multiplications on
 * weights that are zero by contract. This layer reads the kept positions of
 * w[out, in] from index lists built once from the mask (a training run never
 * changes its mask), and reads their values from w itself, so the optimizer
 * and the masking contract see the same dense arena as ever:
 *   y = x . w^T + b,  dx += dy . w,  db += sum_b dy[b, :], and the
 *   gradients of the kept weights alone, packed: dw[q] += sum_b dy[b, o]
 *   x[b, j] for the q-th kept (o, j) in row-major order (the pruned ones
 *   are zero by contract: computing them would be waste).
 * The same contract as tk_linear_forward/backward (tk_layers.h).
 *
 * The batch runs along the vectors: x is transposed to xT[in, B] once per
 * call, so that each kept weight scales a contiguous row of B values. Every
 * output element is one sum in a fixed order (kept weights by increasing
 * index; dw's sum over the batch in 16 fixed partial sums added in a fixed
 * tree), the same on every instruction set and for every thread count: rows
 * are split over the engine's threads, each element computed by one thread. */
#ifndef TK_SPARSE_H
#define TK_SPARSE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tk_sparse_linear tk_sparse_linear;

/* The kept positions of w[out, in] under mask[out * in] (1 = kept). */
tk_sparse_linear *tk_sparse_linear_create(const uint8_t *mask, int in, int out);
void tk_sparse_linear_free(tk_sparse_linear *s);
/* A conv's w[K, C, R, S] as [K, C*R*S], and beside it the kept positions of
 * the kernel flipped with its channel axes swapped, wflip[C, K, R, S] with
 * wflip[c, k, r, t] = w[k, c, R-1-r, S-1-t]: a stride-1 conv's dx is the
 * conv of dy by wflip, which then costs the kept weights only too. */
tk_sparse_linear *tk_sparse_conv_create(const uint8_t *mask, int K, int C, int R, int S);
/* The flipped kernel's positions as [C, K*R*S]; NULL unless s came from tk_sparse_conv_create. */
const tk_sparse_linear *tk_sparse_conv_flipped(const tk_sparse_linear *s);
size_t tk_sparse_linear_kept(const tk_sparse_linear *s);

/* Scratch floats a call with a batch of B needs. */
size_t tk_sparse_linear_workspace(const tk_sparse_linear *s, int B);

/* Leaves x transposed in `work` for the backward pass of the same batch,
 * the way a model keeps a layer's input activations for it. */
void tk_sparse_linear_forward(float *y, const float *x, const float *w, const float *b, int B,
                              const tk_sparse_linear *s, float *work);
/* dx, dw, db may each be NULL. `work` must hold what the forward pass of
 * this x left there. */
void tk_sparse_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               int B, const tk_sparse_linear *s, float *work);

/* The same products on the calling thread, over blocks whose rows are ld
 * floats long (ld a multiple of TK_SPARSE_CHUNK; every column counts, so
 * unused ones must be zero): the form a convolution lowered by im2col takes,
 * x^T[in, ld] being its col (sparse conv2d: tk_conv2d_sparse_forward).
 *   yT[o, :] = b[o] + sum of w[o, j] xT[j, :] over kept (o, j) (b may be NULL)
 *   dw[q] += dyT[o, :] . xT[j, :] for the q-th kept (o, j)
 *   dxT[j, :] = sum of w[o, j] dyT[o, :] over kept (o, j) (written, not added) */
#define TK_SPARSE_CHUNK 64
void tk_sparse_rows_forward(float *yT, const float *xT, size_t ld, const float *w, const float *b,
                            const tk_sparse_linear *s);
void tk_sparse_rows_weight_grad(float *dw, const float *dyT, const float *xT, size_t ld, const tk_sparse_linear *s);
void tk_sparse_rows_input_grad(float *dxT, const float *dyT, size_t ld, const float *w, const tk_sparse_linear *s);

#endif
