/* regress.c - registry of published numbers, checked against a study's results.csv. */
#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_catalog.h"
#include "tk_file.h"
#include "tk_json.h"
#include "tk_model.h"
#include "tk_regress.h"

const char *const tk_regress_metric_names[] = {"final_accuracy", "best_accuracy"};
const char *const tk_regress_op_names[] = {"within", ">=", "<="};
const char *const tk_regress_status_names[] = {"PASS", "FAIL", "SKIP"};
_Static_assert(TK_ARRAY_LEN(tk_regress_metric_names) == TK_REGRESS_METRIC_COUNT, "one name per metric");
_Static_assert(TK_ARRAY_LEN(tk_regress_op_names) == TK_REGRESS_OP_COUNT, "one name per op");
_Static_assert(TK_ARRAY_LEN(tk_regress_status_names) == TK_REGRESS_STATUS_COUNT, "one name per status");

/* ---- loading registry files */

/* The row filters of a selection, at `at` ("check.left"). */
static int parse_select(const tk_json_at *at, const cJSON *o, tk_regress_select *s, tk_error *err) {
    static const char *const keys[] = {"target", "source", "control", "target_optimizer", "source_optimizer",
                                       "native", "level", "density_at_most", "density_at_least"};
    if (cJSON_HasObjectItem(o, "model") || cJSON_HasObjectItem(o, "study"))
        return tk_json_fail(at, err, "holds \"%s\", which is not a row filter: the entry's \"model\" and "
                                     "\"study_name\" apply to every selection it makes; set them next to \"id\"",
                            cJSON_HasObjectItem(o, "model") ? "model" : "study");
    s->density_max = 1.0;
    s->density_min = 0.0;
    bool native;
    int has_native;
    if (tk_json_check_keys(at, o, keys, TK_ARRAY_LEN(keys), err) ||
        tk_json_string(at, o, "target", NULL, s->target, sizeof s->target, err) < 0 ||
        tk_json_string(at, o, "source", NULL, s->source, sizeof s->source, err) < 0 ||
        tk_json_string(at, o, "control", NULL, s->control, sizeof s->control, err) < 0 ||
        tk_json_string(at, o, "target_optimizer", NULL, s->target_optimizer, sizeof s->target_optimizer, err) < 0 ||
        tk_json_string(at, o, "source_optimizer", NULL, s->source_optimizer, sizeof s->source_optimizer, err) < 0 ||
        tk_json_double(at, o, "density_at_most", NULL, &s->density_max, err) < 0 ||
        tk_json_double(at, o, "density_at_least", NULL, &s->density_min, err) < 0 ||
        (has_native = tk_json_bool(at, o, "native", NULL, &native, err)) < 0)
        return -1;
    s->native = has_native ? native : -1;
    const cJSON *level = cJSON_GetObjectItemCaseSensitive(o, "level");
    s->level = TK_REGRESS_ANY_LEVEL;
    if (cJSON_IsString(level) && !strcmp(level->valuestring, "sparsest")) s->level = TK_REGRESS_SPARSEST;
    else if (cJSON_IsNumber(level) && tk_whole_in(level->valuedouble, 0, INT_MAX))
        s->level = (int)level->valuedouble;
    else if (level) {
        char expected[64];
        snprintf(expected, sizeof expected, "a whole number in [0, %d] or \"sparsest\"", INT_MAX);
        tk_json_at lat = tk_json_key(at, "level");
        return tk_json_wrong(&lat, level, expected, err);
    }
    if (s->density_min > s->density_max)
        return tk_json_fail(at, err, "selects nothing: density_at_least %g is above density_at_most %g",
                            s->density_min, s->density_max);
    return 0;
}

