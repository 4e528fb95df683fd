#include "filters/warp.h"

#include "core/error.h"
#include "filters/blur.h"
#include "filters/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fixed-point steps of the backward map y = x - d(y): the field moves a
 * pixel at most a few percent of the face, whose gradient is well under 1,
 * so the error shrinks by that factor per step. */
#define BACKWARD_ITERATIONS 4
/* Shifts below this many pixels are left out: the resampled pixel would
 * differ from the source by a fraction of a grey level. */
#define MIN_SHIFT 0.01f

int rt_warp_field_create(int x0, int y0, int w, int h, int step, rt_warp_field **out)
{
    *out = NULL;
    if (w < 1 || h < 1 || step < 1) return rt_error(RT_ERR_ARG, "warp field: empty rectangle");
    rt_warp_field *f = calloc(1, sizeof *f);
    if (!f) return rt_error(RT_ERR_NOMEM, "warp field: out of memory");
    f->x0 = x0;
    f->y0 = y0;
    f->w = w;
    f->h = h;
    f->step = step;
    f->gw = (w + step - 1) / step + 1;
    f->gh = (h + step - 1) / step + 1;
    f->dx = calloc((size_t)f->gw * f->gh, sizeof *f->dx);
    f->dy = calloc((size_t)f->gw * f->gh, sizeof *f->dy);
    if (!f->dx || !f->dy) {
        rt_warp_field_destroy(f);
        return rt_error(RT_ERR_NOMEM, "warp field: out of memory");
    }
    *out = f;
    return 0;
}

void rt_warp_field_destroy(rt_warp_field *f)
{
    if (!f) return;
    free(f->dx);
    free(f->dy);
    free(f);
}

int rt_warp_field_smooth(rt_warp_field *f, float sigma_px)
{
    float s = sigma_px / (float)f->step;
    if (s < 0.3f) return 0;
    int err = rt_gaussian_blur_plane(f->dx, f->gw, f->gh, s);
    if (!err) err = rt_gaussian_blur_plane(f->dy, f->gw, f->gh, s);
    return err;
}

static inline float ramp(float d, float margin)
{
    float s = d / margin;
    s = s < 0 ? 0 : (s > 1 ? 1 : s);
    return s * s * (3 - 2 * s);
}

void rt_warp_field_taper(rt_warp_field *f, float margin)
{
    if (margin < 1) margin = 1;
    for (int b = 0; b < f->gh; b++) {
        float y = (float)b * f->step, ry = ramp(fminf(y, (float)f->h - y), margin);
        for (int a = 0; a < f->gw; a++) {
            float x = (float)a * f->step, r = ry * ramp(fminf(x, (float)f->w - x), margin);
            f->dx[(size_t)b * f->gw + a] *= r;
            f->dy[(size_t)b * f->gw + a] *= r;
        }
    }
}

float rt_warp_field_min_jacobian(const rt_warp_field *f)
{
    float best = 1.0f, inv = 1.0f / (float)f->step;
    for (int b = 0; b < f->gh; b++)
        for (int a = 0; a < f->gw; a++) {
            int a0 = a > 0 ? a - 1 : a, a1 = a + 1 < f->gw ? a + 1 : a;
            int b0 = b > 0 ? b - 1 : b, b1 = b + 1 < f->gh ? b + 1 : b;
            if (a1 == a0 || b1 == b0) continue;
            float sx = inv / (float)(a1 - a0), sy = inv / (float)(b1 - b0);
            size_t r = (size_t)b * f->gw;
            float dxx = (f->dx[r + a1] - f->dx[r + a0]) * sx;
            float dyx = (f->dy[r + a1] - f->dy[r + a0]) * sx;
            float dxy = (f->dx[(size_t)b1 * f->gw + a] - f->dx[(size_t)b0 * f->gw + a]) * sy;
            float dyy = (f->dy[(size_t)b1 * f->gw + a] - f->dy[(size_t)b0 * f->gw + a]) * sy;
            float det = (1 + dxx) * (1 + dyy) - dxy * dyx;
            if (det < best) best = det;
        }
    return best;
}

