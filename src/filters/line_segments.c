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
    if (d > (float)M_PI) d = 2.0f * (float)M_PI - d;
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
        if (!p) return -1;
        list->s = p;
        list->cap = cap;
    }
    list->s[list->n++] = *s;
    return 0;
}

/* The rectangle that covers a region: centre, principal direction, extent
 * along and across it. */
typedef struct rect {
    double cx, cy, ux, uy;
    double lmin, lmax, wmin, wmax;
    double length, width, density;
    double contrast;
} rect;

static int region_rect(const int *reg, int n, int w, const float *mag, rect *r)
{
    double sw = 0, sx = 0, sy = 0;
    for (int i = 0; i < n; i++) {
        double m = mag[reg[i]];
        sw += m;
        sx += m * (reg[i] % w);
        sy += m * (reg[i] / w);
    }
    if (sw <= 0 || n < 2) return -1;
    r->cx = sx / sw;
    r->cy = sy / sw;
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double m = mag[reg[i]];
        double dx = reg[i] % w - r->cx, dy = reg[i] / w - r->cy;
        sxx += m * dx * dx;
        syy += m * dy * dy;
        sxy += m * dx * dy;
    }
    double theta = 0.5 * atan2(2.0 * sxy, sxx - syy); /* principal axis */
    r->ux = cos(theta);
    r->uy = sin(theta);
    r->lmin = r->wmin = 1e30;
    r->lmax = r->wmax = -1e30;
    for (int i = 0; i < n; i++) {
        double dx = reg[i] % w - r->cx, dy = reg[i] / w - r->cy;
        double l = dx * r->ux + dy * r->uy, q = -dx * r->uy + dy * r->ux;
        r->lmin = fmin(r->lmin, l);
        r->lmax = fmax(r->lmax, l);
        r->wmin = fmin(r->wmin, q);
        r->wmax = fmax(r->wmax, q);
    }
    r->length = r->lmax - r->lmin + 1.0;
    r->width = r->wmax - r->wmin + 1.0;
    r->density = (double)n / (r->length * r->width);
    r->contrast = sw / n;
    return 0;
}

/* Grows a region from seed over unused pixels whose level-line angle is
 * within tol of the region's; returns its size and mean angle. */
static int grow_region(int seed, float tol, int w, int h, const float *ang, const float *unit,
                       unsigned char *used, int *reg, float *region_angle)
{
    int n = 0, head = 0;
    reg[n++] = seed;
    used[seed] = 1;
    (void)ang;
    double sc = unit[2 * (size_t)seed], ss = unit[2 * (size_t)seed + 1];
    /* the angle test as a dot product with the region's unit direction:
     * |a - ra| <= tol  <=>  cos(a - ra) >= cos(tol) (tol < pi); no atan2
     * per added pixel (the detector's hot loop) */
    const double cos_tol = cos(tol);
    double rc = sc, rs = ss;
    while (head < n) {
        int p = reg[head++];
        int px = p % w, py = p / w;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int qx = px + dx, qy = py + dy;
                if ((dx == 0 && dy == 0) || qx < 0 || qy < 0 || qx >= w || qy >= h) continue;
                int q = qy * w + qx;
                if (used[q]) continue;
                double cq = unit[2 * (size_t)q], sq = unit[2 * (size_t)q + 1];
                if (cq * rc + sq * rs < cos_tol) continue;
                used[q] = 1;
                reg[n++] = q;
                sc += cq;
                ss += sq;
                double norm = sqrt(sc * sc + ss * ss);
                if (norm > 1e-12) {
                    rc = sc / norm;
                    rs = ss / norm;
                }
            }
    }
    *region_angle = (float)atan2(ss, sc);
    return n;
}

/* LSD's refinement for regions too sparse to be one line: first regrow
 * with a tolerance fitted to the pixels near the seed, then shrink the
 * region around the seed until it is dense enough. */
static int refine_region(int *reg, int n, int seed, int w, int h, const float *mag,
                         const float *ang, const float *unit, unsigned char *used,
                         float *region_angle, rect *r, double min_density)
{
    double sum = 0, s2 = 0;
    int k = 0;
    int sx = seed % w, sy = seed / w;
    for (int i = 0; i < n; i++) {
        double dx = reg[i] % w - sx, dy = reg[i] / w - sy;
        if (dx * dx + dy * dy <= r->width * r->width) {
            double d = angle_diff(ang[reg[i]], *region_angle);
            sum += d;
            s2 += d * d;
            k++;
        }
    }
    if (k > 1) {
        double mean = sum / k, var = s2 / k - mean * mean;
        float tol = (float)(2.0 * sqrt(var > 0 ? var : 0));
        for (int i = 0; i < n; i++)
            used[reg[i]] = 0;
        n = grow_region(seed, tol, w, h, ang, unit, used, reg, region_angle);
        if (n < 2 || region_rect(reg, n, w, mag, r)) return n;
        if (r->density >= min_density) return n;
    }
    /* shrink the radius around the seed */
    double rad = 0;
    for (int i = 0; i < n; i++) {
        double dx = reg[i] % w - sx, dy = reg[i] / w - sy;
        rad = fmax(rad, sqrt(dx * dx + dy * dy));
    }
    while (r->density < min_density && n > 2) {
        rad *= 0.75;
        int m = 0;
        for (int i = 0; i < n; i++) {
            double dx = reg[i] % w - sx, dy = reg[i] / w - sy;
            if (dx * dx + dy * dy <= rad * rad)
                reg[m++] = reg[i];
            else
                used[reg[i]] = 0; /* free for other regions */
        }
        n = m;
        if (n < 2 || region_rect(reg, n, w, mag, r)) return n;
    }
    return n;
}

