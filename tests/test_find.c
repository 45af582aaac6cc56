/* test_find.c - finding tickets end to end on a tiny learnable IDX dataset:
 * the run store's files and kept counts, the controls' masks and
 * initializations, rewinding to exactly the stored weights, skipping finished
 * work, a SIGKILL in round 3 resumed to the bytes of a run that never stopped,
 * pinned hashes of the canonical configuration, and bad input (in the library
 * and through `ticket find`). */
#define _GNU_SOURCE
#include "check.h"
#include "tk_checkpoint.h"
#include "tk_file.h"
#include "tk_find.h"
#include "tk_ticket.h"

#include <cJSON.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Holds data/mnist (found through TICKET_DATA), the run stores and the logs. */
static char *root;

static char *level_path(const char *run, int level, const char *name) {
    char *p;
    if (asprintf(&p, "%s/level_%02d/%s", run, level, name) < 0) abort();
    return p;
}

static bool exists(const char *path) { return tk_file_exists(path); }

/* lenet_300_100 at width 0.1 on the 8x8 data: fc1 [30,64], fc2 [10,30],
 * fc3 [10,10], so 2320 prunable weights; batch 30 of 600 = 20 iterations per
 * epoch. Levels train 40 iterations from the rewind point at iteration 10. */
#define WIDTH 0.1f
#define COVERED 2320
#define LEVELS 3
static const char *const spec_text =
    "{\"train\": {\"model\": \"lenet_300_100\", \"width\": 0.1, \"dataset\": \"mnist\", \"batch\": 30,"
    " \"length\": \"40it\", \"eval_every\": \"20it\", \"checkpoint_every\": \"10it\", \"threads\": 1, \"seed\": 3},"
    " \"pruning\": {\"rate\": 0.2, \"levels\": 3}, \"rewind\": \"10it\","
    " \"controls\": [\"reinit\", \"random_mask\", \"random_ticket\", \"random_global\", \"l1\"]}";

static tk_find_config parse_spec(const char *text) {
    tk_find_config c;
    tk_error err = {0};
    if (tk_find_config_from_json(text, "spec.json", &c, &err)) {
        printf("  %s\nFAIL parse_spec\n", err.msg);
        exit(1);
    }
    return c;
}

static tk_model *model(void) {
    tk_model_config mc = {.name = "lenet_300_100", .input = {1, 8, 8}, .classes = 10, .width = WIDTH};
    tk_error err = {0};
    tk_model *m = tk_model_create(&mc, &err);
    if (!m) {
        printf("  %s\nFAIL model\n", err.msg);
        exit(1);
    }
    return m;
}

/* Loads a checkpoint's weights and mask into m; false (and a message) on failure. */
static bool load(tk_model *m, const char *path) {
    tk_error err = {0};
    if (tk_checkpoint_load_weights(path, m, WIDTH, &err) == 0) return true;
    printf("  %s\n", err.msg);
    return false;
}

/* floor(n * (1 - 0.2f)^L + 0.5), computed apart from the library. */
static size_t rule_kept(size_t n, int level) {
    long double f = 1;
    for (int l = 0; l < level; l++) f *= 1.0L - (long double)0.2f;
    return (size_t)floorl((long double)n * f + 0.5L);
}

static size_t ones_in(const tk_model *m, const uint8_t *mask, int tensor) {
    size_t kept, total;
    tk_mask_count(m, mask, tensor, &kept, &total);
    return kept;
}

static size_t ones(const uint8_t *mask, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += mask[i] != 0;
    return k;
}

/* ---- the main run, shared by the tests below */

static char run[1200];
static tk_level_report reports[LEVELS + 1];
static int n_reports;

static void collect(const tk_level_report *r, void *ctx) {
    (void)ctx;
    if (n_reports <= LEVELS) reports[n_reports] = *r;
    n_reports++;
}

static int find(const tk_find_config *c, const char *store, char *dir, tk_error *err) {
    n_reports = 0;
    return tk_find_run(c, store, TK_PROGRESS_NONE, collect, NULL, dir, 1200, err);
}

static const char *const level_files[] = {"mask", "ticket", "sparsity.json", "summary.json", "metrics.jsonl",
                                          "config.json", "checkpoint"};
static const char *const control_files[] = {"config.json", "checkpoint", "metrics.jsonl", "summary.json"};

static void test_run_layout(void) {
    tk_find_config c = parse_spec(spec_text);
    char *store = path_in(root, "store");
    tk_error err = {0};
    double t0 = tk_now();
    int rc = find(&c, store, run, &err);
    if (rc) printf("  %s\n", err.msg);
    CHECK(rc == 0);
    printf("  %d levels with 5 controls in %.2f s\n", LEVELS, tk_now() - t0);
    char hash[17], *expect_dir = NULL;
    tk_find_hash(&c, hash);
    expect_dir = path_in(store, hash);
    CHECK(!strcmp(run, expect_dir));
    /* find.json is the canonical form the name hashes. */
    char *find_json = path_in(run, "find.json"), *canonical = tk_find_canonical_json(&c);
    char *stored = read_whole_file(find_json, NULL);
    CHECK(stored && strlen(stored) == strlen(canonical) + 1 && !strncmp(stored, canonical, strlen(canonical)));
    free(stored), free(canonical), free(find_json), free(expect_dir), free(store);

    CHECK(n_reports == LEVELS + 1);
    for (int l = 0; l <= LEVELS && l < n_reports; l++) {
        const tk_level_report *r = &reports[l];
        CHECK(r->level == l && r->covered == COVERED && r->kept == rule_kept(COVERED, l));
        CHECK(r->total_all == COVERED + 50 && r->kept_all == r->kept + 50); /* 50 biases, never pruned */
        CHECK(r->ticket.iterations == 40);
        for (int k = 0; k < TK_CONTROL_COUNT; k++) {
            CHECK(r->has_control[k] == (l > 0));
            if (l > 0) CHECK(r->control[k].iterations == 40);
        }
        for (int i = 0; i < TK_ARRAY_LEN(level_files); i++) {
            char *p = level_path(run, l, level_files[i]);
            if (!exists(p)) printf("  missing %s\n", p);
            CHECK(exists(p));
            free(p);
        }
        for (int k = 0; l > 0 && k < TK_CONTROL_COUNT; k++)
            for (int i = 0; i < TK_ARRAY_LEN(control_files); i++) {
                char sub[128];
                snprintf(sub, sizeof sub, "%s/%s", tk_controls[k].name, control_files[i]);
                char *p = level_path(run, l, sub);
                if (!exists(p)) printf("  missing %s\n", p);
                CHECK(exists(p));
                free(p);
            }
    }
    char *rewind = level_path(run, 0, "rewind"), *l1 = path_in(run, "l1_dense/summary.json");
    CHECK(exists(rewind) && exists(l1));
    free(rewind), free(l1);
}

