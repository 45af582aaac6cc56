/* gemm.c - the engine's matrix product: OpenBLAS, or our own code whose sums
 * have one order on every CPU (see tk_gemm.h for when to use which).
 *
 * The own product defines each element as one sequential sum:
 *     s = beta ? C[i,j] : 0;  for k = 0 .. K-1:  s = s + round(A(i,k) * B(k,j))
 * Vectors run across j, never across k, so an AVX-512 lane, an AVX2 lane and
 * a scalar do the same float operations for their element in the same order;
 * with FMA contraction off (Makefile) the three builds give the same bits.
 * Blocking over k stores s in C between blocks, which keeps the order.
 *
 * Tiles of MR x NR elements stay in registers over a block of KC products.
 * B's rows are read straight where they are contiguous (B not transposed);
 * a transposed B is copied into a KC x NR panel first. A is read in place:
 * its MR rows are MR strided streams, or, transposed, MR contiguous floats. */
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tk_common.h"
#include "tk_gemm.h"

const char *const tk_gemm_kind_names[] = {"blas", "own"};
_Static_assert(TK_ARRAY_LEN(tk_gemm_kind_names) == TK_GEMM_COUNT, "one name per gemm kind");
const char *const tk_gemm_isa_names[] = {"x86-64", "avx2", "avx512f"};
_Static_assert(TK_ARRAY_LEN(tk_gemm_isa_names) == TK_GEMM_ISA_COUNT, "one name per gemm ISA");

/* A tile is MR rows by one vector of columns: 16 floats with AVX-512, 8 with
 * AVX2, 4 with SSE (the widths GCC lowers each to one register). The tile's
 * shape changes which elements are computed together, never the operations
 * one element goes through. KC products per pass keep a panel of B in L1. */
#define MR 6
#define NR_MAX 16
#define KC 256

/* Where the MR x nr tile at (i0, j0) reads its operands. */
typedef struct tile_src {
    const float *a[MR]; /* row r of A's tile: element k at a[r][k * a_step] */
    ptrdiff_t a_step;
    const float *b; /* kc x nr: element (k, j) at b[k * b_step + j] */
    ptrdiff_t b_step;
} tile_src;

/* acc[r * nr + j] += A(r, k) * B(k, j) for k in [0, kc), k increasing, with
 * the MR rows spelled out so that they stay in registers. */
#define DEFINE_TILE(isa, target, NR)                                                                              \
    typedef float vec_##isa __attribute__((vector_size(NR * sizeof(float))));                                   \
    target static void tile_##isa(float *acc, const tile_src *t, int kc) {                                      \
        vec_##isa c0, c1, c2, c3, c4, c5, bk;                                                                    \
        memcpy(&c0, acc + 0 * NR, sizeof c0), memcpy(&c1, acc + 1 * NR, sizeof c1);                              \
        memcpy(&c2, acc + 2 * NR, sizeof c2), memcpy(&c3, acc + 3 * NR, sizeof c3);                              \
        memcpy(&c4, acc + 4 * NR, sizeof c4), memcpy(&c5, acc + 5 * NR, sizeof c5);                              \
        const float *a0 = t->a[0], *a1 = t->a[1], *a2 = t->a[2], *a3 = t->a[3], *a4 = t->a[4], *a5 = t->a[5];    \
        const float *b = t->b;                                                                                   \
        for (ptrdiff_t k = 0, ak = 0; k < kc; k++, ak += t->a_step, b += t->b_step) {                            \
            memcpy(&bk, b, sizeof bk);                                                                           \
            c0 = c0 + a0[ak] * bk, c1 = c1 + a1[ak] * bk, c2 = c2 + a2[ak] * bk;                                 \
            c3 = c3 + a3[ak] * bk, c4 = c4 + a4[ak] * bk, c5 = c5 + a5[ak] * bk;                                 \
        }                                                                                                        \
        memcpy(acc + 0 * NR, &c0, sizeof c0), memcpy(acc + 1 * NR, &c1, sizeof c1);                              \
        memcpy(acc + 2 * NR, &c2, sizeof c2), memcpy(acc + 3 * NR, &c3, sizeof c3);                              \
        memcpy(acc + 4 * NR, &c4, sizeof c4), memcpy(acc + 5 * NR, &c5, sizeof c5);                              \
    }
_Static_assert(MR == 6, "DEFINE_TILE spells out six rows");

typedef struct tile_kind {
    void (*fn)(float *acc, const tile_src *t, int kc);
    int nr;
} tile_kind;

