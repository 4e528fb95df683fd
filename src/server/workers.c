/* The worker pool (see workers.h). */
#include "server/workers.h"

#include "core/error.h"
#include "core/image.h"
#include "retouch.h"
#include "server/clock.h"
#include "server/datadir.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/webhooks.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* First retry after a transient failure; doubles per try. */
#define RETRY_DELAY_MS 2000
/* Idle this long, a worker returns the recycled image buffers (core/image.h). */
#define IDLE_TRIM_MS 60000
/* Progress is written to the store when the step or task changes, or when
 * it moved this many points: status polls see it move, the store is not
 * written on every report. */
#define PROGRESS_WRITE_STEP 5
/* Recording a job's end is retried this many times, waiting 100 ms, 200 ms,
 * ... (a full disk, a busy store) before the job is given back. */
/* After the shutdown timeout, how long cancelled jobs get to stop. */
#define CANCEL_GRACE_MS 300
#define END_TRIES 5
#define END_RETRY_MS 100
/* A job's expected peak memory, first version, from measurements of the
 * CLI (Color Correction: 200 MB at 4 MP, 250 MB at 9 MP, 3 GB at 225 MP):
 * a fixed part (models, buffers) plus bytes per pixel, more for each task
 * (layers and masks are kept until the result is written). */
#define JOB_FIXED_BYTES (192ull << 20)
#define JOB_BYTES_PER_PIXEL 16ull
#define JOB_BYTES_PER_PIXEL_PER_TASK 4ull

typedef struct worker {
    rd_workers *pool;
    pthread_t thread;
    int started;
    char job_id[32]; /* the job it runs, "" when idle (pool lock) */
} worker;

struct rd_workers {
    rd_server *srv;
    worker *threads;
    int n;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a job was queued, or stop */
    pthread_cond_t idle; /* a running job ended */
    uint64_t generation; /* bumped by every notify */
    /* The memory budget (--max-memory): what the running jobs expect to
     * use together; a job whose expected peak does not fit waits. */
    uint64_t memory_budget;
    uint64_t memory_reserved;
    pthread_cond_t memory_freed;
    int stopping;
    int running;
    int joined;
    int abandoned; /* drain gave up on threads still in the engine */
    atomic_int cancel;
};

/* ---- helpers ------------------------------------------------------------- */

static void deadline(int64_t at_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(at_ms / 1000);
    ts->tv_nsec = (long)(at_ms % 1000) * 1000000L;
}

/* Errors caused by the input itself: another try gives the same answer. */
static int is_permanent(int err)
{
    return err == RT_ERR_ARG || err == RT_ERR_PAYLOAD || err == RT_ERR_IMAGE ||
           err == RT_ERR_TOO_BIG || err == RT_ERR_NOT_IMPLEMENTED;
}

static char *hook_body(const char *id, rd_job_state state, const char *reason, int64_t expires)
{
    char when[32];
    rd_iso8601(expires, when);
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s}", "id", id, "state", rd_job_state_name(state),
                          "reason", reason ? reason : "", "progress", 100, "expireDate", when);
    if (!o) /* a reason that is not UTF-8 */
        o = json_pack("{s:s, s:s, s:s, s:i, s:s}", "id", id, "state", rd_job_state_name(state),
                      "reason", "internal error", "progress", 100, "expireDate", when);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

/* Ends a job in the store, queueing its webhook when it has a hook. */
static int end_job(rd_server *srv, const rd_job *job, rd_job_end *e)
{
    char *body = NULL;
    int ends = e->state == RD_JOB_COMPLETED || e->state == RD_JOB_FAILED;
    if (ends) {
        e->expires_ms = e->now_ms + srv->cfg.retention_ms;
        if (job->hook && job->hook[0]) {
            body = hook_body(job->id, e->state, e->reason, e->expires_ms);
            e->hook_body = body;
            e->hook_event = e->state == RD_JOB_COMPLETED ? "job.completed" : "job.failed";
        }
    }
    int err = rd_store_job_end(srv->store, e);
    free(body);
    if (err) {
        rd_log(RD_LOG_ERROR, "job.store", job->id, "cannot record the job's end: %s",
               rt_error_message());
        return err;
    }
    if (ends && job->hook && job->hook[0] && srv->webhooks) rd_webhooks_notify(srv->webhooks);
    return 0;
}

