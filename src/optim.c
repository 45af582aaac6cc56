/* optim.c - SGD (momentum, Nesterov, L2 weight decay), Adam (L2 weight decay)
 * and AdamW (decoupled weight decay), step for step as torch.optim 1.13
 * computes them, under the mask discipline.
 *
 * Every update is elementwise, so one step is one pass over the parameters:
 * an element function per kind, applied by sweep() to the masked prefix with
 * keep = mask[i] != 0 (or to its kept weights alone, with keep = true) and to
 * the unmasked rest with keep = true. A pruned element (keep false) gets its
 * gradient zeroed, contributes nothing to its momentum / moments (not even
 * weight decay, so they stay exactly 0 even if the weight was not yet 0
 * before the first step) and is set to exactly 0. */
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
    for (size_t q = 0; o->kept && q < o->n_kept; q++) {
        if (o->m) o->m[o->kept[q]] = o->km[q];
        if (o->v) o->v[o->kept[q]] = o->kv[q];
    }
    free(o->km), free(o->kv);
    o->km = o->kv = NULL;
    o->packed = false;
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

/* The kept list, and the kept weights' state packed along it, so that a
 * step's arithmetic runs over contiguous arrays (see sweep). */
static void pack_state(tk_optim *o, const uint8_t *mask, size_t n_masked, size_t kept) {
    o->kept = tk_malloc((kept + 1) * sizeof *o->kept);
    o->n_kept = 0, o->kept_of = n_masked;
    for (size_t i = 0; i < n_masked; i++)
        if (mask[i]) o->kept[o->n_kept++] = (uint32_t)i;
    if (o->m) o->km = tk_alloc_aligned((o->n_kept + 1) * sizeof(float));
    if (o->v) o->kv = tk_alloc_aligned((o->n_kept + 1) * sizeof(float));
    for (size_t q = 0; q < o->n_kept; q++) {
        if (o->m) o->km[q] = o->m[o->kept[q]];
        if (o->v) o->kv[q] = o->v[o->kept[q]];
    }
}

void tk_optim_skip_pruned(tk_optim *o, const uint8_t *mask, size_t n_masked) {
    size_t kept = count_kept(o, mask, n_masked);
    if (kept * 2 <= n_masked) pack_state(o, mask, n_masked, kept);
}

void tk_optim_pack(tk_optim *o, const uint8_t *mask, size_t n_masked) {
    pack_state(o, mask, n_masked, count_kept(o, mask, n_masked));
    o->packed = true;
}

void tk_optim_state(const tk_optim *o, int moment, float *out) {
    const float *dense = moment == 0 ? o->m : o->v, *packed = moment == 0 ? o->km : o->kv;
    TK_ASSERT(dense);
    memcpy(out, dense, o->n * sizeof(float));
    for (size_t q = 0; o->kept && q < o->n_kept; q++) out[o->kept[q]] = packed[q];
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

/* One element: the weight p[i], its gradient g[i] and state m[i], v[i]. */
typedef void (*update_fn)(const coeffs *c, float *restrict p, float *restrict g, float *restrict m,
                          float *restrict v, size_t i, bool keep);

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
                                 float *restrict v, size_t i, bool keep) {
    (void)m, (void)v;
    float gi = kept(g[i], keep);
    float pi = p[i] - c->lr * (gi + c->wd * p[i]);
    g[i] = gi;
    p[i] = kept(pi, keep);
}

/* torch: d = g + wd*p; buf = d on the first step, else buf = momentum*buf + d
 * (dampening 0); u = nesterov ? d + momentum*buf : buf; p -= lr*u.
 * The buffer starts at 0, and momentum*0 + d == d, so the first step needs no
 * special case. */
static inline void sgd_momentum_one(const coeffs *c, float *restrict p, float *restrict g, float *restrict m,
                                    float *restrict v, size_t i, bool keep) {
    (void)v;
    float gi = kept(g[i], keep);
    float d = gi + c->wd * p[i];
    d = kept(d, keep);
    float buf = c->momentum * m[i] + d;
    float u = c->nesterov ? d + c->momentum * buf : buf;
    float pi = p[i] - c->lr * u;
    g[i] = gi;
    m[i] = buf;
    p[i] = kept(pi, keep);
}

