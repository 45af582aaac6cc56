/* test_layers_grad.c - finite-difference checks of every layer's backward but
 * conv2d's, and of the backward contract of tk_layers.h: gradients accumulate
 * (+=) and any gradient pointer may be NULL.
 *
 * Each layer is a `layer_case`: forward() recomputes y from the tensors t[i];
 * backward() adds d(sum y*r)/d t[i] into g[i] for a fixed random r. The
 * finite differences use the same scalar sum(y*r), accumulated in double. */
#include <stdint.h>

#include "check.h"
#include "tk_common.h"
#include "tk_layers.h"

enum { MAX_T = 3, N_CASES = 10 };

typedef struct layer_case layer_case;
struct layer_case {
    const char *name;
    int nt;                 /* tensors that receive a gradient */
    const char *tname[MAX_T];
    float *t[MAX_T];
    size_t tn[MAX_T];
    float *y, *r;           /* output and the fixed upstream gradient */
    size_t ny;
    int B, C, H, W, k, stride, in, out;
    float *bn_state;        /* batch norm: save_mean, save_invstd, run_mean, run_var, C each */
    int32_t *ints;          /* max pool argmax, or cross-entropy labels */
    uint8_t *keep;          /* dropout mask */
    float p;                /* dropout probability */
    void (*forward)(layer_case *c);
    void (*backward)(layer_case *c, float **g);
};

static tk_rng rng;
static layer_case cases[N_CASES];
static int n_cases;

/* Gaussian values; away_from_zero keeps them off ReLU's kink by at least 0.1. */
static float *random_floats(size_t n, int away_from_zero) {
    float *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) {
        a[i] = tk_rng_normal(&rng);
        if (away_from_zero) a[i] += a[i] < 0 ? -0.1f : 0.1f;
    }
    return a;
}

/* Distinct values 0.05 apart in random order: no window holds two values
 * closer than a finite-difference step could bridge, so the argmax is stable. */
static float *distinct_floats(size_t n) {
    int32_t *perm = malloc(n * sizeof *perm);
    float *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) perm[i] = (int32_t)i;
    tk_rng_shuffle(&rng, perm, n);
    for (size_t i = 0; i < n; i++) a[i] = ((float)perm[i] - (float)n / 2) * 0.05f;
    free(perm);
    return a;
}

static layer_case *new_case(const char *name, size_t ny, void (*forward)(layer_case *),
                            void (*backward)(layer_case *, float **)) {
    TK_ASSERT(n_cases < N_CASES);
    layer_case *c = &cases[n_cases++];
    c->name = name;
    c->ny = ny;
    c->y = calloc(ny, sizeof *c->y);
    c->r = random_floats(ny, 0);
    c->forward = forward;
    c->backward = backward;
    return c;
}

static void add_tensor(layer_case *c, const char *name, float *data, size_t n) {
    c->tname[c->nt] = name;
    c->t[c->nt] = data;
    c->tn[c->nt++] = n;
}

/* ---- the layers, wrapped */

static void linear_fwd(layer_case *c) { tk_linear_forward(c->y, c->t[0], c->t[1], c->t[2], c->B, c->in, c->out); }
static void linear_bwd(layer_case *c, float **g) {
    tk_linear_backward(g[0], g[1], g[2], c->r, c->t[0], c->t[1], c->B, c->in, c->out);
}

static void bn_fwd(layer_case *c) {
    float *s = c->bn_state;
    tk_batchnorm_forward_train(c->y, s, s + c->C, s + 2 * c->C, s + 3 * c->C, c->t[0], c->t[1], c->t[2], c->B,
                               c->C, c->H * c->W, 0.1f, 1e-5f);
}
static void bn_bwd(layer_case *c, float **g) {
    tk_batchnorm_backward(g[0], g[1], g[2], c->r, c->t[0], c->t[1], c->bn_state, c->bn_state + c->C, c->B, c->C,
                          c->H * c->W);
}

static void relu_fwd(layer_case *c) { tk_relu_forward(c->y, c->t[0], c->ny); }
static void relu_bwd(layer_case *c, float **g) { tk_relu_backward(g[0], c->r, c->y, c->ny); }

static void maxpool_fwd(layer_case *c) {
    tk_maxpool_forward(c->y, c->ints, c->t[0], c->B, c->C, c->H, c->W, c->k, c->stride);
}
static void maxpool_bwd(layer_case *c, float **g) {
    tk_maxpool_backward(g[0], c->r, c->ints, c->B, c->C, c->H, c->W, c->k, c->stride);
}

static void avgpool_fwd(layer_case *c) { tk_avgpool_forward(c->y, c->t[0], c->B, c->C, c->H, c->W, c->k); }
static void avgpool_bwd(layer_case *c, float **g) { tk_avgpool_backward(g[0], c->r, c->B, c->C, c->H, c->W, c->k); }

