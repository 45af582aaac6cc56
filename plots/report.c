/* report.c - a study's results as tables people and programs can read:
 * results.csv/json (one row per trained network), summary.csv/json (mean,
 * std, min, max and n over seeds), mask_overlap.csv (every pair of tickets
 * compared) and report.md (accuracy against weights remaining per target,
 * the transfer matrix, the mask analysis and the figures).
 *
 * Nothing is invented: a cell without a result shows "—" and report.md
 * counts them. Accuracies are fractions in the rows and percentages in
 * report.md; tables show final accuracy, best accuracy is in the CSV. */
#define _XOPEN_SOURCE 700
#include "tk_report.h"
#include "tk_file.h"
#include "tk_provenance.h"
#include "tk_ticket.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASH "\xe2\x80\x94" /* U+2014: a cell without a result */

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

static int find_key(const tk_report_key *keys, int n, const char *dataset, const char *optimizer) {
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i].dataset, dataset) && !strcmp(keys[i].optimizer, optimizer)) return i;
    return -1;
}

static int add_key(tk_report_key **keys, int *n, const char *dataset, const char *optimizer) {
    int i = find_key(*keys, *n, dataset, optimizer);
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

static void sort_keys(tk_report_key *keys, int n) {
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
static void add_level(int **set, int *n, int v) {
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
        add_level(&t->levels, &t->n_levels, G->level);
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

static void build_matrix(tk_report *r) {
    const tk_report_input *in = r->in;
    /* Candidate levels: those with tickets, with their mean density. */
    int *levels = NULL, n_levels = 0;
    for (int g = 0; g < r->n_groups; g++)
        if (is_ticket(r->groups[g].control) && r->groups[g].level > 0) add_level(&levels, &n_levels, r->groups[g].level);
    double *dens = tk_calloc((size_t)n_levels + 1, sizeof(double));
    for (int l = 0; l < n_levels; l++) {
        int count = 0;
        for (int g = 0; g < r->n_groups; g++)
            if (is_ticket(r->groups[g].control) && r->groups[g].level == levels[l])
                dens[l] += r->groups[g].density, count++;
        dens[l] /= count;
    }
    const double *want = in->n_matrix_densities ? in->matrix_densities : default_matrix_densities;
    int n_want = in->n_matrix_densities ? in->n_matrix_densities : TK_ARRAY_LEN(default_matrix_densities);
    int *chosen = tk_malloc(sizeof(int) * (size_t)(n_want + 1));
    r->n_matrix = choose_levels(dens, n_levels, want, n_want, chosen);
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

/* ---- masks */

typedef struct mask_layer {
    char name[64];
    size_t total, kept, offset; /* offset: of the layer's first weight in the mask */
    bool pruned;                /* covered by the pruning strategy */
} mask_layer;

typedef struct mask_info {
    mask_layer *layers;
    int n_layers;
    size_t n; /* prunable weights: the sum of the layers' totals */
} mask_info;

/* max_weights: what the mask file can hold (its bits), so that the totals,
 * which size the mask's buffer, cannot ask for more. */
static int read_sparsity(const char *path, uint64_t max_weights, mask_info *out, tk_error *err) {
    uint8_t *text;
    size_t len;
    if (tk_file_read_all(path, &text, &len, err)) return -1;
    cJSON *doc = cJSON_Parse((const char *)text);
    free(text);
    const cJSON *layers = doc ? cJSON_GetObjectItemCaseSensitive(doc, "layers") : NULL;
    int rc = 0;
    if (!doc) rc = tk_fail(err, "%s: not valid JSON; expected a sparsity.json written by ticket find", path);
    else if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) == 0)
        rc = tk_fail(err, "%s: key \"layers\": expected a non-empty array of {\"name\", \"kept\", \"total\"}", path);
    out->n_layers = rc ? 0 : cJSON_GetArraySize(layers);
    out->layers = tk_calloc((size_t)out->n_layers + 1, sizeof *out->layers);
    out->n = 0;
    for (int i = 0; i < out->n_layers && rc == 0; i++) {
        const cJSON *l = cJSON_GetArrayItem(layers, i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(l, "name");
        const cJSON *kept = cJSON_GetObjectItemCaseSensitive(l, "kept");
        const cJSON *total = cJSON_GetObjectItemCaseSensitive(l, "total");
        const cJSON *pruned = cJSON_GetObjectItemCaseSensitive(l, "pruned_by_strategy");
        if (!cJSON_IsString(name) || strlen(name->valuestring) >= sizeof out->layers[i].name ||
            !cJSON_IsNumber(kept) || !cJSON_IsNumber(total) || !tk_whole_in(total->valuedouble, 1, TK_WHOLE_MAX) ||
            !tk_whole_in(kept->valuedouble, 0, TK_WHOLE_MAX) || kept->valuedouble > total->valuedouble) {
            rc = tk_fail(err, "%s: layers[%d]: expected {\"name\": a string, \"kept\": 0..total, \"total\": a count "
                              "of 1 or more}",
                         path, i);
            break;
        }
        mask_layer *m = &out->layers[i];
        snprintf(m->name, sizeof m->name, "%s", name->valuestring);
        if (total->valuedouble > (double)(max_weights - out->n)) {
            rc = tk_fail(err, "%s: layers[%d]: \"total\" %.17g brings the weights to more than the %llu its mask file "
                              "holds: the two files belong to different tickets or are damaged; run ticket find again",
                         path, i, total->valuedouble, (unsigned long long)max_weights);
            break;
        }
        m->total = (size_t)total->valuedouble;
        m->kept = (size_t)kept->valuedouble;
        m->offset = out->n;
        m->pruned = !cJSON_IsBool(pruned) || cJSON_IsTrue(pruned);
        out->n += m->total;
    }
    cJSON_Delete(doc);
    return rc;
}

/* The mask's bits, checked against its sparsity.json's per-layer counts (so
 * that a mask paired with another ticket's sparsity.json is caught). */
static int load_mask(const tk_mask_ref *ref, const mask_info *info, uint8_t *bits, tk_error *err) {
    if (tk_mask_read(ref->mask_path, bits, info->n, err))
        return tk_fail_prefix(err, "mask of %s (%s), seed %llu, level %d (its size is the sum of \"total\" in %s): ",
                              ref->source, ref->source_optimizer, (unsigned long long)ref->seed, ref->level,
                              ref->sparsity_path);
    for (int l = 0; l < info->n_layers; l++) {
        const mask_layer *L = &info->layers[l];
        size_t kept = 0;
        for (size_t i = 0; i < L->total; i++) kept += bits[L->offset + i] != 0;
        if (kept != L->kept)
            return tk_fail(err, "%s keeps %zu weights of layer %s, its sparsity file %s says %zu: the two files "
                                "belong to different tickets",
                           ref->mask_path, kept, L->name, ref->sparsity_path, L->kept);
    }
    return 0;
}

static int layer_index(const tk_report *r, const char *name) {
    for (int i = 0; i < r->n_layers; i++)
        if (!strcmp(r->layers[i], name)) return i;
    return -1;
}

static const mask_layer *find_layer(const mask_info *m, const char *name) {
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i].name, name)) return &m->layers[i];
    return NULL;
}

