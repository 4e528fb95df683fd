/* The API routes (API.md), one function each, and their table. */
#include "server/routes.h"

#include "core/error.h"
#include "retouch.h"
#include "server/clock.h"
#include "server/crypto.h"
#include "server/datadir.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/route_table.h"
#include "server/tokens.h"
#include "server/webhooks.h"
#include "server/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the API reports for "no limit" in retouchQuota and remaining:
 * clients compare these with small numbers, so a large one, not -1. */
#define API_UNLIMITED 2147483647LL
/* API.md "The task payload": the engine's limits, shown by /info/limits. */
#define API_MAX_TASKS 64
#define API_MAX_PAYLOAD_BYTES 65536
#define IDEMPOTENCY_KEY_MAX 255
/* Room for the text fields around the file in a start request. */
#define FORM_SLACK_BYTES (2u << 20)

static const char *const accepted_formats[] = {"jpeg", "png", "tiff", "webp", "heif"};

static long long api_number(int64_t v)
{
    return v == RD_UNLIMITED ? API_UNLIMITED : (long long)v;
}

static rd_webhook_policy webhook_policy(const rd_server *srv)
{
    return (rd_webhook_policy){.allow = srv->cfg.webhook_allow,
                               .n_allow = srv->cfg.n_webhook_allow,
                               .allow_private = srv->cfg.webhook_allow_private,
                               .timeout_ms = srv->cfg.webhook_timeout_ms};
}

/* The token of a request: form field or header, whichever the client used. */
static const char *request_token(const rd_request *req, const char *field_names[])
{
    const char *v = rd_request_header(req, "X-Retouch-Token");
    if (v && *v) return v;
    for (int i = 0; req->body && field_names[i]; i++) {
        v = rd_upload_field(req->body, field_names[i]);
        if (v && *v) return v;
    }
    return NULL;
}

static void trim(char *s)
{
    size_t n = strlen(s), start = 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    while (s[start] == ' ' || s[start] == '\t' || s[start] == '\r' || s[start] == '\n')
        start++;
    memmove(s, s + start, n - start + 1);
}

/* ---- POST /api/v1/retoucher/start ---------------------------------------- */

/* The engine names the file it probed, by its path or its base name: show
 * the client's name instead, never the spool file's (an internal name). */
static int reply_probe_error(rd_reply *reply, int err, const char *spool, const char *name)
{
    const char *m = rt_error_message();
    const char *base = strrchr(spool, '/');
    base = base ? base + 1 : spool;
    char out[2048];
    size_t o = 0;
    int named = 0;
    while (*m && o + 1 < sizeof out) {
        size_t skip = strncmp(m, spool, strlen(spool)) == 0 ? strlen(spool)
                      : strncmp(m, base, strlen(base)) == 0 ? strlen(base)
                                                            : 0;
        if (skip) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", name);
            if (o >= sizeof out) o = sizeof out - 1;
            m += skip;
            named = 1;
        } else {
            out[o++] = *m++;
        }
    }
    out[o] = '\0';
    if (named) return rd_reply_error(reply, err, "%s", out);
    return rd_reply_error(reply, err, "%s: %s", name, out);
}

