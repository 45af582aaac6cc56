/* imagefolder.c - datasets stored as image files: a folder, or a .zip, .tar
 * or .tar.gz of one (read in memory through libarchive, never extracted),
 * with JPEG and PNG images decoded by datasets/image_decode.c. This file is
 * the format: what the layouts share (datasets/imagefolder_layout.h), the
 * generic layout, and loading a layout's plan into the images.
 *
 * Layouts, tried in this order:
 * - Places365 (datasets/places365.c), a folder holding its file lists.
 * - Tiny ImageNet 200 (datasets/tiny_imagenet.c), recognised by wnids.txt or
 *   val/val_annotations.txt.
 * - Generic, as torchvision's ImageFolder: root/<split>/<class>/<image>
 *   (split folders train, and test or else val for the test split;
 *   Imagenette and Imagewoof are of this kind), or root/<class>/<image>
 *   without split folders, which is all train. A class folder's images may
 *   sit at any depth below it. The root is the given folder or archive,
 *   descending through wrapper folders (imagenette2-160/) that hold everything.
 *
 * Class-index rule: for the generic layout, classes are the class folders of
 * the train split (or of the root), sorted by byte value (strcmp, the order
 * of Python's sorted() for ASCII names), and a label is the index in that
 * order; the test split's folders must be among them. The other layouts say
 * their own rule in their files.
 *
 * Examples are in class order, then by member name (generic, Tiny ImageNet
 * train), or in the order of the file that labels them (Tiny ImageNet val,
 * Places365), so a folder, a .zip and a .tar.gz of the same files load
 * identically whatever the order inside the archive.
 *
 * Images are files named .jpg, .jpeg, .jpe or .png (any case); the decoder is
 * chosen by the bytes, not the name. Each is fitted to 3 x height x width
 * (tk_load_options; 0 means 64, Tiny ImageNet's size) by tk_image_decode_fit
 * and written straight into the output array, whose size is known after a
 * first pass that lists the names: loading needs little more memory than the
 * uint8 images themselves (a .tar.gz is decompressed twice for it). Names
 * starting with '.' and __MACOSX folders (archivers' leftovers) are skipped;
 * other image files (.gif, .bmp, ...) in a class folder are errors. */
#define _POSIX_C_SOURCE 200809L
#include "imagefolder_layout.h"
#include "tk_archive.h"
#include "tk_file.h"
#include "tk_image.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_SIDE 64
#define MAX_SIDE 4096
#define MAX_DEPTH 32
#define MAX_TEXT_BYTES ((size_t)64 << 20)   /* a member holding labels or class names (words.txt: 2 MB) */
#define MAX_IMAGE_BYTES ((size_t)256 << 20) /* one image file: a 4096 x 4096 RGBA PNG stored raw is 64 MiB */
#define DETECT_BYTES (64 << 20) /* of an archive's uncompressed stream, read at most by detect() */

/* ---- names */

bool imf_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool imf_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *imf_base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static bool junk_component(const char *name, size_t len) {
    return (len > 0 && name[0] == '.') || (len == 8 && !memcmp(name, "__MACOSX", 8));
}

/* Any component of a '/'-separated name that archivers leave behind. */
static bool junk_name(const char *name) {
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (junk_component(p, len)) return true;
        p += len + (slash != NULL);
    }
    return false;
}