/* One pair of tickets at the same level: over the layers both prune with the
 * same size. Returns false when they share no such layer. */
static bool compare_masks(const mask_info *ia, const uint8_t *a, const mask_info *ib, const uint8_t *b,
                          double *jaccard, double *chance) {
    double inter = 0, uni = 0, e_inter = 0, e_uni = 0;
    for (int l = 0; l < ia->n_layers; l++) {
        const mask_layer *la = &ia->layers[l], *lb = find_layer(ib, la->name);
        if (!lb || !la->pruned || !lb->pruned || la->total != lb->total) continue;
        size_t both = 0;
        const uint8_t *pa = a + la->offset, *pb = b + lb->offset;
        for (size_t i = 0; i < la->total; i++) both += (pa[i] != 0) & (pb[i] != 0);
        inter += (double)both;
        uni += (double)(la->kept + lb->kept - both);
        double n = (double)la->total, da = (double)la->kept / n, db = (double)lb->kept / n;
        e_inter += n * da * db;
        e_uni += n * (da + db - da * db);
    }
    if (uni == 0) return false;
    *jaccard = inter / uni;
    *chance = e_inter / e_uni;
    return true;
}

static int analyze_masks(tk_report *r, tk_error *err) {
    const tk_report_input *in = r->in;
    int n = in->n_masks;
    if (n == 0) return 0;
    mask_info *info = tk_calloc((size_t)n, sizeof *info);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const tk_mask_ref *m = &in->masks[i];
        if (m->level < 0) rc = tk_fail(err, "mask %d (%s): level %d: expected 0 or more", i, m->mask_path, m->level);
        else {
            /* A mask file is a 20-byte frame around one bit per weight. */
            uint64_t bytes = 0;
            rc = tk_file_size(m->mask_path, &bytes, err);
            if (rc == 0) rc = read_sparsity(m->sparsity_path, bytes > 20 ? (bytes - 20) * 8 : 0, &info[i], err);
        }
        if (rc) break;
        add_key(&r->mask_sources, &r->n_mask_sources, m->source, m->source_optimizer);
        add_level(&r->mask_level, &r->n_mask_levels, m->level);
        for (int l = 0; l < info[i].n_layers; l++) {
            if (layer_index(r, info[i].layers[l].name) >= 0) continue;
            char(*grown)[64] = tk_realloc(r->layers, sizeof *r->layers * (size_t)(r->n_layers + 1));
            r->layers = grown;
            snprintf(grown[r->n_layers++], 64, "%s", info[i].layers[l].name);
        }
    }
    if (rc == 0) {
        sort_keys(r->mask_sources, r->n_mask_sources);
        int L = r->n_mask_levels, S = r->n_mask_sources;
        r->mask_density = tk_calloc((size_t)L, sizeof(double));
        r->profiles = tk_calloc((size_t)L * (size_t)S, sizeof *r->profiles);
        for (int p = 0; p < L * S; p++) {
            r->profiles[p].layer_density = tk_malloc(sizeof(double) * (size_t)r->n_layers);
            for (int l = 0; l < r->n_layers; l++) r->profiles[p].layer_density[l] = 0;
        }
        r->overlap = tk_calloc((size_t)L * (size_t)S * (size_t)S, sizeof *r->overlap);
    }
    /* One level at a time, so that only that level's masks are in memory. */
    uint8_t **bits = tk_calloc((size_t)n, sizeof *bits);
    int *has_layer = tk_calloc((size_t)r->n_mask_sources * (size_t)r->n_layers + 1, sizeof(int));
    for (int lv = 0; lv < r->n_mask_levels && rc == 0; lv++) {
        int level = r->mask_level[lv], S = r->n_mask_sources, count = 0;
        memset(has_layer, 0, sizeof(int) * (size_t)S * (size_t)r->n_layers);
        for (int i = 0; i < n && rc == 0; i++) {
            if (in->masks[i].level != level) continue;
            bits[i] = tk_malloc(info[i].n);
            rc = load_mask(&in->masks[i], &info[i], bits[i], err);
            if (rc) break;
            size_t kept = 0, covered = 0;
            int s = find_key(r->mask_sources, S, in->masks[i].source, in->masks[i].source_optimizer);
            tk_report_profile *p = &r->profiles[lv * S + s];
            for (int l = 0; l < info[i].n_layers; l++) {
                const mask_layer *ml = &info[i].layers[l];
                int k = layer_index(r, ml->name);
                p->layer_density[k] += (double)ml->kept / (double)ml->total;
                has_layer[s * r->n_layers + k]++;
                if (ml->pruned) kept += ml->kept, covered += ml->total;
            }
            double density = covered ? (double)kept / (double)covered : 1.0;
            p->density += density;
            p->masks++;
            r->mask_density[lv] += density;
            count++;
        }
        r->mask_density[lv] /= count ? count : 1;
        for (int s = 0; s < S && rc == 0; s++) {
            tk_report_profile *p = &r->profiles[lv * S + s];
            if (p->masks) p->density /= p->masks;
            /* A layer the source's model lacks is NAN, not 0: 0 would read as "fully pruned". */
            for (int l = 0; l < r->n_layers; l++) {
                int k = has_layer[s * r->n_layers + l];
                p->layer_density[l] = k ? p->layer_density[l] / k : NAN;
            }
        }
        for (int i = 0; i < n && rc == 0; i++)
            for (int j = i + 1; j < n && bits[i]; j++) {
                const tk_mask_ref *a = &in->masks[i], *b = &in->masks[j];
                if (!bits[j]) continue;
                int sa = find_key(r->mask_sources, S, a->source, a->source_optimizer);
                int sb = find_key(r->mask_sources, S, b->source, b->source_optimizer);
                if (sa == sb && a->seed == b->seed) continue; /* the same ticket twice */
                tk_report_pair pair = {.level = level, .a = i, .b = j};
                if (!compare_masks(&info[i], bits[i], &info[j], bits[j], &pair.jaccard, &pair.chance)) continue;
                tk_report_pair *grown = tk_realloc(r->pairs, sizeof *grown * (size_t)(r->n_pairs + 1));
                r->pairs = grown;
                grown[r->n_pairs++] = pair;
                tk_report_overlap *o1 = &r->overlap[(lv * S + sa) * S + sb], *o2 = &r->overlap[(lv * S + sb) * S + sa];
                o1->jaccard += pair.jaccard, o1->chance += pair.chance, o1->pairs++;
                if (o2 != o1) o2->jaccard += pair.jaccard, o2->chance += pair.chance, o2->pairs++;
            }
        for (int i = 0; i < n; i++) free(bits[i]), bits[i] = NULL;
    }
    if (rc == 0)
        for (int o = 0; o < r->n_mask_levels * r->n_mask_sources * r->n_mask_sources; o++)
            if (r->overlap[o].pairs) r->overlap[o].jaccard /= r->overlap[o].pairs, r->overlap[o].chance /= r->overlap[o].pairs;
    if (rc == 0) {
        int *levels = tk_malloc(sizeof(int) * (size_t)r->n_mask_levels), n_levels = 0;
        double *dens = tk_malloc(sizeof(double) * (size_t)r->n_mask_levels);
        for (int l = 0; l < r->n_mask_levels; l++)
            if (r->mask_level[l] > 0) levels[n_levels] = l, dens[n_levels++] = r->mask_density[l];
        const double *want = in->n_matrix_densities ? in->matrix_densities : default_matrix_densities;
        int n_want = in->n_matrix_densities ? in->n_matrix_densities : TK_ARRAY_LEN(default_matrix_densities);
        int *chosen = tk_malloc(sizeof(int) * (size_t)(n_want + 1));
        r->n_mask_shown = choose_levels(dens, n_levels, want, n_want, chosen);
        r->mask_shown = tk_malloc(sizeof(int) * (size_t)(r->n_mask_shown + 1));
        for (int k = 0; k < r->n_mask_shown; k++) r->mask_shown[k] = levels[chosen[k]];
        free(levels), free(dens), free(chosen);
    }
    free(bits), free(has_layer);
    for (int i = 0; i < n; i++) free(info[i].layers);
    free(info);
    return rc;
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
            if (pass == 0) add_key(&targets, &n_targets, r->groups[g].target, r->groups[g].target_optimizer);
            if (is_ticket(r->groups[g].control) && (pass == 1 || !r->groups[g].native))
                add_key(&r->sources, &r->n_sources, r->groups[g].source, r->groups[g].source_optimizer);
        }
    sort_keys(targets, n_targets);
    sort_keys(r->sources, r->n_sources);
    r->n_targets = n_targets;
    r->targets = tk_calloc((size_t)n_targets + 1, sizeof *r->targets);
    for (int t = 0; t < n_targets; t++) {
        r->targets[t].key = targets[t];
        build_target(r, &r->targets[t]);
    }
    free(targets);
    build_matrix(r);
    if (analyze_masks(r, err)) {
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

/* RFC 4180: a field holding a comma, quote or line break is quoted, its
 * quotes doubled. */
static void csv_field(tk_buf *b, const char *s, bool last) {
    if (strpbrk(s, ",\"\r\n")) {
        tk_buf_put(b, "\"", 1);
        for (const char *p = s; *p; p++) {
            if (*p == '"') tk_buf_put(b, "\"", 1);
            tk_buf_put(b, p, 1);
        }
        tk_buf_put(b, "\"", 1);
    } else {
        tk_buf_put(b, s, strlen(s));
    }
    tk_buf_put(b, last ? "\n" : ",", 1);
}

static int write_buf(const char *dir, const char *name, const tk_buf *b, tk_error *err) {
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
    int rc = write_buf(dir, name, &b, err);
    tk_buf_free(&b);
    return rc;
}

/* A uint64 as an exact JSON number (a double would round seeds past 2^53). */
static void json_u64(cJSON *o, const char *key, uint64_t v) {
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, key, text);
}

