/* tk_train.h - the trainer: one network trained on one dataset, with
 * evaluation, metrics, checkpoints and bit-identical resume.
 *
 * A run lives in a directory: config.json (the hyper-parameters), checkpoint
 * (the whole training state, rewritten atomically), metrics.jsonl (one line
 * per evaluation) and summary.json (final and best accuracy, when finished).
 * Everything random comes from tk_rng streams derived from one seed, and the
 * checkpoint holds their state, so a run resumed from any checkpoint ends with
 * the same bits as one that never stopped. */
#ifndef TK_TRAIN_H
#define TK_TRAIN_H

#include "tk_data.h"
#include "tk_json.h"
#include "tk_model.h"
#include "tk_optim.h"

/* Seeds go through config.json as numbers, which cJSON prints with 15
 * significant digits: larger seeds would come back as other seeds. */
#define TK_MAX_SEED 999999999999999ull

typedef struct tk_train_config {
    char model[32];
    float width;
    char dataset[256];
    tk_optim_config optim;
    tk_schedule_kind schedule;
    tk_duration milestones[16];
    int n_milestones;
    float gamma;
    tk_duration warmup;
    int batch;
    tk_duration length;
    tk_duration eval_every;
    tk_duration checkpoint_every;
    int val_size;   /* training examples held out for validation (0: none) */
    float l1;       /* L1 penalty on the prunable weights: grad += l1 * sign(w) (the l1 control) */
    /* Data preparation, in this order: keep only `classes` (relabelled in
     * list order; train and test), subsample the training split to
     * `subset_total` examples in class proportion or `subset_per_class` per
     * class (the same examples for every seed), adapt both splits to `input`
     * (C x H x W; 0: the data's own shape), and augment training batches. */
    int32_t classes[64];
    int n_classes;
    int subset_total, subset_per_class;
    tk_shape input;
    int augment_pad;     /* random crop after this much zero padding */
    bool augment_flip;   /* random horizontal flip */
    uint64_t seed;
    int threads;
    tk_kernels kernels; /* the masked layers' kernels (tk_model.h); auto by default */
} tk_train_config;

/* The documented defaults for a model (Frankle & Carbin's for LeNet and
 * Conv-x, OpenLTH's for VGG and ResNet); fails for an unknown model. */
int tk_train_defaults(const char *model, tk_train_config *cfg, tk_error *err);
/* Checks ranges (lr > 0, batch >= 1, ...) naming the offending option. */
int tk_train_validate(const tk_train_config *cfg, tk_error *err);

/* config.json round trip. Every key is written; reading rejects unknown keys
 * (with the nearest valid one) and wrong types, naming the file. */
char *tk_train_config_to_json(const tk_train_config *cfg);
int tk_train_config_from_json(const char *text, const char *path, tk_train_config *cfg, tk_error *err);
/* The same from an object already parsed, at `at` (a find specification's "train"). */
int tk_train_config_read(const tk_json_at *at, const cJSON *obj, tk_train_config *cfg, tk_error *err);

typedef struct tk_train_result {
    int64_t iterations;
    float final_accuracy, final_loss;
    float best_accuracy;
    int64_t best_iteration;
    int64_t early_stop_iteration; /* minimum validation loss; -1 without validation */
    double seconds, samples_per_second;
} tk_train_result;

/* The network a run with this configuration trains (the dataset is read and
 * prepared, as the trainer does, to learn its shape and classes). */
tk_model *tk_train_create_model(const tk_train_config *cfg, tk_error *err);

/* Reads a finished run's summary.json. */
int tk_train_read_summary(const char *path, tk_train_result *r, tk_error *err);

typedef enum tk_progress { TK_PROGRESS_NONE, TK_PROGRESS_LINES, TK_PROGRESS_BAR } tk_progress;

/* Trains in `dir`: starts fresh when dir has no checkpoint, otherwise resumes
 * (after checking that dir/config.json matches cfg). A finished run returns
 * its stored result without training. */
int tk_train_run(const tk_train_config *cfg, const char *dir, tk_progress progress, tk_train_result *result,
                 tk_error *err);

/* How a run begins when its directory holds no checkpoint yet: what the
 * pruning pipeline needs to rewind, mask and re-initialize. */
typedef struct tk_train_start {
    /* A checkpoint (a rewind snapshot) whose weights, batch-norm state, step,
     * random streams and epoch order the run starts from. Its optimizer state
     * is not kept: a fresh optimizer starts at that step, as after any reset.
     * NULL: fresh initialization from the seed, at step 0. */
    const char *from;
    /* Called once on the model before the first step (set the mask, replace
     * the weights); pruned weights are zeroed after it. May be NULL. */
    int (*prepare)(tk_model *m, void *ctx, tk_error *err);
    void *ctx;
    /* Writes DIR/rewind, a checkpoint of the state at this point (the rewind
     * point), when the run passes it; it must lie within the run. */
    bool snapshot;
    tk_duration snapshot_at;
} tk_train_start;

int tk_train_run_from(const tk_train_config *cfg, const char *dir, const tk_train_start *start,
                      tk_progress progress, tk_train_result *result, tk_error *err);

#endif
