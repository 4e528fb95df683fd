/* glasses_draw: the glasses evidence of each face and its lens regions, to
 * look at and to calibrate face/glasses.c (not a test).
 *
 *   glasses_draw [--out DIR] IMAGE...
 *
 * Prints one line per face: the probability, the bridge and rim evidence;
 * writes <DIR>/<name>_lens<i>.png: the eye band with the lens outlines
 * (green: a rim was found on the ray, red: the ray's weak guess).
 */
#include "core/error.h"
#include "face/analysis.h"
#include "face/glasses.h"
#include "io/image_io.h"
#include "retouch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void draw_lenses(const rt_image *im, const rt_face *f, const char *path)
{
    rt_glasses_lenses gl;
    if (rt_face_glasses_lenses(im, f, &gl)) return;
    float iod = gl.iod_px;
    float cx = 0.5f * (gl.lens[0].pupil.x + gl.lens[1].pupil.x),
          cy = 0.5f * (gl.lens[0].pupil.y + gl.lens[1].pupil.y);
    int x0 = (int)fmaxf(0, cx - 1.3f * iod), x1 = (int)fminf(im->width, cx + 1.3f * iod);
    int y0 = (int)fmaxf(0, cy - 0.8f * iod), y1 = (int)fminf(im->height, cy + 0.8f * iod);
    int w = x1 - x0, h = y1 - y0;
    if (w < 2 || h < 2) return;
    rt_image *out;
    if (rt_image_create(w, h, 3, &out)) return;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                rt_image_plane(out, c)[(size_t)y * w + x] =
                    rt_image_plane(im, c)[(size_t)(y + y0) * im->width + x + x0];
    /* the lens interior tinted, the boundary drawn per ray */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float wt = 0;
            for (int e = 0; e < 2; e++)
                wt = fmaxf(wt, rt_glasses_lens_weight(&gl.lens[e], gl.roll, x + x0 + 0.5f,
                                                      y + y0 + 0.5f, 0));
            if (wt > 0)
                rt_image_plane(out, 2)[(size_t)y * w + x] =
                    0.7f * rt_image_plane(out, 2)[(size_t)y * w + x] + 0.3f;
        }
    for (int e = 0; e < 2; e++) {
        const rt_glasses_lens *L = &gl.lens[e];
        for (int k = 0; k < RT_LENS_RAYS; k++) {
            float a = (float)(2 * M_PI * k / RT_LENS_RAYS), c = cosf(gl.roll), n = sinf(gl.roll);
            float u = L->radius[k] * cosf(a), v = L->radius[k] * sinf(a);
            float px = L->pupil.x + c * u + n * v - x0, py = L->pupil.y - n * u + c * v - y0;
            int strong = L->rim[k] > 1.0f;
            for (int j = -1; j <= 1; j++)
                for (int i = -1; i <= 1; i++) {
                    int xx = (int)px + i, yy = (int)py + j;
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    rt_image_plane(out, 0)[(size_t)yy * w + xx] = strong ? 0 : 1;
                    rt_image_plane(out, 1)[(size_t)yy * w + xx] = strong ? 1 : 0;
                    rt_image_plane(out, 2)[(size_t)yy * w + xx] = 0;
                }
        }
    }
    rt_planes planes = rt_planes_of(out, NULL);
    rt_encode_params ep = {.format = RT_FMT_PNG, .bits = 8};
    if (rt_encode_file(&planes, &ep, path)) fprintf(stderr, "%s: %s\n", path, rt_error_message());
    rt_image_destroy(out);
}

int main(int argc, char **argv)
{
    rt_init(argv[0]);
    const char *outdir = ".";
    rt_face_models *models;
    if (rt_face_models_load(NULL, &models)) {
        fprintf(stderr, "%s\n", rt_error_message());
        return 1;
    }
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--out") && a + 1 < argc) {
            outdir = argv[++a];
            continue;
        }
        rt_decoded *d;
        if (rt_decode(argv[a], 0, &d)) {
            fprintf(stderr, "%s\n", rt_error_message());
            continue;
        }
        rt_face_analysis *an;
        rt_face_pyramid *pyr;
        if (rt_face_analysis_create(d->image, models, NULL, NULL, &an)) {
            fprintf(stderr, "%s: %s\n", argv[a], rt_error_message());
            rt_decoded_destroy(d);
            continue;
        }
        if (rt_face_pyramid_create(d->image, &pyr)) return 1;
        char name[256], path[1024];
        const char *base = strrchr(argv[a], '/');
        snprintf(name, sizeof name, "%s", base ? base + 1 : argv[a]);
        char *dot_ = strrchr(name, '.');
        if (dot_) *dot_ = '\0';
        for (int i = 0; i < an->nfaces; i++) {
            rt_glasses_evidence ev;
            rt_face_glasses_evidence(pyr, &an->faces[i], &ev);
            printf(
                "%-34s %d iod %4.0f p %.2f bridge %.2f rim %.2f %.2f sect lat %.2f %.2f low %.2f "
                "%.2f nas %.2f %.2f up %.2f %.2f\n",
                name, i, ev.iod_px, an->faces[i].glasses, ev.bridge, ev.rim[0], ev.rim[1],
                ev.sector[0][0], ev.sector[1][0], ev.sector[0][1], ev.sector[1][1], ev.sector[0][2],
                ev.sector[1][2], ev.sector[0][3], ev.sector[1][3]);
            snprintf(path, sizeof path, "%s/%s_lens%d.png", outdir, name, i);
            draw_lenses(d->image, &an->faces[i], path);
        }
        rt_face_pyramid_destroy(pyr);
        rt_face_analysis_destroy(an);
        rt_decoded_destroy(d);
    }
    rt_face_models_destroy(models);
    return 0;
}