/* The provenance columns follow the result's own, so readers that go by
 * position keep working. */
static int write_results(const tk_report_input *in, const tk_provenance *prov, const char *dir, tk_error *err) {
    tk_buf b = {0};
    tk_buf_printf(&b, "study,model,target,target_optimizer,source,source_optimizer,control,native,level,density,seed,"
                      "final_accuracy,best_accuracy,best_iteration");
    for (int f = 0; f < TK_PROV_FIELD_COUNT; f++) tk_buf_printf(&b, ",%s", tk_provenance_field_names[f]);
    tk_buf_printf(&b, "\n");
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < in->n_rows; i++) {
        const tk_result_row *r = &in->rows[i];
        csv_field(&b, r->study, false);
        csv_field(&b, r->model, false);
        csv_field(&b, r->target, false);
        csv_field(&b, r->target_optimizer, false);
        csv_field(&b, r->source, false);
        csv_field(&b, r->source_optimizer, false);
        csv_field(&b, r->control, false);
        tk_buf_printf(&b, "%s,%d,%.9g,%llu,%.9g,%.9g,%lld,", r->native ? "true" : "false", r->level, r->density,
                      (unsigned long long)r->seed, r->final_accuracy, r->best_accuracy, (long long)r->best_iteration);
        for (int f = 0; f < TK_PROV_FIELD_COUNT; f++) csv_field(&b, prov[i].field[f], f == TK_PROV_FIELD_COUNT - 1);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "study", r->study);
        cJSON_AddStringToObject(o, "model", r->model);
        cJSON_AddStringToObject(o, "target", r->target);
        cJSON_AddStringToObject(o, "target_optimizer", r->target_optimizer);
        cJSON_AddStringToObject(o, "source", r->source);
        cJSON_AddStringToObject(o, "source_optimizer", r->source_optimizer);
        cJSON_AddStringToObject(o, "control", r->control);
        cJSON_AddBoolToObject(o, "native", r->native);
        cJSON_AddNumberToObject(o, "level", r->level);
        cJSON_AddNumberToObject(o, "density", r->density);
        json_u64(o, "seed", r->seed);
        cJSON_AddNumberToObject(o, "final_accuracy", r->final_accuracy);
        cJSON_AddNumberToObject(o, "best_accuracy", r->best_accuracy);
        cJSON_AddNumberToObject(o, "best_iteration", (double)r->best_iteration);
        cJSON_AddStringToObject(o, "run_dir", r->run_dir);
        cJSON_AddItemToObject(o, "provenance", tk_provenance_to_json(&prov[i]));
        cJSON_AddItemToArray(arr, o);
    }
    int rc = write_buf(dir, "results.csv", &b, err);
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
        csv_field(&b, g->target, false);
        csv_field(&b, g->target_optimizer, false);
        csv_field(&b, g->source, false);
        csv_field(&b, g->source_optimizer, false);
        csv_field(&b, g->control, false);
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
    int rc = write_buf(dir, "summary.csv", &b, err);
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
            csv_field(&b, x->source, false);
            csv_field(&b, x->source_optimizer, false);
            tk_buf_printf(&b, "%llu,", (unsigned long long)x->seed);
        }
        tk_buf_printf(&b, "%.9g,%.9g\n", p->jaccard, p->chance);
    }
    int rc = write_buf(dir, "mask_overlap.csv", &b, err);
    tk_buf_free(&b);
    return rc;
}

