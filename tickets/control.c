/* control.c - the control table and the controls' random streams. */
#include <string.h>

#include "tk_control.h"

const tk_control_def tk_controls[] = {
    [TK_CONTROL_REINIT] = {"reinit", 0, TK_MASK_FROM_TICKET, true, false, false},
    [TK_CONTROL_RANDOM_MASK] = {"random_mask", 1, TK_MASK_FROM_RANDOM_LAYER, false, false, false},
    [TK_CONTROL_RANDOM_TICKET] = {"random_ticket", 2, TK_MASK_FROM_RANDOM_LAYER, true, false, true},
    [TK_CONTROL_RANDOM_GLOBAL] = {"random_global", 3, TK_MASK_FROM_RANDOM_GLOBAL, true, false, false},
    [TK_CONTROL_L1] = {"l1", 4, TK_MASK_FROM_L1, false, true, false},
};
_Static_assert(sizeof tk_controls / sizeof tk_controls[0] == TK_CONTROL_COUNT, "one row per control");

/* The first five controls' streams interleave by level, two per control and
 * level, in the order of their ids; the stride stays 5 whatever the table
 * holds, so their results keep their bits. Later ids own a range of their
 * own, above every interleaved stream. */
enum { INTERLEAVED = 5 };
#define TRANSFER_BASE 2000    /* a transfer job's interleaved streams start here */
#define OWN_RANGE_SHIFT 32    /* ids >= INTERLEAVED: id << 32, far from 0..3009 */
#define OWN_TRANSFER (1u << 16)

uint64_t tk_control_stream(const tk_control_def *c, tk_control_use use, int level, int which) {
    TK_ASSERT(level >= 0 && level <= TK_CONTROL_MAX_LEVEL && (which == 0 || which == 1));
    uint64_t L = (uint64_t)level, w = (uint64_t)which;
    if (c->id >= INTERLEAVED)
        return ((uint64_t)c->id << OWN_RANGE_SHIFT) + (use == TK_CONTROL_IN_TRANSFER ? OWN_TRANSFER : 0) + 2 * L + w;
    uint64_t interleaved = 2 * (L * INTERLEAVED + c->id) + w;
    if (use == TK_CONTROL_IN_FIND) return interleaved;
    if (c->transfer_streams_after_head) return TK_TRANSFER_HEAD_STREAM(level) + 1 + w;
    return TRANSFER_BASE + interleaved;
}

int tk_control_parse(const char *name, tk_control *out, tk_error *err) {
    int k;
    if (TK_PARSE_ROW("control", name, tk_controls, TK_CONTROL_COUNT, &k, err)) return -1;
    *out = (tk_control)k;
    return 0;
}

int tk_control_read(const tk_json_at *at, const cJSON *obj, const char *key, bool *controls, tk_json_problems *p) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, key);
    tk_json_at lat = tk_json_key(at, key);
    tk_error e;
    if (!list) return 0;
    if (!cJSON_IsArray(list)) {
        tk_json_wrong(&lat, list, "an array of control names, e.g. [\"reinit\", \"random_ticket\"]", &e);
        tk_json_note(p, &e);
        return 1;
    }
    int bad = 0, i = 0;
    for (const cJSON *v = list->child; v; v = v->next, i++) {
        tk_json_at vat = tk_json_index(&lat, i);
        const char *name;
        tk_control k = TK_CONTROL_REINIT;
        if (tk_json_text(&vat, v, NULL, "a control's name", &name, &e) < 0 ||
            (tk_control_parse(name, &k, &e) && tk_json_prefix(&vat, &e))) {
            tk_json_note(p, &e), bad++;
            continue;
        }
        controls[k] = true;
    }
    return bad;
}

void tk_control_mask(const tk_model *m, const tk_prune_config *prune, const uint8_t *ticket, tk_control k,
                     tk_rng *rng, uint8_t *out) {
    tk_control_mask_from from = tk_controls[k].mask;
    TK_ASSERT(from != TK_MASK_FROM_L1);
    if (from == TK_MASK_FROM_TICKET) memcpy(out, ticket, m->n_prunable);
    else tk_random_mask(m, prune, ticket, from == TK_MASK_FROM_RANDOM_LAYER, rng, out);
}
