/* tk_report.h - the results of a study: tidy tables, summaries, the Markdown
 * report, mask analysis and the gnuplot figures.
 *
 * One row per trained network. Words as in ../shared/SEMANTICS.md. */
#ifndef TK_REPORT_H
#define TK_REPORT_H

#include "tk_results.h"


/* A ticket's mask on disk, for the mask analysis (per-layer density profiles
 * and Jaccard overlap between tickets of different sources and seeds). */
typedef struct tk_mask_ref {
    char source[64], source_optimizer[16];
    uint64_t seed;
    int level;
    char mask_path[512];       /* a tk_ticket.h mask file */
    char sparsity_path[512];   /* its sparsity.json (per-tensor names, kept, total) */
} tk_mask_ref;

typedef struct tk_report_input {
    const char *title;          /* the study's name */
    const tk_result_row *rows;
    int n_rows;
    const tk_mask_ref *masks;
    int n_masks;
    /* Densities (fractions) at which the transfer matrix is shown; n = 0: the
     * levels closest to 50%, 20% and 5%. */
    const double *matrix_densities;
    int n_matrix_densities;
} tk_report_input;

/* Writes into dir: results.csv and results.json (the rows, in the columns of
 * tk_results_columns, then the provenance columns tk_provenance_field_names
 * read from each row's run_dir, empty when it records none; results.json has
 * them as a "provenance" object), summary.csv and
 * summary.json (mean, std, min, max and n over seeds), report.md, and, when
 * gnuplot is installed, PNG and SVG figures in figures/ from the scripts in
 * plots/. Without gnuplot every table is still written and report.md says
 * how to install it. */
int tk_report_write(const tk_report_input *in, const char *dir, tk_error *err);

/* ---- the analysis behind the tables and figures
 *
 * tk_report_write is tk_report_analyze, the tables, tk_report_figures and
 * report.md; the pieces are public so that tests and other front ends can
 * use the numbers without parsing Markdown. */

/* The rows of one (target, target optimizer, source, source optimizer,
 * control, level): one line of summary.csv. Std is the sample std (n - 1),
 * 0 when n = 1. */
typedef struct tk_report_group {
    char target[64], target_optimizer[16], source[64], source_optimizer[16], control[32];
    bool native;
    int level;
    double density; /* mean over the group's rows */
    int n;
    double final_mean, final_std, final_min, final_max;
    double best_mean, best_std, best_min, best_max;
} tk_report_group;

/* A dataset trained with an optimizer: a source or a target. */
typedef struct tk_report_key {
    char dataset[64], optimizer[16];
} tk_report_key;

/* One column of a target's accuracy table and one line of its plot: the
 * native ticket, a transferred ticket (one per source), or a control. */
typedef struct tk_report_series {
    char label[160];
    char source[64], source_optimizer[16], control[32];
    bool native;
} tk_report_series;

typedef struct tk_report_target {
    tk_report_key key;
    tk_report_series *series; /* native ticket, transferred tickets, controls; never the dense network */
    int n_series;
    int *levels; /* ascending: every level at which some series has a result */
    int n_levels;
    int *cell;   /* [n_levels][n_series]: a group index, -1 when missing */
    int dense;   /* the dense network's group, -1 when missing */
    char figure[128], curves[128]; /* figure names without extension, "" when not drawn */
} tk_report_target;

/* One cell of the transfer matrix: group indices, -1 when missing. The
 * random ticket is the control drawn from this source's ticket, else the one
 * drawn from the target's own ticket. */
typedef struct tk_report_matrix_cell {
    int ticket, native, random;
} tk_report_matrix_cell;

/* One source's tickets at one level: per-layer densities, mean over seeds. */
typedef struct tk_report_profile {
    int masks;             /* masks averaged; 0 when the source has none at this level */
    double density;        /* of all the mask's prunable weights */
    double *layer_density; /* [n_layers]; NAN for a layer this source's model does not have */
} tk_report_profile;

/* Jaccard overlap |A n B| / |A u B| over the layers both tickets prune (same
 * name and size), and what two independent random masks with the same
 * per-layer densities would give: sum over layers of n a b over sum of
 * n (a + b - a b). */
typedef struct tk_report_pair {
    int level;
    int a, b; /* indices into in->masks */
    double jaccard, chance;
} tk_report_pair;

/* Means over the pairs of one cell of the overlap matrix (diagonal: the same
 * source, different seeds). */
typedef struct tk_report_overlap {
    double jaccard, chance;
    int pairs; /* 0 when no pair was compared */
} tk_report_overlap;

typedef struct tk_report {
    const tk_report_input *in;
    tk_report_group *groups; /* sorted by target, optimizers, source, control, level */
    int n_groups;
    tk_report_target *targets; /* sorted by dataset, then optimizer */
    int n_targets;
    tk_report_key *sources; /* every (dataset, optimizer) a ticket was found on */
    int n_sources;
    /* The transfer matrix's levels (as chosen by in->matrix_densities). */
    int n_matrix, *matrix_level;
    double *matrix_density;
    tk_report_matrix_cell *matrix; /* [n_matrix][n_sources][n_targets] */

    /* Mask analysis over in->masks. */
    tk_report_key *mask_sources;
    int n_mask_sources;
    int n_mask_levels, *mask_level; /* ascending */
    double *mask_density;            /* mean over the level's masks */
    int n_mask_shown, *mask_shown;   /* indices into mask_level chosen like the matrix's */
    char (*layers)[64];              /* every prunable tensor, in the order first seen */
    int n_layers;
    tk_report_profile *profiles;  /* [n_mask_levels][n_mask_sources] */
    tk_report_pair *pairs;
    int n_pairs;
    tk_report_overlap *overlap; /* [n_mask_levels][n_mask_sources][n_mask_sources] */

    /* Filled by tk_report_figures. */
    bool figures_skipped;   /* gnuplot not found */
    char matrix_figure[128], overlap_figure[128], layers_figure[128];
    int curves_missing;     /* rows whose run_dir has no metrics.jsonl */
} tk_report;

int tk_report_analyze(const tk_report_input *in, tk_report *out, tk_error *err);
void tk_report_free(tk_report *r);
/* The group of (target, target optimizer, source, source optimizer, control,
 * level), or -1. */
int tk_report_find_group(const tk_report *r, const char *target, const char *target_optimizer, const char *source,
                         const char *source_optimizer, const char *control, int level);

/* Writes dir/figures/data/ and runs each gnuplot script of plots/ into
 * dir/figures/NAME.png and NAME.svg. gnuplot is looked up on $PATH; when it
 * is absent, r->figures_skipped is set and nothing else happens (returns 0).
 * The scripts are found like the dataset catalog: $TICKET_PLOTS, plots/
 * beside the executable or in a parent folder, or share/ticket/plots there.
 * A script that fails is an error naming it with gnuplot's message. */
int tk_report_figures(tk_report *r, const char *dir, tk_error *err);

#endif
