/* tk_regress.h - check a study's results against published numbers.
 *
 * A registry file (transfer/registry/<source>.json, one per paper or project)
 * holds numbers from the literature or from a frozen reference run:
 *
 *   {"source": "frankle-carbin-2019",
 *    "entries": [{
 *      "id": "conv4-ticket-at-5.4pct",             unique within the file
 *      "citation": "Frankle & Carbin 2019, ...",   required, non-empty: paper and table, figure or section
 *      "model": "conv4",                           required: a `ticket models` name
 *      "study_name": "frankle-carbin-conv4",       optional: the study (its specification's "name")
 *      "dataset": "cifar10" | ["svhn", "places365"],  the datasets its study trains on
 *      "setting": "free text: conditions, and how to refresh the entry",
 *      "study": "transfer/studies/frankle-carbin-conv4.json",   the config that reproduces it
 *      "metric": "final_accuracy" | "best_accuracy",
 *      "check": {"kind": "value", "select": SELECT, "value": 0.786, "tolerance": 0.02,
 *                "op": "within" | ">=" | "<="}
 *             | {"kind": "relation", "left": SELECT, "op": ">=" | "<=", "right": SELECT, "margin": 0.01}
 *    }]}
 *
 * Scope: an entry is about one model and, when it names one, one study. Its
 * "model" and "study_name" filter the rows of every selection it makes (the
 * "model" and "study" columns of results.csv), so an entry checks only the
 * study it was written for: a study of another name or model keeps no rows
 * and the entry is SKIP, saying which study and model it is for.
 *
 * SELECT is a further row filter over STUDY_DIR/report/results.csv; every
 * key is optional and all given keys must hold: "target", "source",
 * "control", "target_optimizer", "source_optimizer" (strings), "native"
 * (bool), "level" (an integer, or "sparsest": the highest level among the
 * rows the other keys keep), "density_at_most", "density_at_least"
 * (fractions of weights kept). The measured number is the mean of the metric
 * over the selected rows (over seeds, and over levels when several match).
 * Comparing two sources (e.g. a larger and a smaller dataset) is a relation
 * whose sides differ in "source".
 *
 * A value check passes when |measured - value| <= tolerance ("within", the
 * default), measured >= value - tolerance (">="), or measured <= value +
 * tolerance ("<="). A relation passes when mean(left) >= mean(right) + margin
 * (">=") or mean(left) <= mean(right) + margin ("<="); margin defaults to 0
 * and may be negative ("no more than 1 pp below": ">=" with -0.01).
 * An entry whose selection keeps no rows is SKIP, never PASS; the reason
 * also names the entry's datasets that are catalog names and are not on
 * this machine (`ticket data list`). */
#ifndef TK_REGRESS_H
#define TK_REGRESS_H

#include "tk_results.h"

typedef enum tk_regress_metric { TK_REGRESS_FINAL, TK_REGRESS_BEST, TK_REGRESS_METRIC_COUNT } tk_regress_metric;
extern const char *const tk_regress_metric_names[]; /* [TK_REGRESS_METRIC_COUNT] */

typedef enum tk_regress_op { TK_REGRESS_WITHIN, TK_REGRESS_GE, TK_REGRESS_LE, TK_REGRESS_OP_COUNT } tk_regress_op;
extern const char *const tk_regress_op_names[]; /* [TK_REGRESS_OP_COUNT] */

#define TK_REGRESS_ANY_LEVEL (-1)
#define TK_REGRESS_SPARSEST (-2)

typedef struct tk_regress_select {
    char study[64], model[32]; /* the entry's scope: its study_name ("" = any study) and model */
    char target[64], source[64], control[32], target_optimizer[32], source_optimizer[32]; /* "" = any */
    int native;                      /* -1 any, 0 false, 1 true */
    int level;                       /* >= 0, TK_REGRESS_ANY_LEVEL or TK_REGRESS_SPARSEST */
    double density_min, density_max; /* inclusive; 0 and 1 when not given */
} tk_regress_select;

