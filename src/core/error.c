#include "core/error.h"

#include <stdio.h>
#include <string.h>

#define RT_ERROR_MAX 4096

static _Thread_local char error_message[RT_ERROR_MAX];
static _Thread_local int error_code;

int rt_verror(int code, const char *fmt, va_list ap)
{
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    error_code = code;
    return code;
}

int rt_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_verror(code, fmt, ap);
    va_end(ap);
    return code;
}

void rt_error_prefix(const char *fmt, ...)
{
    char prefix[512];
    char old[RT_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_message, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof error_message) n = sizeof error_message - 1;
    memcpy(error_message, prefix, n);
    size_t rest = strlen(old);
    if (rest > sizeof error_message - 1 - n) rest = sizeof error_message - 1 - n;
    memcpy(error_message + n, old, rest);
    error_message[n + rest] = '\0';
}

const char *rt_error_message(void)
{
    return error_message;
}

int rt_error_code(void)
{
    return error_code;
}

void rt_error_clear(void)
{
    error_message[0] = '\0';
    error_code = 0;
}

int rt_error_http_status(int code)
{
    switch (code) {
    case RT_OK:
        return 200;
    case RT_ERR_ARG:
    case RT_ERR_IMAGE:
        return 400;
    case RT_ERR_NOT_FOUND:
        return 404;
    case RT_ERR_TOO_BIG:
        return 413;
    case RT_ERR_AUTH:
        return 460;
    case RT_ERR_QUOTA:
        return 461;
    case RT_ERR_PAYLOAD:
    case RT_ERR_NOT_IMPLEMENTED:
        return 462;
    default:
        return 500;
    }
}

const char *rt_error_name(int code)
{
    switch (code) {
    case RT_OK:
        return "ok";
    case RT_ERR_ARG:
        return "bad-request";
    case RT_ERR_PAYLOAD:
        return "payload";
    case RT_ERR_IMAGE:
        return "image";
    case RT_ERR_TOO_BIG:
        return "too-big";
    case RT_ERR_IO:
        return "io";
    case RT_ERR_NOMEM:
        return "no-memory";
    case RT_ERR_NOT_IMPLEMENTED:
        return "not-implemented";
    case RT_ERR_MODEL:
        return "model";
    case RT_ERR_INTERNAL:
        return "internal";
    case RT_ERR_NOT_FOUND:
        return "not-found";
    case RT_ERR_AUTH:
        return "auth";
    case RT_ERR_QUOTA:
        return "quota";
    case RT_ERR_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}
