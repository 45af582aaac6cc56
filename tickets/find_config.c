/* find_config.c - the find specification: parsing, validation, canonical form and hash. */
#include <cJSON.h>
#include <openssl/evp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_find.h"

enum { DEFAULT_LEVELS = 10 };

/* Fails on keys of `obj` not in keys[], naming the path and the nearest key. */
static int check_keys(const cJSON *obj, const char *const *keys, int n, const char *path, const char *where,
                      tk_error *err) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        int i;
        if (tk_parse_name("key", it->string, keys, n, &i, err) == 0) continue;
        return tk_fail_prefix(err, "%s: %s: ", path, where);
    }
    return 0;
}

static int need(bool ok, const char *path, const char *key, const char *what, tk_error *err) {
    return ok ? 0 : tk_fail(err, "%s: %s must be %s", path, key, what);
}

static int parse_pruning(const cJSON *p, const char *path, tk_find_config *c, tk_error *err) {
    static const char *const keys[] = {"strategy", "rate", "levels", "rates", "exclude_output", "exclude",
                                       "densities"};
    static const char *const rate_keys[] = {"conv", "linear", "output"};
    if (need(cJSON_IsObject(p), path, "pruning", "an object", err) ||
        check_keys(p, keys, TK_ARRAY_LEN(keys), path, "pruning", err))
        return -1;
    tk_prune_config *q = &c->prune;
    const cJSON *it;
    if ((it = cJSON_GetObjectItemCaseSensitive(p, "strategy"))) {
        int s;
        if (need(cJSON_IsString(it), path, "pruning.strategy", "a string", err)) return -1;
        if (tk_parse_name("strategy", it->valuestring, tk_prune_strategy_names, TK_PRUNE_COUNT, &s, err))
            return tk_fail_prefix(err, "%s: pruning.strategy: ", path);
        q->strategy = (tk_prune_strategy)s;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(p, "rate"))) {
        if (need(cJSON_IsNumber(it) && tk_fits_float(it->valuedouble), path, "pruning.rate", "a number in (0, 1)", err))
            return -1;
        q->rate = (float)it->valuedouble;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(p, "levels"))) {
        if (need(cJSON_IsNumber(it) && tk_whole_in(it->valuedouble, 0, TK_CONTROL_MAX_LEVEL), path, "pruning.levels", "a whole number in [0, 100]", err))
            return -1;
        c->levels = (int)it->valuedouble;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(p, "exclude_output"))) {
        if (need(cJSON_IsBool(it), path, "pruning.exclude_output", "true or false", err)) return -1;
        q->exclude_output = cJSON_IsTrue(it);
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(p, "rates"))) {
        if (need(cJSON_IsObject(it), path, "pruning.rates", "an object", err) ||
            check_keys(it, rate_keys, 3, path, "pruning.rates", err))
            return -1;
        float *dst[] = {&q->rate_conv, &q->rate_linear, &q->rate_output};
        for (int i = 0; i < 3; i++) {
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, rate_keys[i]);
            if (!r) continue;
            if (need(cJSON_IsNumber(r) && tk_fits_float(r->valuedouble), path, "pruning.rates values",
                     "numbers in (0, 1)", err))
                return -1;
            *dst[i] = (float)r->valuedouble;
        }
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(p, "exclude"))) {
        if (need(cJSON_IsArray(it) && cJSON_GetArraySize(it) <= TK_PRUNE_MAX_EXCLUDE, path, "pruning.exclude",
                 "an array of at most 16 parameter names", err))
            return -1;
        const cJSON *e;
        cJSON_ArrayForEach(e, it) {
            if (need(cJSON_IsString(e) && strlen(e->valuestring) < 64, path, "pruning.exclude entries",
                     "parameter names such as \"fc3.weight\"", err))
                return -1;
            snprintf(q->exclude[q->n_exclude++], 64, "%s", e->valuestring);
        }
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(p, "densities"))) {
        if (need(cJSON_IsArray(it) && cJSON_GetArraySize(it) <= TK_PRUNE_MAX_DENSITIES, path, "pruning.densities",
                 "an array of at most 32 numbers", err))
            return -1;
        const cJSON *e;
        cJSON_ArrayForEach(e, it) {
            if (need(cJSON_IsNumber(e) && tk_fits_float(e->valuedouble), path, "pruning.densities entries",
                     "numbers in (0, 1)", err))
                return -1;
            q->densities[q->n_densities++] = (float)e->valuedouble;
        }
        c->levels = q->n_densities;
    }
    return 0;
}