int imf_image_ext(const char *name) {
    static const char *const decoded[] = {".jpg", ".jpeg", ".jpe", ".png"};
    static const char *const other[] = {".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".heic"};
    const char *dot = strrchr(name, '.');
    if (!dot || strchr(dot, '/')) return 0;
    for (int i = 0; i < TK_ARRAY_LEN(decoded); i++)
        if (!strcasecmp(dot, decoded[i])) return 1;
    for (int i = 0; i < TK_ARRAY_LEN(other); i++)
        if (!strcasecmp(dot, other[i])) return -1;
    return 0;
}

/* Archive member names as found ("./a/b", "a/dir/") to the folder form ("a/b", "a/dir"). */
static const char *normalize(const char *name, char *buf, size_t cap) {
    while (name[0] == '/' || (name[0] == '.' && name[1] == '/')) name += name[0] == '/' ? 1 : 2;
    snprintf(buf, cap, "%s", name);
    size_t len = strlen(buf);
    while (len > 0 && buf[len - 1] == '/') buf[--len] = 0;
    return buf;
}

/* ---- archives */

static tk_archive *open_archive(const char *path, tk_error *err) {
    return tk_archive_open(path, TK_ARCHIVE_TAR_ZIP, "a folder, .zip, .tar or .tar.gz of images", "fetch it again",
                           err);
}

/* ---- listing: every file and folder name of a folder or archive */

/* The small text files a layout reads (Tiny ImageNet's: datasets/tiny_imagenet.c). */
static const char *const text_files[] = {"wnids.txt", "words.txt", "val_annotations.txt"};

static void listing_add(imf_listing *l, const char *name, bool dir) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->e = tk_realloc(l->e, sizeof *l->e * l->cap);
    }
    l->e[l->n].name = strdup(name);
    TK_ASSERT(l->e[l->n].name);
    l->e[l->n++].dir = dir;
}

static void listing_free(imf_listing *l) {
    for (size_t i = 0; i < l->n; i++) free(l->e[i].name);
    for (int i = 0; i < l->nt; i++) free(l->t[i].name), free(l->t[i].text);
    free(l->e);
    memset(l, 0, sizeof *l);
}

static int walk(imf_listing *l, const char *rel, int depth, tk_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", l->path, rel[0] ? "/" : "", rel);
    if (depth > MAX_DEPTH)
        return tk_fail(err, "%s: folders nest deeper than %d levels (a symbolic link loop?)", path, MAX_DEPTH);
    DIR *d = opendir(path);
    if (!d) return tk_fail(err, "cannot open folder %s: %s", path, strerror(errno));
    int rc = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        if (junk_component(de->d_name, strlen(de->d_name))) continue; /* also . and .. */
        char child[4096];
        if ((size_t)snprintf(child, sizeof child, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >= sizeof child) {
            rc = tk_fail(err, "%s/%s: path longer than %zu bytes", path, de->d_name, sizeof child);
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0) continue; /* a dangling link is no image */
        if (S_ISDIR(st.st_mode)) {
            listing_add(l, child, true);
            rc = walk(l, child, depth + 1, err);
        } else if (S_ISREG(st.st_mode)) {
            listing_add(l, child, false);
        }
    }
    closedir(d);
    return rc;
}

static int list_archive(imf_listing *l, tk_error *err) {
    tk_archive *a = open_archive(l->path, err);
    if (!a) return -1;
    tk_archive_member m;
    char name[4096];
    int r;
    while ((r = tk_archive_next(a, &m, err)) == 1) {
        normalize(m.name, name, sizeof name);
        if (!name[0] || junk_name(name) || (!m.is_dir && !m.is_file)) continue;
        listing_add(l, name, m.is_dir);
        bool text = false;
        for (int i = 0; i < TK_ARRAY_LEN(text_files); i++) text |= !strcmp(imf_base_name(name), text_files[i]);
        if (m.is_file && text && l->nt < TK_ARRAY_LEN(l->t)) {
            uint8_t *buf = NULL;
            size_t cap = 0, n;
            if (tk_archive_read(a, MAX_TEXT_BYTES, &buf, &cap, &n, err)) {
                free(buf);
                r = -1;
                break;
            }
            l->t[l->nt].name = strdup(name);
            l->t[l->nt++].text = (char *)buf;
        }
    }
    tk_archive_close(a);
    return r;
}

