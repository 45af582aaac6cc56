/* imp.c - iterative magnitude pruning with rewinding, and the controls.
 *
 * Level 0 trains the dense network and snapshots the rewind point. Level L
 * prunes the weights level L-1 ended with (one-shot: the dense network's),
 * writes the mask and the ticket, and trains from the rewind snapshot with
 * that mask. Controls at level L start from the same snapshot (same step,
 * data order and streams) and differ only in mask and/or initialization.
 * Control randomness: a control's mask and fresh initialization come from
 * its two streams at level L (tk_control_stream), seeded by the run's seed. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_checkpoint.h"
#include "tk_file.h"
#include "tk_find.h"
#include "tk_ticket.h"

typedef struct find_ctx {
    const tk_find_config *c;
    char dir[1024];
    tk_model *m;           /* the model's shape, for masks and tickets */
    uint8_t *mask, *prev;  /* this level's and the previous level's mask */
    tk_progress progress;
} find_ctx;

typedef struct prepare_ctx {
    const uint8_t *mask;
    bool fresh_init;
    tk_rng init_rng;
} prepare_ctx;

static int prepare(tk_model *m, void *ctx, tk_error *err) {
    (void)err;
    prepare_ctx *p = ctx;
    if (p->fresh_init) tk_model_init(m, &p->init_rng); /* also resets batch-norm statistics */
    memcpy(m->mask, p->mask, m->n_prunable);
    return 0;
}

static void level_dir(const find_ctx *f, int level, const char *sub, char *out, size_t cap) {
    snprintf(out, cap, "%s/level_%02d%s%s", f->dir, level, sub ? "/" : "", sub ? sub : "");
}

static tk_progress child_progress(tk_progress p) { return p == TK_PROGRESS_BAR ? p : TK_PROGRESS_NONE; }

static int train(find_ctx *f, const tk_train_config *cfg, const char *dir, const tk_train_start *start,
                 tk_train_result *r, tk_error *err) {
    if (tk_train_run_from(cfg, dir, start, child_progress(f->progress), r, err))
        return tk_fail_prefix(err, "%s: ", dir);
    return 0;
}

