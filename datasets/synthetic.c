/* synthetic.c - generated images of class-dependent patterns with noise, for
 * tests and benchmarks: no files, the same bytes for the same seed.
 *
 * Path syntax of the format: "synthetic:C,H,W,classes,n_train,n_test[,seed]",
 * e.g. "synthetic:1,28,28,10,2000,500" (seed 0 when left out): C channels of
 * H x W pixels, `classes` classes, n_train train and n_test test images.
 *
 * Each class has one template per channel: uniform random values on a grid
 * of 4x4-pixel cells, bilinearly interpolated, so neighbouring pixels
 * correlate as in photographs and a convolution has shapes to find. Sample i
 * has class i % classes (balanced to within one); it is its template shifted
 * by (dy, dx), each uniform in [-2, 2] (edge pixels repeat), mixed with
 * per-pixel uniform noise: byte = round(255 * (0.2 * template + 0.8 *
 * noise)). The noise dominates every single pixel and the shift blurs a fixed
 * pixel's evidence, so a model must pool many pixels. On
 * synthetic:1,28,28,10,2000,500 the best single pixel classifies 15% of the
 * test images right, a nearest-class-mean classifier 86%, and logistic
 * regression or a 100-unit MLP (PyTorch, Adam, 20 epochs) 80-82%: learnable,
 * with room to see a pruned model fall behind.
 *
 * Sample i draws from its own RNG stream, so it depends only on (seed, C, H,
 * W, classes, i): the train split is samples 0 .. n_train-1 and the test
 * split the next n_test, same templates with fresh noise, and a smaller n is
 * a prefix of a larger one. */
#define _POSIX_C_SOURCE 200809L
#include "tk_data.h"
#include "tk_rng.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL 4
#define MAX_SHIFT 2
#define TEMPLATE_WEIGHT 0.2f
/* Streams of their own, far from tk_stream's small numbers. */
#define TEMPLATE_STREAM 0x73796e7400000000ull /* "synt" */
#define SAMPLE_STREAM(i) (TEMPLATE_STREAM + 1 + (uint64_t)(i))
/* No more than 16 GiB of pixels: beyond that a typo, not a benchmark. */
#define MAX_BYTES ((uint64_t)1 << 34)

typedef struct synthetic_spec {
    int C, H, W, classes;
    uint64_t seed;
} synthetic_spec;

static bool spec_fits(const synthetic_spec *s, int64_t n) {
    if (n < 0 || s->C < 1 || s->H < 1 || s->W < 1 || s->classes < 1 || n > INT_MAX) return false;
    uint64_t bytes = (uint64_t)n * (uint64_t)s->C;
    if (bytes > MAX_BYTES || (bytes *= (uint64_t)s->H) > MAX_BYTES || (bytes *= (uint64_t)s->W) > MAX_BYTES)
        return false;
    /* The templates: classes * C * H * W floats. */
    uint64_t tpl = (uint64_t)s->classes * (uint64_t)s->C;
    return tpl <= MAX_BYTES && (tpl *= (uint64_t)s->H) <= MAX_BYTES && (tpl *= (uint64_t)s->W) <= MAX_BYTES / 4;
}

/* templates[classes][C][H][W] in [0,1]. */
static float *make_templates(const synthetic_spec *s) {
    int gh = (s->H + CELL - 1) / CELL + 1, gw = (s->W + CELL - 1) / CELL + 1;
    size_t hw = (size_t)s->H * (size_t)s->W, maps = (size_t)s->classes * (size_t)s->C;
    float *tpl = tk_malloc(sizeof(float) * maps * hw);
    float *grid = tk_malloc(sizeof(float) * (size_t)gh * (size_t)gw);
    tk_rng r;
    tk_rng_seed(&r, s->seed, TEMPLATE_STREAM);
    for (size_t m = 0; m < maps; m++) {
        for (int k = 0; k < gh * gw; k++) grid[k] = tk_rng_uniform(&r);
        float *t = tpl + m * hw;
        for (int y = 0; y < s->H; y++) {
            int gy = y / CELL;
            float fy = (float)(y % CELL) / CELL;
            for (int x = 0; x < s->W; x++) {
                int gx = x / CELL;
                float fx = (float)(x % CELL) / CELL;
                const float *g = grid + (size_t)gy * (size_t)gw + (size_t)gx;
                float top = g[0] + fx * (g[1] - g[0]), bottom = g[gw] + fx * (g[gw + 1] - g[gw]);
                t[(size_t)y * (size_t)s->W + (size_t)x] = top + fy * (bottom - top);
            }
        }
    }
    free(grid);
    return tpl;
}

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Samples first .. first+n-1 into out. The caller checked spec_fits. */
static void generate(const synthetic_spec *s, int64_t first, int n, tk_dataset *out) {
    memset(out, 0, sizeof *out);
    size_t hw = (size_t)s->H * (size_t)s->W, chw = (size_t)s->C * hw;
    float *tpl = make_templates(s);
    out->images = tk_malloc(chw * (size_t)(n ? n : 1));
    out->labels = tk_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        int64_t index = first + i;
        int c = (int)(index % s->classes);
        tk_rng r;
        tk_rng_seed(&r, s->seed, SAMPLE_STREAM(index));
        int dy = (int)tk_rng_below(&r, 2 * MAX_SHIFT + 1) - MAX_SHIFT;
        int dx = (int)tk_rng_below(&r, 2 * MAX_SHIFT + 1) - MAX_SHIFT;
        uint8_t *img = out->images + (size_t)i * chw;
        for (int ch = 0; ch < s->C; ch++) {
            const float *t = tpl + ((size_t)c * (size_t)s->C + (size_t)ch) * hw;
            for (int y = 0; y < s->H; y++) {
                const float *row = t + (size_t)clamp_int(y - dy, 0, s->H - 1) * (size_t)s->W;
                for (int x = 0; x < s->W; x++) {
                    float v = TEMPLATE_WEIGHT * row[clamp_int(x - dx, 0, s->W - 1)] +
                              (1.0f - TEMPLATE_WEIGHT) * tk_rng_uniform(&r);
                    *img++ = (uint8_t)(255.0f * v + 0.5f);
                }
            }
        }
        out->labels[i] = c;
    }
    free(tpl);
    out->n = n;
    out->C = s->C;
    out->H = s->H;
    out->W = s->W;
    out->classes = s->classes;
    snprintf(out->name, sizeof out->name, "synthetic");
}

