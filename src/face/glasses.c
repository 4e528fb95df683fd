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

void rt_face_glasses_evidence(const rt_face_pyramid *pyr, const rt_face *face,
                              rt_glasses_evidence *ev)
{
    memset(ev, 0, sizeof *ev);
    rt_point2 re = face->eye[RT_EYE_RIGHT].iris_center, le = face->eye[RT_EYE_LEFT].iris_center;
    float iod = rt_point_dist(re, le);
    ev->iod_px = iod;
    if (!(iod > 1.0f)) return;
    double s = iod / IOD, c = cos(face->roll), n = sin(face->roll);
    double mx = (re.x + le.x) / 2.0, my = (re.y + le.y) / 2.0;
    /* crop centre sits (CROP_H/2 - EYE_ROW) crop pixels below the pupils */
    double dv = (CROP_H / 2.0 - EYE_ROW) * s;
    rt_affine to_image = rt_affine_rect_crop(mx + n * dv, my + c * dv, CROP_W * s, CROP_H * s,
                                             face->roll, CROP_W, CROP_H);
    const size_t np = (size_t)CROP_W * CROP_H;
    float *buf = malloc(sizeof(float) * (np * 8 + CROP_W));
    if (!buf) {
        ev->iod_px = 0; /* no evidence: the probability says 0 */
        return;
    }
    float *rgb = buf, *g = buf + 3 * np, *sm = g + np, *line = sm + np, *mag = line + np,
          *scratch = mag + np;
    rt_face_sample_crop(pyr, &to_image, CROP_W, CROP_H, 1.0f, 0.0f, rgb);
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
    free(buf);
}

/* Logistic of the bridge evidence, centred between the bare faces' highest
 * value on the test corpus (0.32) and the glasses photo's lowest (0.84, at
 * 0.75x its size): 0.12 and 0.92 there (README.md "Glasses"). */
#define BRIDGE_MIDPOINT 0.55f
#define BRIDGE_SLOPE 8.5f

float rt_face_glasses_probability(const rt_glasses_evidence *ev)
{
    if (!(ev->iod_px > 0)) return 0.0f;
    return 1.0f / (1.0f + expf(-BRIDGE_SLOPE * (ev->bridge - BRIDGE_MIDPOINT)));
}

int rt_face_glasses_run(const rt_face_pyramid *pyr, rt_face *face)
{
    rt_glasses_evidence ev;
    rt_face_glasses_evidence(pyr, face, &ev);
    face->glasses = rt_face_glasses_probability(&ev);
    return 0;
}
