/* Crop (PLUGINS.md checks): synthetic rotations recovered, no empty
 * corners, exact manual geometry, Layer 1 metadata only. */
#include "core/error.h"
#include "face/analysis.h"
#include "filters/crop_compose.h"
#include "filters/crop_geometry.h"
#include "filters/resample.h"
#include "filters/tilt.h"
#include "io/image_io.h"
#include "retouch.h"
#include "test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tilted photo with no empty corners: im rotated by angle (counter-
 * clockwise) about its centre, seen through a fixed central window that
 * stays inside the rotated image for any |angle| <= 15 degrees, so every
 * tilt shows the same lines. */
static rt_image *tilted(const rt_image *im, double angle)
{
    rt_crop_request req = {.width = im->width,
                           .height = im->height,
                           .angle_deg = 15.0,
                           .aspect = (double)im->width / im->height,
                           .area = 1,
                           .center_x = 0.5,
                           .center_y = 0.5};
    rt_rotate_crop rc;
    rt_crop_geometry(&req, &rc);
    rc.angle_deg = angle;
    rc.cx = im->width / 2.0;
    rc.cy = im->height / 2.0;
    rt_image *out;
    assert_int_equal(rt_rotate_crop_image(im, NULL, &rc, &out, NULL), 0);
    return out;
}

/* The confidence above which Crop AI straightens (crop.c). */
#define CONFIDENT 0.3

static double predicted_angle(const char *path, double *confidence)
{
    const char *meta = test_tmp("crop.json");
    int err = test_run_job("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\",\"Layer\":1,"
                           "\"User Params\":{\"AutoStraightenMode\":\"AI\"}}]}",
                           path, test_tmp("crop.zip"), meta);
    assert_int_equal(err, 0);
    json_error_t jerr;
    json_t *root = json_load_file(meta, 0, &jerr);
    assert_non_null(root);
    json_t *m = json_object_get(json_array_get(json_object_get(root, "plugins"), 0), "metadata");
    double a = json_real_value(json_object_get(m, "predictedAngle"));
    if (confidence) *confidence = json_real_value(json_object_get(m, "confidence"));
    json_decref(root);
    return a;
}

/* Rotates a photo through tilts of 1..15 degrees both ways and checks the
 * predicted straightening.  strict: the photo has clear background lines and
 * every tilt must be recovered within 0.5 degrees; otherwise only confident
 * predictions are held to that bound (a photo without usable lines may say
 * "not sure", never a wrong "sure"). */
static void check_rotations(const char *path, const char *label, int strict)
{
    rt_decoded *d = test_decode(path);
    rt_image *upright = tilted(d->image, 0.0);
    const char *up = test_tmp("upright.png");
    test_write_image(upright, up);
    rt_image_destroy(upright);
    double conf0;
    double p0 = predicted_angle(up, &conf0);
    printf("%-36s upright: %+.2f deg (confidence %.2f)\n", label, p0, conf0);
    const double angles[] = {1, -1, 2.5, -4, 7, -9, 12, -15, 15};
    double worst = 0;
    for (size_t k = 0; k < sizeof angles / sizeof angles[0]; k++) {
        rt_image *t = tilted(d->image, angles[k]);
        const char *tp = test_tmp("tilted.png");
        test_write_image(t, tp);
        rt_image_destroy(t);
        double conf;
        double p = predicted_angle(tp, &conf);
        /* the straightening rotation undoes the tilt (and the photo's own) */
        double err = p - (p0 - angles[k]);
        printf("%-36s tilt %+5.1f -> predicted %+6.2f (error %+.2f, confidence %.2f)\n", label,
               angles[k], p, err, conf);
        if (strict || (conf >= CONFIDENT && conf0 >= CONFIDENT)) worst = fmax(worst, fabs(err));
    }
    printf("%-36s worst error %.2f deg\n", label, worst);
    assert_true(worst <= 0.5);
    rt_decoded_destroy(d);
}

