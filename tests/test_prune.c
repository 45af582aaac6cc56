/* test_prune.c - magnitude pruning and the control masks, on registry models
 * whose weights the test sets: exact kept counts per level (global,
 * layerwise, rates per layer type, exclusions, one-shot), pruned weights stay
 * pruned, ties go by flat index, random masks keep the ticket's counts,
 * validation messages, and the mask and ticket files on disk. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_file.h"
#include "tk_prune.h"
#include "tk_ticket.h"

#include <math.h>

/* lenet_300_100 at width 0.1 on 1x8x8: fc1 [30,64] = 1920, fc2 [10,30] = 300,
 * fc3 [10,10] = 100 prunable weights. conv2 at width 0.125 on 1x8x8:
 * features.0 [8,1,3,3] = 72, features.2 [8,8,3,3] = 576, classifier.0
 * [32,128] = 4096, classifier.2 [32,32] = 1024, classifier.4 [10,32] = 320. */
static tk_model *make_model(const char *name, float width, int C, int H, int W, int classes) {
    tk_model_config mc = {.name = name, .input = {C, H, W}, .classes = classes, .width = width};
    tk_error err = {0};
    tk_model *m = tk_model_create(&mc, &err);
    if (!m) {
        printf("  %s\nFAIL make_model\n", err.msg);
        exit(1);
    }
    return m;
}

static tk_model *lenet(void) { return make_model("lenet_300_100", 0.1f, 1, 8, 8, 10); }
static tk_model *conv2(void) { return make_model("conv2", 0.125f, 1, 8, 8, 10); }

static int param(const tk_model *m, const char *name) {
    int i = tk_model_find_param(m, name);
    if (i < 0) {
        printf("  %s has no tensor %s\nFAIL param\n", m->name, name);
        exit(1);
    }
    return i;
}

/* Weights with pairwise distinct magnitudes (a shuffled ladder 1e-3, 2e-3,
 * ..., random signs), so "the k largest" names exactly one set. */
static float *distinct_weights(const tk_model *m, uint64_t seed) {
    float *w = malloc(m->n_params * sizeof(float));
    int32_t *rank = malloc(m->n_params * sizeof(int32_t));
    tk_rng rng;
    tk_rng_seed(&rng, seed, 0);
    for (size_t i = 0; i < m->n_params; i++) rank[i] = (int32_t)i;
    tk_rng_shuffle(&rng, rank, m->n_params);
    for (size_t i = 0; i < m->n_params; i++)
        w[i] = (float)(rank[i] + 1) * 1e-3f * (tk_rng_u64(&rng) & 1 ? -1.0f : 1.0f);
    free(rank);
    return w;
}

/* The kept-count rule of tk_prune.h, computed apart from the library: the
 * keep fraction by repeated multiplication in long double (the library uses
 * pow in double), then round half up. */
static size_t rule_kept(size_t n, float rate, int level) {
    long double f = 1;
    for (int l = 0; l < level; l++) f *= 1.0L - (long double)rate;
    return (size_t)floorl((long double)n * f + 0.5L);
}

/* The rate the spec gives tensor i: per layer type when set (layerwise only), else `rate`. */
static float rate_of(const tk_prune_config *c, const tk_model *m, int i) {
    const tk_param *p = &m->params[i];
    float typed = p->is_output ? c->rate_output : p->layer == TK_OP_CONV2D ? c->rate_conv : c->rate_linear;
    return c->strategy == TK_PRUNE_LAYERWISE && typed >= 0 ? typed : c->rate;
}

static size_t count_ones(const uint8_t *mask, size_t from, size_t n) {
    size_t k = 0;
    for (size_t i = from; i < from + n; i++) k += mask[i] != 0;
    return k;
}

/* One group (all covered tensors, or one tensor): how many of `out` are kept,
 * and whether every weight kept has a larger magnitude than every weight
 * pruned at this level (those kept in prev but not in out). */
typedef struct group_stats {
    size_t kept, total;
    bool threshold_ok;
} group_stats;

static group_stats group_of(const tk_model *m, const bool *in_group, const float *w, const uint8_t *prev,
                            const uint8_t *out) {
    group_stats g = {0, 0, true};
    float min_kept = INFINITY, max_pruned = -1;
    for (int t = 0; t < m->n_param_tensors; t++) {
        if (!in_group[t]) continue;
        const tk_param *p = &m->params[t];
        g.total += p->count;
        for (size_t i = p->offset; i < p->offset + p->count; i++) {
            float a = fabsf(w[i]);
            if (out[i]) g.kept++, min_kept = a < min_kept ? a : min_kept;
            else if (prev[i]) max_pruned = a > max_pruned ? a : max_pruned;
        }
    }
    g.threshold_ok = max_pruned < min_kept;
    return g;
}

