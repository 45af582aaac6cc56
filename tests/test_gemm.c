/* test_gemm.c - the engine's matrix product: the own product gives the same
 * bits on every instruction set, both products stay within the float32 bound
 * of the exact answer, and a bad TICKET_GEMM is refused. */
#include "check.h"
#include "tk_common.h"
#include "tk_gemm.h"
#include "tk_provenance.h"
#include "tk_rng.h"

typedef struct gemm_case {
    const char *name;
    bool ta, tb;
    int M, N, K;
    float beta;
} gemm_case;

/* Every transpose, row and column counts that leave partial tiles (6 rows,
 * 4 to 16 columns), depths past one block of 256, an empty depth, beta 0 and 1. */
static const gemm_case cases[] = {
    {"nn", false, false, 13, 37, 300, 0.0f}, {"nt", false, true, 7, 21, 513, 1.0f},
    {"tn", true, false, 31, 5, 64, 1.0f},    {"tt", true, true, 6, 16, 256, 0.0f},
    {"tiny", false, false, 1, 1, 1, 1.0f},   {"lenet_fc1", false, true, 60, 300, 784, 1.0f},
    {"depth0", false, false, 5, 9, 0, 1.0f}, {"depth0_beta0", true, false, 5, 9, 0, 0.0f},
};

typedef struct operands {
    float *A, *B, *C0;
    int lda, ldb;
} operands;

