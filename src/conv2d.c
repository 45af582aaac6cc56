/* conv2d.c - 2-D convolution (NCHW float32) on top of BLAS sgemm.
 *
 * Every shape goes through one small backend interface (see tk_layers.h): the
 * first entry of `backends` whose `fits` accepts the shape computes it.
 *
 * The general backend lowers a chunk of samples at once to a matrix (im2col):
 * col[C*R*S, nc*P*Q], one row per kernel tap, one column per output pixel of
 * the chunk. The forward pass is then one GEMM out[K, nc*P*Q] = w . col, copied
 * back to NCHW. Chunks span several samples because OpenBLAS needs a few
 * thousand columns to reach full speed and to split work over its threads,
 * and the images here are small (8x8 to 32x32).
 *
 * Determinism across chunkings: each output pixel and each input gradient is a
 * function of its own sample only, and dw/db are accumulated sample by sample,
 * so a batch gives the same bits as its samples passed one call at a time. */
#include <cblas.h>
#include <stdbool.h>
#include <string.h>

#include "tk_common.h"
#include "tk_layers.h"

/* Aim for GEMMs this many columns wide... */
#define CHUNK_COLS 4096
/* ...unless a chunk's scratch would pass this many floats (16 MB). */
#define CHUNK_MAX_FLOATS ((size_t)4 << 20)

typedef struct conv2d_backend {
    const char *name;
    bool (*fits)(const tk_conv2d_shape *s);
    size_t (*workspace)(const tk_conv2d_shape *s);
    void (*forward)(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                    float *work);
    void (*backward)(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                     const tk_conv2d_shape *s, float *work);
} conv2d_backend;

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

/* The loops below step 8 floats at a time through a fixed-length inner loop:
 * at -O2 GCC vectorises those, but not a loop of unknown length. */

/* d[i] += s[i] */
static void add_into(float *restrict d, const float *restrict s, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) d[i + j] += s[i + j];
    for (; i < n; i++) d[i] += s[i];
}

/* d[i] = s[i] + bias */
static void copy_biased(float *restrict d, const float *restrict s, float bias, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) d[i + j] = s[i + j] + bias;
    for (; i < n; i++) d[i] = s[i] + bias;
}

/* db[k] += sum of dy over one sample's k-th output plane, one sample at a time
 * (see the determinism note at the top). Eight partial sums vectorise; their
 * fixed order keeps the result independent of everything but dy. */
static void bias_backward(float *db, const float *dy, const tk_conv2d_shape *s) {
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

/* ---- direct backend: a 1x1, stride 1, unpadded conv is already a GEMM over
 * each sample's [C, H*W] planes, so it needs neither im2col nor scratch. */

static bool direct_fits(const tk_conv2d_shape *s) {
    return s->R == 1 && s->S == 1 && s->stride == 1 && s->pad == 0;
}

static size_t direct_workspace(const tk_conv2d_shape *s) {
    (void)s;
    return 0;
}

static void direct_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                           float *work) {
    (void)work;
    size_t hw = plane_in(s);
    for (int n = 0; n < s->B; n++) {
        float *yn = y + (size_t)n * s->K * hw;
        /* Seed y with the bias and let sgemm add onto it (beta = 1). */
        if (b)
            for (int k = 0; k < s->K; k++)
                for (size_t i = 0; i < hw; i++) yn[k * hw + i] = b[k];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->K, (int)hw, s->C, 1.0f, w, s->C,
                    x + (size_t)n * s->C * hw, (int)hw, b ? 1.0f : 0.0f, yn, (int)hw);
    }
}

