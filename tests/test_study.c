/* test_study.c - transfer studies: a tiny study run end to end through the
 * executable (tables, counts, figures), the transfer of a ticket checked
 * against the source ticket byte for byte, a study killed mid-way and rerun,
 * and the validation of study specifications.
 *
 * The study: lenet_300_100 at width 0.1 on 8x8 synthetic data, sources
 * "four" (4 classes, Adam) and "six" (6 classes, Adam), targets "four" (the
 * same configuration as the source, so its transfer is the native ticket)
 * and "six-sgd" (the six-class data with SGD: transfer across datasets and
 * across optimizers), 2 levels at rate 0.5, 2 seeds, the random ticket
 * (beside native and transferred tickets).
 *
 * A second study trains every control: source "six", targets "six" (the
 * same side as the source: one find chain for both) and "four". */
#define _GNU_SOURCE /* setenv, nftw, prctl */
#include "check.h"
#include "tk_build_mpi.h"
#include "tk_checkpoint.h"
#include "tk_file.h"
#include "tk_find.h"
#include "tk_provenance.h"
#include "tk_study.h"
#include "tk_ticket.h"

#include <cblas.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DATA4 "synthetic:1,8,8,4,240,80,1"
#define DATA6 "synthetic:1,8,8,6,240,80,2"
#define WIDTH 0.1f

typedef struct side {
    const char *name, *dataset, *optimizer, *lr;
} side;

static const side sources[] = {{"four", DATA4, "adam", "0.01"}, {"six", DATA6, "adam", "0.01"}};
static const side targets[] = {{"four", DATA4, "adam", "0.01"}, {"six-sgd", DATA6, "sgd", "0.05"}};
enum { N_SOURCES = 2, N_TARGETS = 2, LEVELS = 2, N_SEEDS = 2 };
static const int seeds[N_SEEDS] = {0, 1};

/* The study of every control: "six" is a source and a target. */
static const side ctl_sources[] = {{"six", DATA6, "adam", "0.01"}};
static const side ctl_targets[] = {{"six", DATA6, "adam", "0.01"}, {"four", DATA4, "adam", "0.01"}};
enum { CTL_SEED = 3 };
static const int ctl_seeds[] = {CTL_SEED};

/* What differs between the two studies. */
typedef struct study_spec {
    const char *name, *head;
    const side *sources, *targets;
    int n_sources, n_targets, levels;
    const int *seeds;
    int n_seeds;
    const char *const *controls;
    int n_controls;
} study_spec;

static const char *const random_ticket_only[] = {"random_ticket"};
static const study_spec tiny = {"tiny", "reinit_dense", sources, targets, N_SOURCES, N_TARGETS, LEVELS,
                                seeds, N_SEEDS, random_ticket_only, 1};
static const char *const all_controls[] = {"reinit", "random_mask", "random_ticket", "random_global", "l1"};
_Static_assert(sizeof all_controls / sizeof all_controls[0] == TK_CONTROL_COUNT, "every control, by name");
/* The head keeps a random mask, so that a control's head can be told from a dense one. */
static const study_spec every_control = {"controls", "reinit_same_density", ctl_sources, ctl_targets, 1, 2, LEVELS,
                                         ctl_seeds, 1, all_controls, TK_CONTROL_COUNT};

/* A source ticket retrained on a target with the same configuration is the
 * target's own ticket: the study trains no transfer for it. */
static bool same_config(const side *a, const side *b) {
    return !strcmp(a->dataset, b->dataset) && !strcmp(a->optimizer, b->optimizer) && !strcmp(a->lr, b->lr);
}

typedef struct cell {
    const side *target, *source;
    const char *control;
    bool native;
    int level, seed;
} cell;

/* Every (target, source, control, level, seed) a study must have trained,
 * one row of results.csv each: per seed, every target's native ticket at
 * every level (level 0: the dense network) and its controls at every pruned
 * level; every source's ticket at every level and its controls but l1 (a
 * native control only) at every pruned level, on every target with another
 * configuration. c: NULL to count. */
static int expected_cells(const study_spec *p, cell *c) {
    int n = 0;
    for (int k = 0; k < p->n_seeds; k++) {
        for (int t = 0; t < p->n_targets; t++)
            for (int l = 0; l <= p->levels; l++) {
                const side *T = &p->targets[t];
                if (c) c[n] = (cell){T, T, l ? "ticket" : "dense", true, l, p->seeds[k]};
                n++;
                for (int x = 0; l && x < p->n_controls; x++, n++)
                    if (c) c[n] = (cell){T, T, p->controls[x], true, l, p->seeds[k]};
            }
        for (int s = 0; s < p->n_sources; s++)
            for (int t = 0; t < p->n_targets; t++) {
                const side *S = &p->sources[s], *T = &p->targets[t];
                if (same_config(S, T)) continue;
                for (int l = 0; l <= p->levels; l++) {
                    if (c) c[n] = (cell){T, S, "ticket", false, l, p->seeds[k]};
                    n++;
                    for (int x = 0; l && x < p->n_controls; x++) {
                        if (!strcmp(p->controls[x], "l1")) continue;
                        if (c) c[n] = (cell){T, S, p->controls[x], false, l, p->seeds[k]};
                        n++;
                    }
                }
            }
    }
    return n;
}

static int expected_rows(const study_spec *p) { return expected_cells(p, NULL); }

/* Find levels (one chain per distinct configuration and seed; a target's
 * trains its native controls in the same jobs) plus transfers. */
static int expected_jobs(const study_spec *p) {
    const side *all[2 * TK_STUDY_MAX_SIDES];
    int distinct = 0, natives = 0;
    for (int i = 0; i < p->n_sources + p->n_targets; i++) {
        const side *x = i < p->n_sources ? &p->sources[i] : &p->targets[i - p->n_sources];
        int k = 0;
        while (k < distinct && !same_config(all[k], x)) k++;
        if (k == distinct) all[distinct++] = x;
    }
    for (int t = 0; t < p->n_targets; t++) natives += 1 + p->levels * (1 + p->n_controls);
    return distinct * p->n_seeds * (p->levels + 1) + expected_rows(p) - natives * p->n_seeds;
}

static void put_sides(tk_buf *b, const char *key, const side *sides, int n) {
    tk_buf_printf(b, " \"%s\": [", key);
    for (int i = 0; i < n; i++)
        tk_buf_printf(b, "%s{\"name\": \"%s\", \"train\": {\"dataset\": \"%s\", \"optimizer\": \"%s\", \"lr\": %s}}",
                      i ? ", " : "", sides[i].name, sides[i].dataset, sides[i].optimizer, sides[i].lr);
    tk_buf_printf(b, "],\n");
}

/* A study's specification, malloc'd. */
static char *spec_json(const study_spec *p) {
    tk_buf b = {0};
    tk_buf_printf(&b, "{\n \"name\": \"%s\", \"model\": \"lenet_300_100\", \"width\": %g,\n"
                      " \"train\": {\"length\": \"60it\", \"eval_every\": \"20it\", \"checkpoint_every\": \"20it\","
                      " \"batch\": 20, \"threads\": 1},\n",
                  p->name, (double)WIDTH);
    put_sides(&b, "sources", p->sources, p->n_sources);
    put_sides(&b, "targets", p->targets, p->n_targets);
    tk_buf_printf(&b, " \"pruning\": {\"strategy\": \"global\", \"rate\": 0.5, \"levels\": %d},\n"
                      " \"head\": \"%s\", \"controls\": [",
                  p->levels, p->head);
    for (int k = 0; k < p->n_controls; k++) tk_buf_printf(&b, "%s\"%s\"", k ? ", " : "", p->controls[k]);
    tk_buf_printf(&b, "], \"seeds\": [");
    for (int k = 0; k < p->n_seeds; k++) tk_buf_printf(&b, "%s%d", k ? ", " : "", p->seeds[k]);
    tk_buf_printf(&b, "]\n}\n");
    tk_buf_put(&b, "", 1);
    return (char *)b.data;
}

static char *study_json(void) { return spec_json(&tiny); }

/* DIR/NAME.json holding the study's specification, malloc'd. */
static char *write_spec(const char *dir, const study_spec *p) {
    char file[128];
    snprintf(file, sizeof file, "%s.json", p->name);
    char *spec = path_in(dir, file), *text = spec_json(p);
    write_file(spec, text, strlen(text));
    free(text);
    return spec;
}

static char *write_study(const char *dir) { return write_spec(dir, &tiny); }

/* The tests run from the repository root: its plots/ are the scripts under
 * test, wherever TICKET_BIN is. */
static void use_repo_plots(void) {
    char cwd[PATH_MAX];
    if (!getenv("TICKET_PLOTS") && getcwd(cwd, sizeof cwd)) {
        char *plots = path_in(cwd, "plots");
        setenv("TICKET_PLOTS", plots, 1);
        free(plots);
    }
}

/* A study's uninterrupted run, shared by the tests that read its files: OUT
 * of `ticket study run SPEC --out OUT -j 2`, or NULL when it failed. */
typedef struct study_run {
    const study_spec *spec;
    char *root, *out;
    bool ok;
} study_run;

