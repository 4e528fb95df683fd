/* Soft spots: detection in octaves of the log luminance, ring tests, and
 * removal by dividing out the smooth attenuation (spots.h). */
#include "filters/spots.h"

#include "core/colour.h"
#include "core/error.h"
#include "filters/bands.h"
#include "filters/blobs.h"
#include "filters/inpaint.h"
#include "filters/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_EPS 2e-3f       /* keeps the log of black finite; noise in deep shadow stays small */
#define OCTAVE_SIGMA0 1.0f  /* first level of each octave's scale space, octave pixels */
#define OCTAVE_LEVELS 5     /* 1, 1.41, 2, 2.83, 4: DoG blobs 1.19 .. 3.36 */
#define BLOB_SIGMA_LO 1.68f /* the DoGs kept per octave: 1.68 and 2.38 */
#define RING_IN 2.5f        /* ring radii, sigmas */
#define RING_OUT 3.3f
#define SPREAD_FLOOR 0.002f /* noise-free synthetic content: z stays finite */
#define MAX_CANDIDATES 20000
#define HOLE_SIGMAS 3.5f
/* The texture a spot must stand out of: DoG energy of its scale, blurred
 * by 1.8 level sigmas, the median of 8 samples 5 blob sigmas away (the
 * spot's own energy is not counted; a neighbour or an edge on one side is
 * outvoted). */
#define TEXTURE_SIGMAS 1.8f
#define TEXTURE_RING 5.0f
#define NEIGHBOUR_SIGMAS 7.0f /* the corrected disc: a Gaussian dip is < 1 % of itself beyond */

typedef struct octave {
    float factor; /* full-resolution pixels per octave pixel */
    int w, h;
    float *plane; /* log luminance (rt_alloc_floats) */
    rt_scale_space *ss;
    float *energy[2]; /* local mean of DoG^2 of scales 1 and 2 (TEXTURE_SIGMAS wide) */
} octave;

/* Blobs of one octave bucketed on a grid of CELL pixels (counting sort),
 * for the neighbour test. */
#define CELL 16
typedef struct blob_grid {
    int gw, gh;
    int *start; /* gw * gh + 1 */
    int *index; /* blob indices, cell by cell */
} blob_grid;

static int grid_build(const rt_blob *b, int n, int w, int h, blob_grid *g)
{
    g->gw = (w + CELL - 1) / CELL;
    g->gh = (h + CELL - 1) / CELL;
    size_t nc = (size_t)g->gw * g->gh;
    g->start = calloc(nc + 1, sizeof *g->start);
    g->index = malloc((size_t)(n > 0 ? n : 1) * sizeof *g->index);
    if (!g->start || !g->index) return rt_error(RT_ERR_NOMEM, "out of memory for spot detection");
    for (int i = 0; i < n; i++) {
        int cx = (int)(b[i].x / CELL), cy = (int)(b[i].y / CELL);
        cx = cx < 0 ? 0 : (cx >= g->gw ? g->gw - 1 : cx);
        cy = cy < 0 ? 0 : (cy >= g->gh ? g->gh - 1 : cy);
        g->start[(size_t)cy * g->gw + cx + 1]++;
    }
    for (size_t c = 0; c < nc; c++)
        g->start[c + 1] += g->start[c];
    int *fill = malloc((nc + 1) * sizeof *fill);
    if (!fill) return rt_error(RT_ERR_NOMEM, "out of memory for spot detection");
    memcpy(fill, g->start, (nc + 1) * sizeof *fill);
    for (int i = 0; i < n; i++) {
        int cx = (int)(b[i].x / CELL), cy = (int)(b[i].y / CELL);
        cx = cx < 0 ? 0 : (cx >= g->gw ? g->gw - 1 : cx);
        cy = cy < 0 ? 0 : (cy >= g->gh ? g->gh - 1 : cy);
        g->index[fill[(size_t)cy * g->gw + cx]++] = i;
    }
    free(fill);
    return 0;
}

/* Other blobs of the same polarity, at least half as strong, between 1.5
 * and NEIGHBOUR_SIGMAS sigmas away: knots of a knit, dots of a print,
 * freckles of a field.  Dust is alone. */
