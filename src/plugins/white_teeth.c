/* White Teeth: Whiten takes the yellow out of the teeth toward the photo's
 * own white (the sclera of the same face, under the same light), Brighten
 * lifts them in linear light, capped below clipping and below the eye
 * whites (PLUGINS.md, ALGORITHMS.md §10).  Only teeth: the mask is the
 * bright low-chroma cluster inside the mouth opening (face/mouth_regions.h),
 * so lips, gums, tongue and the dark interior keep their colour.
 *
 * Per face, on the mouth's own small rectangle:
 *   Whiten w:   Cb toward the sclera's Cb minus a small warm margin (teeth
 *               a touch warmer than the eye whites look natural), 0.9 w of
 *               the way; Cr above the sclera's (pinkish teeth) as far, or the
 *               yellow leaves a pink cast; Cb never bluer than -0.015.
 *   Brighten b: gain 1 + 0.25 b on linear RGB (gaps between the teeth stay
 *               as dark relative to the teeth), capped so the mean tooth
 *               stays under 95 % of the lit sclera's luminance (teeth
 *               brighter than the eye whites look like veneers; when they
 *               already are, as with eyes in shade, a third of the lift
 *               is kept) and no channel passes 0.97 (linear).
 * The layer is the edited colour with the teeth mask as alpha.
 *
 * Visibility: the mask is multiplied by the face's lips-and-mouth
 * visibility (face/visibility.h), so fingers or knuckles over the mouth,
 * which the colour tests alone can take for teeth in warm light, are left
 * alone.
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "face/analysis.h"
#include "face/eye_regions.h"
#include "face/mouth_regions.h"
#include "face/roi_filters.h"

#include <math.h>
#include <stdlib.h>

#define WHITEN_MAX 0.9f
#define BRIGHTEN_MAX 0.25f
/* Teeth stay this much yellower (Cb lower) than the eye whites. */
#define WARM_MARGIN 0.012f
#define WARMEST_CB (-0.015f)
/* Without open eyes: a neutral white, slightly warm. */
#define DEFAULT_CB (-0.01f)
#define DEFAULT_CR 0.01f
#define CLIP_LINEAR 0.97f
#define SCLERA_CAP 0.95f
#define MIN_LIFT_SHARE 0.35f
#define MOUTH_PAD_MM (RT_MOUTH_SLACK_MM + 0.3f)

typedef struct mouth_job {
    int face;
    rt_roi roi;
} mouth_job;

