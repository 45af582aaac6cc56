/* optim.c - SGD (momentum, Nesterov, L2 weight decay), Adam (L2 weight decay)
 * and AdamW (decoupled weight decay), step for step as torch.optim 1.13
 * computes them, under the mask discipline.
 *
 * Every update is elementwise, so one step is one pass over the parameters:
 * an element function per kind, applied by sweep() to the masked prefix with
 * keep = mask[i] != 0 and to the unmasked rest with keep = true. A pruned
 * element (keep false) gets its gradient zeroed, contributes nothing to its
 * momentum / moments (not even weight decay, so they stay exactly 0 even if
 * the weight was not yet 0 before the first step) and is set to exactly 0. */
#include "tk_optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const tk_optim_names[] = {"sgd", "adam", "adamw"};
_Static_assert(TK_ARRAY_LEN(tk_optim_names) == TK_OPTIM_COUNT, "one name per optimizer kind");

int tk_optim_parse(const char *name, tk_optim_kind *kind, tk_error *err) {
    int i = 0;
    if (tk_parse_name("optimizer", name, tk_optim_names, TK_OPTIM_COUNT, &i, err)) return -1;
    *kind = (tk_optim_kind)i;
    return 0;
}

/* torch.optim has no default SGD learning rate; 0.1 is the usual one for the
 * CIFAR ResNets of the lottery-ticket papers. The rest are torch's defaults. */
tk_optim_config tk_optim_defaults(tk_optim_kind kind) {
    TK_ASSERT((unsigned)kind < TK_OPTIM_COUNT);
    return (tk_optim_config){
        .kind = kind,
        .lr = kind == TK_OPTIM_SGD ? 0.1f : 1e-3f,
        .momentum = 0.0f,
        .nesterov = false,
        .weight_decay = kind == TK_OPTIM_ADAMW ? 1e-2f : 0.0f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
    };
}

int tk_optim_state_per_param(const tk_optim *o) {
    if (o->cfg.kind == TK_OPTIM_SGD) return o->cfg.momentum != 0.0f ? 1 : 0;
    return 2;
}

tk_optim *tk_optim_create(const tk_optim_config *cfg, size_t n_params) {
    TK_ASSERT((unsigned)cfg->kind < TK_OPTIM_COUNT);
    tk_optim *o = tk_calloc(1, sizeof *o);
    o->cfg = *cfg;
    o->n = n_params;
    int per = tk_optim_state_per_param(o);
    if (per >= 1) o->m = tk_alloc_aligned(n_params * sizeof(float));
    if (per >= 2) o->v = tk_alloc_aligned(n_params * sizeof(float));
    return o;
}

/* The packed state back into the dense arrays, which then hold every
 * weight's state again. */
static void unpack(tk_optim *o) {
    for (size_t q = 0; o->packed && q < o->n_kept; q++) {
        if (o->m) o->m[o->kept[q]] = o->km[q];
        if (o->v) o->v[o->kept[q]] = o->kv[q];
    }
    free(o->km), free(o->kv);
    o->km = o->kv = NULL;
    o->packed = false;
}

static void list_kept(tk_optim *o, const uint8_t *mask, size_t n_masked, size_t kept) {
    o->kept = tk_malloc((kept + 1) * sizeof *o->kept);
    o->n_kept = 0, o->kept_of = n_masked;
    for (size_t i = 0; i < n_masked; i++)
        if (mask[i]) o->kept[o->n_kept++] = (uint32_t)i;
}

static size_t count_kept(tk_optim *o, const uint8_t *mask, size_t n_masked) {
    TK_ASSERT(n_masked <= o->n && o->n < UINT32_MAX);
    unpack(o);
    free(o->kept);
    o->kept = NULL;
    size_t kept = 0;
    for (size_t i = 0; i < n_masked; i++) kept += mask[i] != 0;
    return kept;
}

void tk_optim_skip_pruned(tk_optim *o, const uint8_t *mask, size_t n_masked) {
    size_t kept = count_kept(o, mask, n_masked);
    if (kept * 2 <= n_masked) list_kept(o, mask, n_masked, kept);
}

