#include "core/colour.h"

#include <math.h>

float rt_srgb_to_linear_lut[RT_COLOUR_LUT_SIZE + 2];
float rt_linear_to_srgb_lut[RT_COLOUR_LUT_SIZE + 2];

float rt_srgb_to_linear_exact(float v)
{
    if (v <= 0.04045f) return v / 12.92f;
    return powf((v + 0.055f) / 1.055f, 2.4f);
}

float rt_linear_to_srgb_exact(float v)
{
    if (v <= 0.0031308f) return v * 12.92f;
    return 1.055f * powf(v, 1.0f / 2.4f) - 0.055f;
}

void rt_colour_init(void)
{
    for (int i = 0; i <= RT_COLOUR_LUT_SIZE + 1; i++) {
        float v = (float)i / (float)RT_COLOUR_LUT_SIZE;
        if (v > 1.0f) v = 1.0f;
        rt_srgb_to_linear_lut[i] = rt_srgb_to_linear_exact(v);
        rt_linear_to_srgb_lut[i] = rt_linear_to_srgb_exact(v);
    }
}

static float lab_f(float t)
{
    const float d = 6.0f / 29.0f;
    return t > d * d * d ? cbrtf(t) : t / (3.0f * d * d) + 4.0f / 29.0f;
}

void rt_linear_rgb_to_lab(float r, float g, float b, float *L, float *a, float *bb)
{
    float X = 0.4124564f * r + 0.3575761f * g + 0.1804375f * b;
    float Y = 0.2126729f * r + 0.7151522f * g + 0.0721750f * b;
    float Z = 0.0193339f * r + 0.1191920f * g + 0.9503041f * b;
    float fx = lab_f(X / 0.95047f), fy = lab_f(Y), fz = lab_f(Z / 1.08883f);
    *L = 116.0f * fy - 16.0f;
    *a = 500.0f * (fx - fy);
    *bb = 200.0f * (fy - fz);
}
