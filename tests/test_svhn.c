/* test_svhn.c - SVHN .mat files written with matio as SVHN distributes them
 * (MATLAB v5, X uint8 [H,W,C,N] column-major, y double [N,1]); every split,
 * the layout conversion pixel by pixel, label 10 -> 0, and each bad input. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "tk_data.h"

#include <matio.h>

extern const tk_format tk_format_svhn;

/* A pixel value that differs under every swap of h, w, c or n. */
static uint8_t pixel(size_t h, size_t w, size_t c, size_t n, int salt) {
    return (uint8_t)(h * 3 + w * 17 + c * 71 + n * 29 + (size_t)salt * 5);
}

/* X as MATLAB stores it: X(h,w,c,n) at h + H*(w + W*(c + C*n)). */
static uint8_t *make_x(size_t H, size_t W, size_t C, size_t N, int salt) {
    uint8_t *x = malloc(H * W * C * N + 1);
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t w = 0; w < W; w++)
                for (size_t h = 0; h < H; h++) x[h + H * (w + W * (c + C * n))] = pixel(h, w, c, n, salt);
    return x;
}

static void write_mat_as(const char *path, enum mat_ft version, matvar_t *x, matvar_t *y, enum matio_compression z) {
    mat_t *mat = Mat_CreateVer(path, NULL, version);
    if (!mat) {
        printf("  cannot create %s\nFAIL write_mat\n", path);
        exit(1);
    }
    if (x) Mat_VarWrite(mat, x, z);
    if (y) Mat_VarWrite(mat, y, z);
    Mat_Close(mat);
    Mat_VarFree(x);
    Mat_VarFree(y);
}

static void write_mat(const char *path, matvar_t *x, matvar_t *y, enum matio_compression z) {
    write_mat_as(path, MAT_FT_MAT5, x, y, z);
}

static matvar_t *var(const char *name, enum matio_classes cls, enum matio_types type, int rank, size_t *dims,
                     void *data) {
    return Mat_VarCreate(name, cls, type, rank, dims, data, 0); /* copies data */
}

