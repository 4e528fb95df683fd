/* Latency of each model in the C runtime, as JSON on stdout.
 *
 *   nn_bench [--runs N] [--inputs DIR] [--profile] [--only NAME]
 *
 * Every model of tests/nn/golden_cases.h runs on its seeded random input
 * (written to DIR/<model>.input.bin with --inputs, so bench.js times
 * TensorFlow.js on the very same floats): 3 warm-up runs, then N timed runs;
 * the median and the minimum are reported.  --profile prints per-op times
 * to stderr.
 */
#include "golden_cases.h"
#include "core/error.h"
#include "nn/nn.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int runs = 30, profile = 0;
    const char *inputs_dir = NULL, *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--inputs") == 0 && i + 1 < argc)
            inputs_dir = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--profile") == 0)
            profile = 1;
        else {
            fprintf(stderr, "usage: nn_bench [--runs N] [--inputs DIR] [--profile] [--only M]\n");
            return 2;
        }
    }
    if (runs < 1) runs = 1;
    double *times = malloc((size_t)runs * sizeof *times);
    if (!times) return 1;
    printf("{\n  \"runtime\": \"retouch nn (C)\",\n  \"threads\": %d,\n  \"runs\": %d,\n"
           "  \"models\": [",
           omp_get_max_threads(), runs);
    int first = 1;
    for (size_t m = 0; m < GOLDEN_MODEL_COUNT; m++) {
        const golden_model *gm = &golden_models[m];
        if (only && strcmp(only, gm->name) != 0) continue;
        char path[1024];
        nn_model *model;
        double t0 = now_ms();
        if (nn_model_path(gm->file, path, sizeof path) || nn_model_load(path, &model)) {
            fprintf(stderr, "nn_bench: %s\n", rt_error_message());
            return 1;
        }
        const double load_ms = now_ms() - t0;
        const nn_tensor_info *in = nn_model_input(model, 0);
        float *x = malloc(in->size * sizeof *x);
        if (!x) return 1;
        golden_random_input(x, in->size, gm->seed, gm->lo, gm->hi);
        if (inputs_dir) {
            snprintf(path, sizeof path, "%s/%s.input.bin", inputs_dir, gm->name);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(x, sizeof *x, in->size, f) != in->size || fclose(f)) {
                fprintf(stderr, "nn_bench: cannot write %s\n", path);
                return 1;
            }
        }
        float *outs[8] = {0};
        for (int o = 0; o < nn_model_output_count(model); o++)
            outs[o] = malloc(nn_model_output(model, o)->size * sizeof(float));
        for (int i = 0; i < 3; i++)
            nn_model_run(model, (const float *const *)&x, outs);
        if (profile) nn_model_profile(model, 1);
        for (int i = 0; i < runs; i++) {
            t0 = now_ms();
            nn_model_run(model, (const float *const *)&x, outs);
            times[i] = now_ms() - t0;
        }
        if (profile) {
            fprintf(stderr, "== %s (per-op totals over %d runs)\n", gm->name, runs);
            nn_model_profile_print(model, stderr);
        }
        qsort(times, (size_t)runs, sizeof *times, compare_double);
        printf("%s\n    {\"name\": \"%s\", \"file\": \"%s\", \"input\": [1, %d, %d, 3], "
               "\"ms_median\": %.3f, \"ms_min\": %.3f, \"load_ms\": %.1f, \"arena_kb\": %zu, "
               "\"weights_kb\": %zu}",
               first ? "" : ",", gm->name, gm->file, gm->size, gm->size, times[runs / 2], times[0],
               load_ms, nn_model_arena_bytes(model) / 1024, nn_model_weight_bytes(model) / 1024);
        first = 0;
        for (int o = 0; o < 8; o++)
            free(outs[o]);
        free(x);
        nn_model_destroy(model);
    }
    printf("\n  ]\n}\n");
    free(times);
    return 0;
}
