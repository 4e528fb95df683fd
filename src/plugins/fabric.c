/* Fabric (PLUGINS.md "Fabric", ALGORITHMS.md §6): reduces creases and
 * removes lint and small specks on clothes; seams, prints, weave and the
 * folds that shape the garment stay.
 *
 * Alpha1 = Blend [0,2]: the creases' mid band is reduced by 0.6 x Blend up
 * to 1, then toward 0.85 at 2; lint detection grows with Blend (z 6 -> 3.5);
 * a speck found is always removed fully (never extrapolated).  0 is the
 * identity (no layer).
 *
 * Clothes: the person mask minus the faces and the head around them (box
 * grown 30 % sideways, 70 % up for the hair) and minus skin-coloured pixels (the
 * faces' own skin chromaticity: neck, arms, hands), analysed on the person
 * mask's guide grid (<= 1024 px, "analyse small").
 * Creases: luminance only, so prints keep their colours.  The log luminance
 * is split, inside the clothes (masked normalised convolution: nothing
 * bleeds in from skin or backdrop), into a mid band between 0.12 % and 1.2 %
 * of the diagonal (creases) and what lies below (weave, kept at full
 * resolution) and above (the garment's form, kept).  The mid band is
 * attenuated except near sharp edges of luminance or colour (seams, prints,
 * buttons, hems: fine-band energy far above the garment's own) and in deep
 * folds (|mid band| > 0.15 in log: the drape that gives the shape); the
 * attenuation fades in from the garment's edge.  The result is a smooth
 * log-luminance gain, upsampled and applied to every full-resolution pixel:
 * weave and grain are untouched.
 * Lint and specks: filters/spots.h on the clothes (both polarities, any
 * colour, sharp rims allowed, not in a field of similar dots), divided out.
 * Output: one normal RGBA layer over the clothes' bounding box, alpha 1
 * where a pixel changes.
 * First version: stray hairs (thin ridges) are not searched for; no hair
 * model (the head zone stands for it); skin is told by colour only.
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "face/analysis.h"
#include "filters/bands.h"
#include "filters/resample.h"
#include "filters/spots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CREASE_FINE 0.0012f  /* mid band, fractions of the diagonal */
#define CREASE_COARSE 0.012f /* */
#define HEAD_SIDE 0.3f       /* the head zone: face box grown sideways, up (hair) and down */
#define HEAD_UP 0.7f
#define HEAD_DOWN 0.05f
#define SKIN_CHROMA 0.06f /* rg-chromaticity distance still counted as skin (shade, flush) */
#define EDGE_LO 3.0f      /* fine-band energy over the garment's median: protection */
#define EDGE_HI 6.0f      /* ... starts at LO, full at HI */
#define FOLD_LO 0.15f     /* |mid band| in log: deep folds keep their shape */
#define FOLD_HI 0.35f
#define MAX_SPECKS 4000