/* Checks the level's mask `out` against the rule: pruned in prev stays
 * pruned, uncovered tensors stay all ones, every group keeps exactly its
 * count and keeps its largest magnitudes. `keep[t]` is the expected kept
 * count of tensor t's group (for global: of all covered, at any covered t). */
static void check_mask(const tk_model *m, const tk_prune_config *c, const float *w, const uint8_t *prev,
                       const uint8_t *out, const size_t *expect_group, int level) {
    int bad_subset = 0;
    for (size_t i = 0; i < m->n_prunable; i++) bad_subset += out[i] && !prev[i];
    CHECK(bad_subset == 0);
    bool *in_group = calloc((size_t)m->n_param_tensors, sizeof(bool));
    bool global_done = false;
    for (int t = 0; t < m->n_param_tensors; t++) {
        const tk_param *p = &m->params[t];
        if (!p->prunable) continue;
        if (!tk_prune_covers(c, m, t)) {
            CHECK(count_ones(out, p->offset, p->count) == p->count);
            continue;
        }
        if (c->strategy == TK_PRUNE_GLOBAL && global_done) continue;
        for (int u = 0; u < m->n_param_tensors; u++)
            in_group[u] = c->strategy == TK_PRUNE_GLOBAL ? tk_prune_covers(c, m, u) : u == t;
        group_stats g = group_of(m, in_group, w, prev, out);
        if (g.kept != expect_group[t] || !g.threshold_ok)
            printf("  level %d, %s%s: kept %zu of %zu, expected %zu; threshold %s\n", level,
                   c->strategy == TK_PRUNE_GLOBAL ? "all covered tensors from " : "", p->name, g.kept, g.total,
                   expect_group[t], g.threshold_ok ? "ok" : "violated");
        CHECK(g.kept == expect_group[t]);
        CHECK(g.threshold_ok);
        global_done = true;
    }
    free(in_group);
}

/* Expected group counts at `level` from the rule (iterative: rate per tensor;
 * one-shot: the level's density). */
static void expected_counts(const tk_model *m, const tk_prune_config *c, int level, size_t *expect) {
    size_t covered = 0;
    for (int t = 0; t < m->n_param_tensors; t++)
        if (tk_prune_covers(c, m, t)) covered += m->params[t].count;
    for (int t = 0; t < m->n_param_tensors; t++) {
        size_t n = c->strategy == TK_PRUNE_GLOBAL ? covered : m->params[t].count;
        expect[t] = c->n_densities ? (size_t)floor((double)n * (double)c->densities[level - 1] + 0.5)
                                   : rule_kept(n, rate_of(c, m, t), level);
    }
}

/* Prunes levels 1..12 iteratively from the same weights, checking each mask;
 * returns the masks' covered kept counts in kept[1..12] (kept[0] = covered). */
static void run_levels(const tk_model *m, const tk_prune_config *c, const float *w, size_t *kept) {
    uint8_t *prev = malloc(m->n_prunable), *out = malloc(m->n_prunable);
    size_t *expect = calloc((size_t)m->n_param_tensors, sizeof(size_t));
    memset(prev, 1, m->n_prunable);
    kept[0] = 0;
    for (int t = 0; t < m->n_param_tensors; t++)
        if (tk_prune_covers(c, m, t)) kept[0] += m->params[t].count;
    for (int level = 1; level <= 12; level++) {
        tk_prune_mask(m, c, level, w, prev, out);
        expected_counts(m, c, level, expect);
        check_mask(m, c, w, prev, out, expect, level);
        kept[level] = 0;
        for (int t = 0; t < m->n_param_tensors; t++)
            if (tk_prune_covers(c, m, t)) kept[level] += count_ones(out, m->params[t].offset, m->params[t].count);
        memcpy(prev, out, m->n_prunable);
    }
    free(prev), free(out), free(expect);
}

static void test_kept_rule(void) {
    /* Round half up, from n every time. */
    CHECK(tk_prune_kept(5, 0.5) == 3);
    CHECK(tk_prune_kept(7, 0.5) == 4);
    CHECK(tk_prune_kept(10, 0.04) == 0);
    CHECK(tk_prune_kept(10, 0.05) == 1);
    CHECK(tk_prune_kept(2320, 1.0) == 2320);
    tk_model *m = conv2();
    tk_prune_config c = tk_prune_defaults();
    CHECK(c.strategy == TK_PRUNE_GLOBAL && c.rate == 0.2f && !c.exclude_output && c.n_densities == 0);
    CHECK(tk_prune_keep_fraction(&c, m, -1, 0) == 1.0);
    CHECK_NEAR(tk_prune_keep_fraction(&c, m, -1, 3), 0.512, 1e-6);
    c.strategy = TK_PRUNE_LAYERWISE;
    c.rate_output = 0.1f;
    CHECK_NEAR(tk_prune_keep_fraction(&c, m, param(m, "classifier.4.weight"), 2), 0.81, 1e-6);
    CHECK_NEAR(tk_prune_keep_fraction(&c, m, param(m, "classifier.0.weight"), 2), 0.64, 1e-6);
    tk_model_free(m);
}

