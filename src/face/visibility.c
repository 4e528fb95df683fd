#include "face/visibility.h"

#include "core/error.h"
#include "face/regions.h"
#include "face/topology.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The grid's long side: about 0.8 mm cells on a frontal face, fine enough
 * for a plastic frame and a moustache's edge, cheap at any image size. */
#define GRID_MAX 320
/* ...and cells of at least this on the face: no finer than the grid needs
 * to be, whatever the image size. */
#define CELL_MM 0.7f
/* The grid covers the face box grown by this fraction of its long side on
 * every side (room for the lifted forehead of a rolled face). */
#define ROI_MARGIN 0.3f
/* FaceMesh's forehead stops 1-3 cm below the hairline; its top points are
 * lifted by this much and the colour model stops the skin at the hair. */
#define HAIRLINE_LIFT_MM 22.0f
/* FaceMesh's silhouette runs a little inside the cheeks' and jaw's edge:
 * the outline points are pushed out by this much (the person mask and the
 * colour model stop the skin at the background). */
#define OUTLINE_GROW_MM 3.0f
/* Floors of the skin model's spreads (luma, chroma): a flat-lit face or a
 * black-and-white photo must not make every shading change "not skin". */
#define LUMA_SD_MIN 0.03f
#define CHROMA_SD_MIN 0.02f
/* Cells further than this (in spreads) from the skin model start to count
 * as covered: luma only when darker (highlights are skin), chroma any way. */
#define LUMA_Z 2.2f
#define LUMA_WEIGHT 1.5f
#define CHROMA_Z 2.2f
/* Texture: a cell whose fine-scale luma detail is this many times the
 * skin's median starts to count as covered (beard, stubble, hair, frame
 * edges); each doubling beyond it adds TEXTURE_WEIGHT to the distance. */
#define TEXTURE_RATIO 1.4f
#define TEXTURE_WEIGHT 1.5f
/* Texture is measured at about this scale (hair strands, stubble), up to
 * FINE_MAX finer than the grid, and averaged into the grid's cells. */
#define FINE_MM 0.25f
#define FINE_MAX 2
/* Guided filter on the grid: radius (cells) and regulariser. */
#define GUIDE_R 2
#define GUIDE_EPS 2e-3f
/* Share of a zone's skin found covered that names an occluder. */
#define BEARD_COVER 0.35f
#define MOUSTACHE_COVER 0.35f
#define HAIR_COVER 0.12f
#define GLASSES_PROB 0.5f
/* Faces smaller than this (px/mm; an inter-pupil distance of ~50 px) keep
 * their landmark skin (a group photo's faces): a blemish covers as many cells as a
 * beard's patch, and hair texture is finer than a pixel. */
#define MIN_PX_PER_MM 0.85f
/* Covered patches narrower than this are blemishes, i.e. skin. */
#define BLEMISH_MM 3.0f

static const char *const occluder_names[RT_OCCLUDER_COUNT] = {"glasses", "beard", "moustache",
                                                              "hair",    "hand",  "object"};

const char *rt_occluder_name(int i)
{
    return i >= 0 && i < RT_OCCLUDER_COUNT ? occluder_names[i] : "?";
}

static inline float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void rt_median5(const float *src, float *dst, int gw, int gh)
{
    /* every output on its own: rows in parallel give the same bytes */
#pragma omp parallel for schedule(static)
    for (int j = 0; j < gh; j++)
        for (int i = 0; i < gw; i++) {
            float win[25];
            int k = 0;
            for (int dj = -2; dj <= 2; dj++)
                for (int di = -2; di <= 2; di++) {
                    int ii = i + di, jj = j + dj;
                    if (ii < 0 || jj < 0 || ii >= gw || jj >= gh) continue;
                    float v = src[(size_t)jj * gw + ii];
                    int m = k++;
                    while (m > 0 && win[m - 1] > v) {
                        win[m] = win[m - 1];
                        m--;
                    }
                    win[m] = v;
                }
            dst[(size_t)j * gw + i] = win[k / 2];
        }
}

