/* test_synthetic.c - the synthetic dataset: same seed same bytes, shapes,
 * class balance, classes that differ but not trivially, the train/test
 * relation, and the "synthetic:..." path syntax with its errors. */
#include "check.h"
#include "tk_common.h"
#include "tk_data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern const tk_format tk_format_synthetic;

static size_t image_bytes(const tk_dataset *d) { return (size_t)d->C * (size_t)d->H * (size_t)d->W; }

static void test_deterministic(void) {
    tk_dataset a, b, c, small;
    CHECK(tk_synthetic_make(300, 3, 9, 7, 4, 42, &a) == 0);
    CHECK(tk_synthetic_make(300, 3, 9, 7, 4, 42, &b) == 0);
    CHECK(tk_synthetic_make(300, 3, 9, 7, 4, 43, &c) == 0);
    CHECK(tk_synthetic_make(100, 3, 9, 7, 4, 42, &small) == 0);
    size_t bytes = 300 * image_bytes(&a);
    CHECK(!memcmp(a.images, b.images, bytes) && !memcmp(a.labels, b.labels, 300 * sizeof(int32_t)));
    /* Another seed draws other templates and noise. */
    size_t same = 0;
    for (size_t k = 0; k < bytes; k++) same += a.images[k] == c.images[k];
    CHECK(same < bytes / 20);
    /* Sample i does not depend on n. */
    CHECK(!memcmp(small.images, a.images, 100 * image_bytes(&a)));
    tk_dataset_free(&a);
    tk_dataset_free(&b);
    tk_dataset_free(&c);
    tk_dataset_free(&small);
}

static void test_shapes_and_balance(void) {
    tk_dataset d;
    CHECK(tk_synthetic_make(1003, 2, 5, 13, 10, 1, &d) == 0);
    CHECK(d.n == 1003 && d.C == 2 && d.H == 5 && d.W == 13 && d.classes == 10);
    CHECK(d.class_names == NULL);
    int counts[10] = {0}, out_of_range = 0;
    for (int i = 0; i < d.n; i++) {
        if (d.labels[i] < 0 || d.labels[i] >= 10) out_of_range++;
        else counts[d.labels[i]]++;
    }
    CHECK(out_of_range == 0);
    for (int c = 0; c < 10; c++) CHECK(counts[c] == (c < 3 ? 101 : 100));
    /* Noise uses the whole byte range, not a sliver of it. */
    int lo = 255, hi = 0;
    for (size_t k = 0; k < (size_t)d.n * image_bytes(&d); k++) {
        if (d.images[k] < lo) lo = d.images[k];
        if (d.images[k] > hi) hi = d.images[k];
    }
    CHECK(lo < 20 && hi > 235);
    tk_dataset_free(&d);
    tk_dataset empty;
    CHECK(tk_synthetic_make(0, 1, 4, 4, 2, 1, &empty) == 0 && empty.n == 0);
    tk_dataset_free(&empty);
    CHECK(tk_synthetic_make(-1, 1, 4, 4, 2, 1, &d) == -1 && d.images == NULL);
    CHECK(tk_synthetic_make(10, 0, 4, 4, 2, 1, &d) == -1);
    CHECK(tk_synthetic_make(10, 1, 4, 4, 0, 1, &d) == -1);
    CHECK(tk_synthetic_make(1 << 30, 3, 1024, 1024, 2, 1, &d) == -1);
}

/* Per-class mean images over samples [from, to) of d. */
static double *class_means(const tk_dataset *d, int from, int to) {
    size_t px = image_bytes(d);
    double *mean = calloc((size_t)d->classes * px, sizeof(double));
    int *count = calloc((size_t)d->classes, sizeof(int));
    for (int i = from; i < to; i++) {
        count[d->labels[i]]++;
        for (size_t k = 0; k < px; k++) mean[(size_t)d->labels[i] * px + k] += d->images[(size_t)i * px + k];
    }
    for (int c = 0; c < d->classes; c++)
        for (size_t k = 0; k < px; k++) mean[(size_t)c * px + k] /= count[c] ? count[c] : 1;
    free(count);
    return mean;
}

static double mean_abs_diff(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t k = 0; k < n; k++) s += a[k] > b[k] ? a[k] - b[k] : b[k] - a[k];
    return s / (double)n;
}

/* The classes have distinct templates: two halves of the same class agree
 * far better than two classes do. */
static void test_classes_differ(void) {
    tk_dataset d;
    CHECK(tk_synthetic_make(20000, 1, 28, 28, 10, 5, &d) == 0);
    size_t px = image_bytes(&d);
    double *first = class_means(&d, 0, 10000), *second = class_means(&d, 10000, 20000);
    double worst_within = 0, closest_between = 1e9;
    for (int a = 0; a < 10; a++) {
        double w = mean_abs_diff(first + a * px, second + a * px, px);
        if (w > worst_within) worst_within = w;
        for (int b = 0; b < 10; b++) {
            if (a == b) continue;
            double between = mean_abs_diff(first + a * px, second + b * px, px);
            if (between < closest_between) closest_between = between;
        }
    }
    printf("  class means: within %.2f, between %.2f grey levels\n", worst_within, closest_between);
    CHECK(worst_within < 3);
    CHECK(closest_between > 2 * worst_within);
    free(first);
    free(second);
    tk_dataset_free(&d);
}

/* Learnable but not trivially: class means from the train split classify
 * most test images right, but not all. */
