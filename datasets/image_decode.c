/* image_decode.c - JPEG (libjpeg-turbo) and PNG (libpng) from memory to uint8
 * pixels, and the fit to a fixed size and channel count. The rules are in
 * include/tk_image.h.
 *
 * Both libraries report errors by calling back into us; the callbacks longjmp
 * to the decode function so that nothing prints and nothing exits. Pixels go
 * into the caller's scratch buffers, which outlive a longjmp; the one buffer
 * a decoder allocates itself (PNG's row index) is held in a volatile pointer
 * so that the error path can free it. */
#include "tk_image.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

const char *const tk_image_kind_names[] = {"unknown", "JPEG", "PNG"};
_Static_assert(sizeof tk_image_kind_names / sizeof tk_image_kind_names[0] == TK_IMAGE_KIND_COUNT,
               "image kind name table");

/* A decompression bomb (a few bytes claiming 65535 x 65535 pixels) must fail
 * by name rather than take the machine's memory; no dataset image is near it. */
#define MAX_PIXELS (1L << 27)

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

tk_image_kind tk_image_sniff(const uint8_t *data, size_t n) {
    if (n >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return TK_IMAGE_JPEG;
    if (n >= 8 && !memcmp(data, png_signature, 8)) return TK_IMAGE_PNG;
    return TK_IMAGE_UNKNOWN;
}

/* For the error message: what else the bytes may be, so the user knows what to convert. */
static const char *other_kind(const uint8_t *d, size_t n) {
    if (n >= 4 && !memcmp(d, "GIF8", 4)) return " (a GIF image: convert it to PNG)";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return " (a WebP image: convert it to PNG)";
    if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4))) return " (a TIFF image: convert it to PNG)";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return " (a BMP image: convert it to PNG)";
    if (n == 0) return " (the file is empty)";
    return "";
}

/* Grows a scratch buffer to n bytes; its old contents are not kept. */
static void *grow(void *buf, size_t *cap, size_t n) {
    if (n <= *cap) return buf;
    free(buf);
    *cap = n;
    return tk_malloc(n);
}

void tk_image_scratch_free(tk_image_scratch *s) {
    free(s->pixels);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

static int check_size(const char *name, const char *kind, long h, long w, tk_error *err) {
    if (h <= 0 || w <= 0 || h * w > MAX_PIXELS)
        return tk_fail(err, "%s: %s image of %ld x %ld pixels: expected between 1 and %ld pixels", name, kind, w, h,
                       MAX_PIXELS);
    return 0;
}

/* ---- JPEG */

typedef struct jpeg_failure {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_failure;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    cinfo->err->format_message(cinfo, f->msg);
    longjmp(f->jump, 1);
}

/* Warnings (level -1) that mean pixel data was lost: libjpeg fills the rest of
 * the image with grey and carries on, which would put garbage in a dataset.
 * Other warnings (extraneous bytes, unknown JFIF revision) leave the pixels
 * intact and are ignored, as are trace messages (level >= 0). */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
        jpeg_on_error(cinfo);
        break;
    default:
        break;
    }
}

static void jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

/* In place: 4 bytes per pixel in, 3 out, so writing never overtakes reading. */
static void cmyk_to_rgb(uint8_t *p, size_t pixels, bool inverted) {
    for (size_t i = 0; i < pixels; i++) {
        const uint8_t *s = p + 4 * i;
        unsigned k = inverted ? s[3] : 255u - s[3];
        unsigned rgb[3];
        for (int j = 0; j < 3; j++) rgb[j] = ((inverted ? s[j] : 255u - s[j]) * k + 127) / 255;
        for (int j = 0; j < 3; j++) p[3 * i + (size_t)j] = (uint8_t)rgb[j];
    }
}

