/* Age and gender of a face from HSE FaceRes (human library's "description"
 * model): a 224x224 crop of the upright face, RGB in [0, 255].
 *
 * The crop follows the human library's: the mesh's extent (in the face's
 * upright frame) enlarged on each axis and stretched to a square; the model
 * runs on it and on its mirror image and the answers are averaged.
 */
#ifndef RT_FACE_ATTRIBUTES_H
#define RT_FACE_ATTRIBUTES_H

#include "face/face.h"
#include "face/pyramid.h"
#include "nn/nn.h"

/* Sets face->age and face->male_prob; needs face->mesh and face->roll. */
int rt_face_attributes_run(nn_model *faceres, const rt_face_pyramid *pyr, rt_face *face);

/* Age from the 100 one-year bins: their expected value.  (The human
 * library's rule, the most likely bin moved towards its likelier neighbour,
 * jumps between the model's favourite bins 23, 29, 39: on the test photos
 * it moved by up to 10 years between crops a few pixels apart.) */
float rt_face_age_from_bins(const float p[100]);

#endif
