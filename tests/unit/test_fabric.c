/* Fabric on a real portrait (PLUGINS.md "Fabric", ALGORITHMS.md §6, §19):
 * synthetic creases (Gaussian valleys in linear light) pasted on the
 * subject's polo are reduced in proportion to Blend (the share of the
 * pasted crease left, measured by projection: 1 - 0.6 Blend up to 1);
 * a printed stripe patch keeps its edges; synthetic lint is removed; the
 * face and the backdrop do not change; Blend 0 is the identity; the change
 * grows with Blend; half the resolution reduces the creases alike; 1 and 2
 * threads give the same bytes. */
#include "core/colour.h"
#include "face/analysis.h"
#include "filters/resample.h"
#include "io/image_io.h"
#include "retouch.h"
#include "test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PHOTO "fabric_canada_800.jpg" /* red polo from y ~ 620 */

static rt_image *load(const char *path)
{
    rt_decoded *d = test_decode(path);
    rt_image *im;
    assert_int_equal(rt_image_copy(d->image, &im), 0);
    rt_decoded_destroy(d);
    return im;
}

static void quantize(rt_image *im)
{
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < rt_image_pixels(im); i++) {
            float *p = im->data + c * im->plane_stride + i;
            *p = roundf(*p * 255.f) / 255.f;
        }
}

static rt_image *run_fabric(const rt_image *in, double blend, const char *name)
{
    char payload[256], inpath[512];
    snprintf(payload, sizeof payload,
             "{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{\"Plugin\":"
             "\"Fabric\",\"Alpha1\":%g}]}",
             blend);
    char inname[64];
    snprintf(inname, sizeof inname, "in_%s", name);
    snprintf(inpath, sizeof inpath, "%s", test_tmp(inname));
    test_write_image(in, inpath);
    const char *op = test_tmp(name);
    int err = test_run_job(payload, inpath, op, NULL);
    if (err) fail_msg("Fabric: %s", rt_last_error());
    return load(op);
}

static double loglum(const rt_image *im, size_t i)
{
    return log(0.2126 * rt_srgb_to_linear_exact(im->data[i]) +
               0.7152 * rt_srgb_to_linear_exact(im->data[im->plane_stride + i]) +
               0.0722 * rt_srgb_to_linear_exact(im->data[2 * im->plane_stride + i]) + 2e-3);
}

/* Multiplies the linear colour by exp(field). */
static void apply_log(rt_image *im, const float *field)
{
    for (size_t i = 0; i < rt_image_pixels(im); i++) {
        if (field[i] == 0.f) continue;
        for (int c = 0; c < 3; c++) {
            float *p = im->data + c * im->plane_stride + i;
            double v = rt_srgb_to_linear_exact(*p) * exp(field[i]);
            *p = rt_linear_to_srgb_exact((float)fmin(1.0, v));
        }
    }
}

/* Diagonal Gaussian valleys (creases) over the pixels of `region`: depth
 * 0.08 in log luminance, sigma 0.35 % of the diagonal, 3 % apart. */
static float *crease_field(int w, int h, const unsigned char *region, double scale)
{
    float *f = calloc((size_t)w * h, sizeof *f);
    double diag = sqrt((double)w * w + (double)h * h);
    double s = 0.0035 * diag, period = 0.03 * diag;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!region[i]) continue;
            double u = (x + 0.5) * 0.8 + (y + 0.5) * 0.6; /* across the creases */
            double d = fmod(u, period) - 0.5 * period;
            f[i] = (float)(-0.08 * scale * exp(-0.5 * d * d / (s * s)));
        }
    return f;
}

/* The clothes: where Fabric at Blend 2 changes the clean photo, eroded by
 * r pixels (away from the layer's soft edge). */
static unsigned char *clothes_region(const rt_image *clean, int r)
{
    rt_image *out = run_fabric(clean, 2.0, "region.png");
    int w = clean->width, h = clean->height;
    unsigned char *m = calloc((size_t)w * h, 1), *e = calloc((size_t)w * h, 1);
    for (size_t i = 0; i < (size_t)w * h; i++)
        for (int c = 0; c < 3; c++)
            if (out->data[c * out->plane_stride + i] != clean->data[c * clean->plane_stride + i])
                m[i] = 1;
    /* eroded by a disc of radius r, in the polo's rows (below 3/4 of the
     * height) */
    for (int y = h * 3 / 4; y < h; y++)
        for (int x = 0; x < w; x++) {
            int all = 1;
            for (int dy = -r; dy <= r && all; dy++)
                for (int dx = -r; dx <= r && all; dx++) {
                    if (dx * dx + dy * dy > r * r) continue;
                    int xx = x + dx, yy = y + dy;
                    all = xx >= 0 && yy >= 0 && xx < w && yy < h && m[(size_t)yy * w + xx];
                }
            e[(size_t)y * w + x] = (unsigned char)all;
        }
    free(m);
    rt_image_destroy(out);
    return e;
}

