#include "face/attributes.h"

#include "core/error.h"
#include "face/mesh.h"

#include <stdlib.h>

/* The mesh's extent times this on each axis: a little tighter than the
 * human library's 1.5, which on the known-age and known-gender test faces
 * gave the same ages and less certain genders (README.md "Age and
 * gender"). */
#define CROP_SCALE 1.25

float rt_face_age_from_bins(const float p[100])
{
    double sum = 0, mass = 0;
    for (int i = 0; i < 100; i++) {
        sum += i * (double)p[i];
        mass += p[i];
    }
    return mass > 0 ? (float)(sum / mass) : 0.0f;
}

int rt_face_attributes_run(nn_model *faceres, const rt_face_pyramid *pyr, rt_face *face)
{
    const nn_tensor_info *in = nn_model_input(faceres, 0);
    const int w = in->shape[2], h = in->shape[1];
    int oi_age = nn_model_output_index(faceres, "age_pred/Softmax");
    int oi_gender = nn_model_output_index(faceres, "gender_pred/Sigmoid");
    if (oi_age < 0 || oi_gender < 0 || nn_model_output(faceres, oi_age)->size != 100 ||
        nn_model_output_count(faceres) > 3)
        return rt_error(RT_ERR_MODEL, "faceres: unexpected outputs");
    float *input = malloc(in->size * sizeof *input);
    if (!input) return rt_error(RT_ERR_NOMEM, "out of memory");
    rt_face_extent e =
        rt_face_points_extent((const float(*)[3])face->mesh, RT_MESH_BASE_POINTS, face->roll);
    rt_affine to_image =
        rt_affine_rect_crop(e.cx, e.cy, e.w * CROP_SCALE, e.h * CROP_SCALE, face->roll, w, h);
    /* the face and its mirror image, averaged: the model's answers jump
     * between neighbouring crops, and this makes them the same for a
     * mirrored photo */
    float age[100] = {0}, gender = 0;
    for (int mirror = 0; mirror < 2; mirror++) {
        if (mirror) {
            to_image.m[2] += w * to_image.m[0];
            to_image.m[5] += w * to_image.m[3];
            to_image.m[0] = -to_image.m[0];
            to_image.m[3] = -to_image.m[3];
        }
        rt_face_sample_crop(pyr, &to_image, w, h, 255.0f, 0.0f, input);
        float a[100], g = 0.5f;
        float *outs[3] = {NULL, NULL, NULL};
        outs[oi_age] = a;
        outs[oi_gender] = &g;
        int err = nn_model_run(faceres, (const float *const[]){input}, outs);
        if (err) {
            free(input);
            return err;
        }
        for (int i = 0; i < 100; i++)
            age[i] += 0.5f * a[i];
        gender += 0.5f * g;
    }
    free(input);
    face->age = rt_face_age_from_bins(age);
    face->male_prob = gender;
    return 0;
}