/* Min (max = 0) or max (max = 1) over the (2r+1)^2 window, separably. */
static void grey_filter(const float *src, float *dst, int w, int h, int r, int max)
{
    float *tmp = malloc((size_t)w * h * sizeof *tmp);
    if (!tmp) {
        memcpy(dst, src, (size_t)w * h * sizeof *dst);
        return;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = src[(size_t)y * w + x];
            for (int d = -r; d <= r; d++) {
                int xx = x + d < 0 ? 0 : (x + d >= w ? w - 1 : x + d);
                float u = src[(size_t)y * w + xx];
                v = max ? (u > v ? u : v) : (u < v ? u : v);
            }
            tmp[(size_t)y * w + x] = v;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = tmp[(size_t)y * w + x];
            for (int d = -r; d <= r; d++) {
                int yy = y + d < 0 ? 0 : (y + d >= h ? h - 1 : y + d);
                float u = tmp[(size_t)yy * w + x];
                v = max ? (u > v ? u : v) : (u < v ? u : v);
            }
            dst[(size_t)y * w + x] = v;
        }
    free(tmp);
}

/* Upright face frame: u along the eye line, v down the face, relative to
 * (cx, cy). */
typedef struct upright {
    double cx, cy, c, s;
} upright;

static inline double up_v(const upright *f, double x, double y)
{
    return f->s * (x - f->cx) + f->c * (y - f->cy);
}

static inline double up_u(const upright *f, double x, double y)
{
    return f->c * (x - f->cx) - f->s * (y - f->cy);
}

/* The face with the points above the brows moved up (along the face's
 * up direction) by up to HAIRLINE_LIFT_MM, the highest the most: the
 * forehead's hull then reaches the hairline. */
static void lift_forehead(const rt_face *f, rt_face *out)
{
    *out = *f;
    upright fr = {f->mesh[RT_MESH_GLABELLA][0], f->mesh[RT_MESH_GLABELLA][1], cos(f->roll),
                  sin(f->roll)};
    double brow_top = INFINITY, top = INFINITY;
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < rt_topo_brow[e].n; i++) {
            const float *p = f->mesh[rt_topo_brow[e].idx[i]];
            brow_top = fmin(brow_top, up_v(&fr, p[0], p[1]));
        }
    for (int i = 0; i < RT_MESH_BASE_POINTS; i++)
        top = fmin(top, up_v(&fr, f->mesh[i][0], f->mesh[i][1]));
    double lift = rt_face_mm(f, HAIRLINE_LIFT_MM);
    for (int i = 0; i < RT_MESH_BASE_POINTS; i++) {
        double v = up_v(&fr, f->mesh[i][0], f->mesh[i][1]);
        if (v >= brow_top) continue;
        double d = brow_top - top > 1e-3 ? lift * (brow_top - v) / (brow_top - top) : 0.0;
        /* up in the image is -v: (-s, -c) */
        out->mesh[i][0] = (float)(f->mesh[i][0] - fr.s * d);
        out->mesh[i][1] = (float)(f->mesh[i][1] - fr.c * d);
    }
    /* the outline's points (the hull of the lifted mesh) pushed outwards
     * from the hull's centre */
    rt_point2 hull[RT_MESH_BASE_POINTS + 1];
    int nh = rt_face_outline(out, hull);
    double cx = 0, cy = 0;
    for (int k = 0; k < nh; k++) {
        cx += hull[k].x;
        cy += hull[k].y;
    }
    cx /= nh > 0 ? nh : 1;
    cy /= nh > 0 ? nh : 1;
    float grow = rt_face_mm(f, OUTLINE_GROW_MM);
    /* not the jaw and chin: below them is the neck, skin-coloured and no face */
    const float *mouth = f->mesh[RT_MESH_UPPER_LIP_INNER];
    double v_mouth = up_v(&fr, mouth[0], mouth[1]);
    for (int i = 0; i < RT_MESH_BASE_POINTS; i++)
        for (int k = 0; k < nh && up_v(&fr, f->mesh[i][0], f->mesh[i][1]) < v_mouth; k++)
            if (out->mesh[i][0] == hull[k].x && out->mesh[i][1] == hull[k].y) {
                double dx = hull[k].x - cx, dy = hull[k].y - cy, l = sqrt(dx * dx + dy * dy);
                if (l > 0) {
                    out->mesh[i][0] = (float)(hull[k].x + grow * dx / l);
                    out->mesh[i][1] = (float)(hull[k].y + grow * dy / l);
                }
                break;
            }
}

