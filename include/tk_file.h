/* tk_file.h - files on disk: whole-file reads, atomic writes, checksums, and a
 * bounds-checked binary reader/writer for the formats ticket writes itself.
 *
 * Every binary file ticket writes starts with a 4-byte magic and a u32
 * version and ends with a CRC-32 of everything before it. Writes go to
 * "path.tmp", are fsynced and renamed over the target, and the directory is
 * fsynced, so a crash leaves either the old file or the new one. */
#ifndef TK_FILE_H
#define TK_FILE_H

#include "tk_common.h"

/* The whole file; a NUL byte follows the data (not counted in n), so a text
 * file can be used as a C string. */
int tk_file_read_all(const char *path, uint8_t **data, size_t *n, tk_error *err);
int tk_file_write_atomic(const char *path, const void *data, size_t n, tk_error *err);
/* Makes a file another program wrote (gnuplot's figures) durable and puts it
 * in place as the atomic writer does: fsync tmp, rename it to path, fsync
 * the directory. */
int tk_file_publish(const char *tmp, const char *path, tk_error *err);
/* Appends data to a log file and fsyncs it (metrics.jsonl: its reader drops
 * a last line without its newline, and lines past the checkpoint). */
int tk_file_append_durable(const char *path, const void *data, size_t n, tk_error *err);
/* What to do after a write failed with errno e ("free some space ..."). */
const char *tk_file_advice(int e);
bool tk_file_exists(const char *path);
/* The size of a regular file, to bound counts a header declares by the bytes
 * that hold them before anything is allocated. */
int tk_file_size(const char *path, uint64_t *size, tk_error *err);
/* mkdir -p */
int tk_mkdirs(const char *path, tk_error *err);
uint32_t tk_crc32(const void *data, size_t n);

/* Test-only crash points (tests/test_durability.c), off unless TICKET_CRASH_AT is
 * set when main() calls tk_crash_init. With TICKET_CRASH_AT=N, the Nth crash
 * point passed by the process and the workers it forks (counted together)
 * sends SIGKILL to the process group, as `kill -9` at that moment would.
 * The points: inside every atomic write (half of NAME.tmp written; all of it,
 * not yet renamed; NAME in place) and every appended log line (half; all).
 * TICKET_CRASH_AT=0 kills nothing and prints, at exit, how many points the
 * run passed. Unset, a crash point is one test of a NULL pointer. */
int tk_crash_init(tk_error *err);
void tk_crash_point(void);

/* A folder of ticket's own files (the dataset catalog, the gnuplot scripts,
 * the registry), found at run time from the first of: $env_var; then, in the
 * directory of the running executable and each of its ancestors, `rel` (e.g.
 * "plots": bin/ticket, build/ticket and build/tests/test_x all sit below the
 * repository root) or share/ticket/`installed` (e.g. "plots": `make install
 * PREFIX=P` puts the executable in P/bin and the folders in P/share/ticket,
 * so an installed copy finds them wherever P is). A folder counts only if it
 * holds `marker` (NULL: any folder), so that an unrelated folder of the same
 * name higher up is not taken. `what` names the folder in messages ("dataset
 * catalog"). dir gets an absolute path. */
int tk_find_resource_dir(const char *what, const char *env_var, const char *rel, const char *marker,
                         const char *installed, char *dir, size_t cap, tk_error *err);

/* Growable little-endian byte buffer. */
typedef struct tk_buf {
    uint8_t *data;
    size_t len, cap;
} tk_buf;
void tk_buf_put(tk_buf *b, const void *data, size_t n);
void tk_buf_u32(tk_buf *b, uint32_t v);
void tk_buf_u64(tk_buf *b, uint64_t v);
void tk_buf_f32(tk_buf *b, float v);
void tk_buf_str(tk_buf *b, const char *s); /* u32 length + bytes */
void tk_buf_printf(tk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* text, no NUL */
void tk_buf_free(tk_buf *b);
/* Appends magic+version at the start of an empty buffer / the CRC at the end. */
void tk_buf_begin(tk_buf *b, const char magic[4], uint32_t version);
void tk_buf_end(tk_buf *b);

/* Reader over a file's bytes; every error names the file and the offset. */
typedef struct tk_reader {
    const uint8_t *data;
    size_t len, pos;
    const char *path;
} tk_reader;
/* Checks magic, version (must equal `version`) and the trailing CRC; on
 * success the reader is positioned after the header and len excludes the CRC.
 * `what` names the kind of file in messages ("checkpoint"). */
int tk_reader_begin(tk_reader *r, const uint8_t *data, size_t n, const char *path, const char magic[4],
                    uint32_t version, const char *what, tk_error *err);
int tk_read(tk_reader *r, void *out, size_t n, const char *field, tk_error *err);
int tk_read_u32(tk_reader *r, uint32_t *v, const char *field, tk_error *err);
int tk_read_u64(tk_reader *r, uint64_t *v, const char *field, tk_error *err);
int tk_read_f32(tk_reader *r, float *v, const char *field, tk_error *err);
/* Reads a string into out[cap] (NUL-terminated). */
int tk_read_str(tk_reader *r, char *out, size_t cap, const char *field, tk_error *err);

#endif
