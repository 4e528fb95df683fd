/* store.h: the job store, the one durable state of retouchd.
 *
 * Tokens, jobs, idempotency keys and the webhook outbox live behind this
 * interface.  The routes, workers and webhook sender call only the
 * functions below; a backend fills an rd_store_ops table.  store_sqlite.c is
 * the embedded backend (one file, WAL); a PostgreSQL backend, for several
 * machines sharing one queue, would be a second file with the same table
 * (and leases on active jobs instead of recover-all-at-start).
 *
 * Every operation that must be atomic is one call here (submit = idempotency
 * check + quota + charge + insert; finish = state + refund + webhook outbox),
 * so no caller ever holds a transaction open.
 *
 * Ownership: rd_store_open() returns a store that rd_store_close() frees.
 * Job records filled by the store own their strings: rd_job_clear() frees
 * them.  Thread-safe: any thread may call any function.
 */
#ifndef RD_STORE_H
#define RD_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Quotas and credits of -1 mean unlimited. */
#define RD_UNLIMITED (-1)

typedef enum rd_job_state {
    RD_JOB_WAITING,
    RD_JOB_ACTIVE,
    RD_JOB_DELAYED,
    RD_JOB_COMPLETED,
    RD_JOB_FAILED,
} rd_job_state;
#define RD_JOB_STATES 5

/* "waiting", "active", "delayed", "completed", "failed" */
const char *rd_job_state_name(rd_job_state s);
int rd_job_state_parse(const char *name, rd_job_state *out);

typedef struct rd_token {
    int64_t id;
    char name[128];
    char hint[16];       /* the token's first characters, for `token list` */
    int64_t daily_quota; /* jobs per UTC day, or RD_UNLIMITED */
    int64_t credits;     /* jobs left, or RD_UNLIMITED */
    char day[11];        /* "YYYY-MM-DD": the day used_today counts */
    int64_t used_today;
    char webhook_secret[96];
    int revoked;
    int64_t created_ms;
} rd_token;

typedef struct rd_job {
    char id[32];
    int64_t token_id;
    rd_job_state state;
    int progress; /* 0..100, never decreasing */
    int attempt;  /* tries started */
    int max_attempts;
    char step[16];   /* rt_step_name() */
    char plugin[64]; /* the task running now, or "" */
    char output_ext[8];
    char output_mime[40];
    char day[11]; /* UTC day it was charged to */
    char *payload;
    char *input_name;
    char *hook; /* "" when none */
    char *reason;
    int64_t created_ms, started_ms, finished_ms, run_after_ms, expires_ms;
    int expired; /* results deleted */
} rd_job;

void rd_job_clear(rd_job *job);

/* A job being submitted.  The store charges the token (one credit, one job
 * of the day) unless an earlier request with the same idempotency key
 * already did. */
typedef struct rd_submit {
    int64_t token_id;
    const char *idempotency_key; /* NULL or "" for none */
    const rd_job *job;           /* id, payload, input_name, hook, max_attempts, day */
    int64_t now_ms;
    int64_t idempotency_window_ms;
} rd_submit;

typedef struct rd_submit_result {
    int replayed; /* 1: the key was seen: job_id and quota_left are the first answer's */
    char job_id[32];
    int64_t quota_left; /* after this job (rd_token_quota_left) */
} rd_submit_result;

/* How a job ends, or goes back to the queue. */
typedef struct rd_job_end {
    const char *id;
    rd_job_state state; /* COMPLETED, FAILED, DELAYED or WAITING */
    const char *reason;
    const char *output_ext; /* COMPLETED */
    const char *output_mime;
    int64_t now_ms;
    int64_t expires_ms;     /* COMPLETED, FAILED */
    int64_t run_after_ms;   /* DELAYED, WAITING */
    int uncount_attempt;    /* WAITING after a cancel: the try did not count */
    const char *hook_body;  /* COMPLETED/FAILED with a hook: the webhook JSON */
    const char *hook_event; /* "job.completed" / "job.failed" */
} rd_job_end;

/* A webhook waiting to be delivered. */
typedef struct rd_hook {
    int64_t id;
    char job_id[32];
    char *url;
    char *body;
    char event[32];
    char secret[96];
    int attempts;
} rd_hook;

void rd_hook_clear(rd_hook *h);

typedef struct rd_store rd_store;

