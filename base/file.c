/* file.c - whole-file reads, crash-safe writes, CRC-32, and the binary
 * buffer/reader pair behind every file format ticket writes itself. */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with realpath */
#define _DEFAULT_SOURCE   /* MAP_ANONYMOUS */
#include "tk_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* The on-disk formats are little-endian and tk_buf/tk_reader copy values
 * with memcpy, which is only correct on a little-endian host (x86-64, arm64
 * as usually run). A big-endian port must add byte swaps here. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tk_buf/tk_reader assume a little-endian host");

int tk_file_size(const char *path, uint64_t *size, tk_error *err) {
    struct stat st;
    if (stat(path, &st) != 0) return tk_fail(err, "cannot open %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return tk_fail(err, "cannot read %s: expected a regular file", path);
    *size = (uint64_t)st.st_size;
    return 0;
}

int tk_file_read_all(const char *path, uint8_t **data, size_t *n, tk_error *err) {
    *data = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return tk_fail(err, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tk_fail(err, "cannot stat %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return tk_fail(err, "cannot read %s: it is a directory, expected a file", path);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = tk_malloc(size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            free(buf);
            if (e) return tk_fail_system(err, "cannot read %s: %s", path, strerror(e));
            return tk_fail(err, "cannot read %s: it shrank from %zu to %zu bytes while being read", path, size,
                           got);
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = 0;
    *data = buf;
    *n = size;
    return 0;
}

/* ---- test-only crash points (see tk_file.h) */

static _Atomic long *crash_passed; /* shared with forked workers; NULL: crash points off */
static long crash_at;
static pid_t crash_main;

static void crash_report(void) {
    if (getpid() == crash_main)
        fprintf(stderr, "ticket: TICKET_CRASH_AT: %ld crash points passed\n", atomic_load(crash_passed));
}

int tk_crash_init(tk_error *err) {
    const char *v = getenv("TICKET_CRASH_AT");
    if (!v || !*v) return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*end || n < 0 || errno)
        return tk_fail(err, "TICKET_CRASH_AT=%s: expected a count (0: count the crash points; N: SIGKILL at the "
                            "Nth); it is for tests, unset it", v);
    void *shared = mmap(NULL, sizeof *crash_passed, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return tk_fail_system(err, "TICKET_CRASH_AT: mmap: %s", strerror(errno));
    crash_passed = shared;
    atomic_init(crash_passed, 0);
    crash_at = n;
    crash_main = getpid();
    if (n == 0) atexit(crash_report);
    return 0;
}

void tk_crash_point(void) {
    if (!crash_passed) return;
    if (atomic_fetch_add(crash_passed, 1) + 1 == crash_at) {
        kill(0, SIGKILL); /* the process group: a study's scheduler and its workers, as `kill -9 -PGID` */
        raise(SIGKILL);
    }
}

/* Every byte, or -1 with errno set: a short write is continued, and a write
 * that makes no progress is a full disk. */
static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* write_all, in two halves with a crash point between them when crash
 * points are on (a file cut mid-write); in one piece otherwise. */
static int write_in_two(int fd, const void *data, size_t n) {
    const uint8_t *p = data;
    size_t first = crash_passed ? n / 2 : n;
    if (write_all(fd, p, first) != 0) return -1;
    if (first == n) return 0;
    tk_crash_point();
    return write_all(fd, p + first, n - first);
}

int tk_file_append_durable(const char *path, const void *data, size_t n, tk_error *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return tk_fail_system(err, "cannot append to %s: %s", path, strerror(errno));
    const char *step = NULL;
    if (write_in_two(fd, data, n) != 0) step = "write";
    else if (fsync(fd) != 0) step = "fsync";
    int e = errno;
    if (close(fd) != 0 && !step) step = "close", e = errno; /* closed once, whatever it returned */
    if (step)
        return tk_fail_system(err, "cannot append to %s (%s failed): %s; %s", path, step, strerror(e), tk_file_advice(e));
    tk_crash_point();
    return 0;
}

const char *tk_file_advice(int e) {
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return "free some space there (or choose another output folder) and run the same command again: "
               "finished work is kept and the run resumes";
    if (e == EACCES || e == EPERM || e == EROFS) return "check the folder's permissions and run the same command again";
    return "check the disk and run the same command again";
}

/* fsync on the directory makes the rename itself durable; without it a crash
 * can forget the new directory entry even though the data was synced. */
static int fsync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* The message of a write that failed before the rename: path is untouched. */
static int write_failed(const char *path, const char *step, const char *tmp, int e, tk_error *err) {
    return tk_fail_system(err, "cannot write %s (%s of %s failed): %s; %s; %s", path, step, tmp, strerror(e),
                   tk_file_exists(path) ? "the previous file is as it was" : "nothing was written in its place",
                   tk_file_advice(e));
}

int tk_file_write_atomic(const char *path, const void *data, size_t n, tk_error *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return tk_fail(err, "cannot write %s: path longer than %zu bytes", path, sizeof tmp - 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return write_failed(path, "create", tmp, errno, err);
    /* Crash points: the temporary file half written, all of it (not renamed), the new file in place. */
    const char *step = NULL;
    if (write_in_two(fd, data, n) != 0) step = "write";
    else if (fsync(fd) != 0) step = "fsync";
    int e = errno;
    if (close(fd) != 0 && !step) step = "close", e = errno; /* closed once, whatever it returned */
    if (step) {
        unlink(tmp);
        return write_failed(path, step, tmp, e, err);
    }
    tk_crash_point();
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return write_failed(path, "rename", tmp, e, err);
    }
    tk_crash_point();
    if (fsync_parent_dir(path) != 0)
        return tk_fail_system(err, "wrote %s but could not fsync its directory: %s", path, strerror(errno));
    return 0;
}

int tk_file_publish(const char *tmp, const char *path, tk_error *err) {
    int fd = open(tmp, O_RDONLY);
    if (fd < 0) return tk_fail(err, "cannot open %s: %s", tmp, strerror(errno));
    int rc = fsync(fd), e = errno;
    close(fd);
    if (rc != 0 || rename(tmp, path) != 0) {
        if (rc == 0) e = errno;
        unlink(tmp);
        return write_failed(path, rc ? "fsync" : "rename", tmp, e, err);
    }
    tk_crash_point();
    if (fsync_parent_dir(path) != 0)
        return tk_fail_system(err, "wrote %s but could not fsync its directory: %s", path, strerror(errno));
    return 0;
}

bool tk_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int tk_mkdirs(const char *path, tk_error *err) {
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0) return tk_fail(err, "cannot create a directory with an empty name");
    if (len >= sizeof buf) return tk_fail(err, "cannot create %s: path longer than %zu bytes", path, sizeof buf - 1);
    memcpy(buf, path, len + 1);
    /* Walk each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char saved = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            return tk_fail_system(err, "cannot create directory %s (for %s): %s", buf, path, strerror(e));
        }
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return tk_fail(err, "cannot create directory %s: %s exists and is not a directory", path, buf);
        buf[i] = saved;
    }
    return 0;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool holds(const char *dir, const char *marker) {
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, marker);
    return tk_file_exists(path);
}

int tk_find_resource_dir(const char *what, const char *env_var, const char *rel, const char *marker,
                         const char *installed, char *dir, size_t cap, tk_error *err) {
    const char *env = getenv(env_var);
    if (env && *env) {
        /* Absolute, so that a later chdir does not lose it. */
        char abs[PATH_MAX];
        if (!realpath(env, abs) || !is_dir(abs))
            return tk_fail(err, "%s=%s is not a directory: point it at the %s folder of the ticket sources, or unset it",
                           env_var, env, rel);
        snprintf(dir, cap, "%s", abs);
        return 0;
    }
    char exe[PATH_MAX], tried[2048] = "";
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash;
        while ((slash = strrchr(exe, '/'))) {
            *slash = 0; /* exe is now the executable's directory, then each ancestor */
            char source[PATH_MAX + 256], installed_dir[PATH_MAX + 256];
            snprintf(source, sizeof source, "%s/%s", exe, rel);
            snprintf(installed_dir, sizeof installed_dir, "%s/share/ticket/%s", exe, installed);
            const char *candidates[] = {source, installed_dir};
            for (int i = 0; i < 2; i++)
                if (is_dir(candidates[i]) && (!marker || holds(candidates[i], marker))) {
                    snprintf(dir, cap, "%s", candidates[i]);
                    return 0;
                }
            if (!tried[0])
                snprintf(tried, sizeof tried, "\n  %s\n  %s\n  (and the same under each parent folder)", source,
                         installed_dir);
        }
    }
    return tk_fail(err, "no %s found: looked in\n  $%s (not set)%s\nset %s to the %s folder of the ticket sources, "
                        "or install ticket with `make install PREFIX=...`",
                   what, env_var, tried, env_var, rel);
}

