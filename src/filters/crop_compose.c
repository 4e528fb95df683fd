/* Aspect crops composed around the people (crop_compose.h). */
#include "filters/crop_compose.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Share of a row of columns that is person (mask >= 0.5). */
static double person_share_row(const rt_person_mask *m, int y, int x0, int x1)
{
    if (y < 0 || y >= m->height) return 0.0;
    int n = 0, in = 0;
    for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < m->width; x++, n++)
        in += m->full[(size_t)y * m->width + x] >= 128;
    return n ? (double)in / n : 0.0;
}

void rt_crop_head_box(const rt_face *f, const rt_person_mask *person, float box[4])
{
    const float fw = f->x2 - f->x1, fh = f->y2 - f->y1;
    /* without a mask: the skull above the mesh's forehead and a little hair */
    float top = f->y1 - 0.3f * fh, left = f->x1 - 0.12f * fw, right = f->x2 + 0.12f * fw;
    if (person) {
        /* hair: climb from the forehead while the middle of the head is
         * still person, at most a face height (big hair, a hat) */
        int cx0 = (int)(f->x1 + 0.25f * fw), cx1 = (int)(f->x2 - 0.25f * fw);
        int y = (int)f->y1, ylim = (int)(f->y1 - 1.0f * fh);
        while (y - 1 >= ylim && y - 1 >= 0 && person_share_row(person, y - 1, cx0, cx1) >= 0.3)
            y--;
        if (y < top) top = (float)y;
        /* hair at the sides, at forehead and eye height, up to 0.6 face
         * widths out (shoulders are lower) */
        for (int k = 0; k < 2; k++) {
            int row = (int)(f->y1 + k * 0.3f * fh);
            if (row < 0 || row >= person->height) continue;
            int x = (int)f->x1;
            while (x - 1 >= 0 && x - 1 >= f->x1 - 0.6f * fw &&
                   person->full[(size_t)row * person->width + x - 1] >= 128)
                x--;
            if (x < left) left = (float)x;
            x = (int)f->x2;
            while (x + 1 < person->width && x + 1 <= f->x2 + 0.6f * fw &&
                   person->full[(size_t)row * person->width + x + 1] >= 128)
                x++;
            if (x + 1 > right) right = (float)(x + 1);
        }
    }
    box[0] = left;
    box[1] = top;
    box[2] = right;
    box[3] = f->y2 + 0.08f * fh; /* the chin with the shadow under it */
}

typedef struct interval {
    double lo, hi;
} interval;

/* The centre in [allowed] (not empty) nearest to target whose crop edges
 * (half size half) do not fall strictly inside any face span; *ok = 0 when
 * every place crosses a face (then the nearest place in allowed). */
static double place_axis(double target, interval allowed, double half, const interval *faces,
                         int nfaces, int *ok)
{
    *ok = 0;
    double t = fmin(fmax(target, allowed.lo), allowed.hi);
    /* candidates: the target and every end of a forbidden range */
    double best = t, bestd = INFINITY;
    for (int k = -1; k < 4 * nfaces; k++) {
        double c;
        if (k < 0)
            c = t;
        else {
            const interval *f = &faces[k / 4];
            double e = (k % 2) ? f->hi : f->lo;
            c = (k % 4) < 2 ? e + half : e - half; /* left edge or right edge on e */
        }
        if (c < allowed.lo - 1e-9 || c > allowed.hi + 1e-9) continue;
        int crosses = 0;
        for (int i = 0; i < nfaces && !crosses; i++) {
            double l = c - half, r = c + half;
            crosses = (l > faces[i].lo + 1e-6 && l < faces[i].hi - 1e-6) ||
                      (r > faces[i].lo + 1e-6 && r < faces[i].hi - 1e-6);
        }
        if (crosses) continue;
        double d = fabs(c - t);
        if (d < bestd) {
            bestd = d;
            best = c;
            *ok = 1;
        }
    }
    return best;
}

/* The run of order (sorted along the axis by the heads' start) with the
 * most faces whose heads fit in the crop's length along the axis (2 half)
 * and for which a place exists with no edge through any face (spans: all
 * nall faces along the axis; feasible: the crop centre's range); ties go to
 * the larger faces.  Returns the run's first index, its length in *count. */
