/* conv2d.c - 2-D convolution (NCHW float32) on top of BLAS sgemm.
 *
 * Two levels:
 *  - threads: the batch is cut into runs of samples that one thread per BLAS
 *    thread takes in turn, each calling BLAS single-threaded. Per-sample GEMMs
 *    here are small (16 to 128 rows, 64 to 1024 columns) and OpenBLAS splits
 *    one of them over two threads poorly (measured: slower than one thread on
 *    ResNet-20 layers), while independent samples scale almost 2x.
 *  - backends: how a run of samples is computed. The first entry of
 *    `backends` whose `fits` accepts the shape runs, so a faster kernel for
 *    some shapes (oneDNN, sparse weights) is one more table entry.
 *
 * Backends always call BLAS single-threaded, one sample per GEMM where the
 * output plane is big enough to fill one (see GROUP_COLUMNS): then y, dx and
 * db of a sample depend on that sample alone, not on its batch neighbours,
 * the batch size or the thread count. (A GEMM over several samples would not
 * give that: OpenBLAS rounds a column of C differently depending on where it
 * falls in the matrix, and on its thread count.) Smaller planes group samples
 * by index, never by thread. dw is summed in fixed groups of samples (see
 * DW_GROUPS), so it depends on the inputs and the batch size, not on the
 * thread count. Every pass cuts the batch into the same GEMM groups, so a
 * gradient does not depend on which other gradients were asked for either. */
#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tk_common.h"
#include "tk_gemm.h"
#include "tk_layers.h"
#include "tk_parallel.h"
#include "tk_sparse.h"

int tk_conv2d_shape_init(tk_conv2d_shape *s) {
    if (s->B < 1 || s->C < 1 || s->H < 1 || s->W < 1 || s->K < 1 || s->R < 1 || s->S < 1 || s->stride < 1 ||
        s->pad < 0)
        return -1;
    if (s->R > s->H + 2 * s->pad || s->S > s->W + 2 * s->pad) return -1;
    s->P = (s->H + 2 * s->pad - s->R) / s->stride + 1;
    s->Q = (s->W + 2 * s->pad - s->S) / s->stride + 1;
    return 0;
}

static size_t plane_out(const tk_conv2d_shape *s) { return (size_t)s->P * s->Q; }
static size_t plane_in(const tk_conv2d_shape *s) { return (size_t)s->H * s->W; }
static size_t kernel_taps(const tk_conv2d_shape *s) { return (size_t)s->R * s->S; }
static size_t weight_len(const tk_conv2d_shape *s) { return (size_t)s->K * s->C * kernel_taps(s); }

/* y[k, :] = b[k] over one sample, so that a GEMM with beta = 1 adds onto the
 * bias; without a bias the GEMM runs with beta = 0 instead. */
TK_HOT static void seed_bias(float *y, const float *b, int K, size_t plane) {
    for (int k = 0; k < K; k++)
        for (size_t i = 0; i < plane; i++) y[k * plane + i] = b[k];
}

/* A backend computes s->B samples with single-threaded BLAS and its own
 * scratch, `workspace(s)` floats that do not depend on s->B. backward adds
 * into dx and dw, either of which may be NULL (db is handled above them). */
typedef struct conv2d_backend {
    /* sp: the weights' kept positions when the layer runs sparse, else NULL. */
    bool (*fits)(const tk_conv2d_shape *s, const tk_sparse_linear *sp);
    int (*group)(const tk_conv2d_shape *s); /* samples that share one GEMM */
    size_t (*workspace)(const tk_conv2d_shape *s);
    void (*forward)(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                    const tk_sparse_linear *sp, float *work);
    /* dw is packed (tk_sparse.h) when sp is given. */
    void (*backward)(float *dx, float *dw, const float *dy, const float *x, const float *w,
                     const tk_conv2d_shape *s, const tk_sparse_linear *sp, float *work);
} conv2d_backend;

/* ---- direct backend: a 1x1, stride 1, unpadded conv is already a GEMM over
 * each sample's [C, H*W] planes, so it needs neither im2col nor scratch. */

static bool direct_fits(const tk_conv2d_shape *s, const tk_sparse_linear *sp) {
    return !sp && s->R == 1 && s->S == 1 && s->stride == 1 && s->pad == 0;
}

static int one_sample(const tk_conv2d_shape *s) {
    (void)s;
    return 1;
}

static size_t direct_workspace(const tk_conv2d_shape *s) {
    (void)s;
    return 0;
}