static char *provenance(const find_ctx *f, int level, size_t kept, size_t covered) {
    cJSON *o = cJSON_CreateObject();
    char rewind[64];
    tk_duration_format(f->c->rewind, rewind, sizeof rewind);
    cJSON_AddStringToObject(o, "program", "ticket " TK_VERSION);
    cJSON_AddStringToObject(o, "model", f->c->train.model);
    cJSON_AddStringToObject(o, "source_dataset", f->c->train.dataset);
    cJSON_AddStringToObject(o, "optimizer", tk_optim_names[f->c->train.optim.kind]);
    cJSON_AddNumberToObject(o, "seed", (double)f->c->train.seed);
    cJSON_AddNumberToObject(o, "level", level);
    cJSON_AddNumberToObject(o, "density", covered ? (double)kept / (double)covered : 1.0);
    cJSON_AddStringToObject(o, "rewind", rewind);
    char *canonical = tk_find_canonical_json(f->c);
    cJSON_AddItemToObject(o, "find", cJSON_Parse(canonical));
    free(canonical);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Per-tensor and overall counts of f->mask, written to sparsity.json. */
static int write_sparsity(find_ctx *f, int level, tk_level_report *r, tk_error *err) {
    const tk_model *m = f->m;
    cJSON *o = cJSON_CreateObject(), *layers = cJSON_CreateArray();
    r->kept = r->covered = r->kept_all = r->total_all = 0;
    for (int i = 0; i < m->n_param_tensors; i++) {
        size_t kept, total;
        tk_mask_count(m, f->mask, i, &kept, &total);
        r->kept_all += kept, r->total_all += total;
        bool covered = tk_prune_covers(&f->c->prune, m, i);
        if (covered) r->kept += kept, r->covered += total;
        if (!m->params[i].prunable) continue;
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", m->params[i].name);
        cJSON_AddNumberToObject(l, "kept", (double)kept);
        cJSON_AddNumberToObject(l, "total", (double)total);
        cJSON_AddNumberToObject(l, "density", (double)kept / (double)total);
        cJSON_AddBoolToObject(l, "pruned_by_strategy", covered);
        cJSON_AddItemToArray(layers, l);
    }
    cJSON_AddNumberToObject(o, "level", level);
    cJSON_AddNumberToObject(o, "kept", (double)r->kept);
    cJSON_AddNumberToObject(o, "prunable", (double)r->covered);
    cJSON_AddNumberToObject(o, "density", (double)r->kept / (double)r->covered);
    cJSON_AddNumberToObject(o, "kept_of_all_parameters", (double)r->kept_all);
    cJSON_AddNumberToObject(o, "all_parameters", (double)r->total_all);
    cJSON_AddItemToObject(o, "layers", layers);
    char path[1200];
    level_dir(f, level, "sparsity.json", path, sizeof path);
    if (tk_file_exists(path)) { /* finished work is not written again */
        cJSON_Delete(o);
        return 0;
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    size_t len = strlen(text);
    text[len] = '\n';
    int rc = tk_file_write_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}

/* The level's mask: read back if it was written before, else pruned from
 * the weights the previous level (one-shot: level 0) ended with. */
static int level_mask(find_ctx *f, int level, tk_error *err) {
    char path[1200], from[1200];
    level_dir(f, level, "mask", path, sizeof path);
    if (level == 0) {
        memset(f->mask, 1, f->m->n_prunable);
        memcpy(f->prev, f->mask, f->m->n_prunable);
    } else if (tk_file_exists(path)) {
        memcpy(f->prev, f->mask, f->m->n_prunable);
        return tk_mask_read(path, f->mask, f->m->n_prunable, err);
    } else {
        int source = f->c->prune.n_densities ? 0 : level - 1;
        level_dir(f, source, "checkpoint", from, sizeof from);
        if (tk_checkpoint_load_weights(from, f->m, f->c->train.width, err)) return -1;
        if (f->c->prune.n_densities) memset(f->m->mask, 1, f->m->n_prunable);
        memcpy(f->prev, f->m->mask, f->m->n_prunable);
        tk_prune_mask(f->m, &f->c->prune, level, f->m->param, f->prev, f->mask);
    }
    if (tk_file_exists(path)) return 0; /* level 0's all-ones mask, written before */
    char dir[1200];
    level_dir(f, level, NULL, dir, sizeof dir);
    return tk_mkdirs(dir, err) || tk_mask_write(path, f->mask, f->m->n_prunable, err);
}

static int write_ticket(find_ctx *f, int level, const tk_level_report *r, tk_error *err) {
    char path[1200], rewind[1200];
    level_dir(f, level, "ticket", path, sizeof path);
    if (tk_file_exists(path)) return 0;
    level_dir(f, 0, "rewind", rewind, sizeof rewind);
    if (tk_checkpoint_load_weights(rewind, f->m, f->c->train.width, err)) return -1;
    memcpy(f->m->mask, f->mask, f->m->n_prunable);
    tk_model_apply_mask(f->m);
    char *prov = provenance(f, level, r->kept, r->covered);
    int rc = tk_ticket_write(path, f->m, f->c->train.width, f->m->param, prov, err);
    free(prov);
    return rc;
}

static void control_rng(const find_ctx *f, int level, tk_control k, int which, tk_rng *rng) {
    uint64_t stream = tk_control_stream(&tk_controls[k], TK_CONTROL_IN_FIND, level, which);
    tk_rng_seed(rng, f->c->train.seed, TK_STREAM_COUNT + stream);
}

/* The l1 control's mask: the L1-penalised dense network pruned in one shot
 * to this level's counts. */
static int l1_mask(find_ctx *f, int level, uint8_t *out, tk_error *err) {
    tk_train_config cfg = f->c->train;
    cfg.l1 = f->c->l1_penalty;
    char dir[1100], ckpt[1200];
    snprintf(dir, sizeof dir, "%s/l1_dense", f->dir);
    tk_train_result r;
    if (train(f, &cfg, dir, NULL, &r, err)) return -1;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    if (tk_checkpoint_load_weights(ckpt, f->m, cfg.width, err)) return -1;
    uint8_t *ones = tk_malloc(f->m->n_prunable);
    memset(ones, 1, f->m->n_prunable);
    /* From all ones, tk_prune_mask reaches level L's counts in one step:
     * kept(L) is computed from n, not from level L-1. */
    tk_prune_mask(f->m, &f->c->prune, level, f->m->param, ones, out);
    free(ones);
    return 0;
}

static int run_control(find_ctx *f, int level, tk_control k, tk_train_result *r, tk_error *err) {
    char dir[1200], rewind[1200];
    level_dir(f, level, tk_controls[k].name, dir, sizeof dir);
    level_dir(f, 0, "rewind", rewind, sizeof rewind);
    uint8_t *mask = tk_malloc(f->m->n_prunable);
    prepare_ctx p = {.mask = mask};
    tk_rng mask_rng;
    control_rng(f, level, k, 0, &mask_rng);
    control_rng(f, level, k, 1, &p.init_rng);
    int rc = 0;
    p.fresh_init = tk_controls[k].fresh_init;
    if (tk_controls[k].mask == TK_MASK_FROM_L1) rc = l1_mask(f, level, mask, err);
    else tk_control_mask(f->m, &f->c->prune, f->mask, k, &mask_rng, mask);
    tk_train_start start = {.from = rewind, .prepare = prepare, .ctx = &p};
    if (rc == 0) rc = train(f, &f->c->train, dir, &start, r, err);
    free(mask);
    return rc;
}

static int run_level(find_ctx *f, int level, tk_level_report *r, tk_error *err) {
    memset(r, 0, sizeof *r);
    r->level = level;
    if (level_mask(f, level, err) || write_sparsity(f, level, r, err)) return -1;
    char dir[1200], rewind[1200];
    level_dir(f, level, NULL, dir, sizeof dir);
    level_dir(f, 0, "rewind", rewind, sizeof rewind);
    prepare_ctx p = {.mask = f->mask};
    tk_train_start start = level == 0 ? (tk_train_start){.snapshot = true, .snapshot_at = f->c->rewind}
                                      : (tk_train_start){.from = rewind, .prepare = prepare, .ctx = &p};
    if (train(f, &f->c->train, dir, &start, &r->ticket, err) || write_ticket(f, level, r, err)) return -1;
    for (int k = 0; level > 0 && k < TK_CONTROL_COUNT; k++) {
        if (!f->c->controls[k]) continue;
        if (run_control(f, level, (tk_control)k, &r->control[k], err)) return -1;
        r->has_control[k] = true;
    }
    return 0;
}

int tk_find_open(const char *dir, tk_find_config *c, tk_error *err) {
    char path[1100];
    snprintf(path, sizeof path, "%s/find.json", dir);
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    char *text = (char *)data;
    int rc = tk_find_config_from_json(text, path, c, err);
    free(text);
    if (rc) return rc;
    char hash[17];
    tk_find_hash(c, hash);
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    if (strcmp(base, hash))
        return tk_fail(err, "%s holds a configuration whose hash is %s, not the directory's name %s: the "
                       "directory was renamed or find.json edited; rename it to %s or start the run afresh",
                       path, hash, base, hash);
    return 0;
}

int tk_find_run(const tk_find_config *c, const char *root, tk_progress progress, tk_find_report_fn report,
                void *ctx, char *run_dir, size_t cap, tk_error *err) {
    if (tk_find_config_validate(c, err)) return -1;
    find_ctx f = {.c = c, .progress = progress};
    char hash[17];
    tk_find_hash(c, hash);
    snprintf(f.dir, sizeof f.dir, "%s/%s", root, hash);
    if (run_dir) snprintf(run_dir, cap, "%s", f.dir);
    /* The model's shape: from level 0's checkpoint once it exists, which spares
     * reading the dataset a second time in every later level's job. */
    char ckpt[1100], name[64];
    tk_model_config mc;
    snprintf(ckpt, sizeof ckpt, "%s/level_00/checkpoint", f.dir);
    if (tk_file_exists(ckpt)) {
        if (tk_checkpoint_model(ckpt, &mc, name, err) || !(f.m = tk_model_create(&mc, err))) return -1;
    } else if (!(f.m = tk_train_create_model(&c->train, err))) {
        return -1;
    }
    int rc = tk_prune_validate(&c->prune, f.m, err);
    char path[1100];
    snprintf(path, sizeof path, "%s/find.json", f.dir);
    if (rc == 0 && tk_file_exists(path)) {
        tk_find_config stored;
        rc = tk_find_open(f.dir, &stored, err);
    } else if (rc == 0) {
        char *canonical = tk_find_canonical_json(c);
        size_t len = strlen(canonical);
        canonical[len] = '\n';
        rc = tk_mkdirs(f.dir, err) || tk_file_write_atomic(path, canonical, len + 1, err) ? -1 : 0;
        free(canonical);
    }
    f.mask = tk_malloc(f.m->n_prunable);
    f.prev = tk_malloc(f.m->n_prunable);
    for (int level = 0; rc == 0 && level <= c->levels; level++) {
        tk_level_report r;
        rc = run_level(&f, level, &r, err);
        if (rc == 0 && report) report(&r, ctx);
    }
    free(f.mask);
    free(f.prev);
    tk_model_free(f.m);
    return rc;
}