static float *randn(size_t n, tk_rng *rng) {
    float *a = malloc((n + 1) * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = tk_rng_normal(rng);
    return a;
}

static operands operands_for(const gemm_case *c, uint64_t seed) {
    tk_rng rng;
    tk_rng_seed(&rng, seed, TK_STREAM_INIT);
    operands o = {.lda = c->ta ? c->M : c->K, .ldb = c->tb ? c->K : c->N};
    o.A = randn((size_t)c->M * c->K, &rng), o.B = randn((size_t)c->K * c->N, &rng);
    o.C0 = randn((size_t)c->M * c->N, &rng);
    return o;
}

static void free_operands(operands *o) { free(o->A), free(o->B), free(o->C0); }

static float *copy_of(const float *a, size_t n) {
    float *b = malloc((n + 1) * sizeof *b);
    memcpy(b, a, n * sizeof *b);
    return b;
}

static void test_own_same_bits_on_every_isa(void) {
    for (int i = 0; i < TK_ARRAY_LEN(cases); i++) {
        const gemm_case *c = &cases[i];
        operands o = operands_for(c, 100 + i);
        size_t nc = (size_t)c->M * c->N;
        float *ref = copy_of(o.C0, nc);
        CHECK(tk_sgemm_own_isa(0, c->ta, c->tb, c->M, c->N, c->K, o.A, o.lda, o.B, o.ldb, c->beta, ref, c->N) == 0);
        for (int isa = 1; isa < TK_GEMM_ISA_COUNT; isa++) {
            float *C = copy_of(o.C0, nc);
            if (tk_sgemm_own_isa(isa, c->ta, c->tb, c->M, c->N, c->K, o.A, o.lda, o.B, o.ldb, c->beta, C, c->N)) {
                printf("  %s: this CPU has no %s; not compared\n", c->name, tk_gemm_isa_names[isa]);
            } else if (memcmp(C, ref, nc * sizeof *C)) {
                printf("  %s: %s differs from %s\n", c->name, tk_gemm_isa_names[isa], tk_gemm_isa_names[0]);
                CHECK(!"the own product gives the same bits on every instruction set");
            }
            free(C);
        }
        free(ref), free_operands(&o);
    }
}

/* The exact answer in double, with what float32_bound_ratio needs: the sum of
 * the terms' magnitudes (C's own value counts as one term when beta is 1). */
static void exact_product(const gemm_case *c, const operands *o, float *exact, double *mag, int *terms) {
    for (int i = 0; i < c->M; i++)
        for (int j = 0; j < c->N; j++) {
            double s = c->beta ? o->C0[(size_t)i * c->N + j] : 0, m = fabs(s);
            for (int k = 0; k < c->K; k++) {
                double a = c->ta ? o->A[(size_t)k * o->lda + i] : o->A[(size_t)i * o->lda + k];
                double b = c->tb ? o->B[(size_t)j * o->ldb + k] : o->B[(size_t)k * o->ldb + j];
                s += a * b, m += fabs(a * b);
            }
            exact[(size_t)i * c->N + j] = (float)s;
            mag[(size_t)i * c->N + j] = m;
            terms[(size_t)i * c->N + j] = c->K + (c->beta ? 1 : 0);
        }
}

static void test_within_float32_bound(void) {
    for (int i = 0; i < TK_ARRAY_LEN(cases); i++) {
        const gemm_case *c = &cases[i];
        operands o = operands_for(c, 200 + i);
        size_t nc = (size_t)c->M * c->N;
        float *exact = malloc((nc + 1) * sizeof *exact);
        double *mag = malloc((nc + 1) * sizeof *mag);
        int *terms = malloc((nc + 1) * sizeof *terms);
        exact_product(c, &o, exact, mag, terms);
        float *own = copy_of(o.C0, nc), *blas = copy_of(o.C0, nc);
        tk_sgemm_own_isa(0, c->ta, c->tb, c->M, c->N, c->K, o.A, o.lda, o.B, o.ldb, c->beta, own, c->N);
        tk_sgemm(c->ta, c->tb, c->M, c->N, c->K, o.A, o.lda, o.B, o.ldb, c->beta, blas, c->N);
        double r_own = float32_bound_ratio(own, exact, mag, terms, nc);
        double r_blas = float32_bound_ratio(blas, exact, mag, terms, nc);
        if (r_own > 1 || r_blas > 1)
            printf("  %s: error / float32 bound: own %.2g, %s %.2g\n", c->name, r_own,
                   tk_gemm_kind_names[tk_gemm_kind_in_use()], r_blas);
        CHECK(r_own <= 1);
        CHECK(r_blas <= 1);
        free(exact), free(mag), free(terms), free(own), free(blas), free_operands(&o);
    }
}

static void test_bad_env_refused(void) {
    char *cwd = test_tmpdir("gemm");
    CHECK_TICKET(cwd, "TICKET_GEMM=fast", "models", 2, "TICKET_GEMM is 'fast'", "'blas'", "'own'");
    CHECK_TICKET(cwd, "TICKET_GEMM=own", "models", 0, "lenet_300_100");
    rm_rf(cwd);
    free(cwd);
}

/* Rows made by the own product under two OpenBLAS kernels came from one
 * product, so a study mixing them mixes nothing; BLAS rows do not. */
static void test_own_rows_are_one_kernel(void) {
    tk_provenance a, b;
    tk_provenance_collect(&a);
    b = a;
    snprintf(a.field[TK_PROV_BLAS_CORE], TK_PROVENANCE_TEXT, "Prescott");
    snprintf(b.field[TK_PROV_BLAS_CORE], TK_PROVENANCE_TEXT, "SkylakeX");
    snprintf(a.field[TK_PROV_GEMM], TK_PROVENANCE_TEXT, "blas");
    snprintf(b.field[TK_PROV_GEMM], TK_PROVENANCE_TEXT, "blas");
    CHECK(!tk_provenance_same_kernel(&a, &b));
    snprintf(a.field[TK_PROV_GEMM], TK_PROVENANCE_TEXT, "own");
    CHECK(!tk_provenance_same_kernel(&a, &b));
    snprintf(b.field[TK_PROV_GEMM], TK_PROVENANCE_TEXT, "own");
    CHECK(tk_provenance_same_kernel(&a, &b));
}

int main(void) {
    RUN(test_own_same_bits_on_every_isa);
    RUN(test_within_float32_bound);
    RUN(test_bad_env_refused);
    RUN(test_own_rows_are_one_kernel);
    CHECK_MAIN_END();
}
