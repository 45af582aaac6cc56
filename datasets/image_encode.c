/* image_encode.c - 8-bit grey or RGB pixels to PNG bytes in memory (libpng),
 * the inverse of image_decode.c's PNG path for what ticket writes (previews).
 *
 * libpng reports errors by calling back; the callback longjmps to the encode
 * function so that nothing prints and nothing exits. */
#include "tk_image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>

typedef struct png_sink {
    tk_buf *out;
    char error[256];
} png_sink;

static void png_sink_write(png_structp png, png_bytep data, size_t n) {
    tk_buf_put(((png_sink *)png_get_io_ptr(png))->out, data, n);
}

static void png_sink_flush(png_structp png) { (void)png; }

static void png_sink_error(png_structp png, png_const_charp msg) {
    png_sink *sink = png_get_error_ptr(png);
    snprintf(sink->error, sizeof sink->error, "%s", msg);
    png_longjmp(png, 1);
}

static void png_sink_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

int tk_image_encode_png(const tk_image *img, tk_buf *out, tk_error *err) {
    TK_ASSERT(img->c == 1 || img->c == 3);
    png_sink sink = {.out = out};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_sink_error, png_sink_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return tk_fail(err, "libpng could not start a PNG (out of memory?)");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return tk_fail(err, "libpng: %s", sink.error);
    }
    png_set_write_fn(png, &sink, png_sink_write, png_sink_flush);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 img->c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->h; y++) png_write_row(png, img->pixels + (size_t)y * (size_t)img->w * (size_t)img->c);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}
