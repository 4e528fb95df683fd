/* The HTTP transport over libmicrohttpd (see http.h).
 *
 * libmicrohttpd calls on_request() several times per request: first with
 * the headers (the route is found and checked here, so an upload that will
 * be refused is answered before its body is sent: no "100 Continue"), then
 * once per piece of body, then once more with no data, when the handler
 * runs.  A response cannot be queued while a body is still arriving, so an
 * error found mid-body (a file over the limit) is remembered by rd_upload,
 * the rest of the body is read and dropped, and the error is answered at
 * the end.
 */
#include "server/http.h"

#include "core/error.h"
#include "server/clock.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/routes.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Limits of text fields in a form.  The payload is at most 64 KiB (the
 * engine answers 462 past that); twice that is read before a 413, and all
 * fields together stay small, so a thousand open uploads hold at most a few
 * hundred MiB of text. */
#define FIELD_MAX_BYTES (128u << 10)
#define FIELDS_MAX_BYTES (256u << 10)
/* A body sent to a route that takes none is dropped up to this size. */
#define DROP_MAX_BYTES (1u << 20)
/* After an error, a body is read and dropped up to this much more than the
 * limit, so ordinary clients get the answer; past it the connection closes. */
#define DISCARD_MAX_BYTES (64u << 20)
/* Open connections in all; past it new ones are refused. */
#define CONNECTION_LIMIT 1000

struct rd_http {
    rd_server *srv;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int quiesced;
    atomic_int stopping; /* SIGTERM: new uploads get 503, open ones finish */
    atomic_int uploads;  /* request bodies being received */
    /* The guard against slow clients (see guard_main). */
    pthread_mutex_t guard_lock;
    struct tracked *tracked; /* every open connection */
    pthread_t guard;
    int guard_started;
    atomic_int guard_stop;
    /* Rate limit of connection-level log lines. */
    pthread_mutex_t log_lock;
    int64_t log_window_ms;
    int log_lines;
    long log_suppressed;
};

typedef struct exchange exchange;
struct exchange {
    rd_http *http;
    const rd_route *route;
    rd_request req;
    rd_reply reply;
    char method[16];
    char path[RD_PATH_MAX];
    uint64_t dropped;
    int64_t started_ms;
    int responded;
    int status;
    int close_after;       /* the framing of the request is doubtful: do not read on */
    int counted;           /* counted in rd_http.uploads */
    struct tracked *track; /* the connection's entry for the slow-client guard */
};

static const char *header_lookup(void *transport, const char *name)
{
    return MHD_lookup_connection_value(transport, MHD_HEADER_KIND, name);
}

static enum MHD_Result respond(exchange *x, struct MHD_Connection *conn)
{
    rd_reply *r = &x->reply;
    struct MHD_Response *resp;
    /* Whatever the answer, the handler is done with the spool file (a job
     * moved it away): it goes before the client can read the answer. */
    rd_upload_drop_file(x->req.body);
    if (r->fd >= 0) {
        resp = MHD_create_response_from_fd64(r->fd_size, r->fd);
        if (resp) r->fd = -1; /* the response closes it */
    } else {
        resp = MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (void *)"",
                                               r->body ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        if (resp) r->body = NULL; /* the response frees it */
    }
    if (!resp) return MHD_NO;
    if (r->content_type[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->disposition)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, r->disposition);
    if (x->close_after) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (r->retry_after_s > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", r->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    x->responded = 1;
    x->status = r->status;
    return ret;
}

typedef struct framing {
    int content_length;
    int transfer_encoding;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    (void)value;
    framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) f->content_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) f->transfer_encoding++;
    return MHD_YES;
}

/* Request smuggling: libmicrohttpd frames a request by its first
 * Content-Length, while a proxy in front may use another one (or the
 * Transfer-Encoding).  A request whose framing two readers could take two
 * ways is refused before routing, and the connection is closed after the
 * answer, so the bytes after it are never read as a request. */