static int neighbours(const rt_blob *all, const blob_grid *g, const rt_blob *b)
{
    float r = NEIGHBOUR_SIGMAS * b->sigma, rmin = 1.5f * b->sigma;
    int cx0 = (int)((b->x - r) / CELL), cx1 = (int)((b->x + r) / CELL);
    int cy0 = (int)((b->y - r) / CELL), cy1 = (int)((b->y + r) / CELL);
    int count = 0;
    for (int cy = cy0 < 0 ? 0 : cy0; cy <= cy1 && cy < g->gh; cy++)
        for (int cx = cx0 < 0 ? 0 : cx0; cx <= cx1 && cx < g->gw; cx++) {
            size_t c = (size_t)cy * g->gw + cx;
            for (int k = g->start[c]; k < g->start[c + 1]; k++) {
                const rt_blob *o = &all[g->index[k]];
                if ((o->response > 0) != (b->response > 0)) continue;
                if (fabsf(o->response) < 0.5f * fabsf(b->response)) continue;
                float dx = o->x - b->x, dy = o->y - b->y, d2 = dx * dx + dy * dy;
                if (d2 < rmin * rmin || d2 > r * r) continue;
                count++;
            }
        }
    return count;
}

static int cmp_spot(const void *a, const void *b)
{
    const rt_spot *p = a, *q = b;
    if (p->z != q->z) return p->z > q->z ? -1 : 1;
    if (p->sigma != q->sigma) return p->sigma < q->sigma ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return 0;
}

static void sort_small(float *v, int n)
{
    for (int i = 1; i < n; i++) {
        float x = v[i];
        int j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* Bilinear sample of a plane, pixel centres at +0.5, clamped. */
static float sample(const float *p, int w, int h, float x, float y)
{
    x -= 0.5f;
    y -= 0.5f;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x > (float)(w - 1)) x = (float)(w - 1);
    if (y > (float)(h - 1)) y = (float)(h - 1);
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float tx = x - (float)x0, ty = y - (float)y0;
    const float *r0 = p + (size_t)y0 * w, *r1 = p + (size_t)y1 * w;
    float a = r0[x0] + tx * (r0[x1] - r0[x0]);
    float b = r1[x0] + tx * (r1[x1] - r1[x0]);
    return a + ty * (b - a);
}

/* Log of the linear luminance averaged over blocks of f x f pixels. */
static int log_luminance(const rt_image *im, int f, float **out, int *ow, int *oh)
{
    int w = (im->width + f - 1) / f, h = (im->height + f - 1) / f;
    float *p = rt_alloc_floats((size_t)w * h);
    if (!p) return rt_error(RT_ERR_NOMEM, "out of memory for spot detection");
    const float *r = rt_image_plane(im, 0), *g = rt_image_plane(im, 1), *b = rt_image_plane(im, 2);
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        int ys = y * f, ye = ys + f < im->height ? ys + f : im->height;
        for (int x = 0; x < w; x++) {
            int xs = x * f, xe = xs + f < im->width ? xs + f : im->width;
            float acc = 0.f;
            for (int yy = ys; yy < ye; yy++) {
                size_t i = (size_t)yy * im->width;
                for (int xx = xs; xx < xe; xx++)
                    acc += rt_luminance(rt_srgb_to_linear(r[i + xx]), rt_srgb_to_linear(g[i + xx]),
                                        rt_srgb_to_linear(b[i + xx]));
            }
            p[(size_t)y * w + x] = logf(acc / (float)((ye - ys) * (xe - xs)) + LOG_EPS);
        }
    }
    *out = p;
    *ow = w;
    *oh = h;
    return 0;
}

/* The blob of octave o at (x, y) (octave pixels), sigma s, measured against
 * its ring; returns 1 and fills *sp when it passes the tests. */