static int parse_check(const tk_json_at *entry, const cJSON *o, tk_regress_entry *e, tk_error *err) {
    static const char *const kinds[] = {"value", "relation"};
    static const char *const value_keys[] = {"kind", "select", "value", "tolerance", "op"};
    static const char *const relation_keys[] = {"kind", "left", "op", "right", "margin"};
    const cJSON *c;
    if (tk_json_object(entry, o, "check", "an object with \"kind\": \"value\" or \"relation\"", &c, err) < 0)
        return -1;
    tk_json_at at = tk_json_key(entry, "check");
    int kind;
    if (tk_json_name(&at, c, "kind", "\"value\" or \"relation\"", "kind", kinds, TK_ARRAY_LEN(kinds), &kind, err) < 0)
        return -1;
    if (kind == 0) {
        int op = TK_REGRESS_WITHIN;
        const cJSON *select;
        tk_json_at sat = tk_json_key(&at, "select");
        if (tk_json_check_keys(&at, c, value_keys, TK_ARRAY_LEN(value_keys), err) ||
            tk_json_name(&at, c, "op", NULL, "op", tk_regress_op_names, TK_REGRESS_OP_COUNT, &op, err) < 0 ||
            tk_json_object(&at, c, "select", "the row filters of the rows compared", &select, err) < 0 ||
            parse_select(&sat, select, &e->left, err) ||
            tk_json_double(&at, c, "value", "the number to compare with", &e->value, err) < 0 ||
            tk_json_double(&at, c, "tolerance", "how far the measured number may be from the value", &e->tolerance,
                           err) < 0)
            return -1;
        e->op = (tk_regress_op)op;
        if (e->tolerance < 0) {
            tk_json_at tat = tk_json_key(&at, "tolerance");
            return tk_json_wrong(&tat, cJSON_GetObjectItemCaseSensitive(c, "tolerance"), "a number >= 0", err);
        }
        return 0;
    }
    /* A relation compares two selections: >= or <=, never "within". */
    static const char *const relation_ops[] = {">=", "<="};
    int op;
    if (tk_json_check_keys(&at, c, relation_keys, TK_ARRAY_LEN(relation_keys), err) ||
        tk_json_name(&at, c, "op", "\">=\" or \"<=\"", "op", relation_ops, TK_ARRAY_LEN(relation_ops), &op, err) < 0)
        return -1;
    e->relation = true;
    e->op = op == 0 ? TK_REGRESS_GE : TK_REGRESS_LE;
    const cJSON *l, *r;
    tk_json_at lat = tk_json_key(&at, "left"), rat = tk_json_key(&at, "right");
    if (tk_json_object(&at, c, "left", "the row filters of the rows on the left of op", &l, err) < 0 ||
        tk_json_object(&at, c, "right", "the row filters of the rows on the right of op", &r, err) < 0 ||
        parse_select(&lat, l, &e->left, err) || parse_select(&rat, r, &e->right, err) ||
        tk_json_double(&at, c, "margin", NULL, &e->margin, err) < 0)
        return -1;
    return 0;
}

/* "dataset": one name or an array of them. */
static int get_datasets(const tk_json_at *at, const cJSON *o, tk_regress_entry *e, tk_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "dataset");
    if (!v) return 0;
    tk_json_at dat = tk_json_key(at, "dataset");
    bool one = cJSON_IsString(v);
    int n = one ? 1 : cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (n < 1 || n > TK_REGRESS_MAX_DATASETS) {
        char expected[96];
        snprintf(expected, sizeof expected, "a dataset name or an array of 1 to %d of them", TK_REGRESS_MAX_DATASETS);
        return tk_json_wrong(&dat, v, expected, err);
    }
    for (int i = 0; i < n; i++) {
        tk_json_at iat = one ? dat : tk_json_index(&dat, i);
        if (tk_json_string(&iat, one ? v : cJSON_GetArrayItem(v, i), NULL, "a dataset name", e->datasets[i],
                           sizeof e->datasets[i], err) < 0)
            return -1;
    }
    e->n_datasets = n;
    return 0;
}

