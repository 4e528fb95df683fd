/* Portrait Volumes: strengthens the face's existing large-scale light and
 * shadow (cheekbones, nose bridge, jaw line, forehead), so it always agrees
 * with the light direction (PLUGINS.md "Portrait Volumes", ALGORITHMS.md
 * §14, step 1: shading amplification).
 *
 * Region: the face outline (face/regions.h RT_REGION_FACE, 3 mm feather)
 * joined with a neck below it times the person mask.  The neck is derived
 * from the mesh: the lower face oval from jaw angle to jaw angle (mesh 361
 * through the chin 152 to 132), closed by those two points moved 100 mm
 * down the face's axis (forehead 10 -> chin 152) and 10 % of the jaw width
 * inward, with a 6 mm feather.
 * Per face, on the ROI downscaled to about 1 px/mm: F = log linear
 * luminance blurred at 6 mm over the skin weight (rt_plugin_skin_weight)
 * and the neck (so hair, eyes and background never enter the shading);
 * log gain 0.2 * Blend * (F - mean F), limited to +-0.2 (no "raccoon" eye
 * sockets, no glaring forehead) and faded in over ~8 mm from the region's
 * edge (no halo or step where the face meets hair or background); applied
 * in linear light in one fused full-resolution pass (filters/gain_map.h)
 * as a soft-light layer whose alpha is the region.  Blend 1 makes the
 * large-scale shading contrast about 20 % stronger, 2 about 40 %.
 * First version: no contour template and no light-direction model beyond
 * the existing shading (ALGORITHMS.md §14 steps 2-3 are not done).
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "face/analysis.h"
#include "face/regions.h"
#include "face/topology.h"
#include "filters/bands.h"
#include "filters/gain_map.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TARGET_PX_PER_MM 1.0f
#define SHADING_SIGMA_MM 6.0f
#define GAIN_PER_BLEND 0.2f
#define MIN_LOG_GAIN -0.2f
#define MAX_LOG_GAIN 0.2f
#define FACE_FEATHER_MM 3.0f
#define NECK_LENGTH_MM 100.0f
#define NECK_FEATHER_MM 6.0f
#define EDGE_FADE_MM 5.0f
#define JAW_RIGHT 132
#define JAW_LEFT 361
#define MAX_NECK_POINTS 40

/* The neck polygon of face f (see the file comment); returns its size. */
static int neck_polygon(const rt_face *f, rt_point2 *pts)
{
    const rt_index_list *oval = &rt_topo_face_oval;
    int start = -1;
    for (int i = 0; i < oval->n; i++)
        if (oval->idx[i] == JAW_LEFT) start = i;
    if (start < 0) return 0;
    int n = 0;
    for (int k = 0; k < oval->n && n < MAX_NECK_POINTS - 2; k++) {
        int idx = oval->idx[(start + k) % oval->n];
        pts[n++] = rt_face_point(f, idx);
        if (idx == JAW_RIGHT) break;
    }
    rt_point2 top = rt_face_point(f, RT_MESH_FOREHEAD_TOP), chin = rt_face_point(f, RT_MESH_CHIN);
    float dx = chin.x - top.x, dy = chin.y - top.y, len = sqrtf(dx * dx + dy * dy);
    if (!(len > 0.0f)) return 0;
    float L = rt_face_mm(f, NECK_LENGTH_MM);
    dx = dx / len * L;
    dy = dy / len * L;
    rt_point2 right = pts[n - 1], left = pts[0];
    float ix = 0.1f * (left.x - right.x), iy = 0.1f * (left.y - right.y);
    pts[n++] = (rt_point2){right.x + dx + ix, right.y + dy + iy};
    pts[n++] = (rt_point2){left.x + dx - ix, left.y + dy - iy};
    return n;
}

