/* report.c - a study's results as tables people and programs can read:
 * the rows grouped over seeds, per target and into the transfer matrix, and
 * written as results.csv/json (one row per trained network), summary.csv/json
 * (mean, std, min, max and n over seeds) and mask_overlap.csv (every pair of
 * tickets compared, from mask_overlap.c); report.md is report_markdown.c's.
 *
 * Nothing is invented: a cell without a result shows "—" and report.md
 * counts them. Accuracies are fractions in the rows and percentages in
 * report.md; tables show final accuracy, best accuracy is in the CSV. */
#define _XOPEN_SOURCE 700
#include "tk_report.h"
#include "tk_file.h"
#include "tk_provenance.h"
#include "tk_ticket.h"
#include "report_parts.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The matrix's densities when the study names none. */
static const double default_matrix_densities[] = {0.5, 0.2, 0.05};

/* ---- grouping rows */

static int cmp_key(const char *t1, const char *to1, const char *s1, const char *so1, const char *c1, int l1,
                   const char *t2, const char *to2, const char *s2, const char *so2, const char *c2, int l2) {
    int d;
    if ((d = strcmp(t1, t2)) || (d = strcmp(to1, to2)) || (d = strcmp(s1, s2)) || (d = strcmp(so1, so2)) ||
        (d = strcmp(c1, c2)))
        return d;
    return (l1 > l2) - (l1 < l2);
}

static int cmp_row(const tk_result_row *a, const tk_result_row *b) {
    int d = cmp_key(a->target, a->target_optimizer, a->source, a->source_optimizer, a->control, a->level, b->target,
                    b->target_optimizer, b->source, b->source_optimizer, b->control, b->level);
    if (d) return d;
    return (a->seed > b->seed) - (a->seed < b->seed);
}

static const tk_result_row *sort_rows; /* qsort has no context argument */

static int cmp_row_index(const void *a, const void *b) {
    int ia = *(const int *)a, ib = *(const int *)b;
    int d = cmp_row(&sort_rows[ia], &sort_rows[ib]);
    return d ? d : (ia > ib) - (ia < ib); /* equal keys keep input order: the sums stay deterministic */
}

static bool same_group(const tk_result_row *a, const tk_result_row *b) {
    return !cmp_key(a->target, a->target_optimizer, a->source, a->source_optimizer, a->control, a->level, b->target,
                    b->target_optimizer, b->source, b->source_optimizer, b->control, b->level);
}

