#include "filters/blobs.h"

#include "core/error.h"
#include "core/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Separable Gaussian in place, borders clamped: rows through a padded
 * copy and columns as weighted sums of whole rows, so both inner loops are
 * branch-free and vectorise (the levels of a scale space are many). */
static int blur(float *plane, int w, int h, float sigma)
{
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
    int failed = 0;
#pragma omp parallel
    {
        float *pad = malloc((size_t)(w + 2 * r) * sizeof *pad);
        if (!pad) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int y = 0; y < h; y++) {
            if (!pad) continue;
            const float *in = plane + (size_t)y * w;
            for (int i = 0; i < r; i++) {
                pad[i] = in[0];
                pad[w + r + i] = in[w - 1];
            }
            memcpy(pad + r, in, (size_t)w * sizeof *pad);
            float *o = tmp + (size_t)y * w;
            for (int x = 0; x < w; x++)
                o[x] = 0.0f;
            for (int i = 0; i <= 2 * r; i++) {
                const float ki = k[i], *src = pad + i;
                for (int x = 0; x < w; x++)
                    o[x] += ki * src[x];
            }
        }
        free(pad);
    }
    if (failed) {
        free(k);
        rt_free(tmp);
        return rt_error(RT_ERR_NOMEM, "out of memory for a blur");
    }
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        float *o = plane + (size_t)y * w;
        for (int x = 0; x < w; x++)
            o[x] = 0.0f;
        for (int i = -r; i <= r; i++) {
            int yy = y + i < 0 ? 0 : (y + i >= h ? h - 1 : y + i);
            const float ki = k[i + r], *src = tmp + (size_t)yy * w;
            for (int x = 0; x < w; x++)
                o[x] += ki * src[x];
        }
    }
    free(k);
    rt_free(tmp);
    return 0;
}

int rt_scale_space_create(const float *plane, int w, int h, const float *sigmas, int n,
                          rt_scale_space **out)
{
    *out = NULL;
    if (!plane || w < 3 || h < 3 || n < 2 || n > RT_SCALE_SPACE_MAX_LEVELS)
        return rt_error(RT_ERR_ARG, "scale space: needs a plane of at least 3x3 and 2..%d sigmas",
                        RT_SCALE_SPACE_MAX_LEVELS);
    for (int k = 0; k < n; k++)
        if (!(sigmas[k] > 0.0f) || (k > 0 && !(sigmas[k] > sigmas[k - 1])))
            return rt_error(RT_ERR_ARG, "scale space: sigmas must be positive and increasing");
    rt_scale_space *ss = calloc(1, sizeof *ss);
    if (!ss) return rt_error(RT_ERR_NOMEM, "out of memory for a scale space");
    ss->width = w;
    ss->height = h;
    ss->levels = n;
    size_t npx = (size_t)w * h;
    for (int k = 0; k < n; k++) {
        ss->sigma[k] = sigmas[k];
        ss->level[k] = rt_alloc_floats(npx);
        if (!ss->level[k]) {
            rt_scale_space_destroy(ss);
            return rt_error(RT_ERR_NOMEM, "out of memory for a scale space");
        }
        /* Gaussians compose: blurring level k-1 by sqrt(s_k^2 - s_{k-1}^2)
         * gives level k with a shorter kernel than blurring the plane. */
        memcpy(ss->level[k], k ? ss->level[k - 1] : plane, npx * sizeof(float));
        float prev = k ? sigmas[k - 1] : 0.0f;
        float step = sqrtf(sigmas[k] * sigmas[k] - prev * prev);
        int err = blur(ss->level[k], w, h, step);
        if (err) {
            rt_scale_space_destroy(ss);
            return err;
        }
    }
    *out = ss;
    return 0;
}

void rt_scale_space_destroy(rt_scale_space *ss)
{
    if (!ss) return;
    for (int k = 0; k < ss->levels; k++)
        rt_free(ss->level[k]);
    free(ss);
}