/* ---- report.md */

typedef struct md_ctx {
    tk_buf b;
    int missing_table, missing_matrix, missing_delta;
} md_ctx;

/* Text for a table cell: '|' would end the cell. */
static void md_text(tk_buf *b, const char *s) {
    for (const char *p = s; *p; p++) {
        if (*p == '|') tk_buf_put(b, "\\", 1);
        tk_buf_put(b, p, 1);
    }
}

static void md_key(tk_buf *b, const tk_report_key *k) {
    md_text(b, k->dataset);
    tk_buf_printf(b, " (");
    md_text(b, k->optimizer);
    tk_buf_printf(b, ")");
}

/* A density (fraction) as a percentage with two decimals: 0.8^L stays apart. */
static void md_density(tk_buf *b, double d) { tk_buf_printf(b, "%.2f", 100.0 * d); }

static void md_figure(tk_buf *b, const char *name, const char *alt) {
    if (name[0]) tk_buf_printf(b, "![%s](figures/%s.png)\n\n", alt, name);
}

static void md_accuracy_tables(const tk_report *r, md_ctx *c) {
    tk_buf *b = &c->b;
    for (int t = 0; t < r->n_targets; t++) {
        const tk_report_target *T = &r->targets[t];
        tk_buf_printf(b, "## Target: ");
        md_key(b, &T->key);
        tk_buf_printf(b, "\n\n");
        if (T->dense >= 0) {
            const tk_report_group *d = &r->groups[T->dense];
            tk_buf_printf(b, "Dense network (reference): %.2f ± %.2f (n = %d).\n\n", 100 * d->final_mean,
                          100 * d->final_std, d->n);
        } else {
            tk_buf_printf(b, "Dense network (reference): " DASH " (no result).\n\n");
            c->missing_table++;
        }
        if (T->n_series == 0) continue;
        int max_n = 0;
        for (int k = 0; k < T->n_levels * T->n_series; k++)
            if (T->cell[k] >= 0 && r->groups[T->cell[k]].n > max_n) max_n = r->groups[T->cell[k]].n;
        tk_buf_printf(b, "Final test accuracy (%%), mean ± std over seeds (n = %d unless marked):\n\n", max_n);
        tk_buf_printf(b, "| level | weights remaining (%%) |");
        for (int s = 0; s < T->n_series; s++) {
            tk_buf_printf(b, " ");
            md_text(b, T->series[s].label);
            tk_buf_printf(b, " |");
        }
        tk_buf_printf(b, "\n|---:|---:|");
        for (int s = 0; s < T->n_series; s++) tk_buf_printf(b, "---:|");
        tk_buf_printf(b, "\n");
        for (int l = 0; l < T->n_levels; l++) {
            const int *row = &T->cell[l * T->n_series];
            /* Transferred tickets keep the source's density, so a level's
             * densities can differ slightly between columns: show the range. */
            double lo = 2, hi = -1;
            for (int s = 0; s < T->n_series; s++)
                if (row[s] >= 0) {
                    double d = r->groups[row[s]].density;
                    lo = d < lo ? d : lo, hi = d > hi ? d : hi;
                }
            tk_buf_printf(b, "| %d | ", T->levels[l]);
            md_density(b, lo);
            if (100 * hi - 100 * lo >= 0.005) tk_buf_printf(b, "–"), md_density(b, hi);
            tk_buf_printf(b, " |");
            for (int s = 0; s < T->n_series; s++) {
                if (row[s] < 0) {
                    tk_buf_printf(b, " " DASH " |");
                    /* Level 0 is the dense network: no ticket or control exists there. */
                    if (T->levels[l] > 0) c->missing_table++;
                    continue;
                }
                const tk_report_group *g = &r->groups[row[s]];
                tk_buf_printf(b, " %.2f ± %.2f", 100 * g->final_mean, 100 * g->final_std);
                if (g->n != max_n) tk_buf_printf(b, " (n = %d)", g->n);
                tk_buf_printf(b, " |");
            }
            tk_buf_printf(b, "\n");
        }
        tk_buf_printf(b, "\n");
        md_figure(b, T->figure, "accuracy against weights remaining");
    }
}

