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
        for (int x = 0; x < n; x++) {
            float f = p[x] * 65535.0f + 0.5f;
            f = f > 0.0f ? (f < 65535.0f ? f : 65535.0f) : 0.0f;
            p[x] = (float)(int)f * (1.0f / 65535.0f);
        }
        return;
    }
    const float *noise = rt_dither_row(y, c);
    for (int xb = 0; xb < n; xb += RT_DITHER_TILE) {
        /* a contiguous 64-wide window of the doubled noise row */
        const float *nz = noise + ((x0 + xb) & (RT_DITHER_TILE - 1));
        float *q = p + xb;
        int m = n - xb < RT_DITHER_TILE ? n - xb : RT_DITHER_TILE;
        for (int i = 0; i < m; i++) {
            float f = q[i] * 255.0f + 0.5f + nz[i];
            f = f > 0.0f ? (f < 255.0f ? f : 255.0f) : 0.0f;
            /* exact k/255 so compositing the stored layer reproduces it */
            q[i] = (float)(int)f / 255.0f;
        }
    }
}

void rt_quantize_plane(float *plane, int w, int h, int x0, int y0, int c, int bits)
{
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++)
        rt_quantize_row(plane + (size_t)y * w, w, x0, y + y0, c, bits);
}
