#include "filters/gain_map.h"

#include "core/blend.h"
#include "core/colour.h"
#include "core/error.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Smallest change of a pixel worth a layer value. */
#define MIN_CHANGE (0.05f / 255.0f)

int rt_gain_map_create(int x0, int y0, int w, int h, int factor, int with_lum, int with_chroma,
                       rt_gain_map **out)
{
    *out = NULL;
    if (w <= 0 || h <= 0 || factor < 1) return rt_error(RT_ERR_ARG, "gain map: bad ROI");
    rt_gain_map *m = calloc(1, sizeof *m);
    if (!m) return rt_error(RT_ERR_NOMEM, "out of memory for a gain map");
    m->x0 = x0;
    m->y0 = y0;
    m->w = w;
    m->h = h;
    m->factor = factor;
    m->mw = (w + factor - 1) / factor;
    m->mh = (h + factor - 1) / factor;
    size_t n = (size_t)m->mw * m->mh;
    int ok = 1;
    if (with_lum) ok = (m->lum = rt_alloc_floats(n)) != NULL;
    for (int c = 0; c < 3 && ok && with_chroma; c++)
        ok = (m->chroma[c] = rt_alloc_floats(n)) != NULL;
    if (!ok) {
        rt_gain_map_destroy(m);
        return rt_error(RT_ERR_NOMEM, "out of memory for a gain map");
    }
    for (size_t i = 0; i < n; i++) {
        if (m->lum) m->lum[i] = 1.0f;
        for (int c = 0; c < 3; c++)
            if (m->chroma[c]) m->chroma[c][i] = 1.0f;
    }
    *out = m;
    return 0;
}

void rt_gain_map_destroy(rt_gain_map *m)
{
    if (!m) return;
    rt_free(m->lum);
    for (int c = 0; c < 3; c++)
        rt_free(m->chroma[c]);
    free(m);
}

int rt_gain_map_factor(float px_per_mm, float target_px_per_mm)
{
    if (!(px_per_mm > 0.0f) || !(target_px_per_mm > 0.0f)) return 1;
    int f = (int)floorf(px_per_mm / target_px_per_mm);
    return f < 1 ? 1 : f;
}

/* Block average of one plane (row stride `stride`) into map pixel row my. */
static void average_row(const rt_gain_map *m, const float *full, size_t stride, int my, float *dst)
{
    int f = m->factor;
    int ya = my * f, yb = ya + f > m->h ? m->h : ya + f;
    for (int mx = 0; mx < m->mw; mx++) {
        int xa = mx * f, xb = xa + f > m->w ? m->w : xa + f;
        float acc = 0.0f;
        for (int y = ya; y < yb; y++) {
            const float *row = full + (size_t)y * stride;
            for (int x = xa; x < xb; x++)
                acc += row[x];
        }
        dst[mx] = acc / (float)((yb - ya) * (xb - xa));
    }
}

int rt_gain_map_downscale_linear(const rt_gain_map *m, const rt_image *image, float *lin[3])
{
    if (!m || !image || image->channels < 3 || m->x0 < 0 || m->y0 < 0 ||
        m->x0 + m->w > image->width || m->y0 + m->h > image->height)
        return rt_error(RT_ERR_ARG, "gain map: the ROI is not inside the image");
    for (int c = 0; c < 3; c++) {
        const float *src = rt_image_plane(image, c) + (size_t)m->y0 * image->width + m->x0;
#pragma omp parallel for schedule(static)
        for (int my = 0; my < m->mh; my++) {
            float *d = lin[c] + (size_t)my * m->mw;
            average_row(m, src, (size_t)image->width, my, d);
            for (int mx = 0; mx < m->mw; mx++)
                d[mx] = rt_srgb_to_linear(d[mx]);
        }
    }
    return 0;
}

void rt_gain_map_downscale_plane(const rt_gain_map *m, const float *full, size_t stride, float *dst)
{
#pragma omp parallel for schedule(static)
    for (int my = 0; my < m->mh; my++)
        average_row(m, full, stride, my, dst + (size_t)my * m->mw);
}

