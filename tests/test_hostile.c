/* test_hostile.c - malformed and hostile files, one test per defect that
 * fuzzing found (../shared/fuzz-findings): each must be refused with a
 * message naming the file, the field or offset and what was expected, never
 * a crash, undefined behaviour or an allocation of what a header claims.
 * Run under `make test-asan`, the sanitizers check the "never" part. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_archive.h"
#include "tk_catalog.h"
#include "tk_checkpoint.h"
#include "tk_data.h"
#include "tk_file.h"
#include "tk_find.h"
#include "tk_regress.h"
#include "tk_report.h"
#include "tk_rng.h"
#include "tk_study.h"
#include "tk_ticket.h"
#include "tk_train.h"

#include <limits.h>
#include <matio.h>
#include <sys/stat.h>

static char *write_in(const char *dir, const char *name, const void *data, size_t n) {
    char *p = path_in(dir, name);
    write_file(p, data, n);
    return p;
}

static char *write_text(const char *dir, const char *name, const char *text) {
    return write_in(dir, name, text, strlen(text));
}

/* ---- the shared checks */

static void test_whole_in(void) {
    CHECK(tk_whole_in(0, 0, 10) && tk_whole_in(10, 0, 10) && tk_whole_in(-3, -5, 5));
    CHECK(!tk_whole_in(11, 0, 10) && !tk_whole_in(-1, 0, 10) && !tk_whole_in(2.5, 0, 10));
    CHECK(!tk_whole_in(1e10, 0, INT_MAX) && !tk_whole_in(1.11111e19, 0, TK_WHOLE_MAX));
    CHECK(!tk_whole_in(NAN, 0, 10) && !tk_whole_in(INFINITY, 0, TK_WHOLE_MAX) && !tk_whole_in(-INFINITY, -5, 5));
    CHECK(tk_fits_float(3.4e38) && !tk_fits_float(1e100) && !tk_fits_float(-1e39) && !tk_fits_float(NAN));
}

/* ---- registry and results.csv (plots/regress.c) */

/* fuzz-findings/registry/uaf-invalid-json.json: the message quoted the freed buffer. */
static void test_registry_not_json(void) {
    char *dir = test_tmpdir("hostile");
    char *reg = write_text(dir, "reg.json", "{\"source\": ");
    tk_regress_registry r = {0};
    tk_error err = {0};
    CHECK(tk_regress_load(&r, reg, &err) == -1);
    CHECK_CONTAINS(err.msg, "reg.json: not valid JSON at byte 10");
    char args[4200];
    snprintf(args, sizeof args, "regress '%s' --against '%s'", dir, reg);
    CHECK_TICKET(dir, "", args, 2, "reg.json: not valid JSON at byte 10");
    tk_regress_registry_free(&r);
    rm_rf(dir);
    free(reg), free(dir);
}

static const char registry_head[] =
    "{\"source\": \"fuzz\", \"entries\": [{\"id\": \"a\", \"citation\": \"c\", \"model\": \"lenet_300_100\", "
    "\"dataset\": \"mnist\", \"setting\": \"s\", \"metric\": \"final_accuracy\", \"check\": {\"kind\": \"value\", "
    "\"select\": {\"level\": %s}, \"value\": 0.9, \"tolerance\": 0.1}}]}";

/* fuzz-findings/registry/ubsan-select-level-1e10.json: (int)1e10 before the range check. */
static void test_registry_select_level(void) {
    char *dir = test_tmpdir("hostile");
    const char *bad[] = {"1e10", "-1", "2.5", "1e300"}, *shown[] = {"10000000000", "-1", "2.5", "1e+300"};
    for (int i = 0; i < TK_ARRAY_LEN(bad); i++) {
        char text[1024];
        snprintf(text, sizeof text, registry_head, bad[i]);
        char *reg = write_text(dir, "reg.json", text);
        tk_regress_registry r = {0};
        tk_error err = {0};
        CHECK(tk_regress_load(&r, reg, &err) == -1);
        char want[256];
        snprintf(want, sizeof want, "reg.json: entry 'a': key 'check.select.level' must be a whole number in [0, "
                 "2147483647] or \"sparsest\", not %s", shown[i]);
        CHECK_CONTAINS(err.msg, want);
        tk_regress_registry_free(&r);
        free(reg);
    }
    char text[1024];
    snprintf(text, sizeof text, registry_head, "7");
    char *reg = write_text(dir, "reg.json", text);
    tk_regress_registry r = {0};
    tk_error err = {0};
    CHECK(tk_regress_load(&r, reg, &err) == 0);
    CHECK(r.n == 1 && r.entries[0].left.level == 7);
    tk_regress_registry_free(&r);
    rm_rf(dir);
    free(reg), free(dir);
}

/* fuzz-findings/results_csv/ubsan-level-1e10.csv: results.csv's level was cast unchecked. */
static void test_results_level(void) {
    char *dir = test_tmpdir("hostile");
    char *report = path_in(dir, "report");
    mkdir(report, 0755);
    const char *bad[] = {"1e10", "-2", "0.5"};
    for (int i = 0; i < TK_ARRAY_LEN(bad); i++) {
        char csv[1024];
        snprintf(csv, sizeof csv,
                 "study,model,target,target_optimizer,source,source_optimizer,control,native,level,density,seed,"
                 "final_accuracy,best_accuracy,best_iteration\n"
                 "s,lenet_300_100,mnist,adam,mnist,adam,ticket,true,%s,0.5,0,0.9,0.9,10\n",
                 bad[i]);
        free(write_text(report, "results.csv", csv));
        tk_regress_results res;
        tk_error err = {0};
        CHECK(tk_regress_read_results(dir, &res, &err) == -1);
        char want[256];
        snprintf(want, sizeof want, "report/results.csv:2: level '%s' must be a whole number from 0 to 2147483647",
                 bad[i]);
        CHECK_CONTAINS(err.msg, want);
    }
    char args[4200];
    snprintf(args, sizeof args, "regress '%s'", dir);
    CHECK_TICKET(dir, "", args, 2, "results.csv:2: level '0.5' must be a whole number");
    rm_rf(dir);
    free(report), free(dir);
}