static void direct_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                           const tk_sparse_linear *sp, float *work) {
    (void)sp, (void)work;
    size_t hw = plane_in(s);
    for (int n = 0; n < s->B; n++) {
        float *yn = y + (size_t)n * s->K * hw;
        if (b) seed_bias(yn, b, s->K, hw);
        tk_sgemm(false, false, s->K, (int)hw, s->C, w, s->C, x + (size_t)n * s->C * hw, (int)hw, b ? 1.0f : 0.0f, yn, (int)hw);
    }
}

static void direct_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                            const tk_conv2d_shape *s, const tk_sparse_linear *sp, float *work) {
    (void)sp, (void)work;
    size_t hw = plane_in(s);
    for (int n = 0; n < s->B; n++) {
        const float *dyn = dy + (size_t)n * s->K * hw;
        if (dw) /* dw[K,C] += dy_n[K,HW] . x_n[C,HW]^T */
            tk_sgemm(false, true, s->K, s->C, (int)hw, dyn, (int)hw, x + (size_t)n * s->C * hw, (int)hw, 1.0f, dw, s->C);
        if (dx) /* dx_n[C,HW] += w[K,C]^T . dy_n[K,HW] */
            tk_sgemm(true, false, s->C, (int)hw, s->K, w, s->C, dyn, (int)hw, 1.0f, dx + (size_t)n * s->C * hw, (int)hw);
    }
}

/* ---- im2col backend: any kernel, stride and padding. Each sample is lowered
 * to col[C*R*S, P*Q], one row per kernel tap and one column per output pixel,
 * so that y_n[K, P*Q] = w[K, C*R*S] . col is one GEMM written straight into y. */

/* One lowering of one sample: img[C, H, W] becomes col[C*R*S, P*Q] with
 * col[(c*R + r)*S + t][p*Q + q] = img[c, p*stride - pad_h + r, q*stride - pad_w + t],
 * zero where that falls outside the image. */
typedef struct lowering {
    int C, H, W, R, S, stride, pad_h, pad_w, P, Q;
} lowering;

/* x lowered for the forward pass and dw. */
static lowering lower_x(const tk_conv2d_shape *s) {
    return (lowering){s->C, s->H, s->W, s->R, s->S, s->stride, s->pad, s->pad, s->P, s->Q};
}

/* With stride 1, dx is itself a convolution: of dy (K channels, P x Q) with
 * the kernel flipped and its channel axes swapped, padded by R-1-pad and
 * S-1-pad (a negative padding crops). Lowering dy that way makes dx the same
 * kind of GEMM as the forward pass, K*R*S deep instead of K, accumulated
 * straight into dx, instead of a GEMM into a C*R*S-row col followed by
 * col2im's scatter-add. */
static bool dx_by_conv(const tk_conv2d_shape *s) { return s->stride == 1; }

static lowering lower_dy(const tk_conv2d_shape *s) {
    return (lowering){s->K, s->P, s->Q, s->R, s->S, 1, s->R - 1 - s->pad, s->S - 1 - s->pad, s->H, s->W};
}

/* The outputs o in [lo, hi) whose input o*stride - pad + tap lies in [0, in). */
static void valid_range(int *lo, int *hi, int out, int in, int stride, int pad, int tap) {
    int first = pad - tap; /* smallest valid o has o*stride >= first */
    *lo = first > 0 ? (first + stride - 1) / stride : 0;
    int last = in - 1 + pad - tap; /* largest valid o has o*stride <= last */
    *hi = last < 0 ? 0 : last / stride + 1;
    if (*hi > out) *hi = out;
    if (*lo > *hi) *lo = *hi;
}

/* Offset in img of (row p, column q = 0) of tap (c, r, t). It may lie before
 * the plane (left padding): add the column before forming a pointer. */
static ptrdiff_t tap_origin(const lowering *g, int c, int r, int t, int p) {
    return ((ptrdiff_t)c * g->H + (ptrdiff_t)p * g->stride - g->pad_h + r) * g->W - g->pad_w + t;
}

/* Floats of slack in front of col, so that im2col can place col at a chosen
 * offset from the image it reads (see col_start). */
#define ALIAS_SLACK 1024

/* Where col starts in its workspace slot: half a 4 KB page away from img,
 * modulo the page. A copy whose destination lies just past its source modulo
 * 4 KB runs about 3x slower, because the CPU matches each load against the
 * pending stores by the low 12 address bits and so waits on the store just
 * issued ("4K aliasing"). With 32-pixel images every tap of col is exactly
 * 4 KB long, so if the buffers happen to line up that way (allocators align
 * big buffers to pages), every copy of every tap is hit. */
