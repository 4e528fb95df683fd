/* http.h: the HTTP transport (libmicrohttpd with a thread pool).
 *
 * Receives requests, routes them through the table of routes.c, streams
 * request bodies into rd_upload as they arrive, and sends each handler's
 * rd_reply (files with sendfile).  One JSON access-log line per request.
 *
 * Ownership: rd_http_start() returns the transport; rd_http_stop() closes
 * every connection and frees it.  The server is borrowed.
 */
#ifndef RD_HTTP_H
#define RD_HTTP_H

#include "server/server.h"

#include <stdint.h>

typedef struct rd_http rd_http;

/* Binds cfg.listen_host:listen_port and starts serving; *port gets the port
 * bound (useful with port 0). */
int rd_http_start(rd_server *srv, int *port, rd_http **out);
/* Stops accepting connections; the open ones are still served. */
void rd_http_quiesce(rd_http *h);
/* From now on new uploads get 503 with Retry-After; waits until the uploads
 * being received are answered, or until until_ms (rd_now_ms clock). */
void rd_http_drain(rd_http *h, int64_t until_ms);
void rd_http_stop(rd_http *h);

#endif
