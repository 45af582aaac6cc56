/* fuzz_idx.c - IDX image and label files (MNIST layout). The input is the
 * images file, FUZZ_SEP, the labels file. Flags: bit 0 loads through the
 * format (a folder with train-/t10k- files; bit 1 picks the test split),
 * else tk_idx_load on the two files; bits 2-3 the catalog's class count
 * (none, 10, 3, 256). */
#include "fuzz_support.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    static const int hints[] = {0, 10, 3, 256};
    int classes = hints[flags >> 2 & 3];
    const char *dir = fuzz_dir();
    if (flags & 1) {
        bool test = flags & 2;
        const char *names[] = {test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte",
                               test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte"};
        fuzz_write_parts(data, n, names, 2);
        tk_load_options opt = {.classes = classes};
        fuzz_load("idx", dir, test ? TK_SPLIT_TEST : TK_SPLIT_TRAIN, &opt);
        return 0;
    }
    const char *names[] = {"images", "labels"};
    if (fuzz_write_parts(data, n, names, 2) < 2) return 0;
    char images[4200];
    snprintf(images, sizeof images, "%s", fuzz_path("images"));
    tk_dataset d = {0};
    tk_error err = {0};
    if (tk_idx_load(images, fuzz_path("labels"), classes, &d, &err) == 0) fuzz_check_dataset(&d, "idx");
    tk_dataset_free(&d);
    return 0;
}