static void direct_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                            const tk_conv2d_shape *s, float *work) {
    (void)work;
    size_t hw = plane_in(s);
    for (int n = 0; n < s->B; n++) {
        const float *dyn = dy + (size_t)n * s->K * hw;
        if (dw) /* dw[K,C] += dy_n[K,HW] . x_n[C,HW]^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->K, s->C, (int)hw, 1.0f, dyn, (int)hw,
                        x + (size_t)n * s->C * hw, (int)hw, 1.0f, dw, s->C);
        if (dx) /* dx_n[C,HW] += w[K,C]^T . dy_n[K,HW] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s->C, (int)hw, s->K, 1.0f, w, s->C, dyn,
                        (int)hw, 1.0f, dx + (size_t)n * s->C * hw, (int)hw);
    }
    if (db) bias_backward(db, dy, s);
}

/* ---- im2col backend: any kernel, stride and padding. */

/* One im2col lowering: img[nc, C, H, W] becomes col[C*R*S, nc*P*Q], where
 * col[(c*R + r)*S + t][(n*P + p)*Q + q] = img[n, c, p*stride - pad_h + r, q*stride - pad_w + t]
 * (zero outside the image). */
typedef struct lowering {
    int C, H, W, R, S, stride, pad_h, pad_w, P, Q;
} lowering;

/* x lowered for the forward pass and dw. */
static lowering lower_x(const tk_conv2d_shape *s) {
    return (lowering){s->C, s->H, s->W, s->R, s->S, s->stride, s->pad, s->pad, s->P, s->Q};
}

/* With stride 1, dx is itself a convolution: dy (K channels, P x Q) with the
 * kernel flipped and its channel axes swapped, padded by R-1-pad and S-1-pad.
 * Lowering dy that way turns dx into the same wide GEMM as the forward pass,
 * with K*R*S terms per output instead of K, and replaces the scatter-add of
 * col2im by one add per input pixel. */
static bool dx_by_conv(const tk_conv2d_shape *s) { return s->stride == 1 && s->pad < s->R && s->pad < s->S; }

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

/* Visits every (tap, sample, output row) of a lowering that reads inside the
 * image: the shared index arithmetic of im2col and its adjoint col2im_add.
 * `row` gets the col segment of that output row, the image row offset so that
 * column q maps to img_row[q * stride], and the valid column range. Rows and
 * columns in the padding are skipped; im2col zeroes col first for them. */
typedef void (*row_fn)(float *col_row, float *img_row, int stride, int lo, int hi);

static void for_each_row(float *col, float *img, const lowering *g, int nc, row_fn row) {
    size_t hw = (size_t)g->H * g->W, pq = (size_t)g->P * g->Q, cols = (size_t)nc * pq;
    for (int c = 0; c < g->C; c++)
        for (int r = 0; r < g->R; r++) {
            int plo, phi;
            valid_range(&plo, &phi, g->P, g->H, g->stride, g->pad_h, r);
            for (int t = 0; t < g->S; t++) {
                int qlo, qhi;
                valid_range(&qlo, &qhi, g->Q, g->W, g->stride, g->pad_w, t);
                float *tap = col + (((size_t)c * g->R + r) * g->S + t) * cols;
                for (int n = 0; n < nc; n++)
                    for (int p = plo; p < phi; p++) {
                        /* Signed offset: column q = 0 may sit left of the image. */
                        ptrdiff_t off = ((ptrdiff_t)n * g->C + c) * (ptrdiff_t)hw +
                                        (ptrdiff_t)(p * g->stride - g->pad_h + r) * g->W - g->pad_w + t;
                        row(tap + n * pq + (size_t)p * g->Q, img + off, g->stride, qlo, qhi);
                    }
            }
        }
}

static void gather_row(float *col_row, float *img_row, int stride, int lo, int hi) {
    if (stride == 1)
        memcpy(col_row + lo, img_row + lo, sizeof(float) * (size_t)(hi - lo));
    else
        for (int q = lo; q < hi; q++) col_row[q] = img_row[q * stride];
}

static void scatter_add_row(float *col_row, float *img_row, int stride, int lo, int hi) {
    if (stride == 1)
        add_into(img_row + lo, col_row + lo, (size_t)(hi - lo));
    else
        for (int q = lo; q < hi; q++) img_row[q * stride] += col_row[q];
}

static void im2col(float *col, const float *img, const lowering *g, int nc) {
    bool padded = g->pad_h > 0 || g->pad_w > 0 || (g->P - 1) * g->stride + g->R > g->H + g->pad_h ||
                  (g->Q - 1) * g->stride + g->S > g->W + g->pad_w;
    if (padded) memset(col, 0, sizeof(float) * (size_t)g->C * g->R * g->S * nc * g->P * g->Q);
    /* for_each_row only reads img here: the cast serves the shared signature. */
    for_each_row(col, (float *)img, g, nc, gather_row);
}

/* img[nc, C, H, W] += the col-shaped gradient folded back onto the pixels
 * im2col copied it from. */
static void col2im_add(float *img, const float *col, const lowering *g, int nc) {
    for_each_row((float *)col, img, g, nc, scatter_add_row);
}

/* How the im2col backend splits the batch and its workspace: chunks of nc
 * samples; the workspace holds [flipped kernel | col | out], sized in floats. */
typedef struct plan {
    int nc;
    size_t wflip, col, out;
} plan;

static plan plan_for(const tk_conv2d_shape *s) {
    size_t taps = kernel_taps(s), pq = plane_out(s), hw = plane_in(s);
    /* Per sample: col holds x lowered (or, for dx_by_conv, dy lowered); out
     * holds a GEMM result (y's chunk, dy's chunk for col2im, or dx's chunk). */
    size_t col = (size_t)s->C * taps * pq, out = (size_t)s->K * pq, wflip = 0;
    if (dx_by_conv(s)) {
        wflip = (size_t)s->K * s->C * taps;
        if ((size_t)s->K * taps * hw > col) col = (size_t)s->K * taps * hw;
        if ((size_t)s->C * hw > out) out = (size_t)s->C * hw;
    }
    /* Enough samples for CHUNK_COLS GEMM columns, within CHUNK_MAX_FLOATS. */
    size_t nc = (CHUNK_COLS + pq - 1) / pq;
    if (nc * (col + out) > CHUNK_MAX_FLOATS) nc = CHUNK_MAX_FLOATS / (col + out);
    if (nc < 1) nc = 1;
    if (nc > (size_t)s->B) nc = (size_t)s->B;
    return (plan){(int)nc, wflip, col * nc, out * nc};
}

static bool im2col_fits(const tk_conv2d_shape *s) {
    (void)s;
    return true;
}

static size_t im2col_workspace(const tk_conv2d_shape *s) {
    plan pl = plan_for(s);
    return pl.wflip + pl.col + pl.out;
}

static void im2col_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                           float *work) {
    plan pl = plan_for(s);
    float *col = work + pl.wflip, *out = col + pl.col;
    lowering g = lower_x(s);
    size_t pq = plane_out(s), crs = (size_t)s->C * kernel_taps(s), chw = (size_t)s->C * plane_in(s);
    for (int n0 = 0; n0 < s->B; n0 += pl.nc) {
        int nc = s->B - n0 < pl.nc ? s->B - n0 : pl.nc;
        size_t cols = (size_t)nc * pq;
        im2col(col, x + n0 * chw, &g, nc);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->K, (int)cols, (int)crs, 1.0f, w, (int)crs, col,
                    (int)cols, 0.0f, out, (int)cols);
        for (int n = 0; n < nc; n++)
            for (int k = 0; k < s->K; k++)
                copy_biased(y + ((size_t)(n0 + n) * s->K + k) * pq, out + k * cols + n * pq, b ? b[k] : 0.0f, pq);
    }
}