static int largest_cluster(const int *order, const float (*head)[4], const float *area, int n,
                           int axis, double half, const interval *spans, int nall,
                           interval feasible, int *count)
{
    int best_i = 0, best_n = 0, best_ok = -1;
    double best_area = -1;
    for (int i = 0; i < n; i++) {
        double lo = INFINITY, hi = -INFINITY, a = 0;
        for (int j = i; j < n; j++) {
            lo = fmin(lo, head[order[j]][axis]);
            hi = fmax(hi, head[order[j]][axis + 2]);
            if (hi - lo > 2 * half) break;
            a += area[order[j]];
            interval allow = {fmax(feasible.lo, hi - half), fmin(feasible.hi, lo + half)};
            int ok = 0;
            if (allow.hi >= allow.lo) place_axis(0.5 * (lo + hi), allow, half, spans, nall, &ok);
            int c = j - i + 1;
            if (ok > best_ok || (ok == best_ok && (c > best_n || (c == best_n && a > best_area)))) {
                best_ok = ok;
                best_n = c;
                best_i = i;
                best_area = a;
            }
        }
    }
    if (best_n == 0) best_n = 1; /* one head longer than the crop */
    *count = best_n;
    return best_i;
}

/* Sorts order[0..n) by the heads' start along axis (insertion sort: a
 * photo has tens of faces at most; no shared state for qsort). */
static void sort_by_start(int *order, int n, const float (*head)[4], int axis)
{
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i;
        for (; j > 0 && head[order[j - 1]][axis] > head[v][axis]; j--)
            order[j] = order[j - 1];
        order[j] = v;
    }
}

