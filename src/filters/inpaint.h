/* Inpainting toolbox (ALGORITHMS.md §1.5): the membrane (Laplace) fill and
 * a texture-preserving heal of round spots, for Heal, Dust, Clean Backdrop
 * and Fabric.
 *
 * Heal of a spot = the healing brush (Poisson cloning with the source's
 * gradients): a source patch S at the best-matching offset in an annulus
 * around the spot gives the texture; the difference d = T - S between the
 * target T and the source is known around the spot and filled inside by the
 * membrane; the result S + d takes its low frequencies from the spot's own
 * surroundings (no brightness step in a gradient) and its texture from
 * nearby skin (no blur patch).  The result is feathered into the image.
 *
 * Ownership: rt_heal_spot() fills a caller-owned rt_heal_patch whose buffers
 * are released by rt_heal_patch_release().
 */
#ifndef RT_FILTERS_INPAINT_H
#define RT_FILTERS_INPAINT_H

#include "core/image.h"

#include <stddef.h>

/* Replaces the values of v (w x h, row stride `stride` floats) where hole
 * (w x h, row stride w) is non-zero by the harmonic interpolation of the
 * values around them: solves Laplace(v) = 0 inside with the rest as
 * boundary, by red-black successive over-relaxation started from a
 * coarse-to-fine guess.  Hole pixels on the grid's border are an error
 * (they would have no boundary).  Deterministic (serial). */
int rt_membrane_fill(float *v, int w, int h, size_t stride, const unsigned char *hole);

/* Where sources may be copied from: a weight over the rectangle (x0, y0, w,
 * h) of the image, row stride `stride` floats; a source must lie entirely
 * inside the rectangle with weight >= min_weight. */
typedef struct rt_heal_area {
    const float *weight;
    size_t stride;
    int x0, y0, w, h;
    float min_weight;
} rt_heal_area;

/* A disc no source may overlap (other defects, features). */
typedef struct rt_heal_disc {
    float x, y, r;
} rt_heal_disc;

typedef struct rt_heal_patch {
    int x0, y0, w, h;     /* rectangle of the image covered */
    float *rgb;           /* 3 planes of w*h: healed colour (the image where alpha is 0) */
    float *alpha;         /* w*h: 1 inside r_inner, smooth to 0 at r_outer */
    float src_dx, src_dy; /* the source offset chosen, pixels */
} rt_heal_patch;

/* Heals the disc centred at (cx, cy) of the RGB image im (3 planes):
 * everything within r_inner is replaced, the ring up to r_outer is a
 * smoothstep feather.  The source is the offset (2 to 4.5 r_outer away, 12
 * directions) whose surroundings' fine detail best matches the spot's
 * surroundings, whose texture energy matches theirs and which holds no spot
 * of its own, inside `area`, off every disc of `avoid`.  The membrane of
 * the difference is relaxed (rt_membrane_fill) for small spots and taken in
 * closed form (the disc's Poisson integral, 10 Fourier terms of the
 * boundary) for large ones.  Returns 1 when healed, 0 when no valid source
 * exists (patch left empty), or a negative error. */
int rt_heal_spot(const rt_image *im, float cx, float cy, float r_inner, float r_outer,
                 const rt_heal_area *area, const rt_heal_disc *avoid, int navoid,
                 rt_heal_patch *out);
void rt_heal_patch_release(rt_heal_patch *p);

#endif