static int parse_entry(const cJSON *o, const char *path, const char *source, int index, tk_regress_entry *e,
                       tk_error *err) {
    static const char *const keys[] = {"id",      "citation", "model", "study_name", "dataset",
                                       "setting", "metric",   "check", "study"};
    char where[700];
    memset(e, 0, sizeof *e);
    snprintf(e->file, sizeof e->file, "%s", path);
    snprintf(e->source, sizeof e->source, "%s", source);
    /* Messages name an entry by its id, which a user searches the file for. */
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (cJSON_IsString(id)) snprintf(where, sizeof where, "%s: entry '%s'", path, id->valuestring);
    else snprintf(where, sizeof where, "%s: entries[%d]", path, index);
    tk_json_at at = tk_json_root(where);
    if (!cJSON_IsObject(o)) return tk_json_wrong(&at, o, "an object", err);
    int metric;
    if (tk_json_check_keys(&at, o, keys, TK_ARRAY_LEN(keys), err) ||
        tk_json_string(&at, o, "id", "a name unique in the file", e->id, sizeof e->id, err) < 0 ||
        tk_json_string(&at, o, "citation", "the paper the number is from", e->citation, sizeof e->citation, err) < 0 ||
        tk_json_string(&at, o, "model", "a model `ticket models` builds", e->model, sizeof e->model, err) < 0)
        return -1;
    /* A misspelt model would never match a study and the entry would SKIP forever. */
    if (!tk_model_lookup(e->model, err)) {
        tk_json_at mat = tk_json_key(&at, "model");
        return tk_json_prefix(&mat, err);
    }
    if (tk_json_string(&at, o, "study_name", NULL, e->study_name, sizeof e->study_name, err) < 0 ||
        get_datasets(&at, o, e, err) ||
        tk_json_string(&at, o, "setting", NULL, e->setting, sizeof e->setting, err) < 0 ||
        tk_json_string(&at, o, "study", NULL, e->study, sizeof e->study, err) < 0 ||
        tk_json_name(&at, o, "metric", "the number compared", "metric", tk_regress_metric_names,
                     TK_REGRESS_METRIC_COUNT, &metric, err) < 0)
        return -1;
    e->metric = (tk_regress_metric)metric;
    if (parse_check(&at, o, e, err)) return -1;
    tk_regress_select *sides[] = {&e->left, &e->right};
    for (int i = 0; i < 2; i++) {
        snprintf(sides[i]->study, sizeof sides[i]->study, "%s", e->study_name);
        snprintf(sides[i]->model, sizeof sides[i]->model, "%s", e->model);
    }
    return 0;
}

static int load_entries(tk_regress_registry *reg, const cJSON *root, const char *path, tk_error *err) {
    static const char *const keys[] = {"source", "entries"};
    char source[128];
    tk_json_at at = tk_json_root(path);
    const cJSON *entries;
    if (!cJSON_IsObject(root)) return tk_json_wrong(&at, root, "an object {\"source\": ..., \"entries\": [...]}", err);
    if (tk_json_check_keys(&at, root, keys, TK_ARRAY_LEN(keys), err) ||
        tk_json_string(&at, root, "source", "who the numbers are from", source, sizeof source, err) < 0 ||
        tk_json_array(&at, root, "entries", "the checks", INT_MAX, &entries, err) < 0)
        return -1;
    int count = cJSON_GetArraySize(entries);
    tk_regress_entry *grown = tk_realloc(reg->entries, sizeof *grown * (size_t)(reg->n + count + 1));
    reg->entries = grown;
    tk_regress_entry *base = reg->entries + reg->n;
    int i = 0;
    for (const cJSON *c = entries->child; c; c = c->next, i++) {
        if (parse_entry(c, path, source, i, &base[i], err)) return -1;
        for (int j = 0; j < i; j++)
            if (!strcmp(base[j].id, base[i].id))
                return tk_fail(err, "%s: entry '%s': id used twice (entries[%d] and [%d]); ids must be unique", path,
                               base[i].id, j, i);
    }
    reg->n += count;
    return 0;
}

int tk_regress_load(tk_regress_registry *reg, const char *path, tk_error *err) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    cJSON *root = cJSON_ParseWithLength((const char *)data, n);
    if (!root) {
        /* The error pointer points into data: quote it before freeing. */
        const char *at = cJSON_GetErrorPtr();
        bool inside = at && at >= (const char *)data && at <= (const char *)data + n;
        tk_fail(err, "%s: not valid JSON at byte %zu (near \"%.20s\"); fix the file or take it from the source tree "
                     "again",
                path, inside ? (size_t)(at - (const char *)data) : n, inside ? at : "");
        free(data);
        return -1;
    }
    free(data);
    int rc = load_entries(reg, root, path, err);
    cJSON_Delete(root);
    return rc;
}

