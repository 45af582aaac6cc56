/* transfer.c - a source ticket moved onto a target model (semantics in tk_study.h). */
#include <stdlib.h>
#include <string.h>

#include "tk_prune.h"
#include "tk_study.h"
#include "tk_ticket.h"

int tk_transfer_apply(tk_model *target, float width, const char *ticket_path, tk_head_policy head, tk_rng *rng,
                      tk_error *err) {
    tk_model_config cfg;
    char name[64];
    if (tk_ticket_model(ticket_path, &cfg, name, err)) return -1;
    if (strcmp(name, target->name) || cfg.width != width || cfg.input.C != target->input.C ||
        cfg.input.H != target->input.H || cfg.input.W != target->input.W)
        return tk_fail(err, "%s is a ticket of %s (width %g, input %dx%dx%d); the target trains %s (width %g, input "
                       "%dx%dx%d): give the study one model and one input shape (\"input\": \"CxHxW\")",
                       ticket_path, name, cfg.width, cfg.input.C, cfg.input.H, cfg.input.W, target->name, width,
                       target->input.C, target->input.H, target->input.W);
    tk_model *source = tk_model_create(&cfg, err);
    if (!source) return -1;
    int rc = tk_ticket_read(ticket_path, source, width, NULL, err);
    size_t head_kept = 0, head_total = 0;
    for (int i = 0; rc == 0 && i < target->n_param_tensors; i++) {
        const tk_param *t = &target->params[i];
        int j = tk_model_find_param(source, t->name);
        TK_ASSERT(j >= 0); /* same architecture */
        const tk_param *s = &source->params[j];
        if (t->is_output) {
            if (t->prunable) tk_mask_count(source, source->mask, j, &head_kept, &head_total);
            continue;
        }
        TK_ASSERT(s->count == t->count);
        memcpy(target->param + t->offset, source->param + s->offset, t->count * sizeof(float));
        if (t->prunable) memcpy(target->mask + t->offset, source->mask + s->offset, t->count);
    }
    /* The rebuilt head: fresh weights (the target's initialization), dense or
     * at the source head's density. */
    for (int i = 0; rc == 0 && i < target->n_param_tensors; i++) {
        const tk_param *t = &target->params[i];
        if (!t->is_output || !t->prunable) continue;
        memset(target->mask + t->offset, head == TK_HEAD_REINIT_DENSE, t->count);
        if (head == TK_HEAD_REINIT_SAME_DENSITY) {
            uint32_t *idx = tk_malloc(t->count * sizeof(uint32_t));
            for (size_t k = 0; k < t->count; k++) idx[k] = (uint32_t)(t->offset + k);
            size_t keep = tk_prune_kept(t->count, head_total ? (double)head_kept / (double)head_total : 1.0);
            tk_keep_random(target->mask, idx, t->count, keep, rng);
            free(idx);
        }
    }
    tk_model_apply_mask(target);
    tk_model_free(source);
    return rc;
}
