/* Settings from defaults, environment and flags (see config.h). */
#include "server/config.h"

#include "core/error.h"
#include "retouch.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum opt_kind {
    OPT_PATH,
    OPT_INT,
    OPT_SIZE,
    OPT_DURATION,
    OPT_MEGAPIXELS,
    OPT_BOOL,
    OPT_ALLOW_LIST,
    OPT_LISTEN,
    OPT_LOG_LEVEL,
} opt_kind;

typedef struct opt_spec {
    const char *flag; /* without "--" */
    const char *env;
    opt_kind kind;
    size_t offset;
    long min, max; /* OPT_INT */
    const char *arg;
    const char *help;
} opt_spec;

#define FIELD(f) offsetof(rd_config, f)

static const opt_spec specs[] = {
    {"data-dir", "RETOUCHD_DATA_DIR", OPT_PATH, FIELD(data_dir), 0, 0, "DIR",
     "job store, uploads and results (default ./var)"},
    {"listen", "RETOUCHD_LISTEN", OPT_LISTEN, 0, 0, 0, "HOST:PORT",
     "address to serve on (default 127.0.0.1:8080; port 0 picks a free one)"},
    {"workers", "RETOUCHD_WORKERS", OPT_INT, FIELD(workers), 1, 256, "N",
     "jobs run at once (default: cores, at most 4)"},
    {"threads-per-worker", "RETOUCHD_THREADS_PER_WORKER", OPT_INT, FIELD(threads_per_worker), 0,
     1024, "N", "OpenMP threads per job (default: cores / workers)"},
    {"http-threads", "RETOUCHD_HTTP_THREADS", OPT_INT, FIELD(http_threads), 1, 256, "N",
     "HTTP connection threads (default 4)"},
    {"max-upload", "RETOUCHD_MAX_UPLOAD", OPT_SIZE, FIELD(max_upload_bytes), 0, 0, "SIZE",
     "largest image file accepted, e.g. 100M (default 100M)"},
    {"max-megapixels", "RETOUCHD_MAX_MEGAPIXELS", OPT_MEGAPIXELS, FIELD(max_megapixels), 0, 0, "MP",
     "largest image accepted, read from its header (default 250)"},
    {"retention", "RETOUCHD_RETENTION", OPT_DURATION, FIELD(retention_ms), 0, 0, "DURATION",
     "how long results are kept after a job ends (default 24h)"},
    {"max-attempts", "RETOUCHD_MAX_ATTEMPTS", OPT_INT, FIELD(max_attempts), 1, 10, "N",
     "tries per job before it fails (default 3)"},
    {"shutdown-timeout", "RETOUCHD_SHUTDOWN_TIMEOUT", OPT_DURATION, FIELD(shutdown_timeout_ms), 0,
     0, "DURATION", "on SIGTERM, how long running jobs may finish (default 30s)"},
    {"webhook-allow", "RETOUCHD_WEBHOOK_ALLOW", OPT_ALLOW_LIST, 0, 0, 0, "HOSTS",
     "comma-separated hosts webhooks may call (\"*.example.com\" for subdomains); repeatable"},
    {"webhook-allow-private", "RETOUCHD_WEBHOOK_ALLOW_PRIVATE", OPT_BOOL,
     FIELD(webhook_allow_private), 0, 0, NULL, "let webhooks call loopback and private addresses"},
    {"webhook-retry-base", "RETOUCHD_WEBHOOK_RETRY_BASE", OPT_DURATION,
     FIELD(webhook_retry_base_ms), 0, 0, "DURATION",
     "first webhook retry delay, doubling for 5 tries (default 40s: about 10 minutes)"},
    {"webhook-timeout", "RETOUCHD_WEBHOOK_TIMEOUT", OPT_DURATION, FIELD(webhook_timeout_ms), 0, 0,
     "DURATION", "time a webhook receiver has to answer (default 10s)"},
    {"port-file", "RETOUCHD_PORT_FILE", OPT_PATH, FIELD(port_file), 0, 0, "FILE",
     "write the port served on to FILE once listening"},
    {"log-level", "RETOUCHD_LOG_LEVEL", OPT_LOG_LEVEL, 0, 0, 0, "LEVEL",
     "debug, info, warn or error (default info)"},
    {"max-spool", "RETOUCHD_MAX_SPOOL", OPT_SIZE, FIELD(max_spool_bytes), 0, 0, "SIZE",
     "uploads being received, all together (default 2G; over it: 507)"},
    {"max-unauth-spool", "RETOUCHD_MAX_UNAUTH_SPOOL", OPT_SIZE, FIELD(max_unauth_spool_bytes), 0, 0,
     "SIZE", "of which image bytes sent before a valid token, all together (default 128M)"},
    {"min-free", "RETOUCHD_MIN_FREE", OPT_SIZE, FIELD(min_free_bytes), 0, 0, "SIZE",
     "free disk space kept for running jobs; new uploads get 507 below it (default 512M)"},
    {"max-connections-per-ip", "RETOUCHD_MAX_CONNECTIONS_PER_IP", OPT_INT,
     FIELD(max_connections_per_ip), 1, 100000, "N",
     "open connections per client address (default 32)"},
    {"header-timeout", "RETOUCHD_HEADER_TIMEOUT", OPT_DURATION, FIELD(header_timeout_ms), 0, 0,
     "DURATION", "time a client has to send a request's head (default 10s)"},
    {"min-body-rate", "RETOUCHD_MIN_BODY_RATE", OPT_SIZE, FIELD(min_body_rate), 0, 0, "SIZE",
     "bytes per second a request body must average after its first 10 s (default 8K)"},
    {"max-memory", "RETOUCHD_MAX_MEMORY", OPT_SIZE, FIELD(max_memory_bytes), 0, 0, "SIZE",
     "memory the running jobs may expect to use together (default 3/4 of RAM)"},
};
#define NSPECS (sizeof specs / sizeof specs[0])

