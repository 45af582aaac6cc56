/* catalog.c - datasets/catalog/NAME.json: what ticket knows about each
 * dataset, where its files are looked for, and their checksums.
 *
 * Keys of a catalog file (anything else is an error naming the key):
 *   name        the dataset's name, equal to the file name without .json
 *   title       a human title ("Fashion-MNIST")
 *   format      the tk_format that reads it ("idx", "cifar10", ...)
 *   locations   what to look for under each data root, in order of preference:
 *               a file, folder or archive, e.g. ["cifar-10-binary.tar.gz", "cifar-10-batches-bin"]
 *   classes     the number of classes
 *   class_names [optional] one name per class, in label order
 *   shape       [optional] [C, H, W] of the images as loaded; null or absent when sizes vary
 *   splits      {"train": N, "test": N, "extra": N}: images per split of the full dataset
 *   stats       [optional] {"mean": [...], "std": [...], "source": "..."}: per-channel, on
 *               pixels scaled to [0,1], population std; source says how they were obtained
 *   files       [optional] the distributed files: [{"path", "split", "versions", "gunzipped"}]
 *               path: relative to the data root, inside one of the locations
 *               split: "train" | "test" | "extra"; absent when the file serves every split
 *               versions: [{"size", "sha256", "md5", "source"}]: each version the file is
 *                 published in (any one matching passes); a field left out is not pinned
 *               gunzipped: {"size", "sha256", "md5"} of a .gz file's content
 *   license, citation, url, how_to_get: text for people
 *   downloads   [optional] direct download addresses
 *   notes       [optional] anything else a user should know */
#define _GNU_SOURCE /* strdup */
#include "tk_catalog.h"
#include "tk_file.h"
#include "tk_json.h"

#include <archive.h>
#include <archive_entry.h>
#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const tk_verify_status_names[] = {"PASS", "FAIL", "MISSING", "UNPINNED"};
_Static_assert(sizeof tk_verify_status_names / sizeof tk_verify_status_names[0] == TK_VERIFY_COUNT,
               "verify status name table");

/* ---- parsing */

/* Text fields for people, of any length: a copy the entry owns. 1, 0 (absent, optional) or -1. */
static int get_text(const tk_json_at *at, const cJSON *obj, const char *key, const char *required, char **out,
                    tk_error *err) {
    const char *text;
    int got = tk_json_text(at, obj, key, required, &text, err);
    if (got == 1) {
        *out = strdup(text);
        TK_ASSERT(*out);
    }
    return got;
}

/* The array's non-empty strings into a fresh char[n][width] table. */
static int get_string_table(const tk_json_at *at, const cJSON *obj, const char *key, const char *required,
                            size_t width, char **table, int *n, tk_error *err) {
    const cJSON *arr;
    int got = tk_json_array(at, obj, key, required, INT_MAX, &arr, err);
    *table = NULL;
    *n = 0;
    if (got <= 0) return got;
    tk_json_at aat = tk_json_key(at, key);
    int count = cJSON_GetArraySize(arr);
    if (count == 0) return tk_json_wrong(&aat, arr, "a non-empty array", err);
    char *t = tk_calloc((size_t)count, width);
    int i = 0;
    for (const cJSON *v = arr->child; v; v = v->next, i++) {
        tk_json_at iat = tk_json_index(&aat, i);
        if (tk_json_string(&iat, v, NULL, "a non-empty string", t + (size_t)i * width, width, err) < 0) {
            free(t);
            return -1;
        }
    }
    *table = t;
    *n = count;
    return 1;
}

static bool is_hex(const char *s, size_t len) {
    if (strlen(s) != len) return false;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return false;
    return true;
}

static int get_hash(const tk_json_at *at, const cJSON *obj, const char *key, size_t len, char *out, tk_error *err) {
    const char *hex;
    out[0] = 0;
    int got = tk_json_text(at, obj, key, NULL, &hex, err);
    if (got <= 0) return got;
    if (!is_hex(hex, len)) {
        char expected[64];
        snprintf(expected, sizeof expected, "%zu lower-case hex digits", len);
        tk_json_at hat = tk_json_key(at, key);
        return tk_json_wrong(&hat, cJSON_GetObjectItemCaseSensitive(obj, key), expected, err);
    }
    memcpy(out, hex, len + 1);
    return 1;
}

