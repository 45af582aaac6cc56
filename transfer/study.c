/* study.c - a transfer study as a job graph: find jobs (one per side, seed
 * and level; sides with the same configuration share them through the run
 * store's hash; a target's levels train the native controls too) and
 * transfer jobs (one per source, target, seed, level and ticket or
 * control). The scheduler runs the graph; the report collects the rows.
 *
 * Layout of the study directory OUT:
 *   OUT/runs/<hash>/...                       find runs and native controls (tk_find.h)
 *   OUT/transfer/<source>/<target>/s<seed>/level_LL/<ticket|control>/
 *   OUT/report/                               tables, report.md, figures
 * Randomness of a transfer job: the target run's own seed streams, plus
 * streams of the seed for what the transfer draws: the head mask from
 * TK_STREAM_COUNT + TK_TRANSFER_HEAD_STREAM(level), and a control's mask and
 * fresh weights from TK_STREAM_COUNT + its two transfer streams
 * (tk_control_stream). Levels are at most 100, so no two of these meet. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tk_backend.h"
#include "tk_catalog.h"
#include "tk_claim.h"
#include "tk_file.h"
#include "tk_scheduler.h"
#include "tk_study.h"

typedef enum job_kind { JOB_FIND, JOB_TRANSFER } job_kind;
enum { TICKET = -1 }; /* a transfer job's `control` when it trains the ticket itself */

typedef struct job {
    job_kind kind;
    const tk_study_side *side, *target; /* find: side; transfer: side = source */
    uint64_t seed;
    int level;
    int control;                         /* transfer: TICKET or a tk_control */
    bool controls[TK_CONTROL_COUNT];     /* find: the native controls trained with the level */
    char hash[17];                       /* find run of `side` */
    int dep;                             /* -1: none */
    char dir[1024];                      /* where its results land */
    double cost;
} job;

typedef struct study_graph {
    const tk_study *s;
    const char *out;
    job *jobs;
    int n, cap;
    double seconds_per_sample;
} study_graph;

static tk_find_config find_config(const tk_study *s, const tk_study_side *side, uint64_t seed, int levels) {
    tk_find_config c = {.train = side->train, .prune = s->prune, .levels = levels, .rewind = s->rewind,
                        .l1_penalty = TK_DEFAULT_L1_PENALTY};
    c.train.seed = seed;
    return c;
}

static job *add_job(study_graph *g) {
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->jobs = tk_realloc(g->jobs, (size_t)g->cap * sizeof(job));
    }
    job *j = &g->jobs[g->n++];
    memset(j, 0, sizeof *j);
    j->dep = -1;
    return j;
}

static int find_job(const study_graph *g, const char *hash, int level) {
    for (int i = 0; i < g->n; i++)
        if (g->jobs[i].kind == JOB_FIND && !strcmp(g->jobs[i].hash, hash) && g->jobs[i].level == level) return i;
    return -1;
}

static const char *control_name(int control) { return control == TICKET ? "ticket" : tk_controls[control].name; }

/* Level jobs of one side and seed, each after the previous level. A target's
 * levels after 0 train the native controls too; a side that is also a
 * source shares its chain (one hash) and gets them all the same. */
static void add_find_chain(study_graph *g, const tk_study_side *side, uint64_t seed, bool target) {
    tk_find_config c = find_config(g->s, side, seed, g->s->levels);
    char hash[17];
    tk_find_hash(&c, hash);
    for (int level = 0; level <= g->s->levels; level++) {
        int i = find_job(g, hash, level);
        job *j = i >= 0 ? &g->jobs[i] : add_job(g);
        if (i < 0) {
            j->kind = JOB_FIND, j->side = side, j->seed = seed, j->level = level;
            memcpy(j->hash, hash, sizeof hash);
            j->dep = level ? find_job(g, hash, level - 1) : -1;
            snprintf(j->dir, sizeof j->dir, "%s/runs/%s/level_%02d", g->out, hash, level);
        }
        for (int k = 0; target && level > 0 && k < TK_CONTROL_COUNT; k++) j->controls[k] |= g->s->controls[k];
    }
}