void tk_optim_pack(tk_optim *o, const uint8_t *mask, size_t n_masked) {
    list_kept(o, mask, n_masked, count_kept(o, mask, n_masked));
    o->packed = true;
    if (o->m) o->km = tk_alloc_aligned((o->n_kept + 1) * sizeof(float));
    if (o->v) o->kv = tk_alloc_aligned((o->n_kept + 1) * sizeof(float));
    for (size_t q = 0; q < o->n_kept; q++) {
        if (o->m) o->km[q] = o->m[o->kept[q]];
        if (o->v) o->kv[q] = o->v[o->kept[q]];
    }
}

void tk_optim_state(const tk_optim *o, int moment, float *out) {
    const float *dense = moment == 0 ? o->m : o->v, *packed = moment == 0 ? o->km : o->kv;
    TK_ASSERT(dense);
    memcpy(out, dense, o->n * sizeof(float));
    for (size_t q = 0; o->packed && q < o->n_kept; q++) out[o->kept[q]] = packed[q];
}

void tk_optim_free(tk_optim *o) {
    if (!o) return;
    unpack(o);
    free(o->kept);
    free(o->m);
    free(o->v);
    free(o);
}

/* Per-step scalars, computed once per step in double where torch computes
 * them in Python floats, then rounded to float as torch does when it hands
 * a Python scalar to a float32 tensor op. 1 - beta is taken from the float
 * beta (torch: float(1 - 0.999), 4.7e-5 apart), which keeps the moments
 * consistent with the bias correction computed from the same beta. */
typedef struct coeffs {
    float lr, wd, momentum;
    bool nesterov;
    float beta1, beta2, one_minus_beta1, one_minus_beta2;
    float step_size; /* lr / (1 - beta1^t) */
    float bc2_sqrt;  /* sqrt(1 - beta2^t) */
    float eps;
    float l2;    /* Adam: weight decay added to the gradient; AdamW: 0 */
    float decay; /* AdamW: 1 - lr * weight_decay; Adam: 1 */
} coeffs;

/* One element: the weight p[i], its gradient and state g[j], m[j], v[j]
 * (j = i, or its place in a packed list: tk_optim_pack). */
typedef void (*update_fn)(const coeffs *c, float *restrict p, float *restrict g, float *restrict m,
                          float *restrict v, size_t i, size_t j, bool keep);

/* x when keep, else +0.0f, as a bit mask rather than a branch: the compiler
 * turns `keep ? x : 0.0f` back into control flow (it sinks the float math
 * into the branch, and with -ftrapping-math cannot hoist it out again), and
 * control flow stops the masked loop from vectorising. */
static inline float kept(float x, bool keep) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    bits &= -(uint32_t)keep;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* torch: d = g + wd*p; p -= lr*d. */
static inline void sgd_plain_one(const coeffs *c, float *restrict p, float *restrict g, float *restrict m,
                                 float *restrict v, size_t i, size_t j, bool keep) {
    (void)m, (void)v;
    float gi = kept(g[j], keep);
    float pi = p[i] - c->lr * (gi + c->wd * p[i]);
    g[j] = gi;
    p[i] = kept(pi, keep);
}

/* torch: d = g + wd*p; buf = d on the first step, else buf = momentum*buf + d
 * (dampening 0); u = nesterov ? d + momentum*buf : buf; p -= lr*u.
 * The buffer starts at 0, and momentum*0 + d == d, so the first step needs no
 * special case. */
static inline void sgd_momentum_one(const coeffs *c, float *restrict p, float *restrict g, float *restrict m,
                                    float *restrict v, size_t i, size_t j, bool keep) {
    (void)v;
    float gi = kept(g[j], keep);
    float d = gi + c->wd * p[i];
    d = kept(d, keep);
    float buf = c->momentum * m[j] + d;
    float u = c->nesterov ? d + c->momentum * buf : buf;
    float pi = p[i] - c->lr * u;
    g[j] = gi;
    m[j] = buf;
    p[i] = kept(pi, keep);
}

/* torch (Adam and AdamW, t = steps taken including this one):
 *   AdamW: p *= 1 - lr*wd          Adam: d = g + wd*p
 *   m = beta1*m + (1-beta1)*d;  v = beta2*v + (1-beta2)*d*d
 *   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   p -= lr / (1 - beta1^t) * m / denom */
