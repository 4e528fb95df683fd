#include "filters/resample.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Source span [x0, x1) of output cell i when n source samples map onto m. */
typedef struct span {
    int first, last; /* inclusive source indices */
    float w_first, w_last, norm;
} span;

static void make_spans(int n, int m, span *s)
{
    double scale = (double)n / (double)m;
    for (int i = 0; i < m; i++) {
        double a = i * scale, b = (i + 1) * scale;
        int first = (int)floor(a), last = (int)ceil(b) - 1;
        if (last >= n) last = n - 1;
        if (last < first) last = first;
        s[i].first = first;
        s[i].last = last;
        s[i].w_first = (float)(first + 1 - a);
        s[i].w_last = (float)(b - last);
        if (first == last) s[i].w_first = s[i].w_last = (float)(b - a);
        s[i].norm = (float)(1.0 / (b - a));
    }
}

int rt_downscale_plane(const float *src, int w, int h, float *dst, int dw, int dh)
{
    span *sx = malloc((size_t)dw * sizeof *sx);
    span *sy = malloc((size_t)dh * sizeof *sy);
    if (!sx || !sy) {
        free(sx);
        free(sy);
        memset(dst, 0, (size_t)dw * dh * sizeof *dst);
        return rt_error(RT_ERR_NOMEM, "out of memory for downscaling");
    }
    int failed = 0;
    make_spans(w, dw, sx);
    make_spans(h, dh, sy);
#pragma omp parallel
    {
        float *row = malloc((size_t)dw * sizeof *row);
        if (!row) __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
#pragma omp for schedule(static)
        for (int oy = 0; oy < dh; oy++) {
            float *out = dst + (size_t)oy * dw;
            for (int ox = 0; ox < dw; ox++)
                out[ox] = 0.0f;
            if (!row) continue;
            for (int y = sy[oy].first; y <= sy[oy].last; y++) {
                float wy =
                    y == sy[oy].first ? sy[oy].w_first : (y == sy[oy].last ? sy[oy].w_last : 1.0f);
                const float *in = src + (size_t)y * w;
                for (int ox = 0; ox < dw; ox++) {
                    const span *s = &sx[ox];
                    float acc = in[s->first] * s->w_first;
                    for (int x = s->first + 1; x < s->last; x++)
                        acc += in[x];
                    if (s->last > s->first) acc += in[s->last] * s->w_last;
                    row[ox] = acc * s->norm;
                }
                for (int ox = 0; ox < dw; ox++)
                    out[ox] += wy * row[ox];
            }
            for (int ox = 0; ox < dw; ox++)
                out[ox] *= sy[oy].norm;
        }
        free(row);
    }
    free(sx);
    free(sy);
    return failed ? rt_error(RT_ERR_NOMEM, "out of memory for downscaling") : 0;
}

