/* train.c - the training loop: data order, steps, evaluation, checkpoints,
 * resume. The run directory's other files are src/run_files.c's, the
 * progress display src/progress.c's. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "run_files.h"
#include "tk_checkpoint.h"
#include "tk_file.h"
#include "tk_train.h"
#include "tk_transform.h"

typedef struct eval_result {
    float loss, accuracy;
} eval_result;

typedef struct trainer {
    const tk_train_config *cfg;
    const tk_train_start *start;
    run_files files;
    tk_dataset train, test;
    int32_t *train_index, *val_index; /* examples of the train file used for training / validation */
    int n_train, n_val;
    float mean[4], std[4];
    tk_model *model;
    tk_optim *optim;
    tk_schedule schedule;
    tk_train_state st;
    int64_t ipe;
    eval_result last_test; /* the latest evaluation on the test split */
    int64_t last_test_step; /* its step; -1 before the first */
    float *x, *probs;
    int32_t *labels, *batch_index;
} trainer;

static void trainer_free(trainer *t) {
    tk_dataset_free(&t->train);
    tk_dataset_free(&t->test);
    free(t->train_index);
    free(t->val_index);
    tk_model_free(t->model);
    tk_optim_free(t->optim);
    free(t->st.perm);
    free(t->x);
    free(t->probs);
    free(t->labels);
    free(t->batch_index);
}

/* The validation examples are the same for every seed (drawn from a fixed
 * stream), so replicates differ only in what the seed controls. */
static void split_validation(trainer *t) {
    int n = t->train.n, n_val = t->cfg->val_size;
    int32_t *order = tk_malloc((size_t)n * sizeof(int32_t));
    for (int i = 0; i < n; i++) order[i] = i;
    if (n_val > 0) {
        tk_rng rng;
        tk_rng_seed(&rng, 0, TK_STREAM_DATA);
        tk_rng_shuffle(&rng, order, (size_t)n);
    }
    t->n_train = n - n_val;
    t->n_val = n_val;
    t->train_index = tk_malloc((size_t)(t->n_train ? t->n_train : 1) * sizeof(int32_t));
    t->val_index = tk_malloc((size_t)(n_val ? n_val : 1) * sizeof(int32_t));
    memcpy(t->train_index, order, (size_t)t->n_train * sizeof(int32_t));
    memcpy(t->val_index, order + t->n_train, (size_t)n_val * sizeof(int32_t));
    free(order);
}

static eval_result evaluate(trainer *t, const tk_dataset *d, const int32_t *index, int n) {
    double loss = 0;
    int64_t correct = 0;
    for (int start = 0; start < n; start += t->cfg->batch) {
        int B = n - start < t->cfg->batch ? n - start : t->cfg->batch;
        for (int i = 0; i < B; i++) t->batch_index[i] = index ? index[start + i] : start + i;
        tk_dataset_batch(d, t->batch_index, B, t->mean, t->std, t->x, t->labels);
        const float *logits = tk_model_forward(t->model, t->x, B, false, NULL);
        int c = 0;
        loss += (double)tk_softmax_xent_forward(t->probs, &c, logits, t->labels, B, t->model->classes) * B;
        correct += c;
    }
    return (eval_result){(float)(loss / n), (float)correct / (float)n};
}

static void new_epoch_order(trainer *t) {
    for (int i = 0; i < t->n_train; i++) t->st.perm[i] = t->train_index[i];
    tk_rng_shuffle(&t->st.rng[TK_STREAM_DATA], t->st.perm, (size_t)t->n_train);
}

static float learning_rate(const trainer *t, int64_t step) {
    return tk_schedule_lr(&t->schedule, t->cfg->optim.lr, step);
}

/* One SGD step on the batch at the current position of the epoch order. */
static void train_step(trainer *t) {
    int B = t->cfg->batch;
    int64_t pos = t->st.step % t->ipe;
    if (pos == 0) new_epoch_order(t);
    tk_augment aug = {t->cfg->augment_pad, t->cfg->augment_flip};
    tk_dataset_batch_augmented(&t->train, t->st.perm + pos * B, B, t->mean, t->std, &aug,
                               &t->st.rng[TK_STREAM_AUGMENT], t->x, t->labels);
    tk_model *m = t->model;
    const float *logits = tk_model_forward(m, t->x, B, true, &t->st.rng[TK_STREAM_DROPOUT]);
    int correct = 0;
    float loss = tk_softmax_xent_forward(t->probs, &correct, logits, t->labels, B, m->classes);
    float *dlogits = tk_model_output_grad(m);
    memset(dlogits, 0, (size_t)B * (size_t)m->classes * sizeof(float));
    tk_softmax_xent_backward(dlogits, t->probs, t->labels, B, m->classes);
    tk_model_zero_grad(m);
    tk_model_backward(m, B);
    if (t->cfg->l1 > 0) tk_model_add_l1(m, t->cfg->l1);
    tk_model_step(m, t->optim, learning_rate(t, t->st.step));
    t->st.loss_sum += loss;
    t->st.correct += correct;
    t->st.seen += B;
    t->st.step++;
}

