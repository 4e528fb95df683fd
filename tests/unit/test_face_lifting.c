/* Face Lifting (PLUGINS.md checks, ALGORITHMS.md §15 tests): identity when
 * neutral, a fold-free warp, straight background lines, jaw width reduced in
 * proportion to the slider, masculinity both ways around a neutral 0.5, eye
 * and mouth shapes kept, nothing changed far from the face, the same look at
 * two resolutions, the same bytes for 1 and 2 threads, every face of a
 * group, no face a no-op.  Jaw and feature sizes are measured by running the
 * face analysis again on the output. */
#include "core/error.h"
#include "face/analysis.h"
#include "face/models.h"
#include "filters/resample.h"
#include "io/image_io.h"
#include "retouch.h"
#include "test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_face_models *models;

static char *payload(double slim, double masc, double chin)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{\"Plugin\":\"Face "
             "Lifting\","
             "\"Face Lifting\":%g,\"Face Masculinity\":%g,\"Double Chin Correction\":%g}]}",
             slim, masc, chin);
    return buf;
}

/* Runs a payload on an image file into a PNG; returns the decoded output. */
static rt_decoded *run(const char *pay, const char *input, const char *name, json_t **meta)
{
    const char *out = test_tmp(name);
    char metaname[300];
    snprintf(metaname, sizeof metaname, "%s.json", out);
    assert_int_equal(test_run_job(pay, input, out, metaname), 0);
    if (meta) {
        json_error_t jerr;
        *meta = json_load_file(metaname, 0, &jerr);
        assert_non_null(*meta);
    }
    return test_decode(out);
}

static json_t *task_metadata(json_t *meta)
{
    return json_object_get(json_array_get(json_object_get(meta, "plugins"), 0), "metadata");
}

static rt_face_analysis *analyse(const rt_image *im)
{
    rt_face_analysis *a;
    assert_int_equal(rt_face_analysis_create(im, models, NULL, NULL, &a), 0);
    assert_true(a->nfaces >= 1);
    return a;
}

static double dist(const rt_face *f, int i, int j)
{
    return hypot(f->mesh[i][0] - f->mesh[j][0], f->mesh[i][1] - f->mesh[j][1]);
}

/* Jaw width at the jaw angles, and the face width that scales it. */
static double jaw_width(const rt_face *f)
{
    return 0.5 * (dist(f, 172, 397) + dist(f, 136, 365));
}

static double face_width(const rt_face *f)
{
    return dist(f, 234, 454);
}

static void test_neutral_is_identity(void **state)
{
    (void)state;
    const char *in = test_data("london_136_800.jpg");
    rt_decoded *src = test_decode(in);
    json_t *meta;
    rt_decoded *out = run(payload(0, 0.5, 0), in, "neutral.png", &meta);
    assert_true(test_max_abs_diff(src->image, out->image) == 0.0);
    json_decref(meta);
    rt_decoded_destroy(out);
    /* femininity mirrors masculinity: 0.7 and 0.7 cancel */
    out = run("{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{\"Plugin\":\"Face "
              "Lifting\",\"Face "
              "Lifting\":0,\"Face Masculinity\":0.7,\"Face Femininity\":0.7}]}",
              in, "neutral2.png", NULL);
    assert_true(test_max_abs_diff(src->image, out->image) == 0.0);
    rt_decoded_destroy(out);
    rt_decoded_destroy(src);
}

/* The strongest settings on several faces: no fold anywhere, and pixels
 * far from the face never change. */
static void test_fold_free_and_local(void **state)
{
    (void)state;
    const char *photos[] = {"london_136_800.jpg", "london_038_800.jpg", "mary_900.jpg",
                            "lisa3_selfie.jpg", "headshot_obama_official_smile.jpg"};
    for (size_t k = 0; k < sizeof photos / sizeof *photos; k++) {
        const char *in = test_data(photos[k]);
        rt_decoded *src = test_decode(in);
        rt_face_analysis *a = analyse(src->image);
        const rt_face *f = &a->faces[0];
        double fw = face_width(f);
        json_t *meta;
        rt_decoded *out =
            run("{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{\"Plugin\":\"Face "
                "Lifting\",\"Face "
                "Lifting\":1,\"Face Masculinity\":1,\"Double Chin Correction\":1,\"Face Lifting "
                "Depth\":1,\"Flow Smoothing\":0}]}",
                in, "strong.png", &meta);
        double jac = json_real_value(json_object_get(task_metadata(meta), "minJacobian"));
        double shift = json_real_value(json_object_get(task_metadata(meta), "maxShiftPx"));
        printf("# %s: min Jacobian %.3f, largest shift %.1f px (%.1f %% of the face width)\n",
               photos[k], jac, shift, 100 * shift / fw);
        assert_true(jac > 0.5);
        assert_true(shift > 0.01 * fw);
        /* everything farther than one face width from the face box is untouched */
        const rt_image *A = src->image, *B = out->image;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < A->height; y++)
                for (int x = 0; x < A->width; x++) {
                    if (x > f->x1 - fw && x < f->x2 + fw && y > f->y1 - fw && y < f->y2 + fw)
                        continue;
                    size_t i = (size_t)c * A->plane_stride + (size_t)y * A->width + x;
                    assert_true(A->data[i] == B->data[i]);
                }
        json_decref(meta);
        rt_decoded_destroy(out);
        rt_face_analysis_destroy(a);
        rt_decoded_destroy(src);
    }
}