/* Mean, sample std (n - 1; 0 for one value), min and max of v[0..n). */
static void describe(const double *v, int n, double *mean, double *std, double *min, double *max) {
    double sum = 0, lo = v[0], hi = v[0];
    for (int i = 0; i < n; i++) {
        sum += v[i];
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    double m = sum / n, ss = 0;
    for (int i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
    *mean = m, *std = n > 1 ? sqrt(ss / (n - 1)) : 0.0, *min = lo, *max = hi;
}

static int check_rows(const tk_report_input *in, tk_error *err) {
    for (int i = 0; i < in->n_rows; i++) {
        const tk_result_row *r = &in->rows[i];
        if (!r->study[0] || !r->model[0] || !r->target[0] || !r->target_optimizer[0] || !r->source[0] ||
            !r->source_optimizer[0] || !r->control[0])
            return tk_fail(err, "result row %d: study, model, target, target_optimizer, source, source_optimizer and "
                                "control must all be set (found \"%s\", \"%s\", \"%s\", \"%s\", \"%s\", \"%s\", "
                                "\"%s\")",
                           i, r->study, r->model, r->target, r->target_optimizer, r->source, r->source_optimizer,
                           r->control);
        if (!(r->density > 0 && r->density <= 1))
            return tk_fail(err, "result row %d (%s on %s): density %g: expected the fraction of weights remaining, "
                                "in (0, 1]",
                           i, r->source, r->target, r->density);
        if (r->level < 0) return tk_fail(err, "result row %d: level %d: expected 0 or more", i, r->level);
        const char *field = !(r->final_accuracy >= 0 && r->final_accuracy <= 1) ? "final_accuracy"
                            : !(r->best_accuracy >= 0 && r->best_accuracy <= 1) ? "best_accuracy"
                                                                               : NULL;
        if (field)
            return tk_fail(err, "result row %d (%s on %s): %s = %g: expected a fraction in [0, 1], not a percentage",
                           i, r->source, r->target, field,
                           field[0] == 'f' ? r->final_accuracy : r->best_accuracy);
    }
    return 0;
}

static void build_groups(tk_report *r) {
    const tk_report_input *in = r->in;
    int *order = tk_malloc(sizeof(int) * (size_t)(in->n_rows ? in->n_rows : 1));
    for (int i = 0; i < in->n_rows; i++) order[i] = i;
    sort_rows = in->rows;
    qsort(order, (size_t)in->n_rows, sizeof *order, cmp_row_index);
    r->groups = tk_calloc((size_t)(in->n_rows ? in->n_rows : 1), sizeof *r->groups);
    double *fin = tk_malloc(sizeof(double) * (size_t)(in->n_rows ? in->n_rows : 1));
    double *best = tk_malloc(sizeof(double) * (size_t)(in->n_rows ? in->n_rows : 1));
    for (int start = 0; start < in->n_rows;) {
        const tk_result_row *first = &in->rows[order[start]];
        int end = start;
        double density = 0;
        while (end < in->n_rows && same_group(first, &in->rows[order[end]])) {
            const tk_result_row *row = &in->rows[order[end]];
            fin[end - start] = row->final_accuracy;
            best[end - start] = row->best_accuracy;
            density += row->density;
            end++;
        }
        tk_report_group *g = &r->groups[r->n_groups++];
        snprintf(g->target, sizeof g->target, "%s", first->target);
        snprintf(g->target_optimizer, sizeof g->target_optimizer, "%s", first->target_optimizer);
        snprintf(g->source, sizeof g->source, "%s", first->source);
        snprintf(g->source_optimizer, sizeof g->source_optimizer, "%s", first->source_optimizer);
        snprintf(g->control, sizeof g->control, "%s", first->control);
        g->native = first->native;
        g->level = first->level;
        g->n = end - start;
        g->density = density / g->n;
        describe(fin, g->n, &g->final_mean, &g->final_std, &g->final_min, &g->final_max);
        describe(best, g->n, &g->best_mean, &g->best_std, &g->best_min, &g->best_max);
        start = end;
    }
    free(order), free(fin), free(best);
}

int tk_report_find_group(const tk_report *r, const char *target, const char *target_optimizer, const char *source,
                         const char *source_optimizer, const char *control, int level) {
    /* Groups are sorted by exactly this key. */
    int lo = 0, hi = r->n_groups - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const tk_report_group *g = &r->groups[mid];
        int d = cmp_key(g->target, g->target_optimizer, g->source, g->source_optimizer, g->control, g->level, target,
                        target_optimizer, source, source_optimizer, control, level);
        if (!d) return mid;
        if (d < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* ---- keys, series and levels */

int report_find_key(const tk_report_key *keys, int n, const char *dataset, const char *optimizer) {
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i].dataset, dataset) && !strcmp(keys[i].optimizer, optimizer)) return i;
    return -1;
}

int report_add_key(tk_report_key **keys, int *n, const char *dataset, const char *optimizer) {
    int i = report_find_key(*keys, *n, dataset, optimizer);
    if (i >= 0) return i;
    tk_report_key *grown = tk_realloc(*keys, sizeof **keys * (size_t)(*n + 1));
    *keys = grown;
    snprintf(grown[*n].dataset, sizeof grown[*n].dataset, "%s", dataset);
    snprintf(grown[*n].optimizer, sizeof grown[*n].optimizer, "%s", optimizer);
    return (*n)++;
}

static int cmp_keys(const void *a, const void *b) {
    const tk_report_key *x = a, *y = b;
    int d = strcmp(x->dataset, y->dataset);
    return d ? d : strcmp(x->optimizer, y->optimizer);
}

void report_sort_keys(tk_report_key *keys, int n) {
    if (n > 1) qsort(keys, (size_t)n, sizeof *keys, cmp_keys); /* keys is NULL when n = 0 */
}

static bool is_ticket(const char *control) { return !strcmp(control, "ticket"); }
static bool is_dense(const char *control) { return !strcmp(control, "dense"); }

/* Columns in reading order: the native ticket, transferred tickets, controls. */
static int series_rank(const tk_report_series *s) { return is_ticket(s->control) ? (s->native ? 0 : 1) : 2; }

static int cmp_series(const void *a, const void *b) {
    const tk_report_series *x = a, *y = b;
    int d = series_rank(x) - series_rank(y);
    if (!d) d = strcmp(x->control, y->control);
    if (!d) d = strcmp(x->source, y->source);
    if (!d) d = strcmp(x->source_optimizer, y->source_optimizer);
    return d;
}

static bool group_in_series(const tk_report_group *g, const tk_report_series *s) {
    return !strcmp(g->source, s->source) && !strcmp(g->source_optimizer, s->source_optimizer) &&
           !strcmp(g->control, s->control) && g->native == s->native;
}

static bool group_on_target(const tk_report_group *g, const tk_report_key *t) {
    return !strcmp(g->target, t->dataset) && !strcmp(g->target_optimizer, t->optimizer);
}

static void label_series(tk_report_series *s, int n, int i) {
    tk_report_series *x = &s[i];
    if (is_ticket(x->control)) {
        if (x->native) snprintf(x->label, sizeof x->label, "native ticket");
        else snprintf(x->label, sizeof x->label, "from %s (%s)", x->source, x->source_optimizer);
        return;
    }
    int same = 0; /* controls drawn from several tickets are told apart by their source */
    for (int j = 0; j < n; j++) same += !strcmp(s[j].control, x->control);
    if (same == 1) snprintf(x->label, sizeof x->label, "%s", x->control);
    else snprintf(x->label, sizeof x->label, "%s of %s (%s)", x->control, x->source, x->source_optimizer);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Appends v to a sorted set of ints. */
void report_add_level(int **set, int *n, int v) {
    for (int i = 0; i < *n; i++)
        if ((*set)[i] == v) return;
    int *grown = tk_realloc(*set, sizeof(int) * (size_t)(*n + 1));
    *set = grown;
    grown[(*n)++] = v;
    qsort(grown, (size_t)*n, sizeof(int), cmp_int);
}

static void build_target(tk_report *r, tk_report_target *t) {
    t->dense = -1;
    for (int g = 0; g < r->n_groups; g++) {
        const tk_report_group *G = &r->groups[g];
        if (!group_on_target(G, &t->key)) continue;
        if (is_dense(G->control)) {
            if (t->dense < 0) t->dense = g;
            continue;
        }
        report_add_level(&t->levels, &t->n_levels, G->level);
        bool known = false;
        for (int s = 0; s < t->n_series && !known; s++) known = group_in_series(G, &t->series[s]);
        if (known) continue;
        tk_report_series *grown = tk_realloc(t->series, sizeof *grown * (size_t)(t->n_series + 1));
        t->series = grown;
        tk_report_series *s = &grown[t->n_series++];
        memset(s, 0, sizeof *s);
        snprintf(s->source, sizeof s->source, "%s", G->source);
        snprintf(s->source_optimizer, sizeof s->source_optimizer, "%s", G->source_optimizer);
        snprintf(s->control, sizeof s->control, "%s", G->control);
        s->native = G->native;
    }
    if (t->n_series > 1) qsort(t->series, (size_t)t->n_series, sizeof *t->series, cmp_series);
    for (int s = 0; s < t->n_series; s++) label_series(t->series, t->n_series, s);
    t->cell = tk_malloc(sizeof(int) * (size_t)(t->n_levels * t->n_series + 1));
    for (int l = 0; l < t->n_levels; l++)
        for (int s = 0; s < t->n_series; s++) {
            const tk_report_series *S = &t->series[s];
            int g = tk_report_find_group(r, t->key.dataset, t->key.optimizer, S->source, S->source_optimizer,
                                         S->control, t->levels[l]);
            t->cell[l * t->n_series + s] = g >= 0 && r->groups[g].native == S->native ? g : -1;
        }
}

/* For each wanted density, the index of the level (of n, ascending, with
 * densities dens) nearest to it on a log scale, as the figures' axis is;
 * duplicates dropped, the result ascending. Returns the count. */
static int choose_levels(const double *dens, int n, const double *want, int n_want, int *out) {
    int k = 0;
    for (int w = 0; w < n_want && n > 0; w++) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (fabs(log(dens[i] / want[w])) < fabs(log(dens[best] / want[w]))) best = i;
        bool dup = false;
        for (int j = 0; j < k && !dup; j++) dup = out[j] == best;
        if (!dup) out[k++] = best;
    }
    qsort(out, (size_t)k, sizeof *out, cmp_int);
    return k;
}

int *report_pick_levels(const tk_report_input *in, const double *dens, int n, int *picked) {
    const double *want = in->n_matrix_densities ? in->matrix_densities : default_matrix_densities;
    int n_want = in->n_matrix_densities ? in->n_matrix_densities : TK_ARRAY_LEN(default_matrix_densities);
    int *chosen = tk_malloc(sizeof(int) * (size_t)(n_want + 1));
    *picked = choose_levels(dens, n, want, n_want, chosen);
    return chosen;
}

static void build_matrix(tk_report *r) {
    const tk_report_input *in = r->in;
    /* Candidate levels: those with tickets, with their mean density. */
    int *levels = NULL, n_levels = 0;
    for (int g = 0; g < r->n_groups; g++)
        if (is_ticket(r->groups[g].control) && r->groups[g].level > 0) report_add_level(&levels, &n_levels, r->groups[g].level);
    double *dens = tk_calloc((size_t)n_levels + 1, sizeof(double));
    for (int l = 0; l < n_levels; l++) {
        int count = 0;
        for (int g = 0; g < r->n_groups; g++)
            if (is_ticket(r->groups[g].control) && r->groups[g].level == levels[l])
                dens[l] += r->groups[g].density, count++;
        dens[l] /= count;
    }
    int *chosen = report_pick_levels(in, dens, n_levels, &r->n_matrix);
    r->matrix_level = tk_malloc(sizeof(int) * (size_t)(r->n_matrix + 1));
    r->matrix_density = tk_malloc(sizeof(double) * (size_t)(r->n_matrix + 1));
    for (int m = 0; m < r->n_matrix; m++) r->matrix_level[m] = levels[chosen[m]], r->matrix_density[m] = dens[chosen[m]];
    free(levels), free(dens), free(chosen);

    size_t cells = (size_t)r->n_matrix * (size_t)r->n_sources * (size_t)r->n_targets;
    r->matrix = tk_malloc(sizeof *r->matrix * (cells + 1));
    for (int m = 0; m < r->n_matrix; m++)
        for (int s = 0; s < r->n_sources; s++)
            for (int t = 0; t < r->n_targets; t++) {
                const tk_report_key *S = &r->sources[s], *T = &r->targets[t].key;
                int level = r->matrix_level[m];
                tk_report_matrix_cell *c = &r->matrix[((size_t)m * r->n_sources + s) * r->n_targets + t];
                c->ticket = tk_report_find_group(r, T->dataset, T->optimizer, S->dataset, S->optimizer, "ticket", level);
                c->native = tk_report_find_group(r, T->dataset, T->optimizer, T->dataset, T->optimizer, "ticket", level);
                c->random =
                    tk_report_find_group(r, T->dataset, T->optimizer, S->dataset, S->optimizer, "random_ticket", level);
                if (c->random < 0)
                    c->random = tk_report_find_group(r, T->dataset, T->optimizer, T->dataset, T->optimizer,
                                                     "random_ticket", level);
            }
}

int tk_report_analyze(const tk_report_input *in, tk_report *r, tk_error *err) {
    memset(r, 0, sizeof *r);
    r->in = in;
    if (in->n_rows < 0 || in->n_masks < 0 || in->n_matrix_densities < 0 || (in->n_rows && !in->rows) ||
        (in->n_masks && !in->masks))
        return tk_fail(err, "report input: counts must be 0 or more, with their arrays set");
    for (int i = 0; i < in->n_matrix_densities; i++)
        if (!(in->matrix_densities[i] > 0 && in->matrix_densities[i] <= 1))
            return tk_fail(err, "matrix density %g: expected a fraction of weights remaining in (0, 1], e.g. 0.2",
                           in->matrix_densities[i]);
    if (check_rows(in, err)) return -1;
    build_groups(r);
    tk_report_key *targets = NULL;
    int n_targets = 0;
    /* The matrix's rows: configurations whose tickets were transferred. A
     * configuration that is only a target has no row; without any transfer,
     * every configuration with a ticket does. */
    for (int pass = 0; pass < 2 && r->n_sources == 0; pass++)
        for (int g = 0; g < r->n_groups; g++) {
            if (pass == 0) report_add_key(&targets, &n_targets, r->groups[g].target, r->groups[g].target_optimizer);
            if (is_ticket(r->groups[g].control) && (pass == 1 || !r->groups[g].native))
                report_add_key(&r->sources, &r->n_sources, r->groups[g].source, r->groups[g].source_optimizer);
        }
    report_sort_keys(targets, n_targets);
    report_sort_keys(r->sources, r->n_sources);
    r->n_targets = n_targets;
    r->targets = tk_calloc((size_t)n_targets + 1, sizeof *r->targets);
    for (int t = 0; t < n_targets; t++) {
        r->targets[t].key = targets[t];
        build_target(r, &r->targets[t]);
    }
    free(targets);
    build_matrix(r);
    if (report_analyze_masks(r, err)) {
        tk_report_free(r);
        return -1;
    }
    return 0;
}

void tk_report_free(tk_report *r) {
    if (!r) return;
    for (int t = 0; t < r->n_targets; t++) {
        free(r->targets[t].series);
        free(r->targets[t].levels);
        free(r->targets[t].cell);
    }
    if (r->profiles)
        for (int p = 0; p < r->n_mask_levels * r->n_mask_sources; p++) free(r->profiles[p].layer_density);
    free(r->groups), free(r->targets), free(r->sources), free(r->matrix_level), free(r->matrix_density);
    free(r->matrix), free(r->mask_sources), free(r->mask_level), free(r->mask_density), free(r->mask_shown);
    free(r->layers), free(r->profiles), free(r->pairs), free(r->overlap);
    memset(r, 0, sizeof *r);
}

/* ---- tables */

int report_write_file(const char *dir, const char *name, const tk_buf *b, tk_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return tk_file_write_atomic(path, b->data ? (const void *)b->data : "", b->len, err);
}

static int write_json(const char *dir, const char *name, cJSON *doc, tk_error *err) {
    char *text = cJSON_Print(doc);
    cJSON_Delete(doc);
    TK_ASSERT(text);
    tk_buf b = {0};
    tk_buf_printf(&b, "%s\n", text);
    free(text);
    int rc = report_write_file(dir, name, &b, err);
    tk_buf_free(&b);
    return rc;
}

/* The provenance columns follow the result's own, so readers that go by
 * position keep working. */
static int write_results(const tk_report_input *in, const tk_provenance *prov, const char *dir, tk_error *err) {
    tk_buf b = {0};
    tk_results_write_header(&b);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < in->n_rows; i++) {
        const tk_result_row *r = &in->rows[i];
        tk_results_write_row(&b, r, &prov[i]);
        cJSON *o = cJSON_CreateObject();
        tk_results_to_json(o, r);
        cJSON_AddStringToObject(o, "run_dir", r->run_dir);
        cJSON_AddItemToObject(o, "provenance", tk_provenance_to_json(&prov[i]));
        cJSON_AddItemToArray(arr, o);
    }
    int rc = report_write_file(dir, "results.csv", &b, err);
    tk_buf_free(&b);
    if (rc) {
        cJSON_Delete(arr);
        return -1;
    }
    return write_json(dir, "results.json", arr, err);
}

