#include "face/body_tilt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MASK_ON 0.5f
#define MAX_ROWS 2048

/* A robust straight-line fit u = a + b v (two reweighting passes that drop
 * points farther than 2.5 median residuals); returns the number of points
 * kept, the slope and the RMS residual. */
static int fit_line(const double *v, const double *u, int n, double *slope, double *rms)
{
    if (n < 4) return 0;
    unsigned char *keep = malloc((size_t)n);
    double *res = malloc((size_t)n * sizeof *res);
    if (!keep || !res) {
        free(keep);
        free(res);
        return 0;
    }
    memset(keep, 1, (size_t)n);
    double a = 0, b = 0;
    int m = 0;
    for (int pass = 0; pass < 3; pass++) {
        double sv = 0, su = 0, svv = 0, svu = 0;
        m = 0;
        for (int i = 0; i < n; i++)
            if (keep[i]) {
                sv += v[i];
                su += u[i];
                svv += v[i] * v[i];
                svu += v[i] * u[i];
                m++;
            }
        double det = m * svv - sv * sv;
        if (m < 4 || fabs(det) < 1e-9) {
            m = 0;
            break;
        }
        b = (m * svu - sv * su) / det;
        a = (su - b * sv) / m;
        /* median absolute residual by a small selection: n is a few hundred */
        int k = 0;
        for (int i = 0; i < n; i++)
            res[k++] = fabs(u[i] - a - b * v[i]);
        double med = 0;
        for (int i = 0; i < k; i++) { /* partial selection sort up to the median */
            int lo = i;
            for (int j = i + 1; j < k; j++)
                if (res[j] < res[lo]) lo = j;
            double tmp = res[i];
            res[i] = res[lo];
            res[lo] = tmp;
            if (i == k / 2) {
                med = res[i];
                break;
            }
        }
        double cut = 2.5 * (med > 0.5 ? med : 0.5);
        for (int i = 0; i < n; i++)
            keep[i] = fabs(u[i] - a - b * v[i]) <= cut;
    }
    double ss = 0;
    int kept = 0;
    for (int i = 0; i < n && m; i++)
        if (keep[i]) {
            double r = u[i] - a - b * v[i];
            ss += r * r;
            kept++;
        }
    free(keep);
    free(res);
    if (!m || kept < 4) return 0;
    *slope = b;
    *rms = sqrt(ss / kept);
    return kept;
}

static int mask_on(const rt_person_mask *pm, int x, int y)
{
    return pm->low[(size_t)y * pm->low_w + x] > MASK_ON;
}

/* Torso midline: centres of the mask's run under the neck, row by row,
 * following the run down; rows whose run reaches a side of the frame are
 * cut and do not count. */
static void torso_cue(const rt_person_mask *pm, double neck_x, double neck_y, double unit,
                      rt_tilt_cue *cue)
{
    const int w = pm->low_w, h = pm->low_h;
    double *ys = malloc(MAX_ROWS * sizeof *ys), *xs = malloc(MAX_ROWS * sizeof *xs);
    if (!ys || !xs) {
        free(ys);
        free(xs);
        return;
    }
    int n = 0, y0 = (int)lround(neck_y + 0.3 * unit), y1 = (int)lround(neck_y + 6.0 * unit);
    if (y0 < 0) y0 = 0;
    if (y1 > h - 1) y1 = h - 1;
    double cx = neck_x;
    for (int y = y0; y <= y1 && n < MAX_ROWS; y++) {
        int x = (int)lround(cx);
        if (x < 0 || x >= w || !mask_on(pm, x, y)) continue;
        int l = x, r = x;
        while (l > 0 && mask_on(pm, l - 1, y))
            l--;
        while (r < w - 1 && mask_on(pm, r + 1, y))
            r++;
        if (l == 0 || r == w - 1) continue; /* cut by the frame: centre unknown */
        /* wider than a person's arms-out span: a group or a couch */
        if (r - l > 5.0 * unit) continue;
        ys[n] = y;
        xs[n] = 0.5 * (l + r);
        cx = xs[n];
        n++;
    }
    double slope, rms;
    int kept = fit_line(ys, xs, n, &slope, &rms);
    free(ys);
    free(xs);
    if (!kept) return;
    const double extent = (double)kept / unit; /* rows used, in eye-chin units */
    /* x = a + b y with y down: a body leaning top-left (the photo turned
     * counter-clockwise by t) has b = tan t; the levelling rotation is -t */
    cue->angle_deg = -atan(slope) * 180.0 / M_PI;
    double length_conf = extent / 3.0 > 1.0 ? 1.0 : extent / 3.0;
    double fit_conf = 1.0 / (1.0 + (rms / (0.15 * unit)) * (rms / (0.15 * unit)));
    /* measured: the midline follows posture (a three-quarter pose, a hip
     * shift) as much as the camera, so it is a weak cue on its own */
    cue->confidence = 0.25 * length_conf * fit_conf;
}

