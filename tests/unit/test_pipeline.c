/* The pipeline and its output (API.md "Output"), with test-only plugins of
 * every blend mode: the compositing invariant, base.png, ZIP names,
 * result.json, flattened == layered-flattened, identity, determinism,
 * progress and cancellation. */
#include "core/error.h"
#include "io/image_io.h"
#include "retouch.h"
#include "test_plugins.h"
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
#include <zip.h>

/* ---- an independent implementation of the W3C formulas (double) ---- */

static double w3c_blend(const char *mode, double cb, double cs)
{
    if (!strcmp(mode, "normal")) return cs;
    if (!strcmp(mode, "darken")) return cs < cb ? cs : cb;
    if (!strcmp(mode, "linearLight")) {
        double v = cb + 2 * cs - 1;
        return v < 0 ? 0 : (v > 1 ? 1 : v);
    }
    if (!strcmp(mode, "softLight")) {
        if (cs <= 0.5) return cb - (1 - 2 * cs) * cb * (1 - cb);
        double d = cb <= 0.25 ? ((16 * cb - 12) * cb + 4) * cb : sqrt(cb);
        return cb + (2 * cs - 1) * (d - cb);
    }
    fail_msg("unknown blend mode %s", mode);
    return cb;
}

/* Extracts a ZIP entry to a file; returns 0 when present. */
static int unzip_entry(zip_t *za, const char *name, const char *path)
{
    zip_file_t *f = zip_fopen(za, name, 0);
    if (!f) return -1;
    FILE *out = fopen(path, "wb");
    char buf[65536];
    zip_int64_t n;
    while ((n = zip_fread(f, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, out);
    fclose(out);
    zip_fclose(f);
    return 0;
}

typedef struct layer_info {
    char file[256];
    char mode[32];
} layer_info;

/* Composites the ZIP's layers over its start image and compares the result
 * with flattened.png: returns the fraction of samples off by more than one
 * 8-bit step. */
static double check_invariant(const char *zip_path, const char *input_path, int expect_base,
                              int expect_layers)
{
    int zerr;
    zip_t *za = zip_open(zip_path, ZIP_RDONLY, &zerr);
    assert_non_null(za);
    /* result.json lists the layers */
    const char *rj = test_tmp("result.json");
    assert_int_equal(unzip_entry(za, "result.json", rj), 0);
    json_error_t jerr;
    json_t *root = json_load_file(rj, 0, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "jsonVersion")), "1");
    json_t *layers = json_object_get(root, "layers");
    assert_int_equal((int)json_array_size(layers), expect_layers);
    layer_info info[16];
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *l = json_array_get(layers, i);
        assert_int_equal(json_integer_value(json_object_get(l, "index")), (json_int_t)i);
        snprintf(info[i].file, sizeof info[i].file, "%s",
                 json_string_value(json_object_get(l, "file")));
        snprintf(info[i].mode, sizeof info[i].mode, "%s",
                 json_string_value(json_object_get(l, "blendmode")));
        char want[256];
        snprintf(want, sizeof want, "index=%zu&blendmode=%s&name=%s.png", i, info[i].mode,
                 json_string_value(json_object_get(l, "name")));
        assert_string_equal(info[i].file, want);
    }
    const size_t nlayers = json_array_size(layers);
    json_decref(root);

    const char *base = test_tmp("base.png");
    int has_base = unzip_entry(za, "base.png", base) == 0;
    assert_int_equal(has_base, expect_base);
    rt_decoded *start = test_decode(has_base ? base : input_path);
    const char *flat = test_tmp("flattened.png");
    assert_int_equal(unzip_entry(za, "flattened.png", flat), 0);
    rt_decoded *flattened = test_decode(flat);

    rt_image *im = start->image;
    const size_t n = rt_image_pixels(im);
    for (size_t k = 0; k < nlayers; k++) {
        char lname[32];
        snprintf(lname, sizeof lname, "layer%zu.png", k);
        const char *lp = test_tmp(lname);
        assert_int_equal(unzip_entry(za, info[k].file, lp), 0);
        rt_decoded *ld = test_decode(lp);
        assert_int_equal(ld->image->width, im->width);
        assert_int_equal(ld->image->height, im->height);
        if (!strcmp(info[k].mode, "mask")) {
            assert_true(ld->grey);
            rt_decoded_destroy(ld);
            continue;
        }
        for (int c = 0; c < 3; c++) {
            float *b = rt_image_plane(im, c);
            const float *s = rt_image_plane(ld->image, c);
            for (size_t i = 0; i < n; i++) {
                double a = ld->alpha ? ld->alpha[i] : 1.0;
                double blended = w3c_blend(info[k].mode, b[i], s[i]);
                double v = (1 - a) * b[i] + a * blended;
                b[i] = (float)(v < 0 ? 0 : (v > 1 ? 1 : v));
            }
        }
        rt_decoded_destroy(ld);
    }
    double bad = test_fraction_differing(im, flattened->image, 1.0);
    rt_decoded_destroy(start);
    rt_decoded_destroy(flattened);
    zip_close(za);
    return bad;
}

