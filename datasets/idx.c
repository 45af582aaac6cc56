/* idx.c - the IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed.
 *
 * An IDX file is a big-endian header (magic 0x000008TD: T = element type,
 * 0x08 for u8; D = number of dims), one u32 per dim, then the elements in
 * row-major order. ticket reads u8 images with 3 dims (n, rows, cols) and u8
 * labels with 1 dim (n).
 *
 * As a tk_format ("idx"), a dataset is a folder holding the files as they are
 * distributed: <stem>-images-idx3-ubyte and <stem>-labels-idx1-ubyte, each
 * .gz or plain, where the stem is "train" for the train split and "t10k"
 * (MNIST, Fashion-MNIST, KMNIST) or "test" (EMNIST) for the test split, after
 * an optional prefix ending in '-' ("emnist-balanced-"). */
#define _POSIX_C_SOURCE 200809L
#include "tk_data.h"
#include "tk_file.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

/* libarchive's gzip reader does not verify the CRC-32 in the gzip trailer,
 * so a flipped bit in a .gz would load as silently wrong pixels or labels.
 * The trailer of a single-member gzip file is CRC-32 and size mod 2^32 of
 * the whole content; a multi-member file's last trailer covers only its
 * last member, which the size tells apart, so those are left unchecked. */
static void check_gzip_crc(const char *path, const uint8_t *data, size_t n, char damage[256]) {
    FILE *f = fopen(path, "rb");
    uint8_t head[2], tail[8];
    bool ok = f && fread(head, 1, 2, f) == 2 && head[0] == 0x1f && head[1] == 0x8b && fseek(f, -8, SEEK_END) == 0 &&
              fread(tail, 1, 8, f) == 8;
    if (f) fclose(f);
    if (!ok) return;
    uint32_t stored = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    uint32_t size = (uint32_t)tail[4] | (uint32_t)tail[5] << 8 | (uint32_t)tail[6] << 16 | (uint32_t)tail[7] << 24;
    if (size != (uint32_t)n) return;
    uint32_t computed = tk_crc32(data, n);
    if (computed != stored)
        snprintf(damage, 256, "gzip checksum mismatch (stored CRC-32 0x%08x, computed 0x%08x)", stored, computed);
}

/* Reads a file whole, decompressing it if it is gzip (or any other filter
 * libarchive knows): the raw format treats the stream as one entry, so a
 * plain file and a .gz go through the same path. A stream that breaks off
 * (a cut .gz) still returns what it decoded, with the reason in damage[], so
 * the header check can say how many bytes were expected and how many came. */
static int read_decompressed(const char *path, uint8_t **data, size_t *n, char damage[256], tk_error *err) {
    *data = NULL;
    *n = 0;
    damage[0] = 0;
    struct stat st;
    if (stat(path, &st) != 0) return tk_fail(err, "cannot open %s: %s", path, strerror(errno));
    if (st.st_size == 0) { /* libarchive rejects an empty stream; the header check explains it better */
        *data = tk_malloc(1);
        return 0;
    }
    struct archive *a = archive_read_new();
    TK_ASSERT(a);
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    struct archive_entry *entry;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK ||
        archive_read_next_header(a, &entry) != ARCHIVE_OK) {
        tk_fail(err, "cannot read %s: %s", path, archive_error_string(a));
        archive_read_free(a);
        return -1;
    }
    /* The uncompressed size is unknown for gzip; grow geometrically so the
     * 47 MB Fashion-MNIST image file costs a handful of reallocations. */
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = tk_malloc(cap);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                archive_read_free(a);
                return tk_fail(err, "cannot read %s: out of memory after %zu bytes", path, len);
            }
            buf = grown;
        }
        la_ssize_t got = archive_read_data(a, buf + len, cap - len);
        if (got == 0) break;
        if (got < 0) {
            snprintf(damage, 256, "%s", archive_error_string(a));
            break;
        }
        len += (size_t)got;
    }
    archive_read_free(a);
    if (!damage[0]) check_gzip_crc(path, buf, len, damage);
    *data = buf;
    *n = len;
    return 0;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Checks the magic and the header's dims against the file's size, so that
 * everything after it can index the payload without further checks.
 * On success *payload is the offset of the first element. */
