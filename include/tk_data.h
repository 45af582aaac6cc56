/* tk_data.h - datasets as uint8 images plus int32 labels, and how they are found.
 *
 * Images stay uint8 in memory ([n, C, H, W], row-major); the trainer converts
 * one batch at a time. Data is searched in $TICKET_DATA, ./data and
 * /usr/share/datasets, in that order. */
#ifndef TK_DATA_H
#define TK_DATA_H

#include "tk_common.h"

typedef struct tk_dataset {
    char name[64];
    int n, C, H, W, classes;
    uint8_t *images;
    int32_t *labels;
} tk_dataset;

typedef enum tk_split { TK_SPLIT_TRAIN, TK_SPLIT_TEST, TK_SPLIT_COUNT } tk_split;
extern const char *const tk_split_names[TK_SPLIT_COUNT];

/* IDX (MNIST / Fashion-MNIST layout), plain or .gz. Image file magic 0x00000803
 * (u8, 3 dims), label file 0x00000801. Classes = max label + 1 unless
 * classes_hint > 0, in which case labels must be below it. */
int tk_idx_load(const char *images_path, const char *labels_path, int classes_hint, tk_dataset *out,
                tk_error *err);

/* Opens a named dataset's split ("fashion-mnist", "mnist"), searching the data
 * directories; a missing dataset names every path tried and how to get it. */
int tk_dataset_open(const char *name, tk_split split, tk_dataset *out, tk_error *err);
/* Names tk_dataset_open knows. */
const char *const *tk_dataset_names(int *count);
void tk_dataset_free(tk_dataset *d);

/* Per-channel mean and std over all pixels of d, scaled to [0,1]. */
void tk_dataset_stats(const tk_dataset *d, float *mean, float *std);
/* Writes samples idx[0..B) as float [B, C*H*W]: (pixel/255 - mean[c]) / std[c]. */
void tk_dataset_batch(const tk_dataset *d, const int32_t *idx, int B, const float *mean, const float *std,
                      float *x, int32_t *labels);

#endif
