/* Clean Backdrop: removes spots, scuffs, dust and uneven blotches from a
 * seamless studio backdrop, keeping its lighting gradient, vignette and
 * grain; with Automask the person is never touched (PLUGINS.md "Clean
 * Backdrop", ALGORITHMS.md §4).
 *
 * Sizes are in units u of the image's long side / 1000, so the result does
 * not depend on resolution.  Scale picks the dirt radius band: 3 finest
 * (0.6-4 u), 2 (2-12 u), 1 largest (6-40 u, with blotches), 0 all.
 *
 * Analysed on a copy of at most ANALYSIS_LONG_SIDE pixels (block means,
 * "analyse small, apply large", §1.6):
 *   1. Backdrop weight w: 1 - the person mask (any block where it reaches
 *      0.1), dilated by PROTECT_MARGIN of the long side and feathered.
 *      Automask off: w = 1 everywhere (structure is still kept, step 4).
 *   2. Reference R per channel: the backdrop's clean light, a masked
 *      first-order normalised convolution (a local plane fit, so gradients
 *      and vignettes are followed to the border) at the largest dirt
 *      radius (§1.3) over w, re-estimated four times without the pixels
 *      that stand out (so dirt does not pull the reference toward itself).
 *   3. Deviation d = max over channels |Lb - R|, Lb the copy blurred at half
 *      the smallest dirt radius; threshold T = max(3.5 x noise (MAD of d on
 *      the backdrop), 0.01).
 *   4. Dirt = 8-connected components of d > T that are compact (bounding
 *      box at most 4 x the largest radius: a speck or a scuff, not a long
 *      edge or the backdrop's seam), not inside a broad region of
 *      d > 0.6 T (where the reference lags a steep gradient), wholly where
 *      w = 1 (not attached to the person's protection; within 2.5 % of the
 *      long side beyond it only round specks that end where their fringe
 *      ends, not strokes or a stretch of a faint strand: flyaway hair)
 *      and on plain backdrop (little fine detail, relative to the light, on
 *      a ring around them: not hair, weave or a prop); grown into their
 *      faint fringe (d > 0.4 T), dilated by a pixel and feathered: map m.
 *   5. Blotches (Scale 0 and 1): the band between 8 u and 60 u of the
 *      dirt-free backdrop, rolled off above 0.03 (a cast shadow or an
 *      intended pool of light is stronger and stays) and removed to 95 %,
 *      only on plain backdrop (no fine detail around: hair outside the
 *      person mask, a fabric's weave are not evened).
 * Applied at full resolution in one pass, as a normal layer whose colour is
 * the clean backdrop and whose alpha is Blend x w (zero where nothing
 * changes, and on every pixel where the full-resolution person mask
 * reaches 0.1):
 *     clean = I - blotch - m (Lb - R) - m (F(x) - F(x + o)),
 * F = I - Lb (upsampled) the fine band; inside dirt the grain is copied
 * from a clean spot at offset o (about twice the largest radius away, the
 * first of 8 directions that is clean backdrop), so filled dirt keeps the
 * backdrop's grain instead of looking painted.
 *
 * First version: no ridge (crease) detector and no texture synthesis
 * beyond the grain copy; a loose hair far from the person (beyond the
 * hair zone) that is short and isolated counts as a scuff; a part of the
 * person the mask misses entirely is protected only by its texture.
 */
#include "plugins/plugin.h"

#include "core/error.h"
#include "face/analysis.h"
#include "filters/bands.h"
#include "filters/components.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ANALYSIS_LONG_SIDE 1536
#define UNITS_PER_LONG_SIDE 1000.0f
#define PERSON_MIN 26         /* of 255: the person mask at 0.1 */
#define PROTECT_MARGIN 0.012f /* of the long side */
#define NOISE_K 3.5f          /* dirt stands this many noise units out */
#define MIN_THRESHOLD 0.01f   /* ... and at least this much (encoded values) */
#define LABEL_FRACTION 0.6f   /* hysteresis: a dirt's extent (2 noise units) */
#define FRINGE_FRACTION 0.4f  /* its faint edge, grown into by 2 pixels */
#define MAX_EXTENT_RADII 4.0f /* compact: bounding box at most 4 largest radii */
#define BLOTCH_LO_U 8.0f
#define BLOTCH_HI_U 60.0f
#define BLOTCH_MAX 0.03f
#define BLOTCH_KEEP 0.05f /* 95 % removed */
#define REWEIGHTS 4       /* reference re-estimated without what stands out */
#define TEXTURE_MAX                                                                                \
    0.12f               /* dirt lies on clean backdrop: at most this much stands out around it     \
                         */
#define PLAIN_MIN 0.01f /* fraction of fine-detail pixels around: plain below, textured above */
#define PLAIN_MAX 0.05f
#define DARK_FLOOR 0.05f
#define HAIR_ZONE 0.025f /* of the long side beyond the protection */
#define ROUND_FILL 0.5f  /* a round speck fills half its bounding box or more */
#define NOISE_BINS 4096
#define NOISE_RANGE 0.25f

