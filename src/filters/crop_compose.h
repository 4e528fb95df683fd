/* Aspect crops composed around the people (ALGORITHMS.md §18.2, "auto-
 * composition"): where a crop of a given size sits in the photo so that
 * every face, and the head with its hair, is kept whole, the eye line and
 * the headroom are sensible, and no crop edge runs through a face.
 *
 * First version: heads are estimated from the face box (forehead to chin)
 * and the person mask; the crop's size is not changed, only its place; a
 * rotated crop is placed from the unrotated face positions (good for the
 * small straightening angles Crop applies).
 */
#ifndef RT_FILTERS_CROP_COMPOSE_H
#define RT_FILTERS_CROP_COMPOSE_H

#include "face/analysis.h"
#include "filters/crop_geometry.h"

#include <stddef.h>

/* The head with its hair, in image pixels, from a face and the person mask
 * (which may be NULL): box = {x0, y0, x1, y1}. */
void rt_crop_head_box(const rt_face *f, const rt_person_mask *person, float box[4]);

/* Headroom (crop top to the top of the hair) the composition aims for, in
 * face heights (forehead to chin): at least a little air, at most about a
 * face, so a small standing figure is not lost under a sky of wall. */
#define RT_CROP_HEADROOM_MIN 0.15
#define RT_CROP_HEADROOM_MAX 1.0

typedef struct rt_crop_composition {
    double center_x, center_y; /* for rt_crop_request: [0, 1] in the feasible range */
    int faces;                 /* faces in the photo */
    int kept;                  /* faces whole inside the crop */
    char reason[160];          /* what decided the place, for result.json */
} rt_crop_composition;

/* Places a crop of out_w x out_h (the size rt_crop_geometry gave for req)
 * around the faces of fa (may be NULL: centred).  Always succeeds. */
void rt_crop_compose(const rt_face_analysis *fa, const rt_crop_request *req, int out_w, int out_h,
                     rt_crop_composition *out);

#endif
