#include "face/mesh.h"

#include "core/error.h"
#include "face/topology.h"

#include <math.h>
#include <stdlib.h>

/* MediaPipe's face landmark ROI: 1.5 times the face, square. */
#define ROI_SCALE 1.5

double rt_face_roll(rt_point2 right_eye, rt_point2 left_eye)
{
    /* upright: the left eye is straight right of the right eye (image x) */
    return atan2(-(double)(left_eye.y - right_eye.y), (double)(left_eye.x - right_eye.x));
}

rt_face_roi rt_face_roi_from_detection(const rt_face_detection *d)
{
    rt_face_roi r;
    r.cx = (d->x1 + d->x2) / 2.0;
    r.cy = (d->y1 + d->y2) / 2.0;
    double w = d->x2 - d->x1, h = d->y2 - d->y1;
    r.size = (w > h ? w : h) * ROI_SCALE;
    r.angle = rt_face_roll(d->kp[RT_KP_RIGHT_EYE], d->kp[RT_KP_LEFT_EYE]);
    return r;
}

rt_face_extent rt_face_points_extent(const float (*pts)[3], int n, double angle)
{
    /* rotating by -angle (clockwise as displayed) undoes a counter-clockwise
     * roll; with y down that is u = x cos a - y sin a, v = x sin a + y cos a */
    double c = cos(angle), s = sin(angle);
    double umin = INFINITY, umax = -INFINITY, vmin = INFINITY, vmax = -INFINITY;
    for (int i = 0; i < n; i++) {
        double u = pts[i][0] * c - pts[i][1] * s, v = pts[i][0] * s + pts[i][1] * c;
        umin = fmin(umin, u);
        umax = fmax(umax, u);
        vmin = fmin(vmin, v);
        vmax = fmax(vmax, v);
    }
    double uc = (umin + umax) / 2, vc = (vmin + vmax) / 2;
    rt_face_extent e = {uc * c + vc * s, -uc * s + vc * c, umax - umin, vmax - vmin};
    return e;
}

rt_face_roi rt_face_roi_from_points(const float (*pts)[3], int n, double angle, double scale)
{
    rt_face_extent e = rt_face_points_extent(pts, n, angle);
    rt_face_roi r = {e.cx, e.cy, fmax(e.w, e.h) * scale, angle};
    return r;
}

int rt_face_mesh_run(nn_model *facemesh, const rt_face_pyramid *pyr, const rt_face_roi *roi,
                     int mirror_average, rt_face *face)
{
    const nn_tensor_info *in = nn_model_input(facemesh, 0);
    const int side = in->shape[1];
    int oi_score = nn_model_output_index(facemesh, "Identity_1");
    int oi_mesh = nn_model_output_index(facemesh, "Identity_2");
    if (oi_score < 0 || oi_mesh < 0 || nn_model_output(facemesh, oi_mesh)->size != 468 * 3)
        return rt_error(RT_ERR_MODEL, "facemesh: unexpected outputs");
    float *input = malloc(in->size * sizeof *input);
    float *mesh = malloc(468 * 3 * sizeof *mesh);
    if (!input || !mesh) {
        free(input);
        free(mesh);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    /* the crop and its mirror image, averaged point by point with each
     * point's mirror partner: FaceMesh's errors are partly one-sided, and
     * the average is the same for a mirrored photo */
    double zscale = roi->size / side;
    float score_sum = 0;
    int err = 0;
    const int runs = mirror_average ? 2 : 1;
    for (int mirror = 0; mirror < runs && !err; mirror++) {
        rt_affine to_image = rt_affine_square_crop(roi->cx, roi->cy, roi->size, roi->angle, side);
        if (mirror) {
            to_image.m[2] += side * to_image.m[0];
            to_image.m[5] += side * to_image.m[3];
            to_image.m[0] = -to_image.m[0];
            to_image.m[3] = -to_image.m[3];
        }
        rt_face_sample_crop(pyr, &to_image, side, side, 1.0f, 0.0f, input); /* RGB in [0, 1] */
        float score = 0;
        float *outs[3] = {NULL, NULL, NULL};
        outs[oi_score] = &score;
        outs[oi_mesh] = mesh;
        err = nn_model_run(facemesh, (const float *const[]){input}, outs);
        if (err) break;
        score_sum += score;
        for (int j = 0; j < 468; j++) {
            int i = mirror ? rt_mesh_mirror[j] : j;
            rt_point2 p = rt_affine_apply(&to_image, mesh[3 * j], mesh[3 * j + 1]);
            float z = (float)(mesh[3 * j + 2] * zscale);
            if (!mirror) {
                face->mesh[i][0] = p.x;
                face->mesh[i][1] = p.y;
                face->mesh[i][2] = z;
            } else {
                face->mesh[i][0] = (face->mesh[i][0] + p.x) / 2;
                face->mesh[i][1] = (face->mesh[i][1] + p.y) / 2;
                face->mesh[i][2] = (face->mesh[i][2] + z) / 2;
            }
        }
    }
    face->mesh_score = score_sum / (float)runs;
    free(input);
    free(mesh);
    return err;
}
