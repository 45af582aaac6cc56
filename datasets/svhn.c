/* svhn.c - SVHN cropped digits as distributed: train_32x32.mat,
 * test_32x32.mat and extra_32x32.mat, MATLAB v5 files, read through
 * libmatio once their structure is checked here. MATLAB v7.3 (HDF5) files
 * are refused with a message: SVHN is not distributed so, and libhdf5
 * crashes on damaged ones (a NULL read inside H5Gget_info from Mat_Open,
 * found by fuzz_svhn) where nothing can be checked before it.
 *
 * Each file holds X, uint8 [H, W, C, N] (32 x 32 x 3 x N for SVHN), and y,
 * the labels as an [N, 1] double (or uint8) column in 1..10, where 10 is the
 * digit 0. MATLAB arrays are column-major: X(h, w, c, n) sits at
 * h + H*(w + W*(c + C*n)), so image n is one contiguous block whose channel
 * planes are contiguous too, each stored column by column. Loading reads X
 * into the output array and transposes each plane in place to row-major
 * [N, C, H, W]. Label = y mod 10, so that class i is digit i.
 *
 * `path` is the folder holding the three files (the split picks one), or one
 * of the files, which is loaded only for the split its name carries. */
#define _POSIX_C_SOURCE 200809L
#include "tk_data.h"

#include <errno.h>
#include <limits.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *const split_files[TK_SPLIT_COUNT] = {"train_32x32.mat", "test_32x32.mat", "extra_32x32.mat"};

#define SVHN_URL "http://ufldl.stanford.edu/housenumbers/"

static const char *const matio_class_names[] = {"empty",  "cell",  "struct", "object", "char",   "sparse",
                                                "double", "single", "int8",  "uint8",  "int16",  "uint16",
                                                "int32",  "uint32", "int64", "uint64", "function", "opaque"};
_Static_assert(sizeof matio_class_names / sizeof matio_class_names[0] == MAT_C_OPAQUE + 1, "matio class names");

static const char *class_name(enum matio_classes c) {
    return (unsigned)c <= MAT_C_OPAQUE ? matio_class_names[c] : "unknown";
}

/* matio reports problems through a log function that prints by default; the
 * last message is kept instead, to be quoted in our own error. Loading is
 * single-threaded, so one buffer is enough. */
static char matio_said[256];

