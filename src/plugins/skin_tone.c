/* Skin Tone: evens skin colour (redness, blotches, uneven tan, casts on
 * parts of the face) toward the person's own regional skin tone, keeping
 * the face's large-scale colour variation and every pixel's luminance
 * (PLUGINS.md "Skin Tone", ALGORITHMS.md §13).
 *
 * Per face, on the skin ROI downscaled to about 2 px/mm:
 *   chromaticity u = log(R/G), v = log(B/G) in linear light (shading, a
 *   common factor, drops out); local colour U1 = skin-masked blur at 1 mm
 *   (blotch scale), regional colour U2 = the same at 12 mm (cheeks stay a
 *   little redder than the forehead); correction (U2 - U1) * 0.45 * Blend,
 *   each term clamped at 0.25 (about 25 % in R/G) and faded in over ~2.5 mm
 *   inside the skin's edge (no colour step where skin meets hair or the
 *   mesh's forehead line), as per-channel gains
 *   renormalised per pixel to keep luminance exactly.  Applied in one fused
 *   pass at full resolution (filters/gain_map.h) as a soft-light layer
 *   whose alpha is the skin weight (rt_plugin_skin_weight).
 * First version: CIE-free log-chromaticity, no melanin/haemoglobin
 * separation (freckles lose some colour contrast with blotches; their
 * luminance is kept).
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "face/analysis.h"
#include "face/skin.h"
#include "filters/bands.h"
#include "filters/gain_map.h"

#include <math.h>
#include <stdlib.h>

#define TARGET_PX_PER_MM 2.0f
#define LOCAL_SIGMA_MM 1.0f
#define REGIONAL_SIGMA_MM 12.0f
#define FRACTION_PER_BLEND 0.45f
#define MAX_SHIFT 0.25f   /* log-chromaticity */
#define EDGE_FADE_MM 1.5f /* no shift at the skin's edge, in full ~2.5 mm inside */

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Fills the map's chroma gains from the downscaled ROI. */
static int chroma_field(const rt_gain_map *m, float *const lin[3], const float *wl, float px_per_mm,
                        float amount)
{
    size_t n = (size_t)m->mw * m->mh;
    float *buf = rt_alloc_floats(10 * n);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory for Skin Tone");
    float *wd = buf, *ell = buf + n, *lband = buf + 2 * n, *band[2] = {buf + 3 * n, buf + 4 * n};
    float *plane[2] = {buf + 5 * n, buf + 6 * n}, *reg = buf + 7 * n, *cover = buf + 8 * n;
    float *fade = buf + 9 * n;
    for (size_t i = 0; i < n; i++) {
        float r = lin[0][i], g = lin[1][i], b = lin[2][i];
        /* clipped or black samples carry no colour */
        int ok = g > 0.004f && r < 0.98f && g < 0.98f && b < 0.98f;
        wd[i] = ok ? wl[i] : 0.0f;
        plane[0][i] = logf((r + 1e-4f) / (g + 1e-4f));
        plane[1][i] = logf((b + 1e-4f) / (g + 1e-4f));
        ell[i] = logf(rt_luminance(r, g, b) + 1e-4f);
    }
    float s_loc = rt_band_sigma_px(LOCAL_SIGMA_MM, px_per_mm, m->factor);
    float s_reg = rt_band_sigma_px(REGIONAL_SIGMA_MM, px_per_mm, m->factor);
    int err = rt_band_between(ell, wd, m->mw, m->mh, s_loc, s_reg, lband);
    if (!err)
        err = rt_band_interior(wl, m->mw, m->mh,
                               rt_band_sigma_px(EDGE_FADE_MM, px_per_mm, m->factor), fade);
    for (int k = 0; k < 2 && !err; k++) {
        err = rt_band_masked_blur(plane[k], wd, m->mw, m->mh, s_loc, band[k], cover);
        if (!err) err = rt_band_masked_blur(plane[k], wd, m->mw, m->mh, s_reg, reg, NULL);
        if (err) break;
        for (size_t i = 0; i < n; i++)
            band[k][i] -= reg[i];
    }
    if (err) {
        rt_free(buf);
        return err;
    }
    /* Skin is legitimately redder and more saturated where it is shaded
     * (nose sides, eye sockets): the part of the colour band that follows
     * the luminance band (one slope per face, least squares over skin) is
     * shading and stays; the rest is blotches and is evened. */
    double slope[2] = {0, 0}, sll = 0;
    for (size_t i = 0; i < n; i++)
        sll += (double)wd[i] * lband[i] * lband[i];
    for (int k = 0; k < 2; k++) {
        double sxl = 0;
        for (size_t i = 0; i < n; i++)
            sxl += (double)wd[i] * band[k][i] * lband[i];
        slope[k] = sll > 0 ? sxl / sll : 0;
        slope[k] = slope[k] < -1 ? -1 : (slope[k] > 1 ? 1 : slope[k]);
    }
    for (int k = 0; k < 2; k++) {
        float *gain = m->chroma[k == 0 ? 0 : 2];
        for (size_t i = 0; i < n; i++) {
            /* no skin nearby: nothing to move toward */
            float d =
                cover[i] >= RT_BAND_MIN_WEIGHT ? (float)slope[k] * lband[i] - band[k][i] : 0.0f;
            gain[i] = expf(amount * fade[i] * clampf(d, -MAX_SHIFT, MAX_SHIFT));
        }
    }
    rt_free(buf);
    return 0;
}