static bool due(int64_t step, tk_duration every, int64_t ipe, int64_t total) {
    int64_t n = tk_duration_iters(every, ipe);
    return step == total || (n > 0 && step % n == 0);
}

/* Evaluates, and appends the evaluation to metrics.jsonl; line[cap] gets it. */
static int record_evaluation(trainer *t, char *line, size_t cap, tk_error *err) {
    eval_result test = evaluate(t, &t->test, NULL, t->test.n);
    t->last_test = test;
    t->last_test_step = t->st.step;
    run_evaluation e = {
        .iteration = t->st.step,
        .epoch = (double)t->st.step / (double)t->ipe,
        .train_loss = t->st.seen ? (float)(t->st.loss_sum / ((double)t->st.seen / t->cfg->batch)) : NAN,
        .train_accuracy = t->st.seen ? (float)t->st.correct / (float)t->st.seen : NAN,
        .test_loss = test.loss,
        .test_accuracy = test.accuracy,
        .has_val = t->n_val > 0,
        .lr = learning_rate(t, t->st.step > 0 ? t->st.step - 1 : 0),
    };
    if (e.has_val) {
        eval_result val = evaluate(t, &t->train, t->val_index, t->n_val);
        e.val_loss = val.loss, e.val_accuracy = val.accuracy;
        if (t->st.min_val_iteration < 0 || val.loss < t->st.min_val_loss)
            t->st.min_val_loss = val.loss, t->st.min_val_iteration = t->st.step;
    }
    if (test.accuracy > t->st.best_accuracy || t->st.best_iteration < 0)
        t->st.best_accuracy = test.accuracy, t->st.best_iteration = t->st.step;
    t->st.loss_sum = 0;
    t->st.correct = t->st.seen = 0;
    return run_files_append_metrics(&t->files, &e, line, cap, err);
}

/* Replaces *d by the result of a transform when it succeeds. */
static int replace(tk_dataset *d, int rc, tk_dataset *result) {
    if (rc) return rc;
    tk_dataset_free(d);
    *d = *result;
    return 0;
}

/* Class subset, training subsample, input adaptation (tk_train_config). */
static int prepare_data(trainer *t, tk_error *err) {
    const tk_train_config *c = t->cfg;
    tk_dataset next;
    if (c->n_classes) {
        tk_subset keep = {.classes = c->classes, .n_classes = c->n_classes};
        if (replace(&t->train, tk_dataset_subset(&t->train, &keep, NULL, &next, err), &next) ||
            replace(&t->test, tk_dataset_subset(&t->test, &keep, NULL, &next, err), &next))
            return -1;
    }
    if (c->subset_total || c->subset_per_class) {
        /* A stream of its own, fixed: every replicate trains on the same examples. */
        tk_rng rng;
        tk_rng_seed(&rng, 0, TK_STREAM_COUNT);
        tk_subset sub = {.total = c->subset_total, .per_class = c->subset_per_class};
        if (replace(&t->train, tk_dataset_subset(&t->train, &sub, &rng, &next, err), &next)) return -1;
    }
    if (c->input.C &&
        (replace(&t->train, tk_dataset_adapt(&t->train, c->input.C, c->input.H, c->input.W, &next, err), &next) ||
         replace(&t->test, tk_dataset_adapt(&t->test, c->input.C, c->input.H, c->input.W, &next, err), &next)))
        return -1;
    return 0;
}

/* The network for the prepared data: its shape, and the classes of both splits. */
static tk_model *model_for(const tk_train_config *c, const tk_dataset *train, const tk_dataset *test, tk_error *err) {
    tk_model_config mc = {.name = c->model, .input = {train->C, train->H, train->W},
                          .classes = train->classes > test->classes ? train->classes : test->classes,
                          .width = c->width};
    return tk_model_create(&mc, err);
}

