/* Colour conversions for planar float images, through lookup tables (a naive
 * per-pixel powf at 24 MP costs most of a second).
 *
 * Call rt_colour_init() once (rt_init does); afterwards everything here is
 * thread-safe and allocation-free.
 */
#ifndef RT_CORE_COLOUR_H
#define RT_CORE_COLOUR_H

#define RT_COLOUR_LUT_SIZE 4096

extern float rt_srgb_to_linear_lut[RT_COLOUR_LUT_SIZE + 2];
extern float rt_linear_to_srgb_lut[RT_COLOUR_LUT_SIZE + 2];

void rt_colour_init(void);

/* Exact transfer functions (slow; for tables and tests). */
float rt_srgb_to_linear_exact(float v);
float rt_linear_to_srgb_exact(float v);

static inline float rt_lut_interp(const float *lut, float v)
{
    if (!(v > 0.0f)) return lut[0];
    if (v >= 1.0f) return lut[RT_COLOUR_LUT_SIZE];
    float f = v * (float)RT_COLOUR_LUT_SIZE;
    int i = (int)f;
    float t = f - (float)i;
    return lut[i] + t * (lut[i + 1] - lut[i]);
}

/* sRGB-encoded [0,1] -> linear light [0,1] and back (clamped to [0,1]). */
static inline float rt_srgb_to_linear(float v)
{
    return rt_lut_interp(rt_srgb_to_linear_lut, v);
}

static inline float rt_linear_to_srgb(float v)
{
    return rt_lut_interp(rt_linear_to_srgb_lut, v);
}

/* Rec. 709 / sRGB relative luminance of linear RGB. */
static inline float rt_luminance(float r, float g, float b)
{
    return 0.2126f * r + 0.7152f * g + 0.0722f * b;
}

/* Linear sRGB -> CIE L*a*b* (D65), exact (use on small images only). */
void rt_linear_rgb_to_lab(float r, float g, float b, float *L, float *a, float *bb);

#endif