void tk_regress_registry_free(tk_regress_registry *reg) {
    free(reg->entries);
    reg->entries = NULL;
    reg->n = 0;
}

/* ---- reading results.csv */

/* The provenance columns, and room for more, after the result columns. */
enum { CSV_MAX_COLUMNS = TK_RESULTS_COLUMN_COUNT + TK_PROV_FIELD_COUNT + 16 };
/* The header `ticket report` wrote before rows said their study and model. */
static const char old_header[] = "target,target_optimizer,source,source_optimizer,control,native,level,density,seed,"
                                 "final_accuracy,best_accuracy,best_iteration";

/* ---- the provenance columns */

/* Where each provenance field is among the header's columns, -1 when absent. */
static void provenance_columns(char **header, int n, int *column) {
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++) {
        column[f] = -1;
        for (int i = TK_RESULTS_COLUMN_COUNT; i < n && column[f] < 0; i++)
            if (!strcmp(header[i], tk_provenance_field_names[f])) column[f] = i;
    }
}

static void read_provenance(char **fields, const int *column, tk_provenance *p) {
    memset(p, 0, sizeof *p);
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++)
        if (column[f] >= 0) snprintf(p->field[f], sizeof p->field[f], "%s", fields[column[f]]);
}

void tk_regress_provenance_line(const tk_regress_provenance *p, char *out, size_t cap) {
    char line[2048];
    tk_provenance_format(&p->prov, line, sizeof line);
    snprintf(out, cap, "%d row%s of study '%s': %s", p->rows, p->rows == 1 ? "" : "s", p->study, line);
}

/* A kernel, as the warning names it: "blas_core (blas)". */
static void kernel_name(const tk_provenance *p, char *out, size_t cap) {
    snprintf(out, cap, "%s (%s)", p->field[TK_PROV_BLAS_CORE][0] ? p->field[TK_PROV_BLAS_CORE] : "?",
             p->field[TK_PROV_BLAS][0] ? p->field[TK_PROV_BLAS] : "?");
}

static void summarize_provenance(tk_regress_results *res) {
    res->provenances = tk_calloc((size_t)res->n + 1, sizeof *res->provenances);
    for (int i = 0; i < res->n; i++) {
        const tk_regress_row *r = &res->rows[i];
        if (!tk_provenance_known(&r->prov)) {
            res->rows_without_provenance++;
            continue;
        }
        int k = 0;
        while (k < res->n_provenances && (strcmp(res->provenances[k].study, r->row.study) ||
                                          !tk_provenance_equal(&res->provenances[k].prov, &r->prov)))
            k++;
        tk_regress_provenance *p = &res->provenances[k];
        if (k == res->n_provenances) {
            res->n_provenances++;
            snprintf(p->study, sizeof p->study, "%s", r->row.study);
            p->prov = r->prov;
        }
        p->rows++;
    }
    /* One warning per study whose provenances hold more than one kernel. */
    res->warnings = tk_calloc((size_t)res->n_provenances + 1, sizeof *res->warnings);
    for (int k = 0; k < res->n_provenances; k++) {
        const tk_regress_provenance *p = &res->provenances[k];
        bool seen = false, mixed = false;
        for (int j = 0; j < k && !seen; j++) seen = !strcmp(res->provenances[j].study, p->study);
        if (seen) continue;
        for (int j = k; j < res->n_provenances; j++) {
            const tk_regress_provenance *q = &res->provenances[j];
            if (strcmp(q->study, p->study)) continue;
            mixed |= !tk_provenance_same_kernel(&q->prov, &p->prov) || strstr(q->prov.field[TK_PROV_BLAS_CORE], "; ") ||
                     strstr(q->prov.field[TK_PROV_BLAS], "; ");
        }
        if (!mixed) continue;
        char *w = res->warnings[res->n_warnings++];
        size_t cap = sizeof res->warnings[0];
        int len = snprintf(w, cap, "study '%s' mixes BLAS kernels across its rows:", p->study);
        for (int j = k; j < res->n_provenances && len < (int)cap; j++) { /* rows per kernel */
            const tk_regress_provenance *q = &res->provenances[j];
            bool listed = strcmp(q->study, p->study) != 0;
            for (int i = k; i < j && !listed; i++)
                listed = !strcmp(res->provenances[i].study, p->study) &&
                         tk_provenance_same_kernel(&res->provenances[i].prov, &q->prov);
            if (listed) continue;
            int rows = 0;
            for (int i = j; i < res->n_provenances; i++)
                if (!strcmp(res->provenances[i].study, p->study) &&
                    tk_provenance_same_kernel(&res->provenances[i].prov, &q->prov))
                    rows += res->provenances[i].rows;
            char kernel[600];
            kernel_name(&q->prov, kernel, sizeof kernel);
            len += snprintf(w + len, cap - (size_t)len, " %d row%s %s;", rows, rows == 1 ? "" : "s", kernel);
        }
        if (len < (int)cap)
            snprintf(w + len, cap - (size_t)len, " numbers from different kernels differ in their last bits, so "
                                                 "compare them only within a tolerance");
    }
}

