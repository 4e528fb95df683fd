/* The embedded job store: one SQLite database in WAL mode (see store.h).
 *
 * One connection behind a mutex: every operation is a few short statements,
 * so serialising them costs less than a pool of connections contending for
 * SQLite's single writer lock.  Other processes (`retouchd token ...` while
 * the server runs) wait on SQLite's busy timeout.
 *
 * Durability: the connection runs with synchronous=NORMAL, which in WAL mode
 * survives the process being killed (every commit is in the OS's page cache)
 * but not a power cut.  The commits a client relies on (a job accepted, a
 * job ended) switch to synchronous=FULL, which makes SQLite fsync the WAL at
 * that commit, and with it every earlier one.  Progress updates stay cheap.
 */
#include "server/store.h"

#include "core/error.h"
#include "server/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STMT_CACHE 48
/* A sealed secret: prefix + hex of nonce (12), up to 95 bytes, tag (16). */
#define SEALED_MAX 300

typedef struct sq_store {
    rd_store base;
    sqlite3 *db;
    pthread_mutex_t lock;
    unsigned char key[RD_SEAL_KEY_BYTES]; /* seals webhook secrets (crypto.h) */
    struct {
        const char *sql; /* a string literal: its address is the key */
        sqlite3_stmt *stmt;
    } cache[STMT_CACHE];
} sq_store;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS tokens("
    " id INTEGER PRIMARY KEY,"
    " hash TEXT NOT NULL UNIQUE,"
    " hint TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " daily_quota INTEGER NOT NULL,"
    " credits INTEGER NOT NULL,"
    " day TEXT NOT NULL DEFAULT '',"
    " used_today INTEGER NOT NULL DEFAULT 0,"
    " webhook_secret TEXT NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " token_id INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " progress INTEGER NOT NULL DEFAULT 0,"
    " attempt INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL,"
    " step TEXT NOT NULL DEFAULT 'queued',"
    " plugin TEXT NOT NULL DEFAULT '',"
    " payload TEXT NOT NULL,"
    " input_name TEXT NOT NULL,"
    " hook TEXT NOT NULL DEFAULT '',"
    " reason TEXT NOT NULL DEFAULT '',"
    " output_ext TEXT NOT NULL DEFAULT '',"
    " output_mime TEXT NOT NULL DEFAULT '',"
    " day TEXT NOT NULL,"
    " refunded INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " started_ms INTEGER NOT NULL DEFAULT 0,"
    " finished_ms INTEGER NOT NULL DEFAULT 0,"
    " run_after_ms INTEGER NOT NULL DEFAULT 0,"
    " expires_ms INTEGER NOT NULL DEFAULT 0,"
    " expired INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(state, run_after_ms, seq);"
    "CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs(expired, expires_ms);"
    "CREATE INDEX IF NOT EXISTS jobs_token ON jobs(token_id, state, started_ms);"
    "CREATE TABLE IF NOT EXISTS idempotency("
    " token_id INTEGER NOT NULL,"
    " key TEXT NOT NULL,"
    " job_id TEXT NOT NULL,"
    " quota_left INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " PRIMARY KEY(token_id, key));"
    "CREATE TABLE IF NOT EXISTS hooks("
    " id INTEGER PRIMARY KEY,"
    " job_id TEXT NOT NULL,"
    " url TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " event TEXT NOT NULL,"
    " secret TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_ms INTEGER NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending',"
    " last_error TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS hooks_due ON hooks(state, next_ms);";

#define JOB_COLUMNS                                                                                \
    "id, token_id, state, progress, attempt, max_attempts, step, plugin, payload, input_name, "    \
    "hook, reason, output_ext, output_mime, day, created_ms, started_ms, finished_ms, "            \
    "run_after_ms, expires_ms, expired"
#define TOKEN_COLUMNS                                                                              \
    "id, name, hint, daily_quota, credits, day, used_today, webhook_secret, revoked, created_ms"

/* ---- plumbing ----------------------------------------------------------- */

static int db_error(sq_store *s, const char *what)
{
    return rt_error(RT_ERR_IO, "job store: %s: %s", what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *stmt(sq_store *s, const char *sql)
{
    for (int i = 0; i < STMT_CACHE; i++) {
        if (s->cache[i].sql == sql) return s->cache[i].stmt;
        if (!s->cache[i].sql) {
            if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->cache[i].stmt,
                                   NULL) != SQLITE_OK) {
                db_error(s, "prepare");
                return NULL;
            }
            s->cache[i].sql = sql;
            return s->cache[i].stmt;
        }
    }
    db_error(s, "statement cache full");
    return NULL;
}

static void done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

static int exec(sq_store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int err = rt_error(RT_ERR_IO, "job store: %s: %s", sql, msg ? msg : "failed");
        sqlite3_free(msg);
        return err;
    }
    return 0;
}

