/* tk_archive.h - the members of a .tar, .tar.gz, .tgz or .zip, read in one
 * pass through libarchive (datasets/archive.c), never extracted to disk.
 *
 * A loader opens the archive, walks its members with tk_archive_next and
 * reads the ones it wants whole with tk_archive_read; members it does not
 * read are skipped. Every error names the archive, the member when there is
 * one, what went wrong, and ends with the caller's `fix` (how to get an
 * intact copy, "download cifar-10-binary.tar.gz again"). */
#ifndef TK_ARCHIVE_H
#define TK_ARCHIVE_H

#include "tk_common.h"

/* The container formats recognised; any compression (gzip, bzip2, xz, ...) is. */
typedef enum tk_archive_formats {
    TK_ARCHIVE_TAR,     /* tar only: cheap detection of a tarball's first members */
    TK_ARCHIVE_TAR_ZIP, /* what image collections ship as */
    TK_ARCHIVE_ANY,     /* every format libarchive reads, for repacks (.7z, .cpio, ...) */
} tk_archive_formats;

typedef struct tk_archive tk_archive;

typedef struct tk_archive_member {
    const char *name; /* as stored ("./a/b.png", "a/dir/"); valid until the next member */
    int64_t size;     /* from the header; 0 when the header does not say (a streamed zip member) */
    bool is_file;     /* a regular file */
    bool is_dir;
} tk_archive_member;

/* NULL (err: "<path>: not <expected>: <why> (if it is one, it is damaged:
 * <fix>)") when path is not an archive in `formats`. path and fix must
 * outlive the handle. */
tk_archive *tk_archive_open(const char *path, tk_archive_formats formats, const char *expected, const char *fix,
                            tk_error *err);
/* 1 with *m the next member (unnamed members are skipped), 0 after the last,
 * -1 when the archive breaks off or is damaged: err names the last member. */
int tk_archive_next(tk_archive *a, tk_archive_member *m, tk_error *err);
/* The current member whole into *buf (grown as needed; *cap is its size, the
 * allocation one byte more), NUL-terminated so text can be used as a string;
 * *n gets the length. A member cut short is an error naming it, and so is
 * one larger than `max` bytes (what the caller can expect of it: a CIFAR
 * batch, a list of class names), whatever its header says. The header's
 * size is never allocated on trust: the buffer grows with the bytes that
 * actually come out of the archive. */
int tk_archive_read(tk_archive *a, size_t max, uint8_t **buf, size_t *cap, size_t *n, tk_error *err);
/* Bytes of the uncompressed stream consumed so far, to bound a cheap look. */
int64_t tk_archive_consumed(const tk_archive *a);
void tk_archive_close(tk_archive *a);

#endif