/* sparsity.json against the mask file; masks nested and cut at the magnitude
 * threshold of the weights the previous level ended with. */
static void test_masks_and_sparsity(void) {
    tk_model *m = model();
    uint8_t *prev = malloc(m->n_prunable), *mask = malloc(m->n_prunable);
    memset(prev, 1, m->n_prunable);
    tk_error err = {0};
    for (int l = 0; l <= LEVELS; l++) {
        char *mp = level_path(run, l, "mask"), *sp = level_path(run, l, "sparsity.json");
        CHECK(tk_mask_read(mp, mask, m->n_prunable, &err) == 0);
        CHECK(ones(mask, m->n_prunable) == rule_kept(COVERED, l));
        int revived = 0;
        for (size_t i = 0; i < m->n_prunable; i++) revived += mask[i] && !prev[i];
        CHECK(revived == 0);
        if (l > 0) {
            /* Pruned here: the smallest magnitudes among those kept at l-1, in the weights l-1 ended with. */
            char *before = level_path(run, l - 1, "checkpoint");
            CHECK(load(m, before));
            float min_kept = INFINITY, max_pruned = -1;
            for (size_t i = 0; i < m->n_prunable; i++) {
                float a = fabsf(m->param[i]);
                if (mask[i]) min_kept = a < min_kept ? a : min_kept;
                else if (prev[i]) max_pruned = a > max_pruned ? a : max_pruned;
            }
            CHECK(max_pruned <= min_kept && max_pruned >= 0);
            free(before);
        }
        /* The level trained with this mask: its final weights carry it, and pruned weights are 0. */
        char *ck = level_path(run, l, "checkpoint");
        CHECK(load(m, ck));
        CHECK(!memcmp(m->mask, mask, m->n_prunable));
        int nonzero = 0;
        for (size_t i = 0; i < m->n_prunable; i++) nonzero += !mask[i] && m->param[i] != 0.0f;
        CHECK(nonzero == 0);
        free(ck);

        char *text = read_whole_file(sp, NULL);
        cJSON *o = cJSON_Parse(text ? text : "");
        CHECK(o != NULL);
        const cJSON *layers = cJSON_GetObjectItemCaseSensitive(o, "layers");
        CHECK(cJSON_GetObjectItemCaseSensitive(o, "level") &&
              cJSON_GetObjectItemCaseSensitive(o, "level")->valuedouble == l);
        const cJSON *kept = cJSON_GetObjectItemCaseSensitive(o, "kept"),
                    *pr = cJSON_GetObjectItemCaseSensitive(o, "prunable");
        CHECK(cJSON_IsNumber(kept) && kept->valuedouble == (double)rule_kept(COVERED, l));
        CHECK(cJSON_IsNumber(pr) && pr->valuedouble == COVERED);
        const cJSON *density = cJSON_GetObjectItemCaseSensitive(o, "density");
        CHECK(cJSON_IsNumber(density));
        if (cJSON_IsNumber(density)) CHECK_NEAR(density->valuedouble, (double)rule_kept(COVERED, l) / COVERED, 1e-12);
        const cJSON *all = cJSON_GetObjectItemCaseSensitive(o, "all_parameters");
        CHECK(cJSON_IsNumber(all) && all->valuedouble == COVERED + 50);
        CHECK(cJSON_GetArraySize(layers) == 3);
        const cJSON *layer;
        double sum = 0;
        cJSON_ArrayForEach(layer, layers) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(layer, "name");
            int t = cJSON_IsString(name) ? tk_model_find_param(m, name->valuestring) : -1;
            CHECK(t >= 0);
            if (t < 0) continue;
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(layer, "kept"),
                        *n = cJSON_GetObjectItemCaseSensitive(layer, "total");
            CHECK(cJSON_IsNumber(k) && k->valuedouble == (double)ones_in(m, mask, t));
            CHECK(cJSON_IsNumber(n) && n->valuedouble == (double)m->params[t].count);
            CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(layer, "pruned_by_strategy")));
            sum += cJSON_IsNumber(k) ? k->valuedouble : 0;
        }
        CHECK(sum == (double)rule_kept(COVERED, l));
        cJSON_Delete(o);
        free(text), free(mp), free(sp);
        memcpy(prev, mask, m->n_prunable);
    }
    free(prev), free(mask);
    tk_model_free(m);
}

/* ---- rewinding */

/* How a reconstruction starts: from a ticket file (mask and weights), or a
 * mask with the snapshot's weights, or a mask with a fresh initialization. */
typedef struct recon {
    const char *ticket;
    const uint8_t *mask;
    bool fresh;
    tk_rng init;
} recon;

static int recon_prepare(tk_model *m, void *ctx, tk_error *err) {
    recon *r = ctx;
    if (r->ticket) return tk_ticket_read(r->ticket, m, WIDTH, NULL, err);
    if (r->fresh) tk_model_init(m, &r->init);
    memcpy(m->mask, r->mask, m->n_prunable);
    return 0;
}

/* Trains c's configuration from the run's rewind snapshot into root/recon/NAME
 * and says whether its checkpoint has the bytes of `expect`. */
static bool reconstructs(const tk_find_config *c, recon *r, const char *name, const char *expect) {
    char *dir, *rewind = level_path(run, 0, "rewind");
    if (asprintf(&dir, "%s/recon/%s", root, name) < 0) abort();
    rm_rf(dir);
    tk_train_start start = {.from = rewind, .prepare = recon_prepare, .ctx = r};
    tk_train_result res;
    tk_error err = {0};
    int rc = tk_train_run_from(&c->train, dir, &start, TK_PROGRESS_NONE, &res, &err);
    if (rc) printf("  %s: %s\n", name, err.msg);
    char *ck = path_in(dir, "checkpoint");
    bool same = rc == 0 && same_bytes(ck, expect);
    free(ck), free(dir), free(rewind);
    return same;
}