static const char *run_study(study_run *r) {
    if (r->root) return r->ok ? r->out : NULL;
    r->root = test_tmpdir(r->spec->name);
    char *spec = write_spec(r->root, r->spec), *log = path_in(r->root, "run.log");
    r->out = path_in(r->root, "out");
    char *args[] = {"ticket", "study", "run", spec, "--out", r->out, "-j", "2", NULL};
    r->ok = run_ticket(args, log) == 0;
    free(spec), free(log);
    return r->ok ? r->out : NULL;
}

static void free_run(study_run *r) {
    if (r->root) rm_rf(r->root);
    free(r->root), free(r->out);
}

static study_run tiny_run = {&tiny, NULL, NULL, false};
static const char *tiny_study(void) { return run_study(&tiny_run); }

/* ---- reading the tables */

typedef struct table {
    char *text;
    char *header;
    char **rows;
    int n;
} table;

/* Splits a CSV file (no quoted fields: the study's names have no commas) into lines. */
static bool read_table(const char *path, table *t) {
    memset(t, 0, sizeof *t);
    t->text = read_whole_file(path, NULL);
    if (!t->text) {
        printf("  cannot read %s\n", path);
        return false;
    }
    t->rows = calloc(4096, sizeof *t->rows);
    char *save = NULL;
    for (char *line = strtok_r(t->text, "\n", &save); line && t->n < 4096; line = strtok_r(NULL, "\n", &save)) {
        if (!t->header) t->header = line;
        else t->rows[t->n++] = line;
    }
    return t->header != NULL;
}

static void free_table(table *t) {
    free(t->text);
    free(t->rows);
}

enum { MAX_FIELDS = 24 };
/* The fields of a row (modifies a copy held in buf). */
static int fields(const char *row, char *buf, size_t cap, char **f) {
    snprintf(buf, cap, "%s", row);
    int n = 0;
    char *p = buf;
    while (n < MAX_FIELDS) {
        f[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = 0;
        p = comma + 1;
    }
    return n;
}

/* results.csv columns */
enum { R_STUDY, R_MODEL, R_TARGET, R_TARGET_OPT, R_SOURCE, R_SOURCE_OPT, R_CONTROL, R_NATIVE, R_LEVEL, R_DENSITY, R_SEED, R_FINAL,
       R_BEST, R_BEST_ITER, R_TICKET_VERSION, R_BLAS, R_BLAS_CORE, R_BLAS_CORETYPE, R_BLAS_THREADS, R_ENGINE_THREADS, R_CPU,
       R_ISA, R_COLUMNS };
char *openblas_get_config(void);
char *openblas_get_corename(void);
/* summary.csv columns */
enum { S_TARGET, S_TARGET_OPT, S_SOURCE, S_SOURCE_OPT, S_CONTROL, S_NATIVE, S_LEVEL, S_DENSITY, S_N, S_FINAL_MEAN,
       S_COLUMNS = 17 };

static bool row_is(char **f, const cell *c) {
    return !strcmp(f[R_TARGET], c->target->name) && !strcmp(f[R_SOURCE], c->source->name) &&
           !strcmp(f[R_CONTROL], c->control) && atoi(f[R_LEVEL]) == c->level && atoi(f[R_SEED]) == c->seed;
}

/* Whether report/NAME of two study folders holds the same bytes. */
static bool same_table(const char *out, const char *reference, const char *name) {
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof a, "%s/report/%s", out, name);
    snprintf(b, sizeof b, "%s/report/%s", reference, name);
    return same_bytes(a, b);
}

/* A copy of a finished study's folder, to interrupt or damage. */
static bool copy_study(const char *from, const char *to) {
    char *cmd;
    bool ok = asprintf(&cmd, "cp -a '%s' '%s'", from, to) > 0 && run_capture(cmd, NULL) == 0;
    free(cmd);
    return ok;
}

/* ---- 1. end to end */

static bool is_png(const char *path) {
    size_t n = 0;
    unsigned char *p = (unsigned char *)read_whole_file(path, &n);
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    bool ok = p && n >= 24 && !memcmp(p, signature, 8) && !memcmp(p + 12, "IHDR", 4);
    if (ok) {
        uint32_t w = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
        uint32_t h = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
        ok = w > 0 && h > 0;
    }
    if (!ok) printf("  %s is not a PNG image (%zu bytes)\n", path, n);
    free(p);
    return ok;
}

static void check_results(const char *report, const study_spec *p) {
    char *path = path_in(report, "results.csv");
    table t;
    CHECK(read_table(path, &t));
    free(path);
    if (!t.header) return;
    CHECK(!strcmp(t.header, "study,model,target,target_optimizer,source,source_optimizer,control,native,level,"
                            "density,seed,final_accuracy,best_accuracy,best_iteration,ticket_version,blas,blas_core,"
                            "blas_coretype,blas_threads,engine_threads,cpu,isa,gemm"));
    cell want[256];
    int n_want = expected_cells(p, want);
    CHECK(t.n == n_want);
    if (t.n != n_want) printf("  results.csv has %d rows, expected %d\n", t.n, n_want);
    char buf[1024], *f[MAX_FIELDS];
    int bad_fields = 0, bad_values = 0;
    for (int i = 0; i < t.n; i++) {
        /* At least the columns: a CPU name with a comma is quoted, which fields() does not undo. */
        int nf = fields(t.rows[i], buf, sizeof buf, f);
        if (nf < R_COLUMNS) {
            bad_fields++;
            continue;
        }
        double final = atof(f[R_FINAL]), best = atof(f[R_BEST]), density = atof(f[R_DENSITY]);
        long long best_iter = atoll(f[R_BEST_ITER]);
        /* Global pruning at rate 0.5 of 2260 or 2280 weights: exactly 0.5^L; a
         * transferred ticket keeps its source's density, a control its ticket's. */
        bool ok = !strcmp(f[R_STUDY], p->name) && !strcmp(f[R_MODEL], "lenet_300_100") &&
                  fabs(density - pow(0.5, atoi(f[R_LEVEL]))) < 1e-9 && final >= 0 && final <= 1 &&
                  best >= final && best <= 1 && best_iter >= 20 && best_iter <= 60 &&
                  /* The workers run this program with this environment: this process's provenance. */
                  !strcmp(f[R_TICKET_VERSION], tk_provenance_version()) && !strcmp(f[R_BLAS], openblas_get_config()) &&
                  !strcmp(f[R_BLAS_CORE], openblas_get_corename()) && atoi(f[R_BLAS_THREADS]) >= 1 &&
                  atoi(f[R_ENGINE_THREADS]) >= 1 && f[R_CPU][0];
        if (!ok) printf("  implausible row: %s\n", t.rows[i]), bad_values++;
    }
    CHECK(bad_fields == 0);
    CHECK(bad_values == 0);
    int missing = 0, doubled = 0, wrong = 0;
    for (int c = 0; c < n_want; c++) {
        int found = 0;
        for (int i = 0; i < t.n; i++) {
            if (fields(t.rows[i], buf, sizeof buf, f) < R_COLUMNS || !row_is(f, &want[c])) continue;
            found++;
            bool native = !strcmp(f[R_NATIVE], "true");
            if (strcmp(f[R_TARGET_OPT], want[c].target->optimizer) ||
                strcmp(f[R_SOURCE_OPT], want[c].source->optimizer) || native != want[c].native)
                printf("  wrong optimizer or native flag: %s\n", t.rows[i]), wrong++;
        }
        if (found != 1)
            printf("  (target %s, source %s, %s, level %d, seed %d) found %d times\n", want[c].target->name,
                   want[c].source->name, want[c].control, want[c].level, want[c].seed, found);
        missing += found == 0, doubled += found > 1;
    }
    CHECK(missing == 0);
    CHECK(doubled == 0);
    CHECK(wrong == 0);
    free_table(&t);
}

/* summary.csv: one group per cell without the seed, n = the seeds, mean of its rows. */
static void check_summary(const char *report, const study_spec *p) {
    char *path = path_in(report, "summary.csv"), *rpath = path_in(report, "results.csv");
    table s, r;
    CHECK(read_table(path, &s));
    CHECK(read_table(rpath, &r));
    free(path), free(rpath);
    if (!s.header || !r.header) return;
    CHECK(!strncmp(s.header, "target,target_optimizer,source,source_optimizer,control,native,level,density,n,"
                             "final_accuracy_mean,",
                   strlen("target,target_optimizer,source,source_optimizer,control,native,level,density,n,"
                          "final_accuracy_mean,")));
    CHECK(s.n * p->n_seeds == expected_rows(p));
    char buf[1024], rbuf[1024], *f[MAX_FIELDS], *g[MAX_FIELDS];
    int bad = 0;
    for (int i = 0; i < s.n; i++) {
        if (fields(s.rows[i], buf, sizeof buf, f) != S_COLUMNS || atoi(f[S_N]) != p->n_seeds) {
            printf("  summary row: %s\n", s.rows[i]), bad++;
            continue;
        }
        double sum = 0;
        int members = 0;
        for (int j = 0; j < r.n; j++) {
            if (fields(r.rows[j], rbuf, sizeof rbuf, g) < R_COLUMNS) continue;
            if (strcmp(g[R_TARGET], f[S_TARGET]) || strcmp(g[R_SOURCE], f[S_SOURCE]) ||
                strcmp(g[R_CONTROL], f[S_CONTROL]) || strcmp(g[R_LEVEL], f[S_LEVEL]))
                continue;
            sum += atof(g[R_FINAL]), members++;
        }
        if (members != p->n_seeds || fabs(sum / members - atof(f[S_FINAL_MEAN])) > 1e-6)
            printf("  summary row %s: %d result rows, mean %g\n", s.rows[i], members, members ? sum / members : 0),
                bad++;
    }
    CHECK(bad == 0);
    free_table(&s);
    free_table(&r);
}

