/* cifar.c - CIFAR-10 and CIFAR-100, the "binary version" of
 * https://www.cs.toronto.edu/~kriz/cifar.html, read straight from the
 * .tar.gz as downloaded or from its extracted folder.
 *
 * cifar-10-binary.tar.gz: cifar-10-batches-bin/{data_batch_1..5.bin,
 * test_batch.bin, batches.meta.txt, readme.html}. A record is 1 label byte
 * then 3072 pixel bytes: the 32x32 red plane, then green, then blue, each
 * row-major, which is already ticket's [C, H, W] layout.
 * cifar-100-binary.tar.gz: cifar-100-binary/{train.bin, test.bin,
 * coarse_label_names.txt, fine_label_names.txt}. A record is the coarse
 * (20 superclasses) label byte, the fine (100 classes) label byte, then the
 * same 3072 pixel bytes; tk_load_options.coarse_labels picks the coarse one.
 *
 * Class names come from the .txt files, one per line (trailing blank lines
 * are ignored); their count is the class count, and every label byte of every
 * record must be below it. Record counts come from file sizes, so subsets
 * load: CIFAR-10's train split is data_batch_1 .. data_batch_k for any k >= 1
 * (a gap in the numbering means a lost file and is an error), in that order.
 *
 * Archive members are matched by file name in whatever folder they sit (so a
 * repack loads too) and the archive is streamed once: each member of the
 * requested split is read whole into its own buffer, and its records are
 * split into pixels and labels in place at the end. */
#define _POSIX_C_SOURCE 200809L
#include "tk_archive.h"
#include "tk_data.h"
#include "tk_file.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SIDE 32
#define PIXELS (3 * SIDE * SIDE)
#define MAX_BATCHES 16 /* CIFAR-10 has 5 train batches */
#define MAX_NAMES_BYTES (1 << 20)
#define MAX_RECORDS 60000 /* in one file: CIFAR-100's train.bin has 50000 */

typedef struct cifar_layout {
    const char *format;             /* "cifar10" */
    const char *title;              /* "CIFAR-10" */
    const char *folder;             /* what the archive unpacks to */
    const char *archive;            /* the file name as downloaded */
    int label_bytes;                /* per record, before the pixels */
    const char *name_files[2];      /* class names for each label byte */
    const char *label_kinds[2];     /* what messages call each label byte */
    const char *train_prefix;       /* "data_batch_" for numbered batches, or NULL */
    const char *train_file;         /* the single train file when not numbered */
    const char *test_file;
    const char *contents;           /* for messages: what the folder must hold */
} cifar_layout;

static const cifar_layout cifar10 = {
    .format = "cifar10",
    .title = "CIFAR-10",
    .folder = "cifar-10-batches-bin",
    .archive = "cifar-10-binary.tar.gz",
    .label_bytes = 1,
    .name_files = {"batches.meta.txt"},
    .label_kinds = {"label"},
    .train_prefix = "data_batch_",
    .test_file = "test_batch.bin",
    .contents = "data_batch_1.bin .. data_batch_5.bin, test_batch.bin and batches.meta.txt",
};

static const cifar_layout cifar100 = {
    .format = "cifar100",
    .title = "CIFAR-100",
    .folder = "cifar-100-binary",
    .archive = "cifar-100-binary.tar.gz",
    .label_bytes = 2,
    .name_files = {"coarse_label_names.txt", "fine_label_names.txt"},
    .label_kinds = {"coarse label", "fine label"},
    .train_file = "train.bin",
    .test_file = "test.bin",
    .contents = "train.bin, test.bin, coarse_label_names.txt and fine_label_names.txt",
};

/* What a member is to a load of one split. */
typedef enum member_role { ROLE_OTHER, ROLE_DATA, ROLE_NAMES } member_role;

typedef struct part {
    uint8_t *bytes;
    size_t size;
    char name[512];    /* the member's name or the file's path */
    char source[1024]; /* "archive: member name" or the file's path: what messages about it start with */
} part;