/* ---- running one job ------------------------------------------------------ */

typedef struct progress_ctx {
    rd_workers *pool;
    const char *id;
    int step;
    char plugin[64];
    int percent;
} progress_ctx;

static int on_progress(void *user, rt_step step, const char *plugin, double progress)
{
    progress_ctx *c = user;
    /* 100 is kept for the end: clients that watch only progress take 100 as
     * "done". */
    int percent = (int)(progress * 99.0);
    if (percent < 0) percent = 0;
    if (percent > 99) percent = 99;
    if ((int)step != c->step || strcmp(plugin, c->plugin) != 0 ||
        percent >= c->percent + PROGRESS_WRITE_STEP) {
        c->step = (int)step;
        snprintf(c->plugin, sizeof c->plugin, "%s", plugin);
        c->percent = percent;
        rd_store_job_progress(c->pool->srv->store, c->id, rt_step_name(step), plugin, percent,
                              rd_now_ms());
    }
    return atomic_load(&c->pool->cancel);
}

static int file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Runs the engine; on success fills ext and mime. */
static int process(rd_workers *w, const rd_job *job, progress_ctx *pc, char *ext, size_t ext_cap,
                   char *mime, size_t mime_cap)
{
    rd_server *srv = w->srv;
    const char *dir = srv->cfg.data_dir;
    char input[PATH_MAX], output[PATH_MAX], meta[PATH_MAX], meta_part[PATH_MAX];
    int err = rd_datadir_job_file(dir, job->id, "input", input, sizeof input);
    if (!err && !file_exists(input))
        err = rt_error(RT_ERR_IMAGE, "the uploaded image is missing from the job store; submit "
                                     "the job again");
    rt_payload *payload = NULL;
    rt_job *ej = NULL;
    if (!err) err = rt_payload_parse(job->payload, strlen(job->payload), &payload);
    if (!err) {
        rt_job_options opt = {.max_megapixels = srv->cfg.max_megapixels,
                              .threads = srv->job_threads,
                              .input_name = job->input_name,
                              .progress = on_progress,
                              .progress_user = pc};
        err = rt_job_create(payload, &opt, &ej);
    }
    if (!err) err = rt_job_run(ej, input);
    if (!err) {
        snprintf(ext, ext_cap, "%s", rt_job_output_extension(ej));
        snprintf(mime, mime_cap, "%s", rt_job_output_mime(ej));
        char name[32];
        snprintf(name, sizeof name, "result.%s", ext);
        err = rd_datadir_job_file(dir, job->id, name, output, sizeof output);
        if (!err) err = rt_job_write(ej, output); /* the engine writes a .part and renames it */
    }
    if (!err) err = rd_datadir_job_file(dir, job->id, "result.json", meta, sizeof meta);
    if (!err)
        err = rd_datadir_job_file(dir, job->id, "result.json.part", meta_part, sizeof meta_part);
    if (!err) {
        err = rt_job_write_metadata(ej, meta_part);
        if (!err && rename(meta_part, meta) != 0)
            err = rt_error(RT_ERR_IO, "cannot move result.json into place: %s", strerror(errno));
        if (err) unlink(meta_part); /* no half-made file left behind for a retry to find */
    }
    /* On disk before the store says completed. */
    char dir_path[PATH_MAX];
    if (!err) err = rd_datadir_job(dir, job->id, dir_path, sizeof dir_path);
    if (!err) err = rd_datadir_sync(output);
    if (!err) err = rd_datadir_sync(meta);
    if (!err) err = rd_datadir_sync(dir_path);
    rt_job_destroy(ej);
    rt_payload_destroy(payload);
    return err;
}

