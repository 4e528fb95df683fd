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
 *      and at least, in the lens's outer part (from 0.45 to 0.75 of its
 *      radius), the floor of the skin just outside the rim on that ray;
 *      every prior must agree (E is their maximum);
 *   4. R = the lift F - E where it exceeds a dead zone of 3 % + E (a
 *      reflection at least doubles the floor; the two eyes and the rim's
 *      surroundings are never identical, and on the test photos smaller
 *      dead zones darkened clean lenses by 2-7 steps), the whole lift once
 *      past twice the dead zone, grown back by the min filter's radius
 *      (a max filter) and smoothed: per channel, so a coating's tint goes
 *      with it;
 *   5. full resolution: T = I - s R x lens weight (never below 15 % of I);
 *      hot spots (every channel >= 0.92, connected, larger than a disc of
 *      0.45 iris radii so catchlights stay), with their glow (0.03 IOD
 *      round them), are filled by the membrane of
 *      their surroundings (filters/inpaint.h), at opacity s;
 *   6. written as a linear-light layer b = 0.5 + (T - I) / 2 with alpha 1
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
#include "filters/inpaint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GLASSES_MIN_PROB 0.5f
#define WORK_IOD 96.0f      /* analysis resolution: px between the pupils */
#define FLOOR_RADIUS 0.055f /* of the IOD: 0.3 iris diameters */
#define FEATHER 0.03f       /* of the IOD: the lens weight's ramp inside the rim */
#define DEAD_ZONE_ABS 0.03f
#define DEAD_ZONE_REL 1.0f
#define GAIN_QUANTILE 0.5f
#define LOCAL_RADIUS                                                                               \
    0.13f /* of the IOD: the local prior's opening, wider than a small reflection */
#define KEEP_FRACTION 0.15f /* a pixel keeps at least this much of itself */
#define HOT_LEVEL 0.92f     /* sRGB: every channel at least this: near clipped */
#define HOT_GLOW 0.03f      /* of the IOD: a hot spot's glow, filled with it */
#define HOT_MIN_IRIS 0.45f  /* a hot spot is larger than a disc of this many iris radii */

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

/* Where image point (x, y) is relative to a lens: the ray position t in
 * [0, RT_LENS_RAYS) and the distance over the lens radius there. */
