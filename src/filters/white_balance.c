/* Automatic white balance (white_balance.h). */
#include "filters/white_balance.h"

#include "core/colour.h"
#include "core/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Formats a warning for the caller's warn callback (may be NULL). */
static void warnf(rt_warn_fn warn, void *user, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warnf(rt_warn_fn warn, void *user, const char *fmt, ...)
{
    if (!warn) return;
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    warn(user, buf);
}

static int saturated_colour(float r, float g, float b)
{
    float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b));
    return mx <= 0.0f || (mx - mn) / mx > 0.75f;
}

/* The Minkowski p = 6 mean of a per-channel quantity over the pixels in
 * use, as a unit vector: of the values (shades of grey) or of the gradient
 * magnitudes, given squared (grey edge). */
static int minkowski6(const float *const q[3], int squared, const rt_colour_analysis *a,
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
    rt_normalise_rgb(e);
    return 0;
}

static int shades_of_grey(const rt_colour_analysis *a, const unsigned char *use, double e[3])
{
    const float *const q[3] = {a->r, a->g, a->b};
    return minkowski6(q, 0, a, use, e);
}

static int grey_edge(const rt_colour_analysis *a, const unsigned char *use, double e[3])
{
    const float *const q[3] = {a->edge2[0], a->edge2[1], a->edge2[2]};
    return minkowski6(q, 1, a, use, e);
}

/* Grey pixels: where the local contrast of log R, log G and log B agree,
 * the surface is achromatic and shows the illuminant (Yang et al. 2015). */
