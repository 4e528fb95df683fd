/* Blend modes against the W3C Compositing and Blending Level 1 formulas. */
#include "core/blend.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

static void near(double a, double b)
{
    if (fabs(a - b) > 1e-6) fail_msg("%.8f != %.8f", a, b);
}

static void test_soft_light(void **state)
{
    (void)state;
    /* cs <= 0.5: cb - (1 - 2cs) cb (1 - cb) */
    near(rt_blend_channel(RT_BLEND_SOFT_LIGHT, 0.6f, 0.25f), 0.6 - 0.5 * 0.6 * 0.4);
    /* neutral grey leaves the backdrop unchanged */
    for (float cb = 0; cb <= 1.0f; cb += 0.125f)
        near(rt_blend_channel(RT_BLEND_SOFT_LIGHT, cb, 0.5f), cb);
    /* cs > 0.5, cb <= 0.25: D(cb) = ((16cb - 12)cb + 4)cb */
    double cb = 0.2, cs = 0.9, d = ((16 * cb - 12) * cb + 4) * cb;
    near(rt_blend_channel(RT_BLEND_SOFT_LIGHT, (float)cb, (float)cs), cb + (2 * cs - 1) * (d - cb));
    /* cs > 0.5, cb > 0.25: D(cb) = sqrt(cb) */
    cb = 0.64;
    near(rt_blend_channel(RT_BLEND_SOFT_LIGHT, (float)cb, (float)cs),
         cb + (2 * cs - 1) * (0.8 - cb));
}

static void test_other_modes(void **state)
{
    (void)state;
    near(rt_blend_channel(RT_BLEND_NORMAL, 0.3f, 0.7f), 0.7);
    near(rt_blend_channel(RT_BLEND_DARKEN, 0.3f, 0.7f), 0.3);
    near(rt_blend_channel(RT_BLEND_DARKEN, 0.8f, 0.7f), 0.7);
    near(rt_blend_channel(RT_BLEND_LINEAR_LIGHT, 0.3f, 0.6f), 0.5);
    near(rt_blend_channel(RT_BLEND_LINEAR_LIGHT, 0.9f, 0.9f), 1.0); /* clamped */
    near(rt_blend_channel(RT_BLEND_LINEAR_LIGHT, 0.1f, 0.2f), 0.0);
    near(rt_blend_channel(RT_BLEND_LINEAR_LIGHT, 0.42f, 0.5f), 0.42);
}

static void test_composite_alpha_and_offset(void **state)
{
    (void)state;
    rt_image *dst, *layer;
    assert_int_equal(rt_image_create(4, 3, 3, &dst), 0);
    assert_int_equal(rt_image_create(2, 2, 4, &layer), 0);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 12; i++)
            rt_image_plane(dst, c)[i] = 0.4f;
    for (int i = 0; i < 4; i++) {
        for (int c = 0; c < 3; c++)
            rt_image_plane(layer, c)[i] = 0.9f;
        rt_image_plane(layer, 3)[i] = 0.5f;
    }
    rt_blend_composite(dst, layer, 3, 1, RT_BLEND_NORMAL);
    /* (3,1) and (3,2) covered; (4,*) is outside the image */
    near(rt_image_plane(dst, 0)[1 * 4 + 3], 0.4 + 0.5 * (0.9 - 0.4));
    near(rt_image_plane(dst, 1)[2 * 4 + 3], 0.65);
    near(rt_image_plane(dst, 2)[0 * 4 + 3], 0.4);
    near(rt_image_plane(dst, 0)[1 * 4 + 2], 0.4);
    /* masks are never composited */
    rt_blend_composite(dst, layer, 0, 0, RT_BLEND_MASK);
    near(rt_image_plane(dst, 0)[0], 0.4);
    rt_image_destroy(layer);
    /* a 3-channel layer is opaque */
    assert_int_equal(rt_image_create(1, 1, 3, &layer), 0);
    rt_image_plane(layer, 0)[0] = 0.1f;
    rt_blend_composite(dst, layer, 0, 0, RT_BLEND_NORMAL);
    near(rt_image_plane(dst, 0)[0], 0.1);
    rt_image_destroy(layer);
    rt_image_destroy(dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soft_light),
        cmocka_unit_test(test_other_modes),
        cmocka_unit_test(test_composite_alpha_and_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
