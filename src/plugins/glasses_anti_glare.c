/* Glasses Anti Glare: removes reflections on eyeglass lenses (PLUGINS.md,
 * ALGORITHMS.md §16).
 *
 * Model: a reflection on a lens is additive in linear light, I = T + R,
 * with R smooth inside a sharp outline (a window, a softbox, a coloured
 * anti-reflection coating sheen) or a clipped hot spot.  It lifts the dark
 * floor of what is seen through the lens.  Only faces the glasses detector
 * believes wear glasses (face->glasses >= 0.5) are touched, and only inside
 * their lens regions (face/glasses.h: inside the rim, feathered over
 * 0.03 IOD, so the frame itself is never changed).
 *
 * Per face, analyse small, apply large, on the rectangle of its two lenses:
 *   1. linear light, box-averaged to about 96 px between the pupils;
 *   2. the dark floor F: a per-channel min filter of 0.055 IOD (0.3 iris
 *      diameters; the dark channel prior's observation), so catchlights,
 *      lashes and lens texture do not count, only broad lifts do;
 *   3. the expected floor E from the other lens, mirrored across the
 *      perpendicular bisector of the pupils (the facial-symmetry prior),
 *      scaled per channel by the ratio of the two lenses' floor 30th
 *      percentiles (a face lit from one side keeps its light);
 *   4. R = the excess F - E beyond a dead zone (2 % + 25 % of E: the two
 *      eyes are never identical), grown back by the min filter's radius
 *      (a max filter) and smoothed: per channel, so a coating's tint goes
 *      with it;
 *   5. full resolution: T = I - s R x lens weight (never below 15 % of I),
 *      written as a linear-light layer b = 0.5 + (T - I) / 2 with alpha 1
 *      where it changes something, 0 elsewhere.
 * A reflection on the same spot of both lenses has no clean reference and
 * is kept (first version: no second prior such as the skin outside the
 * rim or relative smoothness; no texture synthesis in large clipped spots,
 * which become the mirrored lens's floor).
 *
 * LayoutMode "full": the layer covers the lens rectangles of every face and
 * is stored full size.  "patch": the ZIP stores the faces' rectangles packed
 * side by side (the rounded layer's own values, so placing them back
 * reproduces the full layout exactly), and result.json gives each face's
 * glassesAntiGlarePatchMatrix (photo -> patch, a translation), patchWidth,
 * patchHeight.
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "core/quantize.h"
#include "face/analysis.h"
#include "face/glasses.h"
#include "face/roi_filters.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GLASSES_MIN_PROB 0.5f
#define WORK_IOD 96.0f      /* analysis resolution: px between the pupils */
#define FLOOR_RADIUS 0.055f /* of the IOD: 0.3 iris diameters */
#define FEATHER 0.03f       /* of the IOD: the lens weight's ramp inside the rim */
#define DEAD_ZONE_ABS 0.02f
#define DEAD_ZONE_REL 0.25f
#define GAIN_QUANTILE 0.5f
#define LOCAL_RADIUS                                                                               \
    0.13f /* of the IOD: the local prior's opening, wider than a small reflection */
#define KEEP_FRACTION 0.15f /* a pixel keeps at least this much of itself */

typedef struct face_work {
    int index; /* in the analysis */
    rt_glasses_lenses gl;
    rt_roi roi; /* image rectangle of both lenses */
    float *R;   /* roi.w * roi.h * 3 linear reflection estimate (full resolution) */
} face_work;

/* Image rectangle holding both lenses, clipped to the image. */
static rt_roi lens_roi(const rt_glasses_lenses *gl, int W, int H)
{
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    float c = cosf(gl->roll), n = sinf(gl->roll);
    for (int e = 0; e < 2; e++)
        for (int k = 0; k < RT_LENS_RAYS; k++) {
            const rt_glasses_lens *L = &gl->lens[e];
            float a = (float)(2 * M_PI * k / RT_LENS_RAYS);
            float u = L->radius[k] * cosf(a), v = L->radius[k] * sinf(a);
            float px = L->pupil.x + c * u + n * v, py = L->pupil.y - n * u + c * v;
            x0 = fminf(x0, px), x1 = fmaxf(x1, px), y0 = fminf(y0, py), y1 = fmaxf(y1, py);
        }
    /* the ray polygon's chords cut corners the interpolated outline keeps */
    float m = 2.0f + 0.02f * gl->iod_px;
    int ix0 = (int)floorf(x0 - m), iy0 = (int)floorf(y0 - m);
    int ix1 = (int)ceilf(x1 + m), iy1 = (int)ceilf(y1 + m);
    if (ix0 < 0) ix0 = 0;
    if (iy0 < 0) iy0 = 0;
    if (ix1 > W) ix1 = W;
    if (iy1 > H) iy1 = H;
    rt_roi r = {ix0, iy0, ix1 - ix0, iy1 - iy0};
    if (r.w < 0) r.w = 0;
    if (r.h < 0) r.h = 0;
    return r;
}

