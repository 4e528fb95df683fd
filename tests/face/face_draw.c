/* face_draw: runs the face analysis on photos and draws what it found, to
 * look at (ALGORITHMS.md: "look at your output").
 *
 *   face_draw [--indices] [--landmarks] [--out DIR] IMAGE...
 *
 * For each image writes into DIR (default .):
 *   <name>_faces.png    the photo with boxes, the 10 API landmarks (numbered)
 *                       and the person mask's outline
 *   <name>_face<i>.png  each face enlarged: region masks tinted (skin green,
 *                       sclera cyan, iris blue, lips red, mouth yellow, brows
 *                       magenta, nostrils orange), mesh points, iris circles
 *   <name>_person.png   the person mask over the darkened photo
 * --indices numbers every mesh point on the face crops, untinted (to read
 * index sets).  The skin, lips and mouth tints are the visible regions
 * (face/skin.h: what covers the face taken out; glasses frame evidence
 * tinted dark blue); --landmarks draws the landmark regions instead (the
 * "before" of the visibility work).
 * Prints one line of JSON per image with the faces' numbers.
 */
#include "core/error.h"
#include "face/analysis.h"
#include "face/landmarks.h"
#include "face/regions.h"
#include "face/skin.h"
#include "filters/resample.h"
#include "io/image_io.h"
#include "retouch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char digits[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};

static void put(rt_image *im, int x, int y, const float c[3])
{
    if (x < 0 || y < 0 || x >= im->width || y >= im->height) return;
    for (int k = 0; k < 3; k++)
        rt_image_plane(im, k)[(size_t)y * im->width + x] = c[k];
}

static void dot(rt_image *im, float x, float y, int r, const float c[3])
{
    for (int j = -r; j <= r; j++)
        for (int i = -r; i <= r; i++)
            if (i * i + j * j <= r * r) put(im, (int)floorf(x) + i, (int)floorf(y) + j, c);
}

static void line(rt_image *im, float ax, float ay, float bx, float by, const float c[3])
{
    int n = (int)ceilf(fmaxf(fabsf(bx - ax), fabsf(by - ay))) + 1;
    for (int i = 0; i <= n; i++)
        put(im, (int)floorf(ax + (bx - ax) * i / n), (int)floorf(ay + (by - ay) * i / n), c);
}

static void circle(rt_image *im, float cx, float cy, float r, const float c[3])
{
    int n = (int)(r * 7) + 8;
    for (int i = 0; i < n; i++) {
        double a = 2 * M_PI * i / n;
        put(im, (int)floorf(cx + r * (float)cos(a)), (int)floorf(cy + r * (float)sin(a)), c);
    }
}

static void number(rt_image *im, int x, int y, int v, int scale, const float c[3])
{
    char s[16];
    snprintf(s, sizeof s, "%d", v);
    for (int k = 0; s[k]; k++)
        for (int row = 0; row < 5; row++)
            for (int col = 0; col < 3; col++)
                if (digits[s[k] - '0'][row] & (4 >> col))
                    for (int j = 0; j < scale; j++)
                        for (int i = 0; i < scale; i++)
                            put(im, x + (k * 4 + col) * scale + i, y + row * scale + j, c);
}

/* A copy of the rectangle (x0, y0, w, h) of im (zero outside). */
static rt_image *crop(const rt_image *im, int x0, int y0, int w, int h)
{
    rt_image *out;
    if (rt_image_create(w, h, 3, &out)) return NULL;
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int sx = x0 + x, sy = y0 + y;
                if (sx >= 0 && sy >= 0 && sx < im->width && sy < im->height)
                    rt_image_plane(out, k)[(size_t)y * w + x] =
                        rt_image_plane(im, k)[(size_t)sy * im->width + sx];
            }
    return out;
}

