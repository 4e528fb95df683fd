/* Webhook policy, signing, delivery and the retry thread (see webhooks.h). */
#include "server/webhooks.h"

#include "core/error.h"
#include "server/clock.h"
#include "server/crypto.h"
#include "server/log.h"
#include "server/metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HOOK_URL_MAX 2048

/* ---- policy ------------------------------------------------------------- */

static int v4_is_private(uint32_t a)
{
    return (a >> 24) == 0 ||                   /* 0.0.0.0/8 "this network" */
           (a >> 24) == 10 ||                  /* 10/8 */
           (a & 0xFFC00000u) == 0x64400000u || /* 100.64/10 carrier NAT */
           (a >> 24) == 127 ||                 /* loopback */
           (a >> 16) == 0xA9FEu ||             /* 169.254/16 link-local */
           (a & 0xFFF00000u) == 0xAC100000u || /* 172.16/12 */
           (a >> 8) == 0xC00000u ||            /* 192.0.0/24 protocol assignments */
           (a >> 8) == 0xC00002u ||            /* 192.0.2/24 documentation */
           (a >> 16) == 0xC0A8u ||             /* 192.168/16 */
           (a & 0xFFFE0000u) == 0xC6120000u || /* 198.18/15 benchmarking */
           (a >> 8) == 0xC63364u ||            /* 198.51.100/24 documentation */
           (a >> 8) == 0xCB0071u ||            /* 203.0.113/24 documentation */
           (a >> 28) >= 14;                    /* multicast, reserved, broadcast */
}

int rd_address_is_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return v4_is_private(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family != AF_INET6) return 1;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
    const unsigned char *b = in6->sin6_addr.s6_addr;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const unsigned char nat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char zero[12] = {0};
    uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) return v4_is_private(v4);
    if (memcmp(b, zero, 12) == 0) /* ::, ::1 and the old IPv4-compatible form */
        return 1;
    /* Transition forms that carry an IPv4 address: judged by it, since a
     * relay or translator on the way delivers to that address. */
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0x00 &&
        b[5] == 0x01) /* 64:ff9b:1::/48, NAT64 for local use: a site's own translator */
        return 1;
    if (b[0] == 0x20 && b[1] == 0x02) /* 2002::/16 6to4: the IPv4 address follows */
        return v4_is_private((uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 |
                             b[5]);
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) {
        /* 2001::/32 Teredo: the server's IPv4 address, then the client's
         * inverted in the last 32 bits */
        uint32_t server = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
        return v4_is_private(server) || v4_is_private(~v4);
    }
    return (b[0] & 0xFE) == 0xFC ||                   /* fc00::/7 unique local */
           (b[0] == 0xFE && (b[1] & 0x80) == 0x80) || /* fe80::/10 link-local, fec0::/10 */
           b[0] == 0xFF ||                            /* multicast */
           (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8) || /* documentation */
           (b[0] == 0x01 && b[1] == 0x00 && !b[2] && !b[3] && !b[4] && !b[5] && !b[6] &&
            !b[7]); /* 100::/64 discard */
}

/* Parses an IP literal host ("1.2.3.4", "[::1]" or "::1"); 1 when it is one. */
static int host_address(const char *host, struct sockaddr_storage *out)
{
    char buf[256];
    size_t len = strlen(host);
    if (len >= sizeof buf) return 0;
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
    } else {
        memcpy(buf, host, len + 1);
    }
    memset(out, 0, sizeof *out);
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)out;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)out;
    if (inet_pton(AF_INET, buf, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        return 1;
    }
    return 0;
}

static void strip_brackets(const char *in, char *out, size_t cap)
{
    size_t len = strlen(in);
    if (len >= 2 && in[0] == '[' && in[len - 1] == ']')
        snprintf(out, cap, "%.*s", (int)(len - 2), in + 1);
    else
        snprintf(out, cap, "%s", in);
}

