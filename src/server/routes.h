/* routes.h: the API's routes, one handler function each, in one table.
 *
 * Adding a route is one function in routes.c plus one line in route_table.h.
 */
#ifndef RD_ROUTES_H
#define RD_ROUTES_H

#include "server/reply.h"
#include "server/router.h"
#include "server/server.h"

typedef enum rd_body_kind {
    RD_BODY_NONE,  /* any body is read and dropped */
    RD_BODY_FORM,  /* multipart/form-data, urlencoded or JSON, parsed into fields */
    RD_BODY_UPLOAD /* like FORM, with the `file` part streamed to the spool */
} rd_body_kind;

/* Fills reply; returns 0, or the error it answered with (for the log). */
typedef int (*rd_route_fn)(rd_server *srv, rd_request *req, rd_reply *reply);

typedef struct rd_route {
    rd_route_pattern pattern; /* first: rd_route_find() searches the table */
    rd_body_kind body;
    rd_route_fn handler;
} rd_route;

/* The table, and its length. */
const rd_route *rd_routes(size_t *n);

/* Checks a request's headers before its body is read, so an upload that
 * cannot succeed is refused before it is sent (over the size limit, unknown
 * token in the header).  Returns 0 to go on, or fills reply and returns the
 * error. */
int rd_route_precheck(rd_server *srv, const rd_route *route, rd_request *req, rd_reply *reply);

/* rd_upload_limits.authorize for start: 1 once a token or retouchtoken
 * field holding a valid token has arrived (user: the rd_server). */
int rd_upload_authorized(void *user, const rd_upload *up);

/* No room on disk for the upload (WebDAV's 507 Insufficient Storage). */
#define RD_STATUS_NO_ROOM 507

#endif
