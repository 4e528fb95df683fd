/* FaceMesh: 468 landmarks of a face from a 192x192 crop rotated upright.
 *
 * The crop follows MediaPipe's face landmark graph: a square around the face
 * (1.5 times the detector box, or 1.5 times the landmarks' extent when a
 * previous mesh exists), rotated so the eye line is horizontal.  The
 * analysis runs the mesh twice per face: once from the detection, then from
 * the first mesh's own extent, which centres and scales the crop the way
 * the model was trained on and steadies the points.  The second run
 * averages the crop's points with those of its mirror image (through the
 * mesh's left/right pairs, face/topology.h): less noise, and a mirrored
 * photo gives the mirrored mesh.
 */
#ifndef RT_FACE_MESH_H
#define RT_FACE_MESH_H

#include "face/detect.h"
#include "face/face.h"
#include "face/pyramid.h"
#include "nn/nn.h"

/* A rotated square of the running image. */
typedef struct rt_face_roi {
    double cx, cy; /* centre */
    double size;   /* edge length, pixels */
    double angle;  /* radians, counter-clockwise as displayed: the face's roll */
} rt_face_roi;

/* The extent of points [0, n) in the frame rotated by angle (the face's
 * upright frame): centre in image pixels, width and height along the
 * rotated axes. */
typedef struct rt_face_extent {
    double cx, cy, w, h;
} rt_face_extent;
rt_face_extent rt_face_points_extent(const float (*pts)[3], int n, double angle);

rt_face_roi rt_face_roi_from_detection(const rt_face_detection *d);
/* The square around points [0, n): their extent's long edge times scale. */
rt_face_roi rt_face_roi_from_points(const float (*pts)[3], int n, double angle, double scale);

/* Roll of the eye line from the subject's right eye to the left eye. */
double rt_face_roll(rt_point2 right_eye, rt_point2 left_eye);

/* Runs FaceMesh on roi: face->mesh[0..467] in running-image pixels (z scaled
 * like x) and face->mesh_score; mirror_average also runs the mirrored crop
 * and averages (twice the time; the first of the two passes, which only
 * places the second's crop, does without). */
int rt_face_mesh_run(nn_model *facemesh, const rt_face_pyramid *pyr, const rt_face_roi *roi,
                     int mirror_average, rt_face *face);

#endif
