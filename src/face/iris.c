#include "face/iris.h"

#include "core/error.h"
#include "face/topology.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* MediaPipe's eye crop: 2.3 times the corner-to-corner distance. */
#define EYE_CROP_SCALE 2.3
/* Beyond this difference of the outer corners' depth (in units of the
 * inter-corner distance) the head is turned and the far eye's iris-model
 * contour drifts from the mesh: only the near eye's lids are replaced (the
 * human library's rule, there 30 of 192 crop pixels). */
#define TURNED_DEPTH_RATIO 0.25
/* Mean adult inter-pupillary distance, the fallback ruler. */
#define IPD_MM 63.0f

int rt_face_iris_eye(nn_model *iris, const rt_face_pyramid *pyr, rt_point2 outer_corner,
                     rt_point2 inner_corner, double angle, int mirror,
                     float out[RT_IRIS_MODEL_POINTS][3])
{
    const nn_tensor_info *in = nn_model_input(iris, 0);
    const int side = in->shape[1];
    if (nn_model_output(iris, 0)->size != RT_IRIS_MODEL_POINTS * 3)
        return rt_error(RT_ERR_MODEL, "iris: unexpected output size");
    float *input = malloc(in->size * sizeof *input);
    float raw[RT_IRIS_MODEL_POINTS * 3];
    if (!input) return rt_error(RT_ERR_NOMEM, "out of memory");
    double cx = (outer_corner.x + inner_corner.x) / 2.0,
           cy = (outer_corner.y + inner_corner.y) / 2.0;
    double size = EYE_CROP_SCALE * rt_point_dist(outer_corner, inner_corner);
    rt_affine to_image = rt_affine_square_crop(cx, cy, size, angle, side);
    if (mirror) {
        /* crop (u, v) shows what the unmirrored crop shows at (side - u, v) */
        to_image.m[2] += side * to_image.m[0];
        to_image.m[5] += side * to_image.m[3];
        to_image.m[0] = -to_image.m[0];
        to_image.m[3] = -to_image.m[3];
    }
    rt_face_sample_crop(pyr, &to_image, side, side, 1.0f, 0.0f, input);
    int err = nn_model_run(iris, (const float *const[]){input}, (float *const[]){raw});
    free(input);
    if (err) return err;
    double zscale = size / side;
    for (int i = 0; i < RT_IRIS_MODEL_POINTS; i++) {
        rt_point2 p = rt_affine_apply(&to_image, raw[3 * i], raw[3 * i + 1]);
        out[i][0] = p.x;
        out[i][1] = p.y;
        out[i][2] = (float)(raw[3 * i + 2] * zscale);
    }
    return 0;
}

/* Iris centre and ring points of the model output: 71, then 72-75. */
static float iris_diameter(const float pts[RT_IRIS_MODEL_POINTS][3])
{
    /* the larger of the two ring extents: a turned eye foreshortens one axis */
    float h = hypotf(pts[72][0] - pts[74][0], pts[72][1] - pts[74][1]);
    float v = hypotf(pts[73][0] - pts[75][0], pts[73][1] - pts[75][1]);
    return fmaxf(h, v);
}

int rt_face_iris_run(nn_model *iris, const rt_face_pyramid *pyr, rt_face *face)
{
    static const int outer[2] = {RT_MESH_RIGHT_EYE_OUTER, RT_MESH_LEFT_EYE_OUTER};
    static const int inner[2] = {RT_MESH_RIGHT_EYE_INNER, RT_MESH_LEFT_EYE_INNER};
    static const int centre[2] = {RT_MESH_RIGHT_IRIS, RT_MESH_LEFT_IRIS};
    float pts[2][RT_IRIS_MODEL_POINTS][3];
    for (int e = 0; e < 2; e++) {
        int err =
            rt_face_iris_eye(iris, pyr, rt_face_point(face, outer[e]),
                             rt_face_point(face, inner[e]), face->roll, e == RT_EYE_LEFT, pts[e]);
        if (err) return err;
    }
    /* which eyes' contours replace the mesh's */
    float dz = face->mesh[outer[RT_EYE_LEFT]][2] - face->mesh[outer[RT_EYE_RIGHT]][2];
    float span = rt_point_dist(rt_face_point(face, outer[0]), rt_face_point(face, outer[1]));
    int turned = fabsf(dz) > TURNED_DEPTH_RATIO * span;
    int near_eye = dz < 0 ? RT_EYE_LEFT : RT_EYE_RIGHT; /* smaller z is nearer */
    for (int e = 0; e < 2; e++) {
        rt_face_eye *eye = &face->eye[e];
        int pairs = turned ? (e == near_eye ? RT_IRIS_LID_PAIRS : 0) : RT_IRIS_MESH_PAIRS;
        for (int k = 0; k < pairs; k++) {
            const rt_iris_mesh_pair *pr = &rt_iris_mesh_map[e][k];
            float *m = face->mesh[pr->mesh];
            m[0] = pts[e][pr->iris][0];
            m[1] = pts[e][pr->iris][1];
            m[2] = (m[2] + pts[e][pr->iris][2]) / 2; /* the human library's depth blend */
        }
        eye->refined = pairs > 0;
        for (int i = 0; i < 71; i++) {
            eye->contour[i].x = pts[e][i][0];
            eye->contour[i].y = pts[e][i][1];
        }
        /* iris depth is unreliable: take the lids' (mid upper and lower lid) */
        float z = (face->mesh[rt_iris_mesh_map[e][12].mesh][2] +
                   face->mesh[rt_iris_mesh_map[e][4].mesh][2]) /
                  2;
        for (int i = 0; i < 5; i++) {
            float *m = face->mesh[centre[e] + i];
            m[0] = pts[e][71 + i][0];
            m[1] = pts[e][71 + i][1];
            m[2] = z;
        }
        eye->iris_center.x = pts[e][71][0];
        eye->iris_center.y = pts[e][71][1];
        eye->iris_radius = iris_diameter(pts[e]) / 2;
    }
    face->px_per_mm = rt_face_px_per_mm(face);
    return 0;
}

float rt_face_px_per_mm(const rt_face *face)
{
    float d0 = 2 * face->eye[0].iris_radius, d1 = 2 * face->eye[1].iris_radius;
    /* eyes that disagree a lot: one is squinting, shut or hidden; trust the larger */
    float d = fmaxf(d0, d1) > 1.5f * fminf(d0, d1) ? fmaxf(d0, d1) : (d0 + d1) / 2;
    float ipd = rt_point_dist(face->eye[0].iris_center, face->eye[1].iris_center);
    float from_iris = d / RT_IRIS_DIAMETER_MM, from_ipd = ipd / IPD_MM;
    /* The iris ruler is the better one: the IPD varies more between people
     * and shrinks when the head turns (so pupils closer than 63 mm are no
     * reason to doubt the iris).  An iris too small for the pupils' distance
     * is a failed iris fit. */
    if (from_iris > 0 && ipd / from_iris <= 90.0f) return from_iris;
    return from_ipd;
}
