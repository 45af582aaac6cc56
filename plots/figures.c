/* figures.c - a report's numbers as gnuplot figures.
 *
 * For each figure this writes two files into dir/figures/data/: NAME.dat,
 * the numbers (one gnuplot data block per plotted line or heatmap, blocks
 * separated by two blank lines), and NAME.vars.gp, what the script needs to
 * know about them (titles, colours, panels, tic labels). Then it runs
 * `gnuplot NAME.vars.gp plots/KIND.gp`, which draws NAME.png (pngcairo) and
 * NAME.svg into dir/figures/. The look lives in the scripts; this file only
 * decides what is plotted.
 *
 * Variables every script receives:
 *   datafile, out          the data file; the output path without extension
 *   n_panels, n_cols, n_rows, panel_title[p], panel_first[p], panel_last[p]
 *                          panels of a multiplot and the blocks each one plots (1-based)
 *   block_title[b], block_color[b] ("#rrggbb"), block_dash[b] (gnuplot dt), block_width[b]
 * and the kind's own, documented at the top of each script. */
#define _XOPEN_SOURCE 700
#include "tk_file.h"
#include "tk_process.h"
#include "tk_report.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


/* Okabe & Ito's colour-blind-safe palette (yellow left out: unreadable on white). */
static const char *const source_colors[] = {"#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7"};
#define NATIVE_COLOR "#000000"
#define DENSE_COLOR "#808080"
enum { DT_SOLID = 1, DT_DASHED = 2, DT_DOTTED = 3, DT_DASH_DOT = 4 };

typedef struct fig_ctx {
    tk_report *r;
    const char *dir;
    char gnuplot[4096], plots[4096];
} fig_ctx;

/* ---- finding gnuplot */

/* Runs `gnuplot vars script`; its output goes into the error message. */
static int run_gnuplot(const fig_ctx *c, const char *script, const char *vars, tk_error *err) {
    char *const argv[] = {(char *)c->gnuplot, (char *)vars, (char *)script, NULL};
    char msg[2048];
    int status = tk_run_program(argv, msg, sizeof msg, err);
    if (status == 0) return 0;
    if (status > 0)
        return tk_fail_system(err, "gnuplot failed on %s (with %s), exit status %d: %s", script, vars, status,
                              msg[0] ? msg : "(no message)");
    return tk_fail_prefix(err, "on %s (with %s): ", script, vars);
}

/* ---- one figure */

typedef struct figure {
    tk_buf data;   /* the blocks */
    tk_buf vars;   /* the kind's own variables */
    tk_buf blocks; /* panel_* and block_* elements, declared when their counts are known */
    int n_blocks, n_panels;
    char name[128];
    char pending[160]; /* the next panel's title: a panel opens with its first block */
    char title[160];   /* the figure's */
} figure;

/* A gnuplot string literal: single quotes take everything literally but ''. */
static void gp_quote(tk_buf *b, const char *s) {
    tk_buf_put(b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'') tk_buf_put(b, "'", 1);
        tk_buf_put(b, p, 1);
    }
    tk_buf_put(b, "'", 1);
}

static void gp_string(tk_buf *b, const char *name, const char *value) {
    tk_buf_printf(b, "%s = ", name);
    gp_quote(b, value);
    tk_buf_printf(b, "\n");
}

/* Declares a string array from labels[0..n) (gnuplot arrays have at least one element). */
static void gp_labels(tk_buf *b, const char *name, const char *const *labels, int n) {
    tk_buf_printf(b, "array %s[%d]\n", name, n > 0 ? n : 1);
    for (int i = 0; i < n; i++) {
        tk_buf_printf(b, "%s[%d] = ", name, i + 1);
        gp_quote(b, labels[i]);
        tk_buf_printf(b, "\n");
    }
}

/* Keeps [A-Za-z0-9._-] of s: dataset labels may be paths or "synthetic:...".
 * Returns whether anything was replaced. */
