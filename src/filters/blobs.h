/* Multi-scale blob detection on one float plane (ALGORITHMS.md §5, §7):
 * scale-normalised difference of Gaussians (Lindeberg; DoG as in SIFT).
 *
 * A scale space holds the plane blurred at an increasing list of sigmas
 * (pixels).  The difference of two neighbouring levels whose sigmas keep a
 * constant ratio is proportional to sigma^2 * Laplacian, i.e. already
 * scale-normalised, so responses of small and large blobs compare directly;
 * a blob of contrast A whose size matches the level answers with a response
 * proportional to A.  Blobs are local extrema of the DoG across space and
 * the two neighbouring scales; positive ones are brighter (higher) than
 * their surround, negative ones darker.
 *
 * Shared by Heal (blemishes), Dust and Clean Backdrop (spots).
 *
 * Ownership: rt_scale_space_create() returns a space owned by the caller,
 * released with rt_scale_space_destroy(); rt_blobs_find() returns a malloc'd
 * array the caller frees with free().
 */
#ifndef RT_FILTERS_BLOBS_H
#define RT_FILTERS_BLOBS_H

#include <stddef.h>

#define RT_SCALE_SPACE_MAX_LEVELS 16

typedef struct rt_scale_space {
    int width, height;
    int levels;
    float sigma[RT_SCALE_SPACE_MAX_LEVELS];  /* pixels, increasing */
    float *level[RT_SCALE_SPACE_MAX_LEVELS]; /* plane blurred at sigma[k] (rt_alloc_floats) */
} rt_scale_space;

/* Blurs `plane` (w x h, row stride w) at each of the n sigmas (pixels,
 * strictly increasing, 2 <= n <= RT_SCALE_SPACE_MAX_LEVELS), incrementally
 * (each level from the previous one).  Deterministic for any thread count. */
int rt_scale_space_create(const float *plane, int w, int h, const float *sigmas, int n,
                          rt_scale_space **out);
void rt_scale_space_destroy(rt_scale_space *ss);

/* Bilinear sample of level k at continuous position (x, y) (pixel centres at
 * +0.5), clamped to the plane. */
float rt_scale_space_sample(const rt_scale_space *ss, int k, float x, float y);

typedef struct rt_blob {
    float x, y;     /* centre, continuous coordinates (pixel centre = +0.5) */
    float sigma;    /* pixels: geometric mean of the two levels of the DoG */
    float response; /* DoG value (level k minus level k+1): > 0 above the surround */
    int scale;      /* k: the DoG between level k and k+1 */
} rt_blob;

/* Local extrema of the DoG stack with |response| >= min_response, at
 * pixels where mask (w x h, or NULL) >= mask_min, in the DoGs between
 * levels (k, k+1) for k = 0 .. levels-2.  across_scales = 1: extrema of the
 * 3x3x3 neighbourhood (SIFT; scales at the ends against their one
 * neighbour); 0: extrema of each scale's 3x3 neighbourhood only, for
 * textured content (skin) where the fine scales' texture answers as strongly
 * as a larger blob and would hide it; the caller then picks a scale per
 * place.  The list is ordered by scale, then row, then column
 * (deterministic). */
int rt_blobs_find(const rt_scale_space *ss, const float *mask, float mask_min, float min_response,
                  int across_scales, rt_blob **out, int *count);

#endif
