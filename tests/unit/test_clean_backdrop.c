/* Clean Backdrop on real studio photos (PLUGINS.md "Clean Backdrop",
 * ALGORITHMS.md §4, §19): synthetic dust, spots, scuffs and stains of each
 * Scale pasted on grey, white and pale-green seamless backdrops are removed
 * (PSNR in the defect areas up >= 10 dB at Blend 1) while the backdrop's
 * gradient (1/8-resolution luminance correlation >= 0.99) and grain (finest
 * à-trous band energy 85-115 %) stay; with Automask no pixel of the person
 * changes; identity at Blend 0, monotone in Blend, same bytes for 1 and 2
 * threads, the same result at half resolution, and a photo with no person
 * still cleaned, with a warning. */
#include "core/colour.h"
#include "core/error.h"
#include "face/analysis.h"
#include "face/models.h"
#include "filters/bands.h"
#include "filters/resample.h"
#include "io/image_io.h"
#include "payload/payload.h"
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

#define MAX_DEFECTS 8

static const char *payload_for(double blend, int scale)
{
    static char buf[4][256];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 256,
             "{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[{\"Plugin\":"
             "\"Clean Backdrop\",\"Alpha1\":%.3f,\"Scale\":%d}]}",
             blend, scale);
    return b;
}

/* The person mask of an image as the job computes it (0..255 per pixel,
 * malloc'd). */
static unsigned char *person_of(const rt_image *im)
{
    rt_face_models *models;
    assert_int_equal(rt_face_models_acquire(NULL, &models), 0);
    rt_face_analysis *a;
    assert_int_equal(rt_face_analysis_create(im, models, NULL, NULL, &a), 0);
    rt_face_models_release(models);
    size_t n = rt_image_pixels(im);
    unsigned char *p = malloc(n);
    memcpy(p, a->person->full, n);
    rt_face_analysis_destroy(a);
    return p;
}

/* Runs Clean Backdrop on im (written as PNG first); returns the decoded
 * input as the job saw it (in_out) and the output; *warnings = number of
 * warnings in result.json. */
static rt_decoded *run(const rt_image *im, double blend, int scale, const char *name,
                       rt_decoded **in_out, int *warnings)
{
    char in[128], out[128], meta[128];
    char iname[64], oname[64];
    snprintf(iname, sizeof iname, "%s_in_s%d.png", name, scale);
    snprintf(in, sizeof in, "%s", test_tmp(iname));
    snprintf(oname, sizeof oname, "%s_b%03d_s%d.png", name, (int)lrint(blend * 100), scale);
    snprintf(out, sizeof out, "%s", test_tmp(oname));
    snprintf(meta, sizeof meta, "%s", test_tmp("cb_meta.json"));
    test_write_image(im, in);
    int err = test_run_job(payload_for(blend, scale), in, out, meta);
    if (err) fail_msg("%s: %s", name, rt_last_error());
    if (warnings) {
        json_error_t jerr;
        json_t *root = json_load_file(meta, 0, &jerr);
        assert_non_null(root);
        *warnings = (int)json_array_size(json_object_get(root, "warnings"));
        json_decref(root);
    }
    if (in_out) *in_out = test_decode(in);
    return test_decode(out);
}

/* Defects of one Scale, multiplicative (dirt darkens, in proportion to the
 * light) or a lightening on a dark backdrop; sizes in u = long side / 1000. */
typedef struct defect {
    float x, y;
    int kind; /* 0 disc, 1 stroke, 2 soft stain */
} defect;

static float defect_shape(const defect *d, float u, int scale, float x, float y)
{
    float dx = x - d->x, dy = y - d->y;
    if (d->kind == 2) {
        float s = 12.0f * u;
        return expf(-(dx * dx + dy * dy) / (2 * s * s));
    }
    if (d->kind == 1) { /* a scuff: a short stroke at 30 degrees */
        float len = (scale == 3 ? 8.0f : 24.0f) * u, half_w = (scale == 3 ? 0.8f : 1.5f) * u;
        float ca = 0.866f, sa = 0.5f;
        float along = dx * ca + dy * sa, across = -dx * sa + dy * ca;
        float t = fabsf(along) - 0.5f * len;
        float dist = t > 0 ? sqrtf(t * t + across * across) : fabsf(across);
        float e = dist - half_w;
        return e <= -0.5f ? 1.0f : (e >= 0.5f ? 0.0f : 0.5f - e);
    }
    float r = (scale == 3 ? 2.0f : 6.0f) * u;
    float e = sqrtf(dx * dx + dy * dy) - r;
    return e <= -0.5f ? 1.0f : (e >= 0.5f ? 0.0f : 0.5f - e);
}

