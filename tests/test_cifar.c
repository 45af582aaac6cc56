/* test_cifar.c - CIFAR-10 and CIFAR-100 (binary version) on tiny copies
 * written here with the real member names and record layout, as .tar.gz
 * (ustar + gzip, as downloaded) and as the extracted folder; coarse and fine
 * labels; and every bad input the loader must explain. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_common.h"
#include "tk_data.h"

extern const tk_format tk_format_cifar10;
extern const tk_format tk_format_cifar100;

#define PIXELS 3072

static const char cifar10_meta[] = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
static const char cifar100_coarse[] =
    "aquatic_mammals\nfish\nflowers\nfood_containers\nfruit_and_vegetables\nhousehold_electrical_devices\n"
    "household_furniture\ninsects\nlarge_carnivores\nlarge_man-made_outdoor_things\nlarge_natural_outdoor_scenes\n"
    "large_omnivores_and_herbivores\nmedium_mammals\nnon-insect_invertebrates\npeople\nreptiles\nsmall_mammals\n"
    "trees\nvehicles_1\nvehicles_2\n";
static const char cifar100_fine[] =
    "apple\naquarium_fish\nbaby\nbear\nbeaver\nbed\nbee\nbeetle\nbicycle\nbottle\nbowl\nboy\nbridge\nbus\n"
    "butterfly\ncamel\ncan\ncastle\ncaterpillar\ncattle\nchair\nchimpanzee\nclock\ncloud\ncockroach\ncouch\ncrab\n"
    "crocodile\ncup\ndinosaur\ndolphin\nelephant\nflatfish\nforest\nfox\ngirl\nhamster\nhouse\nkangaroo\nkeyboard\n"
    "lamp\nlawn_mower\nleopard\nlion\nlizard\nlobster\nman\nmaple_tree\nmotorcycle\nmountain\nmouse\nmushroom\n"
    "oak_tree\norange\norchid\notter\npalm_tree\npear\npickup_truck\npine_tree\nplain\nplate\npoppy\nporcupine\n"
    "possum\nrabbit\nraccoon\nray\nroad\nrocket\nrose\nsea\nseal\nshark\nshrew\nskunk\nskyscraper\nsnail\nsnake\n"
    "spider\nsquirrel\nstreetcar\nsunflower\nsweet_pepper\ntable\ntank\ntelephone\ntelevision\ntiger\ntractor\n"
    "train\ntrout\ntulip\nturtle\nwardrobe\nwhale\nwillow_tree\nwolf\nwoman\nworm\n";

/* Pixel byte k of record r of file f: distinct across files, records and
 * planes, so a record taken from the wrong file or offset cannot pass. */
static uint8_t pixel(int f, int r, int k) { return (uint8_t)((f * 97 + r * 31 + k * 7 + k / 1024) % 256); }
static uint8_t fine_label(int f, int r) { return (uint8_t)((f * 37 + r * 11 + 5) % 100); }
static uint8_t coarse_label(int f, int r) { return (uint8_t)((f * 7 + r * 3 + 1) % 20); }
static uint8_t label10(int f, int r) { return (uint8_t)((f * 3 + r * 7 + 2) % 10); }

/* A batch file `f` of n records with `label_bytes` labels each. */
static test_member batch(const char *name, int f, int n, int label_bytes) {
    test_member m;
    snprintf(m.name, sizeof m.name, "%s", name);
    size_t stride = (size_t)label_bytes + PIXELS;
    m.len = (size_t)n * stride;
    m.data = malloc(m.len + 1);
    for (int r = 0; r < n; r++) {
        uint8_t *rec = m.data + (size_t)r * stride;
        if (label_bytes == 1) rec[0] = label10(f, r);
        else rec[0] = coarse_label(f, r), rec[1] = fine_label(f, r);
        for (int k = 0; k < PIXELS; k++) rec[label_bytes + k] = pixel(f, r, k);
    }
    return m;
}

/* Files 1 and 2 are train batches (3 and 2 records), file 0 the test batch;
 * data_batch_2 comes before data_batch_1 in the archive, so the loader must
 * order them by number. */
enum { TRAIN1 = 1, TRAIN2 = 2, TEST = 0 };