float rt_warp_field_max_shift(const rt_warp_field *f)
{
    float best = 0;
    for (size_t i = 0; i < (size_t)f->gw * f->gh; i++)
        best = fmaxf(best, sqrtf(f->dx[i] * f->dx[i] + f->dy[i] * f->dy[i]));
    return best;
}

void rt_warp_field_scale(rt_warp_field *f, float k)
{
    for (size_t i = 0; i < (size_t)f->gw * f->gh; i++) {
        f->dx[i] *= k;
        f->dy[i] *= k;
    }
}

/* Bilinear lookup between nodes, 0 outside the rectangle. */
static inline void field_at(const rt_warp_field *f, float x, float y, float *dx, float *dy)
{
    float gx = (x - (float)f->x0) * (1.0f / (float)f->step);
    float gy = (y - (float)f->y0) * (1.0f / (float)f->step);
    *dx = *dy = 0;
    if (!(gx >= 0 && gy >= 0 && gx <= (float)(f->gw - 1) && gy <= (float)(f->gh - 1))) return;
    int a = (int)gx, b = (int)gy;
    if (a > f->gw - 2) a = f->gw - 2;
    if (b > f->gh - 2) b = f->gh - 2;
    if (a < 0 || b < 0) return; /* a one-node field */
    float tx = gx - (float)a, ty = gy - (float)b;
    size_t i = (size_t)b * f->gw + a;
    const float *X = f->dx + i, *Y = f->dy + i;
    float top = X[0] + tx * (X[1] - X[0]), bot = X[f->gw] + tx * (X[f->gw + 1] - X[f->gw]);
    *dx = top + ty * (bot - top);
    top = Y[0] + tx * (Y[1] - Y[0]);
    bot = Y[f->gw] + tx * (Y[f->gw + 1] - Y[f->gw]);
    *dy = top + ty * (bot - top);
}

