/* tk_find.h - finding tickets: iterative magnitude pruning with rewinding,
 * the controls, and the content-addressed run store.
 *
 * A find run lives in ROOT/<hash>/, where <hash> is the first 16 hex digits
 * of the SHA-256 of the canonical configuration (tk_find_canonical_json:
 * sorted keys, defaults left out; controls, the number of levels and the
 * checkpoint interval left out, since they change no level's result — so
 * adding an option with a default, a control or more levels reuses the work
 * already done). Inside:
 *   find.json              the canonical configuration (checked against the name)
 *   level_LL/              one trainer run directory per level (config.json,
 *                          checkpoint = the final weights and training state,
 *                          metrics.jsonl, summary.json), plus
 *     mask                 the level's mask (tk_ticket.h), written before training
 *     ticket               the self-describing ticket file (mask + rewind weights)
 *     sparsity.json        kept and total weights, overall and per tensor
 *     <control>/           one trainer run per control at this level
 *   level_00/rewind        the state at the rewind point, where every level restarts
 *   l1_dense/              the L1-penalised dense run of the l1 control
 * Every step is skipped when its files exist, and resumes from its
 * checkpoint when interrupted. */
#ifndef TK_FIND_H
#define TK_FIND_H

#include "tk_control.h"
#include "tk_train.h"

/* The l1 control's coefficient unless a specification says otherwise. */
#define TK_DEFAULT_L1_PENALTY 1e-4f

typedef struct tk_find_config {
    tk_train_config train;
    tk_prune_config prune;
    int levels;            /* pruning rounds; one-shot: the number of densities */
    tk_duration rewind;    /* the rewind point: 0it is the original lottery ticket */
    bool controls[TK_CONTROL_COUNT];
    float l1_penalty;      /* the l1 control's coefficient */
} tk_find_config;

/* The find specification: {"train": {...config.json keys...}, "pruning":
 * {"strategy", "rate", "levels", "rates": {"conv", "linear", "output"},
 * "exclude_output", "exclude": [...], "densities": [...]}, "rewind": "0it",
 * "controls": [...], "l1_penalty": 1e-4}. Unknown keys name their path and
 * the nearest valid key. */
int tk_find_config_from_json(const char *text, const char *path, tk_find_config *c, tk_error *err);
int tk_find_config_validate(const tk_find_config *c, tk_error *err);
char *tk_find_canonical_json(const tk_find_config *c);
/* 16 lowercase hex digits + NUL. */
void tk_find_hash(const tk_find_config *c, char out[17]);

typedef struct tk_level_report {
    int level;
    size_t kept, covered;           /* weights the strategy covers, and how many are kept */
    size_t kept_all, total_all;     /* the same over all parameters */
    tk_train_result ticket;
    bool has_control[TK_CONTROL_COUNT];
    tk_train_result control[TK_CONTROL_COUNT];
} tk_level_report;

typedef void (*tk_find_report_fn)(const tk_level_report *r, void *ctx);

/* Runs (or resumes, or skips) every level and control; calls report after
 * each level. run_dir receives ROOT/<hash>. */
int tk_find_run(const tk_find_config *c, const char *root, tk_progress progress, tk_find_report_fn report,
                void *ctx, char *run_dir, size_t cap, tk_error *err);

/* Opens ROOT/<hash>/find.json (or DIR/find.json), checking that the stored
 * configuration hashes to the directory's name. */
int tk_find_open(const char *dir, tk_find_config *c, tk_error *err);

#endif
