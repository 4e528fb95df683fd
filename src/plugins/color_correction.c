/* Color Correction: automatic white balance and exposure, plus manual
 * Basic offsets (PLUGINS.md, ALGORITHMS.md §17).
 *
 * Analyse small, apply large: statistics on a <= 1 MP linear-light copy,
 * then one fused full-resolution pass (LUT decode, diagonal gains, highlight
 * shoulder, contrast, saturation, LUT encode) that writes an opaque layer.
 *
 * White balance (first version, no face cues yet): three statistical
 * estimates on pixels that are neither clipped, nor very dark, nor skin-like,
 * nor strongly saturated: shades of grey (p = 6), first-order grey edge
 * (p = 6) and grey pixels (pixels whose local log-contrast is equal in the
 * three channels); fused by the median in log-chromaticity and applied as
 * von Kries gains that keep the luminance of grey.
 *
 * Exposure (first version): highlight-anchored metering that never looks
 * at face brightness, so different skin tones are never equalised:
 *   - under-exposure when the bright end (99.5th percentile of the maximum
 *     channel) sits well below white: lift it to a target;
 *   - over-exposure when clipping reaches into the subject (clipped pixels
 *     outside large border-touching areas such as a white backdrop): lower by
 *     the clipped mass divided by the density just below clipping, i.e. by how
 *     far the clipped part of the histogram extends;
 *   - over-exposure when much of the person mask is clipped (clothes joined
 *     to a clipped backdrop escape the border test) and the face is bright:
 *     the same extent, limited to 0.85 EV (see SUBJECT_CLIP_MAX_EV for why).
 * Steps are limited to +-1.5 EV; a soft shoulder protects highlights when
 * brightening, and when darkening, what the file clipped stays white.
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "core/quantize.h"
#include "face/analysis.h"
#include "face/regions.h"
#include "filters/blur.h"
#include "filters/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_NONE, MODE_EXPOSURE, MODE_EXPOSURE_WB, MODE_FULL };

#define ANALYSIS_SIDE 768
#define MAX_EV 1.5

/* Exposure targets for the bright end (linear, maximum channel). */
#define UNDER_TRIGGER 0.70
#define UNDER_TARGET 0.88

typedef struct cc_analysis {
    int w, h;
    size_t n;
    float *r, *g, *b; /* linear planes */
    unsigned char *valid;
    /* computed once for the white-balance rounds (NULL until then) */
    float *edge2[3]; /* squared gradient of each blurred linear plane */
    float *logct[3]; /* local contrast of each blurred log plane */
} cc_analysis;

typedef struct cc_correction {
    double gain[3];    /* white balance x exposure, linear */
    double wb[3];      /* white balance alone */
    double ev;         /* exposure step */
    double keep_white; /* automatic darkening gain (< 1) whose white stays white, or 0 */
    double contrast;   /* cubic contrast strength, [-0.5, 0.5] */
    double saturation; /* chroma scale - 1 */
    double vibrance;   /* extra chroma for low-saturation, non-skin colours */
} cc_correction;

static void analysis_free(cc_analysis *a)
{
    rt_free(a->r);
    free(a->valid);
    rt_free(a->edge2[0]);
    rt_free(a->logct[0]);
}

/* The per-pixel measures the grey-edge and grey-pixel estimators use: they
 * do not depend on which pixels count, so both rounds share them. */
static int analysis_edges(cc_analysis *a)
{
    const int w = a->w, h = a->h;
    float *plane[3] = {a->r, a->g, a->b};
    float *edge = rt_alloc_floats(3 * a->n), *ct = rt_alloc_floats(3 * a->n);
    float *tmp = rt_alloc_floats(a->n);
    if (!edge || !ct || !tmp) {
        rt_free(edge);
        rt_free(ct);
        rt_free(tmp);
        return -1;
    }
    for (int c = 0; c < 3; c++) {
        a->edge2[c] = edge + c * a->n;
        a->logct[c] = ct + c * a->n;
        memcpy(tmp, plane[c], a->n * sizeof *tmp);
        rt_gaussian_blur_plane(tmp, w, h, 1.0f);
        float *e2 = a->edge2[c];
        memset(e2, 0, a->n * sizeof *e2);
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < w - 1; x++) {
                size_t i = (size_t)y * w + x;
                float gx = 0.5f * (tmp[i + 1] - tmp[i - 1]), gy = 0.5f * (tmp[i + w] - tmp[i - w]);
                e2[i] = gx * gx + gy * gy;
            }
        for (size_t i = 0; i < a->n; i++)
            tmp[i] = logf(plane[c][i] + 1e-4f);
        rt_gaussian_blur_plane(tmp, w, h, 0.8f);
        float *lc = a->logct[c];
        memset(lc, 0, a->n * sizeof *lc);
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < w - 1; x++) {
                size_t i = (size_t)y * w + x;
                lc[i] = fabsf(4 * tmp[i] - tmp[i - 1] - tmp[i + 1] - tmp[i - w] - tmp[i + w]);
            }
    }
    rt_free(tmp);
    return 0;
}

