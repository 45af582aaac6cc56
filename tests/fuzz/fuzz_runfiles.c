/* fuzz_runfiles.c - the files of a finished run that the report reads: a
 * level's mask and sparsity.json (tk_report_analyze's mask analysis, two
 * tickets of different sources sharing the mask so that overlaps are
 * computed), and summary.json (tk_train_read_summary, tk_provenance_of_run).
 * The input's parts, separated by FUZZ_SEP: mask, sparsity.json, a second
 * sparsity.json, summary.json. Flags bit 0 fixes the mask's CRC-32. */
#include "fuzz_support.h"
#include "tk_file.h"
#include "tk_provenance.h"
#include "tk_report.h"
#include "tk_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    const char *dir = fuzz_dir();
    static const char *const names[] = {"mask", "sparsity.json", "b/sparsity.json", "summary.json"};
    fuzz_write_parts(data, n, names, 4);
    if (flags & 1) {
        size_t len;
        uint8_t *mask = NULL;
        tk_error e = {0};
        if (tk_file_read_all(fuzz_path("mask"), &mask, &len, &e) == 0) {
            fuzz_fix_crc(mask, len);
            fuzz_write("mask", mask, len);
        }
        free(mask);
    }
    tk_mask_ref refs[2] = {{.source = "mnist", .source_optimizer = "adam", .seed = 0, .level = 1},
                           {.source = "svhn", .source_optimizer = "sgd", .seed = 1, .level = 1}};
    for (int i = 0; i < 2; i++) {
        snprintf(refs[i].mask_path, sizeof refs[i].mask_path, "%s/mask", dir);
        snprintf(refs[i].sparsity_path, sizeof refs[i].sparsity_path, "%s/%s", dir, names[1 + i]);
    }
    tk_result_row row = {.study = "t", .model = "lenet_300_100", .target = "mnist", .target_optimizer = "adam",
                         .source = "mnist", .source_optimizer = "adam", .control = "ticket", .native = true,
                         .level = 1, .density = 0.5, .final_accuracy = 0.9, .best_accuracy = 0.9};
    snprintf(row.run_dir, sizeof row.run_dir, "%s", dir);
    tk_report_input in = {.title = "t", .rows = &row, .n_rows = 1, .masks = refs, .n_masks = 2};
    tk_report r;
    tk_error err = {0};
    if (tk_report_analyze(&in, &r, &err) == 0) {
        for (int p = 0; p < r.n_pairs; p++)
            FUZZ_CHECK(r.pairs[p].jaccard >= 0 && r.pairs[p].jaccard <= 1, "jaccard %g", r.pairs[p].jaccard);
    }
    tk_report_free(&r);
    char summary[4200];
    snprintf(summary, sizeof summary, "%s/summary.json", dir);
    tk_train_result res;
    (void)tk_train_read_summary(summary, &res, &err);
    tk_provenance prov;
    int segments;
    (void)tk_provenance_of_run(dir, &prov, &segments);
    return 0;
}