/* Nearest-neighbour enlargement by an integer factor. */
static rt_image *enlarge(const rt_image *im, int f)
{
    rt_image *out;
    if (rt_image_create(im->width * f, im->height * f, 3, &out)) return NULL;
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < out->height; y++)
            for (int x = 0; x < out->width; x++)
                rt_image_plane(out, k)[(size_t)y * out->width + x] =
                    rt_image_plane(im, k)[(size_t)(y / f) * im->width + x / f];
    return out;
}

/* Resizes to about `target` pixels wide: integer enlargement or area
 * average.  *scale receives output pixels per input pixel. */
static rt_image *fit(rt_image *im, int target, double *scale)
{
    rt_image *out = NULL;
    if (im->width < target / 2) {
        int f = target / im->width;
        out = enlarge(im, f);
        *scale = f;
    } else if (im->width > target) {
        int side = im->height > im->width ? target * im->height / im->width : target;
        rt_downscale(im, side, &out);
        *scale = (double)out->width / im->width;
    } else {
        rt_image_copy(im, &out);
        *scale = 1;
    }
    rt_image_destroy(im);
    return out;
}

static void tint(rt_image *im, const float *mask, const float c[3], float alpha)
{
    size_t n = rt_image_pixels(im);
    for (int k = 0; k < 3; k++) {
        float *p = rt_image_plane(im, k);
        for (size_t i = 0; i < n; i++)
            p[i] += alpha * mask[i] * (c[k] - p[i]);
    }
}

static const float RED[3] = {1, 0.1f, 0.1f}, GREEN[3] = {0.1f, 1, 0.2f}, BLUE[3] = {0.2f, 0.3f, 1},
                   CYAN[3] = {0.1f, 1, 1}, YELLOW[3] = {1, 1, 0.1f}, MAGENTA[3] = {1, 0.2f, 1},
                   ORANGE[3] = {1, 0.55f, 0}, WHITE[3] = {1, 1, 1}, BLACK[3] = {0, 0, 0};

static void draw_face_crop(const rt_image *im, const rt_face_analysis *an, int fi, int indices,
                           int landmarks, const char *path)
{
    const rt_face *f = &an->faces[fi];
    float bw = f->x2 - f->x1, bh = f->y2 - f->y1;
    int x0 = (int)floorf(f->x1 - 0.15f * bw), y0 = (int)floorf(f->y1 - 0.15f * bh);
    int w = (int)ceilf(bw * 1.3f), h = (int)ceilf(bh * 1.3f);
    rt_image *c = crop(im, x0, y0, w, h);
    float *mask = malloc((size_t)w * h * sizeof *mask);
    if (!c || !mask) return;
    static const rt_face_region regions[] = {
        RT_REGION_SKIN,        RT_REGION_SCLERA, RT_REGION_IRIS,    RT_REGION_LIPS,
        RT_REGION_INNER_MOUTH, RT_REGION_BROWS,  RT_REGION_NOSTRILS};
    const float *colours[] = {GREEN, CYAN, BLUE, RED, YELLOW, MAGENTA, ORANGE};
    for (int r = 0; r < 7 && !indices; r++) {
        int err = landmarks || !an->vis
                      ? rt_face_region_mask(f, regions[r], 0.5f, x0, y0, w, h, mask, (size_t)w)
                      : rt_face_visible_region(an, im, fi, regions[r], 0.5f, x0, y0, w, h, mask,
                                               (size_t)w);
        if (err == 0) tint(c, mask, colours[r], 0.4f);
    }
    if (!indices && !landmarks && an->vis && an->vis[fi].frame) {
        static const float NAVY[3] = {0.05f, 0.05f, 0.6f};
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                mask[(size_t)y * w + x] =
                    rt_face_visibility_at(&an->vis[fi], an->vis[fi].frame, x0 + x, y0 + y);
        tint(c, mask, NAVY, 0.7f);
    }
    free(mask);
    double s;
    c = fit(c, indices ? 2400 : 900, &s);
    if (!c) return;
#define MX(px) ((float)(((px)-x0) * s))
#define MY(py) ((float)(((py)-y0) * s))
    for (int i = 0; i < RT_MESH_POINTS; i++) {
        dot(c, MX(f->mesh[i][0]), MY(f->mesh[i][1]), indices ? 2 : 1, i < 468 ? WHITE : YELLOW);
        if (indices) number(c, (int)MX(f->mesh[i][0]) + 3, (int)MY(f->mesh[i][1]) - 2, i, 1, BLACK);
    }
    for (int e = 0; e < 2; e++)
        circle(c, MX(f->eye[e].iris_center.x), MY(f->eye[e].iris_center.y),
               (float)(f->eye[e].iris_radius * s), YELLOW);
    rt_point2 lm[RT_API_LANDMARKS];
    rt_face_api_landmarks(f, lm);
    for (int i = 0; i < RT_API_LANDMARKS; i++) {
        dot(c, MX(lm[i].x), MY(lm[i].y), 3, RED);
        number(c, (int)MX(lm[i].x) + 5, (int)MY(lm[i].y) + 4, i, 2, RED);
    }
    rt_planes planes = rt_planes_of(c, NULL);
    rt_encode_params ep = {.format = RT_FMT_PNG, .bits = 8};
    if (rt_encode_file(&planes, &ep, path)) fprintf(stderr, "%s: %s\n", path, rt_error_message());
    rt_image_destroy(c);
#undef MX
#undef MY
}

