/* tk_model.h - a network as a small graph of layers over flat arenas.
 *
 * A model is built by a registry entry (src/models.c) through the tk_add_*
 * builder calls, then tk_model_finish() lays out the arenas:
 *   param[n_params]  every trainable value; prunable weights come FIRST, so
 *                    mask[i] <-> param[i] for i < n_prunable and global
 *                    pruning is one pass over one array;
 *   grad[n_params]   gradients, same layout;
 *   mask[n_prunable] 1 = kept, 0 = pruned;
 *   state[n_state]   non-trained state (batch-norm running mean and variance).
 * Activations and their gradients are sized once per batch size. Tensor 0 is
 * the input; a linear layer reads any tensor as flattened [B, C*H*W]. */
#ifndef TK_MODEL_H
#define TK_MODEL_H

#include "tk_common.h"
#include "tk_layers.h"
#include "tk_optim.h"
#include "tk_rng.h"

typedef enum tk_op_kind {
    TK_OP_LINEAR,
    TK_OP_CONV2D,
    TK_OP_BATCHNORM,
    TK_OP_RELU,
    TK_OP_MAXPOOL,
    TK_OP_AVGPOOL,
    TK_OP_ADD,
    TK_OP_DROPOUT,
    TK_OP_COUNT
} tk_op_kind;

typedef enum tk_init_kind {
    TK_INIT_ZERO,
    TK_INIT_ONE,
    TK_INIT_GLOROT_NORMAL,        /* N(0, 2/(fan_in+fan_out)) */
    TK_INIT_KAIMING_NORMAL_FAN_IN, /* N(0, 2/fan_in) */
    TK_INIT_KAIMING_NORMAL_FAN_OUT, /* N(0, 2/fan_out) */
    TK_INIT_COUNT
} tk_init_kind;
/* Name tables are declared without their size, so that the _Static_assert
 * beside each definition counts the names actually written there. */
extern const char *const tk_init_names[]; /* [TK_INIT_COUNT] */

typedef struct tk_param {
    char name[64];      /* PyTorch-style, e.g. "blocks.0.conv1.weight" */
    int ndim, shape[4];
    size_t offset, count; /* into param/grad (and mask when prunable) */
    bool prunable;      /* conv and linear weights; never biases or batch norm */
    bool is_output;     /* belongs to the output layer (the transfer "head") */
    tk_op_kind layer;   /* the op that owns it: TK_OP_CONV2D, TK_OP_LINEAR or TK_OP_BATCHNORM */
    int fan_in, fan_out;
    tk_init_kind init;
} tk_param;

typedef struct tk_shape {
    int C, H, W;
} tk_shape;
static inline size_t tk_shape_size(tk_shape s) { return (size_t)s.C * (size_t)s.H * (size_t)s.W; }

typedef struct tk_op {
    tk_op_kind kind;
    int in, in2, out;     /* tensor ids; in2 only for TK_OP_ADD */
    int weight, bias;     /* param indices or -1 (batch norm: gamma, beta) */
    size_t run_mean, run_var; /* batch norm: offsets into state */
    int k, stride, pad;   /* conv kernel / pool window */
    float p;              /* dropout probability */
    size_t scratch;       /* per-sample offset into the op's scratch (argmax, keep, bn save) */
    struct tk_sparse_linear *sparse; /* linear, conv: its kept weights, when it runs sparse (tk_model_use_kernels) */
    size_t sparse_work;   /* linear: its offset into the model's sparse_work */
    size_t kept_offset;   /* with packed gradients: where its weight's kept ones start in kept_grad */
} tk_op;