static bool slug(char *out, size_t cap, const char *s) {
    size_t n = 0;
    bool replaced = false;
    for (const char *p = s; *p && n + 1 < cap; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '-';
        out[n++] = ok ? ch : '_';
        replaced |= !ok;
    }
    out[n] = 0;
    return replaced;
}

/* Per-target figures are named PREFIX_DATASET_OPTIMIZER; `index` (the
 * target's) keeps two labels that slug alike ("a/b", "a:b") apart. */
static void fig_begin(figure *f, const char *title, const char *prefix, const tk_report_key *key, int index) {
    memset(f, 0, sizeof *f);
    snprintf(f->title, sizeof f->title, "%s", title);
    if (!key) {
        snprintf(f->name, sizeof f->name, "%s", prefix);
        return;
    }
    char d[64], o[16];
    bool changed = slug(d, sizeof d, key->dataset);
    changed |= slug(o, sizeof o, key->optimizer);
    if (changed) snprintf(f->name, sizeof f->name, "%s_%s_%s_%d", prefix, d, o, index + 1);
    else snprintf(f->name, sizeof f->name, "%s_%s_%s", prefix, d, o);
}

/* The next blocks go into a new panel titled `title`; a panel that gets no
 * block is never drawn. */
static void fig_panel(figure *f, const char *title) { snprintf(f->pending, sizeof f->pending, "%s", title); }

/* Starts a data block; the caller then appends its lines to f->data. */
static void fig_block(figure *f, const char *title, const char *color, int dash, double width) {
    if (f->pending[0]) {
        if (f->n_panels) tk_buf_printf(&f->blocks, "panel_last[%d] = %d\n", f->n_panels, f->n_blocks);
        f->n_panels++;
        tk_buf_printf(&f->blocks, "panel_title[%d] = ", f->n_panels);
        gp_quote(&f->blocks, f->pending);
        tk_buf_printf(&f->blocks, "\npanel_first[%d] = %d\n", f->n_panels, f->n_blocks + 1);
        f->pending[0] = 0;
    }
    TK_ASSERT(f->n_panels > 0);
    if (f->n_blocks) tk_buf_printf(&f->data, "\n\n");
    f->n_blocks++;
    tk_buf_printf(&f->blocks, "block_title[%d] = ", f->n_blocks);
    gp_quote(&f->blocks, title);
    tk_buf_printf(&f->blocks, "\nblock_color[%d] = '%s'\nblock_dash[%d] = %d\nblock_width[%d] = %g\n", f->n_blocks,
                  color, f->n_blocks, dash, f->n_blocks, width);
}

static void fig_free(figure *f) {
    tk_buf_free(&f->data);
    tk_buf_free(&f->vars);
    tk_buf_free(&f->blocks);
}

/* gnuplot does not always report a failed write (a full disk): a PNG must
 * end with its IEND chunk, an SVG hold its closing tag. */
static bool drawn_whole(const char *path, bool png) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, NULL)) return false;
    static const uint8_t iend[8] = {'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    bool whole = png ? n >= 8 && !memcmp(data + n - 8, iend, 8) : strstr((const char *)data, "</svg>") != NULL;
    free(data);
    return whole;
}

/* Writes the figure's files and runs its script; `out` gets the figure's
 * name. A figure with nothing to plot is not drawn (out stays ""). */
