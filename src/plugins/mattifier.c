/* Mattifier: removes oily shine (specular highlights) from skin
 * (PLUGINS.md, ALGORITHMS.md §11).
 *
 * Model: dichromatic reflection.  A skin pixel is diffuse skin colour plus
 * a specular part the colour of the light (white after white balance), so
 * shine is an additive, whitish bump: brighter AND paler than the skin
 * around it.  Both cues are required, so a bright but skin-coloured area
 * (light on the nose bridge: form) and a pale but not bright patch keep
 * their look.
 *
 * Per face, on its skin weight (rt_plugin_skin_weight, the only source of
 * where skin is), analyse small, apply large:
 *   1. the face's skin bounds in linear light at <= 4 px/mm; base B =
 *      skin-masked Gaussian (0.3 mm: pores stay out of the base);
 *   2. diffuse reference Dref at 0.5 px/mm: masked normalised convolution of
 *      the base (5 mm, plus a wide 15 mm term that fills large shiny areas)
 *      whose weights are re-estimated three times at the analysis
 *      resolution, each time dropping pixels that are brighter than the
 *      reference or off its chroma (paler: shine; more saturated or another
 *      hue: lips or make-up the skin weight let in): a robust envelope of
 *      the diffuse skin;
 *   3. per base pixel, the specular amount m along grey: the chroma cue
 *      (share of the pixel beyond the reference chromaticity toward grey,
 *      past a dead zone of natural variation) limited by the luminance cue
 *      (excess over the envelope);  85 % of it is removed, the sheen left
 *      capped at 6 % of the diffuse; what stays is rebuilt from the model
 *      (reference chromaticity, the pixel's own hue deviation, grey sheen),
 *      so clipped or capped highlights, whose own chroma is lost, do not
 *      turn into grey patches;
 *   4. the result is a per-channel gain T/B (<= 1) on the base, upsampled
 *      bilinearly and applied to every full-resolution pixel in one pass:
 *      relative texture under the highlight (pores) is kept, not flattened
 *      and not amplified into noise;
 *   5. clipped pixels (no texture left) borrow the relative luminance
 *      texture of skin at one offset per face (the shortest of 1.5-9 mm
 *      that lands on unclipped skin).
 * The layer holds the mattified colour, alpha = Blend x skin weight where a
 * pixel gets darker; the pipeline composites it with darken (min), so the
 * output is never brighter than the input.
 *
 * First version: the borrowed texture of clipped highlights is a plain
 * offset copy (no patch search, no blending of several sources); pale but
 * matte skin that is also brighter than its surroundings (under the eyes
 * of light skin) is partly taken for shine; the base/detail split is a
 * plain skin-masked Gaussian (filters/blur.h) until the shared band
 * decomposition lands.
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "face/analysis.h"
#include "face/skin.h"
#include "filters/blur.h"
#include "filters/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ANALYSIS_PX_PER_MM 4.0f /* base and gains */
#define COARSE_PX_PER_MM 0.5f   /* diffuse reference */
#define BASE_SIGMA_MM 0.3f
#define REF_SIGMA_MM 5.0f
#define REF_WIDE_SIGMA_MM 15.0f
#define REF_WIDE_WEIGHT 0.02f /* the wide term only counts where the narrow one has no skin */
#define REF_ROUNDS 4
#define REMOVE 0.85f    /* fraction of the specular removed at Blend 1: a little sheen stays */
#define SHEEN_MAX 0.06f /* ... but at most this fraction of the diffuse */
/* Clipped highlights (all channels near white, sRGB) have lost their texture. */
#define CLIP_LO 0.94f
#define CLIP_HI 0.99f
#define TEX_RADIUS_MM 0.25f /* local mean of the borrowed texture: finer than pores */
/* Dead zones: natural variation of skin is not shine. */
#define PALE_DEAD 0.010f  /* chromaticity distance toward grey */
#define BRIGHT_DEAD 0.05f /* relative brightness over the reference */
/* Reference weights: how fast paler / brighter pixels stop counting. */
#define REF_PALE_SCALE 0.010f
#define REF_BRIGHT_SCALE 0.05f
/* Chroma confidence: chromaticity distance of the skin from grey. */
#define CHROMA_MIN 0.01f
#define CHROMA_FULL 0.04f

