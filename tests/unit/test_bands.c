/* Shared pieces of the tone plugins: band decompositions (filters/bands.h),
 * gain maps (filters/gain_map.h) and the soft-light inversion (core/blend.h). */
#include "core/blend.h"
#include "core/colour.h"
#include "core/image.h"
#include "filters/bands.h"
#include "filters/gain_map.h"
#include "retouch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static float *noise_plane(int w, int h, unsigned seed)
{
    float *p = rt_alloc_floats((size_t)w * h);
    for (int i = 0; i < w * h; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f;
    }
    return p;
}

/* The box approximation agrees with a sampled Gaussian, and a constant stays
 * constant up to the borders (outside counts as missing, not as black). */
static void test_blur(void **state)
{
    (void)state;
    const int w = 120, h = 90;
    float *p = rt_alloc_floats((size_t)w * h), *q = rt_alloc_floats((size_t)w * h);
    for (int i = 0; i < w * h; i++)
        p[i] = 0.7f;
    assert_int_equal(rt_band_blur(p, w, h, 9.0f, q), 0);
    for (int i = 0; i < w * h; i++)
        assert_true(fabsf(q[i] - 0.7f) < 1e-5f);
    /* an impulse: the blurred spread matches sigma within 5 % */
    memset(p, 0, (size_t)w * h * sizeof *p);
    p[45 * w + 60] = 1.0f;
    assert_int_equal(rt_band_blur(p, w, h, 6.0f, q), 0);
    double s = 0, sx2 = 0;
    for (int x = 0; x < w; x++) {
        s += q[45 * w + x];
        sx2 += q[45 * w + x] * (double)(x - 60) * (x - 60);
    }
    double sigma = sqrt(sx2 / s);
    assert_true(fabs(sigma - 6.0) < 0.3);
    rt_free(p);
    rt_free(q);
}