static float *col_start(float *slot, const float *img) {
    size_t gap = (size_t)((uintptr_t)slot - (uintptr_t)img) % 4096;
    return slot + (6144 - gap) % 4096 / sizeof(float);
}

/* Lowers img into col, whose rows are ld floats apart (ld > P*Q when
 * several samples sit side by side, each in its own block of P*Q columns). */
TK_HOT static void im2col(float *col, size_t ld, const float *img, const lowering *g) {
    int P = g->P, Q = g->Q;
    /* With stride 1 and Q == W (the usual "same" padding), consecutive output
     * rows read consecutive image rows: one copy covers a whole tap, and only
     * the padding columns, which picked up the neighbouring rows' ends, need
     * zeroing afterwards. Images here are 8 to 32 pixels wide, so per-row
     * copies would spend more time on loop overhead than on moving data. */
    bool contiguous = g->stride == 1 && Q == g->W;
    for (int c = 0; c < g->C; c++)
        for (int r = 0; r < g->R; r++) {
            int plo, phi;
            valid_range(&plo, &phi, P, g->H, g->stride, g->pad_h, r);
            for (int t = 0; t < g->S; t++) {
                int qlo, qhi;
                valid_range(&qlo, &qhi, Q, g->W, g->stride, g->pad_w, t);
                float *d = col + (((size_t)c * g->R + r) * g->S + t) * ld;
                if (plo > 0) memset(d, 0, sizeof(float) * (size_t)plo * Q);
                if (phi < P) memset(d + (size_t)phi * Q, 0, sizeof(float) * (size_t)(P - phi) * Q);
                if (plo == phi) continue;
                if (contiguous && qlo < qhi) {
                    size_t first = (size_t)plo * Q + qlo, end = (size_t)(phi - 1) * Q + qhi;
                    memcpy(d + first, img + (tap_origin(g, c, r, t, plo) + qlo), sizeof(float) * (end - first));
                    /* Column by column: a padding column is one or two wide,
                     * and looping over it per row costs twice the copy. */
                    for (int q = 0; q < qlo; q++)
                        for (int p = plo; p < phi; p++) d[(size_t)p * Q + q] = 0.0f;
                    for (int q = qhi; q < Q; q++)
                        for (int p = plo; p < phi; p++) d[(size_t)p * Q + q] = 0.0f;
                    continue;
                }
                for (int p = plo; p < phi; p++) {
                    float *dp = d + (size_t)p * Q;
                    ptrdiff_t o = tap_origin(g, c, r, t, p);
                    for (int q = 0; q < qlo; q++) dp[q] = 0.0f;
                    for (int q = qlo; q < qhi; q++) dp[q] = img[o + q * g->stride];
                    for (int q = qhi; q < Q; q++) dp[q] = 0.0f;
                }
            }
        }
}

/* img += col folded back onto the pixels im2col copied it from (its adjoint);
 * rows of col are ld floats apart, as in im2col. */
TK_HOT static void col2im_add(float *restrict img, const float *restrict col, size_t ld, const lowering *g) {
    int P = g->P, Q = g->Q;
    for (int c = 0; c < g->C; c++)
        for (int r = 0; r < g->R; r++) {
            int plo, phi;
            valid_range(&plo, &phi, P, g->H, g->stride, g->pad_h, r);
            for (int t = 0; t < g->S; t++) {
                int qlo, qhi;
                valid_range(&qlo, &qhi, Q, g->W, g->stride, g->pad_w, t);
                const float *d = col + (((size_t)c * g->R + r) * g->S + t) * ld;
                for (int p = plo; p < phi; p++) {
                    ptrdiff_t o = tap_origin(g, c, r, t, p);
                    /* Stride 1 (most layers) as its own loop: with the stride
                     * unknown the additions do not vectorise, and this loop
                     * was a third of a sparse ResNet-20's training step. */
                    if (g->stride == 1)
                        for (int q = qlo; q < qhi; q++) img[o + q] += d[(size_t)p * Q + q];
                    else
                        for (int q = qlo; q < qhi; q++) img[o + q * g->stride] += d[(size_t)p * Q + q];
                }
            }
        }
}

static bool im2col_fits(const tk_conv2d_shape *s, const tk_sparse_linear *sp) {
    (void)s;
    return !sp;
}

