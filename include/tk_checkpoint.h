/* tk_checkpoint.h - the complete state of a training run in one binary file.
 *
 * Format (little endian), version 1:
 *   "TKCK" u32 version
 *   str model, f32 width, u32 C H W classes
 *   u32 tensors, then per parameter tensor: str name, u64 count
 *   u64 n_params, n_prunable, n_state
 *   u64 step, u64 total
 *   rng: TK_STREAM_COUNT x 4 x u64
 *   u32 optimizer kind, u64 optimizer steps, u32 state floats per parameter
 *   f32 param[n_params], f32 state[n_state], u8 mask[n_prunable],
 *   f32 optimizer state[per_param * n_params]
 *   u32 n, i32 permutation[n]
 *   f64 loss_sum, u64 correct, u64 seen (training metrics since the last evaluation)
 *   f32 best_accuracy, u64 best_iteration, f32 min_val_loss, u64 min_val_iteration (+1; 0 = none)
 *   u32 CRC-32 of everything before it
 * No wall-clock time is stored, so the same run writes the same bytes. */
#ifndef TK_CHECKPOINT_H
#define TK_CHECKPOINT_H

#include "tk_file.h"
#include "tk_model.h"
#include "tk_optim.h"
#include "tk_rng.h"

typedef struct tk_train_state {
    int64_t step, total;
    tk_rng rng[TK_STREAM_COUNT];
    int32_t *perm; /* the current epoch's order of the training examples */
    int n;
    double loss_sum;
    int64_t correct, seen;
    float best_accuracy;
    int64_t best_iteration;
    float min_val_loss;
    int64_t min_val_iteration; /* -1: no validation yet */
} tk_train_state;

int tk_checkpoint_save(const char *path, const tk_model *m, float width, const tk_optim *o,
                       const tk_train_state *s, tk_error *err);
/* Loads into an already built model, optimizer and state (perm sized s->n).
 * Fails, naming the file and what differs, when the checkpoint holds another
 * model, shape, optimizer or dataset size, or is corrupted. */
int tk_checkpoint_load(const char *path, tk_model *m, float width, tk_optim *o, tk_train_state *s,
                       tk_error *err);

/* The model identity every file of ticket's carries (checkpoints, tickets):
 * str name, f32 width, u32 C, H, W, classes. Reading refuses a side outside
 * 1..TK_MAX_MODEL_SIDE and a class count outside 1..TK_MAX_CLASSES. */
#define TK_MAX_MODEL_SIDE 65536
void tk_put_model_id(tk_buf *b, const tk_model *m, float width);
int tk_read_model_id(tk_reader *r, tk_model_config *cfg, char name[64], tk_error *err);
bool tk_model_matches(const tk_model *m, float width, const tk_model_config *cfg);

/* The model a checkpoint holds: fills cfg (cfg->name points to name). */
int tk_checkpoint_model(const char *path, tk_model_config *cfg, char name[64], tk_error *err);

/* Only the model part: parameters, batch-norm state and mask. */
int tk_checkpoint_load_weights(const char *path, tk_model *m, float width, tk_error *err);

#endif
