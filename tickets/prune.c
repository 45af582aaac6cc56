/* prune.c - magnitude pruning (global and layerwise) and random control masks.
 * The rules (kept counts, ties) are stated in tk_prune.h. */
#include "tk_prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

tk_prune_config tk_prune_defaults(void) {
    return (tk_prune_config){.strategy = TK_PRUNE_GLOBAL, .rate = 0.2f, .rate_conv = -1, .rate_linear = -1,
                             .rate_output = -1};
}

bool tk_prune_covers(const tk_prune_config *c, const tk_model *m, int i) {
    const tk_param *p = &m->params[i];
    if (!p->prunable || (c->exclude_output && p->is_output)) return false;
    for (int j = 0; j < c->n_exclude; j++)
        if (!strcmp(c->exclude[j], p->name)) return false;
    return true;
}

static bool rate_ok(float r) { return r > 0 && r < 1; }

int tk_prune_validate(const tk_prune_config *c, const tk_model *m, tk_error *err) {
    if (c->n_densities == 0 && !rate_ok(c->rate))
        return tk_fail(err, "pruning rate %g must be in (0, 1): the fraction of remaining weights pruned per round",
                       c->rate);
    const float *typed[] = {&c->rate_conv, &c->rate_linear, &c->rate_output};
    const char *names[] = {"conv", "linear", "output"};
    for (int i = 0; i < 3; i++)
        if (*typed[i] >= 0 && !rate_ok(*typed[i]))
            return tk_fail(err, "pruning rate for %s layers %g must be in (0, 1)", names[i], *typed[i]);
    if (c->strategy == TK_PRUNE_GLOBAL && (c->rate_conv >= 0 || c->rate_linear >= 0 || c->rate_output >= 0))
        return tk_fail(err, "rates per layer type need the layerwise strategy (global pruning has one threshold)");
    for (int i = 0; i < c->n_densities; i++)
        if (!(c->densities[i] > 0 && c->densities[i] <= 1) || (i > 0 && !(c->densities[i] < c->densities[i - 1])))
            return tk_fail(err, "one-shot densities must be in (0, 1] and decreasing; entry %d is %g", i,
                           c->densities[i]);
    for (int j = 0; j < c->n_exclude; j++) {
        int t = tk_model_find_param(m, c->exclude[j]);
        if (t < 0 || !m->params[t].prunable)
            return tk_fail(err, "excluded tensor '%s' is not a prunable tensor of %s (e.g. %s)", c->exclude[j],
                           m->name, m->params[0].name);
    }
    int covered = 0;
    for (int i = 0; i < m->n_param_tensors; i++) covered += tk_prune_covers(c, m, i);
    if (!covered) return tk_fail(err, "the exclusions leave nothing of %s to prune", m->name);
    return 0;
}

size_t tk_prune_kept(size_t n, double keep_fraction) { return (size_t)floor((double)n * keep_fraction + 0.5); }

double tk_prune_keep_fraction(const tk_prune_config *c, const tk_model *m, int tensor, int level) {
    if (level == 0) return 1.0;
    if (c->n_densities > 0) return c->densities[level - 1];
    double rate = tensor >= 0 ? tk_prune_strategies[c->strategy].rate(c, &m->params[tensor]) : c->rate;
    return pow(1.0 - rate, level);
}

typedef struct ranked {
    float magnitude;
    uint32_t index;
} ranked;

static int by_magnitude_then_index(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->magnitude != y->magnitude) return x->magnitude < y->magnitude ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Prunes the smallest kept weights among the tensors in group[0..n) down to `target` kept. */
static void prune_group(const tk_model *m, const int *group, int n, size_t target,
                        const float *weights, uint8_t *out, ranked *scratch) {
    size_t kept = 0;
    for (int g = 0; g < n; g++) {
        const tk_param *p = &m->params[group[g]];
        for (size_t i = p->offset; i < p->offset + p->count; i++)
            if (out[i]) scratch[kept++] = (ranked){fabsf(weights[i]), (uint32_t)i};
    }
    TK_ASSERT(target <= kept);
    qsort(scratch, kept, sizeof *scratch, by_magnitude_then_index);
    for (size_t i = 0; i < kept - target; i++) out[scratch[i].index] = 0;
}

