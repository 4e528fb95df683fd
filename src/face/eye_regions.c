#include "face/eye_regions.h"

#include "core/error.h"
#include "face/regions.h"
#include "face/roi_filters.h"
#include "face/topology.h"

#include <math.h>
#include <stdlib.h>

/* Indices in the opening outline (topology.c: outer corner, lower lid,
 * inner corner, upper lid back). */
#define OUTER 0
#define INNER 8

void rt_eye_geometry_init(const rt_face *face, int eye, rt_eye_geometry *g)
{
    const rt_index_list *l = &rt_topo_eye[eye];
    for (int i = 0; i < RT_EYE_OPENING_POINTS; i++)
        g->opening[i] = rt_face_point(face, l->idx[i]);
    g->outer_corner = g->opening[OUTER];
    g->inner_corner = g->opening[INNER];
    float dx = g->inner_corner.x - g->outer_corner.x, dy = g->inner_corner.y - g->outer_corner.y;
    g->width = sqrtf(dx * dx + dy * dy);
    /* height: the widest of the lower/upper pairs across the middle (3-13,
     * 4-12, 5-11), measured across the corner line */
    float height = 0.0f;
    for (int k = 3; k <= 5; k++) {
        rt_point2 lo = g->opening[k], up = g->opening[16 - k];
        float ex = up.x - lo.x, ey = up.y - lo.y;
        float across = g->width > 0 ? fabsf(ex * dy - ey * dx) / g->width : 0.0f;
        height = fmaxf(height, across);
    }
    g->openness = g->width > 0 ? height / g->width : 0.0f;
    g->iris_center = face->eye[eye].iris_center;
    g->iris_radius = face->eye[eye].iris_radius;
    g->iris_refined = 0;
    g->px_per_mm = face->px_per_mm > 0 ? face->px_per_mm : 1.0f;
}

