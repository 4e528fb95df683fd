/* Quantisation to the output precision, with a deterministic sub-LSB dither.
 *
 * The dither is a hash of (x & 63, y & 63, channel): the same for any thread
 * count and any tiling, and smaller than half a step, so values that are
 * already exact 8-bit levels stay exact (strength-0 tasks are bit-exact).
 * Both the encoder and the pipeline (which rounds layers to what their PNG
 * will hold) use it, so they always agree.
 */
#ifndef RT_CORE_QUANTIZE_H
#define RT_CORE_QUANTIZE_H

#define RT_DITHER_TILE 64

/* The one rounding of every 8-bit output: the level of v (in [0,1]) plus
 * noise (a dither value, or 0), clamped to 0..255. */
static inline int rt_level8(float v, float noise)
{
    float f = v * 255.0f + 0.5f + noise;
    f = f > 0.0f ? (f < 255.0f ? f : 255.0f) : 0.0f;
    return (int)f;
}

/* The same for 16-bit output (never dithered). */
static inline int rt_level16(float v)
{
    float f = v * 65535.0f + 0.5f;
    f = f > 0.0f ? (f < 65535.0f ? f : 65535.0f) : 0.0f;
    return (int)f;
}

/* Builds the table (idempotent, thread-safe; rt_init calls it). */
void rt_dither_init(void);

/* The noise row for image row y and channel c: index it with x & 63 (the
 * row holds 128 values, the 64 repeated, so row + (x & 63) starts a
 * contiguous 64-value window). */
const float *rt_dither_row(int y, int c);

/* Rounds n values of row y (starting at column x0) of channel c in place:
 * for plugins that fuse the rounding into their own last pass (then they set
 * rt_plugin_output.quantized). */
void rt_quantize_row(float *p, int n, int x0, int y, int c, int bits);

/* Encoders: n samples of image row y, starting at column x0, from nplanes
 * float rows to 8-bit levels at dst[x * stride + c] (interleaved), with the
 * dither when dither is set. */
void rt_quantize8_interleave(const float *const *rows, int nplanes, int n, int x0, int y,
                             int dither, unsigned char *dst, int stride);

/* Rounds a w x h plane (placed at x0, y0 in the image) in place to 8-bit
 * levels (k / 255, dithered) or 16-bit levels (k / 65535). */
void rt_quantize_plane(float *plane, int w, int h, int x0, int y0, int c, int bits);

#endif
