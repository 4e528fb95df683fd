/* retouchd: the Retouch4me-compatible HTTP server.
 *
 *   retouchd [--data-dir DIR] [--listen HOST:PORT] [--workers N] ...   serve
 *   retouchd [--data-dir DIR] token create|list|revoke|set ...          manage tokens
 *
 * Exit status: 0 after a clean stop (SIGTERM/SIGINT) or a token command that
 * worked; 1 when the server or the command failed; 2 on a usage error.
 */
#include "core/error.h"
#include "retouch.h"
#include "server/clock.h"
#include "server/config.h"
#include "server/datadir.h"
#include "server/http.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/retention.h"
#include "server/server.h"
#include "server/store.h"
#include "server/tokens.h"
#include "server/webhooks.h"
#include "server/workers.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2
/* Old idempotency keys and tombstones are purged once a minute. */
#define PURGE_EVERY_TICKS 60
/* Jobs left active with no worker (their end could not be recorded) are
 * looked for every few seconds. */
#define SWEEP_EVERY_TICKS 5

static int open_store(const rd_config *cfg, rd_store **store)
{
    char db[PATH_MAX];
    int err = rd_datadir_init(cfg->data_dir);
    if (!err) err = rd_datadir_private_db(cfg->data_dir);
    if (!err) err = rd_datadir_db(cfg->data_dir, db, sizeof db);
    if (!err) err = rd_store_open_sqlite(db, store);
    return err;
}

static int token_command(const rd_config *cfg, int argc, char **argv)
{
    rd_store *store = NULL;
    if (open_store(cfg, &store)) {
        fprintf(stderr, "retouchd: %s\n", rt_error_message());
        return EXIT_FAILED;
    }
    int rc = rd_tokens_main(store, argc, argv);
    rd_store_close(store);
    return rc;
}

/* Written through a temporary file, so a reader never sees half a number. */
static int write_port_file(const char *path, int port)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return rt_error(RT_ERR_IO, "--port-file %s: %s", path, strerror(errno));
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return rt_error(RT_ERR_IO, "--port-file %s: %s", path, strerror(errno));
    return 0;
}

/* SIGTERM and SIGINT write their number into this pipe; the main thread
 * waits on it.  A handler, not a blocked mask and sigwait: some threads
 * (sanitizer runtimes, library constructors) start before main() and would
 * not inherit the mask, and a signal delivered to one of them would kill the
 * process in the middle of the drain. */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
    unsigned char s = (unsigned char)sig;
    ssize_t n = write(stop_pipe[1], &s, 1); /* async-signal-safe; a full pipe is fine */
    (void)n;
}