static float sample_clamped(const float *p, int w, int h, float x, float y)
{
    x -= 0.5f, y -= 0.5f;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x > w - 1) x = (float)(w - 1);
    if (y > h - 1) y = (float)(h - 1);
    int i = (int)x, j = (int)y;
    int i1 = i + 1 < w ? i + 1 : i, j1 = j + 1 < h ? j + 1 : j;
    float fx = x - i, fy = y - j;
    return (1 - fy) * ((1 - fx) * p[j * w + i] + fx * p[j * w + i1]) +
           fy * ((1 - fx) * p[j1 * w + i] + fx * p[j1 * w + i1]);
}

/* Steps 1-4 for one face: fills fw->R (caller frees). */
static int estimate_reflection(const rt_image *im, face_work *fw)
{
    const rt_roi r = fw->roi;
    const rt_glasses_lenses *gl = &fw->gl;
    int k = (int)floorf(gl->iod_px / WORK_IOD);
    if (k < 1) k = 1;
    const int cw = (r.w + k - 1) / k, ch = (r.h + k - 1) / k;
    const size_t nf = (size_t)r.w * r.h, nc = (size_t)cw * ch;
    float *full = malloc(sizeof(float) * nf);
    float *buf = malloc(sizeof(float) * nc * 10);
    fw->R = malloc(sizeof(float) * nf * 3);
    if (!full || !buf || !fw->R) {
        free(full);
        free(buf);
        return rt_error(RT_ERR_NOMEM, "Glasses Anti Glare: out of memory");
    }
    float *L = buf, *F = buf + 3 * nc, *X = buf + 6 * nc, *wl = buf + 9 * nc;
    /* 1. linear light, coarse */
    for (int c = 0; c < 3; c++) {
        const float *src = rt_image_plane(im, c);
        for (int y = 0; y < r.h; y++)
            for (int x = 0; x < r.w; x++)
                full[(size_t)y * r.w + x] =
                    rt_srgb_to_linear(src[(size_t)(y + r.y0) * im->width + x + r.x0]);
        rt_roi_box_down(full, r.w, r.h, k, L + c * nc);
    }
    /* which lens each coarse pixel is in (0 none, 1 right, 2 left) */
    const float kc = (float)k;
    for (int j = 0; j < ch; j++)
        for (int i = 0; i < cw; i++) {
            float x = r.x0 + (i + 0.5f) * kc, y = r.y0 + (j + 0.5f) * kc;
            float v = 0;
            for (int e = 0; e < 2 && v == 0; e++)
                if (rt_glasses_lens_weight(&gl->lens[e], gl->roll, x, y, 0) > 0) v = (float)(1 + e);
            wl[j * cw + i] = v;
        }
    /* 2. the dark floor */
    int rho = (int)lroundf(FLOOR_RADIUS * gl->iod_px / kc);
    if (rho < 1) rho = 1;
    for (int c = 0; c < 3; c++) {
        memcpy(F + c * nc, L + c * nc, sizeof(float) * nc);
        rt_roi_min_filter(F + c * nc, cw, ch, rho, X);
    }
    /* per-channel gains between the lenses: the ratio of their floors' low
     * quantiles, which a reflection over less than 70 % of a lens does not
     * move (a face lit from one side keeps its light; the skin outside
     * the lenses was tried first, but at a turned face's far edge it is
     * hair and backdrop) */
    float gain[2][3];
    for (int c = 0; c < 3; c++) {
        float q[2];
        for (int e = 0; e < 2; e++) {
            for (size_t i = 0; i < nc; i++)
                X[i] = wl[i] == (float)(1 + e) ? 1.0f : 0.0f;
            q[e] = rt_roi_percentile(F + c * nc, X, nc, GAIN_QUANTILE, 0.0f, 1.0f, -1.0f);
        }
        for (int e = 0; e < 2; e++) {
            float g = (q[0] > 1e-3f && q[1] > 1e-3f) ? q[e] / q[1 - e] : 1.0f;
            gain[e][c] = fminf(fmaxf(g, 0.125f), 8.0f);
        }
        if (getenv("GLARE_DEBUG"))
            fprintf(stderr, "channel %d: floor medians %.4f %.4f\n", c, q[0], q[1]);
    }
    /* the local prior: each lens's own floor opened at a wider radius (a
     * lower envelope that small reflections do not reach), smoothed */
    float *Eloc = L; /* L is not needed any more */
    int big = (int)lroundf(LOCAL_RADIUS * gl->iod_px / kc);
    if (big < rho + 1) big = rho + 1;
    for (int c = 0; c < 3; c++) {
        float *E = Eloc + c * nc, *Fc = F + c * nc;
        /* outside the lenses counts as bright, so the rim and skin around do
         * not pull the envelope down */
        for (size_t i = 0; i < nc; i++)
            E[i] = wl[i] > 0 ? Fc[i] : 1.0f;
        rt_roi_min_filter(E, cw, ch, big, X);
        rt_roi_max_filter(E, cw, ch, big, X);
        rt_roi_box_blur3(E, cw, ch, 0.5f * big, X);
    }
    /* 3-4. excess over the mirrored other lens */
    rt_point2 p0 = gl->lens[0].pupil, p1 = gl->lens[1].pupil;
    float ex = p1.x - p0.x, ey = p1.y - p0.y, el = sqrtf(ex * ex + ey * ey);
    ex /= el, ey /= el;
    float mx = 0.5f * (p0.x + p1.x), my = 0.5f * (p0.y + p1.y);
    for (int c = 0; c < 3; c++) {
        float *Xc = X + c * nc;
        for (int j = 0; j < ch; j++)
            for (int i = 0; i < cw; i++) {
                size_t q = (size_t)j * cw + i;
                Xc[q] = 0;
                int e = (int)wl[q] - 1;
                if (e < 0) continue;
                float x = r.x0 + (i + 0.5f) * kc, y = r.y0 + (j + 0.5f) * kc;
                float d = (x - mx) * ex + (y - my) * ey;
                float xm = x - 2 * d * ex, ym = y - 2 * d * ey;
                /* the mirrored point must see the other lens, well inside */
                if (rt_glasses_lens_weight(&gl->lens[1 - e], gl->roll, xm, ym,
                                           FEATHER * gl->iod_px) < 0.99f)
                    continue;
                float expected = gain[e][c] * sample_clamped(F + c * nc, cw, ch, (xm - r.x0) / kc,
                                                             (ym - r.y0) / kc);
                /* both priors must agree that the floor is lifted */
                expected = fmaxf(expected, Eloc[c * nc + q]);
                float dead = DEAD_ZONE_ABS + DEAD_ZONE_REL * expected;
                Xc[q] = fmaxf(0.0f, F[c * nc + q] - expected - dead);
            }
        /* grown back to the reflection's extent, then smoothed */
    }
    for (int c = 0; c < 3; c++) {
        float *Xc = X + c * nc;
        rt_roi_max_filter(Xc, cw, ch, rho, L + c * nc);
        rt_roi_box_blur3(Xc, cw, ch, 0.5f * rho, L + c * nc);
        rt_roi_bilinear_up(Xc, k, r.w, r.h, fw->R + c * nf);
    }
    free(full);
    free(buf);
    return 0;
}