/* Places up to MAX_DEFECTS on smooth backdrop away from the person (none of
 * its mask within 4 % of the long side) and pastes them into a copy. */
static rt_image *paste_defects(const rt_image *clean, const unsigned char *person, int scale,
                               int *count)
{
    const int W = clean->width, H = clean->height, L = W > H ? W : H;
    const float u = (float)L / 1000.0f;
    const int reach = (int)ceilf((scale == 1 ? 36.0f : (scale == 2 ? 14.0f : 5.0f)) * u);
    const int margin = (int)ceilf(0.04f * (float)L) + reach;
    /* apart: each lies on clean backdrop */
    const int step = 4 * reach > (int)(40 * u) ? 4 * reach : (int)(40 * u);
    defect d[MAX_DEFECTS];
    int n = 0;
    const float *g = rt_image_plane(clean, 1);
    for (int cy = margin; cy < H - margin && n < MAX_DEFECTS; cy += step)
        for (int cx = margin; cx < W - margin && n < MAX_DEFECTS; cx += step) {
            int ok = 1;
            double s2 = 0, cnt = 0;
            for (int y = cy - margin; y <= cy + margin && ok; y++)
                for (int x = cx - margin; x <= cx + margin; x++)
                    if (person[(size_t)y * W + x] >= 13) {
                        ok = 0;
                        break;
                    }
            for (int y = cy - margin + 1; y < cy + margin - 1 && ok; y++)
                for (int x = cx - margin + 1; x < cx + margin - 1; x++) {
                    /* fine detail: a pixel against its 3x3 neighbours */
                    double v = 0;
                    for (int k = -1; k <= 1; k++)
                        v += g[(size_t)(y + k) * W + x - 1] + g[(size_t)(y + k) * W + x] +
                             g[(size_t)(y + k) * W + x + 1];
                    v = g[(size_t)y * W + x] - v / 9;

                    s2 += v * v;
                    cnt++;
                }
            /* smooth backdrop only (not the frame edge, not a prop, not stray
             * hair): little fine detail around */
            if (!ok || sqrt(s2 / cnt) > 0.012) continue;
            d[n] =
                (defect){(float)cx + 0.3f, (float)cy + 0.6f, scale == 1 ? (n % 2 ? 2 : 0) : n % 2};
            n++;
        }
    rt_image *out;
    assert_int_equal(rt_image_copy(clean, &out), 0);
    for (int k = 0; k < n; k++)
        for (int y = (int)d[k].y - reach; y <= (int)d[k].y + reach; y++)
            for (int x = (int)d[k].x - reach; x <= (int)d[k].x + reach; x++) {
                float s = defect_shape(&d[k], u, scale, (float)x + 0.5f, (float)y + 0.5f);
                if (s <= 0) continue;
                size_t i = (size_t)y * W + x;
                for (int c = 0; c < 3; c++) {
                    float *p = rt_image_plane(out, c) + i;
                    /* grime: darker; on a dark backdrop, chalky dust: lighter */
                    float v = *p;
                    *p = v > 0.35f ? v * (1.0f - 0.3f * s) : v + 0.18f * s;
                }
            }
    *count = n;
    return out;
}

/* PSNR of a against ref over the pixels where `area` differs from ref. */
static double psnr_in(const rt_image *a, const rt_image *ref, const rt_image *area)
{
    double se = 0;
    size_t cnt = 0, n = rt_image_pixels(ref);
    for (size_t i = 0; i < n; i++) {
        int in = 0;
        for (int c = 0; c < 3; c++)
            in |= fabsf(rt_image_plane(area, c)[i] - rt_image_plane(ref, c)[i]) > 2.5f / 255;
        if (!in) continue;
        for (int c = 0; c < 3; c++) {
            double e = rt_image_plane(a, c)[i] - rt_image_plane(ref, c)[i];
            se += e * e;
        }
        cnt += 3;
    }
    assert_true(cnt > 0);
    double mse = se / (double)cnt;
    return mse > 0 ? 10 * log10(1.0 / mse) : 99.0;
}

