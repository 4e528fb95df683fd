/* The face analysis of one image: every face (detection, 478-point mesh,
 * iris, scale, age, gender, glasses) and the person mask, computed once per
 * job on the running image ("analyse small, apply large": models see small
 * crops from an image pyramid; results are in running-image pixels).
 *
 * Plugins reach it through rt_plugin_face_analysis() (plugins/plugin.h);
 * the job owns it and drops it when a geometry task replaces the image.
 *
 * Ownership: rt_face_analysis_create() returns an analysis owned by the
 * caller (rt_face_analysis_destroy()); it keeps no reference to the image or
 * the models.
 */
#ifndef RT_FACE_ANALYSIS_H
#define RT_FACE_ANALYSIS_H

#include "core/image.h"
#include "face/face.h"
#include "face/models.h"
#include "face/person_mask.h"
#include "face/visibility.h"

/* Wall-clock milliseconds of each stage, for benchmarks and logs. */
typedef struct rt_face_timings {
    double pyramid, detect, mesh, iris, attributes, glasses, person_mask, visibility, total;
} rt_face_timings;

typedef struct rt_face_analysis {
    int width, height; /* of the image it was computed on */
    int nfaces;
    rt_face *faces; /* largest box first */
    rt_person_mask *person;
    rt_face_visibility *vis; /* nfaces entries: what covers each face (face/visibility.h) */
    rt_face_timings ms;
} rt_face_analysis;

/* Analyses an RGB image (planes 0-2).  progress, when not NULL, is called
 * with fractions in [0, 1] as stages finish. */
int rt_face_analysis_create(const rt_image *image, rt_face_models *models,
                            void (*progress)(void *user, double fraction), void *user,
                            rt_face_analysis **out);
void rt_face_analysis_destroy(rt_face_analysis *a);

/* Detector score below which a candidate is not considered, and FaceMesh
 * probability below which a detection is not a face. */
#define RT_FACE_MIN_DETECTION_SCORE 0.5f
#define RT_FACE_MIN_MESH_SCORE 0.5f

#endif
