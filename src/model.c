/* model.c - the layer graph: building, arena layout, forward and backward.
 *
 * Ops run in the order they were added; backward runs them in reverse and
 * relies on every layer's backward ADDING into its input gradient, so a tensor
 * read by two ops (the input of a residual block) needs nothing special. */
#include "tk_model.h"
#include "tk_sparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const tk_init_names[] = {"zero", "one", "glorot_normal", "kaiming_normal_fan_in",
                                     "kaiming_normal_fan_out"};
_Static_assert(TK_ARRAY_LEN(tk_init_names) == TK_INIT_COUNT, "one name per init kind");

/* Grows an array held in (*items, *count, *cap) by one zeroed element. */
static void *push(void **items, int *count, int *cap, size_t size) {
    if (*count == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        void *grown = tk_realloc(*items, (size_t)*cap * size);
        *items = grown;
    }
    void *slot = (char *)*items + (size_t)(*count)++ * size;
    memset(slot, 0, size);
    return slot;
}

static int add_tensor(tk_model *m, tk_shape s) {
    *(tk_shape *)push((void **)&m->tensors, &m->n_tensors, &m->cap_tensors, sizeof(tk_shape)) = s;
    return m->n_tensors - 1;
}

static tk_op *add_op(tk_model *m, tk_op_kind kind, int in) {
    TK_ASSERT(in >= 0 && in < m->n_tensors);
    tk_op *op = push((void **)&m->ops, &m->n_ops, &m->cap_ops, sizeof(tk_op));
    op->kind = kind;
    op->in = in;
    op->in2 = -1;
    op->weight = op->bias = -1;
    return op;
}

static int add_param(tk_model *m, const char *layer, const char *suffix, tk_op_kind owner, int ndim,
                     const int *shape, bool prunable, tk_init_kind init, int fan_in, int fan_out) {
    tk_param *p = push((void **)&m->params, &m->n_param_tensors, &m->cap_param_tensors, sizeof(tk_param));
    snprintf(p->name, sizeof p->name, "%s.%s", layer, suffix);
    p->ndim = ndim;
    p->count = 1;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i], p->count *= (size_t)shape[i];
    p->prunable = prunable;
    p->layer = owner;
    p->init = init;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    return m->n_param_tensors - 1;
}

