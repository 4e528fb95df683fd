/* Glasses Anti Glare on real glasses photos (PLUGINS.md checks,
 * ALGORITHMS.md §16, §19): synthetic lens reflections (a tinted veil on one
 * lens, a white veil with a clipped core on the other, at non-mirrored
 * places) are removed >= 50 % in the lens area; nothing outside the lens
 * regions changes (so the frames are kept); the eyes behind the lenses are
 * kept; clean lenses barely change; strength 0 is the identity; monotone in
 * strength; thread-count determinism; several faces; no face and a bare
 * face are no-ops with a warning; the patch layout's patches placed back
 * with their matrices reproduce the full layout.
 *
 * Set GLARE_DUMP=DIR to write 100 % crops (input with reflections, output)
 * of each photo to look at. */
#include "core/colour.h"
#include "face/analysis.h"
#include "face/glasses.h"
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

/* GLARE_EXPLORE=1 reports the measures' failures instead of stopping at
 * the first (to look at every photo while tuning). */
#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!getenv("GLARE_EXPLORE"))                                                              \
            assert_true(x);                                                                        \
        else if (!(x))                                                                             \
            printf("  (fails: %s)\n", #x);                                                         \
    } while (0)

static const char *const photos[] = {"glasses_david.jpg", "vis_glasses_clearplastic_man_05.jpg",
                                     "glare_clearplastic_man_06.jpg", "glare_thinmetal_man_09.jpg"};
#define NPHOTOS (sizeof photos / sizeof photos[0])

static const char *payload_for(double s, int layer, const char *layout)
{
    static char buf[256];
    snprintf(buf, sizeof buf,
             "{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{\"Plugin\":"
             "\"Glasses Anti Glare\",\"Glasses Glare Removal\":%g,\"Layer\":%d,"
             "\"LayoutMode\":\"%s\"}]}",
             s, layer, layout);
    return buf;
}

static rt_face_analysis *analyse(const rt_image *im)
{
    rt_face_models *models;
    assert_int_equal(rt_face_models_acquire(NULL, &models), 0);
    rt_face_analysis *a;
    assert_int_equal(rt_face_analysis_create(im, models, NULL, NULL, &a), 0);
    rt_face_models_release(models);
    return a;
}

/* 1 where a pixel centre is inside a lens of one of the faces wearing
 * glasses (the plugin's support), malloc'd. */
static unsigned char *lens_support(const rt_face_analysis *a, const rt_image *im)
{
    size_t n = rt_image_pixels(im);
    unsigned char *m = calloc(n, 1);
    for (int f = 0; f < a->nfaces; f++) {
        if (a->faces[f].glasses < 0.5f) continue;
        rt_glasses_lenses gl;
        if (rt_face_glasses_lenses(im, &a->faces[f], &gl)) continue;
        for (int y = 0; y < im->height; y++)
            for (int x = 0; x < im->width; x++)
                for (int e = 0; e < 2; e++)
                    if (rt_glasses_lens_weight(&gl.lens[e], gl.roll, x + 0.5f, y + 0.5f, 0) > 0)
                        m[(size_t)y * im->width + x] = 1;
    }
    return m;
}

/* The synthetic reflections of one face, added in linear light: a
 * greenish coating veil (0.22) on the right lens above-out of the pupil and
 * a white veil (0.30) with a clipped core below-in of the left pupil, soft
 * edged over 1.5 px, each a disc of 0.11 IOD (smaller when the lens is
 * small), at the first of a few places where the clean lens holds it whole
 * (the two never mirror each other).  Returns the pasted copy; *where gets 1
 * under the discs. */
static int disc_fits(const rt_glasses_lens *L, float roll, float cx, float cy, float rad,
                     float feather)
{
    for (int k = 0; k < 64; k++) {
        float a = (float)(2 * M_PI * k / 64), r = k % 2 ? rad : 0.5f * rad;
        if (rt_glasses_lens_weight(L, roll, cx + r * cosf(a), cy + r * sinf(a), feather) < 0.99f)
            return 0;
    }
    return rt_glasses_lens_weight(L, roll, cx, cy, feather) >= 0.99f;
}