static int write_summary(const tk_report *r, const char *dir, tk_error *err) {
    static const char *const stat_names[] = {"mean", "std", "min", "max"};
    tk_buf b = {0};
    tk_buf_printf(&b, "target,target_optimizer,source,source_optimizer,control,native,level,density,n");
    for (int a = 0; a < 2; a++)
        for (int s = 0; s < 4; s++) tk_buf_printf(&b, ",%s_accuracy_%s", a ? "best" : "final", stat_names[s]);
    tk_buf_printf(&b, "\n");
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < r->n_groups; i++) {
        const tk_report_group *g = &r->groups[i];
        const double v[8] = {g->final_mean, g->final_std, g->final_min, g->final_max,
                             g->best_mean,  g->best_std,  g->best_min,  g->best_max};
        tk_csv_field(&b, g->target, false);
        tk_csv_field(&b, g->target_optimizer, false);
        tk_csv_field(&b, g->source, false);
        tk_csv_field(&b, g->source_optimizer, false);
        tk_csv_field(&b, g->control, false);
        tk_buf_printf(&b, "%s,%d,%.9g,%d", g->native ? "true" : "false", g->level, g->density, g->n);
        for (int k = 0; k < 8; k++) tk_buf_printf(&b, ",%.9g", v[k]);
        tk_buf_printf(&b, "\n");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "target", g->target);
        cJSON_AddStringToObject(o, "target_optimizer", g->target_optimizer);
        cJSON_AddStringToObject(o, "source", g->source);
        cJSON_AddStringToObject(o, "source_optimizer", g->source_optimizer);
        cJSON_AddStringToObject(o, "control", g->control);
        cJSON_AddBoolToObject(o, "native", g->native);
        cJSON_AddNumberToObject(o, "level", g->level);
        cJSON_AddNumberToObject(o, "density", g->density);
        cJSON_AddNumberToObject(o, "n", g->n);
        for (int a = 0; a < 2; a++) {
            cJSON *acc = cJSON_AddObjectToObject(o, a ? "best_accuracy" : "final_accuracy");
            for (int s = 0; s < 4; s++) cJSON_AddNumberToObject(acc, stat_names[s], v[a * 4 + s]);
        }
        cJSON_AddItemToArray(arr, o);
    }
    int rc = report_write_file(dir, "summary.csv", &b, err);
    tk_buf_free(&b);
    if (rc) {
        cJSON_Delete(arr);
        return -1;
    }
    return write_json(dir, "summary.json", arr, err);
}