static void check_report_md(const char *report) {
    char *path = path_in(report, "report.md");
    char *md = read_whole_file(path, NULL);
    free(path);
    CHECK(md != NULL);
    if (!md) return;
    for (int t = 0; t < N_TARGETS; t++) {
        char want[128];
        snprintf(want, sizeof want, "Target: %s (%s)", targets[t].name, targets[t].optimizer);
        CHECK_CONTAINS(md, want);
    }
    CHECK_CONTAINS(md, "## Transfer matrix");
    char *matrix = strstr(md, "## Transfer matrix");
    for (int s = 0; matrix && s < N_SOURCES; s++) {
        char want[128];
        snprintf(want, sizeof want, "| %s (%s) |", sources[s].name, sources[s].optimizer);
        CHECK_CONTAINS(matrix, want);
    }
    bool gnuplot = run_capture("command -v gnuplot", NULL) == 0;
    if (!gnuplot) {
        CHECK_CONTAINS(md, "gnuplot not found");
        free(md);
        return;
    }
    CHECK(!strstr(md, "figures failed") && !strstr(md, "figures skipped"));
    /* Every figure report.md shows is a PNG on disk: one per target
     * (accuracy), the matrix, the overlap and the layer densities at least. */
    int figures = 0, bad = 0;
    for (const char *p = strstr(md, "](figures/"); p; p = strstr(p + 1, "](figures/")) {
        const char *name = p + 2, *end = strchr(name, ')');
        if (!end || end - name > 200) {
            bad++;
            continue;
        }
        char rel[256], *file;
        snprintf(rel, sizeof rel, "%.*s", (int)(end - name), name);
        file = path_in(report, rel);
        bad += !(strlen(rel) > 4 && !strcmp(rel + strlen(rel) - 4, ".png") && is_png(file));
        free(file);
        figures++;
    }
    CHECK(bad == 0);
    CHECK(figures >= N_TARGETS + 3);
    free(md);
}

static void test_study_end_to_end(void) {
    const char *out = tiny_study();
    CHECK(out != NULL);
    if (!out) return;
    char *report = path_in(out, "report");
    check_results(report, &tiny);
    check_summary(report, &tiny);
    check_report_md(report);
    free(report);
}

/* Every job run alone, each in a fresh process, in the order `ticket study
 * plan` numbers them (a dependency always comes first), gives the bytes the
 * scheduler's run gives; a job whose dependency is not done, a number past
 * the graph and an unknown backend are refused with exit 2. */
static void test_jobs_one_at_a_time(void) {
    const char *reference = tiny_study();
    CHECK(reference != NULL);
    if (!reference) return;
    char *root = test_tmpdir("jobs"), *spec = write_study(root), *out = path_in(root, "out");
    char args[2048];
    int n = expected_jobs(&tiny);
    snprintf(args, sizeof args, "study job '%s' --out '%s' --job 1", spec, out);
    CHECK_TICKET(root, "", args, 2, "job 1 (find four seed 0 level 1", "waits for job 0 (find four seed 0 level 0)",
                 "which is not done");
    snprintf(args, sizeof args, "study job '%s' --out '%s' --job %d", spec, out, n);
    char want[128];
    snprintf(want, sizeof want, "the study tiny has %d jobs, 0 to %d", n, n - 1);
    CHECK_TICKET(root, "", args, 2, want);
    snprintf(args, sizeof args, "study run '%s' --out '%s' --backend slurn", spec, out);
    CHECK_TICKET(root, "", args, 2, "unknown backend 'slurn'", "slurm", "local");
    snprintf(args, sizeof args, "study run '%s' --out '%s' --partition gpu", spec, out);
    CHECK_TICKET(root, "", args, 2, "--partition belongs to `ticket study run --backend slurm`");
    /* --backend mpi outside mpirun, or in a build without MPI, says how to get it. */
    snprintf(args, sizeof args, "study run '%s' --out '%s' --backend mpi", spec, out);
#if TK_HAVE_MPI
    CHECK_TICKET(root, "-u OMPI_COMM_WORLD_RANK -u PMIX_RANK -u PMI_RANK", args, 2,
                 "ticket study: --backend mpi: not started by mpirun (no OMPI_COMM_WORLD_RANK, PMIX_RANK or PMI_RANK "
                 "in the environment); run `mpirun --enable-recovery -np N ticket study run SPEC --backend mpi`, N - 1 "
                 "ranks running jobs, or use --backend local on one machine");
    CHECK_TICKET(root, "TICKET_MPI_DEAD_AFTER=1", args, 2,
                 "ticket study: TICKET_MPI_DEAD_AFTER='1': expected the seconds of silence after which a rank counts "
                 "as dead, a number >= 2 (a heartbeat comes every 1 s); unset it for 60");
#else
    CHECK_TICKET(root, "", args, 2,
                 "ticket study: --backend mpi: this ticket was built without MPI (there was no mpicc); install Open "
                 "MPI (apt-get install openmpi-bin libopenmpi-dev) and rebuild ticket (make)");
#endif
    snprintf(args, sizeof args, "study plan '%s' --out '%s' --job 0", spec, out);
    CHECK_TICKET(root, "", args, 2, "--job belongs to `ticket study job`");
    for (int i = 0; i < n; i++) {
        snprintf(args, sizeof args, "study job '%s' --out '%s' --job %d", spec, out, i);
        snprintf(want, sizeof want, "job %d done", i);
        CHECK_TICKET(root, "", args, 0, want);
    }
    snprintf(args, sizeof args, "study job '%s' --out '%s' --job 0", spec, out);
    CHECK_TICKET(root, "", args, 0, "job 0 was already done");
    snprintf(args, sizeof args, "report '%s'", out);
    CHECK_TICKET(root, "", args, 0, "report written");
    CHECK(same_table(out, reference, "results.csv"));
    snprintf(args, sizeof args, "study status '%s'", out);
    snprintf(want, sizeof want, "%d of %d jobs done", n, n);
    CHECK_TICKET(root, "", args, 0, want, "level     done  running   queued   failed  waiting");
    /* A job whose worker died in it: its claim names a pid that is gone. */
    char *summary = path_in(out, "runs"), claims[1200], claim[1400], host[256];
    snprintf(claims, sizeof claims, "%s/claims", out);
    DIR *runs = opendir(summary);
    struct dirent *e = NULL;
    while (runs && (e = readdir(runs)) && e->d_name[0] == '.') {
    }
    if (runs && e) {
        char level0[1300];
        snprintf(level0, sizeof level0, "%s/%s/level_00/summary.json", summary, e->d_name);
        snprintf(claim, sizeof claim, "%s/runs.%s.level_00", claims, e->d_name);
        pid_t dead = fork();
        if (dead == 0) _exit(0);
        waitpid(dead, NULL, 0);
        gethostname(host, sizeof host);
        char text[400];
        snprintf(text, sizeof text, "%s %ld x.1\n", host, (long)dead);
        write_file(claim, text, strlen(text));
        CHECK(unlink(level0) == 0);
        snprintf(want, sizeof want, "%d of %d jobs done", n - 1, n);
        char died[128];
        snprintf(died, sizeof died, "pid %ld, died in it (its claim is stale)", (long)dead);
        CHECK_TICKET(root, "", args, 0, want, died);
        /* The next run takes the stale claim over and redoes the job. */
        snprintf(args, sizeof args, "study run '%s' --out '%s'", spec, out);
        CHECK_TICKET(root, "", args, 0, "study tiny: done");
        CHECK(!tk_file_exists(claim));
        CHECK(same_table(out, reference, "results.csv"));
    }
    CHECK(runs && e);
    if (runs) closedir(runs);
    free(summary);
    /* A folder holds one study. */
    study_spec other = tiny;
    other.name = "other";
    char *other_spec = write_spec(root, &other);
    snprintf(args, sizeof args, "study run '%s' --out '%s'", other_spec, out);
    CHECK_TICKET(root, "", args, 2, "holds the study 'tiny'", "not 'other': pass --out with a folder of its own");
    /* The Slurm backend: its scripts without sbatch, and a clear refusal
     * to submit without it. */
    snprintf(args, sizeof args, "study run '%s' --out fresh --backend slurm --dry-run --array-max 3", spec);
    CHECK_TICKET(root, "PATH=/nonexistent", args, 0, "/fresh/slurm/depth_00.sh\n#!/bin/sh", "#SBATCH --array=0-",
                 "%3\n", "--dependency=afterok:", "study job 'fresh/study.json' --out 'fresh' --job \"$1\"",
                 "report 'fresh'");
    snprintf(args, sizeof args, "study run '%s' --out fresh --backend slurm", spec);
    CHECK_TICKET(root, "PATH=/nonexistent", args, 2, "--backend slurm needs sbatch on $PATH");
    /* A rerun while slurmctld cannot answer would submit jobs still queued
     * a second time: refused. (squeue and sbatch here stand for a cluster
     * whose controller is down; tests/slurm.sh runs a real one.) */
    char *bin = path_in(root, "bin"), *fresh = path_in(root, "fresh"), tool[1400], env[1500];
    mkdir(bin, 0755);
    snprintf(tool, sizeof tool, "%s/squeue", bin);
    const char *down = "#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)'"
                       "\nexit 1\n";
    write_file(tool, down, strlen(down));
    chmod(tool, 0755);
    snprintf(tool, sizeof tool, "%s/sbatch", bin);
    write_file(tool, down, strlen(down));
    chmod(tool, 0755);
    snprintf(tool, sizeof tool, "%s/slurm", fresh);
    mkdir(tool, 0755);
    snprintf(tool, sizeof tool, "%s/slurm/submitted", fresh);
    write_file(tool, "41 0,1\n", 7);
    snprintf(env, sizeof env, "PATH='%s'", bin);
    CHECK_TICKET(root, env, args, 1, "not resubmitting study tiny: squeue could not say which tasks of the last "
                 "submission still run (exit 1): slurm_load_jobs error: Unable to contact slurm controller");
    /* ... and while a task of the last submission still runs. */
    const char *running = "#!/bin/sh\necho '41_0 RUNNING None'\necho '41_1 PENDING Resources'\n";
    snprintf(tool, sizeof tool, "%s/squeue", bin);
    write_file(tool, running, strlen(running));
    CHECK_TICKET(root, env, args, 1, "study tiny still has 2 Slurm tasks queued or running (job 41): wait for them to "
                 "end (`ticket study status fresh`) or scancel them");
    free(bin), free(fresh);
    rm_rf(root);
    free(root), free(spec), free(out), free(other_spec);
}