/* Samples lowered side by side into one GEMM. One GEMM per sample repacks the
 * whole kernel for every sample: when the output plane is small (VGG's 4x4
 * layers multiply a 512 x 4608 kernel by 16 columns) the packing costs more
 * than the product. Groups of samples with about GROUP_COLUMNS columns in all
 * pack it once per group. OpenBLAS rounds a column differently depending on
 * where it falls in the product, so a grouped sample's y and dx depend on the
 * other samples of its group; groups are cut from the batch by sample index
 * alone, never by thread, so results still do not depend on the thread count.
 * Planes of GROUP_COLUMNS pixels or more run one sample per GEMM. */
#define GROUP_COLUMNS 256

static int im2col_group(const tk_conv2d_shape *s) {
    size_t pq = plane_out(s);
    return pq >= GROUP_COLUMNS ? 1 : (int)(GROUP_COLUMNS / pq);
}

/* Workspace: [flipped kernel, when dx_by_conv] [slot for a group's col]
 * [a group's outputs or output gradients side by side, when grouped]. */
typedef struct im2col_parts {
    float *wflip, *slot, *side;
} im2col_parts;

static size_t wflip_floats(const tk_conv2d_shape *s) { return dx_by_conv(s) ? weight_len(s) : 0; }

static size_t slot_floats(const tk_conv2d_shape *s) {
    size_t G = (size_t)im2col_group(s), col = (size_t)s->C * kernel_taps(s) * plane_out(s) * G;
    if (dx_by_conv(s) && (size_t)s->K * kernel_taps(s) * plane_in(s) * G > col)
        col = (size_t)s->K * kernel_taps(s) * plane_in(s) * G;
    return ALIAS_SLACK + col;
}

static size_t side_floats(const tk_conv2d_shape *s) {
    size_t G = (size_t)im2col_group(s), y = (size_t)s->K * plane_out(s), x = (size_t)s->C * plane_in(s);
    return G == 1 ? 0 : G * (y > x ? y : x);
}

static im2col_parts im2col_split(const tk_conv2d_shape *s, float *work) {
    float *slot = work + wflip_floats(s);
    return (im2col_parts){work, slot, slot + slot_floats(s)};
}

static size_t im2col_workspace(const tk_conv2d_shape *s) { return wflip_floats(s) + slot_floats(s) + side_floats(s); }

/* rows x [used, ld) of buf, whose rows are ld floats long, = 0. */
static void zero_tails(float *buf, size_t rows, size_t used, size_t ld) {
    for (size_t r = 0; used < ld && r < rows; r++) memset(buf + r * ld + used, 0, (ld - used) * sizeof(float));
}

/* Lowers samples [0, m) of imgs (img_floats apart) side by side into the
 * slot; returns col, whose rows are ld >= m * P * Q floats long, zero past
 * the samples. */
static float *lower_group(float *slot, const float *imgs, size_t img_floats, int m, const lowering *g, size_t ld) {
    float *col = col_start(slot, imgs);
    size_t pq = (size_t)g->P * g->Q;
    for (int i = 0; i < m; i++) im2col(col + i * pq, ld, imgs + i * img_floats, g);
    zero_tails(col, (size_t)g->C * g->R * g->S, m * pq, ld);
    return col;
}

/* Between a batch's layout [m][rows][plane] and side by side [rows][ld],
 * ld >= m * plane (the rest of each row untouched). */
TK_HOT static void to_side(float *side, size_t ld, const float *batch, int m, size_t rows, size_t plane) {
    for (int i = 0; i < m; i++)
        for (size_t r = 0; r < rows; r++)
            memcpy(side + r * ld + i * plane, batch + (i * rows + r) * plane, plane * sizeof(float));
}

TK_HOT static void from_side(float *batch, const float *side, size_t ld, int m, size_t rows, size_t plane, bool add) {
    for (int i = 0; i < m; i++)
        for (size_t r = 0; r < rows; r++) {
            float *d = batch + (i * rows + r) * plane;
            const float *src = side + r * ld + i * plane;
            if (add)
                for (size_t j = 0; j < plane; j++) d[j] += src[j];
            else
                memcpy(d, src, plane * sizeof(float));
        }
}

