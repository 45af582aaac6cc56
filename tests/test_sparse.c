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
#include "tk_layers.h"
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

/* ---- sparse conv2d against the exact masked convolution in double, as the
 * dense conv is tested: y, dx, and dw at every kept position. Shapes: a
 * conv4 layer's 3x3 "same" conv (planes of 64 pixels: one sample per
 * block), a strided one, a 1x1 strided shortcut, planes smaller than a
 * block (samples side by side, padded), a batch that leaves the last
 * block short, and an unpadded non-square kernel (dx, a conv by the flipped
 * kernel, then has planes larger than y's). */
typedef struct conv_case {
    const char *name;
    tk_conv2d_shape s;
    double density;
} conv_case;

static const conv_case conv_cases[] = {
    {"same_8x8", {.B = 3, .C = 5, .H = 8, .W = 8, .K = 7, .R = 3, .S = 3, .stride = 1, .pad = 1}, 0.3},
    {"stride2", {.B = 2, .C = 4, .H = 9, .W = 9, .K = 6, .R = 3, .S = 3, .stride = 2, .pad = 1}, 0.5},
    {"shortcut_1x1", {.B = 3, .C = 8, .H = 8, .W = 8, .K = 16, .R = 1, .S = 1, .stride = 2, .pad = 0}, 0.2},
    {"small_planes", {.B = 7, .C = 6, .H = 3, .W = 3, .K = 5, .R = 3, .S = 3, .stride = 1, .pad = 1}, 0.4},
    {"sparse_5", {.B = 2, .C = 16, .H = 8, .W = 8, .K = 32, .R = 3, .S = 3, .stride = 1, .pad = 1}, 0.05},
    {"valid_5x5", {.B = 3, .C = 4, .H = 10, .W = 9, .K = 6, .R = 5, .S = 3, .stride = 1, .pad = 0}, 0.3},
};

