/* The job store interface: dispatch to the backend and shared helpers
 * (see store.h). */
#include "server/store.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[RD_JOB_STATES] = {"waiting", "active", "delayed", "completed",
                                                       "failed"};

const char *rd_job_state_name(rd_job_state s)
{
    return (unsigned)s < RD_JOB_STATES ? state_names[s] : "unknown";
}

int rd_job_state_parse(const char *name, rd_job_state *out)
{
    for (int i = 0; i < RD_JOB_STATES; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *out = (rd_job_state)i;
            return 0;
        }
    return rt_error(RT_ERR_INTERNAL, "unknown job state '%s' in the store", name);
}

void rd_job_clear(rd_job *job)
{
    free(job->payload);
    free(job->input_name);
    free(job->hook);
    free(job->reason);
    memset(job, 0, sizeof *job);
}

void rd_hook_clear(rd_hook *h)
{
    free(h->url);
    free(h->body);
    memset(h, 0, sizeof *h);
}

int64_t rd_token_quota_left(const rd_token *t, const char *today)
{
    int64_t left = RD_UNLIMITED;
    if (t->daily_quota != RD_UNLIMITED) {
        int64_t used = strcmp(t->day, today) == 0 ? t->used_today : 0;
        left = t->daily_quota > used ? t->daily_quota - used : 0;
    }
    if (t->credits != RD_UNLIMITED && (left == RD_UNLIMITED || t->credits < left))
        left = t->credits > 0 ? t->credits : 0;
    return left;
}

void rd_store_close(rd_store *s)
{
    if (s) s->ops->close(s);
}

int rd_store_token_insert(rd_store *s, const rd_token *t, const char *hash)
{
    return s->ops->token_insert(s, t, hash);
}

int rd_store_token_find(rd_store *s, const char *hash, rd_token *out)
{
    return s->ops->token_find(s, hash, out);
}

int rd_store_token_find_name(rd_store *s, const char *name, rd_token *out, int *matches)
{
    return s->ops->token_find_name(s, name, out, matches);
}

int rd_store_token_list(rd_store *s, rd_token **out, size_t *n)
{
    return s->ops->token_list(s, out, n);
}

int rd_store_token_update(rd_store *s, const rd_token *t)
{
    return s->ops->token_update(s, t);
}

int rd_store_job_submit(rd_store *s, const rd_submit *sub, rd_submit_result *out)
{
    return s->ops->job_submit(s, sub, out);
}

int rd_store_job_get(rd_store *s, const char *id, rd_job *out)
{
    return s->ops->job_get(s, id, out);
}

int rd_store_job_claim(rd_store *s, int64_t now_ms, rd_job *out)
{
    return s->ops->job_claim(s, now_ms, out);
}

int rd_store_job_progress(rd_store *s, const char *id, const char *step, const char *plugin,
                          int progress, int64_t now_ms)
{
    return s->ops->job_progress(s, id, step, plugin, progress, now_ms);
}

int rd_store_job_end(rd_store *s, const rd_job_end *end)
{
    return s->ops->job_end(s, end);
}

int rd_store_job_list_active(rd_store *s, rd_job **out, size_t *n)
{
    return s->ops->job_list_active(s, out, n);
}

int rd_store_job_next_run_ms(rd_store *s, int64_t *out)
{
    return s->ops->job_next_run_ms(s, out);
}

int rd_store_job_expire(rd_store *s, int64_t now_ms, char ***ids, size_t *n)
{
    return s->ops->job_expire(s, now_ms, ids, n);
}

int rd_store_purge(rd_store *s, int64_t now_ms, int64_t idempotency_window_ms, int64_t tombstone_ms)
{
    return s->ops->purge(s, now_ms, idempotency_window_ms, tombstone_ms);
}

int rd_store_job_counts(rd_store *s, int64_t counts[RD_JOB_STATES])
{
    return s->ops->job_counts(s, counts);
}

int rd_store_hook_due(rd_store *s, int64_t now_ms, rd_hook *out, size_t max, size_t *n)
{
    return s->ops->hook_due(s, now_ms, out, max, n);
}

int rd_store_hook_next_ms(rd_store *s, int64_t *out)
{
    return s->ops->hook_next_ms(s, out);
}

int rd_store_hook_update(rd_store *s, int64_t id, int delivered, int give_up, int64_t next_ms,
                         const char *last_error)
{
    return s->ops->hook_update(s, id, delivered, give_up, next_ms, last_error);
}