static int host_allowed(const rd_webhook_policy *p, const char *host)
{
    char h[256];
    strip_brackets(host, h, sizeof h);
    for (char *c = h; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    size_t hlen = strlen(h);
    for (int i = 0; i < p->n_allow; i++) {
        char a[256];
        strip_brackets(p->allow[i], a, sizeof a);
        if (strcmp(a, "*") == 0 || strcmp(a, h) == 0) return 1;
        if (a[0] == '*' && a[1] == '.') {
            size_t slen = strlen(a + 1); /* ".example.com" */
            if (hlen > slen && strcmp(h + hlen - slen, a + 1) == 0) return 1;
        }
    }
    return 0;
}

int rd_webhook_check_url(const rd_webhook_policy *p, const char *url)
{
    size_t len = strlen(url);
    if (len > HOOK_URL_MAX)
        return rt_error(RT_ERR_ARG, "hook: the URL is longer than %d characters", HOOK_URL_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
            return rt_error(RT_ERR_ARG, "hook: the URL holds a space or control character; "
                                        "percent-encode it");
    CURLU *u = curl_url();
    if (!u) return rt_error(RT_ERR_NOMEM, "out of memory");
    char *scheme = NULL, *host = NULL;
    int err = 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        err = rt_error(RT_ERR_ARG, "hook: '%.200s' is not an absolute http(s) URL", url);
    } else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        err =
            rt_error(RT_ERR_ARG, "hook: the scheme '%s' is not allowed; use http or https", scheme);
    } else if (p->n_allow == 0) {
        err = rt_error(RT_ERR_ARG,
                       "hook: this server calls no webhooks (its allow-list is "
                       "empty); leave hook out, or ask the operator to allow '%s' "
                       "(--webhook-allow)",
                       host);
    } else if (!host_allowed(p, host)) {
        err = rt_error(RT_ERR_ARG,
                       "hook: the host '%s' is not on this server's webhook "
                       "allow-list; ask the operator to add it (--webhook-allow)",
                       host);
    } else {
        struct sockaddr_storage ss;
        if (!p->allow_private && host_address(host, &ss) &&
            rd_address_is_private((struct sockaddr *)&ss))
            err = rt_error(RT_ERR_ARG,
                           "hook: %s is a loopback or private address, which this "
                           "server does not call (--webhook-allow-private)",
                           host);
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return err;
}

void rd_webhook_sign(const char *secret, const char *body, size_t len, char *out)
{
    char hex[RD_SHA256_HEX_LEN + 1];
    rd_hmac_sha256_hex(secret, body, len, hex);
    snprintf(out, 80, "sha256=%s", hex);
}

/* ---- one delivery ------------------------------------------------------- */

typedef struct post_ctx {
    const rd_webhook_policy *policy;
    atomic_int *cancel; /* set: abort the transfer (shutdown) */
    int blocked;
    char blocked_address[64];
} post_ctx;

/* Every connection libcurl makes comes through here: the address it is
 * about to use is checked, whatever the DNS said before. */
static curl_socket_t open_socket(void *user, curlsocktype purpose, struct curl_sockaddr *address)
{
    post_ctx *c = user;
    if (purpose == CURLSOCKTYPE_IPCXN && !c->policy->allow_private &&
        rd_address_is_private(&address->addr)) {
        c->blocked = 1;
        const void *a =
            address->family == AF_INET
                ? (const void *)&((struct sockaddr_in *)(void *)&address->addr)->sin_addr
                : (const void *)&((struct sockaddr_in6 *)(void *)&address->addr)->sin6_addr;
        inet_ntop(address->family, a, c->blocked_address, sizeof c->blocked_address);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static int on_transfer(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    post_ctx *c = user;
    return c->cancel && atomic_load(c->cancel); /* non-zero aborts */
}

static size_t discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

static int post(const rd_webhook_policy *policy, const char *url, const char *event,
                const char *body, const char *secret, atomic_int *cancel, rd_delivery *result)
{
    memset(result, 0, sizeof *result);
    if (rd_webhook_check_url(policy, url)) {
        result->permanent = 1;
        snprintf(result->error, sizeof result->error, "%s", rt_error_message());
        return RT_ERR_IO;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(result->error, sizeof result->error, "cannot create a libcurl handle");
        return RT_ERR_IO;
    }
    size_t len = strlen(body);
    char signature[96], sig_header[128], event_header[96];
    rd_webhook_sign(secret, body, len, signature);
    snprintf(sig_header, sizeof sig_header, "X-Retouch-Signature: %s", signature);
    snprintf(event_header, sizeof event_header, "X-Retouch-Event: %s", event);
    struct curl_slist *headers = NULL, *h;
    const char *lines[] = {"Content-Type: application/json", event_header, sig_header, "Expect:"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!(h = curl_slist_append(headers, lines[i]))) {
            curl_slist_free_all(headers);
            curl_easy_cleanup(curl);
            snprintf(result->error, sizeof result->error, "out of memory");
            return RT_ERR_IO;
        }
        headers = h;
    }
    post_ctx ctx = {.policy = policy, .cancel = cancel};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "retouchd/0.1");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* never through a proxy from the environment */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)policy->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)policy->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &ctx);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_transfer);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &ctx);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result->http_status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (ctx.blocked) {
        result->permanent = 1;
        snprintf(result->error, sizeof result->error,
                 "refused: %s is a loopback or private address (--webhook-allow-private)",
                 ctx.blocked_address);
        return RT_ERR_IO;
    }
    if (rc != CURLE_OK) {
        snprintf(result->error, sizeof result->error, "%s", curl_easy_strerror(rc));
        return RT_ERR_IO;
    }
    if (result->http_status < 200 || result->http_status > 299) {
        snprintf(result->error, sizeof result->error, "the receiver answered HTTP %ld%s",
                 result->http_status,
                 result->http_status >= 300 && result->http_status < 400
                     ? " (redirects are not followed)"
                     : "");
        return RT_ERR_IO;
    }
    return 0;
}