/* Global: one group over all covered weights of lenet (2320), rate 0.2. */
static void test_global_counts(void) {
    tk_model *m = lenet();
    float *w = distinct_weights(m, 1);
    tk_prune_config c = tk_prune_defaults();
    size_t kept[13];
    run_levels(m, &c, w, kept);
    /* floor(2320 * 0.8^L + 0.5) in exact rational arithmetic (0.8 = 1 - (float)0.2). */
    static const size_t table[13] = {2320, 1856, 1485, 1188, 950, 760, 608, 487, 389, 311, 249, 199, 159};
    for (int l = 0; l <= 12; l++) CHECK(kept[l] == table[l]);
    /* The global threshold is not a per-layer rate: with distinct random
     * weights fc3 (100) does not keep exactly 0.8^L of itself at every level. */
    uint8_t *ones = malloc(m->n_prunable), *out = malloc(m->n_prunable);
    memset(ones, 1, m->n_prunable);
    tk_prune_mask(m, &c, 5, w, ones, out);
    int fc1 = param(m, "fc1.weight"), fc3 = param(m, "fc3.weight");
    size_t k1, n1, k3, n3;
    tk_mask_count(m, out, fc1, &k1, &n1);
    tk_mask_count(m, out, fc3, &k3, &n3);
    CHECK(n1 == 1920 && n3 == 100);
    CHECK(k1 != rule_kept(1920, 0.2f, 5) || k3 != rule_kept(100, 0.2f, 5));
    /* Non-prunable tensors count as fully kept. */
    size_t kb, nb;
    tk_mask_count(m, out, param(m, "fc1.bias"), &kb, &nb);
    CHECK(kb == 30 && nb == 30);
    free(ones), free(out), free(w);
    tk_model_free(m);

    /* conv2: 6088 covered weights in five tensors of two kinds. */
    m = conv2();
    w = distinct_weights(m, 2);
    run_levels(m, &c, w, kept);
    static const size_t table2[13] = {6088, 4870, 3896, 3117, 2494, 1995, 1596, 1277, 1021, 817, 654, 523, 418};
    for (int l = 0; l <= 12; l++) CHECK(kept[l] == table2[l]);
    free(w);
    tk_model_free(m);
}

/* Layerwise: the rule per tensor. */
static void test_layerwise_counts(void) {
    tk_model *m = conv2();
    float *w = distinct_weights(m, 3);
    tk_prune_config c = tk_prune_defaults();
    c.strategy = TK_PRUNE_LAYERWISE;
    size_t kept[13];
    run_levels(m, &c, w, kept);
    /* Independently: features.0 (72 weights) at 0.2 per round. */
    static const size_t f0[12] = {58, 46, 37, 29, 24, 19, 15, 12, 10, 8, 6, 5};
    uint8_t *prev = malloc(m->n_prunable), *out = malloc(m->n_prunable);
    memset(prev, 1, m->n_prunable);
    int t = param(m, "features.0.weight");
    for (int level = 1; level <= 12; level++) {
        tk_prune_mask(m, &c, level, w, prev, out);
        size_t k, n;
        tk_mask_count(m, out, t, &k, &n);
        CHECK(n == 72 && k == f0[level - 1]);
        memcpy(prev, out, m->n_prunable);
    }
    free(prev), free(out), free(w);
    tk_model_free(m);
}

/* Frankle & Carbin's per-type rates: conv 0.15, output 0.1, other linear
 * layers the base rate 0.3 (rate_linear left unset). */
static void test_per_type_rates(void) {
    tk_model *m = conv2();
    float *w = distinct_weights(m, 4);
    tk_prune_config c = tk_prune_defaults();
    c.strategy = TK_PRUNE_LAYERWISE;
    c.rate = 0.3f;
    c.rate_conv = 0.15f;
    c.rate_output = 0.1f;
    size_t kept[13];
    run_levels(m, &c, w, kept);
    uint8_t *prev = malloc(m->n_prunable), *out = malloc(m->n_prunable);
    memset(prev, 1, m->n_prunable);
    static const size_t conv576[12] = {490, 416, 354, 301, 256, 217, 185, 157, 133, 113, 96, 82};
    static const size_t lin1024[12] = {717, 502, 351, 246, 172, 120, 84, 59, 41, 29, 20, 14};
    static const size_t out320[12] = {288, 259, 233, 210, 189, 170, 153, 138, 124, 112, 100, 90};
    int tc = param(m, "features.2.weight"), tl = param(m, "classifier.2.weight"), to = param(m, "classifier.4.weight");
    for (int level = 1; level <= 12; level++) {
        tk_prune_mask(m, &c, level, w, prev, out);
        size_t k, n;
        tk_mask_count(m, out, tc, &k, &n);
        CHECK(k == conv576[level - 1]);
        tk_mask_count(m, out, tl, &k, &n);
        CHECK(k == lin1024[level - 1]);
        tk_mask_count(m, out, to, &k, &n);
        CHECK(k == out320[level - 1]);
        memcpy(prev, out, m->n_prunable);
    }
    /* Setting rate_linear too moves classifier.0/.2 but not the output layer. */
    c.rate_linear = 0.2f;
    memset(prev, 1, m->n_prunable);
    tk_prune_mask(m, &c, 2, w, prev, out);
    size_t k, n;
    tk_mask_count(m, out, param(m, "classifier.0.weight"), &k, &n);
    CHECK(k == 2621); /* floor(4096 * 0.64 + 0.5) */
    tk_mask_count(m, out, to, &k, &n);
    CHECK(k == 259);
    free(prev), free(out), free(w);
    tk_model_free(m);
}

