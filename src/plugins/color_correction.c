/* Color Correction: automatic white balance and exposure, plus manual
 * Basic offsets (PLUGINS.md, ALGORITHMS.md §17).
 *
 * Analyse small, apply large: statistics on a <= 1 MP linear-light copy,
 * then one fused full-resolution pass (LUT decode, diagonal gains, highlight
 * shoulder, contrast, saturation, LUT encode) that writes an opaque layer.
 *
 * The estimators live in src/filters: white_balance.h (first version: three
 * statistical estimates fused in log-chromaticity, checked against the face
 * skin), exposure.h (first version: highlight-anchored metering that never
 * looks at face brightness; contrast and saturation for Full mode), on the
 * analysis copy of colour_analysis.h.  This file gathers the face cues,
 * applies the Basic offsets and runs the full-resolution pass.
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "core/quantize.h"
#include "face/analysis.h"
#include "face/regions.h"
#include "filters/colour_analysis.h"
#include "filters/exposure.h"
#include "filters/white_balance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_NONE, MODE_EXPOSURE, MODE_EXPOSURE_WB, MODE_FULL };

#define ANALYSIS_SIDE 768

typedef struct cc_correction {
    double gain[3];    /* white balance x exposure, linear */
    double wb[3];      /* white balance alone */
    double ev;         /* exposure step */
    double keep_white; /* automatic darkening gain (< 1) whose white stays white, or 0 */
    double contrast;   /* cubic contrast strength, [-0.5, 0.5] */
    double saturation; /* chroma scale - 1 */
    double vibrance;   /* extra chroma for low-saturation, non-skin colours */
} cc_correction;

#define MAX_SKIN_SAMPLES 200000

/* What the faces tell white balance and exposure (white_balance.h): the
 * colour and brightness of their skin as shot.  0, or an error. */
static int gather_face_cues(const rt_image *im, const rt_face_analysis *fa, rt_skin_cues *fc)
{
    memset(fc, 0, sizeof *fc);
    if (!fa || fa->nfaces == 0) return 0;
    float *lr = malloc(MAX_SKIN_SAMPLES * sizeof *lr), *lb = malloc(MAX_SKIN_SAMPLES * sizeof *lb);
    float *lum = malloc(MAX_SKIN_SAMPLES * sizeof *lum);
    if (!lr || !lb || !lum) {
        free(lr);
        free(lb);
        free(lum);
        return rt_error(RT_ERR_NOMEM, "out of memory for the face cues");
    }
    size_t n = 0, nl = 0;
    int err = 0;
    for (int k = 0; k < fa->nfaces && k < 4 && !err; k++) {
        const rt_face *f = &fa->faces[k];
        int x0, y0, w, h;
        if (nl >= MAX_SKIN_SAMPLES || !rt_face_region_bounds(f, RT_REGION_SKIN, 0.0f, im->width,
                                                             im->height, &x0, &y0, &w, &h))
            continue;
        /* a sample grid of about 200 x 200 points: the mask is rasterised
         * only on the sampled rows */
        int step = (int)fmax(1.0, sqrt((double)w * h / 40000.0));
        float *row = rt_alloc_floats((size_t)w);
        if (!row) {
            err = rt_error(RT_ERR_NOMEM, "out of memory for the face cues");
            break;
        }
        for (int y = 0; y < h && nl < MAX_SKIN_SAMPLES; y += step) {
            if ((err = rt_face_region_mask(f, RT_REGION_SKIN, 0.0f, x0, y0 + y, w, 1, row,
                                           (size_t)w)))
                break;
            for (int x = 0; x < w && nl < MAX_SKIN_SAMPLES; x += step) {
                if (row[x] < 0.95f) continue;
                size_t idx = (size_t)(y + y0) * im->width + (size_t)(x + x0);
                float r = rt_srgb_to_linear(rt_image_plane(im, 0)[idx]),
                      g = rt_srgb_to_linear(rt_image_plane(im, 1)[idx]),
                      b = rt_srgb_to_linear(rt_image_plane(im, 2)[idx]);
                lum[nl++] = rt_luminance(r, g, b); /* clipped or not */
                if (g < 0.003f || r > 0.97f || g > 0.97f || b > 0.97f || r <= 0 || b <= 0) continue;
                /* shifted into [0, 2) for the histogram percentile */
                lr[n] = (float)(log(r / g) + 1.0);
                lb[n] = (float)(log(b / g) + 1.0);
                n++;
            }
        }
        rt_free(row);
    }
    if (!err && n >= 200) {
        fc->have_skin = 1;
        fc->skin_lr = rt_histogram_percentile(lr, n, 0.5) - 1.0;
        fc->skin_lb = rt_histogram_percentile(lb, n, 0.5) - 1.0;
        fc->skin_bright = rt_histogram_percentile(lum, nl, 0.9);
    }
    free(lr);
    free(lb);
    free(lum);
    return err;
}

