/* train_config.c - training hyper-parameters: defaults per model, validation, config.json. */
#include <cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct json_ctx {
    const char *path;
    tk_error *err;
} json_ctx;

static int want(json_ctx *x, const cJSON *item, bool ok, const char *type) {
    if (ok) return 0;
    return tk_fail(x->err, "%s: key '%s' must be %s", x->path, item->string, type);
}

static int get_number(json_ctx *x, const cJSON *item, double *v) {
    if (want(x, item, cJSON_IsNumber(item), "a number")) return -1;
    *v = item->valuedouble;
    return 0;
}

/* Whole numbers only: a fractional batch must not be silently truncated. */
static int get_whole(json_ctx *x, const cJSON *item, double v, int max, int *out) {
    if (!tk_whole_in(v, -max, max))
        return tk_fail(x->err, "%s: key '%s' must be a whole number, got %.17g", x->path, item->string, v);
    *out = (int)v;
    return 0;
}

static int get_duration(json_ctx *x, const cJSON *item, tk_duration *d) {
    if (want(x, item, cJSON_IsString(item), "a duration string like \"20ep\" or \"500it\"")) return -1;
    if (tk_duration_parse(item->valuestring, d, x->err)) return tk_fail_prefix(x->err, "%s: key '%s': ", x->path, item->string);
    return 0;
}

static int get_string(json_ctx *x, const cJSON *item, char *out, size_t cap) {
    if (want(x, item, cJSON_IsString(item), "a string")) return -1;
    if (strlen(item->valuestring) >= cap) return tk_fail(x->err, "%s: key '%s' is too long", x->path, item->string);
    memcpy(out, item->valuestring, strlen(item->valuestring) + 1);
    return 0;
}

static int apply_key(json_ctx *x, const cJSON *it, tk_train_config *c) {
    const char *k = it->string;
    double v = 0;
    if (!strcmp(k, "model")) return get_string(x, it, c->model, sizeof c->model);
    if (!strcmp(k, "dataset")) return get_string(x, it, c->dataset, sizeof c->dataset);
    if (!strcmp(k, "augment_flip")) {
        if (want(x, it, cJSON_IsBool(it), "true or false")) return -1;
        c->augment_flip = cJSON_IsTrue(it);
        return 0;
    }
    if (!strcmp(k, "input")) {
        char extra;
        if (want(x, it, cJSON_IsString(it), "a shape string like \"3x32x32\"")) return -1;
        if (sscanf(it->valuestring, "%dx%dx%d%c", &c->input.C, &c->input.H, &c->input.W, &extra) != 3 ||
            c->input.C < 1 || c->input.H < 1 || c->input.W < 1)
            return tk_fail(x->err, "%s: key 'input' must be CxHxW with positive sizes, e.g. \"3x32x32\"; got \"%s\"",
                           x->path, it->valuestring);
        return 0;
    }
    if (!strcmp(k, "classes")) {
        if (want(x, it, cJSON_IsArray(it) && cJSON_GetArraySize(it) <= 64, "an array of at most 64 class indices"))
            return -1;
        c->n_classes = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, it) {
            int v = 0;
            if (want(x, it, cJSON_IsNumber(e), "an array of class indices") ||
                get_whole(x, it, e->valuedouble, 1 << 30, &v))
                return -1;
            c->classes[c->n_classes++] = v;
        }
        return 0;
    }
    if (!strcmp(k, "nesterov")) {
        if (want(x, it, cJSON_IsBool(it), "true or false")) return -1;
        c->optim.nesterov = cJSON_IsTrue(it);
        return 0;
    }
    if (!strcmp(k, "optimizer")) {
        if (want(x, it, cJSON_IsString(it), "a string")) return -1;
        if (tk_optim_parse(it->valuestring, &c->optim.kind, x->err)) return tk_fail_prefix(x->err, "%s: ", x->path);
        return 0;
    }
    if (!strcmp(k, "kernels")) {
        if (want(x, it, cJSON_IsString(it), "a string")) return -1;
        int kind;
        if (tk_parse_name("kernels", it->valuestring, tk_kernels_names, TK_KERNELS_COUNT, &kind, x->err))
            return tk_fail_prefix(x->err, "%s: ", x->path);
        c->kernels = (tk_kernels)kind;
        return 0;
    }
    if (!strcmp(k, "schedule")) {
        if (want(x, it, cJSON_IsString(it), "a string")) return -1;
        if (tk_schedule_parse(it->valuestring, &c->schedule, x->err)) return tk_fail_prefix(x->err, "%s: ", x->path);
        return 0;
    }
    if (!strcmp(k, "milestones")) {
        if (want(x, it, cJSON_IsArray(it), "an array of durations")) return -1;
        int n = cJSON_GetArraySize(it);
        if (n > TK_ARRAY_LEN(c->milestones)) return tk_fail(x->err, "%s: at most 16 milestones", x->path);
        c->n_milestones = n;
        for (int i = 0; i < n; i++)
            if (get_duration(x, cJSON_GetArrayItem(it, i), &c->milestones[i])) return -1;
        return 0;
    }
    if (!strcmp(k, "warmup")) return get_duration(x, it, &c->warmup);
    if (!strcmp(k, "length")) return get_duration(x, it, &c->length);
    if (!strcmp(k, "eval_every")) return get_duration(x, it, &c->eval_every);
    if (!strcmp(k, "checkpoint_every")) return get_duration(x, it, &c->checkpoint_every);
    if (get_number(x, it, &v)) return -1;
    bool real = !strcmp(k, "width") || !strcmp(k, "lr") || !strcmp(k, "momentum") || !strcmp(k, "weight_decay") ||
                !strcmp(k, "beta1") || !strcmp(k, "beta2") || !strcmp(k, "eps") || !strcmp(k, "gamma") ||
                !strcmp(k, "l1");
    /* Beyond a float's range the value would become infinite, which
     * config.json cannot store (cJSON writes null). */
    if (real && !tk_fits_float(v))
        return tk_fail(x->err, "%s: key '%s' must be a number of at most %g in magnitude, got %.17g", x->path, k,
                       (double)FLT_MAX, v);
    if (!strcmp(k, "width")) c->width = (float)v;
    else if (!strcmp(k, "lr")) c->optim.lr = (float)v;
    else if (!strcmp(k, "momentum")) c->optim.momentum = (float)v;
    else if (!strcmp(k, "weight_decay")) c->optim.weight_decay = (float)v;
    else if (!strcmp(k, "beta1")) c->optim.beta1 = (float)v;
    else if (!strcmp(k, "beta2")) c->optim.beta2 = (float)v;
    else if (!strcmp(k, "eps")) c->optim.eps = (float)v;
    else if (!strcmp(k, "gamma")) c->gamma = (float)v;
    else if (!strcmp(k, "l1")) c->l1 = (float)v;
    else if (!strcmp(k, "batch")) return get_whole(x, it, v, 1 << 30, &c->batch);
    else if (!strcmp(k, "val_size")) return get_whole(x, it, v, 1 << 30, &c->val_size);
    else if (!strcmp(k, "subset_total")) return get_whole(x, it, v, 1 << 30, &c->subset_total);
    else if (!strcmp(k, "subset_per_class")) return get_whole(x, it, v, 1 << 30, &c->subset_per_class);
    else if (!strcmp(k, "augment_pad")) return get_whole(x, it, v, 1 << 10, &c->augment_pad);
    else if (!strcmp(k, "threads")) return get_whole(x, it, v, 1 << 30, &c->threads);
    else if (!strcmp(k, "seed")) {
        if (!tk_whole_in(v, 0, (int64_t)TK_MAX_SEED))
            return tk_fail(x->err, "%s: key 'seed' must be a whole number in [0, 999999999999999], got %.17g", x->path, v);
        c->seed = (uint64_t)v;
    } else TK_ASSERT(0);
    return 0;
}