int tk_regress_read_results(const char *study_dir, tk_regress_results *res, tk_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/report/results.csv", study_dir);
    memset(res, 0, sizeof *res);
    if (!tk_file_exists(path))
        return tk_fail(err, "%s: not found; run `ticket study run` and then `ticket report %s` first", path, study_dir);
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    int cap = 0, line_no = 0, rc = 0, columns = TK_RESULTS_COLUMN_COUNT, prov_column[TK_PROV_FIELD_COUNT];
    for (char *line = (char *)data, *next; line && *line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        line_no++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[len - 1] = 0;
        if (line_no == 1 && !strcmp(line, old_header)) {
            rc = tk_fail(err, "%s: written by an older `ticket report`, without the study and model columns that "
                              "registry entries are scoped by; rerun `ticket report %s` to rewrite it",
                         path, study_dir);
            break;
        }
        char *f[CSV_MAX_COLUMNS + 1];
        int nf = tk_csv_split(line, f, CSV_MAX_COLUMNS + 1);
        if (line_no == 1) {
            bool ok = nf >= TK_RESULTS_COLUMN_COUNT;
            for (int i = 0; ok && i < TK_RESULTS_COLUMN_COUNT; i++) ok = !strcmp(f[i], tk_results_columns[i].name);
            if (!ok)
                rc = tk_fail(err, "%s:1: unexpected header; expected %s,%s,%s,...,%s as `ticket report` writes it",
                             path, tk_results_columns[0].name, tk_results_columns[1].name, tk_results_columns[2].name,
                             tk_results_columns[TK_RESULTS_COLUMN_COUNT - 1].name);
            columns = nf;
            provenance_columns(f, nf, prov_column);
            continue;
        }
        if (nf != columns) {
            rc = tk_fail(err, "%s:%d: expected %d fields, found %d", path, line_no, columns, nf);
            break;
        }
        if (res->n == cap) {
            cap = cap ? cap * 2 : 64;
            res->rows = tk_realloc(res->rows, sizeof *res->rows * (size_t)cap);
        }
        rc = tk_results_read_row(f, &res->rows[res->n].row, path, line_no, err);
        if (!rc) read_provenance(f, prov_column, &res->rows[res->n++].prov);
    }
    if (!rc && line_no == 0) rc = tk_fail(err, "%s: empty file", path);
    free(data);
    if (rc) tk_regress_results_free(res);
    else summarize_provenance(res);
    return rc;
}

void tk_regress_results_free(tk_regress_results *res) {
    free(res->rows);
    free(res->provenances);
    free(res->warnings);
    memset(res, 0, sizeof *res);
}

/* ---- evaluating */

/* The filters of a select, applied one by one so that a SKIP can name the
 * first filter that left no rows. */
enum { F_STUDY, F_MODEL, F_TARGET, F_SOURCE, F_CONTROL, F_TOPT, F_SOPT, F_NATIVE, F_DENSITY, F_COUNT };