static void test_synthetic_rotations_recovered(void **state)
{
    (void)state;
    /* photos with straight background lines beside the person */
    check_rotations(test_data("mary_900.jpg"), "mary_900", 1);
    check_rotations(test_data("headshot_obama_official_smile.jpg"), "headshot_obama", 0);
    const char *mary = test_shared("environmental_mary_threequarter.jpg");
    if (mary) check_rotations(mary, "environmental_mary_threequarter", 1);
    /* photos where the person or curved things hide the lines (the person
     * mask of the face analysis is needed to ignore clothing edges): no
     * confident mistakes */
    check_rotations(test_data("obama_blueroom_900.jpg"), "obama_blueroom_900", 0);
    const char *others[] = {"group_solvay_1927_bw.png", "closeup_city_portrait_smile.jpg",
                            "standing_biden_blueroom.jpg", "tilted_selfie_lisa3_real.jpg", NULL};
    for (int i = 0; others[i]; i++) {
        const char *p = test_shared(others[i]);
        if (p) check_rotations(p, others[i], 0);
    }
}

static void test_straightening_applies_and_fills(void **state)
{
    (void)state;
    rt_decoded *d = test_decode(test_data("mary_900.jpg"));
    rt_image *t = tilted(d->image, 6.0);
    const char *tp = test_tmp("tilt6.png");
    test_write_image(t, tp);
    const char *out = test_tmp("straight.png");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\","
                                  "\"User Params\":{\"AutoStraightenMode\":\"AI\"}}]}",
                                  tp, out, NULL),
                     0);
    rt_decoded *s = test_decode(out);
    /* smaller (cropped), same aspect within a pixel */
    assert_true(s->image->width < t->width && s->image->height < t->height);
    double want_h = (double)s->image->width * t->height / t->width;
    assert_true(fabs(s->image->height - want_h) <= 1.0);
    /* no empty corners: the corner pixels are not the black of "outside" */
    int w = s->image->width, h = s->image->height;
    size_t corners[4] = {0, (size_t)w - 1, (size_t)(h - 1) * w, (size_t)h * w - 1};
    for (int k = 0; k < 4; k++) {
        double sum = 0;
        for (int c = 0; c < 3; c++)
            sum += rt_image_plane(s->image, c)[corners[k]];
        assert_true(sum > 0.02);
    }
    rt_image_destroy(t);
    rt_decoded_destroy(s);
    rt_decoded_destroy(d);
}

static void test_geometry_properties(void **state)
{
    (void)state;
    srand(42);
    for (int k = 0; k < 2000; k++) {
        rt_crop_request req = {.width = 200 + rand() % 6000,
                               .height = 200 + rand() % 6000,
                               .angle_deg = (rand() / (double)RAND_MAX - 0.5) * 90,
                               .aspect = 0.2 + 4.8 * rand() / (double)RAND_MAX,
                               .area = 0.05 + 0.95 * rand() / (double)RAND_MAX,
                               .center_x = rand() / (double)RAND_MAX,
                               .center_y = rand() / (double)RAND_MAX};
        rt_rotate_crop rc;
        rt_crop_geometry(&req, &rc);
        /* all four corners inside the source */
        double a = rc.angle_deg * M_PI / 180, ca = cos(a), sa = sin(a);
        for (int cx = -1; cx <= 1; cx += 2)
            for (int cy = -1; cy <= 1; cy += 2) {
                double u = cx * rc.out_w / 2.0, v = cy * rc.out_h / 2.0;
                double x = rc.cx + u * ca - v * sa, y = rc.cy + u * sa + v * ca;
                assert_true(x >= -1e-6 && x <= req.width + 1e-6);
                assert_true(y >= -1e-6 && y <= req.height + 1e-6);
            }
        /* the aspect within one pixel */
        if (rc.out_w > 1 && rc.out_h > 1)
            assert_true(fabs(rc.out_w / req.aspect - rc.out_h) <= 1.0 + 1.0 / req.aspect);
        /* area monotone in ManualArea */
        rt_crop_request bigger = req;
        bigger.area = fmin(1.0, req.area * 1.5);
        rt_rotate_crop rb;
        rt_crop_geometry(&bigger, &rb);
        assert_true((double)rb.out_w * rb.out_h >= (double)rc.out_w * rc.out_h);
    }
    /* the worked example of ALGORITHMS.md §18.2 */
    rt_crop_request ex = {.width = 6000,
                          .height = 4000,
                          .angle_deg = 5,
                          .aspect = 1.5,
                          .area = 1,
                          .center_x = 0.5,
                          .center_y = 0.5};
    rt_rotate_crop r;
    rt_crop_geometry(&ex, &r);
    assert_true(abs(r.out_w - 5324) <= 2 && abs(r.out_h - 3549) <= 2);
}

