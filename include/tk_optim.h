/* tk_optim.h - optimizers and learning-rate schedules.
 *
 * Mask discipline lives here: tk_optim_step zeroes the gradients of pruned
 * weights before the update and the weights after it, so a pruned weight is
 * exactly 0 after every step and its momentum / Adam moments stay 0. */
#ifndef TK_OPTIM_H
#define TK_OPTIM_H

#include "tk_common.h"
#include "tk_duration.h"

typedef enum tk_optim_kind { TK_OPTIM_SGD, TK_OPTIM_ADAM, TK_OPTIM_ADAMW, TK_OPTIM_COUNT } tk_optim_kind;
extern const char *const tk_optim_names[]; /* [TK_OPTIM_COUNT] */

typedef struct tk_optim_config {
    tk_optim_kind kind;
    float lr;
    float momentum;     /* SGD */
    bool nesterov;      /* SGD */
    float weight_decay; /* SGD and Adam: L2 added to the gradient; AdamW: decoupled */
    float beta1, beta2, eps; /* Adam/AdamW */
} tk_optim_config;

/* Defaults per kind: SGD momentum 0, Adam betas (0.9, 0.999), eps 1e-8, AdamW weight decay 1e-2. */
tk_optim_config tk_optim_defaults(tk_optim_kind kind);
/* Parses "sgd" / "adam" / "adamw"; unknown names get the nearest valid one. */
int tk_optim_parse(const char *name, tk_optim_kind *kind, tk_error *err);

typedef struct tk_optim {
    tk_optim_config cfg;
    size_t n;
    int64_t steps;  /* updates taken so far (Adam bias correction) */
    float *m, *v;   /* momentum / first moment, second moment (NULL when unused) */
    /* The kept indices of the masked range (tk_optim_skip_pruned,
     * tk_optim_pack), or NULL; with them, the kept weights' state is km[q],
     * kv[q] for kept[q] (m and v hold it for the unmasked rest only).
     * packed: the steps take the kept weights' gradients packed too. */
    uint32_t *kept;
    size_t n_kept, kept_of;
    bool packed;
    float *km, *kv;
} tk_optim;

tk_optim *tk_optim_create(const tk_optim_config *cfg, size_t n_params);
void tk_optim_free(tk_optim *o);
/* One update with learning rate lr. mask[0..n_masked) covers param[0..n_masked). */
void tk_optim_step(tk_optim *o, float *param, float *grad, const uint8_t *mask, size_t n_masked, float lr);
/* From now on, steps with this mask and n_masked (which must not change
 * until the next call) update only its kept weights and the unmasked rest,
 * when at most half of the masked weights are kept; the kept weights' state
 * is then packed as tk_optim_pack packs it. The result is the same bits: a
 * pruned weight and its moments are zero and a masked step keeps them zero;
 * only its gradient is left as it is, which nothing reads after the step. */
void tk_optim_skip_pruned(tk_optim *o, const uint8_t *mask, size_t n_masked);
/* From now on, steps take the kept weights' gradients packed (see
 * tk_optim_step_packed) and keep their state packed the same way, so a step
 * reads and writes contiguous arrays of the kept size, and the dense weights
 * only at kept places. The mask must not change until the next call. */
void tk_optim_pack(tk_optim *o, const uint8_t *mask, size_t n_masked);
/* One update of a packed optimizer: kept_grad[q] is the gradient of
 * param[kept[q]], kept[] the mask's kept indices in increasing order; grad
 * holds the rest's gradients (from n_masked on). The same bits as
 * tk_optim_step with the mask. */
void tk_optim_step_packed(tk_optim *o, float *param, float *kept_grad, float *grad, float lr);
/* Moment 0 (momentum, Adam's first moment) or 1 (the second) of every
 * parameter into out[n], packed or not: what a checkpoint stores. */
void tk_optim_state(const tk_optim *o, int moment, float *out);
/* Floats of state per parameter (0, 1 or 2): what a checkpoint stores. */
int tk_optim_state_per_param(const tk_optim *o);

/* ---- schedules; all multiply the base learning rate */
typedef enum tk_schedule_kind {
    TK_SCHEDULE_CONSTANT,
    TK_SCHEDULE_MULTISTEP,
    TK_SCHEDULE_COSINE,
    TK_SCHEDULE_COUNT
} tk_schedule_kind;
extern const char *const tk_schedule_names[]; /* [TK_SCHEDULE_COUNT] */

typedef struct tk_schedule {
    tk_schedule_kind kind;
    int64_t milestones[16]; /* iterations, ascending (multistep) */
    int n_milestones;
    float gamma;            /* multistep factor per milestone passed */
    int64_t warmup;         /* linear warm-up iterations from lr/warmup to lr, any kind */
    int64_t total;          /* iterations of the whole run (cosine) */
} tk_schedule;

int tk_schedule_parse(const char *name, tk_schedule_kind *kind, tk_error *err);
/* Learning rate for the update at 0-based iteration `step`. */
float tk_schedule_lr(const tk_schedule *s, float base_lr, int64_t step);

#endif