static int analysis_make(const rt_image *im, cc_analysis *a)
{
    memset(a, 0, sizeof *a);
    rt_image *small;
    int err = rt_downscale(im, ANALYSIS_SIDE, &small);
    if (err) return err;
    a->w = small->width;
    a->h = small->height;
    a->n = (size_t)a->w * a->h;
    a->r = rt_alloc_floats(3 * a->n);
    a->valid = calloc(a->n, 1);
    if (!a->r || !a->valid) {
        rt_image_destroy(small);
        analysis_free(a);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    a->g = a->r + a->n;
    a->b = a->g + a->n;
    float *dst[3] = {a->r, a->g, a->b};
    for (int c = 0; c < 3; c++) {
        const float *src = rt_image_plane(small, c);
        for (size_t i = 0; i < a->n; i++)
            dst[c][i] = rt_srgb_to_linear(src[i]);
    }
    rt_image_destroy(small);
    for (size_t i = 0; i < a->n; i++) {
        float mx = fmaxf(a->r[i], fmaxf(a->g[i], a->b[i]));
        float y = rt_luminance(a->r[i], a->g[i], a->b[i]);
        a->valid[i] = mx < 0.97f && y > 0.004f;
    }
    return 0;
}

/* ---- white balance ---------------------------------------------------- */

static int saturated_colour(float r, float g, float b)
{
    float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b));
    return mx <= 0.0f || (mx - mn) / mx > 0.75f;
}

/* Skin-like or strongly saturated under the illuminant e: such pixels are
 * not evidence about the illuminant. */
static int excluded_colour(float r, float g, float b, const double e[3])
{
    double R = r / e[0], G = g / e[1], B = b / e[2];
    double s = R + G + B;
    if (s <= 0) return 1;
    double mx = fmax(R, fmax(G, B)), mn = fmin(R, fmin(G, B));
    if ((mx - mn) / mx > 0.6) return 1;
    double rg = (R - G) / s, gb = (G - B) / s;
    return R > G && G > B && rg > 0.03 && rg < 0.3 && gb > 0.0 && gb < 0.3;
}

static void normalise_rgb(double e[3])
{
    double s = sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]);
    if (s > 0)
        for (int c = 0; c < 3; c++)
            e[c] /= s;
}

/* The Minkowski p = 6 mean of a per-channel quantity over the pixels in
 * use, as a unit vector: of the values (shades of grey) or of the gradient
 * magnitudes, given squared (grey edge). */
static int minkowski6(const float *const q[3], int squared, const cc_analysis *a,
                      const unsigned char *use, double e[3])
{
    double acc[3] = {0, 0, 0};
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (!use[i]) continue;
        for (int c = 0; c < 3; c++) {
            double v2 = squared ? q[c][i] : (double)q[c][i] * q[c][i];
            acc[c] += v2 * v2 * v2;
        }
        n++;
    }
    if (n < 100) return -1;
    for (int c = 0; c < 3; c++)
        e[c] = pow(acc[c] / n, 1.0 / 6.0);
    normalise_rgb(e);
    return 0;
}

static int shades_of_grey(const cc_analysis *a, const unsigned char *use, double e[3])
{
    const float *const q[3] = {a->r, a->g, a->b};
    return minkowski6(q, 0, a, use, e);
}

static int grey_edge(const cc_analysis *a, const unsigned char *use, double e[3])
{
    const float *const q[3] = {a->edge2[0], a->edge2[1], a->edge2[2]};
    return minkowski6(q, 1, a, use, e);
}

/* Percentile of values in [0, 2) through a histogram (no sort: the
 * analysis copy has up to 0.6 M values). */
#define PCT_BINS 16384
static float percentile(const float *v, size_t n, double q)
{
    if (n == 0) return 0;
    unsigned *hist = calloc(PCT_BINS, sizeof *hist);
    if (!hist) return 0;
    for (size_t i = 0; i < n; i++) {
        int b = (int)(v[i] * (PCT_BINS / 2));
        hist[b < 0 ? 0 : (b >= PCT_BINS ? PCT_BINS - 1 : b)]++;
    }
    size_t want = (size_t)(q * (double)(n - 1)), acc = 0;
    int b = 0;
    for (; b < PCT_BINS - 1; b++) {
        acc += hist[b];
        if (acc > want) break;
    }
    free(hist);
    return (b + 0.5f) / (PCT_BINS / 2);
}

/* Grey pixels: where the local contrast of log R, log G and log B agree,
 * the surface is achromatic and shows the illuminant (Yang et al. 2015). */
static int grey_pixels(const cc_analysis *a, const unsigned char *use, double e[3])
{
    const int w = a->w, h = a->h;
    float *gi = rt_alloc_floats(a->n);
    if (!gi) return -1;
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        gi[i] = INFINITY;
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            size_t i = (size_t)y * w + x;
            if (!use[i]) continue;
            double ct[3], mean = 0;
            for (int c = 0; c < 3; c++) {
                ct[c] = a->logct[c][i];
                mean += ct[c] / 3;
            }
            if (mean < 0.02) /* flat: no evidence */
                continue;
            double var = 0;
            for (int c = 0; c < 3; c++)
                var += (ct[c] - mean) * (ct[c] - mean) / 3;
            gi[i] = (float)(sqrt(var) / mean);
            n++;
        }
    int ok = -1;
    if (n >= 200) {
        float *sorted = malloc(n * sizeof *sorted);
        if (sorted) {
            size_t k = 0;
            for (size_t i = 0; i < a->n; i++)
                if (isfinite(gi[i])) sorted[k++] = gi[i];
            /* the greyest 1 % (at least 50 pixels) */
            double q = k > 5000 ? 0.01 : 50.0 / (double)k;
            float thr = percentile(sorted, k, q < 1 ? q : 1);
            free(sorted);
            double acc[3] = {0, 0, 0};
            for (size_t i = 0; i < a->n; i++)
                if (gi[i] <= thr) {
                    acc[0] += a->r[i];
                    acc[1] += a->g[i];
                    acc[2] += a->b[i];
                }
            if (acc[0] > 0 && acc[1] > 0 && acc[2] > 0) {
                memcpy(e, acc, sizeof acc);
                normalise_rgb(e);
                ok = 0;
            }
        }
    }
    rt_free(gi);
    return ok;
}