/* torch (Adam and AdamW, t = steps taken including this one):
 *   AdamW: p *= 1 - lr*wd          Adam: d = g + wd*p
 *   m = beta1*m + (1-beta1)*d;  v = beta2*v + (1-beta2)*d*d
 *   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   p -= lr / (1 - beta1^t) * m / denom */
static inline void adam_one(const coeffs *c, float *restrict p, float *restrict g, float *restrict m,
                            float *restrict v, size_t i, bool keep) {
    float gi = kept(g[i], keep);
    float d = gi + c->l2 * p[i];
    d = kept(d, keep);
    float mi = c->beta1 * m[i] + c->one_minus_beta1 * d;
    float vi = c->beta2 * v[i] + c->one_minus_beta2 * d * d;
    float denom = sqrtf(vi) / c->bc2_sqrt + c->eps;
    float pi = p[i] * c->decay - c->step_size * (mi / denom);
    g[i] = gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = kept(pi, keep);
}

/* One pass over contiguous arrays, with keep = mask[i] != 0, or every
 * element kept when mask is NULL. Inlined with a constant `f` into a
 * target-cloned function per kind (RUNNER), so that each gets its own
 * straight loops, vectorised at -O3 for the widest unit the CPU has; Adam's
 * also needs -fno-math-errno (sqrtf). always_inline (here and in run_kept):
 * GCC may otherwise keep one copy for the three clones of a kind, compiled
 * for the baseline CPU. */
__attribute__((always_inline)) static inline void run(update_fn f, const coeffs *c, float *restrict p,
                                                      float *restrict g, float *restrict m, float *restrict v,
                                                      const uint8_t *restrict mask, size_t n) {
    if (mask)
        for (size_t i = 0; i < n; i++) f(c, p, g, m, v, i, mask[i] != 0);
    else
        for (size_t i = 0; i < n; i++) f(c, p, g, m, v, i, true);
}

static float *from(float *a, size_t i) { return a ? a + i : NULL; }

/* The kept weights along the kept list `at`, with their packed state km, kv
 * and their gradients packed (kg) or, kg NULL, dense (g), a block at a
 * time: the weights (and dense gradients) gathered into scratch, updated
 * there along vectors, the weights scattered back. Through the kept list
 * itself the compiler cannot vectorise (it cannot prove the scattered
 * indices distinct), and Adam's two divisions and square root then run one
 * lane at a time. Block b + 1 is gathered before block b is updated: a
 * vector load of scalars just stored waits for the stores to retire, which
 * would drain the pipeline at every block, and the gathers and scatters
 * would not overlap the divider's work. A kept gradient is left as it is:
 * keep = true does not change it. */
enum { BLOCK = 16 };

typedef struct kept_block {
    float p[BLOCK], g[BLOCK];
} kept_block;

static inline void gather_block(kept_block *s, const float *restrict p, const float *restrict g, bool dense_g,
                                const uint32_t *restrict at, size_t n) {
    for (size_t k = 0; k < n; k++) s->p[k] = p[at[k]];
    if (dense_g)
        for (size_t k = 0; k < n; k++) s->g[k] = g[at[k]];
}

static inline void update_block(update_fn f, const coeffs *c, kept_block *s, float *restrict p,
                                float *restrict kg, float *restrict km, float *restrict kv,
                                const uint32_t *restrict at, size_t n) {
    for (size_t k = 0; k < n; k++) f(c, s->p, kg ? kg : s->g, km, kv, k, true);
    for (size_t k = 0; k < n; k++) p[at[k]] = s->p[k];
}

__attribute__((always_inline)) static inline void run_kept(update_fn f, const coeffs *c, float *restrict p,
                                                           const float *restrict g, float *restrict kg,
                                                           float *restrict km, float *restrict kv,
                                                           const uint32_t *restrict at, size_t n) {
    /* A copy of the caller's, which the state's stores cannot alias: else
     * GCC reloads the coefficients, or checks for overlap, at every block. */
    const coeffs k = *c;
    kept_block s[2];
    if (n) gather_block(&s[0], p, g, !kg, at, n < BLOCK ? n : BLOCK);
    for (size_t q = 0, b = 0; q < n; q += BLOCK, b ^= 1) {
        size_t next = q + BLOCK;
        if (next < n) gather_block(&s[b ^ 1], p, g, !kg, at + next, n - next < BLOCK ? n - next : BLOCK);
        float *gb = from(kg, q), *mb = from(km, q), *vb = from(kv, q);
        if (n - q >= BLOCK) update_block(f, &k, &s[b], p, gb, mb, vb, at + q, BLOCK);
        else update_block(f, &k, &s[b], p, gb, mb, vb, at + q, n - q);
    }
}

