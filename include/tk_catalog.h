/* tk_catalog.h - the catalog of known datasets and where their files are found.
 *
 * The catalog is one JSON file per dataset, datasets/catalog/NAME.json (the
 * keys are documented in datasets/catalog.c). The binary reads it at run time
 * from the first of these that exists:
 *   1. $TICKET_CATALOG
 *   2. datasets/catalog in the directory of the running executable or in one
 *      of its ancestors (bin/ticket, build/ticket and build/tests/test_x all
 *      sit below the repository root)
 *   3. share/ticket/catalog in one of those folders (where `make install`
 *      puts it: PREFIX/bin/ticket finds PREFIX/share/ticket/catalog)
 * Data roots, searched in order: $TICKET_DATA (when set), ./data and
 * /usr/share/datasets. A catalog entry names what to look for under each
 * root ("locations", e.g. "cifar-10-binary.tar.gz" or "cifar-10-batches-bin");
 * the first root holding a complete location wins.
 *
 * Checksums are checked by tk_catalog_verify_file (`ticket data verify`),
 * never on load: users bring subsets and re-packed copies. */
#ifndef TK_CATALOG_H
#define TK_CATALOG_H

#include "tk_data.h"

#define TK_CATALOG_MAX_CHANNELS 4
#define TK_DATA_MAX_ROOTS 3

/* One accepted version of a distributed file. Unpinned fields: size -1,
 * hashes "" (e.g. a publisher that gives an MD5 but no size). */
typedef struct tk_checksum {
    int64_t size;
    char sha256[65], md5[33];
    char source[160]; /* who publishes this version, e.g. "Debian package dataset-fashion-mnist" */
} tk_checksum;

typedef struct tk_catalog_file {
    char path[256]; /* relative to a data root: "fashion-mnist/train-images-idx3-ubyte.gz" */
    int split;      /* a tk_split, or -1 when the file serves every split */
    tk_checksum *versions;
    int n_versions;
    /* For a .gz: its decompressed content. The file may then also be present
     * unpacked (path without ".gz"), and a .gz whose wrapper differs from every
     * pinned version (a gzip header with another name or time) still verifies
     * by its content. */
    bool has_gunzipped;
    tk_checksum gunzipped;
} tk_catalog_file;

typedef struct tk_catalog_entry {
    char source[4096]; /* the JSON file it was read from */
    char name[64], title[128], format[32];
    char (*locations)[256];
    int n_locations;
    tk_catalog_file *files;
    int n_files;
    int classes;
    char (*class_names)[64]; /* [classes], or NULL when the catalog names none */
    int C, H, W;             /* all 0 when the images vary in size */
    int split_n[TK_SPLIT_COUNT]; /* images per split; -1: the dataset has no such split */
    int stats_channels;      /* 0 when no statistics are pinned */
    float mean[TK_CATALOG_MAX_CHANNELS], std[TK_CATALOG_MAX_CHANNELS];
    char *stats_source;      /* how mean and std were obtained; NULL with them */
    char *license, *citation, *url, *how_to_get;
    char *notes;             /* NULL when absent */
    char (*downloads)[512];  /* direct download addresses */
    int n_downloads;
} tk_catalog_entry;

typedef struct tk_catalog {
    char dir[4096];
    int n;
    tk_catalog_entry *entries; /* sorted by name */
    const char **names;        /* names[i] = entries[i].name */
} tk_catalog;

/* Parses one catalog file's text; `source` names it in messages. Unknown keys,
 * missing required keys and wrong types are errors naming the file and key. */
int tk_catalog_parse(const char *json, const char *source, tk_catalog_entry *out, tk_error *err);
void tk_catalog_entry_free(tk_catalog_entry *e);
/* Reads every *.json in dir. Each file's "name" must equal its file name. */
int tk_catalog_load_dir(const char *dir, tk_catalog *out, tk_error *err);
void tk_catalog_free(tk_catalog *c);
/* The catalog directory by the search order above. */
int tk_catalog_find_dir(char *dir, size_t cap, tk_error *err);
/* The process-wide catalog, read once on first use (thread-safe); never freed. */
const tk_catalog *tk_catalog_default(tk_error *err);
const tk_catalog_entry *tk_catalog_lookup(const tk_catalog *c, const char *name);
/* Whether a file's path is location itself or below it. */
bool tk_catalog_inside(const char *path, const char *location);
/* Whether e lists `split` in its "splits". */
bool tk_catalog_has_split(const tk_catalog_entry *e, tk_split split);

/* The data roots in search order; *env_index is the index of $TICKET_DATA
 * among them, or -1 when it is not set. Returns the count. */
int tk_data_roots(const char *roots[TK_DATA_MAX_ROOTS], int *env_index);

/* Finds split `split` of e under the data roots: on success (1) path holds
 * root/location. Otherwise (0) `what` gets what was looked for and `searched`
 * one "\n  dir" line per place tried, with a note on locations that hold only
 * part of the split's files. Either buffer may be NULL. */
int tk_catalog_locate(const tk_catalog_entry *e, tk_split split, char *path, size_t cap, char *what,
                      size_t what_cap, char *searched, size_t searched_cap);

/* ---- verification */

typedef enum tk_verify_status {
    TK_VERIFY_PASS,     /* matches a pinned version (or the pinned gunzipped content) */
    TK_VERIFY_FAIL,     /* differs from every pinned version, or cannot be read */
    TK_VERIFY_MISSING,  /* not present under the root */
    TK_VERIFY_UNPINNED, /* present, but the catalog pins nothing for it */
    TK_VERIFY_COUNT
} tk_verify_status;
extern const char *const tk_verify_status_names[]; /* [TK_VERIFY_COUNT] */

typedef struct tk_file_check {
    tk_verify_status status;
    char path[4096];  /* the file checked (the .gz or its unpacked copy) */
    int64_t size;     /* -1 when absent */
    char sha256[65], md5[33];
    char detail[768]; /* which version matched, or what differed and how to fix it */
} tk_file_check;

/* Checks root/f->path (or its unpacked copy) against the pinned versions:
 * size first, then SHA-256 and MD5 over the whole file (OpenSSL EVP). */
void tk_catalog_verify_file(const tk_catalog_file *f, const char *root, tk_file_check *out);

/* ---- opening datasets */

/* What a dataset name or path refers to. */
typedef struct tk_resolved {
    const tk_catalog_entry *entry; /* NULL for a path */
    const tk_format *format;
    char path[4096];
} tk_resolved;

/* Resolves name for one split, as tk_dataset_open does: a catalog name is
 * looked up in the data roots; anything else is a path (file, folder,
 * archive or "synthetic:...") recognised by tk_format_detect. */
int tk_dataset_resolve(const char *name, tk_split split, tk_resolved *out, tk_error *err);

#endif
