/* Expiry of results and clean-up at start (see retention.h). */
#include "server/retention.h"

#include "core/error.h"
#include "server/clock.h"
#include "server/datadir.h"
#include "server/log.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rd_retention_run(rd_server *srv, int purge)
{
    int64_t now = rd_now_ms();
    char **ids = NULL;
    size_t n = 0;
    int err = rd_store_job_expire(srv->store, now, &ids, &n);
    if (err) return err;
    /* The store says expired first: a crash before the files are deleted
     * leaves files that the sweep at the next start removes. */
    for (size_t i = 0; i < n; i++) {
        if (rd_datadir_remove_job(srv->cfg.data_dir, ids[i]))
            rd_log(RD_LOG_WARN, "job.expire", ids[i], "%s", rt_error_message());
        else
            rd_log(RD_LOG_DEBUG, "job.expired", ids[i], "results deleted");
        free(ids[i]);
    }
    free(ids);
    if (purge && (err = rd_store_purge(srv->store, now, RD_IDEMPOTENCY_WINDOW_MS, RD_TOMBSTONE_MS)))
        return err;
    return (int)n;
}

static int is_job_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
              (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '_'))
            return 0;
    return n > 0 && n < 32;
}

int rd_retention_sweep(rd_server *srv)
{
    int err = rd_datadir_clear_spool(srv->cfg.data_dir);
    if (err) return err;
    char jobs[PATH_MAX];
    if ((err = rd_datadir_jobs(srv->cfg.data_dir, jobs, sizeof jobs))) return err;
    DIR *d = opendir(jobs);
    if (!d) return rt_error(RT_ERR_IO, "cannot open %s", jobs);
    /* Collect the names first: deleting while reading a folder may skip
     * entries. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_job_id(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) break;
            names = p;
        }
        if ((names[n] = strdup(e->d_name))) n++;
    }
    closedir(d);
    int removed = 0;
    for (size_t i = 0; i < n; i++) {
        rd_job job;
        int gone = 0;
        int r = rd_store_job_get(srv->store, names[i], &job);
        if (r == RT_ERR_NOT_FOUND) {
            gone = 1;
        } else if (r == 0) {
            gone = job.expired || job.state == RD_JOB_FAILED;
            if (job.state == RD_JOB_COMPLETED && !gone) {
                char input[PATH_MAX];
                if (!rd_datadir_job_file(srv->cfg.data_dir, job.id, "input", input, sizeof input))
                    unlink(input);
            }
            rd_job_clear(&job);
        }
        if (gone && rd_datadir_remove_job(srv->cfg.data_dir, names[i]) == 0) removed++;
        free(names[i]);
    }
    free(names);
    if (removed)
        rd_log(RD_LOG_INFO, "server.sweep", NULL, "deleted %d job folder(s) left by the last run",
               removed);
    return 0;
}
