#include "face/roi_filters.h"

#include "core/error.h"
#include "face/regions.h"

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
                m = is_max ? (row[k] > m ? row[k] : m) : (row[k] < m ? row[k] : m);
            tmp[(size_t)j * w + i] = m;
        }
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            float m = tmp[(size_t)j * w + i];
            int a = j - r < 0 ? 0 : j - r, b = j + r >= h ? h - 1 : j + r;
            for (int k = a; k <= b; k++) {
                float v = tmp[(size_t)k * w + i];
                m = is_max ? (v > m ? v : m) : (v < m ? v : m);
            }
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

int rt_roi_keep_connected(float *v, const float *seed, int w, int h, float thr)
{
    const size_t n = (size_t)w * h;
    unsigned char *mark = calloc(n, 1);
    size_t *stack = malloc(n * sizeof *stack);
    if (!mark || !stack) {
        free(mark);
        free(stack);
        return rt_error(RT_ERR_NOMEM, "out of memory for a flood fill");
    }
    size_t top = 0;
    for (size_t i = 0; i < n; i++)
        if (seed[i] > 0.5f && v[i] > thr) {
            mark[i] = 1;
            stack[top++] = i;
        }
    while (top > 0) {
        size_t i = stack[--top];
        int x = (int)(i % (size_t)w), y = (int)(i / (size_t)w);
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int xx = x + dx, yy = y + dy;
                if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                size_t k = (size_t)yy * w + xx;
                if (mark[k] || !(v[k] > thr)) continue;
                mark[k] = 1;
                stack[top++] = k;
            }
    }
    for (size_t i = 0; i < n; i++)
        if (!mark[i]) v[i] = 0.0f;
    free(mark);
    free(stack);
    return 0;
}

int rt_roi_polygon_coarse(const void *pts_v, int n, float grow_px, int op, int x0, int y0, int w,
                          int h, int k, float *dst)
{
    const rt_point2 *pts = pts_v;
    if (k <= 1)
        return rt_mask_polygon(pts, n, grow_px, 1.0f, (rt_mask_op)op, x0, y0, w, h, dst, (size_t)w);
    rt_point2 sp[64];
    if (n > 64) return rt_error(RT_ERR_ARG, "polygon too long");
    const float inv = 1.0f / (float)k;
    for (int i = 0; i < n; i++)
        sp[i] = (rt_point2){pts[i].x * inv, pts[i].y * inv};
    /* the coarse grid: cell (i, j) centred on full-resolution
     * x0 + (i + 0.5) k, y0 + (j + 0.5) k */
    int cw = (w + k - 1) / k, ch = (h + k - 1) / k;
    float *c = malloc((size_t)cw * ch * sizeof *c);
    if (!c) return rt_error(RT_ERR_NOMEM, "out of memory");
    /* x0 / k need not be whole: shift the polygon instead */
    float ox = (float)x0 * inv - (float)(x0 / k), oy = (float)y0 * inv - (float)(y0 / k);
    for (int i = 0; i < n; i++)
        sp[i].x -= ox, sp[i].y -= oy;
    int err = rt_mask_polygon(sp, n, grow_px * inv, 1.0f, RT_MASK_SET, x0 / k, y0 / k, cw, ch, c,
                              (size_t)cw);
    if (err) {
        free(c);
        return err;
    }
    for (int j = 0; j < h; j++) {
        float fy = ((float)j + 0.5f) * inv - 0.5f;
        int jy = (int)floorf(fy);
        float ty = fy - (float)jy;
        int j0 = jy < 0 ? 0 : (jy >= ch ? ch - 1 : jy), j1 = jy + 1 >= ch ? ch - 1 : jy + 1;
        j1 = j1 < 0 ? 0 : j1;
        for (int i = 0; i < w; i++) {
            float fx = ((float)i + 0.5f) * inv - 0.5f;
            int ix = (int)floorf(fx);
            float tx = fx - (float)ix;
            int i0 = ix < 0 ? 0 : (ix >= cw ? cw - 1 : ix), i1 = ix + 1 >= cw ? cw - 1 : ix + 1;
            i1 = i1 < 0 ? 0 : i1;
            float a =
                c[(size_t)j0 * cw + i0] + tx * (c[(size_t)j0 * cw + i1] - c[(size_t)j0 * cw + i0]);
            float b =
                c[(size_t)j1 * cw + i0] + tx * (c[(size_t)j1 * cw + i1] - c[(size_t)j1 * cw + i0]);
            float m = a + ty * (b - a);
            float *d = &dst[(size_t)j * w + i];
            if (op == RT_MASK_MUL_INV)
                *d *= 1.0f - m;
            else
                *d = m;
        }
    }
    free(c);
    return 0;
}

void rt_roi_box_down(const float *src, int w, int h, int k, float *dst)
{
    const int cw = (w + k - 1) / k, ch = (h + k - 1) / k;
    for (int cj = 0; cj < ch; cj++)
        for (int ci = 0; ci < cw; ci++) {
            double acc = 0;
            int cnt = 0;
            for (int j = cj * k; j < cj * k + k && j < h; j++)
                for (int i = ci * k; i < ci * k + k && i < w; i++, cnt++)
                    acc += src[(size_t)j * w + i];
            dst[(size_t)cj * cw + ci] = (float)(acc / cnt);
        }
}

void rt_roi_bilinear_up(const float *c, int k, int w, int h, float *dst)
{
    const int cw = (w + k - 1) / k, ch = (h + k - 1) / k;
    const float inv = 1.0f / (float)k;
    for (int j = 0; j < h; j++) {
        float fy = ((float)j + 0.5f) * inv - 0.5f;
        int jy = (int)floorf(fy);
        float ty = fy - (float)jy;
        int j0 = jy < 0 ? 0 : (jy >= ch ? ch - 1 : jy), j1 = jy + 1 >= ch ? ch - 1 : jy + 1;
        j1 = j1 < 0 ? 0 : j1;
        for (int i = 0; i < w; i++) {
            float fx = ((float)i + 0.5f) * inv - 0.5f;
            int ix = (int)floorf(fx);
            float tx = fx - (float)ix;
            int i0 = ix < 0 ? 0 : (ix >= cw ? cw - 1 : ix), i1 = ix + 1 >= cw ? cw - 1 : ix + 1;
            i1 = i1 < 0 ? 0 : i1;
            const float *r0 = c + (size_t)j0 * cw, *r1 = c + (size_t)j1 * cw;
            float a = r0[i0] + tx * (r0[i1] - r0[i0]), b = r1[i0] + tx * (r1[i1] - r1[i0]);
            dst[(size_t)j * w + i] = a + ty * (b - a);
        }
    }
}
