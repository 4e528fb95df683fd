#include "face/pyramid.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>

/* Levels stop halving once the long side is below this: the smallest model
 * input is 64 pixels and whole-image views are 192-256. */
#define MIN_LEVEL_SIDE 128

static int long_side(const rt_image *im)
{
    return im->width > im->height ? im->width : im->height;
}

/* Average of f x f blocks (the last row and column of blocks may be
 * partial and average what they have): level pixel i covers running pixels
 * [i f, (i + 1) f), so the level's scale is exactly f.  One pass over the
 * source, rows summed into a buffer: the full-resolution step is memory
 * bound (288 MB of floats at 24 MP). */
static int box_downscale(const rt_image *src, int f, rt_image **out)
{
    const int W = src->width, H = src->height;
    const int w = (W + f - 1) / f, h = (H + f - 1) / f;
    int err = rt_image_create_uninit(w, h, src->channels < 3 ? src->channels : 3, out);
    if (err) return err;
    rt_image *dst = *out;
    int failed = 0;
#pragma omp parallel
    {
        float *acc = rt_alloc_floats((size_t)W);
        if (!acc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for collapse(2) schedule(static)
        for (int c = 0; c < dst->channels; c++)
            for (int j = 0; j < h; j++) {
                if (!acc) continue;
                const float *plane = rt_image_plane(src, c);
                int y0 = j * f, y1 = y0 + f < H ? y0 + f : H;
                const float *row = plane + (size_t)y0 * W;
                for (int x = 0; x < W; x++)
                    acc[x] = row[x];
                for (int y = y0 + 1; y < y1; y++) {
                    row = plane + (size_t)y * W;
                    for (int x = 0; x < W; x++)
                        acc[x] += row[x];
                }
                float *o = rt_image_plane(dst, c) + (size_t)j * w;
                for (int i = 0; i < w; i++) {
                    int x0 = i * f, x1 = x0 + f < W ? x0 + f : W;
                    float sum = 0;
                    for (int x = x0; x < x1; x++)
                        sum += acc[x];
                    o[i] = sum / (float)((x1 - x0) * (y1 - y0));
                }
            }
        rt_free(acc);
    }
    if (failed) {
        rt_image_destroy(dst);
        *out = NULL;
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int add_level(rt_face_pyramid *p, int f)
{
    const rt_image *prev = p->level[p->nlevels - 1];
    rt_image *next;
    int err = box_downscale(prev, f, &next);
    if (err) return err;
    int i = p->nlevels++;
    p->level[i] = p->owned[i] = next;
    p->sx[i] = p->sx[i - 1] * f;
    p->sy[i] = p->sy[i - 1] * f;
    return 0;
}

int rt_face_pyramid_create(const rt_image *image, rt_face_pyramid **out)
{
    *out = NULL;
    if (image->channels < 3) return rt_error(RT_ERR_ARG, "face analysis needs an RGB image");
    rt_face_pyramid *p = calloc(1, sizeof *p);
    if (!p) return rt_error(RT_ERR_NOMEM, "out of memory");
    p->width = image->width;
    p->height = image->height;
    p->level[0] = image;
    p->sx[0] = p->sy[0] = 1.0;
    p->nlevels = 1;
    int err = 0;
    int L = long_side(image);
    if (L > RT_FACE_ANALYSIS_SIDE)
        err = add_level(p, (L + RT_FACE_ANALYSIS_SIDE - 1) / RT_FACE_ANALYSIS_SIDE);
    while (!err && p->nlevels < RT_FACE_PYRAMID_MAX &&
           long_side(p->level[p->nlevels - 1]) / 2 >= MIN_LEVEL_SIDE)
        err = add_level(p, 2);
    if (err) {
        rt_face_pyramid_destroy(p);
        return err;
    }
    *out = p;
    return 0;
}

void rt_face_pyramid_destroy(rt_face_pyramid *p)
{
    if (!p) return;
    for (int i = 0; i < p->nlevels; i++)
        rt_image_destroy(p->owned[i]);
    free(p);
}

int rt_face_pyramid_level_for(const rt_face_pyramid *p, int max_side)
{
    for (int i = 0; i < p->nlevels; i++)
        if (long_side(p->level[i]) <= max_side) return i;
    return p->nlevels - 1;
}

/* Bilinear sample of a plane at continuous coordinates (x, y) (pixel centres
 * at +0.5); 0 outside the image, edge pixels extended inside it. */
static inline float bilinear(const float *plane, int w, int h, float x, float y)
{
    if (!(x >= 0.0f && y >= 0.0f && x < (float)w && y < (float)h)) return 0.0f;
    float fx = x - 0.5f, fy = y - 0.5f;
    int x0 = (int)floorf(fx), y0 = (int)floorf(fy);
    float tx = fx - (float)x0, ty = fy - (float)y0;
    int x1 = x0 + 1, y1 = y0 + 1;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w - 1) x1 = w - 1;
    if (y1 > h - 1) y1 = h - 1;
    const float *r0 = plane + (size_t)y0 * w, *r1 = plane + (size_t)y1 * w;
    float a = r0[x0] + tx * (r0[x1] - r0[x0]);
    float b = r1[x0] + tx * (r1[x1] - r1[x0]);
    return a + ty * (b - a);
}

void rt_face_sample_level(const rt_image *level, const rt_affine *to_level, int w, int h, float mul,
                          float add, float *out)
{
    /* k x k taps per crop pixel, enough to cover its footprint */
    double s = rt_affine_scale(to_level);
    int k = (int)ceil(s - 0.05);
    if (k < 1) k = 1;
    if (k > 4) k = 4;
    const float inv = 1.0f / (float)(k * k);
    const double *m = to_level->m;
    const int lw = level->width, lh = level->height;
    const float *pl[3] = {rt_image_plane(level, 0), rt_image_plane(level, 1),
                          rt_image_plane(level, 2)};
#pragma omp parallel for schedule(static) if (w * h * k * k > 32768)
    for (int v = 0; v < h; v++)
        for (int u = 0; u < w; u++) {
            float acc[3] = {0, 0, 0};
            for (int j = 0; j < k; j++)
                for (int i = 0; i < k; i++) {
                    double cu = u + (i + 0.5) / k, cv = v + (j + 0.5) / k;
                    float x = (float)(m[0] * cu + m[1] * cv + m[2]);
                    float y = (float)(m[3] * cu + m[4] * cv + m[5]);
                    for (int c = 0; c < 3; c++)
                        acc[c] += bilinear(pl[c], lw, lh, x, y);
                }
            float *o = out + ((size_t)v * w + u) * 3;
            for (int c = 0; c < 3; c++)
                o[c] = acc[c] * inv * mul + add;
        }
}

void rt_face_sample_crop(const rt_face_pyramid *p, const rt_affine *to_image, int w, int h,
                         float mul, float add, float *out)
{
    double s = rt_affine_scale(to_image);
    int best = 0;
    for (int i = 1; i < p->nlevels; i++)
        if (sqrt(p->sx[i] * p->sy[i]) <= s * 1.001) best = i;
    rt_affine a = *to_image;
    a.m[0] /= p->sx[best];
    a.m[1] /= p->sx[best];
    a.m[2] /= p->sx[best];
    a.m[3] /= p->sy[best];
    a.m[4] /= p->sy[best];
    a.m[5] /= p->sy[best];
    rt_face_sample_level(p->level[best], &a, w, h, mul, add, out);
}
