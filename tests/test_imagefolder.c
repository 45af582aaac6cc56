/* test_imagefolder.c - image datasets as people download them, written here
 * with the real libraries: JPEG with libjpeg, PNG with libpng, .zip, .tar and
 * .tar.gz with libarchive. Layouts: generic split/class folders, class folders
 * alone, Tiny ImageNet 200, Places365; colour oddities; resizing; bad input;
 * and ticket's own PNG encoder, decoded back. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "tk_data.h"
#include "tk_file.h"
#include "tk_image.h"

#include <dirent.h>
#include <jpeglib.h>
#include <png.h>
#include <sys/stat.h>

extern const tk_format tk_format_imagefolder;

/* ---- writing images */

static void die(const char *what, const char *path) {
    printf("  %s: %s\nFAIL setup\n", what, path);
    exit(1);
}

/* Makes the folders above path. */
static void parent_dirs(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return;
    *slash = 0;
    if (tk_mkdirs(dir, NULL)) die("cannot create folder", dir);
}

/* PNG of any type: pixels are rows of bytes as PNG stores them (16-bit big-endian). */
static void write_png(const char *path, int w, int h, int color_type, int depth, const uint8_t *pixels,
                      const png_color *palette, int n_palette, const uint8_t *trns, int n_trns, bool interlaced) {
    parent_dirs(path);
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png))) die("cannot write PNG", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, n_palette);
    if (trns) png_set_tRNS(png, info, trns, n_trns, NULL);
    png_write_info(png, info);
    int channels = color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                   : color_type == PNG_COLOR_TYPE_GRAY_ALPHA                                 ? 2
                                                                                             : 1;
    size_t row = ((size_t)w * (size_t)channels * (size_t)depth + 7) / 8;
    png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)h);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)pixels + row * (size_t)y;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
}

static void write_png_rgb(const char *path, int w, int h, const uint8_t *rgb) {
    write_png(path, w, h, PNG_COLOR_TYPE_RGB, 8, rgb, NULL, 0, NULL, 0, false);
}

/* JPEG from interleaved samples of `components` channels in colour space
 * `in`, stored as `stored` (JCS_UNKNOWN: libjpeg's default for `in`). */
typedef struct jpeg_style {
    J_COLOR_SPACE stored;
    bool adobe_marker, progressive;
} jpeg_style;

static void write_jpeg_as(const char *path, int w, int h, int components, J_COLOR_SPACE in, const uint8_t *pixels,
                          int quality, jpeg_style style) {
    parent_dirs(path);
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write JPEG", path);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = in;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (style.stored != JCS_UNKNOWN) jpeg_set_colorspace(&c, style.stored);
    if (style.progressive) jpeg_simple_progression(&c);
    c.write_Adobe_marker = style.adobe_marker;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)pixels + (size_t)c.next_scanline * (size_t)w * (size_t)components;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static void write_jpeg_rgb(const char *path, int w, int h, const uint8_t *rgb) {
    write_jpeg_as(path, w, h, 3, JCS_RGB, rgb, 95, (jpeg_style){JCS_UNKNOWN, false, false});
}

/* A smooth RGB image (JPEG keeps it within a few levels), different for each k. */
static uint8_t *pattern(int w, int h, int k) {
    uint8_t *p = malloc((size_t)w * (size_t)h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *px = p + ((size_t)y * (size_t)w + (size_t)x) * 3;
            px[0] = (uint8_t)(x * 2 + k * 9);
            px[1] = (uint8_t)(y * 2 + k * 5 + 20);
            px[2] = (uint8_t)(x + y + k * 13);
        }
    return p;
}

static uint8_t *solid(int w, int h, const uint8_t rgb[3]) {
    uint8_t *p = malloc((size_t)w * (size_t)h * 3);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) memcpy(p + 3 * i, rgb, 3);
    return p;
}

/* Largest |decoded - expected| over image i of d, expected interleaved RGB at d's size. */
static int max_diff(const tk_dataset *d, int i, const uint8_t *rgb) {
    size_t hw = (size_t)d->H * (size_t)d->W;
    const uint8_t *img = d->images + (size_t)i * 3 * hw;
    int worst = 0;
    for (int c = 0; c < 3; c++)
        for (size_t k = 0; k < hw; k++) {
            int diff = abs((int)img[(size_t)c * hw + k] - (int)rgb[3 * k + (size_t)c]);
            if (diff > worst) worst = diff;
        }
    return worst;
}

/* ---- writing archives */

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Appends the tree under dir/rel to m[0..*n) as members "rel/...", folders
 * included; `reverse` takes each folder's entries in reverse name order, so
 * that loading cannot lean on the order of members. */
static void tree_members(const char *dir, const char *rel, bool reverse, test_member **m, int *n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    DIR *d = opendir(path);
    if (!d) die("cannot list", path);
    char *names[256];
    int count = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && count < 256) names[count++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)count, sizeof(char *), cmp_name);
    for (int j = 0; j < count; j++) {
        int i = reverse ? count - 1 - j : j;
        char member[4096], file[8200];
        snprintf(member, sizeof member, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        snprintf(file, sizeof file, "%s/%s", dir, member);
        *m = realloc(*m, sizeof **m * (size_t)(*n + 1));
        test_member *at = &(*m)[(*n)++];
        *at = member_folder(member);
        struct stat st;
        stat(file, &st);
        if (S_ISDIR(st.st_mode)) tree_members(dir, member, reverse, m, n);
        else if (!(at->data = (uint8_t *)read_whole_file(file, &at->len))) die("cannot read", file);
        free(names[i]);
    }
}

/* The tree under dir as an archive, as archivers write one. */
static void archive_tree(const char *out, const char *dir, archive_kind kind, bool reverse) {
    test_member *m = NULL;
    int n = 0;
    tree_members(dir, "", reverse, &m, &n);
    write_archive(out, kind, m, n);
    free_members(m, n);
    free(m);
}

