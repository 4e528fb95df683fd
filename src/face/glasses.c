#include "face/glasses.h"

#include "core/error.h"
#include "face/topology.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The upright crop: inter-pupil distance IOD pixels, pupils on row EYE_ROW
 * at columns CROP_W/2 -+ IOD/2.  A thin metal rim is then 2-3 pixels wide,
 * the scale the ridge filter below is tuned to. */
#define IOD 96
#define CROP_W (IOD * 5 / 2)
#define CROP_H (IOD * 7 / 4)
#define EYE_ROW (IOD * 5 / 8)
#define D 3 /* the line test's offset across the line */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float median(float *v, int n)
{
    if (n <= 0) return 0.0f;
    qsort(v, (size_t)n, sizeof *v, cmp_float);
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct zone {
    int u0, u1, v0, v1; /* crop pixels, inclusive */
} zone;

/* Median over the zone's columns of the strongest thin line, over the
 * median line-filter magnitude (the zone's texture).  scratch holds
 * CROP_W * CROP_H + CROP_W floats. */
static float zone_evidence(const float *line, const float *mag, zone z, float *scratch)
{
    if (z.u0 < D) z.u0 = D;
    if (z.v0 < D) z.v0 = D;
    if (z.u1 > CROP_W - D - 1) z.u1 = CROP_W - D - 1;
    if (z.v1 > CROP_H - D - 1) z.v1 = CROP_H - D - 1;
    int nu = z.u1 - z.u0 + 1, nv = z.v1 - z.v0 + 1;
    if (nu < 3 || nv < 3) return 0.0f;
    float *colmax = scratch, *all = scratch + CROP_W;
    int n = 0;
    for (int u = z.u0; u <= z.u1; u++) {
        float best = 0;
        for (int v = z.v0; v <= z.v1; v++) {
            best = fmaxf(best, line[v * CROP_W + u]);
            all[n++] = mag[v * CROP_W + u];
        }
        colmax[u - z.u0] = best;
    }
    float texture = median(all, n);
    return median(colmax, nu) / (texture + 2e-3f);
}

/* rt_face_sample_level from the image's eye band box-averaged by the
 * crop's integer scale first: sampling a 24 MP image directly takes 4x4
 * scattered taps per crop pixel (~5x slower than one sequential pass). */
static int sample_reduced(const rt_image *image, const rt_affine *to_image, double s, float *rgb)
{
    int f = (int)floor(s);
    if (f < 2) {
        rt_face_sample_level(image, to_image, CROP_W, CROP_H, 1.0f, 0.0f, rgb);
        return 0;
    }
    double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
    for (int k = 0; k < 4; k++) {
        rt_point2 p = rt_affine_apply(to_image, (k & 1) * CROP_W, (k >> 1) * CROP_H);
        x0 = fmin(x0, p.x), x1 = fmax(x1, p.x), y0 = fmin(y0, p.y), y1 = fmax(y1, p.y);
    }
    int ix0 = (int)floor(x0) - f, iy0 = (int)floor(y0) - f;
    ix0 = ix0 < 0 ? 0 : ix0 - ix0 % f, iy0 = iy0 < 0 ? 0 : iy0 - iy0 % f;
    int ix1 = (int)ceil(x1) + f, iy1 = (int)ceil(y1) + f;
    if (ix1 > image->width) ix1 = image->width;
    if (iy1 > image->height) iy1 = image->height;
    int w = (ix1 - ix0) / f, h = (iy1 - iy0) / f;
    if (w < 2 || h < 2) {
        rt_face_sample_level(image, to_image, CROP_W, CROP_H, 1.0f, 0.0f, rgb);
        return 0;
    }
    rt_image *small;
    if (rt_image_create_uninit(w, h, 3, &small)) return -1;
    const float inv = 1.0f / (float)(f * f);
    for (int c = 0; c < 3; c++) {
        const float *src = rt_image_plane(image, c);
        float *dst = rt_image_plane(small, c);
        for (int y = 0; y < h; y++) {
            float *row = dst + (size_t)y * w;
            for (int x = 0; x < w; x++)
                row[x] = 0;
            for (int j = 0; j < f; j++) {
                const float *sr = src + (size_t)(iy0 + y * f + j) * image->width + ix0;
                for (int x = 0; x < w; x++) {
                    float acc = 0;
                    for (int i = 0; i < f; i++)
                        acc += sr[x * f + i];
                    row[x] += acc;
                }
            }
            for (int x = 0; x < w; x++)
                row[x] *= inv;
        }
    }
    /* crop -> image -> small: (p - origin) / f */
    rt_affine m = *to_image;
    m.m[2] -= ix0;
    m.m[5] -= iy0;
    for (int k = 0; k < 6; k++)
        m.m[k] /= f;
    rt_face_sample_level(small, &m, CROP_W, CROP_H, 1.0f, 0.0f, rgb);
    rt_image_destroy(small);
    return 0;
}

/* The upright crop of the eye band (CROP_W x CROP_H, IOD pixels between
 * the pupils), from the pyramid when there is one, else straight from the
 * image (level 0); rgb gets 3 floats a pixel, grey its smoothed luma.
 * Returns the crop's image pixels per crop pixel, 0 without two irises. */
static double upright_crop(const rt_face_pyramid *pyr, const rt_image *image, const rt_face *face,
                           float *rgb, float *g, float *sm)
{
    rt_point2 re = face->eye[RT_EYE_RIGHT].iris_center, le = face->eye[RT_EYE_LEFT].iris_center;
    float iod = rt_point_dist(re, le);
    if (!(iod > 1.0f)) return 0;
    double s = iod / IOD, c = cos(face->roll), n = sin(face->roll);
    double mx = (re.x + le.x) / 2.0, my = (re.y + le.y) / 2.0;
    /* crop centre sits (CROP_H/2 - EYE_ROW) crop pixels below the pupils */
    double dv = (CROP_H / 2.0 - EYE_ROW) * s;
    rt_affine to_image = rt_affine_rect_crop(mx + n * dv, my + c * dv, CROP_W * s, CROP_H * s,
                                             face->roll, CROP_W, CROP_H);
    const size_t np = (size_t)CROP_W * CROP_H;
    if (pyr)
        rt_face_sample_crop(pyr, &to_image, CROP_W, CROP_H, 1.0f, 0.0f, rgb);
    else if (sample_reduced(image, &to_image, s, rgb))
        return 0;
    for (size_t i = 0; i < np; i++)
        g[i] = 0.299f * rgb[3 * i] + 0.587f * rgb[3 * i + 1] + 0.114f * rgb[3 * i + 2];
    /* 3x3 binomial smoothing against pixel noise */
    for (int v = 0; v < CROP_H; v++)
        for (int u = 0; u < CROP_W; u++) {
            float acc = 0, w = 0;
            for (int j = -1; j <= 1; j++)
                for (int i = -1; i <= 1; i++) {
                    int uu = u + i, vv = v + j;
                    if (uu < 0 || vv < 0 || uu >= CROP_W || vv >= CROP_H) continue;
                    float k = (float)((2 - abs(i)) * (2 - abs(j)));
                    acc += k * g[vv * CROP_W + uu];
                    w += k;
                }
            sm[v * CROP_W + u] = acc / w;
        }
    return s;
}

static float bilinear(const float *im, float u, float v)
{
    if (u < 0) u = 0;
    if (v < 0) v = 0;
    if (u > CROP_W - 1.001f) u = CROP_W - 1.001f;
    if (v > CROP_H - 1.001f) v = CROP_H - 1.001f;
    int i = (int)u, j = (int)v;
    float fu = u - i, fv = v - j;
    const float *p = im + j * CROP_W + i;
    return (1 - fv) * ((1 - fu) * p[0] + fu * p[1]) +
           fv * ((1 - fu) * p[CROP_W] + fu * p[CROP_W + 1]);
}

/* Rim search along rays from each pupil (crop pixels).  A rim crosses every
 * ray as a thin line (darker or brighter than both sides D away, not so
 * along the tangent); the line scales D cover a 1 px wire to a ~7 mm
 * plastic rim.  The search ring starts outside the eye opening and the
 * lower lid (0.30 IOD along the eye line, 0.20 above, 0.25 below) and ends before the brow's middle
 * and the nose's midline. */
static const float line_scales[] = {2.0f, 3.5f, 6.0f};
#define NSCALES 3

typedef struct ray_hit {
    float r, strength, scale;
} ray_hit;

static void find_rims(const float *sm, float texture, ray_hit hits[2][RT_LENS_RAYS])
{
    for (int e = 0; e < 2; e++) {
        float pu = CROP_W / 2.0f + (e == RT_EYE_RIGHT ? -0.5f : 0.5f) * IOD, pv = EYE_ROW;
        for (int k = 0; k < RT_LENS_RAYS; k++) {
            double phi = 2.0 * M_PI * k / RT_LENS_RAYS;
            float du = (float)cos(phi), dv = (float)sin(phi);
            /* lateral: away from the other eye */
            int lateral = (e == RT_EYE_RIGHT) ? du < 0 : du > 0;
            float a0 = 0.30f, b0 = dv < 0 ? 0.20f : 0.25f, a1 = lateral ? 0.62f : 0.46f,
                  b1 = dv < 0 ? 0.42f : 0.48f;
            float rmin = IOD / sqrtf(du * du / (a0 * a0) + dv * dv / (b0 * b0));
            float rmax = IOD / sqrtf(du * du / (a1 * a1) + dv * dv / (b1 * b1));
            ray_hit best = {0, 0, 0};
            for (float r = rmin; r <= rmax; r += 0.5f) {
                float u = pu + r * du, v = pv + r * dv;
                float c0 = bilinear(sm, u, v);
                for (int q = 0; q < NSCALES; q++) {
                    float d = line_scales[q];
                    float in = bilinear(sm, u - d * du, v - d * dv) - c0;
                    float out = bilinear(sm, u + d * du, v + d * dv) - c0;
                    float l = bilinear(sm, u - d * dv, v + d * du) - c0;
                    float rt = bilinear(sm, u + d * dv, v - d * du) - c0;
                    float across = fmaxf(fminf(in, out), fminf(-in, -out));
                    float along = fmaxf(fminf(l, rt), fminf(-l, -rt));
                    float resp = (across - fmaxf(along, 0.0f)) / (texture + 2e-3f);
                    if (resp > best.strength) best = (ray_hit){r, resp, d};
                }
            }
            if (best.strength <= 0) best = (ray_hit){0.5f * (rmin + rmax), 0, 0};
            hits[e][k] = best;
        }
    }
}

/* Texture level of the eye band: the median line-filter magnitude. */
static float band_texture(const float *sm, float *scratch)
{
    int n = 0;
    for (int v = EYE_ROW - IOD / 2; v < EYE_ROW + IOD / 2; v += 2)
        for (int u = D; u < CROP_W - D; u += 2) {
            int i = v * CROP_W + u;
            scratch[n++] = fabsf(sm[i - D * CROP_W] - sm[i]) + fabsf(sm[i + D * CROP_W] - sm[i]) +
                           fabsf(sm[i - D] - sm[i]) + fabsf(sm[i + D] - sm[i]);
        }
    return median(scratch, n);
}

/* Rim evidence of one eye: a low quantile of the rays' line strengths, so
 * the rim must go round the eye (a brow above or a wrinkle below is a few
 * rays only). */
static float rim_quantile(const ray_hit *hits)
{
    float v[RT_LENS_RAYS];
    for (int k = 0; k < RT_LENS_RAYS; k++)
        v[k] = hits[k].strength;
    qsort(v, RT_LENS_RAYS, sizeof *v, cmp_float);
    return v[RT_LENS_RAYS * 3 / 10];
}

void rt_face_glasses_evidence(const rt_face_pyramid *pyr, const rt_face *face,
                              rt_glasses_evidence *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->iod_px =
        rt_point_dist(face->eye[RT_EYE_RIGHT].iris_center, face->eye[RT_EYE_LEFT].iris_center);
    const size_t np = (size_t)CROP_W * CROP_H;
    float *buf = malloc(sizeof(float) * (np * 8 + CROP_W));
    if (!buf) {
        ev->iod_px = 0; /* no evidence: the probability says 0 */
        return;
    }
    float *rgb = buf, *g = buf + 3 * np, *sm = g + np, *line = sm + np, *mag = line + np,
          *scratch = mag + np;
    double s = upright_crop(pyr, NULL, face, rgb, g, sm);
    if (!(s > 0)) {
        ev->iod_px = 0;
        free(buf);
        return;
    }
    double c = cos(face->roll), n = sin(face->roll);
    rt_point2 re = face->eye[RT_EYE_RIGHT].iris_center, le = face->eye[RT_EYE_LEFT].iris_center;
    double mx = (re.x + le.x) / 2.0, my = (re.y + le.y) / 2.0;
    /* Thin horizontal lines: darker (or brighter) than both neighbours D
     * pixels above and below; the smaller of the two differences, so a
     * step edge (brow, lid, shadow border) scores nothing.  The same test
     * along the row is subtracted: dots and vertical lines do not count.
     * (A second, coarser scale for thick plastic bridges also fired on the
     * nose bridge's own shading of bare faces: left out, see README.md.) */
    for (int v = 0; v < CROP_H; v++)
        for (int u = 0; u < CROP_W; u++) {
            int i = v * CROP_W + u;
            if (u < D || v < D || u >= CROP_W - D || v >= CROP_H - D) {
                line[i] = mag[i] = 0;
                continue;
            }
            float up = sm[i - D * CROP_W] - sm[i], down = sm[i + D * CROP_W] - sm[i];
            float left = sm[i - D] - sm[i], right = sm[i + D] - sm[i];
            float across = fmaxf(fminf(up, down), fminf(-up, -down));
            float along = fmaxf(fminf(left, right), fminf(-left, -right));
            line[i] = fmaxf(0.0f, across - fmaxf(along, 0.0f));
            mag[i] = fabsf(up) + fabsf(down) + fabsf(left) + fabsf(right);
        }
    /* the bridge zone: the middle half between the inner eye corners, from
     * 0.4 IOD above the pupils (frames sit at brow to mid-eye height) to
     * 0.1 IOD below */
    float inner_u[2];
    static const int inner[2] = {RT_MESH_RIGHT_EYE_INNER, RT_MESH_LEFT_EYE_INNER};
    for (int e = 0; e < 2; e++) {
        double dx = face->mesh[inner[e]][0] - mx, dy = face->mesh[inner[e]][1] - my;
        inner_u[e] = (float)(CROP_W / 2.0 + (c * dx - n * dy) / s);
    }
    float gap = inner_u[1] - inner_u[0];
    zone bridge = {(int)lroundf(inner_u[0] + 0.25f * gap), (int)lroundf(inner_u[1] - 0.25f * gap),
                   EYE_ROW - (int)(0.40f * IOD), EYE_ROW + (int)(0.10f * IOD)};
    ev->bridge = zone_evidence(line, mag, bridge, scratch);
    /* the rims round both eyes */
    ray_hit hits[2][RT_LENS_RAYS];
    find_rims(sm, band_texture(sm, scratch), hits);
    ev->rim[0] = rim_quantile(hits[0]);
    ev->rim[1] = rim_quantile(hits[1]);
    /* per sector medians: 0 lateral, 1 lower, 2 nasal, 3 upper */
    for (int e = 0; e < 2; e++)
        for (int sct = 0; sct < 4; sct++) {
            float v[RT_LENS_RAYS];
            int nv = 0;
            for (int k = 0; k < RT_LENS_RAYS; k++) {
                double phi = 2.0 * M_PI * k / RT_LENS_RAYS;
                double du = cos(phi), dvv = sin(phi);
                double lat = e == RT_EYE_RIGHT ? -du : du;
                int sec = fabs(lat) > fabs(dvv) ? (lat > 0 ? 0 : 2) : (dvv > 0 ? 1 : 3);
                if (sec == sct) v[nv++] = hits[e][k].strength;
            }
            ev->sector[e][sct] = median(v, nv);
        }
    free(buf);
}

static int cmp_hit_r(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int rt_face_glasses_lenses(const rt_image *image, const rt_face *face, rt_glasses_lenses *out)
{
    memset(out, 0, sizeof *out);
    const size_t np = (size_t)CROP_W * CROP_H;
    float *buf = malloc(sizeof(float) * (np * 5 + np / 4));
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory");
    float *rgb = buf, *g = buf + 3 * np, *sm = g + np, *scratch = sm + np;
    double s = upright_crop(NULL, image, face, rgb, g, sm);
    if (!(s > 0)) {
        free(buf);
        return rt_error(RT_ERR_ARG, "the face has no irises to place lenses by");
    }
    ray_hit hits[2][RT_LENS_RAYS];
    find_rims(sm, band_texture(sm, scratch), hits);
    free(buf);
    out->roll = face->roll;
    out->iod_px = (float)(s * IOD);
    for (int e = 0; e < 2; e++) {
        rt_glasses_lens *L = &out->lens[e];
        L->pupil = face->eye[e].iris_center;
        /* the rim's inner edge per ray, then a circular median of 5 rays:
         * a ray that caught the brow or a lash line instead of the rim is
         * outvoted by its neighbours */
        float inner[RT_LENS_RAYS];
        for (int k = 0; k < RT_LENS_RAYS; k++) {
            const ray_hit *h = &hits[e][k];
            inner[k] = h->r - 0.6f * h->scale - 1.0f;
            L->rim[k] = h->strength;
        }
        for (int k = 0; k < RT_LENS_RAYS; k++) {
            float w[7];
            for (int j = -3; j <= 3; j++)
                w[j + 3] = inner[(k + j + RT_LENS_RAYS) % RT_LENS_RAYS];
            qsort(w, 7, sizeof *w, cmp_hit_r);
            /* never inside the eye opening: the lens holds the whole eye */
            double phi = 2.0 * M_PI * k / RT_LENS_RAYS;
            float du = (float)cos(phi), dv = (float)sin(phi);
            float a = 0.27f, b = dv < 0 ? 0.17f : 0.21f;
            float floor_r = IOD / sqrtf(du * du / (a * a) + dv * dv / (b * b));
            L->radius[k] = (float)(fmaxf(w[3], floor_r) * s);
        }
    }
    return 0;
}

float rt_glasses_lens_weight(const rt_glasses_lens *lens, float roll, float x, float y,
                             float feather)
{
    float dx = x - lens->pupil.x, dy = y - lens->pupil.y;
    float c = cosf(roll), n = sinf(roll);
    /* into the upright frame: u along the eye line, v down the face */
    float u = c * dx - n * dy, v = n * dx + c * dy;
    float d = sqrtf(u * u + v * v);
    float a = atan2f(v, u);
    if (a < 0) a += 2.0f * (float)M_PI;
    float t = a / (2.0f * (float)M_PI) * RT_LENS_RAYS;
    int k0 = (int)t % RT_LENS_RAYS, k1 = (k0 + 1) % RT_LENS_RAYS;
    float f = t - floorf(t);
    float r = (1 - f) * lens->radius[k0] + f * lens->radius[k1];
    if (feather <= 0) return d < r ? 1.0f : 0.0f;
    float w = (r - d) / feather;
    if (w <= 0) return 0.0f;
    if (w >= 1) return 1.0f;
    return w * w * (3 - 2 * w);
}

/* The evidence: the bridge line, plus the lower rims' and the nasal rims'
 * line strength beyond what bare faces show there (median over the rays
 * of those sectors, both eyes averaged: lids, eye bags and the nose's side
 * reach about 0.35 and 0.45).  Thick plastic and browline frames, whose
 * bridge is a wide band or sits high, score on the rims; thin wire frames
 * on the bridge.  Weights and the midpoint from the corpus of
 * src/face/README.md "Glasses" (15 glasses photos, 69 bare faces): the
 * lowest glasses score (browline, rimless) 0.50, the highest bare one 0.44
 * (a smiling man's lid folds), so a first version with a thin margin. */
#define LOWER_BARE 0.35f
#define NASAL_BARE 0.45f
#define LOWER_WEIGHT 0.6f
#define NASAL_WEIGHT 0.4f
#define SCORE_MIDPOINT 0.47f
#define SCORE_SLOPE 8.5f

/* One eye's rim counts at most as a clear rim: glasses have two, and a ring
 * of face paint round one eye (2.0-2.4 on that eye, under 0.35 on the
 * other: the Kodak face-paint portrait scored 0.96) is not a pair. */
#define SECTOR_CAP 1.0f

float rt_face_glasses_score(const rt_glasses_evidence *ev)
{
    float lower =
        0.5f * (fminf(ev->sector[0][1], SECTOR_CAP) + fminf(ev->sector[1][1], SECTOR_CAP));
    float nasal =
        0.5f * (fminf(ev->sector[0][2], SECTOR_CAP) + fminf(ev->sector[1][2], SECTOR_CAP));
    return ev->bridge + LOWER_WEIGHT * fmaxf(0.0f, lower - LOWER_BARE) +
           NASAL_WEIGHT * fmaxf(0.0f, nasal - NASAL_BARE);
}

float rt_face_glasses_probability(const rt_glasses_evidence *ev)
{
    if (!(ev->iod_px > 0)) return 0.0f;
    return 1.0f / (1.0f + expf(-SCORE_SLOPE * (rt_face_glasses_score(ev) - SCORE_MIDPOINT)));
}

int rt_face_glasses_run(const rt_face_pyramid *pyr, rt_face *face)
{
    rt_glasses_evidence ev;
    rt_face_glasses_evidence(pyr, face, &ev);
    face->glasses = rt_face_glasses_probability(&ev);
    return 0;
}