/* The face in grid coordinates. */
static void to_grid(const rt_face *f, double x0, double y0, double step, rt_face *g)
{
    *g = *f;
    for (int i = 0; i < RT_MESH_POINTS; i++) {
        g->mesh[i][0] = (float)((f->mesh[i][0] - x0) / step);
        g->mesh[i][1] = (float)((f->mesh[i][1] - y0) / step);
        g->mesh[i][2] = (float)(f->mesh[i][2] / step);
    }
    for (int e = 0; e < 2; e++) {
        g->eye[e].iris_center.x = (float)((f->eye[e].iris_center.x - x0) / step);
        g->eye[e].iris_center.y = (float)((f->eye[e].iris_center.y - y0) / step);
        g->eye[e].iris_radius = (float)(f->eye[e].iris_radius / step);
        for (int k = 0; k < 71; k++) {
            g->eye[e].contour[k].x = (float)((f->eye[e].contour[k].x - x0) / step);
            g->eye[e].contour[k].y = (float)((f->eye[e].contour[k].y - y0) / step);
        }
    }
    g->px_per_mm = (float)(f->px_per_mm / step);
    g->x1 = (float)((f->x1 - x0) / step);
    g->x2 = (float)((f->x2 - x0) / step);
    g->y1 = (float)((f->y1 - y0) / step);
    g->y2 = (float)((f->y2 - y0) / step);
}

/* Robust mean and spread of n values: median and MAD first, then the mean
 * and standard deviation of the values within 2.5 spreads, twice. */
static void robust_stats(const float *v, int n, float sd_min, float *scratch, float *mean,
                         float *sd)
{
    memcpy(scratch, v, (size_t)n * sizeof *v);
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_float);
    float m = scratch[n / 2];
    for (int i = 0; i < n; i++)
        scratch[i] = fabsf(v[i] - m);
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_float);
    float s = fmaxf(1.4826f * scratch[n / 2], sd_min);
    for (int it = 0; it < 2; it++) {
        double s1 = 0, s2 = 0;
        int k = 0;
        for (int i = 0; i < n; i++)
            if (fabsf(v[i] - m) <= 2.5f * s) {
                s1 += v[i];
                s2 += (double)v[i] * v[i];
                k++;
            }
        if (k < 8) break;
        double mu = s1 / k, var = s2 / k - mu * mu;
        m = (float)mu;
        s = fmaxf((float)sqrt(var > 0 ? var : 0), sd_min);
    }
    *mean = m;
    *sd = s;
}

/* Share of the cells of `zone` (weights) that vis says are covered. */
static float zone_cover(const float *zone, const float *skin, int n)
{
    double w = 0, c = 0;
    for (int i = 0; i < n; i++) {
        w += zone[i];
        c += zone[i] * (1.0f - skin[i]);
    }
    return w > 4 ? (float)(c / w) : 0.0f;
}

