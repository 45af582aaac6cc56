/* study_spec.c - the study specification: parsing, with every problem reported together. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_study.h"

const char *const tk_head_names[TK_HEAD_COUNT] = {"reinit_dense", "reinit_same_density"};
_Static_assert(sizeof tk_head_names / sizeof tk_head_names[0] == TK_HEAD_COUNT, "head name table");

/* Problems are collected one per line, so a user fixes them in one pass. */
typedef struct problems {
    char text[sizeof(((tk_error *)0)->msg)];
    int count;
} problems;

static void note(problems *p, const char *msg) {
    size_t len = strlen(p->text);
    snprintf(p->text + len, sizeof p->text - len, "%s%s", p->count++ ? "\n  " : "", msg);
}

/* The find specification of one side: the study's model, width and input,
 * then the study's common train keys, then the side's own. */
static cJSON *side_spec(const cJSON *root, const cJSON *side) {
    cJSON *train = cJSON_CreateObject();
    const char *common[] = {"model", "width", "input"};
    for (int i = 0; i < 3; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, common[i]);
        if (it) cJSON_AddItemToObject(train, common[i], cJSON_Duplicate(it, true));
    }
    /* An unknown model is reported once, at the top level; the sides are
     * still checked, against a model that exists. */
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(train, "model");
    if (cJSON_IsString(model) && !tk_model_find(model->valuestring)) {
        int n;
        cJSON_ReplaceItemInObjectCaseSensitive(train, "model", cJSON_CreateString(tk_model_registry(&n)[0].name));
    }
    const cJSON *layers[] = {cJSON_GetObjectItemCaseSensitive(root, "train"),
                             cJSON_GetObjectItemCaseSensitive(side, "train")};
    for (int l = 0; l < 2; l++) {
        if (!cJSON_IsObject(layers[l])) continue;
        for (const cJSON *it = layers[l]->child; it; it = it->next) {
            cJSON_DeleteItemFromObjectCaseSensitive(train, it->string);
            cJSON_AddItemToObject(train, it->string, cJSON_Duplicate(it, true));
        }
    }
    cJSON *spec = cJSON_CreateObject();
    cJSON_AddItemToObject(spec, "train", train);
    const char *keys[] = {"pruning", "rewind"};
    for (int i = 0; i < 2; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        if (it) cJSON_AddItemToObject(spec, keys[i], cJSON_Duplicate(it, true));
    }
    return spec;
}

static void parse_sides(const cJSON *root, const char *key, const char *path, tk_study_side *sides, int *n,
                        tk_find_config *first, problems *p) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, key);
    char msg[4096];
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0 || cJSON_GetArraySize(list) > TK_STUDY_MAX_SIDES) {
        snprintf(msg, sizeof msg, "%s: %s must be an array of 1 to %d entries {\"name\": ..., \"train\": {...}}", path,
                 key, TK_STUDY_MAX_SIDES);
        note(p, msg);
        return;
    }
    static const char *const side_keys[] = {"name", "train"};
    int i = 0;
    const cJSON *side;
    cJSON_ArrayForEach(side, list) {
        char where[1200];
        snprintf(where, sizeof where, "%s: %s[%d]", path, key, i);
        tk_error err = {0};
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(side, "name");
        int bad = 0;
        for (const cJSON *it = cJSON_IsObject(side) ? side->child : NULL; it; it = it->next) {
            int k;
            if (tk_parse_name("key", it->string, side_keys, 2, &k, &err)) {
                snprintf(msg, sizeof msg, "%s: %s", where, err.msg);
                note(p, msg), bad = 1;
            }
        }
        if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= 64) {
            snprintf(msg, sizeof msg, "%s: \"name\" must be a short non-empty string (the label in tables)", where);
            note(p, msg), bad = 1;
        }
        if (!bad) {
            cJSON *spec = side_spec(root, side);
            char *text = cJSON_PrintUnformatted(spec);
            tk_find_config c;
            if (tk_find_config_from_json(text, where, &c, &err)) {
                note(p, err.msg);
            } else {
                snprintf(sides[*n].name, sizeof sides[*n].name, "%s", name->valuestring);
                sides[(*n)++].train = c.train;
                if (first) *first = c;
            }
            free(text);
            cJSON_Delete(spec);
        }
        i++;
    }
}

