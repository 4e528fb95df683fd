/* Skin Mask (PLUGINS.md, ALGORITHMS.md §3): a soft mask (0..1) of visible
 * skin, face, neck, ears, arms, hands and body; not hair, brows, eyes,
 * lips, teeth, clothes, glasses frames or background.  Layer mode "mask": a
 * 1-channel layer; with Layer 0 the pipeline keeps it as the skin region of
 * the later skin plugins of the job (rt_plugin_skin_weight).
 *
 * Per pixel, inside the person mask P:
 *   p_col  the likelihood under the skin colour models of the faces (the
 *          visibility analysis' models, face/visibility.h, learned from each
 *          face's own cheeks, nose and forehead): normalised chroma
 *          distance plus a weak term for being much darker (shadowed skin
 *          stays), exp(-d^2 / 2k^2) with k = 1.5 + 1.25 Sensitivity spreads
 *          (ALGORITHMS.md §3: strict at 0, 2.75 at 1, permissive at 2);
 *   S = P * p_col outside the faces; on each face's area F (its outline,
 *          forehead lifted to the hairline) the face's visible skin V decides
 *          (face/skin.h: beard, frames and hair already taken out by colour
 *          and texture): S = max(S (1 - F), V p_col^(1/4)), then times
 *          (1 - features): eyes, brows, lips, mouth and nostrils (landmark
 *          regions) and the glasses frame evidence.
 * Edges come from the per-pixel colour likelihood and the person mask,
 * which a guided filter already snapped to the image (face/person_mask.h).
 * Sensitivity only widens k, so the mask is monotone in it.
 *
 * First version: no texture term outside the face (a beard below the jaw
 * counts as skin where its colour does), no small-component cleanup.
 * No face: no mask, and a warning.
 */
#include "plugins/plugin.h"

#include "core/error.h"
#include "face/analysis.h"
#include "face/regions.h"
#include "face/skin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Colour models used: the largest faces' (a group photo's skin is close
 * enough to one of its four largest faces'). */
#define MAX_MODELS 4
/* Mahalanobis scale k = K_STRICT + K_SLOPE * Sensitivity. */
#define K_STRICT 1.5f
#define K_SLOPE 1.25f
/* Darker than this many luma spreads starts to count, at LUMA_WEIGHT. */
#define LUMA_Z 2.5f
#define LUMA_WEIGHT 0.5f
/* Feature margin (mm) and feather of the feature cut-outs. */
#define FEATURE_FEATHER_MM 0.5f

typedef struct skin_model {
    float mu[3], inv_sd[3];
} skin_model;

static inline float chroma_distance2(const skin_model *m, int nm, float r, float g, float b)
{
    float y = 0.299f * r + 0.587f * g + 0.114f * b;
    float cr = (r - y) / (y + 0.05f), cb = (b - y) / (y + 0.05f);
    float best = INFINITY;
    for (int i = 0; i < nm; i++) {
        float zl = (m[i].mu[0] - y) * m[i].inv_sd[0] - LUMA_Z;
        float zr = (cr - m[i].mu[1]) * m[i].inv_sd[1], zb = (cb - m[i].mu[2]) * m[i].inv_sd[2];
        float d2 = zr * zr + zb * zb + (zl > 0 ? LUMA_WEIGHT * zl * zl : 0.0f);
        best = d2 < best ? d2 : best;
    }
    return best;
}

/* The rectangle of the person mask's non-zero pixels. */
static int person_bounds(const rt_person_mask *p, int *x0, int *y0, int *w, int *h)
{
    int ax = p->width, ay = p->height, bx = -1, by = -1;
    for (int y = 0; y < p->height; y++) {
        const uint8_t *row = p->full + (size_t)y * p->width;
        int first = -1, last = -1;
        for (int x = 0; x < p->width; x++)
            if (row[x]) {
                if (first < 0) first = x;
                last = x;
            }
        if (first < 0) continue;
        ax = first < ax ? first : ax;
        bx = last > bx ? last : bx;
        ay = y < ay ? y : ay;
        by = y;
    }
    if (bx < 0) return 0;
    *x0 = ax;
    *y0 = ay;
    *w = bx - ax + 1;
    *h = by - ay + 1;
    return 1;
}

/* Raises S on face i's visible skin and cuts its features out, inside the
 * face's bounds. */
