#include "face/analysis.h"

#include "core/error.h"
#include "face/attributes.h"
#include "face/detect.h"
#include "face/glasses.h"
#include "face/iris.h"
#include "face/mesh.h"
#include "face/pyramid.h"
#include "face/topology.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Two meshes of one face (from a detection and from a partial-face
 * detection next to it) overlapping more than this are the same face. */
#define SAME_FACE_IOU 0.5f

/* The face box: the extent of the mesh (forehead top to chin, cheek to
 * cheek; a turned face's nose where it sticks out). */
static void face_box(rt_face *f)
{
    f->x1 = f->y1 = INFINITY;
    f->x2 = f->y2 = -INFINITY;
    for (int i = 0; i < RT_MESH_BASE_POINTS; i++) {
        const float *p = f->mesh[i];
        f->x1 = fminf(f->x1, p[0]);
        f->y1 = fminf(f->y1, p[1]);
        f->x2 = fmaxf(f->x2, p[0]);
        f->y2 = fmaxf(f->y2, p[1]);
    }
}

static float box_area(const rt_face *f)
{
    return (f->x2 - f->x1) * (f->y2 - f->y1);
}

static float box_iou(const rt_face *a, const rt_face *b)
{
    float ix = fminf(a->x2, b->x2) - fmaxf(a->x1, b->x1);
    float iy = fminf(a->y2, b->y2) - fmaxf(a->y1, b->y1);
    if (ix <= 0 || iy <= 0) return 0;
    float inter = ix * iy;
    return inter / (box_area(a) + box_area(b) - inter);
}

static int by_area(const void *pa, const void *pb)
{
    const rt_face *a = pa, *b = pb;
    float da = box_area(a), db = box_area(b);
    if (da != db) return da < db ? 1 : -1;
    return a->x1 < b->x1 ? -1 : (a->x1 > b->x1);
}

static double elapsed_ms(double *t)
{
    double now = omp_get_wtime(), ms = (now - *t) * 1e3;
    *t = now;
    return ms;
}

/* Mesh (twice), iris and scale of one detection; *ok = 0 when FaceMesh says
 * it is no face. */
static int face_geometry(rt_face_models *m, const rt_face_pyramid *pyr, const rt_face_detection *d,
                         rt_face *f, int *ok, double *mesh_ms, double *iris_ms)
{
    double t = omp_get_wtime();
    memset(f, 0, sizeof *f);
    f->score = d->score;
    memcpy(f->keypoints, d->kp, sizeof f->keypoints);
    rt_face_roi roi = rt_face_roi_from_detection(d);
    /* one run: this mesh only places the next one's crop */
    int err = rt_face_mesh_run(m->facemesh, pyr, &roi, 0, f);
    *ok = !err && f->mesh_score >= RT_FACE_MIN_MESH_SCORE;
    if (*ok) {
        /* again, mirror-averaged, on the crop the first mesh defines:
         * centred and scaled the way FaceMesh was trained */
        f->roll = rt_face_roll(rt_face_point(f, RT_MESH_RIGHT_EYE_OUTER),
                               rt_face_point(f, RT_MESH_LEFT_EYE_OUTER));
        roi =
            rt_face_roi_from_points((const float(*)[3])f->mesh, RT_MESH_BASE_POINTS, f->roll, 1.5);
        err = rt_face_mesh_run(m->facemesh, pyr, &roi, 1, f);
        *ok = !err && f->mesh_score >= RT_FACE_MIN_MESH_SCORE;
    }
    *mesh_ms += elapsed_ms(&t);
    if (!*ok) return err;
    f->roll = rt_face_roll(rt_face_point(f, RT_MESH_RIGHT_EYE_OUTER),
                           rt_face_point(f, RT_MESH_LEFT_EYE_OUTER));
    err = rt_face_iris_run(m->iris, pyr, f);
    face_box(f);
    *iris_ms += elapsed_ms(&t);
    return err;
}

int rt_face_analysis_create(const rt_image *image, rt_face_models *models,
                            void (*progress)(void *user, double fraction), void *user,
                            rt_face_analysis **out)
{
    *out = NULL;
    double t_start = omp_get_wtime(), t = t_start;
    rt_face_analysis *a = calloc(1, sizeof *a);
    if (!a) return rt_error(RT_ERR_NOMEM, "out of memory");
    a->width = image->width;
    a->height = image->height;
    rt_face_pyramid *pyr = NULL;
    rt_face_detection *det = NULL;
    int ndet = 0;
    int err = rt_face_pyramid_create(image, &pyr);
    a->ms.pyramid = elapsed_ms(&t);
    if (!err) err = rt_face_detect(models, pyr, RT_FACE_MIN_DETECTION_SCORE, &det, &ndet);
    a->ms.detect = elapsed_ms(&t);
    if (progress && !err) progress(user, 0.3);
    if (!err && ndet > 0 && !(a->faces = calloc((size_t)ndet, sizeof *a->faces)))
        err = rt_error(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < ndet && !err; i++) {
        rt_face *f = &a->faces[a->nfaces];
        int ok;
        err = face_geometry(models, pyr, &det[i], f, &ok, &a->ms.mesh, &a->ms.iris);
        if (err || !ok) continue;
        int dup = -1;
        for (int j = 0; j < a->nfaces && dup < 0; j++)
            if (box_iou(f, &a->faces[j]) > SAME_FACE_IOU) dup = j;
        if (dup < 0)
            a->nfaces++;
        else if (f->score > a->faces[dup].score)
            a->faces[dup] = *f;
    }
    t = omp_get_wtime();
    if (progress && !err) progress(user, 0.6);
    for (int i = 0; i < a->nfaces && !err; i++)
        err = rt_face_attributes_run(models->faceres, pyr, &a->faces[i]);
    a->ms.attributes = elapsed_ms(&t);
    for (int i = 0; i < a->nfaces && !err; i++)
        err = rt_face_glasses_run(pyr, &a->faces[i]);
    a->ms.glasses = elapsed_ms(&t);
    if (progress && !err) progress(user, 0.8);
    if (!err) err = rt_person_mask_create(models->selfie, pyr, &a->person);
    a->ms.person_mask = elapsed_ms(&t);
    if (!err && a->nfaces > 1) qsort(a->faces, (size_t)a->nfaces, sizeof *a->faces, by_area);
    if (!err && a->nfaces > 0 && !(a->vis = calloc((size_t)a->nfaces, sizeof *a->vis)))
        err = rt_error(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < a->nfaces && !err; i++)
        err = rt_face_visibility_compute(pyr, a->person, &a->faces[i], &a->vis[i]);
    a->ms.visibility = elapsed_ms(&t);
    free(det);
    rt_face_pyramid_destroy(pyr);
    if (err) {
        rt_face_analysis_destroy(a);
        return err;
    }
    a->ms.total = (omp_get_wtime() - t_start) * 1e3;
    if (progress) progress(user, 1.0);
    *out = a;
    return 0;
}

void rt_face_analysis_destroy(rt_face_analysis *a)
{
    if (!a) return;
    if (a->vis)
        for (int i = 0; i < a->nfaces; i++)
            rt_face_visibility_clear(&a->vis[i]);
    free(a->vis);
    free(a->faces);
    rt_person_mask_destroy(a->person);
    free(a);
}