static int load(const char *path, tk_split split, int h, int w, tk_dataset *d, tk_error *err) {
    tk_load_options opt = {.height = h, .width = w};
    return tk_format_imagefolder.load(path, split, &opt, d, err);
}

/* ---- tests */

/* set/train/<class>/ and set/val/<class>/ with PNG and JPEG images, plus the
 * clutter real folders have; a folder, a zip (members in reverse order) and a
 * tar.gz of it load to the same bytes. */
static void test_folder_zip_targz_agree(void) {
    char *dir = test_tmpdir("imgf"), tree[4096], path[8200], zip[4096], tgz[4096], tar[4096];
    snprintf(tree, sizeof tree, "%s/tree", dir);
    /* member, pattern k, PNG? -- in the order loading must give: class (ant, cat, dog), then name */
    const struct {
        const char *name;
        int k;
        bool png;
    } train[] = {{"set/train/ant/a1.png", 1, true},
                 {"set/train/ant/a2.jpg", 2, false},
                 {"set/train/cat/c1.png", 3, true},
                 {"set/train/dog/d1.jpeg", 4, false},
                 {"set/train/dog/d2.PNG", 5, true}},
      val[] = {{"set/val/ant/v1.jpg", 6, false}, {"set/val/cat/v2.png", 7, true}, {"set/val/dog/v3.png", 8, true}};
    const int train_labels[] = {0, 0, 1, 2, 2}, val_labels[] = {0, 1, 2};
    uint8_t *px[9] = {0};
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < (pass ? 3 : 5); i++) {
            const char *name = pass ? val[i].name : train[i].name;
            int k = pass ? val[i].k : train[i].k;
            px[k] = pattern(64, 64, k);
            snprintf(path, sizeof path, "%s/%s", tree, name);
            if (pass ? val[i].png : train[i].png) write_png_rgb(path, 64, 64, px[k]);
            else write_jpeg_rgb(path, 64, 64, px[k]);
        }
    /* Clutter: a README at the top, a macOS resource fork and a .DS_Store. */
    snprintf(path, sizeof path, "%s/set/README.txt", tree);
    write_file(path, "hello", 5);
    snprintf(path, sizeof path, "%s/set/train/cat/._c1.png", tree);
    write_file(path, "\0\5\26\7junk", 8);
    snprintf(path, sizeof path, "%s/set/train/.DS_Store", tree);
    write_file(path, "junk", 4);
    snprintf(zip, sizeof zip, "%s/set.zip", dir);
    snprintf(tgz, sizeof tgz, "%s/set.tar.gz", dir);
    snprintf(tar, sizeof tar, "%s/set.tar", dir);
    archive_tree(zip, tree, ARCHIVE_ZIP, true);
    archive_tree(tgz, tree, ARCHIVE_TAR_GZ, false);
    archive_tree(tar, tree, ARCHIVE_TAR, true);

    const char *sources[4] = {tree, zip, tgz, tar};
    tk_dataset first[2];
    for (int s = 0; s < 4; s++) {
        CHECK(tk_format_imagefolder.detect(sources[s]) > 0);
        for (int split = 0; split < 2; split++) {
            tk_dataset d;
            tk_error err = {0};
            int rc = load(sources[s], (tk_split)split, 0, 0, &d, &err);
            CHECK(rc == 0);
            if (rc) {
                printf("  %s: %s\n", sources[s], err.msg);
                continue;
            }
            int n = split ? 3 : 5;
            CHECK(d.n == n && d.C == 3 && d.H == 64 && d.W == 64 && d.classes == 3);
            CHECK(d.class_names && !strcmp(d.class_names[0], "ant") && !strcmp(d.class_names[2], "dog"));
            for (int i = 0; i < n && d.n == n; i++) {
                int k = split ? val[i].k : train[i].k;
                bool png = split ? val[i].png : train[i].png;
                CHECK(d.labels[i] == (split ? val_labels[i] : train_labels[i]));
                if (png) CHECK(max_diff(&d, i, px[k]) == 0);
                else CHECK(max_diff(&d, i, px[k]) <= 8);
            }
            if (s == 0) first[split] = d;
            else {
                CHECK(same_dataset(&d, &first[split]));
                tk_dataset_free(&d);
            }
        }
    }
    tk_dataset_free(&first[0]);
    tk_dataset_free(&first[1]);
    for (int k = 0; k < 9; k++) free(px[k]);
    rm_rf(dir);
    free(dir);
}

/* Classes are the folder names sorted by byte value; labels are indices in
 * that order. Without split folders everything is train. */