/* `ticket study bench` dispatches its synthetic graph and says how fast;
 * bad sizes are refused. */
static void test_bench(void) {
    char *root = test_tmpdir("bench");
    CHECK_TICKET(root, "", "study bench --jobs 250 --workers 2", 0,
                 "study bench: backend local, 250 jobs (10 chains of 10 levels, 150 after them): ",
                 " jobs dispatched/s");
    CHECK_TICKET(root, "PATH=/nonexistent", "study bench --jobs 3000 --backend slurm", 0,
                 "study bench: backend slurm, 3000 jobs (10 chains of 10 levels, 2900 after them): ",
                 " jobs written into array scripts/s");
    CHECK_TICKET(root, "", "study bench --jobs 0", 2, "ticket study bench: --jobs and --workers must be >= 1");
    CHECK_TICKET(root, "", "study bench --backend slurn", 2, "ticket study bench: unknown backend 'slurn'");
    rm_rf(root);
    free(root);
}

/* ---- 2. transfer semantics */

/* ROOT/<hash> of the find run of (dataset, optimizer, seed), from its find.json. */
static char *find_run(const char *runs, const char *dataset, tk_optim_kind optim, uint64_t seed) {
    DIR *d = opendir(runs);
    char *found = NULL;
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char *dir = path_in(runs, e->d_name);
        tk_find_config c;
        tk_error err = {0};
        if (!tk_find_open(dir, &c, &err) && !strcmp(c.train.dataset, dataset) && c.train.optim.kind == optim &&
            c.train.seed == seed)
            found = dir;
        else free(dir);
    }
    if (d) closedir(d);
    return found;
}

/* The fresh network a run of cfg starts from, as the trainer makes it. */
static tk_model *fresh_model(const tk_train_config *cfg) {
    tk_error err = {0};
    tk_model *m = tk_train_create_model(cfg, &err);
    if (!m) {
        printf("  %s\n", err.msg);
        return NULL;
    }
    tk_rng rng;
    tk_rng_seed(&rng, cfg->seed, TK_STREAM_INIT);
    tk_model_init(m, &rng);
    return m;
}

typedef struct transfer_start {
    const char *ticket;
    tk_head_policy head;
    uint64_t seed;
    int level;
    int control;                  /* -1: the ticket itself, else a tk_control */
    const char *rewind;           /* the source run's level_00/rewind */
    const tk_prune_config *prune; /* the study's */
} transfer_start;

/* What a transfer job does before its first step (transfer/study.c): the
 * head mask draws from stream TK_STREAM_COUNT + 1000 + 3 * level of the
 * seed; the random ticket's mask and fresh weights from the next two (as
 * before the other controls existed); control k's from TK_STREAM_COUNT +
 * 2000 + 2 * (level * TK_CONTROL_COUNT + k) and the next. */
static int prepare_transfer(tk_model *m, void *ctx, tk_error *err) {
    const transfer_start *s = ctx;
    uint64_t L = (uint64_t)s->level, control = (uint64_t)s->control;
    uint64_t streams = s->control == TK_CONTROL_RANDOM_TICKET ? 1000 + 3 * L + 1
                                                              : 2000 + 2 * (L * TK_CONTROL_COUNT + control);
    tk_rng head, mask, init;
    tk_rng_seed(&head, s->seed, TK_STREAM_COUNT + 1000 + 3 * L);
    tk_rng_seed(&mask, s->seed, TK_STREAM_COUNT + streams);
    tk_rng_seed(&init, s->seed, TK_STREAM_COUNT + streams + 1);
    if (tk_transfer_apply(m, WIDTH, s->ticket, s->head, &head, err)) return -1;
    if (s->control < 0) return 0;
    return tk_transfer_control(m, WIDTH, (tk_control)s->control, s->prune, s->rewind, &mask, &init, err);
}

static size_t kept_in(const tk_model *m, const uint8_t *mask, int tensor) {
    size_t kept = 0, total = 0;
    tk_mask_count(m, mask, tensor, &kept, &total);
    return kept;
}

static void test_transfer_semantics(void) {
    const char *out = tiny_study();
    CHECK(out != NULL);
    if (!out) return;
    tk_study s;
    tk_error err = {0};
    char *text = study_json();
    CHECK(tk_study_from_json(text, "tiny.json", &s, &err) == 0);
    free(text);
    /* The source "six" (6 classes) of seed 0 at level 2 moves onto the target "four" (4 classes). */
    enum { SEED = 0, LEVEL = LEVELS };
    tk_train_config src_cfg = s.sources[1].train, tgt_cfg = s.targets[0].train;
    src_cfg.seed = tgt_cfg.seed = SEED;
    char *runs = path_in(out, "runs");
    char *run = find_run(runs, DATA6, TK_OPTIM_ADAM, SEED);
    free(runs);
    CHECK(run != NULL);
    if (!run) return;
    char ticket[1200];
    snprintf(ticket, sizeof ticket, "%s/level_%02d/ticket", run, LEVEL);
    free(run);

    /* The ticket as the source trained it: mask and rewind-point weights
     * (rewind 0it: the source's initialization, pruned weights zero). */
    tk_model_config mc;
    char name[64];
    CHECK(tk_ticket_model(ticket, &mc, name, &err) == 0);
    tk_model *src = tk_model_create(&mc, &err);
    CHECK(src && tk_ticket_read(ticket, src, WIDTH, NULL, &err) == 0);
    tk_model *src_init = fresh_model(&src_cfg), *tgt = fresh_model(&tgt_cfg), *same = fresh_model(&tgt_cfg);
    CHECK(src_init && tgt && same);
    if (!src || !src_init || !tgt || !same) {
        printf("  %s\n", err.msg);
        return;
    }
    CHECK(src->classes == 6 && tgt->classes == 4);
    memcpy(src_init->mask, src->mask, src->n_prunable);
    tk_model_apply_mask(src_init);
    CHECK(src_init->n_params == src->n_params && !memcmp(src_init->param, src->param, src->n_params * sizeof(float)));
    size_t kept = 0;
    for (size_t i = 0; i < src->n_prunable; i++) kept += src->mask[i];
    CHECK(kept == (size_t)floor(0.25 * (double)src->n_prunable + 0.5));

    float *fresh = malloc(tgt->n_params * sizeof(float));
    memcpy(fresh, tgt->param, tgt->n_params * sizeof(float));
    tk_rng rng;
    tk_rng_seed(&rng, 7, 0);
    CHECK(tk_transfer_apply(tgt, WIDTH, ticket, TK_HEAD_REINIT_DENSE, &rng, &err) == 0);
    tk_rng_seed(&rng, 7, 0);
    CHECK(tk_transfer_apply(same, WIDTH, ticket, TK_HEAD_REINIT_SAME_DENSITY, &rng, &err) == 0);

    int body = 0, head = 0, head_tensor = -1;
    size_t src_head_kept = 0, src_head_total = 0;
    for (int i = 0; i < tgt->n_param_tensors; i++) {
        const tk_param *t = &tgt->params[i];
        int j = tk_model_find_param(src, t->name);
        CHECK(j >= 0);
        if (j < 0) continue;
        const tk_param *p = &src->params[j];
        const float *w = tgt->param + t->offset;
        if (!t->is_output) {
            /* Every tensor but the head: the ticket's weights and mask, bit for bit. */
            body++;
            CHECK(t->count == p->count && !memcmp(w, src->param + p->offset, t->count * sizeof(float)));
            if (t->prunable) CHECK(!memcmp(tgt->mask + t->offset, src->mask + p->offset, t->count));
            /* The other head policy changes nothing here. */
            CHECK(!memcmp(same->param + t->offset, w, t->count * sizeof(float)));
            if (t->prunable) CHECK(!memcmp(same->mask + t->offset, tgt->mask + t->offset, t->count));
            continue;
        }
        /* The head, rebuilt for 4 classes: the target's fresh initialization, dense. */
        head++;
        CHECK(t->count != p->count);
        CHECK(!memcmp(w, fresh + t->offset, t->count * sizeof(float)));
        if (!t->prunable) continue;
        head_tensor = i;
        CHECK(kept_in(tgt, tgt->mask, i) == t->count);
        tk_mask_count(src, src->mask, j, &src_head_kept, &src_head_total);
        /* reinit_same_density: the source head's density, rounded, on fresh weights. */
        size_t want = (size_t)floor((double)src_head_kept / (double)src_head_total * (double)t->count + 0.5);
        CHECK(kept_in(same, same->mask, i) == want);
        int wrong = 0;
        for (size_t k = 0; k < t->count; k++)
            wrong += same->param[t->offset + k] != (same->mask[t->offset + k] ? fresh[t->offset + k] : 0.0f);
        CHECK(wrong == 0);
    }
    CHECK(body >= 4 && head == 2 && head_tensor >= 0);
    /* The source's head was pruned, so a dense head is a real change. */
    CHECK(src_head_total > 0 && src_head_kept < src_head_total);

    /* The study's job trained from exactly this network: redoing its run
     * from tk_transfer_apply gives the same checkpoint, byte for byte. */
    char job[1400], *redo = test_tmpdir("transfer");
    snprintf(job, sizeof job, "%s/transfer/%s/%s/s%d/level_%02d/ticket", out, sources[1].name, targets[0].name, SEED,
             LEVEL);
    transfer_start ts = {.ticket = ticket, .head = TK_HEAD_REINIT_DENSE, .seed = SEED, .level = LEVEL, .control = -1};
    tk_train_start start = {.prepare = prepare_transfer, .ctx = &ts};
    tk_train_result r;
    CHECK(tk_train_run_from(&tgt_cfg, redo, &start, TK_PROGRESS_NONE, &r, &err) == 0);
    char *mine = path_in(redo, "checkpoint"), *theirs = path_in(job, "checkpoint");
    CHECK(same_bytes(mine, theirs));
    free(mine), free(theirs);
    rm_rf(redo);
    free(redo);

    /* Its random ticket: per tensor the ticket's kept count, another mask; the head dense. */
    snprintf(job, sizeof job, "%s/transfer/%s/%s/s%d/level_%02d/random_ticket/checkpoint", out, sources[1].name,
             targets[0].name, SEED, LEVEL);
    tk_model *rnd = fresh_model(&tgt_cfg);
    CHECK(rnd && tk_checkpoint_load_weights(job, rnd, WIDTH, &err) == 0);
    for (int i = 0; rnd && i < rnd->n_param_tensors; i++) {
        const tk_param *t = &rnd->params[i];
        if (!t->prunable) continue;
        CHECK(kept_in(rnd, rnd->mask, i) == kept_in(tgt, tgt->mask, i));
        if (!t->is_output) CHECK(memcmp(rnd->mask + t->offset, tgt->mask + t->offset, t->count) != 0);
    }
    if (err.msg[0]) printf("  %s\n", err.msg);
    tk_model_free(rnd);
    free(fresh);
    tk_model_free(src);
    tk_model_free(src_init);
    tk_model_free(tgt);
    tk_model_free(same);
}