static void im2col_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                           const tk_sparse_linear *sp, float *work) {
    (void)sp;
    im2col_parts parts = im2col_split(s, work);
    lowering g = lower_x(s);
    size_t pq = plane_out(s), crs = (size_t)s->C * kernel_taps(s), chw = (size_t)s->C * plane_in(s);
    int G = im2col_group(s);
    for (int n0 = 0; n0 < s->B; n0 += G) {
        int m = s->B - n0 < G ? s->B - n0 : G;
        size_t ld = m * pq;
        const float *col = lower_group(parts.slot, x + n0 * chw, chw, m, &g, ld);
        float *out = m == 1 ? y + n0 * s->K * pq : parts.side;
        if (b) seed_bias(out, b, s->K, ld);
        tk_sgemm(false, false, s->K, (int)ld, (int)crs, w, (int)crs, col, (int)ld, b ? 1.0f : 0.0f, out, (int)ld);
        if (m > 1) from_side(y + n0 * s->K * pq, parts.side, ld, m, (size_t)s->K, pq, false);
    }
}

/* wflip[c, k, r, t] = w[k, c, R-1-r, S-1-t]: the kernel of dx as a convolution of dy. */
TK_HOT static void flip_kernel(float *wflip, const float *w, const tk_conv2d_shape *s) {
    int R = s->R, S = s->S;
    for (int k = 0; k < s->K; k++)
        for (int c = 0; c < s->C; c++)
            for (int r = 0; r < R; r++)
                for (int t = 0; t < S; t++)
                    wflip[(((size_t)c * s->K + k) * R + r) * S + t] =
                        w[(((size_t)k * s->C + c) * R + (R - 1 - r)) * S + (S - 1 - t)];
}

static void im2col_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                            const tk_conv2d_shape *s, const tk_sparse_linear *sp, float *work) {
    (void)sp;
    bool by_conv = dx_by_conv(s);
    im2col_parts parts = im2col_split(s, work);
    lowering gx = lower_x(s), gdy = lower_dy(s);
    size_t pq = plane_out(s), hw = plane_in(s), crs = (size_t)s->C * kernel_taps(s);
    size_t krs = (size_t)s->K * kernel_taps(s), chw = (size_t)s->C * hw, kpq = (size_t)s->K * pq;
    if (dx && by_conv) flip_kernel(parts.wflip, w, s);
    int G = im2col_group(s);
    for (int n0 = 0; n0 < s->B; n0 += G) {
        int m = s->B - n0 < G ? s->B - n0 : G;
        size_t ld = m * pq, ldx = m * hw;
        const float *dyg = dy + n0 * kpq; /* [K, m * PQ] */
        if (m > 1 && (dw || (dx && !by_conv))) {
            to_side(parts.side, ld, dyg, m, (size_t)s->K, pq);
            dyg = parts.side;
        }
        float *dxn = dx ? dx + n0 * chw : NULL;
        if (dw) { /* dw[K, CRS] += dy_g[K, m PQ] . col[CRS, m PQ]^T */
            const float *col = lower_group(parts.slot, x + n0 * chw, chw, m, &gx, ld);
            tk_sgemm(false, true, s->K, (int)crs, (int)ld, dyg, (int)ld, col, (int)ld, 1.0f, dw, (int)crs);
        }
        if (dx && by_conv) { /* dx_g[C, m HW] (+)= wflip[C, KRS] . (dy_g lowered)[KRS, m HW] */
            const float *col = lower_group(parts.slot, dy + n0 * kpq, kpq, m, &gdy, ldx);
            float *out = m == 1 ? dxn : parts.side;
            tk_sgemm(false, false, s->C, (int)ldx, (int)krs, parts.wflip, (int)krs, col, (int)ldx, m == 1 ? 1.0f : 0.0f, out, (int)ldx);
            if (m > 1) from_side(dxn, parts.side, ldx, m, (size_t)s->C, hw, true);
        } else if (dx) { /* col = w[K, CRS]^T . dy_g[K, m PQ], folded back into each sample's dx */
            float *col = parts.slot;
            tk_sgemm(true, false, (int)crs, (int)ld, s->K, w, (int)crs, dyg, (int)ld, 0.0f, col, (int)ld);
            for (int i = 0; i < m; i++) col2im_add(dxn + i * chw, col + i * pq, ld, &gx);
        }
    }
}