static int cifar10_members(test_member *m) {
    int n = 0;
    m[n++] = member_folder("cifar-10-batches-bin/");
    m[n++] = batch("cifar-10-batches-bin/data_batch_2.bin", TRAIN2, 2, 1);
    m[n++] = member_text("cifar-10-batches-bin/batches.meta.txt", cifar10_meta);
    m[n++] = batch("cifar-10-batches-bin/data_batch_1.bin", TRAIN1, 3, 1);
    m[n++] = batch("cifar-10-batches-bin/test_batch.bin", TEST, 2, 1);
    m[n++] = member_text("cifar-10-batches-bin/readme.html", "<meta HTTP-EQUIV=\"REFRESH\" content=\"0; url=...\">\n");
    return n;
}

static int cifar100_members(test_member *m) {
    int n = 0;
    m[n++] = member_folder("cifar-100-binary/");
    m[n++] = member_text("cifar-100-binary/coarse_label_names.txt", cifar100_coarse);
    m[n++] = batch("cifar-100-binary/train.bin", TRAIN1, 3, 2);
    m[n++] = member_text("cifar-100-binary/fine_label_names.txt", cifar100_fine);
    m[n++] = batch("cifar-100-binary/test.bin", TEST, 2, 2);
    return n;
}

/* Removes the member called `name` (by its file name) from m[0..*n). */
static void drop(test_member *m, int *n, const char *name) {
    for (int i = 0; i < *n; i++) {
        const char *base = strrchr(m[i].name, '/');
        if (base && !strcmp(base + 1, name)) {
            free(m[i].data);
            memmove(m + i, m + i + 1, sizeof *m * (size_t)(*n - i - 1));
            (*n)--;
            return;
        }
    }
    abort();
}

static test_member *find(test_member *m, int n, const char *name) {
    for (int i = 0; i < n; i++) {
        const char *base = strrchr(m[i].name, '/');
        if (base && !strcmp(base + 1, name)) return &m[i];
    }
    abort();
}

typedef struct expected_part {
    int file, records;
} expected_part;

/* d holds the records of parts[] in order, with the label `which` picks
 * (0: CIFAR-10, 1: coarse, 2: fine). */
static void check_records(const tk_dataset *d, const expected_part *parts, int nparts, int which) {
    int n = 0;
    for (int p = 0; p < nparts; p++) n += parts[p].records;
    CHECK(d->n == n);
    CHECK(d->C == 3 && d->H == 32 && d->W == 32);
    if (d->n != n) return;
    int at = 0, bad_labels = 0, bad_pixels = 0;
    for (int p = 0; p < nparts; p++)
        for (int r = 0; r < parts[p].records; r++, at++) {
            int f = parts[p].file;
            int label = which == 0 ? label10(f, r) : which == 1 ? coarse_label(f, r) : fine_label(f, r);
            bad_labels += d->labels[at] != label;
            for (int k = 0; k < PIXELS; k++) bad_pixels += d->images[(size_t)at * PIXELS + k] != pixel(f, r, k);
        }
    CHECK(bad_labels == 0);
    CHECK(bad_pixels == 0);
}

static const expected_part cifar10_train[] = {{TRAIN1, 3}, {TRAIN2, 2}};
static const expected_part cifar_test[] = {{TEST, 2}};