static bool transfers_level(const tk_study *s, int level) {
    if (!s->n_transfer_levels) return true;
    for (int i = 0; i < s->n_transfer_levels; i++)
        if (s->transfer_levels[i] == level) return true;
    return false;
}

static void build_graph(study_graph *g) {
    const tk_study *s = g->s;
    for (int k = 0; k < s->n_seeds; k++) {
        for (int i = 0; i < s->n_sources; i++) add_find_chain(g, &s->sources[i], s->seeds[k], false);
        for (int i = 0; i < s->n_targets; i++) add_find_chain(g, &s->targets[i], s->seeds[k], true);
    }
    for (int k = 0; k < s->n_seeds; k++)
        for (int i = 0; i < s->n_sources; i++) {
            tk_find_config sc = find_config(s, &s->sources[i], s->seeds[k], s->levels);
            char src_hash[17], tgt_hash[17];
            tk_find_hash(&sc, src_hash);
            for (int t = 0; t < s->n_targets; t++) {
                tk_find_config tc = find_config(s, &s->targets[t], s->seeds[k], s->levels);
                tk_find_hash(&tc, tgt_hash);
                if (!strcmp(src_hash, tgt_hash)) continue; /* the native ticket: already found */
                for (int level = 0; level <= s->levels; level++) {
                    if (!transfers_level(s, level)) continue;
                    for (int control = TICKET; control < TK_CONTROL_COUNT; control++) {
                        if (control != TICKET &&
                            (!level || !s->controls[control] || tk_controls[control].native_only))
                            continue;
                        job *j = add_job(g);
                        j->kind = JOB_TRANSFER, j->side = &s->sources[i], j->target = &s->targets[t];
                        j->seed = s->seeds[k], j->level = level, j->control = control;
                        memcpy(j->hash, src_hash, sizeof src_hash);
                        j->dep = find_job(g, src_hash, level);
                        snprintf(j->dir, sizeof j->dir, "%s/transfer/%s/%s/s%llu/level_%02d/%s", g->out,
                                 s->sources[i].name, s->targets[t].name, (unsigned long long)j->seed, level,
                                 control_name(control));
                    }
                }
            }
        }
}

/* ---- job bodies */

typedef struct transfer_ctx {
    const study_graph *g;
    const job *j;
    char ticket[1200];
} transfer_ctx;

static void study_rng(uint64_t seed, uint64_t stream, tk_rng *rng) {
    tk_rng_seed(rng, seed, TK_STREAM_COUNT + stream);
}

/* A control's mask (which = 0) and fresh-weight (1) streams; see the top. */
static void control_rng(uint64_t seed, int level, int control, int which, tk_rng *rng) {
    study_rng(seed, tk_control_stream(&tk_controls[control], TK_CONTROL_IN_TRANSFER, level, which), rng);
}

static int transfer_prepare(tk_model *m, void *ctx, tk_error *err) {
    const transfer_ctx *t = ctx;
    const job *j = t->j;
    tk_rng head_rng, mask_rng, init_rng;
    study_rng(j->seed, TK_TRANSFER_HEAD_STREAM(j->level), &head_rng);
    if (tk_transfer_apply(m, j->target->train.width, t->ticket, t->g->s->head, &head_rng, err)) return -1;
    if (j->control == TICKET) return 0;
    char rewind[1200];
    snprintf(rewind, sizeof rewind, "%s/runs/%s/level_00/rewind", t->g->out, j->hash);
    control_rng(j->seed, j->level, j->control, 0, &mask_rng);
    control_rng(j->seed, j->level, j->control, 1, &init_rng);
    return tk_transfer_control(m, j->target->train.width, (tk_control)j->control, &t->g->s->prune, rewind, &mask_rng,
                               &init_rng, err);
}