/* Jaw width reduced in proportion to Face Lifting; eyes and mouth keep their
 * shapes (within 1 % of the face width at the default strength). */
static void test_slimming_in_proportion(void **state)
{
    (void)state;
    const char *photos[] = {"london_136_800.jpg", "london_012_800.jpg", "london_038_800.jpg"};
    for (size_t k = 0; k < sizeof photos / sizeof *photos; k++) {
        const char *in = test_data(photos[k]);
        rt_decoded *src = test_decode(in);
        rt_face_analysis *a0 = analyse(src->image);
        const rt_face *f0 = &a0->faces[0];
        double fw = face_width(f0), jaw0 = jaw_width(f0);
        double cut[2];
        for (int s = 0; s < 2; s++) {
            rt_decoded *out = run(payload(s ? 1.0 : 0.5, 0.5, 0), in, "slim.png", NULL);
            rt_face_analysis *a = analyse(out->image);
            const rt_face *f = &a->faces[0];
            cut[s] = (jaw0 - jaw_width(f)) / fw;
            if (s) {
                double eye = fmax(fabs(dist(f, 33, 133) - dist(f0, 33, 133)),
                                  fabs(dist(f, 263, 362) - dist(f0, 263, 362))) /
                             fw;
                double mouth = fabs(dist(f, 61, 291) - dist(f0, 61, 291)) / fw;
                double lips = fabs(dist(f, 0, 17) - dist(f0, 0, 17)) / fw;
                printf("# %s: eye width change %.2f %%, mouth width %.2f %%, lip height %.2f "
                       "%% of the face width\n",
                       photos[k], 100 * eye, 100 * mouth, 100 * lips);
                assert_true(eye < 0.01);
                assert_true(mouth < 0.01);
                assert_true(lips < 0.01);
            }
            rt_face_analysis_destroy(a);
            rt_decoded_destroy(out);
        }
        printf("# %s: jaw narrower by %.2f %% (Face Lifting 0.5) and %.2f %% (1) of the face "
               "width\n",
               photos[k], 100 * cut[0], 100 * cut[1]);
        assert_true(cut[1] > 0.012);
        assert_true(cut[0] > 0.25 * cut[1] && cut[0] < 0.75 * cut[1]);
        rt_face_analysis_destroy(a0);
        rt_decoded_destroy(src);
    }
}

/* Masculinity 0.5 is neutral; above it the jaw widens, below it narrows. */
static void test_masculinity_both_ways(void **state)
{
    (void)state;
    const char *in = test_data("london_012_800.jpg");
    rt_decoded *src = test_decode(in);
    rt_face_analysis *a0 = analyse(src->image);
    double fw = face_width(&a0->faces[0]), jaw0 = jaw_width(&a0->faces[0]);
    double change[2];
    for (int s = 0; s < 2; s++) {
        rt_decoded *out = run(payload(0, s ? 1.0 : 0.0, 0), in, "masc.png", NULL);
        rt_face_analysis *a = analyse(out->image);
        change[s] = (jaw_width(&a->faces[0]) - jaw0) / fw;
        rt_face_analysis_destroy(a);
        rt_decoded_destroy(out);
    }
    printf("# jaw width: masculinity 0 %+.2f %%, 1 %+.2f %% of the face width\n", 100 * change[0],
           100 * change[1]);
    assert_true(change[0] < -0.005);
    assert_true(change[1] > 0.005);
    rt_face_analysis_destroy(a0);
    rt_decoded_destroy(src);
}

/* Sub-pixel column of a dark vertical line near x in row y. */
static double line_column(const rt_image *im, int x, int y)
{
    double s = 0, sw = 0;
    const float *g = rt_image_plane(im, 1);
    for (int i = x - 6; i <= x + 6; i++) {
        double w = fmax(0.0, 0.6 - g[(size_t)y * im->width + i]);
        s += w * i;
        sw += w;
    }
    return sw > 0 ? s / sw : NAN;
}

