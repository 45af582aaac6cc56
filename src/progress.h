/* progress.h - what the person watching a training run sees (private to
 * src/; train.c drives it): a bar redrawn at most ten times a second on a
 * terminal, or one JSON line per evaluation otherwise (tk_progress). */
#ifndef PROGRESS_H
#define PROGRESS_H

#include "tk_checkpoint.h"
#include "tk_train.h"

typedef struct progress {
    tk_progress mode;
    int batch;
    int64_t ipe; /* iterations per epoch */
    double t0;          /* when the loop started (tk_now) */
    int64_t start_step; /* and at which step: samples/s and the ETA count from there */
    double last_draw;
} progress;

/* After each step: redraws the bar when it is due. */
void progress_step(progress *p, const tk_train_state *st);
/* An evaluation's line (metrics.jsonl's). */
void progress_line(progress *p, const char *line);
/* Clears the bar. */
void progress_end(const progress *p);

#endif