/* The expected peak of job, from its image's header and its task list. */
static uint64_t expected_peak(rd_server *srv, const rd_job *job)
{
    char input[PATH_MAX];
    rt_image_info info;
    uint64_t pixels = 0;
    if (!rd_datadir_job_file(srv->cfg.data_dir, job->id, "input", input, sizeof input) &&
        !rt_probe_image(input, srv->cfg.max_megapixels, &info))
        pixels = (uint64_t)info.width * (uint64_t)info.height;
    size_t tasks = 1;
    rt_payload *payload = NULL;
    if (!rt_payload_parse(job->payload, strlen(job->payload), &payload)) {
        tasks = rt_payload_task_count(payload);
        rt_payload_destroy(payload);
    }
    return JOB_FIXED_BYTES +
           pixels * (JOB_BYTES_PER_PIXEL + JOB_BYTES_PER_PIXEL_PER_TASK * (uint64_t)tasks);
}

/* Waits until peak fits in the budget beside the running jobs (a job alone
 * always runs, whatever its size: the megapixel limit bounds it).  Returns
 * 0 with peak reserved, or 1 when the pool stops meanwhile. */
static int reserve_memory(rd_workers *w, uint64_t peak)
{
    pthread_mutex_lock(&w->lock);
    int logged = 0;
    while (!w->stopping && w->memory_reserved > 0 && w->memory_reserved + peak > w->memory_budget) {
        if (!logged++)
            rd_log(RD_LOG_INFO, "job.memory_wait", NULL,
                   "a job expecting %llu MiB waits: %llu of %llu MiB are taken by running jobs",
                   (unsigned long long)(peak >> 20), (unsigned long long)(w->memory_reserved >> 20),
                   (unsigned long long)(w->memory_budget >> 20));
        pthread_cond_wait(&w->memory_freed, &w->lock);
    }
    int stopped = w->stopping;
    if (!stopped) w->memory_reserved += peak;
    pthread_mutex_unlock(&w->lock);
    return stopped;
}

static void release_memory(rd_workers *w, uint64_t peak)
{
    pthread_mutex_lock(&w->lock);
    w->memory_reserved -= peak;
    pthread_cond_broadcast(&w->memory_freed);
    pthread_mutex_unlock(&w->lock);
}

/* Ends the job in the store, retrying a failure that may pass (a full
 * disk, a busy store); when it does not pass, gives the job back (delayed)
 * so it does not stay active with no worker on it.  Returns 0 when the end
 * was recorded; otherwise the job is delayed, or still active for
 * rd_workers_sweep() to take back. */
static int end_job_or_give_back(rd_workers *w, const rd_job *job, rd_job_end *e)
{
    rd_server *srv = w->srv;
    int err = end_job(srv, job, e);
    for (int t = 0; err && err != RT_ERR_NOT_FOUND && t < END_TRIES; t++) {
        usleep((useconds_t)(END_RETRY_MS << t) * 1000u);
        err = end_job(srv, job, e);
    }
    if (!err || err == RT_ERR_NOT_FOUND) return err;
    char reason[256];
    snprintf(reason, sizeof reason,
             "the server could not record the end of try %d (%s); it "
             "runs again",
             job->attempt, rt_error_message());
    rd_job_end back = {.id = job->id,
                       .now_ms = rd_now_ms(),
                       .reason = reason,
                       .state = RD_JOB_DELAYED,
                       .run_after_ms = rd_now_ms() + RETRY_DELAY_MS};
    if (rd_store_job_end(srv->store, &back) == 0) {
        rd_log(RD_LOG_WARN, "job.given_back", job->id, "%s", reason);
        return RT_ERR_IO;
    }
    rd_log(RD_LOG_ERROR, "job.store", job->id,
           "cannot give the job back either (%s); the periodic sweep will", rt_error_message());
    return RT_ERR_IO;
}