/* The face's ROI: its outline region and neck, clipped to the image. */
static int face_roi(const rt_face *f, int W, int H, int roi[4])
{
    int x0, y0, w, h;
    if (!rt_face_region_bounds(f, RT_REGION_FACE, FACE_FEATHER_MM, W, H, &x0, &y0, &w, &h))
        return 0;
    float ax = (float)x0, ay = (float)y0, bx = (float)(x0 + w), by = (float)(y0 + h);
    rt_point2 neck[MAX_NECK_POINTS];
    int n = neck_polygon(f, neck);
    float pad = rt_face_mm(f, NECK_FEATHER_MM);
    for (int i = 0; i < n; i++) {
        ax = fminf(ax, neck[i].x - pad);
        ay = fminf(ay, neck[i].y - pad);
        bx = fmaxf(bx, neck[i].x + pad);
        by = fmaxf(by, neck[i].y + pad);
    }
    int X0 = (int)floorf(fmaxf(ax, 0.0f)), Y0 = (int)floorf(fmaxf(ay, 0.0f));
    int X1 = (int)ceilf(fminf(bx, (float)W)), Y1 = (int)ceilf(fminf(by, (float)H));
    if (X1 <= X0 || Y1 <= Y0) return 0;
    roi[0] = X0;
    roi[1] = Y0;
    roi[2] = X1 - X0;
    roi[3] = Y1 - Y0;
    return 1;
}

/* The log-gain field (as gains) from the downscaled ROI. */
static int shading_gain(const rt_gain_map *m, float *const lin[3], const float *wd,
                        const float *region, float px_per_mm, float amount)
{
    size_t n = (size_t)m->mw * m->mh;
    float *buf = rt_alloc_floats(4 * n);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory for Portrait Volumes");
    float *F = buf, *cover = buf + n, *fade = buf + 2 * n, *ell = buf + 3 * n;
    for (size_t i = 0; i < n; i++)
        ell[i] = logf(rt_luminance(lin[0][i], lin[1][i], lin[2][i]) + 1e-3f);
    int err = rt_band_masked_blur(
        ell, wd, m->mw, m->mh, rt_band_sigma_px(SHADING_SIGMA_MM, px_per_mm, m->factor), F, cover);
    if (!err)
        err = rt_band_interior(region, m->mw, m->mh,
                               rt_band_sigma_px(EDGE_FADE_MM, px_per_mm, m->factor), fade);
    if (!err) {
        double mean;
        rt_band_weighted_stats(F, wd, n, &mean, NULL);
        for (size_t i = 0; i < n; i++) {
            float g = cover[i] >= RT_BAND_MIN_WEIGHT ? amount * (F[i] - (float)mean) : 0.0f;
            g = g < MIN_LOG_GAIN ? MIN_LOG_GAIN : (g > MAX_LOG_GAIN ? MAX_LOG_GAIN : g);
            m->lum[i] = expf(g * fade[i]);
        }
    }
    rt_free(buf);
    return err;
}