/* `threads` is the scheduler's share; runs use their configuration's thread
 * count, which is part of what makes them reproducible (set "threads" in
 * the study's train keys to match the workers). */
static int train_job(const study_graph *g, const job *j, tk_error *err) {
    if (j->kind == JOB_FIND) {
        tk_find_config c = find_config(g->s, j->side, j->seed, j->level);
        memcpy(c.controls, j->controls, sizeof c.controls);
        char root[1100];
        snprintf(root, sizeof root, "%s/runs", g->out);
        return tk_find_run(&c, root, TK_PROGRESS_NONE, NULL, NULL, NULL, 0, err);
    }
    transfer_ctx t = {.g = g, .j = j};
    snprintf(t.ticket, sizeof t.ticket, "%s/runs/%s/level_%02d/ticket", g->out, j->hash, j->level);
    tk_train_config cfg = j->target->train;
    cfg.seed = j->seed;
    tk_train_start start = {.prepare = transfer_prepare, .ctx = &t};
    tk_train_result r;
    if (tk_train_run_from(&cfg, j->dir, &start, TK_PROGRESS_NONE, &r, err)) return tk_fail_prefix(err, "%s: ", j->dir);
    return 0;
}

static bool done(void *ctx, int i);
static const char *label(void *ctx, int i, char *buf, size_t cap);

/* OUT/claims/NAME, NAME the job's folder below OUT with '/' as '.': where
 * the worker training the job says so (tk_claim.h), and NAME.failed the
 * last failure's message, for `ticket study status`. */
static void claim_path(const study_graph *g, const job *j, char *path, size_t cap) {
    size_t skip = strlen(g->out) + 1;
    int len = snprintf(path, cap, "%s/claims/%s", g->out, j->dir + skip);
    for (char *c = path + strlen(g->out) + strlen("/claims/"); len > 0 && *c; c++)
        if (*c == '/') *c = '.';
}

typedef struct job_ref {
    study_graph *g;
    int index;
} job_ref;

static bool ref_done(void *ctx) {
    const job_ref *r = ctx;
    return done(r->g, r->index);
}

/* Trains a job under its claim, so that workers of several processes or
 * machines sharing OUT never train the same job: one that finds the job
 * claimed waits for it, and does nothing once it is done. */
static int run_job(void *ctx, int index, int threads, tk_error *err) {
    (void)threads;
    study_graph *g = ctx;
    const job *j = &g->jobs[index];
    char claim[1400], failed[1450], name[256], what[300];
    claim_path(g, j, claim, sizeof claim);
    snprintf(failed, sizeof failed, "%s.failed", claim);
    snprintf(what, sizeof what, "job %d (%s)", index, label(g, index, name, sizeof name));
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/claims", g->out);
    job_ref ref = {g, index};
    tk_claim *c = NULL;
    int got = tk_mkdirs(dir, err) ? -1 : tk_claim_acquire(claim, what, ref_done, &ref, &c, err);
    if (got) return got < 0 ? -1 : 0;
    int rc = done(g, index) ? 0 : train_job(g, j, err);
    char said[sizeof err->msg + 1];
    if (rc == 0) unlink(failed);
    else tk_file_write_atomic(failed, said, (size_t)snprintf(said, sizeof said, "%s\n", err->msg), NULL);
    tk_claim_release(c);
    return rc;
}

static int n_deps(void *ctx, int i) { return ((study_graph *)ctx)->jobs[i].dep >= 0; }
static int dep(void *ctx, int i, int k) {
    (void)k;
    return ((study_graph *)ctx)->jobs[i].dep;
}

/* A find level is done once its ticket is written too (after training, for
 * level 0, whose rewind snapshot training makes) and its native controls
 * have trained (after the ticket), so that an interrupted study resumes them. */
