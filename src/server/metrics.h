/* metrics.h: counters for the Prometheus /metrics page.
 *
 * Counts what happens in this process (requests, upload bytes, job
 * durations, webhook tries); job states and queue depth are read from the
 * store when the page is rendered, so they are right across restarts.
 *
 * Ownership: rd_metrics_create()/rd_metrics_destroy().  Thread-safe.
 */
#ifndef RD_METRICS_H
#define RD_METRICS_H

#include "server/store.h"

#include <stdint.h>

typedef struct rd_metrics rd_metrics;

int rd_metrics_create(rd_metrics **out);
void rd_metrics_destroy(rd_metrics *m);

void rd_metrics_request(rd_metrics *m, int status);
void rd_metrics_upload_bytes(rd_metrics *m, uint64_t bytes);
/* A job ended (COMPLETED or FAILED) after seconds of processing. */
void rd_metrics_job_ended(rd_metrics *m, rd_job_state state, double seconds);
void rd_metrics_job_retried(rd_metrics *m);
/* result: "delivered", "retry" or "failed". */
void rd_metrics_webhook(rd_metrics *m, const char *result);

/* The page in Prometheus text format 0.0.4 (caller frees). */
char *rd_metrics_render(rd_metrics *m, rd_store *store);

#endif