/* The person mask on the analysis grid (1 where it is at least 0.5), or
 * NULL in *out without a mask.  0, or RT_ERR_NOMEM. */
static int person_on_grid(const rt_person_mask *person, const rt_colour_analysis *a,
                          unsigned char **out)
{
    *out = NULL;
    if (!person) return 0;
    unsigned char *grid = malloc(a->n);
    if (!grid) return rt_error(RT_ERR_NOMEM, "out of memory for the person mask");
    for (int y = 0; y < a->h; y++) {
        int py = (int)((y + 0.5) * person->height / a->h);
        for (int x = 0; x < a->w; x++) {
            int px = (int)((x + 0.5) * person->width / a->w);
            grid[(size_t)y * a->w + x] =
                rt_person_mask_at(person, px < person->width ? px : person->width - 1,
                                  py < person->height ? py : person->height - 1) >= 0.5f;
        }
    }
    *out = grid;
    return 0;
}

static void warn_task(void *user, const char *message)
{
    rt_plugin_warn(user, "%s", message);
}

/* The automatic part of the correction (modes other than None) into cc and
 * meta: 0, or an error (out of memory is reported, never answered with a
 * different image). */
static int estimate_correction(rt_plugin_ctx *ctx, int mode, cc_correction *cc, json_t *meta)
{
    rt_colour_analysis a;
    int err = rt_colour_analysis_create(ctx->image, ANALYSIS_SIDE, &a);
    if (err) return err;
    rt_plugin_progress(ctx, 0.3);
    /* the faces and the person: skin cues for white balance, subject
     * clipping for exposure */
    const rt_face_analysis *fa = NULL;
    if (rt_plugin_face_analysis(ctx, &fa) != 0) {
        if (rt_error_code() == RT_ERR_NOMEM) {
            rt_colour_analysis_destroy(&a);
            return RT_ERR_NOMEM;
        }
        rt_plugin_warn(ctx, "face analysis unavailable (%s): correction without face cues",
                       rt_error_message());
        fa = NULL;
    }
    rt_skin_cues fc;
    unsigned char *person = NULL;
    if (!(err = gather_face_cues(ctx->image, fa, &fc)))
        err = person_on_grid(fa ? fa->person : NULL, &a, &person);
    if (!err && mode >= MODE_EXPOSURE_WB) {
        double illum[3];
        err = rt_estimate_illuminant(&a, &fc, illum, warn_task, ctx);
        if (!err) {
            rt_white_balance_gains(illum, cc->wb);
            json_object_set_new(meta, "illuminant",
                                json_pack("[f,f,f]", illum[0], illum[1], illum[2]));
        }
    }
    if (!err) err = rt_estimate_exposure(&a, cc->wb, &fc, person, &cc->ev, warn_task, ctx);
    if (!err) {
        if (cc->ev < 0) cc->keep_white = exp2(cc->ev);
        for (int c = 0; c < 3; c++)
            cc->gain[c] = cc->wb[c] * exp2(cc->ev);
        if (mode == MODE_FULL)
            err = rt_estimate_tone(&a, cc->gain, &cc->contrast, &cc->saturation, &cc->vibrance);
    }
    free(person);
    rt_colour_analysis_destroy(&a);
    return err;
}

/* ---- the full-resolution pass ------------------------------------------ */

/* Highlight shoulder for values up to gmax: identity below the knee, then a
 * rational curve reaching 1 at gmax with a continuous slope. */
static inline float shoulder(float m, float knee, float b)
{
    if (m <= knee) return m;
    float x = (m - knee) / (1.0f - knee) / (1.0f + b); /* in [0,1] at m = gmax */
    float h = x * (1.0f + b) / (1.0f + b * x);
    return knee + (1.0f - knee) * (h > 1.0f ? 1.0f : h);
}

