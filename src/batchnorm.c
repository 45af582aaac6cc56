/* batchnorm.c - batch normalization over x[B,C,HW], matching PyTorch's BatchNorm2d.
 *
 * Per-channel sums run in double: a channel can hold B*H*W = 10^5 values, where
 * float sums lose digits the golden test against PyTorch would notice. Each
 * sum is kept in LANES interleaved partial sums, added in a fixed order at the
 * end, so that the loops vectorise and still give the same bits every time.
 *
 * Channels are independent, so they are spread over the threads; a channel's
 * sums are computed by one thread in one order, whatever the thread count. */
#include <math.h>

#include "tk_common.h"
#include "tk_layers.h"
#include "tk_parallel.h"

#define LANES 4

static double lanes_total(const double acc[LANES]) { return (acc[0] + acc[1]) + (acc[2] + acc[3]); }

/* Over channel c: sum of (x - shift) and of (x - shift)^2, in double. */
TK_HOT static void channel_moments(double *sum, double *sum_sq, const float *x, int B, int C, int HW, int c,
                            double shift) {
    double s[LANES] = {0}, ss[LANES] = {0};
    for (int b = 0; b < B; b++) {
        const float *p = x + ((size_t)b * C + c) * HW;
        int i = 0;
        for (; i + LANES <= HW; i += LANES)
            for (int j = 0; j < LANES; j++) {
                double d = p[i + j] - shift;
                s[j] += d;
                ss[j] += d * d;
            }
        for (; i < HW; i++) {
            double d = p[i] - shift;
            s[i % LANES] += d;
            ss[i % LANES] += d * d;
        }
    }
    *sum = lanes_total(s);
    *sum_sq = lanes_total(ss);
}

/* y = (x - mean) * scale + shift over channel c. Subtracting the mean first
 * keeps precision when the mean is large next to the spread; folding it into
 * the shift would cancel catastrophically. */
TK_HOT static void channel_affine(float *y, const float *x, int B, int C, int HW, int c, float mean, float scale,
                           float shift) {
    for (int b = 0; b < B; b++) {
        size_t off = ((size_t)b * C + c) * HW;
        for (int i = 0; i < HW; i++) y[off + i] = (x[off + i] - mean) * scale + shift;
    }
}

typedef struct bn_args {
    float *y, *save_mean, *save_invstd, *run_mean, *run_var, *dx, *dgamma, *dbeta;
    const float *x, *dy, *gamma, *beta, *mean, *invstd, *var;
    int B, C, HW;
    float momentum, eps;
} bn_args;

/* Channels [lo, hi) of one call, parallel over channels. */
static void run_channels(bn_args *a, tk_range_fn fn) {
    tk_parallel_range((size_t)a->C, 1, (size_t)a->B * a->C * a->HW, fn, a);
}

static void forward_train_range(void *p, size_t lo, size_t hi) {
    const bn_args *a = p;
    const double n = (double)a->B * a->HW;
    for (size_t c = lo; c < hi; c++) {
        double sum, unused;
        channel_moments(&sum, &unused, a->x, a->B, a->C, a->HW, (int)c, 0.0);
        double mean = sum / n;
        /* A second pass over the deviations avoids the cancellation of E[x^2] - E[x]^2. */
        double dev, ss;
        channel_moments(&dev, &ss, a->x, a->B, a->C, a->HW, (int)c, mean);
        double var = ss / n;
        double invstd = 1.0 / sqrt(var + a->eps);
        a->save_mean[c] = (float)mean;
        a->save_invstd[c] = (float)invstd;
        a->run_mean[c] = (float)((1.0 - a->momentum) * a->run_mean[c] + a->momentum * mean);
        a->run_var[c] = (float)((1.0 - a->momentum) * a->run_var[c] + a->momentum * ss / (n - 1.0));
        channel_affine(a->y, a->x, a->B, a->C, a->HW, (int)c, (float)mean, (float)(a->gamma[c] * invstd),
                       a->beta[c]);
    }
}

