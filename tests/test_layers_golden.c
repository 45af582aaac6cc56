/* test_layers_golden.c - every layer but conv2d against PyTorch
 * (fixture: tests/golden/gen_layers.py). Inputs come from the fixture; the
 * references were computed in float64, so the errors below are our float32's.
 * Each comparison prints its measured max relative error. */
#include <stdint.h>

#include "check.h"
#include "tk_layers.h"

static golden *fx;

/* The fixture array `prefix.name`, which must hold exactly n values. */
static const float *need(const char *prefix, const char *name, size_t n) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    size_t have;
    const float *a = golden_get(fx, full, &have);
    if (have != n) {
        printf("  %s has %zu values, the test expects %zu: regenerate with tests/golden/make_golden.sh\n"
               "FAIL fixture\n", full, have, n);
        exit(1);
    }
    return a;
}

static void expect_close(const char *prefix, const char *name, const float *got, size_t n, double floor,
                         double tol) {
    double err = max_rel_error(got, need(prefix, name, n), n, floor);
    printf("  %s.%s: max rel error %.2e (floor %g, tol %g)\n", prefix, name, err, floor, tol);
    CHECK(err <= tol);
}

/* One tolerance for every layer, batch-norm gradients included. */
#define FLOOR 1e-3
#define TOL 1e-4

static float *zeros(size_t n) { return calloc(n, sizeof(float)); }

/* The linear layer runs on BLAS, whose kernels sum in different orders, so
 * its outputs are held to the float32 bound of their reduction (see
 * float32_bound_ratio in tests/check.h) rather than to TOL: a bound that holds
 * whatever kernel runs. The other layers are our own loops, compiled without
 * FMA contraction, so their rounding is the same on every machine. */
static void expect_within_bound(const char *prefix, const char *name, const float *got, const double *mag,
                                const int *terms, size_t n) {
    double r = float32_bound_ratio(got, need(prefix, name, n), mag, terms, n);
    printf("  %s.%s: error / float32 bound %.2f\n", prefix, name, r);
    CHECK(r <= 1);
}

static void test_linear(void) {
    enum { B = 4, IN = 7, OUT = 5 };
    const char *t = "linear";
    const float *x = need(t, "x", B * IN), *w = need(t, "w", OUT * IN), *b = need(t, "b", OUT);
    const float *dy = need(t, "dy", B * OUT);
    float y[B * OUT], dx[B * IN] = {0}, dw[OUT * IN] = {0}, db[OUT] = {0};
    tk_linear_forward(y, x, w, b, B, IN, OUT);
    tk_linear_backward(dx, dw, db, dy, x, w, B, IN, OUT);
    /* y sums IN products and the bias, dx OUT products, dw and db B terms. */
    double my[B * OUT] = {0}, mdx[B * IN] = {0}, mdw[OUT * IN] = {0}, mdb[OUT] = {0};
    int ny[B * OUT], ndx[B * IN], ndw[OUT * IN], ndb[OUT];
    for (int n = 0; n < B; n++)
        for (int o = 0; o < OUT; o++) {
            double g = fabs(dy[n * OUT + o]);
            my[n * OUT + o] += fabs(b[o]), mdb[o] += g;
            for (int i = 0; i < IN; i++) {
                my[n * OUT + o] += fabs(w[o * IN + i]) * fabs(x[n * IN + i]);
                mdx[n * IN + i] += fabs(w[o * IN + i]) * g;
                mdw[o * IN + i] += g * fabs(x[n * IN + i]);
            }
        }
    for (int i = 0; i < B * OUT; i++) ny[i] = IN + 1;
    for (int i = 0; i < B * IN; i++) ndx[i] = OUT;
    for (int i = 0; i < OUT * IN; i++) ndw[i] = B;
    for (int i = 0; i < OUT; i++) ndb[i] = B;
    expect_within_bound(t, "y", y, my, ny, B * OUT);
    expect_within_bound(t, "dx", dx, mdx, ndx, B * IN);
    expect_within_bound(t, "dw", dw, mdw, ndw, OUT * IN);
    expect_within_bound(t, "db", db, mdb, ndb, OUT);
}

static void test_batchnorm_train(void) {
    enum { B = 4, C = 3, HW = 25, N = B * C * HW };
    const char *t = "bn_train";
    const float *x = need(t, "x", N), *gamma = need(t, "gamma", C), *beta = need(t, "beta", C);
    const float *dy = need(t, "dy", N);
    float run_mean[C], run_var[C], save_mean[C], save_invstd[C], y[N];
    float dx[N] = {0}, dgamma[C] = {0}, dbeta[C] = {0};
    memcpy(run_mean, need(t, "run_mean0", C), sizeof run_mean);
    memcpy(run_var, need(t, "run_var0", C), sizeof run_var);
    tk_batchnorm_forward_train(y, save_mean, save_invstd, run_mean, run_var, x, gamma, beta, B, C, HW, 0.1f,
                               1e-5f);
    tk_batchnorm_backward(dx, dgamma, dbeta, dy, x, gamma, save_mean, save_invstd, B, C, HW);
    expect_close(t, "y", y, N, FLOOR, TOL);
    expect_close(t, "run_mean", run_mean, C, FLOOR, TOL);
    expect_close(t, "run_var", run_var, C, FLOOR, TOL);
    expect_close(t, "dgamma", dgamma, C, FLOOR, TOL);
    expect_close(t, "dbeta", dbeta, C, FLOOR, TOL);
    expect_close(t, "dx", dx, N, FLOOR, TOL);
}

