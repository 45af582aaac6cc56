/* tk_regress.h - check a study's results against published numbers.
 *
 * A registry file (transfer/registry/<source>.json, one per paper or project)
 * holds numbers from the literature or from a frozen reference run:
 *
 *   {"source": "frankle-carbin-2019",
 *    "entries": [{
 *      "id": "lenet-ticket-vs-reinit",           unique within the file
 *      "citation": "Frankle & Carbin 2019, Figure 4",   required, non-empty
 *      "model": "lenet_300_100", "dataset": "mnist",     informational
 *      "setting": "free text: conditions, and how to refresh the entry",
 *      "study": "transfer/studies/default.json",         the config that reproduces it
 *      "metric": "final_accuracy" | "best_accuracy",
 *      "check": {"kind": "value", "select": SELECT, "value": 0.8663, "tolerance": 0.005,
 *                "op": "within" | ">=" | "<="}
 *             | {"kind": "relation", "left": SELECT, "op": ">=" | "<=", "right": SELECT, "margin": 0.01}
 *    }]}
 *
 * SELECT is a row filter over STUDY_DIR/report/results.csv; every key is
 * optional and all given keys must hold: "target", "source", "control",
 * "target_optimizer", "source_optimizer" (strings), "native" (bool), "level"
 * (an integer, or "sparsest": the highest level among the rows the other keys
 * keep), "density_at_most", "density_at_least" (fractions of weights kept).
 * The measured number is the mean of the metric over the selected rows (over
 * seeds, and over levels when several match).
 *
 * A value check passes when |measured - value| <= tolerance ("within", the
 * default), measured >= value - tolerance (">="), or measured <= value +
 * tolerance ("<="). A relation passes when mean(left) >= mean(right) + margin
 * (">=") or mean(left) <= mean(right) + margin ("<="); margin defaults to 0.
 * An entry whose selection keeps no rows is SKIP, never PASS. */
#ifndef TK_REGRESS_H
#define TK_REGRESS_H

#include "tk_common.h"

typedef enum tk_regress_metric { TK_REGRESS_FINAL, TK_REGRESS_BEST, TK_REGRESS_METRIC_COUNT } tk_regress_metric;
extern const char *const tk_regress_metric_names[TK_REGRESS_METRIC_COUNT];

typedef enum tk_regress_op { TK_REGRESS_WITHIN, TK_REGRESS_GE, TK_REGRESS_LE, TK_REGRESS_OP_COUNT } tk_regress_op;
extern const char *const tk_regress_op_names[TK_REGRESS_OP_COUNT];

#define TK_REGRESS_ANY_LEVEL (-1)
#define TK_REGRESS_SPARSEST (-2)

typedef struct tk_regress_select {
    char target[64], source[64], control[32], target_optimizer[32], source_optimizer[32]; /* "" = any */
    int native;                      /* -1 any, 0 false, 1 true */
    int level;                       /* >= 0, TK_REGRESS_ANY_LEVEL or TK_REGRESS_SPARSEST */
    double density_min, density_max; /* inclusive; 0 and 1 when not given */
} tk_regress_select;

typedef struct tk_regress_entry {
    char file[512]; /* the registry file it came from, for messages */
    char source[128], id[128], citation[512], model[64], dataset[64], setting[1024], study[256];
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
    char target[64], target_optimizer[32], source[64], source_optimizer[32], control[32];
    bool native;
    int level;
    double density, final_accuracy, best_accuracy;
} tk_regress_row;

typedef struct tk_regress_results {
    tk_regress_row *rows;
    int n;
} tk_regress_results;

/* Reads STUDY_DIR/report/results.csv (as `ticket report` writes it). */
int tk_regress_read_results(const char *study_dir, tk_regress_results *res, tk_error *err);
void tk_regress_results_free(tk_regress_results *res);

typedef enum tk_regress_status { TK_REGRESS_PASS, TK_REGRESS_FAIL, TK_REGRESS_SKIP, TK_REGRESS_STATUS_COUNT } tk_regress_status;
extern const char *const tk_regress_status_names[TK_REGRESS_STATUS_COUNT];

typedef struct tk_regress_outcome {
    tk_regress_status status;
    double expected, measured; /* a relation: mean(right) + margin and mean(left) */
    char check[256];           /* the band or relation, for people */
    char reason[512];          /* why it failed or was skipped; "" on PASS */
} tk_regress_outcome;

void tk_regress_evaluate(const tk_regress_entry *e, const tk_regress_results *res, tk_regress_outcome *out);

/* JUnit XML (one testsuite, one testcase per entry) and a Markdown table. */
int tk_regress_write_junit(const char *path, const tk_regress_registry *reg, const tk_regress_outcome *out,
                           tk_error *err);
int tk_regress_write_markdown(const char *path, const tk_regress_registry *reg, const tk_regress_outcome *out,
                              tk_error *err);

#endif