/* " Δ native +1.23" in percentage points, or a dash when the reference is missing. */
static void md_delta(const tk_report *r, md_ctx *c, const char *what, int value, int reference) {
    if (reference < 0) {
        tk_buf_printf(&c->b, "Δ %s " DASH, what);
        c->missing_delta++;
        return;
    }
    tk_buf_printf(&c->b, "Δ %s %+.2f", what,
                  100 * (r->groups[value].final_mean - r->groups[reference].final_mean));
}

static void md_matrix(const tk_report *r, md_ctx *c) {
    tk_buf *b = &c->b;
    tk_buf_printf(b, "## Transfer matrix\n\n");
    if (r->n_matrix == 0) {
        tk_buf_printf(b, "No pruned tickets in the results: nothing to show.\n\n");
        return;
    }
    tk_buf_printf(b, "Final test accuracy (%%, mean over seeds) of each source's ticket (rows) retrained on each "
                     "target (columns), with the difference to the target's own ticket (Δ native) and to the "
                     "random ticket (Δ random) at the same level, in percentage points; positive means the "
                     "transferred ticket is better. The random ticket is the control drawn from the source's "
                     "ticket, else the one drawn from the target's own. On the diagonal the source is the target: "
                     "the native ticket itself.\n\n");
    for (int m = 0; m < r->n_matrix; m++) {
        tk_buf_printf(b, "### Level %d: ", r->matrix_level[m]);
        md_density(b, r->matrix_density[m]);
        tk_buf_printf(b, "%% of weights remaining\n\n| source \\ target |");
        for (int t = 0; t < r->n_targets; t++) {
            tk_buf_printf(b, " ");
            md_key(b, &r->targets[t].key);
            tk_buf_printf(b, " |");
        }
        tk_buf_printf(b, "\n|---|");
        for (int t = 0; t < r->n_targets; t++) tk_buf_printf(b, "---:|");
        tk_buf_printf(b, "\n");
        for (int s = 0; s < r->n_sources; s++) {
            tk_buf_printf(b, "| ");
            md_key(b, &r->sources[s]);
            tk_buf_printf(b, " |");
            for (int t = 0; t < r->n_targets; t++) {
                const tk_report_matrix_cell *cell = &r->matrix[((size_t)m * r->n_sources + s) * r->n_targets + t];
                if (cell->ticket < 0) {
                    tk_buf_printf(b, " " DASH " |");
                    c->missing_matrix++;
                    continue;
                }
                tk_buf_printf(b, " %.2f (", 100 * r->groups[cell->ticket].final_mean);
                if (cell->ticket == cell->native && cell->random < 0) {
                    /* A study without the random_ticket control has none beside the native ticket. */
                    tk_buf_printf(b, "native) |");
                    continue;
                }
                if (cell->ticket == cell->native) tk_buf_printf(b, "native");
                else md_delta(r, c, "native", cell->ticket, cell->native);
                tk_buf_printf(b, "; ");
                md_delta(r, c, "random", cell->ticket, cell->random);
                tk_buf_printf(b, ") |");
            }
            tk_buf_printf(b, "\n");
        }
        tk_buf_printf(b, "\n");
    }
    md_figure(b, r->matrix_figure, "transfer matrix");
}