/* Automatic darkening of an over-exposed photo: the gain g up to the knee
 * k (mid-tones recovered exactly), then a parabola that meets white at
 * white, so what the file clipped (a white seamless, a white shirt) stays
 * white instead of turning flat grey.  x is the pixel's maximum channel
 * before the gain; returns the factor for its three channels. */
#define KEEP_WHITE_KNEE 0.85f
static inline float keep_white_factor(float x, float g)
{
    if (x <= KEEP_WHITE_KNEE) return 1.0f;
    const float k = KEEP_WHITE_KNEE, c = (1.0f - g) / ((1.0f - k) * (1.0f - k));
    float t = x > 1.0f ? 1.0f - k : x - k;
    return (g * x + c * t * t) / (g * x);
}

static inline float contrast_curve(float y, float k)
{
    /* cubic S-curve about 0.5 (encoded); monotone for |k| <= 0.5 */
    return y + 4.0f * k * (y - 0.5f) * y * (1.0f - y);
}

/* Linear light -> encoded output with the contrast curve folded in, so the
 * full-resolution pass needs one table per direction and channel. */
static void build_output_lut(float k, float *lut)
{
    for (int i = 0; i <= RT_COLOUR_LUT_SIZE + 1; i++) {
        float v = (float)i / (float)RT_COLOUR_LUT_SIZE;
        float e = rt_linear_to_srgb_exact(v > 1.0f ? 1.0f : v);
        lut[i] = k != 0.0f ? contrast_curve(e, k) : e;
    }
}

/* NaN-agnostic max/min: fmaxf is a library call without -ffast-math. */
static inline float max3f(float a, float b, float c)
{
    float m = a > b ? a : b;
    return m > c ? m : c;
}

static inline float min3f(float a, float b, float c)
{
    float m = a < b ? a : b;
    return m < c ? m : c;
}

/* Writes the corrected image into out (which may be im itself: each row is
 * read before it is written), rounded to the output precision (bits), in
 * one pass. */
static void apply_correction(const rt_image *im, const cc_correction *cc, int bits, rt_image *out)
{
    float out_lut[RT_COLOUR_LUT_SIZE + 2];
    build_output_lut((float)cc->contrast, out_lut);
    const float g[3] = {(float)cc->gain[0], (float)cc->gain[1], (float)cc->gain[2]};
    const float gmax = max3f(g[0], g[1], g[2]);
    const float knee = 0.8f;
    const float b = gmax > 1.0f ? (gmax - knee) / (1.0f - knee) - 1.0f : 0.0f;
    const float kw = (float)cc->keep_white;
    const int use_shoulder = gmax > 1.0f && kw == 0.0f;
    const float sat = (float)cc->saturation, vib = (float)cc->vibrance;
    const int use_chroma = sat != 0.0f || vib != 0.0f;
    const int w = im->width, h = im->height;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        const size_t row = (size_t)y * w;
        const float *in[3] = {rt_image_plane(im, 0) + row, rt_image_plane(im, 1) + row,
                              rt_image_plane(im, 2) + row};
        float *o[3] = {rt_image_plane(out, 0) + row, rt_image_plane(out, 1) + row,
                       rt_image_plane(out, 2) + row};
        /* gains in linear light, channel by channel (vectorises) */
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < w; x++)
                o[c][x] = rt_srgb_to_linear(in[c][x]) * g[c];
        if (kw > 0.0f)
            for (int x = 0; x < w; x++) {
                float m = max3f(o[0][x], o[1][x], o[2][x]) / kw;
                if (m > KEEP_WHITE_KNEE) {
                    float s = keep_white_factor(m, kw);
                    o[0][x] *= s;
                    o[1][x] *= s;
                    o[2][x] *= s;
                }
            }
        if (use_shoulder)
            for (int x = 0; x < w; x++) {
                float m = max3f(o[0][x], o[1][x], o[2][x]);
                if (m > knee) {
                    float s = shoulder(m, knee, b) / m;
                    o[0][x] *= s;
                    o[1][x] *= s;
                    o[2][x] *= s;
                }
            }
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < w; x++)
                o[c][x] = rt_lut_interp(out_lut, o[c][x]);
        if (use_chroma)
            for (int x = 0; x < w; x++) {
                float r = o[0][x], gg = o[1][x], bl = o[2][x];
                float luma = 0.2126f * r + 0.7152f * gg + 0.0722f * bl;
                float mx = max3f(r, gg, bl), mn = min3f(r, gg, bl);
                float cur = mx > 1e-6f ? (mx - mn) / mx : 0.0f;
                /* vibrance: more for dull colours, little for skin-like hues */
                float skinlike = (r > gg && gg > bl) ? 1.0f : 0.0f;
                float f = 1.0f + sat + vib * (1.0f - cur) * (1.0f - 0.8f * skinlike);
                o[0][x] = rt_clamp01(luma + (r - luma) * f);
                o[1][x] = rt_clamp01(luma + (gg - luma) * f);
                o[2][x] = rt_clamp01(luma + (bl - luma) * f);
            }
        for (int c = 0; c < 3; c++)
            rt_quantize_row(o[c], w, 0, y, c, bits);
    }
}

