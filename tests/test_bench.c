/* test_bench.c - `ticket bench` below full density: random masks and a ticket
 * file's mask, the dense and the sparse kernels measured side by side (rows
 * and JSON), and the inputs it refuses. Timings are not checked, only that
 * each kernel was measured on the masks asked for. */
#define _GNU_SOURCE
#include <cJSON.h>

#include "check.h"
#include "tk_model.h"
#include "tk_ticket.h"

static char *root;

/* The rows of a `ticket bench --json` file (NULL when it is not an array of
 * n rows). */
static cJSON *bench_rows(const char *path, int n) {
    size_t len;
    char *text = read_whole_file(path, &len);
    cJSON *rows = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cJSON_IsArray(rows) || cJSON_GetArraySize(rows) != n) {
        cJSON_Delete(rows);
        return NULL;
    }
    return rows;
}

static const char *row_string(const cJSON *row, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double row_number(const cJSON *row, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Two rows, dense then sparse, of `model` at `density`, both measured. */
static void check_pair(const char *json, const char *model, double density, const char *ticket) {
    cJSON *rows = bench_rows(json, 2);
    CHECK(rows != NULL);
    if (!rows) return;
    static const char *const kernels[] = {"dense", "sparse"};
    for (int k = 0; k < 2; k++) {
        const cJSON *row = cJSON_GetArrayItem(rows, k);
        CHECK(!strcmp(row_string(row, "kernels"), kernels[k]));
        CHECK(!strcmp(row_string(row, "model"), model));
        CHECK_NEAR(row_number(row, "density"), density, 1e-7); /* --density is read as a float */
        CHECK(row_number(row, "train_samples_per_s") > 0);
        CHECK(row_number(row, "eval_samples_per_s") > 0);
        CHECK(!strcmp(row_string(row, "ticket"), ticket ? ticket : ""));
    }
    cJSON_Delete(rows);
}

static void test_random_masks_both_kernels(void) {
    char *json = path_in(root, "random.json"), *args;
    if (asprintf(&args, "bench --model lenet_300_100 --batch 8 --threads 1 --seconds 0.05 --density 0.1 --json '%s'",
                 json) < 0)
        abort();
    CHECK_TICKET(root, "", args, 0, "density 0.1\n", "vs dense (train, eval)", "custom ", " dense ", " sparse ");
    check_pair(json, "lenet_300_100", 0.1, NULL);
    free(args), free(json);
}

/* A LeNet ticket at width 0.1 on 8x8 inputs keeping every fourth weight: the
 * bench measures that model, shape and mask, not the registry's. */
static void test_ticket_file_gives_model_and_mask(void) {
    tk_error err = {0};
    tk_model_config cfg = {.name = "lenet_300_100", .input = {1, 8, 8}, .classes = 10, .width = 0.1f};
    tk_model *m = tk_model_create(&cfg, &err);
    CHECK(m != NULL);
    if (!m) return;
    size_t kept = 0;
    for (size_t i = 0; i < m->n_prunable; i++) kept += m->mask[i] = i % 4 == 0;
    tk_model_apply_mask(m);
    char *path = path_in(root, "lenet.ticket"), *json = path_in(root, "ticket.json"), *args, *expect;
    CHECK(tk_ticket_write(path, m, 0.1f, m->param, "{}", &err) == 0);
    double density = (double)kept / (double)m->n_prunable;
    if (asprintf(&args, "bench --ticket '%s' --batch 8 --threads 1 --seconds 0.05 --json '%s'", path, json) < 0 ||
        asprintf(&expect, "ticket %s: lenet_300_100 width 0.1, input 1x8x8, 10 classes, density %g\n", path,
                 density) < 0)
        abort();
    CHECK_TICKET(root, "", args, 0, expect, "vs dense (train, eval)", "ticket ");
    check_pair(json, "lenet_300_100", density, path);
    free(args), free(expect);

    /* --kernels picks one row. */
    if (asprintf(&args, "bench --ticket '%s' --batch 8 --threads 1 --seconds 0.05 --kernels auto --json '%s'", path,
                 json) < 0)
        abort();
    CHECK_TICKET(root, "", args, 0, " auto ");
    cJSON *rows = bench_rows(json, 1);
    CHECK(rows && !strcmp(row_string(cJSON_GetArrayItem(rows, 0), "kernels"), "auto"));
    cJSON_Delete(rows);
    free(args);

    /* The ticket gives the model and the mask: neither can be given beside it. */
    static const char *const extra[] = {"--model conv2", "--density 0.5"};
    for (int i = 0; i < 2; i++) {
        if (asprintf(&args, "bench --ticket '%s' %s", path, extra[i]) < 0) abort();
        CHECK_TICKET(root, "", args, 2, "gives the model and its mask; drop --model and --density");
        free(args);
    }
    /* A ticket cut short names the file and says what to do. */
    cut_file(path, 1, 2);
    if (asprintf(&args, "bench --ticket '%s'", path) < 0) abort();
    CHECK_TICKET(root, "", args, 2, path, "corrupted (or truncated)", "run the step that wrote it again");
    free(args);
    free(path), free(json);
    tk_model_free(m);
}

static void test_bad_options(void) {
    CHECK_TICKET(root, "", "bench --ticket /nonexistent/lenet.ticket", 2, "/nonexistent/lenet.ticket",
                 "cannot open");
    CHECK_TICKET(root, "", "bench --model lenet_300_100 --density 0", 2, "--density must be in (0, 1]");
    CHECK_TICKET(root, "", "bench --model lenet_300_100 --density 1.5", 2, "--density must be in (0, 1]");
    CHECK_TICKET(root, "", "bench --model lenet_300_100 --kernels sparce", 2, "sparce", "did you mean 'sparse'");
    CHECK_TICKET(root, "", "bench --model lenet", 2, "unknown model 'lenet'", "did you mean 'lenet_300_100'");
}

int main(void) {
    if (!ticket_bin()) {
        printf("FAIL ticket_bin\n");
        return 1;
    }
    root = test_tmpdir("bench");
    RUN(test_random_masks_both_kernels);
    RUN(test_ticket_file_gives_model_and_mask);
    RUN(test_bad_options);
    rm_rf(root);
    free(root);
    CHECK_MAIN_END();
}
