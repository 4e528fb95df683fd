/* Eye Vessels: removes red vessels and redness in the whites of the eyes
 * (PLUGINS.md, ALGORITHMS.md §8), keeping the sclera's shading, its
 * natural off-white, the caruncle, lashes and the iris.
 *
 * Per open eye, on the eye's own small rectangle (never a full-frame
 * pass): the sclera refined against the image (face/eye_regions.h); the
 * sclera's background colour by masked normalised convolution (sigma 15 %
 * of the iris diameter), re-weighted once against red and dark outliers so
 * it follows the clean white rather than the vessels; vessels are where
 * the redness (Cr = R - Y) stands above that background.  Blend s moves
 * them toward the background (chroma, and lightness only upward: vessels
 * are darker), moves broad pink patches 85 % of the way to the eye's
 * clean white (its 30th percentile of redness), and takes up to half of
 * that white's own pinkness toward a natural off-white.  The layer is the corrected colour with the
 * sclera mask as alpha (normal blend).
 */
#include "plugins/plugin.h"

#include "core/error.h"
#include "face/analysis.h"
#include "face/eye_regions.h"
#include "face/roi_filters.h"

#include <math.h>
#include <stdlib.h>

/* Redness of a natural white (Cr of a slightly warm off-white): the
 * pinkness correction never goes below it. */
#define CR_NATURAL 0.012f
/* Redness above the background that counts as a vessel: fully from
 * VESSEL_FULL, not below VESSEL_MIN (noise). */
#define VESSEL_MIN 0.004f
#define VESSEL_FULL 0.03f
#define PINK_REMOVED 0.5f
#define PATCH_REMOVED 0.85f

#define MAX_EYES 256

typedef struct eye_job {
    rt_eye_geometry g;
    rt_roi roi;
} eye_job;

/* Masked normalised convolution of the three planes with weights wt, on
 * a grid k times coarser (the background is smooth at this scale:
 * sigma is 15 % of the iris diameter), interpolated back.  bg holds 4 n
 * floats (weight, Y, Cb, Cr); tmp 4 n. */
static void background(const float *wt, const float *Y, const float *Cb, const float *Cr, size_t n,
                       int w, int h, float sigma, int k, float *bg, float *tmp)
{
    const int cw = (w + k - 1) / k, ch = (h + k - 1) / k;
    const size_t cn = (size_t)cw * ch;
    float *prod = tmp, *coarse = tmp + n, *scratch = tmp + n + 4 * cn;
    const float *src[3] = {Y, Cb, Cr};
    rt_roi_box_down(wt, w, h, k, coarse);
    for (int p = 0; p < 3; p++) {
        for (size_t i = 0; i < n; i++)
            prod[i] = wt[i] * src[p][i];
        rt_roi_box_down(prod, w, h, k, coarse + (size_t)(p + 1) * cn);
    }
    for (int p = 0; p < 4; p++)
        rt_roi_box_blur3(coarse + (size_t)p * cn, cw, ch, sigma / (float)k, scratch);
    for (size_t i = 0; i < cn; i++) {
        float d = coarse[i] > 1e-4f ? 1.0f / coarse[i] : 0.0f;
        for (int p = 1; p < 4; p++)
            coarse[(size_t)p * cn + i] *= d;
    }
    for (int p = 0; p < 4; p++)
        rt_roi_bilinear_up(coarse + (size_t)p * cn, k, w, h, bg + (size_t)p * n);
}