static double median3(double a, double b, double c)
{
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    if (b > c) b = c;
    return a > b ? a : b;
}

/* Casts along the daylight-tungsten axis (warm/cool) are often the mood of
 * the light; casts across it (green/magenta) rarely are.  Small casts are
 * removed entirely; beyond that only part of the excess is corrected, less
 * for tint, whose large values usually come from coloured backdrops. */
#define WB_TEMP_FREE 0.22 /* log-chroma, about 9 degrees */
#define WB_TEMP_KEEP 0.5  /* share of the excess left alone */
#define WB_TINT_FREE 0.12
#define WB_TINT_KEEP 0.6

static double damp_excess(double x, double free_amount, double keep)
{
    double ax = fabs(x);
    if (ax <= free_amount) return x;
    double y = free_amount + (1.0 - keep) * (ax - free_amount);
    return x < 0 ? -y : y;
}

static void damp_correction(double e[3], rt_plugin_ctx *ctx)
{
    double u = log(e[0] / e[1]), v = log(e[2] / e[1]);
    double temp = (u - v) / M_SQRT2, tint = (u + v) / M_SQRT2;
    double t2 = damp_excess(temp, WB_TEMP_FREE, WB_TEMP_KEEP);
    double n2 = damp_excess(tint, WB_TINT_FREE, WB_TINT_KEEP);
    if (t2 != temp || n2 != tint)
        rt_plugin_warn(ctx, "strong %s%s cast: corrected only partly to keep the light's character",
                       fabs(temp) > WB_TEMP_FREE ? (temp > 0 ? "warm" : "cool") : "",
                       fabs(tint) > WB_TINT_FREE
                           ? (fabs(temp) > WB_TEMP_FREE ? (tint > 0 ? "/magenta" : "/green")
                                                        : (tint > 0 ? "magenta" : "green"))
                           : "");
    u = (t2 + n2) / M_SQRT2;
    v = (n2 - t2) / M_SQRT2;
    e[0] = exp(u);
    e[1] = 1.0;
    e[2] = exp(v);
    normalise_rgb(e);
}

/* What the faces tell the white balance: the colour of their skin as shot,
 * so that skin anywhere (face, neck, arms, hands) is recognised under any
 * cast and left out of the neutral evidence, and so that the correction can
 * be checked against it. */
typedef struct face_cues {
    int have_skin;
    double skin_lr, skin_lb; /* median log(R/G), log(B/G) of face skin, linear */
    double skin_bright;      /* 90th percentile of the face skin's luminance, linear */
} face_cues;

#define MAX_SKIN_SAMPLES 200000

static void gather_face_cues(const rt_image *im, const rt_face_analysis *fa, face_cues *fc)
{
    memset(fc, 0, sizeof *fc);
    if (!fa || fa->nfaces == 0) return;
    float *lr = malloc(MAX_SKIN_SAMPLES * sizeof *lr), *lb = malloc(MAX_SKIN_SAMPLES * sizeof *lb);
    float *lum = malloc(MAX_SKIN_SAMPLES * sizeof *lum);
    if (!lr || !lb || !lum) {
        free(lr);
        free(lb);
        free(lum);
        return;
    }
    size_t n = 0, nl = 0;
    for (int k = 0; k < fa->nfaces && k < 4; k++) {
        const rt_face *f = &fa->faces[k];
        int x0, y0, w, h;
        if (nl >= MAX_SKIN_SAMPLES || !rt_face_region_bounds(f, RT_REGION_SKIN, 0.0f, im->width,
                                                             im->height, &x0, &y0, &w, &h))
            continue;
        /* a sample grid of about 200 x 200 points: the mask is rasterised
         * only on the sampled rows */
        int step = (int)fmax(1.0, sqrt((double)w * h / 40000.0));
        float *row = rt_alloc_floats((size_t)w);
        if (!row) continue;
        for (int y = 0; y < h && nl < MAX_SKIN_SAMPLES; y += step) {
            if (rt_face_region_mask(f, RT_REGION_SKIN, 0.0f, x0, y0 + y, w, 1, row, (size_t)w))
                break;
            for (int x = 0; x < w && nl < MAX_SKIN_SAMPLES; x += step) {
                if (row[x] < 0.95f) continue;
                size_t idx = (size_t)(y + y0) * im->width + (size_t)(x + x0);
                float r = rt_srgb_to_linear(rt_image_plane(im, 0)[idx]),
                      g = rt_srgb_to_linear(rt_image_plane(im, 1)[idx]),
                      b = rt_srgb_to_linear(rt_image_plane(im, 2)[idx]);
                lum[nl++] = rt_luminance(r, g, b); /* clipped or not */
                if (g < 0.003f || r > 0.97f || g > 0.97f || b > 0.97f || r <= 0 || b <= 0) continue;
                /* shifted into [0, 2) for the histogram percentile */
                lr[n] = (float)(log(r / g) + 1.0);
                lb[n] = (float)(log(b / g) + 1.0);
                n++;
            }
        }
        rt_free(row);
    }
    if (n >= 200) {
        fc->have_skin = 1;
        fc->skin_lr = percentile(lr, n, 0.5) - 1.0;
        fc->skin_lb = percentile(lb, n, 0.5) - 1.0;
        fc->skin_bright = percentile(lum, nl, 0.9);
    }
    free(lr);
    free(lb);
    free(lum);
}

