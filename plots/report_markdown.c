/* report_markdown.c - report.md: accuracy against weights remaining per
 * target, the transfer matrix, the mask analysis, the training curves and
 * the provenance of every run, with the figures. Nothing is invented: a cell
 * without a result shows a dash and the notes count them. */
#include "report_parts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            tk_buf_printf(b, "Dense network (reference): " TK_REPORT_DASH " (no result).\n\n");
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
                    tk_buf_printf(b, " " TK_REPORT_DASH " |");
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
        tk_buf_printf(&c->b, "Δ %s " TK_REPORT_DASH, what);
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
                    tk_buf_printf(b, " " TK_REPORT_DASH " |");
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
                if (isnan(p->layer_density[l])) tk_buf_printf(b, " " TK_REPORT_DASH " |");
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
                else tk_buf_printf(b, " " TK_REPORT_DASH " |");
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
                md_text(b, v[0] ? v : f == TK_PROV_BLAS_CORETYPE ? "unset" : TK_REPORT_DASH);
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

int report_write_markdown(const tk_report *r, const tk_provenance *prov, const char *dir, const char *figures_error,
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
        tk_buf_printf(b, "- %d cells have no result and show " TK_REPORT_DASH " (%d in the accuracy tables, %d in the "
                         "transfer matrix, %d missing comparisons in it): nothing is filled in.\n",
                      missing, c.missing_table, c.missing_matrix, c.missing_delta);
    else tk_buf_printf(b, "- Every cell has a result.\n");
    if (r->figures_skipped) tk_buf_printf(b, "- figures skipped: gnuplot not found; apt-get install gnuplot-nox\n");
    if (figures_error) tk_buf_printf(b, "- figures failed: %s\n", figures_error);
    if (r->curves_missing)
        tk_buf_printf(b, "- %d runs have no metrics.jsonl in their run folder and are left out of the training "
                         "curves.\n",
                      r->curves_missing);
    int rc = report_write_file(dir, "report.md", b, err);
    tk_buf_free(b);
    return rc;
}
