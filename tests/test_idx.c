/* test_idx.c - the IDX loader on tiny files written here in the real format
 * (plain and gzip), every bad input it must explain, the dataset search, and
 * the real Fashion-MNIST when this machine has it. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_common.h"
#include "tk_data.h"

#include <sys/stat.h>
#include <unistd.h>

#define N_IMG 5
#define ROWS 4
#define COLS 3

/* Distinct, asymmetric values that cover 0 and 255, so a transposed,
 * shifted or byte-swapped read cannot pass. */
static uint8_t pixel(int i, int y, int x) {
    if (i == 0 && y == 0 && x == 0) return 255;
    return (uint8_t)((i * 53 + y * 17 + x * 5) % 251);
}
static const uint8_t tiny_labels[N_IMG] = {3, 0, 9, 3, 7};

typedef struct bytes {
    uint8_t data[16 + N_IMG * ROWS * COLS];
    size_t n;
} bytes;

static bytes idx_images(uint32_t n, uint32_t rows, uint32_t cols) {
    bytes b = {{0}, 16};
    put_be32(b.data, 0x00000803);
    put_be32(b.data + 4, n), put_be32(b.data + 8, rows), put_be32(b.data + 12, cols);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t y = 0; y < rows; y++)
            for (uint32_t x = 0; x < cols; x++) b.data[b.n++] = pixel((int)i, (int)y, (int)x);
    return b;
}

static bytes idx_labels(uint32_t n) {
    bytes b = {{0}, 8};
    put_be32(b.data, 0x00000801);
    put_be32(b.data + 4, n);
    for (uint32_t i = 0; i < n; i++) b.data[b.n++] = tiny_labels[i];
    return b;
}

static void check_tiny(const tk_dataset *d, int classes) {
    CHECK(d->n == N_IMG && d->C == 1 && d->H == ROWS && d->W == COLS);
    CHECK(d->classes == classes);
    if (d->n != N_IMG || d->H != ROWS || d->W != COLS) return;
    int wrong_pixels = 0, wrong_labels = 0;
    for (int i = 0; i < N_IMG; i++) {
        for (int y = 0; y < ROWS; y++)
            for (int x = 0; x < COLS; x++) wrong_pixels += d->images[(i * ROWS + y) * COLS + x] != pixel(i, y, x);
        wrong_labels += d->labels[i] != tiny_labels[i];
    }
    CHECK(wrong_pixels == 0);
    CHECK(wrong_labels == 0);
}

/* dir/img and dir/lab holding the given bytes, each gzip-compressed (and
 * named .gz) when asked. */
typedef struct pair {
    char *dir, *img, *lab;
} pair;

static pair write_pair(const bytes *images, bool gz_images, const bytes *labels, bool gz_labels) {
    pair p = {test_tmpdir("idx"), NULL, NULL};
    p.img = path_in(p.dir, gz_images ? "img.gz" : "img");
    p.lab = path_in(p.dir, gz_labels ? "lab.gz" : "lab");
    (gz_images ? write_gz : write_file)(p.img, images->data, images->n);
    (gz_labels ? write_gz : write_file)(p.lab, labels->data, labels->n);
    return p;
}

static void free_pair(pair *p) {
    rm_rf(p->dir);
    free(p->dir), free(p->img), free(p->lab);
}

static void test_idx_plain(void) {
    bytes bi = idx_images(N_IMG, ROWS, COLS), bl = idx_labels(N_IMG);
    pair p = write_pair(&bi, false, &bl, false);
    tk_dataset d;
    tk_error err = {0};
    /* Without a class count, labels 3 0 9 3 7 would make 10 classes, six of them empty. */
    CHECK(tk_idx_load(p.img, p.lab, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "/lab: label 9 at index 2 makes 10 classes, but classes 1, 2, 4, 5, 6, 8 have no "
                            "example");
    CHECK(d.images == NULL && d.labels == NULL && d.n == 0);
    CHECK(tk_idx_load(p.img, p.lab, 12, &d, &err) == 0);
    check_tiny(&d, 12);
    tk_dataset_free(&d);
    free_pair(&p);
}

static void test_idx_gz(void) {
    bytes bi = idx_images(N_IMG, ROWS, COLS), bl = idx_labels(N_IMG);
    pair p = write_pair(&bi, true, &bl, true);
    /* Make sure the files really are compressed, not raw copies. */
    FILE *f = fopen(p.img, "rb");
    uint8_t head[2] = {0};
    CHECK(f && fread(head, 1, 2, f) == 2 && head[0] == 0x1f && head[1] == 0x8b);
    if (f) fclose(f);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_idx_load(p.img, p.lab, 10, &d, &err) == 0);
    check_tiny(&d, 10);
    tk_dataset_free(&d);
    free_pair(&p);
}

