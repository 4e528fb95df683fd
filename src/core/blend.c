#include "core/blend.h"

#include <math.h>

const char *rt_blend_name(rt_blend mode)
{
    switch (mode) {
    case RT_BLEND_NORMAL:
        return "normal";
    case RT_BLEND_SOFT_LIGHT:
        return "softLight";
    case RT_BLEND_DARKEN:
        return "darken";
    case RT_BLEND_LINEAR_LIGHT:
        return "linearLight";
    case RT_BLEND_MASK:
        return "mask";
    case RT_BLEND_NONE:
        break;
    }
    return "none";
}

/* One row of one channel; mode is a compile-time constant in each caller
 * after inlining, so the switch leaves the inner loop. */
static inline void composite_row(rt_blend mode, float *restrict d, const float *restrict s,
                                 const float *restrict a, int n)
{
    for (int x = 0; x < n; x++) {
        float ax = a ? a[x] : 1.0f;
        float cb = d[x];
        float b = rt_blend_channel(mode, cb, s[x]);
        float v = cb + ax * (b - cb);
        d[x] = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
    }
}

void rt_blend_composite(rt_image *dst, const rt_image *layer, int x0, int y0, rt_blend mode)
{
    if (mode == RT_BLEND_MASK || mode == RT_BLEND_NONE) return;
    const int lw = layer->width, lh = layer->height;
    /* a 3-channel layer is opaque */
    const float *alpha = layer->channels >= 4 ? rt_image_plane(layer, 3) : NULL;
    /* the part of the layer that lies on the image */
    int lx0 = x0 < 0 ? -x0 : 0, ly0 = y0 < 0 ? -y0 : 0;
    int lx1 = lw, ly1 = lh;
    if (x0 + lx1 > dst->width) lx1 = dst->width - x0;
    if (y0 + ly1 > dst->height) ly1 = dst->height - y0;
    if (lx1 <= lx0 || ly1 <= ly0) return;
    const int n = lx1 - lx0;
#pragma omp parallel for schedule(static)
    for (int y = ly0; y < ly1; y++) {
        const float *a = alpha ? alpha + (size_t)y * lw + lx0 : NULL;
        for (int c = 0; c < 3; c++) {
            float *d = rt_image_plane(dst, c) + (size_t)(y0 + y) * dst->width + x0 + lx0;
            const float *s = rt_image_plane(layer, c) + (size_t)y * lw + lx0;
            switch (mode) {
            case RT_BLEND_NORMAL:
                composite_row(RT_BLEND_NORMAL, d, s, a, n);
                break;
            case RT_BLEND_SOFT_LIGHT:
                composite_row(RT_BLEND_SOFT_LIGHT, d, s, a, n);
                break;
            case RT_BLEND_DARKEN:
                composite_row(RT_BLEND_DARKEN, d, s, a, n);
                break;
            case RT_BLEND_LINEAR_LIGHT:
                composite_row(RT_BLEND_LINEAR_LIGHT, d, s, a, n);
                break;
            default:
                break;
            }
        }
    }
}
