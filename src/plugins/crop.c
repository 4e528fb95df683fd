/* Crop: straighten (Manual angle, AI from scene lines, Person from the
 * subject) and crop to an aspect ratio (PLUGINS.md, ALGORITHMS.md §18).
 *
 * Layer 1 only reports the angle and crop in result.json; Layer 0 rotates
 * and crops in one bicubic resampling (a pure crop copies pixels).  The crop
 * never shows an empty corner: it is always inside the rotated image.
 *
 * result.json metadata: {"angle", "predictedAngle", "confidence", "applied",
 * "mode", "cues", "agreeingCues", "crop": {"x","y","width","height","reason"}}.
 * `angle` is the rotation the engine stands behind (0 when it abstains, also
 * on Layer 1 where nothing is applied); `predictedAngle` is its best guess
 * whatever the confidence; `cues` gives each AI cue's angle and confidence.
 * The crop is given in input pixels before rotation: rotate the input by
 * `angle` about the crop's centre (x + width/2, y + height/2), then cut the
 * rectangle.  Unless the user placed it, a crop that cuts something away is
 * composed around the faces (crop_compose.h); crop.reason says how it was
 * placed.
 */
#include "plugins/plugin.h"

#include "core/error.h"
#include "filters/crop_compose.h"
#include "filters/crop_geometry.h"
#include "filters/tilt.h"
#include "face/analysis.h"
#include "face/body_tilt.h"

#include <math.h>
#include <stdio.h>

enum { MODE_MANUAL, MODE_AI, MODE_PERSON };

/* AI and Person straightening act only on a confident estimate in this range:
 * smaller tilts are noise, larger ones are deliberate (Dutch angle). */
#define AI_MIN_CONFIDENCE 0.3
#define AI_MIN_DEG 0.15
#define AI_MAX_DEG 16.0

static double requested_aspect(const rt_task *t, int w, int h)
{
    const rt_field_value *v = rt_task_value(t, "User Params/AspectRatio");
    switch ((int)v->num) {
    case RT_ASPECT_FREE:
        return rt_task_number(t, "User Params/ManualAspectRatio");
    case RT_ASPECT_SQUARE:
        return 1.0;
    case RT_ASPECT_CUSTOM:
        return rt_task_number(t, "User Params/CustomAspectX") /
               rt_task_number(t, "User Params/CustomAspectY");
    case RT_ASPECT_RATIO:
        return v->ratio;
    default:
        return (double)w / h;
    }
}

/* Person mode: straighten the subject: the eye line and the face's vertical
 * axis (eyes to chin) of the largest face, which must agree.  People tilt
 * their heads on purpose, so this is only used when asked for. */
static int person_tilt(const rt_face_analysis *a, double *angle, double *confidence)
{
    if (!a || a->nfaces == 0) return -1;
    const rt_face *f = &a->faces[0];
    double eye_line = -f->roll * 180.0 / M_PI; /* rotation that levels the eyes */
    rt_point2 r = f->eye[RT_EYE_RIGHT].iris_center, l = f->eye[RT_EYE_LEFT].iris_center;
    rt_point2 chin = rt_face_point(f, 152);
    double mx = 0.5 * (r.x + l.x), my = 0.5 * (r.y + l.y);
    /* the downward axis turned counter-clockwise by phi points to (sin phi, cos phi) */
    double axis = -atan2(chin.x - mx, chin.y - my) * 180.0 / M_PI;
    *angle = 0.5 * (eye_line + axis);
    /* agreement of the two cues and the detector's certainty */
    double spread = fabs(eye_line - axis);
    *confidence = f->score * (spread < 1.0 ? 1.0 : (spread > 6.0 ? 0.0 : (6.0 - spread) / 5.0));
    return 0;
}

/* Where the crop sits: where the user put it (ManualCenterX/Y), else, when
 * it cuts something away, composed around the faces (crop_compose.h);
 * the reason goes to result.json.  faces: the analysis already made, or
 * NULL to make it here. */
static int place_crop(rt_plugin_ctx *ctx, rt_crop_request *req, rt_rotate_crop *rc,
                      const rt_face_analysis *faces, char *reason, size_t size)
{
    const rt_task *t = ctx->task;
    if (rt_task_value(t, "User Params/ManualCenterX")->given ||
        rt_task_value(t, "User Params/ManualCenterY")->given) {
        snprintf(reason, size, "manual centre");
        return 0;
    }
    /* the largest crop of the photo's own shape: nothing cut away to place */
    if (rc->out_w >= req->width - 1 && rc->out_h >= req->height - 1) {
        snprintf(reason, size, "whole image");
        return 0;
    }
    if (!faces && rt_plugin_face_analysis(ctx, &faces) != 0) {
        if (rt_error_code() == RT_ERR_NOMEM) return RT_ERR_NOMEM;
        rt_plugin_warn(ctx, "face analysis unavailable (%s); crop centred", rt_error_message());
        faces = NULL;
    }
    rt_crop_composition comp;
    rt_crop_compose(faces, req, rc->out_w, rc->out_h, &comp);
    snprintf(reason, size, "%s", comp.reason);
    req->center_x = comp.center_x;
    req->center_y = comp.center_y;
    rt_crop_geometry(req, rc);
    return 0;
}

