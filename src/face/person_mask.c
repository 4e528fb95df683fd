#include "face/person_mask.h"

#include "core/error.h"
#include "core/image.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* The guided filter's coefficients are computed on the pyramid level whose
 * long side is at most this (they are smooth fields: upsampling them loses
 * nothing, computing them at 24 MP would cost seconds). */
#define GUIDE_MAX_SIDE 1024
/* Radius as a fraction of the long side: a few of the model's 256 pixels,
 * its edge uncertainty. */
#define RADIUS_FRACTION 0.01
/* Edges weaker than about sqrt(4 eps) = 0.1 in grey level are smoothed
 * over; stronger ones hold the mask's edge. */
#define EPS 2.5e-3f

static inline float luma(float r, float g, float b)
{
    return 0.299f * r + 0.587f * g + 0.114f * b;
}

/* Box mean of radius r (window clipped at the borders, divided by its true
 * size), separable running sums; tmp holds w * h floats. */
static void box_mean(const float *src, float *dst, int w, int h, int r, float *tmp)
{
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        const float *s = src + (size_t)y * w;
        float *t = tmp + (size_t)y * w;
        double acc = 0;
        int lo = 0, hi = -1;
        for (int x = 0; x < w; x++) {
            int nlo = x - r < 0 ? 0 : x - r, nhi = x + r >= w ? w - 1 : x + r;
            while (hi < nhi)
                acc += s[++hi];
            while (lo < nlo)
                acc -= s[lo++];
            t[x] = (float)(acc / (hi - lo + 1));
        }
    }
#pragma omp parallel for schedule(static)
    for (int x = 0; x < w; x++) {
        double acc = 0;
        int lo = 0, hi = -1;
        for (int y = 0; y < h; y++) {
            int nlo = y - r < 0 ? 0 : y - r, nhi = y + r >= h ? h - 1 : y + r;
            while (hi < nhi)
                acc += tmp[(size_t)(++hi) * w + x];
            while (lo < nlo)
                acc -= tmp[(size_t)(lo++) * w + x];
            dst[(size_t)y * w + x] = (float)(acc / (hi - lo + 1));
        }
    }
}

int rt_guided_filter_coefficients(const float *I, const float *p, int w, int h, int r, float eps,
                                  float *mean_a, float *mean_b)
{
    size_t n = (size_t)w * h;
    float *buf = rt_alloc_floats(n * 6);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory");
    float *mI = buf, *mp = buf + n, *mII = buf + 2 * n, *mIp = buf + 3 * n, *tmp = buf + 4 * n,
          *prod = buf + 5 * n;
    box_mean(I, mI, w, h, r, tmp);
    box_mean(p, mp, w, h, r, tmp);
    for (size_t i = 0; i < n; i++)
        prod[i] = I[i] * I[i];
    box_mean(prod, mII, w, h, r, tmp);
    for (size_t i = 0; i < n; i++)
        prod[i] = I[i] * p[i];
    box_mean(prod, mIp, w, h, r, tmp);
    /* a, b per window (into mII, mIp), then their means */
    for (size_t i = 0; i < n; i++) {
        float var = mII[i] - mI[i] * mI[i], cov = mIp[i] - mI[i] * mp[i];
        float a = cov / (var + eps);
        mII[i] = a;
        mIp[i] = mp[i] - a * mI[i];
    }
    box_mean(mII, mean_a, w, h, r, tmp);
    box_mean(mIp, mean_b, w, h, r, tmp);
    rt_free(buf);
    return 0;
}

/* Bilinear resampling of src (sw x sh) stretched onto dst (dw x dh), pixel
 * centres aligned (edges extended). */
