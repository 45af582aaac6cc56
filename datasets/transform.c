/* transform.c - adapting images to a model's input, subsets, batch augmentation.
 * The definitions (filters, rounding, draw order) are in tk_transform.h. */
#include "tk_transform.h"

#include <stdlib.h>
#include <string.h>

/* ---- adaptation */

/* One axis of a separable resize: output o is the sum over k < width of
 * w[o * width + k] * input[first[o] + k]. Every output has the same number of
 * taps (unused ones weigh 0) so the inner loops have a fixed trip count. */
typedef struct axis {
    int width;
    int32_t *first;
    double *w;
} axis;

struct tk_image_adapter {
    int c, h, w, C, H, W;
    axis rows, cols;
    double *plane_t; /* [w, h]: one source plane (or the luma of three), transposed */
    double *tmp_t;   /* [W, h]: after resizing the columns */
    double *tmp;     /* [h, W]: tmp_t transposed back */
    double *out;     /* [H, W]: the result before rounding */
};

/* The taps of output o: writes up to n_in weights from w[0], returns their
 * count and sets *first. */
static int taps(int n_in, int n_out, int o, int *first, double *w) {
    if (n_out < n_in) {
        /* In units of 1/n_out of an input pixel the box is [o*in, (o+1)*in)
         * and pixel i is [i*out, (i+1)*out): overlaps are exact integers. */
        int64_t lo = (int64_t)o * n_in, hi = lo + n_in;
        int64_t i0 = lo / n_out, i1 = (hi - 1) / n_out;
        for (int64_t i = i0; i <= i1; i++) {
            int64_t start = i * n_out > lo ? i * n_out : lo, end = (i + 1) * n_out < hi ? (i + 1) * n_out : hi;
            w[i - i0] = (double)(end - start) / n_in;
        }
        *first = (int)i0;
        return (int)(i1 - i0 + 1);
    }
    if (n_out > n_in) {
        /* PyTorch's area_pixel_compute_source_index for align_corners=False. */
        double src = (o + 0.5) * ((double)n_in / n_out) - 0.5;
        if (src < 0) src = 0;
        int i0 = (int)src;
        double lambda = src - i0;
        *first = i0;
        if (i0 == n_in - 1) {
            w[0] = 1.0;
            return 1;
        }
        w[0] = 1.0 - lambda;
        w[1] = lambda;
        return 2;
    }
    *first = o;
    w[0] = 1.0;
    return 1;
}

static void axis_init(axis *a, int n_in, int n_out) {
    double *w = tk_malloc(sizeof(double) * (size_t)n_in);
    int first;
    a->width = 1;
    for (int o = 0; o < n_out; o++) {
        int n = taps(n_in, n_out, o, &first, w);
        if (n > a->width) a->width = n;
    }
    a->first = tk_malloc(sizeof(int32_t) * (size_t)n_out);
    a->w = tk_calloc((size_t)n_out * (size_t)a->width, sizeof(double));
    for (int o = 0; o < n_out; o++) {
        int n = taps(n_in, n_out, o, &first, w);
        /* Near the end, start earlier so all `width` taps lie inside the input. */
        int shift = first + a->width > n_in ? first + a->width - n_in : 0;
        a->first[o] = first - shift;
        memcpy(a->w + (size_t)o * (size_t)a->width + shift, w, sizeof(double) * (size_t)n);
    }
    free(w);
}

static void axis_free(axis *a) {
    free(a->first);
    free(a->w);
}

tk_image_adapter *tk_image_adapter_create(int c, int h, int w, int C, int H, int W, tk_error *err) {
    if (c <= 0 || h <= 0 || w <= 0 || C <= 0 || H <= 0 || W <= 0) {
        tk_fail(err,
                "cannot adapt %dx%dx%d images to %dx%dx%d (channels x height x width): every size must be positive",
                c, h, w, C, H, W);
        return NULL;
    }
    if (c != C && !(c == 1 && C == 3) && !(c == 3 && C == 1)) {
        tk_fail(err,
                "cannot adapt %d-channel images to %d channel%s: only equal channel counts, grey to RGB (1 -> 3, by "
                "replication) and RGB to grey (3 -> 1, BT.601 luma) are supported; use a model whose input has %d "
                "channel%s",
                c, C, C == 1 ? "" : "s", c, c == 1 ? "" : "s");
        return NULL;
    }
    tk_image_adapter *a = tk_malloc(sizeof *a);
    *a = (tk_image_adapter){.c = c, .h = h, .w = w, .C = C, .H = H, .W = W};
    axis_init(&a->rows, h, H);
    axis_init(&a->cols, w, W);
    a->plane_t = tk_malloc(sizeof(double) * (size_t)w * (size_t)h);
    a->tmp_t = tk_malloc(sizeof(double) * (size_t)W * (size_t)h);
    a->tmp = tk_malloc(sizeof(double) * (size_t)h * (size_t)W);
    a->out = tk_malloc(sizeof(double) * (size_t)H * (size_t)W);
    return a;
}

