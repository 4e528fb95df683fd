/* The analysis copy of automatic colour correction (colour_analysis.h). */
#include "filters/colour_analysis.h"

#include "core/colour.h"
#include "core/error.h"
#include "filters/blur.h"
#include "filters/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rt_colour_analysis_destroy(rt_colour_analysis *a)
{
    rt_free(a->r);
    free(a->valid);
    rt_free(a->edge2[0]);
    rt_free(a->logct[0]);
}

/* The per-pixel measures the grey-edge and grey-pixel estimators use: they
 * do not depend on which pixels count, so both rounds share them. */
static int edges_failed(rt_colour_analysis *a, int err)
{
    rt_free(a->edge2[0]);
    rt_free(a->logct[0]);
    for (int c = 0; c < 3; c++)
        a->edge2[c] = a->logct[c] = NULL;
    return err;
}

int rt_colour_analysis_edges(rt_colour_analysis *a)
{
    const int w = a->w, h = a->h;
    float *plane[3] = {a->r, a->g, a->b};
    float *edge = rt_alloc_floats(3 * a->n), *ct = rt_alloc_floats(3 * a->n);
    float *tmp = rt_alloc_floats(a->n);
    if (!edge || !ct || !tmp) {
        rt_free(edge);
        rt_free(ct);
        rt_free(tmp);
        return rt_error(RT_ERR_NOMEM, "out of memory for the colour analysis");
    }
    for (int c = 0; c < 3; c++) {
        a->edge2[c] = edge + c * a->n;
        a->logct[c] = ct + c * a->n;
        memcpy(tmp, plane[c], a->n * sizeof *tmp);
        int err = rt_gaussian_blur_plane(tmp, w, h, 1.0f);
        if (err) {
            rt_free(tmp);
            return edges_failed(a, err);
        }
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
        if ((err = rt_gaussian_blur_plane(tmp, w, h, 0.8f))) {
            rt_free(tmp);
            return edges_failed(a, err);
        }
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

int rt_colour_analysis_create(const rt_image *im, int side, rt_colour_analysis *a)
{
    memset(a, 0, sizeof *a);
    rt_image *small;
    int err = rt_downscale(im, side, &small);
    if (err) return err;
    a->w = small->width;
    a->h = small->height;
    a->n = (size_t)a->w * a->h;
    a->r = rt_alloc_floats(3 * a->n);
    a->valid = calloc(a->n, 1);
    if (!a->r || !a->valid) {
        rt_image_destroy(small);
        rt_colour_analysis_destroy(a);
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

/* Skin-like or strongly saturated under the illuminant e: such pixels are
 * not evidence about the illuminant. */
int rt_colour_excluded(float r, float g, float b, const double e[3])
{
    double R = r / e[0], G = g / e[1], B = b / e[2];
    double s = R + G + B;
    if (s <= 0) return 1;
    double mx = fmax(R, fmax(G, B)), mn = fmin(R, fmin(G, B));
    if ((mx - mn) / mx > 0.6) return 1;
    double rg = (R - G) / s, gb = (G - B) / s;
    return R > G && G > B && rg > 0.03 && rg < 0.3 && gb > 0.0 && gb < 0.3;
}

void rt_normalise_rgb(double e[3])
{
    double s = sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]);
    if (s > 0)
        for (int c = 0; c < 3; c++)
            e[c] /= s;
}

/* Percentile of values in [0, 2) through a histogram (no sort: the
 * analysis copy has up to 0.6 M values). */
#define PCT_BINS 16384
float rt_histogram_percentile(const float *v, size_t n, double q)
{
    if (n == 0) return 0;
    /* on the stack (64 KB): nothing to fail */
    unsigned hist[PCT_BINS] = {0};
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
    return (b + 0.5f) / (PCT_BINS / 2);
}
