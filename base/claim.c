/* claim.c - job claims in a shared folder (tk_claim.h). */
#define _GNU_SOURCE
#include "tk_claim.h"
#include "tk_file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct tk_claim {
    char path[4096];
    pthread_t heartbeat;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

/* A breaker that died between taking path.break and releasing it leaves it
 * behind; breaking takes milliseconds, so one this old is abandoned. */
enum { BREAK_ABANDONED_S = 60 };

double tk_claim_stale_s(void) {
    const char *v = getenv("TICKET_STALE_CLAIM_S");
    char *end;
    double s = v ? strtod(v, &end) : 0;
    return v && end != v && !*end && s > 0 ? s : TK_CLAIM_STALE_S;
}

static void this_host(char *host, size_t cap) {
    if (gethostname(host, cap) != 0) snprintf(host, cap, "unknown");
    host[cap - 1] = 0;
}

static double now_wall(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The claim's text and the age of its heartbeat; false when there is none. */
static bool read_claim(const char *path, char *text, size_t cap, double *age_s) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 ? read(fd, text, cap - 1) : -1;
    close(fd);
    if (n < 0) return false;
    text[n] = 0;
    *age_s = now_wall() - ((double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec);
    return true;
}

/* A process killed with its parent can stay a zombie for a moment, which
 * kill(pid, 0) still finds: /proc says it is dead. */
static bool pid_alive(long pid) {
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) return false;
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return true;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    const char *after_name = strrchr(line, ')'); /* the name may hold spaces and parentheses */
    return !(after_name && (after_name[2] == 'Z' || after_name[2] == 'X'));
}

static bool holder_from_text(const char *text, double age_s, tk_claim_holder *h) {
    memset(h, 0, sizeof *h);
    char token[64];
    if (sscanf(text, "%255s %ld %63s", h->host, &h->pid, token) != 3) {
        /* Written halfway by a worker that died at once: nobody can hold it. */
        snprintf(h->host, sizeof h->host, "?");
        h->stale = age_s > BREAK_ABANDONED_S;
        h->age_s = age_s;
        return true;
    }
    char host[256];
    this_host(host, sizeof host);
    bool gone = !strcmp(host, h->host) && !pid_alive(h->pid);
    h->age_s = age_s;
    h->stale = gone || age_s > tk_claim_stale_s();
    return true;
}

int tk_claim_holder_of(const char *path, tk_claim_holder *h) {
    char text[512];
    double age;
    return read_claim(path, text, sizeof text, &age) && holder_from_text(text, age, h);
}

/* path.HOST.PID.tmp holding "HOST PID TOKEN": the file each attempt links. */
static int write_candidate(const char *path, char *tmp, size_t cap, char *text, size_t text_cap, tk_error *err) {
    static unsigned counter;
    char host[256];
    this_host(host, sizeof host);
    snprintf(tmp, cap, "%s.%s.%ld.tmp", path, host, (long)getpid());
    snprintf(text, text_cap, "%s %ld %lx.%x\n", host, (long)getpid(), (unsigned long)(now_wall() * 1e6), counter++);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        unlink(tmp);
        return tk_fail_system(err, "cannot write the claim %s: %s (%s)", tmp, strerror(e), tk_file_advice(e));
    }
    close(fd);
    return 0;
}

/* link(2) from tmp to path; on NFS a lost reply can report failure for a
 * link that was made, which the link count of tmp tells. */
static int try_link(const char *tmp, const char *path) {
    if (link(tmp, path) == 0) return 0;
    int e = errno;
    struct stat st;
    if (stat(tmp, &st) == 0 && st.st_nlink == 2) return 0;
    errno = e;
    return -1;
}

/* Removes a stale claim whose text is `seen`, under path.break so that only
 * one of the workers that found it stale removes it (and never a fresh claim
 * another breaker has linked since). */
static void break_stale(const char *path, const char *seen, tk_error *err) {
    char brk[4200], tmp[4400], text[512], now_text[512];
    snprintf(brk, sizeof brk, "%s.break", path);
    if (write_candidate(brk, tmp, sizeof tmp, text, sizeof text, err)) return;
    if (try_link(tmp, brk) == 0) {
        double age;
        if (read_claim(path, now_text, sizeof now_text, &age) && !strcmp(now_text, seen)) unlink(path);
        unlink(brk);
    } else {
        double age;
        if (read_claim(brk, now_text, sizeof now_text, &age) && age > BREAK_ABANDONED_S) unlink(brk);
    }
    unlink(tmp);
}

