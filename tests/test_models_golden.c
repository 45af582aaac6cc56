/* test_models_golden.c - whole registry models against PyTorch (fixture:
 * tests/golden/gen_models.py, references computed in float64): three
 * SGD-with-momentum steps of lenet_300_100 and resnet20 (logits, loss of each
 * step, every parameter afterwards; for resnet20 also batch-norm running
 * statistics and eval-mode logits), and one forward and backward of conv2,
 * vgg11 and resnet18 (logits, loss, every gradient), so that each
 * architecture family of the registry is covered.
 *
 * The fixture holds no initial parameters or inputs: both sides compute
 * them with one exact float32 formula (fill below, uniform() in the
 * generator). Parameters are matched by their PyTorch names, which is what
 * makes exported tickets line up with PyTorch models. The generator keeps
 * every ReLU input and max-pool window clear of its kink, so float32 rounding
 * cannot send a gradient down the other branch; any error here beyond the
 * tolerances is the engine's.
 *
 * First, the tables the models are made of: every row of the op table, the
 * registry and their name tables is filled in, so that no kind added to an
 * enum is left without its row (a NULL name in the middle of a table). */
#include "check.h"
#include "tk_layers.h"
#include "tk_model.h"
#include "tk_optim.h"

#define GOLDEN "tests/golden/models.bin"

enum { CLASSES = 10, STEPS = 3, MAX_BATCH = 8, MAX_TENSORS = 128 };

/* Mirrors main() in tests/golden/gen_models.py. */
typedef struct model_case {
    const char *name;
    tk_shape input;
    float width;
    int batch;
} model_case;

static const model_case lenet = {"lenet_300_100", {1, 28, 28}, 1.0f, 8};
/* 3x8x8 keeps the float64 reference clear of ReLU kinks (see gen_models.py). */
static const model_case resnet20 = {"resnet20", {3, 8, 8}, 1.0f, 4};
static const model_case conv2 = {"conv2", {3, 32, 32}, 0.125f, 4};
static const model_case vgg11 = {"vgg11", {3, 32, 32}, 0.0625f, 4};
static const model_case resnet18 = {"resnet18", {3, 32, 32}, 0.0625f, 4};

static const float lr = 0.05f, momentum = 0.9f, weight_decay = 5e-4f;

/* Every check is a max relative error (max_rel_error) <= 1e-4. Its floor,
 * below which an error counts as absolute, is the scale the value was
 * computed at, since float32 rounding is relative to that and not to the
 * result (values are float64 truths from float32 inputs):
 *  - losses: CHECK_NEAR (relative, as they are above 1); running
 *    variances: 1e-3 (they stay near 1);
 *  - logits: 0.1 of the largest |logit| of the batch;
 *  - gradients: the largest |gradient| of the layer (weight and bias), as
 *    an element can be tiny after cancellation in its sum (a conv bias
 *    before batch norm has a true gradient of 0, and rounding makes it
 *    what the weight's sums would round to);
 *  - running means (sums of batch means that cancel): the layer's largest;
 *  - parameters after the steps: the tensor's largest update, so an error
 *    counts against how far training moved the tensor. With lr 0.05 and
 *    batch norm, resnet20's updates are as large as its weights, and a fixed
 *    floor of 1e-3 would demand 1e-7 of parameters that moved by 0.05: PyTorch's
 *    own float32 run misses that by 5x (4.8e-4), so it is printed, not checked. */
static const double tol = 1e-4, fixed_floor = 1e-3, logit_floor = 0.1;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* x[j] = offset + scale * u_j, u_j in [-1, 1) from splitmix64(fnv1a(key) ^ j):
 * uniform() of gen_models.py. u_j is exact in float32 and each of the two
 * operations rounds once, so both sides get the same bits. */
static void fill(float *x, size_t n, const char *key, float offset, float scale) {
    uint64_t k = fnv1a(key);
    for (size_t j = 0; j < n; j++) {
        uint64_t z = (k ^ j) + 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        float u = (float)(z >> 40) * 0x1p-23f - 1.0f;
        x[j] = offset + scale * u;
    }
}