static void test_cifar10(void) {
    char *dir = test_tmpdir("cifar10");
    char *tgz = path_in(dir, "cifar-10-binary.tar.gz");
    char *bin = path_in(dir, "cifar-10-batches-bin");
    test_member m[8];
    int n = cifar10_members(m);
    write_archive(tgz, ARCHIVE_TAR_GZ, m, n);
    write_tree(dir, m, n);
    free_members(m, n);
    CHECK(tk_format_cifar10.detect(tgz) == 100);
    CHECK(tk_format_cifar100.detect(tgz) == 0);
    CHECK(tk_format_cifar10.detect(dir) == 100);
    CHECK(tk_format_cifar10.detect(bin) == 90);
    CHECK(tk_format_cifar100.detect(dir) == 0);
    const char *paths[] = {tgz, dir, bin};
    tk_dataset first[2];
    for (int p = 0; p < 3; p++)
        for (int s = TK_SPLIT_TRAIN; s <= TK_SPLIT_TEST; s++) {
            tk_dataset d;
            tk_error err = {0};
            CHECK(tk_format_cifar10.load(paths[p], (tk_split)s, NULL, &d, &err) == 0);
            if (err.msg[0]) printf("  %s: %s\n", paths[p], err.msg);
            if (s == TK_SPLIT_TRAIN) check_records(&d, cifar10_train, 2, 0);
            else check_records(&d, cifar_test, 1, 0);
            CHECK(d.classes == 10 && d.class_names);
            if (d.class_names) CHECK(!strcmp(d.class_names[0], "airplane") && !strcmp(d.class_names[9], "truck"));
            CHECK(!strcmp(d.name, "cifar10"));
            /* The same bytes from the archive and from the folders. */
            if (p == 0) first[s] = d;
            else {
                CHECK(same_dataset(&d, &first[s]));
                tk_dataset_free(&d);
            }
        }
    tk_dataset_free(&first[0]);
    tk_dataset_free(&first[1]);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_cifar10.load(tgz, TK_SPLIT_EXTRA, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "CIFAR-10 has train and test splits only, not extra");
    free(tgz);
    free(bin);
    rm_rf(dir);
    free(dir);
}

static void test_cifar100_coarse_and_fine(void) {
    char *dir = test_tmpdir("cifar100");
    char *tgz = path_in(dir, "cifar-100-binary.tar.gz");
    test_member m[8];
    int n = cifar100_members(m);
    write_archive(tgz, ARCHIVE_TAR_GZ, m, n);
    write_tree(dir, m, n);
    free_members(m, n);
    CHECK(tk_format_cifar100.detect(tgz) == 100);
    CHECK(tk_format_cifar10.detect(tgz) == 0);
    CHECK(tk_format_cifar100.detect(dir) == 100);
    static const expected_part train[] = {{TRAIN1, 3}};
    for (int coarse = 0; coarse <= 1; coarse++) {
        tk_load_options opt = {.coarse_labels = coarse};
        for (int s = TK_SPLIT_TRAIN; s <= TK_SPLIT_TEST; s++) {
            tk_dataset a, b;
            tk_error err = {0};
            CHECK(tk_format_cifar100.load(tgz, (tk_split)s, &opt, &a, &err) == 0);
            CHECK(tk_format_cifar100.load(dir, (tk_split)s, &opt, &b, &err) == 0);
            if (err.msg[0]) printf("  %s\n", err.msg);
            check_records(&a, s == TK_SPLIT_TRAIN ? train : cifar_test, 1, coarse ? 1 : 2);
            CHECK(same_dataset(&a, &b));
            CHECK(a.classes == (coarse ? 20 : 100));
            if (a.class_names) {
                CHECK(!strcmp(a.class_names[0], coarse ? "aquatic_mammals" : "apple"));
                CHECK(!strcmp(a.class_names[a.classes - 1], coarse ? "vehicles_2" : "worm"));
            }
            tk_dataset_free(&a);
            tk_dataset_free(&b);
        }
    }
    /* No options means fine labels, the 100 classes. */
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_cifar100.load(tgz, TK_SPLIT_TEST, NULL, &d, &err) == 0);
    CHECK(d.classes == 100 && d.n == 2 && d.labels[1] == fine_label(TEST, 1));
    tk_dataset_free(&d);
    free(tgz);
    rm_rf(dir);
    free(dir);
}

/* Writes m as a .tar.gz (under the real download name) and as a folder, loads
 * `split` from both with `format`, and checks the messages. */
static void expect_error(const tk_format *format, const test_member *m, int n, tk_split split, bool coarse,
                         const char *needle1, const char *needle2) {
    char *dir = test_tmpdir("cifar-bad");
    char *tgz = path_in(dir, format == &tk_format_cifar10 ? "cifar-10-binary.tar.gz" : "cifar-100-binary.tar.gz");
    write_archive(tgz, ARCHIVE_TAR_GZ, m, n);
    write_tree(dir, m, n);
    tk_load_options opt = {.coarse_labels = coarse};
    const char *paths[] = {tgz, dir};
    for (int p = 0; p < 2; p++) {
        tk_dataset d;
        tk_error err = {0};
        CHECK(format->load(paths[p], split, &opt, &d, &err) == -1);
        CHECK(d.images == NULL && d.n == 0);
        CHECK_CONTAINS(err.msg, paths[p]);
        CHECK_CONTAINS(err.msg, needle1);
        CHECK_CONTAINS(err.msg, needle2);
    }
    free(tgz);
    rm_rf(dir);
    free(dir);
}