/* Shoulder line: the top contour of the mask on each side of the neck, from
 * 0.6 to 2.2 eye-chin units out; each shoulder slopes down and out, and the
 * mean of the two line angles is the roll. */
static void shoulder_cue(const rt_person_mask *pm, double neck_x, double chin_y, double unit,
                         rt_tilt_cue *cue)
{
    const int w = pm->low_w, h = pm->low_h;
    int ncol = (int)(1.6 * unit) + 2;
    double *xs = malloc((size_t)ncol * sizeof *xs), *ys = malloc((size_t)ncol * sizeof *ys);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        return;
    }
    double angle[2] = {0, 0}, conf[2] = {0, 0};
    for (int side = 0; side < 2; side++) {
        const int dir = side ? 1 : -1;
        int n = 0;
        int ytop = (int)lround(chin_y - 0.3 * unit), ybot = (int)lround(chin_y + 3.0 * unit);
        if (ytop < 0) ytop = 0;
        if (ybot > h - 1) ybot = h - 1;
        for (double t = 0.6; t <= 2.2 && n < ncol; t += 1.6 / (ncol - 1)) {
            int x = (int)lround(neck_x + dir * t * unit);
            if (x < 1 || x >= w - 1) break;     /* the frame cuts the shoulder */
            if (mask_on(pm, x, ytop)) continue; /* hair or a raised arm above */
            int y = ytop;
            while (y <= ybot && !mask_on(pm, x, y))
                y++;
            if (y > ybot || y >= h - 1) continue;
            xs[n] = x;
            ys[n] = y;
            n++;
        }
        double slope, rms;
        int kept = fit_line(xs, ys, n, &slope, &rms);
        if (!kept) continue;
        /* y = a + b x, y down: the displayed angle of the line is -atan(b) */
        angle[side] = -atan(slope) * 180.0 / M_PI;
        double cover = kept / (0.8 * ncol);
        conf[side] = (cover > 1 ? 1 : cover) / (1.0 + (rms / (0.1 * unit)) * (rms / (0.1 * unit)));
    }
    free(xs);
    free(ys);
    if (conf[0] <= 0 || conf[1] <= 0) return;
    /* shoulders fall outward by 5 to 40 degrees each */
    double fall_l = angle[0], fall_r = -angle[1]; /* left: rises to the right */
    double mean = 0.5 * (angle[0] + angle[1]);
    if (fall_l - mean < 3.0 || fall_r + mean < 3.0 || fall_l - mean > 45 || fall_r + mean > 45)
        return;
    /* a turned body shows unequal shoulders: their difference lowers trust */
    double asym = fabs(fall_l - fall_r);
    double sym_conf = asym < 4 ? 1.0 : (asym > 20 ? 0.0 : (20 - asym) / 16.0);
    cue->angle_deg = -mean;
    /* measured on turned studio portraits: it follows a turn to within a
     * degree whenever both sides fit, but its zero is the sitter's posture
     * (level London studio portraits read 1 to 3 degrees), so alone it stays
     * near the apply threshold: at 0.9 it turned 10 of 21 level originals
     * by more than half a degree, at 0.45 three */
    cue->confidence = 0.45 * sym_conf * sqrt(conf[0] * conf[1]);
}

