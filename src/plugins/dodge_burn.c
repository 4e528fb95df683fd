/* Dodge Burn: evens local luminance on skin (bumps, hollows, uneven
 * patches, under-eye darkness) at the 1-10 mm scale without touching pore
 * texture or the face's large-scale shape (PLUGINS.md "Dodge Burn",
 * ALGORITHMS.md §12).
 *
 * Per face, on the skin ROI downscaled to about 3 px/mm: l = log of linear
 * luminance; mid band M = skin-masked blur at 0.8 mm minus the same at
 * 10 mm (texture below, form above are left out); log gain -0.6 * Blend * M
 * (at most 0.8 of the band; above Blend 1 the band widens instead, to
 * 0.8-12.5 mm at 2), faded in over ~2.5 mm inside the skin's edge (no step
 * where skin meets hair, no bright rim along the brows), applied in linear
 * light at full resolution in one fused pass (filters/gain_map.h) as a
 * soft-light layer whose alpha is the skin weight.  Warmth tints what is dodged: R up
 * and B down by exp(+-0.3 * Warmth * log gain), renormalised to the same
 * luminance, so Warmth changes only the hue of the dodge.
 * First version: Gaussian (not edge-aware) bands, so structural shading in
 * the band (nose sides, folds) is evened as much as blotches: the nose
 * looks flatter at Blend 2.
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "face/analysis.h"
#include "face/skin.h"
#include "filters/bands.h"
#include "filters/blur.h"
#include "filters/gain_map.h"

#include <math.h>
#include <stdlib.h>

#define TARGET_PX_PER_MM 3.0f
#define FINE_SIGMA_MM 0.8f
#define FORM_SIGMA_MM 10.0f
#define SHRINK_PER_BLEND 0.6f
#define MAX_SHRINK 0.8f
#define WIDEN_PER_BLEND 0.25f
#define MAX_LOG_GAIN 0.5f
#define WARMTH_COUPLING 0.3f
#define EDGE_FADE_MM 1.5f /* the gain is 1 at the skin's edge, in full ~2.5 mm inside */
/* Near-white hot spots are not burned, nor the skin within ~HOT_REACH_MM of
 * them: soft light cannot darken the spot itself, so burning its ring
 * leaves a contrasty, speckled highlight (seen on the 15 cm selfie's nose
 * tip).  Hot: linear luminance from the larger of HOT_LO and HOT_REL x the
 * skin's median up to HOT_SPAN above that (a pale, brightly lit face is not
 * all hot spot).  Shine is Mattifier's. */
#define HOT_LO 0.55f
#define HOT_REL 1.3f
#define HOT_SPAN 0.2f
#define HOT_REACH_MM 1.5f

static int gain_field(const rt_gain_map *m, float *const lin[3], const float *wl, float px_per_mm,
                      float shrink, float widen, float warmth)
{
    size_t n = (size_t)m->mw * m->mh;
    float *buf = rt_alloc_floats(4 * n);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory for Dodge Burn");
    float *ell = buf, *mid = buf + n, *fade = buf + 2 * n, *hot = buf + 3 * n;
    /* the skin's median luminance, from a histogram over the skin weight */
    double hist[256] = {0}, total = 0;
    for (size_t i = 0; i < n; i++) {
        float y = rt_luminance(lin[0][i], lin[1][i], lin[2][i]);
        ell[i] = logf(y + 1e-3f);
        hot[i] = y;
        int b = (int)(y * 255.0f);
        b = b < 0 ? 0 : (b > 255 ? 255 : b);
        hist[b] += wl[i];
        total += wl[i];
    }
    int mb = 0;
    for (double acc = 0; mb < 255 && (acc += hist[mb]) < 0.5 * total; mb++)
        ;
    float lo = fmaxf(HOT_LO, HOT_REL * ((float)mb + 0.5f) / 255.0f);
    for (size_t i = 0; i < n; i++) {
        float t = (hot[i] - lo) / HOT_SPAN;
        t = t < 0 ? 0 : (t > 1 ? 1 : t);
        hot[i] = t * t * (3 - 2 * t);
    }
    int err = rt_gaussian_blur_plane(hot, m->mw, m->mh,
                                     rt_band_sigma_px(HOT_REACH_MM, px_per_mm, m->factor));
    if (!err)
        err = rt_band_between(ell, wl, m->mw, m->mh,
                              rt_band_sigma_px(FINE_SIGMA_MM, px_per_mm, m->factor),
                              rt_band_sigma_px(FORM_SIGMA_MM * widen, px_per_mm, m->factor), mid);
    if (!err)
        err = rt_band_interior(wl, m->mw, m->mh,
                               rt_band_sigma_px(EDGE_FADE_MM, px_per_mm, m->factor), fade);
    if (!err)
        for (size_t i = 0; i < n; i++) {
            float g = -shrink * fade[i] * mid[i];
            if (g < 0.0f) {
                float guard = 2.0f * hot[i];
                g *= guard > 1.0f ? 0.0f : 1.0f - guard;
            }
            g = g < -MAX_LOG_GAIN ? -MAX_LOG_GAIN : (g > MAX_LOG_GAIN ? MAX_LOG_GAIN : g);
            m->lum[i] = expf(g);
            if (m->chroma[0]) {
                float warm = g > 0.0f ? WARMTH_COUPLING * warmth * g : 0.0f;
                m->chroma[0][i] = expf(warm);
                m->chroma[2][i] = expf(-warm);
            }
        }
    rt_free(buf);
    return err;
}

