#include "face/regions.h"

#include "core/error.h"
#include "face/topology.h"

#include <math.h>
#include <stdlib.h>

/* Skin excludes the features grown by this much (ALGORITHMS.md §3: feature
 * polygons dilated by ~0.5-1 mm), so lashes, lip edges and brow hairs at the
 * landmark's precision stay out of it. */
#define SKIN_FEATURE_MARGIN_MM 0.75f

static const char *const names[RT_REGION_COUNT] = {
    "face", "skin", "eyes", "sclera", "iris", "lips", "inner_mouth", "brows", "nostrils"};

const char *rt_face_region_name(rt_face_region region)
{
    return (unsigned)region < RT_REGION_COUNT ? names[region] : "?";
}

/* Smoothstep edge: t is the signed distance (inside positive) in ramp
 * widths; 0.5 on the outline. */
static inline float edge_ramp(float t)
{
    float s = t + 0.5f;
    s = s < 0.0f ? 0.0f : (s > 1.0f ? 1.0f : s);
    return s * s * (3.0f - 2.0f * s);
}

static inline void combine(float *d, float m, rt_mask_op op)
{
    switch (op) {
    case RT_MASK_SET:
        *d = m;
        break;
    case RT_MASK_MUL:
        *d *= m;
        break;
    case RT_MASK_MUL_INV:
        *d *= 1.0f - m;
        break;
    case RT_MASK_MAX:
        *d = *d > m ? *d : m;
        break;
    }
}

static inline float segment_distance(float px, float py, rt_point2 a, rt_point2 b)
{
    float dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy;
    float t = l2 > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / l2 : 0.0f;
    t = t < 0 ? 0 : (t > 1 ? 1 : t);
    float ex = a.x + t * dx - px, ey = a.y + t * dy - py;
    return sqrtf(ex * ex + ey * ey);
}

int rt_mask_polygon(const rt_point2 *pts, int n, float grow_px, float ramp_px, rt_mask_op op,
                    int x0, int y0, int w, int h, float *dst, size_t stride)
{
    if (n < 3 || w <= 0 || h <= 0)
        return rt_error(RT_ERR_ARG, "mask polygon: %d points on a %dx%d rectangle", n, w, h);
    if (ramp_px < 1.0f) ramp_px = 1.0f;
    const float band = fabsf(grow_px) + ramp_px / 2 + 1.0f;
    float *dist = malloc((size_t)w * sizeof *dist);
    float *xs = malloc((size_t)n * sizeof *xs);
    signed char *dir = malloc((size_t)n);
    if (!dist || !xs || !dir) {
        free(dist);
        free(xs);
        free(dir);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    for (int j = 0; j < h; j++) {
        const float py = (float)(y0 + j) + 0.5f;
        /* crossings of the row through the pixel centres, sorted, with the
         * edge's direction: non-zero winding, so an outline that folds over
         * itself (features of a turned face) is filled, not holed */
        int k = 0;
        for (int i = 0; i < n; i++) {
            rt_point2 a = pts[i], b = pts[(i + 1) % n];
            if ((a.y <= py) != (b.y <= py)) {
                float x = a.x + (py - a.y) * (b.x - a.x) / (b.y - a.y);
                int m = k++;
                while (m > 0 && xs[m - 1] > x) {
                    xs[m] = xs[m - 1];
                    dir[m] = dir[m - 1];
                    m--;
                }
                xs[m] = x;
                dir[m] = b.y > a.y ? 1 : -1;
            }
        }
        /* exact distance to the outline, only within the band around it */
        for (int x = 0; x < w; x++)
            dist[x] = INFINITY;
        for (int i = 0; i < n; i++) {
            rt_point2 a = pts[i], b = pts[(i + 1) % n];
            if (fminf(a.y, b.y) - band > py || fmaxf(a.y, b.y) + band < py) continue;
            int xa = (int)floorf(fminf(a.x, b.x) - band) - x0;
            int xb = (int)ceilf(fmaxf(a.x, b.x) + band) - x0;
            xa = xa < 0 ? 0 : xa;
            xb = xb > w ? w : xb;
            for (int x = xa; x < xb; x++) {
                float d = segment_distance((float)(x0 + x) + 0.5f, py, a, b);
                if (d < dist[x]) dist[x] = d;
            }
        }
        float *row = dst + (size_t)j * stride;
        int ci = 0, winding = 0;
        for (int x = 0; x < w; x++) {
            const float px = (float)(x0 + x) + 0.5f;
            while (ci < k && xs[ci] <= px)
                winding += dir[ci++];
            float d = dist[x] < band ? dist[x] : band;
            float sd = winding ? d : -d;
            combine(&row[x], edge_ramp((sd + grow_px) / ramp_px), op);
        }
    }
    free(dist);
    free(xs);
    free(dir);
    return 0;
}

void rt_mask_circle(rt_point2 centre, float radius, float ramp_px, rt_mask_op op, int x0, int y0,
                    int w, int h, float *dst, size_t stride)
{
    if (ramp_px < 1.0f) ramp_px = 1.0f;
    for (int j = 0; j < h; j++) {
        float dy = (float)(y0 + j) + 0.5f - centre.y;
        float *row = dst + (size_t)j * stride;
        for (int x = 0; x < w; x++) {
            float dx = (float)(x0 + x) + 0.5f - centre.x;
            combine(&row[x], edge_ramp((radius - sqrtf(dx * dx + dy * dy)) / ramp_px), op);
        }
    }
}

static int cmp_point(const void *pa, const void *pb)
{
    const rt_point2 *a = pa, *b = pb;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    return (a->y > b->y) - (a->y < b->y);
}

static double cross(rt_point2 o, rt_point2 a, rt_point2 b)
{
    return ((double)a.x - o.x) * ((double)b.y - o.y) - ((double)a.y - o.y) * ((double)b.x - o.x);
}

int rt_face_outline(const rt_face *face, rt_point2 *out)
{
    /* Andrew's monotone chain over the mesh's points */
    rt_point2 p[RT_MESH_BASE_POINTS];
    const int n = RT_MESH_BASE_POINTS;
    for (int i = 0; i < n; i++)
        p[i] = rt_face_point(face, i);
    qsort(p, (size_t)n, sizeof *p, cmp_point);
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(out[k - 2], out[k - 1], p[i]) <= 0)
            k--;
        out[k++] = p[i];
    }
    for (int i = n - 2, lower = k + 1; i >= 0; i--) {
        while (k >= lower && cross(out[k - 2], out[k - 1], p[i]) <= 0)
            k--;
        out[k++] = p[i];
    }
    return k - 1; /* the last point repeats the first */
}