int rt_face_visibility_compute(const rt_face_pyramid *pyr, const rt_person_mask *person,
                               const rt_face *face, rt_face_visibility *vis)
{
    memset(vis, 0, sizeof *vis);
    lift_forehead(face, &vis->lifted);
    const rt_face *f = face;
    float bw = f->x2 - f->x1, bh = f->y2 - f->y1, L = fmaxf(bw, bh);
    double x0 = floor(fmax(0.0, f->x1 - ROI_MARGIN * L)),
           y0 = floor(fmax(0.0, f->y1 - ROI_MARGIN * L));
    double x1 = ceil(fmin((double)pyr->width, f->x2 + ROI_MARGIN * L));
    double y1 = ceil(fmin((double)pyr->height, f->y2 + ROI_MARGIN * L));
    if (!(x1 - x0 >= 2 && y1 - y0 >= 2)) return 0;
    double step = fmax(fmax(1.0, rt_face_mm(face, CELL_MM)), fmax(x1 - x0, y1 - y0) / GRID_MAX);
    int gw = (int)ceil((x1 - x0) / step), gh = (int)ceil((y1 - y0) / step);
    const size_t n = (size_t)gw * gh;
    vis->x0 = x0;
    vis->y0 = y0;
    vis->step = step;
    vis->gw = gw;
    vis->gh = gh;
    vis->skin = malloc(n * sizeof(float));
    vis->lips = malloc(n * sizeof(float));
    vis->frame = calloc(n, sizeof(float));
    float *buf = malloc(n * 18 * sizeof(float));
    if (!vis->skin || !vis->lips || !vis->frame || !buf) {
        free(buf);
        rt_face_visibility_clear(vis);
        return rt_error(RT_ERR_NOMEM, "visibility: out of memory");
    }
    float *rgb = buf, *Y = buf + 3 * n, *cr = Y + n, *cb = cr + n, *grad = cb + n,
          *lm_skin = grad + n, *lips = lm_skin + n, *feat = lips + n, *raw = feat + n, *A = raw + n,
          *B = A + n, *zone = B + n, *scratch = zone + n, *samples = scratch + n;
    /* samples: 3 n floats (luma, chroma, chroma) at the end of buf */
    rt_affine to_image = {{step, 0, x0, 0, step, y0}};
    rt_face_sample_crop(pyr, &to_image, gw, gh, 1.0f, 0.0f, rgb);
    for (size_t i = 0; i < n; i++) {
        float r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
        float y = 0.299f * r + 0.587f * g + 0.114f * b;
        Y[i] = y;
        cr[i] = (r - y) / (y + 0.05f);
        cb[i] = (b - y) / (y + 0.05f);
    }
    /* fine-scale detail per cell: mean |luma - its 3x3 mean| on a grid
     * `r` times finer (about FINE_MM), averaged over the cell */
    int r = (int)floor(step / fmax(1.0, rt_face_mm(face, FINE_MM)));
    r = r < 1 ? 1 : (r > FINE_MAX ? FINE_MAX : r);
    {
        int fw = gw * r, fh = gh * r;
        size_t fn = (size_t)fw * fh;
        float *fine = malloc(fn * 4 * sizeof(float));
        if (!fine) {
            free(buf);
            rt_face_visibility_clear(vis);
            return rt_error(RT_ERR_NOMEM, "visibility: out of memory");
        }
        float *fy = fine + 3 * fn;
        rt_affine to_fine = {{step / r, 0, x0, 0, step / r, y0}};
        rt_face_sample_crop(pyr, &to_fine, fw, fh, 1.0f, 0.0f, fine);
        for (size_t i = 0; i < fn; i++)
            fy[i] = 0.299f * fine[3 * i] + 0.587f * fine[3 * i + 1] + 0.114f * fine[3 * i + 2];
        for (size_t i = 0; i < n; i++)
            grad[i] = 0;
        for (int j = 1; j < fh - 1; j++)
            for (int i = 1; i < fw - 1; i++) {
                const float *c = fy + (size_t)j * fw + i;
                float m = (c[-fw - 1] + c[-fw] + c[-fw + 1] + c[-1] + c[0] + c[1] + c[fw - 1] +
                           c[fw] + c[fw + 1]) *
                          (1.0f / 9.0f);
                grad[(size_t)(j / r) * gw + i / r] += fabsf(c[0] - m);
            }
        for (size_t i = 0; i < n; i++)
            grad[i] /= (float)(r * r);
        free(fine);
        /* the median over a 5x5 neighbourhood of cells: a texture covers
         * most of the window, an edge (frame, brow, the face's silhouette)
         * a line through it, which the median ignores */
        memcpy(scratch, grad, n * sizeof *grad);
        rt_median5(scratch, grad, gw, gh);
    }
    rt_face gf, gl;
    to_grid(face, x0, y0, step, &gf);
    to_grid(&vis->lifted, x0, y0, step, &gl);
    int err = rt_face_region_mask(&gf, RT_REGION_SKIN, 0.0f, 0, 0, gw, gh, lm_skin, (size_t)gw);
    if (!err) err = rt_face_region_mask(&gf, RT_REGION_LIPS, 0.0f, 0, 0, gw, gh, lips, (size_t)gw);
    if (!err)
        err = rt_face_region_mask(&gf, RT_REGION_INNER_MOUTH, 0.0f, 0, 0, gw, gh, zone, (size_t)gw);
    if (err) {
        free(buf);
        rt_face_visibility_clear(vis);
        return err;
    }
    for (size_t i = 0; i < n; i++)
        lips[i] = fmaxf(lips[i], zone[i]); /* lips and the mouth opening */

    /* the skin model's samples: landmark skin above the nose tip (cheeks,
     * nose, forehead: beard-free on most faces), on the person */
    upright fr = {face->mesh[RT_MESH_GLABELLA][0], face->mesh[RT_MESH_GLABELLA][1], cos(face->roll),
                  sin(face->roll)};
    const float *tip = face->mesh[RT_MESH_NOSE_TIP];
    double v_tip = up_v(&fr, tip[0], tip[1]);
    float *pm = feat; /* person mask per cell, kept in feat until the score */
    for (int j = 0; j < gh; j++)
        for (int i = 0; i < gw; i++) {
            int px = (int)(x0 + (i + 0.5) * step), py = (int)(y0 + (j + 0.5) * step);
            px = px < person->width ? px : person->width - 1;
            py = py < person->height ? py : person->height - 1;
            pm[(size_t)j * gw + i] = rt_person_mask_at(person, px, py);
        }
    int ns = 0;
    float *sY = samples, *sR = samples + n, *sB = samples + 2 * n;
    for (int j = 0; j < gh; j++)
        for (int i = 0; i < gw; i++) {
            size_t k = (size_t)j * gw + i;
            double v = up_v(&fr, x0 + (i + 0.5) * step, y0 + (j + 0.5) * step);
            if (lm_skin[k] < 0.99f || v > v_tip || pm[k] < 0.5f) continue;
            sY[ns] = Y[k];
            sR[ns] = cr[k];
            sB[ns] = cb[k];
            ns++;
        }
    if (ns < 16) {
        /* too little skin to learn from: trust the landmarks */
        for (size_t i = 0; i < n; i++) {
            vis->skin[i] = 1.0f;
            vis->lips[i] = 1.0f;
        }
        vis->lifted = *face;
        free(buf);
        return 0;
    }
    float mu[3], sd[3];
    robust_stats(sY, ns, LUMA_SD_MIN, scratch, &mu[0], &sd[0]);
    robust_stats(sR, ns, CHROMA_SD_MIN, scratch, &mu[1], &sd[1]);
    robust_stats(sB, ns, CHROMA_SD_MIN, scratch, &mu[2], &sd[2]);
    memcpy(vis->skin_mean, mu, sizeof mu);
    memcpy(vis->skin_sd, sd, sizeof sd);
    if (face->px_per_mm < MIN_PX_PER_MM) {
        /* a small face (a group photo's): a blemish is as large as a
         * covered patch and texture is below the pixel; the model is kept
         * (Skin Mask), the landmarks decide the face's skin */
        for (size_t i = 0; i < n; i++) {
            vis->skin[i] = 1.0f;
            vis->lips[i] = 1.0f;
        }
        vis->lifted = *face;
        if (face->glasses >= GLASSES_PROB) vis->occluders |= RT_OCCLUDER_GLASSES;
        free(buf);
        return 0;
    }
    /* the skin's own texture level: median gradient of the model's inliers */
    int ng = 0;
    for (int j = 0; j < gh; j++)
        for (int i = 0; i < gw; i++) {
            size_t k = (size_t)j * gw + i;
            double v = up_v(&fr, x0 + (i + 0.5) * step, y0 + (j + 0.5) * step);
            if (lm_skin[k] < 0.99f || v > v_tip || pm[k] < 0.5f) continue;
            if (fabsf(Y[k] - mu[0]) > 2 * sd[0]) continue;
            scratch[ng++] = grad[k];
        }
    float gref = 0.01f;
    if (ng > 8) {
        qsort(scratch, (size_t)ng, sizeof *scratch, cmp_float);
        gref = fmaxf(scratch[ng / 2], 0.002f);
    }

    /* the score of every cell: distance from the skin model */
    for (size_t i = 0; i < n; i++) {
        float zl = (mu[0] - Y[i]) / sd[0];
        float zr = (cr[i] - mu[1]) / sd[1], zb = (cb[i] - mu[2]) / sd[2];
        /* brighter than the skin: a specular highlight is whitish skin, its
         * chroma does not count (1.5 spreads brighter: not at all) */
        float shine = clamp01(1.0f + zl / 1.5f);
        float d = LUMA_WEIGHT * fmaxf(0.0f, zl - LUMA_Z) +
                  shine * fmaxf(0.0f, sqrtf(zr * zr + zb * zb) - CHROMA_Z) +
                  TEXTURE_WEIGHT * fmaxf(0.0f, log2f(grad[i] / (TEXTURE_RATIO * gref) + 1e-6f));
        raw[i] = expf(-d * d);
    }
    /* a 5x5 median first: a beard's skin between its hairs is no skin
     * to retouch, nor one stray hair on a cheek a hole in it */
    memcpy(scratch, raw, n * sizeof *raw);
    rt_median5(scratch, raw, gw, gh);
    err = rt_guided_filter_coefficients(Y, raw, gw, gh, GUIDE_R, GUIDE_EPS, A, B);
    if (err) {
        free(buf);
        rt_face_visibility_clear(vis);
        return err;
    }
    for (size_t i = 0; i < n; i++)
        vis->skin[i] = clamp01(A[i] * Y[i] + B[i]);
    /* covered patches smaller than BLEMISH_MM across are skin (a pimple, a
     * pigment spot, a shine edge: what Heal and Skin Tone must reach): a
     * grey opening (min then max filter) of the covered share */
    int rb = (int)lround(rt_face_mm(face, BLEMISH_MM) / 2 / step);
    if (rb > 0) {
        for (size_t i = 0; i < n; i++)
            A[i] = 1.0f - vis->skin[i];
        grey_filter(A, B, gw, gh, rb, 0);
        grey_filter(B, A, gw, gh, rb, 1);
        for (size_t i = 0; i < n; i++)
            vis->skin[i] = 1.0f - A[i];
    }
    for (size_t i = 0; i < n; i++)
        vis->skin[i] *= pm[i];

    /* glasses frames: covered cells of the eye band (brow top to the nose
     * tip, outside the eye openings and brows) of a face wearing glasses */
    if (face->glasses >= GLASSES_PROB) {
        vis->occluders |= RT_OCCLUDER_GLASSES;
        err = rt_face_region_mask(&gf, RT_REGION_EYES, 1.0f, 0, 0, gw, gh, zone, (size_t)gw);
        if (!err)
            err = rt_face_region_mask(&gf, RT_REGION_BROWS, 1.0f, 0, 0, gw, gh, A, (size_t)gw);
        /* on the face only: the band's ears and hair are no frame */
        if (!err) err = rt_face_region_mask(&gl, RT_REGION_FACE, 1.0f, 0, 0, gw, gh, B, (size_t)gw);
        double brow_top = INFINITY;
        for (int e = 0; e < 2; e++)
            for (int i = 0; i < rt_topo_brow[e].n; i++) {
                const float *p = face->mesh[rt_topo_brow[e].idx[i]];
                brow_top = fmin(brow_top, up_v(&fr, p[0], p[1]));
            }
        brow_top -= rt_face_mm(face, 4.0f);
        for (int j = 0; j < gh && !err; j++)
            for (int i = 0; i < gw; i++) {
                size_t k = (size_t)j * gw + i;
                double v = up_v(&fr, x0 + (i + 0.5) * step, y0 + (j + 0.5) * step);
                if (v < brow_top || v > v_tip) continue;
                float outside = (1.0f - zone[k]) * (1.0f - A[k]) * B[k];
                vis->frame[k] = face->glasses * outside * (1.0f - vis->skin[k]);
                vis->skin[k] *= 1.0f - vis->frame[k];
            }
        if (err) {
            free(buf);
            rt_face_visibility_clear(vis);
            return err;
        }
    }

    /* lips and mouth: covered where something skin-coloured lies on them
     * (fingers, knuckles), but only when the lips themselves differ from
     * the skin (pale lips would otherwise vanish); a lip that merely looks
     * like skin (score up to 0.5: a lower lip in warm light) stays */
    double lw = 0, ls = 0;
    for (size_t i = 0; i < n; i++) {
        lw += lips[i];
        ls += lips[i] * raw[i];
    }
    int lips_distinct = lw > 4 && ls / lw < 0.5;
    for (size_t i = 0; i < n; i++)
        vis->lips[i] = lips_distinct ? clamp01((0.9f - raw[i]) / 0.4f) : 1.0f;

    /* occluders named from the share of each zone's landmark skin covered */
    const float *chin = face->mesh[RT_MESH_CHIN];
    const float *lip_top = face->mesh[RT_MESH_UPPER_LIP_TOP];
    const float *lip_low = face->mesh[17]; /* lower lip's outer edge, centre */
    const float *mr = face->mesh[RT_MESH_MOUTH_RIGHT], *ml = face->mesh[RT_MESH_MOUTH_LEFT];
    double v_lip_top = up_v(&fr, lip_top[0], lip_top[1]),
           v_lip_low = up_v(&fr, lip_low[0], lip_low[1]);
    double v_chin = up_v(&fr, chin[0], chin[1]);
    double u_r = up_u(&fr, mr[0], mr[1]), u_l = up_u(&fr, ml[0], ml[1]);
    double u_lo = fmin(u_r, u_l), u_hi = fmax(u_r, u_l);
    double brow_top = INFINITY;
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < rt_topo_brow[e].n; i++) {
            const float *p = face->mesh[rt_topo_brow[e].idx[i]];
            brow_top = fmin(brow_top, up_v(&fr, p[0], p[1]));
        }
    float *z_m = A, *z_b = B, *z_h = zone;
    for (int j = 0; j < gh; j++)
        for (int i = 0; i < gw; i++) {
            size_t k = (size_t)j * gw + i;
            double px = x0 + (i + 0.5) * step, py = y0 + (j + 0.5) * step;
            double v = up_v(&fr, px, py), u = up_u(&fr, px, py);
            float s = lm_skin[k];
            z_m[k] = v > v_tip && v < v_lip_top && u > u_lo && u < u_hi ? s : 0.0f;
            z_b[k] = v > v_lip_low && v < v_chin ? s : 0.0f;
            z_h[k] = v < brow_top ? s : 0.0f;
        }
    if (zone_cover(z_m, vis->skin, (int)n) > MOUSTACHE_COVER)
        vis->occluders |= RT_OCCLUDER_MOUSTACHE;
    if (zone_cover(z_b, vis->skin, (int)n) > BEARD_COVER) vis->occluders |= RT_OCCLUDER_BEARD;
    if (zone_cover(z_h, vis->skin, (int)n) > HAIR_COVER) vis->occluders |= RT_OCCLUDER_HAIR;
    vis->covered = zone_cover(lm_skin, vis->skin, (int)n);
    free(buf);
    return 0;
}