/* Excluded tensors stay all ones and are outside the budget. Their weights
 * are made the smallest of all, so counting them would prune them first. */
static void test_exclusions(void) {
    tk_model *m = lenet();
    float *w = distinct_weights(m, 5);
    int fc2 = param(m, "fc2.weight"), fc3 = param(m, "fc3.weight");
    const int small[2] = {fc2, fc3};
    for (int k = 0; k < 2; k++)
        for (size_t i = m->params[small[k]].offset; i < m->params[small[k]].offset + m->params[small[k]].count; i++)
            w[i] *= 1e-6f;
    tk_prune_config c = tk_prune_defaults();
    c.exclude_output = true;
    CHECK(!tk_prune_covers(&c, m, fc3) && tk_prune_covers(&c, m, fc2));
    CHECK(!tk_prune_covers(&c, m, param(m, "fc1.bias")));
    size_t kept[13];
    run_levels(m, &c, w, kept); /* also checks that fc3 stays all ones */
    CHECK(kept[0] == 2220);
    CHECK(kept[12] == rule_kept(2220, 0.2f, 12));

    /* A named exclusion as well: only fc1 (1920) is pruned, fc2 and fc3 stay dense. */
    snprintf(c.exclude[c.n_exclude++], 64, "fc2.weight");
    tk_error err = {0};
    CHECK(tk_prune_validate(&c, m, &err) == 0);
    CHECK(!tk_prune_covers(&c, m, fc2));
    run_levels(m, &c, w, kept);
    CHECK(kept[0] == 1920);
    static const size_t fc1_only[4] = {1920, 1536, 1229, 983};
    for (int l = 0; l < 4; l++) CHECK(kept[l] == fc1_only[l]);
    uint8_t *ones = malloc(m->n_prunable), *out = malloc(m->n_prunable);
    memset(ones, 1, m->n_prunable);
    tk_prune_mask(m, &c, 3, w, ones, out);
    CHECK(count_ones(out, m->params[fc2].offset, 300) == 300);
    CHECK(count_ones(out, m->params[fc3].offset, 100) == 100);
    CHECK(count_ones(out, 0, m->n_prunable) == 983 + 400);
    free(ones), free(out), free(w);
    tk_model_free(m);

    /* Layerwise on conv2 with the first conv excluded by name. */
    m = conv2();
    w = distinct_weights(m, 6);
    c = tk_prune_defaults();
    c.strategy = TK_PRUNE_LAYERWISE;
    snprintf(c.exclude[c.n_exclude++], 64, "features.0.weight");
    CHECK(tk_prune_validate(&c, m, &err) == 0);
    run_levels(m, &c, w, kept);
    CHECK(kept[0] == 6088 - 72);
    free(w);
    tk_model_free(m);
}

/* One-shot: level i prunes the dense network straight to densities[i-1]. */
static void test_one_shot(void) {
    static const float densities[] = {0.8f, 0.5f, 0.2f, 0.05f, 0.01f};
    for (int strategy = 0; strategy < TK_PRUNE_COUNT; strategy++) {
        tk_model *m = conv2();
        float *w = distinct_weights(m, 7);
        tk_prune_config c = tk_prune_defaults();
        c.strategy = (tk_prune_strategy)strategy;
        c.exclude_output = strategy == TK_PRUNE_GLOBAL;
        c.n_densities = TK_ARRAY_LEN(densities);
        memcpy(c.densities, densities, sizeof densities);
        tk_error err = {0};
        CHECK(tk_prune_validate(&c, m, &err) == 0);
        uint8_t *ones = malloc(m->n_prunable), *out = malloc(m->n_prunable);
        size_t *expect = calloc((size_t)m->n_param_tensors, sizeof(size_t));
        memset(ones, 1, m->n_prunable);
        for (int level = 1; level <= c.n_densities; level++) {
            CHECK(tk_prune_keep_fraction(&c, m, 0, level) == (double)densities[level - 1]);
            tk_prune_mask(m, &c, level, w, ones, out);
            expected_counts(m, &c, level, expect);
            check_mask(m, &c, w, ones, out, expect, level);
        }
        if (strategy == TK_PRUNE_GLOBAL) {
            /* 5768 covered weights (conv2 without its output layer): 1% is 57.68 -> 58. */
            CHECK(count_ones(out, 0, m->n_prunable) == 58 + 320);
        } else {
            size_t k, n;
            tk_mask_count(m, out, param(m, "features.0.weight"), &k, &n);
            CHECK(k == 1); /* 0.72 -> 1 */
            tk_mask_count(m, out, param(m, "classifier.0.weight"), &k, &n);
            CHECK(k == 41); /* 40.96 -> 41 */
        }
        free(ones), free(out), free(expect), free(w);
        tk_model_free(m);
    }
}

