/* imagefolder_layout.h - what the image-folder layouts share (private to
 * datasets/): the listing of a folder or archive, class sets, and the plan
 * that says which member becomes which example. datasets/imagefolder.c
 * implements it, holds the generic layout and loads a plan's images;
 * datasets/tiny_imagenet.c and datasets/places365.c are the two layouts
 * recognised by their files. */
#ifndef IMAGEFOLDER_LAYOUT_H
#define IMAGEFOLDER_LAYOUT_H

#include "tk_data.h"

/* ---- names */

bool imf_is_dir(const char *path);
bool imf_is_file(const char *path);
const char *imf_base_name(const char *path);
/* 1: an image ticket decodes; -1: an image format it does not; 0: not an image. */
int imf_image_ext(const char *name);

/* ---- listing: every file and folder name of a folder or archive */

typedef struct imf_entry {
    char *name; /* relative, '/'-separated, no trailing '/' */
    bool dir;
} imf_entry;

typedef struct imf_text_member {
    char *name, *text;
} imf_text_member;

typedef struct imf_listing {
    const char *path;
    bool archive;
    imf_entry *e;
    size_t n, cap;
    /* Small text files the layouts read, kept while listing an archive so it
     * is not decompressed a third time. */
    imf_text_member t[8];
    int nt;
} imf_listing;

/* The text of member `name` (NUL-terminated, malloc'd), or NULL when absent. */
int imf_read_text(const imf_listing *l, const char *name, char **text, tk_error *err);
/* Entries below `root` (a prefix ending in '/', or ""): the rest of the name. */
const char *imf_below(const imf_entry *e, const char *root);
size_t imf_images_below(const imf_listing *l, const char *root);

/* ---- text files */

/* Splits the next line off *cursor in place (without '\n' or '\r'); NULL at the end. */
char *imf_next_line(char **cursor);
/* Whitespace-separated fields of line, in place; returns how many (at most max). */
int imf_fields(char *line, char **f, int max);

/* ---- classes */

typedef struct imf_class_ref {
    const char *id;
    int index;
} imf_class_ref;

typedef struct imf_class_set {
    int n;
    char **ids;          /* in class-index order */
    imf_class_ref *refs; /* sorted by id, for lookup */
} imf_class_set;

void imf_class_add(imf_class_set *cs, const char *id, size_t len);
/* Builds the lookup order; a repeated id is an error naming `source`. */
int imf_class_index(imf_class_set *cs, const char *source, tk_error *err);
/* The index of class id[0..len), or -1. */
int imf_class_find(const imf_class_set *cs, const char *id, size_t len);
/* The class folders under root: the first component of every name that has
 * one more below it, plus folders right under root, sorted by byte value. */
int imf_classes_from_folders(const imf_listing *l, const char *root, imf_class_set *cs, tk_error *err);

/* ---- plans: which members become which examples */

typedef struct imf_plan {
    size_t n, cap;
    char **keys; /* member names, relative to the image source */
    int32_t *labels;
    int classes;
    char (*names)[64]; /* [classes], or NULL when nothing names them */
    /* Where the images are: a folder or an archive; members named
     * prefix + key in an archive are matched too (Places365's data_256/). */
    char source[4096];
    bool archive;
    const char *prefix;
    char listed_in[512]; /* the file that named the keys, "" when they came from a listing */
} imf_plan;

void imf_plan_add(imf_plan *p, const char *key, int32_t label);
/* The classes become the plan's: their ids are the names unless `names` is given. */
void imf_plan_take_classes(imf_plan *p, imf_class_set *cs, char (*names)[64]);
/* Examples in class order, then by name: independent of listing order. */
void imf_plan_sort(imf_plan *p);
/* Adds every image below split_root (".../train/") to p (unless NULL: then
 * it only checks) as an example of its class folder. Class folders must be
 * in cs (`classes_from` says where they come from, for the message). Every
 * class folder present must hold an image, and with every_class, so must
 * every class of cs. */
int imf_scan_split(const imf_listing *l, const char *split_root, const imf_class_set *cs, const char *classes_from,
                   bool every_class, imf_plan *p, tk_error *err);

/* A plan's key with its label and its place in the plan, for sorting and lookup. */
typedef struct imf_keyed {
    const char *key;
    int32_t label;
    size_t at;
} imf_keyed;

int imf_cmp_keyed_key(const void *a, const void *b);

/* ---- the layouts recognised by their files (tried before the generic one) */

/* Tiny ImageNet (datasets/tiny_imagenet.c): the folder holding wnids.txt or
 * val/val_annotations.txt, shallowest first; false when neither is there. */
bool imf_tiny_root(const imf_listing *l, char *root, size_t cap);
int imf_plan_tiny(const imf_listing *l, const char *root, tk_split split, imf_plan *p, tk_error *err);

/* Places365 (datasets/places365.c): a folder holding one of its file lists. */
bool imf_places_root(const char *path);
/* classes_hint: the catalog's class count, 0 when there is none. */
int imf_plan_places(const char *path, tk_split split, int classes_hint, imf_plan *p, tk_error *err);

#endif