static int face_outline_mask(const rt_face *f, float grow, float ramp, rt_mask_op op, int x0,
                             int y0, int w, int h, float *dst, size_t stride)
{
    rt_point2 hull[RT_MESH_BASE_POINTS + 1];
    int n = rt_face_outline(f, hull);
    return rt_mask_polygon(hull, n, grow, ramp, op, x0, y0, w, h, dst, stride);
}

/* Outline points of a topology list. */
static void outline(const rt_face *f, const rt_index_list *l, rt_point2 *out)
{
    for (int i = 0; i < l->n; i++)
        out[i] = rt_face_point(f, l->idx[i]);
}

typedef struct ctx {
    const rt_face *f;
    float ramp;
    int x0, y0, w, h;
    float *dst;
    size_t stride;
} ctx;

static int poly(const ctx *c, const rt_index_list *l, float grow, rt_mask_op op)
{
    rt_point2 pts[64];
    if (l->n > 64) return rt_error(RT_ERR_INTERNAL, "outline too long");
    outline(c->f, l, pts);
    return rt_mask_polygon(pts, l->n, grow, c->ramp, op, c->x0, c->y0, c->w, c->h, c->dst,
                           c->stride);
}

static int pair(const ctx *c, const rt_index_list l[2], float grow, rt_mask_op first,
                rt_mask_op second)
{
    int err = poly(c, &l[0], grow, first);
    return err ? err : poly(c, &l[1], grow, second);
}