/* Under any light, pixels with the face skin's chromaticity are skin. */
static int skin_like(const face_cues *fc, float r, float g, float b)
{
    if (!fc || !fc->have_skin || r <= 0 || g <= 0 || b <= 0) return 0;
    double dr = log(r / g) - fc->skin_lr, db = log(b / g) - fc->skin_lb;
    return dr * dr + db * db < 0.15 * 0.15;
}

/* Lab hue angle (degrees) of the face skin once the illuminant e is removed. */
static double corrected_skin_hue(const face_cues *fc, const double e[3])
{
    float r = (float)(exp(fc->skin_lr) / e[0]), g = (float)(1.0 / e[1]),
          b = (float)(exp(fc->skin_lb) / e[2]);
    float y = rt_luminance(r, g, b), L, A, B;
    rt_linear_rgb_to_lab(0.3f * r / y, 0.3f * g / y, 0.3f * b / y, &L, &A, &B);
    return atan2(B, A) * 180.0 / M_PI;
}

/* Skin, whatever its tone, sits in the orange-red hue sector once the light
 * is neutral (ALGORITHMS.md §17.1): a correction that leaves the face's
 * skin outside it is wrong somewhere (a coloured backdrop, a gel), so it is
 * reduced toward no correction until the skin is plausible again. */
#define SKIN_HUE_MIN 15.0
#define SKIN_HUE_MAX 80.0

static void check_skin_locus(const face_cues *fc, double e[3], rt_plugin_ctx *ctx)
{
    if (!fc || !fc->have_skin) return;
    double hue = corrected_skin_hue(fc, e);
    if (hue >= SKIN_HUE_MIN && hue <= SKIN_HUE_MAX) return;
    double le[3] = {log(e[0] / e[1]), 0.0, log(e[2] / e[1])};
    for (double t = 0.9; t >= -1e-9; t -= 0.1) {
        double et[3] = {exp(t * le[0]), 1.0, exp(t * le[2])};
        normalise_rgb(et);
        double h = corrected_skin_hue(fc, et);
        if ((h >= SKIN_HUE_MIN && h <= SKIN_HUE_MAX) || t < 0.05) {
            rt_plugin_warn(ctx,
                           "white balance reduced to %.0f %%: the full correction would turn "
                           "the skin's hue to %.0f degrees",
                           100 * t, hue);
            memcpy(e, et, sizeof et);
            return;
        }
    }
}

/* Evidence for a full-strength white balance: the share of the frame that
 * may be neutral, and the log-chroma spread within which the estimators
 * agree (grey edge runs about 0.1 cooler than the others on neutral studio
 * shots; 0.15 is about 6 degrees, 0.3 more is no agreement at all). */
#define WB_FULL_EVIDENCE 0.15
#define WB_AGREE 0.15
#define WB_DISAGREE 0.3

