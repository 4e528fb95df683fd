/* The face code's building blocks, without models: crop maps, the
 * pyramid and crop sampler, the mask rasteriser, the face outline, the
 * guided filter, detection merging, the age estimate and the mesh tables. */
#include "face/analysis.h"
#include "face/attributes.h"
#include "face/detect.h"
#include "face/geometry.h"
#include "face/person_mask.h"
#include "face/pyramid.h"
#include "face/regions.h"
#include "face/topology.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void square_crop_maps_centre_and_axes(void **state)
{
    /* a face rolled 30 degrees counter-clockwise: the crop's x axis runs
     * along (cos, -sin), its down axis along (sin, cos) */
    double a = 30 * M_PI / 180;
    rt_affine m = rt_affine_square_crop(500, 400, 192, a, 192);
    rt_point2 c = rt_affine_apply(&m, 96, 96);
    assert_float_equal(c.x, 500, 1e-4);
    assert_float_equal(c.y, 400, 1e-4);
    rt_point2 r = rt_affine_apply(&m, 97, 96);
    assert_float_equal(r.x - c.x, cos(a), 1e-5);
    assert_float_equal(r.y - c.y, -sin(a), 1e-5);
    rt_point2 d = rt_affine_apply(&m, 96, 97);
    assert_float_equal(d.x - c.x, sin(a), 1e-5);
    assert_float_equal(d.y - c.y, cos(a), 1e-5);
    assert_float_equal(rt_affine_scale(&m), 1.0, 1e-9);
    /* the rectangle crop stretches each axis on its own */
    rt_affine q = rt_affine_rect_crop(10, 20, 300, 150, 0, 100, 50);
    rt_point2 tl = rt_affine_apply(&q, 0, 0), br = rt_affine_apply(&q, 100, 50);
    assert_float_equal(tl.x, 10 - 150, 1e-4);
    assert_float_equal(tl.y, 20 - 75, 1e-4);
    assert_float_equal(br.x, 10 + 150, 1e-4);
    assert_float_equal(br.y, 20 + 75, 1e-4);
}

/* A horizontal ramp v(x) = x / W: box averages and bilinear samples of a
 * linear function are exact. */
