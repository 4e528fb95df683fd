/* Heal (PLUGINS.md "Heal", ALGORITHMS.md §5): finds and removes pimples,
 * spots, small scars and redness points on skin; keeps moles, freckle
 * fields and the facial features.
 *
 * Alpha1 = Sensitivity [0,1]: how weak a defect still counts.  It moves the
 * detection thresholds (z-score against the skin's own texture at the
 * spot's scale 5.0 -> 3.0, minimum contrast 14 % -> 6 %, largest spot 4 -> 6
 * mm), never the strength: a spot found is always healed fully.  Sensitivity 0 heals only the
 * strongest defects; the result is the identity (no layer) when nothing is found.
 *
 * Per face, on its skin weight's bounding box (rt_plugin_skin_weight: the
 * only source of where skin is):
 *  1. analysis copy at <= 4 px/mm (area average), two channels: optical
 *     density -ln(Y) of the linear luminance (dark and light spots; a log,
 *     so light and dark skin give the same contrast for the same defect)
 *     and the erythema index ln(R/G) in linear light (redness);
 *  2. blobs (filters/blobs.h) of both channels at sigma 0.25-2.8 mm, each
 *     scored against the DoG energy of its own scale on the skin around it
 *     (a spot must stand out of the skin's texture, pores included);
 *  3. each blob measured against a ring around it, the ring's shading
 *     slope removed: contrast, roundness (darker than the ring in nearly
 *     every direction: fold edges, lash lines and hair strands are not),
 *     the ring on skin, away from eyes, brows, lips and nostrils;
 *  4. kept: moles (very dark, not red, >= 1.5 mm) and freckle fields
 *     (pigment spots, told from red ones by the melanin index -ln R, with 4
 *     or more similar ones within 6 mm); overlapping detections merged;
 *  5. each spot healed at full resolution (filters/inpaint.h: healing brush,
 *     source from an annulus of nearby skin, membrane for the low
 *     frequencies, feathered), its alpha multiplied by the skin weight,
 *     which is cleared within 2 mm of the features.
 * Output: one normal RGBA layer over the healed spots' bounding box.
 * First version: spots are discs (no hysteresis growth of irregular
 * shapes), stray hairs (thin ridges) are not searched for.
 */
#include "plugins/plugin.h"

#include "core/colour.h"
#include "core/error.h"
#include "face/analysis.h"
#include "face/regions.h"
#include "face/skin.h"
#include "filters/blobs.h"
#include "filters/inpaint.h"
#include "filters/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ANALYSIS_PX_PER_MM 4.0f
#define NLEVELS 8
static const float level_mm[NLEVELS] = {0.25f, 0.354f, 0.5f, 0.707f, 1.0f, 1.414f, 2.0f, 2.828f};

enum { KIND_DARK, KIND_LIGHT, KIND_RED };

typedef struct spot {
    float x, y;  /* full-resolution centre */
    float sigma; /* full-resolution pixels */
    float score; /* z-score that made it */
    int kind;
    float contrast;
    float strength; /* |scale-normalised response|: largest at the spot's own scale */
    int reddish;
    int keep;  /* a mole or freckle: left alone */
    int avoid; /* no heal may copy from it (spots, moles; freckles are skin texture) */
} spot;

typedef struct spot_list {
    spot *v;
    int n, cap;
} spot_list;

