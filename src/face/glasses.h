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
 * pores, freckles, stubble or the nose's shading do not.  README.md
 * "Glasses" gives the calibration and its (limited) validation: one real
 * glasses photo.
 */
#ifndef RT_FACE_GLASSES_H
#define RT_FACE_GLASSES_H

#include "face/face.h"
#include "face/pyramid.h"

typedef struct rt_glasses_evidence {
    float bridge; /* line evidence on the nose bridge */
    float iod_px; /* inter-pupil distance the evidence was measured at */
} rt_glasses_evidence;

void rt_face_glasses_evidence(const rt_face_pyramid *pyr, const rt_face *face,
                              rt_glasses_evidence *ev);
/* The probability from the evidence (a logistic of it). */
float rt_face_glasses_probability(const rt_glasses_evidence *ev);
/* Sets face->glasses; needs the mesh, irises and roll. */
int rt_face_glasses_run(const rt_face_pyramid *pyr, rt_face *face);

#endif
