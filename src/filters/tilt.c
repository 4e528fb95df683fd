#include "filters/tilt.h"

#include "core/error.h"
#include "filters/line_segments.h"
#include "filters/resample.h"

#include <math.h>
#include <stdlib.h>

#define ANALYSIS_SIDE 1024
#define KERNEL_SIGMA 0.5  /* degrees: finds the mode */
#define REFINE_WINDOW 0.5 /* degrees: votes counted as support */
#define TUKEY_C 0.7       /* degrees: robust mean around the mode */
#define GRID_STEP 0.02

/* Vertical convergence searched: up to a vanishing point two half-diagonals
 * from the centre (a camera pitched by about 25 degrees). */
#define CONVERGENCE_MAX 0.3
#define CONVERGENCE_STEP 0.05

const char *const rt_tilt_cue_names[RT_CUE_COUNT] = {"lines", "torso", "shoulders", "faces"};

typedef struct vote {
    double angle, weight, length;
    double dev;  /* deviation from level or plumb, degrees */
    double x, y; /* centre, half-diagonals from the image centre, y up */
    int vertical;
} vote;

/* The roll that makes a vertical line at (x, y) with deviation dev point at
 * the vanishing point (-sin t, cos t) / k: solves dev = atan2(sin t + k x,
 * cos t - k y) for t by fixed-point iteration (the map is a contraction for
 * |k| <= CONVERGENCE_MAX inside the image). */
static double roll_for_vertical(double dev_deg, double x, double y, double k)
{
    const double dev = dev_deg * M_PI / 180.0;
    double t = dev;
    for (int it = 0; it < 6; it++)
        t += dev - atan2(sin(t) + k * x, cos(t) - k * y);
    return t * 180.0 / M_PI;
}

/* Fills angle with each vote's levelling rotation under convergence k. */
static void votes_at(vote *votes, int nv, double k)
{
    for (int i = 0; i < nv; i++)
        votes[i].angle = votes[i].vertical
                             ? -roll_for_vertical(votes[i].dev, votes[i].x, votes[i].y, k)
                             : -votes[i].dev;
}

/* Mode of the kernel density of the votes over the search range. */
static double density_mode(const vote *votes, int nv, double step, double *density)
{
    double best = 0.0, best_d = -1.0;
    const double inv2s2 = 1.0 / (2.0 * KERNEL_SIGMA * KERNEL_SIGMA);
    for (double t = -RT_TILT_SEARCH_DEG; t <= RT_TILT_SEARCH_DEG + 1e-9; t += step) {
        double d = 0.0;
        for (int i = 0; i < nv; i++) {
            double x = votes[i].angle - t;
            if (fabs(x) < 4 * KERNEL_SIGMA) d += votes[i].weight * exp(-x * x * inv2s2);
        }
        /* prefer the smaller rotation on ties */
        if (d > best_d + 1e-12 || (fabs(d - best_d) <= 1e-12 && fabs(t) < fabs(best))) {
            best_d = d;
            best = t;
        }
    }
    *density = best_d;
    return best;
}

/* A segment passing near the ignored region anywhere along its length is
 * not a scene line (clothes, arms, hair edges): the region is grown by 1.5 %
 * of the image so that its own outline never votes, whatever the mask's
 * soft edge does. */
static int on_ignored(const rt_tilt_hints *hints, const rt_segment *s, int w, int h)
{
    const int iw = hints->ignore_w, ih = hints->ignore_h;
    const int grow = (int)ceil(0.015 * (iw > ih ? iw : ih));
    for (int k = 0; k <= 8; k++) {
        double t = k / 8.0;
        double x = s->x1 + t * (s->x2 - s->x1), y = s->y1 + t * (s->y2 - s->y1);
        int cx = (int)(x * iw / w), cy = (int)(y * ih / h);
        for (int dy = -grow; dy <= grow; dy += grow > 0 ? grow : 1)
            for (int dx = -grow; dx <= grow; dx += grow > 0 ? grow : 1) {
                int ix = cx + dx, iy = cy + dy;
                if (ix < 0 || iy < 0 || ix >= iw || iy >= ih) continue;
                if (hints->ignore[(size_t)iy * iw + ix] > hints->threshold) return 1;
            }
    }
    return 0;
}