static int fig_draw(const fig_ctx *c, figure *f, const char *kind, char *out, size_t cap, tk_error *err) {
    out[0] = 0;
    if (f->n_blocks == 0) {
        fig_free(f);
        return 0;
    }
    char data[4096], vars[4096], target[4096], script[4096];
    snprintf(data, sizeof data, "%s/figures/data/%s.dat", c->dir, f->name);
    snprintf(vars, sizeof vars, "%s/figures/data/%s.vars.gp", c->dir, f->name);
    snprintf(target, sizeof target, "%s/figures/%s", c->dir, f->name);
    snprintf(script, sizeof script, "%s/%s.gp", c->plots, kind);
    tk_buf v = {0};
    tk_buf_printf(&v, "# written by ticket for %s; the numbers are in %s.dat\n", script, f->name);
    gp_string(&v, "datafile", data);
    /* gnuplot writes NAME.tmp.png and NAME.tmp.svg, which are fsynced and
     * renamed over the figures once it succeeds: a report killed while
     * drawing leaves the old figures or the new ones, never half of one. */
    char drawing[4200];
    snprintf(drawing, sizeof drawing, "%s.tmp", target);
    gp_string(&v, "out", drawing);
    gp_string(&v, "plots_dir", c->plots);
    gp_string(&v, "figure_title", f->title);
    int cols = f->n_panels < 3 ? f->n_panels : 3;
    tk_buf_printf(&v, "n_panels = %d\nn_cols = %d\nn_rows = %d\n", f->n_panels, cols, (f->n_panels + cols - 1) / cols);
    tk_buf_put(&v, f->vars.data, f->vars.len);
    tk_buf_printf(&v, "array panel_title[%d]\narray panel_first[%d]\narray panel_last[%d]\n", f->n_panels,
                  f->n_panels, f->n_panels);
    tk_buf_printf(&v, "array block_title[%d]\narray block_color[%d]\narray block_dash[%d]\narray block_width[%d]\n",
                  f->n_blocks, f->n_blocks, f->n_blocks, f->n_blocks);
    tk_buf_put(&v, f->blocks.data, f->blocks.len);
    tk_buf_printf(&v, "panel_last[%d] = %d\n", f->n_panels, f->n_blocks);
    tk_buf_printf(&f->data, "\n");
    int rc = tk_file_write_atomic(data, f->data.data, f->data.len, err);
    if (rc == 0) rc = tk_file_write_atomic(vars, v.data, v.len, err);
    tk_buf_free(&v);
    fig_free(f);
    char paths[2][4200], drawn[2][4300];
    for (int k = 0; k < 2; k++) {
        snprintf(paths[k], sizeof paths[k], "%s.%s", target, k ? "svg" : "png");
        snprintf(drawn[k], sizeof drawn[k], "%s.%s", drawing, k ? "svg" : "png");
        unlink(drawn[k]); /* so that a drawing left by an earlier report cannot pass for this one */
    }
    if (rc == 0) rc = run_gnuplot(c, script, vars, err);
    for (int k = 0; k < 2 && rc == 0; k++) {
        if (!tk_file_exists(drawn[k]))
            rc = tk_fail_system(err, "gnuplot ran %s without error but wrote no %s; check the script's output settings",
                         script, drawn[k]);
        else if (!drawn_whole(drawn[k], k == 0))
            rc = tk_fail_system(err, "gnuplot ran %s without error but %s ends before its last %s: the disk may be full; "
                         "free some space and run the same command again (the previous figure is kept)",
                         script, drawn[k], k == 0 ? "chunk (IEND)" : "tag (</svg>)");
    }
    for (int k = 0; k < 2 && rc == 0; k++) rc = tk_file_publish(drawn[k], paths[k], err);
    for (int k = 0; k < 2 && rc != 0; k++) unlink(drawn[k]);
    if (rc == 0) snprintf(out, cap, "%s", f->name);
    return rc;
}

/* ---- colours and labels */

static void key_label(char *out, size_t cap, const tk_report_key *k) {
    snprintf(out, cap, "%s (%s)", k->dataset, k->optimizer);
}

static void level_label(char *out, size_t cap, int level, double density) {
    snprintf(out, cap, "level %d: %.2f%% of weights remaining", level, 100 * density);
}

/* A source's colour, the same in every figure. */
static const char *source_color(const tk_report *r, const char *dataset, const char *optimizer) {
    for (int s = 0; s < r->n_sources; s++)
        if (!strcmp(r->sources[s].dataset, dataset) && !strcmp(r->sources[s].optimizer, optimizer))
            return source_colors[s % TK_ARRAY_LEN(source_colors)];
    for (int s = 0; s < r->n_mask_sources; s++)
        if (!strcmp(r->mask_sources[s].dataset, dataset) && !strcmp(r->mask_sources[s].optimizer, optimizer))
            return source_colors[s % TK_ARRAY_LEN(source_colors)];
    return DENSE_COLOR;
}

