#include "filters/blur.h"

#include "core/error.h"
#include "core/image.h"

#include <math.h>
#include <stdlib.h>

int rt_gaussian_blur_plane(float *plane, int w, int h, float sigma)
{
    if (!(sigma > 0.0f)) return 0;
    int r = (int)ceilf(3.0f * sigma);
    float *k = malloc((size_t)(2 * r + 1) * sizeof *k);
    float *tmp = rt_alloc_floats((size_t)w * h);
    if (!k || !tmp) {
        free(k);
        rt_free(tmp);
        return rt_error(RT_ERR_NOMEM, "out of memory for a blur");
    }
    float sum = 0.0f;
    for (int i = -r; i <= r; i++)
        sum += k[i + r] = expf(-0.5f * (float)(i * i) / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++)
        k[i] /= sum;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        const float *in = plane + (size_t)y * w;
        float *out = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float acc = 0.0f;
            for (int i = -r; i <= r; i++) {
                int xx = x + i < 0 ? 0 : (x + i >= w ? w - 1 : x + i);
                acc += k[i + r] * in[xx];
            }
            out[x] = acc;
        }
    }
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        float *out = plane + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float acc = 0.0f;
            for (int i = -r; i <= r; i++) {
                int yy = y + i < 0 ? 0 : (y + i >= h ? h - 1 : y + i);
                acc += k[i + r] * tmp[(size_t)yy * w + x];
            }
            out[x] = acc;
        }
    }
    free(k);
    rt_free(tmp);
    return 0;
}