int rd_webhook_post(const rd_webhook_policy *policy, const char *url, const char *event,
                    const char *body, const char *secret, rd_delivery *result)
{
    return post(policy, url, event, body, secret, NULL, result);
}

/* ---- the dispatcher ------------------------------------------------------ */

/* Deliveries run concurrently, so a receiver that never answers delays
 * only its own hooks: at most HOOKS_IN_FLIGHT at once, of which at most
 * HOOKS_PER_HOST to one host:port. */
#define HOOKS_IN_FLIGHT 8
#define HOOKS_PER_HOST 2
#define HOOKS_FETCH 64

typedef struct flight {
    struct rd_webhooks *w;
    pthread_t thread;
    int busy; /* a thread runs (joined when done) */
    int done;
    rd_hook hook;
    char host[300]; /* "host:port" */
} flight;

struct rd_webhooks {
    rd_store *store;
    const rd_webhook_policy *policy;
    int64_t retry_base_ms;
    rd_metrics *metrics;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    int notified;
    atomic_int cancel; /* stopping: deliveries in flight are aborted */
    flight flights[HOOKS_IN_FLIGHT];
};

static void deliver(rd_webhooks *w, rd_hook *hook)
{
    rd_delivery d;
    int err = post(w->policy, hook->url, hook->event, hook->body, hook->secret, &w->cancel, &d);
    if (err && atomic_load(&w->cancel)) return; /* cut by the shutdown: not a try; next start */
    int tries = hook->attempts + 1;
    int64_t now = rd_now_ms();
    json_t *fields = json_pack("{s:s, s:i, s:I}", "hook_event", hook->event, "try", tries,
                               "http_status", (json_int_t)d.http_status);
    if (!err) {
        rd_store_hook_update(w->store, hook->id, 1, 0, now, "");
        rd_metrics_webhook(w->metrics, "delivered");
        rd_log_with(RD_LOG_INFO, "webhook.delivered", hook->job_id, fields, "webhook delivered");
        return;
    }
    int give_up = d.permanent || tries >= RD_WEBHOOK_TRIES;
    int64_t next = now + (w->retry_base_ms << (tries - 1));
    rd_store_hook_update(w->store, hook->id, 0, give_up, give_up ? now : next, d.error);
    rd_metrics_webhook(w->metrics, give_up ? "failed" : "retry");
    if (give_up)
        rd_log_with(RD_LOG_WARN, "webhook.failed", hook->job_id, fields,
                    "webhook given up after %d tries: %s", tries, d.error);
    else
        rd_log_with(RD_LOG_INFO, "webhook.retry", hook->job_id, fields,
                    "webhook try %d failed (%s); next in %lld ms", tries, d.error,
                    (long long)(next - now));
}

static void *deliver_thread(void *arg)
{
    flight *f = arg;
    deliver(f->w, &f->hook);
    pthread_mutex_lock(&f->w->lock);
    f->done = 1;
    pthread_cond_signal(&f->w->cond); /* a slot is free */
    pthread_mutex_unlock(&f->w->lock);
    return NULL;
}

