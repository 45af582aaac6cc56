/* conv2d.c - 2-D convolution (NCHW float32) on top of BLAS sgemm.
 *
 * Every shape goes through one small backend interface (see tk_layers.h): the
 * first entry of `backends` whose `fits` accepts the shape computes it.
 *
 * The general backend lowers a chunk of samples at once to a matrix (im2col):
 * col[C*R*S, nc*P*Q], one row per kernel tap, one column per output pixel of
 * the chunk. The forward pass is then a single GEMM out[K, nc*P*Q] = w . col,
 * scattered back to NCHW. Chunks are several samples wide because OpenBLAS
 * needs a few thousand columns to reach full speed and to split the work well
 * over its threads, and the layers here have small images (8x8 to 32x32).
 *
 * Determinism across chunkings: each output pixel and each input gradient is a
 * function of its own sample only, and dw/db are accumulated sample by sample,
 * so a batch gives the same bits as the same samples passed one call at a time. */
#include <cblas.h>
#include <stdbool.h>
#include <string.h>

#include "tk_common.h"
#include "tk_layers.h"

/* Aim for GEMMs this many columns wide... */
#define CHUNK_COLS 4096
/* ...unless the scratch for a chunk would exceed this many floats (16 MB). */
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
static size_t taps(const tk_conv2d_shape *s) { return (size_t)s->C * s->R * s->S; }

/* db[k] += sum of dy over one sample's k-th output plane, one sample at a time
 * (see the determinism note at the top). Eight partial sums keep the adds
 * independent so they pipeline; their fixed order keeps the result exact. */
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

/* Samples per chunk: enough for CHUNK_COLS GEMM columns, as long as the
 * chunk's scratch (col plus the [K, cols] product) stays under CHUNK_MAX_FLOATS. */
static int chunk_samples(const tk_conv2d_shape *s) {
    size_t pq = plane_out(s);
    size_t per_sample = (taps(s) + (size_t)s->K) * pq;
    size_t nc = (CHUNK_COLS + pq - 1) / pq;
    if (nc * per_sample > CHUNK_MAX_FLOATS) nc = CHUNK_MAX_FLOATS / per_sample;
    if (nc < 1) nc = 1;
    if (nc > (size_t)s->B) nc = (size_t)s->B;
    return (int)nc;
}

static bool im2col_fits(const tk_conv2d_shape *s) {
    (void)s;
    return true;
}

static size_t im2col_workspace(const tk_conv2d_shape *s) {
    return (taps(s) + (size_t)s->K) * (size_t)chunk_samples(s) * plane_out(s);
}

/* The output columns q in [lo, hi) whose input column q*stride - pad + s lies
 * inside [0, W); the same formula gives the valid rows for a kernel row. */
static void valid_range(int *lo, int *hi, int out, int in, int stride, int pad, int tap) {
    int first = pad - tap; /* smallest in-range q satisfies q*stride >= first */
    *lo = first > 0 ? (first + stride - 1) / stride : 0;
    int last = in - 1 + pad - tap; /* largest in-range q satisfies q*stride <= last */
    *hi = last < 0 ? 0 : last / stride + 1;
    if (*hi > out) *hi = out;
    if (*lo > *hi) *lo = *hi;
}

/* col[C*R*S, nc*P*Q] from the chunk's input x[nc, C, H, W]. */
static void im2col(float *col, const float *x, const tk_conv2d_shape *s, int nc) {
    size_t hw = plane_in(s), pq = plane_out(s), cols = (size_t)nc * pq;
    int st = s->stride, Q = s->Q;
    for (int c = 0; c < s->C; c++)
        for (int r = 0; r < s->R; r++) {
            int plo, phi;
            valid_range(&plo, &phi, s->P, s->H, st, s->pad, r);
            for (int t = 0; t < s->S; t++) {
                int qlo, qhi;
                valid_range(&qlo, &qhi, Q, s->W, st, s->pad, t);
                float *dst_tap = col + (((size_t)c * s->R + r) * s->S + t) * cols;
                for (int n = 0; n < nc; n++) {
                    float *dst = dst_tap + n * pq;
                    const float *src_plane = x + ((size_t)n * s->C + c) * hw;
                    memset(dst, 0, sizeof(float) * (size_t)plo * Q);
                    for (int p = plo; p < phi; p++) {
                        float *d = dst + (size_t)p * Q;
                        /* Input row of this output row, offset so that src[q*st] is column q. */
                        const float *src = src_plane + (size_t)(p * st - s->pad + r) * s->W - s->pad + t;
                        for (int q = 0; q < qlo; q++) d[q] = 0.0f;
                        if (st == 1)
                            memcpy(d + qlo, src + qlo, sizeof(float) * (size_t)(qhi - qlo));
                        else
                            for (int q = qlo; q < qhi; q++) d[q] = src[q * st];
                        for (int q = qhi; q < Q; q++) d[q] = 0.0f;
                    }
                    memset(dst + (size_t)phi * Q, 0, sizeof(float) * (size_t)(s->P - phi) * Q);
                }
            }
        }
}