/* ---- 3. killed mid-way, rerun */

/* The folders of the finished jobs: a job has finished when its last file
 * is written, summary.json for a transfer, and for a find level the ticket,
 * which tk_find_run writes after the level's summary.json, and after level 0
 * of a target its native random ticket's summary.json, which comes after
 * the ticket. */

/* Whether the find run in `run` (ROOT/<hash>) is a target's. */
static bool target_run(const char *run) {
    tk_find_config c;
    tk_error err = {0};
    if (tk_find_open(run, &c, &err)) return false;
    for (int t = 0; t < N_TARGETS; t++)
        if (!strcmp(c.train.dataset, targets[t].dataset) &&
            !strcmp(tk_optim_names[c.train.optim.kind], targets[t].optimizer))
            return true;
    return false;
}

static char **walk_found;
static int walk_n;
static bool walk_find_levels;
static int walk_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)ftw;
    const char *base = strrchr(path, '/');
    if (flag != FTW_F || !base || strcmp(base, "/summary.json") || walk_n >= 4096) return 0;
    char *dir = strndup(path, (size_t)(base - path)), *ticket = path_in(dir, "ticket");
    char *control = path_in(dir, "random_ticket/summary.json"), *run = strndup(dir, (size_t)(strrchr(dir, '/') - dir));
    bool controls = strcmp(strrchr(dir, '/'), "/level_00") && target_run(run);
    if (!walk_find_levels || (tk_file_exists(ticket) && (!controls || tk_file_exists(control))))
        walk_found[walk_n++] = dir;
    else free(dir);
    free(ticket), free(control), free(run);
    return 0;
}

static int finished_jobs(const char *out, char ***found) {
    walk_found = calloc(4096, sizeof *walk_found);
    walk_n = 0;
    const char *parts[] = {"runs", "transfer"}; /* not report/, which has a summary.json of its own */
    for (int i = 0; i < 2; i++) {
        char *dir = path_in(out, parts[i]);
        walk_find_levels = i == 0;
        nftw(dir, walk_visit, 16, FTW_PHYS);
        free(dir);
    }
    if (found) *found = walk_found;
    else {
        for (int i = 0; i < walk_n; i++) free(walk_found[i]);
        free(walk_found);
    }
    return walk_n;
}

/* A file of a finished job as the kill left it. */
typedef struct kept_file {
    char *path, *bytes;
    size_t n;
    struct timespec mtime;
} kept_file;

/* Every file directly in each finished job's folder (summary.json, the
 * checkpoint, and for find levels the mask, ticket and sparsity.json). */
static int snapshot(char **jobs, int n, kept_file *files, int cap) {
    int count = 0;
    for (int i = 0; i < n; i++) {
        const char *dir = jobs[i];
        DIR *d = opendir(dir);
        for (struct dirent *e; d && (e = readdir(d));) {
            char *path = path_in(dir, e->d_name);
            struct stat st;
            /* A NAME.tmp is a write the kill cut short, not a result: the rerun may replace it. */
            const char *dot = strrchr(e->d_name, '.');
            bool partial = dot && !strcmp(dot, ".tmp");
            if (count < cap && !partial && !stat(path, &st) && S_ISREG(st.st_mode)) {
                kept_file *f = &files[count++];
                f->path = path;
                f->mtime = st.st_mtim;
                f->bytes = read_whole_file(path, &f->n);
            } else {
                free(path);
            }
        }
        if (d) closedir(d);
    }
    return count;
}

static void test_kill_and_rerun(void) {
    const char *reference = tiny_study();
    CHECK(reference != NULL);
    if (!reference) return;
    char *dir = test_tmpdir("study-kill");
    char *spec = write_study(dir), *out = path_in(dir, "out"), *log = path_in(dir, "first.log");
    char *args[] = {"ticket", "study", "run", spec, "--out", out, "-j", "2", NULL};
    /* Workers orphaned by the kill become our children, so we can wait for them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t pid = spawn_ticket_how(&(ticket_child){0}, args, log); /* its own process group: one kill reaches its workers */
    CHECK(pid > 0);
    int status = 0;
    bool exited = false;
    double t0 = tk_now();
    while (pid > 0 && finished_jobs(out, NULL) < 4 && tk_now() - t0 < 60) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            break;
        }
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    CHECK(!exited); /* the study must still be running when it is killed */
    if (pid > 0 && !exited) {
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    }
    while (pid > 0 && waitpid(-pid, NULL, 0) > 0) {
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);

    char **finished;
    int done = finished_jobs(out, &finished);
    int total = expected_jobs(&tiny);
    if (done < 4 || done >= total) printf("  killed with %d of %d jobs finished\n", done, total);
    CHECK(done >= 4 && done < total);
    kept_file files[1024];
    int n_files = snapshot(finished, done, files, 1024);
    int checkpoints = 0;
    for (int i = 0; i < n_files; i++) checkpoints += !strcmp(strrchr(files[i].path, '/'), "/checkpoint");
    CHECK(checkpoints == done);

    /* The same command completes the study, skipping what was finished. */
    free(log);
    log = path_in(dir, "rerun.log");
    CHECK(run_ticket(args, log) == 0);
    char *text = read_whole_file(log, NULL), want[64];
    snprintf(want, sizeof want, "\"already_done\":%d,", done);
    CHECK_CONTAINS(text, want);
    free(text);
    int touched = 0;
    for (int i = 0; i < n_files; i++) {
        struct stat st;
        size_t n = 0;
        char *now = read_whole_file(files[i].path, &n);
        bool same = now && !stat(files[i].path, &st) && st.st_mtim.tv_sec == files[i].mtime.tv_sec &&
                    st.st_mtim.tv_nsec == files[i].mtime.tv_nsec && n == files[i].n &&
                    !memcmp(now, files[i].bytes, n);
        if (!same) printf("  %s was rewritten by the rerun\n", files[i].path), touched++;
        free(now);
        free(files[i].path), free(files[i].bytes);
    }
    CHECK(touched == 0);
    CHECK(finished_jobs(out, NULL) == total);

    /* The interrupted study ends with the numbers of the uninterrupted one. */
    CHECK(same_table(out, reference, "results.csv"));
    CHECK(same_table(out, reference, "summary.csv"));
    for (int i = 0; i < done; i++) free(finished[i]);
    free(finished);
    free(spec), free(out), free(log);
    rm_rf(dir);
    free(dir);
}

