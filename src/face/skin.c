#include "face/skin.h"

#include "core/error.h"
#include "face/regions.h"

#include <stdlib.h>
#include <string.h>

static const rt_face_visibility *face_vis(const rt_face_analysis *a, int i)
{
    return a->vis && a->vis[i].skin ? &a->vis[i] : NULL;
}

/* The skin region of the face whose forehead reaches the hairline, times
 * what the visibility grid says is bare skin (face/visibility.h); the
 * landmark region alone when the analysis has no visibility. */
static int face_skin(const rt_face_analysis *a, const rt_image *image, int i, int x0, int y0, int w,
                     int h, float *dst, size_t stride)
{
    (void)image; /* the analysis describes this image (rt_plugin_face_analysis) */
    const rt_face_visibility *v = face_vis(a, i);
    int err = rt_face_region_mask(v ? &v->lifted : &a->faces[i], RT_REGION_SKIN, RT_SKIN_FEATHER_MM,
                                  x0, y0, w, h, dst, stride);
    if (!err && v) rt_face_visibility_apply(v, v->skin, x0, y0, w, h, dst, stride);
    return err;
}

int rt_face_skin_weight(const rt_face_analysis *a, const rt_image *image, int face_index, int x0,
                        int y0, int w, int h, float *dst, size_t stride)
{
    if (!a || !dst || w <= 0 || h <= 0 || stride < (size_t)w || face_index >= a->nfaces)
        return rt_error(RT_ERR_ARG, "skin weight: bad arguments");
    if (face_index >= 0) return face_skin(a, image, face_index, x0, y0, w, h, dst, stride);
    for (int y = 0; y < h; y++)
        memset(dst + (size_t)y * stride, 0, (size_t)w * sizeof *dst);
    float *tmp = malloc((size_t)w * h * sizeof *tmp);
    if (!tmp) return rt_error(RT_ERR_NOMEM, "skin weight: out of memory");
    int err = 0;
    for (int i = 0; i < a->nfaces && !err; i++) {
        int bx, by, bw, bh;
        if (!rt_face_skin_bounds(a, i, &bx, &by, &bw, &bh)) continue;
        if (bx >= x0 + w || by >= y0 + h || bx + bw <= x0 || by + bh <= y0) continue;
        err = face_skin(a, image, i, x0, y0, w, h, tmp, (size_t)w);
        for (int y = 0; y < h && !err; y++)
            for (int x = 0; x < w; x++) {
                float v = tmp[(size_t)y * w + x];
                float *d = dst + (size_t)y * stride + x;
                if (v > *d) *d = v;
            }
    }
    free(tmp);
    return err;
}

int rt_face_skin_bounds(const rt_face_analysis *a, int face_index, int *x0, int *y0, int *w, int *h)
{
    if (!a || face_index < 0 || face_index >= a->nfaces) return 0;
    const rt_face_visibility *v = face_vis(a, face_index);
    return rt_face_region_bounds(v ? &v->lifted : &a->faces[face_index], RT_REGION_SKIN,
                                 RT_SKIN_FEATHER_MM, a->width, a->height, x0, y0, w, h);
}

int rt_face_visible_region(const rt_face_analysis *a, const rt_image *image, int face_index,
                           rt_face_region region, float feather_mm, int x0, int y0, int w, int h,
                           float *dst, size_t stride)
{
    if (!a || !dst || w <= 0 || h <= 0 || stride < (size_t)w || face_index < 0 ||
        face_index >= a->nfaces || (unsigned)region >= RT_REGION_COUNT)
        return rt_error(RT_ERR_ARG, "visible region: bad arguments");
    if (region == RT_REGION_SKIN) {
        const rt_face_visibility *v = face_vis(a, face_index);
        int err = rt_face_region_mask(v ? &v->lifted : &a->faces[face_index], RT_REGION_SKIN,
                                      feather_mm, x0, y0, w, h, dst, stride);
        if (!err && v) rt_face_visibility_apply(v, v->skin, x0, y0, w, h, dst, stride);
        (void)image;
        return err;
    }
    int err =
        rt_face_region_mask(&a->faces[face_index], region, feather_mm, x0, y0, w, h, dst, stride);
    const rt_face_visibility *v = face_vis(a, face_index);
    if (err || !v) return err;
    if (region == RT_REGION_LIPS || region == RT_REGION_INNER_MOUTH)
        rt_face_visibility_apply(v, v->lips, x0, y0, w, h, dst, stride);
    return 0;
}