/* Weights are redrawn before every level and the pruned positions made
 * huge: a magnitude rule that looked at all weights would bring them back. */
static void test_pruned_stays_pruned(void) {
    for (int strategy = 0; strategy < TK_PRUNE_COUNT; strategy++) {
        tk_model *m = conv2();
        tk_prune_config c = tk_prune_defaults();
        c.strategy = (tk_prune_strategy)strategy;
        c.exclude_output = true;
        uint8_t *prev = malloc(m->n_prunable), *out = malloc(m->n_prunable);
        size_t *expect = calloc((size_t)m->n_param_tensors, sizeof(size_t));
        memset(prev, 1, m->n_prunable);
        int revived = 0;
        for (int level = 1; level <= 12; level++) {
            float *w = distinct_weights(m, 100 + (uint64_t)level);
            for (size_t i = 0; i < m->n_prunable; i++)
                if (!prev[i]) w[i] = i % 2 ? 1e30f : -1e30f;
            tk_prune_mask(m, &c, level, w, prev, out);
            for (size_t i = 0; i < m->n_prunable; i++) revived += out[i] && !prev[i];
            /* Counts exact; the threshold among the previously kept. */
            expected_counts(m, &c, level, expect);
            check_mask(m, &c, w, prev, out, expect, level);
            memcpy(prev, out, m->n_prunable);
            free(w);
        }
        CHECK(revived == 0);
        CHECK(count_ones(prev, 0, m->n_prunable) < m->n_prunable / 5);
        free(prev), free(out), free(expect);
        tk_model_free(m);
    }
}

/* Ties at the threshold: lower flat (arena) index pruned first, whatever the sign. */
static void test_ties_by_index(void) {
    /* lenet at width 0.01 on 1x1x2 with 2 classes: fc1 [3,2] at arena 0..5,
     * fc2 [1,3] at 6..8, fc3 [2,1] at 9..10. */
    tk_model *m = make_model("lenet_300_100", 0.01f, 1, 1, 2, 2);
    CHECK(m->n_prunable == 11);
    CHECK(m->params[param(m, "fc1.weight")].offset == 0 && m->params[param(m, "fc2.weight")].offset == 6 &&
          m->params[param(m, "fc3.weight")].offset == 9);
    if (m->n_prunable != 11) {
        tk_model_free(m);
        return;
    }
    /* Six weights of magnitude 0.25 (indices 1 2 4 5 6 9), signs mixed. */
    float *w = calloc(m->n_params, sizeof(float));
    const float v[11] = {0.5f, -0.25f, 0.25f, 0.75f, -0.25f, 0.25f, -0.25f, 1.0f, -0.5f, 0.25f, 2.0f};
    memcpy(w, v, sizeof v);
    for (size_t i = 11; i < m->n_params; i++) w[i] = 0; /* biases: zero, never pruned */
    /* Global, rate 0.2: keeps 9, 7, 6, 5, 4 of 11. */
    static const char *const expect[5] = {
        "10011111111", /* L1 prunes 2 of the tie: 1 (-) and 2 (+), while 4 (-) stays */
        "10010011111", /* L2: 4 and 5 */
        "10010001111", /* L3: 6 (-, in fc2) before 9 (+, in fc3) */
        "10010001101", /* L4: 9 */
        "00010001101", /* L5: 0.5 at 0 and 8 tie; 0 goes first */
    };
    tk_prune_config c = tk_prune_defaults();
    uint8_t prev[11], out[11];
    memset(prev, 1, sizeof prev);
    for (int level = 1; level <= 5; level++) {
        tk_prune_mask(m, &c, level, w, prev, out);
        char got[12];
        for (int i = 0; i < 11; i++) got[i] = out[i] ? '1' : '0';
        got[11] = 0;
        if (strcmp(got, expect[level - 1]))
            printf("  global level %d: mask %s, expected %s\n", level, got, expect[level - 1]);
        CHECK(!strcmp(got, expect[level - 1]));
        memcpy(prev, out, sizeof prev);
    }
    /* Layerwise at 0.5: fc1 keeps 3 of 6 (prunes 1, 2, 4 of the tie
     * {1, 2, 4, 5}), fc2 keeps 2 of 3 (prunes 6), fc3 keeps 1 of 2 (prunes 9). */
    c.strategy = TK_PRUNE_LAYERWISE;
    c.rate = 0.5f;
    memset(prev, 1, sizeof prev);
    tk_prune_mask(m, &c, 1, w, prev, out);
    char got[12];
    for (int i = 0; i < 11; i++) got[i] = out[i] ? '1' : '0';
    got[11] = 0;
    CHECK(!strcmp(got, "10010101101"));
    /* A tensor of equal magnitudes, alternating signs: the first ones by index go. */
    for (int i = 0; i < 6; i++) w[i] = i % 2 ? -0.5f : 0.5f;
    tk_prune_mask(m, &c, 1, w, prev, out);
    CHECK(!out[0] && !out[1] && !out[2] && out[3] && out[4] && out[5]);
    free(w);
    tk_model_free(m);
}

