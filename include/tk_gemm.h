/* tk_gemm.h - the engine's one matrix product, on OpenBLAS or on our own code.
 *
 * C[M,N] = (beta ? C : 0) + op(A)[M,K] . op(B)[K,N], row-major, where op
 * transposes when asked; beta is 0 or 1 (layers accumulate gradients).
 *
 * Two implementations, chosen once per process by the environment variable
 * TICKET_GEMM:
 *  - `blas` (the default): OpenBLAS's sgemm, the fastest here. Its kernels
 *    sum in an order that depends on the core type OpenBLAS picks for the CPU
 *    (and on its thread count), so results differ in their last bits from
 *    one CPU to another.
 *  - `own`: every C[i,j] is one sum over k in increasing order, each product
 *    rounded and then added (no FMA), in AVX-512, AVX2 and portable builds
 *    that do exactly the same float operations per element. Results are the
 *    same bits on every x86-64 CPU and for every thread count, at a cost in
 *    speed (`ticket bench` measures it). Single-threaded: the callers that
 *    need threads split their work above it. */
#ifndef TK_GEMM_H
#define TK_GEMM_H

#include <stdbool.h>

typedef enum { TK_GEMM_BLAS, TK_GEMM_OWN, TK_GEMM_COUNT } tk_gemm_kind;
extern const char *const tk_gemm_kind_names[]; /* [TK_GEMM_COUNT] */

/* The implementation this process uses (TICKET_GEMM, read at the first call). */
tk_gemm_kind tk_gemm_kind_in_use(void);
/* Checks TICKET_GEMM; fills err and returns -1 for an unknown value. Commands
 * call it at start, so that a typo is an error rather than the default. */
struct tk_error;
int tk_gemm_check_env(struct tk_error *err);

void tk_sgemm(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);

/* The `own` product on one instruction set, for tests that compare them:
 * 0 portable x86-64, 1 AVX2, 2 AVX-512F. Returns -1 (and computes nothing)
 * when this CPU lacks that instruction set. */
#define TK_GEMM_ISA_COUNT 3
extern const char *const tk_gemm_isa_names[]; /* [TK_GEMM_ISA_COUNT] */
int tk_sgemm_own_isa(int isa, bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc);

#endif