static void md_masks(const tk_report *r, md_ctx *c) {
    tk_buf *b = &c->b;
    if (r->in->n_masks == 0) return;
    int S = r->n_mask_sources;
    tk_buf_printf(b, "## Mask analysis\n\n### Per-layer density\n\nDensity (%%) of each prunable tensor of the "
                     "source tickets, mean over seeds; \"overall\" is over the weights the pruning strategy "
                     "covers.\n\n");
    for (int s = 0; s < S; s++) {
        tk_buf_printf(b, "#### ");
        md_key(b, &r->mask_sources[s]);
        tk_buf_printf(b, "\n\n| level | overall |");
        for (int l = 0; l < r->n_layers; l++) {
            tk_buf_printf(b, " ");
            md_text(b, r->layers[l]);
            tk_buf_printf(b, " |");
        }
        tk_buf_printf(b, "\n|---:|---:|");
        for (int l = 0; l < r->n_layers; l++) tk_buf_printf(b, "---:|");
        tk_buf_printf(b, "\n");
        for (int lv = 0; lv < r->n_mask_levels; lv++) {
            const tk_report_profile *p = &r->profiles[lv * S + s];
            if (!p->masks) continue;
            tk_buf_printf(b, "| %d | ", r->mask_level[lv]);
            md_density(b, p->density);
            tk_buf_printf(b, " |");
            for (int l = 0; l < r->n_layers; l++) {
                if (isnan(p->layer_density[l])) tk_buf_printf(b, " " DASH " |");
                else tk_buf_printf(b, " "), md_density(b, p->layer_density[l]), tk_buf_printf(b, " |");
            }
            tk_buf_printf(b, "\n");
        }
        tk_buf_printf(b, "\n");
    }
    md_figure(b, r->layers_figure, "per-layer density");

    tk_buf_printf(b, "### Mask overlap\n\nJaccard overlap |A ∩ B| / |A ∪ B| between the masks of two tickets at "
                     "the same level, mean over pairs of seeds, beside (in brackets) the overlap two independent "
                     "random masks with the same per-layer densities would have: Σ n·a·b / Σ n·(a + b − a·b) over "
                     "layers of n weights with densities a and b. Off the diagonal: tickets of different sources; "
                     "on it: the same source, different seeds. Only layers both tickets prune, with the same "
                     "size, are compared (a head rebuilt for another class count is not). Every pair at every "
                     "level is in mask_overlap.csv.\n\n");
    for (int k = 0; k < r->n_mask_shown; k++) {
        int lv = r->mask_shown[k];
        tk_buf_printf(b, "#### Level %d: ", r->mask_level[lv]);
        md_density(b, r->mask_density[lv]);
        tk_buf_printf(b, "%% of weights remaining\n\n| |");
        for (int s = 0; s < S; s++) {
            tk_buf_printf(b, " ");
            md_key(b, &r->mask_sources[s]);
            tk_buf_printf(b, " |");
        }
        tk_buf_printf(b, "\n|---|");
        for (int s = 0; s < S; s++) tk_buf_printf(b, "---:|");
        tk_buf_printf(b, "\n");
        for (int s = 0; s < S; s++) {
            tk_buf_printf(b, "| ");
            md_key(b, &r->mask_sources[s]);
            tk_buf_printf(b, " |");
            for (int u = 0; u < S; u++) {
                const tk_report_overlap *o = &r->overlap[(lv * S + s) * S + u];
                if (o->pairs) tk_buf_printf(b, " %.3f (%.3f) |", o->jaccard, o->chance);
                else tk_buf_printf(b, " " DASH " |");
            }
            tk_buf_printf(b, "\n");
        }
        tk_buf_printf(b, "\n");
    }
    md_figure(b, r->overlap_figure, "mask overlap");
}

