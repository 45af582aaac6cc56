/* study_spec.c - the study specification: parsing, with every problem reported together. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_study.h"

const char *const tk_head_names[] = {"reinit_dense", "reinit_same_density"};
_Static_assert(sizeof tk_head_names / sizeof tk_head_names[0] == TK_HEAD_COUNT, "head name table");

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

static void parse_sides(const tk_json_at *at, const cJSON *root, const char *key, tk_study_side *sides, int *n,
                        tk_find_config *first, tk_json_problems *p) {
    static const char *const side_keys[] = {"name", "train"};
    const cJSON *list;
    tk_error e;
    if (tk_json_array(at, root, key, "the study's sides: [{\"name\": ..., \"train\": {...}}]", TK_STUDY_MAX_SIDES,
                      &list, &e) < 0) {
        tk_json_note(p, &e);
        return;
    }
    tk_json_at lat = tk_json_key(at, key);
    if (!list->child) {
        tk_json_wrong(&lat, list, "an array of 1 or more sides {\"name\": ..., \"train\": {...}}", &e);
        tk_json_note(p, &e);
        return;
    }
    int i = 0;
    for (const cJSON *side = list->child; side; side = side->next, i++) {
        tk_json_at sat = tk_json_index(&lat, i);
        if (!cJSON_IsObject(side)) {
            tk_json_wrong(&sat, side, "an object {\"name\": ..., \"train\": {...}}", &e);
            tk_json_note(p, &e);
            continue;
        }
        char name[sizeof sides->name];
        int bad = tk_json_note_keys(p, &sat, side, side_keys, TK_ARRAY_LEN(side_keys));
        if (tk_json_string(&sat, side, "name", "the label in tables", name, sizeof name, &e) < 0)
            tk_json_note(p, &e), bad = 1;
        if (bad) continue;
        /* The side's find specification is made up (the study's keys and its
         * own), so its messages name the side and the key within it. */
        char where[1200];
        snprintf(where, sizeof where, "%s: %s", at->source, sat.path);
        cJSON *spec = side_spec(root, side);
        char *text = cJSON_PrintUnformatted(spec);
        tk_find_config c;
        if (tk_find_config_from_json(text, where, &c, &e)) {
            tk_json_note(p, &e);
        } else {
            snprintf(sides[*n].name, sizeof sides[*n].name, "%s", name);
            sides[(*n)++].train = c.train;
            if (first) *first = c;
        }
        free(text);
        cJSON_Delete(spec);
    }
}