/* Runs a statement that returns no rows. */
static int run(sq_store *s, sqlite3_stmt *st, const char *what)
{
    if (!st) return RT_ERR_IO;
    int rc = sqlite3_step(st);
    int err = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : db_error(s, what);
    done(st);
    return err;
}

/* The synchronous setting goes back to NORMAL after a durable commit.  Raw
 * sqlite3_exec: these must not replace the error being reported. */
static void restore_sync(sq_store *s, int durable)
{
    if (durable) sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
}

static int begin(sq_store *s, int durable)
{
    if (durable && exec(s, "PRAGMA synchronous=FULL")) return RT_ERR_IO;
    int err = exec(s, "BEGIN IMMEDIATE");
    if (err) restore_sync(s, durable);
    return err;
}

/* A failed statement or COMMIT may already have rolled the transaction back
 * (SQLITE_FULL does): ROLLBACK only what is still open, and keep the first
 * error ("database or disk is full"), not "no transaction is active". */
static void rollback(sq_store *s, int durable)
{
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    restore_sync(s, durable);
}

static int commit(sq_store *s, int durable)
{
    int err = exec(s, "COMMIT");
    if (err)
        rollback(s, durable);
    else
        restore_sync(s, durable);
    return err;
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

static void col_copy(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static int read_job(sqlite3_stmt *st, rd_job *j)
{
    memset(j, 0, sizeof *j);
    col_copy(st, 0, j->id, sizeof j->id);
    j->token_id = sqlite3_column_int64(st, 1);
    char state[16];
    col_copy(st, 2, state, sizeof state);
    int err = rd_job_state_parse(state, &j->state);
    j->progress = sqlite3_column_int(st, 3);
    j->attempt = sqlite3_column_int(st, 4);
    j->max_attempts = sqlite3_column_int(st, 5);
    col_copy(st, 6, j->step, sizeof j->step);
    col_copy(st, 7, j->plugin, sizeof j->plugin);
    j->payload = col_strdup(st, 8);
    j->input_name = col_strdup(st, 9);
    j->hook = col_strdup(st, 10);
    j->reason = col_strdup(st, 11);
    col_copy(st, 12, j->output_ext, sizeof j->output_ext);
    col_copy(st, 13, j->output_mime, sizeof j->output_mime);
    col_copy(st, 14, j->day, sizeof j->day);
    j->created_ms = sqlite3_column_int64(st, 15);
    j->started_ms = sqlite3_column_int64(st, 16);
    j->finished_ms = sqlite3_column_int64(st, 17);
    j->run_after_ms = sqlite3_column_int64(st, 18);
    j->expires_ms = sqlite3_column_int64(st, 19);
    j->expired = sqlite3_column_int(st, 20);
    if (!j->payload || !j->input_name || !j->hook || !j->reason) {
        rd_job_clear(j);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    return err;
}

/* Column i holds a sealed secret: opened into out (empty when it does not
 * open, so a signature made with it fails visibly at the receiver). */
static void col_secret(const sq_store *s, sqlite3_stmt *st, int i, char *out, size_t cap)
{
    char sealed[SEALED_MAX + 1];
    col_copy(st, i, sealed, sizeof sealed);
    if (rd_secret_unseal(s->key, sealed, out, cap)) out[0] = '\0';
}

static int bind_secret(const sq_store *s, sqlite3_stmt *st, int i, const char *plain)
{
    char sealed[SEALED_MAX + 1];
    int err = rd_secret_seal(s->key, plain ? plain : "", sealed, sizeof sealed);
    if (!err) bind_text(st, i, sealed);
    return err;
}

static void read_token(const sq_store *s, sqlite3_stmt *st, rd_token *t)
{
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    col_copy(st, 1, t->name, sizeof t->name);
    col_copy(st, 2, t->hint, sizeof t->hint);
    t->daily_quota = sqlite3_column_int64(st, 3);
    t->credits = sqlite3_column_int64(st, 4);
    col_copy(st, 5, t->day, sizeof t->day);
    t->used_today = sqlite3_column_int64(st, 6);
    col_secret(s, st, 7, t->webhook_secret, sizeof t->webhook_secret);
    t->revoked = sqlite3_column_int(st, 8);
    t->created_ms = sqlite3_column_int64(st, 9);
}

#define LOCK(s) pthread_mutex_lock(&(s)->lock)
#define UNLOCK(s) pthread_mutex_unlock(&(s)->lock)

/* ---- tokens ------------------------------------------------------------- */

static int sq_token_insert(rd_store *base, const rd_token *t, const char *hash)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "INSERT INTO tokens(hash, hint, name, daily_quota, credits, "
                              "webhook_secret, created_ms) VALUES(?,?,?,?,?,?,?)";
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = RT_ERR_IO;
    if (st) {
        bind_text(st, 1, hash);
        bind_text(st, 2, t->hint);
        bind_text(st, 3, t->name);
        sqlite3_bind_int64(st, 4, t->daily_quota);
        sqlite3_bind_int64(st, 5, t->credits);
        sqlite3_bind_int64(st, 7, t->created_ms);
        err = bind_secret(s, st, 6, t->webhook_secret);
        if (!err)
            err = run(s, st, "insert token");
        else
            done(st);
    }
    UNLOCK(s);
    return err;
}

static int sq_token_find(rd_store *base, const char *hash, rd_token *out)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "SELECT " TOKEN_COLUMNS " FROM tokens WHERE hash = ?";
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = RT_ERR_IO;
    if (st) {
        bind_text(st, 1, hash);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            read_token(s, st, out);
            err = 0;
        } else if (rc == SQLITE_DONE) {
            err = rt_error(RT_ERR_NOT_FOUND, "token not found");
        } else {
            err = db_error(s, "find token");
        }
        done(st);
    }
    UNLOCK(s);
    return err;
}