/* Estimated illuminant colour (unit vector), or grey when unsure. */
static void estimate_illuminant(cc_analysis *a, const face_cues *fc, double illum[3],
                                rt_plugin_ctx *ctx)
{
    double e[3] = {1, 1, 1};
    unsigned char *use = malloc(a->n);
    illum[0] = illum[1] = illum[2] = 1.0 / sqrt(3.0);
    if (!use || (!a->edge2[0] && analysis_edges(a) != 0)) {
        free(use);
        return;
    }
    /* two rounds: skin and saturated colours are judged under the current
     * estimate, which the first round improves */
    double est[3][3];
    int ok[3] = {0, 0, 0};
    double used = 0.0, lr[3] = {0}, lb[3] = {0};
    int k = 0;
    for (int round = 0; round < 2; round++) {
        size_t n = 0;
        for (size_t i = 0; i < a->n; i++) {
            /* round 0 only drops saturated colours: skin is judged under the
             * first estimate, not under the cast */
            use[i] = a->valid[i] && !skin_like(fc, a->r[i], a->g[i], a->b[i]) &&
                     (round == 0 ? !saturated_colour(a->r[i], a->g[i], a->b[i])
                                 : !excluded_colour(a->r[i], a->g[i], a->b[i], e));
            n += use[i];
        }
        if (n < a->n / 50) {
            rt_plugin_warn(ctx, "too few neutral-looking pixels to judge white balance; "
                                "left as it was");
            free(use);
            return;
        }
        ok[0] = shades_of_grey(a, use, est[0]) == 0;
        ok[1] = grey_edge(a, use, est[1]) == 0;
        ok[2] = grey_pixels(a, use, est[2]) == 0;
        used = (double)n / (double)a->n;
        k = 0;
        for (int m = 0; m < 3; m++)
            if (ok[m]) {
                lr[k] = log(est[m][0] / est[m][1]);
                lb[k] = log(est[m][2] / est[m][1]);
                k++;
            }
        if (k == 0) break;
        double mr, mb;
        if (k == 3) {
            mr = median3(lr[0], lr[1], lr[2]);
            mb = median3(lb[0], lb[1], lb[2]);
        } else {
            mr = k == 2 ? 0.5 * (lr[0] + lr[1]) : lr[0];
            mb = k == 2 ? 0.5 * (lb[0] + lb[1]) : lb[0];
        }
        e[0] = exp(mr);
        e[1] = 1.0;
        e[2] = exp(mb);
        normalise_rgb(e);
    }
    free(use);
    /* Trust: how much of the frame was neutral evidence, and whether the
     * three estimators agree.  A close-up that is all face, hair and a dark
     * backdrop gets a gentle correction, not a confident wrong one. */
    double spread = 0.0;
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            spread = fmax(spread, hypot(lr[i] - lr[j], lb[i] - lb[j]));
    double trust = fmin(1.0, used / WB_FULL_EVIDENCE) *
                   (spread <= WB_AGREE ? 1.0 : fmax(0.0, 1.0 - (spread - WB_AGREE) / WB_DISAGREE));
    if (trust < 1.0) {
        double le0 = log(e[0] / e[1]), le2 = log(e[2] / e[1]);
        e[0] = exp(trust * le0);
        e[1] = 1.0;
        e[2] = exp(trust * le2);
        normalise_rgb(e);
        if (trust < 0.5)
            rt_plugin_warn(ctx,
                           "little neutral evidence in the frame: white balance corrected "
                           "gently (%.0f %% of the estimate)",
                           100 * trust);
    }
    damp_correction(e, ctx);
    check_skin_locus(fc, e, ctx);
    memcpy(illum, e, sizeof e);
}

/* Von Kries gains that neutralise illum while keeping grey's luminance. */
static void wb_gains(const double illum[3], double g[3])
{
    for (int c = 0; c < 3; c++)
        g[c] = 1.0 / illum[c];
    double y = 0.2126 * g[0] + 0.7152 * g[1] + 0.0722 * g[2];
    for (int c = 0; c < 3; c++)
        g[c] /= y;
}

/* ---- exposure --------------------------------------------------------- */

/* Marks clipped pixels that belong to large clipped areas touching the
 * border (white backdrops, windows): clipping there is a choice. */