/* A well-formed split: N images of H x W x C, labels 1..10 cycling from `salt`. */
static void write_split(const char *path, size_t H, size_t W, size_t C, size_t N, int salt,
                        enum matio_compression z) {
    uint8_t *x = make_x(H, W, C, N, salt);
    double *y = malloc(sizeof(double) * N);
    for (size_t i = 0; i < N; i++) y[i] = (double)((i + (size_t)salt) % 10 + 1);
    size_t xd[4] = {H, W, C, N}, yd[2] = {N, 1};
    write_mat(path, var("X", MAT_C_UINT8, MAT_T_UINT8, 4, xd, x), var("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd, y), z);
    free(x);
    free(y);
}

static int check_split(const tk_dataset *d, size_t H, size_t W, size_t C, size_t N, int salt) {
    int bad = 0;
    CHECK(d->n == (int)N && d->H == (int)H && d->W == (int)W && d->C == (int)C && d->classes == 10);
    if (d->n != (int)N || d->H != (int)H || d->W != (int)W || d->C != (int)C) return 1;
    for (size_t n = 0; n < N; n++) {
        for (size_t c = 0; c < C; c++)
            for (size_t h = 0; h < H; h++)
                for (size_t w = 0; w < W; w++)
                    bad += d->images[((n * C + c) * H + h) * W + w] != pixel(h, w, c, n, salt);
        bad += d->labels[n] != (int32_t)((n + (size_t)salt) % 10 + 1) % 10;
    }
    CHECK(bad == 0);
    return bad;
}

static void test_every_split_from_folder(void) {
    char *dir = test_tmpdir("svhn"), path[4096];
    const size_t sizes[3] = {12, 5, 7};
    for (int s = 0; s < 3; s++) {
        snprintf(path, sizeof path, "%s/%s_32x32.mat", dir, tk_split_names[s]);
        write_split(path, 32, 32, 3, sizes[s], s, s == 1 ? MAT_COMPRESSION_NONE : MAT_COMPRESSION_ZLIB);
    }
    CHECK(tk_format_svhn.detect(dir) > 0);
    for (int s = 0; s < 3; s++) {
        tk_dataset d;
        tk_error err = {0};
        int rc = tk_format_svhn.load(dir, (tk_split)s, NULL, &d, &err);
        CHECK(rc == 0);
        if (rc) {
            printf("  %s\n", err.msg);
            continue;
        }
        check_split(&d, 32, 32, 3, sizes[s], s);
        CHECK(d.class_names && !strcmp(d.class_names[0], "0") && !strcmp(d.class_names[9], "9"));
        tk_dataset_free(&d);
    }
    /* Label 10 is the digit 0: train's y runs 1..10, 1, 2, so 10 sits at index 9. */
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_svhn.load(dir, TK_SPLIT_TRAIN, NULL, &d, &err) == 0);
    CHECK(d.labels[9] == 0 && d.labels[0] == 1 && d.labels[10] == 1);
    tk_dataset_free(&d);
    rm_rf(dir);
    free(dir);
}

/* Height != width and one channel: a swapped transpose cannot pass. uint8 y
 * too. A MATLAB v7.3 (HDF5) file of the same variables is refused, with
 * what to do. */
static void test_layout_non_square_grey(void) {
    char *dir = test_tmpdir("svhn"), path[4096];
    snprintf(path, sizeof path, "%s/train_32x32.mat", dir);
    uint8_t *x = make_x(5, 7, 1, 3, 4), y[3] = {10, 1, 9};
    size_t xd[4] = {5, 7, 1, 3}, yd[2] = {3, 1};
    tk_dataset d;
    tk_error err = {0};
    write_mat(path, var("X", MAT_C_UINT8, MAT_T_UINT8, 4, xd, x), var("y", MAT_C_UINT8, MAT_T_UINT8, 2, yd, y),
              MAT_COMPRESSION_ZLIB);
    int rc = tk_format_svhn.load(path, TK_SPLIT_TRAIN, NULL, &d, &err);
    CHECK(rc == 0);
    if (rc) printf("  %s\n", err.msg);
    CHECK(d.H == 5 && d.W == 7 && d.C == 1 && d.n == 3);
    int bad = 0;
    for (size_t n = 0; n < 3 && d.n == 3; n++)
        for (size_t h = 0; h < 5; h++)
            for (size_t w = 0; w < 7; w++) bad += d.images[(n * 5 + h) * 7 + w] != pixel(h, w, 0, n, 4);
    CHECK(bad == 0);
    CHECK(d.n == 3 && d.labels[0] == 0 && d.labels[1] == 1 && d.labels[2] == 9);
    tk_dataset_free(&d);
    write_mat_as(path, MAT_FT_MAT73, var("X", MAT_C_UINT8, MAT_T_UINT8, 4, xd, x),
                 var("y", MAT_C_UINT8, MAT_T_UINT8, 2, yd, y), MAT_COMPRESSION_ZLIB);
    CHECK(tk_format_svhn.detect(path) == 50);
    CHECK(tk_format_svhn.load(path, TK_SPLIT_TRAIN, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "train_32x32.mat is a MATLAB v7.3 (HDF5) file; SVHN is distributed as MATLAB v5 files, "
                            "the only kind ticket reads");
    CHECK_CONTAINS(err.msg, "re-save it in MATLAB with save(..., '-v7')");
    /* MATLAB drops a trailing singleton dimension: one image is [H,W,C]. */
    size_t xd3[3] = {5, 7, 1}, yd1[2] = {1, 1};
    double y1 = 3;
    write_mat(path, var("X", MAT_C_UINT8, MAT_T_UINT8, 3, xd3, x), var("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd1, &y1),
              MAT_COMPRESSION_NONE);
    CHECK(tk_format_svhn.load(path, TK_SPLIT_TRAIN, NULL, &d, &err) == 0);
    CHECK(d.n == 1 && d.labels[0] == 3 && d.images[1] == pixel(0, 1, 0, 0, 4));
    tk_dataset_free(&d);
    free(x);
    rm_rf(dir);
    free(dir);
}

static void test_single_file_carries_its_split(void) {
    char *dir = test_tmpdir("svhn"), path[4096], other[4096];
    snprintf(path, sizeof path, "%s/test_32x32.mat", dir);
    write_split(path, 32, 32, 3, 4, 1, MAT_COMPRESSION_ZLIB);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_svhn.load(path, TK_SPLIT_TEST, NULL, &d, &err) == 0);
    check_split(&d, 32, 32, 3, 4, 1);
    tk_dataset_free(&d);
    CHECK(tk_format_svhn.load(path, TK_SPLIT_TRAIN, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "holds the SVHN test split");
    CHECK_CONTAINS(err.msg, "train_32x32.mat");
    /* A MAT file under another name is still detected, less surely. */
    int named = tk_format_svhn.detect(path);
    snprintf(other, sizeof other, "%s/digits.mat", dir);
    rename(path, other);
    CHECK(tk_format_svhn.detect(other) > 0 && tk_format_svhn.detect(other) < named);
    CHECK(tk_format_svhn.load(other, TK_SPLIT_TEST, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "cannot tell which SVHN split");
    CHECK_CONTAINS(err.msg, "digits.mat");
    /* The folder no longer has test_32x32.mat. */
    CHECK(tk_format_svhn.load(dir, TK_SPLIT_TEST, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "has no test_32x32.mat");
    CHECK_CONTAINS(err.msg, "ufldl.stanford.edu/housenumbers/test_32x32.mat");
    rm_rf(dir);
    free(dir);
}

/* Writes train_32x32.mat with the given variables and checks the load error. */
static void expect_error(const char *dir, matvar_t *x, matvar_t *y, const char *needle, const char *needle2) {
    char path[4096];
    snprintf(path, sizeof path, "%s/train_32x32.mat", dir);
    write_mat(path, x, y, MAT_COMPRESSION_ZLIB);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_svhn.load(dir, TK_SPLIT_TRAIN, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, needle);
    CHECK_CONTAINS(err.msg, needle2);
    CHECK_CONTAINS(err.msg, "train_32x32.mat");
}

static void test_bad_inputs_name_file_and_variable(void) {
    char *dir = test_tmpdir("svhn");
    uint8_t *x = make_x(32, 32, 3, 3, 0);
    double y[3] = {1, 2, 3}, *xd_data = calloc(32 * 32 * 3 * 3, sizeof(double));
    size_t xd[4] = {32, 32, 3, 3}, yd[2] = {3, 1}, yd2[2] = {2, 1};
#define X4 var("X", MAT_C_UINT8, MAT_T_UINT8, 4, xd, x)
#define Y3 var("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd, y)
    expect_error(dir, X4, NULL, "has no variable y", "labels");
    expect_error(dir, NULL, Y3, "has no variable X", "images");
    expect_error(dir, var("X", MAT_C_DOUBLE, MAT_T_DOUBLE, 4, xd, xd_data), Y3, "variable X is double",
                 "expected real uint8");
    size_t flat[2] = {32, 288};
    expect_error(dir, var("X", MAT_C_UINT8, MAT_T_UINT8, 2, flat, x), Y3, "variable X has shape [32,288]",
                 "expected 4 dimensions");
    size_t five[4] = {32, 32, 5, 1};
    expect_error(dir, var("X", MAT_C_UINT8, MAT_T_UINT8, 4, five, x), Y3, "variable X has shape [32,32,5,1]",
                 "1 or 3 channels");
    expect_error(dir, X4, var("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd2, y), "X holds 3 images but y holds 2 labels",
                 "must match");
    size_t none[4] = {32, 32, 3, 0}, ynone[2] = {0, 1};
    expect_error(dir, var("X", MAT_C_UINT8, MAT_T_UINT8, 4, none, x), var("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, ynone, y),
                 "variable X holds no images", "[32,32,3,0]");
    size_t ym[2] = {3, 3};
    double nine[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    expect_error(dir, X4, var("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, ym, nine), "variable y has shape [3,3]",
                 "column [N,1]");
    char text[3] = "abc";
    expect_error(dir, X4, var("y", MAT_C_CHAR, MAT_T_UINT8, 2, yd, text), "variable y is char", "labels 1..10");
    const double bad_labels[3][3] = {{1, 11, 2}, {0, 1, 2}, {1, 2, 2.5}};
    const char *const said[3] = {"y(2) = 11", "y(1) = 0", "y(3) = 2.5"};
    for (int i = 0; i < 3; i++)
        expect_error(dir, X4, var("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd, (void *)bad_labels[i]), said[i],
                     "expected a label in 1..10");
#undef X4
#undef Y3
    /* Not a MAT file at all. */
    char path[4096];
    snprintf(path, sizeof path, "%s/train_32x32.mat", dir);
    const char junk[] = "<html>404 Not Found</html> and then some more bytes to fill a MAT header's 128 bytes ....."
                        "..................................................................................";
    write_file(path, junk, sizeof junk);
    CHECK(tk_format_svhn.detect(path) == 0);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_svhn.load(dir, TK_SPLIT_TRAIN, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "train_32x32.mat: not a MATLAB v5 file");
    CHECK(tk_format_svhn.detect(dir) == 0);
    free(x);
    free(xd_data);
    rm_rf(dir);
    free(dir);
}

/* A compressed X whose deflate stream is damaged in the middle, its element
 * sizes intact: the loader says so (and frees all libmatio held, which
 * make test-asan's leak check sees). */
static void test_damaged_compressed_images(void) {
    char *dir = test_tmpdir("svhn");
    char path[4096];
    snprintf(path, sizeof path, "%s/train_32x32.mat", dir);
    write_split(path, 32, 32, 3, 40, 0, MAT_COMPRESSION_ZLIB);
    size_t n;
    uint8_t *bytes = (uint8_t *)read_whole_file(path, &n);
    uint32_t x_size = (uint32_t)bytes[132] | (uint32_t)bytes[133] << 8 | (uint32_t)bytes[134] << 16 |
                      (uint32_t)bytes[135] << 24;
    CHECK(x_size > 64 && 136 + x_size < n);
    memset(bytes + 136 + x_size / 2, 0xff, 32);
    write_file(path, bytes, n);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_svhn.load(dir, TK_SPLIT_TRAIN, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "train_32x32.mat: the compressed MAT element at offset 128 (");
    CHECK_CONTAINS(err.msg, "is damaged: zlib says");
    CHECK_CONTAINS(err.msg, "the download is corrupt (fetch it again from http://ufldl.stanford.edu/housenumbers/)");
    free(bytes);
    rm_rf(dir);
    free(dir);
}

int main(void) {
    RUN(test_every_split_from_folder);
    RUN(test_layout_non_square_grey);
    RUN(test_single_file_carries_its_split);
    RUN(test_bad_inputs_name_file_and_variable);
    RUN(test_damaged_compressed_images);
    CHECK_MAIN_END();
}
