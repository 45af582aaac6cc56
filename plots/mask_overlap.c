/* mask_overlap.c - the report's mask analysis: every pair of source tickets
 * at the same level compared layer by layer (Jaccard overlap of the kept
 * weights against the overlap two random masks of the same counts would
 * have), and each ticket's density per layer. */
#include "report_parts.h"
#include "tk_file.h"
#include "tk_ticket.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int report_analyze_masks(tk_report *r, tk_error *err) {
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
        report_add_key(&r->mask_sources, &r->n_mask_sources, m->source, m->source_optimizer);
        report_add_level(&r->mask_level, &r->n_mask_levels, m->level);
        for (int l = 0; l < info[i].n_layers; l++) {
            if (layer_index(r, info[i].layers[l].name) >= 0) continue;
            char(*grown)[64] = tk_realloc(r->layers, sizeof *r->layers * (size_t)(r->n_layers + 1));
            r->layers = grown;
            snprintf(grown[r->n_layers++], 64, "%s", info[i].layers[l].name);
        }
    }
    if (rc == 0) {
        report_sort_keys(r->mask_sources, r->n_mask_sources);
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
            int s = report_find_key(r->mask_sources, S, in->masks[i].source, in->masks[i].source_optimizer);
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
                int sa = report_find_key(r->mask_sources, S, a->source, a->source_optimizer);
                int sb = report_find_key(r->mask_sources, S, b->source, b->source_optimizer);
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
        int *chosen = report_pick_levels(in, dens, n_levels, &r->n_mask_shown);
        r->mask_shown = tk_malloc(sizeof(int) * (size_t)(r->n_mask_shown + 1));
        for (int k = 0; k < r->n_mask_shown; k++) r->mask_shown[k] = levels[chosen[k]];
        free(levels), free(dens), free(chosen);
    }
    free(bits), free(has_layer);
    for (int i = 0; i < n; i++) free(info[i].layers);
    free(info);
    return rc;
}
