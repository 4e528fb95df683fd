/* Unit tests of the SQLite job store: submit with quotas and idempotency,
 * claim order, progress, ends with refunds and webhook outbox, recovery
 * listing, expiry and purge. */
#include "core/error.h"
#include "server/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY "2030-01-02"
#define T0 1893542400000LL /* 2030-01-02T00:00:00Z */

typedef struct fixture {
    char dir[64];
    char path[128];
    rd_store *store;
    rd_token token;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/rd-test-store-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
    if (rd_store_open_sqlite(f->path, &f->store)) return -1;
    rd_token t = {.daily_quota = 3, .credits = 5, .created_ms = T0};
    snprintf(t.name, sizeof t.name, "alice");
    snprintf(t.hint, sizeof t.hint, "rt_abc");
    snprintf(t.webhook_secret, sizeof t.webhook_secret, "whsec_test_secret_0123");
    if (rd_store_token_insert(f->store, &t, "hash-alice")) return -1;
    if (rd_store_token_find(f->store, "hash-alice", &f->token)) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rd_store_close(f->store);
    char p[160];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static int submit(fixture *f, const char *id, const char *key, int64_t now, const char *hook,
                  rd_submit_result *res)
{
    rd_job j = {.max_attempts = 3,
                .payload = "{}",
                .input_name = "in.jpg",
                .hook = (char *)(hook ? hook : "")};
    snprintf(j.id, sizeof j.id, "%s", id);
    snprintf(j.day, sizeof j.day, DAY);
    rd_submit s = {.token_id = f->token.id,
                   .idempotency_key = key,
                   .job = &j,
                   .now_ms = now,
                   .idempotency_window_ms = 1000};
    return rd_store_job_submit(f->store, &s, res);
}

static void test_quota_and_idempotency(void **state)
{
    fixture *f = *state;
    rd_submit_result r;
    assert_int_equal(submit(f, "job1", "k1", T0, NULL, &r), 0);
    assert_false(r.replayed);
    assert_string_equal(r.job_id, "job1");
    assert_int_equal(r.quota_left, 2); /* daily 3 - 1 */
    /* Same key: the first answer again, no charge. */
    assert_int_equal(submit(f, "job2", "k1", T0 + 10, NULL, &r), 0);
    assert_true(r.replayed);
    assert_string_equal(r.job_id, "job1");
    assert_int_equal(r.quota_left, 2);
    rd_job j;
    assert_int_equal(rd_store_job_get(f->store, "job2", &j), RT_ERR_NOT_FOUND);
    /* The same key after the window is a new job. */
    assert_int_equal(submit(f, "job3", "k1", T0 + 5000, NULL, &r), 0);
    assert_false(r.replayed);
    assert_int_equal(submit(f, "job4", NULL, T0 + 5001, NULL, &r), 0);
    assert_int_equal(r.quota_left, 0);
    /* Daily quota of 3 is used up. */
    assert_int_equal(submit(f, "job5", NULL, T0 + 5002, NULL, &r), RT_ERR_QUOTA);
    assert_non_null(strstr(rt_error_message(), "daily quota"));
    rd_token t;
    assert_int_equal(rd_store_token_find(f->store, "hash-alice", &t), 0);
    assert_int_equal(t.credits, 2);
    assert_int_equal(t.used_today, 3);
    assert_string_equal(t.day, DAY);
    /* Credits run out too. */
    t.daily_quota = RD_UNLIMITED;
    t.credits = 1;
    assert_int_equal(rd_store_token_update(f->store, &t), 0);
    assert_int_equal(submit(f, "job6", NULL, T0 + 6000, NULL, &r), 0);
    assert_int_equal(r.quota_left, 0);
    assert_int_equal(submit(f, "job7", NULL, T0 + 6001, NULL, &r), RT_ERR_QUOTA);
    assert_non_null(strstr(rt_error_message(), "credits"));
    /* Revoked tokens cannot submit. */
    assert_int_equal(rd_store_token_find(f->store, "hash-alice", &t), 0);
    t.credits = RD_UNLIMITED;
    t.revoked = 1;
    assert_int_equal(rd_store_token_update(f->store, &t), 0);
    assert_int_equal(submit(f, "job8", NULL, T0 + 7000, NULL, &r), RT_ERR_AUTH);
}

static void test_claim_progress_end(void **state)
{
    fixture *f = *state;
    rd_submit_result r;
    assert_int_equal(submit(f, "a", NULL, T0, "http://example.com/h", &r), 0);
    assert_int_equal(submit(f, "b", NULL, T0 + 1, NULL, &r), 0);
    rd_job j;
    assert_int_equal(rd_store_job_claim(f->store, T0 + 2, &j), 1);
    assert_string_equal(j.id, "a"); /* oldest first */
    assert_int_equal(j.state, RD_JOB_ACTIVE);
    assert_int_equal(j.attempt, 1);
    assert_string_equal(j.hook, "http://example.com/h");
    rd_job_clear(&j);
    /* Progress never goes down. */
    assert_int_equal(rd_store_job_progress(f->store, "a", "processing", "Crop", 40, T0), 0);
    assert_int_equal(rd_store_job_progress(f->store, "a", "writing", "", 30, T0), 0);
    assert_int_equal(rd_store_job_get(f->store, "a", &j), 0);
    assert_int_equal(j.progress, 40);
    assert_string_equal(j.step, "writing");
    rd_job_clear(&j);
    /* Completed, with its webhook queued in the same transaction. */
    rd_job_end e = {.id = "a",
                    .state = RD_JOB_COMPLETED,
                    .output_ext = "jpg",
                    .output_mime = "image/jpeg",
                    .now_ms = T0 + 10,
                    .expires_ms = T0 + 100,
                    .hook_body = "{\"id\":\"a\"}",
                    .hook_event = "job.completed"};
    assert_int_equal(rd_store_job_end(f->store, &e), 0);
    assert_int_equal(rd_store_job_get(f->store, "a", &j), 0);
    assert_int_equal(j.state, RD_JOB_COMPLETED);
    assert_int_equal(j.progress, 100);
    assert_string_equal(j.output_mime, "image/jpeg");
    rd_job_clear(&j);
    /* Ending a job that is not active is refused. */
    assert_int_equal(rd_store_job_end(f->store, &e), RT_ERR_NOT_FOUND);
    rd_hook hooks[4];
    size_t n;
    assert_int_equal(rd_store_hook_due(f->store, T0 + 10, hooks, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(hooks[0].url, "http://example.com/h");
    assert_string_equal(hooks[0].secret, "whsec_test_secret_0123");
    assert_string_equal(hooks[0].event, "job.completed");
    int64_t id = hooks[0].id;
    rd_hook_clear(&hooks[0]);
    assert_int_equal(rd_store_hook_update(f->store, id, 0, 0, T0 + 500, "HTTP 500"), 0);
    assert_int_equal(rd_store_hook_due(f->store, T0 + 499, hooks, 4, &n), 0);
    assert_int_equal(n, 0);
    int64_t next;
    assert_int_equal(rd_store_hook_next_ms(f->store, &next), 0);
    assert_int_equal(next, T0 + 500);
    assert_int_equal(rd_store_hook_due(f->store, T0 + 500, hooks, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(hooks[0].attempts, 1);
    rd_hook_clear(&hooks[0]);
    assert_int_equal(rd_store_hook_update(f->store, id, 1, 0, T0 + 600, ""), 0);
    assert_int_equal(rd_store_hook_next_ms(f->store, &next), 0);
    assert_int_equal(next, INT64_MAX);
}

static void test_retry_refund_recover(void **state)
{
    fixture *f = *state;
    rd_submit_result r;
    assert_int_equal(submit(f, "c", NULL, T0, NULL, &r), 0);
    rd_job j;
    assert_int_equal(rd_store_job_claim(f->store, T0, &j), 1);
    rd_job_clear(&j);
    /* Delayed: not claimable before run_after. */
    rd_job_end e = {.id = "c",
                    .state = RD_JOB_DELAYED,
                    .reason = "try 1 failed",
                    .now_ms = T0,
                    .run_after_ms = T0 + 1000};
    assert_int_equal(rd_store_job_end(f->store, &e), 0);
    assert_int_equal(rd_store_job_claim(f->store, T0 + 999, &j), 0);
    int64_t next;
    assert_int_equal(rd_store_job_next_run_ms(f->store, &next), 0);
    assert_int_equal(next, T0 + 1000);
    assert_int_equal(rd_store_job_claim(f->store, T0 + 1000, &j), 1);
    assert_int_equal(j.attempt, 2);
    rd_job_clear(&j);
    /* Cancelled by a shutdown: back to waiting, the try uncounted. */
    e = (rd_job_end){.id = "c", .state = RD_JOB_WAITING, .now_ms = T0, .uncount_attempt = 1};
    assert_int_equal(rd_store_job_end(f->store, &e), 0);
    assert_int_equal(rd_store_job_claim(f->store, T0 + 1001, &j), 1);
    assert_int_equal(j.attempt, 2);
    rd_job_clear(&j);
    /* A dead process leaves it active: listed for recovery. */
    rd_job *active;
    size_t n;
    assert_int_equal(rd_store_job_list_active(f->store, &active, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(active[0].id, "c");
    rd_job_clear(&active[0]);
    free(active);
    rd_token t;
    assert_int_equal(rd_store_token_find(f->store, "hash-alice", &t), 0);
    assert_int_equal(t.credits, 4);
    /* Failing refunds the credit and the day's count, once. */
    e = (rd_job_end){.id = "c",
                     .state = RD_JOB_FAILED,
                     .reason = "bad image",
                     .now_ms = T0,
                     .expires_ms = T0 + 100};
    assert_int_equal(rd_store_job_end(f->store, &e), 0);
    assert_int_equal(rd_store_token_find(f->store, "hash-alice", &t), 0);
    assert_int_equal(t.credits, 5);
    assert_int_equal(t.used_today, 0);
    assert_int_equal(rd_store_job_get(f->store, "c", &j), 0);
    assert_int_equal(j.state, RD_JOB_FAILED);
    assert_string_equal(j.reason, "bad image");
    assert_int_equal(j.progress, 100);
    rd_job_clear(&j);
    int64_t counts[RD_JOB_STATES];
    assert_int_equal(rd_store_job_counts(f->store, counts), 0);
    assert_int_equal(counts[RD_JOB_FAILED], 1);
    /* Expiry marks it and hands back its id; counts leave it out. */
    char **ids;
    assert_int_equal(rd_store_job_expire(f->store, T0 + 99, &ids, &n), 0);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(rd_store_job_expire(f->store, T0 + 100, &ids, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "c");
    free(ids[0]);
    free(ids);
    assert_int_equal(rd_store_job_get(f->store, "c", &j), 0);
    assert_true(j.expired);
    rd_job_clear(&j);
    assert_int_equal(rd_store_job_counts(f->store, counts), 0);
    assert_int_equal(counts[RD_JOB_FAILED], 0);
    /* Tombstones go after their time. */
    assert_int_equal(rd_store_purge(f->store, T0 + 200, 1000, 50), 0);
    assert_int_equal(rd_store_job_get(f->store, "c", &j), RT_ERR_NOT_FOUND);
}

static void test_tokens(void **state)
{
    fixture *f = *state;
    rd_token t = {.daily_quota = RD_UNLIMITED, .credits = RD_UNLIMITED, .created_ms = T0};
    snprintf(t.name, sizeof t.name, "alice");
    snprintf(t.webhook_secret, sizeof t.webhook_secret, "whsec_other_secret_99");
    assert_int_equal(rd_store_token_insert(f->store, &t, "hash-alice-2"), 0);
    /* The hash is unique. */
    assert_int_equal(rd_store_token_insert(f->store, &t, "hash-alice-2"), RT_ERR_IO);
    rd_token found;
    int matches;
    assert_int_equal(rd_store_token_find_name(f->store, "alice", &found, &matches), 0);
    assert_int_equal(matches, 2);
    assert_int_equal(rd_store_token_find_name(f->store, "bob", &found, &matches), RT_ERR_NOT_FOUND);
    rd_token *all;
    size_t n;
    assert_int_equal(rd_store_token_list(f->store, &all, &n), 0);
    assert_int_equal(n, 2);
    free(all);
    assert_int_equal(rd_token_quota_left(&f->token, DAY), 3);
    assert_int_equal(rd_token_quota_left(&t, DAY), RD_UNLIMITED);
    rd_token used = f->token;
    used.used_today = 2;
    snprintf(used.day, sizeof used.day, "2029-12-31");
    assert_int_equal(rd_token_quota_left(&used, DAY), 3); /* yesterday's use does not count */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quota_and_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_progress_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_refund_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
