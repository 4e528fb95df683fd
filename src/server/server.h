/* server.h: the running server's parts, shared by routes, workers and main.
 *
 * main.c creates every part in order (store, metrics, webhooks, workers,
 * http) and destroys them in reverse; the others only borrow them.
 */
#ifndef RD_SERVER_H
#define RD_SERVER_H

#include "server/config.h"
#include "server/store.h"
#include "server/upload.h"

#include <limits.h>

typedef struct rd_metrics rd_metrics;
typedef struct rd_webhooks rd_webhooks;
typedef struct rd_workers rd_workers;

typedef struct rd_server {
    rd_config cfg;
    rd_store *store;
    rd_metrics *metrics;
    rd_webhooks *webhooks;
    rd_workers *workers;
    char spool_dir[PATH_MAX];
    rd_spool_budget spool_budget; /* what uploads being received may spool */
    int job_threads;              /* OpenMP threads per job */
} rd_server;

/* Idempotency keys are remembered this long (API.md: 24 h). */
#define RD_IDEMPOTENCY_WINDOW_MS (24LL * 3600 * 1000)
/* Expired jobs answer "expired" (not "unknown") this long after expiry. */
#define RD_TOMBSTONE_MS (30LL * 24 * 3600 * 1000)

#endif
