#include "core/blend.h"

#include <math.h>

const char *rt_blend_name(rt_blend mode)
{
    switch (mode) {
    case RT_BLEND_NORMAL: return "normal";
    case RT_BLEND_SOFT_LIGHT: return "softLight";
    case RT_BLEND_DARKEN: return "darken";
    case RT_BLEND_LINEAR_LIGHT: return "linearLight";
    case RT_BLEND_MASK: return "mask";
    case RT_BLEND_NONE: break;
    }
    return "none";
}

static inline float soft_light(float cb, float cs)
{
    if (cs <= 0.5f)
        return cb - (1.f - 2.f * cs) * cb * (1.f - cb);
    float d = cb <= 0.25f ? ((16.f * cb - 12.f) * cb + 4.f) * cb : sqrtf(cb);
    return cb + (2.f * cs - 1.f) * (d - cb);
}

float rt_blend_channel(rt_blend mode, float cb, float cs)
{
    switch (mode) {
    case RT_BLEND_NORMAL: return cs;
    case RT_BLEND_SOFT_LIGHT: return soft_light(cb, cs);
    case RT_BLEND_DARKEN: return cs < cb ? cs : cb;
    case RT_BLEND_LINEAR_LIGHT: return rt_clamp01(cb + 2.f * cs - 1.f);
    default: return cb;
    }
}

void rt_blend_composite(rt_image *dst, const rt_image *layer, int x0, int y0, rt_blend mode)
{
    if (mode == RT_BLEND_MASK || mode == RT_BLEND_NONE)
        return;
    const int lw = layer->width, lh = layer->height;
    /* a 3-channel layer is opaque */
    const float *alpha = layer->channels >= 4 ? rt_image_plane(layer, 3) : NULL;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < lh; y++) {
        int dy = y0 + y;
        if (dy < 0 || dy >= dst->height)
            continue;
        for (int c = 0; c < 3; c++) {
            float *d = rt_image_plane(dst, c) + (size_t)dy * dst->width;
            const float *s = rt_image_plane(layer, c) + (size_t)y * lw;
            const float *a = alpha ? alpha + (size_t)y * lw : NULL;
            for (int x = 0; x < lw; x++) {
                int dx = x0 + x;
                float ax = a ? a[x] : 1.0f;
                if (dx < 0 || dx >= dst->width || ax <= 0.f)
                    continue;
                float cb = d[dx];
                float b = rt_blend_channel(mode, cb, s[x]);
                d[dx] = rt_clamp01(cb + ax * (b - cb));
            }
        }
    }
}