/* Share of the pasted crease left in out: projection of out - clean on the
 * pasted field, in log luminance, over region. */
static double crease_left(const rt_image *out, const rt_image *clean, const float *field,
                          const unsigned char *region)
{
    /* both zero-mean over the region: the crease pattern, not the level */
    double mf = 0, mr = 0;
    size_t n = 0;
    for (size_t i = 0; i < rt_image_pixels(clean); i++)
        if (region[i]) {
            mf += field[i];
            mr += loglum(out, i) - loglum(clean, i);
            n++;
        }
    mf /= (double)n;
    mr /= (double)n;
    double num = 0, den = 0;
    for (size_t i = 0; i < rt_image_pixels(clean); i++) {
        if (!region[i]) continue;
        double r = loglum(out, i) - loglum(clean, i) - mr, f = field[i] - mf;
        num += r * f;
        den += f * f;
    }
    return num / den;
}

static void test_creases(void **state)
{
    (void)state;
    rt_image *clean = load(test_data(PHOTO));
    quantize(clean);
    unsigned char *region = clothes_region(clean, 3);
    size_t nreg = 0;
    for (size_t i = 0; i < rt_image_pixels(clean); i++)
        nreg += region[i];
    print_message("clothes region: %zu pixels\n", nreg);
    assert_true(nreg > 2000);
    float *field = crease_field(clean->width, clean->height, region, 1.0);
    rt_image *creased;
    assert_int_equal(rt_image_copy(clean, &creased), 0);
    apply_log(creased, field);
    quantize(creased);
    const double blends[] = {0.0, 0.5, 1.0, 1.5, 2.0};
    double left[5];
    for (int b = 0; b < 5; b++) {
        char name[32];
        snprintf(name, sizeof name, "crease%d.png", b);
        rt_image *out = run_fabric(creased, blends[b], name);
        left[b] = crease_left(out, clean, field, region);
        print_message("Blend %.1f: %.3f of the pasted crease left (reduced %.0f %%)\n", blends[b],
                      left[b], 100 * (1 - left[b]));
        if (b == 0) assert_true(test_max_abs_diff(out, creased) == 0.0);
        rt_image_destroy(out);
    }
    /* in proportion to Blend: reduction 0.6 Blend up to 1 (+-0.12), more at 2 */
    assert_true(left[0] > 0.97);
    assert_true(fabs((1 - left[2]) - 0.6) <= 0.15);
    assert_true(fabs((1 - left[1]) - 0.5 * (1 - left[2])) <= 0.08);
    for (int b = 1; b < 5; b++)
        assert_true(left[b] < left[b - 1]);
    free(field);
    free(region);
    rt_image_destroy(creased);
    rt_image_destroy(clean);
}

/* A printed patch of black and white stripes (6 px) on the polo and lint
 * (small bright soft specks) nearby: the stripes keep their edges, the lint
 * goes; the face and the backdrop do not change. */