static int list_source(const char *path, imf_listing *l, tk_error *err) {
    memset(l, 0, sizeof *l);
    l->path = path;
    struct stat st;
    if (stat(path, &st) != 0) return tk_fail(err, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return walk(l, "", 0, err);
    l->archive = true;
    return list_archive(l, err);
}

int imf_read_text(const imf_listing *l, const char *name, char **text, tk_error *err) {
    *text = NULL;
    if (l->archive) {
        for (int i = 0; i < l->nt && !*text; i++)
            if (!strcmp(l->t[i].name, name)) *text = strdup(l->t[i].text);
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", l->path, name);
    if (!imf_is_file(path)) return 0;
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    data[n] = 0;
    *text = (char *)data;
    return 0;
}

/* ---- text files */

char *imf_next_line(char **cursor) {
    char *line = *cursor;
    if (!line || !*line) return NULL;
    char *nl = strchr(line, '\n');
    *cursor = nl ? nl + 1 : line + strlen(line);
    if (nl) *nl = 0;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[len - 1] = 0;
    return line;
}

int imf_fields(char *line, char **f, int max) {
    int n = 0;
    char *save;
    for (char *tok = strtok_r(line, " \t", &save); tok && n < max; tok = strtok_r(NULL, " \t", &save)) f[n++] = tok;
    return n;
}

/* ---- classes */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmp_ref(const void *a, const void *b) {
    return strcmp(((const imf_class_ref *)a)->id, ((const imf_class_ref *)b)->id);
}

void imf_class_add(imf_class_set *cs, const char *id, size_t len) {
    cs->ids = tk_realloc(cs->ids, sizeof(char *) * (size_t)(cs->n + 1));
    cs->ids[cs->n] = strndup(id, len);
    TK_ASSERT(cs->ids[cs->n]);
    cs->n++;
}

int imf_class_index(imf_class_set *cs, const char *source, tk_error *err) {
    cs->refs = tk_malloc(sizeof *cs->refs * (size_t)(cs->n ? cs->n : 1));
    for (int i = 0; i < cs->n; i++) cs->refs[i] = (imf_class_ref){cs->ids[i], i};
    qsort(cs->refs, (size_t)cs->n, sizeof *cs->refs, cmp_ref);
    for (int i = 1; i < cs->n; i++)
        if (!strcmp(cs->refs[i].id, cs->refs[i - 1].id))
            return tk_fail(err, "%s lists class %s twice", source, cs->refs[i].id);
    return 0;
}

int imf_class_find(const imf_class_set *cs, const char *id, size_t len) {
    int lo = 0, hi = cs->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const char *s = cs->refs[mid].id;
        int c = strncmp(s, id, len);
        if (c == 0) c = s[len] ? 1 : 0;
        if (c == 0) return cs->refs[mid].index;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static void class_free(imf_class_set *cs) {
    for (int i = 0; i < cs->n; i++) free(cs->ids[i]);
    free(cs->ids);
    free(cs->refs);
    memset(cs, 0, sizeof *cs);
}

const char *imf_below(const imf_entry *e, const char *root) {
    size_t len = strlen(root);
    return strncmp(e->name, root, len) ? NULL : e->name + len;
}

int imf_classes_from_folders(const imf_listing *l, const char *root, imf_class_set *cs, tk_error *err) {
    for (size_t i = 0; i < l->n; i++) {
        const char *rest = imf_below(&l->e[i], root);
        if (!rest || !*rest || (!strchr(rest, '/') && !l->e[i].dir)) continue;
        size_t len = strcspn(rest, "/");
        /* Listings group a folder's names together: most repeats are the previous one. */
        const char *last = cs->n ? cs->ids[cs->n - 1] : NULL;
        if (!last || strlen(last) != len || strncmp(last, rest, len)) imf_class_add(cs, rest, len);
    }
    if (cs->n > 1) qsort(cs->ids, (size_t)cs->n, sizeof(char *), cmp_str); /* ids is NULL when there are none */
    int kept = 0;
    for (int i = 0; i < cs->n; i++) {
        if (kept && !strcmp(cs->ids[kept - 1], cs->ids[i])) free(cs->ids[i]);
        else cs->ids[kept++] = cs->ids[i];
    }
    cs->n = kept;
    return imf_class_index(cs, root, err);
}

/* ---- plans: which members become which examples */

void imf_plan_add(imf_plan *p, const char *key, int32_t label) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->keys = tk_realloc(p->keys, sizeof(char *) * p->cap);
        p->labels = tk_realloc(p->labels, sizeof(int32_t) * p->cap);
    }
    p->keys[p->n] = strdup(key);
    TK_ASSERT(p->keys[p->n]);
    p->labels[p->n++] = label;
}

static void plan_free(imf_plan *p) {
    for (size_t i = 0; i < p->n; i++) free(p->keys[i]);
    free(p->keys);
    free(p->labels);
    free(p->names);
}

void imf_plan_take_classes(imf_plan *p, imf_class_set *cs, char (*names)[64]) {
    p->classes = cs->n;
    p->names = names;
    if (!names) {
        p->names = tk_calloc((size_t)(cs->n ? cs->n : 1), sizeof *p->names);
        for (int c = 0; c < cs->n; c++) snprintf(p->names[c], sizeof p->names[c], "%s", cs->ids[c]);
    }
    class_free(cs);
}

int imf_cmp_keyed_key(const void *a, const void *b) {
    return strcmp(((const imf_keyed *)a)->key, ((const imf_keyed *)b)->key);
}

static int cmp_keyed_label(const void *a, const void *b) {
    const imf_keyed *x = a, *y = b;
    return x->label != y->label ? (x->label < y->label ? -1 : 1) : strcmp(x->key, y->key);
}

void imf_plan_sort(imf_plan *p) {
    imf_keyed *k = tk_malloc(sizeof *k * (p->n ? p->n : 1));
    for (size_t i = 0; i < p->n; i++) k[i] = (imf_keyed){p->keys[i], p->labels[i], i};
    qsort(k, p->n, sizeof *k, cmp_keyed_label);
    char **keys = tk_malloc(sizeof(char *) * (p->n ? p->n : 1));
    for (size_t i = 0; i < p->n; i++) keys[i] = (char *)k[i].key, p->labels[i] = k[i].label;
    free(p->keys);
    p->keys = keys;
    p->cap = p->n;
    free(k);
}

int imf_scan_split(const imf_listing *l, const char *split_root, const imf_class_set *cs, const char *classes_from,
                      bool every_class, imf_plan *p, tk_error *err) {
    size_t *count = tk_calloc((size_t)(cs->n ? cs->n : 1), sizeof(size_t));
    bool *present = tk_calloc((size_t)(cs->n ? cs->n : 1), sizeof(bool));
    int rc = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        const char *rest = imf_below(&l->e[i], split_root);
        if (!rest || !*rest) continue;
        const char *slash = strchr(rest, '/');
        int kind = l->e[i].dir ? 0 : imf_image_ext(rest);
        if (!slash && kind) {
            rc = tk_fail(err, "%s: image %s is not inside a class folder: expected %s<class>/<image>", l->path,
                         l->e[i].name, split_root);
            break;
        }
        if (!slash && !l->e[i].dir) continue; /* a README beside the class folders */
        size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
        int c = imf_class_find(cs, rest, len);
        if (c < 0) {
            rc = tk_fail(err, "%s: class folder %s%.*s is not among the classes, which come from %s: remove it, or add "
                              "it there",
                         l->path, split_root, (int)len, rest, classes_from);
            break;
        }
        present[c] = true;
        if (kind < 0)
            rc = tk_fail(err, "%s: %s is an image format ticket does not decode (JPEG and PNG only): convert it to PNG "
                              "or remove it",
                         l->path, l->e[i].name);
        else if (kind > 0) {
            if (p) imf_plan_add(p, l->e[i].name, c);
            count[c]++;
        }
    }
    for (int c = 0; c < cs->n && rc == 0; c++)
        if (present[c] && !count[c])
            rc = tk_fail(err, "%s: class folder %s%s holds no images: every class needs at least one JPEG or PNG image "
                              "(remove the folder or add images)",
                         l->path, split_root, cs->ids[c]);
        else if (every_class && !count[c])
            rc = tk_fail(err, "%s: class folder %s%s is missing, though %s lists the class: add its images or remove "
                              "it from the list",
                         l->path, split_root, cs->ids[c], classes_from);
    free(count);
    free(present);
    return rc;
}

