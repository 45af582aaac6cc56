/* dataset.c - the catalog of named datasets, where their files are looked
 * for, and the uint8 -> normalised float conversion the trainer uses. */
#define _POSIX_C_SOURCE 200809L
#include "tk_data.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const tk_split_names[TK_SPLIT_COUNT] = {"train", "test", "extra"};
_Static_assert(sizeof tk_split_names / sizeof tk_split_names[0] == TK_SPLIT_COUNT, "split name table");

/* catalog[i] describes the dataset called catalog_names[i]; the names are a
 * separate array because tk_nearest and tk_dataset_names want one. */
static const char *const catalog_names[] = {"fashion-mnist", "mnist"};

typedef struct catalog_entry {
    const char *folder; /* under each data directory */
    const char *images[TK_SPLIT_COUNT], *labels[TK_SPLIT_COUNT];
    int classes;
    const char *how_to_get;
} catalog_entry;

#define IDX_FILES                                                        \
    .images = {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"},     \
    .labels = {"train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"}

static const catalog_entry catalog[] = {
    {.folder = "fashion-mnist", IDX_FILES, .classes = 10,
     .how_to_get = "apt-get install dataset-fashion-mnist (or run `make data`)"},
    {.folder = "mnist", IDX_FILES, .classes = 10,
     .how_to_get = "put the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                   "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; or unpacked) in ./data/mnist"},
};
_Static_assert(sizeof catalog_names / sizeof catalog_names[0] == sizeof catalog / sizeof catalog[0],
               "one name per catalog entry");

const char *const *tk_dataset_names(int *count) {
    *count = TK_ARRAY_LEN(catalog_names);
    return catalog_names;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/base.gz if it exists, else dir/base if it exists; false otherwise. */
static bool find_file(const char *dir, const char *base, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s.gz", dir, base);
    if (is_file(out)) return true;
    snprintf(out, cap, "%s/%s", dir, base);
    return is_file(out);
}

/* snprintf at buf+at that keeps going harmlessly once buf is full. */
__attribute__((format(printf, 4, 5))) static size_t appendf(char *buf, size_t cap, size_t at, const char *fmt, ...) {
    if (at >= cap) return at;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + at, cap - at, fmt, ap);
    va_end(ap);
    return w < 0 ? at : at + (size_t)w;
}

int tk_dataset_open(const char *name, tk_split split, tk_dataset *out, tk_error *err) {
    TK_ASSERT(split >= 0 && split < TK_SPLIT_COUNT);
    memset(out, 0, sizeof *out);
    if (split == TK_SPLIT_EXTRA) return tk_fail(err, "dataset %s has no extra split", name);
    const catalog_entry *ds = NULL;
    for (int i = 0; i < TK_ARRAY_LEN(catalog); i++)
        if (!strcmp(catalog_names[i], name)) ds = &catalog[i];
    if (!ds) {
        const char *near = tk_nearest(name, catalog_names, TK_ARRAY_LEN(catalog_names));
        char known[256];
        size_t at = 0;
        for (int i = 0; i < TK_ARRAY_LEN(catalog_names); i++)
            at = appendf(known, sizeof known, at, "%s%s", i ? ", " : "", catalog_names[i]);
        if (near)
            return tk_fail(err, "unknown dataset \"%s\" (did you mean \"%s\"?); known datasets: %s", name, near,
                           known);
        return tk_fail(err, "unknown dataset \"%s\"; known datasets: %s", name, known);
    }

    const char *env = getenv("TICKET_DATA");
    const char *roots[] = {env && *env ? env : NULL, "./data", "/usr/share/datasets"};
    const char *images = ds->images[split], *labels = ds->labels[split];
    char tried[700];
    size_t at = 0;
    for (int r = 0; r < TK_ARRAY_LEN(roots); r++) {
        if (!roots[r]) continue;
        char dir[4096], img_path[4352], lab_path[4352];
        snprintf(dir, sizeof dir, "%s/%s", roots[r], ds->folder);
        bool has_img = find_file(dir, images, img_path, sizeof img_path);
        bool has_lab = find_file(dir, labels, lab_path, sizeof lab_path);
        if (has_img && has_lab) {
            if (tk_idx_load(img_path, lab_path, ds->classes, out, err)) return -1;
            snprintf(out->name, sizeof out->name, "%s", name);
            return 0;
        }
        at = appendf(tried, sizeof tried, at, "\n  %s%s", dir, r == 0 ? " ($TICKET_DATA)" : "");
        /* Half a dataset in a folder is usually an interrupted copy: say so. */
        if (has_img != has_lab)
            at = appendf(tried, sizeof tried, at, " (has %s but not %s(.gz))", has_img ? img_path : lab_path,
                         has_img ? labels : images);
    }
    return tk_fail(err, "dataset %s (%s split) not found: looked for %s(.gz) and %s(.gz) in:%s%s\nto get it: %s",
                   name, tk_split_names[split], images, labels, tried,
                   env && *env ? "" : "\n  ($TICKET_DATA is not set: it can name one more folder to search)",
                   ds->how_to_get);
}

void tk_dataset_free(tk_dataset *d) {
    if (!d) return;
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* A histogram of byte values per channel, then sums over its 256 bins in
 * double: exact counts, no rounding drift over 47M pixels, and fast. */
void tk_dataset_stats(const tk_dataset *d, float *mean, float *std) {
    size_t hw = (size_t)d->H * (size_t)d->W;
    for (int c = 0; c < d->C; c++) {
        uint64_t hist[256] = {0};
        for (int i = 0; i < d->n; i++) {
            const uint8_t *p = d->images + ((size_t)i * (size_t)d->C + (size_t)c) * hw;
            for (size_t k = 0; k < hw; k++) hist[p[k]]++;
        }
        double count = (double)d->n * (double)hw, sum = 0, sum_sq = 0;
        for (int v = 0; v < 256; v++) {
            double x = v / 255.0;
            sum += (double)hist[v] * x;
            sum_sq += (double)hist[v] * x * x;
        }
        double m = count > 0 ? sum / count : 0;
        double var = count > 0 ? sum_sq / count - m * m : 0;
        mean[c] = (float)m;
        std[c] = (float)sqrt(var > 0 ? var : 0); /* population std (divide by N), numpy's default */
    }
}

void tk_dataset_batch(const tk_dataset *d, const int32_t *idx, int B, const float *mean, const float *std,
                      float *x, int32_t *labels) {
    size_t hw = (size_t)d->H * (size_t)d->W, chw = (size_t)d->C * hw;
    for (int c = 0; c < d->C; c++) {
        /* A constant channel has std 0; leave it centred rather than divide by zero. */
        double s = std[c] > 0 ? (double)std[c] : 1.0;
        float lut[256];
        for (int v = 0; v < 256; v++) lut[v] = (float)((v / 255.0 - (double)mean[c]) / s);
        for (int b = 0; b < B; b++) {
            TK_ASSERT(idx[b] >= 0 && idx[b] < d->n);
            const uint8_t *src = d->images + (size_t)idx[b] * chw + (size_t)c * hw;
            float *dst = x + (size_t)b * chw + (size_t)c * hw;
            for (size_t k = 0; k < hw; k++) dst[k] = lut[src[k]];
        }
    }
    if (labels)
        for (int b = 0; b < B; b++) labels[b] = d->labels[idx[b]];
}