/* The native ticket black and solid, a transferred ticket in its source's
 * colour, a control dashed (the random ticket) or dash-dotted in the colour
 * of the ticket it was drawn from. */
static void series_style(const tk_report *r, const tk_report_target *t, const tk_report_series *s, const char **color,
                         int *dash, double *width) {
    bool own = !strcmp(s->source, t->key.dataset) && !strcmp(s->source_optimizer, t->key.optimizer);
    bool ticket = !strcmp(s->control, "ticket");
    *color = own ? NATIVE_COLOR : source_color(r, s->source, s->source_optimizer);
    *dash = ticket ? DT_SOLID : !strcmp(s->control, "random_ticket") ? DT_DASHED : DT_DASH_DOT;
    *width = ticket && s->native ? 2.5 : 1.5;
}

/* A density tic label with the digits that tell 0.8^L apart: 100, 51.2, 26.2, 13.4, 6.87. */
static void density_tic(char *out, size_t cap, double percent) { snprintf(out, cap, "%.3g", percent); }

/* ---- (1) accuracy against weights remaining, one figure per target */

static int figure_accuracy(const fig_ctx *c, tk_report_target *t, tk_error *err) {
    const tk_report *r = c->r;
    figure f;
    char title[160];
    key_label(title, sizeof title, &t->key);
    fig_begin(&f, "Final test accuracy against weights remaining (mean and std over seeds)", "accuracy", &t->key,
              (int)(t - r->targets));
    fig_panel(&f, title);
    double lowest = 100;
    for (int s = 0; s < t->n_series; s++) {
        bool any = false;
        for (int l = 0; l < t->n_levels; l++) any |= t->cell[l * t->n_series + s] >= 0;
        if (!any) continue;
        const char *color;
        int dash;
        double width;
        series_style(r, t, &t->series[s], &color, &dash, &width);
        fig_block(&f, t->series[s].label, color, dash, width);
        tk_buf_printf(&f.data, "# weights_remaining_percent final_accuracy_mean_percent std_percent n\n");
        for (int l = 0; l < t->n_levels; l++) {
            int g = t->cell[l * t->n_series + s];
            if (g < 0) continue;
            const tk_report_group *G = &r->groups[g];
            tk_buf_printf(&f.data, "%.6g %.6g %.6g %d\n", 100 * G->density, 100 * G->final_mean, 100 * G->final_std,
                          G->n);
            lowest = 100 * G->density < lowest ? 100 * G->density : lowest;
        }
    }
    /* Tics at 100 (the dense network) and at the levels' densities, at most 8. */
    double *values = tk_malloc(sizeof(double) * (size_t)(t->n_levels + 1));
    int k = 0, step = (t->n_levels + 6) / 7;
    values[k++] = 100;
    for (int l = 0; l < t->n_levels; l += step) {
        double d = -1;
        for (int s = 0; s < t->n_series && d < 0; s++)
            if (t->cell[l * t->n_series + s] >= 0) d = 100 * r->groups[t->cell[l * t->n_series + s]].density;
        if (d > 0 && d < 99.95) values[k++] = d;
    }
    char(*labels)[16] = tk_malloc(sizeof *labels * (size_t)k);
    const char **label_ptr = tk_malloc(sizeof *label_ptr * (size_t)k);
    for (int i = 0; i < k; i++) density_tic(labels[i], sizeof labels[i], values[i]), label_ptr[i] = labels[i];
    gp_labels(&f.vars, "xtic_label", label_ptr, k);
    tk_buf_printf(&f.vars, "n_xtics = %d\narray xtic_value[%d]\n", k, k);
    for (int i = 0; i < k; i++) tk_buf_printf(&f.vars, "xtic_value[%d] = %.6g\n", i + 1, values[i]);
    free(labels), free(label_ptr), free(values);
    tk_buf_printf(&f.vars, "x_lowest = %.6g\nhas_dense = %d\ndense_mean = %.6g\n", lowest, t->dense >= 0,
                  t->dense >= 0 ? 100 * r->groups[t->dense].final_mean : 0.0);
    return fig_draw(c, &f, "accuracy_vs_density", t->figure, sizeof t->figure, err);
}

