/* Mattifier on real photos (PLUGINS.md checks, ALGORITHMS.md §11, §19):
 * Blend 0 identity, monotone in Blend, never brighter, specular excess
 * down >= 60 % at Blend 1, finest texture band 85-115 % in skin, no grey
 * patches, eyes and lips untouched, nothing outside the dilated skin weight,
 * resolution invariance, thread-count determinism, group photo, no face.
 *
 * The specular excess is measured independently of the plugin: shine adds
 * the same amount e to every linear channel (dichromatic model, neutral
 * light), so with r the skin's own blue/red ratio (local median, 12 mm
 * windows), blue - r red = e (1 - r) whatever the shading.  Energy: the sum
 * of e^2 over skin. */
#include "core/colour.h"
#include "face/analysis.h"
#include "face/regions.h"
#include "face/skin.h"
#include "face/topology.h"
#include "filters/blur.h"
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

#define TILE_MM 4.0
#define RATIO_DEAD 0.03 /* natural variation of the blue/red ratio */

static const char *payload_for(double blend)
{
    static char buf[256];
    snprintf(buf, sizeof buf,
             "{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{\"Plugin\":"
             "\"Mattifier\",\"Alpha1\":%g}]}",
             blend);
    return buf;
}

/* A PNG copy of a photo with its long side at most max_side. */
static const char *png_input(const char *path, int max_side, const char *name)
{
    rt_decoded *d = test_decode(path);
    rt_image *small;
    assert_int_equal(rt_downscale(d->image, max_side, &small), 0);
    const char *out = test_tmp(name);
    test_write_image(small, out);
    rt_image_destroy(small);
    rt_decoded_destroy(d);
    return out;
}

static rt_decoded *run_blend(const char *in, double blend, const char *name)
{
    const char *out = test_tmp(name);
    int err = test_run_job(payload_for(blend), in, out, NULL);
    if (err) fail_msg("%s: %s", in, rt_last_error());
    return test_decode(out);
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

/* Every face's skin weight over the whole image (malloc'd). */
static float *skin_weight(const rt_face_analysis *a, const rt_image *im)
{
    float *w = malloc(rt_image_pixels(im) * sizeof *w);
    assert_non_null(w);
    if (a->nfaces == 0)
        memset(w, 0, rt_image_pixels(im) * sizeof *w);
    else
        assert_int_equal(
            rt_face_skin_weight(a, im, -1, 0, 0, im->width, im->height, w, (size_t)im->width), 0);
    return w;
}

/* 1 where the skin weight, dilated by r pixels, is > 0. */
static unsigned char *dilated(const float *w, int width, int height, int r)
{
    unsigned char *m = calloc(rt_image_pixels(&(rt_image){.width = width, .height = height}), 1);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            if (!(w[(size_t)y * width + x] > 0)) continue;
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx >= 0 && yy >= 0 && xx < width && yy < height)
                        m[(size_t)yy * width + xx] = 1;
                }
        }
    return m;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Linear value of channel c at i. */
static double lin(const rt_image *im, int c, size_t i)
{
    return rt_srgb_to_linear_exact(rt_image_plane(im, c)[i]);
}

/* Local median (or mean) of `value` over skin (w >= 0.5) in 3x3 tiles of
 * TILE_MM, per pixel (piecewise constant per tile).  Pixels with value
 * < -1e29 are ignored. */
static float *local_stat(const float *value, const float *w, int width, int height, double ppm,
                         int mean)
{
    int tile = (int)fmax(2.0, round(TILE_MM * ppm));
    int tw = (width + tile - 1) / tile, th = (height + tile - 1) / tile;
    float *tmed = malloc((size_t)tw * th * sizeof *tmed);
    float *buf = malloc((size_t)(3 * tile) * (3 * tile) * sizeof *buf);
    float *all =
        malloc(rt_image_pixels(&(rt_image){.width = width, .height = height}) * sizeof *all);
    size_t nall = 0;
    for (size_t i = 0; i < (size_t)width * height; i++)
        if (w[i] >= 0.5f && value[i] > -1e29f) all[nall++] = value[i];
    assert_true(nall > 100);
    qsort(all, nall, sizeof *all, cmp_float);
    float global = all[nall / 2];
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < tw; tx++) {
            size_t n = 0;
            for (int y = (ty - 1) * tile; y < (ty + 2) * tile; y++)
                for (int x = (tx - 1) * tile; x < (tx + 2) * tile; x++) {
                    if (x < 0 || y < 0 || x >= width || y >= height) continue;
                    size_t i = (size_t)y * width + x;
                    if (w[i] >= 0.5f && value[i] > -1e29f) buf[n++] = value[i];
                }
            if (n < 20) {
                tmed[(size_t)ty * tw + tx] = global;
                continue;
            }
            double sum = 0;
            for (size_t k = 0; k < n; k++)
                sum += buf[k];
            qsort(buf, n, sizeof *buf, cmp_float);
            tmed[(size_t)ty * tw + tx] = mean ? (float)(sum / (double)n) : buf[n / 2];
        }
    float *out = malloc((size_t)width * height * sizeof *out);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            out[(size_t)y * width + x] = tmed[(size_t)(y / tile) * tw + x / tile];
    free(tmed);
    free(buf);
    free(all);
    return out;
}