int tk_find_config_from_json(const char *text, const char *path, tk_find_config *c, tk_error *err) {
    static const char *const keys[] = {"train", "pruning", "rewind", "controls", "l1_penalty"};
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return tk_fail(err, "%s: not valid JSON (near byte %ld)", path, at ? (long)(at - text) : -1L);
    }
    memset(c, 0, sizeof *c);
    c->prune = tk_prune_defaults();
    c->levels = DEFAULT_LEVELS;
    c->l1_penalty = TK_DEFAULT_L1_PENALTY;
    int rc = need(cJSON_IsObject(root), path, "the file", "a JSON object", err);
    if (rc == 0) rc = check_keys(root, keys, TK_ARRAY_LEN(keys), path, "top level", err);
    const cJSON *train = cJSON_GetObjectItemCaseSensitive(root, "train");
    if (rc == 0) rc = need(cJSON_IsObject(train), path, "\"train\"", "an object with at least \"model\" and \"dataset\"", err);
    if (rc == 0) {
        char *sub = cJSON_PrintUnformatted(train);
        char where[1100];
        snprintf(where, sizeof where, "%s: train", path);
        rc = tk_train_config_from_json(sub, where, &c->train, err);
        free(sub);
        if (rc == 0 && !c->train.dataset[0]) rc = tk_fail(err, "%s: train.dataset is required", path);
    }
    const cJSON *it;
    if (rc == 0 && (it = cJSON_GetObjectItemCaseSensitive(root, "pruning"))) rc = parse_pruning(it, path, c, err);
    if (rc == 0 && (it = cJSON_GetObjectItemCaseSensitive(root, "rewind"))) {
        rc = need(cJSON_IsString(it), path, "rewind", "a duration such as \"0it\", \"500it\" or \"1ep\"", err);
        if (rc == 0 && tk_duration_parse(it->valuestring, &c->rewind, err)) rc = tk_fail_prefix(err, "%s: rewind: ", path);
    }
    if (rc == 0 && (it = cJSON_GetObjectItemCaseSensitive(root, "controls"))) {
        rc = need(cJSON_IsArray(it), path, "controls", "an array of control names", err);
        const cJSON *e;
        cJSON_ArrayForEach(e, it) {
            tk_control k;
            if (rc == 0) rc = need(cJSON_IsString(e), path, "controls entries", "strings", err);
            if (rc == 0 && tk_control_parse(e->valuestring, &k, err))
                rc = tk_fail_prefix(err, "%s: controls: ", path);
            if (rc == 0) c->controls[k] = true;
        }
    }
    if (rc == 0 && (it = cJSON_GetObjectItemCaseSensitive(root, "l1_penalty"))) {
        rc = need(cJSON_IsNumber(it) && it->valuedouble > 0 && tk_fits_float(it->valuedouble), path, "l1_penalty", "a positive number", err);
        if (rc == 0) c->l1_penalty = (float)it->valuedouble;
    }
    cJSON_Delete(root);
    if (rc == 0 && tk_find_config_validate(c, err)) rc = tk_fail_prefix(err, "%s: ", path);
    return rc;
}

int tk_find_config_validate(const tk_find_config *c, tk_error *err) {
    if (tk_train_validate(&c->train, err)) return -1;
    if (c->prune.n_densities == 0 && !(c->prune.rate > 0 && c->prune.rate < 1))
        return tk_fail(err, "pruning.rate %g must be in (0, 1): the fraction of remaining weights pruned per round",
                       c->prune.rate);
    if (c->levels < 0 || c->levels > TK_CONTROL_MAX_LEVEL)
        return tk_fail(err, "pruning.levels %d must be in [0, %d]", c->levels, TK_CONTROL_MAX_LEVEL);
    /* The rewind point against the length: both in epochs and iterations, so
     * only an obvious excess is caught here; the trainer checks the exact
     * iteration once it knows the epoch size. */
    if (c->rewind.iterations == 0 && c->train.length.iterations == 0 && c->rewind.epochs > c->train.length.epochs)
        return tk_fail(err, "the rewind point %lldep is beyond the training length of %lldep",
                       (long long)c->rewind.epochs, (long long)c->train.length.epochs);
    return 0;
}