typedef struct cifar_state {
    const cifar_layout *L;
    const char *path;
    tk_split split;
    part data[MAX_BATCHES + 1]; /* by batch number; index 1 for a single file */
    part names[2];              /* by label byte */
    const char *other_version;  /* set when the python or MATLAB version shows up */
} cifar_state;

/* The role of a file called `base` for this load; *index gets the batch
 * number (1 for a single file) or the label byte. */
static member_role member_role_of(const cifar_state *s, const char *base, int *index) {
    const cifar_layout *L = s->L;
    for (int j = 0; j < L->label_bytes; j++)
        if (!strcmp(base, L->name_files[j])) return *index = j, ROLE_NAMES;
    if (s->split == TK_SPLIT_TEST) return !strcmp(base, L->test_file) ? (*index = 1, ROLE_DATA) : ROLE_OTHER;
    if (!L->train_prefix) return !strcmp(base, L->train_file) ? (*index = 1, ROLE_DATA) : ROLE_OTHER;
    size_t p = strlen(L->train_prefix);
    if (strncmp(base, L->train_prefix, p) || base[p] < '1' || base[p] > '9') return ROLE_OTHER;
    char *end;
    long k = strtol(base + p, &end, 10);
    if (strcmp(end, ".bin")) return ROLE_OTHER;
    *index = k > MAX_BATCHES ? MAX_BATCHES + 1 : (int)k; /* rejected by the caller, with the name */
    return ROLE_DATA;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Remembers that the user has another CIFAR version, for the hint when
 * nothing of the binary version turns up. */
static void note_other_version(cifar_state *s, const char *name) {
    if (strstr(name, "batches-py") || strstr(name, "100-python") || strstr(name, "-python.tar"))
        s->other_version = "the python version, with pickled batches";
    if (strstr(name, "batches-mat") || strstr(name, "100-matlab") || strstr(name, "-matlab.tar"))
        s->other_version = "the MATLAB version";
}

/* Claims for member `name` of `archive` (or, when archive is NULL, the file
 * `name`) the part it fills for this load, after checking its size; *out
 * gets the part, to read the bytes into. */
static int claim_part(cifar_state *s, member_role role, int index, const char *archive, const char *name,
                      int64_t size, part **out, tk_error *err) {
    const cifar_layout *L = s->L;
    char source_desc[1024];
    if (archive) snprintf(source_desc, sizeof source_desc, "%s: member %s", archive, name);
    else snprintf(source_desc, sizeof source_desc, "%s", name);
    if (role == ROLE_DATA && index > MAX_BATCHES)
        return tk_fail(err, "%s: batch number above %d; %s has data_batch_1.bin .. data_batch_5.bin", source_desc,
                       MAX_BATCHES, L->title);
    part *p = role == ROLE_DATA ? &s->data[index] : &s->names[index];
    if (p->name[0])
        return tk_fail(err, "%s: two files named %s: %s and %s; keep one", s->path, base_name(name), p->name, name);
    size_t record = (size_t)L->label_bytes + PIXELS;
    if (role == ROLE_DATA && size > 0 && (uint64_t)size / record > MAX_RECORDS)
        return tk_fail(err, "%s is %lld bytes, more than the %d %zu-byte records a %s file holds: it is not %s; "
                            "download %s again",
                       source_desc, (long long)size, MAX_RECORDS, record, L->title, L->title, L->archive);
    if (role == ROLE_DATA && (size <= 0 || (uint64_t)size % record))
        return tk_fail(err, "%s is %s%lld bytes, expected a whole number of %zu-byte %s records (%d label byte%s + "
                            "%d pixels): the file is damaged or cut short; download %s again",
                       source_desc, size <= 0 ? "empty, " : "", (long long)size, record, L->title, L->label_bytes,
                       L->label_bytes > 1 ? "s" : "", PIXELS, L->archive);
    if (role == ROLE_NAMES && (size < 0 || size > MAX_NAMES_BYTES))
        return tk_fail(err, "%s is %lld bytes, expected a short text file of class names", source_desc,
                       (long long)size);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->source, sizeof p->source, "%s", source_desc);
    *out = p;
    return 0;
}

