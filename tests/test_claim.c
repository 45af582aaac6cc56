/* test_claim.c - job claims (tk_claim.h): one holder among racing processes,
 * waiting for a live holder, taking over from a dead or silent one. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_claim.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool marker_done(void *ctx) { return access((const char *)ctx, F_OK) == 0; }

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

/* The pid of a process of this host that has exited and been reaped. */
static pid_t dead_pid(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

/* Six processes race for one job: exactly one trains it (appends a line to
 * `trained`, then marks it done); the others wait and find it done. */
static void test_one_holder_among_racers(void) {
    char *dir = test_tmpdir("claim"), *claim = path_in(dir, "job"), *marker = path_in(dir, "done"),
         *trained = path_in(dir, "trained");
    enum { RACERS = 6 };
    pid_t pids[RACERS];
    for (int i = 0; i < RACERS; i++) {
        if ((pids[i] = fork()) == 0) {
            tk_claim *c;
            tk_error err = {0};
            int got = tk_claim_acquire(claim, "job 0", marker_done, marker, &c, &err);
            if (got == 0 && !marker_done(marker)) {
                int fd = open(trained, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (write(fd, "x\n", 2) != 2) _exit(3);
                close(fd);
                usleep(200 * 1000); /* long enough for the others to find it held */
                write_text(marker, "done");
            }
            tk_claim_release(c);
            _exit(got < 0 ? 2 : 0);
        }
    }
    for (int i = 0; i < RACERS; i++) {
        int status;
        CHECK(waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    size_t n;
    char *text = read_whole_file(trained, &n);
    CHECK(text && !strcmp(text, "x\n"));
    CHECK(access(claim, F_OK) != 0); /* released */
    free(text);
    rm_rf(dir);
    free(dir), free(claim), free(marker), free(trained);
}

/* While held, the claim names this host and pid, and nobody else takes it. */
static void test_holder_named_while_held(void) {
    char *dir = test_tmpdir("claim"), *claim = path_in(dir, "job");
    tk_claim *c;
    tk_error err = {0};
    CHECK(tk_claim_acquire(claim, "job 0", NULL, NULL, &c, &err) == 0);
    tk_claim_holder h;
    char host[256];
    gethostname(host, sizeof host);
    CHECK(tk_claim_holder_of(claim, &h) == 1);
    CHECK(!strcmp(h.host, host) && h.pid == (long)getpid() && !h.stale);
    tk_claim_release(c);
    CHECK(tk_claim_holder_of(claim, &h) == 0);
    rm_rf(dir);
    free(dir), free(claim);
}

/* A holder on this host whose process is gone is stale at once; one on
 * another host is stale only once its heartbeat is older than the timeout. */
static void test_stale_claims_taken_over(void) {
    char *dir = test_tmpdir("claim"), *claim = path_in(dir, "job");
    pid_t dead = dead_pid();
    char host[256], text[512];
    gethostname(host, sizeof host);
    snprintf(text, sizeof text, "%s %ld abc.1\n", host, (long)dead);
    write_text(claim, text);
    tk_claim_holder h;
    CHECK(tk_claim_holder_of(claim, &h) == 1 && h.stale && h.pid == (long)dead);
    tk_claim *c;
    tk_error err = {0};
    CHECK(tk_claim_acquire(claim, "job 0", NULL, NULL, &c, &err) == 0);
    CHECK(tk_claim_holder_of(claim, &h) == 1 && h.pid == (long)getpid());
    tk_claim_release(c);

    /* A worker killed with its parent is a zombie for a moment: dead too. */
    pid_t zombie = fork();
    if (zombie == 0) _exit(0);
    usleep(100 * 1000);
    snprintf(text, sizeof text, "%s %ld abc.2\n", host, (long)zombie);
    write_text(claim, text);
    CHECK(tk_claim_holder_of(claim, &h) == 1 && h.stale && h.pid == (long)zombie);
    waitpid(zombie, NULL, 0);
    snprintf(text, sizeof text, "%s %ld abc.3\n", host, (long)getpid());
    write_text(claim, text);
    CHECK(tk_claim_holder_of(claim, &h) == 1 && !h.stale);

    write_text(claim, "node-elsewhere 4242 def.2\n");
    CHECK(tk_claim_holder_of(claim, &h) == 1 && !h.stale && !strcmp(h.host, "node-elsewhere"));
    struct timespec old[2] = {{.tv_sec = time(NULL) - 1000}, {.tv_sec = time(NULL) - 1000}};
    CHECK(utimensat(AT_FDCWD, claim, old, 0) == 0);
    CHECK(tk_claim_holder_of(claim, &h) == 1 && h.stale && h.age_s > 999);
    CHECK(tk_claim_acquire(claim, "job 0", NULL, NULL, &c, &err) == 0);
    CHECK(tk_claim_holder_of(claim, &h) == 1 && h.pid == (long)getpid());
    tk_claim_release(c);

    /* The timeout is the environment's when set: a fresh claim from another
     * host goes stale after a second without heartbeat. */
    write_text(claim, "node-elsewhere 4242 ghi.3\n");
    setenv("TICKET_STALE_CLAIM_S", "1", 1);
    CHECK(tk_claim_stale_s() == 1);
    CHECK(tk_claim_acquire(claim, "job 0", NULL, NULL, &c, &err) == 0);
    CHECK(tk_claim_holder_of(claim, &h) == 1 && h.pid == (long)getpid());
    tk_claim_release(c);
    unsetenv("TICKET_STALE_CLAIM_S");
    CHECK(tk_claim_stale_s() == TK_CLAIM_STALE_S);
    rm_rf(dir);
    free(dir), free(claim);
}

/* A worker killed between creating its candidate and writing it leaves an
 * empty CLAIM.HOST.PID.tmp: clearing removes it when that process of this host
 * is dead, and keeps a live one's, and an empty one from another host until it
 * is old. */
static void test_clear_removes_dead_candidates(void) {
    char *dir = test_tmpdir("claim");
    pid_t dead = dead_pid();
    char host[256], name[512];
    gethostname(host, sizeof host);
    snprintf(name, sizeof name, "runs.0123456789abcdef.level_00.%s.%ld.tmp", host, (long)dead);
    char *of_dead = path_in(dir, name);
    snprintf(name, sizeof name, "runs.0123456789abcdef.level_00.%s.%ld.tmp", host, (long)getpid());
    char *of_live = path_in(dir, name);
    char *elsewhere = path_in(dir, "runs.0123456789abcdef.level_00.node-elsewhere.4242.tmp");
    char *bare = path_in(dir, "runs.0123456789abcdef.level_00.tmp");
    write_text(of_dead, "");
    write_text(of_live, "");
    write_text(elsewhere, "");
    write_text(bare, "");
    tk_claim_clear_stale(dir);
    CHECK(access(of_dead, F_OK) != 0);
    CHECK(access(of_live, F_OK) == 0);
    CHECK(access(elsewhere, F_OK) == 0);
    CHECK(access(bare, F_OK) == 0);
    struct timespec old[2] = {{.tv_sec = time(NULL) - 1000}, {.tv_sec = time(NULL) - 1000}};
    CHECK(utimensat(AT_FDCWD, elsewhere, old, 0) == 0);
    tk_claim_clear_stale(dir);
    CHECK(access(elsewhere, F_OK) != 0);
    rm_rf(dir);
    free(dir), free(of_dead), free(of_live), free(elsewhere), free(bare);
}

/* A claim that cannot be made says where and why. */
static void test_claim_in_missing_folder(void) {
    tk_claim *c;
    tk_error err = {0};
    CHECK(tk_claim_acquire("/nonexistent-ticket-dir/job", "job 0", NULL, NULL, &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "cannot write the claim /nonexistent-ticket-dir/job.");
    CHECK(c == NULL);
}

int main(void) {
    RUN(test_one_holder_among_racers);
    RUN(test_holder_named_while_held);
    RUN(test_stale_claims_taken_over);
    RUN(test_clear_removes_dead_candidates);
    RUN(test_claim_in_missing_folder);
    CHECK_MAIN_END();
}