static void md_curves(const tk_report *r, md_ctx *c) {
    bool any = false;
    for (int t = 0; t < r->n_targets; t++) any |= r->targets[t].curves[0] != 0;
    if (!any) return;
    tk_buf_printf(&c->b, "## Training curves\n\nTest accuracy against iteration (mean over seeds) at the transfer "
                         "matrix's levels; the dense network dotted.\n\n");
    for (int t = 0; t < r->n_targets; t++) md_figure(&c->b, r->targets[t].curves, "training curves");
}

/* Every distinct provenance of the rows, with how many rows it produced; a
 * warning when the rows come from different BLAS kernels. */
static void md_provenance(const tk_report *r, const tk_provenance *prov, md_ctx *c) {
    tk_buf *b = &c->b;
    int n = r->in->n_rows, n_distinct = 0, unknown = 0;
    int *first = tk_malloc(sizeof(int) * (size_t)(n ? n : 1)), *count = tk_calloc((size_t)(n ? n : 1), sizeof(int));
    for (int i = 0; i < n; i++) {
        if (!tk_provenance_known(&prov[i])) {
            unknown++;
            continue;
        }
        int k = 0;
        while (k < n_distinct && !tk_provenance_equal(&prov[first[k]], &prov[i])) k++;
        if (k == n_distinct) first[n_distinct++] = i;
        count[k]++;
    }
    tk_buf_printf(b, "## Provenance\n\nHow the numbers were produced, from each run's summary.json (the same "
                     "columns are in results.csv; a run resumed under another provenance lists both values, "
                     "separated by \"; \").\n\n");
    if (n_distinct) {
        tk_buf_printf(b, "| rows | ticket | BLAS | core | OPENBLAS_CORETYPE | BLAS threads | engine threads | CPU | ISA |\n"
                         "| ---: | --- | --- | --- | --- | ---: | ---: | --- | --- |\n");
        for (int k = 0; k < n_distinct; k++) {
            tk_buf_printf(b, "| %d |", count[k]);
            for (int f = 0; f < TK_PROV_FIELD_COUNT; f++) {
                const char *v = prov[first[k]].field[f];
                tk_buf_printf(b, " ");
                md_text(b, v[0] ? v : f == TK_PROV_BLAS_CORETYPE ? "unset" : DASH);
                tk_buf_printf(b, " |");
            }
            tk_buf_printf(b, "\n");
        }
        tk_buf_printf(b, "\n");
    }
    bool mixed = false;
    for (int k = 0; k < n_distinct; k++)
        mixed |= !tk_provenance_same_kernel(&prov[first[k]], &prov[first[0]]) ||
                 strstr(prov[first[k]].field[TK_PROV_BLAS_CORE], "; ") || strstr(prov[first[k]].field[TK_PROV_BLAS], "; ");
    if (mixed)
        tk_buf_printf(b, "**Warning:** these rows were computed with different BLAS kernels; their numbers differ in "
                         "the last bits for that reason alone, and results are comparable only within a tolerance.\n\n");
    if (unknown) tk_buf_printf(b, "%d rows have no provenance (their runs predate it).\n\n", unknown);
    tk_buf_printf(b, "The tables were written by ticket ");
    md_text(b, tk_provenance_version());
    tk_buf_printf(b, ".\n\n");
    free(first), free(count);
}