void tk_batchnorm_forward_train(float *y, float *save_mean, float *save_invstd, float *run_mean, float *run_var,
                                const float *x, const float *gamma, const float *beta, int B, int C, int HW,
                                float momentum, float eps) {
    /* The unbiased variance needs n > 1; PyTorch refuses such batches too. */
    TK_ASSERT((double)B * HW > 1);
    bn_args a = {.y = y, .save_mean = save_mean, .save_invstd = save_invstd, .run_mean = run_mean,
                 .run_var = run_var, .x = x, .gamma = gamma, .beta = beta, .B = B, .C = C, .HW = HW,
                 .momentum = momentum, .eps = eps};
    run_channels(&a, forward_train_range);
}

static void forward_eval_range(void *p, size_t lo, size_t hi) {
    const bn_args *a = p;
    for (size_t c = lo; c < hi; c++) {
        float scale = (float)(a->gamma[c] / sqrt((double)a->var[c] + a->eps));
        channel_affine(a->y, a->x, a->B, a->C, a->HW, (int)c, a->mean[c], scale, a->beta[c]);
    }
}

void tk_batchnorm_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                               const float *run_mean, const float *run_var, int B, int C, int HW, float eps) {
    bn_args a = {.y = y, .x = x, .gamma = gamma, .beta = beta, .mean = run_mean, .var = run_var, .B = B, .C = C,
                 .HW = HW, .eps = eps};
    run_channels(&a, forward_eval_range);
}

/* With xhat = (x - mean) * invstd and n values per channel:
 *   dbeta  = sum dy,  dgamma = sum dy * xhat,
 *   dx     = gamma * invstd * (dy - dbeta/n - xhat * dgamma/n). */
TK_HOT static void backward_range(void *p, size_t lo, size_t hi) {
    const bn_args *a = p;
    const double n = (double)a->B * a->HW;
    for (size_t c = lo; c < hi; c++) {
        const double mean = a->mean[c], invstd = a->invstd[c];
        double s[LANES] = {0}, sx[LANES] = {0};
        for (int b = 0; b < a->B; b++) {
            size_t off = ((size_t)b * a->C + c) * a->HW;
            const float *dy = a->dy + off, *x = a->x + off;
            int i = 0;
            for (; i + LANES <= a->HW; i += LANES)
                for (int j = 0; j < LANES; j++) {
                    s[j] += dy[i + j];
                    sx[j] += dy[i + j] * ((x[i + j] - mean) * invstd);
                }
            for (; i < a->HW; i++) {
                s[i % LANES] += dy[i];
                sx[i % LANES] += dy[i] * ((x[i] - mean) * invstd);
            }
        }
        double sum_dy = lanes_total(s), sum_dy_xhat = lanes_total(sx);
        if (a->dbeta) a->dbeta[c] += (float)sum_dy;
        if (a->dgamma) a->dgamma[c] += (float)sum_dy_xhat;
        if (!a->dx) continue;
        const float k = (float)(a->gamma[c] * invstd);
        const float mean_dy = (float)(sum_dy / n), mean_dy_xhat = (float)(sum_dy_xhat / n);
        const float fmean = (float)mean, finvstd = (float)invstd;
        for (int b = 0; b < a->B; b++) {
            size_t off = ((size_t)b * a->C + c) * a->HW;
            const float *dy = a->dy + off, *x = a->x + off;
            float *dx = a->dx + off;
            for (int i = 0; i < a->HW; i++) {
                float xhat = (x[i] - fmean) * finvstd;
                dx[i] += k * (dy[i] - mean_dy - xhat * mean_dy_xhat);
            }
        }
    }
}

void tk_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                           const float *gamma, const float *save_mean, const float *save_invstd, int B, int C,
                           int HW) {
    bn_args a = {.dx = dx, .dgamma = dgamma, .dbeta = dbeta, .dy = dy, .x = x, .gamma = gamma,
                 .mean = save_mean, .invstd = save_invstd, .B = B, .C = C, .HW = HW};
    run_channels(&a, backward_range);
}
