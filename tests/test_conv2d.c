/* test_conv2d.c - conv2d forward/backward: PyTorch goldens, finite differences,
 * accumulation, NULL gradients, independence from batching and thread count,
 * workspace bounds and shape validation. */
#include <cblas.h>

#include "check.h"
#include "tk_common.h"
#include "tk_layers.h"
#include "tk_rng.h"

typedef struct conv_case {
    const char *name;
    int B, C, H, W, K, R, S, stride, pad;
} conv_case;

/* The same table, in the same order, as tests/golden/gen_conv2d.py. */
static const conv_case cases[] = {
    {"3x3_s1_p1", 2, 3, 6, 6, 4, 3, 3, 1, 1},     {"3x3_s2_p1", 2, 3, 8, 8, 4, 3, 3, 2, 1},
    {"3x3_s2_p0_odd", 2, 2, 7, 7, 3, 3, 3, 2, 0}, {"1x1_s2_p0", 2, 4, 6, 6, 3, 1, 1, 2, 0},
    {"1x1_s1_p0", 2, 4, 5, 5, 3, 1, 1, 1, 0},     {"1x1_s1_p1", 2, 2, 4, 4, 3, 1, 1, 1, 1},
    {"5x5_s1_p2", 2, 2, 7, 7, 3, 5, 5, 1, 2},     {"nonsquare", 2, 3, 5, 9, 4, 3, 2, 1, 1},
    {"c1", 2, 1, 6, 6, 3, 3, 3, 1, 1},            {"k1", 2, 3, 6, 6, 1, 3, 3, 1, 1},
};

static tk_conv2d_shape shape_of(const conv_case *c) {
    tk_conv2d_shape s = {.B = c->B, .C = c->C, .H = c->H, .W = c->W, .K = c->K, .R = c->R, .S = c->S,
                         .stride = c->stride, .pad = c->pad};
    if (tk_conv2d_shape_init(&s)) {
        printf("  %s: tk_conv2d_shape_init rejected a valid shape\n", c->name);
        exit(1);
    }
    return s;
}

static size_t x_len(const tk_conv2d_shape *s) { return (size_t)s->B * s->C * s->H * s->W; }
static size_t y_len(const tk_conv2d_shape *s) { return (size_t)s->B * s->K * s->P * s->Q; }
static size_t w_len(const tk_conv2d_shape *s) { return (size_t)s->K * s->C * s->R * s->S; }

static float *randn(size_t n, tk_rng *rng) {
    float *a = malloc(n * sizeof *a + 1);
    for (size_t i = 0; i < n; i++) a[i] = tk_rng_normal(rng);
    return a;
}

static float *zeros(size_t n) { return calloc(n + 1, sizeof(float)); }

/* The workspace plus a guard band of sentinels after it, so that a test sees
 * any write past the size tk_conv2d_workspace promised. */
#define GUARD 64
#define SENTINEL 12345.0f

static float *workspace_for(const tk_conv2d_shape *s) {
    size_t n = tk_conv2d_workspace(s);
    float *w = malloc((n + GUARD) * sizeof *w);
    for (size_t i = 0; i < n + GUARD; i++) w[i] = SENTINEL;
    return w;
}

static int guard_intact(const float *work, const tk_conv2d_shape *s) {
    size_t n = tk_conv2d_workspace(s);
    for (size_t i = n; i < n + GUARD; i++)
        if (work[i] != SENTINEL) return 0;
    return 1;
}

static const float *fixture(const golden *g, const char *name, const char *key, size_t expect) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", name, key);
    size_t n;
    const float *a = golden_get(g, full, &n);
    if (n != expect) {
        printf("  %s has %zu values, the test's shape table expects %zu: regenerate the fixture\n", full, n, expect);
        exit(1);
    }
    return a;
}

/* What the float32 bound of each output needs (float32_bound_ratio): how many
 * products it sums and the sum of their magnitudes, from the shape alone by
 * direct loops in double. The bias counts as one more term of y. */
typedef struct magnitudes {
    double *y, *dx, *dw, *db;
    int *ny, *ndx, *ndw, *ndb;
} magnitudes;

