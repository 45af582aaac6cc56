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
    free(s->row_start), free(s->row_col), free(s->col_start), free(s->col_row);
    free(s);
}

size_t tk_sparse_linear_kept(const tk_sparse_linear *s) { return s->kept; }

/* The batch is padded with zeros to whole chunks of CHUNK values, four
 * vectors of 16 that stay in registers while a row's kept weights stream by
 * (one AVX-512, two AVX2 or four SSE registers each). */
#define CHUNK 64
typedef float vec16 __attribute__((vector_size(16 * sizeof(float))));

static size_t padded(int B) { return ((size_t)B + CHUNK - 1) / CHUNK * CHUNK; }

/* [xT: in x Bp] [yT or dyT: out x Bp] [dxT: in x Bp], Bp = B padded. */
size_t tk_sparse_linear_workspace(const tk_sparse_linear *s, int B) {
    return padded(B) * (2 * (size_t)s->in + s->out);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SPARSE_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SPARSE_HOT
#endif

/* dst[c, r] = src[r, c] for r < rows, 0 for r in [rows, ld): src[rows, cols]
 * becomes dst[cols, ld]. */
TK_HOT static void transpose_pad(float *restrict dst, size_t ld, const float *restrict src, int rows, int cols) {
    /* In 16 x 16 tiles, so that both sides move whole cache lines. */
    for (int r0 = 0; r0 < rows; r0 += 16)
        for (int c0 = 0; c0 < cols; c0 += 16) {
            int r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < cols ? c0 + 16 : cols;
            for (int r = r0; r < r1; r++)
                for (int c = c0; c < c1; c++) dst[(size_t)c * ld + r] = src[(size_t)r * cols + c];
        }
    for (int c = 0; c < cols; c++)
        for (size_t r = (size_t)rows; r < ld; r++) dst[(size_t)c * ld + r] = 0.0f;
}

/* Unaligned moves between floats and vectors (macros: a function passing a
 * vector would have a different ABI in each clone). */
#define LOAD16(v, p) memcpy(&(v), (p), sizeof(vec16))
#define STORE16(p, v) memcpy((p), &(v), sizeof(vec16))

/* out[0, CHUNK) = start + sum over the list of coef[q] * rows[index[q] * ld ..]:
 * each element one multiply and one add per term, in list order. */
SPARSE_HOT static void combine(float *out, float start, const float *rows, size_t ld, const int32_t *index,
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

/* For each listed j: out[j] += sum_b g[b] * rows[j * ld + b] over b < ld,
 * the products of element b gathered in partial b mod 16 in chunk order,
 * the 16 partials then added pairwise in a fixed tree. */
SPARSE_HOT static void dots(float *out, const float *g, const float *rows, size_t ld, const int32_t *index,
                            int32_t n) {
    for (int32_t q = 0; q < n; q++) {
        const float *r = rows + (size_t)index[q] * ld;
        vec16 p = {0}, gb, rb;
        for (size_t b = 0; b < ld; b += 16) {
            LOAD16(gb, g + b), LOAD16(rb, r + b);
            p = p + gb * rb;
        }
        float t[16];
        STORE16(t, p);
        for (int w = 8; w; w /= 2)
            for (int l = 0; l < w; l++) t[l] = t[l] + t[l + w];
        out[index[q]] += t[0];
    }
}

/* Rows (or columns) per unit of work spread over the threads. */
#define SPAN 16

typedef struct pass {
    const tk_sparse_linear *s;
    const float *w, *b, *xT, *dyT;
    float *yT, *dxT, *dx, *dw;
    int B;
    size_t ld; /* B padded */
} pass;

static int units_of(int n) { return (n + SPAN - 1) / SPAN; }

static void forward_rows(void *p, int u, int lane) {
    (void)lane;
    const pass *c = p;
    const tk_sparse_linear *s = c->s;
    int end = (u + 1) * SPAN < s->out ? (u + 1) * SPAN : s->out;
    for (int o = u * SPAN; o < end; o++) {
        const int32_t *cols = s->row_col + s->row_start[o];
        int32_t n = s->row_start[o + 1] - s->row_start[o];
        for (size_t b = 0; b < c->ld; b += CHUNK)
            combine(c->yT + (size_t)o * c->ld + b, c->b ? c->b[o] : 0.0f, c->xT + b, c->ld, cols,
                    c->w + (size_t)o * s->in, 1, n);
    }
}

void tk_sparse_linear_forward(float *y, const float *x, const float *w, const float *b, int B,
                              const tk_sparse_linear *s, float *work) {
    size_t ld = padded(B);
    pass c = {.s = s, .w = w, .b = b, .xT = work, .yT = work + (size_t)s->in * ld, .B = B, .ld = ld};
    transpose_pad(work, ld, x, B, s->in);
    tk_parallel_units(units_of(s->out), tk_parallel_lanes(), forward_rows, &c);
    for (int i = 0; i < B; i++)
        for (int o = 0; o < s->out; o++) y[(size_t)i * s->out + o] = c.yT[(size_t)o * ld + i];
}

static void weight_grad_rows(void *p, int u, int lane) {
    (void)lane;
    const pass *c = p;
    const tk_sparse_linear *s = c->s;
    int end = (u + 1) * SPAN < s->out ? (u + 1) * SPAN : s->out;
    for (int o = u * SPAN; o < end; o++)
        dots(c->dw + (size_t)o * s->in, c->dyT + (size_t)o * c->ld, c->xT, c->ld, s->row_col + s->row_start[o],
             s->row_start[o + 1] - s->row_start[o]);
}

static void input_grad_columns(void *p, int u, int lane) {
    (void)lane;
    const pass *c = p;
    const tk_sparse_linear *s = c->s;
    int end = (u + 1) * SPAN < s->in ? (u + 1) * SPAN : s->in;
    for (int j = u * SPAN; j < end; j++) {
        float *acc = c->dxT + (size_t)j * c->ld;
        const int32_t *rows = s->col_row + s->col_start[j];
        int32_t n = s->col_start[j + 1] - s->col_start[j];
        for (size_t b = 0; b < c->ld; b += CHUNK)
            combine(acc + b, 0.0f, c->dyT + b, c->ld, rows, c->w + j, s->in, n);
        for (int i = 0; i < c->B; i++) c->dx[(size_t)i * s->in + j] += acc[i];
    }
}

void tk_sparse_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               int B, const tk_sparse_linear *s, float *work) {
    size_t ld = padded(B);
    float *xT = work, *dyT = work + (size_t)s->in * ld, *dxT = dyT + (size_t)s->out * ld;
    pass c = {.s = s, .w = w, .xT = xT, .dyT = dyT, .dxT = dxT, .dx = dx, .dw = dw, .B = B, .ld = ld};
    if (dx || dw) transpose_pad(dyT, ld, dy, B, s->out);
    if (dw) {
        transpose_pad(xT, ld, x, B, s->in);
        tk_parallel_units(units_of(s->out), tk_parallel_lanes(), weight_grad_rows, &c);
    }
    if (dx) tk_parallel_units(units_of(s->in), tk_parallel_lanes(), input_grad_columns, &c);
    /* db is the dense layer's: it never touches the weights. */
    if (db) tk_linear_backward(NULL, NULL, db, dy, x, w, B, s->in, s->out);
}