static void test_batchnorm_eval(void) {
    enum { B = 4, C = 3, HW = 25, N = B * C * HW };
    const char *t = "bn_eval";
    float y[N];
    tk_batchnorm_forward_eval(y, need(t, "x", N), need(t, "gamma", C), need(t, "beta", C), need(t, "run_mean", C),
                              need(t, "run_var", C), B, C, HW, 1e-5f);
    expect_close(t, "y", y, N, FLOOR, TOL);
}

static void check_maxpool(const char *t, int B, int C, int H, int W, int k, int stride) {
    const int P = (H - k) / stride + 1, Q = (W - k) / stride + 1;
    const size_t nx = (size_t)B * C * H * W, ny = (size_t)B * C * P * Q;
    float *y = zeros(ny), *dx = zeros(nx), *argmax_f = zeros(ny);
    int32_t *argmax = calloc(ny, sizeof *argmax);
    tk_maxpool_forward(y, argmax, need(t, "x", nx), B, C, H, W, k, stride);
    tk_maxpool_backward(dx, need(t, "dy", ny), argmax, B, C, H, W, k, stride);
    for (size_t i = 0; i < ny; i++) argmax_f[i] = (float)argmax[i];
    expect_close(t, "y", y, ny, FLOOR, TOL);
    /* Indices must match exactly: a tie broken the other way moves a gradient. */
    expect_close(t, "argmax", argmax_f, ny, FLOOR, 0.0);
    expect_close(t, "dx", dx, nx, FLOOR, TOL);
    free(y), free(dx), free(argmax_f), free(argmax);
}

static void test_maxpool(void) {
    check_maxpool("max6", 2, 3, 6, 6, 2, 2);
    check_maxpool("max7", 2, 3, 7, 7, 2, 2);
    check_maxpool("maxtie", 2, 3, 7, 7, 3, 2);
}

static void check_avgpool(const char *t, int B, int C, int H, int W, int k) {
    const size_t nx = (size_t)B * C * H * W, ny = (size_t)B * C * (H / k) * (W / k);
    float *y = zeros(ny), *dx = zeros(nx);
    tk_avgpool_forward(y, need(t, "x", nx), B, C, H, W, k);
    tk_avgpool_backward(dx, need(t, "dy", ny), B, C, H, W, k);
    expect_close(t, "y", y, ny, FLOOR, TOL);
    expect_close(t, "dx", dx, nx, FLOOR, TOL);
    free(y), free(dx);
}

static void test_avgpool(void) {
    check_avgpool("avg2", 2, 3, 8, 8, 2);
    check_avgpool("avg7", 2, 3, 7, 7, 2);
    check_avgpool("avgglobal", 2, 3, 8, 8, 8);
}

static void test_relu_and_add(void) {
    enum { N = 3 * 17 };
    float y[N], dx[N] = {0}, db[N] = {0};
    tk_relu_forward(y, need("relu", "x", N), N);
    tk_relu_backward(dx, need("relu", "dy", N), y, N);
    expect_close("relu", "y", y, N, FLOOR, TOL);
    expect_close("relu", "dx", dx, N, FLOOR, TOL);

    memset(dx, 0, sizeof dx);
    tk_add_forward(y, need("add", "a", N), need("add", "b", N), N);
    tk_add_backward(dx, db, need("add", "dy", N), N);
    expect_close("add", "y", y, N, FLOOR, TOL);
    expect_close("add", "da", dx, N, FLOOR, TOL);
    expect_close("add", "db", db, N, FLOOR, TOL);
}

static void test_softmax_xent(void) {
    enum { B = 6, K = 10 };
    const char *t = "xent";
    const float *label_f = need(t, "labels", B);
    int32_t labels[B];
    for (int i = 0; i < B; i++) labels[i] = (int32_t)label_f[i];
    float probs[B * K], dlogits[B * K] = {0};
    int correct = -1;
    float loss = tk_softmax_xent_forward(probs, &correct, need(t, "logits", B * K), labels, B, K);
    tk_softmax_xent_backward(dlogits, probs, labels, B, K);
    expect_close(t, "loss", &loss, 1, FLOOR, TOL);
    expect_close(t, "probs", probs, B * K, FLOOR, TOL);
    expect_close(t, "dlogits", dlogits, B * K, FLOOR, TOL);
    CHECK(correct == (int)need(t, "correct", 1)[0]);
}

int main(void) {
    fx = golden_open("tests/golden/layers.bin");
    RUN(test_linear);
    RUN(test_batchnorm_train);
    RUN(test_batchnorm_eval);
    RUN(test_maxpool);
    RUN(test_avgpool);
    RUN(test_relu_and_add);
    RUN(test_softmax_xent);
    golden_close(fx);
    CHECK_MAIN_END();
}
