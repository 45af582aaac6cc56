/* tk_control.h - the controls: what a ticket is compared against
 * (SEMANTICS.md). One row of tk_controls per control says where its mask and
 * weights come from and which random streams it draws from.
 *
 * Adding a control: a tk_control value before TK_CONTROL_COUNT and its row in
 * tickets/control.c with the next unused `id`. The id, not the position,
 * names the control's random streams, so a new control never moves the
 * streams (and so the results) of those that exist. */
#ifndef TK_CONTROL_H
#define TK_CONTROL_H

#include "tk_json.h"
#include "tk_prune.h"

typedef enum tk_control {
    TK_CONTROL_REINIT,
    TK_CONTROL_RANDOM_MASK,
    TK_CONTROL_RANDOM_TICKET,
    TK_CONTROL_RANDOM_GLOBAL,
    TK_CONTROL_L1,
    TK_CONTROL_COUNT
} tk_control;

typedef enum tk_control_mask_from {
    TK_MASK_FROM_TICKET,        /* the ticket's mask itself */
    TK_MASK_FROM_RANDOM_LAYER,  /* random, with the ticket's count in every tensor the pruning covers */
    TK_MASK_FROM_RANDOM_GLOBAL, /* random, with the ticket's count over all of them */
    TK_MASK_FROM_L1             /* an L1-penalised dense run pruned to the ticket's counts */
} tk_control_mask_from;

typedef struct tk_control_def {
    const char *name;
    /* The identity of its random streams: fixed forever, never reused. */
    uint32_t id;
    tk_control_mask_from mask;
    /* Trains from a fresh initialization (its own stream), not the rewind point. */
    bool fresh_init;
    /* Only beside a native ticket (l1 needs a dense run on the ticket's own data). */
    bool native_only;
    /* random_ticket predates the other controls in transfer studies: there its
     * streams are the two after the head mask's, where they always were. */
    bool transfer_streams_after_head;
} tk_control_def;

extern const tk_control_def tk_controls[]; /* [TK_CONTROL_COUNT] */

/* Where a control's streams are drawn: inside a find run, or in a transfer job. */
typedef enum tk_control_use { TK_CONTROL_IN_FIND, TK_CONTROL_IN_TRANSFER } tk_control_use;
/* A transfer job's head mask stream (tk_transfer_apply), beside which
 * random_ticket's streams sit. */
#define TK_TRANSFER_HEAD_STREAM(level) (1000 + 3 * (uint64_t)(level))
/* Levels at most this many (tk_find_config_validate refuses more), so no two streams meet. */
#define TK_CONTROL_MAX_LEVEL 100

/* The stream (beyond TK_STREAM_COUNT) of control c's mask (which = 0) or
 * fresh weights (which = 1) at `level`, seeded by the run's seed. */
uint64_t tk_control_stream(const tk_control_def *c, tk_control_use use, int level, int which);

/* The control named `name`; an unknown name is refused with the valid list. */
int tk_control_parse(const char *name, tk_control *out, tk_error *err);

/* Sets controls[k] for each control named in the array obj[key] (absent:
 * none); notes every entry that is not a control's name in p and returns
 * how many it noted. */
int tk_control_read(const tk_json_at *at, const cJSON *obj, const char *key, bool *controls, tk_json_problems *p);

/* A control's mask drawn from the ticket's; its initialization is
 * tk_controls[k].fresh_init. Not for TK_MASK_FROM_L1, whose mask comes from
 * training. */
void tk_control_mask(const tk_model *m, const tk_prune_config *prune, const uint8_t *ticket, tk_control k,
                     tk_rng *rng, uint8_t *out);

#endif