static int parse_checksum(const tk_json_at *at, const cJSON *v, bool with_source, tk_checksum *out, tk_error *err) {
    static const char *const keys[] = {"size", "sha256", "md5", "source"};
    if (!cJSON_IsObject(v)) return tk_json_wrong(at, v, "an object", err);
    if (tk_json_check_keys(at, v, keys, with_source ? 4 : 3, err)) return -1;
    memset(out, 0, sizeof *out);
    out->size = -1;
    int has_size = tk_json_int64(at, v, "size", NULL, 0, INT64_C(1) << 50, &out->size, err);
    if (has_size < 0 || get_hash(at, v, "sha256", 64, out->sha256, err) < 0 ||
        get_hash(at, v, "md5", 32, out->md5, err) < 0)
        return -1;
    if (with_source && tk_json_string(at, v, "source", NULL, out->source, sizeof out->source, err) < 0) return -1;
    if (!has_size && !out->sha256[0] && !out->md5[0])
        return tk_json_fail(at, err, "pins nothing: give at least one of size, sha256, md5");
    return 0;
}

/* A relative path that stays under the data root: no leading '/', no "..". */
static bool safe_relative(const char *p) {
    if (p[0] == '/') return false;
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == 0 || s[2] == '/')) return false;
    return true;
}

bool tk_catalog_inside(const char *path, const char *location) {
    size_t n = strlen(location);
    return !strncmp(path, location, n) && (path[n] == 0 || path[n] == '/');
}

static int parse_file(const tk_json_at *at, const cJSON *v, tk_catalog_entry *e, tk_catalog_file *f, tk_error *err) {
    static const char *const keys[] = {"path", "split", "versions", "gunzipped"};
    if (!cJSON_IsObject(v)) return tk_json_wrong(at, v, "an object", err);
    if (tk_json_check_keys(at, v, keys, TK_ARRAY_LEN(keys), err) ||
        tk_json_string(at, v, "path", "the file's path under a data root", f->path, sizeof f->path, err) < 0)
        return -1;
    tk_json_at pat = tk_json_key(at, "path");
    bool in_location = false;
    for (int i = 0; i < e->n_locations && !in_location; i++) in_location = tk_catalog_inside(f->path, e->locations[i]);
    if (!safe_relative(f->path) || !in_location)
        return tk_json_fail(&pat, err, "is \"%s\", which is not inside any of the locations (%s%s): a file's path "
                                       "starts with the location that holds it",
                            f->path, e->locations[0], e->n_locations > 1 ? ", ..." : "");
    f->split = -1;
    if (tk_json_name(at, v, "split", NULL, "split", tk_split_names, TK_SPLIT_COUNT, &f->split, err) < 0) return -1;
    const cJSON *versions;
    int got = tk_json_array(at, v, "versions", NULL, INT_MAX, &versions, err);
    if (got < 0) return -1;
    if (got) {
        tk_json_at vat = tk_json_key(at, "versions");
        f->n_versions = cJSON_GetArraySize(versions);
        f->versions = tk_calloc((size_t)(f->n_versions ? f->n_versions : 1), sizeof *f->versions);
        int i = 0;
        for (const cJSON *ver = versions->child; ver; ver = ver->next, i++) {
            tk_json_at iat = tk_json_index(&vat, i);
            if (parse_checksum(&iat, ver, true, &f->versions[i], err)) return -1;
        }
    }
    const cJSON *gz = cJSON_GetObjectItemCaseSensitive(v, "gunzipped");
    if (gz && !cJSON_IsNull(gz)) {
        tk_json_at gat = tk_json_key(at, "gunzipped");
        size_t len = strlen(f->path);
        if (len < 4 || strcmp(f->path + len - 3, ".gz"))
            return tk_json_fail(&gat, err, "is given, but only a .gz file has gunzipped content, and \"%s\" does not "
                                           "end in .gz",
                                f->path);
        if (parse_checksum(&gat, gz, false, &f->gunzipped, err)) return -1;
        f->has_gunzipped = true;
    }
    return 0;
}