static void resize_bilinear(const float *src, int sw, int sh, float *dst, int dw, int dh)
{
#pragma omp parallel for schedule(static)
    for (int y = 0; y < dh; y++) {
        float fy = (float)((y + 0.5) * sh / dh - 0.5);
        int y0 = (int)floorf(fy);
        float ty = fy - (float)y0;
        int y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 < 0 ? 0 : y1;
        for (int x = 0; x < dw; x++) {
            float fx = (float)((x + 0.5) * sw / dw - 0.5);
            int x0 = (int)floorf(fx);
            float tx = fx - (float)x0;
            int x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            x0 = x0 < 0 ? 0 : x0;
            x1 = x1 < 0 ? 0 : x1;
            const float *r0 = src + (size_t)y0 * sw, *r1 = src + (size_t)y1 * sw;
            float a = r0[x0] + tx * (r0[x1] - r0[x0]), b = r1[x0] + tx * (r1[x1] - r1[x0]);
            dst[(size_t)y * dw + x] = a + ty * (b - a);
        }
    }
}

static inline float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

/* q = A I + B at full resolution, A and B upsampled bilinearly from the
 * guide level; one byte per pixel.  Per row: A and B interpolated between
 * guide rows, then across to full width, then one vectorisable pass over
 * the pixels (the full-resolution pass is most of the mask's cost). */