typedef struct plane3 {
    float *c[3];
} plane3;

typedef struct face_job {
    int rx, ry, rw, rh; /* ROI in the running image */
    int aw, ah;         /* analysis size */
    float *weight;      /* full-resolution skin weight of the ROI (rw x rh) */
    float *gain;        /* 3 planes aw x ah: per-channel linear gain (<= 1) */
    int colourless;     /* the skin has no chroma: shine cannot be told from light */
    int src_dx, src_dy; /* where clipped pixels borrow texture from (full resolution) */
    int has_src;
    int tex_radius; /* box radius of the borrowed texture's local mean, pixels */
} face_job;

static float smoothstepf(float lo, float hi, float v)
{
    float t = (v - lo) / (hi - lo);
    t = t < 0.f ? 0.f : (t > 1.f ? 1.f : t);
    return t * t * (3.f - 2.f * t);
}

/* Masked normalised convolution of three planes: out = G*(w v) / G*(w),
 * with a wide term (weight REF_WIDE_WEIGHT) where the narrow one sees no
 * weight.  tmp needs 3 * n floats. */
static int masked_reference(const float *const v[3], const float *w, int cw, int ch, float sigma,
                            float wide_sigma, float *const out[3], float *tmp)
{
    size_t n = (size_t)cw * ch;
    float *den = tmp, *den_wide = tmp + n, *num_wide = tmp + 2 * n;
    memcpy(den, w, n * sizeof *den);
    memcpy(den_wide, w, n * sizeof *den);
    int err = rt_gaussian_blur_plane(den, cw, ch, sigma);
    if (!err) err = rt_gaussian_blur_plane(den_wide, cw, ch, wide_sigma);
    for (int c = 0; c < 3 && !err; c++) {
        for (size_t i = 0; i < n; i++)
            out[c][i] = num_wide[i] = v[c][i] * w[i];
        err = rt_gaussian_blur_plane(out[c], cw, ch, sigma);
        if (!err) err = rt_gaussian_blur_plane(num_wide, cw, ch, wide_sigma);
        for (size_t i = 0; i < n && !err; i++) {
            float d = den[i] + REF_WIDE_WEIGHT * den_wide[i];
            out[c][i] = d > 1e-8f ? (out[c][i] + REF_WIDE_WEIGHT * num_wide[i]) / d : v[c][i];
        }
    }
    return err;
}

/* Chromaticity of a linear colour v against the reference colour ref:
 * chromaticity(v) = grey + alpha (chromaticity(ref) - grey) + perp, perp
 * orthogonal to that line.  alpha = 1: as saturated as the reference,
 * 0: grey.  *dist is the reference's chromaticity distance from grey (0 for
 * grey skin, where alpha means nothing and is returned as 1). */
static float decompose(const float v[3], const float ref[3], float *dist, float perp[3])
{
    float sr = ref[0] + ref[1] + ref[2], sv = v[0] + v[1] + v[2];
    perp[0] = perp[1] = perp[2] = 0.f;
    *dist = 0.f;
    if (sr <= 1e-6f || sv <= 1e-6f) return 1.f;
    float dx[3], cx[3], dd = 0, dot = 0;
    for (int c = 0; c < 3; c++) {
        dx[c] = ref[c] / sr - 1.f / 3.f;
        cx[c] = v[c] / sv - 1.f / 3.f;
        dd += dx[c] * dx[c];
        dot += dx[c] * cx[c];
    }
    *dist = sqrtf(dd);
    if (dd < 1e-10f) return 1.f;
    float alpha = dot / dd;
    for (int c = 0; c < 3; c++)
        perp[c] = cx[c] - alpha * dx[c];
    return alpha;
}