static int parse_stats(const tk_json_at *root, const cJSON *v, tk_catalog_entry *e, tk_error *err) {
    static const char *const keys[] = {"mean", "std", "source"};
    tk_json_at at = tk_json_key(root, "stats");
    if (!cJSON_IsObject(v)) return tk_json_wrong(&at, v, "an object", err);
    const cJSON *mean, *std;
    if (tk_json_check_keys(&at, v, keys, TK_ARRAY_LEN(keys), err) ||
        tk_json_array(&at, v, "mean", "per-channel means", TK_CATALOG_MAX_CHANNELS, &mean, err) < 0 ||
        tk_json_array(&at, v, "std", "per-channel standard deviations", TK_CATALOG_MAX_CHANNELS, &std, err) < 0)
        return -1;
    int n = cJSON_GetArraySize(mean);
    int want = e->C ? e->C : n;
    if (n != want || cJSON_GetArraySize(std) != want || n < 1)
        return tk_json_fail(&at, err, "needs one mean and one std per channel (%d), not %d and %d", want, n,
                            cJSON_GetArraySize(std));
    for (int i = 0; i < n; i++) {
        const cJSON *m = cJSON_GetArrayItem(mean, i), *s = cJSON_GetArrayItem(std, i);
        if (!cJSON_IsNumber(m) || !cJSON_IsNumber(s) || m->valuedouble < 0 || m->valuedouble > 1 ||
            s->valuedouble <= 0 || s->valuedouble > 1)
            return tk_json_fail(&at, err, "channel %d: expected a mean in [0,1] and a std in (0,1] (pixels scaled to "
                                          "[0,1])",
                                i);
        e->mean[i] = (float)m->valuedouble;
        e->std[i] = (float)s->valuedouble;
    }
    e->stats_channels = n;
    return get_text(&at, v, "source", "how the values were obtained", &e->stats_source, err) < 0 ? -1 : 0;
}

