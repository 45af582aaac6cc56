/* transfer.c - a source ticket moved onto a target model, and its controls (semantics in tk_study.h). */
#include <stdlib.h>
#include <string.h>

#include "tk_checkpoint.h"
#include "tk_file.h"
#include "tk_prune.h"
#include "tk_study.h"
#include "tk_ticket.h"

/* The source model in a ticket file or (ticket false) a checkpoint of the
 * source run, loaded, after checking that it has the target's architecture,
 * width and input shape. NULL on error. */
static tk_model *load_source(const char *path, bool ticket, const tk_model *target, float width, tk_error *err) {
    tk_model_config cfg;
    char name[64];
    if (ticket ? tk_ticket_model(path, &cfg, name, err) : tk_checkpoint_model(path, &cfg, name, err)) return NULL;
    if (strcmp(name, target->name) || cfg.width != width || cfg.input.C != target->input.C ||
        cfg.input.H != target->input.H || cfg.input.W != target->input.W) {
        tk_fail(err, "%s comes from a run of %s (width %g, input %dx%dx%d); the target trains %s (width %g, input "
                "%dx%dx%d): give the study one model and one input shape (\"input\": \"CxHxW\")",
                path, name, cfg.width, cfg.input.C, cfg.input.H, cfg.input.W, target->name, width, target->input.C,
                target->input.H, target->input.W);
        return NULL;
    }
    /* Only the class count may differ from the target, and the file holds
     * every weight of the source model: bound the count by the file's bytes
     * before a model of that size is built. */
    size_t head = 0;
    for (int i = 0; i < target->n_param_tensors; i++)
        if (target->params[i].is_output) head += target->params[i].count;
    size_t per_class = head / (size_t)target->classes;
    uint64_t bytes = 0;
    if (tk_file_size(path, &bytes, err)) return NULL;
    uint64_t room = bytes / sizeof(float), body = target->n_params - head;
    if (cfg.classes < 2 || cfg.classes > TK_MODEL_MAX_CLASSES ||
        (room < body || (uint64_t)cfg.classes > (room - body) / (per_class ? per_class : 1))) {
        tk_fail(err, "%s: the header says %d classes, but %s with %d classes does not fit in the file's %llu bytes "
                     "(at most %llu classes would, and a model has 2 to %d): the file is damaged; %s",
                path, cfg.classes, name, cfg.classes, (unsigned long long)bytes,
                (unsigned long long)(room < body ? 0 : (room - body) / (per_class ? per_class : 1)),
                TK_MODEL_MAX_CLASSES, ticket ? "export the ticket again" : "rerun the source run");
        return NULL;
    }
    tk_model *m = tk_model_create(&cfg, err);
    if (m && (ticket ? tk_ticket_read(path, m, width, NULL, err) : tk_checkpoint_load_weights(path, m, width, err))) {
        tk_model_free(m);
        return NULL;
    }
    return m;
}

/* Copies every tensor of `source` but the output layer into `target` (the
 * same architecture: only the output layer's size may differ), and the
 * masks of the prunable ones when `mask` is set. */
static void copy_body(tk_model *target, const tk_model *source, bool mask) {
    for (int i = 0; i < target->n_param_tensors; i++) {
        const tk_param *t = &target->params[i];
        if (t->is_output) continue;
        int j = tk_model_find_param(source, t->name);
        TK_ASSERT(j >= 0); /* same architecture */
        const tk_param *s = &source->params[j];
        TK_ASSERT(s->count == t->count);
        memcpy(target->param + t->offset, source->param + s->offset, t->count * sizeof(float));
        if (mask && t->prunable) memcpy(target->mask + t->offset, source->mask + s->offset, t->count);
    }
}

int tk_transfer_apply(tk_model *target, float width, const char *ticket_path, tk_head_policy head, tk_rng *rng,
                      tk_error *err) {
    tk_model *source = load_source(ticket_path, true, target, width, err);
    if (!source) return -1;
    copy_body(target, source, true);
    size_t head_kept = 0, head_total = 0;
    for (int j = 0; j < source->n_param_tensors; j++)
        if (source->params[j].is_output && source->params[j].prunable)
            tk_mask_count(source, source->mask, j, &head_kept, &head_total);
    /* The rebuilt head: fresh weights (the target's initialization), dense or
     * at the source head's density. */
    for (int i = 0; i < target->n_param_tensors; i++) {
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
    return 0;
}

/* The source's dense weights at the rewind point on every tensor but the
 * output layer; the mask is left as it is. */
static int load_rewind(tk_model *target, float width, const char *rewind_path, tk_error *err) {
    tk_model *source = load_source(rewind_path, false, target, width, err);
    if (!source) return -1;
    copy_body(target, source, false);
    tk_model_free(source);
    return 0;
}

int tk_transfer_control(tk_model *target, float width, tk_control control, const tk_prune_config *prune,
                        const char *rewind_path, tk_rng *mask_rng, tk_rng *init_rng, tk_error *err) {
    if (tk_controls[control].native_only)
        return tk_fail(err, "control %s is trained beside native tickets only: its mask comes from a dense run on "
                       "the ticket's own data, which a transferred ticket does not have", tk_controls[control].name);
    tk_prune_config body = *prune;
    body.exclude_output = true;
    uint8_t *mask = tk_malloc(target->n_prunable);
    int rc = 0;
    tk_control_mask(target, &body, target->mask, control, mask_rng, mask);
    if (tk_controls[control].fresh_init) tk_model_init(target, init_rng);
    else rc = load_rewind(target, width, rewind_path, err);
    memcpy(target->mask, mask, target->n_prunable);
    tk_model_apply_mask(target);
    free(mask);
    return rc;
}
