/* check.h - the test harness every tests/test_*.c program uses.
 *
 * A test program is a main() that calls RUN(fn) for each test function. Each
 * test prints "ok NAME" or "FAIL NAME" with the failed checks above it; the
 * runner (tests/run.sh) counts those lines. A crash shows up as a missing "ok". */
#ifndef TK_CHECK_H
#define TK_CHECK_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

extern int check_failures_in_test; /* reset by RUN */
extern int check_tests_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stdout, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures_in_test++;                                                \
        }                                                                            \
    } while (0)

/* |a - b| <= tol * max(1, |b|): relative for large values, absolute near zero. */
#define CHECK_NEAR(a, b, tol)                                                                    \
    do {                                                                                         \
        double check_a_ = (double)(a), check_b_ = (double)(b);                                    \
        double check_s_ = fabs(check_b_) > 1.0 ? fabs(check_b_) : 1.0;                            \
        if (!(fabs(check_a_ - check_b_) <= (tol) * check_s_)) {                                   \
            fprintf(stdout, "  %s:%d: %s = %.9g, expected %s = %.9g (tol %g)\n", __FILE__, __LINE__, \
                    #a, check_a_, #b, check_b_, (double)(tol));                                   \
            check_failures_in_test++;                                                            \
        }                                                                                        \
    } while (0)

/* Checks that `haystack` contains `needle` (for error messages). */
#define CHECK_CONTAINS(haystack, needle)                                                       \
    do {                                                                                       \
        const char *check_h_ = (haystack), *check_n_ = (needle);                                \
        if (!check_h_ || !strstr(check_h_, check_n_)) {                                         \
            fprintf(stdout, "  %s:%d: expected \"%s\" in: %s\n", __FILE__, __LINE__, check_n_,  \
                    check_h_ ? check_h_ : "(null)");                                           \
            check_failures_in_test++;                                                          \
        }                                                                                      \
    } while (0)

#define RUN(fn)                                                       \
    do {                                                              \
        check_failures_in_test = 0;                                   \
        fn();                                                         \
        if (check_failures_in_test) {                                 \
            printf("FAIL %s\n", #fn);                                 \
            check_tests_failed++;                                     \
        } else {                                                      \
            printf("ok %s\n", #fn);                                   \
        }                                                             \
        fflush(stdout);                                               \
    } while (0)

#define CHECK_MAIN_END() return check_tests_failed ? 1 : 0

/* ---- support (tests/support.c) */

/* Golden fixtures written by the tests/golden/gen_NAME.py scripts: named float32 arrays. */
typedef struct golden golden;
golden *golden_open(const char *path); /* aborts the test program if missing */
/* The array called `name`; *n gets its length. Aborts if absent. */
const float *golden_get(const golden *g, const char *name, size_t *n);
void golden_close(golden *g);

/* Largest |a-b| / max(|b|, floor) over n values: the "max relative error". */
double max_rel_error(const float *a, const float *b, size_t n, double floor);

/* A float32 result against a reference computed in float64 and stored as
 * float32, for values that are sums of products (GEMM, convolution). Value i
 * sums terms[i] products whose magnitudes add up to mag[i] (sum |a_j b_j|,
 * bias included). Whatever the summation order, blocking or FMA use (so
 * whatever BLAS kernel runs), float32 keeps it within gamma_{terms+1} * mag
 * of the exact sum (Higham, Accuracy and Stability of Numerical Algorithms,
 * 3.1), gamma_n = n u / (1 - n u) with u = 2^-24 (the +1 covers adding the
 * sum into an output buffer, as a GEMM with beta = 1 does); storing the
 * reference rounds it by up to u |ref| more. Returns the worst ratio of |got - ref| to that bound:
 * at most 1 for a correct result, NaN counting as infinitely far. A wrong
 * index or a missing term is off by about mag / terms, far above the bound. */
double float32_bound_ratio(const float *got, const float *ref, const double *mag, const int *terms, size_t n);

/* Finite-difference gradient check. `loss` recomputes a scalar loss from the
 * current contents of x (it must not change anything else). For up to
 * `max_points` indices of x (all when n is small, an evenly spread sample
 * otherwise) compares analytic[i] with the central difference
 * (loss(x+eps) - loss(x-eps)) / 2eps and returns the largest error
 * |a - fd| / max(|a| + |fd|, 1e-2). */
double gradcheck(double (*loss)(void *ctx), void *ctx, float *x, const float *analytic, size_t n, float eps,
                 size_t max_points);

/* ---- files and folders */

/* A fresh empty directory under $TMPDIR for this test; removed by the caller with rm_rf. */
char *test_tmpdir(const char *tag);
void rm_rf(const char *path);
/* dir/name, malloc'd. */
char *path_in(const char *dir, const char *name);
/* Writes bytes to path (aborts on failure). */
void write_file(const char *path, const void *data, size_t n);
/* Keeps the first num/den of the file's bytes, as a download that broke off. */
void cut_file(const char *path, size_t num, size_t den);
/* The whole file as a malloc'd buffer with a NUL after the last byte (so text
 * can be used as a string); *n gets its length. NULL when it cannot be read. */
char *read_whole_file(const char *path, size_t *n);
/* True when both files exist, are non-empty and hold the same bytes; says how
 * they differ otherwise. */
bool same_bytes(const char *a, const char *b);
/* Runs fn(dir) with $TICKET_DATA at a fresh empty dir that is also the
 * working directory (so ./data is absent), then restores both and removes it. */
void with_data_dir(void (*fn)(const char *dir));

/* ---- archives as datasets ship them, written with libarchive */

/* One member of an archive or file of a tree: data == NULL makes a folder. */
typedef struct test_member {
    char name[256];
    uint8_t *data;
    size_t len;
} test_member;
test_member member_text(const char *name, const char *text); /* a copy of text, without its NUL */
test_member member_folder(const char *name);
void free_members(test_member *m, int n);
/* Frees the bytes of *slot and puts `with` in its place. */
void replace_member(test_member *slot, test_member with);

typedef enum archive_kind { ARCHIVE_TAR, ARCHIVE_TAR_GZ, ARCHIVE_ZIP } archive_kind;
/* m[0..n) in that order (aborts on failure). Tars are ustar where the names
 * allow; every member has the same fixed time, so equal input gives equal bytes. */
void write_archive(const char *path, archive_kind kind, const test_member *m, int n);
/* m[0..n) as files under dir, as extracting the archive would leave them. */
void write_tree(const char *dir, const test_member *m, int n);
/* A gzip file of one stream, as gzip(1) writes it. */
void write_gz(const char *path, const void *data, size_t n);

/* ---- datasets */

/* A small learnable dataset in the real IDX format (big-endian headers, magic
 * 0x00000803 for images, 0x00000801 for labels), written uncompressed as
 * dir/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte so that dataset
 * "mnist" finds it with TICKET_DATA=dir. Each class has its own random on/off
 * pixel pattern; images are that pattern plus uniform noise, so a small
 * network separates the classes within a few epochs. Same seed => same bytes. */
void write_idx_dataset(const char *dir, int n_train, int n_test, int H, int W, int classes, uint64_t seed);
/* v as 4 big-endian bytes, as IDX headers store numbers. */
void put_be32(uint8_t *p, uint32_t v);
/* The next number of a fixed pseudo-random sequence: same state, same numbers. */
uint64_t splitmix64(uint64_t *state);

struct tk_dataset;
/* Same size, pixels, labels and class names, and not empty. */
bool same_dataset(const struct tk_dataset *a, const struct tk_dataset *b);

/* ---- the ticket executable */

/* $TICKET_BIN, else build/ticket (tests run from the repository root), as an
 * absolute path; NULL, after saying how to build it, when it is not executable. */
const char *ticket_bin(void);
/* Runs a shell command, captures stdout+stderr into a malloc'd string; returns exit status. */
int run_capture(const char *cmd, char **output);
/* Runs `ticket ARGS` (a shell word list) in folder dir under env(1) with
 * arguments `env` ("NAME='value'", "-u NAME" or ""); returns the exit status
 * and the output (stdout + stderr) in *out, malloc'd (NULL: dropped). */
int ticket_output(const char *dir, const char *env, const char *args, char **out);
/* Runs it and checks, as checks of the calling test, that it exits with
 * `status` and prints every needle of the list, which ends at the first NULL;
 * shows the command and its output when not. */
void check_ticket(const char *dir, const char *env, const char *args, int status, const char *const *needles);
#define CHECK_TICKET(dir, env, args, status, ...) \
    check_ticket((dir), (env), (args), (status), (const char *const[]){__VA_ARGS__, NULL})
/* Starts ticket_bin() with argv args ("ticket", ..., NULL), stdout and stderr
 * going to `log`; returns its pid (-1 when it cannot start). */
pid_t spawn_ticket(char *const args[], const char *log);
/* How spawn_ticket_how starts it: always as the leader of a process group of
 * its own (so that a crash point's SIGKILL to its group, or a kill of the
 * group, reaches its workers and not the test); in folder cwd (NULL: here);
 * with TICKET_CRASH_AT=crash_at (NULL: as inherited; see tk_file.h); with
 * RLIMIT_FSIZE at max_file_bytes and SIGXFSZ ignored, so that writing past it
 * fails as on a full disk (0: no limit). */
typedef struct ticket_child {
    const char *cwd, *crash_at;
    long long max_file_bytes;
} ticket_child;
pid_t spawn_ticket_how(const ticket_child *how, char *const args[], const char *log);
/* Runs it to the end: the wait status (-1 when it could not start). */
int run_ticket_how(const ticket_child *how, char *const args[], const char *log);
/* Runs it to the end: its exit status (-1 when it did not exit), showing the log when not 0. */
int run_ticket(char *const args[], const char *log);

#endif
