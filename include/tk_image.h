/* tk_image.h - JPEG and PNG images decoded from memory into uint8 pixels,
 * and pixels encoded as PNG (datasets/image_encode.c; the decoding is
 * datasets/image_decode.c's).
 *
 * The decoder is chosen by the first bytes (FF D8 FF: JPEG through
 * libjpeg-turbo; the 8-byte PNG signature: PNG through libpng), never by the
 * file name: PNG files named .JPEG exist in real collections.
 *
 * Colours: a decoded image is 8-bit grey (c = 1) or RGB (c = 3).
 * - JPEG: grey stays grey; YCbCr and RGB become RGB; CMYK and YCCK become
 *   RGB as R = (255 - C)(255 - K) / 255 (likewise G with M, B with Y), where
 *   files with an Adobe APP14 marker store inverted inks (Photoshop does), so
 *   their stored values are flipped back first.
 * - PNG: palettes expand to RGB, grey below 8 bits expands to 8, 16-bit
 *   samples scale to 8 bits with rounding (v * 255 / 65535), and alpha and
 *   tRNS transparency are dropped (not composited), as PIL's convert("RGB")
 *   does for torchvision's ImageFolder. Gamma chunks are ignored, as PIL does.
 * - A JPEG whose entropy-coded data is cut short or damaged (libjpeg would
 *   fill the rest with grey and only warn) is an error, as is every libjpeg or
 *   libpng error; neither library prints anything.
 *
 * Fitting (tk_image_decode_fit) follows tk_transform.h's adaptation rule:
 * grey to RGB replicates the plane, RGB to grey is BT.601 luma
 * (19595 R + 38470 G + 7471 B) / 65536 (taken after resizing: it is linear,
 * so the value is the same up to rounding in the last bit); per axis, a smaller size is an exact
 * box filter (each source pixel weighs by its overlap with the output pixel's
 * interval), a larger one is bilinear with align_corners=False, an equal one
 * is copied; float64 throughout, rounded once, half up. */
#ifndef TK_IMAGE_H
#define TK_IMAGE_H

#include "tk_common.h"
#include "tk_file.h"

typedef enum tk_image_kind { TK_IMAGE_UNKNOWN, TK_IMAGE_JPEG, TK_IMAGE_PNG, TK_IMAGE_KIND_COUNT } tk_image_kind;
extern const char *const tk_image_kind_names[]; /* [TK_IMAGE_KIND_COUNT] */

/* The decoder for these bytes, from their signature alone. */
tk_image_kind tk_image_sniff(const uint8_t *data, size_t n);

/* h x w pixels of c interleaved channels (1: grey, 3: RGB), row-major. */
typedef struct tk_image {
    int h, w, c;
    uint8_t *pixels;
} tk_image;

/* Decodes at the stored size. `name` says where the bytes came from (a path,
 * or "archive.zip member a/b.JPEG") and starts every error message. */
int tk_image_decode(const uint8_t *data, size_t n, const char *name, tk_image *out, tk_error *err);
void tk_image_free(tk_image *img);

/* Buffers reused from one image to the next, so that decoding a dataset
 * neither allocates nor faults in fresh memory per image. Start zeroed. */
typedef struct tk_image_scratch {
    uint8_t *pixels;
    double *rows;
    size_t pixels_cap, rows_cap;
} tk_image_scratch;
void tk_image_scratch_free(tk_image_scratch *s);

/* Decodes and fits the image to channels (1 or 3) x height x width, written
 * planar ([channels][height][width]) to out. scratch may be NULL. */
int tk_image_decode_fit(const uint8_t *data, size_t n, const char *name, int channels, int height, int width,
                        tk_image_scratch *scratch, uint8_t *out, tk_error *err);

/* Appends img (8-bit grey or RGB, c = 1 or 3) to *out as a PNG: no
 * interlacing, libpng's default compression and filters, no other chunks. */
int tk_image_encode_png(const tk_image *img, tk_buf *out, tk_error *err);

#endif
