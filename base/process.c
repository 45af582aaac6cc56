/* process.c - running other programs (tk_process.h). */
#define _POSIX_C_SOURCE 200809L
#include "tk_process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

bool tk_find_program(const char *name, char *path, size_t cap) {
    const char *env = getenv("PATH");
    char *dirs = strdup(env ? env : "/usr/bin:/bin");
    TK_ASSERT(dirs);
    bool found = false;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, cap, "%s/%s", *d ? d : ".", name);
        found = access(path, X_OK) == 0;
    }
    free(dirs);
    return found;
}

int tk_run_program(char *const argv[], char *out, size_t cap, tk_error *err) {
    int fds[2];
    if (pipe(fds) != 0) return tk_fail_system(err, "cannot run %s: pipe: %s", argv[0], strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]), close(fds[1]);
        return tk_fail_system(err, "cannot run %s: fork: %s", argv[0], strerror(e));
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        char chunk[512];
        ssize_t got = read(fds[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        size_t keep = (size_t)got < cap - 1 - len ? (size_t)got : cap - 1 - len;
        memcpy(out + len, chunk, keep);
        len += keep;
    }
    out[len] = 0;
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' ')) out[--len] = 0;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return tk_fail_system(err, "%s was killed by signal %d", argv[0], WTERMSIG(status));
}