static void test_nearest_mean_accuracy(void) {
    tk_dataset train, test;
    tk_error err = {0};
    CHECK(tk_format_synthetic.load("synthetic:1,28,28,10,2000,500", TK_SPLIT_TRAIN, NULL, &train, &err) == 0);
    CHECK(tk_format_synthetic.load("synthetic:1,28,28,10,2000,500", TK_SPLIT_TEST, NULL, &test, &err) == 0);
    if (train.n != 2000 || test.n != 500) {
        CHECK(!"split sizes");
        return;
    }
    size_t px = image_bytes(&train);
    double *mean = class_means(&train, 0, train.n);
    int right = 0;
    for (int i = 0; i < test.n; i++) {
        int best = -1;
        double best_d = 1e300;
        for (int c = 0; c < 10; c++) {
            double dist = 0;
            for (size_t k = 0; k < px; k++) {
                double diff = test.images[(size_t)i * px + k] - mean[(size_t)c * px + k];
                dist += diff * diff;
            }
            if (dist < best_d) best_d = dist, best = c;
        }
        right += best == test.labels[i];
    }
    double acc = right / 500.0;
    printf("  nearest class mean on synthetic:1,28,28,10,2000,500: %.1f%% test accuracy\n", 100 * acc);
    CHECK(acc > 0.7 && acc < 0.97);
    free(mean);
    tk_dataset_free(&train);
    tk_dataset_free(&test);
}

/* The test split is the samples after the train split: same templates,
 * other noise; the optional seed field is the generator's seed. */
static void test_format_splits(void) {
    CHECK(tk_format_synthetic.detect("synthetic:1,28,28,10,2000,500") == 100);
    CHECK(tk_format_synthetic.detect("synthetic") == 0);
    CHECK(tk_format_synthetic.detect("data/synthetic:1") == 0);
    tk_dataset all, train, test;
    tk_error err = {0};
    CHECK(tk_synthetic_make(50, 3, 6, 6, 4, 7, &all) == 0);
    CHECK(tk_format_synthetic.load("synthetic:3,6,6,4,30,20,7", TK_SPLIT_TRAIN, NULL, &train, &err) == 0);
    CHECK(tk_format_synthetic.load("synthetic:3,6,6,4,30,20,7", TK_SPLIT_TEST, NULL, &test, &err) == 0);
    CHECK(train.n == 30 && test.n == 20 && train.C == 3 && test.H == 6 && test.classes == 4);
    size_t px = image_bytes(&all);
    if (train.n == 30 && test.n == 20) {
        CHECK(!memcmp(train.images, all.images, 30 * px));
        CHECK(!memcmp(test.images, all.images + 30 * px, 20 * px));
        CHECK(!memcmp(test.labels, all.labels + 30, 20 * sizeof(int32_t)));
    }
    CHECK(!strcmp(train.name, "synthetic"));
    tk_dataset_free(&all);
    tk_dataset_free(&train);
    tk_dataset_free(&test);
    /* Without a seed field the seed is 0. */
    tk_dataset zero, implicit;
    CHECK(tk_synthetic_make(5, 1, 4, 4, 2, 0, &zero) == 0);
    CHECK(tk_format_synthetic.load("synthetic:1,4,4,2,5,0", TK_SPLIT_TRAIN, NULL, &implicit, &err) == 0);
    CHECK(implicit.n == 5 && !memcmp(zero.images, implicit.images, 5 * 16));
    tk_dataset_free(&zero);
    tk_dataset_free(&implicit);
}

static void expect_error(const char *path, tk_split split, const char *needle) {
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_synthetic.load(path, split, NULL, &d, &err) == -1);
    CHECK(d.images == NULL && d.n == 0);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, needle);
}

static void test_bad_paths(void) {
    expect_error("synthetic:1,28,x,10,5,5", TK_SPLIT_TRAIN, "field 3 (W) is \"x\", expected a whole number");
    expect_error("synthetic:1,28,-28,10,5,5", TK_SPLIT_TRAIN, "field 3 (W) is \"-28\"");
    expect_error("synthetic:1,28,28,10,5,", TK_SPLIT_TRAIN, "field 6 (n_test) is \"\"");
    expect_error("synthetic:1,28,28", TK_SPLIT_TRAIN, "3 fields, expected 6 or 7");
    expect_error("synthetic:1,28,28,10,5,5,1,2", TK_SPLIT_TRAIN, "more than 7 fields");
    expect_error("synthetic:0,28,28,10,5,5", TK_SPLIT_TRAIN, "C is 0, expected 1 ..");
    expect_error("synthetic:1,28,28,99999999999,5,5", TK_SPLIT_TRAIN, "classes is 99999999999");
    expect_error("synthetic:3,4096,4096,10,100000,0", TK_SPLIT_TRAIN, "need more than 16 GiB");
    expect_error("synthetic:1,28,28,10,5,5", TK_SPLIT_EXTRA, "train and test splits only, not extra");
    expect_error("synthetic:1,28,x,10,5,5", TK_SPLIT_TEST, "syntax synthetic:C,H,W,classes,n_train,n_test[,seed]");
}

int main(void) {
    RUN(test_deterministic);
    RUN(test_shapes_and_balance);
    RUN(test_classes_differ);
    RUN(test_nearest_mean_accuracy);
    RUN(test_format_splits);
    RUN(test_bad_paths);
    CHECK_MAIN_END();
}
