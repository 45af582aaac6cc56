/* cmd_bench.c - `ticket bench`: training and evaluation throughput.
 *
 * Mirrors ../shared/bench/torch_ref.py so that the two can be compared row
 * for row: the same models, batches, synthetic N(0,1) inputs with uniform
 * labels, SGD(lr 0.01, momentum 0.9, weight decay 1e-4), each configuration
 * in a fresh process (so its peak resident memory is its own). Below full
 * density (random masks, or a ticket file's mask) it measures the dense and
 * the sparse kernels side by side. */
#define _GNU_SOURCE
#include <cJSON.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tk_cli.h"
#include "tk_file.h"
#include "tk_model.h"
#include "tk_provenance.h"
#include "tk_ticket.h"

/* Each model runs on its registry entry's input shape (src/models.c). */
typedef struct bench_config {
    const char *key, *model;
    int batch;
} bench_config;

static const bench_config configs[] = {
    {"lenet_b60", "lenet_300_100", 60}, {"lenet_b128", "lenet_300_100", 128}, {"conv2_b60", "conv2", 60},
    {"conv4_b60", "conv4", 60},         {"conv6_b60", "conv6", 60},           {"resnet20_b128", "resnet20", 128},
    {"vgg11_b128", "vgg11", 128},
};

/* Where a measured model's masks come from: a ticket file (its model, shape,
 * weights and mask), or random masks keeping `density` of every prunable
 * tensor (none at 1). */
typedef struct bench_masks {
    const char *ticket;
    double density;
} bench_masks;

typedef struct bench_result {
    double train_sps, eval_sps, train_ms, eval_ms, flops;
    long max_rss_kb;
} bench_result;

static tk_option options[] = {
    {"model", "M", "one model (default: the torch_ref.py table)", NULL},
    {"batch", "B", "batch size (with --model or --ticket; default 60)", NULL},
    {"threads", "T", "threads, BLAS's and the layers' own (default 2)", NULL},
    {"seconds", "S", "timed seconds per measurement (default 3)", NULL},
    {"density", "D", "random masks keeping this fraction of every prunable tensor (default 1)", NULL},
    {"ticket", "FILE", "a ticket file (ticket find's level_NN/ticket): its model, shape, weights and mask", NULL},
    {"kernels", "dense|sparse|both", "masked layers' kernels to measure (default both below density 1)", NULL},
    {"compare", "FILE", "torch_ref.py --json output: print our/PyTorch ratios", NULL},
    {"json", "FILE", "write the results as JSON", NULL},
};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void one_step(tk_model *m, tk_optim *o, const float *x, const int32_t *y, float *probs, int B, bool train) {
    const float *logits = tk_model_forward(m, x, B, train, NULL);
    if (!train) return;
    float *dl = tk_model_output_grad(m);
    tk_softmax_xent_forward(probs, NULL, logits, y, B, m->classes);
    memset(dl, 0, (size_t)B * (size_t)m->classes * sizeof(float));
    tk_softmax_xent_backward(dl, probs, y, B, m->classes);
    tk_model_zero_grad(m);
    tk_model_backward(m, B);
    tk_model_step(m, o, 0.01f);
}

/* Median seconds per step over up to 64 repeats, after warm-up. A repeat
 * runs enough steps to last a 64th of `seconds`, so that steps of a tenth
 * of a millisecond (sparse LeNet) are not timed one by one. */
static double time_steps(tk_model *m, tk_optim *o, const float *x, const int32_t *y, float *probs, int B,
                         bool train, double seconds) {
    double times[64];
    int reps = 0;
    for (int i = 0; i < 3; i++) one_step(m, o, x, y, probs, B, train); /* warm-up */
    double start = tk_now();
    one_step(m, o, x, y, probs, B, train);
    double once = tk_now() - start;
    int steps = once > 0 && once < seconds / 64 ? (int)(seconds / 64 / once) : 1;
    while (reps < 64 && (reps < 5 || tk_now() - start < seconds)) {
        double t0 = tk_now();
        for (int i = 0; i < steps; i++) one_step(m, o, x, y, probs, B, train);
        times[reps++] = (tk_now() - t0) / steps;
    }
    qsort(times, (size_t)reps, sizeof times[0], cmp_double);
    return times[reps / 2];
}