static int measure(const octave *o, const rt_spot_params *p, float trust, float x, float y, float s,
                   rt_spot *sp)
{
    enum { NA = 16, NR = 6 };
    const float *l0 = o->ss->level[0];
    float ring[2 * NA], dev[2 * NA], cs[NA], sn[NA];
    double gx = 0, gy = 0, mean = 0;
    for (int a = 0; a < NA; a++) {
        float ang = (float)a * (6.2831853f / NA);
        cs[a] = cosf(ang);
        sn[a] = sinf(ang);
        ring[a] = sample(l0, o->w, o->h, x + RING_IN * s * cs[a], y + RING_IN * s * sn[a]);
        ring[NA + a] = sample(l0, o->w, o->h, x + RING_OUT * s * cs[a], y + RING_OUT * s * sn[a]);
        mean += ring[a] + ring[NA + a];
        gx += (ring[a] / RING_IN + ring[NA + a] / RING_OUT) * cs[a];
        gy += (ring[a] / RING_IN + ring[NA + a] / RING_OUT) * sn[a];
    }
    /* the ring's linear trend per octave pixel: a spot on a gradient is
     * measured against the level of the gradient at its centre */
    gx /= (double)NA * s;
    gy /= (double)NA * s;
    mean /= 2.0 * NA;
    for (int a = 0; a < NA; a++) {
        ring[a] -= (float)(RING_IN * s * (gx * cs[a] + gy * sn[a]));
        ring[NA + a] -= (float)(RING_OUT * s * (gx * cs[a] + gy * sn[a]));
    }
    float sorted[2 * NA];
    memcpy(sorted, ring, sizeof ring);
    sort_small(sorted, 2 * NA);
    float med = 0.5f * (sorted[NA - 1] + sorted[NA]);
    for (int i = 0; i < 2 * NA; i++)
        dev[i] = fabsf(ring[i] - med);
    memcpy(sorted, dev, sizeof dev);
    sort_small(sorted, 2 * NA);
    float spread = fmaxf(SPREAD_FLOOR, 1.4826f * 0.5f * (sorted[NA - 1] + sorted[NA]));
    float maxdev = sorted[2 * NA - 1];
    float c = sample(l0, o->w, o->h, x, y) - med;
    float ac = fabsf(c);
    if (ac < p->contrast_min || ac > p->contrast_max * trust) return 0;
    if ((p->polarity < 0 && c > 0) || (p->polarity > 0 && c < 0)) return 0;
    float z = ac / spread;
    if (z * trust < p->z_min) return 0;
    /* isolated: nothing in the ring as far off as the spot (text, weave,
     * freckle fields, lines through it) */
    if (maxdev > 0.5f * ac) return 0;
    int agree = 0;
    for (int a = 0; a < NA; a++)
        if ((c - (ring[a] - med)) * (c > 0 ? 1.f : -1.f) >= 0.5f * ac) agree++;
    if (agree < p->min_agree) return 0;
    /* the centre refined to the spot's centroid (the DoG extremum sits on
     * a pixel centre), then its radial profile on the unblurred octave
     * plane (8 directions per radius) against the detrended ring level */
    double sw = 0, sx = 0, sy = 0;
    int rr = (int)ceilf(1.2f * s);
    for (int dy = -rr; dy <= rr; dy++)
        for (int dx = -rr; dx <= rr; dx++) {
            if ((float)(dx * dx + dy * dy) > 1.44f * s * s) continue;
            float v = (sample(l0, o->w, o->h, x + (float)dx, y + (float)dy) - med -
                       (float)(dx * gx + dy * gy)) *
                      (c > 0 ? 1.f : -1.f);
            if (v <= 0.f) continue;
            sw += v;
            sx += v * dx;
            sy += v * dy;
        }
    if (sw > 0) {
        x += (float)(sx / sw);
        y += (float)(sy / sw);
    }
    /* sharpness of the rim: the profile's slope where it is half the
     * centre, times that radius; a Gaussian gives 0.69 at any size, a
     * disc of radius R with an edge blurred by b about R / 2.5 b */
    enum { NP = 13 };
    float prof[NP];
    float step = 0.25f * s;
    float centre = 0.f;
    for (int j = 0; j < NP; j++) {
        float r = (float)j * step, acc = 0.f;
        for (int a = 0; a < NA; a += 2)
            acc += sample(o->plane, o->w, o->h, x + r * cs[a], y + r * sn[a]) -
                   (float)(r * (gx * cs[a] + gy * sn[a]));
        prof[j] = acc / (NA / 2) - med;
        if (j == 0) centre = prof[0];
    }
    float rim = 9.f;
    if (fabsf(centre) > 1e-6f) {
        for (int j = 0; j < NP; j++)
            prof[j] /= centre;
        for (int j = 0; j + 1 < NP; j++)
            if (prof[j] >= 0.5f && prof[j + 1] < 0.5f) {
                float t = (prof[j] - 0.5f) / (prof[j] - prof[j + 1]);
                float r50 = ((float)j + t) * step;
                float slope;
                if (j >= 1 && j + 2 < NP)
                    slope =
                        0.5f *
                        ((prof[j - 1] - prof[j + 1]) * (1.f - t) + (prof[j] - prof[j + 2]) * t) /
                        step;
                else
                    slope = (prof[j] - prof[j + 1]) / step;
                rim = slope * r50;
                break;
            }
    }
    if (rim > p->rim_max) return 0;
    sp->x = (x + 0.0f) * o->factor;
    sp->y = (y + 0.0f) * o->factor;
    sp->sigma = s * o->factor;
    sp->contrast = c;
    sp->z = z;
    sp->rim = rim;
    return 1;
}