int tk_train_config_from_json(const char *text, const char *path, tk_train_config *c, tk_error *err) {
    json_ctx x = {path, err};
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return tk_fail(err, "%s: not valid JSON (near byte %ld); fix the file or delete the run directory",
                       path, at ? (long)(at - text) : -1L);
    }
    int rc = 0;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(root) || !cJSON_IsString(model)) {
        rc = tk_fail(err, "%s: expected a JSON object with a \"model\" key", path);
    } else if (tk_train_defaults(model->valuestring, c, err)) {
        rc = tk_fail_prefix(err, "%s: ", path);
    }
    /* Every key is checked, and the problems are reported together, one per line. */
    char problems[sizeof err->msg] = "";
    int n_problems = 0;
    tk_error one = {0};
    x.err = &one;
    for (const cJSON *it = rc == 0 ? root->child : NULL; it; it = it->next) {
        bool known = false;
        for (int i = 0; i < TK_ARRAY_LEN(config_keys); i++) known |= !strcmp(it->string, config_keys[i]);
        int bad = 0;
        /* A key given twice is ambiguous (cJSON finds the first, this loop
         * applies both): "model" would take its defaults from one value and
         * its name from the other. */
        const cJSON *first = root->child;
        while (strcmp(first->string, it->string)) first = first->next;
        if (first != it) {
            bad = tk_fail(&one, "%s: key '%s' is given more than once", path, it->string);
        } else if (!known) {
            const char *near = tk_nearest(it->string, config_keys, TK_ARRAY_LEN(config_keys));
            bad = tk_fail(&one, "%s: unknown key '%s'%s%s%s", path, it->string, near ? " (did you mean '" : "",
                          near ? near : "", near ? "'?)" : "");
        } else {
            bad = apply_key(&x, it, c);
        }
        if (bad) {
            size_t len = strlen(problems);
            snprintf(problems + len, sizeof problems - len, "%s%s", n_problems++ ? "\n  " : "", one.msg);
        }
    }
    cJSON_Delete(root);
    if (rc) return rc;
    if (n_problems) return tk_fail(err, "%s", problems);
    return tk_train_validate(c, err) ? tk_fail_prefix(err, "%s: ", path) : 0;
}
