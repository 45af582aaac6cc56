/* test_sparse.c - the sparse masked linear layer: within the float32 bound of
 * the exact masked product at every density, gradients only at kept weights,
 * accumulation, the same bits for every thread count; and end to end, finding
 * tickets with sparse kernels against dense ones. */
#define _GNU_SOURCE
#include <cblas.h>

#include "check.h"
#include "tk_common.h"
#include "tk_file.h"
#include "tk_find.h"
#include "tk_optim.h"
#include "tk_rng.h"
#include "tk_sparse.h"
#include "tk_ticket.h"

typedef struct layer_case {
    const char *name;
    int B, in, out;
    double density;
} layer_case;

/* Shapes with partial row and column spans (16) and batches that are not a
 * multiple of the 16 partial sums of dw; LeNet's first layer at the
 * densities of the benchmark; an empty layer. */
static const layer_case cases[] = {
    {"odd", 7, 37, 19, 0.5},           {"tall", 33, 5, 70, 0.3},        {"lenet_fc1_100", 60, 784, 300, 1.0},
    {"lenet_fc1_20", 60, 784, 300, 0.2}, {"lenet_fc1_5", 60, 784, 300, 0.05}, {"lenet_fc1_2", 60, 784, 300, 0.02},
    {"empty", 5, 9, 4, 0.0},
};

typedef struct layer {
    const layer_case *c;
    uint8_t *mask;
    float *x, *w, *b, *dy; /* w: pruned weights are 0, as the masking contract keeps them */
} layer;

static layer layer_for(const layer_case *c, uint64_t seed) {
    tk_rng rng;
    tk_rng_seed(&rng, seed, TK_STREAM_INIT);
    size_t nw = (size_t)c->in * c->out;
    layer l = {.c = c, .mask = malloc(nw + 1), .x = malloc(((size_t)c->B * c->in + 1) * sizeof(float)),
               .w = malloc((nw + 1) * sizeof(float)), .b = malloc(((size_t)c->out + 1) * sizeof(float)),
               .dy = malloc(((size_t)c->B * c->out + 1) * sizeof(float))};
    for (size_t i = 0; i < nw; i++) {
        l.mask[i] = tk_rng_uniform(&rng) < c->density;
        l.w[i] = l.mask[i] ? tk_rng_normal(&rng) : 0.0f;
    }
    for (size_t i = 0; i < (size_t)c->B * c->in; i++) l.x[i] = tk_rng_normal(&rng);
    for (int i = 0; i < c->out; i++) l.b[i] = tk_rng_normal(&rng);
    for (size_t i = 0; i < (size_t)c->B * c->out; i++) l.dy[i] = tk_rng_normal(&rng);
    return l;
}

static void free_layer(layer *l) { free(l->mask), free(l->x), free(l->w), free(l->b), free(l->dy); }

/* Outputs of one forward and one backward, dx and dw accumulated onto
 * starting values: dx onto 1, dw onto a sentinel that pruned positions,
 * which the packed gradients do not cover, keep. */
#define DW_START 7.0f
typedef struct outputs {
    float *y, *dx, *dw, *db;
} outputs;

static outputs run_sparse(const layer *l, int threads) {
    const layer_case *c = l->c;
    size_t nx = (size_t)c->B * c->in, ny = (size_t)c->B * c->out, nw = (size_t)c->in * c->out;
    outputs o = {malloc((ny + 1) * sizeof(float)), malloc((nx + 1) * sizeof(float)), malloc((nw + 1) * sizeof(float)),
                 calloc((size_t)c->out + 1, sizeof(float))};
    for (size_t i = 0; i < nx; i++) o.dx[i] = 1.0f;
    for (size_t i = 0; i < nw; i++) o.dw[i] = DW_START;
    tk_sparse_linear *s = tk_sparse_linear_create(l->mask, c->in, c->out);
    float *work = malloc((tk_sparse_linear_workspace(s, c->B) + 1) * sizeof(float));
    size_t kept = tk_sparse_linear_kept(s);
    float *packed = malloc((kept + 1) * sizeof(float));
    for (size_t q = 0; q < kept; q++) packed[q] = DW_START;
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(threads);
    tk_sparse_linear_forward(o.y, l->x, l->w, l->b, c->B, s, work);
    tk_sparse_linear_backward(o.dx, packed, o.db, l->dy, l->x, l->w, c->B, s, work);
    openblas_set_num_threads(saved);
    /* The packed gradients back at their places, in row-major order. */
    for (size_t i = 0, q = 0; i < nw; i++)
        if (l->mask[i]) o.dw[i] = packed[q++];
    free(packed);
    free(work);
    tk_sparse_linear_free(s);
    return o;
}

