#include "core/quantize.h"

#include <pthread.h>
#include <stdint.h>

/* Each row is stored twice over (128 values) so any 64-wide window starting
 * inside it is contiguous: the rounding loops then vectorise. */
#define ROW_STRIDE (2 * RT_DITHER_TILE)
static float dither_table[4][RT_DITHER_TILE * ROW_STRIDE];
static pthread_once_t dither_once = PTHREAD_ONCE_INIT;

static float dither_hash(int x, int y, int c)
{
    uint32_t h = (uint32_t)x * 0x9E3779B1u ^ (uint32_t)y * 0x85EBCA77u ^ (uint32_t)c * 0xC2B2AE3Du;
    h ^= h >> 16;
    h *= 0x7FEB352Du;
    h ^= h >> 15;
    h *= 0x846CA68Bu;
    h ^= h >> 16;
    return ((float)(h >> 8) * (1.0f / 16777216.0f) - 0.5f) * 0.98f;
}

static void build_table(void)
{
    for (int c = 0; c < 4; c++)
        for (int y = 0; y < RT_DITHER_TILE; y++)
            for (int x = 0; x < RT_DITHER_TILE; x++)
                dither_table[c][y * ROW_STRIDE + x] =
                    dither_table[c][y * ROW_STRIDE + x + RT_DITHER_TILE] = dither_hash(x, y, c);
}

void rt_dither_init(void)
{
    pthread_once(&dither_once, build_table);
}

const float *rt_dither_row(int y, int c)
{
    return dither_table[c & 3] + (y & (RT_DITHER_TILE - 1)) * ROW_STRIDE;
}

void rt_quantize_row(float *p, int n, int x0, int y, int c, int bits)
{
    if (bits == 16) {
        for (int x = 0; x < n; x++)
            p[x] = (float)rt_level16(p[x]) * (1.0f / 65535.0f);
        return;
    }
    const float *noise = rt_dither_row(y, c);
    for (int xb = 0; xb < n; xb += RT_DITHER_TILE) {
        /* a contiguous 64-wide window of the doubled noise row */
        const float *nz = noise + ((x0 + xb) & (RT_DITHER_TILE - 1));
        float *q = p + xb;
        int m = n - xb < RT_DITHER_TILE ? n - xb : RT_DITHER_TILE;
        for (int i = 0; i < m; i++)
            /* exact k/255 so compositing the stored layer reproduces it */
            q[i] = (float)rt_level8(q[i], nz[i]) / 255.0f;
    }
}

void rt_quantize8_interleave(const float *const *rows, int nplanes, int n, int x0, int y,
                             int dither, unsigned char *dst, int stride)
{
    const float k = dither ? 1.0f : 0.0f;
    if (nplanes == 3 && stride == 3) {
        /* all three channels in one pass, in tiles of the dither period
         * aligned to it: the noise is a plain contiguous load and the
         * interleaved stores vectorise */
        const float *n0 = rt_dither_row(y, 0), *n1 = rt_dither_row(y, 1), *n2 = rt_dither_row(y, 2);
        for (int xb = 0; xb < n;) {
            const int phase = (x0 + xb) & (RT_DITHER_TILE - 1);
            const int m = n - xb < RT_DITHER_TILE - phase ? n - xb : RT_DITHER_TILE - phase;
            const float *a0 = rows[0] + xb, *a1 = rows[1] + xb, *a2 = rows[2] + xb;
            const float *z0 = n0 + phase, *z1 = n1 + phase, *z2 = n2 + phase;
            unsigned char *o = dst + 3 * (size_t)xb;
            for (int t = 0; t < m; t++) {
                o[3 * t] = (unsigned char)rt_level8(a0[t], k * z0[t]);
                o[3 * t + 1] = (unsigned char)rt_level8(a1[t], k * z1[t]);
                o[3 * t + 2] = (unsigned char)rt_level8(a2[t], k * z2[t]);
            }
            xb += m;
        }
        return;
    }
    for (int c = 0; c < nplanes; c++) {
        const float *p = rows[c];
        const float *noise = rt_dither_row(y, c);
        for (int x = 0; x < n; x++)
            dst[(size_t)x * stride + c] = (unsigned char)rt_level8(
                p[x], dither ? noise[(x0 + x) & (RT_DITHER_TILE - 1)] : 0.0f);
    }
}

void rt_quantize_plane(float *plane, int w, int h, int x0, int y0, int c, int bits)
{
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++)
        rt_quantize_row(plane + (size_t)y * w, w, x0, y + y0, c, bits);
}