typedef struct tk_model {
    char name[32];
    tk_shape input;
    int classes;

    tk_param *params;
    int n_param_tensors, cap_param_tensors;
    size_t n_params, n_prunable, n_state;
    float *param, *grad, *state;
    uint8_t *mask;

    tk_op *ops;
    int n_ops, cap_ops;
    tk_shape *tensors;
    int n_tensors, cap_tensors, output;

    /* Buffer plan, per sample (tk_model_finish): where each tensor's values and
     * gradient live in their arenas. A ReLU whose input feeds nothing else
     * runs in place; gradient buffers whose lifetimes in the backward pass do
     * not overlap share memory. grad_first_op[t] is the op whose backward
     * first writes t's gradient (it is zeroed just before). */
    size_t *act_offset, *grad_offset;
    int *grad_first_op;
    size_t act_per_sample, grad_per_sample;

    /* per-batch buffers (tk_model_set_batch) */
    int batch;
    float **act, **dact;  /* [n_tensors] pointers into one arena each */
    float *act_arena, *dact_arena;
    float *work;          /* conv scratch */
    int32_t *argmax;      /* max-pool indices, all pools */
    uint8_t *keep;        /* dropout draws, all dropouts */
    float *bn_save;       /* batch-norm mean/invstd, all batch norms */
    float *sparse_work;   /* each sparse layer's scratch, for `batch` samples, kept from forward to backward */
    /* When a layer runs sparse: the gradients of all kept prunable weights,
     * packed in increasing index (the masked part of grad is then unused);
     * else NULL. */
    float *kept_grad;
    size_t n_kept;
} tk_model;

/* ---- the op table (src/ops.c): one row per tk_op_kind; the model decides
 * nothing by kind that a row can say. Adding an op: its layer functions
 * (src/<op>.c, declared in tk_layers.h), a tk_op_kind, its row, and a
 * tk_add_<op> that builds it (src/model.c). */
typedef struct tk_op_scratch {
    size_t work;   /* floats shared by every op in turn (the largest need) */
    size_t argmax, keep, bn; /* summed: each op gets its own range (tk_op.scratch) */
} tk_op_scratch;

typedef struct tk_op_def {
    const char *name;
    void (*forward)(tk_model *m, const tk_op *op, int B, bool train, tk_rng *dropout_rng);
    /* ADDS into the input gradients (zeroed by the model first where needed). */
    void (*backward)(tk_model *m, const tk_op *op, int B);
    /* Claims its scratch for a batch of B; NULL: needs none. */
    void (*scratch)(const tk_model *m, tk_op *op, int B, tk_op_scratch *need);
    /* Multiply-adds per sample; NULL: none worth counting. */
    double (*macs)(const tk_model *m, const tk_op *op);
    /* Sets its part of m->state to the untrained values; NULL: it has none. */
    void (*reset_state)(tk_model *m, const tk_op *op);
    /* Its output may take its input's buffer when nothing else reads that
     * input: forward reads each input value only before writing the output
     * value at the same place, and backward does not read the input. */
    bool in_place;
    /* Its backward reads its own output, which an in-place op after it would
     * overwrite. */
    bool backward_reads_output;
} tk_op_def;
extern const tk_op_def tk_ops[]; /* [TK_OP_COUNT] */

/* Which kernels the masked layers run on. `dense` multiplies every weight,
 * pruned ones (zero) included; `sparse` reads only the kept weights of a
 * prunable linear or conv layer (tk_sparse.h); `auto` picks sparse for a layer
 * whose density is at most TK_SPARSE_AUTO_DENSITY, where it is faster here (see
 * README: ticket bench --density). Both keep the masking contract and agree
 * within float32 rounding; each gives the same bits run after run. */
typedef enum tk_kernels { TK_KERNELS_AUTO, TK_KERNELS_DENSE, TK_KERNELS_SPARSE, TK_KERNELS_COUNT } tk_kernels;
extern const char *const tk_kernels_names[]; /* [TK_KERNELS_COUNT] */
/* Measured with every layer sparse against every layer dense (ticket bench
 * --density, 1 thread, training) on an Intel Xeon with OpenBLAS's SkylakeX
 * kernels: at 30% lenet_300_100 b60 1.22x, conv4 b60 1.17x, resnet20 b128
 * 1.36x; at 36% lenet 1.03x, conv4 0.94x. Per layer, LeNet's 784x300 and
 * 300x100 break even near 33% and 38%. On a Zen 5 with OpenBLAS held to AVX2
 * sparse wins more (1.71x, 1.44x, 1.66x at 30%); a constant, not a run-time
 * measurement, so that auto chooses alike on every machine. */
#define TK_SPARSE_AUTO_DENSITY 0.3

/* ---- building (used by registry entries) */
tk_model *tk_model_begin(const char *name, tk_shape input, int classes);
/* Each returns the id of its output tensor. `name` prefixes the parameter names. */
int tk_add_conv(tk_model *m, const char *name, int x, int out_channels, int k, int stride, int pad, bool bias,
                tk_init_kind init);