/* Writes the pair `img_bytes`, `lab_bytes` into *p and returns the loader's error. */
static tk_error load_bad(const bytes *img_bytes, const bytes *lab_bytes, int classes_hint, pair *p) {
    *p = write_pair(img_bytes, false, lab_bytes, false);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_idx_load(p->img, p->lab, classes_hint, &d, &err) == -1);
    CHECK(d.images == NULL && d.labels == NULL);
    return err;
}

static void test_idx_wrong_magic(void) {
    bytes bl = idx_labels(N_IMG);
    pair p;
    tk_error err = load_bad(&bl, &bl, 10, &p); /* a label file where images belong */
    CHECK_CONTAINS(err.msg, p.dir);
    CHECK_CONTAINS(err.msg, "/img: expected 0x00000803 for an IDX image file, found 0x00000801");
    free_pair(&p);
}

static void test_idx_truncated(void) {
    bytes bi = idx_images(N_IMG, ROWS, COLS), bl = idx_labels(N_IMG);
    bi.n -= 7;
    pair p;
    tk_error err = load_bad(&bi, &bl, 10, &p);
    CHECK_CONTAINS(err.msg, "/img: truncated");
    CHECK_CONTAINS(err.msg, "the header's dims (5x4x3) need 60 bytes of data after the 16-byte header, found 53");
    free_pair(&p);

    bi.n = 10; /* cut inside the header */
    err = load_bad(&bi, &bl, 10, &p);
    CHECK_CONTAINS(err.msg, "/img: truncated: the IDX image header is 16 bytes");
    CHECK_CONTAINS(err.msg, "found 10");
    free_pair(&p);

    bi.n = 0;
    err = load_bad(&bi, &bl, 10, &p);
    CHECK_CONTAINS(err.msg, "/img: truncated: 0 bytes, too short for the 4-byte magic of an IDX image file");
    free_pair(&p);
}

