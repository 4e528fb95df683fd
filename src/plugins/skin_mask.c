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
 *   texture: fine detail (hair, beard, fabric weave) against the face
 *          skin's own level adds to the distance, as in face/visibility.c
 *          (blonde hair has skin's colour, not its smoothness).
 * First version: no small-component cleanup, texture measured with the
 * largest face's scale.
 * No face: no mask, and a warning.
 */
#include "plugins/plugin.h"

#include "core/error.h"
#include "face/analysis.h"
#include "face/regions.h"
#include "face/skin.h"
#include "face/visibility.h"
#include "filters/resample.h"

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
/* Texture (hair, beard, fabric) measured at about TEX_MM per pixel: a
 * pixel whose fine detail is over TEX_RATIO times the face skin's starts
 * to count, TEX_WEIGHT per doubling (as in face/visibility.c). */
#define TEX_MM 0.25f
#define TEX_RATIO 1.4f
#define TEX_WEIGHT 1.5f
/* Feather of the feature cut-outs (mm). */
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

/* Texture penalty per pixel of a copy `f` times smaller than the image:
 * |luma - its 3x3 mean|, 5x5 median, as distance units against the face
 * skin's own level (pixels the visibility analysis calls skin). */
typedef struct texture {
    float *pen;
    int w, h, f;
} texture;

static int texture_map(const rt_image *im, const rt_face_analysis *a, int face, texture *t)
{
    memset(t, 0, sizeof *t);
    const rt_face_visibility *v = &a->vis[face];
    int f = (int)lroundf(rt_face_mm(&a->faces[face], TEX_MM));
    f = f < 1 ? 1 : f;
    int side = (im->width > im->height ? im->width : im->height) / f;
    rt_image *low;
    int err = rt_downscale(im, side, &low);
    if (err) return err;
    int w = low->width, h = low->height;
    size_t n = (size_t)w * h;
    float *y = malloc(n * sizeof *y), *d = malloc(n * sizeof *d);
    t->pen = malloc(n * sizeof *t->pen);
    if (!y || !d || !t->pen) {
        rt_image_destroy(low);
        free(y);
        free(d);
        free(t->pen);
        t->pen = NULL;
        return rt_error(RT_ERR_NOMEM, "Skin Mask: out of memory");
    }
    const float *R = rt_image_plane(low, 0), *G = rt_image_plane(low, 1),
                *B = rt_image_plane(low, 2);
    for (size_t i = 0; i < n; i++)
        y[i] = 0.299f * R[i] + 0.587f * G[i] + 0.114f * B[i];
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            float acc = 0;
            int k = 0;
            for (int dj = -1; dj <= 1; dj++)
                for (int di = -1; di <= 1; di++) {
                    int ii = i + di, jj = j + dj;
                    if (ii < 0 || jj < 0 || ii >= w || jj >= h) continue;
                    acc += y[(size_t)jj * w + ii];
                    k++;
                }
            d[(size_t)j * w + i] = fabsf(y[(size_t)j * w + i] - acc / k);
        }
    rt_median5(d, t->pen, w, h);
    /* the face skin's level: median over the pixels the face's visibility
     * grid calls skin */
    double sx = (double)im->width / w, sy = (double)im->height / h;
    int m = 0;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++)
            if (rt_face_visibility_at(v, v->skin, (int)((i + 0.5) * sx), (int)((j + 0.5) * sy)) >=
                0.9f)
                y[m++] = t->pen[(size_t)j * w + i];
    float gref = 0.002f;
    if (m > 16) {
        /* the median from a histogram (steps of 1/32768): no sort of up to
         * a few million values */
        int hist[4096] = {0};
        for (int i = 0; i < m; i++) {
            int b = (int)(y[i] * 4096.0f * 8.0f);
            hist[b < 0 ? 0 : (b > 4095 ? 4095 : b)]++;
        }
        int acc = 0, b = 0;
        while (b < 4095 && acc + hist[b] <= m / 2)
            acc += hist[b++];
        gref = fmaxf((b + 0.5f) / (4096.0f * 8.0f), 0.002f);
    }
    for (size_t i = 0; i < n; i++) {
        float p = TEX_WEIGHT * log2f(t->pen[i] / (TEX_RATIO * gref) + 1e-6f);
        t->pen[i] = p > 0 ? p * p : 0.0f;
    }
    t->w = w;
    t->h = h;
    t->f = f;
    rt_image_destroy(low);
    free(y);
    free(d);
    return 0;
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
    int nm = 0, first = -1;
    for (int i = 0; i < a->nfaces && nm < MAX_MODELS; i++) {
        const rt_face_visibility *v = a->vis ? &a->vis[i] : NULL;
        if (!v || !v->skin || !(v->skin_sd[0] > 0)) continue;
        if (first < 0) first = i;
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
    texture tex;
    if ((err = texture_map(ctx->image, a, first, &tex))) return err;
    const double tsx = (double)tex.w / ctx->image->width, tsy = (double)tex.h / ctx->image->height;
    const float k = (float)(K_STRICT + K_SLOPE * sensitivity);
    const float inv2k2 = 1.0f / (2.0f * k * k);
    rt_image *layer;
    if ((err = rt_image_create(W, H, 1, &layer))) {
        free(tex.pen);
        return err;
    }
    float *pcol = rt_alloc_floats((size_t)W * H);
    if (!pcol) {
        free(tex.pen);
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
        int ty = (int)((Y0 + y + 0.5) * tsy);
        const float *trow = tex.pen + (size_t)(ty < tex.h ? ty : tex.h - 1) * tex.w;
        for (int x = 0; x < W; x++) {
            size_t o = (size_t)y * W + x;
            float p = pm[x] * (1.0f / 255.0f);
            int tx = (int)((X0 + x + 0.5) * tsx);
            float d2 = chroma_distance2(models, nm, R[src + x], G[src + x], B[src + x]) +
                       trow[tx < tex.w ? tx : tex.w - 1];
            float c = p > 0 ? expf(-d2 * inv2k2) : 0.0f;
            pcol[o] = c;
            S[o] = p * c;
        }
    }
    free(tex.pen);
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
