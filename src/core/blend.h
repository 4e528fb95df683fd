/* Layer blend modes (W3C Compositing and Blending Level 1) and compositing.
 *
 * A layer pixel (cs, alpha) over a backdrop cb gives
 *     (1 - alpha) * cb + alpha * B(cb, cs)
 * with B the mode's blend function; linearLight(a, b) = clamp(a + 2b - 1).
 * RT_BLEND_MASK layers (Skin Mask) are greyscale masks, never composited.
 */
#ifndef RT_CORE_BLEND_H
#define RT_CORE_BLEND_H

#include "core/image.h"

#include <math.h>

typedef enum rt_blend {
    RT_BLEND_NONE, /* the plugin writes metadata or geometry, no layer */
    RT_BLEND_NORMAL,
    RT_BLEND_SOFT_LIGHT,
    RT_BLEND_DARKEN,
    RT_BLEND_LINEAR_LIGHT,
    RT_BLEND_MASK,
} rt_blend;

/* API spelling: "normal", "softLight", "darken", "linearLight", "mask", "none". */
const char *rt_blend_name(rt_blend mode);

static inline float rt_clamp01(float v)
{
    return v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
}

static inline float rt_soft_light(float cb, float cs)
{
    if (cs <= 0.5f) return cb - (1.f - 2.f * cs) * cb * (1.f - cb);
    float d = cb <= 0.25f ? ((16.f * cb - 12.f) * cb + 4.f) * cb : sqrtf(cb);
    return cb + (2.f * cs - 1.f) * (d - cb);
}

/* The soft-light colour cs for which rt_soft_light(cb, cs) = r: each branch
 * of the W3C formula inverted (cs <= 0.5 darkens, above lightens), clamped
 * to what one soft-light layer can reach from cb (darker by at most
 * cb (1 - cb), lighter up to D(cb)); r = cb gives the neutral 0.5.  How
 * the tone plugins (Skin Tone, Dodge Burn, Portrait Volumes) turn a
 * computed result into their layer (ALGORITHMS.md §1.10). */
static inline float rt_soft_light_inverse(float cb, float r)
{
    if (r < cb) {
        float k = cb * (1.f - cb);
        if (!(k > 0.f)) return 0.5f;
        float cs = 0.5f - 0.5f * (cb - r) / k;
        return cs < 0.f ? 0.f : cs;
    }
    float d = cb <= 0.25f ? ((16.f * cb - 12.f) * cb + 4.f) * cb : sqrtf(cb);
    float k = d - cb;
    if (!(k > 0.f)) return 0.5f;
    float cs = 0.5f + 0.5f * (r - cb) / k;
    return cs > 1.f ? 1.f : cs;
}

/* B(cb, cs) of one channel. */
static inline float rt_blend_channel(rt_blend mode, float cb, float cs)
{
    switch (mode) {
    case RT_BLEND_NORMAL:
        return cs;
    case RT_BLEND_SOFT_LIGHT:
        return rt_soft_light(cb, cs);
    case RT_BLEND_DARKEN:
        return cs < cb ? cs : cb;
    case RT_BLEND_LINEAR_LIGHT:
        return rt_clamp01(cb + 2.f * cs - 1.f);
    default:
        return cb;
    }
}

/* Composites a layer into the RGB planes of dst at offset (x0, y0): RGBA
 * (4 planes) or opaque RGB (3 planes).  dst has >= 3 channels. */
void rt_blend_composite(rt_image *dst, const rt_image *layer, int x0, int y0, rt_blend mode);

#endif
