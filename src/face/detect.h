/* Face detection: every face in the image, with a box, six keypoints and a
 * confidence, in running-image pixels.
 *
 * Two MediaPipe detectors share the work (see README.md "Detection"):
 * BlazeFace (256x256, "back" model) looks at the whole image for large and
 * mid-size faces; the full-range detector (192x192) looks at overlapping
 * tiles of the analysis image for small faces (group photos).  Candidates of
 * all views are merged by weighted non-maximum suppression.
 *
 * Ownership: rt_face_detect() returns a malloc'd array the caller frees.
 */
#ifndef RT_FACE_DETECT_H
#define RT_FACE_DETECT_H

#include "face/geometry.h"
#include "face/models.h"
#include "face/pyramid.h"

/* Detector keypoints, subject-relative like MediaPipe's: the subject's right
 * eye is on the image left in an unmirrored photo. */
enum {
    RT_KP_RIGHT_EYE,
    RT_KP_LEFT_EYE,
    RT_KP_NOSE_TIP,
    RT_KP_MOUTH,
    RT_KP_RIGHT_EAR,
    RT_KP_LEFT_EAR,
    RT_KP_COUNT
};

typedef struct rt_face_detection {
    float score;          /* sigmoid of the detector logit, in (0, 1) */
    float x1, y1, x2, y2; /* box, running-image pixels */
    rt_point2 kp[RT_KP_COUNT];
    float weight; /* internal: summed scores of the merged candidates */
} rt_face_detection;

typedef enum rt_face_detector { RT_DETECTOR_BLAZEFACE, RT_DETECTOR_FULL_RANGE } rt_face_detector;

/* Faces whose box is at least min_face pixels (running image) wide and whose
 * score is at least min_score; *out is malloc'd (NULL when none). */
int rt_face_detect(rt_face_models *m, const rt_face_pyramid *pyr, float min_score,
                   rt_face_detection **out, int *count);

/* One detector run on the square view of side `side` whose top-left corner
 * is (x0, y0) in running-image pixels (parts outside the image are black);
 * appends candidates scoring at least min_score to *list (grown with
 * realloc; *n and *cap updated).  Raw candidates, before suppression. */
int rt_face_detect_view(nn_model *model, rt_face_detector kind, const rt_face_pyramid *pyr,
                        double x0, double y0, double side, float min_score,
                        rt_face_detection **list, int *n, int *cap);

/* Weighted non-maximum suppression in place: overlapping candidates merge
 * into their best-scoring one (box and keypoints averaged by score, score
 * the maximum).  Returns the new count. */
int rt_face_detections_merge(rt_face_detection *d, int n, float iou_threshold);

#endif