static int face_pass(const rt_plugin_ctx *ctx, const rt_face_analysis *a, int i, const float *pcol,
                     float *S, int X0, int Y0, int W, int H)
{
    const rt_face *f = &a->faces[i];
    int fx, fy, fw, fh;
    if (!rt_face_skin_bounds(a, i, &fx, &fy, &fw, &fh)) return 0;
    int x0 = fx > X0 ? fx : X0, y0 = fy > Y0 ? fy : Y0;
    int x1 = fx + fw < X0 + W ? fx + fw : X0 + W, y1 = fy + fh < Y0 + H ? fy + fh : Y0 + H;
    if (x1 <= x0 || y1 <= y0) return 0;
    int w = x1 - x0, h = y1 - y0;
    float *v = malloc((size_t)w * h * sizeof *v), *cut = malloc((size_t)w * h * sizeof *cut);
    if (!v || !cut) {
        free(v);
        free(cut);
        return rt_error(RT_ERR_NOMEM, "Skin Mask: out of memory");
    }
    int err = rt_face_skin_weight(a, ctx->image, i, x0, y0, w, h, v, (size_t)w);
    /* features: eyes, brows, lips, mouth, nostrils (union) */
    static const rt_face_region features[] = {RT_REGION_EYES, RT_REGION_BROWS, RT_REGION_LIPS,
                                              RT_REGION_INNER_MOUTH, RT_REGION_NOSTRILS};
    float *tmp = err ? NULL : malloc((size_t)w * h * sizeof *tmp);
    if (!err && !tmp) err = rt_error(RT_ERR_NOMEM, "Skin Mask: out of memory");
    for (size_t k = 0; k < (size_t)w * h && !err; k++)
        cut[k] = 0.0f;
    for (size_t r = 0; r < sizeof features / sizeof *features && !err; r++) {
        err = rt_face_region_mask(f, features[r], FEATURE_FEATHER_MM, x0, y0, w, h, tmp, (size_t)w);
        for (size_t k = 0; k < (size_t)w * h && !err; k++)
            cut[k] = cut[k] > tmp[k] ? cut[k] : tmp[k];
    }
    const rt_face_visibility *vis = a->vis ? &a->vis[i] : NULL;
    /* the face's own area: the visibility analysis decides there (it saw
     * the beard's texture, which the colour alone does not) */
    if (!err)
        err = rt_face_region_mask(vis ? &vis->lifted : f, RT_REGION_FACE, RT_SKIN_FEATHER_MM, x0,
                                  y0, w, h, tmp, (size_t)w);
    for (int y = 0; y < h && !err; y++)
        for (int x = 0; x < w; x++) {
            size_t k = (size_t)y * w + x, o = (size_t)(y0 - Y0 + y) * W + (x0 - X0 + x);
            float raised = v[k] * sqrtf(sqrtf(pcol[o])), body = S[o] * (1.0f - tmp[k]);
            float s = body > raised ? body : raised;
            float frame =
                vis && vis->frame ? rt_face_visibility_at(vis, vis->frame, x0 + x, y0 + y) : 0.0f;
            S[o] = s * (1.0f - cut[k]) * (1.0f - frame);
        }
    free(tmp);
    free(v);
    free(cut);
    return err;
}

static int skin_mask_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double sensitivity = rt_task_number(ctx->task, "Alpha1");
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found: no skin mask");
        return 0;
    }
    skin_model models[MAX_MODELS];
    int nm = 0;
    for (int i = 0; i < a->nfaces && nm < MAX_MODELS; i++) {
        const rt_face_visibility *v = a->vis ? &a->vis[i] : NULL;
        if (!v || !v->skin || !(v->skin_sd[0] > 0)) continue;
        for (int c = 0; c < 3; c++) {
            models[nm].mu[c] = v->skin_mean[c];
            models[nm].inv_sd[c] = 1.0f / v->skin_sd[c];
        }
        nm++;
    }
    int X0, Y0, W, H;
    if (nm == 0 || !person_bounds(a->person, &X0, &Y0, &W, &H)) {
        rt_plugin_warn(ctx, "no skin to learn from: no skin mask");
        return 0;
    }
    const float k = (float)(K_STRICT + K_SLOPE * sensitivity);
    const float inv2k2 = 1.0f / (2.0f * k * k);
    rt_image *layer;
    if ((err = rt_image_create(W, H, 1, &layer))) return err;
    float *pcol = rt_alloc_floats((size_t)W * H);
    if (!pcol) {
        rt_image_destroy(layer);
        return rt_error(RT_ERR_NOMEM, "Skin Mask: out of memory");
    }
    const rt_image *im = ctx->image;
    const float *R = rt_image_plane(im, 0), *G = rt_image_plane(im, 1), *B = rt_image_plane(im, 2);
    float *S = layer->data;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < H; y++) {
        const size_t src = (size_t)(Y0 + y) * im->width + X0;
        const uint8_t *pm = a->person->full + src;
        for (int x = 0; x < W; x++) {
            size_t o = (size_t)y * W + x;
            float p = pm[x] * (1.0f / 255.0f);
            float c = p > 0
                          ? expf(-chroma_distance2(models, nm, R[src + x], G[src + x], B[src + x]) *
                                 inv2k2)
                          : 0.0f;
            pcol[o] = c;
            S[o] = p * c;
        }
    }
    for (int i = 0; i < a->nfaces && !err; i++)
        err = face_pass(ctx, a, i, pcol, S, X0, Y0, W, H);
    rt_free(pcol);
    if (err) {
        rt_image_destroy(layer);
        return err;
    }
    out->layer = layer;
    out->x = X0;
    out->y = Y0;
    return 0;
}

const rt_plugin rt_plugin_skin_mask = {
    .name = "Skin Mask",
    .needs = RT_NEEDS_FACES,
    .run = skin_mask_run,
};