/* Share of v's sum that is whitish beyond the palest natural variation of
 * the reference skin (PALE_DEAD), 0..1. */
static float pale_share(const float v[3], const float ref[3], float *dist, float *alpha0,
                        float perp[3])
{
    float alpha = decompose(v, ref, dist, perp);
    *alpha0 = *dist > PALE_DEAD ? 1.f - PALE_DEAD / *dist : 0.f;
    if (*alpha0 <= 0.f) return 0.f;
    float beta = alpha / *alpha0;
    return beta >= 1.f ? 0.f : (beta <= 0.f ? 1.f : 1.f - beta);
}

/* Bilinear sample of a plane at continuous coordinates (pixel centres at
 * integer + 0.5 of the plane's own grid), borders clamped. */
static inline float bilinear(const float *p, int w, int h, float fx, float fy)
{
    fx -= 0.5f;
    fy -= 0.5f;
    if (fx < 0) fx = 0;
    if (fy < 0) fy = 0;
    if (fx > (float)(w - 1)) fx = (float)(w - 1);
    if (fy > (float)(h - 1)) fy = (float)(h - 1);
    int x0 = (int)fx, y0 = (int)fy;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float tx = fx - (float)x0, ty = fy - (float)y0;
    const float *r0 = p + (size_t)y0 * w, *r1 = p + (size_t)y1 * w;
    float a = r0[x0] + tx * (r0[x1] - r0[x0]);
    float b = r1[x0] + tx * (r1[x1] - r1[x0]);
    return a + ty * (b - a);
}

/* The diffuse reference at coarse resolution, upsampled to the analysis
 * grid: ref[c] (aw x ah).  base/wa are the analysis planes.  The robust
 * weights are re-estimated REF_ROUNDS - 1 times. */
static int diffuse_reference(const plane3 *base, const float *wa, int aw, int ah, float ppm_a,
                             plane3 *ref)
{
    float scale = COARSE_PX_PER_MM / ppm_a;
    if (scale > 1.f) scale = 1.f;
    int cw = (int)lroundf((float)aw * scale), ch = (int)lroundf((float)ah * scale);
    if (cw < 1) cw = 1;
    if (ch < 1) ch = 1;
    float ppm_c = ppm_a * (float)cw / (float)aw;
    size_t n = (size_t)cw * ch, na = (size_t)aw * ah;
    float *mem = rt_alloc_floats(10 * n + 2 * na);
    if (!mem) return rt_error(RT_ERR_NOMEM, "Mattifier: out of memory");
    float *bc[3] = {mem, mem + n, mem + 2 * n};
    float *dr[3] = {mem + 3 * n, mem + 4 * n, mem + 5 * n};
    float *wc = mem + 6 * n, *tmp = mem + 7 * n, *prod = mem + 10 * n, *w = prod + na;
    float sigma = REF_SIGMA_MM * ppm_c, wide = REF_WIDE_SIGMA_MM * ppm_c;
    float sx = (float)cw / (float)aw, sy = (float)ch / (float)ah;
    memcpy(w, wa, na * sizeof *w);
    int err = 0;
    for (int round = 0; round < REF_ROUNDS && !err; round++) {
        /* coarse weighted base: the weights are decided at the analysis
         * resolution, where a few-millimetre highlight is resolved (a
         * coarse pixel would mix it with the skin around and let it in) */
        rt_downscale_plane(w, aw, ah, wc, cw, ch);
        for (int c = 0; c < 3; c++) {
            for (size_t i = 0; i < na; i++)
                prod[i] = base->c[c][i] * w[i];
            rt_downscale_plane(prod, aw, ah, bc[c], cw, ch);
            for (size_t i = 0; i < n; i++)
                bc[c][i] = wc[i] > 1e-9f ? bc[c][i] / wc[i] : 0.f;
        }
        const float *bcc[3] = {bc[0], bc[1], bc[2]};
        err = masked_reference(bcc, wc, cw, ch, sigma, wide, dr, tmp);
        for (int c = 0; c < 3 && !err; c++) {
#pragma omp parallel for schedule(static)
            for (int y = 0; y < ah; y++)
                for (int x = 0; x < aw; x++)
                    ref->c[c][(size_t)y * aw + x] =
                        bilinear(dr[c], cw, ch, ((float)x + 0.5f) * sx, ((float)y + 0.5f) * sy);
        }
        if (round + 1 == REF_ROUNDS || err) break;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < na; i++) {
            if (!(wa[i] > 0.f)) {
                w[i] = 0.f;
                continue;
            }
            float v[3] = {base->c[0][i], base->c[1][i], base->c[2][i]};
            float r[3] = {ref->c[0][i], ref->c[1][i], ref->c[2][i]};
            /* any chroma outlier stops counting: paler (shine), but also
             * more saturated or another hue (lips or make-up the skin
             * weight let in) */
            float dist, perp[3], alpha = decompose(v, r, &dist, perp);
            float sv = v[0] + v[1] + v[2], sr = r[0] + r[1] + r[2];
            float hue = sqrtf(perp[0] * perp[0] + perp[1] * perp[1] + perp[2] * perp[2]);
            float off =
                fmaxf(0.f, fabsf(1.f - alpha) * dist - PALE_DEAD) + fmaxf(0.f, hue - PALE_DEAD);
            float bright = sr > 1e-6f ? fmaxf(0.f, sv / sr - 1.f) / REF_BRIGHT_SCALE : 0.f;
            w[i] = wa[i] * expf(-(off / REF_PALE_SCALE + bright));
        }
    }
    rt_free(mem);
    return err;
}

