#include "filters/bands.h"

#include "core/error.h"
#include "core/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sampled Gaussian up to this sigma; box passes above. */
#define SMALL_SIGMA 2.0f

/* One pass of a sampled kernel k (radius r) along rows, missing outside:
 * each output is normalised by the kernel weight that fell inside. */
static void kernel_rows(const float *src, int w, int h, const float *k, int r, float *dst)
{
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        const float *in = src + (size_t)y * w;
        float *out = dst + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int a = x - r < 0 ? -x : -r, b = x + r >= w ? w - 1 - x : r;
            float acc = 0.0f, norm = 0.0f;
            for (int i = a; i <= b; i++) {
                acc += k[i + r] * in[x + i];
                norm += k[i + r];
            }
            out[x] = acc / norm;
        }
    }
}

static void kernel_cols(const float *src, int w, int h, const float *k, int r, float *dst)
{
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        float *out = dst + (size_t)y * w;
        int a = y - r < 0 ? -y : -r, b = y + r >= h ? h - 1 - y : r;
        float norm = 0.0f;
        for (int i = a; i <= b; i++)
            norm += k[i + r];
        for (int x = 0; x < w; x++)
            out[x] = 0.0f;
        for (int i = a; i <= b; i++) {
            const float *in = src + (size_t)(y + i) * w;
            float kk = k[i + r] / norm;
            for (int x = 0; x < w; x++)
                out[x] += kk * in[x];
        }
    }
}

/* Box mean of radius r along rows (window clipped to the row). */
static void box_rows(const float *src, int w, int h, int r, float *dst)
{
#pragma omp parallel
    {
        double *pre = malloc((size_t)(w + 1) * sizeof *pre);
#pragma omp for schedule(static)
        for (int y = 0; y < h; y++) {
            if (!pre) continue;
            const float *in = src + (size_t)y * w;
            float *out = dst + (size_t)y * w;
            pre[0] = 0.0;
            for (int x = 0; x < w; x++)
                pre[x + 1] = pre[x] + in[x];
            for (int x = 0; x < w; x++) {
                int a = x - r < 0 ? 0 : x - r, b = x + r + 1 > w ? w : x + r + 1;
                out[x] = (float)((pre[b] - pre[a]) / (double)(b - a));
            }
        }
        free(pre);
    }
}

/* Box mean of radius r along columns: a running sum per column, columns
 * split in blocks between threads (each column summed in one fixed order). */
static void box_cols(const float *src, int w, int h, int r, float *dst)
{
    enum { BLOCK = 256 };
    int nblocks = (w + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static)
    for (int bi = 0; bi < nblocks; bi++) {
        int x0 = bi * BLOCK, n = w - x0 < BLOCK ? w - x0 : BLOCK;
        double acc[BLOCK];
        for (int x = 0; x < n; x++)
            acc[x] = 0.0;
        int last = r < h - 1 ? r : h - 1; /* rows [0, last] are in the first window */
        for (int y = 0; y <= last; y++)
            for (int x = 0; x < n; x++)
                acc[x] += src[(size_t)y * w + x0 + x];
        for (int y = 0; y < h; y++) {
            int a = y - r < 0 ? 0 : y - r, b = y + r + 1 > h ? h : y + r + 1;
            double inv = 1.0 / (double)(b - a);
            float *out = dst + (size_t)y * w + x0;
            for (int x = 0; x < n; x++)
                out[x] = (float)(acc[x] * inv);
            /* slide: add row y + r + 1, drop row y - r */
            if (y + r + 1 < h)
                for (int x = 0; x < n; x++)
                    acc[x] += src[(size_t)(y + r + 1) * w + x0 + x];
            if (y - r >= 0)
                for (int x = 0; x < n; x++)
                    acc[x] -= src[(size_t)(y - r) * w + x0 + x];
        }
    }
}

/* Widths of three boxes whose succession approximates a Gaussian (Kovesi). */
static void box_radii(float sigma, int radii[3])
{
    double s2 = (double)sigma * sigma;
    int wl = (int)floor(sqrt(12.0 * s2 / 3.0 + 1.0));
    if (wl % 2 == 0) wl--;
    if (wl < 1) wl = 1;
    int m = (int)lround((12.0 * s2 - 3.0 * wl * wl - 12.0 * wl - 9.0) / (-4.0 * wl - 4.0));
    for (int i = 0; i < 3; i++)
        radii[i] = ((i < m ? wl : wl + 2) - 1) / 2;
}

int rt_band_blur(const float *src, int w, int h, float sigma, float *dst)
{
    if (!src || !dst || w <= 0 || h <= 0) return rt_error(RT_ERR_ARG, "band blur: bad arguments");
    size_t n = (size_t)w * h;
    if (!(sigma >= 0.3f)) {
        if (dst != src) memmove(dst, src, n * sizeof *dst);
        return 0;
    }
    float *tmp = rt_alloc_floats(n);
    if (!tmp) return rt_error(RT_ERR_NOMEM, "out of memory for a band blur");
    if (sigma <= SMALL_SIGMA) {
        int r = (int)ceilf(3.0f * sigma);
        float k[2 * 3 * 2 + 3];
        for (int i = -r; i <= r; i++)
            k[i + r] = expf(-0.5f * (float)(i * i) / (sigma * sigma));
        kernel_rows(src, w, h, k, r, tmp);
        kernel_cols(tmp, w, h, k, r, dst);
    } else {
        int radii[3];
        box_radii(sigma, radii);
        const float *in = src;
        for (int i = 0; i < 3; i++) {
            box_rows(in, w, h, radii[i], tmp);
            in = dst;
            box_cols(tmp, w, h, radii[i], dst);
        }
    }
    rt_free(tmp);
    return 0;
}