static int parse_entry(const tk_json_at *at, const cJSON *root, tk_catalog_entry *e, tk_error *err) {
    static const char *const keys[] = {"name",  "title",   "format",  "locations", "classes",  "class_names",
                                       "shape", "splits",  "stats",   "files",     "license",  "citation",
                                       "url",   "how_to_get", "downloads", "notes"};
    if (!cJSON_IsObject(root)) return tk_json_wrong(at, root, "a JSON object", err);
    char *locations;
    if (tk_json_check_keys(at, root, keys, TK_ARRAY_LEN(keys), err) ||
        tk_json_string(at, root, "name", "the dataset's name", e->name, sizeof e->name, err) < 0 ||
        tk_json_string(at, root, "title", "a human title", e->title, sizeof e->title, err) < 0 ||
        tk_json_string(at, root, "format", "the tk_format that reads it", e->format, sizeof e->format, err) < 0 ||
        get_string_table(at, root, "locations", "what to look for under each data root", sizeof *e->locations,
                         &locations, &e->n_locations, err) < 0)
        return -1;
    e->locations = (char(*)[256])locations;
    tk_json_at lat = tk_json_key(at, "locations");
    for (int i = 0; i < e->n_locations; i++)
        if (!safe_relative(e->locations[i])) {
            tk_json_at iat = tk_json_index(&lat, i);
            return tk_json_fail(&iat, err, "is \"%s\": it must be relative to the data root, without ..",
                                e->locations[i]);
        }
    if (tk_json_int(at, root, "classes", "the number of classes", 1, TK_MAX_CLASSES, &e->classes, err) < 0) return -1;

    char *names;
    int n_names;
    if (get_string_table(at, root, "class_names", NULL, sizeof *e->class_names, &names, &n_names, err) < 0) return -1;
    e->class_names = (char(*)[64])names;
    if (names && n_names != e->classes) {
        tk_json_at nat = tk_json_key(at, "class_names");
        return tk_json_fail(&nat, err, "holds %d names for %d classes", n_names, e->classes);
    }

    const cJSON *shape;
    int got = tk_json_array(at, root, "shape", NULL, INT_MAX, &shape, err);
    if (got < 0) return -1;
    if (got) {
        int dims[3] = {0}, i = 0;
        bool ok = cJSON_GetArraySize(shape) == 3;
        for (const cJSON *d = shape->child; d && ok; d = d->next, i++) {
            ok = cJSON_IsNumber(d) && tk_whole_in(d->valuedouble, 1, 65536);
            if (ok) dims[i] = (int)d->valuedouble;
        }
        if (!ok || dims[0] > TK_CATALOG_MAX_CHANNELS) {
            char expected[128];
            snprintf(expected, sizeof expected, "[C, H, W] with 1 <= C <= %d and positive H, W (null when image "
                     "sizes vary)", TK_CATALOG_MAX_CHANNELS);
            tk_json_at sat = tk_json_key(at, "shape");
            return tk_json_wrong(&sat, shape, expected, err);
        }
        e->C = dims[0], e->H = dims[1], e->W = dims[2];
    }

    const cJSON *splits;
    if (tk_json_object(at, root, "splits", "images per split, e.g. {\"train\": 50000, \"test\": 10000}", &splits, err) < 0)
        return -1;
    tk_json_at sat = tk_json_key(at, "splits");
    if (!splits->child) return tk_json_wrong(&sat, splits, "a non-empty object", err);
    if (tk_json_check_keys(&sat, splits, tk_split_names, TK_SPLIT_COUNT, err)) return -1;
    for (int s = 0; s < TK_SPLIT_COUNT; s++) {
        e->split_n[s] = -1;
        if (tk_json_int(&sat, splits, tk_split_names[s], NULL, 0, INT_MAX, &e->split_n[s], err) < 0) return -1;
    }

    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(root, "stats");
    if (stats && !cJSON_IsNull(stats) && parse_stats(at, stats, e, err)) return -1;

    const cJSON *files;
    if ((got = tk_json_array(at, root, "files", NULL, INT_MAX, &files, err)) < 0) return -1;
    if (got) {
        tk_json_at fat = tk_json_key(at, "files");
        e->n_files = cJSON_GetArraySize(files);
        e->files = tk_calloc((size_t)(e->n_files ? e->n_files : 1), sizeof *e->files);
        int i = 0;
        for (const cJSON *f = files->child; f; f = f->next, i++) {
            tk_json_at iat = tk_json_index(&fat, i);
            if (parse_file(&iat, f, e, &e->files[i], err)) return -1;
        }
    }

    char *downloads;
    if (get_text(at, root, "license", "the licence or terms of use", &e->license, err) < 0 ||
        get_text(at, root, "citation", "the paper to cite", &e->citation, err) < 0 ||
        get_text(at, root, "url", "the dataset's home page", &e->url, err) < 0 ||
        get_text(at, root, "how_to_get", "how a user gets the files", &e->how_to_get, err) < 0 ||
        get_text(at, root, "notes", NULL, &e->notes, err) < 0 ||
        get_string_table(at, root, "downloads", NULL, sizeof *e->downloads, &downloads, &e->n_downloads, err) < 0)
        return -1;
    e->downloads = (char(*)[512])downloads;
    return 0;
}

int tk_catalog_parse(const char *json, const char *source, tk_catalog_entry *out, tk_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "%s", source);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, true);
    if (!root) {
        int line = 1;
        const char *at = end ? end : json;
        for (const char *p = json; p < at; p++) line += *p == '\n';
        return tk_fail(err, "%s: not valid JSON (line %d, near \"%.20s\")", source, line, at);
    }
    /* A catalog file may spell out an optional key it leaves unset as null ("shape": null). */
    tk_json_at at = tk_json_root(source);
    at.null_is_absent = true;
    int rc = parse_entry(&at, root, out, err);
    cJSON_Delete(root);
    if (rc) tk_catalog_entry_free(out);
    return rc;
}

void tk_catalog_entry_free(tk_catalog_entry *e) {
    if (!e) return;
    for (int i = 0; i < e->n_files; i++) free(e->files[i].versions);
    free(e->files);
    free(e->locations);
    free(e->class_names);
    free(e->downloads);
    free(e->stats_source);
    free(e->license);
    free(e->citation);
    free(e->url);
    free(e->how_to_get);
    free(e->notes);
    memset(e, 0, sizeof *e);
}