static float lens_rel(const rt_glasses_lens *L, float roll, float x, float y, float *t)
{
    float dx = x - L->pupil.x, dy = y - L->pupil.y, c = cosf(roll), n = sinf(roll);
    float u = c * dx - n * dy, v = n * dx + c * dy;
    float a = atan2f(v, u);
    if (a < 0) a += 2.0f * (float)M_PI;
    *t = a / (2.0f * (float)M_PI) * RT_LENS_RAYS;
    int k0 = (int)*t % RT_LENS_RAYS, k1 = (k0 + 1) % RT_LENS_RAYS;
    float f = *t - floorf(*t);
    float r = (1 - f) * L->radius[k0] + f * L->radius[k1];
    return sqrtf(u * u + v * v) / fmaxf(r, 1e-3f);
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
    /* the rim prior: through a clear lens the skin just inside the rim
     * looks like the skin just outside it, so in a lens's outer part the
     * floor is expected at least as high as outside (per ray: the
     * brightest of four samples 1.1-1.4 radii out, skin rather than
     * frame; a 3-ray median) */
    float out_floor[2][3][RT_LENS_RAYS];
    {
        float cr = cosf(gl->roll), sr = sinf(gl->roll);
        for (int e = 0; e < 2; e++)
            for (int c = 0; c < 3; c++) {
                float raw[RT_LENS_RAYS];
                for (int kk = 0; kk < RT_LENS_RAYS; kk++) {
                    const rt_glasses_lens *Ls = &gl->lens[e];
                    float ang = (float)(2 * M_PI * kk / RT_LENS_RAYS), best = 0;
                    for (int j = 0; j < 4; j++) {
                        float rr = Ls->radius[kk] * (1.1f + 0.1f * j);
                        float u = rr * cosf(ang), v = rr * sinf(ang);
                        float x = Ls->pupil.x + cr * u + sr * v, y = Ls->pupil.y - sr * u + cr * v;
                        best = fmaxf(best, sample_clamped(F + c * nc, cw, ch, (x - r.x0) / kc,
                                                          (y - r.y0) / kc));
                    }
                    raw[kk] = best;
                }
                for (int kk = 0; kk < RT_LENS_RAYS; kk++) {
                    float a3 = raw[(kk + RT_LENS_RAYS - 1) % RT_LENS_RAYS], b3 = raw[kk],
                          c3 = raw[(kk + 1) % RT_LENS_RAYS];
                    out_floor[e][c][kk] = fmaxf(fminf(a3, b3), fminf(fmaxf(a3, b3), c3));
                }
            }
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
                /* every prior must agree that the floor is lifted */
                expected = fmaxf(expected, Eloc[c * nc + q]);
                float ray;
                float rel = lens_rel(&gl->lens[e], gl->roll, x, y, &ray);
                float fade = fminf(fmaxf((rel - 0.45f) / 0.3f, 0.0f), 1.0f);
                if (fade > 0) {
                    int k0 = (int)ray % RT_LENS_RAYS, k1 = (k0 + 1) % RT_LENS_RAYS;
                    float f = ray - floorf(ray);
                    float o = (1 - f) * out_floor[e][c][k0] + f * out_floor[e][c][k1];
                    expected = fmaxf(expected, fade * fade * (3 - 2 * fade) * o);
                }
                /* beyond the dead zone the whole lift counts, reached over
                 * a second dead zone (no step at its edge) */
                float dead = DEAD_ZONE_ABS + DEAD_ZONE_REL * expected;
                float lift = F[c * nc + q] - expected;
                float t = fminf(fmaxf((lift - dead) / dead, 0.0f), 1.0f);
                Xc[q] = t * lift;
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

/* Hot spots: near-clipped connected areas of a lens larger than a
 * catchlight (a disc of HOT_MIN_IRIS iris radii), grown by `grow` px; hole is
 * roi-sized, w the lens weight (< 0: not computed yet, done here when the
 * growth reaches it).  Returns how many pixels it marked. */
static size_t find_hot_spots(const rt_image *im, rt_roi r, const rt_glasses_lenses *gl,
                             float feather, float *w, float min_area, int grow, unsigned char *hole,
                             int *stack)
{
    const size_t nf = (size_t)r.w * r.h;
    memset(hole, 0, nf);
    for (int y = 0; y < r.h; y++)
        for (int x = 0; x < r.w; x++) {
            size_t q = (size_t)y * r.w + x, si = (size_t)(y + r.y0) * im->width + x + r.x0;
            float m = fminf(rt_image_plane(im, 0)[si],
                            fminf(rt_image_plane(im, 1)[si], rt_image_plane(im, 2)[si]));
            if (w[q] >= 0.5f && m >= HOT_LEVEL) hole[q] = 1;
        }
    /* connected components (4-neighbours): 1 candidate, 2 kept, 3 dropped */
    size_t marked = 0;
    for (size_t q0 = 0; q0 < nf; q0++) {
        if (hole[q0] != 1) continue;
        size_t n = 0, top = 0;
        stack[top++] = (int)q0;
        hole[q0] = 4; /* visiting */
        /* first pass: count */
        while (top) {
            int q = stack[--top];
            n++;
            int x = q % r.w, y = q / r.w;
            const int nb[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
            for (int k = 0; k < 4; k++) {
                int xx = x + nb[k][0], yy = y + nb[k][1];
                if (xx < 0 || yy < 0 || xx >= r.w || yy >= r.h) continue;
                size_t qq = (size_t)yy * r.w + xx;
                if (hole[qq] == 1) {
                    hole[qq] = 4;
                    stack[top++] = (int)qq;
                }
            }
        }
        /* second pass: relabel the component */
        unsigned char label = (float)n >= min_area ? 2 : 3;
        top = 0;
        stack[top++] = (int)q0;
        hole[q0] = label;
        while (top) {
            int q = stack[--top];
            int x = q % r.w, y = q / r.w;
            const int nb[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
            for (int k = 0; k < 4; k++) {
                int xx = x + nb[k][0], yy = y + nb[k][1];
                if (xx < 0 || yy < 0 || xx >= r.w || yy >= r.h) continue;
                size_t qq = (size_t)yy * r.w + xx;
                if (hole[qq] == 4) {
                    hole[qq] = label;
                    stack[top++] = (int)qq;
                }
            }
        }
        if (label == 2) marked += n;
    }
    if (!marked) {
        memset(hole, 0, nf);
        return 0;
    }
    /* kept components grown by `grow` px inside the lens (their glow), never on
     * the rectangle's border (the membrane needs a boundary there) */
    for (size_t q = 0; q < nf; q++)
        hole[q] = hole[q] == 2;
    for (int pass = 0; pass < grow; pass++) {
        for (size_t q = 0; q < nf; q++)
            if (hole[q] == 1) {
                int x = (int)(q % (size_t)r.w), y = (int)(q / (size_t)r.w);
                const int nb[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
                for (int k = 0; k < 4; k++) {
                    int xx = x + nb[k][0], yy = y + nb[k][1];
                    if (xx < 0 || yy < 0 || xx >= r.w || yy >= r.h) continue;
                    size_t qq = (size_t)yy * r.w + xx;
                    if (hole[qq]) continue;
                    if (w[qq] < 0) {
                        float px = r.x0 + xx + 0.5f, py = r.y0 + yy + 0.5f;
                        w[qq] =
                            fmaxf(rt_glasses_lens_weight(&gl->lens[0], gl->roll, px, py, feather),
                                  rt_glasses_lens_weight(&gl->lens[1], gl->roll, px, py, feather));
                    }
                    if (w[qq] > 0) hole[qq] = 2;
                }
            }
        for (size_t q = 0; q < nf; q++)
            if (hole[q] == 2) hole[q] = 1;
    }
    for (int y = 0; y < r.h; y++)
        for (int x = 0; x < r.w; x++)
            if (x == 0 || y == 0 || x == r.w - 1 || y == r.h - 1) hole[(size_t)y * r.w + x] = 0;
    return marked;
}

/* Step 5 for one face into the layer (placed at lx, ly): the reflection
 * subtracted, then hot spots filled by the membrane of what surrounds them
 * (first version: smooth, no texture borrowed from the other eye). */
static int apply_face(const rt_image *im, const rt_face *face, const face_work *fw, float strength,
                      rt_image *layer, int lx, int ly)
{
    const rt_roi r = fw->roi;
    const rt_glasses_lenses *gl = &fw->gl;
    const size_t nf = (size_t)r.w * r.h;
    const float feather = FEATHER * gl->iod_px;
    float *T = malloc(sizeof(float) * nf * 4);
    unsigned char *hole = malloc(nf);
    int *stack = malloc(sizeof(int) * nf);
    if (!T || !hole || !stack) {
        free(T);
        free(hole);
        free(stack);
        return rt_error(RT_ERR_NOMEM, "Glasses Anti Glare: out of memory");
    }
    float *w = T + 3 * nf;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < r.h; y++)
        for (int x = 0; x < r.w; x++) {
            size_t q = (size_t)y * r.w + x;
            size_t si = (size_t)(y + r.y0) * im->width + x + r.x0;
            float s0 = rt_image_plane(im, 0)[si], s1 = rt_image_plane(im, 1)[si],
                  s2 = rt_image_plane(im, 2)[si];
            /* the lens weight only where something may change: a
             * reflection estimate or a near-clipped pixel (most of a clean
             * lens has neither) */
            float rmax = fmaxf(fw->R[q], fmaxf(fw->R[nf + q], fw->R[2 * nf + q]));
            int hot = fminf(s0, fminf(s1, s2)) >= HOT_LEVEL;
            w[q] = -1.0f; /* not computed */
            if (rmax > 0 || hot) {
                float px = r.x0 + x + 0.5f, py = r.y0 + y + 0.5f;
                w[q] = fmaxf(rt_glasses_lens_weight(&gl->lens[0], gl->roll, px, py, feather),
                             rt_glasses_lens_weight(&gl->lens[1], gl->roll, px, py, feather));
            }
            if (!(w[q] > 0)) {
                T[q] = -1.0f; /* not computed: only a hot spot's boundary needs it */
                continue;
            }
            const float sv[3] = {s0, s1, s2};
            for (int c = 0; c < 3; c++) {
                float lin = rt_srgb_to_linear(sv[c]);
                T[c * nf + q] =
                    rmax > 0 ? fmaxf(lin - strength * w[q] * fw->R[c * nf + q], KEEP_FRACTION * lin)
                             : lin;
            }
        }
    float ir = 0.5f * (face->eye[0].iris_radius + face->eye[1].iris_radius);
    float min_area = (float)M_PI * (HOT_MIN_IRIS * ir) * (HOT_MIN_IRIS * ir);
    int grow = (int)lroundf(HOT_GLOW * gl->iod_px);
    size_t hot = find_hot_spots(im, r, gl, feather, w, min_area, grow > 2 ? grow : 2, hole, stack);
    int err = 0;
    if (hot) {
        /* the membrane's boundary: T of the pixels the first pass skipped */
#pragma omp parallel for schedule(static)
        for (int y = 0; y < r.h; y++)
            for (int x = 0; x < r.w; x++) {
                size_t q = (size_t)y * r.w + x;
                if (T[q] >= 0) continue;
                size_t si = (size_t)(y + r.y0) * im->width + x + r.x0;
                for (int c = 0; c < 3; c++)
                    T[c * nf + q] = rt_srgb_to_linear(rt_image_plane(im, c)[si]);
            }
        float *fill = malloc(sizeof(float) * nf);
        if (!fill) err = rt_error(RT_ERR_NOMEM, "Glasses Anti Glare: out of memory");
        for (int c = 0; c < 3 && !err; c++) {
            memcpy(fill, T + c * nf, sizeof(float) * nf);
            err = rt_membrane_fill(fill, r.w, r.h, (size_t)r.w, hole);
            for (size_t q = 0; q < nf && !err; q++)
                if (hole[q]) T[c * nf + q] += strength * w[q] * (fill[q] - T[c * nf + q]);
        }
        free(fill);
    }
    if (!err) {
#pragma omp parallel for schedule(static)
        for (int y = 0; y < r.h; y++)
            for (int x = 0; x < r.w; x++) {
                size_t q = (size_t)y * r.w + x;
                if (!(w[q] > 0)) continue;
                size_t si = (size_t)(y + r.y0) * im->width + x + r.x0;
                size_t li = (size_t)(y + r.y0 - ly) * layer->width + x + r.x0 - lx;
                int changed = 0;
                float b[3];
                for (int c = 0; c < 3; c++) {
                    float I = rt_image_plane(im, c)[si];
                    float lin = rt_srgb_to_linear(I);
                    if (T[c * nf + q] != lin) changed = 1;
                    b[c] = 0.5f + 0.5f * (rt_linear_to_srgb(T[c * nf + q]) - I);
                }
                if (!changed) continue;
                for (int c = 0; c < 3; c++)
                    rt_image_plane(layer, c)[li] = b[c];
                rt_image_plane(layer, 3)[li] = 1.0f;
            }
    }
    free(T);
    free(hole);
    free(stack);
    return err;
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
        for (int i = 0; i < n && !err; i++)
            err = apply_face(im, &a->faces[fw[i].index], &fw[i], strength, layer, u.x0, u.y0);
        if (!err) {
            /* rounded here so the packed patches hold the very values the
             * pipeline composites */
            /* only the runs the layer covers (alpha is exactly 0 or 1) */
            for (int y = 0; y < u.h; y++) {
                const float *al = rt_image_plane(layer, 3) + (size_t)y * u.w;
                for (int x = 0; x < u.w;) {
                    if (al[x] == 0) {
                        x++;
                        continue;
                    }
                    int x1 = x;
                    while (x1 < u.w && al[x1] != 0)
                        x1++;
                    for (int c = 0; c < 3; c++)
                        rt_quantize_row(rt_image_plane(layer, c) + (size_t)y * u.w + x, x1 - x,
                                        u.x0 + x, u.y0 + y, c, ctx->bits);
                    x = x1;
                }
            }
            meta = json_object();
            json_t *faces = json_array();
            for (int i = 0; i < n; i++)
                json_array_append_new(faces,
                                      json_pack("{s:i,s:f}", "faceIndex", fw[i].index, "glasses",
                                                (double)a->faces[fw[i].index].glasses));
            json_object_set_new(meta, "layoutMode", json_string(patch ? "patch" : "full"));
            if (patch) err = pack_patches(layer, u.x0, u.y0, fw, n, faces, &packed);
            json_object_set_new(meta, "faces", faces);
        }
        if (!err) {
            out->layer = layer;
            out->x = u.x0;
            out->y = u.y0;
            out->quantized = 1;
            out->stored_layer = packed;
            out->metadata = meta;
        } else {
            rt_image_destroy(layer);
            rt_image_destroy(packed);
            json_decref(meta);
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
