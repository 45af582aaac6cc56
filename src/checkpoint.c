/* checkpoint.c - saving and restoring the whole training state (format in tk_checkpoint.h). */
#include "tk_checkpoint.h"
#include "tk_data.h" /* TK_MAX_CLASSES */

#include <stdlib.h>
#include <string.h>

#include "tk_file.h"

static const char magic[4] = {'T', 'K', 'C', 'K'};
enum { VERSION = 1 };

void tk_put_model_id(tk_buf *b, const tk_model *m, float width) {
    tk_buf_str(b, m->name);
    tk_buf_f32(b, width);
    tk_buf_u32(b, (uint32_t)m->input.C);
    tk_buf_u32(b, (uint32_t)m->input.H);
    tk_buf_u32(b, (uint32_t)m->input.W);
    tk_buf_u32(b, (uint32_t)m->classes);
}

int tk_read_model_id(tk_reader *r, tk_model_config *cfg, char name[64], tk_error *err) {
    uint32_t u[4] = {0};
    int rc = tk_read_str(r, name, 64, "model name", err);
    if (rc == 0) rc = tk_read_f32(r, &cfg->width, "width", err);
    for (int i = 0; rc == 0 && i < 4; i++) rc = tk_read_u32(r, &u[i], "input shape and classes", err);
    /* Checked before the casts to int: a damaged file's 0xfffffff8 would
     * become a side of -8 for whoever builds a model from it. */
    if (rc == 0 && (u[0] < 1 || u[0] > TK_MAX_MODEL_SIDE || u[1] < 1 || u[1] > TK_MAX_MODEL_SIDE || u[2] < 1 ||
                    u[2] > TK_MAX_MODEL_SIDE || u[3] < 1 || u[3] > TK_MAX_CLASSES))
        rc = tk_fail(err, "%s: the model's input is %u x %u x %u with %u classes: expected each of C, H, W in 1..%d "
                          "and 1..%d classes; the file is damaged",
                     r->path, u[0], u[1], u[2], u[3], TK_MAX_MODEL_SIDE, TK_MAX_CLASSES);
    cfg->name = name;
    cfg->input = (tk_shape){(int)u[0], (int)u[1], (int)u[2]};
    cfg->classes = (int)u[3];
    return rc;
}

bool tk_model_matches(const tk_model *m, float width, const tk_model_config *cfg) {
    return !strcmp(cfg->name, m->name) && cfg->width == width && cfg->input.C == m->input.C &&
           cfg->input.H == m->input.H && cfg->input.W == m->input.W && cfg->classes == m->classes;
}

int tk_checkpoint_save(const char *path, const tk_model *m, float width, const tk_optim *o,
                       const tk_train_state *s, tk_error *err) {
    tk_buf b = {0};
    tk_buf_begin(&b, magic, VERSION);
    tk_put_model_id(&b, m, width);
    tk_buf_u32(&b, (uint32_t)m->n_param_tensors);
    for (int i = 0; i < m->n_param_tensors; i++) {
        tk_buf_str(&b, m->params[i].name);
        tk_buf_u64(&b, m->params[i].count);
    }
    tk_buf_u64(&b, m->n_params);
    tk_buf_u64(&b, m->n_prunable);
    tk_buf_u64(&b, m->n_state);
    tk_buf_u64(&b, (uint64_t)s->step);
    tk_buf_u64(&b, (uint64_t)s->total);
    for (int i = 0; i < TK_STREAM_COUNT; i++)
        for (int j = 0; j < 4; j++) tk_buf_u64(&b, s->rng[i].s[j]);
    int per_param = tk_optim_state_per_param(o);
    tk_buf_u32(&b, (uint32_t)o->cfg.kind);
    tk_buf_u64(&b, (uint64_t)o->steps);
    tk_buf_u32(&b, (uint32_t)per_param);
    tk_buf_put(&b, m->param, m->n_params * sizeof(float));
    tk_buf_put(&b, m->state, m->n_state * sizeof(float));
    tk_buf_put(&b, m->mask, m->n_prunable);
    float *state = per_param ? tk_malloc(m->n_params * sizeof(float)) : NULL;
    for (int k = 0; k < per_param; k++) {
        tk_optim_state(o, k, state);
        tk_buf_put(&b, state, m->n_params * sizeof(float));
    }
    free(state);
    tk_buf_u32(&b, (uint32_t)s->n);
    tk_buf_put(&b, s->perm, (size_t)s->n * sizeof(int32_t));
    tk_buf_put(&b, &s->loss_sum, sizeof(double));
    tk_buf_u64(&b, (uint64_t)s->correct);
    tk_buf_u64(&b, (uint64_t)s->seen);
    tk_buf_f32(&b, s->best_accuracy);
    tk_buf_u64(&b, (uint64_t)s->best_iteration);
    tk_buf_f32(&b, s->min_val_loss);
    tk_buf_u64(&b, (uint64_t)(s->min_val_iteration + 1));
    tk_buf_end(&b);
    int rc = tk_file_write_atomic(path, b.data, b.len, err);
    tk_buf_free(&b);
    return rc;
}