/* Turns a region into a segment when it is long, thin and dense. */
static void emit_segment(const rect *r, float region_angle, const rt_lsd_params *p, segs *list)
{
    /* the level lines run along the segment: the gradient is normal to it */
    double along = fabs(r->ux * cos(region_angle) + r->uy * sin(region_angle));
    if (along > sin(p->tolerance_deg * M_PI / 180.0)) return;
    if (r->length < p->min_length || r->length < 4.0 * r->width || r->density < p->min_density)
        return;
    rt_segment s;
    /* +0.5: the 2x2 gradient sits between pixel centres */
    s.cx = (float)(r->cx + 0.5);
    s.cy = (float)(r->cy + 0.5);
    s.x1 = (float)(r->cx + 0.5 + r->lmin * r->ux);
    s.y1 = (float)(r->cy + 0.5 + r->lmin * r->uy);
    s.x2 = (float)(r->cx + 0.5 + r->lmax * r->ux);
    s.y2 = (float)(r->cy + 0.5 + r->lmax * r->uy);
    s.length = (float)r->length;
    s.width = (float)r->width;
    double vis = atan2(-r->uy, r->ux) * 180.0 / M_PI; /* counter-clockwise as displayed */
    while (vis <= -90.0)
        vis += 180.0;
    while (vis > 90.0)
        vis -= 180.0;
    s.angle_deg = (float)vis;
    s.contrast = (float)r->contrast;
    push_segment(list, &s);
}

int rt_detect_line_segments(const float *lum, int w, int h, const rt_lsd_params *params,
                            rt_segment **out, int *count)
{
    *out = NULL;
    *count = 0;
    if (w < 3 || h < 3) return 0;
    const size_t npx = (size_t)w * h;
    float *img = rt_alloc_floats(npx);
    float *mag = rt_alloc_floats(npx);
    float *ang = rt_alloc_floats(npx);
    float *unit = rt_alloc_floats(2 * npx); /* (cos, sin) of ang */
    unsigned char *used = calloc(npx, 1);
    int *reg = malloc(npx * sizeof *reg);
    int *order = malloc(npx * sizeof *order);
    int *bin_start = calloc(NBINS + 1, sizeof *bin_start);
    segs list = {0};
    int err = 0;
    if (!img || !mag || !ang || !unit || !used || !reg || !order || !bin_start) {
        err = rt_error(RT_ERR_NOMEM, "out of memory for line detection");
        goto done;
    }
    memcpy(img, lum, npx * sizeof *img);
    if ((err = rt_gaussian_blur_plane(img, w, h, 0.6f))) goto done;
    float maxmag = 0.0f;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (x == w - 1 || y == h - 1) {
                mag[i] = 0.0f;
                ang[i] = 0.0f;
                unit[2 * i] = 1.0f;
                unit[2 * i + 1] = 0.0f;
                used[i] = 1;
                continue;
            }
            float a = img[i], b = img[i + 1], c = img[i + w], d = img[i + w + 1];
            float gx = 0.5f * (b + d - a - c), gy = 0.5f * (c + d - a - b);
            mag[i] = sqrtf(gx * gx + gy * gy);
            ang[i] = atan2f(gy, gx);
            unit[2 * i] = mag[i] > 0 ? gx / mag[i] : 1.0f;
            unit[2 * i + 1] = mag[i] > 0 ? gy / mag[i] : 0.0f;
            if (mag[i] > maxmag) maxmag = mag[i];
            if (mag[i] <= params->min_gradient) used[i] = 1;
        }
    if (maxmag <= params->min_gradient) goto done;
    /* pixels in decreasing gradient order (bucket sort) */
    for (size_t i = 0; i < npx; i++)
        if (!used[i]) bin_start[NBINS - 1 - (int)((NBINS - 1) * mag[i] / maxmag)]++;
    int total = 0;
    for (int b = 0; b <= NBINS; b++) {
        int c = bin_start[b];
        bin_start[b] = total;
        total += c;
    }
    for (size_t i = 0; i < npx; i++)
        if (!used[i]) order[bin_start[NBINS - 1 - (int)((NBINS - 1) * mag[i] / maxmag)]++] = (int)i;
    const float tol = params->tolerance_deg * (float)M_PI / 180.0f;
    for (int k = 0; k < total; k++) {
        int seed = order[k];
        if (used[seed]) continue;
        float region_angle;
        int n = grow_region(seed, tol, w, h, ang, unit, used, reg, &region_angle);
        if (n < (int)(params->min_length * 0.5f)) continue;
        rect r;
        if (region_rect(reg, n, w, mag, &r)) continue;
        if (r.density < params->min_density) {
            n = refine_region(reg, n, seed, w, h, mag, ang, unit, used, &region_angle, &r,
                              params->min_density);
            if (n < (int)(params->min_length * 0.5f) || region_rect(reg, n, w, mag, &r)) continue;
        }
        emit_segment(&r, region_angle, params, &list);
    }
done:
    rt_free(img);
    rt_free(mag);
    rt_free(ang);
    rt_free(unit);
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
