/* fuzz_duration.c - tk_duration_parse ("160ep", "2ep10it"): an accepted
 * duration formats to text that parses back to the same duration. */
#include "fuzz_support.h"
#include "tk_optim.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char *text = fuzz_text(data, n);
    tk_duration d, again;
    tk_error err = {0};
    if (tk_duration_parse(text, &d, &err) == 0) {
        char out[64];
        tk_duration_format(d, out, sizeof out);
        FUZZ_CHECK(tk_duration_parse(out, &again, &err) == 0, "'%s' accepted, its form '%s' refused: %s", text, out,
                   err.msg);
        FUZZ_CHECK(again.epochs == d.epochs && again.iterations == d.iterations, "'%s' -> '%s' changed", text, out);
        (void)tk_duration_iters(d, 1000);
    }
    free(text);
    return 0;
}
