/* run_files.h - the files of a run directory besides the checkpoint's
 * format (private to src/; train.c writes them, tk_train.h says what each
 * holds): config.json claims the directory for one configuration,
 * metrics.jsonl gets one line per evaluation, provenance.json one segment per
 * process that trained, summary.json the result. */
#ifndef RUN_FILES_H
#define RUN_FILES_H

#include "tk_train.h"

typedef struct run_files {
    const char *dir;
    char config[1024], checkpoint[1024], metrics[1024], summary[1024], rewind[1024], provenance[1024];
} run_files;

void run_files_init(run_files *f, const char *dir);

/* A run directory belongs to one configuration: fails when config.json holds
 * another; writes cfg's when there is none and `write` is set. */
int run_files_claim(const run_files *f, const tk_train_config *cfg, bool write, tk_error *err);

/* One line of metrics.jsonl. */
typedef struct run_evaluation {
    int64_t iteration;
    double epoch;
    float train_loss, train_accuracy; /* means since the last evaluation; NaN without steps */
    float test_loss, test_accuracy;
    bool has_val;
    float val_loss, val_accuracy;
    float lr;
} run_evaluation;

/* Appends e to metrics.jsonl; line[cap] gets it without its newline, for the
 * person watching. */
int run_files_append_metrics(const run_files *f, const run_evaluation *e, char *line, size_t cap, tk_error *err);
/* A fresh run starts with no evaluations. */
int run_files_clear_metrics(const run_files *f, tk_error *err);
/* Drops the evaluations past `step` (the checkpoint's). */
int run_files_truncate_metrics(const run_files *f, int64_t step, tk_error *err);

/* This process's provenance joins the run's segments (from `step` on). */
int run_files_note_provenance(const run_files *f, int64_t step, tk_error *err);

int run_files_write_summary(const run_files *f, const tk_train_result *r, tk_error *err);

#endif
