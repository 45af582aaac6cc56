/* fuzz_svhn.c - SVHN's .mat files through libmatio, which needs a real file:
 * the input is written to train_32x32.mat (flags bit 0: test_32x32.mat,
 * bit 1: extra_32x32.mat) and loaded by that path. libFuzzer's own limits
 * hold: svhn.c checks every variable's header against the bytes it has
 * before libmatio sizes anything by it. */
#include "fuzz_support.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    static const char *const files[] = {"train_32x32.mat", "test_32x32.mat", "extra_32x32.mat", "extra_32x32.mat"};
    static const tk_split splits[] = {TK_SPLIT_TRAIN, TK_SPLIT_TEST, TK_SPLIT_EXTRA, TK_SPLIT_EXTRA};
    fuzz_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s", fuzz_write(files[flags & 3], data, n));
    fuzz_load("svhn", path, splits[flags & 3], NULL);
    return 0;
}
