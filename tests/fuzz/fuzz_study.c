/* fuzz_study.c - the study specification (tk_study_from_json). */
#include "fuzz_support.h"
#include "tk_study.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char *text = fuzz_text(data, n);
    static tk_study s; /* large: keep it off the stack */
    tk_error err = {0};
    if (tk_study_from_json(text, "study.json", &s, &err) == 0) {
        FUZZ_CHECK(s.n_sources >= 1 && s.n_sources <= TK_STUDY_MAX_SIDES && s.n_targets >= 1 &&
                       s.n_targets <= TK_STUDY_MAX_SIDES,
                   "%d sources, %d targets", s.n_sources, s.n_targets);
        FUZZ_CHECK(s.n_seeds >= 1 && s.n_seeds <= TK_STUDY_MAX_SEEDS, "%d seeds", s.n_seeds);
        for (int i = 0; i < s.n_seeds; i++) FUZZ_CHECK(s.seeds[i] <= TK_MAX_SEED, "seed %llu", (unsigned long long)s.seeds[i]);
        for (int i = 0; i < s.n_sources; i++)
            FUZZ_CHECK(tk_train_validate(&s.sources[i].train, &err) == 0, "source %d accepted but invalid: %s", i,
                       err.msg);
    } else {
        FUZZ_CHECK(err.msg[0], "refused without a message");
    }
    free(text);
    return 0;
}