static int color_correction_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    const rt_task *t = ctx->task;
    int mode = rt_task_choice(t, "User Params/AI/Color Correction Mode");
    int enabled = rt_task_number(t, "User Params/Basic/Enable Basic") != 0;
    double m_ev = rt_task_number(t, "User Params/Basic/Exposure");
    double m_temp = rt_task_number(t, "User Params/Basic/Temperature");
    double m_tint = rt_task_number(t, "User Params/Basic/Tint");
    double m_con = rt_task_number(t, "User Params/Basic/Contrast");
    double m_sat = rt_task_number(t, "User Params/Basic/Saturation");
    int manual = m_ev != 0 || m_temp != 0 || m_tint != 0 || m_con != 0 || m_sat != 0;
    if (!enabled) {
        if (mode != MODE_NONE || manual)
            rt_plugin_warn(ctx, "Basic.Enable Basic is false: nothing corrected");
        return 0;
    }
    if (mode == MODE_NONE && !manual) return 0;

    cc_correction cc = {.gain = {1, 1, 1}, .wb = {1, 1, 1}};
    json_t *meta = json_object();
    if (mode != MODE_NONE) {
        int err = estimate_correction(ctx, mode, &cc, meta);
        if (err) {
            json_decref(meta);
            return err;
        }
    }
    /* manual offsets on top of the automatic ones */
    double temp_gain = exp2(0.3 * m_temp / 100.0), tint_gain = exp2(-0.2 * m_tint / 100.0);
    double manual_gain[3] = {temp_gain, tint_gain, 1.0 / temp_gain};
    double y = 0.2126 * manual_gain[0] + 0.7152 * manual_gain[1] + 0.0722 * manual_gain[2];
    for (int c = 0; c < 3; c++)
        cc.gain[c] *= manual_gain[c] / y * exp2(m_ev);
    cc.ev += m_ev;
    cc.contrast += 0.5 * m_con / 100.0;
    cc.contrast = fmax(-0.5, fmin(0.5, cc.contrast));
    cc.saturation += m_sat / 100.0;
    json_object_set_new(meta, "exposureEV", json_real(cc.ev));
    json_object_set_new(meta, "gains", json_pack("[f,f,f]", cc.gain[0], cc.gain[1], cc.gain[2]));
    json_object_set_new(meta, "contrast", json_real(cc.contrast));
    json_object_set_new(meta, "saturation", json_real(cc.saturation + cc.vibrance));
    out->metadata = meta;
    rt_plugin_progress(ctx, 0.5);
    int identity = fabs(cc.gain[0] - 1) < 1e-6 && fabs(cc.gain[1] - 1) < 1e-6 &&
                   fabs(cc.gain[2] - 1) < 1e-6 && cc.contrast == 0 && cc.saturation == 0 &&
                   cc.vibrance == 0;
    if (identity) return 0;
    /* pointwise: corrected in place, no second full-size image */
    out->layer = rt_plugin_writable_image(ctx);
    out->quantized = 1;
    apply_correction(ctx->image, &cc, ctx->bits, out->layer);
    return 0;
}

const rt_plugin rt_plugin_color_correction = {
    .name = "Color Correction",
    .needs = RT_NEEDS_NOTHING,
    .run = color_correction_run,
};