/* Step 5 for one face into the layer (placed at lx, ly). */
static void apply_face(const rt_image *im, const face_work *fw, float strength, rt_image *layer,
                       int lx, int ly)
{
    const rt_roi r = fw->roi;
    const rt_glasses_lenses *gl = &fw->gl;
    const size_t nf = (size_t)r.w * r.h;
    const float feather = FEATHER * gl->iod_px;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < r.h; y++)
        for (int x = 0; x < r.w; x++) {
            size_t q = (size_t)y * r.w + x;
            float rmax = fmaxf(fw->R[q], fmaxf(fw->R[nf + q], fw->R[2 * nf + q]));
            if (!(rmax > 0)) continue;
            float px = r.x0 + x + 0.5f, py = r.y0 + y + 0.5f;
            float w = fmaxf(rt_glasses_lens_weight(&gl->lens[0], gl->roll, px, py, feather),
                            rt_glasses_lens_weight(&gl->lens[1], gl->roll, px, py, feather));
            if (!(w > 0)) continue;
            size_t si = (size_t)(y + r.y0) * im->width + x + r.x0;
            size_t li = (size_t)(y + r.y0 - ly) * layer->width + x + r.x0 - lx;
            for (int c = 0; c < 3; c++) {
                float I = rt_image_plane(im, c)[si];
                float lin = rt_srgb_to_linear(I);
                float T = fmaxf(lin - strength * w * fw->R[c * nf + q], KEEP_FRACTION * lin);
                rt_image_plane(layer, c)[li] = 0.5f + 0.5f * (rt_linear_to_srgb(T) - I);
            }
            rt_image_plane(layer, 3)[li] = 1.0f;
        }
}