static bool keeps(const tk_regress_select *s, const tk_result_row *r, int filter) {
    switch (filter) {
    case F_STUDY: return !s->study[0] || !strcmp(s->study, r->study);
    case F_MODEL: return !strcmp(s->model, r->model);
    case F_TARGET: return !s->target[0] || !strcmp(s->target, r->target);
    case F_SOURCE: return !s->source[0] || !strcmp(s->source, r->source);
    case F_CONTROL: return !s->control[0] || !strcmp(s->control, r->control);
    case F_TOPT: return !s->target_optimizer[0] || !strcmp(s->target_optimizer, r->target_optimizer);
    case F_SOPT: return !s->source_optimizer[0] || !strcmp(s->source_optimizer, r->source_optimizer);
    case F_NATIVE: return s->native < 0 || s->native == (int)r->native;
    /* results.csv holds densities to 9 digits: a little slack so 0.05 selects a printed 0.0500000001 */
    default: return r->density >= s->density_min - 1e-9 && r->density <= s->density_max + 1e-9;
    }
}

static void describe_filter(const tk_regress_select *s, int filter, char *out, size_t cap) {
    switch (filter) {
    case F_STUDY: snprintf(out, cap, "study '%s'", s->study); break;
    case F_MODEL: snprintf(out, cap, "model '%s'", s->model); break;
    case F_TARGET: snprintf(out, cap, "target '%s'", s->target); break;
    case F_SOURCE: snprintf(out, cap, "source '%s'", s->source); break;
    case F_CONTROL: snprintf(out, cap, "control '%s'", s->control); break;
    case F_TOPT: snprintf(out, cap, "target_optimizer '%s'", s->target_optimizer); break;
    case F_SOPT: snprintf(out, cap, "source_optimizer '%s'", s->source_optimizer); break;
    case F_NATIVE: snprintf(out, cap, "native %s", s->native ? "true" : "false"); break;
    default: snprintf(out, cap, "density in [%g, %g]", s->density_min, s->density_max); break;
    }
}

/* Mean of the metric over the selected rows; -1 with `reason` when none. */
static int select_mean(const tk_regress_select *s, tk_regress_metric metric, const tk_regress_results *res,
                       double *mean, char *reason, size_t cap) {
    int kept_by[F_COUNT] = {0}, sparsest = -1;
    for (int i = 0; i < res->n; i++) {
        int f = 0;
        while (f < F_COUNT && keeps(s, &res->rows[i].row, f)) kept_by[f++]++;
        if (f == F_COUNT && res->rows[i].row.level > sparsest) sparsest = res->rows[i].row.level;
    }
    for (int f = 0; f < F_COUNT; f++)
        if (!kept_by[f]) {
            char what[160];
            describe_filter(s, f, what, sizeof what);
            if (!res->n) snprintf(reason, cap, "results.csv has no rows: the study has not run");
            /* Another study is not missing data: the entry is not about it. */
            else if (f == F_STUDY)
                snprintf(reason, cap, "does not apply: the entry is for %s, the results are of study '%s'", what,
                         res->rows[0].row.study);
            else if (f == F_MODEL)
                snprintf(reason, cap, "does not apply: the entry is for %s, the results are of model '%s'", what,
                         res->rows[0].row.model);
            else
                snprintf(reason, cap, "no rows for %s%s: data not present or study not run", what,
                         f > F_TARGET ? " among the rows the earlier filters keep" : "");
            return -1;
        }
    int level = s->level == TK_REGRESS_SPARSEST ? sparsest : s->level;
    double sum = 0;
    int n = 0;
    for (int i = 0; i < res->n; i++) {
        const tk_result_row *r = &res->rows[i].row;
        int f = 0;
        while (f < F_COUNT && keeps(s, r, f)) f++;
        if (f < F_COUNT || (level >= 0 && r->level != level)) continue;
        sum += metric == TK_REGRESS_FINAL ? r->final_accuracy : r->best_accuracy;
        n++;
    }
    if (!n) {
        snprintf(reason, cap, "no rows at level %d: data not present or study not run", level);
        return -1;
    }
    *mean = sum / n;
    return 0;
}

/* Appends to a SKIP's reason the entry's catalog datasets that this machine
 * does not have: the usual reason its study was not run here. */