/* A ticket from global pruning (output layer excluded) at level 5, whose
 * uncovered output layer carries an arbitrary pattern to be copied. */
static uint8_t *control_ticket(const tk_model *m, const tk_prune_config *c) {
    float *w = distinct_weights(m, 8);
    uint8_t *ones = malloc(m->n_prunable), *ticket = malloc(m->n_prunable);
    memset(ones, 1, m->n_prunable);
    tk_prune_mask(m, c, 5, w, ones, ticket);
    const tk_param *out = &m->params[param(m, "classifier.4.weight")];
    for (size_t i = 0; i < out->count; i++) ticket[out->offset + i] = (uint8_t)(i % 3 != 0);
    free(w), free(ones);
    return ticket;
}

static bool same_mask(const tk_model *m, const uint8_t *a, const uint8_t *b) { return !memcmp(a, b, m->n_prunable); }

static void test_random_masks(void) {
    tk_model *m = conv2();
    tk_prune_config c = tk_prune_defaults();
    c.exclude_output = true;
    uint8_t *ticket = control_ticket(m, &c);
    uint8_t *a = malloc(m->n_prunable), *b = malloc(m->n_prunable), *d = malloc(m->n_prunable);
    const tk_param *head = &m->params[param(m, "classifier.4.weight")];
    for (int per_layer = 1; per_layer >= 0; per_layer--) {
        tk_rng r1, r2, r3;
        tk_rng_seed(&r1, 42, TK_STREAM_CONTROL);
        r2 = r1;
        tk_rng_seed(&r3, 43, TK_STREAM_CONTROL);
        tk_random_mask(m, &c, ticket, per_layer, &r1, a);
        tk_random_mask(m, &c, ticket, per_layer, &r2, b);
        tk_random_mask(m, &c, ticket, per_layer, &r3, d);
        CHECK(same_mask(m, a, b));   /* same state, same mask */
        CHECK(!same_mask(m, a, d));  /* another stream, another mask */
        CHECK(!same_mask(m, a, ticket));
        CHECK(!memcmp(a + head->offset, ticket + head->offset, head->count)); /* uncovered: the ticket's */
        size_t ticket_total = 0, total = 0, covered = 0;
        for (int t = 0; t < m->n_param_tensors; t++) {
            if (!tk_prune_covers(&c, m, t)) continue;
            size_t kt, ka, kd, n;
            tk_mask_count(m, ticket, t, &kt, &n);
            tk_mask_count(m, a, t, &ka, &n);
            tk_mask_count(m, d, t, &kd, &n);
            ticket_total += kt, total += ka, covered += n;
            if (per_layer) CHECK(ka == kt && kd == kt);
            const tk_param *p = &m->params[t];
            /* Spread over the tensor, not packed at one end: the first half
             * holds about half of the kept weights. */
            size_t first = count_ones(a, p->offset, p->count / 2);
            if (p->count >= 1000) CHECK(first > ka * 4 / 10 && first < ka * 6 / 10);
        }
        CHECK(total == ticket_total);
        if (!per_layer) {
            /* Uniform over all covered weights: the big tensors sit near the
             * global density, while the global ticket's per-tensor counts
             * differ (so per-layer counts are not simply copied). */
            double density = (double)ticket_total / (double)covered;
            bool any_differs = false;
            for (int t = 0; t < m->n_param_tensors; t++) {
                if (!tk_prune_covers(&c, m, t)) continue;
                size_t kt, ka, n;
                tk_mask_count(m, ticket, t, &kt, &n);
                tk_mask_count(m, a, t, &ka, &n);
                any_differs |= ka != kt;
                if (n >= 1000) CHECK_NEAR((double)ka / (double)n, density, 0.05);
            }
            CHECK(any_differs);
        }
    }
    free(a), free(b), free(d), free(ticket);
    tk_model_free(m);
}