static bool done(void *ctx, int i) {
    const job *j = &((study_graph *)ctx)->jobs[i];
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.json", j->dir);
    if (!tk_file_exists(path)) return false;
    if (j->kind != JOB_FIND) return true;
    snprintf(path, sizeof path, "%s/ticket", j->dir);
    bool all = tk_file_exists(path);
    for (int k = 0; all && k < TK_CONTROL_COUNT; k++) {
        snprintf(path, sizeof path, "%s/%s/summary.json", j->dir, tk_controls[k].name);
        all = !j->controls[k] || tk_file_exists(path);
    }
    return all;
}

/* Training runs of a job: a find level's ticket, its native controls, and
 * at level 1 the dense L1-penalised run the l1 control prunes at every level. */
static int job_runs(const job *j) {
    int n = 1;
    for (int k = 0; j->kind == JOB_FIND && k < TK_CONTROL_COUNT; k++) n += j->controls[k];
    return n + (j->kind == JOB_FIND && j->level == 1 && j->controls[TK_CONTROL_L1]); /* its l1_dense run */
}

static double cost(void *ctx, int i) { return ((study_graph *)ctx)->jobs[i].cost; }

static const char *label(void *ctx, int i, char *buf, size_t cap) {
    const job *j = &((study_graph *)ctx)->jobs[i];
    if (j->kind == JOB_FIND) {
        snprintf(buf, cap, "find %s seed %llu level %d", j->side->name, (unsigned long long)j->seed, j->level);
        const char *sep = " + ";
        for (int k = 0; k < TK_CONTROL_COUNT; k++) {
            if (!j->controls[k]) continue;
            size_t len = strlen(buf);
            snprintf(buf + len, cap - len, "%s%s", sep, tk_controls[k].name);
            sep = ",";
        }
    } else {
        snprintf(buf, cap, "transfer %s -> %s seed %llu level %d %s", j->side->name, j->target->name,
                 (unsigned long long)j->seed, j->level, control_name(j->control));
    }
    return buf;
}

/* The model a side trains and its training examples per epoch: from the
 * data when present, else from the catalog's shapes and split sizes, so that
 * a study can be planned on a machine that lacks its data. */
static tk_model *side_model(const tk_train_config *c, int *examples, tk_error *err) {
    tk_dataset d;
    tk_model *m = NULL;
    int n = -1, classes = 0;
    if (tk_dataset_open(c->dataset, TK_SPLIT_TRAIN, &d, NULL) == 0) {
        n = d.n, classes = d.classes;
        tk_dataset_free(&d);
        m = tk_train_create_model(c, err);
    } else {
        const tk_catalog *cat = tk_catalog_default(err);
        const tk_catalog_entry *e = cat ? tk_catalog_lookup(cat, c->dataset) : NULL;
        if (!e || e->C == 0) {
            if (cat) tk_fail(err, "dataset %s is neither present nor a catalog entry with a fixed image shape", c->dataset);
            return NULL;
        }
        n = e->split_n[TK_SPLIT_TRAIN], classes = e->classes;
        tk_model_config mc = {.name = c->model, .width = c->width, .classes = c->n_classes ? c->n_classes : classes,
                              .input = c->input.C ? c->input : (tk_shape){e->C, e->H, e->W}};
        m = tk_model_create(&mc, err);
    }
    if (c->n_classes && classes) n = n / classes * c->n_classes; /* a class subset: its share, as an estimate */
    *examples = (c->subset_total ? c->subset_total : c->subset_per_class ? c->subset_per_class * classes : n) -
                c->val_size;
    return m;
}

/* Seconds per training sample of a model, measured briefly (ticket bench's step). */
static double seconds_per_sample(tk_model *m, int B) {
    tk_model_set_batch(m, B);
    size_t in = (size_t)m->input.C * (size_t)m->input.H * (size_t)m->input.W;
    float *x = tk_alloc_aligned((size_t)B * in * sizeof(float));
    double t0 = tk_now();
    int steps = 0;
    while (steps < 3 || (tk_now() - t0 < 0.5 && steps < 50)) {
        tk_model_forward(m, x, B, true, NULL);
        memset(tk_model_output_grad(m), 0, (size_t)B * (size_t)m->classes * sizeof(float));
        tk_model_backward(m, B);
        steps++;
    }
    free(x);
    return (tk_now() - t0) / steps / B;
}