/* The ticket file holds the rewind snapshot's weights masked by the level's
 * mask, bit for bit, and training from it alone (plus the snapshot's step,
 * data order and streams) gives the level's checkpoint byte for byte. */
static void test_rewind_restores_stored_weights(void) {
    tk_find_config c = parse_spec(spec_text);
    tk_model *snap = model(), *t = model();
    char *rewind = level_path(run, 0, "rewind");
    CHECK(load(snap, rewind));
    for (int l = 0; l <= LEVELS; l++) {
        char *tp = level_path(run, l, "ticket"), *mp = level_path(run, l, "mask"),
             *ck = level_path(run, l, "checkpoint");
        uint8_t *mask = malloc(snap->n_prunable);
        tk_error err = {0};
        char *prov = NULL;
        CHECK(tk_mask_read(mp, mask, snap->n_prunable, &err) == 0);
        CHECK(tk_ticket_read(tp, t, WIDTH, &prov, &err) == 0);
        CHECK(!memcmp(t->mask, mask, snap->n_prunable));
        float *expect = malloc(snap->n_params * sizeof(float));
        for (size_t i = 0; i < snap->n_params; i++)
            expect[i] = i < snap->n_prunable && !mask[i] ? 0.0f : snap->param[i];
        CHECK(!memcmp(t->param, expect, snap->n_params * sizeof(float)));
        /* Provenance: enough for another program to know what it holds. */
        cJSON *o = cJSON_Parse(prov ? prov : "");
        CHECK(o != NULL);
        const cJSON *ds = cJSON_GetObjectItemCaseSensitive(o, "source_dataset"),
                    *lv = cJSON_GetObjectItemCaseSensitive(o, "level");
        const cJSON *rw = cJSON_GetObjectItemCaseSensitive(o, "rewind"),
                    *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
        const cJSON *opt = cJSON_GetObjectItemCaseSensitive(o, "optimizer"),
                    *dn = cJSON_GetObjectItemCaseSensitive(o, "density");
        const cJSON *prog = cJSON_GetObjectItemCaseSensitive(o, "program"),
                    *fj = cJSON_GetObjectItemCaseSensitive(o, "find");
        CHECK(cJSON_IsString(ds) && !strcmp(ds->valuestring, "mnist"));
        CHECK(cJSON_IsNumber(lv) && lv->valuedouble == l);
        CHECK(cJSON_IsString(rw) && !strcmp(rw->valuestring, "10it"));
        CHECK(cJSON_IsNumber(seed) && seed->valuedouble == 3);
        CHECK(cJSON_IsString(opt) && !strcmp(opt->valuestring, "adam"));
        CHECK(cJSON_IsNumber(dn) && fabs(dn->valuedouble - (double)rule_kept(COVERED, l) / COVERED) < 1e-12);
        CHECK(cJSON_IsString(prog) && strstr(prog->valuestring, TK_VERSION));
        char *canonical = tk_find_canonical_json(&c), *fjt = fj ? cJSON_PrintUnformatted(fj) : NULL;
        CHECK(fjt && !strcmp(fjt, canonical));
        free(canonical), free(fjt);
        cJSON_Delete(o);
        if (l > 0) {
            char name[32];
            snprintf(name, sizeof name, "level_%02d", l);
            recon r = {.ticket = tp};
            CHECK(reconstructs(&c, &r, name, ck));
        }
        free(prov), free(expect), free(mask), free(tp), free(mp), free(ck);
    }
    /* The snapshot is the dense run's state at iteration 10: a 10-iteration
     * run of the same configuration ends with the same weights, which are
     * not the initialization. */
    tk_train_config ten = c.train;
    ten.length = (tk_duration){0, 10};
    char *dir = path_in(root, "recon/dense10"), *ck = path_in(dir, "checkpoint");
    rm_rf(dir);
    tk_train_result res;
    tk_error err = {0};
    CHECK(tk_train_run(&ten, dir, TK_PROGRESS_NONE, &res, &err) == 0);
    tk_model *d = model();
    CHECK(load(d, ck));
    CHECK(!memcmp(d->param, snap->param, snap->n_params * sizeof(float)));
    tk_rng init;
    tk_rng_seed(&init, 3, TK_STREAM_INIT);
    tk_model_init(d, &init);
    CHECK(memcmp(d->param, snap->param, snap->n_prunable * sizeof(float)) != 0);
    free(dir), free(ck), free(rewind);
    tk_model_free(d), tk_model_free(snap), tk_model_free(t);
}

/* ---- controls */

/* Control k at level L draws its fresh initialization from stream
 * TK_STREAM_COUNT + 2(5L + k) + 1 (tk_control_stream; 5 stays 5 whatever the control count). */
static tk_rng control_init_rng(int level, int k) {
    tk_rng r;
    tk_rng_seed(&r, 3, TK_STREAM_COUNT + 2 * ((uint64_t)level * 5 + (uint64_t)k) + 1);
    return r;
}