static void write_png(const rt_image *im, const char *path)
{
    rt_planes planes = rt_planes_of(im, NULL);
    rt_encode_params ep = {.format = RT_FMT_PNG, .bits = 8};
    if (rt_encode_file(&planes, &ep, path)) fprintf(stderr, "%s: %s\n", path, rt_error_message());
}

int main(int argc, char **argv)
{
    rt_init(argv[0]);
    const char *outdir = ".";
    int indices = 0, landmarks = 0;
    rt_face_models *models;
    if (rt_face_models_load(NULL, &models)) {
        fprintf(stderr, "%s\n", rt_error_message());
        return 1;
    }
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--indices")) {
            indices = 1;
            continue;
        }
        if (!strcmp(argv[a], "--landmarks")) {
            landmarks = 1;
            continue;
        }
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
        if (rt_face_analysis_create(d->image, models, NULL, NULL, &an)) {
            fprintf(stderr, "%s: %s\n", argv[a], rt_error_message());
            rt_decoded_destroy(d);
            continue;
        }
        char name[256], path[1024];
        const char *base = strrchr(argv[a], '/');
        snprintf(name, sizeof name, "%s", base ? base + 1 : argv[a]);
        char *dot_ = strrchr(name, '.');
        if (dot_) *dot_ = '\0';
        printf("{\"image\":\"%s\",\"faces\":%d,\"ms\":{\"total\":%.1f,\"pyramid\":%.1f,"
               "\"detect\":%.1f,\"mesh\":%.1f,\"iris\":%.1f,\"attributes\":%.1f,"
               "\"glasses\":%.1f,\"person_mask\":%.1f,\"visibility\":%.1f},\"list\":[",
               name, an->nfaces, an->ms.total, an->ms.pyramid, an->ms.detect, an->ms.mesh,
               an->ms.iris, an->ms.attributes, an->ms.glasses, an->ms.person_mask,
               an->ms.visibility);
        for (int i = 0; i < an->nfaces; i++) {
            const rt_face *f = &an->faces[i];
            printf("%s{\"box\":[%.0f,%.0f,%.0f,%.0f],\"score\":%.3f,\"mesh\":%.3f,\"age\":%.1f,"
                   "\"male\":%.3f,\"glasses\":%.3f,\"px_per_mm\":%.2f,\"iris_r\":[%.1f,%.1f]",
                   i ? "," : "", f->x1, f->y1, f->x2, f->y2, f->score, f->mesh_score, f->age,
                   f->male_prob, f->glasses, f->px_per_mm, f->eye[0].iris_radius,
                   f->eye[1].iris_radius);
            if (an->vis) {
                const rt_face_visibility *v = &an->vis[i];
                printf(",\"covered\":%.3f,\"skin_model\":[%.3f,%.3f,%.3f,%.3f,%.3f,%.3f],"
                       "\"occluders\":[",
                       v->covered, v->skin_mean[0], v->skin_sd[0], v->skin_mean[1], v->skin_sd[1],
                       v->skin_mean[2], v->skin_sd[2]);
                for (int k = 0, first = 1; k < RT_OCCLUDER_COUNT; k++)
                    if (v->occluders & (1u << k)) {
                        printf("%s\"%s\"", first ? "" : ",", rt_occluder_name(k));
                        first = 0;
                    }
                printf("]");
            }
            printf("}");
            snprintf(path, sizeof path, "%s/%s_face%d.png", outdir, name, i);
            draw_face_crop(d->image, an, i, indices, landmarks, path);
        }
        printf("]}\n");
        /* overview: boxes, landmarks, person mask outline */
        rt_image *ov;
        rt_image_copy(d->image, &ov);
        double s;
        ov = fit(ov, 1400, &s);
        for (int i = 0; i < an->nfaces; i++) {
            const rt_face *f = &an->faces[i];
            float x1 = (float)(f->x1 * s), y1 = (float)(f->y1 * s), x2 = (float)(f->x2 * s),
                  y2 = (float)(f->y2 * s);
            line(ov, x1, y1, x2, y1, GREEN);
            line(ov, x2, y1, x2, y2, GREEN);
            line(ov, x2, y2, x1, y2, GREEN);
            line(ov, x1, y2, x1, y1, GREEN);
            rt_point2 lm[RT_API_LANDMARKS];
            rt_face_api_landmarks(f, lm);
            for (int k = 0; k < RT_API_LANDMARKS; k++)
                dot(ov, (float)(lm[k].x * s), (float)(lm[k].y * s), 1, RED);
        }
        const rt_person_mask *pm = an->person;
        for (int y = 1; y < ov->height - 1; y++)
            for (int x = 1; x < ov->width - 1; x++) {
                int sx = (int)((x + 0.5) / s), sy = (int)((y + 0.5) / s);
                int sx1 = (int)((x + 1.5) / s), sy1 = (int)((y + 1.5) / s);
                if (sx1 >= pm->width || sy1 >= pm->height) continue;
                int in = rt_person_mask_at(pm, sx, sy) >= 0.5f;
                if (in != (rt_person_mask_at(pm, sx1, sy) >= 0.5f) ||
                    in != (rt_person_mask_at(pm, sx, sy1) >= 0.5f))
                    put(ov, x, y, YELLOW);
            }
        snprintf(path, sizeof path, "%s/%s_faces.png", outdir, name);
        write_png(ov, path);
        /* person mask over the darkened photo */
        for (int k = 0; k < 3; k++) {
            float *p = rt_image_plane(ov, k);
            for (int y = 0; y < ov->height; y++)
                for (int x = 0; x < ov->width; x++) {
                    int sx = (int)((x + 0.5) / s), sy = (int)((y + 0.5) / s);
                    if (sx >= pm->width) sx = pm->width - 1;
                    if (sy >= pm->height) sy = pm->height - 1;
                    float m = rt_person_mask_at(pm, sx, sy);
                    p[(size_t)y * ov->width + x] =
                        0.25f * p[(size_t)y * ov->width + x] + 0.75f * m * (k == 1 ? 1.0f : 0.6f);
                }
        }
        snprintf(path, sizeof path, "%s/%s_person.png", outdir, name);
        write_png(ov, path);
        rt_image_destroy(ov);
        rt_face_analysis_destroy(an);
        rt_decoded_destroy(d);
    }
    rt_face_models_destroy(models);
    return 0;
}
