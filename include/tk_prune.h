/* tk_prune.h - magnitude pruning and the random masks of the controls.
 *
 * Words as in ../shared/SEMANTICS.md. The weights a strategy covers are the
 * prunable tensors minus the excluded ones; excluded tensors stay dense and
 * never count towards the budget. A group is what one threshold applies to:
 * all covered weights (global) or one tensor (layerwise).
 *
 * Kept-count rule: a group of n weights pruned at rate p keeps, at level L,
 *     kept(L) = floor(n * (1 - p)^L + 0.5)        (round half up, in double)
 * computed from n every level, so rounding never accumulates. One-shot
 * pruning to density d keeps floor(n * d + 0.5).
 * Ties: among the weights still kept, the smallest magnitudes are pruned
 * first and equal magnitudes go in flat index order (the lower index is
 * pruned first), so the kept count is exact. */
#ifndef TK_PRUNE_H
#define TK_PRUNE_H

#include "tk_model.h"
#include "tk_rng.h"

typedef enum tk_prune_strategy { TK_PRUNE_GLOBAL, TK_PRUNE_LAYERWISE, TK_PRUNE_COUNT } tk_prune_strategy;

enum { TK_PRUNE_MAX_EXCLUDE = 16, TK_PRUNE_MAX_DENSITIES = 32 };

typedef struct tk_prune_config {
    tk_prune_strategy strategy;
    float rate;                  /* fraction of the remaining weights pruned per round */
    /* Layerwise only: rates by layer type (Frankle & Carbin: conv 0.1-0.15,
     * fc 0.2, output 0.1); a negative value means `rate`. */
    float rate_conv, rate_linear, rate_output;
    bool exclude_output;         /* keep the output layer dense and out of the budget */
    char exclude[TK_PRUNE_MAX_EXCLUDE][64]; /* further parameter names kept dense */
    int n_exclude;
    /* One-shot: level i (1-based) prunes the dense network's trained weights
     * straight to densities[i-1] of the covered weights; 0 = iterative. */
    float densities[TK_PRUNE_MAX_DENSITIES];
    int n_densities;
} tk_prune_config;

/* A pruning strategy: one row of tk_prune_strategies. Adding one is its
 * value before TK_PRUNE_COUNT and its row in tickets/prune.c. */
typedef struct tk_prune_strategy_def {
    const char *name;
    /* The keys of a find specification's "pruning" it reads beyond those
     * every strategy reads (tk_prune_common_keys); NULL-terminated. */
    const char *const *keys;
    /* Prunes `out` (the previous level's mask) down to the level's counts,
     * one threshold per group of covered tensors it forms. */
    void (*prune)(const tk_model *m, const tk_prune_config *c, int level, const float *weights, uint8_t *out);
    /* The per-round rate of tensor p. */
    double (*rate)(const tk_prune_config *c, const tk_param *p);
} tk_prune_strategy_def;
extern const tk_prune_strategy_def tk_prune_strategies[];
/* "strategy", "rate", "levels", "exclude_output", "exclude", "densities"; NULL-terminated. */
extern const char *const tk_prune_common_keys[];

/* The strategy named `name`; an unknown one is refused with the valid names. */
int tk_prune_strategy_parse(const char *name, tk_prune_strategy *out, tk_error *err);

tk_prune_config tk_prune_defaults(void);
/* Checks rates in (0,1), densities in (0,1] and decreasing, exclusions naming real tensors. */
int tk_prune_validate(const tk_prune_config *c, const tk_model *m, tk_error *err);

size_t tk_prune_kept(size_t n, double keep_fraction);
/* Whether the strategy covers parameter tensor i of m. */
bool tk_prune_covers(const tk_prune_config *c, const tk_model *m, int i);
/* The fraction of a group kept at `level` (one-shot: the density). */
double tk_prune_keep_fraction(const tk_prune_config *c, const tk_model *m, int tensor, int level);

/* The level-`level` mask: from `prev` (the previous level's mask; all ones
 * for one-shot) prunes the smallest-magnitude weights of `weights` (the
 * trained weights, m's arena layout) until every group keeps its count.
 * Weights pruned in prev stay pruned. */
void tk_prune_mask(const tk_model *m, const tk_prune_config *c, int level, const float *weights,
                   const uint8_t *prev, uint8_t *out);

/* Random masks for the controls: every covered tensor keeps exactly as many
 * weights as in `ticket` (per_layer) or the covered weights keep the
 * ticket's total, spread uniformly (global); uncovered tensors copy the
 * ticket. Draws come from rng (the control stream). */
void tk_random_mask(const tk_model *m, const tk_prune_config *c, const uint8_t *ticket, bool per_layer,
                    tk_rng *rng, uint8_t *out);

/* Sets out[idx[i]] = 1 for exactly `keep` of the positions idx[0..n),
 * chosen uniformly by a partial Fisher-Yates shuffle (idx is permuted). */
void tk_keep_random(uint8_t *out, uint32_t *idx, size_t n, size_t keep, tk_rng *rng);

/* Kept and total weights of tensor i under mask (prunable tensors only). */
void tk_mask_count(const tk_model *m, const uint8_t *mask, int i, size_t *kept, size_t *total);

#endif