static int check_framing(struct MHD_Connection *conn)
{
    framing f = {0, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length > 1)
        return rt_error(RT_ERR_ARG, "the request has %d Content-Length headers; send one",
                        f.content_length);
    if (f.transfer_encoding > 1)
        return rt_error(RT_ERR_ARG, "the request has %d Transfer-Encoding headers; send one",
                        f.transfer_encoding);
    if (f.content_length && f.transfer_encoding)
        return rt_error(RT_ERR_ARG, "the request has both Content-Length and "
                                    "Transfer-Encoding; send one of them");
    return 0;
}

/* ---- slow clients ---------------------------------------------------------
 *
 * libmicrohttpd only bounds the idle time between two reads, so a client
 * that sends a header line every few seconds holds its connection forever,
 * and enough of them lock everyone out.  Every connection is tracked from
 * the moment it opens: the head of a request must arrive within
 * --header-timeout, and a request body must keep --min-body-rate on
 * average after its first --header-timeout.  A connection past either is shut
 * down (shutdown(2) on its socket: libmicrohttpd then closes it as a
 * connection the client dropped).  With the per-address connection limit,
 * one address cannot hold more than a few slots at a time anyway. */

#define GUARD_TICK_MS 200
/* An idle keep-alive connection has this long to start its next request. */
#define KEEPALIVE_HEAD_MS 60000
/* Connection-level log lines (cut, refused, aborted): at most this many a
 * second; the rest are counted and reported in one line. */
#define LOG_LINES_PER_SECOND 10

typedef enum phase { PHASE_HEAD, PHASE_BODY, PHASE_BUSY, PHASE_IDLE } phase;

typedef struct tracked {
    struct tracked *prev, *next;
    int fd;
    phase phase;
    int64_t since_ms;
    uint64_t body_bytes;
    int cut;
    struct exchange *x; /* the exchange pointing at this entry, if any */
} tracked;

/* 1 when a connection-level line may be written now. */
static int log_allowed(rd_http *h)
{
    pthread_mutex_lock(&h->log_lock);
    int64_t now = rd_now_ms();
    long suppressed = 0;
    if (now - h->log_window_ms >= 1000) {
        suppressed = h->log_suppressed;
        h->log_window_ms = now;
        h->log_lines = 0;
        h->log_suppressed = 0;
    }
    int ok = h->log_lines < LOG_LINES_PER_SECOND;
    if (ok)
        h->log_lines++;
    else
        h->log_suppressed++;
    pthread_mutex_unlock(&h->log_lock);
    if (suppressed)
        rd_log(RD_LOG_WARN, "http.suppressed", NULL,
               "%ld connection log lines left out in the last second (rate limit)", suppressed);
    return ok;
}

static void set_phase(rd_http *h, tracked *t, phase p)
{
    if (!t) return;
    pthread_mutex_lock(&h->guard_lock);
    t->phase = p;
    t->since_ms = rd_now_ms();
    t->body_bytes = 0;
    pthread_mutex_unlock(&h->guard_lock);
}

static void add_body_bytes(rd_http *h, tracked *t, size_t n)
{
    if (!t) return;
    pthread_mutex_lock(&h->guard_lock);
    t->body_bytes += n;
    pthread_mutex_unlock(&h->guard_lock);
}

static tracked *tracked_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    rd_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        tracked *t = calloc(1, sizeof *t);
        if (!t) return; /* untracked: only the idle timeout applies */
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = info ? info->connect_fd : -1;
        t->phase = PHASE_HEAD;
        t->since_ms = rd_now_ms();
        pthread_mutex_lock(&h->guard_lock);
        t->next = h->tracked;
        if (h->tracked) h->tracked->prev = t;
        h->tracked = t;
        pthread_mutex_unlock(&h->guard_lock);
        *socket_context = t;
        return;
    }
    /* Closed: libmicrohttpd closes the socket after this returns, so the
     * guard (which holds the lock while it shuts sockets down) never sees a
     * reused descriptor. */
    tracked *t = *socket_context;
    if (!t) return;
    if (t->x) t->x->track = NULL; /* same connection, same thread: no race */
    pthread_mutex_lock(&h->guard_lock);
    if (t->prev) t->prev->next = t->next;
    if (t->next) t->next->prev = t->prev;
    if (h->tracked == t) h->tracked = t->next;
    pthread_mutex_unlock(&h->guard_lock);
    *socket_context = NULL;
    free(t);
}