static int route_start(rd_server *srv, rd_request *req, rd_reply *reply)
{
    rd_upload *up = req->body;
    static const char *token_fields[] = {"token", "retouchtoken", NULL};
    rd_token token;
    int err = rd_auth(srv->store, request_token(req, token_fields), &token);
    if (err) return rd_reply_last_error(reply, err);
    if (!rd_upload_has_file(up)) return rd_reply_error(reply, RT_ERR_ARG, "No file uploaded");

    const char *payload = rd_upload_field(up, "payload");
    if (!payload)
        return rd_reply_error(reply, RT_ERR_PAYLOAD,
                              "payload missing: send the task JSON in the 'payload' form field, "
                              "e.g. {\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Color "
                              "Correction\"}]}");
    rt_payload *parsed = NULL;
    err = rt_payload_parse(payload, rd_upload_field_len(up, "payload"), &parsed);
    if (err) return rd_reply_last_error(reply, err);
    size_t ntasks = rt_payload_task_count(parsed);
    rt_payload_destroy(parsed);

    char hook[2100] = "";
    const char *hook_field = rd_upload_field(up, "hook");
    if (hook_field) {
        if (strlen(hook_field) >= sizeof hook)
            return rd_reply_error(reply, RT_ERR_ARG, "hook: the URL is longer than %zu characters",
                                  sizeof hook - 1);
        snprintf(hook, sizeof hook, "%s", hook_field);
        trim(hook);
    }
    rd_webhook_policy policy = webhook_policy(srv);
    if (hook[0] && (err = rd_webhook_check_url(&policy, hook)))
        return rd_reply_last_error(reply, err);

    const char *spool = rd_upload_file_path(up);
    const char *name = rd_upload_file_name(up);
    rt_image_info info;
    if ((err = rt_probe_image(spool, srv->cfg.max_megapixels, &info)))
        return reply_probe_error(reply, err, spool, name);
    int format_ok = 0;
    for (size_t i = 0; i < sizeof accepted_formats / sizeof *accepted_formats; i++)
        format_ok |= strcmp(info.format, accepted_formats[i]) == 0;
    if (!format_ok)
        return rd_reply_error(reply, RT_ERR_IMAGE,
                              "%s: %s images are not accepted; send a JPEG, PNG, TIFF, WebP or "
                              "HEIF file",
                              name, info.format);

    const char *key = rd_request_header(req, "Idempotency-Key");
    if (key && strlen(key) > IDEMPOTENCY_KEY_MAX)
        return rd_reply_error(reply, RT_ERR_ARG, "Idempotency-Key is longer than %d characters",
                              IDEMPOTENCY_KEY_MAX);

    /* The file moves into the job's own folder before the job is recorded:
     * a crash in between leaves a folder without a job, which the next start
     * deletes, never a job without its image. */
    char id[RD_JOB_ID_LEN + 1], dir[PATH_MAX], input[PATH_MAX];
    if ((err = rd_new_job_id(id)) ||
        (err = rd_datadir_job(srv->cfg.data_dir, id, dir, sizeof dir)) ||
        (err = rd_datadir_job_file(srv->cfg.data_dir, id, "input", input, sizeof input)))
        return rd_reply_last_error(reply, err);
    if (mkdir(dir, 0700) != 0) {
        rd_log(RD_LOG_ERROR, "job.store", id, "cannot create %s: %s", dir, strerror(errno));
        return rd_reply_error(reply, RT_ERR_IO, "internal error: cannot store the upload");
    }
    if ((err = rd_upload_keep_file(up, input))) {
        rd_log(RD_LOG_ERROR, "job.store", id, "%s", rt_error_message());
        rd_datadir_remove_job(srv->cfg.data_dir, id);
        return rd_reply_error(reply, err, "internal error: cannot store the upload");
    }
    int64_t now = rd_now_ms();
    rd_job job = {.max_attempts = srv->cfg.max_attempts,
                  .payload = (char *)payload,
                  .input_name = (char *)name,
                  .hook = hook};
    snprintf(job.id, sizeof job.id, "%s", id);
    rd_utc_day(now, job.day);
    rd_submit sub = {.token_id = token.id,
                     .idempotency_key = key,
                     .job = &job,
                     .now_ms = now,
                     .idempotency_window_ms = RD_IDEMPOTENCY_WINDOW_MS};
    rd_submit_result res;
    err = rd_store_job_submit(srv->store, &sub, &res);
    if (err || res.replayed) rd_datadir_remove_job(srv->cfg.data_dir, id);
    if (err) {
        if (rt_error_http_status(err) == 500)
            rd_log(RD_LOG_ERROR, "job.store", id, "%s", rt_error_message());
        return rd_reply_last_error(reply, err);
    }
    snprintf(reply->job, sizeof reply->job, "%s", res.job_id);
    if (res.replayed) {
        rd_log(RD_LOG_INFO, "job.replayed", res.job_id,
               "Idempotency-Key seen before: answering "
               "with the first job");
    } else {
        rd_workers_notify(srv->workers);
        rd_log_with(RD_LOG_INFO, "job.accepted", id,
                    json_pack("{s:s, s:s, s:i, s:i, s:I, s:i}", "token", token.name, "format",
                              info.format, "width", info.width, "height", info.height, "bytes",
                              (json_int_t)rd_upload_file_bytes(up), "tasks", (int)ntasks),
                    "accepted %s", info.format);
    }
    rd_reply_json(reply, 200,
                  json_pack("{s:i, s:s, s:I}", "status", 200, "id", res.job_id, "retouchQuota",
                            (json_int_t)api_number(res.quota_left)));
    return 0;
}

