#include "face/lift.h"

#include "face/topology.h"

#include <math.h>
#include <string.h>

/* Strength of each edit at full slider, in the face's own size (first
 * version, set by eye on the test portraits: a retoucher's "subtle"). */
#define SLIM_INWARD 0.06f   /* inward shift of the outline, share of its half width */
#define SLIM_LIFT 0.012f    /* upward shift of the lower cheeks, share of the face width */
#define JAW_OUTWARD 0.05f   /* masculine jaw angle outward, share of the half width */
#define CHIN_SCALE 0.05f    /* masculine chin widening, share of its width */
#define DOUBLE_CHIN 0.018f  /* under-chin band pulled up, share of the face width */
#define CHIN_BAND 0.08f     /* where under the jaw that pull peaks, share of the face width */
#define OUTER_FALLOFF 0.10f /* background that follows the outline, share of the face width */
#define MIN_FACE_PX 24.0f

static inline float smoothstep(float a, float b, float t)
{
    float s = (t - a) / (b - a);
    s = s < 0 ? 0 : (s > 1 ? 1 : s);
    return s * s * (3 - 2 * s);
}

static void to_face(const rt_face_lift *L, float x, float y, float *u, float *v)
{
    float px = x - L->origin.x, py = y - L->origin.y;
    *u = px * L->across.x + py * L->across.y;
    *v = px * L->down.x + py * L->down.y;
}

/* Half width of the outline on one side at height v (linear between
 * samples; held at the ends). */
static float half_width(const rt_face_lift *L, int side, float v)
{
    int n = L->nside[side];
    const float *sv = L->side_v[side], *sr = L->side_r[side];
    if (v <= sv[0]) return sr[0];
    if (v >= sv[n - 1]) return sr[n - 1];
    int i = 1;
    while (i < n - 1 && sv[i] < v)
        i++;
    float t = (v - sv[i - 1]) / fmaxf(sv[i] - sv[i - 1], 1e-6f);
    return sr[i - 1] + t * (sr[i] - sr[i - 1]);
}

/* Height of the lower outline (the jaw seen from below) at half width r on
 * one side, or NAN outside the jaw. */
static float jaw_bottom(const rt_face_lift *L, int side, float r)
{
    int n = L->nside[side];
    const float *sv = L->side_v[side], *sr = L->side_r[side];
    float mid = L->eye_v + 0.6f * (L->chin_v - L->eye_v);
    for (int i = n - 1; i > 0 && sv[i - 1] >= mid; i--) {
        float r0 = sr[i - 1], r1 = sr[i]; /* r shrinks towards the chin */
        if ((r <= r0 && r >= r1) || (r >= r0 && r <= r1)) {
            float t = fabsf(r0 - r1) > 1e-6f ? (r - r0) / (r1 - r0) : 0.5f;
            return sv[i - 1] + t * (sv[i] - sv[i - 1]);
        }
    }
    return NAN;
}

int rt_face_lift_prepare(const rt_face *face, const rt_face_lift_params *p, rt_face_lift *L)
{
    memset(L, 0, sizeof *L);
    L->p = *p;
    rt_point2 g = rt_face_point(face, RT_MESH_BETWEEN_EYES);
    rt_point2 c = rt_face_point(face, RT_MESH_CHIN);
    float ax = c.x - g.x, ay = c.y - g.y, len = sqrtf(ax * ax + ay * ay);
    if (!(len > MIN_FACE_PX)) return 0;
    L->origin = g;
    L->down = (rt_point2){ax / len, ay / len};
    L->across = (rt_point2){L->down.y, -L->down.x};
    float u, v;
    float eye = 0;
    for (int e = 0; e < 2; e++) {
        to_face(L, face->eye[e].iris_center.x, face->eye[e].iris_center.y, &u, &v);
        eye += 0.5f * v;
    }
    L->eye_v = eye;
    to_face(L, c.x, c.y, &u, &L->chin_v);
    if (!(L->chin_v - L->eye_v > 0.3f * len)) return 0;

    /* the outline from the eye line down, per side, sorted by height */
    const rt_index_list *oval = &rt_topo_face_oval;
    float wmin = 0, wmax = 0;
    for (int i = 0; i < oval->n; i++) {
        rt_point2 q = rt_face_point(face, oval->idx[i]);
        to_face(L, q.x, q.y, &u, &v);
        wmin = fminf(wmin, u);
        wmax = fmaxf(wmax, u);
        if (v < L->eye_v - 0.15f * (L->chin_v - L->eye_v)) continue;
        int side = u < 0 ? 0 : 1;
        if (oval->idx[i] == RT_MESH_CHIN) {
            for (int s = 0; s < 2; s++)
                if (L->nside[s] < 24) {
                    L->side_v[s][L->nside[s]] = v;
                    L->side_r[s][L->nside[s]++] = fabsf(u);
                }
            continue;
        }
        if (L->nside[side] < 24) {
            L->side_v[side][L->nside[side]] = v;
            L->side_r[side][L->nside[side]++] = fabsf(u);
        }
    }
    for (int s = 0; s < 2; s++) {
        if (L->nside[s] < 4) return 0;
        for (int i = 1; i < L->nside[s]; i++) /* insertion sort by v */
            for (int j = i; j > 0 && L->side_v[s][j - 1] > L->side_v[s][j]; j--) {
                float tv = L->side_v[s][j], tr = L->side_r[s][j];
                L->side_v[s][j] = L->side_v[s][j - 1];
                L->side_r[s][j] = L->side_r[s][j - 1];
                L->side_v[s][j - 1] = tv;
                L->side_r[s][j - 1] = tr;
            }
    }
    L->width = wmax - wmin;
    if (!(L->width > MIN_FACE_PX)) return 0;
    float depth = p->depth < 0 ? 0 : (p->depth > 1 ? 1 : p->depth);
    L->inner = (0.05f + 0.25f * depth) * L->width;
    rt_point2 m0 = rt_face_point(face, RT_MESH_MOUTH_RIGHT),
              m1 = rt_face_point(face, RT_MESH_MOUTH_LEFT);
    L->keep_centre[0] = (rt_point2){0.5f * (m0.x + m1.x), 0.5f * (m0.y + m1.y)};
    L->keep_radius[0] = 0.6f * hypotf(m1.x - m0.x, m1.y - m0.y) + 1.0f;
    for (int e = 0; e < 2; e++) {
        rt_point2 o = rt_face_point(face, e ? RT_MESH_LEFT_EYE_OUTER : RT_MESH_RIGHT_EYE_OUTER);
        rt_point2 in = rt_face_point(face, e ? RT_MESH_LEFT_EYE_INNER : RT_MESH_RIGHT_EYE_INNER);
        L->keep_centre[1 + e] = face->eye[e].iris_center;
        L->keep_radius[1 + e] = 0.6f * hypotf(o.x - in.x, o.y - in.y) + 1.0f;
    }
    L->outer = OUTER_FALLOFF * L->width;
    return 1;
}