static int treat_mouth(const rt_image *img, const rt_face_analysis *a, int f, rt_roi r,
                       float whiten, float brighten, rt_image *layer, int lx, int ly, int *treated)
{
    const rt_face *face = &a->faces[f];
    const size_t n = (size_t)r.w * r.h;
    float *buf = malloc(7 * n * sizeof *buf);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory for a mouth");
    float *T = buf, *Y = buf + n, *Cb = buf + 2 * n, *Cr = buf + 3 * n, *R = buf + 4 * n,
          *G = buf + 5 * n, *B = buf + 6 * n;
    int err = rt_mouth_teeth_mask(img, face, r.x0, r.y0, r.w, r.h, T, (size_t)r.w);
    if (!err && a->vis && a->vis[f].lips)
        rt_face_visibility_apply(&a->vis[f], a->vis[f].lips, r.x0, r.y0, r.w, r.h, T, (size_t)r.w);
    double area = 0;
    for (size_t i = 0; i < n && !err; i++)
        area += T[i];
    if (err || area <= 0) {
        free(buf);
        return err;
    }
    float ys = 0, cbs = DEFAULT_CB, crs = DEFAULT_CR;
    long have = rt_face_sclera_colour(img, face, &ys, &cbs, &crs);
    if (have < 0) {
        free(buf);
        return (int)have;
    }
    rt_roi_ycc(img, r.x0, r.y0, r.w, r.h, Y, Cb, Cr);
    /* never bluer than a slightly warm white: an eye white in cool shade
     * would otherwise turn the teeth lavender */
    const float cb_target = fminf(cbs - WARM_MARGIN, WARMEST_CB), cr_target = crs + 0.01f;
    const float kw = WHITEN_MAX * whiten;
    /* whiten, and measure the teeth's mean linear luminance for the cap */
    double sum_y = 0, sum_w = 0;
    for (size_t i = 0; i < n; i++) {
        float cb = Cb[i] + kw * fmaxf(0.0f, cb_target - Cb[i]);
        float cr = Cr[i] - kw * fmaxf(0.0f, Cr[i] - cr_target);
        rt_ycc_to_rgb(Y[i], cb, cr, &R[i], &G[i], &B[i]);
        R[i] = rt_srgb_to_linear(R[i]);
        G[i] = rt_srgb_to_linear(G[i]);
        B[i] = rt_srgb_to_linear(B[i]);
        sum_y += T[i] * rt_luminance(R[i], G[i], B[i]);
        sum_w += T[i];
    }
    float gain = 1.0f + BRIGHTEN_MAX * brighten;
    if (have > 0) {
        /* the eye whites' luminance, linear, from their mean luma: the
         * cap needs the level, not a per-pixel value */
        float ys_lin = rt_srgb_to_linear(ys);
        float yt_lin = (float)(sum_y / sum_w);
        /* teeth already as bright as the lit white (eyes in shade) still
         * get a gentle lift */
        float floor = 1.0f + MIN_LIFT_SHARE * (gain - 1.0f);
        if (yt_lin > 0) gain = fminf(gain, fmaxf(floor, SCLERA_CAP * ys_lin / yt_lin));
    }
    for (size_t i = 0; i < n; i++) {
        float m = fmaxf(R[i], fmaxf(G[i], B[i]));
        float g = gain;
        if (m * g > CLIP_LINEAR) g = fmaxf(1.0f, CLIP_LINEAR / fmaxf(m, 1e-6f));
        R[i] = rt_linear_to_srgb(R[i] * g);
        G[i] = rt_linear_to_srgb(G[i] * g);
        B[i] = rt_linear_to_srgb(B[i] * g);
    }
    rt_roi_layer_put(layer, lx, ly, r, R, G, B, T);
    (*treated)++;
    free(buf);
    return 0;
}

static int white_teeth_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    const float whiten = (float)rt_task_number(ctx->task, "Alpha1");
    const float brighten = (float)rt_task_number(ctx->task, "Alpha2");
    if (!(whiten > 0.0f) && !(brighten > 0.0f)) return 0;
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found: teeth unchanged");
        return 0;
    }
    const rt_image *img = ctx->image;
    mouth_job *jobs = malloc((size_t)a->nfaces * sizeof *jobs);
    rt_roi *rois = malloc((size_t)a->nfaces * sizeof *rois);
    if (!jobs || !rois) {
        free(jobs);
        free(rois);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    int n = 0;
    for (int f = 0; f < a->nfaces; f++) {
        rt_roi *r = &jobs[n].roi;
        if (rt_mouth_bounds(&a->faces[f], MOUTH_PAD_MM, img->width, img->height, &r->x0, &r->y0,
                            &r->w, &r->h)) {
            jobs[n].face = f;
            rois[n] = *r;
            n++;
        }
    }
    rt_image *layer = NULL;
    int treated = 0;
    if (n > 0) {
        rt_roi u = rt_roi_union(rois, n);
        err = rt_image_create(u.w, u.h, 4, &layer);
        for (int i = 0; i < n && !err; i++)
            err = treat_mouth(img, a, jobs[i].face, jobs[i].roi, whiten, brighten, layer, u.x0,
                              u.y0, &treated);
        out->x = u.x0;
        out->y = u.y0;
    }
    free(jobs);
    free(rois);
    if (err || treated == 0) {
        rt_image_destroy(layer);
        if (!err)
            rt_plugin_warn(ctx, "no teeth showing (mouth closed or covered): teeth unchanged");
        return err;
    }
    out->layer = layer;
    return 0;
}

const rt_plugin rt_plugin_white_teeth = {
    .name = "White Teeth",
    .needs = RT_NEEDS_FACES,
    .run = white_teeth_run,
};