static void test_print_lint_face(void **state)
{
    (void)state;
    rt_image *im = load(test_data(PHOTO));
    int w = im->width, h = im->height;
    /* stripes at (10..90, 740..790): the polo's left side */
    for (int y = 740; y < 790; y++)
        for (int x = 10; x < 90; x++)
            for (int c = 0; c < 3; c++)
                im->data[c * im->plane_stride + (size_t)y * w + x] = ((x / 6) % 2) ? 0.9f : 0.1f;
    /* lint: 5 whitish specks, sigma 2.5 px, 60 % of the way to light grey */
    const int lx[5] = {20, 55, 90, 35, 75}, ly[5] = {695, 700, 705, 722, 725};
    float *field = calloc((size_t)w * h, sizeof *field);
    unsigned char *lint = calloc((size_t)w * h, 1);
    for (int k = 0; k < 5; k++)
        for (int y = ly[k] - 10; y <= ly[k] + 10; y++)
            for (int x = lx[k] - 10; x <= lx[k] + 10; x++) {
                double d2 =
                    (x + 0.5 - lx[k]) * (x + 0.5 - lx[k]) + (y + 0.5 - ly[k]) * (y + 0.5 - ly[k]);
                field[(size_t)y * w + x] += (float)(0.6 * exp(-0.5 * d2 / 6.25));
                if (d2 <= 9) lint[(size_t)y * w + x] = 1;
            }
    rt_image *clean;
    assert_int_equal(rt_image_copy(im, &clean), 0);
    quantize(clean);
    for (size_t i = 0; i < (size_t)w * h; i++)
        for (int c = 0; c < 3 && field[i] > 0.f; c++) {
            float *p = im->data + c * im->plane_stride + i;
            double v = rt_srgb_to_linear_exact(*p);
            *p = rt_linear_to_srgb_exact((float)(v + (0.7 - v) * fmin(1.0, field[i])));
        }
    quantize(im);
    rt_image *out = run_fabric(im, 1.0, "print.png");
    /* stripes: every stripe pixel within 3 steps */
    double stripe = 0;
    for (int y = 742; y < 788; y++)
        for (int x = 12; x < 88; x++)
            for (int c = 0; c < 3; c++) {
                size_t i = c * im->plane_stride + (size_t)y * w + x;
                stripe = fmax(stripe, 255 * fabs(out->data[i] - im->data[i]));
            }
    /* lint: the speck cores' log-luminance excess over the clean photo */
    double before = 0, after = 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (lint[i]) {
            before += loglum(im, i) - loglum(clean, i);
            after += loglum(out, i) - loglum(clean, i);
        }
    /* face and backdrop: the top 60 % of the frame */
    double top = 0;
    for (int y = 0; y < h * 3 / 5; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                size_t i = c * im->plane_stride + (size_t)y * w + x;
                top = fmax(top, 255 * fabs(out->data[i] - im->data[i]));
            }
    print_message("stripes: max change %.1f steps; lint excess %.3f -> %.3f (%.0f %% left); face "
                  "and backdrop: max change %.1f steps\n",
                  stripe, before, after, 100 * after / before, top);
    assert_true(stripe <= 3.0);
    /* first version: 60 % of the lint's excess goes (some specks are not
     * found on the piqué); asked: at least half */
    assert_true(after <= 0.5 * before);
    assert_true(top == 0.0);
    free(field);
    free(lint);
    rt_image_destroy(out);
    rt_image_destroy(clean);
    rt_image_destroy(im);
}

/* Half the resolution: the same share of the pasted creases goes, and the
 * downscaled results look the same. */
static void test_resolution(void **state)
{
    (void)state;
    rt_image *full = load(test_data(PHOTO));
    quantize(full);
    unsigned char *region = clothes_region(full, 3);
    float *field = crease_field(full->width, full->height, region, 1.0);
    rt_image *creased;
    assert_int_equal(rt_image_copy(full, &creased), 0);
    apply_log(creased, field);
    quantize(creased);
    rt_image *half, *half_clean;
    assert_int_equal(rt_downscale(creased, 400, &half), 0);
    assert_int_equal(rt_downscale(full, 400, &half_clean), 0);
    quantize(half);
    quantize(half_clean);
    rt_image *out_full = run_fabric(creased, 1.0, "res_full.png");
    rt_image *out_half = run_fabric(half, 1.0, "res_half.png");
    rt_image *down;
    assert_int_equal(rt_downscale(out_full, 400, &down), 0);
    /* the crease left, on the half-size grid for both */
    int hw = half->width, hh = half->height;
    unsigned char *hreg = calloc((size_t)hw * hh, 1);
    float *hfield = calloc((size_t)hw * hh, sizeof *hfield);
    for (int y = 0; y < hh; y++)
        for (int x = 0; x < hw; x++) {
            size_t fi = (size_t)(2 * y) * full->width + 2 * x, hi = (size_t)y * hw + x;
            hreg[hi] = region[fi] && region[fi + 1 + full->width];
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    hfield[hi] += 0.25f * field[fi + dy * full->width + dx];
        }
    double lf = crease_left(down, half_clean, hfield, hreg);
    double lh = crease_left(out_half, half_clean, hfield, hreg);
    double ssim = test_ssim(down, out_half, 400);
    print_message("resolution: crease left %.3f (full) vs %.3f (half), SSIM %.4f\n", lf, lh, ssim);
    assert_true(fabs(lf - lh) <= 0.12);
    assert_true(ssim >= 0.98);
    free(hreg);
    free(hfield);
    free(field);
    free(region);
    rt_image_destroy(down);
    rt_image_destroy(out_full);
    rt_image_destroy(out_half);
    rt_image_destroy(half);
    rt_image_destroy(half_clean);
    rt_image_destroy(creased);
    rt_image_destroy(full);
}

static void test_thread_determinism(void **state)
{
    (void)state;
    char in[512];
    snprintf(in, sizeof in, "%s", test_data(PHOTO));
    const char *payload = "{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{"
                          "\"Plugin\":\"Fabric\",\"Alpha1\":1.5}]}";
    test_assert_same_bytes_any_threads(payload, in);
}

static int teardown(void **state)
{
    (void)state;
    test_tmpdir_cleanup();
    return 0;
}

int main(void)
{
    rt_init("test_fabric");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_creases),
        cmocka_unit_test(test_print_lint_face),
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_thread_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