static rt_image *ramp_image(int w, int h)
{
    rt_image *im;
    assert_int_equal(rt_image_create(w, h, 3, &im), 0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                rt_image_plane(im, c)[(size_t)y * w + x] = (x + 0.5f) / (float)w;
    return im;
}

static void pyramid_levels_and_crop_sampling(void **state)
{
    rt_image *im = ramp_image(4000, 3000);
    rt_face_pyramid *p;
    assert_int_equal(rt_face_pyramid_create(im, &p), 0);
    /* level 1: 3x3 blocks (4000 / 1536 rounded up), then halving */
    assert_true(p->nlevels >= 4);
    assert_int_equal(p->level[1]->width, 1334);
    assert_int_equal(p->level[1]->height, 1000);
    assert_float_equal(p->sx[1], 3.0, 0);
    assert_float_equal(p->sx[2], 6.0, 0);
    /* a full block's average is the ramp at its centre */
    /* pixel 10 averages running pixels 30-32, whose centres average 31.5 */
    float v = rt_image_plane(p->level[1], 0)[10];
    assert_float_equal(v, 31.5f / 4000.0f, 1e-6);
    /* a crop 8x smaller: sampled from a coarse level, still the ramp */
    float out[64 * 64 * 3];
    rt_affine m = {{8, 0, 1000, 0, 8, 1000}};
    rt_face_sample_crop(p, &m, 64, 64, 2.0f, -1.0f, out);
    for (int u = 0; u < 64; u += 9) {
        float x = 1000 + 8 * (u + 0.5f);
        assert_float_equal(out[(5 * 64 + u) * 3], 2.0f * x / 4000.0f - 1.0f, 2e-3);
    }
    /* outside the image: 0 before the affine value map */
    rt_affine off = {{1, 0, -500, 0, 1, -500}};
    rt_face_sample_crop(p, &off, 8, 8, 2.0f, -1.0f, out);
    assert_float_equal(out[0], -1.0f, 0);
    rt_face_pyramid_destroy(p);
    rt_image_destroy(im);
}

static double mask_sum(const float *m, int w, int h)
{
    double s = 0;
    for (int i = 0; i < w * h; i++)
        s += m[i];
    return s;
}

static void polygon_and_circle_masks(void **state)
{
    enum { W = 200, H = 200 };
    float *m = malloc(sizeof(float) * W * H);
    assert_non_null(m);
    const rt_point2 square[4] = {{50, 50}, {150, 50}, {150, 150}, {50, 150}};
    /* area kept for any feather (the ramp is symmetric about the edge) */
    const float ramps[3] = {0, 4, 12};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(rt_mask_polygon(square, 4, 0, ramps[k], RT_MASK_SET, 0, 0, W, H, m, W), 0);
        assert_float_equal(mask_sum(m, W, H), 10000, 10000 * (k ? 0.01 : 0.002));
        assert_float_equal(m[100 * W + 100], 1.0f, 0);
        assert_float_equal(m[10 * W + 10], 0.0f, 0);
    }
    /* the ramp: a pixel centre 0.5 px outside an 8 px ramp is at
     * smoothstep(0.5 - 0.5 / 8) = 0.4067 */
    assert_int_equal(rt_mask_polygon(square, 4, 0, 8, RT_MASK_SET, 0, 0, W, H, m, W), 0);
    assert_float_equal(m[100 * W + 49], 0.4067f, 1e-3);
    /* growing by 10 px gives a 120 px square (corners rounded) */
    assert_int_equal(rt_mask_polygon(square, 4, 10, 1, RT_MASK_SET, 0, 0, W, H, m, W), 0);
    assert_float_equal(mask_sum(m, W, H), 120.0 * 120.0 - (4 - M_PI) * 100, 60);
    /* a rectangle of the image: the same values as the whole, offset */
    float part[20 * 10];
    assert_int_equal(rt_mask_polygon(square, 4, 0, 8, RT_MASK_SET, 40, 95, 20, 10, part, 20), 0);
    assert_int_equal(rt_mask_polygon(square, 4, 0, 8, RT_MASK_SET, 0, 0, W, H, m, W), 0);
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 20; x++)
            assert_float_equal(part[y * 20 + x], m[(95 + y) * W + 40 + x], 0);
    /* a pentagram: its outline crosses itself and winds twice round the
     * centre, which the non-zero rule fills (even-odd would leave a hole) */
    rt_point2 star[5];
    for (int k = 0; k < 5; k++) {
        double a = -M_PI / 2 + k * 4 * M_PI / 5;
        star[k].x = (float)(100 + 90 * cos(a));
        star[k].y = (float)(100 + 90 * sin(a));
    }
    assert_int_equal(rt_mask_polygon(star, 5, 0, 1, RT_MASK_SET, 0, 0, W, H, m, W), 0);
    assert_true(m[100 * W + 100] > 0.99f);                  /* centre */
    assert_true(m[(int)(100 - 60) * W + 100] > 0.99f);      /* in the top point */
    assert_true(m[(int)(100 - 60) * W + 100 - 40] < 0.01f); /* beside it */
    /* circle area, and the combining ops */
    rt_point2 c = {100, 100};
    rt_mask_circle(c, 40, 1, RT_MASK_SET, 0, 0, W, H, m, W);
    assert_float_equal(mask_sum(m, W, H), M_PI * 1600, 20);
    rt_mask_circle(c, 20, 1, RT_MASK_MUL_INV, 0, 0, W, H, m, W);
    assert_float_equal(mask_sum(m, W, H), M_PI * (1600 - 400), 20);
    assert_float_equal(m[100 * W + 100], 0.0f, 0);
    free(m);
}