/* dx[nc, C, H, W] += the col-shaped gradient dcol, folded back onto the input
 * pixels it was copied from (the adjoint of im2col). */
static void col2im_add(float *dx, const float *dcol, const tk_conv2d_shape *s, int nc) {
    size_t hw = plane_in(s), pq = plane_out(s), cols = (size_t)nc * pq;
    int st = s->stride, Q = s->Q;
    for (int c = 0; c < s->C; c++)
        for (int r = 0; r < s->R; r++) {
            int plo, phi;
            valid_range(&plo, &phi, s->P, s->H, st, s->pad, r);
            for (int t = 0; t < s->S; t++) {
                int qlo, qhi;
                valid_range(&qlo, &qhi, Q, s->W, st, s->pad, t);
                const float *src_tap = dcol + (((size_t)c * s->R + r) * s->S + t) * cols;
                for (int n = 0; n < nc; n++) {
                    float *dx_plane = dx + ((size_t)n * s->C + c) * hw;
                    for (int p = plo; p < phi; p++) {
                        const float *g = src_tap + n * pq + (size_t)p * Q;
                        float *d = dx_plane + (size_t)(p * st - s->pad + r) * s->W - s->pad + t;
                        if (st == 1)
                            for (int q = qlo; q < qhi; q++) d[q] += g[q];
                        else
                            for (int q = qlo; q < qhi; q++) d[q * st] += g[q];
                    }
                }
            }
        }
}

static void im2col_forward(float *y, const float *x, const float *w, const float *b, const tk_conv2d_shape *s,
                           float *work) {
    int nc_max = chunk_samples(s);
    size_t pq = plane_out(s), crs = taps(s);
    float *col = work, *out = work + crs * nc_max * pq;
    for (int n0 = 0; n0 < s->B; n0 += nc_max) {
        int nc = s->B - n0 < nc_max ? s->B - n0 : nc_max;
        size_t cols = (size_t)nc * pq;
        im2col(col, x + (size_t)n0 * s->C * plane_in(s), s, nc);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->K, (int)cols, (int)crs, 1.0f, w, (int)crs, col,
                    (int)cols, 0.0f, out, (int)cols);
        for (int n = 0; n < nc; n++)
            for (int k = 0; k < s->K; k++) {
                float *yk = y + ((size_t)(n0 + n) * s->K + k) * pq;
                const float *ok = out + k * cols + n * pq;
                float bk = b ? b[k] : 0.0f;
                for (size_t i = 0; i < pq; i++) yk[i] = ok[i] + bk;
            }
    }
}

static void im2col_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                            const tk_conv2d_shape *s, float *work) {
    if (db) bias_backward(db, dy, s);
    if (!dx && !dw) return;
    int nc_max = chunk_samples(s);
    size_t pq = plane_out(s), crs = taps(s), chw = (size_t)s->C * plane_in(s), kpq = (size_t)s->K * pq;
    float *col = work, *dyc = work + crs * nc_max * pq;
    for (int n0 = 0; n0 < s->B; n0 += nc_max) {
        int nc = s->B - n0 < nc_max ? s->B - n0 : nc_max;
        size_t cols = (size_t)nc * pq;
        if (dw) {
            im2col(col, x + n0 * chw, s, nc);
            /* One GEMM per sample, not per chunk: dw then sums the samples in
             * batch order whatever the chunking (see the note at the top). */
            for (int n = 0; n < nc; n++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->K, (int)crs, (int)pq, 1.0f,
                            dy + (n0 + n) * kpq, (int)pq, col + n * pq, (int)cols, 1.0f, dw, (int)crs);
        }
        if (dx) {
            /* dy's chunk as one [K, nc*P*Q] matrix, so dcol is one wide GEMM. */
            for (int n = 0; n < nc; n++)
                for (int k = 0; k < s->K; k++)
                    memcpy(dyc + k * cols + n * pq, dy + (n0 + n) * kpq + k * pq, sizeof(float) * pq);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)crs, (int)cols, s->K, 1.0f, w, (int)crs,
                        dyc, (int)cols, 0.0f, col, (int)cols);
            col2im_add(dx + n0 * chw, col, s, nc);
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