/* ---- the catalog directory */

static int by_name(const void *a, const void *b) {
    return strcmp(((const tk_catalog_entry *)a)->name, ((const tk_catalog_entry *)b)->name);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int tk_catalog_load_dir(const char *dir, tk_catalog *out, tk_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->dir, sizeof out->dir, "%s", dir);
    DIR *d = opendir(dir);
    if (!d) return tk_fail(err, "cannot read the dataset catalog %s: %s", dir, strerror(errno));
    char **files = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".json") || de->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = tk_realloc(files, sizeof *files * (size_t)cap);
            files = grown;
        }
        files[n] = strdup(de->d_name);
        TK_ASSERT(files[n]);
        n++;
    }
    closedir(d);
    /* readdir order differs between file systems; messages and listings should not */
    if (n) qsort(files, (size_t)n, sizeof *files, cmp_str);
    int rc = 0;
    if (n == 0) rc = tk_fail(err, "the dataset catalog %s holds no .json files", dir);
    out->entries = tk_calloc((size_t)(n ? n : 1), sizeof *out->entries);
    for (int i = 0; i < n && !rc; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        uint8_t *bytes;
        size_t len;
        if (tk_file_read_all(path, &bytes, &len, err)) {
            rc = -1;
            break;
        }
        char *text = tk_malloc(len + 1);
        memcpy(text, bytes, len);
        text[len] = 0;
        free(bytes);
        tk_catalog_entry *e = &out->entries[out->n];
        rc = tk_catalog_parse(text, path, e, err);
        free(text);
        if (rc) break;
        out->n++;
        size_t stem = strlen(files[i]) - 5;
        if (strlen(e->name) != stem || strncmp(e->name, files[i], stem))
            rc = tk_fail(err, "%s: key \"name\" is \"%s\" but the file is %s: a catalog file is named after its "
                              "dataset (rename the file or fix the name)",
                         path, e->name, files[i]);
    }
    for (int i = 0; i < n; i++) free(files[i]);
    free(files);
    if (rc) {
        tk_catalog_free(out);
        return -1;
    }
    qsort(out->entries, (size_t)out->n, sizeof *out->entries, by_name);
    out->names = tk_calloc((size_t)out->n, sizeof *out->names);
    for (int i = 0; i < out->n; i++) out->names[i] = out->entries[i].name;
    return 0;
}

void tk_catalog_free(tk_catalog *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) tk_catalog_entry_free(&c->entries[i]);
    free(c->entries);
    free(c->names);
    memset(c, 0, sizeof *c);
}

int tk_catalog_find_dir(char *dir, size_t cap, tk_error *err) {
    return tk_find_resource_dir("dataset catalog", "TICKET_CATALOG", "datasets/catalog", NULL, "catalog", dir,
                                cap, err);
}

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static tk_catalog default_catalog;
static bool default_loaded;

const tk_catalog *tk_catalog_default(tk_error *err) {
    pthread_mutex_lock(&default_lock);
    if (!default_loaded) {
        char dir[4096];
        default_loaded = tk_catalog_find_dir(dir, sizeof dir, err) == 0 &&
                         tk_catalog_load_dir(dir, &default_catalog, err) == 0;
    }
    const tk_catalog *c = default_loaded ? &default_catalog : NULL;
    pthread_mutex_unlock(&default_lock);
    return c;
}

const tk_catalog_entry *tk_catalog_lookup(const tk_catalog *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->entries[i].name, name)) return &c->entries[i];
    return NULL;
}

bool tk_catalog_has_split(const tk_catalog_entry *e, tk_split split) { return e->split_n[split] >= 0; }

/* ---- locating */

int tk_data_roots(const char *roots[TK_DATA_MAX_ROOTS], int *env_index) {
    const char *env = getenv("TICKET_DATA");
    int n = 0;
    *env_index = -1;
    if (env && *env) *env_index = n, roots[n++] = env;
    roots[n++] = "./data";
    roots[n++] = "/usr/share/datasets";
    return n;
}

