/* eyes_draw IMAGE OUT_PREFIX: writes, per face, 100 % crops of each eye
 * and the mouth with the refined regions tinted (sclera red, visible iris
 * green, teeth blue) next to the plain crop, as OUT_PREFIX_f<face>_<part>.png.
 * A tool to look at (not a test). */
#include "core/error.h"
#include "face/analysis.h"
#include "face/eye_regions.h"
#include "face/mouth_regions.h"
#include "io/image_io.h"
#include "retouch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void save_pair(const rt_image *img, int x0, int y0, int w, int h, const float *m,
                      const float tint[3], const char *path)
{
    rt_image *o;
    if (rt_image_create(2 * w + 4, h, 3, &o)) return;
    for (int c = 0; c < 3; c++)
        for (int j = 0; j < h; j++)
            for (int i = 0; i < w; i++) {
                float v = rt_image_plane(img, c)[(size_t)(y0 + j) * img->width + x0 + i];
                float a = 0.55f * m[(size_t)j * w + i];
                rt_image_plane(o, c)[(size_t)j * o->width + i] = v;
                rt_image_plane(o, c)[(size_t)j * o->width + w + 4 + i] = v + a * (tint[c] - v);
            }
    rt_planes p = rt_planes_of(o, NULL);
    rt_encode_params ep = {.format = RT_FMT_PNG, .bits = 8};
    if (rt_encode_file(&p, &ep, path)) fprintf(stderr, "%s\n", rt_error_message());
    rt_image_destroy(o);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: eyes_draw IMAGE OUT_PREFIX\n");
        return 2;
    }
    rt_init(argv[0]);
    rt_face_models *models;
    rt_decoded *d;
    rt_face_analysis *a;
    if (rt_face_models_load(NULL, &models) || rt_decode(argv[1], 0, &d) ||
        rt_face_analysis_create(d->image, models, NULL, NULL, &a)) {
        fprintf(stderr, "%s\n", rt_error_message());
        return 1;
    }
    const rt_image *img = d->image;
    char path[1024];
    for (int f = 0; f < a->nfaces; f++) {
        const rt_face *face = &a->faces[f];
        for (int e = 0; e < 2; e++) {
            rt_eye_geometry g;
            rt_eye_geometry_init(face, e, &g);
            rt_eye_refine_iris(img, &g);
            int x0, y0, w, h;
            if (!rt_eye_bounds(&g, (RT_EYE_OPENING_SLACK_MM + 0.3f) * g.px_per_mm + 2, img->width,
                               img->height, &x0, &y0, &w, &h))
                continue;
            float *m = malloc((size_t)w * h * sizeof *m), *ir = malloc((size_t)w * h * sizeof *ir);
            rt_eye_sclera_mask(img, &g, x0, y0, w, h, m, (size_t)w);
            rt_eye_iris_mask(&g, 1.0f, x0, y0, w, h, ir, (size_t)w);
            for (size_t i = 0; i < (size_t)w * h; i++)
                m[i] = m[i] > ir[i] ? m[i] : -ir[i];
            /* sclera red, iris green (negative values) */
            float red[3] = {1, 0, 0};
            for (size_t i = 0; i < (size_t)w * h; i++)
                if (m[i] < 0) m[i] = 0; /* keep it simple: sclera only in this pair */
            snprintf(path, sizeof path, "%s_f%d_eye%d.png", argv[2], f, e);
            save_pair(img, x0, y0, w, h, m, red, path);
            float green[3] = {0, 1, 0};
            snprintf(path, sizeof path, "%s_f%d_iris%d.png", argv[2], f, e);
            save_pair(img, x0, y0, w, h, ir, green, path);
            printf(
                "face %d eye %d: openness %.2f iris r %.1f -> %.1f (refined %d) at %d,%d %dx%d\n",
                f, e, g.openness, face->eye[e].iris_radius, g.iris_radius, g.iris_refined, x0, y0,
                w, h);
            free(m);
            free(ir);
        }
        int x0, y0, w, h;
        if (rt_mouth_bounds(face, RT_MOUTH_SLACK_MM + 0.3f, img->width, img->height, &x0, &y0, &w, &h)) {
            float *m = malloc((size_t)w * h * sizeof *m);
            rt_mouth_teeth_mask(img, face, x0, y0, w, h, m, (size_t)w);
            float blue[3] = {0, 0.3f, 1};
            snprintf(path, sizeof path, "%s_f%d_mouth.png", argv[2], f);
            save_pair(img, x0, y0, w, h, m, blue, path);
            printf("face %d mouth at %d,%d %dx%d openness %.2f\n", f, x0, y0, w, h,
                   rt_mouth_openness(face));
            free(m);
        }
    }
    rt_face_analysis_destroy(a);
    rt_decoded_destroy(d);
    rt_face_models_destroy(models);
    return 0;
}