static void *heartbeat(void *arg) {
    tk_claim *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += TK_CLAIM_HEARTBEAT_S;
        if (pthread_cond_timedwait(&c->wake, &c->lock, &until) == ETIMEDOUT && !c->stopping)
            utimensat(AT_FDCWD, c->path, NULL, 0);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int tk_claim_acquire(const char *path, const char *what, bool (*done)(void *ctx), void *ctx, tk_claim **out,
                     tk_error *err) {
    *out = NULL;
    char tmp[4200], mine[512];
    if (write_candidate(path, tmp, sizeof tmp, mine, sizeof mine, err)) return -1;
    bool said = false;
    for (;;) {
        if (try_link(tmp, path) == 0) break;
        if (errno != EEXIST) {
            int e = errno;
            unlink(tmp);
            return tk_fail_system(err, "cannot claim %s: %s (%s)", path, strerror(e), tk_file_advice(e));
        }
        char text[512];
        double age;
        tk_claim_holder h;
        if (!read_claim(path, text, sizeof text, &age)) continue; /* released meanwhile */
        holder_from_text(text, age, &h);
        if (done && done(ctx)) {
            unlink(tmp);
            return 1;
        }
        if (h.stale) {
            fprintf(stderr, "ticket: %s: taking over the stale claim of %s pid %ld (last heartbeat %.0f s ago)\n",
                    what, h.host, h.pid, h.age_s);
            break_stale(path, text, err);
            continue;
        }
        if (!said)
            fprintf(stderr, "ticket: %s is being trained by %s pid %ld (claim %s); waiting for it to finish, or for "
                    "its claim to go stale (%.0f s without a heartbeat)\n", what, h.host, h.pid, path,
                    tk_claim_stale_s());
        said = true;
        usleep(500 * 1000);
    }
    unlink(tmp);
    tk_claim *c = tk_calloc(1, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->heartbeat, NULL, heartbeat, c) != 0) {
        unlink(path);
        free(c);
        return tk_fail_system(err, "cannot start the heartbeat of claim %s: %s", path, strerror(errno));
    }
    *out = c;
    return 0;
}

void tk_claim_release(tk_claim *c) {
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->heartbeat, NULL);
    unlink(c->path);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}

/* Whether `name` is a candidate (write_candidate: CLAIM.HOST.PID.tmp) of a
 * process of this host that is dead. The name says whose it is even when its
 * writer was killed between creating it and writing its text, which leaves
 * nothing inside to read. */
static bool candidate_of_dead_process(const char *name) {
    size_t len = strlen(name);
    if (len < 4 || strcmp(name + len - 4, ".tmp")) return false;
    size_t end = len - 4, digits = end;
    while (digits > 0 && name[digits - 1] >= '0' && name[digits - 1] <= '9') digits--;
    if (digits == end || digits == 0 || name[digits - 1] != '.') return false;
    char host[256];
    this_host(host, sizeof host);
    size_t dot = digits - 1, host_len = strlen(host);
    if (dot < host_len + 1) return false;
    size_t host_at = dot - host_len;
    if (name[host_at - 1] != '.' || strncmp(name + host_at, host, host_len)) return false;
    return !pid_alive(strtol(name + digits, NULL, 10));
}

void tk_claim_clear_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    size_t len;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || ((len = strlen(e->d_name)) > 7 && !strcmp(e->d_name + len - 7, ".failed")))
            continue;
        char path[4096], text[512];
        double age;
        tk_claim_holder h;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (candidate_of_dead_process(e->d_name)) {
            unlink(path);
            continue;
        }
        if (!read_claim(path, text, sizeof text, &age) || !holder_from_text(text, age, &h) || !h.stale) continue;
        if (len > 4 && !strcmp(e->d_name + len - 4, ".tmp")) unlink(path); /* a candidate nobody links any more */
        else break_stale(path, text, NULL);
    }
    closedir(d);
}
