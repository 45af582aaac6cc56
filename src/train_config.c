/* train_config.c - training hyper-parameters: defaults per model, validation, config.json. */
#include <cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_json.h"
#include "tk_train.h"

/* The model's own defaults are beside its entry in the registry (src/models.c). */
int tk_train_defaults(const char *model, tk_train_config *cfg, tk_error *err) {
    const tk_model_entry *entry = tk_model_lookup(model, err);
    if (!entry) return -1;
    const tk_model_defaults *d = &entry->defaults;
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->model, sizeof cfg->model, "%s", model);
    cfg->width = 1;
    cfg->optim = tk_optim_defaults(d->optim);
    cfg->optim.lr = d->lr;
    cfg->optim.weight_decay = d->weight_decay;
    if (d->optim == TK_OPTIM_SGD) {
        cfg->optim.momentum = 0.9f;
        cfg->schedule = TK_SCHEDULE_MULTISTEP;
        cfg->milestones[0] = (tk_duration){80, 0};
        cfg->milestones[1] = (tk_duration){120, 0};
        cfg->n_milestones = 2;
    }
    cfg->gamma = 0.1f;
    cfg->batch = d->batch;
    cfg->length = (tk_duration){d->epochs, 0};
    cfg->eval_every = (tk_duration){1, 0};
    cfg->checkpoint_every = (tk_duration){1, 0};
    cfg->seed = 0;
    cfg->threads = 2;
    return 0;
}

int tk_train_validate(const tk_train_config *c, tk_error *err) {
    /* The models' limit (tk_model_create), checked here so that a config.json
     * or find spec is refused when read, not when its run starts. */
    if (!(c->width > 0 && c->width <= 64)) return tk_fail(err, "--width must be in (0, 64], got %g", c->width);
    if (!(c->optim.lr > 0) || !isfinite(c->optim.lr))
        return tk_fail(err, "--lr must be a positive number, got %g", c->optim.lr);
    if (!(c->optim.momentum >= 0 && c->optim.momentum < 1))
        return tk_fail(err, "--momentum must be in [0, 1), got %g", c->optim.momentum);
    if (!(c->optim.weight_decay >= 0) || !isfinite(c->optim.weight_decay))
        return tk_fail(err, "--weight-decay must be >= 0, got %g", c->optim.weight_decay);
    if (c->optim.nesterov && c->optim.momentum <= 0)
        return tk_fail(err, "--nesterov needs --momentum > 0");
    if (c->batch < 1 || c->batch > 65536) return tk_fail(err, "--batch must be in [1, 65536], got %d", c->batch);
    if (c->threads < 1 || c->threads > 256) return tk_fail(err, "--threads must be in [1, 256], got %d", c->threads);
    if (c->seed > TK_MAX_SEED)
        return tk_fail(err, "--seed must be at most 999999999999999 (so that config.json keeps it exact), "
                       "got %llu", (unsigned long long)c->seed);
    if (!(c->l1 >= 0) || !isfinite(c->l1)) return tk_fail(err, "--l1 must be >= 0, got %g", c->l1);
    if (c->subset_total < 0 || c->subset_per_class < 0 || (c->subset_total && c->subset_per_class))
        return tk_fail(err, "give at most one of subset_total and subset_per_class, as positive numbers");
    if (c->augment_pad < 0) return tk_fail(err, "augment_pad must be >= 0, got %d", c->augment_pad);
    if (c->val_size < 0) return tk_fail(err, "--val must be >= 0, got %d", c->val_size);
    if (!(c->optim.beta1 >= 0 && c->optim.beta1 < 1) || !(c->optim.beta2 >= 0 && c->optim.beta2 < 1))
        return tk_fail(err, "beta1 and beta2 must be in [0, 1), got %g and %g", c->optim.beta1, c->optim.beta2);
    if (!(c->optim.eps > 0) || !isfinite(c->optim.eps)) return tk_fail(err, "eps must be positive, got %g", c->optim.eps);
    if (!(c->gamma > 0) || !isfinite(c->gamma)) return tk_fail(err, "--gamma must be positive, got %g", c->gamma);
    if (c->eval_every.epochs == 0 && c->eval_every.iterations == 0)
        return tk_fail(err, "--eval-every must be at least 1it");
    if (c->checkpoint_every.epochs == 0 && c->checkpoint_every.iterations == 0)
        return tk_fail(err, "--checkpoint-every must be at least 1it");
    return 0;
}