static void test_manual_geometry_exact(void **state)
{
    (void)state;
    const char *in = test_data("london_012_800.jpg");
    const char *png = test_tmp("l.png");
    rt_decoded *d = test_decode(in);
    test_write_image(d->image, png);
    /* no angle: a square crop of a quarter of the area, bottom-right: an
     * exact copy of the source pixels */
    const char *out = test_tmp("sq.png");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\","
                                  "\"User Params\":{\"AspectRatio\":\"Square\",\"ManualArea\":0.25,"
                                  "\"ManualCenterX\":1,\"ManualCenterY\":1}}]}",
                                  png, out, NULL),
                     0);
    rt_decoded *c = test_decode(out);
    assert_int_equal(c->image->width, 400);
    assert_int_equal(c->image->height, 400);
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < 400; y++)
            for (int x = 0; x < 400; x++)
                assert_true(rt_image_plane(c->image, ch)[(size_t)y * 400 + x] ==
                            rt_image_plane(d->image, ch)[(size_t)(y + 400) * 800 + x + 400]);
    rt_decoded_destroy(c);
    /* "4 : 5" with the full area */
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\","
                                  "\"User Params\":{\"AspectRatio\":\"4 : 5\"}}]}",
                                  png, out, NULL),
                     0);
    rt_image_info info;
    assert_int_equal(rt_probe_image(out, 0, &info), 0);
    assert_int_equal(info.width, 640);
    assert_int_equal(info.height, 800);
    /* a manual rotation and its inverse give back the centre of the photo */
    const char *r1 = test_tmp("r1.png"), *r2 = test_tmp("r2.png");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\","
                                  "\"User Params\":{\"Angle\":8}}]}",
                                  png, r1, NULL),
                     0);
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\","
                                  "\"User Params\":{\"Angle\":-8}}]}",
                                  r1, r2, NULL),
                     0);
    rt_decoded *back = test_decode(r2);
    int bw = back->image->width, bh = back->image->height;
    double se = 0;
    int n = 0;
    for (int y = bh / 4; y < 3 * bh / 4; y++)
        for (int x = bw / 4; x < 3 * bw / 4; x++) {
            double sx = 400 + (x + 0.5 - bw / 2.0) - 0.5, sy = 400 + (y + 0.5 - bh / 2.0) - 0.5;
            size_t si = (size_t)lround(sy) * 800 + (size_t)lround(sx);
            if (fabs(sx - lround(sx)) > 0.01 || fabs(sy - lround(sy)) > 0.01) continue;
            double dv = rt_image_plane(back->image, 1)[(size_t)y * bw + x] -
                        rt_image_plane(d->image, 1)[si];
            se += dv * dv;
            n++;
        }
    double psnr = 10 * log10(1.0 / (se / n));
    printf("rotate +8 then -8: PSNR %.1f dB on the centre\n", psnr);
    assert_true(n > 1000);
    assert_true(psnr > 30.0);
    rt_decoded_destroy(back);
    rt_decoded_destroy(d);
}

static void test_layer1_only_reports(void **state)
{
    (void)state;
    const char *in = test_data("london_012_800.jpg");
    const char *zip = test_tmp("c.zip"), *meta = test_tmp("c.json");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\","
                                  "\"Layer\":1,\"User Params\":{\"AutoStraightenMode\":"
                                  "\"Person\",\"AspectRatio\":\"Square\"}}]}",
                                  in, zip, meta),
                     0);
    json_error_t jerr;
    json_t *root = json_load_file(meta, 0, &jerr);
    json_t *m = json_object_get(json_array_get(json_object_get(root, "plugins"), 0), "metadata");
    assert_string_equal(json_string_value(json_object_get(m, "mode")), "Person");
    assert_non_null(json_object_get(m, "angle"));
    assert_false(json_is_true(json_object_get(m, "applied")));
    json_t *crop = json_object_get(m, "crop");
    assert_int_equal(json_integer_value(json_object_get(crop, "width")),
                     json_integer_value(json_object_get(crop, "height")));
    json_decref(root);
    /* Layer 1 changes no pixel: the ZIP's flattened image is the input re-encoded */
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"outputFormat\":\"png\","
                                  "\"tasks\":[{\"Plugin\":\"Crop\",\"Layer\":1,\"User Params\":{"
                                  "\"Angle\":5}}]}",
                                  in, zip, NULL),
                     0);
    rt_image_info info;
    assert_int_equal(rt_probe_image(zip, 0, &info), RT_ERR_IMAGE); /* a ZIP, not an image */
}

