/* test_report.c - the study report: tables, summaries, the transfer matrix,
 * mask overlap against chance, missing cells, and the gnuplot figures. */
#define _GNU_SOURCE /* setenv, realpath */
#include "check.h"
#include "tk_file.h"
#include "tk_report.h"
#include "tk_ticket.h"

#include <limits.h>
#include <sys/stat.h>

/* ---- a hand-made study: targets and sources mnist and fashion-mnist (sgd),
 * seeds 1 and 2, levels 1..4 at density 0.5^L; per target the dense network,
 * the native ticket, the other source's ticket and the random ticket.
 * final accuracy = base(target) - 0.01 L + offset(target, kind) + 0.004 (seed 2). */

static const char *const datasets[2] = {"mnist", "fashion-mnist"};
enum { KIND_DENSE, KIND_NATIVE, KIND_TRANSFER, KIND_RANDOM };
static const double base[2] = {0.90, 0.80};
/* offset[target][kind]: on fashion-mnist the transferred ticket beats the native one. */
static const double offset[2][4] = {{0.05, 0.02, 0.01, -0.03}, {0.05, 0.02, 0.025, -0.05}};

static double accuracy(int target, int kind, int level, int seed) {
    return base[target] - 0.01 * level + offset[target][kind] + (seed == 2 ? 0.004 : 0.0);
}

/* Layers of the masks: two hidden layers and the output layer. */
static const char *const layer_names[3] = {"fc1.weight", "fc2.weight", "fc3.weight"};
static const size_t layer_sizes[3] = {300, 100, 20};
#define N_PRUNABLE 420

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A ticket's mask: global magnitude pruning of pseudo-random scores (part
 * shared between sources, so that overlap beats chance), the output layer's
 * scores scaled up as a real network's are. */
static void make_mask(int source, int seed, int level, uint8_t *mask) {
    double score[N_PRUNABLE];
    for (int i = 0; i < N_PRUNABLE; i++) {
        double shared = (double)(mix((uint64_t)(seed * 1000 + i)) >> 11) / 9007199254740992.0;
        double own = (double)(mix((uint64_t)(source * 77777 + seed * 1000 + i)) >> 11) / 9007199254740992.0;
        score[i] = (0.6 * shared + 0.4 * own) * (i >= 400 ? 3.0 : i >= 300 ? 1.5 : 1.0);
    }
    size_t keep = (size_t)(N_PRUNABLE * pow(0.5, level) + 0.5);
    for (int i = 0; i < N_PRUNABLE; i++) {
        size_t above = 0;
        for (int j = 0; j < N_PRUNABLE; j++) above += score[j] > score[i] || (score[j] == score[i] && j > i);
        mask[i] = above < keep;
    }
}

static void write_sparsity(const char *path, const uint8_t *mask) {
    tk_buf b = {0};
    tk_buf_printf(&b, "{\"level\": 1, \"layers\": [");
    size_t at = 0;
    for (int l = 0; l < 3; l++) {
        size_t kept = 0;
        for (size_t i = 0; i < layer_sizes[l]; i++) kept += mask[at + i];
        tk_buf_printf(&b, "%s{\"name\": \"%s\", \"kept\": %zu, \"total\": %zu, \"density\": %.9g, "
                          "\"pruned_by_strategy\": true}",
                      l ? ", " : "", layer_names[l], kept, layer_sizes[l], (double)kept / (double)layer_sizes[l]);
        at += layer_sizes[l];
    }
    tk_buf_printf(&b, "]}\n");
    write_file(path, b.data, b.len);
    tk_buf_free(&b);
}

/* Three evaluations rising to the run's final accuracy. */
static void write_metrics(const char *run_dir, double final) {
    mkdir(run_dir, 0755);
    char *path = path_in(run_dir, "metrics.jsonl");
    tk_buf b = {0};
    for (int k = 0; k <= 3; k++)
        tk_buf_printf(&b, "{\"iteration\": %d, \"epoch\": %g, \"train_loss\": 1.0, \"test_loss\": 0.5, "
                          "\"test_accuracy\": %.9g, \"lr\": 0.1}\n",
                      100 * k, k * 0.5, final - 0.3 * (3 - k) / 3.0);
    write_file(path, b.data, b.len);
    tk_buf_free(&b);
    free(path);
}

typedef struct study {
    char *dir;
    tk_result_row rows[64];
    int n_rows;
    tk_mask_ref masks[16];
    int n_masks;
} study;