static void put_duration(cJSON *o, const char *key, tk_duration d) {
    char text[64];
    tk_duration_format(d, text, sizeof text);
    cJSON_AddStringToObject(o, key, text);
}

char *tk_train_config_to_json(const tk_train_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", c->model);
    cJSON_AddNumberToObject(o, "width", c->width);
    cJSON_AddStringToObject(o, "dataset", c->dataset);
    cJSON_AddStringToObject(o, "optimizer", tk_optim_names[c->optim.kind]);
    cJSON_AddNumberToObject(o, "lr", c->optim.lr);
    cJSON_AddNumberToObject(o, "momentum", c->optim.momentum);
    cJSON_AddBoolToObject(o, "nesterov", c->optim.nesterov);
    cJSON_AddNumberToObject(o, "weight_decay", c->optim.weight_decay);
    cJSON_AddNumberToObject(o, "beta1", c->optim.beta1);
    cJSON_AddNumberToObject(o, "beta2", c->optim.beta2);
    cJSON_AddNumberToObject(o, "eps", c->optim.eps);
    cJSON_AddStringToObject(o, "schedule", tk_schedule_names[c->schedule]);
    cJSON *ms = cJSON_AddArrayToObject(o, "milestones");
    for (int i = 0; i < c->n_milestones; i++) {
        char text[64];
        tk_duration_format(c->milestones[i], text, sizeof text);
        cJSON_AddItemToArray(ms, cJSON_CreateString(text));
    }
    cJSON_AddNumberToObject(o, "gamma", c->gamma);
    put_duration(o, "warmup", c->warmup);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    put_duration(o, "length", c->length);
    put_duration(o, "eval_every", c->eval_every);
    put_duration(o, "checkpoint_every", c->checkpoint_every);
    cJSON_AddNumberToObject(o, "val_size", c->val_size);
    /* Written only when set, so that configurations from before they existed keep their text. */
    if (c->l1 > 0) cJSON_AddNumberToObject(o, "l1", c->l1);
    if (c->n_classes) {
        cJSON *cl = cJSON_AddArrayToObject(o, "classes");
        for (int i = 0; i < c->n_classes; i++) cJSON_AddItemToArray(cl, cJSON_CreateNumber(c->classes[i]));
    }
    if (c->subset_total) cJSON_AddNumberToObject(o, "subset_total", c->subset_total);
    if (c->subset_per_class) cJSON_AddNumberToObject(o, "subset_per_class", c->subset_per_class);
    if (c->input.C) {
        char shape[64];
        snprintf(shape, sizeof shape, "%dx%dx%d", c->input.C, c->input.H, c->input.W);
        cJSON_AddStringToObject(o, "input", shape);
    }
    if (c->augment_pad) cJSON_AddNumberToObject(o, "augment_pad", c->augment_pad);
    if (c->augment_flip) cJSON_AddBoolToObject(o, "augment_flip", true);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddNumberToObject(o, "threads", c->threads);
    if (c->kernels != TK_KERNELS_AUTO) cJSON_AddStringToObject(o, "kernels", tk_kernels_names[c->kernels]);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

static const char *const config_keys[] = {
    "model",  "width", "dataset", "optimizer", "lr",         "momentum", "nesterov",         "weight_decay",
    "beta1",  "beta2", "eps",     "schedule",  "milestones", "gamma",    "warmup",           "batch",
    "length", "eval_every", "checkpoint_every", "val_size", "seed", "threads", "l1",
    "classes", "subset_total", "subset_per_class", "input", "augment_pad", "augment_flip", "kernels"};

/* One key of config.json: the getter of its type into its field. Integer
 * fields are bounded here only so the cast is defined; tk_train_validate
 * checks the ranges that matter. */
static int apply_key(const tk_json_at *file, const cJSON *it, tk_train_config *c, tk_error *err) {
    const char *k = it->string;
    tk_json_at at = tk_json_key(file, k);
    const int whole = 1 << 30;
    int rc = 0;
    if (!strcmp(k, "model")) rc = tk_json_string(&at, it, NULL, NULL, c->model, sizeof c->model, err);
    else if (!strcmp(k, "dataset")) rc = tk_json_string(&at, it, NULL, NULL, c->dataset, sizeof c->dataset, err);
    else if (!strcmp(k, "augment_flip")) rc = tk_json_bool(&at, it, NULL, NULL, &c->augment_flip, err);
    else if (!strcmp(k, "nesterov")) rc = tk_json_bool(&at, it, NULL, NULL, &c->optim.nesterov, err);
    else if (!strcmp(k, "input")) {
        char extra;
        if (!cJSON_IsString(it)) return tk_json_wrong(&at, it, "a shape string like \"3x32x32\"", err);
        if (sscanf(it->valuestring, "%dx%dx%d%c", &c->input.C, &c->input.H, &c->input.W, &extra) != 3 ||
            c->input.C < 1 || c->input.H < 1 || c->input.W < 1)
            return tk_json_wrong(&at, it, "CxHxW with positive sizes, e.g. \"3x32x32\"", err);
    } else if (!strcmp(k, "classes")) {
        const cJSON *list;
        if (tk_json_array(&at, it, NULL, NULL, TK_ARRAY_LEN(c->classes), &list, err) < 0) return -1;
        c->n_classes = 0;
        for (const cJSON *e = list->child; e && rc >= 0; e = e->next) {
            tk_json_at eat = tk_json_index(&at, c->n_classes);
            rc = tk_json_int(&eat, e, NULL, NULL, 0, whole, &c->classes[c->n_classes++], err);
        }
    } else if (!strcmp(k, "optimizer")) {
        int kind;
        rc = tk_json_name(&at, it, NULL, NULL, "optimizer", tk_optim_names, TK_OPTIM_COUNT, &kind, err);
        if (rc == 1) c->optim.kind = (tk_optim_kind)kind;
    } else if (!strcmp(k, "kernels")) {
        int kind;
        rc = tk_json_name(&at, it, NULL, NULL, "kernels", tk_kernels_names, TK_KERNELS_COUNT, &kind, err);
        if (rc == 1) c->kernels = (tk_kernels)kind;
    } else if (!strcmp(k, "schedule")) {
        int kind;
        rc = tk_json_name(&at, it, NULL, NULL, "schedule", tk_schedule_names, TK_SCHEDULE_COUNT, &kind, err);
        if (rc == 1) c->schedule = (tk_schedule_kind)kind;
    } else if (!strcmp(k, "milestones")) {
        const cJSON *list;
        if (tk_json_array(&at, it, NULL, NULL, TK_ARRAY_LEN(c->milestones), &list, err) < 0) return -1;
        c->n_milestones = 0;
        for (const cJSON *e = list->child; e && rc >= 0; e = e->next) {
            tk_json_at eat = tk_json_index(&at, c->n_milestones);
            rc = tk_json_duration(&eat, e, NULL, NULL, &c->milestones[c->n_milestones++], err);
        }
    } else if (!strcmp(k, "warmup")) rc = tk_json_duration(&at, it, NULL, NULL, &c->warmup, err);
    else if (!strcmp(k, "length")) rc = tk_json_duration(&at, it, NULL, NULL, &c->length, err);
    else if (!strcmp(k, "eval_every")) rc = tk_json_duration(&at, it, NULL, NULL, &c->eval_every, err);
    else if (!strcmp(k, "checkpoint_every")) rc = tk_json_duration(&at, it, NULL, NULL, &c->checkpoint_every, err);
    else if (!strcmp(k, "width")) rc = tk_json_float(&at, it, NULL, NULL, &c->width, err);
    else if (!strcmp(k, "lr")) rc = tk_json_float(&at, it, NULL, NULL, &c->optim.lr, err);
    else if (!strcmp(k, "momentum")) rc = tk_json_float(&at, it, NULL, NULL, &c->optim.momentum, err);
    else if (!strcmp(k, "weight_decay")) rc = tk_json_float(&at, it, NULL, NULL, &c->optim.weight_decay, err);
    else if (!strcmp(k, "beta1")) rc = tk_json_float(&at, it, NULL, NULL, &c->optim.beta1, err);
    else if (!strcmp(k, "beta2")) rc = tk_json_float(&at, it, NULL, NULL, &c->optim.beta2, err);
    else if (!strcmp(k, "eps")) rc = tk_json_float(&at, it, NULL, NULL, &c->optim.eps, err);
    else if (!strcmp(k, "gamma")) rc = tk_json_float(&at, it, NULL, NULL, &c->gamma, err);
    else if (!strcmp(k, "l1")) rc = tk_json_float(&at, it, NULL, NULL, &c->l1, err);
    else if (!strcmp(k, "batch")) rc = tk_json_int(&at, it, NULL, NULL, 0, whole, &c->batch, err);
    else if (!strcmp(k, "val_size")) rc = tk_json_int(&at, it, NULL, NULL, 0, whole, &c->val_size, err);
    else if (!strcmp(k, "subset_total")) rc = tk_json_int(&at, it, NULL, NULL, 0, whole, &c->subset_total, err);
    else if (!strcmp(k, "subset_per_class"))
        rc = tk_json_int(&at, it, NULL, NULL, 0, whole, &c->subset_per_class, err);
    else if (!strcmp(k, "augment_pad")) rc = tk_json_int(&at, it, NULL, NULL, 0, 1024, &c->augment_pad, err);
    else if (!strcmp(k, "threads")) rc = tk_json_int(&at, it, NULL, NULL, 0, whole, &c->threads, err);
    else if (!strcmp(k, "seed")) {
        int64_t seed;
        rc = tk_json_int64(&at, it, NULL, NULL, 0, (int64_t)TK_MAX_SEED, &seed, err);
        if (rc == 1) c->seed = (uint64_t)seed;
    } else TK_ASSERT(0);
    return rc < 0 ? -1 : 0;
}

int tk_train_config_read(const tk_json_at *at, const cJSON *obj, tk_train_config *c, tk_error *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(obj, "model");
    if (!cJSON_IsObject(obj) || !cJSON_IsString(model)) {
        tk_json_at m = tk_json_key(at, "model");
        return tk_fail(err, "%s: missing required key '%s' (the model's name, see `ticket models`)", at->source,
                       m.path);
    }
    if (tk_train_defaults(model->valuestring, c, err)) {
        tk_json_at m = tk_json_key(at, "model");
        return tk_fail_prefix(err, "%s: key '%s': ", at->source, m.path);
    }
    /* Every key is checked, and the problems are reported together, one per line. */
    tk_json_problems problems = {"", 0};
    tk_json_note_keys(&problems, at, obj, config_keys, TK_ARRAY_LEN(config_keys));
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool known = false;
        for (int i = 0; i < TK_ARRAY_LEN(config_keys) && !known; i++) known = !strcmp(it->string, config_keys[i]);
        /* A key given twice is ambiguous ("model" would take its defaults
         * from one value and its name from the other): noted above. */
        if (cJSON_GetObjectItemCaseSensitive(obj, it->string) != it || !known) continue;
        tk_error one;
        if (apply_key(at, it, c, &one)) tk_json_note(&problems, &one);
    }
    if (tk_json_problems_fail(&problems, NULL, err)) return -1;
    return tk_train_validate(c, err) ? tk_json_prefix(at, err) : 0;
}

int tk_train_config_from_json(const char *text, const char *path, tk_train_config *c, tk_error *err) {
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return tk_fail(err, "%s: not valid JSON (near byte %ld); fix the file or delete the run directory",
                       path, at ? (long)(at - text) : -1L);
    }
    tk_json_at at = tk_json_root(path);
    int rc = tk_train_config_read(&at, root, c, err);
    cJSON_Delete(root);
    return rc;
}