static void test_conv_matches_exact_masked_conv(void) {
    for (int ci = 0; ci < TK_ARRAY_LEN(conv_cases); ci++) {
        tk_conv2d_shape sh = conv_cases[ci].s;
        CHECK(tk_conv2d_shape_init(&sh) == 0);
        int B = sh.B, C = sh.C, H = sh.H, W = sh.W, K = sh.K, R = sh.R, S = sh.S, P = sh.P, Q = sh.Q;
        size_t nx = (size_t)B * C * H * W, ny = (size_t)B * K * P * Q, nw = (size_t)K * C * R * S;
        tk_rng rng;
        tk_rng_seed(&rng, 40 + ci, TK_STREAM_INIT);
        uint8_t *mask = malloc(nw);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)K * 4), *dy = malloc(ny * 4);
        for (size_t i = 0; i < nw; i++) mask[i] = tk_rng_uniform(&rng) < conv_cases[ci].density;
        for (size_t i = 0; i < nw; i++) w[i] = mask[i] ? tk_rng_normal(&rng) : 0.0f;
        for (size_t i = 0; i < nx; i++) x[i] = tk_rng_normal(&rng);
        for (int k = 0; k < K; k++) b[k] = tk_rng_normal(&rng);
        for (size_t i = 0; i < ny; i++) dy[i] = tk_rng_normal(&rng);
        tk_sparse_linear *sp = tk_sparse_conv_create(mask, K, C, R, S);
        size_t kept = tk_sparse_linear_kept(sp);
        float *work = malloc((tk_conv2d_sparse_workspace(&sh, sp) + 1) * 4);
        float *y = malloc(ny * 4), *dx = calloc(nx, 4), *dwp = calloc(kept + 1, 4), *db = calloc((size_t)K, 4);
        tk_conv2d_sparse_forward(y, x, w, b, &sh, sp, work);
        tk_conv2d_sparse_backward(dx, dwp, db, dy, x, w, &sh, sp, work);
        /* Exact values, magnitudes and term counts. */
        double *ey = calloc(ny, 8), *my = calloc(ny, 8), *edx = calloc(nx, 8), *mdx = calloc(nx, 8);
        double *edw = calloc(nw, 8), *mdw = calloc(nw, 8);
        int *ty = calloc(ny, 4), *tdx = calloc(nx, 4), *tdw = calloc(nw, 4);
        for (int n = 0; n < B; n++)
            for (int k = 0; k < K; k++)
                for (int p = 0; p < P; p++)
                    for (int q = 0; q < Q; q++) {
                        size_t yi = (((size_t)n * K + k) * P + p) * Q + q;
                        ey[yi] = b[k], my[yi] = fabs(b[k]), ty[yi] = 1;
                        for (int c = 0; c < C; c++)
                            for (int r = 0; r < R; r++)
                                for (int t = 0; t < S; t++) {
                                    int h = p * sh.stride - sh.pad + r, v = q * sh.stride - sh.pad + t;
                                    size_t wi = (((size_t)k * C + c) * R + r) * S + t;
                                    if (h < 0 || h >= H || v < 0 || v >= W || !mask[wi]) continue;
                                    size_t xi = (((size_t)n * C + c) * H + h) * W + v;
                                    double wx = (double)w[wi] * x[xi], wg = (double)w[wi] * dy[yi];
                                    double gx = (double)dy[yi] * x[xi];
                                    ey[yi] += wx, my[yi] += fabs(wx), ty[yi]++;
                                    edx[xi] += wg, mdx[xi] += fabs(wg), tdx[xi]++;
                                    edw[wi] += gx, mdw[wi] += fabs(gx), tdw[wi]++;
                                }
                    }
        float *fy = malloc(ny * 4), *fdx = malloc(nx * 4), *fdw = malloc(kept * 4 + 4), *dw_got = malloc(kept * 4 + 4);
        double *mdw_k = malloc(kept * 8 + 8);
        int *tdw_k = malloc(kept * 4 + 4);
        for (size_t i = 0; i < ny; i++) fy[i] = (float)ey[i];
        for (size_t i = 0; i < nx; i++) fdx[i] = (float)edx[i];
        for (size_t i = 0, q = 0; i < nw; i++)
            if (mask[i]) fdw[q] = (float)edw[i], mdw_k[q] = mdw[i], tdw_k[q] = tdw[i], dw_got[q] = dwp[q], q++;
        double ry = float32_bound_ratio(y, fy, my, ty, ny), rdx = float32_bound_ratio(dx, fdx, mdx, tdx, nx);
        double rdw = float32_bound_ratio(dw_got, fdw, mdw_k, tdw_k, kept);
        if (ry > 1 || rdx > 1 || rdw > 1)
            printf("  %s: error / float32 bound y %.2g dx %.2g dw %.2g\n", conv_cases[ci].name, ry, rdx, rdw);
        CHECK(ry <= 1);
        CHECK(rdx <= 1);
        CHECK(rdw <= 1);
        /* The dense conv of the masked weights, db included, agrees within the same bounds. */
        float *yd = malloc(ny * 4), *dxd = calloc(nx, 4), *dwd = calloc(nw, 4), *dbd = calloc((size_t)K, 4);
        float *wd = malloc((tk_conv2d_workspace(&sh) + 1) * 4);
        tk_conv2d_forward(yd, x, w, b, &sh, wd);
        tk_conv2d_backward(dxd, dwd, dbd, dy, x, w, &sh, wd);
        for (size_t i = 0, q = 0; i < nw; i++)
            if (mask[i]) dw_got[q++] = dwd[i];
        CHECK(float32_bound_ratio(yd, fy, my, ty, ny) <= 1 && float32_bound_ratio(dxd, fdx, mdx, tdx, nx) <= 1);
        CHECK(float32_bound_ratio(dw_got, fdw, mdw_k, tdw_k, kept) <= 1);
        CHECK(same_bits(db, dbd, (size_t)K));
        /* Threads take samples in turn, but every value is summed in one order. */
        float *y2 = malloc(ny * 4), *dx2 = calloc(nx, 4), *dwp2 = calloc(kept + 1, 4);
        int saved = openblas_get_num_threads();
        openblas_set_num_threads(3);
        tk_conv2d_sparse_forward(y2, x, w, b, &sh, sp, work);
        tk_conv2d_sparse_backward(dx2, dwp2, NULL, dy, x, w, &sh, sp, work);
        openblas_set_num_threads(saved);
        CHECK(same_bits(y, y2, ny) && same_bits(dx, dx2, nx) && same_bits(dwp, dwp2, kept));
        free(y2), free(dx2), free(dwp2), free(yd), free(dxd), free(dwd), free(dbd), free(wd);
        free(fy), free(fdx), free(fdw), free(dw_got), free(mdw_k), free(tdw_k);
        free(ey), free(my), free(edx), free(mdx), free(edw), free(mdw), free(ty), free(tdx), free(tdw);
        free(y), free(dx), free(dwp), free(db), free(work), free(mask), free(x), free(w), free(b), free(dy);
        tk_sparse_linear_free(sp);
    }
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

