/* workers.h: the pool of threads that run jobs.
 *
 * Each worker claims the oldest runnable job from the store, runs the engine
 * on it with cfg.threads_per_worker OpenMP threads (so workers x threads =
 * cores), records progress as the pipeline reports it, writes the result
 * into the job's folder and ends the job.  A failure the input causes (bad
 * image, bad payload) fails the job at once; any other failure is retried
 * after a delay until max_attempts tries were made.  A job that ends with a
 * hook queues its webhook in the same store transaction.
 *
 * Ownership: rd_workers_start() returns the pool; rd_workers_destroy()
 * frees it.  The server and everything it holds are borrowed.
 */
#ifndef RD_WORKERS_H
#define RD_WORKERS_H

#include "server/server.h"

#include <stdint.h>

int rd_workers_start(rd_server *srv, rd_workers **out);
/* A job was queued: wake an idle worker. */
void rd_workers_notify(rd_workers *w);
/* Stops taking jobs; waits up to timeout_ms for the running ones, then
 * cancels them (they go back to waiting, the try not counted) and joins
 * every thread.  rd_workers_notify() stays safe to call until
 * rd_workers_destroy(), so HTTP threads still finishing a request can. */
void rd_workers_drain(rd_workers *w, int64_t timeout_ms);
/* 1 when the drain could not stop every job within a short grace after the
 * cancel (an engine step that reports no progress for long): those jobs
 * were given back to the queue, and their threads still run, so the
 * process must exit (_exit) without freeing what they use. */
int rd_workers_abandoned(const rd_workers *w);
/* Drains (at once, when not done yet) and frees the pool. */
void rd_workers_destroy(rd_workers *w);

/* At start, before the workers: jobs a dead process left active go back to
 * delayed, or fail when they used up their tries (a job that crashes the
 * server every time cannot take it down forever). */
int rd_workers_recover(rd_server *srv);
/* While serving: the same for jobs active in the store that no worker of
 * this process runs (their end could not be recorded: a full disk).  Run
 * every few seconds by main. */
int rd_workers_sweep(rd_workers *w);

#endif