/* Estimated seconds of each job: its samples times the measured step time,
 * plus a margin for evaluation and data handling. Each side is measured once. */
static int estimate(study_graph *g, tk_error *err) {
    const tk_study_side *seen[2 * TK_STUDY_MAX_SIDES];
    int examples[2 * TK_STUDY_MAX_SIDES], n_seen = 0;
    double per_sample[2 * TK_STUDY_MAX_SIDES];
    for (int i = 0; i < g->n; i++) {
        job *j = &g->jobs[i];
        const tk_study_side *side = j->kind == JOB_FIND ? j->side : j->target;
        int k = 0;
        while (k < n_seen && seen[k] != side) k++;
        if (k == n_seen) {
            tk_model *m = side_model(&side->train, &examples[k], err);
            if (!m) return tk_fail_prefix(err, "%s: ", side->name);
            per_sample[k] = seconds_per_sample(m, side->train.batch);
            tk_model_free(m);
            seen[n_seen++] = side;
        }
        const tk_train_config *c = &side->train;
        int64_t iterations = tk_duration_iters(c->length, examples[k] / c->batch);
        j->cost = (double)job_runs(j) * (double)iterations * c->batch * per_sample[k] * 1.15;
    }
    return 0;
}

/* Every side's data decoded once, here, for the jobs forked after. A side
 * whose data is missing is left to its jobs, which report it (a finished
 * study can still be reported without its data). */
static void load_datasets_once(const tk_study *s) {
    tk_dataset_keep_loaded();
    for (int i = 0; i < s->n_sources + s->n_targets; i++) {
        const tk_study_side *side = i < s->n_sources ? &s->sources[i] : &s->targets[i - s->n_sources];
        for (int split = TK_SPLIT_TRAIN; split <= TK_SPLIT_TEST; split++) {
            tk_dataset d;
            if (tk_dataset_open(side->train.dataset, (tk_split)split, &d, NULL) == 0) tk_dataset_free(&d);
        }
    }
}

static tk_job_graph job_graph(study_graph *g) {
    return (tk_job_graph){.n_jobs = g->n, .ctx = g, .n_deps = n_deps, .dep = dep, .done = done, .cost = cost,
                          .label = label, .run = run_job};
}

static int print_plan(study_graph *g, int workers, tk_error *err) {
    tk_job_graph jg = job_graph(g);
    tk_schedule_estimate e;
    if (tk_scheduler_estimate(&jg, workers, &e, err)) return -1;
    int finds = 0, controls = 0, transfers = 0;
    for (int i = 0; i < g->n; i++) {
        char buf[256];
        finds += g->jobs[i].kind == JOB_FIND;
        controls += g->jobs[i].kind == JOB_FIND ? job_runs(&g->jobs[i]) - 1 : 0;
        transfers += g->jobs[i].kind == JOB_TRANSFER;
        printf("%4d  %-70s  after %4d  ~%5.0fs%s\n", i, label(g, i, buf, sizeof buf), g->jobs[i].dep,
               g->jobs[i].cost, done(g, i) ? "  (done)" : "");
    }
    double minutes = e.wall_s / 60;
    printf("%d jobs (%d find levels with %d native control runs, %d transfers), %d done; about %.0f minutes",
           g->n, finds, controls, transfers, g->n - e.to_run, minutes);
    if (minutes > 2 * 24 * 60) printf(" (%.0f days)", minutes / (24 * 60));
    printf(" of training left on %d worker%s (%.0f minutes of work)\n", workers, workers > 1 ? "s" : "",
           e.work_s / 60);
    return 0;
}