static magnitudes conv_magnitudes(const tk_conv2d_shape *s, const float *x, const float *w, const float *b,
                                  const float *dy) {
    size_t nx = x_len(s), ny = y_len(s), nw = w_len(s), nk = (size_t)s->K;
    magnitudes m = {calloc(ny, sizeof(double)), calloc(nx, sizeof(double)), calloc(nw, sizeof(double)),
                    calloc(nk, sizeof(double)), calloc(ny, sizeof(int)), calloc(nx, sizeof(int)),
                    calloc(nw, sizeof(int)), calloc(nk, sizeof(int))};
    for (int n = 0; n < s->B; n++)
        for (int k = 0; k < s->K; k++)
            for (int p = 0; p < s->P; p++)
                for (int q = 0; q < s->Q; q++) {
                    size_t yi = (((size_t)n * s->K + k) * s->P + p) * s->Q + q;
                    double g = fabs(dy[yi]);
                    m.y[yi] += fabs(b[k]), m.ny[yi]++;
                    m.db[k] += g, m.ndb[k]++;
                    for (int c = 0; c < s->C; c++)
                        for (int r = 0; r < s->R; r++)
                            for (int t = 0; t < s->S; t++) {
                                int h = p * s->stride - s->pad + r, v = q * s->stride - s->pad + t;
                                if (h < 0 || h >= s->H || v < 0 || v >= s->W) continue;
                                size_t xi = (((size_t)n * s->C + c) * s->H + h) * s->W + v;
                                size_t wi = (((size_t)k * s->C + c) * s->R + r) * s->S + t;
                                m.y[yi] += fabs(w[wi]) * fabs(x[xi]), m.ny[yi]++;
                                m.dx[xi] += fabs(w[wi]) * g, m.ndx[xi]++;
                                m.dw[wi] += g * fabs(x[xi]), m.ndw[wi]++;
                            }
                }
    return m;
}

static void free_magnitudes(magnitudes *m) {
    free(m->y), free(m->dx), free(m->dw), free(m->db), free(m->ny), free(m->ndx), free(m->ndw), free(m->ndb);
}

/* Each output within the float32 bound of its reduction (float32_bound_ratio)
 * of PyTorch's float64 answer: a bound that holds for any BLAS kernel. */
static void test_matches_pytorch(void) {
    golden *g = golden_open("tests/golden/conv2d.bin");
    for (int i = 0; i < TK_ARRAY_LEN(cases); i++) {
        const conv_case *c = &cases[i];
        tk_conv2d_shape s = shape_of(c);
        size_t nx = x_len(&s), ny = y_len(&s), nw = w_len(&s);
        const float *x = fixture(g, c->name, "x", nx), *w = fixture(g, c->name, "w", nw);
        const float *b = fixture(g, c->name, "b", (size_t)s.K), *dy = fixture(g, c->name, "dy", ny);
        float *work = workspace_for(&s);
        float *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw), *db = zeros((size_t)s.K);
        tk_conv2d_forward(y, x, w, b, &s, work);
        tk_conv2d_backward(dx, dw, db, dy, x, w, &s, work);
        magnitudes m = conv_magnitudes(&s, x, w, b, dy);
        double ey = float32_bound_ratio(y, fixture(g, c->name, "y", ny), m.y, m.ny, ny);
        double edx = float32_bound_ratio(dx, fixture(g, c->name, "dx", nx), m.dx, m.ndx, nx);
        double edw = float32_bound_ratio(dw, fixture(g, c->name, "dw", nw), m.dw, m.ndw, nw);
        double edb = float32_bound_ratio(db, fixture(g, c->name, "db", (size_t)s.K), m.db, m.ndb, (size_t)s.K);
        if (ey > 1 || edx > 1 || edw > 1 || edb > 1)
            printf("  %s: error / float32 bound: y %.2g dx %.2g dw %.2g db %.2g\n", c->name, ey, edx, edw, edb);
        CHECK(ey <= 1);
        CHECK(edx <= 1);
        CHECK(edw <= 1);
        CHECK(edb <= 1);
        CHECK(guard_intact(work, &s));
        free_magnitudes(&m);
        free(work), free(y), free(dx), free(dw), free(db);
    }
    golden_close(g);
}

/* loss = sum(y * r) for the current x, w, b: its gradient w.r.t. y is r. */
typedef struct loss_ctx {
    tk_conv2d_shape s;
    float *x, *w, *b, *r, *y, *work;
} loss_ctx;