static void add_row(study *s, int target, int source, int kind, int level, int seed) {
    tk_result_row *r = &s->rows[s->n_rows++];
    memset(r, 0, sizeof *r);
    snprintf(r->study, sizeof r->study, "hand");
    snprintf(r->model, sizeof r->model, "lenet_300_100");
    snprintf(r->target, sizeof r->target, "%s", datasets[target]);
    snprintf(r->source, sizeof r->source, "%s", datasets[source]);
    snprintf(r->target_optimizer, sizeof r->target_optimizer, "sgd");
    snprintf(r->source_optimizer, sizeof r->source_optimizer, "sgd");
    static const char *const controls[] = {"dense", "ticket", "ticket", "random_ticket"};
    snprintf(r->control, sizeof r->control, "%s", controls[kind]);
    r->native = kind == KIND_NATIVE;
    r->level = level;
    r->density = pow(0.5, level);
    r->seed = (uint64_t)seed;
    r->final_accuracy = accuracy(target, kind, level, seed);
    r->best_accuracy = r->final_accuracy + 0.005;
    r->best_iteration = 100 * level + seed;
    snprintf(r->run_dir, sizeof r->run_dir, "%s/run%02d", s->dir, s->n_rows);
    /* One run without metrics: the training curves leave it out and say so. */
    if (!(kind == KIND_DENSE && target == 0 && seed == 2)) write_metrics(r->run_dir, r->final_accuracy);
}

/* 50 rows: fashion-mnist's ticket on mnist at level 3 is left out (a missing cell). */
static void make_study(study *s) {
    memset(s, 0, sizeof *s);
    s->dir = test_tmpdir("report");
    for (int t = 0; t < 2; t++)
        for (int seed = 1; seed <= 2; seed++) {
            add_row(s, t, t, KIND_DENSE, 0, seed);
            for (int level = 1; level <= 4; level++) {
                add_row(s, t, t, KIND_NATIVE, level, seed);
                if (!(t == 0 && level == 3)) add_row(s, t, 1 - t, KIND_TRANSFER, level, seed);
                add_row(s, t, t, KIND_RANDOM, level, seed);
            }
        }
    uint8_t mask[N_PRUNABLE];
    for (int src = 0; src < 2; src++)
        for (int seed = 1; seed <= 2; seed++)
            for (int level = 1; level <= 4; level++) {
                tk_mask_ref *m = &s->masks[s->n_masks++];
                memset(m, 0, sizeof *m);
                snprintf(m->source, sizeof m->source, "%s", datasets[src]);
                snprintf(m->source_optimizer, sizeof m->source_optimizer, "sgd");
                m->seed = (uint64_t)seed;
                m->level = level;
                snprintf(m->mask_path, sizeof m->mask_path, "%s/mask_%d_%d_%d", s->dir, src, seed, level);
                snprintf(m->sparsity_path, sizeof m->sparsity_path, "%s/sparsity_%d_%d_%d.json", s->dir, src, seed,
                         level);
                make_mask(src, seed, level, mask);
                tk_error err = {0};
                CHECK(tk_mask_write(m->mask_path, mask, N_PRUNABLE, &err) == 0);
                write_sparsity(m->sparsity_path, mask);
            }
}

static tk_report_input study_input(const study *s) {
    return (tk_report_input){.title = "hand-made study", .rows = s->rows, .n_rows = s->n_rows, .masks = s->masks,
                             .n_masks = s->n_masks};
}

static char *read_text(const char *dir, const char *name) {
    char *path = path_in(dir, name);
    char *text = read_whole_file(path, NULL);
    free(path);
    return text;
}

static int count_lines(const char *text) {
    int n = 0;
    for (const char *p = text; p && *p; p++) n += *p == '\n';
    return n;
}

static const char *const figure_names[] = {"accuracy_mnist_sgd", "accuracy_fashion-mnist_sgd", "transfer_matrix",
                                           "mask_overlap",       "layer_density",              "curves_mnist_sgd",
                                           "curves_fashion-mnist_sgd"};

/* An 8-byte PNG signature, then an IHDR chunk of 13 bytes with nonzero width and height. */
static bool valid_png(const char *path) {
    size_t n;
    uint8_t *d = (uint8_t *)read_whole_file(path, &n);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    bool ok = d && n >= 33 && !memcmp(d, sig, 8) && d[8] == 0 && d[9] == 0 && d[10] == 0 && d[11] == 13 &&
              !memcmp(d + 12, "IHDR", 4);
    if (ok) {
        uint32_t w = (uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19];
        uint32_t h = (uint32_t)d[20] << 24 | (uint32_t)d[21] << 16 | (uint32_t)d[22] << 8 | d[23];
        ok = w > 0 && h > 0;
    }
    free(d);
    return ok;
}