enum { TK_REGRESS_MAX_DATASETS = 8 };

typedef struct tk_regress_entry {
    char file[512]; /* the registry file it came from, for messages */
    char source[128], id[128], citation[512], model[32], study_name[64], setting[1024], study[256];
    char datasets[TK_REGRESS_MAX_DATASETS][64]; /* what its study trains on */
    int n_datasets;
    tk_regress_metric metric;
    bool relation; /* false: a value check */
    tk_regress_select left, right; /* a value check uses left only */
    tk_regress_op op;
    double value, tolerance, margin;
} tk_regress_entry;

typedef struct tk_regress_registry {
    tk_regress_entry *entries;
    int n;
} tk_regress_registry;

/* Appends the entries of one registry file; on error nothing is appended and
 * the message names the file and the entry (id, else index). */
int tk_regress_load(tk_regress_registry *reg, const char *path, tk_error *err);
void tk_regress_registry_free(tk_regress_registry *reg);

typedef struct tk_regress_row {
    tk_result_row row;  /* results.csv's result columns (tk_results_columns); run_dir "" */
    tk_provenance prov; /* its provenance columns; all "" in a table from before them */
} tk_regress_row;

/* The rows of one study that one provenance produced. */
typedef struct tk_regress_provenance {
    char study[64];
    tk_provenance prov;
    int rows;
} tk_regress_provenance;

typedef struct tk_regress_results {
    tk_regress_row *rows;
    int n;
    /* Filled by tk_regress_read_results: every distinct (study, provenance)
     * in order of first appearance, the rows without provenance, and one
     * warning per study whose rows mix BLAS kernels (blas or blas_core differ
     * between rows, or within a run resumed under another kernel). */
    tk_regress_provenance *provenances;
    int n_provenances, rows_without_provenance;
    char (*warnings)[1024];
    int n_warnings;
} tk_regress_results;

/* "N rows of study 'S': <tk_provenance_format>". */
void tk_regress_provenance_line(const tk_regress_provenance *p, char *out, size_t cap);

/* Reads STUDY_DIR/report/results.csv (as `ticket report` writes it): the
 * columns before best_iteration in their order, then any others, read by
 * name (the provenance columns; unknown ones are ignored). A table from
 * before the study and model columns is refused with an error that says to
 * rerun `ticket report STUDY_DIR`. */
int tk_regress_read_results(const char *study_dir, tk_regress_results *res, tk_error *err);
void tk_regress_results_free(tk_regress_results *res);

typedef enum tk_regress_status { TK_REGRESS_PASS, TK_REGRESS_FAIL, TK_REGRESS_SKIP, TK_REGRESS_STATUS_COUNT } tk_regress_status;
extern const char *const tk_regress_status_names[]; /* [TK_REGRESS_STATUS_COUNT] */

typedef struct tk_regress_outcome {
    tk_regress_status status;
    double expected, measured; /* a relation: mean(right) + margin and mean(left) */
    char check[256];           /* the band or relation, for people */
    char reason[512];          /* why it failed or was skipped; "" on PASS */
} tk_regress_outcome;

/* The entry checked against the rows; a SKIP looks up the entry's datasets in
 * the catalog and the data roots to name the missing ones. */
void tk_regress_evaluate(const tk_regress_entry *e, const tk_regress_results *res, tk_regress_outcome *out);

/* JUnit XML (one testsuite, one testcase per entry; the provenance lines and
 * warnings of res as the suite's <properties>, and each field as a property
 * of its own when every row has the same provenance) and a Markdown table
 * followed by the provenance lines and warnings. */
int tk_regress_write_junit(const char *path, const tk_regress_registry *reg, const tk_regress_outcome *out,
                           const tk_regress_results *res, tk_error *err);
int tk_regress_write_markdown(const char *path, const tk_regress_registry *reg, const tk_regress_outcome *out,
                              const tk_regress_results *res, tk_error *err);

#endif