/* ---- the job routes -------------------------------------------------------- */

/* Loads the job of the request's id; on failure fills a 404 and returns
 * non-zero.  An ended job past its expiry is expired even before the
 * janitor deleted it. */
static int load_job(rd_server *srv, rd_request *req, rd_reply *reply, rd_job *job)
{
    int err = rd_store_job_get(srv->store, req->id, job);
    if (err == RT_ERR_NOT_FOUND) {
        rd_reply_error(reply, RT_ERR_NOT_FOUND,
                       "unknown job id '%s': use the id that /api/v1/retoucher/start returned",
                       req->id);
        return err;
    }
    if (err) {
        rd_log(RD_LOG_ERROR, "job.store", req->id, "%s", rt_error_message());
        rd_reply_last_error(reply, err);
        return err;
    }
    snprintf(reply->job, sizeof reply->job, "%s", job->id);
    int ended = job->state == RD_JOB_COMPLETED || job->state == RD_JOB_FAILED;
    if (job->expired || (ended && job->expires_ms <= rd_now_ms())) {
        char when[32];
        rd_iso8601(job->expires_ms, when);
        rd_reply_error(reply, RT_ERR_NOT_FOUND,
                       "job %s has expired (at %s): results are kept for %lld hours after the "
                       "job ends; submit it again",
                       job->id, when, (long long)(srv->cfg.retention_ms / 3600000));
        rd_job_clear(job);
        return RT_ERR_NOT_FOUND;
    }
    return 0;
}

static int route_status(rd_server *srv, rd_request *req, rd_reply *reply)
{
    rd_job job;
    int err = load_job(srv, req, reply, &job);
    if (err) return err;
    int ended = job.state == RD_JOB_COMPLETED || job.state == RD_JOB_FAILED;
    const char *step = ended ? "done" : job.state == RD_JOB_ACTIVE ? job.step : "queued";
    int progress = ended ? 100 : job.progress > 99 ? 99 : job.progress;
    /* Until the job ends its results would expire retention after now. */
    int64_t expires = ended ? job.expires_ms : rd_now_ms() + srv->cfg.retention_ms;
    char when[32];
    rd_iso8601(expires, when);
    json_t *reason = json_string(job.reason);
    rd_reply_json(reply, 200,
                  json_pack("{s:i, s:s, s:i, s:o, s:i, s:i, s:s, s:s, s:s}", "status", 200, "state",
                            rd_job_state_name(job.state), "progress", progress, "reason",
                            reason ? reason : json_string(""), "attempt",
                            job.attempt > 0 ? job.attempt : 1, "maxAttempts", job.max_attempts,
                            "currentStep", step, "pluginName",
                            job.state == RD_JOB_ACTIVE ? job.plugin : "", "expireDate", when));
    rd_job_clear(&job);
    return 0;
}

/* Loads a completed job, or fills the 404 that says why there is no result. */
static int load_result(rd_server *srv, rd_request *req, rd_reply *reply, rd_job *job)
{
    if (load_job(srv, req, reply, job)) return RT_ERR_NOT_FOUND;
    if (job->state == RD_JOB_COMPLETED) return 0;
    if (job->state == RD_JOB_FAILED)
        rd_reply_error(reply, RT_ERR_NOT_FOUND, "job %s failed, so it has no result: %s", job->id,
                       job->reason);
    else
        rd_reply_error(reply, RT_ERR_NOT_FOUND,
                       "job %s is not finished yet (%s, %d%%): poll "
                       "/api/v1/retoucher/status/%s until its state is completed",
                       job->id, rd_job_state_name(job->state), job->progress, job->id);
    rd_job_clear(job);
    return RT_ERR_NOT_FOUND;
}

static int open_result(rd_server *srv, rd_reply *reply, const rd_job *job, const char *name)
{
    char path[PATH_MAX];
    int err = rd_datadir_job_file(srv->cfg.data_dir, job->id, name, path, sizeof path);
    int fd = err ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /* Deleted between the store read and here: the janitor expired it. */
        rd_reply_error(reply, RT_ERR_NOT_FOUND, "job %s has expired: its result was deleted",
                       job->id);
        return RT_ERR_NOT_FOUND;
    }
    return fd;
}