tk_model *tk_model_begin(const char *name, tk_shape input, int classes) {
    tk_model *m = tk_calloc(1, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->input = input;
    m->classes = classes;
    add_tensor(m, input);
    return m;
}

int tk_add_conv(tk_model *m, const char *name, int x, int out_channels, int k, int stride, int pad, bool bias,
                tk_init_kind init) {
    tk_shape in = m->tensors[x];
    tk_op *op = add_op(m, TK_OP_CONV2D, x);
    op->k = k, op->stride = stride, op->pad = pad;
    int wshape[4] = {out_channels, in.C, k, k};
    op->weight = add_param(m, name, "weight", TK_OP_CONV2D, 4, wshape, true, init, in.C * k * k,
                           out_channels * k * k);
    if (bias) op->bias = add_param(m, name, "bias", TK_OP_CONV2D, 1, &out_channels, false, TK_INIT_ZERO, 0, 0);
    /* A kernel larger than the padded input gives a zero or negative size here;
     * tk_model_finish reports it with the layer's name. */
    tk_shape out = {out_channels, (in.H + 2 * pad - k) / stride + 1, (in.W + 2 * pad - k) / stride + 1};
    if (in.H + 2 * pad < k || in.W + 2 * pad < k) out.H = out.W = 0;
    return op->out = add_tensor(m, out);
}

int tk_add_linear(tk_model *m, const char *name, int x, int out, bool bias, tk_init_kind init) {
    int in = (int)tk_shape_size(m->tensors[x]);
    tk_op *op = add_op(m, TK_OP_LINEAR, x);
    int wshape[2] = {out, in};
    op->weight = add_param(m, name, "weight", TK_OP_LINEAR, 2, wshape, true, init, in, out);
    if (bias) op->bias = add_param(m, name, "bias", TK_OP_LINEAR, 1, &out, false, TK_INIT_ZERO, 0, 0);
    return op->out = add_tensor(m, (tk_shape){out, 1, 1});
}

int tk_add_batchnorm(tk_model *m, const char *name, int x) {
    tk_shape s = m->tensors[x];
    tk_op *op = add_op(m, TK_OP_BATCHNORM, x);
    op->weight = add_param(m, name, "weight", TK_OP_BATCHNORM, 1, &s.C, false, TK_INIT_ONE, 0, 0);
    op->bias = add_param(m, name, "bias", TK_OP_BATCHNORM, 1, &s.C, false, TK_INIT_ZERO, 0, 0);
    op->run_mean = m->n_state;
    op->run_var = m->n_state + (size_t)s.C;
    m->n_state += 2 * (size_t)s.C;
    return op->out = add_tensor(m, s);
}

int tk_add_relu(tk_model *m, int x) {
    tk_op *op = add_op(m, TK_OP_RELU, x);
    return op->out = add_tensor(m, m->tensors[x]);
}

int tk_add_maxpool(tk_model *m, int x, int k, int stride) {
    tk_shape s = m->tensors[x];
    tk_op *op = add_op(m, TK_OP_MAXPOOL, x);
    op->k = k, op->stride = stride;
    tk_shape out = {s.C, s.H >= k ? (s.H - k) / stride + 1 : 0, s.W >= k ? (s.W - k) / stride + 1 : 0};
    return op->out = add_tensor(m, out);
}

int tk_add_avgpool(tk_model *m, int x, int k) {
    tk_shape s = m->tensors[x];
    tk_op *op = add_op(m, TK_OP_AVGPOOL, x);
    op->k = k;
    return op->out = add_tensor(m, (tk_shape){s.C, s.H / k, s.W / k});
}

int tk_add_residual(tk_model *m, int a, int b) {
    TK_ASSERT(tk_shape_size(m->tensors[a]) == tk_shape_size(m->tensors[b]));
    tk_op *op = add_op(m, TK_OP_ADD, a);
    op->in2 = b;
    return op->out = add_tensor(m, m->tensors[a]);
}

int tk_add_dropout(tk_model *m, int x, float p) {
    tk_op *op = add_op(m, TK_OP_DROPOUT, x);
    op->p = p;
    return op->out = add_tensor(m, m->tensors[x]);
}

static bool overlaps(size_t a0, size_t a1, size_t b0, size_t b1) { return a0 < b1 && b0 < a1; }

/* Lays out activations and gradients (per sample; see tk_model.h). */
static void plan_buffers(tk_model *m) {
    int n = m->n_tensors;
    int *producer = tk_malloc((size_t)n * sizeof(int)), *consumers = tk_calloc((size_t)n, sizeof(int));
    int *last_use = tk_malloc((size_t)n * sizeof(int)), *alias = tk_malloc((size_t)n * sizeof(int));
    for (int t = 0; t < n; t++) producer[t] = last_use[t] = -1, alias[t] = t;
    for (int i = 0; i < m->n_ops; i++) {
        const tk_op *op = &m->ops[i];
        producer[op->out] = i;
        consumers[op->in]++, last_use[op->in] = i;
        if (op->in2 >= 0) consumers[op->in2]++, last_use[op->in2] = i;
    }
    /* In place when nothing else reads the op's input, which is not the
     * caller's, and the input's producer does not need it for its backward. */
    for (int i = 0; i < m->n_ops; i++) {
        const tk_op *op = &m->ops[i];
        if (tk_ops[op->kind].in_place && op->in != 0 && consumers[op->in] == 1 &&
            !tk_ops[m->ops[producer[op->in]].kind].backward_reads_output)
            alias[op->out] = alias[op->in];
    }
    m->act_offset = tk_calloc((size_t)n, sizeof(size_t));
    m->grad_offset = tk_calloc((size_t)n, sizeof(size_t));
    m->grad_first_op = tk_malloc((size_t)n * sizeof(int));
    m->act_per_sample = 0;
    for (int t = 1; t < n; t++) {
        if (alias[t] != t) continue;
        m->act_offset[t] = m->act_per_sample;
        m->act_per_sample += tk_shape_size(m->tensors[t]);
    }
    for (int t = 1; t < n; t++) m->act_offset[t] = m->act_offset[alias[t]];
    /* A gradient lives from the backward of its last reader (the caller
     * writes the output's before backward starts) to the backward of its
     * producer. In backward order op i runs at step n_ops-1-i. Greedy first
     * fit by start, against every buffer placed so far whose life overlaps. */
    size_t *start = tk_malloc((size_t)n * sizeof(size_t)), *end = tk_malloc((size_t)n * sizeof(size_t));
    int *placed = tk_malloc((size_t)n * sizeof(int)), n_placed = 0;
    for (int t = 1; t < n; t++) {
        m->grad_first_op[t] = t == m->output ? -1 : last_use[t] >= 0 ? last_use[t] : producer[t];
        start[t] = t == m->output ? 0 : (size_t)(m->n_ops - m->grad_first_op[t]);
        end[t] = (size_t)(m->n_ops - producer[t]) + 1;
    }
    m->grad_per_sample = 0;
    for (int step = 0; step <= m->n_ops; step++)
        for (int t = 1; t < n; t++) {
            if (start[t] != (size_t)step) continue;
            size_t size = tk_shape_size(m->tensors[t]), at = 0;
            for (bool moved = true; moved;) {
                moved = false;
                for (int j = 0; j < n_placed; j++) {
                    int u = placed[j];
                    if (overlaps(start[t], end[t], start[u], end[u]) &&
                        overlaps(at, at + size, m->grad_offset[u], m->grad_offset[u] + tk_shape_size(m->tensors[u])))
                        at = m->grad_offset[u] + tk_shape_size(m->tensors[u]), moved = true;
                }
            }
            m->grad_offset[t] = at;
            placed[n_placed++] = t;
            if (at + size > m->grad_per_sample) m->grad_per_sample = at + size;
        }
    free(producer), free(consumers), free(last_use), free(alias), free(start), free(end), free(placed);
}

int tk_model_finish(tk_model *m, int output, tk_error *err) {
    for (int i = 0; i < m->n_ops; i++) {
        tk_shape s = m->tensors[m->ops[i].out];
        if (s.C <= 0 || s.H <= 0 || s.W <= 0)
            return tk_fail(err,
                           "model %s: input %dx%dx%d is too small: layer %d (%s) would have an empty output; "
                           "use a larger input (e.g. resize the data) or a shallower model",
                           m->name, m->input.C, m->input.H, m->input.W, i, tk_ops[m->ops[i].kind].name);
    }
    m->output = output;
    if (tk_shape_size(m->tensors[output]) != (size_t)m->classes)
        return tk_fail(err, "model %s: the output has %zu values, expected %d classes", m->name,
                       tk_shape_size(m->tensors[output]), m->classes);
    for (int i = m->n_ops - 1; i >= 0; i--)
        if (m->ops[i].kind == TK_OP_LINEAR) {
            m->params[m->ops[i].weight].is_output = true;
            if (m->ops[i].bias >= 0) m->params[m->ops[i].bias].is_output = true;
            break;
        }
    /* Prunable weights first, then everything else, each in build order. */
    size_t offset = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < m->n_param_tensors; i++) {
            tk_param *p = &m->params[i];
            if (p->prunable != (pass == 0)) continue;
            p->offset = offset;
            offset += p->count;
            if (pass == 0) m->n_prunable = offset;
        }
    m->n_params = offset;
    m->param = tk_alloc_aligned(m->n_params * sizeof(float));
    m->grad = tk_alloc_aligned(m->n_params * sizeof(float));
    m->state = tk_alloc_aligned((m->n_state ? m->n_state : 1) * sizeof(float));
    m->mask = tk_alloc_aligned(m->n_prunable ? m->n_prunable : 1);
    memset(m->mask, 1, m->n_prunable);
    plan_buffers(m);
    return 0;
}

