/* fuzz_support.c - the temp dir, file splitting and checks the harnesses share. */
#define _GNU_SOURCE
#include "fuzz_support.h"

#include "tk_file.h"
#include "tk_rng.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
    fprintf(stderr, "%s:%d: fuzz check failed: %s: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static char dir[4096];
static char path_buf[8192];

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag;
    if (ftw->level > 0) remove(p); /* everything but the dir itself */
    return 0;
}

static void empty_dir(void) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void remove_dir(void) {
    empty_dir();
    rmdir(dir);
}

const char *fuzz_dir(void) {
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/ticket-fuzz-%d", base && *base ? base : "/tmp", (int)getpid());
        if (mkdir(dir, 0700) != 0 && !tk_file_exists(dir)) {
            perror(dir);
            abort();
        }
        atexit(remove_dir);
    }
    empty_dir();
    return dir;
}

const char *fuzz_path(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    return path_buf;
}

const char *fuzz_write(const char *name, const void *data, size_t n) {
    const char *p = fuzz_path(name);
    for (char *slash = strchr(path_buf + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = 0;
        mkdir(path_buf, 0700);
        *slash = '/';
    }
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(p);
        abort();
    }
    return p;
}

uint8_t fuzz_take_flags(const uint8_t **data, size_t *n) {
    if (*n == 0) return 0;
    uint8_t f = (*data)[0];
    (*data)++, (*n)--;
    return f;
}

int fuzz_write_parts(const uint8_t *data, size_t n, const char *const *names, int count) {
    int written = 0;
    for (int i = 0; i < count; i++) {
        const uint8_t *end = memmem(data, n, FUZZ_SEP, FUZZ_SEP_LEN);
        size_t len = end ? (size_t)(end - data) : n;
        if (names[i]) fuzz_write(names[i], data, len), written++;
        if (!end) break;
        data += len + FUZZ_SEP_LEN, n -= len + FUZZ_SEP_LEN;
    }
    return written;
}

char *fuzz_text(const uint8_t *data, size_t n) {
    char *t = malloc(n + 1);
    if (!t) abort();
    if (n) memcpy(t, data, n);
    t[n] = 0;
    return t;
}

void fuzz_fix_crc(uint8_t *data, size_t n) {
    if (n < 4) return;
    uint32_t crc = tk_crc32(data, n - 4);
    memcpy(data + n - 4, &crc, 4); /* little endian, as tk_buf_end writes it */
}

const char *fuzz_write_crc(const char *name, const uint8_t *data, size_t n, bool fix_crc) {
    uint8_t *copy = malloc(n + 1);
    if (!copy) abort();
    if (n) memcpy(copy, data, n);
    if (fix_crc) fuzz_fix_crc(copy, n);
    const char *path = fuzz_write(name, copy, n);
    free(copy);
    return path;
}

void fuzz_check_dataset(const tk_dataset *d, const char *format) {
    FUZZ_CHECK(d->n > 0 && d->C > 0 && d->H > 0 && d->W > 0, "%s: loaded %d images of %d x %d x %d", format, d->n,
               d->C, d->H, d->W);
    FUZZ_CHECK(d->classes > 0 && d->classes <= TK_MAX_CLASSES, "%s: %d classes", format, d->classes);
    FUZZ_CHECK(d->images && d->labels, "%s: no arrays", format);
    for (int i = 0; i < d->n; i++)
        FUZZ_CHECK(d->labels[i] >= 0 && d->labels[i] < d->classes, "%s: label %d of example %d, %d classes",
                   format, d->labels[i], i, d->classes);
    if (d->class_names)
        for (int c = 0; c < d->classes; c++)
            FUZZ_CHECK(memchr(d->class_names[c], 0, sizeof d->class_names[c]), "%s: class name %d unterminated",
                       format, c);
    /* Touch every pixel, so that ASan sees an array shorter than its shape. */
    size_t bytes = (size_t)d->n * (size_t)d->C * (size_t)d->H * (size_t)d->W;
    unsigned sum = 0;
    for (size_t i = 0; i < bytes; i++) sum += d->images[i];
    (void)sum;
}

int fuzz_load(const char *format, const char *path, tk_split split, const tk_load_options *opt) {
    const tk_format *f = tk_format_find(format);
    FUZZ_CHECK(f != NULL, "no format %s", format);
    tk_dataset d;
    memset(&d, 0, sizeof d);
    tk_error err = {0};
    int rc = f->load(path, split, opt, &d, &err);
    if (rc == 0) fuzz_check_dataset(&d, format);
    else FUZZ_CHECK(err.msg[0], "%s: load failed without a message", format);
    if (getenv("FUZZ_VERBOSE")) /* to see what a seed reaches */
        fprintf(stderr, "%s: %s\n", format, rc ? err.msg : "loaded");
    tk_dataset_free(&d);
    return rc;
}

void fuzz_check_model_id(const char *path, int (*read)(const char *, tk_model_config *, char[64], tk_error *)) {
    tk_model_config cfg;
    char name[64];
    tk_error err = {0};
    if (read(path, &cfg, name, &err) != 0) return;
    FUZZ_CHECK(cfg.name == name && memchr(name, 0, sizeof name), "model name not set");
    FUZZ_CHECK(cfg.classes >= 1 && cfg.input.C >= 1 && cfg.input.H >= 1 && cfg.input.W >= 1,
               "%s: %d classes, input %d x %d x %d", name, cfg.classes, cfg.input.C, cfg.input.H, cfg.input.W);
}

static tk_model *model;
static float *fresh_param;
static uint8_t *fresh_mask;
static float *fresh_state;

tk_model *fuzz_model(void) {
    if (!model) {
        tk_model_config cfg = {.name = "lenet_300_100", .input = {1, 8, 8}, .classes = 10, .width = FUZZ_MODEL_WIDTH};
        tk_error err = {0};
        model = tk_model_create(&cfg, &err);
        FUZZ_CHECK(model != NULL, "%s", err.msg);
        tk_rng rng;
        tk_rng_seed(&rng, 1, 0);
        tk_model_init(model, &rng);
        fresh_param = malloc(sizeof(float) * model->n_params);
        fresh_mask = malloc(model->n_prunable);
        memcpy(fresh_param, model->param, sizeof(float) * model->n_params);
        memcpy(fresh_mask, model->mask, model->n_prunable);
        fresh_state = malloc(sizeof(float) * (model->n_state + 1));
        if (model->n_state) memcpy(fresh_state, model->state, sizeof(float) * model->n_state);
    }
    memcpy(model->param, fresh_param, sizeof(float) * model->n_params);
    memcpy(model->mask, fresh_mask, model->n_prunable);
    if (model->n_state) memcpy(model->state, fresh_state, sizeof(float) * model->n_state);
    return model;
}
