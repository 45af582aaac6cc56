/* support.c - helpers shared by the test programs: golden fixtures, temp dirs,
 * archives and datasets written as they ship, the ticket executable. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_data.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int check_failures_in_test;
int check_tests_failed;

typedef struct golden_entry {
    char name[128];
    size_t n;
    float *data;
} golden_entry;

struct golden {
    int count;
    golden_entry *e;
};

static void die(const char *what, const char *path) {
    printf("  fixture error: %s (%s)\nFAIL fixture\n", what, path);
    exit(1);
}

golden *golden_open(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open; regenerate with tests/golden/make_golden.sh", path);
    char magic[4];
    uint32_t count = 0; /* die() exits, but clang does not know it */
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "TKGD", 4) || fread(&count, 4, 1, f) != 1)
        die("bad header", path);
    golden *g = calloc(1, sizeof *g);
    g->count = (int)count;
    g->e = calloc(count, sizeof *g->e);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len, ndim, dim;
        if (fread(&len, 4, 1, f) != 1 || len >= sizeof g->e[i].name) die("bad name", path);
        if (fread(g->e[i].name, 1, len, f) != len) die("truncated name", path);
        if (fread(&ndim, 4, 1, f) != 1 || ndim > 8) die("bad ndim", path);
        size_t n = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            if (fread(&dim, 4, 1, f) != 1) die("truncated dims", path);
            n *= dim;
        }
        g->e[i].n = n;
        g->e[i].data = malloc(n * sizeof(float) + 1);
        if (fread(g->e[i].data, sizeof(float), n, f) != n) die("truncated data", path);
    }
    fclose(f);
    return g;
}

const float *golden_get(const golden *g, const char *name, size_t *n) {
    for (int i = 0; i < g->count; i++)
        if (!strcmp(g->e[i].name, name)) {
            if (n) *n = g->e[i].n;
            return g->e[i].data;
        }
    die("missing array", name);
    return NULL;
}

void golden_close(golden *g) {
    if (!g) return;
    for (int i = 0; i < g->count; i++) free(g->e[i].data);
    free(g->e);
    free(g);
}

double max_rel_error(const float *a, const float *b, size_t n, double floor) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double s = fabs((double)b[i]) > floor ? fabs((double)b[i]) : floor;
        if (d / s > worst || d != d) worst = d != d ? INFINITY : d / s;
    }
    return worst;
}

double float32_bound_ratio(const float *got, const float *ref, const double *mag, const int *terms, size_t n) {
    const double u = 0x1p-24;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double k = (double)terms[i] + 1, gamma = k * u / (1 - k * u);
        double bound = gamma * mag[i] + u * fabs((double)ref[i]);
        double d = fabs((double)got[i] - (double)ref[i]);
        if (d != d) return INFINITY;
        /* An exact zero (no terms) must come out as exactly zero. */
        double r = bound > 0 ? d / bound : (d > 0 ? INFINITY : 0);
        if (r > worst) worst = r;
    }
    return worst;
}

char *test_tmpdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    char *path;
    if (asprintf(&path, "%s/ticket-test-%s-XXXXXX", base ? base : "/tmp", tag) < 0 || !mkdtemp(path)) {
        printf("  cannot create temp dir\nFAIL tmpdir\n");
        exit(1);
    }
    return path;
}

void rm_rf(const char *path) {
    char *cmd;
    if (asprintf(&cmd, "rm -rf '%s'", path) >= 0) {
        if (system(cmd)) { /* best effort: a leftover temp dir is harmless */
        }
        free(cmd);
    }
}

void cut_file(const char *path, size_t num, size_t den) {
    struct stat st;
    if (stat(path, &st) || truncate(path, (off_t)((size_t)st.st_size * num / den))) {
        printf("  cannot cut %s\nFAIL cut_file\n", path);
        exit(1);
    }
}

char *path_in(const char *dir, const char *name) {
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0) abort();
    return p;
}

void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f)) {
        printf("  cannot write %s\nFAIL write_file\n", path);
        exit(1);
    }
}

int run_capture(const char *cmd, char **output) {
    char *full;
    if (asprintf(&full, "%s 2>&1", cmd) < 0) exit(1);
    FILE *p = popen(full, "r");
    free(full);
    if (!p) exit(1);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    int status = pclose(p);
    if (output) *output = buf;
    else free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

double gradcheck(double (*loss)(void *ctx), void *ctx, float *x, const float *analytic, size_t n, float eps,
                 size_t max_points) {
    size_t step = n > max_points ? n / max_points : 1;
    double worst = 0;
    for (size_t i = 0; i < n; i += step) {
        float saved = x[i];
        x[i] = saved + eps;
        double lp = loss(ctx);
        x[i] = saved - eps;
        double lm = loss(ctx);
        x[i] = saved;
        double fd = (lp - lm) / (2.0 * (double)eps);
        double a = analytic[i];
        double denom = fabs(a) + fabs(fd);
        if (denom < 1e-2) denom = 1e-2;
        double err = fabs(a - fd) / denom;
        if (err > worst || err != err) worst = err != err ? INFINITY : err;
    }
    return worst;
}

char *read_whole_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[len] = 0;
    if (n) *n = len;
    return buf;
}

uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* One split: images drawn around the class patterns, labels uniform. */
static void write_idx_split(const char *folder, const char *split, int n, int H, int W, int classes,
                            const uint8_t *patterns, uint64_t *rng) {
    size_t hw = (size_t)H * (size_t)W;
    size_t img_len = 16 + (size_t)n * hw, lab_len = 8 + (size_t)n;
    uint8_t *img = malloc(img_len), *lab = malloc(lab_len);
    put_be32(img, 0x00000803), put_be32(img + 4, (uint32_t)n), put_be32(img + 8, (uint32_t)H);
    put_be32(img + 12, (uint32_t)W);
    put_be32(lab, 0x00000801), put_be32(lab + 4, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        int c = (int)(splitmix64(rng) % (uint64_t)classes);
        lab[8 + i] = (uint8_t)c;
        for (size_t k = 0; k < hw; k++) {
            /* On pixels land in [100, 255], off pixels in [0, 155]: the ranges
             * overlap, so single pixels mislead and the model must combine them. */
            int noise = (int)(splitmix64(rng) % 156);
            img[16 + (size_t)i * hw + k] = (uint8_t)(patterns[(size_t)c * hw + k] ? 100 + noise : noise);
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", folder, split);
    write_file(path, img, img_len);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", folder, split);
    write_file(path, lab, lab_len);
    free(img);
    free(lab);
}

void write_idx_dataset(const char *dir, int n_train, int n_test, int H, int W, int classes, uint64_t seed) {
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/mnist", dir);
    if (mkdir(folder, 0755) && errno != EEXIST) {
        printf("  cannot create %s\nFAIL write_idx_dataset\n", folder);
        exit(1);
    }
    uint64_t rng = seed;
    size_t hw = (size_t)H * (size_t)W;
    uint8_t *patterns = malloc((size_t)classes * hw);
    for (size_t k = 0; k < (size_t)classes * hw; k++) patterns[k] = (uint8_t)(splitmix64(&rng) & 1);
    write_idx_split(folder, "train", n_train, H, W, classes, patterns, &rng);
    write_idx_split(folder, "t10k", n_test, H, W, classes, patterns, &rng);
    free(patterns);
}

bool same_bytes(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = read_whole_file(a, &na), *y = read_whole_file(b, &nb);
    bool same = x && y && na > 0 && na == nb && !memcmp(x, y, na);
    if (!same) printf("  %s (%zu bytes) and %s (%zu bytes) differ\n", a, na, b, nb);
    free(x), free(y);
    return same;
}

void with_data_dir(void (*fn)(const char *dir)) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) abort();
    const char *old = getenv("TICKET_DATA");
    char *saved = old ? strdup(old) : NULL;
    char *dir = test_tmpdir("data");
    setenv("TICKET_DATA", dir, 1);
    if (chdir(dir) != 0) abort();
    fn(dir);
    if (chdir(cwd) != 0) abort();
    if (saved) setenv("TICKET_DATA", saved, 1);
    else unsetenv("TICKET_DATA");
    free(saved);
    rm_rf(dir);
    free(dir);
}

/* ---- archives */

test_member member_text(const char *name, const char *text) {
    test_member m;
    snprintf(m.name, sizeof m.name, "%s", name);
    m.len = strlen(text);
    m.data = (uint8_t *)strdup(text);
    return m;
}

test_member member_folder(const char *name) {
    test_member m;
    snprintf(m.name, sizeof m.name, "%s", name);
    m.data = NULL;
    m.len = 0;
    return m;
}

void free_members(test_member *m, int n) {
    for (int i = 0; i < n; i++) free(m[i].data);
}

void replace_member(test_member *slot, test_member with) {
    free(slot->data);
    *slot = with;
}

static void archive_die(struct archive *a, const char *path) {
    printf("  cannot write %s: %s\nFAIL write_archive\n", path, archive_error_string(a));
    exit(1);
}

/* One entry: a folder, or a file whose bytes follow. */
static void archive_put(struct archive *a, const char *path, const char *name, const void *data, size_t len,
                        bool folder) {
    struct archive_entry *e = archive_entry_new();
    if (name) archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, folder ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, folder ? 0755 : 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_size(e, (la_int64_t)len);
    if (archive_write_header(a, e) != ARCHIVE_OK || (len && archive_write_data(a, data, len) != (la_ssize_t)len))
        archive_die(a, path);
    archive_entry_free(e);
}