#if defined(__x86_64__) && defined(__GNUC__)
DEFINE_TILE(x86_64, , 4)
DEFINE_TILE(avx2, __attribute__((target("avx2"))), 8)
DEFINE_TILE(avx512, __attribute__((target("avx512f"))), 16)
static const tile_kind tiles[TK_GEMM_ISA_COUNT] = {{tile_x86_64, 4}, {tile_avx2, 8}, {tile_avx512, 16}};
static bool isa_supported(int isa) {
    __builtin_cpu_init();
    return isa == 0 || (isa == 1 && __builtin_cpu_supports("avx2")) || (isa == 2 && __builtin_cpu_supports("avx512f"));
}
#else
DEFINE_TILE(generic, , 4)
static const tile_kind tiles[TK_GEMM_ISA_COUNT] = {{tile_generic, 4}, {NULL, 0}, {NULL, 0}};
static bool isa_supported(int isa) { return isa == 0; }
#endif

static void own_gemm(const tile_kind *tile, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
    const int NR = tile->nr;
    float panel[KC * NR_MAX];
    ptrdiff_t a_row = ta ? 1 : lda, a_step = ta ? lda : 1;
    for (int k0 = 0; k0 == 0 || k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        bool from_c = beta != 0.0f || k0 > 0;
        for (int j0 = 0; j0 < N; j0 += NR) {
            int nr = N - j0 < NR ? N - j0 : NR;
            tile_src t = {.a_step = a_step, .b = panel, .b_step = NR};
            /* Whole rows of B not transposed are read where they are; anything
             * else (transposed, or the last columns, padded with zeros) is copied. */
            if (!tb && nr == NR) {
                t.b = B + (size_t)k0 * ldb + j0, t.b_step = ldb;
            } else {
                for (int k = 0; k < kc; k++)
                    for (int j = 0; j < NR; j++)
                        panel[k * NR + j] = j >= nr ? 0.0f
                                            : tb    ? B[(size_t)(j0 + j) * ldb + k0 + k]
                                                    : B[(size_t)(k0 + k) * ldb + j0 + j];
            }
            for (int i0 = 0; i0 < M; i0 += MR) {
                int mr = M - i0 < MR ? M - i0 : MR;
                /* Rows past M read row i0 again; their sums are dropped. */
                for (int r = 0; r < MR; r++)
                    t.a[r] = A + (ptrdiff_t)(i0 + (r < mr ? r : 0)) * a_row + (ptrdiff_t)k0 * a_step;
                float acc[MR * NR_MAX] = {0};
                if (from_c)
                    for (int r = 0; r < mr; r++) memcpy(acc + r * NR, C + (size_t)(i0 + r) * ldc + j0, nr * sizeof(float));
                if (kc > 0) tile->fn(acc, &t, kc);
                for (int r = 0; r < mr; r++) memcpy(C + (size_t)(i0 + r) * ldc + j0, acc + r * NR, nr * sizeof(float));
            }
        }
    }
}

int tk_sgemm_own_isa(int isa, bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
    if (isa < 0 || isa >= TK_GEMM_ISA_COUNT || !isa_supported(isa)) return -1;
    own_gemm(&tiles[isa], trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
    return 0;
}

static tk_gemm_kind kind_from_env(bool *known) {
    const char *v = getenv("TICKET_GEMM");
    *known = true;
    if (!v || !*v || !strcmp(v, "blas")) return TK_GEMM_BLAS;
    if (!strcmp(v, "own")) return TK_GEMM_OWN;
    *known = false;
    return TK_GEMM_BLAS;
}

int tk_gemm_check_env(tk_error *err) {
    bool known;
    kind_from_env(&known);
    if (!known)
        return tk_fail(err, "environment variable TICKET_GEMM is '%s': it must be 'blas' (OpenBLAS, the default) "
                            "or 'own' (the same bits on every CPU); unset it or set one of those",
                       getenv("TICKET_GEMM"));
    return 0;
}

/* Read once, by whichever thread multiplies first: a process never mixes the
 * two. An unknown value was refused by tk_gemm_check_env at start. */
static pthread_once_t chosen = PTHREAD_ONCE_INIT;
static tk_gemm_kind kind;
static const tile_kind *own_tile;

static void choose(void) {
    bool known;
    kind = kind_from_env(&known);
    for (int isa = TK_GEMM_ISA_COUNT - 1; isa >= 0; isa--)
        if (isa_supported(isa)) {
            own_tile = &tiles[isa];
            break;
        }
}

tk_gemm_kind tk_gemm_kind_in_use(void) {
    pthread_once(&chosen, choose);
    return kind;
}

void tk_sgemm(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc) {
    if (tk_gemm_kind_in_use() == TK_GEMM_OWN) {
        own_gemm(own_tile, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                1.0f, A, lda, B, ldb, beta, C, ldc);
}