int rt_face_region_mask(const rt_face *face, rt_face_region region, float feather_mm, int x0,
                        int y0, int w, int h, float *dst, size_t stride)
{
    if (w <= 0 || h <= 0 || stride < (size_t)w || (unsigned)region >= RT_REGION_COUNT)
        return rt_error(RT_ERR_ARG, "region mask: bad arguments");
    float ppm = face->px_per_mm > 0 ? face->px_per_mm : 1.0f;
    ctx c = {face, feather_mm * ppm, x0, y0, w, h, dst, stride};
    float margin = SKIN_FEATURE_MARGIN_MM * ppm;
    int err = 0;
    switch (region) {
    case RT_REGION_FACE:
        return face_outline_mask(face, 0, c.ramp, RT_MASK_SET, x0, y0, w, h, dst, stride);
    case RT_REGION_SKIN:
        err = face_outline_mask(face, 0, c.ramp, RT_MASK_SET, x0, y0, w, h, dst, stride);
        if (!err) err = pair(&c, rt_topo_eye, margin, RT_MASK_MUL_INV, RT_MASK_MUL_INV);
        if (!err) err = pair(&c, rt_topo_brow, margin, RT_MASK_MUL_INV, RT_MASK_MUL_INV);
        if (!err) err = poly(&c, &rt_topo_lips_outer, margin, RT_MASK_MUL_INV);
        if (!err) err = pair(&c, rt_topo_nostrils, margin, RT_MASK_MUL_INV, RT_MASK_MUL_INV);
        return err;
    case RT_REGION_EYES:
        return pair(&c, rt_topo_eye, 0, RT_MASK_SET, RT_MASK_MAX);
    case RT_REGION_SCLERA:
        err = pair(&c, rt_topo_eye, 0, RT_MASK_SET, RT_MASK_MAX);
        for (int e = 0; e < 2 && !err; e++)
            rt_mask_circle(face->eye[e].iris_center, face->eye[e].iris_radius, c.ramp,
                           RT_MASK_MUL_INV, x0, y0, w, h, dst, stride);
        return err;
    case RT_REGION_IRIS: {
        /* (eyes) x (union of the iris discs): the discs lie in their own eyes */
        err = pair(&c, rt_topo_eye, 0, RT_MASK_SET, RT_MASK_MAX);
        float *discs = err ? NULL : malloc((size_t)w * h * sizeof *discs);
        if (!err && !discs) return rt_error(RT_ERR_NOMEM, "out of memory");
        if (err) return err;
        for (int e = 0; e < 2; e++)
            rt_mask_circle(face->eye[e].iris_center, face->eye[e].iris_radius, c.ramp,
                           e ? RT_MASK_MAX : RT_MASK_SET, x0, y0, w, h, discs, (size_t)w);
        for (int j = 0; j < h; j++)
            for (int x = 0; x < w; x++)
                dst[(size_t)j * stride + x] *= discs[(size_t)j * w + x];
        free(discs);
        return 0;
    }
    case RT_REGION_LIPS:
        err = poly(&c, &rt_topo_lips_outer, 0, RT_MASK_SET);
        return err ? err : poly(&c, &rt_topo_lips_inner, 0, RT_MASK_MUL_INV);
    case RT_REGION_INNER_MOUTH:
        return poly(&c, &rt_topo_lips_inner, 0, RT_MASK_SET);
    case RT_REGION_BROWS:
        return pair(&c, rt_topo_brow, 0, RT_MASK_SET, RT_MASK_MAX);
    case RT_REGION_NOSTRILS:
        return pair(&c, rt_topo_nostrils, 0, RT_MASK_SET, RT_MASK_MAX);
    default:
        break;
    }
    return rt_error(RT_ERR_ARG, "region mask: unknown region");
}

static void grow_box(const rt_face *f, const rt_index_list *l, float *b)
{
    for (int i = 0; i < l->n; i++) {
        const float *p = f->mesh[l->idx[i]];
        b[0] = fminf(b[0], p[0]);
        b[1] = fminf(b[1], p[1]);
        b[2] = fmaxf(b[2], p[0]);
        b[3] = fmaxf(b[3], p[1]);
    }
}

int rt_face_region_bounds(const rt_face *face, rt_face_region region, float feather_mm, int width,
                          int height, int *x0, int *y0, int *w, int *h)
{
    float b[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    switch (region) {
    case RT_REGION_FACE:
    case RT_REGION_SKIN:
        for (int i = 0; i < RT_MESH_BASE_POINTS; i++) {
            b[0] = fminf(b[0], face->mesh[i][0]);
            b[1] = fminf(b[1], face->mesh[i][1]);
            b[2] = fmaxf(b[2], face->mesh[i][0]);
            b[3] = fmaxf(b[3], face->mesh[i][1]);
        }
        break;
    case RT_REGION_EYES:
    case RT_REGION_SCLERA:
    case RT_REGION_IRIS:
        grow_box(face, &rt_topo_eye[0], b);
        grow_box(face, &rt_topo_eye[1], b);
        break;
    case RT_REGION_LIPS:
        grow_box(face, &rt_topo_lips_outer, b);
        break;
    case RT_REGION_INNER_MOUTH:
        grow_box(face, &rt_topo_lips_inner, b);
        break;
    case RT_REGION_BROWS:
        grow_box(face, &rt_topo_brow[0], b);
        grow_box(face, &rt_topo_brow[1], b);
        break;
    case RT_REGION_NOSTRILS:
        grow_box(face, &rt_topo_nostrils[0], b);
        grow_box(face, &rt_topo_nostrils[1], b);
        break;
    default:
        return 0;
    }
    float ppm = face->px_per_mm > 0 ? face->px_per_mm : 1.0f;
    float pad = fmaxf(feather_mm * ppm, 1.0f) / 2 + 2.0f;
    int ax = (int)floorf(b[0] - pad), ay = (int)floorf(b[1] - pad);
    int bx = (int)ceilf(b[2] + pad), by = (int)ceilf(b[3] + pad);
    ax = ax < 0 ? 0 : ax;
    ay = ay < 0 ? 0 : ay;
    bx = bx > width ? width : bx;
    by = by > height ? height : by;
    *x0 = ax;
    *y0 = ay;
    *w = bx > ax ? bx - ax : 0;
    *h = by > ay ? by - ay : 0;
    return *w > 0 && *h > 0;
}
