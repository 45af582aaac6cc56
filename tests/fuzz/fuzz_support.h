/* fuzz_support.h - what every libFuzzer harness in tests/fuzz/ shares.
 *
 * A harness is one LLVMFuzzerTestOneInput that hands the input to one parser
 * entry point. A clean error return (-1 with a message) is the right answer
 * to a bad input and is ignored; only sanitizer reports and FUZZ_CHECK
 * failures (a broken invariant the format promises, e.g. a round trip) are
 * findings.
 *
 * Readers that take paths get their files in one temp dir per process
 * (fuzz_dir), emptied before each input and removed at exit.
 *
 * Inputs that stand for several files are split on FUZZ_SEP: part i becomes
 * the file names[i] (missing parts: no file), so a mutation can change one
 * file, drop one, or move bytes between them. Harnesses whose format has a
 * flags byte take it first (fuzz_take_flags), to pick a mode or an option. */
#ifndef FUZZ_SUPPORT_H
#define FUZZ_SUPPORT_H

#include "tk_data.h"
#include "tk_model.h"

#include <stddef.h>
#include <stdint.h>

#define FUZZ_SEP "\n@@@@\n"
#define FUZZ_SEP_LEN 6

/* Aborts (a finding) with the message when cond is false. */
#define FUZZ_CHECK(cond, ...) ((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__))
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* The process's temp dir ($TMPDIR/ticket-fuzz-<pid>), created on first use and
 * emptied by every call, so each input starts from nothing. */
const char *fuzz_dir(void);
/* dir/name in a static buffer (valid until the next call). */
const char *fuzz_path(const char *name);
/* Writes bytes to dir/name, creating the folders on the way; returns the path
 * (as fuzz_path). */
const char *fuzz_write(const char *name, const void *data, size_t n);

/* The first byte as flags (0 for an empty input); data and n move past it. */
uint8_t fuzz_take_flags(const uint8_t **data, size_t *n);

/* Writes part i of data (split on FUZZ_SEP) to names[i], i < count; a NULL
 * name skips its part. Returns the number of parts written. */
int fuzz_write_parts(const uint8_t *data, size_t n, const char *const *names, int count);

/* A malloc'd NUL-terminated copy of the input, for text parsers. */
char *fuzz_text(const uint8_t *data, size_t n);

/* Replaces the trailing CRC-32 of a ticket binary file (checkpoint, ticket,
 * mask) by the right one, so that mutations reach the fields behind it. */
void fuzz_fix_crc(uint8_t *data, size_t n);
/* fuzz_write of the bytes, with the trailing CRC-32 fixed when fix_crc is set. */
const char *fuzz_write_crc(const char *name, const uint8_t *data, size_t n, bool fix_crc);

/* The invariants every loaded dataset keeps: positive shape, labels in
 * [0, classes), class names when given; aborts otherwise. */
void fuzz_check_dataset(const tk_dataset *d, const char *format);
/* Loads with the format's own load() and checks the result; returns 0 on
 * success. With $FUZZ_VERBOSE set, prints the outcome (what a seed reaches). */
int fuzz_load(const char *format, const char *path, tk_split split, const tk_load_options *opt);

/* Reads the model identity a checkpoint or ticket file carries with `read`
 * (tk_checkpoint_model, tk_ticket_model); when it is accepted, checks that
 * the name is set and the shape and classes are positive. */
void fuzz_check_model_id(const char *path, int (*read)(const char *, tk_model_config *, char[64], tk_error *));

/* A small LeNet-300-100 (1x8x8 input, 10 classes, width 0.05, seed 1), the
 * model the checkpoint and ticket harnesses read into; built once, its mask
 * and weights restored before each use. */
tk_model *fuzz_model(void);
#define FUZZ_MODEL_WIDTH 0.05f

#endif