/* Reads a u64 that must equal `expected`; `what` explains the mismatch. */
static int expect_u64(tk_reader *r, uint64_t expected, const char *field, const char *what, tk_error *err) {
    uint64_t v;
    if (tk_read_u64(r, &v, field, err)) return -1;
    if (v != expected)
        return tk_fail(err, "%s: %s is %llu in the checkpoint but %llu in this run; %s", r->path, field,
                       (unsigned long long)v, (unsigned long long)expected, what);
    return 0;
}

/* Reads a count of steps or examples (or -1 where `lowest` allows it: "none
 * yet"): at most 2^53, as every count a run makes is, so that it converts
 * to int64_t and back exactly. */
static int read_count(tk_reader *r, int64_t *out, int64_t lowest, const char *field, tk_error *err) {
    size_t at = r->pos;
    uint64_t v;
    if (tk_read_u64(r, &v, field, err)) return -1;
    int64_t signed_v = v >> 63 ? -(int64_t)~v - 1 : (int64_t)v; /* two's complement, without the implementation-defined cast */
    if (signed_v < lowest || signed_v > TK_WHOLE_MAX)
        return tk_fail(err, "%s: %s at offset %zu is %lld, outside [%lld, 2^53], which no run writes; the file is "
                       "damaged: delete it and run the step that wrote it again", r->path, field, at,
                       (long long)signed_v, (long long)lowest);
    *out = signed_v;
    return 0;
}