static void free_outputs(outputs *o) { free(o->y), free(o->dx), free(o->dw), free(o->db); }

static void test_matches_exact_masked_product(void) {
    for (int i = 0; i < TK_ARRAY_LEN(cases); i++) {
        const layer_case *c = &cases[i];
        layer l = layer_for(c, 10 + i);
        outputs o = run_sparse(&l, 1);
        size_t nx = (size_t)c->B * c->in, ny = (size_t)c->B * c->out, nw = (size_t)c->in * c->out;
        /* The exact answers in double; each value's terms and their magnitudes
         * (the starting value of an accumulated gradient counts as a term). */
        float *ey = malloc((ny + 1) * 4), *edx = malloc((nx + 1) * 4), *edw = malloc((nw + 1) * 4);
        double *my = calloc(ny + 1, 8), *mdx = calloc(nx + 1, 8), *mdw = calloc(nw + 1, 8);
        int *ty = calloc(ny + 1, 4), *tdx = calloc(nx + 1, 4), *tdw = calloc(nw + 1, 4);
        double *sy = calloc(ny + 1, 8), *sdx = calloc(nx + 1, 8), *sdw = calloc(nw + 1, 8);
        for (int b = 0; b < c->B; b++)
            for (int k = 0; k < c->out; k++) {
                size_t yi = (size_t)b * c->out + k;
                sy[yi] = l.b[k], my[yi] = fabs(l.b[k]), ty[yi] = 1;
                for (int j = 0; j < c->in; j++) {
                    size_t wi = (size_t)k * c->in + j, xi = (size_t)b * c->in + j;
                    if (!l.mask[wi]) continue;
                    double wx = (double)l.w[wi] * l.x[xi], wg = (double)l.w[wi] * l.dy[yi];
                    double gx = (double)l.dy[yi] * l.x[xi];
                    sy[yi] += wx, my[yi] += fabs(wx), ty[yi]++;
                    sdx[xi] += wg, mdx[xi] += fabs(wg), tdx[xi]++;
                    sdw[wi] += gx, mdw[wi] += fabs(gx), tdw[wi]++;
                }
            }
        int pruned_kept = 1;
        for (size_t i2 = 0; i2 < ny; i2++) ey[i2] = (float)sy[i2];
        for (size_t i2 = 0; i2 < nx; i2++) edx[i2] = (float)(sdx[i2] + 1), mdx[i2] += 1, tdx[i2]++;
        for (size_t i2 = 0; i2 < nw; i2++) {
            edw[i2] = (float)(sdw[i2] + DW_START), mdw[i2] += DW_START, tdw[i2]++;
            if (!l.mask[i2]) pruned_kept &= o.dw[i2] == DW_START;
        }
        double ry = float32_bound_ratio(o.y, ey, my, ty, ny), rdx = float32_bound_ratio(o.dx, edx, mdx, tdx, nx);
        double rdw = float32_bound_ratio(o.dw, edw, mdw, tdw, nw);
        if (ry > 1 || rdx > 1 || rdw > 1 || !pruned_kept)
            printf("  %s: error / float32 bound y %.2g dx %.2g dw %.2g; pruned dw untouched %d\n", c->name, ry, rdx,
                   rdw, pruned_kept);
        CHECK(ry <= 1);
        CHECK(rdx <= 1);
        CHECK(rdw <= 1);
        CHECK(pruned_kept);
        free(ey), free(edx), free(edw), free(my), free(mdx), free(mdw), free(ty), free(tdx), free(tdw);
        free(sy), free(sdx), free(sdw);
        free_outputs(&o), free_layer(&l);
    }
}

static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static void test_threads_do_not_change_bits(void) {
    for (int i = 0; i < TK_ARRAY_LEN(cases); i++) {
        const layer_case *c = &cases[i];
        layer l = layer_for(c, 20 + i);
        outputs one = run_sparse(&l, 1);
        for (int threads = 2; threads <= 3; threads++) {
            outputs o = run_sparse(&l, threads);
            int same = same_bits(o.y, one.y, (size_t)c->B * c->out) && same_bits(o.dx, one.dx, (size_t)c->B * c->in) &&
                       same_bits(o.dw, one.dw, (size_t)c->in * c->out) && same_bits(o.db, one.db, (size_t)c->out);
            if (!same) printf("  %s: %d threads differ from one\n", c->name, threads);
            CHECK(same);
            free_outputs(&o);
        }
        free_outputs(&one), free_layer(&l);
    }
}