/* The per-channel gain of one base pixel b against the diffuse reference
 * r: the mattified base over the base. */
static void pixel_gain(const float b[3], const float r[3], float gain[3])
{
    gain[0] = gain[1] = gain[2] = 1.f;
    float sb = b[0] + b[1] + b[2], sr = r[0] + r[1] + r[2];
    if (sb <= 1e-6f || sr <= 1e-6f) return;
    float dist, alpha0, perp[3];
    float f = pale_share(b, r, &dist, &alpha0, perp);
    float chroma_conf = smoothstepf(CHROMA_MIN, CHROMA_FULL, dist);
    /* chroma cue: the whitish part; luminance cue: what exceeds the diffuse
     * envelope.  Shine needs both; a clipped highlight's chroma says "all
     * white", its luminance bounds what can be removed. */
    float m_chroma = f * sb;
    /* the brightness dead zone protects lit, slightly pale skin; a (nearly)
     * white pixel is shine through and through and goes down to the
     * reference itself (else clipped highlights stay pale discs) */
    float m_bright = fmaxf(0.f, sb - (1.f + BRIGHT_DEAD * (1.f - f)) * sr);
    float m = chroma_conf * fminf(m_chroma, m_bright);
    if (m <= 0.f) return;
    /* the sheen left: a fraction of the shine, at most a little of the
     * diffuse (a strong highlight's 15 % would still be a grey spot) */
    float sheen_sum = fminf((1.f - REMOVE) * m, SHEEN_MAX * (sb - m));
    float m_rm = m - sheen_sum;
    float left = sb - m_rm; /* sum of what stays */
    if (left <= 1e-6f) return;
    /* what stays: diffuse skin of the reference's chromaticity (at the
     * palest natural variation, plus the pixel's own hue deviation) and the
     * sheen not removed, grey.  Built from the model rather than by
     * rescaling the pixel's chroma, which a clipped or capped highlight has
     * lost (that left grey patches). */
    float sheen = sheen_sum / left;
    /* diffuse chroma: the palest natural skin for a little shine (continuous
     * with untouched pixels), the reference's own for a white pixel */
    float sat = alpha0 + (1.f - alpha0) * f;
    float ct[3];
    for (int c = 0; c < 3; c++) {
        float model = 1.f / 3.f + (1.f - sheen) * sat * (r[c] / sr - 1.f / 3.f) + perp[c];
        float own = b[c] / sb;
        ct[c] = own + chroma_conf * (model - own);
        if (ct[c] < 0.f) ct[c] = 0.f;
    }
    float yb = rt_luminance(b[0], b[1], b[2]);
    float yt = yb - m_rm / 3.f; /* grey of sum m has luminance m / 3 */
    float yc = rt_luminance(ct[0], ct[1], ct[2]);
    if (yt <= 0.f || yc <= 1e-6f) return;
    for (int c = 0; c < 3; c++) {
        float t = ct[c] * yt / yc;
        float g = b[c] > 1e-6f ? t / b[c] : 1.f;
        gain[c] = g < 1.f ? (g > 0.f ? g : 0.f) : 1.f;
    }
}