static int sq_token_find_name(rd_store *base, const char *name, rd_token *out, int *matches)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "SELECT " TOKEN_COLUMNS " FROM tokens WHERE name = ? ORDER BY id";
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = RT_ERR_IO;
    *matches = 0;
    if (st) {
        bind_text(st, 1, name);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            if ((*matches)++ == 0) read_token(s, st, out);
        err = rc == SQLITE_DONE ? 0 : db_error(s, "find token by name");
        done(st);
    }
    UNLOCK(s);
    if (!err && !*matches) err = rt_error(RT_ERR_NOT_FOUND, "no token named '%s'", name);
    return err;
}

static int sq_token_list(rd_store *base, rd_token **out, size_t *n)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY id";
    *out = NULL;
    *n = 0;
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = st ? 0 : RT_ERR_IO;
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            rd_token *t = realloc(*out, cap * sizeof *t);
            if (!t) {
                err = rt_error(RT_ERR_NOMEM, "out of memory");
                break;
            }
            *out = t;
        }
        read_token(s, st, &(*out)[(*n)++]);
    }
    if (!err && rc != SQLITE_DONE) err = db_error(s, "list tokens");
    done(st);
    UNLOCK(s);
    if (err) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return err;
}

static int sq_token_update(rd_store *base, const rd_token *t)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "UPDATE tokens SET name = ?, daily_quota = ?, credits = ?, "
                              "webhook_secret = ?, revoked = ? WHERE id = ?";
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = RT_ERR_IO;
    if (st) {
        bind_text(st, 1, t->name);
        sqlite3_bind_int64(st, 2, t->daily_quota);
        sqlite3_bind_int64(st, 3, t->credits);
        sqlite3_bind_int(st, 5, t->revoked);
        sqlite3_bind_int64(st, 6, t->id);
        err = bind_secret(s, st, 4, t->webhook_secret);
        if (!err)
            err = run(s, st, "update token");
        else
            done(st);
    }
    UNLOCK(s);
    return err;
}

/* ---- jobs --------------------------------------------------------------- */

/* Inside a transaction: the first answer for (token, key) when it is
 * recent.  1 when found. */
static int find_idempotent(sq_store *s, const rd_submit *sub, rd_submit_result *out)
{
    static const char sql[] = "SELECT job_id, quota_left FROM idempotency WHERE token_id = ? AND "
                              "key = ? AND created_ms > ?";
    sqlite3_stmt *st = stmt(s, sql);
    if (!st) return RT_ERR_IO;
    sqlite3_bind_int64(st, 1, sub->token_id);
    bind_text(st, 2, sub->idempotency_key);
    sqlite3_bind_int64(st, 3, sub->now_ms - sub->idempotency_window_ms);
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        col_copy(st, 0, out->job_id, sizeof out->job_id);
        out->quota_left = sqlite3_column_int64(st, 1);
        out->replayed = 1;
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = db_error(s, "idempotency lookup");
    }
    done(st);
    return found;
}