void rd_config_defaults(rd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "var");
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    cfg->workers = cores < 4 ? (int)cores : 4;
    cfg->http_threads = 4;
    cfg->max_upload_bytes = 100u << 20;
    cfg->max_megapixels = RT_DEFAULT_MAX_MEGAPIXELS;
    cfg->retention_ms = 24LL * 3600 * 1000;
    cfg->max_attempts = 3;
    cfg->shutdown_timeout_ms = 30 * 1000;
    cfg->webhook_retry_base_ms = 40 * 1000;
    cfg->webhook_timeout_ms = 10 * 1000;
    cfg->log_level = RD_LOG_INFO;
    cfg->max_spool_bytes = 2ull << 30;
    cfg->max_unauth_spool_bytes = 128u << 20;
    cfg->min_free_bytes = 512u << 20;
    cfg->max_connections_per_ip = 32;
    cfg->header_timeout_ms = 10 * 1000;
    cfg->min_body_rate = 8u << 10;
    cfg->max_memory_bytes = 0;
}

int rd_config_job_threads(const rd_config *cfg)
{
    if (cfg->threads_per_worker > 0) return cfg->threads_per_worker;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long t = cores / (cfg->workers > 0 ? cfg->workers : 1);
    return t < 1 ? 1 : (int)t;
}

/* ---- value parsers ---------------------------------------------------- */

int rd_parse_duration(const char *s, int64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0))
        return rt_error(RT_ERR_ARG, "'%s' is not a duration: use e.g. 24h, 30m, 10s or 500ms", s);
    double scale;
    if (!*end || strcmp(end, "s") == 0)
        scale = 1000;
    else if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "m") == 0)
        scale = 60e3;
    else if (strcmp(end, "h") == 0)
        scale = 3600e3;
    else if (strcmp(end, "d") == 0)
        scale = 86400e3;
    else
        return rt_error(RT_ERR_ARG, "'%s' is not a duration: use e.g. 24h, 30m, 10s or 500ms", s);
    double r = v * scale;
    if (r > 1e15) return rt_error(RT_ERR_ARG, "'%s' is too long a duration", s);
    *ms = (int64_t)r;
    return 0;
}

