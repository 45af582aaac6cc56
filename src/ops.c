/* ops.c - the op table: for each kind of op, how it runs forward and
 * backward on the model's buffers, the scratch it needs for a batch, its
 * multiply-adds, its untrained state and whether it may run in place. The layers themselves (src/<layer>.c) are plain
 * functions over float* with explicit shapes; a row here binds one to the
 * model's tensors and parameters. */
#include "tk_model.h"
#include "tk_sparse.h"

#include <string.h>

static const float bn_momentum = 0.1f, bn_eps = 1e-5f;

static float *P(const tk_model *m, int index) { return index < 0 ? NULL : m->param + m->params[index].offset; }
static float *G(const tk_model *m, int index) { return index < 0 ? NULL : m->grad + m->params[index].offset; }
static size_t out_size(const tk_model *m, const tk_op *op, int B) {
    return tk_shape_size(m->tensors[op->out]) * (size_t)B;
}

static tk_conv2d_shape conv_shape(const tk_model *m, const tk_op *op, int B) {
    tk_shape in = m->tensors[op->in], out = m->tensors[op->out];
    tk_conv2d_shape s = {.B = B, .C = in.C, .H = in.H, .W = in.W, .K = out.C, .R = op->k, .S = op->k,
                         .stride = op->stride, .pad = op->pad};
    int ok = tk_conv2d_shape_init(&s);
    TK_ASSERT(ok == 0 && s.P == out.H && s.Q == out.W);
    return s;
}

/* ---- linear */

static void linear_forward(tk_model *m, const tk_op *op, int B, bool train, tk_rng *rng) {
    (void)train, (void)rng;
    const float *in = m->act[op->in];
    if (op->sparse)
        tk_sparse_linear_forward(m->act[op->out], in, P(m, op->weight), P(m, op->bias), B, op->sparse,
                                 m->sparse_work + op->sparse_work);
    else
        tk_linear_forward(m->act[op->out], in, P(m, op->weight), P(m, op->bias), B,
                          (int)tk_shape_size(m->tensors[op->in]), m->tensors[op->out].C);
}

static void linear_backward(tk_model *m, const tk_op *op, int B) {
    float *dx = m->dact[op->in];
    const float *in = m->act[op->in], *dy = m->dact[op->out];
    if (op->sparse)
        tk_sparse_linear_backward(dx, m->kept_grad + op->kept_offset, G(m, op->bias), dy, in, P(m, op->weight), B,
                                  op->sparse, m->sparse_work + op->sparse_work);
    else
        tk_linear_backward(dx, G(m, op->weight), G(m, op->bias), dy, in, P(m, op->weight), B,
                           (int)tk_shape_size(m->tensors[op->in]), m->tensors[op->out].C);
}

static double weight_macs(const tk_model *m, const tk_op *op) { return (double)m->params[op->weight].count; }

/* ---- conv2d */

static void conv_forward(tk_model *m, const tk_op *op, int B, bool train, tk_rng *rng) {
    (void)train, (void)rng;
    tk_conv2d_shape cs = conv_shape(m, op, B);
    if (op->sparse)
        tk_conv2d_sparse_forward(m->act[op->out], m->act[op->in], P(m, op->weight), P(m, op->bias), &cs, op->sparse,
                                 m->work);
    else
        tk_conv2d_forward(m->act[op->out], m->act[op->in], P(m, op->weight), P(m, op->bias), &cs, m->work);
}

static void conv_backward(tk_model *m, const tk_op *op, int B) {
    tk_conv2d_shape cs = conv_shape(m, op, B);
    if (op->sparse)
        tk_conv2d_sparse_backward(m->dact[op->in], m->kept_grad + op->kept_offset, G(m, op->bias), m->dact[op->out],
                                  m->act[op->in], P(m, op->weight), &cs, op->sparse, m->work);
    else
        tk_conv2d_backward(m->dact[op->in], G(m, op->weight), G(m, op->bias), m->dact[op->out], m->act[op->in],
                           P(m, op->weight), &cs, m->work);
}

static void conv_scratch(const tk_model *m, tk_op *op, int B, tk_op_scratch *need) {
    tk_conv2d_shape s = conv_shape(m, op, B);
    size_t w = op->sparse ? tk_conv2d_sparse_workspace(&s, op->sparse) : tk_conv2d_workspace(&s);
    if (w > need->work) need->work = w;
}

static double conv_macs(const tk_model *m, const tk_op *op) {
    return weight_macs(m, op) * (double)m->tensors[op->out].H * m->tensors[op->out].W;
}

/* ---- batchnorm */

static void bn_forward(tk_model *m, const tk_op *op, int B, bool train, tk_rng *rng) {
    (void)rng;
    tk_shape s = m->tensors[op->in];
    const float *in = m->act[op->in];
    float *out = m->act[op->out];
    if (train) {
        float *save = m->bn_save + op->scratch;
        tk_batchnorm_forward_train(out, save, save + s.C, m->state + op->run_mean, m->state + op->run_var, in,
                                   P(m, op->weight), P(m, op->bias), B, s.C, s.H * s.W, bn_momentum, bn_eps);
    } else {
        tk_batchnorm_forward_eval(out, in, P(m, op->weight), P(m, op->bias), m->state + op->run_mean,
                                  m->state + op->run_var, B, s.C, s.H * s.W, bn_eps);
    }
}

static void bn_backward(tk_model *m, const tk_op *op, int B) {
    tk_shape s = m->tensors[op->in];
    const float *save = m->bn_save + op->scratch;
    tk_batchnorm_backward(m->dact[op->in], G(m, op->weight), G(m, op->bias), m->dact[op->out], m->act[op->in],
                          P(m, op->weight), save, save + s.C, B, s.C, s.H * s.W);
}