/* Inside a transaction: checks the quota and charges one job. */
static int charge(sq_store *s, const rd_submit *sub, int64_t *quota_left)
{
    static const char get_sql[] = "SELECT " TOKEN_COLUMNS " FROM tokens WHERE id = ?";
    static const char set_sql[] = "UPDATE tokens SET day = ?, used_today = ?, credits = ? WHERE "
                                  "id = ?";
    sqlite3_stmt *st = stmt(s, get_sql);
    if (!st) return RT_ERR_IO;
    sqlite3_bind_int64(st, 1, sub->token_id);
    int rc = sqlite3_step(st);
    rd_token t;
    if (rc == SQLITE_ROW) read_token(s, st, &t);
    done(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? rt_error(RT_ERR_AUTH, "token not found")
                                 : db_error(s, "read token");
    if (t.revoked)
        return rt_error(RT_ERR_AUTH, "this token was revoked; ask the operator for a new one");
    const char *today = sub->job->day;
    int64_t used = strcmp(t.day, today) == 0 ? t.used_today : 0;
    if (t.daily_quota != RD_UNLIMITED && used >= t.daily_quota)
        return rt_error(RT_ERR_QUOTA,
                        "processing limit reached: this token's daily quota of %lld jobs is used "
                        "up; it renews at 00:00 UTC",
                        (long long)t.daily_quota);
    if (t.credits != RD_UNLIMITED && t.credits <= 0)
        return rt_error(RT_ERR_QUOTA, "processing limit reached: this token has no credits left; "
                                      "ask the operator to add some (retouchd token set TOKEN "
                                      "--credits N)");
    snprintf(t.day, sizeof t.day, "%s", today);
    t.used_today = used + 1;
    if (t.credits != RD_UNLIMITED) t.credits--;
    st = stmt(s, set_sql);
    if (!st) return RT_ERR_IO;
    bind_text(st, 1, t.day);
    sqlite3_bind_int64(st, 2, t.used_today);
    sqlite3_bind_int64(st, 3, t.credits);
    sqlite3_bind_int64(st, 4, t.id);
    int err = run(s, st, "charge token");
    *quota_left = rd_token_quota_left(&t, today);
    return err;
}

static int sq_job_submit(rd_store *base, const rd_submit *sub, rd_submit_result *out)
{
    sq_store *s = (sq_store *)base;
    static const char insert_sql[] =
        "INSERT INTO jobs(id, token_id, state, max_attempts, payload, input_name, hook, day, "
        "created_ms) VALUES(?, ?, 'waiting', ?, ?, ?, ?, ?, ?)";
    static const char key_sql[] = "INSERT OR REPLACE INTO idempotency(token_id, key, job_id, "
                                  "quota_left, created_ms) VALUES(?,?,?,?,?)";
    const rd_job *j = sub->job;
    int has_key = sub->idempotency_key && sub->idempotency_key[0];
    memset(out, 0, sizeof *out);
    LOCK(s);
    int err = begin(s, 1);
    if (err) {
        UNLOCK(s);
        return err;
    }
    if (has_key) {
        int found = find_idempotent(s, sub, out);
        if (found) {
            if (found > 0)
                err = commit(s, 1);
            else
                rollback(s, 1), err = found;
            UNLOCK(s);
            return err;
        }
    }
    err = charge(s, sub, &out->quota_left);
    sqlite3_stmt *st = err ? NULL : stmt(s, insert_sql);
    if (!err && !st) err = RT_ERR_IO;
    if (!err) {
        bind_text(st, 1, j->id);
        sqlite3_bind_int64(st, 2, sub->token_id);
        sqlite3_bind_int(st, 3, j->max_attempts);
        bind_text(st, 4, j->payload);
        bind_text(st, 5, j->input_name);
        bind_text(st, 6, j->hook);
        bind_text(st, 7, j->day);
        sqlite3_bind_int64(st, 8, sub->now_ms);
        err = run(s, st, "insert job");
    }
    if (!err && has_key) {
        st = stmt(s, key_sql);
        if (!st)
            err = RT_ERR_IO;
        else {
            sqlite3_bind_int64(st, 1, sub->token_id);
            bind_text(st, 2, sub->idempotency_key);
            bind_text(st, 3, j->id);
            sqlite3_bind_int64(st, 4, out->quota_left);
            sqlite3_bind_int64(st, 5, sub->now_ms);
            err = run(s, st, "record idempotency key");
        }
    }
    if (err) {
        rollback(s, 1);
    } else {
        err = commit(s, 1);
        snprintf(out->job_id, sizeof out->job_id, "%s", j->id);
    }
    UNLOCK(s);
    return err;
}

static int sq_job_get(rd_store *base, const char *id, rd_job *out)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?";
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = RT_ERR_IO;
    if (st) {
        bind_text(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            err = read_job(st, out);
        else if (rc == SQLITE_DONE)
            err = rt_error(RT_ERR_NOT_FOUND, "unknown job");
        else
            err = db_error(s, "read job");
        done(st);
    }
    UNLOCK(s);
    return err;
}

/* Fair across tokens: the next job is from the token with the fewest jobs
 * running, then the one whose last job started longest ago (round robin),
 * then the oldest of that token's jobs.  A burst from one token no longer
 * makes everyone else wait for all of it. */
static int sq_job_claim(rd_store *base, int64_t now_ms, rd_job *out)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] =
        "UPDATE jobs SET state = 'active', attempt = attempt + 1, step = 'reading', plugin = '', "
        "reason = '', started_ms = ?1 WHERE seq = (SELECT seq FROM jobs j WHERE state IN "
        "('waiting', 'delayed') AND run_after_ms <= ?1 AND expired = 0 ORDER BY "
        "(SELECT COUNT(*) FROM jobs a WHERE a.token_id = j.token_id AND a.state = 'active'), "
        "(SELECT MAX(started_ms) FROM jobs b WHERE b.token_id = j.token_id AND b.state IN "
        "('active', 'completed', 'failed')), seq LIMIT 1) "
        "RETURNING " JOB_COLUMNS;
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int result = RT_ERR_IO;
    if (st) {
        sqlite3_bind_int64(st, 1, now_ms);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            result = read_job(st, out);
            if (result == 0) result = 1;
            rc = sqlite3_step(st); /* finish the statement: that commits it */
            if (rc != SQLITE_DONE && result == 1) {
                rd_job_clear(out);
                result = db_error(s, "claim job");
            }
        } else if (rc == SQLITE_DONE) {
            result = 0;
        } else {
            result = db_error(s, "claim job");
        }
        done(st);
    }
    UNLOCK(s);
    return result;
}

