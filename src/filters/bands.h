/* Band decompositions of float planes for the skin plugins (ALGORITHMS.md
 * §1.3): Gaussian bases, masked normalised convolution (averages only skin,
 * so nothing bleeds in from hair, eyes or background), the band between two
 * scales, and the à-trous wavelet levels the tests measure texture with.
 *
 * Every function works on one contiguous w x h plane (a face ROI, usually at
 * analysis resolution); sigmas are in pixels of that plane: convert from
 * millimetres with rt_face_mm() and the plane's downscale factor
 * (rt_band_sigma_px).  Outside the plane counts as missing (not as a copy of
 * the border), so borders are normalised like a mask edge.  Results are the
 * same bytes for any thread count.  Errors: RT_ERR_NOMEM, RT_ERR_ARG.
 */
#ifndef RT_FILTERS_BANDS_H
#define RT_FILTERS_BANDS_H

#include <stddef.h>

/* Below this blurred mask weight a masked blur has no data to average. */
#define RT_BAND_MIN_WEIGHT 1e-4f

/* A length of `mm` on a face of `px_per_mm` (full resolution), in pixels of
 * a plane downscaled by `factor`. */
static inline float rt_band_sigma_px(float mm, float px_per_mm, int factor)
{
    return mm * px_per_mm / (float)(factor > 0 ? factor : 1);
}

/* Gaussian blur (dst may equal src).  sigma < 0.3: a copy.  Up to sigma 2 a
 * sampled kernel; above, three box passes of Kovesi's widths (O(1) per
 * pixel whatever sigma, within a few percent of the Gaussian). */
int rt_band_blur(const float *src, int w, int h, float sigma, float *dst);

/* Masked normalised convolution, dst = G*(src * mask) / G*(mask): the local
 * mean of src over the pixels where mask > 0, weighted by it.  Where
 * G*(mask) < RT_BAND_MIN_WEIGHT there is nothing to average: dst = 0 there.
 * weight (optional, may be NULL) receives G*(mask).  dst may equal src; it
 * may not equal mask. */
int rt_band_masked_blur(const float *src, const float *mask, int w, int h, float sigma, float *dst,
                        float *weight);

/* The band between two scales, dst = G_fine *m src - G_coarse *m src, with
 * *m the masked blur above (plain blurs when mask is NULL).  The usual
 * "mid band" of the skin plugins: the finest detail (below sigma_fine) and
 * the face's form (above sigma_coarse) are left out. */
int rt_band_between(const float *src, const float *mask, int w, int h, float sigma_fine,
                    float sigma_coarse, float *dst);

/* How far inside a mask each pixel is, 0..1: smoothstep from 0.5 to 0.95
 * of the mask blurred at sigma.  A smooth map that is multiplied by it is
 * nothing at the mask's edge and fades in over about 1.6 sigma, so an effect
 * never ends in a step where the mask cuts through a smooth area (a
 * forehead under the face outline, a cheek under hair).  dst may not equal
 * mask. */
int rt_band_interior(const float *mask, int w, int h, float sigma, float *dst);

/* À-trous B3-spline decomposition (kernel [1 4 6 4 1]/16 dilated by 2^j,
 * borders mirrored): details[j] = c_j - c_{j+1} for j < levels (each a w x h
 * plane, NULL to skip), residual = c_levels (may be NULL); src = residual +
 * sum of details.  Level 0 is the finest (pixel-scale texture). */
int rt_band_atrous(const float *src, int w, int h, int levels, float *const *details,
                   float *residual);

/* Weighted mean and standard deviation of p over n values (weights w,
 * NULL = 1), accumulated serially in double: the same bytes whatever the
 * thread count.  Returns the total weight. */
double rt_band_weighted_stats(const float *p, const float *w, size_t n, double *mean, double *std);

#endif