/* Every prunable tensor keeps each weight with probability `density` (its own
 * stream, so both kernels see the same mask), pruned weights set to 0. */
static void random_masks(tk_model *m, double density) {
    tk_rng rng;
    tk_rng_seed(&rng, 0, TK_STREAM_CONTROL);
    for (size_t i = 0; i < m->n_prunable; i++) m->mask[i] = tk_rng_uniform(&rng) < density;
    tk_model_apply_mask(m);
}

/* The model of configuration c with its masks: a ticket's, random ones, or
 * none; *width (when not NULL) its width multiplier. */
static tk_model *masked_model(const bench_config *c, const bench_masks *masks, float *width, tk_error *err) {
    tk_model_config mc = {.name = c->model, .classes = 10, .width = 1};
    char name[64];
    if (masks->ticket && tk_ticket_model(masks->ticket, &mc, name, err)) return NULL;
    tk_model *m = tk_model_create(&mc, err);
    if (!m) return NULL;
    if (width) *width = mc.width;
    tk_rng rng;
    tk_rng_seed(&rng, 0, TK_STREAM_INIT);
    tk_model_init(m, &rng);
    if (masks->ticket && tk_ticket_read(masks->ticket, m, mc.width, NULL, err)) {
        tk_model_free(m);
        return NULL;
    }
    if (!masks->ticket && masks->density < 1) random_masks(m, masks->density);
    return m;
}

static int measure(const bench_config *c, int threads, double seconds, const bench_masks *masks, tk_kernels kernels,
                   bench_result *r, tk_error *err) {
    tk_model *m = masked_model(c, masks, NULL, err);
    if (!m) return -1;
    const tk_shape input = m->input;
    const int classes = m->classes;
    openblas_set_num_threads(threads);
    int B = c->batch;
    size_t in = (size_t)input.C * (size_t)input.H * (size_t)input.W;
    float *x = tk_alloc_aligned((size_t)B * in * sizeof(float));
    float *probs = tk_malloc((size_t)B * (size_t)classes * sizeof(float));
    int32_t *y = tk_malloc((size_t)B * sizeof(int32_t));
    tk_rng rng;
    tk_rng_seed(&rng, 0, TK_STREAM_DATA);
    for (size_t i = 0; i < (size_t)B * in; i++) x[i] = tk_rng_normal(&rng);
    for (int i = 0; i < B; i++) y[i] = (int32_t)tk_rng_below(&rng, (uint32_t)classes);
    tk_model_set_batch(m, B);
    tk_optim_config oc = tk_optim_defaults(TK_OPTIM_SGD);
    oc.lr = 0.01f, oc.momentum = 0.9f, oc.weight_decay = 1e-4f;
    tk_optim *o = tk_optim_create(&oc, m->n_params);
    /* As a training run sets them up (src/train.c). */
    tk_model_use_kernels(m, kernels, o);
    double train = time_steps(m, o, x, y, probs, B, true, seconds);
    double eval = time_steps(m, o, x, y, probs, B, false, seconds);
    *r = (bench_result){B / train, B / eval, 1e3 * train, 1e3 * eval, tk_model_flops(m), 0};
    tk_optim_free(o);
    free(x);
    free(probs);
    free(y);
    tk_model_free(m);
    return 0;
}

