#include "filters/line_segments.h"

#include "core/error.h"
#include "core/image.h"
#include "filters/blur.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NBINS 1024

static float angle_diff(float a, float b)
{
    float d = fabsf(a - b);
    if (d > (float)M_PI)
        d = 2.0f * (float)M_PI - d;
    return d;
}

typedef struct segs {
    rt_segment *s;
    int n, cap;
} segs;

static int push_segment(segs *list, const rt_segment *s)
{
    if (list->n == list->cap) {
        int cap = list->cap ? list->cap * 2 : 64;
        rt_segment *p = realloc(list->s, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        list->s = p;
        list->cap = cap;
    }
    list->s[list->n++] = *s;
    return 0;
}

/* Turns a grown region into a segment when it is long, thin and dense. */
static void region_to_segment(const int *reg, int n, int w, const float *mag,
                              float region_angle, const rt_lsd_params *p, segs *list)
{
    double sw = 0, sx = 0, sy = 0;
    for (int i = 0; i < n; i++) {
        double m = mag[reg[i]];
        sw += m;
        sx += m * (reg[i] % w);
        sy += m * (reg[i] / w);
    }
    if (sw <= 0)
        return;
    double cx = sx / sw, cy = sy / sw;
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double m = mag[reg[i]];
        double dx = reg[i] % w - cx, dy = reg[i] / w - cy;
        sxx += m * dx * dx;
        syy += m * dy * dy;
        sxy += m * dx * dy;
    }
    double theta = 0.5 * atan2(2.0 * sxy, sxx - syy); /* principal axis, image coords */
    double ux = cos(theta), uy = sin(theta);
    /* the level lines run along the segment: the gradient is normal to it */
    double normal = region_angle;
    double along = fabs(ux * cos(normal) + uy * sin(normal));
    if (along > sin(p->tolerance_deg * M_PI / 180.0))
        return;
    double lmin = 1e30, lmax = -1e30, wmin = 1e30, wmax = -1e30;
    for (int i = 0; i < n; i++) {
        double dx = reg[i] % w - cx, dy = reg[i] / w - cy;
        double l = dx * ux + dy * uy, q = -dx * uy + dy * ux;
        if (l < lmin)
            lmin = l;
        if (l > lmax)
            lmax = l;
        if (q < wmin)
            wmin = q;
        if (q > wmax)
            wmax = q;
    }
    double length = lmax - lmin + 1.0, width = wmax - wmin + 1.0;
    if (length < p->min_length || length < 4.0 * width)
        return;
    if ((double)n / (length * width) < p->min_density)
        return;
    rt_segment s;
    /* +0.5: the 2x2 gradient sits between pixel centres */
    s.cx = (float)(cx + 0.5);
    s.cy = (float)(cy + 0.5);
    s.x1 = (float)(cx + 0.5 + lmin * ux);
    s.y1 = (float)(cy + 0.5 + lmin * uy);
    s.x2 = (float)(cx + 0.5 + lmax * ux);
    s.y2 = (float)(cy + 0.5 + lmax * uy);
    s.length = (float)length;
    s.width = (float)width;
    double vis = atan2(-uy, ux) * 180.0 / M_PI; /* counter-clockwise as displayed */
    while (vis <= -90.0)
        vis += 180.0;
    while (vis > 90.0)
        vis -= 180.0;
    s.angle_deg = (float)vis;
    s.contrast = (float)(sw / n);
    push_segment(list, &s);
}

int rt_detect_line_segments(const float *lum, int w, int h, const rt_lsd_params *params,
                            rt_segment **out, int *count)
{
    *out = NULL;
    *count = 0;
    if (w < 3 || h < 3)
        return 0;
    const size_t npx = (size_t)w * h;
    float *img = rt_alloc_floats(npx);
    float *mag = rt_alloc_floats(npx);
    float *ang = rt_alloc_floats(npx);
    unsigned char *used = calloc(npx, 1);
    int *reg = malloc(npx * sizeof *reg);
    int *order = malloc(npx * sizeof *order);
    int *bin_start = calloc(NBINS + 1, sizeof *bin_start);
    segs list = {0};
    int err = 0;
    if (!img || !mag || !ang || !used || !reg || !order || !bin_start) {
        err = rt_error(RT_ERR_NOMEM, "out of memory for line detection");
        goto done;
    }
    memcpy(img, lum, npx * sizeof *img);
    if ((err = rt_gaussian_blur_plane(img, w, h, 0.6f)))
        goto done;
    float maxmag = 0.0f;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (x == w - 1 || y == h - 1) {
                mag[i] = 0.0f;
                ang[i] = 0.0f;
                used[i] = 1;
                continue;
            }
            float a = img[i], b = img[i + 1], c = img[i + w], d = img[i + w + 1];
            float gx = 0.5f * (b + d - a - c), gy = 0.5f * (c + d - a - b);
            mag[i] = sqrtf(gx * gx + gy * gy);
            ang[i] = atan2f(gy, gx);
            if (mag[i] > maxmag)
                maxmag = mag[i];
            if (mag[i] <= params->min_gradient)
                used[i] = 1;
        }
    if (maxmag <= params->min_gradient)
        goto done;
    /* pixels in decreasing gradient order (bucket sort) */
    for (size_t i = 0; i < npx; i++)
        if (!used[i])
            bin_start[NBINS - 1 - (int)((NBINS - 1) * mag[i] / maxmag)]++;
    int total = 0;
    for (int b = 0; b <= NBINS; b++) {
        int c = bin_start[b];
        bin_start[b] = total;
        total += c;
    }
    for (size_t i = 0; i < npx; i++)
        if (!used[i])
            order[bin_start[NBINS - 1 - (int)((NBINS - 1) * mag[i] / maxmag)]++] = (int)i;
    const float tol = params->tolerance_deg * (float)M_PI / 180.0f;
    for (int k = 0; k < total; k++) {
        int seed = order[k];
        if (used[seed])
            continue;
        int n = 0, head = 0;
        reg[n++] = seed;
        used[seed] = 1;
        double sc = cos(ang[seed]), ss = sin(ang[seed]);
        float region_angle = ang[seed];
        while (head < n) {
            int p = reg[head++];
            int px = p % w, py = p / w;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int qx = px + dx, qy = py + dy;
                    if ((dx == 0 && dy == 0) || qx < 0 || qy < 0 || qx >= w || qy >= h)
                        continue;
                    int q = qy * w + qx;
                    if (used[q] || angle_diff(ang[q], region_angle) > tol)
                        continue;
                    used[q] = 1;
                    reg[n++] = q;
                    sc += cos(ang[q]);
                    ss += sin(ang[q]);
                    region_angle = (float)atan2(ss, sc);
                }
        }
        if (n >= (int)(params->min_length * 0.5f))
            region_to_segment(reg, n, w, mag, region_angle, params, &list);
    }
done:
    rt_free(img);
    rt_free(mag);
    rt_free(ang);
    free(used);
    free(reg);
    free(order);
    free(bin_start);
    if (err) {
        free(list.s);
        return err;
    }
    *out = list.s;
    *count = list.n;
    return 0;
}
