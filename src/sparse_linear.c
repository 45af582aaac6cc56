/* sparse_linear.c - a masked linear layer from its kept weights (tk_sparse.h). */
#include <stdlib.h>
#include <string.h>

#include "tk_common.h"
#include "tk_layers.h"
#include "tk_parallel.h"
#include "tk_sparse.h"

struct tk_sparse_linear {
    int in, out;
    size_t kept;
    /* Row o's kept weights are at columns row_col[row_start[o] .. row_start[o+1]),
     * increasing; column j's at rows col_row[col_start[j] .. col_start[j+1]). */
    int32_t *row_start, *row_col, *col_start, *col_row;
    /* A conv's flipped kernel (tk_sparse_conv_create), else NULL. */
    tk_sparse_linear *flip;
};

tk_sparse_linear *tk_sparse_linear_create(const uint8_t *mask, int in, int out) {
    TK_ASSERT(in > 0 && out > 0 && (int64_t)in * out < INT32_MAX);
    tk_sparse_linear *s = tk_calloc(1, sizeof *s);
    s->in = in, s->out = out;
    size_t n = (size_t)in * out;
    for (size_t i = 0; i < n; i++) s->kept += mask[i] != 0;
    s->row_start = tk_malloc((size_t)(out + 1) * sizeof(int32_t));
    s->col_start = tk_calloc((size_t)in + 1, sizeof(int32_t));
    s->row_col = tk_malloc((s->kept + 1) * sizeof(int32_t));
    s->col_row = tk_malloc((s->kept + 1) * sizeof(int32_t));
    int32_t k = 0;
    for (int o = 0; o < out; o++) {
        s->row_start[o] = k;
        for (int j = 0; j < in; j++)
            if (mask[(size_t)o * in + j]) s->row_col[k++] = j, s->col_start[j + 1]++;
    }
    s->row_start[out] = k;
    for (int j = 0; j < in; j++) s->col_start[j + 1] += s->col_start[j];
    /* Rows visited in increasing order fill each column's list in increasing order. */
    int32_t *fill = tk_malloc((size_t)in * sizeof(int32_t));
    memcpy(fill, s->col_start, (size_t)in * sizeof(int32_t));
    for (int o = 0; o < out; o++)
        for (int32_t q = s->row_start[o]; q < s->row_start[o + 1]; q++) s->col_row[fill[s->row_col[q]]++] = o;
    free(fill);
    return s;
}

void tk_sparse_linear_free(tk_sparse_linear *s) {
    if (!s) return;
    tk_sparse_linear_free(s->flip);
    free(s->row_start), free(s->row_col), free(s->col_start), free(s->col_row);
    free(s);
}

tk_sparse_linear *tk_sparse_conv_create(const uint8_t *mask, int K, int C, int R, int S) {
    size_t taps = (size_t)R * S, n = (size_t)K * C * taps;
    uint8_t *flipped = tk_malloc(n);
    for (size_t k = 0; k < (size_t)K; k++)
        for (size_t c = 0; c < (size_t)C; c++)
            for (size_t u = 0; u < taps; u++)
                flipped[(c * K + k) * taps + taps - 1 - u] = mask[(k * C + c) * taps + u];
    tk_sparse_linear *s = tk_sparse_linear_create(mask, (int)(C * taps), K);
    s->flip = tk_sparse_linear_create(flipped, (int)(K * taps), C);
    free(flipped);
    return s;
}

const tk_sparse_linear *tk_sparse_conv_flipped(const tk_sparse_linear *s) { return s->flip; }

size_t tk_sparse_linear_kept(const tk_sparse_linear *s) { return s->kept; }

/* The batch is padded with zeros to whole chunks of CHUNK values, four
 * vectors of 16 that stay in registers while a row's kept weights stream by
 * (one AVX-512, two AVX2 or four SSE registers each). */
#define CHUNK TK_SPARSE_CHUNK
typedef float vec16 __attribute__((vector_size(16 * sizeof(float))));

static size_t padded(int B) { return ((size_t)B + CHUNK - 1) / CHUNK * CHUNK; }

/* [xT: in x Bp] [yT or dyT: out x Bp] [dxT: in x Bp], Bp = B padded. */
size_t tk_sparse_linear_workspace(const tk_sparse_linear *s, int B) {
    return padded(B) * (2 * (size_t)s->in + s->out);
}

typedef float vec8 __attribute__((vector_size(8 * sizeof(float))));

/* Shuffle index lists for __builtin_shufflevector (GCC 12 and clang alike):
 * 8-wide transpose rounds, then the 16-wide halving rounds of dots. */