/* Runs one configuration in a child process; its peak RSS comes from wait4. */
static int measure_isolated(const bench_config *c, int threads, double seconds, const bench_masks *masks,
                            tk_kernels kernels, bench_result *r, tk_error *err) {
    int fd[2];
    if (pipe(fd)) return tk_fail(err, "pipe failed");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        tk_error child_err = {0};
        bench_result cr;
        int rc = measure(c, threads, seconds, masks, kernels, &cr, &child_err);
        if (rc == 0 && write(fd[1], &cr, sizeof cr) != (ssize_t)sizeof cr) rc = -1;
        if (rc) fprintf(stderr, "ticket bench: %s\n", child_err.msg);
        _exit(rc ? 1 : 0);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], r, sizeof *r);
    close(fd[0]);
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    if (got != (ssize_t)sizeof *r || !WIFEXITED(status) || WEXITSTATUS(status))
        return tk_fail(err, "benchmark of %s failed", c->key);
    r->max_rss_kb = ru.ru_maxrss;
    return 0;
}

/* Both kernels' runs alternate in ROUNDS rounds of seconds / ROUNDS each, so
 * that load from other work on a shared machine falls on both alike; each
 * kernel's samples/s are the median of its rounds. */
#define ROUNDS 3

static double median3(double a, double b, double c) {
    return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

static int measure_kernels(const bench_config *c, int threads, double seconds, const bench_masks *masks,
                           const tk_kernels *kernels, int n_kernels, bench_result *out, tk_error *err) {
    if (n_kernels == 1) return measure_isolated(c, threads, seconds, masks, kernels[0], &out[0], err);
    bench_result r[ROUNDS][2];
    for (int round = 0; round < ROUNDS; round++)
        for (int k = 0; k < n_kernels; k++)
            if (measure_isolated(c, threads, seconds / ROUNDS, masks, kernels[k], &r[round][k], err)) return -1;
    for (int k = 0; k < n_kernels; k++) {
        out[k] = r[0][k];
        out[k].train_sps = median3(r[0][k].train_sps, r[1][k].train_sps, r[2][k].train_sps);
        out[k].eval_sps = median3(r[0][k].eval_sps, r[1][k].eval_sps, r[2][k].eval_sps);
        out[k].train_ms = 1e3 * c->batch / out[k].train_sps;
        for (int round = 1; round < ROUNDS; round++)
            if (r[round][k].max_rss_kb > out[k].max_rss_kb) out[k].max_rss_kb = r[round][k].max_rss_kb;
    }
    return 0;
}

/* train samples/s of `key` in a torch_ref.py JSON, or 0. */
static double torch_sps(const cJSON *root, const char *key, const char *mode) {
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(root, "results")) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(row, "config");
        if (cJSON_IsString(k) && !strcmp(k->valuestring, key)) {
            const cJSON *sps = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(row, mode),
                                                                 "samples_per_s");
            return cJSON_IsNumber(sps) ? sps->valuedouble : 0;
        }
    }
    return 0;
}

static cJSON *load_json(const char *path, tk_error *err) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return NULL;
    cJSON *root = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    if (!root) tk_fail(err, "%s: not valid JSON; give the file written by torch_ref.py --json", path);
    return root;
}