size_t imf_images_below(const imf_listing *l, const char *root) {
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *rest = imf_below(&l->e[i], root);
        n += rest && !l->e[i].dir && imf_image_ext(rest) != 0;
    }
    return n;
}

static bool is_split_folder(const char *name, size_t len) {
    return (len == 5 && !memcmp(name, "train", 5)) || (len == 3 && !memcmp(name, "val", 3)) ||
           (len == 4 && !memcmp(name, "test", 4));
}

/* The root of a generic layout: down through folders that hold every image
 * and are neither split nor (being the last folder above images) class folders. */
static int generic_root(const imf_listing *l, char *root, size_t cap, tk_error *err) {
    root[0] = 0;
    for (;;) {
        const char *first = NULL;
        size_t first_len = 0, images = 0;
        bool shared = true, deep = true;
        for (size_t i = 0; i < l->n; i++) {
            const char *rest = imf_below(&l->e[i], root);
            if (!rest || l->e[i].dir || !imf_image_ext(rest)) continue;
            images++;
            const char *slash = strchr(rest, '/');
            if (!slash) {
                shared = false;
                continue;
            }
            if (!strchr(slash + 1, '/')) deep = false;
            if (!first) first = rest, first_len = (size_t)(slash - rest);
            else if ((size_t)(slash - rest) != first_len || strncmp(rest, first, first_len)) shared = false;
        }
        if (!images)
            return tk_fail(err, "%s: no JPEG or PNG images found (looked for <class>/<image> or "
                                "<split>/<class>/<image>, images named .jpg, .jpeg or .png)",
                           l->path);
        if (!shared || !deep || is_split_folder(first, first_len)) return 0;
        size_t len = strlen(root);
        if (len + first_len + 2 > cap) return tk_fail(err, "%s: folder names too long", l->path);
        memcpy(root + len, first, first_len);
        root[len + first_len] = '/';
        root[len + first_len + 1] = 0;
    }
}