int tk_study_run(const tk_study *s, const tk_study_run_options *o, tk_error *err) {
    if (tk_mkdirs(o->out, err)) return -1;
    char claims[1100];
    snprintf(claims, sizeof claims, "%s/claims", o->out);
    if (!o->plan_only) tk_claim_clear_stale(claims);
    study_graph g = {.s = s, .out = o->out};
    build_graph(&g);
    /* Before estimate, which reads the train splits too; not for a backend
     * that queues the jobs to run elsewhere. */
    const tk_backend *backend = o->backend ? o->backend : &tk_backends[TK_BACKEND_LOCAL];
    if (!o->plan_only && !backend->queued) load_datasets_once(s);
    /* The costs order the jobs of a backend that follows the graph itself;
     * a queueing backend's tasks are ordered by their dependencies alone. */
    int rc = !o->plan_only && backend->queued ? 0 : estimate(&g, err);
    tk_backend_options bo = {.workers = o->workers ? o->workers : s->workers, .threads = o->threads ? o->threads : 2,
                             .progress_tty = o->progress_tty, .study_dir = o->out, .spec = o->spec,
                             .study_name = s->name, .dry_run = o->dry_run, .slurm = o->slurm};
    if (rc == 0 && o->plan_only) {
        rc = print_plan(&g, bo.workers, err);
    } else if (rc == 0) {
        tk_job_graph jg = job_graph(&g);
        rc = backend->run(&jg, &bo, err);
        if (rc == 0 && !o->dry_run) rc = tk_study_report(s, o->out, err);
    }
    free(g.jobs);
    return rc;
}

int tk_study_job(const tk_study *s, const char *out, int index, int threads, bool *was_done, tk_error *err) {
    study_graph g = {.s = s, .out = out};
    build_graph(&g);
    char buf[256], dep_buf[256];
    int rc = 0;
    *was_done = false;
    if (index < 0 || index >= g.n) {
        rc = tk_fail(err, "job %d: the study %s has %d jobs, 0 to %d (`ticket study plan` lists them)", index,
                     s->name, g.n, g.n - 1);
    } else if (done(&g, index)) {
        *was_done = true;
    } else if (g.jobs[index].dep >= 0 && !done(&g, g.jobs[index].dep)) {
        int d = g.jobs[index].dep;
        rc = tk_fail(err, "job %d (%s) waits for job %d (%s), which is not done in %s: run that job first, or "
                     "`ticket study run`", index, label(&g, index, buf, sizeof buf), d,
                     label(&g, d, dep_buf, sizeof dep_buf), out);
    } else if ((rc = tk_mkdirs(out, err)) == 0 && (rc = run_job(&g, index, threads, err)) == 0 && !done(&g, index)) {
        rc = tk_fail_system(err, "job %d (%s) ran but its results are not in %s", index,
                            label(&g, index, buf, sizeof buf), g.jobs[index].dir);
    }
    free(g.jobs);
    return rc;
}

/* ---- status */

