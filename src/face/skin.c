#include "face/skin.h"

#include "core/error.h"
#include "face/regions.h"

#include <stdlib.h>
#include <string.h>

/* First version: the landmark skin region only.  The visibility of each
 * pixel (frames, beard, hair, hands: issue "face regions that know what
 * covers the face") multiplies in here when it lands, so no plugin changes. */
static int face_skin(const rt_face_analysis *a, const rt_image *image, int i, int x0, int y0, int w,
                     int h, float *dst, size_t stride)
{
    (void)image;
    return rt_face_region_mask(&a->faces[i], RT_REGION_SKIN, RT_SKIN_FEATHER_MM, x0, y0, w, h, dst,
                               stride);
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
    return rt_face_region_bounds(&a->faces[face_index], RT_REGION_SKIN, RT_SKIN_FEATHER_MM,
                                 a->width, a->height, x0, y0, w, h);
}