/* ---- (2) transfer matrix, (3) mask overlap: heatmaps */

static void axis_labels(figure *f, const char *axis, const tk_report_key *keys, int n) {
    char(*text)[160] = tk_calloc((size_t)n + 1, sizeof *text);
    const char **ptr = tk_calloc((size_t)n + 1, sizeof *ptr);
    for (int i = 0; i < n; i++) key_label(text[i], sizeof text[i], &keys[i]), ptr[i] = text[i];
    char name[32];
    snprintf(name, sizeof name, "%s_label", axis);
    gp_labels(&f->vars, name, ptr, n);
    tk_buf_printf(&f->vars, "n_%s = %d\n", axis, n);
    free(text), free(ptr);
}

static int figure_matrix(const fig_ctx *c, tk_error *err) {
    tk_report *r = c->r;
    figure f;
    fig_begin(&f,
              "Transferred tickets: final accuracy (%) and its difference to the target's own ticket (colour, "
              "percentage points)",
              "transfer_matrix", NULL, 0);
    tk_report_key *targets = tk_calloc((size_t)r->n_targets + 1, sizeof *targets);
    for (int t = 0; t < r->n_targets; t++) targets[t] = r->targets[t].key;
    axis_labels(&f, "x", targets, r->n_targets);
    axis_labels(&f, "y", r->sources, r->n_sources);
    free(targets);
    double cb = 0.5;
    for (int m = 0; m < r->n_matrix; m++) {
        char title[96];
        level_label(title, sizeof title, r->matrix_level[m], r->matrix_density[m]);
        fig_panel(&f, title);
        bool started = false;
        for (int s = 0; s < r->n_sources; s++)
            for (int t = 0; t < r->n_targets; t++) {
                const tk_report_matrix_cell *cell = &r->matrix[((size_t)m * r->n_sources + s) * r->n_targets + t];
                if (cell->ticket < 0) continue;
                if (!started) {
                    fig_block(&f, title, NATIVE_COLOR, DT_SOLID, 1);
                    tk_buf_printf(&f.data, "# target source delta_vs_native_pp accuracy_percent delta_label\n");
                    started = true;
                }
                double acc = 100 * r->groups[cell->ticket].final_mean, delta = NAN;
                char label[32] = "vs native: n/a";
                if (cell->ticket == cell->native) delta = 0, snprintf(label, sizeof label, "native");
                else if (cell->native >= 0) {
                    delta = acc - 100 * r->groups[cell->native].final_mean;
                    snprintf(label, sizeof label, "%+.2f", delta);
                }
                if (fabs(delta) > cb) cb = fabs(delta);
                tk_buf_printf(&f.data, "%d %d %.6g \"%.2f\" \"%s\"\n", t, s, delta, acc, label);
            }
    }
    tk_buf_printf(&f.vars, "cb_max = %.6g\n", cb);
    return fig_draw(c, &f, "transfer_matrix", r->matrix_figure, sizeof r->matrix_figure, err);
}

static int figure_overlap(const fig_ctx *c, tk_error *err) {
    tk_report *r = c->r;
    int S = r->n_mask_sources;
    figure f;
    fig_begin(&f, "Mask overlap: Jaccard between tickets (chance for random masks in brackets)", "mask_overlap",
              NULL, 0);
    axis_labels(&f, "x", r->mask_sources, S);
    axis_labels(&f, "y", r->mask_sources, S);
    for (int k = 0; k < r->n_mask_shown; k++) {
        int lv = r->mask_shown[k];
        char title[96];
        level_label(title, sizeof title, r->mask_level[lv], r->mask_density[lv]);
        fig_panel(&f, title);
        bool started = false;
        for (int a = 0; a < S; a++)
            for (int b = 0; b < S; b++) {
                const tk_report_overlap *o = &r->overlap[(lv * S + a) * S + b];
                if (!o->pairs) continue;
                if (!started) {
                    fig_block(&f, title, NATIVE_COLOR, DT_SOLID, 1);
                    tk_buf_printf(&f.data, "# source_b source_a jaccard jaccard_label chance_label\n");
                    started = true;
                }
                tk_buf_printf(&f.data, "%d %d %.6g \"%.3f\" \"%.3f\"\n", b, a, o->jaccard, o->jaccard, o->chance);
            }
    }
    return fig_draw(c, &f, "mask_overlap", r->overlap_figure, sizeof r->overlap_figure, err);
}