/* ---- tests */

static void test_tables_and_figures(void) {
    study s;
    make_study(&s);
    CHECK(s.n_rows == 50);
    tk_report_input in = study_input(&s);
    char *out = path_in(s.dir, "report");
    tk_error err = {0};
    int rc = tk_report_write(&in, out, &err);
    CHECK(rc == 0);
    if (rc) printf("  %s\n", err.msg);

    static const char *const tables[] = {"results.csv", "results.json", "summary.csv", "summary.json", "report.md",
                                         "mask_overlap.csv"};
    for (int i = 0; i < TK_ARRAY_LEN(tables); i++) {
        char *p = path_in(out, tables[i]);
        CHECK(tk_file_exists(p));
        free(p);
    }

    char *csv = read_text(out, "results.csv");
    static const char header[] = "study,model,target,target_optimizer,source,source_optimizer,control,native,level,"
                                 "density,seed,final_accuracy,best_accuracy,best_iteration,ticket_version,blas,"
                                 "blas_core,blas_coretype,blas_threads,engine_threads,cpu,isa,gemm\n";
    CHECK(csv && !strncmp(csv, header, strlen(header)));
    CHECK(count_lines(csv) == 1 + s.n_rows);
    /* No run folder has a summary.json: the provenance columns are empty. */
    CHECK_CONTAINS(csv, "\nhand,lenet_300_100,mnist,sgd,mnist,sgd,ticket,true,1,0.5,1,0.91,0.915,101,,,,,,,,,\n");
    free(csv);

    char *json = read_text(out, "results.json");
    CHECK_CONTAINS(json, "\"control\":\t\"random_ticket\"");
    CHECK_CONTAINS(json, "\"study\":\t\"hand\",\n\t\t\"model\":\t\"lenet_300_100\",");
    int objects = 0;
    for (const char *p = json; p && (p = strstr(p, "\"best_iteration\"")); p++) objects++;
    CHECK(objects == s.n_rows);
    free(json);

    /* mnist target, fashion-mnist's ticket, level 2: 0.89 and 0.894. */
    char *summary = read_text(out, "summary.csv");
    CHECK_CONTAINS(summary, "\nmnist,sgd,fashion-mnist,sgd,ticket,false,2,0.25,2,0.892,0.00282842712,0.89,0.894,"
                            "0.897,0.00282842712,0.895,0.899\n");
    /* 2 targets x (dense + 4 native + 4 random + transferred: 3 on mnist, 4 on fashion-mnist) groups. */
    CHECK(count_lines(summary) == 1 + 2 * 9 + 3 + 4);
    free(summary);

    tk_report r;
    CHECK(tk_report_analyze(&in, &r, &err) == 0);
    int g = tk_report_find_group(&r, "mnist", "sgd", "fashion-mnist", "sgd", "ticket", 2);
    CHECK(g >= 0);
    if (g >= 0) {
        CHECK(r.groups[g].n == 2);
        CHECK_NEAR(r.groups[g].final_mean, 0.892, 1e-12);
        CHECK_NEAR(r.groups[g].final_std, 0.004 / sqrt(2.0), 1e-12);
        CHECK_NEAR(r.groups[g].best_max, 0.899, 1e-12);
        CHECK_NEAR(r.groups[g].density, 0.25, 0);
    }
    CHECK(tk_report_find_group(&r, "mnist", "sgd", "fashion-mnist", "sgd", "ticket", 3) == -1);
    /* Nearest to 50%, 20% and 5% on a log scale: levels 1, 2 and 4. */
    CHECK(r.n_matrix == 3 && r.matrix_level[0] == 1 && r.matrix_level[1] == 2 && r.matrix_level[2] == 4);
    /* 4 masks a level, 6 pairs each. */
    CHECK(r.n_pairs == 4 * 6);
    tk_report_free(&r);
    char *pairs = read_text(out, "mask_overlap.csv");
    CHECK(count_lines(pairs) == 1 + 4 * 6);
    free(pairs);

    char *md = read_text(out, "report.md");
    CHECK_CONTAINS(md, "# hand-made study");
    CHECK_CONTAINS(md, "final accuracy");
    CHECK_CONTAINS(md, "best accuracy over evaluations and its iteration are in results.csv");
    CHECK_CONTAINS(md, "| level | weights remaining (%) | native ticket | from fashion-mnist (sgd) | random_ticket |");
    CHECK_CONTAINS(md, "| 2 | 25.00 | 90.20 ± 0.28 | 89.20 ± 0.28 | 85.20 ± 0.28 |");
    /* The missing cell, and the note counting it. */
    CHECK_CONTAINS(md, "| 3 | 12.50 | 89.20 ± 0.28 | — | 84.20 ± 0.28 |");
    CHECK_CONTAINS(md, "1 cells have no result and show —");
    CHECK_CONTAINS(md, "Dense network (reference): 95.20 ± 0.28 (n = 2)");
    /* Transfer matrix at level 2: fashion-mnist -> mnist is 1 point below the
     * native ticket and 4 above the random one; mnist -> fashion-mnist 0.5
     * above its native ticket and 7.5 above the random one. */
    CHECK_CONTAINS(md, "### Level 2: 25.00% of weights remaining");
    CHECK_CONTAINS(md, "| source \\ target | fashion-mnist (sgd) | mnist (sgd) |");
    CHECK_CONTAINS(md, "| fashion-mnist (sgd) | 80.20 (native; Δ random +7.00) | 89.20 (Δ native -1.00; Δ random "
                       "+4.00) |");
    CHECK_CONTAINS(md, "| mnist (sgd) | 80.70 (Δ native +0.50; Δ random +7.50) | 90.20 (native; Δ random +5.00) |");
    CHECK_CONTAINS(md, "### Per-layer density");
    CHECK_CONTAINS(md, "| level | overall | fc1.weight | fc2.weight | fc3.weight |");
    CHECK_CONTAINS(md, "#### Level 4: 6.19% of weights remaining"); /* round(420/16) = 26 of 420 */
    CHECK_CONTAINS(md, "1 runs have no metrics.jsonl");
    CHECK(!strstr(md, "figures skipped"));
    for (int i = 0; i < TK_ARRAY_LEN(figure_names); i++) {
        char name[160];
        snprintf(name, sizeof name, "](figures/%s.png)", figure_names[i]);
        CHECK_CONTAINS(md, name);
    }
    free(md);

    for (int i = 0; i < TK_ARRAY_LEN(figure_names); i++) {
        char name[160];
        snprintf(name, sizeof name, "figures/%s.png", figure_names[i]);
        char *png = path_in(out, name);
        bool ok = valid_png(png);
        CHECK(ok);
        if (!ok) printf("  not a valid PNG: %s\n", png);
        free(png);
        snprintf(name, sizeof name, "figures/%s.svg", figure_names[i]);
        char *svg = read_text(out, name);
        CHECK(svg && (!strncmp(svg, "<?xml", 5) || !strncmp(svg, "<svg", 4)));
        free(svg);
    }
    if (getenv("KEEP_REPORT")) printf("  kept %s\n", out);
    else rm_rf(s.dir);
    free(out), free(s.dir);
}

