/* Face Detection: reports every face in result.json (API.md "result.json",
 * the FACE object of spec/task-format-original.txt); changes no pixel.
 *
 * metadata: {"faces": [FACE, ...]}, largest box first, where FACE is
 *   confidence        detector score, (0, 1)
 *   faceAge           years
 *   faceGenderFemale, faceGenderMale
 *                     logits of the two genders (one is minus the other):
 *                     log(p / (1 - p)) of FaceRes' male probability p
 *   faceGlasses       probability of eyeglasses (face/glasses.h)
 *   landmarks         10 points {x, y} normalised to the image, see
 *                     face/landmarks.h (0/3/6 on the image left)
 *   x1, y1, x2, y2    the face box normalised to the image
 *   occluders         beyond the original API: what was found covering the
 *                     face, names from glasses, beard, moustache, hair,
 *                     hand, object (face/visibility.h); [] when nothing
 * Coordinates are clamped to [0, 1] (a face cut by the frame keeps its
 * points on the edge).  No face: an empty list and a warning.
 */
#include "plugins/plugin.h"

#include "face/analysis.h"
#include "face/landmarks.h"

#include <math.h>

/* Keeps logits finite for the surest answers. */
#define PROB_EPS 1e-6

static double clamp01(double v)
{
    return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
}

static json_t *occluders_json(const rt_face_visibility *v)
{
    json_t *list = json_array();
    for (int k = 0; v && k < RT_OCCLUDER_COUNT; k++)
        if (v->occluders & (1u << k)) json_array_append_new(list, json_string(rt_occluder_name(k)));
    return list;
}

static json_t *face_json(const rt_face *f, const rt_face_visibility *v, int width, int height)
{
    double p = f->male_prob;
    p = p < PROB_EPS ? PROB_EPS : (p > 1.0 - PROB_EPS ? 1.0 - PROB_EPS : p);
    double logit = log(p / (1.0 - p));
    rt_point2 lm[RT_API_LANDMARKS];
    rt_face_api_landmarks(f, lm);
    json_t *points = json_array();
    for (int i = 0; i < RT_API_LANDMARKS; i++)
        json_array_append_new(points, json_pack("{s:f,s:f}", "x", clamp01(lm[i].x / width), "y",
                                                clamp01(lm[i].y / height)));
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:o,s:f,s:f,s:f,s:f,s:o}", "confidence",
                     (double)f->score, "faceAge", (double)f->age, "faceGenderFemale", -logit,
                     "faceGenderMale", logit, "faceGlasses", (double)f->glasses, "landmarks",
                     points, "x1", clamp01(f->x1 / width), "y1", clamp01(f->y1 / height), "x2",
                     clamp01(f->x2 / width), "y2", clamp01(f->y2 / height), "occluders",
                     occluders_json(v));
}

static int face_detection_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    json_t *faces = json_array();
    for (int i = 0; i < a->nfaces; i++)
        json_array_append_new(
            faces, face_json(&a->faces[i], a->vis ? &a->vis[i] : NULL, a->width, a->height));
    if (a->nfaces == 0) rt_plugin_warn(ctx, "no face found");
    out->metadata = json_pack("{s:o}", "faces", faces);
    return 0;
}

const rt_plugin rt_plugin_face_detection = {
    .name = "Face Detection",
    .needs = RT_NEEDS_FACES,
    .run = face_detection_run,
};
