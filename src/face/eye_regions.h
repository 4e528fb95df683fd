/* Eye regions refined against the image (ALGORITHMS.md §1.7, §8, §9).
 *
 * The landmark regions (face/regions.h) are model precision: on a 24 MP
 * face one model pixel is ten image pixels, so the iris circle and the lid
 * polygon can be off by several pixels, enough to paint the lid or the
 * limbus.  Here they are refined at full resolution on the eye's own small
 * rectangle:
 *   - the iris circle by a radial edge search for the limbus (dark iris to
 *     bright sclera) on the rays the lids do not cover, then a robust
 *     circle fit;
 *   - the sclera by colour around the eye opening: three colour clusters
 *     (k-means in Y, Cb, Cr; seeds: the opening's bright end, the lid
 *     skin ring, the dark end), a pixel is white by how much nearer the
 *     white cluster it is; kept where connected to the landmark opening,
 *     at most 1.5 mm beyond it (the landmarks lag the lids); a closing
 *     keeps thin red vessels inside; minus the refined iris, minus the
 *     caruncle (the pink inner corner).
 * Measured against outlines drawn by hand (tests/data/annotations, test
 * regions_vs_hand_outlines): mean boundary distance 0.44-0.78 mm.  Known
 * misses: a landmark outer corner more than 1.5 mm off cuts the white
 * there; a pale lower waterline can be taken for white.
 * First version: no lash model beyond colour (lashes are dark, so they
 * fall out of the sclera), no handling of glasses glare.
 */
#ifndef RT_FACE_EYE_REGIONS_H
#define RT_FACE_EYE_REGIONS_H

#include "core/image.h"
#include "face/face.h"

#include <stddef.h>

#define RT_EYE_OPENING_POINTS 16
/* How far outside the landmark opening the sclera is looked for (the
 * landmarks lag the lids by up to ~1 mm on close-ups); rectangles for
 * rt_eye_sclera_mask need this much padding. */
#define RT_EYE_OPENING_SLACK_MM 1.5f

typedef struct rt_eye_geometry {
    rt_point2 opening[RT_EYE_OPENING_POINTS]; /* lid margins (mesh, Iris-model refined) */
    rt_point2 inner_corner, outer_corner;
    float width;           /* corner to corner, px */
    float openness;        /* opening height / width; a closed eye is under ~0.15 */
    rt_point2 iris_center; /* refined against the image when iris_refined */
    float iris_radius;
    int iris_refined;
    float px_per_mm;
} rt_eye_geometry;

/* The landmark geometry of one eye (RT_EYE_RIGHT / RT_EYE_LEFT). */
void rt_eye_geometry_init(const rt_face *face, int eye, rt_eye_geometry *g);

/* Moves the iris circle onto the limbus found in the image (radial edge
 * search, circle fit); keeps the landmark circle when the edge is not
 * clear enough (iris_refined stays 0).  Reads only the eye's rectangle. */
void rt_eye_refine_iris(const rt_image *img, rt_eye_geometry *g);

/* The rectangle around the eye opening grown by pad_px, clipped to the
 * image; returns 0 when empty. */
int rt_eye_bounds(const rt_eye_geometry *g, float pad_px, int width, int height, int *x0, int *y0,
                  int *w, int *h);

/* The sclera of one eye, 0..1, into dst for the rectangle (x0, y0, w, h)
 * (inside the image; row stride `stride`); every value is written.
 * RT_ERR_NOMEM on allocation failure. */
int rt_eye_sclera_mask(const rt_image *img, const rt_eye_geometry *g, int x0, int y0, int w, int h,
                       float *dst, size_t stride);

/* The visible iris (refined disc of radius_scale x the iris radius, inside
 * the eye opening), 0..1 with a one-pixel edge, into dst as above. */
int rt_eye_iris_mask(const rt_eye_geometry *g, float radius_scale, int x0, int y0, int w, int h,
                     float *dst, size_t stride);

/* The pupil's radius in pixels: where the radial luminance profile of the
 * visible iris (catchlights left out) climbs half way from its darkest
 * (the pupil) to the iris' own level; 0.15-0.65 of the iris radius. */
float rt_eye_pupil_radius(const rt_image *img, const rt_eye_geometry *g);

/* The sclera of both open eyes of a face: its lit level (the 90th
 * percentile of Y: the shaded part under the lid says little about the
 * light) and mean Cb, Cr (roi_filters.h); returns the number of sclera pixels used (0: no open eye,
 * outputs untouched), or a negative error. */
long rt_face_sclera_colour(const rt_image *img, const rt_face *face, float *y, float *cb,
                           float *cr);

#endif