/* auto runs a layer sparse at TK_SPARSE_AUTO_DENSITY and below, per layer:
 * LeNet on 8x8 input with fc1 kept exactly at the threshold, fc2 one weight
 * above it, and the output layer dense. */
static void test_auto_picks_per_layer_at_threshold(void) {
    tk_model_config mc = {.name = "lenet_300_100", .input = {1, 8, 8}, .classes = 10, .width = 1};
    tk_error err = {0};
    tk_model *m = tk_model_create(&mc, &err);
    tk_rng rng;
    tk_rng_seed(&rng, 1, TK_STREAM_INIT);
    tk_model_init(m, &rng);
    tk_optim_config oc = tk_optim_defaults(TK_OPTIM_ADAM);
    tk_optim *o = tk_optim_create(&oc, m->n_params);
    int layer = 0;
    for (int i = 0; i < m->n_param_tensors; i++) {
        const tk_param *w = &m->params[i];
        if (!w->prunable) continue;
        size_t kept = layer == 2 ? w->count : (size_t)(TK_SPARSE_AUTO_DENSITY * (double)w->count) + (layer == 1);
        for (size_t j = 0; j < w->count; j++) m->mask[w->offset + j] = j < kept;
        layer++;
    }
    tk_model_apply_mask(m);
    CHECK(layer == 3);
    CHECK(tk_model_use_kernels(m, TK_KERNELS_AUTO, o) == 1);
    int sparse_ops[3] = {0}, seen = 0;
    for (int i = 0; i < m->n_ops; i++)
        if (m->ops[i].weight >= 0 && m->params[m->ops[i].weight].prunable) sparse_ops[seen++] = m->ops[i].sparse != NULL;
    CHECK(seen == 3 && sparse_ops[0] && !sparse_ops[1] && !sparse_ops[2]);
    CHECK(tk_model_use_kernels(m, TK_KERNELS_SPARSE, o) == 3);
    CHECK(tk_model_use_kernels(m, TK_KERNELS_DENSE, o) == 0);
    tk_optim_free(o);
    tk_model_free(m);
}

/* ---- end to end: a model pruned at rate 0.9 (levels keep 100%, 10%, 1%),
 * every layer dense or every layer sparse: LeNet at width 0.1 on 8x8 IDX
 * data (fc1 [30,64], fc2 [10,30], fc3 [10,10]: 2320 prunable weights), and
 * Conv-2 at width 0.1 on synthetic 3x8x8 images (two 3x3 convs of 6
 * channels, fc 25, 25, 10: 3918). */
static const char *const lenet_head = "\"model\": \"lenet_300_100\", \"width\": 0.1, \"dataset\": \"mnist\"";
static const char *const conv_head =
    "\"model\": \"conv2\", \"width\": 0.1, \"dataset\": \"synthetic:3,8,8,10,600,200,3\", \"optimizer\": \"adam\","
    " \"lr\": 0.01";