static int dodge_face(rt_plugin_ctx *ctx, const rt_face *f, int face, const int roi[4],
                      float shrink, float widen, float warmth, rt_image *layer, int lx, int ly)
{
    const int x0 = roi[0], y0 = roi[1], w = roi[2], h = roi[3];
    float *weight = rt_alloc_floats((size_t)w * h);
    if (!weight) return rt_error(RT_ERR_NOMEM, "out of memory for Dodge Burn");
    rt_gain_map *m = NULL;
    float *low = NULL;
    int err = rt_plugin_skin_weight(ctx, face, x0, y0, w, h, weight, (size_t)w);
    int factor = rt_gain_map_factor(f->px_per_mm, TARGET_PX_PER_MM);
    if (!err) err = rt_gain_map_create(x0, y0, w, h, factor, 1, warmth > 0.0f, &m);
    if (!err) {
        low = rt_alloc_floats(4 * (size_t)m->mw * m->mh);
        if (!low) err = rt_error(RT_ERR_NOMEM, "out of memory for Dodge Burn");
    }
    if (!err) {
        size_t n = (size_t)m->mw * m->mh;
        float *lin[3] = {low, low + n, low + 2 * n}, *wl = low + 3 * n;
        err = rt_gain_map_downscale_linear(m, ctx->image, lin);
        rt_gain_map_downscale_plane(m, weight, (size_t)w, wl);
        if (!err) err = gain_field(m, lin, wl, f->px_per_mm, shrink, widen, warmth);
    }
    if (!err) err = rt_gain_map_apply_soft_light(m, ctx->image, weight, (size_t)w, layer, lx, ly);
    rt_free(low);
    rt_gain_map_destroy(m);
    rt_free(weight);
    return err;
}

static int dodge_burn_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double blend = rt_task_number(ctx->task, "Alpha1");
    double warmth = rt_task_number(ctx->task, "Alpha2");
    if (blend == 0) return 0;
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found; skin luminance left as it is");
        return 0;
    }
    /* the layer covers every face's skin */
    int(*roi)[4] = calloc((size_t)a->nfaces, sizeof *roi);
    if (!roi) return rt_error(RT_ERR_NOMEM, "out of memory for Dodge Burn");
    int ux0 = ctx->image->width, uy0 = ctx->image->height, ux1 = 0, uy1 = 0;
    for (int i = 0; i < a->nfaces; i++) {
        int *r = roi[i];
        if (!rt_face_skin_bounds(a, i, &r[0], &r[1], &r[2], &r[3])) {
            r[2] = 0;
            continue;
        }
        ux0 = r[0] < ux0 ? r[0] : ux0;
        uy0 = r[1] < uy0 ? r[1] : uy0;
        ux1 = r[0] + r[2] > ux1 ? r[0] + r[2] : ux1;
        uy1 = r[1] + r[3] > uy1 ? r[1] + r[3] : uy1;
    }
    rt_image *layer = NULL;
    if (ux1 > ux0 && uy1 > uy0) err = rt_soft_light_layer_create(ux1 - ux0, uy1 - uy0, &layer);
    double shrink = SHRINK_PER_BLEND * blend;
    if (shrink > MAX_SHRINK) shrink = MAX_SHRINK;
    /* above 1 the band widens rather than over-inverting (ALGORITHMS.md §12) */
    double widen = blend > 1 ? 1 + WIDEN_PER_BLEND * (blend - 1) : 1;
    for (int i = 0; i < a->nfaces && layer && !err; i++) {
        if (roi[i][2] > 0)
            err = dodge_face(ctx, &a->faces[i], i, roi[i], (float)shrink, (float)widen,
                             (float)warmth, layer, ux0, uy0);
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

const rt_plugin rt_plugin_dodge_burn = {
    .name = "Dodge Burn",
    .needs = RT_NEEDS_FACES,
    .run = dodge_burn_run,
};