static void *guard_main(void *arg)
{
    rd_http *h = arg;
    const rd_config *cfg = &h->srv->cfg;
    /* A body's first moments are not judged (TCP slow start, a client
     * reading the file): as long as a head may take. */
    int64_t body_grace_ms = cfg->header_timeout_ms > 0 ? cfg->header_timeout_ms : 10000;
    while (!atomic_load(&h->guard_stop)) {
        usleep(GUARD_TICK_MS * 1000);
        int64_t now = rd_now_ms();
        int heads = 0, bodies = 0;
        pthread_mutex_lock(&h->guard_lock);
        for (tracked *t = h->tracked; t; t = t->next) {
            if (t->cut || t->fd < 0) continue;
            int64_t age = now - t->since_ms;
            int slow_head = (t->phase == PHASE_HEAD && cfg->header_timeout_ms > 0 &&
                             age > cfg->header_timeout_ms) ||
                            (t->phase == PHASE_IDLE && age > KEEPALIVE_HEAD_MS);
            int slow_body = t->phase == PHASE_BODY && cfg->min_body_rate > 0 &&
                            age > body_grace_ms &&
                            (double)t->body_bytes < (double)cfg->min_body_rate * (double)age / 1e3;
            if (slow_head || slow_body) {
                shutdown(t->fd, SHUT_RDWR);
                t->cut = 1;
                heads += slow_head;
                bodies += slow_body;
            }
        }
        pthread_mutex_unlock(&h->guard_lock);
        if ((heads || bodies) && log_allowed(h))
            rd_log_with(RD_LOG_WARN, "http.slow_client", NULL,
                        json_pack("{s:i, s:i}", "slow_heads", heads, "slow_bodies", bodies),
                        "closed %d connection(s) too slow to send a request head and %d too slow "
                        "to send a body (--header-timeout, --min-body-rate)",
                        heads, bodies);
    }
    return NULL;
}