static float smoothstepf(float lo, float hi, float v)
{
    float t = (v - lo) / (hi - lo);
    t = t < 0.f ? 0.f : (t > 1.f ? 1.f : t);
    return t * t * (3.f - 2.f * t);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Bilinear sample of a plane whose pixel i covers [i * sx, (i + 1) * sx)
 * of the full image. */
static float upsample(const float *p, int w, int h, float fx, float fy)
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

/* The clothes weight on the guide grid (lw x lh), from the small linear
 * copy lin[3]. */
static void clothes_weight(const rt_face_analysis *an, const float *const lin[3], int lw, int lh,
                           int width, int height, float *cw)
{
    const rt_person_mask *pm = an->person;
    size_t n = (size_t)lw * lh;
    float sx = (float)lw / (float)width, sy = (float)lh / (float)height;
    for (size_t i = 0; i < n; i++)
        cw[i] = fminf(1.f, fmaxf(0.f, pm->low[i]));
    /* the faces' skin chromaticity, from the middle of each face box */
    double sr = 0, sg = 0;
    int ns = 0;
    for (int f = 0; f < an->nfaces; f++) {
        const rt_face *fc = &an->faces[f];
        int x0 = (int)((fc->x1 + 0.3f * (fc->x2 - fc->x1)) * sx);
        int x1 = (int)((fc->x2 - 0.3f * (fc->x2 - fc->x1)) * sx);
        int y0 = (int)((fc->y1 + 0.45f * (fc->y2 - fc->y1)) * sy);
        int y1 = (int)((fc->y2 - 0.25f * (fc->y2 - fc->y1)) * sy);
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < lh; y++)
            for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < lw; x++) {
                size_t i = (size_t)y * lw + x;
                float s = lin[0][i] + lin[1][i] + lin[2][i];
                if (s < 1e-4f) continue;
                sr += lin[0][i] / s;
                sg += lin[1][i] / s;
                ns++;
            }
    }
    for (int f = 0; f < an->nfaces; f++) {
        const rt_face *fc = &an->faces[f];
        float bw = fc->x2 - fc->x1, bh = fc->y2 - fc->y1;
        float x0 = (fc->x1 - HEAD_SIDE * bw) * sx, x1 = (fc->x2 + HEAD_SIDE * bw) * sx;
        float y0 = (fc->y1 - HEAD_UP * bh) * sy, y1 = (fc->y2 + HEAD_DOWN * bh) * sy;
        float cx = 0.5f * (x0 + x1), cy = 0.5f * (y0 + y1), ax = 0.5f * (x1 - x0) + 1.f,
              ay = 0.5f * (y1 - y0) + 1.f;
        for (int y = (int)y0; y <= (int)y1 + 1; y++)
            for (int x = (int)x0; x <= (int)x1 + 1; x++) {
                if (x < 0 || y < 0 || x >= lw || y >= lh) continue;
                float dx = ((float)x + 0.5f - cx) / ax, dy = ((float)y + 0.5f - cy) / ay;
                if (dx * dx + dy * dy <= 1.f) cw[(size_t)y * lw + x] = 0.f;
            }
    }
    if (ns > 0) {
        float r0 = (float)(sr / ns), g0 = (float)(sg / ns);
        for (size_t i = 0; i < n; i++) {
            float s = lin[0][i] + lin[1][i] + lin[2][i];
            if (s < 1e-4f) continue;
            float dr = lin[0][i] / s - r0, dg = lin[1][i] / s - g0;
            float d = sqrtf(dr * dr + dg * dg);
            cw[i] *= smoothstepf(SKIN_CHROMA, 2.f * SKIN_CHROMA, d);
        }
    }
}

/* The crease gain (log luminance, <= 0 or >= 0) on the guide grid. */
static int crease_gain(const float *const lin[3], const float *cw, int lw, int lh, float alpha,
                       float *gain)
{
    size_t n = (size_t)lw * lh;
    float diag = sqrtf((float)lw * lw + (float)lh * lh);
    float sf = CREASE_FINE * diag, sc = CREASE_COARSE * diag;
    float *mem = rt_alloc_floats(6 * n);
    if (!mem) return rt_error(RT_ERR_NOMEM, "out of memory for Fabric");
    float *l = mem, *mid = mem + n, *edge = mem + 2 * n, *tmp = mem + 3 * n, *inter = mem + 4 * n,
          *chroma = mem + 5 * n;
    for (size_t i = 0; i < n; i++) {
        l[i] = logf(rt_luminance(lin[0][i], lin[1][i], lin[2][i]) + 2e-3f);
        chroma[i] = logf(lin[0][i] + 2e-3f) - logf(lin[2][i] + 2e-3f);
    }
    int err = rt_band_between(l, cw, lw, lh, sf, sc, mid);
    /* sharp structure: luminance and colour detail finer than the creases */
    if (!err) err = rt_band_blur(l, lw, lh, 0.7f, tmp);
    for (size_t i = 0; i < n && !err; i++)
        edge[i] = fabsf(l[i] - tmp[i]);
    if (!err) err = rt_band_blur(chroma, lw, lh, 0.7f, tmp);
    for (size_t i = 0; i < n && !err; i++)
        edge[i] += fabsf(chroma[i] - tmp[i]);
    if (!err) err = rt_band_blur(edge, lw, lh, sf, edge);
    if (!err) err = rt_band_interior(cw, lw, lh, sf, inter);
    if (err) {
        rt_free(mem);
        return err;
    }
    /* the garment's own fine-band level: median over the clothes */
    size_t nc = 0;
    for (size_t i = 0; i < n; i++)
        if (cw[i] > 0.5f) tmp[nc++] = edge[i];
    float med = 0.f;
    if (nc > 0) {
        qsort(tmp, nc, sizeof *tmp, cmp_float);
        med = tmp[nc / 2];
    }
    med = fmaxf(med, 1e-3f);
    for (size_t i = 0; i < n; i++) {
        float keep = smoothstepf(EDGE_LO, EDGE_HI, edge[i] / med);
        float fold = smoothstepf(FOLD_LO, FOLD_HI, fabsf(mid[i]));
        float w = inter[i] * (1.f - keep) * (1.f - fold);
        gain[i] = -alpha * w * mid[i];
    }
    rt_free(mem);
    return 0;
}