int tk_study_from_json(const char *text, const char *path, tk_study *s, tk_error *err) {
    static const char *const keys[] = {"name", "model", "width", "input", "train", "sources", "targets",
                                       "pruning", "rewind", "transfer_levels", "controls", "head", "seeds",
                                       "workers", "matrix_densities"};
    memset(s, 0, sizeof *s);
    cJSON *root = cJSON_Parse(text);
    if (!root || !cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        cJSON_Delete(root);
        return tk_fail(err, "%s: not a valid JSON object (near byte %ld)", path, at ? (long)(at - text) : -1L);
    }
    problems p = {{0}, 0};
    char msg[4096];
    tk_error e = {0};
    for (const cJSON *it = root->child; it; it = it->next) {
        int k;
        if (tk_parse_name("key", it->string, keys, TK_ARRAY_LEN(keys), &k, &e)) {
            snprintf(msg, sizeof msg, "%s: top level: %s", path, e.msg);
            note(&p, msg);
        }
    }
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "name");
    snprintf(s->name, sizeof s->name, "%s", cJSON_IsString(it) ? it->valuestring : "study");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsString(model)) {
        snprintf(msg, sizeof msg, "%s: \"model\" is required (see `ticket models`)", path);
        note(&p, msg);
    } else if (!tk_model_find(model->valuestring)) {
        tk_model_config probe = {.name = model->valuestring, .classes = 10, .width = 1};
        tk_model_free(tk_model_create(&probe, &e));
        snprintf(msg, sizeof msg, "%s: model: %s", path, e.msg);
        note(&p, msg);
    }
    tk_find_config first = {0};
    first.levels = -1;
    parse_sides(root, "sources", path, s->sources, &s->n_sources, &first, &p);
    parse_sides(root, "targets", path, s->targets, &s->n_targets, NULL, &p);
    s->prune = first.prune;
    s->levels = first.levels;
    s->rewind = first.rewind;
    s->workers = 1;
    s->seeds[0] = 0;
    s->n_seeds = 1;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "seeds"))) {
        s->n_seeds = 0;
        const cJSON *v;
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) < 1 || cJSON_GetArraySize(it) > TK_STUDY_MAX_SEEDS) {
            snprintf(msg, sizeof msg, "%s: seeds must be an array of 1 to %d whole numbers", path, TK_STUDY_MAX_SEEDS);
            note(&p, msg);
        } else {
            cJSON_ArrayForEach(v, it) {
                bool ok = cJSON_IsNumber(v) && tk_whole_in(v->valuedouble, 0, (int64_t)TK_MAX_SEED);
                if (!ok) {
                    snprintf(msg, sizeof msg, "%s: seeds[%d] must be a whole number in [0, %llu]", path, s->n_seeds,
                             (unsigned long long)TK_MAX_SEED);
                    note(&p, msg);
                }
                s->seeds[s->n_seeds++] = ok ? (uint64_t)v->valuedouble : 0;
            }
        }
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "transfer_levels")) && !cJSON_IsString(it)) {
        const cJSON *v;
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > 64) {
            snprintf(msg, sizeof msg, "%s: transfer_levels must be \"all\" or an array of levels", path);
            note(&p, msg);
        } else {
            cJSON_ArrayForEach(v, it) {
                if (!cJSON_IsNumber(v) || s->levels < 0 ||
                    !tk_whole_in(v->valuedouble, 0, s->levels)) {
                    snprintf(msg, sizeof msg, "%s: transfer_levels: %g is not a level in [0, %d]", path,
                             cJSON_IsNumber(v) ? v->valuedouble : -1.0, s->levels);
                    note(&p, msg);
                } else {
                    s->transfer_levels[s->n_transfer_levels++] = (int)v->valuedouble;
                }
            }
        }
    } else if (it && strcmp(it->valuestring, "all")) {
        snprintf(msg, sizeof msg, "%s: transfer_levels must be \"all\" or an array of levels, not \"%s\"", path,
                 it->valuestring);
        note(&p, msg);
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "controls"))) {
        /* The native ticket and the dense network are always trained; these
         * go beside every native ticket and (l1 but) every transferred one. */
        if (!cJSON_IsArray(it)) {
            snprintf(msg, sizeof msg, "%s: controls must be an array of control names, e.g. [\"reinit\", "
                     "\"random_ticket\"]", path);
            note(&p, msg);
        }
        const cJSON *v, *list = cJSON_IsArray(it) ? it : NULL;
        int i = 0;
        tk_control k = TK_CONTROL_REINIT;
        cJSON_ArrayForEach(v, list) {
            if (!cJSON_IsString(v) || tk_control_parse(v->valuestring, &k, &e)) {
                snprintf(msg, sizeof msg, "%s: controls[%d]: %s", path, i,
                         cJSON_IsString(v) ? e.msg : "must be a string, a control's name");
                note(&p, msg);
            } else {
                s->controls[k] = true;
            }
            i++;
        }
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "head"))) {
        int h = 0;
        if (!cJSON_IsString(it) || tk_parse_name("head policy", it->valuestring, tk_head_names, TK_HEAD_COUNT, &h, &e)) {
            snprintf(msg, sizeof msg, "%s: head: %s", path, cJSON_IsString(it) ? e.msg : "must be a string");
            note(&p, msg);
        }
        s->head = (tk_head_policy)h;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "workers"))) {
        if (!cJSON_IsNumber(it) || !tk_whole_in(it->valuedouble, 1, 64)) {
            snprintf(msg, sizeof msg, "%s: workers must be a whole number in [1, 64]", path);
            note(&p, msg);
        } else {
            s->workers = (int)it->valuedouble;
        }
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "matrix_densities"))) {
        const cJSON *v;
        cJSON_ArrayForEach(v, it) {
            if (s->n_matrix_densities < 8 && cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble <= 1) {
                s->matrix_densities[s->n_matrix_densities++] = v->valuedouble;
            } else {
                snprintf(msg, sizeof msg, "%s: matrix_densities must hold at most 8 fractions in (0, 1]", path);
                note(&p, msg);
            }
        }
    }
    cJSON_Delete(root);
    if (p.count)
        return tk_fail(err, "%d problem%s in the study specification:\n  %s", p.count, p.count > 1 ? "s" : "", p.text);
    return 0;
}