static rt_image *paste_reflections(const rt_image *im, const rt_glasses_lenses *gl,
                                   unsigned char *where)
{
    rt_image *out;
    assert_int_equal(rt_image_copy(im, &out), 0);
    const float iod = gl->iod_px, c = cosf(gl->roll), n = sinf(gl->roll);
    /* candidate places (u, v of IOD, u towards the subject's left eye):
     * the right lens tries above-out first, the left lens below-in */
    const float cand[2][5][2] = {
        {{-0.12f, -0.08f}, {-0.12f, 0.06f}, {0.0f, -0.10f}, {0.06f, 0.08f}, {0.0f, 0.0f}},
        {{-0.06f, 0.12f}, {0.10f, 0.08f}, {0.10f, -0.06f}, {0.0f, 0.12f}, {0.0f, 0.0f}}};
    const float tint[2][3] = {{0.55f, 1.0f, 0.45f}, {1.0f, 1.0f, 1.0f}};
    const float amp[2] = {0.22f, 0.30f};
    for (int e = 0; e < 2; e++) {
        float rad = 0.11f * iod, cx = 0, cy = 0;
        int found = 0;
        for (int tries = 0; tries < 4 && !found; tries++, rad *= 0.8f)
            for (int k = 0; k < 5 && !found; k++) {
                float u = cand[e][k][0] * iod, v = cand[e][k][1] * iod;
                cx = gl->lens[e].pupil.x + c * u + n * v;
                cy = gl->lens[e].pupil.y - n * u + c * v;
                found = disc_fits(&gl->lens[e], gl->roll, cx, cy, rad + 2, 0.03f * iod);
            }
        assert_true(found);
        rad /= 0.8f;
        for (int y = (int)(cy - rad - 3); y <= (int)(cy + rad + 3); y++)
            for (int x = (int)(cx - rad - 3); x <= (int)(cx + rad + 3); x++) {
                if (x < 0 || y < 0 || x >= im->width || y >= im->height) continue;
                float d = hypotf(x + 0.5f - cx, y + 0.5f - cy);
                float w = fminf(fmaxf((rad - d) / 1.5f, 0.0f), 1.0f);
                if (w <= 0) continue;
                size_t i = (size_t)y * im->width + x;
                where[i] = 1;
                float core = e == 1 && d < 0.55f * rad ? 1.0f : 0.0f;
                for (int k = 0; k < 3; k++) {
                    float *p = rt_image_plane(out, k) + i;
                    float lin = rt_srgb_to_linear(*p) + w * amp[e] * tint[e][k];
                    if (core > 0) lin = 1.0f;
                    *p = rt_linear_to_srgb(fminf(lin, 1.0f));
                }
            }
    }
    return out;
}

static double sq_err_linear(const rt_image *a, const rt_image *b, const unsigned char *m)
{
    double s = 0;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < rt_image_pixels(a); i++)
            if (!m || m[i]) {
                double d = rt_srgb_to_linear(rt_image_plane(a, c)[i]) -
                           rt_srgb_to_linear(rt_image_plane(b, c)[i]);
                s += d * d;
            }
    return s;
}

static double max_diff_outside(const rt_image *a, const rt_image *b, const unsigned char *m)
{
    double mx = 0;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < rt_image_pixels(a); i++)
            if (!m[i]) mx = fmax(mx, fabs(rt_image_plane(a, c)[i] - rt_image_plane(b, c)[i]));
    return mx;
}

static rt_decoded *run(const char *in, double s, const char *name)
{
    const char *out = test_tmp(name);
    int err = test_run_job(payload_for(s, 0, "full"), in, out, NULL);
    if (err) fail_msg("%s: %s", in, rt_last_error());
    return test_decode(out);
}

