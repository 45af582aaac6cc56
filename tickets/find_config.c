/* find_config.c - the find specification: parsing, validation, canonical form and hash. */
#include <cJSON.h>
#include <openssl/evp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_find.h"
#include "tk_json.h"

enum { DEFAULT_LEVELS = 10 };

static bool listed(const char *key, const char *const *keys) {
    for (; *keys; keys++)
        if (!strcmp(key, *keys)) return true;
    return false;
}

/* "pruning" may hold the keys every strategy reads and those of its own
 * strategy; a key of another strategy is named as such. */
static int check_pruning_keys(const tk_json_at *at, const cJSON *p, tk_prune_strategy strategy, tk_error *err) {
    const char *keys[32];
    int n = 0;
    for (const char *const *k = tk_prune_common_keys; *k; k++) keys[n++] = *k;
    for (const char *const *k = tk_prune_strategies[strategy].keys; *k; k++) keys[n++] = *k;
    TK_ASSERT(n < TK_ARRAY_LEN(keys));
    keys[n] = NULL;
    for (const cJSON *k = p->child; k; k = k->next)
        for (int s = 0; s < TK_PRUNE_COUNT && !listed(k->string, keys); s++)
            if (listed(k->string, tk_prune_strategies[s].keys)) {
                tk_json_at kat = tk_json_key(at, k->string);
                return tk_json_fail(&kat, err, "is read by the %s strategy only; set \"strategy\": \"%s\" or remove it",
                                    tk_prune_strategies[s].name, tk_prune_strategies[s].name);
            }
    return tk_json_check_keys(at, p, keys, n, err);
}

static int parse_pruning(const tk_json_at *root, const cJSON *spec, tk_find_config *c, tk_error *err) {
    static const char *const rate_keys[] = {"conv", "linear", "output"};
    const cJSON *p, *it;
    int got = tk_json_object(root, spec, "pruning", NULL, &p, err);
    if (got <= 0) return got;
    tk_json_at at = tk_json_key(root, "pruning");
    tk_prune_config *q = &c->prune;
    const char *strategy;
    if ((got = tk_json_text(&at, p, "strategy", NULL, &strategy, err)) < 0) return -1;
    if (got && tk_prune_strategy_parse(strategy, &q->strategy, err)) {
        tk_json_at sat = tk_json_key(&at, "strategy");
        return tk_json_prefix(&sat, err);
    }
    if (check_pruning_keys(&at, p, q->strategy, err) || tk_json_float(&at, p, "rate", NULL, &q->rate, err) < 0 ||
        tk_json_int(&at, p, "levels", NULL, 0, TK_CONTROL_MAX_LEVEL, &c->levels, err) < 0 ||
        tk_json_bool(&at, p, "exclude_output", NULL, &q->exclude_output, err) < 0)
        return -1;
    if ((got = tk_json_object(&at, p, "rates", NULL, &it, err)) < 0) return -1;
    if (got) {
        tk_json_at rat = tk_json_key(&at, "rates");
        float *dst[] = {&q->rate_conv, &q->rate_linear, &q->rate_output};
        if (tk_json_check_keys(&rat, it, rate_keys, TK_ARRAY_LEN(rate_keys), err)) return -1;
        for (int i = 0; i < TK_ARRAY_LEN(rate_keys); i++)
            if (tk_json_float(&rat, it, rate_keys[i], NULL, dst[i], err) < 0) return -1;
    }
    if ((got = tk_json_array(&at, p, "exclude", NULL, TK_PRUNE_MAX_EXCLUDE, &it, err)) < 0) return -1;
    if (got) {
        tk_json_at eat = tk_json_key(&at, "exclude");
        for (const cJSON *e = it->child; e; e = e->next) {
            tk_json_at one = tk_json_index(&eat, q->n_exclude);
            if (tk_json_string(&one, e, NULL, "a parameter name such as \"fc3.weight\"", q->exclude[q->n_exclude],
                               sizeof q->exclude[0], err) < 0)
                return -1;
            q->n_exclude++;
        }
    }
    if ((got = tk_json_array(&at, p, "densities", NULL, TK_PRUNE_MAX_DENSITIES, &it, err)) < 0) return -1;
    if (got) {
        tk_json_at dat = tk_json_key(&at, "densities");
        for (const cJSON *e = it->child; e; e = e->next) {
            tk_json_at one = tk_json_index(&dat, q->n_densities);
            if (tk_json_float(&one, e, NULL, NULL, &q->densities[q->n_densities++], err) < 0) return -1;
        }
        c->levels = q->n_densities;
    }
    return 0;
}

static int parse_spec(const tk_json_at *at, const cJSON *root, tk_find_config *c, tk_error *err) {
    static const char *const keys[] = {"train", "pruning", "rewind", "controls", "l1_penalty"};
    const cJSON *train;
    if (!cJSON_IsObject(root)) return tk_json_wrong(at, root, "a JSON object", err);
    if (tk_json_check_keys(at, root, keys, TK_ARRAY_LEN(keys), err) ||
        tk_json_object(at, root, "train", "the training run: at least \"model\" and \"dataset\"", &train, err) < 0)
        return -1;
    tk_json_at tat = tk_json_key(at, "train");
    if (tk_train_config_read(&tat, train, &c->train, err)) return -1;
    if (!c->train.dataset[0])
        return tk_fail(err, "%s: missing required key 'train.dataset' (the dataset the ticket is found on)",
                       at->source);
    if (parse_pruning(at, root, c, err) || tk_json_duration(at, root, "rewind", NULL, &c->rewind, err) < 0)
        return -1;
    tk_json_problems controls = {"", 0};
    if (tk_control_read(at, root, "controls", c->controls, &controls)) return tk_json_problems_fail(&controls, NULL, err);
    int got;
    if ((got = tk_json_float(at, root, "l1_penalty", NULL, &c->l1_penalty, err)) < 0) return -1;
    if (got && !(c->l1_penalty > 0)) {
        tk_json_at lat = tk_json_key(at, "l1_penalty");
        return tk_json_wrong(&lat, cJSON_GetObjectItemCaseSensitive(root, "l1_penalty"), "a positive number", err);
    }
    return 0;
}

int tk_find_config_from_json(const char *text, const char *path, tk_find_config *c, tk_error *err) {
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return tk_fail(err, "%s: not valid JSON (near byte %ld)", path, at ? (long)(at - text) : -1L);
    }
    memset(c, 0, sizeof *c);
    c->prune = tk_prune_defaults();
    c->levels = DEFAULT_LEVELS;
    c->l1_penalty = TK_DEFAULT_L1_PENALTY;
    tk_json_at at = tk_json_root(path);
    int rc = parse_spec(&at, root, c, err);
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
    cJSON_AddStringToObject(o, "strategy", tk_prune_strategies[q->strategy].name);
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
