/* face_bench: the whole face analysis of one image, decode excluded, as
 * JSON on stdout: per-stage times (median and minimum over the runs), the
 * first run (cold caches), model loading, faces found, and memory.
 *
 *   face_bench [--runs N] IMAGE
 *
 * CPU: user + system time per run, all threads together (robust when other
 * processes share the cores: wall times then say more about them).
 * Memory: peak resident set of the process (getrusage), and the analysis'
 * own peak over what the decoded image and the models already held
 * (VmHWM reset through /proc/self/clear_refs before the runs).
 */
#include "core/error.h"
#include "face/analysis.h"
#include "io/image_io.h"
#include "retouch.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_RUNS 64

/* VmRSS or VmHWM of this process, in MB (0 when /proc is unavailable). */
static double proc_status_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    double mb = 0;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') {
            mb = atof(line + n + 1) / 1024.0;
            break;
        }
    fclose(f);
    return mb;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0); 0 on success. */
static int reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* User + system CPU seconds of the process so far. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double minimum(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

int main(int argc, char **argv)
{
    int runs = 5;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else
            path = argv[i];
    }
    if (!path || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: face_bench [--runs N (1-%d)] IMAGE\n", MAX_RUNS);
        return 2;
    }
    if (rt_init(argv[0])) return 1;
    rt_decoded *d;
    if (rt_decode(path, 0, &d)) {
        fprintf(stderr, "%s\n", rt_error_message());
        return 1;
    }
    double t = omp_get_wtime();
    rt_face_models *models;
    if (rt_face_models_load(NULL, &models)) {
        fprintf(stderr, "%s\n", rt_error_message());
        return 1;
    }
    double load_ms = (omp_get_wtime() - t) * 1e3;
    double rss_before = proc_status_mb("VmRSS");
    int peak_reset = reset_peak_rss() == 0;

    /* stage times of every run; run 0 is the cold one, kept apart */
    enum { PYR, DET, MESH, IRIS, ATTR, GLASSES, MASK, VIS, TOTAL, NSTAGE };
    static const char *const names[NSTAGE] = {"pyramid",     "detect",     "mesh",
                                              "iris",        "attributes", "glasses",
                                              "person_mask", "visibility", "total"};
    double ms[NSTAGE][MAX_RUNS];
    double first_ms = 0, cpu_start = 0;
    int faces = -1;
    for (int r = 0; r <= runs; r++) {
        if (r == 1) cpu_start = cpu_seconds();
        rt_face_analysis *a;
        if (rt_face_analysis_create(d->image, models, NULL, NULL, &a)) {
            fprintf(stderr, "%s\n", rt_error_message());
            return 1;
        }
        if (r == 0) {
            first_ms = a->ms.total;
            faces = a->nfaces;
        } else {
            const double v[NSTAGE] = {a->ms.pyramid,     a->ms.detect,     a->ms.mesh,
                                      a->ms.iris,        a->ms.attributes, a->ms.glasses,
                                      a->ms.person_mask, a->ms.visibility, a->ms.total};
            for (int s = 0; s < NSTAGE; s++)
                ms[s][r - 1] = v[s];
        }
        rt_face_analysis_destroy(a);
    }
    double cpu_ms = (cpu_seconds() - cpu_start) * 1e3 / runs;
    double peak_hwm = proc_status_mb("VmHWM");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    printf("{\n  \"image\": \"%s\",\n  \"width\": %d, \"height\": %d, \"megapixels\": %.1f,\n",
           path, d->image->width, d->image->height,
           (double)d->image->width * d->image->height / 1e6);
    printf("  \"threads\": %d, \"runs\": %d, \"faces\": %d,\n", omp_get_max_threads(), runs, faces);
    printf("  \"models_load_ms\": %.1f, \"first_run_ms\": %.1f, \"cpu_ms_per_run\": %.1f,\n",
           load_ms, first_ms, cpu_ms);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) == 3) printf("  \"load_average\": %.2f,\n", load[0]);
    for (int k = 0; k < 2; k++) {
        printf("  \"%s_ms\": {", k ? "min" : "median");
        for (int s = 0; s < NSTAGE; s++)
            printf("%s\"%s\": %.1f", s ? ", " : "", names[s],
                   k ? minimum(ms[s], runs) : median(ms[s], runs));
        printf("},\n");
    }
    printf("  \"rss_mb\": {\"image_and_models\": %.0f, \"peak_process\": %.0f", rss_before,
           ru.ru_maxrss / 1024.0);
    if (peak_reset) printf(", \"analysis_peak_increase\": %.0f", peak_hwm - rss_before);
    printf("},\n  \"person_mask_mb\": %.1f\n}\n",
           (double)d->image->width * d->image->height / (1024.0 * 1024.0));
    rt_face_models_destroy(models);
    rt_decoded_destroy(d);
    return 0;
}