/* Clipped highlights keep no texture: they borrow the relative texture of
 * skin nearby.  One offset per face, the shortest (1.5 to 9 mm, 8
 * directions) that sends (nearly) every clipped analysis pixel to unclipped
 * skin; none when there is no clipping or no such offset. */
static void find_texture_source(const plane3 *lin, const float *wa, int aw, int ah, float ppm_a,
                                float to_full, face_job *fj)
{
    const float clip_lin = 0.85f; /* the analysis copy averages: a bit below white */
    size_t na = (size_t)aw * ah, nclip = 0;
    unsigned char *clip = calloc(na, 1);
    if (!clip) return;
    for (size_t i = 0; i < na; i++) {
        float m = fminf(lin->c[0][i], fminf(lin->c[1][i], lin->c[2][i]));
        clip[i] = wa[i] > 0.5f && m >= clip_lin;
        nclip += clip[i];
    }
    static const float radii[] = {1.5f, 2.5f, 4.f, 6.f, 9.f};
    static const int dirs[8][2] = {{1, 0}, {-1, 0}, {0, 1},  {0, -1},
                                   {1, 1}, {-1, 1}, {1, -1}, {-1, -1}};
    for (size_t r = 0; nclip && r < sizeof radii / sizeof radii[0] && !fj->has_src; r++)
        for (int d = 0; d < 8 && !fj->has_src; d++) {
            float len = radii[r] * ppm_a / (dirs[d][0] && dirs[d][1] ? 1.41421356f : 1.f);
            int dx = (int)lroundf((float)dirs[d][0] * len),
                dy = (int)lroundf((float)dirs[d][1] * len);
            size_t good = 0;
            for (int y = 0; y < ah; y++)
                for (int x = 0; x < aw; x++) {
                    size_t i = (size_t)y * aw + x;
                    if (!clip[i]) continue;
                    int sx = x + dx, sy = y + dy;
                    if (sx < 0 || sy < 0 || sx >= aw || sy >= ah) continue;
                    size_t j = (size_t)sy * aw + sx;
                    good += wa[j] > 0.5f && !clip[j];
                }
            if (good * 20 >= nclip * 19) {
                fj->has_src = 1;
                fj->src_dx = (int)lroundf((float)dx * to_full);
                fj->src_dy = (int)lroundf((float)dy * to_full);
            }
        }
    free(clip);
}

/* Analysis of one face: fills fj->gain.  Returns 0 with fj->gain NULL when
 * the face has no skin in its ROI. */