static int sq_job_progress(rd_store *base, const char *id, const char *step, const char *plugin,
                           int progress, int64_t now_ms)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "UPDATE jobs SET step = ?, plugin = ?, progress = MAX(progress, ?) "
                              "WHERE id = ? AND state = 'active'";
    (void)now_ms;
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = RT_ERR_IO;
    if (st) {
        bind_text(st, 1, step);
        bind_text(st, 2, plugin);
        sqlite3_bind_int(st, 3, progress);
        bind_text(st, 4, id);
        err = run(s, st, "record progress");
    }
    UNLOCK(s);
    return err;
}

static int end_statement(sq_store *s, const rd_job_end *e)
{
    static const char completed_sql[] =
        "UPDATE jobs SET state = 'completed', progress = 100, step = 'done', plugin = '', reason "
        "= '', output_ext = ?, output_mime = ?, finished_ms = ?, expires_ms = ? WHERE id = ?";
    static const char failed_sql[] =
        "UPDATE jobs SET state = 'failed', progress = 100, step = 'done', plugin = '', reason = "
        "?, finished_ms = ?, expires_ms = ?, refunded = 1 WHERE id = ?";
    static const char delayed_sql[] = "UPDATE jobs SET state = 'delayed', step = 'queued', plugin "
                                      "= '', reason = ?, run_after_ms = ? WHERE id = ?";
    static const char waiting_sql[] =
        "UPDATE jobs SET state = 'waiting', step = 'queued', plugin = '', reason = ?, "
        "run_after_ms = ?, attempt = MAX(attempt - ?, 0) WHERE id = ?";
    sqlite3_stmt *st;
    switch (e->state) {
    case RD_JOB_COMPLETED:
        if (!(st = stmt(s, completed_sql))) return RT_ERR_IO;
        bind_text(st, 1, e->output_ext);
        bind_text(st, 2, e->output_mime);
        sqlite3_bind_int64(st, 3, e->now_ms);
        sqlite3_bind_int64(st, 4, e->expires_ms);
        bind_text(st, 5, e->id);
        return run(s, st, "complete job");
    case RD_JOB_FAILED:
        if (!(st = stmt(s, failed_sql))) return RT_ERR_IO;
        bind_text(st, 1, e->reason);
        sqlite3_bind_int64(st, 2, e->now_ms);
        sqlite3_bind_int64(st, 3, e->expires_ms);
        bind_text(st, 4, e->id);
        return run(s, st, "fail job");
    case RD_JOB_DELAYED:
        if (!(st = stmt(s, delayed_sql))) return RT_ERR_IO;
        bind_text(st, 1, e->reason);
        sqlite3_bind_int64(st, 2, e->run_after_ms);
        bind_text(st, 3, e->id);
        return run(s, st, "delay job");
    case RD_JOB_WAITING:
        if (!(st = stmt(s, waiting_sql))) return RT_ERR_IO;
        bind_text(st, 1, e->reason);
        sqlite3_bind_int64(st, 2, e->run_after_ms);
        sqlite3_bind_int(st, 3, e->uncount_attempt ? 1 : 0);
        bind_text(st, 4, e->id);
        return run(s, st, "requeue job");
    case RD_JOB_ACTIVE:
        break;
    }
    return rt_error(RT_ERR_INTERNAL, "a job cannot end as active");
}