static int read_archive(cifar_state *s, tk_error *err) {
    char expected[128], fix[128];
    snprintf(expected, sizeof expected, "%s as downloaded, or its extracted folder", s->L->archive);
    snprintf(fix, sizeof fix, "download %s again", s->L->archive);
    tk_archive *a = tk_archive_open(s->path, TK_ARCHIVE_ANY, expected, fix, err);
    if (!a) return -1;
    tk_archive_member m;
    int r;
    while ((r = tk_archive_next(a, &m, err)) == 1) {
        note_other_version(s, m.name);
        int index;
        member_role role = m.is_file ? member_role_of(s, base_name(m.name), &index) : ROLE_OTHER;
        if (role == ROLE_OTHER) continue;
        part *p;
        size_t cap = 0;
        size_t max = role == ROLE_DATA ? MAX_RECORDS * ((size_t)s->L->label_bytes + PIXELS) : MAX_NAMES_BYTES;
        if (claim_part(s, role, index, s->path, m.name, m.size, &p, err) ||
            tk_archive_read(a, max, &p->bytes, &cap, &p->size, err)) {
            r = -1;
            break;
        }
    }
    tk_archive_close(a);
    return r;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The folder holding the files: path/<L->folder> when path is the folder
 * the archive was extracted into, else path itself. */
static void data_folder(const cifar_layout *L, const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", path, L->folder);
    if (!is_dir(out)) snprintf(out, cap, "%s", path);
}

static int read_folder(cifar_state *s, tk_error *err) {
    char dir[4096];
    data_folder(s->L, s->path, dir, sizeof dir);
    note_other_version(s, dir);
    DIR *d = opendir(dir);
    if (!d) return tk_fail(err, "cannot open folder %s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *ent;
    while (!rc && (ent = readdir(d))) {
        note_other_version(s, ent->d_name);
        int index;
        member_role role = member_role_of(s, ent->d_name, &index);
        if (role == ROLE_OTHER) continue;
        char file[4400];
        snprintf(file, sizeof file, "%s/%s", dir, ent->d_name);
        struct stat st;
        if (stat(file, &st) != 0) {
            rc = tk_fail(err, "cannot open %s: %s", file, strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
            part *p;
            rc = claim_part(s, role, index, NULL, file, (int64_t)st.st_size, &p, err);
            if (rc == 0) rc = tk_file_read_all(file, &p->bytes, &p->size, err);
        }
    }
    closedir(d);
    return rc;
}

/* Which required files did not turn up, as "a, b"; empty when none. */
static void list_missing(const cifar_state *s, int *batches, char *out, size_t cap) {
    const cifar_layout *L = s->L;
    size_t at = 0;
    out[0] = 0;
    int highest = 0;
    for (int k = 1; k <= MAX_BATCHES; k++)
        if (s->data[k].bytes) highest = k;
    *batches = highest;
    char name[64];
    for (int k = 1; k <= (highest ? highest : 1); k++) {
        if (s->data[k].bytes) continue;
        if (s->split == TK_SPLIT_TEST) snprintf(name, sizeof name, "%s", L->test_file);
        else if (L->train_prefix) snprintf(name, sizeof name, "%s%d.bin", L->train_prefix, k);
        else snprintf(name, sizeof name, "%s", L->train_file);
        at += (size_t)snprintf(out + at, at < cap ? cap - at : 0, "%s%s", at ? ", " : "", name);
    }
    for (int j = 0; j < L->label_bytes; j++)
        if (!s->names[j].bytes)
            at += (size_t)snprintf(out + at, at < cap ? cap - at : 0, "%s%s", at ? ", " : "", L->name_files[j]);
}

/* One class name per line; the count of lines (but trailing blank ones) is
 * the count of classes. */
static int parse_names(const part *p, char (**names)[64], int *count, tk_error *err) {
    char *text = (char *)p->bytes;
    text[p->size] = 0;
    int lines = 0, last_nonblank = 0;
    for (char *c = text; *c; c++) lines += *c == '\n';
    lines++; /* a last line without '\n' */
    *names = tk_calloc((size_t)lines, sizeof **names);
    int line = 0;
    for (char *c = text; line < lines; line++) {
        char *eol = strchr(c, '\n');
        char *end = eol ? eol : c + strlen(c);
        char *start = c;
        while (start < end && (*start == ' ' || *start == '\t')) start++;
        while (end > start && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) end--;
        size_t len = (size_t)(end - start);
        if (len >= sizeof **names) {
            free(*names);
            *names = NULL;
            return tk_fail(err, "%s: line %d is a class name of %zu characters, more than %zu", p->source, line + 1,
                           len, sizeof **names - 1);
        }
        memcpy((*names)[line], start, len);
        if (len) last_nonblank = line + 1;
        c = eol ? eol + 1 : end;
    }
    for (int i = 0; i < last_nonblank; i++)
        if (!(*names)[i][0]) {
            free(*names);
            *names = NULL;
            return tk_fail(err, "%s: line %d is blank, expected one class name per line", p->source, i + 1);
        }
    if (!last_nonblank) {
        free(*names);
        *names = NULL;
        return tk_fail(err, "%s: no class names, expected one per line", p->source);
    }
    *count = last_nonblank;
    return 0;
}

/* Checks every label byte of p's records, copies the `pick`ed one to
 * labels[] and slides the pixels down over the label bytes, in place:
 * record i's pixels go to [i*3072, (i+1)*3072), which starts at or before
 * where they are and ends before any later record's label bytes. */
static int split_records(const cifar_layout *L, part *p, const int *classes, int pick, int32_t *labels,
                         tk_error *err) {
    size_t stride = (size_t)L->label_bytes + PIXELS, n = p->size / stride;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *rec = p->bytes + i * stride;
        for (int j = 0; j < L->label_bytes; j++)
            if (rec[j] >= classes[j])
                return tk_fail(err, "%s: record %zu (byte offset %zu) has %s %d, expected 0..%d (%s lists %d "
                                    "classes): the file is damaged or is not %s",
                               p->source, i, i * stride + (size_t)j, L->label_kinds[j], rec[j], classes[j] - 1,
                               L->name_files[j], classes[j], L->title);
        labels[i] = rec[pick];
        memmove(p->bytes + i * PIXELS, rec + L->label_bytes, PIXELS);
    }
    return 0;
}

static int cifar_load(const cifar_layout *L, const char *path, tk_split split, const tk_load_options *opt,
                      tk_dataset *out, tk_error *err) {
    memset(out, 0, sizeof *out);
    if (split != TK_SPLIT_TRAIN && split != TK_SPLIT_TEST)
        return tk_fail(err, "%s: %s has train and test splits only, not %s", path, L->title, tk_split_names[split]);
    cifar_state *s = tk_calloc(1, sizeof *s);
    s->L = L;
    s->path = path;
    s->split = split;
    int pick = L->label_bytes == 2 && !(opt && opt->coarse_labels) ? 1 : 0;
    char (*names[2])[64] = {NULL, NULL};
    int classes[2] = {0, 0};
    int rc = -1;
    if (is_dir(path) ? read_folder(s, err) : read_archive(s, err)) goto done;

    int batches;
    char missing[512];
    list_missing(s, &batches, missing, sizeof missing);
    if (missing[0]) {
        char hint[256] = "";
        if (s->other_version)
            snprintf(hint, sizeof hint, " (this looks like %s; ticket reads the binary version)", s->other_version);
        tk_fail(err, "%s: no %s%s; the %s binary version holds %s (each may hold fewer records). Download %s from "
                     "https://www.cs.toronto.edu/~kriz/cifar.html",
                path, missing, hint, L->title, L->contents, L->archive);
        goto done;
    }
    for (int j = 0; j < L->label_bytes; j++)
        if (parse_names(&s->names[j], &names[j], &classes[j], err)) goto done;

    size_t stride = (size_t)L->label_bytes + PIXELS, total = 0;
    for (int k = 1; k <= batches; k++) total += s->data[k].size / stride;
    if (total > (size_t)INT32_MAX) {
        tk_fail(err, "%s: %zu records, more than ticket supports", path, total);
        goto done;
    }
    out->labels = tk_malloc(sizeof(int32_t) * total);
    size_t at = 0;
    for (int k = 1; k <= batches; k++) {
        part *p = &s->data[k];
        size_t n = p->size / stride;
        if (split_records(L, p, classes, pick, out->labels + at, err)) goto done;
        if (k == 1) {
            /* The first batch's buffer becomes the output, so the 150 MB of
             * CIFAR-10's train split is copied once, not twice. */
            uint8_t *grown = tk_realloc(p->bytes, total * PIXELS);
            out->images = grown;
            p->bytes = NULL;
        } else {
            memcpy(out->images + at * PIXELS, p->bytes, n * PIXELS);
            free(p->bytes);
            p->bytes = NULL;
        }
        at += n;
    }
    out->n = (int)total;
    out->C = 3;
    out->H = out->W = SIDE;
    out->classes = classes[pick];
    out->class_names = names[pick];
    names[pick] = NULL;
    snprintf(out->name, sizeof out->name, "%s", L->format);
    rc = 0;
done:
    if (rc) {
        free(out->images);
        free(out->labels);
        memset(out, 0, sizeof *out);
    }
    for (int k = 0; k <= MAX_BATCHES; k++) free(s->data[k].bytes);
    for (int j = 0; j < 2; j++) free(s->names[j].bytes), free(names[j]);
    free(s);
    return rc;
}

/* Cheap: a folder's names, or an archive's first member header (the
 * folder every member of the real archives sits in). A file named like the
 * download scores low even when it cannot be opened, so that loading it
 * explains what is wrong. */
static int cifar_detect(const cifar_layout *L, const char *path) {
    char buf[4400];
    if (is_dir(path)) {
        snprintf(buf, sizeof buf, "%s/%s", path, L->folder);
        if (is_dir(buf)) return 100;
        snprintf(buf, sizeof buf, "%s/%s", path, L->name_files[L->label_bytes - 1]);
        struct stat st;
        return stat(buf, &st) == 0 && S_ISREG(st.st_mode) ? 90 : 0;
    }
    int score = !strcmp(base_name(path), L->archive) ? 10 : 0;
    tk_archive *a = tk_archive_open(path, TK_ARCHIVE_ANY, L->archive, "", NULL);
    tk_archive_member m;
    if (a && tk_archive_next(a, &m, NULL) == 1) {
        const char *name = m.name;
        if (!strncmp(name, "./", 2)) name += 2;
        size_t n = strlen(L->folder);
        if (!strncmp(name, L->folder, n) && (name[n] == '/' || name[n] == 0)) score = 100;
    }
    tk_archive_close(a);
    return score;
}

static int cifar10_detect(const char *path) { return cifar_detect(&cifar10, path); }
static int cifar100_detect(const char *path) { return cifar_detect(&cifar100, path); }

static int cifar10_load(const char *path, tk_split split, const tk_load_options *opt, tk_dataset *out,
                        tk_error *err) {
    return cifar_load(&cifar10, path, split, opt, out, err);
}

static int cifar100_load(const char *path, tk_split split, const tk_load_options *opt, tk_dataset *out,
                         tk_error *err) {
    return cifar_load(&cifar100, path, split, opt, out, err);
}

const tk_format tk_format_cifar10 = {
    .name = "cifar10",
    .description = "CIFAR-10 binary version (cifar-10-binary.tar.gz or cifar-10-batches-bin/)",
    .detect = cifar10_detect,
    .load = cifar10_load,
};

const tk_format tk_format_cifar100 = {
    .name = "cifar100",
    .description = "CIFAR-100 binary version (cifar-100-binary.tar.gz or cifar-100-binary/); fine or coarse labels",
    .detect = cifar100_detect,
    .load = cifar100_load,
};