/* A 100 % crop of the eye band of both images side by side (GLARE_DUMP). */
static void dump_crops(const char *tag, const rt_glasses_lenses *gl, const rt_image *a,
                       const rt_image *b)
{
    const char *dir = getenv("GLARE_DUMP");
    if (!dir) return;
    float cx = 0.5f * (gl->lens[0].pupil.x + gl->lens[1].pupil.x);
    float cy = 0.5f * (gl->lens[0].pupil.y + gl->lens[1].pupil.y);
    int x0 = (int)fmaxf(0, cx - 1.1f * gl->iod_px),
        x1 = (int)fminf(a->width, cx + 1.1f * gl->iod_px);
    int y0 = (int)fmaxf(0, cy - 0.6f * gl->iod_px),
        y1 = (int)fminf(a->height, cy + 0.6f * gl->iod_px);
    int w = x1 - x0, h = y1 - y0;
    rt_image *o;
    assert_int_equal(rt_image_create(w, 2 * h, 3, &o), 0);
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)(y + y0) * a->width + x + x0;
                rt_image_plane(o, k)[(size_t)y * w + x] = rt_image_plane(a, k)[i];
                rt_image_plane(o, k)[(size_t)(y + h) * w + x] = rt_image_plane(b, k)[i];
            }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.png", dir, tag);
    test_write_image(o, path);
    rt_image_destroy(o);
}

/* The detector the plugin depends on (face/glasses.h): every glasses
 * photo here (thin metal, clear and thick plastic) >= 0.5, the bare faces
 * below (README "Glasses" has the 84-photo corpus numbers). */
static void test_glasses_detection(void **state)
{
    (void)state;
    const char *with[] = {"glasses_david.jpg", "vis_glasses_clearplastic_man_05.jpg",
                          "vis_glasses_thickplastic_man_02.jpg", "glare_clearplastic_man_06.jpg",
                          "glare_thinmetal_man_09.jpg"};
    const char *bare[] = {"london_012_800.jpg", "london_136_800.jpg", "lisa3_selfie.jpg",
                          "headshot_obama_official_smile.jpg", "vis_london_037.jpg"};
    for (int k = 0; k < 10; k++) {
        const char *f = k < 5 ? with[k] : bare[k - 5];
        rt_decoded *d = test_decode(test_data(f));
        rt_face_analysis *a = analyse(d->image);
        assert_true(a->nfaces >= 1);
        printf("%-38s glasses %.3f\n", f, a->faces[0].glasses);
        if (k < 5)
            assert_true(a->faces[0].glasses >= 0.5f);
        else
            assert_true(a->faces[0].glasses < 0.5f);
        rt_face_analysis_destroy(a);
        rt_decoded_destroy(d);
    }
}

/* Reflections pasted on each photo: lens-area error down >= 50 %, nothing
 * outside the lenses changed, the eyes (iris discs) no further from the
 * clean photo than the pasted input was. */
static void test_reflections_removed(void **state)
{
    (void)state;
    for (size_t p = 0; p < NPHOTOS; p++) {
        rt_decoded *d = test_decode(test_data(photos[p]));
        rt_face_analysis *a = analyse(d->image);
        assert_true(a->nfaces >= 1);
        assert_true(a->faces[0].glasses >= 0.5f);
        rt_glasses_lenses gl;
        assert_int_equal(rt_face_glasses_lenses(d->image, &a->faces[0], &gl), 0);
        size_t n = rt_image_pixels(d->image);
        unsigned char *pasted_at = calloc(n, 1);
        rt_image *in = paste_reflections(d->image, &gl, pasted_at);
        const char *inp = test_tmp("pasted.png");
        test_write_image(in, inp);
        rt_decoded *din = test_decode(inp); /* as the job reads it */
        rt_face_analysis *ain = analyse(din->image);
        unsigned char *support = lens_support(ain, din->image);
        unsigned char *lens = lens_support(a, d->image);
        rt_decoded *o = run(inp, 1.0, "out.png");
        double before = sq_err_linear(din->image, d->image, lens);
        double after = sq_err_linear(o->image, d->image, lens);
        /* the eyes: iris discs */
        unsigned char *iris = calloc(n, 1);
        for (int e = 0; e < 2; e++) {
            const rt_face_eye *eye = &a->faces[0].eye[e];
            for (int y = 0; y < d->image->height; y++)
                for (int x = 0; x < d->image->width; x++)
                    if (hypotf(x + 0.5f - eye->iris_center.x, y + 0.5f - eye->iris_center.y) <
                        eye->iris_radius)
                        iris[(size_t)y * d->image->width + x] = 1;
        }
        double eye_before = sq_err_linear(din->image, d->image, iris);
        double eye_after = sq_err_linear(o->image, d->image, iris);
        double outside = max_diff_outside(o->image, din->image, support);
        printf("%-38s glasses %.2f  lens error %.3f -> %.3f (%.0f %% removed)  iris %.4f -> "
               "%.4f  outside max %.4f\n",
               photos[p], ain->faces[0].glasses, before, after, 100 * (1 - after / before),
               eye_before, eye_after, outside);
        char tag[128];
        snprintf(tag, sizeof tag, "pasted_%zu", p);
        dump_crops(tag, &gl, din->image, o->image);
        CHECK(ain->faces[0].glasses >= 0.5f);
        CHECK(after <= 0.5 * before);
        CHECK(outside == 0.0);
        CHECK(eye_after <= eye_before + 1e-3 * (double)a->faces[0].eye[0].iris_radius);
        free(iris);
        free(support);
        free(lens);
        free(pasted_at);
        rt_decoded_destroy(o);
        rt_face_analysis_destroy(ain);
        rt_decoded_destroy(din);
        rt_image_destroy(in);
        rt_face_analysis_destroy(a);
        rt_decoded_destroy(d);
    }
}

