/* Dust (PLUGINS.md "Dust", ALGORITHMS.md §7): removes dust particles and
 * sensor spots, small soft darker or lighter blobs, anywhere in the frame;
 * sharp detail (text, jewellery highlights, catchlights, lashes) stays.
 *
 * Alpha1 = Blend [0,2]: up to 1 it is the correction's opacity and lowers
 * the detection threshold (z 6 -> 4.5, least contrast 3 % -> 2 %); from 1
 * to 2 only detection grows (z -> 3.5, contrast -> 1.2 %): more spots, never
 * over-correction.  0 is the identity (no layer).
 * Scale: the particle size, as a blob sigma in fractions of the image
 * diagonal (the same look at 6 and 24 MP): 3 finest 0.08-0.16 %, 2
 * 0.16-0.35 %, 1 largest 0.35-0.8 %, 0 all of them.
 *
 * Method (filters/spots.h): scale-normalised DoG in octaves of the log
 * luminance; a spot must stand out of a smooth, isolated ring (z against
 * the ring's robust spread), be round, at most 0.6 in log contrast (dust
 * attenuates by less than half; catchlights, text and highlights are far
 * stronger) and soft (its radial profile falls like a Gaussian, not at a
 * rim).  Each spot's smooth attenuation is divided out per linear channel,
 * so the grain under it is the image's own.
 * Output: one normal RGBA layer over the corrected spots' bounding box,
 * alpha 1 on the corrected pixels only.
 * The subject is protected from the job's face analysis: faces (box + 30 %:
 * eyes, catchlights, lashes, brows, lips) are never searched (blemishes
 * there are Heal's), the rest of the person mask needs clearer spots.
 * First version: freckles or moles off the face that pass every test as a
 * lone soft spot can still be taken for dust; opaque specks are divided out
 * like dust (their own texture stays), not inpainted.
 */
#include "plugins/plugin.h"

#include "core/error.h"
#include "face/analysis.h"
#include "filters/spots.h"

#include <math.h>
#include <stdlib.h>

#define MAX_SPOTS 4000
#define PERSON_TRUST 0.6f /* on the subject: z 1.7x higher, contrast at most 0.6x */
#define FACE_MARGIN 0.3f  /* faces (eyes, lashes, brows, lips) are left to Heal: box + 30 % */

/* Where dust may be looked for, on the person mask's guide grid: 1 off the
 * person, PERSON_TRUST on it (moles, freckles, jewellery, hair crossings
 * look like dust; a speck there must be clearer), 0 on faces.  NULL with
 * *w = 0 when the analysis has no person mask. */
static int trust_plane(const rt_face_analysis *an, int width, int height, float **out, int *w,
                       int *h)
{
    *out = NULL;
    *w = *h = 0;
    const rt_person_mask *pm = an->person;
    if (!pm || !pm->low || pm->low_w < 1 || pm->low_h < 1) return 0;
    int tw = pm->low_w, th = pm->low_h;
    float *t = malloc((size_t)tw * th * sizeof *t);
    if (!t) return rt_error(RT_ERR_NOMEM, "out of memory for Dust");
    for (size_t i = 0; i < (size_t)tw * th; i++) {
        float p = pm->low[i] < 0.f ? 0.f : (pm->low[i] > 1.f ? 1.f : pm->low[i]);
        t[i] = 1.f - (1.f - PERSON_TRUST) * p;
    }
    float sx = (float)tw / (float)width, sy = (float)th / (float)height;
    for (int f = 0; f < an->nfaces; f++) {
        const rt_face *fc = &an->faces[f];
        float cx = 0.5f * (fc->x1 + fc->x2) * sx, cy = 0.5f * (fc->y1 + fc->y2) * sy;
        float ax = 0.5f * (fc->x2 - fc->x1) * (1.f + FACE_MARGIN) * sx + 1.f;
        float ay = 0.5f * (fc->y2 - fc->y1) * (1.f + FACE_MARGIN) * sy + 1.f;
        for (int y = (int)(cy - ay); y <= (int)(cy + ay) + 1; y++)
            for (int x = (int)(cx - ax); x <= (int)(cx + ax) + 1; x++) {
                if (x < 0 || y < 0 || x >= tw || y >= th) continue;
                float dx = ((float)x + 0.5f - cx) / ax, dy = ((float)y + 0.5f - cy) / ay;
                if (dx * dx + dy * dy <= 1.f) t[(size_t)y * tw + x] = 0.f;
            }
    }
    *out = t;
    *w = tw;
    *h = th;
    return 0;
}

