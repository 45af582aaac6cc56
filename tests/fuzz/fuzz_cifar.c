/* fuzz_cifar.c - CIFAR-10 and CIFAR-100 binary batches. Flags: bit 0
 * CIFAR-100, bit 1 the test split, bit 2 the input is the tarball (any
 * libarchive format), else the folder's files separated by FUZZ_SEP
 * (CIFAR-10: data_batch_1.bin, data_batch_2.bin, test_batch.bin,
 * batches.meta.txt; CIFAR-100: train.bin, test.bin, coarse_label_names.txt,
 * fine_label_names.txt); bit 3 coarse labels. */
#include "fuzz_support.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    bool c100 = flags & 1;
    const char *dir = fuzz_dir();
    char path[4200];
    if (flags & 4) {
        snprintf(path, sizeof path, "%s", fuzz_write(c100 ? "cifar-100-binary.tar.gz" : "cifar-10-binary.tar.gz", data, n));
    } else {
        static const char *const c10[] = {"data_batch_1.bin", "data_batch_2.bin", "test_batch.bin", "batches.meta.txt"};
        static const char *const c100n[] = {"train.bin", "test.bin", "coarse_label_names.txt", "fine_label_names.txt"};
        fuzz_write_parts(data, n, c100 ? c100n : c10, 4);
        snprintf(path, sizeof path, "%s", dir);
    }
    tk_load_options opt = {.coarse_labels = c100 && (flags & 8)};
    fuzz_load(c100 ? "cifar100" : "cifar10", path, flags & 2 ? TK_SPLIT_TEST : TK_SPLIT_TRAIN, &opt);
    return 0;
}