/* Per linear channel, the log of the mean over the spot's core (0.7 sigma)
 * minus that over its ring (2.5-3.3 sigma), at full resolution. */
static void channel_contrast(const rt_image *im, float x, float y, float sigma, float c[3])
{
    int step = sigma > 8.f ? (int)(sigma / 4.f) : 1;
    int r = (int)ceilf(RING_OUT * sigma);
    double core[3] = {0}, ring[3] = {0};
    int nc = 0, nr = 0;
    for (int dy = -r; dy <= r; dy += step)
        for (int dx = -r; dx <= r; dx += step) {
            int px = (int)x + dx, py = (int)y + dy;
            if (px < 0 || py < 0 || px >= im->width || py >= im->height) continue;
            float d = sqrtf((float)(dx * dx + dy * dy)) / sigma;
            int in_core = d <= 0.7f, in_ring = d >= RING_IN && d <= RING_OUT;
            if (!in_core && !in_ring) continue;
            size_t i = (size_t)py * im->width + px;
            for (int ch = 0; ch < 3; ch++) {
                double v = rt_srgb_to_linear(rt_image_plane(im, ch)[i]);
                if (in_core)
                    core[ch] += v;
                else
                    ring[ch] += v;
            }
            in_core ? nc++ : nr++;
        }
    for (int ch = 0; ch < 3; ch++)
        c[ch] = (nc && nr) ? logf((float)(core[ch] / nc) + LOG_EPS) -
                                 logf((float)(ring[ch] / nr) + LOG_EPS)
                           : 0.f;
}

static float region_trust(const rt_spot_params *p, int width, int height, float x, float y)
{
    if (!p->region) return 1.f;
    int rx = (int)(x / (float)width * (float)p->region_w);
    int ry = (int)(y / (float)height * (float)p->region_h);
    if (rx < 0 || ry < 0 || rx >= p->region_w || ry >= p->region_h) return 0.f;
    float t = p->region[(size_t)ry * p->region_w + rx];
    return t > 1.f ? 1.f : t;
}

