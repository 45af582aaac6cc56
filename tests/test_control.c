/* test_control.c - the control table: every row whole, and the controls'
 * random streams fixed by their ids, so that a new control moves no existing
 * control's bits. */
#include "check.h"
#include "tk_control.h"

static void test_every_row_is_whole_and_unique(void) {
    for (int k = 0; k < TK_CONTROL_COUNT; k++) {
        CHECK(tk_controls[k].name && tk_controls[k].name[0]);
        for (int j = 0; j < k; j++) {
            CHECK(strcmp(tk_controls[j].name, tk_controls[k].name) != 0);
            CHECK(tk_controls[j].id != tk_controls[k].id);
        }
        tk_control back;
        tk_error err = {0};
        CHECK(tk_control_parse(tk_controls[k].name, &back, &err) == 0 && back == (tk_control)k);
    }
    tk_control k;
    tk_error err = {0};
    CHECK(tk_control_parse("random_tiket", &k, &err) == -1);
    CHECK_CONTAINS(err.msg, "unknown control 'random_tiket' (did you mean 'random_ticket'?");
    CHECK_CONTAINS(err.msg, "valid: reinit, random_mask, random_ticket, random_global, l1");
}

/* The streams results were made with before the table existed (control k at
 * level L: 2(5L + k) + which in a find run, 2000 + that in a transfer job,
 * random_ticket's beside the head mask's): they must never move. */
static void test_existing_streams_keep_their_numbers(void) {
    const tk_control_def *reinit = &tk_controls[TK_CONTROL_REINIT], *rglobal = &tk_controls[TK_CONTROL_RANDOM_GLOBAL];
    const tk_control_def *rmask = &tk_controls[TK_CONTROL_RANDOM_MASK], *rticket = &tk_controls[TK_CONTROL_RANDOM_TICKET];
    const tk_control_def *l1 = &tk_controls[TK_CONTROL_L1];
    CHECK(tk_control_stream(reinit, TK_CONTROL_IN_FIND, 0, 0) == 0);
    CHECK(tk_control_stream(reinit, TK_CONTROL_IN_FIND, 1, 1) == 11);
    CHECK(tk_control_stream(rglobal, TK_CONTROL_IN_FIND, 3, 1) == 37);
    CHECK(tk_control_stream(rticket, TK_CONTROL_IN_FIND, 2, 0) == 24);
    CHECK(tk_control_stream(l1, TK_CONTROL_IN_FIND, 100, 1) == 1009);
    CHECK(tk_control_stream(rmask, TK_CONTROL_IN_TRANSFER, 2, 0) == 2022);
    CHECK(tk_control_stream(rglobal, TK_CONTROL_IN_TRANSFER, 1, 1) == 2017);
    CHECK(tk_control_stream(rticket, TK_CONTROL_IN_TRANSFER, 2, 1) == 1008);
    CHECK(TK_TRANSFER_HEAD_STREAM(2) == 1006);
}

enum { LEVELS = TK_CONTROL_MAX_LEVEL + 1, PER_ROW = 2 * LEVELS };

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Every stream of `rows` in one use, plus the head masks' in a transfer job. */
static size_t streams_of(const tk_control_def *rows, int n, tk_control_use use, uint64_t *out) {
    size_t count = 0;
    for (int r = 0; r < n; r++)
        for (int level = 0; level < LEVELS; level++)
            for (int which = 0; which < 2; which++) out[count++] = tk_control_stream(&rows[r], use, level, which);
    for (int level = 0; use == TK_CONTROL_IN_TRANSFER && level < LEVELS; level++)
        out[count++] = TK_TRANSFER_HEAD_STREAM(level);
    return count;
}

/* A table with one more control, as a developer would add it (the next id,
 * a random mask and fresh weights): the existing rows' streams are the same
 * numbers, and no stream of the new one meets any other. */
static void test_a_new_control_moves_no_existing_stream(void) {
    tk_control_def grown[TK_CONTROL_COUNT + 1];
    uint32_t next_id = 0;
    for (int k = 0; k < TK_CONTROL_COUNT; k++) {
        grown[k] = tk_controls[k];
        if (tk_controls[k].id >= next_id) next_id = tk_controls[k].id + 1;
    }
    grown[TK_CONTROL_COUNT] =
        (tk_control_def){"dummy", next_id, TK_MASK_FROM_RANDOM_GLOBAL, true, false, false};
    for (int u = 0; u < 2; u++) {
        tk_control_use use = u ? TK_CONTROL_IN_TRANSFER : TK_CONTROL_IN_FIND;
        uint64_t before[(TK_CONTROL_COUNT + 2) * PER_ROW], after[(TK_CONTROL_COUNT + 2) * PER_ROW];
        size_t n_before = streams_of(tk_controls, TK_CONTROL_COUNT, use, before);
        size_t n_after = streams_of(grown, TK_CONTROL_COUNT + 1, use, after);
        CHECK(n_after == n_before + PER_ROW);
        /* The existing rows' streams, row by row, unchanged. */
        CHECK(memcmp(before, after, TK_CONTROL_COUNT * PER_ROW * sizeof *before) == 0);
        qsort(after, n_after, sizeof *after, cmp_u64);
        size_t meets = 0;
        for (size_t i = 1; i < n_after; i++) meets += after[i] == after[i - 1];
        CHECK(meets == 0);
    }
}

int main(void) {
    RUN(test_every_row_is_whole_and_unique);
    RUN(test_existing_streams_keep_their_numbers);
    RUN(test_a_new_control_moves_no_existing_stream);
    CHECK_MAIN_END();
}