/* With o and s NULL, reads the model part only (weights, state, mask). */
static int load(tk_reader *r, tk_model *m, float width, tk_optim *o, tk_train_state *s, tk_error *err) {
    tk_train_state skipped;
    bool weights_only = !o;
    if (weights_only) s = &skipped;
    char name[64];
    tk_model_config id;
    uint32_t count;
    if (tk_read_model_id(r, &id, name, err)) return -1;
    if (!tk_model_matches(m, width, &id))
        return tk_fail(err,
                       "%s is a checkpoint of model %s (width %g, input %dx%dx%d, %d classes), but this run "
                       "trains %s (width %g, input %dx%dx%d, %d classes); use another --out directory or "
                       "the matching --model/--width/--dataset",
                       r->path, name, id.width, id.input.C, id.input.H, id.input.W, id.classes, m->name, width,
                       m->input.C, m->input.H, m->input.W, m->classes);
    if (tk_read_u32(r, &count, "parameter tensor count", err)) return -1;
    if ((int)count != m->n_param_tensors)
        return tk_fail(err, "%s: %u parameter tensors in the checkpoint, %d in model %s; it was written by "
                       "another version of the model", r->path, count, m->n_param_tensors, m->name);
    for (int i = 0; i < m->n_param_tensors; i++) {
        char pname[64];
        if (tk_read_str(r, pname, sizeof pname, "parameter name", err)) return -1;
        if (strcmp(pname, m->params[i].name))
            return tk_fail(err, "%s: parameter %d is '%s' in the checkpoint, '%s' in model %s", r->path, i, pname,
                           m->params[i].name, m->name);
        if (expect_u64(r, m->params[i].count, m->params[i].name, "the parameter shapes differ", err)) return -1;
    }
    if (expect_u64(r, m->n_params, "n_params", "the model differs", err) ||
        expect_u64(r, m->n_prunable, "n_prunable", "the model differs", err) ||
        expect_u64(r, m->n_state, "n_state", "the model differs", err))
        return -1;
    uint64_t step, total;
    if (tk_read_u64(r, &step, "step", err) || tk_read_u64(r, &total, "total", err)) return -1;
    if (step > total || total > (uint64_t)TK_WHOLE_MAX) /* what tk_checkpoint_save cannot have written */
        return tk_fail(err, "%s: step %llu of %llu iterations: expected a step at most the total, and a total of at "
                            "most 2^53; the file is damaged",
                       r->path, (unsigned long long)step, (unsigned long long)total);
    s->step = (int64_t)step;
    s->total = (int64_t)total;
    for (int i = 0; i < TK_STREAM_COUNT; i++)
        for (int j = 0; j < 4; j++)
            if (tk_read_u64(r, &s->rng[i].s[j], "rng state", err)) return -1;
    uint32_t kind, per_param;
    int64_t steps = 0;
    if (tk_read_u32(r, &kind, "optimizer", err) || read_count(r, &steps, 0, "optimizer steps", err) ||
        tk_read_u32(r, &per_param, "optimizer state size", err))
        return -1;
    if (weights_only)
        return tk_read(r, m->param, m->n_params * sizeof(float), "parameters", err) ||
               tk_read(r, m->state, m->n_state * sizeof(float), "batch-norm state", err) ||
               tk_read(r, m->mask, m->n_prunable, "mask", err);
    if (kind != (uint32_t)o->cfg.kind || (int)per_param != tk_optim_state_per_param(o))
        return tk_fail(err, "%s: the checkpoint was written with optimizer %s, this run uses %s; use the "
                       "run's own config (ticket train --resume DIR)", r->path,
                       kind < TK_OPTIM_COUNT ? tk_optim_names[kind] : "?", tk_optim_names[o->cfg.kind]);
    o->steps = steps;
    if (tk_read(r, m->param, m->n_params * sizeof(float), "parameters", err) ||
        tk_read(r, m->state, m->n_state * sizeof(float), "batch-norm state", err) ||
        tk_read(r, m->mask, m->n_prunable, "mask", err) ||
        (per_param >= 1 && tk_read(r, o->m, m->n_params * sizeof(float), "optimizer state", err)) ||
        (per_param >= 2 && tk_read(r, o->v, m->n_params * sizeof(float), "optimizer state", err)))
        return -1;
    uint32_t n;
    if (tk_read_u32(r, &n, "training set size", err)) return -1;
    if ((int)n != s->n)
        return tk_fail(err, "%s: the checkpoint was trained on %u examples, this dataset has %d; the dataset "
                       "changed since the run started", r->path, n, s->n);
    int64_t min_val_iteration = 0;
    if (tk_read(r, s->perm, (size_t)n * sizeof(int32_t), "permutation", err) ||
        tk_read(r, &s->loss_sum, sizeof(double), "loss sum", err) ||
        read_count(r, &s->correct, 0, "correct", err) || read_count(r, &s->seen, 0, "seen", err) ||
        tk_read_f32(r, &s->best_accuracy, "best accuracy", err) ||
        read_count(r, &s->best_iteration, -1, "best iteration", err) ||
        tk_read_f32(r, &s->min_val_loss, "minimum validation loss", err) ||
        read_count(r, &min_val_iteration, 0, "minimum validation loss iteration", err))
        return -1;
    s->min_val_iteration = min_val_iteration - 1;
    for (uint32_t i = 0; i < n; i++)
        if (s->perm[i] < 0 || s->perm[i] >= s->n)
            return tk_fail(err, "%s: permutation entry %u is %d, outside [0, %d)", r->path, i, s->perm[i], s->n);
    if (r->pos != r->len)
        return tk_fail(err, "%s: %zu unexpected bytes after the training state at offset %zu", r->path,
                       r->len - r->pos, r->pos);
    return 0;
}

int tk_checkpoint_model(const char *path, tk_model_config *cfg, char name[64], tk_error *err) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    tk_reader r;
    int rc = tk_reader_begin(&r, data, n, path, magic, VERSION, "checkpoint", err);
    if (rc == 0) rc = tk_read_model_id(&r, cfg, name, err);
    free(data);
    return rc;
}

int tk_checkpoint_load_weights(const char *path, tk_model *m, float width, tk_error *err) {
    return tk_checkpoint_load(path, m, width, NULL, NULL, err);
}

int tk_checkpoint_load(const char *path, tk_model *m, float width, tk_optim *o, tk_train_state *s,
                       tk_error *err) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    tk_reader r;
    int rc = tk_reader_begin(&r, data, n, path, magic, VERSION, "checkpoint", err);
    if (rc == 0) rc = load(&r, m, width, o, s, err);
    free(data);
    return rc;
}