static float *local_median(const float *value, const float *w, int width, int height, double ppm)
{
    return local_stat(value, w, width, height, ppm, 0);
}

/* The skin's own blue/red ratio, from the input. */
static float *diffuse_ratio(const rt_image *in, const float *w, double ppm)
{
    size_t n = rt_image_pixels(in);
    float *ratio = malloc(n * sizeof *ratio);
    for (size_t i = 0; i < n; i++) {
        double r = lin(in, 0, i), b = lin(in, 2, i);
        ratio[i] = r > 0.02 && r < 0.98 ? (float)(b / r) : -1e30f;
    }
    float *med = local_median(ratio, w, in->width, in->height, ppm);
    free(ratio);
    return med;
}

/* Specular excess e of pixel i (linear, >= 0). */
static double excess(const rt_image *im, const float *ratio, size_t i)
{
    double r = ratio[i];
    if (r >= 0.95) return 0;
    double e = (lin(im, 2, i) - (r + RATIO_DEAD) * lin(im, 0, i)) / (1.0 - r);
    return e > 0 ? e : 0;
}

static double excess_energy(const rt_image *im, const float *w, const float *ratio)
{
    double sum = 0;
    for (size_t i = 0; i < rt_image_pixels(im); i++)
        if (w[i] >= 0.5f) {
            double e = excess(im, ratio, i);
            sum += e * e;
        }
    return sum;
}

/* Finest band (DoG sigma 0.5 -> 1 px) of the sRGB mean of the channels. */
static float *fine_band(const rt_image *im)
{
    size_t n = rt_image_pixels(im);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] =
            (rt_image_plane(im, 0)[i] + rt_image_plane(im, 1)[i] + rt_image_plane(im, 2)[i]) / 3.0f;
    rt_gaussian_blur_plane(a, im->width, im->height, 0.5f);
    rt_gaussian_blur_plane(b, im->width, im->height, 1.0f);
    for (size_t i = 0; i < n; i++)
        a[i] -= b[i];
    free(b);
    return a;
}

/* std(band_out) / std(band_in) over the pixels where sel is set. */
static double band_ratio(const float *bi, const float *bo, const unsigned char *sel, size_t n)
{
    double si = 0, so = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        if (sel[i]) {
            si += (double)bi[i] * bi[i];
            so += (double)bo[i] * bo[i];
            k++;
        }
    return k > 0 && si > 0 ? sqrt(so / si) : 1.0;
}

static double chroma(const rt_image *im, size_t i)
{
    float L, a, b;
    rt_linear_rgb_to_lab((float)lin(im, 0, i), (float)lin(im, 1, i), (float)lin(im, 2, i), &L, &a,
                         &b);
    return hypot(a, b);
}

typedef struct photo_result {
    double reduction; /* of the specular excess energy at Blend 1 */
    double band;      /* finest band energy ratio in skin */
} photo_result;