static int treat_eye(const rt_image *img, const eye_job *e, float s, rt_image *layer, int lx,
                     int ly)
{
    const rt_roi r = e->roi;
    const size_t n = (size_t)r.w * r.h;
    float *buf = malloc(19 * n * sizeof *buf);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory for an eye");
    float *M = buf, *Y = buf + n, *Cb = buf + 2 * n, *Cr = buf + 3 * n, *wt = buf + 4 * n,
          *bg = buf + 5 * n, *out = buf + 9 * n, *tmp = buf + 12 * n;
    int err = rt_eye_sclera_mask(img, &e->g, r.x0, r.y0, r.w, r.h, M, (size_t)r.w);
    if (err) {
        free(buf);
        return err;
    }
    rt_roi_ycc(img, r.x0, r.y0, r.w, r.h, Y, Cb, Cr);
    const float sigma = 0.15f * 2.0f * e->g.iris_radius;
    const int k = sigma > 8.0f ? (int)(sigma / 4.0f) : 1;
    for (size_t i = 0; i < n; i++)
        wt[i] = M[i];
    background(wt, Y, Cb, Cr, n, r.w, r.h, sigma, k, bg, tmp);
    /* second pass: red or darker-than-background pixels (vessels) weigh
     * little, so the background is the clean white's, not the mean */
    for (size_t i = 0; i < n; i++) {
        float red = fmaxf(0.0f, Cr[i] - bg[3 * n + i]), dark = fmaxf(0.0f, bg[n + i] - Y[i]);
        wt[i] = M[i] * expf(-red / 0.008f - dark / 0.04f);
    }
    background(wt, Y, Cb, Cr, n, r.w, r.h, sigma, k, bg, tmp);
    /* the clean white's redness: the eye's 30th percentile */
    const float crw = rt_roi_percentile(Cr, M, n, 0.3f, -0.5f, 0.5f, 0.0f);
    float *R = out, *G = out + n, *B = out + 2 * n;
    for (size_t i = 0; i < n; i++) {
        float ybg = bg[n + i], cbbg = bg[2 * n + i], crbg = bg[3 * n + i];
        if (!(bg[i] > 1e-4f)) ybg = Y[i], cbbg = Cb[i], crbg = Cr[i];
        float excess = Cr[i] - crbg;
        float v = s * rt_smoothstep(VESSEL_MIN, VESSEL_FULL, excess);
        float cr = Cr[i] - v * excess;
        float cb = Cb[i] - v * (Cb[i] - cbbg);
        float y = Y[i] + 0.6f * v * fmaxf(0.0f, ybg - Y[i]);
        /* broad pink patches toward the clean white, then the white's own
         * pinkness partly toward a natural off-white */
        cr -= s * PATCH_REMOVED * fmaxf(0.0f, fminf(cr, crbg) - crw);
        cr -= s * PINK_REMOVED * fmaxf(0.0f, fminf(cr, crw) - CR_NATURAL);
        rt_ycc_to_rgb(y, cb, cr, &R[i], &G[i], &B[i]);
        R[i] = fminf(fmaxf(R[i], 0.0f), 1.0f);
        G[i] = fminf(fmaxf(G[i], 0.0f), 1.0f);
        B[i] = fminf(fmaxf(B[i], 0.0f), 1.0f);
    }
    rt_roi_layer_put(layer, lx, ly, r, R, G, B, M);
    free(buf);
    return 0;
}

static int eye_vessels_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    const float s = (float)rt_task_number(ctx->task, "Alpha1");
    if (!(s > 0.0f)) return 0;
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found: eye whites unchanged");
        return 0;
    }
    const rt_image *img = ctx->image;
    eye_job *eyes = malloc(MAX_EYES * sizeof *eyes);
    if (!eyes) return rt_error(RT_ERR_NOMEM, "out of memory");
    int neyes = 0, closed = 0;
    for (int f = 0; f < a->nfaces && neyes < MAX_EYES; f++)
        for (int e = 0; e < 2 && neyes < MAX_EYES; e++) {
            eye_job *j = &eyes[neyes];
            rt_eye_geometry_init(&a->faces[f], e, &j->g);
            if (j->g.openness < 0.15f || j->g.width < 8.0f) {
                closed++;
                continue;
            }
            rt_eye_refine_iris(img, &j->g);
            float pad = (RT_EYE_OPENING_SLACK_MM + 0.2f) * j->g.px_per_mm + 2.0f;
            if (rt_eye_bounds(&j->g, pad, img->width, img->height, &j->roi.x0, &j->roi.y0,
                              &j->roi.w, &j->roi.h))
                neyes++;
        }
    if (neyes == 0) {
        rt_plugin_warn(ctx, "no open eye found (%d closed or too small): eye whites unchanged",
                       closed);
        free(eyes);
        return 0;
    }
    rt_roi rois[MAX_EYES];
    for (int i = 0; i < neyes; i++)
        rois[i] = eyes[i].roi;
    rt_roi u = rt_roi_union(rois, neyes);
    rt_image *layer = NULL;
    err = rt_image_create(u.w, u.h, 4, &layer);
    for (int i = 0; i < neyes && !err; i++)
        err = treat_eye(img, &eyes[i], s, layer, u.x0, u.y0);
    free(eyes);
    if (err) {
        rt_image_destroy(layer);
        return err;
    }
    out->layer = layer;
    out->x = u.x0;
    out->y = u.y0;
    return 0;
}

const rt_plugin rt_plugin_eye_vessels = {
    .name = "Eye Vessels",
    .needs = RT_NEEDS_FACES,
    .run = eye_vessels_run,
};