void rt_face_visibility_clear(rt_face_visibility *vis)
{
    if (!vis) return;
    free(vis->skin);
    free(vis->lips);
    free(vis->frame);
    vis->skin = vis->lips = vis->frame = NULL;
    vis->gw = vis->gh = 0;
}

float rt_face_visibility_at(const rt_face_visibility *vis, const float *grid, int x, int y)
{
    if (!grid || vis->gw <= 0) return 0.0f;
    double gx = (x + 0.5 - vis->x0) / vis->step - 0.5, gy = (y + 0.5 - vis->y0) / vis->step - 0.5;
    if (gx < -0.5 || gy < -0.5 || gx > vis->gw - 0.5 || gy > vis->gh - 0.5) return 0.0f;
    int i = (int)floor(gx), j = (int)floor(gy);
    float tx = (float)(gx - i), ty = (float)(gy - j);
    int i0 = i < 0 ? 0 : i, j0 = j < 0 ? 0 : j;
    int i1 = i + 1 < vis->gw ? i + 1 : vis->gw - 1, j1 = j + 1 < vis->gh ? j + 1 : vis->gh - 1;
    const float *r0 = grid + (size_t)j0 * vis->gw, *r1 = grid + (size_t)j1 * vis->gw;
    float a = r0[i0] + tx * (r0[i1] - r0[i0]), b = r1[i0] + tx * (r1[i1] - r1[i0]);
    return a + ty * (b - a);
}

void rt_face_visibility_apply(const rt_face_visibility *vis, const float *grid, int x0, int y0,
                              int w, int h, float *dst, size_t stride)
{
    for (int y = 0; y < h; y++) {
        float *d = dst + (size_t)y * stride;
        for (int x = 0; x < w; x++)
            if (d[x] != 0.0f) d[x] *= rt_face_visibility_at(vis, grid, x0 + x, y0 + y);
    }
}