static void test_wrong_size(void) {
    test_member m[8];
    int n = cifar10_members(m);
    test_member *b = find(m, n, "data_batch_1.bin");
    b->len = 2 * 3073 + 100;
    expect_error(&tk_format_cifar10, m, n, TK_SPLIT_TRAIN, false, "data_batch_1.bin is 6246 bytes",
                 "expected a whole number of 3073-byte CIFAR-10 records");
    b->len = 0;
    expect_error(&tk_format_cifar10, m, n, TK_SPLIT_TRAIN, false, "data_batch_1.bin is empty, 0 bytes", "3073-byte");
    free_members(m, n);
    n = cifar100_members(m);
    find(m, n, "test.bin")->len = 3074 + 3073;
    expect_error(&tk_format_cifar100, m, n, TK_SPLIT_TEST, false, "test.bin is 6147 bytes",
                 "3074-byte CIFAR-100 records (2 label bytes + 3072 pixels)");
    free_members(m, n);
}

static void test_label_out_of_range(void) {
    test_member m[8];
    int n = cifar10_members(m);
    find(m, n, "test_batch.bin")->data[3073] = 10;
    expect_error(&tk_format_cifar10, m, n, TK_SPLIT_TEST, false,
                 "test_batch.bin: record 1 (byte offset 3073) has label 10, expected 0..9",
                 "(batches.meta.txt lists 10 classes)");
    free_members(m, n);
    /* A damaged fine label is caught even when the coarse ones are used. */
    n = cifar100_members(m);
    find(m, n, "train.bin")->data[2 * 3074 + 1] = 100;
    expect_error(&tk_format_cifar100, m, n, TK_SPLIT_TRAIN, true,
                 "train.bin: record 2 (byte offset 6149) has fine label 100, expected 0..99", "fine_label_names.txt");
    free_members(m, n);
    /* Fewer names than labels: the names file decides the class count. */
    n = cifar10_members(m);
    test_member *meta = find(m, n, "batches.meta.txt");
    meta->len = strlen("airplane\nautomobile\nbird\n");
    expect_error(&tk_format_cifar10, m, n, TK_SPLIT_TRAIN, false, "expected 0..2", "lists 3 classes");
    free_members(m, n);
}

static void test_missing_member(void) {
    test_member m[8];
    int n = cifar10_members(m);
    drop(m, &n, "test_batch.bin");
    expect_error(&tk_format_cifar10, m, n, TK_SPLIT_TEST, false, "no test_batch.bin;",
                 "holds data_batch_1.bin .. data_batch_5.bin, test_batch.bin and batches.meta.txt");
    free_members(m, n);
    /* A gap in the numbering is a lost file, not a subset. */
    n = cifar10_members(m);
    test_member *b1 = find(m, n, "data_batch_1.bin");
    memmove(b1->name + strlen(b1->name) - 5, "3.bin", 5);
    expect_error(&tk_format_cifar10, m, n, TK_SPLIT_TRAIN, false, "no data_batch_1.bin;", "cifar.html");
    drop(m, &n, "batches.meta.txt");
    expect_error(&tk_format_cifar10, m, n, TK_SPLIT_TRAIN, false, "no data_batch_1.bin, batches.meta.txt;",
                 "Download cifar-10-binary.tar.gz");
    free_members(m, n);
    n = cifar100_members(m);
    drop(m, &n, "coarse_label_names.txt");
    expect_error(&tk_format_cifar100, m, n, TK_SPLIT_TRAIN, false, "no coarse_label_names.txt;",
                 "holds train.bin, test.bin, coarse_label_names.txt and fine_label_names.txt");
    free_members(m, n);
}

/* Two copies of a batch (say, from extracting into a folder twice) would
 * silently double or replace records. */
