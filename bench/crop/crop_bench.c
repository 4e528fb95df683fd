/* crop_bench: Crop's AI straightening of one image beyond the face analysis
 * (scene lines, body cues, fusion), and the rotation that applies it,
 * next to libvips' rotate of the same image in the same run; JSON on stdout.
 *
 *   crop_bench [--runs N] [--angle DEG] IMAGE
 *
 * Times are wall-clock medians over the runs (minimum beside them).  The
 * libvips peer rotates the decoded 8-bit image by the same angle (bilinear,
 * vips_rotate) and renders it to memory.  Ratios: ours / vips.
 */
#include "core/error.h"
#include "face/analysis.h"
#include "face/body_tilt.h"
#include "filters/crop_geometry.h"
#include "io/image_io.h"
#include "retouch.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#define MAX_RUNS 64

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

int main(int argc, char **argv)
{
    int runs = 5;
    double angle = 4.0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--angle") && i + 1 < argc)
            angle = atof(argv[++i]);
        else
            path = argv[i];
    }
    if (!path || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: crop_bench [--runs N (1-%d)] [--angle DEG] IMAGE\n", MAX_RUNS);
        return 2;
    }
    if (rt_init(argv[0])) return 1;
    rt_decoded *d;
    rt_face_models *models;
    if (rt_decode(path, 0, &d) || rt_face_models_load(NULL, &models)) {
        fprintf(stderr, "%s\n", rt_error_message());
        return 1;
    }
    const rt_image *im = d->image;
    double t0 = omp_get_wtime();
    rt_face_analysis *a;
    if (rt_face_analysis_create(im, models, NULL, NULL, &a)) {
        fprintf(stderr, "%s\n", rt_error_message());
        return 1;
    }
    double face_ms = (omp_get_wtime() - t0) * 1e3;

    VipsImage *vin = vips_image_new_from_file(path, "access", VIPS_ACCESS_RANDOM, NULL);
    if (!vin) {
        fprintf(stderr, "vips: %s\n", vips_error_buffer());
        return 1;
    }
    /* decode once, outside the timing, as ours is */
    VipsImage *vmem = vips_image_copy_memory(vin);
    g_object_unref(vin);
    if (!vmem) return 1;

    double ai[MAX_RUNS], apply[MAX_RUNS], vrot[MAX_RUNS];
    rt_tilt_fusion fused = {0};
    rt_tilt_cue cues[RT_CUE_COUNT];
    for (int r = 0; r < runs; r++) {
        double t = omp_get_wtime();
        if (rt_straighten_ai(im, a, cues, &fused)) {
            fprintf(stderr, "%s\n", rt_error_message());
            return 1;
        }
        ai[r] = (omp_get_wtime() - t) * 1e3;

        t = omp_get_wtime();
        rt_crop_request req = {.width = im->width,
                               .height = im->height,
                               .angle_deg = angle,
                               .aspect = (double)im->width / im->height,
                               .area = 1,
                               .center_x = 0.5,
                               .center_y = 0.5};
        rt_rotate_crop rc;
        rt_crop_geometry(&req, &rc);
        rt_image *out;
        if (rt_rotate_crop_image(im, NULL, &rc, &out, NULL)) {
            fprintf(stderr, "%s\n", rt_error_message());
            return 1;
        }
        rt_image_destroy(out);
        apply[r] = (omp_get_wtime() - t) * 1e3;

        t = omp_get_wtime();
        VipsImage *rot;
        if (vips_rotate(vmem, &rot, angle, NULL)) {
            fprintf(stderr, "vips: %s\n", vips_error_buffer());
            return 1;
        }
        size_t len;
        void *buf = vips_image_write_to_memory(rot, &len);
        g_object_unref(rot);
        g_free(buf);
        vrot[r] = (omp_get_wtime() - t) * 1e3;
    }
    double ai_min = ai[0], vrot_min = vrot[0];
    for (int r = 1; r < runs; r++) {
        ai_min = ai[r] < ai_min ? ai[r] : ai_min;
        vrot_min = vrot[r] < vrot_min ? vrot[r] : vrot_min;
    }
    double ai_ms = median(ai, runs), apply_ms = median(apply, runs), vrot_ms = median(vrot, runs);
    printf("{\n  \"image\": \"%s\",\n  \"width\": %d,\n  \"height\": %d,\n  \"runs\": %d,\n"
           "  \"threads\": %d,\n  \"faces\": %d,\n  \"face_analysis_ms\": %.1f,\n"
           "  \"ai_straighten_ms\": %.1f,\n  \"ai_straighten_min_ms\": %.1f,\n"
           "  \"ai_budget_ms\": 300,\n  \"predicted_angle\": %.3f,\n  \"confidence\": %.3f,\n"
           "  \"rotate_crop_ms\": %.1f,\n  \"vips_rotate_ms\": %.1f,\n  \"vips_rotate_min_ms\": "
           "%.1f,\n"
           "  \"ratio_ai_to_vips_rotate\": %.3f,\n  \"ratio_rotate_crop_to_vips_rotate\": %.3f,\n"
           "  \"ratio_ai_plus_rotate_to_vips_rotate\": %.3f\n}\n",
           path, im->width, im->height, runs, omp_get_max_threads(), a->nfaces, face_ms, ai_ms,
           ai_min, fused.angle_deg, fused.confidence, apply_ms, vrot_ms, vrot_min, ai_ms / vrot_ms,
           apply_ms / vrot_ms, (ai_ms + apply_ms) / vrot_ms);
    g_object_unref(vmem);
    rt_face_analysis_destroy(a);
    rt_face_models_destroy(models);
    rt_decoded_destroy(d);
    return 0;
}
