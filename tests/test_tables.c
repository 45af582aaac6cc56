/* test_tables.c - every name table and table of rows: one non-NULL,
 * non-empty, distinct name per value of its enum. The build checks the
 * counts (_Static_assert on tables declared without a size); a designated
 * row left out would still be NULL, which this catches. */
#include "check.h"
#include "tk_backend.h"
#include "tk_catalog.h"
#include "tk_gemm.h"
#include "tk_image.h"
#include "tk_optim.h"
#include "tk_prune.h"
#include "tk_regress.h"
#include "tk_rng.h"
#include "tk_study.h"

/* names[i] for i < n, `stride` bytes apart from names[0]. */
static bool all_named(const char *table, const char *const *first, size_t stride, int n) {
    bool ok = true;
    for (int i = 0; i < n; i++) {
        const char *name = *(const char *const *)((const char *)first + (size_t)i * stride);
        if (!name || !name[0]) {
            printf("  %s: entry %d has no name\n", table, i);
            ok = false;
            continue;
        }
        for (int j = 0; j < i; j++) {
            const char *other = *(const char *const *)((const char *)first + (size_t)j * stride);
            if (other && !strcmp(name, other)) {
                printf("  %s: entries %d and %d are both '%s'\n", table, j, i, name);
                ok = false;
            }
        }
    }
    return ok;
}
#define NAMES(t, n) all_named(#t, (t), sizeof(const char *), (n))
#define ROWS(t, n) all_named(#t, &(t)[0].name, sizeof(t)[0], (n))

static void test_every_entry_named(void) {
    CHECK(NAMES(tk_optim_names, TK_OPTIM_COUNT));
    CHECK(NAMES(tk_schedule_names, TK_SCHEDULE_COUNT));
    CHECK(NAMES(tk_kernels_names, TK_KERNELS_COUNT));
    CHECK(NAMES(tk_init_names, TK_INIT_COUNT));
    CHECK(NAMES(tk_gemm_kind_names, TK_GEMM_COUNT));
    CHECK(NAMES(tk_gemm_isa_names, TK_GEMM_ISA_COUNT));
    CHECK(NAMES(tk_provenance_field_names, TK_PROV_FIELD_COUNT));
    CHECK(NAMES(tk_verify_status_names, TK_VERIFY_COUNT));
    CHECK(NAMES(tk_split_names, TK_SPLIT_COUNT));
    CHECK(NAMES(tk_image_kind_names, TK_IMAGE_KIND_COUNT));
    CHECK(NAMES(tk_stream_names, TK_STREAM_COUNT));
    CHECK(NAMES(tk_head_names, TK_HEAD_COUNT));
    CHECK(NAMES(tk_regress_metric_names, TK_REGRESS_METRIC_COUNT));
    CHECK(NAMES(tk_regress_op_names, TK_REGRESS_OP_COUNT));
    CHECK(NAMES(tk_regress_status_names, TK_REGRESS_STATUS_COUNT));
    CHECK(ROWS(tk_controls, TK_CONTROL_COUNT));
    CHECK(ROWS(tk_prune_strategies, TK_PRUNE_COUNT));
    CHECK(ROWS(tk_ops, TK_OP_COUNT));
    CHECK(ROWS(tk_results_columns, TK_RESULTS_COLUMN_COUNT));
    CHECK(ROWS(tk_backends, TK_BACKEND_COUNT));
    for (int b = 0; b < TK_BACKEND_COUNT; b++) CHECK(tk_backends[b].summary && tk_backends[b].run);
    for (int s = 0; s < TK_PRUNE_COUNT; s++)
        CHECK(tk_prune_strategies[s].keys && tk_prune_strategies[s].prune && tk_prune_strategies[s].rate);
}

/* The checker itself: a table with a hole or a repeated name fails. */
static void test_checker_finds_holes(void) {
    const char *const hole[] = {"a", NULL, "c"}, *const twice[] = {"a", "b", "a"}, *const empty[] = {"a", ""};
    CHECK(!NAMES(hole, 3));
    CHECK(!NAMES(twice, 3));
    CHECK(!NAMES(empty, 2));
}

int main(void) {
    RUN(test_every_entry_named);
    RUN(test_checker_finds_holes);
    CHECK_MAIN_END();
}