static void test_idx_damaged_gz(void) {
    bytes bi = idx_images(N_IMG, ROWS, COLS), bl = idx_labels(N_IMG);
    pair p = write_pair(&bi, true, &bl, false);
    char *img = p.img, *lab = p.lab;
    FILE *f = fopen(img, "rb");
    uint8_t gz[512];
    size_t n = f ? fread(gz, 1, sizeof gz, f) : 0;
    if (f) fclose(f);
    CHECK(n > 8 && n < sizeof gz);
    tk_dataset d;
    tk_error err = {0};

    /* The gzip trailer's CRC-32 no longer matches the content. */
    gz[n - 8] ^= 0x01;
    write_file(img, gz, n);
    CHECK(tk_idx_load(img, lab, 10, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, img);
    CHECK_CONTAINS(err.msg, "gzip checksum mismatch");
    gz[n - 8] ^= 0x01;

    /* A .gz cut in the middle. */
    write_file(img, gz, n / 2);
    CHECK(tk_idx_load(img, lab, 10, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, img);
    CHECK_CONTAINS(err.msg, "truncated");

    /* The intact bytes still load, so the failures above came from the damage. */
    write_file(img, gz, n);
    CHECK(tk_idx_load(img, lab, 10, &d, &err) == 0);
    tk_dataset_free(&d);
    free_pair(&p);
}

static void test_idx_count_mismatch(void) {
    bytes bi = idx_images(N_IMG, ROWS, COLS), bl = idx_labels(N_IMG - 1);
    pair p;
    tk_error err = load_bad(&bi, &bl, 10, &p);
    CHECK_CONTAINS(err.msg, "/img has 5 images but ");
    CHECK_CONTAINS(err.msg, "/lab has 4 labels");
    free_pair(&p);
}

static void test_idx_label_out_of_range(void) {
    bytes bi = idx_images(N_IMG, ROWS, COLS), bl = idx_labels(N_IMG);
    pair p;
    tk_error err = load_bad(&bi, &bl, 9, &p); /* label 9 at index 2 */
    CHECK_CONTAINS(err.msg, "/lab: label 9 at index 2 (byte offset 10) is not below 9");
    free_pair(&p);
}

static void test_idx_missing_file(void) {
    char *dir = test_tmpdir("idx");
    char *img = path_in(dir, "nope-images"), *lab = path_in(dir, "lab");
    bytes bl = idx_labels(N_IMG);
    write_file(lab, bl.data, bl.n);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_idx_load(img, lab, 10, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, img);
    CHECK_CONTAINS(err.msg, "No such file or directory");
    rm_rf(dir);
    free(dir), free(img), free(lab);
}

static void test_dataset_unknown_name(void) {
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_dataset_open("fashion-mnst", TK_SPLIT_TRAIN, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "unknown dataset \"fashion-mnst\" (did you mean \"fashion-mnist\"?)");
    CHECK_CONTAINS(err.msg, "known datasets: cifar10, cifar100, fashion-mnist, ");
    CHECK(tk_dataset_open("qqqqqqqqqqqq", TK_SPLIT_TRAIN, &d, &err) == -1);
    CHECK(strstr(err.msg, "did you mean") == NULL);
    /* The names are the catalog's (datasets/catalog), sorted. */
    int count = 0, idx = 0;
    const char *const *names = tk_dataset_names(&count);
    CHECK(count >= 10);
    for (int i = 0; i < count; i++) idx += !strcmp(names[i], "fashion-mnist") + !strcmp(names[i], "mnist");
    CHECK(idx == 2);
}

static void not_found(const char *dir) {
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_dataset_open("mnist", TK_SPLIT_TEST, &d, &err) == -1);
    char *in_env = path_in(dir, "mnist ($TICKET_DATA)");
    CHECK_CONTAINS(err.msg, "dataset mnist (test split) not found");
    CHECK_CONTAINS(err.msg, "t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)");
    CHECK_CONTAINS(err.msg, in_env);
    CHECK_CONTAINS(err.msg, "\n  ./data/mnist\n");
    CHECK_CONTAINS(err.msg, "\n  /usr/share/datasets/mnist");
    CHECK_CONTAINS(err.msg, "in ./data/mnist");
    free(in_env);

    /* Half a dataset: the folder is named with what it lacks. */
    mkdir("mnist", 0755);
    bytes bi = idx_images(N_IMG, ROWS, COLS);
    write_file("mnist/t10k-images-idx3-ubyte", bi.data, bi.n);
    CHECK(tk_dataset_open("mnist", TK_SPLIT_TEST, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "/mnist/t10k-images-idx3-ubyte but not t10k-labels-idx1-ubyte(.gz))");
}

static void test_dataset_not_found(void) { with_data_dir(not_found); }

static void found_in_ticket_data(const char *dir) {
    char *folder = path_in(dir, "mnist");
    mkdir(folder, 0755);
    bytes bi = idx_images(N_IMG, ROWS, COLS), bl = idx_labels(N_IMG);
    char *img = path_in(folder, "t10k-images-idx3-ubyte.gz"), *lab = path_in(folder, "t10k-labels-idx1-ubyte");
    write_gz(img, bi.data, bi.n);
    write_file(lab, bl.data, bl.n);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_dataset_open("mnist", TK_SPLIT_TEST, &d, &err) == 0);
    CHECK(!strcmp(d.name, "mnist"));
    check_tiny(&d, 10);
    tk_dataset_free(&d);
    /* The train split is still absent. */
    CHECK(tk_dataset_open("mnist", TK_SPLIT_TRAIN, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "dataset mnist (train split) not found");
    free(folder), free(img), free(lab);
}

static void test_dataset_found_in_ticket_data(void) { with_data_dir(found_in_ticket_data); }

static bool fashion_mnist_installed(void) {
    const char *env = getenv("TICKET_DATA");
    char in_env[4096];
    snprintf(in_env, sizeof in_env, "%s/fashion-mnist", env ? env : "");
    return (env && access(in_env, R_OK) == 0) || access("data/fashion-mnist", R_OK) == 0 ||
           access("/usr/share/datasets/fashion-mnist", R_OK) == 0;
}

static void test_real_fashion_mnist(void) {
    if (!fashion_mnist_installed()) {
        printf("  note: fashion-mnist is not installed (apt-get install dataset-fashion-mnist); skipped\n");
        return;
    }
    const int want_n[] = {60000, 10000};
    for (int s = TK_SPLIT_TRAIN; s <= TK_SPLIT_TEST; s++) {
        tk_dataset d;
        tk_error err = {0};
        double t0 = tk_now();
        int rc = tk_dataset_open("fashion-mnist", (tk_split)s, &d, &err);
        double dt = tk_now() - t0;
        if (rc) printf("  %s\n", err.msg);
        CHECK(rc == 0);
        if (rc) continue;
        printf("  fashion-mnist %s: %d images loaded in %.3f s\n", tk_split_names[s], d.n, dt);
        CHECK(d.n == want_n[s] && d.C == 1 && d.H == 28 && d.W == 28 && d.classes == 10);
        int per_class[10] = {0};
        for (int i = 0; i < d.n; i++)
            if (d.labels[i] >= 0 && d.labels[i] < 10) per_class[d.labels[i]]++;
        for (int c = 0; c < 10; c++) CHECK(per_class[c] == want_n[s] / 10);
        if (s == TK_SPLIT_TRAIN) {
            /* The constants everyone normalises Fashion-MNIST with. */
            float mean, std;
            tk_dataset_stats(&d, &mean, &std);
            printf("  fashion-mnist train: mean %.4f std %.4f\n", mean, std);
            CHECK_NEAR(mean, 0.2860, 1e-3);
            CHECK_NEAR(std, 0.3530, 1e-3);
        }
        tk_dataset_free(&d);
    }
}

/* Two images of 2 channels x 1x2 pixels, filled by hand. */
static uint8_t two_channel_pixels[] = {0, 255, /* image 0, channel 0 */ 51, 51, /* channel 1 */
                                       255, 0, /* image 1, channel 0 */ 102, 0 /* channel 1 */};
static int32_t two_channel_labels[] = {4, 1};
static tk_dataset two_channel(void) {
    return (tk_dataset){.name = "hand", .n = 2, .C = 2, .H = 1, .W = 2, .classes = 5,
                        .images = two_channel_pixels, .labels = two_channel_labels};
}

static void test_stats(void) {
    tk_dataset d = two_channel();
    float mean[2], std[2];
    tk_dataset_stats(&d, mean, std);
    /* channel 0: {0, 1, 1, 0} -> mean 0.5, std 0.5; channel 1: {0.2, 0.2, 0.4, 0}
     * -> mean 0.2, variance (0 + 0 + 0.04 + 0.04)/4 = 0.02. */
    CHECK_NEAR(mean[0], 0.5, 1e-7);
    CHECK_NEAR(std[0], 0.5, 1e-7);
    CHECK_NEAR(mean[1], 0.2, 1e-7);
    CHECK_NEAR(std[1], sqrt(0.02), 1e-7);
}

static void test_batch(void) {
    tk_dataset d = two_channel();
    const float mean[2] = {0.5f, 0.25f}, std[2] = {0.5f, 0.125f};
    const int32_t idx[3] = {1, 0, 1};
    float x[3 * 4];
    int32_t labels[3] = {-1, -1, -1};
    tk_dataset_batch(&d, idx, 3, mean, std, x, labels);
    const float want[3 * 4] = {
        1, -1, (0.4f - 0.25f) / 0.125f, -2,  /* image 1 */
        -1, 1, (0.2f - 0.25f) / 0.125f, (0.2f - 0.25f) / 0.125f, /* image 0 */
        1, -1, (0.4f - 0.25f) / 0.125f, -2,  /* image 1 again */
    };
    for (int i = 0; i < 12; i++) CHECK_NEAR(x[i], want[i], 1e-6);
    CHECK(labels[0] == 1 && labels[1] == 4 && labels[2] == 1);

    /* A constant channel (std 0) is centred, not divided by zero. */
    const float flat_std[2] = {0.0f, 0.125f};
    tk_dataset_batch(&d, idx, 1, mean, flat_std, x, NULL);
    CHECK_NEAR(x[0], 0.5, 1e-6);
    CHECK_NEAR(x[1], -0.5, 1e-6);
}

int main(void) {
    /* Dataset names come from the tree's catalog wherever this program was built. */
    char catalog[4096];
    if (!getenv("TICKET_CATALOG") && realpath("datasets/catalog", catalog)) setenv("TICKET_CATALOG", catalog, 1);
    RUN(test_idx_plain);
    RUN(test_idx_gz);
    RUN(test_idx_wrong_magic);
    RUN(test_idx_truncated);
    RUN(test_idx_damaged_gz);
    RUN(test_idx_count_mismatch);
    RUN(test_idx_label_out_of_range);
    RUN(test_idx_missing_file);
    RUN(test_dataset_unknown_name);
    RUN(test_dataset_not_found);
    RUN(test_dataset_found_in_ticket_data);
    RUN(test_real_fashion_mnist);
    RUN(test_stats);
    RUN(test_batch);
    CHECK_MAIN_END();
}