/* Median eye-line roll of the group's faces (those at least 40 % the size of
 * the largest): head tilts are expression and average out over people. */
static void faces_cue(const rt_face_analysis *a, rt_tilt_cue *cue)
{
    double rolls[64];
    int n = 0;
    const double big = a->faces[0].x2 - a->faces[0].x1;
    for (int i = 0; i < a->nfaces && n < 64; i++) {
        const rt_face *f = &a->faces[i];
        if (f->x2 - f->x1 < 0.4 * big) continue;
        rolls[n++] = -f->roll * 180.0 / M_PI;
    }
    if (n < 3) return;
    for (int i = 1; i < n; i++) /* insertion sort */
        for (int j = i; j > 0 && rolls[j] < rolls[j - 1]; j--) {
            double t = rolls[j];
            rolls[j] = rolls[j - 1];
            rolls[j - 1] = t;
        }
    double med = n % 2 ? rolls[n / 2] : 0.5 * (rolls[n / 2 - 1] + rolls[n / 2]);
    /* mean of the faces within 4 degrees of the median: steadier than the
     * median itself, deaf to the odd turned head */
    int close = 0;
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (fabs(rolls[i] - med) <= 4.0) {
            sum += rolls[i];
            close++;
        }
    /* the mean's error shrinks like 1/sqrt(n): sixteen agreeing faces
     * suffice; small faces' eye lines are coarse, so the cue stays modest */
    double count = sqrt(close / 16.0);
    cue->angle_deg = sum / close;
    cue->confidence = 0.5 * (count > 1 ? 1 : count) * close / n;
}

void rt_body_tilt_cues(const rt_face_analysis *a, rt_tilt_cue cues[RT_CUE_COUNT])
{
    cues[RT_CUE_TORSO] = (rt_tilt_cue){0, 0};
    cues[RT_CUE_SHOULDERS] = (rt_tilt_cue){0, 0};
    cues[RT_CUE_FACES] = (rt_tilt_cue){0, 0};
    if (!a || a->nfaces == 0) return;
    faces_cue(a, &cues[RT_CUE_FACES]);
    const rt_person_mask *pm = a->person;
    if (!pm || !pm->low || a->nfaces >= 3) return; /* a group has no single body axis */
    const rt_face *f = &a->faces[0];
    const double sx = (double)pm->low_w / a->width, sy = (double)pm->low_h / a->height;
    rt_point2 r = f->eye[RT_EYE_RIGHT].iris_center, l = f->eye[RT_EYE_LEFT].iris_center;
    rt_point2 chin = rt_face_point(f, 152);
    double ex = 0.5 * (r.x + l.x) * sx, ey = 0.5 * (r.y + l.y) * sy;
    double cx = chin.x * sx, cy = chin.y * sy;
    double unit = hypot(cx - ex, cy - ey); /* eye line to chin, ~12 cm */
    if (unit < 4.0) return;                /* too small in the mask to measure */
    torso_cue(pm, cx, cy, unit, &cues[RT_CUE_TORSO]);
    shoulder_cue(pm, cx, cy, unit, &cues[RT_CUE_SHOULDERS]);
}

int rt_straighten_ai(const rt_image *img, const rt_face_analysis *a, rt_tilt_cue cues[RT_CUE_COUNT],
                     rt_tilt_fusion *fused)
{
    rt_tilt_hints hints = {0};
    if (a && a->person) {
        /* lines on the person (clothes, arms) are not the scene's */
        hints.ignore = a->person->low;
        hints.ignore_w = a->person->low_w;
        hints.ignore_h = a->person->low_h;
        hints.threshold = 0.5f;
    }
    rt_tilt_estimate est;
    int err = rt_estimate_tilt(img, hints.ignore ? &hints : NULL, &est);
    if (err) return err;
    cues[RT_CUE_LINES] = (rt_tilt_cue){est.angle_deg, est.confidence};
    rt_body_tilt_cues(a, cues);
    rt_fuse_tilt_cues(cues, fused);
    return 0;
}
