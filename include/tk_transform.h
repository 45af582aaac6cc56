/* tk_transform.h - fitting a dataset to a model, taking subsets of it, and
 * augmenting batches.
 *
 * Every function here is deterministic: randomness comes only from a tk_rng
 * the caller passes in (for batches, the augmentation stream), and a NULL rng
 * means "no randomness" where that has a meaning (first examples in file order).
 * Functions that build a dataset write a new one into `out` (images, labels and
 * class names freshly allocated, released with tk_dataset_free); the input is
 * left untouched and stays the caller's to free. */
#ifndef TK_TRANSFORM_H
#define TK_TRANSFORM_H

#include "tk_data.h"
#include "tk_rng.h"

/* ---- adaptation to a model's input
 *
 * Channels: equal counts are kept, 1 -> 3 replicates the grey plane, 3 -> 1 is
 * ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B) in PIL's 16-bit fixed point,
 * (19595 R + 38470 G + 7471 B) / 65536, so that without resizing the result is
 * PIL's convert("L") bit for bit. Anything else (2 -> 3, 4 -> 3, ...) is refused.
 *
 * Size, per axis: a smaller size is an exact box filter (output pixel o covers
 * input [o*in/out, (o+1)*in/out) and every input pixel weighs by its overlap
 * with that interval; for integer ratios this is PyTorch's
 * F.interpolate(mode="area"), which for other ratios averages whole pixels
 * instead); a larger size is bilinear interpolation with
 * align_corners=False (PyTorch's F.interpolate(mode="bilinear",
 * align_corners=False): source coordinate (o + 0.5) * in/out - 0.5, clamped to
 * the image); an equal size is copied. Axes are independent, so shrinking one
 * and growing the other is allowed.
 *
 * Arithmetic is float64 from the uint8 pixels (luma included) to the end, then
 * rounded once, half up, and clamped to [0, 255]. */

/* Converts c x h x w images to C x H x W; created once per shape pair and run on
 * any number of images. NULL with err set when the conversion is impossible. */
typedef struct tk_image_adapter tk_image_adapter;
tk_image_adapter *tk_image_adapter_create(int c, int h, int w, int C, int H, int W, tk_error *err);
/* src: [c, h, w]; dst: [C, H, W]; they must not overlap. */
void tk_image_adapter_run(tk_image_adapter *a, const uint8_t *src, uint8_t *dst);
void tk_image_adapter_free(tk_image_adapter *a);

/* A copy of `in` with every image converted to C x H x W (labels, classes,
 * class names and name unchanged). */
int tk_dataset_adapt(const tk_dataset *in, int C, int H, int W, tk_dataset *out, tk_error *err);

/* ---- subsets
 *
 * Subsets are new datasets (not index lists), so statistics, batching and
 * evaluation work on them unchanged; examples keep their file order. */
typedef struct tk_subset {
    /* Keep only these classes, relabelled 0..n_classes-1 in list order (e.g.
     * {5,6,7,8,9} -> 0..4); class names follow. NULL: every class, labels kept. */
    const int32_t *classes;
    int n_classes;
    /* At most one of these is set (> 0); neither: every example of the kept classes. */
    int per_class; /* exactly this many examples of each kept class */
    int total;     /* this many examples in all, in the class proportions of the kept ones */
} tk_subset;

/* Which examples of a class are kept: with rng NULL, the first ones in file
 * order; otherwise a uniform draw, classes in increasing (new) label order,
 * each by a partial Fisher-Yates shuffle of the class's examples in file order
 * (for i < k: swap i with i + tk_rng_below(count - i)), so the same rng state
 * gives the same subset. A class kept whole draws nothing. Pass a generator
 * of its own (not the data-order stream) so a subset never shifts other draws.
 *
 * `total` divides by largest remainders: class c gets floor(total * n_c / n)
 * examples, and the classes with the largest remainders (total * n_c mod n; ties
 * to the lower label) one more each until the sum is `total`. A balanced
 * 60,000-example set cut to 10,000 keeps 1,000 per class.
 *
 * Fails, naming the class, when a class is listed twice or out of range, when a
 * class has fewer than `per_class` examples, when `total` exceeds the examples
 * available, or when the subset would be empty. */
int tk_dataset_subset(const tk_dataset *in, const tk_subset *s, tk_rng *rng, tk_dataset *out, tk_error *err);

/* Splits off a validation set of n_val examples in the class proportions of
 * `in` (chosen exactly as tk_subset.total with the same rng rule); `train`
 * gets the other examples. 0 < n_val < in->n. */
int tk_dataset_split(const tk_dataset *in, int n_val, tk_rng *rng, tk_dataset *train, tk_dataset *val,
                     tk_error *err);

/* ---- batch augmentation
 *
 * torchvision's RandomCrop(size=(H, W), padding=pad) and
 * RandomHorizontalFlip(p=0.5), in that order, then normalisation. Padding is
 * pixel value 0 before normalisation, so padded pixels become (0 - mean) / std,
 * as when torchvision pads the image before Normalize.
 *
 * Draws from rng, for each sample in batch order: the flip (tk_rng_uniform < 0.5
 * flips; only when flip is on), then the crop's top offset and left offset
 * (tk_rng_below(2 * pad + 1) each; only when pad > 0). Output pixel (y, x) of
 * the crop is padded-image pixel (y + top, x + left), i.e. original pixel
 * (y + top - pad, x + left - pad) or padding; a flip then mirrors x. */
typedef struct tk_augment {
    int pad;   /* zero padding on every side before the random crop; 0: no crop */
    bool flip; /* random horizontal flip with probability 0.5 */
} tk_augment;

/* tk_dataset_batch with augmentation. With aug NULL or all off it writes the
 * same floats as tk_dataset_batch and draws nothing from rng (which may then be
 * NULL). */
void tk_dataset_batch_augmented(const tk_dataset *d, const int32_t *idx, int B, const float *mean, const float *std,
                                const tk_augment *aug, tk_rng *rng, float *x, int32_t *labels);

#endif
