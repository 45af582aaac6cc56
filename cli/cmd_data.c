/* cmd_data.c - `ticket data`: list, inspect, verify and preview datasets. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_catalog.h"
#include "tk_cli.h"
#include "tk_file.h"
#include "tk_image.h"

/* ---- arguments */

/* How a subcommand starts: its options, and the dataset (NAME or PATH, the
 * first argument) when `name` is not NULL. Returns true when the subcommand
 * is done (help printed, or bad arguments) with its exit code in *exit_code. */
static bool begin(const char *cmd, int argc, char **argv, tk_option *opts, int n, const char *usage,
                  const char *about, const char **name, int *exit_code) {
    bool help = false;
    *exit_code = tk_cli_begin(cmd, argc, argv, name, opts, n, usage, about, &help);
    if (*exit_code || help) return true;
    if (name && !*name) {
        fprintf(stderr, "ticket %s: which dataset? usage: %s\n", cmd, usage);
        *exit_code = 2;
        return true;
    }
    return false;
}

static const tk_catalog *catalog_or_complain(const char *sub) {
    tk_error err = {0};
    const tk_catalog *c = tk_catalog_default(&err);
    if (!c) fprintf(stderr, "ticket data %s: %s\n", sub, err.msg);
    return c;
}

/* "$TICKET_DATA, ./data or /usr/share/datasets" */
static void roots_text(char *buf, size_t cap) {
    const char *roots[TK_DATA_MAX_ROOTS];
    int env;
    int n = tk_data_roots(roots, &env);
    size_t at = 0;
    buf[0] = 0;
    for (int r = 0; r < n && at < cap; r++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", r == 0 ? "" : r == n - 1 ? " or " : ", ", roots[r]);
}

/* ---- list */

static int data_list(int argc, char **argv) {
    int rc;
    if (begin("data list", argc, argv, NULL, 0, "ticket data list",
              "Lists every dataset in the catalog: where it was found, or where to get it and where to put\n"
              "it. Data roots, searched in order: $TICKET_DATA (when set), ./data, /usr/share/datasets.",
              NULL, &rc))
        return rc;
    const tk_catalog *c = catalog_or_complain("list");
    if (!c) return 2;
    char roots[1024];
    roots_text(roots, sizeof roots);
    printf("catalog %s; data roots: %s\n\n", c->dir, roots);
    printf("%-14s %-11s %-8s %s\n", "dataset", "format", "status", "where");
    int present = 0;
    for (int i = 0; i < c->n; i++) {
        const tk_catalog_entry *e = &c->entries[i];
        char where[TK_SPLIT_COUNT][4096], missing[64] = "";
        int found = 0, wanted = 0;
        for (int s = 0; s < TK_SPLIT_COUNT; s++) {
            if (!tk_catalog_has_split(e, (tk_split)s)) continue;
            wanted++;
            if (tk_catalog_locate(e, (tk_split)s, where[s], sizeof where[s], NULL, 0, NULL, 0)) {
                found++;
            } else {
                where[s][0] = 0;
                size_t at = strlen(missing);
                snprintf(missing + at, sizeof missing - at, "%s%s", at ? ", " : "", tk_split_names[s]);
            }
        }
        const char *status = found == wanted ? "present" : found ? "partial" : "missing";
        printf("%-14s %-11s %-8s ", e->name, e->format, status);
        present += found == wanted;
        if (found) {
            /* Splits usually share one location; print each place once. */
            const char *shown = NULL;
            for (int s = 0; s < TK_SPLIT_COUNT; s++) {
                if (!tk_catalog_has_split(e, (tk_split)s) || !where[s][0]) continue;
                if (shown && !strcmp(shown, where[s])) continue;
                printf("%s%s", shown ? ", " : "", where[s]);
                shown = where[s];
            }
            if (found < wanted) printf(" (no %s split)", missing);
            printf("\n");
        }
        if (found < wanted) {
            char locs[1024] = "";
            for (int l = 0; l < e->n_locations; l++) {
                size_t at = strlen(locs);
                snprintf(locs + at, sizeof locs - at, "%s%s", l ? " or " : "", e->locations[l]);
            }
            printf("%-*sget it: %s\n", found ? 36 : 0, "", e->how_to_get);
            printf("%-36sput it in %s, as %s\n", "", roots, locs);
        }
    }
    printf("\n%d of %d datasets present. `ticket data info NAME` shows one; any file, folder or archive in a\n"
           "known format can also be given as a path.\n",
           present, c->n);
    return 0;
}

/* ---- info */

typedef struct split_summary {
    bool loaded;
    int n, C, H, W, classes;
    int64_t *per_class; /* [classes] */
    char error[1024];
} split_summary;

static void print_counts(const split_summary *sp, const char *split) {
    int lo = sp->n, hi = 0;
    for (int c = 0; c < sp->classes; c++) {
        if (sp->per_class[c] < lo) lo = (int)sp->per_class[c];
        if (sp->per_class[c] > hi) hi = (int)sp->per_class[c];
    }
    if (lo == hi) printf("  %-6s %d images, %d per class\n", split, sp->n, lo);
    else printf("  %-6s %d images, %d to %d per class\n", split, sp->n, lo, hi);
}

static int data_info(int argc, char **argv) {
    const char *name;
    int rc;
    if (begin("data info", argc, argv, NULL, 0, "ticket data info NAME|PATH",
              "Loads every split of a dataset and shows its format, files, image shape, classes with their\n"
              "names, split sizes and the class histogram of each split. NAME is a catalog name (see\n"
              "`ticket data list`); PATH is a file, folder or archive in a known format.",
              &name, &rc))
        return rc;
    tk_error err = {0};
    tk_resolved where[TK_SPLIT_COUNT];
    split_summary sp[TK_SPLIT_COUNT];
    memset(sp, 0, sizeof sp);
    const tk_catalog_entry *e = NULL;
    const tk_format *format = NULL;
    int loaded = 0, classes = 0;
    char (*names)[64] = NULL;
    float mean[TK_CATALOG_MAX_CHANNELS] = {0}, std[TK_CATALOG_MAX_CHANNELS] = {0};
    int stats_split = -1, stats_C = 0;
    for (int s = 0; s < TK_SPLIT_COUNT; s++) {
        tk_dataset d;
        if (tk_dataset_resolve(name, (tk_split)s, &where[s], &err)) {
            /* A catalog dataset without this split, or a path that cannot be read at all. */
            snprintf(sp[s].error, sizeof sp[s].error, "%s", err.msg);
            if (where[s].entry && !tk_catalog_has_split(where[s].entry, (tk_split)s)) sp[s].error[0] = 0;
            continue;
        }
        e = where[s].entry;
        format = where[s].format;
        if (tk_dataset_open(name, (tk_split)s, &d, &err)) {
            snprintf(sp[s].error, sizeof sp[s].error, "%s", err.msg);
            continue;
        }
        sp[s] = (split_summary){.loaded = true, .n = d.n, .C = d.C, .H = d.H, .W = d.W, .classes = d.classes};
        sp[s].per_class = tk_calloc((size_t)(d.classes ? d.classes : 1), sizeof *sp[s].per_class);
        for (int i = 0; i < d.n; i++)
            if (d.labels[i] >= 0 && d.labels[i] < d.classes) sp[s].per_class[d.labels[i]]++;
        if (d.classes > classes) {
            classes = d.classes;
            free(names);
            names = NULL;
        }
        if (!names && d.class_names && d.classes == classes) {
            names = d.class_names;
            d.class_names = NULL;
        }
        if (stats_split < 0 && d.C <= TK_CATALOG_MAX_CHANNELS) {
            tk_dataset_stats(&d, mean, std);
            stats_split = s, stats_C = d.C;
        }
        loaded++;
        tk_dataset_free(&d);
    }
    if (!loaded) {
        for (int s = 0; s < TK_SPLIT_COUNT; s++)
            if (sp[s].error[0]) {
                fprintf(stderr, "ticket data info: %s\n", sp[s].error);
                break;
            }
        return 2;
    }
    printf("%s%s%s\n", e ? e->name : name, e ? ": " : "", e ? e->title : "");
    printf("  format    %s: %s\n", format->name, format->description);
    if (e) printf("  catalog   %s\n", e->source);
    for (int s = 0; s < TK_SPLIT_COUNT; s++) {
        if (sp[s].loaded) {
            printf("  %-9s %s: %d images of %dx%dx%d", tk_split_names[s], where[s].path, sp[s].n, sp[s].C, sp[s].H,
                   sp[s].W);
            if (e && e->split_n[s] >= 0 && e->split_n[s] != sp[s].n) printf(" (the full dataset has %d)", e->split_n[s]);
            printf("\n");
        } else if (sp[s].error[0] && (e || s != TK_SPLIT_EXTRA)) {
            printf("  %-9s not available: %s\n", tk_split_names[s], sp[s].error);
        }
    }
    if (e && e->n_files) {
        printf("  files     (as the catalog lists them; `ticket data verify %s` checks them)\n", e->name);
        for (int i = 0; i < e->n_files; i++)
            printf("            %s%s\n", e->files[i].path, e->files[i].has_gunzipped ? " (or unpacked)" : "");
    }
    printf("  classes   %d\n", classes);
    printf("  %-28s", "class");
    for (int s = 0; s < TK_SPLIT_COUNT; s++)
        if (sp[s].loaded) printf(" %9s", tk_split_names[s]);
    printf("\n");
    for (int c = 0; c < classes; c++) {
        char label[40];
        snprintf(label, sizeof label, "%4d %s", c, names ? names[c] : "");
        printf("  %-28s", label);
        for (int s = 0; s < TK_SPLIT_COUNT; s++)
            if (sp[s].loaded) printf(" %9lld", c < sp[s].classes ? (long long)sp[s].per_class[c] : 0LL);
        printf("\n");
    }
    for (int s = 0; s < TK_SPLIT_COUNT; s++)
        if (sp[s].loaded) print_counts(&sp[s], tk_split_names[s]);
    if (stats_split >= 0) {
        printf("  mean/std  %s split, computed:", tk_split_names[stats_split]);
        for (int ch = 0; ch < stats_C; ch++) printf(" %.4f/%.4f", mean[ch], std[ch]);
        printf("\n");
    }
    if (e && e->stats_channels) {
        printf("  mean/std  catalog:");
        for (int ch = 0; ch < e->stats_channels; ch++) printf(" %.4f/%.4f", e->mean[ch], e->std[ch]);
        printf(" (%s)\n", e->stats_source);
    }
    if (e) {
        printf("  licence   %s\n  cite      %s\n  url       %s\n", e->license, e->citation, e->url);
        if (e->notes) printf("  notes     %s\n", e->notes);
    }
    for (int s = 0; s < TK_SPLIT_COUNT; s++) free(sp[s].per_class);
    free(names);
    return 0;
}

/* ---- verify */

static int data_verify(int argc, char **argv) {
    const char *name;
    int rc;
    if (begin("data verify", argc, argv, NULL, 0, "ticket data verify NAME",
              "Checks the size, SHA-256 and MD5 of each file the catalog pins for dataset NAME, under the\n"
              "first data root holding each of its locations. Prints PASS, FAIL, MISSING or UNPINNED per\n"
              "file and exits 1 when a file fails or is missing. Loading never checks checksums, so\n"
              "subsets and re-packed copies load.",
              &name, &rc))
        return rc;
    const tk_catalog *c = catalog_or_complain("verify");
    if (!c) return 2;
    const tk_catalog_entry *e = tk_catalog_lookup(c, name);
    if (!e) {
        const char *near = tk_nearest(name, c->names, c->n);
        fprintf(stderr, "ticket data verify: \"%s\" is not in the catalog%s%s%s; only catalog datasets have pinned "
                        "checksums (see `ticket data list`)\n",
                name, near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
        return 2;
    }
    if (!e->n_files) {
        printf("%s: the catalog pins no files for it (%s)\n", e->name, e->source);
        return 0;
    }
    const char *roots[TK_DATA_MAX_ROOTS];
    int env;
    int n_roots = tk_data_roots(roots, &env);
    int counts[TK_VERIFY_COUNT] = {0}, locations_present = 0;
    for (int l = 0; l < e->n_locations; l++) {
        /* The first root holding this location, as loading would pick it. */
        int root = -1;
        for (int r = 0; r < n_roots && root < 0; r++) {
            char loc[4096];
            snprintf(loc, sizeof loc, "%s/%s", roots[r], e->locations[l]);
            if (tk_file_exists(loc)) root = r;
        }
        if (root < 0) {
            if (e->n_locations > 1) printf("%-8s  %s: not present (an alternative layout)\n", "-", e->locations[l]);
            continue;
        }
        locations_present++;
        for (int i = 0; i < e->n_files; i++) {
            const tk_catalog_file *f = &e->files[i];
            if (!tk_catalog_inside(f->path, e->locations[l])) continue;
            tk_file_check check;
            tk_catalog_verify_file(f, roots[root], &check);
            counts[check.status]++;
            printf("%-8s  %s", tk_verify_status_names[check.status], check.path);
            if (check.size >= 0) printf(" (%lld bytes)", (long long)check.size);
            printf(": %s\n", check.detail);
        }
    }
    if (!locations_present) {
        tk_error err = {0};
        tk_resolved r;
        for (int s = 0; s < TK_SPLIT_COUNT; s++)
            if (tk_catalog_has_split(e, (tk_split)s)) {
                tk_dataset_resolve(e->name, (tk_split)s, &r, &err);
                break;
            }
        fprintf(stderr, "ticket data verify: %s\n", err.msg);
        return 1;
    }
    printf("%s: %d passed, %d failed, %d missing, %d not pinned\n", e->name, counts[TK_VERIFY_PASS],
           counts[TK_VERIFY_FAIL], counts[TK_VERIFY_MISSING], counts[TK_VERIFY_UNPINNED]);
    if (counts[TK_VERIFY_FAIL] || counts[TK_VERIFY_MISSING]) {
        printf("%s the files marked %s: they are damaged, incomplete or another version. To get them: %s\n",
               counts[TK_VERIFY_FAIL] ? "re-download" : "download",
               counts[TK_VERIFY_FAIL] && counts[TK_VERIFY_MISSING] ? "FAIL or MISSING"
               : counts[TK_VERIFY_FAIL]                             ? "FAIL"
                                                                    : "MISSING",
               e->how_to_get);
        return 1;
    }
    return 0;
}

/* ---- preview */

static tk_option preview_options[] = {
    {"out", "FILE", "the PNG to write (required)", NULL},
    {"per-class", "N", "images per class (default 8)", NULL},
    {"classes", "N", "show only the first N classes (default: all)", NULL},
    {"split", "train|test|extra", "the split to sample (default train)", NULL},
};
enum { N_PREVIEW = sizeof preview_options / sizeof preview_options[0], GAP = 2, GAP_GREY = 128 };

/* One row per class, the first `per_class` images of that class in split
 * order (so the same data gives the same picture), on a grey grid. */
static tk_image build_grid(const tk_dataset *d, int classes, int per_class) {
    tk_image grid = {.h = classes * d->H + (classes + 1) * GAP, .w = per_class * d->W + (per_class + 1) * GAP,
                     .c = d->C};
    size_t row_bytes = (size_t)grid.w * (size_t)d->C, hw = (size_t)d->H * (size_t)d->W;
    grid.pixels = tk_malloc(row_bytes * (size_t)grid.h);
    memset(grid.pixels, GAP_GREY, row_bytes * (size_t)grid.h);
    int *taken = tk_calloc((size_t)classes, sizeof *taken);
    for (int i = 0; i < d->n; i++) {
        int c = d->labels[i];
        if (c < 0 || c >= classes || taken[c] == per_class) continue;
        int x0 = GAP + taken[c]++ * (d->W + GAP), y0 = GAP + c * (d->H + GAP);
        const uint8_t *img = d->images + (size_t)i * (size_t)d->C * hw;
        for (int y = 0; y < d->H; y++)
            for (int x = 0; x < d->W; x++)
                for (int ch = 0; ch < d->C; ch++) /* planar [C,H,W] to interleaved pixels */
                    grid.pixels[(size_t)(y0 + y) * row_bytes + (size_t)(x0 + x) * (size_t)d->C + (size_t)ch] =
                        img[(size_t)ch * hw + (size_t)y * (size_t)d->W + (size_t)x];
    }
    free(taken);
    return grid;
}

static int data_preview(int argc, char **argv) {
    const char *name;
    int rc;
    if (begin("data preview", argc, argv, preview_options, N_PREVIEW,
              "ticket data preview NAME|PATH --out FILE.png [--per-class N] [--classes N] [--split S]",
              "Writes a PNG grid of sample images: one row per class (row i is class i), the first N\n"
              "images of each class in the split's order, so a person can see the data is right.",
              &name, &rc))
        return rc;
    tk_error err = {0};
    const char *out = tk_cli_find(preview_options, N_PREVIEW, "out")->value;
    const char *split_name = tk_cli_find(preview_options, N_PREVIEW, "split")->value;
    int per_class = 8, show = 0, split = TK_SPLIT_TRAIN;
    if ((!out ? tk_fail(&err, "--out FILE.png is required") : 0) ||
        tk_cli_int(preview_options, N_PREVIEW, "per-class", &per_class, &err) < 0 ||
        tk_cli_int(preview_options, N_PREVIEW, "classes", &show, &err) < 0 ||
        (per_class < 1 || per_class > 100 ? tk_fail(&err, "--per-class must be from 1 to 100, got %d", per_class)
                                          : 0) ||
        (show < 0 ? tk_fail(&err, "--classes must be positive, got %d", show) : 0) ||
        (split_name && tk_parse_name("split", split_name, tk_split_names, TK_SPLIT_COUNT, &split, &err)))
        return tk_cli_fail("data preview", &err);
    tk_dataset d;
    if (tk_dataset_open(name, (tk_split)split, &d, &err)) return tk_cli_fail("data preview", &err);
    int classes = show && show < d.classes ? show : d.classes;
    if (d.C != 1 && d.C != 3) {
        tk_fail(&err, "%s has %d channels; a preview shows grey (1) or RGB (3) images", name, d.C);
        tk_dataset_free(&d);
        return tk_cli_fail("data preview", &err);
    }
    tk_image grid = build_grid(&d, classes, per_class);
    tk_buf png = {0};
    rc = tk_image_encode_png(&grid, &png, &err) || tk_file_write_atomic(out, png.data, png.len, &err);
    tk_image_free(&grid);
    tk_buf_free(&png);
    if (rc) {
        tk_dataset_free(&d);
        return tk_cli_fail("data preview", &err);
    }
    printf("wrote %s: %dx%d pixels, %d classes x %d images of %dx%dx%d from the %s split of %s\n", out, grid.w, grid.h,
           classes, per_class, d.C, d.H, d.W, tk_split_names[split], name);
    if (d.class_names) {
        printf("rows:");
        for (int c = 0; c < classes; c++) printf("%s %d %s", c ? "," : "", c, d.class_names[c]);
        printf("\n");
    }
    tk_dataset_free(&d);
    return 0;
}

/* ---- dispatch */

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} subcommand;

static const subcommand subcommands[] = {
    {"list", data_list, "every catalog dataset: present (where) or missing (how to get it)"},
    {"info", data_info, "format, files, shape, classes, split sizes and class histograms"},
    {"verify", data_verify, "sizes and checksums of the files the catalog pins"},
    {"preview", data_preview, "a PNG grid of sample images per class"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: ticket data COMMAND [NAME|PATH] [options]\n\n"
               "A dataset is a catalog name (datasets/catalog/NAME.json) or the path of a file, folder or\n"
               "archive in a known format. Data roots, searched in order: $TICKET_DATA (when set), ./data,\n"
               "/usr/share/datasets. The catalog is read from $TICKET_CATALOG, else datasets/catalog next to\n"
               "the executable (or in a parent folder), else share/ticket/catalog there (`make install`).\n\ncommands:\n");
    for (int i = 0; i < TK_ARRAY_LEN(subcommands); i++)
        fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].help);
    fprintf(f, "\n`ticket data COMMAND --help` shows the options of a command.\n");
}

int tk_cmd_data(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *names[TK_ARRAY_LEN(subcommands)];
    for (int i = 0; i < TK_ARRAY_LEN(subcommands); i++) {
        if (!strcmp(argv[0], subcommands[i].name)) return subcommands[i].run(argc - 1, argv + 1);
        names[i] = subcommands[i].name;
    }
    const char *near = tk_nearest(argv[0], names, TK_ARRAY_LEN(subcommands));
    if (near) fprintf(stderr, "ticket data: unknown command '%s' (did you mean '%s'?); see ticket data --help\n", argv[0], near);
    else fprintf(stderr, "ticket data: unknown command '%s'; see ticket data --help\n", argv[0]);
    return 2;
}
