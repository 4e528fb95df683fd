/* The teeth of an open mouth, refined against the image (ALGORITHMS.md
 * §1.7, §10).
 *
 * The inner-lip polygon of the mesh is model precision and lags wide
 * smiles; inside it (grown a little, so teeth the landmarks cut off are
 * found) the teeth are the bright, low-chroma cluster: gums, tongue and
 * lips are redder, the mouth interior and the gaps between teeth darker.
 * The cluster's own colour is taken from the brightest part of the
 * opening; a pixel is teeth by how close it is to that in lightness and
 * redness, with absolute guards (bright enough, low chroma) so a hand or
 * an object in front of the mouth is not taken for teeth.  A small
 * morphological opening drops isolated specks (lip gloss highlights).
 * Measured against hand-drawn outlines: mean boundary distance 0.55-0.64
 * mm (tests/data/annotations).  Known misses: the yellower, gum-tinted
 * edge of a tooth at the gum line stays partly out.
 * First version: no braces/metal model, no visibility (occluder) map.
 */
#ifndef RT_FACE_MOUTH_REGIONS_H
#define RT_FACE_MOUTH_REGIONS_H

#include "core/image.h"
#include "face/face.h"

#include <stddef.h>

/* How far outside the inner-lip outline teeth are looked for; rectangles
 * for rt_mouth_teeth_mask need this much padding. */
#define RT_MOUTH_SLACK_MM 2.5f

/* Mouth opening height / mouth width (0 closed). */
float rt_mouth_openness(const rt_face *face);

/* The rectangle around the inner-lip outline grown by pad_mm, clipped to
 * the image; 0 when empty or when the mouth is closed. */
int rt_mouth_bounds(const rt_face *face, float pad_mm, int width, int height, int *x0, int *y0,
                    int *w, int *h);

/* The teeth, 0..1, into dst for the rectangle (x0, y0, w, h) (inside the
 * image, row stride `stride`); every value is written (all 0 when no teeth
 * show).  RT_ERR_NOMEM on allocation failure. */
int rt_mouth_teeth_mask(const rt_image *img, const rt_face *face, int x0, int y0, int w, int h,
                        float *dst, size_t stride);

#endif