int rt_soft_light_layer_create(int w, int h, rt_image **out)
{
    int err = rt_image_create_uninit(w, h, 4, out);
    if (err) return err;
    size_t n = rt_image_pixels(*out);
    for (int c = 0; c < 4; c++) {
        float *p = rt_image_plane(*out, c), v = c < 3 ? 0.5f : 0.0f;
        for (size_t i = 0; i < n; i++)
            p[i] = v;
    }
    return 0;
}

/* Soft light's room to lighten a base b, D(b) - b, and its reciprocal, as
 * tables over [0, 1] (the fused pass would otherwise take two square roots
 * and four divisions per pixel); built once, thread-safe. */
#define ROOM_LUT 4096
static float light_room[ROOM_LUT + 2], light_room_inv[ROOM_LUT + 2];
static pthread_once_t room_once = PTHREAD_ONCE_INIT;

static void build_room_tables(void)
{
    for (int i = 0; i <= ROOM_LUT + 1; i++) {
        float b = i >= ROOM_LUT ? 1.0f : (float)i / ROOM_LUT;
        float room = rt_soft_light(b, 1.0f) - b;
        light_room[i] = room;
        light_room_inv[i] = room > 1e-6f ? 1.0f / room : 1e6f;
    }
}

/* The soft-light colour that takes b to r (rt_soft_light_inverse through
 * the tables), and in *reach the fraction of the step b -> r that soft
 * light can make (1 when all of it). */
static inline float soft_light_colour(float b, float r, float *reach)
{
    float step = r - b;
    if (step < 0.0f) {
        float room = b * (1.0f - b);
        if (-step > room) {
            *reach = room > 0.0f ? room / -step : 0.0f;
            return 0.0f;
        }
        *reach = 1.0f;
        return 0.5f + 0.5f * step / room;
    }
    float room = rt_lut_interp(light_room, b), inv = rt_lut_interp(light_room_inv, b);
    if (step > room) {
        *reach = room > 0.0f ? room / step : 0.0f;
        return 1.0f;
    }
    *reach = 1.0f;
    float cs = 0.5f + 0.5f * step * inv;
    return cs > 1.0f ? 1.0f : cs;
}

/* Bilinear position of full-resolution index i on a map axis of n samples:
 * left sample and weight of the right one. */
static inline void axis_pos(int i, int factor, int n, int *i0, float *t)
{
    float v = ((float)i + 0.5f) / (float)factor - 0.5f;
    if (v <= 0.0f) {
        *i0 = 0;
        *t = 0.0f;
        return;
    }
    int k = (int)v;
    if (k >= n - 1) {
        *i0 = n - 1;
        *t = 0.0f;
        return;
    }
    *i0 = k;
    *t = v - (float)k;
}

