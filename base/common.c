/* common.c - error formatting, checked allocation, name suggestions. */
#define _POSIX_C_SOURCE 200809L
#include "tk_common.h"

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail_kind(tk_error *err, tk_error_kind kind, const char *fmt, va_list ap) {
    if (err) {
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        err->kind = kind;
    }
    return -1;
}

int tk_fail(tk_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fail_kind(err, TK_ERR_INPUT, fmt, ap);
    va_end(ap);
    return -1;
}

int tk_fail_system(tk_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fail_kind(err, TK_ERR_SYSTEM, fmt, ap);
    va_end(ap);
    return -1;
}

int tk_exit_code(const tk_error *err) { return err->kind == TK_ERR_SYSTEM ? 1 : 2; }

int tk_fail_prefix(tk_error *err, const char *fmt, ...) {
    if (err) {
        char prefix[1024], old[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        snprintf(err->msg, sizeof err->msg, "%s%s", prefix, old);
    }
    return -1;
}

void tk_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "ticket: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    abort();
}

void *tk_malloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "ticket: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
        abort();
    }
    return p;
}

void *tk_realloc_at(void *p, size_t n, const char *file, int line) {
    void *grown = realloc(p, n ? n : 1);
    if (!grown) {
        fprintf(stderr, "ticket: out of memory growing an array to %zu bytes at %s:%d\n", n, file, line);
        abort();
    }
    return grown;
}

void *tk_calloc_at(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "ticket: out of memory allocating %zu x %zu bytes at %s:%d\n", n, size, file, line);
        abort();
    }
    return p;
}

void *tk_alloc_aligned_at(size_t n, const char *file, int line) {
    size_t rounded = (n + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        fprintf(stderr, "ticket: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
        abort();
    }
    memset(p, 0, rounded ? rounded : 64);
    return p;
}

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 64;
    int prev[64], cur[64];
    for (int j = 0; j <= lb; j++) prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

const char *tk_nearest(const char *word, const char *const *candidates, int n) {
    const char *best = NULL;
    int best_d = 1 << 30;
    /* A short form of a longer name ("lenet" for "lenet_300_100") is the
     * likeliest intent, however far apart the two are by edit distance. */
    size_t len = strlen(word);
    for (int i = 0; i < n && len >= 3; i++)
        if (!strncmp(word, candidates[i], len)) return candidates[i];
    for (int i = 0; i < n; i++) {
        int d = edit_distance(word, candidates[i]);
        if (d < best_d) best_d = d, best = candidates[i];
    }
    /* A suggestion further than half the word away is noise, not help. */
    int limit = (int)strlen(word) / 2 + 1;
    if (limit < 3) limit = 3;
    return best_d <= limit ? best : NULL;
}

int tk_fail_unknown(tk_error *err, const char *what, const char *shown, const char *name, const char *const *names,
                    int n) {
    char valid[1024];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", names[i]);
        TK_ASSERT(w >= 0 && (size_t)w < sizeof valid - len);
        len += (size_t)w;
    }
    const char *near = tk_nearest(name, names, n);
    if (near) return tk_fail(err, "unknown %s '%s' (did you mean '%s'? valid: %s)", what, shown, near, valid);
    return tk_fail(err, "unknown %s '%s' (valid: %s)", what, shown, valid);
}

int tk_parse_name(const char *what, const char *name, const char *const *names, int n, int *index, tk_error *err) {
    TK_ASSERT(name && n > 0);
    for (int i = 0; i < n; i++)
        if (!strcmp(name, names[i])) {
            *index = i;
            return 0;
        }
    return tk_fail_unknown(err, what, name, name, names, n);
}

int tk_parse_row_name(const char *what, const char *name, const char *const *first_name, size_t row_size, int n,
                      int *index, tk_error *err) {
    const char *names[64];
    TK_ASSERT(n > 0 && n <= TK_ARRAY_LEN(names));
    for (int i = 0; i < n; i++) names[i] = *(const char *const *)((const char *)first_name + (size_t)i * row_size);
    return tk_parse_name(what, name, names, n, index, err);
}

bool tk_whole_in(double v, int64_t lo, int64_t hi) {
    TK_ASSERT(lo <= hi && lo >= -TK_WHOLE_MAX && hi <= TK_WHOLE_MAX);
    /* The comparisons fail for NaN; inside the range the cast is defined. */
    return v >= (double)lo && v <= (double)hi && v == (double)(int64_t)v;
}

bool tk_fits_float(double v) { return v >= -FLT_MAX && v <= FLT_MAX; }

double tk_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