static void run_job(rd_workers *w, const rd_job *job)
{
    rd_server *srv = w->srv;
    int64_t t0 = rd_now_ms();
    rd_log_with(RD_LOG_INFO, "job.started", job->id,
                json_pack("{s:i, s:i}", "attempt", job->attempt, "max_attempts", job->max_attempts),
                "try %d of %d", job->attempt, job->max_attempts);
    progress_ctx pc = {.pool = w, .id = job->id, .step = -1, .percent = -PROGRESS_WRITE_STEP};
    char ext[16] = "", mime[48] = "";
    int err = process(w, job, &pc, ext, sizeof ext, mime, sizeof mime);
    char message[2048];
    snprintf(message, sizeof message, "%s", err ? rt_error_message() : "");

    int64_t now = rd_now_ms();
    double seconds = (double)(now - t0) / 1000.0;
    char reason[2300] = "";
    rd_job_end e = {.id = job->id, .now_ms = now, .reason = reason};
    if (!err) {
        e.state = RD_JOB_COMPLETED;
        e.output_ext = ext;
        e.output_mime = mime;
    } else if (err == RT_ERR_CANCELLED && atomic_load(&w->cancel)) {
        e.state = RD_JOB_WAITING; /* stopped by the shutdown: not the job's fault */
        e.uncount_attempt = 1;
        snprintf(reason, sizeof reason, "interrupted by a server restart; it runs again");
    } else if (is_permanent(err)) {
        e.state = RD_JOB_FAILED;
        snprintf(reason, sizeof reason, "%s", message);
    } else if (job->attempt >= job->max_attempts) {
        e.state = RD_JOB_FAILED;
        snprintf(reason, sizeof reason, "failed after %d tries: %s", job->attempt, message);
    } else {
        e.state = RD_JOB_DELAYED;
        e.run_after_ms = now + ((int64_t)RETRY_DELAY_MS << (job->attempt - 1));
        snprintf(reason, sizeof reason, "try %d failed (%s); it runs again", job->attempt, message);
    }
    if (end_job_or_give_back(w, job, &e)) return;

    json_t *fields = json_pack("{s:s, s:I, s:i}", "state", rd_job_state_name(e.state), "ms",
                               (json_int_t)(now - t0), "attempt", job->attempt);
    switch (e.state) {
    case RD_JOB_COMPLETED: {
        char input[PATH_MAX];
        if (!rd_datadir_job_file(srv->cfg.data_dir, job->id, "input", input, sizeof input))
            unlink(input); /* the result is safe: the input is no longer needed */
        rd_metrics_job_ended(srv->metrics, e.state, seconds);
        rd_log_with(RD_LOG_INFO, "job.completed", job->id, fields, "completed in %.3f s", seconds);
        break;
    }
    case RD_JOB_FAILED:
        rd_datadir_remove_job(srv->cfg.data_dir, job->id);
        rd_metrics_job_ended(srv->metrics, e.state, seconds);
        rd_log_with(err == RT_ERR_INTERNAL || err == RT_ERR_IO || err == RT_ERR_NOMEM ? RD_LOG_ERROR
                                                                                      : RD_LOG_WARN,
                    "job.failed", job->id, fields, "%s", reason);
        break;
    default:
        rd_metrics_job_retried(srv->metrics);
        rd_log_with(RD_LOG_WARN, "job.requeued", job->id, fields, "%s", reason);
        break;
    }
}