static int plan_generic(const imf_listing *l, tk_split split, imf_plan *p, tk_error *err) {
    char root[2048], train[2100], test[2100];
    if (generic_root(l, root, sizeof root, err)) return -1;
    snprintf(train, sizeof train, "%strain/", root);
    snprintf(test, sizeof test, "%stest/", root);
    if (!imf_images_below(l, test)) snprintf(test, sizeof test, "%sval/", root);
    bool splits = imf_images_below(l, train) || imf_images_below(l, test);
    const char *class_root = splits ? train : root;
    if (splits && !imf_images_below(l, train))
        return tk_fail(err, "%s: %s holds no train/ folder of images beside %s: classes come from train/<class>/",
                       l->path, root[0] ? root : "the top level", test);
    if (split == TK_SPLIT_TEST && !splits)
        return tk_fail(err, "%s has the layout %s<class>/<image>, without split folders, so all of it is the train "
                            "split; for a test split, arrange it as %strain/<class>/ and %sval/<class>/ (or test/)",
                       l->path, root, root, root);
    if (split == TK_SPLIT_TEST && !imf_images_below(l, test))
        return tk_fail(err, "%s: no %stest/ or %sval/ folder of images for the test split", l->path, root, root);
    char from[2200];
    snprintf(from, sizeof from, "the folders in %s", class_root[0] ? class_root : "the top level");
    imf_class_set cs = {0};
    /* The train split is checked even for test: its empty class folders are errors either way. */
    int rc = imf_classes_from_folders(l, class_root, &cs, err);
    if (rc == 0) rc = imf_scan_split(l, class_root, &cs, from, true, split == TK_SPLIT_TRAIN ? p : NULL, err);
    if (rc == 0 && split == TK_SPLIT_TEST) rc = imf_scan_split(l, test, &cs, from, false, p, err);
    if (rc == 0) imf_plan_sort(p);
    imf_plan_take_classes(p, &cs, NULL);
    return rc;
}

/* ---- decoding into the output */

static int fill_from_folder(const imf_plan *p, int H, int W, tk_image_scratch *scratch, uint8_t *images,
                            tk_error *err) {
    size_t image_size = 3 * (size_t)H * (size_t)W;
    char path[8300];
    for (size_t i = 0; i < p->n; i++) {
        uint8_t *data;
        size_t n;
        snprintf(path, sizeof path, "%s/%s", p->source, p->keys[i]);
        if (tk_file_read_all(path, &data, &n, err))
            return p->listed_in[0] ? tk_fail_prefix(err, "image listed in %s: ", p->listed_in) : -1;
        int rc = tk_image_decode_fit(data, n, path, 3, H, W, scratch, images + i * image_size, err);
        free(data);
        if (rc) return -1;
    }
    return 0;
}