static int install_signal_handlers(void)
{
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return rt_error(RT_ERR_INTERNAL, "cannot create the signal pipe: %s", strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Waits up to one second for a stop signal; returns its number or 0. */
static int wait_stop_signal(void)
{
    struct pollfd p = {.fd = stop_pipe[0], .events = POLLIN};
    if (poll(&p, 1, 1000) <= 0) return 0;
    unsigned char s = 0;
    return read(stop_pipe[0], &s, 1) == 1 ? s : 0;
}

static int serve(const rd_config *cfg)
{

    rd_server srv = {.cfg = *cfg};
    rd_http *http = NULL;
    int port = 0;
    rd_webhook_policy policy = {.allow = srv.cfg.webhook_allow,
                                .n_allow = srv.cfg.n_webhook_allow,
                                .allow_private = srv.cfg.webhook_allow_private,
                                .timeout_ms = srv.cfg.webhook_timeout_ms};
    int err = install_signal_handlers();
    if (!err && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        err = rt_error(RT_ERR_INTERNAL, "cannot initialise libcurl");
    if (!err) err = rt_init("retouchd");
    int lock_fd = -1;
    if (!err) err = rd_datadir_init(srv.cfg.data_dir);
    if (!err) err = rd_datadir_lock(srv.cfg.data_dir, &lock_fd);
    if (!err) err = open_store(&srv.cfg, &srv.store);
    if (!err) err = rd_datadir_spool(srv.cfg.data_dir, srv.spool_dir, sizeof srv.spool_dir);
    srv.spool_budget.max_total = srv.cfg.max_spool_bytes;
    srv.spool_budget.max_unauth = srv.cfg.max_unauth_spool_bytes;
    srv.spool_budget.min_free = srv.cfg.min_free_bytes;
    if (!err) err = rd_metrics_create(&srv.metrics);
    srv.job_threads = rd_config_job_threads(&srv.cfg);
    /* Recovery before anything runs: jobs a killed process left active go
     * back to the queue, and folders it left half-made are removed. */
    if (!err) err = rd_workers_recover(&srv);
    if (!err) err = rd_retention_sweep(&srv);
    if (!err)
        err = rd_webhooks_start(srv.store, &policy, srv.cfg.webhook_retry_base_ms, srv.metrics,
                                &srv.webhooks);
    if (!err) err = rd_workers_start(&srv, &srv.workers);
    if (!err) err = rd_http_start(&srv, &port, &http);
    if (!err && srv.cfg.port_file[0]) err = write_port_file(srv.cfg.port_file, port);

    int rc = 0;
    if (err) {
        rd_log(RD_LOG_ERROR, "server.failed", NULL, "%s", rt_error_message());
        rc = EXIT_FAILED;
    } else {
        rd_log_with(RD_LOG_INFO, "server.started", NULL,
                    json_pack("{s:s, s:i, s:s, s:i, s:i}", "host", srv.cfg.listen_host, "port",
                              port, "data_dir", srv.cfg.data_dir, "workers", srv.cfg.workers,
                              "threads_per_job", srv.job_threads),
                    "retouchd listening on %s:%d", srv.cfg.listen_host, port);
        int signal_number = 0;
        for (unsigned tick = 1;; tick++) {
            if ((signal_number = wait_stop_signal())) break;
            int r = rd_retention_run(&srv, tick % PURGE_EVERY_TICKS == 0);
            if (r < 0) rd_log(RD_LOG_ERROR, "server.retention", NULL, "%s", rt_error_message());
            if (tick % SWEEP_EVERY_TICKS == 0 && rd_workers_sweep(srv.workers))
                rd_log(RD_LOG_ERROR, "server.sweep", NULL, "%s", rt_error_message());
        }
        rd_log(RD_LOG_INFO, "server.stopping", NULL,
               "%s: no new connections; letting running jobs finish (up to %lld ms)",
               strsignal(signal_number), (long long)srv.cfg.shutdown_timeout_ms);
        rd_http_quiesce(http);
    }
    /* Reverse order.  Workers drain before the webhook thread stops (a job
     * that ends queues a webhook) and before HTTP stops (clients may poll
     * status while jobs finish). */
    int64_t drain_until = rd_now_ms() + srv.cfg.shutdown_timeout_ms;
    if (!err) rd_http_drain(http, rd_now_ms()); /* new uploads get 503 from here */
    rd_workers_drain(srv.workers, srv.cfg.shutdown_timeout_ms);
    /* Uploads being received are answered, not cut off, within the same
     * timeout (their jobs wait for the next start). */
    if (!err) rd_http_drain(http, drain_until);
    rd_webhooks_stop(srv.webhooks);
    if (rd_workers_abandoned(srv.workers)) {
        /* Threads still in the engine use the store and the image buffers:
         * nothing is freed; their jobs are back in the queue. */
        rd_http_stop(http);
        rd_log(RD_LOG_INFO, "server.stopped", NULL, "stopped (jobs given back)");
        fflush(NULL);
        _exit(0);
    }
    rd_http_stop(http);
    rd_workers_destroy(srv.workers);
    rd_metrics_destroy(srv.metrics);
    rd_store_close(srv.store);
    if (!err) rd_log(RD_LOG_INFO, "server.stopped", NULL, "stopped cleanly");
    if (lock_fd >= 0) close(lock_fd);
    rt_shutdown();
    curl_global_cleanup();
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    for (int i = 0; i < 2; i++)
        if (stop_pipe[i] >= 0) close(stop_pipe[i]);
    return rc;
}

int main(int argc, char **argv)
{
    /* Everything retouchd writes (store, uploads, results) is the operator's
     * alone: photos and job ids are not for other local users. */
    umask(077);
    rd_config cfg;
    rd_config_defaults(&cfg);
    if (rd_config_from_env(&cfg)) {
        fprintf(stderr, "retouchd: %s\n", rt_error_message());
        return EXIT_USAGE;
    }
    int next = argc;
    int r = rd_config_from_args(&cfg, argc, argv, &next);
    if (r < 0) {
        fprintf(stderr, "retouchd: %s\n", rt_error_message());
        return EXIT_USAGE;
    }
    if (r > 0) return 0;
    rd_log_set_level(cfg.log_level);
    if (next < argc) {
        if (strcmp(argv[next], "token") == 0) return token_command(&cfg, argc - next, argv + next);
        fprintf(stderr,
                "retouchd: unknown command '%s': the only command is 'token'; without one, "
                "retouchd serves (see retouchd --help)\n",
                argv[next]);
        return EXIT_USAGE;
    }
    return serve(&cfg);
}
