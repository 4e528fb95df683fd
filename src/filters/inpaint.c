#include "filters/inpaint.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- membrane fill ---------------------------------------------------- */

/* Red-black SOR on the hole pixels listed in idx (red first, then black). */
static void sor(float *v, size_t stride, const int *idx, int nred, int n, int w, int max_sweeps)
{
    /* darktable's empirical relaxation factor for N unknowns; the stop
     * threshold is ~1/40 of an 8-bit step. */
    float omega = 2.0f - 1.0f / (0.1575f * sqrtf((float)n) + 0.8f);
    if (omega > 1.95f) omega = 1.95f;
    for (int it = 0; it < max_sweeps; it++) {
        float maxd = 0.0f;
        for (int pass = 0; pass < 2; pass++) {
            int a = pass ? nred : 0, b = pass ? n : nred;
            for (int j = a; j < b; j++) {
                int x = idx[j] % w, y = idx[j] / w;
                float *p = v + (size_t)y * stride + x;
                float target = 0.25f * (p[-1] + p[1] + p[-(ptrdiff_t)stride] + p[stride]);
                float d = omega * (target - *p);
                *p += d;
                if (fabsf(d) > maxd) maxd = fabsf(d);
            }
        }
        if (maxd < 1e-4f) break;
    }
}

int rt_membrane_fill(float *v, int w, int h, size_t stride, const unsigned char *hole)
{
    int n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (!hole[(size_t)y * w + x]) continue;
            if (x == 0 || y == 0 || x == w - 1 || y == h - 1)
                return rt_error(RT_ERR_ARG, "membrane fill: the hole touches the grid's border");
            n++;
        }
    if (n == 0) return 0;
    int err = 0, coarse = 0;
    /* Coarse-to-fine start: the same problem at half resolution (a coarse
     * cell is known when any of its pixels is) gives the low frequencies,
     * which plain SOR would need thousands of sweeps to carry across a
     * large hole. */
    if (n > 48 && w >= 8 && h >= 8) {
        int w2 = (w + 1) / 2, h2 = (h + 1) / 2;
        float *cv = malloc((size_t)w2 * h2 * sizeof *cv);
        unsigned char *ch = malloc((size_t)w2 * h2);
        if (!cv || !ch) {
            free(cv);
            free(ch);
            return rt_error(RT_ERR_NOMEM, "out of memory for a membrane fill");
        }
        for (int y = 0; y < h2; y++)
            for (int x = 0; x < w2; x++) {
                float s = 0.0f;
                int k = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int xx = 2 * x + dx, yy = 2 * y + dy;
                        if (xx >= w || yy >= h || hole[(size_t)yy * w + xx]) continue;
                        s += v[(size_t)yy * stride + xx];
                        k++;
                    }
                ch[(size_t)y * w2 + x] = k == 0;
                cv[(size_t)y * w2 + x] = k ? s / (float)k : 0.0f;
            }
        err = rt_membrane_fill(cv, w2, h2, (size_t)w2, ch);
        coarse = 1;
        if (!err)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    if (hole[(size_t)y * w + x]) {
                        /* bilinear from the coarse grid (cell centres at 2x+0.5) */
                        float fx = (x - 0.5f) * 0.5f, fy = (y - 0.5f) * 0.5f;
                        int ix = (int)floorf(fx), iy = (int)floorf(fy);
                        float tx = fx - ix, ty = fy - iy;
                        int x0 = ix < 0 ? 0 : ix, y0 = iy < 0 ? 0 : iy;
                        int x1 = ix + 1 >= w2 ? w2 - 1 : ix + 1,
                            y1 = iy + 1 >= h2 ? h2 - 1 : iy + 1;
                        float a =
                            cv[(size_t)y0 * w2 + x0] * (1 - tx) + cv[(size_t)y0 * w2 + x1] * tx;
                        float b =
                            cv[(size_t)y1 * w2 + x0] * (1 - tx) + cv[(size_t)y1 * w2 + x1] * tx;
                        v[(size_t)y * stride + x] = a * (1 - ty) + b * ty;
                    }
        free(cv);
        free(ch);
        if (err) return err;
    } else {
        /* small hole: start from the mean of its known neighbours */
        double s = 0;
        int k = 0;
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < w - 1; x++) {
                size_t i = (size_t)y * w + x;
                if (hole[i]) continue;
                if (hole[i - 1] || hole[i + 1] || hole[i - w] || hole[i + w]) {
                    s += v[(size_t)y * stride + x];
                    k++;
                }
            }
        float m = k ? (float)(s / k) : 0.0f;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (hole[(size_t)y * w + x]) v[(size_t)y * stride + x] = m;
    }
    int *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return rt_error(RT_ERR_NOMEM, "out of memory for a membrane fill");
    int nred = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (hole[(size_t)y * w + x] && ((x + y) & 1) == pass) idx[nred++] = y * w + x;
    int red = 0;
    for (int j = 0; j < n; j++)
        if (((idx[j] % w + idx[j] / w) & 1) == 0) red++;
    /* with a coarse start only the finest frequencies are left to relax:
     * a few dozen sweeps (nested iteration) */
    sor(v, stride, idx, red, n, w, coarse ? 40 : 2000);
    free(idx);
    return 0;
}