static void test_controls(void) {
    tk_find_config c = parse_spec(spec_text);
    tk_model *m = model(), *l1 = model();
    char *l1_dense = path_in(run, "l1_dense/checkpoint");
    CHECK(load(l1, l1_dense));
    uint8_t *ticket = malloc(m->n_prunable);
    uint8_t *masks[TK_CONTROL_COUNT];
    for (int k = 0; k < TK_CONTROL_COUNT; k++) masks[k] = malloc(m->n_prunable);
    for (int l = 1; l <= LEVELS; l++) {
        tk_error err = {0};
        char *mp = level_path(run, l, "mask");
        CHECK(tk_mask_read(mp, ticket, m->n_prunable, &err) == 0);
        free(mp);
        for (int k = 0; k < TK_CONTROL_COUNT; k++) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s/checkpoint", tk_controls[k].name);
            char *ck = level_path(run, l, sub);
            CHECK(load(m, ck));
            memcpy(masks[k], m->mask, m->n_prunable);
            int nonzero = 0;
            for (size_t i = 0; i < m->n_prunable; i++) nonzero += !m->mask[i] && m->param[i] != 0.0f;
            CHECK(nonzero == 0);
            /* Densities: per layer, or over all covered weights. */
            size_t total = 0;
            bool per_layer_same = true;
            for (int t = 0; t < m->n_param_tensors; t++) {
                if (!m->params[t].prunable) continue;
                total += ones_in(m, masks[k], t);
                per_layer_same &= ones_in(m, masks[k], t) == ones_in(m, ticket, t);
            }
            CHECK(total == rule_kept(COVERED, l));
            bool is_ticket = !memcmp(masks[k], ticket, m->n_prunable);
            switch ((tk_control)k) {
            case TK_CONTROL_REINIT: CHECK(is_ticket); break;
            case TK_CONTROL_RANDOM_MASK:
            case TK_CONTROL_RANDOM_TICKET: CHECK(per_layer_same && !is_ticket); break;
            case TK_CONTROL_RANDOM_GLOBAL: CHECK(!is_ticket); break;
            case TK_CONTROL_L1: {
                /* The L1-penalised dense weights, magnitude-pruned to the level's count. */
                float min_kept = INFINITY, max_pruned = -1;
                for (size_t i = 0; i < m->n_prunable; i++) {
                    float a = fabsf(l1->param[i]);
                    if (masks[k][i]) min_kept = a < min_kept ? a : min_kept;
                    else max_pruned = a > max_pruned ? a : max_pruned;
                }
                CHECK(max_pruned <= min_kept);
                break;
            }
            case TK_CONTROL_COUNT: break;
            }
            /* The initialization: the ticket's (rewind snapshot) for
             * random_mask and l1, a fresh one from the control's own stream
             * for the others. */
            bool keeps_ticket_init = k == TK_CONTROL_RANDOM_MASK || k == TK_CONTROL_L1;
            char name[64];
            snprintf(name, sizeof name, "L%d-%s-rewind", l, tk_controls[k].name);
            recon from_snapshot = {.mask = masks[k]};
            CHECK(reconstructs(&c, &from_snapshot, name, ck) == keeps_ticket_init);
            if (!keeps_ticket_init) {
                snprintf(name, sizeof name, "L%d-%s-fresh", l, tk_controls[k].name);
                recon fresh = {.mask = masks[k], .fresh = true, .init = control_init_rng(l, k)};
                CHECK(reconstructs(&c, &fresh, name, ck));
            }
            free(ck);
        }
        /* Each control has its own stream: the two per-layer random masks differ. */
        CHECK(memcmp(masks[TK_CONTROL_RANDOM_MASK], masks[TK_CONTROL_RANDOM_TICKET], m->n_prunable) != 0);
        /* random_global is not per layer: at least one layer's count moved. */
        bool moved = false;
        for (int t = 0; t < m->n_param_tensors; t++)
            if (m->params[t].prunable) moved |= ones_in(m, masks[TK_CONTROL_RANDOM_GLOBAL], t) != ones_in(m, ticket, t);
        CHECK(moved);
    }
    for (int k = 0; k < TK_CONTROL_COUNT; k++) free(masks[k]);
    free(ticket), free(l1_dense);
    tk_model_free(m), tk_model_free(l1);
}

/* ---- finished work is skipped */

typedef struct file_rec {
    char *path, *data;
    size_t n;
} file_rec;
static file_rec *files;
static int n_files, cap_files;

static int record_file(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)ftw;
    if (type != FTW_F) return 0;
    if (n_files == cap_files)
        files = realloc(files, (size_t)(cap_files = cap_files ? 2 * cap_files : 64) * sizeof *files);
    file_rec *f = &files[n_files++];
    f->path = strdup(path);
    f->data = read_whole_file(path, &f->n);
    return 0;
}

static int count_files(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)path, (void)st, (void)ftw;
    n_files += type == FTW_F;
    return 0;
}

static const struct timespec old_time = {978307200, 123456789}; /* 2001-01-01: nothing writes that */

/* Records every file under the run (path and bytes) and back-dates it. */
static void snapshot_run(void) {
    n_files = 0;
    CHECK(nftw(run, record_file, 16, FTW_PHYS) == 0);
    for (int i = 0; i < n_files; i++)
        CHECK(utimensat(AT_FDCWD, files[i].path, (struct timespec[]){old_time, old_time}, 0) == 0);
}

/* Compares the recorded files with the disk: how many changed their bytes,
 * and how many were written again (mtime moved) among those whose name ends
 * in `suffix` (all when NULL). Frees the record. */
static void compare_run(int *bytes_changed, int *rewritten, const char *suffix) {
    *bytes_changed = *rewritten = 0;
    for (int i = 0; i < n_files; i++) {
        struct stat st;
        size_t n = 0;
        char *now = read_whole_file(files[i].path, &n);
        bool same = now && files[i].data && n == files[i].n && !memcmp(now, files[i].data, n);
        size_t len = strlen(files[i].path), sl = suffix ? strlen(suffix) : 0;
        bool watched = !suffix || (len >= sl && !strcmp(files[i].path + len - sl, suffix));
        bool touched = stat(files[i].path, &st) != 0 || st.st_mtim.tv_sec != old_time.tv_sec ||
                       st.st_mtim.tv_nsec != old_time.tv_nsec;
        if (!same) printf("  %s changed its bytes\n", files[i].path);
        else if (watched && touched) printf("  %s was written again (same bytes)\n", files[i].path);
        *bytes_changed += !same;
        *rewritten += watched && touched;
        free(now), free(files[i].path), free(files[i].data);
    }
    free(files), files = NULL, n_files = cap_files = 0;
}