int rt_downscale(const rt_image *src, int max_side, rt_image **out)
{
    int w = src->width, h = src->height;
    int longest = w > h ? w : h;
    if (longest <= max_side) return rt_image_copy(src, out);
    double s = (double)max_side / longest;
    int dw = (int)lround(w * s), dh = (int)lround(h * s);
    if (dw < 1) dw = 1;
    if (dh < 1) dh = 1;
    int err = rt_image_create_uninit(dw, dh, src->channels, out);
    if (err) return err;
    for (int c = 0; c < src->channels && !err; c++)
        err = rt_downscale_plane(rt_image_plane(src, c), w, h, rt_image_plane(*out, c), dw, dh);
    if (err) {
        rt_image_destroy(*out);
        *out = NULL;
    }
    return err;
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static void crop_plane(const float *src, int w, int x0, int y0, float *dst, int ow, int oh)
{
#pragma omp parallel for schedule(static)
    for (int v = 0; v < oh; v++)
        memcpy(dst + (size_t)v * ow, src + (size_t)(y0 + v) * w + x0, (size_t)ow * sizeof *dst);
}

/* four lanes: GCC and clang vector extensions, any target */
typedef float v4sf __attribute__((vector_size(16)));

#define PREFETCH_AHEAD 64

/* Rotates one or more planes with shared sample positions and weights. */
static void rotate_planes(const float *const *src, float *const *dst, int nplanes, int w, int h,
                          const rt_rotate_crop *rc)
{
    const double a = rc->angle_deg * M_PI / 180.0;
    const float ca = (float)cos(a), sa = (float)sin(a);
    const int ow = rc->out_w, oh = rc->out_h;
    /* source coordinates with pixel centres at integers */
    const float cx = (float)rc->cx - 0.5f, cy = (float)rc->cy - 0.5f;
#pragma omp parallel for schedule(static)
    for (int v = 0; v < oh; v++) {
        float yv = (float)v + 0.5f - 0.5f * (float)oh;
        for (int u = 0; u < ow; u++) {
            float xu = (float)u + 0.5f - 0.5f * (float)ow;
            if ((u & 15) == 0) {
                /* the rows climb across cache lines diagonally, which the
                 * hardware prefetcher does not follow: fetch ahead */
                float pxu = xu + PREFETCH_AHEAD;
                int px = (int)(cx + pxu * ca - yv * sa) - 1,
                    py = (int)(cy + pxu * sa + yv * ca) - 1;
                if (px >= 0 && py >= 0 && px + 3 < w && py + 3 < h)
                    for (int p = 0; p < nplanes; p++)
                        for (int j = 0; j < 4; j++)
                            __builtin_prefetch(src[p] + (size_t)(py + j) * w + px, 0, 0);
            }
            float sx = cx + xu * ca - yv * sa;
            float sy = cy + xu * sa + yv * ca;
            float fx = floorf(sx), fy = floorf(sy);
            int ix = (int)fx - 1, iy = (int)fy - 1;
            float wx[4], wy[4];
            rt_cubic_weights(sx - fx, wx);
            rt_cubic_weights(sy - fy, wy);
            if (ix >= 0 && iy >= 0 && ix + 3 < w && iy + 3 < h) {
                /* inside: no clamping (nearly every pixel) */
                const size_t base = (size_t)iy * (size_t)w + (size_t)ix;
                v4sf vx, r[4];
                memcpy(&vx, wx, sizeof vx);
                for (int p = 0; p < nplanes; p++) {
                    const float *r0 = src[p] + base;
                    /* columns first: each source row is one 4-lane vector */
                    for (int j = 0; j < 4; j++)
                        memcpy(&r[j], r0 + (size_t)j * w, sizeof r[j]);
                    v4sf col = (wy[0] * r[0] + wy[1] * r[1] + wy[2] * r[2] + wy[3] * r[3]) * vx;
                    float acc = (col[0] + col[1]) + (col[2] + col[3]);
                    dst[p][(size_t)v * ow + u] = acc < 0.0f ? 0.0f : (acc > 1.0f ? 1.0f : acc);
                }
                continue;
            }
            int xs[4];
            size_t ys[4];
            for (int i = 0; i < 4; i++) {
                xs[i] = clampi(ix + i, 0, w - 1);
                ys[i] = (size_t)clampi(iy + i, 0, h - 1) * (size_t)w;
            }
            for (int p = 0; p < nplanes; p++) {
                const float *s = src[p];
                float acc = 0.0f;
                for (int j = 0; j < 4; j++) {
                    const float *row = s + ys[j];
                    acc += wy[j] * (wx[0] * row[xs[0]] + wx[1] * row[xs[1]] + wx[2] * row[xs[2]] +
                                    wx[3] * row[xs[3]]);
                }
                dst[p][(size_t)v * ow + u] = acc < 0.0f ? 0.0f : (acc > 1.0f ? 1.0f : acc);
            }
        }
    }
}

int rt_rotate_crop_image(const rt_image *src, const float *alpha, const rt_rotate_crop *rc,
                         rt_image **out, float **out_alpha)
{
    *out = NULL;
    if (out_alpha) *out_alpha = NULL;
    if (rc->out_w < 1 || rc->out_h < 1)
        return rt_error(RT_ERR_ARG, "crop of %dx%d pixels is empty", rc->out_w, rc->out_h);
    int err = rt_image_create_uninit(rc->out_w, rc->out_h, src->channels, out);
    if (err) return err;
    float *na = NULL;
    if (alpha && out_alpha) {
        na = rt_alloc_floats((size_t)rc->out_w * rc->out_h);
        if (!na) {
            rt_image_destroy(*out);
            *out = NULL;
            return rt_error(RT_ERR_NOMEM, "out of memory");
        }
    }
    const float *srcp[RT_MAX_CHANNELS + 1];
    float *dstp[RT_MAX_CHANNELS + 1];
    int n = 0;
    for (int c = 0; c < src->channels; c++, n++) {
        srcp[n] = rt_image_plane(src, c);
        dstp[n] = rt_image_plane(*out, c);
    }
    if (na) {
        srcp[n] = alpha;
        dstp[n++] = na;
    }
    /* an integer-aligned pure crop is a copy: no resampling blur */
    double x0 = rc->cx - 0.5 * rc->out_w, y0 = rc->cy - 0.5 * rc->out_h;
    if (fabs(rc->angle_deg) < 1e-9 && fabs(x0 - round(x0)) < 1e-6 && fabs(y0 - round(y0)) < 1e-6 &&
        x0 >= -1e-6 && y0 >= -1e-6 && round(x0) + rc->out_w <= src->width &&
        round(y0) + rc->out_h <= src->height) {
        for (int p = 0; p < n; p++)
            crop_plane(srcp[p], src->width, (int)round(x0), (int)round(y0), dstp[p], rc->out_w,
                       rc->out_h);
    } else {
        rotate_planes(srcp, dstp, n, src->width, src->height, rc);
    }
    if (out_alpha) *out_alpha = na;
    return 0;
}