static double loss_fn(void *p) {
    loss_ctx *l = p;
    tk_conv2d_forward(l->y, l->x, l->w, l->b, &l->s, l->work);
    double sum = 0;
    for (size_t i = 0; i < y_len(&l->s); i++) sum += (double)l->y[i] * l->r[i];
    return sum;
}

static void test_gradients_match_finite_differences(void) {
    tk_rng rng;
    tk_rng_seed(&rng, 7, TK_STREAM_INIT);
    for (int i = 0; i < TK_ARRAY_LEN(cases); i++) {
        const conv_case *c = &cases[i];
        loss_ctx l = {.s = shape_of(c)};
        size_t nx = x_len(&l.s), ny = y_len(&l.s), nw = w_len(&l.s), nk = (size_t)l.s.K;
        l.x = randn(nx, &rng), l.w = randn(nw, &rng), l.b = randn(nk, &rng), l.r = randn(ny, &rng);
        l.y = zeros(ny), l.work = workspace_for(&l.s);
        float *dx = zeros(nx), *dw = zeros(nw), *db = zeros(nk);
        tk_conv2d_backward(dx, dw, db, l.r, l.x, l.w, &l.s, l.work);
        /* The loss is linear in each parameter, so a large step loses nothing to
         * curvature and keeps float rounding small against the difference. */
        double ex = gradcheck(loss_fn, &l, l.x, dx, nx, 0.25f, 200);
        double ew = gradcheck(loss_fn, &l, l.w, dw, nw, 0.25f, 200);
        double eb = gradcheck(loss_fn, &l, l.b, db, nk, 0.25f, 200);
        if (ex > 1e-3 || ew > 1e-3 || eb > 1e-3)
            printf("  %s: gradcheck error dx %.2g dw %.2g db %.2g\n", c->name, ex, ew, eb);
        CHECK(ex <= 1e-3);
        CHECK(ew <= 1e-3);
        CHECK(eb <= 1e-3);
        free(l.x), free(l.w), free(l.b), free(l.r), free(l.y), free(l.work), free(dx), free(dw), free(db);
    }
}

static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static void test_backward_accumulates_and_accepts_null(void) {
    tk_rng rng;
    tk_rng_seed(&rng, 11, TK_STREAM_INIT);
    /* One shape per backward path: dx as a convolution of dy, through col2im,
     * and the im2col-free 1x1 GEMM; then 8x8 planes, which share a GEMM among
     * 4 samples, in a batch of 37: 10 GEMMs, of which the 8 dw partial sums
     * take uneven runs, and a last GEMM of one sample. */
    const conv_case grouped = {"grouped_37", 37, 4, 8, 8, 5, 3, 3, 1, 1};
    const conv_case *picked[] = {&cases[0], &cases[1], &cases[4], &grouped};
    for (int i = 0; i < TK_ARRAY_LEN(picked); i++) {
        tk_conv2d_shape s = shape_of(picked[i]);
        size_t nx = x_len(&s), ny = y_len(&s), nw = w_len(&s), nk = (size_t)s.K;
        float *x = randn(nx, &rng), *w = randn(nw, &rng), *dy = randn(ny, &rng), *work = workspace_for(&s);
        float *dx1 = zeros(nx), *dw1 = zeros(nw), *db1 = zeros(nk);
        tk_conv2d_backward(dx1, dw1, db1, dy, x, w, &s, work);

        /* Called twice, every gradient doubles. */
        float *dx2 = zeros(nx), *dw2 = zeros(nw), *db2 = zeros(nk);
        tk_conv2d_backward(dx2, dw2, db2, dy, x, w, &s, work);
        tk_conv2d_backward(dx2, dw2, db2, dy, x, w, &s, work);
        int doubled = 1;
        for (size_t j = 0; j < nx; j++) doubled &= fabsf(dx2[j] - 2 * dx1[j]) <= 1e-5f * (1 + fabsf(dx1[j]));
        for (size_t j = 0; j < nw; j++) doubled &= fabsf(dw2[j] - 2 * dw1[j]) <= 1e-5f * (1 + fabsf(dw1[j]));
        for (size_t j = 0; j < nk; j++) doubled &= fabsf(db2[j] - 2 * db1[j]) <= 1e-5f * (1 + fabsf(db1[j]));
        CHECK(doubled);

        /* Each gradient alone, the others NULL, is exactly what the full call gives. */
        float *dx = zeros(nx), *dw = zeros(nw), *db = zeros(nk);
        tk_conv2d_backward(dx, NULL, NULL, dy, x, w, &s, work);
        tk_conv2d_backward(NULL, dw, NULL, dy, x, w, &s, work);
        tk_conv2d_backward(NULL, NULL, db, dy, x, w, &s, work);
        tk_conv2d_backward(NULL, NULL, NULL, dy, x, w, &s, work);
        CHECK(same_bits(dx, dx1, nx));
        CHECK(same_bits(dw, dw1, nw));
        CHECK(same_bits(db, db1, nk));
        CHECK(guard_intact(work, &s));
        free(x), free(w), free(dy), free(work), free(dx1), free(dw1), free(db1), free(dx2), free(dw2), free(db2);
        free(dx), free(dw), free(db);
    }
}