const char *const tk_kernels_names[] = {"auto", "dense", "sparse"};
_Static_assert(TK_ARRAY_LEN(tk_kernels_names) == TK_KERNELS_COUNT, "one name per kernel choice");

/* The ops' scratch for m->batch samples (what is there is not kept). */
static void alloc_scratch(tk_model *m) {
    free(m->work), free(m->argmax), free(m->keep), free(m->bn_save);
    tk_op_scratch need = {0};
    for (int i = 0; i < m->n_ops; i++)
        if (tk_ops[m->ops[i].kind].scratch) tk_ops[m->ops[i].kind].scratch(m, &m->ops[i], m->batch, &need);
    m->work = tk_alloc_aligned((need.work ? need.work : 1) * sizeof(float));
    m->argmax = tk_alloc_aligned((need.argmax ? need.argmax : 1) * sizeof(int32_t));
    m->keep = tk_alloc_aligned(need.keep ? need.keep : 1);
    m->bn_save = tk_alloc_aligned((need.bn ? need.bn : 1) * sizeof(float));
}

/* Sizes m->sparse_work for the sparse layers at m->batch samples: a region
 * of its own for each, since the backward pass reads what the forward left. */
static void size_sparse_work(tk_model *m) {
    free(m->sparse_work);
    m->sparse_work = NULL;
    size_t need = 0;
    for (int i = 0; i < m->n_ops; i++)
        if (m->ops[i].sparse && m->ops[i].kind == TK_OP_LINEAR) {
            m->ops[i].sparse_work = need;
            need += tk_sparse_linear_workspace(m->ops[i].sparse, m->batch);
        }
    if (need) m->sparse_work = tk_alloc_aligned(need * sizeof(float));
}