static int fabric_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double k = rt_task_number(ctx->task, "Alpha1");
    if (!(k > 0.0)) return 0;
    if (k > 2.0) k = 2.0;
    const rt_image *im = ctx->image;
    const rt_face_analysis *an;
    int err = rt_plugin_face_analysis(ctx, &an);
    if (err) return err;
    const rt_person_mask *pm = an->person;
    if (!pm || !pm->low) {
        rt_plugin_warn(ctx, "no person mask: no clothes to work on");
        return 0;
    }
    int lw = pm->low_w, lh = pm->low_h;
    size_t n = (size_t)lw * lh;
    float k1 = (float)fmin(k, 1.0), k2 = (float)fmax(0.0, k - 1.0);
    float alpha = 0.6f * k1 + 0.25f * k2;
    float *mem = rt_alloc_floats(6 * n);
    rt_spot *specks = NULL;
    rt_spot_patch *patches = NULL;
    rt_image *layer = NULL;
    int ns = 0;
    if (!mem) return rt_error(RT_ERR_NOMEM, "out of memory for Fabric");
    float *lin[3] = {mem, mem + n, mem + 2 * n}, *cw = mem + 3 * n, *gain = mem + 4 * n,
          *trust = mem + 5 * n;
    for (int c = 0; c < 3 && !err; c++) {
        err = rt_downscale_plane(rt_image_plane(im, c), im->width, im->height, lin[c], lw, lh);
        for (size_t i = 0; i < n && !err; i++)
            lin[c][i] = rt_srgb_to_linear(lin[c][i]);
    }
    if (err) goto done;
    const float *lc[3] = {lin[0], lin[1], lin[2]};
    clothes_weight(an, lc, lw, lh, im->width, im->height, cw);
    err = crease_gain(lc, cw, lw, lh, alpha, gain);
    if (err) goto done;
    rt_plugin_progress(ctx, 0.4);

    /* lint and specks on the clothes */
    float diag = sqrtf((float)im->width * im->width + (float)im->height * im->height);
    rt_spot_params p = {0};
    p.sigma_lo = 0.0008f * diag;
    p.sigma_hi = 0.0035f * diag;
    p.z_min = 6.0f - 1.5f * k1 - 1.0f * k2;
    p.contrast_min = 0.04f - 0.01f * k1 - 0.01f * k2;
    p.contrast_max = 2.0f;
    p.rim_max = 9.f; /* lint is sharp */
    p.min_agree = 13;
    p.texture_min = 2.5f;
    p.max_neighbours = 1;
    /* full trust from half the clothes weight: the garment's edge fades */
    for (size_t i = 0; i < n; i++)
        trust[i] = fminf(1.f, 2.f * cw[i]);
    p.region = trust;
    p.region_w = lw;
    p.region_h = lh;
    p.max_spots = MAX_SPECKS;
    err = rt_spots_find(im, &p, &specks, &ns);
    if (err) goto done;
    if (ns) {
        patches = calloc((size_t)ns, sizeof *patches);
        if (!patches) {
            err = rt_error(RT_ERR_NOMEM, "out of memory for Fabric");
            goto done;
        }
        int failed = 0;
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < ns; i++) {
            int e = rt_spot_remove(im, &specks[i], 1.0f, &patches[i]);
            if (e < 0) {
#pragma omp atomic write
                failed = e;
            }
        }
        err = failed;
        if (err) goto done;
    }
    rt_plugin_progress(ctx, 0.7);

    /* the layer: the bounding box of the gain and the patches */
    float fx = (float)lw / (float)im->width, fy = (float)lh / (float)im->height;
    int bx0 = lw, by0 = lh, bx1 = -1, by1 = -1;
    for (int y = 0; y < lh; y++)
        for (int x = 0; x < lw; x++)
            if (fabsf(gain[(size_t)y * lw + x]) > 1e-5f) {
                if (x < bx0) bx0 = x;
                if (x > bx1) bx1 = x;
                if (y < by0) by0 = y;
                if (y > by1) by1 = y;
            }
    int x0 = im->width, y0 = im->height, x1 = 0, y1 = 0;
    if (bx1 >= 0) {
        /* one guide pixel more on each side: the bilinear tails */
        x0 = (int)floorf((float)(bx0 - 1) / fx);
        y0 = (int)floorf((float)(by0 - 1) / fy);
        x1 = (int)ceilf((float)(bx1 + 2) / fx);
        y1 = (int)ceilf((float)(by1 + 2) / fy);
    }
    int removed = 0;
    for (int i = 0; i < ns; i++) {
        const rt_spot_patch *q = &patches[i];
        if (!q->logc) continue;
        removed++;
        if (q->x0 < x0) x0 = q->x0;
        if (q->y0 < y0) y0 = q->y0;
        if (q->x0 + q->w > x1) x1 = q->x0 + q->w;
        if (q->y0 + q->h > y1) y1 = q->y0 + q->h;
    }
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > im->width) x1 = im->width;
    if (y1 > im->height) y1 = im->height;
    if (x1 <= x0 || y1 <= y0) goto done;
    int w = x1 - x0, h = y1 - y0;
    err = rt_image_create_uninit(w, h, 4, &layer);
    if (err) goto done;
    float *L0 = rt_image_plane(layer, 0), *L1 = rt_image_plane(layer, 1),
          *L2 = rt_image_plane(layer, 2), *LA = rt_image_plane(layer, 3);
    /* log deltas: the crease gain on every channel ... */
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t li = (size_t)y * w + x;
            float g = upsample(gain, lw, lh, ((float)(x0 + x) + 0.5f) * fx,
                               ((float)(y0 + y) + 0.5f) * fy);
            if (fabsf(g) < 1e-5f) g = 0.f;
            L0[li] = L1[li] = L2[li] = g;
            LA[li] = g != 0.f;
        }
    /* ... minus each speck's attenuation, serially in list order */
    for (int i = 0; i < ns; i++) {
        const rt_spot_patch *q = &patches[i];
        if (!q->logc) continue;
        size_t np = (size_t)q->w * q->h;
        for (int y = 0; y < q->h; y++)
            for (int x = 0; x < q->w; x++) {
                int gx = q->x0 + x - x0, gy = q->y0 + y - y0;
                if (gx < 0 || gy < 0 || gx >= w || gy >= h) continue;
                size_t li = (size_t)gy * w + gx, pi = (size_t)y * q->w + x;
                for (int c = 0; c < 3; c++) {
                    float v = q->logc[c * np + pi];
                    if (v == 0.f) continue;
                    rt_image_plane(layer, c)[li] -= v;
                    LA[li] = 1.f;
                }
            }
    }
    int any = 0;