int rt_estimate_tilt(const rt_image *img, const rt_tilt_hints *hints, rt_tilt_estimate *est)
{
    est->angle_deg = 0.0;
    est->confidence = 0.0;
    est->segments = 0;
    est->convergence = 0.0;
    rt_image *small;
    int err = rt_downscale(img, ANALYSIS_SIDE, &small);
    if (err) return err;
    const int w = small->width, h = small->height;
    float *lum = rt_alloc_floats((size_t)w * h);
    if (!lum) {
        rt_image_destroy(small);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    const float *r = rt_image_plane(small, 0), *g = rt_image_plane(small, 1),
                *b = rt_image_plane(small, 2);
    for (size_t i = 0; i < (size_t)w * h; i++)
        lum[i] = 0.2126f * r[i] + 0.7152f * g[i] + 0.0722f * b[i];
    rt_image_destroy(small);

    const double diag = sqrt((double)w * w + (double)h * h);
    rt_lsd_params p = {.min_length = (float)(0.015 * diag),
                       .tolerance_deg = 22.5f,
                       .min_gradient = 0.02f,
                       .min_density = 0.6f};
    rt_segment *seg = NULL;
    int n = 0;
    err = rt_detect_line_segments(lum, w, h, &p, &seg, &n);
    rt_free(lum);
    if (err) return err;
    vote *votes = malloc((size_t)(n ? n : 1) * sizeof *votes);
    if (!votes) {
        free(seg);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    int nv = 0;
    double total_w = 0.0;
    for (int i = 0; i < n; i++) {
        const rt_segment *s = &seg[i];
        if (hints && hints->ignore && on_ignored(hints, s, w, h)) continue;
        double a = s->angle_deg, dev, weight;
        double contrast = s->contrast / 0.08;
        if (contrast > 1.0) contrast = 1.0;
        /* long lines are far more reliable than short ones */
        double len_w = s->length * s->length / diag;
        int vertical = 0;
        if (fabs(a) < RT_TILT_SEARCH_DEG) {
            dev = a;
            /* horizontals slope under perspective unless they face the
             * camera; verticals stay vertical under roll-only tilt */
            weight = 0.35 * len_w * contrast;
        } else if (fabs(a) > 90.0 - RT_TILT_SEARCH_DEG) {
            dev = a > 0 ? a - 90.0 : a + 90.0;
            /* the convergence is fitted, but far verticals still carry
             * lens distortion */
            double off = fabs(s->cx - 0.5 * w) / (0.5 * w);
            weight = len_w * contrast * (1.0 - 0.3 * off);
            vertical = 1;
        } else {
            continue;
        }
        votes[nv].dev = dev;
        votes[nv].x = (s->cx - 0.5 * w) / (0.5 * diag);
        votes[nv].y = -(s->cy - 0.5 * h) / (0.5 * diag);
        votes[nv].vertical = vertical;
        votes[nv].weight = weight;
        votes[nv].length = s->length;
        total_w += weight;
        nv++;
    }
    free(seg);
    est->segments = nv;
    if (nv == 0 || total_w <= 0) {
        free(votes);
        return 0;
    }
    /* joint mode over roll and vertical convergence.  A convergence must
     * earn its place: parallel verticals are the common case, and a free
     * convergence can line up unrelated near-verticals (curtain folds) at a
     * wrong roll, as it did on the Blue Room portraits (-9.4 degrees on a
     * level photo); so it is taken only when its mode is 50 % denser than
     * that of parallel verticals (1.3 was not enough there). */
    double best = 0.0, best_d = -1.0, best_k = 0.0, parallel_d = 0.0;
    for (double k = -CONVERGENCE_MAX; k <= CONVERGENCE_MAX + 1e-9; k += CONVERGENCE_STEP) {
        if (fabs(k) < 1e-9) k = 0.0;
        votes_at(votes, nv, k);
        double d;
        /* coarse here, fine once the convergence is chosen */
        double m = density_mode(votes, nv, 5 * GRID_STEP, &d);
        if (k == 0.0) parallel_d = d;
        if (d > best_d + 1e-12 || (fabs(d - best_d) <= 1e-12 && fabs(k) < fabs(best_k))) {
            best_d = d;
            best = m;
            best_k = k;
        }
    }
    if (best_d < 1.5 * parallel_d) best_k = 0.0;
    votes_at(votes, nv, best_k);
    est->convergence = best_k;
    best = density_mode(votes, nv, GRID_STEP, &best_d);
    /* Tukey-weighted mean around the mode: precise, and deaf to far votes */
    double t = best;
    for (int it = 0; it < 8; it++) {
        double sw = 0.0, sa = 0.0;
        for (int i = 0; i < nv; i++) {
            double u = (votes[i].angle - t) / TUKEY_C;
            if (fabs(u) < 1.0) {
                double k = votes[i].weight * (1 - u * u) * (1 - u * u);
                sw += k;
                sa += k * votes[i].angle;
            }
        }
        if (sw <= 0) break;
        t = sa / sw;
    }
    double sw = 0.0, support_len = 0.0;
    for (int i = 0; i < nv; i++)
        if (fabs(votes[i].angle - t) <= REFINE_WINDOW) {
            sw += votes[i].weight;
            support_len += votes[i].length;
        }
    free(votes);
    est->angle_deg = t;
    double agree = sw / total_w;
    /* half a diagonal of agreeing lines is full support */
    double amount = support_len / (0.5 * diag);
    if (amount > 1.0) amount = 1.0;
    est->confidence = agree * amount;
    return 0;
}

void rt_fuse_tilt_cues(const rt_tilt_cue in[RT_CUE_COUNT], rt_tilt_fusion *out)
{
    /* a cue far off level is a pose (lying, leaning), not a camera roll:
     * the torso of test_crop's Biden portrait turned 12 degrees read -57.9 */
    rt_tilt_cue cues[RT_CUE_COUNT];
    for (int c = 0; c < RT_CUE_COUNT; c++)
        cues[c] = fabs(in[c].angle_deg) <= RT_TILT_SEARCH_DEG ? in[c] : (rt_tilt_cue){0, 0};
    out->angle_deg = 0.0;
    out->confidence = 0.0;
    out->agreeing = 0;
    /* how finely each cue measures (inverse variance, relative): long scene
     * lines to a tenth of a degree, a mask's outline or head rolls coarser */
    static const double precision[RT_CUE_COUNT] = {
        [RT_CUE_LINES] = 1.0, [RT_CUE_TORSO] = 0.1, [RT_CUE_SHOULDERS] = 0.3, [RT_CUE_FACES] = 0.3};
    /* the cue angle with the most confident support within the agreement
     * band; between rivals of like support, most photos are nearly level
     * (a soft prior of 8 degrees that at most halves support, for the
     * choice only, so a lone confident 15 degree answer still wins) */
    double best_support = 0.0, centre = 0.0;
    for (int c = 0; c < RT_CUE_COUNT; c++) {
        if (cues[c].confidence <= 0.0) continue;
        double support = 0.0;
        for (int i = 0; i < RT_CUE_COUNT; i++)
            if (cues[i].confidence > 0.0 &&
                fabs(cues[i].angle_deg - cues[c].angle_deg) <= RT_TILT_AGREE_DEG)
                support += cues[i].confidence;
        const double a = cues[c].angle_deg / 8.0;
        /* a coarse cue (the torso) does not outvote a fine one on its own */
        support *= (0.5 + 0.5 * exp(-0.5 * a * a)) * sqrt(precision[c]);
        if (support > best_support + 1e-12) {
            best_support = support;
            centre = cues[c].angle_deg;
        }
    }
    if (best_support <= 0.0) return;
    double sw = 0.0, sa = 0.0, doubt = 1.0, dissent = 0.0;
    for (int i = 0; i < RT_CUE_COUNT; i++) {
        if (cues[i].confidence <= 0.0) continue;
        if (fabs(cues[i].angle_deg - centre) <= RT_TILT_AGREE_DEG) {
            out->agreeing |= 1u << i;
            sw += cues[i].confidence * precision[i];
            sa += cues[i].confidence * precision[i] * cues[i].angle_deg;
            doubt *= 1.0 - cues[i].confidence; /* independent cues: all wrong together */
        } else if (cues[i].confidence > dissent) {
            dissent = cues[i].confidence;
        }
    }
    out->angle_deg = sa / sw;
    /* a confident cue that says otherwise halves the trust at most */
    out->confidence = (1.0 - doubt) * (1.0 - 0.5 * dissent);
}
