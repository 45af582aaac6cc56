/* fuzz_archive.c - the archive walker (tk_archive_open/next/read): every
 * member is read whole under a bound the flags byte picks, and a read never
 * returns more than the bound or an unterminated buffer. */
#include "fuzz_support.h"
#include "tk_archive.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t flags = fuzz_take_flags(&data, &n);
    fuzz_dir();
    const char *path = fuzz_write("archive", data, n);
    static const tk_archive_formats formats[] = {TK_ARCHIVE_TAR, TK_ARCHIVE_TAR_ZIP, TK_ARCHIVE_ANY, TK_ARCHIVE_ANY};
    tk_error err = {0};
    tk_archive *a = tk_archive_open(path, formats[flags & 3], "an archive", "make it again", &err);
    if (!a) return 0;
    size_t max = (size_t)1 << (4 + (flags >> 2 & 15)); /* 16 B .. 512 KiB */
    uint8_t *buf = NULL;
    size_t cap = 0, got = 0;
    tk_archive_member m;
    for (int members = 0; members < 10000 && tk_archive_next(a, &m, &err) == 1; members++) {
        FUZZ_CHECK(m.name && m.name[0], "a member without a name");
        FUZZ_CHECK(m.size >= 0, "member %s: size %lld", m.name, (long long)m.size);
        if (!m.is_file || (flags & 0x40 && members % 2)) continue; /* skip some, as loaders do */
        if (tk_archive_read(a, max, &buf, &cap, &got, &err) == 0) {
            FUZZ_CHECK(got <= max && got <= cap && buf && buf[got] == 0, "read %zu bytes (max %zu, cap %zu)", got, max,
                       cap);
        } else if (!(flags & 0x80)) {
            break; /* a loader gives up at the first damaged member; sometimes carry on */
        }
    }
    (void)tk_archive_consumed(a);
    free(buf);
    tk_archive_close(a);
    return 0;
}