typedef struct rd_store_ops {
    void (*close)(rd_store *s);
    int (*token_insert)(rd_store *s, const rd_token *t, const char *hash);
    int (*token_find)(rd_store *s, const char *hash, rd_token *out);
    int (*token_find_name)(rd_store *s, const char *name, rd_token *out, int *matches);
    int (*token_list)(rd_store *s, rd_token **out, size_t *n);
    int (*token_update)(rd_store *s, const rd_token *t);
    int (*job_submit)(rd_store *s, const rd_submit *sub, rd_submit_result *out);
    int (*job_get)(rd_store *s, const char *id, rd_job *out);
    int (*job_claim)(rd_store *s, int64_t now_ms, rd_job *out);
    int (*job_progress)(rd_store *s, const char *id, const char *step, const char *plugin,
                        int progress, int64_t now_ms);
    int (*job_end)(rd_store *s, const rd_job_end *end);
    int (*job_list_active)(rd_store *s, rd_job **out, size_t *n);
    int (*job_next_run_ms)(rd_store *s, int64_t *out);
    int (*job_expire)(rd_store *s, int64_t now_ms, char ***ids, size_t *n);
    int (*purge)(rd_store *s, int64_t now_ms, int64_t idempotency_window_ms, int64_t tombstone_ms);
    int (*job_counts)(rd_store *s, int64_t counts[RD_JOB_STATES]);
    int (*hook_due)(rd_store *s, int64_t now_ms, rd_hook *out, size_t max, size_t *n);
    int (*hook_next_ms)(rd_store *s, int64_t *out);
    int (*hook_update)(rd_store *s, int64_t id, int delivered, int give_up, int64_t next_ms,
                       const char *last_error);
} rd_store_ops;

struct rd_store {
    const rd_store_ops *ops;
};

/* Opens the SQLite store at path (created when missing), with the key that
 * seals webhook secrets from retouchd.key in the same folder (made on first
 * use; crypto.h).  Secrets an older store holds in clear are sealed here. */
int rd_store_open_sqlite(const char *path, rd_store **out);
void rd_store_close(rd_store *s);

/* ---- tokens ------------------------------------------------------------ */
int rd_store_token_insert(rd_store *s, const rd_token *t, const char *hash);
/* By SHA-256 hex of the token; RT_ERR_NOT_FOUND when unknown. */
int rd_store_token_find(rd_store *s, const char *hash, rd_token *out);
/* By name: *matches says how many tokens carry it (out is the first). */
int rd_store_token_find_name(rd_store *s, const char *name, rd_token *out, int *matches);
/* All tokens (caller frees *out with free()). */
int rd_store_token_list(rd_store *s, rd_token **out, size_t *n);
/* Writes name, daily_quota, credits, webhook_secret, revoked of t->id. */
int rd_store_token_update(rd_store *s, const rd_token *t);

/* ---- jobs -------------------------------------------------------------- */
/* Atomic: replay by idempotency key, else quota check (RT_ERR_QUOTA with a
 * message), charge and insert as waiting. */
int rd_store_job_submit(rd_store *s, const rd_submit *sub, rd_submit_result *out);
/* RT_ERR_NOT_FOUND when unknown. */
int rd_store_job_get(rd_store *s, const char *id, rd_job *out);
/* Takes the oldest runnable job (waiting, or delayed and due): it becomes
 * active with attempt + 1.  Returns 1 with *out filled, 0 when none. */
int rd_store_job_claim(rd_store *s, int64_t now_ms, rd_job *out);
/* Records step, plugin and progress (kept monotone) of an active job. */
int rd_store_job_progress(rd_store *s, const char *id, const char *step, const char *plugin,
                          int progress, int64_t now_ms);
/* Ends an active job or sends it back to the queue; refunds the credit when
 * it fails; queues its webhook. */
int rd_store_job_end(rd_store *s, const rd_job_end *end);
/* Jobs left active (by a process that died): for recovery at start. */
int rd_store_job_list_active(rd_store *s, rd_job **out, size_t *n);
/* When the next delayed job becomes runnable (INT64_MAX when none). */
int rd_store_job_next_run_ms(rd_store *s, int64_t *out);
/* Marks ended jobs past their expiry as expired and returns their ids (the
 * caller deletes their files; frees ids and the array). */
int rd_store_job_expire(rd_store *s, int64_t now_ms, char ***ids, size_t *n);
/* Forgets idempotency keys older than the window and expired jobs older
 * than tombstone_ms (after which their ids answer "unknown"). */
int rd_store_purge(rd_store *s, int64_t now_ms, int64_t idempotency_window_ms,
                   int64_t tombstone_ms);
/* Jobs per state, expired ones left out. */
int rd_store_job_counts(rd_store *s, int64_t counts[RD_JOB_STATES]);

/* ---- webhook outbox ------------------------------------------------------ */
/* Up to max deliveries due now (caller clears each with rd_hook_clear()). */
int rd_store_hook_due(rd_store *s, int64_t now_ms, rd_hook *out, size_t max, size_t *n);
/* When the next pending delivery is due (INT64_MAX when none). */
int rd_store_hook_next_ms(rd_store *s, int64_t *out);
/* After a try: delivered, or given up, or retry at next_ms. */
int rd_store_hook_update(rd_store *s, int64_t id, int delivered, int give_up, int64_t next_ms,
                         const char *last_error);

/* Quota left today for t (RD_UNLIMITED when neither limit applies): the
 * `retouchQuota` of a start answer. */
int64_t rd_token_quota_left(const rd_token *t, const char *today);

#endif