/* Dirt radius band per Scale (index 0..3), in u. */
static const float dirt_rmin[4] = {0.6f, 6.0f, 2.0f, 0.6f};
static const float dirt_rmax[4] = {40.0f, 40.0f, 12.0f, 4.0f};

typedef struct analysis {
    int f, mw, mh;
    float *lb[3];      /* copy blurred at sigma_a */
    float *delta[3];   /* I - clean at the copy's scale (blotch + m (Lb - R)) */
    float *w;          /* backdrop weight */
    float *m;          /* dirt map */
    unsigned char *ok; /* clean backdrop: a grain source */
    int offset_px;     /* full-resolution grain offset */
    int ndirt;
    float noise, threshold;
} analysis;

/* Block means of the image's planes 0-2 over f x f blocks. */
static void downscale(const rt_image *im, int f, int mw, int mh, float *const dst[3])
{
    const int W = im->width, H = im->height;
#pragma omp parallel for schedule(static)
    for (int by = 0; by < mh; by++) {
        int y0 = by * f, y1 = y0 + f > H ? H : y0 + f;
        for (int c = 0; c < 3; c++) {
            const float *p = rt_image_plane(im, c);
            float *out = dst[c] + (size_t)by * mw;
            for (int bx = 0; bx < mw; bx++)
                out[bx] = 0;
            for (int y = y0; y < y1; y++) {
                const float *row = p + (size_t)y * W;
                for (int bx = 0; bx < mw; bx++) {
                    int x0 = bx * f, x1 = x0 + f > W ? W : x0 + f;
                    float s = 0;
                    for (int x = x0; x < x1; x++)
                        s += row[x];
                    out[bx] += s;
                }
            }
            for (int bx = 0; bx < mw; bx++) {
                int x0 = bx * f, x1 = x0 + f > W ? W : x0 + f;
                out[bx] /= (float)((x1 - x0) * (y1 - y0));
            }
        }
    }
}

/* Square dilation of a 0/1 map by radius r (separable running max). */
static void dilate(unsigned char *map, unsigned char *tmp, int w, int h, int r)
{
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        const unsigned char *in = map + (size_t)y * w;
        unsigned char *out = tmp + (size_t)y * w;
        int last = -1000000; /* last set column */
        for (int x = 0; x < w + r; x++) {
            if (x < w && in[x]) last = x;
            if (x - r >= 0) out[x - r] = (x - r) - last <= r || 0;
        }
        /* the left side of each set pixel */
        int next = 1000000;
        for (int x = w - 1; x >= 0; x--) {
            if (in[x]) next = x;
            if (next - x <= r) out[x] = 1;
        }
    }
#pragma omp parallel for schedule(static)
    for (int x = 0; x < w; x++) {
        int last = -1000000;
        for (int y = 0; y < h; y++) {
            if (tmp[(size_t)y * w + x]) last = y;
            map[(size_t)y * w + x] = y - last <= r;
        }
        int next = 1000000;
        for (int y = h - 1; y >= 0; y--) {
            if (tmp[(size_t)y * w + x]) next = y;
            if (next - y <= r) map[(size_t)y * w + x] = 1;
        }
    }
}

/* Median of v over the pixels with sel set, from a histogram (serial). */
static float median_of(const float *v, const float *w, size_t n)
{
    static const float step = NOISE_RANGE / NOISE_BINS;
    unsigned *hist = calloc(NOISE_BINS + 1, sizeof *hist);
    if (!hist) return -1;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < 0.999f) continue;
        int b = (int)(v[i] / step);
        hist[b > NOISE_BINS ? NOISE_BINS : b]++;
        total++;
    }
    float med = 0;
    size_t acc = 0;
    for (int b = 0; b <= NOISE_BINS && total; b++) {
        acc += hist[b];
        if (2 * acc >= total) {
            med = (b + 0.5f) * step;
            break;
        }
    }
    free(hist);
    return med;
}

/* Bilinear taps of full-resolution coordinate x on a grid of factor f. */
typedef struct tap {
    int i0, i1;
    float t;
} tap;

static tap tap_at(int x, int f, int m)
{
    float g = ((float)x + 0.5f) / (float)f - 0.5f;
    if (g < 0) g = 0;
    if (g > (float)(m - 1)) g = (float)(m - 1);
    int i0 = (int)g;
    int i1 = i0 + 1 < m ? i0 + 1 : i0;
    return (tap){i0, i1, g - (float)i0};
}

static float bilerp(const float *p, int mw, tap tx, tap ty)
{
    const float *r0 = p + (size_t)ty.i0 * mw, *r1 = p + (size_t)ty.i1 * mw;
    float a = r0[tx.i0] + tx.t * (r0[tx.i1] - r0[tx.i0]);
    float b = r1[tx.i0] + tx.t * (r1[tx.i1] - r1[tx.i0]);
    return a + ty.t * (b - a);
}