/* Two masks built by hand. Layer A (8 weights): a = 11110000, b = 11101100:
 * |A n B| = 3, |A u B| = 6. Layer B (4 weights): a = 1100, b = 1000: 1 and 2.
 * Jaccard = 4 / 8. Chance: A: n a b = 8 (0.5)(0.625) = 2.5, n (a + b - ab) =
 * 6.5; B: 4 (0.5)(0.25) = 0.5 and 2.5; (2.5 + 0.5) / (6.5 + 2.5) = 1/3. */
static void test_jaccard_by_hand(void) {
    char *dir = test_tmpdir("jaccard");
    static const uint8_t a[12] = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0}, b[12] = {1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0};
    tk_mask_ref refs[2];
    memset(refs, 0, sizeof refs);
    tk_error err = {0};
    for (int k = 0; k < 2; k++) {
        snprintf(refs[k].source, sizeof refs[k].source, "%s", k ? "fashion-mnist" : "mnist");
        snprintf(refs[k].source_optimizer, sizeof refs[k].source_optimizer, "adam");
        refs[k].seed = 7;
        refs[k].level = 3;
        snprintf(refs[k].mask_path, sizeof refs[k].mask_path, "%s/mask%d", dir, k);
        snprintf(refs[k].sparsity_path, sizeof refs[k].sparsity_path, "%s/sparsity%d.json", dir, k);
        CHECK(tk_mask_write(refs[k].mask_path, k ? b : a, 12, &err) == 0);
        char json[512];
        snprintf(json, sizeof json,
                 "{\"layers\": [{\"name\": \"A\", \"kept\": %d, \"total\": 8, \"density\": 0},"
                 " {\"name\": \"B\", \"kept\": %d, \"total\": 4, \"density\": 0}]}",
                 k ? 5 : 4, k ? 1 : 2);
        write_file(refs[k].sparsity_path, json, strlen(json));
    }
    tk_report_input in = {.masks = refs, .n_masks = 2};
    tk_report r;
    CHECK(tk_report_analyze(&in, &r, &err) == 0);
    CHECK(r.n_pairs == 1);
    if (r.n_pairs == 1) {
        CHECK_NEAR(r.pairs[0].jaccard, 0.5, 1e-12);
        CHECK_NEAR(r.pairs[0].chance, 1.0 / 3.0, 1e-12);
    }
    /* Sources sorted: fashion-mnist (0), mnist (1); the overlap is symmetric. */
    CHECK(r.n_mask_sources == 2 && r.n_mask_levels == 1);
    if (r.n_mask_sources == 2) {
        CHECK(r.overlap[1].pairs == 1 && r.overlap[2].pairs == 1 && r.overlap[0].pairs == 0);
        CHECK_NEAR(r.overlap[2].jaccard, 0.5, 1e-12);
        /* Per-layer density of mnist's mask: 4/8 and 2/4. */
        CHECK_NEAR(r.profiles[1].layer_density[0], 0.5, 1e-12);
        CHECK_NEAR(r.profiles[0].layer_density[0], 0.625, 1e-12);
        CHECK_NEAR(r.profiles[0].density, 6.0 / 12.0, 1e-12);
    }
    tk_report_free(&r);

    /* A sparsity file that does not describe the mask is caught. */
    const char *wrong = "{\"layers\": [{\"name\": \"A\", \"kept\": 3, \"total\": 8}, {\"name\": \"B\", \"kept\": 2, "
                        "\"total\": 4}]}";
    write_file(refs[0].sparsity_path, wrong, strlen(wrong));
    CHECK(tk_report_analyze(&in, &r, &err) == -1);
    CHECK_CONTAINS(err.msg, "keeps 4 weights of layer A");
    CHECK_CONTAINS(err.msg, "sparsity0.json says 3");
    /* A mask whose size disagrees with the sparsity file's totals. */
    const char *longer = "{\"layers\": [{\"name\": \"A\", \"kept\": 4, \"total\": 9}, {\"name\": \"B\", \"kept\": 2, "
                         "\"total\": 4}]}";
    write_file(refs[0].sparsity_path, longer, strlen(longer));
    CHECK(tk_report_analyze(&in, &r, &err) == -1);
    CHECK_CONTAINS(err.msg, "holds a mask of 12 weights");
    CHECK_CONTAINS(err.msg, "sum of \"total\"");
    rm_rf(dir);
    free(dir);
}

