/* What the face analysis knows about one face, in running-image pixels.
 *
 * Plugins get these from rt_plugin_face_analysis() (plugins/plugin.h), which
 * returns the job's rt_face_analysis (face/analysis.h).  Everything is in the
 * continuous coordinates of face/geometry.h: pixel (i, j) covers
 * [i, i+1) x [j, j+1).
 *
 * Left and right are the subject's, as in MediaPipe: the subject's right eye
 * (RT_EYE_RIGHT, FaceMesh points 33/133, iris 468-472) is on the image left
 * in an unmirrored photo of a person facing the camera.
 */
#ifndef RT_FACE_FACE_H
#define RT_FACE_FACE_H

#include "face/geometry.h"

/* FaceMesh's 468 points plus MediaPipe's 10 refined iris points: 468 right
 * iris centre, 469-472 its ring; 473 left iris centre, 474-477 its ring. */
#define RT_MESH_POINTS 478
#define RT_MESH_BASE_POINTS 468
#define RT_IRIS_MODEL_POINTS 76 /* 71 eye contour and brow points, then the 5 iris points */

/* Mean human iris diameter (ALGORITHMS.md §1.1): the face's ruler. */
#define RT_IRIS_DIAMETER_MM 11.7f

enum { RT_EYE_RIGHT = 0, RT_EYE_LEFT = 1 };

typedef struct rt_face_eye {
    rt_point2 iris_center; /* centre of the iris (pupil) */
    float iris_radius;     /* pixels */
    /* The Iris model's 71 eye contour and brow points, in its own order
     * (0-8 lower lid outer to inner corner, 9-15 upper lid, ...). */
    rt_point2 contour[71];
    int refined; /* 1 when the Iris model ran and its eye points replaced the mesh's */
} rt_face_eye;

typedef struct rt_face {
    /* Detection */
    float score;            /* detector confidence, (0, 1) */
    float x1, y1, x2, y2;   /* face box: the mesh's extent, forehead to chin */
    rt_point2 keypoints[6]; /* detector keypoints (face/detect.h order) */

    /* Geometry */
    float mesh_score;              /* FaceMesh face probability */
    float mesh[RT_MESH_POINTS][3]; /* x, y, z; z is relative depth in pixels, smaller = nearer */
    float roll;                    /* eye-line angle, radians, counter-clockwise as displayed */
    rt_face_eye eye[2];            /* RT_EYE_RIGHT, RT_EYE_LEFT */
    float px_per_mm;               /* face scale from the irises (fallbacks: README.md) */

    /* Attributes */
    float age;       /* years (FaceRes) */
    float male_prob; /* FaceRes gender output, > 0.5 male */
    float glasses;   /* probability that the face wears glasses (face/glasses.c) */
} rt_face;

/* A length on the face in millimetres, in pixels of the running image (the
 * PLUGINS.md rule: radii and thresholds in physical units). */
static inline float rt_face_mm(const rt_face *f, float mm)
{
    return mm * f->px_per_mm;
}

static inline rt_point2 rt_face_point(const rt_face *f, int index)
{
    rt_point2 p = {f->mesh[index][0], f->mesh[index][1]};
    return p;
}

#endif