#define T_LO 0, 8, 1, 9, 4, 12, 5, 13
#define T_HI 2, 10, 3, 11, 6, 14, 7, 15
#define T_LO2 0, 1, 8, 9, 4, 5, 12, 13
#define T_HI2 2, 3, 10, 11, 6, 7, 14, 15
#define T_LO4 0, 1, 2, 3, 8, 9, 10, 11
#define T_HI4 4, 5, 6, 7, 12, 13, 14, 15
#define H_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define H_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define H_LO4 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27
#define H_HI4 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31
#define H_LO2 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29
#define H_HI2 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31
#define H_LO1 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define H_HI1 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#define SHUF(a, b, idx) __builtin_shufflevector(a, b, idx)

/* r[8] (8 rows of 8) transposed in place: three rounds of shuffles. */
static inline void transpose8(vec8 r[8]) {
    vec8 t[8], u[8];
    for (int i = 0; i < 8; i += 2) t[i] = SHUF(r[i], r[i + 1], T_LO), t[i + 1] = SHUF(r[i], r[i + 1], T_HI);
    for (int i = 0; i < 8; i += 4) {
        u[i] = SHUF(t[i], t[i + 2], T_LO2), u[i + 1] = SHUF(t[i], t[i + 2], T_HI2);
        u[i + 2] = SHUF(t[i + 1], t[i + 3], T_LO2);
        u[i + 3] = SHUF(t[i + 1], t[i + 3], T_HI2);
    }
    for (int i = 0; i < 4; i++) r[i] = SHUF(u[i], u[i + 4], T_LO4), r[i + 4] = SHUF(u[i], u[i + 4], T_HI4);
}

/* Into the batch-along-vectors layout: dst[c * ld + r] = src[r * cols + c]
 * for r < rows, c < cols, and 0 for rows <= r < ld (ld a multiple of 8).
 * Whole 8 x 8 blocks go through registers, the missing rows as zeros; the
 * last cols % 8 columns one by one. Only moves: the same bits everywhere. */
TK_HOT_WIDE static void transpose_in(float *restrict dst, size_t ld, const float *restrict src, int rows, int cols) {
    int c8 = cols / 8 * 8;
    for (int c0 = 0; c0 < c8; c0 += 8)
        for (size_t r0 = 0; r0 < ld; r0 += 8) {
            vec8 r[8];
            for (int i = 0; i < 8; i++)
                if ((int)r0 + i < rows) memcpy(&r[i], src + (r0 + (size_t)i) * (size_t)cols + c0, sizeof(vec8));
                else r[i] = (vec8){0};
            transpose8(r);
            for (int j = 0; j < 8; j++) memcpy(dst + (size_t)(c0 + j) * ld + r0, &r[j], sizeof(vec8));
        }
    for (int c = c8; c < cols; c++)
        for (size_t r = 0; r < ld; r++) dst[(size_t)c * ld + r] = (int)r < rows ? src[r * (size_t)cols + c] : 0.0f;
}

/* Back out of it: dst[c * ld_dst + r] = src[r * ld_src + c] for r < rows,
 * c < cols, or with `add` dst[...] += src[...]; src's rows must be readable
 * to cols rounded up to 8 (ld_src >= that), as the padded layout is. Whole
 * blocks of 8 rows, the columns past cols read but not stored; the last
 * rows % 8 rows one by one. Moves and one add per element: the same bits
 * everywhere. */
TK_HOT_WIDE static void transpose_out(float *restrict dst, size_t ld_dst, const float *restrict src, size_t ld_src,
                                     int rows, int cols, bool add) {
    int r8 = rows / 8 * 8;
    for (int r0 = 0; r0 < r8; r0 += 8)
        for (int c0 = 0; c0 < cols; c0 += 8) {
            vec8 r[8];
            for (int i = 0; i < 8; i++) memcpy(&r[i], src + (size_t)(r0 + i) * ld_src + c0, sizeof(vec8));
            transpose8(r);
            for (int j = 0; j < 8 && c0 + j < cols; j++) {
                float *d = dst + (size_t)(c0 + j) * ld_dst + r0;
                if (add) {
                    vec8 had;
                    memcpy(&had, d, sizeof had);
                    r[j] = had + r[j];
                }
                memcpy(d, &r[j], sizeof(vec8));
            }
        }
    for (int r = r8; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            float *d = dst + (size_t)c * ld_dst + r, v = src[(size_t)r * ld_src + c];
            *d = add ? *d + v : v;
        }
}

/* Unaligned moves between floats and vectors (macros: a function passing a
 * vector would have a different ABI in each clone). */
#define LOAD16(v, p) memcpy(&(v), (p), sizeof(vec16))
#define STORE16(p, v) memcpy((p), &(v), sizeof(vec16))

/* out[0, CHUNK) = start + sum over the list of coef[q] * rows[index[q] * ld ..]:
 * each element one multiply and one add per term, in list order. */
