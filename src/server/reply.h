/* reply.h: one HTTP exchange as a route handler sees it.
 *
 * Handlers read an rd_request and fill an rd_reply; http.c turns the reply
 * into a libmicrohttpd response.  Keeping libmicrohttpd out of the handlers
 * keeps routes.c about the API, not the transport.
 *
 * Ownership: the reply owns its body, file descriptor and disposition until
 * rd_reply_clear() (or until http.c hands them to the response).
 */
#ifndef RD_REPLY_H
#define RD_REPLY_H

#include "server/router.h"
#include "server/upload.h"

#include <jansson.h>
#include <stdint.h>

typedef struct rd_request {
    const char *method;
    const char *path; /* normalised */
    char id[RD_ROUTE_ID_MAX + 1];
    rd_upload *body; /* the parsed body, or NULL for routes that take none */
    /* Header lookup (case-insensitive), provided by the transport. */
    const char *(*header)(void *transport, const char *name);
    void *transport;
} rd_request;

typedef struct rd_reply {
    int status;
    char content_type[64];
    char *body; /* malloc'd, or NULL */
    size_t body_len;
    int fd; /* >= 0: the body is this file (fd_size bytes) */
    uint64_t fd_size;
    char *disposition; /* Content-Disposition, malloc'd, or NULL */
    char job[32];      /* the job this request is about, for the access log */
    int retry_after_s; /* > 0: a Retry-After header (503, 507) */
} rd_reply;

/* A header of the request, or NULL. */
const char *rd_request_header(const rd_request *req, const char *name);

void rd_reply_init(rd_reply *r);
void rd_reply_clear(rd_reply *r);

/* A JSON body (obj is stolen). */
void rd_reply_json(rd_reply *r, int status, json_t *obj);
/* {"status":<code>,"message":"..."} with the HTTP status of err
 * (rt_error_http_status, the one mapping). */
int rd_reply_error(rd_reply *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like rd_reply_error with the calling thread's current rt_error message.
 * Both return err, so handlers write `return rd_reply_error(...)`. */
int rd_reply_last_error(rd_reply *r, int err);
/* An error answer with a status the error codes do not have (503, 507),
 * and a Retry-After header when retry_after_s > 0. */
void rd_reply_status(rd_reply *r, int status, int retry_after_s, const char *message);
void rd_reply_text(rd_reply *r, int status, const char *content_type, const char *text);
/* The file at fd (its size is taken with fstat); RT_ERR_IO on failure. */
int rd_reply_file(rd_reply *r, int fd, const char *content_type);

/* Builds `attachment; filename="..."` for a UTF-8 name, adding an RFC 8187
 * filename* when the name is not plain ASCII (caller frees). */
char *rd_content_disposition(const char *filename);

#endif