static int apply_full(const rt_image *im, const float *A, const float *B, int gw, int gh,
                      uint8_t *out)
{
    const int W = im->width, H = im->height;
    int *x0 = malloc((size_t)W * sizeof *x0);
    float *tx = malloc((size_t)W * sizeof *tx);
    int nt = omp_get_max_threads();
    float *rows = rt_alloc_floats((size_t)nt * 2 * ((size_t)gw + W));
    if (!x0 || !tx || !rows) {
        free(x0);
        free(tx);
        rt_free(rows);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    for (int x = 0; x < W; x++) {
        float fx = (float)((x + 0.5) * gw / W - 0.5);
        int i = (int)floorf(fx);
        float t = fx - (float)i;
        if (i < 0) {
            i = 0;
            t = 0;
        }
        if (i >= gw - 1) {
            i = gw - 1 > 0 ? gw - 2 : 0;
            t = gw > 1 ? 1.0f : 0.0f;
        }
        x0[x] = i;
        tx[x] = t;
    }
    const float *R = rt_image_plane(im, 0), *G = rt_image_plane(im, 1), *Bl = rt_image_plane(im, 2);
    const int x1off = gw > 1 ? 1 : 0;
#pragma omp parallel num_threads(nt)
    {
        float *ar = rows + (size_t)omp_get_thread_num() * 2 * ((size_t)gw + W);
        float *br = ar + gw, *aw = br + gw, *bw = aw + W;
#pragma omp for schedule(static)
        for (int y = 0; y < H; y++) {
            float fy = (float)((y + 0.5) * gh / H - 0.5);
            int j = (int)floorf(fy);
            float ty = fy - (float)j;
            int j1 = j + 1 < gh ? j + 1 : gh - 1;
            j = j < 0 ? 0 : j;
            j1 = j1 < 0 ? 0 : j1;
            for (int i = 0; i < gw; i++) {
                float a0 = A[(size_t)j * gw + i], a1 = A[(size_t)j1 * gw + i];
                float b0 = B[(size_t)j * gw + i], b1 = B[(size_t)j1 * gw + i];
                ar[i] = a0 + ty * (a1 - a0);
                br[i] = b0 + ty * (b1 - b0);
            }
            for (int x = 0; x < W; x++) {
                int i = x0[x];
                aw[x] = ar[i] + tx[x] * (ar[i + x1off] - ar[i]);
                bw[x] = br[i] + tx[x] * (br[i + x1off] - br[i]);
            }
            const size_t o = (size_t)y * W;
            const float *r = R + o, *g = G + o, *b = Bl + o;
            uint8_t *d = out + o;
            for (int x = 0; x < W; x++) {
                float q = aw[x] * luma(r[x], g[x], b[x]) + bw[x];
                q = q < 0.0f ? 0.0f : (q > 1.0f ? 1.0f : q);
                d[x] = (uint8_t)(q * 255.0f + 0.5f);
            }
        }
    }
    free(x0);
    free(tx);
    rt_free(rows);
    return 0;
}

int rt_person_mask_create(nn_model *selfie, const rt_face_pyramid *pyr, rt_person_mask **out)
{
    *out = NULL;
    const nn_tensor_info *in = nn_model_input(selfie, 0);
    const int mw = in->shape[2], mh = in->shape[1];
    if (nn_model_output(selfie, 0)->size != (size_t)mw * mh)
        return rt_error(RT_ERR_MODEL, "selfie: unexpected output size");
    const int level = rt_face_pyramid_level_for(pyr, GUIDE_MAX_SIDE);
    const rt_image *g = pyr->level[level];
    const int gw = g->width, gh = g->height;
    const size_t gn = (size_t)gw * gh;
    const int W = pyr->width, H = pyr->height;

    rt_person_mask *m = calloc(1, sizeof *m);
    float *input = malloc(in->size * sizeof *input);
    float *prob = malloc((size_t)mw * mh * sizeof *prob);
    float *work = rt_alloc_floats(gn * 4);
    if (m) m->low = rt_alloc_floats(gn);
    if (m) m->full = malloc((size_t)W * H);
    int err = 0;
    if (!m || !input || !prob || !work || !m->low || !m->full) {
        err = rt_error(RT_ERR_NOMEM, "out of memory for the person mask");
        goto done;
    }
    m->width = W;
    m->height = H;
    m->low_w = gw;
    m->low_h = gh;

    /* the whole image stretched onto the model's square, RGB in [0, 1] */
    rt_affine to_image = {{(double)W / mw, 0, 0, 0, (double)H / mh, 0}};
    rt_face_sample_crop(pyr, &to_image, mw, mh, 1.0f, 0.0f, input);
    if ((err = nn_model_run(selfie, (const float *const[]){input}, (float *const[]){prob})))
        goto done;

    float *I = work, *p = work + gn, *A = work + 2 * gn, *B = work + 3 * gn;
    const float *R = rt_image_plane(g, 0), *G = rt_image_plane(g, 1), *Bl = rt_image_plane(g, 2);
    for (size_t i = 0; i < gn; i++)
        I[i] = luma(R[i], G[i], Bl[i]);
    resize_bilinear(prob, mw, mh, p, gw, gh);
    int L = gw > gh ? gw : gh;
    int r = (int)lround(L * RADIUS_FRACTION);
    if (r < 2) r = 2;
    if ((err = rt_guided_filter_coefficients(I, p, gw, gh, r, EPS, A, B))) goto done;
    double sum = 0;
    for (size_t i = 0; i < gn; i++) {
        m->low[i] = clamp01(A[i] * I[i] + B[i]);
        sum += m->low[i];
    }
    m->coverage = (float)(sum / (double)gn);
    err = apply_full(pyr->level[0], A, B, gw, gh, m->full);
done:
    free(input);
    free(prob);
    rt_free(work);
    if (err) {
        rt_person_mask_destroy(m);
        return err;
    }
    *out = m;
    return 0;
}

void rt_person_mask_destroy(rt_person_mask *m)
{
    if (!m) return;
    free(m->full);
    rt_free(m->low);
    free(m);
}

void rt_person_mask_roi(const rt_person_mask *m, int x0, int y0, int w, int h, float *dst,
                        size_t stride)
{
    for (int y = 0; y < h; y++) {
        float *d = dst + (size_t)y * stride;
        int sy = y0 + y;
        for (int x = 0; x < w; x++) {
            int sx = x0 + x;
            d[x] = sx >= 0 && sy >= 0 && sx < m->width && sy < m->height
                       ? rt_person_mask_at(m, sx, sy)
                       : 0.0f;
        }
    }
}