static void note_missing_data(const tk_regress_entry *e, char *reason, size_t cap) {
    tk_error err = {0};
    const tk_catalog *catalog = tk_catalog_default(&err);
    char missing[TK_REGRESS_MAX_DATASETS * 66] = "";
    for (int i = 0; catalog && i < e->n_datasets; i++) {
        const tk_catalog_entry *d = tk_catalog_lookup(catalog, e->datasets[i]);
        if (d && !tk_catalog_locate(d, TK_SPLIT_TRAIN, NULL, 0, NULL, 0, NULL, 0)) {
            size_t len = strlen(missing);
            snprintf(missing + len, sizeof missing - len, "%s%s", len ? ", " : "", d->name);
        }
    }
    size_t len = strlen(reason);
    if (missing[0])
        snprintf(reason + len, cap - len, "; not on this machine: %s (`ticket data list` says how to get it)",
                 missing);
}

void tk_regress_evaluate(const tk_regress_entry *e, const tk_regress_results *res, tk_regress_outcome *out) {
    memset(out, 0, sizeof *out);
    double left, right = 0;
    char why[400];
    if (e->relation)
        snprintf(out->check, sizeof out->check, "left %s right %+g", tk_regress_op_names[e->op], e->margin);
    else if (e->op == TK_REGRESS_WITHIN)
        snprintf(out->check, sizeof out->check, "within +/- %g", e->tolerance);
    else
        snprintf(out->check, sizeof out->check, "%s %g", tk_regress_op_names[e->op],
                 e->op == TK_REGRESS_GE ? e->value - e->tolerance : e->value + e->tolerance);
    if (select_mean(&e->left, e->metric, res, &left, why, sizeof why) ||
        (e->relation && select_mean(&e->right, e->metric, res, &right, why, sizeof why))) {
        out->status = TK_REGRESS_SKIP;
        out->expected = out->measured = NAN;
        snprintf(out->reason, sizeof out->reason, "%s", why);
        note_missing_data(e, out->reason, sizeof out->reason);
        return;
    }
    out->measured = left;
    bool pass;
    if (e->relation) {
        out->expected = right + e->margin;
        pass = e->op == TK_REGRESS_GE ? left >= out->expected : left <= out->expected;
    } else {
        out->expected = e->value;
        if (e->op == TK_REGRESS_WITHIN) pass = fabs(left - e->value) <= e->tolerance;
        else if (e->op == TK_REGRESS_GE) pass = left >= e->value - e->tolerance;
        else pass = left <= e->value + e->tolerance;
    }
    out->status = pass ? TK_REGRESS_PASS : TK_REGRESS_FAIL;
    if (!pass)
        snprintf(out->reason, sizeof out->reason, "measured %s %.4f, expected %s (%s %.4f)",
                 tk_regress_metric_names[e->metric], left, out->check, e->relation ? "right + margin =" : "value",
                 out->expected);
}

/* ---- JUnit XML and Markdown */

static void xml_text(tk_buf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': tk_buf_printf(b, "&lt;"); break;
        case '>': tk_buf_printf(b, "&gt;"); break;
        case '&': tk_buf_printf(b, "&amp;"); break;
        case '"': tk_buf_printf(b, "&quot;"); break;
        default: tk_buf_put(b, s, 1);
        }
    }
}

static int write_out(const char *path, tk_buf *b, tk_error *err) {
    int rc = tk_file_write_atomic(path, b->data, b->len, err);
    tk_buf_free(b);
    return rc;
}

static void xml_property(tk_buf *b, const char *name, const char *value) {
    tk_buf_printf(b, "    <property name=\"");
    xml_text(b, name);
    tk_buf_printf(b, "\" value=\"");
    xml_text(b, value);
    tk_buf_printf(b, "\"/>\n");
}

/* How the rows were produced, as the suite's properties. */
static void junit_properties(tk_buf *b, const tk_regress_results *res) {
    tk_buf_printf(b, "  <properties>\n");
    if (res->n_provenances == 1)
        for (int f = 0; f < TK_PROV_FIELD_COUNT; f++)
            xml_property(b, tk_provenance_field_names[f], res->provenances[0].prov.field[f]);
    char line[4096];
    for (int k = 0; k < res->n_provenances; k++) {
        tk_regress_provenance_line(&res->provenances[k], line, sizeof line);
        xml_property(b, "provenance", line);
    }
    if (res->rows_without_provenance) {
        snprintf(line, sizeof line, "%d rows without provenance (runs from before ticket recorded it)",
                 res->rows_without_provenance);
        xml_property(b, "provenance", line);
    }
    for (int k = 0; k < res->n_warnings; k++) xml_property(b, "warning", res->warnings[k]);
    tk_buf_printf(b, "  </properties>\n");
}