/* ---- sparse backend: the kept weights alone (tk_sparse.h) times im2col's
 * col, so that a ticket at density d does about d of the multiplications
 * and computes dw only where it is kept. A group of samples is lowered side
 * by side into rows padded to whole chunks of TK_SPARSE_CHUNK columns, zero
 * past the samples; outputs and output gradients pass through side-by-side
 * buffers of the same rows unless one sample fills its rows exactly. With
 * stride 1, dx is the conv of dy by the flipped kernel, as on the dense path,
 * from that kernel's kept positions (tk_sparse_conv_flipped); other strides
 * take col2im of w^T dy. (col2im writes and reads back a C*R*S-row col for
 * a handful of products per value: it was a third of a sparse ResNet-20's
 * training step.) Every output value is one sum in a fixed order, so a
 * sample's y and dx depend on it alone, and dw on the batch and its
 * DW_GROUPS cut, not on the thread count. */

static bool sparse_fits(const tk_conv2d_shape *s, const tk_sparse_linear *sp) {
    (void)s;
    return sp != NULL;
}

static int sparse_group(const tk_conv2d_shape *s) {
    size_t pq = plane_out(s);
    return pq >= TK_SPARSE_CHUNK ? 1 : (int)((TK_SPARSE_CHUNK + pq - 1) / pq);
}

static size_t chunks_of(size_t n) { return (n + TK_SPARSE_CHUNK - 1) / TK_SPARSE_CHUNK * TK_SPARSE_CHUNK; }

/* Row lengths of a group's lowered x (and its outputs) and of its lowered dy (and its dx). */
static size_t sparse_ld(const tk_conv2d_shape *s) { return chunks_of((size_t)sparse_group(s) * plane_out(s)); }
static size_t sparse_ldx(const tk_conv2d_shape *s) { return chunks_of((size_t)sparse_group(s) * plane_in(s)); }

/* Workspace: [slot for a col] [outputs, output gradients or dx side by
 * side] [the flipped kernel, or with stride > 1 dx's col]. */
typedef struct sparse_parts {
    float *slot, *side, *last;
} sparse_parts;

static size_t larger(size_t a, size_t b) { return a > b ? a : b; }

static size_t sparse_slot_floats(const tk_conv2d_shape *s) {
    size_t x = (size_t)s->C * kernel_taps(s) * sparse_ld(s);
    return ALIAS_SLACK + (dx_by_conv(s) ? larger(x, (size_t)s->K * kernel_taps(s) * sparse_ldx(s)) : x);
}

static size_t sparse_side_floats(const tk_conv2d_shape *s) {
    size_t y = (size_t)s->K * sparse_ld(s);
    return dx_by_conv(s) ? larger(y, (size_t)s->C * sparse_ldx(s)) : y;
}

static sparse_parts sparse_split(const tk_conv2d_shape *s, float *work) {
    float *side = work + sparse_slot_floats(s);
    return (sparse_parts){work, side, side + sparse_side_floats(s)};
}

static size_t sparse_backend_workspace(const tk_conv2d_shape *s) {
    size_t last = dx_by_conv(s) ? weight_len(s) : (size_t)s->C * kernel_taps(s) * sparse_ld(s);
    return sparse_slot_floats(s) + sparse_side_floats(s) + last;
}

static void sparse_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                           const tk_sparse_linear *sp, float *work) {
    lowering g = lower_x(s);
    size_t pq = plane_out(s), chw = (size_t)s->C * plane_in(s), kpq = (size_t)s->K * pq, ld = sparse_ld(s);
    sparse_parts parts = sparse_split(s, work);
    int G = sparse_group(s);
    for (int n0 = 0; n0 < s->B; n0 += G) {
        int m = s->B - n0 < G ? s->B - n0 : G;
        const float *col = lower_group(parts.slot, x + n0 * chw, chw, m, &g, ld);
        bool direct = m == 1 && ld == pq;
        tk_sparse_rows_forward(direct ? y + n0 * kpq : parts.side, col, ld, w, b, sp);
        if (!direct) from_side(y + n0 * kpq, parts.side, ld, m, (size_t)s->K, pq, false);
    }
}