/* The backdrop's local light under a mask: a first-order normalised
 * convolution (Knutsson & Westin), i.e. at each pixel the Gaussian-weighted
 * (sigma) least-squares plane a + b x + c y through src where mask > 0,
 * evaluated there.  Unlike the plain masked mean it follows a gradient up to
 * the image's border and the person's protection (a mean lags it there: a
 * darkening vignette corner would read as dirt).  Computed on g x g block
 * means (g about sigma / 4) and upsampled bilinearly: the same smooth map at
 * a sixteenth of the cost; below sigma 8 the plain masked mean is used (its
 * lag is a few hundredths of a step there).  cover (optional) receives
 * G*(mask). */
static int masked_fit_coarse(const float *src, const float *mask, int w, int h, float sigma,
                             float *dst, float *cover)
{
    int g = (int)(sigma / 4.0f);
    if (g <= 1) return rt_band_masked_blur(src, mask, w, h, sigma, dst, cover);
    const int cw = (w + g - 1) / g, ch = (h + g - 1) / g;
    const size_t cn = (size_t)cw * ch;
    enum { MOMENTS = 9 };
    float *buf = rt_alloc_floats((MOMENTS + 1) * cn);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory for Clean Backdrop");
    float *mo[MOMENTS], *fit = buf + MOMENTS * cn;
    for (int k = 0; k < MOMENTS; k++)
        mo[k] = buf + k * cn;
    const float s = sigma / (float)g;
#pragma omp parallel for schedule(static)
    for (int by = 0; by < ch; by++)
        for (int bx = 0; bx < cw; bx++) {
            float a = 0, b = 0;
            int y1 = (by + 1) * g > h ? h : (by + 1) * g, x1 = (bx + 1) * g > w ? w : (bx + 1) * g;
            for (int y = by * g; y < y1; y++)
                for (int x = bx * g; x < x1; x++) {
                    size_t i = (size_t)y * w + x;
                    a += src[i] * mask[i];
                    b += mask[i];
                }
            float area = (float)((y1 - by * g) * (x1 - bx * g));
            float v = b > 0 ? a / b : 0, wt = b / area;
            float X = ((float)bx + 0.5f - 0.5f * (float)cw) / s;
            float Y = ((float)by + 0.5f - 0.5f * (float)ch) / s;
            size_t i = (size_t)by * cw + bx;
            mo[0][i] = wt;
            mo[1][i] = wt * X;
            mo[2][i] = wt * Y;
            mo[3][i] = wt * X * X;
            mo[4][i] = wt * X * Y;
            mo[5][i] = wt * Y * Y;
            mo[6][i] = wt * v;
            mo[7][i] = wt * v * X;
            mo[8][i] = wt * v * Y;
        }
    int err = 0;
    for (int k = 0; k < MOMENTS && !err; k++)
        err = rt_band_blur(mo[k], cw, ch, s, mo[k]);
    for (int by = 0; by < ch && !err; by++)
        for (int bx = 0; bx < cw; bx++) {
            size_t i = (size_t)by * cw + bx;
            double X = ((double)bx + 0.5 - 0.5 * cw) / s, Y = ((double)by + 0.5 - 0.5 * ch) / s;
            double m0 = mo[0][i];
            if (m0 < RT_BAND_MIN_WEIGHT) {
                fit[i] = 0;
                continue;
            }
            /* moments about this pixel */
            double mx = mo[1][i] - X * m0, my = mo[2][i] - Y * m0;
            double mxx = mo[3][i] - 2 * X * mo[1][i] + X * X * m0;
            double mxy = mo[4][i] - X * mo[2][i] - Y * mo[1][i] + X * Y * m0;
            double myy = mo[5][i] - 2 * Y * mo[2][i] + Y * Y * m0;
            double r0 = mo[6][i], rx = mo[7][i] - X * r0, ry = mo[8][i] - Y * r0;
            /* a little ridge toward a flat fit where the data is one-sided */
            mxx += 0.1 * m0;
            myy += 0.1 * m0;
            double det = m0 * (mxx * myy - mxy * mxy) - mx * (mx * myy - mxy * my) +
                         my * (mx * mxy - mxx * my);
            double v = r0 / m0;
            if (fabs(det) > 1e-12 * m0 * m0 * m0) {
                double da = r0 * (mxx * myy - mxy * mxy) - mx * (rx * myy - mxy * ry) +
                            my * (rx * mxy - mxx * ry);
                v = da / det;
            }
            fit[i] = (float)(v < 0 ? 0 : (v > 1 ? 1 : v));
        }
    tap *cols = err ? NULL : malloc((size_t)w * sizeof *cols);
    if (!err && !cols) err = rt_error(RT_ERR_NOMEM, "out of memory for Clean Backdrop");
    if (!err) {
        for (int x = 0; x < w; x++)
            cols[x] = tap_at(x, g, cw);
#pragma omp parallel for schedule(static)
        for (int y = 0; y < h; y++) {
            tap ty = tap_at(y, g, ch);
            float *out = dst + (size_t)y * w, *cov = cover ? cover + (size_t)y * w : NULL;
            const float *f0 = fit + (size_t)ty.i0 * cw, *f1 = fit + (size_t)ty.i1 * cw;
            const float *c0 = mo[0] + (size_t)ty.i0 * cw, *c1 = mo[0] + (size_t)ty.i1 * cw;
            for (int x = 0; x < w; x++) {
                const tap tx = cols[x];
                float a0 = f0[tx.i0] + ty.t * (f1[tx.i0] - f0[tx.i0]);
                float a1 = f0[tx.i1] + ty.t * (f1[tx.i1] - f0[tx.i1]);
                out[x] = a0 + tx.t * (a1 - a0);
                if (cov) {
                    float b0 = c0[tx.i0] + ty.t * (c1[tx.i0] - c0[tx.i0]);
                    float b1 = c0[tx.i1] + ty.t * (c1[tx.i1] - c0[tx.i1]);
                    cov[x] = b0 + tx.t * (b1 - b0);
                }
            }
        }
    }
    free(cols);
    rt_free(buf);
    return err;
}