/* ---- numbers in specifications and configurations */

/* fuzz-findings/catalog/ubsan-get_int-float-cast.json: (int64_t)1.1e19 before the range check. */
static void test_catalog_huge_number(void) {
    const char *values[] = {"11111111111111111110", "1e300", "-1e300", "2.5"};
    const char *shown[] = {"1.11111111111111e+19", "1e+300", "-1e+300", "2.5"};
    for (int i = 0; i < TK_ARRAY_LEN(values); i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"name\": \"fash\", \"title\": \"F\", \"format\": \"idx\", \"locations\": [\"fn\"], "
                 "\"classes\": %s}",
                 values[i]);
        tk_catalog_entry e;
        memset(&e, 0, sizeof e);
        tk_error err = {0};
        CHECK(tk_catalog_parse(json, "fash.json", &e, &err) == -1);
        char want[128];
        snprintf(want, sizeof want, "fash.json: key 'classes' must be a whole number in [1, 1048576], not %s", shown[i]);
        CHECK(!strcmp(err.msg, want));
        tk_catalog_entry_free(&e);
    }
}

/* fuzz-findings/study/ubsan-seed-float-cast.json: an invalid seed was reported, then cast anyway. */
static void test_study_seed(void) {
    const char *values[] = {"66666666666666666601", "1e300", "-1", "0.5"};
    const char *shown[] = {"6.66666666666667e+19", "1e+300", "-1", "0.5"};
    for (int i = 0; i < TK_ARRAY_LEN(values); i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"seeds\": [1, %s]}", values[i]);
        tk_study s;
        tk_error err = {0};
        CHECK(tk_study_from_json(json, "study.json", &s, &err) == -1);
        char want[128];
        snprintf(want, sizeof want, "study.json: key 'seeds[1]' must be a whole number in [0, 999999999999999], not %s",
                 shown[i]);
        CHECK_CONTAINS(err.msg, want);
    }
    tk_study s;
    tk_error err = {0};
    CHECK(tk_study_from_json("{\"workers\": 1e300}", "study.json", &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "study.json: key 'workers' must be a whole number in [1, 64], not 1e+300");
}

/* fuzz-findings/train_config/roundtrip-width-1e100.json: 1e100 became +inf, was accepted,
 * written as null, and the written config.json was refused. */