static int same_format(const char *a, const char *b)
{
    static const char *const groups[][3] = {
        {"jpg", "jpeg", "jpe"}, {"tif", "tiff", NULL}, {"heic", "heif", NULL}};
    if (strcasecmp(a, b) == 0) return 1;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        int ia = 0, ib = 0;
        for (int i = 0; i < 3 && groups[g][i]; i++) {
            ia |= strcasecmp(a, groups[g][i]) == 0;
            ib |= strcasecmp(b, groups[g][i]) == 0;
        }
        if (ia && ib) return 1;
    }
    return 0;
}

/* The download's name: the original name, with the result's extension when
 * the format changed (and .zip for layers). */
static void result_name(const char *input, const char *ext, char *out, size_t cap)
{
    const char *dot = strrchr(input, '.');
    if (dot && dot != input && same_format(dot + 1, ext))
        snprintf(out, cap, "%s", input);
    else if (dot && dot != input)
        snprintf(out, cap, "%.*s.%s", (int)(dot - input), input, ext);
    else
        snprintf(out, cap, "%s.%s", input, ext);
}

static int route_get_file(rd_server *srv, rd_request *req, rd_reply *reply)
{
    rd_job job;
    int err = load_result(srv, req, reply, &job);
    if (err) return err;
    char file[32], name[600];
    snprintf(file, sizeof file, "result.%s", job.output_ext);
    int fd = open_result(srv, reply, &job, file);
    if (fd < 0)
        err = fd;
    else if ((err = rd_reply_file(reply, fd, job.output_mime)))
        rd_reply_last_error(reply, err);
    else {
        result_name(job.input_name, job.output_ext, name, sizeof name);
        reply->disposition = rd_content_disposition(name);
    }
    rd_job_clear(&job);
    return err;
}

static int route_get_metadata(rd_server *srv, rd_request *req, rd_reply *reply)
{
    rd_job job;
    int err = load_result(srv, req, reply, &job);
    if (err) return err;
    int fd = open_result(srv, reply, &job, "result.json");
    if (fd < 0)
        err = fd;
    else if ((err = rd_reply_file(reply, fd, "application/json; charset=utf-8")))
        rd_reply_last_error(reply, err);
    rd_job_clear(&job);
    return err;
}

/* ---- balance, limits, health, metrics --------------------------------------- */

static int route_balance(rd_server *srv, rd_request *req, rd_reply *reply)
{
    static const char *token_fields[] = {"retouchtoken", "token", NULL};
    const char *token = request_token(req, token_fields);
    json_t *json = NULL;
    size_t len = 0;
    const char *raw = req->body ? rd_upload_raw(req->body, &len) : NULL;
    if (raw && len) {
        json_error_t jerr;
        json = json_loadb(raw, len, 0, &jerr);
        if (!json || !json_is_object(json)) {
            json_decref(json);
            return rd_reply_error(reply, RT_ERR_ARG,
                                  "the body is not a JSON object (%s); send "
                                  "{\"modes\":[\"professional\"]} with the X-Retouch-Token header, "
                                  "or the form fields retouchtoken and modes[]",
                                  jerr.text);
        }
        if (!token) {
            const char *t = json_string_value(json_object_get(json, "retouchtoken"));
            token = t ? t : json_string_value(json_object_get(json, "token"));
        }
    }
    rd_token t;
    int err = rd_auth(srv->store, token, &t);
    json_decref(json);
    if (err) return rd_reply_last_error(reply, err);
    rd_reply_json(reply, 200,
                  json_pack("{s:i, s:{s:I}}", "status", 200, "remaining", "professional",
                            (json_int_t)api_number(t.credits)));
    return 0;
}