static void expect_invalid(const tk_prune_config *c, const tk_model *m, const char *a, const char *b) {
    tk_error err = {0};
    CHECK(tk_prune_validate(c, m, &err) != 0);
    CHECK_CONTAINS(err.msg, a);
    if (b) CHECK_CONTAINS(err.msg, b);
}

static void test_validate_messages(void) {
    tk_model *m = lenet();
    tk_error err = {0};
    tk_prune_config c = tk_prune_defaults();
    CHECK(tk_prune_validate(&c, m, &err) == 0);
    const float bad_rates[] = {0.0f, 1.0f, -0.1f, 1.5f};
    const char *shown[] = {"rate 0 ", "rate 1 ", "rate -0.1 ", "rate 1.5 "};
    for (int i = 0; i < 4; i++) {
        c.rate = bad_rates[i];
        expect_invalid(&c, m, shown[i], "must be in (0, 1)");
    }
    c = tk_prune_defaults();
    c.rate_conv = 0.1f;
    expect_invalid(&c, m, "layerwise", NULL);
    c.strategy = TK_PRUNE_LAYERWISE;
    CHECK(tk_prune_validate(&c, m, &err) == 0);
    c.rate_output = 1.5f;
    expect_invalid(&c, m, "output layers 1.5", "must be in (0, 1)");

    c = tk_prune_defaults();
    c.n_densities = 3;
    c.densities[0] = 0.5f, c.densities[1] = 0.5f, c.densities[2] = 0.1f;
    expect_invalid(&c, m, "decreasing", "entry 1 is 0.5");
    c.densities[1] = 0.6f;
    expect_invalid(&c, m, "decreasing", "entry 1 is 0.6");
    c.densities[1] = 0.2f, c.densities[2] = 0.0f;
    expect_invalid(&c, m, "(0, 1]", "entry 2 is 0");
    c.densities[0] = 1.5f;
    expect_invalid(&c, m, "(0, 1]", "entry 0 is 1.5");
    c.densities[0] = 1.0f, c.densities[2] = 0.1f;
    CHECK(tk_prune_validate(&c, m, &err) == 0);

    c = tk_prune_defaults();
    snprintf(c.exclude[c.n_exclude++], 64, "fc1.bias");
    expect_invalid(&c, m, "'fc1.bias' is not a prunable tensor", "lenet_300_100");
    snprintf(c.exclude[0], 64, "fc4.weight");
    expect_invalid(&c, m, "'fc4.weight' is not a prunable tensor", NULL);
    c.n_exclude = 0;
    c.exclude_output = true;
    snprintf(c.exclude[c.n_exclude++], 64, "fc1.weight");
    snprintf(c.exclude[c.n_exclude++], 64, "fc2.weight");
    expect_invalid(&c, m, "leave nothing", NULL);
    tk_model_free(m);
}

/* ---- files */

static char *tmp;

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Flips one bit at `offset` of the file. */
static void flip_byte(const char *path, size_t offset) {
    size_t n = 0;
    char *data = read_whole_file(path, &n);
    CHECK(data && offset < n);
    if (data && offset < n) {
        data[offset] ^= 0x10;
        write_file(path, data, n);
    }
    free(data);
}

static void test_mask_file(void) {
    tk_model *m = conv2();
    float *w = distinct_weights(m, 9);
    tk_prune_config c = tk_prune_defaults();
    uint8_t *ones = malloc(m->n_prunable), *mask = malloc(m->n_prunable), *back = malloc(m->n_prunable);
    memset(ones, 1, m->n_prunable);
    tk_prune_mask(m, &c, 3, w, ones, mask);
    char *path = path_in(tmp, "level.mask");
    tk_error err = {0};
    CHECK(tk_mask_write(path, mask, m->n_prunable, &err) == 0);
    CHECK(tk_mask_read(path, back, m->n_prunable, &err) == 0);
    CHECK(same_mask(m, mask, back));
    /* The documented layout: "TKMK", u32 1, u64 n, bits (bit i = bit i%8 of byte i/8), CRC-32. */
    size_t n = 0;
    uint8_t *d = (uint8_t *)read_whole_file(path, &n);
    CHECK(d && n == 8 + 8 + (m->n_prunable + 7) / 8 + 4);
    if (d && n == 8 + 8 + (m->n_prunable + 7) / 8 + 4) {
        CHECK(!memcmp(d, "TKMK", 4) && le32(d + 4) == 1 && le32(d + 8) == m->n_prunable && le32(d + 12) == 0);
        int wrong = 0;
        for (size_t i = 0; i < m->n_prunable; i++) wrong += ((d[16 + i / 8] >> (i % 8)) & 1) != mask[i];
        CHECK(wrong == 0);
        CHECK(le32(d + n - 4) == tk_crc32(d, n - 4));
    }
    free(d);
    /* Another model's length. */
    CHECK(tk_mask_read(path, back, m->n_prunable - 1, &err) != 0);
    CHECK_CONTAINS(err.msg, "holds a mask of 6088 weights");
    /* One flipped bit in the bits. */
    flip_byte(path, 20);
    CHECK(tk_mask_read(path, back, m->n_prunable, &err) != 0);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, "checksum mismatch");
    free(path), free(ones), free(mask), free(back), free(w);
    tk_model_free(m);
}