int rd_parse_size(const char *s, uint64_t *bytes)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0))
        return rt_error(RT_ERR_ARG, "'%s' is not a size: use e.g. 100M, 512K or 2G", s);
    double scale = 1;
    char unit = (char)toupper((unsigned char)*end);
    if (unit == 'K' || unit == 'M' || unit == 'G') {
        scale = unit == 'K' ? 1024.0 : unit == 'M' ? 1048576.0 : 1073741824.0;
        end++;
        if (*end == 'i' || *end == 'I') end++;
        if (*end == 'B' || *end == 'b') end++;
    } else if (unit == 'B') {
        end++;
    }
    if (*end || v * scale > 1e15)
        return rt_error(RT_ERR_ARG, "'%s' is not a size: use e.g. 100M, 512K or 2G", s);
    *bytes = (uint64_t)(v * scale);
    return 0;
}

static int parse_listen(rd_config *cfg, const char *s)
{
    const char *colon;
    char host[256];
    if (s[0] == '[') { /* [::1]:8080 */
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return rt_error(RT_ERR_ARG, "'%s': use HOST:PORT or [IPV6]:PORT", s);
        snprintf(host, sizeof host, "%.*s", (int)(close - s - 1), s + 1);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return rt_error(RT_ERR_ARG, "'%s': use HOST:PORT, e.g. 127.0.0.1:8080", s);
        snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535)
        return rt_error(RT_ERR_ARG, "'%s': the port must be a number from 0 to 65535", s);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "%s", host[0] ? host : "0.0.0.0");
    cfg->listen_port = (int)port;
    return 0;
}

static int parse_allow_list(rd_config *cfg, const char *s)
{
    const char *p = s;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ", ");
        if (!len) break;
        if (cfg->n_webhook_allow == RD_ALLOW_MAX)
            return rt_error(RT_ERR_ARG, "at most %d webhook hosts can be allowed", RD_ALLOW_MAX);
        if (len >= sizeof cfg->webhook_allow[0])
            return rt_error(RT_ERR_ARG, "webhook host '%.40s...' is too long", p);
        char *dst = cfg->webhook_allow[cfg->n_webhook_allow++];
        for (size_t i = 0; i < len; i++)
            dst[i] = (char)tolower((unsigned char)p[i]);
        dst[len] = '\0';
        p += len;
    }
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
        !strcasecmp(s, "off") || !*s) {
        *out = 0;
        return 0;
    }
    return rt_error(RT_ERR_ARG, "'%s': use 1 or 0", s);
}

static int apply(rd_config *cfg, const opt_spec *o, const char *value)
{
    char *base = (char *)cfg;
    char *end;
    switch (o->kind) {
    case OPT_PATH: {
        char *dst = base + o->offset;
        if (strlen(value) >= PATH_MAX) return rt_error(RT_ERR_ARG, "the path is too long");
        snprintf(dst, PATH_MAX, "%s", value);
        return 0;
    }
    case OPT_INT: {
        errno = 0;
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno || v < o->min || v > o->max)
            return rt_error(RT_ERR_ARG, "'%s': use a whole number from %ld to %ld", value, o->min,
                            o->max);
        *(int *)(void *)(base + o->offset) = (int)v;
        return 0;
    }
    case OPT_SIZE:
        return rd_parse_size(value, (uint64_t *)(void *)(base + o->offset));
    case OPT_DURATION:
        return rd_parse_duration(value, (int64_t *)(void *)(base + o->offset));
    case OPT_MEGAPIXELS: {
        double v = strtod(value, &end);
        if (end == value || *end || !(v > 0) || v > 100000)
            return rt_error(RT_ERR_ARG, "'%s': use a positive number of megapixels", value);
        *(double *)(void *)(base + o->offset) = v;
        return 0;
    }
    case OPT_BOOL:
        return parse_bool(value, (int *)(void *)(base + o->offset));
    case OPT_ALLOW_LIST:
        return parse_allow_list(cfg, value);
    case OPT_LISTEN:
        return parse_listen(cfg, value);
    case OPT_LOG_LEVEL:
        return rd_log_parse_level(value, &cfg->log_level);
    }
    return rt_error(RT_ERR_INTERNAL, "unknown option kind");
}

