/* Per-stage timings of one job, as JSON: decode, parse, each task, encode,
 * and the process's peak RSS.  Run one scenario per process (bench/run does)
 * so the RSS belongs to that scenario.
 *
 *   engine_bench INPUT PAYLOAD.json OUTPUT [--threads N]
 */
#include "retouch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_MARKS 256

typedef struct marks {
    double t[MAX_MARKS];
    double cpu[MAX_MARKS]; /* process CPU time (all threads), ms */
    char what[MAX_MARKS][64];
    int n;
} marks;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Records a mark whenever the step or the running plugin changes. */
static int on_progress(void *user, rt_step step, const char *plugin, double progress)
{
    marks *m = user;
    char what[64];
    snprintf(what, sizeof what, "%s%s%s", rt_step_name(step), *plugin ? ":" : "", plugin);
    if (m->n == 0 || strcmp(m->what[m->n - 1], what) != 0) {
        if (m->n < MAX_MARKS) {
            m->t[m->n] = now();
            m->cpu[m->n] = cpu_now();
            snprintf(m->what[m->n], sizeof m->what[m->n], "%s", what);
            m->n++;
        }
    }
    (void)progress;
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) s[n] = '\0', *len = (size_t)n;
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: engine_bench INPUT PAYLOAD.json OUTPUT [--threads N] "
                        "[--warm]\n");
        return 2;
    }
    int threads = 0, warm = 0;
    for (int a = 4; a < argc; a++) {
        if (!strcmp(argv[a], "--threads") && a + 1 < argc)
            threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--warm"))
            warm = 1;
    }
    double t0 = now();
    if (rt_init(argv[0])) return 1;
    double t_init = now();
    size_t len;
    char *json = slurp(argv[2], &len);
    if (!json) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    rt_payload *p;
    if (rt_payload_parse(json, len, &p)) {
        fprintf(stderr, "%s\n", rt_last_error());
        return 1;
    }
    double t_parse = now();
    marks m = {0};
    rt_job_options opt = {.threads = threads, .progress = on_progress, .progress_user = &m};
    rt_job *job;
    /* --warm: time a second run in the same process, as a server worker
     * runs its jobs (models loaded, buffers recycled, pages touched) */
    for (int run = 0; run <= warm; run++) {
        m.n = 0;
        t_parse = now();
        if (rt_job_create(p, &opt, &job) || rt_job_run(job, argv[1]) ||
            rt_job_write(job, argv[3])) {
            fprintf(stderr, "%s\n", rt_last_error());
            return 1;
        }
        if (run < warm) rt_job_destroy(job);
    }
    double t_end = now(), cpu_end = cpu_now();
    rt_job_destroy(job);
    rt_payload_destroy(p);
    free(json);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"input\": \"%s\", \"payload\": \"%s\", \"init_ms\": %.2f, \"parse_ms\": %.3f, "
           "\"stages\": [",
           argv[1], argv[2], t_init - t0, t_parse - t_init);
    /* each mark lasts until the next one (the last until the end); a step
     * that comes back (processing, analysing, processing) is listed twice */
    for (int i = 0; i < m.n; i++)
        printf("%s[\"%s\", %.2f]", i ? ", " : "", m.what[i],
               (i + 1 < m.n ? m.t[i + 1] : t_end) - m.t[i]);
    /* the same stages in CPU time: what a stage costs whatever the load */
    printf("], \"stages_cpu\": [");
    for (int i = 0; i < m.n; i++)
        printf("%s[\"%s\", %.2f]", i ? ", " : "", m.what[i],
               (i + 1 < m.n ? m.cpu[i + 1] : cpu_end) - m.cpu[i]);
    printf("], \"job_ms\": %.2f, \"peak_rss_mb\": %.1f}\n", t_end - t_parse, ru.ru_maxrss / 1024.0);
    return 0;
}