int rt_spots_find(const rt_image *im, const rt_spot_params *p, rt_spot **out, int *count)
{
    *out = NULL;
    *count = 0;
    if (im->channels < 3 || !(p->sigma_lo > 0.f) || !(p->sigma_hi >= p->sigma_lo))
        return rt_error(RT_ERR_ARG, "spot detection: bad arguments");
    float f0 = p->sigma_lo / BLOB_SIGMA_LO;
    if (f0 < 1.f) f0 = 1.f;
    int fi = (int)floorf(f0);
    float *base = NULL;
    int bw = 0, bh = 0;
    int err = log_luminance(im, fi, &base, &bw, &bh);
    if (err) return err;
    rt_spot *cand = NULL;
    int ncand = 0, cap = 0;
    const float sig[OCTAVE_LEVELS] = {OCTAVE_SIGMA0, OCTAVE_SIGMA0 * 1.41421356f,
                                      OCTAVE_SIGMA0 * 2.f, OCTAVE_SIGMA0 * 2.82842712f,
                                      OCTAVE_SIGMA0 * 4.f};
    for (float f = f0; !err && BLOB_SIGMA_LO * f <= p->sigma_hi * 1.19f; f *= 2.f) {
        octave o = {.factor = f};
        o.w = (int)lroundf((float)im->width / f);
        o.h = (int)lroundf((float)im->height / f);
        if (o.w < 16 || o.h < 16) break;
        /* the real factor of this octave's grid, per axis nearly the same */
        o.factor = (float)im->width / (float)o.w;
        o.plane = rt_alloc_floats((size_t)o.w * o.h);
        if (!o.plane) {
            err = rt_error(RT_ERR_NOMEM, "out of memory for spot detection");
            break;
        }
        if (o.w == bw && o.h == bh)
            memcpy(o.plane, base, (size_t)bw * bh * sizeof *base);
        else
            err = rt_downscale_plane(base, bw, bh, o.plane, o.w, o.h);
        if (!err) err = rt_scale_space_create(o.plane, o.w, o.h, sig, OCTAVE_LEVELS, &o.ss);
        /* texture at the spot's own scale around it: weave, knit, foliage
         * and text answer the DoG as strongly as a spot, dust on a smooth
         * backdrop does not */
        for (int k = 1; k <= 2 && !err; k++) {
            size_t np = (size_t)o.w * o.h;
            o.energy[k - 1] = rt_alloc_floats(np);
            if (!o.energy[k - 1]) {
                err = rt_error(RT_ERR_NOMEM, "out of memory for spot detection");
                break;
            }
            const float *a = o.ss->level[k], *b = o.ss->level[k + 1];
            float *e = o.energy[k - 1];
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < np; i++)
                e[i] = (a[i] - b[i]) * (a[i] - b[i]);
            err = rt_band_blur(e, o.w, o.h, TEXTURE_SIGMAS * o.ss->sigma[k], e);
        }
        rt_blob *blobs = NULL;
        int nb = 0;
        /* a Gaussian spot of contrast A answers its own DoG with about 0.17 A:
         * weaker extrema cannot pass the contrast test (and most pixels of
         * grain would be tested for being extrema) */
        if (!err) err = rt_blobs_find(o.ss, NULL, 0.f, 0.14f * p->contrast_min, 1, &blobs, &nb);
        blob_grid grid = {0};
        if (!err) err = grid_build(blobs, nb, o.w, o.h, &grid);
        for (int i = 0; i < nb && !err; i++) {
            const rt_blob *b = &blobs[i];
            if (b->scale < 1 || b->scale > 2) continue;
            if (b->x < 1.f || b->y < 1.f || b->x > (float)o.w - 1.f || b->y > (float)o.h - 1.f)
                continue;
            float sfull = b->sigma * o.factor;
            if (sfull < p->sigma_lo * 0.84f || sfull > p->sigma_hi * 1.19f) continue;
            if (p->max_neighbours >= 0 && neighbours(blobs, &grid, b) > p->max_neighbours) continue;
            float trust = region_trust(p, im->width, im->height, b->x * o.factor, b->y * o.factor);
            if (!(trust > 0.f)) continue;
            float tex8[8];
            for (int a = 0; a < 8; a++) {
                float ang = (float)a * 0.785398f;
                tex8[a] = sample(o.energy[b->scale - 1], o.w, o.h,
                                 b->x + TEXTURE_RING * b->sigma * cosf(ang),
                                 b->y + TEXTURE_RING * b->sigma * sinf(ang));
            }
            sort_small(tex8, 8);
            float tex = 0.5f * (tex8[3] + tex8[4]) + 1e-12f;
            if (b->response * b->response < p->texture_min * p->texture_min * tex) continue;
            rt_spot s;
            if (!measure(&o, p, trust, b->x, b->y, b->sigma, &s)) continue;
            s.texture = fabsf(b->response) / sqrtf(tex);
            if (p->neutral_max > 0.f) {
                /* dust attenuates (or lightens) every channel alike; a
                 * highlight on a coloured thread or a coloured dot does not */
                float cc[3];
                channel_contrast(im, s.x, s.y, s.sigma, cc);
                float m = (cc[0] + cc[1] + cc[2]) / 3.f, dev = 0.f;
                for (int ch = 0; ch < 3; ch++)
                    dev = fmaxf(dev, fabsf(cc[ch] - m));
                if (dev > p->neutral_max * fabsf(m) + 0.01f) continue;
            }
            if (ncand == cap) {
                int nc = cap ? 2 * cap : 256;
                rt_spot *v = realloc(cand, (size_t)nc * sizeof *v);
                if (!v) {
                    err = rt_error(RT_ERR_NOMEM, "out of memory for spot detection");
                    break;
                }
                cand = v;
                cap = nc;
            }
            cand[ncand++] = s;
        }
        free(blobs);
        free(grid.start);
        free(grid.index);
        rt_scale_space_destroy(o.ss);
        rt_free(o.plane);
        rt_free(o.energy[0]);
        rt_free(o.energy[1]);
    }
    rt_free(base);
    if (err) {
        free(cand);
        return err;
    }
    if (ncand == 0) {
        free(cand);
        return 0;
    }
    qsort(cand, (size_t)ncand, sizeof *cand, cmp_spot);
    if (ncand > MAX_CANDIDATES) ncand = MAX_CANDIDATES;
    /* the same spot answers in neighbouring octaves and scales: keep the
     * strongest of overlapping discs */
    int nkeep = 0, limit = p->max_spots > 0 ? p->max_spots : ncand;
    for (int i = 0; i < ncand && nkeep < limit; i++) {
        int overlaps = 0;
        for (int j = 0; j < nkeep && !overlaps; j++) {
            float dx = cand[i].x - cand[j].x, dy = cand[i].y - cand[j].y;
            float d = 1.5f * (cand[i].sigma + cand[j].sigma);
            overlaps = dx * dx + dy * dy < d * d;
        }
        if (!overlaps) cand[nkeep++] = cand[i];
    }
    *out = cand;
    *count = nkeep;
    return 0;
}