static const char *png_input(const char *jpg_name, const char *png_name)
{
    rt_decoded *d = test_decode(test_data(jpg_name));
    const char *path = test_tmp(png_name);
    test_write_image(d->image, path);
    rt_decoded_destroy(d);
    return path;
}

static const char *ALL_LAYERS =
    "{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":["
    "{\"Plugin\":\"Heal\",\"Layer\":1},"
    "{\"Plugin\":\"Color Correction\",\"Layer\":1,\"User Params\":{\"AI\":{\"Color Correction "
    "Mode\":\"Full\"},\"Basic\":{\"Enable Basic\":true,\"Temperature\":20}}},"
    "{\"Plugin\":\"Dodge Burn\",\"Layer\":1,\"Alpha1\":2},"
    /* the real soft-light plugins (Dodge Burn above is the test one) */
    "{\"Plugin\":\"Skin Tone\",\"Layer\":1,\"Alpha1\":2},"
    "{\"Plugin\":\"Portrait Volumes\",\"Layer\":1,\"Alpha1\":2},"
    "{\"Plugin\":\"Skin Mask\",\"Layer\":1},"
    "{\"Plugin\":\"Mattifier\",\"Layer\":1,\"Alpha1\":0.7},"
    /* metadata only (Layer 1), and no geometry with Layer 0 either */
    "{\"Plugin\":\"Crop\",\"Layer\":1,\"User Params\":{\"AutoStraightenMode\":\"Manual\"}},"
    "{\"Plugin\":\"Glasses Anti Glare\",\"Layer\":1,\"Glasses Glare Removal\":1}]}";

static void test_compositing_invariant(void **state)
{
    (void)state;
    const char *inputs[3][2] = {{"london_012_800.jpg", "l012.png"},
                                {"obama_blueroom_900.jpg", "obama.png"},
                                {"mary_900.jpg", "mary.png"}};
    for (int k = 0; k < 3; k++) {
        const char *in = png_input(inputs[k][0], inputs[k][1]);
        const char *zip = test_tmp("all.zip");
        assert_int_equal(test_run_job(ALL_LAYERS, in, zip, NULL), 0);
        /* eight layers: Crop with Layer 1 writes metadata only */
        double bad = check_invariant(zip, in, 0, 8);
        printf("invariant %s: %.5f%% of samples off by more than one step\n", inputs[k][0],
               100 * bad);
        assert_true(bad <= 0.001);
    }
}

static void test_base_png(void **state)
{
    (void)state;
    const char *in = png_input("london_038_800.jpg", "l038.png");
    const char *zip = test_tmp("base.zip");
    const char *payload =
        "{\"mode\":\"professional\",\"tasks\":["
        "{\"Plugin\":\"Color Correction\",\"User Params\":{\"Basic\":{\"Exposure\":0.5}}},"
        "{\"Plugin\":\"Dodge Burn\",\"Layer\":1},{\"Plugin\":\"Mattifier\",\"Layer\":1}]}";
    assert_int_equal(test_run_job(payload, in, zip, NULL), 0);
    double bad = check_invariant(zip, in, 1, 2);
    printf("invariant from base.png: %.5f%% off by more than one step\n", 100 * bad);
    assert_true(bad <= 0.001);
    /* a Layer 0 task that changes nothing makes no base.png */
    const char *zip2 = test_tmp("nobase.zip");
    const char *payload2 = "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Heal\","
                           "\"Alpha1\":0},{\"Plugin\":\"Dodge Burn\",\"Layer\":1}]}";
    assert_int_equal(test_run_job(payload2, in, zip2, NULL), 0);
    assert_true(check_invariant(zip2, in, 0, 1) <= 0.001);
}

static void test_flattened_matches_layered(void **state)
{
    (void)state;
    const char *in = png_input("mary_900.jpg", "mary2.png");
    const char *zip = test_tmp("l.zip");
    const char *flat = test_tmp("flat.png");
    char flat_payload[2048];
    /* the same tasks with Layer 0 */
    snprintf(flat_payload, sizeof flat_payload, "%s", ALL_LAYERS);
    for (char *p = strstr(flat_payload, "\"Layer\":1"); p; p = strstr(p, "\"Layer\":1"))
        p[8] = '0';
    assert_int_equal(test_run_job(ALL_LAYERS, in, zip, NULL), 0);
    assert_int_equal(test_run_job(flat_payload, in, flat, NULL), 0);
    int zerr;
    zip_t *za = zip_open(zip, ZIP_RDONLY, &zerr);
    const char *zflat = test_tmp("zflat.png");
    assert_int_equal(unzip_entry(za, "flattened.png", zflat), 0);
    zip_close(za);
    rt_decoded *a = test_decode(flat), *b = test_decode(zflat);
    assert_true(test_max_abs_diff(a->image, b->image) == 0.0);
    rt_decoded_destroy(a);
    rt_decoded_destroy(b);
}

static void test_zip_for_jpeg_and_empty_layers(void **state)
{
    (void)state;
    const char *in = test_data("london_012_800.jpg");
    const char *zip = test_tmp("j.zip");
    const char *meta = test_tmp("j.json");
    /* strength 0: an empty (transparent) layer keeps the indices */
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Heal\","
                                  "\"Alpha1\":0,\"Layer\":1},{\"Plugin\":\"Crop\",\"Layer\":1,"
                                  "\"User Params\":{\"AutoStraightenMode\":\"AI\"}}]}",
                                  in, zip, meta),
                     0);
    int zerr;
    zip_t *za = zip_open(zip, ZIP_RDONLY, &zerr);
    assert_non_null(za);
    assert_int_equal(zip_get_num_entries(za, 0), 3);
    assert_true(zip_name_locate(za, "index=0&blendmode=normal&name=Heal.png", 0) >= 0);
    assert_true(zip_name_locate(za, "result.json", 0) >= 0);
    assert_true(zip_name_locate(za, "flattened.jpg", 0) >= 0);
    const char *lp = test_tmp("heal0.png");
    assert_int_equal(unzip_entry(za, "index=0&blendmode=normal&name=Heal.png", lp), 0);
    zip_close(za);
    rt_decoded *l = test_decode(lp);
    assert_non_null(l->alpha);
    for (size_t i = 0; i < rt_image_pixels(l->image); i++)
        assert_true(l->alpha[i] == 0.0f);
    rt_decoded_destroy(l);
    /* --metadata writes the same result.json, with Crop's angle */
    json_error_t jerr;
    json_t *root = json_load_file(meta, 0, &jerr);
    assert_non_null(root);
    json_t *plugins = json_object_get(root, "plugins");
    json_t *crop = json_array_get(plugins, 1);
    assert_string_equal(json_string_value(json_object_get(crop, "pluginName")), "Crop");
    assert_non_null(json_object_get(json_object_get(crop, "metadata"), "angle"));
    assert_string_equal(json_string_value(json_object_get(root, "flattened")), "flattened.jpg");
    json_decref(root);
}