int tk_model_use_kernels(tk_model *m, tk_kernels k, tk_optim *o) {
    int sparse = 0;
    size_t kept_before = 0, end_before = 0;
    for (int i = 0; i < m->n_ops; i++) {
        tk_op *op = &m->ops[i];
        tk_sparse_linear_free(op->sparse);
        op->sparse = NULL;
        const tk_param *w = op->weight >= 0 ? &m->params[op->weight] : NULL;
        if (!w || !w->prunable) continue;
        /* Ops add their weights in build order, which is the arena's. */
        TK_ASSERT(w->offset == end_before);
        end_before += w->count;
        const uint8_t *mask = m->mask + w->offset;
        size_t kept = 0;
        for (size_t j = 0; j < w->count; j++) kept += mask[j] != 0;
        op->kept_offset = kept_before;
        kept_before += kept;
        if (k == TK_KERNELS_DENSE || (k == TK_KERNELS_AUTO && (double)kept > TK_SPARSE_AUTO_DENSITY * (double)w->count))
            continue;
        if (op->kind == TK_OP_CONV2D)
            op->sparse = tk_sparse_conv_create(mask, w->shape[0], w->shape[1], w->shape[2], w->shape[3]);
        else
            op->sparse = tk_sparse_linear_create(mask, (int)(w->count / (size_t)w->shape[0]), w->shape[0]);
        sparse++;
    }
    size_sparse_work(m);
    if (m->batch) alloc_scratch(m); /* a sparse conv's scratch is not a dense one's */
    free(m->kept_grad);
    m->kept_grad = NULL;
    m->n_kept = kept_before;
    if (sparse) {
        m->kept_grad = tk_alloc_aligned((m->n_kept + 1) * sizeof(float));
        tk_optim_pack(o, m->mask, m->n_prunable);
    } else if (k != TK_KERNELS_DENSE) {
        tk_optim_skip_pruned(o, m->mask, m->n_prunable);
    }
    return sparse;
}

void tk_model_zero_grad(tk_model *m) {
    if (m->kept_grad) memset(m->kept_grad, 0, m->n_kept * sizeof(float));
    for (int i = 0; i < m->n_ops; i++) {
        const tk_op *op = &m->ops[i];
        int p[2] = {op->sparse ? -1 : op->weight, op->bias};
        for (int j = 0; j < 2; j++)
            if (p[j] >= 0) memset(m->grad + m->params[p[j]].offset, 0, m->params[p[j]].count * sizeof(float));
    }
}

/* With packed gradients, the kept weights' of the layers that ran dense:
 * a sparse layer wrote its own packed. */
static void pack_dense_grads(tk_model *m) {
    for (int i = 0; i < m->n_ops; i++) {
        const tk_op *op = &m->ops[i];
        if (op->sparse || op->weight < 0 || !m->params[op->weight].prunable) continue;
        const tk_param *w = &m->params[op->weight];
        float *out = m->kept_grad + op->kept_offset;
        for (size_t j = w->offset; j < w->offset + w->count; j++)
            if (m->mask[j]) *out++ = m->grad[j];
    }
}

void tk_model_add_l1(tk_model *m, float l1) {
    float *packed = m->kept_grad;
    for (size_t i = 0; i < m->n_prunable; i++) {
        float g = m->param[i] > 0 ? l1 : m->param[i] < 0 ? -l1 : 0.0f;
        if (!packed) m->grad[i] += g;
        else if (m->mask[i]) *packed++ += g;
    }
}

void tk_model_step(tk_model *m, tk_optim *o, float lr) {
    if (m->kept_grad) tk_optim_step_packed(o, m->param, m->kept_grad, m->grad, lr);
    else tk_optim_step(o, m->param, m->grad, m->mask, m->n_prunable, lr);
}

static void free_batch_buffers(tk_model *m) {
    free(m->act);
    free(m->dact);
    free(m->act_arena);
    free(m->dact_arena);
    free(m->work);
    free(m->argmax);
    free(m->keep);
    free(m->bn_save);
    m->act = m->dact = NULL;
    m->act_arena = m->dact_arena = m->work = m->bn_save = NULL;
    m->argmax = NULL;
    m->keep = NULL;
    m->batch = 0;
}

void tk_model_free(tk_model *m) {
    if (!m) return;
    free_batch_buffers(m);
    for (int i = 0; i < m->n_ops; i++) tk_sparse_linear_free(m->ops[i].sparse);
    free(m->sparse_work);
    free(m->kept_grad);
    free(m->params);
    free(m->ops);
    free(m->tensors);
    free(m->act_offset);
    free(m->grad_offset);
    free(m->grad_first_op);
    free(m->param);
    free(m->grad);
    free(m->state);
    free(m->mask);
    free(m);
}