static void test_csv_quoting_and_bad_rows(void) {
    char *dir = test_tmpdir("report-csv");
    tk_result_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.study, sizeof row.study, "study, one");
    snprintf(row.model, sizeof row.model, "conv2");
    snprintf(row.target, sizeof row.target, "folder \"a\",b");
    snprintf(row.target_optimizer, sizeof row.target_optimizer, "adam");
    snprintf(row.source, sizeof row.source, "%s", row.target);
    snprintf(row.source_optimizer, sizeof row.source_optimizer, "adam");
    snprintf(row.control, sizeof row.control, "dense");
    row.density = 1;
    row.seed = 18446744073709551615ull;
    row.final_accuracy = 0.5, row.best_accuracy = 0.75, row.best_iteration = 40;
    tk_report_input in = {.title = "quoting", .rows = &row, .n_rows = 1};
    tk_error err = {0};
    CHECK(tk_report_write(&in, dir, &err) == 0);
    char *csv = read_text(dir, "results.csv");
    CHECK_CONTAINS(csv, "\n\"study, one\",conv2,\"folder \"\"a\"\",b\",adam,\"folder \"\"a\"\",b\",adam,dense,false,0,1,"
                        "18446744073709551615,0.5,0.75,40,,,,,,,,,\n");
    free(csv);
    char *json = read_text(dir, "results.json");
    CHECK_CONTAINS(json, "\"seed\":\t18446744073709551615,");
    free(json);
    char *md = read_text(dir, "report.md");
    CHECK_CONTAINS(md, "No pruned tickets in the results");
    free(md);

    /* Percentages where fractions belong: refused with the row and field. */
    row.final_accuracy = 97.5;
    CHECK(tk_report_write(&in, dir, &err) == -1);
    CHECK_CONTAINS(err.msg, "result row 0");
    CHECK_CONTAINS(err.msg, "final_accuracy = 97.5: expected a fraction in [0, 1]");
    /* A row that does not say its model cannot be scoped by `ticket regress`. */
    row.final_accuracy = 0.5;
    row.model[0] = 0;
    CHECK(tk_report_write(&in, dir, &err) == -1);
    CHECK_CONTAINS(err.msg, "result row 0: study, model, target, target_optimizer, source, source_optimizer and "
                            "control must all be set (found \"study, one\", \"\",");
    rm_rf(dir);
    free(dir);
}