/* Forward and backward results for fixed random inputs of one shape. */
typedef struct conv_out {
    float *y, *dx, *dw, *db;
    size_t ny, nx, nw, nk;
} conv_out;

/* Runs forward and backward with `threads` BLAS threads, over the whole
 * batch at once or one sample per call (dw and db then sum over the calls). */
static conv_out run_conv(const conv_case *c, int threads, int one_at_a_time) {
    conv_case one_case = *c;
    one_case.B = one_at_a_time ? 1 : c->B;
    tk_conv2d_shape s = shape_of(c), call = shape_of(&one_case);
    conv_out o = {.ny = y_len(&s), .nx = x_len(&s), .nw = w_len(&s), .nk = (size_t)s.K};
    tk_rng rng;
    tk_rng_seed(&rng, 13, TK_STREAM_INIT);
    float *x = randn(o.nx, &rng), *w = randn(o.nw, &rng), *b = randn(o.nk, &rng), *dy = randn(o.ny, &rng);
    float *work = workspace_for(&call);
    o.y = zeros(o.ny), o.dx = zeros(o.nx), o.dw = zeros(o.nw), o.db = zeros(o.nk);
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(threads);
    for (int n = 0; n < s.B; n += call.B) {
        size_t xo = n * x_len(&call) / call.B, yo = n * y_len(&call) / call.B;
        tk_conv2d_forward(o.y + yo, x + xo, w, b, &call, work);
        tk_conv2d_backward(o.dx + xo, o.dw, o.db, dy + yo, x + xo, w, &call, work);
    }
    openblas_set_num_threads(saved);
    if (!guard_intact(work, &call)) o.y[0] = NAN;
    free(x), free(w), free(b), free(dy), free(work);
    return o;
}

static void free_out(conv_out *o) { free(o->y), free(o->dx), free(o->dw), free(o->db); }

/* Largest difference from the reference relative to the reference's largest
 * entry: entries near zero are sums with heavy cancellation, whose rounding
 * scales with the terms rather than with the sum. */
static double error_vs_top(const float *a, const float *ref, size_t n) {
    float top = 0;
    for (size_t i = 0; i < n; i++) top = fmaxf(top, fabsf(ref[i]));
    return max_rel_error(a, ref, n, top);
}

static double dw_error(const conv_out *a, const conv_out *ref) { return error_vs_top(a->dw, ref->dw, ref->nw); }

static double y_dx_error(const conv_out *a, const conv_out *ref) {
    double ey = error_vs_top(a->y, ref->y, ref->ny), edx = error_vs_top(a->dx, ref->dx, ref->nx);
    return ey > edx ? ey : edx;
}

/* Every shape gives the same bits whatever the thread count. Where each
 * sample has a GEMM of its own (output planes of 256 pixels or more, and 1x1
 * convs), a sample's y, dx and db depend on that sample alone: the batch gives
 * the same bits as one sample per call. Smaller planes share a GEMM among a
 * group of samples (src/conv2d.c), so they only stay within rounding of one
 * sample per call. dw sums the samples in a different grouping than one call
 * per sample, so it may round differently from that. The shapes are ResNet-20's
 * first stage, its stride-2 downsampling convs and shortcut, its last stage,
 * a VGG 4x4 layer and a 1x1 conv; three threads split the batch of 12 unevenly. */