/* ---- (4) per-layer density */

static int figure_layers(const fig_ctx *c, tk_error *err) {
    tk_report *r = c->r;
    int S = r->n_mask_sources;
    figure f;
    fig_begin(&f, "Weights remaining per layer (mean over seeds)", "layer_density", NULL, 0);
    const char **names = tk_calloc((size_t)r->n_layers + 1, sizeof *names);
    for (int l = 0; l < r->n_layers; l++) names[l] = r->layers[l];
    gp_labels(&f.vars, "x_label", names, r->n_layers);
    tk_buf_printf(&f.vars, "n_x = %d\n", r->n_layers);
    free(names);
    for (int k = 0; k < r->n_mask_shown; k++) {
        int lv = r->mask_shown[k];
        char title[96];
        level_label(title, sizeof title, r->mask_level[lv], r->mask_density[lv]);
        fig_panel(&f, title);
        for (int s = 0; s < S; s++) {
            const tk_report_profile *p = &r->profiles[lv * S + s];
            if (!p->masks) continue;
            char label[160];
            key_label(label, sizeof label, &r->mask_sources[s]);
            const tk_report_key *key = &r->mask_sources[s];
            fig_block(&f, label, source_color(r, key->dataset, key->optimizer), DT_SOLID, 1.5);
            tk_buf_printf(&f.data, "# layer density_percent\n");
            for (int l = 0; l < r->n_layers; l++)
                if (!isnan(p->layer_density[l])) tk_buf_printf(&f.data, "%d %.6g\n", l, 100 * p->layer_density[l]);
        }
    }
    return fig_draw(c, &f, "layer_density", r->layers_figure, sizeof r->layers_figure, err);
}

/* ---- (5) training curves */

typedef struct point {
    int64_t iteration;
    double accuracy;
} point;

static int cmp_point(const void *a, const void *b) {
    const point *x = a, *y = b;
    if (x->iteration != y->iteration) return (x->iteration > y->iteration) - (x->iteration < y->iteration);
    return (x->accuracy > y->accuracy) - (x->accuracy < y->accuracy);
}

/* Appends run_dir/metrics.jsonl's (iteration, test_accuracy) to *pts.
 * Returns false when the file is absent or unreadable. */
static bool read_curve(const char *run_dir, point **pts, int *n, int *cap) {
    char path[1024];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    uint8_t *text;
    size_t len;
    if (!run_dir[0] || tk_file_read_all(path, &text, &len, NULL)) return false;
    for (char *save = NULL, *line = strtok_r((char *)text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "iteration");
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(o, "test_accuracy");
        if (cJSON_IsNumber(it) && tk_whole_in(it->valuedouble, 0, TK_WHOLE_MAX) && cJSON_IsNumber(acc)) {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                point *grown = tk_realloc(*pts, sizeof *grown * (size_t)*cap);
                *pts = grown;
            }
            (*pts)[(*n)++] = (point){(int64_t)it->valuedouble, acc->valuedouble};
        }
        cJSON_Delete(o);
    }
    free(text);
    return true;
}

static bool row_in_group(const tk_result_row *row, const tk_report_group *g) {
    return row->level == g->level && !strcmp(row->target, g->target) &&
           !strcmp(row->target_optimizer, g->target_optimizer) && !strcmp(row->source, g->source) &&
           !strcmp(row->source_optimizer, g->source_optimizer) && !strcmp(row->control, g->control);
}

