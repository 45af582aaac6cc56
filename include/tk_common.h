/* tk_common.h - errors, checked allocation and invariants shared by every module.
 *
 * Library functions never print and never exit: they return 0 on success or -1
 * on failure and fill a tk_error with a message a user can act on (which file,
 * which field or offset, what was expected, how to fix it). Only main() prints.
 * TK_ASSERT is for internal invariants: a failure there is a bug in ticket. */
#ifndef TK_COMMON_H
#define TK_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define TK_VERSION "0.1.0"

/* Who has to act: TK_ERR_INPUT, the user, by changing what ticket was given
 * (an argument, a config, any file it reads: exit 2); TK_ERR_SYSTEM, the
 * machine refused (a write, a full disk, fork: exit 1), and the same
 * command is to be run again once that is fixed. */
typedef enum tk_error_kind { TK_ERR_INPUT, TK_ERR_SYSTEM } tk_error_kind;

typedef struct tk_error {
    char msg[4096]; /* room for a list of problems, one per line */
    tk_error_kind kind;
} tk_error;

/* Formats into err (if non-NULL), marks it TK_ERR_INPUT and returns -1, so
 * callers can write `return tk_fail(err, "...")`. */
int tk_fail(tk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for an error of the machine (TK_ERR_SYSTEM). */
int tk_fail_system(tk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The process exit code for a failure with err: 2 for input, 1 for system. */
int tk_exit_code(const tk_error *err);

/* Prepends context ("reading foo.ckpt: ") to an error already set; keeps its kind. */
int tk_fail_prefix(tk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void tk_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define TK_ASSERT(e) ((e) ? (void)0 : tk_assert_fail(#e, __FILE__, __LINE__))

/* Allocation that aborts with file:line when memory runs out: running out of
 * memory is not an input error a user can fix field by field. */
void *tk_malloc_at(size_t n, const char *file, int line);
void *tk_calloc_at(size_t n, size_t size, const char *file, int line);
#define tk_malloc(n) tk_malloc_at((n), __FILE__, __LINE__)
#define tk_calloc(n, s) tk_calloc_at((n), (s), __FILE__, __LINE__)
/* realloc that says "out of memory" and stops, as tk_malloc does: for arrays
 * that grow while a file is read or a table is built. */
void *tk_realloc_at(void *p, size_t n, const char *file, int line);
#define tk_realloc(p, n) tk_realloc_at((p), (n), __FILE__, __LINE__)
/* 64-byte aligned, zeroed; release with free(). For arenas fed to BLAS. */
void *tk_alloc_aligned_at(size_t n, const char *file, int line);
#define tk_alloc_aligned(n) tk_alloc_aligned_at((n), __FILE__, __LINE__)

/* The candidate closest to `word` by edit distance, for "did you mean" hints;
 * NULL when nothing is reasonably close. */
const char *tk_nearest(const char *word, const char *const *candidates, int n);

/* The one form in which ticket refuses an unknown name, key or value:
 * "unknown <what> '<shown>' (did you mean 'x'? valid: a, b, c)", the nearest
 * of names[0..n) to `name` suggested. `shown` is what the user wrote where
 * (a key's path, "train.lenght"), `name` the word itself. */
int tk_fail_unknown(tk_error *err, const char *what, const char *shown, const char *name, const char *const *names,
                    int n);

/* The index of `name` in names[0..n); otherwise fails with tk_fail_unknown's message. */
int tk_parse_name(const char *what, const char *name, const char *const *names, int n, int *index, tk_error *err);

/* tk_parse_name over the `name` member of a table's rows (controls,
 * backends, pruning strategies): TK_PARSE_ROW("control", name, tk_controls,
 * TK_CONTROL_COUNT, &k, err). */
int tk_parse_row_name(const char *what, const char *name, const char *const *first_name, size_t row_size, int n,
                      int *index, tk_error *err);
#define TK_PARSE_ROW(what, name, table, n, index, err) \
    tk_parse_row_name((what), (name), &(table)[0].name, sizeof(table)[0], (n), (index), (err))

/* Numbers read from files. Converting a double to an integer type that
 * cannot hold it is undefined behaviour (and to float, for a finite double
 * beyond FLT_MAX), so every such number is checked with these before a cast.
 * tk_whole_in: v is a whole number in [lo, hi] (NaN, infinities and
 * fractions are not); |lo| and |hi| at most 2^53, where doubles are exact.
 * tk_fits_float: v is finite and stays finite as a float. */
bool tk_whole_in(double v, int64_t lo, int64_t hi);
bool tk_fits_float(double v);
#define TK_WHOLE_MAX ((int64_t)1 << 53)

/* Wall-clock seconds from a monotonic clock. */
double tk_now(void);

#define TK_ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Marks a hot loop of our own (BLAS has its own dispatch): the compiler
 * builds it twice, for AVX2 and for any x86-64, and the loader picks one when
 * the program starts, so the default build stays portable yet uses 256-bit
 * vectors where the CPU has them. Both give the same bits: the Makefile turns
 * off FMA contraction and neither version reorders a sum. TK_NO_TARGET_CLONES
 * (the fuzz build) turns it off: clang 14 makes the resolver of a static
 * clone a global symbol, so two files' clones of one name clash at link. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(TK_NO_TARGET_CLONES)
#define TK_HOT __attribute__((target_clones("avx2", "default")))
/* The same with an AVX-512 build too, for loops written on 16-wide vectors
 * (the sparse kernels), where it halves the instructions. */
#define TK_HOT_WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TK_HOT
#define TK_HOT_WIDE
#endif

#endif