/* A find level is killed after its training wrote summary.json and before
 * its ticket file was renamed into place (tk_find_run trains a level, then
 * writes its ticket): the rerun must redo that find job, not skip it, or the
 * transfers of that level find no ticket (at the last level nothing else
 * writes it). test_kill_and_rerun hits this window only by chance. */
static void test_rerun_after_kill_before_ticket(void) {
    const char *reference = tiny_study();
    CHECK(reference != NULL);
    if (!reference) return;
    char *dir = test_tmpdir("study-ticket"), *spec = write_study(dir), *out = path_in(dir, "out");
    CHECK(copy_study(reference, out));
    char *runs = path_in(out, "runs"), *run = find_run(runs, DATA6, TK_OPTIM_ADAM, 0);
    CHECK(run != NULL);
    if (run) {
        char ticket[PATH_MAX], partial[PATH_MAX], reference_ticket[PATH_MAX];
        snprintf(ticket, sizeof ticket, "%s/level_%02d/ticket", run, LEVELS);
        snprintf(partial, sizeof partial, "%s.tmp", ticket);
        snprintf(reference_ticket, sizeof reference_ticket, "%s/runs%s/level_%02d/ticket", reference,
                 strrchr(run, '/'), LEVELS);
        CHECK(unlink(ticket) == 0);
        write_file(partial, "TKTK", 4);
        /* The transfers of that level had not started. */
        for (int t = 0; t < N_TARGETS; t++) {
            char job[PATH_MAX];
            snprintf(job, sizeof job, "%s/transfer/%s/%s/s0/level_%02d", out, sources[1].name, targets[t].name,
                     LEVELS);
            rm_rf(job);
        }
        char *log = path_in(dir, "rerun.log");
        char *args[] = {"ticket", "study", "run", spec, "--out", out, "-j", "2", NULL};
        CHECK(run_ticket(args, log) == 0);
        CHECK(same_bytes(ticket, reference_ticket));
        CHECK(same_table(out, reference, "results.csv"));
        free(log);
    }
    free(run), free(runs), free(spec), free(out);
    rm_rf(dir);
    free(dir);
}

/* ---- 4. specifications */

/* Whether the specification is refused with one message holding every
 * needle; says what is missing when not. */
static bool refused_with(const char *spec, const char *const *needles) {
    tk_study s;
    tk_error err = {0};
    bool refused = tk_study_from_json(spec, "bad.json", &s, &err) == -1;
    int missing = 0;
    for (int i = 0; needles[i]; i++)
        if (!strstr(err.msg, needles[i])) printf("  expected \"%s\"\n", needles[i]), missing++;
    if (missing) printf("  in: %s\n", err.msg);
    return refused && missing == 0;
}

/* Six problems in six places, all in one message; the unknown model once. */
static const char *const six_problems =
    "{\"model\": \"lenet_300_10\", \"width\": 0.1, \"seeeds\": [0], \"workers\": \"two\",\n"
    " \"sources\": [{\"name\": \"a\", \"train\": {\"dataset\": \"" DATA4 "\"}},\n"
    "             {\"name\": \"b\", \"train\": {\"dataset\": \"" DATA6 "\", \"lenght\": \"10it\"}}],\n"
    " \"targets\": [{\"name\": \"c\", \"train\": {\"dataset\": \"" DATA4 "\", \"optimizer\": \"adma\"}},\n"
    "             {\"name\": \"d\", \"train\": {\"dataset\": \"" DATA4 "\", \"batch\": \"twenty\"}}]}";
static const char *const six_problems_found[] = {
    "bad.json", "unknown key 'seeeds'", "did you mean 'seeds'",
    "unknown model 'lenet_300_10'", "did you mean 'lenet_300_100'",
    "bad.json: sources[1]: unknown key 'train.lenght' (did you mean 'length'?",
    "targets[0]", "unknown optimizer 'adma'", "did you mean 'adam'",
    "bad.json: targets[1]: key 'train.batch' must be a whole number in [0, 1073741824], not \"twenty\"",
    "bad.json: key 'workers' must be a whole number in [1, 64], not \"two\"", NULL};

/* Two problems in one side: a side reports every problem, not the first. */
static const char *const one_side_two_problems =
    "{\"model\": \"lenet_300_100\", \"width\": 0.1,\n"
    " \"sources\": [{\"name\": \"a\", \"train\": {\"dataset\": \"" DATA4 "\", \"lenght\": \"10it\","
    " \"optimizer\": \"adma\"}}],\n"
    " \"targets\": [{\"name\": \"c\", \"train\": {\"dataset\": \"" DATA4 "\"}}]}";
static const char *const one_side_two_problems_found[] = {"sources[0]: unknown key 'train.lenght'",
                                                          "unknown optimizer 'adma'", NULL};

static void test_spec_validation(void) {
    CHECK(refused_with(six_problems, six_problems_found));
    CHECK(refused_with(one_side_two_problems, one_side_two_problems_found));

    /* Missing data files: every side's, with where they were looked for and how to get them.
     * A run is refused; a plan warns and estimates from the catalog, so that a study can be
     * planned before its data is fetched. */
    char *dir = test_tmpdir("study-plan"), *spec = path_in(dir, "missing.json");
    const char *missing = "{\"model\": \"lenet_300_100\", \"width\": 0.1, \"input\": \"1x8x8\",\n"
                          " \"sources\": [{\"name\": \"syn\", \"train\": {\"dataset\": \"" DATA4 "\"}}],\n"
                          " \"targets\": [{\"name\": \"digits\", \"train\": {\"dataset\": \"mnist\"}},\n"
                          "             {\"name\": \"houses\", \"train\": {\"dataset\": \"svhn\"}}]}";
    write_file(spec, missing, strlen(missing));
    char env[PATH_MAX + 32], cmd[PATH_MAX + 64];
    snprintf(env, sizeof env, "TICKET_DATA='%s'", dir);
    snprintf(cmd, sizeof cmd, "study run '%s' --out '%s/out'", spec, dir);
    CHECK_TICKET(dir, env, cmd, 2, "target digits", "dataset mnist", "not found", "$TICKET_DATA",
                 "./data/mnist", "to get it", "target houses", "svhn");
    snprintf(cmd, sizeof cmd, "study plan '%s'", spec);
    CHECK_TICKET(dir, env, cmd, 0, "warning", "target digits", "dataset mnist", "not found", "to get it",
                 "target houses", "svhn", "catalog", "jobs");
    free(spec);

    /* The plan of the tiny study: its job count and a time estimate, and nothing run. */
    spec = write_study(dir);
    char *out = path_in(dir, "plan"), want[32];
    snprintf(cmd, sizeof cmd, "study plan '%s' --out '%s'", spec, out);
    snprintf(want, sizeof want, "%d jobs", expected_jobs(&tiny));
    CHECK_TICKET(dir, "", cmd, 0, want, "minutes");
    char *runs = path_in(out, "runs");
    CHECK(!tk_file_exists(runs));
    free(runs), free(out), free(spec);
    rm_rf(dir);
    free(dir);
}

/* ---- 5. every control, native and transferred */

static study_run controls_run = {&every_control, NULL, NULL, false};
static const char *controls_study(void) { return run_study(&controls_run); }

/* The network a checkpoint holds (weights and mask), or NULL. */
static tk_model *load_checkpoint(const char *path) {
    tk_model_config mc;
    char name[64];
    tk_error err = {0};
    tk_model *m = NULL;
    if (tk_checkpoint_model(path, &mc, name, &err) == 0 && (m = tk_model_create(&mc, &err)) &&
        tk_checkpoint_load_weights(path, m, WIDTH, &err)) {
        tk_model_free(m);
        m = NULL;
    }
    if (!m) printf("  %s: %s\n", path, err.msg);
    return m;
}

/* Kept weights of m's mask over the prunable tensors, the output layer's
 * only with `head`. */
static size_t kept_over(const tk_model *m, const uint8_t *mask, bool head) {
    size_t kept = 0;
    for (int i = 0; i < m->n_param_tensors; i++)
        if (m->params[i].prunable && (head || !m->params[i].is_output)) kept += kept_in(m, mask, i);
    return kept;
}

/* How a control's mask stands to its ticket's over the tensors the random
 * masks cover (a native ticket's pruning covers the output layer, a
 * transfer's does not: `head`): the same bytes, or another mask with the
 * same kept count in every tensor, or only in all of them together. */
typedef struct mask_relation {
    bool same_mask, same_per_layer, same_total;
} mask_relation;