/* The blob sigmas (full-resolution pixels) of a Scale. */
static void sigma_range(int scale, float diagonal, float *lo, float *hi)
{
    static const float edges[4] = {0.0008f, 0.0016f, 0.0035f, 0.008f};
    int a = 0, b = 3; /* Scale 0: all */
    if (scale == 3) b = 1;
    if (scale == 2) a = 1, b = 2;
    if (scale == 1) a = 2;
    *lo = edges[a] * diagonal;
    *hi = edges[b] * diagonal;
}

static int dust_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double k = rt_task_number(ctx->task, "Alpha1");
    if (!(k > 0.0)) return 0;
    if (k > 2.0) k = 2.0;
    const rt_image *im = ctx->image;
    float diag = sqrtf((float)im->width * im->width + (float)im->height * im->height);
    rt_spot_params p = {0};
    sigma_range(ctx->task->scale, diag, &p.sigma_lo, &p.sigma_hi);
    float k1 = (float)fmin(k, 1.0), k2 = (float)fmax(0.0, k - 1.0);
    p.z_min = 6.0f - 1.5f * k1 - 1.0f * k2;
    p.contrast_min = 0.03f - 0.01f * k1 - 0.008f * k2;
    p.contrast_max = 0.5f;
    p.rim_max = 1.0f;
    p.min_agree = 15;
    p.texture_min = 3.0f;
    p.max_neighbours = 1;
    p.neutral_max = 0.35f;
    p.max_spots = MAX_SPOTS;
    const rt_face_analysis *an;
    int err = rt_plugin_face_analysis(ctx, &an);
    if (err) return err;
    float *trust = NULL;
    err = trust_plane(an, im->width, im->height, &trust, &p.region_w, &p.region_h);
    if (err) return err;
    p.region = trust;
    rt_spot *spots = NULL;
    int n = 0;
    err = rt_spots_find(im, &p, &spots, &n);
    free(trust);
    if (err) return err;
    rt_plugin_progress(ctx, 0.5);
    rt_spot_patch *patches = n ? calloc((size_t)n, sizeof *patches) : NULL;
    if (n && !patches) err = rt_error(RT_ERR_NOMEM, "out of memory for Dust");
    int failed = 0, removed = 0, dark = 0;
    if (!err) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < n; i++) {
            int e = rt_spot_remove(im, &spots[i], k1, &patches[i]);
            if (e < 0) {
#pragma omp atomic write
                failed = e;
            }
        }
        err = failed;
    }
    rt_image *layer = NULL;
    int lx = 0, ly = 0;
    if (!err) err = rt_spot_patches_layer(im, patches, n, &layer, &lx, &ly);
    for (int i = 0; i < n; i++) {
        if (patches && patches[i].logc) {
            removed++;
            dark += spots[i].contrast < 0;
        }
        if (patches) rt_spot_patch_release(&patches[i]);
    }
    free(patches);
    free(spots);
    if (err) return err;
    out->metadata = json_pack("{s:i,s:i}", "removed", removed, "darker", dark);
    if (layer) {
        out->layer = layer;
        out->x = lx;
        out->y = ly;
    }
    return 0;
}

const rt_plugin rt_plugin_dust = {
    .name = "Dust",
    .needs = RT_NEEDS_FACES | RT_NEEDS_PERSON_MASK,
    .run = dust_run,
};
