/* The 10 landmarks of the API's FACE object (API.md "result.json"), from
 * the mesh, in running-image pixels:
 *   0, 1  the face's edge on the eye line (0 on the subject's right, the
 *         image left when the face is upright and the photo unmirrored)
 *   2     nose tip
 *   3, 4  eye centres (iris centres; 3 = subject's right)
 *   5     upper-lip centre (middle of the upper lip's red)
 *   6, 7  mouth corners (6 = subject's right)
 *   8     chin
 *   9     forehead centre, between the brows (the bindi point)
 * A horizontally mirrored image gives the same points mirrored with 0/1,
 * 3/4 and 6/7 swapped: FaceMesh names the eye on the image left "right"
 * whatever the photo.
 */
#ifndef RT_FACE_LANDMARKS_H
#define RT_FACE_LANDMARKS_H

#include "face/face.h"

#define RT_API_LANDMARKS 10

void rt_face_api_landmarks(const rt_face *face, rt_point2 out[RT_API_LANDMARKS]);

#endif