static void test_identity_and_determinism(void **state)
{
    (void)state;
    const char *in = png_input("obama_blueroom_900.jpg", "ob.png");
    const char *out = test_tmp("same.png");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Heal\","
                                  "\"Alpha1\":0},{\"Plugin\":\"Color Correction\",\"User "
                                  "Params\":{\"AI\":{\"Color Correction Mode\":\"None\"}}}]}",
                                  in, out, NULL),
                     0);
    rt_decoded *a = test_decode(in), *b = test_decode(out);
    assert_true(test_max_abs_diff(a->image, b->image) == 0.0);
    rt_decoded_destroy(a);
    rt_decoded_destroy(b);

    /* the same bytes for 1 and 2 threads */
    const char *payload = "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Color "
                          "Correction\",\"User Params\":{\"AI\":{\"Color Correction "
                          "Mode\":\"Full\"}}},{\"Plugin\":\"Dodge Burn\"},{\"Plugin\":\"Crop\","
                          "\"User Params\":{\"Angle\":3.3,\"AspectRatio\":\"4 : 5\"}}]}";
    test_assert_same_bytes_any_threads(payload, in);
}

typedef struct progress_log {
    double last;
    int calls, steps_seen, decreasing, cancel_at;
    char plugins[256];
} progress_log;

