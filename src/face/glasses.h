/* Glasses probability of a face, from the frame's edges (no model: the
 * human-models set has no glasses classifier).
 *
 * Eyeglass frames draw a thin, roughly horizontal line where a bare face
 * has none: the bridge across the nose between the inner eye corners.  The
 * face is resampled upright with a fixed inter-pupil distance; in the
 * bridge zone every column's strongest thin horizontal line (darker or
 * brighter than both neighbours across it, minus the same along it) is
 * taken, and the evidence is the median of those column maxima over the
 * zone's texture level, so a line running through the whole zone counts and
 * pores, freckles, stubble or the nose's shading do not.  Thick plastic,
 * browline and rimless frames show little of that, so lines round the eyes
 * count too: the rims below and beside the nose (rt_face_glasses_score).
 * README.md "Glasses" gives the calibration and its validation (15
 * glasses photos, 68 bare faces).
 */
#ifndef RT_FACE_GLASSES_H
#define RT_FACE_GLASSES_H

#include "face/face.h"
#include "core/image.h"
#include "face/pyramid.h"

typedef struct rt_glasses_evidence {
    float bridge;       /* line evidence on the nose bridge */
    float rim[2];       /* rim evidence round each eye (RT_EYE_RIGHT, RT_EYE_LEFT) */
    float sector[2][4]; /* median rim line strength per eye: lateral, lower, nasal, upper */
    float iod_px;       /* inter-pupil distance the evidence was measured at */
} rt_glasses_evidence;

/* One lens: the region inside the rim, star-shaped round the pupil.  Ray k
 * leaves the pupil at angle 2 pi k / RT_LENS_RAYS in the face's upright frame
 * (u along the eye line towards the subject's left eye, v down the face). */
#define RT_LENS_RAYS 48
typedef struct rt_glasses_lens {
    rt_point2 pupil;            /* image pixels */
    float radius[RT_LENS_RAYS]; /* image pixels from the pupil to the rim's inside */
    float rim[RT_LENS_RAYS];    /* the rim line's strength on that ray (0: none found) */
} rt_glasses_lens;

typedef struct rt_glasses_lenses {
    rt_glasses_lens lens[2]; /* RT_EYE_RIGHT, RT_EYE_LEFT */
    float roll;              /* the face's roll (radians) */
    float iod_px;            /* inter-pupil distance, image pixels */
} rt_glasses_lenses;

void rt_face_glasses_evidence(const rt_face_pyramid *pyr, const rt_face *face,
                              rt_glasses_evidence *ev);
/* The lens regions of a face wearing glasses, found on the image itself
 * (level 0, a 240 x 168 upright crop of the eye band): along 48 rays from
 * each pupil, the strongest thin line between the eye opening and the
 * brow / nose midline, median-filtered over 7 neighbouring rays, never
 * inside the eye opening.  A first
 * version: rimless lenses get the rays' best guess (often the lens edge's
 * faint line, otherwise a lid or brow line).  Fails without irises. */
int rt_face_glasses_lenses(const rt_image *image, const rt_face *face, rt_glasses_lenses *out);
/* Weight in [0,1] of image point (x, y) in a lens: 1 inside, a smoothstep
 * over the last `feather` pixels before the rim. */
float rt_glasses_lens_weight(const rt_glasses_lens *lens, float roll, float x, float y,
                             float feather);
/* The combined evidence the probability is a logistic of: the bridge line
 * plus the lower and nasal rim lines beyond what bare faces show. */
float rt_face_glasses_score(const rt_glasses_evidence *ev);
/* The probability from the evidence (a logistic of it). */
float rt_face_glasses_probability(const rt_glasses_evidence *ev);
/* Sets face->glasses; needs the mesh, irises and roll. */
int rt_face_glasses_run(const rt_face_pyramid *pyr, rt_face *face);

#endif