/* snprintf at buf+at that keeps going harmlessly once buf is full. */
__attribute__((format(printf, 4, 5))) static size_t appendf(char *buf, size_t cap, size_t at, const char *fmt, ...) {
    if (!buf || at >= cap) return at;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + at, cap - at, fmt, ap);
    va_end(ap);
    return w < 0 ? at : at + (size_t)w;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool unpacks(const tk_catalog_file *f) { return f->has_gunzipped; }

enum { ABSENT, AS_DISTRIBUTED, UNPACKED };

/* Whether root/f->path is a file, else its unpacked copy; found gets the path. */
static int file_present(const char *root, const tk_catalog_file *f, char *found, size_t cap) {
    snprintf(found, cap, "%s/%s", root, f->path);
    if (is_file(found)) return AS_DISTRIBUTED;
    if (!unpacks(f)) return ABSENT;
    snprintf(found, cap, "%s/%.*s", root, (int)strlen(f->path) - 3, f->path);
    return is_file(found) ? UNPACKED : ABSENT;
}

/* f's name below its location, with "(.gz)" when an unpacked copy also counts. */
static void display_name(const tk_catalog_file *f, const char *location, char *out, size_t cap) {
    const char *rel = f->path + strlen(location);
    if (*rel == '/') rel++;
    if (!*rel) rel = f->path;
    if (unpacks(f)) snprintf(out, cap, "%.*s(.gz)", (int)strlen(rel) - 3, rel);
    else snprintf(out, cap, "%s", rel);
}

static bool serves(const tk_catalog_file *f, const char *location, tk_split split) {
    return (f->split < 0 || f->split == (int)split) && tk_catalog_inside(f->path, location);
}

int tk_catalog_locate(const tk_catalog_entry *e, tk_split split, char *path, size_t cap, char *what,
                      size_t what_cap, char *searched, size_t searched_cap) {
    const char *roots[TK_DATA_MAX_ROOTS];
    int env_index;
    int n_roots = tk_data_roots(roots, &env_index);
    /* A single folder whose files the catalog lists is named with those
     * files ("looked for train-images-idx3-ubyte(.gz) and ... in: ./data/mnist");
     * anything else by its locations under each root. */
    int listed = 0;
    for (int i = 0; i < e->n_files; i++)
        listed += serves(&e->files[i], e->locations[0], split) && strcmp(e->files[i].path, e->locations[0]);
    bool per_folder = e->n_locations == 1 && listed > 0;
    size_t at = 0;
    if (what) what[0] = 0;
    int total = per_folder ? listed : e->n_locations, k = 0;
    const char *last_sep = per_folder ? " and " : " or ";
    for (int i = 0; i < (per_folder ? e->n_files : e->n_locations); i++) {
        char name[300];
        if (per_folder && !serves(&e->files[i], e->locations[0], split)) continue;
        if (per_folder) display_name(&e->files[i], e->locations[0], name, sizeof name);
        else snprintf(name, sizeof name, "%s", e->locations[i]);
        at = appendf(what, what_cap, at, "%s%s", k == 0 ? "" : k == total - 1 ? last_sep : ", ", name);
        k++;
    }
    size_t sat = 0;
    if (searched) searched[0] = 0;
    for (int r = 0; r < n_roots; r++) {
        const char *env_note = r == env_index ? " ($TICKET_DATA)" : "";
        if (!per_folder) sat = appendf(searched, searched_cap, sat, "\n  %s%s", roots[r], env_note);
        for (int l = 0; l < e->n_locations; l++) {
            char loc[4096];
            snprintf(loc, sizeof loc, "%s/%s", roots[r], e->locations[l]);
            if (per_folder) sat = appendf(searched, searched_cap, sat, "\n  %s%s", loc, env_note);
            int relevant = 0, present = 0;
            char has[4096] = "", lacks[300] = "";
            for (int i = 0; i < e->n_files; i++) {
                const tk_catalog_file *f = &e->files[i];
                if (!serves(f, e->locations[l], split)) continue;
                relevant++;
                char found[4096];
                if (file_present(roots[r], f, found, sizeof found) != ABSENT) {
                    present++;
                    if (!has[0]) snprintf(has, sizeof has, "%s", found);
                } else if (!lacks[0]) {
                    display_name(f, e->locations[l], lacks, sizeof lacks);
                }
            }
            bool complete = relevant ? present == relevant : tk_file_exists(loc);
            if (complete) {
                if (path) snprintf(path, cap, "%s", loc);
                return 1;
            }
            /* Half a dataset in a folder is usually an interrupted copy: say so. */
            if (present) sat = appendf(searched, searched_cap, sat, " (has %s but not %s)", has, lacks);
        }
    }
    return 0;
}

