/* tiny_imagenet.c - the Tiny ImageNet 200 layout of an image folder
 * (datasets/imagefolder.c), recognised by wnids.txt or val/val_annotations.txt:
 * train/<wnid>/images/<image>.JPEG; val/images/<image>.JPEG labelled by
 * val/val_annotations.txt (tab-separated: file, wnid, bounding box); class
 * names from words.txt (up to the first comma) when present.
 *
 * Class-index rule: the order of wnids.txt when present, else the train
 * folders' names sorted by byte value. Train examples are in class order,
 * then by member name; val examples in the order of val_annotations.txt. */
#define _POSIX_C_SOURCE 200809L
#include "imagefolder_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool imf_tiny_root(const imf_listing *l, char *root, size_t cap) {
    size_t best = (size_t)-1;
    for (size_t i = 0; i < l->n; i++) {
        const char *name = l->e[i].name;
        size_t len = strlen(name), keep;
        if (l->e[i].dir) continue;
        const char *marker = "val/val_annotations.txt";
        size_t m = strlen(marker);
        if (!strcmp(imf_base_name(name), "wnids.txt")) keep = len - strlen("wnids.txt");
        else if (len >= m && !strcmp(name + len - m, marker) && (len == m || name[len - m - 1] == '/')) keep = len - m;
        else continue;
        if (keep < best && keep < cap) {
            best = keep;
            memcpy(root, name, keep);
            root[keep] = 0;
        }
    }
    return best != (size_t)-1;
}

/* Display names: words.txt's first synonym ("goldfish, Carassius auratus" ->
 * "goldfish"); the wnid for a class words.txt does not name. */
static char (*tiny_names(char *words, const imf_class_set *cs))[64] {
    char(*names)[64] = tk_calloc((size_t)cs->n, sizeof *names);
    for (int c = 0; c < cs->n; c++) snprintf(names[c], sizeof names[c], "%s", cs->ids[c]);
    char *cursor = words;
    for (char *line; words && (line = imf_next_line(&cursor)) != NULL;) {
        char *tab = strchr(line, '\t');
        int c = tab ? imf_class_find(cs, line, (size_t)(tab - line)) : -1;
        if (c >= 0) snprintf(names[c], sizeof names[c], "%.*s", (int)strcspn(tab + 1, ","), tab + 1);
    }
    return names;
}

static int tiny_val(const imf_listing *l, const char *root, const imf_class_set *cs, char *annotations, imf_plan *p,
                    tk_error *err) {
    snprintf(p->listed_in, sizeof p->listed_in, "%sval/val_annotations.txt", root);
    char *cursor = annotations, *f[2];
    for (int line_no = 1;; line_no++) {
        char *line = imf_next_line(&cursor);
        if (!line) break;
        int nf = imf_fields(line, f, 2);
        if (nf == 0) continue;
        int c = nf == 2 ? imf_class_find(cs, f[1], strlen(f[1])) : -1;
        if (c < 0)
            return tk_fail(err, "%s: %s line %d: expected \"<file>\\t<wnid>\\t<bounding box>\" with a wnid from "
                                "wnids.txt, found %s",
                           l->path, p->listed_in, line_no, nf == 2 ? f[1] : "one field");
        char key[4096];
        snprintf(key, sizeof key, "%sval/images/%s", root, f[0]);
        imf_plan_add(p, key, c);
    }
    /* An image nobody labelled would silently drop out of the split. */
    imf_keyed *k = tk_malloc(sizeof *k * (p->n ? p->n : 1));
    for (size_t i = 0; i < p->n; i++) k[i] = (imf_keyed){p->keys[i], 0, i};
    qsort(k, p->n, sizeof *k, imf_cmp_keyed_key);
    char images[2100];
    snprintf(images, sizeof images, "%sval/images/", root);
    int rc = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        const char *rest = imf_below(&l->e[i], images);
        imf_keyed probe = {l->e[i].name, 0, 0};
        if (rest && !l->e[i].dir && imf_image_ext(rest) && !bsearch(&probe, k, p->n, sizeof *k, imf_cmp_keyed_key))
            rc = tk_fail(err, "%s: %s has no line in %s, so it has no label: add one or remove the image", l->path,
                         l->e[i].name, p->listed_in);
    }
    free(k);
    return rc;
}

int imf_plan_tiny(const imf_listing *l, const char *root, tk_split split, imf_plan *p, tk_error *err) {
    char name[2100], train[2100], val[2100], from[2200];
    char *wnids = NULL, *words = NULL, *annotations = NULL;
    imf_class_set cs = {0};
    snprintf(train, sizeof train, "%strain/", root);
    snprintf(val, sizeof val, "%sval/", root);
    snprintf(name, sizeof name, "%swnids.txt", root);
    int rc = imf_read_text(l, name, &wnids, err);
    if (rc == 0 && wnids) {
        snprintf(from, sizeof from, "%s", name);
        char *cursor = wnids, *f[1];
        for (char *line; (line = imf_next_line(&cursor)) != NULL;)
            if (imf_fields(line, f, 1)) imf_class_add(&cs, f[0], strlen(f[0]));
        rc = imf_class_index(&cs, name, err);
    } else if (rc == 0) {
        snprintf(from, sizeof from, "the folders in %s (no wnids.txt)", train);
        rc = imf_classes_from_folders(l, train, &cs, err);
    }
    if (rc == 0 && !cs.n) rc = tk_fail(err, "%s: %s lists no classes", l->path, from);
    snprintf(name, sizeof name, "%swords.txt", root);
    if (rc == 0) rc = imf_read_text(l, name, &words, err);
    if (rc == 0 && split == TK_SPLIT_TRAIN) {
        rc = imf_scan_split(l, train, &cs, from, true, p, err);
        if (rc == 0) imf_plan_sort(p);
    } else if (rc == 0) {
        snprintf(name, sizeof name, "%sval/val_annotations.txt", root);
        rc = imf_read_text(l, name, &annotations, err);
        if (rc == 0 && annotations) rc = tiny_val(l, root, &cs, annotations, p, err);
        else if (rc == 0 && imf_images_below(l, val)) { /* val rearranged into class folders */
            rc = imf_scan_split(l, val, &cs, from, false, p, err);
            if (rc == 0) imf_plan_sort(p);
        } else if (rc == 0)
            rc = tk_fail(err, "%s: no %s to label the images of the val split (Tiny ImageNet's test labels are not "
                              "public; its val split is the test split)",
                         l->path, name);
    }
    imf_plan_take_classes(p, &cs, tiny_names(words, &cs));
    free(wnids);
    free(words);
    free(annotations);
    return rc;
}