void rt_warp_field_at(const rt_warp_field *f, float x, float y, float *dx, float *dy)
{
    field_at(f, x, y, dx, dy);
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* The bounding box of the nodes that move by MIN_SHIFT or more, grown by
 * one cell: outside it every pixel keeps its value. */
static int moving_box(const rt_warp_field *f, int *bx0, int *by0, int *bx1, int *by1)
{
    int a0 = f->gw, b0 = f->gh, a1 = -1, b1 = -1;
    for (int b = 0; b < f->gh; b++)
        for (int a = 0; a < f->gw; a++) {
            size_t i = (size_t)b * f->gw + a;
            if (fabsf(f->dx[i]) < MIN_SHIFT && fabsf(f->dy[i]) < MIN_SHIFT) continue;
            if (a < a0) a0 = a;
            if (a > a1) a1 = a;
            if (b < b0) b0 = b;
            if (b > b1) b1 = b;
        }
    if (a1 < 0) return 0;
    *bx0 = f->x0 + (a0 - 1) * f->step;
    *by0 = f->y0 + (b0 - 1) * f->step;
    *bx1 = f->x0 + (a1 + 1) * f->step + 1;
    *by1 = f->y0 + (b1 + 1) * f->step + 1;
    return 1;
}

int rt_warp_apply(const rt_image *src, const rt_warp_field *f, rt_image **layer, int *lx, int *ly)
{
    *layer = NULL;
    int x0, y0, x1, y1;
    if (!moving_box(f, &x0, &y0, &x1, &y1)) return 0;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > src->width) x1 = src->width;
    if (y1 > src->height) y1 = src->height;
    if (x1 <= x0 || y1 <= y0) return 0;
    int w = x1 - x0, h = y1 - y0, W = src->width, H = src->height;
    int err = rt_image_create_uninit(w, h, 4, layer);
    if (err) return err;
    *lx = x0;
    *ly = y0;
    /* the backward map at the nodes: the source point y of node p solves
     * y + d(y) = p; stored as the shift p - y, looked up once per pixel */
    rt_warp_field back = *f;
    size_t nodes = (size_t)f->gw * f->gh;
    back.dx = malloc(nodes * sizeof *back.dx);
    back.dy = malloc(nodes * sizeof *back.dy);
    if (!back.dx || !back.dy) {
        free(back.dx);
        free(back.dy);
        rt_image_destroy(*layer);
        *layer = NULL;
        return rt_error(RT_ERR_NOMEM, "warp: out of memory");
    }
    for (int b = 0; b < f->gh; b++)
        for (int a = 0; a < f->gw; a++) {
            size_t i = (size_t)b * f->gw + a;
            float px = (float)(f->x0 + a * f->step), py = (float)(f->y0 + b * f->step);
            float dx = f->dx[i], dy = f->dy[i];
            for (int it = 1; it < BACKWARD_ITERATIONS; it++)
                field_at(f, px - dx, py - dy, &dx, &dy);
            back.dx[i] = dx;
            back.dy[i] = dy;
        }
    rt_image *out = *layer;
    const float *sp[3] = {rt_image_plane(src, 0), rt_image_plane(src, 1), rt_image_plane(src, 2)};
    float *op[4] = {rt_image_plane(out, 0), rt_image_plane(out, 1), rt_image_plane(out, 2),
                    rt_image_plane(out, 3)};
#pragma omp parallel for schedule(static)
    for (int j = 0; j < h; j++) {
        for (int i = 0; i < w; i++) {
            size_t o = (size_t)j * w + i;
            int X = x0 + i, Y = y0 + j;
            float px = (float)X + 0.5f, py = (float)Y + 0.5f, dx, dy;
            field_at(&back, px, py, &dx, &dy);
            if (fabsf(dx) < MIN_SHIFT && fabsf(dy) < MIN_SHIFT) {
                for (int c = 0; c < 3; c++)
                    op[c][o] = sp[c][(size_t)Y * W + X];
                op[3][o] = 0.0f;
                continue;
            }
            /* pixel-centre coordinates of the source sample */
            float sx = px - dx - 0.5f, sy = py - dy - 0.5f;
            float fx = floorf(sx), fy = floorf(sy), wx[4], wy[4];
            rt_cubic_weights(sx - fx, wx);
            rt_cubic_weights(sy - fy, wy);
            int ix = (int)fx - 1, iy = (int)fy - 1;
            if (ix >= 0 && iy >= 0 && ix + 3 < W && iy + 3 < H) {
                /* inside: no clamping (nearly every pixel) */
                for (int c = 0; c < 3; c++) {
                    const float *r0 = sp[c] + (size_t)iy * W + ix;
                    float acc = 0;
                    for (int r = 0; r < 4; r++, r0 += W)
                        acc +=
                            wy[r] * (wx[0] * r0[0] + wx[1] * r0[1] + wx[2] * r0[2] + wx[3] * r0[3]);
                    op[c][o] = acc < 0 ? 0 : (acc > 1 ? 1 : acc);
                }
            } else {
                int xs[4], ys[4];
                for (int k = 0; k < 4; k++) {
                    xs[k] = clampi(ix + k, 0, W - 1);
                    ys[k] = clampi(iy + k, 0, H - 1);
                }
                for (int c = 0; c < 3; c++) {
                    float acc = 0;
                    for (int r = 0; r < 4; r++) {
                        const float *row = sp[c] + (size_t)ys[r] * W;
                        acc += wy[r] * (wx[0] * row[xs[0]] + wx[1] * row[xs[1]] +
                                        wx[2] * row[xs[2]] + wx[3] * row[xs[3]]);
                    }
                    op[c][o] = acc < 0 ? 0 : (acc > 1 ? 1 : acc);
                }
            }
            op[3][o] = 1.0f;
        }
    }
    free(back.dx);
    free(back.dy);
    return 0;
}
