/* batchnorm.c - batch normalization over x[B,C,HW], matching PyTorch's BatchNorm2d.
 *
 * Per-channel sums run in double: a channel can hold B*H*W = 10^5 values, where
 * float sums lose digits the golden test against PyTorch would notice. */
#include <math.h>

#include "tk_common.h"
#include "tk_layers.h"

/* Sum of x over channel c: the B planes of HW values it occupies. */
static double channel_sum(const float *x, int B, int C, int HW, int c) {
    double s = 0.0;
    for (int b = 0; b < B; b++) {
        const float *p = x + ((size_t)b * C + c) * HW;
        for (int i = 0; i < HW; i++) s += p[i];
    }
    return s;
}

/* y = (x - mean) * scale + shift over channel c. Subtracting the mean first
 * keeps precision when the mean is large next to the spread; folding it into
 * the shift would cancel catastrophically. */
static void channel_affine(float *y, const float *x, int B, int C, int HW, int c, float mean, float scale,
                           float shift) {
    for (int b = 0; b < B; b++) {
        size_t off = ((size_t)b * C + c) * HW;
        for (int i = 0; i < HW; i++) y[off + i] = (x[off + i] - mean) * scale + shift;
    }
}

void tk_batchnorm_forward_train(float *y, float *save_mean, float *save_invstd, float *run_mean, float *run_var,
                                const float *x, const float *gamma, const float *beta, int B, int C, int HW,
                                float momentum, float eps) {
    const double n = (double)B * HW;
    /* The unbiased variance needs n > 1; PyTorch refuses such batches too. */
    TK_ASSERT(n > 1);
    for (int c = 0; c < C; c++) {
        double mean = channel_sum(x, B, C, HW, c) / n;
        /* Two passes (mean, then squared deviations) avoid the cancellation of E[x^2] - E[x]^2. */
        double ss = 0.0;
        for (int b = 0; b < B; b++) {
            const float *p = x + ((size_t)b * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                double d = p[i] - mean;
                ss += d * d;
            }
        }
        double var = ss / n;
        double invstd = 1.0 / sqrt(var + eps);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        run_mean[c] = (float)((1.0 - momentum) * run_mean[c] + momentum * mean);
        run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * ss / (n - 1.0));
        channel_affine(y, x, B, C, HW, c, (float)mean, (float)(gamma[c] * invstd), beta[c]);
    }
}

void tk_batchnorm_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                               const float *run_mean, const float *run_var, int B, int C, int HW, float eps) {
    for (int c = 0; c < C; c++) {
        float scale = (float)(gamma[c] / sqrt((double)run_var[c] + eps));
        channel_affine(y, x, B, C, HW, c, run_mean[c], scale, beta[c]);
    }
}

/* With xhat = (x - mean) * invstd and n values per channel:
 *   dbeta  = sum dy,  dgamma = sum dy * xhat,
 *   dx     = gamma * invstd * (dy - dbeta/n - xhat * dgamma/n). */
void tk_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                           const float *gamma, const float *save_mean, const float *save_invstd, int B, int C,
                           int HW) {
    const double n = (double)B * HW;
    for (int c = 0; c < C; c++) {
        const double mean = save_mean[c], invstd = save_invstd[c];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int b = 0; b < B; b++) {
            size_t off = ((size_t)b * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                sum_dy += dy[off + i];
                sum_dy_xhat += dy[off + i] * ((x[off + i] - mean) * invstd);
            }
        }
        if (dbeta) dbeta[c] += (float)sum_dy;
        if (dgamma) dgamma[c] += (float)sum_dy_xhat;
        if (!dx) continue;
        const float k = (float)(gamma[c] * invstd);
        const float mean_dy = (float)(sum_dy / n), mean_dy_xhat = (float)(sum_dy_xhat / n);
        const float fmean = (float)mean, finvstd = (float)invstd;
        for (int b = 0; b < B; b++) {
            size_t off = ((size_t)b * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                float xhat = (x[off + i] - fmean) * finvstd;
                dx[off + i] += k * (dy[off + i] - mean_dy - xhat * mean_dy_xhat);
            }
        }
    }
}