/* ---- verification */

typedef struct digests {
    int64_t size;
    char sha256[65], md5[33];
} digests;

static void to_hex(const unsigned char *d, unsigned n, char *out) {
    for (unsigned i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* SHA-256 and MD5 of a file, or of its decompressed content when gunzip is
 * set (libarchive's raw format reads a gzip stream as one entry). */
static int hash_file(const char *path, bool gunzip, digests *out, tk_error *err) {
    EVP_MD_CTX *sha = EVP_MD_CTX_new(), *md5 = EVP_MD_CTX_new();
    TK_ASSERT(sha && md5);
    TK_ASSERT(EVP_DigestInit_ex(sha, EVP_sha256(), NULL) == 1 && EVP_DigestInit_ex(md5, EVP_md5(), NULL) == 1);
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = tk_malloc(CHUNK);
    int rc = 0;
    out->size = 0;
    FILE *f = NULL;
    struct archive *a = NULL;
    if (gunzip) {
        a = archive_read_new();
        TK_ASSERT(a);
        archive_read_support_filter_all(a);
        archive_read_support_format_raw(a);
        struct archive_entry *entry;
        if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK ||
            archive_read_next_header(a, &entry) != ARCHIVE_OK)
            rc = tk_fail(err, "cannot decompress %s: %s", path, archive_error_string(a));
    } else if (!(f = fopen(path, "rb"))) {
        rc = tk_fail(err, "cannot open %s: %s", path, strerror(errno));
    }
    while (rc == 0) {
        la_ssize_t got;
        if (gunzip) {
            got = archive_read_data(a, buf, CHUNK);
            if (got < 0) rc = tk_fail(err, "cannot decompress %s: %s", path, archive_error_string(a));
        } else {
            got = (la_ssize_t)fread(buf, 1, CHUNK, f);
            if (got == 0 && ferror(f)) rc = tk_fail(err, "cannot read %s: %s", path, strerror(errno));
        }
        if (got <= 0) break;
        EVP_DigestUpdate(sha, buf, (size_t)got);
        EVP_DigestUpdate(md5, buf, (size_t)got);
        out->size += got;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n;
    EVP_DigestFinal_ex(sha, d, &n);
    to_hex(d, n, out->sha256);
    EVP_DigestFinal_ex(md5, d, &n);
    to_hex(d, n, out->md5);
    EVP_MD_CTX_free(sha);
    EVP_MD_CTX_free(md5);
    if (f) fclose(f);
    if (a) archive_read_free(a);
    free(buf);
    return rc;
}

static bool matches(const tk_checksum *c, const digests *d) {
    return (c->size < 0 || c->size == d->size) && (!c->sha256[0] || !strcmp(c->sha256, d->sha256)) &&
           (!c->md5[0] || !strcmp(c->md5, d->md5));
}

/* "size, sha256": what a match compared; a size alone is a weaker check than a hash. */
static const char *pinned_fields(const tk_checksum *c, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = 0;
    if (c->size >= 0) at = appendf(buf, cap, at, "size");
    if (c->sha256[0]) at = appendf(buf, cap, at, "%ssha256", at ? ", " : "");
    if (c->md5[0]) appendf(buf, cap, at, "%smd5", at ? ", " : "");
    return buf;
}

/* "size 5 (expected 7), sha256 ab.. (expected cd..)": what differs. */
static size_t describe_mismatch(char *buf, size_t cap, size_t at, const tk_checksum *c, const digests *d) {
    const char *sep = "";
    if (c->size >= 0 && c->size != d->size)
        at = appendf(buf, cap, at, "size %lld bytes (expected %lld)", (long long)d->size, (long long)c->size), sep = ", ";
    if (c->sha256[0] && strcmp(c->sha256, d->sha256))
        at = appendf(buf, cap, at, "%ssha256 %s (expected %s)", sep, d->sha256, c->sha256), sep = ", ";
    if (c->md5[0] && strcmp(c->md5, d->md5)) at = appendf(buf, cap, at, "%smd5 %s (expected %s)", sep, d->md5, c->md5);
    return at;
}

void tk_catalog_verify_file(const tk_catalog_file *f, const char *root, tk_file_check *out) {
    memset(out, 0, sizeof *out);
    out->size = -1;
    int present = file_present(root, f, out->path, sizeof out->path);
    if (present == ABSENT) {
        snprintf(out->path, sizeof out->path, "%s/%s", root, f->path);
        out->status = TK_VERIFY_MISSING;
        snprintf(out->detail, sizeof out->detail, "not found%s", unpacks(f) ? " (nor its unpacked copy)" : "");
        return;
    }
    digests d;
    tk_error err = {0};
    if (hash_file(out->path, false, &d, &err)) {
        out->status = TK_VERIFY_FAIL;
        snprintf(out->detail, sizeof out->detail, "%s", err.msg);
        return;
    }
    out->size = d.size;
    memcpy(out->sha256, d.sha256, sizeof d.sha256);
    memcpy(out->md5, d.md5, sizeof d.md5);
    if (f->n_versions == 0 && !f->has_gunzipped) {
        out->status = TK_VERIFY_UNPINNED;
        snprintf(out->detail, sizeof out->detail, "the catalog pins no size or checksum for this file");
        return;
    }
    if (present == UNPACKED) {
        if (matches(&f->gunzipped, &d)) {
            char fields[32];
            out->status = TK_VERIFY_PASS;
            snprintf(out->detail, sizeof out->detail, "the unpacked copy matches the pinned content of %s (%s)",
                     f->path, pinned_fields(&f->gunzipped, fields, sizeof fields));
        } else {
            out->status = TK_VERIFY_FAIL;
            size_t at = appendf(out->detail, sizeof out->detail, 0, "unpacked copy of %s: ", f->path);
            describe_mismatch(out->detail, sizeof out->detail, at, &f->gunzipped, &d);
        }
        return;
    }
    for (int i = 0; i < f->n_versions; i++)
        if (matches(&f->versions[i], &d)) {
            char fields[32];
            out->status = TK_VERIFY_PASS;
            snprintf(out->detail, sizeof out->detail, "matches %s (%s)",
                     f->versions[i].source[0] ? f->versions[i].source : "the pinned version",
                     pinned_fields(&f->versions[i], fields, sizeof fields));
            return;
        }
    out->status = TK_VERIFY_FAIL;
    size_t at = 0;
    for (int i = 0; i < f->n_versions; i++) {
        if (i) at = appendf(out->detail, sizeof out->detail, at, "; ");
        if (f->versions[i].source[0]) at = appendf(out->detail, sizeof out->detail, at, "%s: ", f->versions[i].source);
        at = describe_mismatch(out->detail, sizeof out->detail, at, &f->versions[i], &d);
    }
    if (!f->has_gunzipped) return;
    /* A .gz re-packed by someone else differs in its header, not its content. */
    digests content;
    if (hash_file(out->path, true, &content, &err)) {
        appendf(out->detail, sizeof out->detail, at, "%s%s", at ? "; " : "", err.msg);
        return;
    }
    if (matches(&f->gunzipped, &content)) {
        char fields[32];
        out->status = TK_VERIFY_PASS;
        snprintf(out->detail, sizeof out->detail,
                 "the gzip wrapper differs from the pinned versions but the decompressed content matches (%s)",
                 pinned_fields(&f->gunzipped, fields, sizeof fields));
        return;
    }
    at = appendf(out->detail, sizeof out->detail, at, "%sdecompressed content: ", at ? "; " : "");
    describe_mismatch(out->detail, sizeof out->detail, at, &f->gunzipped, &content);
}