/* One block: the group's runs, mean test accuracy over seeds at each
 * iteration. `missing` counts runs without metrics (each row once: `seen`). */
static void curve_block(const fig_ctx *c, figure *f, int group, const char *title, const char *color, int dash,
                        double width, bool *seen) {
    const tk_report_input *in = c->r->in;
    point *pts = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < in->n_rows; i++) {
        if (!row_in_group(&in->rows[i], &c->r->groups[group])) continue;
        if (!read_curve(in->rows[i].run_dir, &pts, &n, &cap) && !seen[i]) c->r->curves_missing++;
        seen[i] = true;
    }
    if (n > 0) {
        qsort(pts, (size_t)n, sizeof *pts, cmp_point);
        fig_block(f, title, color, dash, width);
        tk_buf_printf(&f->data, "# iteration test_accuracy_percent_mean_over_seeds runs\n");
        for (int start = 0; start < n;) {
            int end = start;
            double sum = 0;
            while (end < n && pts[end].iteration == pts[start].iteration) sum += pts[end++].accuracy;
            tk_buf_printf(&f->data, "%lld %.6g %d\n", (long long)pts[start].iteration, 100 * sum / (end - start),
                          end - start);
            start = end;
        }
    }
    free(pts);
}

static int figure_curves(const fig_ctx *c, tk_report_target *t, bool *seen, tk_error *err) {
    tk_report *r = c->r;
    figure f;
    char title[200];
    snprintf(title, sizeof title, "Test accuracy during training on %s (%s), mean over seeds", t->key.dataset,
             t->key.optimizer);
    fig_begin(&f, title, "curves", &t->key, (int)(t - r->targets));
    for (int m = 0; m < r->n_matrix; m++) {
        int l = 0;
        while (l < t->n_levels && t->levels[l] != r->matrix_level[m]) l++;
        if (l == t->n_levels) continue;
        char panel[96];
        level_label(panel, sizeof panel, r->matrix_level[m], r->matrix_density[m]);
        fig_panel(&f, panel);
        for (int s = 0; s < t->n_series; s++) {
            int g = t->cell[l * t->n_series + s];
            if (g < 0) continue;
            const char *color;
            int dash;
            double width;
            series_style(r, t, &t->series[s], &color, &dash, &width);
            curve_block(c, &f, g, t->series[s].label, color, dash, width, seen);
        }
        if (t->dense >= 0) curve_block(c, &f, t->dense, "dense", DENSE_COLOR, DT_DOTTED, 1.5, seen);
    }
    return fig_draw(c, &f, "training_curves", t->curves, sizeof t->curves, err);
}

/* ---- all figures */

int tk_report_figures(tk_report *r, const char *dir, tk_error *err) {
    fig_ctx c = {.r = r, .dir = dir};
    r->figures_skipped = false;
    r->curves_missing = 0;
    if (!tk_find_program("gnuplot", c.gnuplot, sizeof c.gnuplot)) {
        r->figures_skipped = true;
        return 0;
    }
    if (tk_find_resource_dir("gnuplot scripts folder", "TICKET_PLOTS", "plots", "accuracy_vs_density.gp",
                             "plots", c.plots, sizeof c.plots, err))
        return -1;
    char data[4096];
    snprintf(data, sizeof data, "%s/figures/data", dir);
    if (tk_mkdirs(data, err)) return -1;
    int rc = 0;
    for (int t = 0; t < r->n_targets && rc == 0; t++) rc = figure_accuracy(&c, &r->targets[t], err);
    if (rc == 0) rc = figure_matrix(&c, err);
    if (rc == 0) rc = figure_overlap(&c, err);
    if (rc == 0) rc = figure_layers(&c, err);
    bool *seen = tk_calloc((size_t)r->in->n_rows + 1, sizeof *seen);
    for (int t = 0; t < r->n_targets && rc == 0; t++) rc = figure_curves(&c, &r->targets[t], seen, err);
    free(seen);
    return rc;
}