static void test_duplicate(void) {
    char *dir = test_tmpdir("cifar-dup");
    char *tgz = path_in(dir, "cifar-10-binary.tar.gz");
    test_member m[8];
    int n = cifar10_members(m);
    m[n++] = batch("copy/data_batch_1.bin", TRAIN1, 1, 1);
    write_archive(tgz, ARCHIVE_TAR_GZ, m, n);
    free_members(m, n);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_cifar10.load(tgz, TK_SPLIT_TRAIN, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "two files named data_batch_1.bin: cifar-10-batches-bin/data_batch_1.bin and "
                            "copy/data_batch_1.bin; keep one");
    free(tgz);
    rm_rf(dir);
    free(dir);
}

/* The python version has the same folder idea but pickles: say so. */
static void test_python_version(void) {
    test_member m[3] = {member_folder("cifar-10-batches-py/"),
                        member_text("cifar-10-batches-py/data_batch_1", "\x80\x02}q"),
                        member_text("cifar-10-batches-py/batches.meta", "\x80\x02}q")};
    expect_error(&tk_format_cifar10, m, 3, TK_SPLIT_TRAIN, false, "no data_batch_1.bin, batches.meta.txt",
                 "this looks like the python version, with pickled batches; ticket reads the binary version");
    free_members(m, 3);
}

static void test_bad_names(void) {
    test_member m[8];
    int n = cifar10_members(m);
    replace_member(find(m, n, "batches.meta.txt"),
                   member_text("cifar-10-batches-bin/batches.meta.txt", "airplane\n\nbird\n"));
    expect_error(&tk_format_cifar10, m, n, TK_SPLIT_TEST, false, "batches.meta.txt: line 2 is blank",
                 "one class name per line");
    free_members(m, n);
    n = cifar10_members(m);
    replace_member(find(m, n, "batches.meta.txt"), member_text("cifar-10-batches-bin/batches.meta.txt", "\n \n"));
    expect_error(&tk_format_cifar10, m, n, TK_SPLIT_TEST, false, "batches.meta.txt: no class names", "one per line");
    free_members(m, n);
}

/* A cut download: the loader stops inside a member and names it. */
static void test_truncated(void) {
    char *dir = test_tmpdir("cifar-cut");
    char *tgz = path_in(dir, "cifar-10-binary.tar.gz");
    test_member m[8];
    int n = cifar10_members(m);
    /* Pseudo-random pixels, so that the compressed size follows the data. */
    test_member *b = find(m, n, "data_batch_1.bin");
    replace_member(b, batch("cifar-10-batches-bin/data_batch_1.bin", TRAIN1, 40, 1));
    uint64_t x = 99;
    for (size_t i = 0; i < b->len; i++) b->data[i] = (uint8_t)((x = x * 6364136223846793005ull + 1) >> 56);
    for (int r = 0; r < 40; r++) b->data[(size_t)r * 3073] = 1;
    write_archive(tgz, ARCHIVE_TAR_GZ, m, n);
    free_members(m, n);
    cut_file(tgz, 1, 2);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_cifar10.load(tgz, TK_SPLIT_TRAIN, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "member cifar-10-batches-bin/data_batch_1.bin: truncated or damaged");
    CHECK_CONTAINS(err.msg, "download cifar-10-binary.tar.gz again");
    /* Named like the download but not an archive: detected weakly, and the
     * load says why it cannot be read. */
    write_file(tgz, "<html>404</html>", 16);
    CHECK(tk_format_cifar10.detect(tgz) == 10);
    CHECK(tk_format_cifar10.load(tgz, TK_SPLIT_TRAIN, NULL, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, tgz);
    CHECK(tk_format_cifar10.detect(dir) == 0);
    free(tgz);
    rm_rf(dir);
    free(dir);
}

int main(void) {
    RUN(test_cifar10);
    RUN(test_cifar100_coarse_and_fine);
    RUN(test_wrong_size);
    RUN(test_label_out_of_range);
    RUN(test_missing_member);
    RUN(test_duplicate);
    RUN(test_python_version);
    RUN(test_bad_names);
    RUN(test_truncated);
    CHECK_MAIN_END();
}