static void archive_finish(struct archive *a, const char *path) {
    if (archive_write_close(a) != ARCHIVE_OK) archive_die(a, path);
    archive_write_free(a);
}

void write_archive(const char *path, archive_kind kind, const test_member *m, int n) {
    struct archive *a = archive_write_new();
    if (kind == ARCHIVE_ZIP) archive_write_set_format_zip(a);
    else archive_write_set_format_pax_restricted(a);
    if (kind == ARCHIVE_TAR_GZ) archive_write_add_filter_gzip(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) archive_die(a, path);
    for (int i = 0; i < n; i++) archive_put(a, path, m[i].name, m[i].data, m[i].len, !m[i].data);
    archive_finish(a, path);
}

void write_tree(const char *dir, const test_member *m, int n) {
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, m[i].name);
        for (char *s = strchr(path + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
            *s = 0;
            mkdir(path, 0755);
            *s = '/';
        }
        if (!m[i].data) mkdir(path, 0755);
        else write_file(path, m[i].data, m[i].len);
    }
}

void write_gz(const char *path, const void *data, size_t n) {
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_raw(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) archive_die(a, path);
    archive_put(a, path, NULL, data, n, false);
    archive_finish(a, path);
}

/* ---- datasets */

bool same_dataset(const tk_dataset *a, const tk_dataset *b) {
    if (a->n != b->n || a->n <= 0 || a->C != b->C || a->H != b->H || a->W != b->W || a->classes != b->classes)
        return false;
    size_t bytes = (size_t)a->n * (size_t)a->C * (size_t)a->H * (size_t)a->W;
    if ((a->class_names == NULL) != (b->class_names == NULL)) return false;
    return !memcmp(a->images, b->images, bytes) && !memcmp(a->labels, b->labels, sizeof(int32_t) * (size_t)a->n) &&
           (!a->class_names || !memcmp(a->class_names, b->class_names, sizeof *a->class_names * (size_t)a->classes));
}

/* ---- the ticket executable */

const char *ticket_bin(void) {
    static char bin[PATH_MAX];
    const char *env = getenv("TICKET_BIN");
    const char *want = env && *env ? env : "build/ticket";
    if (!realpath(want, bin) || access(bin, X_OK)) {
        printf("  no executable %s: build it with `make` or set TICKET_BIN\n", want);
        return NULL;
    }
    return bin;
}

int ticket_output(const char *dir, const char *env, const char *args, char **out) {
    const char *bin = ticket_bin();
    char *cmd;
    if (!bin || asprintf(&cmd, "cd '%s' && env %s '%s' %s", dir, env, bin, args) < 0) abort();
    int status = run_capture(cmd, out);
    free(cmd);
    return status;
}

void check_ticket(const char *dir, const char *env, const char *args, int status, const char *const *needles) {
    char *out = NULL;
    int got = ticket_output(dir, env, args, &out);
    bool status_ok = got == status, ok = status_ok;
    for (int i = 0; needles[i]; i++) ok &= strstr(out, needles[i]) != NULL;
    if (!ok) printf("  `ticket %s` in %s exited with %d (expected %d):\n%s\n", args, dir, got, status, out);
    CHECK(status_ok);
    for (int i = 0; needles[i]; i++) CHECK_CONTAINS(out, needles[i]);
    free(out);
}

pid_t spawn_ticket(char *const args[], const char *log) { return spawn_ticket_how(NULL, args, log); }

pid_t spawn_ticket_how(const ticket_child *how, char *const args[], const char *log) {
    const char *bin = ticket_bin();
    if (!bin) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        if (how) {
            setpgid(0, 0);
            if (how->cwd && chdir(how->cwd) != 0) _exit(126);
            if (how->crash_at) setenv("TICKET_CRASH_AT", how->crash_at, 1);
            if (how->max_file_bytes > 0) {
                /* A write past the limit fails with EFBIG instead of raising SIGXFSZ. */
                signal(SIGXFSZ, SIG_IGN);
                struct rlimit lim = {(rlim_t)how->max_file_bytes, (rlim_t)how->max_file_bytes};
                if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(125);
            }
        }
        execv(bin, args);
        _exit(127);
    }
    if (pid > 0 && how) setpgid(pid, pid); /* also here, so that a kill of the group cannot come first */
    return pid;
}

int run_ticket_how(const ticket_child *how, char *const args[], const char *log) {
    int status = 0;
    pid_t pid = spawn_ticket_how(how, args, log);
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    return status;
}

int run_ticket(char *const args[], const char *log) {
    int status = 0;
    pid_t pid = spawn_ticket(args, log);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    if (WEXITSTATUS(status)) {
        char *text = read_whole_file(log, NULL);
        printf("  %s: %s\n", log, text ? text : "(missing)");
        free(text);
    }
    return WEXITSTATUS(status);
}