static int analyse_face(const rt_image *im, const rt_face *f, face_job *fj)
{
    float ppm = f->px_per_mm > 0.f ? f->px_per_mm : 1.f;
    float s = ANALYSIS_PX_PER_MM / ppm;
    if (s > 1.f) s = 1.f;
    int aw = (int)lroundf((float)fj->rw * s), ah = (int)lroundf((float)fj->rh * s);
    if (aw < 1) aw = 1;
    if (ah < 1) ah = 1;
    fj->aw = aw;
    fj->ah = ah;
    float ppm_a = ppm * (float)aw / (float)fj->rw;
    size_t nr = (size_t)fj->rw * fj->rh, na = (size_t)aw * ah;
    float *full = rt_alloc_floats(nr);
    float *mem = rt_alloc_floats(11 * na);
    if (!full || !mem) {
        rt_free(full);
        rt_free(mem);
        return rt_error(RT_ERR_NOMEM, "Mattifier: out of memory");
    }
    plane3 lin = {{mem, mem + na, mem + 2 * na}};
    plane3 base = {{mem + 3 * na, mem + 4 * na, mem + 5 * na}};
    plane3 ref = {{mem + 6 * na, mem + 7 * na, mem + 8 * na}};
    float *wa = mem + 9 * na, *den = mem + 10 * na;
    /* linear-light analysis copy of the ROI and its skin weight */
    for (int c = 0; c < 3; c++) {
        const float *src = rt_image_plane(im, c);
#pragma omp parallel for schedule(static)
        for (int y = 0; y < fj->rh; y++) {
            const float *row = src + (size_t)(fj->ry + y) * im->width + fj->rx;
            float *d = full + (size_t)y * fj->rw;
            for (int x = 0; x < fj->rw; x++)
                d[x] = rt_srgb_to_linear(row[x]);
        }
        rt_downscale_plane(full, fj->rw, fj->rh, lin.c[c], aw, ah);
    }
    rt_downscale_plane(fj->weight, fj->rw, fj->rh, wa, aw, ah);
    rt_free(full);
    /* base: skin-masked Gaussian, so hair, brows and eyes do not bleed in */
    float sigma = BASE_SIGMA_MM * ppm_a;
    memcpy(den, wa, na * sizeof *den);
    int err = rt_gaussian_blur_plane(den, aw, ah, sigma);
    for (int c = 0; c < 3 && !err; c++) {
        for (size_t i = 0; i < na; i++)
            base.c[c][i] = lin.c[c][i] * wa[i];
        err = rt_gaussian_blur_plane(base.c[c], aw, ah, sigma);
        for (size_t i = 0; i < na && !err; i++)
            base.c[c][i] = den[i] > 1e-4f ? base.c[c][i] / den[i] : lin.c[c][i];
    }
    if (!err) err = diffuse_reference(&base, wa, aw, ah, ppm_a, &ref);
    if (err) {
        rt_free(mem);
        return err;
    }
    find_texture_source(&lin, wa, aw, ah, ppm_a, (float)fj->rw / (float)aw, fj);
    fj->tex_radius = (int)lroundf(TEX_RADIUS_MM * ppm);
    if (fj->tex_radius < 1) fj->tex_radius = 1;
    /* Without colour (a black-and-white photo) shine and lit skin look the
     * same: brightness alone would flatten the face's form, so the face is
     * left alone. */
    double wsum = 0, dsum = 0;
    for (size_t i = 0; i < na; i++) {
        float dist, perp[3], r[3] = {ref.c[0][i], ref.c[1][i], ref.c[2][i]};
        decompose(r, r, &dist, perp);
        wsum += wa[i];
        dsum += wa[i] * dist;
    }
    if (wsum <= 0 || dsum / wsum < CHROMA_MIN) {
        fj->colourless = 1;
        rt_free(mem);
        return 0;
    }
    /* the gains replace the linear copy (same memory) */
    fj->gain = mem;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < na; i++) {
        float g[3] = {1.f, 1.f, 1.f};
        if (wa[i] > 0.f) {
            float b[3] = {base.c[0][i], base.c[1][i], base.c[2][i]};
            float r[3] = {ref.c[0][i], ref.c[1][i], ref.c[2][i]};
            pixel_gain(b, r, g);
        }
        for (int c = 0; c < 3; c++)
            mem[c * na + i] = g[c];
    }
    return 0;
}