/* All single-photo checks; returns the numbers for the light/dark check. */
static photo_result check_photo(const char *in, const char *label)
{
    rt_decoded *d = test_decode(in);
    const rt_image *im = d->image;
    size_t n = rt_image_pixels(im);
    rt_face_analysis *a = analyse(im);
    assert_true(a->nfaces >= 1);
    double ppm = a->faces[0].px_per_mm;
    float *w = skin_weight(a, im);
    unsigned char *near = dilated(w, im->width, im->height, 2);

    /* Blend 0: bit-exact identity */
    rt_decoded *o0 = run_blend(in, 0, "b0.png");
    assert_true(test_max_abs_diff(im, o0->image) == 0.0);
    rt_decoded_destroy(o0);

    rt_decoded *oh = run_blend(in, 0.5, "b05.png"), *o1 = run_blend(in, 1, "b1.png");
    const rt_image *half = oh->image, *full = o1->image;
    /* never brighter; monotone in Blend; nothing outside the dilated skin */
    double brighter = 0, non_monotone = 0, outside = 0;
    size_t changed = 0;
    for (int c = 0; c < 3; c++) {
        const float *pi = rt_image_plane(im, c), *ph = rt_image_plane(half, c),
                    *pf = rt_image_plane(full, c);
        for (size_t i = 0; i < n; i++) {
            brighter = fmax(brighter, fmax(ph[i] - pi[i], pf[i] - pi[i]));
            non_monotone = fmax(non_monotone, pf[i] - ph[i]);
            if (!near[i]) outside = fmax(outside, fabs(pf[i] - pi[i]));
            changed += pf[i] != pi[i];
        }
    }
    assert_true(changed > 0);
    assert_true(brighter == 0.0);
    assert_true(non_monotone <= 1.0 / 255 + 1e-6);
    assert_true(outside == 0.0);

    /* eyes (catchlights) and lips untouched */
    for (int f = 0; f < a->nfaces; f++) {
        const rt_face_region regions[2] = {RT_REGION_EYES, RT_REGION_LIPS};
        for (int r = 0; r < 2; r++) {
            int x0, y0, rw, rh;
            if (!rt_face_region_bounds(&a->faces[f], regions[r], 0, im->width, im->height, &x0, &y0,
                                       &rw, &rh))
                continue;
            float *m = malloc((size_t)rw * rh * sizeof *m);
            rt_face_region_mask(&a->faces[f], regions[r], 0, x0, y0, rw, rh, m, (size_t)rw);
            for (int y = 0; y < rh; y++)
                for (int x = 0; x < rw; x++) {
                    if (m[(size_t)y * rw + x] < 0.5f) continue; /* the edge pixel may be skin */
                    size_t i = (size_t)(y + y0) * im->width + x + x0;
                    for (int c = 0; c < 3; c++)
                        if (rt_image_plane(full, c)[i] != rt_image_plane(im, c)[i])
                            fail_msg("%s: %s of face %d changed at (%d, %d), mask %.3f, skin "
                                     "%.3f",
                                     label, rt_face_region_name(regions[r]), f, x + x0, y + y0,
                                     m[(size_t)y * rw + x], w[i]);
                }
            free(m);
        }
    }

    /* specular excess energy */
    float *ratio = diffuse_ratio(im, w, ppm);
    double e_in = excess_energy(im, w, ratio), e_half = excess_energy(half, w, ratio),
           e_full = excess_energy(full, w, ratio);
    photo_result res = {.reduction = 1.0 - e_full / e_in};

    /* finest texture band in skin, and in the treated highlights alone */
    float *bi = fine_band(im), *bo = fine_band(full);
    unsigned char *skin = calloc(n, 1), *treated = calloc(n, 1);
    size_t ntreated = 0;
    for (size_t i = 0; i < n; i++) {
        skin[i] = w[i] >= 0.99f;
        treated[i] = skin[i] && excess(im, ratio, i) > 0.04;
        ntreated += treated[i];
    }
    res.band = band_ratio(bi, bo, skin, n);
    double band_treated = band_ratio(bi, bo, treated, n);

    float *cref = calloc(n, sizeof *cref);
    /* texture of the treated highlights against the untreated skin around */
    for (size_t i = 0; i < n; i++)
        cref[i] = skin[i] && !treated[i] ? bi[i] * bi[i] : -1e30f;
    float *tex_ref = local_stat(cref, w, im->width, im->height, ppm, 1);
    double t_ref = 0, t_out = 0, t_in = 0;
    for (size_t i = 0; i < n; i++)
        if (treated[i]) {
            t_ref += tex_ref[i];
            t_out += (double)bo[i] * bo[i];
            t_in += (double)bi[i] * bi[i];
        }
    double tex_vs_around = t_ref > 0 ? sqrt(t_out / t_ref) : 1,
           tex_in = t_ref > 0 ? sqrt(t_in / t_ref) : 1;
    free(tex_ref);
    /* no grey patches: chroma of the treated highlights against the local
     * chroma of the untreated skin around them */
    for (size_t i = 0; i < n; i++)
        cref[i] = skin[i] && !treated[i] ? (float)chroma(im, i) : -1e30f;
    float *cmed = local_median(cref, w, im->width, im->height, ppm);
    double c_ref = 0, c_in = 0, c_out = 0;
    for (size_t i = 0; i < n; i++)
        if (treated[i]) {
            c_ref += cmed[i];
            c_in += chroma(im, i);
            c_out += chroma(full, i);
        }
    printf("%-34s excess energy: Blend 0.5 %.0f %%, Blend 1 %.0f %% of the input; fine band "
           "%.3f in skin, %.3f in %zu treated px; treated/surroundings: texture %.2f -> %.2f, "
           "chroma %.2f -> %.2f\n",
           label, 100 * e_half / e_in, 100 * e_full / e_in, res.band, band_treated, ntreated,
           tex_in, tex_vs_around, c_in / c_ref, c_out / c_ref);
    assert_true(e_half < e_in);
    assert_true(e_full <= e_half);
    assert_true(res.reduction >= 0.60);
    assert_true(res.band >= 0.85 && res.band <= 1.15);
    if (ntreated > 50) {
        assert_true(tex_vs_around >= 0.7 && tex_vs_around <= 1.3);
        assert_true(c_out / c_ref >= 0.85);
    }

    free(cref);
    free(cmed);
    free(skin);
    free(treated);
    free(bi);
    free(bo);
    free(ratio);
    free(near);
    free(w);
    rt_decoded_destroy(oh);
    rt_decoded_destroy(o1);
    rt_face_analysis_destroy(a);
    rt_decoded_destroy(d);
    return res;
}