/* Both passes of one kind, each a function of its own that can be
 * target-cloned (clones take pointers, never vectors: tk_common.h). */
typedef struct runner {
    void (*run)(const coeffs *c, float *restrict p, float *restrict g, float *restrict m, float *restrict v,
                const uint8_t *restrict mask, size_t n);
    void (*run_kept)(const coeffs *c, float *restrict p, const float *restrict g, float *restrict kg,
                     float *restrict km, float *restrict kv, const uint32_t *restrict at, size_t n);
} runner;

#define RUNNER(name, one)                                                                                          \
    TK_HOT_WIDE static void name##_run(const coeffs *c, float *restrict p, float *restrict g, float *restrict m,  \
                                       float *restrict v, const uint8_t *restrict mask, size_t n) {               \
        run(one, c, p, g, m, v, mask, n);                                                                          \
    }                                                                                                              \
    TK_HOT_WIDE static void name##_run_kept(const coeffs *c, float *restrict p, const float *restrict g,          \
                                            float *restrict kg, float *restrict km, float *restrict kv,           \
                                            const uint32_t *restrict at, size_t n) {                              \
        run_kept(one, c, p, g, kg, km, kv, at, n);                                                                 \
    }                                                                                                              \
    static const runner name = {name##_run, name##_run_kept};
RUNNER(sgd_plain, sgd_plain_one)
RUNNER(sgd_momentum, sgd_momentum_one)
RUNNER(adam, adam_one)

/* The masked prefix over the kept list (tk_optim_skip_pruned, with kg NULL;
 * tk_optim_pack, with the gradients packed in kg) or over every weight with
 * its mask; then the unmasked rest. */
static void sweep(const runner *r, const coeffs *c, tk_optim *o, float *p, float *g, float *kg,
                  const uint8_t *mask, size_t n_masked) {
    if (o->kept) r->run_kept(c, p, g, kg, o->km, o->kv, o->kept, o->n_kept);
    else r->run(c, p, g, o->m, o->v, mask, n_masked);
    r->run(c, p + n_masked, g + n_masked, from(o->m, n_masked), from(o->v, n_masked), NULL, o->n - n_masked);
}

static void step(tk_optim *o, float *param, float *grad, float *kept_grad, const uint8_t *mask, size_t n_masked,
                 float lr) {
    const tk_optim_config *cfg = &o->cfg;
    o->steps++;
    coeffs c = {.lr = lr, .wd = cfg->weight_decay, .momentum = cfg->momentum, .nesterov = cfg->nesterov};
    switch (cfg->kind) {
    case TK_OPTIM_SGD:
        if (o->m) sweep(&sgd_momentum, &c, o, param, grad, kept_grad, mask, n_masked);
        else sweep(&sgd_plain, &c, o, param, grad, kept_grad, mask, n_masked);
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
        sweep(&adam, &c, o, param, grad, kept_grad, mask, n_masked);
        return;
    }
    case TK_OPTIM_COUNT:
        break;
    }
    TK_ASSERT(!"unknown optimizer kind");
}

void tk_optim_step(tk_optim *o, float *param, float *grad, const uint8_t *mask, size_t n_masked, float lr) {
    TK_ASSERT(n_masked <= o->n && (mask || n_masked == 0) && !o->packed && (!o->kept || o->kept_of == n_masked));
    step(o, param, grad, NULL, mask, n_masked, lr);
}

void tk_optim_step_packed(tk_optim *o, float *param, float *kept_grad, float *grad, float lr) {
    TK_ASSERT(o->packed);
    step(o, param, grad, kept_grad, NULL, o->kept_of, lr);
}