static void test_train_config_width(void) {
    tk_train_config c;
    tk_error err = {0};
    CHECK(tk_train_config_from_json("{\"model\":\"conv2\",\"width\":1e100}", "config.json", &c, &err) == -1);
    CHECK(!strcmp(err.msg, "config.json: key 'width' must be a number of magnitude at most 3.40282e+38, not 1e+100"));
    CHECK(tk_train_config_from_json("{\"model\":\"conv2\",\"width\":1e30}", "config.json", &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "config.json: --width must be in (0, 64], got 1e+30");
    CHECK(tk_train_config_from_json("{\"model\":\"conv2\",\"lr\":-1e300}", "config.json", &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "config.json: key 'lr' must be a number of magnitude at most 3.40282e+38, not -1e+300");
    CHECK(tk_train_config_from_json("{\"model\":\"conv2\",\"batch\":1e300}", "config.json", &c, &err) == -1);
    CHECK(!strcmp(err.msg, "config.json: key 'batch' must be a whole number in [0, 1073741824], not 1e+300"));
    /* What is accepted is written so that it reads back the same. */
    CHECK(tk_train_config_from_json("{\"model\":\"conv2\",\"dataset\":\"mnist\",\"width\":0.5}", "config.json", &c,
                                    &err) == 0);
    char *text = tk_train_config_to_json(&c);
    tk_train_config again;
    CHECK(tk_train_config_from_json(text, "config.json", &again, &err) == 0);
    CHECK(again.width == 0.5f);
    free(text);
}

/* `ticket find SPEC` on this specification exits 2 with `want` in its output. */
static void check_find_refuses(const char *spec, const char *want) {
    char *dir = test_tmpdir("hostile");
    char *file = write_text(dir, "spec.json", spec);
    char args[4200];
    snprintf(args, sizeof args, "find '%s' --root '%s/runs'", file, dir);
    CHECK_TICKET(dir, "", args, 2, want);
    rm_rf(dir);
    free(file), free(dir);
}

/* fuzz-findings/find_config/roundtrip-width-1e100.json: the same through a find spec. */
static void test_find_spec_width(void) {
    tk_find_config c;
    tk_error err = {0};
    const char *spec = "{\"train\": {\"model\": \"conv2\", \"dataset\": \"cifar10\", \"width\": 1e100}}";
    CHECK(tk_find_config_from_json(spec, "spec.json", &c, &err) == -1);
    CHECK(!strcmp(err.msg, "spec.json: key 'train.width' must be a number of magnitude at most 3.40282e+38, not 1e+100"));
    spec = "{\"train\": {\"model\": \"conv2\", \"dataset\": \"cifar10\"}, \"pruning\": {\"rate\": 1e100}}";
    CHECK(tk_find_config_from_json(spec, "spec.json", &c, &err) == -1);
    CHECK(!strcmp(err.msg, "spec.json: key 'pruning.rate' must be a number of magnitude at most 3.40282e+38, not 1e+100"));
    spec = "{\"train\": {\"model\": \"conv2\", \"dataset\": \"cifar10\"}, \"l1_penalty\": 1e100}";
    CHECK(tk_find_config_from_json(spec, "spec.json", &c, &err) == -1);
    CHECK(!strcmp(err.msg, "spec.json: key 'l1_penalty' must be a number of magnitude at most 3.40282e+38, not 1e+100"));
    check_find_refuses("{\"train\": {\"model\": \"conv2\", \"dataset\": \"cifar10\", \"width\": 1e100}}",
                       "spec.json: key 'train.width' must be a number of magnitude at most 3.40282e+38, not 1e+100");
}

/* Found by fuzz_train_config (make fuzz FUZZ_SECONDS=20): a key given twice.
 * The defaults came from the first "model", the name from the second, so
 * {"model": "lenet_300_100", "model": "le"} was accepted and its config.json
 * refused ("unknown model 'le'"). */
static void test_duplicate_key(void) {
    tk_train_config c;
    tk_error err = {0};
    CHECK(tk_train_config_from_json("{\"model\": \"lenet_300_100\", \"model\": \"le\", \"lr\": 0.0012}",
                                    "config.json", &c, &err) == -1);
    CHECK(!strcmp(err.msg, "config.json: key 'model' is given more than once; keep one"));
    CHECK(tk_train_config_from_json("{\"model\": \"conv2\", \"lr\": 0.1, \"lr\": 0.2}", "config.json", &c, &err) ==
          -1);
    CHECK(!strcmp(err.msg, "config.json: key 'lr' is given more than once; keep one"));
    check_find_refuses("{\"train\": {\"model\": \"conv2\", \"dataset\": \"cifar10\", \"model\": \"conv4\"}}",
                       "spec.json: key 'train.model' is given more than once; keep one");
}

/* ---- archives (datasets/archive.c) */

/* fuzz-findings/archive/oom-zip-member-size-4GiB.bin (without the harness's
 * flags byte): a zip member "t" whose local header says 4 GiB, and no data. */
static const uint8_t zip_4gib[] = {0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x74, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00};

/* The same, but with a real local file header: member "t", 4 GiB declared, 3 bytes present. */
static void write_zip_claiming(const char *path, const char *name, uint32_t size, const char *data) {
    uint8_t b[256] = {0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    size_t len = strlen(name), n = strlen(data);
    uint8_t *p = b + 14;
    memset(p, 0, 4), p += 4;                                         /* crc */
    for (int i = 0; i < 4; i++) *p++ = (uint8_t)(size >> (8 * i));   /* compressed size */
    for (int i = 0; i < 4; i++) *p++ = (uint8_t)(size >> (8 * i));   /* uncompressed size */
    *p++ = (uint8_t)len, *p++ = 0, *p++ = 0, *p++ = 0;
    memcpy(p, name, len), p += len;
    memcpy(p, data, n), p += n;
    write_file(path, b, (size_t)(p - b));
}

static void test_archive_member_claims_4gib(void) {
    char *dir = test_tmpdir("hostile");
    char *fuzzed = write_in(dir, "fuzzed.zip", zip_4gib, sizeof zip_4gib);
    char *zip = path_in(dir, "claims.zip");
    write_zip_claiming(zip, "t", 0xffffffffu, "abc");
    const char *paths[] = {fuzzed, zip};
    for (int k = 0; k < 2; k++) {
        tk_error err = {0};
        tk_archive *a = tk_archive_open(paths[k], TK_ARCHIVE_TAR_ZIP, "a zip", "get it again", &err);
        CHECK(a != NULL);
        if (!a) continue;
        tk_archive_member m;
        int r = tk_archive_next(a, &m, &err);
        if (r == 1) {
            uint8_t *buf = NULL;
            size_t cap = 0, n = 0;
            /* Refused by the bound before anything is allocated... */
            CHECK(tk_archive_read(a, 1 << 20, &buf, &cap, &n, &err) == -1);
            CHECK_CONTAINS(err.msg, "member t: its header says 4294967295 bytes, more than the 1048576 expected of "
                                    "it; get it again");
            CHECK(buf == NULL);
            free(buf);
        } else {
            CHECK(r == -1); /* libarchive may already refuse the header */
        }
        tk_archive_close(a);
        /* ...and without a bound, what is allocated follows the bytes that arrive. */
        a = tk_archive_open(paths[k], TK_ARCHIVE_TAR_ZIP, "a zip", "get it again", &err);
        if (a && tk_archive_next(a, &m, &err) == 1) {
            uint8_t *buf = NULL;
            size_t cap = 0, n = 0;
            CHECK(tk_archive_read(a, SIZE_MAX, &buf, &cap, &n, &err) == -1);
            CHECK_CONTAINS(err.msg, "member t: truncated or damaged: reading stopped after");
            CHECK(cap <= (size_t)1 << 20);
            free(buf);
        }
        tk_archive_close(a);
    }
    rm_rf(dir);
    free(fuzzed), free(zip), free(dir);
}

/* tests/fuzz/corpus/archive/oom-zip-member-size-4GiB.bin through fuzz_archive:
 * read as any format, libarchive's streaming zip reader names that member ""
 * (the seekable one, above, "t"). A member without a name is skipped, as
 * tk_archive.h promises, so nothing downstream sees an empty name; here the
 * walk then meets the truncated data. */
static void test_archive_member_empty_name(void) {
    char *dir = test_tmpdir("hostile");
    char *fuzzed = write_in(dir, "fuzzed.zip", zip_4gib, sizeof zip_4gib);
    tk_error err = {0};
    tk_archive *a = tk_archive_open(fuzzed, TK_ARCHIVE_ANY, "an archive", "get it again", &err);
    CHECK(a != NULL);
    tk_archive_member m;
    int r = a ? tk_archive_next(a, &m, &err) : 0;
    CHECK(r == -1);
    CHECK_CONTAINS(err.msg, "fuzzed.zip: the archive is truncated or damaged at its start: ");
    CHECK_CONTAINS(err.msg, "; get it again");
    if (r == 1) CHECK(m.name[0] != 0);
    tk_archive_close(a);
    rm_rf(dir);
    free(fuzzed), free(dir);
}

/* An unsized member (a tar's data, or a streamed zip) larger than the bound. */
static void test_archive_member_above_bound(void) {
    char *dir = test_tmpdir("hostile");
    char *tar = path_in(dir, "big.tar.gz");
    test_member m[2] = {member_text("small.txt", "0123456789"), member_text("big.txt", "0123456789abcdef")};
    write_archive(tar, ARCHIVE_TAR_GZ, m, 2);
    tk_error err = {0};
    tk_archive *a = tk_archive_open(tar, TK_ARCHIVE_TAR_ZIP, "a tar", "make it again", &err);
    CHECK(a != NULL);
    tk_archive_member am;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    CHECK(a && tk_archive_next(a, &am, &err) == 1);
    CHECK(a && tk_archive_read(a, 10, &buf, &cap, &n, &err) == 0 && n == 10 && !strcmp((char *)buf, "0123456789"));
    CHECK(a && tk_archive_next(a, &am, &err) == 1);
    CHECK(a && tk_archive_read(a, 10, &buf, &cap, &n, &err) == -1);
    CHECK_CONTAINS(err.msg, "big.tar.gz: member big.txt: its header says 16 bytes, more than the 10 expected of it; "
                            "make it again");
    free(buf);
    tk_archive_close(a);
    free_members(m, 2);
    rm_rf(dir);
    free(tar), free(dir);
}

/* ---- image folders (datasets/imagefolder.c) */

static int load_folder(const char *path, tk_split split, int classes, tk_dataset *d, tk_error *err) {
    const tk_format *f = tk_format_find("imagefolder");
    TK_ASSERT(f);
    tk_load_options o = {.classes = classes};
    memset(d, 0, sizeof *d);
    return f->load(path, split, &o, d, err);
}

/* fuzz-findings/imagefolder/oom-zip-wnids-size-4GiB.bin: a 49-byte zip whose
 * tiny/wnids.txt claims 4 GiB. */
static void test_wnids_claims_4gib(void) {
    char *dir = test_tmpdir("hostile");
    char *zip = path_in(dir, "tiny.zip");
    write_zip_claiming(zip, "tiny/wnids.txt", 0xffffffffu, "n01\n");
    tk_dataset d;
    tk_error err = {0};
    CHECK(load_folder(zip, TK_SPLIT_TRAIN, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "tiny.zip: member tiny/wnids.txt: its header says 4294967295 bytes, more than the "
                            "67108864 expected of it");
    rm_rf(dir);
    free(zip), free(dir);
}

/* fuzz-findings/imagefolder/ubsan-qsort-null-no-class-folder.bin: no class
 * folder under the root gave qsort(NULL, 0). */
static void test_no_class_folder(void) {
    char *dir = test_tmpdir("hostile");
    char *zip = path_in(dir, "flat.zip");
    test_member m[1] = {member_text("train/cat  .jpe", "not an image")};
    write_archive(zip, ARCHIVE_ZIP, m, 1);
    tk_dataset d;
    tk_error err = {0};
    CHECK(load_folder(zip, TK_SPLIT_TRAIN, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "flat.zip");
    free_members(m, 1);
    rm_rf(dir);
    free(zip), free(dir);
}

/* fuzz-findings/imagefolder/ubsan-places-label-int-max.bin: 2147483647 + 1 classes. */
static void test_places_labels(void) {
    char *dir = test_tmpdir("hostile");
    char *list = write_text(dir, "places365_train_standard.txt", "a.png 2147483647\n");
    tk_dataset d;
    tk_error err = {0};
    CHECK(load_folder(dir, TK_SPLIT_TRAIN, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "places365_train_standard.txt line 1: expected \"<image path> <label>\" with a label in "
                            "0..1048575, found \"2147483647\"");
    /* Without categories, a label that leaves a class empty. */
    free(write_text(dir, "places365_train_standard.txt", "a.png 0\n\nb.png 2\n"));
    CHECK(load_folder(dir, TK_SPLIT_TRAIN, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "places365_train_standard.txt: label 2 at index 1 makes 3 classes, but class 1 has no "
                            "example");
    /* The catalog's count bounds the labels when there is no categories file. */
    CHECK(load_folder(dir, TK_SPLIT_TRAIN, 2, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "places365_train_standard.txt line 3: expected \"<image path> <label>\" with a label in "
                            "0..1, found \"2\"");
    /* An empty categories file is no categories file. */
    free(write_text(dir, "categories_places365.txt", ""));
    free(write_text(dir, "places365_train_standard.txt", "a.png 2147483647\n"));
    CHECK(load_folder(dir, TK_SPLIT_TRAIN, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "with a label in 0..1048575, found \"2147483647\"");
    rm_rf(dir);
    free(list), free(dir);
}

/* ---- class counts from labels (datasets/idx.c, datasets/dataset.c) */

/* Ten digits 0-9 and a single 12: once a 13-class dataset with two empty classes. */
static void write_idx_pair(const char *folder, const char *split, const uint8_t *labels, int n) {
    uint8_t img[16 + 16 * 4], lab[8 + 16];
    TK_ASSERT(n <= 16);
    put_be32(img, 0x00000803), put_be32(img + 4, (uint32_t)n), put_be32(img + 8, 2), put_be32(img + 12, 2);
    memset(img + 16, 7, (size_t)n * 4);
    put_be32(lab, 0x00000801), put_be32(lab + 4, (uint32_t)n);
    memcpy(lab + 8, labels, (size_t)n);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", folder, split);
    write_file(path, img, 16 + (size_t)n * 4);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", folder, split);
    write_file(path, lab, 8 + (size_t)n);
}

static void test_idx_stray_label(void) {
    char *dir = test_tmpdir("hostile");
    static const uint8_t labels[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12};
    write_idx_pair(dir, "train", labels, 11);
    write_idx_pair(dir, "t10k", labels, 10);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_dataset_open(dir, TK_SPLIT_TRAIN, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "train-labels-idx1-ubyte: label 12 at index 10 makes 13 classes, but classes 10, 11 have no "
                            "example");
    CHECK(tk_dataset_open(dir, TK_SPLIT_TEST, &d, &err) == 0 && d.classes == 10);
    tk_dataset_free(&d);
    char args[4200];
    snprintf(args, sizeof args, "data info '%s'", dir); /* info reports each split */
    CHECK_TICKET(dir, "", args, 0, "train     not available: ", "label 12 at index 10 makes 13 classes");
    snprintf(args, sizeof args, "train --model lenet_300_100 --dataset '%s' --out '%s/run' --quiet", dir, dir);
    CHECK_TICKET(dir, "", args, 2, "train-labels-idx1-ubyte: label 12 at index 10 makes 13 classes");
    rm_rf(dir);
    free(dir);
}

/* Found by fuzz_idx: an image header with a side of 0 needs no pixels, so
 * it passed the size check and loaded 4 images of 1 x 0 x 15199989. */
static void test_idx_side_zero(void) {
    char *dir = test_tmpdir("hostile");
    static const uint8_t labels[4] = {0, 1, 0, 1};
    write_idx_pair(dir, "train", labels, 4);
    char path[4200];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    uint8_t img[16];
    put_be32(img, 0x00000803), put_be32(img + 4, 4), put_be32(img + 8, 0), put_be32(img + 12, 15660298);
    write_file(path, img, sizeof img);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_dataset_open(dir, TK_SPLIT_TRAIN, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "train-images-idx3-ubyte: the IDX image header at offset 4 gives 4 images of 0 x "
                            "15660298 pixels: expected at least one image and sides of 1 to 65536");
    rm_rf(dir);
    free(dir);
}

/* ---- transfer (transfer/transfer.c) */

/* fuzz-findings/ticket/oom-classes-transfer-apply.ticket: a ticket whose
 * header says 1296695306 classes, with a valid CRC. */
static void test_ticket_classes(void) {
    char *dir = test_tmpdir("hostile");
    char *path = path_in(dir, "x.tkt");
    tk_error err = {0};
    tk_model_config cfg = {.name = "lenet_300_100", .input = {1, 8, 8}, .classes = 10, .width = 0.1f};
    tk_model *m = tk_model_create(&cfg, &err);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(tk_ticket_write(path, m, 0.1f, m->param, "{}", &err) == 0);
    size_t n;
    char *bytes = read_whole_file(path, &n);
    /* magic, version, provenance "{}" (u32 + 2), model name (u32 + 13), width, C, H, W: then classes. */
    size_t at = 8 + 4 + 2 + 4 + 13 + 4 + 12;
    uint32_t old = 0;
    memcpy(&old, bytes + at, 4);
    CHECK(old == 10);
    uint32_t counts[] = {1296695306u, 0x7fffffffu, 0xffffffffu, 5000};
    for (int i = 0; i < TK_ARRAY_LEN(counts); i++) {
        memcpy(bytes + at, &counts[i], 4);
        uint32_t crc = tk_crc32(bytes, n - 4);
        memcpy(bytes + n - 4, &crc, 4);
        write_file(path, bytes, n);
        tk_rng rng;
        tk_rng_seed(&rng, 1, 2);
        CHECK(tk_transfer_apply(m, 0.1f, path, TK_HEAD_REINIT_DENSE, &rng, &err) == -1);
        char want[256];
        /* Above TK_MAX_CLASSES the model identity itself is refused (tk_read_model_id). */
        if (counts[i] > TK_MAX_CLASSES)
            snprintf(want, sizeof want, "x.tkt: the model's input is 1 x 8 x 8 with %u classes: expected each of C, "
                     "H, W in 1..65536 and 1..1048576 classes; the file is damaged", counts[i]);
        else
            snprintf(want, sizeof want, "x.tkt: the header says %d classes, but lenet_300_100 with %d classes does "
                     "not fit in the file's %zu bytes", (int)counts[i], (int)counts[i], n);
        CHECK_CONTAINS(err.msg, want);
        if (counts[i] <= TK_MAX_CLASSES) CHECK_CONTAINS(err.msg, "the file is damaged; export the ticket again");
    }
    /* The real count still loads. */
    memcpy(bytes + at, &old, 4);
    uint32_t crc = tk_crc32(bytes, n - 4);
    memcpy(bytes + n - 4, &crc, 4);
    write_file(path, bytes, n);
    tk_rng rng;
    tk_rng_seed(&rng, 1, 2);
    CHECK(tk_transfer_apply(m, 0.1f, path, TK_HEAD_REINIT_DENSE, &rng, &err) == 0);
    tk_model_free(m);
    free(bytes);
    rm_rf(dir);
    free(path), free(dir);
}

/* Found by fuzz_ticket and fuzz_checkpoint: the model identity's u32 sides
 * were cast to int unchecked (0xfffffff8 became a side of -8), a
 * checkpoint's step could lie past its total, and its counters were cast to
 * int64_t unchecked (a minimum-validation iteration of 2^63, stored plus one,
 * overflowed on the way back). */
static void test_model_id_and_step(void) {
    char *dir = test_tmpdir("hostile");
    char *tkt = path_in(dir, "x.tkt"), *ckpt = path_in(dir, "x.ckpt");
    tk_error err = {0};
    tk_model_config cfg = {.name = "lenet_300_100", .input = {1, 8, 8}, .classes = 10, .width = 0.1f};
    tk_model *m = tk_model_create(&cfg, &err);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(tk_ticket_write(tkt, m, 0.1f, m->param, "{}", &err) == 0);
    tk_optim_config oc = tk_optim_defaults(TK_OPTIM_SGD);
    tk_optim *o = tk_optim_create(&oc, m->n_params);
    int32_t perm[4] = {0, 1, 2, 3};
    tk_train_state st = {.step = 3, .total = 10, .perm = perm, .n = 4};
    CHECK(tk_checkpoint_save(ckpt, m, 0.1f, o, &st, &err) == 0);
    /* The side W: after the provenance (ticket only), the name and the width. */
    const char *paths[] = {tkt, ckpt};
    size_t w_at[] = {8 + 4 + 2 + 4 + 13 + 4 + 8, 8 + 4 + 13 + 4 + 8};
    for (int k = 0; k < 2; k++) {
        size_t n;
        uint8_t *bytes = (uint8_t *)read_whole_file(paths[k], &n);
        uint32_t w;
        memcpy(&w, bytes + w_at[k], 4);
        CHECK(w == 8);
        w = 0xfffffff8u;
        memcpy(bytes + w_at[k], &w, 4);
        uint32_t crc = tk_crc32(bytes, n - 4);
        memcpy(bytes + n - 4, &crc, 4);
        write_file(paths[k], bytes, n);
        tk_model_config got;
        char name[64];
        CHECK((k ? tk_checkpoint_model(paths[k], &got, name, &err) : tk_ticket_model(paths[k], &got, name, &err)) == -1);
        CHECK_CONTAINS(err.msg, k ? "x.ckpt: " : "x.tkt: ");
        CHECK_CONTAINS(err.msg, "the model's input is 1 x 8 x 4294967288 with 10 classes: expected each of C, H, W in "
                                "1..65536 and 1..1048576 classes; the file is damaged");
        free(bytes);
    }
    /* A step past the total, with a valid CRC. */
    st.step = 11;
    CHECK(tk_checkpoint_save(ckpt, m, 0.1f, o, &st, &err) == 0);
    CHECK(tk_checkpoint_load(ckpt, m, 0.1f, o, &st, &err) == -1);
    CHECK_CONTAINS(err.msg, "x.ckpt: step 11 of 10 iterations: expected a step at most the total, and a total of at "
                            "most 2^53; the file is damaged");
    st.step = 10;
    st.seen = (int64_t)1 << 60;
    CHECK(tk_checkpoint_save(ckpt, m, 0.1f, o, &st, &err) == 0);
    CHECK(tk_checkpoint_load(ckpt, m, 0.1f, o, &st, &err) == -1);
    CHECK_CONTAINS(err.msg, "x.ckpt: seen at offset ");
    CHECK_CONTAINS(err.msg, " is 1152921504606846976, outside [0, 2^53], which no run writes; the file is damaged");
    st.seen = 0;
    CHECK(tk_checkpoint_save(ckpt, m, 0.1f, o, &st, &err) == 0);
    CHECK(tk_checkpoint_load(ckpt, m, 0.1f, o, &st, &err) == 0);
    /* The last field before the CRC: the minimum-validation iteration plus one. */
    size_t n;
    uint8_t *bytes = (uint8_t *)read_whole_file(ckpt, &n);
    uint64_t top = (uint64_t)1 << 63;
    memcpy(bytes + n - 12, &top, 8);
    uint32_t crc = tk_crc32(bytes, n - 4);
    memcpy(bytes + n - 4, &crc, 4);
    write_file(ckpt, bytes, n);
    free(bytes);
    CHECK(tk_checkpoint_load(ckpt, m, 0.1f, o, &st, &err) == -1);
    char want[128];
    snprintf(want, sizeof want, "minimum validation loss iteration at offset %zu is -9223372036854775808, outside [0, 2^53]", n - 12);
    CHECK_CONTAINS(err.msg, want);
    tk_optim_free(o);
    tk_model_free(m);
    rm_rf(dir);
    free(tkt), free(ckpt), free(dir);
}

/* ---- the report's mask analysis (plots/report.c) */

/* fuzz-findings/runfiles/oom-sparsity-total-1e12.bin and ubsan-sparsity-total-1e300.bin. */
static void test_sparsity_total(void) {
    char *dir = test_tmpdir("hostile");
    uint8_t mask[35];
    memset(mask, 1, sizeof mask);
    tk_mask_ref ref = {.source = "mnist", .source_optimizer = "adam", .seed = 0, .level = 1};
    snprintf(ref.mask_path, sizeof ref.mask_path, "%s/mask", dir);
    snprintf(ref.sparsity_path, sizeof ref.sparsity_path, "%s/sparsity.json", dir);
    tk_error err = {0};
    CHECK(tk_mask_write(ref.mask_path, mask, sizeof mask, &err) == 0);
    tk_result_row row = {.study = "t", .model = "lenet_300_100", .target = "mnist", .target_optimizer = "adam", .source = "mnist", .source_optimizer = "adam",
                         .control = "ticket", .native = true, .level = 1, .density = 0.5, .final_accuracy = 0.9,
                         .best_accuracy = 0.9};
    tk_report_input in = {.title = "t", .rows = &row, .n_rows = 1, .masks = &ref, .n_masks = 1};
    const char *totals[] = {"1000000000000.0", "1e300", "NaN"};
    const char *wants[] = {"sparsity.json: layers[0]: \"total\" 1000000000000 brings the weights to more than the 40 "
                           "its mask file holds",
                           "sparsity.json: layers[0]: expected {\"name\": a string, \"kept\": 0..total",
                           "sparsity.json: not valid JSON"};
    for (int i = 0; i < TK_ARRAY_LEN(totals); i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"layers\": [{\"name\": \"fc1.weight\", \"total\": %s, \"kept\": 0}]}", totals[i]);
        write_file(ref.sparsity_path, json, strlen(json));
        tk_report r;
        CHECK(tk_report_analyze(&in, &r, &err) == -1);
        CHECK_CONTAINS(err.msg, wants[i]);
        tk_report_free(&r);
    }
    rm_rf(dir);
    free(dir);
}

/* ---- SVHN (datasets/svhn.c) */

/* A MAT 5 file of 2 images of 4 x 4 x 3 and their labels, uncompressed, so
 * that a test can change a header in place; its bytes, malloc'd. */
static uint8_t *small_svhn(const char *path, size_t *n) {
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    if (!mat) return NULL;
    size_t xd[4] = {4, 4, 3, 2}, yd[2] = {2, 1};
    uint8_t x[96] = {0};
    double y[2] = {1, 2};
    matvar_t *X = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, xd, x, 0);
    matvar_t *Y = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd, y, 0);
    Mat_VarWrite(mat, X, MAT_COMPRESSION_NONE);
    Mat_VarWrite(mat, Y, MAT_COMPRESSION_NONE);
    Mat_VarFree(X), Mat_VarFree(Y);
    Mat_Close(mat);
    return (uint8_t *)read_whole_file(path, n);
}

/* The SVHN loader's error on `path`. */
static const char *svhn_error(const char *path, tk_error *err) {
    const tk_format *f = tk_format_find("svhn");
    tk_dataset d;
    CHECK(f && f->load(path, TK_SPLIT_TRAIN, NULL, &d, err) == -1);
    return err->msg;
}

/* Changes the little-endian int32 dimensions `from` (the first match after
 * byte `after`) to `to`, and checks the load's error. */
static void svhn_refused(const char *path, uint8_t *bytes, size_t n, size_t after, const int32_t *from,
                         const int32_t *to, size_t n_dims, const char *want) {
    uint8_t *at = memmem(bytes + after, n - after, from, n_dims * 4);
    CHECK(at != NULL);
    if (!at) return;
    memcpy(at, to, n_dims * 4);
    write_file(path, bytes, n);
    memcpy(at, from, n_dims * 4);
    tk_error err = {0};
    CHECK_CONTAINS(svhn_error(path, &err), want);
}

/* Found by fuzz_svhn: X's header sized the image array (up to 2 GB) before
 * any data was read, and y's header sized libmatio's read of the labels
 * (131074 x 131073 doubles, 137 GB, from a 332-byte file: the failed
 * allocation then read as "no variable y"). Every variable's element count
 * is checked against the bytes it has before libmatio reads the file. */
static void test_svhn_sizes_beyond_file(void) {
    char *dir = test_tmpdir("hostile"), *path = path_in(dir, "train_32x32.mat");
    size_t n;
    uint8_t *bytes = small_svhn(path, &n);
    CHECK(bytes != NULL);
    if (!bytes) return;
    const int32_t x_dims[4] = {4, 4, 3, 2}, x_many[4] = {4, 4, 3, 10000000};
    svhn_refused(path, bytes, n, 0, x_dims, x_many, 4,
                 "train_32x32.mat: the variable at offset 128 declares 480000000 elements in 152 bytes: its "
                 "dimensions are damaged (fetch the file again");
    uint8_t *x_at = memmem(bytes, n, x_dims, sizeof x_dims);
    const int32_t y_dims[2] = {2, 1}, y_huge[2] = {131074, 131073};
    svhn_refused(path, bytes, n, x_at ? (size_t)(x_at - bytes) + sizeof x_dims : 0, y_dims, y_huge, 2,
                 "train_32x32.mat: the variable at offset 288 declares 17180262402 elements in 64 bytes");
    free(bytes);
    rm_rf(dir);
    free(path), free(dir);
}

/* Found by fuzz_svhn: a file whose MAT 5 header is shifted by two bytes is
 * MAT 4 to libmatio, which then allocated the name length its first bytes
 * claim (1818846765 bytes from "-fil" of the header text) inside Mat_Open;
 * and a compressed element declaring 143 bytes where 54 remained kept
 * libmatio busy for over 30 s, allocating and clearing what the sizes inside
 * it claim. The header, then every top-level element's size against the
 * bytes that remain, are checked first. */
static void test_svhn_header_and_elements(void) {
    char *dir = test_tmpdir("hostile"), *path = path_in(dir, "train_32x32.mat");
    size_t n;
    uint8_t *bytes = small_svhn(path, &n);
    CHECK(bytes != NULL && n > 200);
    if (bytes && n > 200) {
        write_file(path, bytes, 200); /* cut inside X */
        tk_error err = {0};
        const char *msg = svhn_error(path, &err);
        CHECK_CONTAINS(msg, "train_32x32.mat: the MAT element at offset 128 declares ");
        CHECK_CONTAINS(msg, " bytes, but 64 remain: the file is cut short or damaged");
        memcpy(bytes + 124, "  \x00\x01", 4);
        write_file(path, bytes, n);
        CHECK_CONTAINS(svhn_error(path, &err), "train_32x32.mat: not a MATLAB v5 file: the header's version "
                                               "and endian indicator at offset 124 are 20 20 00 01, expected 00 01 "
                                               "49 4d");
    }
    free(bytes);
    rm_rf(dir);
    free(path), free(dir);
}

/* Found by fuzz_svhn: libmatio sizes a cell array's cells by its header
 * alone (746 GB from a 361-byte file, inside Mat_VarReadInfo), and a name by
 * its tag (4 GB). Only variable elements of numeric and char arrays reach
 * libmatio, their lengths within the element. */
static void test_svhn_only_numeric_variables(void) {
    char *dir = test_tmpdir("hostile"), *path = path_in(dir, "train_32x32.mat");
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    double one = 1;
    size_t d11[2] = {1, 1};
    matvar_t *cells[1] = {Mat_VarCreate(NULL, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, d11, &one, 0)};
    matvar_t *X = Mat_VarCreate("X", MAT_C_CELL, MAT_T_CELL, 2, d11, cells, 0);
    Mat_VarWrite(mat, X, MAT_COMPRESSION_ZLIB);
    Mat_VarFree(X);
    Mat_Close(mat);
    tk_error err = {0};
    CHECK_CONTAINS(svhn_error(path, &err), "train_32x32.mat: the variable at offset 128 is a cell array; SVHN's "
                                           "files hold only the numeric arrays X and y");
    size_t n;
    uint8_t *bytes = small_svhn(path, &n);
    CHECK(bytes != NULL && n > 136);
    if (bytes && n > 136) {
        bytes[128] = 9; /* miDOUBLE where the variable X starts */
        write_file(path, bytes, n);
        CHECK_CONTAINS(svhn_error(path, &err), "train_32x32.mat: the MAT element at offset 128 has type 9, where a "
                                               "variable (type 14, or 15 compressed) should be");
        bytes[128] = 14;
        /* X's name as a full element of 4278190169 bytes (libmatio allocated them). */
        const uint8_t long_name[8] = {1, 0, 0, 0, 0x59, 0, 0, 0xff};
        memcpy(bytes + 128 + 8 + 48, long_name, 8);
        write_file(path, bytes, n);
        CHECK_CONTAINS(svhn_error(path, &err), "train_32x32.mat: the MAT element at offset 128 is not a well-formed "
                                               "MATLAB array (its array flags, dimensions, name or data length are "
                                               "missing, damaged, or longer than the element)");
    }
    free(bytes);
    rm_rf(dir);
    free(path), free(dir);
}

/* ---- run files (src/train.c) */

/* Found by fuzz_runfiles: summary.json's counts were cast to int64_t
 * whatever their value (1e300: undefined behaviour). */
static void test_summary_out_of_range(void) {
    char *dir = test_tmpdir("hostile");
    const char *fields[] = {"\"iterations\": 1e300", "\"best_iteration\": 2.5", "\"early_stop_iteration\": -2",
                            "\"final_accuracy\": 1e39"};
    const char *wants[] = {"summary.json: 'iterations' is 1.0000000000000001e+300, expected a whole number from 0 to "
                           "2^53; delete the file to re-evaluate the run",
                           "summary.json: 'best_iteration' is 2.5, expected a whole number from 0 to 2^53",
                           "summary.json: 'early_stop_iteration' is -2, expected a whole number from -1 to 2^53",
                           "summary.json: 'final_accuracy' is 9.9999999999999994e+38, expected a finite number"};
    const char *good[] = {"\"iterations\": 100", "\"best_iteration\": 80", "\"early_stop_iteration\": -1",
                          "\"final_accuracy\": 0.9"};
    for (int i = 0; i < TK_ARRAY_LEN(fields); i++) {
        char json[1024];
        snprintf(json, sizeof json, "{%s, %s, %s, %s, \"final_loss\": 0.3, \"best_accuracy\": 0.91, \"seconds\": 1.5, "
                 "\"samples_per_second\": 1000}", i == 0 ? fields[0] : good[0], i == 1 ? fields[1] : good[1],
                 i == 2 ? fields[2] : good[2], i == 3 ? fields[3] : good[3]);
        char *path = write_text(dir, "summary.json", json);
        tk_train_result r;
        tk_error err = {0};
        CHECK(tk_train_read_summary(path, &r, &err) == -1);
        CHECK_CONTAINS(err.msg, wants[i]);
        free(path);
    }
    char json[1024];
    snprintf(json, sizeof json, "{%s, %s, %s, %s, \"final_loss\": 0.3, \"best_accuracy\": 0.91, \"seconds\": 1.5, "
             "\"samples_per_second\": 1000}", good[0], good[1], good[2], good[3]);
    char *path = write_text(dir, "summary.json", json);
    tk_train_result r;
    tk_error err = {0};
    CHECK(tk_train_read_summary(path, &r, &err) == 0 && r.iterations == 100 && r.early_stop_iteration == -1);
    free(path);
    /* A loss that diverged is written as null (not "nan", which is no JSON) and reads back as NaN. */
    snprintf(json, sizeof json, "{%s, %s, %s, %s, \"final_loss\": null, \"best_accuracy\": 0.91, \"seconds\": 1.5, "
             "\"samples_per_second\": 1000}", good[0], good[1], good[2], good[3]);
    path = write_text(dir, "summary.json", json);
    CHECK(tk_train_read_summary(path, &r, &err) == 0 && isnan(r.final_loss) && r.best_accuracy == 0.91f);
    free(path);
    rm_rf(dir);
    free(dir);
}

int main(void) {
    RUN(test_whole_in);
    RUN(test_registry_not_json);
    RUN(test_registry_select_level);
    RUN(test_results_level);
    RUN(test_catalog_huge_number);
    RUN(test_study_seed);
    RUN(test_train_config_width);
    RUN(test_find_spec_width);
    RUN(test_duplicate_key);
    RUN(test_archive_member_claims_4gib);
    RUN(test_archive_member_above_bound);
    RUN(test_archive_member_empty_name);
    RUN(test_wnids_claims_4gib);
    RUN(test_no_class_folder);
    RUN(test_places_labels);
    RUN(test_idx_stray_label);
    RUN(test_idx_side_zero);
    RUN(test_ticket_classes);
    RUN(test_model_id_and_step);
    RUN(test_sparsity_total);
    RUN(test_svhn_sizes_beyond_file);
    RUN(test_svhn_header_and_elements);
    RUN(test_svhn_only_numeric_variables);
    RUN(test_summary_out_of_range);
    CHECK_MAIN_END();
}