/* Shiny portraits, light and dark skin: every check, and both skin tones
 * treated alike (excess removed to the same standard). */
static void test_portraits(void **state)
{
    (void)state;
    struct {
        const char *file;
        int dark;
    } shared[] = {{"studio_london_021_smiling.jpg", 0},
                  {"studio_london_018_smiling.jpg", 0},
                  {"closeup_woman_portrait_makeup.jpg", 0}};
    photo_result dark = check_photo(png_input(test_data("london_038_800.jpg"), 800, "038.png"),
                                    "london_038 (dark skin)");
    double light_min = 1;
    int nlight = 0;
    for (size_t k = 0; k < sizeof shared / sizeof shared[0]; k++) {
        const char *path = test_shared(shared[k].file);
        if (!path) {
            printf("skipped %s: ../shared/testimages absent\n", shared[k].file);
            continue;
        }
        photo_result r = check_photo(png_input(path, 700, "shared.png"), shared[k].file);
        light_min = fmin(light_min, r.reduction);
        nlight++;
    }
    if (nlight) {
        printf("reduction: dark skin %.0f %%, light skin at least %.0f %%\n", 100 * dark.reduction,
               100 * light_min);
        assert_true(fabs(dark.reduction - light_min) < 0.3);
    }
}

/* Synthetic shine with known ground truth: a neutral Gaussian highlight
 * (3 mm, clipped in its core) added in linear light to a cheek.  The truth
 * is the plugin's output on the photo without it, so only the added shine
 * is judged. */