/* A masked blur never sees what the mask excludes. */
static void test_masked_blur_no_bleed(void **state)
{
    (void)state;
    const int w = 100, h = 60;
    float *p = rt_alloc_floats((size_t)w * h), *m = rt_alloc_floats((size_t)w * h);
    float *q = rt_alloc_floats((size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int in = x < 50;
            p[y * w + x] = in ? 0.3f : 0.9f;
            m[y * w + x] = in ? 1.0f : 0.0f;
        }
    assert_int_equal(rt_band_masked_blur(p, m, w, h, 12.0f, q, NULL), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < 50; x++)
            assert_true(fabsf(q[y * w + x] - 0.3f) < 1e-5f);
    /* the band between two scales of a constant is zero */
    assert_int_equal(rt_band_between(p, m, w, h, 1.0f, 10.0f, q), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < 50; x++)
            assert_true(fabsf(q[y * w + x]) < 1e-5f);
    rt_free(p);
    rt_free(m);
    rt_free(q);
}

/* À-trous levels add up to the input; the finest level holds pixel noise. */
static void test_atrous(void **state)
{
    (void)state;
    const int w = 64, h = 48, L = 4;
    float *p = noise_plane(w, h, 7), *res = rt_alloc_floats((size_t)w * h);
    float *d[4];
    for (int j = 0; j < L; j++)
        d[j] = rt_alloc_floats((size_t)w * h);
    assert_int_equal(rt_band_atrous(p, w, h, L, d, res), 0);
    for (int i = 0; i < w * h; i++) {
        float s = res[i];
        for (int j = 0; j < L; j++)
            s += d[j][i];
        assert_true(fabsf(s - p[i]) < 1e-5f);
    }
    double e0, e3;
    rt_band_weighted_stats(d[0], NULL, (size_t)w * h, NULL, &e0);
    rt_band_weighted_stats(d[3], NULL, (size_t)w * h, NULL, &e3);
    assert_true(e0 > 4 * e3);
    for (int j = 0; j < L; j++)
        rt_free(d[j]);
    rt_free(p);
    rt_free(res);
}

/* Inverting soft light then compositing gives the wanted value wherever
 * soft light can reach it; otherwise the nearest reachable one. */
static void test_soft_light_inverse(void **state)
{
    (void)state;
    for (int i = 0; i <= 100; i++) {
        float cb = i / 100.0f;
        assert_true(rt_soft_light_inverse(cb, cb) == 0.5f);
        for (int j = -20; j <= 20; j++) {
            float r = cb + j * 0.005f;
            if (r < 0 || r > 1) continue;
            float cs = rt_soft_light_inverse(cb, r);
            assert_true(cs >= 0.0f && cs <= 1.0f);
            float got = rt_soft_light(cb, cs);
            float lo = rt_soft_light(cb, 0.0f), hi = rt_soft_light(cb, 1.0f);
            float want = r < lo ? lo : (r > hi ? hi : r);
            assert_true(fabsf(got - want) < 1e-5f);
        }
    }
}

static rt_image *test_image(int w, int h)
{
    rt_image *im;
    assert_int_equal(rt_image_create(w, h, 3, &im), 0);
    for (int c = 0; c < 3; c++) {
        float *p = noise_plane(w, h, 11 + c);
        for (int i = 0; i < w * h; i++)
            rt_image_plane(im, c)[i] = 0.2f + 0.6f * p[i];
        rt_free(p);
    }
    return im;
}

static rt_image *apply(const rt_image *im, const rt_gain_map *m, const float *wt)
{
    rt_image *layer;
    assert_int_equal(rt_soft_light_layer_create(im->width, im->height, &layer), 0);
    assert_int_equal(rt_gain_map_apply_soft_light(m, im, wt, (size_t)m->w, layer, 0, 0), 0);
    return layer;
}

/* Gains of 1 give the neutral layer; a luminance gain lands where asked;
 * chroma gains keep luminance; 1 and 2 threads give the same bytes. */
static void test_gain_map(void **state)
{
    (void)state;
    const int w = 90, h = 70;
    rt_image *im = test_image(w, h);
    float *wt = rt_alloc_floats((size_t)w * h);
    for (int i = 0; i < w * h; i++)
        wt[i] = 1.0f;
    rt_gain_map *m;
    assert_int_equal(rt_gain_map_create(0, 0, w, h, 4, 1, 1, &m), 0);
    rt_image *layer = apply(im, m, wt);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < w * h; i++)
            assert_true(rt_image_plane(layer, c)[i] == 0.5f);
    rt_image_destroy(layer);

    for (int i = 0; i < m->mw * m->mh; i++) {
        m->lum[i] = 1.1f;
        m->chroma[0][i] = 1.05f;
    }
    layer = apply(im, m, wt);
    omp_set_num_threads(1);
    rt_image *layer1 = apply(im, m, wt);
    omp_set_num_threads(2);
    for (int c = 0; c < 4; c++)
        assert_memory_equal(rt_image_plane(layer, c), rt_image_plane(layer1, c),
                            (size_t)w * h * sizeof(float));
    double worst = 0;
    for (int i = 0; i < w * h; i++) {
        float l[3], o[3];
        for (int c = 0; c < 3; c++) {
            float b = rt_image_plane(im, c)[i];
            l[c] = rt_srgb_to_linear_exact(b);
            o[c] = rt_srgb_to_linear_exact(rt_soft_light(b, rt_image_plane(layer, c)[i]));
        }
        double ratio = rt_luminance(o[0], o[1], o[2]) / rt_luminance(l[0], l[1], l[2]);
        worst = fmax(worst, fabs(ratio - 1.1));
        assert_true(o[0] / o[1] > l[0] / l[1]);
    }
    assert_true(worst < 0.01);
    rt_image_destroy(layer);
    rt_image_destroy(layer1);
    rt_gain_map_destroy(m);
    rt_free(wt);
    rt_image_destroy(im);
}

int main(void)
{
    rt_init(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blur),     cmocka_unit_test(test_masked_blur_no_bleed),
        cmocka_unit_test(test_atrous),   cmocka_unit_test(test_soft_light_inverse),
        cmocka_unit_test(test_gain_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