static void border_clipping(const unsigned char *clip, int w, int h, unsigned char *border)
{
    size_t n = (size_t)w * h;
    int *stack = malloc(n * sizeof *stack);
    unsigned char *seen = calloc(n, 1);
    memset(border, 0, n);
    if (!stack || !seen) {
        free(stack);
        free(seen);
        return;
    }
    int *comp = malloc(n * sizeof *comp);
    for (size_t s = 0; comp && s < n; s++) {
        if (!clip[s] || seen[s]) continue;
        int top = 0, len = 0, touches = 0;
        stack[top++] = (int)s;
        seen[s] = 1;
        while (top) {
            int p = stack[--top];
            comp[len++] = p;
            int x = p % w, y = p / w;
            if (x == 0 || y == 0 || x == w - 1 || y == h - 1) touches = 1;
            const int nb[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
            for (int k = 0; k < 4; k++) {
                int qx = x + nb[k][0], qy = y + nb[k][1];
                if (qx < 0 || qy < 0 || qx >= w || qy >= h) continue;
                int q = qy * w + qx;
                if (clip[q] && !seen[q]) {
                    seen[q] = 1;
                    stack[top++] = q;
                }
            }
        }
        if (touches && (size_t)len > n / 100)
            for (int i = 0; i < len; i++)
                border[comp[i]] = 1;
    }
    free(comp);
    free(stack);
    free(seen);
}

/* Over-exposure seen on the person: the share of the person mask that is
 * clipped, and how far that clipped mass extends above white (the clipped
 * share over the share in the stop below clipping, as for inner clipping).
 * Clipped clothes are often joined to a clipped backdrop, so the border
 * test above cannot see them. */
typedef struct subject_clipping {
    double clipped; /* fraction of the person that is clipped */
    double extent;  /* EV the clipped mass extends above white */
} subject_clipping;

static subject_clipping measure_subject_clipping(const cc_analysis *a, const float *mx,
                                                 const unsigned char *clip,
                                                 const rt_person_mask *person)
{
    subject_clipping sc = {0, 0};
    if (!person) return sc;
    size_t n = 0, nclip = 0, below = 0;
    for (int y = 0; y < a->h; y++) {
        int py = (int)((y + 0.5) * person->height / a->h);
        for (int x = 0; x < a->w; x++) {
            int px = (int)((x + 0.5) * person->width / a->w);
            if (rt_person_mask_at(person, px < person->width ? px : person->width - 1,
                                  py < person->height ? py : person->height - 1) < 0.5f)
                continue;
            size_t i = (size_t)y * a->w + x;
            n++;
            nclip += clip[i];
            below += !clip[i] && mx[i] >= 0.485f;
        }
    }
    if (n < a->n / 50) return sc; /* too little person to judge */
    sc.clipped = (double)nclip / n;
    sc.extent = sc.clipped / fmax((double)below / n, 0.02);
    return sc;
}

/* Subject clipping above this share means over-exposure: in the 20 test
 * portraits the most a correctly exposed one shows is 0.21 (a white shirt
 * gone to white), a +1 EV copy of a studio shot 0.29-0.83. */
#define SUBJECT_CLIP_TRIGGER 0.25
/* ... provided the face is bright too (90th percentile of its skin's
 * luminance, linear): 0.24-0.78 correctly exposed, 0.54-1.0 at +1 EV; this
 * keeps a dark face in white clothes from being darkened further. */
#define SUBJECT_FACE_BRIGHT 0.5
/* How far past white the subject went is not in the file: a white garment
 * is one narrow peak, so the clipped mass overstates the extent (1-6 EV for
 * +1 EV shots), and a light face at +0.5 EV looks like a dark face at
 * +1 EV (same face brightness, same clipped shirt).  First version: the
 * step is limited to 0.85 EV, which splits that difference on the 20 test
 * portraits where the rule fires: +1 EV lands 0.10-0.15 EV too bright
 * (steps; the mid-tones measure +0.15-0.18), +0.5 EV at worst 0.35 EV too
 * dark, +1.5 EV stays 0.3-0.65 EV too bright.  Run twice on the same
 * photo, a very bright face can be darkened a second time. */
#define SUBJECT_CLIP_MAX_EV 0.85

static double estimate_exposure(const cc_analysis *a, const double wb[3], const face_cues *fc,
                                const rt_face_analysis *fa, rt_plugin_ctx *ctx)
{
    const size_t n = a->n;
    float *mx = malloc(n * sizeof *mx);
    unsigned char *clip = malloc(n), *border = malloc(n);
    double ev = 0.0;
    if (!mx || !clip || !border) goto done;
    for (size_t i = 0; i < n; i++) {
        float r = a->r[i] * (float)wb[0], g = a->g[i] * (float)wb[1], b = a->b[i] * (float)wb[2];
        mx[i] = fmaxf(r, fmaxf(g, b));
        /* clipped in the file, whatever the white balance does */
        clip[i] = fmaxf(a->r[i], fmaxf(a->g[i], a->b[i])) >= 0.97f;
    }
    border_clipping(clip, a->w, a->h, border);
    size_t n_clip = 0, n_border = 0, n_rest = 0;
    for (size_t i = 0; i < n; i++) {
        n_clip += clip[i];
        n_border += border[i];
    }
    /* the subject's histogram: everything but large border-touching clipping */
    float *v = malloc(n * sizeof *v);
    if (!v) goto done;
    for (size_t i = 0; i < n; i++)
        if (!border[i]) v[n_rest++] = mx[i];
    double inner_clip = n_rest ? (double)(n_clip - n_border) / n_rest : 0.0;
    if (n_rest < n / 20) {
        free(v);
        goto done; /* nearly all backdrop: nothing to meter */
    }
    /* density of the subject's histogram in the stop below clipping, per EV */
    size_t below = 0;
    for (size_t i = 0; i < n_rest; i++)
        if (v[i] >= 0.485f && v[i] < 0.97f) below++;
    double density = (double)below / n_rest; /* fraction per EV */
    float bright = percentile(v, n_rest, 0.995);
    free(v);
    subject_clipping sc = measure_subject_clipping(a, mx, clip, fa ? fa->person : NULL);
    if (inner_clip > 0.01) {
        /* the clipped mass extends about inner_clip / density EV above white */
        double extent = inner_clip / fmax(density, 0.02);
        ev = -fmin(extent, MAX_EV);
    } else if (bright < UNDER_TRIGGER && bright > 0) {
        ev = fmin(log2(UNDER_TARGET / bright), MAX_EV);
    }
    if (sc.clipped > SUBJECT_CLIP_TRIGGER && fc && fc->have_skin &&
        fc->skin_bright > SUBJECT_FACE_BRIGHT)
        ev = fmin(ev, -fmin(sc.extent, SUBJECT_CLIP_MAX_EV));
    if (fabs(ev) >= MAX_EV - 1e-9) rt_plugin_warn(ctx, "exposure change limited to %+.1f EV", ev);
done:
    free(mx);
    free(clip);
    free(border);
    return ev;
}

/* ---- contrast and saturation (Full mode) ------------------------------ */

static void estimate_full_mode(const cc_analysis *a, const double gain[3], cc_correction *cc)
{
    float *y = calloc(a->n, sizeof *y);
    if (!y) return;
    double chroma = 0;
    size_t nc = 0;
    for (size_t i = 0; i < a->n; i++) {
        float r = a->r[i] * (float)gain[0], g = a->g[i] * (float)gain[1],
              b = a->b[i] * (float)gain[2];
        y[i] = rt_linear_to_srgb(fminf(rt_luminance(r, g, b), 1.0f));
        float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b));
        if (a->valid[i] && mx > 0.02f && !excluded_colour(r, g, b, (double[3]){1, 1, 1})) {
            chroma += (mx - mn) / mx;
            nc++;
        }
    }
    float lo = percentile(y, a->n, 0.02), hi = percentile(y, a->n, 0.98);
    free(y);
    double range = hi - lo;
    /* washed-out tones get a mild S-curve; already contrasty ones nothing */
    if (range < 0.85) cc->contrast += fmin((0.85 - range) * 0.6, 0.2);
    if (nc > 100) {
        double mean_sat = chroma / nc;
        if (mean_sat < 0.15)
            cc->vibrance += fmin((0.15 - mean_sat) * 1.5, 0.2);
        else if (mean_sat > 0.45)
            cc->saturation -= fmin((mean_sat - 0.45) * 0.5, 0.1);
    }
}