static void add_fwd(layer_case *c) { tk_add_forward(c->y, c->t[0], c->t[1], c->ny); }
static void add_bwd(layer_case *c, float **g) { tk_add_backward(g[0], g[1], c->r, c->ny); }

/* Reseeding makes every forward draw the same keep mask. */
static void dropout_fwd(layer_case *c) {
    tk_rng drop;
    tk_rng_seed(&drop, 11, TK_STREAM_DROPOUT);
    tk_dropout_forward(c->y, c->keep, c->t[0], c->ny, c->p, &drop);
}
static void dropout_bwd(layer_case *c, float **g) { tk_dropout_backward(g[0], c->r, c->keep, c->ny, c->p); }

/* y is the scalar loss and r = 1, so sum(y*r) is the loss itself; probs live after it in y. */
static void xent_fwd(layer_case *c) {
    c->y[0] = tk_softmax_xent_forward(c->y + 1, NULL, c->t[0], c->ints, c->B, c->out);
}
static void xent_bwd(layer_case *c, float **g) { tk_softmax_xent_backward(g[0], c->y + 1, c->ints, c->B, c->out); }

static void build_cases(void) {
    tk_rng_seed(&rng, 42, TK_STREAM_CONTROL);
    layer_case *c;

    c = new_case("linear", 3 * 4, linear_fwd, linear_bwd);
    c->B = 3, c->in = 6, c->out = 4;
    add_tensor(c, "x", random_floats(3 * 6, 0), 3 * 6);
    add_tensor(c, "w", random_floats(4 * 6, 0), 4 * 6);
    add_tensor(c, "b", random_floats(4, 0), 4);

    c = new_case("batchnorm", 3 * 2 * 16, bn_fwd, bn_bwd);
    c->B = 3, c->C = 2, c->H = c->W = 4;
    c->bn_state = calloc(4 * 2, sizeof(float));
    add_tensor(c, "x", random_floats(c->ny, 0), c->ny);
    add_tensor(c, "gamma", random_floats(2, 0), 2);
    add_tensor(c, "beta", random_floats(2, 0), 2);

    c = new_case("relu", 40, relu_fwd, relu_bwd);
    add_tensor(c, "x", random_floats(40, 1), 40);

    struct { const char *name; int H, k, stride; } pools[] = {
        {"maxpool k2", 6, 2, 2}, {"maxpool k3 s2 (overlapping)", 7, 3, 2}};
    for (int i = 0; i < TK_ARRAY_LEN(pools); i++) {
        int H = pools[i].H, P = (H - pools[i].k) / pools[i].stride + 1;
        c = new_case(pools[i].name, (size_t)2 * 2 * P * P, maxpool_fwd, maxpool_bwd);
        c->B = 2, c->C = 2, c->H = c->W = H, c->k = pools[i].k, c->stride = pools[i].stride;
        c->ints = calloc(c->ny, sizeof *c->ints);
        add_tensor(c, "x", distinct_floats((size_t)2 * 2 * H * H), (size_t)2 * 2 * H * H);
    }

    struct { const char *name; int k; } avgs[] = {{"avgpool k2", 2}, {"avgpool global", 6}};
    for (int i = 0; i < TK_ARRAY_LEN(avgs); i++) {
        int P = 6 / avgs[i].k;
        c = new_case(avgs[i].name, (size_t)2 * 3 * P * P, avgpool_fwd, avgpool_bwd);
        c->B = 2, c->C = 3, c->H = c->W = 6, c->k = avgs[i].k;
        add_tensor(c, "x", random_floats(2 * 3 * 36, 0), 2 * 3 * 36);
    }

    c = new_case("add", 30, add_fwd, add_bwd);
    add_tensor(c, "a", random_floats(30, 0), 30);
    add_tensor(c, "b", random_floats(30, 0), 30);

    c = new_case("dropout", 50, dropout_fwd, dropout_bwd);
    c->p = 0.4f;
    c->keep = calloc(50, 1);
    add_tensor(c, "x", random_floats(50, 0), 50);

    c = new_case("softmax xent", 1 + 5 * 7, xent_fwd, xent_bwd);
    c->B = 5, c->out = 7;
    for (size_t i = 0; i < c->ny; i++) c->r[i] = i == 0;
    c->ints = malloc(5 * sizeof *c->ints);
    for (int i = 0; i < 5; i++) c->ints[i] = (int32_t)tk_rng_below(&rng, 7);
    add_tensor(c, "logits", random_floats(5 * 7, 0), 5 * 7);
}