int rt_eye_bounds(const rt_eye_geometry *g, float pad_px, int width, int height, int *x0, int *y0,
                  int *w, int *h)
{
    float b[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    for (int i = 0; i < RT_EYE_OPENING_POINTS; i++) {
        b[0] = fminf(b[0], g->opening[i].x);
        b[1] = fminf(b[1], g->opening[i].y);
        b[2] = fmaxf(b[2], g->opening[i].x);
        b[3] = fmaxf(b[3], g->opening[i].y);
    }
    int ax = (int)floorf(b[0] - pad_px), ay = (int)floorf(b[1] - pad_px);
    int bx = (int)ceilf(b[2] + pad_px), by = (int)ceilf(b[3] + pad_px);
    ax = ax < 0 ? 0 : ax;
    ay = ay < 0 ? 0 : ay;
    bx = bx > width ? width : bx;
    by = by > height ? height : by;
    if (bx <= ax || by <= ay) return 0;
    *x0 = ax, *y0 = ay, *w = bx - ax, *h = by - ay;
    return 1;
}

/* Signed distance to the opening outline, positive inside. */
static float opening_distance(const rt_eye_geometry *g, float px, float py)
{
    int inside = 0;
    float best = INFINITY;
    for (int i = 0, j = RT_EYE_OPENING_POINTS - 1; i < RT_EYE_OPENING_POINTS; j = i++) {
        rt_point2 a = g->opening[j], b = g->opening[i];
        if ((a.y > py) != (b.y > py) && px < a.x + (py - a.y) * (b.x - a.x) / (b.y - a.y))
            inside = !inside;
        float dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy;
        float t = l2 > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / l2 : 0.0f;
        t = t < 0 ? 0 : (t > 1 ? 1 : t);
        float ex = a.x + t * dx - px, ey = a.y + t * dy - py;
        best = fminf(best, sqrtf(ex * ex + ey * ey));
    }
    return inside ? best : -best;
}

/* Bilinear luma at a continuous position (pixel centres at +0.5). */
static float luma_at(const rt_image *img, float x, float y)
{
    x -= 0.5f, y -= 0.5f;
    int ix = (int)floorf(x), iy = (int)floorf(y);
    float fx = x - (float)ix, fy = y - (float)iy;
    int W = img->width, H = img->height;
    float v[4];
    for (int k = 0; k < 4; k++) {
        int xx = ix + (k & 1), yy = iy + (k >> 1);
        xx = xx < 0 ? 0 : (xx >= W ? W - 1 : xx);
        yy = yy < 0 ? 0 : (yy >= H ? H - 1 : yy);
        size_t o = (size_t)yy * W + xx;
        v[k] = 0.299f * rt_image_plane(img, 0)[o] + 0.587f * rt_image_plane(img, 1)[o] +
               0.114f * rt_image_plane(img, 2)[o];
    }
    return (v[0] * (1 - fx) + v[1] * fx) * (1 - fy) + (v[2] * (1 - fx) + v[3] * fx) * fy;
}

/* Least-squares circle through points (Kasa): x^2 + y^2 = 2a x + 2b y + c. */
static int fit_circle(const float *px, const float *py, const unsigned char *use, int n,
                      rt_point2 origin, rt_point2 *c, float *r)
{
    double m[3][4] = {{0}};
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!use[i]) continue;
        double x = px[i] - origin.x, y = py[i] - origin.y, z = x * x + y * y;
        double row[3] = {2 * x, 2 * y, 1};
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++)
                m[a][b] += row[a] * row[b];
            m[a][3] += row[a] * z;
        }
        k++;
    }
    if (k < 5) return 0;
    for (int col = 0; col < 3; col++) { /* Gaussian elimination, partial pivoting */
        int piv = col;
        for (int a = col + 1; a < 3; a++)
            if (fabs(m[a][col]) > fabs(m[piv][col])) piv = a;
        if (fabs(m[piv][col]) < 1e-9) return 0;
        for (int b = 0; b < 4; b++) {
            double t = m[col][b];
            m[col][b] = m[piv][b];
            m[piv][b] = t;
        }
        for (int a = 0; a < 3; a++) {
            if (a == col) continue;
            double f = m[a][col] / m[col][col];
            for (int b = col; b < 4; b++)
                m[a][b] -= f * m[col][b];
        }
    }
    double a = m[0][3] / m[0][0], b = m[1][3] / m[1][1], cc = m[2][3] / m[2][2];
    double rr = cc + a * a + b * b;
    if (!(rr > 0)) return 0;
    c->x = (float)(a + origin.x);
    c->y = (float)(b + origin.y);
    *r = (float)sqrt(rr);
    return 1;
}

#define RAYS 72

void rt_eye_refine_iris(const rt_image *img, rt_eye_geometry *g)
{
    const rt_point2 c0 = g->iris_center;
    const float r0 = g->iris_radius;
    if (!(r0 > 2.0f)) return;
    const float dr = fmaxf(0.35f, r0 / 64.0f), hstep = fmaxf(0.75f, 0.05f * r0);
    const float margin = fmaxf(1.0f, 0.06f * r0);
    float px[RAYS], py[RAYS], strength[RAYS];
    unsigned char use[RAYS] = {0};
    int n = 0;
    for (int k = 0; k < RAYS; k++) {
        float ang = (float)(2.0 * M_PI * k / RAYS), ux = cosf(ang), uy = sinf(ang);
        float best = 0.0f, best_r = 0.0f;
        for (float r = 0.7f * r0; r <= 1.45f * r0; r += dr) {
            float xo = c0.x + ux * (r + hstep), yo = c0.y + uy * (r + hstep);
            float xi = c0.x + ux * (r - hstep), yi = c0.y + uy * (r - hstep);
            /* both sides of the edge must be inside the opening, clear of
             * the lid margin */
            if (opening_distance(g, xi, yi) < margin || opening_distance(g, xo, yo) < margin)
                continue;
            float d = luma_at(img, xo, yo) - luma_at(img, xi, yi);
            if (d > best) best = d, best_r = r;
        }
        /* a limbus: at least ~8 grey levels across 2 hsteps */
        if (best > 0.03f) {
            px[n] = c0.x + ux * best_r;
            py[n] = c0.y + uy * best_r;
            strength[n] = best;
            use[n] = 1;
            n++;
        }
    }
    if (n < 8) return;
    /* sclera on both sides of the iris: a one-sided arc fixes no circle */
    int left = 0, right = 0;
    for (int i = 0; i < n; i++) {
        float cx = (px[i] - c0.x) / r0;
        left += cx < -0.4f;
        right += cx > 0.4f;
    }
    if (left < 3 || right < 3) return;
    rt_point2 c = c0;
    float r = r0;
    for (int round = 0; round < 3; round++) {
        if (!fit_circle(px, py, use, n, c0, &c, &r)) return;
        int kept = 0;
        for (int i = 0; i < n; i++) {
            float dx = px[i] - c.x, dy = py[i] - c.y;
            use[i] = fabsf(sqrtf(dx * dx + dy * dy) - r) < fmaxf(1.0f, 0.08f * r);
            kept += use[i];
        }
        if (kept < 6) return;
    }
    (void)strength;
    float shift = hypotf(c.x - c0.x, c.y - c0.y);
    if (r < 0.75f * r0 || r > 1.3f * r0 || shift > 0.35f * r0) return;
    g->iris_center = c;
    g->iris_radius = r;
    g->iris_refined = 1;
}