static void matio_log(int level, char *message) {
    (void)level;
    snprintf(matio_said, sizeof matio_said, "%s", message);
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* "[32,32,3,100]" */
static const char *shape(const matvar_t *v, char buf[96]) {
    int at = snprintf(buf, 96, "[");
    for (int d = 0; d < v->rank && at < 80; d++)
        at += snprintf(buf + at, (size_t)(96 - at), d ? ",%zu" : "%zu", v->dims[d]);
    snprintf(buf + at, (size_t)(96 - at), "%s]", at >= 80 ? ",..." : "");
    return buf;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool has_mat_header(const char *path) {
    char head[19];
    FILE *f = fopen(path, "rb");
    bool ok = f && fread(head, 1, sizeof head, f) == sizeof head &&
              (!memcmp(head, "MATLAB 5.0 MAT-file", 19) || !memcmp(head, "MATLAB 7.3 MAT-file", 19));
    if (f) fclose(f);
    return ok;
}

/* The 128-byte header of a MAT 5 file ends with its version (0x0100; 0x0200
 * for 7.3) and endian indicator ("IM" or "MI") at offsets 124 to 127.
 * libmatio takes any other file for MAT 4, whose header it trusts for the
 * size of a name (1.8 GB from a 272-byte file): SVHN is never MAT 4. In a
 * MAT 5 file, libmatio also trusts each top-level element's declared size
 * (a compressed element of 143 bytes in 62 sent it through gigabytes), so
 * every element's tag is checked against the bytes that remain first. */
static uint32_t mat_u32(const uint8_t *p, bool little) {
    return little ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                  : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

/* libmatio inflates only as many bytes of a compressed element as the
 * variable needs and never reaches the stream's Adler-32 checksum, so a
 * damaged download would load as wrong pixels. The whole stream is inflated
 * here (into a scratch buffer, about 0.3 s per 100 MB of images) and must end
 * with its checksum inside the element. Its first bytes (the variable's
 * header) go to head, its inflated size to *inflated. */
static int check_deflate(FILE *f, const char *file, size_t at, uint32_t size, uint8_t *head, size_t *head_n,
                         uint64_t *inflated, tk_error *err) {
    enum { CHUNK = 1 << 16 };
    uint8_t *in = tk_malloc(CHUNK), *out = tk_malloc(4 * CHUNK);
    z_stream z = {0};
    int zrc = inflateInit(&z);
    TK_ASSERT(zrc == Z_OK);
    uint32_t left = size;
    bool read_failed = false;
    size_t cap = *head_n;
    *head_n = 0;
    while (zrc == Z_OK) {
        if (z.avail_in == 0 && left > 0) {
            uInt want = left < CHUNK ? (uInt)left : CHUNK;
            if (fseeko(f, (off_t)(at + 8 + (size - left)), SEEK_SET) != 0 || fread(in, 1, want, f) != want) {
                read_failed = true;
                break;
            }
            z.next_in = in, z.avail_in = want, left -= want;
        }
        z.next_out = out, z.avail_out = 4 * CHUNK;
        zrc = inflate(&z, Z_NO_FLUSH);
        size_t produced = 4 * CHUNK - z.avail_out, keep = produced < cap - *head_n ? produced : cap - *head_n;
        memcpy(head + *head_n, out, keep);
        *head_n += keep;
        if (zrc == Z_BUF_ERROR && z.avail_in == 0 && left > 0) zrc = Z_OK; /* wants more input */
    }
    *inflated = z.total_out;
    int rc = 0;
    if (read_failed)
        rc = tk_fail(err, "%s: cannot read the compressed MAT element at offset %zu: %s", file, at,
                     ferror(f) ? strerror(errno) : "the file ended early");
    else if (zrc != Z_STREAM_END)
        rc = tk_fail(err, "%s: the compressed MAT element at offset %zu (%u bytes) is damaged: zlib says \"%s\" "
                     "after %lu of its bytes; the download is corrupt (fetch it again from %s)",
                     file, at, size, zrc == Z_BUF_ERROR ? "stream cut short" : z.msg ? z.msg : "error", z.total_in,
                     SVHN_URL);
    inflateEnd(&z);
    free(in);
    free(out);
    return rc;
}

/* A top-level variable's header, from its miMATRIX tag on (the first hn
 * bytes of it in h; `payload` bytes follow the tag, inflated if compressed).
 * libmatio sizes what it allocates by these headers alone: the name and data
 * lengths, and for cell, struct and sparse arrays (and the arrays nested in
 * them) the element counts. So only numeric and char arrays are let through
 * (SVHN holds two numeric ones), and every length and count must fit in the
 * bytes the variable has. */
static int check_variable(const char *file, size_t at, const uint8_t *h, size_t hn, uint64_t payload, bool little,
                          tk_error *err) {
    enum { MI_INT8 = 1, MI_INT32 = 5, MI_UINT32 = 6, MI_MATRIX = 14, CLASS_CHAR = 4, CLASS_SPARSE = 5,
           CLASS_UINT64 = 15, MAX_NAME = 256 };
    uint64_t inner = hn >= 8 ? mat_u32(h + 4, little) : 0; /* the bytes after the tag */
    uint32_t rank_bytes = hn >= 32 ? mat_u32(h + 28, little) : 0;
    size_t name_at = 32 + (rank_bytes + 7) / 8 * 8;
    uint32_t name_tag = name_at + 8 <= hn ? mat_u32(h + name_at, little) : 0;
    uint32_t name_len = name_tag >> 16 ? name_tag >> 16 : name_at + 8 <= hn ? mat_u32(h + name_at + 4, little) : 0;
    bool small_name = name_tag >> 16;
    size_t data_at = name_at + (small_name ? 8 : 8 + (name_len + 7) / 8 * 8);
    uint32_t data_tag = data_at + 8 <= hn ? mat_u32(h + data_at, little) : 0;
    uint64_t data_len = data_tag >> 16 ? 0 : data_at + 8 <= hn ? mat_u32(h + data_at + 4, little) : UINT64_MAX;
    if (hn < 32 || mat_u32(h, little) != MI_MATRIX || inner > payload || mat_u32(h + 8, little) != MI_UINT32 ||
        mat_u32(h + 12, little) != 8 || mat_u32(h + 24, little) != MI_INT32 || rank_bytes < 8 || rank_bytes % 4 ||
        rank_bytes > MAX_NAME || name_at + 8 > hn || (!small_name && name_tag != MI_INT8) ||
        name_len > (small_name ? 4 : MAX_NAME) || data_at + 8 > hn || data_len > inner + 8 - data_at - 8)
        return tk_fail(err, "%s: the MAT element at offset %zu is not a well-formed MATLAB array (its array flags, "
                       "dimensions, name or data length are missing, damaged, or longer than the element): fetch "
                       "the file again from %s", file, at, SVHN_URL);
    unsigned cls = mat_u32(h + 16, little) & 0xff;
    if (cls < CLASS_CHAR || cls == CLASS_SPARSE || cls > CLASS_UINT64)
        return tk_fail(err, "%s: the variable at offset %zu is a %s array; SVHN's files hold only the numeric arrays "
                       "X and y (the file is not SVHN's cropped digits, or damaged: fetch it again from %s)", file, at,
                       class_name((enum matio_classes)cls), SVHN_URL);
    uint64_t count = 1;
    for (uint32_t d = 0; d < rank_bytes / 4; d++) {
        uint64_t side = mat_u32(h + 32 + 4 * d, little);
        count = side && count > UINT64_MAX / side ? UINT64_MAX : count * side;
    }
    if (count > inner)
        return tk_fail(err, "%s: the variable at offset %zu declares %llu elements in %llu bytes: its dimensions are "
                       "damaged (fetch the file again from %s)", file, at, (unsigned long long)count,
                       (unsigned long long)inner, SVHN_URL);
    return 0;
}

static int check_mat_file(const char *file, tk_error *err) {
    FILE *f = fopen(file, "rb");
    if (!f) return tk_fail(err, "cannot open %s: %s", file, strerror(errno));
    uint8_t head[128];
    struct stat st;
    size_t got = fread(head, 1, sizeof head, f);
    int rc = 0;
    if (fstat(fileno(f), &st) != 0 || got < sizeof head) {
        rc = tk_fail(err, "%s: %zu bytes, shorter than the 128-byte header of a MATLAB v5 file (fetch it again "
                     "from %s)", file, got, SVHN_URL);
        goto done;
    }
    bool little = head[126] == 'I' && head[127] == 'M', big = head[126] == 'M' && head[127] == 'I';
    unsigned version = little ? head[124] | (unsigned)head[125] << 8 : (unsigned)head[124] << 8 | head[125];
    if ((little || big) && version == 0x0200) {
        rc = tk_fail(err, "%s is a MATLAB v7.3 (HDF5) file; SVHN is distributed as MATLAB v5 files, the only kind "
                     "ticket reads (libhdf5 cannot read a damaged v7.3 file safely): fetch the file again from %s, or "
                     "re-save it in MATLAB with save(..., '-v7')", file, SVHN_URL);
        goto done;
    }
    if ((!little && !big) || version != 0x0100) {
        rc = tk_fail(err, "%s: not a MATLAB v5 file: the header's version and endian indicator at offset 124 are "
                     "%02x %02x %02x %02x, expected 00 01 49 4d (or 01 00 4d 49, big-endian) (SVHN's files "
                     "come from %s)", file, head[124], head[125], head[126], head[127], SVHN_URL);
        goto done;
    }
    enum { MI_MATRIX = 14, MI_COMPRESSED = 15 };
    size_t n = (size_t)st.st_size;
    for (size_t at = 128; at < n;) {
        uint8_t t[8];
        if (n - at < 8 || fseeko(f, (off_t)at, SEEK_SET) != 0 || fread(t, 1, 8, f) != 8) {
            rc = tk_fail(err, "%s: %zu stray bytes at offset %zu, where a MAT element's 8-byte tag should be; the "
                         "file is cut short or damaged (fetch it again from %s)", file, n - at, at, SVHN_URL);
            break;
        }
        uint32_t type = mat_u32(t, little), size = mat_u32(t + 4, little);
        if (type != MI_MATRIX && type != MI_COMPRESSED) {
            rc = tk_fail(err, "%s: the MAT element at offset %zu has type %u, where a variable (type 14, or 15 "
                         "compressed) should be: the file is damaged (fetch it again from %s)", file, at, type,
                         SVHN_URL);
            break;
        }
        if (size > n - at - 8) {
            rc = tk_fail(err, "%s: the MAT element at offset %zu declares %u bytes, but %zu remain: the file is cut "
                         "short or damaged (fetch it again from %s)", file, at, size, n - at - 8, SVHN_URL);
            break;
        }
        uint8_t h[512];
        size_t hn = sizeof h, next = at + 8 + size;
        uint64_t payload = size;
        if (type == MI_COMPRESSED) {
            if ((rc = check_deflate(f, file, at, size, h, &hn, &payload, err))) break;
            payload = payload >= 8 ? payload - 8 : 0; /* after the inflated miMATRIX tag */
        } else {
            memcpy(h, t, 8);
            hn = 8 + fread(h + 8, 1, size < sizeof h - 8 ? size : sizeof h - 8, f);
            next = (next + 7) / 8 * 8; /* uncompressed elements end on 8 bytes */
        }
        if ((rc = check_variable(file, at, h, hn, payload, little, err))) break;
        at = next;
    }
done:
    fclose(f);
    return rc;
}

static int svhn_detect(const char *path) {
    if (is_dir(path)) {
        char file[4096];
        for (int s = 0; s < TK_SPLIT_COUNT; s++) {
            snprintf(file, sizeof file, "%s/%s", path, split_files[s]);
            if (has_mat_header(file)) return 50;
        }
        return 0;
    }
    if (!has_mat_header(path)) return 0;
    for (int s = 0; s < TK_SPLIT_COUNT; s++)
        if (!strcmp(base_name(path), split_files[s])) return 50;
    return 20; /* some MAT file: load() says what it lacks */
}

/* For "has no variable" errors: a file cut short keeps only its first
 * variables, and a MAT file from elsewhere shows what it holds instead. */
static int missing_variable(mat_t *mat, const char *file, const char *var, const char *what, tk_error *err) {
    char found[256] = "";
    size_t at = 0;
    Mat_Rewind(mat);
    for (matvar_t *v; (v = Mat_VarReadNextInfo(mat)) != NULL; Mat_VarFree(v))
        if (at < sizeof found)
            at += (size_t)snprintf(found + at, sizeof found - at, "%s%s", at ? ", " : "", v->name ? v->name : "?");
    return tk_fail(err, "%s has no variable %s (%s); variables found: %s. A download cut short loses the variables "
                        "at its end: fetch it again from %s",
                   file, var, what, at ? found : "none", SVHN_URL);
}

/* The file that holds `split`: inside the folder, or path itself when its name carries the split. */
static int resolve_file(const char *path, tk_split split, char *file, size_t cap, tk_error *err) {
    if (is_dir(path)) {
        snprintf(file, cap, "%s/%s", path, split_files[split]);
        struct stat st;
        if (stat(file, &st) != 0)
            return tk_fail(err, "SVHN folder %s has no %s (the %s split): download %s%s into it", path,
                           split_files[split], tk_split_names[split], SVHN_URL, split_files[split]);
        return 0;
    }
    const char *base = base_name(path);
    if (!strstr(base, tk_split_names[split])) {
        for (int s = 0; s < TK_SPLIT_COUNT; s++)
            if (strstr(base, tk_split_names[s]))
                return tk_fail(err, "%s holds the SVHN %s split (by its name), but the %s split was asked for: pass "
                                    "the folder holding %s, or that file itself",
                               path, tk_split_names[s], tk_split_names[split], split_files[split]);
        return tk_fail(err, "cannot tell which SVHN split %s holds: its name contains none of train, test, extra; "
                            "name it %s as SVHN distributes it",
                       path, split_files[split]);
    }
    snprintf(file, cap, "%s", path);
    return 0;
}

/* X must be real uint8 [H, W, C, N] with C 1 or 3; MATLAB drops trailing
 * singleton dimensions, so a file with one image has rank 3. */
static int check_images(const char *file, const matvar_t *x, size_t dims[4], tk_error *err) {
    if (x->class_type != MAT_C_UINT8 || x->isComplex)
        return tk_fail(err, "%s: variable X is %s%s, expected real uint8 images [32,32,3,N] as SVHN distributes them",
                       file, x->isComplex ? "complex " : "", class_name(x->class_type));
    char buf[96];
    if (x->rank != 4 && x->rank != 3)
        return tk_fail(err, "%s: variable X has shape %s, expected 4 dimensions [height, width, channels, N] "
                            "(SVHN: [32,32,3,N])",
                       file, shape(x, buf));
    for (int d = 0; d < 4; d++) dims[d] = d < x->rank ? x->dims[d] : 1;
    if (dims[0] == 0 || dims[1] == 0 || (dims[2] != 1 && dims[2] != 3) || dims[0] > INT_MAX / dims[1] ||
        dims[3] > INT_MAX)
        return tk_fail(err, "%s: variable X has shape %s, expected [height, width, channels, N] with 1 or 3 "
                            "channels (SVHN: [32,32,3,N])",
                       file, shape(x, buf));
    return 0;
}

/* y must be an [N, 1] (or [1, N]) real double or uint8 column: checked on
 * its header, before matio sizes anything by it. */
static int check_label_shape(const char *file, const matvar_t *y, size_t n, tk_error *err) {
    if ((y->class_type != MAT_C_DOUBLE && y->class_type != MAT_C_UINT8) || y->isComplex)
        return tk_fail(err, "%s: variable y is %s%s, expected a real double (or uint8) column of labels 1..10", file,
                       y->isComplex ? "complex " : "", class_name(y->class_type));
    char buf[96];
    if (y->rank != 2 || (y->dims[0] != 1 && y->dims[1] != 1))
        return tk_fail(err, "%s: variable y has shape %s, expected a column [N,1] of labels", file, shape(y, buf));
    size_t count = y->dims[0] * y->dims[1];
    if (count != n)
        return tk_fail(err, "%s: X holds %zu images but y holds %zu labels: they must match (is the file complete?)",
                       file, n, count);
    return 0;
}

/* Its values: labels 1..10. */
static int read_labels(const char *file, const matvar_t *y, size_t n, int32_t *labels, tk_error *err) {
    if (check_label_shape(file, y, n, err)) return -1;
    if (!y->data)
        return tk_fail(err, "%s: variable y holds no data (the file is damaged: fetch it again from %s)", file, SVHN_URL);
    for (size_t i = 0; i < n; i++) {
        double v = y->class_type == MAT_C_DOUBLE ? ((const double *)y->data)[i] : ((const uint8_t *)y->data)[i];
        if (!(v >= 1 && v <= 10) || v != (int)v)
            return tk_fail(err, "%s: y(%zu) = %g, expected a label in 1..10 (10 is the digit 0): the file is not "
                                "SVHN's cropped digits, or damaged (fetch it again from %s)",
                           file, i + 1, v, SVHN_URL);
        labels[i] = (int)v % 10;
    }
    return 0;
}

/* Column-major planes to row-major, one image at a time through a plane-sized buffer. */
static void transpose_planes(uint8_t *images, size_t planes, size_t h, size_t w) {
    uint8_t *tmp = tk_malloc(h * w);
    for (size_t p = 0; p < planes; p++) {
        uint8_t *plane = images + p * h * w;
        for (size_t x = 0; x < w; x++)
            for (size_t y = 0; y < h; y++) tmp[y * w + x] = plane[x * h + y];
        memcpy(plane, tmp, h * w);
    }
    free(tmp);
}

static int svhn_load(const char *path, tk_split split, const tk_load_options *opt, tk_dataset *out, tk_error *err) {
    (void)opt;
    TK_ASSERT(split >= 0 && split < TK_SPLIT_COUNT);
    memset(out, 0, sizeof *out);
    char file[4096];
    if (resolve_file(path, split, file, sizeof file, err)) return -1;
    struct stat st;
    if (stat(file, &st) != 0) return tk_fail(err, "cannot open %s: %s", file, strerror(errno));
    if (check_mat_file(file, err)) return -1;
    Mat_LogInitFunc("ticket", matio_log);
    matio_said[0] = 0;
    mat_t *mat = Mat_Open(file, MAT_ACC_RDONLY);
    if (!mat)
        return tk_fail(err, "%s: not a MATLAB v5 file%s%s (SVHN's files come from %s)", file,
                       matio_said[0] ? ": matio says: " : "", matio_said, SVHN_URL);
    matvar_t *x = Mat_VarReadInfo(mat, "X"), *y = NULL;
    uint8_t *images = NULL;
    int32_t *labels = NULL;
    size_t dims[4];
    if (!x) {
        missing_variable(mat, file, "X", "the images, uint8 [32,32,3,N]", err);
        goto fail;
    }
    if (check_images(file, x, dims, err)) goto fail;
    size_t n = dims[3], image_size = dims[0] * dims[1] * dims[2];
    if (n == 0) {
        tk_fail(err, "%s: variable X holds no images (shape [%zu,%zu,%zu,0])", file, dims[0], dims[1], dims[2]);
        goto fail;
    }
    /* One variable's bytes fit an int (the dataset counts images in ints);
     * SVHN's largest (extra, 1.6 GB) fits. Checked before anything is sized
     * by X's header. */
    if (n > (size_t)INT_MAX / image_size) {
        tk_fail(err, "%s: X's header says %zu images of %zu bytes, more than ticket reads from one MAT variable (%d "
                     "bytes)", file, n, image_size, INT_MAX);
        goto fail;
    }
    /* y's header first: its data is read only once its size is X's count. */
    if (!(y = Mat_VarReadInfo(mat, "y"))) {
        missing_variable(mat, file, "y", "the labels, an [N,1] column of 1..10", err);
        goto fail;
    }
    int shape_rc = check_label_shape(file, y, n, err);
    Mat_VarFree(y);
    y = NULL;
    if (shape_rc) goto fail;
    if (!(y = Mat_VarRead(mat, "y"))) {
        missing_variable(mat, file, "y", "the labels, an [N,1] column of 1..10", err);
        goto fail;
    }
    labels = tk_malloc(sizeof(int32_t) * n);
    if (read_labels(file, y, n, labels, err)) goto fail;
    /* X's data through Mat_VarRead, not Mat_VarReadDataLinear: on a damaged
     * compressed variable the linear read returns without releasing the
     * z_stream it copied (32 KB lost per file, libmatio 1.5.23), while
     * Mat_VarRead inflates with the variable's own stream, which
     * Mat_VarFree ends. Its buffer is malloc'ed, sized by the header checked
     * above; the dataset takes it over. */
    Mat_VarFree(x);
    matio_said[0] = 0;
    x = Mat_VarRead(mat, "X");
    if (!x || !x->data || x->nbytes != n * image_size) {
        tk_fail(err, "%s: cannot read the data of X%s%s (the file is damaged: fetch it again from %s)", file,
                matio_said[0] ? ": matio says: " : "", matio_said, SVHN_URL);
        goto fail;
    }
    images = x->data;
    x->data = NULL;
    transpose_planes(images, n * dims[2], dims[0], dims[1]);
    out->images = images;
    out->labels = labels;
    out->n = (int)n;
    out->C = (int)dims[2];
    out->H = (int)dims[0];
    out->W = (int)dims[1];
    out->classes = 10;
    out->class_names = tk_malloc(sizeof *out->class_names * 10);
    for (int c = 0; c < 10; c++) snprintf(out->class_names[c], sizeof out->class_names[c], "%d", c);
    snprintf(out->name, sizeof out->name, "%s", base_name(file));
    Mat_VarFree(x);
    Mat_VarFree(y);
    Mat_Close(mat);
    return 0;
fail:
    free(images);
    free(labels);
    Mat_VarFree(x);
    Mat_VarFree(y);
    Mat_Close(mat);
    return -1;
}

const tk_format tk_format_svhn = {
    .name = "svhn",
    .description = "SVHN cropped digits: train_32x32.mat, test_32x32.mat, extra_32x32.mat (MATLAB, via libmatio)",
    .detect = svhn_detect,
    .load = svhn_load,
};