/* ---- heal of a round spot --------------------------------------------- */

static inline float luma(const rt_image *im, int x, int y)
{
    size_t i = (size_t)y * im->width + x;
    return 0.25f * (im->data[i] + 2.0f * im->data[im->plane_stride + i] +
                    im->data[2 * im->plane_stride + i]);
}

/* Fine detail at (x, y): the pixel minus the mean of its 4 neighbours at
 * distance d (a Laplacian band matched to the sampling step). */
static inline float detail(const rt_image *im, int x, int y, int d)
{
    return luma(im, x, y) - 0.25f * (luma(im, x - d, y) + luma(im, x + d, y) + luma(im, x, y - d) +
                                     luma(im, x, y + d));
}

static float area_weight(const rt_heal_area *a, int x, int y)
{
    if (x < a->x0 || y < a->y0 || x >= a->x0 + a->w || y >= a->y0 + a->h) return -1.0f;
    return a->weight[(size_t)(y - a->y0) * a->stride + (x - a->x0)];
}

/* The membrane over a disc hole in closed form: the harmonic function
 * inside a circle of radius R is the Poisson integral of its boundary
 * values, u(r, t) = a0 + sum_n (r/R)^n (a_n cos nt + b_n sin nt).  The
 * coefficients come from the 2 px ring just outside the hole; the series
 * stops at DISC_TERMS, which also keeps the ring's pixel noise (texture
 * difference between target and source) out of the fill, where the feather
 * hides the small mismatch at the edge.  Many times cheaper than relaxation
 * for the large spots of a 24 MP face.  (x, y) of grid cell (i, j) relative
 * to the centre: (ox + i, oy + j). */
#define DISC_TERMS 10
static int disc_membrane(float *v, int w, int h, float ox, float oy, float r_hole,
                         const unsigned char *hole)
{
    double a[DISC_TERMS + 1] = {0}, b[DISC_TERMS + 1] = {0}, rsum = 0;
    int n = 0;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            float x = ox + i, y = oy + j, r = hypotf(x, y);
            if (hole[(size_t)j * w + i] || r >= r_hole + 2.0f) continue;
            double c1 = x / r, s1 = y / r, cn = 1, sn = 0, val = v[(size_t)j * w + i];
            a[0] += val;
            for (int k = 1; k <= DISC_TERMS; k++) {
                double cn1 = cn * c1 - sn * s1;
                sn = sn * c1 + cn * s1;
                cn = cn1;
                a[k] += val * cn;
                b[k] += val * sn;
            }
            rsum += r;
            n++;
        }
    if (n < 8) return rt_membrane_fill(v, w, h, (size_t)w, hole);
    double R = rsum / n;
    a[0] /= n;
    for (int k = 1; k <= DISC_TERMS; k++) {
        a[k] *= 2.0 / n;
        b[k] *= 2.0 / n;
    }
    /* terms the ring's sampling cannot carry (fewer than ~4 samples per
     * period) are dropped */
    int terms = DISC_TERMS;
    while (terms > 1 && n < 8 * terms)
        terms--;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            if (!hole[(size_t)j * w + i]) continue;
            float x = ox + i, y = oy + j, r = hypotf(x, y);
            double q = r / R, c1 = r > 0 ? x / r : 1, s1 = r > 0 ? y / r : 0;
            double cn = 1, sn = 0, qn = 1, u = a[0];
            for (int k = 1; k <= terms; k++) {
                double cn1 = cn * c1 - sn * s1;
                sn = sn * c1 + cn * s1;
                cn = cn1;
                qn *= q;
                u += qn * (a[k] * cn + b[k] * sn);
            }
            v[(size_t)j * w + i] = (float)u;
        }
    return 0;
}

typedef struct ring_sample {
    short dx, dy;
} ring_sample;