static void test_rerun_skips_everything(void) {
    tk_find_config c = parse_spec(spec_text);
    snapshot_run();
    int recorded = n_files;
    CHECK(recorded > 50);
    tk_level_report first[LEVELS + 1];
    memcpy(first, reports, sizeof first);
    char *store = path_in(root, "store"), again[1200];
    tk_error err = {0};
    double t0 = tk_now();
    CHECK(find(&c, store, again, &err) == 0);
    printf("  rerun in %.3f s\n", tk_now() - t0);
    CHECK(!strcmp(again, run));
    CHECK(n_reports == LEVELS + 1);
    for (int l = 0; l <= LEVELS; l++) {
        CHECK(reports[l].kept == first[l].kept);
        CHECK(reports[l].ticket.final_accuracy == first[l].ticket.final_accuracy);
        for (int k = 0; l > 0 && k < TK_CONTROL_COUNT; k++)
            CHECK(reports[l].control[k].final_accuracy == first[l].control[k].final_accuracy);
    }
    int bytes_changed, rewritten;
    compare_run(&bytes_changed, &rewritten, NULL);
    CHECK(bytes_changed == 0);
    /* Finished work is not written again: same bytes is not enough, the files stay untouched. */
    CHECK(rewritten == 0);
    n_files = 0;
    CHECK(nftw(run, count_files, 16, FTW_PHYS) == 0);
    CHECK(n_files == recorded);
    free(store);
}

/* The number of levels is not hashed: asking for one more level reuses the
 * run, trains only level 4, and leaves every earlier file's bytes alone. */
static void test_more_levels_extend_run(void) {
    tk_find_config c = parse_spec(spec_text);
    c.levels = LEVELS + 1;
    snapshot_run();
    char *store = path_in(root, "store"), again[1200];
    tk_error err = {0};
    CHECK(find(&c, store, again, &err) == 0);
    CHECK(!strcmp(again, run));
    CHECK(n_reports == LEVELS + 2);
    int bytes_changed, retrained;
    compare_run(&bytes_changed, &retrained, "checkpoint");
    CHECK(bytes_changed == 0 && retrained == 0);
    tk_model *m = model();
    char *mp = level_path(run, LEVELS + 1, "mask"), *ck = level_path(run, LEVELS + 1, "random_global/checkpoint");
    uint8_t *mask = malloc(m->n_prunable);
    CHECK(tk_mask_read(mp, mask, m->n_prunable, &err) == 0);
    CHECK(ones(mask, m->n_prunable) == rule_kept(COVERED, LEVELS + 1));
    CHECK(exists(ck));
    free(mask), free(mp), free(ck), free(store);
    tk_model_free(m);
}

/* ---- the real binary under SIGKILL in round 3 */

/* The arguments of `ticket find SPEC --root STORE --quiet`. */
#define FIND_ARGS(spec, store) ((char *[]){"ticket", "find", (spec), "--root", (store), "--quiet", NULL})

/* Levels of 200 iterations from a rewind point at 20, a checkpoint every 10
 * and an evaluation every 25: round 3's first checkpoint (iteration 30)
 * comes with an evaluation before it and 170 iterations after it. */
static const char *const kill_spec =
    "{\"train\": {\"model\": \"lenet_300_100\", \"width\": 0.1, \"dataset\": \"mnist\", \"batch\": 30,"
    " \"length\": \"200it\", \"eval_every\": \"25it\", \"checkpoint_every\": \"10it\", \"threads\": 1, \"seed\": 5},"
    " \"pruning\": {\"levels\": 3}, \"rewind\": \"20it\", \"controls\": [\"random_ticket\"]}";

static void test_sigkill_in_round_3(void) {
    const char *bin = ticket_bin();
    CHECK(bin != NULL);
    if (!bin) return;
    char *spec = path_in(root, "kill.json"), *log = path_in(root, "kill.log");
    write_file(spec, kill_spec, strlen(kill_spec));
    tk_find_config c = parse_spec(kill_spec);
    char hash[17];
    tk_find_hash(&c, hash);
    char *killed_store = path_in(root, "killed"), *whole_store = path_in(root, "whole");
    char *killed = path_in(killed_store, hash), *whole = path_in(whole_store, hash);
    rm_rf(killed_store), rm_rf(whole_store);

    /* Kill as soon as round 3 has written its first checkpoint, so the rerun
     * resumes it mid-way. On a loaded machine the round may end before the
     * kill lands: then start over (the run is deterministic, so any attempt
     * tests the same thing). */
    char *ck3 = level_path(killed, 3, "checkpoint"), *summary3 = level_path(killed, 3, "summary.json");
    char *summary2 = level_path(killed, 2, "summary.json");
    int status = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        rm_rf(killed_store);
        pid_t pid = spawn_ticket(FIND_ARGS(spec, killed_store), log), reaped = 0;
        CHECK(pid > 0);
        if (pid <= 0) break;
        double t0 = tk_now();
        while (!exists(ck3) && (reaped = waitpid(pid, &status, WNOHANG)) == 0 && tk_now() - t0 < 60) usleep(100);
        if (reaped == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        printf("  attempt %d: killed after %.2f s with round 3 %s\n", attempt, tk_now() - t0,
               exists(summary3) ? "finished: too late" : "unfinished");
        if (!exists(summary3)) break;
    }
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(exists(summary2) && exists(ck3) && !exists(summary3));
    CHECK(run_ticket(FIND_ARGS(spec, killed_store), log) == 0);
    double t0 = tk_now();
    CHECK(run_ticket(FIND_ARGS(spec, whole_store), log) == 0);
    printf("  uninterrupted run: %.2f s\n", tk_now() - t0);
    static const char *const compared[] = {"mask", "ticket", "checkpoint", "sparsity.json", "metrics.jsonl",
                                           "random_ticket/checkpoint", "random_ticket/metrics.jsonl"};
    for (int l = 0; l <= 3; l++)
        for (int i = 0; i < TK_ARRAY_LEN(compared); i++) {
            if (l == 0 && i >= 5) continue; /* no controls at level 0 */
            char *a = level_path(killed, l, compared[i]), *b = level_path(whole, l, compared[i]);
            CHECK(same_bytes(a, b));
            free(a), free(b);
        }
    char *ra = level_path(killed, 0, "rewind"), *rb = level_path(whole, 0, "rewind");
    CHECK(same_bytes(ra, rb));
    free(ra), free(rb), free(summary3), free(ck3), free(summary2);
    free(spec), free(log), free(killed_store), free(whole_store), free(killed), free(whole);
}

/* ---- the content-addressed store */

static void hash_of(const char *text, char out[17]) {
    tk_find_config c = parse_spec(text);
    tk_find_hash(&c, out);
}

