/* MediaPipe Iris: eye contour, brow and iris points of each eye from a 64x64
 * crop, and the face scale derived from the iris.
 *
 * The eye crop is MediaPipe's: a square 2.3 times the corner-to-corner
 * distance, centred between the corners, rotated with the face.  The model
 * sees every eye as a subject's right eye: the left eye's crop is mirrored
 * (and its points mirrored back).
 */
#ifndef RT_FACE_IRIS_H
#define RT_FACE_IRIS_H

#include "face/face.h"
#include "face/pyramid.h"
#include "nn/nn.h"

/* Runs the model on one eye crop: out[i] = point i (RT_IRIS_MODEL_POINTS) in
 * running-image pixels, z scaled like x. */
int rt_face_iris_eye(nn_model *iris, const rt_face_pyramid *pyr, rt_point2 outer_corner,
                     rt_point2 inner_corner, double angle, int mirror,
                     float out[RT_IRIS_MODEL_POINTS][3]);

/* Both eyes of a face whose mesh[0..467] and roll are set: fills face->eye,
 * mesh[468..477], refines the mesh's eye contours with the Iris model's, and
 * sets face->px_per_mm. */
int rt_face_iris_run(nn_model *iris, const rt_face_pyramid *pyr, rt_face *face);

/* Face scale from the irises (ALGORITHMS.md §1.1), with the fallbacks of
 * README.md when the iris sizes are implausible. */
float rt_face_px_per_mm(const rt_face *face);

#endif