int tk_regress_write_junit(const char *path, const tk_regress_registry *reg, const tk_regress_outcome *out,
                           const tk_regress_results *res, tk_error *err) {
    int count[TK_REGRESS_STATUS_COUNT] = {0};
    for (int i = 0; i < reg->n; i++) count[out[i].status]++;
    tk_buf b = {0};
    tk_buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<testsuite name=\"ticket regress\" tests=\"%d\" failures=\"%d\" skipped=\"%d\" errors=\"0\">\n",
                  reg->n, count[TK_REGRESS_FAIL], count[TK_REGRESS_SKIP]);
    junit_properties(&b, res);
    for (int i = 0; i < reg->n; i++) {
        const tk_regress_entry *e = &reg->entries[i];
        tk_buf_printf(&b, "  <testcase classname=\"");
        xml_text(&b, e->source);
        tk_buf_printf(&b, "\" name=\"");
        xml_text(&b, e->id);
        tk_buf_printf(&b, "\">");
        if (out[i].status != TK_REGRESS_PASS) {
            const char *tag = out[i].status == TK_REGRESS_FAIL ? "failure" : "skipped";
            tk_buf_printf(&b, "\n    <%s message=\"", tag);
            xml_text(&b, out[i].reason);
            tk_buf_printf(&b, "\">");
            xml_text(&b, e->citation);
            tk_buf_printf(&b, "</%s>\n  ", tag);
        }
        tk_buf_printf(&b, "</testcase>\n");
    }
    tk_buf_printf(&b, "</testsuite>\n");
    return write_out(path, &b, err);
}

static void md_cell(tk_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|') tk_buf_printf(b, "\\|");
        else if (*s == '\n') tk_buf_printf(b, " ");
        else tk_buf_put(b, s, 1);
    }
}

int tk_regress_write_markdown(const char *path, const tk_regress_registry *reg, const tk_regress_outcome *out,
                              const tk_regress_results *res, tk_error *err) {
    tk_buf b = {0};
    tk_buf_printf(&b, "| entry | citation | metric | expected | measured | check | result |\n"
                      "|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < reg->n; i++) {
        const tk_regress_entry *e = &reg->entries[i];
        tk_buf_printf(&b, "| ");
        md_cell(&b, e->source);
        tk_buf_printf(&b, "/");
        md_cell(&b, e->id);
        tk_buf_printf(&b, " | ");
        md_cell(&b, e->citation);
        tk_buf_printf(&b, " | %s | ", tk_regress_metric_names[e->metric]);
        if (isnan(out[i].measured)) tk_buf_printf(&b, "- | - | ");
        else tk_buf_printf(&b, "%.4f | %.4f | ", out[i].expected, out[i].measured);
        md_cell(&b, out[i].check);
        tk_buf_printf(&b, " | %s", tk_regress_status_names[out[i].status]);
        if (out[i].reason[0]) {
            tk_buf_printf(&b, ": ");
            md_cell(&b, out[i].reason);
        }
        tk_buf_printf(&b, " |\n");
    }
    tk_buf_printf(&b, "\n**Provenance** of the rows checked:\n\n");
    char line[4096];
    for (int k = 0; k < res->n_provenances; k++) {
        tk_regress_provenance_line(&res->provenances[k], line, sizeof line);
        tk_buf_printf(&b, "- ");
        md_cell(&b, line);
        tk_buf_printf(&b, "\n");
    }
    if (res->rows_without_provenance)
        tk_buf_printf(&b, "- %d rows without provenance (runs from before ticket recorded it)\n",
                      res->rows_without_provenance);
    for (int k = 0; k < res->n_warnings; k++) {
        tk_buf_printf(&b, "\n**Warning:** ");
        md_cell(&b, res->warnings[k]);
        tk_buf_printf(&b, "\n");
    }
    return write_out(path, &b, err);
}