int tk_study_status(const tk_study *s, const char *out, tk_error *err) {
    study_graph g = {.s = s, .out = out};
    build_graph(&g);
    tk_queue_state *queue = tk_calloc((size_t)g.n + 1, sizeof *queue);
    for (int b = 0; b < TK_BACKEND_COUNT; b++)
        if (tk_backends[b].queued) tk_backends[b].queued(out, g.n, queue);
    enum { DONE, RUNNING, QUEUED, FAILED, WAITING, STATES };
    static const char *const names[STATES] = {"done", "running", "queued", "failed", "waiting"};
    int (*count)[STATES] = tk_calloc((size_t)s->levels + 1, sizeof *count), total[STATES] = {0};
    char failed_line[1600] = "";
    for (int i = 0; i < g.n; i++) {
        const job *j = &g.jobs[i];
        char claim[1400], failed[1450];
        claim_path(&g, j, claim, sizeof claim);
        snprintf(failed, sizeof failed, "%s.failed", claim);
        tk_claim_holder h;
        bool claimed = tk_claim_holder_of(claim, &h);
        /* A stale claim is a worker that died in the job: failed too. */
        int state = done(&g, i)                                         ? DONE
                    : claimed && !h.stale                                ? RUNNING
                    : queue[i] == TK_QUEUE_RUNNING                       ? RUNNING
                    : queue[i] == TK_QUEUE_PENDING                       ? QUEUED
                    : tk_file_exists(failed) || claimed                  ? FAILED
                                                                         : WAITING;
        count[j->level][state]++, total[state]++;
        if (state == FAILED && !failed_line[0]) {
            uint8_t *text;
            size_t n;
            char name[256];
            if (tk_file_read_all(failed, &text, &n, NULL) == 0) {
                snprintf(failed_line, sizeof failed_line, "job %d (%s) failed: %s", i,
                         label(&g, i, name, sizeof name), (const char *)text);
                free(text);
            } else {
                snprintf(failed_line, sizeof failed_line, "job %d (%s): its worker, %s pid %ld, died in it (its "
                         "claim is stale)\n", i, label(&g, i, name, sizeof name), h.host, h.pid);
            }
        }
    }
    printf("study %s in %s: %d of %d jobs done\n\nlevel", s->name, out, total[DONE], g.n);
    for (int k = 0; k < STATES; k++) printf(" %8s", names[k]);
    for (int level = 0; level <= s->levels; level++) {
        printf("\n%5d", level);
        for (int k = 0; k < STATES; k++) printf(" %8d", count[level][k]);
    }
    printf("\n");
    if (failed_line[0]) printf("\n%s", failed_line);
    if (total[FAILED]) printf("%d failed; `ticket study run` again runs them again\n", total[FAILED]);
    free(count), free(queue), free(g.jobs);
    (void)err;
    return 0;
}

/* ---- collection */

static double sparsity_density(const char *level_dir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/sparsity.json", level_dir);
    uint8_t *data;
    size_t n;
    double density = -1;
    if (tk_file_read_all(path, &data, &n, NULL)) return density;
    cJSON *o = cJSON_Parse((const char *)data);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "density");
    if (cJSON_IsNumber(d)) density = d->valuedouble;
    cJSON_Delete(o);
    free(data);
    return density;
}

/* A finished run's row; false when the run has not finished. */
static bool add_row(tk_result_row *rows, int *n, const char *dir, const tk_study *s, const tk_study_side *target,
                    const tk_study_side *source, const char *control, bool native, int level, double density,
                    uint64_t seed, int *rc, tk_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    tk_train_result r;
    if (!tk_file_exists(path)) return false;
    /* A summary that is there but cannot be read is damaged, not unfinished:
     * the job counts as done, so a silent skip would lose its row for good. */
    if (tk_train_read_summary(path, &r, *rc ? NULL : err)) {
        *rc = -1;
        return false;
    }
    tk_result_row *row = &rows[(*n)++];
    memset(row, 0, sizeof *row);
    snprintf(row->study, sizeof row->study, "%s", s->name);
    snprintf(row->model, sizeof row->model, "%s", target->train.model);
    snprintf(row->target, sizeof row->target, "%s", target->name);
    snprintf(row->target_optimizer, sizeof row->target_optimizer, "%s", tk_optim_names[target->train.optim.kind]);
    snprintf(row->source, sizeof row->source, "%s", source->name);
    snprintf(row->source_optimizer, sizeof row->source_optimizer, "%s", tk_optim_names[source->train.optim.kind]);
    snprintf(row->control, sizeof row->control, "%s", control);
    snprintf(row->run_dir, sizeof row->run_dir, "%s", dir);
    row->native = native, row->level = level, row->density = density, row->seed = seed;
    row->final_accuracy = r.final_accuracy, row->best_accuracy = r.best_accuracy;
    row->best_iteration = r.best_iteration;
    return true;
}