static void sparse_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                            const tk_conv2d_shape *s, const tk_sparse_linear *sp, float *work) {
    bool by_conv = dx_by_conv(s);
    lowering g = lower_x(s), gdy = lower_dy(s);
    size_t pq = plane_out(s), hw = plane_in(s), chw = (size_t)s->C * hw, kpq = (size_t)s->K * pq;
    size_t ld = sparse_ld(s), ldx = sparse_ldx(s);
    sparse_parts parts = sparse_split(s, work);
    const tk_sparse_linear *flip = tk_sparse_conv_flipped(sp);
    TK_ASSERT(flip || !by_conv);
    if (dx && by_conv) flip_kernel(parts.last, w, s);
    int G = sparse_group(s);
    for (int n0 = 0; n0 < s->B; n0 += G) {
        int m = s->B - n0 < G ? s->B - n0 : G;
        const float *dyg = dy + n0 * kpq;
        if ((dw || (dx && !by_conv)) && !(m == 1 && ld == pq)) {
            to_side(parts.side, ld, dyg, m, (size_t)s->K, pq);
            zero_tails(parts.side, (size_t)s->K, m * pq, ld);
            dyg = parts.side;
        }
        if (dw) tk_sparse_rows_weight_grad(dw, dyg, lower_group(parts.slot, x + n0 * chw, chw, m, &g, ld), ld, sp);
        if (dx && by_conv) { /* the side-by-side dy is no longer needed: dx goes there */
            const float *col = lower_group(parts.slot, dy + n0 * kpq, kpq, m, &gdy, ldx);
            tk_sparse_rows_forward(parts.side, col, ldx, parts.last, NULL, flip);
            from_side(dx + n0 * chw, parts.side, ldx, m, (size_t)s->C, hw, true);
        } else if (dx) {
            tk_sparse_rows_input_grad(parts.last, dyg, ld, w, sp);
            for (int i = 0; i < m; i++) col2im_add(dx + (n0 + i) * chw, parts.last + i * pq, ld, &g);
        }
    }
}

static const conv2d_backend backends[] = {
    {sparse_fits, sparse_group, sparse_backend_workspace, sparse_forward, sparse_backward},
    {direct_fits, one_sample, direct_workspace, direct_forward, direct_backward},
    {im2col_fits, im2col_group, im2col_workspace, im2col_forward, im2col_backward},
};

static const conv2d_backend *backend_for(const tk_conv2d_shape *s, const tk_sparse_linear *sp) {
    for (int i = 0; i < TK_ARRAY_LEN(backends); i++)
        if (backends[i].fits(s, sp)) return &backends[i];
    TK_ASSERT(!"the last conv2d backend accepts every shape");
    return NULL;
}

/* ---- threads */

/* The workspace holds scratch for this many threads whatever the thread
 * count, so that changing the BLAS thread count after sizing it stays safe. */
#define MAX_LANES TK_PARALLEL_MAX_LANES
/* The backward pass sums dw over this many runs of GEMM groups (fewer when
 * there are fewer GEMMs), each into its own partial sum; the partials are
 * then added in run order. Which thread computes which group does not matter, so dw
 * does not depend on the thread count. */
#define DW_GROUPS 8

/* One pass over the batch. The batch is cut into GEMM groups of `group`
 * samples from sample 0 (the last one shorter), whatever the pass computes:
 * where a sample falls in its GEMM changes how OpenBLAS rounds it, so dx
 * computed alone must see the same groups as dx computed beside dw. The
 * pass's `units` are runs of whole groups: one group each, or with dw one of
 * the dw partial sums each. */
typedef struct pass {
    const conv2d_backend *be;
    const tk_conv2d_shape *s;
    const tk_sparse_linear *sp;
    int group, gemms, units;
    float *y, *dx, *partials;    /* partials: units x weight_len, NULL without dw */
    const float *x, *w, *b, *dy; /* dy == NULL: forward */
    float *work;                 /* MAX_LANES slots of backend scratch */
} pass;

static void pass_unit(void *p, int u, int lane) {
    pass *ps = p;
    const tk_conv2d_shape *s = ps->s;
    size_t chw = (size_t)s->C * plane_in(s), kpq = (size_t)s->K * plane_out(s);
    long g0 = (long)ps->gemms * u / ps->units, g1 = (long)ps->gemms * (u + 1) / ps->units;
    int n0 = (int)(g0 * ps->group), n1 = g1 * ps->group < s->B ? (int)(g1 * ps->group) : s->B;
    tk_conv2d_shape sub = *s;
    sub.B = n1 - n0;
    float *work = ps->work + lane * ps->be->workspace(s);
    if (!ps->dy) {
        ps->be->forward(ps->y + n0 * kpq, ps->x + n0 * chw, ps->w, ps->b, &sub, ps->sp, work);
        return;
    }
    float *dx = ps->dx ? ps->dx + n0 * chw : NULL;
    float *dw = ps->partials ? ps->partials + u * weight_len(s) : NULL;
    ps->be->backward(dx, dw, ps->dy + n0 * kpq, ps->x + n0 * chw, ps->w, &sub, ps->sp, work);
}