#pragma omp parallel for schedule(static) reduction(| : any)
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t li = (size_t)y * w + x;
            if (LA[li] == 0.f) continue;
            size_t ii = (size_t)(y0 + y) * im->width + x0 + x;
            /* the crease gain alone is the same on every channel: one expf */
            float g0 = L0[li], e0 = expf(g0);
            for (int c = 0; c < 3; c++) {
                float gc = rt_image_plane(layer, c)[li];
                float v = rt_srgb_to_linear(rt_image_plane(im, c)[ii]);
                v = (v + 2e-3f) * (gc == g0 ? e0 : expf(gc)) - 2e-3f;
                v = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
                rt_image_plane(layer, c)[li] = rt_linear_to_srgb(v);
            }
            any = 1;
        }
    if (!any) {
        rt_image_destroy(layer);
        layer = NULL;
    }
    out->metadata = json_pack("{s:i}", "specks", removed);
    if (layer) {
        out->layer = layer;
        out->x = x0;
        out->y = y0;
        layer = NULL;
    }
done:
    for (int i = 0; patches && i < ns; i++)
        rt_spot_patch_release(&patches[i]);
    free(patches);
    free(specks);
    rt_free(mem);
    rt_image_destroy(layer);
    return err;
}

const rt_plugin rt_plugin_fabric = {
    .name = "Fabric",
    .needs = RT_NEEDS_FACES | RT_NEEDS_PERSON_MASK,
    .run = fabric_run,
};