/* One pass over the archive in storage order; sorted keys find each member's example. */
static int fill_from_archive(const imf_plan *p, const imf_keyed *sorted, int H, int W, tk_image_scratch *scratch,
                             uint8_t *images, tk_error *err) {
    tk_archive *a = open_archive(p->source, err);
    if (!a) return -1;
    size_t image_size = 3 * (size_t)H * (size_t)W, prefix_len = p->prefix ? strlen(p->prefix) : 0;
    bool *done = tk_calloc(p->n ? p->n : 1, sizeof(bool));
    uint8_t *buf = NULL;
    size_t cap = 0, n;
    char member[4096], name[8300];
    tk_archive_member m;
    int rc = 0, r = 0;
    while (rc == 0 && (r = tk_archive_next(a, &m, err)) == 1) {
        if (!m.is_file) continue;
        normalize(m.name, member, sizeof member);
        imf_keyed probe = {member, 0, 0};
        if (prefix_len && !strncmp(member, p->prefix, prefix_len)) probe.key += prefix_len;
        const imf_keyed *hit = bsearch(&probe, sorted, p->n, sizeof *sorted, imf_cmp_keyed_key);
        if (!hit) continue;
        snprintf(name, sizeof name, "%s: member %s", p->source, member);
        rc = tk_archive_read(a, MAX_IMAGE_BYTES, &buf, &cap, &n, err);
        if (rc == 0) rc = tk_image_decode_fit(buf, n, name, 3, H, W, scratch, images + hit->at * image_size, err);
        done[hit->at] = true;
    }
    if (r < 0) rc = -1;
    size_t missing = 0, first = 0;
    for (size_t i = 0; i < p->n && rc == 0; i++)
        if (!done[i] && !missing++) first = i;
    if (rc == 0 && missing)
        rc = tk_fail(err, "%s has no member %s%s%s%s (%zu of %zu images missing)", p->source,
                     p->prefix ? p->prefix : "", p->keys[first], p->listed_in[0] ? ", listed in " : "", p->listed_in,
                     missing, p->n);
    tk_archive_close(a);
    free(buf);
    free(done);
    return rc;
}

/* Decodes every planned image into images[i] (3 x H x W). */
static int fill(const imf_plan *p, int H, int W, uint8_t *images, tk_error *err) {
    imf_keyed *k = tk_malloc(sizeof *k * (p->n ? p->n : 1));
    for (size_t i = 0; i < p->n; i++) k[i] = (imf_keyed){p->keys[i], 0, i};
    qsort(k, p->n, sizeof *k, imf_cmp_keyed_key);
    int rc = 0;
    for (size_t i = 1; i < p->n && rc == 0; i++)
        if (!strcmp(k[i].key, k[i - 1].key))
            rc = tk_fail(err, "%s: image %s is listed twice", p->listed_in[0] ? p->listed_in : p->source, k[i].key);
    tk_image_scratch scratch = {0};
    if (rc == 0)
        rc = p->archive ? fill_from_archive(p, k, H, W, &scratch, images, err)
                        : fill_from_folder(p, H, W, &scratch, images, err);
    tk_image_scratch_free(&scratch);
    free(k);
    return rc;
}

/* ---- the format */