static mask_relation relate(const tk_model *ticket, const tk_model *control, bool head) {
    mask_relation r = {true, true, kept_over(ticket, ticket->mask, head) == kept_over(control, control->mask, head)};
    for (int i = 0; i < ticket->n_param_tensors; i++) {
        const tk_param *t = &ticket->params[i];
        if (!t->prunable || (t->is_output && !head)) continue;
        r.same_mask &= !memcmp(ticket->mask + t->offset, control->mask + t->offset, t->count);
        r.same_per_layer &= kept_in(ticket, ticket->mask, i) == kept_in(control, control->mask, i);
    }
    return r;
}

/* The relation SEMANTICS.md asks of each control. */
static bool relation_holds(tk_control k, mask_relation r) {
    switch (k) {
    case TK_CONTROL_REINIT: return r.same_mask;
    case TK_CONTROL_RANDOM_MASK:
    case TK_CONTROL_RANDOM_TICKET: return !r.same_mask && r.same_per_layer;
    case TK_CONTROL_RANDOM_GLOBAL: return !r.same_per_layer && r.same_total;
    case TK_CONTROL_L1: return !r.same_mask && r.same_total;
    case TK_CONTROL_COUNT: break;
    }
    return false;
}

/* Every control lands in results.csv (native: all five; transferred: all but
 * l1), in summary.csv and in report.md's table; the native ones were trained
 * in both find chains (the side that is source and target too) with the
 * masks their definitions ask for; the plan counts them. */
static void test_controls_end_to_end(void) {
    const char *out = controls_study();
    CHECK(out != NULL);
    if (!out) return;
    char *report = path_in(out, "report");
    check_results(report, &every_control);
    check_summary(report, &every_control);
    char *md_path = path_in(report, "report.md"), *md = read_whole_file(md_path, NULL);
    char *four = md ? strstr(md, "## Target: four (adam)") : NULL, *next = four ? strstr(four + 1, "\n## ") : NULL;
    CHECK(four != NULL && next != NULL);
    if (next) *next = 0; /* only target four's table */
    for (int k = 0; four && k < TK_CONTROL_COUNT; k++) {
        char want[96];
        const char *from[] = {"four", "six"};
        for (int f = 0; f < (k == TK_CONTROL_L1 ? 1 : 2); f++) {
            if (k == TK_CONTROL_L1) snprintf(want, sizeof want, "| %s |", tk_controls[k].name);
            else snprintf(want, sizeof want, "| %s of %s (adam) |", tk_controls[k].name, from[f]);
            CHECK_CONTAINS(four, want);
        }
    }
    free(md), free(md_path), free(report);

    char *runs = path_in(out, "runs");
    for (int t = 0; t < every_control.n_targets; t++) {
        char *run = find_run(runs, ctl_targets[t].dataset, TK_OPTIM_ADAM, CTL_SEED);
        CHECK(run != NULL);
        for (int level = 1; run && level <= LEVELS; level++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/level_%02d/checkpoint", run, level);
            tk_model *ticket = load_checkpoint(path);
            CHECK(ticket != NULL);
            for (int k = 0; ticket && k < TK_CONTROL_COUNT; k++) {
                snprintf(path, sizeof path, "%s/level_%02d/%s/checkpoint", run, level, tk_controls[k].name);
                tk_model *control = load_checkpoint(path);
                bool holds = control && relation_holds((tk_control)k, relate(ticket, control, true));
                if (!holds) printf("  %s: not the mask of %s\n", path, tk_controls[k].name);
                CHECK(holds);
                tk_model_free(control);
            }
            tk_model_free(ticket);
        }
        free(run);
    }
    free(runs);

    /* The plan: one chain for "six" (source and target) with the controls, one for "four". */
    char cmd[PATH_MAX + 64], want[160], *spec = write_spec(controls_run.root, &every_control);
    int control_runs = every_control.n_targets * (LEVELS * TK_CONTROL_COUNT + 1); /* + l1's dense run */
    int jobs = expected_jobs(&every_control), finds = every_control.n_targets * (LEVELS + 1);
    snprintf(cmd, sizeof cmd, "study plan '%s' --out '%s'", spec, out);
    snprintf(want, sizeof want, "%d jobs (%d find levels with %d native control runs, %d transfers), %d done", jobs,
             finds, control_runs, jobs - finds, jobs);
    CHECK_TICKET(controls_run.root, "", cmd, 0, want,
                 "find six seed 3 level 1 + reinit,random_mask,random_ticket,random_global,l1");
    free(spec);
}

/* Count of kept weights of the tensors but the output layer where m's
 * weight equals ref's (same tensor name); ref_mask: only where it keeps too. */
static size_t equal_kept(const tk_model *m, const tk_model *ref, const uint8_t *ref_mask) {
    size_t same = 0;
    for (int i = 0; i < m->n_param_tensors; i++) {
        const tk_param *t = &m->params[i];
        int j = tk_model_find_param(ref, t->name);
        if (!t->prunable || t->is_output || j < 0) continue;
        const tk_param *r = &ref->params[j];
        for (size_t k = 0; k < t->count; k++)
            same += m->mask[t->offset + k] && (!ref_mask || ref_mask[r->offset + k]) &&
                    m->param[t->offset + k] == ref->param[r->offset + k];
    }
    return same;
}

/* The transferred controls of the ticket of "six" (6 classes) at level 2 on
 * "four" (4 classes): made by tk_transfer_control from the transferred
 * ticket, as SEMANTICS.md defines them, and the study's jobs trained from
 * exactly these networks. */
static void test_transfer_controls(void) {
    const char *out = controls_study();
    CHECK(out != NULL);
    if (!out) return;
    tk_study *s = calloc(1, sizeof *s);
    tk_error err = {0};
    char *text = spec_json(&every_control);
    CHECK(tk_study_from_json(text, "controls.json", s, &err) == 0);
    free(text);
    tk_train_config cfg = s->targets[1].train;
    cfg.seed = CTL_SEED;
    char *runs = path_in(out, "runs"), *run = find_run(runs, DATA6, TK_OPTIM_ADAM, CTL_SEED);
    free(runs);
    CHECK(run != NULL);
    if (!run) {
        free(s);
        return;
    }
    char ticket[PATH_MAX], rewind[PATH_MAX];
    snprintf(ticket, sizeof ticket, "%s/level_%02d/ticket", run, LEVELS);
    snprintf(rewind, sizeof rewind, "%s/level_00/rewind", run);
    transfer_start ts = {.ticket = ticket, .head = TK_HEAD_REINIT_SAME_DENSITY, .seed = CTL_SEED, .level = LEVELS,
                         .control = -1, .rewind = rewind, .prune = &s->prune};
    tk_model *tk = fresh_model(&cfg), *dense = load_checkpoint(rewind);
    CHECK(tk && dense && prepare_transfer(tk, &ts, &err) == 0);
    if (!tk || !dense) return;
    int head = -1;
    for (int i = 0; i < tk->n_param_tensors; i++) head = tk->params[i].is_output && tk->params[i].prunable ? i : head;
    CHECK(head >= 0 && kept_in(tk, tk->mask, head) < tk->params[head].count); /* the head's own random mask */
    size_t kept = kept_over(tk, tk->mask, false);
    CHECK(kept > 0 && equal_kept(tk, dense, NULL) == kept); /* the ticket: the rewind weights where it keeps */

    for (int k = 0; k < TK_CONTROL_COUNT; k++) {
        if (k == TK_CONTROL_L1) continue;
        tk_model *m = fresh_model(&cfg);
        ts.control = k;
        CHECK(m && prepare_transfer(m, &ts, &err) == 0);
        if (!m) continue;
        mask_relation r = relate(tk, m, false);
        CHECK(relation_holds((tk_control)k, r));
        /* The head as for the ticket: its mask; the ticket's fresh weights
         * unless the control's weights are all fresh. */
        const tk_param *h = &m->params[head];
        CHECK(!memcmp(m->mask + h->offset, tk->mask + h->offset, h->count));
        bool head_same = !memcmp(m->param + h->offset, tk->param + h->offset, h->count * sizeof(float));
        CHECK(head_same == (k == TK_CONTROL_RANDOM_MASK));
        /* random_mask: the source's weights at the rewind point where it
         * keeps (so the ticket's where both keep); the others fresh. */
        size_t same = equal_kept(m, dense, NULL), same_as_ticket = equal_kept(m, tk, tk->mask);
        if (k == TK_CONTROL_RANDOM_MASK) {
            CHECK(same == kept);
            CHECK(same_as_ticket > 0 && same_as_ticket < kept);
        } else {
            CHECK(same * 100 < kept && same_as_ticket * 100 < kept);
        }
        for (size_t i = 0; i < m->n_prunable; i++) CHECK(m->mask[i] || m->param[i] == 0.0f);

        /* The study's job: trained from this network, bit for bit. */
        char job[PATH_MAX], *redo = test_tmpdir("control"), *mine = path_in(redo, "checkpoint");
        snprintf(job, sizeof job, "%s/transfer/six/four/s%d/level_%02d/%s/checkpoint", out, CTL_SEED, LEVELS,
                 tk_controls[k].name);
        tk_train_start start = {.prepare = prepare_transfer, .ctx = &ts};
        tk_train_result result;
        CHECK(tk_train_run_from(&cfg, redo, &start, TK_PROGRESS_NONE, &result, &err) == 0);
        CHECK(same_bytes(mine, job));
        rm_rf(redo);
        free(redo), free(mine);
        tk_model_free(m);
    }

    /* What a transfer cannot train, and files that do not fit. */
    tk_rng rng;
    tk_rng_seed(&rng, 1, 0);
    CHECK(tk_transfer_control(tk, WIDTH, TK_CONTROL_L1, &s->prune, rewind, &rng, &rng, &err) == -1);
    CHECK_CONTAINS(err.msg, "control l1 is trained beside native tickets only");
    char nowhere[PATH_MAX];
    snprintf(nowhere, sizeof nowhere, "%s/nowhere/rewind", out);
    CHECK(tk_transfer_control(tk, WIDTH, TK_CONTROL_RANDOM_MASK, &s->prune, nowhere, &rng, &rng, &err) == -1);
    CHECK_CONTAINS(err.msg, nowhere);
    CHECK(tk_transfer_control(tk, 0.2f, TK_CONTROL_RANDOM_MASK, &s->prune, rewind, &rng, &rng, &err) == -1);
    CHECK_CONTAINS(err.msg, "comes from a run of lenet_300_100 (width 0.1");
    CHECK_CONTAINS(err.msg, "the target trains lenet_300_100 (width 0.2");
    tk_model_free(tk), tk_model_free(dense);
    free(run), free(s);
}

