#include "face/mouth_regions.h"

#include "core/error.h"
#include "face/regions.h"
#include "face/roi_filters.h"
#include "face/topology.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIP_POINTS 32

static int inner_lips(const rt_face *f, rt_point2 *pts)
{
    const rt_index_list *l = &rt_topo_lips_inner;
    for (int i = 0; i < l->n && i < MAX_LIP_POINTS; i++)
        pts[i] = rt_face_point(f, l->idx[i]);
    return l->n < MAX_LIP_POINTS ? l->n : MAX_LIP_POINTS;
}

float rt_mouth_openness(const rt_face *f)
{
    rt_point2 a = rt_face_point(f, RT_MESH_MOUTH_RIGHT), b = rt_face_point(f, RT_MESH_MOUTH_LEFT);
    float width = hypotf(b.x - a.x, b.y - a.y);
    if (!(width > 0)) return 0.0f;
    /* widest gap between the inner lips across the mouth line, over the
     * middle pairs of the outline (upper lip point above each lower one) */
    static const short pairs[][2] = {{88, 80},   {178, 81},  {87, 82},  {14, 13},
                                     {317, 312}, {402, 311}, {318, 310}};
    float best = 0.0f;
    float ux = (b.x - a.x) / width, uy = (b.y - a.y) / width;
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        rt_point2 lo = rt_face_point(f, pairs[k][0]);
        rt_point2 up = rt_face_point(f, pairs[k][1]);
        float dx = lo.x - up.x, dy = lo.y - up.y;
        best = fmaxf(best, fabsf(dx * uy - dy * ux));
    }
    return best / width;
}

