/* places365.c - the Places365 layout of an image folder (datasets/imagefolder.c):
 * a folder holding its file lists, places365_train_standard.txt and
 * places365_val.txt, lines "path label", and categories_places365.txt,
 * lines "/a/airfield 0". The images sit beside the lists, unpacked
 * (data_256/ or data_large/ for train, val_256/ or val_large/ for val) or as
 * the archives Places distributes (train_256_places365standard.tar,
 * val_256.tar, and their _large twins).
 *
 * Class-index rule: the label is the index the file list gives; examples are
 * in the order of the list. */
#define _POSIX_C_SOURCE 200809L
#include "imagefolder_layout.h"
#include "tk_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const places_lists[2] = {"places365_train_standard.txt", "places365_val.txt"};
static const char *const places_categories = "categories_places365.txt";
#define PLACES_URL "http://data.csail.mit.edu/places/places365/"

typedef struct places_images {
    const char *folder, *archive, *prefix;
} places_images;

static const places_images places_where[2][2] = {
    {{"data_256", "train_256_places365standard.tar", "data_256/"},
     {"data_large", "train_large_places365standard.tar", "data_large/"}},
    {{"val_256", "val_256.tar", "val_256/"}, {"val_large", "val_large.tar", "val_large/"}},
};

bool imf_places_root(const char *path) {
    char file[4096];
    for (int i = 0; i < 2; i++) {
        snprintf(file, sizeof file, "%s/%s", path, places_lists[i]);
        if (imf_is_file(file)) return true;
    }
    snprintf(file, sizeof file, "%s/%s", path, places_categories);
    return imf_is_file(file);
}

static int places_classes(const char *path, imf_plan *p, tk_error *err) {
    char file[4096];
    snprintf(file, sizeof file, "%s/%s", path, places_categories);
    if (!imf_is_file(file)) return 0;
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(file, &data, &n, err)) return -1;
    data[n] = 0;
    int count = 0, rc = 0;
    for (const char *line = (const char *)data; *line;) { /* lines that are not blank */
        size_t len = strcspn(line, "\n");
        count += strspn(line, " \t\r") < len;
        line += len + (line[len] == '\n');
    }
    if (count > TK_MAX_CLASSES) {
        free(data);
        return tk_fail(err, "%s: %d categories, more than the %d classes a dataset may have; fetch "
                            "filelist_places365-standard.tar again from %s",
                       file, count, TK_MAX_CLASSES, PLACES_URL);
    }
    p->names = tk_calloc((size_t)(count ? count : 1), sizeof *p->names);
    bool *seen = tk_calloc((size_t)(count ? count : 1), sizeof(bool));
    char *cursor = (char *)data, *f[3];
    for (int line_no = 1; rc == 0; line_no++) {
        char *line = imf_next_line(&cursor), *end;
        if (!line) break;
        int nf = imf_fields(line, f, 3);
        if (nf == 0) continue;
        long c = nf == 2 ? strtol(f[1], &end, 10) : -1;
        if (nf != 2 || *end || c < 0 || c >= count || seen[c]) {
            rc = tk_fail(err, "%s line %d: expected \"/<letter>/<category> <index>\" with each index 0..%d once", file,
                         line_no, count - 1);
            break;
        }
        seen[c] = true;
        /* "/a/apartment_building/outdoor" -> "apartment_building/outdoor" */
        const char *cat = f[0];
        if (cat[0] == '/' && cat[1] && cat[2] == '/') cat += 3;
        snprintf(p->names[c], sizeof p->names[c], "%s", cat);
    }
    free(seen);
    free(data);
    p->classes = count;
    return rc;
}

int imf_plan_places(const char *path, tk_split split, int classes_hint, imf_plan *p, tk_error *err) {
    int s = split == TK_SPLIT_TRAIN ? 0 : 1;
    if (places_classes(path, p, err)) return -1;
    char file[4096];
    snprintf(file, sizeof file, "%s/%s", path, places_lists[s]);
    snprintf(p->listed_in, sizeof p->listed_in, "%s", file);
    if (!imf_is_file(file))
        return tk_fail(err, "Places365 folder %s has no %s (the %s file list): unpack filelist_places365-standard.tar "
                            "from %s into it",
                       path, places_lists[s], tk_split_names[split], PLACES_URL);
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(file, &data, &n, err)) return -1;
    data[n] = 0;
    char *cursor = (char *)data, *f[3], *end;
    int rc = 0;
    /* Without a categories file (or an empty one), the catalog's count, else the labels' own. */
    int limit = p->classes ? p->classes : classes_hint > 0 ? classes_hint : TK_MAX_CLASSES;
    for (int line_no = 1; rc == 0; line_no++) {
        char *line = imf_next_line(&cursor);
        if (!line) break;
        int nf = imf_fields(line, f, 3);
        if (nf == 0) continue;
        long c = nf == 2 ? strtol(f[1], &end, 10) : -1;
        if (nf != 2 || *end || c < 0 || c >= limit)
            rc = tk_fail(err, "%s line %d: expected \"<image path> <label>\" with a label in 0..%d, found \"%s\"",
                         file, line_no, limit - 1, nf == 2 ? f[1] : line);
        else
            imf_plan_add(p, f[0] + (f[0][0] == '/'), (int32_t)c);
    }
    free(data);
    if (rc) return -1;
    if (!p->classes && classes_hint > 0) p->classes = classes_hint; /* no names either */
    if (!p->classes && tk_classes_from_labels(p->labels, (int)p->n, file,
                                              "give the folder categories_places365.txt from "
                                              "filelist_places365-standard.tar", &p->classes, err))
        return -1;
    char tried[1024] = "";
    size_t at = 0;
    for (int i = 0; i < 2; i++) {
        const places_images *w = &places_where[s][i];
        snprintf(p->source, sizeof p->source, "%s/%s", path, w->folder);
        if (imf_is_dir(p->source)) return 0;
        snprintf(p->source, sizeof p->source, "%s/%s", path, w->archive);
        if (imf_is_file(p->source)) {
            p->archive = true;
            p->prefix = w->prefix;
            return 0;
        }
        at += (size_t)snprintf(tried + at, sizeof tried - at, "%s%s/ or %s", i ? ", " : "", w->folder, w->archive);
    }
    return tk_fail(err, "Places365 folder %s has the %s list but not its images: expected %s there (from %s)", path,
                   places_lists[s], tried, PLACES_URL);
}