/* A face whose mesh points lie on an ellipse plus noise inside it. */
static void face_outline_is_the_convex_hull(void **state)
{
    static rt_face f;
    memset(&f, 0, sizeof f);
    for (int i = 0; i < RT_MESH_BASE_POINTS; i++) {
        double a = 2 * M_PI * i / 60.0;
        double r = i < 60 ? 1.0 : 0.9 * ((i * 7919) % 97) / 97.0; /* 60 on the rim */
        f.mesh[i][0] = (float)(300 + 100 * r * cos(a));
        f.mesh[i][1] = (float)(300 + 140 * r * sin(a));
    }
    rt_point2 hull[RT_MESH_BASE_POINTS + 1];
    int n = rt_face_outline(&f, hull);
    assert_int_equal(n, 60);
    for (int i = 0; i < n; i++) { /* convex, counter-clockwise in y-down terms */
        rt_point2 a = hull[i], b = hull[(i + 1) % n], c = hull[(i + 2) % n];
        double cross = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
        assert_true(cross > 0);
    }
    f.px_per_mm = 1;
    float *m = malloc(sizeof(float) * 600 * 600);
    assert_non_null(m);
    assert_int_equal(rt_face_region_mask(&f, RT_REGION_FACE, 0, 0, 0, 600, 600, m, 600), 0);
    double polygon_area = 0.5 * 60 * 100 * 140 * sin(2 * M_PI / 60);
    assert_float_equal(mask_sum(m, 600, 600), polygon_area, polygon_area * 0.003);
    int x0, y0, w, h;
    assert_true(rt_face_region_bounds(&f, RT_REGION_FACE, 0, 600, 600, &x0, &y0, &w, &h));
    assert_true(x0 <= 200 && y0 <= 160 && x0 + w >= 400 && y0 + h >= 440);
    free(m);
}

static void guided_filter_keeps_edges_of_the_guide(void **state)
{
    enum { W = 64, H = 32 };
    float I[W * H], p[W * H], a[W * H], b[W * H];
    /* the guide steps at x = 32; the input is a soft ramp around x = 36 */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            I[y * W + x] = x < 32 ? 0.2f : 0.8f;
            float t = (x - 28) / 16.0f;
            p[y * W + x] = t < 0 ? 0 : (t > 1 ? 1 : t);
        }
    assert_int_equal(rt_guided_filter_coefficients(I, p, W, H, 6, 1e-4f, a, b), 0);
    /* the output's steepest step moved onto the guide's edge, and is far
     * steeper than any step of the input (1/16); flat far from it */
    int y = H / 2, steepest = 0;
    float q[W], step = 0;
    for (int x = 0; x < W; x++)
        q[x] = a[y * W + x] * I[y * W + x] + b[y * W + x];
    for (int x = 0; x + 1 < W; x++)
        if (fabsf(q[x + 1] - q[x]) > step) {
            step = fabsf(q[x + 1] - q[x]);
            steepest = x;
        }
    assert_int_equal(steepest, 31);
    assert_true(step > 4.0f / 16.0f);
    assert_true(q[20] < 0.05f && q[50] > 0.95f);
    /* a flat guide: a = 0, and q is the box mean of the box mean of p */
    for (int i = 0; i < W * H; i++)
        I[i] = 0.5f;
    assert_int_equal(rt_guided_filter_coefficients(I, p, W, H, 2, 1e-4f, a, b), 0);
    double expected = 0;
    for (int k = 28; k <= 32; k++)
        for (int j = k - 2; j <= k + 2; j++)
            expected += p[y * W + j] / 25.0;
    assert_float_equal(a[y * W + 30], 0.0f, 1e-6);
    assert_float_equal(b[y * W + 30], expected, 1e-5);
}