static void check_synthetic(const char *file, const char *label)
{
    const char *clean = png_input(test_data(file), 800, "clean.png");
    rt_decoded *d = test_decode(clean);
    rt_face_analysis *a = analyse(d->image);
    assert_true(a->nfaces >= 1);
    const rt_face *f = &a->faces[0];
    rt_point2 eye = rt_face_point(f, RT_MESH_RIGHT_EYE_OUTER);
    rt_point2 mouth = rt_face_point(f, RT_MESH_MOUTH_RIGHT);
    double cx = 0.5 * (eye.x + mouth.x), cy = 0.5 * (eye.y + mouth.y);
    double s = rt_face_mm(f, 3.0);
    rt_image *shiny;
    assert_int_equal(rt_image_copy(d->image, &shiny), 0);
    size_t n = rt_image_pixels(shiny);
    float *shine = calloc(n, sizeof *shine);
    for (int y = 0; y < shiny->height; y++)
        for (int x = 0; x < shiny->width; x++) {
            size_t i = (size_t)y * shiny->width + x;
            double r2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (s * s);
            shine[i] = (float)(0.9 * exp(-0.5 * r2));
            for (int c = 0; c < 3; c++) {
                float *v = &rt_image_plane(shiny, c)[i];
                double l = rt_srgb_to_linear_exact(*v) + shine[i];
                *v = rt_linear_to_srgb_exact((float)fmin(1.0, l));
            }
        }
    const char *shiny_path = test_tmp("shiny.png");
    test_write_image(shiny, shiny_path);
    rt_decoded *in = test_decode(shiny_path);
    rt_decoded *oc = run_blend(clean, 1, "clean_out.png"), *os = run_blend(shiny_path, 1, "so.png");
    float *bt = fine_band(oc->image), *bo = fine_band(os->image);
    double e_in = 0, e_out = 0, de = 0, t_true = 0, t_out = 0;
    size_t nring = 0, ncore = 0;
    for (size_t i = 0; i < n; i++) {
        if (shine[i] < 0.01f) continue;
        int clipped = 0;
        for (int c = 0; c < 3; c++) {
            double t = lin(oc->image, c, i);
            e_in += pow(lin(in->image, c, i) - t, 2);
            e_out += pow(lin(os->image, c, i) - t, 2);
            clipped |= rt_image_plane(in->image, c)[i] >= 254.5f / 255;
        }
        if (clipped) {
            t_true += (double)bt[i] * bt[i];
            t_out += (double)bo[i] * bo[i];
            ncore++;
            continue;
        }
        float L1, a1, b1, L2, a2, b2;
        rt_linear_rgb_to_lab((float)lin(oc->image, 0, i), (float)lin(oc->image, 1, i),
                             (float)lin(oc->image, 2, i), &L1, &a1, &b1);
        rt_linear_rgb_to_lab((float)lin(os->image, 0, i), (float)lin(os->image, 1, i),
                             (float)lin(os->image, 2, i), &L2, &a2, &b2);
        de += sqrt((L1 - L2) * (L1 - L2) + (a1 - a2) * (a1 - a2) + (b1 - b2) * (b1 - b2));
        nring++;
    }
    double removed = 1 - e_out / e_in, mean_de = de / (double)(nring ? nring : 1);
    double core_tex = t_true > 0 ? sqrt(t_out / t_true) : 0;
    printf("%-28s synthetic shine: %.0f %% of its energy removed; unclipped part %zu px, mean "
           "dE76 to the truth %.1f; clipped core %zu px, texture %.2f of the truth's\n",
           label, 100 * removed, nring, mean_de, ncore, core_tex);
    assert_true(ncore > 20 && nring > 100);
    assert_true(removed >= 0.70);
    assert_true(mean_de < 6.0);
    assert_true(core_tex >= 0.55); /* texture borrowed from nearby skin */
    free(bt);
    free(bo);
    free(shine);
    rt_decoded_destroy(in);
    rt_decoded_destroy(oc);
    rt_decoded_destroy(os);
    rt_image_destroy(shiny);
    rt_face_analysis_destroy(a);
    rt_decoded_destroy(d);
}

static void test_synthetic_shine(void **state)
{
    (void)state;
    check_synthetic("london_038_800.jpg", "london_038 (dark skin)");
    check_synthetic("london_012_800.jpg", "london_012 (light skin)");
}

/* SSIM of two grey planes over a rectangle (Gaussian window sigma 1.5). */
static double ssim(const float *x, const float *y, int w, int h)
{
    size_t n = (size_t)w * h;
    float *mx = malloc(n * sizeof *mx), *my = malloc(n * sizeof *my), *xx = malloc(n * sizeof *xx),
          *yy = malloc(n * sizeof *yy), *xy = malloc(n * sizeof *xy);
    for (size_t i = 0; i < n; i++) {
        mx[i] = x[i];
        my[i] = y[i];
        xx[i] = x[i] * x[i];
        yy[i] = y[i] * y[i];
        xy[i] = x[i] * y[i];
    }
    float *p[5] = {mx, my, xx, yy, xy};
    for (int k = 0; k < 5; k++)
        rt_gaussian_blur_plane(p[k], w, h, 1.5f);
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double vx = xx[i] - mx[i] * mx[i], vy = yy[i] - my[i] * my[i], cxy = xy[i] - mx[i] * my[i];
        sum += ((2 * mx[i] * my[i] + c1) * (2 * cxy + c2)) /
               ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
    }
    for (int k = 0; k < 5; k++)
        free(p[k]);
    return sum / (double)n;
}