/* The fixture array "model/what/name" ("model/what" when name is NULL). */
static const float *get(const golden *g, const char *model, const char *what, const char *name, size_t *n) {
    char key[128];
    if (name) snprintf(key, sizeof key, "%s/%s/%s", model, what, name);
    else snprintf(key, sizeof key, "%s/%s", model, what);
    return golden_get(g, key, n);
}

/* A registry model holding the fixture's initial parameters; names[i] is the
 * i-th PyTorch parameter name and index[i] the model's parameter for it. */
typedef struct loaded {
    const model_case *c;
    tk_model *m;
    int n;
    char names[MAX_TENSORS][64];
    int index[MAX_TENSORS];
} loaded;

static int decode_names(const golden *g, const char *model, char (*names)[64]) {
    size_t len, k = 0;
    const float *codes = get(g, model, "names", NULL, &len);
    int n = 0;
    for (size_t i = 0; i <= len; i++) {
        TK_ASSERT(n < MAX_TENSORS && k < 64);
        if (i == len || codes[i] == '\n') names[n++][k] = 0, k = 0;
        else names[n][k++] = (char)codes[i];
    }
    return n;
}

static bool same_shape(const tk_param *q, const float *shape, size_t ndim) {
    bool same = q->ndim == (int)ndim;
    for (size_t d = 0; same && d < ndim; d++) same = q->shape[d] == (int)shape[d];
    return same;
}

/* Writes the fixture's initial parameters into arena (laid out as m->param). */
static void initial_params(const golden *g, const loaded *l, float *arena) {
    for (int i = 0; i < l->n; i++) {
        const tk_param *q = &l->m->params[l->index[i]];
        size_t n;
        const float *init = get(g, l->c->name, "init", l->names[i], &n);
        TK_ASSERT(n == 2);
        char key[128];
        snprintf(key, sizeof key, "%s/%s", l->c->name, l->names[i]);
        fill(arena + q->offset, q->count, key, init[0], init[1]);
    }
}

/* Builds the model and matches its parameters to PyTorch's by name and
 * shape. Any mismatch fails the check, and then the whole model is matched
 * by position instead (registry entries add layers in PyTorch's module
 * order), so that the numerical checks still say whether the network itself
 * is right: names shifted by one layer can still match a wrong tensor. */
static bool load(const golden *g, const model_case *c, loaded *l) {
    tk_error err = {0};
    tk_model_config cfg = {.name = c->name, .input = c->input, .classes = CLASSES, .width = c->width};
    l->c = c;
    l->m = tk_model_create(&cfg, &err);
    if (!l->m) printf("  %s: %s\n", c->name, err.msg);
    CHECK(l->m != NULL);
    if (!l->m) return false;
    tk_model *m = l->m;
    l->n = decode_names(g, c->name, l->names);
    if (m->n_param_tensors != l->n)
        printf("  %s: %d parameter tensors, PyTorch has %d\n", c->name, m->n_param_tensors, l->n);
    CHECK(m->n_param_tensors == l->n);
    if (m->n_param_tensors != l->n) return false;
    int mismatched = 0;
    for (int i = 0; i < l->n; i++) {
        size_t ndim;
        const float *shape = get(g, c->name, "shape", l->names[i], &ndim);
        l->index[i] = tk_model_find_param(m, l->names[i]);
        if (l->index[i] < 0 || !same_shape(&m->params[l->index[i]], shape, ndim)) {
            printf("  %s: PyTorch's %s (by position: the model's %s) %s\n", c->name, l->names[i],
                   m->params[i].name, l->index[i] < 0 ? "is missing" : "has another shape");
            mismatched++;
        }
    }
    CHECK(mismatched == 0);
    size_t total = 0;
    for (int i = 0; i < l->n; i++) {
        size_t ndim;
        const float *shape = get(g, c->name, "shape", l->names[i], &ndim);
        if (mismatched) l->index[i] = i;
        if (!same_shape(&m->params[l->index[i]], shape, ndim)) return false;
        total += m->params[l->index[i]].count;
    }
    CHECK(total == m->n_params);
    tk_rng rng;
    tk_rng_seed(&rng, 1, TK_STREAM_INIT);
    tk_model_init(m, &rng); /* running mean 0 and variance 1, as in PyTorch */
    initial_params(g, l, m->param);
    tk_model_set_batch(m, c->batch);
    return true;
}