static const char *const find_spec =
    "{\"train\": {%s, \"batch\": 30,"
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

static found find_with(const char *head, const char *kernels, const char *store) {
    char text[1024];
    snprintf(text, sizeof text, find_spec, head, kernels);
    tk_find_config c;
    tk_error err = {0};
    found f;
    memset(&f, 0, sizeof f);
    if (tk_find_config_from_json(text, "spec.json", &c, &err) ||
        tk_find_run(&c, store, TK_PROGRESS_NONE, collect_level, &f, f.dir, sizeof f.dir, &err))
        printf("  find with kernels %s: %s\n", kernels, err.msg);
    return f;
}

static bool read_mask(const char *run, int level, uint8_t *mask, size_t prunable) {
    char *path;
    if (asprintf(&path, "%s/level_%02d/mask", run, level) < 0) abort();
    tk_error err = {0};
    bool ok = tk_mask_read(path, mask, prunable, &err) == 0;
    if (!ok) printf("  %s\n", err.msg);
    free(path);
    return ok;
}

static void check_find_agrees(const char *head, int prunable) {
    char *root = test_tmpdir("sparse-find");
    write_idx_dataset(root, 600, 200, 8, 8, 10, 7);
    setenv("TICKET_DATA", root, 1);
    char *store_d = path_in(root, "dense"), *store_s = path_in(root, "sparse"), *store_s2 = path_in(root, "sparse2");
    found d = find_with(head, "dense", store_d), sp = find_with(head, "sparse", store_s),
          sp2 = find_with(head, "sparse", store_s2);
    CHECK(d.n == 3 && sp.n == 3 && sp2.n == 3);
    uint8_t *md = malloc((size_t)prunable), *ms = malloc((size_t)prunable);
    for (int level = 0; level <= 2 && d.n == 3 && sp.n == 3; level++) {
        /* Each level's mask comes from the previous level's trained weights,
         * which agree within float32 rounding: a weight at the threshold may
         * fall either way, no more. */
        int same = prunable;
        if (level > 0) {
            CHECK(read_mask(d.dir, level, md, (size_t)prunable) && read_mask(sp.dir, level, ms, (size_t)prunable));
            same = 0;
            for (int i = 0; i < prunable; i++) same += md[i] == ms[i];
        }
        double acc_d = d.level[level].ticket.final_accuracy, acc_s = sp.level[level].ticket.final_accuracy;
        printf("  level %d: final accuracy dense %.4f, sparse %.4f; masks agree on %d of %d\n", level, acc_d, acc_s,
               same, prunable);
        CHECK(same >= prunable - 4);
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
    free(md), free(ms), free(root), free(store_d), free(store_s), free(store_s2);
}

static void test_find_sparse_agrees_with_dense(void) { check_find_agrees(lenet_head, 2320); }
static void test_find_sparse_conv_agrees_with_dense(void) { check_find_agrees(conv_head, 3918); }

static void test_bad_kernels_refused(void) {
    char text[1024];
    snprintf(text, sizeof text, find_spec, lenet_head, "fast");
    tk_find_config c;
    tk_error err = {0};
    CHECK(tk_find_config_from_json(text, "spec.json", &c, &err) != 0);
    CHECK_CONTAINS(err.msg, "spec.json");
    CHECK_CONTAINS(err.msg, "unknown kernels 'fast'");
    CHECK_CONTAINS(err.msg, "auto, dense, sparse");
}

int main(void) {
    RUN(test_find_sparse_agrees_with_dense); /* first: they fork, best before BLAS threads exist */
    RUN(test_find_sparse_conv_agrees_with_dense);
    RUN(test_bad_kernels_refused);
    RUN(test_kept_count);
    RUN(test_matches_exact_masked_product);
    RUN(test_threads_do_not_change_bits);
    RUN(test_packed_optimizer_same_bits);
    RUN(test_auto_picks_per_layer_at_threshold);
    RUN(test_conv_matches_exact_masked_conv);
    CHECK_MAIN_END();
}