/* The same photo at two sizes: the same look once both are downscaled. */
static void test_resolution_invariance(void **state)
{
    (void)state;
    const char *src = test_shared("studio_london_038_smiling.jpg");
    int big = 1350, small = 675;
    if (!src) {
        printf("../shared/testimages absent: using tests/data at 800 vs 400 px\n");
        src = test_data("london_038_800.jpg");
        big = 800;
        small = 400;
    }
    const char *in_big = png_input(src, big, "big.png");
    const char *in_small = png_input(src, small, "small.png");
    rt_decoded *ob = run_blend(in_big, 1, "big_out.png"), *os = run_blend(in_small, 1, "sm.png");
    rt_decoded *is = test_decode(in_small);
    rt_image *down, *ib_down;
    rt_decoded *ib = test_decode(in_big);
    assert_int_equal(rt_downscale(ob->image, small, &down), 0);
    assert_int_equal(rt_downscale(ib->image, small, &ib_down), 0);
    assert_int_equal(down->width, os->image->width);
    rt_face_analysis *a = analyse(is->image);
    assert_true(a->nfaces >= 1);
    int x0, y0, w, h;
    assert_true(rt_face_region_bounds(&a->faces[0], RT_REGION_FACE, 0, is->image->width,
                                      is->image->height, &x0, &y0, &w, &h));
    /* SSIM over the face, per channel; and how alike the two corrections are */
    float *pa = malloc((size_t)w * h * sizeof *pa), *pb = malloc((size_t)w * h * sizeof *pb);
    double worst = 1, dot = 0, na = 0, nb = 0;
    for (int c = 0; c < 3; c++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)(y + y0) * down->width + x + x0;
                pa[(size_t)y * w + x] = rt_image_plane(down, c)[i];
                pb[(size_t)y * w + x] = rt_image_plane(os->image, c)[i];
                double da = rt_image_plane(ib_down, c)[i] - rt_image_plane(down, c)[i];
                double db = rt_image_plane(is->image, c)[i] - rt_image_plane(os->image, c)[i];
                dot += da * db;
                na += da * da;
                nb += db * db;
            }
        worst = fmin(worst, ssim(pa, pb, w, h));
    }
    double corr = dot / sqrt(na * nb), gain = sqrt(nb / na);
    printf("%d vs %d px: face SSIM %.4f (worst channel); corrections correlate %.3f, "
           "amplitude ratio %.2f\n",
           big, small, worst, corr, gain);
    assert_true(worst >= 0.98);
    assert_true(corr >= 0.8);
    assert_true(gain > 0.75 && gain < 1.33);
    free(pa);
    free(pb);
    rt_face_analysis_destroy(a);
    rt_image_destroy(down);
    rt_image_destroy(ib_down);
    rt_decoded_destroy(ib);
    rt_decoded_destroy(is);
    rt_decoded_destroy(ob);
    rt_decoded_destroy(os);
}

static void test_thread_determinism(void **state)
{
    (void)state;
    const char *in = png_input(test_data("london_038_800.jpg"), 800, "det.png");
    const char *payload = payload_for(1);
    test_assert_same_bytes_any_threads(payload, in);
}

/* Several faces: checks a multi-face photo; returns how many faces had
 * pixels changed.  Never brighter, nothing outside the faces' skin. */
