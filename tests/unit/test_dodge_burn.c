/* Dodge Burn on real photos (PLUGINS.md checks): mid-band (1-10 mm)
 * luminance unevenness in skin reduced in proportion to Blend, finest
 * texture band 95-105 %, large-scale face shape kept, Warmth changes only
 * the hue of what is dodged, nothing outside skin changed, light and dark
 * skin alike, every face of a group treated, resolution invariance,
 * identity at 0, determinism, no face = no-op with a warning. */
#include "core/colour.h"
#include "face/skin.h"
#include "filters/bands.h"
#include "retouch.h"
#include "test_util.h"
#include "tone_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN "Dodge Burn"

/* The unevenness band of the check: log luminance between 1 and 10 mm. */
static double mid_ratio(const tone_photo *p, const rt_image *out)
{
    return tone_band_ratio(p->in->image, out, p->skin, 1.0f * p->px_per_mm, 10.0f * p->px_per_mm,
                           0);
}

/* The face's form: log luminance blurred at 10 mm. */
static double form_corr(const tone_photo *p, const rt_image *out, double *amplitude)
{
    return tone_form_corr(p->in->image, out, p->skin, 10.0f * p->px_per_mm, amplitude);
}

static void test_identity_at_zero(void **state)
{
    (void)state;
    const char *path = test_data("london_012_800.jpg");
    rt_decoded *in = test_decode(path), *out = tone_run(path, PLUGIN, 0, 1, 0);
    assert_true(tone_max_diff(in->image, out->image) == 0);
    rt_decoded_destroy(in);
    rt_decoded_destroy(out);
}

/* Reduction of the mid band at Blend 1, for the light/dark comparison. */
static double check_photo(const char *path, const char *label, double min_reduction)
{
    tone_photo *p = tone_photo_load(path);
    assert_true(p->a->nfaces >= 1);
    double prev = 1.0, at05 = 0, at1 = 0;
    double lab0[3];
    tone_mean_lab(p->in->image, p->skin, lab0);
    const double blends[3] = {0.5, 1.0, 2.0};
    for (int k = 0; k < 3; k++) {
        rt_decoded *out = tone_run(path, PLUGIN, blends[k], 0, 0);
        double amp, r = mid_ratio(p, out->image), form = form_corr(p, out->image, &amp);
        double outside = tone_max_diff_outside(p->in->image, out->image, p->skin);
        double tex = tone_luma_level_ratio(p->in->image, out->image, p->skin, 0);
        double lab1[3];
        tone_mean_lab(out->image, p->skin, lab1);
        double da = fabs(lab1[1] - lab0[1]), db = fabs(lab1[2] - lab0[2]);
        printf("%-26s blend %.1f: mid band %.3f, form corr %.4f amplitude %.3f, finest luma %.3f, "
               "mean da* %.2f "
               "db* %.2f, outside %.0f\n",
               label, blends[k], r, form, amp, tex, da, db, outside);
        assert_true(outside == 0);
        assert_true(r < prev);
        /* at Blend 2 a face with hot spots (the official headshot) reaches
         * 107 %: soft light darkens a near-white pixel by at most b (1 - b),
         * so the specks inside a burned highlight darken less than their
         * surroundings */
        if (blends[k] <= 1.0)
            assert_true(tex > 0.95 && tex < 1.05);
        else
            assert_true(tex > 0.93 && tex < 1.08);
        assert_true(form >= (blends[k] > 1 ? 0.97 : 0.98));
        assert_true(amp > (blends[k] > 1 ? 0.75 : 0.85) && amp < 1.1);
        /* colour ratios are kept in linear light; in CIELAB a burned
         * highlight gains a little chroma (the made-up face at Blend 2: 0.6) */
        assert_true(da < (blends[k] <= 1.0 ? 0.5 : 1.0) && db < (blends[k] <= 1.0 ? 0.5 : 1.0));
        if (blends[k] == 0.5) at05 = 1.0 - r;
        if (blends[k] == 1.0) at1 = 1.0 - r;
        prev = r;
        rt_decoded_destroy(out);
    }
    assert_true(at1 >= min_reduction);
    /* in proportion up to 1; above, the band only widens (monotone, above) */
    assert_true(at05 > 0.4 * at1 && at05 < 0.7 * at1);
    tone_photo_free(p);
    return at1;
}

static void test_light_and_dark_skin(void **state)
{
    (void)state;
    double light = check_photo(test_data("london_012_800.jpg"), "london_012 (light)", 0.3);
    double dark = check_photo(test_data("london_038_800.jpg"), "london_038 (dark)", 0.3);
    double dark2 = check_photo(test_data("headshot_obama_official_smile.jpg"), "obama (dark)", 0.3);
    /* treated alike: the same share of the band removed */
    assert_true(dark / light > 0.75 && dark / light < 1.33);
    assert_true(dark2 / light > 0.75 && dark2 / light < 1.33);
    /* half-size copies; the made-up face has less to even (hot spots soft
     * light cannot darken further, hair inside the landmark skin region) */
    const char *shared[] = {"studio_canada_110m_flash.jpg", "closeup_woman_portrait_makeup.jpg",
                            NULL};
    for (int i = 0; shared[i]; i++) {
        const char *path = test_shared(shared[i]);
        if (!path) {
            printf("skipped %s: ../shared/testimages is absent\n", shared[i]);
            continue;
        }
        rt_decoded *d = test_decode(path);
        rt_image *half = tone_half(d->image);
        char copy[512];
        snprintf(copy, sizeof copy, "%s", test_tmp("shared_half.png"));
        test_write_image(half, copy);
        check_photo(copy, shared[i], 0.2);
        rt_image_destroy(half);
        rt_decoded_destroy(d);
    }
}

