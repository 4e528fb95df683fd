/* Crop: straighten (Manual angle, AI from scene lines, Person from the
 * subject) and crop to an aspect ratio (PLUGINS.md, ALGORITHMS.md §18).
 *
 * Layer 1 only reports the angle and crop in result.json; Layer 0 rotates
 * and crops in one bicubic resampling (a pure crop copies pixels).  The crop
 * never shows an empty corner: it is always inside the rotated image.
 *
 * result.json metadata: {"angle", "confidence", "applied", "mode",
 * "crop": {"x","y","width","height"}} where the crop is given in input
 * pixels before rotation: rotate the input by `angle` about the crop's
 * centre (x + width/2, y + height/2), then cut the rectangle.
 */
#include "plugins/plugin.h"

#include "core/error.h"
#include "filters/crop_geometry.h"
#include "filters/tilt.h"

#include <math.h>

enum { MODE_MANUAL, MODE_AI, MODE_PERSON };

/* AI straightening acts only on a confident estimate inside this range:
 * smaller tilts are noise, larger ones are deliberate (Dutch angle). */
#define AI_MIN_CONFIDENCE 0.3
#define AI_MIN_DEG 0.15
#define AI_MAX_DEG 16.0

static double requested_aspect(const rt_task *t, int w, int h)
{
    const rt_field_value *v = rt_task_value(t, "User Params/AspectRatio");
    switch ((int)v->num) {
    case RT_ASPECT_FREE: return rt_task_number(t, "User Params/ManualAspectRatio");
    case RT_ASPECT_SQUARE: return 1.0;
    case RT_ASPECT_CUSTOM:
        return rt_task_number(t, "User Params/CustomAspectX") /
               rt_task_number(t, "User Params/CustomAspectY");
    case RT_ASPECT_RATIO: return v->ratio;
    default: return (double)w / h;
    }
}

static int crop_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    const rt_task *t = ctx->task;
    const rt_image *im = ctx->image;
    int mode = rt_task_choice(t, "User Params/AutoStraightenMode");
    double angle = 0.0, confidence = 1.0;
    int applied = 1;
    const char *mode_name = mode == MODE_MANUAL ? "Manual" : mode == MODE_AI ? "AI" : "Person";

    if (mode == MODE_PERSON) {
        rt_plugin_warn(ctx, "Person straightening needs face analysis, which this build does "
                            "not have yet; straightened from scene lines (AI) instead");
        mode = MODE_AI;
    }
    if (mode == MODE_MANUAL) {
        angle = rt_task_number(t, "User Params/Angle");
    } else {
        rt_tilt_estimate est;
        int err = rt_estimate_tilt(im, NULL, &est);
        if (err)
            return err;
        angle = est.angle_deg;
        confidence = est.confidence;
        if (confidence < AI_MIN_CONFIDENCE || fabs(angle) > AI_MAX_DEG ||
            fabs(angle) < AI_MIN_DEG) {
            applied = 0;
            if (fabs(angle) >= AI_MIN_DEG)
                rt_plugin_warn(ctx,
                               "predicted tilt %.2f degrees (confidence %.2f) not applied: %s",
                               angle, confidence,
                               fabs(angle) > AI_MAX_DEG ? "too large to be an accident"
                                                        : "too few straight lines agree");
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

    json_t *crop = json_pack("{s:f,s:f,s:i,s:i}", "x", rc.cx - rc.out_w / 2.0, "y",
                             rc.cy - rc.out_h / 2.0, "width", rc.out_w, "height", rc.out_h);
    out->metadata = json_pack("{s:f,s:f,s:b,s:s,s:o}", "angle", t->layer ? angle : applied_angle,
                              "confidence", confidence, "applied", applied && !t->layer, "mode",
                              mode_name, "crop", crop);
    if (t->layer)
        return 0; /* Layer 1: metadata only */

    int identity = fabs(applied_angle) < 1e-9 && rc.out_w == im->width &&
                   rc.out_h == im->height;
    if (identity)
        return 0;
    return rt_rotate_crop_image(im, ctx->alpha, &rc, &out->replace,
                                ctx->alpha ? &out->replace_alpha : NULL);
}

const rt_plugin rt_plugin_crop = {
    .name = "Crop",
    .needs = RT_NEEDS_NOTHING,
    .run = crop_run,
};