uint32_t tk_crc32(const void *data, size_t n) {
    const uint8_t *p = data;
    uLong crc = crc32(0L, Z_NULL, 0);
    /* zlib takes a uInt length: feed files over 4 GiB in pieces. */
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

void tk_buf_put(tk_buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *grown = tk_malloc(cap);
        if (b->len) memcpy(grown, b->data, b->len);
        free(b->data);
        b->data = grown;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
}

void tk_buf_u32(tk_buf *b, uint32_t v) { tk_buf_put(b, &v, sizeof v); }
void tk_buf_u64(tk_buf *b, uint64_t v) { tk_buf_put(b, &v, sizeof v); }
void tk_buf_f32(tk_buf *b, float v) { tk_buf_put(b, &v, sizeof v); }

void tk_buf_str(tk_buf *b, const char *s) {
    size_t n = strlen(s);
    TK_ASSERT(n <= UINT32_MAX);
    tk_buf_u32(b, (uint32_t)n);
    tk_buf_put(b, s, n);
}

void tk_buf_printf(tk_buf *b, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    TK_ASSERT(n >= 0);
    if ((size_t)n < sizeof small) {
        tk_buf_put(b, small, (size_t)n);
        return;
    }
    char *big = tk_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tk_buf_put(b, big, (size_t)n);
    free(big);
}

void tk_buf_free(tk_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void tk_buf_begin(tk_buf *b, const char magic[4], uint32_t version) {
    TK_ASSERT(b->len == 0);
    tk_buf_put(b, magic, 4);
    tk_buf_u32(b, version);
}

void tk_buf_end(tk_buf *b) { tk_buf_u32(b, tk_crc32(b->data, b->len)); }

/* Magic bytes as text a person can compare: printable characters as they
 * are, anything else as \xNN. */
static const char *show_magic(const uint8_t *m, size_t n, char out[20]) {
    char *o = out;
    for (size_t i = 0; i < n && i < 4; i++) {
        if (m[i] >= 0x20 && m[i] < 0x7f && m[i] != '\\' && m[i] != '"') *o++ = (char)m[i];
        else o += sprintf(o, "\\x%02x", m[i]);
    }
    *o = 0;
    return out;
}

int tk_reader_begin(tk_reader *r, const uint8_t *data, size_t n, const char *path, const char magic[4],
                    uint32_t version, const char *what, tk_error *err) {
    *r = (tk_reader){.data = data, .len = n, .pos = 0, .path = path};
    char want[20], got[20];
    if (n < 4 || memcmp(data, magic, 4) != 0)
        return tk_fail(err, "%s is not a %s file (magic \"%s\", expected \"%s\"%s)", path, what,
                       show_magic(data, n, got), show_magic((const uint8_t *)magic, 4, want),
                       n < 4 ? "; the file is shorter than its magic" : "");
    r->pos = 4;
    uint32_t file_version = 0;
    if (tk_read_u32(r, &file_version, "version", err)) return -1;
    if (file_version != version)
        return tk_fail(err, "%s: %s version %u, this ticket reads version %u (%s)", path, what, file_version,
                       version,
                       file_version > version ? "written by a newer ticket: upgrade ticket to read it"
                                              : "written by an older ticket: re-create the file with this one");
    /* The checksum is the last 4 bytes, which must come after the version. */
    if (n < 12)
        return tk_fail(err, "%s: truncated at offset %zu while reading checksum (need %zu more bytes)", path,
                       r->pos, 12 - n);
    uint32_t stored;
    size_t body = n - 4;
    memcpy(&stored, data + body, 4);
    uint32_t computed = tk_crc32(data, body);
    if (stored != computed)
        return tk_fail(err,
                       "%s: checksum mismatch: the file is corrupted (or truncated); delete it and run the "
                       "step that wrote it again (the CRC-32 stored at offset %zu is 0x%08x, the one computed "
                       "over bytes 0 to %zu is 0x%08x)",
                       path, body, stored, body, computed);
    r->len = body;
    r->pos = 8;
    return 0;
}

int tk_read(tk_reader *r, void *out, size_t n, const char *field, tk_error *err) {
    TK_ASSERT(r->pos <= r->len);
    size_t left = r->len - r->pos;
    if (n > left)
        return tk_fail(err, "%s: truncated at offset %zu while reading %s (need %zu more bytes)", r->path, r->pos,
                       field, n - left);
    if (n) memcpy(out, r->data + r->pos, n);
    r->pos += n;
    return 0;
}

int tk_read_u32(tk_reader *r, uint32_t *v, const char *field, tk_error *err) {
    return tk_read(r, v, sizeof *v, field, err);
}

int tk_read_u64(tk_reader *r, uint64_t *v, const char *field, tk_error *err) {
    return tk_read(r, v, sizeof *v, field, err);
}

int tk_read_f32(tk_reader *r, float *v, const char *field, tk_error *err) {
    return tk_read(r, v, sizeof *v, field, err);
}

int tk_read_str(tk_reader *r, char *out, size_t cap, const char *field, tk_error *err) {
    TK_ASSERT(cap > 0);
    size_t at = r->pos;
    uint32_t n = 0;
    if (tk_read_u32(r, &n, field, err)) return -1;
    if ((size_t)n >= cap)
        return tk_fail(err, "%s: %s at offset %zu is %u bytes long, more than the %zu this field allows", r->path,
                       field, at, n, cap - 1);
    if (tk_read(r, out, n, field, err)) return -1;
    out[n] = 0;
    return 0;
}
