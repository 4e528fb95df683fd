/* Portrait Volumes on real photos (PLUGINS.md checks): large-scale shading
 * contrast up with Blend (its shape kept), texture kept, nothing changed
 * outside face and neck or off the person, no halo at the face's edge,
 * light and dark skin alike, every face of a group treated, resolution
 * invariance, identity at 0, determinism, no face = no-op with a warning. */
#include "core/colour.h"
#include "face/regions.h"
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

#define PLUGIN "Portrait Volumes"

/* Pixels that may change: far from every face and neck (box of the face
 * widened 20 mm, from 10 mm above it to 110 mm below the chin) nothing
 * may, nor off the person below the face. */
static float *allowed_region(const tone_photo *p)
{
    int W = p->in->image->width, H = p->in->image->height;
    float *r = calloc((size_t)W * H, sizeof *r);
    assert_non_null(r);
    for (int f = 0; f < p->a->nfaces; f++) {
        const rt_face *fc = &p->a->faces[f];
        float m = rt_face_mm(fc, 20);
        int x0 = (int)fmaxf(0, fc->x1 - m), x1 = (int)fminf(W, fc->x2 + m);
        int y0 = (int)fmaxf(0, fc->y1 - rt_face_mm(fc, 10));
        int y1 = (int)fminf(H, fc->y2 + rt_face_mm(fc, 110));
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                r[(size_t)y * W + x] = y < fc->y2 ? 1.0f : rt_person_mask_at(p->a->person, x, y);
    }
    return r;
}

/* Mean and largest luma change (8-bit steps) in the 3 mm just outside the
 * upper face's outline (above the nose tip: below it the neck joins). */
static void halo(const tone_photo *p, const rt_image *out, double *mean, double *worst)
{
    const rt_face *f = &p->a->faces[0];
    int W = p->in->image->width, H = p->in->image->height;
    rt_point2 pts[RT_MESH_BASE_POINTS + 1];
    int n = rt_face_outline(f, pts);
    float *grown = malloc((size_t)W * H * sizeof *grown), *face = malloc((size_t)W * H * 4);
    assert_int_equal(
        rt_mask_polygon(pts, n, rt_face_mm(f, 3), 1, RT_MASK_SET, 0, 0, W, H, grown, (size_t)W), 0);
    assert_int_equal(rt_face_region_mask(f, RT_REGION_FACE, 0, 0, 0, W, H, face, (size_t)W), 0);
    float tip = f->mesh[1][1];
    double s = 0;
    int k = 0;
    *worst = 0;
    for (int y = 0; y < (int)tip && y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            if (grown[i] < 0.5f || face[i] > 0) continue;
            float a =
                rt_luminance(rt_image_plane(p->in->image, 0)[i], rt_image_plane(p->in->image, 1)[i],
                             rt_image_plane(p->in->image, 2)[i]);
            float b = rt_luminance(rt_image_plane(out, 0)[i], rt_image_plane(out, 1)[i],
                                   rt_image_plane(out, 2)[i]);
            double d = fabs(a - b) * 255;
            s += d;
            *worst = fmax(*worst, d);
            k++;
        }
    *mean = k ? s / k : 0;
    free(grown);
    free(face);
}

static void test_identity_at_zero(void **state)
{
    (void)state;
    const char *path = test_data("london_012_800.jpg");
    rt_decoded *in = test_decode(path), *out = tone_run(path, PLUGIN, 0, -1, 0);
    assert_true(tone_max_diff(in->image, out->image) == 0);
    rt_decoded_destroy(in);
    rt_decoded_destroy(out);
}

/* Gain of the large-scale shading contrast at Blend 1, for the light/dark
 * comparison. */
static double check_photo(const char *path, const char *label, double min_gain)
{
    tone_photo *p = tone_photo_load(path);
    assert_true(p->a->nfaces >= 1);
    float *allowed = allowed_region(p);
    double prev = 1.0, at1 = 0, at05 = 0;
    const double blends[3] = {0.5, 1.0, 2.0};
    for (int k = 0; k < 3; k++) {
        rt_decoded *out = tone_run(path, PLUGIN, blends[k], -1, 0);
        double amp,
            corr = tone_form_corr(p->in->image, out->image, p->skin, 6.0f * p->px_per_mm, &amp);
        double outside = tone_max_diff_outside(p->in->image, out->image, allowed);
        double tex = tone_luma_level_ratio(p->in->image, out->image, p->skin, 0);
        double hmean, hworst;
        halo(p, out->image, &hmean, &hworst);
        printf("%-26s blend %.1f: shading contrast x%.3f (corr %.4f), finest luma %.3f, halo "
               "ring mean %.2f max %.1f steps, outside %.0f\n",
               label, blends[k], amp, corr, tex, hmean, hworst, outside);
        assert_true(outside == 0);
        assert_true(amp > prev);
        assert_true(corr >= 0.98);
        assert_true(tex > 0.95 && tex < 1.05);
        assert_true(hmean < 0.5 && hworst <= 4.0);
        if (blends[k] == 0.5) at05 = amp - 1;
        if (blends[k] == 1.0) at1 = amp - 1;
        prev = amp;
        rt_decoded_destroy(out);
    }
    assert_true(at1 > min_gain);
    /* in proportion, unless highlights and the gain's limits already cap it
     * (the strongly lit, made-up face) */
    if (min_gain >= 0.08) assert_true(at05 > 0.35 * at1 && at05 < 0.75 * at1);
    free(allowed);
    tone_photo_free(p);
    return at1;
}

static void test_light_and_dark_skin(void **state)
{
    (void)state;
    double light = check_photo(test_data("london_012_800.jpg"), "london_012 (light)", 0.08);
    double dark = check_photo(test_data("london_038_800.jpg"), "london_038 (dark)", 0.08);
    double dark2 =
        check_photo(test_data("headshot_obama_official_smile.jpg"), "obama (dark)", 0.08);
    /* treated alike: the shading strengthened by a similar factor */
    assert_true(dark / light > 0.75 && dark / light < 1.33);
    assert_true(dark2 / light > 0.75 && dark2 / light < 1.33);
    /* half-size copies */
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
        check_photo(copy, shared[i], 0.05);
        rt_image_destroy(half);
        rt_decoded_destroy(d);
    }
}

static void test_threads_same_bytes(void **state)
{
    (void)state;
    const char *path = test_data("london_038_800.jpg");
    rt_decoded *a = tone_run(path, PLUGIN, 1.5, -1, 1), *b = tone_run(path, PLUGIN, 1.5, -1, 2);
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
    rt_decoded *ol = tone_run(lp, PLUGIN, 2, -1, 0), *os = tone_run(sp, PLUGIN, 2, -1, 0);
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

/* Every face of the group photo (grey, 29 small faces) is treated. */
static void test_group_every_face(void **state)
{
    (void)state;
    const char *path = test_data("group_solvay_1927.jpg");
    tone_photo *p = tone_photo_load(path);
    printf("group: %d faces\n", p->a->nfaces);
    assert_true(p->a->nfaces >= 25);
    rt_decoded *out = tone_run(path, PLUGIN, 1, -1, 0);
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
                          "\"Plugin\":\"Portrait Volumes\",\"Alpha1\":2}]}";
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
        cmocka_unit_test(test_identity_at_zero),   cmocka_unit_test(test_light_and_dark_skin),

        cmocka_unit_test(test_threads_same_bytes), cmocka_unit_test(test_resolution_invariance),
        cmocka_unit_test(test_group_every_face),   cmocka_unit_test(test_no_face),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_tmpdir_cleanup();
    return rc;
}