static int tone_face(rt_plugin_ctx *ctx, const rt_face *f, int face, const int roi[4], float amount,
                     rt_image *layer, int lx, int ly)
{
    const int x0 = roi[0], y0 = roi[1], w = roi[2], h = roi[3];
    float *weight = rt_alloc_floats((size_t)w * h);
    if (!weight) return rt_error(RT_ERR_NOMEM, "out of memory for Skin Tone");
    rt_gain_map *m = NULL;
    float *low = NULL;
    int err = rt_plugin_skin_weight(ctx, face, x0, y0, w, h, weight, (size_t)w);
    int factor = rt_gain_map_factor(f->px_per_mm, TARGET_PX_PER_MM);
    if (!err) err = rt_gain_map_create(x0, y0, w, h, factor, 0, 1, &m);
    if (!err) {
        size_t n = (size_t)m->mw * m->mh;
        low = rt_alloc_floats(4 * n);
        if (!low) err = rt_error(RT_ERR_NOMEM, "out of memory for Skin Tone");
    }
    if (!err) {
        size_t n = (size_t)m->mw * m->mh;
        float *lin[3] = {low, low + n, low + 2 * n}, *wl = low + 3 * n;
        err = rt_gain_map_downscale_linear(m, ctx->image, lin);
        rt_gain_map_downscale_plane(m, weight, (size_t)w, wl);
        if (!err) err = chroma_field(m, lin, wl, f->px_per_mm, amount);
    }
    if (!err) err = rt_gain_map_apply_soft_light(m, ctx->image, weight, (size_t)w, layer, lx, ly);
    rt_free(low);
    rt_gain_map_destroy(m);
    rt_free(weight);
    return err;
}

static int skin_tone_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double blend = rt_task_number(ctx->task, "Alpha1");
    if (blend == 0) return 0;
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found; skin tone left as it is");
        return 0;
    }
    /* the layer covers every face's skin */
    int(*roi)[4] = calloc((size_t)a->nfaces, sizeof *roi);
    if (!roi) return rt_error(RT_ERR_NOMEM, "out of memory for Skin Tone");
    int ux0 = ctx->image->width, uy0 = ctx->image->height, ux1 = 0, uy1 = 0;
    for (int i = 0; i < a->nfaces; i++) {
        if (!rt_face_skin_bounds(a, i, &roi[i][0], &roi[i][1], &roi[i][2], &roi[i][3])) {
            roi[i][2] = 0;
            continue;
        }
        if (roi[i][0] < ux0) ux0 = roi[i][0];
        if (roi[i][1] < uy0) uy0 = roi[i][1];
        if (roi[i][0] + roi[i][2] > ux1) ux1 = roi[i][0] + roi[i][2];
        if (roi[i][1] + roi[i][3] > uy1) uy1 = roi[i][1] + roi[i][3];
    }
    rt_image *layer = NULL;
    if (ux1 > ux0 && uy1 > uy0) err = rt_soft_light_layer_create(ux1 - ux0, uy1 - uy0, &layer);
    float amount = (float)(FRACTION_PER_BLEND * blend);
    for (int i = 0; i < a->nfaces && layer && !err; i++) {
        if (roi[i][2] > 0) err = tone_face(ctx, &a->faces[i], i, roi[i], amount, layer, ux0, uy0);
        rt_plugin_progress(ctx, (i + 1.0) / a->nfaces);
    }
    free(roi);
    if (err) {
        rt_image_destroy(layer);
        return err;
    }
    out->layer = layer;
    out->x = ux0;
    out->y = uy0;
    return 0;
}

const rt_plugin rt_plugin_skin_tone = {
    .name = "Skin Tone",
    .needs = RT_NEEDS_FACES,
    .run = skin_tone_run,
};