static int parse_header(const char *path, const uint8_t *data, size_t n, const char *damage, uint32_t magic,
                        const char *kind, int ndims, uint32_t *dims, size_t *payload, tk_error *err) {
    const char *stopped = damage[0] ? "; the decompressor reported: " : "";
    if (n < 4)
        return tk_fail(err, "%s: truncated: %zu bytes, too short for the 4-byte magic of an IDX %s file%s%s", path,
                       n, kind, stopped, damage);
    uint32_t found = be32(data);
    if (found != magic) {
        const char *hint = "";
        if (found == IDX_LABELS_MAGIC) hint = " (that is an IDX label file: are the image and label paths swapped?)";
        if (found == IDX_IMAGES_MAGIC) hint = " (that is an IDX image file: are the image and label paths swapped?)";
        if (data[0] == 0x1f && data[1] == 0x8b) hint = " (gzip data that did not decompress: is the file damaged?)";
        return tk_fail(err, "%s: expected 0x%08x for an IDX %s file, found 0x%08x%s", path, magic, kind, found,
                       hint);
    }
    size_t header = 4 + 4 * (size_t)ndims;
    if (n < header)
        return tk_fail(err, "%s: truncated: the IDX %s header is %zu bytes (magic and %d dims), found %zu%s%s",
                       path, kind, header, ndims, n, stopped, damage);
    size_t elements = 1;
    for (int d = 0; d < ndims; d++) {
        dims[d] = be32(data + 4 + 4 * d);
        if (dims[d] > INT_MAX)
            return tk_fail(err, "%s: dim %d of the IDX header is %u, more than ticket supports (%d)", path, d,
                           dims[d], INT_MAX);
        if (__builtin_mul_overflow(elements, (size_t)dims[d], &elements))
            return tk_fail(err, "%s: the IDX header's dims do not fit in memory", path);
    }
    if (n - header != elements) {
        char shape[64];
        int at = 0;
        for (int d = 0; d < ndims; d++)
            at += snprintf(shape + at, sizeof shape - (size_t)at, d ? "x%u" : "%u", dims[d]);
        return tk_fail(err, "%s: %s: the header's dims (%s) need %zu bytes of data after the %zu-byte header, "
                            "found %zu%s%s%s",
                       path, n - header < elements ? "truncated" : "too long", shape, elements, header, n - header,
                       n - header < elements ? " (the download or copy was cut short: fetch it again)" : "",
                       stopped, damage);
    }
    if (damage[0])
        return tk_fail(err, "cannot read %s: %s (the file is damaged: fetch it again)", path, damage);
    *payload = header;
    return 0;
}