static int write_markdown(const tk_report *r, const tk_provenance *prov, const char *dir, const char *figures_error,
                          tk_error *err) {
    md_ctx c;
    memset(&c, 0, sizeof c);
    tk_buf *b = &c.b;
    tk_buf_printf(b, "# ");
    md_text(b, r->in->title && r->in->title[0] ? r->in->title : "Transfer study");
    tk_buf_printf(b, "\n\n%d trained networks. Accuracy is top-1 test accuracy in percent after the last training "
                     "step (final accuracy); the best accuracy over evaluations and its iteration are in "
                     "results.csv. Weights remaining is the fraction of prunable weights kept. Files: results.csv "
                     "and results.json (one row per network), summary.csv and summary.json (mean, std, min, max "
                     "and n over seeds)%s.\n\n",
                  r->in->n_rows, r->n_pairs ? ", mask_overlap.csv" : "");
    md_accuracy_tables(r, &c);
    md_matrix(r, &c);
    md_masks(r, &c);
    md_curves(r, &c);
    md_provenance(r, prov, &c);
    tk_buf_printf(b, "## Notes\n\n");
    int missing = c.missing_table + c.missing_matrix + c.missing_delta;
    if (missing)
        tk_buf_printf(b, "- %d cells have no result and show " DASH " (%d in the accuracy tables, %d in the "
                         "transfer matrix, %d missing comparisons in it): nothing is filled in.\n",
                      missing, c.missing_table, c.missing_matrix, c.missing_delta);
    else tk_buf_printf(b, "- Every cell has a result.\n");
    if (r->figures_skipped) tk_buf_printf(b, "- figures skipped: gnuplot not found; apt-get install gnuplot-nox\n");
    if (figures_error) tk_buf_printf(b, "- figures failed: %s\n", figures_error);
    if (r->curves_missing)
        tk_buf_printf(b, "- %d runs have no metrics.jsonl in their run folder and are left out of the training "
                         "curves.\n",
                      r->curves_missing);
    int rc = write_buf(dir, "report.md", b, err);
    tk_buf_free(b);
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
        rc = write_markdown(&r, prov, dir, fig_rc ? fig_err.msg : NULL, err);
        if (rc == 0 && fig_rc) *err = fig_err, rc = -1;
    }
    tk_report_free(&r);
    free(prov);
    return rc;
}
