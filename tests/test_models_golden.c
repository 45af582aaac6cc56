/* test_models_golden.c - whole registry models against PyTorch (fixture:
 * tests/golden/gen_models.py): three SGD-with-momentum steps of lenet_300_100
 * and resnet20 (logits, loss of each step, every parameter afterwards,
 * batch-norm running statistics, eval-mode logits), and one forward and
 * backward of conv2, vgg11 and resnet18 (logits, loss, every gradient), so
 * each architecture family of the registry is covered.
 *
 * The fixture holds no initial parameters or inputs: both sides compute them
 * with one exact float32 formula (fill below, uniform() in the generator), so
 * it only carries the references. Parameters are matched by their PyTorch
 * names, which is what makes exported tickets line up with PyTorch models. */
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
static const model_case resnet20 = {"resnet20", {3, 32, 32}, 1.0f, 4};
static const model_case conv2 = {"conv2", {3, 32, 32}, 0.125f, 4};
static const model_case vgg11 = {"vgg11", {3, 32, 32}, 0.0625f, 4};
static const model_case resnet18 = {"resnet18", {3, 64, 64}, 0.0625f, 4};

static const float lr = 0.05f, momentum = 0.9f, weight_decay = 5e-4f;
/* The acceptance bound: max relative error with a floor of 1e-3 (CHECK_NEAR
 * for scalars: relative above 1, absolute below). */
static const double tol = 1e-4, rel_floor = 1e-3;
/* Gradients are compared with a floor of this fraction of the tensor's
 * largest reference gradient: their scale differs by orders of magnitude
 * between tensors, and tiny entries are mostly rounding of cancelling sums. */
static const double grad_floor = 1e-3;

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

/* Builds the model and copies the fixture's initial parameters in by name.
 * A name the model lacks fails the check; loading then goes on by position
 * (registry entries add layers in PyTorch's module order) so that the
 * numerical checks still say whether the network itself is right. */
static bool load(const golden *g, const model_case *c, loaded *l) {
    tk_error err = {{0}};
    tk_model_config cfg = {.name = c->name, .input = c->input, .classes = CLASSES, .width = c->width};
    l->c = c;
    l->m = tk_model_create(&cfg, &err);
    if (!l->m) printf("  %s: %s\n", c->name, err.msg);
    CHECK(l->m != NULL);
    if (!l->m) return false;
    tk_model *m = l->m;
    tk_rng rng;
    tk_rng_seed(&rng, 1, TK_STREAM_INIT);
    tk_model_init(m, &rng); /* running mean 0, variance 1, as in PyTorch */
    l->n = decode_names(g, c->name, l->names);
    if (m->n_param_tensors != l->n)
        printf("  %s: %d parameter tensors, PyTorch has %d\n", c->name, m->n_param_tensors, l->n);
    CHECK(m->n_param_tensors == l->n);
    size_t total = 0;
    for (int i = 0; i < l->n; i++) {
        int p = tk_model_find_param(m, l->names[i]);
        if (p < 0) {
            printf("  %s: no parameter named %s (PyTorch's name); %s by position\n", c->name, l->names[i],
                   i < m->n_param_tensors ? m->params[i].name : "none");
            CHECK(p >= 0);
            if (i >= m->n_param_tensors) return false;
            p = i;
        }
        l->index[i] = p;
        const tk_param *q = &m->params[p];
        size_t ndim;
        const float *shape = get(g, c->name, "shape", l->names[i], &ndim);
        bool same = q->ndim == (int)ndim;
        for (size_t d = 0; same && d < ndim; d++) same = q->shape[d] == (int)shape[d];
        if (!same) printf("  %s: %s has the wrong shape\n", c->name, l->names[i]);
        CHECK(same);
        if (!same) return false;
        size_t n_init;
        const float *init = get(g, c->name, "init", l->names[i], &n_init);
        if (n_init == q->count) {
            memcpy(m->param + q->offset, init, q->count * sizeof(float));
        } else {
            TK_ASSERT(n_init == 2);
            char key[128];
            snprintf(key, sizeof key, "%s/%s", c->name, l->names[i]);
            fill(m->param + q->offset, q->count, key, init[0], init[1]);
        }
        total += q->count;
    }
    CHECK(total == m->n_params);
    tk_model_set_batch(m, c->batch);
    return total == m->n_params;
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

static void get_labels(const golden *g, const model_case *c, int step, int32_t *y) {
    size_t n;
    const float *labels = get(g, c->name, "labels", NULL, &n);
    TK_ASSERT(n >= (size_t)(step + 1) * c->batch);
    for (int i = 0; i < c->batch; i++) y[i] = (int32_t)labels[step * c->batch + i];
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* Worst max_rel_error over all parameter tensors between `values` (the
 * param or grad arena) and the fixture's model/what/NAME; the floor is
 * `floor`, or with relative_floor that fraction of each reference tensor's
 * largest magnitude. Prints the worst and where it is. */
static double worst_tensor(const golden *g, const loaded *l, const float *values, const char *what, double floor,
                           bool relative_floor) {
    double worst = 0;
    const char *where = "";
    for (int i = 0; i < l->n; i++) {
        const tk_param *q = &l->m->params[l->index[i]];
        size_t n;
        const float *ref = get(g, l->c->name, what, l->names[i], &n);
        TK_ASSERT(n == q->count);
        double f = relative_floor ? floor * max_abs(ref, n) : floor;
        double e = max_rel_error(values + q->offset, ref, n, f > 0 ? f : 1e-30);
        if (!(e <= worst)) worst = e, where = l->names[i];
    }
    printf("  %s %s: max rel error %.3g (%s)\n", l->c->name, what, worst, where);
    return worst;
}

static void check_logits(const float *logits, const float *ref, const model_case *c, const char *what) {
    double e = max_rel_error(logits, ref, (size_t)c->batch * CLASSES, rel_floor);
    printf("  %s %s: max rel error %.3g\n", c->name, what, e);
    CHECK(e <= tol);
}

/* Three steps of SGD (momentum, weight decay) with every weight kept. */
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
    CHECK(worst_tensor(g, l, m->param, "final", rel_floor, false) <= tol);
    tk_optim_free(o);
}

static void test_lenet_300_100_three_sgd_steps(void) {
    golden *g = golden_open(GOLDEN);
    loaded l;
    if (load(g, &lenet, &l)) three_sgd_steps(g, &l);
    tk_model_free(l.m);
    golden_close(g);
}

static void test_resnet20_three_sgd_steps(void) {
    golden *g = golden_open(GOLDEN);
    loaded l;
    if (load(g, &resnet20, &l)) {
        tk_model *m = l.m;
        three_sgd_steps(g, &l);

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
            double e_mean = max_rel_error(m->state + op->run_mean, mean, C, rel_floor);
            double e_var = max_rel_error(m->state + op->run_var, var, C, rel_floor);
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
        CHECK(worst_tensor(g, &l, l.m->grad, "grad", grad_floor, true) <= tol);
        free(x);
    }
    tk_model_free(l.m);
    golden_close(g);
}

static void test_conv2_gradients(void) { one_forward_backward(&conv2); }
static void test_vgg11_gradients(void) { one_forward_backward(&vgg11); }
static void test_resnet18_gradients(void) { one_forward_backward(&resnet18); }

int main(void) {
    RUN(test_lenet_300_100_three_sgd_steps);
    RUN(test_resnet20_three_sgd_steps);
    RUN(test_conv2_gradients);
    RUN(test_vgg11_gradients);
    RUN(test_resnet18_gradients);
    CHECK_MAIN_END();
}