int rt_eye_iris_mask(const rt_eye_geometry *g, float radius_scale, int x0, int y0, int w, int h,
                     float *dst, size_t stride)
{
    int err = rt_mask_polygon(g->opening, RT_EYE_OPENING_POINTS, 0.0f, 1.0f, RT_MASK_SET, x0, y0, w,
                              h, dst, stride);
    if (err) return err;
    rt_mask_circle(g->iris_center, radius_scale * g->iris_radius, 1.0f, RT_MASK_MUL, x0, y0, w, h,
                   dst, stride);
    return 0;
}

int rt_eye_sclera_mask(const rt_image *img, const rt_eye_geometry *g, int x0, int y0, int w, int h,
                       float *dst, size_t stride)
{
    const size_t n = (size_t)w * h;
    const float ppm = g->px_per_mm;
    float *buf = malloc(8 * n * sizeof *buf);
    if (!buf) return rt_error(RT_ERR_NOMEM, "out of memory for a sclera mask");
    float *Y = buf, *Cb = buf + n, *Cr = buf + 2 * n, *open = buf + 3 * n, *ring = buf + 4 * n,
          *like = buf + 5 * n, *tmp = buf + 6 * n, *core = buf + 7 * n;
    rt_roi_ycc(img, x0, y0, w, h, Y, Cb, Cr);
    /* core: the landmark opening (the seeds); open: how far the sclera may reach
     * (the landmarks lag the lids by up to ~1 mm on close-ups: colour
     * decides there, grown from the core) */
    /* gates at ~6 px/mm: their exact edges do not matter, colour decides */
    const int kc = ppm > 12.0f ? (int)(ppm / 6.0f) : 1;
    const rt_point2 *op = g->opening;
    const int np = RT_EYE_OPENING_POINTS;
    int err = rt_roi_polygon_coarse(op, np, 0.2f * ppm, RT_MASK_SET, x0, y0, w, h, kc, core);
    if (!err)
        err = rt_roi_polygon_coarse(op, np, RT_EYE_OPENING_SLACK_MM * ppm, RT_MASK_SET, x0, y0, w,
                                    h, kc, open);
    /* lid skin: a ring 1.2-2.2 mm outside the landmark opening */
    if (!err) err = rt_roi_polygon_coarse(op, np, 2.2f * ppm, RT_MASK_SET, x0, y0, w, h, kc, ring);
    if (!err)
        err = rt_roi_polygon_coarse(op, np, 1.2f * ppm, RT_MASK_MUL_INV, x0, y0, w, h, kc, ring);
    if (err) {
        free(buf);
        return err;
    }
    /* candidates: the opening minus the iris (grown by 4 % of its
     * diameter: the limbus is a soft gradient) */
    const float iris_r = g->iris_radius * 1.08f;
    for (size_t i = 0; i < n; i++)
        like[i] = core[i];
    rt_point2 ic = {g->iris_center.x - (float)x0, g->iris_center.y - (float)y0};
    rt_mask_circle(ic, iris_r, 1.0f, RT_MASK_MUL_INV, 0, 0, w, h, like, (size_t)w);
    /* three colour clusters over the slack region (k-means in Y, Cb, Cr,
     * chroma weighted 2x), seeded: the white (bright end of the opening),
     * lid skin (the ring), dark (lashes, iris, lid shadow) */
    float cen[3][3];
    cen[0][0] = rt_roi_percentile(Y, like, n, 0.85f, 0.0f, 1.0f, 0.8f);
    for (size_t i = 0; i < n; i++)
        tmp[i] = (like[i] > 0.5f && Y[i] >= cen[0][0] - 0.08f) ? 1.0f : 0.0f;
    cen[0][1] = rt_roi_percentile(Cb, tmp, n, 0.5f, -0.5f, 0.5f, 0.0f);
    cen[0][2] = rt_roi_percentile(Cr, tmp, n, 0.5f, -0.5f, 0.5f, 0.0f);
    cen[1][0] = rt_roi_percentile(Y, ring, n, 0.5f, 0.0f, 1.0f, 0.5f);
    cen[1][1] = rt_roi_percentile(Cb, ring, n, 0.5f, -0.5f, 0.5f, -0.05f);
    cen[1][2] = rt_roi_percentile(Cr, ring, n, 0.5f, -0.5f, 0.5f, 0.08f);
    cen[2][0] = rt_roi_percentile(Y, open, n, 0.1f, 0.0f, 1.0f, 0.1f);
    cen[2][1] = 0.0f;
    cen[2][2] = 0.02f;
    const float wc = 2.0f;
    const int step = kc; /* statistics on the coarse grid's spacing */
    for (int it = 0; it < 6; it++) {
        double acc[3][4] = {{0}};
        for (int j = 0; j < h; j += step)
            for (int i = 0; i < w; i += step) {
                size_t q = (size_t)j * w + i;
                if (!(open[q] > 0.5f)) continue;
                int best = 0;
                float bd = INFINITY;
                for (int c = 0; c < 3; c++) {
                    float dy = Y[q] - cen[c][0], db = wc * (Cb[q] - cen[c][1]),
                          dr = wc * (Cr[q] - cen[c][2]);
                    float d = dy * dy + db * db + dr * dr;
                    if (d < bd) bd = d, best = c;
                }
                acc[best][0] += Y[q], acc[best][1] += Cb[q], acc[best][2] += Cr[q];
                acc[best][3] += 1;
            }
        for (int c = 0; c < 3; c++)
            if (acc[c][3] > 0)
                for (int d = 0; d < 3; d++)
                    cen[c][d] = (float)(acc[c][d] / acc[c][3]);
    }
    /* the white must be the brightest cluster; otherwise (no white
     * visible, or a photo without contrast) the landmark opening alone */
    const int use_colour = cen[0][0] > cen[1][0] + 0.02f && cen[0][0] > cen[2][0] + 0.05f;
    for (size_t i = 0; i < n; i++) {
        float t = 1.0f;
        if (use_colour) {
            float d[3];
            for (int c = 0; c < 3; c++) {
                float dy = Y[i] - cen[c][0], db = wc * (Cb[i] - cen[c][1]),
                      dr = wc * (Cr[i] - cen[c][2]);
                d[c] = sqrtf(dy * dy + db * db + dr * dr);
            }
            float other = fminf(d[1], d[2]);
            t = (other - d[0]) / (other + d[0] + 1e-6f); /* > 0: nearer the white */
            t = rt_smoothstep(-0.15f, 0.15f, t);
        } else {
            t = core[i];
        }
        like[i] = t * open[i];
    }
    /* broad pink (the lower waterline, the caruncle) is not white: redness
     * smoothed over 0.25 mm (thin vessels fade, a band does not) well
     * above the white's; stricter outside the landmark opening */
    if (use_colour) {
        for (size_t i = 0; i < n; i++)
            ring[i] = Cr[i];
        rt_roi_box_blur3(ring, w, h, 0.25f * ppm, tmp);
        const float c0 = cen[0][2];
        for (size_t i = 0; i < n; i++) {
            float in = core[i] > 0.5f;
            float lo = c0 + (in ? 0.04f : 0.02f), hi = c0 + (in ? 0.1f : 0.05f);
            like[i] *= 1.0f - rt_smoothstep(lo, hi, ring[i]);
        }
    }
    /* grown from the landmark opening through sclera-coloured pixels
     * (connected to it), at most the slack */
    for (size_t i = 0; i < n; i++)
        core[i] *= like[i];
    if (rt_roi_keep_connected(like, core, w, h, 0.1f)) {
        free(buf);
        return RT_ERR_NOMEM;
    }
    /* closing: thin red vessels and single lashes inside the white stay in */
    int rc = (int)lrintf(0.25f * ppm);
    if (rc < 1) rc = 1;
    rt_roi_max_filter(like, w, h, rc, tmp);
    rt_roi_min_filter(like, w, h, rc, tmp);
    const float car0 = 0.07f * g->width, car1 = 0.13f * g->width;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            size_t k = (size_t)j * w + i;
            float dx = (float)(x0 + i) + 0.5f - g->inner_corner.x,
                  dy = (float)(y0 + j) + 0.5f - g->inner_corner.y;
            float caruncle = rt_smoothstep(car0, car1, sqrtf(dx * dx + dy * dy));
            dst[(size_t)j * stride + i] = like[k] * open[k] * caruncle;
        }
    free(buf);
    rt_mask_circle(g->iris_center, iris_r, 1.0f, RT_MASK_MUL_INV, x0, y0, w, h, dst, stride);
    return 0;
}