/* ---- the full-resolution pass ------------------------------------------ */

/* Highlight shoulder for values up to gmax: identity below the knee, then a
 * rational curve reaching 1 at gmax with a continuous slope. */
static inline float shoulder(float m, float knee, float b)
{
    if (m <= knee) return m;
    float x = (m - knee) / (1.0f - knee) / (1.0f + b); /* in [0,1] at m = gmax */
    float h = x * (1.0f + b) / (1.0f + b * x);
    return knee + (1.0f - knee) * (h > 1.0f ? 1.0f : h);
}

/* Automatic darkening of an over-exposed photo: the gain g up to the knee
 * k (mid-tones recovered exactly), then a parabola that meets white at
 * white, so what the file clipped (a white seamless, a white shirt) stays
 * white instead of turning flat grey.  x is the pixel's maximum channel
 * before the gain; returns the factor for its three channels. */
#define KEEP_WHITE_KNEE 0.85f
static inline float keep_white_factor(float x, float g)
{
    if (x <= KEEP_WHITE_KNEE) return 1.0f;
    const float k = KEEP_WHITE_KNEE, c = (1.0f - g) / ((1.0f - k) * (1.0f - k));
    float t = x > 1.0f ? 1.0f - k : x - k;
    return (g * x + c * t * t) / (g * x);
}

static inline float contrast_curve(float y, float k)
{
    /* cubic S-curve about 0.5 (encoded); monotone for |k| <= 0.5 */
    return y + 4.0f * k * (y - 0.5f) * y * (1.0f - y);
}

/* Linear light -> encoded output with the contrast curve folded in, so the
 * full-resolution pass needs one table per direction and channel. */
static void build_output_lut(float k, float *lut)
{
    for (int i = 0; i <= RT_COLOUR_LUT_SIZE + 1; i++) {
        float v = (float)i / (float)RT_COLOUR_LUT_SIZE;
        float e = rt_linear_to_srgb_exact(v > 1.0f ? 1.0f : v);
        lut[i] = k != 0.0f ? contrast_curve(e, k) : e;
    }
}

/* NaN-agnostic max/min: fmaxf is a library call without -ffast-math. */
static inline float max3f(float a, float b, float c)
{
    float m = a > b ? a : b;
    return m > c ? m : c;
}

static inline float min3f(float a, float b, float c)
{
    float m = a < b ? a : b;
    return m < c ? m : c;
}

/* Writes the corrected image into out (which may be im itself: each row is
 * read before it is written), rounded to the output precision (bits), in
 * one pass. */
static void apply_correction(const rt_image *im, const cc_correction *cc, int bits, rt_image *out)
{
    float out_lut[RT_COLOUR_LUT_SIZE + 2];
    build_output_lut((float)cc->contrast, out_lut);
    const float g[3] = {(float)cc->gain[0], (float)cc->gain[1], (float)cc->gain[2]};
    const float gmax = max3f(g[0], g[1], g[2]);
    const float knee = 0.8f;
    const float b = gmax > 1.0f ? (gmax - knee) / (1.0f - knee) - 1.0f : 0.0f;
    const float kw = (float)cc->keep_white;
    const int use_shoulder = gmax > 1.0f && kw == 0.0f;
    const float sat = (float)cc->saturation, vib = (float)cc->vibrance;
    const int use_chroma = sat != 0.0f || vib != 0.0f;
    const int w = im->width, h = im->height;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        const size_t row = (size_t)y * w;
        const float *in[3] = {rt_image_plane(im, 0) + row, rt_image_plane(im, 1) + row,
                              rt_image_plane(im, 2) + row};
        float *o[3] = {rt_image_plane(out, 0) + row, rt_image_plane(out, 1) + row,
                       rt_image_plane(out, 2) + row};
        /* gains in linear light, channel by channel (vectorises) */
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < w; x++)
                o[c][x] = rt_srgb_to_linear(in[c][x]) * g[c];
        if (kw > 0.0f)
            for (int x = 0; x < w; x++) {
                float m = max3f(o[0][x], o[1][x], o[2][x]) / kw;
                if (m > KEEP_WHITE_KNEE) {
                    float s = keep_white_factor(m, kw);
                    o[0][x] *= s;
                    o[1][x] *= s;
                    o[2][x] *= s;
                }
            }
        if (use_shoulder)
            for (int x = 0; x < w; x++) {
                float m = max3f(o[0][x], o[1][x], o[2][x]);
                if (m > knee) {
                    float s = shoulder(m, knee, b) / m;
                    o[0][x] *= s;
                    o[1][x] *= s;
                    o[2][x] *= s;
                }
            }
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < w; x++)
                o[c][x] = rt_lut_interp(out_lut, o[c][x]);
        if (use_chroma)
            for (int x = 0; x < w; x++) {
                float r = o[0][x], gg = o[1][x], bl = o[2][x];
                float luma = 0.2126f * r + 0.7152f * gg + 0.0722f * bl;
                float mx = max3f(r, gg, bl), mn = min3f(r, gg, bl);
                float cur = mx > 1e-6f ? (mx - mn) / mx : 0.0f;
                /* vibrance: more for dull colours, little for skin-like hues */
                float skinlike = (r > gg && gg > bl) ? 1.0f : 0.0f;
                float f = 1.0f + sat + vib * (1.0f - cur) * (1.0f - 0.8f * skinlike);
                o[0][x] = rt_clamp01(luma + (r - luma) * f);
                o[1][x] = rt_clamp01(luma + (gg - luma) * f);
                o[2][x] = rt_clamp01(luma + (bl - luma) * f);
            }
        for (int c = 0; c < 3; c++)
            rt_quantize_row(o[c], w, 0, y, c, bits);
    }
}

