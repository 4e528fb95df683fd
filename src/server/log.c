/* JSON-lines logging (see log.h). */
#include "server/log.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static rd_log_level min_level = RD_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void rd_log_set_level(rd_log_level level)
{
    min_level = level;
}

int rd_log_parse_level(const char *name, rd_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (rd_log_level)i;
            return 0;
        }
    return rt_error(RT_ERR_ARG, "log level '%s': use debug, info, warn or error", name);
}

static void emit(rd_log_level level, const char *event, const char *job, json_t *fields,
                 const char *fmt, va_list ap)
{
    if (level < min_level) {
        json_decref(fields);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);

    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(when));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "event", json_string(event));
    if (job && *job) json_object_set_new(line, "job", json_string(job));
    /* The message may quote client input: keep it valid JSON whatever the
     * bytes are. */
    json_t *m = json_string(msg);
    json_object_set_new(line, "msg", m ? m : json_string("(message is not valid UTF-8)"));
    if (fields) /* extra fields never replace ts, level, event, job or msg */
        json_object_update_missing(line, fields);
    json_decref(fields);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (text) {
        flockfile(stderr);
        fputs(text, stderr);
        fputc('\n', stderr);
        fflush(stderr);
        funlockfile(stderr);
        free(text);
    }
}

void rd_log(rd_log_level level, const char *event, const char *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, event, job, NULL, fmt, ap);
    va_end(ap);
}

void rd_log_with(rd_log_level level, const char *event, const char *job, json_t *fields,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, event, job, fields, fmt, ap);
    va_end(ap);
}