TK_HOT_WIDE static void combine(float *out, float start, const float *rows, size_t ld, const int32_t *index,
                               const float *coef, ptrdiff_t coef_step, int32_t n) {
    vec16 a0 = {0}, a1, a2, a3;
    a0 = a0 + start, a1 = a0, a2 = a0, a3 = a0;
    for (int32_t q = 0; q < n; q++) {
        const float *r = rows + (size_t)index[q] * ld;
        float c = coef[(ptrdiff_t)index[q] * coef_step];
        vec16 r0, r1, r2, r3;
        LOAD16(r0, r), LOAD16(r1, r + 16), LOAD16(r2, r + 32), LOAD16(r3, r + 48);
        a0 = a0 + c * r0, a1 = a1 + c * r1, a2 = a2 + c * r2, a3 = a3 + c * r3;
    }
    STORE16(out, a0), STORE16(out + 16, a1), STORE16(out + 32, a2), STORE16(out + 48, a3);
}

/* The tree of dots below, on sixteen sums at once: t[l] += t[l + w] for
 * w = 8, 4, 2, 1, each round pairing halves of two vectors; sums[q] gets
 * the total of p[q]'s lanes for q < live. */
static inline void add_lane_sums(float *sums, vec16 *p, int live) {
    for (int i = 0; i < 8; i++) p[i] = SHUF(p[2 * i], p[2 * i + 1], H_LO8) + SHUF(p[2 * i], p[2 * i + 1], H_HI8);
    for (int i = 0; i < 4; i++) p[i] = SHUF(p[2 * i], p[2 * i + 1], H_LO4) + SHUF(p[2 * i], p[2 * i + 1], H_HI4);
    for (int i = 0; i < 2; i++) p[i] = SHUF(p[2 * i], p[2 * i + 1], H_LO2) + SHUF(p[2 * i], p[2 * i + 1], H_HI2);
    p[0] = SHUF(p[0], p[1], H_LO1) + SHUF(p[0], p[1], H_HI1);
    float t[16];
    STORE16(t, p[0]);
    for (int q = 0; q < live; q++) sums[q] += t[q];
}

/* For the q-th listed j: out[q] += sum_b g[b] * rows[j * ld + b] over b < ld,
 * the products of element b gathered in partial b mod 16 in chunk order,
 * the 16 partials then added pairwise: t[l] += t[l + w] for w = 8, 4, 2, 1.
 * Sixteen j at a time, a CHUNK of g held in registers while their rows
 * stream by; a last group of fewer repeats its first row in the unused
 * places, whose sums are dropped (every sum is its own, so the ones kept
 * are the same bits). */
TK_HOT_WIDE static void dots(float *out, const float *g, const float *rows, size_t ld, const int32_t *index,
                            int32_t n) {
    for (int32_t q0 = 0; q0 < n; q0 += 16) {
        int live = n - q0 < 16 ? (int)(n - q0) : 16;
        const float *r[16];
        vec16 p[16];
        for (int q = 0; q < 16; q++) r[q] = rows + (size_t)index[q0 + (q < live ? q : 0)] * ld, p[q] = (vec16){0};
        for (size_t b = 0; b < ld; b += CHUNK) {
            vec16 g0, g1, g2, g3;
            LOAD16(g0, g + b), LOAD16(g1, g + b + 16), LOAD16(g2, g + b + 32), LOAD16(g3, g + b + 48);
#pragma GCC unroll 16
            for (int q = 0; q < 16; q++) {
                vec16 r0, r1, r2, r3;
                LOAD16(r0, r[q] + b), LOAD16(r1, r[q] + b + 16), LOAD16(r2, r[q] + b + 32), LOAD16(r3, r[q] + b + 48);
                p[q] = p[q] + g0 * r0, p[q] = p[q] + g1 * r1, p[q] = p[q] + g2 * r2, p[q] = p[q] + g3 * r3;
            }
        }
        add_lane_sums(out + q0, p, live);
    }
}

/* Rows (or columns) per unit of work spread over the threads. */
#define SPAN 16

typedef struct pass {
    const tk_sparse_linear *s;
    const float *w, *b, *xT, *dyT;
    float *yT, *dxT, *dx, *dw;
    int B;     /* with dx: its rows, which get dxT's first B columns added */
    size_t ld; /* row length of xT, yT, dyT, dxT: a multiple of CHUNK */
} pass;

static int units_of(int n) { return (n + SPAN - 1) / SPAN; }

