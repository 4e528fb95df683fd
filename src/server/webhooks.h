/* webhooks.h: calling a client's `hook` URL when its job ends.
 *
 * Two layers.  The sender (rd_webhook_check_url, rd_webhook_sign,
 * rd_webhook_post) is self-contained: policy, signature and one HTTP POST
 * with libcurl, testable alone.  The dispatcher (rd_webhooks_*) is a thread
 * that takes due deliveries from the store's outbox, sends them and
 * schedules retries with exponential backoff; since the outbox is in the
 * store, deliveries survive a restart.
 *
 * Policy (API.md "Webhooks"): only hosts on the allow-list are called;
 * redirects are not followed; loopback, private, link-local and other
 * non-public addresses are refused unless allow_private is set.  The
 * address is checked at the moment of connecting, on the address actually
 * used, so a DNS answer that changes between check and use cannot slip a
 * private address through.
 */
#ifndef RD_WEBHOOKS_H
#define RD_WEBHOOKS_H

#include "server/store.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct rd_metrics rd_metrics;

/* Tries per delivery: the first, then 4 retries after base, 2 base, 4 base,
 * 8 base (40 s base: about 10 minutes in all). */
#define RD_WEBHOOK_TRIES 5

typedef struct rd_webhook_policy {
    const char (*allow)[256]; /* lower-case hosts, "*.example.com", or "*" */
    int n_allow;
    int allow_private;
    int64_t timeout_ms;
} rd_webhook_policy;

/* Checks a client's hook URL at submit time: http or https, a host on the
 * allow-list, and not a private address literal (unless allowed).
 * RT_ERR_ARG with a message for the client otherwise. */
int rd_webhook_check_url(const rd_webhook_policy *policy, const char *url);

/* 1 when the address is loopback, private, link-local, unspecified,
 * multicast or otherwise not a public unicast address. */
int rd_address_is_private(const struct sockaddr *sa);

/* "sha256=" + hex HMAC-SHA256 of body keyed with secret (out: 80 bytes). */
void rd_webhook_sign(const char *secret, const char *body, size_t len, char *out);

typedef struct rd_delivery {
    long http_status; /* 0 when no answer */
    int permanent;    /* retrying cannot help (policy refused the address) */
    char error[256];  /* why it failed, for the log */
} rd_delivery;

/* One POST of body to url with the event and signature headers.  Returns 0
 * on a 2xx answer, RT_ERR_IO otherwise (result says why). */
int rd_webhook_post(const rd_webhook_policy *policy, const char *url, const char *event,
                    const char *body, const char *secret, rd_delivery *result);

/* ---- the dispatcher thread ---------------------------------------------- */

typedef struct rd_webhooks rd_webhooks;

/* Starts the thread.  The policy, store and metrics are borrowed and must
 * outlive rd_webhooks_stop(). */
int rd_webhooks_start(rd_store *store, const rd_webhook_policy *policy, int64_t retry_base_ms,
                      rd_metrics *metrics, rd_webhooks **out);
/* A delivery was queued: look at the outbox now. */
void rd_webhooks_notify(rd_webhooks *w);
/* Stops the thread after the delivery in flight (bounded by the timeout)
 * and frees it.  Pending deliveries stay in the outbox. */
void rd_webhooks_stop(rd_webhooks *w);

#endif