static void analysis_release(analysis *a)
{
    rt_free(a->lb[0]);
    free(a->ok);
    memset(a, 0, sizeof *a);
}

/* Steps 1-5 of the header on the running image. */
static int analyse(rt_plugin_ctx *ctx, const rt_person_mask *person, int scale, analysis *a)
{
    const rt_image *im = ctx->image;
    const int W = im->width, H = im->height, L = W > H ? W : H;
    int f = (L + ANALYSIS_LONG_SIDE - 1) / ANALYSIS_LONG_SIDE;
    if (f < 1) f = 1;
    const int mw = (W + f - 1) / f, mh = (H + f - 1) / f;
    const size_t n = (size_t)mw * mh;
    const float u = (float)L / UNITS_PER_LONG_SIDE / (float)f; /* u in copy pixels */
    memset(a, 0, sizeof *a);
    a->f = f;
    a->mw = mw;
    a->mh = mh;

    enum { NPLANES = 18 };
    float *buf = rt_alloc_floats(NPLANES * n);
    unsigned char *bytes = malloc(4 * n);
    int *labels = malloc(n * sizeof *labels);
    rt_component *comps = NULL;
    int ncomp = 0, err = 0;
    if (!buf || !bytes || !labels) {
        rt_free(buf);
        free(bytes);
        free(labels);
        return rt_error(RT_ERR_NOMEM, "out of memory for Clean Backdrop");
    }
    float *lc[3], *ref[3];
    for (int c = 0; c < 3; c++) {
        a->lb[c] = buf + c * n;
        a->delta[c] = buf + (3 + c) * n;
        lc[c] = buf + (6 + c) * n;
        ref[c] = buf + (9 + c) * n;
    }
    a->w = buf + 12 * n;
    a->m = buf + 13 * n;
    float *d = buf + 14 * n, *wt = buf + 15 * n, *tmp = buf + 16 * n, *plain = buf + 17 * n;
    unsigned char *prot = bytes, *tmpb = bytes + n, *dirt = bytes + 2 * n, *zone = bytes + 3 * n;
    a->ok = bytes; /* reused for the grain sources at the end; freed with it */

    downscale(im, f, mw, mh, lc);

    /* 1. backdrop weight */
    memset(prot, 0, n);
    if (person) {
#pragma omp parallel for schedule(static)
        for (int by = 0; by < mh; by++)
            for (int bx = 0; bx < mw; bx++) {
                int x1 = (bx + 1) * f > W ? W : (bx + 1) * f,
                    y1 = (by + 1) * f > H ? H : (by + 1) * f;
                unsigned char hit = 0;
                for (int y = by * f; y < y1 && !hit; y++)
                    for (int x = bx * f; x < x1; x++)
                        if (person->full[(size_t)y * W + x] >= PERSON_MIN) {
                            hit = 1;
                            break;
                        }
                prot[(size_t)by * mw + bx] = hit;
            }
        int r = (int)ceilf(PROTECT_MARGIN * UNITS_PER_LONG_SIDE * u);
        if (r < 4) r = 4;
        dilate(prot, tmpb, mw, mh, r);
        for (size_t i = 0; i < n; i++)
            tmp[i] = prot[i];
        err = rt_band_blur(tmp, mw, mh, 0.5f * (float)r, tmp);
        for (size_t i = 0; i < n && !err; i++) {
            float v = 2.0f * tmp[i];
            a->w[i] = prot[i] && v >= 1.0f ? 0.0f : 1.0f - (v > 1 ? 1 : v);
            if (prot[i] && a->w[i] > 0) a->w[i] = 0; /* the dilated mask itself: never */
        }
        /* flyaway hair reaches beyond the protection: a zone around it */
        memcpy(zone, prot, n);
        dilate(zone, tmpb, mw, mh, (int)ceilf(HAIR_ZONE * UNITS_PER_LONG_SIDE * u));
    } else {
        for (size_t i = 0; i < n; i++)
            a->w[i] = 1.0f;
        memset(zone, 0, n);
    }

    /* 2-3. reference and deviation */
    const float rmin = dirt_rmin[scale] * u, rmax = dirt_rmax[scale] * u;
    float sigma_a = 0.5f * rmin < 0.6f ? 0.6f : 0.5f * rmin;
    float sigma_r = rmax < 2.0f ? 2.0f : rmax;
    for (int c = 0; c < 3 && !err; c++)
        err = rt_band_blur(lc[c], mw, mh, sigma_a, a->lb[c]);
    memcpy(wt, a->w, n * sizeof *wt);
    for (int iter = 0; iter < REWEIGHTS + 1 && !err; iter++) {
        for (int c = 0; c < 3 && !err; c++) {
            /* delta[c] is free until step 5: the new reference lands there */
            err = masked_fit_coarse(lc[c], wt, mw, mh, sigma_r, a->delta[c], tmp);
            for (size_t i = 0; i < n && !err; i++)
                /* too little clean backdrop around: keep the previous estimate */
                if (iter == 0 || tmp[i] >= 0.05f) ref[c][i] = a->delta[c][i];
        }
        if (err) break;
        for (size_t i = 0; i < n; i++) {
            float m = 0;
            for (int c = 0; c < 3; c++) {
                float v = fabsf(a->lb[c][i] - ref[c][i]);
                if (v > m) m = v;
            }
            d[i] = m;
        }
        a->noise = 1.4826f * median_of(d, a->w, n);
        if (a->noise < 0) err = rt_error(RT_ERR_NOMEM, "out of memory for Clean Backdrop");
        a->threshold = NOISE_K * a->noise > MIN_THRESHOLD ? NOISE_K * a->noise : MIN_THRESHOLD;
        if (iter < REWEIGHTS)
            for (size_t i = 0; i < n; i++)
                wt[i] = d[i] < FRINGE_FRACTION * a->threshold ? a->w[i] : 0.0f;
    }

    /* texture: fine detail relative to the light, t = max over channels
     * |L - G_1px * L| / (G_1px * L + 0.05), where hair strands (also dark
     * hair on a dark area the person mask missed), weave and props' edges
     * stand out and soft mottle does not */
    float texture_threshold = 0;
    for (int c = 0; c < 3 && !err; c++)
        err = rt_band_blur(lc[c], mw, mh, 1.0f, a->delta[c]);
    if (!err) {
        for (size_t i = 0; i < n; i++) {
            float m = 0;
            for (int c = 0; c < 3; c++) {
                float v = fabsf(lc[c][i] - a->delta[c][i]) / (a->delta[c][i] + DARK_FLOOR);
                if (v > m) m = v;
            }
            tmp[i] = m;
        }
        float noise_t = 1.4826f * median_of(tmp, a->w, n);
        if (noise_t < 0) err = rt_error(RT_ERR_NOMEM, "out of memory for Clean Backdrop");
        texture_threshold =
            NOISE_K * noise_t > 4 * MIN_THRESHOLD ? NOISE_K * noise_t : 4 * MIN_THRESHOLD;
        /* plain backdrop for the blotch step: no fine detail nearby (stray
         * hair outside the person mask is left as it is) */
        for (size_t i = 0; i < n; i++)
            plain[i] = tmp[i] > texture_threshold;
        err = rt_band_blur(plain, mw, mh, 3.0f * u < 2.0f ? 2.0f : 3.0f * u, plain);
        for (size_t i = 0; i < n && !err; i++) {
            float t = (plain[i] - PLAIN_MIN) * (1.0f / (PLAIN_MAX - PLAIN_MIN));
            t = t < 0 ? 0 : (t > 1 ? 1 : t);
            plain[i] = 1.0f - t * t * (3 - 2 * t);
        }
    }

    /* 4. compact dirt wholly on the backdrop: components of d > T (cores),
     * and of d > 0.6 T (extents) */
    int *wide = NULL;
    rt_component *wcomps = NULL;
    int nwide = 0;
    if (!err) {
        for (size_t i = 0; i < n; i++)
            dirt[i] = d[i] > a->threshold && a->w[i] > 0;
        err = rt_components_label(dirt, mw, mh, labels, &comps, &ncomp);
    }
    if (!err) {
        wide = malloc(n * sizeof *wide);
        for (size_t i = 0; i < n; i++)
            dirt[i] = d[i] > LABEL_FRACTION * a->threshold && a->w[i] > 0;
        err = wide ? rt_components_label(dirt, mw, mh, wide, &wcomps, &nwide)
                   : rt_error(RT_ERR_NOMEM, "out of memory for Clean Backdrop");
    }
    if (!err) {
        int max_extent = (int)ceilf(MAX_EXTENT_RADII * rmax) + 2;
        for (size_t i = 0; i < n; i++)
            if (labels[i] && a->w[i] < 0.999f) comps[labels[i] - 1].flags = 1;
        /* a core inside a broad region that hovers near the threshold (the
         * reference lagging a steep gradient, mottle) is not a speck */
        for (size_t i = 0; i < n; i++) {
            if (!labels[i]) continue;
            const rt_component *wc = &wcomps[wide[i] - 1];
            if (wc->x1 - wc->x0 + 1 > 3 * max_extent || wc->y1 - wc->y0 + 1 > 3 * max_extent)
                comps[labels[i] - 1].flags = 1;
        }
        /* texture (hair the person mask missed, a fabric's weave, a prop)
         * has fine detail all around; dirt lies on plain backdrop: fine
         * detail counted on a ring around each component's box, from an
         * integral image */
        int *sat = malloc((size_t)(mw + 1) * (mh + 1) * sizeof *sat);
        if (!sat) err = rt_error(RT_ERR_NOMEM, "out of memory for Clean Backdrop");
        for (int y = 0; y <= mh && sat; y++)
            for (int x = 0; x <= mw; x++) {
                size_t j = (size_t)y * (mw + 1) + x;
                if (!x || !y) {
                    sat[j] = 0;
                    continue;
                }
                size_t i = (size_t)(y - 1) * mw + (x - 1);
                int o = tmp[i] > texture_threshold && a->w[i] > 0;
                sat[j] = o + sat[j - 1] + sat[j - (mw + 1)] - sat[j - (mw + 1) - 1];
            }
        unsigned char *near_hair = calloc((size_t)ncomp + 1, 1);
        if (!near_hair) err = rt_error(RT_ERR_NOMEM, "out of memory for Clean Backdrop");
        for (size_t i = 0; i < n && near_hair; i++)
            if (labels[i] && zone[i]) near_hair[labels[i] - 1] = 1;
        /* near the person a speck also ends where it ends: a stretch of a
         * faint loose hair continues at 0.6 T beyond its darkest part */
        for (size_t i = 0; i < n && near_hair; i++) {
            if (!labels[i] || !near_hair[labels[i] - 1]) continue;
            const rt_component *c = &comps[labels[i] - 1], *wc = &wcomps[wide[i] - 1];
            int ex = c->x1 - c->x0 + 1, ey = c->y1 - c->y0 + 1, e = ex > ey ? ex : ey;
            if (wc->x1 - wc->x0 + 1 > 2 * e + 4 || wc->y1 - wc->y0 + 1 > 2 * e + 4)
                comps[labels[i] - 1].flags = 1;
        }
        for (int k = 0; k < ncomp && sat && near_hair; k++) {
            rt_component *c = &comps[k];
            int ex = c->x1 - c->x0 + 1, ey = c->y1 - c->y0 + 1;
            if (ex > max_extent || ey > max_extent) c->flags = 1;
            /* near the person only round specks: a thin stroke there is more
             * likely a loose hair than a scuff */
            if (near_hair[k] && ((float)c->area < ROUND_FILL * (float)(ex * ey) ||
                                 ex > 2 * ey + 1 || ey > 2 * ex + 1))
                c->flags = 1;
            if (c->flags) continue;
            int g = ex > ey ? ex : ey;
            if (g < 4) g = 4;
            int box_in[4] = {c->x0 - 2, c->y0 - 2, c->x1 + 3, c->y1 + 3};
            int box_out[4] = {c->x0 - 2 - g, c->y0 - 2 - g, c->x1 + 3 + g, c->y1 + 3 + g};
            long cnt[2], area[2];
            for (int b = 0; b < 2; b++) {
                int *bx = b ? box_out : box_in;
                int x0 = bx[0] < 0 ? 0 : bx[0], y0 = bx[1] < 0 ? 0 : bx[1];
                int x1 = bx[2] > mw ? mw : bx[2], y1 = bx[3] > mh ? mh : bx[3];
                size_t s1 = (size_t)mw + 1;
                cnt[b] = (long)sat[(size_t)y1 * s1 + x1] - sat[(size_t)y0 * s1 + x1] -
                         sat[(size_t)y1 * s1 + x0] + sat[(size_t)y0 * s1 + x0];
                area[b] = (long)(x1 - x0) * (y1 - y0);
            }
            long ring = area[1] - area[0];
            if (ring <= 0 || (float)(cnt[1] - cnt[0]) > TEXTURE_MAX * (float)ring) c->flags = 1;
            if (!c->flags) a->ndirt++;
        }
        free(near_hair);
        free(sat);
        for (size_t i = 0; i < n && !err; i++)
            dirt[i] = labels[i] && !comps[labels[i] - 1].flags;
        /* grown into the faint fringe, then one pixel more */
        for (int pass = 0; pass < 3 && !err; pass++) {
            memcpy(tmpb, dirt, n);
#pragma omp parallel for schedule(static)
            for (int y = 0; y < mh; y++)
                for (int x = 0; x < mw; x++) {
                    size_t i = (size_t)y * mw + x;
                    if (tmpb[i] || a->w[i] < 0.999f) continue;
                    if (pass < 2 && d[i] <= FRINGE_FRACTION * a->threshold) continue;
                    int hit = 0;
                    for (int dy = -1; dy <= 1 && !hit; dy++)
                        for (int dx = -1; dx <= 1; dx++) {
                            int xx = x + dx, yy = y + dy;
                            if (xx >= 0 && yy >= 0 && xx < mw && yy < mh &&
                                tmpb[(size_t)yy * mw + xx]) {
                                hit = 1;
                                break;
                            }
                        }
                    dirt[i] = (unsigned char)hit;
                }
        }
        for (size_t i = 0; i < n; i++)
            a->m[i] = dirt[i];
        if (!err) err = rt_band_blur(a->m, mw, mh, 0.8f, a->m);
        for (size_t i = 0; i < n && !err; i++) {
            float v = 2.0f * a->m[i];
            a->m[i] = v > 1 ? 1 : v;
        }
    }

    /* 5. blotches, then delta = I - clean at this scale */
    for (int c = 0; c < 3 && !err; c++) {
        float *lo = lc[c], *hi = tmp;
        if (scale <= 1) {
            err = masked_fit_coarse(lc[c], wt, mw, mh, BLOTCH_LO_U * u, lo, NULL);
            if (!err) err = masked_fit_coarse(lc[c], wt, mw, mh, BLOTCH_HI_U * u, hi, d);
        }
        for (size_t i = 0; i < n && !err; i++) {
            float b = 0;
            if (scale <= 1 && d[i] >= 0.05f) {
                float x = lo[i] - hi[i], q = x * (1.0f / BLOTCH_MAX);
                b = (1.0f - BLOTCH_KEEP) * x * expf(-q * q) * plain[i];
            }
            a->delta[c][i] = b + a->m[i] * (a->lb[c][i] - ref[c][i]);
        }
    }

    /* grain sources: clean backdrop, off the dirt */
    if (!err) {
        for (size_t i = 0; i < n; i++)
            a->ok[i] = a->w[i] >= 0.999f && a->m[i] == 0.0f;
        int od = (int)ceilf(2.2f * rmax) + 2;
        a->offset_px = od * f;
    }
    free(comps);
    free(labels);
    free(wcomps);
    free(wide);
    if (err) {
        rt_free(buf);
        free(bytes);
        memset(a, 0, sizeof *a);
        return err;
    }
    /* ok sits at the start of `bytes`; the rest is scratch */
    return 0;
}

