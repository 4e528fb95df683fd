/* log.h: JSON-lines logs on stderr, one object per line:
 *   {"ts":"2026-01-02T03:04:05.678Z","level":"info","event":"job.completed","job":"<id>",...}
 * Thread-safe; a line is written whole.
 */
#ifndef RD_LOG_H
#define RD_LOG_H

#include <jansson.h>

typedef enum rd_log_level { RD_LOG_DEBUG, RD_LOG_INFO, RD_LOG_WARN, RD_LOG_ERROR } rd_log_level;

void rd_log_set_level(rd_log_level level);
/* "debug", "info", "warn", "error" -> level; RT_ERR_ARG otherwise. */
int rd_log_parse_level(const char *name, rd_log_level *out);

/* event: a stable dotted name ("http.request", "job.failed"); job: the job id
 * or NULL; fmt: the human message ("msg"). */
void rd_log(rd_log_level level, const char *event, const char *job, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Like rd_log with extra fields (an object, stolen; may be NULL). */
void rd_log_with(rd_log_level level, const char *event, const char *job, json_t *fields,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