static int sq_job_end(rd_store *base, const rd_job_end *e)
{
    sq_store *s = (sq_store *)base;
    static const char get_sql[] = "SELECT token_id, day, refunded, hook FROM jobs WHERE id = ? "
                                  "AND state = 'active'";
    static const char refund_sql[] =
        "UPDATE tokens SET credits = CASE WHEN credits < 0 THEN credits ELSE credits + 1 END, "
        "used_today = CASE WHEN day = ? AND used_today > 0 THEN used_today - 1 ELSE used_today "
        "END WHERE id = ?";
    static const char hook_sql[] =
        "INSERT INTO hooks(job_id, url, body, event, secret, next_ms, created_ms) SELECT j.id, "
        "j.hook, ?, ?, t.webhook_secret, ?, ? FROM jobs j JOIN tokens t ON t.id = j.token_id "
        "WHERE j.id = ?";
    const int ends = e->state == RD_JOB_COMPLETED || e->state == RD_JOB_FAILED;
    LOCK(s);
    int err = begin(s, ends);
    if (err) {
        UNLOCK(s);
        return err;
    }
    sqlite3_stmt *st = stmt(s, get_sql);
    int64_t token_id = 0;
    int refunded = 0, has_hook = 0;
    char day[16] = "";
    if (!st) {
        err = RT_ERR_IO;
    } else {
        bind_text(st, 1, e->id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            token_id = sqlite3_column_int64(st, 0);
            col_copy(st, 1, day, sizeof day);
            refunded = sqlite3_column_int(st, 2);
            const unsigned char *hook = sqlite3_column_text(st, 3);
            has_hook = hook && hook[0];
        } else {
            err = rc == SQLITE_DONE ? rt_error(RT_ERR_NOT_FOUND, "job %s is not active", e->id)
                                    : db_error(s, "read job");
        }
        done(st);
    }
    if (!err) err = end_statement(s, e);
    if (!err && e->state == RD_JOB_FAILED && !refunded) {
        if (!(st = stmt(s, refund_sql))) {
            err = RT_ERR_IO;
        } else {
            bind_text(st, 1, day);
            sqlite3_bind_int64(st, 2, token_id);
            err = run(s, st, "refund credit");
        }
    }
    if (!err && ends && has_hook && e->hook_body) {
        if (!(st = stmt(s, hook_sql))) {
            err = RT_ERR_IO;
        } else {
            bind_text(st, 1, e->hook_body);
            bind_text(st, 2, e->hook_event);
            sqlite3_bind_int64(st, 3, e->now_ms);
            sqlite3_bind_int64(st, 4, e->now_ms);
            bind_text(st, 5, e->id);
            err = run(s, st, "queue webhook");
        }
    }
    if (err)
        rollback(s, ends);
    else
        err = commit(s, ends);
    UNLOCK(s);
    return err;
}

static int sq_job_list_active(rd_store *base, rd_job **out, size_t *n)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE state = 'active' ORDER BY "
                              "seq";
    *out = NULL;
    *n = 0;
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = st ? 0 : RT_ERR_IO;
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            rd_job *j = realloc(*out, cap * sizeof *j);
            if (!j) {
                err = rt_error(RT_ERR_NOMEM, "out of memory");
                break;
            }
            *out = j;
        }
        err = read_job(st, &(*out)[*n]);
        if (!err) (*n)++;
    }
    if (!err && rc != SQLITE_DONE) err = db_error(s, "list active jobs");
    done(st);
    UNLOCK(s);
    if (err) {
        for (size_t i = 0; i < *n; i++)
            rd_job_clear(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return err;
}

/* Runs a SELECT of one nullable integer; INT64_MAX for NULL. */
static int select_min(sq_store *s, const char *sql, int64_t *out)
{
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = RT_ERR_IO;
    if (st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out =
                sqlite3_column_type(st, 0) == SQLITE_NULL ? INT64_MAX : sqlite3_column_int64(st, 0);
            err = 0;
        } else {
            err = db_error(s, "select");
        }
        done(st);
    }
    UNLOCK(s);
    return err;
}

static int sq_job_next_run_ms(rd_store *base, int64_t *out)
{
    static const char sql[] = "SELECT MIN(run_after_ms) FROM jobs WHERE state IN ('waiting', "
                              "'delayed') AND expired = 0";
    return select_min((sq_store *)base, sql, out);
}

static int sq_job_expire(rd_store *base, int64_t now_ms, char ***ids, size_t *n)
{
    sq_store *s = (sq_store *)base;
    static const char select_sql[] = "SELECT id FROM jobs WHERE expired = 0 AND state IN "
                                     "('completed', 'failed') AND expires_ms <= ? LIMIT 1000";
    /* A tombstone keeps what status needs to say "expired", not the payload. */
    static const char mark_sql[] = "UPDATE jobs SET expired = 1, payload = '', hook = '' WHERE "
                                   "id = ?";
    *ids = NULL;
    *n = 0;
    LOCK(s);
    int err = begin(s, 0);
    sqlite3_stmt *st = err ? NULL : stmt(s, select_sql);
    size_t cap = 0;
    if (!err && !st) err = RT_ERR_IO;
    if (!err) {
        sqlite3_bind_int64(st, 1, now_ms);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                char **p = realloc(*ids, cap * sizeof *p);
                if (!p) {
                    err = rt_error(RT_ERR_NOMEM, "out of memory");
                    break;
                }
                *ids = p;
            }
            if (!((*ids)[*n] = col_strdup(st, 0))) {
                err = rt_error(RT_ERR_NOMEM, "out of memory");
                break;
            }
            (*n)++;
        }
        if (!err && rc != SQLITE_DONE) err = db_error(s, "list expired jobs");
        done(st);
    }
    for (size_t i = 0; !err && i < *n; i++) {
        if (!(st = stmt(s, mark_sql))) {
            err = RT_ERR_IO;
            break;
        }
        bind_text(st, 1, (*ids)[i]);
        err = run(s, st, "mark job expired");
    }
    if (err) {
        rollback(s, 0);
        for (size_t i = 0; i < *n; i++)
            free((*ids)[i]);
        free(*ids);
        *ids = NULL;
        *n = 0;
    } else {
        err = commit(s, 0);
    }
    UNLOCK(s);
    return err;
}