static void bn_scratch(const tk_model *m, tk_op *op, int B, tk_op_scratch *need) {
    (void)B;
    op->scratch = need->bn, need->bn += 2 * (size_t)m->tensors[op->out].C;
}

/* Running mean 0 and variance 1, as PyTorch starts them. */
static void bn_reset_state(tk_model *m, const tk_op *op) {
    int C = m->tensors[op->in].C;
    for (int c = 0; c < C; c++) m->state[op->run_mean + (size_t)c] = 0.0f, m->state[op->run_var + (size_t)c] = 1.0f;
}

/* ---- relu */

static void relu_forward(tk_model *m, const tk_op *op, int B, bool train, tk_rng *rng) {
    (void)train, (void)rng;
    tk_relu_forward(m->act[op->out], m->act[op->in], out_size(m, op, B));
}

static void relu_backward(tk_model *m, const tk_op *op, int B) {
    tk_relu_backward(m->dact[op->in], m->dact[op->out], m->act[op->out], out_size(m, op, B));
}

/* ---- maxpool */

static void maxpool_forward(tk_model *m, const tk_op *op, int B, bool train, tk_rng *rng) {
    (void)train, (void)rng;
    tk_shape s = m->tensors[op->in];
    tk_maxpool_forward(m->act[op->out], m->argmax + op->scratch, m->act[op->in], B, s.C, s.H, s.W, op->k,
                       op->stride);
}

static void maxpool_backward(tk_model *m, const tk_op *op, int B) {
    tk_shape s = m->tensors[op->in];
    tk_maxpool_backward(m->dact[op->in], m->dact[op->out], m->argmax + op->scratch, B, s.C, s.H, s.W, op->k,
                        op->stride);
}

static void maxpool_scratch(const tk_model *m, tk_op *op, int B, tk_op_scratch *need) {
    op->scratch = need->argmax, need->argmax += out_size(m, op, B);
}

/* ---- avgpool */

static void avgpool_forward(tk_model *m, const tk_op *op, int B, bool train, tk_rng *rng) {
    (void)train, (void)rng;
    tk_shape s = m->tensors[op->in];
    tk_avgpool_forward(m->act[op->out], m->act[op->in], B, s.C, s.H, s.W, op->k);
}

static void avgpool_backward(tk_model *m, const tk_op *op, int B) {
    tk_shape s = m->tensors[op->in];
    tk_avgpool_backward(m->dact[op->in], m->dact[op->out], B, s.C, s.H, s.W, op->k);
}

/* ---- add (the residual join) */

static void add_forward(tk_model *m, const tk_op *op, int B, bool train, tk_rng *rng) {
    (void)train, (void)rng;
    tk_add_forward(m->act[op->out], m->act[op->in], m->act[op->in2], out_size(m, op, B));
}

static void add_backward(tk_model *m, const tk_op *op, int B) {
    tk_add_backward(m->dact[op->in], m->dact[op->in2], m->dact[op->out], out_size(m, op, B));
}

/* ---- dropout */

static void dropout_forward(tk_model *m, const tk_op *op, int B, bool train, tk_rng *rng) {
    size_t n = out_size(m, op, B);
    if (train && op->p > 0) {
        TK_ASSERT(rng);
        tk_dropout_forward(m->act[op->out], m->keep + op->scratch, m->act[op->in], n, op->p, rng);
    } else {
        memcpy(m->act[op->out], m->act[op->in], n * sizeof(float));
    }
}

static void dropout_backward(tk_model *m, const tk_op *op, int B) {
    float *dx = m->dact[op->in];
    size_t n = out_size(m, op, B);
    if (op->p > 0) tk_dropout_backward(dx, m->dact[op->out], m->keep + op->scratch, n, op->p);
    else if (dx) tk_add_backward(dx, NULL, m->dact[op->out], n);
}

static void dropout_scratch(const tk_model *m, tk_op *op, int B, tk_op_scratch *need) {
    op->scratch = need->keep, need->keep += out_size(m, op, B);
}

/* Every column named (clang's -Wmissing-field-initializers refuses a row that
 * mixes positions and names); those left out are NULL or false. */
const tk_op_def tk_ops[] = {
    [TK_OP_LINEAR] = {.name = "linear", .forward = linear_forward, .backward = linear_backward, .macs = weight_macs},
    [TK_OP_CONV2D] = {.name = "conv2d", .forward = conv_forward, .backward = conv_backward,
                        .scratch = conv_scratch, .macs = conv_macs},
    [TK_OP_BATCHNORM] = {.name = "batchnorm", .forward = bn_forward, .backward = bn_backward,
                        .scratch = bn_scratch, .reset_state = bn_reset_state},
    [TK_OP_RELU] = {.name = "relu", .forward = relu_forward, .backward = relu_backward,
                        .in_place = true, .backward_reads_output = true},
    [TK_OP_MAXPOOL] = {.name = "maxpool", .forward = maxpool_forward, .backward = maxpool_backward,
                        .scratch = maxpool_scratch},
    [TK_OP_AVGPOOL] = {.name = "avgpool", .forward = avgpool_forward, .backward = avgpool_backward},
    [TK_OP_ADD] = {.name = "add", .forward = add_forward, .backward = add_backward},
    [TK_OP_DROPOUT] = {.name = "dropout", .forward = dropout_forward, .backward = dropout_backward,
                        .scratch = dropout_scratch},
};
/* Counts the rows written above (the header leaves the size open); a row
 * missing in the middle is a NULL name, which tests/test_models_golden.c finds. */
_Static_assert(TK_ARRAY_LEN(tk_ops) == TK_OP_COUNT, "one row per op kind");