/* Warmth 0 and 1 differ only in the hue of dodged pixels: the same
 * luminance, warmer (R/B up) where the layer lightened. */
static void test_warmth(void **state)
{
    (void)state;
    const char *path = test_data("london_012_800.jpg");
    rt_decoded *in = test_decode(path);
    rt_decoded *w0 = tone_run(path, PLUGIN, 1, 0, 0), *w1 = tone_run(path, PLUGIN, 1, 1, 0);
    size_t n = rt_image_pixels(in->image), dodged = 0, warmer = 0, differ = 0;
    double worst_dy = 0;
    for (size_t i = 0; i < n; i++) {
        float a[3], b[3], o[3];
        for (int c = 0; c < 3; c++) {
            o[c] = rt_srgb_to_linear(rt_image_plane(in->image, c)[i]);
            a[c] = rt_srgb_to_linear(rt_image_plane(w0->image, c)[i]);
            b[c] = rt_srgb_to_linear(rt_image_plane(w1->image, c)[i]);
        }
        float ya = rt_luminance(a[0], a[1], a[2]), yb = rt_luminance(b[0], b[1], b[2]);
        float yo = rt_luminance(o[0], o[1], o[2]);
        worst_dy = fmax(worst_dy, fabs(rt_linear_to_srgb(ya) - rt_linear_to_srgb(yb)) * 255);
        int diff = a[0] != b[0] || a[1] != b[1] || a[2] != b[2];
        differ += diff;
        if (ya > yo * 1.03f) {
            dodged++;
            warmer += b[0] / (b[2] + 1e-4f) > a[0] / (a[2] + 1e-4f);
        } else if (ya < yo * 0.995f && diff) {
            /* burned pixels: at most rounding differs */
            for (int c = 0; c < 3; c++)
                assert_true(fabsf(rt_image_plane(w0->image, c)[i] -
                                  rt_image_plane(w1->image, c)[i]) <= 1.5f / 255);
        }
    }
    printf("warmth: %zu pixels differ, %zu dodged by > 3 %%, %zu of them warmer; worst luma "
           "difference %.2f steps\n",
           differ, dodged, warmer, worst_dy);
    assert_true(dodged > 100);
    assert_true(warmer > dodged * 9 / 10);
    assert_true(worst_dy <= 2.0);
    rt_decoded_destroy(in);
    rt_decoded_destroy(w0);
    rt_decoded_destroy(w1);
}

/* A near-white hot spot (the 15 cm selfie's nose tip) is not burned, nor its
 * ring: soft light cannot darken the spot itself, so burning around it left
 * a speckled, contrasty highlight.  Skin pixels at or above 0.8 linear
 * luminance may not darken by more than a rounding step. */
static void test_hot_spots_not_burned(void **state)
{
    (void)state;
    const char *path = test_shared("selfie_closeup_15cm_phone.jpg");
    if (!path) {
        printf("shared test images absent: hot-spot check skipped\n");
        return;
    }
    tone_photo *p = tone_photo_load(path);
    rt_decoded *out = tone_run(path, PLUGIN, 1, 0, 0);
    const rt_image *in = p->in->image, *o = out->image;
    size_t n = rt_image_pixels(in), hot = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (p->skin[i] < 0.5f) continue;
        float y = rt_luminance(rt_srgb_to_linear(rt_image_plane(in, 0)[i]),
                               rt_srgb_to_linear(rt_image_plane(in, 1)[i]),
                               rt_srgb_to_linear(rt_image_plane(in, 2)[i]));
        if (y < 0.8f) continue;
        hot++;
        for (int c = 0; c < 3; c++)
            worst = fmax(worst, (rt_image_plane(in, c)[i] - rt_image_plane(o, c)[i]) * 255.0);
    }
    printf("hot spots: %zu skin pixels at >= 0.8 linear, darkest change %.2f steps\n", hot, worst);
    assert_true(hot > 50);
    assert_true(worst <= 1.5);
    rt_decoded_destroy(out);
    tone_photo_free(p);
}

static void test_threads_same_bytes(void **state)
{
    (void)state;
    const char *path = test_data("london_038_800.jpg");
    rt_decoded *a = tone_run(path, PLUGIN, 1.5, 0.7, 1), *b = tone_run(path, PLUGIN, 1.5, 0.7, 2);
    assert_true(tone_max_diff(a->image, b->image) == 0);
    rt_decoded_destroy(a);
    rt_decoded_destroy(b);
}