/* Adds to dst the entries of full whose printed value differs from base's. */
static void add_non_defaults(cJSON *dst, const cJSON *full, const cJSON *base, const char *const *always, int n) {
    const char *names[64];
    int count = 0;
    for (const cJSON *it = full->child; it && count < 64; it = it->next) names[count++] = it->string;
    /* sorted keys: a stable canonical text */
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (int i = 0; i < count; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(full, names[i]);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(base, names[i]);
        bool keep = !b || !cJSON_Compare(a, b, true);
        for (int k = 0; k < n; k++) keep |= !strcmp(names[i], always[k]);
        if (keep) cJSON_AddItemToObject(dst, names[i], cJSON_Duplicate(a, true));
    }
}

static cJSON *pruning_json(const tk_find_config *c) {
    const tk_prune_config *q = &c->prune;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "strategy", tk_prune_strategy_names[q->strategy]);
    cJSON_AddNumberToObject(o, "rate", q->rate);
    cJSON_AddBoolToObject(o, "exclude_output", q->exclude_output);
    if (q->rate_conv >= 0 || q->rate_linear >= 0 || q->rate_output >= 0) {
        cJSON *r = cJSON_AddObjectToObject(o, "rates");
        if (q->rate_conv >= 0) cJSON_AddNumberToObject(r, "conv", q->rate_conv);
        if (q->rate_linear >= 0) cJSON_AddNumberToObject(r, "linear", q->rate_linear);
        if (q->rate_output >= 0) cJSON_AddNumberToObject(r, "output", q->rate_output);
    }
    if (q->n_exclude) {
        cJSON *e = cJSON_AddArrayToObject(o, "exclude");
        for (int i = 0; i < q->n_exclude; i++) cJSON_AddItemToArray(e, cJSON_CreateString(q->exclude[i]));
    }
    if (q->n_densities) {
        cJSON *d = cJSON_AddArrayToObject(o, "densities");
        for (int i = 0; i < q->n_densities; i++) cJSON_AddItemToArray(d, cJSON_CreateNumber(q->densities[i]));
    }
    return o;
}

char *tk_find_canonical_json(const tk_find_config *c) {
    tk_find_config defaults = {.prune = tk_prune_defaults(), .levels = DEFAULT_LEVELS};
    tk_error ignored;
    int rc = tk_train_defaults(c->train.model, &defaults.train, &ignored);
    TK_ASSERT(rc == 0);
    snprintf(defaults.train.dataset, sizeof defaults.train.dataset, "%s", c->train.dataset);
    char *full_train = tk_train_config_to_json(&c->train), *base_train = tk_train_config_to_json(&defaults.train);
    cJSON *ft = cJSON_Parse(full_train), *bt = cJSON_Parse(base_train);
    cJSON *fp = pruning_json(c), *bp = pruning_json(&defaults);
    cJSON *root = cJSON_CreateObject();
    cJSON *pruning = cJSON_CreateObject();
    add_non_defaults(pruning, fp, bp, NULL, 0);
    if (pruning->child) cJSON_AddItemToObject(root, "pruning", pruning);
    else cJSON_Delete(pruning);
    if (c->rewind.epochs || c->rewind.iterations) {
        char text[64];
        tk_duration_format(c->rewind, text, sizeof text);
        cJSON_AddStringToObject(root, "rewind", text);
    }
    if (c->l1_penalty != TK_DEFAULT_L1_PENALTY) cJSON_AddNumberToObject(root, "l1_penalty", c->l1_penalty);
    static const char *const always[] = {"model", "dataset"};
    /* How often checkpoints are written changes no result. */
    cJSON_DeleteItemFromObjectCaseSensitive(ft, "checkpoint_every");
    cJSON *train = cJSON_AddObjectToObject(root, "train");
    add_non_defaults(train, ft, bt, always, 2);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root), cJSON_Delete(ft), cJSON_Delete(bt), cJSON_Delete(fp), cJSON_Delete(bp);
    free(full_train), free(base_train);
    return text;
}

void tk_find_hash(const tk_find_config *c, char out[17]) {
    char *text = tk_find_canonical_json(c);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = EVP_Digest(text, strlen(text), digest, &n, EVP_sha256(), NULL);
    TK_ASSERT(ok == 1 && n >= 8);
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", digest[i]);
    free(text);
}