/* The faces' rectangles of the (rounded) layer side by side, top-aligned. */
static int pack_patches(const rt_image *layer, int lx, int ly, const face_work *fw, int n,
                        json_t *faces, rt_image **out)
{
    int W = 0, H = 1;
    for (int i = 0; i < n; i++) {
        W += fw[i].roi.w;
        if (fw[i].roi.h > H) H = fw[i].roi.h;
    }
    if (W < 1) W = 1;
    int err = rt_image_create(W, H, 4, out);
    if (err) return err;
    for (int i = 0, px = 0; i < n; i++) {
        const rt_roi r = fw[i].roi;
        for (int c = 0; c < 4; c++)
            for (int y = 0; y < r.h; y++)
                memcpy(rt_image_plane(*out, c) + (size_t)y * W + px,
                       rt_image_plane(layer, c) + (size_t)(y + r.y0 - ly) * layer->width + r.x0 -
                           lx,
                       sizeof(float) * (size_t)r.w);
        json_t *m = json_pack("[[f,f,f],[f,f,f]]", 1.0, 0.0, (double)(px - r.x0), 0.0, 1.0,
                              (double)(-r.y0));
        json_t *f = json_array_get(faces, (size_t)i);
        json_object_set_new(f, "glassesAntiGlarePatchMatrix", m);
        json_object_set_new(f, "patchWidth", json_integer(r.w));
        json_object_set_new(f, "patchHeight", json_integer(r.h));
        json_object_set_new(f, "patchX", json_integer(px));
        px += r.w;
    }
    return 0;
}

static int glasses_anti_glare_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    float strength = (float)rt_task_number(ctx->task, "Glasses Glare Removal");
    int patch = rt_task_choice(ctx->task, "LayoutMode") == 1;
    if (!(strength > 0)) return 0;
    if (strength > 1) strength = 1;
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found: no glare removed");
        return 0;
    }
    const rt_image *im = ctx->image;
    face_work *fw = calloc((size_t)a->nfaces, sizeof *fw);
    if (!fw) return rt_error(RT_ERR_NOMEM, "Glasses Anti Glare: out of memory");
    int n = 0;
    for (int i = 0; i < a->nfaces && !err; i++) {
        const rt_face *f = &a->faces[i];
        if (!(f->glasses >= GLASSES_MIN_PROB)) continue;
        face_work *w = &fw[n];
        w->index = i;
        if (rt_face_glasses_lenses(im, f, &w->gl)) continue; /* no irises: not this face */
        w->roi = lens_roi(&w->gl, im->width, im->height);
        if (w->roi.w < 4 || w->roi.h < 4) continue;
        err = estimate_reflection(im, w);
        if (!err) n++;
        rt_plugin_progress(ctx, 0.7 * (i + 1) / a->nfaces);
    }
    rt_image *layer = NULL, *packed = NULL;
    json_t *meta = NULL;
    if (!err && n == 0) rt_plugin_warn(ctx, "no glasses found: no glare removed");
    if (!err && n > 0) {
        rt_roi rois[64];
        int nr = n < 64 ? n : 64;
        for (int i = 0; i < nr; i++)
            rois[i] = fw[i].roi;
        rt_roi u = rt_roi_union(rois, nr);
        for (int i = nr; i < n; i++) {
            rt_roi two[2] = {u, fw[i].roi};
            u = rt_roi_union(two, 2);
        }
        err = rt_image_create(u.w, u.h, 4, &layer);
        if (!err) {
            for (int i = 0; i < n; i++)
                apply_face(im, &fw[i], strength, layer, u.x0, u.y0);
            /* rounded here so the packed patches hold the very values the
             * pipeline composites */
            for (int c = 0; c < 4; c++)
                for (int y = 0; y < u.h; y++)
                    rt_quantize_row(rt_image_plane(layer, c) + (size_t)y * u.w, u.w, u.x0, u.y0 + y,
                                    c, ctx->bits);
            meta = json_object();
            json_t *faces = json_array();
            for (int i = 0; i < n; i++)
                json_array_append_new(faces,
                                      json_pack("{s:i,s:f}", "faceIndex", fw[i].index, "glasses",
                                                (double)a->faces[fw[i].index].glasses));
            json_object_set_new(meta, "layoutMode", json_string(patch ? "patch" : "full"));
            if (patch) err = pack_patches(layer, u.x0, u.y0, fw, n, faces, &packed);
            json_object_set_new(meta, "faces", faces);
            out->layer = layer;
            out->x = u.x0;
            out->y = u.y0;
            out->quantized = 1;
            out->stored_layer = packed;
            out->metadata = meta;
        }
    }
    for (int i = 0; i < a->nfaces; i++)
        free(fw[i].R);
    free(fw);
    return err;
}

const rt_plugin rt_plugin_glasses_anti_glare = {
    .name = "Glasses Anti Glare",
    .needs = RT_NEEDS_FACES,
    .run = glasses_anti_glare_run,
};