static void test_without_gnuplot(void) {
    study s;
    make_study(&s);
    tk_report_input in = study_input(&s);
    char *out = path_in(s.dir, "report"), *empty = path_in(s.dir, "empty-bin");
    mkdir(empty, 0755);
    char *saved = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", empty, 1);
    tk_error err = {0};
    int rc = tk_report_write(&in, out, &err);
    setenv("PATH", saved, 1);
    CHECK(rc == 0);
    static const char *const tables[] = {"results.csv", "results.json", "summary.csv", "summary.json",
                                         "mask_overlap.csv"};
    for (int i = 0; i < TK_ARRAY_LEN(tables); i++) {
        char *p = path_in(out, tables[i]);
        CHECK(tk_file_exists(p));
        free(p);
    }
    char *md = read_text(out, "report.md");
    CHECK_CONTAINS(md, "figures skipped: gnuplot not found; apt-get install gnuplot-nox");
    CHECK_CONTAINS(md, "Δ native -1.00; Δ random +4.00"); /* the tables are all there */
    CHECK(!strstr(md, "](figures/"));
    free(md);
    char *fig = path_in(out, "figures/accuracy_mnist_sgd.png");
    CHECK(!tk_file_exists(fig));
    free(fig);
    rm_rf(s.dir);
    free(out), free(empty), free(saved), free(s.dir);
}

/* A script gnuplot rejects: an error naming the script and gnuplot's message,
 * and a report.md that still has every table and says what failed. */
static void test_gnuplot_error_is_reported(void) {
    study s;
    make_study(&s);
    tk_report_input in = study_input(&s);
    char *plots = path_in(s.dir, "plots"), *out = path_in(s.dir, "report");
    mkdir(plots, 0755);
    char *script = path_in(plots, "accuracy_vs_density.gp");
    const char *bad = "plot sin(x) with no_such_style\n";
    write_file(script, bad, strlen(bad));
    char *saved = getenv("TICKET_PLOTS") ? strdup(getenv("TICKET_PLOTS")) : NULL;
    setenv("TICKET_PLOTS", plots, 1);
    tk_error err = {0};
    CHECK(tk_report_write(&in, out, &err) == -1);
    if (saved) setenv("TICKET_PLOTS", saved, 1);
    else unsetenv("TICKET_PLOTS");
    CHECK_CONTAINS(err.msg, "gnuplot failed on ");
    CHECK_CONTAINS(err.msg, "plots/accuracy_vs_density.gp");
    CHECK_CONTAINS(err.msg, "no_such_style");
    char *md = read_text(out, "report.md");
    CHECK_CONTAINS(md, "figures failed: gnuplot failed on");
    CHECK_CONTAINS(md, "### Level 2: 25.00% of weights remaining");
    free(md);
    rm_rf(s.dir);
    free(plots), free(out), free(script), free(saved), free(s.dir);
}

int main(void) {
    /* The tree's scripts, wherever this program was built. */
    char abs[PATH_MAX];
    if (!getenv("TICKET_PLOTS") && realpath("plots", abs)) setenv("TICKET_PLOTS", abs, 1);
    RUN(test_jaccard_by_hand);
    RUN(test_csv_quoting_and_bad_rows);
    RUN(test_tables_and_figures);
    RUN(test_without_gnuplot);
    RUN(test_gnuplot_error_is_reported);
    CHECK_MAIN_END();
}