static int clean_backdrop_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double blend = rt_task_number(ctx->task, "Alpha1");
    if (blend <= 0) return 0;
    int scale = ctx->task->scale < 0 || ctx->task->scale > 3 ? 0 : ctx->task->scale;
    const rt_image *im = ctx->image;
    const int W = im->width, H = im->height;
    const rt_person_mask *person = NULL;
    if (ctx->task->automask) {
        const rt_face_analysis *fa;
        int err = rt_plugin_face_analysis(ctx, &fa);
        if (err) return err;
        person = fa->person;
        if (person && person->coverage < 0.005f)
            rt_plugin_warn(ctx, "no person found; the whole image is treated as backdrop "
                                "(only compact dirt is removed, structure is kept)");
    }
    analysis a;
    int err = analyse(ctx, person, scale, &a);
    if (err) return err;
    rt_plugin_progress(ctx, 0.5);

    /* the layer: the copy's cells that change, one cell of margin */
    const int mw = a.mw, mh = a.mh, f = a.f;
    int cx0 = mw, cy0 = mh, cx1 = -1, cy1 = -1;
    for (int y = 0; y < mh; y++)
        for (int x = 0; x < mw; x++) {
            size_t i = (size_t)y * mw + x;
            if (a.w[i] <= 0) continue;
            if (a.m[i] == 0 && a.delta[0][i] == 0 && a.delta[1][i] == 0 && a.delta[2][i] == 0)
                continue;
            if (x < cx0) cx0 = x;
            if (x > cx1) cx1 = x;
            if (y < cy0) cy0 = y;
            if (y > cy1) cy1 = y;
        }
    json_t *meta = json_pack("{s:i,s:f,s:f}", "spots", a.ndirt, "noise", (double)a.noise,
                             "threshold", (double)a.threshold);
    if (cx1 < 0) {
        analysis_release(&a);
        out->metadata = meta;
        return 0;
    }
    int lx0 = (cx0 - 1) * f, ly0 = (cy0 - 1) * f, lx1 = (cx1 + 2) * f, ly1 = (cy1 + 2) * f;
    if (lx0 < 0) lx0 = 0;
    if (ly0 < 0) ly0 = 0;
    if (lx1 > W) lx1 = W;
    if (ly1 > H) ly1 = H;
    const int lw = lx1 - lx0, lh = ly1 - ly0;
    rt_image *layer = NULL;
    err = rt_image_create_uninit(lw, lh, 4, &layer);
    if (err) {
        analysis_release(&a);
        json_decref(meta);
        return err;
    }
    const float alpha_max = (float)(blend > 1 ? 1 : blend);
    const int od = a.offset_px;
    static const int dirs[8][2] = {{1, 0}, {-1, 0},  {0, 1},  {0, -1},
                                   {1, 1}, {-1, -1}, {1, -1}, {-1, 1}};
    /* the maps' bilinear taps: columns once, rows interpolated vertically
     * into a per-thread buffer (so each pixel costs one lerp per map) */
    tap *cols = malloc((size_t)lw * sizeof *cols);
    int failed = !cols;
    for (int lx = 0; lx < lw && cols; lx++)
        cols[lx] = tap_at(lx0 + lx, f, mw);