static void test_class_index_rule(void) {
    char *dir = test_tmpdir("imgf"), path[4096];
    /* Created in this order; sorted they are: Mango a a-b apple n02 zebra. */
    const char *const classes[] = {"zebra", "apple", "Mango", "n02", "a-b", "a"};
    const int expected_index[] = {5, 3, 0, 4, 2, 1};
    for (int i = 0; i < 6; i++) {
        uint8_t colour[3] = {(uint8_t)(40 * expected_index[i]), 7, 9};
        uint8_t *px = solid(8, 8, colour);
        /* Class "a" keeps its image one folder deeper: still class "a". */
        snprintf(path, sizeof path, "%s/%s/%simg.png", dir, classes[i], strcmp(classes[i], "a") ? "" : "deeper/");
        write_png_rgb(path, 8, 8, px);
        free(px);
    }
    tk_dataset d;
    tk_error err = {0};
    int rc = load(dir, TK_SPLIT_TRAIN, 8, 8, &d, &err);
    CHECK(rc == 0);
    if (rc) printf("  %s\n", err.msg);
    CHECK(d.n == 6 && d.classes == 6);
    const char *const sorted[] = {"Mango", "a", "a-b", "apple", "n02", "zebra"};
    for (int i = 0; i < 6 && d.n == 6; i++) {
        CHECK(d.labels[i] == i); /* one image per class, in class order */
        CHECK(d.images[(size_t)i * 192] == 40 * d.labels[i]);
        CHECK(!strcmp(d.class_names[i], sorted[i]));
    }
    tk_dataset_free(&d);
    CHECK(load(dir, TK_SPLIT_TEST, 8, 8, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "<class>/<image>, without split folders");
    CHECK_CONTAINS(err.msg, "train/<class>/ and");
    CHECK(load(dir, TK_SPLIT_EXTRA, 8, 8, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "no extra split");
    rm_rf(dir);
    free(dir);
}

/* tiny-imagenet-200.zip as distributed: wnids.txt (not sorted), words.txt,
 * train/<wnid>/images/, <wnid>_boxes.txt, val/images/ + val_annotations.txt,
 * test/images/ without labels. */
static void test_tiny_imagenet_zip(void) {
    char *dir = test_tmpdir("imgf"), tree[4096], path[8200], zip[4096];
    snprintf(tree, sizeof tree, "%s/tree", dir);
    const char *const wnids[3] = {"n03444034", "n01443537", "n02124075"};
    const char *const words = "n00001740\tentity\nn01443537\tgoldfish, Carassius auratus\n"
                              "n02124075\tEgyptian cat\nn03444034\tgo-kart\nn09999999\tnothing we use\n";
    snprintf(path, sizeof path, "%s/tiny-imagenet-200/wnids.txt", tree);
    parent_dirs(path);
    char list[64];
    snprintf(list, sizeof list, "%s\n%s\n%s\n", wnids[0], wnids[1], wnids[2]);
    write_file(path, list, strlen(list));
    snprintf(path, sizeof path, "%s/tiny-imagenet-200/words.txt", tree);
    write_file(path, words, strlen(words));
    /* Solid colours: class c, image j has red 60c + 20j + 10 (JPEG keeps solid colours within a level or two). */
    for (int c = 0; c < 3; c++)
        for (int j = 0; j < 2; j++) {
            uint8_t colour[3] = {(uint8_t)(60 * c + 20 * j + 10), 100, 200};
            uint8_t *px = solid(64, 64, colour);
            snprintf(path, sizeof path, "%s/tiny-imagenet-200/train/%s/images/%s_%d.JPEG", tree, wnids[c], wnids[c], j);
            write_jpeg_rgb(path, 64, 64, px);
            free(px);
        }
    snprintf(path, sizeof path, "%s/tiny-imagenet-200/train/%s/%s_boxes.txt", tree, wnids[0], wnids[0]);
    write_file(path, "x\t0\t0\t10\t10\n", 13);
    /* val: 4 images; the annotations list them out of file-name order. */
    const int val_class[4] = {2, 0, 1, 2};
    char annotations[512] = "";
    const int order[4] = {3, 0, 2, 1};
    for (int i = 0; i < 4; i++) {
        uint8_t colour[3] = {(uint8_t)(50 * i + 5), 30, 30};
        uint8_t *px = solid(64, 64, colour);
        snprintf(path, sizeof path, "%s/tiny-imagenet-200/val/images/val_%d.JPEG", tree, i);
        write_jpeg_rgb(path, 64, 64, px);
        free(px);
        int v = order[i];
        size_t at = strlen(annotations);
        snprintf(annotations + at, sizeof annotations - at, "val_%d.JPEG\t%s\t0\t%d\t62\t60\n", v,
                 wnids[val_class[v]], v);
    }
    snprintf(path, sizeof path, "%s/tiny-imagenet-200/val/val_annotations.txt", tree);
    write_file(path, annotations, strlen(annotations));
    uint8_t grey[3] = {128, 128, 128};
    uint8_t *px = solid(64, 64, grey);
    snprintf(path, sizeof path, "%s/tiny-imagenet-200/test/images/test_0.JPEG", tree);
    write_jpeg_rgb(path, 64, 64, px);
    free(px);
    snprintf(zip, sizeof zip, "%s/tiny-imagenet-200.zip", dir);
    archive_tree(zip, tree, ARCHIVE_ZIP, false);
    CHECK(tk_format_imagefolder.detect(zip) > 0);

    for (int source = 0; source < 2; source++) {
        char folder[8200];
        snprintf(folder, sizeof folder, "%s/tiny-imagenet-200", tree);
        const char *where = source ? folder : zip;
        tk_dataset d;
        tk_error err = {0};
        int rc = load(where, TK_SPLIT_TRAIN, 0, 0, &d, &err);
        CHECK(rc == 0);
        if (rc) printf("  %s\n", err.msg);
        CHECK(d.n == 6 && d.classes == 3 && d.H == 64 && d.W == 64);
        for (int i = 0; i < 6 && d.n == 6; i++) {
            /* wnids.txt order: n03444034 is class 0 although it sorts last. */
            CHECK(d.labels[i] == i / 2);
            CHECK_NEAR(d.images[(size_t)i * 3 * 4096 + 100], 60 * (i / 2) + 20 * (i % 2) + 10, 2);
        }
        CHECK(d.class_names && !strcmp(d.class_names[0], "go-kart") && !strcmp(d.class_names[1], "goldfish") &&
              !strcmp(d.class_names[2], "Egyptian cat"));
        tk_dataset_free(&d);
        rc = load(where, TK_SPLIT_TEST, 0, 0, &d, &err);
        CHECK(rc == 0);
        if (rc) printf("  %s\n", err.msg);
        CHECK(d.n == 4 && d.classes == 3);
        for (int i = 0; i < 4 && d.n == 4; i++) {
            int v = order[i]; /* annotation order */
            CHECK(d.labels[i] == val_class[v]);
            CHECK_NEAR(d.images[(size_t)i * 3 * 4096 + 100], 50 * v + 5, 2);
        }
        tk_dataset_free(&d);
    }
    rm_rf(dir);
    free(dir);
}

/* What real collections contain, each in its own class folder (sorted names
 * give the label), at the stored 16 x 16 so that no resizing blurs the check. */
static void test_colour_oddities(void) {
    char *dir = test_tmpdir("imgf"), path[4096];
    enum { S = 16, P = S * S, KINDS = 10 };
    const jpeg_style plain = {JCS_UNKNOWN, false, false};
    /* 0: a grey JPEG -> replicated to RGB. */
    uint8_t g[P];
    for (int i = 0; i < P; i++) g[i] = (uint8_t)(60 + (i % S) * 4);
    snprintf(path, sizeof path, "%s/c0_grey_jpeg/x.jpg", dir);
    write_jpeg_as(path, S, S, 1, JCS_GRAYSCALE, g, 98, plain);
    /* 1: Adobe CMYK JPEG (Photoshop stores inverted inks); 2: the same as
     * YCCK; 3: CMYK without the Adobe marker, storing plain inks.
     * Inks C=0.2 M=0.6 Y=0 K=0.25. */
    const uint8_t ink[4] = {51, 153, 0, 64};
    uint8_t cmyk[P * 4], plain_ink[P * 4];
    for (int i = 0; i < P; i++)
        for (int j = 0; j < 4; j++) cmyk[4 * i + j] = (uint8_t)(255 - ink[j]), plain_ink[4 * i + j] = ink[j];
    snprintf(path, sizeof path, "%s/c1_cmyk_adobe/x.jpg", dir);
    write_jpeg_as(path, S, S, 4, JCS_CMYK, cmyk, 98, (jpeg_style){JCS_CMYK, true, false});
    snprintf(path, sizeof path, "%s/c2_ycck_adobe/x.jpg", dir);
    write_jpeg_as(path, S, S, 4, JCS_CMYK, cmyk, 98, (jpeg_style){JCS_YCCK, true, false});
    snprintf(path, sizeof path, "%s/c3_cmyk_plain/x.jpg", dir);
    write_jpeg_as(path, S, S, 4, JCS_CMYK, plain_ink, 98, (jpeg_style){JCS_CMYK, false, false});
    uint8_t expect_cmyk[3];
    for (int j = 0; j < 3; j++) expect_cmyk[j] = (uint8_t)((255 - ink[j]) * (255 - ink[3]) / 255.0 + 0.5);
    /* 4: a PNG named .JPEG. */
    uint8_t *rgb = pattern(S, S, 3);
    snprintf(path, sizeof path, "%s/c4_png_named_jpeg/n01_1.JPEG", dir);
    write_png_rgb(path, S, S, rgb);
    /* 5: 16-bit RGB PNG, big-endian samples; v scales to round(v * 255 / 65535). */
    uint8_t rgb16[P * 6], expect16[P * 3];
    for (int i = 0; i < P * 3; i++) {
        unsigned v = (unsigned)(i * 257 + (i % 3) * 100); /* some exact levels, some between */
        v %= 65536;
        rgb16[2 * i] = (uint8_t)(v >> 8), rgb16[2 * i + 1] = (uint8_t)v;
        expect16[i] = (uint8_t)((v * 255.0) / 65535.0 + 0.5);
    }
    snprintf(path, sizeof path, "%s/c5_png16/x.png", dir);
    write_png(path, S, S, PNG_COLOR_TYPE_RGB, 16, rgb16, NULL, 0, NULL, 0, false);
    /* 6: palette PNG with transparency: colours from the palette, alpha dropped. */
    png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    uint8_t trns[4] = {0, 128, 255, 255}, idx[P], expect_pal[P * 3];
    for (int i = 0; i < P; i++) {
        idx[i] = (uint8_t)(i % 4);
        expect_pal[3 * i] = pal[i % 4].red, expect_pal[3 * i + 1] = pal[i % 4].green;
        expect_pal[3 * i + 2] = pal[i % 4].blue;
    }
    snprintf(path, sizeof path, "%s/c6_palette/x.png", dir);
    write_png(path, S, S, PNG_COLOR_TYPE_PALETTE, 8, idx, pal, 4, trns, 4, false);
    /* 7: grey + alpha, interlaced: grey replicated, alpha dropped. */
    uint8_t ga[P * 2], expect_ga[P * 3];
    for (int i = 0; i < P; i++) {
        ga[2 * i] = (uint8_t)(i * 7), ga[2 * i + 1] = (uint8_t)(255 - i);
        memset(expect_ga + 3 * i, (uint8_t)(i * 7), 3);
    }
    snprintf(path, sizeof path, "%s/c7_grey_alpha_interlaced/x.png", dir);
    write_png(path, S, S, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, NULL, 0, NULL, 0, true);
    /* 8: 1-bit grey: 0 and 1 become 0 and 255. */
    uint8_t bits[S * S / 8], expect_bits[P * 3];
    for (int i = 0; i < S * S / 8; i++) bits[i] = (uint8_t)(0xA5 ^ i);
    for (int i = 0; i < P; i++) memset(expect_bits + 3 * i, (bits[i / 8] >> (7 - i % 8)) & 1 ? 255 : 0, 3);
    snprintf(path, sizeof path, "%s/c8_grey_1bit/x.png", dir);
    write_png(path, S, S, PNG_COLOR_TYPE_GRAY, 1, bits, NULL, 0, NULL, 0, false);
    /* 9: a progressive JPEG. */
    snprintf(path, sizeof path, "%s/c9_progressive/x.jpg", dir);
    write_jpeg_as(path, S, S, 3, JCS_RGB, rgb, 95, (jpeg_style){JCS_UNKNOWN, false, true});

    tk_dataset d;
    tk_error err = {0};
    int rc = load(dir, TK_SPLIT_TRAIN, S, S, &d, &err);
    CHECK(rc == 0);
    if (rc) printf("  %s\n", err.msg);
    CHECK(d.n == KINDS);
    if (d.n == KINDS) {
        uint8_t grey_rgb[P * 3];
        for (int i = 0; i < P; i++) memset(grey_rgb + 3 * i, g[i], 3);
        CHECK(max_diff(&d, 0, grey_rgb) <= 3);
        int replicated = 1;
        for (int i = 0; i < P; i++)
            replicated &= d.images[i] == d.images[P + i] && d.images[i] == d.images[2 * P + i];
        CHECK(replicated);
        uint8_t *want = solid(S, S, expect_cmyk);
        CHECK(max_diff(&d, 1, want) <= 2);
        CHECK(max_diff(&d, 2, want) <= 2);
        CHECK(max_diff(&d, 3, want) <= 2);
        free(want);
        CHECK(max_diff(&d, 4, rgb) == 0);
        CHECK(max_diff(&d, 5, expect16) == 0);
        CHECK(max_diff(&d, 6, expect_pal) == 0);
        CHECK(max_diff(&d, 7, expect_ga) == 0);
        CHECK(max_diff(&d, 8, expect_bits) == 0);
        CHECK(max_diff(&d, 9, rgb) <= 8);
        for (int i = 0; i < KINDS; i++) CHECK(d.labels[i] == i);
    }
    tk_dataset_free(&d);
    free(rgb);
    rm_rf(dir);
    free(dir);
}

/* ---- resizing: an independent reference, 2-D weights from the definitions */

static double axis_weight(int o, int i, int in, int out) {
    if (in == out) return o == i;
    if (out < in) { /* overlap of [i, i+1) with [o*in/out, (o+1)*in/out), over the box width */
        double lo = (double)o * in / out, hi = (double)(o + 1) * in / out;
        double a = i > lo ? i : lo, b = i + 1 < hi ? i + 1 : hi;
        return b > a ? (b - a) * out / in : 0;
    }
    double x = ((double)o + 0.5) * in / out - 0.5; /* bilinear, align_corners=False, clamped */
    if (x < 0) x = 0;
    if (x > in - 1) x = in - 1;
    double w = 1 - fabs(x - i);
    return w > 0 ? w : 0;
}

/* The largest difference from the reference; *off counts pixels that differ
 * at all (rounding ties decided by summation order, so very few). */
static int reference_diff(const uint8_t *rgb, int h, int w, const uint8_t *chw, int H, int W, int *off) {
    int worst = 0;
    *off = 0;
    for (int c = 0; c < 3; c++)
        for (int oy = 0; oy < H; oy++)
            for (int ox = 0; ox < W; ox++) {
                double s = 0;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        s += axis_weight(oy, y, h, H) * axis_weight(ox, x, w, W) * rgb[((size_t)y * w + x) * 3 + c];
                int d = abs((int)chw[((size_t)c * H + oy) * W + ox] - (int)floor(s + 0.5));
                if (d > worst) worst = d;
                *off += d != 0;
            }
    return worst;
}

static void test_resize_odd_size(void) {
    char *dir = test_tmpdir("imgf"), path[4096];
    const int w = 37, h = 23;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    uint64_t s = 12345;
    for (int i = 0; i < w * h * 3; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        rgb[i] = (uint8_t)(s >> 56);
    }
    snprintf(path, sizeof path, "%s/train/only/odd.png", dir);
    write_png_rgb(path, w, h, rgb);
    const int sizes[4][2] = {{64, 64}, {8, 16}, {32, 32}, {23, 37}}; /* grow, shrink, mixed, same */
    for (int k = 0; k < 4; k++) {
        tk_dataset d;
        tk_error err = {0};
        CHECK(load(dir, TK_SPLIT_TRAIN, sizes[k][0], sizes[k][1], &d, &err) == 0);
        CHECK(d.n == 1 && d.H == sizes[k][0] && d.W == sizes[k][1]);
        int off = 0;
        if (d.n == 1) CHECK(reference_diff(rgb, h, w, d.images, d.H, d.W, &off) <= (k == 3 ? 0 : 1));
        CHECK(off * 100 <= d.H * d.W * 3);
        tk_dataset_free(&d);
    }
    /* Small cases worked by hand: 4x4 -> 2x2 area = block means; 2x1 -> 4x1 bilinear. */
    uint8_t block[4 * 4 * 3], out[3 * 4];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) memset(block + (y * 4 + x) * 3, (y / 2) * 100 + (x / 2) * 40 + (x % 2) * 4, 3);
    snprintf(path, sizeof path, "%s/block.png", dir);
    write_png_rgb(path, 4, 4, block);
    size_t n;
    uint8_t *bytes = (uint8_t *)read_whole_file(path, &n);
    tk_error err = {0};
    CHECK(tk_image_decode_fit(bytes, n, path, 1, 2, 2, NULL, out, &err) == 0);
    CHECK(out[0] == 2 && out[1] == 42 && out[2] == 102 && out[3] == 142);
    free(bytes);
    uint8_t pair[2 * 3] = {0, 0, 0, 200, 200, 200};
    snprintf(path, sizeof path, "%s/pair.png", dir);
    write_png_rgb(path, 2, 1, pair);
    bytes = (uint8_t *)read_whole_file(path, &n);
    CHECK(tk_image_decode_fit(bytes, n, path, 3, 1, 4, NULL, out, &err) == 0);
    /* x = (o + 0.5) / 2 - 0.5 = 0 (clamped), 0.25, 0.75, 1.25 -> 0, 50, 150, 200 */
    CHECK(out[0] == 0 && out[1] == 50 && out[2] == 150 && out[3] == 200 && out[4] == 0 && out[11] == 200);
    /* 2x1 -> 1x1 averages red 0 and 201 to 100.5, rounded half up to 101. */
    pair[3] = 201;
    write_png_rgb(path, 2, 1, pair);
    free(bytes);
    bytes = (uint8_t *)read_whole_file(path, &n);
    CHECK(tk_image_decode_fit(bytes, n, path, 3, 1, 1, NULL, out, &err) == 0);
    CHECK(out[0] == 101 && out[1] == 100);
    /* RGB to grey is BT.601 luma: (19595*R + 38470*G + 7471*B) / 65536. */
    uint8_t colour[3] = {200, 100, 50};
    uint8_t *px = solid(2, 2, colour);
    snprintf(path, sizeof path, "%s/luma.png", dir);
    write_png_rgb(path, 2, 2, px);
    free(bytes);
    bytes = (uint8_t *)read_whole_file(path, &n);
    CHECK(tk_image_decode_fit(bytes, n, path, 1, 2, 2, NULL, out, &err) == 0);
    CHECK(out[0] == (int)floor((19595.0 * 200 + 38470.0 * 100 + 7471.0 * 50) / 65536 + 0.5) && out[0] == 124);
    free(bytes);
    free(px);
    free(rgb);
    rm_rf(dir);
    free(dir);
}

/* A JPEG cut short inside a .tar.gz: the error names the archive and the member. */
static void test_corrupt_member_named(void) {
    char *dir = test_tmpdir("imgf"), tree[4096], path[8200], tgz[4096];
    snprintf(tree, sizeof tree, "%s/tree", dir);
    uint8_t *rgb = pattern(64, 64, 1);
    uint64_t s = 99;
    for (int i = 0; i < 64 * 64 * 3; i++) s = s * 6364136223846793005ull + 1, rgb[i] ^= (uint8_t)(s >> 59);
    snprintf(path, sizeof path, "%s/train/a/good.png", tree);
    write_png_rgb(path, 64, 64, rgb);
    snprintf(path, sizeof path, "%s/train/b/fine.jpg", tree);
    write_jpeg_rgb(path, 64, 64, rgb);
    snprintf(path, sizeof path, "%s/train/b/cut.jpg", tree);
    write_jpeg_rgb(path, 64, 64, rgb);
    cut_file(path, 6, 10);
    snprintf(tgz, sizeof tgz, "%s/broken.tar.gz", dir);
    archive_tree(tgz, tree, ARCHIVE_TAR_GZ, false);
    tk_dataset d;
    tk_error err = {0};
    CHECK(load(tgz, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "broken.tar.gz: member train/b/cut.jpg: corrupt JPEG");
    CHECK_CONTAINS(err.msg, "Premature end of JPEG file");
    /* In a folder the error names the file. */
    CHECK(load(tree, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "train/b/cut.jpg: corrupt JPEG");
    /* Not an image at all, named .jpg (a GIF), and a PNG with a broken chunk. */
    snprintf(path, sizeof path, "%s/train/b/cut.jpg", tree);
    write_file(path, "GIF89a\1\0\1\0\0\0\0;", 14);
    CHECK(load(tree, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "cut.jpg: not a JPEG or PNG image: it starts with bytes 47 49 46 38");
    CHECK_CONTAINS(err.msg, "a GIF image");
    remove(path);
    snprintf(path, sizeof path, "%s/train/a/good.png", tree);
    size_t n;
    char *bytes = read_whole_file(path, &n);
    bytes[45] ^= 0x5a; /* inside the compressed data of IDAT (8 + 25 + 8 bytes in) */
    write_file(path, bytes, n);
    free(bytes);
    CHECK(load(tree, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "good.png: corrupt PNG: IDAT");
    /* Image formats ticket does not decode are refused by name. */
    remove(path);
    snprintf(path, sizeof path, "%s/train/a/photo.gif", tree);
    write_file(path, "GIF89a", 6);
    CHECK(load(tree, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "train/a/photo.gif is an image format ticket does not decode");
    free(rgb);
    rm_rf(dir);
    free(dir);
}

static void test_empty_class_folder(void) {
    char *dir = test_tmpdir("imgf"), tree[4096], path[8200], zip[4096];
    snprintf(tree, sizeof tree, "%s/tree", dir);
    uint8_t *rgb = pattern(8, 8, 0);
    snprintf(path, sizeof path, "%s/data/train/a/x.png", tree);
    write_png_rgb(path, 8, 8, rgb);
    snprintf(path, sizeof path, "%s/data/val/a/y.png", tree);
    write_png_rgb(path, 8, 8, rgb);
    snprintf(path, sizeof path, "%s/data/train/b/notes.txt", tree); /* no image in b */
    parent_dirs(path);
    write_file(path, "b", 1);
    snprintf(zip, sizeof zip, "%s/data.zip", dir);
    archive_tree(zip, tree, ARCHIVE_ZIP, false);
    tk_dataset d;
    tk_error err = {0};
    snprintf(path, sizeof path, "%s/data", tree);
    CHECK(load(path, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "class folder train/b holds no images");
    CHECK(load(zip, TK_SPLIT_TEST, 0, 0, &d, &err) == -1); /* train's empty class breaks val too */
    CHECK_CONTAINS(err.msg, "data.zip: class folder data/train/b holds no images");
    /* A val class folder that train does not have. */
    snprintf(path, sizeof path, "%s/data/train/b/z.png", tree);
    write_png_rgb(path, 8, 8, rgb);
    snprintf(path, sizeof path, "%s/data/val/c/z.png", tree);
    write_png_rgb(path, 8, 8, rgb);
    snprintf(path, sizeof path, "%s/data", tree);
    CHECK(load(path, TK_SPLIT_TEST, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "class folder val/c is not among the classes");
    /* An empty class folder in val is an error too; with it gone the split loads. */
    snprintf(path, sizeof path, "%s/data/val/c", tree);
    rm_rf(path);
    snprintf(path, sizeof path, "%s/data/val/b", tree);
    tk_mkdirs(path, NULL);
    snprintf(path, sizeof path, "%s/data", tree);
    CHECK(load(path, TK_SPLIT_TEST, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "class folder val/b holds no images");
    snprintf(path, sizeof path, "%s/data/val/b", tree);
    rm_rf(path);
    snprintf(path, sizeof path, "%s/data", tree);
    CHECK(load(path, TK_SPLIT_TEST, 0, 0, &d, &err) == 0);
    CHECK(d.n == 1 && d.labels[0] == 0 && d.classes == 2);
    tk_dataset_free(&d);
    free(rgb);
    rm_rf(dir);
    free(dir);
}

/* Tiny ImageNet's own bad input: a class wnids.txt lists without images, a
 * val image without annotation, an annotation naming an unknown wnid. */
static void test_tiny_imagenet_errors(void) {
    char *dir = test_tmpdir("imgf"), path[4096];
    uint8_t *rgb = pattern(64, 64, 2);
    snprintf(path, sizeof path, "%s/wnids.txt", dir);
    write_file(path, "n1\nn2\n", 6);
    snprintf(path, sizeof path, "%s/train/n1/images/n1_0.JPEG", dir);
    write_jpeg_rgb(path, 64, 64, rgb);
    tk_dataset d;
    tk_error err = {0};
    CHECK(tk_format_imagefolder.detect(dir) > 10);
    CHECK(load(dir, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "class folder train/n2 is missing");
    snprintf(path, sizeof path, "%s/train/n2/images/n2_0.JPEG", dir);
    write_jpeg_rgb(path, 64, 64, rgb);
    CHECK(load(dir, TK_SPLIT_TRAIN, 0, 0, &d, &err) == 0);
    tk_dataset_free(&d);
    snprintf(path, sizeof path, "%s/val/images/val_0.JPEG", dir);
    write_jpeg_rgb(path, 64, 64, rgb);
    snprintf(path, sizeof path, "%s/val/images/val_1.JPEG", dir);
    write_jpeg_rgb(path, 64, 64, rgb);
    snprintf(path, sizeof path, "%s/val/val_annotations.txt", dir);
    write_file(path, "val_0.JPEG\tn2\t0\t0\t9\t9\n", 22);
    CHECK(load(dir, TK_SPLIT_TEST, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "val/images/val_1.JPEG has no line in val/val_annotations.txt");
    write_file(path, "val_0.JPEG\tn2\t0\t0\t9\t9\nval_1.JPEG\tn7\t0\t0\t9\t9\n", 44);
    CHECK(load(dir, TK_SPLIT_TEST, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "val_annotations.txt line 2");
    CHECK_CONTAINS(err.msg, "found n7");
    write_file(path, "val_0.JPEG\tn2\t0\t0\t9\t9\nval_1.JPEG\tn1\t0\t0\t9\t9\nval_9.JPEG\tn1\t0\t0\t9\t9\n", 66);
    CHECK(load(dir, TK_SPLIT_TEST, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "val/images/val_9.JPEG");
    CHECK_CONTAINS(err.msg, "listed in val/val_annotations.txt");
    write_file(path, "val_0.JPEG\tn2\t0\t0\t9\t9\nval_1.JPEG\tn1\t0\t0\t9\t9\n", 44);
    CHECK(load(dir, TK_SPLIT_TEST, 0, 0, &d, &err) == 0);
    CHECK(d.n == 2 && d.labels[0] == 1 && d.labels[1] == 0 && !strcmp(d.class_names[0], "n1"));
    tk_dataset_free(&d);
    free(rgb);
    rm_rf(dir);
    free(dir);
}

/* Places365 as its file lists and image archives sit in one folder: train
 * images unpacked under data_256/, val images in val_256.tar. */
static void test_places365(void) {
    char *dir = test_tmpdir("imgf"), path[8200], valtree[4096];
    snprintf(path, sizeof path, "%s/categories_places365.txt", dir);
    const char *cats = "/a/airfield 0\n/b/bakery/shop 1\n/c/canyon 2\n";
    write_file(path, cats, strlen(cats));
    const char *train = "/c/canyon/00000001.jpg 2\n/a/airfield/00000001.jpg 0\n/b/bakery/shop/00000001.jpg 1\n"
                        "/a/airfield/00000002.jpg 0\n";
    snprintf(path, sizeof path, "%s/places365_train_standard.txt", dir);
    write_file(path, train, strlen(train));
    const char *val = "Places365_val_00000001.jpg 1\nPlaces365_val_00000002.jpg 2\n";
    snprintf(path, sizeof path, "%s/places365_val.txt", dir);
    write_file(path, val, strlen(val));
    const char *const train_files[4] = {"c/canyon/00000001.jpg", "a/airfield/00000001.jpg",
                                        "b/bakery/shop/00000001.jpg", "a/airfield/00000002.jpg"};
    uint8_t *px[6];
    for (int i = 0; i < 4; i++) {
        px[i] = pattern(32, 32, i);
        snprintf(path, sizeof path, "%s/data_256/%s", dir, train_files[i]);
        if (i == 1) write_jpeg_rgb(path, 32, 32, px[i]); /* the others are PNGs named .jpg */
        else write_png_rgb(path, 32, 32, px[i]);
    }
    snprintf(valtree, sizeof valtree, "%s/valtree", dir);
    for (int i = 0; i < 2; i++) {
        px[4 + i] = pattern(32, 32, 4 + i);
        snprintf(path, sizeof path, "%s/val_256/Places365_val_0000000%d.jpg", valtree, i + 1);
        write_png_rgb(path, 32, 32, px[4 + i]);
    }
    snprintf(path, sizeof path, "%s/val_256.tar", dir);
    archive_tree(path, valtree, ARCHIVE_TAR, true);
    CHECK(tk_format_imagefolder.detect(dir) > 10);
    tk_dataset d;
    tk_error err = {0};
    int rc = load(dir, TK_SPLIT_TRAIN, 32, 32, &d, &err);
    CHECK(rc == 0);
    if (rc) printf("  %s\n", err.msg);
    CHECK(d.n == 4 && d.classes == 3);
    const int labels[4] = {2, 0, 1, 0};
    for (int i = 0; i < 4 && d.n == 4; i++) {
        CHECK(d.labels[i] == labels[i]); /* file-list order */
        CHECK(max_diff(&d, i, px[i]) <= (i == 1 ? 8 : 0));
    }
    CHECK(d.class_names && !strcmp(d.class_names[1], "bakery/shop") && !strcmp(d.class_names[2], "canyon"));
    tk_dataset_free(&d);
    rc = load(dir, TK_SPLIT_TEST, 32, 32, &d, &err);
    CHECK(rc == 0);
    if (rc) printf("  %s\n", err.msg);
    CHECK(d.n == 2 && d.labels[0] == 1 && d.labels[1] == 2);
    if (d.n == 2) CHECK(max_diff(&d, 0, px[4]) == 0 && max_diff(&d, 1, px[5]) == 0);
    tk_dataset_free(&d);
    /* A listed image that is not in the archive; a label beyond the categories. */
    snprintf(path, sizeof path, "%s/places365_val.txt", dir);
    write_file(path, "Places365_val_00000003.jpg 1\n", 29);
    CHECK(load(dir, TK_SPLIT_TEST, 32, 32, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "val_256.tar has no member val_256/Places365_val_00000003.jpg");
    CHECK_CONTAINS(err.msg, "places365_val.txt");
    write_file(path, "Places365_val_00000001.jpg 3\n", 29);
    CHECK(load(dir, TK_SPLIT_TEST, 32, 32, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "places365_val.txt line 1");
    CHECK_CONTAINS(err.msg, "0..2");
    snprintf(path, sizeof path, "%s/val_256.tar", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/places365_val.txt", dir);
    write_file(path, "Places365_val_00000001.jpg 1\n", 29);
    CHECK(load(dir, TK_SPLIT_TEST, 32, 32, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "val_256/ or val_256.tar");
    for (int i = 0; i < 6; i++) free(px[i]);
    rm_rf(dir);
    free(dir);
}

static void test_detect_rejects_others(void) {
    char *dir = test_tmpdir("imgf"), path[8200], tgz[4096];
    CHECK(tk_format_imagefolder.detect(dir) == 0); /* empty */
    snprintf(path, sizeof path, "%s/tree/cifar-10-batches-bin/data_batch_1.bin", dir);
    parent_dirs(path);
    write_file(path, "\1\2\3", 3);
    CHECK(tk_format_imagefolder.detect(path) == 0);
    snprintf(tgz, sizeof tgz, "%s/cifar.tar.gz", dir);
    snprintf(path, sizeof path, "%s/tree", dir);
    archive_tree(tgz, path, ARCHIVE_TAR_GZ, false);
    CHECK(tk_format_imagefolder.detect(tgz) == 0);
    CHECK(tk_format_imagefolder.detect(path) == 0);
    tk_dataset d;
    tk_error err = {0};
    CHECK(load(tgz, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "cifar.tar.gz: no JPEG or PNG images found");
    snprintf(path, sizeof path, "%s/tree/cifar-10-batches-bin/data_batch_1.bin", dir);
    CHECK(load(path, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "data_batch_1.bin: not a folder, .zip, .tar or .tar.gz of images");
    snprintf(path, sizeof path, "%s/nowhere", dir);
    CHECK(load(path, TK_SPLIT_TRAIN, 0, 0, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "cannot open");
    CHECK(load(dir, TK_SPLIT_TRAIN, -1, 5, &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "image size");
    rm_rf(dir);
    free(dir);
}

/* tk_image_encode_png gives back the same pixels, grey and RGB, and names libpng's complaint. */
static void test_png_encode_round_trip(void) {
    for (int c = 1; c <= 3; c += 2) {
        tk_image img = {.h = 5, .w = 7, .c = c};
        img.pixels = tk_malloc((size_t)(img.h * img.w * c));
        for (int i = 0; i < img.h * img.w * c; i++) img.pixels[i] = (uint8_t)(i * 37 + 11);
        tk_buf png = {0};
        tk_error err = {0};
        tk_image back = {0};
        CHECK(tk_image_encode_png(&img, &png, &err) == 0);
        CHECK(tk_image_sniff(png.data, png.len) == TK_IMAGE_PNG);
        CHECK(tk_image_decode(png.data, png.len, "encoded", &back, &err) == 0);
        CHECK(back.h == img.h && back.w == img.w && back.c == c);
        CHECK(back.pixels && !memcmp(back.pixels, img.pixels, (size_t)(img.h * img.w * c)));
        tk_image_free(&back);
        tk_image_free(&img);
        tk_buf_free(&png);
    }
    tk_image empty = {.h = 0, .w = 4, .c = 1};
    tk_buf png = {0};
    tk_error err = {0};
    CHECK(tk_image_encode_png(&empty, &png, &err) == -1);
    CHECK_CONTAINS(err.msg, "libpng: ");
    CHECK_CONTAINS(err.msg, "IHDR");
    tk_buf_free(&png);
}

int main(void) {
    RUN(test_folder_zip_targz_agree);
    RUN(test_class_index_rule);
    RUN(test_tiny_imagenet_zip);
    RUN(test_colour_oddities);
    RUN(test_resize_odd_size);
    RUN(test_corrupt_member_named);
    RUN(test_empty_class_folder);
    RUN(test_tiny_imagenet_errors);
    RUN(test_places365);
    RUN(test_detect_rejects_others);
    RUN(test_png_encode_round_trip);
    CHECK_MAIN_END();
}