static void test_kept_count(void) {
    const uint8_t mask[6] = {1, 0, 0, 1, 1, 0};
    tk_sparse_linear *s = tk_sparse_linear_create(mask, 3, 2);
    CHECK(tk_sparse_linear_kept(s) == 3);
    CHECK(tk_sparse_linear_workspace(s, 4) == 64 * (2 * 3 + 2)); /* the batch padded to 64 */
    tk_sparse_linear_free(s);
}

/* ---- packed optimizer: after two ordinary steps (so that its state is not
 * zero), a packed optimizer gives the same bits as a masked one, for every
 * kind, and its state reads back as the masked one's. */
#define OPT_N 300
#define OPT_MASKED 250

static void test_packed_optimizer_same_bits(void) {
    tk_optim_config cfgs[4] = {tk_optim_defaults(TK_OPTIM_SGD), tk_optim_defaults(TK_OPTIM_SGD),
                               tk_optim_defaults(TK_OPTIM_ADAM), tk_optim_defaults(TK_OPTIM_ADAMW)};
    cfgs[1].momentum = 0.9f, cfgs[1].nesterov = true, cfgs[1].weight_decay = 1e-2f, cfgs[2].weight_decay = 1e-3f;
    tk_rng rng;
    tk_rng_seed(&rng, 3, TK_STREAM_INIT);
    uint8_t mask[OPT_MASKED];
    float p0[OPT_N], grads[4][OPT_N];
    for (int i = 0; i < OPT_N; i++) {
        if (i < OPT_MASKED) mask[i] = tk_rng_uniform(&rng) < 0.1;
        p0[i] = i < OPT_MASKED && !mask[i] ? 0.0f : tk_rng_normal(&rng);
        for (int s = 0; s < 4; s++) grads[s][i] = tk_rng_normal(&rng);
    }
    for (int k = 0; k < 4; k++) {
        tk_optim *ref = tk_optim_create(&cfgs[k], OPT_N), *o = tk_optim_create(&cfgs[k], OPT_N);
        float pr[OPT_N], po[OPT_N], g[OPT_N], kept_grad[OPT_MASKED];
        memcpy(pr, p0, sizeof pr), memcpy(po, p0, sizeof po);
        for (int s = 0; s < 4; s++) {
            if (s == 2) tk_optim_pack(o, mask, OPT_MASKED);
            memcpy(g, grads[s], sizeof g);
            tk_optim_step(ref, pr, g, mask, OPT_MASKED, 0.05f);
            memcpy(g, grads[s], sizeof g);
            if (s < 2) {
                tk_optim_step(o, po, g, mask, OPT_MASKED, 0.05f);
                continue;
            }
            for (int i = 0, q = 0; i < OPT_MASKED; i++)
                if (mask[i]) kept_grad[q++] = g[i];
            tk_optim_step_packed(o, po, kept_grad, g, 0.05f);
        }
        int same = same_bits(pr, po, OPT_N);
        for (int moment = 0; moment < tk_optim_state_per_param(o); moment++) {
            float state[OPT_N];
            tk_optim_state(o, moment, state);
            same &= same_bits(state, moment ? ref->v : ref->m, OPT_N);
        }
        if (!same) printf("  %s (config %d): packed steps differ from masked ones\n", tk_optim_names[cfgs[k].kind], k);
        CHECK(same);
        tk_optim_free(ref), tk_optim_free(o);
    }
}

/* ---- end to end: LeNet at width 0.1 on 8x8 IDX data (fc1 [30,64], fc2
 * [10,30], fc3 [10,10]: 2320 prunable weights), pruned at rate 0.9 (levels
 * keep 100%, 10%, 1%), every layer dense or every layer sparse. */
#define PRUNABLE 2320
static const char *const find_spec =
    "{\"train\": {\"model\": \"lenet_300_100\", \"width\": 0.1, \"dataset\": \"mnist\", \"batch\": 30,"
    " \"length\": \"60it\", \"eval_every\": \"30it\", \"checkpoint_every\": \"30it\", \"threads\": 1, \"seed\": 5,"
    " \"kernels\": \"%s\"}, \"pruning\": {\"rate\": 0.9, \"levels\": 2}}";

typedef struct found {
    char dir[1200];
    tk_level_report level[3];
    int n;
} found;

static void collect_level(const tk_level_report *r, void *ctx) {
    found *f = ctx;
    if (f->n < 3) f->level[f->n] = *r;
    f->n++;
}

