#include "tone_test.h"

#include "core/colour.h"
#include "face/skin.h"
#include "filters/bands.h"
#include "retouch.h"
#include "test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORE 0.99f

tone_photo *tone_photo_load(const char *path)
{
    tone_photo *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->path = path;
    p->in = test_decode(path);
    rt_face_models *models;
    assert_int_equal(rt_face_models_acquire(NULL, &models), 0);
    assert_int_equal(rt_face_analysis_create(p->in->image, models, NULL, NULL, &p->a), 0);
    rt_face_models_release(models);
    int w = p->in->image->width, h = p->in->image->height;
    p->skin = malloc((size_t)w * h * sizeof *p->skin);
    assert_non_null(p->skin);
    if (p->a->nfaces > 0) {
        assert_int_equal(
            rt_face_skin_weight(p->a, p->in->image, -1, 0, 0, w, h, p->skin, (size_t)w), 0);
        p->px_per_mm = p->a->faces[0].px_per_mm;
    } else {
        memset(p->skin, 0, (size_t)w * h * sizeof *p->skin);
    }
    return p;
}

void tone_photo_free(tone_photo *p)
{
    if (!p) return;
    rt_decoded_destroy(p->in);
    rt_face_analysis_destroy(p->a);
    free(p->skin);
    free(p);
}

rt_decoded *tone_run(const char *path, const char *plugin, double blend, double alpha2, int threads)
{
    char payload[512], extra[64] = "";
    if (alpha2 >= 0) snprintf(extra, sizeof extra, ",\"Alpha2\":%g", alpha2);
    snprintf(payload, sizeof payload,
             "{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{\"Plugin\":\"%s\","
             "\"Alpha1\":%g%s}]}",
             plugin, blend, extra);
    if (threads > 0) omp_set_num_threads(threads);
    const char *out = test_tmp("tone_out.png");
    int err = test_run_job(payload, path, out, NULL);
    if (threads > 0) omp_set_num_threads(2);
    if (err) fail_msg("%s on %s: %s", plugin, path, rt_last_error());
    return test_decode(out);
}

double tone_max_diff_outside(const rt_image *in, const rt_image *out, const float *region)
{
    double worst = 0;
    size_t n = rt_image_pixels(in);
    for (int c = 0; c < 3; c++) {
        const float *a = rt_image_plane(in, c), *b = rt_image_plane(out, c);
        for (size_t i = 0; i < n; i++)
            if (region[i] <= 0.0f) worst = fmax(worst, fabs(a[i] - b[i]) * 255.0);
    }
    return worst;
}

double tone_max_diff(const rt_image *in, const rt_image *out)
{
    return test_max_abs_diff(in, out) * 255.0;
}

static float *luma(const rt_image *im)
{
    size_t n = rt_image_pixels(im);
    float *y = malloc(n * sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        y[i] = rt_luminance(rt_image_plane(im, 0)[i], rt_image_plane(im, 1)[i],
                            rt_image_plane(im, 2)[i]);
    return y;
}

static float *core_of(const float *skin, size_t n)
{
    float *core = malloc(n * sizeof *core);
    assert_non_null(core);
    for (size_t i = 0; i < n; i++)
        core[i] = skin[i] >= CORE ? 1.0f : 0.0f;
    return core;
}

double tone_luma_level_ratio(const rt_image *in, const rt_image *out, const float *skin, int level)
{
    int w = in->width, h = in->height;
    size_t n = (size_t)w * h;
    float *core = core_of(skin, n), *d[8] = {0};
    double s[2];
    for (int k = 0; k < 2; k++) {
        float *y = luma(k ? out : in);
        for (int j = 0; j <= level; j++)
            d[j] = j == level ? rt_alloc_floats(n) : NULL;
        assert_int_equal(rt_band_atrous(y, w, h, level + 1, d, NULL), 0);
        rt_band_weighted_stats(d[level], core, n, NULL, &s[k]);
        rt_free(d[level]);
        free(y);
    }
    free(core);
    return s[1] / s[0];
}

/* Plane of one measure: 0 log linear luminance, 1 a*, 2 b*. */
static float *measure(const rt_image *im, int which)
{
    size_t n = rt_image_pixels(im);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        float r = rt_srgb_to_linear(rt_image_plane(im, 0)[i]);
        float g = rt_srgb_to_linear(rt_image_plane(im, 1)[i]);
        float b = rt_srgb_to_linear(rt_image_plane(im, 2)[i]);
        if (which == 0) {
            p[i] = logf(rt_luminance(r, g, b) + 1e-3f);
        } else {
            float L, A, B;
            rt_linear_rgb_to_lab(r, g, b, &L, &A, &B);
            p[i] = which == 1 ? A : B;
        }
    }
    return p;
}