static void free_cases(void) {
    for (int i = 0; i < n_cases; i++) {
        layer_case *c = &cases[i];
        for (int j = 0; j < c->nt; j++) free(c->t[j]);
        free(c->y), free(c->r), free(c->bn_state), free(c->ints), free(c->keep);
    }
}

/* ---- checks */

static double sum_y_r(void *ctx) {
    layer_case *c = ctx;
    c->forward(c);
    double s = 0.0;
    for (size_t i = 0; i < c->ny; i++) s += (double)c->y[i] * c->r[i];
    return s;
}

/* Runs forward once, then backward `times` times into fresh zeroed buffers for
 * the tensors whose bit is set in `which` (NULL for the others). */
static void gradients(layer_case *c, unsigned which, int times, float **g) {
    for (int i = 0; i < MAX_T; i++) g[i] = i < c->nt && (which >> i & 1) ? calloc(c->tn[i], sizeof(float)) : NULL;
    c->forward(c);
    for (int k = 0; k < times; k++) c->backward(c, g);
}

static void free_gradients(float **g) {
    for (int i = 0; i < MAX_T; i++) free(g[i]);
}

#define ALL ((1u << MAX_T) - 1) /* every gradient pointer non-NULL */

static void test_gradients_match_finite_differences(void) {
    for (int i = 0; i < n_cases; i++) {
        layer_case *c = &cases[i];
        float *g[MAX_T];
        gradients(c, ALL, 1, g);
        for (int j = 0; j < c->nt; j++) {
            double err = gradcheck(sum_y_r, c, c->t[j], g[j], c->tn[j], 1e-2f, 64);
            printf("  %s d%s: max error %.2e\n", c->name, c->tname[j], err);
            CHECK(err <= 1e-2);
        }
        free_gradients(g);
    }
}

static void test_backward_accumulates(void) {
    for (int i = 0; i < n_cases; i++) {
        layer_case *c = &cases[i];
        float *once[MAX_T], *twice[MAX_T];
        gradients(c, ALL, 1, once);
        gradients(c, ALL, 2, twice);
        for (int j = 0; j < c->nt; j++) {
            double nonzero = 0;
            for (size_t k = 0; k < c->tn[j]; k++) {
                nonzero += fabsf(once[j][k]);
                once[j][k] *= 2.0f;
            }
            double err = max_rel_error(twice[j], once[j], c->tn[j], 1e-6);
            if (!(err <= 1e-6 && nonzero > 0)) printf("  %s d%s: twice vs 2x once: %.2e\n", c->name, c->tname[j], err);
            CHECK(nonzero > 0);
            CHECK(err <= 1e-6);
        }
        free_gradients(once);
        free_gradients(twice);
    }
}

/* Each gradient alone (the others NULL) equals the one computed with all of
 * them, and a call with every pointer NULL is accepted. */
static void test_null_gradients(void) {
    for (int i = 0; i < n_cases; i++) {
        layer_case *c = &cases[i];
        float *all[MAX_T], *none[MAX_T];
        gradients(c, ALL, 1, all);
        gradients(c, 0, 1, none);
        for (int j = 0; j < c->nt; j++) {
            float *alone[MAX_T];
            gradients(c, 1u << j, 1, alone);
            if (memcmp(alone[j], all[j], c->tn[j] * sizeof(float)))
                printf("  %s d%s differs when computed alone\n", c->name, c->tname[j]);
            CHECK(!memcmp(alone[j], all[j], c->tn[j] * sizeof(float)));
            free_gradients(alone);
        }
        free_gradients(all);
    }
}

/* One uniform draw per value, in order, kept when draw >= p, scaled by 1/(1-p). */
static void test_dropout_draws(void) {
    enum { N = 2000 };
    const float p = 0.3f;
    float *x = random_floats(N, 0), y[N];
    uint8_t keep[N];
    tk_rng drop, replay;
    tk_rng_seed(&drop, 5, TK_STREAM_DROPOUT);
    replay = drop;
    tk_dropout_forward(y, keep, x, N, p, &drop);
    int kept = 0, mismatches = 0;
    for (int i = 0; i < N; i++) {
        int want = tk_rng_uniform(&replay) >= p;
        kept += keep[i];
        mismatches += keep[i] != want || y[i] != (want ? x[i] * (1.0f / (1.0f - p)) : 0.0f);
    }
    CHECK(mismatches == 0);
    CHECK(!memcmp(&drop, &replay, sizeof drop)); /* exactly N draws consumed */
    CHECK_NEAR(kept / (double)N, 1.0 - p, 0.04);
    free(x);
}

int main(void) {
    build_cases();
    RUN(test_gradients_match_finite_differences);
    RUN(test_backward_accumulates);
    RUN(test_null_gradients);
    RUN(test_dropout_draws);
    free_cases();
    CHECK_MAIN_END();
}