int rt_heal_spot(const rt_image *im, float cx, float cy, float r_inner, float r_outer,
                 const rt_heal_area *area, const rt_heal_disc *avoid, int navoid,
                 rt_heal_patch *out)
{
    memset(out, 0, sizeof *out);
    if (im->channels < 3 || !(r_outer > r_inner) || !(r_inner >= 0.0f))
        return rt_error(RT_ERR_ARG, "heal spot: needs an RGB image and 0 <= r_inner < r_outer");
    const int W = im->width, H = im->height;
    /* patch: the feathered disc plus a 2 px boundary ring for the membrane */
    int rad = (int)ceilf(r_outer) + 2;
    int px0 = (int)floorf(cx) - rad, py0 = (int)floorf(cy) - rad;
    int pw = 2 * rad + 1, ph = 2 * rad + 1;
    if (px0 < 1 || py0 < 1 || px0 + pw > W - 1 || py0 + ph > H - 1) return 0;

    /* match ring: just outside the spot, sampled at a step that keeps a few
     * hundred samples whatever the size */
    int step = (int)floorf(r_outer / 8.0f);
    if (step < 1) step = 1;
    float ring_in = r_outer, ring_out = r_outer + fmaxf(2.0f, 0.6f * r_outer);
    int rr = (int)ceilf(ring_out);
    int nring = 0, ndisc = 0, cap = (2 * rr / step + 2) * (2 * rr / step + 2);
    ring_sample *ring = malloc((size_t)cap * sizeof *ring);
    ring_sample *disc = malloc((size_t)cap * sizeof *disc);
    if (!ring || !disc) {
        free(ring);
        free(disc);
        return rt_error(RT_ERR_NOMEM, "out of memory for a heal");
    }
    int icx = (int)floorf(cx), icy = (int)floorf(cy);
    float ocx = cx - (icx + 0.5f), ocy = cy - (icy + 0.5f);
    for (int dy = -rr; dy <= rr; dy += step)
        for (int dx = -rr; dx <= rr; dx += step) {
            float r = hypotf(dx - ocx, dy - ocy);
            if (r >= ring_in && r < ring_out) ring[nring++] = (ring_sample){(short)dx, (short)dy};
            if (r < r_outer) disc[ndisc++] = (ring_sample){(short)dx, (short)dy};
        }
    int d = step;
    int reach = rr + d + 1;
    if (icx - reach < 0 || icy - reach < 0 || icx + reach >= W || icy + reach >= H || nring < 4 ||
        ndisc < 1) {
        free(ring);
        free(disc);
        return 0;
    }
    /* target ring detail and its energy */
    float *tdet = malloc((size_t)nring * sizeof *tdet);
    if (!tdet) {
        free(ring);
        free(disc);
        return rt_error(RT_ERR_NOMEM, "out of memory for a heal");
    }
    double et = 0, tm = 0, tsd = 0;
    for (int j = 0; j < nring; j++) {
        tdet[j] = detail(im, icx + ring[j].dx, icy + ring[j].dy, d);
        et += (double)tdet[j] * tdet[j];
        tm += luma(im, icx + ring[j].dx, icy + ring[j].dy);
    }
    et /= nring;
    tm /= nring;
    for (int j = 0; j < nring; j++) {
        double v = luma(im, icx + ring[j].dx, icy + ring[j].dy) - tm;
        tsd += v * v;
    }
    tsd = sqrt(tsd / nring); /* the surroundings' own variation */
    const double eps = 1e-7;

    static const float dists[] = {2.0f, 2.75f, 3.5f, 4.5f};
    double best = INFINITY;
    int bdx = 0, bdy = 0;
    for (int di = 0; di < 4; di++)
        for (int ai = 0; ai < 12; ai++) {
            float ang = (float)ai * (6.2831853f / 12.0f) + (float)di * 0.2618f;
            float rho = dists[di] * r_outer + 2.0f;
            int ox = (int)lrintf(rho * cosf(ang)), oy = (int)lrintf(rho * sinf(ang));
            int sx = icx + ox, sy = icy + oy;
            if (sx - reach < 0 || sy - reach < 0 || sx + reach >= W || sy + reach >= H) continue;
            int ok = 1;
            for (int k = 0; k < navoid && ok; k++) {
                float ddx = (float)(sx + 0.5f + ocx) - avoid[k].x;
                float ddy = (float)(sy + 0.5f + ocy) - avoid[k].y;
                if (hypotf(ddx, ddy) < ring_out + avoid[k].r) ok = 0;
            }
            /* the source disc and its ring must lie in the allowed area */
            for (int j = 0; j < ndisc && ok; j++)
                if (area && area_weight(area, sx + disc[j].dx, sy + disc[j].dy) < area->min_weight)
                    ok = 0;
            for (int j = 0; j < nring && ok; j++)
                if (area && area_weight(area, sx + ring[j].dx, sy + ring[j].dy) < area->min_weight)
                    ok = 0;
            if (!ok) continue;
            double ssd = 0, es = 0, ms_ring = 0, ms_disc = 0;
            for (int j = 0; j < nring; j++) {
                float v = detail(im, sx + ring[j].dx, sy + ring[j].dy, d) - tdet[j];
                ssd += (double)v * v;
                ms_ring += luma(im, sx + ring[j].dx, sy + ring[j].dy);
            }
            ssd /= nring;
            ms_ring /= nring;
            for (int j = 0; j < ndisc; j++) {
                float v = detail(im, sx + disc[j].dx, sy + disc[j].dy, d);
                es += (double)v * v;
                ms_disc += luma(im, sx + disc[j].dx, sy + disc[j].dy);
            }
            es /= ndisc;
            ms_disc /= ndisc;
            /* texture must match the surroundings' (no smooth or grainy
             * patch), and the source must not hold a spot of its own (the
             * membrane matches the edges, not what lies inside) */
            double lr = log((es + eps) / (et + eps));
            double spot = (ms_disc - ms_ring) / (tsd + 0.004);
            double cost =
                ssd / (2.0 * et + eps) + 1.5 * lr * lr + 0.5 * spot * spot + 0.05 * dists[di];
            if (cost < best) {
                best = cost;
                bdx = ox;
                bdy = oy;
            }
        }
    free(tdet);
    free(ring);
    free(disc);
    if (!isfinite(best)) return 0;

    size_t np = (size_t)pw * ph;
    out->rgb = malloc(3 * np * sizeof(float));
    out->alpha = malloc(np * sizeof(float));
    float *diff = malloc(np * sizeof(float));
    unsigned char *hole = malloc(np);
    if (!out->rgb || !out->alpha || !diff || !hole) {
        free(diff);
        free(hole);
        rt_heal_patch_release(out);
        return rt_error(RT_ERR_NOMEM, "out of memory for a heal");
    }
    out->x0 = px0;
    out->y0 = py0;
    out->w = pw;
    out->h = ph;
    out->src_dx = (float)bdx;
    out->src_dy = (float)bdy;
    for (int y = 0; y < ph; y++)
        for (int x = 0; x < pw; x++) {
            float r = hypotf(px0 + x + 0.5f - cx, py0 + y + 0.5f - cy);
            float a;
            if (r <= r_inner)
                a = 1.0f;
            else if (r >= r_outer)
                a = 0.0f;
            else {
                float t = (r_outer - r) / (r_outer - r_inner);
                a = t * t * (3.0f - 2.0f * t);
            }
            out->alpha[(size_t)y * pw + x] = a;
            hole[(size_t)y * pw + x] = r < r_outer;
        }
    int err = 0;
    for (int c = 0; c < 3 && !err; c++) {
        const float *pl = rt_image_plane(im, c);
        float *o = out->rgb + (size_t)c * np;
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                size_t t = (size_t)(py0 + y) * W + (px0 + x);
                size_t s = (size_t)(py0 + y + bdy) * W + (px0 + x + bdx);
                diff[(size_t)y * pw + x] = pl[t] - pl[s];
            }
        /* small holes: relaxation is exact and cheap; large ones (24 MP
         * faces): the closed form */
        err = r_outer <= 12.0f
                  ? rt_membrane_fill(diff, pw, ph, (size_t)pw, hole)
                  : disc_membrane(diff, pw, ph, px0 + 0.5f - cx, py0 + 0.5f - cy, r_outer, hole);
        for (int y = 0; y < ph && !err; y++)
            for (int x = 0; x < pw; x++) {
                size_t i = (size_t)y * pw + x;
                size_t t = (size_t)(py0 + y) * W + (px0 + x);
                size_t s = (size_t)(py0 + y + bdy) * W + (px0 + x + bdx);
                float v = hole[i] ? pl[s] + diff[i] : pl[t];
                o[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
            }
    }
    free(diff);
    free(hole);
    if (err) {
        rt_heal_patch_release(out);
        return err;
    }
    return 1;
}

void rt_heal_patch_release(rt_heal_patch *p)
{
    if (!p) return;
    free(p->rgb);
    free(p->alpha);
    p->rgb = p->alpha = NULL;
}
