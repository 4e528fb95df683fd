/* retention.h: deleting what the server no longer needs.
 *
 * Results are kept cfg.retention_ms after their job ends (API.md: 24 h by
 * default), then their files are deleted and the job answers 404 "expired".
 * Idempotency keys are forgotten after 24 h, expired jobs after 30 days.
 */
#ifndef RD_RETENTION_H
#define RD_RETENTION_H

#include "server/server.h"

/* Expires due jobs and deletes their files; with purge, also forgets old
 * idempotency keys and tombstones.  Returns how many jobs expired, or a
 * negative error. */
int rd_retention_run(rd_server *srv, int purge);

/* At start, before serving: deletes uploads cut off by the last stop, and
 * job folders the store does not know (a crash between the upload being
 * moved and the job being recorded), has expired or has failed. */
int rd_retention_sweep(rd_server *srv);

#endif