/* The edits' displacement in the face frame (du across, dv down). */
static void raw_shift(const rt_face_lift *L, float x, float y, float *out_du, float *out_dv)
{
    float u, v;
    *out_du = *out_dv = 0;
    to_face(L, x, y, &u, &v);
    float span = L->chin_v - L->eye_v;
    float t = (v - L->eye_v) / span;
    if (t < -0.2f) return;
    int side = u < 0 ? 0 : 1;
    float au = fabsf(u);
    float r = half_width(L, side, v);
    float du = 0, dv = 0;
    if (t < 1.3f && r > 1.0f) {
        float din = r - au; /* inside the outline: positive */
        float k = din >= 0 ? expf(-(din / L->inner) * (din / L->inner))
                           : expf(-(din / L->outer) * (din / L->outer));
        /* across-the-face direction: continuous through the midline */
        float q = u / r;
        float g = (q < 0 ? -1.0f : 1.0f) * smoothstep(0.0f, 0.5f, fabsf(q));
        float h_slim = smoothstep(0.05f, 0.45f, t) * (1.0f - smoothstep(0.82f, 1.02f, t));
        float tj = (t - 0.72f) / 0.2f, tc = (t - 0.97f) / 0.1f;
        float h_jaw = expf(-tj * tj), h_chin = expf(-tc * tc);
        float m = L->p.masculinity;
        du += -L->p.slim * SLIM_INWARD * r * h_slim * k * g;
        dv += -L->p.slim * SLIM_LIFT * L->width * h_slim * k * fabsf(g);
        du += m * JAW_OUTWARD * r * h_jaw * k * g;
        du += m * CHIN_SCALE * u * h_chin * k;
    }
    if (L->p.double_chin > 0) {
        /* the band just under the jaw moves up toward it: zero on the jaw
         * line itself, peaking CHIN_BAND below, fading down the neck */
        float rlow = half_width(L, side, L->eye_v + 0.75f * span);
        float b = au < rlow ? jaw_bottom(L, side, au) : NAN;
        if (!isnan(b)) {
            float tb = v - b, t0 = CHIN_BAND * L->width;
            if (tb > 0) {
                float f = tb / t0 * expf(1.0f - tb / t0);
                float wh = 1.0f - smoothstep(0.7f, 1.0f, au / rlow);
                dv += -L->p.double_chin * DOUBLE_CHIN * L->width * f * wh;
            }
        }
    }
    *out_du = du;
    *out_dv = dv;
}

void rt_face_lift_add(const rt_face_lift *L, float x, float y, float *dx, float *dy)
{
    if (!(L->width > 0)) return;
    float du, dv;
    raw_shift(L, x, y, &du, &dv);
    for (int k = 0; k < 3; k++) {
        float ex = x - L->keep_centre[k].x, ey = y - L->keep_centre[k].y;
        float d = sqrtf(ex * ex + ey * ey) / L->keep_radius[k];
        if (d >= 2.0f) continue;
        float w = 1.0f - smoothstep(1.0f, 2.0f, d), cu, cv;
        raw_shift(L, L->keep_centre[k].x, L->keep_centre[k].y, &cu, &cv);
        du = w * cu + (1 - w) * du;
        dv = w * cv + (1 - w) * dv;
    }
    *dx += du * L->across.x + dv * L->down.x;
    *dy += du * L->across.y + dv * L->down.y;
}

void rt_face_lift_bounds(const rt_face_lift *L, float *x0, float *y0, float *x1, float *y1)
{
    float rmax = 0;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < L->nside[s]; i++)
            rmax = fmaxf(rmax, L->side_r[s][i]);
    float ua = -rmax - 3.0f * L->outer, ub = rmax + 3.0f * L->outer;
    float va = L->eye_v, vb = L->chin_v + 3.0f * L->outer;
    if (L->p.double_chin > 0) vb = fmaxf(vb, L->chin_v + 6.0f * CHIN_BAND * L->width);
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    for (int k = 0; k < 4; k++) {
        float u = k & 1 ? ub : ua, v = k & 2 ? vb : va;
        float x = L->origin.x + u * L->across.x + v * L->down.x;
        float y = L->origin.y + u * L->across.y + v * L->down.y;
        *x0 = fminf(*x0, x);
        *y0 = fminf(*y0, y);
        *x1 = fmaxf(*x1, x);
        *y1 = fmaxf(*y1, y);
    }
}
