/* test_parallel.c - the thread helpers, and that the layers they spread over
 * threads give the same bits at every thread count. */
#include <cblas.h>
#include <stdatomic.h>

#include "check.h"
#include "tk_layers.h"
#include "tk_parallel.h"
#include "tk_rng.h"

enum { UNITS = 37 };

typedef struct tally {
    atomic_int calls[UNITS];
    atomic_int bad_lane;
    int lanes;
} tally;

static void count_unit(void *p, int unit, int lane) {
    tally *t = p;
    atomic_fetch_add(&t->calls[unit], 1);
    if (lane < 0 || lane >= t->lanes) atomic_fetch_add(&t->bad_lane, 1);
}

static void test_every_unit_runs_once(void) {
    for (int lanes = 0; lanes <= TK_PARALLEL_MAX_LANES + 2; lanes++) { /* 0 runs on the calling thread */
        tally t = {.lanes = lanes < 1 ? 1 : lanes < TK_PARALLEL_MAX_LANES ? lanes : TK_PARALLEL_MAX_LANES};
        for (int u = 0; u < UNITS; u++) atomic_init(&t.calls[u], 0);
        atomic_init(&t.bad_lane, 0);
        tk_parallel_units(UNITS, lanes, count_unit, &t);
        for (int u = 0; u < UNITS; u++) CHECK(atomic_load(&t.calls[u]) == 1);
        CHECK(atomic_load(&t.bad_lane) == 0);
    }
    tally none = {.lanes = 2};
    atomic_init(&none.calls[0], 0);
    tk_parallel_units(0, 2, count_unit, &none); /* no unit: fn is never called */
    CHECK(atomic_load(&none.calls[0]) == 0);
}

typedef struct cover {
    atomic_int *hits;
    atomic_int pieces;
    size_t grain;
    atomic_int oversized;
} cover;

static void mark_range(void *p, size_t lo, size_t hi) {
    cover *c = p;
    atomic_fetch_add(&c->pieces, 1);
    if (hi - lo > c->grain) atomic_fetch_add(&c->oversized, 1);
    for (size_t i = lo; i < hi; i++) atomic_fetch_add(&c->hits[i], 1);
}

/* Each item is covered once; a range big enough is cut into grain-sized
 * pieces, a small one is run whole on the calling thread. */
static void test_range_covers_each_item_once(void) {
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(2);
    size_t n = TK_PARALLEL_MIN_WORK + 5;
    atomic_int *hits = malloc(n * sizeof *hits);
    for (size_t i = 0; i < n; i++) atomic_init(&hits[i], 0);
    cover big = {.hits = hits, .grain = 1000};
    atomic_init(&big.pieces, 0);
    atomic_init(&big.oversized, 0);
    tk_parallel_range(n, 1000, n, mark_range, &big);
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= atomic_load(&hits[i]) == 1;
    CHECK(ok);
    CHECK(atomic_load(&big.pieces) == (int)((n + 999) / 1000));
    CHECK(atomic_load(&big.oversized) == 0);

    cover small = {.hits = hits, .grain = 10};
    atomic_init(&small.pieces, 0);
    atomic_init(&small.oversized, 0);
    tk_parallel_range(100, 10, 100, mark_range, &small);
    CHECK(atomic_load(&small.pieces) == 1);
    CHECK(atomic_load(&hits[0]) == 2 && atomic_load(&hits[99]) == 2 && atomic_load(&hits[100]) == 1);
    free(hits);
    openblas_set_num_threads(saved);
}

/* Batch norm, ReLU, add and pooling over a tensor big enough to be split,
 * at 1 to 4 threads: outputs and gradients must be the same bits. */
enum { B = 8, C = 12, SIDE = 32, HW = SIDE * SIDE, N = B * C * HW };

typedef struct layer_out {
    float y[N], relu[N], sum[N], dx[N], drelu[N], dsum[N], dpool[N];
    float pooled[N / 4], avg[B * C];
    int32_t argmax[N / 4];
    float mean[C], invstd[C], run_mean[C], run_var[C], dgamma[C], dbeta[C];
} layer_out;

static void run_layers(layer_out *o, const float *x, const float *dy, const float *gamma, const float *beta) {
    memset(o, 0, sizeof *o);
    for (int c = 0; c < C; c++) o->run_var[c] = 1.0f;
    tk_batchnorm_forward_train(o->y, o->mean, o->invstd, o->run_mean, o->run_var, x, gamma, beta, B, C, HW, 0.1f,
                               1e-5f);
    tk_batchnorm_forward_eval(o->sum, x, gamma, beta, o->run_mean, o->run_var, B, C, HW, 1e-5f);
    tk_relu_forward(o->relu, o->y, N);
    tk_add_forward(o->sum, o->sum, o->relu, N);
    tk_batchnorm_backward(o->dx, o->dgamma, o->dbeta, dy, x, gamma, o->mean, o->invstd, B, C, HW);
    tk_relu_backward(o->drelu, dy, o->relu, N);
    tk_add_backward(o->dsum, o->dsum, o->dx, N);
    tk_maxpool_forward(o->pooled, o->argmax, x, B, C, SIDE, SIDE, 2, 2);
    tk_maxpool_backward(o->dpool, dy, o->argmax, B, C, SIDE, SIDE, 2, 2);
    tk_avgpool_forward(o->avg, x, B, C, SIDE, SIDE, SIDE);
    tk_avgpool_backward(o->dpool, o->avg, B, C, SIDE, SIDE, SIDE);
}

static void test_layers_same_bits_at_any_thread_count(void) {
    static float x[N], dy[N];
    float gamma[C], beta[C];
    tk_rng rng;
    tk_rng_seed(&rng, 7, TK_STREAM_INIT);
    for (int i = 0; i < N; i++) x[i] = 3.0f * tk_rng_normal(&rng) + 0.5f;
    for (int i = 0; i < N; i++) dy[i] = tk_rng_normal(&rng);
    for (int c = 0; c < C; c++) gamma[c] = 1.0f + 0.1f * c, beta[c] = 0.05f * c;
    int saved = openblas_get_num_threads();
    layer_out *ref = malloc(sizeof *ref), *got = malloc(sizeof *got);
    openblas_set_num_threads(1);
    run_layers(ref, x, dy, gamma, beta);
    CHECK(ref->dgamma[0] != 0.0f && ref->relu[0] >= 0.0f); /* the layers did run */
    for (int t = 2; t <= 4; t++) {
        openblas_set_num_threads(t);
        run_layers(got, x, dy, gamma, beta);
        CHECK(memcmp(ref, got, sizeof *ref) == 0);
    }
    openblas_set_num_threads(saved);
    free(ref);
    free(got);
}

int main(void) {
    RUN(test_every_unit_runs_once);
    RUN(test_range_covers_each_item_once);
    RUN(test_layers_same_bits_at_any_thread_count);
    CHECK_MAIN_END();
}
