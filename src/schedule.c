/* schedule.c - learning rate as a function of the 0-based iteration.
 *
 * lr(step) = base_lr * shape(step) * warm(step), where
 *   constant:  shape = 1
 *   multistep: shape = gamma^k, k = number of milestones m with m <= step
 *              (torch MultiStepLR stepped once per iteration)
 *   cosine:    shape = (1 + cos(pi * min(step, total) / total)) / 2
 *              (torch CosineAnnealingLR with T_max = total, eta_min = 0;
 *              held at 0 after `total` instead of rising again)
 *   warm     = (step + 1) / warmup for step < warmup, else 1
 *              (torch LambdaLR with min(1, (k + 1) / warmup)); the warm-up
 *              multiplies whatever shape is chosen, so the cosine still
 *              counts from step 0.
 * Computed in double and rounded once, as torch computes it in Python floats. */
#include "tk_optim.h"

#include <math.h>

const char *const tk_schedule_names[] = {"constant", "multistep", "cosine"};
_Static_assert(TK_ARRAY_LEN(tk_schedule_names) == TK_SCHEDULE_COUNT, "one name per schedule kind");

int tk_schedule_parse(const char *name, tk_schedule_kind *kind, tk_error *err) {
    int i = 0;
    if (tk_parse_name("schedule", name, tk_schedule_names, TK_SCHEDULE_COUNT, &i, err)) return -1;
    *kind = (tk_schedule_kind)i;
    return 0;
}

static double shape(const tk_schedule *s, int64_t step) {
    switch (s->kind) {
    case TK_SCHEDULE_CONSTANT:
        return 1.0;
    case TK_SCHEDULE_MULTISTEP: {
        TK_ASSERT(s->n_milestones >= 0 && s->n_milestones <= TK_ARRAY_LEN(s->milestones));
        int passed = 0;
        for (int i = 0; i < s->n_milestones; i++) passed += s->milestones[i] <= step;
        return pow((double)s->gamma, passed);
    }
    case TK_SCHEDULE_COSINE: {
        TK_ASSERT(s->total > 0);
        const double pi = 3.14159265358979323846;
        int64_t t = step < s->total ? step : s->total;
        return 0.5 * (1.0 + cos(pi * (double)t / (double)s->total));
    }
    case TK_SCHEDULE_COUNT:
        break;
    }
    TK_ASSERT(!"unknown schedule kind");
    return 0.0;
}

float tk_schedule_lr(const tk_schedule *s, float base_lr, int64_t step) {
    TK_ASSERT(step >= 0 && s->warmup >= 0);
    double lr = (double)base_lr * shape(s, step);
    if (step < s->warmup) lr *= (double)(step + 1) / (double)s->warmup;
    return (float)lr;
}