#define BASE_TRAIN "\"train\": {\"model\": \"lenet_300_100\", \"dataset\": \"fashion-mnist\""

static void test_pinned_hashes(void) {
    /* Pinned when the canonical form was written: a change here makes every
     * existing run directory unreachable, so it must be deliberate. */
    const char *minimal = "{" BASE_TRAIN "}}";
    tk_find_config c = parse_spec(minimal);
    char *canonical = tk_find_canonical_json(&c), hash[17];
    tk_find_hash(&c, hash);
    printf("  minimal: %s -> %s\n", canonical, hash);
    CHECK(!strcmp(canonical, "{\"train\":{\"dataset\":\"fashion-mnist\",\"model\":\"lenet_300_100\"}}"));
    CHECK(!strcmp(hash, "c01567f1f3055cd0"));
    free(canonical);

    const char *rich = "{\"train\": {\"model\": \"conv2\", \"dataset\": \"cifar10\", \"width\": 0.5, \"seed\": 1,"
                       " \"length\": \"30ep\"}, \"pruning\": {\"strategy\": \"layerwise\", \"levels\": 15,"
                       " \"rates\": {\"conv\": 0.15, \"output\": 0.1}, \"exclude\": [\"features.0.weight\"]},"
                       " \"rewind\": \"500it\"}";
    c = parse_spec(rich);
    canonical = tk_find_canonical_json(&c);
    tk_find_hash(&c, hash);
    printf("  rich: %s -> %s\n", canonical, hash);
    CHECK(!strcmp(canonical,
                  "{\"pruning\":{\"exclude\":[\"features.0.weight\"],\"rates\":{\"conv\":0.15000000596046448,"
                  "\"output\":0.10000000149011612},\"strategy\":\"layerwise\"},\"rewind\":\"500it\","
                  "\"train\":{\"dataset\":\"cifar10\",\"length\":\"30ep\",\"model\":\"conv2\",\"seed\":1,"
                  "\"width\":0.5}}"));
    CHECK(!strcmp(hash, "b9ecd34b8db44c6c"));
    free(canonical);

    /* Defaults, controls, the number of levels and the checkpoint interval
     * left out, key order irrelevant: the same hash. */
    char base[17], other[17];
    hash_of(minimal, base);
    const char *same[] = {
        "{" BASE_TRAIN "}, \"pruning\": {\"rate\": 0.2}}",
        "{" BASE_TRAIN "}, \"pruning\": {\"strategy\": \"global\", \"levels\": 10, \"exclude_output\": false}}",
        "{" BASE_TRAIN "}, \"rewind\": \"0it\"}",
        "{" BASE_TRAIN "}, \"controls\": [\"reinit\", \"random_ticket\", \"l1\"]}",
        "{" BASE_TRAIN "}, \"l1_penalty\": 0.0001}",
        "{" BASE_TRAIN ", \"optimizer\": \"adam\", \"lr\": 0.0012, \"batch\": 60, \"length\": \"20ep\", \"seed\": 0}}",
        "{" BASE_TRAIN ", \"checkpoint_every\": \"7it\"}}", /* how often checkpoints are written changes no result */
        "{" BASE_TRAIN "}, \"pruning\": {\"levels\": 11}}",     /* more levels extend the same run */
        "{\"pruning\": {\"rate\": 0.2}, \"train\": {\"dataset\": \"fashion-mnist\", \"model\": \"lenet_300_100\"}}",
    };
    for (int i = 0; i < TK_ARRAY_LEN(same); i++) {
        hash_of(same[i], other);
        if (strcmp(other, base)) printf("  %s hashes to %s, not %s\n", same[i], other, base);
        CHECK(!strcmp(other, base));
    }
    /* Any non-default value: another hash, each different from the others. */
    const char *differ[] = {
        "{" BASE_TRAIN "}, \"pruning\": {\"rate\": 0.25}}",
        "{" BASE_TRAIN "}, \"pruning\": {\"strategy\": \"layerwise\"}}",
        "{" BASE_TRAIN "}, \"pruning\": {\"exclude_output\": true}}",
        "{" BASE_TRAIN "}, \"pruning\": {\"densities\": [0.5, 0.1]}}",
        "{" BASE_TRAIN "}, \"rewind\": \"1it\"}",
        "{" BASE_TRAIN "}, \"rewind\": \"1ep\"}",
        "{" BASE_TRAIN ", \"seed\": 1}}",
        "{" BASE_TRAIN ", \"width\": 0.5}}",
        "{" BASE_TRAIN ", \"lr\": 0.001}}",
        "{\"train\": {\"model\": \"lenet_300_100\", \"dataset\": \"mnist\"}}",
        /* The l1 control's penalty changes its results, so it is hashed when not the default. */
        "{" BASE_TRAIN "}, \"l1_penalty\": 0.001}",
    };
    char seen[TK_ARRAY_LEN(differ)][17];
    for (int i = 0; i < TK_ARRAY_LEN(differ); i++) {
        hash_of(differ[i], seen[i]);
        if (!strcmp(seen[i], base)) printf("  %s hashes like the defaults (%s)\n", differ[i], base);
        CHECK(strcmp(seen[i], base) != 0);
        for (int j = 0; j < i; j++) CHECK(strcmp(seen[i], seen[j]) != 0);
    }
}

/* ---- bad input */

static void expect_spec_error(const char *json, const char *a, const char *b, const char *c) {
    tk_find_config cfg;
    tk_error err = {0};
    CHECK(tk_find_config_from_json(json, "spec.json", &cfg, &err) != 0);
    CHECK_CONTAINS(err.msg, "spec.json");
    CHECK_CONTAINS(err.msg, a);
    if (b) CHECK_CONTAINS(err.msg, b);
    if (c) CHECK_CONTAINS(err.msg, c);
}

#define TRAIN "\"train\": {\"model\": \"lenet_300_100\", \"dataset\": \"mnist\", \"length\": \"50it\"}"