static found find_with(const char *kernels, const char *store) {
    char text[1024];
    snprintf(text, sizeof text, find_spec, kernels);
    tk_find_config c;
    tk_error err = {0};
    found f;
    memset(&f, 0, sizeof f);
    if (tk_find_config_from_json(text, "spec.json", &c, &err) ||
        tk_find_run(&c, store, TK_PROGRESS_NONE, collect_level, &f, f.dir, sizeof f.dir, &err))
        printf("  find with kernels %s: %s\n", kernels, err.msg);
    return f;
}

static bool read_mask(const char *run, int level, uint8_t *mask) {
    char *path;
    if (asprintf(&path, "%s/level_%02d/mask", run, level) < 0) abort();
    tk_error err = {0};
    bool ok = tk_mask_read(path, mask, PRUNABLE, &err) == 0;
    if (!ok) printf("  %s\n", err.msg);
    free(path);
    return ok;
}

static void test_find_sparse_agrees_with_dense(void) {
    char *root = test_tmpdir("sparse-find");
    write_idx_dataset(root, 600, 200, 8, 8, 10, 7);
    setenv("TICKET_DATA", root, 1);
    char *store_d = path_in(root, "dense"), *store_s = path_in(root, "sparse"), *store_s2 = path_in(root, "sparse2");
    found d = find_with("dense", store_d), sp = find_with("sparse", store_s), sp2 = find_with("sparse", store_s2);
    CHECK(d.n == 3 && sp.n == 3 && sp2.n == 3);
    uint8_t md[PRUNABLE], ms[PRUNABLE];
    for (int level = 0; level <= 2 && d.n == 3 && sp.n == 3; level++) {
        /* Each level's mask comes from the previous level's trained weights,
         * which agree within float32 rounding: a weight at the threshold may
         * fall either way, no more. */
        int same = PRUNABLE;
        if (level > 0) {
            CHECK(read_mask(d.dir, level, md) && read_mask(sp.dir, level, ms));
            same = 0;
            for (int i = 0; i < PRUNABLE; i++) same += md[i] == ms[i];
        }
        double acc_d = d.level[level].ticket.final_accuracy, acc_s = sp.level[level].ticket.final_accuracy;
        printf("  level %d: final accuracy dense %.4f, sparse %.4f; masks agree on %d of %d\n", level, acc_d, acc_s,
               same, PRUNABLE);
        CHECK(same >= PRUNABLE - 4);
        CHECK(fabs(acc_d - acc_s) <= 0.02);
    }
    /* The two really ran different kernels: level 0's weights differ in their last bits. */
    char *cd, *cs;
    if (asprintf(&cd, "%s/level_00/checkpoint", d.dir) < 0 || asprintf(&cs, "%s/level_00/checkpoint", sp.dir) < 0)
        abort();
    size_t nd = 0, ns = 0;
    char *bd = read_whole_file(cd, &nd), *bs = read_whole_file(cs, &ns);
    CHECK(bd && bs && nd == ns && memcmp(bd, bs, nd) != 0);
    free(bd), free(bs), free(cd), free(cs);
    /* The sparse path is as repeatable as the dense one: a second run, the same bits. */
    for (int level = 0; level <= 2 && sp.n == 3 && sp2.n == 3; level++) {
        char *x, *y;
        if (asprintf(&x, "%s/level_%02d/checkpoint", sp.dir, level) < 0 ||
            asprintf(&y, "%s/level_%02d/checkpoint", sp2.dir, level) < 0)
            abort();
        CHECK(same_bytes(x, y));
        free(x), free(y);
    }
    unsetenv("TICKET_DATA");
    rm_rf(root);
    free(root), free(store_d), free(store_s), free(store_s2);
}

static void test_bad_kernels_refused(void) {
    char text[1024];
    snprintf(text, sizeof text, find_spec, "fast");
    tk_find_config c;
    tk_error err = {0};
    CHECK(tk_find_config_from_json(text, "spec.json", &c, &err) != 0);
    CHECK_CONTAINS(err.msg, "spec.json");
    CHECK_CONTAINS(err.msg, "unknown kernels 'fast'");
    CHECK_CONTAINS(err.msg, "auto, dense, sparse");
}

int main(void) {
    RUN(test_find_sparse_agrees_with_dense); /* first: it forks, best before BLAS threads exist */
    RUN(test_bad_kernels_refused);
    RUN(test_kept_count);
    RUN(test_matches_exact_masked_product);
    RUN(test_threads_do_not_change_bits);
    RUN(test_packed_optimizer_same_bits);
    CHECK_MAIN_END();
}
