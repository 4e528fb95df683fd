/* Small soft spots over a whole image (ALGORITHMS.md §7, §6): dust
 * particles, sensor spots, lint specks.  Shared by Dust and Fabric.
 *
 * Detection: the log luminance (multiplicative attenuation -> additive) is
 * analysed in octaves, each on a copy downscaled so that its blobs are 1.7
 * to 3.4 pixels (filters/blobs.h: scale-normalised DoG, extrema across
 * space and scale).  Each blob is then measured against a ring around it
 * (16 directions, 2.5 and 3.3 sigma, the ring's linear shading removed):
 * contrast, z = contrast / robust spread of the ring (the background must
 * be smooth), roundness (the ring is on the far side in nearly every
 * direction: strokes of text, lashes and fold edges are not), isolation (no
 * ring sample deviates as much as the spot: text, freckle fields, weave),
 * and the steepest step of its radial profile (soft dust falls off like a
 * Gaussian; catchlights, jewellery highlights and printed dots have a
 * sharp rim).  Overlapping spots are merged, the strongest kept.
 *
 * Correction: rt_spot_remove() divides out the spot's smooth attenuation
 * per linear channel (Zhou & Lin's dust model, I = alpha * J): the log of
 * each channel is smoothed (half the spot's sigma), the smooth part inside
 * the spot is replaced by the membrane of the ring (filters/inpaint.h), and
 * the difference is divided out.  The texture under the spot (grain, weave)
 * is the image's own and stays; nothing outside the spot's disc changes.
 *
 * Ownership: rt_spots_find() returns a malloc'd array the caller frees with
 * free(); rt_spot_remove() fills a caller-owned rt_spot_patch released by
 * rt_spot_patch_release().  Deterministic for any thread count.
 */
#ifndef RT_FILTERS_SPOTS_H
#define RT_FILTERS_SPOTS_H

#include "core/image.h"

typedef struct rt_spot {
    float x, y;     /* full-resolution centre (pixel centre = +0.5) */
    float sigma;    /* full-resolution pixels */
    float contrast; /* log luminance, centre minus ring: < 0 darker */
    float z;        /* |contrast| over the ring's robust spread */
    float rim;      /* slope of the radial profile at half depth times that radius */
    float texture;  /* |DoG| over the RMS DoG of its scale around it */
} rt_spot;

typedef struct rt_spot_params {
    float sigma_lo, sigma_hi;         /* full-resolution pixels: the blob sizes searched */
    float z_min;                      /* least contrast against the ring's spread */
    float contrast_min, contrast_max; /* |log luminance| */
    float rim_max;                    /* > this: a sharp rim, not a soft spot (>= 1: no test) */
    int polarity;                     /* -1 darker only, +1 lighter only, 0 both */
    int min_agree;                    /* of 16 ring directions on the far side (roundness) */
    float texture_min;  /* least |DoG| over the RMS DoG of its scale around it (0: no test) */
    float neutral_max;  /* most a channel's log contrast may differ from the mean, times
                         * |mean| (0: no test) */
    int max_neighbours; /* similar blobs (same polarity, >= half as strong) allowed within 7
                         * sigmas; < 0: no test */
    /* Optional trust (NULL: 1 everywhere): a plane of region_w x region_h
     * covering the whole image at any resolution, 0..1 at a spot's centre:
     * 0 no spot there; below 1 a spot needs z >= z_min / trust and
     * contrast <= contrast_max * trust (the subject: stricter). */
    const float *region;
    int region_w, region_h;
    int max_spots; /* the strongest (by z) are kept */
} rt_spot_params;

/* Finds the spots of im (RGB planes, sRGB-encoded).  *out (malloc'd, or
 * NULL when none) is ordered by decreasing z, ties by position. */
int rt_spots_find(const rt_image *im, const rt_spot_params *p, rt_spot **out, int *count);

/* The disc a spot's correction covers: radius in full-resolution pixels. */
float rt_spot_radius(const rt_spot *s);

typedef struct rt_spot_patch {
    int x0, y0, w, h; /* rectangle of the image covered */
    float *logc;      /* 3 planes of w*h: log of the linear attenuation divided out (0: none) */
} rt_spot_patch;

/* Divides the spot's smooth attenuation out of im, `amount` of it in the
 * log domain (0..1).  Returns 1 when a patch was made, 0 when the spot is
 * too close to the border to have a ring (patch empty), or an error. */
int rt_spot_remove(const rt_image *im, const rt_spot *s, float amount, rt_spot_patch *out);
void rt_spot_patch_release(rt_spot_patch *p);

/* One normal RGBA layer covering the patches' bounding box: their
 * attenuations are summed (in patch order: overlapping spots both divided
 * out) and divided out of im's linear colour; alpha is 1 where a pixel is
 * corrected, 0 elsewhere.  *layer is NULL when nothing changes; it is owned
 * by the caller. */
int rt_spot_patches_layer(const rt_image *im, const rt_spot_patch *patches, int n, rt_image **layer,
                          int *x0, int *y0);

#endif
