/* child.h - one job run in a forked child process, its failure message
 * coming back through a pipe: how the local pool runs each job, and how an
 * MPI worker rank runs the jobs rank 0 hands it. Private to backends/. */
#ifndef TK_BACKENDS_CHILD_H
#define TK_BACKENDS_CHILD_H

#include <sys/types.h>

#include "tk_scheduler.h"

typedef struct child {
    pid_t pid;   /* 0: none */
    int fd;      /* read end of the child's message pipe, -1 once at EOF */
    size_t len;
    char msg[sizeof((tk_error *)0)->msg];
} child;

/* Forks a child that calls in_child(ctx) (undoing what the parent set up
 * that the job must not inherit; may be NULL), then g->run(job, threads),
 * and _exits. -1 with errno when the pipe or the fork cannot be made. */
int child_start(child *c, const tk_job_graph *g, int job, int threads, void (*in_child)(void *ctx), void *ctx);
/* Takes what the pipe holds without blocking; closes it at EOF. */
void child_drain(child *c);
/* After waitpid() returned `status` for it: true when the job succeeded,
 * else false with why it failed in `why`; the child is then gone (pid 0). */
bool child_reap(child *c, int status, char *why, size_t cap);

#endif
