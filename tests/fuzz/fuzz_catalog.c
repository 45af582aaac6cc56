/* fuzz_catalog.c - one catalog file (tk_catalog_parse). */
#include "fuzz_support.h"
#include "tk_catalog.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char *text = fuzz_text(data, n);
    static tk_catalog_entry e;
    tk_error err = {0};
    if (tk_catalog_parse(text, "fuzz.json", &e, &err) == 0) {
        FUZZ_CHECK(e.classes >= 0 && e.classes <= TK_MAX_CLASSES, "%d classes", e.classes);
        FUZZ_CHECK(e.n_locations >= 0 && e.n_files >= 0, "%d locations, %d files", e.n_locations, e.n_files);
        for (int s = 0; s < TK_SPLIT_COUNT; s++) (void)tk_catalog_has_split(&e, (tk_split)s);
        tk_catalog_entry_free(&e);
    }
    free(text);
    return 0;
}
