/* tk_study.h - a transfer study: which tickets are found, where they are
 * transferred, and the references beside them.
 *
 * A study names one model, a list of sources and a list of targets, each a
 * dataset with an optimizer (a tk_train_config), the pruning, the seeds and
 * the controls. For every source, seed and level it finds the ticket (IMP);
 * for every target it finds the target's own (native) ticket at the same
 * levels, whose level 0 is the dense network; and it retrains every source
 * ticket on every other target. The controls (../shared/SEMANTICS.md) are
 * trained beside every native ticket and, all but l1, beside every
 * transferred ticket, at every level after 0. */
#ifndef TK_STUDY_H
#define TK_STUDY_H

#include "tk_backend.h"
#include "tk_find.h"
#include "tk_report.h"

typedef enum tk_head_policy { TK_HEAD_REINIT_DENSE, TK_HEAD_REINIT_SAME_DENSITY, TK_HEAD_COUNT } tk_head_policy;
extern const char *const tk_head_names[]; /* [TK_HEAD_COUNT] */

enum { TK_STUDY_MAX_SIDES = 16, TK_STUDY_MAX_SEEDS = 16 };

typedef struct tk_study_side {
    char name[64];          /* the label in tables and figures */
    tk_train_config train;  /* dataset, optimizer, length, ... (model, width and input from the study) */
} tk_study_side;

typedef struct tk_study {
    char name[64];
    tk_study_side sources[TK_STUDY_MAX_SIDES], targets[TK_STUDY_MAX_SIDES];
    int n_sources, n_targets;
    tk_prune_config prune;
    int levels;
    tk_duration rewind;
    int transfer_levels[64]; /* which levels are transferred; n = 0: all */
    int n_transfer_levels;
    bool controls[TK_CONTROL_COUNT]; /* beside native and transferred tickets (l1: native only) */
    tk_head_policy head;
    uint64_t seeds[TK_STUDY_MAX_SEEDS];
    int n_seeds;
    int workers;             /* default -j */
    double matrix_densities[8];
    int n_matrix_densities;
} tk_study;

/* Parses and validates a study specification (format in README: Studies);
 * every problem found is reported, one per line, naming its key path. */
int tk_study_from_json(const char *text, const char *path, tk_study *s, tk_error *err);
/* Checks what needs the data: datasets present, shapes adaptable. */
int tk_study_check_data(const tk_study *s, tk_error *err);

/* ---- transfer semantics */
/* Loads the source ticket at ticket_path into `target` (a model built for
 * the target's classes, same architecture and input shape): every tensor but
 * the output layer takes the ticket's mask and weights at the rewind point;
 * the output layer keeps the target model's fresh initialization, dense
 * (TK_HEAD_REINIT_DENSE) or with a random mask at the density of the
 * source's output layer (TK_HEAD_REINIT_SAME_DENSITY, drawn from rng).
 * Batch-norm statistics keep the target model's fresh values. */
int tk_transfer_apply(tk_model *target, float width, const char *ticket_path, tk_head_policy head, tk_rng *rng,
                      tk_error *err);
/* Turns the transferred ticket that tk_transfer_apply put on `target` into
 * one of its controls: reinit keeps its mask on fresh weights; random_mask
 * draws a mask with the ticket's kept count in every tensor and keeps the
 * source's weights at the rewind point (the dense ones, read from
 * rewind_path, the source run's level_00/rewind: the ticket file holds only
 * the kept ones); random_ticket draws the same kind of mask on fresh weights;
 * random_global draws the ticket's kept count uniformly over the tensors
 * `prune` covers, on fresh weights. The random masks cover what `prune`
 * covers but the output layer, which keeps the mask the head policy gave it
 * (with fresh weights where the others are fresh). Masks come
 * from mask_rng, fresh weights from init_rng. l1 is refused: its mask needs
 * a dense run on the source, which a transfer does not have. */
int tk_transfer_control(tk_model *target, float width, tk_control control, const tk_prune_config *prune,
                        const char *rewind_path, tk_rng *mask_rng, tk_rng *init_rng, tk_error *err);

/* ---- running */
typedef struct tk_study_run_options {
    const char *out;     /* study directory */
    const struct tk_backend *backend; /* who runs the jobs; NULL: local */
    int workers;         /* processes; 0: the study's */
    int threads;         /* BLAS threads in all; 0: 2 */
    bool plan_only;      /* print the job graph and the cost estimate, run nothing */
    bool progress_tty;
    const char *spec;    /* the study's copy in `out` (OUT/study.json), for backends that start jobs elsewhere */
    bool dry_run;        /* a queueing backend prints what it would submit */
    tk_slurm_options slurm;
} tk_study_run_options;

/* 0 when every job has run and the report is written; 1 when the backend
 * queued them to run later (its last job writes the report). */
int tk_study_run(const tk_study *s, const tk_study_run_options *o, tk_error *err);
/* Per find level: jobs done, running (a live claim), queued (a backend's
 * queue), failed (the last try's message kept), and waiting; printed. */
int tk_study_status(const tk_study *s, const char *out, tk_error *err);
/* Runs job `index` of the study's graph (as `ticket study plan` numbers
 * them) in this process, rebuilding the graph from `s`: refused when its
 * dependency is not done; *was_done (nothing run) when it had finished. */
int tk_study_job(const tk_study *s, const char *out, int index, int threads, bool *was_done, tk_error *err);
/* Collects every finished run of the study in `out` and writes the report. */
int tk_study_report(const tk_study *s, const char *out, tk_error *err);

#endif
