/* Prometheus metrics (see metrics.h). */
#include "server/metrics.h"

#include "core/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the processing-time histogram, in seconds. */
static const double buckets[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* Status classes counted separately: every code the API answers. */
static const int statuses[] = {200, 400, 404, 413, 460, 461, 462, 500};
#define NSTATUSES (sizeof statuses / sizeof statuses[0])

typedef struct counters {
    uint64_t requests[NSTATUSES + 1]; /* last: any other status */
    uint64_t upload_bytes;
    uint64_t ended[RD_JOB_STATES];
    uint64_t retried;
    uint64_t histogram[NBUCKETS + 1]; /* last: +Inf */
    double seconds_sum;
    uint64_t webhooks_delivered, webhooks_retry, webhooks_failed;
} counters;

struct rd_metrics {
    pthread_mutex_t lock;
    counters c;
};

int rd_metrics_create(rd_metrics **out)
{
    rd_metrics *m = calloc(1, sizeof *m);
    if (!m) return rt_error(RT_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void rd_metrics_destroy(rd_metrics *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void rd_metrics_request(rd_metrics *m, int status)
{
    size_t i = 0;
    while (i < NSTATUSES && statuses[i] != status)
        i++;
    pthread_mutex_lock(&m->lock);
    m->c.requests[i]++;
    pthread_mutex_unlock(&m->lock);
}

void rd_metrics_upload_bytes(rd_metrics *m, uint64_t bytes)
{
    pthread_mutex_lock(&m->lock);
    m->c.upload_bytes += bytes;
    pthread_mutex_unlock(&m->lock);
}

void rd_metrics_job_ended(rd_metrics *m, rd_job_state state, double seconds)
{
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    pthread_mutex_lock(&m->lock);
    m->c.ended[state]++;
    m->c.histogram[b]++;
    m->c.seconds_sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

void rd_metrics_job_retried(rd_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->c.retried++;
    pthread_mutex_unlock(&m->lock);
}

void rd_metrics_webhook(rd_metrics *m, const char *result)
{
    pthread_mutex_lock(&m->lock);
    if (strcmp(result, "delivered") == 0)
        m->c.webhooks_delivered++;
    else if (strcmp(result, "retry") == 0)
        m->c.webhooks_retry++;
    else
        m->c.webhooks_failed++;
    pthread_mutex_unlock(&m->lock);
}

typedef struct text {
    char *s;
    size_t len, cap;
    int failed;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...)
{
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

char *rd_metrics_render(rd_metrics *m, rd_store *store)
{
    int64_t counts[RD_JOB_STATES];
    int store_ok = rd_store_job_counts(store, counts) == 0;
    counters snap;
    pthread_mutex_lock(&m->lock);
    snap = m->c;
    pthread_mutex_unlock(&m->lock);

    text t = {.cap = 4096};
    if (!(t.s = malloc(t.cap))) return NULL;
    t.s[0] = '\0';
    add(&t,
        "# HELP retouchd_up 1 while the server runs; 0 when the job store cannot be read.\n"
        "# TYPE retouchd_up gauge\nretouchd_up %d\n",
        store_ok);
    add(&t, "# HELP retouchd_jobs Jobs in the store by state (expired ones left out).\n"
            "# TYPE retouchd_jobs gauge\n");
    for (int s = 0; s < RD_JOB_STATES; s++)
        add(&t, "retouchd_jobs{state=\"%s\"} %lld\n", rd_job_state_name((rd_job_state)s),
            store_ok ? (long long)counts[s] : 0LL);
    add(&t,
        "# HELP retouchd_queue_depth Jobs waiting to run (waiting + delayed).\n"
        "# TYPE retouchd_queue_depth gauge\nretouchd_queue_depth %lld\n",
        store_ok ? (long long)(counts[RD_JOB_WAITING] + counts[RD_JOB_DELAYED]) : 0LL);
    add(&t,
        "# HELP retouchd_jobs_ended_total Jobs ended by this process, by final state.\n"
        "# TYPE retouchd_jobs_ended_total counter\n"
        "retouchd_jobs_ended_total{state=\"completed\"} %llu\n"
        "retouchd_jobs_ended_total{state=\"failed\"} %llu\n",
        (unsigned long long)snap.ended[RD_JOB_COMPLETED],
        (unsigned long long)snap.ended[RD_JOB_FAILED]);
    add(&t,
        "# HELP retouchd_job_retries_total Tries that failed and were queued again.\n"
        "# TYPE retouchd_job_retries_total counter\nretouchd_job_retries_total %llu\n",
        (unsigned long long)snap.retried);
    add(&t, "# HELP retouchd_processing_seconds Time from a worker taking a job to its end.\n"
            "# TYPE retouchd_processing_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < NBUCKETS; b++) {
        cumulative += snap.histogram[b];
        add(&t, "retouchd_processing_seconds_bucket{le=\"%g\"} %llu\n", buckets[b],
            (unsigned long long)cumulative);
    }
    cumulative += snap.histogram[NBUCKETS];
    add(&t, "retouchd_processing_seconds_bucket{le=\"+Inf\"} %llu\n",
        (unsigned long long)cumulative);
    add(&t, "retouchd_processing_seconds_sum %.6f\nretouchd_processing_seconds_count %llu\n",
        snap.seconds_sum, (unsigned long long)cumulative);
    add(&t,
        "# HELP retouchd_upload_bytes_total Bytes of request bodies received.\n"
        "# TYPE retouchd_upload_bytes_total counter\nretouchd_upload_bytes_total %llu\n",
        (unsigned long long)snap.upload_bytes);
    add(&t, "# HELP retouchd_http_requests_total Requests answered, by status.\n"
            "# TYPE retouchd_http_requests_total counter\n");
    for (size_t i = 0; i < NSTATUSES; i++)
        add(&t, "retouchd_http_requests_total{code=\"%d\"} %llu\n", statuses[i],
            (unsigned long long)snap.requests[i]);
    add(&t, "retouchd_http_requests_total{code=\"other\"} %llu\n",
        (unsigned long long)snap.requests[NSTATUSES]);
    add(&t,
        "# HELP retouchd_webhook_deliveries_total Webhook tries by outcome.\n"
        "# TYPE retouchd_webhook_deliveries_total counter\n"
        "retouchd_webhook_deliveries_total{result=\"delivered\"} %llu\n"
        "retouchd_webhook_deliveries_total{result=\"retry\"} %llu\n"
        "retouchd_webhook_deliveries_total{result=\"failed\"} %llu\n",
        (unsigned long long)snap.webhooks_delivered, (unsigned long long)snap.webhooks_retry,
        (unsigned long long)snap.webhooks_failed);
    if (t.failed) {
        free(t.s);
        return NULL;
    }
    return t.s;
}