/* ---- the pool -------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    worker *me = arg;
    rd_workers *w = me->pool;
    rd_store *store = w->srv->store;
    int64_t last_job_ms = rd_now_ms();
    int trimmed = 1;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int stopping = w->stopping;
        uint64_t generation = w->generation;
        if (stopping) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        w->running++; /* counted before the claim: stop() waits for it */
        /* Claimed under the pool lock, so the sweep never sees a job active
         * in the store before it is marked as ours. */
        rd_job job;
        int claimed = rd_store_job_claim(store, rd_now_ms(), &job);
        if (claimed == 1) snprintf(me->job_id, sizeof me->job_id, "%s", job.id);
        pthread_mutex_unlock(&w->lock);
        if (claimed == 1) {
            uint64_t peak = expected_peak(w->srv, &job);
            if (reserve_memory(w, peak) == 0) {
                run_job(w, &job);
                release_memory(w, peak);
            } else {
                /* Stopping while it waited for memory: back to the queue,
                 * the try not counted. */
                rd_job_end e = {.id = job.id,
                                .now_ms = rd_now_ms(),
                                .state = RD_JOB_WAITING,
                                .uncount_attempt = 1,
                                .reason = "interrupted by a server restart; it runs again"};
                end_job(w->srv, &job, &e);
            }
            rd_job_clear(&job);
        } else if (claimed < 0) {
            rd_log(RD_LOG_ERROR, "worker.store", NULL, "cannot take a job: %s", rt_error_message());
        }
        pthread_mutex_lock(&w->lock);
        me->job_id[0] = '\0';
        w->running--;
        pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->lock);
        if (claimed == 1) {
            last_job_ms = rd_now_ms();
            trimmed = 0;
            continue;
        }
        /* Nothing to run: sleep until notified, until a delayed job is due,
         * or a second at most (jobs may come from another process). */
        int64_t now = rd_now_ms(), next = INT64_MAX;
        if (!trimmed && now - last_job_ms > IDLE_TRIM_MS) {
            /* a quiet server gives back the image buffers kept for reuse */
            rt_memory_trim();
            trimmed = 1;
        }
        if (claimed == 0) rd_store_job_next_run_ms(store, &next);
        int64_t until = next < now + 1000 ? next : now + 1000;
        pthread_mutex_lock(&w->lock);
        if (!w->stopping && w->generation == generation && until > now) {
            struct timespec ts;
            deadline(until, &ts);
            pthread_cond_timedwait(&w->wake, &w->lock, &ts);
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

/* 3/4 of the machine's memory: the rest is for the system, the HTTP side
 * and the page cache. */
static uint64_t default_budget(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0) return 4ull << 30;
    return (uint64_t)pages * (uint64_t)size / 4 * 3;
}

int rd_workers_start(rd_server *srv, rd_workers **out)
{
    rd_workers *w = calloc(1, sizeof *w);
    if (!w) return rt_error(RT_ERR_NOMEM, "out of memory");
    w->srv = srv;
    w->n = srv->cfg.workers;
    w->threads = calloc((size_t)w->n, sizeof *w->threads);
    if (!w->threads) {
        free(w);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->idle, NULL);
    pthread_cond_init(&w->memory_freed, NULL);
    w->memory_budget = srv->cfg.max_memory_bytes ? srv->cfg.max_memory_bytes : default_budget();
    atomic_init(&w->cancel, 0);
    for (int i = 0; i < w->n; i++) {
        w->threads[i].pool = w;
        if (pthread_create(&w->threads[i].thread, NULL, worker_main, &w->threads[i]) != 0) {
            rd_workers_destroy(w);
            return rt_error(RT_ERR_INTERNAL, "cannot start worker thread %d", i);
        }
        w->threads[i].started = 1;
    }
    *out = w;
    return 0;
}

void rd_workers_notify(rd_workers *w)
{
    pthread_mutex_lock(&w->lock);
    w->generation++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void rd_workers_drain(rd_workers *w, int64_t timeout_ms)
{
    if (!w || w->joined) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->wake);
    pthread_cond_broadcast(&w->memory_freed);
    int64_t until = rd_now_ms() + timeout_ms;
    if (w->running > 0)
        rd_log(RD_LOG_INFO, "server.draining", NULL, "waiting up to %lld ms for %d running job(s)",
               (long long)timeout_ms, w->running);
    while (w->running > 0 && rd_now_ms() < until) {
        struct timespec ts;
        deadline(until, &ts);
        pthread_cond_timedwait(&w->idle, &w->lock, &ts);
    }
    if (w->running > 0) {
        rd_log(RD_LOG_WARN, "server.cancel", NULL,
               "%d job(s) still running after the shutdown timeout: cancelling them; they run "
               "again after the next start",
               w->running);
        atomic_store(&w->cancel, 1);
        /* The engine sees the cancel at its next progress report, which a
         * long step may not make for seconds: past a short grace, the jobs
         * are given back here and the threads left to the process exit. */
        int64_t grace = rd_now_ms() + CANCEL_GRACE_MS;
        while (w->running > 0 && rd_now_ms() < grace) {
            struct timespec ts;
            deadline(grace, &ts);
            pthread_cond_timedwait(&w->idle, &w->lock, &ts);
        }
        if (w->running > 0) {
            w->abandoned = 1;
            for (int i = 0; i < w->n; i++) {
                if (!w->threads[i].job_id[0]) continue;
                rd_job_end e = {.id = w->threads[i].job_id,
                                .now_ms = rd_now_ms(),
                                .state = RD_JOB_WAITING,
                                .uncount_attempt = 1,
                                .reason = "interrupted by a server restart; it runs again"};
                /* Whichever of this and the worker's own end comes first
                 * wins: the store ends only an active job. */
                rd_store_job_end(w->srv->store, &e);
            }
            rd_log(RD_LOG_WARN, "server.abandon", NULL,
                   "%d job(s) did not stop within %d ms of the cancel: given back to the queue; "
                   "exiting without them",
                   w->running, CANCEL_GRACE_MS);
            pthread_mutex_unlock(&w->lock);
            return;
        }
    }
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->n; i++)
        if (w->threads[i].started) pthread_join(w->threads[i].thread, NULL);
    w->joined = 1;
}

