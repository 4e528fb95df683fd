/* Smooth image warps from a displacement field sampled on a coarse grid
 * (ALGORITHMS.md §15 step 4): the field is designed at the grid nodes,
 * smoothed, checked for folds (the Jacobian determinant of the forward map)
 * and applied once at full resolution with a backward lookup and bicubic
 * sampling, inside the field's rectangle only.
 *
 * Coordinates are continuous image coordinates (pixel (i, j) covers
 * [i, i+1) x [j, j+1)); node (a, b) sits at (x0 + a*step, y0 + b*step).
 * The displacement is forward: content at p moves to p + d(p).
 *
 * Ownership: rt_warp_field_create() returns a field owned by the caller,
 * released with rt_warp_field_destroy().
 */
#ifndef RT_FILTERS_WARP_H
#define RT_FILTERS_WARP_H

#include "core/image.h"

typedef struct rt_warp_field {
    int x0, y0, w, h; /* the rectangle of the image the field covers (zero outside) */
    int step;         /* pixels between nodes */
    int gw, gh;       /* nodes across and down: the last ones at or past the rectangle's edge */
    float *dx, *dy;   /* forward displacement at the nodes, gw*gh each, pixels */
} rt_warp_field;

/* A zero field over the rectangle (x0, y0, w, h) with nodes every `step`
 * pixels. */
int rt_warp_field_create(int x0, int y0, int w, int h, int step, rt_warp_field **out);
void rt_warp_field_destroy(rt_warp_field *f);

/* Gaussian smoothing of both components, sigma in pixels. */
int rt_warp_field_smooth(rt_warp_field *f, float sigma_px);

/* Multiplies the field by a ramp that is 0 on the rectangle's border and 1
 * from `margin` pixels inside it, so the warp joins the untouched image
 * without a seam. */
void rt_warp_field_taper(rt_warp_field *f, float margin);

/* Smallest Jacobian determinant of the forward map p -> p + d(p) over the
 * nodes (1 for no warp; <= 0 where the warp folds). */
float rt_warp_field_min_jacobian(const rt_warp_field *f);
/* Largest displacement length over the nodes, pixels. */
float rt_warp_field_max_shift(const rt_warp_field *f);
void rt_warp_field_scale(rt_warp_field *f, float k);

/* The field at a point (bilinear between nodes, 0 outside the rectangle). */
void rt_warp_field_at(const rt_warp_field *f, float x, float y, float *dx, float *dy);

/* Warps the RGB planes of src into a new RGBA layer (*layer, owned by the
 * caller) covering the part of the field's rectangle where it moves pixels,
 * placed at (*lx, *ly): each pixel shows the source point that the field
 * moved there (the backward map, found by fixed-point iteration), bicubic;
 * alpha is 1 where the field moves the pixel by a hundredth of a pixel or
 * more and 0 elsewhere (those pixels keep the source exactly).  *layer stays
 * NULL when nothing moves. */
int rt_warp_apply(const rt_image *src, const rt_warp_field *f, rt_image **layer, int *lx, int *ly);

#endif