static float *luma(const rt_image *im)
{
    size_t n = rt_image_pixels(im);
    float *l = calloc(n, sizeof *l);
    for (size_t i = 0; i < n; i++)
        l[i] = 0.25f *
               (rt_image_plane(im, 0)[i] + 2 * rt_image_plane(im, 1)[i] + rt_image_plane(im, 2)[i]);
    return l;
}

/* Backdrop pixels for the measures: no person within 3 % of the long side
 * (the protection margin), computed by a square dilation. */
static unsigned char *backdrop_of(const unsigned char *person, int W, int H)
{
    int r = (int)ceilf(0.03f * (float)(W > H ? W : H));
    unsigned char *b = malloc((size_t)W * H);
    unsigned char *row = malloc((size_t)W * H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int hit = 0;
            for (int k = x - r < 0 ? 0 : x - r; k <= (x + r >= W ? W - 1 : x + r) && !hit; k++)
                hit = person[(size_t)y * W + k] != 0;
            row[(size_t)y * W + x] = (unsigned char)hit;
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int hit = 0;
            for (int k = y - r < 0 ? 0 : y - r; k <= (y + r >= H ? H - 1 : y + r) && !hit; k++)
                hit = row[(size_t)k * W + x] != 0;
            b[(size_t)y * W + x] = (unsigned char)!hit;
        }
    free(row);
    return b;
}

/* Std of the finest à-trous band of the luminance over the backdrop. */
static double fine_energy(const rt_image *im, const unsigned char *bd)
{
    const int W = im->width, H = im->height;
    size_t n = rt_image_pixels(im);
    float *l = luma(im), *d0 = malloc(n * sizeof *d0), *wt = malloc(n * sizeof *wt);
    float *details[1] = {d0};
    assert_int_equal(rt_band_atrous(l, W, H, 1, details, NULL), 0);
    for (size_t i = 0; i < n; i++)
        wt[i] = bd[i];
    double mean, std;
    rt_band_weighted_stats(d0, wt, n, &mean, &std);
    free(l);
    free(d0);
    free(wt);
    return std;
}

/* Correlation of the 1/8-resolution luminance over backdrop blocks. */
static double gradient_correlation(const rt_image *a, const rt_image *b, const unsigned char *bd,
                                   double *std_b, double *max_diff)
{
    *max_diff = 0;
    const int W = a->width, H = a->height, f = 8;
    float *la = luma(a), *lb = luma(b);
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, cnt = 0;
    for (int by = 0; by + f <= H; by += f)
        for (int bx = 0; bx + f <= W; bx += f) {
            double ma = 0, mb = 0;
            int all = 1;
            for (int y = by; y < by + f; y++)
                for (int x = bx; x < bx + f; x++) {
                    size_t i = (size_t)y * W + x;
                    all &= bd[i];
                    ma += la[i];
                    mb += lb[i];
                }
            if (!all) continue;
            ma /= f * f;
            mb /= f * f;
            if (fabs(ma - mb) > *max_diff) *max_diff = fabs(ma - mb);
            sa += ma;
            sb += mb;
            saa += ma * ma;
            sbb += mb * mb;
            sab += ma * mb;
            cnt++;
        }
    free(la);
    free(lb);
    double va = saa / cnt - (sa / cnt) * (sa / cnt), vb = sbb / cnt - (sb / cnt) * (sb / cnt);
    *std_b = sqrt(vb);
    return (sab / cnt - (sa / cnt) * (sb / cnt)) / sqrt(va * vb);
}

/* The largest |out - in| (in steps of 255) over pixels where the person
 * mask of the job's input reaches 0.1. */