float rt_spot_radius(const rt_spot *s)
{
    return HOLE_SIGMAS * s->sigma + 1.0f;
}

int rt_spot_remove(const rt_image *im, const rt_spot *s, float amount, rt_spot_patch *out)
{
    memset(out, 0, sizeof *out);
    float r = rt_spot_radius(s);
    /* the smooth part: finer than the spot, coarser than grain */
    float sb = fmaxf(0.6f, 0.35f * s->sigma);
    int half = (int)ceilf(r + 3.f * sb + 2.f);
    int cx = (int)floorf(s->x), cy = (int)floorf(s->y);
    int x0 = cx - half, y0 = cy - half, x1 = cx + half + 1, y1 = cy + half + 1;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > im->width) x1 = im->width;
    if (y1 > im->height) y1 = im->height;
    int w = x1 - x0, h = y1 - y0;
    if (w < 3 || h < 3) return 0;
    size_t n = (size_t)w * h;
    unsigned char *hole = calloc(n, 1);
    float *l = rt_alloc_floats(3 * n), *smooth = rt_alloc_floats(n), *fill = rt_alloc_floats(n);
    if (!hole || !l || !smooth || !fill) {
        free(hole);
        rt_free(l);
        rt_free(smooth);
        rt_free(fill);
        return rt_error(RT_ERR_NOMEM, "out of memory for a spot");
    }
    int nhole = 0;
    /* hole pixels never on the patch's border: they need a ring */
    for (int y = 1; y + 1 < h; y++)
        for (int x = 1; x + 1 < w; x++) {
            float dx = (float)(x0 + x) + 0.5f - s->x, dy = (float)(y0 + y) + 0.5f - s->y;
            if (dx * dx + dy * dy <= r * r) {
                hole[(size_t)y * w + x] = 1;
                nhole++;
            }
        }
    int err = 0;
    if (nhole == 0) goto done;
    for (int c = 0; c < 3 && !err; c++) {
        const float *src = rt_image_plane(im, c);
        float *lc = l + (size_t)c * n;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                lc[(size_t)y * w + x] =
                    logf(rt_srgb_to_linear(src[(size_t)(y0 + y) * im->width + x0 + x]) + LOG_EPS);
        err = rt_band_blur(lc, w, h, sb, smooth);
        if (!err) {
            memcpy(fill, smooth, n * sizeof *fill);
            err = rt_membrane_fill(fill, w, h, (size_t)w, hole);
        }
        /* the attenuation: what the smooth part lost against the ring's
         * membrane (0 off the hole), blurred by the smoothing; two Van
         * Cittert steps a += d - G*a undo most of that (a Gaussian spot:
         * 89 % of its depth -> 99.5 %), so no faint ring or core stays */
        if (!err) {
            for (size_t i = 0; i < n; i++)
                smooth[i] = hole[i] ? smooth[i] - fill[i] : 0.f; /* d */
            memcpy(lc, smooth, n * sizeof *lc);                  /* a = d */
        }
        for (int it = 0; it < 2 && !err; it++) {
            err = rt_band_blur(lc, w, h, sb, fill);
            for (size_t i = 0; i < n && !err; i++)
                lc[i] = hole[i] ? lc[i] + smooth[i] - fill[i] : 0.f;
        }
        for (size_t i = 0; i < n && !err; i++)
            lc[i] *= amount;
    }
    if (!err) {
        out->x0 = x0;
        out->y0 = y0;
        out->w = w;
        out->h = h;
        out->logc = l;
        l = NULL;
    }