/* Person mode levels the face: a portrait turned by a known angle comes
 * back within half a degree, with no scene lines at all (studio backdrop). */
static void test_person_mode_levels_the_face(void **state)
{
    (void)state;
    rt_decoded *d = test_decode(test_data("london_038_800.jpg"));
    const char *payload = "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\","
                          "\"Layer\":1,\"User Params\":{\"AutoStraightenMode\":\"Person\"}}]}";
    double p0 = 0, worst = 0;
    const double angles[] = {0, 3, -6, 10, -14};
    for (size_t k = 0; k < sizeof angles / sizeof angles[0]; k++) {
        rt_image *t = tilted(d->image, angles[k]);
        const char *tp = test_tmp("ptilt.png");
        test_write_image(t, tp);
        rt_image_destroy(t);
        const char *meta = test_tmp("p.json");
        assert_int_equal(test_run_job(payload, tp, test_tmp("p.zip"), meta), 0);
        json_error_t jerr;
        json_t *root = json_load_file(meta, 0, &jerr);
        json_t *m =
            json_object_get(json_array_get(json_object_get(root, "plugins"), 0), "metadata");
        double a = json_real_value(json_object_get(m, "predictedAngle"));
        double conf = json_real_value(json_object_get(m, "confidence"));
        json_decref(root);
        if (k == 0) p0 = a;
        double err = a - (p0 - angles[k]);
        printf("person mode: tilt %+5.1f -> %+6.2f (error %+.2f, confidence %.2f)\n", angles[k], a,
               err, conf);
        assert_true(conf >= CONFIDENT);
        worst = fmax(worst, fabs(err));
    }
    assert_true(fabs(p0) < 3.0);
    assert_true(worst <= 0.5);
    rt_decoded_destroy(d);
}

static void test_alpha_follows_geometry(void **state)
{
    (void)state;
    rt_image *im;
    assert_int_equal(rt_image_create(300, 200, 3, &im), 0);
    float *alpha = rt_alloc_floats(300 * 200);
    for (int i = 0; i < 300 * 200; i++) {
        alpha[i] = (i % 300) < 150 ? 1.0f : 0.25f;
        for (int c = 0; c < 3; c++)
            rt_image_plane(im, c)[i] = 0.5f;
    }
    rt_rotate_crop rc = {.angle_deg = 0, .cx = 225, .cy = 100, .out_w = 150, .out_h = 200};
    rt_image *out;
    float *oa;
    assert_int_equal(rt_rotate_crop_image(im, alpha, &rc, &out, &oa), 0);
    assert_int_equal(out->width, 150);
    for (int i = 0; i < 150 * 200; i++)
        assert_true(oa[i] == 0.25f);
    rt_free(oa);
    rt_image_destroy(out);
    rt_free(alpha);
    rt_image_destroy(im);
}

/* Aspect crops composed around the people: for several aspects on
 * standing figures, studio portraits, a headshot and a group, no crop edge
 * runs through a face box, the largest face is inside with its head and
 * hair (the head box of crop_compose.h), and when the crop could move up
 * and down, the headroom (crop top to the top of the hair) is between 0
 * and RT_CROP_HEADROOM_MAX face heights (plus a pixel's rounding). */