/* d[i] += s[i]. Steps of 8 through a fixed-length inner loop vectorise at -O2. */
TK_HOT static void add_into(float *restrict d, const float *restrict s, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) d[i + j] += s[i + j];
    for (; i < n; i++) d[i] += s[i];
}


/* Workspace: [backend scratch for MAX_LANES threads] [DW_GROUPS partials of
 * dw, each weight_len(s) apart, of which a sparse layer uses its kept count]. */
static size_t scratch_floats(const tk_conv2d_shape *s, const tk_sparse_linear *sp) {
    return MAX_LANES * backend_for(s, sp)->workspace(s);
}

/* Runs the forward pass (dy == NULL) or the dx/dw part of the backward pass
 * with one thread per BLAS thread, then adds the dw partials to dw. */
static void run_pass(const tk_conv2d_shape *s, const tk_sparse_linear *sp, float *y, float *dx, float *dw,
                     const float *x, const float *w, const float *b, const float *dy, float *work) {
    const conv2d_backend *be = backend_for(s, sp);
    int group = be->group(s), gemms = (s->B + group - 1) / group;
    int units = dw && gemms > DW_GROUPS ? DW_GROUPS : gemms;
    pass ps = {.be = be, .s = s, .sp = sp, .group = group, .gemms = gemms, .units = units, .y = y, .dx = dx,
               .x = x, .w = w, .b = b, .dy = dy, .work = work};
    size_t nw = sp ? tk_sparse_linear_kept(sp) : weight_len(s);
    if (dw) {
        ps.partials = work + scratch_floats(s, sp);
        for (int u = 0; u < ps.units; u++) memset(ps.partials + u * weight_len(s), 0, nw * sizeof(float));
    }
    int lanes = tk_parallel_lanes();
    /* Each thread calls BLAS single-threaded, even when there is only one
     * (a batch of one): OpenBLAS rounds differently with more threads, and a
     * sample's result must not depend on the batch it came in. The caller's
     * setting comes back after. */
    int blas_threads = openblas_get_num_threads();
    if (blas_threads > 1) openblas_set_num_threads(1);
    tk_parallel_units(ps.units, lanes, pass_unit, &ps);
    if (blas_threads > 1) openblas_set_num_threads(blas_threads);
    for (int u = 0; dw && u < ps.units; u++) add_into(dw, ps.partials + u * weight_len(s), nw);
}

/* db[k] += sum of dy over a sample's k-th output plane, sample by sample on
 * the calling thread, so db does not depend on the thread count. Eight
 * partial sums in a fixed-length inner loop vectorise at -O2. */
TK_HOT static void bias_backward(float *db, const float *dy, const tk_conv2d_shape *s) {
    size_t pq = plane_out(s);
    for (int n = 0; n < s->B; n++)
        for (int k = 0; k < s->K; k++) {
            const float *d = dy + ((size_t)n * s->K + k) * pq;
            float part[8] = {0};
            size_t i = 0;
            for (; i + 8 <= pq; i += 8)
                for (int j = 0; j < 8; j++) part[j] += d[i + j];
            for (; i < pq; i++) part[i % 8] += d[i];
            db[k] += ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
        }
}

size_t tk_conv2d_workspace(const tk_conv2d_shape *s) {
    return scratch_floats(s, NULL) + (size_t)DW_GROUPS * weight_len(s);
}

void tk_conv2d_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                       float *work) {
    run_pass(s, NULL, y, NULL, NULL, x, w, b, NULL, work);
}

void tk_conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                        const tk_conv2d_shape *s, float *work) {
    if (db) bias_backward(db, dy, s);
    if (dx || dw) run_pass(s, NULL, NULL, dx, dw, x, w, NULL, dy, work);
}

size_t tk_conv2d_sparse_workspace(const tk_conv2d_shape *s, const tk_sparse_linear *sp) {
    return scratch_floats(s, sp) + (size_t)DW_GROUPS * weight_len(s);
}

void tk_conv2d_sparse_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                              const tk_sparse_linear *sp, float *work) {
    run_pass(s, sp, y, NULL, NULL, x, w, b, NULL, work);
}

void tk_conv2d_sparse_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               const tk_conv2d_shape *s, const tk_sparse_linear *sp, float *work) {
    if (db) bias_backward(db, dy, s);
    if (dx || dw) run_pass(s, sp, NULL, dx, dw, x, w, NULL, dy, work);
}