void tk_image_adapter_free(tk_image_adapter *a) {
    if (!a) return;
    axis_free(&a->rows);
    axis_free(&a->cols);
    free(a->plane_t);
    free(a->tmp_t);
    free(a->tmp);
    free(a->out);
    free(a);
}

/* dst row o = sum over k of w[o, k] * src row first[o] + k, for rows of `len`
 * values: whole-row multiply-adds, which vectorise. */
static void resample_rows(const double *src, int len, const axis *ax, int n_out, double *dst) {
    for (int o = 0; o < n_out; o++) {
        const double *w = ax->w + (size_t)o * (size_t)ax->width, *s = src + (size_t)ax->first[o] * (size_t)len;
        double *d = dst + (size_t)o * (size_t)len;
        for (int x = 0; x < len; x++) d[x] = w[0] * s[x];
        for (int k = 1; k < ax->width; k++)
            for (int x = 0; x < len; x++) d[x] += w[k] * s[(size_t)k * (size_t)len + (size_t)x];
    }
}

/* Resizes one plane, given transposed ([w, h]) in a->plane_t, into dst [H, W].
 * Both passes run on whole rows: columns on the transposed plane, then rows. */
static void resize_plane(tk_image_adapter *a, uint8_t *restrict dst) {
    int h = a->h, H = a->H, W = a->W;
    resample_rows(a->plane_t, h, &a->cols, W, a->tmp_t);
    for (int x = 0; x < W; x++)
        for (int y = 0; y < h; y++)
            a->tmp[(size_t)y * (size_t)W + (size_t)x] = a->tmp_t[(size_t)x * (size_t)h + (size_t)y];
    resample_rows(a->tmp, W, &a->rows, H, a->out);
    /* Round half up (the values are >= 0, so truncation is floor). The
     * weights are convex, so the clamp only guards against a last-bit
     * excursion; on integers it keeps the loop vectorised. */
    const double *restrict out = a->out;
    for (size_t k = 0; k < (size_t)H * (size_t)W; k++) {
        int v = (int)(out[k] + 0.5);
        dst[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

void tk_image_adapter_run(tk_image_adapter *a, const uint8_t *src, uint8_t *dst) {
    int h = a->h, w = a->w;
    size_t hw = (size_t)h * (size_t)w, HW = (size_t)a->H * (size_t)a->W;
    /* Same shape: every weight is 1, so the general path would copy too, slower. */
    if (a->c == a->C && h == a->H && w == a->W) {
        memcpy(dst, src, (size_t)a->c * hw);
        return;
    }
    /* Grey -> RGB resizes the one plane and copies it: replication commutes with resizing. */
    int planes = a->c == a->C ? a->c : 1;
    for (int p = 0; p < planes; p++) {
        for (int y = 0; y < h; y++) {
            double *col = a->plane_t + y;
            if (a->c == 3 && a->C == 1) {
                const uint8_t *r = src + (size_t)y * (size_t)w, *g = r + hw, *b = r + 2 * hw;
                for (int x = 0; x < w; x++)
                    col[(size_t)x * (size_t)h] = (19595.0 * r[x] + 38470.0 * g[x] + 7471.0 * b[x]) / 65536.0;
            } else {
                const uint8_t *s = src + (size_t)p * hw + (size_t)y * (size_t)w;
                for (int x = 0; x < w; x++) col[(size_t)x * (size_t)h] = s[x];
            }
        }
        resize_plane(a, dst + (size_t)p * HW);
    }
    for (int p = planes; p < a->C; p++) memcpy(dst + (size_t)p * HW, dst, HW);
}

/* Starts out as a dataset of in's name and image shape with `classes`
 * classes, class c being in's class old_class[c] (NULL: the same classes). */
static void copy_header(const tk_dataset *in, int classes, const int32_t *old_class, tk_dataset *out) {
    memcpy(out->name, in->name, sizeof out->name);
    out->C = in->C;
    out->H = in->H;
    out->W = in->W;
    out->classes = classes;
    if (in->class_names) {
        out->class_names = tk_malloc(sizeof *out->class_names * (size_t)classes);
        for (int c = 0; c < classes; c++)
            memcpy(out->class_names[c], in->class_names[old_class ? old_class[c] : c], sizeof out->class_names[c]);
    }
}

int tk_dataset_adapt(const tk_dataset *in, int C, int H, int W, tk_dataset *out, tk_error *err) {
    memset(out, 0, sizeof *out);
    tk_image_adapter *a = tk_image_adapter_create(in->C, in->H, in->W, C, H, W, err);
    if (!a) return tk_fail_prefix(err, "dataset %s: ", in->name);
    copy_header(in, in->classes, NULL, out);
    out->n = in->n;
    out->C = C;
    out->H = H;
    out->W = W;
    size_t in_size = (size_t)in->C * (size_t)in->H * (size_t)in->W, out_size = (size_t)C * (size_t)H * (size_t)W;
    out->images = tk_malloc((size_t)in->n * out_size);
    out->labels = tk_malloc(sizeof(int32_t) * (size_t)in->n);
    memcpy(out->labels, in->labels, sizeof(int32_t) * (size_t)in->n);
    for (int i = 0; i < in->n; i++)
        tk_image_adapter_run(a, in->images + (size_t)i * in_size, out->images + (size_t)i * out_size);
    tk_image_adapter_free(a);
    return 0;
}

/* ---- subsets */

/* " (name)" for class c of d when the files name classes, else "". */
static const char *class_label(const tk_dataset *d, int c, char *buf, size_t cap) {
    buf[0] = 0;
    if (d->class_names) {
        size_t n = strlen(d->class_names[c]);
        if (n + 4 <= cap) {
            buf[0] = ' ';
            buf[1] = '(';
            memcpy(buf + 2, d->class_names[c], n);
            buf[n + 2] = ')';
            buf[n + 3] = 0;
        }
    }
    return buf;
}

/* Largest-remainder division of `total` over classes of sizes count[] (sum n). */
static void proportional_quota(const int *count, int classes, int n, int total, int *quota) {
    int64_t *rem = tk_malloc(sizeof(int64_t) * (size_t)classes);
    int assigned = 0;
    for (int c = 0; c < classes; c++) {
        int64_t share = (int64_t)total * count[c];
        quota[c] = (int)(share / n);
        rem[c] = share % n;
        assigned += quota[c];
    }
    /* The remainders sum to (total - assigned) * n, each below n, so more of
     * them are positive than there are examples left to hand out. */
    for (; assigned < total; assigned++) {
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (rem[c] > rem[best]) best = c;
        TK_ASSERT(rem[best] > 0);
        quota[best]++;
        rem[best] = -1;
    }
    free(rem);
}

/* Sets keep[i] = 1 (keep starts all 0) for quota[c] examples of each class c
 * (by label[i]; -1 is no class), chosen as tk_transform.h describes. */
static void choose(const int32_t *label, int n, int classes, const int *count, const int *quota, tk_rng *rng,
                   uint8_t *keep) {
    int32_t *start = tk_malloc(sizeof(int32_t) * ((size_t)classes + 1));
    int32_t *order = tk_malloc(sizeof(int32_t) * (size_t)n);
    start[0] = 0;
    for (int c = 0; c < classes; c++) start[c + 1] = start[c] + count[c];
    int32_t *fill = tk_malloc(sizeof(int32_t) * (size_t)classes);
    memcpy(fill, start, sizeof(int32_t) * (size_t)classes);
    for (int i = 0; i < n; i++)
        if (label[i] >= 0) order[fill[label[i]]++] = i;
    for (int c = 0; c < classes; c++) {
        int32_t *members = order + start[c];
        TK_ASSERT(quota[c] <= count[c]);
        for (int i = 0; i < quota[c]; i++) {
            if (rng && quota[c] < count[c]) {
                int j = i + (int)tk_rng_below(rng, (uint32_t)(count[c] - i));
                int32_t t = members[i];
                members[i] = members[j];
                members[j] = t;
            }
            keep[members[i]] = 1;
        }
    }
    free(fill);
    free(order);
    free(start);
}

/* out = the examples i of in with keep[i] == want, labelled label[i];
 * class c of out is class old_class[c] of in (NULL: the same classes). */
static int gather(const tk_dataset *in, const int32_t *label, const uint8_t *keep, uint8_t want, int classes,
                  const int32_t *old_class, tk_dataset *out, tk_error *err) {
    int m = 0;
    for (int i = 0; i < in->n; i++) m += keep[i] == want;
    if (m == 0) return tk_fail(err, "no examples are left: the classes kept have none");
    copy_header(in, classes, old_class, out);
    out->n = m;
    size_t chw = (size_t)in->C * (size_t)in->H * (size_t)in->W;
    out->images = tk_malloc((size_t)m * chw);
    out->labels = tk_malloc(sizeof(int32_t) * (size_t)m);
    int j = 0;
    for (int i = 0; i < in->n; i++) {
        if (keep[i] != want) continue;
        memcpy(out->images + (size_t)j * chw, in->images + (size_t)i * chw, chw);
        out->labels[j++] = label[i];
    }
    return 0;
}

/* Builds label[] (the new label of every example, -1 when its class is
 * dropped), count[] per new class and old_class[] from the class list. */
static int map_classes(const tk_dataset *in, const tk_subset *s, int32_t *label, int *count, int32_t *old_class,
                       tk_error *err) {
    int32_t *new_of_old = tk_malloc(sizeof(int32_t) * (size_t)in->classes);
    for (int c = 0; c < in->classes; c++) new_of_old[c] = s->classes ? -1 : c;
    int classes = s->classes ? s->n_classes : in->classes;
    for (int k = 0; s->classes && k < s->n_classes; k++) {
        int32_t c = s->classes[k];
        if (c < 0 || c >= in->classes) {
            free(new_of_old);
            return tk_fail(err, "class %d (entry %d of the class list) is out of range: the dataset has classes 0..%d",
                           c, k, in->classes - 1);
        }
        if (new_of_old[c] >= 0) {
            char name[80];
            int first = new_of_old[c];
            free(new_of_old);
            return tk_fail(err, "class %d%s is listed twice in the class list (entries %d and %d); list it once", c,
                           class_label(in, c, name, sizeof name), first, k);
        }
        new_of_old[c] = k;
    }
    for (int c = 0; c < classes; c++) {
        count[c] = 0;
        old_class[c] = s->classes ? s->classes[c] : c;
    }
    for (int i = 0; i < in->n; i++) {
        TK_ASSERT(in->labels[i] >= 0 && in->labels[i] < in->classes);
        label[i] = new_of_old[in->labels[i]];
        if (label[i] >= 0) count[label[i]]++;
    }
    free(new_of_old);
    return 0;
}

static int subset(const tk_dataset *in, const tk_subset *s, tk_rng *rng, tk_dataset *out, tk_error *err) {
    if (s->per_class < 0 || s->total < 0)
        return tk_fail(err, "per_class (%d) and total (%d) must not be negative (0 means all examples)", s->per_class,
                       s->total);
    if (s->per_class > 0 && s->total > 0)
        return tk_fail(err, "per_class (%d) and total (%d) are both set; set one of them", s->per_class, s->total);
    if (s->classes && s->n_classes <= 0)
        return tk_fail(err, "the class list is empty (n_classes = %d); list at least one class", s->n_classes);
    int classes = s->classes ? s->n_classes : in->classes;
    int32_t *label = tk_malloc(sizeof(int32_t) * (size_t)in->n);
    int *count = tk_malloc(sizeof(int) * (size_t)classes), *quota = tk_malloc(sizeof(int) * (size_t)classes);
    int32_t *old_class = tk_malloc(sizeof(int32_t) * (size_t)classes);
    uint8_t *keep = tk_calloc((size_t)in->n, 1);
    int rc = map_classes(in, s, label, count, old_class, err);
    int available = 0;
    for (int c = 0; rc == 0 && c < classes; c++) {
        available += count[c];
        quota[c] = s->per_class > 0 ? s->per_class : count[c];
        if (count[c] < quota[c]) {
            char name[80];
            rc = tk_fail(err, "class %d%s has %d examples, fewer than per_class = %d; lower per_class or leave the "
                              "class out",
                         old_class[c], class_label(in, old_class[c], name, sizeof name), count[c], s->per_class);
        }
    }
    if (rc == 0 && s->total > available)
        rc = tk_fail(err, "total = %d exceeds the %d examples of the %s; lower total", s->total, available,
                     s->classes ? "classes kept" : "dataset");
    if (rc == 0) {
        if (s->total > 0 && available > 0) proportional_quota(count, classes, available, s->total, quota);
        choose(label, in->n, classes, count, quota, rng, keep);
        rc = gather(in, label, keep, 1, classes, old_class, out, err);
    }
    free(keep);
    free(old_class);
    free(quota);
    free(count);
    free(label);
    return rc;
}

int tk_dataset_subset(const tk_dataset *in, const tk_subset *s, tk_rng *rng, tk_dataset *out, tk_error *err) {
    memset(out, 0, sizeof *out);
    if (subset(in, s, rng, out, err)) return tk_fail_prefix(err, "subset of dataset %s: ", in->name);
    return 0;
}

int tk_dataset_split(const tk_dataset *in, int n_val, tk_rng *rng, tk_dataset *train, tk_dataset *val,
                     tk_error *err) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    if (n_val <= 0 || n_val >= in->n)
        return tk_fail(err,
                       "validation split of dataset %s: %d validation examples asked for, expected 1..%d (the dataset "
                       "has %d examples and the training part must keep at least one)",
                       in->name, n_val, in->n - 1, in->n);
    int32_t *label = in->labels;
    int *count = tk_calloc((size_t)in->classes, sizeof(int)), *quota = tk_malloc(sizeof(int) * (size_t)in->classes);
    uint8_t *keep = tk_calloc((size_t)in->n, 1);
    for (int i = 0; i < in->n; i++) {
        TK_ASSERT(label[i] >= 0 && label[i] < in->classes);
        count[label[i]]++;
    }
    proportional_quota(count, in->classes, in->n, n_val, quota);
    choose(label, in->n, in->classes, count, quota, rng, keep);
    /* Neither part is empty: 0 < n_val < n. */
    int rc = gather(in, label, keep, 0, in->classes, NULL, train, err);
    TK_ASSERT(rc == 0);
    rc = gather(in, label, keep, 1, in->classes, NULL, val, err);
    TK_ASSERT(rc == 0);
    free(keep);
    free(quota);
    free(count);
    return 0;
}

/* ---- batch augmentation */

/* The same expression as tk_dataset_batch, so an augmented batch holds the
 * same floats as a plain one wherever the pixels agree (tested). */
static void normalise_lut(float lut[256], float mean, float std) {
    double s = std > 0 ? (double)std : 1.0;
    for (int v = 0; v < 256; v++) lut[v] = (float)((v / 255.0 - (double)mean) / s);
}

/* One output row of the crop: dst[x] = src[x + shift] where that is inside the
 * row, padding elsewhere; src NULL is a padding row. Then mirrored if flip. */
static void crop_row(float *dst, const uint8_t *src, int W, int shift, bool flip, const float *lut) {
    int lo = shift < 0 ? -shift : 0, hi = shift > 0 ? W - shift : W;
    if (!src || hi <= lo) lo = hi = W;
    for (int x = 0; x < lo; x++) dst[x] = lut[0];
    for (int x = lo; x < hi; x++) dst[x] = lut[src[x + shift]];
    for (int x = hi; x < W; x++) dst[x] = lut[0];
    if (flip)
        for (int x = 0, y = W - 1; x < y; x++, y--) {
            float t = dst[x];
            dst[x] = dst[y];
            dst[y] = t;
        }
}

void tk_dataset_batch_augmented(const tk_dataset *d, const int32_t *idx, int B, const float *mean, const float *std,
                                const tk_augment *aug, tk_rng *rng, float *x, int32_t *labels) {
    if (!aug || (aug->pad == 0 && !aug->flip)) {
        tk_dataset_batch(d, idx, B, mean, std, x, labels);
        return;
    }
    TK_ASSERT(aug->pad >= 0 && rng);
    int H = d->H, W = d->W, pad = aug->pad;
    size_t hw = (size_t)H * (size_t)W, chw = (size_t)d->C * hw;
    /* Channels go one at a time so that one 256-entry table is live; each
     * channel replays the same per-sample draws from a copy of the generator,
     * and the generator ends where one pass over the batch leaves it. */
    tk_rng r = *rng;
    for (int c = 0; c < d->C; c++) {
        float lut[256];
        normalise_lut(lut, mean[c], std[c]);
        r = *rng;
        for (int b = 0; b < B; b++) {
            TK_ASSERT(idx[b] >= 0 && idx[b] < d->n);
            bool flip = aug->flip && tk_rng_uniform(&r) < 0.5f;
            int top = pad, left = pad;
            if (pad > 0) {
                top = (int)tk_rng_below(&r, (uint32_t)(2 * pad + 1));
                left = (int)tk_rng_below(&r, (uint32_t)(2 * pad + 1));
            }
            const uint8_t *src = d->images + (size_t)idx[b] * chw + (size_t)c * hw;
            float *dst = x + (size_t)b * chw + (size_t)c * hw;
            for (int y = 0; y < H; y++) {
                int sy = y + top - pad;
                crop_row(dst + (size_t)y * (size_t)W, sy >= 0 && sy < H ? src + (size_t)sy * (size_t)W : NULL, W,
                         left - pad, flip, lut);
            }
        }
    }
    *rng = r;
    if (labels)
        for (int b = 0; b < B; b++) labels[b] = d->labels[idx[b]];
}
