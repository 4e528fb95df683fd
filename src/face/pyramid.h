/* The image pyramid the face analysis samples its model inputs from.
 *
 * Models see small crops (64 to 256 pixels) of a possibly 24 MP image.  A crop
 * sampled straight from full resolution would alias, and one area-averaged
 * from full resolution would read far too many pixels; so the analysis keeps
 * box-filtered copies at halving sizes and samples each crop from the finest
 * level that still has at least one pixel per crop pixel, averaging a few
 * bilinear taps per crop pixel (at most 4x4).
 *
 * Level 0 is the running image itself (not copied); level 1 averages
 * blocks of the smallest integer size that brings the long side to at most
 * RT_FACE_ANALYSIS_SIDE ("analyse small"); each further level halves the
 * previous one (2x2 blocks) down to about 128 pixels.
 *
 * Ownership: rt_face_pyramid_create() returns a pyramid owned by the caller
 * (rt_face_pyramid_destroy()); it points at the running image, which must
 * outlive it and not change while it is used.
 */
#ifndef RT_FACE_PYRAMID_H
#define RT_FACE_PYRAMID_H

#include "core/image.h"
#include "face/geometry.h"

#define RT_FACE_ANALYSIS_SIDE 1536
#define RT_FACE_PYRAMID_MAX 12

typedef struct rt_face_pyramid {
    int width, height; /* the running image's size */
    int nlevels;
    const rt_image *level[RT_FACE_PYRAMID_MAX];
    double sx[RT_FACE_PYRAMID_MAX],
        sy[RT_FACE_PYRAMID_MAX]; /* running px per level px (integers) */
    rt_image *owned[RT_FACE_PYRAMID_MAX];
} rt_face_pyramid;

/* Builds the levels of an RGB image (3 or more planes; the first 3 are used). */
int rt_face_pyramid_create(const rt_image *image, rt_face_pyramid **out);
void rt_face_pyramid_destroy(rt_face_pyramid *p);

/* Index of the level an analysis at most max_side pixels long should use:
 * the smallest level whose long side is <= max_side. */
int rt_face_pyramid_level_for(const rt_face_pyramid *p, int max_side);

/* Samples a w x h RGB crop into out (NHWC, w*h*3 floats): crop pixel (u, v)
 * shows the running-image point to_image(u + 0.5, v + 0.5); values are
 * v * mul + add; points outside the image read as 0 (before mul/add). */
void rt_face_sample_crop(const rt_face_pyramid *p, const rt_affine *to_image, int w, int h,
                         float mul, float add, float *out);

/* Same from one given level, with the map in that level's coordinates. */
void rt_face_sample_level(const rt_image *level, const rt_affine *to_level, int w, int h, float mul,
                          float add, float *out);

#endif