int tk_study_check_data(const tk_study *s, tk_error *err) {
    problems p = {{0}, 0};
    const tk_study_side *sides[2 * TK_STUDY_MAX_SIDES];
    int n = 0;
    for (int i = 0; i < s->n_sources; i++) sides[n++] = &s->sources[i];
    for (int i = 0; i < s->n_targets; i++) sides[n++] = &s->targets[i];
    tk_shape shape = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        tk_error e = {0};
        char msg[4096];
        /* Reading and preparing the data as a run will: presence, format, adaptation. */
        tk_model *m = tk_train_create_model(&sides[i]->train, &e);
        if (!m) {
            snprintf(msg, sizeof msg, "%s %s: %s", i < s->n_sources ? "source" : "target", sides[i]->name, e.msg);
            note(&p, msg);
            continue;
        }
        if (shape.C == 0) shape = m->input;
        if (m->input.C != shape.C || m->input.H != shape.H || m->input.W != shape.W) {
            snprintf(msg, sizeof msg, "%s %s: input %dx%dx%d differs from the first side's %dx%dx%d; tickets move "
                     "only between equal shapes: set \"input\" in the study", i < s->n_sources ? "source" : "target",
                     sides[i]->name, m->input.C, m->input.H, m->input.W, shape.C, shape.H, shape.W);
            note(&p, msg);
        }
        tk_model_free(m);
    }
    if (p.count) return tk_fail(err, "%d problem%s with the study's data:\n  %s", p.count, p.count > 1 ? "s" : "", p.text);
    return 0;
}