/* The batch the generator calls uniform("model/x/salt/tag"); caller frees. */
static float *inputs(const golden *g, const model_case *c, const char *tag) {
    size_t n = (size_t)c->batch * c->input.C * c->input.H * c->input.W;
    float *x = tk_malloc(n * sizeof *x);
    char key[64];
    snprintf(key, sizeof key, "%s/x/%d/%s", c->name, (int)get(g, c->name, "salt", NULL, NULL)[0], tag);
    fill(x, n, key, 0.0f, 1.0f);
    return x;
}

static void get_labels(const golden *g, const model_case *c, int step, int32_t *y) {
    size_t n;
    const float *labels = get(g, c->name, "labels", NULL, &n);
    TK_ASSERT(n >= (size_t)(step + 1) * c->batch);
    for (int i = 0; i < c->batch; i++) y[i] = (int32_t)labels[step * c->batch + i];
}

/* Forward (train mode) and backward of one batch; m->grad gets the
 * gradients, `logits` a copy of the logits. Returns the loss. */
static float forward_backward(tk_model *m, const float *x, const int32_t *y, int B, float *logits) {
    float probs[MAX_BATCH * CLASSES];
    TK_ASSERT(B <= MAX_BATCH && m->classes == CLASSES);
    memcpy(logits, tk_model_forward(m, x, B, true, NULL), (size_t)B * CLASSES * sizeof(float));
    float loss = tk_softmax_xent_forward(probs, NULL, logits, y, B, CLASSES);
    float *dlogits = tk_model_output_grad(m);
    memset(dlogits, 0, (size_t)B * CLASSES * sizeof(float));
    tk_softmax_xent_backward(dlogits, probs, y, B, CLASSES);
    memset(m->grad, 0, m->n_params * sizeof(float));
    tk_model_backward(m, B);
    return loss;
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

typedef enum floor_kind {
    FLOOR_FIXED,    /* fixed_floor */
    FLOOR_UPDATE,   /* the tensor's largest |reference - initial value| */
    FLOOR_GRADIENT, /* the largest |reference| of the tensor's layer (weight and bias) */
} floor_kind;

/* Whether parameter names a and b belong to one layer ("fc.weight", "fc.bias"). */
static bool same_layer(const char *a, const char *b) {
    size_t la = (size_t)(strrchr(a, '.') - a), lb = (size_t)(strrchr(b, '.') - b);
    return la == lb && !strncmp(a, b, la);
}

static double floor_of(const golden *g, const loaded *l, int i, const float *ref, floor_kind kind, const float *init) {
    const tk_param *q = &l->m->params[l->index[i]];
    double floor = 0;
    switch (kind) {
    case FLOOR_FIXED: return fixed_floor;
    case FLOOR_UPDATE:
        for (size_t j = 0; j < q->count; j++) floor = fmax(floor, fabs((double)ref[j] - init[q->offset + j]));
        return floor;
    case FLOOR_GRADIENT:
        for (int k = 0; k < l->n; k++) {
            if (!same_layer(l->names[i], l->names[k])) continue;
            size_t n;
            const float *other = get(g, l->c->name, "grad", l->names[k], &n);
            floor = fmax(floor, max_abs(other, n));
        }
        return floor;
    }
    return 0;
}

/* Worst max_rel_error over all parameter tensors between `values` (laid out
 * as m->param) and the fixture's model/what/NAME; init holds the initial
 * parameters for FLOOR_UPDATE. Prints the worst and where it is. */
static double worst_tensor(const golden *g, const loaded *l, const float *values, const char *what, floor_kind kind,
                           const float *init) {
    static const char *const floor_names[] = {"1e-3", "largest update", "largest gradient of the layer"};
    double worst = 0;
    const char *where = "";
    for (int i = 0; i < l->n; i++) {
        const tk_param *q = &l->m->params[l->index[i]];
        size_t n;
        const float *ref = get(g, l->c->name, what, l->names[i], &n);
        TK_ASSERT(n == q->count);
        double floor = floor_of(g, l, i, ref, kind, init);
        double e = max_rel_error(values + q->offset, ref, n, floor > 0 ? floor : 1e-30);
        if (!(e <= worst)) worst = e, where = l->names[i];
    }
    printf("  %s %s (floor %s): max rel error %.3g (%s)\n", l->c->name, what, floor_names[kind], worst, where);
    return worst;
}

static void check_logits(const float *logits, const float *ref, const model_case *c, const char *what) {
    size_t n = (size_t)c->batch * CLASSES;
    double e = max_rel_error(logits, ref, n, logit_floor * max_abs(ref, n));
    printf("  %s %s: max rel error %.3g\n", c->name, what, e);
    CHECK(e <= tol);
}

/* Three steps of SGD (momentum, weight decay) with every weight kept:
 * logits of the first step, every loss, every parameter after the last. */
static void three_sgd_steps(const golden *g, const loaded *l) {
    const model_case *c = l->c;
    tk_model *m = l->m;
    int B = c->batch;
    size_t n;
    const float *loss_ref = get(g, c->name, "loss", NULL, &n);
    TK_ASSERT(n == STEPS);
    tk_optim_config cfg = tk_optim_defaults(TK_OPTIM_SGD);
    cfg.momentum = momentum;
    cfg.weight_decay = weight_decay;
    tk_optim *o = tk_optim_create(&cfg, m->n_params);
    for (size_t i = 0; i < m->n_prunable; i++) CHECK(m->mask[i] == 1);
    float logits[MAX_BATCH * CLASSES];
    int32_t y[MAX_BATCH];
    double worst_loss = 0;
    for (int step = 0; step < STEPS; step++) {
        char tag[8];
        snprintf(tag, sizeof tag, "%d", step);
        float *x = inputs(g, c, tag);
        get_labels(g, c, step, y);
        float loss = forward_backward(m, x, y, B, logits);
        if (step == 0) check_logits(logits, get(g, c->name, "logits", NULL, NULL), c, "logits of step 1");
        CHECK_NEAR(loss, loss_ref[step], tol);
        double e = fabs(loss - loss_ref[step]) / fabs(loss_ref[step]);
        worst_loss = e > worst_loss ? e : worst_loss;
        tk_optim_step(o, m->param, m->grad, m->mask, m->n_prunable, lr);
        free(x);
    }
    printf("  %s loss: max rel error %.3g over %d steps\n", c->name, worst_loss, STEPS);
    float *init = tk_malloc(m->n_params * sizeof *init);
    initial_params(g, l, init);
    CHECK(worst_tensor(g, l, m->param, "final", FLOOR_UPDATE, init) <= tol);
    worst_tensor(g, l, m->param, "final", FLOOR_FIXED, NULL);
    free(init);
    tk_optim_free(o);
}

static bool is_listed(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return true;
    return false;
}

static void test_every_table_row_is_filled_in(void) {
    const char *names[TK_OP_COUNT];
    for (int k = 0; k < TK_OP_COUNT; k++) {
        const tk_op_def *d = &tk_ops[k];
        CHECK(d->name && d->forward && d->backward);
        if (!d->name) continue;
        CHECK(!is_listed(names, k, d->name));
        names[k] = d->name;
    }
    for (int k = 0; k < TK_INIT_COUNT; k++) CHECK(tk_init_names[k] && *tk_init_names[k]);
    for (int k = 0; k < TK_KERNELS_COUNT; k++) CHECK(tk_kernels_names[k] && *tk_kernels_names[k]);
    int count;
    const tk_model_entry *entries = tk_model_registry(&count);
    const char *models[64];
    CHECK(count > 0 && count <= TK_ARRAY_LEN(models));
    for (int i = 0; i < count && i < TK_ARRAY_LEN(models); i++) {
        const tk_model_entry *e = &entries[i];
        CHECK(e->name && e->description && e->build && e->default_input.C > 0);
        if (!e->name) continue;
        CHECK(!is_listed(models, i, e->name));
        models[i] = e->name;
        const tk_model_defaults *d = &e->defaults;
        CHECK(d->optim < TK_OPTIM_COUNT && d->lr > 0 && d->weight_decay >= 0 && d->batch > 0 && d->epochs > 0);
    }
}

static void test_lenet_300_100_three_sgd_steps(void) {
    golden *g = golden_open(GOLDEN);
    loaded l;
    if (load(g, &lenet, &l)) three_sgd_steps(g, &l);
    tk_model_free(l.m);
    golden_close(g);
}

/* Batch-norm running statistics after the steps, and eval-mode logits. */
static void check_resnet20_after_steps(const golden *g, tk_model *m) {
    double worst = 0;
    int n_bn = 0;
    for (int i = 0; i < m->n_ops; i++) {
        const tk_op *op = &m->ops[i];
        if (op->kind != TK_OP_BATCHNORM) continue;
        char name[64];
        snprintf(name, sizeof name, "%s", m->params[op->weight].name);
        *strrchr(name, '.') = 0; /* "blocks.0.bn1.weight" -> the module "blocks.0.bn1" */
        size_t C = (size_t)m->tensors[op->out].C, n_mean, n_var;
        const float *mean = get(g, "resnet20", "run_mean", name, &n_mean);
        const float *var = get(g, "resnet20", "run_var", name, &n_var);
        CHECK(n_mean == C && n_var == C);
        double e_mean = max_rel_error(m->state + op->run_mean, mean, C, max_abs(mean, C));
        double e_var = max_rel_error(m->state + op->run_var, var, C, fixed_floor);
        worst = e_mean > worst ? e_mean : worst;
        worst = e_var > worst ? e_var : worst;
        n_bn++;
    }
    printf("  resnet20 batch-norm running mean and var (%d layers): max rel error %.3g\n", n_bn, worst);
    CHECK(n_bn == 21);
    CHECK(worst <= tol);

    float *x = inputs(g, &resnet20, "eval");
    const float *logits = tk_model_forward(m, x, resnet20.batch, false, NULL);
    check_logits(logits, get(g, "resnet20", "eval_logits", NULL, NULL), &resnet20, "eval-mode logits after");
    free(x);
}

static void test_resnet20_three_sgd_steps(void) {
    golden *g = golden_open(GOLDEN);
    loaded l;
    if (load(g, &resnet20, &l)) {
        three_sgd_steps(g, &l);
        check_resnet20_after_steps(g, l.m);
    }
    tk_model_free(l.m);
    golden_close(g);
}

static void one_forward_backward(const model_case *c) {
    golden *g = golden_open(GOLDEN);
    loaded l;
    if (load(g, c, &l)) {
        float logits[MAX_BATCH * CLASSES];
        int32_t y[MAX_BATCH];
        float *x = inputs(g, c, "0");
        get_labels(g, c, 0, y);
        float loss = forward_backward(l.m, x, y, c->batch, logits);
        check_logits(logits, get(g, c->name, "logits", NULL, NULL), c, "logits");
        CHECK_NEAR(loss, get(g, c->name, "loss", NULL, NULL)[0], tol);
        CHECK(worst_tensor(g, &l, l.m->grad, "grad", FLOOR_GRADIENT, NULL) <= tol);
        free(x);
    }
    tk_model_free(l.m);
    golden_close(g);
}

static void test_conv2_gradients(void) { one_forward_backward(&conv2); }
/* VGG's modules are named by position in OpenLTH's nn.Sequential, max-pools
 * included (layers.0, 2, 4, 5, 7, 8, 10, 11 for VGG-11): the name check pins it. */
static void test_vgg11_gradients(void) { one_forward_backward(&vgg11); }
static void test_resnet18_gradients(void) { one_forward_backward(&resnet18); }

int main(void) {
    RUN(test_every_table_row_is_filled_in);
    RUN(test_lenet_300_100_three_sgd_steps);
    RUN(test_resnet20_three_sgd_steps);
    RUN(test_conv2_gradients);
    RUN(test_vgg11_gradients);
    RUN(test_resnet18_gradients);
    CHECK_MAIN_END();
}