int tk_synthetic_make(int n, int C, int H, int W, int classes, uint64_t seed, tk_dataset *out) {
    synthetic_spec s = {C, H, W, classes, seed};
    memset(out, 0, sizeof *out);
    if (!spec_fits(&s, n)) return -1;
    generate(&s, 0, n, out);
    return 0;
}

#define PREFIX "synthetic:"
#define SYNTAX "synthetic:C,H,W,classes,n_train,n_test[,seed], e.g. synthetic:1,28,28,10,2000,500"

static int synthetic_detect(const char *path) { return strncmp(path, PREFIX, strlen(PREFIX)) ? 0 : 100; }

/* Parses the fields after "synthetic:" into v[0..6]; v[6] (the seed) stays
 * 0 when absent. */
static int parse_spec(const char *path, uint64_t v[7], tk_error *err) {
    static const char *const fields[7] = {"C", "H", "W", "classes", "n_train", "n_test", "seed"};
    const char *p = path + strlen(PREFIX);
    int count = 0;
    memset(v, 0, 7 * sizeof *v);
    for (;;) {
        if (count == 7)
            return tk_fail(err, "%s: more than 7 fields; expected %s", path, SYNTAX);
        char *end;
        errno = 0;
        unsigned long long x = *p >= '0' && *p <= '9' ? strtoull(p, &end, 10) : 0;
        if (!(*p >= '0' && *p <= '9') || errno || (*end != ',' && *end != 0)) {
            size_t len = strcspn(p, ",");
            return tk_fail(err, "%s: field %d (%s) is \"%.*s\", expected a whole number; syntax %s", path,
                           count + 1, fields[count], (int)len, p, SYNTAX);
        }
        v[count++] = x;
        if (!*end) break;
        p = end + 1;
    }
    if (count < 6)
        return tk_fail(err, "%s: %d field%s, expected 6 or 7 (%s)", path, count, count == 1 ? "" : "s", SYNTAX);
    for (int i = 0; i < 4; i++)
        if (v[i] < 1 || v[i] > INT_MAX)
            return tk_fail(err, "%s: %s is %llu, expected 1 .. %d", path, fields[i], (unsigned long long)v[i],
                           INT_MAX);
    if (v[4] > INT_MAX || v[5] > INT_MAX || v[4] + v[5] > INT_MAX)
        return tk_fail(err, "%s: n_train + n_test is more than %d", path, INT_MAX);
    return 0;
}

static int synthetic_load(const char *path, tk_split split, const tk_load_options *opt, tk_dataset *out,
                          tk_error *err) {
    (void)opt;
    memset(out, 0, sizeof *out);
    if (!synthetic_detect(path)) return tk_fail(err, "\"%s\" is not a synthetic dataset: expected %s", path, SYNTAX);
    if (split != TK_SPLIT_TRAIN && split != TK_SPLIT_TEST)
        return tk_fail(err, "%s: synthetic data has train and test splits only, not %s", path,
                       tk_split_names[split]);
    uint64_t v[7];
    if (parse_spec(path, v, err)) return -1;
    synthetic_spec s = {(int)v[0], (int)v[1], (int)v[2], (int)v[3], v[6]};
    if (!spec_fits(&s, (int64_t)(v[4] + v[5])))
        return tk_fail(err, "%s: %llu images of %dx%dx%d (or %d class templates) need more than %llu GiB", path,
                       (unsigned long long)(v[4] + v[5]), s.C, s.H, s.W, s.classes,
                       (unsigned long long)(MAX_BYTES >> 30));
    if (split == TK_SPLIT_TRAIN) generate(&s, 0, (int)v[4], out);
    else generate(&s, (int64_t)v[4], (int)v[5], out);
    return 0;
}

const tk_format tk_format_synthetic = {
    .name = "synthetic",
    .description = "generated class patterns with noise, from the path " SYNTAX,
    .detect = synthetic_detect,
    .load = synthetic_load,
};