static int imagefolder_load(const char *path, tk_split split, const tk_load_options *opt, tk_dataset *out,
                            tk_error *err) {
    TK_ASSERT(split >= 0 && split < TK_SPLIT_COUNT);
    memset(out, 0, sizeof *out);
    int H = opt && opt->height ? opt->height : DEFAULT_SIDE, W = opt && opt->width ? opt->width : DEFAULT_SIDE;
    if (H < 1 || W < 1 || H > MAX_SIDE || W > MAX_SIDE)
        return tk_fail(err, "image size %d x %d: expected each side in 1..%d (0 for the default, %d)", H, W, MAX_SIDE,
                       DEFAULT_SIDE);
    if (split == TK_SPLIT_EXTRA)
        return tk_fail(err, "%s: image folders have no extra split (train, and val or test for the test split)", path);
    imf_plan p;
    memset(&p, 0, sizeof p);
    imf_listing l;
    memset(&l, 0, sizeof l);
    int rc;
    char root[2048];
    if (imf_is_dir(path) && imf_places_root(path)) {
        rc = imf_plan_places(path, split, opt ? opt->classes : 0, &p, err);
    } else {
        rc = list_source(path, &l, err);
        snprintf(p.source, sizeof p.source, "%s", path);
        p.archive = l.archive;
        if (rc == 0 && imf_tiny_root(&l, root, sizeof root)) rc = imf_plan_tiny(&l, root, split, &p, err);
        else if (rc == 0) rc = plan_generic(&l, split, &p, err);
    }
    uint8_t *images = NULL;
    size_t image_size = 3 * (size_t)H * (size_t)W;
    if (rc == 0 && p.n == 0)
        rc = tk_fail(err, "%s: the %s split has no images", path, tk_split_names[split]);
    if (rc == 0 && p.n > (size_t)INT32_MAX)
        rc = tk_fail(err, "%s: %zu images, more than ticket holds in one dataset (%d)", path, p.n, INT32_MAX);
    if (rc == 0 && !(images = malloc(p.n * image_size + 1)))
        rc = tk_fail(err, "%s: not enough memory for %zu images of 3 x %d x %d (%.1f GB): load a smaller size", path,
                     p.n, H, W, (double)(p.n * image_size) / 1e9);
    listing_free(&l); /* the plan holds copies of the names it needs */
    if (rc == 0) rc = fill(&p, H, W, images, err);
    if (rc) {
        free(images);
        plan_free(&p);
        return -1;
    }
    out->images = images;
    out->labels = p.labels;
    p.labels = NULL;
    out->n = (int)p.n;
    out->C = 3;
    out->H = H;
    out->W = W;
    out->classes = p.classes;
    out->class_names = p.names;
    p.names = NULL;
    char name[4096];
    snprintf(name, sizeof name, "%s", path);
    for (size_t len = strlen(name); len > 1 && name[len - 1] == '/';) name[--len] = 0;
    snprintf(out->name, sizeof out->name, "%s", imf_base_name(name));
    plan_free(&p);
    return 0;
}

/* A cheap look for an image inside some folder at most `levels` below path
 * (images directly in path count only when path is itself `inside` one);
 * `budget` bounds the folder entries read. */
static bool images_in_folders(const char *path, bool inside, int levels, int *budget) {
    DIR *d = opendir(path);
    if (!d) return false;
    bool found = false;
    for (struct dirent *de; !found && *budget > 0 && (de = readdir(d)) != NULL; (*budget)--) {
        if (junk_component(de->d_name, strlen(de->d_name))) continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, de->d_name);
        if (inside && imf_image_ext(de->d_name) > 0) found = imf_is_file(child);
        else if (levels > 0 && imf_is_dir(child)) found = images_in_folders(child, true, levels - 1, budget);
    }
    closedir(d);
    return found;
}

static int imagefolder_detect(const char *path) {
    if (imf_is_dir(path)) {
        char file[4096];
        snprintf(file, sizeof file, "%s/wnids.txt", path);
        bool tiny = imf_is_file(file);
        snprintf(file, sizeof file, "%s/val/val_annotations.txt", path);
        if (tiny || imf_is_file(file) || imf_places_root(path)) return 30;
        int budget = 2000;
        return images_in_folders(path, false, 3, &budget) ? 10 : 0; /* wrapper/split/class/image */
    }
    if (!imf_is_file(path)) return 0;
    tk_archive *a = open_archive(path, NULL);
    if (!a) return 0;
    tk_archive_member m;
    char name[4096];
    int score = 0;
    /* Image datasets show an image within their first members; another
     * format's big members (CIFAR's 30 MB batches) are not read through. */
    while (!score && tk_archive_consumed(a) < DETECT_BYTES && tk_archive_next(a, &m, NULL) == 1) {
        if (!m.is_file) continue;
        normalize(m.name, name, sizeof name);
        if (junk_name(name)) continue;
        if (strchr(name, '/') && imf_image_ext(name) > 0) score = 10;
    }
    tk_archive_close(a);
    return score;
}

const tk_format tk_format_imagefolder = {
    .name = "imagefolder",
    .description = "JPEG/PNG images in class folders (a folder, .zip, .tar or .tar.gz): generic train|val/<class>/, "
                   "Tiny ImageNet 200, Imagenette/Imagewoof, Places365",
    .detect = imagefolder_detect,
    .load = imagefolder_load,
};