static int grey_pixels(const rt_colour_analysis *a, const unsigned char *use, double e[3])
{
    const int w = a->w, h = a->h;
    float *gi = rt_alloc_floats(a->n);
    if (!gi) return rt_error(RT_ERR_NOMEM, "out of memory for white balance");
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
    int ok = 1; /* no estimate */
    if (n >= 200) {
        float *sorted = malloc(n * sizeof *sorted);
        if (!sorted) ok = rt_error(RT_ERR_NOMEM, "out of memory for white balance");
        if (sorted) {
            size_t k = 0;
            for (size_t i = 0; i < a->n; i++)
                if (isfinite(gi[i])) sorted[k++] = gi[i];
            /* the greyest 1 % (at least 50 pixels) */
            double q = k > 5000 ? 0.01 : 50.0 / (double)k;
            float thr = rt_histogram_percentile(sorted, k, q < 1 ? q : 1);
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
                rt_normalise_rgb(e);
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

/* Only the part of the estimate beyond its uncertainty is corrected: the
 * estimate, as a (temperature, tint) vector in log-chroma, is shrunk toward
 * no correction by a radius of doubt (soft thresholding).  Unlike scaling
 * the estimate by a confidence (which leaves a share of the cast that a
 * second run measures and corrects again, and again), this converges: the
 * residual it leaves is the radius itself, and on its own output the
 * estimate lands inside the radius and nothing moves.  The radius has a
 * floor (how far the three estimators scatter on neutral studio shots, so
 * that warm/cool light keeps about a degree of its character and a tint,
 * more often a coloured backdrop than a light, a little less) plus a term
 * that grows as the trust in the evidence falls. */
#define WB_TEMP_DOUBT 0.03 /* log-chroma, about 1.2 degrees */
#define WB_TINT_DOUBT 0.03
#define WB_TRUST_DOUBT 0.08 /* added radius at trust 0.5 */

static void shrink_by_doubt(double e[3], double trust, rt_warn_fn warn, void *user)
{
    double u = log(e[0] / e[1]), v = log(e[2] / e[1]);
    double temp = (u - v) / M_SQRT2, tint = (u + v) / M_SQRT2;
    double extra = WB_TRUST_DOUBT * (1.0 - trust) / fmax(trust, 0.05);
    /* an ellipse of doubt: the vector's length in doubt units, shrunk by one */
    double dt = WB_TEMP_DOUBT + extra, dn = WB_TINT_DOUBT + extra;
    double len = hypot(temp / dt, tint / dn);
    double keep = len > 1.0 ? 1.0 - 1.0 / len : 0.0;
    if (trust < 0.5)
        warnf(warn, user,
              "little neutral evidence in the frame: white balance corrected gently "
              "(%.0f %% of the estimate)",
              100 * keep);
    temp *= keep;
    tint *= keep;
    u = (temp + tint) / M_SQRT2;
    v = (tint - temp) / M_SQRT2;
    e[0] = exp(u);
    e[1] = 1.0;
    e[2] = exp(v);
    rt_normalise_rgb(e);
}

/* Under any light, pixels with the face skin's chromaticity are skin. */
static int skin_like(const rt_skin_cues *fc, float r, float g, float b)
{
    if (!fc || !fc->have_skin || r <= 0 || g <= 0 || b <= 0) return 0;
    double dr = log(r / g) - fc->skin_lr, db = log(b / g) - fc->skin_lb;
    return dr * dr + db * db < 0.15 * 0.15;
}

/* Lab hue angle (degrees) of the face skin once the illuminant e is removed. */
static double corrected_skin_hue(const rt_skin_cues *fc, const double e[3])
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

static void check_skin_locus(const rt_skin_cues *fc, double e[3], rt_warn_fn warn, void *user)
{
    if (!fc || !fc->have_skin) return;
    double hue = corrected_skin_hue(fc, e);
    if (hue >= SKIN_HUE_MIN && hue <= SKIN_HUE_MAX) return;
    double le[3] = {log(e[0] / e[1]), 0.0, log(e[2] / e[1])};
    for (double t = 0.9; t >= -1e-9; t -= 0.1) {
        double et[3] = {exp(t * le[0]), 1.0, exp(t * le[2])};
        rt_normalise_rgb(et);
        double h = corrected_skin_hue(fc, et);
        if ((h >= SKIN_HUE_MIN && h <= SKIN_HUE_MAX) || t < 0.05) {
            warnf(warn, user,
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
int rt_estimate_illuminant(rt_colour_analysis *a, const rt_skin_cues *fc, double illum[3],
                           rt_warn_fn warn, void *user)
{
    double e[3] = {1, 1, 1};
    unsigned char *use = malloc(a->n);
    illum[0] = illum[1] = illum[2] = 1.0 / sqrt(3.0);
    if (!use) return rt_error(RT_ERR_NOMEM, "out of memory for white balance");
    int err = a->edge2[0] ? 0 : rt_colour_analysis_edges(a);
    if (err) {
        free(use);
        return err;
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
                                 : !rt_colour_excluded(a->r[i], a->g[i], a->b[i], e));
            n += use[i];
        }
        if (n < a->n / 50) {
            warnf(warn, user,
                  "too few neutral-looking pixels to judge white balance; "
                  "left as it was");
            free(use);
            return 0;
        }
        ok[0] = shades_of_grey(a, use, est[0]) == 0;
        ok[1] = grey_edge(a, use, est[1]) == 0;
        int grey = grey_pixels(a, use, est[2]);
        if (grey < 0) {
            free(use);
            return grey;
        }
        ok[2] = grey == 0;
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
        rt_normalise_rgb(e);
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
    shrink_by_doubt(e, trust, warn, user);
    check_skin_locus(fc, e, warn, user);
    memcpy(illum, e, sizeof e);
    return 0;
}

/* Von Kries gains that neutralise illum while keeping grey's luminance. */
void rt_white_balance_gains(const double illum[3], double g[3])
{
    for (int c = 0; c < 3; c++)
        g[c] = 1.0 / illum[c];
    double y = 0.2126 * g[0] + 0.7152 * g[1] + 0.0722 * g[2];
    for (int c = 0; c < 3; c++)
        g[c] /= y;
}