int rt_band_masked_blur(const float *src, const float *mask, int w, int h, float sigma, float *dst,
                        float *weight)
{
    if (!src || !mask || !dst || dst == mask || w <= 0 || h <= 0)
        return rt_error(RT_ERR_ARG, "masked blur: bad arguments");
    size_t n = (size_t)w * h;
    float *num = rt_alloc_floats(n);
    float *den = weight ? weight : rt_alloc_floats(n);
    if (!num || !den) {
        rt_free(num);
        if (den != weight) rt_free(den);
        return rt_error(RT_ERR_NOMEM, "out of memory for a masked blur");
    }
    for (size_t i = 0; i < n; i++)
        num[i] = src[i] * mask[i];
    int err = rt_band_blur(num, w, h, sigma, num);
    if (!err) err = rt_band_blur(mask, w, h, sigma, den);
    if (!err)
        for (size_t i = 0; i < n; i++)
            dst[i] = den[i] >= RT_BAND_MIN_WEIGHT ? num[i] / den[i] : 0.0f;
    rt_free(num);
    if (den != weight) rt_free(den);
    return err;
}

int rt_band_between(const float *src, const float *mask, int w, int h, float sigma_fine,
                    float sigma_coarse, float *dst)
{
    if (!src || !dst || dst == src || w <= 0 || h <= 0)
        return rt_error(RT_ERR_ARG, "band: bad arguments");
    size_t n = (size_t)w * h;
    float *coarse = rt_alloc_floats(n);
    if (!coarse) return rt_error(RT_ERR_NOMEM, "out of memory for a band");
    int err = mask ? rt_band_masked_blur(src, mask, w, h, sigma_fine, dst, NULL)
                   : rt_band_blur(src, w, h, sigma_fine, dst);
    if (!err)
        err = mask ? rt_band_masked_blur(src, mask, w, h, sigma_coarse, coarse, NULL)
                   : rt_band_blur(src, w, h, sigma_coarse, coarse);
    if (!err)
        for (size_t i = 0; i < n; i++)
            dst[i] -= coarse[i];
    rt_free(coarse);
    return err;
}

int rt_band_interior(const float *mask, int w, int h, float sigma, float *dst)
{
    if (!mask || !dst || dst == mask) return rt_error(RT_ERR_ARG, "interior: bad arguments");
    int err = rt_band_blur(mask, w, h, sigma, dst);
    if (err) return err;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        float t = (dst[i] - 0.5f) * (1.0f / 0.45f);
        t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
        dst[i] = t * t * (3.0f - 2.0f * t);
    }
    return 0;
}

static inline int mirror(int i, int n)
{
    if (n == 1) return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* One à-trous smoothing step with holes of `step` pixels. */
static void atrous_step(const float *src, int w, int h, int step, float *tmp, float *dst)
{
    static const float k[5] = {1.f / 16, 4.f / 16, 6.f / 16, 4.f / 16, 1.f / 16};
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        const float *in = src + (size_t)y * w;
        float *out = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float acc = 0.0f;
            for (int i = -2; i <= 2; i++)
                acc += k[i + 2] * in[mirror(x + i * step, w)];
            out[x] = acc;
        }
    }
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        float *out = dst + (size_t)y * w;
        for (int x = 0; x < w; x++)
            out[x] = 0.0f;
        for (int i = -2; i <= 2; i++) {
            const float *in = tmp + (size_t)mirror(y + i * step, h) * w;
            for (int x = 0; x < w; x++)
                out[x] += k[i + 2] * in[x];
        }
    }
}

int rt_band_atrous(const float *src, int w, int h, int levels, float *const *details,
                   float *residual)
{
    if (!src || w <= 0 || h <= 0 || levels < 0)
        return rt_error(RT_ERR_ARG, "a-trous: bad arguments");
    size_t n = (size_t)w * h;
    float *cur = rt_alloc_floats(n), *next = rt_alloc_floats(n), *tmp = rt_alloc_floats(n);
    if (!cur || !next || !tmp) {
        rt_free(cur);
        rt_free(next);
        rt_free(tmp);
        return rt_error(RT_ERR_NOMEM, "out of memory for an a-trous decomposition");
    }
    memcpy(cur, src, n * sizeof *cur);
    for (int j = 0; j < levels; j++) {
        atrous_step(cur, w, h, 1 << j, tmp, next);
        if (details && details[j])
            for (size_t i = 0; i < n; i++)
                details[j][i] = cur[i] - next[i];
        float *t = cur;
        cur = next;
        next = t;
    }
    if (residual) memcpy(residual, cur, n * sizeof *cur);
    rt_free(cur);
    rt_free(next);
    rt_free(tmp);
    return 0;
}

double rt_band_weighted_stats(const float *p, const float *w, size_t n, double *mean, double *std)
{
    double sw = 0.0, s = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (wi <= 0.0) continue;
        sw += wi;
        s += wi * p[i];
        ss += wi * (double)p[i] * p[i];
    }
    double m = sw > 0.0 ? s / sw : 0.0;
    double var = sw > 0.0 ? ss / sw - m * m : 0.0;
    if (mean) *mean = m;
    if (std) *std = var > 0.0 ? sqrt(var) : 0.0;
    return sw;
}