static inline void adam_one(const coeffs *c, float *restrict p, float *restrict g, float *restrict m,
                            float *restrict v, size_t i, size_t j, bool keep) {
    float gi = kept(g[j], keep);
    float d = gi + c->l2 * p[i];
    d = kept(d, keep);
    float mi = c->beta1 * m[j] + c->one_minus_beta1 * d;
    float vi = c->beta2 * v[j] + c->one_minus_beta2 * d * d;
    float denom = sqrtf(vi) / c->bc2_sqrt + c->eps;
    float pi = p[i] * c->decay - c->step_size * (mi / denom);
    g[j] = gi;
    m[j] = mi;
    v[j] = vi;
    p[i] = kept(pi, keep);
}

/* Inlined with a constant `f`, so each kind gets its own two straight loops.
 * GCC vectorises them at -O3; Adam's also needs -fno-math-errno (sqrtf).
 * The masked prefix runs over every weight with its mask, over the kept
 * list alone, or over the kept list with gradients and state packed (kg,
 * o->km, o->kv: the q-th kept weight's at q). */
static inline void sweep(update_fn f, const coeffs *c, tk_optim *o, float *restrict p, float *restrict g,
                         float *restrict kg, const uint8_t *restrict mask, size_t n_masked) {
    float *restrict m = o->m, *restrict v = o->v;
    if (o->packed)
        for (size_t q = 0; q < o->n_kept; q++) f(c, p, kg, o->km, o->kv, o->kept[q], q, true);
    else if (o->kept && o->kept_of == n_masked)
        for (size_t q = 0; q < o->n_kept; q++) f(c, p, g, m, v, o->kept[q], o->kept[q], true);
    else
        for (size_t i = 0; i < n_masked; i++) f(c, p, g, m, v, i, i, mask[i] != 0);
    for (size_t i = n_masked; i < o->n; i++) f(c, p, g, m, v, i, i, true);
}

static void step(tk_optim *o, float *param, float *grad, float *kept_grad, const uint8_t *mask, size_t n_masked,
                 float lr) {
    const tk_optim_config *cfg = &o->cfg;
    o->steps++;
    coeffs c = {.lr = lr, .wd = cfg->weight_decay, .momentum = cfg->momentum, .nesterov = cfg->nesterov};
    switch (cfg->kind) {
    case TK_OPTIM_SGD:
        if (o->m) sweep(sgd_momentum_one, &c, o, param, grad, kept_grad, mask, n_masked);
        else sweep(sgd_plain_one, &c, o, param, grad, kept_grad, mask, n_masked);
        return;
    case TK_OPTIM_ADAM:
    case TK_OPTIM_ADAMW: {
        double t = (double)o->steps;
        bool decoupled = cfg->kind == TK_OPTIM_ADAMW;
        c.beta1 = cfg->beta1;
        c.beta2 = cfg->beta2;
        c.one_minus_beta1 = 1.0f - cfg->beta1;
        c.one_minus_beta2 = 1.0f - cfg->beta2;
        c.step_size = (float)((double)lr / (1.0 - pow((double)cfg->beta1, t)));
        c.bc2_sqrt = (float)sqrt(1.0 - pow((double)cfg->beta2, t));
        c.eps = cfg->eps;
        c.l2 = decoupled ? 0.0f : cfg->weight_decay;
        c.decay = decoupled ? (float)(1.0 - (double)lr * (double)cfg->weight_decay) : 1.0f;
        sweep(adam_one, &c, o, param, grad, kept_grad, mask, n_masked);
        return;
    }
    case TK_OPTIM_COUNT:
        break;
    }
    TK_ASSERT(!"unknown optimizer kind");
}

void tk_optim_step(tk_optim *o, float *param, float *grad, const uint8_t *mask, size_t n_masked, float lr) {
    TK_ASSERT(n_masked <= o->n && (mask || n_masked == 0) && !o->packed);
    step(o, param, grad, NULL, mask, n_masked, lr);
}

void tk_optim_step_packed(tk_optim *o, float *param, float *kept_grad, float *grad, float lr) {
    TK_ASSERT(o->packed);
    step(o, param, grad, kept_grad, NULL, o->kept_of, lr);
}