/* Files named `name` under a folder, as paths relative to it. */
static char **walk_names;
static const char *walk_name;
static size_t walk_root;
static int walk_named(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)ftw;
    const char *base = strrchr(path, '/');
    if (flag == FTW_F && base && !strcmp(base + 1, walk_name) && walk_n < 4096)
        walk_names[walk_n++] = strdup(path + walk_root);
    return 0;
}

static int files_named(const char *root, const char *name, char ***found) {
    walk_names = calloc(4096, sizeof *walk_names), walk_n = 0, walk_name = name, walk_root = strlen(root);
    nftw(root, walk_named, 16, FTW_PHYS);
    *found = walk_names;
    return walk_n;
}

/* The same study run again, one worker instead of two: every control (and
 * every other run) ends with the same bytes. */
static void test_controls_deterministic(void) {
    const char *reference = controls_study();
    CHECK(reference != NULL);
    if (!reference) return;
    char *dir = test_tmpdir("controls-again"), *spec = write_spec(dir, &every_control), *out = path_in(dir, "out");
    char *log = path_in(dir, "run.log");
    char *args[] = {"ticket", "study", "run", spec, "--out", out, "-j", "1", NULL};
    CHECK(run_ticket(args, log) == 0);
    char **files;
    int n = files_named(reference, "checkpoint", &files), differ = 0, controls = 0;
    for (int i = 0; i < n; i++) {
        char *mine = path_in(out, files[i]), *theirs = path_in(reference, files[i]);
        differ += !same_bytes(mine, theirs);
        for (int k = 0; k < TK_CONTROL_COUNT; k++) {
            char sub[64];
            snprintf(sub, sizeof sub, "/%s/checkpoint", tk_controls[k].name);
            controls += strstr(files[i], sub) != NULL;
        }
        free(mine), free(theirs), free(files[i]);
    }
    free(files);
    /* Every run: the rows of results.csv and l1's dense runs. */
    CHECK(n == expected_rows(&every_control) + every_control.n_targets);
    CHECK(controls == every_control.n_targets * LEVELS * TK_CONTROL_COUNT + LEVELS * (TK_CONTROL_COUNT - 1));
    CHECK(differ == 0);
    CHECK(same_table(out, reference, "results.csv"));
    free(spec), free(out), free(log);
    rm_rf(dir);
    free(dir);
}

/* An interrupted study: a native control without its summary.json and a
 * transferred control never started. The rerun trains just those two, leaves
 * every other file alone, and ends with the uninterrupted study's numbers. */
static void test_controls_resume(void) {
    const char *reference = controls_study();
    CHECK(reference != NULL);
    if (!reference) return;
    char *dir = test_tmpdir("controls-resume"), *spec = write_spec(dir, &every_control), *out = path_in(dir, "out");
    char *runs = path_in(out, "runs");
    CHECK(copy_study(reference, out));
    char *run = find_run(runs, DATA6, TK_OPTIM_ADAM, CTL_SEED);
    CHECK(run != NULL);
    if (run) {
        char summary[PATH_MAX], transfer[PATH_MAX], kept[3][PATH_MAX], a[PATH_MAX], b[PATH_MAX];
        snprintf(summary, sizeof summary, "%s/level_01/reinit/summary.json", run);
        snprintf(transfer, sizeof transfer, "%s/transfer/six/four/s%d/level_02/random_global", out, CTL_SEED);
        snprintf(kept[0], sizeof kept[0], "%s/level_01/reinit/checkpoint", run);
        snprintf(kept[1], sizeof kept[1], "%s/level_01/random_mask/summary.json", run);
        snprintf(kept[2], sizeof kept[2], "%s/transfer/six/four/s%d/level_01/random_global/summary.json", out,
                 CTL_SEED);
        struct stat before[3], after;
        for (int i = 0; i < 3; i++) CHECK(stat(kept[i], &before[i]) == 0);
        CHECK(unlink(summary) == 0);
        rm_rf(transfer);
        char *log = path_in(dir, "rerun.log");
        char *args[] = {"ticket", "study", "run", spec, "--out", out, "-j", "2", NULL};
        CHECK(run_ticket(args, log) == 0);
        char *text = read_whole_file(log, NULL), want[64];
        snprintf(want, sizeof want, "\"already_done\":%d,", expected_jobs(&every_control) - 2);
        CHECK_CONTAINS(text, want);
        CHECK_CONTAINS(text, "\"job\":\"find six seed 3 level 1");
        CHECK_CONTAINS(text, "\"job\":\"transfer six -> four seed 3 level 2 random_global\"");
        free(text), free(log);
        CHECK(tk_file_exists(summary));
        snprintf(a, sizeof a, "%s/checkpoint", transfer);
        snprintf(b, sizeof b, "%s/transfer/six/four/s%d/level_02/random_global/checkpoint", reference, CTL_SEED);
        CHECK(same_bytes(a, b));
        for (int i = 0; i < 3; i++)
            CHECK(stat(kept[i], &after) == 0 && after.st_mtim.tv_sec == before[i].st_mtim.tv_sec &&
                  after.st_mtim.tv_nsec == before[i].st_mtim.tv_nsec);
        CHECK(same_table(out, reference, "results.csv"));
    }
    free(run), free(runs), free(spec), free(out);
    rm_rf(dir);
    free(dir);
}

/* Control names: an unknown one with the nearest and the valid ones, a
 * non-string, a non-array. */
static void test_control_spec_errors(void) {
    const char *bad = "{\"model\": \"lenet_300_100\", \"width\": 0.1,\n"
                      " \"sources\": [{\"name\": \"a\", \"train\": {\"dataset\": \"" DATA4 "\"}}],\n"
                      " \"targets\": [{\"name\": \"c\", \"train\": {\"dataset\": \"" DATA6 "\"}}],\n"
                      " \"controls\": [\"reinit\", \"random_tickt\", 7]}";
    const char *const bad_found[] = {"bad.json: key 'controls[1]': unknown control 'random_tickt'",
                                     "did you mean 'random_ticket'?",
                                     "valid: reinit, random_mask, random_ticket, random_global, l1",
                                     "bad.json: key 'controls[2]' must be a non-empty string, not 7", NULL};
    CHECK(refused_with(bad, bad_found));
    const char *not_array = "{\"model\": \"lenet_300_100\", \"width\": 0.1,\n"
                            " \"sources\": [{\"name\": \"a\", \"train\": {\"dataset\": \"" DATA4 "\"}}],\n"
                            " \"targets\": [{\"name\": \"c\", \"train\": {\"dataset\": \"" DATA6 "\"}}],\n"
                            " \"controls\": \"reinit\"}";
    const char *const not_array_found[] = {"bad.json: key 'controls' must be an array of control names, e.g. [\"reinit\", "
                                           "\"random_ticket\"], not \"reinit\"", NULL};
    CHECK(refused_with(not_array, not_array_found));
    /* Every name is accepted, and only what is named is set. */
    tk_study *s = calloc(1, sizeof *s);
    tk_error err = {0};
    char *text = spec_json(&every_control);
    CHECK(tk_study_from_json(text, "controls.json", s, &err) == 0);
    for (int k = 0; k < TK_CONTROL_COUNT; k++) CHECK(s->controls[k]);
    free(text);
    text = study_json();
    CHECK(tk_study_from_json(text, "tiny.json", s, &err) == 0);
    for (int k = 0; k < TK_CONTROL_COUNT; k++) CHECK(s->controls[k] == (k == TK_CONTROL_RANDOM_TICKET));
    free(text), free(s);
}

int main(void) {
    use_repo_plots();
    RUN(test_study_end_to_end);
    RUN(test_jobs_one_at_a_time);
    RUN(test_bench);
    RUN(test_transfer_semantics);
    RUN(test_kill_and_rerun);
    RUN(test_rerun_after_kill_before_ticket);
    RUN(test_spec_validation);
    RUN(test_controls_end_to_end);
    RUN(test_transfer_controls);
    RUN(test_controls_deterministic);
    RUN(test_controls_resume);
    RUN(test_control_spec_errors);
    free_run(&tiny_run);
    free_run(&controls_run);
    CHECK_MAIN_END();
}
