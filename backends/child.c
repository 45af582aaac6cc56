/* child.c - a job in a forked child process (child.h). */
#define _GNU_SOURCE /* pipe2 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: _exit, since the parent's atexit handlers and stdio
 * buffers are not the child's. */
static void child_main(const tk_job_graph *g, int job, int threads, int fd, void (*in_child)(void *), void *ctx)
    __attribute__((noreturn));
static void child_main(const tk_job_graph *g, int job, int threads, int fd, void (*in_child)(void *), void *ctx) {
    if (in_child) in_child(ctx);
    tk_error e;
    e.msg[0] = 0;
    int rc = g->run(g->ctx, job, threads, &e);
    fflush(NULL);
    if (rc) {
        /* < PIPE_BUF bytes: one atomic write that fits the pipe, never blocks. */
        ssize_t wrote = write(fd, e.msg, strnlen(e.msg, sizeof e.msg - 1));
        (void)wrote;
    }
    _exit(rc ? 1 : 0);
}

int child_start(child *c, const tk_job_graph *g, int job, int threads, void (*in_child)(void *), void *ctx) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) return -1;
    fflush(NULL); /* else the child would flush the parent's pending output a second time */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]), close(fds[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(g, job, threads, fds[1], in_child, ctx);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    *c = (child){.pid = pid, .fd = fds[0]};
    return 0;
}

void child_drain(child *c) {
    char buf[512];
    for (;;) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        if (r <= 0) {
            close(c->fd);
            c->fd = -1;
            return;
        }
        size_t room = sizeof c->msg - 1 - c->len, take = (size_t)r < room ? (size_t)r : room;
        memcpy(c->msg + c->len, buf, take);
        c->len += take;
    }
}

bool child_reap(child *c, int status, char *why, size_t cap) {
    if (c->fd >= 0) child_drain(c);
    if (c->fd >= 0) close(c->fd); /* a grandchild holds the pipe open; the message is in already */
    c->msg[c->len] = 0;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok) why[0] = 0;
    else if (c->len) snprintf(why, cap, "%s", c->msg);
    else if (WIFSIGNALED(status))
        snprintf(why, cap, "the worker was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(why, cap, "the worker exited with status %d without a message", WEXITSTATUS(status));
    *c = (child){.pid = 0, .fd = -1};
    return ok;
}