static void test_batch_and_threads_do_not_change_results(void) {
    const conv_case shapes[] = {
        {"16to16_32px", 12, 16, 32, 32, 16, 3, 3, 1, 1}, {"16to32_s2", 12, 16, 32, 32, 32, 3, 3, 2, 1},
        {"shortcut", 12, 16, 32, 32, 32, 1, 1, 2, 0},    {"1x1", 12, 8, 12, 12, 6, 1, 1, 1, 0},
        {"32to64_s2", 12, 32, 16, 16, 64, 3, 3, 2, 1},   {"64to64_8px", 12, 64, 8, 8, 64, 3, 3, 1, 1},
        {"vgg_4px", 12, 64, 4, 4, 48, 3, 3, 1, 1},
    };
    const int own_gemm = 4; /* the first four shapes */
    for (int i = 0; i < TK_ARRAY_LEN(shapes); i++) {
        conv_out ref = run_conv(&shapes[i], 1, 1), one_thread = run_conv(&shapes[i], 1, 0);
        double err = y_dx_error(&one_thread, &ref), dw_err = dw_error(&one_thread, &ref);
        int alone = same_bits(one_thread.y, ref.y, ref.ny) && same_bits(one_thread.dx, ref.dx, ref.nx);
        int db = same_bits(one_thread.db, ref.db, ref.nk);
        if ((i < own_gemm && !alone) || !db || err > 1e-6 || dw_err > 1e-6)
            printf("  %s: y and dx as one sample per call: same bits %d, max rel error %.2g; db %d; dw %.2g\n",
                   shapes[i].name, alone, err, db, dw_err);
        CHECK(i >= own_gemm || alone);
        CHECK(db);
        CHECK(err <= 1e-6);
        CHECK(dw_err <= 1e-6);
        for (int threads = 2; threads <= 3; threads++) {
            conv_out o = run_conv(&shapes[i], threads, 0);
            int same = same_bits(o.y, one_thread.y, ref.ny) && same_bits(o.dx, one_thread.dx, ref.nx) &&
                       same_bits(o.db, one_thread.db, ref.nk) && same_bits(o.dw, one_thread.dw, ref.nw);
            if (!same) printf("  %s: %d threads differ from one\n", shapes[i].name, threads);
            CHECK(same);
            free_out(&o);
        }
        free_out(&ref), free_out(&one_thread);
    }
}

static void test_shape_init(void) {
    tk_conv2d_shape s = {.B = 1, .C = 3, .H = 32, .W = 32, .K = 16, .R = 3, .S = 3, .stride = 2, .pad = 1};
    CHECK(tk_conv2d_shape_init(&s) == 0);
    CHECK(s.P == 16 && s.Q == 16);
    tk_conv2d_shape odd = {.B = 1, .C = 1, .H = 7, .W = 5, .K = 1, .R = 3, .S = 2, .stride = 2, .pad = 0};
    CHECK(tk_conv2d_shape_init(&odd) == 0);
    CHECK(odd.P == 3 && odd.Q == 2);
    /* A kernel exactly as big as the padded input fits, with one output pixel. */
    tk_conv2d_shape exact = {.B = 1, .C = 1, .H = 3, .W = 3, .K = 1, .R = 5, .S = 5, .stride = 1, .pad = 1};
    CHECK(tk_conv2d_shape_init(&exact) == 0);
    CHECK(exact.P == 1 && exact.Q == 1);

    tk_conv2d_shape too_tall = exact, too_wide = exact, bad_stride = exact, bad_pad = exact, empty = exact;
    too_tall.R = 6;
    too_wide.S = 6;
    bad_stride.stride = 0;
    bad_pad.pad = -1;
    empty.C = 0;
    CHECK(tk_conv2d_shape_init(&too_tall) == -1);
    CHECK(tk_conv2d_shape_init(&too_wide) == -1);
    CHECK(tk_conv2d_shape_init(&bad_stride) == -1);
    CHECK(tk_conv2d_shape_init(&bad_pad) == -1);
    CHECK(tk_conv2d_shape_init(&empty) == -1);
}

int main(void) {
    RUN(test_shape_init);
    RUN(test_matches_pytorch);
    RUN(test_gradients_match_finite_differences);
    RUN(test_backward_accumulates_and_accepts_null);
    RUN(test_batch_and_threads_do_not_change_results);
    CHECK_MAIN_END();
}