static int push(spot_list *l, spot s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        spot *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return rt_error(RT_ERR_NOMEM, "out of memory for Heal's spots");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

typedef struct ring_stats {
    float contrast; /* centre minus ring median */
    float z;        /* contrast / robust spread of the ring */
    int agree;      /* ring directions (of 16) on the far side of half the contrast */
    int isolated;   /* no ring sample deviates as much as the spot */
} ring_stats;

/* Insertion sort: the rings have 32 samples. */
static void sort_small(float *v, int n)
{
    for (int i = 1; i < n; i++) {
        float x = v[i];
        int j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* The blob against a ring around it (2.5 and 3.3 sigma, 16 directions):
 * the ring's linear trend (shading across the face) is removed first, so a
 * spot on a shaded slope is measured against its own level there. */
static ring_stats measure(const rt_scale_space *ss, int k, float x, float y, float sigma)
{
    enum { NA = 16 };
    float s[2 * NA], dev[2 * NA];
    float c = rt_scale_space_sample(ss, k, x, y);
    float cs[NA], sn[NA];
    double gx = 0, gy = 0;
    for (int a = 0; a < NA; a++) {
        float ang = (float)a * (6.2831853f / NA);
        cs[a] = cosf(ang);
        sn[a] = sinf(ang);
        s[a] = rt_scale_space_sample(ss, k, x + 2.5f * sigma * cs[a], y + 2.5f * sigma * sn[a]);
        s[NA + a] =
            rt_scale_space_sample(ss, k, x + 3.3f * sigma * cs[a], y + 3.3f * sigma * sn[a]);
        /* least-squares slope per unit radius over both circles */
        gx += (s[a] * 2.5f + s[NA + a] * 3.3f) * cs[a];
        gy += (s[a] * 2.5f + s[NA + a] * 3.3f) * sn[a];
    }
    double norm = (NA / 2.0) * (2.5 * 2.5 + 3.3 * 3.3);
    gx /= norm;
    gy /= norm;
    for (int a = 0; a < NA; a++) {
        s[a] -= (float)(gx * 2.5f * cs[a] + gy * 2.5f * sn[a]);
        s[NA + a] -= (float)(gx * 3.3f * cs[a] + gy * 3.3f * sn[a]);
    }
    float sorted[2 * NA];
    memcpy(sorted, s, sizeof s);
    sort_small(sorted, 2 * NA);
    float med = 0.5f * (sorted[NA - 1] + sorted[NA]);
    for (int i = 0; i < 2 * NA; i++)
        dev[i] = fabsf(s[i] - med);
    sort_small(dev, 2 * NA);
    float mad = 0.5f * (dev[NA - 1] + dev[NA]);
    float ring_max = dev[2 * NA - 1];
    ring_stats r;
    r.contrast = c - med;
    r.z = r.contrast / (1.4826f * mad + 0.004f);
    /* isolated: nothing in the ring is as strong as the spot (a corner or
     * piece of a larger structure, face paint, a fold, is not) */
    r.isolated = ring_max < 0.75f * fabsf(r.contrast);
    r.agree = 0;
    for (int a = 0; a < NA; a++)
        if (r.contrast > 0 ? s[a] < c - 0.5f * r.contrast : s[a] > c - 0.5f * r.contrast) r.agree++;
    return r;
}

static float lin_at(const float *p, int w, int h, float x, float y)
{
    int ix = (int)floorf(x), iy = (int)floorf(y);
    ix = ix < 0 ? 0 : (ix >= w ? w - 1 : ix);
    iy = iy < 0 ? 0 : (iy >= h ? h - 1 : iy);
    return fmaxf(rt_srgb_to_linear(p[(size_t)iy * w + ix]), 1e-3f);
}

/* ln(B/R) at the spot (centre and 4 points at sigma/2) minus its mean on a
 * ring at 3 sigma, from the analysis copy's red and blue planes. */
static float whiteness(const float *r, const float *b, int w, int h, float x, float y, float sigma)
{
    static const float dx[5] = {0, 0.5f, -0.5f, 0, 0}, dy[5] = {0, 0, 0, 0.5f, -0.5f};
    float c = 0, ring = 0;
    for (int i = 0; i < 5; i++) {
        float px = x + dx[i] * sigma, py = y + dy[i] * sigma;
        c += logf(lin_at(b, w, h, px, py)) - logf(lin_at(r, w, h, px, py));
    }
    for (int a = 0; a < 16; a++) {
        float ang = (float)a * (6.2831853f / 16);
        float px = x + 3.0f * sigma * cosf(ang), py = y + 3.0f * sigma * sinf(ang);
        ring += logf(lin_at(b, w, h, px, py)) - logf(lin_at(r, w, h, px, py));
    }
    return c / 5.0f - ring / 16.0f;
}

/* Face f as seen on the analysis grid: full-resolution point p maps to
 * ((p.x - x0) * sx, (p.y - y0) * sy), so the region masks can be drawn there. */
static void face_on_grid(const rt_face *f, int x0, int y0, float sx, float sy, rt_face *g)
{
    *g = *f;
    for (int i = 0; i < RT_MESH_POINTS; i++) {
        g->mesh[i][0] = (f->mesh[i][0] - x0) * sx;
        g->mesh[i][1] = (f->mesh[i][1] - y0) * sy;
        g->mesh[i][2] = f->mesh[i][2] * sx;
    }
    for (int e = 0; e < 2; e++) {
        g->eye[e].iris_center.x = (f->eye[e].iris_center.x - x0) * sx;
        g->eye[e].iris_center.y = (f->eye[e].iris_center.y - y0) * sy;
        g->eye[e].iris_radius = f->eye[e].iris_radius * sx;
        for (int i = 0; i < 71; i++) {
            g->eye[e].contour[i].x = (f->eye[e].contour[i].x - x0) * sx;
            g->eye[e].contour[i].y = (f->eye[e].contour[i].y - y0) * sy;
        }
    }
    for (int i = 0; i < 6; i++) {
        g->keypoints[i].x = (f->keypoints[i].x - x0) * sx;
        g->keypoints[i].y = (f->keypoints[i].y - y0) * sy;
    }
    g->x1 = (f->x1 - x0) * sx;
    g->x2 = (f->x2 - x0) * sx;
    g->y1 = (f->y1 - y0) * sy;
    g->y2 = (f->y2 - y0) * sy;
    g->px_per_mm = f->px_per_mm * sx;
}

/* Within FEATURE_MARGIN_MM of the eyes (lashes), brows, lips or nostrils:
 * never a blemish (lash roots, brow hairs, lip line, nostril shadow). */
#define FEATURE_MARGIN_MM 2.0f
static int feature_mask(const rt_face *g, int w, int h, float *dst)
{
    static const rt_face_region regions[] = {RT_REGION_EYES, RT_REGION_BROWS, RT_REGION_LIPS,
                                             RT_REGION_NOSTRILS};
    float *tmp = rt_alloc_floats((size_t)w * h);
    if (!tmp) return rt_error(RT_ERR_NOMEM, "out of memory for Heal's feature mask");
    memset(dst, 0, (size_t)w * h * sizeof *dst);
    int err = 0;
    for (size_t r = 0; r < sizeof regions / sizeof regions[0] && !err; r++) {
        /* the ramp is centred on the outline: non-zero up to half its width outside */
        err = rt_face_region_mask(g, regions[r], 2.0f * FEATURE_MARGIN_MM, 0, 0, w, h, tmp,
                                  (size_t)w);
        for (size_t i = 0; i < (size_t)w * h && !err; i++)
            dst[i] = fmaxf(dst[i], tmp[i]);
    }
    rt_free(tmp);
    return err;
}

/* Summed-area table of v (w x h) times mask >= 0.5, (w+1) x (h+1) doubles. */
static double *integral(const float *v, const float *mask, int w, int h, int squared)
{
    double *ii = malloc((size_t)(w + 1) * (h + 1) * sizeof *ii);
    if (!ii) return NULL;
    for (int x = 0; x <= w; x++)
        ii[x] = 0;
    for (int y = 0; y < h; y++) {
        double row = 0;
        double *cur = ii + (size_t)(y + 1) * (w + 1), *prev = ii + (size_t)y * (w + 1);
        cur[0] = 0;
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            double a = mask[i] >= 0.5f ? (v ? (squared ? (double)v[i] * v[i] : v[i]) : 1.0) : 0.0;
            row += a;
            cur[x + 1] = prev[x + 1] + row;
        }
    }
    return ii;
}

static double box_sum(const double *ii, int w, int h, int x0, int y0, int x1, int y1)
{
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w) x1 = w;
    if (y1 > h) y1 = h;
    if (x1 <= x0 || y1 <= y0) return 0;
    size_t W = (size_t)w + 1;
    return ii[(size_t)y1 * W + x1] - ii[(size_t)y0 * W + x1] - ii[(size_t)y1 * W + x0] +
           ii[(size_t)y0 * W + x0];
}

/* One face's skin weight at full resolution over its bounds: where spots
 * may change (alpha is multiplied by it) and where sources may come from. */
typedef struct face_area {
    int x0, y0, w, h;
    float *weight; /* rt_alloc_floats, w*h */
} face_area;

/* Thresholds from Sensitivity (see the file comment). */
typedef struct thresholds {
    float z, floor_od, floor_red, max_diam_mm;
} thresholds;

static thresholds thresholds_for(double sens)
{
    float s = (float)sens;
    float z = 5.0f - 2.8f * s + 0.8f * s * s, c = 0.14f - 0.11f * s + 0.03f * s * s;
    thresholds t = {z, c, 0.8f * c, 4.0f + 2.0f * s};
    return t;
}

/* Finds the spots of face fi and appends them (full-resolution
 * coordinates) to the list; fills fa with the face's skin weight. */
static int detect_face(rt_plugin_ctx *ctx, const rt_face_analysis *an, int fi, double sens,
                       face_area *fa, spot_list *list)
{
    const rt_face *f = &an->faces[fi];
    const rt_image *im = ctx->image;
    int x0, y0, w, h;
    memset(fa, 0, sizeof *fa);
    if (!rt_face_skin_bounds(an, fi, &x0, &y0, &w, &h) || w < 8 || h < 8) return 0;
    float ppm = f->px_per_mm;
    if (!(ppm > 0.0f)) return 0;
    float scale = ppm > ANALYSIS_PX_PER_MM ? ANALYSIS_PX_PER_MM / ppm : 1.0f;
    int aw = (int)lrintf(w * scale), ah = (int)lrintf(h * scale);
    if (aw < 8 || ah < 8) return 0;
    float sx = (float)aw / w, sy = (float)ah / h; /* analysis px per full px */
    float appm = ppm * 0.5f * (sx + sy);          /* analysis px per mm */
    /* levels finer than half a pixel carry nothing but aliasing */
    float sig[NLEVELS];
    int nl = 0;
    for (int k = 0; k < NLEVELS; k++)
        if (level_mm[k] * appm >= 0.5f) sig[nl++] = level_mm[k] * appm;
    if (nl < 3) return 0; /* face too small for any visible spot */

    size_t nfull = (size_t)w * h, na = (size_t)aw * ah;
    float *tmp = rt_alloc_floats(nfull);
    float *wfull = rt_alloc_floats(nfull);
    float *plane[5] = {rt_alloc_floats(na), rt_alloc_floats(na), rt_alloc_floats(na),
                       rt_alloc_floats(na), rt_alloc_floats(na)};
    float *od = rt_alloc_floats(na), *red = rt_alloc_floats(na);
    float *skin = plane[3], *feat = plane[4];
    rt_scale_space *ss_od = NULL, *ss_red = NULL;
    double *count_ii = NULL, *dog_ii[2][NLEVELS] = {{NULL}};
    rt_blob *blobs_od = NULL, *blobs_red = NULL;
    int nb_od = 0, nb_red = 0;
    spot_list cand = {0};
    int err = 0;
    if (!tmp || !wfull || !plane[0] || !plane[1] || !plane[2] || !plane[3] || !plane[4] || !od ||
        !red) {
        err = rt_error(RT_ERR_NOMEM, "out of memory for Heal's analysis");
        goto done;
    }
    err = rt_plugin_skin_weight(ctx, fi, x0, y0, w, h, wfull, (size_t)w);
    if (err) goto done;
    rt_downscale_plane(wfull, w, h, skin, aw, ah);
    rt_face g;
    face_on_grid(f, x0, y0, sx, sy, &g);
    err = feature_mask(&g, aw, ah, feat);
    if (err) goto done;
    for (int c = 0; c < 3; c++) {
        const float *src = rt_image_plane(im, c);
        for (int y = 0; y < h; y++)
            memcpy(tmp + (size_t)y * w, src + (size_t)(y0 + y) * im->width + x0,
                   (size_t)w * sizeof *tmp);
        rt_downscale_plane(tmp, w, h, plane[c], aw, ah);
    }
    for (size_t i = 0; i < na; i++) {
        float r = rt_srgb_to_linear(plane[0][i]), gg = rt_srgb_to_linear(plane[1][i]),
              b = rt_srgb_to_linear(plane[2][i]);
        float Y = rt_luminance(r, gg, b);
        od[i] = -logf(fmaxf(Y, 1e-3f));
        red[i] = logf(fmaxf(r, 1e-3f)) - logf(fmaxf(gg, 1e-3f));
    }
    err = rt_scale_space_create(od, aw, ah, sig, nl, &ss_od);
    if (!err) err = rt_scale_space_create(red, aw, ah, sig, nl, &ss_red);
    if (!err) err = rt_blobs_find(ss_od, skin, 0.9f, 0.004f, 0, &blobs_od, &nb_od);
    if (!err) err = rt_blobs_find(ss_red, skin, 0.9f, 0.004f, 0, &blobs_red, &nb_red);
    if (err) goto done;
    /* texture level per channel and scale: summed-area tables of the DoG's
     * square over skin, so a blob's z-score compares its response with the
     * responses of the same scale around it (pores on textured skin answer
     * strongly at fine scales; a blemish stands out of them) */
    count_ii = integral(NULL, skin, aw, ah, 0);
    if (!count_ii) {
        err = rt_error(RT_ERR_NOMEM, "out of memory for Heal's analysis");
        goto done;
    }
    for (int ch = 0; ch < 2 && !err; ch++)
        for (int k = 0; k + 1 < nl && !err; k++) {
            const rt_scale_space *ss = ch ? ss_red : ss_od;
            for (size_t i = 0; i < na; i++)
                tmp[i] = ss->level[k][i] - ss->level[k + 1][i];
            dog_ii[ch][k] = integral(tmp, skin, aw, ah, 1);
            if (!dog_ii[ch][k]) err = rt_error(RT_ERR_NOMEM, "out of memory for Heal's analysis");
        }
    if (err) goto done;

    const thresholds t = thresholds_for(sens);
    for (int pass = 0; pass < 2; pass++) {
        const rt_blob *bl = pass ? blobs_red : blobs_od;
        int nb = pass ? nb_red : nb_od;
        for (int i = 0; i < nb; i++) {
            const rt_blob *b = &bl[i];
            if (pass == 1 && b->response < 0) continue; /* less red than around: not a defect */
            float diam = 4.0f * b->sigma / appm;
            if (diam < 1.0f) continue;
            if (feat[(size_t)(int)b->y * aw + (int)b->x] > 0.0f) continue;
            /* the ring must be skin */
            int ring_ok = 1;
            for (int a = 0; a < 16 && ring_ok; a++) {
                float ang = (float)a * (6.2831853f / 16);
                int xx = (int)floorf(b->x + 3.3f * b->sigma * cosf(ang));
                int yy = (int)floorf(b->y + 3.3f * b->sigma * sinf(ang));
                if (xx < 0 || yy < 0 || xx >= aw || yy >= ah || skin[(size_t)yy * aw + xx] < 0.5f)
                    ring_ok = 0;
            }
            if (!ring_ok) continue;
            int wr = (int)ceilf(fmaxf(3.0f * appm, 5.0f * b->sigma));
            int bx = (int)b->x, by = (int)b->y;
            double cnt = box_sum(count_ii, aw, ah, bx - wr, by - wr, bx + wr + 1, by + wr + 1);
            double e2 =
                box_sum(dog_ii[pass][b->scale], aw, ah, bx - wr, by - wr, bx + wr + 1, by + wr + 1);
            float z = fabsf(b->response) / (float)sqrt(e2 / fmax(cnt, 1.0) + 1e-8);
            if (z < fminf(2.0f, t.z)) continue; /* not even a weak tan spot */
            ring_stats m_od = measure(ss_od, b->scale, b->x, b->y, b->sigma);
            ring_stats m_red = measure(ss_red, b->scale, b->x, b->y, b->sigma);
            int kind;
            ring_stats m;
            if (pass == 1) {
                kind = KIND_RED;
                m = m_red;
            } else {
                kind = b->response > 0 ? KIND_DARK : KIND_LIGHT;
                m = m_od;
            }
            if ((kind == KIND_LIGHT) != (m.contrast < 0)) continue;
            if (m.agree < 13 || !m.isolated) continue; /* an edge, a line, a structure */
            /* a light spot whiter than its surroundings is shine (added white
             * light raises blue against red), not a yellowish whitehead */
            if (kind == KIND_LIGHT &&
                whiteness(plane[0], plane[2], aw, ah, b->x, b->y, b->sigma) > 0.0f)
                continue;
            float c = fabsf(m.contrast);
            /* erythema (pimples, red marks) raises ln(R/G); melanin (freckles,
             * moles, tan spots) darkens red too, ~ -ln R = od - ln(R/G) (the
             * erythema and melanin indices of skin reflectance) */
            float mel = m_od.contrast - m_red.contrast;
            int reddish = m_red.contrast > 0.0f && mel < 0.5f * m_red.contrast;
            if (pass == 1 && !reddish) continue; /* pigment: the density pass has it */
            spot sp = {x0 + b->x / sx,
                       y0 + b->y / sy,
                       b->sigma / appm * ppm,
                       z,
                       kind,
                       c,
                       fabsf(b->response),
                       reddish,
                       0,
                       0};
            int found = z >= t.z && c >= (kind == KIND_RED ? t.floor_red : t.floor_od);
            if (kind == KIND_DARK && !reddish && m_od.contrast >= 0.35f && diam >= 1.5f)
                sp.keep = 1; /* a mole */
            else if (!found) {
                /* too weak to heal; a tan spot still counts for the freckle test */
                if (kind != KIND_DARK || reddish || z < 2.0f || c < 0.03f) continue;
                sp.keep = 2;
            }
            if (diam > t.max_diam_mm) continue; /* larger than a blemish */
            err = push(&cand, sp);
            if (err) goto done;
        }
    }
    /* one disc per defect: detections of either channel and any scale that
     * overlap are merged into the disc enclosing both, strongest
     * (scale-normalised response: the spot's own scale) first; a mole wins
     * over the detections inside it */
    int *order = malloc((size_t)(cand.n > 0 ? cand.n : 1) * sizeof *order);
    if (!order) {
        err = rt_error(RT_ERR_NOMEM, "out of memory for Heal's analysis");
        goto done;
    }
    for (int i = 0; i < cand.n; i++)
        order[i] = i;
    for (int i = 1; i < cand.n; i++) /* insertion sort: moles first, then by score */
        for (int j = i; j > 0; j--) {
            const spot *a = &cand.v[order[j - 1]], *b = &cand.v[order[j]];
            float ra = a->strength + (a->keep == 1 ? 1e4f : 0.0f);
            float rb = b->strength + (b->keep == 1 ? 1e4f : 0.0f);
            if (ra > rb || (ra == rb && order[j - 1] < order[j])) break;
            int tmp_o = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp_o;
        }
    const float max_sigma = t.max_diam_mm / 4.0f * ppm;
    for (int oi = 0; oi < cand.n; oi++) {
        spot *b = &cand.v[order[oi]];
        if (b->keep == 2 || b->keep == 3) continue; /* weak or freckle: nothing to merge */
        for (int oj = 0; oj < oi; oj++) {
            spot *a = &cand.v[order[oj]];
            if (a->score < 0 || a->keep == 2 || a->keep == 3) continue;
            float dd = hypotf(a->x - b->x, a->y - b->y);
            if (dd >= 2.5f * (a->sigma + b->sigma)) continue;
            if (a->keep == 1 || b->keep == 1) {
                b->score = -1.0f; /* inside or beside a mole: left alone */
                break;
            }
            /* enclosing disc of the two (radius 3 sigma) */
            float ra = 3.0f * a->sigma, rb = 3.0f * b->sigma;
            float r = 0.5f * (dd + ra + rb);
            if (r <= ra) {
                b->score = -1.0f;
                break;
            }
            if (r <= rb) {
                a->x = b->x;
                a->y = b->y;
                a->sigma = b->sigma;
            } else if (r / 3.0f <= max_sigma) {
                float t2 = (r - ra) / dd;
                a->x += (b->x - a->x) * t2;
                a->y += (b->y - a->y) * t2;
                a->sigma = r / 3.0f;
            }
            b->score = -1.0f;
            break;
        }
    }
    free(order);
    /* freckle fields: a pigment spot with 4 or more pigment spots of its
     * size and similar contrast within 6 mm (not overlapping it) is one of
     * many, kept */
    float reach = 6.0f * ppm;
    for (int i = 0; i < cand.n; i++) {
        spot *a = &cand.v[i];
        if (a->score < 0 || a->kind != KIND_DARK || a->keep || a->contrast >= 0.3f || a->reddish)
            continue;
        int nn = 0;
        for (int j = 0; j < cand.n && nn < 4; j++) {
            const spot *b = &cand.v[j];
            if (j == i || b->score < 0 || b->kind != KIND_DARK || b->keep == 1 || b->keep == 3 ||
                b->reddish || b->contrast < 0.5f * a->contrast)
                continue;
            float dd = hypotf(a->x - b->x, a->y - b->y);
            if (fabsf(b->sigma - a->sigma) < 0.5f * a->sigma && dd < reach &&
                dd >= 2.5f * (a->sigma + b->sigma))
                nn++;
        }
        if (nn >= 4) a->keep = 3;
    }
    for (int i = 0; i < cand.n && !err; i++) {
        if (cand.v[i].score < 0 || cand.v[i].keep == 2) continue;
        cand.v[i].avoid = cand.v[i].keep == 0 || cand.v[i].keep == 1;
        if (cand.v[i].keep) cand.v[i].keep = 1;
        err = push(list, cand.v[i]);
    }
done:
    free(count_ii);
    for (int ch = 0; ch < 2; ch++)
        for (int k = 0; k < NLEVELS; k++)
            free(dog_ii[ch][k]);
    free(cand.v);
    free(blobs_od);
    free(blobs_red);
    rt_scale_space_destroy(ss_od);
    rt_scale_space_destroy(ss_red);
    rt_free(tmp);
    rt_free(od);
    rt_free(red);
    if (!err) {
        /* sources and changes stay off the features' margins too (lashes
         * and brow hairs reach beyond the landmark outlines) */
        for (int y = 0; y < h; y++) {
            int ay = (int)((y + 0.5f) * sy);
            if (ay >= ah) ay = ah - 1;
            for (int x = 0; x < w; x++) {
                int ax = (int)((x + 0.5f) * sx);
                if (ax >= aw) ax = aw - 1;
                if (feat[(size_t)ay * aw + ax] > 0.0f) wfull[(size_t)y * w + x] = 0.0f;
            }
        }
    }
    for (int c = 0; c < 5; c++)
        rt_free(plane[c]);
    if (err)
        rt_free(wfull);
    else
        *fa = (face_area){x0, y0, w, h, wfull};
    return err;
}

typedef struct heal_job {
    spot sp;
    int face;
    float r_inner, r_outer;
    rt_heal_patch patch;
    int healed;
} heal_job;

static int heal_run(rt_plugin_ctx *ctx, rt_plugin_output *out)
{
    double sens = rt_task_number(ctx->task, "Alpha1");
    if (!(sens >= 0.0)) sens = 0.0;
    if (sens > 1.0) sens = 1.0;
    const rt_face_analysis *an;
    int err = rt_plugin_face_analysis(ctx, &an);
    if (err) return err;
    if (an->nfaces == 0) {
        rt_plugin_warn(ctx, "no face found: nothing healed");
        return 0;
    }
    const rt_image *im = ctx->image;
    face_area *fa = calloc((size_t)an->nfaces, sizeof *fa);
    int *first = calloc((size_t)an->nfaces + 1, sizeof *first);
    spot_list list = {0};
    if (!fa || !first) err = rt_error(RT_ERR_NOMEM, "out of memory for Heal");
    for (int i = 0; i < an->nfaces && !err; i++) {
        first[i] = list.n;
        err = detect_face(ctx, an, i, sens, &fa[i], &list);
        first[i + 1] = list.n;
        rt_plugin_progress(ctx, 0.5 * (i + 1) / an->nfaces);
    }
    int nheal = 0, nkept = 0, nj = 0, nhealed = 0;
    int lx0 = 0, ly0 = 0, lx1 = 0, ly1 = 0;
    heal_job *jobs = NULL;
    rt_heal_disc *avoid = NULL;
    rt_image *layer = NULL;
    if (err) goto done;
    for (int i = 0; i < list.n; i++)
        list.v[i].keep ? nkept++ : nheal++;
    if (list.n > 0) {
        jobs = calloc((size_t)(unsigned)list.n, sizeof *jobs);
        avoid = malloc((size_t)(unsigned)list.n * sizeof *avoid);
        if (!jobs || !avoid) {
            err = rt_error(RT_ERR_NOMEM, "out of memory for Heal");
            goto done;
        }
    }
    int navoid = 0;
    for (int fi = 0; fi < an->nfaces; fi++)
        for (int i = first[fi]; i < first[fi + 1]; i++) {
            spot *s = &list.v[i];
            if (s->avoid) avoid[navoid++] = (rt_heal_disc){s->x, s->y, 3.0f * s->sigma};
            if (s->keep) continue;
            heal_job *j = &jobs[nj++];
            j->sp = *s;
            j->face = fi;
            j->r_inner = fmaxf(1.0f, 2.0f * s->sigma);
            j->r_outer = fmaxf(j->r_inner + 1.5f, 3.0f * s->sigma);
        }
    {
        int failed = 0;
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < nj; i++) {
            const face_area *a = &fa[jobs[i].face];
            rt_heal_area area = {a->weight, (size_t)a->w, a->x0, a->y0, a->w, a->h, 0.9f};
            int e = rt_heal_spot(im, jobs[i].sp.x, jobs[i].sp.y, jobs[i].r_inner, jobs[i].r_outer,
                                 &area, avoid, navoid, &jobs[i].patch);
            if (e == 0) {
                /* crowded skin: any source on the face's skin rather than none */
                area.min_weight = 0.5f;
                e = rt_heal_spot(im, jobs[i].sp.x, jobs[i].sp.y, jobs[i].r_inner, jobs[i].r_outer,
                                 &area, NULL, 0, &jobs[i].patch);
            }
            if (e < 0) {
#pragma omp atomic write
                failed = e;
            } else
                jobs[i].healed = e;
        }
        if (failed) {
            err = failed;
            goto done;
        }
    }
    /* the layer: the healed patches' bounding box, composited in list order */
    lx0 = im->width;
    ly0 = im->height;
    for (int i = 0; i < nj; i++) {
        rt_heal_patch *p = &jobs[i].patch;
        if (!jobs[i].healed) continue;
        nhealed++;
        if (p->x0 < lx0) lx0 = p->x0;
        if (p->y0 < ly0) ly0 = p->y0;
        if (p->x0 + p->w > lx1) lx1 = p->x0 + p->w;
        if (p->y0 + p->h > ly1) ly1 = p->y0 + p->h;
    }
    if (nhealed == 0) goto done;
    int lw = lx1 - lx0, lh = ly1 - ly0;
    err = rt_image_create_uninit(lw, lh, 4, &layer);
    if (err) goto done;
        /* cleared by rows on every thread: first touch of a face-sized layer
         * (~120 MB at 24 MP) is a large part of Heal's time */
#pragma omp parallel for schedule(static)
    for (int y = 0; y < lh; y++)
        for (int c = 0; c < 4; c++)
            memset(rt_image_plane(layer, c) + (size_t)y * lw, 0, (size_t)lw * sizeof(float));
    for (int i = 0; i < nj; i++) {
        rt_heal_patch *p = &jobs[i].patch;
        if (!jobs[i].healed) continue;
        const face_area *a = &fa[jobs[i].face];
        size_t np = (size_t)p->w * p->h;
        for (int y = 0; y < p->h; y++)
            for (int x = 0; x < p->w; x++) {
                size_t pi = (size_t)y * p->w + x;
                int fx = p->x0 + x - a->x0, fy = p->y0 + y - a->y0;
                /* nothing outside the skin weight changes: alpha times the weight */
                float wv = (fx < 0 || fy < 0 || fx >= a->w || fy >= a->h)
                               ? 0.0f
                               : a->weight[(size_t)fy * a->w + fx];
                float al = p->alpha[pi] * fminf(1.0f, fmaxf(0.0f, wv));
                if (!(al > 0.0f)) continue;
                size_t li = (size_t)(p->y0 - ly0 + y) * lw + (p->x0 - lx0 + x);
                float la = rt_image_plane(layer, 3)[li];
                float na = al + la * (1.0f - al);
                for (int c = 0; c < 3; c++) {
                    float *lc = rt_image_plane(layer, c);
                    /* "over" with straight (non-premultiplied) colour */
                    lc[li] = (p->rgb[c * np + pi] * al + lc[li] * la * (1.0f - al)) / na;
                }
                rt_image_plane(layer, 3)[li] = na;
            }
    }
done:
    for (int i = 0; i < nj; i++)
        rt_heal_patch_release(&jobs[i].patch);
    if (fa)
        for (int i = 0; i < an->nfaces; i++)
            rt_free(fa[i].weight);
    free(fa);
    free(first);
    free(jobs);
    free(avoid);
    free(list.v);
    if (err) {
        rt_image_destroy(layer);
        return err;
    }
    out->metadata = json_pack("{s:i,s:i}", "healed", nhealed, "kept", nkept);
    if (layer) {
        out->layer = layer;
        out->x = lx0;
        out->y = ly0;
    }
    return 0;
}

const rt_plugin rt_plugin_heal = {
    .name = "Heal",
    .needs = RT_NEEDS_FACES,
    .run = heal_run,
};