/* Clean lenses (no reflection pasted): the mean change in the lens area
 * stays under 2.5 8-bit steps (measured 0-2.0: the old print's light lenses
 * lose a little haze), nothing outside changes. */
static void test_clean_lenses_barely_change(void **state)
{
    (void)state;
    for (size_t p = 0; p < NPHOTOS; p++) {
        const char *inp = test_data(photos[p]);
        rt_decoded *d = test_decode(inp);
        rt_face_analysis *a = analyse(d->image);
        unsigned char *support = lens_support(a, d->image);
        rt_decoded *o = run(inp, 1.0, "clean.png");
        double sum = 0;
        size_t cnt = 0;
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < rt_image_pixels(d->image); i++)
                if (support[i]) {
                    sum += fabs(rt_image_plane(o->image, c)[i] - rt_image_plane(d->image, c)[i]);
                    cnt++;
                }
        double mean = cnt ? 255 * sum / (double)cnt : 0;
        printf("%-38s clean lens mean change %.2f steps\n", photos[p], mean);
        if (getenv("GLARE_DUMP")) {
            rt_glasses_lenses gl;
            assert_int_equal(rt_face_glasses_lenses(d->image, &a->faces[0], &gl), 0);
            char tag[128];
            snprintf(tag, sizeof tag, "clean_%zu", p);
            dump_crops(tag, &gl, d->image, o->image);
        }
        assert_true(cnt > 0);
        CHECK(mean < 2.5);
        assert_true(max_diff_outside(o->image, d->image, support) == 0.0);
        free(support);
        rt_decoded_destroy(o);
        rt_face_analysis_destroy(a);
        rt_decoded_destroy(d);
    }
}

/* Strength 0 is the identity; the change grows with strength. */
static void test_identity_and_monotone(void **state)
{
    (void)state;
    rt_decoded *d = test_decode(test_data(photos[0]));
    rt_face_analysis *a = analyse(d->image);
    rt_glasses_lenses gl;
    assert_int_equal(rt_face_glasses_lenses(d->image, &a->faces[0], &gl), 0);
    unsigned char *at = calloc(rt_image_pixels(d->image), 1);
    rt_image *in = paste_reflections(d->image, &gl, at);
    const char *inp = test_tmp("mono.png");
    test_write_image(in, inp);
    rt_decoded *din = test_decode(inp);
    rt_decoded *o0 = run(inp, 0.0, "s0.png");
    assert_true(test_max_abs_diff(o0->image, din->image) == 0.0);
    const double s[3] = {0.25, 0.5, 1.0};
    double prev = 0;
    for (int k = 0; k < 3; k++) {
        rt_decoded *o = run(inp, s[k], "sk.png");
        double change = sq_err_linear(o->image, din->image, NULL);
        printf("strength %.2f: change %.4f\n", s[k], change);
        assert_true(change > prev);
        prev = change;
        if (k == 0 || k == 1 || k == 2) {
            char tag[64];
            snprintf(tag, sizeof tag, "strength_%03d", (int)(s[k] * 100));
            dump_crops(tag, &gl, din->image, o->image);
        }
        rt_decoded_destroy(o);
    }
    rt_decoded_destroy(o0);
    rt_decoded_destroy(din);
    rt_image_destroy(in);
    free(at);
    rt_face_analysis_destroy(a);
    rt_decoded_destroy(d);
}