int tk_cmd_bench(int argc, char **argv) {
    bool help;
    int rc = tk_cli_begin("bench", argc, argv, NULL, options, N_OPTIONS,
                          "ticket bench [--model M | --ticket FILE] [--batch B] [--threads T] [--density D] [--compare torch.json]",
                          "Training (forward, backward, SGD step) and evaluation samples/s: the median step time\n"
                          "after warm-up, on synthetic data, with GFLOP/s (training = 3 x forward FLOPs) and peak\n"
                          "resident memory. Without --model or --ticket, runs the configurations of torch_ref.py.",
                          &help);
    if (rc || help) return rc;
    tk_error err = {0};
    int threads = 2, batch = 60;
    float seconds = 3;
    if (tk_cli_int(options, N_OPTIONS, "threads", &threads, &err) < 0 ||
        tk_cli_int(options, N_OPTIONS, "batch", &batch, &err) < 0 ||
        tk_cli_float(options, N_OPTIONS, "seconds", &seconds, &err) < 0) {
        fprintf(stderr, "ticket bench: %s\n", err.msg);
        return 2;
    }
    if (threads < 1 || batch < 1 || !(seconds > 0)) {
        fprintf(stderr, "ticket bench: --threads, --batch and --seconds must be positive\n");
        return 2;
    }
    float density = 1;
    if (tk_cli_float(options, N_OPTIONS, "density", &density, &err) < 0 || !(density > 0 && density <= 1)) {
        fprintf(stderr, "ticket bench: %s\n", err.msg[0] ? err.msg : "--density must be in (0, 1]");
        return 2;
    }
    const char *model = tk_cli_find(options, N_OPTIONS, "model")->value;
    bench_masks masks = {tk_cli_find(options, N_OPTIONS, "ticket")->value, density};
    char ticket_model[64], ticket_line[256] = "";
    if (masks.ticket) {
        if (model || tk_cli_find(options, N_OPTIONS, "density")->value) {
            fprintf(stderr, "ticket bench: --ticket %s gives the model and its mask; drop --model and --density\n",
                    masks.ticket);
            return 2;
        }
        bench_config probe = {"ticket", NULL, batch};
        float width;
        tk_model *m = masked_model(&probe, &masks, &width, &err);
        if (!m) {
            fprintf(stderr, "ticket bench: %s\n", err.msg);
            return 2;
        }
        size_t kept = 0;
        for (size_t i = 0; i < m->n_prunable; i++) kept += m->mask[i];
        masks.density = m->n_prunable ? (double)kept / (double)m->n_prunable : 1;
        snprintf(ticket_model, sizeof ticket_model, "%s", m->name);
        snprintf(ticket_line, sizeof ticket_line, "%s width %g, input %dx%dx%d, %d classes, density %g", m->name,
                 width, m->input.C, m->input.H, m->input.W, m->classes, masks.density);
        model = ticket_model;
        tk_model_free(m);
    }
    /* Both kernels side by side below full density, one row each. */
    tk_kernels kernel_list[2] = {TK_KERNELS_DENSE, TK_KERNELS_SPARSE};
    const char *kernels_opt = tk_cli_find(options, N_OPTIONS, "kernels")->value;
    int n_kernels = masks.density < 1 || (kernels_opt && !strcmp(kernels_opt, "both")) ? 2 : 1;
    if (kernels_opt && strcmp(kernels_opt, "both")) {
        int k;
        if (tk_parse_name("--kernels", kernels_opt, tk_kernels_names, TK_KERNELS_COUNT, &k, &err)) {
            fprintf(stderr, "ticket bench: %s\n", err.msg);
            return 2;
        }
        kernel_list[0] = (tk_kernels)k, n_kernels = 1;
    }
    const char *compare = tk_cli_find(options, N_OPTIONS, "compare")->value;
    const char *json_out = tk_cli_find(options, N_OPTIONS, "json")->value;
    cJSON *torch = NULL;
    if (compare && !(torch = load_json(compare, &err))) {
        fprintf(stderr, "ticket bench: %s\n", err.msg);
        return 2;
    }
    bench_config single = {masks.ticket ? "ticket" : "custom", model, batch};
    const bench_config *list = configs;
    int n = TK_ARRAY_LEN(configs);
    if (masks.ticket) list = &single, n = 1;
    else if (model) {
        const tk_model_entry *e = tk_model_find(model);
        if (!e) {
            tk_model_config probe = {.name = model, .classes = 10, .width = 1};
            tk_model_create(&probe, &err);
            fprintf(stderr, "ticket bench: %s\n", err.msg);
            cJSON_Delete(torch);
            return 2;
        }
        list = &single, n = 1;
    }
    /* Every configuration runs with these threads (measure sets them in the child). */
    openblas_set_num_threads(threads);
    tk_provenance prov;
    tk_provenance_collect(&prov);
    char prov_line[2048];
    tk_provenance_format(&prov, prov_line, sizeof prov_line);
    printf("provenance: %s\n", prov_line);
    if (masks.ticket) printf("ticket %s: %s\n", masks.ticket, ticket_line);
    else printf("density %g\n", masks.density);
    printf("%-14s %-14s %5s %-7s %11s %9s %10s %11s %9s %9s%s\n", "config", "model", "batch", "kernels",
           "train_sps", "trainGF/s", "eval_sps", "evalGF/s", "train_ms", "peak_MiB",
           torch ? "   vs torch (train, eval)" : n_kernels == 2 ? "   vs dense (train, eval)" : "");
    cJSON *out = cJSON_CreateArray();
    int failed = 0;
    bench_result pair[2];
    for (int row_i = 0; row_i < n * n_kernels; row_i++) {
        int i = row_i / n_kernels;
        tk_kernels kernels = kernel_list[row_i % n_kernels];
        if (row_i % n_kernels == 0 &&
            measure_kernels(&list[i], threads, seconds, &masks, kernel_list, n_kernels, pair, &err)) {
            fprintf(stderr, "ticket bench: %s\n", err.msg);
            failed++;
            row_i += n_kernels - 1;
            continue;
        }
        bench_result r = pair[row_i % n_kernels], dense_r = pair[0];
        printf("%-14s %-14s %5d %-7s %11.1f %9.1f %10.1f %11.1f %9.2f %9.1f", list[i].key, list[i].model,
               list[i].batch, tk_kernels_names[kernels], r.train_sps, 3 * r.flops * r.train_sps / 1e9, r.eval_sps,
               r.flops * r.eval_sps / 1e9, r.train_ms, r.max_rss_kb / 1024.0);
        if (!torch && n_kernels == 2 && kernels == TK_KERNELS_SPARSE && dense_r.train_sps > 0)
            printf("   %.2fx, %.2fx", r.train_sps / dense_r.train_sps, r.eval_sps / dense_r.eval_sps);
        if (torch) {
            double tt = torch_sps(torch, list[i].key, "train"), te = torch_sps(torch, list[i].key, "eval");
            if (tt > 0 && te > 0) printf("   %.2fx, %.2fx", r.train_sps / tt, r.eval_sps / te);
            else printf("   (not in %s)", compare);
        }
        printf("\n");
        fflush(stdout);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "config", list[i].key);
        cJSON_AddStringToObject(row, "model", list[i].model);
        cJSON_AddNumberToObject(row, "batch", list[i].batch);
        cJSON_AddNumberToObject(row, "threads", threads);
        cJSON_AddNumberToObject(row, "density", masks.density);
        if (masks.ticket) cJSON_AddStringToObject(row, "ticket", masks.ticket);
        cJSON_AddStringToObject(row, "kernels", tk_kernels_names[kernels]);
        cJSON_AddNumberToObject(row, "train_samples_per_s", r.train_sps);
        cJSON_AddNumberToObject(row, "eval_samples_per_s", r.eval_sps);
        cJSON_AddNumberToObject(row, "fwd_flops_per_sample", r.flops);
        cJSON_AddNumberToObject(row, "peak_rss_mib", r.max_rss_kb / 1024.0);
        cJSON_AddItemToObject(row, "provenance", tk_provenance_to_json(&prov));
        cJSON_AddItemToArray(out, row);
    }
    if (json_out) {
        char *text = cJSON_Print(out);
        if (tk_file_write_atomic(json_out, text, strlen(text), &err)) {
            fprintf(stderr, "ticket bench: %s\n", err.msg);
            failed++;
        }
        free(text);
    }
    cJSON_Delete(out);
    cJSON_Delete(torch);
    return failed ? 1 : 0;
}