/* Refused with exactly "spec.json: " + want. */
static void expect_spec_message(const char *json, const char *want) {
    tk_find_config cfg;
    tk_error err = {0};
    CHECK(tk_find_config_from_json(json, "spec.json", &cfg, &err) != 0);
    char full[4096];
    snprintf(full, sizeof full, "spec.json: %s", want);
    if (strcmp(err.msg, full)) printf("  expected: %s\n  got:      %s\n", full, err.msg);
    CHECK(!strcmp(err.msg, full));
}

static void test_spec_errors(void) {
    /* Unknown keys, with the path and the nearest valid key. */
    expect_spec_message("{" TRAIN ", \"prunning\": {}}", "unknown key 'prunning' (did you mean 'pruning'? valid: "
                        "train, pruning, rewind, controls, l1_penalty)");
    expect_spec_error("{" TRAIN ", \"rewnd\": \"0it\"}", "unknown key 'rewnd'", "did you mean 'rewind'", NULL);
    /* The keys of "pruning" are those every strategy reads and its own strategy's (tk_prune_strategies). */
    expect_spec_message("{" TRAIN ", \"pruning\": {\"rat\": 0.3}}", "unknown key 'pruning.rat' (did you mean 'rate'? "
                        "valid: strategy, rate, levels, exclude_output, exclude, densities)");
    expect_spec_message("{" TRAIN ", \"pruning\": {\"strategy\": \"layerwise\", \"rat\": 0.3}}",
                        "unknown key 'pruning.rat' (did you mean 'rate'? valid: strategy, rate, levels, exclude_output, "
                        "exclude, densities, rates)");
    expect_spec_message("{" TRAIN ", \"pruning\": {\"rates\": {\"conv\": 0.2}}}",
                        "key 'pruning.rates' is read by the layerwise strategy only; set \"strategy\": \"layerwise\" or "
                        "remove it");
    expect_spec_message("{" TRAIN ", \"pruning\": {\"strategy\": \"layerwise\", \"rates\": {\"lineer\": 0.2}}}",
                        "unknown key 'pruning.rates.lineer' (did you mean 'linear'? valid: conv, linear, output)");
    expect_spec_message("{" TRAIN ", \"pruning\": {\"strategy\": \"layerwyse\"}}",
                        "key 'pruning.strategy': unknown strategy 'layerwyse' (did you mean 'layerwise'? valid: global, "
                        "layerwise)");
    expect_spec_message("{\"train\": {\"model\": \"lenet_300_100\", \"dataset\": \"mnist\", \"widht\": 0.5}}",
                        "unknown key 'train.widht' (did you mean 'width'? "
                        "valid: model, width, dataset, optimizer, lr, momentum, nesterov, weight_decay, beta1, beta2, eps, schedule, milestones, gamma, warmup, batch, length, eval_every, checkpoint_every, val_size, seed, threads, l1, classes, subset_total, subset_per_class, input, augment_pad, augment_flip, kernels)");
    expect_spec_message("{" TRAIN ", \"controls\": [\"reinti\"]}",
                        "key 'controls[0]': unknown control 'reinti' (did you mean 'reinit'? valid: reinit, "
                        "random_mask, random_ticket, random_global, l1)");
    /* Wrong types. */
    expect_spec_message("{" TRAIN ", \"pruning\": {\"rate\": \"0.2\"}}", "key 'pruning.rate' must be a number, not \"0.2\"");
    expect_spec_message("{" TRAIN ", \"pruning\": {\"levels\": 2.5}}",
                        "key 'pruning.levels' must be a whole number in [0, 100], not 2.5");
    expect_spec_message("{" TRAIN ", \"pruning\": {\"exclude_output\": 1}}",
                        "key 'pruning.exclude_output' must be true or false, not 1");
    expect_spec_message("{" TRAIN ", \"pruning\": [0.2]}", "key 'pruning' must be an object, not an array");
    expect_spec_message("{" TRAIN ", \"pruning\": {\"densities\": 0.5}}",
                        "key 'pruning.densities' must be an array of at most 32 elements, not 0.5");
    expect_spec_message("{" TRAIN ", \"rewind\": 500}",
                        "key 'rewind' must be a duration such as \"20ep\", \"500it\" or \"2ep10it\", not 500");
    expect_spec_message("{" TRAIN ", \"controls\": \"reinit\"}",
                        "key 'controls' must be an array of control names, e.g. [\"reinit\", \"random_ticket\"], not "
                        "\"reinit\"");
    expect_spec_message("{" TRAIN ", \"l1_penalty\": -1}", "key 'l1_penalty' must be a positive number, not -1");
    expect_spec_message("{\"train\": {\"model\": \"lenet_300_100\", \"dataset\": \"mnist\", \"batch\": \"thirty\"}}",
                        "key 'train.batch' must be a whole number in [0, 1073741824], not \"thirty\"");
    expect_spec_message("{\"train\": 3}", "key 'train' must be an object, not 3");
    expect_spec_message("{\"train\": {\"model\": \"lenet_300_100\"}}",
                        "missing required key 'train.dataset' (the dataset the ticket is found on)");
    expect_spec_error("{" TRAIN ",", "not valid JSON", NULL, NULL);
    /* Rates outside (0, 1). */
    expect_spec_error("{" TRAIN ", \"pruning\": {\"rate\": 0}}", "pruning.rate 0 must be in (0, 1)", NULL, NULL);
    expect_spec_error("{" TRAIN ", \"pruning\": {\"rate\": 1}}", "pruning.rate 1 must be in (0, 1)", NULL, NULL);
    expect_spec_error("{" TRAIN ", \"pruning\": {\"rate\": 1.5}}", "pruning.rate 1.5 must be in (0, 1)", NULL, NULL);
    expect_spec_error("{" TRAIN ", \"pruning\": {\"rate\": -0.2}}", "pruning.rate -0.2 must be in (0, 1)", NULL, NULL);
    /* A rewind point past the length, when both are in epochs. */
    expect_spec_error("{\"train\": {\"model\": \"lenet_300_100\", \"dataset\": \"mnist\", \"length\": \"2ep\"},"
                      " \"rewind\": \"5ep\"}",
                      "rewind point 5ep is beyond the training length of 2ep", NULL, NULL);
}