static int volume_face(rt_plugin_ctx *ctx, const rt_face_analysis *a, int face, const int roi[4],
                       float amount, rt_image *layer, int lx, int ly)
{
    const rt_face *f = &a->faces[face];
    const int x0 = roi[0], y0 = roi[1], w = roi[2], h = roi[3];
    float *region = rt_alloc_floats((size_t)w * h), *tmp = rt_alloc_floats((size_t)w * h);
    rt_gain_map *m = NULL;
    float *low = NULL;
    int err = region && tmp ? 0 : rt_error(RT_ERR_NOMEM, "out of memory for Portrait Volumes");
    int factor = rt_gain_map_factor(f->px_per_mm, TARGET_PX_PER_MM);
    if (!err) err = rt_gain_map_create(x0, y0, w, h, factor, 1, 0, &m);
    size_t n = m ? (size_t)m->mw * m->mh : 0;
    if (!err && !(low = rt_alloc_floats(7 * n)))
        err = rt_error(RT_ERR_NOMEM, "out of memory for Portrait Volumes");
    if (err) goto done;
    float *lin[3] = {low, low + n, low + 2 * n};
    float *person = low + 3 * n, *neck = low + 4 * n, *wd = low + 5 * n, *rlow = low + 6 * n;
    /* the region at full resolution: the face outline, and the neck where
     * the person is (the person mask misses small faces of group photos,
     * so it never gates the face itself) */
    rt_point2 poly[MAX_NECK_POINTS];
    int np = neck_polygon(f, poly);
    memset(region, 0, (size_t)w * h * sizeof *region);
    if (np >= 3)
        err = rt_mask_polygon(poly, np, 0.0f, rt_face_mm(f, NECK_FEATHER_MM), RT_MASK_SET, x0, y0,
                              w, h, region, (size_t)w);
    if (err) goto done;
    if (a->person) {
        rt_person_mask_roi(a->person, x0, y0, w, h, tmp, (size_t)w);
    } else {
        for (size_t i = 0; i < (size_t)w * h; i++)
            tmp[i] = 1.0f;
    }
    rt_gain_map_downscale_plane(m, tmp, (size_t)w, person);
    for (size_t i = 0; i < (size_t)w * h; i++)
        region[i] *= tmp[i];
    err = rt_face_region_mask(f, RT_REGION_FACE, FACE_FEATHER_MM, x0, y0, w, h, tmp, (size_t)w);
    if (err) goto done;
    for (size_t i = 0; i < (size_t)w * h; i++)
        region[i] = tmp[i] > region[i] ? tmp[i] : region[i];
    rt_gain_map_downscale_plane(m, region, (size_t)w, rlow);
    /* the shading is measured on skin and neck only */
    err = rt_plugin_skin_weight(ctx, face, x0, y0, w, h, tmp, (size_t)w);
    if (err) goto done;
    rt_gain_map_downscale_plane(m, tmp, (size_t)w, wd);
    memset(neck, 0, n * sizeof *neck);
    if (np >= 3) {
        for (int i = 0; i < np; i++) {
            poly[i].x = (poly[i].x - (float)x0) / (float)factor;
            poly[i].y = (poly[i].y - (float)y0) / (float)factor;
        }
        err = rt_mask_polygon(poly, np, 0.0f, rt_face_mm(f, NECK_FEATHER_MM) / (float)factor,
                              RT_MASK_SET, 0, 0, m->mw, m->mh, neck, (size_t)m->mw);
    }
    if (err) goto done;
    for (size_t i = 0; i < n; i++) {
        float v = neck[i] * person[i];
        if (v > wd[i]) wd[i] = v;
    }
    err = rt_gain_map_downscale_linear(m, ctx->image, lin);
    if (!err) err = shading_gain(m, lin, wd, rlow, f->px_per_mm, amount);
    if (!err) err = rt_gain_map_apply_soft_light(m, ctx->image, region, (size_t)w, layer, lx, ly);
done:
    rt_free(low);
    rt_gain_map_destroy(m);
    rt_free(region);
    rt_free(tmp);
    return err;
}

static int portrait_volumes_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double blend = rt_task_number(ctx->task, "Alpha1");
    if (blend == 0) return 0;
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found; volumes left as they are");
        return 0;
    }
    /* the layer covers every face and neck */
    int(*roi)[4] = calloc((size_t)a->nfaces, sizeof *roi);
    if (!roi) return rt_error(RT_ERR_NOMEM, "out of memory for Portrait Volumes");
    const int W = ctx->image->width, H = ctx->image->height;
    int ux0 = W, uy0 = H, ux1 = 0, uy1 = 0;
    for (int i = 0; i < a->nfaces; i++) {
        int *r = roi[i];
        if (!face_roi(&a->faces[i], W, H, r)) {
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
    for (int i = 0; i < a->nfaces && layer && !err; i++) {
        if (roi[i][2] > 0)
            err = volume_face(ctx, a, i, roi[i], (float)(GAIN_PER_BLEND * blend), layer, ux0, uy0);
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

const rt_plugin rt_plugin_portrait_volumes = {
    .name = "Portrait Volumes",
    .needs = RT_NEEDS_FACES | RT_NEEDS_PERSON_MASK,
    .run = portrait_volumes_run,
};