/* Global: one threshold over every covered weight. */
static void prune_global(const tk_model *m, const tk_prune_config *c, int level, const float *weights, uint8_t *out) {
    ranked *scratch = tk_malloc(m->n_prunable * sizeof *scratch);
    int *group = tk_malloc((size_t)m->n_param_tensors * sizeof(int));
    int n = 0;
    size_t total = 0;
    for (int i = 0; i < m->n_param_tensors; i++)
        if (tk_prune_covers(c, m, i)) group[n++] = i, total += m->params[i].count;
    prune_group(m, group, n, tk_prune_kept(total, tk_prune_keep_fraction(c, m, -1, level)), weights, out, scratch);
    free(group);
    free(scratch);
}

/* Layerwise: one threshold per covered tensor, at its layer type's rate. */
static void prune_layerwise(const tk_model *m, const tk_prune_config *c, int level, const float *weights,
                            uint8_t *out) {
    ranked *scratch = tk_malloc(m->n_prunable * sizeof *scratch);
    for (int i = 0; i < m->n_param_tensors; i++) {
        if (!tk_prune_covers(c, m, i)) continue;
        prune_group(m, &i, 1, tk_prune_kept(m->params[i].count, tk_prune_keep_fraction(c, m, i, level)), weights,
                    out, scratch);
    }
    free(scratch);
}

static double rate_global(const tk_prune_config *c, const tk_param *p) {
    (void)p;
    return c->rate;
}

static double rate_by_layer_type(const tk_prune_config *c, const tk_param *p) {
    float typed = p->is_output ? c->rate_output : p->layer == TK_OP_CONV2D ? c->rate_conv : c->rate_linear;
    return typed >= 0 ? typed : c->rate;
}

const char *const tk_prune_common_keys[] = {"strategy", "rate", "levels", "exclude_output", "exclude", "densities",
                                            NULL};
static const char *const layerwise_keys[] = {"rates", NULL};
static const char *const no_keys[] = {NULL};

const tk_prune_strategy_def tk_prune_strategies[] = {
    [TK_PRUNE_GLOBAL] = {"global", no_keys, prune_global, rate_global},
    [TK_PRUNE_LAYERWISE] = {"layerwise", layerwise_keys, prune_layerwise, rate_by_layer_type},
};
_Static_assert(TK_ARRAY_LEN(tk_prune_strategies) == TK_PRUNE_COUNT, "one row per pruning strategy");

int tk_prune_strategy_parse(const char *name, tk_prune_strategy *out, tk_error *err) {
    int k;
    if (TK_PARSE_ROW("strategy", name, tk_prune_strategies, TK_PRUNE_COUNT, &k, err)) return -1;
    *out = (tk_prune_strategy)k;
    return 0;
}

void tk_prune_mask(const tk_model *m, const tk_prune_config *c, int level, const float *weights,
                   const uint8_t *prev, uint8_t *out) {
    memcpy(out, prev, m->n_prunable);
    tk_prune_strategies[c->strategy].prune(m, c, level, weights, out);
}

void tk_mask_count(const tk_model *m, const uint8_t *mask, int i, size_t *kept, size_t *total) {
    const tk_param *p = &m->params[i];
    size_t k = 0;
    if (p->prunable)
        for (size_t j = p->offset; j < p->offset + p->count; j++) k += mask[j];
    *kept = p->prunable ? k : p->count;
    *total = p->count;
}

void tk_keep_random(uint8_t *out, uint32_t *idx, size_t n, size_t keep, tk_rng *rng) {
    for (size_t i = 0; i < keep; i++) {
        size_t j = i + tk_rng_below(rng, (uint32_t)(n - i));
        uint32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        out[idx[i]] = 1;
    }
}

void tk_random_mask(const tk_model *m, const tk_prune_config *c, const uint8_t *ticket, bool per_layer,
                    tk_rng *rng, uint8_t *out) {
    memcpy(out, ticket, m->n_prunable);
    uint32_t *idx = tk_malloc(m->n_prunable * sizeof(uint32_t));
    size_t n = 0, keep = 0;
    for (int i = 0; i < m->n_param_tensors; i++) {
        if (!tk_prune_covers(c, m, i)) continue;
        const tk_param *p = &m->params[i];
        size_t kept, total;
        tk_mask_count(m, ticket, i, &kept, &total);
        memset(out + p->offset, 0, p->count);
        if (per_layer) n = 0, keep = 0;
        for (size_t j = p->offset; j < p->offset + p->count; j++) idx[n++] = (uint32_t)j;
        keep += kept;
        if (per_layer) tk_keep_random(out, idx, n, keep, rng);
    }
    if (!per_layer) tk_keep_random(out, idx, n, keep, rng);
    free(idx);
}