/* A rewind point past the training length in iterations: the trainer names it. */
static void test_rewind_beyond_length(void) {
    const char *text = "{\"train\": {\"model\": \"lenet_300_100\", \"width\": 0.1, \"dataset\": \"mnist\","
                       " \"batch\": 30, \"length\": \"50it\", \"threads\": 1}, \"pruning\": {\"levels\": 1},"
                       " \"rewind\": \"1000it\"}";
    tk_find_config c = parse_spec(text);
    char *store = path_in(root, "beyond"), dir[1200];
    tk_error err = {0};
    CHECK(find(&c, store, dir, &err) != 0);
    CHECK_CONTAINS(err.msg, "rewind point 1000it (iteration 1000) is beyond the training length of 50 iterations");
    CHECK(n_reports == 0);
    /* In epochs against a length in iterations: 2ep = 40 iterations > 30. */
    c.train.length = (tk_duration){0, 30};
    c.rewind = (tk_duration){2, 0};
    CHECK(find(&c, store, dir, &err) != 0);
    CHECK_CONTAINS(err.msg, "rewind point 2ep (iteration 40)");
    free(store);
}

/* A run directory whose find.json does not hash to its name. */
static void test_renamed_run_dir(void) {
    char hash[17];
    tk_find_config c = parse_spec(spec_text), stored;
    tk_find_hash(&c, hash);
    char *copy = path_in(root, "store/0123456789abcdef"), *cmd;
    rm_rf(copy);
    if (asprintf(&cmd, "cp -r '%s' '%s'", run, copy) < 0) abort();
    CHECK(system(cmd) == 0);
    tk_error err = {0};
    CHECK(tk_find_open(run, &stored, &err) == 0); /* the original opens */
    CHECK(tk_find_open(copy, &stored, &err) != 0);
    CHECK_CONTAINS(err.msg, "0123456789abcdef/find.json");
    CHECK_CONTAINS(err.msg, hash);
    CHECK_CONTAINS(err.msg, "not the directory's name 0123456789abcdef");

    /* Rerunning into a directory named by the hash that holds another
     * configuration's find.json (the same run at rate 0.3). */
    char *store = path_in(root, "mismatch"), *dir = path_in(store, hash), *find_json = path_in(dir, "find.json");
    tk_find_config two = c;
    two.prune.rate = 0.3f;
    char other[17], *text = tk_find_canonical_json(&two);
    tk_find_hash(&two, other);
    rm_rf(store);
    CHECK(tk_mkdirs(dir, &err) == 0);
    write_file(find_json, text, strlen(text));
    char got[1200];
    CHECK(find(&c, store, got, &err) != 0);
    CHECK_CONTAINS(err.msg, other);
    CHECK_CONTAINS(err.msg, hash);
    char *l0 = path_in(dir, "level_00");
    CHECK(!exists(l0)); /* nothing trained into the wrong directory */
    free(l0), free(text), free(cmd), free(copy), free(store), free(dir), free(find_json);
}

/* The same refusals through `ticket find`: non-zero exit and the message. */
static void expect_cli(const char *spec_json, const char *args, int want_status, const char *a, const char *b) {
    char *spec = path_in(root, "cli.json"), *cmd;
    if (spec_json) write_file(spec, spec_json, strlen(spec_json));
    if (asprintf(&cmd, "find %s%s%s --root '%s/cli-store' --quiet %s", spec_json ? "'" : "", spec_json ? spec : "",
                 spec_json ? "'" : "", root, args ? args : "") < 0)
        abort();
    CHECK_TICKET(".", "", cmd, want_status, a, b);
    free(cmd), free(spec);
}

static void test_cli_errors(void) {
    const char *bin = ticket_bin();
    CHECK(bin != NULL);
    if (!bin) return;
    expect_cli("{" TRAIN ", \"pruning\": {\"rat\": 0.3}}", NULL, 2, "unknown key 'pruning.rat'", "did you mean 'rate'");
    expect_cli("{" TRAIN ", \"prunning\": {}}", NULL, 2, "cli.json", "did you mean 'pruning'");
    expect_cli("{" TRAIN ", \"pruning\": {\"levels\": \"3\"}}", NULL, 2, "key 'pruning.levels' must be a whole number in [0, 100], not \"3\"", NULL);
    expect_cli("{" TRAIN ", \"pruning\": {\"rate\": 1.5}}", NULL, 2, "must be in (0, 1)", NULL);
    expect_cli(NULL, "--model lenet_300_100 --dataset mnist --rate 0", 2, "must be in (0, 1)", NULL);
    expect_cli("{\"train\": {\"model\": \"lenet_300_100\", \"width\": 0.1, \"dataset\": \"mnist\", \"batch\": 30,"
               " \"length\": \"50it\", \"threads\": 1}, \"pruning\": {\"levels\": 1}, \"rewind\": \"1000it\"}",
               NULL, 2, "rewind point 1000it", "beyond the training length of 50 iterations");
    /* The mismatched directory of test_renamed_run_dir, through the CLI. */
    char hash[17];
    tk_find_config c = parse_spec(spec_text);
    tk_find_hash(&c, hash);
    char *args;
    if (asprintf(&args, "--root '%s/mismatch'", root) < 0) abort();
    expect_cli(spec_text, args, 2, hash, "not the directory's name");
    free(args);
    expect_cli(NULL, "--model lenet_300_100", 2, "--dataset", NULL);
    char *missing;
    if (asprintf(&missing, "find '%s/no-such-spec.json'", root) < 0) abort();
    CHECK_TICKET(".", "", missing, 2, "no-such-spec.json");
    free(missing);
}

int main(void) {
    root = test_tmpdir("find");
    write_idx_dataset(root, 600, 200, 8, 8, 10, 7);
    setenv("TICKET_DATA", root, 1);
    RUN(test_sigkill_in_round_3); /* first: it forks, best before BLAS threads exist */
    RUN(test_run_layout);
    RUN(test_masks_and_sparsity);
    RUN(test_rewind_restores_stored_weights);
    RUN(test_controls);
    RUN(test_rerun_skips_everything);
    RUN(test_more_levels_extend_run);
    RUN(test_pinned_hashes);
    RUN(test_spec_errors);
    RUN(test_rewind_beyond_length);
    RUN(test_renamed_run_dir);
    RUN(test_cli_errors);
    rm_rf(root);
    free(root);
    CHECK_MAIN_END();
}