int rt_mouth_bounds(const rt_face *f, float pad_mm, int width, int height, int *x0, int *y0, int *w,
                    int *h)
{
    if (rt_mouth_openness(f) < 0.04f) return 0;
    rt_point2 pts[MAX_LIP_POINTS];
    int n = inner_lips(f, pts);
    float b[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    for (int i = 0; i < n; i++) {
        b[0] = fminf(b[0], pts[i].x);
        b[1] = fminf(b[1], pts[i].y);
        b[2] = fmaxf(b[2], pts[i].x);
        b[3] = fmaxf(b[3], pts[i].y);
    }
    float pad = pad_mm * (f->px_per_mm > 0 ? f->px_per_mm : 1.0f) + 2.0f;
    int ax = (int)floorf(b[0] - pad), ay = (int)floorf(b[1] - pad);
    int bx = (int)ceilf(b[2] + pad), by = (int)ceilf(b[3] + pad);
    ax = ax < 0 ? 0 : ax;
    ay = ay < 0 ? 0 : ay;
    bx = bx > width ? width : bx;
    by = by > height ? height : by;
    if (bx <= ax || by <= ay) return 0;
    *x0 = ax, *y0 = ay, *w = bx - ax, *h = by - ay;
    return 1;
}

int rt_mouth_teeth_mask(const rt_image *img, const rt_face *f, int x0, int y0, int w, int h,
                        float *dst, size_t stride)
{
    const size_t n = (size_t)w * h;
    const float ppm = f->px_per_mm > 0 ? f->px_per_mm : 1.0f;
    for (int j = 0; j < h; j++)
        memset(dst + (size_t)j * stride, 0, (size_t)w * sizeof *dst);
    if (rt_mouth_openness(f) < 0.04f) return 0;
    rt_point2 pts[MAX_LIP_POINTS];
    int np = inner_lips(f, pts);
    float *buf = malloc(8 * n * sizeof *buf);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory for a teeth mask");
    float *Y = buf, *Cb = buf + n, *Cr = buf + 2 * n, *open = buf + 3 * n, *lips = buf + 4 * n,
          *like = buf + 5 * n, *tmp = buf + 6 * n, *core = buf + 7 * n;
    rt_roi_ycc(img, x0, y0, w, h, Y, Cb, Cr);
    /* core: the inner-lip outline; open: how far teeth may reach (the
     * landmarks lag the lips in a smile: colour decides there, grown from
     * the core); lips: a ring 0.2-1.2 mm outside that */
    const int kc = ppm > 12.0f ? (int)(ppm / 6.0f) : 1;
    int err = rt_roi_polygon_coarse(pts, np, 0.2f * ppm, RT_MASK_SET, x0, y0, w, h, kc, core);
    if (!err)
        err = rt_roi_polygon_coarse(pts, np, RT_MOUTH_SLACK_MM * ppm, RT_MASK_SET, x0, y0, w, h, kc,
                                    open);
    if (!err)
        err = rt_roi_polygon_coarse(pts, np, (RT_MOUTH_SLACK_MM + 1.2f) * ppm, RT_MASK_SET, x0, y0,
                                    w, h, kc, lips);
    if (!err)
        err = rt_roi_polygon_coarse(pts, np, (RT_MOUTH_SLACK_MM + 0.2f) * ppm, RT_MASK_MUL_INV, x0,
                                    y0, w, h, kc, lips);
    if (err) {
        free(buf);
        return err;
    }
    /* the teeth's own colour: the brightest tenth of the less red half of
     * the opening (a finger or a lit lip in front of the teeth is redder
     * and may be brighter: it must not set the teeth's colour); the dark
     * interior: the opening's darkest tenth */
    float cr_mid = rt_roi_percentile(Cr, core, n, 0.5f, -0.5f, 0.5f, 0.5f);
    for (size_t i = 0; i < n; i++)
        tmp[i] = (core[i] > 0.5f && Cr[i] <= cr_mid) ? 1.0f : 0.0f;
    float yt = rt_roi_percentile(Y, tmp, n, 0.9f, 0.0f, 1.0f, -1.0f);
    float ydark = rt_roi_percentile(Y, core, n, 0.1f, 0.0f, 1.0f, 0.0f);
    for (size_t i = 0; i < n; i++)
        tmp[i] = (core[i] > 0.5f && Cr[i] <= cr_mid && Y[i] >= yt - 0.05f) ? 1.0f : 0.0f;
    float crt = rt_roi_percentile(Cr, tmp, n, 0.5f, -0.5f, 0.5f, 0.0f);
    float ylip = rt_roi_percentile(Y, lips, n, 0.5f, 0.0f, 1.0f, -1.0f);
    float crlip = rt_roi_percentile(Cr, lips, n, 0.5f, -0.5f, 0.5f, 0.0f);
    /* teeth must stand out: brighter than the lips and not as red; a
     * closed mouth's "brightest tenth" is lip or skin */
    if (yt < 0 || ylip < 0 || yt < ylip + 0.05f || yt < 0.25f || crt > 0.09f) {
        free(buf);
        return 0;
    }
    /* lightness between the dark interior and the teeth, redness between
     * the teeth and the lips (gums and tongue are as red as lips) */
    const float ylo = fmaxf(ydark, 0.0f), gap = yt - ylo;
    const float red_gap = fmaxf(0.03f, crlip - crt);
    /* strict: surely teeth (the seeds); loose: what the teeth may grow
     * into (their shaded, yellower, gum-tinted edges) */
    for (size_t i = 0; i < n; i++) {
        float chroma = sqrtf(Cb[i] * Cb[i] + Cr[i] * Cr[i]);
        float lit = rt_smoothstep(0.18f, 0.28f, Y[i]);
        float strict = rt_smoothstep(ylo + 0.2f * gap, ylo + 0.4f * gap, Y[i]) *
                       (1.0f - rt_smoothstep(crt + 0.4f * red_gap, crt + 0.75f * red_gap, Cr[i])) *
                       (1.0f - rt_smoothstep(0.14f, 0.22f, chroma));
        float loose = rt_smoothstep(ylo + 0.05f * gap, ylo + 0.25f * gap, Y[i]) *
                      (1.0f - rt_smoothstep(crt + 0.55f * red_gap, crt + 0.9f * red_gap, Cr[i])) *
                      (1.0f - rt_smoothstep(0.18f, 0.26f, chroma));
        like[i] = strict * lit * open[i];
        lips[i] = loose * lit * open[i];
    }
    /* opening: specks narrower than ~0.3 mm go */
    int ro = (int)lrintf(0.15f * ppm);
    if (ro >= 1) {
        rt_roi_min_filter(like, w, h, ro, tmp);
        rt_roi_max_filter(like, w, h, ro, tmp);
    }
    /* grown from the surest teeth inside the inner-lip outline through
     * teeth-coloured pixels
     * (connected to them), at most the slack */
    for (size_t i = 0; i < n; i++)
        core[i] *= like[i];
    if (rt_roi_keep_connected(lips, core, w, h, 0.1f)) {
        free(buf);
        return RT_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        like[i] = lips[i];
    double area = 0;
    for (size_t i = 0; i < n; i++)
        area += like[i] * open[i];
    /* less than ~2 mm^2 of teeth: nothing to whiten */
    if (area >= 2.0 * ppm * ppm)
        for (int j = 0; j < h; j++)
            for (int i = 0; i < w; i++) {
                size_t k = (size_t)j * w + i;
                dst[(size_t)j * stride + i] = like[k] * open[k];
            }
    free(buf);
    return 0;
}