static int sq_purge(rd_store *base, int64_t now_ms, int64_t idempotency_window_ms,
                    int64_t tombstone_ms)
{
    sq_store *s = (sq_store *)base;
    static const char keys_sql[] = "DELETE FROM idempotency WHERE created_ms <= ?";
    static const char jobs_sql[] = "DELETE FROM jobs WHERE expired = 1 AND expires_ms <= ?";
    static const char hooks_sql[] = "DELETE FROM hooks WHERE state != 'pending' AND created_ms "
                                    "<= ?";
    const char *const sqls[] = {keys_sql, jobs_sql, hooks_sql};
    const int64_t before[] = {now_ms - idempotency_window_ms, now_ms - tombstone_ms,
                              now_ms - tombstone_ms};
    LOCK(s);
    int err = 0;
    for (int i = 0; i < 3 && !err; i++) {
        sqlite3_stmt *st = stmt(s, sqls[i]);
        if (!st) {
            err = RT_ERR_IO;
            break;
        }
        sqlite3_bind_int64(st, 1, before[i]);
        err = run(s, st, "purge");
    }
    UNLOCK(s);
    return err;
}

static int sq_job_counts(rd_store *base, int64_t counts[RD_JOB_STATES])
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "SELECT state, COUNT(*) FROM jobs WHERE expired = 0 GROUP BY state";
    memset(counts, 0, sizeof(int64_t) * RD_JOB_STATES);
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = st ? 0 : RT_ERR_IO;
    int rc = SQLITE_DONE;
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rd_job_state state;
        char name[16];
        col_copy(st, 0, name, sizeof name);
        if (rd_job_state_parse(name, &state) == 0) counts[state] = sqlite3_column_int64(st, 1);
    }
    if (!err && rc != SQLITE_DONE) err = db_error(s, "count jobs");
    done(st);
    UNLOCK(s);
    return err;
}

/* ---- webhook outbox ------------------------------------------------------ */

static int sq_hook_due(rd_store *base, int64_t now_ms, rd_hook *out, size_t max, size_t *n)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "SELECT id, job_id, url, body, event, secret, attempts FROM hooks "
                              "WHERE state = 'pending' AND next_ms <= ? ORDER BY next_ms, id "
                              "LIMIT ?";
    *n = 0;
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = st ? 0 : RT_ERR_IO;
    int rc = SQLITE_DONE;
    if (!err) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
        while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            rd_hook *h = &out[*n];
            memset(h, 0, sizeof *h);
            h->id = sqlite3_column_int64(st, 0);
            col_copy(st, 1, h->job_id, sizeof h->job_id);
            h->url = col_strdup(st, 2);
            h->body = col_strdup(st, 3);
            col_copy(st, 4, h->event, sizeof h->event);
            col_secret(s, st, 5, h->secret, sizeof h->secret);
            h->attempts = sqlite3_column_int(st, 6);
            (*n)++;
            if (!h->url || !h->body) {
                err = rt_error(RT_ERR_NOMEM, "out of memory");
                break;
            }
        }
        if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW) err = db_error(s, "list webhooks");
        done(st);
    }
    UNLOCK(s);
    if (err) {
        for (size_t i = 0; i < *n; i++)
            rd_hook_clear(&out[i]);
        *n = 0;
    }
    return err;
}

static int sq_hook_next_ms(rd_store *base, int64_t *out)
{
    static const char sql[] = "SELECT MIN(next_ms) FROM hooks WHERE state = 'pending'";
    return select_min((sq_store *)base, sql, out);
}

static int sq_hook_update(rd_store *base, int64_t id, int delivered, int give_up, int64_t next_ms,
                          const char *last_error)
{
    sq_store *s = (sq_store *)base;
    static const char sql[] = "UPDATE hooks SET attempts = attempts + 1, state = ?, next_ms = ?, "
                              "last_error = ? WHERE id = ?";
    LOCK(s);
    sqlite3_stmt *st = stmt(s, sql);
    int err = RT_ERR_IO;
    if (st) {
        bind_text(st, 1, delivered ? "delivered" : give_up ? "failed" : "pending");
        sqlite3_bind_int64(st, 2, next_ms);
        bind_text(st, 3, last_error);
        sqlite3_bind_int64(st, 4, id);
        err = run(s, st, "update webhook");
    }
    UNLOCK(s);
    return err;
}

/* ---- open and close ------------------------------------------------------ */