/* First call: the headers are in. */
static enum MHD_Result begin(exchange *x, struct MHD_Connection *conn, const char *url)
{
    rd_server *srv = x->http->srv;
    size_t n;
    const rd_route *table = rd_routes(&n);
    int err = check_framing(conn);
    if (err) {
        x->close_after = 1;
        rd_reply_last_error(&x->reply, err);
        return respond(x, conn);
    }
    err = rd_path_normalize(url, x->path, sizeof x->path);
    if (!err) {
        int i =
            rd_route_find(table, n, sizeof *table, x->method, x->path, x->req.id, sizeof x->req.id);
        if (i >= 0)
            x->route = &table[i];
        else
            err = i;
    }
    if (err) {
        rd_reply_last_error(&x->reply, err);
        return respond(x, conn);
    }
    if (rd_route_precheck(srv, x->route, &x->req, &x->reply)) return respond(x, conn);
    if (x->route->body == RD_BODY_UPLOAD && atomic_load(&x->http->stopping)) {
        /* A restart is under way: the client sends the image again later. */
        x->close_after = 1;
        x->reply.retry_after_s = 10;
        rd_reply_error(&x->reply, RT_ERR_IO,
                       "the server is restarting; send the job again in a "
                       "few seconds");
        x->reply.status = 503;
        return respond(x, conn);
    }
    if (x->route->body != RD_BODY_NONE) {
        const char *header_token = header_lookup(conn, "X-Retouch-Token");
        rd_upload_limits limits = {.max_file_bytes = srv->cfg.max_upload_bytes,
                                   .max_field_bytes = FIELD_MAX_BYTES,
                                   .max_fields_bytes = FIELDS_MAX_BYTES,
                                   .max_discard_bytes =
                                       srv->cfg.max_upload_bytes + DISCARD_MAX_BYTES,
                                   .budget = &srv->spool_budget,
                                   .authorize = rd_upload_authorized,
                                   .authorize_user = srv,
                                   /* a header token was checked by the precheck */
                                   .authenticated = header_token && *header_token};
        const char *spool = x->route->body == RD_BODY_UPLOAD ? srv->spool_dir : NULL;
        err = rd_upload_create(header_lookup(conn, MHD_HTTP_HEADER_CONTENT_TYPE), spool, &limits,
                               &x->req.body);
        if (err) {
            rd_reply_last_error(&x->reply, err);
            return respond(x, conn);
        }
        x->counted = 1;
        atomic_fetch_add(&x->http->uploads, 1);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    exchange *x = *con_cls;
    if (!x) {
        if (!(x = calloc(1, sizeof *x))) return MHD_NO;
        *con_cls = x;
        x->http = cls;
        x->started_ms = rd_now_ms();
        rd_reply_init(&x->reply);
        snprintf(x->method, sizeof x->method, "%s", method);
        snprintf(x->path, sizeof x->path, "%.*s", (int)sizeof x->path - 1, url);
        x->req.method = x->method;
        x->req.path = x->path;
        x->req.header = header_lookup;
        x->req.transport = conn;
        x->track = tracked_of(conn);
        if (x->track) x->track->x = x;
        enum MHD_Result r = begin(x, conn, url);
        /* A body to come is timed; otherwise nothing is asked of the client
         * until the answer is sent. */
        set_phase(x->http, x->track, x->req.body && !x->responded ? PHASE_BODY : PHASE_BUSY);
        return r;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        add_body_bytes(x->http, x->track, n);
        if (x->responded) return MHD_YES;
        if (x->req.body) return rd_upload_feed(x->req.body, upload_data, n) ? MHD_NO : MHD_YES;
        x->dropped += n;
        return x->dropped > DROP_MAX_BYTES ? MHD_NO : MHD_YES;
    }
    set_phase(x->http, x->track, PHASE_BUSY); /* the body is in */
    if (x->responded) return MHD_YES;
    rd_server *srv = x->http->srv;
    if (x->req.body) {
        rd_metrics_upload_bytes(srv->metrics, rd_upload_bytes(x->req.body));
        int err = rd_upload_finish(x->req.body);
        if (err) {
            int status = rd_upload_error_status(x->req.body);
            if (status)
                rd_reply_status(&x->reply, status, 60, rt_error_message());
            else
                rd_reply_last_error(&x->reply, err);
            return respond(x, conn);
        }
    }
    int err = x->route->handler(srv, &x->req, &x->reply);
    if (err && rt_error_http_status(err) == 500)
        rd_log(RD_LOG_ERROR, "http.internal", x->reply.job, "%s %s: %s", x->method, x->path,
               x->reply.body ? x->reply.body : "");
    return respond(x, conn);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    rd_http *h = cls;
    exchange *x = *con_cls;
    if (!x) return;
    *con_cls = NULL;
    rd_metrics_request(h->srv->metrics, x->responded ? x->status : 0);
    /* Probes and scrapes come every few seconds: keep them out of the info log. */
    int quiet = x->route && (strcmp(x->route->pattern.pattern, "/healthz") == 0 ||
                             strcmp(x->route->pattern.pattern, "/metrics") == 0);
    json_t *fields =
        json_pack("{s:s, s:s, s:i, s:I}", "method", x->method, "path", x->path, "status",
                  x->responded ? x->status : 0, "ms", (json_int_t)(rd_now_ms() - x->started_ms));
    set_phase(h, x->track, PHASE_IDLE); /* a keep-alive connection waits for its next request */
    if (x->track) x->track->x = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        if (log_allowed(h))
            rd_log_with(RD_LOG_INFO, "http.aborted", x->reply.job, fields,
                        "the connection ended before the exchange completed (code %d)", (int)toe);
        else
            json_decref(fields);
    } else
        rd_log_with(quiet ? RD_LOG_DEBUG : RD_LOG_INFO, "http.request", x->reply.job, fields,
                    "%s %s", x->method, x->path);
    rd_upload_destroy(x->req.body); /* deletes a spool file no job took */
    if (x->counted) atomic_fetch_sub(&h->uploads, 1);
    rd_reply_clear(&x->reply);
    free(x);
}

