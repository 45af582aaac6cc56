/* fuzz_registry.c - a registry file of published numbers (tk_regress_load),
 * checked against an empty results table. */
#include "fuzz_support.h"
#include "tk_regress.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    fuzz_dir();
    const char *path = fuzz_write("registry.json", data, n);
    tk_regress_registry reg = {0};
    tk_error err = {0};
    if (tk_regress_load(&reg, path, &err) == 0) {
        for (int i = 0; i < reg.n; i++) {
            const tk_regress_entry *e = &reg.entries[i];
            FUZZ_CHECK(e->metric >= 0 && e->metric < TK_REGRESS_METRIC_COUNT && e->op >= 0 && e->op < TK_REGRESS_OP_COUNT,
                       "entry %d: metric %d, op %d", i, (int)e->metric, (int)e->op);
            FUZZ_CHECK(e->n_datasets >= 0 && e->n_datasets <= TK_REGRESS_MAX_DATASETS, "%d datasets", e->n_datasets);
        }
    } else {
        FUZZ_CHECK(reg.n == 0 && err.msg[0], "a refused file left %d entries", reg.n);
    }
    tk_regress_registry_free(&reg);
    return 0;
}