int rt_gain_map_apply_soft_light(const rt_gain_map *m, const rt_image *image, const float *weight,
                                 size_t wstride, rt_image *layer, int lx, int ly)
{
    if (!m || !image || !weight || !layer || layer->channels != 4 || m->x0 < lx || m->y0 < ly ||
        m->x0 + m->w > lx + layer->width || m->y0 + m->h > ly + layer->height ||
        m->x0 + m->w > image->width || m->y0 + m->h > image->height)
        return rt_error(RT_ERR_ARG, "gain map: the ROI is not inside the layer and image");
    int *ix = malloc((size_t)m->w * sizeof *ix);
    float *tx = malloc((size_t)m->w * sizeof *tx);
    if (!ix || !tx) {
        free(ix);
        free(tx);
        return rt_error(RT_ERR_NOMEM, "out of memory for a gain map pass");
    }
    for (int x = 0; x < m->w; x++)
        axis_pos(x, m->factor, m->mw, &ix[x], &tx[x]);
    pthread_once(&room_once, build_room_tables);
    const int has_chroma = m->chroma[0] != NULL;
    const int nplanes = (m->lum ? 1 : 0) + (has_chroma ? 3 : 0);
    const float *planes[4];
    int np = 0;
    if (m->lum) planes[np++] = m->lum;
    for (int c = 0; c < 3 && has_chroma; c++)
        planes[np++] = m->chroma[c];
    int failed = 0;
#pragma omp parallel
    {
        /* the map rows of this image row, vertically interpolated */
        float *rows = malloc((size_t)(nplanes > 0 ? nplanes : 1) * m->mw * sizeof *rows);
        if (!rows) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int y = 0; y < m->h; y++) {
            if (!rows) continue;
            int j0;
            float ty;
            axis_pos(y, m->factor, m->mh, &j0, &ty);
            int j1 = j0 + 1 < m->mh ? j0 + 1 : j0;
            for (int p = 0; p < nplanes; p++) {
                const float *a = planes[p] + (size_t)j0 * m->mw,
                            *b = planes[p] + (size_t)j1 * m->mw;
                float *r = rows + (size_t)p * m->mw;
                for (int i = 0; i < m->mw; i++)
                    r[i] = a[i] + ty * (b[i] - a[i]);
            }
            const float *wrow = weight + (size_t)y * wstride;
            size_t io = (size_t)(m->y0 + y) * image->width + m->x0;
            size_t lo = (size_t)(m->y0 - ly + y) * layer->width + (m->x0 - lx);
            const float *src[3];
            float *dst[4];
            for (int c = 0; c < 3; c++)
                src[c] = rt_image_plane(image, c) + io;
            for (int c = 0; c < 4; c++)
                dst[c] = rt_image_plane(layer, c) + lo;
            for (int x = 0; x < m->w; x++) {
                float wt = wrow[x];
                if (!(wt > dst[3][x])) continue;
                int i0 = ix[x], i1 = i0 + 1 < m->mw ? i0 + 1 : i0;
                float t = tx[x];
                float g[4];
                for (int p = 0; p < nplanes; p++) {
                    const float *r = rows + (size_t)p * m->mw;
                    g[p] = r[i0] + t * (r[i1] - r[i0]);
                }
                float b[3], l[3], o[3];
                for (int c = 0; c < 3; c++) {
                    b[c] = src[c][x];
                    l[c] = rt_srgb_to_linear(b[c]);
                    o[c] = l[c];
                }
                int p = 0;
                float lum = m->lum ? g[p++] : 1.0f;
                if (has_chroma) {
                    float Y = rt_luminance(l[0], l[1], l[2]);
                    for (int c = 0; c < 3; c++)
                        o[c] = l[c] * g[p + c];
                    float Yo = rt_luminance(o[0], o[1], o[2]);
                    float k = Yo > 1e-6f ? Y / Yo : 1.0f;
                    for (int c = 0; c < 3; c++)
                        o[c] *= k;
                }
                float r[3], cs[3], change = 0.0f, reach = 1.0f;
                for (int c = 0; c < 3; c++) {
                    /* the difference of two table lookups: a gain of 1 gives
                     * exactly the base, whatever the tables' rounding */
                    o[c] *= lum;
                    r[c] = b[c] + (rt_linear_to_srgb(o[c]) - rt_linear_to_srgb(l[c]));
                    float d = r[c] > b[c] ? r[c] - b[c] : b[c] - r[c], k;
                    change = d > change ? d : change;
                    cs[c] = soft_light_colour(b[c], r[c], &k);
                    reach = k < reach ? k : reach;
                }
                /* below a twentieth of an 8-bit step the layer would only add
                 * its own rounding: leave the pixel out */
                if (change < MIN_CHANGE) continue;
                if (reach < 1.0f) {
                    /* a channel beyond what soft light can do from its base
                     * (highlights lightened, shadows darkened): shorten every
                     * channel's step alike, so the hue survives the clamp */
                    for (int c = 0; c < 3; c++) {
                        float k;
                        r[c] = b[c] + (rt_linear_to_srgb(l[c] + reach * (o[c] - l[c])) -
                                       rt_linear_to_srgb(l[c]));
                        cs[c] = soft_light_colour(b[c], r[c], &k);
                    }
                }
                for (int c = 0; c < 3; c++)
                    dst[c][x] = cs[c];
                dst[3][x] = wt;
            }
        }
        free(rows);
    }
    free(ix);
    free(tx);
    if (failed) return rt_error(RT_ERR_NOMEM, "out of memory for a gain map pass");
    return 0;
}