int rd_workers_abandoned(const rd_workers *w)
{
    return w && w->abandoned;
}

void rd_workers_destroy(rd_workers *w)
{
    if (!w) return;
    rd_workers_drain(w, 0);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->memory_freed);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w->threads);
    free(w);
}

/* Gives jobs left active with no worker on them back to the queue (or
 * fails them once their tries are used up). */
static void recover_jobs(rd_server *srv, const rd_job *jobs, size_t n, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        const rd_job *job = &jobs[i];
        char reason[256];
        rd_job_end e = {.id = job->id, .now_ms = rd_now_ms(), .reason = reason};
        if (job->attempt >= job->max_attempts) {
            e.state = RD_JOB_FAILED;
            snprintf(reason, sizeof reason,
                     "%s during each of its %d tries; the image may be what stops it: contact "
                     "the operator",
                     why, job->attempt);
        } else {
            e.state = RD_JOB_DELAYED;
            e.run_after_ms = e.now_ms;
            snprintf(reason, sizeof reason, "%s during try %d; it runs again", why, job->attempt);
        }
        if (end_job(srv, job, &e) == 0) {
            if (e.state == RD_JOB_FAILED) rd_datadir_remove_job(srv->cfg.data_dir, job->id);
            rd_log(e.state == RD_JOB_FAILED ? RD_LOG_WARN : RD_LOG_INFO, "job.recovered", job->id,
                   "%s", reason);
        }
    }
}

int rd_workers_recover(rd_server *srv)
{
    rd_job *jobs = NULL;
    size_t n = 0;
    int err = rd_store_job_list_active(srv->store, &jobs, &n);
    if (err) return err;
    recover_jobs(srv, jobs, n, "the server stopped");
    for (size_t i = 0; i < n; i++)
        rd_job_clear(&jobs[i]);
    free(jobs);
    return 0;
}

int rd_workers_sweep(rd_workers *w)
{
    if (!w) return 0;
    rd_job *jobs = NULL;
    size_t n = 0, orphans = 0;
    pthread_mutex_lock(&w->lock);
    int err = rd_store_job_list_active(w->srv->store, &jobs, &n);
    for (size_t i = 0; !err && i < n; i++) {
        int ours = 0;
        for (int k = 0; k < w->n; k++)
            ours |= strcmp(w->threads[k].job_id, jobs[i].id) == 0;
        if (ours) {
            rd_job_clear(&jobs[i]);
        } else {
            if (orphans != i) {
                jobs[orphans] = jobs[i];
                memset(&jobs[i], 0, sizeof jobs[i]);
            }
            orphans++;
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (!err && orphans) {
        recover_jobs(w->srv, jobs, orphans, "the server lost track of the job");
        rd_workers_notify(w);
    }
    for (size_t i = 0; i < orphans; i++)
        rd_job_clear(&jobs[i]);
    free(jobs);
    return err;
}