static double person_change(const rt_image *in, const rt_image *out, const unsigned char *person)
{
    double m = 0;
    size_t n = rt_image_pixels(in);
    for (size_t i = 0; i < n; i++) {
        if (person[i] < 26) continue;
        for (int c = 0; c < 3; c++) {
            double d = fabs(rt_image_plane(in, c)[i] - rt_image_plane(out, c)[i]) * 255;
            if (d > m) m = d;
        }
    }
    return m;
}

static const char *const photos[] = {"backdrop_beauty_grey_900.jpg",
                                     "backdrop_mairi_white_1000.jpg",
                                     "backdrop_kodak_facepaint_1000.jpg", "london_012_800.jpg"};

/* Every Scale's defects on every backdrop: removed, gradient and grain kept,
 * person untouched. */
static void test_synthetic_defects(void **state)
{
    (void)state;
    int placed[4] = {0};
    for (size_t p = 0; p < sizeof photos / sizeof photos[0]; p++) {
        rt_decoded *clean = test_decode(test_data(photos[p]));
        const int W = clean->image->width, H = clean->image->height;
        unsigned char *person = person_of(clean->image);
        unsigned char *bd = backdrop_of(person, W, H);
        double fine_clean = fine_energy(clean->image, bd);
        for (int scale = 1; scale <= 3; scale++) {
            int nd;
            rt_image *dirty = paste_defects(clean->image, person, scale, &nd);
            placed[scale] += nd;
            if (nd == 0) { /* the person fills the frame: no room for large stains */
                printf("%s Scale %d: no room\n", photos[p], scale);
                rt_image_destroy(dirty);
                continue;
            }
            char tag[32];
            snprintf(tag, sizeof tag, "synth%zu", p);
            rt_decoded *in, *out = run(dirty, 1.0, scale, tag, &in, NULL);
            double before = psnr_in(in->image, clean->image, in->image);
            double after = psnr_in(out->image, clean->image, in->image);
            double fine_out = fine_energy(out->image, bd), fine = fine_out / fine_clean;
            double lum_std, block_diff;
            double corr = gradient_correlation(out->image, clean->image, bd, &lum_std, &block_diff);
            /* the person mask of the job's own input (the defects change it
             * a little): checked once per photo, at the finest Scale, which
             * reaches closest to the person */
            unsigned char *pin = scale == 3 ? person_of(in->image) : NULL;
            double pmax = pin ? person_change(in->image, out->image, pin) : 0.0;
            printf("%s Scale %d: %d defects, PSNR %.1f -> %.1f dB (+%.1f), fine band %.3f, "
                   "gradient corr %.4f (luminance std %.4f, largest block change %.4f), person max "
                   "change %.0f\n",
                   photos[p], scale, nd, before, after, after - before, fine, corr, lum_std,
                   block_diff, pmax);
            assert_true(after - before >= 10.0);
            if (fine_clean >= 0.002) {
                assert_true(fine >= 0.85 && fine <= 1.15);
            } else { /* a clipped white backdrop has no grain: none may appear */
                assert_true(fine_out <= 0.002);
            }
            if (lum_std >= 0.005) {
                assert_true(corr >= 0.99);
            } else { /* flat: correlation means nothing, the light must not move */
                assert_true(block_diff <= 2.0 / 255);
            }
            assert_true(pmax == 0.0);
            free(pin);
            rt_decoded_destroy(in);
            rt_decoded_destroy(out);
            rt_image_destroy(dirty);
        }
        free(bd);
        free(person);
        rt_decoded_destroy(clean);
    }
    for (int scale = 1; scale <= 3; scale++)
        assert_true(placed[scale] >= 12);
}

/* Blend 0 is the identity; the change grows with Blend and defects fade in
 * proportion. */