/* The three products over rows (columns for dx) [lo, hi) of w. */
static void forward_range(const pass *c, int lo, int hi) {
    const tk_sparse_linear *s = c->s;
    for (int o = lo; o < hi; o++) {
        const int32_t *cols = s->row_col + s->row_start[o];
        int32_t n = s->row_start[o + 1] - s->row_start[o];
        for (size_t b = 0; b < c->ld; b += CHUNK)
            combine(c->yT + (size_t)o * c->ld + b, c->b ? c->b[o] : 0.0f, c->xT + b, c->ld, cols,
                    c->w + (size_t)o * s->in, 1, n);
    }
}

static void weight_grad_range(const pass *c, int lo, int hi) {
    const tk_sparse_linear *s = c->s;
    for (int o = lo; o < hi; o++)
        dots(c->dw + s->row_start[o], c->dyT + (size_t)o * c->ld, c->xT, c->ld, s->row_col + s->row_start[o],
             s->row_start[o + 1] - s->row_start[o]);
}

static void input_grad_range(const pass *c, int lo, int hi) {
    const tk_sparse_linear *s = c->s;
    for (int j = lo; j < hi; j++) {
        float *acc = c->dxT + (size_t)j * c->ld;
        const int32_t *rows = s->col_row + s->col_start[j];
        int32_t n = s->col_start[j + 1] - s->col_start[j];
        for (size_t b = 0; b < c->ld; b += CHUNK)
            combine(acc + b, 0.0f, c->dyT + b, c->ld, rows, c->w + j, s->in, n);
    }
    if (c->dx) transpose_out(c->dx + lo, (size_t)s->in, c->dxT + (size_t)lo * c->ld, c->ld, hi - lo, c->B, true);
}

static int span_end(int u, int n) { return (u + 1) * SPAN < n ? (u + 1) * SPAN : n; }

static void forward_rows(void *p, int u, int lane) {
    (void)lane;
    const pass *c = p;
    forward_range(c, u * SPAN, span_end(u, c->s->out));
}

static void weight_grad_rows(void *p, int u, int lane) {
    (void)lane;
    const pass *c = p;
    weight_grad_range(c, u * SPAN, span_end(u, c->s->out));
}

static void input_grad_columns(void *p, int u, int lane) {
    (void)lane;
    const pass *c = p;
    input_grad_range(c, u * SPAN, span_end(u, c->s->in));
}

void tk_sparse_linear_forward(float *y, const float *x, const float *w, const float *b, int B,
                              const tk_sparse_linear *s, float *work) {
    size_t ld = padded(B);
    pass c = {.s = s, .w = w, .b = b, .xT = work, .yT = work + (size_t)s->in * ld, .B = B, .ld = ld};
    transpose_in(work, ld, x, B, s->in);
    tk_parallel_units(units_of(s->out), tk_parallel_lanes(), forward_rows, &c);
    transpose_out(y, (size_t)s->out, c.yT, ld, s->out, B, false);
}

void tk_sparse_rows_forward(float *yT, const float *xT, size_t ld, const float *w, const float *b,
                            const tk_sparse_linear *s) {
    TK_ASSERT(ld % CHUNK == 0);
    pass c = {.s = s, .w = w, .b = b, .xT = xT, .yT = yT, .ld = ld};
    forward_range(&c, 0, s->out);
}

void tk_sparse_rows_weight_grad(float *dw, const float *dyT, const float *xT, size_t ld, const tk_sparse_linear *s) {
    TK_ASSERT(ld % CHUNK == 0);
    pass c = {.s = s, .xT = xT, .dyT = dyT, .dw = dw, .ld = ld};
    weight_grad_range(&c, 0, s->out);
}

void tk_sparse_rows_input_grad(float *dxT, const float *dyT, size_t ld, const float *w, const tk_sparse_linear *s) {
    TK_ASSERT(ld % CHUNK == 0);
    pass c = {.s = s, .w = w, .dyT = dyT, .dxT = dxT, .ld = ld};
    input_grad_range(&c, 0, s->in);
}

void tk_sparse_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               int B, const tk_sparse_linear *s, float *work) {
    size_t ld = padded(B);
    float *xT = work, *dyT = work + (size_t)s->in * ld, *dxT = dyT + (size_t)s->out * ld;
    pass c = {.s = s, .w = w, .xT = xT, .dyT = dyT, .dxT = dxT, .dx = dx, .dw = dw, .B = B, .ld = ld};
    if (dx || dw) transpose_in(dyT, ld, dy, B, s->out);
    if (dw) tk_parallel_units(units_of(s->out), tk_parallel_lanes(), weight_grad_rows, &c);
    if (dx) tk_parallel_units(units_of(s->in), tk_parallel_lanes(), input_grad_columns, &c);
    /* db is the dense layer's: it never touches the weights. */
    if (db) tk_linear_backward(NULL, NULL, db, dy, x, w, B, s->in, s->out);
}