/* Relative luminance texture of the image at (x, y): its linear luminance
 * over the mean of the (2r+1)^2 box around it, minus 1, clamped. */
static float borrowed_texture(const rt_image *im, int x, int y, int r)
{
    const float *p[3] = {rt_image_plane(im, 0), rt_image_plane(im, 1), rt_image_plane(im, 2)};
    float sum = 0.f, centre = 0.f;
    int n = 0;
    for (int dy = -r; dy <= r; dy++) {
        int yy = y + dy < 0 ? 0 : (y + dy >= im->height ? im->height - 1 : y + dy);
        for (int dx = -r; dx <= r; dx++) {
            int xx = x + dx < 0 ? 0 : (x + dx >= im->width ? im->width - 1 : x + dx);
            size_t i = (size_t)yy * im->width + xx;
            float v = rt_luminance(rt_srgb_to_linear(p[0][i]), rt_srgb_to_linear(p[1][i]),
                                   rt_srgb_to_linear(p[2][i]));
            sum += v;
            n++;
            if (!dx && !dy) centre = v;
        }
    }
    float mean = sum / (float)n;
    if (mean <= 1e-4f) return 0.f;
    float t = centre / mean - 1.f;
    return t < -0.5f ? -0.5f : (t > 0.5f ? 0.5f : t);
}

/* Full-resolution pass of one face into the layer (origin lx, ly). */
static void apply_face(const rt_image *im, const face_job *fj, float blend, rt_image *layer, int lx,
                       int ly)
{
    size_t na = (size_t)fj->aw * fj->ah;
    const float *gp[3] = {fj->gain, fj->gain + na, fj->gain + 2 * na};
    float sx = (float)fj->aw / (float)fj->rw, sy = (float)fj->ah / (float)fj->rh;
    size_t lstride = (size_t)layer->width;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < fj->rh; y++) {
        int iy = fj->ry + y, ly_ = iy - ly;
        if (ly_ < 0 || ly_ >= layer->height) continue;
        const float *wrow = fj->weight + (size_t)y * fj->rw;
        for (int x = 0; x < fj->rw; x++) {
            float w = wrow[x];
            if (!(w > 0.f)) continue;
            int ix = fj->rx + x, lx_ = ix - lx;
            if (lx_ < 0 || lx_ >= layer->width) continue;
            float fx = ((float)x + 0.5f) * sx, fy = ((float)y + 0.5f) * sy;
            float g[3];
            int darker = 0;
            for (int c = 0; c < 3; c++) {
                g[c] = bilinear(gp[c], fj->aw, fj->ah, fx, fy);
                darker |= g[c] < 1.f;
            }
            if (!darker) continue;
            size_t ii = (size_t)iy * im->width + ix, li = (size_t)ly_ * lstride + lx_;
            float tex = 1.f;
            if (fj->has_src) {
                float lo = fminf(rt_image_plane(im, 0)[ii],
                                 fminf(rt_image_plane(im, 1)[ii], rt_image_plane(im, 2)[ii]));
                float k = smoothstepf(CLIP_LO, CLIP_HI, lo);
                if (k > 0.f)
                    tex = 1.f + k * borrowed_texture(im, ix + fj->src_dx, iy + fj->src_dy,
                                                     fj->tex_radius);
            }
            int changed = 0;
            for (int c = 0; c < 3; c++) {
                float v = rt_image_plane(im, c)[ii];
                float out = g[c] < 1.f ? rt_linear_to_srgb(rt_srgb_to_linear(v) * g[c] * tex) : v;
                if (out > v) out = v;
                float *dst = rt_image_plane(layer, c) + li;
                if (out < v) changed = 1;
                if (out < *dst) *dst = out;
            }
            if (changed) {
                float *a = rt_image_plane(layer, 3) + li;
                float al = blend * w;
                if (al > *a) *a = al;
            }
        }
    }
}

