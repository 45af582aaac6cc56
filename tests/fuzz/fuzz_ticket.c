/* fuzz_ticket.c - a ticket file as another program exports it: the model it
 * names (tk_ticket_model), reading it into fuzz_model()'s LeNet
 * (tk_ticket_read, with its provenance) and transferring it onto that model
 * (tk_transfer_apply, both head policies); and the same bytes as a mask file
 * (tk_mask_read). Flags bit 0 fixes the trailing CRC-32. */
#include "fuzz_support.h"
#include "tk_rng.h"
#include "tk_study.h"
#include "tk_ticket.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    fuzz_dir();
    const char *path = fuzz_write_crc("ticket", data, n, flags & 1);
    fuzz_check_model_id(path, tk_ticket_model);
    tk_error err = {0};
    tk_model *m = fuzz_model();
    char *prov = NULL;
    if (tk_ticket_read(path, m, FUZZ_MODEL_WIDTH, &prov, &err) == 0) {
        FUZZ_CHECK(prov != NULL, "no provenance");
        for (size_t i = 0; i < m->n_prunable; i++) FUZZ_CHECK(m->mask[i] <= 1, "mask[%zu] = %d", i, m->mask[i]);
    }
    free(prov);
    tk_rng rng;
    tk_rng_seed(&rng, 1, 2);
    m = fuzz_model();
    (void)tk_transfer_apply(m, FUZZ_MODEL_WIDTH, path, flags & 2 ? TK_HEAD_REINIT_SAME_DENSITY : TK_HEAD_REINIT_DENSE,
                            &rng, &err);
    m = fuzz_model();
    (void)tk_mask_read(path, m->mask, m->n_prunable, &err);
    return 0;
}