/* Bytes of the documented ticket layout for model m with this provenance. */
static size_t ticket_size(const tk_model *m, const char *provenance) {
    size_t n = 8 + 4 + strlen(provenance) + 4 + strlen(m->name) + 4 + 16 + 4;
    for (int i = 0; i < m->n_param_tensors; i++)
        n += 4 + strlen(m->params[i].name) + 1 + 4 + 4 * (size_t)m->params[i].ndim;
    return n + 16 + (m->n_prunable + 7) / 8 + 4 * m->n_params + 4;
}

static void test_ticket_file(void) {
    tk_model *m = lenet();
    float *w = distinct_weights(m, 10);
    tk_prune_config c = tk_prune_defaults();
    uint8_t *ones = malloc(m->n_prunable);
    memset(ones, 1, m->n_prunable);
    tk_prune_mask(m, &c, 4, w, ones, m->mask);
    memcpy(m->param, w, m->n_params * sizeof(float));
    tk_model_apply_mask(m);
    const char *prov = "{\"model\":\"lenet_300_100\",\"level\":4,\"seed\":7}";
    char *path = path_in(tmp, "level.ticket");
    tk_error err = {0};
    CHECK(tk_ticket_write(path, m, 0.1f, m->param, prov, &err) == 0);
    size_t n = 0;
    char *bytes = read_whole_file(path, &n);
    CHECK(bytes && n == ticket_size(m, prov) && !memcmp(bytes, "TKTK", 4));
    free(bytes);

    /* Round trip into a fresh model of the same shape. */
    tk_model *same = lenet();
    char *back_prov = NULL;
    CHECK(tk_ticket_read(path, same, 0.1f, &back_prov, &err) == 0);
    CHECK(back_prov && !strcmp(back_prov, prov));
    CHECK(!memcmp(same->mask, m->mask, m->n_prunable));
    CHECK(!memcmp(same->param, m->param, m->n_params * sizeof(float)));
    CHECK(count_ones(same->mask, 0, m->n_prunable) == rule_kept(2320, 0.2f, 4));
    free(back_prov);
    tk_model_free(same);

    /* Tickets of another model: another architecture, width, input or class count. */
    struct {
        const char *name;
        float width;
        int H, classes;
    } other[] = {{"conv2", 0.125f, 8, 10}, {"lenet_300_100", 0.2f, 8, 10}, {"lenet_300_100", 0.1f, 10, 10},
                 {"lenet_300_100", 0.1f, 8, 2}};
    for (int i = 0; i < TK_ARRAY_LEN(other); i++) {
        tk_model *o = make_model(other[i].name, other[i].width, 1, other[i].H, other[i].H, other[i].classes);
        CHECK(tk_ticket_read(path, o, other[i].width, NULL, &err) != 0);
        CHECK_CONTAINS(err.msg, path);
        CHECK_CONTAINS(err.msg, "is a ticket of lenet_300_100 (width 0.1, input 1x8x8, 10 classes)");
        char mine[128];
        snprintf(mine, sizeof mine, "not of %s (width %g, input 1x%dx%d, %d classes)", other[i].name,
                 (double)other[i].width, other[i].H, other[i].H, other[i].classes);
        CHECK_CONTAINS(err.msg, mine);
        tk_model_free(o);
    }
    /* A corrupted byte in the weights. */
    flip_byte(path, n - 12);
    tk_model *victim = lenet();
    CHECK(tk_ticket_read(path, victim, 0.1f, NULL, &err) != 0);
    CHECK_CONTAINS(err.msg, "checksum mismatch");
    tk_model_free(victim);
    free(path), free(ones), free(w);
    tk_model_free(m);
}

int main(void) {
    tmp = test_tmpdir("prune");
    RUN(test_kept_rule);
    RUN(test_global_counts);
    RUN(test_layerwise_counts);
    RUN(test_per_type_rates);
    RUN(test_exclusions);
    RUN(test_one_shot);
    RUN(test_pruned_stays_pruned);
    RUN(test_ties_by_index);
    RUN(test_random_masks);
    RUN(test_validate_messages);
    RUN(test_mask_file);
    RUN(test_ticket_file);
    rm_rf(tmp);
    free(tmp);
    CHECK_MAIN_END();
}