/* wflip[c, k, r, t] = w[k, c, R-1-r, S-1-t]: the kernel of dx as a convolution of dy. */
static void flip_kernel(float *wflip, const float *w, const tk_conv2d_shape *s) {
    int R = s->R, S = s->S;
    for (int k = 0; k < s->K; k++)
        for (int c = 0; c < s->C; c++)
            for (int r = 0; r < R; r++)
                for (int t = 0; t < S; t++)
                    wflip[(((size_t)c * s->K + k) * R + r) * S + t] =
                        w[(((size_t)k * s->C + c) * R + (R - 1 - r)) * S + (S - 1 - t)];
}

static void im2col_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                            const tk_conv2d_shape *s, float *work) {
    if (db) bias_backward(db, dy, s);
    if (!dx && !dw) return;
    plan pl = plan_for(s);
    float *wflip = work, *col = work + pl.wflip, *out = col + pl.col;
    bool by_conv = dx_by_conv(s);
    lowering gx = lower_x(s), gdy = lower_dy(s);
    size_t pq = plane_out(s), hw = plane_in(s), taps = kernel_taps(s);
    size_t crs = (size_t)s->C * taps, krs = (size_t)s->K * taps, chw = (size_t)s->C * hw, kpq = (size_t)s->K * pq;
    if (dx && by_conv) flip_kernel(wflip, w, s);
    for (int n0 = 0; n0 < s->B; n0 += pl.nc) {
        int nc = s->B - n0 < pl.nc ? s->B - n0 : pl.nc;
        size_t cols = (size_t)nc * pq;
        if (dw) {
            im2col(col, x + n0 * chw, &gx, nc);
            /* One GEMM per sample, not per chunk: dw then sums the samples in
             * batch order whatever the chunking (see the note at the top). */
            for (int n = 0; n < nc; n++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->K, (int)crs, (int)pq, 1.0f,
                            dy + (n0 + n) * kpq, (int)pq, col + n * pq, (int)cols, 1.0f, dw, (int)crs);
        }
        if (dx && by_conv) {
            size_t xcols = (size_t)nc * hw;
            im2col(col, dy + n0 * kpq, &gdy, nc);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->C, (int)xcols, (int)krs, 1.0f, wflip,
                        (int)krs, col, (int)xcols, 0.0f, out, (int)xcols);
            for (int n = 0; n < nc; n++)
                for (int c = 0; c < s->C; c++)
                    add_into(dx + (n0 + n) * chw + c * hw, out + c * xcols + n * hw, hw);
        } else if (dx) {
            /* dy's chunk as one [K, nc*P*Q] matrix, so dcol is one wide GEMM. */
            for (int n = 0; n < nc; n++)
                for (int k = 0; k < s->K; k++)
                    memcpy(out + k * cols + n * pq, dy + (n0 + n) * kpq + k * pq, sizeof(float) * pq);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)crs, (int)cols, s->K, 1.0f, w, (int)crs,
                        out, (int)cols, 0.0f, col, (int)cols);
            col2im_add(dx + n0 * chw, col, &gx, nc);
        }
    }
}

static const conv2d_backend backends[] = {
    {"direct", direct_fits, direct_workspace, direct_forward, direct_backward},
    {"im2col", im2col_fits, im2col_workspace, im2col_forward, im2col_backward},
};

static const conv2d_backend *backend_for(const tk_conv2d_shape *s) {
    for (int i = 0; i < TK_ARRAY_LEN(backends); i++)
        if (backends[i].fits(s)) return &backends[i];
    TK_ASSERT(!"the last conv2d backend accepts every shape");
    return NULL;
}

size_t tk_conv2d_workspace(const tk_conv2d_shape *s) { return backend_for(s)->workspace(s); }

void tk_conv2d_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                       float *work) {
    backend_for(s)->forward(y, x, w, b, s, work);
}

void tk_conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                        const tk_conv2d_shape *s, float *work) {
    backend_for(s)->backward(dx, dw, db, dy, x, w, s, work);
}