done:
    free(hole);
    rt_free(l);
    rt_free(smooth);
    rt_free(fill);
    return err ? err : (out->logc ? 1 : 0);
}

void rt_spot_patch_release(rt_spot_patch *p)
{
    rt_free(p->logc);
    memset(p, 0, sizeof *p);
}

int rt_spot_patches_layer(const rt_image *im, const rt_spot_patch *patches, int n, rt_image **layer,
                          int *lx, int *ly)
{
    *layer = NULL;
    *lx = *ly = 0;
    int x0 = im->width, y0 = im->height, x1 = 0, y1 = 0;
    for (int i = 0; i < n; i++) {
        const rt_spot_patch *p = &patches[i];
        if (!p->logc) continue;
        if (p->x0 < x0) x0 = p->x0;
        if (p->y0 < y0) y0 = p->y0;
        if (p->x0 + p->w > x1) x1 = p->x0 + p->w;
        if (p->y0 + p->h > y1) y1 = p->y0 + p->h;
    }
    if (x1 <= x0 || y1 <= y0) return 0;
    int w = x1 - x0, h = y1 - y0;
    rt_image *L;
    int err = rt_image_create_uninit(w, h, 4, &L);
    if (err) return err;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++)
        for (int c = 0; c < 4; c++)
            memset(rt_image_plane(L, c) + (size_t)y * w, 0, (size_t)w * sizeof(float));
    /* sums of the attenuations, serially in patch order (same bytes for
     * any thread count) */
    float *alpha = rt_image_plane(L, 3);
    for (int i = 0; i < n; i++) {
        const rt_spot_patch *p = &patches[i];
        if (!p->logc) continue;
        size_t np = (size_t)p->w * p->h;
        for (int y = 0; y < p->h; y++)
            for (int x = 0; x < p->w; x++) {
                size_t pi = (size_t)y * p->w + x;
                size_t li = (size_t)(p->y0 - y0 + y) * w + (p->x0 - x0 + x);
                for (int c = 0; c < 3; c++) {
                    float v = p->logc[c * np + pi];
                    if (v != 0.f) {
                        rt_image_plane(L, c)[li] += v;
                        alpha[li] = 1.f;
                    }
                }
            }
    }
    int any = 0;
#pragma omp parallel for schedule(static) reduction(| : any)
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t li = (size_t)y * w + x;
            if (alpha[li] == 0.f) continue;
            size_t ii = (size_t)(y0 + y) * im->width + x0 + x;
            for (int c = 0; c < 3; c++) {
                float lin = rt_srgb_to_linear(rt_image_plane(im, c)[ii]);
                float v = (lin + LOG_EPS) * expf(-rt_image_plane(L, c)[li]) - LOG_EPS;
                v = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
                rt_image_plane(L, c)[li] = rt_linear_to_srgb(v);
            }
            any = 1;
        }
    if (!any) {
        rt_image_destroy(L);
        return 0;
    }
    *layer = L;
    *lx = x0;
    *ly = y0;
    return 0;
}