tk_model *tk_train_create_model(const tk_train_config *cfg, tk_error *err) {
    trainer t = {.cfg = cfg};
    tk_model *m = NULL;
    if (tk_dataset_open(cfg->dataset, TK_SPLIT_TRAIN, &t.train, err) == 0 &&
        tk_dataset_open(cfg->dataset, TK_SPLIT_TEST, &t.test, err) == 0) {
        if (prepare_data(&t, err)) tk_fail_prefix(err, "dataset %s: ", cfg->dataset);
        else m = model_for(cfg, &t.train, &t.test, err);
    }
    trainer_free(&t);
    return m;
}

static int setup(trainer *t, tk_error *err) {
    const tk_train_config *c = t->cfg;
    if (tk_dataset_open(c->dataset, TK_SPLIT_TRAIN, &t->train, err) ||
        tk_dataset_open(c->dataset, TK_SPLIT_TEST, &t->test, err))
        return -1;
    if (prepare_data(t, err)) return tk_fail_prefix(err, "dataset %s: ", c->dataset);
    if (t->train.C != t->test.C || t->train.H != t->test.H || t->train.W != t->test.W)
        return tk_fail(err, "dataset %s: train images are %dx%dx%d but test images %dx%dx%d", c->dataset,
                       t->train.C, t->train.H, t->train.W, t->test.C, t->test.H, t->test.W);
    if (c->val_size >= t->train.n)
        return tk_fail(err, "--val %d leaves no training data (the training set has %d examples)", c->val_size,
                       t->train.n);
    split_validation(t);
    if (t->n_train < c->batch)
        return tk_fail(err, "--batch %d is larger than the %d training examples", c->batch, t->n_train);
    tk_dataset_stats(&t->train, t->mean, t->std);
    if (!(t->model = model_for(c, &t->train, &t->test, err))) return -1;
    int classes = t->model->classes;
    tk_model_set_batch(t->model, c->batch);
    t->optim = tk_optim_create(&c->optim, t->model->n_params);
    t->ipe = t->n_train / c->batch;
    t->schedule = (tk_schedule){.kind = c->schedule, .gamma = c->gamma,
                                .warmup = tk_duration_iters(c->warmup, t->ipe), .n_milestones = c->n_milestones};
    for (int i = 0; i < c->n_milestones; i++) t->schedule.milestones[i] = tk_duration_iters(c->milestones[i], t->ipe);
    t->st.total = t->schedule.total = tk_duration_iters(c->length, t->ipe);
    if (t->st.total <= 0) return tk_fail(err, "the training length is 0 iterations; give --epochs or --iterations");
    t->st.n = t->n_train;
    /* Defined before the first epoch shuffles it: a snapshot at step 0 stores it. */
    t->st.perm = tk_malloc((size_t)t->n_train * sizeof(int32_t));
    memcpy(t->st.perm, t->train_index, (size_t)t->n_train * sizeof(int32_t));
    t->st.best_iteration = -1;
    t->st.min_val_iteration = -1;
    for (int s = 0; s < TK_STREAM_COUNT; s++) tk_rng_seed(&t->st.rng[s], c->seed, (uint64_t)s);
    tk_model_init(t->model, &t->st.rng[TK_STREAM_INIT]);
    size_t in = (size_t)t->train.C * (size_t)t->train.H * (size_t)t->train.W;
    t->x = tk_alloc_aligned((size_t)c->batch * in * sizeof(float));
    t->probs = tk_malloc((size_t)c->batch * (size_t)classes * sizeof(float));
    t->labels = tk_malloc((size_t)c->batch * sizeof(int32_t));
    t->batch_index = tk_malloc((size_t)c->batch * sizeof(int32_t));
    return 0;
}

/* A fresh run: from the seed's initialization, or from a rewind snapshot
 * with a fresh optimizer; then the caller's mask and weights. */
static int begin(trainer *t, tk_error *err) {
    const tk_train_start *s = t->start;
    if (!s) return 0;
    if (s->from) {
        int64_t total = t->st.total; /* this run's length, not the snapshot's run's */
        if (tk_checkpoint_load(s->from, t->model, t->cfg->width, t->optim, &t->st, err)) return -1;
        t->st.total = total;
        tk_optim_free(t->optim);
        t->optim = tk_optim_create(&t->cfg->optim, t->model->n_params);
        t->st.loss_sum = 0;
        t->st.correct = t->st.seen = 0;
        t->st.best_accuracy = 0;
        t->st.best_iteration = t->st.min_val_iteration = -1;
        if (t->st.step > t->st.total)
            return tk_fail(err, "%s is at step %lld, past this run's %lld iterations", s->from,
                           (long long)t->st.step, (long long)t->st.total);
    }
    if (s->snapshot && tk_duration_iters(s->snapshot_at, t->ipe) > t->st.total) {
        char at[64];
        tk_duration_format(s->snapshot_at, at, sizeof at);
        return tk_fail(err, "the rewind point %s (iteration %lld) is beyond the training length of %lld "
                       "iterations; rewind to an earlier point or train longer", at,
                       (long long)tk_duration_iters(s->snapshot_at, t->ipe), (long long)t->st.total);
    }
    if (s->prepare && s->prepare(t->model, s->ctx, err)) return -1;
    tk_model_apply_mask(t->model);
    return 0;
}