int rd_config_from_env(rd_config *cfg)
{
    for (size_t i = 0; i < NSPECS; i++) {
        const char *v = getenv(specs[i].env);
        if (!v || !*v) continue;
        int err = apply(cfg, &specs[i], v);
        if (err) {
            rt_error_prefix("%s=", specs[i].env);
            return err;
        }
    }
    return 0;
}

int rd_config_from_args(rd_config *cfg, int argc, char **argv, int *next)
{
    struct option longopts[NSPECS + 3];
    for (size_t i = 0; i < NSPECS; i++)
        longopts[i] = (struct option){specs[i].flag,
                                      specs[i].kind == OPT_BOOL ? no_argument : required_argument,
                                      NULL, (int)(1000 + i)};
    longopts[NSPECS] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[NSPECS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    longopts[NSPECS + 2] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    opterr = 0;
    int c;
    /* '+': stop at the first non-option, the subcommand ("token"). */
    while ((c = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
        if (c == 'h') {
            rd_config_usage(stdout);
            return 1;
        }
        if (c == 'V') {
            printf("retouchd 0.1.0\n");
            return 1;
        }
        if (c < 1000 || c >= 1000 + (int)NSPECS) {
            const char *bad = argv[optind - 1] ? argv[optind - 1] : "?";
            if (c == ':' || (c == '?' && optopt >= 1000))
                return rt_error(RT_ERR_ARG, "%s needs a value (see retouchd --help)", bad);
            return rt_error(RT_ERR_ARG, "unknown option %s (see retouchd --help)", bad);
        }
        const opt_spec *o = &specs[c - 1000];
        int err = apply(cfg, o, o->kind == OPT_BOOL ? "1" : optarg);
        if (err) {
            rt_error_prefix("--%s ", o->flag);
            return err;
        }
    }
    *next = optind;
    return 0;
}

void rd_config_usage(FILE *out)
{
    fprintf(out,
            "usage: retouchd [OPTIONS]                      serve the HTTP API\n"
            "       retouchd [--data-dir DIR] token create --name NAME [--daily-quota N]\n"
            "                [--credits N] [--webhook-secret SECRET]\n"
            "       retouchd [--data-dir DIR] token list\n"
            "       retouchd [--data-dir DIR] token revoke TOKEN\n"
            "       retouchd [--data-dir DIR] token set TOKEN [--name NAME] [--daily-quota N]\n"
            "                [--credits N] [--webhook-secret SECRET]\n"
            "\n"
            "The Retouch4me-compatible retouching server (API: docs/API.md).\n"
            "Every option can also be set by its environment variable.\n\n");
    for (size_t i = 0; i < NSPECS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", specs[i].flag, specs[i].arg ? " " : "",
                 specs[i].arg ? specs[i].arg : "");
        fprintf(out, "  %-34s %s\n  %-34s [%s]\n", left, specs[i].help, "", specs[i].env);
    }
    fprintf(out, "  %-34s %s\n", "-h, --help", "this help");
    fprintf(out, "  %-34s %s\n", "-V, --version", "the version");
    fprintf(out, "\nSIGTERM or SIGINT: stop accepting, let running jobs finish (up to\n"
                 "--shutdown-timeout), exit 0.  Jobs not finished run after the next start.\n");
}