int tk_study_report(const tk_study *s, const char *out, tk_error *err) {
    study_graph g = {.s = s, .out = out};
    build_graph(&g);
    int cap = g.n + s->n_targets * s->n_seeds * (s->levels + 1) * (TK_CONTROL_COUNT + 1) + 1;
    tk_result_row *rows = tk_calloc((size_t)cap, sizeof *rows);
    tk_mask_ref *masks = tk_calloc((size_t)(s->n_sources * s->n_seeds * (s->levels + 1) + 1), sizeof *masks);
    int n_rows = 0, n_masks = 0, rc = 0;
    char dir[1200];
    for (int k = 0; k < s->n_seeds; k++) {
        for (int t = 0; t < s->n_targets; t++) { /* the native tickets, their controls and the dense networks */
            tk_find_config c = find_config(s, &s->targets[t], s->seeds[k], s->levels);
            char hash[17];
            tk_find_hash(&c, hash);
            for (int level = 0; level <= s->levels; level++) {
                snprintf(dir, sizeof dir, "%s/runs/%s/level_%02d", out, hash, level);
                /* Every control keeps the ticket's kept count, so its density. */
                double density = sparsity_density(dir);
                add_row(rows, &n_rows, dir, s, &s->targets[t], &s->targets[t], level ? "ticket" : "dense", true,
                        level, density, s->seeds[k], &rc, err);
                for (int control = 0; level > 0 && control < TK_CONTROL_COUNT; control++) {
                    char control_dir[1300];
                    snprintf(control_dir, sizeof control_dir, "%s/%s", dir, tk_controls[control].name);
                    if (s->controls[control])
                        add_row(rows, &n_rows, control_dir, s, &s->targets[t], &s->targets[t],
                                tk_controls[control].name, true, level, density, s->seeds[k], &rc, err);
                }
            }
        }
        for (int i = 0; i < s->n_sources; i++) { /* the source tickets' masks */
            tk_find_config c = find_config(s, &s->sources[i], s->seeds[k], s->levels);
            char hash[17];
            tk_find_hash(&c, hash);
            for (int level = 1; level <= s->levels; level++) {
                tk_mask_ref *m = &masks[n_masks];
                snprintf(m->mask_path, sizeof m->mask_path, "%s/runs/%s/level_%02d/mask", out, hash, level);
                snprintf(m->sparsity_path, sizeof m->sparsity_path, "%s/runs/%s/level_%02d/sparsity.json", out, hash,
                         level);
                if (!tk_file_exists(m->mask_path) || !tk_file_exists(m->sparsity_path)) continue;
                snprintf(m->source, sizeof m->source, "%s", s->sources[i].name);
                snprintf(m->source_optimizer, sizeof m->source_optimizer, "%s",
                         tk_optim_names[s->sources[i].train.optim.kind]);
                m->seed = s->seeds[k], m->level = level;
                n_masks++;
            }
        }
    }
    for (int i = 0; i < g.n; i++) {
        const job *j = &g.jobs[i];
        if (j->kind != JOB_TRANSFER) continue;
        snprintf(dir, sizeof dir, "%s/runs/%s/level_%02d", out, j->hash, j->level);
        add_row(rows, &n_rows, j->dir, s, j->target, j->side, control_name(j->control), false, j->level,
                sparsity_density(dir), j->seed, &rc, err);
    }
    tk_report_input in = {.title = s->name, .rows = rows, .n_rows = n_rows, .masks = masks, .n_masks = n_masks,
                          .matrix_densities = s->matrix_densities, .n_matrix_densities = s->n_matrix_densities};
    snprintf(dir, sizeof dir, "%s/report", out);
    if (rc == 0) rc = tk_report_write(&in, dir, err);
    free(rows);
    free(masks);
    free(g.jobs);
    return rc;
}