/* The same photo at two sizes: the same look once both are at the small size. */
static void test_resolution_invariance(void **state)
{
    (void)state;
    const char *src = test_shared("studio_canada_110m_flash.jpg");
    char path[512];
    snprintf(path, sizeof path, "%s", src ? src : test_data("london_012_800.jpg"));
    rt_decoded *orig = test_decode(path);
    rt_image *large = orig->image;
    rt_image *tmp = NULL;
    if (large->width > 1300) large = tmp = tone_half(large); /* 1350x1800 -> 675x900 */
    rt_image *small = tone_half(large);
    char lp[512], sp[512];
    snprintf(lp, sizeof lp, "%s", test_tmp("large.png"));
    snprintf(sp, sizeof sp, "%s", test_tmp("small.png"));
    test_write_image(large, lp);
    test_write_image(small, sp);
    rt_decoded *ol = tone_run(lp, PLUGIN, 2, 0, 0), *os = tone_run(sp, PLUGIN, 2, 0, 0);
    rt_image *down = tone_half(ol->image);
    tone_photo *ps = tone_photo_load(sp);
    int x0, y0, w, h;
    assert_true(rt_face_skin_bounds(ps->a, 0, &x0, &y0, &w, &h));
    if (x0 + w > down->width) w = down->width - x0;
    if (y0 + h > down->height) h = down->height - y0;
    double ssim = tone_ssim(down, os->image, x0, y0, w, h);
    /* the effects themselves agree: the difference of the two results is
     * small next to the effect */
    double diff = 0, eff = 0;
    for (int c = 0; c < 3; c++)
        for (int y = y0; y < y0 + h; y++)
            for (int x = x0; x < x0 + w; x++) {
                size_t i = (size_t)y * down->width + x;
                double e = rt_image_plane(os->image, c)[i] - rt_image_plane(small, c)[i];
                double d = rt_image_plane(os->image, c)[i] - rt_image_plane(down, c)[i];
                eff += e * e;
                diff += d * d;
            }
    printf("resolution: SSIM %.4f over the skin box, effect mismatch %.3f\n", ssim,
           sqrt(diff / eff));
    assert_true(ssim >= 0.98);
    assert_true(sqrt(diff / eff) < 0.6);
    tone_photo_free(ps);
    rt_image_destroy(down);
    rt_image_destroy(small);
    rt_image_destroy(tmp);
    rt_decoded_destroy(ol);
    rt_decoded_destroy(os);
    rt_decoded_destroy(orig);
}

/* Every face of the group photo (grey, 29 small faces) is evened. */
static void test_group_every_face(void **state)
{
    (void)state;
    const char *path = test_data("group_solvay_1927.jpg");
    tone_photo *p = tone_photo_load(path);
    printf("group: %d faces\n", p->a->nfaces);
    assert_true(p->a->nfaces >= 25);
    rt_decoded *out = tone_run(path, PLUGIN, 1, 0, 0);
    int W = p->in->image->width;
    for (int f = 0; f < p->a->nfaces; f++) {
        int x0, y0, w, h;
        if (!rt_face_skin_bounds(p->a, f, &x0, &y0, &w, &h)) fail_msg("face %d: no skin", f);
        float *wt = malloc((size_t)w * h * sizeof *wt);
        assert_int_equal(rt_face_skin_weight(p->a, p->in->image, f, x0, y0, w, h, wt, (size_t)w),
                         0);
        int changed = 0, n = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                if (wt[(size_t)y * w + x] < 0.99f) continue;
                size_t i = (size_t)(y0 + y) * W + x0 + x;
                n++;
                changed += rt_image_plane(out->image, 0)[i] != rt_image_plane(p->in->image, 0)[i];
            }
        free(wt);
        if (n >= 20 && changed < n / 5)
            fail_msg("face %d at (%d, %d): %d of %d skin pixels changed", f, x0, y0, changed, n);
    }
    tone_photo_free(p);
    rt_decoded_destroy(out);
}

static void test_no_face(void **state)
{
    (void)state;
    const char *path = test_data("noface_mairi_backdrop.jpg");
    const char *payload = "{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{"
                          "\"Plugin\":\"Dodge Burn\",\"Alpha1\":2,\"Alpha2\":1}]}";
    const char *out = test_tmp("noface.png"), *meta = test_tmp("noface.json");
    assert_int_equal(test_run_job(payload, path, out, meta), 0);
    rt_decoded *a = test_decode(path), *b = test_decode(out);
    assert_true(tone_max_diff(a->image, b->image) == 0);
    char *json = test_read_file(meta, NULL);
    assert_non_null(strstr(json, "no face found"));
    free(json);
    rt_decoded_destroy(a);
    rt_decoded_destroy(b);
}

int main(void)
{
    rt_init(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_at_zero),
        cmocka_unit_test(test_light_and_dark_skin),
        cmocka_unit_test(test_warmth),
        cmocka_unit_test(test_hot_spots_not_burned),
        cmocka_unit_test(test_threads_same_bytes),
        cmocka_unit_test(test_resolution_invariance),
        cmocka_unit_test(test_group_every_face),
        cmocka_unit_test(test_no_face),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_tmpdir_cleanup();
    return rc;
}
