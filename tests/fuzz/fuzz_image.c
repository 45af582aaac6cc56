/* fuzz_image.c - the JPEG/PNG decoder wrapper: tk_image_decode at the stored
 * size, then tk_image_decode_fit to the channels and size the flags byte picks. */
#include "fuzz_support.h"
#include "tk_image.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    tk_image img = {0};
    tk_error err = {0};
    if (tk_image_decode(data, n, "fuzz", &img, &err) == 0) {
        FUZZ_CHECK(img.h > 0 && img.w > 0 && (img.c == 1 || img.c == 3) && img.pixels, "decoded %d x %d x %d", img.h,
                   img.w, img.c);
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)img.h * (size_t)img.w * (size_t)img.c; i++) sum += img.pixels[i];
        (void)sum;
    } else {
        FUZZ_CHECK(err.msg[0], "refused without a message");
    }
    tk_image_free(&img);
    int channels = flags & 1 ? 3 : 1, h = 1 + (flags >> 1 & 7) * 3, w = 1 + (flags >> 4 & 7) * 3;
    uint8_t out[3 * 22 * 22];
    static tk_image_scratch scratch; /* reused, as a dataset load does */
    (void)tk_image_decode_fit(data, n, "fuzz", channels, h, w, flags & 0x80 ? &scratch : NULL, out, &err);
    return 0;
}