static void test_thread_determinism(void **state)
{
    (void)state;
    rt_decoded *d = test_decode(test_data(photos[1]));
    rt_face_analysis *a = analyse(d->image);
    rt_glasses_lenses gl;
    assert_int_equal(rt_face_glasses_lenses(d->image, &a->faces[0], &gl), 0);
    unsigned char *at = calloc(rt_image_pixels(d->image), 1);
    rt_image *in = paste_reflections(d->image, &gl, at);
    const char *inp = test_tmp("det.png");
    test_write_image(in, inp);
    const char *payload = payload_for(1, 0, "full");
    test_assert_same_bytes_any_threads(payload, inp);
    rt_image_destroy(in);
    free(at);
    rt_face_analysis_destroy(a);
    rt_decoded_destroy(d);
}

/* Two glasses photos side by side: both faces' reflections removed. */
static void test_several_faces(void **state)
{
    (void)state;
    rt_decoded *p0 = test_decode(test_data(photos[0])), *p1 = test_decode(test_data(photos[2]));
    const rt_image *a0 = p0->image, *a1 = p1->image;
    int W = a0->width + a1->width, H = a0->height > a1->height ? a0->height : a1->height;
    rt_image *both;
    assert_int_equal(rt_image_create(W, H, 3, &both), 0);
    for (int c = 0; c < 3; c++) {
        for (int y = 0; y < a0->height; y++)
            memcpy(rt_image_plane(both, c) + (size_t)y * W,
                   rt_image_plane(a0, c) + (size_t)y * a0->width, sizeof(float) * a0->width);
        for (int y = 0; y < a1->height; y++)
            memcpy(rt_image_plane(both, c) + (size_t)y * W + a0->width,
                   rt_image_plane(a1, c) + (size_t)y * a1->width, sizeof(float) * a1->width);
    }
    rt_face_analysis *a = analyse(both);
    assert_int_equal(a->nfaces, 2);
    unsigned char *at = calloc(rt_image_pixels(both), 1);
    rt_image *in;
    assert_int_equal(rt_image_copy(both, &in), 0);
    for (int f = 0; f < 2; f++) {
        rt_glasses_lenses gl;
        assert_int_equal(rt_face_glasses_lenses(both, &a->faces[f], &gl), 0);
        rt_image *next = paste_reflections(in, &gl, at);
        rt_image_destroy(in);
        in = next;
    }
    const char *inp = test_tmp("two.png"), *meta = test_tmp("two.json");
    test_write_image(in, inp);
    rt_decoded *din = test_decode(inp);
    assert_int_equal(test_run_job(payload_for(1, 0, "full"), inp, test_tmp("two_out.png"), meta),
                     0);
    rt_decoded *o = test_decode(test_tmp("two_out.png"));
    /* each face's half separately */
    for (int half = 0; half < 2; half++) {
        unsigned char *m = calloc(rt_image_pixels(both), 1);
        for (int y = 0; y < H; y++)
            for (int x = half ? a0->width : 0; x < (half ? W : a0->width); x++)
                m[(size_t)y * W + x] = at[(size_t)y * W + x];
        double before = sq_err_linear(din->image, both, m),
               after = sq_err_linear(o->image, both, m);
        printf("face in half %d: reflection error %.3f -> %.3f\n", half, before, after);
        CHECK(after <= 0.5 * before);
        free(m);
    }
    json_error_t je;
    json_t *root = json_load_file(meta, 0, &je);
    assert_non_null(root);
    json_t *faces = json_object_get(
        json_object_get(json_array_get(json_object_get(root, "plugins"), 0), "metadata"), "faces");
    assert_int_equal(json_array_size(faces), 2);
    json_decref(root);
    rt_decoded_destroy(o);
    rt_decoded_destroy(din);
    rt_image_destroy(in);
    free(at);
    rt_face_analysis_destroy(a);
    rt_image_destroy(both);
    rt_decoded_destroy(p0);
    rt_decoded_destroy(p1);
}