static void weighted_suppression_merges_overlaps(void **state)
{
    rt_face_detection d[4] = {
        {.score = 0.9f, .x1 = 100, .y1 = 100, .x2 = 200, .y2 = 200},
        {.score = 0.6f, .x1 = 110, .y1 = 100, .x2 = 210, .y2 = 200}, /* same face */
        {.score = 0.7f, .x1 = 400, .y1 = 100, .x2 = 450, .y2 = 150}, /* another face */
        {.score = 0.8f, .x1 = 120, .y1 = 120, .x2 = 160, .y2 = 160}, /* inside the first */
    };
    int n = rt_face_detections_merge(d, 4, 0.3f);
    assert_int_equal(n, 2);
    assert_float_equal(d[0].score, 0.9f, 0);
    /* the merged box is the score-weighted mean of its three members */
    assert_float_equal(d[0].x1, (0.9 * 100 + 0.8 * 120 + 0.6 * 110) / 2.3, 1e-3);
    assert_float_equal(d[0].weight, 2.3f, 1e-5);
    assert_float_equal(d[1].x1, 400, 0);
    assert_int_equal(rt_face_detections_merge(d, 0, 0.3f), 0);
}

static void age_is_the_expected_bin(void **state)
{
    float p[100] = {0};
    p[30] = 0.5f;
    p[40] = 0.5f;
    assert_float_equal(rt_face_age_from_bins(p), 35.0f, 1e-4);
    memset(p, 0, sizeof p);
    p[7] = 1.0f;
    assert_float_equal(rt_face_age_from_bins(p), 7.0f, 1e-6);
}

static int in_list(const rt_index_list *l, int v)
{
    for (int i = 0; i < l->n; i++)
        if (l->idx[i] == v) return 1;
    return 0;
}

static void mesh_tables_are_consistent(void **state)
{
    /* the mirror map is an involution and swaps the left and right lists */
    for (int i = 0; i < RT_MESH_BASE_POINTS; i++) {
        assert_true(rt_mesh_mirror[i] >= 0 && rt_mesh_mirror[i] < RT_MESH_BASE_POINTS);
        assert_int_equal(rt_mesh_mirror[rt_mesh_mirror[i]], i);
    }
    const rt_index_list *pairs[3][2] = {{&rt_topo_eye[0], &rt_topo_eye[1]},
                                        {&rt_topo_brow[0], &rt_topo_brow[1]},
                                        {&rt_topo_nostrils[0], &rt_topo_nostrils[1]}};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < pairs[k][0]->n; i++)
            assert_true(in_list(pairs[k][1], rt_mesh_mirror[pairs[k][0]->idx[i]]));
    /* the oval and the lips map onto themselves, the midline points too */
    const rt_index_list *self[3] = {&rt_topo_face_oval, &rt_topo_lips_outer, &rt_topo_lips_inner};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < self[k]->n; i++)
            assert_true(in_list(self[k], rt_mesh_mirror[self[k]->idx[i]]));
    const int midline[] = {RT_MESH_NOSE_TIP, RT_MESH_CHIN, RT_MESH_GLABELLA, RT_MESH_UPPER_LIP_TOP,
                           RT_MESH_FOREHEAD_TOP};
    for (size_t i = 0; i < sizeof midline / sizeof midline[0]; i++)
        assert_int_equal(rt_mesh_mirror[midline[i]], midline[i]);
    assert_int_equal(rt_mesh_mirror[RT_MESH_MOUTH_RIGHT], RT_MESH_MOUTH_LEFT);
    assert_int_equal(rt_mesh_mirror[RT_MESH_RIGHT_EYE_OUTER], RT_MESH_LEFT_EYE_OUTER);
    /* each eye's iris-model pairs name that eye's points */
    for (int e = 0; e < 2; e++)
        for (int k = 0; k < RT_IRIS_LID_PAIRS; k++)
            assert_true(in_list(&rt_topo_eye[e], rt_iris_mesh_map[e][k].mesh));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(square_crop_maps_centre_and_axes),
        cmocka_unit_test(pyramid_levels_and_crop_sampling),
        cmocka_unit_test(polygon_and_circle_masks),
        cmocka_unit_test(face_outline_is_the_convex_hull),
        cmocka_unit_test(guided_filter_keeps_edges_of_the_guide),
        cmocka_unit_test(weighted_suppression_merges_overlaps),
        cmocka_unit_test(age_is_the_expected_bin),
        cmocka_unit_test(mesh_tables_are_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