/* "host:port" of a hook URL, what the per-host limit counts. */
static void host_key(const char *url, char *out, size_t cap)
{
    snprintf(out, cap, "?");
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
        snprintf(out, cap, "%s:%s", host, port);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

/* Joins the deliveries that ended; with wait_all, every one (at stop). */
static void reap(rd_webhooks *w, int wait_all)
{
    for (int i = 0; i < HOOKS_IN_FLIGHT; i++) {
        flight *f = &w->flights[i];
        if (!f->busy) continue;
        pthread_mutex_lock(&w->lock);
        int done = f->done;
        pthread_mutex_unlock(&w->lock);
        if (!done && !wait_all) continue;
        pthread_join(f->thread, NULL);
        rd_hook_clear(&f->hook);
        f->busy = f->done = 0;
    }
}

/* Starts the due deliveries the limits allow; returns how many started. */
static int start_due(rd_webhooks *w)
{
    rd_hook due[HOOKS_FETCH];
    size_t n = 0;
    if (rd_store_hook_due(w->store, rd_now_ms(), due, HOOKS_FETCH, &n)) {
        rd_log(RD_LOG_ERROR, "webhook.store", NULL, "%s", rt_error_message());
        return 0;
    }
    int started = 0;
    for (size_t i = 0; i < n; i++) {
        int taken = 0, free_slot = -1, same_host = 0;
        char key[300];
        host_key(due[i].url, key, sizeof key);
        for (int k = 0; k < HOOKS_IN_FLIGHT; k++) {
            flight *f = &w->flights[k];
            if (!f->busy) {
                if (free_slot < 0) free_slot = k;
                continue;
            }
            taken |= f->hook.id == due[i].id;
            same_host += strcmp(f->host, key) == 0;
        }
        if (taken || free_slot < 0 || same_host >= HOOKS_PER_HOST) {
            rd_hook_clear(&due[i]);
            continue;
        }
        flight *f = &w->flights[free_slot];
        f->w = w;
        f->hook = due[i]; /* the flight owns it now */
        f->done = 0;
        snprintf(f->host, sizeof f->host, "%s", key);
        if (pthread_create(&f->thread, NULL, deliver_thread, f) != 0) {
            rd_log(RD_LOG_ERROR, "webhook.thread", f->hook.job_id,
                   "cannot start a delivery thread; delivering in line");
            deliver(w, &f->hook);
            rd_hook_clear(&f->hook);
            continue;
        }
        f->busy = 1;
        started++;
    }
    return started;
}

static void *dispatcher(void *arg)
{
    rd_webhooks *w = arg;
    int waiting_for_slot = 0;
    for (;;) {
        reap(w, 0);
        int64_t next = INT64_MAX;
        rd_store_hook_next_ms(w->store, &next);
        pthread_mutex_lock(&w->lock);
        int64_t now = rd_now_ms();
        /* Due deliveries that are in flight or over a limit: wait for a
         * slot to free (signalled) rather than spin on them. */
        if (waiting_for_slot && next <= now) next = now + 1000;
        int any_done = 0;
        for (int k = 0; k < HOOKS_IN_FLIGHT; k++)
            any_done |= w->flights[k].busy && w->flights[k].done;
        if (!w->stop && !w->notified && !any_done && next > now) {
            /* Wake for the next due delivery, a notify, a delivery that
             * ended, or once a second anyway (another process may have
             * queued one). */
            int64_t until = next < now + 1000 ? next : now + 1000;
            struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        w->notified = 0;
        int stop = w->stop;
        pthread_mutex_unlock(&w->lock);
        if (stop) break;
        reap(w, 0);
        int busy = 0;
        start_due(w);
        for (int k = 0; k < HOOKS_IN_FLIGHT; k++)
            busy += w->flights[k].busy;
        waiting_for_slot = busy > 0;
    }
    reap(w, 1);
    return NULL;
}

int rd_webhooks_start(rd_store *store, const rd_webhook_policy *policy, int64_t retry_base_ms,
                      rd_metrics *metrics, rd_webhooks **out)
{
    rd_webhooks *w = calloc(1, sizeof *w);
    if (!w) return rt_error(RT_ERR_NOMEM, "out of memory");
    w->store = store;
    w->policy = policy;
    w->retry_base_ms = retry_base_ms > 0 ? retry_base_ms : 1;
    w->metrics = metrics;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, dispatcher, w) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return rt_error(RT_ERR_INTERNAL, "cannot start the webhook thread");
    }
    *out = w;
    return 0;
}

void rd_webhooks_notify(rd_webhooks *w)
{
    pthread_mutex_lock(&w->lock);
    w->notified = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void rd_webhooks_stop(rd_webhooks *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    atomic_store(&w->cancel, 1);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