static int crop_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    const rt_task *t = ctx->task;
    const rt_image *im = ctx->image;
    int mode = rt_task_choice(t, "User Params/AutoStraightenMode");
    double angle = 0.0, confidence = 1.0;
    int applied = 1, have_cues = 0;
    rt_tilt_cue cues[RT_CUE_COUNT] = {{0, 0}};
    unsigned agreeing = 0;
    const char *mode_name = mode == MODE_MANUAL ? "Manual" : mode == MODE_AI ? "AI" : "Person";

    const rt_face_analysis *faces = NULL;
    if (mode != MODE_MANUAL && rt_plugin_face_analysis(ctx, &faces) != 0) {
        /* the scene lines still work without the person mask */
        rt_plugin_warn(ctx, "face analysis unavailable (%s); straightening from all lines",
                       rt_error_message());
        faces = NULL;
    }
    if (mode == MODE_PERSON) {
        if (person_tilt(faces, &angle, &confidence) != 0) {
            rt_plugin_warn(ctx, "no face found for Person straightening; used scene lines (AI)");
            mode = MODE_AI;
        }
    }
    if (mode == MODE_MANUAL) {
        angle = rt_task_number(t, "User Params/Angle");
    } else if (mode == MODE_AI) {
        /* every cue in the frame: scene lines off the person, the body's
         * torso axis and shoulder line, the faces of a group */
        rt_tilt_fusion fused;
        int err = rt_straighten_ai(im, faces, cues, &fused);
        if (err) return err;
        angle = fused.angle_deg;
        confidence = fused.confidence;
        agreeing = fused.agreeing;
        have_cues = 1;
    }
    if (mode != MODE_MANUAL) {
        if (confidence < AI_MIN_CONFIDENCE || fabs(angle) > AI_MAX_DEG ||
            fabs(angle) < AI_MIN_DEG) {
            applied = 0;
            if (fabs(angle) >= AI_MIN_DEG)
                rt_plugin_warn(ctx, "predicted tilt %.2f degrees (confidence %.2f) not applied: %s",
                               angle, confidence,
                               fabs(angle) > AI_MAX_DEG ? "too large to be an accident"
                                                        : "too few cues agree");
        }
    }
    double applied_angle = applied ? angle : 0.0;
    rt_plugin_progress(ctx, 0.5);

    rt_crop_request req = {.width = im->width,
                           .height = im->height,
                           .angle_deg = applied_angle,
                           .aspect = requested_aspect(t, im->width, im->height),
                           .area = rt_task_number(t, "User Params/ManualArea"),
                           .center_x = rt_task_number(t, "User Params/ManualCenterX"),
                           .center_y = rt_task_number(t, "User Params/ManualCenterY")};
    rt_rotate_crop rc;
    rt_crop_geometry(&req, &rc);
    char reason[200];
    int err = place_crop(ctx, &req, &rc, mode == MODE_MANUAL ? NULL : faces, reason, sizeof reason);
    if (err) return err;

    json_t *crop =
        json_pack("{s:f,s:f,s:i,s:i,s:s}", "x", rc.cx - rc.out_w / 2.0, "y", rc.cy - rc.out_h / 2.0,
                  "width", rc.out_w, "height", rc.out_h, "reason", reason);
    out->metadata = json_pack("{s:f,s:f,s:f,s:b,s:s,s:o}", "angle", applied_angle, "predictedAngle",
                              angle, "confidence", confidence, "applied", applied && !t->layer,
                              "mode", mode_name, "crop", crop);
    if (have_cues && out->metadata) {
        json_t *cj = json_object(), *agree = json_array();
        for (int c = 0; c < RT_CUE_COUNT; c++) {
            if (cues[c].confidence <= 0) continue;
            json_object_set_new(cj, rt_tilt_cue_names[c],
                                json_pack("{s:f,s:f}", "angle", cues[c].angle_deg, "confidence",
                                          cues[c].confidence));
            if (agreeing & (1u << c))
                json_array_append_new(agree, json_string(rt_tilt_cue_names[c]));
        }
        json_object_set_new(out->metadata, "cues", cj);
        json_object_set_new(out->metadata, "agreeingCues", agree);
    }
    if (t->layer) return 0; /* Layer 1: metadata only */

    int identity = fabs(applied_angle) < 1e-9 && rc.out_w == im->width && rc.out_h == im->height;
    if (identity) return 0;
    return rt_rotate_crop_image(im, ctx->alpha, &rc, &out->replace,
                                ctx->alpha ? &out->replace_alpha : NULL);
}

const rt_plugin rt_plugin_crop = {
    .name = "Crop",
    .needs = RT_NEEDS_NOTHING,
    .run = crop_run,
};