void tk_model_set_batch(tk_model *m, int B) {
    if (B <= m->batch) return;
    free_batch_buffers(m);
    m->batch = B;
    m->act = tk_calloc((size_t)m->n_tensors, sizeof(float *));
    m->dact = tk_calloc((size_t)m->n_tensors, sizeof(float *));
    /* Tensor 0 (the input) is the caller's buffer; its gradient is never needed. */
    m->act_arena = tk_alloc_aligned(m->act_per_sample * (size_t)B * sizeof(float));
    m->dact_arena = tk_alloc_aligned(m->grad_per_sample * (size_t)B * sizeof(float));
    for (int t = 1; t < m->n_tensors; t++) {
        m->act[t] = m->act_arena + m->act_offset[t] * (size_t)B;
        m->dact[t] = m->dact_arena + m->grad_offset[t] * (size_t)B;
    }
    alloc_scratch(m);
    size_sparse_work(m);
}

const float *tk_model_forward(tk_model *m, const float *x, int B, bool train, tk_rng *dropout_rng) {
    TK_ASSERT(B > 0 && B <= m->batch);
    m->act[0] = (float *)x; /* read only: no op writes to tensor 0 */
    for (int i = 0; i < m->n_ops; i++) tk_ops[m->ops[i].kind].forward(m, &m->ops[i], B, train, dropout_rng);
    return m->act[m->output];
}

float *tk_model_output_grad(tk_model *m) { return m->dact[m->output]; }

static void zero_grad_if_first(tk_model *m, int t, int op, int B) {
    if (t > 0 && m->grad_first_op[t] == op)
        memset(m->dact[t], 0, tk_shape_size(m->tensors[t]) * (size_t)B * sizeof(float));
}

void tk_model_backward(tk_model *m, int B) {
    for (int i = m->n_ops - 1; i >= 0; i--) {
        const tk_op *op = &m->ops[i];
        zero_grad_if_first(m, op->in, i, B);
        if (op->in2 >= 0) zero_grad_if_first(m, op->in2, i, B);
        tk_ops[op->kind].backward(m, op, B);
    }
    if (m->kept_grad) pack_dense_grads(m);
}

void tk_model_apply_mask(tk_model *m) {
    for (size_t i = 0; i < m->n_prunable; i++)
        if (!m->mask[i]) m->param[i] = 0.0f;
}

void tk_model_mask_grad(tk_model *m) {
    for (size_t i = 0; i < m->n_prunable; i++)
        if (!m->mask[i]) m->grad[i] = 0.0f;
}

double tk_model_flops(const tk_model *m) {
    double flops = 0;
    for (int i = 0; i < m->n_ops; i++)
        if (tk_ops[m->ops[i].kind].macs) flops += 2 * tk_ops[m->ops[i].kind].macs(m, &m->ops[i]);
    return flops;
}

int tk_model_find_param(const tk_model *m, const char *name) {
    for (int i = 0; i < m->n_param_tensors; i++)
        if (!strcmp(m->params[i].name, name)) return i;
    return -1;
}

void tk_model_init(tk_model *m, tk_rng *rng) {
    for (int i = 0; i < m->n_param_tensors; i++) {
        const tk_param *p = &m->params[i];
        float *w = m->param + p->offset;
        double var = 0;
        switch (p->init) {
        case TK_INIT_ZERO: memset(w, 0, p->count * sizeof(float)); continue;
        case TK_INIT_ONE:
            for (size_t j = 0; j < p->count; j++) w[j] = 1.0f;
            continue;
        case TK_INIT_GLOROT_NORMAL: var = 2.0 / (p->fan_in + p->fan_out); break;
        case TK_INIT_KAIMING_NORMAL_FAN_IN: var = 2.0 / p->fan_in; break;
        case TK_INIT_KAIMING_NORMAL_FAN_OUT: var = 2.0 / p->fan_out; break;
        case TK_INIT_COUNT: TK_ASSERT(0);
        }
        float std = (float)sqrt(var);
        for (size_t j = 0; j < p->count; j++) w[j] = std * tk_rng_normal(rng);
    }
    for (int i = 0; i < m->n_ops; i++)
        if (tk_ops[m->ops[i].kind].reset_state) tk_ops[m->ops[i].kind].reset_state(m, &m->ops[i]);
    memset(m->mask, 1, m->n_prunable);
}