static int mattifier_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double blend = rt_task_number(ctx->task, "Alpha1");
    if (!(blend > 0)) return 0;
    if (blend > 1) blend = 1;
    const rt_face_analysis *a;
    int err = rt_plugin_face_analysis(ctx, &a);
    if (err) return err;
    if (a->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found: no shine removed");
        return 0;
    }
    const rt_image *im = ctx->image;
    face_job *jobs = calloc((size_t)a->nfaces, sizeof *jobs);
    if (!jobs) return rt_error(RT_ERR_NOMEM, "Mattifier: out of memory");
    int ux0 = im->width, uy0 = im->height, ux1 = 0, uy1 = 0, nskin = 0, ncolourless = 0;
    for (int i = 0; i < a->nfaces; i++) {
        int bx, by, bw, bh;
        if (!rt_face_skin_bounds(a, i, &bx, &by, &bw, &bh)) continue;
        const rt_face *f = &a->faces[i];
        /* the ROI is the skin bounds: base and reference only ever average
         * skin, so nothing beyond them would count */
        face_job *fj = &jobs[i];
        fj->rx = bx;
        fj->ry = by;
        fj->rw = bw;
        fj->rh = bh;
        fj->weight = rt_alloc_floats((size_t)bw * bh);
        if (!fj->weight) {
            err = rt_error(RT_ERR_NOMEM, "Mattifier: out of memory");
            break;
        }
        err = rt_plugin_skin_weight(ctx, i, bx, by, bw, bh, fj->weight, (size_t)bw);
        if (err) break;
        int any = 0;
        for (size_t k = 0; k < (size_t)fj->rw * fj->rh && !any; k++)
            any = fj->weight[k] > 0.f;
        if (!any) continue;
        err = analyse_face(im, f, fj);
        if (err) break;
        if (fj->colourless) {
            ncolourless++;
            continue;
        }
        /* the layer covers every face's skin bounds */
        if (bx < ux0) ux0 = bx;
        if (by < uy0) uy0 = by;
        if (bx + bw > ux1) ux1 = bx + bw;
        if (by + bh > uy1) uy1 = by + bh;
        nskin++;
    }
    rt_image *layer = NULL;
    if (!err && nskin > 0) err = rt_image_create_uninit(ux1 - ux0, uy1 - uy0, 4, &layer);
    if (!err && layer) {
        for (int c = 0; c < 3; c++) {
            const float *src = rt_image_plane(im, c);
            float *dst = rt_image_plane(layer, c);
            for (int y = 0; y < layer->height; y++)
                memcpy(dst + (size_t)y * layer->width, src + (size_t)(uy0 + y) * im->width + ux0,
                       (size_t)layer->width * sizeof *dst);
        }
        memset(rt_image_plane(layer, 3), 0, rt_image_pixels(layer) * sizeof(float));
        for (int i = 0; i < a->nfaces; i++)
            if (jobs[i].gain) apply_face(im, &jobs[i], (float)blend, layer, ux0, uy0);
    }
    for (int i = 0; i < a->nfaces; i++) {
        rt_free(jobs[i].weight);
        rt_free(jobs[i].gain);
    }
    free(jobs);
    if (err) {
        rt_image_destroy(layer);
        return err;
    }
    if (ncolourless)
        rt_plugin_warn(ctx,
                       "%d of %d faces left untouched: their skin has no colour (black and "
                       "white?), so shine cannot be told from lit skin",
                       ncolourless, a->nfaces);
    if (!layer) {
        if (!ncolourless)
            rt_plugin_warn(ctx, "no skin visible on the faces found: no shine removed");
        return 0;
    }
    out->layer = layer;
    out->x = ux0;
    out->y = uy0;
    return 0;
}

const rt_plugin rt_plugin_mattifier = {
    .name = "Mattifier",
    .needs = RT_NEEDS_FACES,
    .run = mattifier_run,
};