static int color_correction_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    const rt_task *t = ctx->task;
    int mode = rt_task_choice(t, "User Params/AI/Color Correction Mode");
    int enabled = rt_task_number(t, "User Params/Basic/Enable Basic") != 0;
    double m_ev = rt_task_number(t, "User Params/Basic/Exposure");
    double m_temp = rt_task_number(t, "User Params/Basic/Temperature");
    double m_tint = rt_task_number(t, "User Params/Basic/Tint");
    double m_con = rt_task_number(t, "User Params/Basic/Contrast");
    double m_sat = rt_task_number(t, "User Params/Basic/Saturation");
    int manual = m_ev != 0 || m_temp != 0 || m_tint != 0 || m_con != 0 || m_sat != 0;
    if (!enabled) {
        if (mode != MODE_NONE || manual)
            rt_plugin_warn(ctx, "Basic.Enable Basic is false: nothing corrected");
        return 0;
    }
    if (mode == MODE_NONE && !manual) return 0;

    cc_correction cc = {.gain = {1, 1, 1}, .wb = {1, 1, 1}};
    json_t *meta = json_object();
    if (mode != MODE_NONE) {
        cc_analysis a;
        int err = analysis_make(ctx->image, &a);
        if (err) {
            json_decref(meta);
            return err;
        }
        rt_plugin_progress(ctx, 0.3);
        /* the faces and the person: skin cues for white balance, subject
         * clipping for exposure */
        const rt_face_analysis *fa = NULL;
        if (rt_plugin_face_analysis(ctx, &fa) != 0) {
            rt_plugin_warn(ctx, "face analysis unavailable (%s): correction without face cues",
                           rt_error_message());
            fa = NULL;
        }
        face_cues fc;
        gather_face_cues(ctx->image, fa, &fc);
        if (mode >= MODE_EXPOSURE_WB) {
            double illum[3];
            estimate_illuminant(&a, &fc, illum, ctx);
            wb_gains(illum, cc.wb);
            json_object_set_new(meta, "illuminant",
                                json_pack("[f,f,f]", illum[0], illum[1], illum[2]));
        }
        cc.ev = estimate_exposure(&a, cc.wb, &fc, fa, ctx);
        if (cc.ev < 0) cc.keep_white = exp2(cc.ev);
        for (int c = 0; c < 3; c++)
            cc.gain[c] = cc.wb[c] * exp2(cc.ev);
        if (mode == MODE_FULL) estimate_full_mode(&a, cc.gain, &cc);
        analysis_free(&a);
    }
    /* manual offsets on top of the automatic ones */
    double temp_gain = exp2(0.3 * m_temp / 100.0), tint_gain = exp2(-0.2 * m_tint / 100.0);
    double manual_gain[3] = {temp_gain, tint_gain, 1.0 / temp_gain};
    double y = 0.2126 * manual_gain[0] + 0.7152 * manual_gain[1] + 0.0722 * manual_gain[2];
    for (int c = 0; c < 3; c++)
        cc.gain[c] *= manual_gain[c] / y * exp2(m_ev);
    cc.ev += m_ev;
    cc.contrast += 0.5 * m_con / 100.0;
    cc.contrast = fmax(-0.5, fmin(0.5, cc.contrast));
    cc.saturation += m_sat / 100.0;
    json_object_set_new(meta, "exposureEV", json_real(cc.ev));
    json_object_set_new(meta, "gains", json_pack("[f,f,f]", cc.gain[0], cc.gain[1], cc.gain[2]));
    json_object_set_new(meta, "contrast", json_real(cc.contrast));
    json_object_set_new(meta, "saturation", json_real(cc.saturation + cc.vibrance));
    out->metadata = meta;
    rt_plugin_progress(ctx, 0.5);
    int identity = fabs(cc.gain[0] - 1) < 1e-6 && fabs(cc.gain[1] - 1) < 1e-6 &&
                   fabs(cc.gain[2] - 1) < 1e-6 && cc.contrast == 0 && cc.saturation == 0 &&
                   cc.vibrance == 0;
    if (identity) return 0;
    /* pointwise: corrected in place, no second full-size image */
    out->layer = rt_plugin_writable_image(ctx);
    out->quantized = 1;
    apply_correction(ctx->image, &cc, ctx->bits, out->layer);
    return 0;
}

const rt_plugin rt_plugin_color_correction = {
    .name = "Color Correction",
    .needs = RT_NEEDS_NOTHING,
    .run = color_correction_run,
};