static void sq_close(rd_store *base)
{
    sq_store *s = (sq_store *)base;
    for (int i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(s->cache[i].stmt);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    OPENSSL_cleanse(s->key, sizeof s->key);
    free(s);
}

static const rd_store_ops sqlite_ops = {
    .close = sq_close,
    .token_insert = sq_token_insert,
    .token_find = sq_token_find,
    .token_find_name = sq_token_find_name,
    .token_list = sq_token_list,
    .token_update = sq_token_update,
    .job_submit = sq_job_submit,
    .job_get = sq_job_get,
    .job_claim = sq_job_claim,
    .job_progress = sq_job_progress,
    .job_end = sq_job_end,
    .job_list_active = sq_job_list_active,
    .job_next_run_ms = sq_job_next_run_ms,
    .job_expire = sq_job_expire,
    .purge = sq_purge,
    .job_counts = sq_job_counts,
    .hook_due = sq_hook_due,
    .hook_next_ms = sq_hook_next_ms,
    .hook_update = sq_hook_update,
};

/* The key that seals webhook secrets: DIR/retouchd.key next to the store,
 * made (0600) on first use. */
static int load_key(sq_store *s, const char *db_path)
{
    char path[4200];
    const char *slash = strrchr(db_path, '/');
    if (slash)
        snprintf(path, sizeof path, "%.*s/retouchd.key", (int)(slash - db_path), db_path);
    else
        snprintf(path, sizeof path, "retouchd.key");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (RAND_bytes(s->key, sizeof s->key) != 1)
            return rt_error(RT_ERR_INTERNAL, "the random number generator failed");
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            int ok = write(fd, s->key, sizeof s->key) == (ssize_t)sizeof s->key && fsync(fd) == 0;
            close(fd);
            if (ok) return 0;
            unlink(path);
            return rt_error(RT_ERR_IO, "cannot write %s", path);
        }
        if (errno != EEXIST)
            return rt_error(RT_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        fd = open(path, O_RDONLY | O_CLOEXEC); /* another process made it first */
    }
    if (fd < 0) return rt_error(RT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    ssize_t n = read(fd, s->key, sizeof s->key);
    close(fd);
    if (n != (ssize_t)sizeof s->key)
        return rt_error(RT_ERR_IO, "%s is not a %d-byte key; restore it from a backup", path,
                        RD_SEAL_KEY_BYTES);
    return 0;
}

/* Seals the secrets a store made before sealing existed still holds in clear. */
static int seal_plain_secrets(sq_store *s)
{
    static const char *const tables[][2] = {{"tokens", "webhook_secret"}, {"hooks", "secret"}};
    int err = 0;
    for (size_t t = 0; t < 2 && !err; t++) {
        char select[160], update[160];
        snprintf(select, sizeof select, "SELECT rowid, %s FROM %s WHERE %s NOT LIKE '%s%%'",
                 tables[t][1], tables[t][0], tables[t][1], RD_SEALED_PREFIX);
        snprintf(update, sizeof update, "UPDATE %s SET %s = ? WHERE rowid = ?", tables[t][0],
                 tables[t][1]);
        sqlite3_stmt *sel = NULL, *upd = NULL;
        if (sqlite3_prepare_v2(s->db, select, -1, &sel, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, update, -1, &upd, NULL) != SQLITE_OK)
            err = db_error(s, "seal secrets");
        while (!err && sqlite3_step(sel) == SQLITE_ROW) {
            const unsigned char *plain = sqlite3_column_text(sel, 1);
            char sealed[SEALED_MAX + 1];
            err = rd_secret_seal(s->key, plain ? (const char *)plain : "", sealed, sizeof sealed);
            if (err) break;
            sqlite3_bind_text(upd, 1, sealed, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0));
            if (sqlite3_step(upd) != SQLITE_DONE) err = db_error(s, "seal secrets");
            sqlite3_reset(upd);
        }
        sqlite3_finalize(sel);
        sqlite3_finalize(upd);
    }
    return err;
}

int rd_store_open_sqlite(const char *path, rd_store **out)
{
    *out = NULL;
    sq_store *s = calloc(1, sizeof *s);
    if (!s) return rt_error(RT_ERR_NOMEM, "out of memory");
    s->base.ops = &sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        int err = rt_error(RT_ERR_IO, "cannot open the job store %s: %s", path,
                           s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sq_close(&s->base);
        return err;
    }
    sqlite3_busy_timeout(s->db, 10000);
    int err = exec(s, "PRAGMA journal_mode=WAL");
    if (!err) err = exec(s, "PRAGMA synchronous=NORMAL");
    if (!err) err = exec(s, schema);
    if (!err) err = load_key(s, path);
    if (!err) err = seal_plain_secrets(s);
    if (err) {
        rt_error_prefix("%s: ", path);
        sq_close(&s->base);
        return err;
    }
    *out = &s->base;
    return 0;
}
