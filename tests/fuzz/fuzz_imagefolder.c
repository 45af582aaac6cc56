/* fuzz_imagefolder.c - image collections, decoded at 8 x 8. Flags: bit 0 a
 * Places365 folder whose files are the input's parts separated by FUZZ_SEP
 * (categories_places365.txt, places365_train_standard.txt,
 * places365_val.txt, val_256.tar, train_256_places365standard.tar), else the
 * input is one archive (.zip, .tar, .tar.gz: generic class folders, Tiny
 * ImageNet, Imagenette); bit 1 the test split; bit 2 the catalog gives 10
 * classes. */
#include "fuzz_support.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    const char *dir = fuzz_dir();
    char path[4200];
    if (flags & 1) {
        static const char *const names[] = {"categories_places365.txt", "places365_train_standard.txt",
                                            "places365_val.txt", "val_256.tar", "train_256_places365standard.tar"};
        fuzz_write_parts(data, n, names, 5);
        snprintf(path, sizeof path, "%s", dir);
    } else {
        snprintf(path, sizeof path, "%s", fuzz_write("images.zip", data, n));
    }
    tk_load_options opt = {.height = 8, .width = 8, .classes = flags & 4 ? 10 : 0};
    fuzz_load("imagefolder", path, flags & 2 ? TK_SPLIT_TEST : TK_SPLIT_TRAIN, &opt);
    return 0;
}