/* A straight line on the backdrop right beside the jaw stays straight. */
static void test_background_lines_stay_straight(void **state)
{
    (void)state;
    rt_decoded *src = test_decode(test_data("london_136_800.jpg"));
    rt_image *im = src->image;
    rt_face_analysis *a = analyse(im);
    const rt_face *f = &a->faces[0];
    double fw = face_width(f);
    /* dark 3-pixel lines on the grey backdrop (hidden behind the person,
     * like a door frame), 6 % of the face width beside the widest point of
     * the face, from the top down to the shoulders */
    int xs[2] = {(int)(f->x1 - 0.06 * fw), (int)(f->x2 + 0.06 * fw)};
    int ytop = 10, ybot = (int)(f->y2 + 0.1 * fw);
    for (int k = 0; k < 2; k++)
        for (int y = ytop; y < ybot; y++)
            for (int x = xs[k] - 1; x <= xs[k] + 1; x++)
                for (int c = 0; c < 3 && rt_person_mask_at(a->person, x, y) < 0.3f; c++)
                    rt_image_plane(im, c)[(size_t)y * im->width + x] = 0.15f;
    const char *in = test_tmp("lines.png");
    test_write_image(im, in);
    json_t *meta;
    rt_decoded *out = run(payload(1, 1, 1), in, "lines_out.png", &meta);
    printf("# %d background lines anchored\n",
           (int)json_integer_value(json_object_get(task_metadata(meta), "anchoredLines")));
    json_decref(meta);
    double worst = 0;
    for (int k = 0; k < 2; k++)
        for (int y = ytop + 5; y < ybot - 5; y++) {
            if (rt_person_mask_at(a->person, xs[k], y) >= 0.3f) continue;
            double c0 = line_column(im, xs[k], y), c1 = line_column(out->image, xs[k], y);
            worst = fmax(worst, fabs(c1 - c0));
        }
    printf("# background lines: largest sideways shift %.2f px\n", worst);
    assert_true(worst < 0.5);
    rt_decoded_destroy(out);
    rt_face_analysis_destroy(a);
    rt_decoded_destroy(src);
}

static void test_same_look_at_two_resolutions(void **state)
{
    (void)state;
    rt_decoded *big = test_decode(test_data("london_136_800.jpg"));
    rt_image *small;
    assert_int_equal(rt_downscale(big->image, 400, &small), 0);
    const char *small_in = test_tmp("small.png");
    test_write_image(small, small_in);
    rt_decoded *ob = run(payload(1, 0.5, 1), test_data("london_136_800.jpg"), "big.png", NULL);
    rt_decoded *os = run(payload(1, 0.5, 1), small_in, "small_out.png", NULL);
    double ssim = test_ssim(ob->image, os->image, 400);
    double base = test_ssim(big->image, small, 400);
    printf("# SSIM of the two results at 400 px: %.4f (inputs: %.4f)\n", ssim, base);
    assert_true(ssim >= 0.98);
    rt_decoded_destroy(ob);
    rt_decoded_destroy(os);
    rt_image_destroy(small);
    rt_decoded_destroy(big);
}

static void test_same_bytes_any_threads(void **state)
{
    (void)state;
    size_t n[2];
    char *bytes[2];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        const char *out = test_tmp(t ? "t2.png" : "t1.png");
        assert_int_equal(test_run_job(payload(1, 0.8, 1), test_data("mary_900.jpg"), out, NULL), 0);
        bytes[t] = test_read_file(out, &n[t]);
    }
    omp_set_num_threads(omp_get_num_procs());
    assert_int_equal(n[0], n[1]);
    assert_memory_equal(bytes[0], bytes[1], n[0]);
    free(bytes[0]);
    free(bytes[1]);
}

static void test_every_face_of_a_group(void **state)
{
    (void)state;
    json_t *meta;
    rt_decoded *out =
        run(payload(1, 0.5, 0), test_data("group_solvay_1927.jpg"), "group.png", &meta);
    size_t n = json_array_size(json_object_get(task_metadata(meta), "faces"));
    printf("# group photo: %zu faces reshaped\n", n);
    assert_true(n >= 28);
    json_decref(meta);
    rt_decoded_destroy(out);
}

static void test_no_face_is_a_no_op(void **state)
{
    (void)state;
    const char *in = test_data("noface_mairi_backdrop.jpg");
    rt_decoded *src = test_decode(in);
    json_t *meta;
    rt_decoded *out = run(payload(1, 1, 1), in, "noface.png", &meta);
    assert_true(test_max_abs_diff(src->image, out->image) == 0.0);
    json_t *w = json_object_get(meta, "warnings");
    assert_true(json_array_size(w) >= 1);
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "no face"));
    json_decref(meta);
    rt_decoded_destroy(out);
    rt_decoded_destroy(src);
}

static int setup(void **state)
{
    (void)state;
    if (rt_init("test_face_lifting")) return -1;
    if (rt_face_models_load(NULL, &models)) {
        fprintf(stderr, "%s (run scripts/fetch-models)\n", rt_error_message());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rt_face_models_destroy(models);
    test_tmpdir_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_neutral_is_identity),
        cmocka_unit_test(test_fold_free_and_local),
        cmocka_unit_test(test_slimming_in_proportion),
        cmocka_unit_test(test_masculinity_both_ways),
        cmocka_unit_test(test_background_lines_stay_straight),
        cmocka_unit_test(test_same_look_at_two_resolutions),
        cmocka_unit_test(test_same_bytes_any_threads),
        cmocka_unit_test(test_every_face_of_a_group),
        cmocka_unit_test(test_no_face_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