/* Decoders write the pixels into s->pixels, which the caller owns. */
static int decode_jpeg(const uint8_t *data, size_t n, const char *name, tk_image_scratch *s, tk_image *out,
                       tk_error *err) {
    struct jpeg_decompress_struct cinfo;
    jpeg_failure fail;
    cinfo.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = jpeg_on_error;
    fail.mgr.emit_message = jpeg_on_message;
    fail.mgr.output_message = jpeg_silent;
    if (setjmp(fail.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return tk_fail(err, "%s: corrupt JPEG: %s (the file is damaged: fetch it again or remove it)", name,
                       fail.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    if (cinfo.jpeg_color_space == JCS_GRAYSCALE) cinfo.out_color_space = JCS_GRAYSCALE;
    else cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    if (check_size(name, "JPEG", (long)cinfo.image_height, (long)cinfo.image_width, err)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_start_decompress(&cinfo);
    size_t row = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    s->pixels = grow(s->pixels, &s->pixels_cap, row * cinfo.output_height);
    uint8_t *pixels = s->pixels;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW r = pixels + row * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &r, 1);
    }
    /* Not jpeg_finish_decompress: every pixel is read, and a file that ends
     * without its EOI marker is still a whole image. */
    out->h = (int)cinfo.output_height;
    out->w = (int)cinfo.output_width;
    out->c = cmyk ? 3 : cinfo.output_components;
    if (cmyk) cmyk_to_rgb(pixels, (size_t)out->h * (size_t)out->w, cinfo.saw_Adobe_marker);
    jpeg_destroy_decompress(&cinfo);
    out->pixels = pixels;
    return 0;
}

/* ---- PNG */

typedef struct png_source {
    const uint8_t *data;
    size_t n, at;
} png_source;

static void png_read_memory(png_structp png, png_bytep dst, size_t len) {
    png_source *s = png_get_io_ptr(png);
    if (len > s->n - s->at) png_error(png, "the file ends before the image data does (truncated)");
    memcpy(dst, s->data + s->at, len);
    s->at += len;
}

static void png_on_error(png_structp png, png_const_charp msg) {
    char *dst = png_get_error_ptr(png);
    snprintf(dst, 256, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static int decode_png(const uint8_t *data, size_t n, const char *name, tk_image_scratch *s, tk_image *out,
                      tk_error *err) {
    char msg[256] = "";
    png_source src = {data, n, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, msg, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    TK_ASSERT(png && info);
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        return tk_fail(err, "%s: corrupt PNG: %s (the file is damaged: fetch it again or remove it)", name, msg);
    }
    png_set_read_fn(png, &src, png_read_memory);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (check_size(name, "PNG", (long)h, (long)w, err)) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    int type = png_get_color_type(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_bit_depth(png, info) == 16) png_set_scale_16(png);
    /* Expanding a palette also turns its tRNS chunk into an alpha channel. */
    if ((type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info);
    TK_ASSERT(c == 1 || c == 3);
    size_t row = (size_t)w * (size_t)c;
    s->pixels = grow(s->pixels, &s->pixels_cap, row * h);
    uint8_t *pixels = s->pixels;
    rows = tk_malloc(sizeof(png_bytep) * h);
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + row * y;
    png_read_image(png, rows);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->h = (int)h;
    out->w = (int)w;
    out->c = c;
    out->pixels = pixels;
    return 0;
}

static int decode_into(const uint8_t *data, size_t n, const char *name, tk_image_scratch *s, tk_image *out,
                       tk_error *err) {
    memset(out, 0, sizeof *out);
    switch (tk_image_sniff(data, n)) {
    case TK_IMAGE_JPEG:
        return decode_jpeg(data, n, name, s, out, err);
    case TK_IMAGE_PNG:
        return decode_png(data, n, name, s, out, err);
    default:
        break;
    }
    char head[40] = "";
    for (size_t i = 0; i < n && i < 8; i++) snprintf(head + 3 * i, sizeof head - 3 * i, " %02x", data[i]);
    return tk_fail(err, "%s: not a JPEG or PNG image: it starts with bytes%s%s, expected ff d8 ff (JPEG) or 89 50 4e "
                        "47 (PNG)",
                   name, n ? head : " (none)", other_kind(data, n));
}

int tk_image_decode(const uint8_t *data, size_t n, const char *name, tk_image *out, tk_error *err) {
    tk_image_scratch s = {0};
    if (decode_into(data, n, name, &s, out, err)) {
        tk_image_scratch_free(&s);
        return -1;
    }
    return 0; /* out->pixels is s.pixels, now the caller's */
}

void tk_image_free(tk_image *img) {
    free(img->pixels);
    img->pixels = NULL;
}

/* ---- fitting */

/* One axis of a separable resize: output pixel o is the sum over
 * t < taps[o] of w[o * max_taps + t] * source[first[o] + t]. */
typedef struct axis_weights {
    int out, max_taps;
    int *first, *taps;
    double *w;
} axis_weights;

static void axis_init(axis_weights *a, int in, int out) {
    /* A box of in/out source pixels touches at most ceil(in/out) + 1 of them. */
    a->out = out;
    a->max_taps = out < in ? (in + out - 1) / out + 1 : 2;
    a->first = tk_malloc(sizeof(int) * (size_t)out);
    a->taps = tk_malloc(sizeof(int) * (size_t)out);
    a->w = tk_calloc((size_t)out * (size_t)a->max_taps, sizeof(double));
    for (int o = 0; o < out; o++) {
        double *w = a->w + (size_t)o * (size_t)a->max_taps;
        if (out < in) {
            double lo = (double)o * in / out, hi = (double)(o + 1) * in / out;
            int j0 = (int)floor(lo), t = 0;
            for (int j = j0; j < in && j < hi; j++, t++) {
                TK_ASSERT(t < a->max_taps);
                w[t] = (fmin(j + 1.0, hi) - fmax((double)j, lo)) * out / in; /* overlap / box width */
            }
            a->first[o] = j0;
            a->taps[o] = t;
        } else {
            double x = out == in ? o : ((double)o + 0.5) * in / out - 0.5;
            if (x < 0) x = 0;
            int j0 = (int)x;
            if (j0 > in - 1) j0 = in - 1;
            double frac = x - j0;
            a->first[o] = j0;
            /* The last source pixel, or an exact hit, has nothing to blend with. */
            a->taps[o] = j0 + 1 < in && frac > 0 ? 2 : 1;
            w[0] = a->taps[o] == 2 ? 1.0 - frac : 1.0;
            w[1] = a->taps[o] == 2 ? frac : 0.0;
        }
    }
}

static void axis_free(axis_weights *a) {
    free(a->first);
    free(a->taps);
    free(a->w);
}

static uint8_t round_byte(double v) {
    double r = floor(v + 0.5);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

/* Horizontal pass: h rows of w pixels of c interleaved bytes -> tmp, h rows
 * of W pixels of c doubles. Channels accumulate side by side, which keeps the
 * floating-point adders busy; callers pass c as a constant so it unrolls. */
static inline void resize_rows(const uint8_t *src, int h, int w, int c, const axis_weights *ax, double *tmp) {
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)w * (size_t)c;
        double *dst = tmp + (size_t)y * (size_t)ax->out * (size_t)c;
        for (int o = 0; o < ax->out; o++) {
            const double *wt = ax->w + (size_t)o * (size_t)ax->max_taps;
            const uint8_t *s = row + (size_t)ax->first[o] * (size_t)c;
            double acc[3] = {0, 0, 0};
            for (int t = 0; t < ax->taps[o]; t++)
                for (int ch = 0; ch < c; ch++) acc[ch] += wt[t] * s[t * c + ch];
            for (int ch = 0; ch < c; ch++) dst[o * c + ch] = acc[ch];
        }
    }
}

/* Vertical pass: tmp -> out, planar [c][H][W] bytes, or with luma (c = 3)
 * the one grey plane. Luma is linear, so taking it after resizing gives the
 * same value as before, rounded once. */
static inline void resize_columns(const double *tmp, int c, const axis_weights *ax, const axis_weights *ay, bool luma,
                                  uint8_t *out) {
    size_t W = (size_t)ax->out, row = W * (size_t)c, HW = W * (size_t)ay->out;
    for (int o = 0; o < ay->out; o++) {
        const double *wt = ay->w + (size_t)o * (size_t)ay->max_taps;
        const double *rows = tmp + (size_t)ay->first[o] * row;
        for (size_t x = 0; x < W; x++) {
            double acc[3] = {0, 0, 0};
            for (int t = 0; t < ay->taps[o]; t++)
                for (int ch = 0; ch < c; ch++) acc[ch] += wt[t] * rows[(size_t)t * row + x * (size_t)c + (size_t)ch];
            size_t at = (size_t)o * W + x;
            if (luma) out[at] = round_byte((19595.0 * acc[0] + 38470.0 * acc[1] + 7471.0 * acc[2]) / 65536.0);
            else
                for (int ch = 0; ch < c; ch++) out[(size_t)ch * HW + at] = round_byte(acc[ch]);
        }
    }
}

int tk_image_decode_fit(const uint8_t *data, size_t n, const char *name, int channels, int height, int width,
                        tk_image_scratch *scratch, uint8_t *out, tk_error *err) {
    TK_ASSERT((channels == 1 || channels == 3) && height > 0 && width > 0);
    tk_image_scratch own = {0}, *s = scratch ? scratch : &own;
    tk_image img;
    if (decode_into(data, n, name, s, &img, err)) {
        tk_image_scratch_free(&own);
        return -1;
    }
    size_t hw = (size_t)img.h * (size_t)img.w, HW = (size_t)height * (size_t)width;
    /* Grey to RGB resizes the one plane and copies it; RGB to grey takes the
     * luma of the resized channels; otherwise channels map one to one. */
    bool luma = img.c == 3 && channels == 1;
    int planes = channels < img.c ? channels : img.c;
    if (img.h == height && img.w == width && !luma) {
        /* Equal sizes copy exactly what the weights would give (1.0 each), for
         * the common case of images already at the dataset's size. */
        for (int p = 0; p < planes; p++)
            for (size_t i = 0; i < hw; i++) out[(size_t)p * HW + i] = img.pixels[(size_t)img.c * i + (size_t)p];
    } else {
        s->rows = grow(s->rows, &s->rows_cap, sizeof(double) * (size_t)img.h * (size_t)width * (size_t)img.c);
        double *tmp = s->rows;
        axis_weights ax, ay;
        axis_init(&ax, img.w, width);
        axis_init(&ay, img.h, height);
        if (img.c == 3) {
            resize_rows(img.pixels, img.h, img.w, 3, &ax, tmp);
            resize_columns(tmp, 3, &ax, &ay, luma, out);
        } else {
            resize_rows(img.pixels, img.h, img.w, 1, &ax, tmp);
            resize_columns(tmp, 1, &ax, &ay, false, out);
        }
        axis_free(&ax);
        axis_free(&ay);
    }
    for (int p = planes; p < channels; p++) memcpy(out + (size_t)p * HW, out, HW);
    tk_image_scratch_free(&own);
    return 0;
}
