/* config.h: retouchd's settings, from defaults, RETOUCHD_* environment
 * variables and command-line flags (in that order; the later wins).  One
 * table in config.c lists every setting with its flag, its variable and its
 * help line, so the three never drift apart.
 */
#ifndef RD_CONFIG_H
#define RD_CONFIG_H

#include "server/log.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define RD_ALLOW_MAX 64

typedef struct rd_config {
    char data_dir[PATH_MAX];
    char listen_host[256];
    int listen_port;                       /* 0: any free port (see port_file) */
    int workers;                           /* jobs run at once */
    int threads_per_worker;                /* OpenMP threads per job; 0: cores / workers */
    int http_threads;                      /* libmicrohttpd thread pool */
    uint64_t max_upload_bytes;             /* the image file */
    double max_megapixels;                 /* checked from the header at upload */
    int64_t retention_ms;                  /* results kept after the job ends */
    int max_attempts;                      /* tries per job */
    int64_t shutdown_timeout_ms;           /* SIGTERM: how long running jobs may finish */
    char webhook_allow[RD_ALLOW_MAX][256]; /* host names, "*.example.com" */
    int n_webhook_allow;
    int webhook_allow_private; /* allow loopback and private addresses */
    int64_t webhook_retry_base_ms;
    int64_t webhook_timeout_ms;
    char port_file[PATH_MAX]; /* when set: the bound port is written there */
    /* Defences (docs/SECURITY.md). */
    uint64_t max_spool_bytes;        /* all uploads being received together */
    uint64_t max_unauth_spool_bytes; /* of which before a valid token was seen */
    uint64_t min_free_bytes;         /* free space kept for running jobs: 507 below */
    int max_connections_per_ip;      /* open connections per client address */
    int64_t header_timeout_ms;       /* time to send the request head */
    uint64_t min_body_rate;          /* bytes per second a body must keep up */
    uint64_t max_memory_bytes;       /* jobs' expected peaks together; 0: from RAM */
    rd_log_level log_level;
} rd_config;

void rd_config_defaults(rd_config *cfg);
/* Applies the RETOUCHD_* variables.  RT_ERR_ARG with a message naming the
 * variable on a bad value. */
int rd_config_from_env(rd_config *cfg);
/* Parses the global flags of argv up to the first non-option argument (the
 * subcommand, if any); *next gets its index.  RT_ERR_ARG on a bad flag;
 * returns 1 when --help or --version was printed. */
int rd_config_from_args(rd_config *cfg, int argc, char **argv, int *next);
/* The threads each job gets: threads_per_worker, or cores / workers. */
int rd_config_job_threads(const rd_config *cfg);

void rd_config_usage(FILE *out);

/* "24h", "90m", "30s", "250ms", "2d", or seconds -> milliseconds. */
int rd_parse_duration(const char *s, int64_t *ms);
/* "100M", "512K", "2G", "100MB", or bytes. */
int rd_parse_size(const char *s, uint64_t *bytes);

#endif