double tone_band_ratio(const rt_image *in, const rt_image *out, const float *skin, float fine_px,
                       float coarse_px, int chroma)
{
    int w = in->width, h = in->height;
    size_t n = (size_t)w * h;
    float *core = core_of(skin, n), *band = rt_alloc_floats(n);
    double var[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        for (int m = chroma ? 1 : 0; m <= (chroma ? 2 : 0); m++) {
            float *p = measure(k ? out : in, m);
            assert_int_equal(rt_band_between(p, skin, w, h, fine_px, coarse_px, band), 0);
            double sd;
            rt_band_weighted_stats(band, core, n, NULL, &sd);
            var[k] += sd * sd;
            free(p);
        }
    rt_free(band);
    free(core);
    return sqrt(var[1] / var[0]);
}

double tone_form_corr(const rt_image *in, const rt_image *out, const float *skin, float sigma_px,
                      double *amplitude)
{
    int w = in->width, h = in->height;
    size_t n = (size_t)w * h;
    float *core = core_of(skin, n), *f[2];
    double mean[2], sd[2];
    for (int k = 0; k < 2; k++) {
        f[k] = measure(k ? out : in, 0);
        assert_int_equal(rt_band_masked_blur(f[k], skin, w, h, sigma_px, f[k], NULL), 0);
        rt_band_weighted_stats(f[k], core, n, &mean[k], &sd[k]);
    }
    double cov = 0, sw = 0;
    for (size_t i = 0; i < n; i++)
        if (core[i] > 0) {
            cov += (f[0][i] - mean[0]) * (f[1][i] - mean[1]);
            sw += 1;
        }
    cov /= sw;
    if (amplitude) *amplitude = sd[1] / sd[0];
    free(f[0]);
    free(f[1]);
    free(core);
    return cov / (sd[0] * sd[1]);
}

void tone_mean_lab(const rt_image *im, const float *skin, double lab[3])
{
    size_t n = rt_image_pixels(im);
    float *core = core_of(skin, n);
    for (int m = 0; m < 3; m++) {
        float *p = malloc(n * sizeof *p);
        assert_non_null(p);
        for (size_t i = 0; i < n; i++) {
            float L, A, B;
            rt_linear_rgb_to_lab(rt_srgb_to_linear(rt_image_plane(im, 0)[i]),
                                 rt_srgb_to_linear(rt_image_plane(im, 1)[i]),
                                 rt_srgb_to_linear(rt_image_plane(im, 2)[i]), &L, &A, &B);
            p[i] = m == 0 ? L : (m == 1 ? A : B);
        }
        rt_band_weighted_stats(p, core, n, &lab[m], NULL);
        free(p);
    }
    free(core);
}

double tone_ssim(const rt_image *a, const rt_image *b, int x0, int y0, int w, int h)
{
    size_t n = (size_t)w * h;
    float *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    float *st[5];
    for (int k = 0; k < 5; k++)
        st[k] = rt_alloc_floats(n);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)(y0 + y) * a->width + x0 + x, j = (size_t)y * w + x;
            pa[j] = 255.f * rt_luminance(rt_image_plane(a, 0)[i], rt_image_plane(a, 1)[i],
                                         rt_image_plane(a, 2)[i]);
            pb[j] = 255.f * rt_luminance(rt_image_plane(b, 0)[i], rt_image_plane(b, 1)[i],
                                         rt_image_plane(b, 2)[i]);
        }
    for (size_t i = 0; i < n; i++) {
        st[0][i] = pa[i];
        st[1][i] = pb[i];
        st[2][i] = pa[i] * pa[i];
        st[3][i] = pb[i] * pb[i];
        st[4][i] = pa[i] * pb[i];
    }
    for (int k = 0; k < 5; k++)
        assert_int_equal(rt_band_blur(st[k], w, h, 1.5f, st[k]), 0);
    const double C1 = 6.5025, C2 = 58.5225;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double ma = st[0][i], mb = st[1][i];
        double va = st[2][i] - ma * ma, vb = st[3][i] - mb * mb, cov = st[4][i] - ma * mb;
        sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
    }
    for (int k = 0; k < 5; k++)
        rt_free(st[k]);
    free(pa);
    free(pb);
    return sum / (double)n;
}

rt_image *tone_half(const rt_image *im)
{
    rt_image *out;
    assert_int_equal(rt_image_create(im->width / 2, im->height / 2, 3, &out), 0);
    for (int c = 0; c < 3; c++) {
        const float *s = rt_image_plane(im, c);
        float *d = rt_image_plane(out, c);
        for (int y = 0; y < out->height; y++)
            for (int x = 0; x < out->width; x++) {
                size_t i = (size_t)(2 * y) * im->width + 2 * x;
                d[(size_t)y * out->width + x] =
                    0.25f * (s[i] + s[i + 1] + s[i + im->width] + s[i + im->width + 1]);
            }
    }
    return out;
}
