#include "filters/tilt.h"

#include "core/error.h"
#include "filters/line_segments.h"
#include "filters/resample.h"

#include <math.h>
#include <stdlib.h>

#define ANALYSIS_SIDE 1500
#define KERNEL_SIGMA 0.5  /* degrees: finds the mode */
#define REFINE_WINDOW 0.5 /* degrees: votes counted as support */
#define TUKEY_C 0.7       /* degrees: robust mean around the mode */
#define GRID_STEP 0.02

typedef struct vote {
    double angle, weight, length;
} vote;

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
        if (fabs(a) < RT_TILT_SEARCH_DEG) {
            dev = a;
            /* horizontals slope under perspective unless they face the
             * camera; verticals stay vertical under roll-only tilt */
            weight = 0.35 * len_w * contrast;
        } else if (fabs(a) > 90.0 - RT_TILT_SEARCH_DEG) {
            dev = a > 0 ? a - 90.0 : a + 90.0;
            /* keystone: verticals far from the centre lean in or out */
            double off = fabs(s->cx - 0.5 * w) / (0.5 * w);
            weight = len_w * contrast * (1.0 - 0.6 * off);
        } else {
            continue;
        }
        votes[nv].angle = -dev; /* the rotation that levels this line */
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
    /* mode of the kernel density */
    double best = 0.0, best_d = -1.0;
    const double inv2s2 = 1.0 / (2.0 * KERNEL_SIGMA * KERNEL_SIGMA);
    for (double t = -RT_TILT_SEARCH_DEG; t <= RT_TILT_SEARCH_DEG + 1e-9; t += GRID_STEP) {
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