int tk_idx_load(const char *images_path, const char *labels_path, int classes_hint, tk_dataset *out,
                tk_error *err) {
    memset(out, 0, sizeof *out);
    uint8_t *img = NULL, *lab = NULL;
    size_t img_n, lab_n, img_at, lab_at;
    uint32_t img_dims[3] = {0}, lab_dims[1] = {0};
    char damage[256];
    if (read_decompressed(images_path, &img, &img_n, damage, err) ||
        parse_header(images_path, img, img_n, damage, IDX_IMAGES_MAGIC, "image", 3, img_dims, &img_at, err) ||
        read_decompressed(labels_path, &lab, &lab_n, damage, err) ||
        parse_header(labels_path, lab, lab_n, damage, IDX_LABELS_MAGIC, "label", 1, lab_dims, &lab_at, err))
        goto fail;
    /* A side of 0 holds no pixels, so the size check above cannot catch it. */
    if (img_dims[0] == 0 || img_dims[1] == 0 || img_dims[2] == 0 || img_dims[1] > TK_MAX_IMAGE_SIDE ||
        img_dims[2] > TK_MAX_IMAGE_SIDE) {
        tk_fail(err, "%s: the IDX image header at offset 4 gives %u images of %u x %u pixels: expected at least one "
                "image and sides of 1 to %d; the file is damaged (fetch it again)", images_path, img_dims[0],
                img_dims[1], img_dims[2], TK_MAX_IMAGE_SIDE);
        goto fail;
    }
    if (img_dims[0] != lab_dims[0]) {
        tk_fail(err, "%s has %u images but %s has %u labels: the two files must come from the same split",
                images_path, img_dims[0], labels_path, lab_dims[0]);
        goto fail;
    }
    int n = (int)img_dims[0];
    int32_t *labels = tk_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        int v = lab[lab_at + (size_t)i];
        if (classes_hint > 0 && v >= classes_hint) {
            tk_fail(err, "%s: label %d at index %d (byte offset %zu) is not below %d, the number of classes",
                    labels_path, v, i, lab_at + (size_t)i, classes_hint);
            free(labels);
            goto fail;
        }
        labels[i] = v;
    }
    free(lab);
    int classes = classes_hint;
    if (classes_hint <= 0 &&
        tk_classes_from_labels(labels, n, labels_path, "the file is damaged (fetch it again), or its dataset needs a "
                               "catalog entry that gives \"classes\"", &classes, err)) {
        free(labels);
        free(img);
        return -1;
    }
    /* The pixels already are [n, 1, rows, cols] u8: slide them over the
     * header instead of copying 47 MB into a second buffer. */
    size_t pixels = img_n - img_at;
    memmove(img, img + img_at, pixels);
    uint8_t *shrunk = realloc(img, pixels ? pixels : 1);
    out->images = shrunk ? shrunk : img;
    out->labels = labels;
    out->n = n;
    out->C = 1;
    out->H = (int)img_dims[1];
    out->W = (int)img_dims[2];
    out->classes = classes;
    const char *base = strrchr(images_path, '/');
    snprintf(out->name, sizeof out->name, "%s", base ? base + 1 : images_path);
    return 0;
fail:
    free(img);
    free(lab);
    return -1;
}

/* ---- the "idx" format: a folder of IDX files */

#define IMAGES_SUFFIX "-images-idx3-ubyte"
#define LABELS_SUFFIX "-labels-idx1-ubyte"

static const char *const split_stems[TK_SPLIT_COUNT][2] = {{"train", NULL}, {"t10k", "test"}, {NULL, NULL}};

/* The length of the prefix when name is <prefix><stem>-images-idx3-ubyte[.gz]
 * with an empty prefix or one ending in '-'; otherwise -1. */
static int images_prefix_len(const char *name, const char *stem) {
    char suffix[64];
    snprintf(suffix, sizeof suffix, "%s" IMAGES_SUFFIX, stem);
    size_t len = strlen(name), slen = strlen(suffix);
    if (len > 3 && !strcmp(name + len - 3, ".gz")) len -= 3;
    if (len < slen || strncmp(name + len - slen, suffix, slen)) return -1;
    size_t prefix = len - slen;
    if (prefix > 0 && name[prefix - 1] != '-') return -1;
    return (int)prefix;
}

/* dir/base.gz if it is a file, else dir/base if it is; false otherwise. */
static bool find_gz_or_plain(const char *dir, const char *base, char *out, size_t cap) {
    struct stat st;
    snprintf(out, cap, "%s/%s.gz", dir, base);
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return true;
    snprintf(out, cap, "%s/%s", dir, base);
    return stat(out, &st) == 0 && S_ISREG(st.st_mode);
}

/* The stem and prefix of split's image file in dir. Returns 1 when found, 0
 * when the folder has none, -1 (with err) when several datasets share the
 * folder, which would make the choice a guess. */