static int on_progress(void *user, rt_step step, const char *plugin, double progress)
{
    progress_log *l = user;
    if (progress < l->last) l->decreasing = 1;
    l->last = progress;
    l->calls++;
    l->steps_seen |= 1 << step;
    if (*plugin && !strstr(l->plugins, plugin)) {
        strcat(l->plugins, plugin);
        strcat(l->plugins, ";");
    }
    return l->cancel_at && l->calls >= l->cancel_at;
}

static void test_progress_and_cancel(void **state)
{
    (void)state;
    const char *payload = "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Heal\"},"
                          "{\"Plugin\":\"Dodge Burn\"}]}";
    rt_payload *p;
    assert_int_equal(rt_payload_parse(payload, strlen(payload), &p), 0);
    progress_log log = {0};
    rt_job_options opt = {.progress = on_progress, .progress_user = &log};
    rt_job *job;
    assert_int_equal(rt_job_create(p, &opt, &job), 0);
    assert_int_equal(rt_job_run(job, test_data("london_012_800.jpg")), 0);
    assert_int_equal(rt_job_write(job, test_tmp("prog.jpg")), 0);
    rt_job_destroy(job);
    assert_false(log.decreasing);
    assert_true(log.steps_seen & (1 << RT_STEP_READING));
    assert_true(log.steps_seen & (1 << RT_STEP_PROCESSING));
    assert_true(log.steps_seen & (1 << RT_STEP_WRITING));
    assert_string_equal(log.plugins, "Heal;Dodge Burn;");
    assert_true(log.last <= 1.0);
    /* cancelling */
    progress_log cancel = {.cancel_at = 3};
    opt.progress_user = &cancel;
    assert_int_equal(rt_job_create(p, &opt, &job), 0);
    assert_int_equal(rt_job_run(job, test_data("london_012_800.jpg")), RT_ERR_CANCELLED);
    rt_job_destroy(job);
    rt_payload_destroy(p);
}

static void test_failures_lose_nothing(void **state)
{
    (void)state;
    /* a failing input leaves no output file behind */
    const char *out = test_tmp("never.jpg");
    const char *txt = test_tmp("bad.jpg");
    test_write_file(txt, "not an image", 12);
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}", txt, out, NULL),
                     RT_ERR_IMAGE);
    assert_null(test_read_file(out, NULL));
    char part[600];
    snprintf(part, sizeof part, "%s.part", out);
    assert_null(test_read_file(part, NULL));
    /* an unwritable output is an I/O error, and no .part is left */
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}",
                                  test_data("london_012_800.jpg"), "/nonexistent-dir/x.jpg", NULL),
                     RT_ERR_IO);
}

static int teardown(void **state)
{
    (void)state;
    test_tmpdir_cleanup();
    return 0;
}

int main(void)
{
    rt_init("test_pipeline");
    test_plugins_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compositing_invariant),
        cmocka_unit_test(test_base_png),
        cmocka_unit_test(test_flattened_matches_layered),
        cmocka_unit_test(test_zip_for_jpeg_and_empty_layers),
        cmocka_unit_test(test_identity_and_determinism),
        cmocka_unit_test(test_progress_and_cancel),
        cmocka_unit_test(test_failures_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