/* "transfer_levels": "all" (nothing listed) or levels in [0, levels]. */
static void parse_transfer_levels(const tk_json_at *at, const cJSON *root, tk_study *s, tk_json_problems *p) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "transfer_levels"), *list;
    tk_json_at lat = tk_json_key(at, "transfer_levels");
    tk_error e;
    if (!it || (cJSON_IsString(it) && !strcmp(it->valuestring, "all"))) return;
    if (!cJSON_IsArray(it) || tk_json_array(at, root, "transfer_levels", NULL, 64, &list, &e) < 0) {
        tk_json_wrong(&lat, it, "\"all\" or an array of at most 64 levels", &e);
        tk_json_note(p, &e);
        return;
    }
    int i = 0;
    for (const cJSON *v = list->child; v; v = v->next, i++) {
        tk_json_at vat = tk_json_index(&lat, i);
        int level;
        /* With a bad side the levels are unknown, and the side's problem says why. */
        if (s->levels < 0) continue;
        if (tk_json_int(&vat, v, NULL, NULL, 0, s->levels, &level, &e) < 0) tk_json_note(p, &e);
        else s->transfer_levels[s->n_transfer_levels++] = level;
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
    tk_json_at at = tk_json_root(path);
    tk_json_problems p = {"", 0};
    tk_error e;
    tk_json_note_keys(&p, &at, root, keys, TK_ARRAY_LEN(keys));
    snprintf(s->name, sizeof s->name, "study");
    if (tk_json_string(&at, root, "name", NULL, s->name, sizeof s->name, &e) < 0) tk_json_note(&p, &e);
    const char *model;
    int got = tk_json_text(&at, root, "model", "the model, see `ticket models`", &model, &e);
    tk_json_at mat = tk_json_key(&at, "model");
    if (got == 1 && !tk_model_lookup(model, &e)) tk_json_prefix(&mat, &e), got = -1;
    if (got < 0) tk_json_note(&p, &e);
    tk_find_config first = {0};
    first.levels = -1;
    parse_sides(&at, root, "sources", s->sources, &s->n_sources, &first, &p);
    parse_sides(&at, root, "targets", s->targets, &s->n_targets, NULL, &p);
    s->prune = first.prune;
    s->levels = first.levels;
    s->rewind = first.rewind;
    s->workers = 1;
    s->seeds[0] = 0;
    s->n_seeds = 1;
    const cJSON *list;
    got = tk_json_array(&at, root, "seeds", NULL, TK_STUDY_MAX_SEEDS, &list, &e);
    tk_json_at sat = tk_json_key(&at, "seeds");
    if (got == 1 && !list->child) got = tk_json_wrong(&sat, list, "an array of 1 or more seeds", &e);
    if (got < 0) tk_json_note(&p, &e);
    if (got == 1) {
        s->n_seeds = 0;
        for (const cJSON *v = list->child; v; v = v->next) {
            tk_json_at vat = tk_json_index(&sat, s->n_seeds);
            int64_t seed = 0;
            if (tk_json_int64(&vat, v, NULL, NULL, 0, (int64_t)TK_MAX_SEED, &seed, &e) < 0) tk_json_note(&p, &e);
            s->seeds[s->n_seeds++] = (uint64_t)seed;
        }
    }
    parse_transfer_levels(&at, root, s, &p);
    /* The native ticket and the dense network are always trained; the
     * controls go beside every native ticket and (l1 but) every transferred one. */
    tk_control_read(&at, root, "controls", s->controls, &p);
    int head = 0;
    if (tk_json_name(&at, root, "head", NULL, "head policy", tk_head_names, TK_HEAD_COUNT, &head, &e) < 0)
        tk_json_note(&p, &e);
    s->head = (tk_head_policy)head;
    if (tk_json_int(&at, root, "workers", NULL, 1, 64, &s->workers, &e) < 0) tk_json_note(&p, &e);
    got = tk_json_array(&at, root, "matrix_densities", NULL, TK_ARRAY_LEN(s->matrix_densities), &list, &e);
    tk_json_at dat = tk_json_key(&at, "matrix_densities");
    if (got < 0) tk_json_note(&p, &e);
    for (const cJSON *v = got == 1 ? list->child : NULL; v; v = v->next) {
        tk_json_at vat = tk_json_index(&dat, s->n_matrix_densities);
        double d;
        got = tk_json_double(&vat, v, NULL, NULL, &d, &e);
        if (got == 1 && !(d > 0 && d <= 1)) got = tk_json_wrong(&vat, v, "a fraction in (0, 1]", &e);
        if (got < 0) tk_json_note(&p, &e);
        else s->matrix_densities[s->n_matrix_densities++] = d;
    }
    cJSON_Delete(root);
    return tk_json_problems_fail(&p, "in the study specification", err);
}

int tk_study_check_data(const tk_study *s, tk_error *err) {
    tk_json_problems p = {"", 0};
    const tk_study_side *sides[2 * TK_STUDY_MAX_SIDES];
    int n = 0;
    for (int i = 0; i < s->n_sources; i++) sides[n++] = &s->sources[i];
    for (int i = 0; i < s->n_targets; i++) sides[n++] = &s->targets[i];
    tk_shape shape = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        tk_error e = {0};
        const char *role = i < s->n_sources ? "source" : "target";
        /* Reading and preparing the data as a run will: presence, format, adaptation. */
        tk_model *m = tk_train_create_model(&sides[i]->train, &e);
        if (!m) {
            tk_fail_prefix(&e, "%s %s: ", role, sides[i]->name);
            tk_json_note(&p, &e);
            continue;
        }
        if (shape.C == 0) shape = m->input;
        if (m->input.C != shape.C || m->input.H != shape.H || m->input.W != shape.W) {
            tk_fail(&e, "%s %s: input %dx%dx%d differs from the first side's %dx%dx%d; tickets move only between "
                        "equal shapes: set \"input\" in the study",
                    role, sides[i]->name, m->input.C, m->input.H, m->input.W, shape.C, shape.H, shape.W);
            tk_json_note(&p, &e);
        }
        tk_model_free(m);
    }
    return tk_json_problems_fail(&p, "with the study's data", err);
}