long rt_face_sclera_colour(const rt_image *img, const rt_face *face, float *y, float *cb, float *cr)
{
    double sw = 0, sb = 0, sr = 0;
    long count = 0;
    enum { BINS = 256 };
    double hist[BINS] = {0};
    for (int e = 0; e < 2; e++) {
        rt_eye_geometry g;
        rt_eye_geometry_init(face, e, &g);
        if (g.openness < 0.15f || g.width < 8.0f) continue;
        rt_eye_refine_iris(img, &g);
        int x0, y0, w, h;
        if (!rt_eye_bounds(&g, (RT_EYE_OPENING_SLACK_MM + 0.2f) * g.px_per_mm + 2.0f, img->width,
                           img->height, &x0, &y0, &w, &h))
            continue;
        /* statistics only: the eye at ~6 px/mm is enough */
        const int k = g.px_per_mm > 12.0f ? (int)(g.px_per_mm / 6.0f) : 1;
        const int cw = (w + k - 1) / k, ch = (h + k - 1) / k;
        size_t n = (size_t)cw * ch;
        rt_image *small = NULL;
        float *m = malloc(((size_t)w * h + 4 * n) * sizeof *m);
        if (!m || rt_image_create(cw, ch, 3, &small)) {
            free(m);
            return rt_error(RT_ERR_NOMEM, "out of memory");
        }
        float *plane = m + 4 * n;
        for (int c = 0; c < 3; c++) {
            const float *src = rt_image_plane(img, c);
            for (int j = 0; j < h; j++)
                for (int i = 0; i < w; i++)
                    plane[(size_t)j * w + i] = src[(size_t)(y0 + j) * img->width + x0 + i];
            rt_roi_box_down(plane, w, h, k, rt_image_plane(small, c));
        }
        rt_eye_geometry gs = g;
        const float inv = 1.0f / (float)k;
        for (int i = 0; i < RT_EYE_OPENING_POINTS; i++)
            gs.opening[i] =
                (rt_point2){(g.opening[i].x - (float)x0) * inv, (g.opening[i].y - (float)y0) * inv};
        gs.inner_corner = gs.opening[INNER];
        gs.outer_corner = gs.opening[OUTER];
        gs.iris_center =
            (rt_point2){(g.iris_center.x - (float)x0) * inv, (g.iris_center.y - (float)y0) * inv};
        gs.iris_radius *= inv;
        gs.width *= inv;
        gs.px_per_mm *= inv;
        int err = rt_eye_sclera_mask(small, &gs, 0, 0, cw, ch, m, (size_t)cw);
        if (err) {
            rt_image_destroy(small);
            free(m);
            return err;
        }
        rt_roi_ycc(small, 0, 0, cw, ch, m + n, m + 2 * n, m + 3 * n);
        rt_image_destroy(small);
        for (size_t i = 0; i < n; i++) {
            if (!(m[i] > 0.5f)) continue;
            float v = m[n + i];
            int b = (int)(v * BINS);
            hist[b < 0 ? 0 : (b >= BINS ? BINS - 1 : b)] += m[i];
            sw += m[i];
            sb += m[i] * m[2 * n + i];
            sr += m[i] * m[3 * n + i];
            count++;
        }
        free(m);
    }
    if (count == 0 || sw <= 0) return 0;
    double acc = 0;
    int b = 0;
    while (b < BINS - 1 && (acc += hist[b]) < 0.9 * sw)
        b++;
    *y = ((float)b + 0.5f) / BINS;
    *cb = (float)(sb / sw);
    *cr = (float)(sr / sw);
    return count;
}

