/* Camera roll from the people in the photo (ALGORITHMS.md §18): cues for
 * Crop's AI straightening, each an angle (the rotation that levels the
 * photo, counter-clockwise positive, as in filters/tilt.h) and a confidence.
 *
 * - torso axis: the midline of the main person's mask (centres of the
 *   mask's row runs from the neck down), which people hold plumb when they
 *   stand or sit up;
 * - shoulder line: the mean slope of the left and right shoulder contours
 *   of the mask (each shoulder slopes, their mean is level);
 * - faces of a group: the median eye-line roll of three or more faces, where
 *   single head tilts (expression) average out.
 * The head of a single person is never a cue: its tilt is expression.
 * First version: no pose model; the torso and shoulders come from the
 * person mask only, so long hair on the shoulders or arms held away from
 * the body lower the confidence rather than being understood.
 */
#ifndef RT_FACE_BODY_TILT_H
#define RT_FACE_BODY_TILT_H

#include "face/analysis.h"
#include "filters/tilt.h"

/* Fills cues[RT_CUE_TORSO], cues[RT_CUE_SHOULDERS] and cues[RT_CUE_FACES]
 * (confidence 0 when a cue is not seen). */
void rt_body_tilt_cues(const rt_face_analysis *a, rt_tilt_cue cues[RT_CUE_COUNT]);

/* AI straightening of img: the scene lines off the person (the analysis'
 * person mask), the body cues, fused.  a may be NULL (lines only). */
int rt_straighten_ai(const rt_image *img, const rt_face_analysis *a, rt_tilt_cue cues[RT_CUE_COUNT],
                     rt_tilt_fusion *fused);

#endif