static void check_framing(const char *path, const char *label, rt_face_models *models)
{
    rt_decoded *d = test_decode(path);
    rt_face_analysis *fa;
    assert_int_equal(rt_face_analysis_create(d->image, models, NULL, NULL, &fa), 0);
    assert_true(fa->nfaces >= 1);
    const int W = d->image->width, H = d->image->height;
    const char *aspects[] = {"4 : 5", "1 : 1", "16 : 9", "9 : 16", "2 : 3"};
    for (size_t k = 0; k < sizeof aspects / sizeof aspects[0]; k++) {
        char payload[300];
        snprintf(payload, sizeof payload,
                 "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\",\"Layer\":1,"
                 "\"User Params\":{\"AspectRatio\":\"%s\"}}]}",
                 aspects[k]);
        const char *meta = test_tmp("frame.json");
        assert_int_equal(test_run_job(payload, path, test_tmp("frame.zip"), meta), 0);
        json_error_t jerr;
        json_t *root = json_load_file(meta, 0, &jerr);
        json_t *crop = json_object_get(
            json_object_get(json_array_get(json_object_get(root, "plugins"), 0), "metadata"),
            "crop");
        double x = json_number_value(json_object_get(crop, "x")),
               y = json_number_value(json_object_get(crop, "y"));
        double w = (double)json_integer_value(json_object_get(crop, "width")),
               h = (double)json_integer_value(json_object_get(crop, "height"));
        const char *reason = json_string_value(json_object_get(crop, "reason"));
        assert_non_null(reason);
        int inside = 0, crossed = 0;
        for (int i = 0; i < fa->nfaces; i++) {
            const rt_face *f = &fa->faces[i];
            int in = f->x1 >= x - 1 && f->x2 <= x + w + 1 && f->y1 >= y - 1 && f->y2 <= y + h + 1;
            int out = f->x2 <= x + 1 || f->x1 >= x + w - 1 || f->y2 <= y + 1 || f->y1 >= y + h - 1;
            inside += in;
            crossed += !in && !out;
        }
        const rt_face *big = &fa->faces[0];
        float head[4];
        rt_crop_head_box(big, fa->person, head);
        double fh = big->y2 - big->y1;
        double headroom = (fmax(head[1], 0.0) - y) / fh;
        int movable_y = h < H - 1;
        printf("%-24s %-6s crop %4.0f,%4.0f %4.0fx%4.0f: %d/%d faces inside, %d crossed, "
               "headroom %.2f face heights%s; %s\n",
               label, aspects[k], x, y, w, h, inside, fa->nfaces, crossed, headroom,
               movable_y ? "" : " (as shot)", reason);
        if (big->x2 - big->x1 > w || big->y2 - big->y1 > h) {
            /* a face larger than the crop (the Kodak close-up at 9 : 16):
             * it cannot stay whole, the crop is centred on it */
            assert_true(x + w / 2 > big->x1 && x + w / 2 < big->x2);
            json_decref(root);
            continue;
        }
        assert_int_equal(crossed, 0);
        /* a group keeps its largest cluster, which need not hold the
         * largest face */
        if (fa->nfaces > 1)
            assert_true(inside >= 1);
        else
            assert_true(big->x1 >= x - 1 && big->x2 <= x + w + 1 && big->y1 >= y - 1 &&
                        big->y2 <= y + h + 1);
        if (fa->nfaces == 1) {
            /* the whole head, hair included, where the crop is big enough */
            if (head[2] - head[0] <= w && head[3] - head[1] <= h) {
                assert_true(fmax(head[0], 0.0) >= x - 1 && fmin(head[2], W) <= x + w + 1);
                assert_true(fmax(head[1], 0.0) >= y - 1);
            }
            if (movable_y && head[3] - fmax(head[1], 0.0) <= h) {
                assert_true(headroom >= -0.01);
                assert_true(headroom <= RT_CROP_HEADROOM_MAX + 0.05);
            }
        }
        json_decref(root);
    }
    rt_face_analysis_destroy(fa);
    rt_decoded_destroy(d);
}

static void test_aspect_crops_keep_faces(void **state)
{
    (void)state;
    rt_face_models *models;
    assert_int_equal(rt_face_models_acquire(NULL, &models), 0);
    const char *photos[] = {"standing_biden_900.jpg",
                            "obama_blueroom_900.jpg",
                            "kodak_facepaint_900.jpg",
                            "mairi_seamless_900.jpg",
                            "headshot_obama_official_smile.jpg",
                            "london_012_800.jpg",
                            "group_solvay_1927.jpg",
                            NULL};
    for (int i = 0; photos[i]; i++)
        check_framing(test_data(photos[i]), photos[i], models);
    rt_face_models_release(models);
}

static int teardown(void **state)
{
    (void)state;
    test_tmpdir_cleanup();
    return 0;
}

int main(void)
{
    rt_init("test_crop");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_rotations_recovered),
        cmocka_unit_test(test_straightening_applies_and_fills),
        cmocka_unit_test(test_geometry_properties),
        cmocka_unit_test(test_manual_geometry_exact),
        cmocka_unit_test(test_layer1_only_reports),
        cmocka_unit_test(test_person_mode_levels_the_face),
        cmocka_unit_test(test_alpha_follows_geometry),
        cmocka_unit_test(test_aspect_crops_keep_faces),
    };
    /* CROP_TEST=<name pattern> runs only the matching tests */
    if (getenv("CROP_TEST")) cmocka_set_test_filter(getenv("CROP_TEST"));
    return cmocka_run_group_tests(tests, NULL, teardown);
}