int tk_add_linear(tk_model *m, const char *name, int x, int out, bool bias, tk_init_kind init);
int tk_add_batchnorm(tk_model *m, const char *name, int x);
int tk_add_relu(tk_model *m, int x);
int tk_add_maxpool(tk_model *m, int x, int k, int stride);
int tk_add_avgpool(tk_model *m, int x, int k);
int tk_add_residual(tk_model *m, int a, int b);
int tk_add_dropout(tk_model *m, int x, float p);
/* Marks `output` as the logits, flags the last linear layer as the output
 * layer, lays out the arenas and allocates them. Returns 0 or -1 with err set
 * (e.g. an input too small for the model's pools). */
int tk_model_finish(tk_model *m, int output, tk_error *err);

/* ---- registry */
typedef struct tk_model_config {
    const char *name; /* registry name, e.g. "resnet20" */
    tk_shape input;
    int classes;
    float width;      /* channel/width multiplier; 1 = the published network */
} tk_model_config;

/* The training a model gets unless told otherwise (tk_train_defaults). */
typedef struct tk_model_defaults {
    tk_optim_kind optim;
    float lr, weight_decay;
    int batch, epochs;
} tk_model_defaults;

typedef struct tk_model_entry {
    const char *name;
    const char *description;
    tk_shape default_input;
    /* Adds the layers; returns the logits tensor id. */
    int (*build)(tk_model *m, float width);
    tk_model_defaults defaults;
} tk_model_entry;

const tk_model_entry *tk_model_registry(int *count);
/* NULL when no entry has this name. */
const tk_model_entry *tk_model_find(const char *name);
/* The same, with a "did you mean" error when there is none. */
const tk_model_entry *tk_model_lookup(const char *name, tk_error *err);
/* The most classes a model may have (a dataset's limit too: TK_MAX_CLASSES). */
#define TK_MODEL_MAX_CLASSES (1 << 20)
/* Builds a registry model; unknown names get a "did you mean" error. */
tk_model *tk_model_create(const tk_model_config *cfg, tk_error *err);
void tk_model_free(tk_model *m);

/* ---- use */
/* Fresh parameters from the init stream; batch norm gamma=1, beta=0, running
 * mean 0, var 1; mask all ones. */
void tk_model_init(tk_model *m, tk_rng *init_rng);
/* Sizes the activation buffers for batches of up to B samples. */
void tk_model_set_batch(tk_model *m, int B);
/* x[B, C*H*W] -> logits (returned, [B, classes]). `train` selects batch
 * statistics and dropout (drawn from dropout_rng, which may be NULL when the
 * model has no dropout or train is false). */
const float *tk_model_forward(tk_model *m, const float *x, int B, bool train, tk_rng *dropout_rng);
/* The buffer the caller fills with d(loss)/d(logits) before tk_model_backward. */
float *tk_model_output_grad(tk_model *m);
/* Zeroes the gradients the next backward pass accumulates into. */
void tk_model_zero_grad(tk_model *m);
/* Accumulates parameter gradients into m->grad, and into m->kept_grad
 * when it is packed (the caller zeroes them). */
void tk_model_backward(tk_model *m, int B);
/* Adds the L1 penalty's gradient l1 * sign(w) to every prunable weight's. */
void tk_model_add_l1(tk_model *m, float l1);
/* One optimizer step of lr on the gradients, in whichever layout
 * tk_model_use_kernels chose; the masking contract holds after it. */
void tk_model_step(tk_model *m, tk_optim *o, float lr);
/* Chooses each prunable layer's kernels from the current mask, which must
 * not change until the next call (a training run keeps its mask), and sets
 * up `o` to match: with a sparse layer, gradients and optimizer state of the
 * kept weights are packed (tk_optim_pack); with `auto` or `sparse` and none,
 * the optimizer still skips pruned weights (tk_optim_skip_pruned).
 * Returns how many layers run sparse. */
int tk_model_use_kernels(tk_model *m, tk_kernels k, tk_optim *o);
/* param[i] = 0 where mask[i] == 0. */
void tk_model_apply_mask(tk_model *m);
/* grad[i] = 0 where mask[i] == 0. */
void tk_model_mask_grad(tk_model *m);
/* Forward multiply-adds x 2 of conv and linear layers, per sample (the
 * convention of the PyTorch reference benchmark). */
double tk_model_flops(const tk_model *m);
int tk_model_find_param(const tk_model *m, const char *name);

#endif