float rt_eye_pupil_radius(const rt_image *img, const rt_eye_geometry *g)
{
    enum { BINS = 20 };
    const float R = g->iris_radius;
    double sum[BINS] = {0}, cnt[BINS] = {0};
    int x0 = (int)floorf(g->iris_center.x - R), x1 = (int)ceilf(g->iris_center.x + R);
    int y0 = (int)floorf(g->iris_center.y - R), y1 = (int)ceilf(g->iris_center.y + R);
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > img->width ? img->width : x1, y1 = y1 > img->height ? img->height : y1;
    const float margin = fmaxf(1.0f, 0.05f * R);
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            float px = (float)x + 0.5f, py = (float)y + 0.5f;
            float r = hypotf(px - g->iris_center.x, py - g->iris_center.y) / R;
            if (r >= 1.0f || opening_distance(g, px, py) < margin) continue;
            size_t o = (size_t)y * img->width + x;
            float v = 0.299f * rt_image_plane(img, 0)[o] + 0.587f * rt_image_plane(img, 1)[o] +
                      0.114f * rt_image_plane(img, 2)[o];
            if (v > 0.75f) continue; /* catchlight */
            int b = (int)(r * BINS);
            sum[b] += v;
            cnt[b] += 1;
        }
    float prof[BINS];
    for (int b = 0; b < BINS; b++)
        prof[b] = cnt[b] > 0 ? (float)(sum[b] / cnt[b]) : -1.0f;
    /* darkest bin up to 0.5 R; the iris level over 0.65-0.85 R */
    float pmin = INFINITY, piris = 0;
    int nir = 0;
    for (int b = 0; b < BINS / 2; b++)
        if (prof[b] >= 0) pmin = fminf(pmin, prof[b]);
    for (int b = 13; b < 17; b++)
        if (prof[b] >= 0) piris += prof[b], nir++;
    if (!isfinite(pmin) || nir == 0) return 0.35f * R;
    piris /= (float)nir;
    float half = pmin + 0.5f * (piris - pmin);
    for (int b = 3; b < 13; b++)
        if (prof[b] >= 0 && prof[b] >= half && piris - pmin > 0.03f)
            return fminf(fmaxf(((float)b + 0.5f) / BINS, 0.15f), 0.65f) * R;
    return 0.35f * R;
}