#pragma omp parallel if (!failed)
    {
        enum { MAPS = 8 }; /* w, m, delta 0-2, lb 0-2 */
        float *rows = rt_alloc_floats(MAPS * (size_t)mw);
        if (!rows) {
#pragma omp atomic write
            failed = 1;
        }
        const float *maps[MAPS] = {a.w,        a.m,     a.delta[0], a.delta[1],
                                   a.delta[2], a.lb[0], a.lb[1],    a.lb[2]};
#pragma omp for schedule(static)
        for (int ly = 0; ly < lh; ly++) {
            if (!rows) continue;
            const int y = ly0 + ly;
            tap ty = tap_at(y, f, mh);
            for (int k = 0; k < MAPS; k++) {
                const float *r0 = maps[k] + (size_t)ty.i0 * mw, *r1 = maps[k] + (size_t)ty.i1 * mw;
                float *dst = rows + (size_t)k * mw;
                for (int x = 0; x < mw; x++)
                    dst[x] = r0[x] + ty.t * (r1[x] - r0[x]);
            }
            const float *wr = rows, *mr = rows + mw;
            float *lo[4];
            for (int c = 0; c < 4; c++)
                lo[c] = rt_image_plane(layer, c) + (size_t)ly * lw;
            for (int lx = 0; lx < lw; lx++) {
                const int x = lx0 + lx;
                const size_t i = (size_t)y * W + x;
                const tap tx = cols[lx];
                float in[3], res[3];
                for (int c = 0; c < 3; c++)
                    in[c] = res[c] = rt_image_plane(im, c)[i];
                float w = wr[tx.i0] + tx.t * (wr[tx.i1] - wr[tx.i0]);
                if (person && person->full[i] >= PERSON_MIN) w = 0;
                if (w > 0) {
                    for (int c = 0; c < 3; c++) {
                        const float *dr = rows + (size_t)(2 + c) * mw;
                        res[c] -= dr[tx.i0] + tx.t * (dr[tx.i1] - dr[tx.i0]);
                    }
                    float mm = mr[tx.i0] + tx.t * (mr[tx.i1] - mr[tx.i0]);
                    if (mm > 0) {
                        /* grain: the fine band here swapped for a clean spot's */
                        int sx = -1, sy = -1;
                        for (int k = 0; k < 8; k++) {
                            int xx = x + dirs[k][0] * od, yy = y + dirs[k][1] * od;
                            if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
                            if (!a.ok[(size_t)(yy / f) * mw + xx / f]) continue;
                            if (person && person->full[(size_t)yy * W + xx] >= PERSON_MIN) continue;
                            sx = xx;
                            sy = yy;
                            break;
                        }
                        for (int c = 0; c < 3; c++) {
                            const float *br = rows + (size_t)(5 + c) * mw;
                            float fine = in[c] - (br[tx.i0] + tx.t * (br[tx.i1] - br[tx.i0]));
                            float src = 0;
                            if (sx >= 0) {
                                tap sxt = tap_at(sx, f, mw), syt = tap_at(sy, f, mh);
                                src = rt_image_plane(im, c)[(size_t)sy * W + sx] -
                                      bilerp(a.lb[c], mw, sxt, syt);
                            }
                            res[c] -= mm * (fine - src);
                        }
                    }
                }
                int changed = 0;
                for (int c = 0; c < 3; c++) {
                    res[c] = rt_clamp01(res[c]);
                    changed |= res[c] != in[c];
                    lo[c][lx] = res[c];
                }
                lo[3][lx] = changed ? alpha_max * w : 0.0f;
            }
        }
        rt_free(rows);
    }
    free(cols);
    if (failed) {
        analysis_release(&a);
        json_decref(meta);
        rt_image_destroy(layer);
        return rt_error(RT_ERR_NOMEM, "out of memory for Clean Backdrop");
    }
    analysis_release(&a);
    out->layer = layer;
    out->x = lx0;
    out->y = ly0;
    out->metadata = meta;
    return 0;
}

const rt_plugin rt_plugin_clean_backdrop = {
    .name = "Clean Backdrop",
    .needs = RT_NEEDS_PERSON_MASK,
    .run = clean_backdrop_run,
};