static void test_blend(void **state)
{
    (void)state;
    rt_decoded *clean = test_decode(test_data(photos[2]));
    unsigned char *person = person_of(clean->image);
    int nd;
    rt_image *dirty = paste_defects(clean->image, person, 2, &nd);
    double last_change = -1, last_psnr = -1;
    static const double blends[] = {0, 0.25, 0.5, 1};
    for (int k = 0; k < 4; k++) {
        rt_decoded *in, *out = run(dirty, blends[k], 2, "blend", &in, NULL);
        double change = 0;
        size_t n = rt_image_pixels(in->image);
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < n; i++)
                change += fabs(rt_image_plane(in->image, c)[i] - rt_image_plane(out->image, c)[i]);
        double ps = psnr_in(out->image, clean->image, in->image);
        printf("Blend %.2f: mean change %.5f, defect PSNR %.2f dB\n", blends[k], change / (3.0 * n),
               ps);
        if (k == 0) assert_true(test_max_abs_diff(in->image, out->image) == 0.0);
        assert_true(change > last_change || (k == 0 && change == 0));
        assert_true(ps > last_psnr);
        last_change = change;
        last_psnr = ps;
        rt_decoded_destroy(in);
        rt_decoded_destroy(out);
    }
    rt_image_destroy(dirty);
    free(person);
    rt_decoded_destroy(clean);
}

/* The same bytes for 1 and 2 threads. */
static void test_threads(void **state)
{
    (void)state;
    rt_decoded *clean = test_decode(test_data(photos[2]));
    unsigned char *person = person_of(clean->image);
    int nd;
    rt_image *dirty = paste_defects(clean->image, person, 3, &nd);
    const char *in = test_tmp("threads_in.png");
    test_write_image(dirty, in);
    rt_image_destroy(dirty);
    free(person);
    rt_decoded_destroy(clean);
    const char *payload = payload_for(1.0, 0);
    test_assert_same_bytes_any_threads(payload, in);
}

/* Half resolution: the same defects (sizes in u) removed as well. */
static void test_resolution_invariance(void **state)
{
    (void)state;
    rt_decoded *full = test_decode(test_data(photos[1]));
    rt_image *half;
    assert_int_equal(rt_downscale(full->image, 500, &half), 0);
    const rt_image *ims[2] = {full->image, half};
    double gain[2];
    for (int k = 0; k < 2; k++) {
        unsigned char *person = person_of(ims[k]);
        int nd;
        rt_image *dirty = paste_defects(ims[k], person, 2, &nd);
        rt_decoded *in, *out = run(dirty, 1.0, 2, "res", &in, NULL);
        gain[k] = psnr_in(out->image, ims[k], in->image) - psnr_in(in->image, ims[k], in->image);
        printf("%dx%d: %d defects, PSNR gain %.1f dB\n", ims[k]->width, ims[k]->height, nd,
               gain[k]);
        assert_true(gain[k] >= 10.0);
        rt_decoded_destroy(in);
        rt_decoded_destroy(out);
        rt_image_destroy(dirty);
        free(person);
    }
    rt_image_destroy(half);
    rt_decoded_destroy(full);
}

/* A backdrop with no person: a warning, and the dirt is still removed. */
static void test_no_person(void **state)
{
    (void)state;
    rt_decoded *clean = test_decode(test_data("noface_mairi_backdrop.jpg"));
    size_t n = rt_image_pixels(clean->image);
    unsigned char *none = calloc(n, 1);
    int nd, warnings;
    rt_image *dirty = paste_defects(clean->image, none, 2, &nd);
    rt_decoded *in, *out = run(dirty, 1.0, 2, "noperson", &in, &warnings);
    double gain =
        psnr_in(out->image, clean->image, in->image) - psnr_in(in->image, clean->image, in->image);
    printf("no person: %d defects, PSNR gain %.1f dB, %d warning(s)\n", nd, gain, warnings);
    assert_true(nd >= 2);
    assert_true(gain >= 10.0);
    assert_int_equal(warnings, 1);
    rt_decoded_destroy(in);
    rt_decoded_destroy(out);
    rt_image_destroy(dirty);
    free(none);
    rt_decoded_destroy(clean);
}

static int teardown(void **state)
{
    (void)state;
    if (!getenv("CLEAN_BACKDROP_TEST_KEEP")) test_tmpdir_cleanup();
    return 0;
}

int main(void)
{
    rt_init("test_clean_backdrop");
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_defects), cmocka_unit_test(test_blend),
        cmocka_unit_test(test_threads),           cmocka_unit_test(test_resolution_invariance),
        cmocka_unit_test(test_no_person),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