/* No face, or a face without glasses: the output is the input, with a
 * warning. */
static void test_noop_with_warning(void **state)
{
    (void)state;
    const char *files[] = {"noface_mairi_backdrop.jpg", "london_012_800.jpg"};
    const char *expect[] = {"no face found", "no glasses found"};
    for (int k = 0; k < 2; k++) {
        rt_decoded *d = test_decode(test_data(files[k]));
        const char *inp = test_tmp("noop.png"), *meta = test_tmp("noop.json");
        test_write_image(d->image, inp);
        rt_decoded *din = test_decode(inp);
        assert_int_equal(
            test_run_job(payload_for(1, 0, "full"), inp, test_tmp("noop_out.png"), meta), 0);
        rt_decoded *o = test_decode(test_tmp("noop_out.png"));
        assert_true(test_max_abs_diff(o->image, din->image) == 0.0);
        char *text = test_read_file(meta, NULL);
        printf("%s: %s\n", files[k], strstr(text, "warnings"));
        assert_non_null(strstr(text, expect[k]));
        free(text);
        rt_decoded_destroy(o);
        rt_decoded_destroy(din);
        rt_decoded_destroy(d);
    }
}

static void unzip_entry(zip_t *za, const char *name, const char *path)
{
    zip_file_t *f = zip_fopen(za, name, 0);
    assert_non_null(f);
    FILE *out = fopen(path, "wb");
    char buf[65536];
    zip_int64_t n;
    while ((n = zip_fread(f, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, out);
    fclose(out);
    zip_fclose(f);
}

/* The patch layout: every patch placed back with the inverse of its
 * matrix reproduces the full layout's layer exactly (RGBA), and
 * compositing the full layer over the input gives the flattened image. */
static void test_patch_layout_places_back(void **state)
{
    (void)state;
    rt_decoded *p0 = test_decode(test_data(photos[0])), *p1 = test_decode(test_data(photos[1]));
    const rt_image *a0 = p0->image, *a1 = p1->image;
    int W = a0->width + a1->width, H = a0->height > a1->height ? a0->height : a1->height;
    rt_image *both;
    assert_int_equal(rt_image_create(W, H, 3, &both), 0);
    for (int c = 0; c < 3; c++) {
        for (int y = 0; y < a0->height; y++)
            memcpy(rt_image_plane(both, c) + (size_t)y * W,
                   rt_image_plane(a0, c) + (size_t)y * a0->width, sizeof(float) * a0->width);
        for (int y = 0; y < a1->height; y++)
            memcpy(rt_image_plane(both, c) + (size_t)y * W + a0->width,
                   rt_image_plane(a1, c) + (size_t)y * a1->width, sizeof(float) * a1->width);
    }
    rt_face_analysis *a = analyse(both);
    unsigned char *at = calloc(rt_image_pixels(both), 1);
    rt_glasses_lenses gl;
    assert_int_equal(rt_face_glasses_lenses(both, &a->faces[0], &gl), 0);
    rt_image *in = paste_reflections(both, &gl, at);
    const char *inp = test_tmp("patch_in.png");
    test_write_image(in, inp);
    const char *name = "index=0&blendmode=linearLight&name=Glasses Anti Glare.png";
    rt_decoded *layer[2];
    json_t *root = NULL;
    for (int mode = 0; mode < 2; mode++) {
        const char *zp = test_tmp(mode ? "patch.zip" : "full.zip");
        const char *meta = test_tmp("patch.json");
        assert_int_equal(
            test_run_job(payload_for(1, 1, mode ? "patch" : "full"), inp, zp, mode ? meta : NULL),
            0);
        int zerr;
        zip_t *za = zip_open(zp, ZIP_RDONLY, &zerr);
        assert_non_null(za);
        const char *lp = test_tmp(mode ? "layer_patch.png" : "layer_full.png");
        unzip_entry(za, name, lp);
        zip_close(za);
        layer[mode] = test_decode(lp);
        if (mode) {
            json_error_t je;
            root = json_load_file(meta, 0, &je);
            assert_non_null(root);
        }
    }
    const rt_decoded *full = layer[0], *packed = layer[1];
    assert_int_equal(full->image->width, W);
    assert_non_null(full->alpha);
    assert_non_null(packed->alpha);
    assert_true(packed->image->width < W);
    /* an empty canvas, the patches placed back */
    size_t n = rt_image_pixels(full->image);
    float *rgba[4];
    for (int c = 0; c < 4; c++)
        rgba[c] = calloc(n, sizeof(float));
    json_t *faces = json_object_get(
        json_object_get(json_array_get(json_object_get(root, "plugins"), 0), "metadata"), "faces");
    assert_true(json_array_size(faces) >= 2);
    for (size_t f = 0; f < json_array_size(faces); f++) {
        json_t *fo = json_array_get(faces, f);
        json_t *m = json_object_get(fo, "glassesAntiGlarePatchMatrix");
        double m00 = json_real_value(json_array_get(json_array_get(m, 0), 0));
        double m02 = json_real_value(json_array_get(json_array_get(m, 0), 2));
        double m11 = json_real_value(json_array_get(json_array_get(m, 1), 1));
        double m12 = json_real_value(json_array_get(json_array_get(m, 1), 2));
        int pw = (int)json_integer_value(json_object_get(fo, "patchWidth"));
        int ph = (int)json_integer_value(json_object_get(fo, "patchHeight"));
        assert_true(m00 == 1.0 && m11 == 1.0);
        assert_true(pw > 0 && ph > 0);
        int px0 = (int)json_integer_value(json_object_get(fo, "patchX"));
        /* the matrix takes photo pixels to the packed image's; the patch
         * is its columns px0 .. px0 + pw - 1, rows 0 .. ph - 1: each of its
         * pixels goes back through the inverse */
        for (int v = 0; v < ph; v++)
            for (int u = px0; u < px0 + pw; u++) {
                int x = (int)lround(u - m02), y = (int)lround(v - m12);
                assert_true(u < packed->image->width && v < packed->image->height);
                assert_true(x >= 0 && y >= 0 && x < W && y < H);
                size_t pi = (size_t)v * packed->image->width + u, fi = (size_t)y * W + x;
                for (int c = 0; c < 3; c++)
                    rgba[c][fi] = rt_image_plane(packed->image, c)[pi];
                rgba[3][fi] = packed->alpha[pi];
            }
    }
    /* the same as the full layout wherever either is not transparent */
    size_t differing = 0, opaque = 0;
    for (size_t i = 0; i < n; i++) {
        if (full->alpha[i] > 0 || rgba[3][i] > 0) opaque++;
        if (full->alpha[i] != rgba[3][i]) {
            differing++;
            continue;
        }
        if (full->alpha[i] == 0) continue;
        for (int c = 0; c < 3; c++)
            if (rt_image_plane(full->image, c)[i] != rgba[c][i]) differing++;
    }
    printf("patch layout: %zu faces, packed %dx%d, %zu layer pixels, %zu differ\n",
           json_array_size(faces), packed->image->width, packed->image->height, opaque, differing);
    assert_true(opaque > 100);
    assert_int_equal(differing, 0);
    for (int c = 0; c < 4; c++)
        free(rgba[c]);
    json_decref(root);
    rt_decoded_destroy(layer[0]);
    rt_decoded_destroy(layer[1]);
    rt_image_destroy(in);
    free(at);
    rt_face_analysis_destroy(a);
    rt_image_destroy(both);
    rt_decoded_destroy(p0);
    rt_decoded_destroy(p1);
}

int main(void)
{
    rt_init(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glasses_detection),
        cmocka_unit_test(test_reflections_removed),
        cmocka_unit_test(test_clean_lenses_barely_change),
        cmocka_unit_test(test_identity_and_monotone),
        cmocka_unit_test(test_thread_determinism),
        cmocka_unit_test(test_several_faces),
        cmocka_unit_test(test_noop_with_warning),
        cmocka_unit_test(test_patch_layout_places_back),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    test_tmpdir_cleanup();
    return r;
}