static int find_split_files(const char *dir, tk_split split, char *stem, char *prefix, size_t cap, tk_error *err) {
    DIR *d = opendir(dir);
    if (!d) return tk_fail(err, "cannot list %s: %s", dir, strerror(errno));
    int found = 0;
    char others[512] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        for (int s = 0; s < 2 && split_stems[split][s]; s++) {
            int len = images_prefix_len(e->d_name, split_stems[split][s]);
            if (len < 0 || (size_t)len >= cap) continue;
            if (found && !strncmp(prefix, e->d_name, (size_t)len) && prefix[len] == 0 &&
                !strcmp(stem, split_stems[split][s]))
                continue; /* the .gz and the plain copy of the same file */
            if (found) {
                size_t at = strlen(others);
                snprintf(others + at, sizeof others - at, ", %s", e->d_name);
                found++;
                continue;
            }
            snprintf(prefix, cap, "%.*s", len, e->d_name);
            snprintf(stem, cap, "%s", split_stems[split][s]);
            found = 1;
        }
    }
    closedir(d);
    if (found > 1)
        return tk_fail(err, "%s holds the %s images of more than one IDX dataset (%s%s" IMAGES_SUFFIX "%s): put each "
                            "dataset in its own folder",
                       dir, tk_split_names[split], prefix, stem, others);
    return found;
}

static int idx_format_load(const char *path, tk_split split, const tk_load_options *opt, tk_dataset *out,
                           tk_error *err) {
    memset(out, 0, sizeof *out);
    if (!split_stems[split][0])
        return tk_fail(err, "%s: IDX datasets have a train and a test split, no %s split", path,
                       tk_split_names[split]);
    char stem[64], prefix[256];
    int found = find_split_files(path, split, stem, prefix, sizeof prefix, err);
    if (found < 0) return -1;
    if (found == 0) {
        const char *alt = split_stems[split][1];
        return tk_fail(err, "%s: no %s split: expected %s" IMAGES_SUFFIX "(.gz) and %s" LABELS_SUFFIX "(.gz)%s%s%s",
                       path, tk_split_names[split], split_stems[split][0], split_stems[split][0],
                       alt ? " (or " : "", alt ? alt : "", alt ? "-...)" : "");
    }
    char base[512], images[4608], labels[4608];
    snprintf(base, sizeof base, "%s%s" IMAGES_SUFFIX, prefix, stem);
    if (!find_gz_or_plain(path, base, images, sizeof images)) /* a directory that ends in the suffix */
        return tk_fail(err, "%s/%s(.gz) is not a regular file", path, base);
    snprintf(base, sizeof base, "%s%s" LABELS_SUFFIX, prefix, stem);
    if (!find_gz_or_plain(path, base, labels, sizeof labels))
        return tk_fail(err, "%s: has %s but not %s(.gz): the %s split needs both files", path, images, base,
                       tk_split_names[split]);
    if (tk_idx_load(images, labels, opt ? opt->classes : 0, out, err)) return -1;
    const char *name = strrchr(path, '/');
    snprintf(out->name, sizeof out->name, "%s", name && name[1] ? name + 1 : path);
    return 0;
}

/* A folder with an IDX image file of either split. */
static int idx_format_detect(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    int score = 0;
    struct dirent *e;
    while (!score && (e = readdir(d)))
        for (int s = TK_SPLIT_TRAIN; s <= TK_SPLIT_TEST; s++)
            for (int k = 0; k < 2 && split_stems[s][k]; k++)
                if (images_prefix_len(e->d_name, split_stems[s][k]) >= 0) score = 50;
    closedir(d);
    return score;
}

const tk_format tk_format_idx = {
    .name = "idx",
    .description = "a folder of IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST): train-/t10k-images-idx3-ubyte "
                   "and -labels-idx1-ubyte, .gz or plain",
    .detect = idx_format_detect,
    .load = idx_format_load,
};
