/* fuzz_results_csv.c - a study's report/results.csv (tk_regress_read_results). */
#include "fuzz_support.h"
#include "tk_regress.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const char *dir = fuzz_dir();
    fuzz_write("report/results.csv", data, n);
    tk_regress_results res;
    memset(&res, 0, sizeof res);
    tk_error err = {0};
    if (tk_regress_read_results(dir, &res, &err) == 0) {
        int with = 0;
        for (int i = 0; i < res.n_provenances; i++) with += res.provenances[i].rows;
        FUZZ_CHECK(with + res.rows_without_provenance == res.n, "%d rows, %d with provenance, %d without", res.n, with,
                   res.rows_without_provenance);
        for (int i = 0; i < res.n; i++)
            FUZZ_CHECK(res.rows[i].row.level >= 0, "row %d: level %d", i, res.rows[i].row.level);
        for (int i = 0; i < res.n_provenances; i++) {
            char line[2048];
            tk_regress_provenance_line(&res.provenances[i], line, sizeof line);
        }
    }
    tk_regress_results_free(&res);
    return 0;
}
