/* One error type for the whole engine.
 *
 * Functions return 0 on success or a negative rt_err code; the failing
 * function records a human-readable message with rt_error().  The message
 * lives in a thread-local buffer, so concurrent jobs (server workers) never
 * see each other's errors.  rt_error_http_status() is the one place that maps
 * an error code to an HTTP status.
 */
#ifndef RT_CORE_ERROR_H
#define RT_CORE_ERROR_H

#include <stdarg.h>

typedef enum rt_err {
    RT_OK = 0,
    RT_ERR_ARG = -1,             /* malformed request or argument: 400 */
    RT_ERR_PAYLOAD = -2,         /* invalid task payload: 462 */
    RT_ERR_IMAGE = -3,           /* not a supported image, corrupt, truncated: 400 */
    RT_ERR_TOO_BIG = -4,         /* over a byte or megapixel limit: 413 */
    RT_ERR_IO = -5,              /* file system failure: 500 */
    RT_ERR_NOMEM = -6,           /* allocation failed: 500 */
    RT_ERR_NOT_IMPLEMENTED = -7, /* plugin or feature not implemented yet: 462 */
    RT_ERR_MODEL = -8,           /* model file missing or corrupt: 500 */
    RT_ERR_INTERNAL = -9,        /* bug or unexpected library failure: 500 */
    RT_ERR_NOT_FOUND = -10,      /* unknown job, route or expired result: 404 */
    RT_ERR_AUTH = -11,           /* token missing or unknown: 460 */
    RT_ERR_QUOTA = -12,          /* daily quota or credits exhausted: 461 */
    RT_ERR_CANCELLED = -13,      /* job stopped on request (shutdown): 500 */
} rt_err;

/* Records a message for code and returns code, so callers write
 * `return rt_error(RT_ERR_IMAGE, "%s: not an image", name);`. */
int rt_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rt_verror(int code, const char *fmt, va_list ap);

/* Prepends context to the current message ("input.jpg: " + old message). */
void rt_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The calling thread's last message and code ("" and 0 when none). */
const char *rt_error_message(void);
int rt_error_code(void);
void rt_error_clear(void);

/* HTTP status for an error code (the only such mapping). */
int rt_error_http_status(int code);

/* Short stable name of a code ("payload", "image", ...), for logs. */
const char *rt_error_name(int code);

#endif