static void on_library_message(void *cls, const char *fmt, va_list ap)
{
    /* Refused and dropped connections are reported here, one line each: an
     * attacker must not be able to fill the disk with them. */
    if (!log_allowed(cls)) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    rd_log(RD_LOG_WARN, "http.library", NULL, "%s", msg);
}

static int bind_listener(const char *host, int port, int *fd_out, int *port_out)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc) return rt_error(RT_ERR_ARG, "--listen %s:%d: %s", host, port, gai_strerror(rc));
    int fd = -1, saved = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 256) == 0) break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return rt_error(RT_ERR_IO, "cannot listen on %s:%d: %s", host, port, strerror(saved));
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    *port_out = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        char serv[16];
        if (getnameinfo((struct sockaddr *)&ss, len, NULL, 0, serv, sizeof serv, NI_NUMERICSERV) ==
            0)
            *port_out = atoi(serv);
    }
    *fd_out = fd;
    return 0;
}

int rd_http_start(rd_server *srv, int *port, rd_http **out)
{
    rd_http *h = calloc(1, sizeof *h);
    if (!h) return rt_error(RT_ERR_NOMEM, "out of memory");
    h->srv = srv;
    int err = bind_listener(srv->cfg.listen_host, srv->cfg.listen_port, &h->listen_fd, port);
    if (err) {
        free(h);
        return err;
    }
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    /* The logger first: libmicrohttpd reports on the options after it. */
    pthread_mutex_init(&h->guard_lock, NULL);
    pthread_mutex_init(&h->log_lock, NULL);
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_library_message, h,
        MHD_OPTION_LISTEN_SOCKET, h->listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)srv->cfg.http_threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)srv->cfg.max_connections_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024), MHD_OPTION_END);
    if (h->daemon && pthread_create(&h->guard, NULL, guard_main, h) == 0) h->guard_started = 1;
    if (!h->daemon || !h->guard_started) {
        if (h->daemon)
            MHD_stop_daemon(h->daemon);
        else
            close(h->listen_fd);
        pthread_mutex_destroy(&h->guard_lock);
        pthread_mutex_destroy(&h->log_lock);
        free(h);
        return rt_error(RT_ERR_INTERNAL, "cannot start the HTTP server (libmicrohttpd)");
    }
    *out = h;
    return 0;
}

void rd_http_quiesce(rd_http *h)
{
    if (!h || h->quiesced) return;
    MHD_socket fd = MHD_quiesce_daemon(h->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd); /* quiesced: the listen socket is ours to close */
    h->quiesced = 1;
}

void rd_http_drain(rd_http *h, int64_t until_ms)
{
    if (!h) return;
    atomic_store(&h->stopping, 1);
    int n = atomic_load(&h->uploads);
    if (n > 0)
        rd_log(RD_LOG_INFO, "server.draining", NULL,
               "waiting up to %lld ms for %d upload(s) being received",
               (long long)(until_ms > rd_now_ms() ? until_ms - rd_now_ms() : 0), n);
    while (atomic_load(&h->uploads) > 0 && rd_now_ms() < until_ms)
        usleep(10000);
}

void rd_http_stop(rd_http *h)
{
    if (!h) return;
    atomic_store(&h->guard_stop, 1);
    if (h->guard_started) pthread_join(h->guard, NULL);
    MHD_stop_daemon(h->daemon); /* closes the listen socket unless quiesced */
    pthread_mutex_destroy(&h->guard_lock);
    pthread_mutex_destroy(&h->log_lock);
    free(h);
}
