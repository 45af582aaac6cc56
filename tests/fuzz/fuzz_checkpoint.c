/* fuzz_checkpoint.c - a training checkpoint: the model it names
 * (tk_checkpoint_model), its weights alone (tk_checkpoint_load_weights) and
 * the whole state (tk_checkpoint_load) into fuzz_model()'s LeNet with SGD
 * momentum and 16 training examples. Flags bit 0 fixes the trailing CRC-32,
 * so that mutations reach the fields behind it. */
#include "fuzz_support.h"
#include "tk_checkpoint.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    fuzz_dir();
    const char *path = fuzz_write_crc("checkpoint", data, n, flags & 1);
    fuzz_check_model_id(path, tk_checkpoint_model);
    tk_error err = {0};
    tk_model *m = fuzz_model();
    (void)tk_checkpoint_load_weights(path, m, FUZZ_MODEL_WIDTH, &err);
    m = fuzz_model();
    tk_optim_config oc = tk_optim_defaults(flags & 2 ? TK_OPTIM_ADAM : TK_OPTIM_SGD);
    tk_optim *o = tk_optim_create(&oc, m->n_params);
    tk_train_state s;
    memset(&s, 0, sizeof s);
    int32_t perm[16];
    s.perm = perm;
    s.n = 16;
    if (tk_checkpoint_load(path, m, FUZZ_MODEL_WIDTH, o, &s, &err) == 0) {
        FUZZ_CHECK(s.step >= 0 && s.step <= s.total, "step %lld of %lld", (long long)s.step, (long long)s.total);
        for (int i = 0; i < s.n; i++) FUZZ_CHECK(perm[i] >= 0 && perm[i] < s.n, "perm[%d] = %d", i, perm[i]);
    }
    tk_optim_free(o);
    return 0;
}