float rt_scale_space_sample(const rt_scale_space *ss, int k, float x, float y)
{
    float fx = x - 0.5f, fy = y - 0.5f;
    if (fx < 0) fx = 0;
    if (fy < 0) fy = 0;
    if (fx > ss->width - 1) fx = (float)(ss->width - 1);
    if (fy > ss->height - 1) fy = (float)(ss->height - 1);
    int ix = (int)fx, iy = (int)fy;
    if (ix > ss->width - 2) ix = ss->width - 2;
    if (iy > ss->height - 2) iy = ss->height - 2;
    float tx = fx - ix, ty = fy - iy;
    const float *p = ss->level[k] + (size_t)iy * ss->width + ix;
    float a = p[0] + tx * (p[1] - p[0]);
    float b = p[ss->width] + tx * (p[ss->width + 1] - p[ss->width]);
    return a + ty * (b - a);
}

static inline float dog(const rt_scale_space *ss, int k, size_t i)
{
    return ss->level[k][i] - ss->level[k + 1][i];
}

/* 1 when DoG k at pixel i is a strict extremum against its 3x3 neighbours in
 * DoGs k-1, k, k+1 (those that exist). */
static int is_extremum(const rt_scale_space *ss, int k, int x, int y, float v, int across)
{
    const int w = ss->width;
    const int ndog = ss->levels - 1;
    for (int kk = across ? k - 1 : k; kk <= (across ? k + 1 : k); kk++) {
        if (kk < 0 || kk >= ndog) continue;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                if (kk == k && dx == 0 && dy == 0) continue;
                float u = dog(ss, kk, (size_t)(y + dy) * w + (x + dx));
                if (v > 0 ? !(v > u) : !(v < u)) return 0;
            }
    }
    return 1;
}

int rt_blobs_find(const rt_scale_space *ss, const float *mask, float mask_min, float min_response,
                  int across_scales, rt_blob **out, int *count)
{
    *out = NULL;
    *count = 0;
    const int w = ss->width, h = ss->height, ndog = ss->levels - 1;
    const int rows = h - 2;
    /* Two passes over rows (count, then fill at prefix offsets) keep the
     * list's order independent of the thread schedule. */
    int *row_count = calloc((size_t)ndog * rows + 1, sizeof *row_count);
    if (!row_count) return rt_error(RT_ERR_NOMEM, "out of memory for blob detection");
    float thr = min_response > 0 ? min_response : 0.0f;
#pragma omp parallel for schedule(dynamic, 8) collapse(2)
    for (int k = 0; k < ndog; k++)
        for (int y = 1; y < h - 1; y++) {
            int c = 0;
            for (int x = 1; x < w - 1; x++) {
                size_t i = (size_t)y * w + x;
                if (mask && !(mask[i] >= mask_min)) continue;
                float v = dog(ss, k, i);
                if (!(fabsf(v) >= thr) || v == 0.0f) continue;
                c += is_extremum(ss, k, x, y, v, across_scales);
            }
            row_count[k * rows + (y - 1)] = c;
        }
    size_t total = 0;
    for (int i = 0; i < ndog * rows; i++) {
        int c = row_count[i];
        row_count[i] = (int)total;
        total += (size_t)c;
    }
    if (total == 0) {
        free(row_count);
        return 0;
    }
    rt_blob *blobs = malloc(total * sizeof *blobs);
    if (!blobs) {
        free(row_count);
        return rt_error(RT_ERR_NOMEM, "out of memory for blob detection");
    }
#pragma omp parallel for schedule(dynamic, 8) collapse(2)
    for (int k = 0; k < ndog; k++)
        for (int y = 1; y < h - 1; y++) {
            int at = row_count[k * rows + (y - 1)];
            float sigma = sqrtf(ss->sigma[k] * ss->sigma[k + 1]);
            for (int x = 1; x < w - 1; x++) {
                size_t i = (size_t)y * w + x;
                if (mask && !(mask[i] >= mask_min)) continue;
                float v = dog(ss, k, i);
                if (!(fabsf(v) >= thr) || v == 0.0f) continue;
                if (!is_extremum(ss, k, x, y, v, across_scales)) continue;
                blobs[at++] = (rt_blob){(float)x + 0.5f, (float)y + 0.5f, sigma, v, k};
            }
        }
    free(row_count);
    *out = blobs;
    *count = (int)total;
    return 0;
}