static int check_faces(const char *in, const char *out_name, const char *meta, int *nfaces)
{
    rt_decoded *d = test_decode(in);
    const rt_image *im = d->image;
    rt_face_analysis *a = analyse(im);
    *nfaces = a->nfaces;
    float *w = skin_weight(a, im);
    unsigned char *near = dilated(w, im->width, im->height, 2);
    const char *out = test_tmp(out_name);
    assert_int_equal(test_run_job(payload_for(1), in, out, meta), 0);
    rt_decoded *o = test_decode(out);
    double brighter = 0, outside = 0;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < rt_image_pixels(im); i++) {
            float v = rt_image_plane(im, c)[i], u = rt_image_plane(o->image, c)[i];
            brighter = fmax(brighter, u - v);
            if (!near[i]) outside = fmax(outside, fabs(u - v));
        }
    assert_true(brighter == 0.0);
    assert_true(outside == 0.0);
    int treated = 0;
    float *fw = NULL;
    for (int f = 0; f < a->nfaces; f++) {
        int x0, y0, bw, bh;
        if (!rt_face_skin_bounds(a, f, &x0, &y0, &bw, &bh)) continue;
        fw = realloc(fw, (size_t)bw * bh * sizeof *fw);
        assert_int_equal(rt_face_skin_weight(a, im, f, x0, y0, bw, bh, fw, (size_t)bw), 0);
        size_t changed = 0;
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++) {
                if (!(fw[(size_t)y * bw + x] > 0.5f)) continue;
                size_t i = (size_t)(y + y0) * im->width + x + x0;
                for (int c = 0; c < 3; c++)
                    changed += rt_image_plane(o->image, c)[i] != rt_image_plane(im, c)[i];
            }
        treated += changed > 0;
    }
    free(fw);
    free(near);
    free(w);
    rt_decoded_destroy(o);
    rt_face_analysis_destroy(a);
    rt_decoded_destroy(d);
    return treated;
}

/* Group photos: every face of a colour photo treated; the black-and-white
 * group photo (29 faces) left untouched with a warning, since without
 * colour shine cannot be told from lit skin. */
static void test_group(void **state)
{
    (void)state;
    /* two shiny portraits side by side */
    rt_decoded *l = test_decode(test_data("london_038_800.jpg"));
    rt_decoded *r = test_decode(test_data("london_136_800.jpg"));
    rt_image *ls, *rs, *pair;
    assert_int_equal(rt_downscale(l->image, 560, &ls), 0);
    assert_int_equal(rt_downscale(r->image, 560, &rs), 0);
    assert_int_equal(rt_image_create(ls->width + rs->width, ls->height, 3, &pair), 0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < pair->height; y++) {
            float *dst = rt_image_plane(pair, c) + (size_t)y * pair->width;
            memcpy(dst, rt_image_plane(ls, c) + (size_t)y * ls->width, ls->width * sizeof *dst);
            memcpy(dst + ls->width, rt_image_plane(rs, c) + (size_t)y * rs->width,
                   rs->width * sizeof *dst);
        }
    const char *pair_path = test_tmp("pair.png");
    test_write_image(pair, pair_path);
    int nfaces, treated = check_faces(pair_path, "pair_out.png", NULL, &nfaces);
    printf("two portraits side by side: %d faces, %d treated\n", nfaces, treated);
    assert_int_equal(nfaces, 2);
    assert_int_equal(treated, 2);
    rt_image_destroy(pair);
    rt_image_destroy(ls);
    rt_image_destroy(rs);
    rt_decoded_destroy(l);
    rt_decoded_destroy(r);

    const char *meta = test_tmp("group.json");
    treated = check_faces(test_data("group_solvay_1927.jpg"), "group.png", meta, &nfaces);
    printf("black-and-white group photo: %d faces, %d treated\n", nfaces, treated);
    assert_true(nfaces >= 20);
    assert_int_equal(treated, 0);
    size_t len;
    char *json = test_read_file(meta, &len);
    assert_non_null(json);
    assert_non_null(strstr(json, "no colour"));
    free(json);
}

/* No face: the image comes back unchanged, with a warning. */
static void test_no_face(void **state)
{
    (void)state;
    const char *in = png_input(test_data("noface_mary_ceiling.jpg"), 1000, "noface.png");
    const char *out = test_tmp("noface_out.png"), *meta = test_tmp("noface.json");
    assert_int_equal(test_run_job(payload_for(1), in, out, meta), 0);
    rt_decoded *a = test_decode(in), *b = test_decode(out);
    assert_true(test_max_abs_diff(a->image, b->image) == 0.0);
    size_t len;
    char *json = test_read_file(meta, &len);
    assert_non_null(json);
    assert_non_null(strstr(json, "no face"));
    free(json);
    rt_decoded_destroy(a);
    rt_decoded_destroy(b);
}

static int teardown(void **state)
{
    (void)state;
    test_tmpdir_cleanup();
    return 0;
}

int main(void)
{
    rt_init("test_mattifier");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_portraits),
        cmocka_unit_test(test_synthetic_shine),
        cmocka_unit_test(test_resolution_invariance),
        cmocka_unit_test(test_thread_determinism),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_no_face),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