static int route_limits(rd_server *srv, rd_request *req, rd_reply *reply)
{
    (void)req;
    json_t *formats = json_array();
    for (size_t i = 0; i < sizeof accepted_formats / sizeof *accepted_formats; i++)
        json_array_append_new(formats, json_string(accepted_formats[i]));
    json_t *plugins = json_array();
    for (size_t i = 0; i < rt_plugin_count(); i++)
        json_array_append_new(plugins, json_pack("{s:s, s:b}", "name", rt_plugin_name(i),
                                                 "implemented", rt_plugin_implemented(i)));
    rd_reply_json(reply, 200,
                  json_pack("{s:i, s:o, s:I, s:f, s:i, s:i, s:I, s:i, s:o}", "status", 200,
                            "formats", formats, "maxUploadBytes",
                            (json_int_t)srv->cfg.max_upload_bytes, "maxMegapixels",
                            srv->cfg.max_megapixels, "maxTasks", API_MAX_TASKS, "maxPayloadBytes",
                            API_MAX_PAYLOAD_BYTES, "retentionSeconds",
                            (json_int_t)(srv->cfg.retention_ms / 1000), "maxAttempts",
                            srv->cfg.max_attempts, "plugins", plugins));
    return 0;
}

static int route_healthz(rd_server *srv, rd_request *req, rd_reply *reply)
{
    (void)srv;
    (void)req;
    rd_reply_json(reply, 200, json_pack("{s:i, s:s}", "status", 200, "state", "ok"));
    return 0;
}

static int route_metrics(rd_server *srv, rd_request *req, rd_reply *reply)
{
    (void)req;
    char *text = rd_metrics_render(srv->metrics, srv->store);
    if (!text) return rd_reply_error(reply, RT_ERR_NOMEM, "internal error: out of memory");
    rd_reply_text(reply, 200, "text/plain; version=0.0.4; charset=utf-8", text);
    free(text);
    return 0;
}

/* ---- the table (route_table.h) --------------------------------------------------- */

#define RD_ROUTE_ENTRY(method, pattern, body, handler) {{method, pattern}, body, handler},
static const rd_route routes[] = {RD_ROUTE_TABLE(RD_ROUTE_ENTRY)};
#undef RD_ROUTE_ENTRY

const rd_route *rd_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

int rd_route_precheck(rd_server *srv, const rd_route *route, rd_request *req, rd_reply *reply)
{
    if (route->body == RD_BODY_NONE) return 0;
    uint64_t limit = route->body == RD_BODY_UPLOAD ? srv->cfg.max_upload_bytes + FORM_SLACK_BYTES
                                                   : FORM_SLACK_BYTES;
    const char *cl = rd_request_header(req, "Content-Length");
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > limit) {
            rd_reply_error(reply, RT_ERR_TOO_BIG,
                           "the request is %llu bytes; this server accepts images up to %llu "
                           "bytes: send a smaller file",
                           n, (unsigned long long)srv->cfg.max_upload_bytes);
            return RT_ERR_TOO_BIG;
        }
    }
    if (route->body != RD_BODY_UPLOAD) return 0;
    const char *ct = rd_request_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        rd_reply_error(reply, RT_ERR_ARG,
                       "send the job as multipart/form-data with the fields file, payload and "
                       "token (Content-Type was '%.100s')",
                       ct ? ct : "none");
        return RT_ERR_ARG;
    }
    /* A token in the header can be checked before the upload is sent. */
    const char *header_token = rd_request_header(req, "X-Retouch-Token");
    if (header_token && *header_token) {
        rd_token t;
        int err = rd_auth(srv->store, header_token, &t);
        if (err) {
            rd_reply_last_error(reply, err);
            return err;
        }
    }
    /* No room: answered before the body is sent.  Running jobs keep the
     * reserve for their results. */
    const rd_spool_budget *b = &srv->spool_budget;
    if ((b->min_free && rd_free_bytes(srv->spool_dir) < b->min_free) ||
        (b->max_total && atomic_load(&b->used) >= b->max_total)) {
        rd_reply_status(reply, RD_STATUS_NO_ROOM, 60,
                        "the server is short of disk space for new uploads; send the job "
                        "again later");
        return RT_ERR_IO;
    }
    return 0;
}

int rd_upload_authorized(void *user, const rd_upload *up)
{
    rd_server *srv = user;
    static const char *const fields[] = {"token", "retouchtoken"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v = rd_upload_field(up, fields[i]);
        rd_token t;
        if (v && *v && rd_auth(srv->store, v, &t) == 0) return 1;
    }
    return 0;
}