static int write_overlap_csv(const tk_report *r, const char *dir, tk_error *err) {
    tk_buf b = {0};
    tk_buf_printf(&b, "level,source_a,source_optimizer_a,seed_a,source_b,source_optimizer_b,seed_b,jaccard,chance\n");
    for (int i = 0; i < r->n_pairs; i++) {
        const tk_report_pair *p = &r->pairs[i];
        const tk_mask_ref *a = &r->in->masks[p->a], *m = &r->in->masks[p->b];
        tk_buf_printf(&b, "%d,", p->level);
        for (int k = 0; k < 2; k++) {
            const tk_mask_ref *x = k ? m : a;
            tk_csv_field(&b, x->source, false);
            tk_csv_field(&b, x->source_optimizer, false);
            tk_buf_printf(&b, "%llu,", (unsigned long long)x->seed);
        }
        tk_buf_printf(&b, "%.9g,%.9g\n", p->jaccard, p->chance);
    }
    int rc = report_write_file(dir, "mask_overlap.csv", &b, err);
    tk_buf_free(&b);
    return rc;
}

int tk_report_write(const tk_report_input *in, const char *dir, tk_error *err) {
    if (tk_mkdirs(dir, err)) return -1;
    tk_report r;
    if (tk_report_analyze(in, &r, err)) return -1;
    tk_provenance *prov = tk_calloc((size_t)(in->n_rows ? in->n_rows : 1), sizeof *prov);
    for (int i = 0; i < in->n_rows; i++) tk_provenance_of_run(in->rows[i].run_dir, &prov[i], NULL);
    int rc = write_results(in, prov, dir, err);
    if (rc == 0) rc = write_summary(&r, dir, err);
    if (rc == 0 && r.n_pairs) rc = write_overlap_csv(&r, dir, err);
    if (rc == 0) {
        /* A failed figure still leaves a report with every table, which says what failed. */
        tk_error fig_err = {0};
        int fig_rc = tk_report_figures(&r, dir, &fig_err);
        rc = report_write_markdown(&r, prov, dir, fig_rc ? fig_err.msg : NULL, err);
        if (rc == 0 && fig_rc) *err = fig_err, rc = -1;
    }
    tk_report_free(&r);
    free(prov);
    return rc;
}
