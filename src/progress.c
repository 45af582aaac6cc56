/* progress.c - the training run's progress: a bar on a terminal, lines otherwise. */
#include <stdio.h>

#include "progress.h"

void progress_step(progress *p, const tk_train_state *st) {
    double now = tk_now();
    if (p->mode != TK_PROGRESS_BAR || (now - p->last_draw < 0.1 && st->step < st->total)) return;
    p->last_draw = now;
    double elapsed = now - p->t0, done = (double)(st->step - p->start_step);
    double rate = elapsed > 0 ? done * p->batch / elapsed : 0;
    double eta = done > 0 ? elapsed / done * (double)(st->total - st->step) : 0;
    int width = 24, filled = (int)(width * (double)st->step / (double)st->total);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    /* Running means since the last evaluation; called right after a step, so seen > 0. */
    double loss = st->loss_sum / ((double)st->seen / p->batch);
    double acc = 100.0 * (double)st->correct / (double)st->seen;
    fprintf(stderr, "\r\033[K[%s] it %lld/%lld ep %.2f loss %.4f acc %.2f%% %.0f samples/s ETA %dm%02ds", bar,
            (long long)st->step, (long long)st->total, (double)st->step / (double)p->ipe, loss, acc, rate,
            (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

void progress_line(progress *p, const char *line) {
    if (p->mode == TK_PROGRESS_LINES) {
        printf("%s\n", line);
        fflush(stdout);
    } else if (p->mode == TK_PROGRESS_BAR) {
        fprintf(stderr, "\r\033[K%s\n", line);
        p->last_draw = 0; /* redraw the bar at once below the line */
    }
}

void progress_end(const progress *p) {
    if (p->mode == TK_PROGRESS_BAR) fprintf(stderr, "\r\033[K");
}
