/* tk_claim.h - one worker at a time on a job, across processes and machines
 * sharing one folder (a run store on NFS).
 *
 * A claim is a small file naming its holder ("host pid token"). It is taken
 * with link(2) of a private temporary file, which is atomic on local file
 * systems and on NFS alike (O_EXCL is not on old NFS clients), so no two
 * workers ever hold the same claim. While held, a thread refreshes the
 * file's modification time every TK_CLAIM_HEARTBEAT_S seconds.
 *
 * A claim is stale, and taken over, when its holder is on this host and its
 * pid is gone, or when its heartbeat is older than the stale timeout (a
 * worker on another node that died or lost the network). Taking over goes
 * through a second claim (path.break), so that two workers that both found
 * the claim stale do not both take it. A worker that finds a live holder
 * waits, polling, until the holder releases it, goes stale, or the job turns
 * out done (then it does nothing). */
#ifndef TK_CLAIM_H
#define TK_CLAIM_H

#include "tk_common.h"

enum { TK_CLAIM_HEARTBEAT_S = 20 };
/* A claim whose heartbeat is this old is stale: several heartbeats missed,
 * with room for clocks of NFS clients and server that differ a little.
 * TICKET_STALE_CLAIM_S overrides it (seconds). */
#define TK_CLAIM_STALE_S 300.0

typedef struct tk_claim tk_claim;

typedef struct tk_claim_holder {
    char host[256];
    long pid;
    double age_s;     /* since the last heartbeat */
    bool stale;
} tk_claim_holder;

/* The stale timeout in force: TICKET_STALE_CLAIM_S or TK_CLAIM_STALE_S. */
double tk_claim_stale_s(void);

/* Claims `path` for this process (its folder must exist). Returns 0 with *out
 * set when this process holds the claim; 1 with *out NULL when done(ctx)
 * became true while another worker held it; -1 with err set. `what` names
 * the job in the message printed once while waiting. */
int tk_claim_acquire(const char *path, const char *what, bool (*done)(void *ctx), void *ctx, tk_claim **out,
                     tk_error *err);
/* Stops the heartbeat and removes the claim. NULL is allowed. */
void tk_claim_release(tk_claim *c);
/* Removes the stale claims in `dir` and the files a worker that died while
 * claiming left there (claims whose jobs finished before their worker died
 * would stay otherwise; nothing would ever take them over). */
void tk_claim_clear_stale(const char *dir);
/* Who holds `path`: 1 with *h filled, 0 when nobody does. */
int tk_claim_holder_of(const char *path, tk_claim_holder *h);

#endif