void rt_crop_compose(const rt_face_analysis *fa, const rt_crop_request *req, int out_w, int out_h,
                     rt_crop_composition *out)
{
    const double W = req->width, H = req->height;
    const double a = req->angle_deg * M_PI / 180.0, c = fabs(cos(a)), s = fabs(sin(a));
    const double w2 = out_w / 2.0, h2 = out_h / 2.0;
    const double ex = w2 * c + h2 * s, ey = w2 * s + h2 * c; /* feasible centres: [ex, W - ex] */
    memset(out, 0, sizeof *out);
    out->center_x = out->center_y = 0.5;
    int n = fa ? fa->nfaces : 0;
    out->faces = n;
    if (n == 0) {
        snprintf(out->reason, sizeof out->reason, "centred: no face found");
        return;
    }
    float(*head)[4] = malloc(sizeof *head * n);
    float *area = malloc(sizeof *area * n);
    int *order = malloc(sizeof *order * n);
    interval *fx = malloc(sizeof *fx * n), *fy = malloc(sizeof *fy * n);
    char *in = calloc((size_t)n, 1);
    if (!head || !area || !order || !fx || !fy || !in) {
        snprintf(out->reason, sizeof out->reason, "centred: out of memory to compose");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const rt_face *f = &fa->faces[i];
        rt_crop_head_box(f, fa->person, head[i]);
        /* the head cannot reach beyond the photo */
        head[i][0] = fmaxf(head[i][0], 0.0f);
        head[i][1] = fmaxf(head[i][1], 0.0f);
        head[i][2] = fminf(head[i][2], (float)W);
        head[i][3] = fminf(head[i][3], (float)H);
        area[i] = (f->x2 - f->x1) * (f->y2 - f->y1);
        fx[i] = (interval){f->x1, f->x2};
        fy[i] = (interval){f->y1, f->y2};
        order[i] = i;
    }
    /* the faces kept: all when their heads fit, otherwise the largest
     * cluster across, then the largest cluster of those down */
    int cnt = n, first = 0;
    sort_by_start(order, n, (const float(*)[4])head, 0);
    first = largest_cluster(order, (const float(*)[4])head, area, n, 0, w2, fx, n,
                            (interval){ex, W - ex}, &cnt);
    memmove(order, order + first, sizeof *order * cnt);
    sort_by_start(order, cnt, (const float(*)[4])head, 1);
    int cnt2;
    first = largest_cluster(order, (const float(*)[4])head, area, cnt, 1, h2, fy, n,
                            (interval){ey, H - ey}, &cnt2);
    memmove(order, order + first, sizeof *order * cnt2);
    cnt = cnt2 > 0 ? cnt2 : 1;
    /* the kept heads' union, and their face boxes' union */
    double ux0 = INFINITY, uy0 = INFINITY, ux1 = -INFINITY, uy1 = -INFINITY;
    double vx0 = INFINITY, vy0 = INFINITY, vx1 = -INFINITY, vy1 = -INFINITY;
    double eyes = 0, fh = 0, wsum = 0;
    for (int k = 0; k < cnt; k++) {
        int i = order[k];
        const rt_face *f = &fa->faces[i];
        ux0 = fmin(ux0, head[i][0]);
        uy0 = fmin(uy0, head[i][1]);
        ux1 = fmax(ux1, head[i][2]);
        uy1 = fmax(uy1, head[i][3]);
        vx0 = fmin(vx0, f->x1);
        vy0 = fmin(vy0, f->y1);
        vx1 = fmax(vx1, f->x2);
        vy1 = fmax(vy1, f->y2);
        double wgt = area[i];
        eyes += wgt * 0.5 * (f->eye[0].iris_center.y + f->eye[1].iris_center.y);
        fh += wgt * (f->y2 - f->y1);
        wsum += wgt;
    }
    eyes /= wsum;
    fh /= wsum;
    /* across: the kept heads centred, inside the crop when they fit, else
     * their faces */
    interval allow_x = {fmax(ex, ux1 - w2), fmin(W - ex, ux0 + w2)};
    if (allow_x.hi < allow_x.lo) allow_x = (interval){fmax(ex, vx1 - w2), fmin(W - ex, vx0 + w2)};
    /* a face wider than the crop: centred on it, it cannot be kept whole */
    if (allow_x.hi < allow_x.lo)
        allow_x.lo = allow_x.hi = fmin(fmax(0.5 * (vx0 + vx1), ex), W - ex);
    int okx;
    double cx = place_axis(0.5 * (ux0 + ux1), allow_x, w2, fx, n, &okx);
    /* down: the eye line on the upper third, with the headroom between
     * RT_CROP_HEADROOM_MIN and _MAX face heights; a small (standing)
     * figure thus keeps its head near the top and as much body as fits */
    double top = eyes - out_h / 3.0;
    top = fmin(top, uy0 - RT_CROP_HEADROOM_MIN * fh);
    top = fmax(top, uy0 - RT_CROP_HEADROOM_MAX * fh);
    interval allow_y = {fmax(ey, uy1 - h2), fmin(H - ey, uy0 + h2)};
    if (allow_y.hi < allow_y.lo) allow_y = (interval){fmax(ey, vy1 - h2), fmin(H - ey, vy0 + h2)};
    if (allow_y.hi < allow_y.lo)
        allow_y.lo = allow_y.hi = fmin(fmax(0.5 * (vy0 + vy1), ey), H - ey);
    int oky;
    double cy = place_axis(top + h2, allow_y, h2, fy, n, &oky);
    out->center_x = W - 2 * ex > 1e-9 ? fmin(1.0, fmax(0.0, (cx - ex) / (W - 2 * ex))) : 0.5;
    out->center_y = H - 2 * ey > 1e-9 ? fmin(1.0, fmax(0.0, (cy - ey) / (H - 2 * ey))) : 0.5;
    /* what is whole inside the crop (unrotated view) */
    for (int i = 0; i < n; i++) {
        const rt_face *f = &fa->faces[i];
        in[i] = f->x1 >= cx - w2 - 0.5 && f->x2 <= cx + w2 + 0.5 && f->y1 >= cy - h2 - 0.5 &&
                f->y2 <= cy + h2 + 0.5;
        out->kept += in[i];
    }
    int heads_fit = ux1 - ux0 <= out_w && uy1 - uy0 <= out_h;
    int faces_fit = vx1 - vx0 <= out_w && vy1 - vy0 <= out_h;
    snprintf(out->reason, sizeof out->reason, "composed around %d of %d face%s (%s): %s%s%s", cnt,
             n, n == 1 ? "" : "s", cnt < n ? "the largest group that fits" : "all",
             heads_fit   ? "heads whole"
             : faces_fit ? "faces whole"
                         : "a face larger than the crop",
             okx && oky ? ", no edge through a face" : ", an edge crosses a face",
             H - 2 * ey > 1 ? ", eye line toward the upper third" : "");
done:
    free(head);
    free(area);
    free(order);
    free(fx);
    free(fy);
    free(in);
}
