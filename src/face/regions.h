/* Region masks of a face from its landmarks (ALGORITHMS.md §1.7).
 *
 * A region is rasterised into the caller's float buffer for a rectangle of
 * the running image: 1 inside, 0 outside, with an anti-aliased edge that
 * ramps (smoothstep) over feather_mm millimetres centred on the outline
 * (the face's own scale, face->px_per_mm); a feather under one pixel gives
 * plain one-pixel anti-aliasing.  Outlines come from the 478-point mesh
 * (eye lids refined by the Iris model) and the iris circles.
 *
 * These are landmark shapes at model precision (a few pixels on a 24 MP
 * face): plugins refine edges against the image where it matters (guided
 * feathering, colour clustering), see ALGORITHMS.md §1.7.
 */
#ifndef RT_FACE_REGIONS_H
#define RT_FACE_REGIONS_H

#include "face/face.h"

#include <stddef.h>

typedef enum rt_face_region {
    RT_REGION_FACE,        /* the face: its outline (rt_face_outline), hairline to chin */
    RT_REGION_SKIN,        /* the face minus eyes, brows, lips and nostrils (grown 0.75 mm) */
    RT_REGION_EYES,        /* both eye openings (between the lid margins) */
    RT_REGION_SCLERA,      /* eye openings minus the iris discs */
    RT_REGION_IRIS,        /* iris discs inside the eye openings */
    RT_REGION_LIPS,        /* outer lip outline minus the mouth opening */
    RT_REGION_INNER_MOUTH, /* the mouth opening (teeth, tongue), inner lip outline */
    RT_REGION_BROWS,       /* both eyebrows */
    RT_REGION_NOSTRILS,    /* both nostrils */
    RT_REGION_COUNT
} rt_face_region;

/* Name for logs and tests: "face", "skin", "eyes", ... */
const char *rt_face_region_name(rt_face_region region);

/* Writes the region into dst, the rectangle (x0, y0, w, h) of the running
 * image, row stride `stride` floats; every value of the rectangle is
 * written.  Fails only when out of memory (RT_ERR_NOMEM) or on bad
 * arguments. */
int rt_face_region_mask(const rt_face *face, rt_face_region region, float feather_mm, int x0,
                        int y0, int w, int h, float *dst, size_t stride);

/* The rectangle outside which the region is 0, clipped to an image of
 * width x height; returns 0 when it is empty. */
int rt_face_region_bounds(const rt_face *face, rt_face_region region, float feather_mm, int width,
                          int height, int *x0, int *y0, int *w, int *h);

/* The face's outline: the convex hull of the mesh points, in order (the
 * visible silhouette: a turned face's far-side oval points lie hidden
 * behind the cheek and nose, so the oval itself folds over).  out needs
 * room for RT_MESH_BASE_POINTS + 1 points; returns the count. */
int rt_face_outline(const rt_face *face, rt_point2 *out);

/* Lower level: a closed polygon (n points) grown by grow_px (negative:
 * shrunk), edge ramp ramp_px wide, combined into dst by op; an outline that
 * crosses itself is filled by the non-zero winding rule. */
typedef enum rt_mask_op {
    RT_MASK_SET,     /* dst = m */
    RT_MASK_MUL,     /* dst *= m (intersection) */
    RT_MASK_MUL_INV, /* dst *= 1 - m (subtraction) */
    RT_MASK_MAX,     /* dst = max(dst, m) (union) */
} rt_mask_op;

int rt_mask_polygon(const rt_point2 *pts, int n, float grow_px, float ramp_px, rt_mask_op op,
                    int x0, int y0, int w, int h, float *dst, size_t stride);
void rt_mask_circle(rt_point2 centre, float radius, float ramp_px, rt_mask_op op, int x0, int y0,
                    int w, int h, float *dst, size_t stride);

#endif