static int snapshot_if_due(trainer *t, tk_error *err) {
    if (!t->start || !t->start->snapshot || tk_duration_iters(t->start->snapshot_at, t->ipe) != t->st.step ||
        tk_file_exists(t->files.rewind))
        return 0;
    return tk_checkpoint_save(t->files.rewind, t->model, t->cfg->width, t->optim, &t->st, err);
}

static int run(trainer *t, tk_progress mode, tk_train_result *result, tk_error *err) {
    const run_files *f = &t->files;
    if (tk_file_exists(f->summary)) return tk_train_read_summary(f->summary, result, err);
    if (setup(t, err) || run_files_claim(f, t->cfg, true, err)) return -1;
    if (tk_file_exists(f->checkpoint)) {
        if (tk_checkpoint_load(f->checkpoint, t->model, t->cfg->width, t->optim, &t->st, err) ||
            run_files_truncate_metrics(f, t->st.step, err))
            return -1;
    } else if (begin(t, err) || run_files_clear_metrics(f, err)) {
        return -1;
    }
    openblas_set_num_threads(t->cfg->threads);
    if (run_files_note_provenance(f, t->st.step, err)) return -1;
    /* The mask is final here and stays so for the whole run. `dense` keeps
     * every multiplication and every update of pruned weights, as before. */
    tk_model_use_kernels(t->model, t->cfg->kernels, t->optim);
    double t0 = tk_now();
    int64_t start_step = t->st.step;
    progress p = {.mode = mode, .batch = t->cfg->batch, .ipe = t->ipe, .t0 = t0, .start_step = start_step};
    int rc = snapshot_if_due(t, err);
    while (t->st.step < t->st.total && rc == 0) {
        train_step(t);
        rc = snapshot_if_due(t, err);
        progress_step(&p, &t->st);
        if (due(t->st.step, t->cfg->eval_every, t->ipe, t->st.total)) {
            char line[1024];
            rc = record_evaluation(t, line, sizeof line, err);
            if (rc == 0) progress_line(&p, line);
        }
        if (rc == 0 && due(t->st.step, t->cfg->checkpoint_every, t->ipe, t->st.total))
            rc = tk_checkpoint_save(f->checkpoint, t->model, t->cfg->width, t->optim, &t->st, err);
    }
    progress_end(&p);
    if (rc) return rc;
    /* The last step is always evaluated, unless the run was resumed after it. */
    eval_result final = t->last_test_step == t->st.step ? t->last_test : evaluate(t, &t->test, NULL, t->test.n);
    double seconds = tk_now() - t0;
    *result = (tk_train_result){
        .iterations = t->st.step,
        .final_accuracy = final.accuracy,
        .final_loss = final.loss,
        .best_accuracy = t->st.best_accuracy,
        .best_iteration = t->st.best_iteration,
        .early_stop_iteration = t->st.min_val_iteration,
        .seconds = seconds,
        .samples_per_second = seconds > 0 ? (double)(t->st.step - start_step) * t->cfg->batch / seconds : 0,
    };
    return run_files_write_summary(f, result, err);
}

int tk_train_run(const tk_train_config *cfg, const char *dir, tk_progress progress, tk_train_result *result,
                 tk_error *err) {
    return tk_train_run_from(cfg, dir, NULL, progress, result, err);
}

int tk_train_run_from(const tk_train_config *cfg, const char *dir, const tk_train_start *start,
                      tk_progress progress, tk_train_result *result, tk_error *err) {
    if (tk_train_validate(cfg, err) || tk_mkdirs(dir, err)) return -1;
    trainer t = {.cfg = cfg, .start = start, .last_test_step = -1};
    run_files_init(&t.files, dir);
    int rc = run_files_claim(&t.files, cfg, false, err);
    if (rc == 0) rc = run(&t, progress, result, err);
    trainer_free(&t);
    return rc;
}
