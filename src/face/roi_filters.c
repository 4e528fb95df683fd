#include "face/roi_filters.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rt_roi_ycc(const rt_image *img, int x0, int y0, int w, int h, float *y, float *cb, float *cr)
{
    const float *R = rt_image_plane(img, 0), *G = rt_image_plane(img, img->channels >= 3 ? 1 : 0),
                *B = rt_image_plane(img, img->channels >= 3 ? 2 : 0);
    for (int j = 0; j < h; j++) {
        size_t s = (size_t)(y0 + j) * img->width + x0, d = (size_t)j * w;
        for (int i = 0; i < w; i++) {
            float r = R[s + i], g = G[s + i], b = B[s + i];
            float l = 0.299f * r + 0.587f * g + 0.114f * b;
            y[d + i] = l;
            cb[d + i] = b - l;
            cr[d + i] = r - l;
        }
    }
}

/* One box pass of radius r along a line of n samples with stride `step`,
 * from src into dst (clamped borders). */
static void box_line(const float *src, float *dst, int n, size_t step, int r)
{
    float inv = 1.0f / (float)(2 * r + 1);
    double acc = 0.0;
    for (int k = -r; k <= r; k++)
        acc += src[(size_t)(k < 0 ? 0 : (k >= n ? n - 1 : k)) * step];
    for (int i = 0; i < n; i++) {
        dst[(size_t)i * step] = (float)acc * inv;
        int add = i + r + 1, sub = i - r;
        add = add >= n ? n - 1 : add;
        sub = sub < 0 ? 0 : sub;
        acc += src[(size_t)add * step] - src[(size_t)sub * step];
    }
}

void rt_roi_box_blur3(float *plane, int w, int h, float sigma, float *tmp)
{
    if (!(sigma > 0.3f)) return;
    /* three boxes of width 2r+1 have variance 3 * ((2r+1)^2 - 1) / 12 */
    int r = (int)lrintf((sqrtf(4.0f * sigma * sigma + 1.0f) - 1.0f) / 2.0f);
    if (r < 1) r = 1;
    for (int pass = 0; pass < 3; pass++) {
        for (int j = 0; j < h; j++)
            box_line(plane + (size_t)j * w, tmp + (size_t)j * w, w, 1, r);
        for (int i = 0; i < w; i++)
            box_line(tmp + i, plane + i, h, (size_t)w, r);
    }
}

static void extreme_filter(float *plane, int w, int h, int r, float *tmp, int is_max)
{
    if (r < 1) return;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            const float *row = plane + (size_t)j * w;
            float m = row[i];
            int a = i - r < 0 ? 0 : i - r, b = i + r >= w ? w - 1 : i + r;
            for (int k = a; k <= b; k++)
                m = is_max ? fmaxf(m, row[k]) : fminf(m, row[k]);
            tmp[(size_t)j * w + i] = m;
        }
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            float m = tmp[(size_t)j * w + i];
            int a = j - r < 0 ? 0 : j - r, b = j + r >= h ? h - 1 : j + r;
            for (int k = a; k <= b; k++)
                m = is_max ? fmaxf(m, tmp[(size_t)k * w + i]) : fminf(m, tmp[(size_t)k * w + i]);
            plane[(size_t)j * w + i] = m;
        }
}

void rt_roi_max_filter(float *plane, int w, int h, int r, float *tmp)
{
    extreme_filter(plane, w, h, r, tmp, 1);
}

void rt_roi_min_filter(float *plane, int w, int h, int r, float *tmp)
{
    extreme_filter(plane, w, h, r, tmp, 0);
}

float rt_roi_percentile(const float *v, const float *weight, size_t n, float fraction, float lo,
                        float hi, float fallback)
{
    enum { BINS = 1024 };
    unsigned hist[BINS];
    memset(hist, 0, sizeof hist);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (weight && !(weight[i] > 0.5f)) continue;
        int b = (int)((v[i] - lo) / (hi - lo) * BINS);
        b = b < 0 ? 0 : (b >= BINS ? BINS - 1 : b);
        hist[b]++;
        count++;
    }
    if (!count) return fallback;
    size_t target = (size_t)(fraction * (double)count), acc = 0;
    for (int b = 0; b < BINS; b++) {
        acc += hist[b];
        if (acc > target) return lo + (hi - lo) * ((float)b + 0.5f) / BINS;
    }
    return hi;
}

rt_roi rt_roi_union(const rt_roi *r, int n)
{
    int ax = r[0].x0, ay = r[0].y0, bx = r[0].x0 + r[0].w, by = r[0].y0 + r[0].h;
    for (int i = 1; i < n; i++) {
        ax = r[i].x0 < ax ? r[i].x0 : ax;
        ay = r[i].y0 < ay ? r[i].y0 : ay;
        bx = r[i].x0 + r[i].w > bx ? r[i].x0 + r[i].w : bx;
        by = r[i].y0 + r[i].h > by ? r[i].y0 + r[i].h : by;
    }
    rt_roi u = {ax, ay, bx - ax, by - ay};
    return u;
}

void rt_roi_layer_put(rt_image *layer, int lx, int ly, rt_roi roi, const float *r, const float *g,
                      const float *b, const float *a)
{
    float *planes[4] = {rt_image_plane(layer, 0), rt_image_plane(layer, 1),
                        rt_image_plane(layer, 2), rt_image_plane(layer, 3)};
    for (int j = 0; j < roi.h; j++)
        for (int i = 0; i < roi.w; i++) {
            size_t s = (size_t)j * roi.w + i;
            size_t d = (size_t)(roi.y0 - ly + j) * layer->width + (size_t)(roi.x0 - lx + i);
            if (!(a[s] > planes[3][d])) continue;
            planes[0][d] = r[s];
            planes[1][d] = g[s];
            planes[2][d] = b[s];
            planes[3][d] = a[s];
        }
}
